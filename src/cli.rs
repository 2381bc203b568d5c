//! The command line (SPEC §2): clap definitions, and each command wired to
//! the library stages. Maps every error to its exit code:
//! 0 ok, 1 error, 2 plan has changes (`--detailed-exitcode`), 3 a side is
//! unavailable, 4 a safety guard refused.

use crate::apply::{self, ApplyError};
use crate::config::{Config, ConfigError};
use crate::log::Logger;
use crate::plan::{Plan, PlanError, render};
use crate::scan::{self, ScanError};
use crate::state::{CycleRecord, State, StateError};
use crate::sync::{self, Sides, SyncError};
use crate::{Side, paths};
use clap::{Parser, Subcommand};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Two-way file sync with a reviewable plan: `plan` shows what would change,
/// `apply` does it (atomic, journalled, resumable), `watch` keeps doing it.
#[derive(Parser, Debug)]
#[command(
    name = "twinsync",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 success; 1 error (bad config or plan file, a failed step); 2 only with \
plan --detailed-exitcode: the plan has changes; 3 a side is unavailable (root or marker missing or foreign); \
4 a safety guard refused (too many deletes, stale plan, plan for other roots).\n\
Start with `twinsync init`, review with `twinsync plan`, sync with `twinsync apply` or `twinsync watch`; \
see where things stand with `twinsync status`, or as one HTML page with `twinsync report`. \
Every config key is explained in config/sync_config.example.toml."
)]
pub struct Cli {
    /// Config file [default: $TWINSYNC_CONFIG, else ./sync_config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate the config, create the state DB and the root markers
    Init {
        /// Create root folders that do not exist yet
        #[arg(long)]
        create_roots: bool,
    },
    /// Scan both sides and show (and optionally save) what a sync would do
    Plan {
        /// Write the plan to this file; a folder (or no value: plans/) gets plan-<time>.json
        #[arg(long, value_name = "PLAN.json", num_args = 0..=1, default_missing_value = "plans/")]
        out: Option<PathBuf>,
        /// Print the plan JSON on stdout (the human summary goes to stderr)
        #[arg(long)]
        json: bool,
        /// Exit 2 when the plan has changes, 0 when it has none
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan even if more files would be deleted than [safety] allows
        #[arg(long)]
        force: bool,
    },
    /// Apply a saved plan, or plan + confirm + apply
    Apply {
        /// A plan file from `twinsync plan --out`
        plan: Option<PathBuf>,
        /// Do not ask for confirmation
        #[arg(long)]
        auto_approve: bool,
        /// Override the mass-delete guard
        #[arg(long)]
        force: bool,
    },
    /// Sync continuously: plan + apply every sync_interval_seconds (the service runs this)
    Watch {
        /// Stop after N cycles
        #[arg(long, value_name = "N")]
        cycles: Option<u64>,
        /// Plan every cycle but apply nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Show roots, recent cycles, conflicts, failures, trash and queued emails
    Status {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Render a saved plan
    Show {
        plan: PathBuf,
        /// Print the plan JSON instead of tables
        #[arg(long)]
        json: bool,
    },
    /// Soft-deleted files: list, restore, purge
    Trash {
        #[command(subcommand)]
        action: TrashAction,
    },
    /// Settle an unresolved (option2) conflict at the next apply
    Resolve {
        /// The conflicting path, relative to the roots
        path: String,
        /// Which version wins: left, right, or both (clash copies)
        #[arg(long, value_parser = ["left", "right", "both"])]
        keep: String,
    },
    /// Write the activity report: one self-contained HTML page (roots, conflicts, charts, trash)
    Report {
        /// Where to write it [default: twinsync-report.html beside the state DB]
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
    },
    /// Email alerts
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
    /// Windows service: install, uninstall, run (Windows only)
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum TrashAction {
    /// List trash records
    List,
    /// Put a file back where it was (the next cycle syncs it)
    Restore { path: String },
    /// Delete trash entries older than DAYS (default: soft_delete.retention_days)
    Purge {
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertAction {
    /// Send a test email and explain any failure
    Test,
}

#[derive(Subcommand, Debug)]
pub enum ServiceAction {
    /// Register the Windows service (starts at boot, restarts on failure)
    Install {
        /// Account to run as (default: LocalSystem); e.g. `.\twinsync` or `DOMAIN\svc-sync`
        #[arg(long)]
        account: Option<String>,
        /// Password of that account
        #[arg(long)]
        password: Option<String>,
    },
    /// Remove the Windows service
    Uninstall,
    /// Run as the service (called by the Service Control Manager)
    Run,
}

/// A command failure and its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Other(String),
}

impl CliError {
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Unavailable(_) => 3,
            Self::Refused(_) => 4,
            _ => 1,
        }
    }
}

impl From<SyncError> for CliError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Scan(s) => s.into(),
            SyncError::State(s) => Self::State(s),
            SyncError::Guard(why) => Self::Refused(format!("refused: {why}")),
        }
    }
}

