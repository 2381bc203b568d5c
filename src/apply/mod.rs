//! Apply: execute a plan step by step (SPEC §8).
//!
//! For each step, in plan order:
//! 1. skip it if the journal already has an outcome for it (resume);
//! 2. re-check its `expect` against the live file system: if it holds, do
//!    the step; if instead the step's *result* is already on disk (it ran
//!    but the crash came before the journal write), record it without
//!    redoing it; otherwise skip it as **drifted**;
//! 3. commit the step's outcome and its snapshot updates in one SQLite
//!    transaction ([`State::commit`]; finished steps a batch at a time,
//!    after a look at the roots' markers: see `journal`).
//!
//! Runs of small copies go `parallel_copies` at a time (`parallel`); every
//! other step runs alone, in plan order.
//!
//! Crash invariant: disk effects of a step are idempotent *given its
//! expect check*: a copy writes a temp file (`.~twinsync-<plan>-<step>.tmp`)
//! and renames it over the target only as its last act, so a crash leaves
//! either the old target (expect still holds → redo: the stale temp is
//! removed first — unless it is a large copy's temp that can resume, see
//! `resume` — or, for a small copy, truncated by the new attempt's
//! `create`) or the new one (post-condition holds → recorded, not
//! redone).
//!
//! Durability, in this order: a copy's temp is written, its times set on
//! the handle and `fsync`ed ([`crate::fs::FileWriter::finish_with`])
//! before it is renamed into place; the step's journal row is committed
//! after the rename, a batch at a time, and only once the folders the
//! batch renamed into are synced ([`crate::fs::Fs::sync_dir`]: one folder
//! `fsync` per folder and batch on Unix, instead of one per file). So the
//! journal never says done for a rename the disk could still lose; a
//! crash before the commit is the case above (recognised on disk). Small
//! copies at once overlap their file `fsync`s; where the destination can
//! make many files durable in one call (Linux `syncfs`), a parallel run
//! stages its copies 64 at a time instead — temps written unsynced, made
//! durable together, only then renamed (see `parallel`): the same order,
//! one sync for many files. The remaining race, named frankly: a user who
//! replaces a file in the destination in the instant between our final
//! re-check and the rename loses that version to the rename; the window is
//! one `stat` long (a new file has none: it lands by a rename that never
//! replaces, [`crate::fs::Fs::rename_new`]).
//!
//! A step whose paths lie at or below a folder that an earlier step of the
//! same plan should have made and did not (failed or skipped, now or
//! before a restart) is skipped as drifted (`Unmade`), never written
//! through whatever is at that name (a link the scan skipped).
//!
//! Errors are per step (transient: the step fails, the run goes on) except
//! a simulated power cut, a state DB error or a root that vanished, which
//! stop the run (fatal). [`admit`] checks the roots ([`crate::roots`]), the
//! plan's age and the safety guards before the first step.
//!
//! This module runs the steps in order; `journal` commits their outcomes
//! (the `Journal` type: batching, failures, the report), `steps` holds the
//! executors (one per step kind; the copy in `copy`), [`trash`] the soft
//! delete, `recover` the housekeeping around unfinished plans and temp
//! names, [`alert`] the alert texts of steps, [`space`] the free-space
//! check before a run. [`run`] takes a
//! [`ValidPlan`]: it cannot start on an unchecked plan.

pub mod alert;
mod copy;
mod journal;
mod parallel;
mod pipe;
mod progress;
mod recover;
mod resume;
pub mod space;
mod steps;
pub mod trash;

use crate::config::Config;
use crate::fs::{ErrorClass, FsError};
use crate::log::Logger;
use crate::paths;
use crate::plan::{Op, OpKind, Plan, Step, ValidPlan, guard};
use crate::roots::{self, RootError, Sides, Unavailable};
use crate::state::{State, StateError};
use crate::{PlanStatus, StepStatus};
use journal::Journal;
use serde_json::json;
use steps::{Executor, Outcome, case_only_rename};

