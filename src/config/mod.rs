//! Loads and validates `sync_config.toml` (SPEC §3).
//!
//! Two stages, as ripgrep does with its flags: TOML text → [`RawConfig`]
//! (serde, unknown keys rejected, every error names the dotted key and the
//! file) → [`Config`] (paths resolved against the config file's folder,
//! `case_sensitive = "auto"` decided, cross-key rules checked).
//!
//! Invariant: a `Config` that loaded is safe to run with: both roots set and
//! distinct, the state DB outside both roots, every option name valid; the
//! `[conflicts]` choices are decided here, once, as [`ConflictOption`]s.
//!
//! The file is read as UTF-8; a UTF-8 byte-order mark (Notepad) is skipped.
//! The mistakes a Windows admin makes first get a hint in the error: a
//! UTF-16 file (PowerShell 5's `Out-File`), a Windows path in a
//! double-quoted string (`"C:\share"`: TOML reads `\s` as an escape), a
//! missing file (`twinsync init --example` prints a commented one).

mod raw;
pub mod rules;

pub use raw::*;

use crate::exclude::Excluder;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

/// A configuration error; always names the file and, where there is one, the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "config file `{file}` does not exist: write one with `{}` \
         (every key, commented), set left_root and right_root in it, or pass --config FILE",
        save_example(file)
    )]
    Missing { file: PathBuf },
    #[error("cannot read config file `{file}`: {source} (pass --config FILE to use another one)")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "config file `{file}` is {what}: save the file as UTF-8 (in Notepad: Save as, Encoding UTF-8)"
    )]
    Encoding { file: PathBuf, what: &'static str },
    #[error("config file `{file}` is not valid TOML: {msg}")]
    Syntax { file: PathBuf, msg: String },
    #[error("config file `{file}`: key `{key}`{}: {msg}", which_rule(key))]
    Key {
        file: PathBuf,
        key: String,
        msg: String,
    },
}

/// The `[email]` settings an alert could never be delivered with: with
/// email enabled, no recipient or sender, and a login without a username;
/// and, whenever set, an address lettre cannot parse (the alerts would
/// otherwise queue forever).
fn check_email(file: &Path, e: &raw::Email) -> Result<(), ConfigError> {
    let bad_address = |key: &str, a: &str, why: &dyn std::fmt::Display| {
        key_err(
            file,
            key,
            format!("`{a}` is not an email address ({why}); write it as name@example.com"),
        )
    };
    if let Err(why) = (!e.from_address.is_empty())
        .then(|| e.from_address.parse::<lettre::message::Mailbox>())
        .transpose()
    {
        return Err(bad_address("email.from_address", &e.from_address, &why));
    }
    for to in &e.to_addresses {
        if let Err(why) = to.parse::<lettre::message::Mailbox>() {
            return Err(bad_address("email.to_addresses", to, &why));
        }
    }
    if !e.enabled {
        return Ok(());
    }
    if e.to_addresses.is_empty() {
        return Err(key_err(
            file,
            "email.to_addresses",
            "must list at least one address when email is enabled",
        ));
    }
    if e.from_address.is_empty() {
        return Err(key_err(
            file,
            "email.from_address",
            "must be set when email is enabled",
        ));
    }
    if e.auth != Auth::None && e.username.trim().is_empty() {
        return Err(key_err(
            file,
            "email.username",
            "must be set when auth is login or plain (or set auth = \"none\")",
        ));
    }
    Ok(())
}

/// For a key inside a `[[rules]]` entry (`rules[0].dlete`), which entry
/// that is in words (" (the 1st [[rules]] entry)"): the index counts from 0.
fn which_rule(key: &str) -> String {
    key.strip_prefix("rules[")
        .and_then(|k| k.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok())
        .map(|i| {
            let n = i + 1;
            let th = match (n % 10, n % 100) {
                (1, x) if x != 11 => "st",
                (2, x) if x != 12 => "nd",
                (3, x) if x != 13 => "rd",
                _ => "th",
            };
            format!(" (the {n}{th} [[rules]] entry)")
        })
        .unwrap_or_default()
}

