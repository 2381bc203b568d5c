//! One plan step: a shared header (id, path, key, rule, reason, sides,
//! bytes, mtime, expect) and a typed [`Step`], one variant per kind,
//! holding only the fields that kind has — so a copy always has its source
//! and destination, and `apply` needs no fallback for a missing side.
//!
//! The JSON is the plan file format of `format_version` 1: `Step` is
//! flattened into the header with `#[serde(tag = "kind")]`, giving the same
//! object (same keys, same values) as the earlier bag-of-optional-fields
//! struct did; only the order of the keys differs (JSON objects are
//! unordered; every reader here and in the PowerShell tests looks keys up
//! by name). `plan::tests` checks this against the recorded plans in
//! `tests/replay/`.
//!
//! Why a header struct around a `Step` enum, not an enum whose variants each
//! repeat the header (what issue 20 sketched): the header fields stay plain
//! fields (`op.id`, `op.key`), read in ~200 places, with no accessor that
//! matches over nine variants; the kind-specific fields are reachable only
//! by matching on `op.step`, which is the point of the change.
//!
//! The engine builds steps with the named constructors below
//! ([`Op::copy`], [`Op::delete`], …), each filling the step's `expect` the
//! one way that kind needs.

use super::{ConflictInfo, Expect, MovedEntry, RecordInfo, SideInfo};
use crate::{Entry, Resolution, Rule, Side};
use serde::{Deserialize, Serialize};

/// What a step does (the `kind` of its JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Copy,
    Delete,
    Rename,
    /// A file or folder moved on the other side, moved here too (6.2.14/15).
    Move,
    SetProps,
    Mkdir,
    Rmdir,
    Conflict,
    Record,
}

impl OpKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Delete => "delete",
            Self::Rename => "rename",
            Self::Move => "move",
            Self::SetProps => "set_props",
            Self::Mkdir => "mkdir",
            Self::Rmdir => "rmdir",
            Self::Conflict => "conflict",
            Self::Record => "record",
        }
    }
}

/// Which copy lane a step runs in (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    #[default]
    Small,
    Large,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_small(l: &Lane) -> bool {
    *l == Lane::Small
}

/// Copy a file from `from` (at `src_path`) to `side` (at `dest_path`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyStep {
    /// The side written.
    pub side: Side,
    /// The side read.
    pub from: Side,
    pub src_path: String,
    pub dest_path: String,
    #[serde(default, skip_serializing_if = "is_small")]
    pub lane: Lane,
    /// The source's properties when planned.
    pub props: u32,
    /// Key of the source path when it differs from the op's key (clash copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_key: Option<String>,
    /// Whether the version this copy replaces goes to the trash, when a
    /// `[[rules]]` entry decided the step (absent: the plan's global
    /// `[soft_delete]` settings say). For the plan's review; apply asks
    /// the config it runs with ([`crate::config::Config::soft_delete_at`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeps_replaced: Option<bool>,
}

/// Delete a file on `side`: to trash (soft) or for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteStep {
    pub side: Side,
    pub dest_path: String,
    pub soft: bool,
}

/// Rename `src_path` to `dest_path` on `side` (a name-case change, or a
/// version moved aside to its clash name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameStep {
    pub side: Side,
    pub src_path: String,
    pub dest_path: String,
    /// Key of the old path when it differs from the op's key (moved aside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_key: Option<String>,
}

/// Move `src_path` to `dest_path` on `side`, as it moved on `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveStep {
    pub side: Side,
    pub from: Side,
    pub src_path: String,
    pub dest_path: String,
    /// Key of the path before the move.
    pub src_key: String,
    /// The paths it moves (the moved item first) and their state afterwards.
    pub moved: Vec<MovedEntry>,
}

/// Give `dest_path` on `side` the properties (and, for a file, the header's
/// mtime) that `src_path` has on `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPropsStep {
    pub side: Side,
    pub from: Side,
    pub src_path: String,
    pub dest_path: String,
    pub props: u32,
}

/// Create the folder `dest_path` on `side`, as `src_path` is on `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MkdirStep {
    pub side: Side,
    pub from: Side,
    pub src_path: String,
    pub dest_path: String,
    pub props: u32,
}

/// Remove the (empty) folder `dest_path` on `side`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmdirStep {
    pub side: Side,
    pub dest_path: String,
}

