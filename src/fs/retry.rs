//! Interrupted calls, retried: the one place twinsync decides that a read,
//! a `stat` or a listing that was interrupted is tried again rather than
//! reported.
//!
//! Network and user-space file systems (NFS, CIFS/SMB, FUSE cloud clients)
//! let a signal interrupt a call that a local disk would finish: `read()`
//! or `stat()` returns `EINTR`. On Windows the cousins are
//! `ERROR_OPERATION_ABORTED` (an I/O cancelled under the caller) and
//! `ERROR_RETRY`. None of them says anything about the file: the call did
//! not happen and may simply be made again. So they must never surface as a
//! failed copy, a hash left for later or, worst, a root marker "missing"
//! and the whole side reported unavailable.
//!
//! Two layers use [`retry`]:
//! - [`RetryFs`], a decorator every production [`Fs`] is wrapped in
//!   ([`crate::roots::Sides::real`]): `stat`, `list_dir`, `walk`,
//!   and `open_read` are retried, and the reader `open_read`
//!   returns retries its own `read`s ([`RetryRead`]). Tests stack it on a
//!   [`super::fault::FaultFs`] that injects interruptions;
//! - the real file system's walk, which reads folder entries below the
//!   trait ([`super::real`]).
//!
//! Invariants: only reads are retried (a mutating call that was
//! interrupted is reported as it is: whether it took effect is for the
//! step's own recovery to find out); retries are bounded, so a call that is
//! interrupted forever still ends, with its error.

use super::{ErrorClass, ExcludeFn, FileId, FileWriter, Fs, FsError, Listing, Meta, WalkResult};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

/// How many times an interrupted call is made before its error is kept.
const ATTEMPTS: u32 = 32;

/// True for an error that means "interrupted, nothing happened: try again".
#[must_use]
pub fn is_interrupted(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::Interrupted {
        return true;
    }
    // ERROR_OPERATION_ABORTED, ERROR_RETRY
    cfg!(windows) && matches!(e.raw_os_error(), Some(995 | 1237))
}

/// Pause before attempt `n` (0-based): none for the first few (`EINTR`
/// wants an immediate retry), then a few milliseconds, growing, so a
/// storm of interruptions does not spin.
fn pause(n: u32) {
    if n >= 4 {
        std::thread::sleep(Duration::from_millis(u64::from((n - 3).min(20))));
    }
}

/// Runs `call` until it is not interrupted (at most [`ATTEMPTS`] times).
///
/// # Errors
/// The call's error when it is not an interruption, or the last
/// interruption when every attempt was interrupted.
pub fn retry<T>(call: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    retry_while(is_interrupted, call)
}

/// [`retry`] for calls that report an [`FsError`].
fn retry_fs<T>(call: impl FnMut() -> Result<T, FsError>) -> Result<T, FsError> {
    retry_while(|e: &FsError| e.class == ErrorClass::Interrupted, call)
}

/// Makes `call` again while its error is `interrupted`, at most [`ATTEMPTS`] times.
fn retry_while<T, E>(
    interrupted: impl Fn(&E) -> bool,
    mut call: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut n = 0;
    loop {
        match call() {
            Err(e) if interrupted(&e) && n + 1 < ATTEMPTS => {
                pause(n);
                n += 1;
            }
            other => return other,
        }
    }
}

/// A reader whose interrupted `read`s are made again.
pub struct RetryRead<R>(pub R);

impl<R: Read> Read for RetryRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        retry(|| self.0.read(buf))
    }
}

/// See the module docs: an [`Fs`] whose reads are retried when interrupted.
pub struct RetryFs {
    inner: Arc<dyn Fs>,
}

impl RetryFs {
    /// Wraps `inner`.
    #[must_use]
    pub fn wrap(inner: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(Self { inner })
    }
}

