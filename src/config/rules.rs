//! Rules per folder (`[[rules]]`, SPEC §3 "Rules per folder"): office
//! policies for parts of the tree: a temp folder deleted for good, media
//! never hashed, accounts with their own conflict handling, a one-way
//! subtree, a folder left out of the sync.
//!
//! Matching: each rule's `path` is a gitignore-style glob relative to the
//! roots (`"Temp/**"`, `"Marketing/Video/**"`, `"*.psd"`). A path takes the
//! settings of the **first** rule that matches it or one of its folders;
//! paths no rule matches use the global settings. A rule with
//! `exclude = true` leaves what it matches out of the sync like the
//! top-level `exclude` list: as in git, a folder left out is not looked
//! into, so nothing below it can be brought back by another rule.
//!
//! Invariants: unknown keys and invalid values are errors naming the
//! rule's index and key (`rules[2].delete`); a rule that sets nothing is an
//! error too (it would silently shadow the rules after it). Changing the
//! rules changes the next plan, never the state: a path a new rule leaves
//! out is left alone on both sides, never deleted.

use super::ConflictOption;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};

/// How deletes are carried out under a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteMode {
    /// To the trash, up to the size limit (the global policy's way).
    Soft,
    /// For good, whatever the size (logged).
    Hard,
}

/// Which way changes flow under a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    #[default]
    Both,
    /// The left is the source: right-side changes are not carried back
    /// (they are reported), a right-side delete is restored from the left.
    LeftToRight,
    /// The reverse.
    RightToLeft,
}

/// One `[[rules]]` entry as written (and as a plan's `config` records it:
/// only the keys the entry sets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<DeleteMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soft_delete_max_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large_file_bytes: Option<u64>,
    /// `false`: never hash here; compare by size and mtime only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<bool>,
    #[serde(
        default,
        deserialize_with = "some_clash_leave_or_newer",
        skip_serializing_if = "Option::is_none"
    )]
    pub same_file_changed_both: Option<ConflictOption>,
    #[serde(
        default,
        deserialize_with = "some_clash_or_newer",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_file_both_different: Option<ConflictOption>,
    #[serde(
        default,
        deserialize_with = "some_clash_leave_or_newer",
        skip_serializing_if = "Option::is_none"
    )]
    pub properties_conflict_both: Option<ConflictOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude: Option<bool>,
}

fn some_clash_leave_or_newer<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<ConflictOption>, D::Error> {
    super::clash_leave_or_newer(d).map(Some)
}

fn some_clash_or_newer<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<ConflictOption>, D::Error> {
    super::clash_or_newer(d).map(Some)
}

impl RawRule {
    /// True when the rule sets something besides its `path`.
    fn sets_anything(&self) -> bool {
        self.delete.is_some()
            || self.soft_delete_max_bytes.is_some()
            || self.large_file_bytes.is_some()
            || self.hash.is_some()
            || self.same_file_changed_both.is_some()
            || self.new_file_both_different.is_some()
            || self.properties_conflict_both.is_some()
            || self.direction.is_some()
            || self.exclude.is_some()
    }
}

/// A rule with its matcher.
#[derive(Debug, Clone)]
pub struct FolderRule {
    /// Its place in the config (0-based; `rules[i]`).
    pub index: usize,
    pub raw: RawRule,
    matcher: Gitignore,
}

impl FolderRule {
    /// Does the rule's `path` match `path` itself (not its folders)?
    #[must_use]
    pub fn matches_self(&self, path: &str, is_dir: bool) -> bool {
        self.matcher.matched(path, is_dir).is_ignore()
    }

    /// Does it match `path` or one of its folders?
    #[must_use]
    pub fn matches(&self, path: &str, is_dir: bool) -> bool {
        self.matcher
            .matched_path_or_any_parents(path, is_dir)
            .is_ignore()
    }

    /// `exclude = true`.
    #[must_use]
    pub fn excludes(&self) -> bool {
        self.raw.exclude == Some(true)
    }
}

/// The `[[rules]]`, compiled, in order.
#[derive(Debug, Clone, Default)]
pub struct FolderRules {
    pub rules: Vec<FolderRule>,
}

