//! The activity report (SPEC §12, `twinsync report`): one self-contained
//! HTML page for an admin who would rather look than read logs.
//!
//! Two halves, so the page can be tested without disks or clocks:
//! [`gather`] reads the facts (state DB, config, roots, the log's tail) into
//! a typed [`Snapshot`]; [`render`] turns a snapshot into the page, pure.
//! [`write`] puts the page in place atomically (a temp file in the same
//! folder, then a rename: a browser never reads half a page), and
//! [`maybe_rewrite`] is what `watch` calls after each cycle when
//! `[logging] report_path` is set.
//!
//! The page: inline CSS and SVG only, no scripts, no fonts or anything else
//! from the network (a Content-Security-Policy says so too), readable when
//! opened from disk or mailed as an attachment. Markup is built with `maud`,
//! which escapes every interpolated string (paths and error texts are
//! arbitrary user data); charts are drawn by `plotters`' SVG backend.

mod charts;
pub(crate) mod page;

use crate::Side;
use crate::config::Config;
use crate::error::RunError;
use crate::health::{self, Facts, Verdict};
use crate::plan::{Lane, OpKind, Plan};
use crate::roots::{self, Sides};
use crate::state::{
    ConflictRecord, CycleHistory, Failure, Skipped, State, StateError, TrashRecord,
};
use chrono::{DateTime, FixedOffset};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use page::render;

/// The report's file name when `--out` is not given (beside the state DB).
pub const DEFAULT_FILE: &str = "twinsync-report.html";
/// How many log events the page lists.
pub const EVENTS_SHOWN: usize = 50;
/// The charts' window.
pub const CHART_HOURS: i64 = 7 * 24;
/// `watch` spends at most a tenth of its time rewriting the page: after a
/// write that took `t`, the next waits at least `t` times this.
pub const REWRITE_SPACING: u32 = 10;

/// Everything the page shows, gathered at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was gathered, in the local time zone (the page's clock).
    pub now: DateTime<FixedOffset>,
    /// The health verdict (the headline), as `status` gives it.
    pub health: Verdict,
    pub config_file: String,
    pub state_db: String,
    /// Left, then right.
    pub roots: Vec<RootInfo>,
    /// The latest cycle (from the log, else the state DB).
    pub last_cycle: Option<LastCycle>,
    /// End of the latest stored cycle that changed something.
    pub last_change: Option<DateTime<FixedOffset>>,
    /// Steps of unfinished plans with no outcome yet, in plan order.
    pub pending: Vec<PendingStep>,
    /// Unresolved conflicts, by path.
    pub conflicts: Vec<ConflictRecord>,
    /// Failing paths, oldest first.
    pub failures: Vec<Failure>,
    /// Names the latest plan could not sync, with why.
    pub skipped: Vec<Skipped>,
    /// Emails waiting in the outbox (all of them) and the first few.
    pub emails_queued: u64,
    pub emails: Vec<QueuedEmail>,
    pub email_enabled: bool,
    /// The bandwidth limit in force and its next change, in words.
    pub bandwidth: String,
    /// The last `watch`: running, stopped or died, in words.
    pub watch: String,
    /// Stored cycles of the last 30 days (per cycle for the last day).
    pub history: CycleHistory,
    /// The latest log events worth reading (quiet cycles left out), newest first.
    pub events: Vec<Event>,
    /// Every trash record, both sides.
    pub trash: Vec<TrashRecord>,
    pub retention_days: u64,
    pub auto_purge: bool,
}

/// One root and whether it can be synced now.
#[derive(Debug, Clone)]
pub struct RootInfo {
    pub side: Side,
    pub path: String,
    /// Why it is unavailable; `None` when it is there with the right marker.
    pub problem: Option<String>,
}

/// The latest cycle.
#[derive(Debug, Clone)]
pub struct LastCycle {
    pub at: DateTime<FixedOffset>,
    /// `ok`, `failed` or `skipped`.
    pub result: String,
    pub changes: u64,
    pub duration_ms: u64,
    /// Watch's note (`dry run…`), or the large-file lane.
    pub note: Option<String>,
}

