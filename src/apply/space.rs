//! The free-space alert (issue 22): a disk that cannot hold what a plan is
//! about to write there is said BEFORE copies start failing on it.
//!
//! Once per apply (the CLI's and each `watch` cycle's, after [`super::admit`]),
//! each side's disk is asked for its free space ([`crate::fs::Fs::free_space`],
//! one call) and compared with what the plan's steps not yet done will
//! write there:
//! - the root's disk: the bytes of the copies to that side (each is written
//!   whole to a temp file before the old version is moved away, and a
//!   replaced or deleted version that goes to a trash inside the root is
//!   renamed, freeing nothing; so the copies' bytes are what the disk must
//!   find);
//! - a trash outside the root (`[soft_delete] left_trash_root` / `right_…`
//!   on another disk): the versions that go there are copied, so its disk
//!   must hold the soft-deleted files and the replaced versions kept (by
//!   the rule of their folder, [`Config::soft_delete_at`]).
//!
//! When a disk is short: a warning in the log (`alert` event; at info level
//! while the same condition lasts), a note in
//! the state DB (`low_space_<side>`, with since when, the free and needed
//! bytes) that makes the health verdict say `needs you` (`status`, the
//! report, the console), and one email through the outbox per condition
//! (when the note appears, not at every apply while it stays). The note
//! clears itself at the first apply that finds enough room (with nothing
//! to write there: room for what the note said was needed).
//!
//! Copies still proceed (decided so): the drive may free space meanwhile
//! (a cloud client evicting files, an admin emptying the trash), a copy
//! that does not fit fails atomically like any failed write (temp removed,
//! the old version in place, retried next cycle), and the copies that fit
//! — small files, most of them — still get through. Refusing the run would
//! stop those too, for a figure that may be stale.
//!
//! Invariants: a free space that cannot be read (`None`) is unknown, never
//! "enough": the note then stays as it was. Nothing here writes to a root.

use crate::Side;
use crate::config::{Config, TrashRoot};
use crate::fs::Fs;
use crate::log::Logger;
use crate::plan::{Step, ValidPlan};
use crate::roots::Sides;
use crate::state::State;
use serde_json::json;

/// Where a side is short of room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shortfall {
    pub side: Side,
    /// `root` (the root's disk) or `trash` (a trash folder outside the root).
    pub place: String,
    /// The folder whose disk it is.
    pub folder: String,
    pub free: u64,
    pub need: u64,
    /// When it was first found so (RFC 3339).
    pub since: String,
    /// Found by this check, not noted before (what `watch` tells once).
    #[serde(skip)]
    pub new: bool,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.place == "trash" {
            "the versions this sync moves to its trash"
        } else {
            "the copies this sync makes there"
        };
        write!(
            f,
            "the disk of the {} {} `{}` has {} free, less than the {} {what} need; copies go on until the disk is full, then fail and are retried: free some space",
            self.side,
            if self.place == "trash" {
                "trash folder"
            } else {
                "root"
            },
            self.folder,
            crate::human_size(self.free),
            crate::human_size(self.need),
        )
    }
}

/// The state-DB key of a side's low-space note (a [`Shortfall`] as JSON).
#[must_use]
pub fn low_space_key(side: Side) -> String {
    format!("low_space_{side}")
}

/// The bytes `plan`'s steps not yet done write per side: (to the root's
/// disk, to the trash).
pub(super) fn needs(plan: &ValidPlan, cfg: &Config, state: &State) -> crate::PerSide<(u64, u64)> {
    let mut need = crate::PerSide::new((0u64, 0u64), (0u64, 0u64));
    if state
        .plan_status(&plan.plan_id)
        .is_ok_and(|s| s.is_some_and(|s| s != crate::PlanStatus::Running))
    {
        return need; // applied before: nothing of it runs again
    }
    // Unreadable: every step counts (the figure errs on the large side).
    let done = state.step_status(&plan.plan_id).unwrap_or_default();
    for op in plan.ops.iter().filter(|op| !done.contains_key(&op.id)) {
        match &op.step {
            Step::Copy(c) => {
                need[c.side].0 += op.bytes;
                let replaced = op
                    .expect
                    .iter()
                    .find(|e| e.side == c.side && e.path == c.dest_path && e.exists)
                    .filter(|e| e.kind == Some(crate::Kind::File));
                if let Some(e) = replaced
                    && cfg.soft_delete_at(&c.dest_path, e.size)
                {
                    need[c.side].1 += e.size;
                }
            }
            Step::Delete(d) if d.soft => need[d.side].1 += op.bytes,
            _ => {}
        }
    }
    need
}

