//! The health verdict end to end (issue 19 items 1, 2, 5): `status` and
//! its exit code, `status --json`, the report's headline, `plan`'s "in
//! sync" sentence, and the `watch` console, on the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use twinsync::Side;

fn run(e: &Env, args: &[&str]) -> (i32, String, String) {
    let out = e.cmd(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status_json(e: &Env) -> (i32, serde_json::Value) {
    let (code, out, err) = run(e, &["status", "--json"]);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|x| panic!("{x}: {out}\n{err}")),
    )
}

/// The report's headline (the `#verdict` box's first line).
fn report_headline(e: &Env) -> String {
    e.cmd(&["report", "--out", "r.html"]).assert().success();
    let html = std::fs::read_to_string(e.dir.path().join("r.html")).unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#verdict .head").unwrap();
    doc.select(&sel).next().unwrap().text().collect()
}

#[test]
fn a_guard_refusal_in_watch_blocks_status_and_the_report_until_forced() {
    let e = Env::init("");
    for i in 0..30 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    e.sync();
    assert_eq!(run(&e, &["status"]).0, 0, "in sync");
    for i in 0..25 {
        std::fs::remove_file(e.left.join(format!("f{i}.txt"))).unwrap();
    }
    // The cycles after the refusal stay blocked (exit 4), and the console
    // says so once.
    let (code, out, err) = run(&e, &["watch", "--cycles", "3"]);
    assert_eq!(code, 4, "{out}\n{err}");
    assert_eq!(out.matches("blocked:").count(), 1, "{out}");
    // The console says so in words, with the commands that work.
    assert!(
        out.contains("blocked: the mass-delete guard refused"),
        "{out}"
    );
    assert!(
        out.contains("`twinsync plan`") && out.contains("`twinsync apply --force`"),
        "{out}"
    );
    assert!(
        !format!("{out}{err}").contains("re-run with --force"),
        "{out}{err}"
    );

    // The refusal outlives the watch run: status exits 4, names the guard,
    // its counts and the commands to review and override.
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("Health: Blocked"), "{out}");
    assert!(out.contains("mass-delete guard"), "{out}");
    assert!(
        out.contains("deletes 25 of 30 files on the right side"),
        "{out}"
    );
    assert!(
        out.contains("twinsync plan\n") && out.contains("twinsync apply --force\n"),
        "{out}"
    );
    let (code, j) = status_json(&e);
    assert_eq!(code, 4);
    assert_eq!(j["health"]["state"], "blocked");
    assert_eq!(j["health"]["exit_code"], 4);
    let r = &j["health"]["reasons"][0];
    assert_eq!(r["kind"], "blocked");
    assert_eq!(r["refusal"]["guard"], "mass_delete");
    assert_eq!(r["refusal"]["count"], 25);
    assert_eq!(r["refusal"]["total"], 30);
    assert!(
        r["refusal"]["since"].as_str().unwrap().starts_with("20"),
        "{r}"
    );
    assert_eq!(
        r["commands"],
        serde_json::json!(["twinsync plan", "twinsync apply --force"])
    );
    let head = report_headline(&e);
    assert!(head.to_lowercase().contains("blocked"), "{head}");

    // A restarted watch says so at once (and not twice), still refusing.
    let (code, out, _) = run(&e, &["watch", "--cycles", "1"]);
    assert_eq!(code, 4, "{out}");
    assert_eq!(
        out.matches("blocked: the mass-delete guard refused")
            .count(),
        1,
        "{out}"
    );

    // The override the message names clears it.
    e.cmd(&["plan"]).assert().code(4);
    e.cmd(&["apply", "--auto-approve", "--force"])
        .assert()
        .success();
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Health: In sync"), "{out}");
    assert!(!report_headline(&e).to_lowercase().contains("blocked"));
}

