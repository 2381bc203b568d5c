//! Soft delete (SPEC §10): move a file into its side's trash at its
//! original relative path, with a ` (deleted YYYY-MM-DD HHMMSS)` tag when
//! that name is taken.
//!
//! A trash inside the root is reached with a rename (atomic, no copy); a
//! trash outside it is a second [`RealFs`] and the move is copy + verify +
//! delete, so the file exists in at least one place at every moment.
//!
//! Paths too long for the trash (issue 18, item 6): the trash path is the
//! original path below `.sync_trash/` (12 characters more), perhaps with a
//! ` (deleted …)` tag (28 more), so a file at or near its drive's length
//! limit has no room there, and could then never be deleted or
//! overwritten. The limit of a mapped drive is not knowable in advance (it
//! counts the absolute path; see `paths`), so it is learned from the
//! drive's refusal: when putting a file at its full trash path fails with
//! [`ErrorClass::PathTooLong`] (creating its folders, the rename, or the
//! copy to a trash outside the root; or [`ErrorClass::NotFound`], which is
//! how Windows reports a path over `MAX_PATH`), it goes to a short flat name instead,
//! [`short_trash_name`]: `.long/<hash>-<name shortened to 40 characters>`
//! (at most 58 characters below the trash folder), the hash taken of the
//! original path and the stamp. The original path is in the trash record
//! as always, so `trash list` shows it and `trash restore` puts the file
//! back there, the same as for any entry; [`TrashLoc::find`] knows the
//! short names too (a crash between the move and its record).
//!
//! Also the trash commands' work on the trash records: the versions of a
//! path, numbered newest first ([`versions`], what `trash list PATH` shows
//! and `trash restore --version N` picks), [`restore`], and the retention
//! purge ([`purge_due`] then [`purge`]; [`purge_older_than`] for `watch` with
//! `auto_purge`). A purge removes the folders it leaves empty in the trash,
//! never the trash folder itself.

use crate::Side;
use crate::config::{Config, TrashRoot};
use crate::fs::{ErrorClass, Fs, FsError, real::RealFs};
use crate::log::Logger;
use crate::paths;
use crate::roots::Sides;
use crate::state::{State, StateError, TrashRecord};
use serde_json::json;
use std::io::Write;

pub mod orphans;

