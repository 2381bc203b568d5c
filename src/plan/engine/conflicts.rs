//! Conflicts (SPEC §6.3): the one place the `[conflicts]` policy meets
//! the rule table ([`Planner::conflict`]), the three ways a conflict is
//! settled (clash copies, newer overwrites, left alone), a file-versus-
//! folder clash, and the admin's `resolve` choice.

use super::{Phase, Planner};
use crate::config::ConflictAction;
use crate::plan::{Cause, ConflictInfo, Op, SideInfo, Step};
use crate::{Entry, Keep, Kind, Resolution, Rule, Side, paths};

impl Planner<'_> {
    pub(super) fn newer(l: &Entry, r: &Entry) -> Side {
        if r.mtime > l.mtime {
            Side::Right
        } else {
            Side::Left
        }
    }

    #[allow(clippy::too_many_arguments, clippy::unused_self)]
    pub(super) fn conflict_op(
        &self,
        key: &str,
        rule: Rule,
        reason: String,
        newer: Side,
        resolution: Resolution,
        option: &str,
        clash: Option<&str>,
        l: &Entry,
        r: &Entry,
    ) -> Op {
        let cause = Cause {
            key,
            path: &l.path,
            rule,
            reason,
        };
        let info = ConflictInfo {
            newer,
            older: newer.other(),
            clash_path: clash.map(str::to_owned),
            resolution,
            option: option.to_owned(),
            left: Some(SideInfo::of(l)),
            right: Some(SideInfo::of(r)),
        };
        Op::conflict(cause, info, l, r)
    }

    /// Option 1: newer at the path on both sides, older at the clash path on both.
    pub(super) fn clash_copies(
        &mut self,
        key: &str,
        rule: Rule,
        why: &str,
        option: &str,
        l: &Entry,
        r: &Entry,
    ) {
        let newer = Self::newer(l, r);
        let older = newer.other();
        let (n, o) = if newer == Side::Left { (l, r) } else { (r, l) };
        let clash = self.clash_path(&o.path);
        let clash_key = self.key(&clash);
        let reason = format!(
            "{why}; {newer} is newer: it stays at the path, the {older} version is kept as `{}` on both sides",
            paths::file_name(&clash)
        );
        let op = self.conflict_op(
            key,
            rule,
            reason,
            newer,
            Resolution::ClashCopies,
            option,
            Some(&clash),
            l,
            r,
        );
        self.push(Phase::Aside, op);
        // 1. older side: move the older version aside to the clash name.
        self.move_aside(
            key,
            &clash_key,
            older,
            o,
            &clash,
            rule,
            format!("{why}: keep the older {older} version as a clash copy"),
        );
        // 2. copy the older version to the newer side's clash name.
        let mut moved = o.clone();
        moved.path.clone_from(&clash);
        self.copy_new(
            &clash_key,
            older,
            &moved,
            rule,
            format!("{why}: the older version, as a clash copy"),
        );
        self.added[older].insert(clash_key);
        // 3. the newer version to the older side's path (now free), under
        //    the newer side's spelling of its name: the sides end with one
        //    name, not one each (a case-only conflict, SPEC §6 option1).
        let parent = self.path_on(older, paths::parent(key), paths::parent(&n.path));
        let spelled = paths::join(&parent, paths::file_name(&n.path));
        self.planned_path[older].insert(key.to_owned(), spelled);
        self.copy_new(
            key,
            newer,
            n,
            rule,
            format!("{why}: the newer version from {newer}"),
        );
    }

    /// Newer overwrites older; the older version goes to trash (soft-delete policy).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn overwrite(
        &mut self,
        key: &str,
        rule: Rule,
        why: &str,
        option: &str,
        l: &Entry,
        r: &Entry,
        props_only: bool,
    ) {
        let newer = Self::newer(l, r);
        let older = newer.other();
        let (n, o) = if newer == Side::Left { (l, r) } else { (r, l) };
        let reason = format!("{why}; {newer} is newer and overwrites {older}");
        let op = self.conflict_op(
            key,
            rule,
            reason,
            newer,
            Resolution::NewerOverwrites,
            option,
            None,
            l,
            r,
        );
        self.push(Phase::Aside, op);
        if props_only {
            self.props(key, newer, n, o, rule, why);
            return;
        }
        // The copy itself moves the replaced version to trash (soft-delete
        // policy), as every copy that replaces a file does.
        self.copy_over(
            key,
            newer,
            n,
            o,
            rule,
            format!("{why}: newer version from {newer}; the {older} one goes to trash"),
        );
    }

    /// Applies the configured option to a conflict (the one place the
    /// `[conflicts]` policy meets the rule table).
    pub(super) fn conflict(&mut self, key: &str, rule: Rule, why: &str, l: &Entry, r: &Entry) {
        let option = self.input.opts.conflict_option(key, rule);
        match option.action {
            ConflictAction::Clash => self.clash_copies(key, rule, why, option.name, l, r),
            ConflictAction::Leave => {
                let newer = Self::newer(l, r);
                let op = self.conflict_op(
                    key,
                    rule,
                    format!("{why}; left alone for the admin (resolve with `twinsync resolve`)"),
                    newer,
                    Resolution::LeftAlone,
                    option.name,
                    None,
                    l,
                    r,
                );
                self.push(Phase::Aside, op);
            }
            ConflictAction::NewerWins => {
                self.overwrite(key, rule, why, option.name, l, r, rule == Rule::PropsBoth);
            }
        }
    }

    /// A file on one side, a folder on the other: the file moves to a clash name.
    pub(super) fn kind_clash(&mut self, key: &str, l: &Entry, r: &Entry) {
        let (fside, f, d) = if l.kind == Kind::File {
            (Side::Left, l, r)
        } else {
            (Side::Right, r, l)
        };
        let dside = fside.other();
        let clash = self.clash_path(&f.path);
        let clash_key = self.key(&clash);
        let why = format!("a file on {fside}, a folder on {dside}");
        let mut c = self.conflict_op(
            key,
            Rule::KindClash,
            format!(
                "{why}: the file is renamed to `{}` and both are synced",
                paths::file_name(&clash)
            ),
            fside,
            Resolution::ClashCopies,
            "kind",
            Some(&clash),
            l,
            r,
        );
        if let Step::Conflict(ci) = &mut c.step {
            ci.conflict.newer = dside;
            ci.conflict.older = fside;
        }
        self.push(Phase::Aside, c);
        self.move_aside(
            key,
            &clash_key,
            fside,
            f,
            &clash,
            Rule::KindClash,
            format!("{why}: the file moves aside"),
        );
        self.removed[fside].insert(key.to_owned());
        self.late_dirs[fside].push(key.to_owned());
        self.mkdir_in(
            Phase::Aside,
            key,
            fside,
            d,
            Rule::KindClash,
            format!("{why}: the folder is created on {fside}"),
        );
        let mut moved = f.clone();
        moved.path.clone_from(&clash);
        self.copy_new(
            &clash_key,
            fside,
            &moved,
            Rule::KindClash,
            format!("{why}: the file, under its clash name"),
        );
        self.added[fside].insert(clash_key);
    }

    pub(super) fn resolve(&mut self, key: &str, rule: Rule, keep: Keep, l: &Entry, r: &Entry) {
        let why = format!("conflict resolved by the admin (keep {keep})");
        let winner = match keep {
            Keep::Both => {
                self.clash_copies(key, rule, &why, "resolve", l, r);
                return;
            }
            Keep::Left => Side::Left,
            Keep::Right => Side::Right,
        };
        let (w, o) = if winner == Side::Left { (l, r) } else { (r, l) };
        let mut c = self.conflict_op(
            key,
            rule,
            why.clone(),
            winner,
            Resolution::KeepSide,
            "resolve",
            None,
            l,
            r,
        );
        if let Step::Conflict(ci) = &mut c.step {
            ci.conflict.newer = winner;
            ci.conflict.older = winner.other();
        }
        self.push(Phase::Aside, c);
        // The copy moves the version it replaces to trash.
        self.copy_over(key, winner, w, o, rule, why);
    }
}
