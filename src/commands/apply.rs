//! `apply`: a saved plan after its checks, or a fresh plan after review and
//! confirmation; then the cycle metrics, the queued alerts sent, and a
//! short spare-time hashing pass ([`hash_in_spare_time`]).

use super::open_state;
use super::plan::{delete_guard, make_plan};
use crate::CycleResult;
use crate::apply;
use crate::config::Config;
use crate::error::RunError;
use crate::log::Logger;
use crate::metrics;
use crate::pipeline;
use crate::plan::{Plan, ValidPlan, render};
use crate::roots::Sides;
use crate::state::State;
use crate::terminal;
use serde_json::json;
use std::io::IsTerminal;
use std::path::Path;

/// `apply`: a saved plan, or plan + confirm + apply. Every run ends with
/// one `cycle` log event (SPEC §12), a refused, cancelled or failed one
/// too: zero counts where nothing ran, `result` `skipped` (refused, a side
/// unavailable, cancelled) or `failed`, and the error.
///
/// # Errors
/// A side unavailable (exit 3), a refusal (exit 4), a fatal apply error;
/// failed steps only set the exit code 1.
pub fn apply(
    cfg: &Config,
    plan_file: Option<&Path>,
    auto_approve: bool,
    force: bool,
) -> Result<i32, RunError> {
    let started = std::time::Instant::now();
    let log = Logger::from_config(cfg);
    let mut ran = Ran::default();
    let res = run(cfg, plan_file, auto_approve, force, &log, &mut ran);
    if !ran.logged {
        end_unapplied(&log, &ran, &res, started);
    }
    res
}

/// What an apply run got to, for its `cycle` event.
#[derive(Default)]
struct Ran {
    /// Files both scans counted, when this run planned.
    files_scanned: u64,
    /// The `cycle` event was logged (and stored) by the run itself.
    logged: bool,
    /// The admin answered no at the prompt.
    cancelled: bool,
}

/// The `cycle` event of a run that applied nothing: refused, a side
/// unavailable, cancelled, or stopped by an error (logged, not stored in
/// the cycle history: `status` shows the refusal or outage itself).
fn end_unapplied(
    log: &Logger,
    ran: &Ran,
    res: &Result<i32, RunError>,
    started: std::time::Instant,
) {
    let mut c = metrics::cycle_record(None, None, started);
    c.files_scanned = ran.files_scanned;
    let extra = match res {
        Ok(_) if ran.cancelled => {
            c.result = CycleResult::Skipped;
            json!({"note": "cancelled at the prompt: nothing applied"})
        }
        Ok(_) => json!({}),
        Err(e) => {
            super::log_unavailable(log, e);
            c.result = match e {
                RunError::Refused(_) | RunError::Unavailable { .. } => CycleResult::Skipped,
                _ => CycleResult::Failed,
            };
            json!({"error": e.to_string()})
        }
    };
    metrics::log_cycle_only(log, &c, &extra);
}

/// The run itself: [`apply`] logs its end.
fn run(
    cfg: &Config,
    plan_file: Option<&Path>,
    auto_approve: bool,
    force: bool,
    log: &Logger,
    ran: &mut Ran,
) -> Result<i32, RunError> {
    let started = std::time::Instant::now();
    let _lock = crate::state::RunLock::acquire(&cfg.state_db)
        .map_err(|e| RunError::Other(e.to_string()))?;
    let sides = Sides::real(cfg);
    // Holding the lock, this run knows no watch runs: a note saying one
    // does is a watch that died (`status` says so, lock or no lock).
    if let Ok(state) = State::open(&cfg.state_db) {
        if let Err(e) = state.note_watch_dead() {
            log.warn(
                "error",
                serde_json::json!({"error": format!("cannot note the watch as stopped: {e}")}),
            );
        }
        // A state DB made again: the trash's files are recorded first.
        if let Err(e) = crate::apply::trash::orphans::adopt_if_new(cfg, &state, &sides, log) {
            log.warn(
                "error",
                serde_json::json!({"error": format!("cannot record the files found in the trash: {e}")}),
            );
        }
    }
    if plan_file.is_none()
        && let Ok(mut state) = State::open(&cfg.state_db)
    {
        // An apply (or watch) interrupted by a crash or a kill: its plan,
        // approved then, finishes first, so a half-done step (a conflict's
        // clash rename done, its copy not) is completed by the plan that
        // began it and not read by a fresh plan as a user's move.
        for plan in apply::resumable(&mut state, cfg, &sides, log)? {
            crate::outln!(
                "Resuming an interrupted apply first (plan {}): its steps not done yet run, each checked against the files as they are now.",
                plan.plan_id
            );
            let report = apply_with_progress(cfg, &plan, &sides, &mut state, log, force)?;
            crate::outln!("Resumed: {}", report.one_line());
        }
        // A fresh plan: unfinished ones recovered and abandoned, parked items put back.
        for p in apply::prepare(&mut state, cfg, &sides, log)? {
            crate::eoutln!("warning: {}", crate::human::escape(&p));
        }
    }
    let (plan, mut state) = if let Some(f) = plan_file {
        let plan = Plan::load(f)?;
        let state = State::open(&cfg.state_db)?;
        // The paths the plan that made it skipped (as of the latest plan).
        apply::log_skipped(log, &state.skipped()?);
        (plan, state)
    } else {
        if !auto_approve && !std::io::stdin().is_terminal() {
            return Err(RunError::Other(
                "apply without a plan file asks for confirmation, but there is no terminal: pass -y (--auto-approve), or apply a saved plan file".into(),
            ));
        }
        let state = open_state(cfg)?;
        let (plan, scans) = make_plan(cfg, &sides, &state, force, log)?;
        ran.files_scanned = plan.summary.files_left + plan.summary.files_right;
        apply::log_skipped(log, &state.skipped()?);
        // Temp files of copies that an earlier run could not remove.
        for (side, scan) in scans.iter() {
            apply::sweep_scan(&state, sides.get(side), side, scan, log);
        }
        let view = render::View {
            limit: Some(200),
            open: super::plan::open_items(cfg, &state, &sides),
            ..terminal::view(terminal::Stream::Stdout)
        };
        crate::out!("{}", render::render(&plan, &view));
        delete_guard(cfg, &state, &plan, force, log)?;
        if plan.ops.is_empty() {
            state.mark_synced()?;
            metrics::record_cycle(&state, log, &plan, &apply::Report::default(), started);
            ran.logged = true;
            // Nothing to sync, but queued alerts still go out.
            crate::alert::flush(cfg, &state, log);
            hash_in_spare_time(cfg, &sides, &state, log);
            return Ok(0);
        }
        if !auto_approve && !confirm() {
            crate::outln!("Apply cancelled; nothing was changed.");
            ran.cancelled = true;
            return Ok(0);
        }
        (plan.validated()?, state)
    };
    let report = apply_with_progress(cfg, &plan, &sides, &mut state, log, force)?;
    metrics::record_cycle(&state, log, &plan, &report, started);
    ran.logged = true;
    crate::alert::flush(cfg, &state, log);
    crate::outln!("{}", report.one_line());
    for f in &report.failed {
        // "(copy on right)": the side the step writes; a conflict, both.
        let on = f.side.map_or(String::new(), |s| format!(" on {s}"));
        crate::errln!(
            "failed: step {} ({}{on}) `{}`: {}",
            f.id,
            f.kind,
            crate::human::escape(&f.path),
            crate::human::escape(&f.error)
        );
    }
    hash_in_spare_time(cfg, &sides, &state, log);
    Ok(i32::from(!report.failed.is_empty()))
}