/// Where a side's trash is, as file-system operations see it.
pub enum TrashLoc<'a> {
    Inside { fs: &'a dyn Fs, dir: String },
    Outside { fs: &'a dyn Fs, trash: RealFs },
}

impl<'a> TrashLoc<'a> {
    #[must_use]
    pub fn new(fs: &'a dyn Fs, root: &TrashRoot) -> Self {
        match root {
            TrashRoot::Inside(dir) => Self::Inside {
                fs,
                dir: dir.clone(),
            },
            TrashRoot::Outside(p) => Self::Outside {
                fs,
                trash: RealFs::new(p),
            },
        }
    }

    fn trash_fs(&self) -> &dyn Fs {
        match self {
            Self::Inside { fs, .. } => *fs,
            Self::Outside { trash, .. } => trash,
        }
    }

    /// Path of a trash entry on the trash's file system.
    fn full(&self, rel: &str) -> String {
        match self {
            Self::Inside { dir, .. } => paths::join(dir, rel),
            Self::Outside { .. } => rel.to_owned(),
        }
    }

    /// Moves `path` of the side into the trash; returns the trash path
    /// (relative to the trash folder).
    ///
    /// # Errors
    /// The I/O error naming the path.
    pub fn put(&self, path: &str, stamp: &str) -> Result<String, FsError> {
        match self.put_at_full_path(path, stamp) {
            // Too long for the drive: a short name (see the module docs).
            // Windows reports a path over `MAX_PATH` as "path not found"
            // too; if it was the file that is gone, the short name fails
            // the same way.
            Err(e) if matches!(e.class, ErrorClass::PathTooLong | ErrorClass::NotFound) => {
                let tfs = self.trash_fs();
                let mut n = 1;
                let mut rel = short_trash_name(path, stamp, n);
                while tfs.stat(&self.full(&rel))?.is_some() {
                    n += 1;
                    rel = short_trash_name(path, stamp, n);
                }
                self.move_in(path, &rel)?;
                Ok(rel)
            }
            other => other,
        }
    }

    /// [`Self::put`] at the original path below the trash folder.
    fn put_at_full_path(&self, path: &str, stamp: &str) -> Result<String, FsError> {
        // The usual case in two round trips, not one per folder level and
        // a `mkdir` more (issue 21): the name is free in the trash and its
        // folders are there (an earlier version of a neighbour made them),
        // so one rename does it. A rename that fails (a folder missing, or
        // a file holding a folder's name: "not found", "not a directory")
        // did nothing, and the careful way below takes over.
        if let Self::Inside { fs, .. } = self {
            let target = self.full(path);
            if fs.stat(&target)?.is_none() {
                match fs.rename(path, &target) {
                    Ok(()) => return Ok(path.to_owned()),
                    Err(e) if e.is_fatal() => return Err(e),
                    Err(_) => {}
                }
            }
        }
        let tfs = self.trash_fs();
        let base = self.free_folders(path, stamp)?;
        let mut rel = base.clone();
        if tfs.stat(&self.full(&rel))?.is_some() {
            rel = paths::with_deleted_tag(&base, stamp);
            let mut n = 2;
            while tfs.stat(&self.full(&rel))?.is_some() {
                rel = paths::with_deleted_tag(&base, &format!("{stamp} {n}"));
                n += 1;
            }
        }
        self.move_in(path, &rel)?;
        Ok(rel)
    }

    /// Moves `path` of the side to the free trash entry `rel`.
    fn move_in(&self, path: &str, rel: &str) -> Result<(), FsError> {
        let tfs = self.trash_fs();
        let target = self.full(rel);
        let parent = paths::parent(&target);
        if !parent.is_empty() || matches!(self, Self::Outside { .. }) {
            tfs.create_dir_all(parent)?;
        }
        match self {
            Self::Inside { fs, .. } => fs.rename(path, &target)?,
            Self::Outside { fs, trash } => {
                let meta = fs.stat(path)?.ok_or_else(|| {
                    FsError::synthetic("trash", path, crate::fs::ErrorClass::NotFound, "vanished")
                })?;
                let mut r = fs.open_read(path)?;
                let mut w = trash.create(&target)?;
                std::io::copy(&mut r, &mut w)
                    .map_err(|e| FsError::io("copy to trash", &target, e))?;
                w.flush()
                    .map_err(|e| FsError::io("copy to trash", &target, e))?;
                w.finish()?;
                trash.set_meta(&target, meta.mtime, meta.props)?;
                match trash.stat(&target)? {
                    Some(m) if m.size == meta.size => {}
                    _ => {
                        return Err(FsError::synthetic(
                            "copy to trash",
                            &target,
                            crate::fs::ErrorClass::Other,
                            "size differs after copy",
                        ));
                    }
                }
                fs.remove_file(path)?;
            }
        }
        Ok(())
    }

    /// `path` with every folder whose name a *file* already holds in the
    /// trash (a file `d` trashed before the folder `d/` existed) tagged
    /// ` (deleted STAMP)`, so a version can always be put in the trash.
    fn free_folders(&self, path: &str, stamp: &str) -> Result<String, FsError> {
        let tfs = self.trash_fs();
        let comps: Vec<&str> = path.split('/').collect();
        let mut out = String::new();
        for (i, c) in comps.iter().enumerate() {
            let mut cand = paths::join(&out, c);
            if i + 1 < comps.len() {
                let mut n = 1;
                while matches!(tfs.stat(&self.full(&cand))?, Some(m) if m.kind != crate::Kind::Dir)
                {
                    let tag = if n == 1 {
                        stamp.to_owned()
                    } else {
                        format!("{stamp} {n}")
                    };
                    cand = paths::join(&out, &format!("{c} (deleted {tag})"));
                    n += 1;
                }
            }
            out = cand;
        }
        Ok(out)
    }

    /// The trash entry a `put(path, stamp)` made, if it is there: the last
    /// tagged name with that stamp, else the plain name.
    #[must_use]
    pub fn find(&self, path: &str, stamp: &str) -> Option<String> {
        let tagged = (2..=20)
            .rev()
            .map(|n| paths::with_deleted_tag(path, &format!("{stamp} {n}")))
            .chain(std::iter::once(paths::with_deleted_tag(path, stamp)));
        let short = (1..=5).rev().map(|n| short_trash_name(path, stamp, n));
        tagged
            .chain(short)
            .chain(std::iter::once(path.to_owned()))
            .find(|rel| self.contains(rel))
    }

    /// Size of a trash entry.
    #[must_use]
    pub fn size(&self, rel: &str) -> Option<u64> {
        self.trash_fs()
            .stat(&self.full(rel))
            .ok()
            .flatten()
            .map(|m| m.size)
    }

    /// Moves a trash entry back to `path` on the side (restore).
    ///
    /// # Errors
    /// The I/O error naming the path.
    pub fn take(&self, rel: &str, path: &str) -> Result<(), FsError> {
        let src = self.full(rel);
        match self {
            Self::Inside { fs, .. } => {
                fs.create_dir_all(paths::parent(path))?;
                fs.rename(&src, path)
            }
            Self::Outside { fs, trash } => {
                fs.create_dir_all(paths::parent(path))?;
                let meta = trash.stat(&src)?.ok_or_else(|| {
                    FsError::synthetic(
                        "restore",
                        &src,
                        crate::fs::ErrorClass::NotFound,
                        "not in trash",
                    )
                })?;
                let mut r = trash.open_read(&src)?;
                let mut w = fs.create(path)?;
                std::io::copy(&mut r, &mut w).map_err(|e| FsError::io("restore", path, e))?;
                w.finish()?;
                fs.set_meta(path, meta.mtime, meta.props)?;
                trash.remove_file(&src)
            }
        }
    }

    /// Deletes a trash entry for good (purge).
    ///
    /// # Errors
    /// The I/O error naming the path.
    pub fn purge(&self, rel: &str) -> Result<(), FsError> {
        let p = self.full(rel);
        match self.trash_fs().remove_file(&p) {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// Removes the folders above a purged entry that it left empty, from
    /// the innermost up; stops at the first that is not empty (or cannot
    /// go) and never removes the trash folder itself. Returns how many went.
    fn remove_empty_parents(&self, rel: &str) -> u64 {
        let mut n = 0;
        let mut dir = paths::parent(rel);
        while !dir.is_empty() {
            if self.trash_fs().remove_dir(&self.full(dir)).is_err() {
                break;
            }
            n += 1;
            dir = paths::parent(dir);
        }
        n
    }

    /// True if the entry is still in the trash.
    #[must_use]
    pub fn contains(&self, rel: &str) -> bool {
        matches!(self.trash_fs().stat(&self.full(rel)), Ok(Some(_)))
    }
}

/// The short trash name of `path` trashed under `stamp` (the `n`th such
/// entry), for a path too long to keep below the trash folder (see the
/// module docs): `.long/<12 hex of a hash of path, stamp and n>-<name>`,
/// the file name shortened to 40 characters (its extension kept).
#[must_use]
pub fn short_trash_name(path: &str, stamp: &str, n: u32) -> String {
    const NAME_CHARS: usize = 40;
    let hash = blake3::hash(format!("{path}\n{stamp}\n{n}").as_bytes()).to_hex();
    let name = paths::file_name(path);
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 16 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let keep = NAME_CHARS.saturating_sub(ext.chars().count());
    let mut stem: String = stem.chars().take(keep).collect();
    if ext.is_empty() && stem.len() < name.len() {
        // No trailing dot or space (invalid on Windows) where the cut ends the name.
        stem.truncate(stem.trim_end_matches(['.', ' ']).len());
    }
    format!(".long/{}-{stem}{ext}", &hash.as_str()[..12])
}

/// The stamp used in ` (deleted …)` tags, local time.
#[must_use]
pub fn stamp_now() -> String {
    chrono::Local::now().format("%Y-%m-%d %H%M%S").to_string()
}

/// Why a trash record could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum TrashError {
    /// Nothing to restore, or the way back is blocked: the sentence says which.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// A trash record with its version number: its rank, newest first and
/// counting both sides, among the records of the same original path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub number: u32,
    pub rec: TrashRecord,
}

/// When a record was trashed, for ordering (records written in another
/// offset still sort by the instant; unreadable ones count as oldest).
fn deleted_ns(r: &TrashRecord) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&r.deleted_at)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(i64::MIN)
}

