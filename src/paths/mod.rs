//! Relative paths: identity keys, validation, clash names and temp names
//! (the rules for temp names at a drive's length limit are written next to
//! [`temp_name`]).
//!
//! Every path twinsync handles below a root is a *relative path*: components
//! joined by `/`, no leading or trailing separator, no `.` or `..`. The
//! *identity key* of a path (SPEC §4) is its Unicode NFC form, so names that
//! differ only in normalisation (NFC / NFD) are always one identity; when
//! identity is case insensitive the key is also case folded as NTFS compares
//! names (simple uppercase mapping, see [`fold`]), so `Report.DOCX` and
//! `report.docx` are one file. Keys are for comparing only: each side keeps
//! its own bytes, and [`same_name`] tells a real rename from a spelling that
//! differs only in normalisation.
//!
//! Invariant: a path that passes [`validate`] is portable: it can be created
//! on Windows (NTFS) and on Unix, and it cannot escape its root (SPEC §13:
//! no reserved device names, no trailing dot or space, no `<>:"/\|?*` or
//! control characters). The scanner skips (and reports) names that fail it,
//! and `apply` refuses a plan that holds one, so a bad name can never reach
//! the file system.

use std::borrow::Cow;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc, is_nfc_quick};

/// Name of the marker file at the top of each root.
pub const MARKER_NAME: &str = ".twinsync-root";
/// Prefix of the temp files `apply` writes next to their target.
pub const TEMP_PREFIX: &str = ".~twinsync-";
/// Suffix of the temp files `apply` writes next to their target.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Identity key of `path` under the chosen case rule: its NFC form, case
/// folded with [`fold`] when identity is case insensitive. ASCII paths skip
/// normalisation (they are always NFC).
#[must_use]
pub fn key_of(path: &str, case_sensitive: bool) -> String {
    if path.is_ascii() {
        return if case_sensitive {
            path.to_owned()
        } else {
            path.to_ascii_lowercase()
        };
    }
    let nfc = nfc(path);
    if case_sensitive {
        nfc.into_owned()
    } else {
        fold_chars(&nfc)
    }
}

/// `s` in NFC, borrowed when it already is (checked before allocating).
fn nfc(s: &str) -> Cow<'_, str> {
    let already = match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => is_nfc(s),
    };
    if already {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// True when two names (or paths) are the same spelling: byte-equal, or
/// equal once both are in NFC. Case still counts: `a` and `A` differ.
#[must_use]
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || (!(a.is_ascii() && b.is_ascii()) && a.nfc().eq(b.nfc()))
}

/// Case folding used for identity, as NTFS compares names: two names fold
/// equal exactly when their simple uppercase forms are equal. Each char maps
/// to its simple uppercase, then to ASCII lower case when that is ASCII, so
/// ASCII keys stay lower case (`k` and the Kelvin sign differ, `σ` and `ς`
/// are equal, `ß` and `ss` differ). Full lower-casing (`to_lowercase`) does
/// not match NTFS. It does not normalise: see [`key_of`].
#[must_use]
pub fn fold(path: &str) -> String {
    if path.is_ascii() {
        path.to_ascii_lowercase()
    } else {
        fold_chars(path)
    }
}

fn fold_chars(s: &str) -> String {
    s.chars()
        .map(|c| {
            let u = simple_upper(c);
            if u.is_ascii() {
                u.to_ascii_lowercase()
            } else {
                u
            }
        })
        .collect()
}

/// The simple (one-to-one) uppercase mapping of `c`. `char::to_uppercase`
/// gives the full mapping; where that is one char it is the simple one.
/// Where it is several chars the simple mapping is the char itself, except
/// for the Greek letters with ypogegrammeni, whose simple uppercase is the
/// matching letter with prosgegrammeni (U+1F80 → U+1F88, U+1FB3 → U+1FBC).
fn simple_upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => match c {
            '\u{1F80}'..='\u{1F87}' | '\u{1F90}'..='\u{1F97}' | '\u{1FA0}'..='\u{1FA7}' => {
                char::from_u32(u32::from(c) + 8).unwrap_or(c)
            }
            '\u{1FB3}' | '\u{1FC3}' | '\u{1FF3}' => char::from_u32(u32::from(c) + 9).unwrap_or(c),
            _ => c,
        },
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
        let mut s = String::with_capacity(parent.len() + 1 + name.len());
        s.push_str(parent);
        s.push('/');
        s.push_str(name);
        s
    }
}