pub use progress::Progress;
pub use recover::{
    abandon, prepare, recover_parked, resumable, sweep_scan, sweep_temps, sweep_transfers,
};
pub use resume::CHUNK_BYTES;

/// Errors that stop an apply.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A safety refusal (exit 4).
    #[error("refused: {0}")]
    Refused(String),
    /// A side is unavailable (exit 3).
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error(transparent)]
    State(#[from] StateError),
    /// The file system stopped answering mid-run (power cut in tests).
    #[error("apply stopped: {0}")]
    Stopped(FsError),
}

/// What happened to the steps.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub done: u64,
    pub copied: u64,
    pub bytes_copied: u64,
    pub conflicts: u64,
    pub soft_deletes: u64,
    /// Replaced versions that copies moved to trash (overwrites, option3,
    /// resolve --keep): in trash like soft deletes, so counted with them.
    pub trashed_replaced: u64,
    pub hard_deletes: u64,
    pub renames: u64,
    /// Files and folders moved (no bytes sent).
    pub moves: u64,
    pub props: u64,
    pub folders: u64,
    pub records: u64,
    pub drifted: u64,
    /// Steps found already done on disk (recovered after a crash).
    pub recovered: u64,
    /// Steps skipped because the journal had them (resume).
    pub resumed_skips: u64,
    /// Steps done that wrote one side only (copies, deletes, renames,
    /// properties, folders), by the side written: changes "each way".
    pub to_left: u64,
    pub to_right: u64,
    /// Bytes copied to each side.
    pub bytes_to_left: u64,
    pub bytes_to_right: u64,
    pub failed: Vec<FailedStep>,
    /// Keys whose steps succeeded (to clear failure records).
    #[serde(skip)]
    pub ok_keys: Vec<String>,
    /// The ids of the steps done (or found done) in this run: what a
    /// console line may tell as done.
    #[serde(skip)]
    pub ok_ids: Vec<u64>,
}

/// A step that failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedStep {
    pub id: u64,
    pub key: String,
    pub path: String,
    pub kind: String,
    /// The side the step writes (`None`: a conflict, both sides).
    pub side: Option<crate::Side>,
    pub error: String,
    pub class: ErrorClass,
}

impl Report {
    /// Versions that went to trash: soft deletes and replaced versions.
    #[must_use]
    pub fn to_trash(&self) -> u64 {
        self.soft_deletes + self.trashed_replaced
    }

    /// "Apply complete: 12 copied (3.4 MB), 1 conflict, 3 to trash, 0 failed, 1 skipped (drifted)".
    #[must_use]
    pub fn one_line(&self) -> String {
        let mut s = format!(
            "Apply complete: {} copied ({}), {} conflict{}, {} to trash, {} failed, {} skipped (drifted)",
            self.copied,
            crate::human_size(self.bytes_copied),
            self.conflicts,
            if self.conflicts == 1 { "" } else { "s" },
            self.to_trash(),
            self.failed.len(),
            self.drifted
        );
        if self.hard_deletes > 0 {
            s.push_str(&format!(", {} deleted for good", self.hard_deletes));
        }
        if self.moves > 0 {
            s.push_str(&format!(", {} moved (nothing sent)", self.moves));
        }
        if self.renames + self.props > 0 {
            s.push_str(&format!(
                ", {} renamed, {}",
                self.renames,
                crate::plural(self.props, "property change", "property changes")
            ));
        }
        if self.recovered > 0 {
            s.push_str(&format!(", {} found already done", self.recovered));
        }
        s
    }
}

