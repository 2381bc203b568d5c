//! The apply harness: two in-memory roots, a config and a state DB, with
//! named builders for what a test needs beyond files and edits — a side
//! behind a [`FaultFs`] ([`Harness::faults`]) or behind a hooked reader or
//! writer ([`Harness::hooked`]) — each handing back the [`Sides`] to apply
//! on. Test code only.

use super::super::*;
use crate::Side;
use crate::fs::fault::{FaultFs, FaultRule};
use crate::fs::mem::MemFs;
use crate::fs::{Fs, Meta};
use crate::pipeline::{self, PlanRequest};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

/// Two in-memory roots (case-insensitive, 2 s timestamps, like FAT or a
/// cloud drive), a config and a state DB in a temp folder. Tests describe
/// files with `h.left.put(..)`, edits after `h.tick()`, and faults with
/// [`Harness::faults`] / [`Harness::hooked`], which hand back the [`Sides`]
/// to apply on.
pub(in crate::apply) struct Harness {
    pub(in crate::apply) _dir: tempfile::TempDir,
    pub(in crate::apply) cfg: Config,
    pub(in crate::apply) left: MemFs,
    pub(in crate::apply) right: MemFs,
}

/// A harness (as [`harness`]) whose apply runs `n` small copies at once
/// (`[transfer] parallel_copies`; 1: one at a time, in plan order).
pub(in crate::apply) fn with_parallel(n: u32) -> Harness {
    let mut h = harness("");
    h.cfg.raw.transfer.parallel_copies = n;
    h
}

