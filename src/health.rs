//! The health verdict (SPEC §12 "Health"): one answer to "is syncing
//! working, and does it need me?", computed here and nowhere else, shown by
//! `status` (and its exit code), `status --json`, the report's headline and
//! the `watch` console.
//!
//! [`verdict`] is pure: [`Facts`] in (read from the state DB and the roots
//! check by [`Facts::read`]), a [`Verdict`] out. Every fact that matters
//! is a typed [`Reason`]; the verdict's [`Health`] is the most severe state
//! among its reasons, `in sync` when there is none. Most severe first:
//! `not syncing` (a side unavailable, the watch dead) › `blocked` (a safety
//! guard refused) › `needs you` (unresolved conflicts, failing or skipped
//! paths, a drive keeping no times, a disk short of room for the next
//! copies, a watch that hangs) › `working` (steps pending or in flight, no
//! sync run yet) › `in sync`; above them all
//! `paused` (the admin paused syncing: `twinsync pause` or the dashboard):
//! while paused nothing syncs whatever else is true, so it heads the
//! verdict and the other reasons follow. `status` exits 5 when paused
//! (something waits for the admin: `resume`).
//!
//! Adding a reason: a [`Reason`] variant, its state in [`Reason::health`],
//! its sentence in its `Display`, and the fact that raises it in [`verdict`].

use crate::Side;
use crate::plan::guard::{self, Refusal};
use crate::state::{RunLock, State, StateError, WatchRun};
use serde::Serialize;
use std::fmt;

/// The states of the verdict, least severe first (the order is the precedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    InSync,
    /// Steps pending or in flight (a large copy, an interrupted plan).
    Working,
    /// Syncing works, but something waits for the admin.
    NeedsYou,
    /// A safety guard refused: nothing syncs until a plan passes or is forced.
    Blocked,
    /// A side is unavailable: nothing is planned or deleted.
    NotSyncing,
    /// The admin paused syncing (`twinsync pause`, the dashboard).
    Paused,
}

impl Health {
    /// The words people read: `in sync`, `working`, `needs you`, `blocked`, `not syncing`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::InSync => "in sync",
            Self::Working => "working",
            Self::NeedsYou => "needs you",
            Self::Blocked => "blocked",
            Self::NotSyncing => "not syncing",
            Self::Paused => "paused",
        }
    }

    /// The exit code of `status` (SPEC §2): 0 in sync or working, 3 not
    /// syncing, 4 blocked, 5 needs you (and paused: waiting for `resume`).
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            Self::InSync | Self::Working => 0,
            Self::NotSyncing => 3,
            Self::Blocked => 4,
            Self::NeedsYou | Self::Paused => 5,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One fact behind the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The admin paused syncing.
    Paused {
        /// When (RFC 3339).
        since: String,
        /// Who: `cli` or `dashboard`.
        by: String,
    },
    /// A root is missing, or its marker is missing or foreign.
    Unavailable {
        side: Side,
        problem: String,
        /// When a plan or a `watch` cycle first found it so (RFC 3339).
        since: Option<String>,
    },
    /// A safety guard refused, and no plan passed or was forced since.
    Blocked { refusal: Refusal },
    /// Conflicts left for the admin (option2), waiting for `resolve`.
    Conflicts { count: usize },
    /// Steps that failed and are retried with backoff.
    FailingPaths { count: usize },
    /// Names one side cannot hold (reserved, invalid, case collisions).
    SkippedPaths { count: usize },
    /// Steps of unfinished plans: the large-file lane, or an interrupted run.
    StepsPending { steps: usize, bytes: u64 },
    /// A side's drive refused to set a copied file's modification time (or
    /// attributes): copies go on, with the drive's own times recorded.
    DriveKeepsNoTimes {
        side: Side,
        /// When it was first seen (RFC 3339).
        since: Option<String>,
        /// What the drive said.
        error: String,
    },
    /// A side's disk (or its trash's) has less free space than the last
    /// apply's copies needed there: copies may fail when it fills up.
    LowSpace {
        side: Side,
        /// `root` or `trash` (a trash folder outside the root).
        place: String,
        /// The folder whose disk it is.
        folder: String,
        free: u64,
        need: u64,
        /// When it was first found (RFC 3339).
        since: Option<String>,
    },
    /// No plan was ever applied with this state DB (after `init`).
    NotSyncedYet,
    /// The watch (the service) died: it never exited cleanly, no process
    /// holds the run lock, and it gave no sign of life for over
    /// [`STOPPED_AFTER_S`].
    WatchStopped {
        /// Its last sign of life (RFC 3339).
        last_seen: String,
    },
    /// The watch runs (it holds the run lock) but has got nothing done for
    /// over [`STALLED_AFTER_S`]: no cycle ended, no step finished, no byte
    /// was copied.
    WatchStalled {
        pid: u32,
        /// Since when (RFC 3339).
        since: String,
    },
    /// Alert emails that have failed to go out for over an hour
    /// ([`UNDELIVERED_AFTER_S`]): the admin would not hear of anything else.
    AlertsUndelivered {
        queued: usize,
        /// When the oldest was queued (RFC 3339).
        since: String,
        /// The mail server's latest answer.
        error: String,
    },
}

