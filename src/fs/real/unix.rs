//! The Unix primitives behind [`super::RealFs`]: times and permission
//! bits (on the open handle where possible), the rename that never
//! replaces (`renameat2`), `syncfs` for batches, and free space (`statvfs`).

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

pub(super) fn set_mtime(p: &Path, t: SystemTime) -> std::io::Result<()> {
    File::open(p)?.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
}

pub(super) fn set_props(p: &Path, props: u32) -> std::io::Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(props & 0o7777))
}

/// `futimens` on the open file, then `fchmod` when its mode (read
/// with `fstat`) is not `props` already: a new file is usually made
/// with the source's mode (0666 less the umask). Returns the metadata
/// read when nothing changed after it (the caller's read-back).
pub(super) fn set_on_handle(
    f: &File,
    _p: &Path,
    t: SystemTime,
    props: u32,
) -> Result<Option<fs::Metadata>, (&'static str, std::io::Error)> {
    f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
        .map_err(|e| ("set mtime", e))?;
    let want = props & 0o7777;
    match f.metadata() {
        Ok(md) if md.permissions().mode() & 0o7777 == want => Ok(Some(md)),
        _ => f
            .set_permissions(fs::Permissions::from_mode(want))
            .map(|()| None)
            .map_err(|e| ("set properties", e)),
    }
}

pub(super) fn clear_readonly(_p: &Path) -> bool {
    false
}

/// File systems whose `syncfs` writes out every file's data and
/// metadata: ext2/3/4, XFS, Btrfs, F2FS, tmpfs (`statfs`'s `f_type`).
#[cfg(target_os = "linux")]
const SYNCFS_HONOURED: [i128; 5] = [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010, 0x0102_1994];

/// Whether the file system holding `f` honours `syncfs`.
pub(super) fn syncfs_honoured(f: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::fstatfs(f).is_ok_and(|s| SYNCFS_HONOURED.contains(&i128::from(s.f_type)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = f;
        false
    }
}

/// Whether the file system holding `p` honours `syncfs`.
pub(super) fn syncfs_honoured_at(p: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::statfs(p).is_ok_and(|s| SYNCFS_HONOURED.contains(&i128::from(s.f_type)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = p;
        false
    }
}

/// `syncfs` of the file system holding `f` (Linux); elsewhere the file's
/// own `fsync` (never called there: see `syncs_in_batches`).
pub(super) fn sync_fs_of(f: &File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(f).map_err(Into::into)
    }
    #[cfg(not(target_os = "linux"))]
    {
        f.sync_all()
    }
}

/// `renameat2(RENAME_NOREPLACE)`: `Some(false)` when `to` exists,
/// `None` when the file system (or the OS) has no such rename.
pub(super) fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<Option<bool>> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(Some(true)),
            Err(Errno::EXIST) => Ok(Some(false)),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (from, to);
        Ok(None)
    }
}

/// `statvfs`: the blocks available to unprivileged users.
pub(super) fn free_space(p: &Path) -> Option<u64> {
    let v = rustix::fs::statvfs(p).ok()?;
    v.f_bavail.checked_mul(v.f_frsize)
}