/// A step of an unfinished plan that has no outcome yet.
#[derive(Debug, Clone)]
pub struct PendingStep {
    pub plan_id: String,
    pub step: u64,
    pub kind: String,
    pub path: String,
    /// The side written.
    pub side: Option<Side>,
    pub bytes: u64,
    pub lane: Lane,
}

pub use crate::state::QueuedEmail;

/// One line of the JSON log.
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub ts: String,
    pub level: String,
    pub event: String,
    pub path: String,
    pub side: String,
    pub rule: String,
    pub result: String,
    pub bytes: Option<u64>,
    pub error: String,
    /// A short summary of what else it carries (cycle metrics, notes).
    pub detail: String,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot write the report `{path}`: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<ReportError> for RunError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::State(s) => Self::State(s),
            e @ ReportError::Write { .. } => Self::Other(e.to_string()),
        }
    }
}

/// `twinsync report [--out FILE.html]`: writes the page, says where.
///
/// # Errors
/// A missing or unreadable state DB, or a page that cannot be written.
pub fn report_cmd(cfg: &Config, out: Option<PathBuf>) -> Result<i32, RunError> {
    let state = State::open(&cfg.state_db)?;
    let out = out.unwrap_or_else(|| default_path(cfg));
    write(cfg, &state, &Sides::real(cfg), &out)?;
    crate::outln!(
        "Wrote the activity report to {} (open it in a browser).",
        out.display()
    );
    Ok(0)
}

/// `twinsync-report.html` beside the state DB.
#[must_use]
pub fn default_path(cfg: &Config) -> PathBuf {
    cfg.state_db
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(DEFAULT_FILE)
}

/// `[logging] report_path`, resolved against the config's folder; `None`
/// when it is empty (no report from `watch`).
#[must_use]
pub fn configured_path(cfg: &Config) -> Option<PathBuf> {
    cfg.report_path()
}

/// Gathers the facts, renders the page and puts it at `out` atomically.
///
/// # Errors
/// State DB errors; the page cannot be written (nothing is left behind then).
pub fn write(cfg: &Config, state: &State, sides: &Sides, out: &Path) -> Result<(), ReportError> {
    let snap = gather(cfg, state, sides)?;
    let html = render(&snap);
    write_atomic(out, html.as_bytes()).map_err(|source| ReportError::Write {
        path: out.to_path_buf(),
        source,
    })
}

/// When `watch` last wrote the page, how long that took, and whether
/// something happened since.
#[derive(Debug, Default)]
pub struct Rewriter {
    last: Option<Instant>,
    took: Duration,
    dirty: bool,
}

/// Called by `watch` after every cycle: with `report_path` set, rewrites
/// the page after every cycle that did something (SPEC §12; and once at
/// the start, so the page exists). Only when the last write is too recent
/// for its cost (a page that took 0.4 s over a 90,000-file state waits
/// 4 s, [`REWRITE_SPACING`]) is a busy cycle left to the next call, which
/// writes it, busy or not. Returns whether it wrote the page.
///
/// # Errors
/// As [`write`]; a failed attempt waits as a write would.
pub fn maybe_rewrite(
    cfg: &Config,
    state: &State,
    rw: &mut Rewriter,
    did_something: bool,
) -> Result<bool, ReportError> {
    let Some(out) = configured_path(cfg) else {
        return Ok(false);
    };
    rw.dirty |= did_something || rw.last.is_none();
    if !rw.dirty
        || rw
            .last
            .is_some_and(|t| t.elapsed() < rw.took * REWRITE_SPACING)
    {
        return Ok(false);
    }
    let started = Instant::now();
    rw.last = Some(started);
    let res = write(cfg, state, &Sides::real(cfg), &out);
    rw.took = started.elapsed();
    res?;
    rw.dirty = false;
    Ok(true)
}

/// Writes `bytes` to a temp file beside `out`, flushes it, renames it over `out`.
/// A device or a pipe (`--out /dev/null`) is written into instead.
fn write_atomic(out: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if crate::out::is_special_file(out) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(out)?
            .write_all(bytes);
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".twinsync-report-")
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // A temp file is private (0600); the page gets the usual permissions,
    // or keeps those of the page it replaces.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perm = std::fs::metadata(out).map_or_else(
            |_| std::fs::Permissions::from_mode(0o644),
            |m| m.permissions(),
        );
        std::fs::set_permissions(tmp.path(), perm)?;
    }
    tmp.persist(out).map_err(|e| e.error)?;
    Ok(())
}