/// How long alert emails may fail to go out before the verdict says so.
pub const UNDELIVERED_AFTER_S: i64 = 3600;

/// How long after its last sign of life a watch that died without a clean
/// exit makes the verdict `not syncing`.
pub const STOPPED_AFTER_S: i64 = 180;

/// How long a running watch may get nothing done, inside a cycle, before
/// the verdict calls it stalled (a first sync's cycle is long, but its
/// steps finish and its copies write all along).
pub const STALLED_AFTER_S: i64 = 15 * 60;

impl Reason {
    /// The state this reason puts the verdict in (at least).
    #[must_use]
    pub fn health(&self) -> Health {
        match self {
            Self::Paused { .. } => Health::Paused,
            Self::Unavailable { .. } | Self::WatchStopped { .. } => Health::NotSyncing,
            Self::Blocked { .. } => Health::Blocked,
            Self::Conflicts { .. }
            | Self::FailingPaths { .. }
            | Self::SkippedPaths { .. }
            | Self::DriveKeepsNoTimes { .. }
            | Self::LowSpace { .. }
            | Self::WatchStalled { .. }
            | Self::AlertsUndelivered { .. } => Health::NeedsYou,
            Self::StepsPending { .. } | Self::NotSyncedYet => Health::Working,
        }
    }

    /// The commands that review or settle it, ready to paste.
    #[must_use]
    pub fn commands(&self) -> Vec<String> {
        match self {
            Self::Blocked { .. } => vec!["twinsync plan".into(), "twinsync apply --force".into()],
            Self::Conflicts { .. } => {
                vec!["twinsync resolve PATH --keep left|right|both".into()]
            }
            Self::Paused { .. } => vec!["twinsync resume".into()],
            Self::AlertsUndelivered { .. } => vec!["twinsync alert test".into()],
            Self::NotSyncedYet => vec!["twinsync plan".into(), "twinsync apply".into()],
            Self::WatchStopped { .. } => vec!["twinsync watch".into()],
            _ => Vec::new(),
        }
    }

