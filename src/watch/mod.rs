//! `watch` (SPEC §9): plan + apply every `sync_interval_seconds` until
//! stopped; the Windows service runs this too.
//!
//! - [`cycle`]: one cycle (check roots → scan → plan → apply small-file
//!   steps → hand large-file steps to the lane), which returns what it came
//!   to (`CycleOutcome`), and what the loop keeps between cycles (`Loop`).
//!   [`run`] logs each outcome and keeps the exit code.
//! - [`events`]: watchers (`notify`: ReadDirectoryChangesW / inotify) wake a
//!   cycle early, after a short debounce, for events that are not excluded.
//!   With a working watcher on both sides a *quiet* cycle (no event, nothing
//!   pending) does not scan at all, so its cost does not grow with the tree;
//!   a full scan still runs at start and every `full_scan_interval_seconds`
//!   (watchers miss events; cloud drives may send none). A side whose
//!   watcher fails is polled: scanned every cycle (logged once).
//! - [`lane`]: copies above `large_file_bytes` run on a background thread
//!   while later cycles keep syncing small files.
//! - [`mailer`]: the alert outbox is sent from its own thread.
//! - [`console`]: the human lines on the console (one per cycle that did
//!   something; sides going and coming back; guards blocking and clearing).
//!
//! Outages pause syncing (nothing planned, nothing deleted), are logged and
//! alerted once, and are retried every cycle. A stop (Ctrl-C, SIGTERM,
//! service stop) lets the small step in progress finish and be recorded; a
//! large copy in progress is abandoned (its temp file removed, redone after
//! the restart); exit 0.

mod alive;
mod console;
mod cycle;
mod events;
mod lane;
mod mailer;
mod relist;

use crate::apply::trash;
use crate::config::Config;
use crate::error::RunError;
use crate::health::{Health, Reason};
use crate::log::{Echo, Logger};
use crate::metrics;
use crate::pipeline;
use crate::roots::Sides;
use crate::state::State;
use crate::{CycleResult, PerSide, Side};
use console::Console;
use cycle::{CycleOutcome, Loop};
use events::{Dirty, Wake, Watchers, install_stop, start_watchers, wait};
use lane::LargeLane;
use mailer::start_mailer;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