/// Reads everything the page shows.
///
/// # Errors
/// State DB errors.
pub fn gather(cfg: &Config, state: &State, sides: &Sides) -> Result<Snapshot, StateError> {
    let now = chrono::Local::now().fixed_offset();
    let mut roots = Vec::new();
    for side in Side::BOTH {
        let problem = match state.root_id(side)? {
            Some(id) => roots::check_root_in(state, sides.get(side), side, &id)
                .err()
                .map(|e| e.to_string()),
            None => Some("not initialised (run `twinsync init`)".into()),
        };
        roots.push(RootInfo {
            side,
            path: cfg.root(side).display().to_string(),
            problem,
        });
    }
    let mut conflicts: Vec<_> = state.conflicts()?.into_values().collect();
    conflicts.sort_by(|a, b| a.path.cmp(&b.path));
    let history = state.cycle_history(now.timestamp() - crate::state::CYCLE_HISTORY_SECS)?;
    let (events, logged_cycle) = read_log(&cfg.log_file, EVENTS_SHOWN);
    let last_cycle = logged_cycle.or_else(|| {
        history.cycles.last().and_then(|(_, c)| {
            Some(LastCycle {
                at: parse_time(&c.started_at)?,
                result: c.result.as_str().to_owned(),
                changes: c.changes,
                duration_ms: c.duration_ms,
                note: None,
            })
        })
    });
    let last_change = last_change(&history);
    let pending = pending_steps(state)?;
    let facts = Facts::read(
        state,
        [
            (Side::Left, roots[0].problem.as_deref()),
            (Side::Right, roots[1].problem.as_deref()),
        ],
        pending.len(),
        pending.iter().map(|p| p.bytes).sum(),
    )?;
    Ok(Snapshot {
        now,
        health: health::verdict(&facts),
        // Absolute, so the page's `resolve` commands work from any folder.
        config_file: std::path::absolute(&cfg.file)
            .unwrap_or_else(|_| cfg.file.clone())
            .display()
            .to_string(),
        state_db: cfg.state_db.display().to_string(),
        roots,
        last_cycle,
        last_change,
        pending,
        conflicts,
        failures: state.failures()?,
        skipped: state.skipped()?,
        emails_queued: crate::alert::queued(state),
        emails: state.queued_emails(20).unwrap_or_default(),
        email_enabled: cfg.raw.email.enabled,
        bandwidth: crate::status::Bandwidth::now(&cfg.bandwidth).text(),
        watch: crate::status::WatchStatus::line(crate::status::WatchStatus::read(state)?.as_ref()),
        history,
        events,
        trash: state.trash_records()?,
        retention_days: cfg.raw.soft_delete.retention_days,
        auto_purge: cfg.raw.soft_delete.auto_purge,
    })
}

/// The end of the latest stored cycle that changed something (for hour
/// rollups, the end of that hour).
fn last_change(h: &CycleHistory) -> Option<DateTime<FixedOffset>> {
    let cycle = h
        .cycles
        .iter()
        .rev()
        .find(|(_, c)| c.changes > 0)
        .and_then(|(at, c)| {
            let ms = i64::try_from(c.duration_ms).unwrap_or(0);
            DateTime::from_timestamp_millis(at.saturating_mul(1000).saturating_add(ms))
        });
    let hour = h
        .hours
        .iter()
        .rev()
        .find(|x| x.changes > 0)
        .and_then(|x| DateTime::from_timestamp(x.hour + 3600, 0));
    cycle.or(hour).map(|t| t.fixed_offset())
}

/// An RFC 3339 time.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// Steps of unfinished plans with no outcome yet (what `status` calls steps
/// in flight): large copies waiting for or in the large-file lane, or work
/// a stop or crash interrupted.
fn pending_steps(state: &State) -> Result<Vec<PendingStep>, StateError> {
    let mut out = Vec::new();
    for id in state.resumable_plans()? {
        let done = state.step_status(&id)?;
        let Some(plan) = state
            .plan_json(&id)?
            .and_then(|j| serde_json::from_str::<Plan>(&j).ok())
        else {
            continue;
        };
        for op in plan
            .ops
            .iter()
            .filter(|o| !done.contains_key(&o.id) && o.kind() != OpKind::Record)
        {
            out.push(PendingStep {
                plan_id: id.clone(),
                step: op.id,
                kind: op.kind().as_str().to_owned(),
                path: op.path.clone(),
                side: op.side(),
                bytes: op.bytes,
                lane: op.lane(),
            });
        }
    }
    Ok(out)
}