    /// A few words for a headline: `1 unresolved conflict`.
    #[must_use]
    pub fn short(&self) -> String {
        match self {
            Self::Paused { by, .. } => format!("paused by the {}", actor_words(by)),
            Self::Unavailable { side, .. } => format!("the {side} side is unavailable"),
            Self::Blocked { refusal } => format!("the {} refused", refusal.guard),
            Self::Conflicts { count } => plural(*count, "unresolved conflict"),
            Self::FailingPaths { count } => plural(*count, "failing path"),
            Self::SkippedPaths { count } => format!("{} skipped", plural(*count, "path")),
            Self::StepsPending { steps, .. } => format!("{} pending", plural(*steps, "step")),
            Self::DriveKeepsNoTimes { side, .. } => {
                format!("the {side} drive keeps no modification times")
            }
            Self::LowSpace { side, .. } => format!("low free space on the {side} side"),
            Self::AlertsUndelivered { queued, .. } => {
                format!("{} not delivered", plural(*queued, "alert email"))
            }
            Self::NotSyncedYet => "no sync has run yet".into(),
            Self::WatchStopped { .. } => "the watch is not running".into(),
            Self::WatchStalled { .. } => "the watch gets nothing done".into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Paused { since, by } => {
                write!(f, "syncing is paused by the {}", actor_words(by))?;
                if !since.is_empty() {
                    write!(f, " since {}", local_time(since))?;
                }
                write!(
                    f,
                    ": nothing is planned or copied until `twinsync resume` (or Resume on the dashboard)"
                )
            }
            Self::Unavailable {
                side,
                problem,
                since,
            } => {
                write!(f, "the {side} side is unavailable")?;
                if let Some(s) = since {
                    write!(f, " since {}", local_time(s))?;
                }
                write!(
                    f,
                    ": {problem}; nothing is planned or deleted until it is back"
                )
            }
            Self::Blocked { refusal } => {
                write!(f, "the {} refused", refusal.guard)?;
                if !refusal.since.is_empty() {
                    write!(f, " (since {})", local_time(&refusal.since))?;
                }
                write!(
                    f,
                    ": {refusal} (stop `watch` or the service first: apply and watch never run at once)"
                )
            }
            Self::Conflicts { count } => write!(
                f,
                "{} waiting for you: both versions are kept until you run `twinsync resolve PATH --keep left|right|both`",
                plural(*count, "unresolved conflict")
            ),
            Self::FailingPaths { count } => write!(
                f,
                "{} (retried with backoff; the error of each is listed)",
                plural(*count, "failing path")
            ),
            Self::SkippedPaths { count } => write!(
                f,
                "{} skipped and left alone on both sides: names the other side cannot hold (reserved or invalid on Windows, or differing only in case), links, or folders and files that cannot be read; rename, replace or fix them to sync them (`twinsync status` says why for each)",
                plural(*count, "path")
            ),
            Self::StepsPending { steps, bytes } => write!(
                f,
                "{} pending ({} to copy), in the large-file lane or resumed by watch or the next apply",
                plural(*steps, "step"),
                humansize::format_size(*bytes, humansize::BINARY)
            ),
            Self::DriveKeepsNoTimes { side, since, error } => {
                write!(
                    f,
                    "the {side} drive does not keep modification times; newer-wins decisions there use the drive's times"
                )?;
                if let Some(s) = since {
                    write!(f, " (since {})", local_time(s))?;
                }
                write!(
                    f,
                    ". Copies go on and nothing is copied twice. The drive said: {error}"
                )
            }
            Self::LowSpace {
                side,
                place,
                folder,
                free,
                need,
                since,
            } => {
                let size = |n: &u64| humansize::format_size(*n, humansize::BINARY);
                write!(
                    f,
                    "low free space on the {side} side: the disk of {} `{folder}` has {} free, the copies of the last sync needed {}",
                    if place == "trash" {
                        "the trash folder"
                    } else {
                        "the root"
                    },
                    size(free),
                    size(need)
                )?;
                if let Some(s) = since {
                    write!(f, " (since {})", local_time(s))?;
                }
                write!(
                    f,
                    "; copies go on until it is full, then fail and are retried. Free some space (the trash: `twinsync trash purge`)"
                )
            }
            Self::AlertsUndelivered {
                queued,
                since,
                error,
            } => write!(
                f,
                "{} could not be sent since {}: the mail server said: {error}; check [email] in the config, then `twinsync alert test` sends the queue",
                plural(*queued, "alert email"),
                local_time(since)
            ),
            Self::NotSyncedYet => write!(
                f,
                "no sync has run yet with this state DB: `twinsync plan` shows what the first one will do, `twinsync apply` or the service (`twinsync watch`) runs it"
            ),
            Self::WatchStopped { last_seen } => write!(
                f,
                "the watch (the service) is not running: it stopped without a clean exit (killed, crashed, or the machine went down); its last sign of life was at {}. Nothing syncs until it runs again: start the service (Windows: `Start-Service twinsync`) or run `twinsync watch`; an interrupted step resumes",
                local_time(last_seen)
            ),
            Self::WatchStalled { pid, since } => write!(
                f,
                "the watch (process {pid}) runs but has got nothing done since {}: no cycle ended, no step finished, no byte was copied. A drive that does not answer? Check the drives and the log; restarting the service ends it (an interrupted step resumes)",
                local_time(since)
            ),
        }
    }
}

/// The verdict: a state and the reasons for it (most severe first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub health: Health,
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// `Needs you: 1 unresolved conflict, 3 paths skipped`, or `In sync`.
    #[must_use]
    pub fn headline(&self) -> String {
        let mut label = self.health.label().to_owned();
        if let Some(c) = label.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        let top: Vec<String> = self
            .reasons
            .iter()
            .filter(|r| r.health() == self.health)
            .map(Reason::short)
            .collect();
        if top.is_empty() {
            label
        } else {
            format!("{label}: {}", top.join(", "))
        }
    }

    /// The reasons that need the admin (`needs you` or worse).
    #[must_use]
    pub fn needs_admin(&self) -> Vec<&Reason> {
        self.reasons
            .iter()
            .filter(|r| r.health() >= Health::NeedsYou)
            .collect()
    }

    /// What a plan with nothing to apply still leaves open, for its
    /// headline (SPEC §12: "No changes" only when nothing is pending and
    /// nothing needs the admin): `Needs you: 1 unresolved conflict, 7
    /// paths skipped; working: 2 steps pending`. `None` when nothing is.
    /// A guard's refusal and an unavailable side are left out: a plan that
    /// was made passed the roots check and, unless refused, ends the refusal.
    #[must_use]
    pub fn open_items(&self) -> Option<String> {
        let groups: Vec<String> = [Health::Paused, Health::NeedsYou, Health::Working]
            .into_iter()
            .filter_map(|h| {
                let shorts: Vec<String> = self
                    .reasons
                    .iter()
                    // A plan is itself the first sync, or its review.
                    .filter(|r| r.health() == h && **r != Reason::NotSyncedYet)
                    .map(Reason::short)
                    .collect();
                match (shorts.is_empty(), h) {
                    (true, _) => None,
                    // "paused by the command line" says its state itself.
                    (false, Health::Paused) => Some(shorts.join(", ")),
                    (false, _) => Some(format!("{}: {}", h.label(), shorts.join(", "))),
                }
            })
            .collect();
        let mut text = groups.join("; ");
        if let Some(c) = text.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        (!text.is_empty()).then_some(text)
    }
}

