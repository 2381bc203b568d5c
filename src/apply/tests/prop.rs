//! The property test: random edit sequences on both sides, each round
//! synced once with a fault injected on one side and then healthy, lose
//! no version and converge.

use super::*;
use proptest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone)]
enum Act {
    Write(bool, usize),
    Delete(bool, usize),
    Rename(bool, usize, usize),
    Case(bool, usize),
    /// Renames a folder (`d`, `x`, `x/y`) to another name or case.
    Folder(bool, usize, usize),
}

const FOLDERS: [&str; 4] = ["d", "x", "x/y", "q"];

/// A fault injected into one side during the first sync of a round.
#[derive(Debug, Clone)]
struct Fault {
    left: bool,
    op: &'static str,
    path: usize,
    class: ErrorClass,
    times: u32,
    /// Every read of that side returns at most this many bytes.
    short: Option<usize>,
    /// That side takes paths of at most this many bytes (a drive's
    /// length limit: temp and trash names must fit).
    limit: Option<usize>,
}

fn fault() -> impl Strategy<Value = Option<Fault>> {
    let ops = prop_oneof![
        Just("stat"),
        Just("rename"),
        Just("create"),
        Just("list"),
        Just("delete"),
        Just("set properties"),
        Just("open"),
        Just("read"),
    ];
    // Interrupted (EINTR, retried by the production `RetryFs` layer)
    // and a drive refusing times (permission denied on `set
    // properties`) are on the menu with the rest.
    let classes = prop_oneof![
        Just(ErrorClass::PermissionDenied),
        Just(ErrorClass::Locked),
        Just(ErrorClass::Other),
        Just(ErrorClass::Interrupted),
    ];
    proptest::option::of(
        (
            any::<bool>(),
            ops,
            0..NAMES.len() + FOLDERS.len() + 12,
            classes,
            1..4u32,
            proptest::option::of(1..64usize),
            proptest::option::of(14..34usize),
        )
            .prop_map(|(left, op, path, class, times, short, limit)| Fault {
                left,
                op,
                path,
                class,
                times,
                short,
                limit,
            }),
    )
}

fn fault_path(i: usize) -> &'static str {
    if i < NAMES.len() {
        NAMES[i]
    } else if i - NAMES.len() < FOLDERS.len() {
        FOLDERS[i - NAMES.len()]
    } else if i - NAMES.len() - FOLDERS.len() == 0 {
        ".~twinsync-"
    } else {
        "" // any path: the first calls of that kind fail
    }
}

const NAMES: [&str; 7] = [
    "a.txt",
    "b.txt",
    "d/c.txt",
    "d/e.txt",
    "x/y/z.txt",
    "Report.docx",
    "d",
];

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        (any::<bool>(), 0..NAMES.len()).prop_map(|(s, i)| Act::Write(s, i)),
        (any::<bool>(), 0..NAMES.len()).prop_map(|(s, i)| Act::Delete(s, i)),
        (any::<bool>(), 0..NAMES.len(), 0..NAMES.len()).prop_map(|(s, i, j)| Act::Rename(s, i, j)),
        (any::<bool>(), 0..NAMES.len()).prop_map(|(s, i)| Act::Case(s, i)),
        (any::<bool>(), 0..FOLDERS.len(), 0..FOLDERS.len())
            .prop_map(|(s, i, j)| Act::Folder(s, i, j)),
    ]
}

fn exact(m: &MemFs, p: &str) -> Option<String> {
    let k = p.to_lowercase();
    m.dump().into_keys().find(|x| x.to_lowercase() == k)
}

