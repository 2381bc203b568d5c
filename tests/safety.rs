//! End to end with the real binary on temp folders: the data-safety
//! findings of the audit of the release binary. What a scan could not
//! sync (a link, a name the other side cannot hold, an unreadable folder,
//! what the `[[rules]]` leave out) is unknown, never absent: never written
//! through, never deleted, and listed for the admin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use twinsync::Side;

/// Audit item 1: a folder on one side that is a link to somewhere outside
/// the root, where the other side has a folder with a file. Nothing is
/// made or copied through the link (nothing lands outside the root),
/// nothing of the other side's is deleted, and the link is a skipped
/// path: `status` says "needs you" (exit 5) and names it; apply logs it.
#[cfg(unix)]
#[test]
fn a_linked_folder_is_never_written_through() {
    let e = Env::init("");
    let out = e.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&out, e.left.join("esc")).unwrap();
    e.write(Side::Right, "esc/new.txt", "r", 100);
    let plan = e.plan_json();
    assert_eq!(plan["ops"].as_array().unwrap().len(), 0, "{plan}");
    e.sync();
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "written outside the root"
    );
    assert!(e.left.join("esc").is_symlink());
    assert_eq!(e.read(Side::Right, "esc/new.txt").as_deref(), Some("r"));
    let status = e.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(5), "{text}");
    assert!(text.contains("esc") && text.contains("symlink"), "{text}");
    // The other way round: the link on the right.
    let e = Env::init("");
    let out = e.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&out, e.right.join("esc")).unwrap();
    e.write(Side::Left, "esc/new.txt", "l", 100);
    e.sync();
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "written outside the root"
    );
    assert_eq!(e.read(Side::Left, "esc/new.txt").as_deref(), Some("l"));
}

/// Audit item 2, the repro: `D/keep/**` excluded by a rule; `D/keep/k.txt`
/// put on the right after `D` was synced; `D` removed on the left. The
/// file the rule leaves out stays where it is, with its folders; the
/// rest of `D` goes to the right's trash as before.
#[test]
fn a_removed_folder_keeps_what_a_rule_leaves_out() {
    let e = Env::init("[[rules]]\npath = \"D/keep/**\"\nexclude = true\n");
    e.write(Side::Left, "D/a.txt", "a", 100);
    std::fs::create_dir_all(e.left.join("D/keep")).unwrap();
    e.sync();
    e.write(Side::Right, "D/keep/k.txt", "k", 100);
    e.sync();
    std::fs::remove_dir_all(e.left.join("D")).unwrap();
    let plan = e.plan_json();
    let kinds: Vec<&str> = plan["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["delete"], "{plan}");
    e.sync();
    assert_eq!(e.read(Side::Right, "D/keep/k.txt").as_deref(), Some("k"));
    assert_eq!(
        e.read(Side::Right, ".sync_trash/D/a.txt").as_deref(),
        Some("a")
    );
    assert!(!e.right.join(".sync_trash/D/keep").exists());
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

/// Audit item 3, the repro: a synced file renamed on the left to a name
/// the right cannot hold (Windows refuses `?`). Nothing is deleted on
/// the right; the skipped name is listed (`status` exit 5).
#[cfg(unix)]
#[test]
fn a_file_renamed_to_a_name_the_other_side_cannot_hold_is_not_deleted() {
    let e = Env::init("");
    e.write(Side::Left, "ok.txt", "ok", 100);
    e.sync();
    std::fs::rename(e.left.join("ok.txt"), e.left.join("ok?.txt")).unwrap();
    let plan = e.plan_json();
    assert_eq!(plan["ops"].as_array().unwrap().len(), 0, "{plan}");
    e.sync();
    assert_eq!(e.read(Side::Right, "ok.txt").as_deref(), Some("ok"));
    let status = e.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(5), "{text}");
    assert!(text.contains("ok?.txt"), "{text}");
}

/// Audit item 4: a skipped path (here a link: `chmod 000` does not stop
/// root, and tests run as root; the unreadable folder itself is tested
/// through the fault-injecting side) is logged as a `scan` event with
/// `result` "skipped", its side, path and why: by every `apply`, and by
/// `watch` when a plan first skips it (not again every cycle).
#[cfg(unix)]
#[test]
fn a_skipped_path_is_logged_by_apply_and_watch() {
    let e = Env::init("sync_interval_seconds = 1\n");
    let out = e.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&out, e.left.join("esc")).unwrap();
    e.write(Side::Left, "a.txt", "a", 100);
    let skipped_events = |e: &Env| {
        e.log()
            .into_iter()
            .filter(|l| l["event"] == "scan" && l["result"] == "skipped" && l["path"] == "esc")
            .inspect(|l| {
                assert_eq!(l["side"], "left", "{l}");
                assert!(l["error"].as_str().unwrap().contains("symlink"), "{l}");
            })
            .count()
    };
    e.sync();
    assert_eq!(skipped_events(&e), 1);
    e.sync();
    assert_eq!(skipped_events(&e), 2, "once per apply");
    e.cmd(&["watch", "--cycles", "3"]).assert().success();
    assert_eq!(skipped_events(&e), 3, "watch: once, not every cycle");
}

