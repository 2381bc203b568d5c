//! Small copies at once (`parallel_copies`, issue 21 item 3): they do
//! overlap, up to the setting and no further; one failing copy leaves the
//! others done and journalled; a power cut in the middle of a run loses
//! nothing and the resumed plan finishes it.

use super::tests::{Harness, live, with_parallel};
use super::*;
use crate::Side;
use crate::fs::mem::MemFs;
use crate::fs::{ExcludeFn, FileId, FileWriter, Fs, FsError, Listing, Meta, WalkResult};
use std::io::Read;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const FILES: u64 = 12;

fn put_files(h: &Harness) {
    for i in 0..FILES {
        h.left
            .put(&format!("d/f{i:02}.txt"), format!("v1 {i}").as_bytes());
    }
}

fn temps(m: &MemFs) -> Vec<String> {
    m.dump()
        .into_keys()
        .filter(|p| p.contains(paths::TEMP_PREFIX))
        .collect()
}

/// A side whose `create`s wait (up to `patience`) until `want` of them
/// have been in flight at once, and which records the most it saw: copies
/// that overlap meet there; copies in series never do.
struct Gate {
    inner: MemFs,
    want: usize,
    patience: Duration,
    now: Mutex<(usize, usize)>,
    cv: Condvar,
}

impl Gate {
    fn most(&self) -> usize {
        self.now.lock().unwrap().1
    }
}

impl Fs for Gate {
    fn root_display(&self) -> String {
        self.inner.root_display()
    }
    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError> {
        self.inner.stat(path)
    }
    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError> {
        self.inner.walk(exclude, progress)
    }
    fn list_dir(&self, path: &str) -> Result<Listing, FsError> {
        self.inner.list_dir(path)
    }
    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        self.inner.open_read(path)
    }
    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError> {
        let mut g = self.now.lock().unwrap();
        g.0 += 1;
        g.1 = g.1.max(g.0);
        self.cv.notify_all();
        let (mut g, _) = self
            .cv
            .wait_timeout_while(g, self.patience, |(_, most)| *most < self.want)
            .unwrap();
        g.0 -= 1;
        drop(g);
        self.inner.create(path)
    }
    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError> {
        self.inner.set_meta(path, mtime, props)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        self.inner.rename(from, to)
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
        self.inner.file_id(path)
    }
}

fn gated(h: &Harness, want: usize, patience: Duration) -> (Arc<Gate>, Sides) {
    let gate = Arc::new(Gate {
        inner: h.right.clone(),
        want,
        patience,
        now: Mutex::new((0, 0)),
        cv: Condvar::new(),
    });
    let sides = h.sides_with(Side::Right, gate.clone());
    (gate, sides)
}

/// With `parallel_copies = 4`, four copies are in flight at once (the
/// gate lets none through before four have met there), never more.
#[test]
fn small_copies_overlap_up_to_parallel_copies() {
    let h = with_parallel(4);
    put_files(&h);
    let (gate, sides) = gated(&h, 4, Duration::from_secs(30));
    let r = h.apply_clean(&h.plan(), &sides);
    assert_eq!(r.copied, FILES);
    assert_eq!(gate.most(), 4);
    assert_eq!(live(&h.left), live(&h.right));
}

/// `parallel_copies = 1` is the old behaviour: one copy at a time.
#[test]
fn one_parallel_copy_copies_in_series() {
    let h = with_parallel(1);
    put_files(&h);
    let (gate, sides) = gated(&h, 2, Duration::from_millis(20));
    let r = h.apply_clean(&h.plan(), &sides);
    assert_eq!(r.copied, FILES);
    assert_eq!(gate.most(), 1);
}

