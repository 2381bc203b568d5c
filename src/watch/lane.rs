//! The large-file lane (SPEC §9): copies above `large_file_bytes` run on a
//! worker thread with its own state connection while later cycles keep
//! syncing small files. The loop holds their keys out of new plans until the
//! lane reports the batch done ([`Wake::LaneDone`]), and releases them only
//! between cycles, so a plan never compares a scan older than the lane's
//! commit with the state after it. Their plan stays `running` in the
//! journal, so a restart resumes them. Each copy is run (and told on the
//! console) on its own, so a finished copy is reported when it finishes,
//! not when the whole batch does.

use super::console::{Console, cycle_lines};
use super::events::Wake;
use crate::apply;
use crate::config::Config;
use crate::log::Logger;
use crate::metrics;
use crate::plan::{Lane, Op, ValidPlan};
use crate::roots::Sides;
use crate::state::State;
use crate::{CycleResult, Side, StepStatus};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::time::Instant;

/// The large-file lane: a worker thread applying the large steps of plans.
pub(super) struct LargeLane {
    tx: Option<Sender<(Arc<ValidPlan>, Vec<u64>)>>,
    /// Keys in flight: owned by the loop, changed only between cycles.
    held: HashSet<String>,
    handle: Option<std::thread::JoinHandle<()>>,
    log: Arc<Logger>,
}

impl LargeLane {
    pub(super) fn start(
        cfg: &Config,
        sides: &Sides,
        stop: &Arc<AtomicBool>,
        wake: Sender<Wake>,
        log: Arc<Logger>,
        console: Console,
        dash: Option<Arc<crate::dashboard::Shared>>,
    ) -> Self {
        let (tx, rx) = channel::<(Arc<ValidPlan>, Vec<u64>)>();
        let (cfg, sides, stop) = (cfg.clone(), sides.clone(), Arc::clone(stop));
        let lane_log = Arc::clone(&log);
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
                            // (The DB that cannot be opened rarely takes an
                            // alert either: that is said in the log too.)
                            if !db_alerted
                                && cfg.raw.email.enabled
                                && let Err(why) = State::open(&cfg.state_db).and_then(|s| {
                                    crate::alert::try_enqueue(
                                        &s,
                                        "failure",
                                        "large-file lane stopped",
                                        &e.to_string(),
                                    )
                                })
                            {
                                log.error("error", json!({"lane": "large", "error": format!("cannot queue the alert: {why}")}));
                            }
                            db_alerted = true;
                            // Nobody listens only once the loop has ended.
                            let _ = wake.send(Wake::LaneDone(keys, Vec::new()));
                            continue;
                        }
                    }
                }
                let Some(state) = state.as_mut() else {
                    continue;
                };
                let on_event =
                    |op: &Op, ev: apply::StepEvent<'_>| apply::alert::enqueue_step(&cfg, op, ev);
                // Byte bars on a terminal, below the small lane's.
                let bars = crate::terminal::Bars::on_terminal();
                // ...and the dashboard's copies in flight.
                let progress = crate::dashboard::Tee(
                    bars.as_ref().map(|b| b as &dyn apply::Progress),
                    dash.as_deref().map(|d| d as &dyn apply::Progress),
                );
                // One step at a time, in plan order: each is logged, recorded
                // and told when it finishes.
                for op in plan.ops.iter().filter(|o| ids.contains(&o.id)) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let filter = |o: &Op| o.id == op.id;
                    let opts = apply::Options {
                        filter: Some(&filter),
                        stop: Some(&stop),
                        on_event: Some(&on_event),
                        progress: Some(&progress),
                        ..apply::Options::default()
                    };
                    let started = Instant::now();
                    let res = apply::run(&plan, &cfg, &sides, state, &log, &opts);
                    let mut c = metrics::cycle_record(Some(&plan), res.as_ref().ok(), started);
                    let extra = match &res {
                        Ok(_) => json!({"lane": "large"}),
                        Err(e) => {
                            c.result = CycleResult::Skipped;
                            json!({"lane": "large", "error": e.to_string()})
                        }
                    };
                    metrics::log_cycle(state, &log, &c, &extra, true);
                    // (A finished plan's journal rows are gone: the report says.)
                    let done = res.as_ref().is_ok_and(|r| r.ok_ids.contains(&op.id));
                    if done {
                        for line in cycle_lines(&[op], started.elapsed(), Some("large-file lane")) {
                            console.line(&line);
                        }
                    }
                    if res.is_err() {
                        break;
                    }
                }
                drop(bars);
                let written = plan
                    .ops
                    .iter()
                    .filter(|o| ids.contains(&o.id))
                    .flat_map(written_paths)
                    .collect();
                // The loop releases the keys itself, between cycles: a plan never
                // compares a scan older than this commit with the state it made.
                // (Nobody listens only once the loop has ended.)
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
            log: lane_log,
        }
    }

    pub(super) fn held(&self) -> HashSet<String> {
        self.held.clone()
    }

    /// Frees keys the lane finished (called between cycles only).
    pub(super) fn release(&mut self, keys: &[String]) {
        for k in keys {
            self.held.remove(k);
        }
    }

    /// Hands the large steps of a plan over; returns how many.
    pub(super) fn submit(
        &mut self,
        plan: &Arc<ValidPlan>,
        done: &std::collections::HashMap<u64, StepStatus>,
    ) -> usize {
        let ids: Vec<u64> = plan
            .ops
            .iter()
            .filter(|o| o.lane() == Lane::Large && !done.contains_key(&o.id))
            .map(|o| o.id)
            .collect();
        if ids.is_empty() {
            return 0;
        }
        let keys: Vec<String> = plan
            .ops
            .iter()
            .filter(|o| ids.contains(&o.id))
            .map(|o| o.key.clone())
            .collect();
        let n = ids.len();
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send((Arc::clone(plan), ids)).is_ok());
        if !sent {
            // The worker is gone (it panicked): the keys are not held, so
            // the next cycles plan them again; their plan stays running in
            // the journal and is resumed at the next start.
            self.log.error(
                "error",
                json!({"lane": "large", "result": "failed",
                       "error": "the large-file lane has stopped: its copies wait for the next start"}),
            );
            return 0;
        }
        self.held.extend(keys);
        n
    }

    pub(super) fn shutdown(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take()
            && h.join().is_err()
        {
            self.log.error(
                "error",
                json!({"lane": "large", "error": "the large-file lane panicked: its copies are resumed at the next start"}),
            );
        }
    }
}

/// The paths a step writes, per side: the next cycle re-lists their folders
/// itself, so the cached scans never depend on the watcher reporting our
/// own writes (a missed event must never look like a deletion).
pub(super) fn written_paths(op: &Op) -> Vec<(Side, String)> {
    let Some(side) = op.side() else {
        return Vec::new();
    };
    op.dest_path()
        .iter()
        .chain(op.src_path().iter().filter(|_| {
            matches!(
                op.kind(),
                crate::plan::OpKind::Rename | crate::plan::OpKind::Move
            )
        }))
        .map(|p| (side, (*p).to_owned()))
        .collect()
}
