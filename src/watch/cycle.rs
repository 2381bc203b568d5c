//! One `watch` cycle and the state the loop keeps between cycles ([`Loop`]):
//! check roots → scan (in full, or the folders events named) → plan →
//! apply the small-file steps → hand the large ones to the lane.
//!
//! A cycle returns what it came to ([`CycleOutcome`]: its metrics, note,
//! exit code, whether something is pending); the loop logs it and keeps
//! the exit code. `Loop` holds only what lasts between cycles.
//!
//! Invariants: an unavailable side pauses syncing (nothing planned, nothing
//! deleted), logged and alerted once per outage; the cached scans are
//! dropped whenever a root was unavailable; a guard refusal is alerted once
//! per streak of refused plans; a state DB error is logged and the cycle
//! tried again soon (never told as a side being unavailable).

use super::SpareHashing;
use super::console::{Console, cycle_lines};
use super::events::{Dirty, Wake, Watchers, start_watcher};
use super::lane::{LargeLane, written_paths};
use crate::apply;
use crate::config::Config;
use crate::exclude::Excluder;
use crate::health::{Health, Reason};
use crate::log::Logger;
use crate::metrics;
use crate::pipeline::{self, PipelineError};
use crate::plan::{Lane, Op, ValidPlan, guard};
use crate::roots::{self, Sides, Unavailable};
use crate::scan::{self, SideScan};
use crate::state::{CycleRecord, State};
use crate::{PerSide, Side};
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
    /// The guard refused every plan since its alert: not alerted again until
    /// a plan passes it.
    pub(super) refused: bool,
    /// Scan problems already logged.
    pub(super) reported: HashSet<String>,
    /// Skipped paths (side, path, why) already logged: each is logged when
    /// a plan first skips it, and again only after it cleared.
    pub(super) skipped_logged: HashSet<(Side, String, String)>,
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
    /// Shared with the dashboard, when it runs.
    pub(super) dash: Option<Arc<crate::dashboard::Shared>>,
    /// When the watch last got something done (its signs of life).
    pub(super) pulse: Option<Arc<super::alive::Pulse>>,
}

/// What one cycle came to: the loop logs it (the `cycle` event), keeps
/// its exit code and decides when to look again.
#[derive(Debug, Default)]
pub(super) struct CycleOutcome {
    /// Metrics of what it planned (and applied); `None`: nothing planned.
    pub(super) record: Option<CycleRecord>,
    /// What the cycle was, when it did not apply (quiet, dry run…).
    pub(super) note: Option<&'static str>,
    /// The exit code it gives: 0, 3 (side unavailable) or 4 (guard).
    /// `None` when it could not tell (a state DB error): the last stands.
    pub(super) exit: Option<i32>,
    /// Something is left for later: scan again soon.
    pub(super) pending: bool,
    /// Why nothing was applied (refused, a side unavailable, an error):
    /// the `error` of the `cycle` event.
    pub(super) error: Option<String>,
}

impl CycleOutcome {
    /// A side is unavailable: nothing planned, looked at again soon.
    fn outage(e: &Unavailable) -> Self {
        Self {
            note: Some("a side is unavailable: nothing planned"),
            exit: Some(3),
            pending: true,
            error: Some(e.to_string()),
            ..Self::default()
        }
    }

    /// Syncing is paused: nothing planned.
    pub(super) fn paused() -> Self {
        Self {
            note: Some("paused: nothing planned (`twinsync resume` or the dashboard)"),
            exit: Some(0),
            ..Self::default()
        }
    }

    /// A safety guard refused the plan.
    fn refused(r: &guard::Refusal) -> Self {
        Self {
            note: Some("refused by a safety guard"),
            exit: Some(4),
            error: Some(format!("refused: {r}")),
            ..Self::default()
        }
    }

    /// A plan was made (and perhaps applied): its metrics.
    fn planned(record: CycleRecord, pending: bool) -> Self {
        Self {
            record: Some(record),
            exit: Some(0),
            pending,
            ..Self::default()
        }
    }
}