/// Every trash record, newest first, numbered per original path (1 = the
/// newest version of that path, on whichever side).
#[must_use]
pub fn versions(records: Vec<TrashRecord>, case_sensitive: bool) -> Vec<Version> {
    let mut records = records;
    records.sort_by(|a, b| deleted_ns(b).cmp(&deleted_ns(a)).then(b.id.cmp(&a.id)));
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    records
        .into_iter()
        .map(|rec| {
            let n = seen
                .entry(paths::key_of(&rec.original_path, case_sensitive))
                .or_insert(0);
            *n += 1;
            Version { number: *n, rec }
        })
        .collect()
}

/// The records `path` names: its original path or its path in the trash
/// (`\\` read as `/`), or, for a folder, every record below it.
#[must_use]
pub fn select<'a>(all: &'a [Version], path: &str, case_sensitive: bool) -> Vec<&'a Version> {
    let path = path.replace('\\', "/");
    let key = paths::key_of(path.trim_matches('/'), case_sensitive);
    if key.is_empty() || key == "." {
        return all.iter().collect();
    }
    let named = |p: &str| paths::key_of(p, case_sensitive) == key;
    let exact: Vec<&Version> = all
        .iter()
        .filter(|v| named(&v.rec.original_path) || named(&v.rec.trash_path))
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    let prefix = format!("{key}/");
    all.iter()
        .filter(|v| paths::key_of(&v.rec.original_path, case_sensitive).starts_with(&prefix))
        .collect()
}

