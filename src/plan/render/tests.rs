//! Rendering tests: the table, the step list and the one-line total.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::plan::{
    CopyStep, DeleteStep, Expect, PlanConfig, RecordInfo, RecordStep, RenameStep, SetPropsStep,
    Summary,
};
use crate::{Entry, Rule};

fn copy(id: u64, path: &str, bytes: u64, replaces: Option<u64>) -> Op {
    let mut expect = vec![Expect::of(
        Side::Left,
        path,
        Some(&Entry {
            path: path.into(),
            size: bytes,
            ..Entry::default()
        }),
    )];
    expect.push(match replaces {
        Some(size) => Expect::of(
            Side::Right,
            path,
            Some(&Entry {
                path: path.into(),
                size,
                ..Entry::default()
            }),
        ),
        None => Expect::of(Side::Right, path, None),
    });
    Op {
        id,
        path: path.into(),
        key: path.into(),
        rule: Rule::NewLeft,
        reason: "new on left, never seen on right before, so it is copied over".into(),
        step: Step::Copy(CopyStep {
            side: Side::Right,
            from: Side::Left,
            src_path: path.into(),
            dest_path: path.into(),
            lane: crate::plan::Lane::Small,
            props: 0,
            src_key: None,
            keeps_replaced: None,
        }),
        sides: vec![Side::Left, Side::Right],
        bytes,
        mtime: 0,
        expect,
        policy: None,
    }
}

fn delete(id: u64, path: &str, soft: bool) -> Op {
    Op {
        rule: Rule::DeletedRight,
        reason: "deleted on right, unchanged on left".into(),
        step: Step::Delete(DeleteStep {
            side: Side::Left,
            dest_path: path.into(),
            soft,
        }),
        ..copy(id, path, 31_457_280, None)
    }
}

/// A copy of `path` turned into a rename of it on the right.
fn rename(id: u64, path: &str) -> Op {
    Op {
        step: Step::Rename(RenameStep {
            side: Side::Right,
            src_path: path.into(),
            dest_path: path.into(),
            src_key: None,
        }),
        ..copy(id, path, 0, None)
    }
}

fn record(id: u64, path: &str) -> Op {
    let e = Entry {
        path: path.into(),
        ..Entry::default()
    };
    Op {
        step: Step::Record(RecordStep {
            record: Box::new(RecordInfo {
                not_carried: false,
                left: Some(e.clone()),
                right: Some(e),
            }),
        }),
        ..copy(id, path, 0, None)
    }
}

