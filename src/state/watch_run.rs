//! The `watch_run` note (a `meta` row): the signs of life of the `watch`
//! (or service) syncing with this state DB, so that `status`, the report
//! and the dashboard can tell a sync that stopped or hangs from a healthy
//! one (SPEC §12: a stuck sync must never look healthy).
//!
//! Invariant: written only by a `watch` that holds the run lock (at its
//! start, every [`BEAT_SECS`] while it runs, and at a clean exit, which
//! sets `stopped_at`). A note without `stopped_at` whose lock nobody holds
//! is a watch that died (killed, crashed, the machine went down); one
//! whose `progress_at` is old while the lock is held is a watch that hangs.

use super::{State, StateError};

const KEY: &str = "watch_run";

/// How often a running watch writes its note.
pub const BEAT_SECS: i64 = 30;

/// The last note of a watch. Times are Unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatchRun {
    pub pid: u32,
    pub started_at: i64,
    /// The last time the watch wrote this note (it beats every
    /// [`BEAT_SECS`] whatever its cycles do).
    pub alive_at: i64,
    /// The last time it got anything done: a cycle ended (a quiet one
    /// too), a step finished, a copy wrote bytes.
    pub progress_at: i64,
    /// Set by a clean exit (Ctrl-C, service stop, `--cycles` ran out).
    #[serde(default)]
    pub stopped_at: Option<i64>,
    /// Set by an `apply` that took the run lock while the note said the
    /// watch runs: it died (the lock is the apply's now, so the note says).
    #[serde(default)]
    pub dead: bool,
}

impl State {
    /// The last note of a watch on this state DB, if one ever ran (an
    /// unreadable note counts as none: it only ever adds a warning).
    ///
    /// # Errors
    /// SQL errors.
    pub fn watch_run(&self) -> Result<Option<WatchRun>, StateError> {
        Ok(self
            .meta(KEY)?
            .and_then(|v| serde_json::from_str::<WatchRun>(&v).ok()))
    }

    /// Writes the running watch's note.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_watch_run(&self, run: &WatchRun) -> Result<(), StateError> {
        self.set_meta(KEY, &serde_json::to_string(run).unwrap_or_default())
    }

    /// Notes that the watch died, when its note says it runs: called by an
    /// `apply` holding the run lock (no watch can be running then).
    ///
    /// # Errors
    /// SQL errors.
    pub fn note_watch_dead(&self) -> Result<(), StateError> {
        match self.watch_run()? {
            Some(mut run) if run.stopped_at.is_none() && !run.dead => {
                run.dead = true;
                self.set_watch_run(&run)
            }
            _ => Ok(()),
        }
    }

    /// Whether a sync ever completed with this state DB ([`State::mark_synced`],
    /// an empty plan's too), a plan was started, or files are known (a DB
    /// older than that note). A run refused or stopped by an unavailable
    /// side records a cycle, but it is not a sync.
    ///
    /// # Errors
    /// SQL errors.
    pub fn has_synced(&self) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM meta WHERE key = 'synced_once')
                     OR EXISTS(SELECT 1 FROM plans) OR EXISTS(SELECT 1 FROM files)",
                [],
                |r| r.get(0),
            )
            .map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_state;
    use super::*;

    #[test]
    fn the_note_round_trips_and_a_garbled_one_reads_as_none() {
        let (_d, s) = temp_state();
        assert_eq!(s.watch_run().unwrap(), None);
        let run = WatchRun {
            pid: 42,
            started_at: 100,
            alive_at: 130,
            progress_at: 120,
            stopped_at: None,
            dead: false,
        };
        s.set_watch_run(&run).unwrap();
        assert_eq!(s.watch_run().unwrap(), Some(run.clone()));
        // An apply holding the lock finds it dead; a stopped one stays so.
        s.note_watch_dead().unwrap();
        assert!(s.watch_run().unwrap().unwrap().dead);
        s.set_watch_run(&WatchRun {
            stopped_at: Some(140),
            ..run
        })
        .unwrap();
        s.note_watch_dead().unwrap();
        assert!(!s.watch_run().unwrap().unwrap().dead);
        s.set_meta(KEY, "{not json").unwrap();
        assert_eq!(s.watch_run().unwrap(), None);
    }

    #[test]
    fn a_new_db_has_not_synced_a_refused_run_neither_a_completed_one_has() {
        let (_d, s) = temp_state();
        assert!(!s.has_synced().unwrap());
        // A run stopped by an unavailable side records its cycle.
        s.record_cycle(&super::super::CycleRecord::default())
            .unwrap();
        assert!(!s.has_synced().unwrap());
        s.mark_synced().unwrap();
        assert!(s.has_synced().unwrap());
    }
}
