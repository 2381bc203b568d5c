//! Why an op was planned: the SPEC §6 [`Rule`], and how a conflict is
//! settled ([`Resolution`], and which version `resolve` [`Keep`]s).
//!
//! Invariant: a rule's id is the SPEC section number (or `same`, `gone`,
//! `kind`) and is what plans, logs and emails show.

use super::Side;

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