/// Knobs of one apply run.
#[derive(Default)]
pub struct Options<'a> {
    /// Override the delete guard.
    pub force: bool,
    /// Run only steps this returns true for (lanes); `None` = all.
    pub filter: Option<&'a dyn Fn(&Op) -> bool>,
    /// Told about each step and the bytes copies write, as they go.
    pub progress: Option<&'a dyn Progress>,
    /// Stop early (service stop): checked between steps.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// Called for each conflict step that needs an alert, and each failed step.
    pub on_event: Option<&'a EventFn<'a>>,
    /// Only recognise what an interrupted run of this plan already did
    /// (record it, trash records included, and finish a half-done copy's
    /// final rename); start nothing new. For a plan that is re-planned
    /// instead of resumed.
    pub recover_only: bool,
    /// The chunk of a resumable large copy (`resume`); `None`: 64 MiB.
    /// Tests and benchmarks choose smaller.
    pub resume_chunk_bytes: Option<u64>,
}

/// What a settled step tells the alerting ([`alert::enqueue_step`]).
#[derive(Debug, Clone, Copy)]
pub enum StepEvent<'e> {
    /// A conflict step was settled, told once the run is over (so its
    /// alert says what really happened): `unfinished` holds why each of
    /// its other steps (clash copies, the overwrite) failed or was skipped
    /// in this run; empty when they all went through.
    Conflict { unfinished: &'e [String] },
    /// The step failed with this error (told once per failure streak).
    Failed(&'e str),
}

/// Called with a conflict step once the run is over, and with a failed step.
pub type EventFn<'a> = dyn Fn(&Op, StepEvent<'_>) + 'a;

/// What an admin's `--force` overrides when a plan is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrides {
    /// The safety guards (mass delete, mass change): `apply --force`, and
    /// callers that checked them when the plan was made (watch).
    pub guards: bool,
    /// A stale plan (another plan was applied since it was made): only
    /// `apply PLAN --force` (SPEC §2). Every step is still checked against
    /// the files as they are when it runs (`expect`), so what changed
    /// since is skipped as drifted, never clobbered.
    pub stale: bool,
}

impl Overrides {
    /// The admin's `--force` (or nothing).
    #[must_use]
    pub fn admin(force: bool) -> Self {
        Self {
            guards: force,
            stale: force,
        }
    }

    /// The guards were checked when the plan was made; nothing else.
    pub const GUARDS_CHECKED: Self = Self {
        guards: true,
        stale: false,
    };
}

/// Checks that a plan may be applied to this state, then registers it.
/// Returns true if the plan is being resumed.
///
/// # Errors
/// `Refused` (root ids, stale), `Unavailable`, state errors.
pub fn admit(
    plan: &Plan,
    cfg: &Config,
    sides: &Sides,
    state: &mut State,
    force: Overrides,
) -> Result<bool, ApplyError> {
    let (l_id, r_id) = roots::known_ids(state, sides).map_err(RootError::unpack::<ApplyError>)?;
    if plan.left_root_id != l_id || plan.right_root_id != r_id {
        // Name the folders (what the admin knows); when they read the same,
        // the roots were initialised again since the plan was made.
        let now = (sides.left.root_display(), sides.right.root_display());
        let same = plan.left_root == now.0 && plan.right_root == now.1;
        return Err(ApplyError::Refused(format!(
            "the plan was made for other roots: it syncs `{}` with `{}`, but this config (state DB `{}`) syncs `{}` with `{}`{}; make a new plan with `twinsync plan`",
            plan.left_root,
            plan.right_root,
            state.file().display(),
            now.0,
            now.1,
            if same {
                " (the same folders, but their root markers were written again since the plan was made)"
            } else {
                ""
            }
        )));
    }
    roots::check_ids(sides, (&l_id, &r_id))?;
    let known = state.step_status(&plan.plan_id)?;
    let resuming = !known.is_empty() || state.plan_status(&plan.plan_id)?.is_some();
    if !resuming {
        let generation = state.generation()?;
        if plan.base_generation != generation && !force.stale {
            return Err(ApplyError::Refused(format!(
                "the plan is stale: it was made against state generation {} but another plan has been applied since (now {generation}); run `twinsync plan` again, or apply it anyway with --force (each step is still checked against the files as they are now; what changed since is skipped)",
                plan.base_generation
            )));
        }
        if !force.guards
            && !plan.forced
            && let Some(r) = guard::check_plan(plan, &cfg.raw.safety)
        {
            guard::remember(state, &r)?;
            return Err(ApplyError::Refused(r.to_string()));
        }
        // Passed the guards, or forced: `status` no longer says "blocked".
        guard::forget(state)?;
    }
    if state
        .begin_plan(&plan.plan_id, plan.base_generation)?
        .is_none()
    {
        state.save_plan_journal(&plan.plan_id, &mut |w| plan.write_journal(w))?;
    }
    Ok(resuming)
}

