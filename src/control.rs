//! The admin's actions that both the command line and the dashboard take,
//! in one place so both do exactly the same: settle a conflict
//! (`resolve`), pause and resume syncing.
//!
//! Each action only records the admin's wish in the state DB; `watch` (or
//! the next `apply`) acts on it at its next cycle boundary, never in the
//! middle of a step. Restoring from the trash is
//! [`crate::apply::trash::restore`], shared the same way.
//!
//! Pause: the `paused` meta key holds `{"since": RFC 3339, "by": actor}`.
//! While it is there `watch` checks the roots but plans and applies
//! nothing, and the health verdict is `paused` ([`crate::health`]); it
//! lasts across restarts until `resume`.

use crate::state::{ConflictRecord, State, StateError};
use crate::{Keep, paths};
use serde::{Deserialize, Serialize};

/// The meta key that holds the pause.
pub const PAUSED_KEY: &str = "paused";

/// Why an action could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    State(#[from] StateError),
    /// `resolve` of a path with no unresolved conflict.
    #[error("no unresolved conflict for `{0}` (see `twinsync status`)")]
    NoConflict(String),
}

/// A pause in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When it started (RFC 3339).
    pub since: String,
    /// Who paused: `cli` or `dashboard`.
    pub by: String,
}

/// The pause in force, if any (an unreadable value still pauses: the admin
/// asked for it).
///
/// # Errors
/// State DB errors.
pub fn paused(state: &State) -> Result<Option<Pause>, StateError> {
    Ok(state.meta(PAUSED_KEY)?.map(|v| {
        serde_json::from_str(&v).unwrap_or(Pause {
            since: String::new(),
            by: v,
        })
    }))
}

/// Pauses syncing (kept as it is when already paused). Returns the pause in force.
///
/// # Errors
/// State DB errors.
pub fn pause(state: &State, by: &str) -> Result<Pause, StateError> {
    if let Some(p) = paused(state)? {
        return Ok(p);
    }
    let p = Pause {
        since: crate::fmt_time(crate::now_ns()),
        by: by.to_owned(),
    };
    state.set_meta(PAUSED_KEY, &serde_json::to_string(&p).unwrap_or_default())?;
    Ok(p)
}

/// Resumes syncing. Returns whether it was paused.
///
/// # Errors
/// State DB errors.
pub fn resume(state: &State) -> Result<bool, StateError> {
    let was = state.meta(PAUSED_KEY)?.is_some();
    state.delete_meta(PAUSED_KEY)?;
    Ok(was)
}

/// Records which version wins an unresolved conflict at `path` (as the
/// admin typed it; `\` is read as `/`); the next apply or watch cycle
/// settles it. Returns the conflict as it was.
///
/// # Errors
/// No unresolved conflict there; state DB errors.
pub fn resolve(
    state: &State,
    path: &str,
    case_sensitive: bool,
    keep: Keep,
) -> Result<ConflictRecord, ControlError> {
    let key = paths::key_of(&path.replace('\\', "/"), case_sensitive);
    let c = state
        .conflicts()?
        .remove(&key)
        .ok_or_else(|| ControlError::NoConflict(path.to_owned()))?;
    state.set_conflict_keep(c.clone(), keep)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_persists_until_resume_and_keeps_the_first_pause() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let state = State::open_or_create(&db).unwrap();
        assert_eq!(paused(&state).unwrap(), None);
        let p = pause(&state, "dashboard").unwrap();
        assert_eq!(p.by, "dashboard");
        assert_eq!(pause(&state, "cli").unwrap(), p, "already paused: kept");
        drop(state);
        let state = State::open(&db).unwrap();
        assert_eq!(paused(&state).unwrap(), Some(p));
        assert!(resume(&state).unwrap());
        assert_eq!(paused(&state).unwrap(), None);
        assert!(!resume(&state).unwrap());
    }
}
