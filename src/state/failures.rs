//! The `failures` table: paths that failed, with a count, first and last
//! time and a retry backoff (10 s doubling up to 10 min), for retries and
//! `status`; cleared when the path succeeds, or when it is gone from
//! both sides with nothing left to do there (see the pipeline).

use super::{State, StateError, sql_err};
use rusqlite::params;

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

    /// Forgets the failure record of `key` (a path that fails no more).
    ///
    /// # Errors
    /// SQL errors.
    pub fn forget_failure(&self, key: &str) -> Result<(), StateError> {
        self.conn
            .execute("DELETE FROM failures WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(self.sql())
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
}
