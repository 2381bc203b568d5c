//! The pipeline shared by `plan`, `apply` and `watch`:
//! check roots → scan both sides (concurrently) → hash what the rules need →
//! run the engine → a [`Plan`].
//!
//! Invariant: an unavailable side (missing root, missing or foreign marker,
//! root vanished mid-scan) stops the pipeline before any op is planned.

use crate::config::{Config, TrashRoot};
use crate::fs::{Fs, hash_file, real::RealFs};
use crate::plan::engine::{self, Input, Options};
use crate::plan::{FORMAT_VERSION, Plan, Summary};
use crate::scan::{self, Excluder, ScanError, SideScan};
use crate::state::{State, StateError, StateMap};
use crate::{Side, paths};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    State(#[from] StateError),
    /// A safety guard refused before anything was hashed or copied (exit 4).
    #[error("refused: {0}")]
    Guard(String),
}

/// The two roots.
#[derive(Clone)]
pub struct Sides {
    pub left: Arc<dyn Fs>,
    pub right: Arc<dyn Fs>,
}

impl Sides {
    /// The real roots of a config.
    #[must_use]
    pub fn real(c: &Config) -> Self {
        Self {
            left: Arc::new(RealFs::new(&c.left_root)),
            right: Arc::new(RealFs::new(&c.right_root)),
        }
    }

    #[must_use]
    pub fn get(&self, s: Side) -> &dyn Fs {
        match s {
            Side::Left => self.left.as_ref(),
            Side::Right => self.right.as_ref(),
        }
    }
}

/// A path below `root` as a relative path, if it lies there.
fn rel_inside(root: &Path, p: &Path) -> Option<String> {
    p.strip_prefix(root)
        .ok()
        .map(|r| r.to_string_lossy().replace('\\', "/"))
        .filter(|r| !r.is_empty())
}

/// What is never synced on a side.
///
/// # Errors
/// Only for bad patterns, which config validation already rejects.
pub fn excluder(c: &Config, side: Side) -> Result<Excluder, String> {
    let trash = match c.trash(side) {
        TrashRoot::Inside(rel) => Some(rel.as_str()),
        TrashRoot::Outside(_) => None,
    };
    let root = c.root(side);
    let extra: Vec<String> = [&c.log_file, &c.state_db]
        .into_iter()
        .filter_map(|p| rel_inside(root, p))
        .collect();
    Excluder::new(&c.raw.exclude, c.case_sensitive, trash, Some(&extra))
}

/// Makes sure the state DB knows both root ids, adopting the markers when
/// the DB is new (SPEC §4). Never writes a marker.
///
/// # Errors
/// `Unavailable` when a root or its marker is missing.
pub fn ensure_root_ids(state: &State, sides: &Sides) -> Result<(String, String), SyncError> {
    let mut ids = Vec::with_capacity(2);
    for side in Side::BOTH {
        let id = if let Some(id) = state.root_id(side)? {
            id
        } else {
            let fs = sides.get(side);
            let m = scan::read_marker(fs, side)?.ok_or_else(|| ScanError::Unavailable {
                side,
                root: fs.root_display(),
                why: format!(
                    "marker {} is missing: run `twinsync init` first",
                    paths::MARKER_NAME
                ),
            })?;
            state.set_meta(&format!("{side}_root_id"), &m.root_id)?;
            m.root_id
        };
        ids.push(id);
    }
    let right = ids.pop().unwrap_or_default();
    let left = ids.pop().unwrap_or_default();
    Ok((left, right))
}

type ScanResult = Result<SideScan, ScanError>;

/// Walks both sides at once (each walk is itself parallel).
pub fn scan_both(
    sides: &Sides,
    ex_l: &Excluder,
    ex_r: &Excluder,
    cs: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> (ScanResult, ScanResult) {
    std::thread::scope(|s| {
        let l = s.spawn(|| scan::scan_side(sides.left.as_ref(), Side::Left, ex_l, cs, progress));
        let r = scan::scan_side(sides.right.as_ref(), Side::Right, ex_r, cs, progress);
        let l = l.join().unwrap_or_else(|_| {
            Err(ScanError::Unavailable {
                side: Side::Left,
                root: sides.left.root_display(),
                why: "scanner thread panicked".into(),
            })
        });
        (l, r)
    })
}

/// Extra inputs of one planning run.
#[derive(Default)]
pub struct PlanRequest<'a> {
    /// Keys to leave alone (in flight in the large-file lane, backing off).
    pub hold: Option<&'a HashSet<String>>,
    /// Now, in ns (for `min_file_age_seconds`).
    pub now_ns: i64,
    pub forced: bool,
    /// Called with the number of entries scanned so far.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Scans already made (watch keeps them up to date from watcher events);
    /// the roots are still checked, but not walked.
    pub scans: Option<[SideScan; 2]>,
}

