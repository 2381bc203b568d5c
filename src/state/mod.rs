//! The state DB (SQLite, WAL): last synced snapshot per path and side,
//! the step journal, unresolved conflicts, trash records, failures, cycles
//! and the email outbox.
//!
//! Hot path: [`State::load_files`] reads every snapshot in one query;
//! [`State::commit`] writes a step's completion and all its state updates in
//! one transaction.
//!
//! Journal invariant (SPEC §8): a step is marked done in the *same*
//! transaction that records its effect on the snapshots. So after a crash
//! either both are recorded or neither; in the second case `apply` re-checks
//! the step's post-condition on disk before redoing it (see `apply`).

mod schema;

use crate::{CycleResult, Entry, Keep, Kind, PlanStatus, Rule, Side, StepStatus};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
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

/// Holds the run lock of a state DB: only one `apply` or `watch` may change
/// the roots of one state DB at a time. Released when dropped (or when the
/// process dies: it is an OS file lock, never a stale file).
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    /// Takes the lock next to the state DB (`<state_db>.lock`).
    ///
    /// # Errors
    /// A message saying another twinsync holds it.
    pub fn acquire(state_db: &Path) -> Result<Self, String> {
        let path = PathBuf::from(format!("{}.lock", state_db.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open lock file `{}`: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "another twinsync (watch, the service, or an apply) is already syncing with state DB `{}`; stop it first (lock: {})",
                state_db.display(),
                path.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(format!("cannot lock `{}`: {e}", path.display()))
            }
        }
    }
}

/// The last synced snapshot of one path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateRow {
    pub left: Option<Entry>,
    pub right: Option<Entry>,
}

impl StateRow {
    #[must_use]
    pub fn side(&self, s: Side) -> Option<&Entry> {
        match s {
            Side::Left => self.left.as_ref(),
            Side::Right => self.right.as_ref(),
        }
    }
}

/// Every snapshot, sorted by key: read in one query, searched by binary
/// search, walked in key order by the planner's merge.
#[derive(Debug, Clone, Default)]
pub struct StateMap {
    rows: Vec<(String, StateRow)>,
    /// No sync ever completed against this DB (SPEC §5 first run).
    first_run: bool,
}

impl StateMap {
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&StateRow> {
        self.rows
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.rows[i].1)
    }

    /// Every row strictly below folder key `dir`, in key order (one range:
    /// the keys below `a` run from `a/` up to `a0`).
    pub fn below<'s>(&'s self, dir: &str) -> impl Iterator<Item = (&'s str, &'s StateRow)> + 's {
        let (lo, hi) = (format!("{dir}/"), format!("{dir}0"));
        let start = self.rows.partition_point(|(k, _)| k.as_str() < lo.as_str());
        self.rows[start..]
            .iter()
            .take_while(move |(k, _)| k.as_str() < hi.as_str())
            .map(|(k, r)| (k.as_str(), r))
    }

    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// True on a first run: no snapshot in the DB and no sync ever
    /// completed with it (an emptied tree is not a first run).
    #[must_use]
    pub fn first_run(&self) -> bool {
        self.first_run
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Keys in ascending order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().map(|(k, _)| k.as_str())
    }
}

impl FromIterator<(String, StateRow)> for StateMap {
    fn from_iter<I: IntoIterator<Item = (String, StateRow)>>(iter: I) -> Self {
        let mut rows: Vec<_> = iter.into_iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows.dedup_by(|a, b| a.0 == b.0);
        let first_run = rows.is_empty();
        Self { rows, first_run }
    }
}

/// An unresolved conflict (option2), or one an admin settled with `resolve`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConflictRecord {
    pub key: String,
    pub path: String,
    pub rule: Rule,
    pub left: Option<Entry>,
    pub right: Option<Entry>,
    /// Set once `resolve` ran.
    pub keep: Option<Keep>,
    pub created_at: String,
}

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

/// A file in a side's trash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrashRecord {
    pub id: i64,
    pub side: Side,
    pub original_path: String,
    pub trash_path: String,
    pub size: u64,
    pub deleted_at: String,
    pub rule: String,
}

/// An item under a twinsync temp name on its way from `original` to `target`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Parked {
    pub side: Side,
    pub temp_path: String,
    pub original: String,
    pub target: String,
    pub since: String,
}

/// A path that failed, for retries with backoff and `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub key: String,
    pub path: String,
    pub op: String,
    pub error: String,
    pub first_at: String,
    pub last_at: String,
    pub count: i64,
    /// Unix seconds before which the path is not retried.
    pub retry_after: i64,
    /// An alert about it was queued already.
    pub alerted: bool,
}

/// A path the latest plan skipped on purpose (a name the other side cannot
/// hold, a case collision, a link): never synced until it is renamed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub side: Side,
    pub path: String,
    pub reason: String,
    /// When a plan first skipped it (RFC 3339, UTC).
    pub since: String,
}

/// Metrics of one plan/apply run, for logs and `status`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CycleRecord {
    pub started_at: String,
    pub files_scanned: u64,
    pub changes: u64,
    pub conflicts: u64,
    pub soft_deletes: u64,
    pub hard_deletes: u64,
    pub bytes_copied: u64,
    /// Files and folders moved (6.2.14/6.2.15): no bytes sent.
    #[serde(default)]
    pub moves: u64,
    pub failed: u64,
    pub skipped: u64,
    pub duration_ms: u64,
    pub result: CycleResult,
    /// Changes written to the left side (copies, deletes, renames… from the
    /// right); with `changes_to_right`, the report's "each way". Steps
    /// that touch both sides (conflicts) count in neither.
    #[serde(default)]
    pub changes_to_left: u64,
    #[serde(default)]
    pub changes_to_right: u64,
    /// Bytes copied to the left side.
    #[serde(default)]
    pub bytes_to_left: u64,
    #[serde(default)]
    pub bytes_to_right: u64,
}

