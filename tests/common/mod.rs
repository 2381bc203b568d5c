//! Test harness: a temp folder with two roots and a config, and helpers to
//! run the real binary and to describe trees as data. A root is named by
//! its [`Side`], never by a string.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use twinsync::Side;

pub mod smtp;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub left: PathBuf,
    pub right: PathBuf,
    pub config: PathBuf,
}

/// The counts every `cycle` event carries (SPEC §12).
pub const CYCLE_FIELDS: [&str; 7] = [
    "files_scanned",
    "changes",
    "conflicts",
    "soft_deletes",
    "hard_deletes",
    "bytes_copied",
    "duration_ms",
];

pub const BASE: &str = "left_root = 'left'\nright_root = 'right'\nstate_db = 'state/twinsync.db'\n\n[transfer]\nmin_file_age_seconds = 0\n\n[logging]\nlog_file_path = 'twinsync.log.jsonl'\n";

impl Env {
    /// Two empty roots and the base config (not initialised).
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// Base config plus extra TOML (sections appended).
    pub fn with_config(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let left = dir.path().join("left");
        let right = dir.path().join("right");
        std::fs::create_dir_all(&left).unwrap();
        std::fs::create_dir_all(&right).unwrap();
        let config = dir.path().join("sync_config.toml");
        std::fs::write(&config, merge(BASE, extra)).unwrap();
        Self {
            dir,
            left,
            right,
            config,
        }
    }

    /// Initialised roots.
    pub fn init(extra: &str) -> Self {
        let e = Self::with_config(extra);
        e.cmd(&["init"]).assert().success();
        e
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("twinsync").unwrap();
        c.current_dir(self.dir.path())
            .arg("--config")
            .arg(&self.config)
            .args(args);
        c.env_remove("TWINSYNC_CONFIG");
        c
    }

    pub fn root(&self, side: Side) -> &Path {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    pub fn write(&self, side: Side, rel: &str, data: &str, age_s: u64) {
        write_at(&self.root(side).join(rel), data, age_s);
    }

    pub fn read(&self, side: Side, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.root(side).join(rel)).ok()
    }

    pub fn tree(&self, side: Side) -> BTreeMap<String, String> {
        tree(self.root(side))
    }

    /// Runs `apply --auto-approve` and asserts success.
    pub fn sync(&self) -> String {
        let out = self.cmd(&["apply", "--auto-approve"]).output().unwrap();
        assert!(
            out.status.success(),
            "apply failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `plan --json` parsed.
    pub fn plan_json(&self) -> serde_json::Value {
        let out = self.cmd(&["plan", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "plan failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("twinsync.log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn merge(base: &str, extra: &str) -> String {
    // Sections of `extra` that already exist in `base` are merged by appending
    // keys right after the section header.
    let mut out = base.to_owned();
    let mut current: Option<String> = None;
    let mut top = String::new();
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in extra.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            current = Some(t.to_owned());
            sections.push((t.to_owned(), String::new()));
        } else if current.is_some() {
            let last = sections.last_mut().unwrap();
            last.1.push_str(line);
            last.1.push('\n');
        } else {
            top.push_str(line);
            top.push('\n');
        }
    }
    out = format!("{top}{out}");
    for (header, body) in sections {
        if let Some(i) = out.find(&header) {
            let at = i + header.len() + 1;
            out.insert_str(at, &body);
        } else {
            out.push_str(&format!("\n{header}\n{body}"));
        }
    }
    out
}

pub fn write_at(p: &Path, data: &str, age_s: u64) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
    set_age(p, age_s);
}

pub fn set_age(p: &Path, age_s: u64) {
    let t = SystemTime::now() - Duration::from_secs(age_s);
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(t).unwrap();
}

/// Every file below `root` (relative path → content), skipping the marker.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == ".twinsync-root" {
                continue;
            }
            if p.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(root, &p, out);
            } else {
                out.insert(
                    rel,
                    std::fs::read_to_string(&p).unwrap_or_else(|_| "<binary>".into()),
                );
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// The synced part of a tree (without trash).
pub fn synced(root: &Path) -> BTreeMap<String, String> {
    tree(root)
        .into_iter()
        .filter(|(k, _)| !k.starts_with(".sync_trash"))
        .collect()
}
