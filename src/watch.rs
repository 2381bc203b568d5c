//! `watch`: plan + apply every `sync_interval_seconds` (SPEC §9), and the
//! Windows service wrapper around it.
//!
//! Each cycle: check roots → scan → plan → apply small-file steps → hand
//! large-file steps to the large-file lane → report.
//!
//! - **Watchers** (`notify`: ReadDirectoryChangesW / inotify) wake a cycle
//!   early, after a short debounce, for events that are not excluded. With
//!   a working watcher on both sides a *quiet* cycle (no event, nothing
//!   pending) does not scan at all, so its cost does not grow with the tree;
//!   a full scan still runs at start and every `full_scan_interval_seconds`
//!   (watchers miss events; cloud drives may send none). A side whose watcher
//!   fails is polled: scanned every cycle (logged once).
//! - **Large-file lane**: copies above `large_file_bytes` run on a background
//!   thread with its own state connection while later cycles keep syncing
//!   small files; their paths are held out of new plans until done. Their
//!   plan stays `running` in the journal, so a restart resumes them.
//! - **Outages**: an unavailable side pauses syncing (nothing planned,
//!   nothing deleted), is logged and alerted once, retried every cycle.
//! - **Stop** (Ctrl-C, SIGTERM, service stop): the small step in progress
//!   finishes and is recorded; a large copy in progress is abandoned (its
//!   temp file removed, redone after the restart); exit 0.

use crate::Side;
use crate::apply;
use crate::cli::{CliError, ServiceAction};
use crate::config::Config;
use crate::log::Logger;
use crate::plan::{Lane, Op, Plan};
use crate::scan::SideScan;
use crate::state::State;
use crate::sync::{self, Sides, SyncError};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// Installs Ctrl-C / SIGTERM handling that sets `stop`.
fn install_stop(stop: &Arc<AtomicBool>) {
    let s = Arc::clone(stop);
    let _ = ctrlc::set_handler(move || s.store(true, Ordering::SeqCst));
}

/// What woke the loop.
enum Wake {
    /// File-system events on a side, with the relative paths they named.
    Event(Side, Vec<String>),
    /// A watcher reported an error (overflow…): rescan that side fully.
    Overflow(Side),
    /// The large-file lane finished a batch: its keys, and the paths it wrote.
    LaneDone(Vec<String>, Vec<(Side, String)>),
}

/// File-system watchers on both roots.
struct Watchers {
    w: [Option<notify::RecommendedWatcher>; 2],
    working: [bool; 2],
}

/// Starts the watcher of one root; `None` (logged) where none can be set up.
fn start_watcher(
    cfg: &Config,
    side: Side,
    tx: &Sender<Wake>,
    log: &Logger,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let root = cfg.root(side).to_path_buf();
    let ex = sync::excluder(cfg, side).ok()?;
    let tx = tx.clone();
    let root2 = root.clone();
    let handler = move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            if ev.need_rescan() {
                let _ = tx.send(Wake::Overflow(side));
                return;
            }
            let rels: Vec<String> = ev
                .paths
                .iter()
                .filter_map(|p| p.strip_prefix(&root2).ok())
                .map(|rel| rel.to_string_lossy().replace('\\', "/"))
                .filter(|rel| !rel.is_empty() && !ex.is_excluded(rel, false))
                .collect();
            if !rels.is_empty() {
                let _ = tx.send(Wake::Event(side, rels));
            }
        }
        Err(_) => {
            let _ = tx.send(Wake::Overflow(side));
        }
    };
    match notify::recommended_watcher(handler)
        .and_then(|mut w| w.watch(&root, notify::RecursiveMode::Recursive).map(|()| w))
    {
        Ok(w) => Some(w),
        Err(e) => {
            log.warn(
                "scan",
                json!({"side": side, "note": "no file-system watcher on this side: polling it (a full scan every cycle)", "error": e.to_string()}),
            );
            None
        }
    }
}

fn start_watchers(cfg: &Config, tx: &Sender<Wake>, log: &Logger) -> Watchers {
    let w = [
        start_watcher(cfg, Side::Left, tx, log),
        start_watcher(cfg, Side::Right, tx, log),
    ];
    let working = [w[0].is_some(), w[1].is_some()];
    Watchers { w, working }
}