/// A conflict note (what happened, how it is resolved by the steps around it).
///
/// Read from its nested `conflict` object (as format 1 has always written
/// it); written with `newer`, `older`, `clash_path`, `resolution` and both
/// sides' size and mtime (`left`, `right`) on the op itself as well, where
/// SPEC §7 names them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConflictStep {
    pub conflict: Box<ConflictInfo>,
}

impl Serialize for ConflictStep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Written<'a> {
            newer: Side,
            older: Side,
            #[serde(skip_serializing_if = "Option::is_none")]
            clash_path: Option<&'a str>,
            resolution: Resolution,
            left: Option<&'a SideInfo>,
            right: Option<&'a SideInfo>,
            conflict: &'a ConflictInfo,
        }
        let c = &*self.conflict;
        Written {
            newer: c.newer,
            older: c.older,
            clash_path: c.clash_path.as_deref(),
            resolution: c.resolution,
            left: c.left.as_ref(),
            right: c.right.as_ref(),
            conflict: c,
        }
        .serialize(s)
    }
}

/// A state-only step: what the snapshot records (no file is touched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStep {
    pub record: Box<RecordInfo>,
}

/// The kind of a step and the fields only that kind has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    Copy(CopyStep),
    Delete(DeleteStep),
    Rename(RenameStep),
    Move(MoveStep),
    SetProps(SetPropsStep),
    Mkdir(MkdirStep),
    Rmdir(RmdirStep),
    Conflict(ConflictStep),
    Record(RecordStep),
}

/// One step: the header every kind has, and its [`Step`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub id: u64,
    /// The path as people know it (exact case, source side's spelling).
    pub path: String,
    /// Identity key of the path whose state this step updates.
    pub key: String,
    pub rule: Rule,
    pub reason: String,
    #[serde(flatten)]
    pub step: Step,
    /// Every side the step reads or writes (conflicts and records: both).
    /// Absent in plans recorded before it existed (then empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sides: Vec<Side>,
    /// Copy: the size sent; delete: the size removed; others 0.
    #[serde(default)]
    pub bytes: u64,
    /// Copy: the source's mtime (change time, for ordering); set_props:
    /// the mtime to set; others 0.
    #[serde(default)]
    pub mtime: i64,
    /// What each path the step acts on must be when it runs (SPEC §8).
    pub expect: Vec<Expect>,
    /// The `[[rules]]` path the step was decided under (`"Temp/**"`);
    /// `null` when the global settings decided (absent in older plans).
    #[serde(default)]
    pub policy: Option<String>,
}

/// Why a step exists: the path it is about, as a key and as people know
/// it, and the rule and sentence that chose it.
pub struct Cause<'a> {
    pub key: &'a str,
    pub path: &'a str,
    pub rule: Rule,
    pub reason: String,
}

impl Op {
    /// A step with its header filled from `cause` (id 0 until the plan is
    /// ordered, no bytes, mtime or expect yet).
    #[must_use]
    pub fn new(cause: Cause<'_>, step: Step) -> Self {
        let mut op = Self {
            id: 0,
            path: cause.path.to_owned(),
            key: cause.key.to_owned(),
            rule: cause.rule,
            reason: cause.reason,
            step,
            sides: Vec::new(),
            bytes: 0,
            mtime: 0,
            expect: Vec::new(),
            policy: None,
        };
        op.sides = op.touches();
        op
    }

    /// Copy `src` (at `src_path` on `from`) to the other side at
    /// `dest_path`, which holds `dest_now` when the step runs.
    #[must_use]
    pub fn copy(
        cause: Cause<'_>,
        from: Side,
        src: &Entry,
        src_path: &str,
        dest_path: &str,
        dest_now: Option<&Entry>,
        lane: Lane,
    ) -> Self {
        let to = from.other();
        let mut op = Self::new(
            cause,
            Step::Copy(CopyStep {
                side: to,
                from,
                src_path: src_path.to_owned(),
                dest_path: dest_path.to_owned(),
                lane,
                props: src.props,
                src_key: None,
                keeps_replaced: None,
            }),
        );
        op.bytes = src.size;
        op.mtime = src.mtime;
        op.expect = vec![
            Expect::of(from, src_path, Some(src)),
            Expect::of(to, dest_path, dest_now),
        ];
        op
    }

    /// Create on `to` the folder `src` is on the other side, at `dest_path`.
    #[must_use]
    pub fn mkdir(cause: Cause<'_>, to: Side, src: &Entry, dest_path: &str) -> Self {
        let from = to.other();
        let mut op = Self::new(
            cause,
            Step::Mkdir(MkdirStep {
                side: to,
                from,
                src_path: src.path.clone(),
                dest_path: dest_path.to_owned(),
                props: src.props,
            }),
        );
        op.expect = vec![
            Expect::of(from, &src.path, Some(src)),
            Expect::of(to, dest_path, None),
        ];
        op
    }