pub(in crate::apply) fn harness(extra: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let text = format!(
        "left_root = 'L'\nright_root = 'R'\nstate_db = '{}'\ncase_sensitive = false\n{extra}\n[transfer]\nmin_file_age_seconds = 0\n[logging]\nlog_file_path = '{}'\n",
        dir.path().join("s.db").display(),
        dir.path().join("log.jsonl").display()
    );
    let cfg = Config::parse(&file, &text).unwrap();
    let left = MemFs::new("left", true, 2_000_000_000);
    let right = MemFs::new("right", true, 2_000_000_000);
    left.put(paths::MARKER_NAME, br#"{"root_id":"L"}"#);
    right.put(paths::MARKER_NAME, br#"{"root_id":"R"}"#);
    Harness {
        _dir: dir,
        cfg,
        left,
        right,
    }
}

impl Harness {
    pub(in crate::apply) fn sides(&self) -> Sides {
        Sides {
            left: Arc::new(self.left.clone()),
            right: Arc::new(self.right.clone()),
        }
    }

    pub(in crate::apply) fn plan(&self) -> Plan {
        let state = State::open_or_create(&self.cfg.state_db).unwrap();
        let req = PlanRequest {
            now_ns: crate::now_ns(),
            ..PlanRequest::default()
        };
        pipeline::make_plan(&self.cfg, &self.sides(), &state, req)
            .unwrap()
            .0
    }

    pub(in crate::apply) fn apply_with(
        &self,
        plan: &Plan,
        sides: &Sides,
    ) -> Result<Report, ApplyError> {
        let mut state = State::open_or_create(&self.cfg.state_db).unwrap();
        admit(
            plan,
            &self.cfg,
            sides,
            &mut state,
            Overrides::GUARDS_CHECKED,
        )?;
        run(
            &valid(plan),
            &self.cfg,
            sides,
            &mut state,
            &Logger::null(),
            &Options::default(),
        )
    }

    /// Applies `plan` on `sides`, asserting that no step failed.
    #[track_caller]
    pub(in crate::apply) fn apply_clean(&self, plan: &Plan, sides: &Sides) -> Report {
        let r = self.apply_with(plan, sides).unwrap();
        assert!(r.failed.is_empty(), "{:?} in {r:?}", r.failed);
        r
    }

    /// Applies `plan` on the healthy sides.
    pub(in crate::apply) fn apply(&self, plan: &Plan) -> Report {
        self.apply_with(plan, &self.sides()).unwrap()
    }

    pub(in crate::apply) fn sync(&self) -> Report {
        let p = self.plan();
        self.apply_with(&p, &self.sides()).unwrap()
    }

    pub(in crate::apply) fn tick(&self) {
        self.left.advance(3_000_000_000);
        self.right.advance(3_000_000_000);
    }

    /// The in-memory root of `side`.
    pub(in crate::apply) fn mem(&self, side: Side) -> &MemFs {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// The harness's sides with `side` replaced by `fs`.
    pub(in crate::apply) fn sides_with(&self, side: Side, fs: Arc<dyn Fs>) -> Sides {
        let mut sides = self.sides();
        match side {
            Side::Left => sides.left = fs,
            Side::Right => sides.right = fs,
        }
        sides
    }

    /// A fault-injecting wrapper around `side`'s root, to configure and
    /// then take as [`Faults::sides`].
    pub(in crate::apply) fn faults(&self, side: Side) -> Faults<'_> {
        Faults {
            h: self,
            side,
            fs: FaultFs::new(Arc::new(self.mem(side).clone())),
        }
    }

    /// `side`'s root with a hook on every open and optional read or write
    /// failures, to configure and then take as [`HookedSide::sides`].
    pub(in crate::apply) fn hooked(&self, side: Side) -> HookedSide<'_> {
        HookedSide {
            h: self,
            side,
            fs: Hooked {
                mem: self.mem(side).clone(),
                on_open: Box::new(|_, _| {}),
                read_limit: None,
                write_limit: None,
            },
        }
    }

    /// Puts `tree` (path → text) on the left, syncs it and moves the clock
    /// on: the state both sides start a test from.
    pub(in crate::apply) fn synced(&self, tree: &[(&str, &str)]) {
        put_all(&self.left, tree);
        self.sync();
        self.tick();
    }

    /// The state DB with `plan` admitted on `sides` (a run may follow).
    pub(in crate::apply) fn admitted(&self, plan: &Plan, sides: &Sides) -> State {
        let mut state = State::open_or_create(&self.cfg.state_db).unwrap();
        admit(
            plan,
            &self.cfg,
            sides,
            &mut state,
            Overrides::GUARDS_CHECKED,
        )
        .unwrap();
        state
    }

    /// Admits `plan` on `sides` and runs it with `opts` (a stop flag, a
    /// progress recorder, an event hook), which must not fail.
    #[track_caller]
    pub(in crate::apply) fn run_opts(&self, plan: &Plan, sides: &Sides, opts: &Options) -> Report {
        let mut state = self.admitted(plan, sides);
        self.run_in(&mut state, plan, sides, opts).unwrap()
    }

    /// The same harness with roots that give file ids only when asked one
    /// path at a time (as Windows listings do).
    pub(in crate::apply) fn ids_on_query(mut self) -> Self {
        for (side, label) in [(Side::Left, "L"), (Side::Right, "R")] {
            let m = MemFs::new(side.as_str(), true, 2_000_000_000).ids_on_query();
            m.put(
                paths::MARKER_NAME,
                format!(r#"{{"root_id":"{label}"}}"#).as_bytes(),
            );
            match side {
                Side::Left => self.left = m,
                Side::Right => self.right = m,
            }
        }
        self
    }

    /// Runs an admitted `plan` on `sides` with `opts`.
    pub(in crate::apply) fn run_in(
        &self,
        state: &mut State,
        plan: &Plan,
        sides: &Sides,
        opts: &Options,
    ) -> Result<Report, ApplyError> {
        run(&valid(plan), &self.cfg, sides, state, &Logger::null(), opts)
    }

    /// A full scan of `side`'s root.
    pub(in crate::apply) fn scan(&self, side: Side) -> crate::scan::SideScan {
        let ex = self.cfg.excluder(side).unwrap();
        let case = self.cfg.case_sensitive;
        crate::scan::scan_side(self.mem(side), side, &ex, case, &|_| {}).unwrap()
    }

    /// The plan `req` asks for (given scans, a scope…).
    pub(in crate::apply) fn plan_for(&self, req: PlanRequest) -> Plan {
        let state = State::open_or_create(&self.cfg.state_db).unwrap();
        let req = PlanRequest {
            now_ns: crate::now_ns(),
            ..req
        };
        pipeline::make_plan(&self.cfg, &self.sides(), &state, req)
            .unwrap()
            .0
    }

    /// Every path on both sides, exactly as spelt there.
    pub(in crate::apply) fn names(&self) -> Vec<String> {
        let mut all: Vec<String> = self.left.dump().into_keys().collect();
        all.extend(self.right.dump().into_keys());
        all
    }

    /// True when `path`, spelt exactly so, is on both sides.
    pub(in crate::apply) fn on_both(&self, path: &str) -> bool {
        self.left.dump().contains_key(path) && self.right.dump().contains_key(path)
    }

    /// Every file content on both sides (trees and trashes).
    pub(in crate::apply) fn contents(&self) -> Vec<Vec<u8>> {
        let mut all = all_contents(&self.left);
        all.extend(all_contents(&self.right));
        all
    }

    /// Asserts that every content of `before` is still somewhere on a side
    /// (tree or trash) and that the two trees are equal, after cut `n`.
    pub(in crate::apply) fn assert_converged_keeping(&self, before: &[Vec<u8>], n: i64) {
        assert_eq!(live(&self.left), live(&self.right), "n={n}: trees differ");
        let everything = self.contents();
        for v in before {
            let lost = String::from_utf8_lossy(v);
            assert!(everything.contains(v), "n={n}: lost {lost:?}");
        }
    }

    /// The state DB, which must exist.
    pub(in crate::apply) fn state(&self) -> State {
        State::open(&self.cfg.state_db).unwrap()
    }
}

/// One side of a [`Harness`] behind a [`FaultFs`]:
/// `h.faults(Side::Right).fail(ErrorClass::Locked, "rename", "a.txt", 1).sides()`.
pub(in crate::apply) struct Faults<'h> {
    h: &'h Harness,
    side: Side,
    fs: FaultFs,
}

impl Faults<'_> {
    /// Calls of `op` on a path containing `path` fail with `class`, `times` times.
    pub(in crate::apply) fn fail(
        self,
        class: ErrorClass,
        op: &'static str,
        path: &str,
        times: u32,
    ) -> Self {
        self.fs.fail(fault(class, op, path, times));
        self
    }

    /// The power goes after `n` more writes.
    pub(in crate::apply) fn crash_after(self, n: i64) -> Self {
        self.fs.crash_after(n);
        self
    }

    /// Path components of at most `component` bytes, paths of at most `path`.
    pub(in crate::apply) fn limit_names(self, component: usize, path: usize) -> Self {
        self.fs.limit_names(component, path);
        self
    }

    /// The faulty file system alone (to scan or list through it).
    pub(in crate::apply) fn fs(self) -> FaultFs {
        self.fs
    }

    /// The harness's sides with this one faulty.
    pub(in crate::apply) fn sides(self) -> Sides {
        self.h.sides_with(self.side, Arc::new(self.fs))
    }
}

