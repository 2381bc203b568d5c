//! The console (issue 19 items 3 and 4): the plan table fits the width on
//! a terminal and in a pipe, colour only on a terminal, and a long copy's
//! byte bar. The binary runs under a pseudo-terminal made by util-linux
//! `script` (Linux only; the Windows suite runs the rest).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use std::process::Command;
use twinsync::Side;

/// Shell-quotes one word for `script -c`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs twinsync with `args` under a pseudo-terminal (stdout and stderr
/// both on it) with the extra environment `vars`; returns what the
/// terminal received, `\r` turned into line ends.
fn on_terminal(e: &Env, args: &[&str], vars: &[(&str, &str)]) -> String {
    let bin = env!("CARGO_BIN_EXE_twinsync");
    let mut line = vec![
        quote(bin),
        "--config".into(),
        quote(e.config.to_str().unwrap()),
    ];
    line.extend(args.iter().map(|a| quote(a)));
    let mut c = Command::new("script");
    c.current_dir(e.dir.path())
        .args(["-qfec", &line.join(" "), "/dev/null"])
        .env("TERM", "xterm")
        .env("SHELL", "/bin/sh")
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("TWINSYNC_CONFIG");
    for (k, v) in vars {
        c.env(k, v);
    }
    let out = c.output().expect("util-linux `script` runs");
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace('\r', "\n")
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

/// Colour escapes (foreground colour or bold), not cursor moves.
fn has_colour(s: &str) -> bool {
    s.contains("\u{1b}[38;5;") || s.contains("\u{1b}[1m")
}

/// A synced pair, then: an edit, a 30 MB delete (for good), a conflict, and
/// new files with long paths and long reasons.
fn busy_env() -> Env {
    let e = Env::init("");
    e.write(Side::Left, "phones.txt", "Alice 555-0101", 600);
    e.write(Side::Left, "docs/budget.csv", "region,total", 600);
    let big = e.left.join("media/interview_raw_take3.mp4");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big)
        .unwrap()
        .set_len(30 * 1024 * 1024)
        .unwrap();
    common::set_age(&big, 600);
    e.sync();
    e.write(
        Side::Left,
        "docs/budget.csv",
        "region,total\nnorth,5400",
        60,
    );
    std::fs::remove_file(e.right.join("media/interview_raw_take3.mp4")).unwrap();
    e.write(Side::Left, "phones.txt", "Alice 555-0101 (left edit)", 60);
    e.write(Side::Right, "phones.txt", "Alice 555-0199 (right edit)", 30);
    for i in 0..3 {
        e.write(
            Side::Left,
            &format!(
                "Marketing/Video/2026 Spring campaign/Final cuts for the web/big_new_final_v{i}.mp4"
            ),
            "x",
            60,
        );
    }
    e
}