/// Where one path's text lies in a string holding many paths back to back
/// (a walk's finds, a scan's keys): offset in the low 40 bits, length in the
/// high 24. Eight bytes instead of a `String`'s 24 plus a heap block per
/// path. A relative path is far below 16 MiB and such a string far below
/// 1 TiB; beyond either, the span saturates (and reads as a wrong path
/// rather than panicking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(u64);

impl Span {
    const LEN_SHIFT: u32 = 40;

    /// Appends `text` to `names` and returns where it lies.
    pub fn push(names: &mut String, text: &str) -> Self {
        let at = names.len();
        names.push_str(text);
        Self::new(at, text.len())
    }

    /// The span of `len` bytes from `at`.
    #[must_use]
    pub fn new(at: usize, len: usize) -> Self {
        let at = (at as u64).min((1 << Self::LEN_SHIFT) - 1);
        let len = (len as u64).min((1 << (64 - Self::LEN_SHIFT)) - 1);
        Self(at | (len << Self::LEN_SHIFT))
    }

    /// The byte range in the string.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // both fit: see `new`
    pub fn range(self) -> std::ops::Range<usize> {
        let at = (self.0 & ((1 << Self::LEN_SHIFT) - 1)) as usize;
        at..at + (self.0 >> Self::LEN_SHIFT) as usize
    }

    /// The same span in a string that `by` bytes were put in front of.
    #[must_use]
    pub fn shifted(self, by: usize) -> Self {
        let r = self.range();
        Self::new(r.start + by, r.len())
    }

    /// Its text in `names` (empty if it does not lie in `names`).
    #[must_use]
    pub fn text(self, names: &str) -> &str {
        names.get(self.range()).unwrap_or_default()
    }
}

/// `path` and each folder above it, deepest first (`a/b/c`, `a/b`, `a`).
pub fn ancestors_or_self(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| {
        let up = parent(p);
        (!up.is_empty()).then_some(up)
    })
    .filter(|p| !p.is_empty())
}

/// True when `path` lies at or below `dir` (both relative, same case rule).
#[must_use]
pub fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

/// [`is_within`] for a path against an identity key (as [`key_of`] makes
/// it), without allocating for ASCII paths.
#[must_use]
pub fn is_within_key(path: &str, key: &str, case_sensitive: bool) -> bool {
    if path.is_ascii() && key.is_ascii() {
        if case_sensitive {
            return is_within(path, key);
        }
        let (p, k) = (path.as_bytes(), key.as_bytes());
        return k.is_empty()
            || (p.len() >= k.len()
                && p[..k.len()].eq_ignore_ascii_case(k)
                && (p.len() == k.len() || p[k.len()] == b'/'));
    }
    is_within(&key_of(path, case_sensitive), key)
}

/// True for the names twinsync itself writes inside a root and never syncs:
/// the marker and apply's temp files.
#[must_use]
pub fn is_internal_name(name: &str) -> bool {
    name == MARKER_NAME || (name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX))
}

/// Windows device names (SPEC §13), lower case: reserved alone and with any
/// extension (`con.txt`, `CONIN$.log`, `com¹.x`).
const RESERVED: [&str; 32] = [
    "con", "prn", "aux", "nul", "conin$", "conout$", "com0", "com1", "com2", "com3", "com4",
    "com5", "com6", "com7", "com8", "com9", "com¹", "com²", "com³", "lpt0", "lpt1", "lpt2", "lpt3",
    "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9", "lpt¹", "lpt²", "lpt³",
];

/// True for a Windows device name, with or without extension, in any case.
fn is_reserved(name: &str) -> bool {
    // Windows ignores everything from the first dot, and spaces before it.
    let base = name.split('.').next().unwrap_or(name).trim_end();
    // Longest device name: `conout$` (7 bytes); `com¹` is 5.
    base.len() <= 7 && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(base))
}

