//! The two roots ([`Side`]) and a value for each ([`PerSide`]).
//!
//! Invariant: a side's name is `left` or `right` everywhere (plans, logs,
//! the state DB, the command line); [`Side::from_str`] is the one place that
//! reads it back, and anything else is an error, not a fallback side.

use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Index, IndexMut};
use std::str::FromStr;

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

/// The one parser of a side's name (`left`, `right`), for the CLI and the
/// state DB alike: anything else is an error, never a default side.
impl FromStr for Side {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::BOTH
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseError {
                what: "side (left or right)",
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
