//! Unit tests of the parent module.

use super::*;
use crate::fs::mem::MemFs;

#[test]
fn rescan_of_named_folders_matches_a_full_scan() {
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    for i in 0..20 {
        m.put(&format!("d{}/f{i}.txt", i % 3), b"x");
    }
    let ex = ex(&["*.tmp"], true);
    let mut cache = scan_side(&m, Side::Left, &ex, true, &|_| {}).unwrap();
    m.advance(5_000_000_000);
    m.put("d1/new.txt", b"new");
    m.put("d1/junk.tmp", b"excluded");
    m.put("fresh/deep/x.txt", b"deep");
    m.remove_file("d2/f2.txt").unwrap();
    m.put("d0/f0.txt", b"edited, longer");
    for f in [
        "d0/f3.txt",
        "d0/f6.txt",
        "d0/f9.txt",
        "d0/f12.txt",
        "d0/f15.txt",
        "d0/f18.txt",
        "d0/f0.txt",
    ] {
        m.remove_file(f).unwrap();
    }
    m.remove_dir("d0").unwrap();
    let dirty: HashSet<String> = ["d1/new.txt", "d1/junk.tmp", "fresh", "d2/f2.txt", "d0"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    rescan_dirs(&m, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    let full = scan_side(&m, Side::Left, &ex, true, &|_| {}).unwrap();
    let summary = |s: &SideScan| {
        s.entries
            .iter()
            .map(|(k, e)| (k.to_owned(), e.kind, e.size, e.mtime))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&cache), summary(&full));
}

/// Regression (issue 8, finding 3): an entry whose stat fails during an
/// incremental rescan was dropped from the cache, i.e. read as deleted.
#[test]
fn rescan_keeps_entries_it_cannot_stat_as_unknown() {
    use crate::fs::ErrorClass;
    use crate::fs::fault::{FaultFs, FaultRule};
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    m.put("d/a.txt", b"a");
    m.put("d/b.txt", b"b");
    m.put("d/sub/c.txt", b"c");
    let f = FaultFs::new(std::sync::Arc::new(m.clone()));
    let ex = ex(&[], true);
    let mut cache = scan_side(&f, Side::Left, &ex, true, &|_| {}).unwrap();
    f.fail(FaultRule {
        op: "stat",
        path_contains: "d/a.txt".into(),
        class: ErrorClass::PermissionDenied,
        times: u32::MAX,
    });
    f.fail(FaultRule {
        op: "stat",
        path_contains: "d/sub".into(),
        class: ErrorClass::Other,
        times: 1,
    });
    m.put("d/new.txt", b"n");
    let dirty: HashSet<String> = ["d/new.txt".to_owned()].into();
    rescan_dirs(&f, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    assert!(cache.entries.contains_key("d/a.txt"), "kept, not deleted");
    assert!(
        cache.entries.contains_key("d/sub/c.txt"),
        "below an unreadable folder: kept"
    );
    assert!(cache.entries.contains_key("d/new.txt"));
    assert!(cache.is_unknown("d/a.txt") && cache.is_unknown("d/sub/c.txt"));
    assert!(!cache.is_unknown("d/b.txt"));
    // A full scan says the same: unknown, not absent.
    let full = scan_side(&f, Side::Left, &ex, true, &|_| {}).unwrap();
    assert!(full.is_unknown("d/a.txt"));
    // Readable again: the next rescan of the folder knows it again.
    let m2 = FaultFs::new(std::sync::Arc::new(m.clone()));
    rescan_dirs(&m2, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    assert!(!cache.is_unknown("d/a.txt") && !cache.is_unknown("d/sub/c.txt"));
    assert!(cache.entries.contains_key("d/a.txt") && cache.entries.contains_key("d/sub/c.txt"));
}

/// Issue 18: a new file whose folder rescan failed (the folder's
/// listing failed at open or midway, or the new file's `stat` failed)
/// is unknown, never absent; the failed path stays on the relist, and
/// the rescan of only the relist (what `watch` does at its next cycle
/// when nothing else happened) finds the file once the fault heals.
#[test]
fn a_failed_rescan_is_relisted_until_it_succeeds() {
    use crate::fs::ErrorClass;
    use crate::fs::fault::{FaultFs, FaultRule};
    // (op, path, class, what goes on the relist, calls that fail: two
    // rescans' worth; a rescan stats a named path before listing its folder)
    for (op, path, class, relisted, times) in [
        ("list", "d", ErrorClass::PermissionDenied, "d", 2), // opendir refused
        ("list", "d", ErrorClass::Other, "d", 2),            // EIO midway through the listing
        ("stat", "d/new.txt", ErrorClass::Other, "d/new.txt", 4), // the new file's stat
    ] {
        let m = MemFs::new("l", false, 1);
        m.put(MARKER_NAME, b"{}");
        m.put("d/old.txt", b"o");
        let f = FaultFs::new(std::sync::Arc::new(m.clone()));
        let ex = ex(&[], true);
        let mut cache = scan_side(&f, Side::Left, &ex, true, &|_| {}).unwrap();
        assert!(cache.relist.is_empty());
        m.put("d/new.txt", b"n");
        f.fail(FaultRule {
            op,
            path_contains: path.into(),
            class,
            times,
        });
        let event: HashSet<String> = ["d/new.txt".to_owned()].into();
        rescan_dirs(&f, Side::Left, &ex, true, &mut cache, &event).unwrap();
        assert!(!cache.entries.contains_key("d/new.txt"), "{op} {path}");
        assert!(
            cache.entries.contains_key("d/old.txt"),
            "unknown, not deleted"
        );
        assert!(cache.is_unknown(&paths::key_of(relisted, true)));
        assert_eq!(cache.relist, [relisted], "{op} {path}");
        // Still failing at the next cycle: still on the relist, still unknown.
        let again: HashSet<String> = cache.relist.iter().cloned().collect();
        rescan_dirs(&f, Side::Left, &ex, true, &mut cache, &again).unwrap();
        assert_eq!(cache.relist, [relisted], "{op} {path}");
        assert!(!cache.entries.contains_key("d/new.txt"));
        // Healed: no event names the folder again; the relist alone finds it.
        let again: HashSet<String> = cache.relist.iter().cloned().collect();
        rescan_dirs(&f, Side::Left, &ex, true, &mut cache, &again).unwrap();
        assert!(cache.entries.contains_key("d/new.txt"), "{op} {path}");
        assert!(
            cache.relist.is_empty() && cache.unknown.is_empty(),
            "{op} {path}"
        );
    }
}

/// A full walk's unreadable folders are relisted too.
#[test]
fn a_full_scan_relists_what_it_could_not_list() {
    use crate::fs::ErrorClass;
    use crate::fs::fault::{FaultFs, FaultRule};
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    m.put("d/a.txt", b"a");
    let f = FaultFs::new(std::sync::Arc::new(m.clone()));
    f.fail(FaultRule {
        op: "stat",
        path_contains: "d/a.txt".into(),
        class: ErrorClass::Other,
        times: 1,
    });
    let s = scan_side(&f, Side::Left, &ex(&[], true), true, &|_| {}).unwrap();
    assert_eq!(s.relist, ["d/a.txt"]);
}

#[test]
fn rescan_reports_case_collisions_like_a_full_scan() {
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    m.put("d/Report.txt", b"1");
    let ex = ex(&[], false);
    let mut cache = scan_side(&m, Side::Left, &ex, false, &|_| {}).unwrap();
    // A case-sensitive disk under a case-insensitive identity: a second spelling appears.
    let cs = MemFs::new("l2", false, 1);
    cs.put(MARKER_NAME, b"{}");
    cs.put("d/Report.txt", b"1");
    cs.put("d/REPORT.txt", b"2");
    let dirty: HashSet<String> = ["d/REPORT.txt".to_owned()].into();
    rescan_dirs(&cs, Side::Left, &ex, false, &mut cache, &dirty).unwrap();
    assert!(!cache.entries.contains_key("d/report.txt"));
    assert!(cache.is_unknown("d/report.txt"));
    assert!(
        cache.problems.iter().any(|p| p.contains("collides")),
        "{:?}",
        cache.problems
    );
}

/// Names the other side cannot hold are listed as skipped, with why,
/// by a full scan and by a rescan of their folder; renamed, they go.
#[test]
fn skipped_names_are_listed_with_why_and_go_when_renamed() {
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    m.put("d/CON.txt", b"1");
    m.put("d/ok.txt", b"2");
    let ex = ex(&[], true);
    let mut cache = scan_side(&m, Side::Left, &ex, true, &|_| {}).unwrap();
    assert_eq!(cache.skipped.len(), 1, "{:?}", cache.skipped);
    assert_eq!(cache.skipped[0].path, "d/CON.txt");
    assert!(
        cache.skipped[0].reason.contains("reserved"),
        "{:?}",
        cache.skipped
    );
    // A rescan of the folder finds a new bad name and keeps the old one once.
    m.put("d/a|b.txt", b"3");
    let dirty: HashSet<String> = ["d/a|b.txt".to_owned()].into();
    rescan_dirs(&m, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    let mut names: Vec<&str> = cache.skipped.iter().map(|k| k.path.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["d/CON.txt", "d/a|b.txt"]);
    // Renamed: the next rescan of the folder drops them.
    m.remove_file("d/CON.txt").unwrap();
    m.remove_file("d/a|b.txt").unwrap();
    m.put("d/CON1.txt", b"1");
    let dirty: HashSet<String> = ["d/CON1.txt".to_owned()].into();
    rescan_dirs(&m, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    assert!(cache.skipped.is_empty(), "{:?}", cache.skipped);
    assert!(cache.subset(&["d".to_owned()]).skipped.is_empty());
}

fn ex(p: &[&str], cs: bool) -> Excluder {
    Excluder::new(
        &p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        cs,
        Some(".sync_trash"),
        None,
    )
    .unwrap()
}

#[test]
fn default_excludes() {
    let e = ex(
        &["~$*", "*.tmp", ".~lock.*#", "Thumbs.db", "desktop.ini"],
        false,
    );
    assert!(e.is_excluded("a/~$report.docx", false));
    assert!(e.is_excluded("x.TMP", false));
    assert!(e.is_excluded(".~lock.book.xlsx#", false));
    assert!(e.is_excluded("pics/thumbs.db", false));
    assert!(e.is_excluded(".sync_trash", true));
    assert!(e.is_excluded(".SYNC_TRASH/a/b.txt", false));
    assert!(e.is_excluded(".twinsync-root", false));
    assert!(e.is_excluded("d/.~twinsync-7.tmp", false));
    assert!(!e.is_excluded("report.docx", false));
    assert!(!e.is_excluded("sync_trash/x", false));
}

#[test]
fn folder_patterns_exclude_contents() {
    let e = ex(&["build/", "/top.txt"], true);
    assert!(e.is_excluded("build/x/y.o", false));
    assert!(e.is_excluded("top.txt", false));
    assert!(!e.is_excluded("sub/top.txt", false));
}

#[test]
fn case_collisions_are_unknown() {
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    m.put("A.txt", b"1");
    m.put("a.txt", b"2");
    m.put("b.txt", b"3");
    let s = scan_side(&m, Side::Left, &ex(&[], false), false, &|_| {}).unwrap();
    assert_eq!(s.entries.keys().collect::<Vec<_>>(), ["b.txt"]);
    assert!(s.is_unknown("a.txt"));
    assert_eq!(s.problems.len(), 1);
}

#[test]
fn nfc_and_nfd_spellings_in_one_folder_collide() {
    // MemFs, like NTFS and ext4, keeps both spellings as two names.
    for (ci, cs) in [(false, true), (true, false)] {
        let m = MemFs::new("l", ci, 1);
        m.put(MARKER_NAME, b"{}");
        m.put("d/caf\u{e9}.txt", b"1");
        m.put("d/cafe\u{301}.txt", b"2");
        m.put("d/b.txt", b"3");
        let s = scan_side(&m, Side::Left, &ex(&[], cs), cs, &|_| {}).unwrap();
        assert_eq!(
            s.entries.keys().collect::<Vec<_>>(),
            ["d", "d/b.txt"],
            "case sensitive: {cs}"
        );
        assert!(s.is_unknown(&paths::key_of("d/cafe\u{301}.txt", cs)));
        assert!(s.is_unknown(&paths::key_of("d/caf\u{e9}.txt", cs)));
        assert_eq!(s.problems.len(), 1);
        assert!(s.problems[0].contains("normalisation"), "{}", s.problems[0]);
    }
}

/// What a `[[rules]]` entry leaves out is noted (it keeps its folder, SPEC
/// §3), by a full scan and by a rescan of its folder; what only the
/// `exclude` list leaves out is not; gone, it is forgotten.
#[test]
fn what_the_rules_leave_out_is_noted_by_scans_and_rescans() {
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    m.put("d/keep/k.txt", b"k");
    m.put("d/x.tmp", b"tmp");
    m.put("d/a.txt", b"a");
    let ex =
        ex(&["*.tmp"], true).with_rule(std::sync::Arc::new(|p: &str, _| p.starts_with("d/keep/")));
    let mut cache = scan_side(&m, Side::Left, &ex, true, &|_| {}).unwrap();
    assert_eq!(cache.ruled_out, ["d/keep/k.txt"]);
    assert!(!cache.entries.contains_key("d/keep/k.txt"));
    m.put("d/keep/k2.txt", b"k2");
    let dirty: HashSet<String> = ["d/keep/k2.txt".to_owned()].into();
    rescan_dirs(&m, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    let mut held = cache.ruled_out.clone();
    held.sort();
    assert_eq!(held, ["d/keep/k.txt", "d/keep/k2.txt"]);
    m.remove_file("d/keep/k.txt").unwrap();
    m.remove_file("d/keep/k2.txt").unwrap();
    m.remove_dir("d/keep").unwrap();
    let dirty: HashSet<String> = ["d/keep".to_owned()].into();
    rescan_dirs(&m, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    assert!(cache.ruled_out.is_empty(), "{:?}", cache.ruled_out);
}

/// Audit item 4: a folder that cannot be listed is a skipped path with
/// why (unknown, never absent, and listed for the admin), after a full
/// scan and after a rescan; listed again, it is no longer skipped.
#[test]
fn an_unreadable_folder_is_a_skipped_path_until_it_can_be_listed() {
    use crate::fs::ErrorClass;
    use crate::fs::fault::{FaultFs, FaultRule};
    let m = MemFs::new("l", false, 1);
    m.put(MARKER_NAME, b"{}");
    m.put("d/priv/a.txt", b"a");
    m.put("d/b.txt", b"b");
    let f = FaultFs::new(std::sync::Arc::new(m.clone()));
    f.fail(FaultRule {
        op: "list",
        path_contains: "priv".into(),
        class: ErrorClass::PermissionDenied,
        times: 2,
    });
    let ex = ex(&[], true);
    let mut cache = scan_side(&f, Side::Left, &ex, true, &|_| {}).unwrap();
    let skipped = |c: &SideScan| c.skipped.iter().map(|k| k.path.clone()).collect::<Vec<_>>();
    assert_eq!(skipped(&cache), ["d/priv"]);
    assert!(cache.is_unknown("d/priv/a.txt") && cache.entries.contains_key("d/b.txt"));
    // Still unreadable at the rescan of its folder: still listed, once.
    let dirty: HashSet<String> = ["d/priv/a.txt".to_owned()].into();
    rescan_dirs(&f, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    assert_eq!(skipped(&cache), ["d/priv"]);
    // Readable again.
    rescan_dirs(&f, Side::Left, &ex, true, &mut cache, &dirty).unwrap();
    assert!(cache.skipped.is_empty(), "{:?}", cache.skipped);
    assert!(cache.entries.contains_key("d/priv/a.txt"));
}
