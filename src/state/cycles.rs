//! The `cycles` and `cycle_hours` tables: metrics of each plan/apply run
//! for logs, `status` and the report, bounded in size.
//!
//! Invariant: per-cycle rows are kept for [`CYCLE_DETAIL_SECS`] (and always
//! the latest few), then summed into one row per hour, kept for
//! [`CYCLE_HISTORY_SECS`]; hard caps hold whatever the clock did. Nothing
//! inside the window is counted twice or lost.

use super::{State, StateError, sql_err};
use crate::CycleResult;
use rusqlite::params;
use std::collections::HashMap;

/// Metrics of one plan/apply run, for logs and `status`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CycleRecord {
    pub started_at: String,
    pub files_scanned: u64,
    pub changes: u64,
    pub conflicts: u64,
    pub soft_deletes: u64,
    pub hard_deletes: u64,
    pub bytes_copied: u64,
    /// Files and folders moved (6.2.14/6.2.15): no bytes sent.
    #[serde(default)]
    pub moves: u64,
    pub failed: u64,
    pub skipped: u64,
    pub duration_ms: u64,
    pub result: CycleResult,
    /// Changes written to the left side (copies, deletes, renames… from the
    /// right); with `changes_to_right`, the report's "each way". Steps
    /// that touch both sides (conflicts) count in neither.
    #[serde(default)]
    pub changes_to_left: u64,
    #[serde(default)]
    pub changes_to_right: u64,
    /// Bytes copied to the left side.
    #[serde(default)]
    pub bytes_to_left: u64,
    #[serde(default)]
    pub bytes_to_right: u64,
}

/// How long per-cycle rows are kept; older ones are summed into
/// [`HourStats`] rows when a cycle is stored.
pub const CYCLE_DETAIL_SECS: i64 = 24 * 3600;
/// How long per-hour rollups are kept.
pub const CYCLE_HISTORY_SECS: i64 = 30 * 24 * 3600;
/// Per-cycle rows kept whatever their age (`status` shows the last ones).
const CYCLE_KEEP_LATEST: i64 = 10;
/// Hard caps, whatever the clock did: per-cycle rows and hour rows.
const CYCLE_MAX_ROWS: i64 = 20_000;
const HOUR_MAX_ROWS: i64 = 31 * 24;

/// The cycles of one hour, summed (maxima where a sum means nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HourStats {
    /// Unix seconds of the hour's start (UTC, a multiple of 3600).
    pub hour: i64,
    pub cycles: u64,
    pub files_scanned_max: u64,
    pub changes: u64,
    pub changes_to_left: u64,
    pub changes_to_right: u64,
    pub conflicts: u64,
    pub soft_deletes: u64,
    pub hard_deletes: u64,
    pub bytes_copied: u64,
    pub bytes_to_left: u64,
    pub bytes_to_right: u64,
    pub failed: u64,
    pub skipped: u64,
    pub duration_ms_sum: u64,
    pub duration_ms_max: u64,
}

impl HourStats {
    /// Adds one cycle.
    pub fn add(&mut self, c: &CycleRecord) {
        self.cycles += 1;
        self.files_scanned_max = self.files_scanned_max.max(c.files_scanned);
        self.changes += c.changes;
        self.changes_to_left += c.changes_to_left;
        self.changes_to_right += c.changes_to_right;
        self.conflicts += c.conflicts;
        self.soft_deletes += c.soft_deletes;
        self.hard_deletes += c.hard_deletes;
        self.bytes_copied += c.bytes_copied;
        self.bytes_to_left += c.bytes_to_left;
        self.bytes_to_right += c.bytes_to_right;
        self.failed += c.failed;
        self.skipped += c.skipped;
        self.duration_ms_sum += c.duration_ms;
        self.duration_ms_max = self.duration_ms_max.max(c.duration_ms);
    }

    /// Adds another summary of the same hour.
    pub fn merge(&mut self, o: &Self) {
        self.cycles += o.cycles;
        self.files_scanned_max = self.files_scanned_max.max(o.files_scanned_max);
        self.changes += o.changes;
        self.changes_to_left += o.changes_to_left;
        self.changes_to_right += o.changes_to_right;
        self.conflicts += o.conflicts;
        self.soft_deletes += o.soft_deletes;
        self.hard_deletes += o.hard_deletes;
        self.bytes_copied += o.bytes_copied;
        self.bytes_to_left += o.bytes_to_left;
        self.bytes_to_right += o.bytes_to_right;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.duration_ms_sum += o.duration_ms_sum;
        self.duration_ms_max = self.duration_ms_max.max(o.duration_ms_max);
    }
}

/// Stored cycles since some time: the per-cycle rows (with their start
/// time in Unix seconds, oldest first) and the hour rollups of older ones.
#[derive(Debug, Clone, Default)]
pub struct CycleHistory {
    pub cycles: Vec<(i64, CycleRecord)>,
    pub hours: Vec<HourStats>,
}