/// How long per-cycle rows are kept; older ones are summed into
/// [`HourStats`] rows when a cycle is stored.
pub const CYCLE_DETAIL_SECS: i64 = 24 * 3600;
/// How long per-hour rollups are kept.
pub const CYCLE_HISTORY_SECS: i64 = 30 * 24 * 3600;
/// Per-cycle rows kept whatever their age (`status` shows the last ones).
const CYCLE_KEEP_LATEST: i64 = 10;
/// Hard caps, whatever the clock did: per-cycle rows and hour rows.
const CYCLE_MAX_ROWS: i64 = 20_000;
const HOUR_MAX_ROWS: i64 = 31 * 24;

/// The cycles of one hour, summed (maxima where a sum means nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HourStats {
    /// Unix seconds of the hour's start (UTC, a multiple of 3600).
    pub hour: i64,
    pub cycles: u64,
    pub files_scanned_max: u64,
    pub changes: u64,
    pub changes_to_left: u64,
    pub changes_to_right: u64,
    pub conflicts: u64,
    pub soft_deletes: u64,
    pub hard_deletes: u64,
    pub bytes_copied: u64,
    pub bytes_to_left: u64,
    pub bytes_to_right: u64,
    pub failed: u64,
    pub skipped: u64,
    pub duration_ms_sum: u64,
    pub duration_ms_max: u64,
}

impl HourStats {
    /// Adds one cycle.
    pub fn add(&mut self, c: &CycleRecord) {
        self.cycles += 1;
        self.files_scanned_max = self.files_scanned_max.max(c.files_scanned);
        self.changes += c.changes;
        self.changes_to_left += c.changes_to_left;
        self.changes_to_right += c.changes_to_right;
        self.conflicts += c.conflicts;
        self.soft_deletes += c.soft_deletes;
        self.hard_deletes += c.hard_deletes;
        self.bytes_copied += c.bytes_copied;
        self.bytes_to_left += c.bytes_to_left;
        self.bytes_to_right += c.bytes_to_right;
        self.failed += c.failed;
        self.skipped += c.skipped;
        self.duration_ms_sum += c.duration_ms;
        self.duration_ms_max = self.duration_ms_max.max(c.duration_ms);
    }

    /// Adds another summary of the same hour.
    pub fn merge(&mut self, o: &Self) {
        self.cycles += o.cycles;
        self.files_scanned_max = self.files_scanned_max.max(o.files_scanned_max);
        self.changes += o.changes;
        self.changes_to_left += o.changes_to_left;
        self.changes_to_right += o.changes_to_right;
        self.conflicts += o.conflicts;
        self.soft_deletes += o.soft_deletes;
        self.hard_deletes += o.hard_deletes;
        self.bytes_copied += o.bytes_copied;
        self.bytes_to_left += o.bytes_to_left;
        self.bytes_to_right += o.bytes_to_right;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.duration_ms_sum += o.duration_ms_sum;
        self.duration_ms_max = self.duration_ms_max.max(o.duration_ms_max);
    }
}

/// Stored cycles since some time: the per-cycle rows (with their start
/// time in Unix seconds, oldest first) and the hour rollups of older ones.
#[derive(Debug, Clone, Default)]
pub struct CycleHistory {
    pub cycles: Vec<(i64, CycleRecord)>,
    pub hours: Vec<HourStats>,
}

/// Unix seconds of an RFC 3339 time.
fn unix_s(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

const HOUR_COLS: &str = "hour, cycles, files_scanned_max, changes, changes_to_left, changes_to_right, conflicts, \
    soft_deletes, hard_deletes, bytes_copied, bytes_to_left, bytes_to_right, failed, skipped, duration_ms_sum, duration_ms_max";

#[allow(clippy::cast_possible_wrap)]
fn hour_params(h: &HourStats) -> [i64; 16] {
    [
        h.hour,
        h.cycles as i64,
        h.files_scanned_max as i64,
        h.changes as i64,
        h.changes_to_left as i64,
        h.changes_to_right as i64,
        h.conflicts as i64,
        h.soft_deletes as i64,
        h.hard_deletes as i64,
        h.bytes_copied as i64,
        h.bytes_to_left as i64,
        h.bytes_to_right as i64,
        h.failed as i64,
        h.skipped as i64,
        h.duration_ms_sum as i64,
        h.duration_ms_max as i64,
    ]
}

fn hour_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HourStats> {
    let n =
        |i: usize| -> rusqlite::Result<u64> { Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0)) };
    Ok(HourStats {
        hour: r.get(0)?,
        cycles: n(1)?,
        files_scanned_max: n(2)?,
        changes: n(3)?,
        changes_to_left: n(4)?,
        changes_to_right: n(5)?,
        conflicts: n(6)?,
        soft_deletes: n(7)?,
        hard_deletes: n(8)?,
        bytes_copied: n(9)?,
        bytes_to_left: n(10)?,
        bytes_to_right: n(11)?,
        failed: n(12)?,
        skipped: n(13)?,
        duration_ms_sum: n(14)?,
        duration_ms_max: n(15)?,
    })
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

/// See [`State::unhashed_pairs`].
const UNHASHED_SQL: &str = "SELECT key, l_path, l_kind, l_size, l_mtime, l_props, l_hash,
        r_path, r_kind, r_size, r_mtime, r_props, r_hash, l_id, r_id FROM files
    WHERE l_kind = 0 AND r_kind = 0 AND (l_hash IS NULL OR r_hash IS NULL)
      AND l_size = r_size AND l_size <= ?2 AND key > ?4 ORDER BY key LIMIT ?3";

const fn kind_code(k: Kind) -> i64 {
    match k {
        Kind::File => 0,
        Kind::Dir => 1,
    }
}

fn kind_of(c: i64) -> Kind {
    if c == 1 { Kind::Dir } else { Kind::File }
}

