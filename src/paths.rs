//! Relative paths: identity keys, validation and clash names.
//!
//! Every path twinsync handles below a root is a *relative path*: components
//! joined by `/`, no leading or trailing separator, no `.` or `..`. The
//! *identity key* of a path is the path itself when identity is case
//! sensitive, and its lower-case form otherwise, so `Report.DOCX` and
//! `report.docx` are one file on a case-insensitive pair of roots.
//!
//! Invariant: a path that passes [`validate`] is portable: it can be created
//! on Windows (NTFS) and on Unix, and it cannot escape its root. The scanner
//! skips (and reports) names that fail it, and `apply` refuses a plan that
//! holds one, so a bad name can never reach the file system.

/// Name of the marker file at the top of each root.
pub const MARKER_NAME: &str = ".twinsync-root";
/// Prefix of the temp files `apply` writes next to their target.
pub const TEMP_PREFIX: &str = ".~twinsync-";
/// Suffix of the temp files `apply` writes next to their target.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Identity key of `path` under the chosen case rule.
#[must_use]
pub fn key_of(path: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        path.to_owned()
    } else {
        fold(path)
    }
}

/// Case folding used for identity (Unicode lower case, as NTFS compares names).
#[must_use]
pub fn fold(path: &str) -> String {
    if path.is_ascii() {
        path.to_ascii_lowercase()
    } else {
        path.to_lowercase()
    }
}

/// The parent of a relative path (`""` for a top-level name).
#[must_use]
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The last component of a relative path.
#[must_use]
pub fn file_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// Joins a parent (possibly `""`) and a name.
#[must_use]
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// True when `path` lies at or below `dir` (both relative, same case rule).
#[must_use]
pub fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

/// [`is_within`] for a path against an identity key, without allocating
/// for ASCII paths.
#[must_use]
pub fn is_within_key(path: &str, key: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        return is_within(path, key);
    }
    if path.is_ascii() && key.is_ascii() {
        let (p, k) = (path.as_bytes(), key.as_bytes());
        return k.is_empty()
            || (p.len() >= k.len()
                && p[..k.len()].eq_ignore_ascii_case(k)
                && (p.len() == k.len() || p[k.len()] == b'/'));
    }
    is_within(&fold(path), key)
}

/// True for the names twinsync itself writes inside a root and never syncs:
/// the marker and apply's temp files.
#[must_use]
pub fn is_internal_name(name: &str) -> bool {
    name == MARKER_NAME || (name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX))
}

const RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Checks one path component for portability; returns why it is not.
///
/// # Errors
/// A human sentence naming the problem.
pub fn validate_component(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty path component".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not allowed in a path"));
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\' | '/') || (*c as u32) < 32
    }) {
        return Err(format!(
            "name `{name}` holds the character {c:?}, invalid on Windows"
        ));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(format!(
            "name `{name}` ends with a dot or space, invalid on Windows"
        ));
    }
    let base = name.split('.').next().unwrap_or(name).trim_end();
    if RESERVED.contains(&base.to_ascii_lowercase().as_str()) {
        return Err(format!("name `{name}` is reserved on Windows"));
    }
    Ok(())
}

/// Validates a relative path taken from a plan file or a command line.
///
/// # Errors
/// A human sentence naming the problem: absolute, drive or UNC prefix, `..`,
/// reserved or invalid names.
pub fn validate(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(format!(
            "`{path}` is absolute (or a UNC path); plan paths are relative"
        ));
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(format!(
            "`{path}` has a drive prefix; plan paths are relative"
        ));
    }
    for comp in path.split('/') {
        validate_component(comp).map_err(|e| format!("`{path}`: {e}"))?;
    }
    Ok(())
}