impl Fs for RetryFs {
    fn root_display(&self) -> String {
        self.inner.root_display()
    }
    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError> {
        retry_fs(|| self.inner.stat(path))
    }
    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError> {
        retry_fs(|| self.inner.walk(exclude, progress))
    }
    fn list_dir(&self, path: &str) -> Result<Listing, FsError> {
        retry_fs(|| self.inner.list_dir(path))
    }
    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        let r = retry_fs(|| self.inner.open_read(path))?;
        Ok(Box::new(RetryRead(r)))
    }
    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError> {
        self.inner.create(path)
    }
    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError> {
        self.inner.set_meta(path, mtime, props)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        self.inner.rename(from, to)
    }
    fn rename_new(&self, from: &str, to: &str) -> Result<bool, FsError> {
        self.inner.rename_new(from, to)
    }
    fn syncs_in_batches(&self) -> bool {
        self.inner.syncs_in_batches()
    }
    fn sync_written(&self, files: &[(&str, Option<FileId>)]) -> Result<(), FsError> {
        self.inner.sync_written(files)
    }
    fn remove_file(&self, path: &str) -> Result<(), FsError> {
        self.inner.remove_file(path)
    }
    fn create_dir_all(&self, path: &str) -> Result<(), FsError> {
        self.inner.create_dir_all(path)
    }
    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        self.inner.remove_dir(path)
    }
    fn file_id(&self, path: &str) -> Option<FileId> {
        // Asked once: `file_id` reports no error, so an interruption reads
        // as "no id", which costs move detection only, never data; asking
        // again would cost a round trip per file on a drive without ids.
        self.inner.file_id(path)
    }
    fn free_space(&self) -> Option<u64> {
        // Asked once, like `file_id`: an interruption reads as "not known".
        self.inner.free_space()
    }

    fn sync_dir(&self, path: &str) -> Result<(), FsError> {
        self.inner.sync_dir(path)
    }

    fn open_read_at(&self, path: &str, offset: u64) -> Result<Box<dyn Read + Send>, FsError> {
        let r = retry_fs(|| self.inner.open_read_at(path, offset))?;
        Ok(Box::new(RetryRead(r)))
    }
    fn open_write_at(&self, path: &str, offset: u64) -> Result<Box<dyn FileWriter>, FsError> {
        self.inner.open_write_at(path, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::fault::{FaultFs, FaultRule};
    use crate::fs::mem::MemFs;

    fn interrupted(op: &'static str, path: &str, times: u32) -> FaultRule {
        FaultRule {
            op,
            path_contains: path.into(),
            class: ErrorClass::Interrupted,
            times,
        }
    }

    #[test]
    fn interrupted_stats_listings_opens_and_reads_are_made_again() {
        let m = MemFs::new("t", false, 1);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        m.put("d/big.bin", &data);
        let f = Arc::new(FaultFs::new(Arc::new(m.clone())));
        for op in ["stat", "list", "open", "read"] {
            f.fail(interrupted(op, "", 3));
        }
        let bare: Arc<dyn Fs> = f.clone();
        // Without the retry layer each of these fails.
        assert_eq!(
            bare.stat("d/big.bin").unwrap_err().class,
            ErrorClass::Interrupted
        );
        let fs = RetryFs::wrap(f.clone());
        assert!(fs.stat("d/big.bin").unwrap().is_some());
        assert_eq!(fs.list_dir("d").unwrap().entries.len(), 1);
        let mut got = Vec::new();
        let mut r = fs.open_read("d/big.bin").unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, data, "every byte, in order, none twice");
        assert!(f.fired() >= 10, "the faults were injected: {}", f.fired());
        assert_eq!(
            crate::fs::hash_file(fs.as_ref(), "d/big.bin").unwrap(),
            blake3::hash(&data).to_hex().to_string()
        );
    }

    #[test]
    fn a_call_interrupted_forever_ends_with_its_error() {
        let m = MemFs::new("t", false, 1);
        m.put("a", b"x");
        let f = FaultFs::new(Arc::new(m));
        f.fail(interrupted("stat", "a", u32::MAX));
        let fs = RetryFs::wrap(Arc::new(f));
        assert_eq!(fs.stat("a").unwrap_err().class, ErrorClass::Interrupted);
    }

    #[test]
    fn other_errors_are_not_retried() {
        let m = MemFs::new("t", false, 1);
        m.put("a", b"x");
        let f = Arc::new(FaultFs::new(Arc::new(m)));
        f.fail(FaultRule {
            op: "stat",
            path_contains: "a".into(),
            class: ErrorClass::PermissionDenied,
            times: 1,
        });
        let fs = RetryFs::wrap(f.clone());
        assert_eq!(
            fs.stat("a").unwrap_err().class,
            ErrorClass::PermissionDenied
        );
        assert_eq!(f.fired(), 1);
    }

    #[test]
    fn io_retry_gives_up_after_its_bound() {
        let mut calls = 0;
        let r: std::io::Result<()> = retry(|| {
            calls += 1;
            Err(std::io::Error::from(std::io::ErrorKind::Interrupted))
        });
        assert!(r.is_err());
        assert_eq!(calls, ATTEMPTS);
        let mut calls = 0;
        let r = retry(|| {
            calls += 1;
            if calls < 3 {
                Err(std::io::Error::from(std::io::ErrorKind::Interrupted))
            } else {
                Ok(7)
            }
        });
        assert_eq!(r.unwrap(), 7);
    }
}