/// How long an `apply` may spend on [`hash_in_spare_time`].
const SPARE_HASHING: std::time::Duration = std::time::Duration::from_secs(3);

/// The end of an `apply` that ran (a failed step of one path included; not
/// a refusal, an unavailable side or a fatal error, which return before):
/// hashes pairs adopted by size and mtime, as `watch` does in its spare
/// time, for at most [`SPARE_HASHING`] (a file being hashed when the time
/// is up is finished), with the same code ([`pipeline::hash_adopted`]:
/// the left side's copy, never a cloud placeholder, never a file above
/// `hash_max_bytes`, never one that changed since it was recorded). A
/// scheduled `apply` so converges to hashed pairs a few seconds at a time,
/// and a later re-stamp on one side plus an edit on the other is the edit,
/// not a conflict (issue 18, item 7). Each run starts at the first
/// unhashed pair: what could not be hashed is asked for again next time.
fn hash_in_spare_time(cfg: &Config, sides: &Sides, state: &State, log: &Logger) {
    let start = std::time::Instant::now();
    let mut cursor = String::new();
    let mut hashed = 0;
    loop {
        let left = SPARE_HASHING.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        match pipeline::hash_adopted(cfg, sides, state, &mut cursor, left) {
            Ok(n) => hashed += n,
            Err(e) => {
                log.warn("error", serde_json::json!({"error": e.to_string()}));
                break;
            }
        }
        // An empty cursor: every unhashed pair has been looked at.
        if cursor.is_empty() {
            break;
        }
    }
    if hashed > 0 {
        log.info(
            "scan",
            serde_json::json!({"note": "hashed pairs adopted by size and mtime", "hashed": hashed,
                               "duration_ms": u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)}),
        );
    }
}

fn confirm() -> bool {
    crate::out::error(format_args!("Apply? [y/N] "));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
        && matches!(line.trim(), "y" | "Y" | "yes" | "Yes" | "YES")
}

/// Runs an apply with progress bars on a terminal (bytes of each copy
/// that lasts, and the whole run); returns the report.
fn apply_with_progress(
    cfg: &Config,
    plan: &ValidPlan,
    sides: &Sides,
    state: &mut State,
    log: &Logger,
    force: bool,
) -> Result<apply::Report, RunError> {
    apply::admit(plan, cfg, sides, state, apply::Overrides::admin(force))?;
    for short in apply::space::check(plan, cfg, sides, state, log) {
        crate::eoutln!("warning: {}", crate::human::escape(&short.to_string()));
    }
    let bars = terminal::Bars::on_terminal();
    let on_event =
        |op: &crate::plan::Op, ev: apply::StepEvent<'_>| apply::alert::enqueue_step(cfg, op, ev);
    let opts = apply::Options {
        force,
        progress: bars.as_ref().map(|b| b as &dyn apply::Progress),
        on_event: Some(&on_event),
        ..apply::Options::default()
    };
    let res = apply::run(plan, cfg, sides, state, log, &opts);
    drop(bars);
    Ok(res?)
}
