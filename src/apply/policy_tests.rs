//! The office policies of issue 22 through apply and the in-memory file
//! systems: the trash cap (`[soft_delete] max_trash_bytes`), excluded
//! paths left alone, replaced versions kept by the rule of their folder.

use super::tests::{harness, live, valid};
use super::*;
use crate::fs::Fs;

/// Soft-deletes `names` on the right (deleted on the left, one sync each,
/// the clock moving between them so their trash times are in order).
fn trash_on_right(h: &super::tests::Harness, names: &[(&str, usize)]) {
    for (name, size) in names {
        h.left.put(name, &vec![b'x'; *size]);
        h.sync();
        h.tick();
    }
    for (name, _) in names {
        h.left.remove_file(name).unwrap();
        h.sync();
        h.tick();
        // Trash times are kept to the second: a second apart at least.
        std::thread::sleep(std::time::Duration::from_millis(1_050));
    }
}

/// The cap removes the oldest entries first, records and files together;
/// an entry larger than the cap alone goes (deleted for good) and does not
/// take everything else with it; the other side is under its cap.
#[test]
fn the_trash_cap_removes_the_oldest_first_and_an_entry_over_it_alone() {
    let h = harness("[soft_delete]\nmax_trash_bytes = 100\n");
    trash_on_right(
        &h,
        &[
            ("a.txt", 40),
            ("b.txt", 40),
            ("huge.bin", 150),
            ("c.txt", 40),
            ("d.txt", 40),
        ],
    );
    let state = State::open(&h.cfg.state_db).unwrap();
    let before = state.trash_records().unwrap();
    assert_eq!(before.len(), 5, "{before:?}");
    let due = trash::over_cap(&state, 100, &[]).unwrap();
    let names: Vec<&str> = due.iter().map(|r| r.original_path.as_str()).collect();
    assert_eq!(
        names,
        ["a.txt", "b.txt", "huge.bin"],
        "oldest first, and the huge one"
    );
    // Through the retention purge (`watch` with auto_purge): nothing is
    // old enough, the cap alone decides.
    let n = trash::purge_older_than(&h.cfg, &state, &h.sides(), 30, &Logger::null()).unwrap();
    assert_eq!(n, 3);
    let mut left: Vec<String> = state
        .trash_records()
        .unwrap()
        .into_iter()
        .map(|r| r.original_path)
        .collect();
    left.sort();
    assert_eq!(left, ["c.txt", "d.txt"]);
    let files: Vec<String> = h
        .right
        .dump()
        .into_keys()
        .filter(|k| k.starts_with(".sync_trash/") && h.right.get(k).is_some())
        .collect();
    assert_eq!(
        files,
        [".sync_trash/c.txt", ".sync_trash/d.txt"],
        "files went with their records"
    );
    // Fits now: nothing more to do; and no cap, no purge.
    assert!(trash::over_cap(&state, 100, &[]).unwrap().is_empty());
    assert!(trash::over_cap(&state, 0, &[]).unwrap().is_empty());
    assert_eq!(live(&h.left), live(&h.right));
}

