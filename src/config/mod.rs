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

pub mod rules;

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
    #[error("config file `{file}`: key `{key}`: {msg}")]
    Key {
        file: PathBuf,
        key: String,
        msg: String,
    },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    Login,
    Plain,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

/// `case_sensitive`: `"auto"`, `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseSetting {
    #[default]
    Auto,
    Fixed(bool),
}

impl<'de> Deserialize<'de> for CaseSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = CaseSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#""auto", true or false"#)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<CaseSetting, E> {
                Ok(CaseSetting::Fixed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CaseSetting, E> {
                if v == "auto" {
                    Ok(CaseSetting::Auto)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Conflicts {
    #[serde(deserialize_with = "clash_leave_or_newer")]
    pub same_file_changed_both: ConflictOption,
    #[serde(deserialize_with = "clash_or_newer")]
    pub new_file_both_different: ConflictOption,
    #[serde(deserialize_with = "clash_leave_or_newer")]
    pub properties_conflict_both: ConflictOption,
    pub clash_suffix: String,
}

impl Default for Conflicts {
    fn default() -> Self {
        Self {
            same_file_changed_both: ConflictOption::CLASH,
            new_file_both_different: ConflictOption::CLASH,
            properties_conflict_both: ConflictOption::CLASH,
            clash_suffix: " - clash".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoftDelete {
    pub enabled: bool,
    pub max_size_bytes: u64,
    pub left_trash_root: String,
    pub right_trash_root: String,
    pub retention_days: u64,
    /// Per side: above this many bytes in the trash the oldest entries go
    /// first (0: no cap).
    pub max_trash_bytes: u64,
    pub auto_purge: bool,
}

impl Default for SoftDelete {
    fn default() -> Self {
        Self {
            enabled: true,
            max_size_bytes: 20 * 1024 * 1024,
            left_trash_root: ".sync_trash".into(),
            right_trash_root: ".sync_trash".into(),
            retention_days: 30,
            max_trash_bytes: 0,
            auto_purge: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Safety {
    pub max_delete_percent: u64,
    pub max_delete_min_files: u64,
    /// Mass-change guard: share of a side's files whose content changed
    /// (by size or mtime) since the last sync above which a plan is refused.
    pub max_change_percent: u64,
}

impl Default for Safety {
    fn default() -> Self {
        Self {
            max_delete_percent: 50,
            max_delete_min_files: 20,
            max_change_percent: 50,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Transfer {
    pub large_file_bytes: u64,
    pub max_bytes_per_second: u64,
    pub min_file_age_seconds: u64,
    pub hash_max_bytes: u64,
    /// Detect files and folders moved on one side (SPEC §6 "Moves and renames").
    pub detect_moves: bool,
    /// The bandwidth timetable (rclone's `--bwlimit` syntax, see
    /// [`crate::bandwidth`]); overrides `max_bytes_per_second` when set.
    pub bandwidth: String,
}

impl Default for Transfer {
    fn default() -> Self {
        Self {
            large_file_bytes: 20 * 1024 * 1024,
            max_bytes_per_second: 0,
            min_file_age_seconds: 2,
            hash_max_bytes: 256 * 1024 * 1024,
            detect_moves: true,
            bandwidth: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Email {
    pub enabled: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub security: Security,
    pub auth: Auth,
    pub username: String,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub password: Option<String>,
    pub from_address: String,
    pub to_addresses: Vec<String>,
    pub digest_seconds: u64,
    pub max_emails_per_hour: u64,
    /// Extra CA certificate (PEM) to trust, for a mail server with a
    /// self-signed or internal certificate.
    pub tls_ca_file: Option<String>,
}

impl Default for Email {
    fn default() -> Self {
        Self {
            enabled: false,
            smtp_host: "smtp.gmail.com".into(),
            smtp_port: 587,
            security: Security::Starttls,
            auth: Auth::Login,
            username: String::new(),
            password_env: Some("TWINSYNC_SMTP_PASSWORD".into()),
            password_file: None,
            password: None,
            from_address: String::new(),
            to_addresses: Vec::new(),
            digest_seconds: 60,
            max_emails_per_hour: 20,
            tls_ca_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    pub log_file_path: String,
    pub log_level: Level,
    pub max_log_size_bytes: u64,
    pub max_log_files: u32,
    /// HTML activity report that `watch` rewrites (empty = none).
    pub report_path: String,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            log_file_path: "twinsync.log.jsonl".into(),
            log_level: Level::Info,
            max_log_size_bytes: 10 * 1024 * 1024,
            max_log_files: 5,
            report_path: String::new(),
        }
    }
}

/// The file as written, before paths are resolved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub left_root: Option<String>,
    pub right_root: Option<String>,
    pub state_db: String,
    pub sync_interval_seconds: u64,
    pub full_scan_interval_seconds: u64,
    pub case_sensitive: CaseSetting,
    pub mtime_tolerance_ms: u64,
    pub exclude: Vec<String>,
    pub conflicts: Conflicts,
    pub soft_delete: SoftDelete,
    pub safety: Safety,
    pub transfer: Transfer,
    pub email: Email,
    pub logging: Logging,
    /// `[[rules]]`: settings per folder, the first match wins.
    pub rules: Vec<rules::RawRule>,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            left_root: None,
            right_root: None,
            state_db: "twinsync.db".into(),
            sync_interval_seconds: 10,
            full_scan_interval_seconds: 300,
            case_sensitive: CaseSetting::Auto,
            mtime_tolerance_ms: 2000,
            exclude: ["~$*", "*.tmp", ".~lock.*#", "Thumbs.db", "desktop.ini"]
                .map(String::from)
                .to_vec(),
            conflicts: Conflicts::default(),
            soft_delete: SoftDelete::default(),
            safety: Safety::default(),
            transfer: Transfer::default(),
            email: Email::default(),
            logging: Logging::default(),
            rules: Vec::new(),
        }
    }
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
    /// Every key as written (after defaults); the paths above are the
    /// resolved forms of its path keys.
    pub raw: RawConfig,
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

/// Which config file to read: `--config`, else `TWINSYNC_CONFIG`, else
/// `sync_config.toml` in the working directory.
#[must_use]
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os("TWINSYNC_CONFIG") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("sync_config.toml"),
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
                let key = match unknown_field(&msg) {
                    Some(f) if path == "." || path.is_empty() => f.to_owned(),
                    Some(f) if path.starts_with("rules[") => format!("{path}.{f}"),
                    _ => path.clone(),
                };
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
        if raw.conflicts.clash_suffix.is_empty() {
            return Err(key_err(file, "conflicts.clash_suffix", "must not be empty"));
        }
        crate::paths::validate_component(&format!("a{}", raw.conflicts.clash_suffix))
            .map_err(|e| key_err(file, "conflicts.clash_suffix", e))?;
        Excluder::new(&raw.exclude, case_sensitive, None, None)
            .map_err(|e| key_err(file, "exclude", e))?;
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
            crate::paths::validate(&rel).map_err(|e| key_err(file, key, e))?;
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
        if raw.email.enabled {
            if raw.email.to_addresses.is_empty() {
                return Err(key_err(
                    file,
                    "email.to_addresses",
                    "must list at least one address when email is enabled",
                ));
            }
            if raw.email.from_address.is_empty() {
                return Err(key_err(
                    file,
                    "email.from_address",
                    "must be set when email is enabled",
                ));
            }
        }
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
            raw,
        })
    }

    /// The trash location of a side.
    #[must_use]
    pub fn trash(&self, side: crate::Side) -> &TrashRoot {
        match side {
            crate::Side::Left => &self.left_trash,
            crate::Side::Right => &self.right_trash,
        }
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
    /// folder when it lies inside the root, and the log file and state DB
    /// when they do.
    ///
    /// # Errors
    /// Only for bad patterns, which loading the config already rejects.
    pub fn excluder(&self, side: crate::Side) -> Result<Excluder, String> {
        let trash = match self.trash(side) {
            TrashRoot::Inside(rel) => Some(rel.as_str()),
            TrashRoot::Outside(_) => None,
        };
        let root = self.root(side);
        let extra: Vec<String> = [&self.log_file, &self.state_db]
            .into_iter()
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

fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
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
                e.contains("UTF-16")
                    && e.contains("save the file as UTF-8")
                    && e.contains("c.toml"),
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
            e.contains("`left_root`")
                && e.contains("control character")
                && e.contains("single quotes"),
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
}
