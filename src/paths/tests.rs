//! Unit tests of the parent module.

use super::*;

#[test]
fn spans_read_back_their_text_and_shift_with_it() {
    let mut names = String::new();
    let a = Span::push(&mut names, "dir/caf\u{e9}.txt");
    let b = Span::push(&mut names, "x");
    assert_eq!(a.text(&names), "dir/caf\u{e9}.txt");
    assert_eq!(b.text(&names), "x");
    let moved = format!("prefix{names}");
    assert_eq!(b.shifted(6).text(&moved), "x");
    // A span that does not lie in the string reads as empty, never panics.
    assert_eq!(Span::new(3, 100).text(&names), "");
    assert_eq!(Span::new(8, 1).text(&names), "", "not on a char boundary");
    assert_eq!(Span::new(usize::MAX, usize::MAX).text(&names), "");
}

#[test]
fn ancestors_come_deepest_first() {
    assert_eq!(
        ancestors_or_self("a/b/c").collect::<Vec<_>>(),
        ["a/b/c", "a/b", "a"]
    );
    assert_eq!(ancestors_or_self("a").collect::<Vec<_>>(), ["a"]);
    assert_eq!(ancestors_or_self("").count(), 0);
}

#[test]
fn temp_names_round_trip() {
    let id = "0f3a9c2e-1111-2222-3333-444455556666";
    let c = temp_name("a/b", id, 7, TempUse::Copy);
    assert_eq!(c, "a/b/.~twinsync-0f3a9c-7.tmp");
    assert_eq!(
        temp_name("", id, 36 * 36 + 35, TempUse::Copy),
        ".~twinsync-0f3a9c-10z.tmp",
        "steps in base 36"
    );
    assert!(is_internal_name(file_name(&c)));
    assert_eq!(
        parse_temp_name(file_name(&c)),
        Some(("0f3a9c", TempUse::Copy))
    );
    let r = temp_name("", id, 12, TempUse::CaseRename);
    assert_eq!(parse_temp_name(&r), Some(("0f3a9c", TempUse::CaseRename)));
    assert!(is_internal_name(&r));
    assert_eq!(parse_temp_name(".~twinsync-x.tmp"), None);
    assert_eq!(parse_temp_name(".~twinsync-ab-1-2.tmp"), None);
    assert_eq!(
        parse_temp_name(".~twinsync-ab-1-case.tmp").map(|p| p.1),
        Some(TempUse::CaseRename)
    );
    // An older build's names (eight-character owner, decimal step) still read, and own.
    let old = ".~twinsync-0f3a9c2e-12.tmp";
    assert!(is_internal_name(old));
    assert_eq!(parse_temp_name(old), Some(("0f3a9c2e", TempUse::Copy)));
    assert!(temp_owned_by("0f3a9c2e", id));
    assert!(temp_owned_by("0f3a9c", id));
    assert!(temp_owned_by("0f3", id));
    assert!(!temp_owned_by("0f3a9c2f", id));
    assert!(!temp_owned_by("", id));
}

