//! The command line (SPEC §2): the clap definitions, parsing, and the
//! dispatch of each command to [`crate::commands`]; the error that ends a
//! command becomes its exit code ([`RunError::exit_code`]). Nothing else.

use crate::commands;
use crate::config::Config;
use crate::error::RunError;
use crate::{Keep, Side};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// Two-way file sync with a reviewable plan: `plan` shows what would change,
/// `apply` does it (atomic, journalled, resumable), `watch` keeps doing it.
#[derive(Parser, Debug)]
#[command(
    name = "twinsync",
    version = VERSION,
    disable_version_flag = true,
    about,
    long_about = None,
    after_help = "Exit codes: 0 success; 1 error (bad config or plan file, a failed step); 2 only with \
plan --detailed-exitcode: the plan has changes; 3 a side is unavailable (root or marker missing or foreign); \
4 a safety guard refused (too many deletes or content changes, stale plan, plan for other roots); \
5 only from status: syncing works but something needs you (an unresolved conflict, a failing or skipped path). \
status exits with its health verdict: 0 in sync or working, 3 not syncing, 4 blocked, 5 needs you or paused.\n\
Start with `twinsync init`, review with `twinsync plan`, sync with `twinsync apply` or `twinsync watch`; \
see where things stand with `twinsync status`, or as one HTML page with `twinsync report`, \
or live in a browser with `twinsync dashboard` ([dashboard] enabled = true). \
No config yet? `twinsync init --example > sync_config.toml` writes one with every key explained \
(in PowerShell: `twinsync init --example | Set-Content -Encoding UTF8 sync_config.toml`). \
`twinsync --version` shows the version and the commit it was built from."
)]
pub struct Cli {
    /// Config file [default: $TWINSYNC_CONFIG, else ./sync_config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print errors only (no tables, progress or warnings); `--json` output still goes to stdout
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print debug detail too (config, state DB and log file used; what each stage found); the log file gets debug events
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print the version and the commit it was built from
    #[arg(short = 'V', long, action = clap::ArgAction::Version)]
    version: Option<bool>,
    /// No colour in tables (also off when NO_COLOR is set or output is not a terminal)
    #[arg(long, global = true)]
    pub no_color: bool,
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
        /// Print the example config (every key, with its default and what it does) and stop:
        /// `twinsync init --example > sync_config.toml` (PowerShell: `| Set-Content -Encoding UTF8 sync_config.toml`)
        #[arg(long, conflicts_with = "create_roots")]
        example: bool,
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
        #[arg(short = 'y', long, alias = "yes")]
        auto_approve: bool,
        /// Override the mass-delete and mass-change guards, and apply a stale plan file (each step still checked against the files as they are now); never a plan for other roots
        #[arg(long)]
        force: bool,
    },
    /// Sync continuously: plan + apply every sync_interval_seconds (the service runs this)
    Watch {
        /// Stop after N cycles, once the large copies they started have finished (N >= 1; leave it out to run until stopped)
        #[arg(long, value_name = "N", value_parser = cycles_parser)]
        cycles: Option<u64>,
        /// Plan every cycle but apply nothing
        #[arg(long)]
        dry_run: bool,
        /// Also print the JSON log events on stdout (the human lines then go to stderr)
        #[arg(long)]
        log_json: bool,
    },
    /// Show the health verdict (exit 0 in sync or working, 3 not syncing, 4 blocked, 5 needs you or paused), roots, recent cycles, conflicts, failing and skipped paths, trash and queued emails
    Status {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Render a saved plan
    Show {
        /// A plan file from `twinsync plan --out`
        #[arg(value_name = "PLAN.json")]
        plan: PathBuf,
        /// Print the plan JSON instead of tables
        #[arg(long)]
        json: bool,
        /// Full paths (not shortened to fit the width) and each step's id in the plan file
        #[arg(long)]
        detailed: bool,
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
    /// Pause syncing: watch (and the service) plans and applies nothing until `resume` (kept across restarts)
    Pause,
    /// Resume syncing after `pause` (or the dashboard's pause)
    Resume,
    /// Print the live dashboard's URL and a one-time login link ([dashboard] enabled = true; served by watch)
    #[command(
        after_help = "The dashboard is served by `watch` (and so by the service) on [dashboard] listen, \
127.0.0.1:8390 by default (loopback only). Open the one-time link printed here, or the URL and the API key \
from the key file beside the state DB. It shows the health verdict, copies in flight, the last cycles, \
conflicts, failing paths, trash and queued emails, live; and it resolves conflicts, restores from the trash, \
pauses and resumes, syncs now and overrides a guard's refusal after showing the forced plan."
    )]
    Dashboard,
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
    /// Print a shell completion script: add it to your shell profile
    #[command(
        after_help = "PowerShell: twinsync completions powershell >> $PROFILE\n\
bash: twinsync completions bash > /etc/bash_completion.d/twinsync\n\
zsh: twinsync completions zsh > \"${fpath[1]}/_twinsync\"\n\
fish: twinsync completions fish > ~/.config/fish/completions/twinsync.fish"
    )]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// `--version`: the package version and the commit it was built from
/// (build.rs; "unknown" outside a git checkout).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TWINSYNC_COMMIT"),
    ")"
);

