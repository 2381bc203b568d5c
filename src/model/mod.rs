//! The words every layer shares, one file per family:
//! - [`side`]: the two [`Side`]s and a value per side ([`PerSide`]);
//! - [`entry`]: what a path is on one side — [`Kind`], [`FileId`], the
//!   file system's [`Meta`] and the scanned or synced [`Entry`] made from it
//!   ([`Entry::from_meta`], the one such conversion);
//! - [`rule`]: the SPEC §6 [`Rule`] that chose an op, how a conflict was
//!   settled ([`Resolution`], [`Keep`]);
//! - [`status`]: the statuses of the journal and of cycles ([`PlanStatus`],
//!   [`StepStatus`], [`CycleResult`]);
//! - [`time`]: a point in time as twinsync stores it (nanoseconds since the
//!   Unix epoch), the clock, and its RFC 3339 text for machines (times for
//!   people are in [`crate::human`]).
//!
//! Everything here is re-exported at the crate root (`crate::Side`,
//! `crate::Entry`, …), which is how the rest of the crate names it.
//!
//! Invariants: each enum's serde name is the exact string that SPEC fixes for
//! plan files, logs, the state DB and `status --json`; renaming a variant
//! never changes what is written. Every name parses back with `FromStr`, and
//! an unknown name is a [`ParseError`], never a default. This module depends
//! on no other module of the crate (it is the bottom layer).

/// Declares a fieldless enum whose serde name, `as_str` and `Display` are
/// one fixed string per variant, and which parses back from that string.
macro_rules! named_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
        )]
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

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::model::ParseError {
                        what: concat!("valid ", stringify!($name)),
                        value: s.to_owned(),
                    })
            }
        }
    };
}

pub mod entry;
pub mod rule;
pub mod side;
pub mod status;
pub mod time;

pub use entry::{Entry, FileId, Kind, Meta};
pub use rule::{Keep, Resolution, Rule};
pub use side::{PerSide, Side};
pub use status::{CycleResult, PlanStatus, StepStatus};

/// A name that is none of its type's fixed strings (in a plan file, the
/// state DB or a command-line value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {what}")]
pub struct ParseError {
    /// What was expected (`side (left or right)`, `valid Rule`, …).
    pub what: &'static str,
    /// The text that did not parse.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_parses_from_its_name_only() {
        for s in Side::BOTH {
            assert_eq!(s.as_str().parse::<Side>(), Ok(s));
        }
        let e = "Left".parse::<Side>().unwrap_err();
        assert_eq!(e.to_string(), "`Left` is not a side (left or right)");
        assert!("".parse::<Side>().is_err());
    }

    #[test]
    fn every_named_enum_parses_back_and_rejects_unknown_names() {
        for r in Rule::ALL {
            assert_eq!(r.as_str().parse::<Rule>(), Ok(*r));
        }
        for s in StepStatus::ALL {
            assert_eq!(s.to_string().parse::<StepStatus>(), Ok(*s));
        }
        let e = "finished".parse::<PlanStatus>().unwrap_err();
        assert_eq!(e.to_string(), "`finished` is not a valid PlanStatus");
    }

    #[test]
    fn an_entry_from_meta_keeps_every_field() {
        let m = Meta {
            kind: Kind::File,
            size: 7,
            mtime: -5,
            props: 0o644,
            offline: true,
            id: FileId::new(3, 9),
        };
        let e = Entry::from_meta("a/B.txt", &m, Some("h".into()));
        assert_eq!(
            e,
            Entry {
                path: "a/B.txt".into(),
                kind: Kind::File,
                size: 7,
                mtime: -5,
                props: 0o644,
                offline: true,
                hash: Some("h".into()),
                id: FileId::new(3, 9),
                unchanged: false,
            }
        );
    }

    #[test]
    fn stored_times_format_as_rfc3339() {
        assert_eq!(time::fmt_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time::fmt_time(1_500_000_000), "1970-01-01T00:00:01.500Z");
        assert!(time::now_ns() > 0);
    }
}
