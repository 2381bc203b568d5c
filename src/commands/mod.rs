//! The commands behind the command line ([`crate::cli`] parses and
//! dispatches here). Each one loads what it needs, calls the library stages
//! and prints the outcome; what a command decides lives in the stage it
//! calls (roots, pipeline, apply, guards, trash), not here.

mod apply;
mod plan;
mod status;
mod trash;

pub use apply::apply;
pub use plan::plan;
pub use status::status;
pub use trash::{trash_list, trash_purge, trash_restore};

use crate::config::Config;
use crate::control::{self, ControlError};
use crate::error::RunError;
use crate::plan::{Plan, render};
use crate::state::State;
use crate::{Keep, roots};
use std::path::Path;

/// `init`: roots, state DB and markers (see [`roots::init`]).
///
/// # Errors
/// A root or marker to fix first (exit 3), or what could not be written.
pub fn init(cfg: &Config, create_roots: bool) -> Result<i32, RunError> {
    roots::init(cfg, create_roots, &mut |line| crate::outln!("{line}"))?;
    crate::outln!("state DB {}", cfg.state_db.display());
    if cfg.raw.dashboard.enabled {
        // The dashboard's API key, made at install (owner-only), kept after.
        crate::dashboard::auth::ensure_key(cfg).map_err(|e| RunError::Other(e.to_string()))?;
        crate::outln!(
            "dashboard API key {} (`twinsync dashboard` prints a login link)",
            crate::dashboard::auth::key_file(cfg).display()
        );
    }
    crate::outln!("Initialised. Next: `twinsync plan` to review, `twinsync apply` to sync.");
    Ok(0)
}

/// The example config, every key commented (config/sync_config.example.toml,
/// built into the binary so an admin needs no copy of the repository).
pub const EXAMPLE_CONFIG: &str = include_str!("../../config/sync_config.example.toml");

/// `init --example`: prints [`EXAMPLE_CONFIG`]; returns the exit code.
#[must_use]
pub fn init_example() -> i32 {
    crate::out::data(format_args!("{EXAMPLE_CONFIG}"));
    0
}

/// `show`: a saved plan as tables (every step; `detailed`: whole paths
/// and step ids), or its JSON.
///
/// # Errors
/// The plan file cannot be read or is not a valid plan.
pub fn show(plan: &Path, json: bool, detailed: bool) -> Result<i32, RunError> {
    let p = Plan::load(plan)?;
    if json {
        crate::out!("{}", p.to_json());
    } else {
        let view = render::View {
            detailed,
            ..crate::terminal::view(crate::terminal::Stream::Stdout)
        };
        crate::out!("{}", render::render(&p, &view));
    }
    Ok(0)
}

/// `resolve PATH --keep …`: records the admin's choice; the next apply
/// (or watch cycle) settles the conflict.
///
/// # Errors
/// No unresolved conflict at that path; state errors.
pub fn resolve(cfg: &Config, path: &str, keep: Keep) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    control::resolve(&state, path, cfg.case_sensitive, keep).map_err(|e| match e {
        ControlError::State(s) => RunError::State(s),
        e @ ControlError::NoConflict(_) => RunError::Other(e.to_string()),
    })?;
    crate::outln!(
        "`{}`: keep {keep}; the next apply (or watch cycle) settles it.",
        crate::human::escape(path)
    );
    Ok(0)
}

/// `pause`: `watch` (and the service) plans and applies nothing from its
/// next cycle on, until `resume`; the health verdict says `paused`.
///
/// # Errors
/// State DB errors.
pub fn pause(cfg: &Config) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    let p = control::pause(&state, "cli")?;
    crate::outln!(
        "Syncing paused (since {}, by {}); `twinsync resume` starts it again.",
        crate::health::local_time(&p.since),
        p.by
    );
    Ok(0)
}

/// `resume`: ends a pause; the next `watch` cycle syncs again.
///
/// # Errors
/// State DB errors.
pub fn resume(cfg: &Config) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    if control::resume(&state)? {
        crate::outln!("Syncing resumed: the next cycle syncs again.");
    } else {
        crate::outln!("Syncing was not paused.");
    }
    Ok(0)
}

/// `dashboard`: the live dashboard's URL and a one-time login link.
///
/// # Errors
/// The dashboard is not enabled; state DB or key file errors.
pub fn dashboard(cfg: &Config) -> Result<i32, RunError> {
    if !cfg.raw.dashboard.enabled {
        return Err(RunError::Other(format!(
            "the dashboard is off: set `[dashboard] enabled = true` in {} and restart `watch` (or the service)",
            cfg.file.display()
        )));
    }
    let state = open_state(cfg)?;
    let info =
        crate::dashboard::login_link(cfg, &state).map_err(|e| RunError::Other(e.to_string()))?;
    crate::outln!("Dashboard: {}", info.url);
    crate::outln!(
        "One-time login link (valid {} minutes, works once): {}",
        crate::dashboard::LOGIN_LINK_MINUTES,
        info.link
    );
    if !info.running {
        crate::eoutln!(
            "note: `watch` (or the service) is not serving it now; the link works once it runs"
        );
    }
    crate::outln!("Or log in with the API key in {}", info.key_file.display());
    Ok(0)
}

/// `alert test`: sends one email now and explains any failure.
///
/// # Errors
/// `Other` with the diagnosis.
pub fn alert_test(cfg: &Config) -> Result<i32, RunError> {
    let e = &cfg.raw.email;
    if e.to_addresses.is_empty() || e.from_address.is_empty() {
        return Err(RunError::Other(format!(
            "{}: set [email] from_address and to_addresses (and the SMTP account) before testing",
            cfg.file.display()
        )));
    }
    if !e.enabled {
        crate::eoutln!(
            "note: [email] enabled = false: this test sends anyway, but no alert will be sent until you enable it"
        );
    }
    let body = format!(
        "This is a test email from twinsync.\nleft root: {}\nright root: {}\nIf you read this, alerts will reach you.",
        cfg.left_root.display(),
        cfg.right_root.display()
    );
    match crate::alert::send_now(cfg, "[twinsync] test email", &body) {
        Ok(()) => {
            crate::outln!(
                "Test email sent via {}:{} to {}",
                e.smtp_host,
                e.smtp_port,
                e.to_addresses.join(", ")
            );
            // The server works: what the outbox holds goes out now, not
            // after its retry backoff.
            if e.enabled
                && cfg.state_db.exists()
                && let Ok(state) = State::open(&cfg.state_db)
            {
                let before = crate::alert::queued(&state);
                if before > 0 {
                    crate::alert::flush(cfg, &state, &crate::log::Logger::from_config(cfg));
                    let after = crate::alert::queued(&state);
                    crate::outln!(
                        "Queued alerts: {} sent, {after} still queued",
                        before.saturating_sub(after)
                    );
                }
            }
            Ok(0)
        }
        Err(why) => Err(RunError::Other(format!(
            "test email via {}:{} failed: {why}",
            e.smtp_host, e.smtp_port
        ))),
    }
}

/// The `unavailable` event of a `plan` or `apply` that found a side
/// unavailable, with the side and result `watch` gives it (SPEC §12).
fn log_unavailable(log: &crate::log::Logger, e: &RunError) {
    if let RunError::Unavailable { side, msg } = e {
        log.error(
            "unavailable",
            serde_json::json!({"side": side, "error": msg, "result": "skipped"}),
        );
    }
}

/// The state DB, created on first use: with both markers present the
/// first plan adopts them.
fn open_state(cfg: &Config) -> Result<State, RunError> {
    Ok(State::open_for_sync(&cfg.state_db)?)
}
