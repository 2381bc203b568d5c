//! The safety guards (SPEC §6 "Safety guards"), each refusing with exit 4
//! unless `--force`:
//! - **mass delete**: a plan deletes more than `max_delete_percent` of a
//!   side's files (and at least `max_delete_min_files`);
//! - **mass change**: more than `max_change_percent` of a side's files (and
//!   at least `max_delete_min_files`) changed content since the last sync,
//!   counted from size and mtime before anything is hashed or copied.
//!
//! The checks are pure. A refusal is logged and alerted through
//! [`report_refusal`], the one path `plan`, `apply` and `watch` share.

use super::{Plan, Summary};
use crate::config::{Config, Safety};
use crate::log::Logger;
use crate::state::State;
use crate::{PerSide, Side};
use serde_json::json;

/// The mass-delete guard: `Some(why)` when the plan deletes more than
/// `max_percent` of a side's files (and at least `min_files`).
#[must_use]
pub fn delete_guard(s: &Summary, max_percent: u64, min_files: u64) -> Option<String> {
    for (side, n, total) in [
        (Side::Left, s.deletes_left, s.files_left),
        (Side::Right, s.deletes_right, s.files_right),
    ] {
        if n >= min_files.max(1) && n * 100 > max_percent * total.max(1) {
            return Some(format!(
                "the plan deletes {n} of {total} files on the {side} side (over the {max_percent}% limit of [safety] max_delete_percent); \
                 check that both roots are the right folders, then re-run with --force if this is intended"
            ));
        }
    }
    None
}

/// Both guards over a plan as recorded (a saved plan about to be applied):
/// the delete guard first, then the change guard.
#[must_use]
pub fn check_plan(plan: &Plan, safety: &Safety) -> Option<String> {
    let s = &plan.summary;
    delete_guard(s, safety.max_delete_percent, safety.max_delete_min_files).or_else(|| {
        change_guard(
            PerSide::new(s.changed_left, s.changed_right),
            PerSide::new(s.files_left, s.files_right),
            safety.max_change_percent,
            safety.max_delete_min_files,
        )
    })
}

/// Logs a guard's refusal and, with `alert`, queues its alert (no network:
/// the caller flushes the outbox, or in `watch` the mailer thread does).
pub fn report_refusal(cfg: &Config, state: &State, log: &Logger, why: &str, alert: bool) {
    log.error(
        "error",
        json!({"result": "skipped", "reason": "refused by a safety guard", "error": why}),
    );
    if alert {
        crate::alert::enqueue_guard(cfg, state, why);
    }
}

/// The mass-change guard: `Some(why)` when more than `max_percent` of a
/// side's files (and at least `min_files`) changed content since the last sync.
#[must_use]
pub fn change_guard(
    changed: PerSide<u64>,
    files: PerSide<u64>,
    max_percent: u64,
    min_files: u64,
) -> Option<String> {
    for side in Side::BOTH {
        let (n, total) = (changed[side], files[side]);
        if n >= min_files.max(1) && n * 100 > max_percent * total.max(1) {
            return Some(format!(
                "{n} of {total} files on the {side} side changed content since the last sync (over the {max_percent}% limit of [safety] max_change_percent); \
                 nothing was hashed or copied. Check what rewrote them (a cloud client re-stamping files, ransomware), then re-run with --force if this is intended"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::change_guard;

    #[test]
    fn change_guard_needs_share_and_minimum() {
        assert!(change_guard([0, 0].into(), [100, 100].into(), 50, 20).is_none());
        assert!(
            change_guard([50, 0].into(), [100, 100].into(), 50, 20).is_none(),
            "50% is not over 50%"
        );
        let why = change_guard([0, 51].into(), [100, 100].into(), 50, 20).unwrap();
        assert!(
            why.contains("right") && why.contains("max_change_percent"),
            "{why}"
        );
        assert!(
            change_guard([19, 0].into(), [20, 20].into(), 50, 20).is_none(),
            "below the minimum count"
        );
        assert!(change_guard([20, 0].into(), [20, 20].into(), 50, 20).is_some());
    }
}
