//! A slow link in a box: an [`Fs`] decorator that makes every call cost a
//! round trip and caps the bytes per second, as a cloud drive or an SMB
//! mount over a WAN does, and counts the calls it was asked for.
//!
//! Used by the WAN benchmark (`cargo make bench-wan`) and by tests that
//! count what a step costs on the drive. Like [`super::fault::FaultFs`] it
//! wraps any [`Fs`]; nothing here decides policy.
//!
//! - every metadata call (`stat`, `list_dir`, `open_read`, `create`,
//!   `set_meta`, `rename`, `remove_file`, `create_dir_all`, `remove_dir`,
//!   `file_id`) sleeps `per_call` first;
//! - every `write` of a file being created sleeps `per_write`, and every
//!   `read` and `write` is paced to `bytes_per_second` (0: no cap), as a
//!   link of that speed would carry them; the `finish` (flush + fsync) costs
//!   one more round trip;
//! - [`LatencyFs::calls`] tells how many calls of each kind were made, and
//!   [`LatencyFs::bytes`] how many bytes were read and written.
//!
//! Invariant: the decorator never changes what a call returns; only when.

use super::{ExcludeFn, FileId, FileWriter, Fs, FsError, Listing, Meta, WalkResult};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The costs of the link. `Default` is free (a counter only).
#[derive(Debug, Clone, Copy, Default)]
pub struct Link {
    /// Each metadata call's round trip.
    pub per_call: Duration,
    /// Each write call's round trip.
    pub per_write: Duration,
    /// The link's speed in bytes per second (0: unlimited).
    pub bytes_per_second: u64,
}

/// Counts per call kind, shared with the readers and writers handed out.
type Counts = Arc<Mutex<BTreeMap<&'static str, u64>>>;

/// See the module docs.
pub struct LatencyFs {
    inner: Arc<dyn Fs>,
    link: Link,
    counts: Counts,
    /// Bytes carried so far and since when (one link for every transfer).
    pace: Arc<Mutex<Pace>>,
    /// Bytes read and written through this side (see [`LatencyFs::bytes`]).
    moved: Arc<Moved>,
}

/// Bytes read and written, counted by the readers and writers handed out.
#[derive(Debug, Default)]
struct Moved {
    read: std::sync::atomic::AtomicU64,
    written: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct Pace {
    start: Instant,
    bytes: u64,
}

impl LatencyFs {
    /// Wraps `inner` behind `link`.
    #[must_use]
    pub fn new(inner: Arc<dyn Fs>, link: Link) -> Self {
        Self {
            inner,
            link,
            counts: Counts::default(),
            pace: Arc::new(Mutex::new(Pace {
                start: Instant::now(),
                bytes: 0,
            })),
            moved: Arc::default(),
        }
    }

    /// How many calls of each kind were made (`stat`, `create`, `write`…).
    #[must_use]
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The metadata calls made (every kind but `read` and `write`).
    #[must_use]
    pub fn metadata_calls(&self) -> u64 {
        self.calls()
            .iter()
            .filter(|(k, _)| !matches!(**k, "read" | "write"))
            .map(|(_, n)| n)
            .sum()
    }

    /// Forgets the counts so far.
    pub fn reset_counts(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }

    fn call(&self, kind: &'static str) {
        count(&self.counts, kind);
        wait(self.link.per_call);
    }
}

fn count(counts: &Counts, kind: &'static str) {
    if let Ok(mut c) = counts.lock() {
        *c.entry(kind).or_default() += 1;
    }
}

fn wait(d: Duration) {
    if !d.is_zero() {
        std::thread::sleep(d);
    }
}

/// Sleeps until `n` more bytes fit the link's speed.
fn carry(pace: &Mutex<Pace>, rate: u64, n: usize) {
    if rate == 0 {
        return;
    }
    let due = {
        let Ok(mut p) = pace.lock() else { return };
        p.bytes += n as u64;
        #[allow(clippy::cast_precision_loss)]
        let secs = p.bytes as f64 / rate as f64;
        (p.start + Duration::from_secs_f64(secs)).saturating_duration_since(Instant::now())
    };
    wait(due);
}

struct SlowRead {
    inner: Box<dyn Read + Send>,
    counts: Counts,
    pace: Arc<Mutex<Pace>>,
    rate: u64,
    moved: Arc<Moved>,
}

impl Read for SlowRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        count(&self.counts, "read");
        let n = self.inner.read(buf)?;
        self.moved
            .read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        carry(&self.pace, self.rate, n);
        Ok(n)
    }
}

struct SlowWrite {
    inner: Box<dyn FileWriter>,
    counts: Counts,
    pace: Arc<Mutex<Pace>>,
    link: Link,
    moved: Arc<Moved>,
}

impl Write for SlowWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        count(&self.counts, "write");
        wait(self.link.per_write);
        let n = self.inner.write(buf)?;
        self.moved
            .written
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        carry(&self.pace, self.link.bytes_per_second, n);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl FileWriter for SlowWrite {
    fn finish(self: Box<Self>) -> Result<(), FsError> {
        count(&self.counts, "finish");
        wait(self.link.per_call);
        self.inner.finish()
    }

    /// One round trip, as `finish`: the times go with the handle's close.
    fn finish_with(self: Box<Self>, mtime: i64, props: u32) -> Result<super::Written, FsError> {
        count(&self.counts, "finish");
        wait(self.link.per_call);
        self.inner.finish_with(mtime, props)
    }

    fn finish_unsynced(self: Box<Self>, mtime: i64, props: u32) -> Result<super::Written, FsError> {
        count(&self.counts, "finish");
        wait(self.link.per_call);
        self.inner.finish_unsynced(mtime, props)
    }

    fn sync(&mut self) -> Result<(), FsError> {
        count(&self.counts, "sync");
        wait(self.link.per_call);
        self.inner.sync()
    }
}

