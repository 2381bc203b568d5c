//! Unit tests of the parent module.

use super::*;
use crate::fs::mem::MemFs;
use crate::fs::{ExcludeFn, FileWriter, Listing, Meta, WalkResult};
use std::io::Read;
use std::sync::Arc;

/// A side whose file contents cannot be read: reading one panics (its
/// marker still reads).
struct PanicOnRead(MemFs);

impl Fs for PanicOnRead {
    fn root_display(&self) -> String {
        self.0.root_display()
    }
    fn stat(&self, path: &str) -> Result<Option<Meta>, FsError> {
        self.0.stat(path)
    }
    fn walk(
        &self,
        exclude: ExcludeFn<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<WalkResult, FsError> {
        self.0.walk(exclude, progress)
    }
    fn list_dir(&self, path: &str) -> Result<Listing, FsError> {
        self.0.list_dir(path)
    }
    fn open_read(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        assert_eq!(path, paths::MARKER_NAME, "reading {path} panics");
        self.0.open_read(path)
    }
    fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, FsError> {
        self.0.create(path)
    }
    fn set_meta(&self, path: &str, mtime: i64, props: u32) -> Result<(), FsError> {
        self.0.set_meta(path, mtime, props)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), FsError> {
        self.0.rename(from, to)
    }
    fn remove_file(&self, path: &str) -> Result<(), FsError> {
        self.0.remove_file(path)
    }
    fn create_dir_all(&self, path: &str) -> Result<(), FsError> {
        self.0.create_dir_all(path)
    }
    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        self.0.remove_dir(path)
    }
}

/// Plans a first run where `a.txt` is new on both sides with the same
/// size and different times (so both must be hashed); the left side
/// is read through `left`.
fn first_plan(left: impl FnOnce(MemFs) -> Arc<dyn Fs>) -> Plan {
    first_plan_skipping(left).0
}

/// [`first_plan`], and the skipped paths it recorded.
fn first_plan_skipping(
    left: impl FnOnce(MemFs) -> Arc<dyn Fs>,
) -> (Plan, Vec<crate::state::Skipped>) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "left_root = 'L'\nright_root = 'R'\nstate_db = '{}'\n[transfer]\nmin_file_age_seconds = 0\n[logging]\nlog_file_path = '{}'\n",
        dir.path().join("s.db").display(),
        dir.path().join("log.jsonl").display()
    );
    let cfg = Config::parse(&dir.path().join("c.toml"), &text).unwrap();
    let (l, r) = (MemFs::new("left", false, 1), MemFs::new("right", false, 1));
    l.put(paths::MARKER_NAME, br#"{"root_id":"L"}"#);
    r.put(paths::MARKER_NAME, br#"{"root_id":"R"}"#);
    l.put("a.txt", b"left");
    r.advance(60_000_000_000);
    r.put("a.txt", b"rite");
    let sides = Sides {
        left: left(l),
        right: Arc::new(r),
    };
    let state = State::open_or_create(&cfg.state_db).unwrap();
    let req = PlanRequest {
        now_ns: crate::now_ns(),
        ..PlanRequest::default()
    };
    let plan = make_plan(&cfg, &sides, &state, req).unwrap().0;
    (plan, state.skipped().unwrap())
}

/// A hashing thread that dies hashed nothing: its files are left for a
/// later cycle with the reason among the plan's problems (they were
/// once planned as if unhashed), like a file that cannot be read now.
#[test]
fn a_dead_hashing_thread_defers_its_files_and_says_why() {
    let fine = first_plan(|l| Arc::new(l));
    assert_eq!(fine.summary.deferred, 0, "{:?}", fine.problems);
    assert!(fine.problems.is_empty(), "{:?}", fine.problems);

    let plan = first_plan(|l| Arc::new(PanicOnRead(l)));
    assert_eq!(plan.summary.deferred, 1);
    assert_eq!(
        plan.problems,
        ["left: cannot hash: hash `a.txt`: the hashing thread panicked"]
    );
}

/// A file that cannot be read to hash it (an I/O error: a bad sector,
/// permissions) is left for a later cycle and is a skipped path with its
/// error, so `status` says "needs you", not "in sync"; a locked one (a
/// user has it open) only waits.
#[test]
fn a_file_that_cannot_be_read_to_hash_is_a_skipped_path_a_locked_one_waits() {
    use crate::fs::fault::{FaultFs, FaultRule};
    // (`open`: a sharing violation comes when the file is opened.)
    let failing = |class| {
        move |l: MemFs| -> Arc<dyn Fs> {
            let f = FaultFs::new(Arc::new(l));
            f.fail(FaultRule {
                op: "open",
                path_contains: "a.txt".into(),
                class,
                times: u32::MAX,
            });
            Arc::new(f)
        }
    };
    let (plan, skipped) = first_plan_skipping(failing(ErrorClass::Other));
    assert_eq!(plan.summary.deferred, 1);
    assert!(
        plan.ops.iter().all(|o| o.path != "a.txt"),
        "nothing planned for it"
    );
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        (skipped[0].side, skipped[0].path.as_str()),
        (Side::Left, "a.txt")
    );
    assert!(
        skipped[0].reason.starts_with("cannot be read: "),
        "{skipped:?}"
    );
    let (plan, skipped) = first_plan_skipping(failing(ErrorClass::Locked));
    assert_eq!(plan.summary.deferred, 1);
    assert!(skipped.is_empty(), "{skipped:?}");
}
