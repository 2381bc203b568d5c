//! The `transfers` table: large copies that can resume (SPEC §8 "Large
//! copies resume"). One row per destination (side, path): the temp file
//! that holds the first `done` bytes of the source, durably, and the
//! source's identity when they were read (side, path, size, mtime, file id).
//!
//! Invariant: a row never claims more than its temp file durably holds:
//! the copy syncs a chunk to the temp before it records the new offset
//! here. A row is dropped when its copy finishes, when its temp is gone,
//! and when its source changed (then the temp goes too: see
//! `apply::sweep_transfers`).
//!
//! Written per chunk, mid-step, by the copy itself through a
//! [`TransferBook`]: a second connection to the same DB file (WAL), owned
//! by the apply run, because the run's [`State`] is busy journalling.

use super::{State, StateError, sql_err};
use crate::Side;
use crate::model::FileId;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::PathBuf;
use std::sync::Mutex;

/// A large copy that can resume: its temp file holds the source's first
/// `done` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The side written.
    pub side: Side,
    pub dest_path: String,
    /// The temp file on `side` (it may be another plan's).
    pub temp_path: String,
    /// The side read.
    pub from: Side,
    pub src_path: String,
    /// The source's identity when its bytes were read.
    pub src_size: u64,
    pub src_mtime: i64,
    pub src_id: Option<FileId>,
    /// Bytes of the source the temp file holds, durably.
    pub done: u64,
}

const COLUMNS: &str =
    "side, dest_path, temp_path, src_side, src_path, src_size, src_mtime, src_id, done";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Transfer> {
    let id: Option<String> = r.get(7)?;
    Ok(Transfer {
        side: r.get(0)?,
        dest_path: r.get(1)?,
        temp_path: r.get(2)?,
        from: r.get(3)?,
        src_path: r.get(4)?,
        src_size: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
        src_mtime: r.get(6)?,
        src_id: id.as_deref().and_then(FileId::parse),
        done: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
    })
}

fn save(conn: &Connection, t: &Transfer) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO transfers({COLUMNS}, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?
    .execute(params![
        t.side,
        t.dest_path,
        t.temp_path,
        t.from,
        t.src_path,
        i64::try_from(t.src_size).unwrap_or(i64::MAX),
        t.src_mtime,
        t.src_id.map(FileId::to_text),
        i64::try_from(t.done).unwrap_or(i64::MAX),
        chrono::Utc::now().to_rfc3339(),
    ])
    .map(|_| ())
}

fn find(conn: &Connection, side: Side, dest: &str) -> rusqlite::Result<Option<Transfer>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM transfers WHERE side = ?1 AND dest_path = ?2"
    ))?
    .query_row(params![side, dest], row)
    .optional()
}

fn forget(conn: &Connection, side: Side, dest: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM transfers WHERE side = ?1 AND dest_path = ?2")?
        .execute(params![side, dest])
        .map(|_| ())
}

/// The apply run's own connection for [`Transfer`] rows (see the module
/// docs): shared by the copies of a run, one small transaction per chunk.
pub struct TransferBook {
    conn: Mutex<Connection>,
    file: PathBuf,
}

impl TransferBook {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StateError> {
        let conn = match self.conn.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        f(&conn).map_err(sql_err(&self.file))
    }

    /// Records (or moves on) a resumable copy.
    ///
    /// # Errors
    /// SQL errors.
    pub fn save(&self, t: &Transfer) -> Result<(), StateError> {
        self.with(|c| save(c, t))
    }

    /// The resumable copy to `dest` on `side`, if any.
    ///
    /// # Errors
    /// SQL errors.
    pub fn find(&self, side: Side, dest: &str) -> Result<Option<Transfer>, StateError> {
        self.with(|c| find(c, side, dest))
    }

    /// Forgets the resumable copy to `dest` on `side`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn forget(&self, side: Side, dest: &str) -> Result<(), StateError> {
        self.with(|c| forget(c, side, dest))
    }
}

impl State {
    /// A second connection to this DB for the copies of an apply run to
    /// record their chunks on (see the module docs).
    ///
    /// # Errors
    /// The DB cannot be opened again (permissions, I/O).
    pub fn transfer_book(&self) -> Result<TransferBook, StateError> {
        let fail = super::open_err(&self.file);
        let mut conn = Connection::open(&self.file).map_err(fail)?;
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        conn.execute_batch("PRAGMA synchronous=NORMAL;")
            .map_err(fail)?;
        Ok(TransferBook {
            conn: Mutex::new(conn),
            file: self.file.clone(),
        })
    }

    /// Every resumable copy.
    ///
    /// # Errors
    /// SQL errors.
    pub fn transfers(&self) -> Result<Vec<Transfer>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM transfers"))
            .map_err(self.sql())?;
        let rows = stmt.query_map([], row).map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Forgets the resumable copy to `dest` on `side`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn forget_transfer(&self, side: Side, dest: &str) -> Result<(), StateError> {
        forget(&self.conn, side, dest).map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_state;
    use super::*;

    /// A 5 GiB `media/a.mov` copied left to right, nothing sent yet.
    fn a_mov() -> Transfer {
        Transfer {
            side: Side::Right,
            dest_path: "media/a.mov".into(),
            temp_path: "media/.~twinsync-x-1.tmp".into(),
            from: Side::Left,
            src_path: "media/a.mov".into(),
            src_size: 5 << 30,
            src_mtime: 1,
            src_id: None,
            done: 0,
        }
    }

    /// The run's state writes (read-then-write transactions: `begin_plan`
    /// reads the plan's row first) while the book records chunks on its
    /// own connection: neither ever fails with "database is locked". A
    /// deferred transaction that read first could not take the write lock
    /// after the other connection committed (SQLite's BUSY_SNAPSHOT comes
    /// at once, the busy timeout does not apply), and the apply stopped.
    #[test]
    fn the_state_and_the_book_write_at_once_without_locking_out() {
        let (_d, mut s) = temp_state();
        let book = s.transfer_book().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|sc| {
            let chunks = sc.spawn(|| {
                let mut t = a_mov();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    t.done += 1;
                    book.save(&t).unwrap();
                    n += 1;
                }
                n
            });
            for i in 0..400 {
                let r = s.begin_plan(&format!("plan-{i}"), 0);
                if r.is_err() {
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                r.unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            assert!(chunks.join().unwrap() > 0);
        });
    }

    /// What the book records, the run's state reads, by destination; a
    /// later chunk replaces the row; forgetting drops it.
    #[test]
    fn transfers_round_trip_between_the_book_and_the_state() {
        let (_d, s) = temp_state();
        let book = s.transfer_book().unwrap();
        let mut t = Transfer {
            src_mtime: -7,
            src_id: FileId::new(3, 99),
            done: 64 << 20,
            ..a_mov()
        };
        book.save(&t).unwrap();
        t.done = 128 << 20;
        book.save(&t).unwrap();
        assert_eq!(s.transfers().unwrap(), [t.clone()]);
        assert_eq!(book.find(Side::Right, "media/a.mov").unwrap(), Some(t));
        assert_eq!(book.find(Side::Left, "media/a.mov").unwrap(), None);
        s.forget_transfer(Side::Right, "media/a.mov").unwrap();
        assert!(book.find(Side::Right, "media/a.mov").unwrap().is_none());
        assert!(s.transfers().unwrap().is_empty());
    }
}
