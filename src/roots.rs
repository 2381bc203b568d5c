//! The two roots (SPEC §4): the [`Sides`] every stage reads and writes
//! through, the marker file (`.twinsync-root`) that proves a root is the
//! folder the state DB knows, and the availability check every command and
//! every `watch` cycle runs before it scans, plans or applies anything.
//!
//! Invariants: a side whose root is missing, or whose marker is missing,
//! unreadable or holds another id than the state DB, is [`Unavailable`]
//! (exit 3): nothing is planned, applied or deleted on either side. Only
//! [`init`] writes a marker; everything else reads markers, and adopts their
//! ids into a state DB that has none yet ([`known_ids`]).

use crate::Side;
use crate::config::Config;
use crate::fs::{Fs, Kind, real::RealFs, retry::RetryFs};
use crate::paths::MARKER_NAME;
use crate::state::{State, StateError};
use std::sync::Arc;

/// A side that cannot be synced now (SPEC §4; exit 3).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{side} root `{root}` is unavailable: {why}")]
pub struct Unavailable {
    pub side: Side,
    /// The root as people know it.
    pub root: String,
    pub why: String,
    /// The root is there but its marker is not (what to do depends on
    /// whether the root was ever synced: [`check_root_in`]).
    pub marker_missing: bool,
}

impl Unavailable {
    #[must_use]
    pub fn new(side: Side, fs: &dyn Fs, why: impl Into<String>) -> Self {
        Self {
            side,
            root: fs.root_display(),
            why: why.into(),
            marker_missing: false,
        }
    }

    /// The marker is missing from a root the state DB knows (SPEC §4: the
    /// drive is not mounted or the root is wrong). `init` is named only
    /// for a root never synced: for one synced before it refuses, rightly.
    fn missing_marker(side: Side, fs: &dyn Fs, never_synced: bool) -> Self {
        let key = format!("{side}_root");
        let why = if never_synced {
            format!(
                "marker {MARKER_NAME} is missing and nothing was synced here yet: if `{key}` is the right folder, `twinsync init` writes the marker again; otherwise check the drive and `{key}` in the config"
            )
        } else {
            format!(
                "marker {MARKER_NAME} is missing: the drive is not mounted (or is empty), or `{key}` points at another folder. Check the drive and `{key}` in the config; syncing resumes once the root with its marker is back"
            )
        };
        Self {
            marker_missing: true,
            ..Self::new(side, fs, why)
        }
    }
}

/// Why the roots could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error(transparent)]
    State(#[from] StateError),
}

impl RootError {
    /// The error of a stage that tells an unavailable side (exit 3) from a
    /// state DB error: the one place a `RootError` is unpacked.
    #[must_use]
    pub fn unpack<E: From<Unavailable> + From<StateError>>(self) -> E {
        match self {
            Self::Unavailable(u) => u.into(),
            Self::State(s) => s.into(),
        }
    }
}

/// The two roots.
#[derive(Clone)]
pub struct Sides {
    pub left: Arc<dyn Fs>,
    pub right: Arc<dyn Fs>,
}

impl Sides {
    /// The real roots of a config (interrupted reads retried, see
    /// [`crate::fs::retry`]).
    #[must_use]
    pub fn real(c: &Config) -> Self {
        Self {
            left: RetryFs::wrap(Arc::new(RealFs::new(&c.left_root))),
            right: RetryFs::wrap(Arc::new(RealFs::new(&c.right_root))),
        }
    }

    #[must_use]
    pub fn get(&self, s: Side) -> &dyn Fs {
        match s {
            Side::Left => self.left.as_ref(),
            Side::Right => self.right.as_ref(),
        }
    }
}

/// The marker file at the top of a root.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Marker {
    pub root_id: String,
    #[serde(default)]
    pub side: String,
    #[serde(default)]
    pub created_at: String,
}

