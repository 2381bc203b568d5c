//! The state DB (SQLite, WAL): last synced snapshot per path and side,
//! the step journal, unresolved conflicts, trash records, failures, cycles
//! and the email outbox.
//!
//! One struct, [`State`], owns the connection; each concern adds its own
//! `impl State` block in its own file (as Syncthing's `internal/db/sqlite`
//! does), and only this module tree writes SQL against the DB:
//!
//! - here: opening (errors that tell the user what to do), the `meta`
//!   table and what lives in it (generation, root ids, availability), and
//!   the one SQL codec of a [`Side`];
//! - [`lock`]: the run lock (an OS file lock next to the DB, not DB code);
//! - [`snapshots`]: the `files` table and the one `Entry` row codec;
//! - [`journal`]: plans, steps and the one-transaction [`State::commit`],
//!   which calls the transaction-level writers of the other rooms;
//! - [`conflicts`], [`trash`], [`failures`], [`skipped`], [`parked`],
//!   [`cycles`], [`outbox`], [`transfers`]: one table (or two) each (the
//!   resumable copies' rows are written mid-step through a second
//!   connection, [`TransferBook`]);
//! - `schema`: append-only migrations.
//!
//! Hot path: [`State::load_files`] reads every snapshot in one query;
//! [`State::commit`] writes a step's completion and all its state updates in
//! one transaction.
//!
//! Journal invariant (SPEC §8): a step is marked done in the *same*
//! transaction that records its effect on the snapshots. So after a crash
//! either both are recorded or neither; in the second case `apply` re-checks
//! the step's post-condition on disk before redoing it (see `apply`).
//!
//! Invariant: the connection never leaves this module tree (`conn` is
//! private), so every table's SQL is in the file named after it.

mod conflicts;
mod cycles;
mod failures;
mod journal;
mod lock;
mod outbox;
mod parked;
mod schema;
mod skipped;
mod snapshots;
mod transfers;
mod trash;
mod watch_run;

pub use conflicts::ConflictRecord;
pub use cycles::{CYCLE_DETAIL_SECS, CYCLE_HISTORY_SECS, CycleHistory, CycleRecord, HourStats};
pub use failures::Failure;
pub use journal::{PlanRun, Update};
pub use lock::RunLock;
pub use outbox::{OutboxRow, QueuedEmail};
pub use parked::Parked;
pub use skipped::Skipped;
pub use snapshots::{StateMap, StateRow};
pub use transfers::{Transfer, TransferBook};
pub use trash::TrashRecord;
pub use watch_run::{BEAT_SECS, WatchRun};

use crate::Side;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Errors of the state DB; every one names the DB file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state DB `{file}` is corrupt or unreadable: {source}. To recover: move the file aside and run `twinsync init` (the root markers are kept; the next plan is a first run that adopts identical files)"
    )]
    Corrupt {
        file: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The DB could not be opened or read for a reason that is not a
    /// corruption (permissions, I/O error, a lock, a disk or share away):
    /// the file may be perfectly good, so the advice is to fix and retry.
    #[error(
        "cannot open state DB `{file}`: {why}. Nothing was changed and the file is not known to be damaged: check that this user may read and write it and its folder, that its disk or share is reachable and that no other program locks it, then retry"
    )]
    Inaccessible {
        file: PathBuf,
        /// The OS error where there is one, and SQLite's words.
        why: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "state DB `{file}` is an SQLite database but not twinsync's (it lacks the `meta` table): check `state_db` in the config"
    )]
    Foreign {
        file: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state DB `{file}`: {source}")]
    Sql {
        file: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "state DB `{file}` has schema version {found}, newer than this twinsync understands ({known}); use a newer twinsync"
    )]
    TooNew {
        file: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("state DB `{0}` does not exist; run `twinsync init` first")]
    Missing(PathBuf),
}

/// The open state DB.
pub struct State {
    conn: Connection,
    file: PathBuf,
}

/// Maps an error met while opening the DB: only SQLite's NOTADB / CORRUPT
/// is a corruption (whose advice, moving the file aside, throws the sync
/// state away); anything else names the OS error and asks for a retry.
fn open_err(file: &Path) -> impl Fn(rusqlite::Error) -> StateError + Copy + '_ {
    move |source| {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        if matches!(
            source.sqlite_error_code(),
            Some(NotADatabase | DatabaseCorrupt)
        ) {
            return StateError::Corrupt {
                file: file.to_path_buf(),
                source,
            };
        }
        // SQLite's "unable to open database file" does not say why: ask the OS.
        let os = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(file)
            .err()
            .filter(|_| file.exists());
        let why = match os {
            Some(e) => format!("{e} ({source})"),
            None => source.to_string(),
        };
        StateError::Inaccessible {
            file: file.to_path_buf(),
            why,
            source,
        }
    }
}

