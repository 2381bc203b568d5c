//! Unit tests of the parent module.

use super::*;

/// Windows: `\\?\` is dropped only where the plain form still works; a
/// root over 260 characters keeps it (the admin's root must stay usable).
#[cfg(windows)]
#[test]
fn verbatim_prefix_kept_for_long_roots() {
    assert_eq!(
        strip_verbatim(Path::new(r"\\?\C:\share")),
        PathBuf::from(r"C:\share")
    );
    let long = format!(r"\\?\C:\{}", "a".repeat(300));
    assert_eq!(strip_verbatim(Path::new(&long)), PathBuf::from(&long));
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("c.toml");
    std::fs::write(&f, text).unwrap();
    Config::load(&f)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const ROOTS: &str = "left_root = 'l'\nright_root = 'r'\n";

#[test]
fn defaults_apply() {
    let c = parse(ROOTS).unwrap();
    assert_eq!(c.raw.sync_interval_seconds, 10);
    assert_eq!(c.raw.conflicts.clash_suffix, " - clash");
    assert_eq!(c.raw.soft_delete.max_size_bytes, 20_971_520);
    assert_eq!(c.left_trash, TrashRoot::Inside(".sync_trash".into()));
    assert!(c.left_root.ends_with("l"));
    assert!(c.state_db.ends_with("twinsync.db"));
}

/// Issue 22: `[[rules]]` are read in order; each wrong key or value is
/// an error naming the rule's index and key, and the file.
#[test]
fn folder_rules_are_read_and_their_errors_name_index_and_key() {
    let c = parse(&format!(
        "{ROOTS}[[rules]]\npath = 'Temp/**'\ndelete = 'hard'\n[[rules]]\npath = 'Marketing/Video/**'\nhash = false\nlarge_file_bytes = 1048576\n[[rules]]\npath = 'Accounts/**'\nsame_file_changed_both = 'option2'\ndirection = 'left-to-right'\n[[rules]]\npath = 'Renders/**'\nexclude = true\n"
    ))
    .unwrap();
    assert_eq!(c.rules.rules.len(), 4);
    let r = c.rules.first("Marketing/Video/a.mov", false).unwrap();
    assert_eq!((r.index, r.raw.hash), (1, Some(false)));
    let r = c.rules.first("Accounts/q3.xlsx", false).unwrap();
    assert_eq!(
        r.raw.same_file_changed_both.map(|o| o.name),
        Some("option2")
    );
    assert_eq!(r.raw.direction, Some(rules::Direction::LeftToRight));
    // The exclude rule reaches the scan's excluder.
    let ex = c.excluder(crate::Side::Left).unwrap();
    assert!(ex.is_excluded("Renders/cache/x.bin", false));
    assert!(!ex.is_excluded("Temp/x.bin", false));
    for (rule, key) in [
        ("path = 'A/**'\ndelete = 'sometimes'", "rules[0].delete"),
        ("path = 'A/**'\ndirection = 'up'", "rules[0].direction"),
        ("path = 'A/**'\nhash = 'no'", "rules[0].hash"),
        (
            "path = 'A/**'\nsame_file_changed_both = 'option9'",
            "rules[0].same_file_changed_both",
        ),
        (
            "path = 'A/**'\nnew_file_both_different = 'option3'",
            "rules[0].new_file_both_different",
        ),
        ("path = 'A/**'\ncolour = 'red'", "rules[0].colour"),
        ("delete = 'hard'", "rules[0]"),
        ("path = 'A/**'", "rules[0].path"),
        (
            "path = 'A/**'\nexclude = true\nhash = false",
            "rules[0].exclude",
        ),
    ] {
        let e = err(&format!("{ROOTS}[[rules]]\n{rule}\n"));
        assert!(e.contains(key) && e.contains("c.toml"), "{rule}: {e}");
    }
    // The index is the rule's place.
    let e = err(&format!(
        "{ROOTS}[[rules]]\npath = 'A/**'\nhash = false\n[[rules]]\npath = 'B/**'\ndelete = 'later'\n"
    ));
    assert!(e.contains("rules[1].delete"), "{e}");
    // ...counted from 0, so said in words too.
    assert!(e.contains("(the 2nd [[rules]] entry)"), "{e}");
}

/// Issue 22: the new keys are read, and a wrong value names its key.
#[test]
fn bandwidth_and_trash_cap_keys() {
    let c = parse(&format!(
        "{ROOTS}[transfer]\nbandwidth = 'Mon-Fri 08:00,2MiB:4MiB 18:00,off'\n[soft_delete]\nmax_trash_bytes = 1000\n"
    ))
    .unwrap();
    assert_eq!(c.raw.soft_delete.max_trash_bytes, 1000);
    let (limits, _) = c.bandwidth.at(9 * 60);
    assert_eq!(limits.up, Some(2 << 20));
    // max_bytes_per_second alone is the simple form.
    let c = parse(&format!("{ROOTS}[transfer]\nmax_bytes_per_second = 5000\n")).unwrap();
    assert_eq!(c.bandwidth.at(0).0.down, Some(5000));
    assert!(parse(ROOTS).unwrap().bandwidth.is_unlimited());
    let e = err(&format!(
        "{ROOTS}[transfer]\nbandwidth = 'Mon-Fri 8am,2M'\n"
    ));
    assert!(
        e.contains("transfer.bandwidth") && e.contains("8am,2M"),
        "{e}"
    );
    let e = err(&format!("{ROOTS}[transfer]\nbandwidth = '08:00'\n"));
    assert!(
        e.contains("transfer.bandwidth")
            && e.contains("entry `08:00` has no rate: write `08:00,2MiB`"),
        "{e}"
    );
    let e = err(&format!("{ROOTS}[soft_delete]\nmax_trash_bytes = 'lots'\n"));
    assert!(e.contains("max_trash_bytes"), "{e}");
}

#[test]
fn errors_name_the_key_and_file() {
    let cases = [
        (format!("{ROOTS}bogus = 1"), "`bogus`"),
        (
            format!("{ROOTS}[conflicts]\nsame_file_changed_boht = 'option1'"),
            "`conflicts.same_file_changed_boht`",
        ),
        (
            format!("{ROOTS}[conflicts]\nsame_file_changed_both = 'option9'"),
            "`conflicts.same_file_changed_both`",
        ),
        (
            format!("{ROOTS}[conflicts]\nnew_file_both_different = 'option3'"),
            "`conflicts.new_file_both_different`",
        ),
        (
            format!("{ROOTS}sync_interval_seconds = 'ten'"),
            "`sync_interval_seconds`",
        ),
        (
            format!("{ROOTS}case_sensitive = 'maybe'"),
            "`case_sensitive`",
        ),
        (
            format!("{ROOTS}[email]\nsecurity = 'ssl'"),
            "`email.security`",
        ),
        (
            format!("{ROOTS}[logging]\nlog_level = 'loud'"),
            "`logging.log_level`",
        ),
        (format!("{ROOTS}state_db = 'l/db.sqlite'"), "`state_db`"),
        (
            format!("{ROOTS}[safety]\nmax_delete_percent = 101"),
            "`safety.max_delete_percent`",
        ),
        (
            format!("{ROOTS}[transfer]\nparallel_copies = 0"),
            "`transfer.parallel_copies`",
        ),
        (
            format!("{ROOTS}[transfer]\nparallel_copies = 65"),
            "`transfer.parallel_copies`",
        ),
        ("right_root = 'r'".to_owned(), "`left_root`"),
        ("left_root = 'l'".to_owned(), "`right_root`"),
        (
            "left_root = 'x'\nright_root = 'x/y'".to_owned(),
            "`right_root`",
        ),
        (format!("{ROOTS}exclude = ['[z-a]']"), "`exclude`"),
        (
            format!("{ROOTS}[soft_delete]\nleft_trash_root = '..'"),
            "`soft_delete.left_trash_root`",
        ),
    ];
    for (text, key) in cases {
        let e = err(&text);
        assert!(e.contains(key), "{text:?} → {e}");
        assert!(e.contains("c.toml"), "{e}");
    }
}

fn load_bytes(bytes: &[u8]) -> Result<Config, ConfigError> {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("c.toml");
    std::fs::write(&f, bytes).unwrap();
    Config::load(&f)
}

#[test]
fn a_utf8_bom_is_read_fine() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(ROOTS.as_bytes());
    let c = load_bytes(&bytes).unwrap();
    assert!(c.left_root.ends_with("l"));
}

