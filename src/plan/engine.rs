//! The rules engine (SPEC §5, §6): snapshots + state + options → ops.
//!
//! Pure: no I/O, no clock. It runs in two passes, as Unison's
//! update/reconcile split does: [`classify`] says per side what happened to
//! a path since the last sync (reading only metadata and hashes already
//! known), [`hash_requests`] lists the files whose hash would change that
//! answer (the caller hashes them and fills `Entry::hash`), and
//! [`reconcile`] turns the pair of classes into ops. Conflict *policy*
//! (the `[conflicts]` options, decided as a [`ConflictAction`] when the
//! config loads) is applied after the rule is chosen, in one place
//! ([`Planner::conflict`]).
//!
//! Invariants: a path under an unknown folder (unreadable, case collision)
//! or deferred (too young, in flight) gets no op; every version a rule
//! replaces is either identical, older-and-superseded by the same user
//! path, kept as a clash copy, or sent to trash by a delete op.

use super::{Cause, ConflictInfo, Expect, Lane, Op, PlanConfig, SideInfo, Step};
use crate::config::{ConflictAction, ConflictOption};
use crate::scan::SideScan;
use crate::state::{ConflictRecord, StateMap, StateRow};
use crate::{Entry, Keep, Kind, PerSide, Resolution, Rule, Side, paths};
use std::collections::{HashMap, HashSet};

/// Options the engine needs.
#[derive(Debug, Clone)]
pub struct Options {
    pub case_sensitive: bool,
    pub mtime_tolerance_ns: i64,
    pub same_file_changed_both: ConflictOption,
    pub new_file_both_different: ConflictOption,
    pub properties_conflict_both: ConflictOption,
    pub clash_suffix: String,
    pub soft_delete: bool,
    pub soft_delete_max_bytes: u64,
    pub large_file_bytes: u64,
    pub hash_max_bytes: u64,
    pub detect_moves: bool,
}

impl Options {
    /// From a loaded config.
    #[must_use]
    pub fn from_config(c: &crate::config::Config) -> Self {
        let r = &c.raw;
        Self {
            case_sensitive: c.case_sensitive,
            mtime_tolerance_ns: i64::try_from(r.mtime_tolerance_ms).unwrap_or(i64::MAX / 1_000_000)
                * 1_000_000,
            same_file_changed_both: r.conflicts.same_file_changed_both,
            new_file_both_different: r.conflicts.new_file_both_different,
            properties_conflict_both: r.conflicts.properties_conflict_both,
            clash_suffix: r.conflicts.clash_suffix.clone(),
            soft_delete: r.soft_delete.enabled,
            soft_delete_max_bytes: r.soft_delete.max_size_bytes,
            large_file_bytes: r.transfer.large_file_bytes,
            hash_max_bytes: r.transfer.hash_max_bytes,
            detect_moves: r.transfer.detect_moves,
        }
    }

    /// The options as recorded in the plan file.
    #[must_use]
    pub fn plan_config(&self) -> PlanConfig {
        PlanConfig {
            case_sensitive: self.case_sensitive,
            mtime_tolerance_ms: u64::try_from(self.mtime_tolerance_ns / 1_000_000).unwrap_or(0),
            same_file_changed_both: self.same_file_changed_both.name.to_owned(),
            new_file_both_different: self.new_file_both_different.name.to_owned(),
            properties_conflict_both: self.properties_conflict_both.name.to_owned(),
            clash_suffix: self.clash_suffix.clone(),
            soft_delete: self.soft_delete,
            soft_delete_max_bytes: self.soft_delete_max_bytes,
            large_file_bytes: self.large_file_bytes,
            hash_max_bytes: self.hash_max_bytes,
            detect_moves: self.detect_moves,
        }
    }
}

/// Everything the engine reads.
pub struct Input<'a> {
    pub left: &'a SideScan,
    pub right: &'a SideScan,
    pub state: &'a StateMap,
    pub conflicts: &'a HashMap<String, ConflictRecord>,
    /// Keys to leave for a later cycle (too young, in flight, backing off).
    pub deferred: &'a HashSet<String>,
    pub opts: &'a Options,
}

impl Input<'_> {
    fn scan(&self, s: Side) -> &SideScan {
        match s {
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }
    fn first_run(&self) -> bool {
        self.state.first_run()
    }
}

/// What happened to a path on one side since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Not there now, not there at the last sync.
    Absent,
    /// There now, not at the last sync.
    New,
    /// There at the last sync, gone now.
    Deleted,
    Unchanged,
    /// Content changed (or the kind did).
    Content,
    /// Only properties, mtime (same content) or the name's case changed.
    Props,
}

impl Class {
    fn changed(self) -> bool {
        matches!(self, Self::New | Self::Content | Self::Props)
    }
}

/// Classifies one side of a path (SPEC §5). When only the mtime moved and
/// the hash is unknown the answer is `Content`; [`hash_requests`] asks for
/// the hash that would turn it into `Props`.
#[must_use]
pub fn classify(prev: Option<&Entry>, cur: Option<&Entry>) -> Class {
    match (prev, cur) {
        (None, None) => Class::Absent,
        (None, Some(_)) => Class::New,
        (Some(_), None) => Class::Deleted,
        (Some(p), Some(c)) => {
            if p.kind != c.kind {
                return Class::Content;
            }
            let name_or_props = p.props != c.props
                || (p.path != c.path
                    && !paths::same_name(paths::file_name(&p.path), paths::file_name(&c.path)));
            if c.kind == Kind::Dir {
                return if name_or_props {
                    Class::Props
                } else {
                    Class::Unchanged
                };
            }
            if p.size != c.size {
                return Class::Content;
            }
            // Same size and mtime but another file (renamed over the old
            // one): its bytes decide, as for an mtime-only change.
            if p.mtime != c.mtime || replaced(p, c) {
                return match (&p.hash, &c.hash) {
                    (Some(a), Some(b)) if a == b => Class::Props,
                    _ => Class::Content,
                };
            }
            if name_or_props {
                Class::Props
            } else {
                Class::Unchanged
            }
        }
    }
}