impl Serialize for Verdict {
    /// `{"state": "needs_you", "label": "needs you", "exit_code": 5,
    /// "headline": …, "reasons": [{"kind": …, its fields, "state", "text", "commands"}]}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct R<'a> {
            #[serde(flatten)]
            reason: &'a Reason,
            state: Health,
            text: String,
            commands: Vec<String>,
        }
        #[derive(Serialize)]
        struct V<'a> {
            state: Health,
            label: &'static str,
            exit_code: i32,
            headline: String,
            reasons: Vec<R<'a>>,
        }
        V {
            state: self.health,
            label: self.health.label(),
            exit_code: self.health.exit_code(),
            headline: self.headline(),
            reasons: self
                .reasons
                .iter()
                .map(|r| R {
                    reason: r,
                    state: r.health(),
                    text: r.to_string(),
                    commands: r.commands(),
                })
                .collect(),
        }
        .serialize(s)
    }
}

/// What the verdict is made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The pause in force (`twinsync pause`, the dashboard).
    pub paused: Option<crate::control::Pause>,
    /// Unavailable sides: the problem and since when (RFC 3339).
    pub unavailable: Vec<(Side, String, Option<String>)>,
    /// The guard refusal remembered in the state DB.
    pub refusal: Option<Refusal>,
    pub conflicts: usize,
    pub failing: usize,
    pub skipped: usize,
    /// Steps of unfinished plans without an outcome, and their bytes.
    pub steps_pending: usize,
    pub bytes_pending: u64,
    /// Sides whose drive refused a copy's times: since when, and its error.
    pub no_times: Vec<(Side, Option<String>, String)>,
    /// Sides whose disk was short of room at the last apply.
    pub low_space: Vec<crate::apply::space::Shortfall>,
    /// Alert emails failing to go out for over an hour: how many, since
    /// when (RFC 3339), the latest error.
    pub undelivered: Option<(usize, String, String)>,
    /// No plan was ever applied with this state DB.
    pub never_synced: bool,
    /// The last watch's note, if one ever ran, and whether a process holds
    /// the run lock now (`None`: the lock file cannot be looked at).
    pub watch: Option<(WatchRun, Option<bool>)>,
    /// The present (Unix seconds): the age of the watch's signs of life.
    pub now_s: i64,
}

impl Facts {
    /// Reads the facts from the state DB, given what the caller found
    /// already: each side's problem (`None`: available) from the roots
    /// check, and the steps pending with their bytes.
    ///
    /// # Errors
    /// State DB errors.
    pub fn read(
        state: &State,
        problems: [(Side, Option<&str>); 2],
        steps_pending: usize,
        bytes_pending: u64,
    ) -> Result<Self, StateError> {
        let mut unavailable = Vec::new();
        for (side, problem) in problems {
            if let Some(p) = problem {
                unavailable.push((side, p.to_owned(), state.unavailable_since(side)?));
            }
        }
        Ok(Self {
            paused: crate::control::paused(state)?,
            unavailable,
            refusal: guard::remembered(state)?,
            conflicts: state.conflicts()?.len(),
            failing: state.failures()?.len(),
            skipped: state.skipped()?.len(),
            steps_pending,
            bytes_pending,
            no_times: no_times(state)?,
            low_space: crate::apply::space::notes(state)?,
            undelivered: undelivered(state)?,
            never_synced: !state.has_synced()?,
            watch: match state.watch_run()? {
                Some(run) if run.stopped_at.is_none() => {
                    Some((run, RunLock::is_held(state.file())))
                }
                _ => None,
            },
            now_s: chrono::Utc::now().timestamp(),
        })
    }
}