fn widest_line(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn the_plan_table_fits_80_and_200_columns_on_a_terminal_and_in_a_pipe() {
    let e = busy_env();
    for cols in [80, 200] {
        let c = cols.to_string();
        let text = strip(&on_terminal(&e, &["plan"], &[("COLUMNS", &c)]));
        assert!(text.contains("for good"), "{text}");
        assert!(widest_line(&text) <= cols, "{cols}:\n{text}");
        // Wider room is used: the why of a clash fits on fewer lines.
        if cols == 200 {
            assert!(widest_line(&text) > 80, "{text}");
        }
        let piped = e.cmd(&["plan"]).env("COLUMNS", &c).output().unwrap();
        let piped = String::from_utf8(piped.stdout).unwrap();
        assert!(widest_line(&piped) <= cols, "{cols}:\n{piped}");
    }
    // A pipe without COLUMNS: 80 columns.
    let piped = e.cmd(&["plan"]).env_remove("COLUMNS").output().unwrap();
    let piped = String::from_utf8(piped.stdout).unwrap();
    assert!(widest_line(&piped) <= 80, "{piped}");
    // Shortened in the middle; whole in the JSON and with `show --detailed`.
    let long = "Marketing/Video/2026 Spring campaign/Final cuts for the web/big_new_final_v0.mp4";
    assert!(
        piped.contains("…/big_new_final_v0.mp4") && !piped.contains(long),
        "{piped}"
    );
    let json = e
        .cmd(&["plan", "--json", "--out", "p.json"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&json.stdout).contains(long));
    let detailed = e
        .cmd(&["show", "--detailed", "p.json"])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let detailed = String::from_utf8(detailed.stdout).unwrap();
    assert!(detailed.contains(long), "{detailed}");
    assert!(widest_line(&detailed) <= 200, "{detailed}");
}

#[test]
fn colour_on_a_terminal_only_never_with_no_color_or_a_pipe() {
    let e = busy_env();
    let tty = on_terminal(&e, &["plan"], &[]);
    assert!(has_colour(&tty), "{tty:?}");
    assert!(
        tty.contains("\u{1b}[1m"),
        "the delete for good is bold: {tty:?}"
    );
    let no_color_env = on_terminal(&e, &["plan"], &[("NO_COLOR", "1")]);
    assert!(!has_colour(&no_color_env), "{no_color_env:?}");
    let flag = on_terminal(&e, &["--no-color", "plan"], &[]);
    assert!(!has_colour(&flag), "{flag:?}");
    let flag_after = on_terminal(&e, &["plan", "--no-color"], &[]);
    assert!(!has_colour(&flag_after), "{flag_after:?}");
    let piped = e.cmd(&["plan"]).output().unwrap();
    assert!(!piped.stdout.contains(&0x1b) && !piped.stderr.contains(&0x1b));
    // The same plan all four times, colour aside.
    let words = |s: &str| strip(s).contains("deleted for good");
    assert!(words(&tty) && words(&no_color_env) && words(&flag));
}

#[test]
fn a_long_copy_on_a_terminal_shows_a_moving_byte_bar_with_its_name() {
    // 200 MB at 100 MB/s: two seconds, so its bar shows (after one second).
    let e = Env::init("[transfer]\nmax_bytes_per_second = 100000000\n");
    let big = e.left.join("Marketing/Video/big_new.mp4");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big)
        .unwrap()
        .set_len(200_000_000)
        .unwrap();
    common::set_age(&big, 60);
    let out = strip(&on_terminal(&e, &["apply", "--auto-approve"], &[]));
    assert!(out.contains("Apply complete: 1 copied"), "{out}");
    // The copy's bar: "Marketing/Video/big_new.mp4 [===>   ] 120.00 MiB/190.73 MiB · 91.71 MiB/s · 1s left".
    let bars: Vec<&str> = out
        .split("big_new.mp4 [")
        .skip(1)
        .filter_map(|rest| rest.split("] ").nth(1))
        .filter(|b| b.contains("/190.73 MiB"))
        .collect();
    let mut counts: Vec<&str> = bars.iter().filter_map(|b| b.split('/').next()).collect();
    counts.dedup();
    assert!(counts.len() >= 3, "a moving bar: {counts:?}\n{out}");
    assert!(bars.iter().any(|l| l.contains("/s")), "speed: {out}");
    assert!(bars.iter().any(|l| l.contains("left")), "time left: {out}");
    // Audit item 8: no speed or time left before there is a measurement
    // (the first frame read "3.00 MiB/4.77 MiB · 0 B/s · 0s left").
    let first = bars.first().unwrap();
    assert!(
        !first.contains("/s") && !first.contains("left"),
        "{first}\n{out}"
    );
    assert!(!bars.iter().any(|l| l.contains(" 0 B/s")), "{out}");
    // Nothing of it in a pipe, however long the copy.
    let big2 = e.left.join("Marketing/Video/big_new_2.mp4");
    std::fs::File::create(&big2)
        .unwrap()
        .set_len(200_000_000)
        .unwrap();
    common::set_age(&big2, 60);
    let piped = e.cmd(&["apply", "--auto-approve"]).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&piped.stdout),
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(piped.status.success(), "{:?}\n{all}", piped.status);
    assert!(all.contains("Apply complete: 1 copied"), "{all}");
    assert!(!all.contains("MiB/s") && !all.contains('\u{1b}'), "{all}");
}

