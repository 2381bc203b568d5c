//! Resumable large copies (issue 21 item 1, SPEC §8 "Large copies
//! resume"): a large copy interrupted by a write error, a power cut or a
//! stop request continues from its last recorded chunk, and writes only
//! the rest; a changed source or a damaged temp starts over; the sweeps
//! spare a temp that can resume and remove one that cannot. The right
//! side is counted by a [`LatencyFs`] (bytes read and written).

use super::tests::{Harness, harness};
use super::*;
use crate::fs::fault::FaultFs;
use crate::fs::latency::{LatencyFs, Link};
use crate::fs::{Fs, mem::MemFs};
use crate::plan::Plan;
use crate::{Side, paths};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// The chunk in these tests (one pipeline buffer: offsets are exact).
const CHUNK: u64 = 1024 * 1024;
/// The file: five chunks and a bit.
const SIZE: u32 = 5 * 1024 * 1024 + 3;
const FILE: &str = "media/big.mov";

/// A harness whose `media/**` files above 1000 bytes go by the large lane.
fn large_lane() -> Harness {
    harness("[[rules]]\npath = 'media/**'\nlarge_file_bytes = 1000")
}

/// Options with the test chunk (and a stop flag, a progress hook).
fn opts<'a>(stop: Option<&'a AtomicBool>, progress: Option<&'a dyn Progress>) -> Options<'a> {
    Options {
        resume_chunk_bytes: Some(CHUNK),
        stop,
        progress,
        ..Options::default()
    }
}

/// Admits and runs `plan` on `sides` with the test chunk; the right
/// side's byte counts start after the admission (its marker reads).
fn apply_on(
    h: &Harness,
    plan: &Plan,
    sides: &Sides,
    counter: &LatencyFs,
) -> Result<Report, ApplyError> {
    let mut state = h.admitted(plan, sides);
    counter.reset_bytes();
    h.run_in(&mut state, plan, sides, &opts(None, None))
}

/// The right side behind a counter over `inner`.
fn counted(h: &Harness, inner: Arc<dyn Fs>) -> (Arc<LatencyFs>, Sides) {
    let lat = Arc::new(LatencyFs::new(inner, Link::default()));
    (Arc::clone(&lat), h.sides_with(Side::Right, lat))
}

/// `len` bytes of noise, varied by `seed`.
fn noise(len: u32, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
        .collect()
}

/// A first attempt at copying new noise (varied by `seed`) that the power
/// cut stops after `writes` mutating calls on the right side. Returns the
/// data and the plan.
fn cut_after(h: &Harness, seed: u32, writes: i64) -> (Vec<u8>, Plan) {
    let data = noise(SIZE, seed);
    h.left.put(FILE, &data);
    let plan = h.plan();
    let budget = Arc::new(AtomicI64::new(writes));
    let cut = FaultFs::with_budget(Arc::new(h.right.clone()), budget);
    let (lat, sides) = counted(h, Arc::new(cut));
    let e = apply_on(h, &plan, &sides, &lat).unwrap_err();
    assert!(matches!(e, ApplyError::Stopped(_)), "{e}");
    (data, plan)
}

/// The temp files on a side.
fn temps(m: &MemFs) -> Vec<String> {
    m.dump()
        .into_keys()
        .filter(|p| p.contains(paths::TEMP_PREFIX))
        .collect()
}

/// The first attempt: a write error at 80 % of the file. Returns the
/// data, and checks what it leaves: no file, a temp holding the four
/// chunks recorded.
fn fail_at_80(h: &Harness) -> Vec<u8> {
    let data = noise(SIZE, 3);
    h.left.put(FILE, &data);
    let fault = FaultFs::new(Arc::new(h.right.clone()));
    fault.fail_writes_at(
        paths::TEMP_PREFIX,
        u64::from(SIZE) * 8 / 10,
        ErrorClass::Other,
    );
    let (lat, sides) = counted(h, Arc::new(fault));
    let r = apply_on(h, &h.plan(), &sides, &lat).unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(
        h.right.get(FILE).is_none(),
        "nothing half-written is visible"
    );
    let rows = h.state().transfers().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].done, 4 * CHUNK, "the last chunk synced before 80 %");
    let temp = h.right.get(&rows[0].temp_path).unwrap();
    assert!(temp.len() as u64 >= 4 * CHUNK);
    assert_eq!(temp[..4 * 1024 * 1024], data[..4 * 1024 * 1024]);
    data
}

