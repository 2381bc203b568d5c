//! The plan: what a sync would do, as data (SPEC §7).
//!
//! [`engine`] decides the ops (pure); this module holds the plan file format,
//! its summary and the validation of plan files read back from disk;
//! [`guard`] holds the safety guards that refuse a plan; [`render`] draws it
//! for people.
//!
//! Invariant: within `format_version` 1 fields are only ever added; a plan
//! file that fails [`Plan::validate`] is refused before anything is touched.

pub mod engine;
pub mod guard;
pub mod render;

use crate::{Entry, Kind, Resolution, Rule, Side};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The plan file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Copy,
    Delete,
    Rename,
    /// A file or folder moved on the other side, moved here too (6.2.14/15).
    Move,
    SetProps,
    Mkdir,
    Rmdir,
    Conflict,
    Record,
}

impl OpKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Delete => "delete",
            Self::Rename => "rename",
            Self::Move => "move",
            Self::SetProps => "set_props",
            Self::Mkdir => "mkdir",
            Self::Rmdir => "rmdir",
            Self::Conflict => "conflict",
            Self::Record => "record",
        }
    }
}

/// Which copy lane a step runs in (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    #[default]
    Small,
    Large,
}

/// The metadata a path had when planned (or will have after the earlier
/// steps of this plan). `exists = false` means the path must be absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    pub side: Side,
    pub path: String,
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub mtime: i64,
    #[serde(default)]
    pub props: u32,
    /// Content hash when known (carried into the state by property-only steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl Expect {
    #[must_use]
    pub fn of(side: Side, path: &str, e: Option<&Entry>) -> Self {
        match e {
            Some(e) => Self {
                side,
                path: path.to_owned(),
                exists: true,
                kind: Some(e.kind),
                size: e.size,
                mtime: e.mtime,
                props: e.props,
                hash: e.hash.clone(),
            },
            None => Self {
                side,
                path: path.to_owned(),
                exists: false,
                kind: None,
                size: 0,
                mtime: 0,
                props: 0,
                hash: None,
            },
        }
    }

    /// The entry this expectation describes (None when it expects absence).
    #[must_use]
    pub fn entry(&self) -> Option<Entry> {
        self.exists.then(|| Entry {
            path: self.path.clone(),
            kind: self.kind.unwrap_or(Kind::File),
            size: self.size,
            mtime: self.mtime,
            props: self.props,
            offline: false,
            hash: self.hash.clone(),
            id: None,
            unchanged: false,
        })
    }
}

/// Both sides' size and mtime in a conflict, as people read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideInfo {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
    pub mtime_text: String,
    pub kind: Kind,
}

impl SideInfo {
    #[must_use]
    pub fn of(e: &Entry) -> Self {
        Self {
            path: e.path.clone(),
            size: e.size,
            mtime: e.mtime,
            mtime_text: crate::fmt_time(e.mtime),
            kind: e.kind,
        }
    }
}

/// The conflict details of a `conflict` op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictInfo {
    pub newer: Side,
    pub older: Side,
    /// Where the older version goes (option1), on the older side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clash_path: Option<String>,
    pub resolution: Resolution,
    /// The configured option that chose it (`option1`…), or `resolve`.
    pub option: String,
    pub left: Option<SideInfo>,
    pub right: Option<SideInfo>,
}

/// What a `record` op writes to the state (no file is touched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordInfo {
    pub left: Option<Entry>,
    pub right: Option<Entry>,
}

/// One path a `move` step moves (the moved item first, then, for a
/// folder, everything below it): its key before and after, and what the
/// state records for it on each side once moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedEntry {
    pub from_key: String,
    pub to_key: String,
    pub left: Entry,
    pub right: Entry,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub id: u64,
    pub kind: OpKind,
    /// The path as people know it (exact case, source side's spelling).
    pub path: String,
    /// Identity key of the path whose state this step updates.
    pub key: String,
    pub rule: Rule,
    pub reason: String,
    /// The side written (copy: destination; delete/rename/…: where it happens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// Copy: the side read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Side>,
    /// Every side the step reads or writes (conflicts and records: both).
    #[serde(default)]
    pub sides: Vec<Side>,
    /// Copy: source path on `from`; rename: the old path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_path: Option<String>,
    /// Copy/rename/mkdir/set_props/delete: the path on `side`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_path: Option<String>,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "is_small")]
    pub lane: Lane,
    /// Delete: to trash (soft) or for good (hard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft: Option<bool>,
    /// Copy: the source's mtime (change time), for ordering.
    #[serde(default)]
    pub mtime: i64,
    /// Set_props: target mtime and properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub props: Option<u32>,
    /// Key of the source path when it differs from `key` (clash copies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_key: Option<String>,
    pub expect: Vec<Expect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Box<ConflictInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<RecordInfo>>,
    /// Move: the paths it moves and their state afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<Box<Vec<MovedEntry>>>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_small(l: &Lane) -> bool {
    *l == Lane::Small
}

