//! The `trash` table: what each side's trash holds, written when a step
//! moves a file there (inside [`State::commit`]'s transaction, through
//! [`insert`]) and forgotten when it is restored or purged.

use super::{State, StateError};
use crate::Side;
use rusqlite::{Transaction, params};

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

/// Records a file moved to trash, once (a step redone after a crash finds
/// its record already there).
#[allow(clippy::cast_possible_wrap)] // sizes are read back as u64
pub(super) fn insert(tx: &Transaction<'_>, t: &TrashRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO trash(side, original_path, trash_path, size, deleted_at, rule)
         SELECT ?1,?2,?3,?4,?5,?6
         WHERE NOT EXISTS (SELECT 1 FROM trash WHERE side = ?1 AND trash_path = ?3)",
        params![
            t.side,
            t.original_path,
            t.trash_path,
            t.size as i64,
            t.deleted_at,
            t.rule
        ],
    )
    .map(|_| ())
}

impl State {
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
                    side: r.get(1)?,
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

    /// Adds trash records (files found in the trash: see
    /// `apply::trash::orphans`), in one transaction; one already there
    /// (same side and trash path) is left as it is.
    ///
    /// # Errors
    /// SQL errors (nothing is recorded then).
    pub fn add_trash_records(&self, records: &[TrashRecord]) -> Result<(), StateError> {
        let tx = self.conn.unchecked_transaction().map_err(self.sql())?;
        for r in records {
            insert(&tx, r).map_err(self.sql())?;
        }
        tx.commit().map_err(self.sql())
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
}