/// One side of a [`Harness`] behind a [`Hooked`] file system:
/// `h.hooked(Side::Left).reads_fail_after(1_500_000).sides()`.
pub(in crate::apply) struct HookedSide<'h> {
    h: &'h Harness,
    side: Side,
    fs: Hooked,
}

impl HookedSide<'_> {
    /// Runs `hook` on every `open_read` (an edit or a stop request
    /// arriving while a copy reads its source).
    pub(in crate::apply) fn on_open(
        mut self,
        hook: impl Fn(&MemFs, &str) + Send + Sync + 'static,
    ) -> Self {
        self.fs.on_open = Box::new(hook);
        self
    }

    /// The sides, and a flag raised when `path` is first opened for reading
    /// (to stop a run there, or to see that a file was read).
    pub(in crate::apply) fn flag_when_opened(
        self,
        path: &'static str,
    ) -> (Sides, Arc<std::sync::atomic::AtomicBool>) {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let raise = Arc::clone(&flag);
        let sides = self
            .on_open(move |_, p| {
                if p == path {
                    raise.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            })
            .sides();
        (sides, flag)
    }

    /// Every read fails after `n` bytes (a disk or network error midway).
    pub(in crate::apply) fn reads_fail_after(mut self, n: usize) -> Self {
        self.fs.read_limit = Some(n);
        self
    }

    /// Every write fails after `n` bytes (a disk that fills up midway).
    pub(in crate::apply) fn writes_fail_after(mut self, n: usize) -> Self {
        self.fs.write_limit = Some(n);
        self
    }

    /// The harness's sides with this one hooked.
    pub(in crate::apply) fn sides(self) -> Sides {
        self.h.sides_with(self.side, Arc::new(self.fs))
    }
}

/// A hook run on every `open_read`, with the root and the path.
pub(in crate::apply) type OpenHook = Box<dyn Fn(&MemFs, &str) + Send + Sync>;

