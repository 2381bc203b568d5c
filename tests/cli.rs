//! The real binary on temp folders: init, plan (table and --json), first-run
//! adoption, exit codes 0/1/2/3/4, config errors naming their key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use predicates::prelude::*;
use predicates::str::contains;
use twinsync::Side;

#[test]
fn init_writes_markers_and_db_and_is_idempotent() {
    let e = Env::new();
    e.cmd(&["init"])
        .assert()
        .success()
        .stdout(contains("Initialised"));
    let m1 = std::fs::read_to_string(e.left.join(".twinsync-root")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&m1).unwrap();
    assert!(v["root_id"].as_str().unwrap().len() >= 32);
    assert!(e.dir.path().join("state/twinsync.db").exists());
    e.cmd(&["init"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(e.left.join(".twinsync-root")).unwrap(),
        m1,
        "init must not rewrite markers"
    );
    // DB lost: init adopts the existing markers.
    std::fs::remove_dir_all(e.dir.path().join("state")).unwrap();
    e.cmd(&["init"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(e.left.join(".twinsync-root")).unwrap(),
        m1
    );
}

#[test]
fn init_needs_create_roots_for_missing_folders() {
    let e = Env::new();
    std::fs::remove_dir_all(&e.right).unwrap();
    e.cmd(&["init"])
        .assert()
        .code(3)
        .stderr(contains("--create-roots"));
    assert!(
        !e.right.exists(),
        "init without --create-roots must not create a root"
    );
    e.cmd(&["init", "--create-roots"]).assert().success();
    assert!(e.right.join(".twinsync-root").exists());
}

#[test]
fn plan_shows_new_changed_deleted_and_conflicting_files() {
    let e = Env::init("");
    e.write(Side::Left, "keep.txt", "same", 100);
    e.write(Side::Left, "docs/change.txt", "v1", 100);
    e.write(Side::Left, "gone.txt", "bye", 100);
    e.write(Side::Left, "both.txt", "base", 100);
    e.sync();
    e.write(Side::Left, "new.txt", "hello", 50);
    e.write(Side::Right, "docs/change.txt", "v2 from right", 40);
    std::fs::remove_file(e.left.join("gone.txt")).unwrap();
    e.write(Side::Left, "both.txt", "left edit", 30);
    e.write(Side::Right, "both.txt", "right edit!", 20);
    let out = e
        .cmd(&["plan"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "new.txt",
        "docs/change.txt",
        "gone.txt",
        "both.txt",
        "6.2.9",
        "6.2.4",
        "6.2.7",
        "6.2.1",
        "Plan: 2 copies → right",
    ] {
        assert!(text.contains(needle), "plan output lacks {needle}:\n{text}");
    }
    let plan = e.plan_json();
    assert_eq!(plan["format_version"], 1);
    assert!(plan["base_generation"].is_i64());
    let ops = plan["ops"].as_array().unwrap();
    let find = |kind: &str, path: &str| {
        ops.iter()
            .find(|o| o["kind"] == kind && o["path"] == path)
            .cloned()
    };
    let c = find("conflict", "both.txt").expect("conflict op");
    assert_eq!(c["rule"], "6.2.1");
    assert_eq!(c["conflict"]["newer"], "right", "right was saved last");
    assert_eq!(c["conflict"]["clash_path"], "both - clash.txt");
    assert_eq!(c["sides"], serde_json::json!(["left", "right"]));
    assert!(c["reason"].as_str().unwrap().len() > 10);
    let copy = find("copy", "new.txt").expect("copy op");
    assert_eq!(copy["side"], "right");
    assert_eq!(copy["rule"], "6.2.9");
    assert_eq!(copy["bytes"], 5);
    assert_eq!(copy["sides"], serde_json::json!(["left", "right"]));
    // SPEC §7 order: folders first, deletes last.
    let kinds: Vec<&str> = ops.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    let last_non_delete = kinds
        .iter()
        .rposition(|k| *k != "delete" && *k != "rmdir")
        .unwrap();
    assert!(
        kinds[..=last_non_delete].iter().all(|k| *k != "delete"),
        "{kinds:?}"
    );
    assert!(copy["expect"].as_array().unwrap().len() == 2);
    let del = find("delete", "gone.txt").expect("delete op");
    assert_eq!(del["side"], "right");
    assert_eq!(del["soft"], true);
    assert_eq!(plan["summary"]["conflicts_by_rule"]["6.2.1"], 1);
    // Nothing was touched by planning.
    assert_eq!(e.read(Side::Right, "gone.txt").as_deref(), Some("bye"));
    assert!(e.read(Side::Right, "new.txt").is_none());
}

#[test]
fn first_run_adopts_identical_trees_without_copies_or_conflicts() {
    let e = Env::init("");
    for i in 0..30 {
        let p = format!("d{}/f{i}.txt", i % 4);
        e.write(Side::Left, &p, &format!("content {i}"), 500);
        e.write(Side::Right, &p, &format!("content {i}"), 500);
    }
    let plan = e.plan_json();
    let s = &plan["summary"];
    assert_eq!(s["copies_to_left"], 0);
    assert_eq!(s["copies_to_right"], 0);
    assert_eq!(s["conflicts"], 0);
    assert_eq!(s["records"], 34, "30 files + 4 folders recorded as in sync");
    e.cmd(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains("No file changes"));
    e.sync();
    e.cmd(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains("No changes"));
}

#[test]
fn exit_code_2_only_with_detailed_exitcode_and_changes() {
    let e = Env::init("");
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
    e.write(Side::Left, "a.txt", "x", 100);
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(2);
    e.cmd(&["plan"]).assert().code(0);
}

#[test]
fn exit_code_3_for_missing_root_missing_marker_foreign_marker() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    e.sync();
    // Marker missing (an empty drive mounted there): never read as deletion.
    let marker = std::fs::read(e.right.join(".twinsync-root")).unwrap();
    std::fs::remove_file(e.right.join(".twinsync-root")).unwrap();
    std::fs::remove_file(e.right.join("a.txt")).unwrap();
    e.cmd(&["plan"]).assert().code(3).stderr(contains("marker"));
    e.cmd(&["apply", "--auto-approve"]).assert().code(3);
    assert_eq!(
        e.read(Side::Left, "a.txt").as_deref(),
        Some("x"),
        "nothing deleted while a side is unavailable"
    );
    // Foreign marker.
    std::fs::write(
        e.right.join(".twinsync-root"),
        br#"{"root_id":"someone-else"}"#,
    )
    .unwrap();
    e.cmd(&["plan"])
        .assert()
        .code(3)
        .stderr(contains("someone-else"));
    // Root missing.
    std::fs::write(e.right.join(".twinsync-root"), &marker).unwrap();
    let moved = e.dir.path().join("right-away");
    std::fs::rename(&e.right, &moved).unwrap();
    e.cmd(&["plan"])
        .assert()
        .code(3)
        .stderr(contains("does not exist"));
    std::fs::rename(&moved, &e.right).unwrap();
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(2);
}

/// Audit item 7: a missing marker on a root synced before is a drive not
/// mounted or a wrong path (SPEC §4): the advice says so and does not name
/// `init`, which refuses such a root; on a root never synced it names
/// `init`, which then recovers it.
#[test]
fn a_missing_marker_advises_what_recovers_it() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    e.sync();
    std::fs::remove_file(e.right.join(".twinsync-root")).unwrap();
    for args in [&["plan"][..], &["apply", "-y"][..]] {
        let out = e.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("the drive is not mounted") && err.contains("`right_root`"),
            "{err}"
        );
        assert!(!err.contains("twinsync init"), "{err}");
    }
    let status = e.cmd(&["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("not mounted") && !status.contains("twinsync init"),
        "{status}"
    );
    // What init says for it: it refuses, as the advice expects.
    e.cmd(&["init"])
        .assert()
        .code(3)
        .stderr(contains("synced it before"));

    // Never synced: init is the way, and it works.
    let e = Env::init("");
    std::fs::remove_file(e.right.join(".twinsync-root")).unwrap();
    e.cmd(&["plan"])
        .assert()
        .code(3)
        .stderr(contains("nothing was synced here yet").and(contains("`twinsync init`")));
    e.cmd(&["init"]).assert().success();
    e.cmd(&["plan"]).assert().success();
}

#[test]
fn exit_code_4_mass_delete_guard_and_force() {
    let e = Env::init("");
    for i in 0..25 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    e.sync();
    for i in 0..25 {
        std::fs::remove_file(e.left.join(format!("f{i}.txt"))).unwrap();
    }
    e.cmd(&["plan"])
        .assert()
        .code(4)
        .stderr(contains("max_delete_percent"));
    e.cmd(&["apply", "--auto-approve"]).assert().code(4);
    assert_eq!(
        e.tree(Side::Right).len(),
        25,
        "the guard refused before touching anything"
    );
    e.cmd(&["plan", "--force", "--out", "p.json"])
        .assert()
        .success();
    e.cmd(&["apply", "p.json"]).assert().success();
    assert_eq!(common::synced(&e.right).len(), 0);
    assert_eq!(
        e.tree(Side::Right)
            .keys()
            .filter(|k| k.starts_with(".sync_trash/f"))
            .count(),
        25,
        "deleted files went to trash"
    );
}

#[test]
fn exit_code_4_mass_change_guard_counts_before_hashing_and_force() {
    let e = Env::init("");
    for i in 0..30 {
        e.write(Side::Left, &format!("f{i}.txt"), &format!("v1 {i}"), 100);
    }
    e.sync();
    // A cloud client re-stamps 25 of 30 files on the right (same bytes) and
    // rewrites one: over 50% changed by size/mtime, so nothing may happen.
    for i in 0..25 {
        common::set_age(&e.right.join(format!("f{i}.txt")), 10);
    }
    e.write(Side::Right, "f29.txt", "rewritten", 10);
    e.cmd(&["plan"])
        .assert()
        .code(4)
        .stderr(contains("max_change_percent"));
    e.cmd(&["apply", "--auto-approve"]).assert().code(4);
    assert_eq!(e.read(Side::Left, "f29.txt").as_deref(), Some("v1 29"));
    let refused = e.log().into_iter().any(|l| {
        l["result"] == "skipped"
            && l["error"]
                .as_str()
                .is_some_and(|s| s.contains("max_change_percent"))
    });
    assert!(refused, "the refusal is logged");
    // Below the limit (a higher limit) it syncs: re-stamps are property changes.
    let out = e
        .cmd(&["apply", "--auto-approve", "--force"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(e.read(Side::Left, "f29.txt").as_deref(), Some("rewritten"));
    assert_eq!(e.read(Side::Left, "f3.txt").as_deref(), Some("v1 3"));
    // The guard is configurable.
    let e2 = Env::init("[safety]\nmax_change_percent = 100");
    for i in 0..30 {
        e2.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    e2.sync();
    for i in 0..30 {
        e2.write(Side::Left, &format!("f{i}.txt"), "y", 10);
    }
    e2.sync();
    assert_eq!(e2.read(Side::Right, "f7.txt").as_deref(), Some("y"));
}

#[test]
fn exit_code_1_for_config_errors_naming_key_and_file() {
    let cases = [
        ("bogus_key = 1\n", "`bogus_key`"),
        (
            "[conflicts]\nsame_file_changed_both = 'option7'\n",
            "`conflicts.same_file_changed_both`",
        ),
        (
            "[soft_delete]\nmax_size_bytes = 'big'\n",
            "`soft_delete.max_size_bytes`",
        ),
        ("[email]\nsmtp_prot = 25\n", "`email.smtp_prot`"),
    ];
    for (extra, key) in cases {
        let e = Env::with_config(extra);
        e.cmd(&["plan"])
            .assert()
            .code(1)
            .stderr(contains(key).and(contains("sync_config.toml")));
    }
    let e = Env::new();
    std::fs::write(&e.config, "right_root = 'right'\n").unwrap();
    e.cmd(&["init"])
        .assert()
        .code(1)
        .stderr(contains("`left_root`"));
    std::fs::write(
        &e.config,
        "left_root = 'left'\nright_root = 'right'\nstate_db = 'left/db.sqlite'\n",
    )
    .unwrap();
    e.cmd(&["init"])
        .assert()
        .code(1)
        .stderr(contains("`state_db`"));
    assert!(!e.left.join("db.sqlite").exists());
    assert!(
        !e.left.join(".twinsync-root").exists(),
        "a bad config changes nothing"
    );
}

#[test]
fn twinsync_config_env_is_the_default_config() {
    let e = Env::new();
    let mut c = assert_cmd::Command::cargo_bin("twinsync").unwrap();
    c.current_dir(e.dir.path().join("left"))
        .env("TWINSYNC_CONFIG", &e.config)
        .arg("init");
    c.assert().success();
    assert!(e.right.join(".twinsync-root").exists());
    let mut c = assert_cmd::Command::cargo_bin("twinsync").unwrap();
    c.current_dir(e.dir.path().join("left"))
        .env_remove("TWINSYNC_CONFIG")
        .arg("plan");
    c.assert().code(1).stderr(contains("sync_config.toml"));
}

#[test]
fn show_renders_and_refuses_garbage() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    e.cmd(&["plan", "--out", "p.json"]).assert().success();
    e.cmd(&["show", "p.json"])
        .assert()
        .success()
        .stdout(contains("a.txt").and(contains("6.2.9")));
    let j = e
        .cmd(&["show", "p.json", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
    assert_eq!(v["ops"][0]["path"], "a.txt");
    std::fs::write(
        e.dir.path().join("bad.json"),
        "{\"format_version\": 1, \"ops\": [",
    )
    .unwrap();
    e.cmd(&["show", "bad.json"])
        .assert()
        .code(1)
        .stderr(contains("bad.json"));
}

#[test]
fn plan_out_without_value_writes_into_plans_folder() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    e.cmd(&["plan", "--out"])
        .assert()
        .success()
        .stdout(contains("plans"));
    let n = std::fs::read_dir(e.dir.path().join("plans"))
        .unwrap()
        .count();
    assert_eq!(n, 1);
}

#[test]
fn help_lists_every_command() {
    let out = assert_cmd::Command::cargo_bin("twinsync")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for c in [
        "init", "plan", "apply", "watch", "status", "show", "trash", "resolve", "alert", "service",
    ] {
        assert!(text.contains(c), "--help lacks {c}");
    }
}

#[cfg(unix)]
#[test]
fn names_invalid_on_windows_are_reported_and_skipped_not_looped_on() {
    let e = Env::init("");
    e.write(Side::Left, "ok.txt", "fine", 100);
    e.write(Side::Left, "bad:name.txt", "colon", 100);
    e.write(Side::Left, "CON.txt", "reserved", 100);
    e.write(Side::Left, "trailing.", "dot", 100);
    e.write(Side::Left, "dir?/inside.txt", "in a bad folder", 100);
    // Made on a non-Windows cloud: a backslash is part of the name, and
    // the console device names are reserved too.
    e.write(Side::Left, "back\\slash.txt", "backslash", 100);
    e.write(Side::Left, "conout$.log", "console", 100);
    let out = e
        .cmd(&["plan"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    for bad in [
        "bad:name.txt",
        "CON.txt",
        "trailing.",
        "dir?",
        "back\\slash.txt",
        "conout$.log",
    ] {
        assert!(
            text.contains(&format!("skipped `{bad}`")),
            "{bad} not reported:\n{text}"
        );
    }
    e.sync();
    assert_eq!(e.read(Side::Right, "ok.txt").as_deref(), Some("fine"));
    assert!(e.read(Side::Right, "CON.txt").is_none());
    assert!(!e.right.join("dir?").exists());
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn usage_errors_exit_1_not_2() {
    let e = Env::init("");
    for args in [
        &["bogus"][..],
        &["plan", "--frobnicate"],
        &["watch", "--cycles", "abc"],
        &["resolve", "f.txt"],
        &["resolve", "f.txt", "--keep", "middle"],
        &["show"],
    ] {
        e.cmd(args).assert().code(1);
    }
    e.cmd(&["--help"]).assert().success();
    e.cmd(&["--version"]).assert().success();
}

#[test]
fn new_files_after_an_empty_first_sync_are_conflicts_not_adoptions() {
    let e = Env::init("");
    e.sync(); // both roots empty: the first sync completes with nothing to do
    e.write(Side::Left, "r.txt", "left", 60);
    e.write(Side::Right, "r.txt", "rght", 60);
    let p = e.plan_json();
    assert_eq!(p["summary"]["conflicts_by_rule"]["6.2.2"], 1, "{p}");
}

#[test]
fn every_apply_and_watch_cycle_logs_a_cycle_event_with_metrics() {
    let e = Env::init("sync_interval_seconds = 1\n");
    e.sync(); // nothing to do: still one cycle event
    e.write(Side::Left, "a.txt", "x", 100);
    e.cmd(&["watch", "--cycles", "3"]).assert().success();
    e.cmd(&["watch", "--cycles", "2", "--dry-run"])
        .assert()
        .success();
    let cycles: Vec<_> = e
        .log()
        .into_iter()
        .filter(|l| l["event"] == "cycle")
        .collect();
    assert_eq!(cycles.len(), 1 + 3 + 2, "{cycles:?}");
    for c in &cycles {
        for k in common::CYCLE_FIELDS {
            assert!(c[k].is_u64(), "cycle event lacks {k}: {c}");
        }
        assert!(
            ["ok", "skipped", "failed"].contains(&c["result"].as_str().unwrap()),
            "{c}"
        );
    }
}

#[test]
fn watch_cycles_exit_code_reports_unavailable_and_refused() {
    let e = Env::init("sync_interval_seconds = 1\n");
    for i in 0..25 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 100);
    }
    e.sync();
    for i in 0..25 {
        std::fs::remove_file(e.left.join(format!("f{i}.txt"))).unwrap();
    }
    e.cmd(&["watch", "--cycles", "1"]).assert().code(4);
    assert_eq!(
        common::synced(&e.right).len(),
        25,
        "the guard refused: nothing deleted"
    );
    std::fs::rename(&e.right, e.dir.path().join("away")).unwrap();
    e.cmd(&["watch", "--cycles", "1"]).assert().code(3);
}

/// A reader that went away (`twinsync status --json | head -c 10`) must not
/// make twinsync panic: output stops, the command ends with its own code.
#[test]
fn output_into_a_closed_pipe_ends_quietly_with_the_normal_code() {
    use std::process::{Command, Stdio};
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    let closed_pipe = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    for (args, code) in [
        (&["status", "--json"][..], 0),
        (&["status"], 0),
        (&["plan", "--json"], 0),
        (&["plan"], 0),
        (&["plan", "--detailed-exitcode"], 2),
        (&["show", "nope.json"], 1),
    ] {
        // stdout closed: stderr still tells what happened, without a panic.
        let out = Command::new(env!("CARGO_BIN_EXE_twinsync"))
            .current_dir(e.dir.path())
            .arg("--config")
            .arg(&e.config)
            .args(args)
            .env_remove("TWINSYNC_CONFIG")
            .stdin(Stdio::null())
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // Both streams closed (`2>&1 | head`).
        let status = Command::new(env!("CARGO_BIN_EXE_twinsync"))
            .current_dir(e.dir.path())
            .arg("--config")
            .arg(&e.config)
            .args(args)
            .env_remove("TWINSYNC_CONFIG")
            .stdin(Stdio::null())
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(code), "{args:?} with stderr closed too");
    }
    // Nothing was applied by a plan whose output went nowhere.
    assert_eq!(e.read(Side::Right, "a.txt"), None);
}

/// A copy that replaces a version moves the old one to trash: the summary
/// and the cycle event count it as a version sent to trash.
#[test]
fn replaced_versions_sent_to_trash_are_counted_as_to_trash() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "v1", 100);
    e.write(Side::Left, "b.txt", "v1", 100);
    e.sync();
    e.write(Side::Left, "a.txt", "v2 from left", 50);
    e.write(Side::Right, "b.txt", "v2 from right", 50);
    let out = e.sync();
    assert!(out.contains("2 copied"), "{out}");
    assert!(out.contains("2 to trash"), "{out}");
    assert_eq!(
        e.read(Side::Right, "a.txt").as_deref(),
        Some("v2 from left")
    );
    let trashed: Vec<_> = common::tree(&e.right)
        .into_iter()
        .filter(|(k, v)| k.starts_with(".sync_trash") && v == "v1")
        .collect();
    assert_eq!(trashed.len(), 1, "{trashed:?}");
    let last = e
        .log()
        .into_iter()
        .rfind(|l| l["event"] == "cycle")
        .unwrap();
    assert_eq!(last["soft_deletes"], 2, "{last}");
}

/// Issue 22: `status` and the report show the bandwidth limit in force now
/// (and, for a timetable, when it next changes).
#[test]
fn status_and_report_show_the_bandwidth_in_force() {
    let e = Env::init("[transfer]\nbandwidth = '00:00,2MiB:off 12:00,2MiB:off'\n");
    let out = e.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Bandwidth: 2 MiB/s left → right, unlimited right → left"),
        "{text}"
    );
    let e = Env::init("[transfer]\nbandwidth = 'Mon-Sun 00:00,1MiB 12:00,off'\n");
    let out = e.cmd(&["status", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let next = v["bandwidth"]["next_change"].as_str().unwrap_or_default();
    assert!(next.ends_with("12:00") || next.ends_with("00:00"), "{v}");
    e.cmd(&["report", "--out", "r.html"]).assert().success();
    let html = std::fs::read_to_string(e.dir.path().join("r.html")).unwrap();
    assert!(html.contains("Bandwidth now: "), "report");
    let e = Env::init("");
    let out = e.cmd(&["status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Bandwidth: unlimited"));
}

#[test]
fn the_plan_file_names_each_op_s_policy_the_conflict_on_the_op_and_the_config_that_shaped_it() {
    let e = Env::init("[[rules]]\npath = \"Temp/**\"\ndelete = \"hard\"\n");
    e.write(Side::Left, "Temp/a.txt", "a", 100);
    e.write(Side::Left, "b.txt", "b", 100);
    e.write(Side::Left, "c.txt", "c", 100);
    e.sync();
    e.write(Side::Left, "c.txt", "left edit", 50);
    e.write(Side::Right, "c.txt", "right", 40);
    e.write(Side::Left, "Temp/d.txt", "d", 100);
    let plan = e.plan_json();
    let op = |path: &str| {
        plan["ops"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["path"] == path)
            .unwrap_or_else(|| panic!("no op for {path} in {plan}"))
            .clone()
    };
    // Decided under a rule: its path; by the global settings: null.
    assert_eq!(op("Temp/d.txt")["policy"], "Temp/**");
    let conflict = plan["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "conflict")
        .unwrap()
        .clone();
    assert_eq!(conflict.get("policy"), Some(&serde_json::Value::Null));
    // SPEC §7: a conflict carries newer, older, clash_path, resolution and
    // both sides' size and mtime on the op itself.
    assert_eq!(conflict["newer"], "right");
    assert_eq!(conflict["older"], "left");
    assert_eq!(conflict["clash_path"], "c - clash.txt");
    assert_eq!(conflict["resolution"], conflict["conflict"]["resolution"]);
    assert_eq!(conflict["left"]["size"], 9);
    assert_eq!(conflict["right"]["size"], 5);
    assert!(
        conflict["left"]["mtime"].as_i64().unwrap() < conflict["right"]["mtime"].as_i64().unwrap()
    );
    // The options that shaped it include the excludes and the rules.
    assert_eq!(
        plan["config"]["rules"],
        serde_json::json!([{"path": "Temp/**", "delete": "hard"}])
    );
    assert!(
        plan["config"]["exclude"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("*.tmp")),
        "{}",
        plan["config"]
    );
}

/// A state DB that went missing is made again by `plan` (the markers are
/// adopted: a first run, nothing deleted), and said so once.
#[test]
fn plan_says_when_it_makes_a_new_state_db() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    e.sync();
    let db = e.dir.path().join("state/twinsync.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::remove_file(e.root(Side::Right).join("a.txt")).unwrap();
    e.cmd(&["plan"])
        .assert()
        .success()
        .stderr(contains("no state DB").and(contains("first run")))
        // Without a state, a file on one side only is new: copied, never deleted.
        .stdout(contains("6.2.9"));
    e.cmd(&["plan"])
        .assert()
        .success()
        .stderr(contains("no state DB").not());
}

/// `--out` naming a pipe or a device (`/dev/null`) writes into it as a
/// shell redirect would; a temp file renamed over it would replace it
/// (run as root, `/dev/null` became a regular file for the whole machine).
#[cfg(unix)]
#[test]
fn out_to_a_pipe_writes_into_it_and_never_replaces_it() {
    use std::os::unix::fs::FileTypeExt;
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    let fifo = e.dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (cmd, starts) in [("plan", "{"), ("report", "<!")] {
        let reader = {
            let f = fifo.clone();
            std::thread::spawn(move || std::fs::read(f).unwrap())
        };
        e.cmd(&[cmd, "--out", fifo.to_str().unwrap()])
            .assert()
            .success();
        // Checked before waiting for the reader, which a replaced pipe
        // would leave waiting for ever.
        let kind = std::fs::metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "{cmd} --out replaced the pipe: {kind:?}");
        let got = String::from_utf8(reader.join().unwrap()).unwrap();
        assert!(got.starts_with(starts), "{cmd}: {got:.80}");
    }
}

/// Audit item 7: `plan --out` (a folder) never overwrites a plan file, even
/// in the same second (`-2`, `-3`…), and its "Apply it with" names the
/// `--config` (or TWINSYNC_CONFIG) it was given; the command works as printed.
#[test]
fn plan_out_never_overwrites_and_its_hint_carries_the_config() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    let plans = e.dir.path().join("plans");
    std::fs::create_dir_all(&plans).unwrap();
    // Plans already saved this second and the next few: kept as they are.
    let now = chrono::Local::now();
    let taken: Vec<std::path::PathBuf> = (0..5)
        .map(|s| {
            let t = now + chrono::Duration::seconds(s);
            let f = plans.join(format!("plan-{}.json", t.format("%Y%m%d-%H%M%S")));
            std::fs::write(&f, "an earlier plan").unwrap();
            f
        })
        .collect();
    let mut hints = Vec::new();
    for _ in 0..2 {
        let out = e.cmd(&["plan", "--out"]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let hint = text
            .lines()
            .find_map(|l| l.split("Apply it with: ").nth(1))
            .unwrap_or_else(|| panic!("{text}"))
            .to_owned();
        hints.push(hint);
    }
    for f in &taken {
        assert_eq!(
            std::fs::read_to_string(f).unwrap(),
            "an earlier plan",
            "{}",
            f.display()
        );
    }
    assert_eq!(std::fs::read_dir(&plans).unwrap().count(), 7, "{hints:?}");
    assert_ne!(hints[0], hints[1]);
    let cfg = e.config.display().to_string();
    assert!(
        hints[0].ends_with(&format!(" --config {cfg}"))
            || hints[0].ends_with(&format!(" --config \"{cfg}\"")),
        "{hints:?}"
    );
    // As printed, from the same folder, it applies (words split as a
    // shell does, a double-quoted one whole).
    let words: Vec<String> = hints[1]
        .split('"')
        .enumerate()
        .flat_map(|(i, part)| {
            if i % 2 == 1 {
                vec![part.to_owned()]
            } else {
                part.split_whitespace().map(str::to_owned).collect()
            }
        })
        .collect();
    assert_eq!(words[..2], ["twinsync", "apply"]);
    assert_cmd::Command::cargo_bin("twinsync")
        .unwrap()
        .current_dir(e.dir.path())
        .env_remove("TWINSYNC_CONFIG")
        .args(&words[1..])
        .assert()
        .success();
    assert_eq!(e.read(Side::Right, "a.txt").as_deref(), Some("x"));
    // The config from TWINSYNC_CONFIG is named too; the default one is not.
    let out = assert_cmd::Command::cargo_bin("twinsync")
        .unwrap()
        .current_dir(e.dir.path())
        .env("TWINSYNC_CONFIG", &e.config)
        .args(["plan", "--out", "p.json"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("twinsync apply p.json --config ") && text.contains(&cfg),
        "{text}"
    );
    let out = assert_cmd::Command::cargo_bin("twinsync")
        .unwrap()
        .current_dir(e.dir.path())
        .env_remove("TWINSYNC_CONFIG")
        .args(["plan", "--out", "p.json"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Apply it with: twinsync apply p.json\n"),
        "{text}"
    );
}

/// Regression (audit item 3): `status` said "Trash right: 1 files".
#[test]
fn status_counts_one_file_in_the_singular() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 300);
    e.sync();
    std::fs::remove_file(e.left.join("a.txt")).unwrap();
    e.sync();
    let out = e.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Trash right: 1 file, "), "{text}");
    assert!(text.contains("Trash left: 0 files, "), "{text}");
}

/// Before any sync has run, `status` says so instead of an empty table.
#[test]
fn status_before_any_cycle_says_none_yet() {
    let e = Env::init("");
    e.cmd(&["status"])
        .assert()
        .stdout(contains("Last cycles: none yet"));
    e.write(Side::Left, "a.txt", "a", 100);
    e.sync();
    e.cmd(&["status"])
        .assert()
        .stdout(contains("Last cycles:\n").and(contains("none yet").not()));
}
