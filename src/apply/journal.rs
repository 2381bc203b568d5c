//! The step journal of one run: what each step's outcome writes to the
//! state DB and counts in the [`Report`].
//!
//! Invariant (the crash invariant of [`super`]): a step's journal row and
//! its snapshot updates go to the DB in one transaction
//! ([`State::commit`]), after its disk effects. Records and finished
//! steps are batched ([`Pending`]): a crash before a batch is written
//! leaves those steps unjournalled, which the resumed run recognises on
//! disk (recovered) — as it does for a crash right after any step. Every
//! other outcome (recovered, drifted, failed) flushes the batch first, so
//! the snapshot updates reach the DB in plan order.
//!
//! The roots' markers ([`Roots`]) are looked at before anything is
//! committed, on every side a step touched since the last look, and
//! before a step when the last look at its sides is over a second old —
//! not before and after every step (each look is a round trip on a
//! drive). So a root that vanished (drive unmounted) or a machine that
//! stopped (power cut) is still caught before the journal says done: a
//! step whose effects may have gone to an empty mount point, or that read
//! the vanished root's absence as "already done", is never committed; the
//! batch is dropped and the resumed run looks at those steps again.

use super::steps::Outcome;
use super::{ApplyError, EventFn, FailedStep, Report, StepEvent, event_name};
use crate::fs::{FsError, Severity};
use crate::log::Logger;
use crate::plan::{CopyStep, Op, OpKind, Step};
use crate::roots::{Sides, Unavailable};
use crate::state::{State, StateError, Update};
use crate::{StepStatus, paths};
use serde_json::json;

/// The journal of one plan's run: the state DB, the batch not written yet
/// and the report so far.
pub(super) struct Journal<'r> {
    state: &'r mut State,
    plan_id: &'r str,
    log: &'r Logger,
    pending: Pending,
    roots: Roots<'r>,
    pub(super) report: Report,
    /// Conflict steps settled in this run: alerted by [`Self::finish`],
    /// once it is known whether their other steps went through.
    conflicts: Vec<Op>,
    /// Steps that failed or drifted in this run: key, path, and why.
    unsettled: Vec<(String, String, String)>,
}

/// When the roots' markers were last seen, and which sides steps touched
/// since (see the module doc).
pub(super) struct Roots<'r> {
    sides: &'r Sides,
    seen: crate::PerSide<Option<std::time::Instant>>,
    touched: crate::PerSide<bool>,
}

impl Roots<'_> {
    /// Before a step: a look at each side it touches, unless one was taken
    /// within [`Self::FRESH`].
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

    fn before_step(&mut self, op: &Op) -> Result<(), ApplyError> {
        for side in op.side().into_iter().chain(op.from()) {
            if self.seen[side].is_none_or(|t| t.elapsed() >= Self::FRESH) {
                self.look(side)?;
            }
            self.touched[side] = true;
        }
        Ok(())
    }

    /// Before a commit: a look at every side touched since the last one.
    fn before_commit(&mut self) -> Result<(), ApplyError> {
        for side in crate::Side::BOTH {
            if self.touched[side] {
                self.look(side)?;
            }
        }
        Ok(())
    }

    fn look(&mut self, side: crate::Side) -> Result<(), ApplyError> {
        let fs = self.sides.get(side);
        match fs.stat(paths::MARKER_NAME) {
            Ok(Some(_)) => {
                self.seen[side] = Some(std::time::Instant::now());
                self.touched[side] = false;
                Ok(())
            }
            Err(e) if e.is_fatal() => Err(ApplyError::Stopped(e)),
            // A root that vanished mid-apply (drive unmounted: its mount
            // point is an empty local folder) stops everything.
            _ => Err(ApplyError::Unavailable(Unavailable::new(
                side,
                fs,
                "the root or its marker vanished during apply; stopped, the rest resumes when it is back",
            ))),
        }
    }
}

impl<'r> Journal<'r> {
    pub(super) fn new(
        state: &'r mut State,
        plan_id: &'r str,
        log: &'r Logger,
        sides: &'r Sides,
    ) -> Self {
        Self {
            state,
            plan_id,
            log,
            pending: Pending::default(),
            roots: Roots {
                sides,
                seen: crate::PerSide::default(),
                touched: crate::PerSide::default(),
            },
            report: Report::default(),
            conflicts: Vec::new(),
            unsettled: Vec::new(),
        }
    }