/// The temp path of a copy is never longer than the final path once
/// the drive refused the regular one (issue 18, item 6).
#[test]
fn temp_names_near_the_limit_are_no_longer_than_their_target() {
    let id = "0f3a9c2e-1111-2222-3333-444455556666";
    // A name long enough: the short form stays in the target's folder.
    let dest = format!("deep/folder/{}.docx", "n".repeat(20));
    let t = temp_name_near_limit(&dest, id, 5);
    assert_eq!(t, "deep/folder/.~twinsync-0f3a5.tmp");
    assert!(t.len() <= dest.len());
    assert_eq!(
        parse_temp_name(file_name(&t)),
        Some(("0f3a", TempUse::Copy))
    );
    assert!(temp_owned_by("0f3a", id));
    // A short name: the nearest folder above where it is no longer.
    let t = temp_name_near_limit("deep/folder/abcdefghijklmnop/a.txt", id, 5);
    assert_eq!(t, "deep/folder/.~twinsync-0f3a5.tmp");
    let t = temp_name_near_limit("abcdefgh/a.txt", id, 5);
    assert_eq!(t, ".~twinsync-0f3a5.tmp", "at worst the root");
    // Non-ASCII names count in characters, so bytes and UTF-16 units fit too.
    for dest in [
        format!("{}/{}.txt", "é".repeat(30), "ü".repeat(12)),
        format!("{}/{}", "日本".repeat(40), "😀".repeat(9)),
        format!("a/b/c/{}", "x".repeat(255)),
    ] {
        for step in [0, 7, 40_000] {
            let t = temp_name_near_limit(&dest, id, step);
            assert!(t.chars().count() <= dest.chars().count(), "{t} vs {dest}");
            assert!(t.len() <= dest.len(), "{t} vs {dest}");
            assert!(t.encode_utf16().count() <= dest.encode_utf16().count());
            assert!(is_within(&dest, parent(&t)), "{t} lies on {dest}'s path");
            assert!(parse_temp_name(file_name(&t)).is_some());
        }
    }
    let [regular, short] = copy_temps("x/report.docx", id, 3);
    assert_eq!(regular, "x/.~twinsync-0f3a9c-3.tmp");
    assert_eq!(short, ".~twinsync-0f3a3.tmp");
}

#[test]
fn clash_names_follow_the_spec() {
    assert_eq!(
        clash_name("report.docx", " - clash", 1),
        "report - clash.docx"
    );
    assert_eq!(
        clash_name("a/b/report.docx", " - clash", 2),
        "a/b/report - clash 2.docx"
    );
    assert_eq!(clash_name("notes", " - clash", 1), "notes - clash");
    assert_eq!(clash_name(".bashrc", " - clash", 1), ".bashrc - clash");
    assert_eq!(clash_name("x.tar.gz", " - clash", 3), "x.tar - clash 3.gz");
    let long = format!("{}.docx", "é".repeat(125));
    let c = clash_name(&long, " - clash", 2);
    assert!(c.len() <= 255 && c.ends_with(" - clash 2.docx"), "{c}");
}

#[test]
fn deleted_tag_goes_before_extension() {
    assert_eq!(
        with_deleted_tag("a/report.docx", "2026-11-26 101500"),
        "a/report (deleted 2026-11-26 101500).docx"
    );
}

#[test]
fn validation_rejects_escapes_and_windows_names() {
    for bad in [
        "",
        "/etc/passwd",
        "\\\\server\\share",
        "C:/x",
        "c:x",
        "a/../b",
        "./a",
        "a//b",
        "CON",
        "dir/aux.txt",
        "lpt1",
        "a/b.",
        "a/b ",
        "a<b",
        "a|b",
        "a?b",
        "a*b",
        "a\"b",
        "a\\b",
        "a\u{1}b",
    ] {
        assert!(validate(bad).is_err(), "{bad:?} should be rejected");
    }
    for good in [
        "a",
        "a/b.txt",
        "Report - clash.docx",
        "con2.txt",
        "café/ü.txt",
        ".hidden",
    ] {
        assert!(validate(good).is_ok(), "{good:?} should pass");
    }
}

#[test]
fn within_and_keys() {
    assert!(is_within("a/b", "a"));
    assert!(!is_within("ab", "a"));
    assert!(is_within("a", ""));
    assert_eq!(key_of("A/B.txt", false), "a/b.txt");
    assert_eq!(key_of("A/B.txt", true), "A/B.txt");
    assert_eq!(fold("ÄB"), "Äb");
    assert_eq!(fold("äb"), "Äb");
    assert!(is_internal_name(".~twinsync-12.tmp"));
    assert!(is_internal_name(MARKER_NAME));
    assert!(!is_internal_name("a.tmp"));
}