/// Why a rule is refused: the key under `rules[i]` and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub key: String,
    pub msg: String,
}

impl FolderRules {
    /// Compiles the rules (matching case-insensitively where identity is).
    ///
    /// # Errors
    /// The first rule that is wrong: its key (`rules[1].path`) and why.
    pub fn new(raw: &[RawRule], case_sensitive: bool) -> Result<Self, RuleError> {
        let mut rules = Vec::new();
        for (index, r) in raw.iter().enumerate() {
            let key = |k: &str| format!("rules[{index}].{k}");
            let fail = |k: &str, msg: String| RuleError { key: key(k), msg };
            let pattern = r.path.trim();
            if pattern.is_empty() {
                return Err(fail("path", "must not be empty (e.g. \"Temp/**\")".into()));
            }
            if pattern.starts_with('!') {
                return Err(fail(
                    "path",
                    "a negated pattern matches everything else; write the rule for the folder itself".into(),
                ));
            }
            if !r.sets_anything() {
                return Err(fail(
                    "path",
                    format!(
                        "the rule for `{pattern}` sets nothing (add delete, hash, direction, exclude, …) and would hide the rules after it"
                    ),
                ));
            }
            if r.exclude == Some(true)
                && (r.delete.is_some()
                    || r.hash.is_some()
                    || r.direction.is_some()
                    || r.large_file_bytes.is_some()
                    || r.soft_delete_max_bytes.is_some()
                    || r.same_file_changed_both.is_some()
                    || r.new_file_both_different.is_some()
                    || r.properties_conflict_both.is_some())
            {
                return Err(fail(
                    "exclude",
                    "exclude = true leaves these paths out of the sync; the rule's other settings would never apply".into(),
                ));
            }
            if r.large_file_bytes == Some(0) {
                return Err(fail("large_file_bytes", "must be at least 1".into()));
            }
            let mut b = GitignoreBuilder::new("");
            b.case_insensitive(!case_sensitive)
                .map_err(|e| fail("path", e.to_string()))?;
            b.add_line(None, pattern)
                .map_err(|e| fail("path", format!("`{pattern}`: {e}")))?;
            let matcher = b
                .build()
                .map_err(|e| fail("path", format!("`{pattern}`: {e}")))?;
            rules.push(FolderRule {
                index,
                raw: r.clone(),
                matcher,
            });
        }
        Ok(Self { rules })
    }

    /// The rule `path` is decided under: the first that matches it or one
    /// of its folders.
    #[must_use]
    pub fn first(&self, path: &str, is_dir: bool) -> Option<&FolderRule> {
        self.rules.iter().find(|r| r.matches(path, is_dir))
    }

    /// Does a version of `size` bytes at `path` go to the trash when it is
    /// deleted or replaced by a copy? Under the first matching rule:
    /// `delete = "hard"` never, `"soft"` always up to the rule's
    /// `soft_delete_max_bytes` (else `global_max`); with no rule (or a rule
    /// setting neither), the global `[soft_delete]` `enabled` and limit.
    /// The plan engine and the copy step both ask here, so a replaced
    /// version follows the same rule as a deleted one.
    #[must_use]
    pub fn soft_delete_at(
        &self,
        path: &str,
        is_dir: bool,
        size: u64,
        (global_soft, global_max): (bool, u64),
    ) -> bool {
        let rule = if path.is_empty() {
            None
        } else {
            self.first(path, is_dir).map(|r| &r.raw)
        };
        let soft = match rule.and_then(|r| r.delete) {
            Some(DeleteMode::Hard) => false,
            Some(DeleteMode::Soft) => true,
            None => global_soft,
        };
        soft && size
            <= rule
                .and_then(|r| r.soft_delete_max_bytes)
                .unwrap_or(global_max)
    }

    /// True if a rule leaves `path` itself out: the first rule matching the
    /// path itself excludes it (its folders are checked by the walk, or by
    /// [`Self::excludes_or_parent`]).
    #[must_use]
    pub fn excludes_self(&self, path: &str, is_dir: bool) -> bool {
        self.rules
            .iter()
            .find(|r| r.matches_self(path, is_dir))
            .is_some_and(FolderRule::excludes)
    }