/// The options that shaped a plan (recorded for review).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PlanConfig {
    pub case_sensitive: bool,
    pub mtime_tolerance_ms: u64,
    pub same_file_changed_both: String,
    pub new_file_both_different: String,
    pub properties_conflict_both: String,
    pub clash_suffix: String,
    pub soft_delete: bool,
    pub soft_delete_max_bytes: u64,
    pub large_file_bytes: u64,
    pub hash_max_bytes: u64,
    #[serde(default)]
    pub detect_moves: bool,
}

/// Counts and bytes per kind and direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Summary {
    pub copies_to_right: u64,
    pub bytes_to_right: u64,
    pub copies_to_left: u64,
    pub bytes_to_left: u64,
    pub soft_deletes: u64,
    pub hard_deletes: u64,
    pub renames: u64,
    /// Files and folders moved on the other side by rules 6.2.14/6.2.15.
    #[serde(default)]
    pub moves: u64,
    /// The bytes those moves did not send (what copies would have sent).
    #[serde(default)]
    pub bytes_not_sent: u64,
    pub property_changes: u64,
    /// Files that copies replace whose old version goes to trash (as a
    /// soft delete does), and those not kept (above the trash size limit,
    /// or soft delete off).
    #[serde(default)]
    pub replaced_to_trash: u64,
    #[serde(default)]
    pub replaced_not_kept: u64,
    pub folders_created: u64,
    pub folders_removed: u64,
    pub records: u64,
    pub conflicts: u64,
    pub conflicts_by_rule: BTreeMap<Rule, u64>,
    pub large_copies: u64,
    /// Paths left for a later cycle (too young, unknown, in flight).
    #[serde(default)]
    pub deferred: u64,
    /// Files deleted per side by rules 6.2.7/6.2.8 (for the guard).
    #[serde(default)]
    pub deletes_left: u64,
    #[serde(default)]
    pub deletes_right: u64,
    /// Files each side had when scanned.
    #[serde(default)]
    pub files_left: u64,
    #[serde(default)]
    pub files_right: u64,
    /// Files per side whose content changed since the last sync, by size
    /// and mtime (for the mass-change guard).
    #[serde(default)]
    pub changed_left: u64,
    #[serde(default)]
    pub changed_right: u64,
}

impl Summary {
    /// Builds the summary of a list of ops planned with `cfg` (its soft
    /// delete settings decide where the versions copies replace go).
    #[must_use]
    pub fn of(ops: &[Op], cfg: &PlanConfig) -> Self {
        let mut s = Self::default();
        for op in ops {
            if let Some((_, _, kept)) =
                render::replaced(op, cfg.soft_delete, cfg.soft_delete_max_bytes)
            {
                if kept {
                    s.replaced_to_trash += 1;
                } else {
                    s.replaced_not_kept += 1;
                }
            }
            match op.kind {
                OpKind::Copy => {
                    if op.side == Some(Side::Right) {
                        s.copies_to_right += 1;
                        s.bytes_to_right += op.bytes;
                    } else {
                        s.copies_to_left += 1;
                        s.bytes_to_left += op.bytes;
                    }
                    if op.lane == Lane::Large {
                        s.large_copies += 1;
                    }
                }
                OpKind::Delete => {
                    if op.soft == Some(true) {
                        s.soft_deletes += 1;
                    } else {
                        s.hard_deletes += 1;
                    }
                    if op.rule.follows_a_delete() {
                        match op.side {
                            Some(Side::Left) => s.deletes_left += 1,
                            _ => s.deletes_right += 1,
                        }
                    }
                }
                OpKind::Rename => s.renames += 1,
                OpKind::Move => {
                    s.moves += 1;
                    s.bytes_not_sent += op
                        .moved
                        .iter()
                        .flat_map(|m| m.iter())
                        .filter(|e| e.left.kind == Kind::File)
                        .map(|e| e.left.size)
                        .sum::<u64>();
                }
                OpKind::SetProps => s.property_changes += 1,
                OpKind::Mkdir => s.folders_created += 1,
                OpKind::Rmdir => s.folders_removed += 1,
                OpKind::Record => s.records += 1,
                OpKind::Conflict => {
                    s.conflicts += 1;
                    *s.conflicts_by_rule.entry(op.rule).or_default() += 1;
                }
            }
        }
        s
    }