/// Audit item 5, the repro: 21 of 40 synced files replaced by copies
/// with the same size and mtime (`cp -p` then `mv`: new inodes, as a
/// restore from backup makes). The mass-change guard counts from size and
/// mtime: `plan` is not refused, and there is nothing to copy.
#[test]
fn a_restore_with_the_same_sizes_and_times_is_no_mass_change() {
    let e = Env::init("");
    for i in 0..40 {
        e.write(Side::Left, &format!("f{i}.txt"), &format!("file {i}"), 100);
    }
    e.sync();
    for i in 0..21 {
        let p = e.left.join(format!("f{i}.txt"));
        let tmp = e.dir.path().join("x");
        std::fs::copy(&p, &tmp).unwrap();
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        std::fs::rename(&tmp, &p).unwrap();
    }
    let out = e.cmd(&["plan", "--json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        plan["ops"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["kind"] == "record"),
        "{plan}"
    );
    e.sync();
    assert_eq!(e.plan_json()["ops"].as_array().unwrap().len(), 0);
}

/// Audit item 6, the repro: a folder renamed on the left and a file in
/// it edited there in the same interval; then a folder renamed on the
/// left while a file in it was edited on the right. One apply moves the
/// folder as one rename and copies the edit to the new path; the trees
/// then agree and the next plan has nothing to do.
#[test]
fn a_folder_move_carries_the_edits_made_inside_it() {
    let e = Env::init("");
    for f in ["f1.txt", "f2.txt", "f3.txt"] {
        e.write(Side::Left, &format!("P/{f}"), &format!("{f} v1"), 100);
    }
    e.sync();
    std::fs::rename(e.left.join("P"), e.left.join("Q")).unwrap();
    e.write(Side::Left, "Q/f1.txt", "edited on the left", 50);
    let plan = e.plan_json();
    let ops: Vec<(String, String)> = plan["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_owned(),
                o["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("move".to_owned(), "Q".to_owned()),
            ("copy".to_owned(), "Q/f1.txt".to_owned())
        ],
        "{plan}"
    );
    e.sync();
    assert_eq!(
        e.read(Side::Right, "Q/f1.txt").as_deref(),
        Some("edited on the left")
    );
    assert!(!e.right.join("P").exists());
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
    // The other side's edit.
    std::fs::rename(e.left.join("Q"), e.left.join("R")).unwrap();
    e.write(Side::Right, "Q/f2.txt", "edited on the right", 50);
    e.sync();
    assert_eq!(
        e.read(Side::Left, "R/f2.txt").as_deref(),
        Some("edited on the right")
    );
    assert_eq!(
        e.read(Side::Right, "R/f2.txt").as_deref(),
        Some("edited on the right")
    );
    assert!(!e.right.join("Q").exists());
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}
