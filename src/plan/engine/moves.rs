//! Moves and renames (SPEC §6, rules 6.2.14 / 6.2.15), part of the pure
//! engine.
//!
//! Detection, per side: a file *gone* since the last sync (the state has it
//! on that side, the scan does not) and a file *new* there (the scan has it,
//! the state does not) are one move when
//! - the side reports file ids and the new file has the id recorded for the
//!   gone one; or
//! - either has no id (a cloud drive without them): same file name, size
//!   and mtime, no other gone file matches the new one and no other new
//!   file matches the gone one, and — when the new file can be hashed (at
//!   most `hash_max_bytes`, not a placeholder) — its hash equals the one
//!   recorded for the gone file.
//!
//! A gone folder all of whose files moved to the same relative paths below
//! one new folder is one folder move.
//!
//! Propagation: the other side must still have the old path (changed or
//! not), have nothing at the new one, and not have moved or deleted the old
//! one itself; then one `move` op renames it there (moves run after folders
//! are created, before copies). An edit made on one side only, to the moved
//! file or to a file moved with a folder (one rename), follows as a copy at
//! the new path in the same plan; edits on both are left to the next plan,
//! whose rules see them at the new path.
//!
//! Also here: [`hold_renamed`], a rename to a name the other side cannot
//! hold, which no move can follow (the old path is held, never deleted).
//!
//! Invariant: anything unclear (an ambiguous match, a path unknown or
//! deferred on either side, something at the target) is no move: every path
//! then follows the ordinary rules, which keep both names. A move never
//! overwrites and never counts as a delete.

use super::classify::{classify, hashable};
use super::{Class, Input, Phase, Planner};
use crate::PerSide;
use crate::fs::FileId;
use crate::plan::{Cause, MoveStep, MovedEntry, Op};
use crate::scan::{SideScan, Skip};
use crate::state::StateMap;
use crate::{Entry, Kind, Rule, Side, paths};
use std::collections::{HashMap, HashSet};

/// Holds the paths a side lost since the last sync that live on there
/// under a name its scan skipped (one the other side cannot hold, or not
/// UTF-8): a rename the other side cannot follow. What a scan could not
/// sync is unknown, never absent (SPEC §4), so the other side's copy is
/// not deleted (audit item 3). The skipped entry is that path's item when
/// both report a file id and the inodes are equal (devices are ignored, as
/// in `classify::replaced`); where either has none, for a file only, when
/// it lies in the same folder with the same size and mtime. Each held path
/// is blocked on its side (nothing at or below it planned, on either side,
/// and not counted as left for later); the skipped name stays listed with
/// its own reason, and renamed again it syncs (a move, found as usual).
pub fn hold_renamed(state: &StateMap, scans: &mut PerSide<SideScan>, case_sensitive: bool) {
    for side in Side::BOTH {
        let scan = &scans[side];
        let named: Vec<&Skip> = scan
            .skipped
            .iter()
            .filter(|k| k.meta.is_some() && !k.unreadable)
            .collect();
        if named.is_empty() {
            continue;
        }
        let mut held: Vec<(String, String, String)> = Vec::new();
        for key in state.keys() {
            let Some(prev) = state.get(key).and_then(|r| r.side(side)) else {
                continue;
            };
            if scan.entries.contains_key(key) || scan.is_unknown(key) || scan.is_blocked(key) {
                continue;
            }
            if let Some(k) = named
                .iter()
                .find(|k| same_item(prev, k, key, case_sensitive))
            {
                held.push((key.to_owned(), prev.path.clone(), k.path.clone()));
            }
        }
        let scan = &mut scans[side];
        for (key, was, now) in held {
            scan.problems.push(format!(
                "`{was}` was renamed to `{now}`, a name the other side cannot hold: left alone on both sides until it is renamed"
            ));
            scan.blocked.push(key);
        }
    }
}

/// Is the entry under the skipped name `skip` what `key` (`prev` at the
/// last sync) was? See [`hold_renamed`].
fn same_item(prev: &Entry, skip: &Skip, key: &str, case_sensitive: bool) -> bool {
    let Some(m) = &skip.meta else {
        return false;
    };
    if m.kind != prev.kind {
        return false;
    }
    match (prev.id, m.id) {
        (Some(a), Some(b)) => a.ino == b.ino,
        _ => {
            prev.kind == Kind::File
                && m.size == prev.size
                && m.mtime == prev.mtime
                && paths::key_of(paths::parent(&skip.path), case_sensitive) == paths::parent(key)
        }
    }
}