#[allow(clippy::cast_sign_loss)] // sizes are stored from u64
/// Reads one side of a `files` row into `slot`, reusing the strings of the
/// entry it held before (or of `spare`, where a NULL side parked it).
fn fill_entry(
    r: &rusqlite::Row<'_>,
    base: usize,
    id_col: usize,
    slot: &mut Option<Entry>,
    spare: &mut Option<Entry>,
) -> rusqlite::Result<()> {
    let Some(path) = r.get_ref(base)?.as_str_or_null()? else {
        if slot.is_some() {
            *spare = slot.take();
        }
        return Ok(());
    };
    let e = slot.get_or_insert_with(|| spare.take().unwrap_or_default());
    e.path.clear();
    e.path.push_str(path);
    e.kind = kind_of(r.get(base + 1)?);
    e.size = r.get::<_, i64>(base + 2)? as u64;
    e.mtime = r.get(base + 3)?;
    e.props = u32::try_from(r.get::<_, i64>(base + 4)?).unwrap_or(0);
    e.offline = false;
    match (r.get_ref(base + 5)?.as_str_or_null()?, &mut e.hash) {
        (Some(h), Some(buf)) => {
            buf.clear();
            buf.push_str(h);
        }
        (h, buf) => *buf = h.map(str::to_owned),
    }
    e.id = r
        .get_ref(id_col)?
        .as_str_or_null()?
        .and_then(crate::fs::FileId::parse);
    e.unchanged = false;
    Ok(())
}

#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
/// The snapshot of one side from a `files` row: six columns from `base`
/// (path, kind, size, mtime, props, hash), the file id at `id_col`.
fn row_entry(r: &rusqlite::Row<'_>, base: usize, id_col: usize) -> rusqlite::Result<Option<Entry>> {
    let path: Option<String> = r.get(base)?;
    let Some(path) = path else { return Ok(None) };
    let id: Option<String> = r.get(id_col)?;
    Ok(Some(Entry {
        path,
        kind: kind_of(r.get(base + 1)?),
        size: r.get::<_, i64>(base + 2)? as u64,
        mtime: r.get(base + 3)?,
        props: u32::try_from(r.get::<_, i64>(base + 4)?).unwrap_or(0),
        offline: false,
        hash: r.get(base + 5)?,
        id: id.as_deref().and_then(crate::fs::FileId::parse),
        unchanged: false,
    }))
}

const FAILURE_COLS: &str = "key, path, op, error, first_at, last_at, count, retry_after, alerted";

