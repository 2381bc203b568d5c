//! One `watch` cycle and the state the loop keeps between cycles ([`Loop`]):
//! check roots → scan (in full, or the folders events named) → plan →
//! apply the small-file steps → hand the large ones to the lane.
//!
//! Invariants: an unavailable side pauses syncing (nothing planned, nothing
//! deleted), logged and alerted once per outage; the cached scans are
//! dropped whenever a root was unavailable; a guard refusal is alerted once
//! per streak of refused plans.

use super::SpareHashing;
use super::console::{Console, cycle_lines};
use super::events::{Wake, Watchers, start_watcher};
use super::lane::{LargeLane, written_paths};
use crate::apply;
use crate::config::Config;
use crate::exclude::Excluder;
use crate::health::{Health, Reason};
use crate::log::Logger;
use crate::metrics;
use crate::pipeline::{self, PipelineError};
use crate::plan::{Lane, Op, Plan, ValidPlan, guard};
use crate::roots::{self, RootError, Sides, Unavailable};
use crate::scan::{self, SideScan};
use crate::state::State;
use crate::{PerSide, PlanStatus, Side};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

/// Everything one `watch` run keeps between cycles.
pub(super) struct Loop<'a> {
    pub(super) cfg: &'a Config,
    pub(super) sides: Sides,
    pub(super) state: State,
    pub(super) log: Arc<Logger>,
    pub(super) console: Console,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) lane: LargeLane,
    pub(super) outage: PerSide<bool>,
    pub(super) watchers: Watchers,
    pub(super) tx: Sender<Wake>,
    pub(super) poll_only: bool,
    /// Metrics of the current cycle's apply, if it applied anything.
    pub(super) last: Option<crate::state::CycleRecord>,
    /// What the current cycle was, when it did not apply (quiet, dry run…).
    pub(super) note: Option<&'static str>,
    /// Exit code the last cycle would give: 0, 3 (side unavailable) or 4 (guard).
    pub(super) exit: i32,
    /// The guard refused every plan since its alert: not alerted again until
    /// a plan passes it.
    pub(super) refused: bool,
    /// Scan problems already logged.
    pub(super) reported: HashSet<String>,
    /// Paths this process wrote since the last scan (re-listed next cycle).
    pub(super) written: PerSide<HashSet<String>>,
    /// Each side's last scan, kept up to date from watcher events.
    pub(super) cache: PerSide<Option<SideScan>>,
    pub(super) last_full: PerSide<Option<Instant>>,
    /// The background hashing of adopted pairs.
    pub(super) hashing: SpareHashing,
    /// When to list again what a rescan could not read.
    pub(super) relists: PerSide<super::relist::Relists>,
    pub(super) excluders: PerSide<Excluder>,
}