/// A move found on one side: keys before and after.
#[derive(Debug, Clone)]
struct Found {
    side: Side,
    from: String,
    to: String,
    dir: bool,
}

fn skipped_key(input: &Input<'_>, key: &str) -> bool {
    super::classify::skipped(input, key)
}

/// Files and folders gone on `side` since the last sync (key, snapshot).
fn gone<'a>(input: &'a Input<'_>, side: Side) -> Vec<(&'a str, &'a Entry)> {
    let scan = input.scan(side);
    input
        .state
        .keys()
        .filter_map(|k| {
            let prev = input.state.get(k)?.side(side)?;
            (!scan.entries.contains_key(k) && !skipped_key(input, k)).then_some((k, prev))
        })
        .collect()
}

/// Files and folders new on `side` since the last sync (key, entry).
fn new<'a>(input: &'a Input<'_>, side: Side) -> Vec<(&'a str, &'a Entry)> {
    input
        .scan(side)
        .entries
        .iter()
        .filter(|(k, e)| {
            !e.unchanged
                && input.state.get(k).is_none_or(|r| r.side(side).is_none())
                && !skipped_key(input, k)
        })
        .collect()
}

/// Same name, size and mtime: the no-id match (it never pairs a changed file).
fn looks_same(p: &Entry, q: &Entry) -> bool {
    p.kind == Kind::File
        && q.kind == Kind::File
        && paths::file_name(&p.path) == paths::file_name(&q.path)
        && p.size == q.size
        && p.mtime == q.mtime
        && (p.id.is_none() || q.id.is_none())
}

/// The gone file each unmatched new file could be by name, size and mtime,
/// when that match is unique both ways: (gone key, new key).
fn fallback_candidates<'a>(
    gone: &[(&'a str, &'a Entry)],
    new: &[(&'a str, &'a Entry)],
    taken: &HashSet<&str>,
) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    for (q, qe) in new {
        if taken.contains(q) {
            continue;
        }
        let mut ps = gone
            .iter()
            .filter(|(p, pe)| !taken.contains(p) && looks_same(pe, qe));
        let (Some((p, pe)), None) = (ps.next(), ps.next()) else {
            continue;
        };
        let back = new
            .iter()
            .filter(|(q2, qe2)| !taken.contains(q2) && looks_same(pe, qe2))
            .count();
        if back == 1 {
            out.push((*p, *q));
        }
    }
    out
}

/// The (side, key) pairs to hash before moves can be decided: new files
/// whose no-id match needs their hash compared with the recorded one.
pub(super) fn hash_requests(input: &Input<'_>) -> Vec<(Side, String)> {
    if !input.opts.detect_moves || input.state.first_run() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for side in Side::BOTH {
        let g = gone(input, side);
        if g.is_empty() {
            continue;
        }
        let n = new(input, side);
        for (p, q) in fallback_candidates(&g, &n, &HashSet::new()) {
            let (Some(pe), Some(qe)) = (
                input.state.get(p).and_then(|r| r.side(side)),
                input.scan(side).entries.get(q),
            ) else {
                continue;
            };
            if pe.hash.is_some() && qe.hash.is_none() && hashable(qe, input.opts) {
                out.push((side, q.to_owned()));
            }
        }
    }
    out
}

