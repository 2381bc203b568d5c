//! What `status` reports (SPEC §12), as one typed model: the health
//! verdict ([`crate::health`]) with its reasons, both roots and whether
//! they are available, the last cycles, plans and steps in flight,
//! unresolved conflicts, failing and skipped paths, trash usage and queued
//! emails.
//!
//! Both renderings read this same model: `status --json` serialises it
//! (field names fixed by the tests and scripts that read them), the table
//! view in [`crate::commands`] draws it.

use crate::config::Config;
use crate::health::{self, Facts, Verdict};
use crate::plan::{Lane, OpKind, Plan};
use crate::roots::{self, Sides};
use crate::state::{CycleRecord, Failure, RunLock, Skipped, State, StateError};
use crate::{Entry, Keep, PerSide, Rule, Side};
use serde::Serialize;

/// Everything `status` shows.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The one health verdict: its state, exit code and reasons.
    pub health: Verdict,
    pub roots: Vec<RootStatus>,
    /// Newest first.
    pub last_cycles: Vec<CycleRecord>,
    /// Plan ids of unfinished plans, oldest first.
    pub plans_in_flight: Vec<String>,
    pub steps_in_flight: Vec<StepInFlight>,
    pub unresolved_conflicts: Vec<ConflictStatus>,
    pub failing_paths: Vec<Failure>,
    /// Names the latest plan could not sync (reserved, invalid, case
    /// collisions), with why.
    pub skipped_paths: Vec<Skipped>,
    pub trash: PerSide<TrashUse>,
    pub emails_queued: u64,
    /// The bandwidth limit in force now and when it next changes.
    pub bandwidth: Bandwidth,
    /// The last `watch` (the service) on this state DB; `None`: none ran.
    pub watch: Option<WatchStatus>,
}

/// The last `watch` on this state DB, from its note and the run lock.
#[derive(Debug, Serialize)]
pub struct WatchStatus {
    /// `running`, `stopped` (a clean exit) or `died` (no clean exit, and
    /// no process holds the run lock).
    pub state: &'static str,
    pub pid: u32,
    /// RFC 3339.
    pub started_at: String,
    /// Its last sign of life (RFC 3339).
    pub alive_at: String,
    /// When it last got something done (RFC 3339).
    pub progress_at: String,
    pub stopped_at: Option<String>,
}

impl WatchStatus {
    /// The last watch's, if one ever ran on this state DB.
    ///
    /// # Errors
    /// State DB errors.
    pub fn read(state: &State) -> Result<Option<Self>, StateError> {
        Ok(state
            .watch_run()?
            .map(|run| Self::of(&run, RunLock::is_held(state.file()))))
    }

    /// `Watch: …` for people, or that none ran.
    #[must_use]
    pub fn line(w: Option<&Self>) -> String {
        match w {
            Some(w) => format!("Watch: {}", w.text()),
            None => "Watch: has not run with this state DB".to_owned(),
        }
    }

    fn of(run: &crate::state::WatchRun, held: Option<bool>) -> Self {
        let rfc = |s: i64| {
            chrono::DateTime::from_timestamp(s, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
        };
        let state = match (run.stopped_at, held) {
            (Some(_), _) => "stopped",
            (None, Some(false)) => "died",
            (None, _) if run.dead => "died",
            (None, _) => "running",
        };
        Self {
            state,
            pid: run.pid,
            started_at: rfc(run.started_at),
            alive_at: rfc(run.alive_at),
            progress_at: rfc(run.progress_at),
            stopped_at: run.stopped_at.map(rfc),
        }
    }

    /// One line for people: `running (process 4242) since …`.
    #[must_use]
    pub fn text(&self) -> String {
        let t = |s: &str| crate::human::time_text(s);
        match self.state {
            "running" => format!(
                "running (process {}) since {}; last sign of life {}",
                self.pid,
                t(&self.started_at),
                t(&self.alive_at)
            ),
            "stopped" => format!(
                "stopped at {} (a clean exit)",
                t(self.stopped_at.as_deref().unwrap_or_default())
            ),
            _ => format!(
                "not running: it stopped without a clean exit; last sign of life {}",
                t(&self.alive_at)
            ),
        }
    }
}

/// The limit copies keep to now (`[transfer] bandwidth`).
#[derive(Debug, Serialize)]
pub struct Bandwidth {
    /// Bytes per second left → right (`None`: unlimited).
    pub up: Option<u64>,
    /// Bytes per second right → left.
    pub down: Option<u64>,
    /// When the timetable next changes the limits (`Mon 18:00`, local time).
    pub next_change: Option<String>,
}

impl Bandwidth {
    /// The limits of `table` now, by the local clock.
    #[must_use]
    pub fn now(table: &crate::bandwidth::Timetable) -> Self {
        use crate::bandwidth::Clock;
        let (l, next) = table.at(crate::bandwidth::SystemClock::default().minute_of_week());
        Self {
            up: l.up,
            down: l.down,
            next_change: next.map(crate::bandwidth::minute_text),
        }
    }