#[test]
fn the_mass_change_guard_blocks_too_and_a_passing_plan_clears_it() {
    let e = Env::init("");
    for i in 0..30 {
        e.write(Side::Left, &format!("f{i}.txt"), &format!("v1 {i}"), 100);
    }
    e.sync();
    for i in 0..25 {
        common::set_age(&e.right.join(format!("f{i}.txt")), 10);
    }
    e.cmd(&["plan"]).assert().code(4);
    let (code, j) = status_json(&e);
    assert_eq!(code, 4);
    assert_eq!(j["health"]["reasons"][0]["refusal"]["guard"], "mass_change");
    // A higher limit (the re-stamps were intended): the next plan passes
    // the guards and ends the block.
    let mut cfg = std::fs::read_to_string(&e.config).unwrap();
    cfg.push_str("\n[safety]\nmax_change_percent = 95\n");
    std::fs::write(&e.config, cfg).unwrap();
    let (code, out, err) = run(&e, &["plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(run(&e, &["status"]).0, 0);
}

#[cfg(unix)]
#[test]
fn a_skipped_reserved_name_needs_you_with_its_reason() {
    let e = Env::init("");
    e.write(Side::Left, "ok.txt", "fine", 100);
    e.write(Side::Left, "CON.txt", "reserved on Windows", 100);
    e.write(Side::Left, "Q3: budget.xlsx", "colon", 100);
    e.cmd(&["watch", "--cycles", "1"]).assert().success();
    assert_eq!(e.read(Side::Right, "ok.txt").as_deref(), Some("fine"));
    assert_eq!(e.read(Side::Right, "CON.txt"), None);

    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("Health: Needs you: 2 paths skipped"), "{out}");
    assert!(
        out.contains("CON.txt") && out.contains("reserved on Windows"),
        "{out}"
    );
    assert!(
        out.contains("Q3: budget.xlsx") && out.contains("invalid on Windows"),
        "{out}"
    );
    let (code, j) = status_json(&e);
    assert_eq!(code, 5);
    assert_eq!(j["health"]["state"], "needs_you");
    assert_eq!(j["health"]["reasons"][0]["kind"], "skipped_paths");
    let skipped = j["skipped_paths"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.iter().all(|k| k["side"] == "left"));
    let con = skipped.iter().find(|k| k["path"] == "CON.txt").unwrap();
    assert!(
        con["reason"].as_str().unwrap().contains("reserved"),
        "{con}"
    );
    assert!(report_headline(&e).contains("Needs you: 2 paths skipped"));
    let html = std::fs::read_to_string(e.dir.path().join("r.html")).unwrap();
    let doc = scraper::Html::parse_document(&html);
    let rows: Vec<String> = doc
        .select(&scraper::Selector::parse("#skipped tr.skipped").unwrap())
        .map(|r| r.text().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.contains("CON.txt") && r.contains("reserved on Windows")),
        "{rows:?}"
    );
    // `plan` does not call that "in sync" either.
    let (_, out, _) = run(&e, &["plan"]);
    assert!(
        !out.contains("in sync") && !out.contains("No changes"),
        "{out}"
    );
    assert!(
        out.contains("Nothing to apply now. Needs you: 2 paths skipped (see `twinsync status`)"),
        "{out}"
    );

    // Renamed, they sync, and nothing needs the admin any more.
    std::fs::rename(e.left.join("CON.txt"), e.left.join("CON1.txt")).unwrap();
    std::fs::rename(
        e.left.join("Q3: budget.xlsx"),
        e.left.join("Q3 budget.xlsx"),
    )
    .unwrap();
    e.sync();
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Skipped paths"), "{out}");
}

