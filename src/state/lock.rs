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
        let path = PathBuf::from(format!("{}.lock", state_db.display()));
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
