//! The step journal of one run: what each step's outcome writes to the
//! state DB and counts in the [`Report`].
//!
//! Invariant (the crash invariant of [`super`]): a step's journal row and
//! its snapshot updates go to the DB in one transaction
//! ([`State::commit`]), after its disk effects. Records and finished small
//! copies are batched ([`Pending`]): a crash before a batch is written
//! leaves those steps unjournalled, which the resumed run recognises on
//! disk (recovered) — as it does for a crash right after any step. Every
//! other outcome flushes the batch first, so the journal stays in plan order.

use super::steps::Outcome;
use super::{ApplyError, EventFn, FailedStep, Report, event_name};
use crate::fs::{FsError, Severity};
use crate::log::Logger;
use crate::plan::{CopyStep, Op, OpKind};
use crate::roots::Sides;
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
    pub(super) report: Report,
}

impl<'r> Journal<'r> {
    pub(super) fn new(state: &'r mut State, plan_id: &'r str, log: &'r Logger) -> Self {
        Self {
            state,
            plan_id,
            log,
            pending: Pending::default(),
            report: Report::default(),
        }
    }

    /// The state DB (for what is not a step's outcome: parking, notes).
    pub(super) fn state(&mut self) -> &mut State {
        self.state
    }

    /// A record step: its snapshot updates join the batch.
    pub(super) fn record(&mut self, updates: Vec<Update>) -> Result<(), StateError> {
        self.pending.updates.extend(updates);
        self.pending.records += 1;
        self.report.records += 1;
        self.report.done += 1;
        if self.pending.due() {
            self.flush()?;
        }
        Ok(())
    }

    /// Before a step runs: the batch is written unless the step is a copy
    /// (which may join it) and the batch can still wait.
    pub(super) fn before(&mut self, op: &Op) -> Result<(), StateError> {
        if op.kind() != OpKind::Copy || self.pending.due() {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the batch.
    pub(super) fn flush(&mut self) -> Result<(), StateError> {
        self.pending.flush(self.state, self.plan_id)
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
        let id = self.plan_id;
        match result {
            Ok(Outcome::Failed(..)) => {}
            Ok(Outcome::Done(updates)) => {
                count(&mut self.report, op, &updates);
                if op.kind() == OpKind::Copy {
                    // Small copies are journalled a batch at a time (see the module doc).
                    self.pending.steps.push(op.id);
                    self.pending.updates.extend(updates);
                    self.pending
                        .since
                        .get_or_insert_with(std::time::Instant::now);
                } else {
                    self.state
                        .commit(id, &[(op.id, StepStatus::Done, None)], &updates)?;
                }
                self.report.done += 1;
                self.report.ok_keys.push(op.key.clone());
                if op.kind() == OpKind::Conflict
                    && let Some(f) = on_event
                {
                    f(op, "");
                }
            }
            Ok(Outcome::Recovered(updates)) => {
                self.state
                    .commit(id, &[(op.id, StepStatus::Done, None)], &updates)?;
                self.report.done += 1;
                self.report.recovered += 1;
                self.report.ok_keys.push(op.key.clone());
                self.log.info(event_name(op.kind()), json!({"path": op.path, "rule": op.rule, "result": "ok", "note": "already done on disk (recovered)"}));
            }
            Ok(Outcome::Drifted(why)) => {
                self.state
                    .commit(id, &[(op.id, StepStatus::Drifted, Some(&why))], &[])?;
                self.report.drifted += 1;
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
    ) -> Result<(), StateError> {
        let msg = e.to_string();
        self.state.commit(
            self.plan_id,
            &[(op.id, StepStatus::Failed, Some(&msg))],
            kept,
        )?;
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
            error: msg.clone(),
            class: e.class,
        });
        // Alert once per failure streak: at once when retrying cannot help,
        // after 10 minutes for what usually clears by itself (locks…).
        if let (Some(f), Some(fail)) = (on_event, failure)
            && !fail.alerted
            && (e.severity() != Severity::Transient || failing_for_s(&fail.first_at) >= 600)
        {
            f(op, &msg);
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
    /// State DB errors.
    pub(super) fn finish(mut self) -> Result<Report, StateError> {
        self.flush()?;
        Ok(self.report)
    }
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
    steps: Vec<u64>,
    records: usize,
    updates: Vec<Update>,
    /// When the oldest pending copy finished.
    since: Option<std::time::Instant>,
}

impl Pending {
    /// Records per transaction (cheap: no file is touched for them).
    const RECORDS: usize = 5000;
    /// Copies per transaction, and the longest a finished copy waits.
    const COPIES: usize = 64;
    const WAIT: std::time::Duration = std::time::Duration::from_millis(250);

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