/// Another file now holds the path (its inode differs from the recorded
/// one; device numbers are ignored, they change across remounts), although
/// size and mtime may look the same: a file renamed over this one.
#[must_use]
pub fn replaced(prev: &Entry, cur: &Entry) -> bool {
    prev.kind == Kind::File && matches!((prev.id, cur.id), (Some(a), Some(b)) if a.ino != b.ino)
}

/// True when neither side changed since the last sync (metadata only):
/// such a path needs no op, and the planner need not keep its snapshot.
/// Scan entries may carry an empty path, meaning "the same as `key`".
#[must_use]
pub fn unchanged_on_both(key: &str, row: &StateRow, l: Option<&Entry>, r: Option<&Entry>) -> bool {
    let same = |prev: Option<&Entry>, cur: Option<&Entry>| match (prev, cur) {
        (Some(p), Some(c)) => {
            let cur_path = if c.path.is_empty() {
                key
            } else {
                c.path.as_str()
            };
            p.kind == c.kind
                && p.props == c.props
                && (c.kind == Kind::Dir
                    || (p.size == c.size && p.mtime == c.mtime && !replaced(p, c)))
                && (p.path == cur_path
                    || paths::same_name(paths::file_name(&p.path), paths::file_name(cur_path)))
        }
        _ => false,
    };
    same(row.left.as_ref(), l) && same(row.right.as_ref(), r)
}

fn hashable(e: &Entry, o: &Options) -> bool {
    e.kind == Kind::File && !e.offline && e.size <= o.hash_max_bytes
}

fn within_tolerance(a: &Entry, b: &Entry, o: &Options) -> bool {
    (a.mtime - b.mtime).abs() <= o.mtime_tolerance_ns
}

/// Only the mtime of `cur` moved since its snapshot `prev`, which has no
/// hash, and the other side is unchanged since the last sync: compare
/// `cur`'s bytes with the other side's (both hashes wanted).
fn mtime_only_unhashed(
    prev: Option<&Entry>,
    cur: Option<&Entry>,
    other_prev: Option<&Entry>,
    other_cur: Option<&Entry>,
) -> bool {
    let (Some(p), Some(c), Some(op), Some(oc)) = (prev, cur, other_prev, other_cur) else {
        return false;
    };
    p.kind == Kind::File
        && c.kind == Kind::File
        && oc.kind == Kind::File
        && p.hash.is_none()
        && p.size == c.size
        && p.mtime != c.mtime
        && oc.size == c.size
        && op.size == oc.size
        && op.mtime == oc.mtime
        && op.kind == Kind::File
}

/// [`mtime_only_unhashed`] and the two hashes are known and equal: the
/// change was a re-stamp (antivirus, backup tool, cloud client), not an edit.
fn restamped(
    prev: Option<&Entry>,
    cur: Option<&Entry>,
    other_prev: Option<&Entry>,
    other_cur: Option<&Entry>,
) -> bool {
    mtime_only_unhashed(prev, cur, other_prev, other_cur)
        && matches!((cur.and_then(|c| c.hash.as_ref()), other_cur.and_then(|o| o.hash.as_ref())), (Some(a), Some(b)) if a == b)
}

/// The (side, key) pairs whose content hash the engine wants before it can
/// decide. Pure; cheap when nothing changed.
#[must_use]
pub fn hash_requests(input: &Input<'_>) -> Vec<(Side, String)> {
    let o = input.opts;
    let mut out = moves::hash_requests(input);
    let first_run = input.first_run();
    for At { key, l, r } in all_keys(input) {
        let row = input.state.get(key);
        if skipped(input, key)
            || input
                .conflicts
                .get(key)
                .is_some_and(|c| c.keep.is_none() && still_unresolved(c, l, r))
        {
            continue;
        }
        let mut want = PerSide::new(false, false);
        for side in Side::BOTH {
            let prev = row.and_then(|r| r.side(side));
            let cur = if side == Side::Left { l } else { r };
            if let (Some(p), Some(c)) = (prev, cur)
                && p.kind == Kind::File
                && c.kind == Kind::File
                && p.size == c.size
                && (p.mtime != c.mtime || replaced(p, c))
                && p.hash.is_some()
                && c.hash.is_none()
                && hashable(c, o)
            {
                want[side] = true;
            }
        }
        // A re-stamp of a pair that has no stored hash: compare both sides' bytes.
        for (side, (p, c, op, oc)) in [
            (
                Side::Left,
                (
                    row.and_then(|r| r.left.as_ref()),
                    l,
                    row.and_then(|r| r.right.as_ref()),
                    r,
                ),
            ),
            (
                Side::Right,
                (
                    row.and_then(|r| r.right.as_ref()),
                    r,
                    row.and_then(|r| r.left.as_ref()),
                    l,
                ),
            ),
        ] {
            if mtime_only_unhashed(p, c, op, oc)
                && c.is_some_and(|c| hashable(c, o))
                && oc.is_some_and(|oc| hashable(oc, o))
            {
                want[side] |= c.is_some_and(|c| c.hash.is_none());
                want[side.other()] |= oc.is_some_and(|oc| oc.hash.is_none());
            }
        }
        // Both sides changed or new with equal sizes: are they identical?
        if let (Some(a), Some(b)) = (l, r)
            && a.kind == Kind::File
            && b.kind == Kind::File
            && a.size == b.size
            && hashable(a, o)
            && hashable(b, o)
        {
            let cl = classify(row.and_then(|r| r.left.as_ref()), Some(a));
            let cr = classify(row.and_then(|r| r.right.as_ref()), Some(b));
            let adopt_by_meta = first_run && within_tolerance(a, b, o);
            if cl.changed()
                && cr.changed()
                && !adopt_by_meta
                && !(cl == Class::Props && cr == Class::Props)
            {
                want = PerSide::new(a.hash.is_none(), b.hash.is_none());
            }
        }
        for (side, wanted) in want.iter() {
            if *wanted {
                out.push((side, key.to_owned()));
            }
        }
    }
    out
}

