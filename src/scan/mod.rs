//! Scan: walk one side through its [`Fs`] and build a [`SideScan`] snapshot
//! (a full walk, or [`rescan_dirs`] for the folders watcher events named).
//! Its entries are a [`ScanMap`] ([`map`]): one vector sorted by identity
//! key, built in place from the walk's list, the keys in the walk's own
//! string, so a side costs one compact record per path.
//!
//! What is walked past is the [`Excluder`]'s decision (what a `[[rules]]`
//! entry leaves out is noted in [`SideScan::ruled_out`]: it keeps its
//! folder); whether the root may be walked at all is [`crate::roots`]'s
//! (checked just before). A root or marker that vanishes during the walk
//! makes the side [`Unavailable`].
//!
//! Invariants: a folder that could not be listed, and names that collide
//! under case folding or Unicode normalisation (one identity key, SPEC §4),
//! end up in [`SideScan::unknown`]; links, junctions and names the other
//! side cannot hold in [`SideScan::blocked`]. The planner treats both as
//! "do not touch", on both sides; a scan never reports something as absent
//! that it did not look at. Each of them is also a [`Skip`] (listed for
//! the admin: "needs you").

use crate::exclude::Excluder;
use crate::fs::{Fs, Kind, Meta};
use crate::paths::{self, MARKER_NAME};
use crate::roots::{self, Unavailable};
use crate::{Entry, Side};
use std::collections::HashSet;

pub mod map;
pub use map::ScanMap;

/// One side's snapshot.
#[derive(Debug, Default, Clone)]
pub struct SideScan {
    /// Identity key → entry, in key order.
    pub entries: ScanMap,
    /// Keys (folders or files) whose state is unknown this cycle: unreadable
    /// folders and case (or normalisation) collisions. Nothing at or below
    /// them is planned.
    pub unknown: Vec<String>,
    /// Human-readable problems to report (collisions, invalid names, links).
    pub problems: Vec<String>,
    /// Keys of entries skipped on purpose (names invalid on Windows, not
    /// UTF-8; symlinks, junctions, special files): never synced, and
    /// unknown, never absent: nothing at or below them is planned on
    /// either side (no folder made, nothing copied into or deleted there),
    /// and they keep their folder from being removed. They wait for the
    /// admin, not for a later cycle.
    pub blocked: Vec<String>,
    /// What keeps paths from syncing until someone acts, with why (a name
    /// the other side cannot hold, a case or Unicode collision, a link, a
    /// folder or entry that cannot be read): "needs you" items of the
    /// health verdict, listed by `status`.
    pub skipped: Vec<Skip>,
    /// Keys of entries a `[[rules]]` entry leaves out (`exclude = true`):
    /// never synced, and never deleted (SPEC §3), so a folder holding one
    /// is kept, even when the other side removed it.
    pub ruled_out: Vec<String>,
    /// Entries under twinsync temp names (exact paths): leftovers of
    /// interrupted copies (swept when their plan is no longer running) and
    /// items parked by a case-only rename (held, put back).
    pub temps: Vec<(String, Kind)>,
    /// Exact paths whose folder listing or `stat` failed (a network error,
    /// `EIO`): unknown now, and listed again at the next cycles until one
    /// listing of them succeeds, so that a change they hide syncs as soon
    /// as the fault heals, not at the next full scan (SPEC §9).
    pub relist: Vec<String>,
}

/// A path a scan could not sync, with why (see [`SideScan::skipped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// Its exact relative path (as spelt on its side; a name that is not
    /// UTF-8 shown with replacement characters).
    pub path: String,
    pub reason: String,
    /// What it is, where that could be read.
    pub meta: Option<Meta>,
    /// Skipped because it could not be read: judged again when it (or its
    /// folder) is listed again.
    pub unreadable: bool,
}

impl Skip {
    /// A path that could not be read (`why`: the error).
    #[must_use]
    pub fn unreadable(path: impl Into<String>, why: &str) -> Self {
        Self {
            path: path.into(),
            reason: format!("cannot be read ({why}); left alone on both sides until it can be"),
            meta: None,
            unreadable: true,
        }
    }