fn perform(h: &Harness, a: &Act, counter: &mut u32) {
    let side = |l: bool| if l { &h.left } else { &h.right };
    match a {
        Act::Write(l, i) => {
            *counter += 1;
            let m = side(*l);
            if matches!(m.stat(NAMES[*i]), Ok(Some(x)) if x.kind == Kind::Dir) {
                return;
            }
            if m.create_dir_all(paths::parent(NAMES[*i])).is_ok() {
                m.put(NAMES[*i], format!("v{counter} {}", NAMES[*i]).as_bytes());
            }
        }
        Act::Delete(l, i) => {
            let _ = side(*l).remove_file(NAMES[*i]);
        }
        Act::Rename(l, i, j) => {
            let m = side(*l);
            if i != j
                && matches!(m.stat(NAMES[*i]), Ok(Some(x)) if x.kind == Kind::File)
                && matches!(m.stat(NAMES[*j]), Ok(None))
                && m.create_dir_all(paths::parent(NAMES[*j])).is_ok()
            {
                let _ = m.rename(NAMES[*i], NAMES[*j]);
            }
        }
        Act::Folder(l, i, j) => {
            let m = side(*l);
            let Some(from) = exact(m, FOLDERS[*i]) else {
                return;
            };
            if !matches!(m.stat(&from), Ok(Some(x)) if x.kind == Kind::Dir) {
                return;
            }
            let to = if i == j {
                // Same folder: a case-only rename.
                if from.chars().any(char::is_uppercase) {
                    from.to_lowercase()
                } else {
                    from.to_uppercase()
                }
            } else {
                FOLDERS[*j].to_owned()
            };
            if paths::is_within(&to.to_lowercase(), &from.to_lowercase())
                || (i != j && !matches!(m.stat(&to), Ok(None)))
                || m.create_dir_all(paths::parent(&to)).is_err()
            {
                return;
            }
            let _ = m.rename(&from, &to);
        }
        Act::Case(l, i) => {
            let m = side(*l);
            if let Some(p) = exact(m, NAMES[*i]) {
                let name = paths::file_name(&p);
                let flipped: String = name
                    .chars()
                    .map(|c| {
                        if c.is_uppercase() {
                            c.to_ascii_lowercase()
                        } else {
                            c.to_ascii_uppercase()
                        }
                    })
                    .collect();
                let _ = m.rename(&p, &paths::join(paths::parent(&p), &flipped));
            }
        }
    }
}