/// Puts the trashed file recorded for `path` (its original or its trash
/// path) back where it was, and forgets the record; the next cycle syncs it.
/// Which version: number `version` as [`versions`] counts them, else the
/// newest; on `side` when given, else on the side of that version.
///
/// # Errors
/// `Refused` when there is no such record (or version on that side),
/// something is at the original path, or the move fails; state errors.
pub fn restore(
    cfg: &Config,
    state: &State,
    sides: &Sides,
    log: &Logger,
    path: &str,
    side: Option<Side>,
    version: Option<u32>,
) -> Result<TrashRecord, TrashError> {
    let path = path.replace('\\', "/");
    let all = versions(state.trash_records()?, cfg.case_sensitive);
    let named =
        |p: &str| paths::key_of(p, cfg.case_sensitive) == paths::key_of(&path, cfg.case_sensitive);
    let found: Vec<&Version> = all
        .iter()
        .filter(|v| named(&v.rec.original_path) || named(&v.rec.trash_path))
        .collect();
    let list = format!("see `twinsync trash list \"{path}\"`");
    if found.is_empty() {
        return Err(TrashError::Refused(format!(
            "no trash record for `{path}` ({list})"
        )));
    }
    let rec = match (version, side) {
        (Some(n), _) => {
            let v = found.iter().find(|v| v.number == n).ok_or_else(|| {
                TrashError::Refused(format!("`{path}` has no version {n} in the trash ({list})"))
            })?;
            if let Some(s) = side
                && v.rec.side != s
            {
                return Err(TrashError::Refused(format!(
                    "version {n} of `{path}` is in the {} side's trash, not the {s} side's ({list})",
                    v.rec.side
                )));
            }
            v.rec.clone()
        }
        (None, Some(s)) => found
            .iter()
            .find(|v| v.rec.side == s)
            .map(|v| v.rec.clone())
            .ok_or_else(|| {
                TrashError::Refused(format!("`{path}` is not in the {s} side's trash ({list})"))
            })?,
        (None, None) => found
            .first()
            .map(|v| v.rec.clone())
            .ok_or_else(|| TrashError::Refused(format!("no trash record for `{path}`")))?,
    };
    let fs = sides.get(rec.side);
    if fs
        .stat(&rec.original_path)
        .map_err(|e| TrashError::Refused(e.to_string()))?
        .is_some()
    {
        return Err(TrashError::Refused(format!(
            "`{}` exists on the {} side; move it away first, then restore",
            rec.original_path, rec.side
        )));
    }
    let loc = TrashLoc::new(fs, cfg.trash(rec.side));
    loc.take(&rec.trash_path, &rec.original_path)
        .map_err(|e| TrashError::Refused(e.to_string()))?;
    state.remove_trash_record(rec.id)?;
    log.info("delete", json!({"path": rec.original_path, "side": rec.side, "result": "ok", "note": "restored from trash"}));
    Ok(rec)
}