#[test]
fn plan_with_an_unresolved_conflict_does_not_say_in_sync() {
    let e = Env::init("[conflicts]\nsame_file_changed_both = 'option2'\n");
    e.write(Side::Left, "report.docx", "v1", 100);
    e.sync();
    e.write(Side::Left, "report.docx", "left edit", 50);
    e.write(Side::Right, "report.docx", "right edit!", 40);
    e.sync();
    let (code, out, err) = run(&e, &["plan"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("in sync") && !out.contains("No changes"),
        "{out}"
    );
    assert!(
        out.contains(
            "Nothing to apply now. Needs you: 1 unresolved conflict (see `twinsync status`)."
        ),
        "{out}"
    );
    // Audit item 1: nor does `apply`, which shows the plan it makes.
    let (code, out, err) = run(&e, &["apply", "-y"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("No changes"), "{out}");
    assert!(out.contains("Needs you: 1 unresolved conflict"), "{out}");
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains("Health: Needs you: 1 unresolved conflict"),
        "{out}"
    );
    // Settled, the plan is truly in sync again.
    e.cmd(&["resolve", "report.docx", "--keep", "left"])
        .assert()
        .success();
    e.sync();
    let (_, out, _) = run(&e, &["plan"]);
    assert!(out.contains("No changes. Both sides are in sync."), "{out}");
    assert_eq!(run(&e, &["status"]).0, 0);
}

#[test]
fn an_unavailable_side_is_not_syncing_since_when() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    e.sync();
    let moved = e.dir.path().join("right-away");
    std::fs::rename(&e.right, &moved).unwrap();
    let (code, out, _) = run(&e, &["watch", "--cycles", "1"]);
    assert_eq!(code, 3);
    assert!(
        out.contains("not syncing: the right side is unavailable"),
        "{out}"
    );
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Health: Not syncing"), "{out}");
    assert!(
        out.contains("the right side is unavailable since 20"),
        "{out}"
    );
    std::fs::rename(&moved, &e.right).unwrap();
    let (code, out, _) = run(&e, &["watch", "--cycles", "1"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("unavailable since"), "{out}");
}

/// No JSON and no Rust `Debug` text on the console; one human line per
/// direction naming the paths; the JSON events only with `--log-json`.
#[test]
fn watch_console_is_human_and_json_only_with_log_json() {
    let e = Env::init("");
    for i in 0..5 {
        e.write(Side::Left, &format!("docs/f{i}.txt"), "hello", 100);
    }
    e.write(Side::Right, "from-right.txt", "r", 100);
    // A name the other side cannot hold makes a warning too.
    #[cfg(unix)]
    e.write(Side::Left, "a:b.txt", "colon", 100);
    let (code, out, err) = run(&e, &["watch", "--cycles", "3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in out.lines().chain(err.lines()) {
        assert!(
            !line.trim_start().starts_with('{'),
            "JSON on the console: {line}"
        );
        assert!(
            !line.contains("Some(") && !line.contains("Ok("),
            "Debug text: {line}"
        );
    }
    let right: Vec<&str> = out.lines().filter(|l| l.contains("→ right")).collect();
    assert_eq!(
        right.len(),
        1,
        "one line for the cycle's copies to the right:\n{out}"
    );
    assert!(
        right[0].contains("docs/f0.txt, docs/f1.txt, docs/f2.txt, 3 more"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("→ left") && l.contains("from-right.txt")),
        "{out}"
    );
    // Quiet cycles say nothing: the banner and the two direction lines.
    assert_eq!(out.lines().count(), 3, "{out}");
    #[cfg(unix)]
    assert!(err.contains("a:b.txt") && err.contains("warning"), "{err}");

    // --log-json: stdout is JSON Lines only; the human lines go to stderr.
    e.write(Side::Left, "late.txt", "late", 100);
    let (code, out, err) = run(&e, &["watch", "--cycles", "2", "--log-json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|x| panic!("{x}: {l}")))
        .collect();
    assert!(events.iter().any(|v| v["event"] == "cycle"), "{out}");
    assert!(
        events
            .iter()
            .any(|v| v["event"] == "copy" && v["path"] == "late.txt"),
        "{out}"
    );
    assert!(err.contains("→ right") && err.contains("late.txt"), "{err}");
    // At start, what already waits for the admin (the name skipped before).
    #[cfg(unix)]
    assert!(
        err.contains("needs you: 1 path skipped (see `twinsync status`)"),
        "{err}"
    );
}

/// The state DB of an `Env` (BASE's `state_db`).
fn state_db(e: &Env) -> std::path::PathBuf {
    e.dir.path().join("state/twinsync.db")
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// After `init`, before any sync: not "in sync" (nothing has been
/// compared yet) but working, exit 0, with what to run; the first apply
/// makes it in sync. `plan` still says "No changes" for empty roots.
#[test]
fn before_the_first_sync_status_says_so_not_in_sync() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Health: Working: no sync has run yet"),
        "{out}"
    );
    assert!(out.contains("twinsync apply"), "{out}");
    assert!(
        out.contains("Watch: has not run with this state DB"),
        "{out}"
    );
    let (_, j) = status_json(&e);
    assert_eq!(j["health"]["state"], "working");
    assert_eq!(j["health"]["reasons"][0]["kind"], "not_synced_yet");
    assert!(report_headline(&e).starts_with("Working"));
    e.sync();
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Health: In sync"), "{out}");

    let empty = Env::init("");
    let (code, out, _) = run(&empty, &["plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes"), "{out}");
}

/// A watch killed without a clean exit: for a moment (a restart) status
/// stays as it was; once its last sign of life is older than
/// STOPPED_AFTER_S, nothing syncs and status says so (exit 3), in the
/// report too; a watch that runs again and exits cleanly ends it.
#[test]
fn a_watch_that_died_is_not_syncing_once_it_gave_no_sign_of_life() {
    use twinsync::state::State;
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    let mut w = std::process::Command::new(assert_cmd::cargo::cargo_bin("twinsync"))
        .current_dir(e.dir.path())
        .args(["--config", e.config.to_str().unwrap(), "watch"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let db = state_db(&e);
    let mut seen = false;
    for _ in 0..200 {
        if e.read(Side::Right, "a.txt").is_some()
            && State::open(&db).unwrap().watch_run().unwrap().is_some()
        {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(seen, "the watch synced and noted itself");
    let run_note = State::open(&db).unwrap().watch_run().unwrap().unwrap();
    assert_eq!(run_note.pid, w.id());
    assert_eq!(run_note.stopped_at, None);
    let (_, out, _) = run(&e, &["status"]);
    assert!(
        out.contains(&format!("Watch: running (process {}) since ", w.id())),
        "{out}"
    );
    assert_eq!(status_json(&e).1["watch"]["state"], "running");
    w.kill().unwrap(); // SIGKILL: no clean exit
    w.wait().unwrap();
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 0, "killed a moment ago: {out}");
    assert!(
        out.contains("Watch: not running: it stopped without a clean exit"),
        "{out}"
    );
    // Its last sign of life ages past the grace.
    let st = State::open(&db).unwrap();
    st.set_watch_run(&twinsync::state::WatchRun {
        alive_at: now_s() - twinsync::health::STOPPED_AFTER_S - 60,
        ..run_note
    })
    .unwrap();
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("Health: Not syncing: the watch is not running"),
        "{out}"
    );
    assert!(out.contains("stopped without a clean exit"), "{out}");
    let (_, j) = status_json(&e);
    assert_eq!(j["health"]["reasons"][0]["kind"], "watch_stopped");
    assert!(report_headline(&e).starts_with("Not syncing"));
    let html = std::fs::read_to_string(e.dir.path().join("r.html")).unwrap();
    assert!(
        html.contains("Watch: not running: it stopped without a clean exit"),
        "the report says so too"
    );
    // Running again, then stopping cleanly, ends it.
    let (code, out, err) = run(&e, &["watch", "--cycles", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Health: In sync"), "{out}");
    assert!(out.contains("Watch: stopped at "), "{out}");
    assert!(
        State::open(&db)
            .unwrap()
            .watch_run()
            .unwrap()
            .unwrap()
            .stopped_at
            .is_some()
    );
}

/// A watch that holds the run lock but got nothing done for over
/// STALLED_AFTER_S (a drive that does not answer) needs you: exit 5,
/// naming the process. An `apply` cannot run beside it.
#[test]
fn a_watch_that_hangs_needs_you() {
    use twinsync::state::{RunLock, State, WatchRun};
    let e = Env::init("");
    e.sync();
    let db = state_db(&e);
    let _lock = RunLock::acquire(&db).unwrap(); // the hung watch's
    let old = now_s() - twinsync::health::STALLED_AFTER_S - 60;
    State::open(&db)
        .unwrap()
        .set_watch_run(&WatchRun {
            pid: 31337,
            started_at: old - 60,
            alive_at: now_s() - 5,
            progress_at: old,
            stopped_at: None,
            dead: false,
        })
        .unwrap();
    let (code, out, _) = run(&e, &["status"]);
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains("Health: Needs you: the watch gets nothing done"),
        "{out}"
    );
    assert!(out.contains("process 31337"), "{out}");
}