    /// True when applying would touch a file or folder (records alone do not).
    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.copies_to_left
            + self.copies_to_right
            + self.soft_deletes
            + self.hard_deletes
            + self.renames
            + self.moves
            + self.property_changes
            + self.folders_created
            + self.folders_removed
            + self.conflicts
            > 0
    }

    /// Versions that go to trash: deleted files and replaced versions
    /// (what apply reports as "to trash").
    #[must_use]
    pub fn to_trash(&self) -> u64 {
        self.soft_deletes + self.replaced_to_trash
    }

    /// The one-line total, counting what apply will report: "Plan: 1 copy
    /// → right (3.4 MiB), 0 copies → left (0 B), 1 conflict (6.2.1), 2 to
    /// trash (1 replaced version), 0 deleted for good".
    #[must_use]
    pub fn one_line(&self) -> String {
        let n = crate::plural;
        let mut parts = vec![
            format!(
                "{} → right ({})",
                n(self.copies_to_right, "copy", "copies"),
                crate::human_size(self.bytes_to_right)
            ),
            format!(
                "{} → left ({})",
                n(self.copies_to_left, "copy", "copies"),
                crate::human_size(self.bytes_to_left)
            ),
        ];
        let rules: Vec<&str> = self.conflicts_by_rule.keys().map(|r| r.as_str()).collect();
        let conflicts = n(self.conflicts, "conflict", "conflicts");
        if rules.is_empty() {
            parts.push(conflicts);
        } else {
            parts.push(format!("{conflicts} ({})", rules.join(", ")));
        }
        if self.moves > 0 {
            parts.push(format!(
                "{}, {} not sent",
                n(self.moves, "move", "moves"),
                crate::human_size(self.bytes_not_sent)
            ));
        }
        let mut trash = format!("{} to trash", self.to_trash());
        if self.replaced_to_trash > 0 {
            trash.push_str(&format!(
                " ({})",
                n(
                    self.replaced_to_trash,
                    "replaced version",
                    "replaced versions"
                )
            ));
        }
        parts.push(trash);
        parts.push(format!("{} deleted for good", self.hard_deletes));
        if self.replaced_not_kept > 0 {
            parts.push(format!(
                "{} not kept (above the trash size limit)",
                n(
                    self.replaced_not_kept,
                    "replaced version",
                    "replaced versions"
                )
            ));
        }
        if self.renames > 0 {
            parts.push(n(self.renames, "rename", "renames"));
        }
        if self.property_changes > 0 {
            parts.push(n(
                self.property_changes,
                "property change",
                "property changes",
            ));
        }
        if self.folders_created > 0 {
            parts.push(n(self.folders_created, "folder created", "folders created"));
        }
        if self.folders_removed > 0 {
            parts.push(n(self.folders_removed, "folder removed", "folders removed"));
        }
        format!("Plan: {}", parts.join(", "))
    }
}

/// A plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    pub plan_id: String,
    pub created_at: String,
    pub left_root: String,
    pub right_root: String,
    pub left_root_id: String,
    pub right_root_id: String,
    pub base_generation: i64,
    /// Planned with `--force` (the delete guard was overridden).
    #[serde(default)]
    pub forced: bool,
    pub config: PlanConfig,
    pub summary: Summary,
    pub ops: Vec<Op>,
    /// Problems seen while scanning (collisions, invalid names, unreadable folders).
    #[serde(default)]
    pub problems: Vec<String>,
}

