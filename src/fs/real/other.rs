//! [`super::RealFs`] elsewhere: times only, no attributes, no batched
//! sync, no free space.

use std::path::Path;
use std::time::SystemTime;
pub(super) fn set_mtime(p: &Path, t: SystemTime) -> std::io::Result<()> {
    std::fs::File::open(p)?.set_times(std::fs::FileTimes::new().set_modified(t))
}
pub(super) fn set_props(_p: &Path, _props: u32) -> std::io::Result<()> {
    Ok(())
}
pub(super) fn set_on_handle(
    f: &std::fs::File,
    _p: &Path,
    t: SystemTime,
    _props: u32,
) -> Result<Option<std::fs::Metadata>, (&'static str, std::io::Error)> {
    f.set_times(std::fs::FileTimes::new().set_modified(t))
        .map(|()| None)
        .map_err(|e| ("set mtime", e))
}
pub(super) fn clear_readonly(_p: &Path) -> bool {
    false
}
pub(super) fn rename_no_replace(_from: &Path, _to: &Path) -> std::io::Result<Option<bool>> {
    Ok(None)
}
pub(super) fn sync_fs_of(f: &std::fs::File) -> std::io::Result<()> {
    f.sync_all()
}
pub(super) fn syncfs_honoured(_f: &std::fs::File) -> bool {
    false
}
pub(super) fn syncfs_honoured_at(_p: &Path) -> bool {
    false
}
pub(super) fn free_space(_p: &Path) -> Option<u64> {
    None
}