/// The large-file lane: a worker thread applying the large steps of plans.
struct LargeLane {
    tx: Option<Sender<(Arc<Plan>, Vec<u64>)>>,
    /// Keys in flight: owned by the loop, changed only between cycles.
    held: HashSet<String>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl LargeLane {
    fn start(
        cfg: &Config,
        sides: &Sides,
        stop: &Arc<AtomicBool>,
        wake: Sender<Wake>,
        log: Arc<Logger>,
    ) -> Self {
        let (tx, rx) = channel::<(Arc<Plan>, Vec<u64>)>();
        let (cfg, sides, stop) = (cfg.clone(), sides.clone(), Arc::clone(stop));
        let handle = std::thread::spawn(move || {
            let mut state: Option<State> = None;
            let mut db_alerted = false;
            while let Ok((plan, ids)) = rx.recv() {
                let ids: HashSet<u64> = ids.into_iter().collect();
                let keys: Vec<String> = plan
                    .ops
                    .iter()
                    .filter(|o| ids.contains(&o.id))
                    .map(|o| o.key.clone())
                    .collect();
                if state.is_none() {
                    match State::open(&cfg.state_db) {
                        Ok(s) => state = Some(s),
                        Err(e) => {
                            // Never die silently holding paths: log, alert, release them
                            // (the next cycle plans them again and hands them back).
                            log.error("error", json!({"lane": "large", "result": "failed", "error": format!("the large-file lane cannot open the state DB: {e}")}));
                            if !db_alerted
                                && cfg.raw.email.enabled
                                && let Ok(s) = State::open(&cfg.state_db)
                            {
                                crate::alert::enqueue(
                                    &s,
                                    "failure",
                                    "large-file lane stopped",
                                    &e.to_string(),
                                );
                            }
                            db_alerted = true;
                            let _ = wake.send(Wake::LaneDone(keys, Vec::new()));
                            continue;
                        }
                    }
                }
                let Some(state) = state.as_mut() else {
                    continue;
                };
                let filter = |op: &Op| ids.contains(&op.id);
                let on_event = |op: &Op, err: &str| crate::alert::enqueue_step(&cfg, op, err);
                let opts = apply::Options {
                    filter: Some(&filter),
                    stop: Some(&stop),
                    on_event: Some(&on_event),
                    ..apply::Options::default()
                };
                let started = Instant::now();
                let res = apply::run(&plan, &cfg, &sides, state, &log, &opts);
                let mut c = crate::cli::cycle_record(Some(&plan), res.as_ref().ok(), started);
                let extra = match &res {
                    Ok(_) => json!({"lane": "large"}),
                    Err(e) => {
                        c.result = "skipped".into();
                        json!({"lane": "large", "error": e.to_string()})
                    }
                };
                crate::cli::log_cycle(state, &log, &c, &extra, true);
                let written = plan
                    .ops
                    .iter()
                    .filter(|o| ids.contains(&o.id))
                    .flat_map(written_paths)
                    .collect();
                // The loop releases the keys itself, between cycles: a plan never
                // compares a scan older than this commit with the state it made.
                let _ = wake.send(Wake::LaneDone(keys, written));
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
        });
        Self {
            tx: Some(tx),
            held: HashSet::new(),
            handle: Some(handle),
        }
    }

    fn held(&self) -> HashSet<String> {
        self.held.clone()
    }

    /// Frees keys the lane finished (called between cycles only).
    fn release(&mut self, keys: &[String]) {
        for k in keys {
            self.held.remove(k);
        }
    }

    /// Hands the large steps of a plan over; returns how many.
    fn submit(&mut self, plan: &Arc<Plan>, done: &std::collections::HashMap<u64, String>) -> usize {
        let ids: Vec<u64> = plan
            .ops
            .iter()
            .filter(|o| o.lane == Lane::Large && !done.contains_key(&o.id))
            .map(|o| o.id)
            .collect();
        if ids.is_empty() {
            return 0;
        }
        for op in plan.ops.iter().filter(|o| ids.contains(&o.id)) {
            self.held.insert(op.key.clone());
        }
        let n = ids.len();
        if let Some(tx) = &self.tx {
            let _ = tx.send((Arc::clone(plan), ids));
        }
        n
    }

    fn shutdown(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Everything one `watch` run keeps between cycles.
struct Loop<'a> {
    cfg: &'a Config,
    sides: Sides,
    state: State,
    log: Arc<Logger>,
    stop: Arc<AtomicBool>,
    lane: LargeLane,
    outage: [bool; 2],
    watchers: Watchers,
    tx: Sender<Wake>,
    poll_only: bool,
    /// Metrics of the current cycle's apply, if it applied anything.
    last: Option<crate::state::CycleRecord>,
    /// What the current cycle was, when it did not apply (quiet, dry run…).
    note: Option<&'static str>,
    /// Exit code the last cycle would give: 0, 3 (side unavailable) or 4 (guard).
    exit: i32,
    /// The guard refused every plan since its alert: not alerted again until
    /// a plan passes it.
    refused: bool,
    /// Scan problems already logged.
    reported: HashSet<String>,
    /// Paths this process wrote since the last scan (re-listed next cycle).
    written: [HashSet<String>; 2],
    /// Each side's last scan, kept up to date from watcher events.
    cache: [Option<SideScan>; 2],
    last_full: [Option<Instant>; 2],
    /// Where the background hashing of adopted pairs goes on next.
    hash_cursor: String,
    excluders: [crate::scan::Excluder; 2],
}

impl Loop<'_> {
    /// Applies the small steps now and hands the large ones to the lane.
    /// (The delete guard was checked when the plan was made.)
    fn execute(&mut self, plan: Plan, started: Instant) -> bool {
        if let Err(e) = apply::admit(&plan, self.cfg, &self.sides, &mut self.state, true) {
            self.log.error(
                "error",
                json!({"error": e.to_string(), "plan_id": plan.plan_id}),
            );
            return false;
        }
        let plan = Arc::new(plan);
        let small = |op: &Op| op.lane != Lane::Large;
        let on_event = |op: &Op, err: &str| crate::alert::enqueue_step(self.cfg, op, err);
        let opts = apply::Options {
            filter: Some(&small),
            stop: Some(&self.stop),
            on_event: Some(&on_event),
            ..apply::Options::default()
        };
        let res = apply::run(
            &plan,
            self.cfg,
            &self.sides,
            &mut self.state,
            &self.log,
            &opts,
        );
        for (s, p) in plan
            .ops
            .iter()
            .filter(|o| o.lane != Lane::Large)
            .flat_map(written_paths)
        {
            self.written[usize::from(s == Side::Right)].insert(p);
        }
        let pending = match res {
            Ok(report) => {
                self.last = Some(crate::cli::cycle_record(
                    Some(&plan),
                    Some(&report),
                    started,
                ));
                // One line per cycle that did something (the service has no console; harmless there).
                crate::outln!(
                    "{} {}",
                    chrono::Local::now().format("%H:%M:%S"),
                    report.one_line().replacen("Apply complete", "cycle", 1)
                );
                report.drifted > 0 || !report.failed.is_empty()
            }
            Err(e) => {
                self.log.error("error", json!({"error": e.to_string()}));
                true
            }
        };
        if !self.stop.load(Ordering::SeqCst) {
            let done = self.state.step_status(&plan.plan_id).unwrap_or_default();
            self.lane.submit(&plan, &done);
        }
        pending
    }

    /// Resumes plans a crash or stop left unfinished.
    fn resume(&mut self) {
        // Superseded unfinished plans are re-planned, not resumed; what they
        // did before they stopped is recorded first.
        for id in self.state.superseded_plans().unwrap_or_default() {
            if let Err(e) = apply::abandon(&mut self.state, self.cfg, &self.sides, &self.log, &id) {
                self.log
                    .error("error", json!({"error": e.to_string(), "plan_id": id}));
            }
        }
        let _ = self.state.abandon_superseded_plans();
        for id in self.state.running_plans().unwrap_or_default() {
            let plan = self
                .state
                .plan_json(&id)
                .ok()
                .flatten()
                .and_then(|j| serde_json::from_str::<Plan>(&j).ok())
                .filter(|p| p.validate().is_ok());
            match plan {
                Some(plan) => {
                    self.log.info(
                        "scan",
                        json!({"note": "resuming an unfinished plan", "plan_id": id}),
                    );
                    self.execute(plan, Instant::now());
                }
                None => {
                    let _ = self.state.finish_plan(&id, "abandoned");
                }
            }
        }
    }

    fn note_outage(&mut self, e: &crate::scan::ScanError) {
        // Both sides are walked in full once it is back: events seen during
        // the outage were not applied to the cached scans.
        self.cache = [None, None];
        self.exit = 3;
        self.note = Some("a side is unavailable: nothing planned");
        let crate::scan::ScanError::Unavailable { side, .. } = e else {
            return;
        };
        let i = usize::from(*side == Side::Right);
        if !self.outage[i] {
            self.outage[i] = true;
            self.log.error(
                "unavailable",
                json!({"side": side, "error": e.to_string(), "result": "skipped"}),
            );
            if self.cfg.raw.email.enabled {
                crate::alert::enqueue(
                    &self.state,
                    "unavailable",
                    &format!("{side} side unavailable"),
                    &format!(
                        "{e}\nSyncing is paused until it is back; nothing is deleted meanwhile."
                    ),
                );
            }
        }
    }

    fn note_recovery(&mut self) {
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            if self.outage[i] {
                self.outage[i] = false;
                self.log.info(
                    "unavailable",
                    json!({"side": side, "result": "ok", "note": "side available again"}),
                );
                // The root may be a new folder or a remounted drive: watch it afresh.
                if !self.poll_only {
                    self.watchers.w[i] = None;
                    self.watchers.w[i] = start_watcher(self.cfg, side, &self.tx, &self.log);
                    self.watchers.working[i] = self.watchers.w[i].is_some();
                }
                if self.cfg.raw.email.enabled {
                    crate::alert::enqueue(
                        &self.state,
                        "recovered",
                        &format!("{side} side available again"),
                        "Syncing resumed.",
                    );
                }
            }
        }
    }

    /// The roots and their markers, checked every cycle (a quiet one too).
    fn check_roots(&mut self) -> Result<(), crate::scan::ScanError> {
        let (l_id, r_id) =
            sync::ensure_root_ids(&self.state, &self.sides).map_err(|e| match e {
                SyncError::Scan(s) => s,
                SyncError::State(s) => crate::scan::ScanError::Unavailable {
                    side: Side::Left,
                    root: self.sides.left.root_display(),
                    why: s.to_string(),
                },
                SyncError::Guard(why) => crate::scan::ScanError::Unavailable {
                    side: Side::Left,
                    root: self.sides.left.root_display(),
                    why,
                },
            })?;
        for (i, (side, id)) in Side::BOTH.into_iter().zip([&l_id, &r_id]).enumerate() {
            if let Err(e) = crate::scan::check_root(self.sides.get(side), side, id) {
                self.cache[i] = None;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Both sides' scans for this cycle: walked in full where `full` says so,
    /// else the cached scan updated from the event paths. The caches keep
    /// the result for the next cycle.
    fn scans(
        &mut self,
        full: [bool; 2],
        events: &[HashSet<String>; 2],
    ) -> Result<[SideScan; 2], crate::scan::ScanError> {
        self.check_roots()?;
        // Items an interrupted case-only rename parked under a temp name go back first.
        // (Not `apply::prepare`: the large-file lane's plan runs on while
        // later cycles finish theirs; it is never abandoned mid-cycle.)
        match apply::recover_parked(&self.state, &self.sides, &self.log) {
            Ok(stuck) => {
                for p in stuck {
                    if self.reported.insert(p.clone()) && self.cfg.raw.email.enabled {
                        crate::alert::enqueue(
                            &self.state,
                            "failure",
                            "an item is parked under a temp name",
                            &format!(
                                "{p}\nIt is left alone (nothing is deleted on the other side) until it is put back; twinsync retries every cycle."
                            ),
                        );
                    }
                }
            }
            Err(e) => self.log.error("error", json!({"error": e.to_string()})),
        }
        let mut out: [SideScan; 2] = [SideScan::default(), SideScan::default()];
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let fs = self.sides.get(side);
            let ex = &self.excluders[i];
            let res = if full[i] || self.cache[i].is_none() {
                crate::scan::scan_side(fs, side, ex, self.cfg.case_sensitive, &|_| {})
                    .inspect(|_| self.last_full[i] = Some(Instant::now()))
            } else {
                let mut c = self.cache[i].take().unwrap_or_default();
                crate::scan::rescan_dirs(fs, side, ex, self.cfg.case_sensitive, &mut c, &events[i])
                    .map(|()| c)
            };
            match res {
                Ok(mut s) => {
                    let removed = apply::sweep_scan(&self.state, fs, side, &s, &self.log);
                    // Swept once, not again every cycle.
                    s.temps.retain(|(p, _)| !removed.contains(p));
                    self.log.info(
                        "scan",
                        json!({"side": side, "mode": if full[i] { "full" } else { "incremental" },
                               "paths": events[i].len(), "files_scanned": s.entries.len()}),
                    );
                    out[i] = s.clone();
                    self.cache[i] = Some(s);
                }
                Err(e) => {
                    self.cache[i] = None;
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Keys not to plan: in the large lane, or failing and backing off.
    fn hold(&self) -> HashSet<String> {
        let mut h = self.lane.held();
        let now = crate::now_ns() / 1_000_000_000;
        for f in self.state.failures().unwrap_or_default() {
            if f.retry_after > now {
                h.insert(f.key);
            }
        }
        h
    }

    /// A safety guard refused this cycle's plan (exit 4 with `--cycles`).
    fn refuse(&mut self, why: &str) {
        self.log.error(
            "error",
            json!({"result": "skipped", "reason": "refused by a safety guard", "error": why}),
        );
        // Alerted once per refusal streak (the mailer thread sends it).
        if !std::mem::replace(&mut self.refused, true) {
            crate::alert::enqueue_guard(self.cfg, &self.state, why);
        }
        self.note = Some("refused by a safety guard");
        self.exit = 4;
    }

    /// One cycle: returns whether something is pending (scan again soon).
    fn cycle(&mut self, dry_run: bool, scans: Option<[SideScan; 2]>) -> bool {
        let started = Instant::now();
        let hold = self.hold();
        let req = sync::PlanRequest {
            now_ns: crate::now_ns(),
            hold: Some(&hold),
            scans,
            ..sync::PlanRequest::default()
        };
        match sync::make_plan(self.cfg, &self.sides, &self.state, req) {
            Err(SyncError::Scan(e)) => {
                self.note_outage(&e);
                true
            }
            Err(SyncError::Guard(why)) => {
                self.refuse(&why);
                false
            }
            Err(e) => {
                self.log.error("error", json!({"error": e.to_string()}));
                true
            }
            Ok((plan, _)) => {
                self.note_recovery();
                self.exit = 0;
                self.last = Some(crate::cli::cycle_record(Some(&plan), None, started));
                // Scan problems (invalid names, case collisions, unreadable
                // folders) are logged once each, not every cycle.
                for p in &plan.problems {
                    if self.reported.insert(p.clone()) {
                        self.log
                            .warn("scan", json!({"result": "skipped", "error": p}));
                    }
                }
                let deferred = plan.summary.deferred > 0;
                if dry_run {
                    crate::outln!("{}", plan.summary.one_line());
                    self.note = Some("dry run: planned, nothing applied");
                    return false;
                }
                if let Some(why) = plan.delete_guard(
                    self.cfg.raw.safety.max_delete_percent,
                    self.cfg.raw.safety.max_delete_min_files,
                ) {
                    self.refuse(&why);
                    return false;
                }
                self.refused = false;
                if plan.ops.is_empty() {
                    return deferred;
                }
                self.execute(plan, started) || deferred
            }
        }
    }
}

/// The mailer: sends the outbox from its own thread and state connection,
/// so a slow or dead mail server never delays a sync cycle. Tries every
/// 5 s (the outbox's own backoff and digest window decide what is sent).
fn start_mailer(
    cfg: &Config,
    stop: &Arc<AtomicBool>,
    log: Arc<Logger>,
) -> Option<std::thread::JoinHandle<()>> {
    if !cfg.raw.email.enabled {
        return None;
    }
    let (cfg, stop) = (cfg.clone(), Arc::clone(stop));
    Some(std::thread::spawn(move || {
        let Ok(state) = State::open(&cfg.state_db) else {
            return;
        };
        let digest = i64::try_from(cfg.raw.email.digest_seconds).unwrap_or(60);
        while !stop.load(Ordering::SeqCst) {
            crate::alert::flush_with(&cfg, &state, &log, digest);
            for _ in 0..50 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // Last chance before exiting: what is queued goes out now.
        crate::alert::flush_with(&cfg, &state, &log, 0);
    }))
}

/// The paths a step writes, per side: the next cycle re-lists their folders
/// itself, so the cached scans never depend on the watcher reporting our
/// own writes (a missed event must never look like a deletion).
fn written_paths(op: &Op) -> Vec<(Side, String)> {
    let Some(side) = op.side else {
        return Vec::new();
    };
    op.dest_path
        .iter()
        .chain(op.src_path.iter().filter(|_| {
            matches!(
                op.kind,
                crate::plan::OpKind::Rename | crate::plan::OpKind::Move
            )
        }))
        .map(|p| (side, p.clone()))
        .collect()
}

/// What the events since the last cycle say about each side.
#[derive(Default)]
struct Dirty {
    /// Relative paths named by events.
    paths: [HashSet<String>; 2],
    /// A watcher overflowed or failed: rescan that side fully.
    full: [bool; 2],
    /// The large-file lane finished a batch (its held paths can be planned again).
    lane_done: bool,
    /// Keys the lane finished: released from the hold before the next cycle.
    released: Vec<String>,
}

impl Dirty {
    fn any(&self) -> bool {
        self.full.iter().any(|f| *f) || self.paths.iter().any(|p| !p.is_empty()) || self.lane_done
    }
}

/// Above this many event paths on a side, a full rescan is cheaper.
const MAX_EVENT_PATHS: usize = 2000;

/// Waits for the next cycle: the interval, or events (debounced: until they
/// pause for 300 ms, at most 2 s after the first), or stop.
fn wait(rx: &Receiver<Wake>, stop: &AtomicBool, max: Duration) -> Dirty {
    let mut d = Dirty::default();
    let end = Instant::now() + max;
    let mut first: Option<Instant> = None;
    let mut quiet_until: Option<Instant> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return d;
        }
        let now = Instant::now();
        let deadline = quiet_until.map_or(end, |q| q.min(end));
        if now >= deadline {
            return d;
        }
        let step = (deadline - now).min(Duration::from_millis(100));
        let mut debounce = |now: Instant| {
            let f = *first.get_or_insert(now);
            quiet_until = Some((now + Duration::from_millis(300)).min(f + Duration::from_secs(2)));
        };
        match rx.recv_timeout(step) {
            Ok(Wake::Event(s, paths)) => {
                let i = usize::from(s == Side::Right);
                if d.paths[i].len() + paths.len() > MAX_EVENT_PATHS {
                    d.full[i] = true;
                    d.paths[i].clear();
                } else if !d.full[i] {
                    d.paths[i].extend(paths);
                }
                debounce(Instant::now());
            }
            Ok(Wake::Overflow(s)) => {
                d.full[usize::from(s == Side::Right)] = true;
                debounce(Instant::now());
            }
            Ok(Wake::LaneDone(keys, written)) => {
                d.released.extend(keys);
                for (s, p) in written {
                    d.paths[usize::from(s == Side::Right)].insert(p);
                }
                d.lane_done = true;
                quiet_until = Some(Instant::now());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(step),
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
    // The one logger of this process: the lane and the mailer share it.
    let log = Logger::from_config(cfg);
    log.set_echo(external_stop.is_none());
    let stop = external_stop.unwrap_or_else(|| {
        let s = Arc::new(AtomicBool::new(false));
        install_stop(&s);
        s
    });
    let sides = Sides::real(cfg);
    // Dry runs change nothing and may run beside the service.
    let _lock = if dry_run {
        None
    } else {
        Some(crate::state::RunLock::acquire(&cfg.state_db).map_err(CliError::Other)?)
    };
    let state = State::open_or_create(&cfg.state_db)?;
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
            w: [None, None],
            working: [false, false],
        }
    } else {
        start_watchers(cfg, &tx, &log)
    };
    let lane = LargeLane::start(cfg, &sides, &stop, tx.clone(), Arc::clone(&log));
    let mailer = start_mailer(cfg, &stop, Arc::clone(&log));
    crate::outln!(
        "twinsync watch: syncing {} ⇄ {} every {} s (Ctrl-C to stop); log: {}",
        cfg.left_root.display(),
        cfg.right_root.display(),
        cfg.raw.sync_interval_seconds,
        cfg.log_file.display()
    );
    log.info(
        "scan",
        json!({"note": "watch started", "interval_s": cfg.raw.sync_interval_seconds, "dry_run": dry_run,
               "watchers": {"left": watchers.working[0], "right": watchers.working[1]}}),
    );
    let mut lp = Loop {
        cfg,
        sides,
        state,
        log,
        stop: Arc::clone(&stop),
        lane,
        outage: [false, false],
        reported: HashSet::new(),
        last: None,
        note: None,
        exit: 0,
        refused: false,
        watchers,
        tx: tx.clone(),
        poll_only,
        written: [HashSet::new(), HashSet::new()],
        cache: [None, None],
        last_full: [None, None],
        hash_cursor: String::new(),
        excluders: [
            sync::excluder(cfg, Side::Left).map_err(CliError::Other)?,
            sync::excluder(cfg, Side::Right).map_err(CliError::Other)?,
        ],
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
    let mut dirty = Dirty {
        full: [true, true],
        ..Dirty::default()
    };
    let mut n = 0u64;
    let mut last_purge: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let cycle_start = Instant::now();
        // Per side: a full walk (at start, after a watcher overflow, every
        // full_scan_interval_seconds, or always without a working watcher),
        // else only the folders the events named.
        let full: [bool; 2] = std::array::from_fn(|i| {
            dirty.full[i]
                || !lp.watchers.working[i]
                || lp.cache[i].is_none()
                || lp.last_full[i].is_none_or(|t| t.elapsed() >= full_every)
        });
        let quiet = !full[0]
            && !full[1]
            && !pending
            && !dirty.any()
            && lp.written.iter().all(HashSet::is_empty)
            && !lp.outage.iter().any(|o| *o);
        lp.last = None;
        lp.note = None;
        if quiet {
            // No scan, but the roots are still checked: an unplugged drive
            // is noticed (and a remount re-watched) without waiting for events.
            match lp.check_roots() {
                Ok(()) => {
                    lp.exit = 0;
                    lp.note = Some("quiet: no events, nothing pending; no scan");
                }
                Err(e) => {
                    lp.note_outage(&e);
                    pending = true;
                }
            }
        } else {
            for i in 0..2 {
                let w = std::mem::take(&mut lp.written[i]);
                dirty.paths[i].extend(w);
            }
            pending = match lp.scans(full, &dirty.paths) {
                Ok(scans) => lp.cycle(dry_run, Some(scans)),
                Err(e) => {
                    lp.note_outage(&e);
                    true
                }
            };
        }
        // Every cycle ends with a `cycle` event carrying its metrics (SPEC §12).
        let mut c = lp
            .last
            .take()
            .unwrap_or_else(|| crate::cli::cycle_record(None, None, cycle_start));
        c.duration_ms = u64::try_from(cycle_start.elapsed().as_millis()).unwrap_or(u64::MAX);
        c.started_at = crate::cli::started_at(cycle_start);
        if lp.exit != 0 {
            c.result = "skipped".into();
        }
        let store = c.changes + c.conflicts + c.failed > 0;
        crate::cli::log_cycle(
            &lp.state,
            &lp.log,
            &c,
            &json!({"cycle": n, "note": lp.note}),
            store,
        );
        if cfg.raw.soft_delete.auto_purge
            && last_purge.is_none_or(|t| t.elapsed() > Duration::from_hours(1))
        {
            last_purge = Some(Instant::now());
            let _ = crate::cli::purge(
                cfg,
                &lp.state,
                &lp.sides,
                cfg.raw.soft_delete.retention_days,
                &lp.log,
            );
        }
        // Spare time: hash a few pairs adopted by metadata (never a whole share at once).
        if !pending && !dry_run && lp.exit == 0 {
            let budget = Duration::from_millis(250);
            if let Err(e) =
                sync::hash_adopted(cfg, &lp.sides, &lp.state, &mut lp.hash_cursor, budget)
            {
                lp.log.warn("error", json!({"error": e.to_string()}));
            }
        }
        if cycles.is_some_and(|c| n >= c) {
            break;
        }
        // Something left for later (a file still being written): look again soon.
        // Cycles start every interval (start to start), not interval after the last one ended.
        let next = if pending {
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
    stop.store(true, Ordering::SeqCst);
    lp.lane.shutdown();
    if let Some(m) = mailer {
        let _ = m.join();
    }
    lp.log
        .info("scan", json!({"note": "watch stopped", "cycles": n}));
    // With --cycles (tests, scheduled tasks) the last cycle's outcome is the
    // exit code, as `apply` would give: 3 side unavailable, 4 guard refused.
    Ok(if cycles.is_some() && !stop_requested {
        lp.exit
    } else {
        0
    })
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
