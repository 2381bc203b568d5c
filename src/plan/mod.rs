//! The plan: what a sync would do, as data (SPEC §7).
//!
//! [`engine`] decides the ops (pure); `op` defines one step ([`Op`]: a
//! shared header and a typed [`Step`]); this module holds the plan file
//! format, its summary and the validation of plans; [`guard`] holds the
//! safety guards that refuse a plan; [`render`] draws it for people.
//!
//! Invariants: within `format_version` 1 fields are only ever added; a
//! plan reaches `apply` only as a [`ValidPlan`] (from [`Plan::load`] or
//! [`Plan::validated`]), so one that fails validation is refused before
//! anything is touched.

pub mod engine;
pub mod guard;
mod op;
pub mod render;

pub use op::{
    Cause, ConflictStep, CopyStep, DeleteStep, Lane, MkdirStep, MoveStep, Op, OpKind, RecordStep,
    RenameStep, RmdirStep, SetPropsStep, Step,
};

use crate::{Entry, Kind, Resolution, Rule, Side};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The plan file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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
    /// A change a one-way rule does not carry back (SPEC §3: reported):
    /// the plan's problems name it, so `plan`, `apply` and the log say so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_carried: bool,
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
    /// The `exclude` patterns (absent in older plans).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// The `[[rules]]` entries, in order, with the keys each sets (absent
    /// in older plans).
    #[serde(default)]
    pub rules: Vec<crate::config::rules::RawRule>,
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
            match &op.step {
                Step::Copy(c) => {
                    if c.side == Side::Right {
                        s.copies_to_right += 1;
                        s.bytes_to_right += op.bytes;
                    } else {
                        s.copies_to_left += 1;
                        s.bytes_to_left += op.bytes;
                    }
                    if c.lane == Lane::Large {
                        s.large_copies += 1;
                    }
                }
                Step::Delete(d) => {
                    if d.soft {
                        s.soft_deletes += 1;
                    } else {
                        s.hard_deletes += 1;
                    }
                    if op.rule.follows_a_delete() {
                        match d.side {
                            Side::Left => s.deletes_left += 1,
                            Side::Right => s.deletes_right += 1,
                        }
                    }
                }
                Step::Rename(_) => s.renames += 1,
                Step::Move(m) => {
                    s.moves += 1;
                    s.bytes_not_sent += m
                        .moved
                        .iter()
                        .filter(|e| e.left.kind == Kind::File)
                        .map(|e| e.left.size)
                        .sum::<u64>();
                }
                Step::SetProps(_) => s.property_changes += 1,
                Step::Mkdir(_) => s.folders_created += 1,
                Step::Rmdir(_) => s.folders_removed += 1,
                Step::Record(_) => s.records += 1,
                Step::Conflict(_) => {
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
/// The first op of a plan that [`Plan::validate`] refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("op {id} ({kind}): {why}")]
pub struct BadOp {
    pub id: u64,
    pub kind: &'static str,
    pub why: OpProblem,
}

/// What is wrong with one op of a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpProblem {
    #[error("duplicate op id")]
    DuplicateId,
    #[error(transparent)]
    Path(crate::paths::PathError),
    #[error("a copy needs `from` (the other side) and `src_path`")]
    CopyNeedsFrom,
    #[error("a move needs `src_path` and `moved`")]
    MoveNeedsMoved,
}

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
    #[error("the plan is not valid: {0}")]
    Unchecked(BadOp),
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
        let mut out = Vec::new();
        // Writing JSON into a Vec fails only on a serializer error, which
        // these types do not have.
        let _ = self.write_journal(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`Plan::journal_json`], written to `w` (streamed into the state DB).
    ///
    /// # Errors
    /// The writer's.
    pub fn write_journal(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        /// The plan's fields by reference (a first sync's 90,000 ops are
        /// written, not cloned); `journal_is_the_plan_without_its_records`
        /// fails when a field of [`Plan`] is missing here.
        #[derive(Serialize)]
        struct Journal<'a> {
            format_version: u32,
            tool_version: &'a str,
            plan_id: &'a str,
            created_at: &'a str,
            left_root: &'a str,
            right_root: &'a str,
            left_root_id: &'a str,
            right_root_id: &'a str,
            base_generation: i64,
            forced: bool,
            config: &'a PlanConfig,
            summary: &'a Summary,
            #[serde(serialize_with = "all_but_records")]
            ops: &'a [Op],
            problems: &'a [String],
        }
        fn all_but_records<S: serde::Serializer>(ops: &&[Op], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(ops.iter().filter(|o| o.kind() != OpKind::Record))
        }
        serde_json::to_writer(
            w,
            &Journal {
                format_version: self.format_version,
                tool_version: &self.tool_version,
                plan_id: &self.plan_id,
                created_at: &self.created_at,
                left_root: &self.left_root,
                right_root: &self.right_root,
                left_root_id: &self.left_root_id,
                right_root_id: &self.right_root_id,
                base_generation: self.base_generation,
                forced: self.forced,
                config: &self.config,
                summary: &self.summary,
                ops: &self.ops,
                problems: &self.problems,
            },
        )
        .map_err(std::io::Error::from)
    }

    /// Reads and validates a plan file.
    ///
    /// # Errors
    /// `Read` or `Invalid` (truncated, garbage, unknown version or op kind, bad paths).
    pub fn load(file: &std::path::Path) -> Result<ValidPlan, PlanError> {
        let name = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|source| PlanError::Read {
            file: name.clone(),
            source,
        })?;
        let invalid = |msg: String| PlanError::Invalid {
            file: name.clone(),
            msg,
        };
        // Two passes over the bytes, never a `serde_json::Value` of the
        // whole plan: a first sync's plan is ~100 MB of JSON, its `Value`
        // several times that. The first pass reads the version only.
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            format_version: Option<serde_json::Value>,
        }
        let version = match serde_json::from_slice::<Head>(&bytes) {
            Ok(head) => head
                .format_version
                .as_ref()
                .and_then(serde_json::Value::as_u64),
            Err(e) if e.is_data() => None,
            Err(e) => return Err(invalid(format!("not JSON ({e})"))),
        };
        match version {
            Some(n) if n == u64::from(FORMAT_VERSION) => {}
            Some(n) => {
                return Err(invalid(format!(
                    "format_version {n} is not supported (this twinsync reads {FORMAT_VERSION})"
                )));
            }
            None => return Err(invalid("format_version is missing".into())),
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let plan: Self = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| invalid(format!("at `{}`: {}", e.path(), e.inner())))?;
        de.end().map_err(|e| invalid(format!("not JSON ({e})")))?;
        drop(bytes);
        plan.validate().map_err(|e| invalid(e.to_string()))?;
        Ok(ValidPlan(plan))
    }

    /// The plan, checked ([`Plan::validate`]): the only form apply runs.
    ///
    /// # Errors
    /// `Unchecked` naming the first bad op.
    pub fn validated(self) -> Result<ValidPlan, PlanError> {
        self.validate().map_err(PlanError::Unchecked)?;
        Ok(ValidPlan(self))
    }

    /// Writes the plan as pretty JSON, atomically (temp file + rename); a
    /// device or a pipe (`--out /dev/null`) is written into instead.
    ///
    /// # Errors
    /// `Write` naming the file.
    pub fn save(&self, file: &std::path::Path) -> Result<(), PlanError> {
        let w = |source| PlanError::Write {
            file: file.display().to_string(),
            source,
        };
        // Streamed: the pretty JSON of a first sync's plan is ~100 MB.
        let stream = |f: std::fs::File| -> std::io::Result<()> {
            use std::io::Write as _;
            let mut out = std::io::BufWriter::new(f);
            serde_json::to_writer_pretty(&mut out, self)?;
            out.write_all(b"\n")?;
            out.into_inner()
                .map_err(std::io::IntoInnerError::into_error)?;
            Ok(())
        };
        if crate::out::is_special_file(file) {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(file)
                .map_err(w)?;
            return stream(f).map_err(w);
        }
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(w)?;
        }
        let tmp = file.with_extension("json.tmp");
        std::fs::File::create(&tmp).and_then(stream).map_err(w)?;
        std::fs::rename(&tmp, file).map_err(w)
    }

    /// The plan as pretty JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Checks every path a step will act on, that step ids are unique and
    /// that a copy reads the other side (the fields each kind needs are
    /// there by type: [`Step`]).
    ///
    /// # Errors
    /// A [`BadOp`] naming the first bad op.
    fn validate(&self) -> Result<(), BadOp> {
        let mut ids = std::collections::HashSet::new();
        for op in &self.ops {
            let bad = |why: OpProblem| BadOp {
                id: op.id,
                kind: op.kind().as_str(),
                why,
            };
            if !ids.insert(op.id) {
                return Err(bad(OpProblem::DuplicateId));
            }
            for p in op.all_paths() {
                crate::paths::validate(p).map_err(|e| bad(OpProblem::Path(e)))?;
            }
            match &op.step {
                Step::Copy(c) if c.from == c.side => return Err(bad(OpProblem::CopyNeedsFrom)),
                Step::Move(m) if m.moved.is_empty() => return Err(bad(OpProblem::MoveNeedsMoved)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A plan that passed [`Plan::validate`]: what [`crate::apply::run`]
/// requires, so no run starts on an unchecked plan. Read-only: it derefs to
/// the [`Plan`] it wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPlan(Plan);

impl ValidPlan {
    /// The plan, for changing it (it must be validated again to run).
    #[must_use]
    pub fn into_inner(self) -> Plan {
        self.0
    }
}

impl std::ops::Deref for ValidPlan {
    type Target = Plan;
    fn deref(&self) -> &Plan {
        &self.0
    }
}

#[cfg(test)]
mod tests;