/// Clash name number `n` (1 = the plain suffix) for `path`:
/// `a/report.docx` → `a/report - clash.docx`, then `a/report - clash 2.docx`.
#[must_use]
pub fn clash_name(path: &str, suffix: &str, n: u32) -> String {
    let dir = parent(path);
    let name = file_name(path);
    // A leading dot is part of the stem (".bashrc" has no extension).
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let tag = if n <= 1 {
        suffix.to_owned()
    } else {
        format!("{suffix} {n}")
    };
    // File names are at most 255 bytes (NTFS counts UTF-16 units, ext4
    // bytes): shorten the stem, never the tag or the extension.
    let room = 255usize.saturating_sub(tag.len() + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    join(dir, &format!("{}{tag}{ext}", &stem[..cut]))
}

/// Name with a ` (deleted YYYY-MM-DD HHMMSS)` tag before the extension,
/// used when a trash path is taken.
#[must_use]
pub fn with_deleted_tag(path: &str, stamp: &str) -> String {
    clash_name(path, &format!(" (deleted {stamp})"), 1)
}

/// What a twinsync temp name is for; see [`temp_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempUse {
    /// A copy being written (`.~twinsync-<plan>-<step>.tmp`): removable once
    /// its plan is no longer running, it only ever holds a partial copy.
    Copy,
    /// An item parked during a case-only rename
    /// (`.~twinsync-<plan>-<step>-case.tmp`): a user's file or folder, never
    /// removed, always put back.
    CaseRename,
}

/// The owner tag of a plan in temp names: the first 8 alphanumerics of its id.
#[must_use]
pub fn temp_owner(plan_id: &str) -> String {
    plan_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect()
}

/// The one place temp names are made: in `dir`, for step `step` of plan `plan_id`.
#[must_use]
pub fn temp_name(dir: &str, plan_id: &str, step: u64, use_: TempUse) -> String {
    let tag = match use_ {
        TempUse::Copy => "",
        TempUse::CaseRename => "-case",
    };
    join(
        dir,
        &format!(
            "{TEMP_PREFIX}{}-{step}{tag}{TEMP_SUFFIX}",
            temp_owner(plan_id)
        ),
    )
}

/// Reads a temp name back: its owner tag and use, or `None` when the name
/// is internal but not one this build makes (handled as "unknown").
#[must_use]
pub fn parse_temp_name(name: &str) -> Option<(&str, TempUse)> {
    let body = name.strip_prefix(TEMP_PREFIX)?.strip_suffix(TEMP_SUFFIX)?;
    let (body, use_) = match body.strip_suffix("-case") {
        Some(b) => (b, TempUse::CaseRename),
        None => (body, TempUse::Copy),
    };
    let (owner, step) = body.split_once('-')?;
    let ok = !owner.is_empty()
        && owner.chars().all(|c| c.is_ascii_alphanumeric())
        && !step.is_empty()
        && step.chars().all(|c| c.is_ascii_digit());
    ok.then_some((owner, use_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_round_trip() {
        let id = "0f3a9c2e-1111-2222-3333-444455556666";
        let c = temp_name("a/b", id, 7, TempUse::Copy);
        assert_eq!(c, "a/b/.~twinsync-0f3a9c2e-7.tmp");
        assert!(is_internal_name(file_name(&c)));
        assert_eq!(
            parse_temp_name(file_name(&c)),
            Some(("0f3a9c2e", TempUse::Copy))
        );
        let r = temp_name("", id, 12, TempUse::CaseRename);
        assert_eq!(parse_temp_name(&r), Some(("0f3a9c2e", TempUse::CaseRename)));
        assert!(is_internal_name(&r));
        assert_eq!(parse_temp_name(".~twinsync-x.tmp"), None);
        assert_eq!(parse_temp_name(".~twinsync-ab-1-2.tmp"), None);
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
        assert_eq!(fold("ÄB"), "äb");
        assert!(is_internal_name(".~twinsync-12.tmp"));
        assert!(is_internal_name(MARKER_NAME));
        assert!(!is_internal_name("a.tmp"));
    }
}