/// A MemFs that runs a hook on every `open_read` and can fail reads or
/// writes midway (built by [`Harness::hooked`]).
pub(in crate::apply) struct Hooked {
    pub(in crate::apply) mem: MemFs,
    pub(in crate::apply) on_open: OpenHook,
    /// Every read fails after that many bytes.
    pub(in crate::apply) read_limit: Option<usize>,
    /// Every write fails after that many bytes.
    pub(in crate::apply) write_limit: Option<usize>,
}

struct FailWriteAfter(Box<dyn crate::fs::FileWriter>, usize);

impl std::io::Write for FailWriteAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.1 == 0 {
            return Err(std::io::Error::other("injected write error: no space left"));
        }
        let n = self.0.write(&buf[..buf.len().min(self.1)])?;
        self.1 -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl crate::fs::FileWriter for FailWriteAfter {
    fn finish(self: Box<Self>) -> Result<(), FsError> {
        self.0.finish()
    }
}

struct FailAfter(Box<dyn Read + Send>, usize);

impl Read for FailAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.1 == 0 {
            return Err(std::io::Error::other("injected read error"));
        }
        let n = buf.len().min(self.1).min(64 * 1024);
        let n = self.0.read(&mut buf[..n])?;
        self.1 -= n;
        Ok(n)
    }
}

impl Fs for Hooked {
    fn root_display(&self) -> String {
        self.mem.root_display()
    }
    fn stat(&self, p: &str) -> Result<Option<Meta>, FsError> {
        self.mem.stat(p)
    }
    fn walk(
        &self,
        e: crate::fs::ExcludeFn<'_>,
        pr: &(dyn Fn(u64) + Sync),
    ) -> Result<crate::fs::WalkResult, FsError> {
        self.mem.walk(e, pr)
    }
    fn list_dir(&self, p: &str) -> Result<crate::fs::Listing, FsError> {
        self.mem.list_dir(p)
    }
    fn open_read(&self, p: &str) -> Result<Box<dyn Read + Send>, FsError> {
        let r = self.mem.open_read(p);
        (self.on_open)(&self.mem, p);
        match self.read_limit {
            Some(n) => r.map(|r| Box::new(FailAfter(r, n)) as Box<dyn Read + Send>),
            None => r,
        }
    }
    fn create(&self, p: &str) -> Result<Box<dyn crate::fs::FileWriter>, FsError> {
        let w = self.mem.create(p)?;
        Ok(match self.write_limit {
            Some(n) => Box::new(FailWriteAfter(w, n)),
            None => w,
        })
    }
    fn set_meta(&self, p: &str, m: i64, pr: u32) -> Result<(), FsError> {
        self.mem.set_meta(p, m, pr)
    }
    fn rename(&self, a: &str, b: &str) -> Result<(), FsError> {
        self.mem.rename(a, b)
    }
    fn remove_file(&self, p: &str) -> Result<(), FsError> {
        self.mem.remove_file(p)
    }
    fn create_dir_all(&self, p: &str) -> Result<(), FsError> {
        self.mem.create_dir_all(p)
    }
    fn remove_dir(&self, p: &str) -> Result<(), FsError> {
        self.mem.remove_dir(p)
    }
}

fn fault(class: ErrorClass, op: &'static str, path: &str, times: u32) -> FaultRule {
    FaultRule {
        op,
        path_contains: path.into(),
        class,
        times,
    }
}

/// Asserts that no temp file is left on a side.
pub(in crate::apply) fn no_temps(m: &MemFs) {
    let temps: Vec<String> = m
        .dump()
        .into_keys()
        .filter(|p| p.contains(paths::TEMP_PREFIX))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

/// The plan, checked (what `run` takes).
pub(in crate::apply) fn valid(p: &Plan) -> ValidPlan {
    p.clone().validated().unwrap()
}

/// Files outside the trash (path → content), marker excluded.
pub(in crate::apply) fn live(m: &MemFs) -> BTreeMap<String, Vec<u8>> {
    m.dump()
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".sync_trash") && p != paths::MARKER_NAME)
        .filter_map(|(p, d)| d.map(|d| (p.to_lowercase(), d)))
        .collect()
}

/// Every file content anywhere on a side (tree and trash).
pub(in crate::apply) fn all_contents(m: &MemFs) -> Vec<Vec<u8>> {
    m.dump().into_values().flatten().collect()
}

/// Puts every file of `tree` (path → text) on a side.
pub(in crate::apply) fn put_all(m: &MemFs, tree: &[(&str, &str)]) {
    for (p, body) in tree {
        m.put(p, body.as_bytes());
    }
}