impl Loop<'_> {
    /// A cycle with no event and nothing pending: no scan, but the roots
    /// are still checked, so an unplugged drive is noticed (and a remount
    /// re-watched) without waiting for events.
    pub(super) fn quiet_cycle(&mut self) -> CycleOutcome {
        match self.check_roots() {
            // Still blocked after a guard's refusal: nothing changed
            // that could make the next plan pass.
            Ok(()) if self.refused => CycleOutcome {
                note: Some("blocked by a safety guard: quiet, nothing planned"),
                exit: Some(4),
                error: Some(match guard::remembered(&self.state) {
                    Ok(Some(r)) => format!("refused: {r}"),
                    _ => "refused by a safety guard (see `twinsync status`)".into(),
                }),
                ..CycleOutcome::default()
            },
            Ok(()) => CycleOutcome {
                note: Some("quiet: no events, nothing pending; no scan"),
                exit: Some(0),
                ..CycleOutcome::default()
            },
            Err(e) => self.stopped_by(e),
        }
    }

    /// A cycle that scans (in full where `full` says so, else the folders
    /// the events in `dirty` named), plans and applies. `pending`: the last
    /// cycle left something for later (then everything is planned).
    pub(super) fn busy_cycle(
        &mut self,
        dry_run: bool,
        full: PerSide<bool>,
        dirty: &mut Dirty,
        pending: bool,
    ) -> CycleOutcome {
        for side in Side::BOTH {
            let w = std::mem::take(&mut self.written[side]);
            dirty.paths[side].extend(w);
        }
        // Incremental scans after a cycle that left nothing pending: plan
        // only what the events named (O(changes), not O(tree)).
        let hold = self.hold();
        // After a guard's refusal, plan everything: a scoped plan would
        // not see the refused deletes and would read as "passed".
        let mut scope = (!full.left && !full.right && !pending && !self.refused)
            .then(|| {
                dirty
                    .paths
                    .values()
                    .flatten()
                    .map(|p| crate::paths::key_of(p, self.cfg.case_sensitive))
                    .collect::<Vec<String>>()
            })
            .and_then(|keys| self.scope_roots(keys, &hold));
        match self.scans(full, &dirty.paths, &mut scope) {
            Ok(scans) => self.cycle(dry_run, Some(scans), scope, &hold),
            Err(e) => self.stopped_by(e),
        }
    }

    /// A cycle that planned nothing: a side unavailable, a guard refused,
    /// or a state DB error (logged; looked at again soon).
    fn stopped_by(&mut self, e: PipelineError) -> CycleOutcome {
        match e {
            PipelineError::Unavailable(u) => self.note_outage(&u),
            PipelineError::Guard(r) => self.refuse(&r),
            PipelineError::State(e) => {
                self.log.error("error", json!({"error": e.to_string()}));
                CycleOutcome {
                    pending: true,
                    error: Some(e.to_string()),
                    ..CycleOutcome::default()
                }
            }
        }
    }

    /// Applies the small steps now and hands the large ones to the lane.
    /// (The delete guard was checked when the plan was made.) Returns
    /// whether something is pending and, when the run ended, its metrics.
    pub(super) fn execute(
        &mut self,
        plan: ValidPlan,
        started: Instant,
    ) -> (bool, Option<CycleRecord>) {
        if let Err(e) = apply::admit(
            &plan,
            self.cfg,
            &self.sides,
            &mut self.state,
            apply::Overrides::GUARDS_CHECKED,
        ) {
            self.log.error(
                "error",
                json!({"error": e.to_string(), "plan_id": plan.plan_id}),
            );
            return (false, None);
        }
        // Logged, noted for the verdict and alerted there; copies go on.
        for short in apply::space::check(&plan, self.cfg, &self.sides, &self.state, &self.log) {
            if short.new {
                self.console
                    .line(&format!("{}: {short}", Health::NeedsYou.label()));
            }
        }
        let plan = Arc::new(plan);
        let small = |op: &Op| op.lane() != Lane::Large;
        let on_event =
            |op: &Op, ev: apply::StepEvent<'_>| apply::alert::enqueue_step(self.cfg, op, ev);
        // Bars on a terminal (the service has none).
        let bars = crate::terminal::Bars::on_terminal();
        // ...and the dashboard's copies in flight.
        let shown = crate::dashboard::Tee(
            bars.as_ref().map(|b| b as &dyn apply::Progress),
            self.dash.as_deref().map(|d| d as &dyn apply::Progress),
        );
        // ...and the watch's signs of life.
        let progress = crate::dashboard::Tee(
            Some(&shown),
            self.pulse.as_deref().map(|p| p as &dyn apply::Progress),
        );
        let opts = apply::Options {
            filter: Some(&small),
            stop: Some(&self.stop),
            on_event: Some(&on_event),
            progress: Some(&progress),
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
        let done = self.state.step_status(&plan.plan_id).unwrap_or_else(|e| {
            // Every large step is then handed over; one done already is
            // recognised on disk (recovered), never done twice.
            self.log.error(
                "error",
                json!({"error": format!("cannot read which steps are done: {e}"), "plan_id": plan.plan_id}),
            );
            std::collections::HashMap::new()
        });
        let mut record = None;
        let pending = match res {
            Ok(report) => {
                record = Some(metrics::cycle_record(Some(&plan), Some(&report), started));
                // One line per direction of a cycle that did something
                // (nothing for records of unchanged files). The journal rows
                // of a finished plan are gone: the report says what succeeded.
                // By step, not by path: a step skipped beside a done one
                // on the same path (a conflict's) is not told as done.
                let ok: HashSet<u64> = report.ok_ids.iter().copied().collect();
                let did: Vec<&Op> = plan
                    .ops
                    .iter()
                    .filter(|o| o.lane() != Lane::Large && ok.contains(&o.id))
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
        (pending, record)
    }

    /// At a cycle boundary: what the dashboard asked for. A forced plan to
    /// review is made (scanning both sides, with the guards overridden) and
    /// put on offer; an approved one is applied, as `apply --force` would,
    /// if nothing was applied since it was made (else it is refused as
    /// stale and must be reviewed again).
    pub(super) fn dashboard_requests(&mut self) {
        let Some(dash) = self.dash.clone() else {
            return;
        };
        if dash.take_preview_wanted() {
            let hold = self.hold();
            let req = pipeline::PlanRequest {
                now_ns: crate::now_ns(),
                hold: Some(&hold),
                forced: true,
                ..pipeline::PlanRequest::default()
            };
            match pipeline::make_plan(self.cfg, &self.sides, &self.state, req) {
                Ok((plan, _)) => {
                    let view = crate::plan::render::View {
                        width: 140,
                        limit: Some(500),
                        // Never "No changes" while something needs the admin.
                        open: crate::status::Status::gather(self.cfg, &self.state, &self.sides)
                            .ok()
                            .and_then(|s| s.health.open_items()),
                        ..crate::plan::render::View::default()
                    };
                    let text = crate::plan::render::render(&plan, &view);
                    dash.set_offer(Some(crate::dashboard::live::Offer { plan, text }));
                }
                Err(e) => dash.note(format!("cannot make the forced plan: {e}")),
            }
        }
        let Some(plan) = dash.take_approved() else {
            return;
        };
        let id = plan.plan_id.clone();
        if self
            .state
            .generation()
            .is_ok_and(|g| g != plan.base_generation)
        {
            dash.note(format!(
                "forced plan {id} not applied: another plan was applied since it was made; review it again"
            ));
            return;
        }
        match plan.validated() {
            Ok(plan) => {
                self.log.info(
                    "action",
                    json!({"actor": "dashboard", "action": "override", "plan_id": id, "note": "applying the forced plan"}),
                );
                let (_, record) = self.execute(plan, Instant::now());
                if record.is_some() {
                    self.passed_guards();
                    dash.note(format!("forced plan {id} applied"));
                } else {
                    dash.note(format!("forced plan {id} was not applied: see the log"));
                }
            }
            Err(e) => dash.note(format!("forced plan {id}: {e}")),
        }
    }

    /// Resumes plans a crash or stop left unfinished.
    pub(super) fn resume(&mut self) {
        // Superseded unfinished plans are re-planned, not resumed (what they
        // did before they stopped is recorded first); the others finish.
        match apply::resumable(&mut self.state, self.cfg, &self.sides, &self.log) {
            Ok(plans) => {
                for plan in plans {
                    // Its outcome shows in the journal and the log; the
                    // first cycle's event is about that cycle.
                    let _ = self.execute(plan, Instant::now());
                }
            }
            Err(e) => self.log.error("error", json!({"error": e.to_string()})),
        }
    }

    /// A side is unavailable: told on the console and in the log once per
    /// outage of this process; alerted once per outage as the state DB
    /// remembers it ([`pipeline::note_side`]), so a restarted `watch`, or
    /// an `apply` that saw it first, does not alert again.
    pub(super) fn note_outage(&mut self, e: &Unavailable) -> CycleOutcome {
        // Both sides are walked in full once it is back: events seen during
        // the outage were not applied to the cached scans.
        self.cache = PerSide::default();
        let side = e.side;
        self.note_side(side, Some(e));
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
        }
        CycleOutcome::outage(e)
    }

    /// Queues an alert (the mailer thread sends it); a state DB error
    /// doing so is logged.
    fn alert(&self, kind: &str, subject: &str, body: &str) {
        if let Err(e) = crate::alert::try_enqueue(&self.state, kind, subject, body) {
            self.log.error(
                "error",
                json!({"error": format!("cannot queue the alert `{subject}`: {e}")}),
            );
        }
    }

    /// Notes (for the health verdict and the alert) that a side is
    /// unavailable, or that it is back; a state DB error doing so is logged.
    fn note_side(&self, side: Side, why: Option<&Unavailable>) {
        if let Err(e) = pipeline::note_side(self.cfg, &self.state, side, why) {
            self.log.error(
                "error",
                json!({"side": side, "error": format!("cannot note the side's availability: {e}")}),
            );
        }
    }

    /// Both sides passed the plan's checks: a side this process saw go is
    /// told back on the console and in the log, and watched afresh. (The
    /// plan noted it available and queued the "recovered" alert, if the
    /// state DB still had the outage: see [`pipeline::note_side`].)
    pub(super) fn note_recovery(&mut self) {
        for side in Side::BOTH {
            self.note_side(side, None);
            if self.outage[side] {
                self.outage[side] = false;
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
            }
        }
    }

    /// The roots and their markers, checked every cycle (a quiet one too).
    pub(super) fn check_roots(&mut self) -> Result<(), PipelineError> {
        let (l_id, r_id) = roots::known_ids(&self.state, &self.sides)?;
        for (side, id) in Side::BOTH.into_iter().zip([&l_id, &r_id]) {
            if let Err(e) = roots::check_root_in(&self.state, self.sides.get(side), side, id) {
                self.cache[side] = None;
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Both sides' scans for this cycle: walked in full where `full` says so,
    /// else the cached scan updated from the event paths. The caches keep
    /// the result for the next cycle. A `scope` is widened to what its plan
    /// must see (see [`pipeline::scoped_scans`]).
    pub(super) fn scans(
        &mut self,
        full: PerSide<bool>,
        events: &PerSide<HashSet<String>>,
        scope: &mut Option<Vec<String>>,
    ) -> Result<PerSide<SideScan>, PipelineError> {
        self.check_roots()?;
        // Items an interrupted case-only rename parked under a temp name go back first.
        // (Not `apply::prepare`: the large-file lane's plan runs on while
        // later cycles finish theirs; it is never abandoned mid-cycle.)
        match apply::recover_parked(&self.state, &self.sides, &self.log) {
            Ok(stuck) => {
                for p in stuck {
                    if self.reported.insert(p.clone()) && self.cfg.raw.email.enabled {
                        self.alert(
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
        // Large copies that cannot resume any more give up their temps.
        apply::sweep_transfers(&self.state, &self.sides, &self.log);
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
                    self.cache[side] = Some(s);
                }
                Err(e) => {
                    self.cache[side] = None;
                    return Err(e.into());
                }
            }
        }
        let (Some(l), Some(r)) = (self.cache.left.as_ref(), self.cache.right.as_ref()) else {
            // Both were just kept: never read a missing scan as empty.
            let u = Unavailable::new(Side::Left, self.sides.left.as_ref(), "its scan was lost");
            return Err(u.into());
        };
        // A scoped plan gets the part it looks at, not a copy of every
        // path's snapshot.
        Ok(match scope.take() {
            Some(roots) => {
                let cs = self.cfg.case_sensitive;
                let suffix = &self.cfg.raw.conflicts.clash_suffix;
                let (roots, scans) = pipeline::scoped_scans(PerSide::new(l, r), roots, suffix, cs);
                *scope = Some(roots);
                scans
            }
            None => PerSide::new(l.clone(), r.clone()),
        })
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
        let extra = self.state.failures().and_then(|failures| {
            let conflicts = self.state.conflicts()?;
            Ok((failures, conflicts))
        });
        match extra {
            Ok((failures, conflicts)) => {
                keys.extend(failures.into_iter().map(|f| f.key));
                keys.extend(conflicts.into_keys());
                Some(pipeline::outermost(keys))
            }
            Err(e) => {
                self.log.error(
                    "error",
                    json!({"error": format!("planning everything: {e}")}),
                );
                None
            }
        }
    }

    /// Keys not to plan: in the large lane, or failing and backing off.
    pub(super) fn hold(&self) -> HashSet<String> {
        let mut h = self.lane.held();
        let now = crate::now_ns() / 1_000_000_000;
        let failures = self.state.failures().unwrap_or_else(|e| {
            // Nothing backs off this cycle: the failing paths are tried again.
            self.log.error("error", json!({"error": e.to_string()}));
            Vec::new()
        });
        for f in failures {
            if f.retry_after > now {
                h.insert(f.key);
            }
        }
        h
    }

    /// A safety guard refused this cycle's plan (exit 4 with `--cycles`).
    pub(super) fn refuse(&mut self, r: &guard::Refusal) -> CycleOutcome {
        // Alerted (and told on the console) once per refusal streak (the
        // mailer thread sends it).
        let alert = !std::mem::replace(&mut self.refused, true);
        guard::report_refusal(self.cfg, &self.state, &self.log, r, alert);
        if alert {
            let reason = Reason::Blocked { refusal: r.clone() };
            self.console
                .line(&format!("{}: {reason}", Health::Blocked.label()));
        }
        CycleOutcome::refused(r)
    }

    /// A plan passed the guards: a refusal streak ends.
    pub(super) fn passed_guards(&mut self) {
        if std::mem::replace(&mut self.refused, false) {
            self.console
                .line("the safety guards pass again: syncing resumed");
        }
        if let Err(e) = guard::forget(&self.state) {
            self.log.error("error", json!({"error": e.to_string()}));
        }
    }

    /// Logs the paths the plan just made skipped that were not skipped
    /// before (see [`apply::log_skipped`]).
    fn log_skipped(&mut self) {
        let now = match self.state.skipped() {
            Ok(now) => now,
            Err(e) => {
                self.log.error("error", json!({"error": e.to_string()}));
                return;
            }
        };
        let key = |k: &crate::state::Skipped| (k.side, k.path.clone(), k.reason.clone());
        apply::log_skipped(
            &self.log,
            now.iter()
                .filter(|k| !self.skipped_logged.contains(&key(k))),
        );
        self.skipped_logged = now.iter().map(key).collect();
    }

    /// Plans from `scans` and applies: what the cycle came to.
    pub(super) fn cycle(
        &mut self,
        dry_run: bool,
        scans: Option<PerSide<SideScan>>,
        scope: Option<Vec<String>>,
        hold: &HashSet<String>,
    ) -> CycleOutcome {
        let started = Instant::now();
        let whole = scope.is_none();
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
        let plan = match pipeline::make_plan(self.cfg, &self.sides, &self.state, req) {
            Ok((plan, _)) => plan,
            Err(e) => return self.stopped_by(e),
        };
        self.note_recovery();
        let planned = metrics::cycle_record(Some(&plan), None, started);
        // Scan problems (invalid names, case collisions, unreadable
        // folders) are logged once each, not every cycle.
        for p in &plan.problems {
            if self.reported.insert(p.clone()) {
                self.log
                    .warn("scan", json!({"result": "skipped", "error": p}));
            }
        }
        self.log_skipped();
        let deferred = plan.summary.deferred > 0;
        if dry_run {
            if plan.summary.has_changes() {
                self.console
                    .line(&format!("dry run: {}", plan.summary.one_line()));
            }
            return CycleOutcome {
                note: Some("dry run: planned, nothing applied"),
                ..CycleOutcome::planned(planned, false)
            };
        }
        if let Some(r) = guard::delete_guard_of(&plan, &self.cfg.raw.safety) {
            return CycleOutcome {
                record: Some(planned),
                ..self.refuse(&r)
            };
        }
        self.passed_guards();
        if plan.ops.is_empty() {
            // Nothing to do is a sync done too (as `apply` notes it).
            if whole && let Err(e) = self.state.mark_synced() {
                self.log.warn("error", json!({"error": e.to_string()}));
            }
            return CycleOutcome::planned(planned, deferred);
        }
        let plan = match plan.validated() {
            Ok(plan) => plan,
            Err(e) => {
                self.log.error("error", json!({"error": e.to_string()}));
                return CycleOutcome::planned(planned, false);
            }
        };
        let (pending, applied) = self.execute(plan, started);
        CycleOutcome::planned(applied.unwrap_or(planned), pending || deferred)
    }
}
