//! The planning pipeline shared by `plan`, `apply` and `watch`, as named
//! stages ([`make_plan`]): check roots → scan both sides (concurrently) →
//! load state → hold parked, and what was renamed to a skipped name → the
//! mass-change guard → defer young files →
//! hash what the rules need → reconcile (the engine) → assemble a [`Plan`].
//! Each stage is a function whose inputs and outputs are in its signature;
//! what the engine plans from is gathered in one [`Work`], whose
//! [`Work::input`] is the one place the engine's [`Input`] is built (the
//! hashing stage asks the engine what to hash, fills the hashes in, and the
//! engine then reads the same `Work`).
//! Also the spare-time hashing of pairs adopted by metadata
//! ([`hash_adopted`]).
//!
//! Invariants: an unavailable side (missing root, missing or foreign marker,
//! root vanished mid-scan) stops the pipeline before any op is planned; the
//! mass-change guard refuses before anything is hashed or copied; a file
//! that cannot be hashed now (locked, vanished, its hashing thread died) is
//! left for a later cycle with the reason among the plan's problems, never
//! planned without its hash.

use crate::config::Config;
use crate::exclude::Excluder;
use crate::fs::{ErrorClass, Fs, FsError, hash_file};
use crate::plan::engine::{self, Input, Options};
use crate::plan::{FORMAT_VERSION, Op, Plan, Summary, guard};
use crate::roots::{self, RootError, Sides, Unavailable};
use crate::scan::{self, SideScan};
use crate::state::{Availability, ConflictRecord, State, StateError, StateMap};
use crate::{PerSide, Side, paths};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

mod adopted;
pub use adopted::hash_adopted;

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
        e.unpack()
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

/// The scans and scope of a plan of only what changed (see
/// [`PlanRequest::scope`]), cut from each side's whole scan (`whole`):
/// the outermost `roots` widened by the clash names (SPEC §6 "Clash
/// copies") already taken next to each root on either side, up to the
/// first free one, then each side's entries at or below them. A conflict
/// in the scope picks its clash name from what the scans hold: a taken
/// name left outside them would read as free (and every step of that
/// conflict then be skipped as drifted).
#[must_use]
pub fn scoped_scans(
    whole: PerSide<&SideScan>,
    roots: Vec<String>,
    clash_suffix: &str,
    case_sensitive: bool,
) -> (Vec<String>, PerSide<SideScan>) {
    let mut keys = outermost(roots);
    let taken: Vec<String> = keys
        .iter()
        .filter(|r| !r.is_empty())
        .flat_map(|r| {
            (1..)
                .map(move |n| paths::key_of(&paths::clash_name(r, clash_suffix, n), case_sensitive))
                .take_while(|k| whole.values().any(|s| s.entries.contains_key(k)))
        })
        .collect();
    if !taken.is_empty() {
        keys.extend(taken);
        keys = outermost(keys);
    }
    let scans = PerSide::from_fn(|side| whole[side].subset(&keys));
    (keys, scans)
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

/// Notes since when a side is unavailable (for the health verdict and the
/// alert), then gives the error to return. A failure to note it is said on
/// stderr: the outage itself is what the caller must hear about.
fn outage(cfg: &Config, state: &State, u: Unavailable) -> PipelineError {
    if let Err(e) = note_side(cfg, state, u.side, Some(&u)) {
        crate::errln!("cannot note that the {} side is unavailable: {e}", u.side);
    }
    PipelineError::Unavailable(u)
}

/// Notes in the state DB whether `side` is available (`why`: why not)
/// and, when the DB did not know it yet, queues its alert (SPEC §4, §11):
/// one when an outage starts and one when the side is back, with since
/// when and for how long. The DB, not a process, remembers the outage, so
/// whichever run sees the change first (`plan`, `apply`, `watch`, a
/// restarted `watch`) alerts, and no later run alerts again.
///
/// # Errors
/// State DB errors (then nothing is queued).
pub fn note_side(
    cfg: &Config,
    state: &State,
    side: Side,
    why: Option<&Unavailable>,
) -> Result<Option<Availability>, StateError> {
    let change = state.note_unavailable(side, why.is_some())?;
    if !cfg.raw.email.enabled {
        return Ok(change);
    }
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map_or_else(|_| t.to_owned(), |t| crate::human::time(&t))
    };
    match (&change, why) {
        (Some(Availability::Went { since }), Some(u)) => crate::alert::try_enqueue(
            state,
            "unavailable",
            &format!("{side} side unavailable"),
            &format!(
                "Side: {side}\nUnavailable since: {}\nError: {u}\n\nSyncing is paused until it is back (twinsync keeps checking); nothing is deleted meanwhile. You get one more email when it is back.",
                at(since)
            ),
        )?,
        (Some(Availability::Back { since }), None) => {
            let lasted = chrono::DateTime::parse_from_rfc3339(since)
                .ok()
                .and_then(|t| (chrono::Utc::now() - t.to_utc()).to_std().ok())
                .map_or_else(|| "unknown".to_owned(), crate::human::duration);
            crate::alert::try_enqueue(
                state,
                "recovered",
                &format!("{side} side available again"),
                &format!(
                    "Side: {side}\nUnavailable since: {} (for {lasted})\n\nSyncing resumed.",
                    at(since)
                ),
            )?;
        }
        _ => {}
    }
    Ok(change)
}