/// Maps SQL errors of a transaction to [`StateError::Sql`] naming the DB
/// (borrows only the file name, so `conn` stays free for the transaction).
fn sql_err(file: &Path) -> impl Fn(rusqlite::Error) -> StateError + Copy + '_ {
    move |source| StateError::Sql {
        file: file.to_path_buf(),
        source,
    }
}

/// A JSON column of a row in `table` (named by `what`) read back; a row
/// that does not parse (written by a newer twinsync, or damaged) is left
/// out, and said on stderr with why: never dropped silently.
fn parsed<T: serde::de::DeserializeOwned>(table: &str, what: &str, data: &str) -> Option<T> {
    serde_json::from_str(data)
        .inspect_err(|e| {
            crate::errln!("state DB: a row of `{table}` ({what}) does not parse, left out: {e}");
        })
        .ok()
}

/// A side is stored as its name (`left`, `right`); reading one back goes
/// through the one parser (`FromStr`), so an unknown value is an error
/// ([`StateError::Sql`]), never a silent default side.
impl ToSql for Side {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(
            self.as_str().as_bytes(),
        )))
    }
}

impl FromSql for Side {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        v.as_str()?
            .parse()
            .map_err(|e: crate::model::ParseError| FromSqlError::Other(e.into()))
    }
}

impl State {
    /// Opens an existing state DB (migrating its schema).
    ///
    /// # Errors
    /// `Missing` if the file does not exist, `Corrupt` if it is damaged,
    /// `Inaccessible` if it cannot be read now (permissions, I/O, locks).
    pub fn open(file: &Path) -> Result<Self, StateError> {
        if !file.exists() {
            return Err(StateError::Missing(file.to_path_buf()));
        }
        Self::open_or_create(file)
    }

    /// Opens the state DB for `plan`, `apply` and `watch`: created on first
    /// use (with both markers there the first plan adopts them, as after
    /// `init`), and a new one said on stderr: a state DB that went missing
    /// (lost, deleted, on a drive not mounted) must not pass unnoticed.
    ///
    /// # Errors
    /// As [`State::open_or_create`].
    pub fn open_for_sync(file: &Path) -> Result<Self, StateError> {
        let fresh = !file.exists();
        let st = Self::open_or_create(file)?;
        if fresh {
            crate::eoutln!(
                "warning: no state DB at `{}`: made a new one. A first run: equal files are adopted, the others copied, nothing is deleted.",
                file.display()
            );
        }
        Ok(st)
    }

    /// Opens the state DB, creating it (and its schema) if needed.
    ///
    /// # Errors
    /// `Corrupt` if the file is damaged, `Inaccessible` if it cannot be
    /// read or created now (permissions, I/O, locks).
    pub fn open_or_create(file: &Path) -> Result<Self, StateError> {
        let fail = open_err(file);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = Connection::open(file).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        // Every transaction here writes: take the write lock at BEGIN, where
        // the busy timeout waits for it. A deferred one that read first
        // fails at once ("database is locked", SQLite's BUSY_SNAPSHOT) when
        // another connection (a copy recording its chunks, the watch's
        // large-file lane, the mailer) committed since it began.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .map_err(fail)?;
        let mut st = Self {
            conn,
            file: file.to_path_buf(),
        };
        schema::migrate(&mut st.conn, file)?;
        Ok(st)
    }

    /// The DB file.
    #[must_use]
    pub fn file(&self) -> &Path {
        &self.file
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        sql_err(&self.file)
    }