/// One copy of a run fails (its rename refused): the others are done and
/// journalled (step rows and snapshot rows), the failed one is journalled
/// as failed, leaves no temp, and is copied by the next run.
#[test]
fn parallel_copies_with_a_fault_on_one_leave_the_others_done_and_journalled() {
    let h = with_parallel(4);
    put_files(&h);
    let plan = h.plan();
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::PermissionDenied, "rename", "f05.txt", 1)
        .sides();
    // The folder's own step is left out, so the plan stays unfinished and
    // keeps its step rows to look at (the copies make the folder).
    let not_mkdir = |o: &Op| o.kind() != OpKind::Mkdir;
    let opts = Options {
        filter: Some(&not_mkdir),
        ..Options::default()
    };
    let mut state = h.admitted(&plan, &sides);
    let r = h.run_in(&mut state, &plan, &sides, &opts).unwrap();
    drop(state);
    assert_eq!(r.copied, FILES - 1);
    assert_eq!(r.failed.len(), 1, "{:?}", r.failed);
    assert_eq!(r.failed[0].path, "d/f05.txt");
    let state = h.state();
    let steps = state.step_status(&plan.plan_id).unwrap();
    let copies: Vec<&Op> = plan
        .ops
        .iter()
        .filter(|o| o.kind() == OpKind::Copy)
        .collect();
    assert_eq!(copies.len() as u64, FILES);
    let rows = state.load_files().unwrap();
    for op in copies {
        let failed = op.path == "d/f05.txt";
        let want = if failed {
            StepStatus::Failed
        } else {
            StepStatus::Done
        };
        assert_eq!(steps.get(&op.id), Some(&want), "{}", op.path);
        let row = rows.get(&op.key);
        assert_eq!(
            row.is_some_and(|r| r.right.is_some()),
            !failed,
            "{}: {row:?}",
            op.path
        );
        assert_eq!(h.right.get(&op.path).is_some(), !failed, "{}", op.path);
    }
    assert!(temps(&h.right).is_empty(), "{:?}", temps(&h.right));
    h.sync();
    assert_eq!(live(&h.left), live(&h.right));
}

/// A power cut in the middle of a run of parallel copies, after every
/// possible number of writes: nothing written after it is journalled as
/// done without being on disk, and the same plan resumed finishes with
/// every file in place and no temp left.
#[test]
fn a_power_cut_during_parallel_copies_loses_nothing_and_resumes() {
    // Past every write of the run: temps, their times, the batch's sync,
    // the renames.
    for n in 0..4 * i64::try_from(FILES).unwrap() {
        let h = with_parallel(4);
        put_files(&h);
        let plan = h.plan();
        let budget = Arc::new(AtomicI64::new(n));
        let cut = crate::fs::fault::FaultFs::with_cut_after(Arc::new(h.right.clone()), budget);
        let sides = h.sides_with(Side::Right, Arc::new(cut));
        let _ = h.apply_with(&plan, &sides);
        // What the journal says is done is on disk.
        let state = h.state();
        let steps = state.step_status(&plan.plan_id).unwrap();
        for op in plan.ops.iter().filter(|o| o.kind() == OpKind::Copy) {
            if steps.get(&op.id) == Some(&StepStatus::Done) {
                assert!(h.right.get(&op.path).is_some(), "n={n}: {}", op.path);
            }
        }
        drop(state);
        let r = h.apply(&plan);
        assert!(r.failed.is_empty(), "n={n}: {:?}", r.failed);
        h.sync();
        assert_eq!(live(&h.left), live(&h.right), "n={n}");
        assert!(temps(&h.right).is_empty(), "n={n}: {:?}", temps(&h.right));
    }
}

/// Progress with copies at once: every copy's start comes before its end,
/// each is heard once, and the bytes heard add up to what was copied,
/// whatever the threads' interleaving.
#[test]
fn progress_hears_every_parallel_copy_and_all_its_bytes() {
    let h = with_parallel(4);
    put_files(&h);
    let total: u64 = (0..FILES).map(|i| format!("v1 {i}").len() as u64).sum();
    let heard = super::tests::Heard::default();
    let opts = Options {
        progress: Some(&heard),
        ..Options::default()
    };
    let sides = h.sides();
    assert_eq!(h.run_opts(&h.plan(), &sides, &opts).copied, FILES);
    let heard = heard.take();
    for i in 0..FILES {
        let path = format!("d/f{i:02}.txt");
        let at = |what: &str| {
            let all: Vec<usize> = (0..heard.len())
                .filter(|&k| heard[k].0 == format!("{what} {path}"))
                .collect();
            assert_eq!(all.len(), 1, "{what} {path} once: {heard:?}");
            all[0]
        };
        assert!(at("start") < at("end"), "{path}: {heard:?}");
    }
    let copied: u64 = heard
        .iter()
        .filter(|(w, _)| w == "copied")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(copied, total);
}