impl From<ScanError> for CliError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Unavailable { .. } => Self::Unavailable(e.to_string()),
            ScanError::Fs(f) => Self::Other(f.to_string()),
        }
    }
}

impl From<ApplyError> for CliError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Refused(m) => Self::Refused(format!("refused: {m}")),
            ApplyError::Unavailable(s) => s.into(),
            ApplyError::State(s) => Self::State(s),
            ApplyError::Stopped(f) => Self::Other(format!("apply stopped: {f}")),
        }
    }
}

/// Parses the arguments, runs the command, returns the exit code.
#[must_use]
pub fn main() -> i32 {
    // Usage errors exit 1 (2 is reserved for `plan --detailed-exitcode`);
    // --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return i32::from(e.use_stderr());
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            crate::eoutln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Runs a parsed command.
///
/// # Errors
/// Any [`CliError`]; the caller prints it and exits with its code.
pub fn run(cli: Cli) -> Result<i32, CliError> {
    let cfg_path = crate::config::config_path(cli.config.as_deref());
    match cli.command {
        Command::Show { plan, json } => {
            let p = Plan::load(&plan)?;
            if json {
                crate::out!("{}", p.to_json());
            } else {
                crate::out!("{}", render::render(&p, None));
            }
            Ok(0)
        }
        Command::Service { action } => crate::watch::service_command(&cfg_path, action),
        command => {
            let cfg = Config::load(&cfg_path)?;
            warn_config(&cfg);
            match command {
                Command::Init { create_roots } => init(&cfg, create_roots),
                Command::Plan {
                    out,
                    json,
                    detailed_exitcode,
                    force,
                } => plan_cmd(&cfg, out, json, detailed_exitcode, force),
                Command::Apply {
                    plan,
                    auto_approve,
                    force,
                } => apply_cmd(&cfg, plan.as_deref(), auto_approve, force),
                Command::Watch { cycles, dry_run } => {
                    crate::watch::watch_cmd(&cfg, cycles, dry_run, None)
                }
                Command::Status { json } => status(&cfg, json),
                Command::Trash { action } => trash_cmd(&cfg, action),
                Command::Resolve { path, keep } => resolve(&cfg, &path, &keep),
                Command::Report { out } => crate::report::report_cmd(&cfg, out),
                Command::Alert {
                    action: AlertAction::Test,
                } => crate::alert::test_command(&cfg),
                Command::Show { .. } | Command::Service { .. } => Ok(0),
            }
        }
    }
}

fn warn_config(cfg: &Config) {
    for w in crate::alert::config_warnings(cfg) {
        crate::eoutln!("warning: {w}");
    }
}

fn init(cfg: &Config, create_roots: bool) -> Result<i32, CliError> {
    for side in Side::BOTH {
        let root = cfg.root(side);
        if !root.is_dir() {
            if create_roots {
                std::fs::create_dir_all(root).map_err(|e| {
                    CliError::Other(format!(
                        "cannot create {side} root `{}`: {e}",
                        root.display()
                    ))
                })?;
                crate::outln!("created {side} root {}", root.display());
            } else {
                return Err(CliError::Unavailable(format!(
                    "{side} root `{}` does not exist; create it (or pass --create-roots), or fix `{side}_root` in {}",
                    root.display(),
                    cfg.file.display()
                )));
            }
        }
    }
    let state = State::open_or_create(&cfg.state_db)?;
    let sides = Sides::real(cfg);
    let has_files = state.file_count()? > 0;
    for side in Side::BOTH {
        let fs = sides.get(side);
        let known = state.root_id(side)?;
        let id = match (scan::read_marker(fs, side)?, known) {
            (Some(m), Some(k)) if m.root_id != k => {
                return Err(CliError::Unavailable(format!(
                    "{side} root `{}` holds marker id {} but the state DB `{}` knows id {k}: this is a different folder or drive. \
                     Point {side}_root at the right folder, or move the state DB aside to start over",
                    fs.root_display(),
                    m.root_id,
                    cfg.state_db.display()
                )));
            }
            (Some(m), _) => m.root_id,
            (None, Some(_)) if has_files => {
                return Err(CliError::Unavailable(format!(
                    "{side} root `{}` has no marker {} but the state DB `{}` has synced it before. \
                     If the drive is not mounted, mount it; if the marker was deleted by mistake, restore it; \
                     to start over, move the state DB aside and run init again",
                    fs.root_display(),
                    paths::MARKER_NAME,
                    cfg.state_db.display()
                )));
            }
            (None, known) => {
                let id = known.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let m = scan::Marker {
                    root_id: id.clone(),
                    side: side.as_str().into(),
                    created_at: chrono::Utc::now().to_rfc3339(),
                };
                let body = serde_json::to_vec_pretty(&m).unwrap_or_default();
                fs.write_all(paths::MARKER_NAME, &body)
                    .map_err(|e| CliError::Other(format!("cannot write marker: {e}")))?;
                crate::outln!("wrote marker {}/{}", fs.root_display(), paths::MARKER_NAME);
                id
            }
        };
        state.set_meta(&format!("{side}_root_id"), &id)?;
        crate::outln!("{side:<5} root {}  (id {id})", fs.root_display());
    }
    crate::outln!("state DB {}", cfg.state_db.display());
    crate::outln!("Initialised. Next: `twinsync plan` to review, `twinsync apply` to sync.");
    Ok(0)
}

/// A spinner on a terminal while a long scan runs.
fn scan_progress() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} scanning… {msg} entries")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// Plans with a progress spinner on a terminal.
fn make_plan(
    cfg: &Config,
    sides: &Sides,
    state: &State,
    force: bool,
) -> Result<(Plan, [scan::SideScan; 2]), CliError> {
    let pb = scan_progress();
    let progress = |n: u64| {
        if let Some(pb) = &pb {
            pb.set_message(n.to_string());
        }
    };
    let req = sync::PlanRequest {
        now_ns: crate::now_ns(),
        forced: force,
        progress: Some(&progress),
        ..sync::PlanRequest::default()
    };
    let res = sync::make_plan(cfg, sides, state, req);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if let Err(SyncError::Guard(why)) = &res {
        refused_by_guard(cfg, state, why, &Logger::from_config(cfg));
    }
    Ok(res?)
}