/// `twinsync watch`: runs cycles until stopped (or `cycles` ran); with
/// `external_stop` the service controls stopping and there is no console.
/// `log_json` also prints the JSON log events on stdout.
///
/// # Errors
/// Only errors that stop the service (state DB unusable).
pub fn run(
    cfg: &Config,
    cycles: Option<u64>,
    dry_run: bool,
    log_json: bool,
    external_stop: Option<Arc<AtomicBool>>,
) -> Result<i32, RunError> {
    // The one logger of this process: the lane and the mailer share it.
    let log = Logger::from_config(cfg);
    let console = Console {
        log_json,
        silent: external_stop.is_some(),
    };
    log.set_echo(match (external_stop.is_some(), log_json) {
        (true, _) => Echo::Off,
        (false, true) => Echo::Json,
        (false, false) => Echo::Human,
    });
    let stop = external_stop.unwrap_or_else(|| {
        let s = Arc::new(AtomicBool::new(false));
        install_stop(&s, &log);
        s
    });
    let sides = Sides::real(cfg);
    // Dry runs change nothing and may run beside the service.
    let _lock = if dry_run {
        None
    } else {
        Some(
            crate::state::RunLock::acquire(&cfg.state_db)
                .map_err(|e| RunError::Other(e.to_string()))?,
        )
    };
    let state = State::open_for_sync(&cfg.state_db)?;
    // Signs of life for `status` (a dry run, beside the service, has none).
    let heart = (!dry_run).then(|| alive::Heart::start(cfg, &stop, Arc::clone(&log)));
    let (tx, rx) = channel();
    // TWINSYNC_POLL_ONLY=1 disables the watchers (benchmarks, diagnosing a drive
    // whose change notifications misbehave).
    let poll_only = std::env::var_os("TWINSYNC_POLL_ONLY").is_some_and(|v| v == "1");
    let watchers = if poll_only {
        log.info(
            "scan",
            json!({"note": "TWINSYNC_POLL_ONLY=1: watchers disabled, polling both sides"}),
        );
        Watchers {
            w: PerSide::default(),
            working: PerSide::default(),
        }
    } else {
        start_watchers(cfg, &tx, &log)
    };
    // `[dashboard]`: its own thread; a failure to start it is logged and
    // told, and syncing goes on without it.
    let (dash, dash_server) = start_dashboard(cfg, dry_run, &stop, &tx, &log, console);
    let lane = LargeLane::start(
        cfg,
        &sides,
        &stop,
        tx.clone(),
        Arc::clone(&log),
        console,
        dash.clone(),
    );
    let mailer = start_mailer(cfg, &stop, Arc::clone(&log));
    console.plain(&format!(
        "twinsync watch: syncing {} ⇄ {} every {} s (Ctrl-C to stop); log: {}",
        cfg.left_root.display(),
        cfg.right_root.display(),
        cfg.raw.sync_interval_seconds,
        cfg.log_file.display()
    ));
    // A state DB made again: the trash's files are recorded first.
    if !dry_run && let Err(e) = trash::orphans::adopt_if_new(cfg, &state, &sides, &log) {
        log.warn(
            "error",
            json!({"error": format!("cannot record the files found in the trash: {e}")}),
        );
    }
    let blocked = tell_waiting(cfg, &state, &sides, console, &log);
    log.info(
        "scan",
        json!({"note": "watch started", "interval_s": cfg.raw.sync_interval_seconds, "dry_run": dry_run,
               "watchers": watchers.working}),
    );
    let mut lp = Loop {
        cfg,
        sides,
        state,
        log,
        console,
        stop: Arc::clone(&stop),
        lane,
        outage: PerSide::default(),
        reported: HashSet::new(),
        skipped_logged: HashSet::new(),
        refused: blocked,
        watchers,
        tx: tx.clone(),
        poll_only,
        written: PerSide::default(),
        cache: PerSide::default(),
        last_full: PerSide::default(),
        hashing: SpareHashing::default(),
        relists: PerSide::default(),
        excluders: PerSide::new(
            cfg.excluder(Side::Left)
                .map_err(|e| RunError::Other(e.to_string()))?,
            cfg.excluder(Side::Right)
                .map_err(|e| RunError::Other(e.to_string()))?,
        ),
        dash: dash.clone(),
        pulse: heart.as_ref().map(|h| Arc::clone(&h.pulse)),
    };
    if !dry_run {
        lp.resume();
    }
    let interval = Duration::from_secs(cfg.raw.sync_interval_seconds);
    let full_every = Duration::from_secs(
        cfg.raw
            .full_scan_interval_seconds
            .max(cfg.raw.sync_interval_seconds),
    );
    let min_age = Duration::from_secs(cfg.raw.transfer.min_file_age_seconds);
    let mut pending = true; // the first cycle always scans
    // The exit code the last cycle gives: 0, 3 (side unavailable), 4 (guard).
    let mut exit = 0;
    let mut dirty = Dirty {
        full: PerSide::new(true, true),
        ..Dirty::default()
    };
    let mut n = 0u64;
    let mut last_purge: Option<Instant> = None;
    // `[logging] report_path`: the activity page, rewritten after busy cycles.
    let mut report_rw = crate::report::Rewriter::default();
    // `twinsync pause` or the dashboard's: as of the last cycle boundary.
    let mut paused = false;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let cycle_start = Instant::now();
        if let Some(p) = &lp.pulse {
            p.cycle(true);
        }
        if let Some(d) = &dash {
            d.set_cycle(Some(crate::dashboard::live::Cycle {
                n,
                started: cycle_start,
                started_at: metrics::started_at(cycle_start),
            }));
        }
        if honour_pause(&lp, &mut paused, &mut dirty) {
            pending = true; // once resumed, everything is planned again
            if let Some(d) = &dash {
                d.set_cycle(None);
            }
            if let Some(p) = &lp.pulse {
                p.cycle(false);
            }
            log_cycle_event(&lp, CycleOutcome::paused(), 0, n, cycle_start, 0);
            if cycles.is_some_and(|c| n >= c) {
                break;
            }
            dirty = wait(&rx, &stop, interval);
            lp.lane.release(&dirty.released);
            continue;
        }
        if !dry_run {
            lp.dashboard_requests();
        }
        let full = walks_due(&mut lp, &mut dirty, cycle_start, interval, full_every);
        let quiet = !full.left
            && !full.right
            && !pending
            && !dirty.any()
            && lp.written.values().all(HashSet::is_empty)
            && !lp.outage.values().any(|o| *o);
        let outcome = if quiet {
            lp.quiet_cycle()
        } else {
            lp.busy_cycle(dry_run, full, &mut dirty, pending)
        };
        pending = outcome.pending;
        if let Some(code) = outcome.exit {
            exit = code;
        }
        // The hourly trash purge (age and cap) runs before the cycle event,
        // which counts what it removed.
        let mut purged = 0;
        if cfg.raw.soft_delete.auto_purge
            && last_purge.is_none_or(|t| t.elapsed() > Duration::from_hours(1))
        {
            last_purge = Some(Instant::now());
            match trash::purge_older_than(
                cfg,
                &lp.state,
                &lp.sides,
                cfg.raw.soft_delete.retention_days,
                &lp.log,
            ) {
                Ok(n) => purged = n,
                Err(e) => lp.log.warn(
                    "error",
                    json!({"error": format!("cannot purge the trash: {e}")}),
                ),
            }
        }
        if let Some(p) = &lp.pulse {
            p.cycle(false);
        }
        let store = log_cycle_event(&lp, outcome, exit, n, cycle_start, purged);
        if let Some(d) = &dash {
            d.set_cycle(None);
        }
        if !dry_run
            && let Err(e) = crate::report::maybe_rewrite(cfg, &lp.state, &mut report_rw, store)
        {
            lp.log.warn(
                "error",
                json!({"error": format!("cannot write the activity report: {e}")}),
            );
        }
        // Spare time: hash a few pairs adopted by metadata (never a whole share at once).
        if !pending && !dry_run && exit == 0 {
            hash_in_spare_time(cfg, &mut lp);
        }
        if cycles.is_some_and(|c| n >= c) {
            break;
        }
        // Something left for later (a file still being written): look again soon.
        // Cycles start every interval (start to start), not interval after the last one ended.
        // A side unavailable is looked at again at the usual interval (a
        // drive that is away is not hurried back by retrying faster).
        let next = if pending && exit != 3 {
            interval.min(min_age + Duration::from_millis(500))
        } else {
            interval
        }
        .saturating_sub(cycle_start.elapsed())
        .max(Duration::from_millis(100));
        dirty = wait(&rx, &stop, next);
        lp.lane.release(&dirty.released);
        if dirty.lane_done {
            pending = true;
        }
    }
    // Reached --cycles (or asked to stop): the helpers end too.
    let stop_requested = stop.load(Ordering::SeqCst);
    // Batches the lane finished since the last wait are not in flight.
    while let Ok(w) = rx.try_recv() {
        if let Wake::LaneDone(keys, _) = w {
            lp.lane.release(&keys);
        }
    }
    let in_flight = lp.lane.held().len();
    if !stop_requested && in_flight > 0 {
        // --cycles ran out with large copies handed to the lane: they are
        // finished, not cut off (a scheduled `watch --cycles N` would
        // otherwise never land a file longer than its cycles). Ctrl-C or a
        // stop still interrupts them; they resume at the next start.
        lp.console.line(&format!(
            "waiting for the large-file lane to finish {} (Ctrl-C stops it; a stopped copy resumes next time)",
            crate::human::plural(in_flight as u64, "copy", "copies"),
        ));
        lp.lane.shutdown();
    }
    stop.store(true, Ordering::SeqCst);
    lp.lane.shutdown();
    if let Some(s) = dash_server {
        s.join();
    }
    if let Some(m) = mailer
        && m.join().is_err()
    {
        lp.log.error(
            "error",
            json!({"error": "the mailer thread panicked: queued alerts wait for the next start"}),
        );
    }
    if let Some(h) = heart {
        h.stopped();
    }
    lp.log
        .info("scan", json!({"note": "watch stopped", "cycles": n}));
    // With --cycles (tests, scheduled tasks) the last cycle's outcome is the
    // exit code, as `apply` would give: 3 side unavailable, 4 guard refused.
    Ok(if cycles.is_some() && !stop_requested {
        exit
    } else {
        0
    })
}

