//! The step journal: the `plans` and `steps` tables, and [`State::commit`],
//! the one transaction that records steps' outcomes together with their
//! effects on the snapshots, conflicts and trash records.
//!
//! Journal invariant (SPEC §8): a step is marked done in the *same*
//! transaction that records its effect on the snapshots. So after a crash
//! either both are recorded or neither; in the second case `apply` re-checks
//! the step's post-condition on disk before redoing it (see `apply`).
//! `commit` therefore writes through the transaction-level helpers of the
//! other rooms ([`FilesWriter`], [`conflicts::put`], [`trash::insert`]) and
//! never through their `&self` methods, which would each commit on their own.

use super::snapshots::FilesWriter;
use super::{ConflictRecord, State, StateError, TrashRecord, conflicts, sql_err, trash};
use crate::{Entry, PlanStatus, Side, StepStatus};
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// One change to the snapshot table.
#[derive(Debug, Clone)]
pub enum Update {
    /// Sets one side of a key's snapshot (None = the side no longer has it).
    Side {
        key: String,
        side: Side,
        entry: Option<Entry>,
    },
    /// Forgets a key entirely.
    Forget { key: String },
    /// Records an unresolved conflict.
    Conflict(ConflictRecord),
    /// Clears a key's conflict record.
    ClearConflict { key: String },
    /// Records a file moved to trash.
    Trash(TrashRecord),
}

/// Journal status of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRun {
    pub plan_id: String,
    pub status: PlanStatus,
}

/// A plan status as stored; only the four statuses are ever written, and
/// anything else reads as finished (never resumed).
fn plan_status_of(s: &str) -> PlanStatus {
    s.parse().unwrap_or(PlanStatus::Abandoned)
}

