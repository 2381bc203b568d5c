//! The words every layer shares: the two [`Side`]s and a value per side
//! ([`PerSide`]), the SPEC §6 [`Rule`] that chose an op, how a conflict was
//! settled ([`Resolution`], [`Keep`]), and the statuses of the journal and
//! of cycles ([`PlanStatus`], [`StepStatus`], [`CycleResult`]).
//!
//! Invariant: each enum's serde name is the exact string that SPEC fixes for
//! plan files, logs, the state DB and `status --json`; renaming a variant
//! never changes what is written.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Index, IndexMut};

/// One of the two roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

impl Side {
    /// Both sides, left first.
    pub const BOTH: [Self; 2] = [Self::Left, Self::Right];

    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::Left => Self::Right,
            Self::Right => Self::Left,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Right => "right",
        }
    }

    #[must_use]
    pub fn arrow(self) -> &'static str {
        match self {
            Self::Left => "→ left",
            Self::Right => "→ right",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one parser of a side's name (`left`, `right`), for the CLI and the
/// state DB alike: anything else is an error, never a default side.
impl std::str::FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::BOTH
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a side (left or right)"))
    }
}

/// A value for each side, indexed by [`Side`] (serialised as
/// `{"left": …, "right": …}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerSide<T> {
    pub left: T,
    pub right: T,
}

impl<T> PerSide<T> {
    #[must_use]
    pub fn new(left: T, right: T) -> Self {
        Self { left, right }
    }

    /// The value of each side, computed from the side.
    pub fn from_fn(mut f: impl FnMut(Side) -> T) -> Self {
        Self {
            left: f(Side::Left),
            right: f(Side::Right),
        }
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerSide<U> {
        PerSide {
            left: f(self.left),
            right: f(self.right),
        }
    }

    /// Both sides' values, left first.
    pub fn iter(&self) -> impl Iterator<Item = (Side, &T)> {
        [(Side::Left, &self.left), (Side::Right, &self.right)].into_iter()
    }

    /// Both sides' values, left first.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        [&self.left, &self.right].into_iter()
    }
}

impl<T> From<[T; 2]> for PerSide<T> {
    fn from([left, right]: [T; 2]) -> Self {
        Self { left, right }
    }
}

impl<T> Index<Side> for PerSide<T> {
    type Output = T;
    fn index(&self, s: Side) -> &T {
        match s {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }
}

impl<T> IndexMut<Side> for PerSide<T> {
    fn index_mut(&mut self, s: Side) -> &mut T {
        match s {
            Side::Left => &mut self.left,
            Side::Right => &mut self.right,
        }
    }
}

/// Declares a fieldless enum whose serde name, `as_str` and `Display` are
/// one fixed string per variant, and which parses back from that string.
macro_rules! named_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$v),+];

            /// The fixed string (as written to plans, logs and the state DB).
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$v => $s,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("`{s}` is not a valid {}", stringify!($name)))
            }
        }
    };
}

named_enum! {
    /// The SPEC §6 rule that chose an op; plans, logs and emails show its id.
    pub enum Rule {
        /// Content changed on both sides, contents differ (conflict option).
        ChangedBoth = "6.2.1",
        /// New on both sides, contents differ (conflict option).
        NewBoth = "6.2.2",
        /// Changed on left only: copied to right.
        ChangedLeft = "6.2.3",
        /// Changed on right only: copied to left.
        ChangedRight = "6.2.4",
        /// Deleted on left, changed or created on right: copied back.
        UndeleteLeft = "6.2.5",
        /// Deleted on right, changed or created on left: copied back.
        UndeleteRight = "6.2.6",
        /// Deleted on left, unchanged on right: deleted there.
        DeletedLeft = "6.2.7",
        /// Deleted on right, unchanged on left: deleted there.
        DeletedRight = "6.2.8",
        /// New on left only: copied to right.
        NewLeft = "6.2.9",
        /// New on right only: copied to left.
        NewRight = "6.2.10",
        /// Properties or name case changed on left only.
        PropsLeft = "6.2.11",
        /// Properties or name case changed on right only.
        PropsRight = "6.2.12",
        /// Properties or name case changed on both, differently (conflict option).
        PropsBoth = "6.2.13",
        /// Moved or renamed on left only.
        MovedLeft = "6.2.14",
        /// Moved or renamed on right only.
        MovedRight = "6.2.15",
        /// Changed or created on both, identical content: recorded.
        Same = "same",
        /// Deleted on both: forgotten.
        Gone = "gone",
        /// A file on one side, a folder on the other.
        KindClash = "kind",
    }
}