/// What twinsync does with a conflict whose handling the config chooses
/// (SPEC §6: rules 6.2.1, 6.2.2 and 6.2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictAction {
    /// Newer version at the path on both sides, older kept as a clash copy on both.
    Clash,
    /// Change nothing; record the conflict as unresolved and alert once.
    Leave,
    /// The newer version overwrites the older, which goes to trash.
    NewerWins,
}

/// One `[conflicts]` choice, decided when the config is loaded: what it
/// does, and the value it was written as (`option1`…, recorded in plans).
/// The same action has a different name per key: `new_file_both_different
/// = "option2"` is newer-wins, which the other two keys call `option3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictOption {
    pub action: ConflictAction,
    pub name: &'static str,
}

impl ConflictOption {
    /// `option1` of any key.
    pub const CLASH: Self = Self {
        action: ConflictAction::Clash,
        name: "option1",
    };
    /// `option2` of `same_file_changed_both` and `properties_conflict_both`.
    pub const LEAVE: Self = Self {
        action: ConflictAction::Leave,
        name: "option2",
    };
    /// `option3` of `same_file_changed_both` and `properties_conflict_both`.
    pub const NEWER_WINS: Self = Self {
        action: ConflictAction::NewerWins,
        name: "option3",
    };
    /// `option2` of `new_file_both_different`.
    pub const NEW_FILE_NEWER_WINS: Self = Self {
        action: ConflictAction::NewerWins,
        name: "option2",
    };
}

/// Written as it was configured (`"option2"`), e.g. in a plan's `config`.
impl serde::Serialize for ConflictOption {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

/// `option1 | option2 | option3`: clash copies, leave, newer wins.
fn clash_leave_or_newer<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<ConflictOption, D::Error> {
    // The spelling as written; named by arity only because serde puts the
    // type's name into its error messages ("expected enum Option3").
    #[allow(clippy::enum_variant_names)]
    #[derive(Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Option3 {
        Option1,
        Option2,
        Option3,
    }
    Ok(match Option3::deserialize(d)? {
        Option3::Option1 => ConflictOption::CLASH,
        Option3::Option2 => ConflictOption::LEAVE,
        Option3::Option3 => ConflictOption::NEWER_WINS,
    })
}

/// `option1 | option2` (for `new_file_both_different`): clash copies, newer wins.
fn clash_or_newer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ConflictOption, D::Error> {
    #[allow(clippy::enum_variant_names)]
    #[derive(Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Option2 {
        Option1,
        Option2,
    }
    Ok(match Option2::deserialize(d)? {
        Option2::Option1 => ConflictOption::CLASH,
        Option2::Option2 => ConflictOption::NEW_FILE_NEWER_WINS,
    })
}

/// A trash location for one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrashRoot {
    /// Inside the root, at this relative path (excluded from sync).
    Inside(String),
    /// Elsewhere on disk.
    Outside(PathBuf),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub left_root: PathBuf,
    pub right_root: PathBuf,
    pub state_db: PathBuf,
    pub log_file: PathBuf,
    pub case_sensitive: bool,
    pub left_trash: TrashRoot,
    pub right_trash: TrashRoot,
    /// The limits copies keep to, by time of day: `[transfer] bandwidth`,
    /// else `max_bytes_per_second` all the time (both directions).
    pub bandwidth: crate::bandwidth::Timetable,
    /// `[[rules]]`, compiled: the settings of a path are those of the first
    /// rule that matches it ([`rules::FolderRules::first`]).
    pub rules: rules::FolderRules,
    /// `[dashboard] listen`, parsed: always a loopback address.
    pub dashboard_listen: std::net::SocketAddr,
    /// Every key as written (after defaults); the paths above are the
    /// resolved forms of its path keys.
    pub raw: RawConfig,
}

