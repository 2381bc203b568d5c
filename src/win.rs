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
