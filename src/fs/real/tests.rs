//! Tests of `crate::fs::real`.

use super::*;

#[test]
fn walk_finds_files_and_prunes_excluded() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("a/b")).unwrap();
    fs::write(d.path().join("a/b/x.txt"), b"hello").unwrap();
    fs::create_dir_all(d.path().join("skip/me")).unwrap();
    fs::write(d.path().join("skip/me/y.txt"), b"y").unwrap();
    let r = RealFs::new(d.path());
    let w = r.walk(&|p, _| p == "skip", &|_| {}).unwrap();
    let mut paths: Vec<_> = w.iter().map(|(p, _)| p).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["a", "a/b", "a/b/x.txt"]);
    let (_, f) = w.iter().find(|(p, _)| *p == "a/b/x.txt").unwrap();
    assert_eq!(f.size, 5);
    assert_eq!(f.kind, Kind::File);
}

/// SPEC §13: a raw name that Windows cannot hold is reported and
/// skipped before any path is built from it (`a:b` would read as a
/// drive, `a\b` as two names), and a folder under such a name is not
/// entered; the valid names around it are found as usual.
#[cfg(unix)]
#[test]
fn walk_checks_raw_names_before_joining_them() {
    let d = tempfile::tempdir().unwrap();
    for dir in ["ok", "a:b", "bad."] {
        fs::create_dir_all(d.path().join(dir)).unwrap();
        fs::write(d.path().join(dir).join("inner.txt"), b"x").unwrap();
    }
    for f in ["x\\y.txt", "CON.txt", "conin$", "tab\there", "fine.txt"] {
        fs::write(d.path().join(f), b"x").unwrap();
    }
    let r = RealFs::new(d.path());
    let w = r.walk(&|_, _| false, &|_| {}).unwrap();
    let mut found: Vec<_> = w.iter().map(|(p, _)| p).collect();
    found.sort_unstable();
    assert_eq!(found, ["fine.txt", "ok", "ok/inner.txt"]);
    let mut skipped: Vec<_> = w.skipped.iter().map(|(p, ..)| p.as_str()).collect();
    skipped.sort_unstable();
    assert_eq!(
        skipped,
        ["CON.txt", "a:b", "bad.", "conin$", "tab\there", "x\\y.txt"]
    );
    assert!(w.unreadable.is_empty(), "{:?}", w.unreadable);
}

