//! What `watch` and the dashboard share while both run ([`Shared`]): the
//! live facts only the running process knows (the cycle in progress, each
//! copy in flight with its bytes), the way to wake the loop, and the
//! requests that wait for the next cycle boundary (a forced plan to show,
//! a forced plan to apply).
//!
//! Invariants: the loop owns the state DB and every step; the dashboard
//! only leaves requests here and reads. A lock is held for a few field
//! updates, never across I/O; a poisoned lock is taken over (the data is
//! plain counters and texts, valid after any panic).

use crate::apply::Progress;
use crate::plan::{Lane, Op, Plan};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::Instant;

/// A copy in flight.
#[derive(Debug, Clone)]
pub struct Copy {
    pub path: String,
    /// The side written (`None` for a step that writes both).
    pub to: Option<crate::Side>,
    pub lane: Lane,
    pub total: u64,
    pub done: u64,
    pub started: Instant,
}

impl Copy {
    /// Bytes per second so far.
    #[must_use]
    pub fn speed(&self, now: Instant) -> f64 {
        let s = now.duration_since(self.started).as_secs_f64();
        if s > 0.0 {
            #[allow(clippy::cast_precision_loss)] // a rate to show
            let done = self.done as f64;
            done / s
        } else {
            0.0
        }
    }

    /// Seconds left at the speed so far (`None` before any byte moved).
    #[must_use]
    pub fn eta_secs(&self, now: Instant) -> Option<u64> {
        let v = self.speed(now);
        #[allow(clippy::cast_precision_loss)]
        let left = self.total.saturating_sub(self.done) as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        (v > 0.0).then(|| (left / v).ceil() as u64)
    }
}

/// The cycle in progress.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub n: u64,
    pub started: Instant,
    /// RFC 3339.
    pub started_at: String,
}

/// A forced plan, computed by the loop, shown before it is applied.
#[derive(Debug, Clone)]
pub struct Offer {
    pub plan: Plan,
    /// The plan as the command line's tables show it.
    pub text: String,
}

#[derive(Default)]
struct Inner {
    cycle: Option<Cycle>,
    copies: HashMap<ThreadId, Copy>,
    wake: Option<Box<dyn Fn() + Send>>,
    preview_wanted: bool,
    offer: Option<Offer>,
    apply_forced: Option<String>,
    notes: VecDeque<(String, String)>,
}

/// Shared between `watch` and the dashboard's thread.
#[derive(Default)]
pub struct Shared {
    inner: Mutex<Inner>,
}

/// How many action outcomes the page lists.
const NOTES: usize = 8;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets how the dashboard wakes the loop (an early, full cycle).
    pub fn set_wake(&self, f: Box<dyn Fn() + Send>) {
        self.lock().wake = Some(f);
    }

    /// Wakes the loop: the next cycle starts now and scans both sides.
    pub fn wake(&self) {
        if let Some(f) = &self.lock().wake {
            f();
        }
    }

    /// A cycle starts (`None`: it ended).
    pub fn set_cycle(&self, c: Option<Cycle>) {
        self.lock().cycle = c;
    }

    #[must_use]
    pub fn cycle(&self) -> Option<Cycle> {
        self.lock().cycle.clone()
    }

    /// The copies in flight, largest first.
    #[must_use]
    pub fn copies(&self) -> Vec<Copy> {
        let mut v: Vec<Copy> = self.lock().copies.values().cloned().collect();
        v.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.path.cmp(&b.path)));
        v
    }

    /// Notes the outcome of an action for the page (newest first).
    pub fn note(&self, text: impl Into<String>) {
        let mut g = self.lock();
        g.notes
            .push_front((crate::fmt_time(crate::now_ns()), text.into()));
        g.notes.truncate(NOTES);
    }

    /// Recent action outcomes: (RFC 3339, text), newest first.
    #[must_use]
    pub fn notes(&self) -> Vec<(String, String)> {
        self.lock().notes.iter().cloned().collect()
    }

    /// Asks the loop for a forced plan to show (made at its next cycle boundary).
    pub fn want_preview(&self) {
        let mut g = self.lock();
        g.preview_wanted = true;
        g.offer = None;
    }

    /// For the loop: whether a forced plan to show was asked for (asked once).
    pub fn take_preview_wanted(&self) -> bool {
        std::mem::take(&mut self.lock().preview_wanted)
    }

    /// Whether a forced plan is being prepared.
    #[must_use]
    pub fn preview_pending(&self) -> bool {
        self.lock().preview_wanted
    }

    /// For the loop: the forced plan made for the admin to review.
    pub fn set_offer(&self, o: Option<Offer>) {
        self.lock().offer = o;
    }

    #[must_use]
    pub fn offer(&self) -> Option<Offer> {
        self.lock().offer.clone()
    }

    /// The admin approved the offered plan `plan_id`: returns whether it is
    /// the one on offer (then the loop applies it at its next boundary).
    pub fn approve(&self, plan_id: &str) -> bool {
        let mut g = self.lock();
        if g.offer.as_ref().is_some_and(|o| o.plan.plan_id == plan_id) {
            g.apply_forced = Some(plan_id.to_owned());
            true
        } else {
            false
        }
    }

    /// For the loop: the approved forced plan, taken off offer.
    pub fn take_approved(&self) -> Option<Plan> {
        let mut g = self.lock();
        let id = g.apply_forced.take()?;
        let offer = g.offer.take()?;
        (offer.plan.plan_id == id).then_some(offer.plan)
    }
}

