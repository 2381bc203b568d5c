//! `plan`, and the planning both `plan` and `apply` do: the pipeline with
//! a progress spinner on a terminal, and the guards' refusals reported
//! (logged, alerted and sent at once: a command has no mailer thread).

use super::open_state;
use crate::PerSide;
use crate::config::Config;
use crate::error::RunError;
use crate::log::Logger;
use crate::pipeline::{self, PipelineError};
use crate::plan::{Plan, guard, render};
use crate::roots::Sides;
use crate::scan::SideScan;
use crate::state::State;
use crate::terminal::{self, Stream};
use serde_json::json;
use std::path::{Path, PathBuf};

/// `plan`: scans, plans, prints the plan (and its JSON), saves it with
/// `--out`; exit 2 with `--detailed-exitcode` when it has changes.
///
/// # Errors
/// A side unavailable (exit 3), a guard refusal (exit 4), state or plan file errors.
pub fn plan(
    cfg: &Config,
    out: Option<PathBuf>,
    json_out: bool,
    detailed: bool,
    force: bool,
) -> Result<i32, RunError> {
    let log = Logger::from_config(cfg);
    let state = open_state(cfg)?;
    let sides = Sides::real(cfg);
    let plan = match make_plan(cfg, &sides, &state, force, &log) {
        Err(e @ RunError::Unavailable { .. }) => {
            super::log_unavailable(&log, &e);
            return Err(e);
        }
        other => other?.0,
    };
    // The guard first: a refused plan is shown but not saved, and the
    // table's hint names the plan file only when one is written.
    let refusal = delete_guard(cfg, &state, &plan, force, &log).err();
    let file = match out.filter(|_| refusal.is_none()) {
        Some(out) if out.is_dir() || out.as_os_str().to_string_lossy().ends_with(['/', '\\']) => {
            Some(new_plan_file(&out)?)
        }
        other => other,
    };
    // With --json the JSON has stdout; the people's text goes to stderr.
    let stream = if json_out {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    let view = render::View {
        limit: Some(200),
        saved: file.as_ref().map(|f| f.display().to_string()),
        open: open_items(cfg, &state, &sides),
        ..terminal::view(stream)
    };
    let text = render::render(&plan, &view);
    if json_out {
        crate::eout!("{text}");
        crate::out!("{}", plan.to_json());
    } else {
        crate::out!("{text}");
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    if let Some(file) = file {
        if let Err(e) = plan.save(&file) {
            // The name reserved for it stays free.
            let _ = std::fs::remove_file(&file);
            return Err(e.into());
        }
        let msg = format!(
            "Saved the plan to {}. Apply it with: {}",
            file.display(),
            apply_command(cfg, &file)
        );
        let msg = crate::human::escape(&msg);
        if json_out {
            crate::eoutln!("{msg}");
        } else {
            crate::outln!("{msg}");
        }
    }
    log.info(
        "scan",
        json!({"files_scanned": plan.summary.files_left + plan.summary.files_right, "ops": plan.ops.len(), "plan_id": plan.plan_id}),
    );
    Ok(if detailed && plan.summary.has_changes() {
        2
    } else {
        0
    })
}

/// A new plan file in `dir`, `plan-YYYYMMDD-HHMMSS.json`, never one that
/// exists: a second plan in the same second gets `-2`, then `-3`… The
/// name is reserved by creating the file (`create_new`), so two `plan
/// --out` running at once cannot take the same one either.
fn new_plan_file(dir: &Path) -> Result<PathBuf, RunError> {
    let io = |e: std::io::Error| {
        RunError::Other(format!(
            "cannot write a plan file in {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let stem = format!("plan-{}", chrono::Local::now().format("%Y%m%d-%H%M%S"));
    for n in 1..=10_000 {
        let name = if n == 1 {
            format!("{stem}.json")
        } else {
            format!("{stem}-{n}.json")
        };
        let file = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
        {
            Ok(_) => return Ok(file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other("no free name")))
}

/// The command that applies a saved plan, with the `--config` this run
/// was given (flag or TWINSYNC_CONFIG) unless it is the default one.
fn apply_command(cfg: &Config, file: &Path) -> String {
    let mut cmd = format!("twinsync apply {}", shell_word(&file.display().to_string()));
    if cfg.file != Path::new(crate::config::DEFAULT_CONFIG) {
        cmd.push_str(&format!(
            " --config {}",
            shell_word(&cfg.file.display().to_string())
        ));
    }
    cmd
}

/// A path as one word to paste into PowerShell, cmd or a POSIX shell:
/// as it is when plain, else in double quotes.
fn shell_word(s: &str) -> String {
    let plain = s
        .chars()
        .all(|c| c.is_alphanumeric() || "_-./\\:+,=@".contains(c));
    if plain && !s.is_empty() {
        s.to_owned()
    } else {
        format!("\"{s}\"")
    }
}

/// What is pending or needs the admin, from the health verdict, for the
/// headline of a plan with nothing to apply ("Nothing to apply now. Needs
/// you: 1 unresolved conflict, 3 paths skipped"); `None` when both sides
/// are truly in sync (then "No changes"). A remembered guard refusal is
/// left out: this plan passes the guards and ends it.
pub(super) fn open_items(cfg: &Config, state: &State, sides: &Sides) -> Option<String> {
    crate::status::Status::gather(cfg, state, sides)
        .ok()?
        .health
        .open_items()
}

/// Plans with a progress spinner on a terminal; a mass-change refusal is
/// reported before it is returned.
pub(super) fn make_plan(
    cfg: &Config,
    sides: &Sides,
    state: &State,
    force: bool,
    log: &Logger,
) -> Result<(Plan, PerSide<SideScan>), RunError> {
    let pb = scan_progress();
    let progress = |n: u64| {
        if let Some(pb) = &pb {
            pb.set_message(crate::plural(n, "entry", "entries"));
        }
    };
    let req = pipeline::PlanRequest {
        now_ns: crate::now_ns(),
        forced: force,
        progress: Some(&progress),
        ..pipeline::PlanRequest::default()
    };
    // A side this plan finds back after an outage, or newly gone, has its
    // alert queued by the pipeline: sent now (a command has no mailer thread).
    let was_out = crate::Side::BOTH
        .into_iter()
        .any(|side| state.unavailable_since(side).ok().flatten().is_some());
    let res = pipeline::make_plan(cfg, sides, state, req);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    match &res {
        Err(PipelineError::Guard(r)) => refused(cfg, state, r, log),
        Err(PipelineError::Unavailable(_)) => crate::alert::flush(cfg, state, log),
        Ok(_) if was_out => crate::alert::flush(cfg, state, log),
        _ => {}
    }
    Ok(res?)
}

/// The mass-delete guard over a fresh plan (unless `force`). A plan that
/// passes both guards, or is forced, ends a remembered refusal.
pub(super) fn delete_guard(
    cfg: &Config,
    state: &State,
    plan: &Plan,
    force: bool,
    log: &Logger,
) -> Result<(), RunError> {
    if !force && let Some(r) = guard::delete_guard_of(plan, &cfg.raw.safety) {
        refused(cfg, state, &r, log);
        return Err(RunError::Refused(format!("refused: {r}")));
    }
    guard::forget(state)?;
    Ok(())
}

/// Reports a guard's refusal (remembered: `status` says "blocked") and
/// sends the alert now.
fn refused(cfg: &Config, state: &State, r: &guard::Refusal, log: &Logger) {
    guard::report_refusal(cfg, state, log, r, true);
    crate::alert::flush(cfg, state, log);
}

/// A spinner on a terminal while a long scan runs (none with `-q`).
fn scan_progress() -> Option<indicatif::ProgressBar> {
    terminal::spinner("scanning…", "both sides")
}