/// What the engine plans from, gathered by the stages before it.
struct Work {
    scans: PerSide<SideScan>,
    /// The state rows of the paths that may have changed.
    files: StateMap,
    conflicts: HashMap<String, ConflictRecord>,
    /// Keys to leave for a later cycle (held, too young, not hashable now).
    deferred: HashSet<String>,
    opts: Options,
}

impl Work {
    /// The engine's view of the work (the one place its `Input` is built).
    fn input(&self) -> Input<'_> {
        Input {
            left: &self.scans.left,
            right: &self.scans.right,
            state: &self.files,
            conflicts: &self.conflicts,
            deferred: &self.deferred,
            opts: &self.opts,
        }
    }
}

/// Per side: files whose content changed as size and mtime tell it, and
/// files now (the guards' percentages and the plan summary).
struct Counts {
    changed: PerSide<u64>,
    files_now: PerSide<u64>,
}

/// What the roots are and what the state says before anything is planned.
struct Header {
    /// The root ids (left, right) the plan is bound to.
    root_ids: (String, String),
    /// The state generation the plan is based on.
    generation: i64,
    forced: bool,
}

/// Checks both roots, scans, hashes and plans: the stages below, in order.
///
/// # Errors
/// `Unavailable` (exit 3), `Guard` (exit 4) or state errors.
pub fn make_plan(
    cfg: &Config,
    sides: &Sides,
    state: &State,
    req: PlanRequest<'_>,
) -> Result<(Plan, PerSide<SideScan>), PipelineError> {
    let root_ids = check_roots(cfg, state, sides)?;
    // Keys written by an older build follow the current identity scheme.
    state.rekey(|p| paths::key_of(p, cfg.case_sensitive))?;
    let started = Instant::now();
    let mut scans = scan_sides(cfg, sides, state, req.scans, req.progress, started)?;
    let scope = req.scope.map(outermost);
    let (files, conflicts) = load_state(state, &mut scans, scope.as_deref())?;
    hold_parked(state, &mut scans, &files, cfg.case_sensitive)?;
    engine::hold_renamed(&files, &mut scans, cfg.case_sensitive);
    let counts = mass_change_guard(cfg, &files, &scans, req.files_now, req.forced)?;
    let header = Header {
        root_ids,
        generation: state.generation()?,
        forced: req.forced,
    };
    let deferred = defer_young(cfg, &scans, req.hold, req.now_ns);
    let mut work = Work {
        scans,
        files,
        conflicts,
        deferred,
        opts: Options::from_config(cfg),
    };
    let unreadable = hash_wanted(sides, &mut work);
    record_skipped(state, &work.scans, unreadable)?;
    let (ops, deferred_n) = reconcile(sides, &work, started);
    forget_settled_failures(state, &work, &ops, scope.as_deref())?;
    let plan = assemble(cfg, header, &counts, &work, ops, deferred_n);
    Ok((plan, work.scans))
}

/// Stage 7b: the paths neither side can sync until they are renamed,
/// replaced or readable again, for `status`, the report and the verdict
/// (with since when), as of this plan: the scan's skipped names, and the
/// files that could not be read to hash them (`unreadable`).
fn record_skipped(
    state: &State,
    scans: &PerSide<SideScan>,
    unreadable: Vec<(Side, String, String)>,
) -> Result<(), PipelineError> {
    let mut skipped: Vec<(Side, String, String)> = scans
        .iter()
        .flat_map(|(side, s)| {
            s.skipped
                .iter()
                .map(move |k| (side, k.path.clone(), k.reason.clone()))
        })
        .chain(unreadable)
        .collect();
    skipped.sort();
    skipped.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    Ok(state.set_skipped(&skipped)?)
}