/// Applies a plan that [`admit`] accepted. It takes a [`ValidPlan`]: a plan
/// file or journal row is checked before any step runs.
///
/// # Errors
/// Fatal errors only (state DB, power cut); step failures are in the report.
pub fn run(
    plan: &ValidPlan,
    cfg: &Config,
    sides: &Sides,
    state: &mut State,
    log: &Logger,
    opts: &Options<'_>,
) -> Result<Report, ApplyError> {
    if state
        .plan_status(&plan.plan_id)?
        .is_some_and(|s| s != PlanStatus::Running)
    {
        // Applied before (its journal rows are gone): nothing is done twice.
        return Ok(Report {
            resumed_skips: plan.ops.len() as u64,
            ..Report::default()
        });
    }
    let done = state.step_status(&plan.plan_id)?;
    if let Some(p) = opts.progress {
        let todo = plan.ops.iter().filter(|op| {
            op.kind() != OpKind::Record
                && !done.contains_key(&op.id)
                && opts.filter.is_none_or(|f| f(op))
        });
        let (steps, bytes) = todo.fold((0, 0), |(n, b), op| {
            (
                n + 1,
                b + if op.kind() == OpKind::Copy {
                    op.bytes
                } else {
                    0
                },
            )
        });
        p.begin(steps, bytes);
    }
    // Keys whose rename did not happen (failed or drifted, now or before a
    // restart): their later property step would record a name the disk
    // does not have, so it waits for the next plan.
    let mut not_renamed: std::collections::HashSet<String> = plan
        .ops
        .iter()
        .filter(|o| {
            o.kind() == OpKind::Rename && done.get(&o.id).is_some_and(|s| *s != StepStatus::Done)
        })
        .map(|o| o.key.clone())
        .collect();
    // Folders a step should have made and did not (failed or skipped, now
    // or before a restart): the later steps below them wait for the next
    // plan, never written through whatever is at that name.
    let mut unmade = Unmade::new(cfg.case_sensitive);
    if !opts.recover_only {
        for o in &plan.ops {
            if done.get(&o.id).is_some_and(|s| *s != StepStatus::Done) {
                unmade.note(o);
            }
        }
    }
    let ex = Executor {
        cfg,
        sides,
        plan,
        log,
        stop: opts.stop,
        recover_only: opts.recover_only,
        drives: steps::DriveNotes {
            known: crate::PerSide::from_fn(|s| {
                state.meta(&no_times_key(s)).ok().flatten().is_some()
            }),
            ..steps::DriveNotes::default()
        },
        progress: opts.progress,
        resume: resume::Resumer::new(state, plan, opts.resume_chunk_bytes, log),
    };
    let mut journal = Journal::new(state, &plan.plan_id, log, sides);
    let workers = cfg.raw.transfer.parallel_copies.max(1) as usize;
    // Conflicts, told once their steps are over (see `settle_conflicts`).
    let mut conflicts: Vec<&Op> = Vec::new();
    let mut i = 0;
    while let Some(op) = plan.ops.get(i) {
        i += 1;
        // Small copies at once, where `parallel_copies` allows (see `parallel`).
        if workers > 1 && !opts.recover_only && !stop_requested(opts) {
            let below_unmade = |o: &Op| unmade.below(o).is_some();
            let (run, after, skipped) =
                parallel::small_run(&plan.ops, i - 1, &done, opts, &below_unmade);
            if run.len() > 1 {
                journal.report.resumed_skips += skipped;
                parallel::run_at_once(&ex, &mut journal, &run, sides, opts, workers)?;
                i = after;
                continue;
            }
        }
        if done.contains_key(&op.id) {
            journal.report.resumed_skips += 1;
            continue;
        }
        if opts.filter.is_some_and(|f| !f(op)) {
            continue;
        }
        if stop_requested(opts) {
            break;
        }
        if op.kind() == OpKind::Conflict && !opts.recover_only {
            conflicts.push(op);
            continue;
        }
        if let Step::Record(r) = &op.step
            && !opts.recover_only
        {
            journal.record(steps::record_updates(op, r))?;
            continue;
        }
        journal.before()?;
        // A root that vanished mid-apply (drive unmounted: its mount point is
        // an empty local folder) must stop everything, before a step writes
        // into the wrong place or reads absence as "already deleted": its
        // marker is looked at before the step (when the last look is over a
        // second old) and before any commit (see `journal`).
        journal.look_before(op)?;
        // A case-only rename may park the item under a temp name: note it
        // first, so a crash or a failed put-back can never lose it.
        let parked = case_only_rename(plan, op);
        if let Some((side, mid, from, to)) = &parked {
            journal.state().park(*side, mid, from, to)?;
        }
        if let Some(p) = opts.progress {
            p.step_start(op);
        }
        let result = if op.kind() == OpKind::SetProps && not_renamed.contains(&op.key) {
            Ok(Outcome::Drifted(format!(
                "the rename of `{}` before it did not happen",
                op.path
            )))
        } else if let Some(why) = unmade.below(op) {
            Ok(Outcome::Drifted(why))
        } else {
            ex.step(op)
        };
        if !opts.recover_only && !matches!(result, Ok(Outcome::Done(_) | Outcome::Recovered(_))) {
            unmade.note(op);
        }
        if let Some(p) = opts.progress {
            p.step_end(op);
        }
        if op.kind() == OpKind::Rename
            && !matches!(result, Ok(Outcome::Done(_) | Outcome::Recovered(_)))
        {
            not_renamed.insert(op.key.clone());
        }
        if let Some((side, mid, ..)) = &parked
            && matches!(sides.get(*side).stat(mid), Ok(None))
        {
            journal.state().unpark(*side, mid)?;
        }
        // The step's effects are on disk; its journal commit comes later
        // (batched), after a look at the roots. A machine that stopped in
        // between (power cut) records nothing: the resumed run recognises
        // the step as done by its result.
        journal.settle(op, result, sides, opts.on_event)?;
    }
    if !stop_requested(opts) {
        settle_conflicts(&conflicts, plan, &done, &ex, &mut journal, opts)?;
    }
    let mut report = journal.finish(opts.on_event)?;
    note_drives(state, cfg, log, &ex.drives);
    let finished = plan
        .ops
        .iter()
        .all(|op| done.contains_key(&op.id) || report_covers(opts, op));
    if finished {
        state.finish_plan(
            &plan.plan_id,
            if report.failed.is_empty() {
                PlanStatus::Done
            } else {
                PlanStatus::DoneWithFailures
            },
        )?;
    }
    state.mark_synced()?;
    // A path fails no more when its steps went through; not when one did
    // and another of the same path failed (a move, then its edit's copy).
    let ok = std::mem::take(&mut report.ok_keys);
    let failed: std::collections::HashSet<&str> =
        report.failed.iter().map(|f| f.key.as_str()).collect();
    let cleared: Vec<String> = ok
        .iter()
        .filter(|k| !failed.contains(k.as_str()))
        .cloned()
        .collect();
    state.clear_failures(&cleared)?;
    report.ok_keys = ok;
    Ok(report)
}