    /// A path skipped for what it is (its name, a link), not a fault.
    #[must_use]
    pub fn named(path: impl Into<String>, reason: impl Into<String>, meta: Option<Meta>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
            meta,
            unreadable: false,
        }
    }
}

/// Why a link, junction or special file is skipped.
pub const LINK_REASON: &str = "symlink, junction or special file: not followed; left alone on both sides (replace it with a real folder or file to sync it)";

impl SideScan {
    /// Holds what lies under twinsync temp names (SPEC §4: unknown is never
    /// absent). Items a case-only rename parked (`parked`: their old and new
    /// names) are unknown until put back. Any other entry under a temp name
    /// that is not a copy's temp file (a folder, a name this build does not
    /// make) may be a user's item under a name we cannot read back: every
    /// path of its folder that this side had at the last sync and lacks now
    /// is held, so it is never deleted on the other side.
    pub fn hold_temps<'k>(
        &mut self,
        parked: &[(String, String)],
        had_before: impl Iterator<Item = &'k str>,
        case_sensitive: bool,
    ) {
        for (original, temp) in parked {
            self.unknown.push(paths::key_of(original, case_sensitive));
            self.problems.push(format!(
                "`{original}` is parked as `{temp}` by an interrupted case-only rename; left alone until it is put back"
            ));
        }
        let parked_temps: HashSet<&str> = parked.iter().map(|(_, t)| t.as_str()).collect();
        let mut folders: Vec<String> = Vec::new();
        for (t, kind) in &self.temps {
            let copy_temp = *kind == Kind::File
                && matches!(
                    paths::parse_temp_name(paths::file_name(t)),
                    Some((_, paths::TempUse::Copy))
                );
            if copy_temp || parked_temps.contains(t.as_str()) {
                continue;
            }
            self.problems.push(format!(
                "`{t}` is a {} under a twinsync temp name (left by an interrupted rename?): what its folder lost since the last sync is held until it is renamed back",
                if *kind == Kind::Dir { "folder" } else { "file" }
            ));
            folders.push(paths::key_of(paths::parent(t), case_sensitive));
        }
        if folders.is_empty() {
            return;
        }
        for k in had_before {
            if folders.iter().any(|f| paths::parent(k) == f) && !self.entries.contains_key(k) {
                self.unknown.push(k.to_owned());
            }
        }
    }

    /// True if `key` lies at or below an unknown key.
    #[must_use]
    pub fn is_unknown(&self, key: &str) -> bool {
        self.unknown.iter().any(|u| paths::is_within(key, u))
    }

    /// True if `key` lies at or below a blocked key (a link, a name the
    /// other side cannot hold).
    #[must_use]
    pub fn is_blocked(&self, key: &str) -> bool {
        self.blocked
            .iter()
            .any(|b| !b.is_empty() && paths::is_within(key, b))
    }

    /// Gives every entry the planner will look at its exact path back.
    /// A scan stores the path only when it differs from the key (to halve
    /// the memory of 90,000 entries); entries found unchanged on both sides
    /// keep the empty path, the rest get `path = key`.
    pub fn restore_paths(&mut self) {
        for (k, e) in &mut self.entries {
            if e.path.is_empty() && !e.unchanged {
                k.clone_into(&mut e.path);
            }
        }
    }

    /// The part of this scan a scoped plan looks at: the entries at or
    /// below `roots` (outermost keys, see [`crate::paths::is_within`]) and
    /// the folders above them (marked unchanged, with their exact path, so
    /// new files are placed in the spelling each side has), plus the
    /// unknown, blocked, temp and problem lists as they are. O(scope), not
    /// O(tree): a watch cycle plans its few changes without copying the
    /// snapshot of every path.
    #[must_use]
    pub fn subset(&self, roots: &[String]) -> SideScan {
        let mut entries: Vec<(String, Entry)> = Vec::new();
        let mut above: Vec<(String, Entry)> = Vec::new();
        for r in roots {
            if r.is_empty() {
                return self.clone();
            }
            entries.extend(
                self.entries
                    .within(r)
                    .map(|(k, e)| (k.to_owned(), e.clone())),
            );
            for up in paths::ancestors_or_self(paths::parent(r)) {
                if let Some(e) = self.entries.get(up) {
                    let mut e = e.clone();
                    if e.path.is_empty() {
                        up.clone_into(&mut e.path);
                    }
                    e.unchanged = true;
                    above.push((up.to_owned(), e));
                }
            }
        }
        // A folder above one root may lie within another: the copy from
        // within the scope (planned) wins over the one marked unchanged.
        above.append(&mut entries);
        let entries = ScanMap::from_vec(above);
        SideScan {
            entries,
            unknown: self.unknown.clone(),
            relist: self.relist.clone(),
            problems: self.problems.clone(),
            blocked: self.blocked.clone(),
            ruled_out: self.ruled_out.clone(),
            skipped: self.skipped.clone(),
            temps: self.temps.clone(),
        }
    }

    /// The coarsest time step this side's drive keeps, learnt from the
    /// mtimes it reports (each one a read-back of what the drive stored):
    /// 2 s (FAT), 1 s (many cloud drives), 1 ms, 1 µs, 100 ns (NTFS) or
    /// 1 ns, the largest that divides at least 90 % of its files' mtimes.
    /// A fine-grained side's mtimes are almost never whole seconds, so the
    /// share tells a drive that rounds from one that does not.
    #[must_use]
    pub fn mtime_step(&self) -> i64 {
        const STEPS: [i64; 5] = [2_000_000_000, 1_000_000_000, 1_000_000, 1_000, 100];
        let mut counts = [0u64; STEPS.len()];
        let mut files = 0u64;
        for e in self.entries.values().filter(|e| e.kind == Kind::File) {
            files += 1;
            for (c, step) in counts.iter_mut().zip(STEPS) {
                if e.mtime.rem_euclid(step) == 0 {
                    *c += 1;
                }
            }
        }
        STEPS
            .into_iter()
            .zip(counts)
            .find(|&(_, c)| files > 0 && c * 10 >= files * 9)
            .map_or(1, |(step, _)| step)
    }

    /// Number of files (not folders).
    #[must_use]
    pub fn file_count(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.kind == Kind::File)
            .count()
    }
}