/// Stage 1: both roots and their markers; returns their ids (left, right).
fn check_roots(
    cfg: &Config,
    state: &State,
    sides: &Sides,
) -> Result<(String, String), PipelineError> {
    match roots::check(state, sides) {
        Err(RootError::Unavailable(u)) => Err(outage(cfg, state, u)),
        other => Ok(other?),
    }
}

/// Stage 2: both sides scanned at once (or the scans the caller keeps up to
/// date taken as they are); notes both sides available and the names
/// neither side can sync until they are renamed.
fn scan_sides(
    cfg: &Config,
    sides: &Sides,
    state: &State,
    given: Option<PerSide<SideScan>>,
    progress: Option<&(dyn Fn(u64) + Sync)>,
    started: Instant,
) -> Result<PerSide<SideScan>, PipelineError> {
    let ex_l = cfg
        .excluder(Side::Left)
        .map_err(|why| Unavailable::new(Side::Left, sides.left.as_ref(), why.to_string()))?;
    let ex_r = cfg
        .excluder(Side::Right)
        .map_err(|why| Unavailable::new(Side::Right, sides.right.as_ref(), why.to_string()))?;
    let noop = |_: u64| {};
    let progress: &(dyn Fn(u64) + Sync) = progress.unwrap_or(&noop);
    let (ls, rs) = if let Some(PerSide { left: l, right: r }) = given {
        (Ok(l), Ok(r))
    } else {
        scan_both(sides, &ex_l, &ex_r, cfg.case_sensitive, progress)
    };
    let ls = ls.map_err(|u| outage(cfg, state, u))?;
    let scans = PerSide::new(ls, rs.map_err(|u| outage(cfg, state, u))?);
    for side in Side::BOTH {
        note_side(cfg, state, side, None)?;
    }
    crate::debugln!(
        "scan: {} on the left, {} on the right ({})",
        crate::human::plural(scans.left.entries.len() as u64, "entry", "entries"),
        crate::human::plural(scans.right.entries.len() as u64, "entry", "entries"),
        crate::human::duration(started.elapsed())
    );
    Ok(scans)
}

