//! The Windows primitives behind [`super::RealFs`]: times and attributes
//! (on the open handle where possible), the rename that never replaces
//! (`MoveFileExW`), and free space.

use crate::fs::attr;
use std::fs::{self, OpenOptions};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::SystemTime;

const FILE_WRITE_ATTRIBUTES: u32 = 0x100;

pub(super) fn set_mtime(p: &Path, t: SystemTime) -> std::io::Result<()> {
    OpenOptions::new()
        .access_mode(FILE_WRITE_ATTRIBUTES)
        .open(p)?
        .set_times(fs::FileTimes::new().set_modified(t))
}

pub(super) fn set_props(p: &Path, props: u32) -> std::io::Result<()> {
    let cur = fs::symlink_metadata(p)?.file_attributes();
    crate::win::set_attributes(p, (cur & !attr::SYNCED) | (props & attr::SYNCED))
}

/// `SetFileTime` on the open file; the attributes by path, and only
/// when the synced ones differ from the new file's (rarely).
pub(super) fn set_on_handle(
    f: &fs::File,
    p: &Path,
    t: SystemTime,
    props: u32,
) -> Result<Option<fs::Metadata>, (&'static str, std::io::Error)> {
    f.set_times(fs::FileTimes::new().set_modified(t))
        .map_err(|e| ("set mtime", e))?;
    let md = f.metadata().map_err(|e| ("set properties", e))?;
    let cur = md.file_attributes();
    if cur & attr::SYNCED == props & attr::SYNCED {
        return Ok(Some(md));
    }
    crate::win::set_attributes(p, (cur & !attr::SYNCED) | (props & attr::SYNCED))
        .map(|()| None)
        .map_err(|e| ("set properties", e))
}

pub(super) fn clear_readonly(p: &Path) -> bool {
    match fs::symlink_metadata(p) {
        Ok(md) if md.file_attributes() & attr::READONLY != 0 => {
            crate::win::set_attributes(p, md.file_attributes() & !attr::READONLY).is_ok()
        }
        _ => false,
    }
}

pub(super) fn free_space(p: &Path) -> Option<u64> {
    crate::win::free_space(p).ok()
}

/// The file's own flush (never called: see `syncs_in_batches`).
pub(super) fn sync_fs_of(f: &fs::File) -> std::io::Result<()> {
    f.sync_all()
}

pub(super) fn syncfs_honoured(_f: &fs::File) -> bool {
    false
}

pub(super) fn syncfs_honoured_at(_p: &Path) -> bool {
    false
}

/// `MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`.
pub(super) fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<Option<bool>> {
    crate::win::rename_no_replace(from, to).map(Some)
}
