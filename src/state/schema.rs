//! Schema and migrations of the state DB, versioned with `PRAGMA user_version`.
//!
//! Migrations only ever append: version N's SQL is `MIGRATIONS[N-1]`. Each
//! runs in its own transaction together with the version bump.

use super::StateError;
use rusqlite::Connection;
use std::path::Path;

const MIGRATIONS: &[&str] = &[
    // 1: snapshots, journal, conflicts, trash, failures, cycles.
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE files(
        key TEXT PRIMARY KEY,
        l_path TEXT, l_kind INTEGER, l_size INTEGER, l_mtime INTEGER, l_props INTEGER, l_hash TEXT,
        r_path TEXT, r_kind INTEGER, r_size INTEGER, r_mtime INTEGER, r_props INTEGER, r_hash TEXT
     ) WITHOUT ROWID;
     CREATE TABLE plans(plan_id TEXT PRIMARY KEY, base_generation INTEGER NOT NULL,
        started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, plan_json TEXT);
     CREATE TABLE steps(plan_id TEXT NOT NULL, step_id INTEGER NOT NULL, status TEXT NOT NULL,
        error TEXT, finished_at TEXT, PRIMARY KEY(plan_id, step_id));
     CREATE TABLE conflicts(key TEXT PRIMARY KEY, data TEXT NOT NULL);
     CREATE TABLE trash(id INTEGER PRIMARY KEY AUTOINCREMENT, side TEXT NOT NULL, original_path TEXT NOT NULL,
        trash_path TEXT NOT NULL, size INTEGER NOT NULL, deleted_at TEXT NOT NULL, rule TEXT NOT NULL);
     CREATE TABLE failures(key TEXT PRIMARY KEY, path TEXT NOT NULL, op TEXT NOT NULL, error TEXT NOT NULL,
        first_at TEXT NOT NULL, last_at TEXT NOT NULL, count INTEGER NOT NULL, retry_after INTEGER NOT NULL,
        alerted INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE cycles(id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);",
    // 2: the email outbox.
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL, kind TEXT NOT NULL,
        subject TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
        next_try INTEGER NOT NULL DEFAULT 0, last_error TEXT);
     CREATE TABLE mail_log(sent_at INTEGER NOT NULL);",
    // 3: outbox rows claimed by the sender sending them (no email twice).
    "ALTER TABLE outbox ADD COLUMN claimed_at INTEGER;",
    // 4: items parked under a twinsync temp name while a case-only rename
    //    runs through an intermediate name (recovered if the run stops there).
    "CREATE TABLE parked(side TEXT NOT NULL, temp_path TEXT NOT NULL, original TEXT NOT NULL,
        target TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY(side, temp_path));",
    // 5: each side's file id (`dev:ino`), to recognise moves and renames.
    "ALTER TABLE files ADD COLUMN l_id TEXT;
     ALTER TABLE files ADD COLUMN r_id TEXT;",
    // 6: bounded cycle history for the report: each cycle row gets its start
    //    time (Unix seconds, backfilled from its JSON; 0 when unreadable, so
    //    it is rolled up and dropped as ancient); rows older than a day are
    //    summed per hour into cycle_hours, kept for 30 days.
    "ALTER TABLE cycles ADD COLUMN at INTEGER;
     UPDATE cycles SET at = COALESCE(
        CASE WHEN json_valid(data) THEN CAST(strftime('%s', json_extract(data, '$.started_at')) AS INTEGER) END, 0);
     CREATE INDEX cycles_at ON cycles(at);
     CREATE TABLE cycle_hours(hour INTEGER PRIMARY KEY, cycles INTEGER NOT NULL, files_scanned_max INTEGER NOT NULL,
        changes INTEGER NOT NULL, changes_to_left INTEGER NOT NULL, changes_to_right INTEGER NOT NULL,
        conflicts INTEGER NOT NULL, soft_deletes INTEGER NOT NULL, hard_deletes INTEGER NOT NULL,
        bytes_copied INTEGER NOT NULL, bytes_to_left INTEGER NOT NULL, bytes_to_right INTEGER NOT NULL,
        failed INTEGER NOT NULL, skipped INTEGER NOT NULL, duration_ms_sum INTEGER NOT NULL,
        duration_ms_max INTEGER NOT NULL);",
    // 7: the pairs adopted by size and mtime whose hash is still to be
    //    filled in (`State::unhashed_pairs`, asked every quiet `watch`
    //    cycle): an index of just those, so that asking costs what is left
    //    to do, not a walk of every row. Kind 0 is a file.
    "CREATE INDEX files_unhashed ON files(key)
        WHERE l_kind = 0 AND r_kind = 0 AND (l_hash IS NULL OR r_hash IS NULL);",
    // 8: names the scan skips on purpose (reserved or invalid on Windows,
    //    case collisions, links), as of the latest plan, with why and since
    //    when: "needs you" items of `status` and the report.
    "CREATE TABLE skipped(side TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,
        since TEXT NOT NULL, PRIMARY KEY(side, path));",
    // 9: large copies that can resume: per destination, the temp file
    //    holding the source's first `done` bytes and the source's identity.
    "CREATE TABLE transfers(side TEXT NOT NULL, dest_path TEXT NOT NULL, temp_path TEXT NOT NULL,
        src_side TEXT NOT NULL, src_path TEXT NOT NULL, src_size INTEGER NOT NULL,
        src_mtime INTEGER NOT NULL, src_id TEXT, done INTEGER NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY(side, dest_path));",
];

