//! The `conflicts` table: unresolved conflicts (option2), one JSON record
//! per identity key, and the `keep` choice `resolve` writes into one.
//!
//! The journal writes records through the transaction-level [`put`],
//! [`clear`] and [`any`], inside [`State::commit`]'s one transaction.

use super::{State, StateError};
use crate::{Entry, Keep, Rule};
use rusqlite::{Transaction, params};
use std::collections::HashMap;

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

/// True when any conflict is recorded (most commits clear conflicts that
/// were never there: the journal skips those deletes when there are none).
pub(super) fn any(tx: &Transaction<'_>) -> rusqlite::Result<bool> {
    tx.query_row("SELECT EXISTS(SELECT 1 FROM conflicts)", [], |r| r.get(0))
}

/// Records (or replaces) a key's conflict.
pub(super) fn put(tx: &Transaction<'_>, c: &ConflictRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO conflicts(key, data) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET data = excluded.data",
        params![c.key, serde_json::to_string(c).unwrap_or_default()],
    )
    .map(|_| ())
}

/// Clears a key's conflict record.
pub(super) fn clear(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM conflicts WHERE key = ?1")
        .and_then(|mut st| st.execute([key]))
        .map(|_| ())
}

impl State {
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
}