/// Stage 3: the unresolved conflicts and the state rows of the paths that
/// may have changed. Only the snapshots of paths that changed are kept
/// (the hot path's memory); what is unchanged on both sides is marked so in
/// the scans. With a `scope`, everything outside it counts as unchanged on
/// both sides, and only the scope's state rows are read.
fn load_state(
    state: &State,
    scans: &mut PerSide<SideScan>,
    scope: Option<&[String]>,
) -> Result<(StateMap, HashMap<String, ConflictRecord>), StateError> {
    let conflicts = state.conflicts()?;
    let scope = scope.inspect(|roots| {
        for scan in [&mut scans.left, &mut scans.right] {
            for e in scan.entries.values_mut() {
                e.unchanged = true;
            }
            for r in *roots {
                for (_, e) in scan.entries.within_mut(r) {
                    e.unchanged = false;
                }
            }
        }
    });
    // The state rows arrive in key order, the scans are maps in key order:
    // one merge pass, no lookup per path.
    let mut lc = scans.left.entries.iter_mut().peekable();
    let mut rc = scans.right.entries.iter_mut().peekable();
    let files = state.load_files_within(scope, |k, row| {
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
    scans.left.restore_paths();
    scans.right.restore_paths();
    Ok((files, conflicts))
}

/// Stage 4: what lies under temp names (parked by an interrupted step) is
/// held, never read as deleted.
fn hold_parked(
    state: &State,
    scans: &mut PerSide<SideScan>,
    files: &StateMap,
    case_sensitive: bool,
) -> Result<(), StateError> {
    let parked = state.parked()?;
    for side in Side::BOTH {
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
        scans[side].hold_temps(&mine, had, case_sensitive);
    }
    Ok(())
}

/// Stage 5: the mass-change guard (SPEC §6 "Safety guards") counts from
/// size and mtime alone, before anything is hashed or copied; `forced`
/// plans pass it. `files_now`: files on each side when the scans are a
/// scoped subset of the tree.
fn mass_change_guard(
    cfg: &Config,
    files: &StateMap,
    scans: &PerSide<SideScan>,
    files_now: Option<PerSide<u64>>,
    forced: bool,
) -> Result<Counts, PipelineError> {
    let (changed, mut examples) = count_content_changes(files, &scans.left, &scans.right);
    let files_now = files_now.unwrap_or_else(|| {
        PerSide::new(
            scans.left.file_count() as u64,
            scans.right.file_count() as u64,
        )
    });
    if !forced
        && let Some(mut why) = guard::change_guard(
            changed,
            files_now,
            cfg.raw.safety.max_change_percent,
            cfg.raw.safety.max_delete_min_files,
        )
    {
        why.examples = std::mem::take(&mut examples[why.side]);
        return Err(PipelineError::Guard(why));
    }
    Ok(Counts { changed, files_now })
}

/// Stage 6: the keys to leave for a later cycle: those `hold` names (in
/// flight, backing off) and files younger than `min_file_age_seconds`
/// (still being written, most likely) as of `now_ns`.
fn defer_young(
    cfg: &Config,
    scans: &PerSide<SideScan>,
    hold: Option<&HashSet<String>>,
    now_ns: i64,
) -> HashSet<String> {
    let mut deferred: HashSet<String> = hold.cloned().unwrap_or_default();
    let min_age = i64::try_from(cfg.raw.transfer.min_file_age_seconds).unwrap_or(0) * 1_000_000_000;
    if min_age > 0 {
        for s in scans.values() {
            for (k, e) in &s.entries {
                if e.kind == crate::Kind::File
                    && e.mtime > now_ns - min_age
                    && e.mtime <= now_ns + 1_000_000_000
                {
                    deferred.insert(k.to_owned());
                }
            }
        }
    }
    deferred
}

/// Stage 7: hashes what the engine asks for, both sides at once. A file
/// that cannot be hashed now (locked, vanished, its hashing thread died)
/// is deferred, with the reason among the scan's problems.
fn hash_wanted(sides: &Sides, work: &mut Work) -> Vec<(Side, String, String)> {
    // Sides whose listings carry no file ids (Windows): ask for the ids of
    // the new files where a file is also gone on that side (possible moves).
    for side in Side::BOTH {
        fill_move_ids(sides.get(side), side, &mut work.scans[side], &work.files);
    }
    let wanted = engine::hash_requests(&work.input());
    let mut unreadable = Vec::new();
    if wanted.is_empty() {
        return unreadable;
    }
    // Per side: (key, exact path) of each file to hash.
    let mut jobs: PerSide<Vec<(String, String)>> = PerSide::default();
    for (side, key) in wanted {
        if let Some(e) = work.scans[side].entries.get(&key) {
            let path = e.path.clone();
            jobs[side].push((key, path));
        }
    }
    let hash_all = |fs: &dyn Fs, jobs: &[(String, String)]| -> Vec<Result<String, FsError>> {
        jobs.iter().map(|(_, path)| hash_file(fs, path)).collect()
    };
    let mut hashes = std::thread::scope(|s| {
        let l = s.spawn(|| hash_all(sides.left.as_ref(), &jobs.left));
        let r = hash_all(sides.right.as_ref(), &jobs.right);
        // A thread that died hashed nothing: its files wait for a later
        // cycle like any other file that could not be read now.
        let l = l.join().unwrap_or_else(|_| {
            jobs.left
                .iter()
                .map(|(_, path)| {
                    Err(FsError::synthetic(
                        "hash",
                        path.as_str(),
                        ErrorClass::Other,
                        "the hashing thread panicked",
                    ))
                })
                .collect()
        });
        PerSide::new(l, r)
    });
    for side in Side::BOTH {
        let scan = &mut work.scans[side];
        let done = std::mem::take(&mut hashes[side]);
        for ((k, path), h) in std::mem::take(&mut jobs[side]).into_iter().zip(done) {
            match h {
                Ok(h) => {
                    if let Some(e) = scan.entries.get_mut(&k) {
                        e.hash = Some(h);
                    }
                }
                Err(why) => {
                    // Left for a later cycle either way. Locked (a user
                    // has it open) or gone while hashing passes by itself;
                    // a read error (a bad sector, permissions) may not: it
                    // is a skipped path with its error, so `status` says
                    // "needs you" rather than "in sync" while it lasts.
                    if !matches!(
                        why.class,
                        ErrorClass::Locked | ErrorClass::NotFound | ErrorClass::Interrupted
                    ) {
                        unreadable.push((side, path, format!("cannot be read: {why}")));
                    }
                    scan.problems.push(format!("cannot hash: {why}"));
                    work.deferred.insert(k);
                }
            }
        }
    }
    unreadable
}

/// Stage 8: the engine's steps, and how many keys it left for later.
fn reconcile(sides: &Sides, work: &Work, started: Instant) -> (Vec<Op>, u64) {
    let (mut ops, deferred_n) = engine::reconcile(&work.input());
    crate::debugln!(
        "plan: {} operation{}, {deferred_n} left for a later cycle ({} with the scan)",
        ops.len(),
        if ops.len() == 1 { "" } else { "s" },
        crate::human::duration(started.elapsed())
    );
    record_ids(sides, &mut ops);
    (ops, deferred_n)
}

/// Stage 8b: a failing path (SPEC §8) with no step left for it in this
/// plan and nothing holding it back fails no more: its record is
/// forgotten. It is gone from both sides, or in sync: a step that failed
/// after its effect was done (the read-back after a chmod, audit F5), or
/// a change undone by hand. Else `status` would say "needs you" for ever
/// (nothing else clears a record but a step of that path that succeeds).
/// Only paths this plan looked at (its `scope`) are judged; a path a side
/// could not read, or left for a later cycle, is not settled.
fn forget_settled_failures(
    state: &State,
    work: &Work,
    ops: &[Op],
    scope: Option<&[String]>,
) -> Result<(), StateError> {
    let failures = state.failures()?;
    if failures.is_empty() {
        return Ok(());
    }
    let stepped: HashSet<&str> = ops
        .iter()
        .filter(|o| o.kind() != crate::plan::OpKind::Record)
        .map(|o| o.key.as_str())
        .collect();
    let near = |a: &str, b: &str| paths::is_within(a, b) || paths::is_within(b, a);
    for f in failures {
        let k = f.key.as_str();
        let known = work
            .scans
            .values()
            .all(|s| !s.is_unknown(k) && !s.is_blocked(k));
        if known
            && !stepped.contains(k)
            && scope.is_none_or(|roots| roots.iter().any(|r| paths::is_within(k, r)))
            && !work.deferred.iter().any(|d| near(d, k))
        {
            state.forget_failure(k)?;
        }
    }
    Ok(())
}

/// Stage 9: the plan file: header, summary, steps and the scans' problems.
fn assemble(
    cfg: &Config,
    header: Header,
    counts: &Counts,
    work: &Work,
    ops: Vec<Op>,
    deferred_n: u64,
) -> Plan {
    let mut summary = Summary::of(&ops, &work.opts.plan_config());
    summary.deferred = deferred_n;
    (summary.files_left, summary.files_right) = (counts.files_now.left, counts.files_now.right);
    (summary.changed_left, summary.changed_right) = (counts.changed.left, counts.changed.right);
    let mut problems: Vec<String> = work
        .scans
        .left
        .problems
        .iter()
        .map(|p| format!("left: {p}"))
        .collect();
    problems.extend(
        work.scans
            .right
            .problems
            .iter()
            .map(|p| format!("right: {p}")),
    );
    // What a one-way rule does not carry back is reported (SPEC §3).
    problems.extend(ops.iter().filter_map(|op| match &op.step {
        crate::plan::Step::Record(r) if r.record.not_carried => {
            Some(format!("`{}`: {}", op.path, op.reason))
        }
        _ => None,
    }));
    let (left_root_id, right_root_id) = header.root_ids;
    Plan {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        plan_id: uuid::Uuid::new_v4().to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        left_root: cfg.left_root.display().to_string(),
        right_root: cfg.right_root.display().to_string(),
        left_root_id,
        right_root_id,
        base_generation: header.generation,
        forced: header.forced,
        config: work.opts.plan_config(),
        summary,
        ops,
        problems,
    }
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
/// snapshot (content changes as metadata tells them, before any hashing;
/// SPEC §6). Another inode alone (a file restored from a backup, or
/// renamed over with the same size and mtime) is not counted: the engine
/// hashes it to decide, and a restore must not block the sync.
fn count_content_changes(
    files: &StateMap,
    ls: &SideScan,
    rs: &SideScan,
) -> (PerSide<u64>, PerSide<Vec<String>>) {
    let mut n = PerSide::new(0u64, 0u64);
    let mut examples: PerSide<Vec<String>> = PerSide::default();
    for key in files.keys() {
        let Some(row) = files.get(key) else { continue };
        for (side, prev, scan) in [
            (Side::Left, row.left.as_ref(), ls),
            (Side::Right, row.right.as_ref(), rs),
        ] {
            if let (Some(p), Some(cur)) = (prev, scan.entries.get(key))
                && p.kind == crate::Kind::File
                && cur.kind == crate::Kind::File
                && (p.size != cur.size || p.mtime != cur.mtime)
            {
                n[side] += 1;
                if examples[side].len() < guard::EXAMPLES {
                    examples[side].push(cur.path.clone());
                }
            }
        }
    }
    (n, examples)
}

#[cfg(test)]
mod tests;