fn guard(
    cfg: &Config,
    state: &State,
    plan: &Plan,
    force: bool,
    log: &Logger,
) -> Result<(), CliError> {
    if force {
        return Ok(());
    }
    if let Some(why) = plan.delete_guard(
        cfg.raw.safety.max_delete_percent,
        cfg.raw.safety.max_delete_min_files,
    ) {
        refused_by_guard(cfg, state, &why, log);
        return Err(CliError::Refused(format!("refused: {why}")));
    }
    Ok(())
}

/// Logs and alerts a safety-guard refusal (mass delete or mass change).
fn refused_by_guard(cfg: &Config, state: &State, why: &str, log: &Logger) {
    log.error(
        "error",
        json!({"result": "skipped", "reason": "refused by a safety guard", "error": why}),
    );
    crate::alert::enqueue_guard(cfg, state, why);
    crate::alert::flush(cfg, state, log);
}

fn open_state(cfg: &Config) -> Result<State, CliError> {
    // Created on first use: with both markers present the first plan adopts them.
    Ok(State::open_or_create(&cfg.state_db)?)
}

fn plan_cmd(
    cfg: &Config,
    out: Option<PathBuf>,
    json_out: bool,
    detailed: bool,
    force: bool,
) -> Result<i32, CliError> {
    let log = Logger::from_config(cfg);
    let state = open_state(cfg)?;
    let sides = Sides::real(cfg);
    let plan = match make_plan(cfg, &sides, &state, force) {
        Err(e @ CliError::Unavailable(_)) => {
            log.error("unavailable", json!({"error": e.to_string()}));
            return Err(e);
        }
        other => other?.0,
    };
    let text = render::render(&plan, Some(200));
    if json_out {
        crate::eout!("{text}");
        crate::out!("{}", plan.to_json());
    } else {
        crate::out!("{text}");
    }
    guard(cfg, &state, &plan, force, &log)?;
    if let Some(out) = out {
        let is_dir = out.is_dir() || out.as_os_str().to_string_lossy().ends_with(['/', '\\']);
        let file = if is_dir {
            out.join(format!(
                "plan-{}.json",
                chrono::Local::now().format("%Y%m%d-%H%M%S")
            ))
        } else {
            out
        };
        plan.save(&file)?;
        let msg = format!(
            "Saved the plan to {}. Apply it with: twinsync apply {}",
            file.display(),
            file.display()
        );
        if json_out {
            crate::eoutln!("{msg}");
        } else {
            crate::outln!("{msg}");
        }
    }
    log.info(
        "scan",
        json!({"files_scanned": plan.summary.files_left + plan.summary.files_right, "ops": plan.ops.len(), "plan_id": plan.plan_id}),
    );
    Ok(if detailed && plan.summary.has_changes() {
        2
    } else {
        0
    })
}

