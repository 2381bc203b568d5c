//! Issue 18, item 6: paths at a drive's length limit (a `MAX_PATH`-style
//! cloud drive or share) through apply: copies through a temp name that
//! fits, replaced and deleted versions to a short trash name (restorable
//! by their original path), power cuts resumed through the short names,
//! their temps swept like the regular ones, and Windows' "path not found"
//! read as "too long".

use super::tests::{Harness, assert_file, assert_trash_recorded, cut, each_cut, harness, no_temps};
use super::*;
use crate::Side;
use crate::fs::Fs;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

/// A right side that takes path components of at most 255 bytes and whole
/// paths of at most `max_path` bytes, as a `MAX_PATH`-style cloud drive.
fn limited_right(h: &Harness, max_path: usize) -> Sides {
    h.faults(Side::Right).limit_names(255, max_path).sides()
}

/// A relative path of exactly `len` bytes ending in `/name`.
fn path_of_len(len: usize, name: &str) -> String {
    let dir = format!("Projects/Client/{}", "d".repeat(len - 16 - name.len() - 1));
    let p = format!("{dir}/{name}");
    assert_eq!(p.len(), len);
    p
}

/// Issue 18, item 6: a file whose path is exactly at the drive's length
/// limit copies (its temp file fits where it fits), and so does one whose
/// name is at the component limit; nothing fails, no temp file is left.
#[test]
fn files_at_the_drives_length_limit_copy_through_a_temp_that_fits() {
    let h = harness("");
    let sides = limited_right(&h, 120);
    let short_name = path_of_len(120, "a.txt");
    let long_name = path_of_len(120, &format!("{}.docx", "n".repeat(30)));
    let at_component_limit = format!("Projects/{}.pdf", "c".repeat(251));
    for p in [&short_name, &long_name] {
        h.left.put(p, p.as_bytes());
    }
    h.left.put("top.txt", b"a short path");
    let plan = h.plan();
    h.apply_clean(&plan, &sides);
    for p in [&short_name, &long_name] {
        assert_eq!(h.right.get(p).as_deref(), Some(p.as_bytes()));
    }
    assert_file(&h.right, "top.txt", "a short path");
    no_temps(&h.right);
    // A name of 255 bytes, on a drive whose whole-path limit is far away.
    h.tick();
    h.left.put(&at_component_limit, b"long name");
    let sides = limited_right(&h, 4096);
    h.apply_clean(&h.plan(), &sides);
    assert_file(&h.right, &at_component_limit, "long name");
    no_temps(&h.right);
    assert!(h.plan().ops.is_empty());
}

/// Issue 18, item 6: files whose trash path would be too long for the
/// drive are overwritten and soft-deleted all the same, into a short trash
/// name; the trash records keep their original paths, and a restore puts
/// a file back there.
#[test]
fn versions_too_long_for_the_trash_go_to_a_short_trash_name_and_restore() {
    let h = harness("");
    let sides = limited_right(&h, 120);
    let edited = path_of_len(120, "budget.xlsx");
    let deleted = path_of_len(115, "minutes of the meeting.docx");
    h.left.put(&edited, b"budget v1");
    h.left.put(&deleted, b"minutes v1");
    h.apply_clean(&h.plan(), &sides);
    h.tick();
    h.left.put(&edited, b"budget v2");
    h.left.remove_file(&deleted).unwrap();
    let r = h.apply_clean(&h.plan(), &sides);
    assert_eq!((r.copied, r.soft_deletes), (1, 1), "{r:?}");
    assert_file(&h.right, &edited, "budget v2");
    assert!(h.right.get(&deleted).is_none());
    no_temps(&h.right);
    let state = h.state();
    let mut recs = state.trash_records().unwrap();
    recs.sort_by(|a, b| a.original_path.cmp(&b.original_path));
    assert_eq!(
        recs.iter()
            .map(|r| r.original_path.as_str())
            .collect::<Vec<_>>(),
        [deleted.as_str(), edited.as_str()]
    );
    for (rec, body, name) in [
        (
            &recs[0],
            b"minutes v1".as_slice(),
            "minutes of the meeting.docx",
        ),
        (&recs[1], b"budget v1".as_slice(), "budget.xlsx"),
    ] {
        assert_eq!(rec.side, Side::Right);
        assert!(rec.trash_path.starts_with(".long/"), "{}", rec.trash_path);
        assert!(rec.trash_path.ends_with(name), "{}", rec.trash_path);
        let full = format!(".sync_trash/{}", rec.trash_path);
        assert!(full.len() <= 120, "{full}");
        assert_eq!(h.right.get(&full).as_deref(), Some(body));
    }
    assert!(h.plan().ops.is_empty(), "settled");
    // Restored by its original path, back at its original path.
    let rec = trash::restore(
        &h.cfg,
        &state,
        &sides,
        &Logger::null(),
        &deleted,
        None,
        None,
    )
    .unwrap();
    assert_eq!(rec.original_path, deleted);
    assert_file(&h.right, &deleted, "minutes v1");
    assert_eq!(state.trash_records().unwrap().len(), 1);
    // The next cycle syncs it back to the left.
    h.tick();
    h.apply_clean(&h.plan(), &sides);
    assert_file(&h.left, &deleted, "minutes v1");
}