    /// Before `op` runs: the roots it touches, looked at if that is due.
    ///
    /// # Errors
    /// `Unavailable` (a marker is gone), `Stopped` (power cut).
    pub(super) fn look_before(&mut self, op: &Op) -> Result<(), ApplyError> {
        self.roots.before_step(op)
    }

    /// Commits one outcome now, after the batch and a look at the roots.
    fn commit_now(
        &mut self,
        step: (u64, StepStatus, Option<&str>),
        updates: &[Update],
    ) -> Result<(), ApplyError> {
        self.flush()?;
        self.roots.before_commit()?;
        self.state.commit(self.plan_id, &[step], updates)?;
        Ok(())
    }

    /// The state DB (for what is not a step's outcome: parking, notes).
    pub(super) fn state(&mut self) -> &mut State {
        self.state
    }

    /// A record step: its snapshot updates join the batch.
    pub(super) fn record(&mut self, updates: Vec<Update>) -> Result<(), ApplyError> {
        self.pending.updates.extend(updates);
        self.pending.records += 1;
        self.report.records += 1;
        self.report.done += 1;
        if self.pending.due() {
            self.flush()?;
        }
        Ok(())
    }

    /// Before a step runs: the batch is written when it is due.
    pub(super) fn before(&mut self) -> Result<(), ApplyError> {
        if self.pending.due() {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the batch, once the roots its steps touched are seen there.
    pub(super) fn flush(&mut self) -> Result<(), ApplyError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if !self.pending.steps.is_empty() {
            self.roots.before_commit()?;
        }
        // The batch's renames made durable before the journal says done:
        // one folder `fsync` per folder and batch, not one per file.
        for (side, dir) in std::mem::take(&mut self.pending.dirs) {
            match self.roots.sides.get(side).sync_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.is_fatal() => return Err(ApplyError::Stopped(e)),
                Err(e) => self.log.warn(
                    "copy",
                    json!({"path": dir, "side": side, "result": "ok", "error": e.to_string(),
                           "note": "the folder could not be synced to disk; its files are written, their renames wait for the system's own flush"}),
                ),
            }
        }
        self.pending.flush(self.state, self.plan_id)?;
        Ok(())
    }

    /// Journals the outcome of `op` and counts it. A failed copy's new
    /// version, waiting under its temp name, is parked first (put in place
    /// later).
    ///
    /// # Errors
    /// `Stopped` when the file system stopped answering (power cut); state
    /// DB errors.
    pub(super) fn settle(
        &mut self,
        op: &Op,
        result: Result<Outcome, FsError>,
        sides: &Sides,
        on_event: Option<&EventFn<'_>>,
    ) -> Result<(), ApplyError> {
        // A failure that still has state to record (a version already in trash).
        let (result, kept) = match result {
            Ok(Outcome::Failed(e, kept)) => {
                if let crate::plan::Step::Copy(c) = &op.step {
                    self.park_temp(op, c, sides)?;
                }
                (Err(e), kept)
            }
            other => (other, Vec::new()),
        };
        match result {
            Ok(Outcome::Failed(..)) => {}
            Ok(Outcome::Done(updates)) => {
                count(&mut self.report, op, &updates);
                // Journalled a batch at a time (see the module doc).
                if let Some((side, dest)) = renamed_into(op) {
                    self.pending
                        .dirs
                        .insert((side, paths::parent(dest).to_owned()));
                }
                self.pending.steps.push(op.id);
                self.pending.updates.extend(updates);
                self.pending
                    .since
                    .get_or_insert_with(std::time::Instant::now);
                self.report.done += 1;
                self.report.ok_keys.push(op.key.clone());
                self.report.ok_ids.push(op.id);
                if op.kind() == OpKind::Conflict && on_event.is_some() {
                    self.conflicts.push(op.clone());
                }
            }
            Ok(Outcome::Recovered(updates)) => {
                self.commit_now((op.id, StepStatus::Done, None), &updates)?;
                self.report.done += 1;
                self.report.recovered += 1;
                self.report.ok_keys.push(op.key.clone());
                self.report.ok_ids.push(op.id);
                self.log.info(event_name(op.kind()), json!({"path": op.path, "rule": op.rule, "result": "ok", "note": "already done on disk (recovered)"}));
            }
            Ok(Outcome::Drifted(why)) => {
                self.commit_now((op.id, StepStatus::Drifted, Some(&why)), &[])?;
                self.report.drifted += 1;
                self.unsettled
                    .push((op.key.clone(), op.path.clone(), format!("skipped: {why}")));
                self.log.info(event_name(op.kind()), json!({"path": op.path, "side": op.side(), "rule": op.rule, "result": "skipped", "error": why}));
            }
            Err(e) if e.is_fatal() => return Err(ApplyError::Stopped(e)),
            Err(e) => self.failed(op, &e, &kept, on_event)?,
        }
        Ok(())
    }