/// Applies a fresh plan on a counted right side; returns (read, written)
/// on the right.
fn resume_fresh(h: &Harness) -> (u64, u64) {
    let (lat, sides) = counted(h, Arc::new(h.right.clone()));
    let r = apply_on(h, &h.plan(), &sides, &lat).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.copied, 1);
    lat.bytes()
}

/// Asserts the copy landed whole and was recorded with the file's hash,
/// with no temp and no transfer row left.
#[track_caller]
fn landed(h: &Harness, data: &[u8]) {
    assert_eq!(h.right.get(FILE).as_deref(), Some(data));
    assert!(temps(&h.right).is_empty(), "{:?}", temps(&h.right));
    assert!(h.state().transfers().unwrap().is_empty());
    let rows = h.state().load_files_where(|_, _| true).unwrap();
    let hash = blake3::hash(data).to_hex().to_string();
    let right = rows
        .get(&paths::key_of(FILE, false))
        .and_then(|r| r.right.as_ref())
        .unwrap();
    assert_eq!(
        right.hash.as_deref(),
        Some(hash.as_str()),
        "the whole file's hash"
    );
    assert!(!h.plan().summary.has_changes(), "nothing left to do");
}

/// Issue 21 "Must show": a large copy failed at 80 % resumes from the
/// recorded offset and writes only the rest (a fresh plan: the failed
/// step is journalled), reading back one chunk of the temp.
#[test]
fn a_write_error_at_80_percent_resumes_and_writes_only_the_rest() {
    let h = large_lane();
    let data = fail_at_80(&h);
    let (read, written) = resume_fresh(&h);
    assert_eq!(
        written,
        u64::from(SIZE) - 4 * CHUNK,
        "only the rest is sent"
    );
    assert_eq!(read, CHUNK, "one chunk of the temp is read back");
    landed(&h, &data);
}

/// A source changed between the attempts starts over: every byte again,
/// the new content lands.
#[test]
fn a_source_changed_between_attempts_starts_over() {
    let h = large_lane();
    fail_at_80(&h);
    h.tick();
    let edited = noise(SIZE, 5);
    h.left.put(FILE, &edited);
    let (read, written) = resume_fresh(&h);
    assert_eq!(written, u64::from(SIZE), "sent again from byte 0");
    assert_eq!(read, 0, "the old temp is not even read");
    landed(&h, &edited);
}

/// A temp truncated below the recorded offset, or altered inside its last
/// recorded chunk, starts over (and what lands is the source, whole).
#[test]
fn a_temp_truncated_or_altered_between_attempts_starts_over() {
    for damage in ["truncated", "altered"] {
        let h = large_lane();
        let data = fail_at_80(&h);
        let temp = h.state().transfers().unwrap()[0].temp_path.clone();
        let mut bytes = h.right.get(&temp).unwrap();
        if damage == "truncated" {
            bytes.truncate(3 * 1024 * 1024);
        } else {
            bytes[4 * 1024 * 1024 - 10] ^= 0xff;
        }
        h.right.put(&temp, &bytes);
        let (_, written) = resume_fresh(&h);
        assert_eq!(written, u64::from(SIZE), "{damage}: sent again from byte 0");
        landed(&h, &data);
    }
}

/// A drive that refuses to continue the temp file (no `open_write_at`, or
/// an error) starts the copy over instead of failing every attempt.
#[test]
fn a_temp_that_cannot_be_continued_starts_over() {
    let h = large_lane();
    let data = fail_at_80(&h);
    let refuses = FaultFs::new(Arc::new(h.right.clone()));
    refuses.fail(crate::fs::fault::FaultRule {
        op: "reopen",
        path_contains: String::new(),
        class: ErrorClass::PermissionDenied,
        times: u32::MAX,
    });
    let (lat, sides) = counted(&h, Arc::new(refuses));
    let r = apply_on(&h, &h.plan(), &sides, &lat).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(lat.bytes().1, u64::from(SIZE), "sent again from byte 0");
    landed(&h, &data);
}

