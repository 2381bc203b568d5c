//! What is never synced on a side: the marker, twinsync's temp names, the
//! trash folder inside a root, files such as a log or state DB that lie
//! inside a root, and the `exclude` patterns (gitignore syntax, SPEC §3).
//!
//! Path-only: the same rules decide for a walk, a watcher event and a
//! plan, without touching a disk.

use crate::paths;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Patterns the matcher cannot take (loading the config rejects them).
#[derive(Debug, thiserror::Error)]
pub enum ExcludeError {
    /// One pattern is not valid gitignore syntax.
    #[error("pattern `{pattern}`: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: ignore::Error,
    },
    /// The patterns could not be made into one matcher.
    #[error("{0}")]
    Matcher(#[source] ignore::Error),
}

/// More exclusion decided elsewhere (the `[[rules]]` with `exclude =
/// true`): `(path, is_dir) → excluded`, for the path itself (its folders
/// are asked on their own).
pub type ExcludeRule = std::sync::Arc<dyn Fn(&str, bool) -> bool + Send + Sync>;

/// Decides what is never synced.
#[derive(Clone)]
pub struct Excluder {
    matcher: Gitignore,
    case_sensitive: bool,
    trash_key: Option<String>,
    extra_keys: Vec<String>,
    rule: Option<ExcludeRule>,
}

impl std::fmt::Debug for Excluder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Excluder")
            .field("case_sensitive", &self.case_sensitive)
            .field("trash_key", &self.trash_key)
            .field("extra_keys", &self.extra_keys)
            .field("rule", &self.rule.is_some())
            .finish_non_exhaustive()
    }
}

impl Excluder {
    /// Builds the matcher from gitignore-style patterns. `trash` is the trash
    /// folder inside the root, if any; `extra` more relative paths never to
    /// sync (a log file inside a root).
    ///
    /// # Errors
    /// The bad pattern, named.
    pub fn new(
        patterns: &[String],
        case_sensitive: bool,
        trash: Option<&str>,
        extra: Option<&[String]>,
    ) -> Result<Self, ExcludeError> {
        let mut b = GitignoreBuilder::new("");
        b.case_insensitive(!case_sensitive)
            .map_err(ExcludeError::Matcher)?;
        for p in patterns {
            b.add_line(None, p)
                .map_err(|source| ExcludeError::Pattern {
                    pattern: p.clone(),
                    source,
                })?;
        }
        let matcher = b.build().map_err(ExcludeError::Matcher)?;
        Ok(Self {
            matcher,
            case_sensitive,
            trash_key: trash.map(|t| paths::key_of(t, case_sensitive)),
            extra_keys: extra
                .unwrap_or_default()
                .iter()
                .map(|e| paths::key_of(e, case_sensitive))
                .collect(),
            rule: None,
        })
    }

    /// Adds exclusion decided by `rule` (the folder rules).
    #[must_use]
    pub fn with_rule(mut self, rule: ExcludeRule) -> Self {
        self.rule = Some(rule);
        self
    }

    /// The folder rules' say on `path` and, unless `self_only`, its folders.
    fn by_rule(&self, path: &str, is_dir: bool, self_only: bool) -> bool {
        let Some(rule) = &self.rule else {
            return false;
        };
        if rule(path, is_dir) {
            return true;
        }
        !self_only
            && paths::ancestors_or_self(paths::parent(path)).any(|p| !p.is_empty() && rule(p, true))
    }

    /// True if `path` (relative, `/`-separated) must not be synced.
    #[must_use]
    pub fn is_excluded(&self, path: &str, is_dir: bool) -> bool {
        self.is_excluded_self(path)
            || self
                .matcher
                .matched_path_or_any_parents(path, is_dir)
                .is_ignore()
            || self.by_rule(path, is_dir, false)
    }

    /// Like [`Self::is_excluded`] for a walk, where every parent of `path`
    /// was already checked (and not excluded): only the path itself is matched.
    #[must_use]
    pub fn is_excluded_in_walk(&self, path: &str, is_dir: bool) -> bool {
        self.is_excluded_self(path)
            || self.matcher.matched(path, is_dir).is_ignore()
            || self.by_rule(path, is_dir, true)
    }

    /// True if a `[[rules]]` entry (`exclude = true`) leaves out `path`
    /// itself, in a walk that reached it (its folders were not left out):
    /// what is never synced and never deleted (SPEC §3), unlike what the
    /// `exclude` list leaves out.
    #[must_use]
    pub fn rule_excludes_in_walk(&self, path: &str, is_dir: bool) -> bool {
        !self.is_excluded_self(path) && self.by_rule(path, is_dir, true)
    }

    fn is_excluded_self(&self, path: &str) -> bool {
        paths::is_internal_name(paths::file_name(path))
            || self
                .trash_key
                .as_deref()
                .is_some_and(|t| paths::is_within_key(path, t, self.case_sensitive))
            || self
                .extra_keys
                .iter()
                .any(|e| paths::is_within_key(path, e, self.case_sensitive))
    }
}