/// Reads a root's marker: `Ok(None)` when the root exists without one.
///
/// # Errors
/// `Unavailable` when the root is missing or the marker unreadable.
pub fn read_marker(fs: &dyn Fs, side: Side) -> Result<Option<Marker>, Unavailable> {
    let unavailable = |why: String| Unavailable::new(side, fs, why);
    match fs.stat("") {
        Ok(Some(m)) if m.kind == Kind::Dir => {}
        Ok(Some(_)) => {
            return Err(unavailable(
                "it is a file, not a folder: point the root at a folder".into(),
            ));
        }
        Ok(None) => {
            return Err(unavailable(
                "the folder does not exist (drive not mounted?)".into(),
            ));
        }
        Err(e) => return Err(unavailable(e.to_string())),
    }
    match fs.stat(MARKER_NAME) {
        Ok(None) => return Ok(None),
        Ok(Some(_)) => {}
        Err(e) => return Err(unavailable(e.to_string())),
    }
    let bytes = fs
        .read_all(MARKER_NAME)
        .map_err(|e| unavailable(e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| unavailable(format!("marker {MARKER_NAME} is not valid: {e}")))
}

/// Checks a root is there and holds the marker with the expected id.
///
/// # Errors
/// `Unavailable` naming what is wrong.
pub fn check_root(fs: &dyn Fs, side: Side, expected_id: &str) -> Result<(), Unavailable> {
    match read_marker(fs, side)? {
        Some(m) if m.root_id == expected_id => Ok(()),
        Some(m) => Err(Unavailable::new(
            side,
            fs,
            format!(
                "marker {MARKER_NAME} holds root id {} but the state DB expects {expected_id} (a different folder or drive is mounted there)",
                m.root_id
            ),
        )),
        None => Err(Unavailable::missing_marker(side, fs, false)),
    }
}

/// [`check_root`] with the state DB at hand: a missing marker on a root
/// never synced (no file recorded, as `init` decides) names `init`.
///
/// # Errors
/// `Unavailable` naming what is wrong and what recovers it.
pub fn check_root_in(
    state: &State,
    fs: &dyn Fs,
    side: Side,
    expected_id: &str,
) -> Result<(), Unavailable> {
    check_root(fs, side, expected_id).map_err(|u| {
        if u.marker_missing && state.file_count().is_ok_and(|n| n == 0) {
            Unavailable::missing_marker(side, fs, true)
        } else {
            u
        }
    })
}

/// True while the root still holds its marker: checked again during a
/// walk and before each applied step (a drive unmounted mid-run leaves an
/// empty mount point, whose emptiness must never read as deletions).
#[must_use]
pub fn marker_present(fs: &dyn Fs) -> bool {
    matches!(fs.stat(MARKER_NAME), Ok(Some(_)))
}

/// The root ids the state DB knows, left then right; a DB that knows none
/// yet adopts the markers' ids (SPEC §4). Never writes a marker.
///
/// # Errors
/// `Unavailable` when a root or its marker is missing; state errors.
pub fn known_ids(state: &State, sides: &Sides) -> Result<(String, String), RootError> {
    let id_of = |side: Side| -> Result<String, RootError> {
        if let Some(id) = state.root_id(side)? {
            return Ok(id);
        }
        let fs = sides.get(side);
        let m = read_marker(fs, side)?.ok_or_else(|| {
            Unavailable::new(
                side,
                fs,
                format!(
                    "marker {MARKER_NAME} is missing and the state DB knows no root here: if this root was never synced, run `twinsync init` first; otherwise the drive is not mounted or `{side}_root` points at another folder"
                ),
            )
        })?;
        state.set_meta(&format!("{side}_root_id"), &m.root_id)?;
        Ok(m.root_id)
    };
    let left = id_of(Side::Left)?;
    let right = id_of(Side::Right)?;
    Ok((left, right))
}

/// Checks both roots against the ids the state DB knows (left first).
///
/// # Errors
/// The first side found `Unavailable`.
pub fn check_ids(sides: &Sides, (left, right): (&str, &str)) -> Result<(), Unavailable> {
    check_root(sides.left.as_ref(), Side::Left, left)?;
    check_root(sides.right.as_ref(), Side::Right, right)
}

/// [`known_ids`] then each root checked ([`check_root_in`]): the check
/// before every scan.
///
/// # Errors
/// As those two.
pub fn check(state: &State, sides: &Sides) -> Result<(String, String), RootError> {
    let (left, right) = known_ids(state, sides)?;
    check_root_in(state, sides.left.as_ref(), Side::Left, &left)?;
    check_root_in(state, sides.right.as_ref(), Side::Right, &right)?;
    Ok((left, right))
}

/// Why `init` stopped.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A root or marker the admin must fix first (exit 3).
    #[error("{0}")]
    Unavailable(String),
    /// A root folder or a marker could not be written.
    #[error("{0}")]
    Write(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// `init` (SPEC §4): creates missing root folders when asked, the state DB,
/// and each root's marker, or adopts a marker already there. A marker that
/// contradicts the state DB, or a missing marker on a root the DB has
/// synced before, is refused: that is another folder or an unmounted drive.
/// `note` receives one line per thing done, as it is done.
///
/// # Errors
/// [`InitError`] naming the root and what to do.
pub fn init(
    cfg: &Config,
    create_roots: bool,
    note: &mut dyn FnMut(String),
) -> Result<(), InitError> {
    for side in Side::BOTH {
        let root = cfg.root(side);
        if root.exists() && !root.is_dir() {
            return Err(InitError::Unavailable(format!(
                "{side} root `{}` is a file, not a folder; fix `{side}_root` in {}",
                root.display(),
                cfg.file.display()
            )));
        }
        if !root.is_dir() {
            if create_roots {
                std::fs::create_dir_all(root).map_err(|e| {
                    InitError::Write(format!(
                        "cannot create {side} root `{}`: {e}",
                        root.display()
                    ))
                })?;
                note(format!("created {side} root {}", root.display()));
            } else {
                return Err(InitError::Unavailable(format!(
                    "{side} root `{}` does not exist; create it (or pass --create-roots), or fix `{side}_root` in {}",
                    root.display(),
                    cfg.file.display()
                )));
            }
        }
    }
    let state = State::open_or_create(&cfg.state_db)?;
    let sides = Sides::real(cfg);
    let has_files = state.file_count()? > 0;
    for side in Side::BOTH {
        let fs = sides.get(side);
        let known = state.root_id(side)?;
        let marker = read_marker(fs, side).map_err(|e| InitError::Unavailable(e.to_string()))?;
        let id = match (marker, known) {
            (Some(m), Some(k)) if m.root_id != k => {
                return Err(InitError::Unavailable(format!(
                    "{side} root `{}` holds marker id {} but the state DB `{}` knows id {k}: this is a different folder or drive. \
                     Point {side}_root at the right folder, or move the state DB aside to start over",
                    fs.root_display(),
                    m.root_id,
                    cfg.state_db.display()
                )));
            }
            (Some(m), _) => m.root_id,
            (None, Some(_)) if has_files => {
                return Err(InitError::Unavailable(format!(
                    "{side} root `{}` has no marker {} but the state DB `{}` has synced it before. \
                     If the drive is not mounted, mount it; if the marker was deleted by mistake, restore it; \
                     to start over, move the state DB aside and run init again",
                    fs.root_display(),
                    MARKER_NAME,
                    cfg.state_db.display()
                )));
            }
            (None, known) => {
                let id = known.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let m = Marker {
                    root_id: id.clone(),
                    side: side.as_str().into(),
                    created_at: chrono::Utc::now().to_rfc3339(),
                };
                let body = serde_json::to_vec_pretty(&m).unwrap_or_default();
                fs.write_all(MARKER_NAME, &body)
                    .map_err(|e| InitError::Write(format!("cannot write marker: {e}")))?;
                note(format!(
                    "wrote marker {}/{}",
                    fs.root_display(),
                    MARKER_NAME
                ));
                id
            }
        };
        state.set_meta(&format!("{side}_root_id"), &id)?;
        note(format!("{side:<5} root {}  (id {id})", fs.root_display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::mem::MemFs;

    #[test]
    fn missing_root_and_foreign_marker_are_unavailable() {
        let m = MemFs::new("l", false, 1);
        assert!(matches!(
            check_root(&m, Side::Left, "x"),
            Err(Unavailable { .. })
        ));
        m.put(MARKER_NAME, br#"{"root_id":"y"}"#);
        let e = check_root(&m, Side::Left, "x").unwrap_err().to_string();
        assert!(e.contains("root id y"), "{e}");
        check_root(&m, Side::Left, "y").unwrap();
        m.set_root_present(false);
        assert!(check_root(&m, Side::Left, "y").is_err());
    }

    #[test]
    fn a_root_that_is_a_file_says_so() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("share");
        std::fs::write(&f, b"not a folder").unwrap();
        let e = check_root(&RealFs::new(&f), Side::Right, "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is a file, not a folder") && !e.contains("does not exist"),
            "{e}"
        );
    }
}