/// A power cut mid-chunk (the sync of the fourth chunk never happens)
/// resumes the same plan from the chunk before, cutting off whatever
/// part of the broken chunk the disk kept.
#[test]
fn a_power_cut_mid_chunk_resumes_from_the_chunk_before() {
    let h = large_lane();
    // The folder (its step; the copy finds it there and makes no other),
    // the temp, then three chunk syncs; the fourth sync cuts.
    let (data, plan) = cut_after(&h, 7, 6);
    let rows = h.state().transfers().unwrap();
    assert_eq!(rows[0].done, 3 * CHUNK, "{rows:?}");
    // The disk kept part of the fourth chunk (written, never synced).
    let temp = rows[0].temp_path.clone();
    let mut kept = h.right.get(&temp).unwrap();
    kept.extend_from_slice(&data[kept.len()..kept.len() + 1000]);
    kept.extend_from_slice(b"torn");
    h.right.put(&temp, &kept);
    // Power back: the same plan again.
    let (lat, sides) = counted(&h, Arc::new(h.right.clone()));
    let r = apply_on(&h, &plan, &sides, &lat).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(lat.bytes().1, u64::from(SIZE) - 3 * CHUNK);
    landed(&h, &data);
}

/// A fresh plan (another plan id) resumes the temp the abandoned plan
/// left: the recovery-only pass of `prepare` and the scan's sweep keep it.
#[test]
fn a_fresh_plan_resumes_the_temp_an_abandoned_plan_left() {
    let h = large_lane();
    // As above, one chunk further: four chunks synced.
    let (data, plan) = cut_after(&h, 9, 7);
    let temp = h.state().transfers().unwrap()[0].temp_path.clone();
    assert!(temp.contains(&paths::temp_owner(&plan.plan_id)), "{temp}");
    let mut state = h.state();
    prepare(&mut state, &h.cfg, &h.sides(), &Logger::null()).unwrap();
    let scan = h.scan(Side::Right);
    assert!(sweep_scan(&state, &h.right, Side::Right, &scan, &Logger::null()).is_empty());
    drop(state);
    assert_eq!(temps(&h.right), [temp]);
    let (_, written) = resume_fresh(&h);
    assert_eq!(written, u64::from(SIZE) - 4 * CHUNK);
    landed(&h, &data);
}

/// A progress hook that raises the stop flag once `at` bytes are copied.
struct StopAt {
    at: u64,
    seen: AtomicU64,
    stop: Arc<AtomicBool>,
}

