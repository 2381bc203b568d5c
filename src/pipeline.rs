//! The planning pipeline shared by `plan`, `apply` and `watch`:
//! check roots → scan both sides (concurrently) → the mass-change guard →
//! hash what the rules need → run the engine → a [`Plan`].
//! Also the spare-time hashing of pairs adopted by metadata
//! ([`hash_adopted`]).
//!
//! Invariants: an unavailable side (missing root, missing or foreign marker,
//! root vanished mid-scan) stops the pipeline before any op is planned; the
//! mass-change guard refuses before anything is hashed or copied.

use crate::config::Config;
use crate::exclude::Excluder;
use crate::fs::{Fs, hash_file};
use crate::plan::engine::{self, Input, Options};
use crate::plan::{FORMAT_VERSION, Plan, Summary, guard};
use crate::roots::{self, RootError, Sides, Unavailable};
use crate::scan::{self, SideScan};
use crate::state::{State, StateError, StateMap};
use crate::{PerSide, Side, paths};
use std::collections::HashSet;

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error(transparent)]
    State(#[from] StateError),
    /// A safety guard refused before anything was hashed or copied (exit 4).
    #[error("refused: {0}")]
    Guard(guard::Refusal),
}

impl From<RootError> for PipelineError {
    fn from(e: RootError) -> Self {
        match e {
            RootError::Unavailable(u) => Self::Unavailable(u),
            RootError::State(s) => Self::State(s),
        }
    }
}

type ScanResult = Result<SideScan, Unavailable>;

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
            Err(Unavailable::new(
                Side::Left,
                sides.left.as_ref(),
                "scanner thread panicked",
            ))
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
    pub scans: Option<PerSide<SideScan>>,
    /// The keys that may have changed since everything else was last in
    /// sync (a watch cycle's event paths, on either side, with its failed
    /// and conflicting paths): only they and what lies below them are
    /// planned; the state rows of the rest are not even read. `scans` must
    /// hold every entry at or below them (a key with a state row and no
    /// entry reads as deleted). `None`: plan everything.
    pub scope: Option<Vec<String>>,
    /// Files on each side, when the scans given are a scoped subset of the
    /// tree (for the safety guards' percentages).
    pub files_now: Option<PerSide<u64>>,
}

/// The keys of `keys` not at or below another one, ascending (`""` is the
/// root: it covers everything).
#[must_use]
pub fn outermost(mut keys: Vec<String>) -> Vec<String> {
    keys.sort_unstable();
    keys.dedup();
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        // Sorted: an enclosing key sorts before everything below it, though
        // not always right before (`a`, `a b`, `a/x`): test against all kept.
        if !out.iter().any(|o| o.is_empty() || paths::is_within(&k, o)) {
            out.push(k);
        }
    }
    out
}

/// Advances a cursor over a scan's entries to `key` (keys ascending) and
/// returns its entry if the scan has one. Keys asked out of order only
/// miss (the path is then planned in full, never skipped).
fn seek<'a>(
    cur: &mut std::iter::Peekable<crate::scan::map::IterMut<'a>>,
    key: &str,
) -> Option<&'a mut crate::Entry> {
    while cur.peek().is_some_and(|(k, _)| *k < key) {
        cur.next();
    }
    if cur.peek().is_some_and(|(k, _)| *k == key) {
        cur.next().map(|(_, e)| e)
    } else {
        None
    }
}