/// A stop request with copies at once: the copies in flight finish and
/// are journalled (small copies finish with their step, SPEC §2); no copy
/// starts after it. The gate holds the first copies until four are in
/// flight; the stop is raised as the fourth opens its source.
#[test]
fn a_stop_request_lets_the_copies_in_flight_finish_and_starts_no_more() {
    let h = with_parallel(4);
    put_files(&h);
    let plan = h.plan();
    let (gated_sides, gate) = {
        let (gate, sides) = gated(&h, 4, Duration::from_secs(30));
        (sides, gate)
    };
    let (hooked, stop) = h.hooked(Side::Left).flag_when_opened("d/f03.txt");
    let sides = Sides {
        left: hooked.left,
        right: gated_sides.right,
    };
    let opts = Options {
        stop: Some(&stop),
        ..Options::default()
    };
    let r = h.run_opts(&plan, &sides, &opts);
    assert_eq!(gate.most(), 4);
    assert_eq!(r.copied, 4, "{r:?}");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let copied: Vec<String> = (0..4).map(|i| format!("d/f{i:02}.txt")).collect();
    for (i, p) in copied.iter().enumerate() {
        assert_eq!(h.right.get(p).unwrap(), format!("v1 {i}").as_bytes());
    }
    for i in 4..FILES {
        assert!(
            h.right.get(&format!("d/f{i:02}.txt")).is_none(),
            "f{i:02} waits"
        );
    }
    assert!(temps(&h.right).is_empty());
    // Journalled: the restart does only the rest.
    let r = h.apply_clean(&plan, &h.sides());
    assert_eq!(r.copied, FILES - 4);
    assert_eq!(r.resumed_skips, 4 + 1, "the four copies and the folder");
}

/// Where the destination makes files durable in batches (here in memory,
/// as Linux's `syncfs` on disk), one sync serves up to 64 staged copies:
/// 130 new files take three, and every file lands.
#[test]
fn one_sync_makes_a_batch_of_staged_copies_durable() {
    let h = with_parallel(4);
    let syncs = syncs_copying(&h, 130);
    assert_eq!(syncs, Some(3));
    assert!(temps(&h.right).is_empty());
}

/// Copies `n` new files to the right, counted; returns how many batch
/// syncs (`sync_written`) the run made, after checking every file landed.
fn syncs_copying(h: &Harness, n: usize) -> Option<u64> {
    for i in 0..n {
        h.left
            .put(&format!("d/g{i:03}.txt"), format!("v1 {i}").as_bytes());
    }
    let counter = Arc::new(crate::fs::latency::LatencyFs::new(
        Arc::new(h.right.clone()),
        crate::fs::latency::Link::default(),
    ));
    let sides = h.sides_with(Side::Right, counter.clone());
    let r = h.apply_clean(&h.plan(), &sides);
    assert_eq!(r.copied, n as u64);
    assert_eq!(live(&h.left), live(&h.right));
    counter.calls().get("sync_written").copied()
}

/// Under a bandwidth limit copies are not batched: each is synced and
/// landed as it finishes, so a small file never waits for a slow copy
/// staged in its batch (a tiny file sat as a temp for 5 s behind a 1 MB
/// copy at 200 KiB/s).
#[test]
fn under_a_bandwidth_limit_each_copy_lands_as_it_finishes() {
    let mut h = with_parallel(4);
    h.cfg.bandwidth = crate::bandwidth::Timetable::fixed(100_000_000);
    assert_eq!(syncs_copying(&h, 10), None);
}

/// A batch whose sync fails (an I/O error, not a power cut) fails its
/// copies: none is renamed into place, their temps are removed, the
/// journal holds them as failed, and the next run copies them.
#[test]
fn a_failed_batch_sync_fails_its_copies_and_the_next_run_copies_them() {
    let h = with_parallel(4);
    put_files(&h);
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::Other, "flush", "", 1)
        .sides();
    let r = h.apply_with(&h.plan(), &sides).unwrap();
    assert_eq!(r.copied, 0, "{r:?}");
    assert_eq!(r.failed.len() as u64, FILES, "{:?}", r.failed);
    // Each names its own path and says the batch's sync failed (not
    // "flush `a`: flush `<another copy's temp>`": audit F9).
    for f in &r.failed {
        assert!(
            f.error.starts_with(&format!(
                "make durable `{}`: the sync of its batch of ",
                f.path
            )),
            "{}",
            f.error
        );
        assert_eq!(f.error.matches("flush").count(), 1, "{}", f.error);
    }
    for i in 0..FILES {
        assert!(h.right.get(&format!("d/f{i:02}.txt")).is_none());
    }
    assert!(temps(&h.right).is_empty(), "{:?}", temps(&h.right));
    let r = h.apply_clean(&h.plan(), &h.sides());
    assert_eq!(r.copied, FILES);
    assert_eq!(live(&h.left), live(&h.right));
}