/// How much of a log file's end is read (per file: the current one and the
/// last rotated one). Enough for far more than 50 events.
const LOG_TAIL_BYTES: u64 = 1 << 20;

/// The latest `n` events worth showing (newest first) and the latest cycle,
/// from the end of the log and, if that is not enough, its last rotation.
/// A missing or unreadable log gives nothing (the page says so).
fn read_log(file: &Path, n: usize) -> (Vec<Event>, Option<LastCycle>) {
    let mut events = Vec::new();
    let mut last_cycle = None;
    let rotated = PathBuf::from(format!("{}.1", file.display()));
    for f in [file, rotated.as_path()] {
        let lines = tail_lines(f, LOG_TAIL_BYTES);
        for line in lines.iter().rev() {
            let Ok(serde_json::Value::Object(v)) = serde_json::from_str(line) else {
                continue;
            };
            let e = event_of(&v);
            // Routine scans (one per side and cycle) drown what matters.
            if e.event == "scan" && e.error.is_empty() && e.detail.is_empty() {
                continue;
            }
            if e.event == "cycle" {
                if last_cycle.is_none() {
                    last_cycle = cycle_of(&v);
                }
                let busy = ["changes", "conflicts", "failed"]
                    .iter()
                    .any(|k| v.get(*k).and_then(serde_json::Value::as_u64).unwrap_or(0) > 0);
                if !busy {
                    continue;
                }
            }
            if events.len() < n {
                events.push(e);
            }
            if events.len() >= n && last_cycle.is_some() {
                return (events, last_cycle);
            }
        }
    }
    (events, last_cycle)
}

/// The complete lines among the last `max` bytes of a file.
fn tail_lines(f: &Path, max: u64) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(f) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(max);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    if file.take(max).read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    lines
}

fn event_of(v: &serde_json::Map<String, serde_json::Value>) -> Event {
    let s = |k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(x) => x.to_string(),
    };
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    let event = s("event");
    let detail = if event == "cycle" {
        let count = |k: &str, what: &str| {
            let v = n(k).unwrap_or(0);
            format!("{v} {what}{}", if v == 1 { "" } else { "s" })
        };
        let mut d = format!(
            "{}, {}, {} failed, {} copied, {}",
            count("changes", "change"),
            count("conflicts", "conflict"),
            n("failed").unwrap_or(0),
            crate::human_size(n("bytes_copied").unwrap_or(0)),
            crate::human::duration_ms(n("duration_ms").unwrap_or(0))
        );
        if let Some(l) = v.get("lane").and_then(serde_json::Value::as_str) {
            d.push_str(&format!(" ({l}-file lane)"));
        }
        d
    } else {
        ["note", "reason"]
            .iter()
            .map(|k| s(k))
            .find(|x| !x.is_empty())
            .unwrap_or_default()
    };
    Event {
        ts: s("ts"),
        level: s("level"),
        path: s("path"),
        side: s("side"),
        rule: s("rule"),
        result: s("result"),
        bytes: if event == "cycle" { None } else { n("bytes") },
        error: s("error"),
        event,
        detail,
    }
}

fn cycle_of(v: &serde_json::Map<String, serde_json::Value>) -> Option<LastCycle> {
    let at = v
        .get("started_at")
        .or_else(|| v.get("ts"))
        .and_then(serde_json::Value::as_str)
        .and_then(parse_time)?;
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let note = match (v.get("note"), v.get("lane")) {
        (Some(serde_json::Value::String(s)), _) => Some(s.clone()),
        (_, Some(serde_json::Value::String(l))) => Some(format!("{l}-file lane")),
        _ => None,
    };
    Some(LastCycle {
        at,
        result: v
            .get("result")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned(),
        changes: n("changes"),
        duration_ms: n("duration_ms"),
        note,
    })
}

#[cfg(test)]
mod tests;