/// Unix seconds of an RFC 3339 time.
fn unix_s(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

const HOUR_COLS: &str = "hour, cycles, files_scanned_max, changes, changes_to_left, changes_to_right, conflicts, \
    soft_deletes, hard_deletes, bytes_copied, bytes_to_left, bytes_to_right, failed, skipped, duration_ms_sum, duration_ms_max";

#[allow(clippy::cast_possible_wrap)]
fn hour_params(h: &HourStats) -> [i64; 16] {
    [
        h.hour,
        h.cycles as i64,
        h.files_scanned_max as i64,
        h.changes as i64,
        h.changes_to_left as i64,
        h.changes_to_right as i64,
        h.conflicts as i64,
        h.soft_deletes as i64,
        h.hard_deletes as i64,
        h.bytes_copied as i64,
        h.bytes_to_left as i64,
        h.bytes_to_right as i64,
        h.failed as i64,
        h.skipped as i64,
        h.duration_ms_sum as i64,
        h.duration_ms_max as i64,
    ]
}

fn hour_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HourStats> {
    let n =
        |i: usize| -> rusqlite::Result<u64> { Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0)) };
    Ok(HourStats {
        hour: r.get(0)?,
        cycles: n(1)?,
        files_scanned_max: n(2)?,
        changes: n(3)?,
        changes_to_left: n(4)?,
        changes_to_right: n(5)?,
        conflicts: n(6)?,
        soft_deletes: n(7)?,
        hard_deletes: n(8)?,
        bytes_copied: n(9)?,
        bytes_to_left: n(10)?,
        bytes_to_right: n(11)?,
        failed: n(12)?,
        skipped: n(13)?,
        duration_ms_sum: n(14)?,
        duration_ms_max: n(15)?,
    })
}

impl State {
    /// Appends a cycle record, then bounds the history: per-cycle rows
    /// older than [`CYCLE_DETAIL_SECS`] (but always the latest few) are
    /// summed into per-hour rows, and hour rows older than
    /// [`CYCLE_HISTORY_SECS`] are dropped. One transaction.
    ///
    /// # Errors
    /// SQL errors (nothing is recorded then).
    pub fn record_cycle(&self, c: &CycleRecord) -> Result<(), StateError> {
        self.record_cycle_at(c, crate::now_ns().div_euclid(1_000_000_000))
    }

