//! The safety guards (SPEC §6 "Safety guards"), each refusing with exit 4
//! unless `--force`:
//! - **mass delete**: a plan deletes more than `max_delete_percent` of a
//!   side's files (and at least `max_delete_min_files`);
//! - **mass change**: more than `max_change_percent` of a side's files (and
//!   at least `max_delete_min_files`) changed content since the last sync,
//!   counted from size and mtime before anything is hashed or copied.
//!
//! The checks are pure and return a typed [`Refusal`] (which guard, the
//! counts, the limit); its `Display` is the one sentence every command,
//! log, alert and health verdict shows, ending with the commands that
//! review and override it. A refusal is logged and alerted through
//! [`report_refusal`], the one path `plan`, `apply` and `watch` share, and
//! remembered in the state DB ([`remember`]) until a plan passes the
//! guards or is forced ([`forget`]): that is what makes `status` say
//! "blocked" after `watch` stopped syncing.
use super::{Plan, Summary};
use crate::config::{Config, Safety};
use crate::log::Logger;
use crate::state::{State, StateError};
use crate::{PerSide, Side};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt::{self, Write as _};

/// Which safety guard refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// Too many deletes on one side (`max_delete_percent`).
    MassDelete,
    /// Too many content changes on one side (`max_change_percent`).
    MassChange,
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MassDelete => "mass-delete guard",
            Self::MassChange => "mass-change guard",
        })
    }
}

/// The commands that review a refused plan and then override the guard
/// once (the same words in every message; `watch --force` does not exist).
pub const OVERRIDE: &str =
    "review it with `twinsync plan`, then override once with `twinsync apply --force`";

/// A guard's refusal: which guard, the counts, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub guard: Guard,
    /// The side whose files would be deleted, or whose files changed.
    pub side: Side,
    /// Files the plan deletes (or that changed) on that side.
    pub count: u64,
    /// Files on that side.
    pub total: u64,
    /// The configured limit, in percent.
    pub limit_percent: u64,
    /// When this guard first refused, of a streak of refusals (RFC 3339,
    /// UTC); empty until [`remember`]ed.
    #[serde(default)]
    pub since: String,
    /// The first few paths (at most [`EXAMPLES`]) the refused plan deletes
    /// on that side, or that changed there: what the alert names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// How many paths a refusal's alert names.
pub const EXAMPLES: usize = 5;

impl Refusal {
    /// The alert of this refusal: its sentence, then the counts and the
    /// first few paths it is about.
    #[must_use]
    pub fn alert_body(&self) -> String {
        let what = match self.guard {
            Guard::MassDelete => "would be deleted",
            Guard::MassChange => "changed content since the last sync",
        };
        let mut body = format!(
            "Refused by the {}: {self}\n\nSide: {}\nFiles that {what}: {} of {} ({}% limit)\n",
            self.guard, self.side, self.count, self.total, self.limit_percent
        );
        if !self.examples.is_empty() {
            let more = self.count.saturating_sub(self.examples.len() as u64);
            let _ = writeln!(body, "First of them:\n  {}", self.examples.join("\n  "));
            if more > 0 {
                let _ = writeln!(body, "  … and {more} more");
            }
        }
        body.push_str(
            "\nNothing was synced; the refusal holds until a plan passes the guards or is forced.",
        );
        body
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            count: n,
            total,
            side,
            limit_percent: pct,
            ..
        } = self;
        match self.guard {
            Guard::MassDelete => write!(
                f,
                "the plan deletes {n} of {} on the {side} side (over the {pct}% limit of [safety] max_delete_percent); \
                 check that both roots are the right folders; if the deletes are intended, {OVERRIDE}",
                crate::human::plural(*total, "file", "files")
            ),
            Guard::MassChange => write!(
                f,
                "{n} of {} on the {side} side changed content since the last sync (over the {pct}% limit of [safety] max_change_percent); \
                 nothing was hashed or copied. Check what rewrote them (a cloud client re-stamping files, ransomware); if the changes are intended, {OVERRIDE}",
                crate::human::plural(*total, "file", "files")
            ),
        }
    }
}

/// The state DB's `meta` key of the remembered refusal.
const META_KEY: &str = "guard_refusal";