impl Progress for Shared {
    fn step_start(&self, op: &Op) {
        if op.kind() != crate::plan::OpKind::Copy {
            return;
        }
        let c = Copy {
            path: op.path.clone(),
            to: op.side(),
            lane: op.lane(),
            total: op.bytes,
            done: 0,
            started: Instant::now(),
        };
        self.lock().copies.insert(std::thread::current().id(), c);
    }

    fn copied(&self, n: u64) {
        if let Some(c) = self.lock().copies.get_mut(&std::thread::current().id()) {
            c.done = c.done.saturating_add(n);
        }
    }

    fn step_end(&self, _op: &Op) {
        self.lock().copies.remove(&std::thread::current().id());
    }
}

/// Two progress receivers as one (the terminal's bars and the dashboard).
pub struct Tee<'a>(pub Option<&'a dyn Progress>, pub Option<&'a dyn Progress>);

impl Progress for Tee<'_> {
    fn begin(&self, steps: u64, bytes: u64) {
        for p in [self.0, self.1].into_iter().flatten() {
            p.begin(steps, bytes);
        }
    }
    fn step_start(&self, op: &Op) {
        for p in [self.0, self.1].into_iter().flatten() {
            p.step_start(op);
        }
    }
    fn copied(&self, n: u64) {
        for p in [self.0, self.1].into_iter().flatten() {
            p.copied(n);
        }
    }
    fn step_end(&self, op: &Op) {
        for p in [self.0, self.1].into_iter().flatten() {
            p.step_end(op);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Side;
    use crate::plan::OpKind;

    fn op(kind: OpKind, path: &str, bytes: u64) -> Op {
        serde_json::from_value(serde_json::json!({
            "id": 1, "kind": kind.as_str(), "path": path, "key": path, "rule": "6.2.3",
            "reason": "r", "side": Side::Right, "bytes": bytes, "expect": [],
            "from": Side::Left, "src_path": path, "dest_path": path, "props": 0,
            "soft": true, "record": {"left": null, "right": null}
        }))
        .unwrap()
    }

    /// Copies are told apart by the thread that runs them (the small and
    /// the large lane at once), count their bytes, and leave the list
    /// when they end; other steps are not copies.
    #[test]
    fn copies_in_flight_are_tracked_per_thread() {
        let s = Shared::default();
        let big = op(OpKind::Copy, "big.mov", 1000);
        s.step_start(&big);
        s.copied(400);
        std::thread::scope(|t| {
            t.spawn(|| {
                let small = op(OpKind::Copy, "a.txt", 10);
                s.step_start(&small);
                s.copied(10);
                let c = s.copies();
                assert_eq!(c.len(), 2);
                assert_eq!((c[1].path.as_str(), c[1].done), ("a.txt", 10));
                s.step_end(&small);
            });
        });
        s.step_start(&op(OpKind::Delete, "gone.txt", 5));
        s.copied(100);
        let c = s.copies();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(
            (c[0].path.as_str(), c[0].done, c[0].total),
            ("big.mov", 500, 1000)
        );
        assert_eq!(c[0].to, Some(Side::Right));
        s.step_end(&big);
        assert!(s.copies().is_empty());
    }

    /// A forced plan is applied only once approved by its id, and once.
    #[test]
    fn only_the_offered_plan_is_approved_once() {
        let s = Shared::default();
        s.want_preview();
        assert!(s.preview_pending());
        assert!(s.take_preview_wanted());
        assert!(!s.take_preview_wanted());
        let plan = Plan {
            format_version: 1,
            tool_version: String::new(),
            plan_id: "p1".into(),
            created_at: String::new(),
            left_root: String::new(),
            right_root: String::new(),
            left_root_id: String::new(),
            right_root_id: String::new(),
            base_generation: 0,
            forced: true,
            config: crate::plan::PlanConfig::default(),
            summary: crate::plan::Summary::default(),
            ops: Vec::new(),
            problems: Vec::new(),
        };
        assert!(!s.approve("p1"), "nothing on offer");
        s.set_offer(Some(Offer {
            plan,
            text: String::new(),
        }));
        assert!(!s.approve("p2"));
        assert!(s.take_approved().is_none());
        assert!(s.approve("p1"));
        assert_eq!(s.take_approved().map(|p| p.plan_id), Some("p1".into()));
        assert!(s.take_approved().is_none(), "once");
        assert!(s.offer().is_none());
    }
}