/// `[dashboard] listen`: an `IP:port` on the loopback interface.
///
/// A non-loopback address is refused, not warned about: the dashboard
/// speaks plain HTTP (no TLS), so on a network its API key and session
/// cookie would travel in clear. To reach it from another machine, keep it
/// on loopback and put an SSH tunnel or a TLS reverse proxy on this
/// machine in front of it (README "Dashboard").
fn dashboard_listen(v: &str) -> Result<std::net::SocketAddr, String> {
    let v = v.trim();
    let addr: std::net::SocketAddr = if let Some(port) = v.strip_prefix("localhost:") {
        format!("127.0.0.1:{port}").parse()
    } else {
        v.parse()
    }
    .map_err(|_| format!("`{v}` is not an IP address and port such as \"127.0.0.1:8390\""))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "`{v}` is not a loopback address: the dashboard serves plain HTTP, so it listens only on 127.0.0.1 or [::1]; reach it from another machine through an SSH tunnel or a TLS reverse proxy on this machine"
        ));
    }
    Ok(addr)
}

fn key_err(file: &Path, key: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        file: file.to_path_buf(),
        key: key.to_owned(),
        msg: msg.into(),
    }
}

/// Lexically normalises a path (no file-system access): drops `.`, folds `..`.
#[must_use]
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Absolute, normalised form of `p` taken relative to `base`; symlinks in the
/// existing part are resolved so that `a` and a link to `a` compare equal.
#[must_use]
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let raw = Path::new(p);
    let abs = if raw.is_absolute() {
        raw.to_path_buf()
    } else {
        base.join(raw)
    };
    let abs = normalize(&abs);
    // Canonicalise the longest existing prefix.
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(std::ffi::OsStr::to_os_string),
            existing.parent(),
        ) {
            (Some(n), Some(par)) => {
                rest.push(n);
                existing = par.to_path_buf();
            }
            _ => return abs,
        }
    }
    let Ok(mut canon) = std::fs::canonicalize(&existing) else {
        return abs;
    };
    for n in rest.iter().rev() {
        canon.push(n);
    }
    strip_verbatim(&canon)
}

/// Drops Windows' `\\?\` prefix from canonical paths so they read as the
/// admin wrote them — only where that is safe (`dunce`): a root longer than
/// 260 characters, or one holding a reserved name, keeps it.
fn strip_verbatim(p: &Path) -> PathBuf {
    dunce::simplified(p).to_path_buf()
}

fn within(path: &Path, dir: &Path, case_sensitive: bool) -> bool {
    if case_sensitive {
        path.starts_with(dir)
    } else {
        let a = crate::paths::fold(&path.to_string_lossy());
        let b = crate::paths::fold(&dir.to_string_lossy());
        Path::new(&a).starts_with(Path::new(&b))
    }
}

/// The config file read when neither `--config` nor `TWINSYNC_CONFIG` names one.
pub const DEFAULT_CONFIG: &str = "sync_config.toml";