impl SideScan {
    /// A rescan could not list the folder `dir` (key `dkey`): unknown this
    /// cycle, relisted at the next, and a skipped path (once) until then.
    fn unlisted(&mut self, dir: &str, dkey: String, why: &str) {
        self.problems.push(format!("cannot list `{dir}`: {why}"));
        self.unknown.push(dkey);
        push_new(&mut self.relist, dir);
        if !self.skipped.iter().any(|k| k.unreadable && k.path == dir) {
            self.skipped.push(Skip::unreadable(dir, why));
        }
    }
}

/// Adds `path` to a relist unless it is there.
fn push_new(list: &mut Vec<String>, path: &str) {
    if !list.iter().any(|p| p == path) {
        list.push(path.to_owned());
    }
}

/// How far the walk's list may lag behind in handing its memory back
/// while [`scan_side`] turns it into keyed entries.
const SHRINK_STEP: usize = 1 << 16;

/// Scans one side. The root's marker must have been checked just before.
/// Entries whose path equals their key come back with an empty `path`
/// (stored once); call [`SideScan::restore_paths`] before planning.
///
/// # Errors
/// `Unavailable` if the root cannot be listed or vanished during the walk.
pub fn scan_side(
    fs: &dyn Fs,
    side: Side,
    excluder: &Excluder,
    case_sensitive: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SideScan, Unavailable> {
    let unavailable = |why: String| Unavailable::new(side, fs, why);
    let temps = std::sync::Mutex::new(Vec::new());
    let ruled_out = std::sync::Mutex::new(Vec::new());
    let exclude = |p: &str, d: bool| {
        let name = paths::file_name(p);
        if name != MARKER_NAME
            && paths::is_internal_name(name)
            && let Ok(mut t) = temps.lock()
        {
            t.push((p.to_owned(), if d { Kind::Dir } else { Kind::File }));
        }
        let out = excluder.is_excluded_in_walk(p, d);
        if out
            && excluder.rule_excludes_in_walk(p, d)
            && let Ok(mut r) = ruled_out.lock()
        {
            r.push(paths::key_of(p, case_sensitive));
        }
        out
    };
    let walk = fs
        .walk(&exclude, progress)
        .map_err(|e| unavailable(e.to_string()))?;
    // A root that vanished mid-walk would look like mass deletion.
    if !roots::marker_present(fs) {
        return Err(unavailable(
            "the root or its marker vanished during the scan".into(),
        ));
    }
    let mut out = SideScan {
        temps: temps.into_inner().unwrap_or_default(),
        ruled_out: ruled_out.into_inner().unwrap_or_default(),
        ..SideScan::default()
    };
    for (p, why) in walk.unreadable {
        out.problems.push(format!("cannot list `{p}`: {why}"));
        out.unknown.push(paths::key_of(&p, case_sensitive));
        out.skipped.push(Skip::unreadable(p.clone(), &why));
        out.relist.push(p);
    }
    for (p, why, meta) in walk.skipped {
        out.problems.push(format!("skipped `{p}`: {why}"));
        out.blocked.push(paths::key_of(&p, case_sensitive));
        let why = if bad_name(&p) {
            why
        } else {
            LINK_REASON.into()
        };
        out.skipped.push(Skip::named(p, why, meta));
    }
    let mut invalid_dirs: HashSet<String> = HashSet::new();
    let mut list = walk.entries;
    let mut keyed = map::Builder::adopt(walk.names, list.len());
    // Taken from the back of the list, whose memory is handed back as it
    // empties: the list and the map never both hold the tree. Keys that
    // are their path keep pointing at the walk's text.
    while let Some(w) = list.pop() {
        if list.capacity() - list.len() >= SHRINK_STEP {
            list.shrink_to_fit();
        }
        let path = keyed.text(w.path);
        if let Err(why) = paths::validate_component(paths::file_name(path)) {
            out.problems.push(format!("skipped `{path}`: {why}"));
            out.skipped
                .push(Skip::named(path, why.to_string(), Some(w.meta.clone())));
            out.blocked.push(paths::key_of(path, case_sensitive));
            if w.meta.kind == Kind::Dir {
                invalid_dirs.insert(paths::key_of(path, case_sensitive));
            }
            keyed.unused(w.path);
            continue;
        }
        // An ASCII path is its own key unless case is folded and it has
        // upper case; only then (or for other scripts) is the key made.
        let plain =
            path.is_ascii() && (case_sensitive || !path.bytes().any(|b| b.is_ascii_uppercase()));
        match (!plain).then(|| paths::key_of(path, case_sensitive)) {
            Some(key) if key != path => {
                let path = path.to_owned();
                keyed.unused(w.path);
                keyed.push(&key, Entry::from_meta(path, &w.meta, None));
            }
            // The key is the path: stored once (see `restore_paths`).
            _ => keyed.push_span(w.path, Entry::from_meta(String::new(), &w.meta, None)),
        }
    }
    drop(list);
    let (mut entries, collided) = keyed.finish(|k, a, b| {
        let spelt = |e: &Entry| if e.path.is_empty() { k.to_owned() } else { e.path.clone() };
        let (a, b) = (spelt(a), spelt(b));
        out.problems.push(format!(
            "`{a}` and `{b}` differ only in case or Unicode normalisation; both left alone until one is renamed"
        ));
        for (p, other) in [(&a, &b), (&b, &a)] {
            out.skipped.push(Skip::named(
                p.clone(),
                format!("differs from `{other}` only in case or Unicode form (one name on Windows); rename one"),
                None,
            ));
        }
    });
    // Nothing below a folder whose name is invalid was walked; the folder
    // itself is blocked, not a path to plan.
    entries.remove_all(&invalid_dirs);
    out.entries = entries;
    out.unknown.extend(collided);
    Ok(out)
}

/// Whether a path the file system skipped is skipped for its name (one the
/// other side cannot hold, or not UTF-8), not for being a link or device.
fn bad_name(path: &str) -> bool {
    path.contains('\u{FFFD}') || paths::validate_component(paths::file_name(path)).is_err()
}

#[allow(clippy::implicit_hasher)]
/// Brings a previous scan of a side up to date by re-listing only the
/// folders that file-system events named (SPEC §9: a quiet tree costs
/// nothing, a change costs its folder). `dirty` holds exact relative paths
/// from the events: each one's parent folder is re-listed, and a path that is
/// now a folder is walked (it may have arrived with content).
///
/// # Errors
/// `Unavailable` when the root or its marker is gone.
pub fn rescan_dirs(
    fs: &dyn Fs,
    side: Side,
    excluder: &Excluder,
    case_sensitive: bool,
    cache: &mut SideScan,
    dirty: &HashSet<String>,
) -> Result<(), Unavailable> {
    let unavailable = |why: String| Unavailable::new(side, fs, why);
    if !roots::marker_present(fs) {
        return Err(unavailable("the root or its marker vanished".into()));
    }
    // Folders to re-list: the parents of the named paths, and the named
    // paths that are folders now; shallow ones first.
    let mut dirs: Vec<String> = Vec::new();
    for p in dirty {
        dirs.push(paths::parent(p).to_owned());
        if matches!(fs.stat(p), Ok(Some(m)) if m.kind == Kind::Dir) {
            dirs.push(p.clone());
        }
    }
    dirs.sort_by_key(|d| (d.matches('/').count(), d.clone()));
    dirs.dedup();
    // The paths named now are looked at again: each goes back on the
    // relist below if it still cannot be read.
    cache.relist.retain(|p| !dirty.contains(p));
    let mut done: HashSet<String> = HashSet::new();
    while let Some(dir) = (!dirs.is_empty()).then(|| dirs.remove(0)) {
        let dkey = paths::key_of(&dir, case_sensitive);
        // A link is never listed (that would list what it points to).
        if !done.insert(dkey.clone())
            || (!dir.is_empty() && excluder.is_excluded(&dir, true))
            || cache.is_blocked(&dkey)
        {
            continue;
        }
        let listed = match fs.list_dir(&dir) {
            Ok(l) => l,
            Err(e) if e.is_not_found() && !dkey.is_empty() => {
                // Gone, or a network blip (a dropped share reports "not
                // found" too)? Believe it only if the parent lists fine
                // without it; otherwise the folder is unknown this cycle,
                // which never reads as "deleted".
                let parent = paths::parent(&dir);
                let confirmed = fs.list_dir(parent).is_ok_and(|l| {
                    !l.names()
                        .any(|n| paths::key_of(&paths::join(parent, n), case_sensitive) == dkey)
                });
                if confirmed {
                    cache.ruled_out.retain(|k| !paths::is_within(k, &dkey));
                    cache.skipped.retain(|k| !paths::is_within(&k.path, &dir));
                    cache.entries.remove_all(&HashSet::from([dkey]));
                } else {
                    cache.unlisted(&dir, dkey, &e.to_string());
                }
                continue;
            }
            Err(e) => {
                cache.unlisted(&dir, dkey, &e.to_string());
                continue;
            }
        };
        // Old children of this folder (direct), by key.
        let old: Vec<String> = cache
            .entries
            .children(&dkey)
            .map(|(k, _)| k.to_owned())
            .collect();
        // This folder is listed again: what was unknown in it may be known now.
        let was_unknown: Vec<String> = cache
            .unknown
            .iter()
            .filter(|u| {
                **u == dkey
                    || (!dkey.is_empty() && paths::parent(u) == dkey)
                    || (dkey.is_empty() && !u.contains('/'))
            })
            .cloned()
            .collect();
        cache.unknown.retain(|u| !was_unknown.contains(u));
        // Listed: the folder and its entries leave the relist (those that
        // still cannot be read go back on it just below).
        cache
            .relist
            .retain(|p| *p != dir && (p.is_empty() || paths::parent(p) != dir));
        // Its names are judged again below (and it is readable).
        cache
            .skipped
            .retain(|k| paths::parent(&k.path) != dir && !(k.unreadable && k.path == dir));
        cache
            .blocked
            .retain(|b| b.is_empty() || paths::parent(b) != dkey);
        cache.ruled_out.retain(|k| paths::parent(k) != dkey);
        let mut seen: HashSet<String> = HashSet::new();
        let mut collided: Vec<String> = Vec::new();
        // New keys, and keys to drop with what lies below them: applied in
        // one pass each once the folder is read (a batch of new files must
        // not shift the whole snapshot once per file).
        let mut fresh: Vec<(String, Entry)> = Vec::new();
        let mut gone: HashSet<String> = HashSet::new();
        // Unknown is never absent (SPEC §4/§5): an entry whose stat failed
        // keeps its last known snapshot and everything below it, and nothing
        // at or below it is planned until a scan sees it again.
        for (name, why) in &listed.unreadable {
            let path = paths::join(&dir, name);
            let key = paths::key_of(&path, case_sensitive);
            cache.problems.push(format!("cannot read `{path}`: {why}"));
            cache.skipped.push(Skip::unreadable(path.clone(), why));
            seen.insert(key.clone());
            cache.unknown.push(key);
            push_new(&mut cache.relist, &path);
        }
        for (name, meta) in &listed.skipped {
            let path = paths::join(&dir, name);
            if excluder.is_excluded_in_walk(&path, false) {
                if excluder.rule_excludes_in_walk(&path, false) {
                    cache.ruled_out.push(paths::key_of(&path, case_sensitive));
                }
                continue;
            }
            let why = if bad_name(&path) {
                "name is not valid UTF-8"
            } else {
                LINK_REASON
            };
            cache
                .skipped
                .push(Skip::named(path.clone(), why, meta.clone()));
            let key = paths::key_of(&path, case_sensitive);
            if !cache.blocked.contains(&key) {
                cache.blocked.push(key);
            }
        }
        for (name, meta) in listed.entries {
            let path = paths::join(&dir, &name);
            if name != MARKER_NAME
                && paths::is_internal_name(&name)
                && !cache.temps.iter().any(|(t, _)| *t == path)
            {
                cache.temps.push((path.clone(), meta.kind));
            }
            if excluder.is_excluded_in_walk(&path, meta.kind == Kind::Dir) {
                if excluder.rule_excludes_in_walk(&path, meta.kind == Kind::Dir) {
                    cache.ruled_out.push(paths::key_of(&path, case_sensitive));
                }
                continue;
            }
            if let Err(why) = paths::validate_component(&name) {
                cache
                    .skipped
                    .push(Skip::named(path.clone(), why.to_string(), Some(meta)));
                let key = paths::key_of(&path, case_sensitive);
                if !cache.blocked.contains(&key) {
                    cache.blocked.push(key);
                }
                continue;
            }
            let key = paths::key_of(&path, case_sensitive);
            if seen.contains(&key) {
                // Two names for one identity (case or normalisation): both
                // are left alone until one is renamed, as a full scan does.
                cache.problems.push(format!(
                    "`{path}` collides with another name in `{dir}` (they differ only in case or Unicode form); both left alone until one is renamed"
                ));
                cache.skipped.push(Skip::named(
                    path.clone(),
                    "differs from another name in its folder only in case or Unicode form (one name on Windows); rename one",
                    None,
                ));
                collided.push(key);
                continue;
            }
            let was_dir = cache.entries.get(&key).map(|e| e.kind == Kind::Dir);
            let stored = if key == path {
                String::new()
            } else {
                path.clone()
            };
            let entry = Entry::from_meta(stored, &meta, None);
            if was_dir.is_some() {
                cache.entries.insert(&key, entry);
            } else {
                fresh.push((key.clone(), entry));
            }
            if meta.kind == Kind::Dir && (was_dir != Some(true) || was_unknown.contains(&key)) {
                // A new folder (or one that replaced a file, or one that could
                // not be read before): walk it.
                dirs.push(path.clone());
            }
            if meta.kind != Kind::Dir && was_dir == Some(true) {
                cache.entries.remove_below(&key);
            }
            seen.insert(key);
        }
        cache.entries.insert_many(fresh);
        for k in collided {
            if !cache.unknown.contains(&k) {
                cache.unknown.push(k.clone());
            }
            gone.insert(k);
        }
        gone.extend(old.into_iter().filter(|k| !seen.contains(k)));
        if !gone.is_empty() {
            cache
                .ruled_out
                .retain(|k| !paths::ancestors_or_self(k).any(|a| gone.contains(a)));
        }
        cache.entries.remove_all(&gone);
    }
    // As after a full walk: a root that vanished meanwhile must not leave a
    // half-updated snapshot behind.
    if roots::marker_present(fs) {
        Ok(())
    } else {
        Err(unavailable(
            "the root or its marker vanished during the rescan".into(),
        ))
    }
}

#[cfg(test)]
mod tests;