/// Puts `n` files on a side, file `i` at `path` holding `body`, each with
/// `{i}` replaced by `i`: `put_each(&h.left, 20, "docs/d{i}.txt", "doc {i} v1")`.
pub(in crate::apply) fn put_each(m: &MemFs, n: usize, path: &str, body: &str) {
    for i in 0..n {
        let i = i.to_string();
        m.put(&path.replace("{i}", &i), body.replace("{i}", &i).as_bytes());
    }
}

/// `len` bytes of noise (no run long enough to compress away), varied by `shift`.
pub(in crate::apply) fn noise(len: u32, shift: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> shift).to_le_bytes()[0])
        .collect()
}

/// The file contents in a side's trash.
pub(in crate::apply) fn trashed(m: &MemFs) -> Vec<Vec<u8>> {
    m.dump()
        .into_iter()
        .filter(|(k, _)| k.starts_with(".sync_trash/"))
        .filter_map(|(_, v)| v)
        .collect()
}

/// Asserts that `path` on a side holds `body`.
#[track_caller]
pub(in crate::apply) fn assert_file(m: &MemFs, path: &str, body: &str) {
    assert_eq!(m.get(path).as_deref(), Some(body.as_bytes()), "{path}");
}

/// How many ops of one of `kinds` a plan holds.
pub(in crate::apply) fn count(p: &Plan, kinds: &[OpKind]) -> usize {
    p.ops.iter().filter(|o| kinds.contains(&o.kind())).count()
}

/// True when the plan holds an op of `kind` decided by `rule`.
pub(in crate::apply) fn has_rule(p: &Plan, kind: OpKind, rule: &str) -> bool {
    p.ops.iter().any(|o| o.kind() == kind && o.rule == rule)
}

/// `m` behind a [`FaultFs`] whose power goes after `budget` writes
/// (`after_write`: right after the write's effect, before anything else).
pub(in crate::apply) fn cut(m: &MemFs, budget: &Arc<AtomicI64>, after_write: bool) -> FaultFs {
    let inner = Arc::new(m.clone());
    if after_write {
        FaultFs::with_cut_after(inner, Arc::clone(budget))
    } else {
        FaultFs::with_budget(inner, Arc::clone(budget))
    }
}

/// Runs `attempt(n)` with the power cut after `n` writes, for n = 0, 1, …
/// until an attempt says it ran through uncut; returns that `n` (the
/// number of writes the run needed).
pub(in crate::apply) fn each_cut(mut attempt: impl FnMut(i64) -> bool) -> i64 {
    let mut n = 0;
    while attempt(n) {
        n += 1;
    }
    n
}

/// A [`Progress`] that writes down what it hears, in order: `("begin
/// <steps>", bytes)`, `("start <path>", bytes)`, `("copied", n)`, `("end
/// <path>", 0)`.
#[derive(Default)]
pub(in crate::apply) struct Heard(pub(in crate::apply) std::sync::Mutex<Vec<(String, u64)>>);

impl Heard {
    fn note(&self, what: String, n: u64) {
        if let Ok(mut v) = self.0.lock() {
            v.push((what, n));
        }
    }

    /// What was heard.
    pub(in crate::apply) fn take(self) -> Vec<(String, u64)> {
        self.0.into_inner().unwrap()
    }
}

impl Progress for Heard {
    fn begin(&self, steps: u64, bytes: u64) {
        self.note(format!("begin {steps}"), bytes);
    }
    fn step_start(&self, op: &Op) {
        self.note(format!("start {}", op.path), op.bytes);
    }
    fn copied(&self, n: u64) {
        self.note("copied".into(), n);
    }
    fn step_end(&self, op: &Op) {
        self.note(format!("end {}", op.path), 0);
    }
}

/// Every version in a side's trash has its trash record (finding 6).
pub(in crate::apply) fn assert_trash_recorded(h: &Harness, n: i64) {
    let state = h.state();
    let records = state.trash_records().unwrap();
    for (side, m) in [(Side::Left, &h.left), (Side::Right, &h.right)] {
        for k in m
            .dump()
            .into_iter()
            .filter(|(_, d)| d.is_some())
            .map(|(k, _)| k)
        {
            if let Some(rel) = k.strip_prefix(".sync_trash/") {
                assert!(
                    records
                        .iter()
                        .any(|r| r.side == side && r.trash_path == rel),
                    "n={n}: {side} trash `{rel}` has no record: {records:?}"
                );
            }
        }
    }
}