/// The shells `completions` writes for (SPEC §2).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Powershell,
    Bash,
    Zsh,
    Fish,
}

/// `watch --cycles N`: at least one (zero would be a watch that does nothing).
fn cycles_parser(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1 (leave --cycles out to run until stopped)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number of cycles: {e}")),
    }
}

/// `--side left|right`.
fn side_parser() -> impl clap::builder::TypedValueParser<Value = Side> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["left", "right"]).try_map(|s| s.parse::<Side>())
}

/// `--keep left|right|both` (listed in `--help` and in usage errors).
fn keep_parser() -> impl clap::builder::TypedValueParser<Value = Keep> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Keep::ALL.iter().map(|k| k.as_str()))
        .try_map(|s| s.parse::<Keep>())
}

#[derive(Subcommand, Debug)]
pub enum TrashAction {
    /// List what is in the trash (with PATH: that file's versions, numbered newest first)
    List {
        /// A file's path relative to the roots (its versions, numbered for `restore --version`),
        /// or a folder (everything trashed below it)
        path: Option<String>,
    },
    /// Put a file back where it was (the next cycle syncs it to the other side)
    Restore {
        /// The file's path relative to the roots (as `trash list` shows it), or its path in the trash
        path: String,
        /// Restore the version trashed on this side [default: the newest version's side]
        #[arg(long, value_parser = side_parser())]
        side: Option<Side>,
        /// Restore version N as `trash list PATH` numbers them (1 = the newest) [default: 1]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        version: Option<u32>,
    },
    /// Delete trash entries for good: shows what goes and the space freed, then asks
    Purge {
        /// Only entries trashed at least DAYS days ago (0 = everything)
        /// [default: soft_delete.retention_days]
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u64>,
        /// Show what would be deleted and the space it would free; delete nothing
        #[arg(long)]
        dry_run: bool,
        /// Do not ask (needed without a terminal, e.g. in a scheduled task)
        #[arg(short = 'y', long = "yes", visible_alias = "auto-approve")]
        yes: bool,
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
            crate::errln!("error: {}", crate::human::escape(&e.to_string()));
            e.exit_code()
        }
    }
}

/// True when the command prints, on stdout, data it was asked for (kept
/// under `-q`).
fn prints_data(c: &Command) -> bool {
    matches!(
        c,
        Command::Plan { json: true, .. }
            | Command::Status { json: true, .. }
            | Command::Show { json: true, .. }
            | Command::Init { example: true, .. }
            | Command::Completions { .. }
    )
}

/// Runs a parsed command.
///
/// # Errors
/// Any [`RunError`]; the caller prints it and exits with its code.
pub fn run(cli: Cli) -> Result<i32, RunError> {
    if cli.quiet {
        crate::out::set_quiet(prints_data(&cli.command));
    }
    crate::out::set_verbose(cli.verbose);
    crate::terminal::set_no_color(cli.no_color);
    let cfg_path = crate::config::config_path(cli.config.as_deref());
    let mut cfg = match cli.command {
        Command::Show {
            plan,
            json,
            detailed,
        } => return commands::show(&plan, json, detailed),
        Command::Service { action } => return service(&cfg_path, action),
        Command::Init { example: true, .. } => return Ok(commands::init_example()),
        Command::Completions { shell } => return Ok(completions(shell)),
        _ => Config::load(&cfg_path)?,
    };
    if cli.verbose {
        cfg.raw.logging.log_level = crate::config::Level::Debug;
    }
    crate::debugln!(
        "config {}\n  left root  {}\n  right root {}\n  state DB   {}\n  log file   {}",
        cfg.file.display(),
        cfg.left_root.display(),
        cfg.right_root.display(),
        cfg.state_db.display(),
        cfg.log_file.display()
    );
    for w in crate::alert::config_warnings(&cfg) {
        crate::eoutln!("warning: {}", crate::human::escape(&w));
    }
    match cli.command {
        Command::Init { create_roots, .. } => commands::init(&cfg, create_roots),
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
            TrashAction::List { path } => commands::trash_list(&cfg, path.as_deref()),
            TrashAction::Restore {
                path,
                side,
                version,
            } => commands::trash_restore(&cfg, &path, side, version),
            TrashAction::Purge {
                older_than,
                dry_run,
                yes,
            } => commands::trash_purge(&cfg, older_than, dry_run, yes),
        },
        Command::Resolve { path, keep } => commands::resolve(&cfg, &path, keep),
        Command::Pause => commands::pause(&cfg),
        Command::Resume => commands::resume(&cfg),
        Command::Dashboard => commands::dashboard(&cfg),
        Command::Report { out } => crate::report::report_cmd(&cfg, out),
        Command::Alert {
            action: AlertAction::Test,
        } => commands::alert_test(&cfg),
        Command::Show { .. } | Command::Service { .. } | Command::Completions { .. } => Ok(0),
    }
}

/// `completions SHELL`: the script on stdout.
fn completions(shell: Shell) -> i32 {
    let shell = match shell {
        Shell::Powershell => clap_complete::Shell::PowerShell,
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "twinsync", &mut script);
    crate::out::data(format_args!("{}", String::from_utf8_lossy(&script)));
    0
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