/// The trash records trashed at least `days` days ago (SPEC §10
/// retention; 0 = all), oldest first.
///
/// # Errors
/// State DB errors.
pub fn purge_due(state: &State, days: u64) -> Result<Vec<TrashRecord>, StateError> {
    let cutoff = chrono::Local::now()
        - chrono::Duration::days(
            i64::try_from(days)
                .unwrap_or(i64::MAX / 86_400_000)
                .min(1_000_000),
        );
    let mut due: Vec<TrashRecord> = state
        .trash_records()?
        .into_iter()
        .filter(|r| chrono::DateTime::parse_from_rfc3339(&r.deleted_at).is_ok_and(|t| t <= cutoff))
        .collect();
    due.sort_by_key(deleted_ns);
    Ok(due)
}

/// The entries to remove so that each side's trash fits `cap` bytes
/// (`[soft_delete] max_trash_bytes`; 0: no cap), leaving out those in
/// `already` (due by age anyway): first every entry larger than the cap
/// alone (kept, it would cost everything else), then the oldest until the
/// rest fits. Oldest first in the result.
///
/// # Errors
/// State DB errors.
pub fn over_cap(
    state: &State,
    cap: u64,
    already: &[TrashRecord],
) -> Result<Vec<TrashRecord>, StateError> {
    if cap == 0 {
        return Ok(Vec::new());
    }
    let gone: std::collections::HashSet<i64> = already.iter().map(|r| r.id).collect();
    let mut out = Vec::new();
    for side in crate::Side::BOTH {
        let mut left: Vec<TrashRecord> = state
            .trash_records()?
            .into_iter()
            .filter(|r| r.side == side && !gone.contains(&r.id))
            .collect();
        left.sort_by_key(deleted_ns);
        let mut total: u64 = left.iter().map(|r| r.size).sum();
        let (huge, rest): (Vec<_>, Vec<_>) = left.into_iter().partition(|r| r.size > cap);
        for r in huge {
            total -= r.size;
            out.push(r);
        }
        for r in rest {
            if total <= cap {
                break;
            }
            total -= r.size;
            out.push(r);
        }
    }
    out.sort_by_key(deleted_ns);
    Ok(out)
}

/// What a purge did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub files: u64,
    /// The recorded sizes of the entries removed.
    pub bytes: u64,
    /// Folders the removed entries left empty, removed too.
    pub folders: u64,
    /// Entries that could not be removed (warned about, kept).
    pub failed: u64,
}

/// Deletes these trash entries for good, and the folders they leave empty.
/// An entry that cannot be removed is warned about and kept.
///
/// # Errors
/// State DB errors.
pub fn purge(
    cfg: &Config,
    state: &State,
    sides: &Sides,
    records: &[TrashRecord],
    log: &Logger,
) -> Result<Purged, StateError> {
    let mut done = Purged::default();
    for r in records {
        let loc = TrashLoc::new(sides.get(r.side), cfg.trash(r.side));
        match loc.purge(&r.trash_path) {
            Ok(()) => {
                state.remove_trash_record(r.id)?;
                let cap = cfg.raw.soft_delete.max_trash_bytes;
                if cap > 0 && r.size > cap {
                    // Larger than the whole trash may hold: deleted for good.
                    log.warn("delete", json!({"path": r.original_path, "side": r.side, "rule": r.rule, "result": "ok", "bytes": r.size,
                        "note": format!("deleted for good: larger than the trash cap (max_trash_bytes = {cap}); trash path {}", r.trash_path)}));
                } else {
                    log.info("delete", json!({"path": r.trash_path, "side": r.side, "result": "ok", "bytes": r.size, "note": "purged from trash"}));
                }
                done.files += 1;
                done.bytes += r.size;
                done.folders += loc.remove_empty_parents(&r.trash_path);
            }
            Err(e) => {
                crate::eoutln!(
                    "warning: cannot purge {}: {}",
                    crate::human::escape(&r.trash_path),
                    crate::human::escape(&e.to_string())
                );
                log.warn("delete", json!({"path": r.trash_path, "side": r.side, "result": "failed", "error": e.to_string(), "note": "purge from trash"}));
                done.failed += 1;
            }
        }
    }
    Ok(done)
}