    /// Delete `e` on `side`, to trash when `soft`.
    #[must_use]
    pub fn delete(cause: Cause<'_>, side: Side, e: &Entry, soft: bool) -> Self {
        let mut op = Self::new(
            cause,
            Step::Delete(DeleteStep {
                side,
                dest_path: e.path.clone(),
                soft,
            }),
        );
        op.bytes = e.size;
        op.expect = vec![Expect::of(side, &e.path, Some(e))];
        op
    }

    /// Remove the folder `e` on `side`.
    #[must_use]
    pub fn rmdir(cause: Cause<'_>, side: Side, e: &Entry) -> Self {
        let mut op = Self::new(
            cause,
            Step::Rmdir(RmdirStep {
                side,
                dest_path: e.path.clone(),
            }),
        );
        op.expect = vec![Expect::of(side, &e.path, Some(e))];
        op
    }

    /// Rename `e` on `side` to `dest_path`; `src_key` when the step's key
    /// is the new path's (a version moved aside).
    #[must_use]
    pub fn rename(
        cause: Cause<'_>,
        side: Side,
        e: &Entry,
        dest_path: &str,
        src_key: Option<&str>,
    ) -> Self {
        let mut op = Self::new(
            cause,
            Step::Rename(RenameStep {
                side,
                src_path: e.path.clone(),
                dest_path: dest_path.to_owned(),
                src_key: src_key.map(str::to_owned),
            }),
        );
        op.expect = vec![Expect::of(side, &e.path, Some(e))];
        op
    }

    /// Give `dest_now` (at `dest_path` on the other side) what `src` on
    /// `from` has: properties, and for a file its mtime.
    #[must_use]
    pub fn set_props(
        cause: Cause<'_>,
        from: Side,
        src: &Entry,
        dest_path: &str,
        dest_now: &Entry,
    ) -> Self {
        let to = from.other();
        let mut op = Self::new(
            cause,
            Step::SetProps(SetPropsStep {
                side: to,
                from,
                src_path: src.path.clone(),
                dest_path: dest_path.to_owned(),
                props: src.props,
            }),
        );
        op.mtime = src.mtime;
        op.expect = vec![
            Expect::of(from, &src.path, Some(src)),
            Expect::of(to, dest_path, Some(dest_now)),
        ];
        op
    }

    /// Move, as `step` says; `now` is what its source is when planned.
    #[must_use]
    pub fn moved(cause: Cause<'_>, step: MoveStep, now: &Entry) -> Self {
        let expect = vec![
            Expect::of(step.side, &step.src_path, Some(now)),
            Expect::of(step.side, &step.dest_path, None),
        ];
        let mut op = Self::new(cause, Step::Move(step));
        op.expect = expect;
        op
    }

    /// A conflict note between `l` and `r`.
    #[must_use]
    pub fn conflict(cause: Cause<'_>, info: ConflictInfo, l: &Entry, r: &Entry) -> Self {
        let mut op = Self::new(
            cause,
            Step::Conflict(ConflictStep {
                conflict: Box::new(info),
            }),
        );
        op.expect = vec![
            Expect::of(Side::Left, &l.path, Some(l)),
            Expect::of(Side::Right, &r.path, Some(r)),
        ];
        op
    }

    /// A state-only step recording `left` and `right`.
    #[must_use]
    pub fn record(cause: Cause<'_>, left: Option<&Entry>, right: Option<&Entry>) -> Self {
        Self::new(
            cause,
            Step::Record(RecordStep {
                record: Box::new(RecordInfo {
                    left: left.cloned(),
                    right: right.cloned(),
                    not_carried: false,
                }),
            }),
        )
    }

    /// What the step does.
    #[must_use]
    pub fn kind(&self) -> OpKind {
        match &self.step {
            Step::Copy(_) => OpKind::Copy,
            Step::Delete(_) => OpKind::Delete,
            Step::Rename(_) => OpKind::Rename,
            Step::Move(_) => OpKind::Move,
            Step::SetProps(_) => OpKind::SetProps,
            Step::Mkdir(_) => OpKind::Mkdir,
            Step::Rmdir(_) => OpKind::Rmdir,
            Step::Conflict(_) => OpKind::Conflict,
            Step::Record(_) => OpKind::Record,
        }
    }

