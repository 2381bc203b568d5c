//! End to end with the real binary on temp folders: every rule and option of
//! SPEC §6 (final trees on both sides, clash copies, trash), refusals that
//! change nothing, drift, resume after SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{Env, synced};
use predicates::prelude::*;
use predicates::str::contains;
use twinsync::Side;

fn same_trees(e: &Env) {
    assert_eq!(synced(&e.left), synced(&e.right), "left and right differ");
}

#[test]
fn one_sided_changes_propagate_both_ways() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a1", 100);
    e.write(Side::Right, "sub/b.txt", "b1", 100);
    std::fs::create_dir_all(e.left.join("empty/inner")).unwrap();
    let out = e.sync();
    assert!(out.contains("Apply complete: 2 copied"), "{out}");
    same_trees(&e);
    assert!(
        e.right.join("empty/inner").is_dir(),
        "empty folders are created too"
    );
    // 6.2.3 / 6.2.4
    e.write(Side::Left, "a.txt", "a2 left", 50);
    e.write(Side::Right, "sub/b.txt", "b2 right", 50);
    e.sync();
    assert_eq!(e.read(Side::Right, "a.txt").as_deref(), Some("a2 left"));
    assert_eq!(e.read(Side::Left, "sub/b.txt").as_deref(), Some("b2 right"));
    // The versions replaced go to trash, so every saved version stays recoverable.
    assert_eq!(
        e.read(Side::Right, ".sync_trash/a.txt").as_deref(),
        Some("a1")
    );
    assert_eq!(
        e.read(Side::Left, ".sync_trash/sub/b.txt").as_deref(),
        Some("b1")
    );
    // 6.2.7 / 6.2.8 → trash on the other side
    std::fs::remove_file(e.left.join("a.txt")).unwrap();
    std::fs::remove_file(e.right.join("sub/b.txt")).unwrap();
    e.sync();
    same_trees(&e);
    let in_trash = |side: Side, data: &str| {
        e.tree(side)
            .iter()
            .any(|(k, v)| k.starts_with(".sync_trash/") && v == data)
    };
    assert!(
        in_trash(Side::Right, "a2 left"),
        "{:?}",
        e.tree(Side::Right)
    );
    assert!(in_trash(Side::Left, "b2 right"));
    // Folder removal propagates once empty.
    std::fs::remove_dir_all(e.left.join("empty")).unwrap();
    e.sync();
    assert!(!e.right.join("empty").exists());
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
    // The log has one event per step and a cycle event with metrics.
    let log = e.log();
    assert!(
        log.iter()
            .any(|l| l["event"] == "copy" && l["path"] == "a.txt" && l["result"] == "ok")
    );
    assert!(
        log.iter()
            .any(|l| l["event"] == "delete" && l["rule"] == "6.2.7")
    );
    let cycle = log.iter().rev().find(|l| l["event"] == "cycle").unwrap();
    for k in common::CYCLE_FIELDS {
        assert!(cycle.get(k).is_some(), "cycle event lacks {k}");
    }
}

fn conflicted(extra: &str) -> Env {
    let e = Env::init(extra);
    e.write(Side::Left, "r.docx", "base", 300);
    e.sync();
    e.write(Side::Left, "r.docx", "left edit", 200);
    e.write(Side::Right, "r.docx", "right edit, newer", 100);
    e
}

#[test]
fn rule_6_2_1_option1_clash_copies_on_both_sides() {
    let e = conflicted("");
    let out = e.sync();
    assert!(out.contains("1 conflict"), "{out}");
    for side in Side::BOTH {
        assert_eq!(
            e.read(side, "r.docx").as_deref(),
            Some("right edit, newer"),
            "{side}"
        );
        assert_eq!(
            e.read(side, "r - clash.docx").as_deref(),
            Some("left edit"),
            "{side}"
        );
    }
    same_trees(&e);
    let log = e.log();
    let c = log.iter().find(|l| l["event"] == "conflict").unwrap();
    assert_eq!(c["rule"], "6.2.1");
    assert_eq!(c["newer"], "right");
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
    // A second conflict on the same file takes the next clash name.
    e.write(Side::Left, "r.docx", "left again", 50);
    e.write(Side::Right, "r.docx", "right again, newer", 20);
    e.sync();
    assert_eq!(
        e.read(Side::Left, "r - clash 2.docx").as_deref(),
        Some("left again")
    );
    assert_eq!(
        e.read(Side::Right, "r - clash 2.docx").as_deref(),
        Some("left again")
    );
}

