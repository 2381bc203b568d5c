//! `[[rules]]` in the engine (SPEC §3 "Rules per folder"): the settings a
//! path is decided under (those of the first rule matching it or one of
//! its folders, else the global [`Options`]) and one-way subtrees.
//!
//! Invariants: pure (the rules were compiled when the config loaded; paths
//! are matched by their identity key, case-insensitively where identity
//! is). A one-way rule never loses a version: a change on the read-only
//! side is reported and left in place (the state keeps the last synced
//! pair, so it is reported again until someone acts), a delete there is
//! restored from the source side, and in a conflict the source wins while
//! the read-only side's version is kept there as a clash copy.

use super::{Class, Options, Planner};
use crate::config::ConflictOption;
use crate::config::rules::{DeleteMode, Direction, RawRule};
use crate::{Entry, Kind, Rule, Side, paths};

impl Options {
    /// The rule `key` is decided under (`None`: the global settings).
    #[must_use]
    pub fn rule(&self, key: &str, is_dir: bool) -> Option<&RawRule> {
        if key.is_empty() || self.rules.rules.is_empty() {
            return None;
        }
        self.rules
            .first(key, is_dir)
            .filter(|r| !r.excludes())
            .map(|r| &r.raw)
    }

    /// The `path` of the rule `key` is decided under, for the plan.
    #[must_use]
    pub fn policy(&self, key: &str, is_dir: bool) -> Option<String> {
        self.rule(key, is_dir).map(|r| r.path.clone())
    }

    /// May the file at `path` be hashed? `hash = false`: never (size and
    /// mtime decide there).
    pub(super) fn hash_here(&self, path: &str) -> bool {
        self.rule(path, false).and_then(|r| r.hash).unwrap_or(true)
    }

    /// Files larger than this go by the large lane.
    pub(super) fn large_file_bytes_at(&self, key: &str) -> u64 {
        self.rule(key, false)
            .and_then(|r| r.large_file_bytes)
            .unwrap_or(self.large_file_bytes)
    }

    /// Does a delete of `size` bytes at `key` go to trash? `delete = "hard"`:
    /// never; `"soft"`: up to the rule's (else the global) size limit.
    /// (One rule for deletes and replaced versions:
    /// [`crate::config::rules::FolderRules::soft_delete_at`].)
    pub(super) fn soft_delete_at(&self, key: &str, is_dir: bool, size: u64) -> bool {
        let global = (self.soft_delete, self.soft_delete_max_bytes);
        self.rules.soft_delete_at(key, is_dir, size, global)
    }

    /// `delete = "hard"` decides at `key`.
    pub(super) fn hard_by_rule(&self, key: &str, is_dir: bool) -> bool {
        self.rule(key, is_dir).and_then(|r| r.delete) == Some(DeleteMode::Hard)
    }

    /// The `[conflicts]` option for a conflict of kind `rule` at `key`.
    pub(super) fn conflict_option(&self, key: &str, rule: Rule) -> ConflictOption {
        let r = self.rule(key, false);
        match rule {
            Rule::ChangedBoth => r
                .and_then(|r| r.same_file_changed_both)
                .unwrap_or(self.same_file_changed_both),
            Rule::NewBoth => r
                .and_then(|r| r.new_file_both_different)
                .unwrap_or(self.new_file_both_different),
            _ => r
                .and_then(|r| r.properties_conflict_both)
                .unwrap_or(self.properties_conflict_both),
        }
    }

    /// `side` is a one-way rule's read-only side at `key`.
    pub(super) fn read_only(&self, side: Side, key: &str, is_dir: bool) -> bool {
        self.one_way_source(key, is_dir)
            .is_some_and(|(src, _)| src != side)
    }

    /// The source side of a one-way rule at `key`, with the rule's path.
    pub(super) fn one_way_source(&self, key: &str, is_dir: bool) -> Option<(Side, &str)> {
        let r = self.rule(key, is_dir)?;
        match r.direction? {
            Direction::Both => None,
            Direction::LeftToRight => Some((Side::Left, r.path.as_str())),
            Direction::RightToLeft => Some((Side::Right, r.path.as_str())),
        }
    }
}

impl Planner<'_> {
    /// A path under a one-way rule whose read-only side changed: decided
    /// here (true); anything else is left to the rule table (false), which
    /// only carries the source's changes over.
    pub(super) fn one_way(
        &mut self,
        key: &str,
        (l, r): (Option<&Entry>, Option<&Entry>),
        (cl, cr): (Class, Class),
        (lp, rp): (Option<&Entry>, Option<&Entry>),
    ) -> bool {
        let is_dir = l.or(r).is_some_and(|e| e.kind == Kind::Dir);
        let Some((src, pattern)) = self.input.opts.one_way_source(key, is_dir) else {
            return false;
        };
        let pattern = pattern.to_owned();
        let ro = src.other();
        let (s, t, cs, ct) = if src == Side::Left {
            (l, r, cl, cr)
        } else {
            (r, l, cr, cl)
        };
        let one_way = format!("the one-way rule `{pattern}` makes {src} the source");
        match (s, t) {
            // Deleted on the read-only side: restored from the source.
            (Some(se), None) if ct == Class::Deleted => {
                let why = format!("deleted on {ro}, but {one_way}: restored from {src}");
                self.transfer_new(key, src, se, Rule::undelete_on(ro), why);
                true
            }
            // Only on the read-only side: never carried to the source.
            // …already known there (a clash copy this rule kept): nothing new.
            (None, Some(_)) if ct == Class::Unchanged => cs != Class::Deleted,
            (None, Some(te)) => {
                let why = if cs == Class::Deleted {
                    format!(
                        "deleted on {src} but changed on {ro}: kept on {ro}, not carried back; {one_way}"
                    )
                } else {
                    format!("new on {ro}, not carried to {src}: {one_way}")
                };
                let rule = if ct == Class::New {
                    Rule::new_on(ro)
                } else {
                    Rule::changed_on(ro)
                };
                self.not_carried(key, &te.path, rule, why, (lp, rp));
                true
            }
            (Some(se), Some(te)) if ct.changed() => {
                if !cs.changed() {
                    let rule = if ct == Class::Props {
                        props_on(ro)
                    } else {
                        Rule::changed_on(ro)
                    };
                    let why = format!("changed on {ro}, not carried to {src}: {one_way}");
                    self.not_carried(key, &te.path, rule, why, (lp, rp));
                    return true;
                }
                if se.kind != Kind::File
                    || te.kind != Kind::File
                    || self.identical(se, te, self.input.first_run())
                {
                    return false;
                }
                let rule = if cs == Class::New && ct == Class::New {
                    Rule::NewBoth
                } else {
                    Rule::ChangedBoth
                };
                let clash = self.clash_path(&te.path);
                let clash_key = self.key(&clash);
                self.move_aside(
                    key,
                    &clash_key,
                    ro,
                    te,
                    &clash,
                    rule,
                    format!(
                        "changed on both sides; {one_way}: the {ro} version is kept as `{}` on {ro}",
                        paths::file_name(&clash)
                    ),
                );
                self.added[ro].insert(clash_key);
                self.copy_new(
                    key,
                    src,
                    se,
                    rule,
                    format!("changed on both sides; {one_way}: its version wins"),
                );
                true
            }
            _ => false,
        }
    }
}

fn props_on(side: Side) -> Rule {
    match side {
        Side::Left => Rule::PropsLeft,
        Side::Right => Rule::PropsRight,
    }
}
