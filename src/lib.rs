//! twinsync: a two-way file synchroniser with a Terraform-style plan/apply.
//!
//! The stages are visible modules:
//! [`scan`] (walk both sides) → [`plan`] (pure rules engine: snapshots +
//! state → ops) → [`apply`] (executors, step journal). [`watch`] loops them.
//! Everything touches disks only through [`fs::Fs`].
//! Console output goes through [`out`] (never panics on a closed pipe).
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod alert;
pub mod apply;
pub mod cli;
pub mod config;
pub mod fs;
pub mod log;
pub mod out;
pub mod paths;
pub mod plan;
pub mod report;
pub mod scan;
#[cfg(windows)]
pub mod service;
pub mod state;
pub mod sync;
pub mod watch;
#[cfg(windows)]
pub mod win;

pub use fs::Kind;

/// One of the two roots.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

impl Side {
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

    /// Both sides, left first.
    pub const BOTH: [Self; 2] = [Self::Left, Self::Right];
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metadata of one path on one side, as scanned or as last synced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Exact-case relative path.
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime: i64,
    /// Windows attributes (read-only/hidden/system) or Unix permission bits.
    pub props: u32,
    /// Cloud placeholder (content not local): never read just to hash.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    /// BLAKE3 of the content, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// The file's id on its volume, where the side reports one (moves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<fs::FileId>,
    /// Scan only: this path is unchanged on both sides since the last sync
    /// (its snapshot was not even loaded); the planner skips it.
    #[serde(skip)]
    pub unchanged: bool,
}

/// Formats nanoseconds since the epoch as RFC 3339 (UTC, up to ns).
#[must_use]
pub fn fmt_time(ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        u32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0),
    )
    .map_or_else(
        || ns.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

/// Now, in nanoseconds since the epoch.
#[must_use]
pub fn now_ns() -> i64 {
    fs::real::system_time_ns(std::time::SystemTime::now())
}

/// Human-readable size (`3.4 MB`).
#[must_use]
pub fn human_size(n: u64) -> String {
    humansize::format_size(n, humansize::DECIMAL)
}