/// Issue 18, item 6, under power cuts: with the copy temps and trash
/// entries of paths at the drive's limit under their short names, a cut
/// after any write (or right after its effect, before the journal) and a
/// resume of the same plan converge, lose nothing, leave no temp file and
/// record every trash entry.
#[test]
fn power_cuts_at_the_length_limit_resume_through_the_short_names() {
    for after_write in [false, true] {
        let n = each_cut(|n| {
            let h = harness("");
            let edited_short = path_of_len(120, "a.txt");
            let edited_long = path_of_len(120, "the quarterly figures.xlsx");
            let deleted = path_of_len(116, "old notes.txt");
            let created = path_of_len(120, "new.txt");
            for p in [&edited_short, &edited_long, &deleted] {
                h.left.put(p, format!("{p} v1").as_bytes());
            }
            h.apply_clean(&h.plan(), &limited_right(&h, 120));
            h.tick();
            for p in [&edited_short, &edited_long, &created] {
                h.left.put(p, format!("{p} v2, longer").as_bytes());
            }
            h.left.remove_file(&deleted).unwrap();
            let before = h.contents();
            let plan = h.plan();
            let right = cut(&h.right, &Arc::new(AtomicI64::new(n)), after_write);
            right.limit_names(255, 120);
            let faulty = h.sides_with(Side::Right, Arc::new(right));
            let crashed = h.apply_with(&plan, &faulty).is_err();
            // Restart: the same plan again, the power back on.
            let sides = limited_right(&h, 120);
            let r = h.apply_with(&plan, &sides).unwrap();
            assert!(r.failed.is_empty(), "n={n}: {:?}", r.failed);
            h.assert_converged_keeping(&before, n);
            no_temps(&h.right);
            assert_trash_recorded(&h, n);
            let state = h.state();
            assert_eq!(
                state.trash_records().unwrap().len(),
                3,
                "n={n}: two replaced versions and a deleted file"
            );
            let r = h.apply_with(&h.plan(), &sides).unwrap();
            assert!(r.failed.is_empty(), "n={n}: {:?}", r.failed);
            assert!(!h.plan().summary.has_changes(), "n={n}: still has work");
            crashed
        });
        assert!(n >= 8, "the plan needed only {n} writes");
    }
}

/// The sweep removes a leftover copy temp under the short name (issue 18,
/// item 6) as under the regular one, and an older build's, unless the plan
/// owning it is still running.
#[test]
fn short_and_old_temp_names_are_swept_unless_their_plan_runs() {
    let h = harness("");
    let running = "5b7e01c2-0000-4000-8000-000000000001";
    let over = "9d31aa07-0000-4000-8000-000000000002";
    let mut state = State::open_or_create(&h.cfg.state_db).unwrap();
    state.begin_plan(running, 0).unwrap();
    let mut temps = Vec::new();
    for id in [running, over] {
        let [regular, short] = paths::copy_temps("d/report.docx", id, 12);
        let old = format!(
            "d/.~twinsync-{}-12.tmp",
            id.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect::<String>()
        );
        for t in [regular, short, old] {
            h.right.put(&t, b"partial copy");
            temps.push(t);
        }
    }
    let removed = sweep_temps(&state, &h.right, Side::Right, &temps, &Logger::null());
    assert_eq!(removed, temps[3..].to_vec(), "only the finished plan's");
    for t in &temps[..3] {
        assert!(h.right.get(t).is_some(), "{t} belongs to a running plan");
    }
}

/// Windows reports a path over `MAX_PATH` as "path not found": a copy whose
/// temp file is refused that way goes through the short temp name, and a
/// replaced version refused its full trash path that way goes to a short
/// trash name.
#[test]
fn a_path_not_found_refusal_is_read_as_too_long_like_windows_reports_it() {
    let h = harness("");
    h.synced(&[("docs/plan.txt", "v1")]);
    h.left.put("docs/plan.txt", b"v2");
    let sides = h
        .faults(Side::Right)
        .fail(ErrorClass::NotFound, "create", "docs/.~twinsync-", 1)
        // (refused every time, as Windows does for a path over MAX_PATH)
        .fail(
            ErrorClass::NotFound,
            "rename",
            "→ .sync_trash/docs/",
            u32::MAX,
        )
        .sides();
    h.apply_clean(&h.plan(), &sides);
    assert_file(&h.right, "docs/plan.txt", "v2");
    let state = h.state();
    let recs = state.trash_records().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].original_path, "docs/plan.txt");
    assert!(
        recs[0].trash_path.starts_with(".long/"),
        "{}",
        recs[0].trash_path
    );
    assert_file(
        &h.right,
        &format!(".sync_trash/{}", recs[0].trash_path),
        "v1",
    );
    no_temps(&h.right);
}