#[test]
fn every_windows_device_name_is_reserved() {
    let mut devices = vec![
        "CON".to_owned(),
        "PRN".into(),
        "AUX".into(),
        "NUL".into(),
        "CONIN$".into(),
        "CONOUT$".into(),
    ];
    for n in 0..=9 {
        devices.push(format!("COM{n}"));
        devices.push(format!("LPT{n}"));
    }
    for sup in ['¹', '²', '³'] {
        devices.push(format!("COM{sup}"));
        devices.push(format!("LPT{sup}"));
    }
    assert_eq!(devices.len(), 32);
    for dev in &devices {
        let lower = dev.to_ascii_lowercase();
        let mixed: String = dev
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 1 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect();
        for name in [dev.clone(), lower, mixed] {
            for bad in [
                name.clone(),
                format!("{name}.txt"),
                format!("{name}.tar.gz"),
                format!("{name} .log"),
                format!("dir/{name}.x"),
            ] {
                assert!(validate(&bad).is_err(), "{bad:?} should be rejected");
            }
        }
    }
    for good in [
        "CONSOLE.txt",
        "COM10",
        "lpt10.txt",
        "LPT",
        "com",
        "auxiliary",
        "nul1",
        "CONIN",
        "conout$x",
        "COM⁴",
        "LPT¹0",
        "x.con",
        "my con.txt",
    ] {
        assert!(validate(good).is_ok(), "{good:?} should pass");
    }
}

#[test]
fn fold_is_simple_uppercase_like_ntfs() {
    // ASCII keys stay lower case.
    assert_eq!(fold("Read Me.TXT"), "read me.txt");
    assert_eq!(fold("read me.txt"), "read me.txt");
    // Final sigma: one upper case, so one identity.
    assert_eq!(fold("σ"), fold("ς"));
    assert_eq!(fold("ΟΔΟΣ"), fold("οδος"));
    assert_eq!(fold("ΟΔΟΣ"), fold("οδοσ"));
    // The Kelvin sign is its own upper case: not `k`.
    assert_ne!(fold("\u{212A}"), fold("k"));
    assert_ne!(fold("\u{212A}"), fold("K"));
    // Dotted capital I is its own upper case; dotless i upper-cases to I.
    assert_ne!(fold("\u{130}"), fold("i"));
    assert_ne!(fold("\u{130}"), fold("I"));
    assert_eq!(fold("\u{130}"), "\u{130}");
    assert_eq!(fold("\u{131}"), fold("i"));
    assert_eq!(fold("\u{131}"), "i");
    // ß has no simple upper case: not `ss`, nor capital ẞ.
    assert_ne!(fold("straße"), fold("strasse"));
    assert_eq!(fold("STRAßE"), fold("straße"));
    // Simple, not full, mapping for ypogegrammeni.
    assert_eq!(fold("\u{1F80}"), fold("\u{1F88}"));
    assert_eq!(fold("\u{1FB3}"), fold("\u{1FBC}"));
    assert_eq!(fold("Éte"), fold("éTE"));
}

#[test]
fn nfc_and_nfd_are_one_key() {
    let (nfc, nfd) = (
        "caf\u{e9}/\u{e9}t\u{e9}.txt",
        "cafe\u{301}/e\u{301}te\u{301}.txt",
    );
    assert_ne!(nfc, nfd);
    for cs in [true, false] {
        assert_eq!(key_of(nfc, cs), key_of(nfd, cs), "case sensitive: {cs}");
        assert!(is_within_key(nfd, &key_of("cafe\u{301}", cs), cs));
        assert!(is_within_key(nfc, &key_of("cafe\u{301}", cs), cs));
        assert!(!is_within_key("cafe/x", &key_of("caf\u{e9}", cs), cs));
    }
    assert_eq!(key_of(nfd, true), nfc);
    assert_eq!(key_of("CAFE\u{301}", false), key_of("caf\u{e9}", false));
    assert_ne!(key_of("CAFE\u{301}", true), key_of("caf\u{e9}", true));
    assert!(is_within_key(
        "Caf\u{e9}/x",
        &key_of("cafe\u{301}", false),
        false
    ));
}

#[test]
fn same_name_ignores_only_normalisation() {
    assert!(same_name("a.txt", "a.txt"));
    assert!(!same_name("a.txt", "A.txt"));
    assert!(same_name("\u{e9}.txt", "e\u{301}.txt"));
    assert!(!same_name("\u{c9}.txt", "e\u{301}.txt"));
    assert!(!same_name("\u{e9}.txt", "e.txt"));
}
