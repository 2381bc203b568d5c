//! The engine's first pass (SPEC §5): what happened to a path on each
//! side since the last sync ([`classify`]), which hashes would change that
//! answer ([`hash_requests`]), and the keys to decide ([`all_keys`]).
//!
//! Pure: reads scans, the state and options; never the disk.

use super::{Class, Input, Options, moves};
use crate::state::{ConflictRecord, StateRow};
use crate::{Entry, Kind, PerSide, Side, paths};

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

pub(super) fn hashable(e: &Entry, o: &Options) -> bool {
    e.kind == Kind::File && !e.offline && e.size <= o.hash_max_bytes && o.hash_here(&e.path)
}

pub(super) fn within_tolerance(a: &Entry, b: &Entry, o: &Options) -> bool {
    (a.mtime - b.mtime).abs() <= o.mtime_tolerance_ns
}

/// Only the mtime of `cur` moved since its snapshot `prev`, which has no
/// hash, and the other side is unchanged since the last sync: compare
/// `cur`'s bytes with the other side's (both hashes wanted).
pub(super) fn mtime_only_unhashed(
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
pub(super) fn restamped(
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

/// `key` gets no op this plan: [`later`] or [`blocked`].
pub(super) fn skipped(input: &Input<'_>, key: &str) -> bool {
    later(input, key) || blocked(input, key)
}

/// `key` is left for a later cycle (counted as deferred): it lies at or
/// below what a side could not read or tell apart, or it is deferred.
pub(super) fn later(input: &Input<'_>, key: &str) -> bool {
    input.left.is_unknown(key) || input.right.is_unknown(key) || input.deferred.contains(key)
}

/// `key` lies at or below what a side skipped on purpose (a link, a name
/// the other side cannot hold): unknown, never absent, so nothing is
/// planned there on either side; it waits for the admin (a skipped path),
/// not for a later cycle.
pub(super) fn blocked(input: &Input<'_>, key: &str) -> bool {
    input.left.is_blocked(key) || input.right.is_blocked(key)
}

pub(super) fn same_meta(a: Option<&Entry>, b: Option<&Entry>) -> bool {
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
pub(super) fn still_unresolved(c: &ConflictRecord, l: Option<&Entry>, r: Option<&Entry>) -> bool {
    same_meta(c.left.as_ref(), l) && same_meta(c.right.as_ref(), r)
}

/// A key to decide, with what each scan holds for it (found by the merge,
/// so that no key is looked up again).
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    pub(super) key: &'a str,
    pub(super) l: Option<&'a Entry>,
    pub(super) r: Option<&'a Entry>,
}

/// Every key of both scans and the state, ascending, once: a three-way
/// merge of already-sorted sequences (no sort, no hashing, no lookup).
pub(super) fn all_keys<'a>(input: &'a Input<'_>) -> Vec<At<'a>> {
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
