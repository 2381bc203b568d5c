//! `watch`: plan + apply every `sync_interval_seconds` (SPEC §9), and the
//! Windows service wrapper around it.
//!
//! Each cycle: check roots → scan → plan → apply → report. A side that is
//! unavailable pauses syncing (nothing planned, nothing deleted), is logged
//! and alerted once per outage, and is retried every cycle. On start, a
//! plan left unfinished by a crash is resumed from the state DB before the
//! first new cycle. A stop request (Ctrl-C, SIGTERM, service stop) is seen
//! between steps: the step in progress finishes and is recorded.

use crate::apply;
use crate::cli::{CliError, ServiceAction};
use crate::config::Config;
use crate::log::Logger;
use crate::plan::Plan;
use crate::state::State;
use crate::sync::{self, Sides, SyncError};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Installs Ctrl-C / SIGTERM handling that sets `stop`.
fn install_stop(stop: &Arc<AtomicBool>) {
    let s = Arc::clone(stop);
    let _ = ctrlc::set_handler(move || s.store(true, Ordering::SeqCst));
}

fn sleep_until(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(
            Duration::from_millis(100).min(end.saturating_duration_since(Instant::now())),
        );
    }
}

/// Resumes a plan a crash left unfinished, if any.
fn resume_unfinished(
    cfg: &Config,
    sides: &Sides,
    state: &mut State,
    log: &Logger,
    stop: &AtomicBool,
) {
    let Ok(Some(id)) = state.unfinished_plan() else {
        return;
    };
    let json: Option<String> = state
        .conn()
        .query_row(
            "SELECT plan_json FROM plans WHERE plan_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .ok()
        .flatten();
    let plan = json
        .and_then(|j| serde_json::from_str::<Plan>(&j).ok())
        .filter(|p| p.validate().is_ok());
    let Some(plan) = plan else {
        let _ = state.finish_plan(&id, "abandoned");
        return;
    };
    log.info(
        "cycle",
        json!({"note": "resuming an unfinished plan", "plan_id": id}),
    );
    let opts = apply::Options {
        stop: Some(stop),
        ..apply::Options::default()
    };
    if apply::admit(&plan, cfg, sides, state, true).is_ok() {
        match apply::run(&plan, cfg, sides, state, log, &opts) {
            Ok(r) => log.info("cycle", json!({"note": "resumed plan finished", "plan_id": id, "done": r.done, "failed": r.failed.len()})),
            Err(e) => log.error("error", json!({"error": e.to_string(), "plan_id": id})),
        }
    }
}

/// `twinsync watch`.
///
/// # Errors
/// Only errors that stop the service (state DB unusable).
pub fn watch_cmd(
    cfg: &Config,
    cycles: Option<u64>,
    dry_run: bool,
    external_stop: Option<Arc<AtomicBool>>,
) -> Result<i32, CliError> {
    let log = Logger::from_config(cfg).with_echo(external_stop.is_none());
    let stop = external_stop.unwrap_or_else(|| {
        let s = Arc::new(AtomicBool::new(false));
        install_stop(&s);
        s
    });
    let sides = Sides::real(cfg);
    let mut state = State::open_or_create(&cfg.state_db)?;
    let interval = Duration::from_secs(cfg.raw.sync_interval_seconds);
    log.info("cycle", json!({"note": "watch started", "interval_s": cfg.raw.sync_interval_seconds, "dry_run": dry_run}));
    if !dry_run {
        resume_unfinished(cfg, &sides, &mut state, &log, &stop);
    }
    let mut outage: [bool; 2] = [false, false];
    let mut n = 0u64;
    let mut last_purge = Instant::now() - Duration::from_secs(86_400);
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        n += 1;
        let req = sync::PlanRequest {
            now_ns: crate::now_ns(),
            ..sync::PlanRequest::default()
        };
        match sync::make_plan(cfg, &sides, &state, &req) {
            Err(SyncError::Scan(e @ crate::scan::ScanError::Unavailable { .. })) => {
                let side = match &e {
                    crate::scan::ScanError::Unavailable { side, .. } => *side,
                    crate::scan::ScanError::Fs(_) => crate::Side::Left,
                };
                let i = usize::from(side == crate::Side::Right);
                if !outage[i] {
                    outage[i] = true;
                    log.error(
                        "unavailable",
                        json!({"side": side, "error": e.to_string(), "result": "skipped"}),
                    );
                    if cfg.raw.email.enabled {
                        crate::alert::enqueue(
                            &state,
                            "unavailable",
                            &format!("{side} side unavailable"),
                            &format!(
                                "{e}\nSyncing is paused until it is back; nothing is deleted meanwhile."
                            ),
                        );
                    }
                }
            }
            Err(e) => log.error("error", json!({"error": e.to_string()})),
            Ok((plan, _)) => {
                for (i, side) in crate::Side::BOTH.into_iter().enumerate() {
                    if outage[i] {
                        outage[i] = false;
                        log.info(
                            "unavailable",
                            json!({"side": side, "result": "ok", "note": "side available again"}),
                        );
                        if cfg.raw.email.enabled {
                            crate::alert::enqueue(
                                &state,
                                "recovered",
                                &format!("{side} side available again"),
                                "Syncing resumed.",
                            );
                        }
                    }
                }
                if dry_run {
                    println!("{}", plan.summary.one_line());
                } else if let Some(why) = plan.delete_guard(
                    cfg.raw.safety.max_delete_percent,
                    cfg.raw.safety.max_delete_min_files,
                ) {
                    log.error("error", json!({"result": "refused", "error": why}));
                    crate::alert::enqueue_guard(cfg, &why);
                } else if !plan.ops.is_empty() {
                    run_cycle(cfg, &sides, &mut state, &log, &plan, &stop, started);
                }
            }
        }
        crate::alert::flush_with(
            cfg,
            &state,
            &log,
            i64::try_from(cfg.raw.email.digest_seconds).unwrap_or(60),
        );
        if cfg.raw.soft_delete.auto_purge && last_purge.elapsed() > Duration::from_secs(3600) {
            last_purge = Instant::now();
            let _ = crate::cli::purge(
                cfg,
                &state,
                &sides,
                cfg.raw.soft_delete.retention_days,
                &log,
            );
        }
        if cycles.is_some_and(|c| n >= c) {
            break;
        }
        sleep_until(
            &stop,
            interval
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(200)),
        );
    }
    log.info("cycle", json!({"note": "watch stopped", "cycles": n}));
    Ok(0)
}

