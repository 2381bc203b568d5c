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
//! (`Planner::conflict`).
//!
//! Files: `classify` (the first pass), this file (the planner's state, the
//! per-key decision and the ordering), `conflicts` (conflict policy and
//! clashes), `ops` (emitting steps with `Op`'s named constructors),
//! `moves` (moves found by file id), `policy` (`[[rules]]` per path: the
//! settings a path is decided under, one-way subtrees), `tests` (the rule
//! table).
//!
//! Invariants: a path under an unknown folder (unreadable, case collision)
//! or deferred (too young, in flight) gets no op, nor does one at or below
//! what a side skipped on purpose (a link, a name the other side cannot
//! hold), on either side; every version a rule
//! replaces is either identical, older-and-superseded by the same user
//! path, kept as a clash copy, or sent to trash by a delete op.

mod classify;
mod conflicts;
mod moves;
mod ops;
mod policy;

pub use classify::{classify, hash_requests, replaced, unchanged_on_both};
pub use moves::hold_renamed;

use super::{Cause, Expect, Op, PlanConfig};
use crate::config::ConflictOption;
use crate::config::rules::FolderRules;
use crate::scan::SideScan;
use crate::state::{ConflictRecord, StateMap};
use crate::{Entry, Kind, PerSide, Rule, Side, paths};
use classify::{all_keys, blocked, hashable, later, restamped, still_unresolved, within_tolerance};
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
    /// `[[rules]]`: per-path overrides of the settings above
    /// ([`Options::rule`]; see `policy`).
    pub rules: FolderRules,
    /// The `exclude` patterns (recorded in the plan; the scan applies them).
    pub exclude: Vec<String>,
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
            rules: c.rules.clone(),
            exclude: r.exclude.clone(),
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
            exclude: self.exclude.clone(),
            rules: self.rules.rules.iter().map(|r| r.raw.clone()).collect(),
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

/// Builds the ops for one plan; see [`reconcile`].
struct Planner<'a> {
    input: &'a Input<'a>,
    ops: Vec<(Phase, Op)>,
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

/// When a step runs (SPEC §7): folders to create first, then moves, then
/// conflict notes and moves aside, then files (small before large), then
/// deletes, then folder removals. The plan is sorted by phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Dirs,
    /// Moves run after folders are created and before copies (SPEC §6).
    Moves,
    Aside,
    Files,
    Delete,
    Rmdir,
}

impl<'a> Planner<'a> {
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

        if self.one_way(key, (l, r), (cl, cr), (lp, rp)) {
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
                            Phase::Delete,
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
            (Props, Unchanged) => self.props_or_record(key, Side::Left, l, r),
            (Unchanged, Props) => self.props_or_record(key, Side::Right, r, l),
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

    /// A property change on `from` only (6.2.11 / 6.2.12); when there is
    /// nothing to carry over (the file was only replaced by an identical
    /// one: a restore from backup, a save that rewrote the same bytes and
    /// times), its new snapshot is recorded, so it is not hashed again at
    /// every plan.
    fn props_or_record(&mut self, key: &str, from: Side, src: &Entry, dest: &Entry) {
        let before = self.ops.len();
        let (rule, why) = match from {
            Side::Left => (Rule::PropsLeft, "6.2.11"),
            Side::Right => (Rule::PropsRight, "6.2.12"),
        };
        self.props(key, from, src, dest, rule, why);
        if self.ops.len() == before {
            let (l, r) = if from == Side::Left {
                (src, dest)
            } else {
                (dest, src)
            };
            self.same(key, l, r, "replaced by an identical file: recorded");
        }
    }

    /// Folders deleted on one side: removed on the other once empty, else
    /// recreated; kept where they are when they hold only what the
    /// `[[rules]]` leave out (SPEC §3: never deleted), with their parents.
    fn finish_dirs(&mut self, keys: &[&str]) {
        let mut deletes = std::mem::take(&mut self.dir_deletes);
        deletes.sort_by(|a, b| b.0.cmp(&a.0));
        // Folders kept on a side for what the rules leave out in them (not
        // made again on the other side: nothing of theirs is synced).
        let mut kept: PerSide<HashSet<String>> = PerSide::default();
        for (key, side) in deletes {
            let e = match self.cur(side, &key) {
                Some(e) => e.clone(),
                None => continue,
            };
            let prefix = format!("{key}/");
            let start = keys.partition_point(|k| *k < prefix.as_str());
            let scan = self.input.scan(side);
            let survives = keys[start..]
                .iter()
                .take_while(|k| k.starts_with(&prefix))
                .any(|k| {
                    let exists_here = self.cur(side, k).is_some() || self.added[side].contains(*k);
                    (exists_here && !self.removed[side].contains(*k) && !kept[side].contains(*k))
                        || self.input.deferred.contains(*k)
                        || scan.is_unknown(k)
                })
                || scan.blocked.iter().any(|b| b.starts_with(&prefix));
            let other = side.other();
            if survives {
                let rule = Rule::undelete_on(other);
                self.mkdir(&key, other, &e, rule, format!("folder deleted on {other} but still holds changed files on {side}: recreated"));
            } else if scan.ruled_out.iter().any(|h| h.starts_with(&prefix))
                || kept[side].iter().any(|h| h.starts_with(&prefix))
            {
                // Left where it is, and its deletion on the other side
                // stays pending in the state: once what the rules leave
                // out is gone, a later plan removes it.
                kept[side].insert(key);
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
                self.push(Phase::Rmdir, op);
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
        if later(input, at.key) {
            p.deferred += 1;
            continue;
        }
        if blocked(input, at.key) {
            continue;
        }
        p.decide(at.key, at.l, at.r);
    }
    p.finish_dirs(&keys.iter().map(|at| at.key).collect::<Vec<_>>());
    let mut ops = p.ops;
    // Stable sort keeps key order inside a phase where no other key applies.
    ops.sort_by(|(pa, a), (pb, b)| {
        pa.cmp(pb).then_with(|| {
            if *pa == Phase::Files {
                a.bytes
                    .cmp(&b.bytes)
                    .then(a.mtime.cmp(&b.mtime))
                    .then_with(|| a.key.cmp(&b.key))
            } else if *pa == Phase::Rmdir {
                b.key.cmp(&a.key)
            } else if *pa == Phase::Dirs || *pa == Phase::Delete {
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

#[cfg(test)]
mod tests;