/// A folder that cannot be listed is unreadable (unknown), never empty;
/// a name that is not UTF-8 is skipped and reported, not mangled.
#[cfg(unix)]
#[test]
fn walk_reports_unlistable_folders_and_non_utf8_names() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("locked/deep")).unwrap();
    fs::write(d.path().join("locked/deep/f.txt"), b"x").unwrap();
    fs::write(
        d.path().join(std::ffi::OsStr::from_bytes(b"bad\xff.txt")),
        b"x",
    )
    .unwrap();
    fs::set_permissions(d.path().join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    let r = RealFs::new(d.path());
    let w = r.walk(&|_, _| false, &|_| {});
    fs::set_permissions(d.path().join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    let w = w.unwrap();
    assert_eq!(w.skipped.len(), 1);
    assert!(w.skipped[0].1.contains("UTF-8"), "{:?}", w.skipped);
    if running_as_root() {
        return; // root lists a mode-000 folder: nothing more to show
    }
    let found: Vec<_> = w.iter().map(|(p, _)| p).collect();
    assert_eq!(found, ["locked"]);
    assert_eq!(w.unreadable.len(), 1, "{:?}", w.unreadable);
    assert_eq!(w.unreadable[0].0, "locked");
}

#[cfg(unix)]
fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Thousands of folders listed by several threads: every entry once.
#[test]
fn parallel_walk_finds_every_entry_once() {
    let d = tempfile::tempdir().unwrap();
    let r = RealFs::new(d.path());
    let mut want = Vec::new();
    for a in 0..20 {
        for b in 0..15 {
            let dir = format!("d{a}/e{b}");
            r.create_dir_all(&dir).unwrap();
            want.push(format!("d{a}"));
            want.push(dir.clone());
            for f in 0..3 {
                let p = format!("{dir}/f{f}.txt");
                r.write_all(&p, b"x").unwrap();
                want.push(p);
            }
        }
    }
    want.sort();
    want.dedup();
    let w = r.walk(&|_, _| false, &|_| {}).unwrap();
    let mut got: Vec<_> = w.iter().map(|(p, _)| p.to_owned()).collect();
    got.sort();
    assert_eq!(got, want);
}

/// A walker thread that dies (here: a panic while it lists a folder)
/// took part of the tree with it: the walk is an error, never a
/// shorter listing that would read as deletions, and the other threads
/// stop instead of waiting for it forever.
#[test]
fn a_walker_thread_that_dies_fails_the_walk() {
    let d = tempfile::tempdir().unwrap();
    let r = RealFs::new(d.path());
    for a in 0..10 {
        r.create_dir_all(&format!("d{a}")).unwrap();
        r.write_all(&format!("d{a}/f.txt"), b"x").unwrap();
    }
    let w = r.walk(
        &|p, _| {
            assert!(p != "d7/f.txt", "injected: a walker thread dies");
            false
        },
        &|_| {},
    );
    let e = w.expect_err("the walk fails");
    assert!(e.to_string().contains("walker thread failed"), "{e}");
}

/// `rename_new` renames onto a free name and leaves a taken one alone
/// (both files whole), a file or a folder; `finish_with` sets the times
/// and mode on the handle and reads them back.
#[test]
fn rename_new_never_replaces_and_finish_with_reads_back_what_it_set() {
    let d = tempfile::tempdir().unwrap();
    let r = RealFs::new(d.path());
    r.write_all("a.tmp", b"new").unwrap();
    r.write_all("taken.txt", b"user's").unwrap();
    r.create_dir_all("folder").unwrap();
    assert!(!r.rename_new("a.tmp", "taken.txt").unwrap());
    assert!(!r.rename_new("a.tmp", "folder").unwrap());
    assert_eq!(
        std::fs::read(d.path().join("taken.txt")).unwrap(),
        b"user's"
    );
    assert!(r.rename_new("a.tmp", "free.txt").unwrap());
    assert_eq!(std::fs::read(d.path().join("free.txt")).unwrap(), b"new");
    assert!(r.stat("a.tmp").unwrap().is_none());
    let t = 1_600_000_000_123_456_700;
    // Unix modes; on Windows the synced attributes (none here).
    let modes: &[u32] = if cfg!(unix) { &[0o644, 0o600] } else { &[0] };
    for &mode in modes {
        let mut w = r.create("w.txt").unwrap();
        w.write_all(b"body").unwrap();
        let written = w.finish_with(t, mode).unwrap();
        assert!(matches!(written.times, Some(Ok(()))));
        let back = written.meta.unwrap();
        let now = r.stat("w.txt").unwrap().unwrap();
        assert_eq!((back.size, back.mtime), (4, t));
        assert_eq!(
            (back.mtime, back.props, back.id),
            (now.mtime, now.props, now.id)
        );
        #[cfg(unix)]
        assert_eq!(now.props, mode, "{mode:o}");
    }
}

/// Temps finished unsynced are made durable together: by one `syncfs`
/// where the file system honours it, else one by one; a file given
/// without a device is synced on its own; a missing file is an error
/// naming it.
#[test]
fn sync_written_makes_unsynced_files_durable_and_names_a_missing_one() {
    let d = tempfile::tempdir().unwrap();
    let r = RealFs::new(d.path());
    let mut ids = Vec::new();
    for name in ["a.tmp", "b.tmp", "c.tmp"] {
        let mut w = r.create(name).unwrap();
        w.write_all(name.as_bytes()).unwrap();
        // A read-only mode on Unix (the temp of a read-only source); no
        // attributes on Windows.
        let props = if cfg!(unix) { 0o444 } else { 0 };
        let written = w.finish_unsynced(1_600_000_000_000_000_000, props).unwrap();
        ids.push(written.meta.and_then(|m| m.id));
    }
    let files = [("a.tmp", ids[0]), ("b.tmp", ids[1]), ("c.tmp", None)];
    r.sync_written(&files).unwrap();
    for (name, _) in files {
        assert_eq!(std::fs::read(d.path().join(name)).unwrap(), name.as_bytes());
    }
    let e = r.sync_written(&[("gone.tmp", None)]).unwrap_err();
    assert!(e.to_string().contains("gone.tmp"), "{e}");
    // Asked once, and never on an OS without `syncfs`.
    assert_eq!(r.syncs_in_batches(), r.syncs_in_batches());
    if !cfg!(target_os = "linux") {
        assert!(!r.syncs_in_batches());
    }
}

#[test]
fn set_meta_round_trips_mtime_and_mode() {
    let d = tempfile::tempdir().unwrap();
    let r = RealFs::new(d.path());
    r.write_all("f", b"x").unwrap();
    let t = 1_600_000_000_123_456_700;
    r.set_meta("f", t, 0o640).unwrap();
    let m = r.stat("f").unwrap().unwrap();
    assert_eq!(m.mtime, t);
    #[cfg(unix)]
    assert_eq!(m.props, 0o640);
}

#[cfg(windows)]
#[test]
fn hidden_and_readonly_attributes_round_trip() {
    use crate::fs::attr;
    let d = tempfile::tempdir().unwrap();
    let r = RealFs::new(d.path());
    r.write_all("h.txt", b"x").unwrap();
    let t = 1_600_000_000_000_000_000;
    r.set_meta("h.txt", t, attr::HIDDEN | attr::READONLY)
        .unwrap();
    let m = r.stat("h.txt").unwrap().unwrap();
    assert_eq!(m.props & attr::SYNCED, attr::HIDDEN | attr::READONLY);
    assert_eq!(m.mtime, t);
    // A read-only file can still be replaced and deleted by twinsync.
    r.write_all("new.txt", b"y").unwrap();
    r.rename("new.txt", "h.txt").unwrap();
    r.set_meta("h.txt", t, attr::READONLY).unwrap();
    r.remove_file("h.txt").unwrap();
    assert!(r.stat("h.txt").unwrap().is_none());
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"s").unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("link")).unwrap();
    let w = RealFs::new(d.path()).walk(&|_, _| false, &|_| {}).unwrap();
    assert!(w.entries.is_empty());
    assert_eq!(w.skipped.len(), 1);
}