impl Fs for LatencyFs {
    fn root_display(&self) -> String {
        self.inner.root_display()
    }
    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError> {
        self.call("stat");
        self.inner.stat(path)
    }
    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError> {
        self.call("walk");
        self.inner.walk(exclude, progress)
    }
    fn list_dir(&self, path: &str) -> Result<Listing, FsError> {
        self.call("list");
        self.inner.list_dir(path)
    }
    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        self.call("open");
        Ok(Box::new(SlowRead {
            inner: self.inner.open_read(path)?,
            counts: Arc::clone(&self.counts),
            pace: Arc::clone(&self.pace),
            rate: self.link.bytes_per_second,
            moved: Arc::clone(&self.moved),
        }))
    }
    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError> {
        self.call("create");
        Ok(Box::new(SlowWrite {
            inner: self.inner.create(path)?,
            counts: Arc::clone(&self.counts),
            pace: Arc::clone(&self.pace),
            link: self.link,
            moved: Arc::clone(&self.moved),
        }))
    }
    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError> {
        self.call("set_meta");
        self.inner.set_meta(path, mtime, props)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        self.call("rename");
        self.inner.rename(from, to)
    }
    fn syncs_in_batches(&self) -> bool {
        self.inner.syncs_in_batches()
    }
    /// One round trip for the batch.
    fn sync_written(&self, files: &[(&str, Option<FileId>)]) -> Result<(), FsError> {
        self.call("sync_written");
        self.inner.sync_written(files)
    }
    fn rename_new(&self, from: &str, to: &str) -> Result<bool, FsError> {
        self.call("rename");
        self.inner.rename_new(from, to)
    }
    fn remove_file(&self, path: &str) -> Result<(), FsError> {
        self.call("remove");
        self.inner.remove_file(path)
    }
    fn create_dir_all(&self, path: &str) -> Result<(), FsError> {
        self.call("mkdir");
        self.inner.create_dir_all(path)
    }
    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        self.call("rmdir");
        self.inner.remove_dir(path)
    }
    fn file_id(&self, path: &str) -> Option<FileId> {
        self.call("file_id");
        self.inner.file_id(path)
    }
    fn root_exists(&self) -> bool {
        self.call("stat");
        self.inner.root_exists()
    }
    fn free_space(&self) -> Option<u64> {
        self.call("free_space");
        self.inner.free_space()
    }

    fn sync_dir(&self, path: &str) -> Result<(), FsError> {
        self.call("sync_dir");
        self.inner.sync_dir(path)
    }

    fn open_read_at(&self, path: &str, offset: u64) -> Result<Box<dyn Read + Send>, FsError> {
        self.call("open");
        Ok(Box::new(SlowRead {
            inner: self.inner.open_read_at(path, offset)?,
            counts: Arc::clone(&self.counts),
            pace: Arc::clone(&self.pace),
            rate: self.link.bytes_per_second,
            moved: Arc::clone(&self.moved),
        }))
    }
    fn open_write_at(&self, path: &str, offset: u64) -> Result<Box<dyn FileWriter>, FsError> {
        self.call("reopen");
        Ok(Box::new(SlowWrite {
            inner: self.inner.open_write_at(path, offset)?,
            counts: Arc::clone(&self.counts),
            pace: Arc::clone(&self.pace),
            link: self.link,
            moved: Arc::clone(&self.moved),
        }))
    }
}

impl LatencyFs {
    /// The bytes read and written through this side so far: `(read, written)`.
    #[must_use]
    pub fn bytes(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.moved.read.load(Relaxed),
            self.moved.written.load(Relaxed),
        )
    }

    /// Forgets the bytes counted so far.
    pub fn reset_bytes(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.moved.read.store(0, Relaxed);
        self.moved.written.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::mem::MemFs;

    #[test]
    fn calls_are_counted_and_cost_their_round_trip() {
        let m = MemFs::new("t", false, 1);
        m.put("a.txt", b"hello");
        let link = Link {
            per_call: Duration::from_millis(5),
            ..Link::default()
        };
        let fs = LatencyFs::new(Arc::new(m.clone()), link);
        let t0 = Instant::now();
        assert!(fs.stat("a.txt").unwrap().is_some());
        fs.create_dir_all("d").unwrap();
        fs.write_all("d/b.txt", b"world").unwrap();
        assert_eq!(fs.read_all("d/b.txt").unwrap(), b"world");
        // stat, mkdir, create + finish, open: five round trips at least.
        assert!(t0.elapsed() >= Duration::from_millis(25));
        let c = fs.calls();
        assert_eq!(c.get("stat"), Some(&1));
        assert_eq!(c.get("mkdir"), Some(&1));
        assert_eq!(c.get("create"), Some(&1));
        assert_eq!(c.get("finish"), Some(&1));
        assert_eq!(c.get("open"), Some(&1));
        assert!(c.get("write").is_some_and(|n| *n >= 1));
        assert_eq!(fs.metadata_calls(), 5);
        assert_eq!(m.get("d/b.txt").unwrap(), b"world", "nothing else changes");
        fs.reset_counts();
        assert!(fs.calls().is_empty());
    }

    #[test]
    fn transfers_are_paced_to_the_link_speed() {
        let m = MemFs::new("t", false, 1);
        let data = vec![7u8; 200_000];
        let fs = LatencyFs::new(
            Arc::new(m.clone()),
            Link {
                bytes_per_second: 1_000_000,
                ..Link::default()
            },
        );
        let t0 = Instant::now();
        fs.write_all("big.bin", &data).unwrap();
        // 200 kB at 1 MB/s: about 0.2 s (never less).
        assert!(
            t0.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(m.get("big.bin").unwrap(), data);
    }
}
