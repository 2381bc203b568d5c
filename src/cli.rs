//! The command line (SPEC §2): the clap definitions, parsing, and the
//! dispatch of each command to [`crate::commands`]; the error that ends a
//! command becomes its exit code ([`RunError::exit_code`]). Nothing else.

use crate::Keep;
use crate::commands;
use crate::config::Config;
use crate::error::RunError;
use clap::{Parser, Subcommand};
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
4 a safety guard refused (too many deletes or content changes, stale plan, plan for other roots); \
5 only from status: syncing works but something needs you (an unresolved conflict, a failing or skipped path). \
status exits with its health verdict: 0 in sync or working, 3 not syncing, 4 blocked, 5 needs you.\n\
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
        /// Plan even if more files would be deleted, or changed, than [safety] allows
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
        /// Override the mass-delete and mass-change guards
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
        /// Also print the JSON log events on stdout (the human lines then go to stderr)
        #[arg(long)]
        log_json: bool,
    },
    /// Show the health verdict (exit 0 in sync or working, 3 not syncing, 4 blocked, 5 needs you), roots, recent cycles, conflicts, failing and skipped paths, trash and queued emails
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
        #[arg(long, value_parser = keep_parser())]
        keep: Keep,
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

/// `--keep left|right|both` (listed in `--help` and in usage errors).
fn keep_parser() -> impl clap::builder::TypedValueParser<Value = Keep> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Keep::ALL.iter().map(|k| k.as_str()))
        .try_map(|s| s.parse::<Keep>())
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
/// Any [`RunError`]; the caller prints it and exits with its code.
pub fn run(cli: Cli) -> Result<i32, RunError> {
    let cfg_path = crate::config::config_path(cli.config.as_deref());
    let cfg = match cli.command {
        Command::Show { plan, json } => return commands::show(&plan, json),
        Command::Service { action } => return service(&cfg_path, action),
        _ => Config::load(&cfg_path)?,
    };
    for w in crate::alert::config_warnings(&cfg) {
        crate::eoutln!("warning: {w}");
    }
    match cli.command {
        Command::Init { create_roots } => commands::init(&cfg, create_roots),
        Command::Plan {
            out,
            json,
            detailed_exitcode,
            force,
        } => commands::plan(&cfg, out, json, detailed_exitcode, force),
        Command::Apply {
            plan,
            auto_approve,
            force,
        } => commands::apply(&cfg, plan.as_deref(), auto_approve, force),
        Command::Watch {
            cycles,
            dry_run,
            log_json,
        } => crate::watch::run(&cfg, cycles, dry_run, log_json, None),
        Command::Status { json } => commands::status(&cfg, json),
        Command::Trash { action } => match action {
            TrashAction::List => commands::trash_list(&cfg),
            TrashAction::Restore { path } => commands::trash_restore(&cfg, &path),
            TrashAction::Purge { older_than } => commands::trash_purge(&cfg, older_than),
        },
        Command::Resolve { path, keep } => commands::resolve(&cfg, &path, keep),
        Command::Report { out } => crate::report::report_cmd(&cfg, out),
        Command::Alert {
            action: AlertAction::Test,
        } => commands::alert_test(&cfg),
        Command::Show { .. } | Command::Service { .. } => Ok(0),
    }
}

/// `service …`: the Windows service manager's commands.
#[cfg(windows)]
fn service(cfg_path: &Path, action: ServiceAction) -> Result<i32, RunError> {
    match action {
        ServiceAction::Install { account, password } => {
            crate::service::install(cfg_path, account, password)
        }
        ServiceAction::Uninstall => crate::service::uninstall(),
        ServiceAction::Run => crate::service::run(cfg_path),
    }
}

/// `service …` exists only on Windows.
#[cfg(not(windows))]
fn service(cfg_path: &Path, action: ServiceAction) -> Result<i32, RunError> {
    let _ = (cfg_path, action);
    Err(RunError::Other(
        "`twinsync service` is only available on Windows; on Linux run `twinsync watch` under systemd".into(),
    ))
}