/// Cases per run: 48 by default (CI), `TWINSYNC_SOAK_CASES` for a soak
/// (`cargo make soak`).
fn cases() -> u32 {
    std::env::var("TWINSYNC_SOAK_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

/// Every file content on a side that a user could get back: the tree and
/// the trash, never a twinsync temp name.
fn kept(m: &MemFs) -> Vec<Vec<u8>> {
    m.dump()
        .into_iter()
        .filter(|(p, _)| !p.contains(paths::TEMP_PREFIX))
        .filter_map(|(_, d)| d)
        .collect()
}

/// One sync as `apply` runs it: parked items put back, plan, the sweep of
/// old copies' temp files, apply.
fn sync_on(h: &Harness, sides: &Sides) -> Result<Report, String> {
    let mut state = State::open_or_create(&h.cfg.state_db).map_err(|e| e.to_string())?;
    prepare(&mut state, &h.cfg, sides, &Logger::null()).map_err(|e| e.to_string())?;
    let req = PlanRequest {
        now_ns: crate::now_ns(),
        forced: true,
        ..PlanRequest::default()
    };
    let (plan, scans) =
        pipeline::make_plan(&h.cfg, sides, &state, req).map_err(|e| e.to_string())?;
    // As `apply` does: the temp files an earlier run could not remove go.
    for (side, scan) in scans.iter() {
        sweep_scan(&state, sides.get(side), side, scan, &Logger::null());
    }
    drop(state);
    h.apply_with(&plan, sides).map_err(|e| e.to_string())
}

/// Soak figures, summed over every case of a run.
static CASES: AtomicU64 = AtomicU64::new(0);
static ROUNDS: AtomicU64 = AtomicU64::new(0);
static FAULTS: AtomicU64 = AtomicU64::new(0);
static FAULT_FAILURES: AtomicU64 = AtomicU64::new(0);
static VERSIONS: AtomicU64 = AtomicU64::new(0);
static MOVES: AtomicU64 = AtomicU64::new(0);

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// After the last case of a soak run, the figures (nothing lost, or the
/// run would have failed before).
#[allow(clippy::print_stderr)]
fn report_soak() {
    let n = CASES.fetch_add(1, Ordering::Relaxed) + 1;
    if std::env::var_os("TWINSYNC_SOAK_CASES").is_some() && n == u64::from(cases()) {
        eprintln!(
            "soak: {n} cases, {} rounds of random edits, {} fault rules set ({} calls failed by them), {} moves applied, {} versions checked after each round: nothing lost",
            ROUNDS.load(Ordering::Relaxed),
            FAULTS.load(Ordering::Relaxed),
            FAULT_FAILURES.load(Ordering::Relaxed),
            MOVES.load(Ordering::Relaxed),
            VERSIONS.load(Ordering::Relaxed),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    #[test]
    fn random_edits_converge_and_lose_nothing(
        rounds in proptest::collection::vec((proptest::collection::vec(act(), 1..8), fault()), 1..5),
        parallel in prop_oneof![Just(1u32), Just(4), Just(8)],
    ) {
        let mut h = harness("");
        // Small copies one at a time, or several at once (`parallel_copies`).
        h.cfg.raw.transfer.parallel_copies = parallel;
        // Past the first run (whose metadata-only adoption is tested elsewhere).
        h.left.put("seed", b"seed");
        h.sync();
        let mut counter = 0;
        for (acts, fault) in &rounds {
            h.tick();
            for a in acts {
                perform(&h, a, &mut counter);
            }
            h.tick();
            let before: Vec<Vec<u8>> = kept(&h.left).into_iter().chain(kept(&h.right)).collect();
            add(&ROUNDS, 1);
            add(&VERSIONS, before.len() as u64);
            if let Some(f) = fault {
                add(&FAULTS, 1);
                // The first sync runs with a fault on one side: a failed
                // stat, rename, write, listing, delete or property call.
                let side = if f.left { Side::Left } else { Side::Right };
                let faulty = h.faults(side).fail(f.class, f.op, fault_path(f.path), f.times).fs();
                faulty.short_reads(f.short.unwrap_or(0));
                if let Some(max_path) = f.limit {
                    faulty.limit_names(255, max_path);
                }
                let faulty = Arc::new(faulty);
                let fired = Arc::clone(&faulty);
                // As production stacks it: interrupted reads are retried.
                let faulty: Arc<dyn Fs> = crate::fs::retry::RetryFs::wrap(faulty);
                let sides = h.sides_with(side, faulty);
                // Failures are expected here; losses are not.
                if let Ok(r) = sync_on(&h, &sides) {
                    add(&MOVES, r.moves);
                }
                add(&FAULT_FAILURES, fired.fired());
                let mut everything = kept(&h.left);
                everything.extend(kept(&h.right));
                for v in &before {
                    prop_assert!(everything.contains(v), "lost under {f:?}: {:?}", String::from_utf8_lossy(v));
                }
                h.tick();
            }
            let r = sync_on(&h, &h.sides()).map_err(TestCaseError::fail)?;
            prop_assert!(r.failed.is_empty(), "failed: {:?}", r.failed);
            add(&MOVES, r.moves);
            // Steps skipped (e.g. a folder replaced by a file) settle next cycle.
            let r2 = sync_on(&h, &h.sides()).map_err(TestCaseError::fail)?;
            prop_assert!(r2.failed.is_empty(), "failed: {:?}", r2.failed);
            let r3 = sync_on(&h, &h.sides()).map_err(TestCaseError::fail)?;
            prop_assert!(r3.failed.is_empty(), "failed: {:?}", r3.failed);
            prop_assert_eq!(live(&h.left), live(&h.right));
            let mut everything = kept(&h.left);
            everything.extend(kept(&h.right));
            for v in &before {
                prop_assert!(everything.contains(v), "lost {:?}", String::from_utf8_lossy(v));
            }
            prop_assert!(!h.plan().summary.has_changes(), "a further sync still has work: {:?}", h.plan().ops);
            let names: Vec<String> = h.left.dump().into_keys().chain(h.right.dump().into_keys()).collect();
            prop_assert!(!names.iter().any(|p| p.contains(paths::TEMP_PREFIX)), "temp left: {names:?}");
        }
        report_soak();
    }
}
