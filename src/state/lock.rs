//! The run lock of a state DB: only one `apply` or `watch` changes the
//! roots of one state DB at a time. It is an OS file lock on a file next to
//! the DB (`<state_db>.lock`), not DB code, so it is released when the
//! process dies and can never go stale.

use std::path::{Path, PathBuf};

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
    /// A message saying another twinsync holds it.
    pub fn acquire(state_db: &Path) -> Result<Self, String> {
        let path = PathBuf::from(format!("{}.lock", state_db.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open lock file `{}`: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "another twinsync (watch, the service, or an apply) is already syncing with state DB `{}`; stop it first (lock: {})",
                state_db.display(),
                path.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(format!("cannot lock `{}`: {e}", path.display()))
            }
        }
    }
}