/// Every move on `side`: file pairs first, then folder moves built from them.
fn find(input: &Input<'_>, side: Side) -> Vec<Found> {
    let g = gone(input, side);
    if g.is_empty() {
        return Vec::new();
    }
    let n = new(input, side);
    if n.is_empty() {
        return Vec::new();
    }
    let mut pairs: HashMap<&str, &str> = HashMap::new();
    let mut taken: HashSet<&str> = HashSet::new();
    // By file id.
    let mut by_id: HashMap<FileId, Vec<&str>> = HashMap::new();
    for (p, pe) in &g {
        if pe.kind == Kind::File
            && let Some(id) = pe.id
        {
            by_id.entry(id).or_default().push(p);
        }
    }
    for (q, qe) in &n {
        if qe.kind != Kind::File {
            continue;
        }
        if let Some(id) = qe.id
            && let Some([p]) = by_id.get(&id).map(Vec::as_slice)
            && !taken.contains(p)
        {
            pairs.insert(p, q);
            taken.insert(p);
            taken.insert(q);
        }
    }
    // Without ids: name, size, mtime, unique both ways, and the hash.
    for (p, q) in fallback_candidates(&g, &n, &taken) {
        let (Some(pe), Some(qe)) = (
            input.state.get(p).and_then(|r| r.side(side)),
            input.scan(side).entries.get(q),
        ) else {
            continue;
        };
        if hashable(qe, input.opts) && (pe.hash.is_none() || pe.hash != qe.hash) {
            continue;
        }
        pairs.insert(p, q);
        taken.insert(p);
        taken.insert(q);
    }
    if pairs.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    // Folder moves: every file below a gone folder moved to the same
    // relative path below one new folder (outermost folders first).
    let mut folder_of: Vec<(String, String)> = Vec::new();
    let mut dirs: Vec<&str> = g
        .iter()
        .filter(|(_, e)| e.kind == Kind::Dir)
        .map(|(k, _)| *k)
        .collect();
    dirs.sort_unstable();
    for d in dirs {
        if folder_of.iter().any(|(f, _)| paths::is_within(d, f)) {
            continue;
        }
        let below: Vec<(&str, &Entry)> = input
            .state
            .below(d)
            .filter_map(|(k, r)| r.side(side).map(|e| (k, e)))
            .collect();
        let Some((first, _)) = below.iter().find(|(_, e)| e.kind == Kind::File) else {
            continue;
        };
        let Some(q) = pairs.get(first) else { continue };
        let rel = &first[d.len()..];
        let Some(e) = q.strip_suffix(rel) else {
            continue;
        };
        let is_new_dir = input
            .scan(side)
            .entries
            .get(e)
            .is_some_and(|x| x.kind == Kind::Dir)
            && input.state.get(e).is_none_or(|r| r.side(side).is_none())
            && !skipped_key(input, e);
        if !is_new_dir || paths::is_within(e, d) || paths::is_within(d, e) {
            continue;
        }
        let all_moved = below.iter().all(|(k, ke)| {
            let target = format!("{e}{}", &k[d.len()..]);
            match ke.kind {
                Kind::File => pairs.get(k) == Some(&target.as_str()),
                Kind::Dir => {
                    input
                        .scan(side)
                        .entries
                        .get(&target)
                        .is_some_and(|x| x.kind == Kind::Dir)
                        && input
                            .state
                            .get(&target)
                            .is_none_or(|r| r.side(side).is_none())
                        && !skipped_key(input, &target)
                }
            }
        });
        if all_moved {
            folder_of.push((d.to_owned(), e.to_owned()));
            out.push(Found {
                side,
                from: d.to_owned(),
                to: e.to_owned(),
                dir: true,
            });
        }
    }
    // Every file pair too: those inside a folder move are covered by it when
    // it propagates, and moved one by one when it cannot.
    let mut files: Vec<(&str, &str)> = pairs.into_iter().collect();
    files.sort_unstable();
    out.extend(files.into_iter().map(|(p, q)| Found {
        side,
        from: p.to_owned(),
        to: q.to_owned(),
        dir: false,
    }));
    out
}