/// Notes since when a side is unavailable (for the health verdict), then
/// gives the error to return.
fn outage(state: &State, u: Unavailable) -> PipelineError {
    let _ = state.note_unavailable(u.side, true);
    PipelineError::Unavailable(u)
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
) -> Result<(Plan, PerSide<SideScan>), PipelineError> {
    let (left_id, right_id) = match roots::check(state, sides) {
        Err(RootError::Unavailable(u)) => return Err(outage(state, u)),
        other => other?,
    };
    // Keys written by an older build follow the current identity scheme.
    state.rekey(|p| paths::key_of(p, c.case_sensitive))?;
    let ex_l = c
        .excluder(Side::Left)
        .map_err(|why| Unavailable::new(Side::Left, sides.left.as_ref(), why))?;
    let ex_r = c
        .excluder(Side::Right)
        .map_err(|why| Unavailable::new(Side::Right, sides.right.as_ref(), why))?;
    let cs = c.case_sensitive;
    let noop = |_: u64| {};
    let progress: &(dyn Fn(u64) + Sync) = req.progress.unwrap_or(&noop);
    // Scan both sides concurrently (unless the caller has fresh scans).
    let scan_start = std::time::Instant::now();
    let (ls, rs) = if let Some(PerSide { left: l, right: r }) = req.scans {
        (Ok(l), Ok(r))
    } else {
        scan_both(sides, &ex_l, &ex_r, cs, progress)
    };
    let ls = ls.map_err(|u| outage(state, u))?;
    let (mut ls, mut rs) = (ls, rs.map_err(|u| outage(state, u))?);
    for side in Side::BOTH {
        state.note_unavailable(side, false)?;
    }
    // The names neither side can sync until they are renamed, for `status`
    // and the report (with since when), as of this plan.
    let mut skipped: Vec<(Side, String, String)> = [(Side::Left, &ls), (Side::Right, &rs)]
        .into_iter()
        .flat_map(|(side, s)| {
            s.skipped
                .iter()
                .map(move |(p, r)| (side, p.clone(), r.clone()))
        })
        .collect();
    skipped.sort();
    skipped.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    state.set_skipped(&skipped)?;
    crate::debugln!(
        "scan: {} entries on the left, {} on the right ({})",
        ls.entries.len(),
        rs.entries.len(),
        crate::human::duration(scan_start.elapsed())
    );
    let conflicts = state.conflicts()?;
    // Only the snapshots of paths that changed are kept (the hot path's memory).
    // A scoped plan: everything outside the scope counts as unchanged on
    // both sides, and only the scope's state rows are read.
    let scope = req.scope.map(|keys| {
        let roots = outermost(keys);
        for scan in [&mut ls, &mut rs] {
            for e in scan.entries.values_mut() {
                e.unchanged = true;
            }
            for r in &roots {
                for (_, e) in scan.entries.within_mut(r) {
                    e.unchanged = false;
                }
            }
        }
        roots
    });
    // The state rows arrive in key order, the scans are maps in key order:
    // one merge pass, no lookup per path.
    let mut lc = ls.entries.iter_mut().peekable();
    let mut rc = rs.entries.iter_mut().peekable();
    let files = state.load_files_within(scope.as_deref(), |k, row| {
        let (l, r) = (seek(&mut lc, k), seek(&mut rc, k));
        if conflicts.contains_key(k)
            || !engine::unchanged_on_both(k, row, l.as_deref(), r.as_deref())
        {
            return true;
        }
        for e in [l, r].into_iter().flatten() {
            e.unchanged = true;
            // Its exact path is never needed again when it equals the key
            // or names a file (only folders' exact spelling is used, to
            // place new files inside them): free it. Keys are NFC, so a
            // folder's path may differ from its key even when case-sensitive.
            if e.kind == crate::Kind::File || e.path == k {
                e.path = String::new();
            }
        }
        false
    })?;
    drop((lc, rc));
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
    let files_now = req
        .files_now
        .unwrap_or_else(|| PerSide::new(ls.file_count() as u64, rs.file_count() as u64));
    if !req.forced
        && let Some(why) = guard::change_guard(
            changed,
            files_now,
            c.raw.safety.max_change_percent,
            c.raw.safety.max_delete_min_files,
        )
    {
        return Err(PipelineError::Guard(why));
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
                    deferred.insert(k.to_owned());
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
    crate::debugln!(
        "plan: {} operation{}, {deferred_n} left for a later cycle ({} with the scan)",
        ops.len(),
        if ops.len() == 1 { "" } else { "s" },
        crate::human::duration(scan_start.elapsed())
    );
    record_ids(sides, &mut ops);
    let mut summary = Summary::of(&ops, &opts.plan_config());
    summary.deferred = deferred_n;
    (summary.files_left, summary.files_right) = (files_now.left, files_now.right);
    (summary.changed_left, summary.changed_right) = (changed.left, changed.right);
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
    Ok((plan, PerSide::new(ls, rs)))
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
                k
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
    for op in ops.iter_mut() {
        let crate::plan::Step::Record(r) = &mut op.step else {
            continue;
        };
        for (side, e) in [
            (Side::Left, r.record.left.as_mut()),
            (Side::Right, r.record.right.as_mut()),
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
fn count_content_changes(files: &StateMap, ls: &SideScan, rs: &SideScan) -> PerSide<u64> {
    let mut n = PerSide::new(0u64, 0u64);
    for key in files.keys() {
        let Some(row) = files.get(key) else { continue };
        for (side, prev, scan) in [
            (Side::Left, row.left.as_ref(), ls),
            (Side::Right, row.right.as_ref(), rs),
        ] {
            if let (Some(p), Some(cur)) = (prev, scan.entries.get(key))
                && p.kind == crate::Kind::File
                && cur.kind == crate::Kind::File
                && (p.size != cur.size
                    || p.mtime != cur.mtime
                    || crate::plan::engine::replaced(p, cur))
            {
                n[side] += 1;
            }
        }
    }
    n
}