/// Which config file to read: `--config`, else `TWINSYNC_CONFIG`, else
/// [`DEFAULT_CONFIG`] in the working directory.
#[must_use]
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os("TWINSYNC_CONFIG") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_CONFIG),
    }
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the key.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(file).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Missing {
                    file: file.to_path_buf(),
                }
            } else {
                ConfigError::Read {
                    file: file.to_path_buf(),
                    source,
                }
            }
        })?;
        let text = decode(&bytes).map_err(|what| ConfigError::Encoding {
            file: file.to_path_buf(),
            what,
        })?;
        Self::parse(file, text)
    }

    /// Validates config text as if read from `file`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the key.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    file: file.to_path_buf(),
                    msg: syntax_msg(text, &e),
                })?;
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let msg = e.inner().to_string();
                let key = unknown_key(&path, unknown_field(&msg));
                let msg = if unknown_field(&msg).is_some() {
                    format!("unknown key ({})", msg.lines().next().unwrap_or_default())
                } else {
                    msg.lines().next().unwrap_or_default().to_owned()
                };
                key_err(file, &key, msg)
            })?;
        Self::from_raw(file, raw)
    }

    fn from_raw(file: &Path, raw: RawConfig) -> Result<Self, ConfigError> {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let dir = std::fs::canonicalize(&dir).map_or(dir, |d| strip_verbatim(&d));
        let case_sensitive = match raw.case_sensitive {
            CaseSetting::Auto => !cfg!(windows),
            CaseSetting::Fixed(b) => b,
        };
        let root = |key: &str, v: &Option<String>| -> Result<PathBuf, ConfigError> {
            match v.as_deref() {
                None => Err(key_err(file, key, "missing: set the folder to sync")),
                Some("") => Err(key_err(file, key, "is empty: set the folder to sync")),
                Some(p) if p.chars().any(char::is_control) => Err(key_err(
                    file,
                    key,
                    format!(
                        "`{}` holds a control character: in a double-quoted TOML string a backslash starts an escape (`\\t` is a tab); {SINGLE_QUOTES}",
                        p.escape_debug()
                    ),
                )),
                Some(p) => Ok(resolve(&dir, p)),
            }
        };
        let left_root = root("left_root", &raw.left_root)?;
        let right_root = root("right_root", &raw.right_root)?;
        if within(&left_root, &right_root, case_sensitive)
            || within(&right_root, &left_root, case_sensitive)
        {
            return Err(key_err(
                file,
                "right_root",
                format!(
                    "`{}` and left_root `{}` overlap; the roots must be separate folders",
                    right_root.display(),
                    left_root.display()
                ),
            ));
        }
        let state_db = resolve(&dir, &raw.state_db);
        for (name, r) in [("left_root", &left_root), ("right_root", &right_root)] {
            if within(&state_db, r, case_sensitive) {
                return Err(key_err(
                    file,
                    "state_db",
                    format!(
                        "`{}` lies inside {name} `{}`; keep the state DB outside both roots",
                        state_db.display(),
                        r.display()
                    ),
                ));
            }
        }
        let log_file = resolve(&dir, &raw.logging.log_file_path);
        let dashboard_listen = dashboard_listen(&raw.dashboard.listen)
            .map_err(|msg| key_err(file, "dashboard.listen", msg))?;
        if raw.sync_interval_seconds == 0 {
            return Err(key_err(file, "sync_interval_seconds", "must be at least 1"));
        }
        for (key, v) in [
            ("safety.max_delete_percent", raw.safety.max_delete_percent),
            ("safety.max_change_percent", raw.safety.max_change_percent),
        ] {
            if v > 100 {
                return Err(key_err(file, key, "must be between 0 and 100"));
            }
        }
        if !(1..=64).contains(&raw.transfer.parallel_copies) {
            return Err(key_err(
                file,
                "transfer.parallel_copies",
                "must be between 1 and 64",
            ));
        }
        if raw.conflicts.clash_suffix.is_empty() {
            return Err(key_err(file, "conflicts.clash_suffix", "must not be empty"));
        }
        crate::paths::validate_component(&format!("a{}", raw.conflicts.clash_suffix))
            .map_err(|e| key_err(file, "conflicts.clash_suffix", e.to_string()))?;
        Excluder::new(&raw.exclude, case_sensitive, None, None)
            .map_err(|e| key_err(file, "exclude", e.to_string()))?;
        let trash = |key: &str,
                     v: &str,
                     root: &Path,
                     other: &Path|
         -> Result<TrashRoot, ConfigError> {
            if v.is_empty() {
                return Err(key_err(file, key, "must not be empty"));
            }
            let p = Path::new(v);
            if p.is_absolute() {
                let abs = resolve(&dir, v);
                if within(&abs, other, case_sensitive) {
                    return Err(key_err(
                        file,
                        key,
                        format!(
                            "`{}` lies inside the other root `{}`: its content would be synced back",
                            abs.display(),
                            other.display()
                        ),
                    ));
                }
                if within(&abs, root, case_sensitive) {
                    let rel = abs
                        .strip_prefix(root)
                        .map_or_else(|_| PathBuf::from(v), Path::to_path_buf);
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if rel.is_empty() {
                        return Err(key_err(
                            file,
                            key,
                            "is the root itself; use a folder inside it, such as '.sync_trash'",
                        ));
                    }
                    return Ok(TrashRoot::Inside(rel));
                }
                return Ok(TrashRoot::Outside(abs));
            }
            let rel = v.replace('\\', "/");
            let rel = rel.trim_end_matches('/').to_owned();
            crate::paths::validate(&rel).map_err(|e| key_err(file, key, e.to_string()))?;
            Ok(TrashRoot::Inside(rel))
        };
        let left_trash = trash(
            "soft_delete.left_trash_root",
            &raw.soft_delete.left_trash_root,
            &left_root,
            &right_root,
        )?;
        let right_trash = trash(
            "soft_delete.right_trash_root",
            &raw.soft_delete.right_trash_root,
            &right_root,
            &left_root,
        )?;
        check_email(file, &raw.email)?;
        let bandwidth = if raw.transfer.bandwidth.trim().is_empty() {
            crate::bandwidth::Timetable::fixed(raw.transfer.max_bytes_per_second)
        } else {
            crate::bandwidth::Timetable::parse(&raw.transfer.bandwidth)
                .map_err(|e| key_err(file, "transfer.bandwidth", e.to_string()))?
        };
        let rules = rules::FolderRules::new(&raw.rules, case_sensitive)
            .map_err(|e| key_err(file, &e.key, e.msg))?;
        Ok(Self {
            file: file.to_path_buf(),
            left_root,
            right_root,
            state_db,
            log_file,
            case_sensitive,
            left_trash,
            right_trash,
            bandwidth,
            rules,
            dashboard_listen,
            raw,
        })
    }

    /// May the file at `path` be hashed? Not where its `[[rules]]` entry
    /// says `hash = false` (size and mtime decide there).
    #[must_use]
    pub fn hash_at(&self, path: &str) -> bool {
        self.rules
            .first(path, false)
            .and_then(|r| r.raw.hash)
            .unwrap_or(true)
    }

    /// Does a file version of `size` bytes at `path` go to the trash when
    /// deleted or replaced (the path's `[[rules]]` over `[soft_delete]`)?
    #[must_use]
    pub fn soft_delete_at(&self, path: &str, size: u64) -> bool {
        let global = (
            self.raw.soft_delete.enabled,
            self.raw.soft_delete.max_size_bytes,
        );
        self.rules.soft_delete_at(path, false, size, global)
    }

    /// The trash location of a side.
    #[must_use]
    pub fn trash(&self, side: crate::Side) -> &TrashRoot {
        match side {
            crate::Side::Left => &self.left_trash,
            crate::Side::Right => &self.right_trash,
        }
    }

    /// `[logging] report_path`, resolved against the config's folder;
    /// `None` when it is empty (no report from `watch`).
    #[must_use]
    pub fn report_path(&self) -> Option<PathBuf> {
        let p = self.raw.logging.report_path.trim();
        if p.is_empty() {
            return None;
        }
        let base = self.file.parent().unwrap_or_else(|| Path::new("."));
        Some(resolve(base, p))
    }

    /// The root folder of a side.
    #[must_use]
    pub fn root(&self, side: crate::Side) -> &Path {
        match side {
            crate::Side::Left => &self.left_root,
            crate::Side::Right => &self.right_root,
        }
    }

    /// What is never synced on a side: the `exclude` patterns, the trash
    /// folder when it lies inside the root, and the log file, the state DB
    /// and the activity report (`report_path`) when they do.
    ///
    /// # Errors
    /// Only for bad patterns, which loading the config already rejects.
    pub fn excluder(&self, side: crate::Side) -> Result<Excluder, crate::exclude::ExcludeError> {
        let trash = match self.trash(side) {
            TrashRoot::Inside(rel) => Some(rel.as_str()),
            TrashRoot::Outside(_) => None,
        };
        let root = self.root(side);
        let report = self.report_path();
        let extra: Vec<String> = [Some(&self.log_file), Some(&self.state_db), report.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|p| rel_inside(root, p))
            .collect();
        let ex = Excluder::new(&self.raw.exclude, self.case_sensitive, trash, Some(&extra))?;
        Ok(
            if self.rules.rules.iter().any(rules::FolderRule::excludes) {
                let r = std::sync::Arc::new(self.rules.clone());
                ex.with_rule(std::sync::Arc::new(move |p: &str, d: bool| {
                    r.excludes_self(p, d)
                }))
            } else {
                ex
            },
        )
    }
}

