//! The `files` table: the last synced snapshot of each path, one row per
//! identity key with a left and a right half.
//!
//! The one `Entry` row codec lives here: a side is the seven columns of
//! [`side_cols!`] (path, kind, size, mtime, props, hash, file id), read by
//! [`read_entry`] and bound by [`bind_entry`]; every statement that reads
//! or writes a snapshot, including the journal's (through [`FilesWriter`]),
//! goes through those two.
//!
//! Invariant: a row has at least one side (a write that leaves neither
//! drops the row), and keys sort in byte order, so the rows read in key
//! order are already sorted for [`StateMap`]'s binary search.

use super::{State, StateError, sql_err};
use crate::{Entry, Kind, Side};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{CachedStatement, Transaction, params, params_from_iter};

/// The columns of one side of a `files` row, in codec order, for a prefix
/// `l_` or `r_`.
macro_rules! side_cols {
    ($p:literal) => {
        concat!(
            $p, "path, ", $p, "kind, ", $p, "size, ", $p, "mtime, ", $p, "props, ", $p, "hash, ",
            $p, "id"
        )
    };
}

/// `SET` clauses taking every column of one side from the row being inserted.
macro_rules! side_set {
    ($p:literal) => {
        concat!(
            $p,
            "path=excluded.",
            $p,
            "path, ",
            $p,
            "kind=excluded.",
            $p,
            "kind, ",
            $p,
            "size=excluded.",
            $p,
            "size, ",
            $p,
            "mtime=excluded.",
            $p,
            "mtime, ",
            $p,
            "props=excluded.",
            $p,
            "props, ",
            $p,
            "hash=excluded.",
            $p,
            "hash, ",
            $p,
            "id=excluded.",
            $p,
            "id"
        )
    };
}

/// Every column of a `files` row: the key, then the left side from
/// [`LEFT`], then the right side from [`RIGHT`].
macro_rules! select_files {
    () => {
        concat!(
            "SELECT key, ",
            side_cols!("l_"),
            ", ",
            side_cols!("r_"),
            " FROM files"
        )
    };
}

/// Where the left and right sides start in a [`select_files!`] row.
const LEFT: usize = 1;
const RIGHT: usize = 8;

/// See [`State::unhashed_pairs`].
const UNHASHED_SQL: &str = concat!(
    select_files!(),
    " WHERE l_kind = 0 AND r_kind = 0 AND (l_hash IS NULL OR r_hash IS NULL)
      AND l_size = r_size AND l_size <= ?2 AND key > ?4 ORDER BY key LIMIT ?3"
);

const SET_LEFT: &str = concat!(
    "INSERT INTO files(key, ",
    side_cols!("l_"),
    ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(key) DO UPDATE SET ",
    side_set!("l_")
);
const SET_RIGHT: &str = concat!(
    "INSERT INTO files(key, ",
    side_cols!("r_"),
    ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(key) DO UPDATE SET ",
    side_set!("r_")
);
const SET_BOTH: &str = concat!(
    "INSERT INTO files(key, ",
    side_cols!("l_"),
    ", ",
    side_cols!("r_"),
    ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15) ON CONFLICT(key) DO UPDATE SET ",
    side_set!("l_"),
    ", ",
    side_set!("r_")
);

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
/// Reads one side of a [`select_files!`] row (its seven columns from
/// `base`) into `slot`, reusing the strings of the entry it held before
/// (or of `spare`, where a NULL side parked it). The one reader of an
/// `Entry`.
fn read_entry(
    r: &rusqlite::Row<'_>,
    base: usize,
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
        .get_ref(base + 6)?
        .as_str_or_null()?
        .and_then(crate::fs::FileId::parse);
    e.unchanged = false;
    Ok(())
}

/// One side of a [`select_files!`] row as a new entry.
fn row_entry(r: &rusqlite::Row<'_>, base: usize) -> rusqlite::Result<Option<Entry>> {
    let mut slot = None;
    read_entry(r, base, &mut slot, &mut None)?;
    Ok(slot)
}

