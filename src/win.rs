//! Windows FFI: the few calls std does not offer (setting hidden/system
//! attributes). The only module allowed `unsafe`; each call is a plain Win32
//! function taking a NUL-terminated wide path.
#![allow(unsafe_code)]

use std::os::windows::ffi::OsStrExt;
use std::path::Path;

/// NUL-terminated UTF-16 path, with the `\\?\` prefix for long absolute paths.
fn wide(p: &Path) -> Vec<u16> {
    let s = p.as_os_str();
    let mut v: Vec<u16> = Vec::with_capacity(s.len() + 8);
    let long = s.len() >= 248 && p.is_absolute() && !s.to_string_lossy().starts_with(r"\\");
    if long {
        v.extend(r"\\?\".encode_utf16());
    }
    v.extend(s.encode_wide());
    v.push(0);
    v
}

/// Sets a file's attributes (0 becomes `FILE_ATTRIBUTE_NORMAL`).
///
/// # Errors
/// The OS error of `SetFileAttributesW`.
pub fn set_attributes(p: &Path, attrs: u32) -> std::io::Result<()> {
    use windows_sys::Win32::Storage::FileSystem::{FILE_ATTRIBUTE_NORMAL, SetFileAttributesW};
    let w = wide(p);
    let a = if attrs == 0 {
        FILE_ATTRIBUTE_NORMAL
    } else {
        attrs
    };
    // SAFETY: `w` is a valid NUL-terminated UTF-16 string that outlives the call.
    let ok = unsafe { SetFileAttributesW(w.as_ptr(), a) };
    if ok == 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A file's id on its volume (volume serial number, file index), read from
/// a handle opened with no data access: cheap, never recalls a cloud
/// placeholder, works on folders and on files another process holds open.
///
/// # Errors
/// The OS error of opening the handle or of `GetFileInformationByHandle`.
pub fn file_id(p: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
        GetFileInformationByHandle,
    };
    let f = std::fs::OpenOptions::new()
        .access_mode(0)
        .share_mode(7) // read | write | delete: never in anyone's way
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(p)?;
    // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is a valid value (plain integers).
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open for the duration of the call; `info` is a valid out pointer.
    let ok = unsafe { GetFileInformationByHandle(f.as_raw_handle(), &raw mut info) };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((
        u64::from(info.dwVolumeSerialNumber),
        (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
    ))
}