impl Rule {
    /// 6.2.3 / 6.2.4: changed on `side` only.
    #[must_use]
    pub fn changed_on(side: Side) -> Self {
        match side {
            Side::Left => Self::ChangedLeft,
            Side::Right => Self::ChangedRight,
        }
    }

    /// 6.2.5 / 6.2.6: deleted on `side`, changed or created on the other.
    #[must_use]
    pub fn undelete_on(side: Side) -> Self {
        match side {
            Side::Left => Self::UndeleteLeft,
            Side::Right => Self::UndeleteRight,
        }
    }

    /// 6.2.7 / 6.2.8: deleted on `side`, unchanged on the other.
    #[must_use]
    pub fn deleted_on(side: Side) -> Self {
        match side {
            Side::Left => Self::DeletedLeft,
            Side::Right => Self::DeletedRight,
        }
    }

    /// 6.2.9 / 6.2.10: new on `side` only.
    #[must_use]
    pub fn new_on(side: Side) -> Self {
        match side {
            Side::Left => Self::NewLeft,
            Side::Right => Self::NewRight,
        }
    }

    /// 6.2.14 / 6.2.15: moved or renamed on `side` only.
    #[must_use]
    pub fn moved_on(side: Side) -> Self {
        match side {
            Side::Left => Self::MovedLeft,
            Side::Right => Self::MovedRight,
        }
    }

    /// 6.2.11 / 6.2.12: properties or name case changed on `side` only.
    #[must_use]
    pub fn props_on(side: Side) -> Self {
        match side {
            Side::Left => Self::PropsLeft,
            Side::Right => Self::PropsRight,
        }
    }

    /// 6.2.7 / 6.2.8: a delete following the other side's (counted by the
    /// mass-delete guard).
    #[must_use]
    pub fn follows_a_delete(self) -> bool {
        matches!(self, Self::DeletedLeft | Self::DeletedRight)
    }
}

/// Ordered by id as text, as the plan's `conflicts_by_rule` map lists them.
impl Ord for Rule {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Rule {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq<&str> for Rule {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

named_enum! {
    /// How a conflict op settles its path.
    pub enum Resolution {
        /// Newer version at the path on both sides, older as a clash copy on both.
        ClashCopies = "clash_copies",
        /// Nothing changed; recorded as unresolved until a side changes or `resolve`.
        LeftAlone = "left_alone",
        /// The newer version overwrites the older (which goes to trash).
        NewerOverwrites = "newer_overwrites",
        /// `resolve --keep left|right`: that side's version overwrites the other.
        KeepSide = "keep_side",
    }
}

named_enum! {
    /// Which version `resolve` keeps.
    pub enum Keep {
        Left = "left",
        Right = "right",
        /// Clash copies, as option1.
        Both = "both",
    }
}

named_enum! {
    /// A plan's status in the journal (SPEC §8).
    pub enum PlanStatus {
        /// Admitted and not finished: resumed by the next apply of it, or by `watch`.
        Running = "running",
        Done = "done",
        DoneWithFailures = "done_with_failures",
        /// Re-planned instead of resumed.
        Abandoned = "abandoned",
    }
}

named_enum! {
    /// A step's outcome in the journal.
    pub enum StepStatus {
        Done = "done",
        /// Skipped: the disk changed since planning (left for the next plan).
        Drifted = "drifted",
        Failed = "failed",
    }
}

named_enum! {
    /// How a run or cycle ended (`result` of the `cycle` event, SPEC §12).
    #[derive(Default)]
    pub enum CycleResult {
        #[default]
        Ok = "ok",
        /// Some step failed.
        Failed = "failed",
        /// Nothing was applied: a side unavailable, a guard refused, the lane could not run.
        Skipped = "skipped",
    }
}