/// Why a name or a relative path is not portable (SPEC §13). The messages
/// are the sentences users see in scan reports, config and plan errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path component")]
    EmptyComponent,
    #[error("`{0}` is not allowed in a path")]
    Dots(String),
    /// `shown` is the character in words (not Rust's `'\u{1}'`).
    #[error("name `{name}` holds the {shown}, invalid on Windows")]
    BadChar { name: String, shown: String },
    #[error("name `{0}` ends with a dot or space, invalid on Windows")]
    TrailingDotOrSpace(String),
    #[error("name `{0}` is reserved on Windows")]
    Reserved(String),
    #[error("empty path")]
    EmptyPath,
    #[error("`{0}` is absolute (or a UNC path); plan paths are relative")]
    Absolute(String),
    #[error("`{0}` has a drive prefix; plan paths are relative")]
    DrivePrefix(String),
    /// A bad component of `path`.
    #[error("`{path}`: {why}")]
    Component { path: String, why: Box<PathError> },
}

/// Checks one path component for portability; returns why it is not.
///
/// # Errors
/// The [`PathError`] naming the problem.
pub fn validate_component(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::EmptyComponent);
    }
    if name == "." || name == ".." {
        return Err(PathError::Dots(name.to_owned()));
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\' | '/') || (*c as u32) < 32
    }) {
        // In words, not Rust's `'\u{1}'`.
        let shown = if (c as u32) < 32 {
            format!("control character U+{:04X}", c as u32)
        } else {
            format!("character `{c}`")
        };
        return Err(PathError::BadChar {
            name: name.to_owned(),
            shown,
        });
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(PathError::TrailingDotOrSpace(name.to_owned()));
    }
    if is_reserved(name) {
        return Err(PathError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Validates a relative path taken from a plan file or a command line.
///
/// # Errors
/// The [`PathError`] naming the problem: absolute, drive or UNC prefix, `..`,
/// reserved or invalid names.
pub fn validate(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::EmptyPath);
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(PathError::Absolute(path.to_owned()));
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(PathError::DrivePrefix(path.to_owned()));
    }
    for comp in path.split('/') {
        validate_component(comp).map_err(|why| PathError::Component {
            path: path.to_owned(),
            why: Box::new(why),
        })?;
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
    /// A copy being written (`.~twinsync-<owner>-<step>.tmp`): removable
    /// once its plan is no longer running, it only ever holds a partial copy.
    Copy,
    /// An item parked during a case-only rename
    /// (`.~twinsync-<owner>-<step>-case.tmp`): a user's file or folder, never
    /// removed, always put back.
    CaseRename,
}

/// Length of the owner tag in the regular temp name (see [`temp_name`]).
const OWNER_LEN: usize = 6;
/// Length of the owner tag in the short temp name (see [`temp_name_near_limit`]).
const SHORT_OWNER_LEN: usize = 4;

/// The owner tag of a plan in temp names: the first alphanumerics of its
/// id (six; a temp name of an older build has eight, a short one four,
/// see [`temp_owned_by`]).
#[must_use]
pub fn temp_owner(plan_id: &str) -> String {
    plan_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(OWNER_LEN)
        .collect()
}

/// True when `owner`, read from a temp name by [`parse_temp_name`], is the
/// tag of plan `plan_id`: the beginning of its id's alphanumerics. Holds for
/// every form: the regular one, the short one and an older build's
/// eight-character tag.
#[must_use]
pub fn temp_owned_by(owner: &str, plan_id: &str) -> bool {
    !owner.is_empty()
        && plan_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(owner.len())
            .eq(owner.chars())
}

/// `n` in base 36 (digits, then lower-case letters): a step number in a
/// temp name in as few characters as it takes.
fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[usize::try_from(n % 36).unwrap_or(0)]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

// Temp names and the length limits of drives (issue 18, item 6).
//
// A copy is written to a temp file and renamed over its target (SPEC §8),
// so the temp path must fit wherever the target path fits. Two limits
// apply on real drives:
// - a name (path component) limit: 255 bytes on ext4 and most Unix file
//   systems, 255 UTF-16 units on NTFS, exFAT and SMB. Every temp name
//   is ASCII and at most 30 characters, so it is never the component
//   that is too long: nothing to learn here.
// - a whole-path limit: 260 characters on a drive that keeps the old
//   Windows `MAX_PATH` (many cloud-drive clients, WebDAV and older SMB
//   servers; NTFS itself and Rust's `\\?\` paths allow 32,767), 4,096
//   bytes on Linux. Which one a mapped drive has cannot be asked, and it
//   counts the absolute path, whose root part only the drive knows: so
//   this limit is learned from the drive's own refusal (`PathTooLong` on
//   creating the temp file, or `NotFound`, which is how Windows reports a
//   path over `MAX_PATH`; the temp's folder exists at that point) and
//   never guessed.
//
// Hence two forms, both starting `.~twinsync-` and ending `.tmp` (what the
// scanner, the sweep and the exclude rules recognise, [`is_internal_name`]):
// 1. [`temp_name`]: `.~twinsync-<owner 6>-<step base 36>.tmp` (23–25
//    characters) in the target's folder; used first, always.
// 2. [`temp_name_near_limit`]: when the drive refused the first for its
//    length, `.~twinsync-<owner 4><step base 36>.tmp` (20–22 characters)
//    in the deepest folder of the target's own path where the temp path
//    is no longer (in characters) than the target path: the target's
//    folder itself when the target's name is at least that long, else a
//    folder above it, at worst the root. A path no longer in characters,
//    whose extra part is ASCII, is no longer in bytes or UTF-16 units
//    either, and its components are the target's own or the short ASCII
//    name: so it fits wherever the target fits, whatever the limit. The
//    rename into place stays on the same drive (atomic). A temp above
//    the target's folder takes that folder's permissions with it on a
//    drive that keeps per-file ACLs on a move (NTFS): it is used only on
//    a drive that refused the target folder's temp for its length, which
//    NTFS with long paths never does.
// A file at the top of the root whose name is shorter than a temp name is
// the one case left: its path is then under 21 characters, far from any
// drive's limit.
// Both are found again by a resumed step ([`copy_temps`] order), and both
// carry an owner tag, so [`parse_temp_name`] and the sweep treat them (and
// an older build's `.~twinsync-<owner 8>-<step decimal>.tmp`) alike.

/// The one place temp names are made: in `dir`, for step `step` of plan
/// `plan_id` (form 1 in the rules above).
#[must_use]
pub fn temp_name(dir: &str, plan_id: &str, step: u64, use_: TempUse) -> String {
    let tag = match use_ {
        TempUse::Copy => "",
        TempUse::CaseRename => "-case",
    };
    join(
        dir,
        &format!(
            "{TEMP_PREFIX}{}-{}{tag}{TEMP_SUFFIX}",
            temp_owner(plan_id),
            base36(step)
        ),
    )
}

/// The temp path of a copy to `dest` on a drive that refused
/// [`temp_name`] for its length (form 2 in the rules above): the short
/// name in the deepest folder of `dest`'s path where the temp path is no
/// longer than `dest`.
#[must_use]
pub fn temp_name_near_limit(dest: &str, plan_id: &str, step: u64) -> String {
    let owner: String = temp_owner(plan_id).chars().take(SHORT_OWNER_LEN).collect();
    let name = format!("{TEMP_PREFIX}{owner}{}{TEMP_SUFFIX}", base36(step));
    let room = dest.chars().count();
    ancestors_or_self(parent(dest))
        .map(|dir| join(dir, &name))
        .find(|p| p.chars().count() <= room)
        .unwrap_or(name)
}

/// The temp paths a copy to `dest` may use, in the order it tries them:
/// [`temp_name`] in `dest`'s folder, then [`temp_name_near_limit`].
#[must_use]
pub fn copy_temps(dest: &str, plan_id: &str, step: u64) -> [String; 2] {
    [
        temp_name(parent(dest), plan_id, step, TempUse::Copy),
        temp_name_near_limit(dest, plan_id, step),
    ]
}

/// Reads a temp name back: its owner tag and use, or `None` when the name
/// is internal but not one this build makes (handled as "unknown"). Reads
/// both forms of [`temp_name`] and [`temp_name_near_limit`], and an older
/// build's (eight-character owner, decimal step).
#[must_use]
pub fn parse_temp_name(name: &str) -> Option<(&str, TempUse)> {
    let body = name.strip_prefix(TEMP_PREFIX)?.strip_suffix(TEMP_SUFFIX)?;
    let (body, use_) = match body.strip_suffix("-case") {
        Some(b) => (b, TempUse::CaseRename),
        None => (body, TempUse::Copy),
    };
    let alnum = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    match body.split_once('-') {
        Some((owner, step)) => (alnum(owner) && alnum(step)).then_some((owner, use_)),
        // The short form: four characters of owner, then the step.
        None => (use_ == TempUse::Copy && body.len() > SHORT_OWNER_LEN && alnum(body))
            .then(|| (&body[..SHORT_OWNER_LEN], use_)),
    }
}

#[cfg(test)]
mod tests;