/// Starts the dashboard when `[dashboard] enabled` (not for a dry run,
/// which may run beside the service): the shared state and the server.
fn start_dashboard(
    cfg: &Config,
    dry_run: bool,
    stop: &Arc<AtomicBool>,
    tx: &std::sync::mpsc::Sender<events::Wake>,
    log: &Arc<Logger>,
    console: Console,
) -> (
    Option<Arc<crate::dashboard::Shared>>,
    Option<crate::dashboard::Server>,
) {
    if !cfg.raw.dashboard.enabled || dry_run {
        return (None, None);
    }
    let shared = Arc::new(crate::dashboard::Shared::default());
    let wake = std::sync::Mutex::new(tx.clone());
    shared.set_wake(Box::new(move || {
        if let Ok(tx) = wake.lock() {
            // (Nobody listens only once the loop has ended.)
            let _ = tx.send(events::Wake::Now);
        }
    }));
    match crate::dashboard::start(
        cfg,
        Arc::clone(&shared),
        Arc::clone(log),
        Arc::clone(stop),
        true,
    ) {
        Ok(server) => {
            console.plain(&format!(
                "dashboard: {} (`twinsync dashboard` prints a login link)",
                server.url()
            ));
            (Some(shared), Some(server))
        }
        Err(e) => {
            log.error(
                "error",
                json!({"actor": "dashboard", "error": format!("the dashboard did not start: {e}")}),
            );
            console.line(&format!("the dashboard did not start: {e}"));
            (None, None)
        }
    }
}