/// Checks both roots, scans, hashes and plans.
///
/// # Errors
/// `Unavailable` (exit 3) or state errors.
pub fn make_plan(
    c: &Config,
    sides: &Sides,
    state: &State,
    req: PlanRequest<'_>,
) -> Result<(Plan, [SideScan; 2]), SyncError> {
    let (left_id, right_id) = ensure_root_ids(state, sides)?;
    // Keys written by an older build follow the current identity scheme.
    state.rekey(|p| paths::key_of(p, c.case_sensitive))?;
    scan::check_root(sides.left.as_ref(), Side::Left, &left_id)?;
    scan::check_root(sides.right.as_ref(), Side::Right, &right_id)?;
    let ex_l = excluder(c, Side::Left).map_err(|why| ScanError::Unavailable {
        side: Side::Left,
        root: sides.left.root_display(),
        why,
    })?;
    let ex_r = excluder(c, Side::Right).map_err(|why| ScanError::Unavailable {
        side: Side::Right,
        root: sides.right.root_display(),
        why,
    })?;
    let cs = c.case_sensitive;
    let noop = |_: u64| {};
    let progress: &(dyn Fn(u64) + Sync) = req.progress.unwrap_or(&noop);
    // Scan both sides concurrently (unless the caller has fresh scans).
    let (ls, rs) = if let Some([l, r]) = req.scans {
        (Ok(l), Ok(r))
    } else {
        scan_both(sides, &ex_l, &ex_r, cs, progress)
    };
    let (mut ls, mut rs) = (ls?, rs?);
    let conflicts = state.conflicts()?;
    // Only the snapshots of paths that changed are kept (the hot path's memory).
    let files = state.load_files_where(|k, row| {
        if conflicts.contains_key(k)
            || !engine::unchanged_on_both(k, row, ls.entries.get(k), rs.entries.get(k))
        {
            return true;
        }
        for scan in [&mut ls, &mut rs] {
            if let Some(e) = scan.entries.get_mut(k) {
                e.unchanged = true;
                // Its exact path is never needed again when it equals the key
                // or names a file (only folders' exact spelling is used, to
                // place new files inside them): free it. Keys are NFC, so a
                // folder's path may differ from its key even when case-sensitive.
                if e.kind == crate::Kind::File || e.path == k {
                    e.path = String::new();
                }
            }
        }
        false
    })?;
    ls.restore_paths();
    rs.restore_paths();
    // What lies under temp names is held, never read as deleted.
    let parked = state.parked()?;
    for (side, scan) in [(Side::Left, &mut ls), (Side::Right, &mut rs)] {
        let mine: Vec<(String, String)> = parked
            .iter()
            .filter(|p| p.side == side)
            .flat_map(|p| {
                [
                    (p.original.clone(), p.temp_path.clone()),
                    (p.target.clone(), p.temp_path.clone()),
                ]
            })
            .collect();
        let had = files
            .keys()
            .filter(|k| files.get(k).is_some_and(|r| r.side(side).is_some()));
        scan.hold_temps(&mine, had, cs);
    }
    // The mass-change guard (SPEC §6 "Safety guards") counts from size and
    // mtime alone, before anything is hashed or copied.
    let changed = count_content_changes(&files, &ls, &rs);
    let files_now = [ls.file_count() as u64, rs.file_count() as u64];
    if !req.forced
        && let Some(why) = change_guard(
            changed,
            files_now,
            c.raw.safety.max_change_percent,
            c.raw.safety.max_delete_min_files,
        )
    {
        return Err(SyncError::Guard(why));
    }
    let generation = state.generation()?;
    let opts = Options::from_config(c);

    let mut deferred: HashSet<String> = req.hold.cloned().unwrap_or_default();
    let min_age = i64::try_from(c.raw.transfer.min_file_age_seconds).unwrap_or(0) * 1_000_000_000;
    if min_age > 0 {
        for s in [&ls, &rs] {
            for (k, e) in &s.entries {
                if e.kind == crate::Kind::File
                    && e.mtime > req.now_ns - min_age
                    && e.mtime <= req.now_ns + 1_000_000_000
                {
                    deferred.insert(k.clone());
                }
            }
        }
    }

    // Sides whose listings carry no file ids (Windows): ask for the ids of
    // the new files where a file is also gone on that side (possible moves).
    for (side, scan) in [(Side::Left, &mut ls), (Side::Right, &mut rs)] {
        fill_move_ids(sides.get(side), side, scan, &files);
    }
    let wanted = {
        let input = Input {
            left: &ls,
            right: &rs,
            state: &files,
            conflicts: &conflicts,
            deferred: &deferred,
            opts: &opts,
        };
        engine::hash_requests(&input)
    };
    if !wanted.is_empty() {
        let (wl, wr): (Vec<_>, Vec<_>) = wanted.into_iter().partition(|(s, _)| *s == Side::Left);
        let hash_side = |fs: &dyn Fs,
                         scan: &SideScan,
                         keys: Vec<(Side, String)>|
         -> Vec<(String, Result<String, String>)> {
            keys.into_iter()
                .filter_map(|(_, k)| {
                    let path = scan.entries.get(&k)?.path.clone();
                    Some((k, hash_file(fs, &path).map_err(|e| e.to_string())))
                })
                .collect()
        };
        let (hl, hr) = std::thread::scope(|s| {
            let h = s.spawn(|| hash_side(sides.left.as_ref(), &ls, wl));
            let r = hash_side(sides.right.as_ref(), &rs, wr);
            (h.join().unwrap_or_default(), r)
        });
        for (scan, hashes) in [(&mut ls, hl), (&mut rs, hr)] {
            for (k, h) in hashes {
                match h {
                    Ok(h) => {
                        if let Some(e) = scan.entries.get_mut(&k) {
                            e.hash = Some(h);
                        }
                    }
                    Err(why) => {
                        // Locked or vanished while hashing: try next cycle.
                        scan.problems.push(format!("cannot hash: {why}"));
                        deferred.insert(k);
                    }
                }
            }
        }
    }

    let input = Input {
        left: &ls,
        right: &rs,
        state: &files,
        conflicts: &conflicts,
        deferred: &deferred,
        opts: &opts,
    };
    let (mut ops, deferred_n) = engine::reconcile(&input);
    record_ids(sides, &mut ops);
    let mut summary = Summary::of(&ops);
    summary.deferred = deferred_n;
    [summary.files_left, summary.files_right] = files_now;
    [summary.changed_left, summary.changed_right] = changed;
    let mut problems: Vec<String> = ls.problems.iter().map(|p| format!("left: {p}")).collect();
    problems.extend(rs.problems.iter().map(|p| format!("right: {p}")));
    let plan = Plan {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        plan_id: uuid::Uuid::new_v4().to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        left_root: c.left_root.display().to_string(),
        right_root: c.right_root.display().to_string(),
        left_root_id: left_id,
        right_root_id: right_id,
        base_generation: generation,
        forced: req.forced,
        config: opts.plan_config(),
        summary,
        ops,
        problems,
    };
    Ok((plan, [ls, rs]))
}