#[test]
fn rule_6_2_1_option2_leaves_both_then_resolve_settles() {
    let e = conflicted("[conflicts]\nsame_file_changed_both = 'option2'\n");
    e.sync();
    assert_eq!(e.read(Side::Left, "r.docx").as_deref(), Some("left edit"));
    assert_eq!(
        e.read(Side::Right, "r.docx").as_deref(),
        Some("right edit, newer")
    );
    // Remembered: the next plan has no conflict op for it.
    let plan = e.plan_json();
    assert_eq!(plan["summary"]["conflicts"], 0);
    // An unresolved conflict needs the admin: status exits 5.
    let st = e
        .cmd(&["status", "--json"])
        .assert()
        .code(5)
        .get_output()
        .stdout
        .clone();
    let st: serde_json::Value = serde_json::from_slice(&st).unwrap();
    assert_eq!(st["unresolved_conflicts"][0]["path"], "r.docx");
    assert!(
        st["unresolved_conflicts"][0]["resolve"]
            .as_str()
            .unwrap()
            .contains("twinsync resolve")
    );
    e.cmd(&["resolve", "r.docx", "--keep", "left"])
        .assert()
        .success();
    e.sync();
    assert_eq!(e.read(Side::Right, "r.docx").as_deref(), Some("left edit"));
    assert_eq!(
        e.read(Side::Right, ".sync_trash/r.docx").as_deref(),
        Some("right edit, newer"),
        "the overwritten version is in trash"
    );
    same_trees(&e);
    e.cmd(&["resolve", "r.docx", "--keep", "left"])
        .assert()
        .code(1)
        .stderr(contains("no unresolved conflict"));
}

#[test]
fn rule_6_2_1_option3_newer_overwrites_older_to_trash() {
    let e = conflicted("[conflicts]\nsame_file_changed_both = 'option3'\n");
    e.sync();
    assert_eq!(
        e.read(Side::Left, "r.docx").as_deref(),
        Some("right edit, newer")
    );
    assert_eq!(
        e.read(Side::Left, ".sync_trash/r.docx").as_deref(),
        Some("left edit")
    );
    assert!(e.read(Side::Left, "r - clash.docx").is_none());
    same_trees(&e);
}

#[test]
fn rule_6_2_2_both_options() {
    let e = Env::init("");
    e.write(Side::Left, "keep", "k", 500);
    e.sync();
    e.write(Side::Left, "n.txt", "left new, newer", 10);
    e.write(Side::Right, "n.txt", "right new", 100);
    e.sync();
    assert_eq!(
        e.read(Side::Right, "n.txt").as_deref(),
        Some("left new, newer")
    );
    assert_eq!(
        e.read(Side::Right, "n - clash.txt").as_deref(),
        Some("right new")
    );
    same_trees(&e);

    let e = Env::init("[conflicts]\nnew_file_both_different = 'option2'\n");
    e.write(Side::Left, "keep", "k", 500);
    e.sync();
    e.write(Side::Left, "n.txt", "left new, newer", 10);
    e.write(Side::Right, "n.txt", "right new", 100);
    e.sync();
    assert_eq!(
        e.read(Side::Right, "n.txt").as_deref(),
        Some("left new, newer")
    );
    assert!(e.read(Side::Right, "n - clash.txt").is_none());
    assert_eq!(
        e.read(Side::Right, ".sync_trash/n.txt").as_deref(),
        Some("right new")
    );
}