/// Checks each side's free space against `plan` (see the module doc):
/// notes, logs and alerts a shortfall once, clears a note that no longer
/// holds. Returns the shortfalls found now (for the caller to show).
pub fn check(
    plan: &ValidPlan,
    cfg: &Config,
    sides: &Sides,
    state: &State,
    log: &Logger,
) -> Vec<Shortfall> {
    let need = needs(plan, cfg, state);
    let mut found = Vec::new();
    for side in Side::BOTH {
        let (root_need, trash_need) = need[side];
        let fs = sides.get(side);
        let mut places: Vec<(&str, String, u64, Option<u64>)> = Vec::new();
        if root_need > 0 {
            places.push(("root", fs.root_display(), root_need, fs.free_space()));
        }
        if let TrashRoot::Outside(p) = cfg.trash(side)
            && trash_need > 0
        {
            let trash = crate::fs::real::RealFs::new(p);
            places.push((
                "trash",
                p.display().to_string(),
                trash_need,
                trash.free_space(),
            ));
        }
        let key = low_space_key(side);
        let noted = state.meta(&key).ok().flatten();
        // A note that does not parse (an older build's) is replaced or cleared.
        let known: Option<Shortfall> = noted.as_deref().and_then(|v| serde_json::from_str(v).ok());
        // Nothing to write there this time (the failed copies may be waiting
        // for their retry): a note clears only when its disk has the room it
        // lacked, so a backoff does not make the alert come and go.
        if places.is_empty() {
            let free = known.as_ref().map(|k| {
                let free = if k.place == "trash" {
                    crate::fs::real::RealFs::new(&k.folder).free_space()
                } else {
                    fs.free_space()
                };
                (free, k.need)
            });
            let room = match free {
                Some((free, need)) => free.is_some_and(|f| f >= need),
                None => noted.is_some(), // unreadable note: nothing to keep
            };
            if room {
                clear(state, log, side, &key);
            }
            continue;
        }
        let short = places
            .iter()
            .find(|(_, _, need, free)| free.is_some_and(|f| f < *need));
        let unknown = places.iter().any(|(.., free)| free.is_none());
        match short {
            Some((place, folder, need, Some(free))) => {
                let s = Shortfall {
                    side,
                    place: (*place).to_owned(),
                    folder: folder.clone(),
                    free: *free,
                    need: *need,
                    since: known.as_ref().map_or_else(
                        || chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                        |k| k.since.clone(),
                    ),
                    new: known.is_none(),
                };
                // A warning when it starts; while it lasts, an info line per
                // apply (a `watch` cycle every few seconds must not flood the log).
                let level = if known.is_none() {
                    crate::config::Level::Warn
                } else {
                    crate::config::Level::Info
                };
                log.event(
                    level,
                    "alert",
                    json!({"side": side, "result": "ok", "bytes": s.need, "free_bytes": s.free,
                           "note": s.to_string()}),
                );
                if let Err(e) = state.set_meta(&key, &json!(s).to_string()) {
                    log.warn(
                        "error",
                        json!({"side": side, "error": format!("cannot note the low free space: {e}")}),
                    );
                }
                if known.is_none() && cfg.raw.email.enabled {
                    crate::alert::enqueue(
                        state,
                        "space",
                        &format!("low free space on the {side} side"),
                        &format!(
                            "{s}.\n\nFree: {}. Needed by this sync: {}.\nThis alert is sent once; `twinsync status` says `needs you` until an apply finds enough room.",
                            crate::human::plural(s.free, "byte", "bytes"),
                            crate::human::plural(s.need, "byte", "bytes")
                        ),
                    );
                }
                found.push(s);
            }
            _ if noted.is_some() && !unknown => clear(state, log, side, &key),
            _ => {}
        }
    }
    found
}

/// Drops a side's low-space note, saying so in the log.
fn clear(state: &State, log: &Logger, side: Side, key: &str) {
    if let Err(e) = state.delete_meta(key) {
        log.warn(
            "error",
            json!({"side": side, "error": format!("cannot clear the low free space note: {e}")}),
        );
        return;
    }
    log.info(
        "alert",
        json!({"side": side, "result": "ok", "note": format!("the {side} side has room again for what the sync writes there")}),
    );
}

/// The low-space notes in the state DB (for the health verdict).
///
/// # Errors
/// State DB errors.
pub fn notes(state: &State) -> Result<Vec<Shortfall>, crate::state::StateError> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        if let Some(v) = state.meta(&low_space_key(side))? {
            // A note that does not parse still says "short": shown with
            // unknown figures until the next apply writes or clears it.
            out.push(serde_json::from_str(&v).unwrap_or(Shortfall {
                side,
                place: "root".into(),
                folder: "?".into(),
                free: 0,
                need: 0,
                since: String::new(),
                new: false,
            }));
        }
    }
    Ok(out)
}
