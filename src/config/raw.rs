//! The config keys as written (`RawConfig` and its sections), with their
//! defaults: the first of the two stages described in the parent module.
//! Nothing here resolves a path or checks one key against another.

use super::{ConflictOption, clash_leave_or_newer, clash_or_newer, rules};
use serde::Deserialize;

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
    /// Small-lane copies running at once (1: one at a time; 1–64).
    pub parallel_copies: u32,
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
            parallel_copies: 4,
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

/// `[dashboard]`: the live page `watch` serves (SPEC §3, §12 "Dashboard").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    pub enabled: bool,
    /// `IP:port`; must be a loopback address (checked in [`super::Config::load`]).
    pub listen: String,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: "127.0.0.1:8390".into(),
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
    pub dashboard: Dashboard,
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
            dashboard: Dashboard::default(),
            rules: Vec::new(),
        }
    }
}
