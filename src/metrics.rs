//! Cycle metrics (SPEC §12): every `apply` run and every `watch` cycle ends
//! with one `cycle` log event carrying its counts, and runs that changed
//! something are kept in the state DB for `status`.

use crate::CycleResult;
use crate::apply::Report;
use crate::log::Logger;
use crate::plan::Plan;
use crate::state::{CycleRecord, State};
use serde_json::json;

/// Logs and records the `cycle` event of a run.
pub fn record_cycle(
    state: &State,
    log: &Logger,
    plan: &Plan,
    report: &Report,
    started: std::time::Instant,
) {
    let c = cycle_record(Some(plan), Some(report), started);
    log_cycle(state, log, &c, &json!({}), true);
}

/// The metrics of one run (zeros where nothing was planned or applied).
pub fn cycle_record(
    plan: Option<&Plan>,
    report: Option<&Report>,
    started: std::time::Instant,
) -> CycleRecord {
    let r = report.cloned().unwrap_or_default();
    CycleRecord {
        started_at: started_at(started),
        files_scanned: plan.map_or(0, |p| p.summary.files_left + p.summary.files_right),
        changes: r.done.saturating_sub(r.records),
        conflicts: r.conflicts,
        soft_deletes: r.to_trash(),
        hard_deletes: r.hard_deletes,
        bytes_copied: r.bytes_copied,
        moves: r.moves,
        failed: r.failed.len() as u64,
        skipped: r.drifted,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        result: if r.failed.is_empty() {
            CycleResult::Ok
        } else {
            CycleResult::Failed
        },
        changes_to_left: r.to_left,
        changes_to_right: r.to_right,
        bytes_to_left: r.bytes_to_left,
        bytes_to_right: r.bytes_to_right,
    }
}

/// The wall-clock time (RFC 3339) of the moment `started` was taken.
pub fn started_at(started: std::time::Instant) -> String {
    let ago = chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    (chrono::Utc::now() - ago).to_rfc3339()
}

/// Logs the `cycle` event with `extra` fields merged in; `store` also keeps
/// the record for `status`.
pub fn log_cycle(
    state: &State,
    log: &Logger,
    c: &CycleRecord,
    extra: &serde_json::Value,
    store: bool,
) {
    log_cycle_only(log, c, extra);
    if store {
        let _ = state.record_cycle(c);
    }
}

/// Logs the `cycle` event with `extra` fields merged in, storing nothing:
/// a run that ended before it could touch the state DB (refused, a side
/// unavailable, an error).
pub fn log_cycle_only(log: &Logger, c: &CycleRecord, extra: &serde_json::Value) {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            m.insert(k.clone(), x.clone());
        }
    }
    log.info("cycle", v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cycle record carries the time its run started, not when it ended.
    #[test]
    fn cycle_record_started_at_is_the_start_time() {
        let started = std::time::Instant::now()
            .checked_sub(std::time::Duration::from_secs(30))
            .unwrap();
        let c = cycle_record(None, None, started);
        let at = chrono::DateTime::parse_from_rfc3339(&c.started_at).unwrap();
        let ago = chrono::Utc::now() - at.with_timezone(&chrono::Utc);
        assert!(
            (29..=60).contains(&ago.num_seconds()),
            "started_at {} is {} s ago, the run began 30 s ago",
            c.started_at,
            ago.num_seconds()
        );
        assert!(c.duration_ms >= 30_000);
    }
}