/// Brings the schema up to date.
pub(super) fn migrate(conn: &mut Connection, file: &Path) -> Result<(), StateError> {
    let fail = super::open_err(file);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(fail)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StateError::TooNew {
            file: file.to_path_buf(),
            found: version,
            known,
        });
    }
    if version > 0 {
        // An existing DB must have our tables; anything else is not a twinsync DB.
        conn.query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0))
            .map_err(|e| match e.sqlite_error_code() {
                // SQLITE_ERROR here is "no such table": someone else's DB.
                Some(rusqlite::ErrorCode::Unknown) => StateError::Foreign {
                    file: file.to_path_buf(),
                    source: e,
                },
                _ => fail(e),
            })?;
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(0))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{CycleRecord, State};

    /// A DB made by an older build (version 4, before file ids) opens,
    /// migrates, and keeps its rows; their ids read as unknown.
    #[test]
    fn migrates_a_version_4_db_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("old.db");
        {
            let conn = Connection::open(&file).unwrap();
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO files(key, l_path, l_kind, l_size, l_mtime, l_props, r_path, r_kind, r_size, r_mtime, r_props)
                 VALUES('a.txt', 'a.txt', 0, 3, 7, 420, 'a.txt', 0, 3, 7, 420)",
                [],
            )
            .unwrap();
        }
        let state = crate::state::State::open(&file).unwrap();
        let rows = state.load_files_where(|_, _| true).unwrap();
        let row = rows.get("a.txt").unwrap();
        assert_eq!(row.left.as_ref().unwrap().size, 3);
        assert_eq!(row.left.as_ref().unwrap().id, None);
        let v: i64 = Connection::open(&file)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, i64::try_from(MIGRATIONS.len()).unwrap());
    }

    /// A DB left by the previous version (schema 4) with cycle rows in the
    /// old JSON (no `at`, no per-direction counts), one of them unreadable.
    #[test]
    fn migration_6_dates_old_cycles_and_bounds_them_from_the_next_cycle_on() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("s.db");
        let now = crate::now_ns() / 1_000_000_000;
        let ago = |h: i64| {
            chrono::DateTime::from_timestamp(now - h * 3600, 0)
                .unwrap()
                .to_rfc3339()
        };
        {
            let c = Connection::open(&file).unwrap();
            for sql in &MIGRATIONS[..4] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 4).unwrap();
            let old = |h: i64, changes: u64| {
                format!(
                    r#"{{"started_at":"{}","files_scanned":9,"changes":{changes},"conflicts":1,"soft_deletes":0,"hard_deletes":0,"bytes_copied":100,"failed":0,"skipped":0,"duration_ms":{},"result":"ok"}}"#,
                    ago(h),
                    changes * 10
                )
            };
            for data in [old(72, 3), old(71, 4), "not json".to_owned(), old(2, 5)] {
                c.execute("INSERT INTO cycles(data) VALUES(?1)", [data])
                    .unwrap();
            }
        }
        let s = State::open(&file).unwrap();
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, i64::try_from(MIGRATIONS.len()).unwrap());
        let ats: Vec<i64> = s
            .conn
            .prepare("SELECT at FROM cycles ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ats, [now - 72 * 3600, now - 71 * 3600, 0, now - 2 * 3600]);
        // `status` still reads them.
        assert_eq!(s.recent_cycles(10).unwrap().len(), 3);

        // Past the latest-rows floor, the next stored cycle rolls the old ones
        // up by hour and drops the unreadable (dated 1970) one.
        for _ in 0..10 {
            s.record_cycle(&CycleRecord {
                started_at: ago(0),
                changes: 1,
                result: crate::CycleResult::Ok,
                ..CycleRecord::default()
            })
            .unwrap();
        }
        let h = s.cycle_history(now - 30 * 86_400).unwrap();
        assert_eq!(h.cycles.len(), 11, "the 2 h old one and the 10 new ones");
        assert_eq!(h.cycles[0].1.changes, 5);
        let changes: u64 = h.hours.iter().map(|x| x.changes).sum();
        let cycles: u64 = h.hours.iter().map(|x| x.cycles).sum();
        assert_eq!((cycles, changes), (2, 7), "{:?}", h.hours);
        assert_eq!(h.hours.iter().map(|x| x.duration_ms_max).max(), Some(40));
        assert!(h.hours.iter().all(|x| x.hour % 3600 == 0));
        let rows: i64 = s
            .conn
            .query_row("SELECT count(*) FROM cycles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 11);
    }
}