    /// `unlimited`, or `2 MiB/s left → right, 4 MiB/s right → left until Mon 18:00`.
    #[must_use]
    pub fn text(&self) -> String {
        use crate::bandwidth::rate_text;
        let mut s = if self.up == self.down {
            if self.up.is_none() {
                "unlimited".to_owned()
            } else {
                format!("{} each way", rate_text(self.up))
            }
        } else {
            format!(
                "{} left → right, {} right → left",
                rate_text(self.up),
                rate_text(self.down)
            )
        };
        if let Some(n) = &self.next_change {
            s.push_str(&format!(" until {n}"));
        }
        s
    }
}

/// One root and whether it can be synced now.
#[derive(Debug, Serialize)]
pub struct RootStatus {
    pub side: Side,
    pub root: String,
    pub available: bool,
    /// Why it is not available.
    pub problem: Option<String>,
}

/// A step of an unfinished plan with no outcome yet (a large copy in the
/// background lane, or work a crash interrupted).
#[derive(Debug, Serialize)]
pub struct StepInFlight {
    pub plan_id: String,
    pub step: u64,
    pub kind: OpKind,
    pub path: String,
    pub side: Option<Side>,
    pub bytes: u64,
    pub lane: Lane,
}

/// An unresolved conflict, and the command that settles it.
#[derive(Debug, Serialize)]
pub struct ConflictStatus {
    pub path: String,
    pub rule: Rule,
    pub since: String,
    pub keep: Option<Keep>,
    pub left: Option<Entry>,
    pub right: Option<Entry>,
    pub resolve: String,
}

/// Files and bytes in one side's trash.
#[derive(Debug, Default, Serialize)]
pub struct TrashUse {
    pub files: u64,
    pub bytes: u64,
}

impl Status {
    /// Reads the status from the state DB and the roots.
    ///
    /// # Errors
    /// State DB errors.
    pub fn gather(cfg: &Config, state: &State, sides: &Sides) -> Result<Self, StateError> {
        let mut root_status = Vec::new();
        for side in Side::BOTH {
            let avail = match state.root_id(side)? {
                Some(id) => roots::check_root_in(state, sides.get(side), side, &id)
                    .map_err(|e| e.to_string()),
                None => Err("not initialised (run `twinsync init`)".into()),
            };
            root_status.push(RootStatus {
                side,
                root: cfg.root(side).display().to_string(),
                available: avail.is_ok(),
                problem: avail.err(),
            });
        }
        let plans_in_flight = state.resumable_plans()?;
        let mut steps_in_flight = Vec::new();
        for id in &plans_in_flight {
            let done = state.step_status(id)?;
            if let Some(plan) = state
                .plan_json(id)?
                .and_then(|j| serde_json::from_str::<Plan>(&j).ok())
            {
                for op in plan
                    .ops
                    .iter()
                    .filter(|o| !done.contains_key(&o.id) && o.kind() != OpKind::Record)
                {
                    steps_in_flight.push(StepInFlight {
                        plan_id: id.clone(),
                        step: op.id,
                        kind: op.kind(),
                        path: op.path.clone(),
                        side: op.side(),
                        bytes: op.bytes,
                        lane: op.lane(),
                    });
                }
            }
        }
        let unresolved_conflicts = state
            .conflicts()?
            .into_values()
            .map(|c| ConflictStatus {
                resolve: format!("twinsync resolve \"{}\" --keep left|right|both", c.path),
                path: c.path,
                rule: c.rule,
                since: c.created_at,
                keep: c.keep,
                left: c.left,
                right: c.right,
            })
            .collect();
        let mut trash: PerSide<TrashUse> = PerSide::default();
        for t in state.trash_records()? {
            trash[t.side].files += 1;
            trash[t.side].bytes += t.size;
        }
        let facts = Facts::read(
            state,
            [
                (Side::Left, root_status[0].problem.as_deref()),
                (Side::Right, root_status[1].problem.as_deref()),
            ],
            steps_in_flight.len(),
            steps_in_flight.iter().map(|s| s.bytes).sum(),
        )?;
        Ok(Self {
            health: health::verdict(&facts),
            roots: root_status,
            last_cycles: state.recent_cycles(10)?,
            plans_in_flight,
            steps_in_flight,
            unresolved_conflicts,
            failing_paths: state.failures()?,
            skipped_paths: state.skipped()?,
            trash,
            emails_queued: crate::alert::queued(state),
            bandwidth: Bandwidth::now(&cfg.bandwidth),
            watch: WatchStatus::read(state)?,
        })
    }

    /// The JSON of `status --json` (keys sorted, as `serde_json::Value` writes them).
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_value(self)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_default()
    }
}