/// A path below `root` as a relative path, if it lies there.
fn rel_inside(root: &Path, p: &Path) -> Option<String> {
    p.strip_prefix(root)
        .ok()
        .map(|r| r.to_string_lossy().replace('\\', "/"))
        .filter(|r| !r.is_empty())
}

/// The command that saves the example config as `file`, in UTF-8: on
/// Windows for PowerShell (whose 5.x `>` would write UTF-16).
fn save_example(file: &Path) -> String {
    let name = file.display().to_string();
    let name = if name.contains(' ') {
        format!("\"{name}\"")
    } else {
        name
    };
    if cfg!(windows) {
        format!("twinsync init --example | Set-Content -Encoding UTF8 {name}")
    } else {
        format!("twinsync init --example > {name}")
    }
}

/// The hint for Windows paths in double-quoted strings.
const SINGLE_QUOTES: &str = "use single quotes for Windows paths: left_root = 'C:\\share'";

/// The config text of a file's bytes: UTF-8, with or without a byte-order
/// mark. Anything else is refused with what it looks like.
fn decode(bytes: &[u8]) -> Result<&str, &'static str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // UTF-16 (PowerShell 5 `Out-File`, Notepad's "Unicode"): a byte-order
    // mark, or ASCII text with every other byte zero.
    let utf16 = bytes.starts_with(b"\xFF\xFE")
        || bytes.starts_with(b"\xFE\xFF")
        || bytes.iter().take(64).any(|b| *b == 0);
    if utf16 {
        return Err("UTF-16 text (what PowerShell 5's Out-File and `>` write), not UTF-8");
    }
    std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text")
}