/// The seven column values of one side ([`side_cols!`] order), NULLs for
/// a side that has nothing. The one writer of an `Entry`.
#[allow(clippy::cast_possible_wrap)] // sizes are read back as u64
fn bind_entry(e: Option<&Entry>) -> [ToSqlOutput<'_>; 7] {
    fn text(s: &str) -> ToSqlOutput<'_> {
        ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
    }
    let null = || ToSqlOutput::Owned(Value::Null);
    let int = |v: i64| ToSqlOutput::Owned(Value::Integer(v));
    let Some(e) = e else {
        return std::array::from_fn(|_| null());
    };
    [
        text(&e.path),
        int(kind_code(e.kind)),
        int(e.size as i64),
        int(e.mtime),
        int(i64::from(e.props)),
        e.hash.as_deref().map_or_else(null, text),
        e.id.map_or_else(null, |id| ToSqlOutput::Owned(Value::Text(id.to_text()))),
    ]
}

/// The `files` writes of one transaction ([`State::commit`]), each
/// statement prepared once: a first-run adoption writes 90,000 pairs
/// through them.
pub(super) struct FilesWriter<'tx> {
    left: CachedStatement<'tx>,
    right: CachedStatement<'tx>,
    both: CachedStatement<'tx>,
    prune: CachedStatement<'tx>,
    forget: CachedStatement<'tx>,
}

impl<'tx> FilesWriter<'tx> {
    pub(super) fn new(tx: &'tx Transaction<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            left: tx.prepare_cached(SET_LEFT)?,
            right: tx.prepare_cached(SET_RIGHT)?,
            both: tx.prepare_cached(SET_BOTH)?,
            prune: tx.prepare_cached(
                "DELETE FROM files WHERE key = ?1 AND l_path IS NULL AND r_path IS NULL",
            )?,
            forget: tx.prepare_cached("DELETE FROM files WHERE key = ?1")?,
        })
    }

    /// Sets one side of a key's snapshot (`None`: the side no longer has
    /// it; a row left with neither side is dropped).
    pub(super) fn set_side(
        &mut self,
        key: &str,
        side: Side,
        entry: Option<&Entry>,
    ) -> rusqlite::Result<()> {
        let stmt = match side {
            Side::Left => &mut self.left,
            Side::Right => &mut self.right,
        };
        stmt.execute(params_from_iter(
            std::iter::once(ToSqlOutput::from(key)).chain(bind_entry(entry)),
        ))?;
        if entry.is_none() {
            self.prune.execute([key])?;
        }
        Ok(())
    }

    /// Sets both sides of a key's snapshot in one statement (a recorded pair).
    pub(super) fn set_pair(
        &mut self,
        key: &str,
        left: &Entry,
        right: &Entry,
    ) -> rusqlite::Result<()> {
        self.both
            .execute(params_from_iter(
                std::iter::once(ToSqlOutput::from(key))
                    .chain(bind_entry(Some(left)))
                    .chain(bind_entry(Some(right))),
            ))
            .map(|_| ())
    }

    /// Forgets a key entirely.
    pub(super) fn forget(&mut self, key: &str) -> rusqlite::Result<()> {
        self.forget.execute([key]).map(|_| ())
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

impl State {
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
                            left: row_entry(r, LEFT)?,
                            right: row_entry(r, RIGHT)?,
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
                    .prepare_cached(concat!(select_files!(), " ORDER BY key"))
                    .map_err(self.sql())?;
                stmt.query([]).map_err(self.sql())?
            } else {
                // `k/` up to `k0`: exactly the keys below `k` ('0' follows '/').
                stmt = self
                    .conn
                    .prepare_cached(concat!(
                        select_files!(),
                        " WHERE key = ?1 OR (key >= ?1 || '/' AND key < ?1 || '0') ORDER BY key"
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
                read_entry(r, LEFT, &mut row.left, &mut spare.0).map_err(self.sql())?;
                read_entry(r, RIGHT, &mut row.right, &mut spare.1).map_err(self.sql())?;
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
}

#[cfg(test)]
mod tests {
    use super::super::Update;
    use super::*;
    use crate::StepStatus;

    /// A file entry with a hash and a file id.
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

    /// Upgrade: keys an older build folded with `to_lowercase` move to the
    /// current scheme once, so those paths are not seen as deleted + new.
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
}
