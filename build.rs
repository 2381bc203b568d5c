//! Build script: the commit `twinsync --version` shows (`TWINSYNC_COMMIT`).
//!
//! Invariant: it never fails the build. The commit comes from the
//! environment variable `TWINSYNC_COMMIT` when set (a CI or cross build may
//! pass it), else from `git rev-parse --short HEAD` in the crate's folder,
//! else it is "unknown" (a source tarball, no git installed, a Windows
//! cross-build without the repository).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TWINSYNC_COMMIT");
    let commit = std::env::var("TWINSYNC_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TWINSYNC_COMMIT={}", commit.trim());
    // Run again when HEAD moves (a commit, a checkout): HEAD itself and the
    // branch it points at (in a worktree HEAD lives in the worktree's git
    // dir, the branches in the common one). Not every branch: other
    // branches' commits must not rebuild this one.
    let Some(git_dir) = git(&["rev-parse", "--git-dir"]) else {
        return;
    };
    let git_dir = Path::new(git_dir.trim()).to_path_buf();
    let head = git_dir.join("HEAD");
    println!("cargo:rerun-if-changed={}", head.display());
    let common = git(&["rev-parse", "--git-common-dir"])
        .map_or_else(|| git_dir.clone(), |c| Path::new(c.trim()).to_path_buf());
    if let Some(branch) = std::fs::read_to_string(&head)
        .ok()
        .and_then(|h| h.trim().strip_prefix("ref: ").map(str::to_owned))
    {
        for p in [common.join(&branch), common.join("packed-refs")] {
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
}

/// A git command's output in the crate's folder, if git ran and succeeded.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout)
        .ok()
        .filter(|s| !s.trim().is_empty())
}