    /// Reads a value of the `meta` table.
    ///
    /// # Errors
    /// SQL errors.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sql())
    }

    /// Writes a value of the `meta` table.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Removes a value of the `meta` table (nothing if it is not there).
    ///
    /// # Errors
    /// SQL errors.
    pub fn delete_meta(&self, key: &str) -> Result<(), StateError> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Notes that a sync completed (even one with nothing to do): from now
    /// on, new files on both sides are conflicts, not a first-run adoption.
    ///
    /// # Errors
    /// SQL errors.
    pub fn mark_synced(&self) -> Result<(), StateError> {
        if self.meta("synced_once")?.is_none() {
            self.set_meta("synced_once", &chrono::Utc::now().to_rfc3339())?;
        }
        Ok(())
    }

    /// The root id recorded for a side.
    ///
    /// # Errors
    /// SQL errors.
    pub fn root_id(&self, side: Side) -> Result<Option<String>, StateError> {
        self.meta(&format!("{side}_root_id"))
    }

    /// The generation: bumped each time an apply starts a new plan.
    ///
    /// # Errors
    /// SQL errors.
    pub fn generation(&self) -> Result<i64, StateError> {
        Ok(self
            .meta("generation")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Since when `side` has been unavailable (RFC 3339), as first noticed
    /// by a plan or a `watch` cycle; `None` when it is available.
    ///
    /// # Errors
    /// SQL errors.
    pub fn unavailable_since(&self, side: Side) -> Result<Option<String>, StateError> {
        Ok(self
            .meta(&format!("{side}_unavailable_since"))?
            .filter(|v| !v.is_empty()))
    }

    /// Notes that `side` is unavailable (`true`; the first time is kept) or
    /// available again (`false`), in one write transaction: of several
    /// processes (a `watch`, an `apply`, a restarted `watch`) noting the
    /// same change, exactly one is told it ([`Availability`]) — the one
    /// that alerts. `None`: the DB already knew.
    ///
    /// # Errors
    /// SQL errors.
    pub fn note_unavailable(
        &self,
        side: Side,
        unavailable: bool,
    ) -> Result<Option<Availability>, StateError> {
        let sql = sql_err(&self.file);
        // `&self` (callers share the State): no other statement runs inside it.
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(sql)?;
        let key = format!("{side}_unavailable_since");
        let known: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?
            .filter(|v: &String| !v.is_empty());
        let (value, change) = match (unavailable, known) {
            (true, None) => {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                (now.clone(), Availability::Went { since: now })
            }
            (false, Some(since)) => (String::new(), Availability::Back { since }),
            _ => return Ok(None),
        };
        tx.execute(
            "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Some(change))
    }
}

/// A change of a side's availability, as [`State::note_unavailable`] saw
/// it first (times RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// The side became unavailable now.
    Went { since: String },
    /// The side is back after being unavailable since `since`.
    Back { since: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test DB in a fresh temp folder (kept alive by the returned guard).
    pub(super) fn temp_state() -> (tempfile::TempDir, State) {
        let d = tempfile::tempdir().unwrap();
        let s = State::open_or_create(&d.path().join("s.db")).unwrap();
        (d, s)
    }

    #[test]
    fn unavailable_since_keeps_the_first_time_until_back() {
        let (_d, s) = temp_state();
        assert_eq!(s.unavailable_since(Side::Right).unwrap(), None);
        s.note_unavailable(Side::Right, true).unwrap();
        let t = s.unavailable_since(Side::Right).unwrap().unwrap();
        s.set_meta("right_unavailable_since", "then").unwrap();
        s.note_unavailable(Side::Right, true).unwrap();
        assert_eq!(
            s.unavailable_since(Side::Right).unwrap().as_deref(),
            Some("then")
        );
        assert!(!t.is_empty());
        assert_eq!(s.unavailable_since(Side::Left).unwrap(), None);
        s.note_unavailable(Side::Right, false).unwrap();
        assert_eq!(s.unavailable_since(Side::Right).unwrap(), None);
    }

    /// A side is written as its name and read back through the one parser;
    /// a stored name that is not a side is an error naming the DB, not a
    /// default side.
    #[test]
    fn a_stored_side_round_trips_and_an_unknown_one_is_an_error() {
        let (_d, s) = temp_state();
        for side in Side::BOTH {
            let back: Side = s.conn.query_row("SELECT ?1", [side], |r| r.get(0)).unwrap();
            assert_eq!(back, side);
        }
        let bad = s
            .conn
            .query_row("SELECT 'up'", [], |r| r.get::<_, Side>(0))
            .map_err(s.sql())
            .unwrap_err()
            .to_string();
        assert!(bad.contains("s.db") && bad.contains("`up`"), "{bad}");
    }

    #[test]
    fn garbage_file_is_reported_as_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s.db");
        std::fs::write(&f, vec![0x42u8; 8192]).unwrap();
        let e = State::open(&f).err().unwrap().to_string();
        assert!(
            e.contains("corrupt") && e.contains("s.db") && e.contains("twinsync init"),
            "{e}"
        );
    }

    /// An error that is not a corruption (here: the path is a folder, which
    /// SQLite reports as "unable to open") must not advise throwing the
    /// state away: it names the file and the OS error, and says to retry.
    #[test]
    fn unreadable_db_is_not_called_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s.db");
        std::fs::create_dir(&f).unwrap();
        for e in [State::open(&f), State::open_or_create(&f)] {
            let e = e.err().unwrap();
            assert!(matches!(e, StateError::Inaccessible { .. }), "{e:?}");
            let e = e.to_string();
            assert!(
                !e.contains("corrupt") && !e.contains("move the file aside") && !e.contains("init"),
                "{e}"
            );
            let os = std::fs::File::options()
                .read(true)
                .write(true)
                .open(&f)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("s.db") && e.contains(&os) && e.contains("retry"),
                "{e}"
            );
        }
        // Someone else's SQLite file: not ours, not corrupt either.
        std::fs::remove_dir(&f).unwrap();
        let c = Connection::open(&f).unwrap();
        c.execute_batch("CREATE TABLE t(x); PRAGMA user_version = 1;")
            .unwrap();
        drop(c);
        let e = State::open(&f).err().unwrap().to_string();
        assert!(
            e.contains("not twinsync's") && !e.contains("corrupt"),
            "{e}"
        );
    }
}