/// A TOML syntax error on one line, with a hint where the cause is a
/// Windows path in a double-quoted string.
fn syntax_msg(text: &str, e: &toml::de::Error) -> String {
    let msg = e.to_string().trim().replace('\n', " ");
    let line = e
        .span()
        .and_then(|s| {
            let start = text.get(..s.start)?.rfind('\n').map_or(0, |i| i + 1);
            text.get(start..)?.lines().next()
        })
        .unwrap_or("");
    let in_double_quotes = line
        .split_once('"')
        .is_some_and(|(_, rest)| rest.contains('\\'));
    if in_double_quotes || msg.contains("escape") {
        format!("{msg} ({SINGLE_QUOTES})")
    } else {
        msg
    }
}

/// The dotted key an error names: the path serde_path_to_error reports,
/// which for an unknown key already ends with it (`rules[1].dlete`,
/// `email.smtp_hots`; the top level reports `.` or nothing), so the key is
/// named once, never `rules[1].dlete.dlete`.
fn unknown_key(path: &str, unknown: Option<&str>) -> String {
    match unknown {
        Some(f) if path == "." || path.is_empty() => f.to_owned(),
        Some(f) if path != f && !path.ends_with(&format!(".{f}")) => format!("{path}.{f}"),
        _ => path.to_owned(),
    }
}

fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests;