fn plan_of(ops: Vec<Op>) -> Plan {
    let config = PlanConfig {
        soft_delete: true,
        soft_delete_max_bytes: 20 * 1024 * 1024,
        ..PlanConfig::default()
    };
    Plan {
        format_version: 1,
        tool_version: "test".into(),
        plan_id: "p".into(),
        created_at: "2026-12-07T03:33:10Z".into(),
        left_root: "L".into(),
        right_root: "R".into(),
        left_root_id: "l".into(),
        right_root_id: "r".into(),
        base_generation: 0,
        forced: false,
        summary: Summary::of(&ops, &config),
        config,
        ops,
        problems: Vec::new(),
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn long_paths_lose_their_middle_folders_first_then_the_middle_of_the_name() {
    let p = "Marketing/2026/Campaigns/Spring launch/big_new.mp4";
    assert_eq!(shorten_middle(p, 60), p, "fits: unchanged");
    assert_eq!(shorten_middle(p, 23), "Marketing/…/big_new.mp4");
    assert_eq!(
        shorten_middle(p, 38),
        "Marketing/…/Spring launch/big_new.mp4"
    );
    assert_eq!(shorten_middle(p, 15), "…/big_new.mp4");
    let name = "a_very_long_file_name_from_the_camera_0001.mp4";
    let s = shorten_middle(name, 20);
    assert_eq!(s.chars().count(), 20, "{s}");
    assert!(s.starts_with("a_very") && s.ends_with("0001.mp4"), "{s}");
    // Never longer than asked, for any length (chars, not bytes).
    let deep = "Ünïcödé/dossier très long/sous-dossier/encore un/fichier final.docx";
    for max in 8..80 {
        let s = shorten_middle(deep, max);
        assert!(s.chars().count() <= max, "{max}: {s}");
        assert!(s.contains('…') || s == deep, "{max}: {s}");
    }
}

#[test]
fn counts_are_singular_or_plural() {
    assert_eq!(crate::plural(1, "copy", "copies"), "1 copy");
    assert_eq!(crate::plural(0, "copy", "copies"), "0 copies");
    let ren = rename(2, "b.txt");
    let mut props = copy(3, "c.txt", 0, None);
    props.step = Step::SetProps(SetPropsStep {
        side: Side::Right,
        from: Side::Left,
        src_path: "c.txt".into(),
        dest_path: "c.txt".into(),
        props: 0,
    });
    let line = plan_of(vec![copy(1, "a.txt", 5, None), ren, props])
        .summary
        .one_line();
    for want in [
        "1 copy → right",
        "0 copies → left",
        "0 conflicts",
        "1 rename",
        "1 property change",
    ] {
        assert!(line.contains(want), "{want}: {line}");
    }
    for wrong in ["1 copies", "1 renames", "1 property changes"] {
        assert!(!line.contains(wrong), "{wrong}: {line}");
    }
}

#[test]
fn replaced_versions_are_counted_where_apply_puts_them() {
    let plan = plan_of(vec![
        copy(1, "small.docx", 10, Some(8)),
        copy(2, "huge.mov", 10, Some(30 * 1024 * 1024)),
        copy(3, "new.txt", 10, None),
        delete(4, "gone.txt", true),
    ]);
    let s = &plan.summary;
    assert_eq!((s.replaced_to_trash, s.replaced_not_kept), (1, 1));
    assert_eq!(s.to_trash(), 2, "one soft delete and one replaced version");
    let line = s.one_line();
    assert!(line.contains("2 to trash (1 replaced version)"), "{line}");
    assert!(line.contains("1 replaced version not kept"), "{line}");
    let table = summary_table(&plan, &View::default());
    assert!(table.contains("replaced version (to trash)"), "{table}");
}

#[test]
fn record_steps_are_neither_listed_nor_numbered() {
    let mut ops: Vec<Op> = (1..=163).map(|i| record(i, &format!("f{i}.txt"))).collect();
    ops.push(copy(164, "new.txt", 5, None));
    ops.push(delete(165, "old.txt", true));
    let text = render(&plan_of(ops), &View::default());
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("│ ")).collect();
    let numbers: Vec<&str> = rows
        .iter()
        .filter_map(|l| l.trim_start_matches("│ ").split(' ').next())
        .filter(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty())
        .collect();
    assert_eq!(numbers, ["1", "2"], "{text}");
    assert!(!text.contains("164") && !text.contains("f1.txt"), "{text}");
    assert!(text.contains("… and 163 unchanged files adopted"), "{text}");
}

#[test]
fn the_hint_names_a_plan_file_only_when_one_was_written() {
    let ops: Vec<Op> = (1..=5)
        .map(|i| copy(i, &format!("f{i}.txt"), 1, None))
        .collect();
    let plan = plan_of(ops);
    let unsaved = ops_table(
        &plan,
        &View {
            limit: Some(2),
            ..View::default()
        },
    );
    assert!(
        unsaved.contains("… and 3 more steps not listed"),
        "{unsaved}"
    );
    assert!(!unsaved.contains("plan file"), "{unsaved}");
    assert!(unsaved.contains("twinsync plan --out"), "{unsaved}");
    let saved = ops_table(
        &plan,
        &View {
            limit: Some(4),
            saved: Some("plans/plan-1.json".into()),
            ..View::default()
        },
    );
    assert!(
        saved.contains(
            "… and 1 more step (all of them: `twinsync show --detailed plans/plan-1.json`)"
        ),
        "{saved}"
    );
    let all = ops_table(&plan, &View::default());
    assert!(!all.contains("more step"), "{all}");
}

#[test]
fn tables_fit_the_width_and_only_detailed_shows_whole_paths() {
    let long = "Marketing/Video/2026 Spring campaign/Final cuts for the web/big_new_final_v3.mp4";
    let mut ops = vec![
        copy(1, long, 188_743_680, Some(1000)),
        delete(2, long, false),
    ];
    ops[0].reason = "changed on left only; the right version is older and unchanged since the last sync, so it is replaced".into();
    let plan = plan_of(ops);
    for width in [80, 100, 132, 200] {
        for color in [false, true] {
            let view = View {
                width,
                color,
                ..View::default()
            };
            let text = strip(&render(&plan, &view));
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line}\n{text}");
            }
            assert!(text.contains("6.2.9"), "the rule stays: {text}");
            if width < 120 {
                assert!(!text.contains(long), "{width}: shortened\n{text}");
                assert!(text.contains("…/big_new_final_v3.mp4"), "{width}: {text}");
            }
        }
    }
    let detailed = render(
        &plan,
        &View {
            width: 400,
            detailed: true,
            ..View::default()
        },
    );
    assert!(detailed.contains(long), "{detailed}");
}

#[test]
fn colour_marks_each_kind_and_only_when_asked() {
    let ren = rename(2, "b.txt");
    let plan = plan_of(vec![
        copy(1, "a.txt", 5, None),
        ren,
        delete(3, "c.txt", true),
        delete(4, "d.mov", false),
    ]);
    let plain = render(&plan, &View::default());
    assert!(!plain.contains('\u{1b}'), "{plain}");
    for mark in ["+ copy", "~ rename", "- delete", "for good", "to trash"] {
        assert!(plain.contains(mark), "{mark}: {plain}");
    }
    let coloured = render(
        &plan,
        &View {
            color: true,
            ..View::default()
        },
    );
    // Green, yellow, red, and bold for the delete for good.
    for code in [
        "\u{1b}[38;5;10m",
        "\u{1b}[38;5;11m",
        "\u{1b}[38;5;9m",
        "\u{1b}[1m",
    ] {
        assert!(coloured.contains(code), "{code:?}: {coloured:?}");
    }
    assert_eq!(strip(&coloured), plain, "the same text, only coloured");
}

/// Audit item 1: "No changes" only when nothing is open; else "Nothing to
/// apply now" and what needs the admin, with deferred paths or not.
#[test]
fn an_empty_plan_says_no_changes_only_when_nothing_is_open() {
    let mut plan = plan_of(Vec::new());
    let text = render(&plan, &View::default());
    assert!(text.contains(IN_SYNC), "{text}");
    let open = View {
        open: Some("Needs you: 1 unresolved conflict, 7 paths skipped".into()),
        ..View::default()
    };
    let text = render(&plan, &open);
    assert!(!text.contains("No changes"), "{text}");
    assert!(
        text.contains(
            "Nothing to apply now. Needs you: 1 unresolved conflict, 7 paths skipped (see\n  `twinsync status`)."
        ),
        "{text}"
    );
    plan.summary.deferred = 2;
    for view in [View::default(), open] {
        let text = render(&plan, &view);
        assert!(!text.contains("No changes"), "{text}");
        assert!(text.contains("Nothing to apply now."), "{text}");
        assert!(text.contains("2 paths left for a later cycle"), "{text}");
    }
}