/// [`purge_due`] and [`over_cap`], then [`purge`] (`watch` with
/// `auto_purge`); returns how many entries went.
///
/// # Errors
/// State DB errors.
pub fn purge_older_than(
    cfg: &Config,
    state: &State,
    sides: &Sides,
    days: u64,
    log: &Logger,
) -> Result<u64, StateError> {
    let mut due = purge_due(state, days)?;
    due.extend(over_cap(state, cfg.raw.soft_delete.max_trash_bytes, &due)?);
    Ok(purge(cfg, state, sides, &due, log)?.files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::mem::MemFs;

    #[test]
    fn a_file_in_the_way_of_a_trash_folder_is_worked_around() {
        let m = MemFs::new("t", true, 1);
        m.put("d", b"a file named d");
        let loc = TrashLoc::new(&m, &TrashRoot::Inside(".sync_trash".into()));
        assert_eq!(loc.put("d", "2026-01-01 000000").unwrap(), "d");
        m.put("d/c.txt", b"later, a folder d");
        let rel = loc.put("d/c.txt", "2026-01-02 000000").unwrap();
        assert_eq!(rel, "d (deleted 2026-01-02 000000)/c.txt");
        assert_eq!(
            m.get(".sync_trash/d").as_deref(),
            Some(b"a file named d".as_slice())
        );
        assert_eq!(
            m.get(".sync_trash/d (deleted 2026-01-02 000000)/c.txt")
                .as_deref(),
            Some(b"later, a folder d".as_slice())
        );
    }

    fn rec(id: i64, side: Side, path: &str, at: &str) -> TrashRecord {
        TrashRecord {
            id,
            side,
            original_path: path.into(),
            trash_path: path.into(),
            size: 1,
            deleted_at: at.into(),
            rule: "6.2.7".into(),
        }
    }

    #[test]
    fn versions_are_numbered_per_path_newest_first_whatever_the_offset() {
        let all = versions(
            vec![
                // 02:00 UTC, written in +01:00: older than the next one.
                rec(1, Side::Left, "a.txt", "2026-12-07T03:00:00+01:00"),
                rec(2, Side::Right, "A.txt", "2026-12-07T02:30:00+00:00"),
                rec(3, Side::Right, "b/c.txt", "2026-12-07T01:00:00+00:00"),
                rec(4, Side::Right, "a.txt", "not a time"),
            ],
            false,
        );
        let got: Vec<(i64, u32)> = all.iter().map(|v| (v.rec.id, v.number)).collect();
        assert_eq!(got, [(2, 1), (1, 2), (3, 1), (4, 3)]);
        // A file's versions, a folder's entries, everything.
        let ids =
            |p: &str| -> Vec<i64> { select(&all, p, false).iter().map(|v| v.rec.id).collect() };
        assert_eq!(ids("a.TXT"), [2, 1, 4]);
        assert_eq!(ids("b"), [3]);
        assert_eq!(ids("b\\"), [3]);
        assert_eq!(ids(""), [2, 1, 3, 4]);
        assert!(ids("b/c").is_empty());
    }

    #[test]
    fn a_purge_removes_the_folders_it_empties_and_keeps_the_trash() {
        let m = MemFs::new("r", true, 1);
        let loc = TrashLoc::new(&m, &TrashRoot::Inside(".sync_trash".into()));
        m.put(".sync_trash/x/y/z.txt", b"z");
        m.put(".sync_trash/x/keep.txt", b"k");
        loc.purge("x/y/z.txt").unwrap();
        assert_eq!(loc.remove_empty_parents("x/y/z.txt"), 1);
        assert!(m.get(".sync_trash/x/keep.txt").is_some());
        loc.purge("x/keep.txt").unwrap();
        assert_eq!(loc.remove_empty_parents("x/keep.txt"), 1);
        assert!(matches!(m.stat(".sync_trash"), Ok(Some(_))));
        assert!(matches!(m.stat(".sync_trash/x"), Ok(None)));
    }

    #[test]
    fn a_path_too_long_for_the_trash_gets_a_short_name_that_find_knows() {
        let m = MemFs::new("t", true, 1);
        let f = crate::fs::fault::FaultFs::new(std::sync::Arc::new(m.clone()));
        f.limit_names(255, 80);
        let loc = TrashLoc::new(&f, &TrashRoot::Inside(".sync_trash".into()));
        let path = format!("{}/Quarterly report of the sales team.docx", "x".repeat(35));
        assert_eq!(path.len(), 75);
        m.put(&path, b"v1");
        let stamp = "2026-12-07 040000";
        let rel = loc.put(&path, stamp).unwrap();
        assert_eq!(rel, short_trash_name(&path, stamp, 1));
        assert!(
            rel.starts_with(".long/") && rel.ends_with("-Quarterly report of the sales team.docx"),
            "{rel}"
        );
        assert_eq!(
            m.get(&format!(".sync_trash/{rel}")).as_deref(),
            Some(b"v1".as_slice())
        );
        assert!(m.get(&path).is_none());
        // A second version under the same stamp: the next short name.
        m.put(&path, b"v2");
        let rel2 = loc.put(&path, stamp).unwrap();
        assert_eq!(rel2, short_trash_name(&path, stamp, 2));
        assert_eq!(loc.find(&path, stamp).as_deref(), Some(rel2.as_str()));
        loc.take(&rel, &path).unwrap();
        assert_eq!(m.get(&path).as_deref(), Some(b"v1".as_slice()));
        // Names are cut to 40 characters, the extension kept, no trailing dot or space.
        let cut = short_trash_name(&format!("a/{}.pdf", "é".repeat(100)), stamp, 1);
        assert_eq!(cut.chars().count(), ".long/".len() + 12 + 1 + 40, "{cut}");
        assert!(cut.ends_with("é.pdf"));
        assert!(short_trash_name("a/x.  .  .b", stamp, 1).ends_with("-x.  .  .b"));
        let cut = short_trash_name(&format!("a/{} {}", "y".repeat(39), "z".repeat(9)), stamp, 1);
        assert!(
            cut.ends_with(&format!("-{}", "y".repeat(39))),
            "no trailing space: {cut}"
        );
    }

    #[test]
    fn taken_names_get_a_deleted_tag() {
        let m = MemFs::new("l", false, 1);
        let t = TrashLoc::new(&m, &TrashRoot::Inside(".sync_trash".into()));
        m.put("a/report.docx", b"v1");
        assert_eq!(
            t.put("a/report.docx", "2026-11-26 101500").unwrap(),
            "a/report.docx"
        );
        m.put("a/report.docx", b"v2");
        assert_eq!(
            t.put("a/report.docx", "2026-11-26 101500").unwrap(),
            "a/report (deleted 2026-11-26 101500).docx"
        );
        m.put("a/report.docx", b"v3");
        assert_eq!(
            t.put("a/report.docx", "2026-11-26 101500").unwrap(),
            "a/report (deleted 2026-11-26 101500 2).docx"
        );
        assert_eq!(m.get(".sync_trash/a/report.docx").unwrap(), b"v1");
        assert_eq!(
            m.get(".sync_trash/a/report (deleted 2026-11-26 101500).docx")
                .unwrap(),
            b"v2"
        );
        t.take("a/report.docx", "a/report.docx").unwrap();
        assert_eq!(m.get("a/report.docx").unwrap(), b"v1");
    }
}