#[test]
fn rules_6_2_5_and_6_2_6_undelete() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 300);
    e.write(Side::Left, "b.txt", "b", 300);
    e.sync();
    std::fs::remove_file(e.left.join("a.txt")).unwrap();
    e.write(Side::Right, "a.txt", "a changed on right", 100);
    std::fs::remove_file(e.right.join("b.txt")).unwrap();
    e.write(Side::Left, "b.txt", "b changed on left", 100);
    e.sync();
    assert_eq!(
        e.read(Side::Left, "a.txt").as_deref(),
        Some("a changed on right")
    );
    assert_eq!(
        e.read(Side::Right, "b.txt").as_deref(),
        Some("b changed on left")
    );
}

#[cfg(unix)]
#[test]
fn rules_6_2_11_and_6_2_12_properties_without_copy() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::init("");
    e.write(Side::Left, "p.txt", "content", 300);
    e.write(Side::Left, "t.txt", "touch me", 300);
    e.sync();
    std::fs::set_permissions(e.left.join("p.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    common::set_age(&e.right.join("t.txt"), 100); // mtime only, same content
    let plan = e.plan_json();
    assert_eq!(plan["summary"]["copies_to_right"], 0);
    assert_eq!(plan["summary"]["copies_to_left"], 0);
    assert_eq!(plan["summary"]["property_changes"], 2);
    e.sync();
    let mode = std::fs::metadata(e.right.join("p.txt"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let lm = std::fs::metadata(e.left.join("t.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let rm = std::fs::metadata(e.right.join("t.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(lm, rm);
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[cfg(unix)]
#[test]
fn rule_6_2_13_option3_newer_properties_win() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::init("[conflicts]\nproperties_conflict_both = 'option3'\n");
    e.write(Side::Left, "p.txt", "content", 300);
    e.sync();
    std::fs::set_permissions(e.left.join("p.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(
        e.right.join("p.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    common::set_age(&e.right.join("p.txt"), 100);
    common::set_age(&e.left.join("p.txt"), 200);
    e.sync();
    let mode = std::fs::metadata(e.left.join("p.txt"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640, "right's newer properties win");
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn kind_clash_file_versus_folder() {
    let e = Env::init("");
    e.write(Side::Left, "keep", "k", 500);
    e.sync();
    e.write(Side::Left, "x", "I am a file", 100);
    e.write(Side::Right, "x/inside.txt", "inside", 100);
    e.sync();
    for side in Side::BOTH {
        assert_eq!(
            e.read(side, "x - clash").as_deref(),
            Some("I am a file"),
            "{side}"
        );
        assert_eq!(
            e.read(side, "x/inside.txt").as_deref(),
            Some("inside"),
            "{side}"
        );
    }
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn large_files_are_deleted_for_good_and_logged() {
    let e = Env::init("[soft_delete]\nmax_size_bytes = 10\n");
    e.write(Side::Left, "big.mov", "more than ten bytes", 300);
    e.write(Side::Left, "small", "tiny", 300);
    e.sync();
    std::fs::remove_file(e.left.join("big.mov")).unwrap();
    std::fs::remove_file(e.left.join("small")).unwrap();
    e.sync();
    assert!(e.read(Side::Right, "big.mov").is_none());
    assert!(e.read(Side::Right, ".sync_trash/big.mov").is_none());
    assert_eq!(
        e.read(Side::Right, ".sync_trash/small").as_deref(),
        Some("tiny")
    );
    let log = e.log();
    assert!(log.iter().any(|l| l["event"] == "delete"
        && l["path"] == "big.mov"
        && l["level"] == "warn"
        && l["bytes"] == 19));
}

/// `d/r.txt` made, deleted, made again and deleted again on the left:
/// two versions in the right side's trash, the second under a tag.
fn trash_two_versions(e: &Env) {
    e.write(Side::Left, "d/r.txt", "v1", 300);
    e.sync();
    std::fs::remove_file(e.left.join("d/r.txt")).unwrap();
    e.sync();
    e.write(Side::Left, "d/r.txt", "v2", 200);
    e.sync();
    std::fs::remove_file(e.left.join("d/r.txt")).unwrap();
    e.sync();
}

#[test]
fn trash_names_list_restore_purge() {
    let e = Env::init("");
    trash_two_versions(&e);
    let trash = e.tree(Side::Right);
    assert_eq!(
        trash.get(".sync_trash/d/r.txt").map(String::as_str),
        Some("v1")
    );
    let tagged: Vec<_> = trash
        .keys()
        .filter(|k| k.starts_with(".sync_trash/d/r (deleted ") && k.ends_with(").txt"))
        .collect();
    assert_eq!(tagged.len(), 1, "{trash:?}");
    e.cmd(&["trash", "list"])
        .assert()
        .success()
        .stdout(contains("d/r.txt"))
        .stdout(contains("2 files in trash"));
    e.cmd(&["trash", "restore", "d/r.txt"]).assert().success();
    assert!(e.read(Side::Right, "d/r.txt").is_some());
    e.sync();
    assert!(
        e.read(Side::Left, "d/r.txt").is_some(),
        "the next cycle syncs a restored file"
    );
    e.cmd(&["trash", "purge", "--older-than", "0", "-y"])
        .assert()
        .success()
        .stdout(contains("Purged 1 entry"));
    assert_eq!(
        e.tree(Side::Right)
            .keys()
            .filter(|k| k.starts_with(".sync_trash/") && !k.ends_with('/'))
            .count(),
        0
    );
}

/// Snapshot of both trees, to prove a refusal touched nothing.
type Trees = (Vec<(String, String)>, Vec<(String, String)>);

fn snapshot(e: &Env) -> Trees {
    (
        e.tree(Side::Left).into_iter().collect(),
        e.tree(Side::Right).into_iter().collect(),
    )
}

/// SPEC §2: exit 4 for a stale plan only when `--force` was not given.
/// Forced, its steps still check the files as they are now: what another
/// plan did since is skipped as drifted, what still holds is done.
#[test]
fn a_stale_plan_applies_with_force_and_skips_what_changed_since() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 300);
    e.cmd(&["plan", "--out", "old.json"]).assert().success();
    e.write(Side::Left, "b.txt", "b", 300);
    e.cmd(&["plan", "--out", "new.json"]).assert().success();
    e.cmd(&["apply", "new.json"]).assert().success();
    // The right edits a.txt after the newer plan copied it there.
    e.write(Side::Right, "a.txt", "right's edit", 100);
    e.cmd(&["apply", "old.json"]).assert().code(4);
    e.cmd(&["apply", "old.json", "--force"]).assert().success();
    assert_eq!(
        e.read(Side::Right, "a.txt").as_deref(),
        Some("right's edit")
    );
    assert_eq!(e.read(Side::Left, "a.txt").as_deref(), Some("a"));
    // The next plan carries the edit back as usual.
    e.sync();
    assert_eq!(e.read(Side::Left, "a.txt").as_deref(), Some("right's edit"));
}

#[test]
fn refusals_change_nothing() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 300);
    e.cmd(&["plan", "--out", "old.json"]).assert().success();
    e.cmd(&["plan", "--out", "good.json"]).assert().success();
    e.write(Side::Left, "b.txt", "b", 300);
    e.cmd(&["plan", "--out", "new.json"]).assert().success();
    e.cmd(&["apply", "new.json"]).assert().success();
    let before = snapshot(&e);
    // Stale: another plan was applied since.
    e.cmd(&["apply", "old.json"])
        .assert()
        .code(4)
        .stderr(contains("stale").and(contains("--force")));
    assert_eq!(snapshot(&e), before);
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.dir.path().join("good.json")).unwrap())
            .unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let variants: Vec<(&str, Edit, i32, &str)> = vec![
        (
            "roots",
            Box::new(|p| p["left_root_id"] = "other".into()),
            4,
            "other roots",
        ),
        (
            "abs",
            Box::new(|p| p["ops"][0]["dest_path"] = "/etc/passwd".into()),
            1,
            "absolute",
        ),
        (
            "dotdot",
            Box::new(|p| p["ops"][0]["dest_path"] = "../outside.txt".into()),
            1,
            "..",
        ),
        (
            "drive",
            Box::new(|p| p["ops"][0]["dest_path"] = "C:/x.txt".into()),
            1,
            "drive",
        ),
        (
            "unc",
            Box::new(|p| p["ops"][0]["dest_path"] = "\\\\server\\share\\x".into()),
            1,
            "UNC",
        ),
        (
            "reserved",
            Box::new(|p| p["ops"][0]["dest_path"] = "dir/CON.txt".into()),
            1,
            "reserved",
        ),
        (
            "kind",
            Box::new(|p| p["ops"][0]["kind"] = "explode".into()),
            1,
            "explode",
        ),
        (
            "version",
            Box::new(|p| p["format_version"] = 99.into()),
            1,
            "format_version 99",
        ),
    ];
    for (name, f, code, msg) in variants {
        let mut p = good.clone();
        p["base_generation"] = (good["base_generation"].as_i64().unwrap() + 1).into();
        f(&mut p);
        let file = e.dir.path().join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_string(&p).unwrap()).unwrap();
        e.cmd(&["apply", file.to_str().unwrap()])
            .assert()
            .code(code)
            .stderr(contains(msg));
        assert_eq!(snapshot(&e), before, "{name} changed something");
    }
    for (name, text) in [
        (
            "truncated",
            &std::fs::read_to_string(e.dir.path().join("good.json")).unwrap()[..200],
        ),
        ("garbage", "\u{0}\u{1}not json"),
    ] {
        let file = e.dir.path().join(format!("{name}.json"));
        std::fs::write(&file, text).unwrap();
        e.cmd(&["apply", file.to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(contains(format!("{name}.json")));
        assert_eq!(snapshot(&e), before);
    }
}

#[test]
fn corrupt_state_db_is_an_error_naming_the_file() {
    let e = Env::init("");
    let db = e.dir.path().join("state/twinsync.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::write(&db, vec![7u8; 4096]).unwrap();
    e.cmd(&["plan"])
        .assert()
        .code(1)
        .stderr(contains("twinsync.db"))
        .stderr(contains("corrupt"));
    e.cmd(&["status"])
        .assert()
        .code(1)
        .stderr(contains("corrupt"));
}

#[test]
fn drifted_source_is_skipped_not_clobbered() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "v1", 300);
    e.sync();
    e.write(Side::Left, "a.txt", "v2 planned", 200);
    e.cmd(&["plan", "--out", "p.json"]).assert().success();
    e.write(Side::Right, "a.txt", "edited after planning", 10);
    let out = e
        .cmd(&["apply", "p.json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("1 skipped (drifted)"));
    assert_eq!(
        e.read(Side::Right, "a.txt").as_deref(),
        Some("edited after planning")
    );
    // The next plan sees the real situation: a conflict.
    assert_eq!(e.plan_json()["summary"]["conflicts"], 1);
}

#[test]
fn apply_without_terminal_needs_auto_approve() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    e.cmd(&["apply"])
        .write_stdin("y\n")
        .assert()
        .code(1)
        .stderr(contains("--auto-approve"));
    assert!(e.read(Side::Right, "a.txt").is_none());
}

#[test]
fn applying_a_plan_twice_does_nothing_twice() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "x", 100);
    e.cmd(&["plan", "--out", "p.json"]).assert().success();
    e.cmd(&["apply", "p.json"]).assert().success();
    std::fs::remove_file(e.right.join("a.txt")).unwrap();
    e.cmd(&["apply", "p.json"]).assert().success();
    assert!(
        e.read(Side::Right, "a.txt").is_none(),
        "a finished plan is not re-run"
    );
}

#[cfg(unix)]
#[test]
fn sigkill_mid_apply_then_resume_converges() {
    let e = Env::init("[transfer]\nmax_bytes_per_second = 2000000\n");
    let big = "x".repeat(1_500_000);
    for i in 0..6 {
        e.write(Side::Left, &format!("f{i}.bin"), &format!("{i}{big}"), 300);
    }
    e.cmd(&["plan", "--out", "p.json"]).assert().success();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("twinsync"))
        .current_dir(e.dir.path())
        .args(["--config", e.config.to_str().unwrap(), "apply", "p.json"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_before = (0..6)
        .filter(|i| e.right.join(format!("f{i}.bin")).exists())
        .count();
    assert!(done_before < 6, "the kill came too late to test anything");
    let st = e.cmd(&["status", "--json"]).output().unwrap();
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(st["plans_in_flight"].as_array().unwrap().len(), 1);
    assert!(
        !st["steps_in_flight"].as_array().unwrap().is_empty(),
        "{st}"
    );
    e.cmd(&["apply", "p.json"]).assert().success();
    same_trees(&e);
    let leftovers: Vec<_> = e
        .tree(Side::Right)
        .into_keys()
        .filter(|k| k.contains(".~twinsync-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

/// SPEC §6 "Moves and renames" on real folders: a renamed folder of media
/// and a file moved into another folder cross as renames — the other side's
/// files keep their inodes (no new copy), nothing is copied, trashed or
/// deleted, and even renaming most of the share does not trip the
/// mass-delete guard.
#[cfg(unix)]
#[test]
fn moved_folders_and_files_are_renamed_not_copied() {
    use std::os::unix::fs::MetadataExt;
    let e = Env::init("");
    for i in 0..30 {
        e.write(
            Side::Left,
            &format!("Premiere/clip{i:02}.mp4"),
            &"m".repeat(10_000 + i),
            100,
        );
    }
    e.write(Side::Left, "Premiere/proj/edit.prproj", "project", 100);
    e.write(Side::Left, "notes.txt", "notes", 100);
    e.write(Side::Left, "keep.txt", "keep", 100);
    e.sync();
    let ino = |rel: &str| std::fs::metadata(e.right.join(rel)).unwrap().ino();
    let before = ino("Premiere/clip07.mp4");
    let notes_before = ino("notes.txt");
    std::fs::rename(e.left.join("Premiere"), e.left.join("Premiere 2026")).unwrap();
    std::fs::create_dir_all(e.left.join("Archive")).unwrap();
    std::fs::rename(e.left.join("notes.txt"), e.left.join("Archive/notes.txt")).unwrap();
    let plan = e.plan_json();
    let moves: Vec<&serde_json::Value> = plan["ops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "move")
        .collect();
    assert_eq!(moves.len(), 2, "{:#}", plan["ops"]);
    assert_eq!(plan["summary"]["moves"], 2);
    assert_eq!(plan["summary"]["hard_deletes"], 0);
    let folder = moves.iter().find(|o| o["src_path"] == "Premiere").unwrap();
    assert_eq!(folder["path"], "Premiere 2026");
    assert_eq!(folder["dest_path"], "Premiere 2026");
    assert_eq!(folder["rule"], "6.2.14");
    assert_eq!(folder["bytes"], 0);
    let out = e.cmd(&["plan"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The old path, then where it goes (a line each when narrow).
    assert!(
        text.contains("Premiere") && text.contains("→ Premiere 2026"),
        "{text}"
    );
    assert!(text.contains("not sent"), "{text}");
    e.sync();
    assert_eq!(ino("Premiere 2026/clip07.mp4"), before, "moved, not copied");
    assert_eq!(ino("Archive/notes.txt"), notes_before);
    assert_eq!(common::synced(&e.left), common::synced(&e.right));
    assert!(
        !e.right.join(".sync_trash").exists(),
        "nothing went to trash"
    );
    let cycle = e
        .log()
        .into_iter()
        .rev()
        .find(|l| l["event"] == "cycle")
        .unwrap();
    assert_eq!(cycle["bytes_copied"], 0, "{cycle}");
    assert_eq!(cycle["moves"], 2, "{cycle}");
    assert!(
        e.log()
            .iter()
            .any(|l| l["event"] == "move" && l["result"] == "ok")
    );
    let out = e.cmd(&["status", "--json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["last_cycles"][0]["moves"], 2, "status counts moves");
    assert_eq!(
        e.plan_json()["summary"]["moves"],
        0,
        "a second plan has nothing to move"
    );
}

/// `[transfer] detect_moves = false` restores plain delete + copy.
#[cfg(unix)]
#[test]
fn detect_moves_off_deletes_and_copies() {
    let e = Env::init("[transfer]\ndetect_moves = false");
    e.write(Side::Left, "a/report.docx", "report", 100);
    e.write(Side::Left, "keep.txt", "keep", 100);
    e.sync();
    std::fs::rename(e.left.join("a"), e.left.join("b")).unwrap();
    let plan = e.plan_json();
    assert_eq!(plan["summary"]["moves"], 0);
    assert!(
        plan["ops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "copy")
    );
    e.sync();
    assert_eq!(
        e.read(Side::Right, "b/report.docx").as_deref(),
        Some("report")
    );
    assert!(e.read(Side::Right, "a/report.docx").is_none());
}

/// Issue 18, item 7 (rclone bisync's scenario): a pair adopted by size and
/// mtime is hashed at the end of the `apply` that adopted it, so a later
/// re-stamp on one side (same bytes) plus an edit on the other is the
/// edit, copied across, not a conflict with clash copies.
#[test]
fn apply_hashes_adopted_pairs_so_a_restamp_loses_to_an_edit() {
    let e = Env::init("");
    for side in Side::BOTH {
        e.write(side, "docs/report.txt", "the shared version", 600);
        e.write(side, "docs/other.txt", "another shared file", 600);
    }
    e.sync();
    // Re-dated on the right with the same bytes, edited on the left.
    common::set_age(&e.right.join("docs/report.txt"), 300);
    e.write(Side::Left, "docs/report.txt", "edited on the left", 100);
    let plan = e.plan_json();
    let ops = plan["ops"].as_array().unwrap();
    assert!(
        ops.iter().all(|o| o["kind"] != "conflict"),
        "a conflict the user did not make: {ops:#?}"
    );
    assert!(
        ops.iter()
            .any(|o| o["kind"] == "copy" && o["path"] == "docs/report.txt" && o["rule"] == "6.2.3"),
        "{ops:#?}"
    );
    e.sync();
    assert_eq!(
        e.read(Side::Right, "docs/report.txt").as_deref(),
        Some("edited on the left")
    );
    assert_eq!(common::synced(&e.left), common::synced(&e.right));
    assert!(
        !common::tree(&e.right).keys().any(|k| k.contains("clash")),
        "no clash copies"
    );
    assert!(
        e.log()
            .iter()
            .any(|l| l["note"] == "hashed pairs adopted by size and mtime" && l["hashed"] == 2),
        "the first apply hashed both adopted pairs"
    );
}

/// Issue 18, item 6, on a real file system: Linux refuses a path of 4,096
/// bytes or more (`ENAMETOOLONG`). Files whose path on the right is exactly
/// at that limit are copied (their temp file fits), overwritten and deleted
/// into short trash names (`.sync_trash/` + the path would not fit), and a
/// deleted one is restored by its original path.
#[cfg(target_os = "linux")]
#[test]
fn paths_at_the_real_length_limit_copy_go_to_trash_and_restore() {
    const MAX: usize = 4095; // PATH_MAX, 4096 with its NUL
    let e = Env::init("");
    let name_len = "a.txt".len();
    let mut room = MAX - e.right.as_os_str().len() - 1 - name_len;
    let mut dir = String::new();
    while room > 202 {
        dir.push_str(&"d".repeat(200));
        dir.push('/');
        room -= 201;
    }
    dir.push_str(&"e".repeat(room - 1));
    let (edited, deleted) = (format!("{dir}/a.txt"), format!("{dir}/b.txt"));
    assert_eq!(e.right.join(&edited).as_os_str().len(), MAX);
    e.write(Side::Left, &edited, "edited v1", 600);
    e.write(Side::Left, &deleted, "deleted v1", 600);
    e.sync();
    assert_eq!(e.read(Side::Right, &edited).as_deref(), Some("edited v1"));
    assert_eq!(e.read(Side::Right, &deleted).as_deref(), Some("deleted v1"));
    e.write(Side::Left, &edited, "edited v2", 100);
    std::fs::remove_file(e.left.join(&deleted)).unwrap();
    let out = e.sync();
    assert!(
        out.contains("1 copied") && out.contains("2 to trash"),
        "{out}"
    );
    assert_eq!(e.read(Side::Right, &edited).as_deref(), Some("edited v2"));
    assert_eq!(e.read(Side::Right, &deleted), None);
    let trash: Vec<(String, String)> = common::tree(&e.right)
        .into_iter()
        .filter(|(k, _)| k.starts_with(".sync_trash/.long/") && !k.ends_with('/'))
        .collect();
    assert_eq!(trash.len(), 2, "{trash:?}");
    assert!(
        trash
            .iter()
            .any(|(k, v)| k.ends_with("-a.txt") && v == "edited v1")
    );
    assert!(
        trash
            .iter()
            .any(|(k, v)| k.ends_with("-b.txt") && v == "deleted v1")
    );
    e.cmd(&["trash", "restore", &deleted]).assert().success();
    assert_eq!(e.read(Side::Right, &deleted).as_deref(), Some("deleted v1"));
    e.sync();
    assert_eq!(e.read(Side::Left, &deleted).as_deref(), Some("deleted v1"));
    assert!(
        !common::tree(&e.left)
            .keys()
            .chain(common::tree(&e.right).keys())
            .any(|k| k.contains(".~twinsync-")),
        "no temp file left"
    );
}

/// SPEC §3: under a one-way rule the read-only side's changes are not
/// carried back, and they are reported: the plan names each one (again
/// every plan, until someone acts), and nothing is lost on either side.
#[test]
fn a_one_way_rule_reports_what_it_does_not_carry_back() {
    let e = Env::init("[[rules]]\npath = \"Out/**\"\ndirection = \"left-to-right\"\n");
    e.write(Side::Left, "Out/x.txt", "from the office", 300);
    e.sync();
    e.write(Side::Right, "Out/x.txt", "remote edit", 100);
    let said = "`Out/x.txt`: changed on right, not carried to left";
    e.cmd(&["plan"]).assert().success().stdout(contains(said));
    e.sync();
    assert_eq!(
        e.read(Side::Left, "Out/x.txt").as_deref(),
        Some("from the office")
    );
    assert_eq!(
        e.read(Side::Right, "Out/x.txt").as_deref(),
        Some("remote edit")
    );
    let plan = e.plan_json();
    assert!(
        plan["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains(said)),
        "{}",
        plan["problems"]
    );
}

/// A state DB moved aside and made again (the README's way out of a
/// corrupt one): the files already in the trash are recorded (rule
/// `found`, the original path without its ` (deleted …)` tag, the tag's
/// time), so they are listed, restored and purged, not left for ever.
/// By `trash` on the new DB, and by the first `apply` on it.
#[test]
fn the_trash_of_a_state_db_made_again_is_listed_restored_and_purged() {
    for first in ["trash", "apply"] {
        let e = Env::init("");
        trash_two_versions(&e);
        // The DB is moved aside; `init` makes a new one.
        let state = e.dir.path().join("state");
        std::fs::rename(&state, e.dir.path().join("state.corrupt")).unwrap();
        e.cmd(&["init"]).assert().success();
        if first == "apply" {
            e.sync();
        }
        e.cmd(&["trash", "list"])
            .assert()
            .success()
            .stdout(contains("2 files in trash"))
            .stdout(contains("found"));
        let out = e.cmd(&["trash", "list", "d/r.txt"]).output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        let rows = out.lines().filter(|l| l.contains("┆ d/r.txt ")).count();
        assert_eq!(rows, 2, "{first}: both versions under their path\n{out}");
        // The newest is the tagged one (its tag's time).
        e.cmd(&["trash", "restore", "d/r.txt"]).assert().success();
        assert_eq!(
            e.read(Side::Right, "d/r.txt").as_deref(),
            Some("v2"),
            "{first}"
        );
        e.cmd(&["trash", "purge", "--older-than", "0", "-y"])
            .assert()
            .success()
            .stdout(contains("Purged 1 entry"));
        assert!(
            !e.tree(Side::Right)
                .keys()
                .any(|k| k.starts_with(".sync_trash/") && !k.ends_with('/')),
            "{first}"
        );
    }
}