#[test]
fn utf16_says_save_as_utf8() {
    let utf16 = |bom: &[u8]| {
        let mut v = bom.to_vec();
        for u in ROOTS.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    };
    for bytes in [utf16(b"\xFF\xFE"), utf16(b"")] {
        let e = load_bytes(&bytes).unwrap_err().to_string();
        assert!(
            e.contains("UTF-16") && e.contains("save the file as UTF-8") && e.contains("c.toml"),
            "{e}"
        );
    }
    let e = load_bytes(b"left_root = '\xE9'").unwrap_err().to_string();
    assert!(
        e.contains("not UTF-8") && e.contains("save the file as UTF-8"),
        "{e}"
    );
}

#[test]
fn a_backslash_in_double_quotes_gets_the_single_quote_hint() {
    for text in [
        "left_root = \"C:\\share\"\nright_root = 'r'\n",
        "left_root = 'l'\nright_root = \"D:\\Users\\x\"\n",
    ] {
        let e = err(text);
        assert!(
            e.contains("not valid TOML")
                && e.contains("use single quotes for Windows paths: left_root = 'C:\\share'"),
            "{text} → {e}"
        );
    }
    // Other syntax errors get no such hint.
    let e = err("left_root = 'l'\nright_root = ");
    assert!(!e.contains("single quotes"), "{e}");
    // A backslash that happens to be a valid escape (`\t`, `\n`) makes a
    // root with a control character: refused with the same hint.
    let e = err("left_root = \"C:\\temp\"\nright_root = 'r'\n");
    assert!(
        e.contains("`left_root`") && e.contains("control character") && e.contains("single quotes"),
        "{e}"
    );
}