/// At a cycle boundary: whether syncing is paused (`twinsync pause`, the
/// dashboard). Says so on the console when that changes; on a resume both
/// sides are scanned in full (events seen while paused were dropped).
fn honour_pause(lp: &Loop<'_>, paused: &mut bool, dirty: &mut Dirty) -> bool {
    let now = match crate::control::paused(&lp.state) {
        Ok(p) => p,
        Err(e) => {
            // Unknown: keep what was known.
            lp.log.error("error", json!({"error": e.to_string()}));
            return *paused;
        }
    };
    match (&now, *paused) {
        (Some(p), false) => {
            let r = Reason::Paused {
                since: p.since.clone(),
                by: p.by.clone(),
            };
            lp.console.line(&format!("{}: {r}", Health::Paused.label()));
            lp.log.info(
                "cycle",
                json!({"note": "paused", "by": p.by, "since": p.since}),
            );
        }
        (None, true) => {
            lp.console.line("resumed: syncing again");
            lp.log.info("cycle", json!({"note": "resumed"}));
            dirty.full = PerSide::new(true, true);
        }
        _ => {}
    }
    *paused = now.is_some();
    *paused
}

/// Per side, whether this cycle walks it in full: at start, after a
/// watcher overflow, every `full_scan_interval_seconds`, or always without
/// a working watcher; else only the folders the events named (`dirty`),
/// to which what a rescan could not read is added as if an event had named
/// it (with a backoff of at most one `interval`).
fn walks_due(
    lp: &mut Loop<'_>,
    dirty: &mut Dirty,
    cycle_start: Instant,
    interval: Duration,
    full_every: Duration,
) -> PerSide<bool> {
    let full = PerSide::from_fn(|side| {
        dirty.full[side]
            || !lp.watchers.working[side]
            || lp.cache[side].is_none()
            || lp.last_full[side].is_none_or(|t| t.elapsed() >= full_every)
    });
    for side in Side::BOTH {
        if full[side] {
            continue;
        }
        let relist = lp.cache[side]
            .as_ref()
            .map(|c| c.relist.as_slice())
            .unwrap_or_default();
        let due = lp.relists[side].take_due(relist, cycle_start, interval);
        dirty.paths[side].extend(due);
    }
    full
}

/// Every cycle ends with a `cycle` event carrying its metrics (SPEC §12):
/// cycle number `n`, its outcome and the exit code as of it. Returns
/// whether it changed anything (then it is stored in the cycle history).
fn log_cycle_event(
    lp: &Loop<'_>,
    outcome: CycleOutcome,
    exit: i32,
    n: u64,
    cycle_start: Instant,
    trash_purged: u64,
) -> bool {
    let mut c = outcome
        .record
        .unwrap_or_else(|| metrics::cycle_record(None, None, cycle_start));
    c.duration_ms = u64::try_from(cycle_start.elapsed().as_millis()).unwrap_or(u64::MAX);
    c.started_at = metrics::started_at(cycle_start);
    if exit != 0 {
        c.result = CycleResult::Skipped;
    }
    // Planned nothing for an error of its own (a state DB error): failed.
    if outcome.exit.is_none() && outcome.error.is_some() {
        c.result = CycleResult::Failed;
    }
    let store = c.changes + c.conflicts + c.failed > 0;
    metrics::log_cycle(
        &lp.state,
        &lp.log,
        &c,
        &json!({"cycle": n, "note": outcome.note, "trash_purged": trash_purged, "error": outcome.error}),
        store,
    );
    store
}