    /// [`Self::record_cycle`] with the present time given (tests).
    ///
    /// # Errors
    /// SQL errors (nothing is recorded then).
    pub fn record_cycle_at(&self, c: &CycleRecord, now_s: i64) -> Result<(), StateError> {
        let sql = sql_err(&self.file);
        // `&self` (callers share the State): no other statement runs inside it.
        let tx = self.conn.unchecked_transaction().map_err(sql)?;
        tx.execute(
            "INSERT INTO cycles(data, at) VALUES(?1, ?2)",
            params![
                serde_json::to_string(c).unwrap_or_default(),
                unix_s(&c.started_at).unwrap_or(now_s)
            ],
        )
        .map_err(sql)?;
        // Rows to roll up: old ones, except the latest few; and anything past the cap.
        let old: Vec<(i64, i64, String)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, at, data FROM cycles
                     WHERE id <= (SELECT max(id) FROM cycles) - ?2
                        OR (at < ?1 AND id <= (SELECT max(id) FROM cycles) - ?3)",
                )
                .map_err(sql)?;
            stmt.query_map(
                params![now_s - CYCLE_DETAIL_SECS, CYCLE_MAX_ROWS, CYCLE_KEEP_LATEST],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                        r.get(2)?,
                    ))
                },
            )
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?
        };
        if !old.is_empty() {
            let mut hours: HashMap<i64, HourStats> = HashMap::new();
            for (_, at, data) in &old {
                let hour = at - at.rem_euclid(3600);
                let h = hours.entry(hour).or_insert_with(|| HourStats {
                    hour,
                    ..HourStats::default()
                });
                if let Ok(c) = serde_json::from_str::<CycleRecord>(data) {
                    h.add(&c);
                }
            }
            let mut up = tx
                .prepare_cached(&format!(
                    "INSERT INTO cycle_hours({HOUR_COLS}) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)
                     ON CONFLICT(hour) DO UPDATE SET cycles = cycles + excluded.cycles,
                       files_scanned_max = max(files_scanned_max, excluded.files_scanned_max),
                       changes = changes + excluded.changes,
                       changes_to_left = changes_to_left + excluded.changes_to_left,
                       changes_to_right = changes_to_right + excluded.changes_to_right,
                       conflicts = conflicts + excluded.conflicts,
                       soft_deletes = soft_deletes + excluded.soft_deletes,
                       hard_deletes = hard_deletes + excluded.hard_deletes,
                       bytes_copied = bytes_copied + excluded.bytes_copied,
                       bytes_to_left = bytes_to_left + excluded.bytes_to_left,
                       bytes_to_right = bytes_to_right + excluded.bytes_to_right,
                       failed = failed + excluded.failed,
                       skipped = skipped + excluded.skipped,
                       duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum,
                       duration_ms_max = max(duration_ms_max, excluded.duration_ms_max)"
                ))
                .map_err(sql)?;
            for h in hours.values() {
                up.execute(rusqlite::params_from_iter(hour_params(h)))
                    .map_err(sql)?;
            }
            let mut del = tx
                .prepare_cached("DELETE FROM cycles WHERE id = ?1")
                .map_err(sql)?;
            for (id, ..) in &old {
                del.execute([id]).map_err(sql)?;
            }
        }
        tx.execute(
            "DELETE FROM cycle_hours WHERE hour < ?1
                OR hour NOT IN (SELECT hour FROM cycle_hours ORDER BY hour DESC LIMIT ?2)",
            params![now_s - CYCLE_HISTORY_SECS, HOUR_MAX_ROWS],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Stored cycles that started at or after `since_s` (Unix seconds):
    /// per-cycle rows and the hour rollups of older ones.
    ///
    /// # Errors
    /// SQL errors.
    pub fn cycle_history(&self, since_s: i64) -> Result<CycleHistory, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, data FROM cycles WHERE at >= ?1 ORDER BY at, id")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([since_s], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.sql())?;
        let mut cycles = Vec::new();
        for r in rows {
            let (at, data) = r.map_err(self.sql())?;
            if let Ok(c) = serde_json::from_str(&data) {
                cycles.push((at, c));
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {HOUR_COLS} FROM cycle_hours WHERE hour >= ?1 ORDER BY hour"
            ))
            .map_err(self.sql())?;
        let hours = stmt
            .query_map([since_s - since_s.rem_euclid(3600)], hour_row)
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        Ok(CycleHistory { cycles, hours })
    }

    /// The last `n` cycles, newest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn recent_cycles(&self, n: u32) -> Result<Vec<CycleRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM cycles ORDER BY id DESC LIMIT ?1")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([n], |r| r.get::<_, String>(0))
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(c) = serde_json::from_str(&r.map_err(self.sql())?) {
                out.push(c);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six weeks of one cycle an hour: per-cycle rows only for the last day
    /// (and never fewer than the latest few), hour sums for 30 days, and
    /// nothing counted twice or lost inside that window.
    #[test]
    fn cycle_history_is_bounded_and_keeps_its_sums() {
        let d = tempfile::tempdir().unwrap();
        let s = State::open_or_create(&d.path().join("s.db")).unwrap();
        let now: i64 = 1_800_000_000 + 1800; // half past a whole hour
        let at = |k: i64| chrono::DateTime::from_timestamp(now - k * 3600, 0).unwrap();
        for k in (0..42 * 24).rev() {
            let c = CycleRecord {
                started_at: at(k).to_rfc3339(),
                changes: 2,
                changes_to_left: 1,
                changes_to_right: 1,
                bytes_to_right: 10,
                duration_ms: u64::try_from(k).unwrap(),
                result: crate::CycleResult::Ok,
                ..CycleRecord::default()
            };
            s.record_cycle_at(&c, now).unwrap();
        }
        let count = |t: &str| -> i64 {
            s.conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            count("cycles"),
            25,
            "the last 24 h and the cycle exactly a day old"
        );
        assert!(
            count("cycle_hours") <= 30 * 24 + 1,
            "{}",
            count("cycle_hours")
        );
        let h = s.cycle_history(now - 7 * 86_400).unwrap();
        let per_cycle: u64 = h.cycles.iter().map(|(_, c)| c.changes_to_left).sum();
        let rolled: u64 = h.hours.iter().map(|x| x.changes_to_left).sum();
        assert_eq!(per_cycle + rolled, 7 * 24 + 1);
        assert!(
            h.hours
                .iter()
                .all(|x| x.cycles == 1 && x.bytes_to_right == 10)
        );
        // Maxima stay maxima: each hour held one cycle of k ms, k hours ago.
        let oldest = h.hours.first().unwrap();
        assert_eq!(oldest.hour, now - 1800 - 7 * 86_400);
        assert_eq!(oldest.duration_ms_max, 7 * 24);
        // A clock far in the future still keeps the latest few per-cycle rows.
        s.record_cycle_at(&CycleRecord::default(), now + 365 * 86_400)
            .unwrap();
        assert_eq!(count("cycles"), 10);
        assert_eq!(s.recent_cycles(10).unwrap().len(), 10);
    }
}
