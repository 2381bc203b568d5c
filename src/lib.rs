//! twinsync: a two-way file synchroniser with a Terraform-style plan/apply.
//!
//! The stages are visible modules: [`scan`] (walk both sides) → [`plan`]
//! (pure rules engine: snapshots + state → ops) → [`apply`] (executors, step
//! journal). [`pipeline`] runs roots check → scan → plan for `plan`, `apply`
//! and `watch`; [`watch`] loops pipeline → apply.
//!
//! The modules form layers; each imports only from the layers below it and
//! there is no import cycle (`scripts/module-deps.sh` lists and checks them):
//! 1. [`cli`] (parse, dispatch) → [`commands`] (one function per command,
//!    the printing) and, on Windows, `service`;
//! 2. [`watch`], [`status`] (the status model), [`health`] (the one
//!    health verdict), [`report`] (the HTML activity page), [`metrics`]
//!    (cycle records), [`error`] (a command's error and exit code),
//!    [`terminal`] (table width, colour, progress bars: the terminal);
//! 3. the stages: [`pipeline`], [`apply`], [`plan`] (with the safety
//!    [`plan::guard`]s);
//! 4. [`alert`] (the outbox), [`scan`], [`roots`] (markers, availability),
//!    [`exclude`], [`state`] (the DB), [`config`], [`log`];
//! 5. [`fs`] (every disk access goes through [`fs::Fs`]), [`paths`],
//!    [`model`] (the shared vocabulary, re-exported here), [`out`] (console
//!    output that never panics on a closed pipe), [`human`] (times,
//!    durations and sizes as people read them), [`bandwidth`] (the
//!    bandwidth timetable and the one limiter every copy shares).
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod commands;
#[cfg(windows)]
pub mod service;

pub mod error;
pub mod health;
pub mod metrics;
pub mod report;
pub mod status;
pub mod terminal;
pub mod watch;

pub mod apply;
pub mod pipeline;
pub mod plan;

pub mod alert;
pub mod config;
pub mod exclude;
pub mod log;
pub mod roots;
pub mod scan;
pub mod state;

pub mod bandwidth;
pub mod fs;
pub mod human;
pub mod model;
pub mod out;
pub mod paths;
#[cfg(windows)]
pub mod win;

pub use fs::Kind;
pub use model::{CycleResult, Keep, PerSide, PlanStatus, Resolution, Rule, Side, StepStatus};

/// The metadata of one path on one side, as scanned or as last synced
/// (the default: an empty file at an empty path, a blank to fill in).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The relative path as this side spells it (its own case and Unicode
    /// form; maps of entries are keyed by the identity key, see
    /// [`paths::key_of`]). In a fresh scan an empty path means "the same as
    /// the key" until [`scan::SideScan::restore_paths`].
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

/// Human-readable size in binary units (`3.4 MiB`), see [`human::size`].
#[must_use]
pub fn human_size(n: u64) -> String {
    human::size(n)
}

/// A count and its noun, singular or plural: `1 copy`, `2 copies`, `0 copies`.
#[must_use]
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