    /// The side written (None for conflicts and records, which touch both
    /// or none).
    #[must_use]
    pub fn side(&self) -> Option<Side> {
        match &self.step {
            Step::Copy(s) => Some(s.side),
            Step::Delete(s) => Some(s.side),
            Step::Rename(s) => Some(s.side),
            Step::Move(s) => Some(s.side),
            Step::SetProps(s) => Some(s.side),
            Step::Mkdir(s) => Some(s.side),
            Step::Rmdir(s) => Some(s.side),
            Step::Conflict(_) | Step::Record(_) => None,
        }
    }

    /// The side read, for the kinds that copy something from the other side.
    #[must_use]
    pub fn from(&self) -> Option<Side> {
        match &self.step {
            Step::Copy(s) => Some(s.from),
            Step::Move(s) => Some(s.from),
            Step::SetProps(s) => Some(s.from),
            Step::Mkdir(s) => Some(s.from),
            _ => None,
        }
    }

    /// Copy/set_props/mkdir: the source path on `from`; rename/move: the old path.
    #[must_use]
    pub fn src_path(&self) -> Option<&str> {
        match &self.step {
            Step::Copy(s) => Some(&s.src_path),
            Step::Rename(s) => Some(&s.src_path),
            Step::Move(s) => Some(&s.src_path),
            Step::SetProps(s) => Some(&s.src_path),
            Step::Mkdir(s) => Some(&s.src_path),
            _ => None,
        }
    }

    /// The path written on [`Op::side`] (None for conflicts and records).
    #[must_use]
    pub fn dest_path(&self) -> Option<&str> {
        match &self.step {
            Step::Copy(s) => Some(&s.dest_path),
            Step::Delete(s) => Some(&s.dest_path),
            Step::Rename(s) => Some(&s.dest_path),
            Step::Move(s) => Some(&s.dest_path),
            Step::SetProps(s) => Some(&s.dest_path),
            Step::Mkdir(s) => Some(&s.dest_path),
            Step::Rmdir(s) => Some(&s.dest_path),
            Step::Conflict(_) | Step::Record(_) => None,
        }
    }

    /// The copy lane (every other kind runs in the small one).
    #[must_use]
    pub fn lane(&self) -> Lane {
        match &self.step {
            Step::Copy(s) => s.lane,
            _ => Lane::Small,
        }
    }

    /// True for a delete to trash.
    #[must_use]
    pub fn is_soft_delete(&self) -> bool {
        matches!(&self.step, Step::Delete(d) if d.soft)
    }

    /// True for a delete for good.
    #[must_use]
    pub fn is_hard_delete(&self) -> bool {
        matches!(&self.step, Step::Delete(d) if !d.soft)
    }

    /// The conflict details of a conflict step.
    #[must_use]
    pub fn conflict_info(&self) -> Option<&ConflictInfo> {
        match &self.step {
            Step::Conflict(c) => Some(&c.conflict),
            _ => None,
        }
    }

    /// The paths a move moves.
    #[must_use]
    pub fn moved_entries(&self) -> &[MovedEntry] {
        match &self.step {
            Step::Move(m) => &m.moved,
            _ => &[],
        }
    }

    /// Every side the step reads or writes, in order (conflicts and records: both).
    #[must_use]
    pub fn touches(&self) -> Vec<Side> {
        match &self.step {
            Step::Conflict(_) | Step::Record(_) => Side::BOTH.to_vec(),
            _ => {
                let mut v: Vec<Side> = self.from().into_iter().chain(self.side()).collect();
                v.sort();
                v.dedup();
                v
            }
        }
    }

    /// Every path the step names (for validation).
    pub(super) fn all_paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = vec![self.path.as_str()];
        paths.extend(self.src_path());
        paths.extend(self.dest_path());
        paths.extend(self.expect.iter().map(|e| e.path.as_str()));
        match &self.step {
            Step::Conflict(c) => paths.extend(c.conflict.clash_path.as_deref()),
            Step::Record(r) => paths.extend(
                r.record
                    .left
                    .iter()
                    .chain(r.record.right.iter())
                    .map(|e| e.path.as_str()),
            ),
            Step::Move(m) => {
                for e in &m.moved {
                    paths.extend([
                        e.from_key.as_str(),
                        e.to_key.as_str(),
                        e.left.path.as_str(),
                        e.right.path.as_str(),
                    ]);
                }
            }
            _ => {}
        }
        paths
    }
}