/// At start, tells on the console what already waits for the admin (the
/// first cycles say the rest): a guard's refusal remembered from before
/// (not alerted again; the console says when a plan passes), and what
/// needs you. Returns whether a refusal is remembered.
fn tell_waiting(
    cfg: &Config,
    state: &State,
    sides: &Sides,
    console: Console,
    log: &Logger,
) -> bool {
    let s = match crate::status::Status::gather(cfg, state, sides) {
        Ok(s) => s,
        Err(e) => {
            log.warn(
                "error",
                json!({"error": format!("cannot tell what already waits for the admin: {e}")}),
            );
            return false;
        }
    };
    let mut blocked = false;
    for r in &s.health.reasons {
        if let Reason::Blocked { .. } = r {
            blocked = true;
            console.line(&format!("{}: {r}", Health::Blocked.label()));
        }
    }
    let open: Vec<String> = s
        .health
        .reasons
        .iter()
        .filter(|r| r.health() == Health::NeedsYou)
        .map(Reason::short)
        .collect();
    if !open.is_empty() {
        console.line(&format!(
            "{}: {} (see `twinsync status`)",
            Health::NeedsYou.label(),
            open.join(", ")
        ));
    }
    blocked
}

/// Where the background hashing of pairs adopted by metadata stands.
///
/// It goes through them a few at a time (at most 250 ms a cycle, never a
/// whole share at once). A pass over all of them that hashed nothing means
/// what is left cannot be hashed now (too large, changed, unreadable): it
/// then rests until the state changes (a new plan was applied) or ten
/// minutes have passed, so a quiet cycle does not ask the state DB for
/// them again and again.
#[derive(Debug, Default)]
pub(super) struct SpareHashing {
    /// The last key looked at (empty: start over).
    cursor: String,
    /// Pairs hashed since the cursor last started over.
    pass: usize,
    /// The state generation and time when a whole pass hashed nothing.
    rest: Option<(i64, Instant)>,
}

impl SpareHashing {
    const REST: Duration = Duration::from_mins(10);

    /// Whether to hash this cycle, the state being at `generation`.
    fn due(&self, generation: i64, now: Instant) -> bool {
        self.rest
            .is_none_or(|(g, t)| g != generation || now.duration_since(t) >= Self::REST)
    }

    /// Notes a call that hashed `n` pairs and left the cursor where it is.
    fn hashed(&mut self, n: usize, generation: i64, now: Instant) {
        self.rest = None;
        self.pass += n;
        // The cursor is empty again once a pass is through.
        if self.cursor.is_empty() {
            if self.pass == 0 {
                self.rest = Some((generation, now));
            }
            self.pass = 0;
        }
    }
}

/// Spare time: hashes a few pairs adopted by metadata ([`SpareHashing`]).
fn hash_in_spare_time(cfg: &Config, lp: &mut Loop<'_>) {
    let generation = match lp.state.generation() {
        Ok(g) => g,
        Err(e) => {
            lp.log.warn("error", json!({"error": e.to_string()}));
            return;
        }
    };
    if !lp.hashing.due(generation, Instant::now()) {
        return;
    }
    let budget = Duration::from_millis(250);
    match pipeline::hash_adopted(cfg, &lp.sides, &lp.state, &mut lp.hashing.cursor, budget) {
        Ok(n) => lp.hashing.hashed(n, generation, Instant::now()),
        Err(e) => lp.log.warn("error", json!({"error": e.to_string()})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pass that hashed nothing rests the hashing until the state
    /// changes or ten minutes pass; a pass that hashed something does not.
    #[test]
    fn spare_hashing_rests_after_a_pass_that_found_nothing_to_do() {
        let t0 = Instant::now();
        let mut h = SpareHashing::default();
        assert!(h.due(5, t0));
        // A pass in two calls: 3 hashed, then the cursor wraps.
        h.cursor = "a/b".into();
        h.hashed(3, 5, t0);
        h.cursor.clear();
        h.hashed(0, 5, t0);
        assert!(h.due(5, t0), "that pass hashed something: go on");
        // The next pass finds nothing to hash.
        h.hashed(0, 5, t0);
        assert!(!h.due(5, t0 + Duration::from_secs(1)), "rests");
        assert!(
            h.due(6, t0 + Duration::from_secs(1)),
            "a new plan was applied"
        );
        assert!(h.due(5, t0 + SpareHashing::REST), "ten minutes passed");
        // Called again, it starts a fresh pass.
        h.cursor = "x".into();
        h.hashed(0, 5, t0 + SpareHashing::REST);
        assert!(h.due(5, t0 + SpareHashing::REST), "mid-pass: never resting");
    }
}