/// Fills in, a little at a time, the content hashes of pairs adopted by
/// size and mtime on the first run, so that a later re-stamp (antivirus,
/// backup tool, cloud client) is told from an edit even when the other side
/// changed too (SPEC §5). Reads only the left side (the local share), never
/// a cloud placeholder, never a file that changed since its snapshot, and
/// stops after `budget`. `cursor` is the last key looked at (kept by the
/// caller; empty to start over). Returns the number of pairs hashed.
///
/// # Errors
/// State DB errors.
pub fn hash_adopted(
    c: &Config,
    sides: &Sides,
    state: &State,
    cursor: &mut String,
    budget: std::time::Duration,
) -> Result<usize, StateError> {
    let start = std::time::Instant::now();
    let pairs = state.unhashed_pairs(cursor, 256, c.raw.transfer.hash_max_bytes)?;
    if pairs.is_empty() {
        cursor.clear(); // wrap around: a skipped one may be readable now
        return Ok(0);
    }
    let fs = sides.left.as_ref();
    let same = |m: &crate::fs::Meta, e: &crate::Entry| {
        m.kind == crate::Kind::File && m.size == e.size && m.mtime == e.mtime && !m.offline
    };
    let mut n = 0;
    for (key, row) in pairs {
        if start.elapsed() >= budget {
            break;
        }
        cursor.clone_from(&key);
        let (Some(l), Some(r)) = (row.left, row.right) else {
            continue;
        };
        let hash = if let Some(h) = l.hash.clone().or(r.hash) {
            h
        } else {
            if !matches!(fs.stat(&l.path), Ok(Some(m)) if same(&m, &l)) {
                continue;
            }
            let Ok(h) = hash_file(fs, &l.path) else {
                continue;
            };
            if !matches!(fs.stat(&l.path), Ok(Some(m)) if same(&m, &l)) {
                continue; // written while we read it
            }
            h
        };
        if state.store_pair_hash(&key, l.size, l.mtime, &hash)? {
            n += 1;
        }
    }
    Ok(n)
}