impl State {
    /// Starts (or resumes) a plan: returns the plan's journal row if it was
    /// seen before; otherwise registers it and bumps the generation, so that
    /// every plan made earlier becomes stale. One transaction.
    ///
    /// # Errors
    /// SQL errors.
    pub fn begin_plan(
        &mut self,
        plan_id: &str,
        base_generation: i64,
    ) -> Result<Option<PlanRun>, StateError> {
        let sql = sql_err(&self.file);
        let tx = self.conn.transaction().map_err(sql)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT status FROM plans WHERE plan_id = ?1",
                [plan_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(status) = existing {
            return Ok(Some(PlanRun {
                plan_id: plan_id.to_owned(),
                status: plan_status_of(&status),
            }));
        }
        let generation: i64 = tx
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(sql)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        tx.execute(
            "INSERT INTO plans(plan_id, base_generation, started_at, status) VALUES(?1, ?2, ?3, 'running')",
            params![plan_id, base_generation, chrono::Utc::now().to_rfc3339()],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES('generation', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(generation + 1).to_string()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(None)
    }

    /// Marks a plan finished.
    ///
    /// # Errors
    /// SQL errors.
    pub fn finish_plan(&mut self, plan_id: &str, status: PlanStatus) -> Result<(), StateError> {
        let sql = sql_err(&self.file);
        // A finished plan keeps its row (so applying it again does nothing)
        // but not its JSON and per-step rows, which only served resuming.
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "UPDATE plans SET status = ?2, finished_at = ?3, plan_json = NULL WHERE plan_id = ?1",
            params![plan_id, status.as_str(), chrono::Utc::now().to_rfc3339()],
        )
        .map_err(sql)?;
        tx.execute("DELETE FROM steps WHERE plan_id = ?1", [plan_id])
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Marks `running` plans that started before a plan that has finished as
    /// `abandoned`: what they would still do was planned against an older
    /// state (their remaining steps are re-planned from the disks instead).
    /// Returns how many.
    ///
    /// # Errors
    /// SQL errors.
    pub fn abandon_superseded_plans(&self) -> Result<usize, StateError> {
        self.conn
            .execute(
                "UPDATE plans SET status = 'abandoned', plan_json = NULL
                 WHERE status = 'running'
                   AND started_at < (SELECT max(started_at) FROM plans WHERE status <> 'running')",
                [],
            )
            .map_err(self.sql())
    }

    /// The unfinished plans that [`Self::abandon_superseded_plans`] would abandon.
    ///
    /// # Errors
    /// SQL errors.
    pub fn superseded_plans(&self) -> Result<Vec<String>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT plan_id FROM plans WHERE status = 'running'
                   AND started_at < (SELECT max(started_at) FROM plans WHERE status <> 'running')",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Plans that have not finished (oldest first): resumed by `watch`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn running_plans(&self) -> Result<Vec<String>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT plan_id FROM plans WHERE status = 'running' ORDER BY started_at, rowid",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Unfinished plans that will be resumed (oldest first): the running
    /// ones no later plan superseded. A superseded one (a later plan
    /// finished: a `watch` cycle that re-planned after its lane's copy met
    /// an outage) is abandoned at the next start, its steps planned afresh:
    /// they are not pending (`status`, the report).
    ///
    /// # Errors
    /// SQL errors.
    pub fn resumable_plans(&self) -> Result<Vec<String>, StateError> {
        let superseded = self.superseded_plans()?;
        Ok(self
            .running_plans()?
            .into_iter()
            .filter(|p| !superseded.contains(p))
            .collect())
    }

    /// The journal status of a plan (`running`, `done`, …), if it was ever started.
    ///
    /// # Errors
    /// SQL errors.
    pub fn plan_status(&self, plan_id: &str) -> Result<Option<PlanStatus>, StateError> {
        self.conn
            .query_row(
                "SELECT status FROM plans WHERE plan_id = ?1",
                [plan_id],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|s| s.as_deref().map(plan_status_of))
            .map_err(self.sql())
    }

    /// The JSON of a plan that was started (for resuming it).
    ///
    /// # Errors
    /// SQL errors.
    pub fn plan_json(&self, plan_id: &str) -> Result<Option<String>, StateError> {
        // Text, or the blob `save_plan_journal` streams (its bytes are the
        // JSON's UTF-8); anything else reads as no journal.
        self.conn
            .query_row(
                "SELECT plan_json FROM plans WHERE plan_id = ?1",
                [plan_id],
                |r| {
                    Ok(r.get_ref(0)?
                        .as_bytes_or_null()
                        .ok()
                        .flatten()
                        .and_then(|b| String::from_utf8(b.to_vec()).ok()))
                },
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.sql())
    }

    /// Stores the JSON of a started plan.
    ///
    /// # Errors
    /// SQL errors.
    pub fn save_plan_json(&self, plan_id: &str, json: &str) -> Result<(), StateError> {
        self.save_plan_journal(plan_id, &mut |w| w.write_all(json.as_bytes()))
    }

    /// Stores the journal of a started plan as `write` writes it, straight
    /// into its row in one transaction: a first sync's journal is ~70 MB,
    /// and neither a string of it nor SQLite's copy of one is made.
    /// `write` is called twice (once to measure, once to store) and must
    /// write the same bytes both times.
    ///
    /// # Errors
    /// SQL errors (a failed `write` included).
    pub fn save_plan_journal(
        &self,
        plan_id: &str,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<(), StateError> {
        /// Counts what is written to it.
        struct Measure(u64);
        impl std::io::Write for Measure {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0 += b.len() as u64;
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let io = |e: std::io::Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
        let mut len = Measure(0);
        write(&mut len).map_err(io).map_err(self.sql())?;
        let len = i64::try_from(len.0)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
            .map_err(self.sql())?;
        let tx = self.conn.unchecked_transaction().map_err(self.sql())?;
        let rowid: Option<i64> = tx
            .query_row(
                "UPDATE plans SET plan_json = zeroblob(?2) WHERE plan_id = ?1 RETURNING rowid",
                params![plan_id, len],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())?;
        if let Some(rowid) = rowid {
            let blob = tx
                .blob_open(rusqlite::MAIN_DB, "plans", "plan_json", rowid, false)
                .map_err(self.sql())?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, blob);
            write(&mut out).map_err(io).map_err(self.sql())?;
            out.into_inner()
                .map_err(|e| io(e.into_error()))
                .map_err(self.sql())?
                .close()
                .map_err(self.sql())?;
        }
        tx.commit().map_err(self.sql())
    }

    /// Step ids of a plan that are done (or skipped/failed for good), with their status.
    ///
    /// # Errors
    /// SQL errors.
    pub fn step_status(&self, plan_id: &str) -> Result<HashMap<u64, StepStatus>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT step_id, status FROM steps WHERE plan_id = ?1")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([plan_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.sql())?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, s) = row.map_err(self.sql())?;
            // Only these three are written; anything else counts as not done.
            let status = s.parse().unwrap_or(StepStatus::Failed);
            out.insert(u64::try_from(id).unwrap_or(0), status);
        }
        Ok(out)
    }

    /// Records steps' outcomes and their snapshot updates in ONE transaction
    /// (the journal invariant; see the module docs). Several steps may be
    /// committed together (a batch of `record` steps).
    ///
    /// # Errors
    /// SQL errors (nothing is recorded then).
    pub fn commit(
        &mut self,
        plan_id: &str,
        steps: &[(u64, StepStatus, Option<&str>)],
        updates: &[Update],
    ) -> Result<(), StateError> {
        let sql = sql_err(&self.file);
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut files = FilesWriter::new(&tx).map_err(sql)?;
            // Most commits clear conflicts that were never there (every
            // recorded pair does): skip those deletes when there are none.
            let mut any_conflict = conflicts::any(&tx).map_err(sql)?;
            let mut i = 0;
            while i < updates.len() {
                let u = &updates[i];
                i += 1;
                // Both sides of one key in a row (a recorded pair, e.g. the
                // 90,000 of a first-run adoption): one statement, not four.
                if let (
                    Update::Side {
                        key,
                        side: Side::Left,
                        entry: Some(l),
                    },
                    Some(Update::Side {
                        key: key2,
                        side: Side::Right,
                        entry: Some(r),
                    }),
                ) = (u, updates.get(i))
                    && key == key2
                {
                    i += 1;
                    files.set_pair(key, l, r).map_err(sql)?;
                    continue;
                }
                match u {
                    Update::Side { key, side, entry } => {
                        files.set_side(key, *side, entry.as_ref()).map_err(sql)?;
                    }
                    Update::Forget { key } => files.forget(key).map_err(sql)?,
                    Update::Conflict(c) => {
                        any_conflict = true;
                        conflicts::put(&tx, c).map_err(sql)?;
                    }
                    Update::ClearConflict { .. } if !any_conflict => {}
                    Update::ClearConflict { key } => conflicts::clear(&tx, key).map_err(sql)?,
                    Update::Trash(t) => trash::insert(&tx, t).map_err(sql)?,
                }
            }
            let mut step = tx
                .prepare_cached(
                    "INSERT INTO steps(plan_id, step_id, status, error, finished_at) VALUES(?1,?2,?3,?4,?5)
                     ON CONFLICT(plan_id, step_id) DO UPDATE SET status=excluded.status, error=excluded.error, finished_at=excluded.finished_at",
                )
                .map_err(sql)?;
            let now = chrono::Utc::now().to_rfc3339();
            #[allow(clippy::cast_possible_wrap)]
            for (id, status, err) in steps {
                step.execute(params![plan_id, *id as i64, status.as_str(), err, now])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A running plan that a later finished plan superseded is not one to
    /// resume, nor pending for `status` (audit: a watch's lane plan cut by
    /// an outage said "1 step pending" for ever); a running plan started
    /// after the last finished one is.
    #[test]
    fn superseded_running_plans_are_not_resumable() {
        let d = tempfile::tempdir().unwrap();
        let mut s = State::open_or_create(&d.path().join("s.db")).unwrap();
        s.begin_plan("cut by an outage", 0).unwrap();
        s.begin_plan("re-planned", 1).unwrap();
        s.finish_plan("re-planned", PlanStatus::Done).unwrap();
        assert_eq!(s.running_plans().unwrap(), ["cut by an outage"]);
        assert!(s.resumable_plans().unwrap().is_empty());
        s.begin_plan("interrupted", 2).unwrap();
        assert_eq!(s.resumable_plans().unwrap(), ["interrupted"]);
    }

    #[test]
    fn generation_bumps_once_per_plan() {
        let d = tempfile::tempdir().unwrap();
        let mut s = State::open_or_create(&d.path().join("s.db")).unwrap();
        assert_eq!(s.generation().unwrap(), 0);
        assert!(s.begin_plan("p1", 0).unwrap().is_none());
        assert_eq!(s.generation().unwrap(), 1);
        assert!(s.begin_plan("p1", 0).unwrap().is_some());
        assert_eq!(s.generation().unwrap(), 1);
    }

    /// The journal is streamed into its row in one transaction: read back
    /// whole, and a writer that fails leaves the journal that was there.
    #[test]
    fn a_streamed_journal_reads_back_whole_and_a_failed_one_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut s = State::open_or_create(&d.path().join("s.db")).unwrap();
        s.begin_plan("p1", 0).unwrap();
        let big = "7,".repeat(200_000);
        s.save_plan_journal("p1", &mut |w| {
            w.write_all(b"[")?;
            w.write_all(big.as_bytes())?;
            w.write_all(b"0]")
        })
        .unwrap();
        assert_eq!(s.plan_json("p1").unwrap(), Some(format!("[{big}0]")));
        let mut calls = 0;
        let e = s.save_plan_journal("p1", &mut |w| {
            calls += 1;
            w.write_all(b"[1, 2")?;
            if calls == 2 {
                return Err(std::io::Error::other("disk gone"));
            }
            w.write_all(b"]")
        });
        assert!(e.unwrap_err().to_string().contains("disk gone"));
        assert_eq!(s.plan_json("p1").unwrap(), Some(format!("[{big}0]")));
        // An unknown plan: nothing stored, no error.
        s.save_plan_json("nope", "{}").unwrap();
        assert_eq!(s.plan_json("nope").unwrap(), None);
    }
}