fn skipped(input: &Input<'_>, key: &str) -> bool {
    input.left.is_unknown(key) || input.right.is_unknown(key) || input.deferred.contains(key)
}

fn same_meta(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.path == b.path
                && a.kind == b.kind
                && a.size == b.size
                && a.mtime == b.mtime
                && a.props == b.props
        }
        _ => false,
    }
}

/// An option2 conflict stays parked while both sides are as recorded.
fn still_unresolved(c: &ConflictRecord, l: Option<&Entry>, r: Option<&Entry>) -> bool {
    same_meta(c.left.as_ref(), l) && same_meta(c.right.as_ref(), r)
}

/// A key to decide, with what each scan holds for it (found by the merge,
/// so that no key is looked up again).
#[derive(Clone, Copy)]
struct At<'a> {
    key: &'a str,
    l: Option<&'a Entry>,
    r: Option<&'a Entry>,
}

/// Every key of both scans and the state, ascending, once: a three-way
/// merge of already-sorted sequences (no sort, no hashing, no lookup).
fn all_keys<'a>(input: &'a Input<'_>) -> Vec<At<'a>> {
    let mut out: Vec<At<'a>> = Vec::with_capacity(input.state.len() + 16);
    let mut l = input.left.entries.iter().peekable();
    let mut r = input.right.entries.iter().peekable();
    let mut s = input.state.keys().peekable();
    loop {
        let next = [
            l.peek().map(|e| e.0),
            r.peek().map(|e| e.0),
            s.peek().copied(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(key) = next else { break };
        let mut at = At {
            key,
            l: None,
            r: None,
        };
        for (it, slot) in [(&mut l, &mut at.l), (&mut r, &mut at.r)] {
            if it.peek().is_some_and(|e| e.0 == key) {
                *slot = it.next().map(|e| e.1);
            }
        }
        if s.peek() == Some(&key) {
            s.next();
        }
        // Unchanged on both sides since the last sync: nothing to decide (a
        // folder deleted on one side has nothing unchanged on both below it).
        if !at.l.is_some_and(|e| e.unchanged) && !at.r.is_some_and(|e| e.unchanged) {
            out.push(at);
        }
    }
    out
}

/// Builds the ops for one plan; see [`reconcile`].
struct Planner<'a> {
    input: &'a Input<'a>,
    ops: Vec<(u8, Op)>,
    /// Planned exact path per side for keys whose path on that side is
    /// created or renamed by this plan.
    planned_path: PerSide<HashMap<String, String>>,
    /// Keys that will not exist on a side after this plan.
    removed: PerSide<HashSet<String>>,
    /// Keys that will exist on a side after this plan although absent now.
    added: PerSide<HashSet<String>>,
    /// Clash keys taken by this plan.
    taken: HashSet<String>,
    /// Folders deleted on one side, decided once their content is.
    dir_deletes: Vec<(String, Side)>,
    /// Folders made by a later phase per side (a kind clash's folder, after
    /// the file moves aside; a moved folder): what is new inside is created after.
    late_dirs: PerSide<Vec<String>>,
    deferred: u64,
    /// Each side's time step ([`SideScan::mtime_step`]), learnt when first needed.
    mtime_step: PerSide<std::cell::OnceCell<i64>>,
}

// Folders to create first, then conflict notes and moves aside, then files
// (small before large), then deletes, then folder removals (SPEC §7).
const PHASE_DIRS: u8 = 0;
/// Moves run after folders are created and before copies (SPEC §6).
const PHASE_MOVES: u8 = 1;
const PHASE_ASIDE: u8 = 2;
const PHASE_FILES: u8 = 3;
const PHASE_DELETE: u8 = 4;
const PHASE_RMDIR: u8 = 5;

impl<'a> Planner<'a> {
    fn cur(&self, side: Side, key: &str) -> Option<&'a Entry> {
        self.input.scan(side).entries.get(key)
    }

    /// The exact path `key` has (or will have) on `side`.
    fn path_on(&self, side: Side, key: &str, fallback: &str) -> String {
        if let Some(p) = self.planned_path[side].get(key) {
            return p.clone();
        }
        if let Some(e) = self.cur(side, key) {
            // Unchanged entries may have dropped their path when it equals the key.
            return if e.path.is_empty() {
                key.to_owned()
            } else {
                e.path.clone()
            };
        }
        let pk = paths::parent(key);
        let name = paths::file_name(fallback);
        if pk.is_empty() {
            name.to_owned()
        } else {
            paths::join(&self.path_on(side, pk, paths::parent(fallback)), name)
        }
    }

    fn key(&self, path: &str) -> String {
        paths::key_of(path, self.input.opts.case_sensitive)
    }

    fn push(&mut self, phase: u8, op: Op) {
        self.ops.push((phase, op));
    }

    /// Copy `src` (on `from`) to the other side at the path `key` has
    /// there, where nothing is when the step runs.
    fn copy_new(&mut self, key: &str, from: Side, src: &Entry, rule: Rule, reason: String) {
        self.copy(key, from, src, None, rule, reason);
    }

    /// Copy `src` (on `from`) over `dest_now`, what the other side holds at
    /// the path `key` has there when the step runs (the copy sends it to trash).
    fn copy_over(
        &mut self,
        key: &str,
        from: Side,
        src: &Entry,
        dest_now: &Entry,
        rule: Rule,
        reason: String,
    ) {
        self.copy(key, from, src, Some(dest_now), rule, reason);
    }

    fn copy(
        &mut self,
        key: &str,
        from: Side,
        src: &Entry,
        dest_now: Option<&Entry>,
        rule: Rule,
        reason: String,
    ) {
        let to = from.other();
        let dest_path = self.path_on(to, key, &src.path);
        let lane = if src.size > self.input.opts.large_file_bytes {
            Lane::Large
        } else {
            Lane::Small
        };
        let cause = Cause {
            key,
            path: &src.path,
            rule,
            reason,
        };
        let op = Op::copy(cause, from, src, &src.path, &dest_path, dest_now, lane);
        self.added[to].insert(key.to_owned());
        self.removed[to].remove(key);
        self.push(PHASE_FILES, op);
    }

    fn mkdir(&mut self, key: &str, to: Side, src: &Entry, rule: Rule, reason: String) {
        // Inside a folder that a kind clash creates (after moving a file out
        // of its way): created after it, not with the other folders first.
        let inside_clash = self.late_dirs[to].iter().any(|d| paths::is_within(key, d));
        let phase = if inside_clash {
            PHASE_ASIDE
        } else {
            PHASE_DIRS
        };
        self.mkdir_in(phase, key, to, src, rule, reason);
    }

    /// A folder created in `phase` (a kind clash creates its folder right
    /// after the file that held the name has moved aside).
    fn mkdir_in(
        &mut self,
        phase: u8,
        key: &str,
        to: Side,
        src: &Entry,
        rule: Rule,
        reason: String,
    ) {
        let dest_path = self.path_on(to, key, &src.path);
        self.planned_path[to].insert(key.to_owned(), dest_path.clone());
        let cause = Cause {
            key,
            path: &src.path,
            rule,
            reason,
        };
        let op = Op::mkdir(cause, to, src, &dest_path);
        self.added[to].insert(key.to_owned());
        self.push(phase, op);
    }

    /// Deletes `e` on `side` under the soft-delete policy; `phase` is
    /// `PHASE_DELETE` for deletes, `PHASE_ASIDE` for "overwritten version to trash".
    fn delete(&mut self, key: &str, side: Side, e: &Entry, rule: Rule, reason: String, phase: u8) {
        let o = self.input.opts;
        let soft = o.soft_delete && e.size <= o.soft_delete_max_bytes;
        let cause = Cause {
            key,
            path: &e.path,
            rule,
            reason,
        };
        let op = Op::delete(cause, side, e, soft);
        self.removed[side].insert(key.to_owned());
        self.push(phase, op);
    }

    /// A delete because the other side deleted the path also expects that
    /// side to still lack it when the step runs: a second look, after every
    /// earlier step (and any copy that finished meanwhile) is committed,
    /// before anything is removed (a stale scan never deletes a source).
    fn confirm_gone(&mut self, gone_side: Side, last: Option<&Entry>) {
        if let (Some(last), Some((_, op))) = (last, self.ops.last_mut()) {
            op.expect.push(Expect::of(gone_side, &last.path, None));
        }
    }

    fn record(
        &mut self,
        key: &str,
        path: &str,
        rule: Rule,
        reason: String,
        left: Option<&Entry>,
        right: Option<&Entry>,
    ) {
        let cause = Cause {
            key,
            path,
            rule,
            reason,
        };
        self.push(PHASE_DIRS, Op::record(cause, left, right));
    }

    /// Name-case and property sync from `from` to the other side (6.2.11/12).
    fn props(&mut self, key: &str, from: Side, src: &Entry, dest: &Entry, rule: Rule, why: &str) {
        let to = from.other();
        let mut dest_path = dest.path.clone();
        let src_name = paths::file_name(&src.path);
        if !paths::same_name(paths::file_name(&dest.path), src_name) {
            let new_path = paths::join(
                &self.path_on(to, paths::parent(key), paths::parent(&dest.path)),
                src_name,
            );
            let cause = Cause {
                key,
                path: &src.path,
                rule,
                reason: format!("{why}: name case changed on {from} to `{src_name}`"),
            };
            let op = Op::rename(cause, to, dest, &new_path, None);
            self.planned_path[to].insert(key.to_owned(), new_path.clone());
            self.push(PHASE_DIRS, op);
            dest_path = new_path;
        }
        let mtime_differs = src.kind == Kind::File && src.mtime != dest.mtime;
        if src.props != dest.props || mtime_differs || dest_path != dest.path {
            let cause = Cause {
                key,
                path: &src.path,
                rule,
                reason: format!("{why}: properties changed on {from}"),
            };
            let mut moved = dest.clone();
            moved.path.clone_from(&dest_path);
            let op = Op::set_props(cause, from, src, &dest_path, &moved);
            self.push(
                if src.kind == Kind::Dir {
                    PHASE_DIRS
                } else {
                    PHASE_FILES
                },
                op,
            );
        }
    }

    /// Renames `e` (key `key`) on `side` to the free name `clash` (key `clash_key`).
    #[allow(clippy::too_many_arguments)]
    fn move_aside(
        &mut self,
        key: &str,
        clash_key: &str,
        side: Side,
        e: &Entry,
        clash: &str,
        rule: Rule,
        reason: String,
    ) {
        let cause = Cause {
            key: clash_key,
            path: &e.path,
            rule,
            reason,
        };
        let mut mv = Op::rename(cause, side, e, clash, Some(key));
        mv.expect.push(Expect::of(side, clash, None));
        self.push(PHASE_ASIDE, mv);
    }

    /// First free clash path for `path` (checked on both sides and in this plan).
    fn clash_path(&mut self, path: &str) -> String {
        let suffix = self.input.opts.clash_suffix.clone();
        for n in 1.. {
            let cand = paths::clash_name(path, &suffix, n);
            let k = self.key(&cand);
            let used = self.cur(Side::Left, &k).is_some()
                || self.cur(Side::Right, &k).is_some()
                || self.input.state.contains_key(&k)
                || self.taken.contains(&k);
            if !used {
                self.taken.insert(k);
                return cand;
            }
        }
        unreachable!("clash names are unbounded")
    }

    fn newer(l: &Entry, r: &Entry) -> Side {
        if r.mtime > l.mtime {
            Side::Right
        } else {
            Side::Left
        }
    }

    #[allow(clippy::too_many_arguments, clippy::unused_self)]
    fn conflict_op(
        &self,
        key: &str,
        rule: Rule,
        reason: String,
        newer: Side,
        resolution: Resolution,
        option: &str,
        clash: Option<&str>,
        l: &Entry,
        r: &Entry,
    ) -> Op {
        let cause = Cause {
            key,
            path: &l.path,
            rule,
            reason,
        };
        let info = ConflictInfo {
            newer,
            older: newer.other(),
            clash_path: clash.map(str::to_owned),
            resolution,
            option: option.to_owned(),
            left: Some(SideInfo::of(l)),
            right: Some(SideInfo::of(r)),
        };
        Op::conflict(cause, info, l, r)
    }

    /// Option 1: newer at the path on both sides, older at the clash path on both.
    fn clash_copies(
        &mut self,
        key: &str,
        rule: Rule,
        why: &str,
        option: &str,
        l: &Entry,
        r: &Entry,
    ) {
        let newer = Self::newer(l, r);
        let older = newer.other();
        let (n, o) = if newer == Side::Left { (l, r) } else { (r, l) };
        let clash = self.clash_path(&o.path);
        let clash_key = self.key(&clash);
        let reason = format!(
            "{why}; {newer} is newer: it stays at the path, the {older} version is kept as `{}` on both sides",
            paths::file_name(&clash)
        );
        let op = self.conflict_op(
            key,
            rule,
            reason,
            newer,
            Resolution::ClashCopies,
            option,
            Some(&clash),
            l,
            r,
        );
        self.push(PHASE_ASIDE, op);
        // 1. older side: move the older version aside to the clash name.
        self.move_aside(
            key,
            &clash_key,
            older,
            o,
            &clash,
            rule,
            format!("{why}: keep the older {older} version as a clash copy"),
        );
        // 2. copy the older version to the newer side's clash name.
        let mut moved = o.clone();
        moved.path.clone_from(&clash);
        self.copy_new(
            &clash_key,
            older,
            &moved,
            rule,
            format!("{why}: the older version, as a clash copy"),
        );
        self.added[older].insert(clash_key);
        // 3. the newer version to the older side's path (now free).
        self.copy_new(
            key,
            newer,
            n,
            rule,
            format!("{why}: the newer version from {newer}"),
        );
    }

    /// Newer overwrites older; the older version goes to trash (soft-delete policy).
    #[allow(clippy::too_many_arguments)]
    fn overwrite(
        &mut self,
        key: &str,
        rule: Rule,
        why: &str,
        option: &str,
        l: &Entry,
        r: &Entry,
        props_only: bool,
    ) {
        let newer = Self::newer(l, r);
        let older = newer.other();
        let (n, o) = if newer == Side::Left { (l, r) } else { (r, l) };
        let reason = format!("{why}; {newer} is newer and overwrites {older}");
        let op = self.conflict_op(
            key,
            rule,
            reason,
            newer,
            Resolution::NewerOverwrites,
            option,
            None,
            l,
            r,
        );
        self.push(PHASE_ASIDE, op);
        if props_only {
            self.props(key, newer, n, o, rule, why);
            return;
        }
        // The copy itself moves the replaced version to trash (soft-delete
        // policy), as every copy that replaces a file does.
        self.copy_over(
            key,
            newer,
            n,
            o,
            rule,
            format!("{why}: newer version from {newer}; the {older} one goes to trash"),
        );
    }

    /// Applies the configured option to a conflict (the one place the
    /// `[conflicts]` policy meets the rule table).
    fn conflict(&mut self, key: &str, rule: Rule, why: &str, l: &Entry, r: &Entry) {
        let o = self.input.opts;
        let option = match rule {
            Rule::ChangedBoth => o.same_file_changed_both,
            Rule::NewBoth => o.new_file_both_different,
            _ => o.properties_conflict_both,
        };
        match option.action {
            ConflictAction::Clash => self.clash_copies(key, rule, why, option.name, l, r),
            ConflictAction::Leave => {
                let newer = Self::newer(l, r);
                let op = self.conflict_op(
                    key,
                    rule,
                    format!("{why}; left alone for the admin (resolve with `twinsync resolve`)"),
                    newer,
                    Resolution::LeftAlone,
                    option.name,
                    None,
                    l,
                    r,
                );
                self.push(PHASE_ASIDE, op);
            }
            ConflictAction::NewerWins => {
                self.overwrite(key, rule, why, option.name, l, r, rule == Rule::PropsBoth);
            }
        }
    }

    /// A file on one side, a folder on the other: the file moves to a clash name.
    fn kind_clash(&mut self, key: &str, l: &Entry, r: &Entry) {
        let (fside, f, d) = if l.kind == Kind::File {
            (Side::Left, l, r)
        } else {
            (Side::Right, r, l)
        };
        let dside = fside.other();
        let clash = self.clash_path(&f.path);
        let clash_key = self.key(&clash);
        let why = format!("a file on {fside}, a folder on {dside}");
        let mut c = self.conflict_op(
            key,
            Rule::KindClash,
            format!(
                "{why}: the file is renamed to `{}` and both are synced",
                paths::file_name(&clash)
            ),
            fside,
            Resolution::ClashCopies,
            "kind",
            Some(&clash),
            l,
            r,
        );
        if let Step::Conflict(ci) = &mut c.step {
            ci.conflict.newer = dside;
            ci.conflict.older = fside;
        }
        self.push(PHASE_ASIDE, c);
        self.move_aside(
            key,
            &clash_key,
            fside,
            f,
            &clash,
            Rule::KindClash,
            format!("{why}: the file moves aside"),
        );
        self.removed[fside].insert(key.to_owned());
        self.late_dirs[fside].push(key.to_owned());
        self.mkdir_in(
            PHASE_ASIDE,
            key,
            fside,
            d,
            Rule::KindClash,
            format!("{why}: the folder is created on {fside}"),
        );
        let mut moved = f.clone();
        moved.path.clone_from(&clash);
        self.copy_new(
            &clash_key,
            fside,
            &moved,
            Rule::KindClash,
            format!("{why}: the file, under its clash name"),
        );
        self.added[fside].insert(clash_key);
    }

    fn same(&mut self, key: &str, l: &Entry, r: &Entry, why: &str) {
        let mut l2 = l.clone();
        let mut r2 = r.clone();
        // Identical content: share a hash known on one side.
        if l2.hash.is_none() && l.size == r.size {
            l2.hash.clone_from(&r.hash);
        }
        if r2.hash.is_none() && l.size == r.size {
            r2.hash.clone_from(&l.hash);
        }
        self.record(
            key,
            &l.path,
            Rule::Same,
            why.to_owned(),
            Some(&l2),
            Some(&r2),
        );
    }

    fn identical(&self, l: &Entry, r: &Entry, first_run: bool) -> bool {
        if l.kind != r.kind {
            return false;
        }
        if l.kind == Kind::Dir {
            return true;
        }
        if l.size != r.size {
            return false;
        }
        match (&l.hash, &r.hash) {
            (Some(a), Some(b)) => a == b,
            // Metadata-only adoption: on first run, or for files too large
            // (or offline) to hash.
            _ => {
                within_tolerance(l, r, self.input.opts)
                    && (first_run || !hashable(l, self.input.opts) || !hashable(r, self.input.opts))
            }
        }
    }

    /// Decides `key`, whose scan entries are `l` and `r`.
    fn decide(&mut self, key: &str, l: Option<&'a Entry>, r: Option<&'a Entry>) {
        let input = self.input;
        let row = input.state.get(key);
        let (lp, rp) = (
            row.and_then(|r| r.left.as_ref()),
            row.and_then(|r| r.right.as_ref()),
        );
        if l.is_some_and(|e| e.unchanged) {
            return; // unchanged on both sides: its snapshot was not even loaded
        }
        let (cl, cr) = (classify(lp, l), classify(rp, r));
        // No stored hash (a pair adopted by metadata): an mtime-only change is
        // a property change when the bytes equal the other side's unchanged file.
        let cl = if restamped(lp, l, rp, r) {
            Class::Props
        } else {
            cl
        };
        let cr = if restamped(rp, r, lp, l) {
            Class::Props
        } else {
            cr
        };
        // A drive that rounds a file's time after it was written (a cloud
        // client a moment after the upload) changed nothing a user made:
        // its snapshot takes the rounded time, the other side is left alone.
        let (el, er) = (
            cl != Class::Unchanged && self.echo(Side::Left, lp, l),
            cr != Class::Unchanged && self.echo(Side::Right, rp, r),
        );
        let cl = if el { Class::Unchanged } else { cl };
        let cr = if er { Class::Unchanged } else { cr };
        if (el || er)
            && cl == Class::Unchanged
            && cr == Class::Unchanged
            && let (Some(l), Some(r)) = (l, r)
            && !input.conflicts.contains_key(key)
        {
            let keep = |prev: Option<&Entry>, cur: &Entry, echoed: bool| {
                let mut e = if echoed {
                    cur.clone()
                } else {
                    prev.cloned().unwrap_or_else(|| cur.clone())
                };
                if e.hash.is_none() {
                    e.hash = prev.and_then(|p| p.hash.clone());
                }
                e
            };
            let (l, r) = (keep(lp, l, el), keep(rp, r, er));
            let side = if el { Side::Left } else { Side::Right };
            self.record(
                key,
                &l.path,
                Rule::Same,
                format!("the {side} drive rounded the modification time; nothing to sync"),
                Some(&l),
                Some(&r),
            );
            return;
        }

        if let Some(c) = input.conflicts.get(key) {
            if let Some(keep) = c.keep {
                if let (Some(l), Some(r)) = (l, r) {
                    self.resolve(key, c.rule, keep, l, r);
                    return;
                }
            } else if still_unresolved(c, l, r) {
                return; // option2: skipped until a side changes or `resolve` runs
            }
        }

        match (l, r) {
            (Some(l), Some(r)) if l.kind != r.kind => self.kind_clash(key, l, r),
            (Some(l), Some(r)) if l.kind == Kind::Dir => self.decide_dirs(key, l, r, cl, cr),
            (Some(l), Some(r)) => self.decide_files(key, l, r, cl, cr),
            (Some(e), None) | (None, Some(e)) => {
                let side = if l.is_some() { Side::Left } else { Side::Right };
                let other = side.other();
                let (c_here, c_there) = if side == Side::Left {
                    (cl, cr)
                } else {
                    (cr, cl)
                };
                if c_there == Class::Deleted {
                    if e.kind == Kind::Dir {
                        self.dir_deletes.push((key.to_owned(), side));
                        return;
                    }
                    if c_here == Class::Unchanged {
                        let rule = Rule::deleted_on(other);
                        self.delete(
                            key,
                            side,
                            e,
                            rule,
                            format!("deleted on {other}, unchanged on {side}"),
                            PHASE_DELETE,
                        );
                        self.confirm_gone(other, row.and_then(|r| r.side(other)));
                    } else {
                        let rule = Rule::undelete_on(other);
                        let why = format!(
                            "deleted on {other} but {} on {side}: copied back",
                            if c_here == Class::New {
                                "created"
                            } else {
                                "changed"
                            }
                        );
                        self.transfer_new(key, side, e, rule, why);
                    }
                } else {
                    let rule = Rule::new_on(side);
                    self.transfer_new(key, side, e, rule, format!("new on {side}"));
                }
            }
            (None, None) => {
                if row.is_some() || input.conflicts.contains_key(key) {
                    let path = row
                        .and_then(|r| r.left.as_ref().or(r.right.as_ref()))
                        .map_or(key, |e| e.path.as_str());
                    self.record(
                        key,
                        path,
                        Rule::Gone,
                        "deleted on both sides: forgotten".into(),
                        None,
                        None,
                    );
                }
            }
        }
    }

    /// `cur` differs from its snapshot `prev` only by an mtime that is
    /// `prev`'s rounded to the side's time step (to the nearest step, down
    /// or up), with the same content: the drive's own rounding, not a change.
    /// The content test: equal hashes when both are known; when the file
    /// cannot be hashed (too large, a placeholder) or the pair was adopted
    /// without one, size, properties and name must do: a user's save
    /// stamps the present, never the recorded time rounded.
    fn echo(&self, side: Side, prev: Option<&Entry>, cur: Option<&Entry>) -> bool {
        let (Some(p), Some(c)) = (prev, cur) else {
            return false;
        };
        if p.kind != Kind::File
            || c.kind != Kind::File
            || p.size != c.size
            || p.props != c.props
            || p.mtime == c.mtime
            || replaced(p, c)
            || (p.path != c.path
                && !c.path.is_empty()
                && !paths::same_name(paths::file_name(&p.path), paths::file_name(&c.path)))
        {
            return false;
        }
        let same_bytes = match (&p.hash, &c.hash) {
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => !hashable(c, self.input.opts),
            (None, _) => true,
        };
        if !same_bytes {
            return false;
        }
        let step = *self.mtime_step[side].get_or_init(|| self.input.scan(side).mtime_step());
        step > 1 && c.mtime.rem_euclid(step) == 0 && (c.mtime - p.mtime).abs() < step
    }

    fn transfer_new(&mut self, key: &str, side: Side, e: &Entry, rule: Rule, why: String) {
        if e.kind == Kind::Dir {
            self.mkdir(key, side.other(), e, rule, why);
        } else {
            self.copy_new(key, side, e, rule, why);
        }
    }

    fn decide_dirs(&mut self, key: &str, l: &Entry, r: &Entry, cl: Class, cr: Class) {
        match (cl, cr) {
            (Class::Props, Class::Unchanged | Class::New) => {
                self.props(key, Side::Left, l, r, Rule::PropsLeft, "folder");
            }
            (Class::Unchanged | Class::New, Class::Props) => {
                self.props(key, Side::Right, r, l, Rule::PropsRight, "folder");
            }
            (Class::Props, Class::Props)
                if !paths::same_name(paths::file_name(&l.path), paths::file_name(&r.path))
                    || l.props != r.props =>
            {
                // Folders cannot hold clash copies of themselves: newer wins.
                let newer = Self::newer(l, r);
                let (n, o) = if newer == Side::Left { (l, r) } else { (r, l) };
                self.props(
                    key,
                    newer,
                    n,
                    o,
                    Rule::PropsBoth,
                    "folder properties changed on both sides",
                );
            }
            (Class::Unchanged, Class::Unchanged) => {}
            _ => self.record(
                key,
                &l.path,
                Rule::Same,
                "folder on both sides".into(),
                Some(l),
                Some(r),
            ),
        }
    }

    fn decide_files(&mut self, key: &str, l: &Entry, r: &Entry, cl: Class, cr: Class) {
        use Class::{Absent, Content, Deleted, New, Props, Unchanged};
        let first_run = self.input.first_run();
        match (cl, cr) {
            (Unchanged, Unchanged) => {}
            (Content, Unchanged | Props) => self.copy_over(
                key,
                Side::Left,
                l,
                r,
                Rule::ChangedLeft,
                "changed on left only".into(),
            ),
            (Unchanged | Props, Content) => self.copy_over(
                key,
                Side::Right,
                r,
                l,
                Rule::ChangedRight,
                "changed on right only".into(),
            ),
            (Props, Unchanged) => self.props(key, Side::Left, l, r, Rule::PropsLeft, "6.2.11"),
            (Unchanged, Props) => self.props(key, Side::Right, r, l, Rule::PropsRight, "6.2.12"),
            (Props, Props) => {
                let same_name =
                    paths::same_name(paths::file_name(&l.path), paths::file_name(&r.path));
                if same_name && l.props == r.props && l.mtime == r.mtime {
                    self.same(key, l, r, "same properties changed on both sides");
                } else {
                    self.conflict(
                        key,
                        Rule::PropsBoth,
                        "properties or name case changed on both sides, differently",
                        l,
                        r,
                    );
                }
            }
            (Content, Content) => {
                if self.identical(l, r, false) {
                    self.same(key, l, r, "changed on both sides to identical content");
                } else {
                    self.conflict(key, Rule::ChangedBoth, "changed on both sides", l, r);
                }
            }
            (New | Absent | Deleted, New | Absent | Deleted) | (New, _) | (_, New) => {
                if self.identical(l, r, first_run) {
                    self.same(
                        key,
                        l,
                        r,
                        if first_run {
                            "identical on both sides: adopted"
                        } else {
                            "created on both sides with identical content"
                        },
                    );
                } else {
                    self.conflict(
                        key,
                        Rule::NewBoth,
                        "created on both sides with different content",
                        l,
                        r,
                    );
                }
            }
            // Remaining pairs mix a fresh side with a side the state
            // recorded: treat as changed on both.
            _ => {
                if self.identical(l, r, false) {
                    self.same(key, l, r, "identical content on both sides");
                } else {
                    self.conflict(key, Rule::ChangedBoth, "changed on both sides", l, r);
                }
            }
        }
    }

    fn resolve(&mut self, key: &str, rule: Rule, keep: Keep, l: &Entry, r: &Entry) {
        let why = format!("conflict resolved by the admin (keep {keep})");
        let winner = match keep {
            Keep::Both => {
                self.clash_copies(key, rule, &why, "resolve", l, r);
                return;
            }
            Keep::Left => Side::Left,
            Keep::Right => Side::Right,
        };
        let (w, o) = if winner == Side::Left { (l, r) } else { (r, l) };
        let mut c = self.conflict_op(
            key,
            rule,
            why.clone(),
            winner,
            Resolution::KeepSide,
            "resolve",
            None,
            l,
            r,
        );
        if let Step::Conflict(ci) = &mut c.step {
            ci.conflict.newer = winner;
            ci.conflict.older = winner.other();
        }
        self.push(PHASE_ASIDE, c);
        // The copy moves the version it replaces to trash.
        self.copy_over(key, winner, w, o, rule, why);
    }

    /// Folders deleted on one side: removed on the other once empty, else recreated.
    fn finish_dirs(&mut self, keys: &[&str]) {
        let mut deletes = std::mem::take(&mut self.dir_deletes);
        deletes.sort_by(|a, b| b.0.cmp(&a.0));
        for (key, side) in deletes {
            let e = match self.cur(side, &key) {
                Some(e) => e.clone(),
                None => continue,
            };
            let prefix = format!("{key}/");
            let start = keys.partition_point(|k| *k < prefix.as_str());
            let survives = keys[start..]
                .iter()
                .take_while(|k| k.starts_with(&prefix))
                .any(|k| {
                    let exists_here = self.cur(side, k).is_some() || self.added[side].contains(*k);
                    (exists_here && !self.removed[side].contains(*k))
                        || self.input.deferred.contains(*k)
                        || self.input.scan(side).is_unknown(k)
                })
                || self
                    .input
                    .scan(side)
                    .blocked
                    .iter()
                    .any(|b| b.starts_with(&prefix));
            let other = side.other();
            if survives {
                let rule = Rule::undelete_on(other);
                self.mkdir(&key, other, &e, rule, format!("folder deleted on {other} but still holds changed files on {side}: recreated"));
            } else {
                let rule = Rule::deleted_on(other);
                let cause = Cause {
                    key: &key,
                    path: &e.path,
                    rule,
                    reason: format!("folder deleted on {other}"),
                };
                let mut op = Op::rmdir(cause, side, &e);
                if let Some(gone) = self.input.state.get(&key).and_then(|r| r.side(other)) {
                    op.expect.push(Expect::of(other, &gone.path, None));
                }
                self.removed[side].insert(key.clone());
                self.push(PHASE_RMDIR, op);
            }
        }
    }
}