/// A path that a new `exclude = true` rule leaves out of the sync is left
/// alone on both sides: never deleted, even when one side deletes it.
#[test]
fn a_path_a_new_rule_excludes_is_never_deleted() {
    use crate::config::rules::{FolderRules, RawRule};
    use crate::fs::Fs;
    use crate::pipeline::{self, PlanRequest};
    let h = harness("");
    h.left.put("Renders/cache/f1.bin", b"render 1");
    h.left.put("Renders/final.mp4", b"final");
    h.left.put("Docs/a.txt", b"a");
    h.sync();
    assert_eq!(live(&h.left), live(&h.right));
    let mut cfg = h.cfg.clone();
    cfg.rules = FolderRules::new(
        &[RawRule {
            path: "Renders/**".into(),
            exclude: Some(true),
            ..RawRule::default()
        }],
        false,
    )
    .unwrap();
    h.tick();
    h.left.remove_file("Renders/cache/f1.bin").unwrap();
    h.right.put("Renders/final.mp4", b"edited on the right");
    h.left.put("Docs/a.txt", b"a, edited");
    let state = State::open_or_create(&cfg.state_db).unwrap();
    let req = PlanRequest {
        now_ns: crate::now_ns(),
        ..PlanRequest::default()
    };
    let plan = pipeline::make_plan(&cfg, &h.sides(), &state, req)
        .unwrap()
        .0;
    drop(state);
    assert!(
        plan.ops
            .iter()
            .all(|o| !o.path.starts_with("Renders") || o.kind() == crate::plan::OpKind::Record),
        "nothing but forgetting under Renders/: {:?}",
        plan.ops
    );
    let mut state = State::open_or_create(&cfg.state_db).unwrap();
    admit(
        &plan,
        &cfg,
        &h.sides(),
        &mut state,
        Overrides::GUARDS_CHECKED,
    )
    .unwrap();
    run(
        &valid(&plan),
        &cfg,
        &h.sides(),
        &mut state,
        &Logger::null(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(
        h.right.get("Renders/cache/f1.bin").as_deref(),
        Some(b"render 1".as_slice())
    );
    assert_eq!(
        h.left.get("Renders/final.mp4").as_deref(),
        Some(b"final".as_slice())
    );
    assert_eq!(
        h.right.get("Renders/final.mp4").as_deref(),
        Some(b"edited on the right".as_slice())
    );
    assert_eq!(
        h.right.get("Docs/a.txt").as_deref(),
        Some(b"a, edited".as_slice()),
        "the rest syncs"
    );
}

/// A copy overwriting a file keeps the replaced version by the path's
/// rule, as a delete there would (issue 22): under `delete = "hard"` it is
/// not kept, under `delete = "soft"` it is (even with the global soft
/// delete off), and the rule's `soft_delete_max_bytes` is its size limit;
/// a path no rule matches follows `[soft_delete]`.
#[test]
fn a_replaced_version_follows_the_rule_of_its_folder() {
    for global in [true, false] {
        let h = harness(&format!(
            "[soft_delete]\nenabled = {global}\n\
             [[rules]]\npath = 'Temp/**'\ndelete = 'hard'\n\
             [[rules]]\npath = 'Big/**'\ndelete = 'soft'\nsoft_delete_max_bytes = 5\n\
             [[rules]]\npath = 'Docs/**'\ndelete = 'soft'\n"
        ));
        let files = [
            "Temp/a.txt",
            "Big/b.txt",
            "Big/small.txt",
            "Docs/c.txt",
            "top.txt",
        ];
        for f in files {
            let v1 = if f == "Big/small.txt" {
                "v1"
            } else {
                "v1, old"
            };
            h.left.put(f, v1.as_bytes());
        }
        h.sync();
        h.tick();
        for f in files {
            h.left.put(f, b"v2 from the left");
        }
        // The plan's review says what apply will do.
        let plan = h.plan();
        let s = &plan.summary;
        let (kept, lost) = if global { (3, 2) } else { (2, 3) };
        assert_eq!((s.replaced_to_trash, s.replaced_not_kept), (kept, lost));
        let r = h.apply(&plan);
        assert!(r.failed.is_empty(), "{r:?}");
        assert_eq!(live(&h.left), live(&h.right));
        let mut kept: Vec<String> = h
            .right
            .dump()
            .into_iter()
            .filter(|(k, d)| k.starts_with(".sync_trash/") && d.is_some())
            .map(|(k, _)| k)
            .collect();
        kept.sort();
        let mut want = vec![".sync_trash/Big/small.txt", ".sync_trash/Docs/c.txt"];
        if global {
            want.push(".sync_trash/top.txt");
        }
        assert_eq!(
            kept, want,
            "soft delete {global}: Temp (hard) and Big/b.txt (over the rule's limit) not kept"
        );
        let state = State::open(&h.cfg.state_db).unwrap();
        assert_eq!(state.trash_records().unwrap().len(), want.len());
    }
}

/// `hash = false` means never hashed there: the background hasher of
/// `watch` (adopted pairs) skips those paths too.
#[test]
fn the_background_hasher_leaves_hash_false_paths_unread() {
    let h = harness("[[rules]]\npath = 'Media/**'\nhash = false\n");
    for side in [&h.left, &h.right] {
        side.put("Media/clip.mov", b"the same media on both sides");
        side.put("Docs/a.txt", b"the same text on both sides");
    }
    h.sync();
    let state = State::open(&h.cfg.state_db).unwrap();
    let mut cursor = String::new();
    let budget = std::time::Duration::from_secs(5);
    let n = crate::pipeline::hash_adopted(&h.cfg, &h.sides(), &state, &mut cursor, budget);
    assert_eq!(n.unwrap(), 1, "Docs/a.txt only");
    let unhashed = state.unhashed_pairs("", 10, u64::MAX).unwrap();
    let keys: Vec<&str> = unhashed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["media/clip.mov"]);
}