impl Loop<'_> {
    /// Applies the small steps now and hands the large ones to the lane.
    /// (The delete guard was checked when the plan was made.)
    pub(super) fn execute(&mut self, plan: ValidPlan, started: Instant) -> bool {
        if let Err(e) = apply::admit(&plan, self.cfg, &self.sides, &mut self.state, true) {
            self.log.error(
                "error",
                json!({"error": e.to_string(), "plan_id": plan.plan_id}),
            );
            return false;
        }
        let plan = Arc::new(plan);
        let small = |op: &Op| op.lane() != Lane::Large;
        let on_event = |op: &Op, err: &str| apply::alert::enqueue_step(self.cfg, op, err);
        // Bars on a terminal (the service has none).
        let bars = crate::terminal::Bars::on_terminal();
        let opts = apply::Options {
            filter: Some(&small),
            stop: Some(&self.stop),
            on_event: Some(&on_event),
            progress: bars.as_ref().map(|b| b as &dyn apply::Progress),
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
        drop(bars);
        for (s, p) in plan
            .ops
            .iter()
            .filter(|o| o.lane() != Lane::Large)
            .flat_map(written_paths)
        {
            self.written[s].insert(p);
        }
        let done = self.state.step_status(&plan.plan_id).unwrap_or_default();
        let pending = match res {
            Ok(report) => {
                self.last = Some(metrics::cycle_record(Some(&plan), Some(&report), started));
                // One line per direction of a cycle that did something
                // (nothing for records of unchanged files). The journal rows
                // of a finished plan are gone: the report says what succeeded.
                let ok: HashSet<&str> = report.ok_keys.iter().map(String::as_str).collect();
                let did: Vec<&Op> = plan
                    .ops
                    .iter()
                    .filter(|o| o.lane() != Lane::Large && ok.contains(o.key.as_str()))
                    .filter(|o| !report.failed.iter().any(|f| f.id == o.id))
                    .collect();
                for line in cycle_lines(&did, started.elapsed(), None) {
                    self.console.line(&line);
                }
                report.drifted > 0 || !report.failed.is_empty()
            }
            Err(e) => {
                self.log.error("error", json!({"error": e.to_string()}));
                true
            }
        };
        if !self.stop.load(Ordering::SeqCst) {
            self.lane.submit(&plan, &done);
        }
        pending
    }

    /// Resumes plans a crash or stop left unfinished.
    pub(super) fn resume(&mut self) {
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
                .and_then(|p| p.validated().ok());
            match plan {
                Some(plan) => {
                    self.log.info(
                        "scan",
                        json!({"note": "resuming an unfinished plan", "plan_id": id}),
                    );
                    self.execute(plan, Instant::now());
                }
                None => {
                    let _ = self.state.finish_plan(&id, PlanStatus::Abandoned);
                }
            }
        }
    }

    pub(super) fn note_outage(&mut self, e: &Unavailable) {
        // Both sides are walked in full once it is back: events seen during
        // the outage were not applied to the cached scans.
        self.cache = PerSide::default();
        self.exit = 3;
        self.note = Some("a side is unavailable: nothing planned");
        let side = e.side;
        let _ = self.state.note_unavailable(side, true);
        if !self.outage[side] {
            self.outage[side] = true;
            let reason = Reason::Unavailable {
                side,
                problem: e.why.clone(),
                since: None,
            };
            self.console
                .line(&format!("{}: {reason}", Health::NotSyncing.label()));
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

    pub(super) fn note_recovery(&mut self) {
        for side in Side::BOTH {
            if self.outage[side] {
                self.outage[side] = false;
                let _ = self.state.note_unavailable(side, false);
                self.console
                    .line(&format!("the {side} side is back: syncing again"));
                self.log.info(
                    "unavailable",
                    json!({"side": side, "result": "ok", "note": "side available again"}),
                );
                // The root may be a new folder or a remounted drive: watch it afresh.
                if !self.poll_only {
                    self.watchers.w[side] = None;
                    self.watchers.w[side] = start_watcher(self.cfg, side, &self.tx, &self.log);
                    self.watchers.working[side] = self.watchers.w[side].is_some();
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
    pub(super) fn check_roots(&mut self) -> Result<(), Unavailable> {
        let (l_id, r_id) = roots::known_ids(&self.state, &self.sides).map_err(|e| match e {
            RootError::Unavailable(u) => u,
            RootError::State(s) => {
                Unavailable::new(Side::Left, self.sides.left.as_ref(), s.to_string())
            }
        })?;
        for (side, id) in Side::BOTH.into_iter().zip([&l_id, &r_id]) {
            if let Err(e) = roots::check_root(self.sides.get(side), side, id) {
                self.cache[side] = None;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Both sides' scans for this cycle: walked in full where `full` says so,
    /// else the cached scan updated from the event paths. The caches keep
    /// the result for the next cycle.
    pub(super) fn scans(
        &mut self,
        full: PerSide<bool>,
        events: &PerSide<HashSet<String>>,
        scope: Option<&[String]>,
    ) -> Result<PerSide<SideScan>, Unavailable> {
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
        let mut out: PerSide<SideScan> = PerSide::default();
        for side in Side::BOTH {
            let fs = self.sides.get(side);
            let ex = &self.excluders[side];
            let res = if full[side] || self.cache[side].is_none() {
                scan::scan_side(fs, side, ex, self.cfg.case_sensitive, &|_| {})
                    .inspect(|_| self.last_full[side] = Some(Instant::now()))
            } else {
                let mut c = self.cache[side].take().unwrap_or_default();
                scan::rescan_dirs(fs, side, ex, self.cfg.case_sensitive, &mut c, &events[side])
                    .map(|()| c)
            };
            match res {
                Ok(mut s) => {
                    let removed = apply::sweep_scan(&self.state, fs, side, &s, &self.log);
                    // Swept once, not again every cycle.
                    s.temps.retain(|(p, _)| !removed.contains(p));
                    self.log.info(
                        "scan",
                        json!({"side": side, "mode": if full[side] { "full" } else { "incremental" },
                               "paths": events[side].len(), "files_scanned": s.entries.len()}),
                    );
                    // A scoped plan gets the part it looks at, not a copy
                    // of every path's snapshot.
                    out[side] = match scope {
                        Some(roots) => s.subset(roots),
                        None => s.clone(),
                    };
                    self.cache[side] = Some(s);
                }
                Err(e) => {
                    self.cache[side] = None;
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// The scope of a plan of only what the events named (`keys`): with the
    /// paths that failed and the unresolved conflicts, reduced to outermost
    /// keys. `None` (plan everything) while anything is held or backing off.
    pub(super) fn scope_roots(
        &self,
        keys: Vec<String>,
        hold: &HashSet<String>,
    ) -> Option<Vec<String>> {
        if !hold.is_empty() {
            return None;
        }
        let mut keys = keys;
        keys.extend(self.state.failures().ok()?.into_iter().map(|f| f.key));
        keys.extend(self.state.conflicts().ok()?.into_keys());
        Some(pipeline::outermost(keys))
    }

    /// Keys not to plan: in the large lane, or failing and backing off.
    pub(super) fn hold(&self) -> HashSet<String> {
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
    pub(super) fn refuse(&mut self, r: &guard::Refusal) {
        // Alerted (and told on the console) once per refusal streak (the
        // mailer thread sends it).
        let alert = !std::mem::replace(&mut self.refused, true);
        guard::report_refusal(self.cfg, &self.state, &self.log, r, alert);
        if alert {
            let reason = Reason::Blocked { refusal: r.clone() };
            self.console
                .line(&format!("{}: {reason}", Health::Blocked.label()));
        }
        self.note = Some("refused by a safety guard");
        self.exit = 4;
    }

    /// A plan passed the guards: a refusal streak ends.
    fn passed_guards(&mut self) {
        if std::mem::replace(&mut self.refused, false) {
            self.console
                .line("the safety guards pass again: syncing resumed");
        }
        if let Err(e) = guard::forget(&self.state) {
            self.log.error("error", json!({"error": e.to_string()}));
        }
    }

    /// One cycle: returns whether something is pending (scan again soon).
    pub(super) fn cycle(
        &mut self,
        dry_run: bool,
        scans: Option<PerSide<SideScan>>,
        scope: Option<Vec<String>>,
        hold: &HashSet<String>,
    ) -> bool {
        let started = Instant::now();
        let files_now = scope.as_ref().map(|_| {
            PerSide::from_fn(|side| {
                self.cache[side]
                    .as_ref()
                    .map_or(0, |c| c.file_count() as u64)
            })
        });
        let req = pipeline::PlanRequest {
            now_ns: crate::now_ns(),
            hold: Some(hold),
            scans,
            scope,
            files_now,
            ..pipeline::PlanRequest::default()
        };
        match pipeline::make_plan(self.cfg, &self.sides, &self.state, req) {
            Err(PipelineError::Unavailable(e)) => {
                self.note_outage(&e);
                true
            }
            Err(PipelineError::Guard(r)) => {
                self.refuse(&r);
                false
            }
            Err(e) => {
                self.log.error("error", json!({"error": e.to_string()}));
                true
            }
            Ok((plan, _)) => {
                self.note_recovery();
                self.exit = 0;
                self.last = Some(metrics::cycle_record(Some(&plan), None, started));
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
                    if plan.summary.has_changes() {
                        self.console
                            .line(&format!("dry run: {}", plan.summary.one_line()));
                    }
                    self.note = Some("dry run: planned, nothing applied");
                    return false;
                }
                let safety = &self.cfg.raw.safety;
                if let Some(r) = guard::delete_guard(
                    &plan.summary,
                    safety.max_delete_percent,
                    safety.max_delete_min_files,
                ) {
                    self.refuse(&r);
                    return false;
                }
                self.passed_guards();
                if plan.ops.is_empty() {
                    return deferred;
                }
                match plan.validated() {
                    Ok(plan) => self.execute(plan, started) || deferred,
                    Err(e) => {
                        self.log.error("error", json!({"error": e.to_string()}));
                        false
                    }
                }
            }
        }
    }
}