/// The folders a plan's steps should have made on a side and did not (a
/// `mkdir`, or a folder's move, that failed or was skipped): every later
/// step whose paths on that side lie at or below one is skipped as
/// drifted, with why, and left for the next plan. Defence in depth behind
/// the planner (SPEC §4: unknown is never absent): a folder "made" where
/// a link the scan skipped stands would otherwise have the copies below it
/// written through the link, outside the root (audit item 1).
struct Unmade {
    case_sensitive: bool,
    /// Side, identity key and exact path of each folder not made.
    dirs: Vec<(crate::Side, String, String)>,
}

impl Unmade {
    fn new(case_sensitive: bool) -> Self {
        Self {
            case_sensitive,
            dirs: Vec::new(),
        }
    }

    /// Notes the folder `op` makes, if it makes one (its step did not happen).
    fn note(&mut self, op: &Op) {
        let made = match &op.step {
            Step::Mkdir(m) => Some((m.side, m.dest_path.as_str())),
            Step::Move(m)
                if op
                    .moved_entries()
                    .first()
                    .is_some_and(|e| e.left.kind == crate::Kind::Dir) =>
            {
                Some((m.side, m.dest_path.as_str()))
            }
            _ => None,
        };
        if let Some((side, path)) = made {
            let key = crate::paths::key_of(path, self.case_sensitive);
            self.dirs.push((side, key, path.to_owned()));
        }
    }