fn run_cycle(
    cfg: &Config,
    sides: &Sides,
    state: &mut State,
    log: &Logger,
    plan: &Plan,
    stop: &AtomicBool,
    started: Instant,
) {
    if let Err(e) = apply::admit(plan, cfg, sides, state, false) {
        log.error("error", json!({"error": e.to_string()}));
        return;
    }
    let on_event = |op: &crate::plan::Op, err: &str| crate::alert::enqueue_step(cfg, op, err);
    let opts = apply::Options {
        stop: Some(stop),
        on_event: Some(&on_event),
        ..apply::Options::default()
    };
    match apply::run(plan, cfg, sides, state, log, &opts) {
        Ok(report) => crate::cli::record_cycle(state, log, plan, &report, started),
        Err(e) => log.error("error", json!({"error": e.to_string()})),
    }
}

/// `twinsync service …`.
///
/// # Errors
/// Not on Windows; or the service manager's error.
pub fn service_command(cfg_path: &Path, action: ServiceAction) -> Result<i32, CliError> {
    #[cfg(windows)]
    {
        crate::service::command(cfg_path, action)
    }
    #[cfg(not(windows))]
    {
        let _ = (cfg_path, action);
        Err(CliError::Other(
            "`twinsync service` is only available on Windows; on Linux run `twinsync watch` under systemd".into(),
        ))
    }
}