/// Audit F2: a new file that got a deleted file's inode (ext4 and tmpfs
/// give it out again at once) has another id where the file system keeps
/// birth times, so it is never taken for a move of the deleted one; a
/// rename keeps the id.
#[cfg(unix)]
#[test]
fn a_reused_inode_is_another_id_and_a_rename_keeps_its_id() {
    use std::os::unix::fs::MetadataExt;
    let d = tempfile::tempdir().unwrap();
    let fs = RealFs::new(d.path());
    fs.write_all("a.txt", b"a").unwrap();
    let a = fs.stat("a.txt").unwrap().unwrap().id.unwrap();
    fs.rename("a.txt", "moved.txt").unwrap();
    assert_eq!(
        fs.stat("moved.txt").unwrap().unwrap().id,
        Some(a),
        "a rename keeps it"
    );
    let ino = std::fs::metadata(d.path().join("moved.txt")).unwrap().ino();
    let born = std::fs::metadata(d.path().join("moved.txt"))
        .unwrap()
        .created()
        .is_ok();
    fs.remove_file("moved.txt").unwrap();
    // New files until one gets the freed inode (or give up: no reuse here).
    let mut reused = None;
    for i in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(2));
        let name = format!("new{i}.bin");
        fs.write_all(&name, b"unrelated").unwrap();
        if std::fs::metadata(d.path().join(&name)).unwrap().ino() == ino {
            reused = Some(name);
            break;
        }
    }
    // Without reuse, or without birth times (the id is then device and
    // inode, as before), there is nothing to tell apart here.
    if let (Some(name), true) = (reused, born) {
        let b = fs.stat(&name).unwrap().unwrap().id.unwrap();
        assert_eq!(b.ino, a.ino, "the same inode");
        assert_ne!(b, a, "but another file: another id");
    }
}
