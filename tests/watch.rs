//! `watch` with the real binary: latency with the default interval, small
//! files overtaking a throttled large copy, SIGTERM, kill -9 + restart, and
//! a root that disappears mid-run. Run under Wine too (the watcher works
//! there); the tests that need a Unix signal or rename a watched root stay
//! on Unix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use twinsync::Side;

fn spawn_watch(e: &Env, extra: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("twinsync"))
        .current_dir(e.dir.path())
        .args(["--config", e.config.to_str().unwrap(), "watch"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[cfg(unix)]
fn sigterm(c: &Child) {
    Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status()
        .unwrap();
}

fn stop(mut c: Child) {
    #[cfg(unix)]
    sigterm(&c);
    let _ = wait_for(Duration::from_secs(10), || {
        matches!(c.try_wait(), Ok(Some(_)))
    });
    let _ = c.kill();
    let _ = c.wait();
}

/// Default interval (10 s) and default min_file_age_seconds (2 s).
const DEFAULTS: &str = "left_root = 'left'\nright_root = 'right'\nstate_db = 'state/twinsync.db'\n[logging]\nlog_file_path = 'twinsync.log.jsonl'\n";

#[test]
fn changes_arrive_within_ten_seconds_both_ways() {
    let e = Env::new();
    std::fs::write(&e.config, DEFAULTS).unwrap();
    e.cmd(&["init"]).assert().success();
    let child = spawn_watch(&e, &[]);
    std::thread::sleep(Duration::from_secs(1));
    let mut lat = Vec::new();
    for i in 0..3 {
        for (from, to) in [(Side::Left, Side::Right), (Side::Right, Side::Left)] {
            let name = format!("doc-{from}-{i}.txt");
            std::fs::write(e.root(from).join(&name), format!("saved {i}")).unwrap();
            let t = wait_for(Duration::from_secs(20), || e.read(to, &name).is_some())
                .unwrap_or_else(|| panic!("{name} never arrived"));
            lat.push((from, t));
        }
    }
    stop(child);
    for (from, t) in &lat {
        eprintln!("latency {from} → other: {:.2} s", t.as_secs_f64());
    }
    let worst = lat.iter().map(|(_, t)| *t).max().unwrap();
    assert!(worst < Duration::from_secs(15), "worst latency {worst:?}");
}

#[test]
fn small_file_overtakes_a_throttled_large_copy() {
    let e = Env::init("[transfer]\nlarge_file_bytes = 100000\nmax_bytes_per_second = 400000\n");
    e.write(Side::Left, "video.mp4", &"v".repeat(3_000_000), 100);
    let child = spawn_watch(&e, &[]);
    // The large copy takes ~7 s at this rate; meanwhile a document is saved.
    std::thread::sleep(Duration::from_millis(1500));
    e.write(Side::Left, "note.txt", "small and urgent", 10);
    let small = wait_for(Duration::from_secs(10), || {
        e.read(Side::Right, "note.txt").is_some()
    });
    let big_done_when_small_arrived = e.right.join("video.mp4").exists();
    assert!(small.is_some(), "the small file never arrived");
    assert!(
        !big_done_when_small_arrived,
        "the small file waited for the large one"
    );
    let big = wait_for(Duration::from_secs(30), || {
        e.read(Side::Right, "video.mp4")
            .is_some_and(|v| v.len() == 3_000_000)
    });
    stop(child);
    assert!(big.is_some(), "the large file never completed");
    assert_eq!(common::synced(&e.left), common::synced(&e.right));
}

#[cfg(unix)]
#[test]
fn sigterm_exits_zero_promptly() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    let mut child = spawn_watch(&e, &[]);
    wait_for(Duration::from_secs(10), || {
        e.read(Side::Right, "a.txt").is_some()
    })
    .unwrap();
    let t = Instant::now();
    sigterm(&child);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "watch did not stop within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("stopped in {:.2} s", t.elapsed().as_secs_f64());
    assert_eq!(status.code(), Some(0));
}

#[test]
fn kill_9_then_restart_converges() {
    let e = Env::init("[transfer]\nlarge_file_bytes = 100000\nmax_bytes_per_second = 1000000\n");
    for i in 0..4 {
        e.write(
            Side::Left,
            &format!("big{i}.bin"),
            &format!("{i}{}", "b".repeat(1_000_000)),
            100,
        );
    }
    for i in 0..20 {
        e.write(Side::Right, &format!("small{i}.txt"), &format!("s{i}"), 100);
    }
    let mut child = spawn_watch(&e, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let child = spawn_watch(&e, &[]);
    let ok = wait_for(Duration::from_secs(30), || {
        common::synced(&e.left) == common::synced(&e.right)
    });
    stop(child);
    assert!(
        ok.is_some(),
        "not converged: {:?} vs {:?}",
        common::synced(&e.left).keys().collect::<Vec<_>>(),
        common::synced(&e.right).keys().collect::<Vec<_>>()
    );
    let temps: Vec<String> = e
        .tree(Side::Right)
        .into_keys()
        .chain(e.tree(Side::Left).into_keys())
        .filter(|k| k.contains(".~twinsync-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[cfg(unix)]
#[test]
fn right_root_vanishing_pauses_without_deleting_and_recovers() {
    let e = Env::init("sync_interval_seconds = 1\n");
    for i in 0..5 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    let child = spawn_watch(&e, &[]);
    wait_for(Duration::from_secs(10), || {
        (0..5).all(|i| e.right.join(format!("f{i}.txt")).exists())
    })
    .unwrap();
    let away = e.dir.path().join("right-unplugged");
    std::fs::rename(&e.right, &away).unwrap();
    e.write(
        Side::Left,
        "during-outage.txt",
        "made while right was gone",
        10,
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        (0..5)
            .filter(|i| e.left.join(format!("f{i}.txt")).exists())
            .count(),
        5,
        "nothing deleted on the left"
    );
    std::fs::rename(&away, &e.right).unwrap();
    let back = wait_for(Duration::from_secs(15), || {
        e.read(Side::Right, "during-outage.txt").is_some()
    });
    stop(child);
    assert!(
        back.is_some(),
        "changes made during the outage did not go through"
    );
    let log = e.log();
    let outages = log
        .iter()
        .filter(|l| l["event"] == "unavailable" && l["level"] == "error")
        .count();
    assert_eq!(outages, 1, "logged once per outage");
    assert!(
        log.iter()
            .any(|l| l["event"] == "unavailable" && l["result"] == "ok")
    );
}

#[test]
fn watch_cycles_n_stops_by_itself_and_dry_run_changes_nothing() {
    let e = Env::init("sync_interval_seconds = 1\n");
    e.write(Side::Left, "a.txt", "x", 100);
    e.cmd(&["watch", "--cycles", "2", "--dry-run"])
        .assert()
        .success();
    assert!(e.read(Side::Right, "a.txt").is_none());
    e.cmd(&["watch", "--cycles", "1"]).assert().success();
    assert_eq!(e.read(Side::Right, "a.txt").as_deref(), Some("x"));
}

#[test]
fn a_second_syncer_on_the_same_state_db_is_refused() {
    let e = Env::init("");
    let child = spawn_watch(&e, &[]);
    std::thread::sleep(Duration::from_millis(800));
    e.write(Side::Left, "a.txt", "x", 100);
    let out = e.cmd(&["apply", "--auto-approve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already syncing"));
    e.cmd(&["watch", "--cycles", "1"]).assert().code(1);
    // Read-only commands still work beside it.
    e.cmd(&["plan"]).assert().success();
    e.cmd(&["status"]).assert().success();
    stop(child);
    e.cmd(&["apply", "--auto-approve"]).assert().success();
}

#[test]
fn incremental_rescans_follow_creates_edits_deletes_and_folder_moves() {
    let e = Env::init("");
    for i in 0..30 {
        e.write(
            Side::Left,
            &format!("proj/d{}/f{i}.txt", i % 3),
            &format!("v1 {i}"),
            300,
        );
    }
    let child = spawn_watch(&e, &[]);
    let synced = |e: &Env| common::synced(&e.left) == common::synced(&e.right);
    wait_for(Duration::from_secs(15), || synced(&e)).expect("initial sync");
    std::fs::write(e.left.join("proj/d0/new.txt"), "new").unwrap();
    std::fs::write(e.right.join("proj/d1/f1.txt"), "edited on right").unwrap();
    std::fs::remove_file(e.left.join("proj/d2/f2.txt")).unwrap();
    std::fs::rename(e.left.join("proj/d0"), e.left.join("proj/moved")).unwrap();
    std::fs::create_dir_all(e.right.join("fresh/deep")).unwrap();
    std::fs::write(e.right.join("fresh/deep/x.txt"), "deep").unwrap();
    let ok = wait_for(Duration::from_secs(20), || {
        synced(&e)
            && e.read(Side::Left, "fresh/deep/x.txt").is_some()
            && e.read(Side::Right, "proj/moved/new.txt").is_some()
    });
    stop(child);
    assert!(
        ok.is_some(),
        "not converged:\n{:?}\n{:?}",
        common::synced(&e.left).keys().collect::<Vec<_>>(),
        common::synced(&e.right).keys().collect::<Vec<_>>()
    );
    assert_eq!(
        e.read(Side::Left, "proj/d1/f1.txt").as_deref(),
        Some("edited on right")
    );
    assert!(e.read(Side::Right, "proj/d2/f2.txt").is_none());
    assert!(
        !e.right.join("proj/d0").exists(),
        "the moved-away folder is gone on the right too"
    );
    // A full scan agrees: nothing left to do.
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
    let log = e.log();
    assert!(
        log.iter()
            .any(|l| l["event"] == "scan" && l["mode"] == "incremental"),
        "no incremental scan was used"
    );
}

/// Regression (issue 8, finding 4): large files arriving one after another
/// while the large-file lane copies them; a scan taken before a copy
/// finished used to be planned against the state after it, deleting the
/// copy's source for good. Nothing may be deleted, and every file arrives.
#[test]
fn large_files_arriving_while_the_lane_copies_are_never_deleted() {
    let e = Env::init(
        "sync_interval_seconds = 1\n[transfer]\nlarge_file_bytes = 1000\nmax_bytes_per_second = 200000\n[soft_delete]\nmax_size_bytes = 10\n",
    );
    let child = spawn_watch(&e, &[]);
    std::thread::sleep(Duration::from_millis(500));
    let body = "m".repeat(30_000);
    for i in 0..15 {
        std::fs::write(e.left.join(format!("clip{i:02}.mov")), &body).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let arrived = wait_for(Duration::from_mins(1), || {
        (0..15).all(|i| {
            e.read(Side::Right, &format!("clip{i:02}.mov"))
                .is_some_and(|s| s.len() == 30_000)
        })
    });
    std::thread::sleep(Duration::from_secs(2));
    stop(child);
    assert!(
        arrived.is_some(),
        "not every file arrived: {:?}",
        e.tree(Side::Right).keys()
    );
    let deletes: Vec<_> = e
        .log()
        .into_iter()
        .filter(|l| l["event"] == "delete" && l["result"] == "ok")
        .collect();
    assert!(deletes.is_empty(), "deleted: {deletes:?}");
    for i in 0..15 {
        assert!(
            e.read(Side::Left, &format!("clip{i:02}.mov")).is_some(),
            "clip{i:02} lost on the left"
        );
    }
}

/// Issue 22: with `auto_purge`, `watch` keeps each side's trash under
/// `max_trash_bytes` (oldest first) and its cycle event counts what went.
#[test]
fn watch_keeps_the_trash_under_its_cap_and_counts_it() {
    let e = Env::init("[soft_delete]\nauto_purge = true\nmax_trash_bytes = 10\n");
    e.write(Side::Left, "a.txt", "aaaaaaaa", 300);
    e.write(Side::Left, "b.txt", "bbbbbbbb", 300);
    e.sync();
    std::fs::remove_file(e.root(Side::Left).join("a.txt")).unwrap();
    e.sync();
    std::thread::sleep(Duration::from_millis(1_100));
    std::fs::remove_file(e.root(Side::Left).join("b.txt")).unwrap();
    e.sync();
    let trash = e.root(Side::Right).join(".sync_trash");
    assert!(trash.join("a.txt").exists() && trash.join("b.txt").exists());
    e.cmd(&["watch", "--cycles", "1"]).assert().success();
    assert!(!trash.join("a.txt").exists(), "the oldest went");
    assert!(trash.join("b.txt").exists(), "8 B fit under the 10 B cap");
    let purged: u64 = e
        .log()
        .iter()
        .filter(|v| v["event"] == "cycle")
        .filter_map(|v| v["trash_purged"].as_u64())
        .sum();
    assert_eq!(purged, 1);
}

/// `watch --cycles N` finishes the large copies its cycles handed to the
/// lane before it exits (a scheduled run would otherwise never land a file
/// longer than its cycles); it says it waits.
#[test]
fn watch_cycles_finishes_the_large_copies_it_started() {
    let e = Env::init("[transfer]\nlarge_file_bytes = 100000\nmax_bytes_per_second = 1000000\n");
    e.write(Side::Left, "video.mp4", &"v".repeat(2_500_000), 100);
    e.cmd(&["watch", "--cycles", "1"])
        .assert()
        .success()
        .stdout(predicates::str::contains("waiting for the large-file lane"));
    assert_eq!(
        e.read(Side::Right, "video.mp4").map(|v| v.len()),
        Some(2_500_000)
    );
    e.cmd(&["status"]).assert().code(0);
}

/// While a side is unavailable, cycles keep the configured interval (they
/// were 0.5 s apart, so `--cycles N` ran out before the drive came back).
#[test]
fn an_unavailable_side_is_looked_at_again_at_the_usual_interval() {
    let e = Env::init("sync_interval_seconds = 1\n");
    std::fs::remove_file(e.root(Side::Right).join(".twinsync-root")).unwrap();
    e.cmd(&["watch", "--cycles", "3"]).assert().code(3);
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = e
        .log()
        .iter()
        .filter(|v| v["event"] == "cycle")
        .map(|v| chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(starts.len(), 3, "{starts:?}");
    for w in starts.windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!(gap >= 900, "cycles {gap} ms apart: {starts:?}");
    }
}

/// `report_path` inside a root: watch writes the page there, and it is
/// never synced (it used to go across every cycle, each old version to
/// the other side's trash).
#[test]
fn a_report_inside_a_root_is_never_synced() {
    let e = Env::init("[logging]\nreport_path = 'left/live.html'\n");
    e.write(Side::Left, "a.txt", "a", 100);
    e.cmd(&["watch", "--cycles", "2"]).assert().success();
    assert!(e.left.join("live.html").exists(), "the page is written");
    assert!(e.read(Side::Right, "a.txt").is_some());
    assert!(
        !e.right.join("live.html").exists(),
        "the page is not synced"
    );
    let plan = e.plan_json();
    assert!(
        plan["ops"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| !o["path"].as_str().unwrap().contains("live.html")),
        "{plan}"
    );
}