impl Progress for StopAt {
    fn copied(&self, n: u64) {
        if self.seen.fetch_add(n, Ordering::SeqCst) + n >= self.at {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// A stop request (service stop) mid-copy keeps the temp; the same plan,
/// run again, resumes it.
#[test]
fn a_stop_request_keeps_the_large_copy_for_resuming() {
    let h = large_lane();
    let data = noise(SIZE, 11);
    h.left.put(FILE, &data);
    let plan = h.plan();
    let stop = Arc::new(AtomicBool::new(false));
    let hook = StopAt {
        at: 3 * CHUNK,
        seen: AtomicU64::new(0),
        stop: Arc::clone(&stop),
    };
    let sides = h.sides();
    let mut state = h.admitted(&plan, &sides);
    let r = h.run_in(&mut state, &plan, &sides, &opts(Some(&stop), Some(&hook)));
    assert!(r.is_err() || r.is_ok_and(|r| r.copied == 0));
    drop(state);
    assert!(h.right.get(FILE).is_none());
    assert_eq!(temps(&h.right).len(), 1, "the temp is kept");
    assert_eq!(h.state().transfers().unwrap()[0].done, 3 * CHUNK);
    let (lat, sides) = counted(&h, Arc::new(h.right.clone()));
    let r = apply_on(&h, &plan, &sides, &lat).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(lat.bytes().1, u64::from(SIZE) - 3 * CHUNK);
    landed(&h, &data);
}

/// Regression (audit item 2): a large copy stopped mid-way whose source
/// is then deleted. The same plan run again dropped the dead transfer's
/// temp, then removed it a second time and failed the step (`delete
/// .~twinsync-….tmp: No such file or directory`), leaving a failing path
/// for a file that exists nowhere. A temp already gone is no error.
#[test]
fn a_stopped_large_copy_whose_source_is_deleted_ends_without_a_failure() {
    let h = large_lane();
    h.left.put(FILE, &noise(SIZE, 13));
    let plan = h.plan();
    let stop = Arc::new(AtomicBool::new(false));
    let hook = StopAt {
        at: 2 * CHUNK,
        seen: AtomicU64::new(0),
        stop: Arc::clone(&stop),
    };
    let sides = h.sides();
    let mut state = h.admitted(&plan, &sides);
    let _ = h.run_in(&mut state, &plan, &sides, &opts(Some(&stop), Some(&hook)));
    assert_eq!(temps(&h.right).len(), 1, "the temp is kept");
    h.left.remove_file(FILE).unwrap();
    let r = h
        .run_in(&mut state, &plan, &sides, &opts(None, None))
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.drifted, 1, "the copy is skipped: its source is gone");
    assert!(state.failures().unwrap().is_empty());
    assert!(temps(&h.right).is_empty(), "{:?}", temps(&h.right));
    assert!(h.state().transfers().unwrap().is_empty());
}

/// The sweeps: a temp that can resume is spared (its plan finished, so
/// nothing else holds it); once its source changed it is removed with
/// its row.
#[test]
fn the_sweep_spares_a_resumable_temp_and_removes_a_dead_one() {
    let h = large_lane();
    fail_at_80(&h);
    let found = temps(&h.right);
    assert_eq!(found.len(), 1);
    let state = h.state();
    assert!(sweep_transfers(&state, &h.sides(), &Logger::null()).is_empty());
    assert!(sweep_temps(&state, &h.right, Side::Right, &found, &Logger::null()).is_empty());
    assert_eq!(temps(&h.right), found, "spared");
    h.tick();
    h.left.put(FILE, &noise(SIZE, 13));
    assert_eq!(sweep_transfers(&state, &h.sides(), &Logger::null()), found);
    assert!(temps(&h.right).is_empty());
    assert!(state.transfers().unwrap().is_empty());
    // A source gone is a dead transfer too; a side that cannot be looked
    // at is not.
    let h = large_lane();
    fail_at_80(&h);
    h.left.remove_file(FILE).unwrap();
    h.left.set_root_present(false);
    let state = h.state();
    assert!(sweep_transfers(&state, &h.sides(), &Logger::null()).is_empty());
    assert_eq!(temps(&h.right).len(), 1, "unknown is not gone");
    h.left.set_root_present(true);
    assert_eq!(
        sweep_transfers(&state, &h.sides(), &Logger::null()).len(),
        1
    );
    assert!(temps(&h.right).is_empty());
}

/// The file-system pieces a resume stands on, on the in-memory and the
/// real disk alike: reading from an offset, continuing a file at an
/// offset (what lies after it cut off), and a mid-file sync that a
/// dropped (power-cut) writer keeps.
#[test]
fn open_at_an_offset_and_sync_mid_file_on_mem_and_disk() {
    let dir = tempfile::tempdir().unwrap();
    let real = crate::fs::real::RealFs::new(dir.path());
    let mem = MemFs::new("t", false, 1);
    for fs in [&real as &dyn Fs, &mem] {
        fs.write_all("f.bin", b"0123456789").unwrap();
        let mut tail = Vec::new();
        std::io::Read::read_to_end(&mut *fs.open_read_at("f.bin", 6).unwrap(), &mut tail).unwrap();
        assert_eq!(tail, b"6789");
        let mut w = fs.open_write_at("f.bin", 4).unwrap();
        std::io::Write::write_all(&mut w, b"ab").unwrap();
        w.sync().unwrap();
        std::io::Write::write_all(&mut w, b"lost").unwrap();
        drop(w); // the power goes: only what was synced counts on MemFs
        let got = fs.read_all("f.bin").unwrap();
        assert_eq!(got[..6], *b"0123ab", "{}", fs.root_display());
        let mut w = fs.open_write_at("f.bin", 5).unwrap();
        std::io::Write::write_all(&mut w, b"Z").unwrap();
        w.finish().unwrap();
        assert_eq!(fs.read_all("f.bin").unwrap(), b"0123aZ");
        assert!(
            fs.open_write_at("f.bin", 7).is_err(),
            "shorter than the offset"
        );
        assert!(fs.open_write_at("none.bin", 0).is_err(), "never creates");
    }
}

/// Production chunks follow the file's size (a sixteenth, 1–64 MiB): a
/// file of a few dozen MiB stopped at 80 % keeps what it sent (with a
/// fixed 64 MiB chunk it recorded nothing and started over from byte 0).
#[test]
fn a_file_below_one_production_chunk_still_resumes() {
    let h = large_lane();
    let size: u32 = 24 * 1024 * 1024;
    let chunk = resume::chunk_for(u64::from(size));
    assert_eq!(chunk, 1536 * 1024);
    let data = noise(size, 17);
    h.left.put(FILE, &data);
    let plan = h.plan();
    let stop = Arc::new(AtomicBool::new(false));
    let hook = StopAt {
        at: u64::from(size) * 8 / 10,
        seen: AtomicU64::new(0),
        stop: Arc::clone(&stop),
    };
    let production = |stop, progress| Options {
        progress,
        stop,
        ..Options::default()
    };
    let sides = h.sides();
    let mut state = h.admitted(&plan, &sides);
    let _ = h.run_in(
        &mut state,
        &plan,
        &sides,
        &production(Some(&stop), Some(&hook)),
    );
    drop(state);
    assert!(h.right.get(FILE).is_none());
    let done = h.state().transfers().unwrap()[0].done;
    // Recorded within a chunk (and a read buffer) of where it stopped.
    assert!(done + 2 * chunk >= u64::from(size) * 8 / 10, "{done}");
    let (lat, sides) = counted(&h, Arc::new(h.right.clone()));
    let mut state = h.admitted(&plan, &sides);
    lat.reset_bytes();
    let r = h
        .run_in(&mut state, &plan, &sides, &production(None, None))
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(lat.bytes().1, u64::from(size) - done);
    drop(state);
    landed(&h, &data);
}

/// A download (right → left) resumed: the kept prefix is hashed from the
/// temp on the left, not read again from the right (the drive across the
/// link). The right side gives one chunk for the check and the rest,
/// nothing more; what lands is whole and recorded with its hash.
#[test]
fn a_resumed_download_does_not_read_the_kept_prefix_across_the_link() {
    let h = large_lane();
    let data = noise(SIZE, 9);
    h.right.put(FILE, &data);
    // The first attempt: a write error on the left at 80 %.
    let fault = FaultFs::new(Arc::new(h.left.clone()));
    fault.fail_writes_at(
        paths::TEMP_PREFIX,
        u64::from(SIZE) * 8 / 10,
        ErrorClass::Other,
    );
    let (lat, sides) = counted(&h, Arc::new(h.right.clone()));
    let sides = Sides {
        left: Arc::new(fault),
        ..sides
    };
    let r = apply_on(&h, &h.plan(), &sides, &lat).unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert_eq!(h.state().transfers().unwrap()[0].done, 4 * CHUNK);
    // The resume.
    let (lat, sides) = counted(&h, Arc::new(h.right.clone()));
    let r = apply_on(&h, &h.plan(), &sides, &lat).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let (read, _) = lat.bytes();
    assert_eq!(
        read,
        CHUNK + u64::from(SIZE) - 4 * CHUNK,
        "the check's chunk and the rest, not the kept 4 MiB again"
    );
    assert_eq!(h.left.get(FILE).as_deref(), Some(&data[..]));
    let rows = h.state().load_files_where(|_, _| true).unwrap();
    let left = rows
        .get(&paths::key_of(FILE, false))
        .and_then(|r| r.left.as_ref())
        .unwrap();
    assert_eq!(
        left.hash.as_deref(),
        Some(blake3::hash(&data).to_hex().as_str()),
        "the whole file's hash, its prefix read from the temp"
    );
    assert!(temps(&h.left).is_empty());
    assert!(!h.plan().summary.has_changes());
}

/// A kept prefix that comes up short (the temp shrank after its check)
/// fails the copy rather than shift the rest of the file.
#[test]
fn a_kept_prefix_that_comes_up_short_is_an_error_not_a_shifted_file() {
    let short: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(vec![1u8; 10]));
    let mut r = super::resume::Exactly::new(short, 16, "t.tmp");
    let mut out = Vec::new();
    let e = std::io::Read::read_to_end(&mut r, &mut out).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(e.to_string().contains("t.tmp"), "{e}");
    let whole: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(vec![1u8; 20]));
    let mut r = super::resume::Exactly::new(whole, 16, "t.tmp");
    out.clear();
    std::io::Read::read_to_end(&mut r, &mut out).unwrap();
    assert_eq!(out.len(), 16);
}