    /// True if a rule leaves out `path` or one of its folders.
    #[must_use]
    pub fn excludes_or_parent(&self, path: &str, is_dir: bool) -> bool {
        if self.rules.iter().all(|r| !r.excludes()) {
            return false;
        }
        let mut p = path;
        let mut dir = is_dir;
        loop {
            if self.excludes_self(p, dir) {
                return true;
            }
            match p.rfind('/') {
                Some(i) => {
                    p = &p[..i];
                    dir = true;
                }
                None => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str) -> RawRule {
        RawRule {
            path: path.into(),
            ..RawRule::default()
        }
    }

    #[test]
    fn the_first_matching_rule_wins_and_matches_folders_below() {
        let rules = FolderRules::new(
            &[
                RawRule {
                    delete: Some(DeleteMode::Soft),
                    ..rule("Temp/keep/**")
                },
                RawRule {
                    delete: Some(DeleteMode::Hard),
                    ..rule("Temp/**")
                },
                RawRule {
                    hash: Some(false),
                    ..rule("*.mov")
                },
            ],
            false,
        )
        .unwrap();
        let idx = |p: &str| rules.first(p, false).map(|r| r.index);
        assert_eq!(idx("Temp/keep/a.txt"), Some(0));
        assert_eq!(idx("Temp/x/b.txt"), Some(1));
        assert_eq!(idx("temp/x/B.TXT"), Some(1), "case-insensitive identity");
        assert_eq!(
            idx("Temp/clip.mov"),
            Some(1),
            "first wins, not the most specific"
        );
        assert_eq!(idx("Media/clip.mov"), Some(2));
        assert_eq!(idx("Accounts/ledger.xlsx"), None);
    }

    #[test]
    fn exclusion_follows_the_first_rule_and_covers_what_is_below() {
        let rules = FolderRules::new(
            &[
                RawRule {
                    delete: Some(DeleteMode::Hard),
                    ..rule("Renders/final/**")
                },
                RawRule {
                    exclude: Some(true),
                    ..rule("Renders/**")
                },
            ],
            true,
        )
        .unwrap();
        assert!(rules.excludes_self("Renders/cache", true));
        assert!(rules.excludes_or_parent("Renders/cache/f1.bin", false));
        // The first rule matches the file itself: decided under it, synced.
        assert!(!rules.excludes_self("Renders/final/cut.mp4", false));
        // …but its folder is left out by the second (as in git, nothing
        // below an excluded folder comes back).
        assert!(rules.excludes_self("Renders/final", true));
        assert!(!rules.excludes_or_parent("Accounts/a.xlsx", false));
    }

    #[test]
    fn bad_rules_name_their_index_and_key() {
        let e = |r: RawRule| FolderRules::new(&[rule("ok/**"), r], true).unwrap_err();
        let ok_first = RawRule {
            hash: Some(false),
            ..rule("x")
        };
        let e2 = |r: RawRule| FolderRules::new(&[ok_first.clone(), r], true).unwrap_err();
        assert_eq!(e2(rule("")).key, "rules[1].path");
        assert_eq!(e2(rule("Temp/**")).key, "rules[1].path", "sets nothing");
        assert!(e2(rule("Temp/**")).msg.contains("sets nothing"));
        assert_eq!(
            e2(RawRule {
                exclude: Some(true),
                delete: Some(DeleteMode::Hard),
                ..rule("Temp/**")
            })
            .key,
            "rules[1].exclude"
        );
        assert_eq!(
            e2(RawRule {
                large_file_bytes: Some(0),
                ..rule("a")
            })
            .key,
            "rules[1].large_file_bytes"
        );
        assert_eq!(
            e2(RawRule {
                exclude: Some(true),
                ..rule("!x")
            })
            .key,
            "rules[1].path"
        );
        // The first rule here sets nothing: index 0.
        assert_eq!(e(rule("y")).key, "rules[0].path");
    }
}