#[test]
fn a_missing_file_points_at_init_example() {
    let d = tempfile::tempdir().unwrap();
    let e = Config::load(&d.path().join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nope.toml")
            && e.contains("does not exist")
            && e.contains("twinsync init --example"),
        "{e}"
    );
}

#[test]
fn syntax_error_names_file() {
    let e = err("left_root = ");
    assert!(e.contains("c.toml") && e.contains("not valid TOML"), "{e}");
}

#[test]
fn case_setting_accepts_auto_and_bools() {
    assert!(parse(&format!("{ROOTS}case_sensitive = false")).is_ok_and(|c| !c.case_sensitive));
    assert!(parse(&format!("{ROOTS}case_sensitive = true")).is_ok_and(|c| c.case_sensitive));
    assert!(
        parse(&format!("{ROOTS}case_sensitive = 'auto'"))
            .is_ok_and(|c| c.case_sensitive != cfg!(windows))
    );
}

#[test]
fn absolute_trash_outside_root() {
    let abs = std::env::temp_dir().join("twinsync-trash");
    let c = parse(&format!(
        "{ROOTS}[soft_delete]\nleft_trash_root = '{}'",
        abs.display()
    ))
    .unwrap();
    assert!(matches!(c.left_trash, TrashRoot::Outside(_)));
}

/// A trash folder equal to its root, or inside the other root, is a config error.
#[test]
fn trash_root_equal_to_a_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let (left, right) = (dir.path().join("L"), dir.path().join("R"));
    for trash in [
        left.display().to_string(),
        right.join("t").display().to_string(),
    ] {
        let text = format!(
            "left_root = '{}'\nright_root = '{}'\nstate_db = 's.db'\n[soft_delete]\nleft_trash_root = '{trash}'\n",
            left.display(),
            right.display()
        );
        let e = Config::parse(&file, &text).unwrap_err().to_string();
        assert!(e.contains("soft_delete.left_trash_root"), "{e}");
    }
}

/// Audit item 6: a mistyped key is named once, with its file, wherever it
/// is: top level, a section, a `[[rules]]` entry (0-based index), nested.
#[test]
fn an_unknown_key_is_named_once_with_the_file() {
    for (extra, key) in [
        ("bogus = 1\n", "`bogus`"),
        ("[email]\nsmtp_hots = 'x'\n", "`email.smtp_hots`"),
        (
            "[conflicts]\nclash_sufix = 'x'\n",
            "`conflicts.clash_sufix`",
        ),
        (
            "[[rules]]\npath = 'a/**'\ndlete = 'soft'\n",
            "`rules[0].dlete`",
        ),
        (
            "[[rules]]\npath = 'a/**'\ndelete = 'soft'\n[[rules]]\npath = 'b/**'\ndlete = 'soft'\n",
            "`rules[1].dlete`",
        ),
    ] {
        let e = err(&format!("{ROOTS}{extra}"));
        assert!(e.contains(&format!("key {key}")), "{e}");
        assert!(e.contains("unknown key"), "{e}");
        assert!(e.contains("c.toml"), "the file: {e}");
        let name = key.trim_matches('`').rsplit('.').next().unwrap();
        assert!(!e.contains(&format!("{name}.{name}")), "named twice: {e}");
    }
}

/// `[email]` settings no alert could be delivered with are errors naming
/// the key and the file, not an outbox that queues forever.
#[test]
fn undeliverable_email_settings_are_errors_naming_key_and_file() {
    let mail = "[email]\nenabled = true\nsmtp_host = 'h'\nauth = 'none'\nfrom_address = 'sync@example.com'\nto_addresses = ['admin@example.com']\n";
    assert!(parse(&format!("{ROOTS}{mail}")).is_ok());
    for (text, key, what) in [
        (
            mail.replace("['admin@example.com']", "['not-an-email']"),
            "`email.to_addresses`",
            "not-an-email",
        ),
        (
            mail.replace("'sync@example.com'", "'sync at example'"),
            "`email.from_address`",
            "sync at example",
        ),
        (
            mail.replace("auth = 'none'", "auth = 'login'"),
            "`email.username`",
            "auth",
        ),
    ] {
        let e = err(&format!("{ROOTS}{text}"));
        assert!(
            e.contains(key) && e.contains(what) && e.contains("c.toml"),
            "{e}"
        );
    }
}