/// Where a side's listing has no file ids (Windows): when a file is gone on
/// that side since the last sync, the ids of the files new there are asked
/// for one by one (a handle with no data access each), so moves are found
/// by id. Nothing is asked when nothing is gone, or when ids are listed.
fn fill_move_ids(fs: &dyn Fs, side: Side, scan: &mut SideScan, files: &StateMap) {
    let gone = files.keys().any(|k| {
        files.get(k).is_some_and(|r| r.side(side).is_some()) && !scan.entries.contains_key(k)
    });
    if !gone {
        return;
    }
    for (k, e) in &mut scan.entries {
        if e.id.is_none()
            && !e.unchanged
            && e.kind == crate::Kind::File
            && files.get(k).is_none_or(|r| r.side(side).is_none())
        {
            let path = if e.path.is_empty() {
                k.as_str()
            } else {
                e.path.as_str()
            };
            e.id = fs.file_id(path);
        }
    }
}

/// Where a side's listing has no file ids (Windows), the snapshots a plan
/// records (adoption, identical files) get their ids asked for, so that a
/// later move of them is found by id.
fn record_ids(sides: &Sides, ops: &mut [crate::plan::Op]) {
    for op in ops
        .iter_mut()
        .filter(|o| o.kind == crate::plan::OpKind::Record)
    {
        let Some(r) = op.record.as_mut() else {
            continue;
        };
        for (side, e) in [
            (Side::Left, r.left.as_mut()),
            (Side::Right, r.right.as_mut()),
        ] {
            if let Some(e) = e
                && e.id.is_none()
                && e.kind == crate::Kind::File
            {
                e.id = sides.get(side).file_id(&e.path);
            }
        }
    }
}

/// Per side, the files whose size or mtime differ from that side's own
/// snapshot (content changes as metadata tells them, before any hashing).
fn count_content_changes(files: &StateMap, ls: &SideScan, rs: &SideScan) -> [u64; 2] {
    let mut n = [0u64; 2];
    for key in files.keys() {
        let Some(row) = files.get(key) else { continue };
        for (i, (prev, scan)) in [(row.left.as_ref(), ls), (row.right.as_ref(), rs)]
            .into_iter()
            .enumerate()
        {
            if let (Some(p), Some(cur)) = (prev, scan.entries.get(key))
                && p.kind == crate::Kind::File
                && cur.kind == crate::Kind::File
                && (p.size != cur.size || p.mtime != cur.mtime)
            {
                n[i] += 1;
            }
        }
    }
    n
}

/// The mass-change guard: `Some(why)` when more than `max_percent` of a
/// side's files (and at least `min_files`) changed content since the last sync.
#[must_use]
pub fn change_guard(
    changed: [u64; 2],
    files: [u64; 2],
    max_percent: u64,
    min_files: u64,
) -> Option<String> {
    for (side, n, total) in [
        (Side::Left, changed[0], files[0]),
        (Side::Right, changed[1], files[1]),
    ] {
        if n >= min_files.max(1) && n * 100 > max_percent * total.max(1) {
            return Some(format!(
                "{n} of {total} files on the {side} side changed content since the last sync (over the {max_percent}% limit of [safety] max_change_percent); \
                 nothing was hashed or copied. Check what rewrote them (a cloud client re-stamping files, ransomware), then re-run with --force if this is intended"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::change_guard;

    #[test]
    fn change_guard_needs_share_and_minimum() {
        assert!(change_guard([0, 0], [100, 100], 50, 20).is_none());
        assert!(
            change_guard([50, 0], [100, 100], 50, 20).is_none(),
            "50% is not over 50%"
        );
        let why = change_guard([0, 51], [100, 100], 50, 20).unwrap();
        assert!(
            why.contains("right") && why.contains("max_change_percent"),
            "{why}"
        );
        assert!(
            change_guard([19, 0], [20, 20], 50, 20).is_none(),
            "below the minimum count"
        );
        assert!(change_guard([20, 0], [20, 20], 50, 20).is_some());
    }
}