fn confirm() -> bool {
    crate::eout!("Apply? [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
        && matches!(line.trim(), "y" | "Y" | "yes" | "Yes" | "YES")
}

/// Runs an apply with a progress bar on a terminal; returns the report.
pub(crate) fn apply_with_progress(
    cfg: &Config,
    plan: &Plan,
    sides: &Sides,
    state: &mut State,
    log: &Logger,
    force: bool,
) -> Result<apply::Report, CliError> {
    apply::admit(plan, cfg, sides, state, force)?;
    let pb = (std::io::stderr().is_terminal() && plan.ops.len() > 20).then(|| {
        let pb = indicatif::ProgressBar::new(plan.ops.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps, {msg} copied, {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let progress = |done: u64, _total: u64, bytes: u64| {
        if let Some(pb) = &pb {
            pb.set_position(done);
            pb.set_message(crate::human_size(bytes));
        }
    };
    let on_event = |op: &crate::plan::Op, err: &str| crate::alert::enqueue_step(cfg, op, err);
    let opts = apply::Options {
        force,
        progress: Some(&progress),
        on_event: Some(&on_event),
        ..apply::Options::default()
    };
    let res = apply::run(plan, cfg, sides, state, log, &opts);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(res?)
}

/// Logs and records the `cycle` event of a run.
pub(crate) fn record_cycle(
    state: &State,
    log: &Logger,
    plan: &Plan,
    report: &apply::Report,
    started: std::time::Instant,
) {
    let c = cycle_record(Some(plan), Some(report), started);
    log_cycle(state, log, &c, &json!({}), true);
}

/// The metrics of one run (zeros where nothing was planned or applied).
pub(crate) fn cycle_record(
    plan: Option<&Plan>,
    report: Option<&apply::Report>,
    started: std::time::Instant,
) -> CycleRecord {
    let r = report.cloned().unwrap_or_default();
    CycleRecord {
        started_at: started_at(started),
        files_scanned: plan.map_or(0, |p| p.summary.files_left + p.summary.files_right),
        changes: r.done.saturating_sub(r.records),
        conflicts: r.conflicts,
        soft_deletes: r.to_trash(),
        hard_deletes: r.hard_deletes,
        bytes_copied: r.bytes_copied,
        moves: r.moves,
        failed: r.failed.len() as u64,
        skipped: r.drifted,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        result: if r.failed.is_empty() {
            "ok".into()
        } else {
            "failed".into()
        },
        changes_to_left: r.to_left,
        changes_to_right: r.to_right,
        bytes_to_left: r.bytes_to_left,
        bytes_to_right: r.bytes_to_right,
    }
}

/// The wall-clock time (RFC 3339) of the moment `started` was taken.
pub(crate) fn started_at(started: std::time::Instant) -> String {
    let ago = chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    (chrono::Utc::now() - ago).to_rfc3339()
}

/// Logs the `cycle` event (SPEC §12: every run ends with one, carrying the
/// metrics); `store` also keeps it for `status`.
pub(crate) fn log_cycle(
    state: &State,
    log: &Logger,
    c: &CycleRecord,
    extra: &serde_json::Value,
    store: bool,
) {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            m.insert(k.clone(), x.clone());
        }
    }
    log.info("cycle", v);
    if store {
        let _ = state.record_cycle(c);
    }
}

fn apply_cmd(
    cfg: &Config,
    plan_file: Option<&Path>,
    auto_approve: bool,
    force: bool,
) -> Result<i32, CliError> {
    let started = std::time::Instant::now();
    let _lock = crate::state::RunLock::acquire(&cfg.state_db).map_err(CliError::Other)?;
    let log = Logger::from_config(cfg);
    let sides = Sides::real(cfg);
    if plan_file.is_none()
        && let Ok(mut state) = State::open(&cfg.state_db)
    {
        // A fresh plan: unfinished ones recovered and abandoned, parked items put back.
        for p in apply::prepare(&mut state, cfg, &sides, &log)? {
            crate::eoutln!("warning: {p}");
        }
    }
    let (plan, mut state) = if let Some(f) = plan_file {
        let plan = Plan::load(f)?;
        let state = State::open(&cfg.state_db)?;
        (plan, state)
    } else {
        if !auto_approve && !std::io::stdin().is_terminal() {
            return Err(CliError::Other(
                "apply without a plan file asks for confirmation, but there is no terminal: pass --auto-approve, or apply a saved plan file".into(),
            ));
        }
        let state = open_state(cfg)?;
        let (plan, scans) = make_plan(cfg, &sides, &state, force)?;
        // Temp files of copies that an earlier run could not remove.
        for (side, scan) in Side::BOTH.into_iter().zip(&scans) {
            apply::sweep_scan(&state, sides.get(side), side, scan, &log);
        }
        crate::out!("{}", render::render(&plan, Some(200)));
        guard(cfg, &state, &plan, force, &log)?;
        if plan.ops.is_empty() {
            state.mark_synced()?;
            record_cycle(&state, &log, &plan, &apply::Report::default(), started);
            // Nothing to sync, but queued alerts still go out.
            crate::alert::flush(cfg, &state, &log);
            return Ok(0);
        }
        if !auto_approve && !confirm() {
            crate::outln!("Apply cancelled; nothing was changed.");
            return Ok(0);
        }
        (plan, state)
    };
    let report = apply_with_progress(cfg, &plan, &sides, &mut state, &log, force)?;
    record_cycle(&state, &log, &plan, &report, started);
    crate::alert::flush(cfg, &state, &log);
    crate::outln!("{}", report.one_line());
    for f in &report.failed {
        crate::eoutln!(
            "failed: step {} ({}) `{}`: {}",
            f.id,
            f.kind,
            f.path,
            f.error
        );
    }
    Ok(i32::from(!report.failed.is_empty()))
}

fn status(cfg: &Config, json_out: bool) -> Result<i32, CliError> {
    let state = State::open(&cfg.state_db)?;
    let sides = Sides::real(cfg);
    let mut roots = Vec::new();
    for side in Side::BOTH {
        let avail = match state.root_id(side)? {
            Some(id) => scan::check_root(sides.get(side), side, &id).map_err(|e| e.to_string()),
            None => Err("not initialised (run `twinsync init`)".into()),
        };
        roots.push(json!({
            "side": side, "root": cfg.root(side).display().to_string(),
            "available": avail.is_ok(), "problem": avail.err(),
        }));
    }
    let cycles = state.recent_cycles(10)?;
    let conflicts: Vec<_> = state.conflicts()?.into_values().collect();
    let failures = state.failures()?;
    let trash = state.trash_records()?;
    let in_flight = state.running_plans()?;
    // Steps of unfinished plans with no outcome yet (e.g. large copies in
    // the background lane, or work a crash interrupted).
    let mut steps = Vec::new();
    for id in &in_flight {
        let done = state.step_status(id)?;
        if let Some(plan) = state
            .plan_json(id)?
            .and_then(|j| serde_json::from_str::<Plan>(&j).ok())
        {
            for op in plan
                .ops
                .iter()
                .filter(|o| !done.contains_key(&o.id) && o.kind != crate::plan::OpKind::Record)
            {
                steps.push(
                    json!({"plan_id": id, "step": op.id, "kind": op.kind.as_str(), "path": op.path,
                                  "side": op.side, "bytes": op.bytes, "lane": op.lane}),
                );
            }
        }
    }
    let queued = crate::alert::queued(&state);
    let mut trash_use = serde_json::Map::new();
    for side in Side::BOTH {
        let (n, b) = trash
            .iter()
            .filter(|t| t.side == side)
            .fold((0u64, 0u64), |(n, b), t| (n + 1, b + t.size));
        trash_use.insert(side.as_str().into(), json!({"files": n, "bytes": b}));
    }
    let v = json!({
        "roots": roots,
        "last_cycles": cycles,
        "plans_in_flight": in_flight,
        "steps_in_flight": steps,
        "unresolved_conflicts": conflicts.iter().map(|c| json!({
            "path": c.path, "rule": c.rule, "since": c.created_at, "keep": c.keep,
            "left": c.left, "right": c.right,
            "resolve": format!("twinsync resolve \"{}\" --keep left|right|both", c.path),
        })).collect::<Vec<_>>(),
        "failing_paths": failures,
        "trash": trash_use,
        "emails_queued": queued,
    });
    if json_out {
        crate::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(0);
    }
    use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
    let table = |header: &[&str]| {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(header.to_vec());
        t
    };
    let mut t = table(&["side", "root", "available"]);
    for r in &roots {
        t.add_row([
            r["side"].as_str().unwrap_or("").to_owned(),
            r["root"].as_str().unwrap_or("").to_owned(),
            if r["available"].as_bool() == Some(true) {
                "yes".into()
            } else {
                format!("NO: {}", r["problem"].as_str().unwrap_or(""))
            },
        ]);
    }
    crate::outln!("{t}");
    let mut t = table(&[
        "cycle at",
        "changes",
        "conflicts",
        "copied",
        "failed",
        "duration",
    ]);
    for c in &cycles {
        t.add_row([
            c.started_at.clone(),
            c.changes.to_string(),
            c.conflicts.to_string(),
            crate::human_size(c.bytes_copied),
            c.failed.to_string(),
            format!("{} ms", c.duration_ms),
        ]);
    }
    crate::outln!("Last cycles:\n{t}");
    for p in &in_flight {
        crate::outln!(
            "Plan in flight (unfinished): {p}; the next apply of it, or watch, resumes it."
        );
    }
    if !steps.is_empty() {
        let mut t = table(&["step", "operation", "path", "size"]);
        for s in steps.iter().take(50) {
            t.add_row([
                s["step"].to_string(),
                s["kind"].as_str().unwrap_or("").to_owned(),
                s["path"].as_str().unwrap_or("").to_owned(),
                crate::human_size(s["bytes"].as_u64().unwrap_or(0)),
            ]);
        }
        crate::outln!("Steps in flight:\n{t}");
    }
    if conflicts.is_empty() {
        crate::outln!("Unresolved conflicts: none");
    } else {
        let mut t = table(&["path", "rule", "since", "to settle"]);
        for c in &conflicts {
            t.add_row([
                c.path.clone(),
                c.rule.clone(),
                c.created_at.clone(),
                format!("twinsync resolve \"{}\" --keep left|right|both", c.path),
            ]);
        }
        crate::outln!("Unresolved conflicts:\n{t}");
    }
    if failures.is_empty() {
        crate::outln!("Failing paths: none");
    } else {
        let mut t = table(&["path", "operation", "since", "attempts", "error"]);
        for f in &failures {
            t.add_row([
                f.path.clone(),
                f.op.clone(),
                f.first_at.clone(),
                f.count.to_string(),
                f.error.clone(),
            ]);
        }
        crate::outln!("Failing paths:\n{t}");
    }
    for side in Side::BOTH {
        let u = &trash_use[side.as_str()];
        crate::outln!(
            "Trash {side}: {} files, {}",
            u["files"],
            crate::human_size(u["bytes"].as_u64().unwrap_or(0))
        );
    }
    crate::outln!("Emails queued: {queued}");
    Ok(0)
}

fn trash_cmd(cfg: &Config, action: TrashAction) -> Result<i32, CliError> {
    let state = State::open(&cfg.state_db)?;
    let sides = Sides::real(cfg);
    let log = Logger::from_config(cfg);
    match action {
        TrashAction::List => {
            let recs = state.trash_records()?;
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
            t.set_header([
                "side",
                "original path",
                "trash path",
                "size",
                "deleted at",
                "rule",
            ]);
            for r in &recs {
                t.add_row([
                    r.side.to_string(),
                    r.original_path.clone(),
                    r.trash_path.clone(),
                    crate::human_size(r.size),
                    r.deleted_at.clone(),
                    r.rule.clone(),
                ]);
            }
            crate::outln!("{t}");
            crate::outln!("{} files in trash", recs.len());
            Ok(0)
        }
        TrashAction::Restore { path } => {
            let path = path.replace('\\', "/");
            let key = paths::key_of(&path, cfg.case_sensitive);
            let rec = state
                .trash_records()?
                .into_iter()
                .find(|r| {
                    paths::key_of(&r.original_path, cfg.case_sensitive) == key
                        || paths::key_of(&r.trash_path, cfg.case_sensitive) == key
                })
                .ok_or_else(|| {
                    CliError::Other(format!(
                        "no trash record for `{path}` (see `twinsync trash list`)"
                    ))
                })?;
            let fs = sides.get(rec.side);
            if fs
                .stat(&rec.original_path)
                .map_err(|e| CliError::Other(e.to_string()))?
                .is_some()
            {
                return Err(CliError::Other(format!(
                    "`{}` exists on the {} side; move it away first, then restore",
                    rec.original_path, rec.side
                )));
            }
            let loc = apply::trash::TrashLoc::new(fs, cfg.trash(rec.side));
            loc.take(&rec.trash_path, &rec.original_path)
                .map_err(|e| CliError::Other(e.to_string()))?;
            state.remove_trash_record(rec.id)?;
            log.info("delete", json!({"path": rec.original_path, "side": rec.side, "result": "ok", "note": "restored from trash"}));
            crate::outln!(
                "restored {} on the {} side; the next cycle syncs it",
                rec.original_path,
                rec.side
            );
            Ok(0)
        }
        TrashAction::Purge { older_than } => {
            let days = older_than.unwrap_or(cfg.raw.soft_delete.retention_days);
            let n = purge(cfg, &state, &sides, days, &log)?;
            crate::outln!("purged {n} trash entries older than {days} days");
            Ok(0)
        }
    }
}

/// Removes trash entries older than `days`; returns how many.
pub(crate) fn purge(
    cfg: &Config,
    state: &State,
    sides: &Sides,
    days: u64,
    log: &Logger,
) -> Result<u64, CliError> {
    let cutoff = chrono::Local::now()
        - chrono::Duration::days(
            i64::try_from(days)
                .unwrap_or(i64::MAX / 86_400_000)
                .min(1_000_000),
        );
    let mut n = 0;
    for r in state.trash_records()? {
        let Ok(t) = chrono::DateTime::parse_from_rfc3339(&r.deleted_at) else {
            continue;
        };
        if t > cutoff {
            continue;
        }
        let loc = apply::trash::TrashLoc::new(sides.get(r.side), cfg.trash(r.side));
        match loc.purge(&r.trash_path) {
            Ok(()) => {
                state.remove_trash_record(r.id)?;
                log.info("delete", json!({"path": r.trash_path, "side": r.side, "result": "ok", "note": "purged from trash"}));
                n += 1;
            }
            Err(e) => crate::eoutln!("warning: cannot purge {}: {e}", r.trash_path),
        }
    }
    Ok(n)
}

fn resolve(cfg: &Config, path: &str, keep: &str) -> Result<i32, CliError> {
    let state = State::open(&cfg.state_db)?;
    let key = paths::key_of(&path.replace('\\', "/"), cfg.case_sensitive);
    let c = state.conflicts()?.remove(&key).ok_or_else(|| {
        CliError::Other(format!(
            "no unresolved conflict for `{path}` (see `twinsync status`)"
        ))
    })?;
    state.set_conflict_keep(c, keep)?;
    crate::outln!("`{path}`: keep {keep}; the next apply (or watch cycle) settles it.");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cycle record carries the time its run started, not when it ended.
    #[test]
    fn cycle_record_started_at_is_the_start_time() {
        let started = std::time::Instant::now()
            .checked_sub(std::time::Duration::from_secs(30))
            .unwrap();
        let c = cycle_record(None, None, started);
        let at = chrono::DateTime::parse_from_rfc3339(&c.started_at).unwrap();
        let ago = chrono::Utc::now() - at.with_timezone(&chrono::Utc);
        assert!(
            (29..=60).contains(&ago.num_seconds()),
            "started_at {} is {} s ago, the run began 30 s ago",
            c.started_at,
            ago.num_seconds()
        );
        assert!(c.duration_ms >= 30_000);
    }
}