    /// Why `op` must wait: a path it touches on the side it writes lies at
    /// or below a folder not made there.
    fn below(&self, op: &Op) -> Option<String> {
        if self.dirs.is_empty() {
            return None;
        }
        let side = op.side()?;
        let mut touched: Vec<&str> = op.dest_path().into_iter().collect();
        if matches!(op.step, Step::Rename(_) | Step::Move(_)) {
            touched.extend(op.src_path());
        }
        for p in touched {
            let key = crate::paths::key_of(p, self.case_sensitive);
            if let Some((_, _, dir)) = self
                .dirs
                .iter()
                .find(|(s, d, _)| *s == side && crate::paths::is_within(&key, d))
            {
                return Some(format!(
                    "the folder `{dir}` on the {side} side was not made; left for the next plan"
                ));
            }
        }
        None
    }
}

/// Logs each path a plan skipped (the `skipped` table as of the latest
/// plan: a name the other side cannot hold, a link, a folder that cannot
/// be read) as a `scan` event with `result` "skipped", its side, path and
/// why: what `status` lists as needing the admin is in the log too. `apply`
/// logs every one once per run; `watch` each one when a plan first skips
/// it (again after it cleared), not every cycle.
pub fn log_skipped<'a>(log: &Logger, skipped: impl IntoIterator<Item = &'a crate::state::Skipped>) {
    for k in skipped {
        log.warn(
            "scan",
            json!({"path": k.path, "side": k.side, "result": "skipped", "error": k.reason, "since": k.since}),
        );
    }
}

/// The state-DB key under which a side's drive is noted as keeping no
/// times (its value: when it was first seen, and the drive's error).
#[must_use]
pub fn no_times_key(side: crate::Side) -> String {
    format!("drive_keeps_no_times_{side}")
}

/// Records what the run learnt about the drives' times: a drive that
/// refused them is noted in the state DB, logged and alerted once (until a
/// later copy there keeps its times again, which clears the note).
fn note_drives(state: &State, cfg: &Config, log: &Logger, drives: &steps::DriveNotes) {
    let refused = drives.refused.lock().map(|r| r.clone()).unwrap_or_default();
    let kept = drives.kept.lock().map(|k| *k).unwrap_or_default();
    for side in crate::Side::BOTH {
        let key = no_times_key(side);
        let known = state.meta(&key).ok().flatten().is_some();
        match &refused[side] {
            Some(err) if !known && !kept[side] => {
                let since =
                    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
                let note = json!({"since": since, "error": err}).to_string();
                if let Err(e) = state.set_meta(&key, &note) {
                    log.warn(
                        "error",
                        json!({"error": format!("cannot note the {side} drive's times: {e}")}),
                    );
                }
                let what = format!(
                    "the {side} drive does not keep modification times; newer-wins decisions there use the drive's times"
                );
                log.warn(
                    "copy",
                    json!({"side": side, "result": "ok", "note": what, "error": err}),
                );
                if cfg.raw.email.enabled {
                    crate::alert::enqueue(
                        state,
                        "failure",
                        &format!("the {side} drive does not keep modification times"),
                        &format!(
                            "{what}.\nCopies there go on; twinsync records the times the drive reports, so nothing is copied twice.\nThe drive said: {err}"
                        ),
                    );
                }
            }
            None if known && kept[side] => {
                let _ = state.delete_meta(&key);
                log.info("copy", json!({"side": side, "result": "ok", "note": format!("the {side} drive keeps modification times again")}));
            }
            _ => {}
        }
    }
}