impl Planner<'_> {
    /// Plans the moves the other side can follow; returns every key they
    /// cover (the ordinary rules skip those).
    pub(super) fn plan_moves(&mut self) -> HashSet<String> {
        let mut handled = HashSet::new();
        let input = self.input;
        if !input.opts.detect_moves || input.state.first_run() {
            return handled;
        }
        let mut found: Vec<Found> = Vec::new();
        for side in Side::BOTH {
            found.extend(find(input, side));
        }
        // Both sides moved the same path: "moved P elsewhere too" — no move.
        let from_both: HashSet<&str> = found
            .iter()
            .filter(|f| f.side == Side::Left)
            .map(|f| f.from.as_str())
            .filter(|k| found.iter().any(|f| f.side == Side::Right && f.from == *k))
            .collect();
        let found: Vec<Found> = found
            .iter()
            .filter(|f| !from_both.contains(f.from.as_str()))
            .cloned()
            .collect();
        // Folder moves first: a file moved into a moved folder follows it.
        for f in found
            .iter()
            .filter(|f| f.dir)
            .chain(found.iter().filter(|f| !f.dir))
        {
            if handled.contains(&f.from) || handled.contains(&f.to) {
                continue;
            }
            if let Some(keys) = self.propagate(f) {
                handled.extend(keys);
            }
        }
        handled
    }

    /// One move on the other side, if it can follow; the keys it covers.
    fn propagate(&mut self, f: &Found) -> Option<Vec<String>> {
        let input = self.input;
        let (s, o) = (f.side, f.side.other());
        // A move on a one-way rule's read-only side is not carried back:
        // the ordinary rules restore the old path and report the new one.
        if input.opts.read_only(s, &f.from, f.dir) || input.opts.read_only(s, &f.to, f.dir) {
            return None;
        }
        let row = input.state.get(&f.from)?;
        let (s_prev, o_prev) = (row.side(s)?, row.side(o)?);
        let o_now = self.cur(o, &f.from)?;
        let s_new = self.cur(s, &f.to)?;
        let want = if f.dir { Kind::Dir } else { Kind::File };
        if o_now.kind != want || o_prev.kind != want || s_new.kind != want {
            return None;
        }
        // Nothing at the target on the other side, now or at the last sync.
        let target_free = |k: &str| {
            self.cur(o, k).is_none() && input.state.get(k).is_none_or(|r| r.side(o).is_none())
        };
        if !target_free(&f.to) {
            return None;
        }
        // Every folder above the target is a folder (or absent) on the other side.
        let mut up = paths::parent(&f.to);
        while !up.is_empty() {
            if self.cur(o, up).is_some_and(|e| e.kind != Kind::Dir) || skipped_key(input, up) {
                return None;
            }
            up = paths::parent(up);
        }
        let src_path = o_now.path.clone();
        let dest_path = paths::join(
            &self.path_on(o, paths::parent(&f.to), paths::parent(&s_new.path)),
            paths::file_name(&s_new.path),
        );
        // What the state records for each moved path afterwards: each side's
        // last-synced snapshot at its new path, so that an edit made on
        // either side is still seen as a change there.
        let mut moved = vec![self.moved_entry(f, &f.from, &f.to, s_prev, o_prev, &dest_path)?];
        let mut keys = vec![f.from.clone(), f.to.clone()];
        // The files moved with the folder: (index in `moved`, last-synced
        // snapshot on the mover's side, then on the other).
        let mut inside: Vec<(usize, &Entry, &Entry)> = Vec::new();
        if f.dir {
            let below: Vec<(&str, &crate::state::StateRow)> = input.state.below(&f.from).collect();
            for (k, r) in below {
                let to_key = format!("{}{}", f.to, &k[f.from.len()..]);
                let (Some(sp), Some(op)) = (r.side(s), r.side(o)) else {
                    // Only one side had it at the last sync: the other side
                    // cannot follow this folder as one rename.
                    return None;
                };
                let o_path = format!(
                    "{dest_path}{}",
                    &op.path[o_prev.path.len().min(op.path.len())..]
                );
                if !target_free(&to_key)
                    || self.cur(o, k).is_none_or(|e| e.kind != op.kind)
                    || skipped_key(input, k)
                {
                    return None;
                }
                if op.kind == Kind::File {
                    inside.push((moved.len(), sp, op));
                }
                moved.push(self.moved_entry(f, k, &to_key, sp, op, &o_path)?);
                keys.push(k.to_owned());
                keys.push(to_key);
            }
            // New files and folders inside the moved folder are synced after it.
            self.late_dirs[o].push(f.to.clone());
        }
        self.planned_path[o].insert(f.to.clone(), dest_path.clone());
        for m in moved.iter().skip(1) {
            let p = if o == Side::Left {
                &m.left.path
            } else {
                &m.right.path
            };
            self.planned_path[o].insert(m.to_key.clone(), p.clone());
        }
        let rule = Rule::moved_on(s);
        let what = if f.dir { "folder" } else { "file" };
        let cause = Cause {
            key: &f.to,
            path: &s_new.path,
            rule,
            reason: format!(
                "{what} moved on {s} from `{}`: moved on {o} too, nothing copied",
                s_prev.path
            ),
        };
        // Edits made on one side only follow the move in this plan, for the
        // moved file and for each file moved with a folder (one rename).
        let mut follow: Vec<(MovedEntry, &Entry, &Entry)> =
            vec![(moved[0].clone(), s_prev, o_prev)];
        if f.dir {
            follow = inside
                .into_iter()
                .map(|(i, sp, op)| (moved[i].clone(), sp, op))
                .collect();
        }
        let step = MoveStep {
            side: o,
            from: s,
            src_path: src_path.clone(),
            dest_path: dest_path.clone(),
            src_key: f.from.clone(),
            moved,
        };
        let op = Op::moved(cause, step, o_now);
        self.added[o].insert(f.to.clone());
        self.removed[o].insert(f.from.clone());
        self.push(Phase::Moves, op);
        for (m, sp, op) in follow {
            if let (Some(s_now), Some(o_now)) = (self.cur(s, &m.to_key), self.cur(o, &m.from_key)) {
                self.follow_up(s, (sp, s_now), (op, o_now), &m);
            }
        }
        Some(keys)
    }

    /// The state of one moved path afterwards (both sides' last-synced
    /// snapshots, at their new paths; ids as they are now).
    fn moved_entry(
        &self,
        f: &Found,
        from: &str,
        to: &str,
        s_prev: &Entry,
        o_prev: &Entry,
        o_path: &str,
    ) -> Option<MovedEntry> {
        let (s, o) = (f.side, f.side.other());
        let s_now = self.cur(s, to)?;
        let mut s_e = s_prev.clone();
        s_e.path.clone_from(&s_now.path);
        s_e.id = s_now.id;
        if s_now.kind == Kind::File && s_now.size == s_prev.size && s_now.mtime == s_prev.mtime {
            s_e.props = s_now.props;
        }
        let mut o_e = o_prev.clone();
        o_path.clone_into(&mut o_e.path);
        o_e.id = self.cur(o, from).and_then(|e| e.id).or(o_prev.id);
        let (left, right) = if s == Side::Left {
            (s_e, o_e)
        } else {
            (o_e, s_e)
        };
        Some(MovedEntry {
            from_key: from.to_owned(),
            to_key: to.to_owned(),
            left,
            right,
        })
    }

    /// An edit made on one side only to the moved file `m` (moved on `s`;
    /// each side's snapshot at the last sync and now) reaches the other
    /// side at the new path in this plan (the move runs first, SPEC §6);
    /// edits on both wait for the next plan, whose rules see them there.
    fn follow_up(
        &mut self,
        s: Side,
        (s_prev, s_new): (&Entry, &Entry),
        (o_prev, o_now): (&Entry, &Entry),
        m: &MovedEntry,
    ) {
        let o = s.other();
        let s_changed = classify(Some(s_prev), Some(s_new)) == Class::Content;
        let o_changed = classify(Some(o_prev), Some(o_now)) == Class::Content;
        let to = m.to_key.as_str();
        let at = |side: Side| {
            if side == Side::Left {
                &m.left
            } else {
                &m.right
            }
        };
        match (s_changed, o_changed) {
            (true, false) => {
                let mut dest_now = o_now.clone();
                dest_now.path.clone_from(&at(o).path);
                let rule = Rule::changed_on(s);
                self.copy_over(
                    to,
                    s,
                    s_new,
                    &dest_now,
                    rule,
                    format!("moved and changed on {s}: the new content follows the move"),
                );
            }
            (false, true) => {
                let mut src = o_now.clone();
                src.path.clone_from(&at(o).path);
                let rule = Rule::changed_on(o);
                self.copy_over(
                    to,
                    o,
                    &src,
                    s_new,
                    rule,
                    format!(
                        "changed on {o} while moved on {s}: the change follows to the new path"
                    ),
                );
            }
            _ => {}
        }
    }
}