/// Alert emails that have failed to go out for over an hour.
fn undelivered(state: &State) -> Result<Option<(usize, String, String)>, StateError> {
    let now = chrono::Utc::now();
    let found = state.undelivered_since(now.timestamp() - UNDELIVERED_AFTER_S)?;
    Ok(found.map(|(n, oldest, error)| {
        let since = chrono::DateTime::from_timestamp(oldest, 0)
            .unwrap_or(now)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        (usize::try_from(n).unwrap_or(usize::MAX), since, error)
    }))
}

/// The drives noted as keeping no times (see [`crate::apply::no_times_key`]).
fn no_times(state: &State) -> Result<Vec<(Side, Option<String>, String)>, StateError> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        if let Some(note) = state.meta(&crate::apply::no_times_key(side))? {
            let v: serde_json::Value = serde_json::from_str(&note).unwrap_or_default();
            let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
            out.push((side, text("since"), text("error").unwrap_or(note)));
        }
    }
    Ok(out)
}

/// The verdict of `facts` (pure).
#[must_use]
pub fn verdict(facts: &Facts) -> Verdict {
    let mut reasons: Vec<Reason> = facts
        .paused
        .iter()
        .map(|p| Reason::Paused {
            since: p.since.clone(),
            by: p.by.clone(),
        })
        .collect();
    reasons.extend(
        facts
            .unavailable
            .iter()
            .map(|(side, problem, since)| Reason::Unavailable {
                side: *side,
                problem: problem.clone(),
                since: since.clone(),
            }),
    );
    if let Some(r) = &facts.refusal {
        reasons.push(Reason::Blocked { refusal: r.clone() });
    }
    for (n, reason) in [
        (
            facts.conflicts,
            Reason::Conflicts {
                count: facts.conflicts,
            },
        ),
        (
            facts.failing,
            Reason::FailingPaths {
                count: facts.failing,
            },
        ),
        (
            facts.skipped,
            Reason::SkippedPaths {
                count: facts.skipped,
            },
        ),
        (
            facts.steps_pending,
            Reason::StepsPending {
                steps: facts.steps_pending,
                bytes: facts.bytes_pending,
            },
        ),
    ] {
        if n > 0 {
            reasons.push(reason);
        }
    }
    for (side, since, error) in &facts.no_times {
        reasons.push(Reason::DriveKeepsNoTimes {
            side: *side,
            since: since.clone(),
            error: error.clone(),
        });
    }
    for s in &facts.low_space {
        reasons.push(Reason::LowSpace {
            side: s.side,
            place: s.place.clone(),
            folder: s.folder.clone(),
            free: s.free,
            need: s.need,
            since: (!s.since.is_empty()).then(|| s.since.clone()),
        });
    }
    if facts.never_synced {
        reasons.push(Reason::NotSyncedYet);
    }
    if let Some(r) = watch_reason(facts) {
        reasons.push(r);
    }
    if let Some((queued, since, error)) = &facts.undelivered {
        reasons.push(Reason::AlertsUndelivered {
            queued: *queued,
            since: since.clone(),
            error: error.clone(),
        });
    }
    // Most severe first; the order within a state stays as above.
    reasons.sort_by_key(|r| std::cmp::Reverse(r.health()));
    Verdict {
        health: reasons.first().map_or(Health::InSync, Reason::health),
        reasons,
    }
}

/// What the last watch's note says, when it says something is wrong.
fn watch_reason(facts: &Facts) -> Option<Reason> {
    let (run, held) = facts.watch.as_ref()?;
    let rfc = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    if run.stopped_at.is_some() {
        return None;
    }
    let dead = *held == Some(false) || run.dead;
    match held {
        // Dead: nobody holds the lock it held (or an apply found it so),
        // and no sign of life for a while (a service the system restarts
        // at once, or a watch stopped by hand, is not worth the alarm).
        _ if dead && facts.now_s - run.alive_at > STOPPED_AFTER_S => Some(Reason::WatchStopped {
            last_seen: rfc(run.alive_at),
        }),
        // Hung: alive (or not even beating) but nothing done for long.
        Some(true) if facts.now_s - run.progress_at > STALLED_AFTER_S => {
            Some(Reason::WatchStalled {
                pid: run.pid,
                since: rfc(run.progress_at),
            })
        }
        _ => None,
    }
}

/// An RFC 3339 time as people read it: local time with its offset, to the
/// second (`2026-12-07 03:33:10 +01:00`); anything else as it is.
#[must_use]
pub fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_owned(),
        |t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        },
    )
}

/// `the dashboard`, `the command line`: who paused.
fn actor_words(by: &str) -> &str {
    match by {
        "cli" => "command line",
        other => other,
    }
}

/// `1 path`, `3 paths`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests;