    /// A failed step: journalled (with what it still has to record),
    /// remembered as a failure of its path, logged, reported, and alerted
    /// once per failure streak.
    fn failed(
        &mut self,
        op: &Op,
        e: &FsError,
        kept: &[Update],
        on_event: Option<&EventFn<'_>>,
    ) -> Result<(), ApplyError> {
        let msg = e.to_string();
        self.commit_now((op.id, StepStatus::Failed, Some(&msg)), kept)?;
        self.unsettled
            .push((op.key.clone(), op.path.clone(), msg.clone()));
        let now_s = crate::now_ns() / 1_000_000_000;
        let failure = self
            .state
            .record_failure(&op.key, &op.path, op.kind().as_str(), &msg, now_s)
            .ok();
        self.log.error(event_name(op.kind()), json!({"path": op.path, "side": op.side(), "rule": op.rule, "result": "failed", "error": msg}));
        self.report.failed.push(FailedStep {
            id: op.id,
            key: op.key.clone(),
            path: op.path.clone(),
            kind: op.kind().as_str().to_owned(),
            side: op.side(),
            error: msg.clone(),
            class: e.class,
        });
        // Alert once per failure streak: at once when retrying cannot help,
        // after 10 minutes for what usually clears by itself (locks…).
        if let (Some(f), Some(fail)) = (on_event, failure)
            && !fail.alerted
            && (e.severity() != Severity::Transient || failing_for_s(&fail.first_at) >= 600)
        {
            f(op, StepEvent::Failed(&msg));
            if let Err(e) = self.state.mark_failure_alerted(&op.key) {
                // The alert went out; at worst it is sent again next time.
                self.log.warn(
                    "alert",
                    json!({"path": op.path, "result": "failed", "error": format!("cannot mark the failure alerted: {e}")}),
                );
            }
        }
        Ok(())
    }

    /// Parks the temp file a failed copy left (its new version), so that a
    /// later run puts it in place.
    fn park_temp(&mut self, op: &Op, c: &CopyStep, sides: &Sides) -> Result<(), StateError> {
        let dest = c.dest_path.as_str();
        let [regular, short] = paths::copy_temps(dest, self.plan_id, op.id);
        let fs = sides.get(c.side);
        let temp = if matches!(fs.stat(&regular), Ok(Some(_))) {
            regular
        } else if matches!(fs.stat(&short), Ok(Some(_))) {
            short
        } else {
            regular
        };
        self.state.park(c.side, &temp, dest, dest)
    }

    /// The report, once the batch is written.
    ///
    /// # Errors
    /// State DB errors; a root gone or a power cut seen before the last batch.
    pub(super) fn finish(mut self, on_event: Option<&EventFn<'_>>) -> Result<Report, ApplyError> {
        self.flush()?;
        if let Some(f) = on_event {
            for c in &self.conflicts {
                let unfinished = unfinished_of(c, &self.unsettled);
                f(
                    c,
                    StepEvent::Conflict {
                        unfinished: &unfinished,
                    },
                );
            }
        }
        Ok(self.report)
    }
}