/// Why a plan file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan file `{file}`: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("plan file `{file}` is not a valid plan: {msg}")]
    Invalid { file: String, msg: String },
    #[error("cannot write plan file `{file}`: {source}")]
    Write {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl Plan {
    /// The plan as the state DB journals it for resuming: without its
    /// `record` ops (idempotent snapshot writes, 90,000 of them in a
    /// first-run adoption; a plan resumed without them leaves those paths
    /// to the next plan, which records them again).
    #[must_use]
    pub fn journal_json(&self) -> String {
        let journal = Plan {
            format_version: self.format_version,
            tool_version: self.tool_version.clone(),
            plan_id: self.plan_id.clone(),
            created_at: self.created_at.clone(),
            left_root: self.left_root.clone(),
            right_root: self.right_root.clone(),
            left_root_id: self.left_root_id.clone(),
            right_root_id: self.right_root_id.clone(),
            base_generation: self.base_generation,
            forced: self.forced,
            config: self.config.clone(),
            summary: self.summary.clone(),
            ops: self
                .ops
                .iter()
                .filter(|o| o.kind != OpKind::Record)
                .cloned()
                .collect(),
            problems: self.problems.clone(),
        };
        serde_json::to_string(&journal).unwrap_or_default()
    }

    /// Reads and validates a plan file.
    ///
    /// # Errors
    /// `Read` or `Invalid` (truncated, garbage, unknown version or op kind, bad paths).
    pub fn load(file: &std::path::Path) -> Result<Self, PlanError> {
        let name = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|source| PlanError::Read {
            file: name.clone(),
            source,
        })?;
        let invalid = |msg: String| PlanError::Invalid {
            file: name.clone(),
            msg,
        };
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not JSON ({e})")))?;
        match v.get("format_version").and_then(serde_json::Value::as_u64) {
            Some(n) if n == u64::from(FORMAT_VERSION) => {}
            Some(n) => {
                return Err(invalid(format!(
                    "format_version {n} is not supported (this twinsync reads {FORMAT_VERSION})"
                )));
            }
            None => return Err(invalid("format_version is missing".into())),
        }
        let plan: Self = serde_path_to_error::deserialize(v)
            .map_err(|e| invalid(format!("at `{}`: {}", e.path(), e.inner())))?;
        plan.validate().map_err(invalid)?;
        Ok(plan)
    }

    /// Writes the plan as pretty JSON, atomically (temp file + rename).
    ///
    /// # Errors
    /// `Write` naming the file.
    pub fn save(&self, file: &std::path::Path) -> Result<(), PlanError> {
        let w = |source| PlanError::Write {
            file: file.display().to_string(),
            source,
        };
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(w)?;
        }
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json()).map_err(w)?;
        std::fs::rename(&tmp, file).map_err(w)
    }

    /// The plan as pretty JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Checks every path and field a step will act on.
    ///
    /// # Errors
    /// A sentence naming the first bad op.
    pub fn validate(&self) -> Result<(), String> {
        let mut ids = std::collections::HashSet::new();
        for op in &self.ops {
            let bad = |m: String| format!("op {} ({}): {m}", op.id, op.kind.as_str());
            if !ids.insert(op.id) {
                return Err(bad("duplicate op id".into()));
            }
            let mut paths: Vec<&str> = vec![op.path.as_str()];
            paths.extend(op.src_path.as_deref());
            paths.extend(op.dest_path.as_deref());
            paths.extend(op.expect.iter().map(|e| e.path.as_str()));
            if let Some(c) = &op.conflict {
                paths.extend(c.clash_path.as_deref());
            }
            if let Some(r) = &op.record {
                paths.extend(r.left.iter().chain(r.right.iter()).map(|e| e.path.as_str()));
            }
            if let Some(m) = &op.moved {
                for e in m.iter() {
                    paths.extend([
                        e.from_key.as_str(),
                        e.to_key.as_str(),
                        e.left.path.as_str(),
                        e.right.path.as_str(),
                    ]);
                }
            }
            for p in paths {
                crate::paths::validate(p).map_err(bad)?;
            }
            let needs_side = !matches!(op.kind, OpKind::Conflict | OpKind::Record);
            if needs_side && (op.side.is_none() || op.dest_path.is_none()) {
                return Err(bad("missing side or dest_path".into()));
            }
            match op.kind {
                OpKind::Copy
                    if op.from.is_none() || op.src_path.is_none() || op.from == op.side =>
                {
                    return Err(bad(
                        "a copy needs `from` (the other side) and `src_path`".into()
                    ));
                }
                OpKind::Rename if op.src_path.is_none() => {
                    return Err(bad("a rename needs `src_path`".into()));
                }
                OpKind::Move
                    if op.src_path.is_none() || op.moved.as_ref().is_none_or(|m| m.is_empty()) =>
                {
                    return Err(bad("a move needs `src_path` and `moved`".into()));
                }
                OpKind::Conflict if op.conflict.is_none() => {
                    return Err(bad("a conflict needs `conflict`".into()));
                }
                OpKind::Record if op.record.is_none() => {
                    return Err(bad("a record needs `record`".into()));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