#[test]
fn many_small_copies_on_a_terminal_show_one_overall_bar() {
    // 40 copies of 256 KiB at 5 MB/s: about two seconds, none alone
    // longer than one, so the run gets its bar and no copy gets one.
    let e = Env::init("[transfer]\nmax_bytes_per_second = 5000000\n");
    for i in 0..40 {
        let f = e.left.join(format!("batch/f{i:02}.bin"));
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, vec![b'x'; 256 * 1024]).unwrap();
        common::set_age(&f, 60);
    }
    let out = strip(&on_terminal(&e, &["apply", "--auto-approve"], &[]));
    assert!(out.contains("Apply complete: 40 copied"), "{out}");
    // "[=====>     ] 4.25 MiB/10.00 MiB · 17/41 steps · 2.38 MiB/s · 2s left"
    let mut steps: Vec<&str> = out
        .split(" · ")
        .filter(|p| p.ends_with("/41 steps"))
        .collect();
    steps.dedup();
    assert!(steps.len() >= 2, "a moving overall bar: {steps:?}\n{out}");
    assert!(out.contains("/10.00 MiB"), "in bytes: {out}");
    assert!(!out.contains(".bin ["), "no bar for a short copy: {out}");
}

/// `status`, `trash list`, `trash purge` and `plan` fit the width too
/// (SPEC §12: tables fit the terminal; audit item 3): at 60, 80 and 120
/// columns, on a terminal and in a pipe, with a long trash path beside its
/// original path and a side unavailable; long paths wrap whole in their
/// cells, rules keep their words.
#[test]
fn status_trash_and_plan_tables_fit_60_80_and_120_columns() {
    let e = busy_env();
    e.sync();
    // A long path deleted on one side lands in the other's trash.
    let long = "Marketing/Video/2026 Spring campaign/Final cuts for the web/big_new_final_v1.mp4";
    std::fs::remove_file(e.left.join(long)).unwrap();
    e.sync();
    // Overwritten twice: the second version sits in the trash under another name.
    for (i, age) in [(1, 50), (2, 40)] {
        e.write(Side::Left, "docs/budget.csv", &format!("edit {i}"), age);
        e.sync();
    }
    e.write(Side::Left, "new/file.txt", "x", 60);
    let fits = |args: &[&str], text: &str, cols: usize| {
        // (The scan spinner is drawn to the pseudo-terminal's own width
        // and cleared; COLUMNS narrows only what stays.)
        for line in text.lines().filter(|l| !l.contains("scanning…")) {
            assert!(
                line.chars().count() <= cols,
                "{args:?} at {cols}: {line}\n{text}"
            );
        }
    };
    for cols in [60, 80, 120] {
        let c = cols.to_string();
        for args in [
            &["status"][..],
            &["trash", "list"][..],
            &["trash", "purge", "--older-than", "0", "--dry-run"][..],
            &["plan"][..],
        ] {
            let text = strip(&on_terminal(&e, args, &[("COLUMNS", &c)]));
            fits(args, &text, cols);
            let piped = e.cmd(args).env("COLUMNS", &c).output().unwrap();
            fits(args, &String::from_utf8(piped.stdout).unwrap(), cols);
        }
        let listed = e
            .cmd(&["trash", "list"])
            .env("COLUMNS", &c)
            .output()
            .unwrap();
        let listed = String::from_utf8(listed.stdout).unwrap();
        assert!(
            listed.contains("(overwritten)"),
            "{cols}: rule words whole:\n{listed}"
        );
        assert!(
            listed.contains("in trash as: budget") && listed.contains("(deleted"),
            "{cols}:\n{listed}"
        );
        assert!(
            listed.contains("1.mp4") && listed.contains("Marketing/"),
            "{listed}"
        );
    }
    // A side unavailable: the roots table's sentence wraps in its cell.
    std::fs::rename(&e.right, e.dir.path().join("right.bak")).unwrap();
    for cols in [60, 80, 120] {
        let out = e
            .cmd(&["status"])
            .env("COLUMNS", cols.to_string())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        let text = String::from_utf8(out.stdout).unwrap();
        fits(&["status"], &text, cols);
        assert!(text.contains("NO:"), "{text}");
    }
}