/// Why each of a conflict's other steps failed or was skipped in this run:
/// the steps at its path (the overwrite, the newer version's copy, the
/// older one moved aside) or at its clash path (the clash copy). Paths are
/// compared case-folded: a step may spell the name as the other side does.
fn unfinished_of(c: &Op, unsettled: &[(String, String, String)]) -> Vec<String> {
    let fold = |p: &str| paths::key_of(p, false);
    let mut mine = vec![fold(&c.path)];
    if let Some(clash) = c.conflict_info().and_then(|i| i.clash_path.as_deref()) {
        mine.push(fold(clash));
    }
    unsettled
        .iter()
        .filter(|(k, p, _)| *k == c.key || mine.contains(&fold(p)))
        .map(|(_, p, why)| format!("`{p}`: {why}"))
        .collect()
}

fn failing_for_s(first_at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(first_at).map_or(0, |t| {
        (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()
    })
}

/// Outcomes not written to the journal yet: recorded pairs (no step rows:
/// writing a snapshot again is harmless, so a resumed plan simply does
/// them again) and finished small copies (step rows). They go to the state
/// DB in one transaction a batch at a time instead of one per step.
#[derive(Default)]
struct Pending {
    /// Folders that steps of the batch renamed something into.
    dirs: std::collections::BTreeSet<(crate::Side, String)>,
    steps: Vec<u64>,
    records: usize,
    updates: Vec<Update>,
    /// When the oldest pending copy finished.
    since: Option<std::time::Instant>,
}

impl Pending {
    /// Records per transaction (cheap: no file is touched for them).
    const RECORDS: usize = 5000;
    /// Steps per transaction, and the longest a finished step waits.
    const COPIES: usize = 64;
    const WAIT: std::time::Duration = std::time::Duration::from_millis(250);

    fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.updates.is_empty()
    }

    fn due(&self) -> bool {
        self.records >= Self::RECORDS
            || self.steps.len() >= Self::COPIES
            || self.since.is_some_and(|t| t.elapsed() >= Self::WAIT)
    }

    fn flush(&mut self, state: &mut State, plan_id: &str) -> Result<(), StateError> {
        if self.steps.is_empty() && self.updates.is_empty() {
            return Ok(());
        }
        let steps: Vec<(u64, StepStatus, Option<&str>)> = self
            .steps
            .iter()
            .map(|id| (*id, StepStatus::Done, None))
            .collect();
        state.commit(plan_id, &steps, &self.updates)?;
        *self = Self::default();
        Ok(())
    }
}

/// The side and path a step renamed something to (a copy's temp, a move,
/// a rename): its folder is synced before the step is journalled.
fn renamed_into(op: &Op) -> Option<(crate::Side, &str)> {
    match &op.step {
        Step::Copy(c) => Some((c.side, &c.dest_path)),
        Step::Move(m) => Some((m.side, &m.dest_path)),
        Step::Rename(r) => Some((r.side, &r.dest_path)),
        _ => None,
    }
}

/// Counts a step done in the report.
fn count(r: &mut Report, op: &Op, updates: &[Update]) {
    if !matches!(op.kind(), OpKind::Conflict | OpKind::Record) {
        let copied = if op.kind() == OpKind::Copy {
            op.bytes
        } else {
            0
        };
        match op.side() {
            Some(crate::Side::Left) => {
                r.to_left += 1;
                r.bytes_to_left += copied;
            }
            Some(crate::Side::Right) => {
                r.to_right += 1;
                r.bytes_to_right += copied;
            }
            None => {}
        }
    }
    match op.kind() {
        OpKind::Copy => {
            r.copied += 1;
            r.bytes_copied += op.bytes;
            // The version it replaced, if that went to trash (`overwrite_record`).
            r.trashed_replaced += updates
                .iter()
                .filter(|u| matches!(u, Update::Trash(_)))
                .count() as u64;
        }
        OpKind::Delete if op.is_soft_delete() => r.soft_deletes += 1,
        OpKind::Delete => r.hard_deletes += 1,
        OpKind::Rename => r.renames += 1,
        OpKind::Move => r.moves += 1,
        OpKind::SetProps => r.props += 1,
        OpKind::Mkdir | OpKind::Rmdir => r.folders += 1,
        OpKind::Conflict => r.conflicts += 1,
        OpKind::Record => {}
    }
}