/// Decides every op (SPEC §6) and orders them (SPEC §7): folders and
/// moves first, then files small before large (then by change time), then
/// deletes, then folder removals deepest first. Returns the ops (ids from 1)
/// and the number of paths deferred.
#[must_use]
pub fn reconcile(input: &Input<'_>) -> (Vec<Op>, u64) {
    let mut p = Planner {
        input,
        ops: Vec::new(),
        planned_path: PerSide::default(),
        removed: PerSide::default(),
        added: PerSide::default(),
        taken: HashSet::new(),
        dir_deletes: Vec::new(),
        late_dirs: PerSide::default(),
        deferred: 0,
        mtime_step: PerSide::default(),
    };
    let handled = p.plan_moves();
    let keys = all_keys(input);
    for at in &keys {
        if handled.contains(at.key) {
            continue;
        }
        if skipped(input, at.key) {
            p.deferred += 1;
            continue;
        }
        p.decide(at.key, at.l, at.r);
    }
    p.finish_dirs(&keys.iter().map(|at| at.key).collect::<Vec<_>>());
    let mut ops = p.ops;
    // Stable sort keeps key order inside a phase where no other key applies.
    ops.sort_by(|(pa, a), (pb, b)| {
        pa.cmp(pb).then_with(|| {
            if *pa == PHASE_FILES {
                a.bytes
                    .cmp(&b.bytes)
                    .then(a.mtime.cmp(&b.mtime))
                    .then_with(|| a.key.cmp(&b.key))
            } else if *pa == PHASE_RMDIR {
                b.key.cmp(&a.key)
            } else if *pa == PHASE_DIRS || *pa == PHASE_DELETE {
                a.key.cmp(&b.key)
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    let ops: Vec<Op> = ops
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut op))| {
            op.id = i as u64 + 1;
            op
        })
        .collect();
    (ops, p.deferred)
}

mod moves;
#[cfg(test)]
mod tests;