/// Audit item 4: control characters in names never reach the terminal raw
/// (plan, apply, status, trash list, watch and the warnings on stderr show
/// them escaped); the JSON log and `--json` keep the exact name.
#[test]
fn control_characters_in_names_are_escaped_for_people_only() {
    let e = Env::init("");
    for name in [
        "evil\u{1b}[2J\u{1b}[31mRED",
        "new\nline.txt",
        "tab\there",
        "one\u{1}.txt",
    ] {
        e.write(Side::Left, name, "x", 100);
    }
    // Not a control character, but it reverses what follows: synced, and
    // shown escaped in the plan's table, the trash list and watch's lines.
    let rlo = "invoice\u{202e}fdp.exe";
    e.write(Side::Left, rlo, "x", 100);
    let raw =
        |s: &str| s.contains(['\u{1b}', '\u{1}', '\t', '\u{202e}']) || s.contains("new\nline");
    let run = |args: &[&str]| {
        let out = e.cmd(args).env("COLUMNS", "200").output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!raw(&all), "{args:?}: {all:?}");
        all
    };
    let plan = run(&["plan"]);
    assert!(
        plan.contains(r"evil\e[2J\e[31mRED") && plan.contains(r"new\nline.txt"),
        "{plan}"
    );
    assert!(
        plan.contains(r"tab\there") && plan.contains(r"one\u{1}.txt"),
        "{plan}"
    );
    assert!(
        plan.contains(r"invoice\u{202e}fdp.exe"),
        "in the table: {plan}"
    );
    // Exact in the JSON.
    let json = e.cmd(&["plan", "--json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&json.stdout).contains(rlo));
    run(&["apply", "-y"]);
    let status = run(&["status"]);
    assert!(status.contains(r"evil\e[2J\e[31mRED"), "{status}");
    std::fs::remove_file(e.left.join(rlo)).unwrap();
    let watch = run(&["watch", "--cycles", "1"]);
    assert!(
        watch.contains(r"invoice\u{202e}fdp.exe (deleted)"),
        "{watch}"
    );
    let trash = run(&["trash", "list"]);
    assert!(trash.contains(r"invoice\u{202e}fdp.exe"), "{trash}");
    // The log keeps the exact names.
    let log = std::fs::read_to_string(e.dir.path().join("twinsync.log.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|v| v["path"] == rlo), "{log}");
    assert!(
        events.iter().any(|v| v["error"]
            .as_str()
            .is_some_and(|t| t.contains("evil\u{1b}[2J"))),
        "{log}"
    );
}

/// Audit item 5: `-q` means errors only, no progress: no scan spinner on
/// a terminal for `plan -q` or `apply -y -q` (there is one without it).
#[test]
fn q_draws_no_progress_on_a_terminal() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "a", 100);
    let plain = on_terminal(&e, &["plan"], &[]);
    assert!(
        plain.contains("scanning…"),
        "the spinner, without -q: {plain:?}"
    );
    for args in [&["plan", "-q"][..], &["apply", "-y", "-q"][..]] {
        let out = on_terminal(&e, args, &[]);
        assert!(
            !out.contains("scanning") && !out.contains('\u{1b}'),
            "{args:?}: {out:?}"
        );
    }
    assert_eq!(e.read(Side::Right, "a.txt").as_deref(), Some("a"));
}