fn failure_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Failure> {
    Ok(Failure {
        key: r.get(0)?,
        path: r.get(1)?,
        op: r.get(2)?,
        error: r.get(3)?,
        first_at: r.get(4)?,
        last_at: r.get(5)?,
        count: r.get(6)?,
        retry_after: r.get(7)?,
        alerted: r.get::<_, i64>(8)? != 0,
    })
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
        let conn = Connection::open(file).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
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

    /// Pairs recorded in sync whose content hash is not known (adopted on
    /// the first run by size and mtime), at most `limit` with keys after
    /// `after`, files only, both sides of the same size and at most
    /// `max_size` bytes.
    ///
    /// # Errors
    /// SQL errors.
    pub fn unhashed_pairs(
        &self,
        after: &str,
        limit: usize,
        max_size: u64,
    ) -> Result<Vec<(String, StateRow)>, StateError> {
        // The terms of the partial index `files_unhashed` word for word
        // (kind 0 is a file), so SQLite reads only the rows left to hash.
        const _: () = assert!(matches!(kind_code(Kind::File), 0));
        let mut stmt = self.conn.prepare_cached(UNHASHED_SQL).map_err(self.sql())?;
        let rows = stmt
            .query_map(
                params![
                    0,
                    i64::try_from(max_size).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    after
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        StateRow {
                            left: row_entry(r, 1, 13)?,
                            right: row_entry(r, 7, 14)?,
                        },
                    ))
                },
            )
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Stores the content hash of an in-sync pair, only if its snapshot is
    /// still the one that was hashed (left size and mtime).
    ///
    /// # Errors
    /// SQL errors.
    pub fn store_pair_hash(
        &self,
        key: &str,
        size: u64,
        mtime: i64,
        hash: &str,
    ) -> Result<bool, StateError> {
        self.conn
            .execute(
                "UPDATE files SET l_hash = COALESCE(l_hash, ?4), r_hash = COALESCE(r_hash, ?4)
                 WHERE key = ?1 AND l_size = ?2 AND l_mtime = ?3 AND r_size = ?2",
                params![key, i64::try_from(size).unwrap_or(i64::MAX), mtime, hash],
            )
            .map(|n| n > 0)
            .map_err(self.sql())
    }

    /// Brings identity keys written by an older build up to the current
    /// scheme (`key_of`: NFC, NTFS simple-uppercase folding), once per DB:
    /// without this an upgrade would see non-ASCII paths as deleted and
    /// created again. Only keys that change are rewritten (in one
    /// transaction); a key whose new form is already taken is left as it is
    /// (the next plan sorts it out as gone plus new). Returns how many moved.
    ///
    /// # Errors
    /// SQL errors.
    pub fn rekey(&self, key_of: impl Fn(&str) -> String) -> Result<usize, StateError> {
        const SCHEME: &str = "nfc-ntfs-upcase";
        if self.meta("key_scheme")?.as_deref() == Some(SCHEME) {
            return Ok(0);
        }
        let sql = sql_err(&self.file);
        let tx = self.conn.unchecked_transaction().map_err(sql)?;
        let mut moved = 0;
        {
            let mut stmt = tx
                .prepare("SELECT key, COALESCE(l_path, r_path) FROM files")
                .map_err(sql)?;
            let rows: Vec<(String, Option<String>)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            for (key, path) in rows {
                let Some(path) = path.filter(|p| !p.is_ascii()) else {
                    continue;
                };
                let new = key_of(&path);
                if new != key {
                    for table in ["files", "conflicts"] {
                        moved += tx
                            .execute(
                                &format!("UPDATE OR IGNORE {table} SET key = ?2 WHERE key = ?1"),
                                params![key, new],
                            )
                            .map_err(sql)?;
                    }
                }
            }
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES('key_scheme', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [SCHEME],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(moved)
    }

    /// Notes, before it happens, that `original` on `side` is about to be
    /// parked under the temp name `temp_path` on its way to `target` (a
    /// case-only rename through an intermediate name). Until [`Self::unpark`]
    /// the scan holds both names and recovery puts the item back.
    ///
    /// # Errors
    /// SQL errors.
    pub fn park(
        &self,
        side: Side,
        temp_path: &str,
        original: &str,
        target: &str,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO parked(side, temp_path, original, target, since) VALUES(?1, ?2, ?3, ?4, ?5)",
                params![side.as_str(), temp_path, original, target, chrono::Utc::now().to_rfc3339()],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Forgets a parked item (it is back under a real name).
    ///
    /// # Errors
    /// SQL errors.
    pub fn unpark(&self, side: Side, temp_path: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM parked WHERE side = ?1 AND temp_path = ?2",
                params![side.as_str(), temp_path],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Every parked item.
    ///
    /// # Errors
    /// SQL errors.
    pub fn parked(&self) -> Result<Vec<Parked>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT side, temp_path, original, target, since FROM parked")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                let side: String = r.get(0)?;
                Ok(Parked {
                    side: if side == "right" {
                        Side::Right
                    } else {
                        Side::Left
                    },
                    temp_path: r.get(1)?,
                    original: r.get(2)?,
                    target: r.get(3)?,
                    since: r.get(4)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
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

    /// Number of paths with a snapshot.
    ///
    /// # Errors
    /// SQL errors.
    pub fn file_count(&self) -> Result<u64, StateError> {
        self.conn
            .query_row("SELECT count(*) FROM files", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.sql())
    }

    /// Every snapshot, in one query.
    ///
    /// # Errors
    /// SQL errors.
    pub fn load_files(&self) -> Result<StateMap, StateError> {
        self.load_files_where(|_, _| true)
    }

    /// Streams every snapshot in key order, keeping only the rows `keep`
    /// accepts: the planner keeps the few paths that changed and never holds
    /// the snapshots of the 90,000 that did not.
    ///
    /// # Errors
    /// SQL errors.
    pub fn load_files_where(
        &self,
        keep: impl FnMut(&str, &StateRow) -> bool,
    ) -> Result<StateMap, StateError> {
        self.load_files_within(None, keep)
    }

    /// Like [`Self::load_files_where`], but only the rows at or below the
    /// given keys (`None`: every row; `""` is the root): a watch cycle whose
    /// events named a few paths reads those, not the whole table. The keys
    /// must not lie within one another.
    ///
    /// # Errors
    /// SQL errors.
    pub fn load_files_within(
        &self,
        within: Option<&[String]>,
        mut keep: impl FnMut(&str, &StateRow) -> bool,
    ) -> Result<StateMap, StateError> {
        const COLS: &str = "SELECT key, l_path, l_kind, l_size, l_mtime, l_props, l_hash,
                        r_path, r_kind, r_size, r_mtime, r_props, r_hash, l_id, r_id FROM files";
        let all = [String::new()];
        let mut roots: Vec<&str> = within.unwrap_or(&all).iter().map(String::as_str).collect();
        roots.sort_unstable();
        let mut out = Vec::new();
        let mut total = 0;
        // One row buffer, refilled in place: the 90,000 rows a quiet cycle
        // reads and drops cost no allocation each (only kept rows are cloned).
        let mut row = StateRow::default();
        let mut spare = (None, None);
        for root in roots {
            let mut stmt;
            let mut rows = if root.is_empty() {
                stmt = self
                    .conn
                    .prepare_cached(&format!("{COLS} ORDER BY key"))
                    .map_err(self.sql())?;
                stmt.query([]).map_err(self.sql())?
            } else {
                // `k/` up to `k0`: exactly the keys below `k` ('0' follows '/').
                stmt = self
                    .conn
                    .prepare_cached(&format!(
                        "{COLS} WHERE key = ?1 OR (key >= ?1 || '/' AND key < ?1 || '0') ORDER BY key"
                    ))
                    .map_err(self.sql())?;
                stmt.query([root]).map_err(self.sql())?
            };
            while let Some(r) = rows.next().map_err(self.sql())? {
                total += 1;
                let key = r
                    .get_ref(0)
                    .and_then(|v| v.as_str().map_err(Into::into))
                    .map_err(self.sql())?;
                fill_entry(r, 1, 13, &mut row.left, &mut spare.0).map_err(self.sql())?;
                fill_entry(r, 7, 14, &mut row.right, &mut spare.1).map_err(self.sql())?;
                if keep(key, &row) {
                    out.push((key.to_owned(), row.clone()));
                }
            }
        }
        // SQLite's BINARY order is byte order, the same as `str`'s: already sorted.
        if !out.is_sorted_by(|a, b| a.0 < b.0) {
            out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        let empty = if within.is_none() {
            total == 0
        } else {
            !self
                .conn
                .query_row("SELECT EXISTS(SELECT 1 FROM files)", [], |r| {
                    r.get::<_, bool>(0)
                })
                .map_err(self.sql())?
        };
        let first_run = empty && self.meta("synced_once")?.is_none();
        Ok(StateMap {
            rows: out,
            first_run,
        })
    }

    /// Unresolved conflicts by key.
    ///
    /// # Errors
    /// SQL errors.
    pub fn conflicts(&self) -> Result<HashMap<String, ConflictRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, data FROM conflicts")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.sql())?;
        let mut out = HashMap::new();
        for row in rows {
            let (k, data) = row.map_err(self.sql())?;
            if let Ok(c) = serde_json::from_str::<ConflictRecord>(&data) {
                out.insert(k, c);
            }
        }
        Ok(out)
    }

    /// Sets the `keep` choice of an unresolved conflict.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_conflict_keep(&self, mut c: ConflictRecord, keep: Keep) -> Result<(), StateError> {
        c.keep = Some(keep);
        let data = serde_json::to_string(&c).unwrap_or_default();
        self.conn
            .execute(
                "UPDATE conflicts SET data = ?2 WHERE key = ?1",
                params![c.key, data],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

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
        self.conn
            .query_row(
                "SELECT plan_json FROM plans WHERE plan_id = ?1",
                [plan_id],
                |r| r.get(0),
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
        self.conn
            .execute(
                "UPDATE plans SET plan_json = ?2 WHERE plan_id = ?1",
                params![plan_id, json],
            )
            .map(|_| ())
            .map_err(self.sql())
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
            let mut set_l = tx
                .prepare_cached(
                    "INSERT INTO files(key, l_path, l_kind, l_size, l_mtime, l_props, l_hash, l_id) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)
                     ON CONFLICT(key) DO UPDATE SET l_path=excluded.l_path, l_kind=excluded.l_kind, l_size=excluded.l_size,
                     l_mtime=excluded.l_mtime, l_props=excluded.l_props, l_hash=excluded.l_hash, l_id=excluded.l_id",
                )
                .map_err(sql)?;
            let mut set_r = tx
                .prepare_cached(
                    "INSERT INTO files(key, r_path, r_kind, r_size, r_mtime, r_props, r_hash, r_id) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)
                     ON CONFLICT(key) DO UPDATE SET r_path=excluded.r_path, r_kind=excluded.r_kind, r_size=excluded.r_size,
                     r_mtime=excluded.r_mtime, r_props=excluded.r_props, r_hash=excluded.r_hash, r_id=excluded.r_id",
                )
                .map_err(sql)?;
            let mut prune = tx
                .prepare_cached(
                    "DELETE FROM files WHERE key = ?1 AND l_path IS NULL AND r_path IS NULL",
                )
                .map_err(sql)?;
            let mut set_both = tx
                .prepare_cached(
                    "INSERT INTO files(key, l_path, l_kind, l_size, l_mtime, l_props, l_hash, l_id,
                                       r_path, r_kind, r_size, r_mtime, r_props, r_hash, r_id)
                     VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)
                     ON CONFLICT(key) DO UPDATE SET l_path=excluded.l_path, l_kind=excluded.l_kind, l_size=excluded.l_size,
                     l_mtime=excluded.l_mtime, l_props=excluded.l_props, l_hash=excluded.l_hash, l_id=excluded.l_id,
                     r_path=excluded.r_path, r_kind=excluded.r_kind, r_size=excluded.r_size,
                     r_mtime=excluded.r_mtime, r_props=excluded.r_props, r_hash=excluded.r_hash, r_id=excluded.r_id",
                )
                .map_err(sql)?;
            // Most commits clear conflicts that were never there (every
            // recorded pair does): skip those deletes when there are none.
            let mut any_conflict: bool = tx
                .query_row("SELECT EXISTS(SELECT 1 FROM conflicts)", [], |r| r.get(0))
                .map_err(sql)?;
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
                    #[allow(clippy::cast_possible_wrap)]
                    set_both
                        .execute(params![
                            key,
                            l.path,
                            kind_code(l.kind),
                            l.size as i64,
                            l.mtime,
                            i64::from(l.props),
                            l.hash,
                            l.id.map(crate::fs::FileId::to_text),
                            r.path,
                            kind_code(r.kind),
                            r.size as i64,
                            r.mtime,
                            i64::from(r.props),
                            r.hash,
                            r.id.map(crate::fs::FileId::to_text)
                        ])
                        .map_err(sql)?;
                    continue;
                }
                match u {
                    Update::Side { key, side, entry } => {
                        let stmt = match side {
                            Side::Left => &mut set_l,
                            Side::Right => &mut set_r,
                        };
                        #[allow(clippy::cast_possible_wrap)]
                        match entry {
                            Some(e) => stmt.execute(params![
                                key,
                                e.path,
                                kind_code(e.kind),
                                e.size as i64,
                                e.mtime,
                                i64::from(e.props),
                                e.hash,
                                e.id.map(crate::fs::FileId::to_text)
                            ]),
                            None => stmt.execute(params![
                                key,
                                None::<String>,
                                None::<i64>,
                                None::<i64>,
                                None::<i64>,
                                None::<i64>,
                                None::<String>,
                                None::<String>
                            ]),
                        }
                        .map_err(sql)?;
                        // A row left with neither side is dropped.
                        if entry.is_none() {
                            prune.execute([key]).map_err(sql)?;
                        }
                    }
                    Update::Forget { key } => {
                        tx.prepare_cached("DELETE FROM files WHERE key = ?1")
                            .and_then(|mut st| st.execute([key]))
                            .map_err(sql)?;
                    }
                    Update::Conflict(c) => {
                        any_conflict = true;
                        tx.execute(
                            "INSERT INTO conflicts(key, data) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET data = excluded.data",
                            params![c.key, serde_json::to_string(c).unwrap_or_default()],
                        )
                        .map_err(sql)?;
                    }
                    Update::ClearConflict { .. } if !any_conflict => {}
                    Update::ClearConflict { key } => {
                        tx.prepare_cached("DELETE FROM conflicts WHERE key = ?1")
                            .and_then(|mut st| st.execute([key]))
                            .map_err(sql)?;
                    }
                    #[allow(clippy::cast_possible_wrap)]
                    Update::Trash(t) => {
                        tx.execute(
                            "INSERT INTO trash(side, original_path, trash_path, size, deleted_at, rule)
                             SELECT ?1,?2,?3,?4,?5,?6
                             WHERE NOT EXISTS (SELECT 1 FROM trash WHERE side = ?1 AND trash_path = ?3)",
                            params![t.side.as_str(), t.original_path, t.trash_path, t.size as i64, t.deleted_at, t.rule],
                        )
                        .map_err(sql)?;
                    }
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

    /// Trash records of a side (or both), newest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn trash_records(&self) -> Result<Vec<TrashRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, side, original_path, trash_path, size, deleted_at, rule FROM trash ORDER BY deleted_at DESC, id DESC",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TrashRecord {
                    id: r.get(0)?,
                    side: if r.get::<_, String>(1)? == "left" {
                        Side::Left
                    } else {
                        Side::Right
                    },
                    original_path: r.get(2)?,
                    trash_path: r.get(3)?,
                    size: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    deleted_at: r.get(5)?,
                    rule: r.get(6)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Forgets a trash record (restored or purged).
    ///
    /// # Errors
    /// SQL errors.
    pub fn remove_trash_record(&self, id: i64) -> Result<(), StateError> {
        self.conn
            .execute("DELETE FROM trash WHERE id = ?1", [id])
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Records a failure of a path (count, first/last time, backoff).
    ///
    /// # Errors
    /// SQL errors.
    pub fn record_failure(
        &self,
        key: &str,
        path: &str,
        op: &str,
        error: &str,
        now_s: i64,
    ) -> Result<Failure, StateError> {
        let now = chrono::Utc::now().to_rfc3339();
        self.conn
            .execute(
                "INSERT INTO failures(key, path, op, error, first_at, last_at, count, retry_after) VALUES(?1,?2,?3,?4,?5,?5,1,?6)
                 ON CONFLICT(key) DO UPDATE SET path=excluded.path, op=excluded.op, error=excluded.error, last_at=excluded.last_at,
                 count=failures.count+1, retry_after=?7 + min(600, 10 * (1 << min(failures.count, 6)))",
                params![key, path, op, error, now, now_s + 10, now_s],
            )
            .map_err(self.sql())?;
        self.conn
            .query_row(
                &format!("SELECT {FAILURE_COLS} FROM failures WHERE key = ?1"),
                [key],
                failure_row,
            )
            .map_err(self.sql())
    }

    /// Notes that a failing path was alerted (once per failure streak).
    ///
    /// # Errors
    /// SQL errors.
    pub fn mark_failure_alerted(&self, key: &str) -> Result<(), StateError> {
        self.conn
            .execute("UPDATE failures SET alerted = 1 WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Clears failure records of keys that succeeded.
    ///
    /// # Errors
    /// SQL errors.
    pub fn clear_failures(&mut self, keys: &[String]) -> Result<(), StateError> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = sql_err(&self.file);
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut st = tx
                .prepare_cached("DELETE FROM failures WHERE key = ?1")
                .map_err(sql)?;
            for k in keys {
                st.execute([k]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Every failing path.
    ///
    /// # Errors
    /// SQL errors.
    pub fn failures(&self) -> Result<Vec<Failure>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {FAILURE_COLS} FROM failures ORDER BY first_at"
            ))
            .map_err(self.sql())?;
        let rows = stmt.query_map([], failure_row).map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Replaces the skipped paths with those of the latest plan (`now`:
    /// side, path, reason), keeping `since` of the ones skipped before. One
    /// transaction; nothing is written when the list did not change.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_skipped(&self, now: &[(Side, String, String)]) -> Result<(), StateError> {
        let old = self.skipped()?;
        let same = old.len() == now.len()
            && old.iter().all(|o| {
                now.iter()
                    .any(|(s, p, r)| *s == o.side && *p == o.path && *r == o.reason)
            });
        if same {
            return Ok(());
        }
        let sql = sql_err(&self.file);
        // `&self` (callers share the State): no other statement runs inside it.
        let tx = self.conn.unchecked_transaction().map_err(sql)?;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tx.execute("DELETE FROM skipped", []).map_err(sql)?;
        for (side, path, reason) in now {
            let since = old
                .iter()
                .find(|o| o.side == *side && o.path == *path)
                .map_or(at.as_str(), |o| o.since.as_str());
            tx.execute(
                "INSERT OR REPLACE INTO skipped(side, path, reason, since) VALUES(?1, ?2, ?3, ?4)",
                params![side.as_str(), path, reason, since],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// The paths the latest plan skipped, by side and path.
    ///
    /// # Errors
    /// SQL errors.
    pub fn skipped(&self) -> Result<Vec<Skipped>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT side, path, reason, since FROM skipped ORDER BY side, path")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Skipped {
                    side: if r.get::<_, String>(0)? == "left" {
                        Side::Left
                    } else {
                        Side::Right
                    },
                    path: r.get(1)?,
                    reason: r.get(2)?,
                    since: r.get(3)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
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
    /// available again (`false`).
    ///
    /// # Errors
    /// SQL errors.
    pub fn note_unavailable(&self, side: Side, unavailable: bool) -> Result<(), StateError> {
        let known = self.unavailable_since(side)?;
        match (unavailable, known) {
            (true, None) => self.set_meta(
                &format!("{side}_unavailable_since"),
                &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            (false, Some(_)) => self.set_meta(&format!("{side}_unavailable_since"), ""),
            _ => Ok(()),
        }
    }

    /// Appends a cycle record, then bounds the history: per-cycle rows
    /// older than [`CYCLE_DETAIL_SECS`] (but always the latest few) are
    /// summed into per-hour rows, and hour rows older than
    /// [`CYCLE_HISTORY_SECS`] are dropped. One transaction.
    ///
    /// # Errors
    /// SQL errors (nothing is recorded then).
    pub fn record_cycle(&self, c: &CycleRecord) -> Result<(), StateError> {
        self.record_cycle_at(c, crate::now_ns().div_euclid(1_000_000_000))
    }

    /// [`Self::record_cycle`] with the present time given (tests).
    ///
    /// # Errors
    /// SQL errors (nothing is recorded then).
    pub fn record_cycle_at(&self, c: &CycleRecord, now_s: i64) -> Result<(), StateError> {
        let sql = sql_err(&self.file);
        // `&self` (callers share the State): no other statement runs inside it.
        let tx = self.conn.unchecked_transaction().map_err(sql)?;
        tx.execute(
            "INSERT INTO cycles(data, at) VALUES(?1, ?2)",
            params![
                serde_json::to_string(c).unwrap_or_default(),
                unix_s(&c.started_at).unwrap_or(now_s)
            ],
        )
        .map_err(sql)?;
        // Rows to roll up: old ones, except the latest few; and anything past the cap.
        let old: Vec<(i64, i64, String)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, at, data FROM cycles
                     WHERE id <= (SELECT max(id) FROM cycles) - ?2
                        OR (at < ?1 AND id <= (SELECT max(id) FROM cycles) - ?3)",
                )
                .map_err(sql)?;
            stmt.query_map(
                params![now_s - CYCLE_DETAIL_SECS, CYCLE_MAX_ROWS, CYCLE_KEEP_LATEST],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                        r.get(2)?,
                    ))
                },
            )
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?
        };
        if !old.is_empty() {
            let mut hours: HashMap<i64, HourStats> = HashMap::new();
            for (_, at, data) in &old {
                let hour = at - at.rem_euclid(3600);
                let h = hours.entry(hour).or_insert_with(|| HourStats {
                    hour,
                    ..HourStats::default()
                });
                if let Ok(c) = serde_json::from_str::<CycleRecord>(data) {
                    h.add(&c);
                }
            }
            let mut up = tx
                .prepare_cached(&format!(
                    "INSERT INTO cycle_hours({HOUR_COLS}) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)
                     ON CONFLICT(hour) DO UPDATE SET cycles = cycles + excluded.cycles,
                       files_scanned_max = max(files_scanned_max, excluded.files_scanned_max),
                       changes = changes + excluded.changes,
                       changes_to_left = changes_to_left + excluded.changes_to_left,
                       changes_to_right = changes_to_right + excluded.changes_to_right,
                       conflicts = conflicts + excluded.conflicts,
                       soft_deletes = soft_deletes + excluded.soft_deletes,
                       hard_deletes = hard_deletes + excluded.hard_deletes,
                       bytes_copied = bytes_copied + excluded.bytes_copied,
                       bytes_to_left = bytes_to_left + excluded.bytes_to_left,
                       bytes_to_right = bytes_to_right + excluded.bytes_to_right,
                       failed = failed + excluded.failed,
                       skipped = skipped + excluded.skipped,
                       duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum,
                       duration_ms_max = max(duration_ms_max, excluded.duration_ms_max)"
                ))
                .map_err(sql)?;
            for h in hours.values() {
                up.execute(rusqlite::params_from_iter(hour_params(h)))
                    .map_err(sql)?;
            }
            let mut del = tx
                .prepare_cached("DELETE FROM cycles WHERE id = ?1")
                .map_err(sql)?;
            for (id, ..) in &old {
                del.execute([id]).map_err(sql)?;
            }
        }
        tx.execute(
            "DELETE FROM cycle_hours WHERE hour < ?1
                OR hour NOT IN (SELECT hour FROM cycle_hours ORDER BY hour DESC LIMIT ?2)",
            params![now_s - CYCLE_HISTORY_SECS, HOUR_MAX_ROWS],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Stored cycles that started at or after `since_s` (Unix seconds):
    /// per-cycle rows and the hour rollups of older ones.
    ///
    /// # Errors
    /// SQL errors.
    pub fn cycle_history(&self, since_s: i64) -> Result<CycleHistory, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, data FROM cycles WHERE at >= ?1 ORDER BY at, id")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([since_s], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.sql())?;
        let mut cycles = Vec::new();
        for r in rows {
            let (at, data) = r.map_err(self.sql())?;
            if let Ok(c) = serde_json::from_str(&data) {
                cycles.push((at, c));
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {HOUR_COLS} FROM cycle_hours WHERE hour >= ?1 ORDER BY hour"
            ))
            .map_err(self.sql())?;
        let hours = stmt
            .query_map([since_s - since_s.rem_euclid(3600)], hour_row)
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        Ok(CycleHistory { cycles, hours })
    }

    /// The last `n` cycles, newest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn recent_cycles(&self, n: u32) -> Result<Vec<CycleRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM cycles ORDER BY id DESC LIMIT ?1")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([n], |r| r.get::<_, String>(0))
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(c) = serde_json::from_str(&r.map_err(self.sql())?) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The raw connection (for the alert outbox).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The skipped paths are those of the latest plan; one skipped before
    /// keeps its first time.
    #[test]
    fn skipped_paths_are_replaced_keeping_since() {
        let d = tempfile::tempdir().unwrap();
        let s = State::open_or_create(&d.path().join("s.db")).unwrap();
        let item = |side, p: &str| (side, p.to_owned(), format!("`{p}` is reserved"));
        s.set_skipped(&[item(Side::Left, "CON.txt"), item(Side::Right, "a:b")])
            .unwrap();
        assert_eq!(s.skipped().unwrap().len(), 2);
        s.conn()
            .execute("UPDATE skipped SET since = 'then'", [])
            .unwrap();
        s.set_skipped(&[item(Side::Left, "CON.txt"), item(Side::Left, "NUL")])
            .unwrap();
        let now = s.skipped().unwrap();
        let paths: Vec<(&str, &str)> = now
            .iter()
            .map(|k| (k.path.as_str(), k.since.as_str()))
            .collect();
        assert_eq!(paths.len(), 2);
        assert!(paths.contains(&("CON.txt", "then")), "{paths:?}");
        assert!(paths.iter().any(|(p, t)| *p == "NUL" && *t != "then"));
        s.set_skipped(&[]).unwrap();
        assert!(s.skipped().unwrap().is_empty());
    }

    #[test]
    fn unavailable_since_keeps_the_first_time_until_back() {
        let d = tempfile::tempdir().unwrap();
        let s = State::open_or_create(&d.path().join("s.db")).unwrap();
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

    fn e(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File,
            size,
            mtime: 5,
            props: 0o644,
            offline: false,
            hash: Some("h".into()),
            id: crate::fs::FileId::new(7, size + 1),
            unchanged: false,
        }
    }

    /// Upgrade: keys an older build folded with `to_lowercase` move to the
    /// current scheme once, so those paths are not seen as deleted + new.
    /// Asking for pairs left to hash reads only those (the partial index),
    /// not every row: a quiet `watch` cycle asks every time.
    #[test]
    fn unhashed_pairs_are_found_through_their_own_index() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open_or_create(&dir.path().join("s.db")).unwrap();
        let plan: Vec<String> = s
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {UNHASHED_SQL}"))
            .unwrap()
            .query_map(params![0, 1, 10, ""], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("files_unhashed")),
            "{plan:?}"
        );
    }

    #[test]
    fn rekey_moves_old_keys_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open_or_create(&dir.path().join("s.db")).unwrap();
        let path = "ΣΊΣΥΦΟΣ/Kελβιν.txt";
        let old_key = path.to_lowercase();
        let mut entry = e(path, 3);
        entry.path = path.into();
        s.commit(
            "p",
            &[],
            &[
                Update::Side {
                    key: old_key.clone(),
                    side: Side::Left,
                    entry: Some(entry.clone()),
                },
                Update::Side {
                    key: old_key.clone(),
                    side: Side::Right,
                    entry: Some(entry),
                },
                Update::Side {
                    key: "plain.txt".into(),
                    side: Side::Left,
                    entry: Some(e("plain.txt", 1)),
                },
            ],
        )
        .unwrap();
        let new_key = crate::paths::key_of(path, false);
        assert_ne!(new_key, old_key);
        assert_eq!(s.rekey(|p| crate::paths::key_of(p, false)).unwrap(), 1);
        let rows = s.load_files_where(|_, _| true).unwrap();
        assert!(
            rows.get(&new_key)
                .is_some_and(|r| r.left.is_some() && r.right.is_some())
        );
        assert!(rows.get(&old_key).is_none());
        assert!(rows.get("plain.txt").is_some());
        assert_eq!(
            s.rekey(|p| crate::paths::key_of(p, false)).unwrap(),
            0,
            "once"
        );
    }

    #[test]
    fn commit_and_load_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let mut s = State::open_or_create(&d.path().join("s.db")).unwrap();
        s.commit(
            "p",
            &[(1, StepStatus::Done, None)],
            &[
                Update::Side {
                    key: "a".into(),
                    side: Side::Left,
                    entry: Some(e("A", 3)),
                },
                Update::Side {
                    key: "a".into(),
                    side: Side::Right,
                    entry: Some(e("a", 3)),
                },
                Update::Side {
                    key: "b".into(),
                    side: Side::Left,
                    entry: Some(e("b", 1)),
                },
            ],
        )
        .unwrap();
        let f = s.load_files().unwrap();
        assert_eq!(f.get("a").unwrap().left.as_ref().unwrap().path, "A");
        assert_eq!(f.get("a").unwrap().right.as_ref().unwrap().path, "a");
        assert!(f.get("b").unwrap().right.is_none());
        s.commit(
            "p",
            &[(2, StepStatus::Done, None)],
            &[Update::Side {
                key: "b".into(),
                side: Side::Left,
                entry: None,
            }],
        )
        .unwrap();
        assert!(!s.load_files().unwrap().contains_key("b"));
        assert_eq!(s.step_status("p").unwrap().len(), 2);
    }

    /// The row buffer `load_files_where` refills in place hands out exact
    /// rows: sides missing, hashes and ids present or not, in any mix,
    /// whether written a side at a time or as a pair.
    #[test]
    fn filtered_load_returns_exact_rows_in_any_mix() {
        let d = tempfile::tempdir().unwrap();
        let mut s = State::open_or_create(&d.path().join("s.db")).unwrap();
        let mut want: Vec<(String, StateRow)> = Vec::new();
        let mut updates = Vec::new();
        for i in 0..40u64 {
            let key = format!("k{i:02}");
            let mut l = e(&format!("dir/L{i}"), i);
            let mut r = e(&format!("DIR/r{i}"), i + 100);
            if i % 3 == 0 {
                l.hash = None;
            }
            if i % 4 == 1 {
                r.id = None;
            }
            let row = StateRow {
                left: (i % 5 != 2).then_some(l),
                right: (i % 7 != 3).then_some(r),
            };
            if row.left.is_none() && row.right.is_none() {
                continue;
            }
            for (side, entry) in [(Side::Left, &row.left), (Side::Right, &row.right)] {
                if entry.is_some() {
                    updates.push(Update::Side {
                        key: key.clone(),
                        side,
                        entry: entry.clone(),
                    });
                }
            }
            want.push((key, row));
        }
        s.commit("p", &[], &updates).unwrap();
        let all = s.load_files_where(|_, _| true).unwrap();
        let got: Vec<(String, StateRow)> = want
            .iter()
            .map(|(k, _)| (k.clone(), all.get(k).unwrap().clone()))
            .collect();
        assert_eq!(got, want);
        // Every other row kept: still exact (the buffer was refilled between).
        let mut n = 0;
        let some = s
            .load_files_where(|_, _| {
                n += 1;
                n % 2 == 0
            })
            .unwrap();
        for (i, (k, row)) in want.iter().enumerate() {
            assert_eq!(some.get(k), (i % 2 == 1).then_some(row), "{k}");
        }
    }

    /// Six weeks of one cycle an hour: per-cycle rows only for the last day
    /// (and never fewer than the latest few), hour sums for 30 days, and
    /// nothing counted twice or lost inside that window.
    #[test]
    fn cycle_history_is_bounded_and_keeps_its_sums() {
        let d = tempfile::tempdir().unwrap();
        let s = State::open_or_create(&d.path().join("s.db")).unwrap();
        let now: i64 = 1_800_000_000 + 1800; // half past a whole hour
        let at = |k: i64| chrono::DateTime::from_timestamp(now - k * 3600, 0).unwrap();
        for k in (0..42 * 24).rev() {
            let c = CycleRecord {
                started_at: at(k).to_rfc3339(),
                changes: 2,
                changes_to_left: 1,
                changes_to_right: 1,
                bytes_to_right: 10,
                duration_ms: u64::try_from(k).unwrap(),
                result: crate::CycleResult::Ok,
                ..CycleRecord::default()
            };
            s.record_cycle_at(&c, now).unwrap();
        }
        let count = |t: &str| -> i64 {
            s.conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            count("cycles"),
            25,
            "the last 24 h and the cycle exactly a day old"
        );
        assert!(
            count("cycle_hours") <= 30 * 24 + 1,
            "{}",
            count("cycle_hours")
        );
        let h = s.cycle_history(now - 7 * 86_400).unwrap();
        let per_cycle: u64 = h.cycles.iter().map(|(_, c)| c.changes_to_left).sum();
        let rolled: u64 = h.hours.iter().map(|x| x.changes_to_left).sum();
        assert_eq!(per_cycle + rolled, 7 * 24 + 1);
        assert!(
            h.hours
                .iter()
                .all(|x| x.cycles == 1 && x.bytes_to_right == 10)
        );
        // Maxima stay maxima: each hour held one cycle of k ms, k hours ago.
        let oldest = h.hours.first().unwrap();
        assert_eq!(oldest.hour, now - 1800 - 7 * 86_400);
        assert_eq!(oldest.duration_ms_max, 7 * 24);
        // A clock far in the future still keeps the latest few per-cycle rows.
        s.record_cycle_at(&CycleRecord::default(), now + 365 * 86_400)
            .unwrap();
        assert_eq!(count("cycles"), 10);
        assert_eq!(s.recent_cycles(10).unwrap().len(), 10);
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