/// Remembers a refusal in the state DB (until [`forget`]): the first time
/// of a streak of refusals by the same guard is kept as `since`.
///
/// # Errors
/// State DB errors.
pub fn remember(state: &State, r: &Refusal) -> Result<(), StateError> {
    let mut r = r.clone();
    r.since = match remembered(state)? {
        Some(old) if old.guard == r.guard && !old.since.is_empty() => old.since,
        _ => chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    state.set_meta(META_KEY, &serde_json::to_string(&r).unwrap_or_default())
}

/// A plan passed the guards or was forced: no refusal is remembered.
///
/// # Errors
/// State DB errors.
pub fn forget(state: &State) -> Result<(), StateError> {
    if state.meta(META_KEY)?.is_some_and(|v| !v.is_empty()) {
        state.set_meta(META_KEY, "")?;
    }
    Ok(())
}

/// The refusal remembered in the state DB, if any (an unreadable one, from
/// some other build, reads as none).
///
/// # Errors
/// State DB errors.
pub fn remembered(state: &State) -> Result<Option<Refusal>, StateError> {
    Ok(state
        .meta(META_KEY)?
        .and_then(|v| serde_json::from_str::<Refusal>(&v).ok()))
}

/// The mass-delete guard: a refusal when the plan deletes more than
/// `max_percent` of a side's files (and at least `min_files`).
#[must_use]
pub fn delete_guard(s: &Summary, max_percent: u64, min_files: u64) -> Option<Refusal> {
    for (side, n, total) in [
        (Side::Left, s.deletes_left, s.files_left),
        (Side::Right, s.deletes_right, s.files_right),
    ] {
        if n >= min_files.max(1) && n * 100 > max_percent * total.max(1) {
            return Some(Refusal {
                guard: Guard::MassDelete,
                side,
                count: n,
                total,
                limit_percent: max_percent,
                since: String::new(),
                examples: Vec::new(),
            });
        }
    }
    None
}

/// The mass-delete guard over a plan, the refusal naming the first few
/// paths the plan deletes on that side.
#[must_use]
pub fn delete_guard_of(plan: &Plan, safety: &Safety) -> Option<Refusal> {
    let mut r = delete_guard(
        &plan.summary,
        safety.max_delete_percent,
        safety.max_delete_min_files,
    )?;
    r.examples = plan
        .ops
        .iter()
        .filter(|op| {
            op.rule.follows_a_delete()
                && matches!(&op.step, super::Step::Delete(d) if d.side == r.side)
        })
        .take(EXAMPLES)
        .map(|op| op.path.clone())
        .collect();
    Some(r)
}

/// Both guards over a plan as recorded (a saved plan about to be applied):
/// the delete guard first, then the change guard.
#[must_use]
pub fn check_plan(plan: &Plan, safety: &Safety) -> Option<Refusal> {
    let s = &plan.summary;
    delete_guard_of(plan, safety).or_else(|| {
        change_guard(
            PerSide::new(s.changed_left, s.changed_right),
            PerSide::new(s.files_left, s.files_right),
            safety.max_change_percent,
            safety.max_delete_min_files,
        )
    })
}

/// Logs a guard's refusal, remembers it in the state DB (`status` says
/// "blocked" until a plan passes or is forced) and, with `alert`, queues
/// its alert (no network: the caller flushes the outbox, or in `watch` the
/// mailer thread does).
pub fn report_refusal(cfg: &Config, state: &State, log: &Logger, r: &Refusal, alert: bool) {
    let why = r.to_string();
    log.error(
        "error",
        json!({"result": "skipped", "reason": "refused by a safety guard", "guard": r.guard,
               "side": r.side, "error": why}),
    );
    if let Err(e) = remember(state, r) {
        log.error(
            "error",
            json!({"error": format!("cannot remember the guard's refusal: {e}")}),
        );
    }
    if alert {
        crate::alert::enqueue_guard(cfg, state, &r.guard.to_string(), &r.alert_body());
    }
}

/// The mass-change guard: a refusal when more than `max_percent` of a
/// side's files (and at least `min_files`) changed content since the last sync.
#[must_use]
pub fn change_guard(
    changed: PerSide<u64>,
    files: PerSide<u64>,
    max_percent: u64,
    min_files: u64,
) -> Option<Refusal> {
    for side in Side::BOTH {
        let (n, total) = (changed[side], files[side]);
        if n >= min_files.max(1) && n * 100 > max_percent * total.max(1) {
            return Some(Refusal {
                guard: Guard::MassChange,
                side,
                count: n,
                total,
                limit_percent: max_percent,
                since: String::new(),
                examples: Vec::new(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(guard: Guard, count: u64) -> Refusal {
        Refusal {
            guard,
            side: Side::Left,
            count,
            total: 30,
            limit_percent: 50,
            since: String::new(),
            examples: Vec::new(),
        }
    }

    /// Remembered until forgotten; a streak of refusals by one guard keeps
    /// its first time and takes the latest counts; another guard starts anew.
    #[test]
    fn a_refusal_is_remembered_with_its_first_time_until_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let state = State::open_or_create(&d.path().join("s.db")).unwrap();
        assert_eq!(remembered(&state).unwrap(), None);
        remember(&state, &refusal(Guard::MassDelete, 20)).unwrap();
        let first = remembered(&state).unwrap().unwrap();
        assert_eq!(first.count, 20);
        assert!(chrono::DateTime::parse_from_rfc3339(&first.since).is_ok());
        // The same guard again, later: same since, new counts.
        state
            .set_meta(
                META_KEY,
                &serde_json::to_string(&Refusal {
                    since: "2026-01-01T00:00:00Z".into(),
                    ..first
                })
                .unwrap(),
            )
            .unwrap();
        remember(&state, &refusal(Guard::MassDelete, 25)).unwrap();
        let again = remembered(&state).unwrap().unwrap();
        assert_eq!(
            (again.count, again.since.as_str()),
            (25, "2026-01-01T00:00:00Z")
        );
        remember(&state, &refusal(Guard::MassChange, 26)).unwrap();
        let other = remembered(&state).unwrap().unwrap();
        assert_eq!(other.guard, Guard::MassChange);
        assert_ne!(other.since, "2026-01-01T00:00:00Z");
        forget(&state).unwrap();
        assert_eq!(remembered(&state).unwrap(), None);
    }

    #[test]
    fn change_guard_needs_share_and_minimum() {
        assert!(change_guard([0, 0].into(), [100, 100].into(), 50, 20).is_none());
        assert!(
            change_guard([50, 0].into(), [100, 100].into(), 50, 20).is_none(),
            "50% is not over 50%"
        );
        let why = change_guard([0, 51].into(), [100, 100].into(), 50, 20)
            .unwrap()
            .to_string();
        assert!(
            why.contains("right") && why.contains("max_change_percent"),
            "{why}"
        );
        assert!(
            why.contains("`twinsync plan`") && why.contains("`twinsync apply --force`"),
            "names the commands to review and override: {why}"
        );
        assert!(!why.contains("re-run with --force"), "{why}");
        assert!(
            change_guard([19, 0].into(), [20, 20].into(), 50, 20).is_none(),
            "below the minimum count"
        );
        assert!(change_guard([20, 0].into(), [20, 20].into(), 50, 20).is_some());
    }
}
