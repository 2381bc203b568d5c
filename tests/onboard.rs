//! Issue 19 items 6–8 on the real binary: getting started without the
//! repository (`init --example`, config hints), the conveniences (`-y`,
//! `-q`, `-v`, `--version`, `completions`, `trash list PATH`, `trash
//! restore --side --version`, `trash purge --dry-run -y`, `--cycles 0`, the
//! other-roots refusal) and the one human time format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use assert_cmd::Command;
use common::Env;
use predicates::str::contains;
use twinsync::Side;

fn bin() -> Command {
    let mut c = Command::cargo_bin("twinsync").unwrap();
    c.env_remove("TWINSYNC_CONFIG");
    c
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Single-quoted TOML of a path.
fn lit(p: &std::path::Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn init_example_prints_a_commented_config_that_works_once_its_roots_are_set() {
    let d = tempfile::tempdir().unwrap();
    // No config anywhere: the missing-config error says how to get one.
    bin()
        .current_dir(d.path())
        .arg("status")
        .assert()
        .code(1)
        .stderr(contains("does not exist"))
        .stderr(contains(if cfg!(windows) {
            "twinsync init --example | Set-Content -Encoding UTF8 sync_config.toml"
        } else {
            "twinsync init --example > sync_config.toml"
        }));
    let example = stdout(bin().current_dir(d.path()).args(["init", "--example"]));
    assert!(
        example.contains("[soft_delete]")
            && example.lines().filter(|l| l.starts_with('#')).count() > 20,
        "{example}"
    );
    let (left, right) = (d.path().join("L"), d.path().join("R"));
    let text: String = example
        .lines()
        .map(|l| {
            if l.starts_with("left_root") {
                format!("left_root = {}", lit(&left))
            } else if l.starts_with("right_root") {
                format!("right_root = {}", lit(&right))
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(text, example.trim_end(), "the example sets both roots");
    std::fs::write(d.path().join("sync_config.toml"), text).unwrap();
    bin()
        .current_dir(d.path())
        .args(["init", "--create-roots"])
        .assert()
        .success();
    assert!(left.join(".twinsync-root").is_file() && right.join(".twinsync-root").is_file());
    bin().current_dir(d.path()).arg("plan").assert().success();
}

#[test]
fn config_mistakes_of_a_windows_admin_get_hints() {
    let e = Env::new();
    let base = std::fs::read_to_string(&e.config).unwrap();
    // A Windows path in a double-quoted string.
    std::fs::write(
        &e.config,
        base.replace("left_root = 'left'", r#"left_root = "C:\share""#),
    )
    .unwrap();
    e.cmd(&["plan"]).assert().code(1).stderr(contains(
        "use single quotes for Windows paths: left_root = 'C:\\share'",
    ));
    // PowerShell 5 `Out-File`: UTF-16 LE with a byte-order mark.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in base.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(&e.config, &utf16).unwrap();
    e.cmd(&["plan"])
        .assert()
        .code(1)
        .stderr(contains("UTF-16"))
        .stderr(contains("save the file as UTF-8"));
    // Notepad's UTF-8 with a byte-order mark is read fine.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(base.as_bytes());
    std::fs::write(&e.config, &bom).unwrap();
    e.cmd(&["init"]).assert().success();
    e.cmd(&["plan"]).assert().success();
}

#[test]
fn a_root_that_is_a_file_is_called_a_file() {
    let e = Env::new();
    std::fs::remove_dir(&e.right).unwrap();
    std::fs::write(&e.right, "a file where the folder should be").unwrap();
    for args in [&["init"][..], &["init", "--create-roots"]] {
        let out = e.cmd(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains("is a file, not a folder")
                && !err.contains("does not exist")
                && !err.contains("os error"),
            "{err}"
        );
    }
    // After a good init, the folder replaced by a file: unavailable, named so.
    std::fs::remove_file(&e.right).unwrap();
    std::fs::create_dir(&e.right).unwrap();
    e.cmd(&["init"]).assert().success();
    std::fs::remove_dir_all(&e.right).unwrap();
    std::fs::write(&e.right, "x").unwrap();
    e.cmd(&["plan"])
        .assert()
        .code(3)
        .stderr(contains("is a file, not a folder"));
}

#[test]
fn y_applies_without_asking() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "hello", 300);
    // Without a terminal and without -y, apply refuses and says -y.
    e.cmd(&["apply"]).assert().code(1).stderr(contains("-y"));
    assert_eq!(e.read(Side::Right, "a.txt"), None);
    e.cmd(&["apply", "-y"]).assert().success();
    assert_eq!(e.read(Side::Right, "a.txt").as_deref(), Some("hello"));
}

#[test]
fn q_prints_errors_only_and_v_adds_detail() {
    let e = Env::init("");
    e.write(Side::Left, "a.txt", "hello", 300);
    // Normally plan prints its table; with -q nothing at all.
    assert!(stdout(&mut e.cmd(&["plan"])).contains("a.txt"));
    e.cmd(&["-q", "plan"])
        .assert()
        .success()
        .stdout("")
        .stderr("");
    e.cmd(&["apply", "-y", "--quiet"])
        .assert()
        .success()
        .stdout("")
        .stderr("");
    assert_eq!(e.read(Side::Right, "a.txt").as_deref(), Some("hello"));
    e.cmd(&["status", "-q"]).assert().stdout("").stderr("");
    // What was asked for still comes out.
    let json = stdout(&mut e.cmd(&["-q", "status", "--json"]));
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "{json}"
    );
    // Errors still do.
    e.cmd(&["-q", "trash", "restore", "nothing.txt"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("error: no trash record"));
    e.cmd(&["-q", "-v", "plan"]).assert().code(1);
    // -v: the files used and what the scan found, on stderr.
    e.write(Side::Left, "b.txt", "b", 300);
    e.cmd(&["-v", "plan"])
        .assert()
        .success()
        .stderr(contains("config "))
        .stderr(contains("state DB"))
        .stderr(contains(
            "scan: 2 entries on the left, 1 entry on the right",
        ))
        .stderr(contains("plan: 1 operation, 0 left for a later cycle"));
    assert!(
        !String::from_utf8_lossy(&e.cmd(&["plan"]).output().unwrap().stderr).contains("scan: ")
    );
}

#[test]
fn version_shows_the_commit_and_help_mentions_it() {
    let v = stdout(bin().arg("--version"));
    let commit = v
        .trim()
        .strip_prefix(concat!("twinsync ", env!("CARGO_PKG_VERSION"), " (commit "))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{v}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{v}"
    );
    // Built from a git checkout without an override: that checkout's HEAD.
    if let Ok(out) = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        && out.status.success()
        && option_env!("TWINSYNC_COMMIT").is_none()
    {
        assert_eq!(commit, String::from_utf8_lossy(&out.stdout).trim());
    }
    assert_eq!(stdout(bin().arg("-V")), v);
    let help = stdout(bin().arg("--help"));
    assert!(
        help.contains("--version") && help.contains("commit"),
        "{help}"
    );
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("powershell", "Register-ArgumentCompleter"),
        ("bash", "complete -F"),
        ("zsh", "#compdef twinsync"),
        ("fish", "complete -c twinsync"),
    ] {
        let out = stdout(bin().args(["completions", shell]));
        assert!(out.contains(marker), "{shell}: {out}");
        assert!(
            out.contains("purge") && out.contains("older-than"),
            "{shell}"
        );
    }
    bin().args(["completions", "cmd"]).assert().code(1);
}

#[test]
fn watch_cycles_0_is_refused() {
    let e = Env::init("");
    e.cmd(&["watch", "--cycles", "0"])
        .assert()
        .code(1)
        .stderr(contains("at least 1"));
}

#[test]
fn a_plan_for_other_roots_is_refused_naming_both_folder_pairs() {
    let a = Env::init("");
    a.write(Side::Left, "a.txt", "a", 300);
    let plan = a.dir.path().join("a.json");
    a.cmd(&["plan", "--out", plan.to_str().unwrap()])
        .assert()
        .success();
    let b = Env::init("");
    let out = b.cmd(&["apply", plan.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    // Both folder pairs by path (each env's unique temp folder with its
    // left and right root), not root ids.
    let sep = std::path::MAIN_SEPARATOR;
    for env in [&a, &b] {
        let tmp = env
            .dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for side in ["left", "right"] {
            assert!(
                err.contains(&format!("{tmp}{sep}{side}`")),
                "{tmp} {side} in {err}"
            );
        }
    }
    assert!(
        err.contains("other roots") && err.contains("twinsync plan"),
        "{err}"
    );
}

/// Trash on both sides holding versions of `d/r.txt`: returns the env with,
/// newest first, `v3` (right), `v2` (left), `v1` (right).
fn three_versions() -> Env {
    let e = Env::init("");
    e.write(Side::Left, "d/r.txt", "v1", 400);
    e.sync();
    std::fs::remove_file(e.left.join("d/r.txt")).unwrap();
    e.sync(); // v1 → right's trash
    e.write(Side::Right, "d/r.txt", "v2 (right)", 300);
    e.sync();
    std::fs::remove_file(e.right.join("d/r.txt")).unwrap();
    e.sync(); // v2 → left's trash
    e.write(Side::Left, "d/r.txt", "v3 three", 200);
    e.sync();
    std::fs::remove_file(e.left.join("d/r.txt")).unwrap();
    e.sync(); // v3 → right's trash
    e
}

/// The (version, side) of the table rows that mention `needle`.
fn rows(table: &str, needle: &str) -> Vec<(String, String)> {
    table
        .lines()
        .filter(|l| l.contains(needle) && l.starts_with('│'))
        .map(|l| {
            let cells: Vec<&str> = l.split(['│', '┆']).map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn trash_list_path_numbers_versions_and_restore_picks_by_version_and_side() {
    let e = three_versions();
    let list = stdout(&mut e.cmd(&["trash", "list", "d/r.txt"]));
    assert_eq!(
        rows(&list, "d/r"),
        [("1", "right"), ("2", "left"), ("3", "right")].map(|(n, s)| (n.to_owned(), s.to_owned())),
        "{list}"
    );
    assert!(list.contains("--version N"), "{list}");
    // A folder lists what was trashed below it; an unknown path says so.
    assert_eq!(
        rows(&stdout(&mut e.cmd(&["trash", "list", "d"])), "d/r").len(),
        3
    );
    assert!(stdout(&mut e.cmd(&["trash", "list", "nope"])).contains("Nothing in the trash"));
    // --version and --side must agree.
    e.cmd(&[
        "trash",
        "restore",
        "d/r.txt",
        "--version",
        "2",
        "--side",
        "right",
    ])
    .assert()
    .code(1)
    .stderr(contains("left side's trash"));
    e.cmd(&["trash", "restore", "d/r.txt", "--version", "4"])
        .assert()
        .code(1)
        .stderr(contains("no version 4"));
    // The oldest version, on the right.
    e.cmd(&["trash", "restore", "d/r.txt", "--version", "3"])
        .assert()
        .success();
    assert_eq!(e.read(Side::Right, "d/r.txt").as_deref(), Some("v1"));
    // The newest on the left is v2.
    e.cmd(&["trash", "restore", "d\\r.txt", "--side", "left"])
        .assert()
        .success();
    assert_eq!(e.read(Side::Left, "d/r.txt").as_deref(), Some("v2 (right)"));
    // One left, now version 1.
    let list = stdout(&mut e.cmd(&["trash", "list", "d/r.txt"]));
    assert_eq!(
        rows(&list, "d/r"),
        [("1".to_owned(), "right".to_owned())],
        "{list}"
    );
}

#[test]
fn trash_purge_dry_run_asks_and_removes_the_folders_it_empties() {
    let e = Env::init("");
    let kib3 = "x".repeat(3 * 1024);
    e.write(Side::Left, "deep/er/big.txt", &kib3, 300);
    e.write(Side::Left, "keep/other.txt", "o", 300);
    e.sync();
    std::fs::remove_file(e.left.join("deep/er/big.txt")).unwrap();
    e.sync();
    let trashed = e.right.join(".sync_trash/deep/er/big.txt");
    assert!(trashed.is_file());
    let before = e.tree(Side::Right);
    // Dry run: the list and the bytes, nothing deleted.
    e.cmd(&["trash", "purge", "--older-than", "0", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("deep/er/big.txt"))
        .stdout(contains("3 KiB"))
        .stdout(contains("nothing was deleted"));
    assert_eq!(e.tree(Side::Right), before);
    // No terminal, no -y: refused, nothing deleted.
    e.cmd(&["trash", "purge", "--older-than", "0"])
        .assert()
        .code(1)
        .stderr(contains("-y"));
    assert_eq!(e.tree(Side::Right), before);
    // Within the retention period nothing is due.
    e.cmd(&["trash", "purge", "-y"])
        .assert()
        .success()
        .stdout(contains("Nothing to purge"));
    assert_eq!(e.tree(Side::Right), before);
    e.cmd(&["trash", "purge", "--older-than", "0", "-y"])
        .assert()
        .success()
        .stdout(contains(
            "Purged 1 entry, freed 3 KiB; removed 2 folders left empty",
        ));
    let after = e.tree(Side::Right);
    assert!(!after.contains_key(".sync_trash/deep/"), "{after:?}");
    assert!(
        after.contains_key(".sync_trash/"),
        "the trash folder itself stays"
    );
    assert!(after.contains_key("keep/other.txt"));
    assert!(stdout(&mut e.cmd(&["trash", "list"])).contains("The trash is empty"));
}

#[test]
fn people_read_local_times_with_offset_binary_sizes_and_human_durations() {
    let e = Env::init("");
    e.write(Side::Left, "a.bin", &"z".repeat(1536), 300);
    e.write(Side::Left, "gone.txt", "g", 300);
    e.sync();
    std::fs::remove_file(e.left.join("gone.txt")).unwrap();
    e.sync();
    // TZ picks the zone on Unix; Windows keeps its own (then the offset is
    // whatever the machine's is, in the same shape).
    let kolkata = |args: &[&str]| stdout(e.cmd(args).env("TZ", "Asia/Kolkata"));
    let status = kolkata(&["status"]);
    let list = kolkata(&["trash", "list"]);
    e.write(Side::Left, "b.txt", "b", 300);
    let plan = kolkata(&["plan"]);
    // The watch console's line for the cycle that copies it.
    let console = kolkata(&["watch", "--cycles", "1"]);
    assert!(
        console
            .lines()
            .any(|l| l.contains("→ right") && l.contains("b.txt")),
        "{console}"
    );
    for (what, text) in [
        ("status", &status),
        ("trash list", &list),
        ("plan", &plan),
        ("watch", &console),
    ] {
        assert!(has_human_time(text), "{what}: {text}");
        if cfg!(unix) {
            assert!(
                text.contains("+05:30") && !text.contains("+00:00"),
                "{what}: {text}"
            );
        }
        // No RFC 3339 (`2026-12-07T02:33:10.101+00:00`) for people: no
        // `-DDTHH:` anywhere (a temp folder's random name may hold `2T`).
        let c: Vec<char> = text.chars().collect();
        let rfc3339 = c.windows(7).any(|w| {
            w[0] == '-'
                && w[1].is_ascii_digit()
                && w[2].is_ascii_digit()
                && w[3] == 'T'
                && w[4].is_ascii_digit()
                && w[5].is_ascii_digit()
                && w[6] == ':'
        });
        assert!(!rfc3339, "{what}: {text}");
    }
    let first = plan.lines().next().unwrap();
    assert!(
        first.starts_with("Plan ") && has_human_time(first),
        "{first}"
    );
    if cfg!(unix) {
        assert!(first.ends_with("+05:30)"), "{first}");
    }
    // The 1.5 KiB copy in the cycle table, and its duration in ms or s.
    assert!(status.contains("1.50 KiB"), "{status}");
    assert!(
        !status.contains(" kB") && !status.contains(" MB"),
        "{status}"
    );
    // JSON keeps RFC 3339.
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&mut e.cmd(&["status", "--json"]))).unwrap();
    let at = json["last_cycles"][0]["started_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
}

/// True if `text` holds a time as people read it: `2026-12-07 03:33:10 +05:30`.
fn has_human_time(text: &str) -> bool {
    let shape = "dddd-dd-dd dd:dd:dd sdd:dd";
    let b: Vec<char> = text.chars().collect();
    b.windows(shape.len()).any(|w| {
        w.iter().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            's' => *c == '+' || *c == '-',
            _ => *c == s,
        })
    })
}
