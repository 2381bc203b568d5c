//! How the planner emits steps: each helper builds one kind of step with
//! its named constructor ([`Op::copy`], [`Op::delete`], …), puts it in its
//! phase, and keeps the planner's picture of each side after the plan
//! (`planned_path`, `added`, `removed`) in step with it.

use super::{Phase, Planner};
use crate::plan::{Cause, Expect, Lane, Op, Step};
use crate::{Entry, Kind, Rule, Side, paths};

impl<'a> Planner<'a> {
    pub(super) fn cur(&self, side: Side, key: &str) -> Option<&'a Entry> {
        self.input.scan(side).entries.get(key)
    }

    /// The exact path `key` has (or will have) on `side`.
    pub(super) fn path_on(&self, side: Side, key: &str, fallback: &str) -> String {
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

    pub(super) fn key(&self, path: &str) -> String {
        paths::key_of(path, self.input.opts.case_sensitive)
    }

    /// Adds a step, with the `[[rules]]` path it was decided under.
    pub(super) fn push(&mut self, phase: Phase, mut op: Op) {
        if op.policy.is_none() {
            let is_dir = matches!(op.step, Step::Mkdir(_) | Step::Rmdir(_));
            op.policy = self.input.opts.policy(&op.key, is_dir);
        }
        // Under a rule, the version a copy replaces is kept by that rule.
        if op.policy.is_some()
            && let Step::Copy(c) = &mut op.step
            && let Some(old) = op.expect.iter().find(|e| {
                e.side == c.side && e.path == c.dest_path && e.exists && e.kind == Some(Kind::File)
            })
        {
            let key = paths::key_of(&c.dest_path, self.input.opts.case_sensitive);
            c.keeps_replaced = Some(self.input.opts.soft_delete_at(&key, false, old.size));
        }
        self.ops.push((phase, op));
    }

    /// Copy `src` (on `from`) to the other side at the path `key` has
    /// there, where nothing is when the step runs.
    pub(super) fn copy_new(
        &mut self,
        key: &str,
        from: Side,
        src: &Entry,
        rule: Rule,
        reason: String,
    ) {
        self.copy(key, from, src, None, rule, reason);
    }

    /// Copy `src` (on `from`) over `dest_now`, what the other side holds at
    /// the path `key` has there when the step runs (the copy sends it to trash).
    pub(super) fn copy_over(
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

    pub(super) fn copy(
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
        let lane = if src.size > self.input.opts.large_file_bytes_at(key) {
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
        self.push(Phase::Files, op);
    }

    pub(super) fn mkdir(&mut self, key: &str, to: Side, src: &Entry, rule: Rule, reason: String) {
        // Inside a folder that a kind clash creates (after moving a file out
        // of its way): created after it, not with the other folders first.
        let inside_clash = self.late_dirs[to].iter().any(|d| paths::is_within(key, d));
        let phase = if inside_clash {
            Phase::Aside
        } else {
            Phase::Dirs
        };
        self.mkdir_in(phase, key, to, src, rule, reason);
    }

    /// A folder created in `phase` (a kind clash creates its folder right
    /// after the file that held the name has moved aside).
    pub(super) fn mkdir_in(
        &mut self,
        phase: Phase,
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
    /// `Phase::Delete` for deletes, `Phase::Aside` for "overwritten version to trash".
    pub(super) fn delete(
        &mut self,
        key: &str,
        side: Side,
        e: &Entry,
        rule: Rule,
        reason: String,
        phase: Phase,
    ) {
        let o = self.input.opts;
        let is_dir = e.kind == Kind::Dir;
        let soft = o.soft_delete_at(key, is_dir, e.size);
        let reason = if o.hard_by_rule(key, is_dir) {
            format!("{reason}; deleted for good (delete = \"hard\")")
        } else {
            reason
        };
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
    pub(super) fn confirm_gone(&mut self, gone_side: Side, last: Option<&Entry>) {
        if let (Some(last), Some((_, op))) = (last, self.ops.last_mut()) {
            op.expect.push(Expect::of(gone_side, &last.path, None));
        }
    }

    pub(super) fn record(
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
        self.push(Phase::Dirs, Op::record(cause, left, right));
    }

    /// A change a one-way rule does not carry back: recorded as the last
    /// synced pair (so it is reported again until someone acts) and
    /// marked for the plan's problems.
    pub(super) fn not_carried(
        &mut self,
        key: &str,
        path: &str,
        rule: Rule,
        reason: String,
        (left, right): (Option<&Entry>, Option<&Entry>),
    ) {
        let cause = Cause {
            key,
            path,
            rule,
            reason,
        };
        let mut op = Op::record(cause, left, right);
        if let Step::Record(r) = &mut op.step {
            r.record.not_carried = true;
        }
        self.push(Phase::Dirs, op);
    }

    /// Name-case and property sync from `from` to the other side (6.2.11/12).
    pub(super) fn props(
        &mut self,
        key: &str,
        from: Side,
        src: &Entry,
        dest: &Entry,
        rule: Rule,
        why: &str,
    ) {
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
            self.push(Phase::Dirs, op);
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
                    Phase::Dirs
                } else {
                    Phase::Files
                },
                op,
            );
        }
    }

    /// Renames `e` (key `key`) on `side` to the free name `clash` (key `clash_key`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn move_aside(
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
        self.push(Phase::Aside, mv);
    }

    /// First free clash path for `path` (checked on both sides and in this plan).
    pub(super) fn clash_path(&mut self, path: &str) -> String {
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

    pub(super) fn same(&mut self, key: &str, l: &Entry, r: &Entry, why: &str) {
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
}
