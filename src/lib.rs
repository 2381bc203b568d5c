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
//! 2. [`watch`], [`dashboard`] (the live page `watch` serves),
//!    [`status`] (the status model), [`health`] (the one
//!    health verdict), [`report`] (the HTML activity page), [`metrics`]
//!    (cycle records), [`error`] (a command's error and exit code),
//!    [`terminal`] (table width, colour, progress bars: the terminal);
//! 3. the stages: [`pipeline`], [`apply`], [`plan`] (with the safety
//!    [`plan::guard`]s);
//! 4. [`alert`] (the outbox), [`control`] (the admin's actions the CLI
//!    and the dashboard share), [`scan`], [`roots`] (markers, availability),
//!    [`exclude`], [`state`] (the DB), [`config`], [`log`];
//! 5. [`fs`] (every disk access goes through [`fs::Fs`]), [`paths`],
//!    [`model`] (the shared vocabulary: sides, entries, rules, statuses,
//!    stored times; re-exported here), [`out`] (console
//!    output that never panics on a closed pipe), [`human`] (times,
//!    durations and sizes as people read them), [`bandwidth`] (the
//!    bandwidth timetable and the one limiter every copy shares).
//!
//! This file only declares the modules and re-exports the vocabulary, so
//! `crate::Side`, `crate::Entry`, `crate::now_ns` name the same items
//! everywhere; `scripts/module-deps.sh` counts such a use as one of the
//! module it comes from.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod commands;
#[cfg(windows)]
pub mod service;

pub mod dashboard;
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
pub mod control;
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

// The shared vocabulary at the crate root, as the rest of the crate names it.
pub use human::{plural, size as human_size};
pub use model::time::{fmt_time, now_ns};
pub use model::{
    CycleResult, Entry, FileId, Keep, Kind, Meta, PerSide, PlanStatus, Resolution, Rule, Side,
    StepStatus,
};
