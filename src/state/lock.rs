//! The run lock of a state DB: only one `apply` or `watch` changes the
//! roots of one state DB at a time. It is an OS file lock on a file next to
//! the DB (`<state_db>.lock`), not DB code, so it is released when the
//! process dies and can never go stale.

use std::path::{Path, PathBuf};

/// Why the run lock could not be taken; each names the lock file.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open lock file `{}`: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another twinsync (watch, the service, or an apply) is already syncing with state DB `{}`; stop it first (lock: {})",
        state_db.display(),
        path.display()
    )]
    Held { state_db: PathBuf, path: PathBuf },
    #[error("cannot lock `{}`: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How many times (100 ms apart) [`RunLock::acquire`] tries a held lock.
const ACQUIRE_TRIES: u32 = 20;

/// `<state_db>.lock`.
fn lock_path(state_db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", state_db.display()))
}

/// Holds the run lock of a state DB: only one `apply` or `watch` may change
/// the roots of one state DB at a time. Released when dropped (or when the
/// process dies: it is an OS file lock, never a stale file).
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    /// Takes the lock next to the state DB (`<state_db>.lock`).
    ///
    /// # Errors
    /// `Held` when another twinsync holds it; `Open`/`Lock` when the lock
    /// file cannot be opened or locked.
    pub fn acquire(state_db: &Path) -> Result<Self, LockError> {
        // `is_held` (status, the report) holds the lock for an instant to
        // look: a start that meets it tries again for a moment rather than
        // refuse. So does a service restarted while its old run exits.
        let mut tries = 0;
        loop {
            match Self::try_acquire(state_db) {
                Err(LockError::Held { .. }) if tries < ACQUIRE_TRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// Whether a twinsync (`watch`, the service, an `apply`) holds the run
    /// lock of `state_db` now. Looking takes the lock for an instant when
    /// it is free ([`Self::acquire`] waits that out). `Some(false)` when
    /// there is no lock file (nothing ever held it); `None` when it cannot
    /// be looked at (permissions, I/O): unknown.
    #[must_use]
    pub fn is_held(state_db: &Path) -> Option<bool> {
        let path = lock_path(state_db);
        let file = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(false),
            Err(_) => return None,
        };
        match file.try_lock() {
            Ok(()) => Some(false),
            Err(std::fs::TryLockError::WouldBlock) => Some(true),
            Err(std::fs::TryLockError::Error(_)) => None,
        }
    }

    fn try_acquire(state_db: &Path) -> Result<Self, LockError> {
        let path = lock_path(state_db);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A failure here surfaces just below as `Open`, naming the path.
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| LockError::Open {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held {
                state_db: state_db.to_path_buf(),
                path,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(LockError::Lock { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_held` tells a lock held by another run from a free one, and
    /// looking does not keep it.
    #[test]
    fn is_held_sees_a_run_and_looking_leaves_the_lock_free() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("s.db");
        assert_eq!(RunLock::is_held(&db), Some(false), "no lock file yet");
        let lock = RunLock::acquire(&db).unwrap();
        assert_eq!(RunLock::is_held(&db), Some(true));
        drop(lock);
        assert_eq!(RunLock::is_held(&db), Some(false));
        // Looking at a free lock leaves it free for the next run.
        let again = RunLock::try_acquire(&db);
        assert!(again.is_ok(), "{again:?}");
    }

    /// A lock released a moment later is taken (a run starting while
    /// `status` looks, or while the old service run exits); one held on is
    /// refused, naming the state DB.
    #[test]
    fn acquire_waits_a_moment_for_a_lock_then_refuses() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("s.db");
        let first = RunLock::acquire(&db).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(first);
        });
        assert!(RunLock::acquire(&db).is_ok());
        releaser.join().unwrap();
        let _held = RunLock::acquire(&db).unwrap();
        let e = RunLock::acquire(&db).unwrap_err();
        assert!(matches!(e, LockError::Held { .. }), "{e}");
        assert!(e.to_string().contains("s.db"), "{e}");
    }
}