fn stop_requested(opts: &Options<'_>) -> bool {
    opts.stop
        .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
}

/// Settles each conflict step of `conflicts` once the rest of the plan
/// ran: logged (and alerted, and counted) as handled only when every step
/// it planned (the same key or its clash name; records aside) is done,
/// now or before a restart, or left to another run (the large-file lane).
/// Else it is skipped as drifted, with the step that did not happen: a
/// clash copy whose rename was skipped is not told as made, and the next
/// plan handles the conflict again.
///
/// # Errors
/// As [`run`].
fn settle_conflicts(
    conflicts: &[&Op],
    plan: &ValidPlan,
    done: &std::collections::HashMap<u64, StepStatus>,
    ex: &Executor<'_>,
    journal: &mut Journal<'_>,
    opts: &Options<'_>,
) -> Result<(), ApplyError> {
    if conflicts.is_empty() {
        return Ok(());
    }
    let cs = ex.cfg.case_sensitive;
    let mut by_key: std::collections::HashMap<&str, Vec<&Op>> = std::collections::HashMap::new();
    for o in plan.ops.iter().filter(|o| o.kind() != OpKind::Record) {
        by_key.entry(o.key.as_str()).or_default().push(o);
    }
    let ok: std::collections::HashSet<u64> = journal.report.ok_ids.iter().copied().collect();
    for &c in conflicts {
        let clash = c
            .conflict_info()
            .and_then(|i| i.clash_path.as_deref())
            .map(|p| paths::key_of(p, cs));
        let mut keys = vec![c.key.as_str()];
        keys.extend(clash.as_deref().filter(|k| *k != c.key));
        let missed = keys
            .iter()
            .flat_map(|k| by_key.get(k).into_iter().flatten())
            .find(|o| {
                o.id != c.id
                    && opts.filter.is_none_or(|f| f(o))
                    && done.get(&o.id) != Some(&StepStatus::Done)
                    && !ok.contains(&o.id)
            });
        let result = match missed {
            Some(o) => Ok(Outcome::Drifted(format!(
                "not handled: its {} of `{}` did not happen; planned again",
                o.kind().as_str(),
                o.path
            ))),
            None => ex.step(c),
        };
        journal.before()?;
        journal.settle(c, result, ex.sides, opts.on_event)?;
    }
    Ok(())
}

fn report_covers(opts: &Options<'_>, op: &Op) -> bool {
    opts.filter.is_none_or(|f| f(op))
        && !opts
            .stop
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
}

/// The log event name of a step kind (SPEC §12).
#[must_use]
pub fn event_name(k: OpKind) -> &'static str {
    match k {
        OpKind::Copy | OpKind::Mkdir => "copy",
        OpKind::Delete | OpKind::Rmdir => "delete",
        OpKind::Rename => "rename",
        OpKind::Move => "move",
        OpKind::SetProps => "props",
        OpKind::Conflict => "conflict",
        OpKind::Record => "record",
    }
}

#[cfg(test)]
mod case_tests;
#[cfg(test)]
mod conflict_tests;
#[cfg(test)]
mod drive_tests;
#[cfg(test)]
mod length_tests;
#[cfg(test)]
mod parallel_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod resume_tests;
#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod safety_tests;
#[cfg(test)]
mod space_tests;
#[cfg(test)]
mod tests;
