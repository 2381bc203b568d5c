//! Windows FFI: the few calls std does not offer (setting hidden/system
//! attributes, file ids, free space, the Event Log and its registry source). The only
//! module allowed `unsafe`; each call is a plain Win32 function taking
//! NUL-terminated wide strings, and every handle is released where it opens.
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

/// Renames `from` to `to` unless something is at `to` (`MoveFileExW`
/// without `MOVEFILE_REPLACE_EXISTING`): `Ok(false)`, nothing renamed,
/// when something is.
///
/// # Errors
/// The OS error of `MoveFileExW` but "already exists".
pub fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<bool> {
    use windows_sys::Win32::Foundation::{ERROR_ALREADY_EXISTS, ERROR_FILE_EXISTS};
    use windows_sys::Win32::Storage::FileSystem::MoveFileExW;
    let (f, t) = (wide(from), wide(to));
    // SAFETY: `f` and `t` are valid NUL-terminated UTF-16 strings that
    // outlive the call.
    if unsafe { MoveFileExW(f.as_ptr(), t.as_ptr(), 0) } != 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error().and_then(|c| u32::try_from(c).ok()) {
        Some(ERROR_ALREADY_EXISTS | ERROR_FILE_EXISTS) => Ok(false),
        _ => Err(e),
    }
}

/// Bytes free for the calling user on the volume holding `p` (quotas
/// count), from `GetDiskFreeSpaceExW`.
///
/// # Errors
/// The OS error of `GetDiskFreeSpaceExW`.
pub fn free_space(p: &Path) -> std::io::Result<u64> {
    use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;
    let w = wide(p);
    let mut avail: u64 = 0;
    // SAFETY: `w` is a valid NUL-terminated UTF-16 string that outlives the
    // call; `avail` is a valid out pointer; the two other outputs may be null.
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            w.as_ptr(),
            &raw mut avail,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(avail)
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

/// NUL-terminated UTF-16 text.
fn wide_str(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// How serious an Event Log entry is.
#[derive(Debug, Clone, Copy)]
pub enum EventKind {
    Information,
    Warning,
    Error,
}

/// Writes one entry to the Windows Application log under `source`
/// (SPEC §13: the service's start, stop and fatal errors). Best effort:
/// false if the log could not be written (the JSON log still has it).
pub fn report_event(source: &str, kind: EventKind, id: u32, text: &str) -> bool {
    use windows_sys::Win32::System::EventLog::{
        DeregisterEventSource, EVENTLOG_ERROR_TYPE, EVENTLOG_INFORMATION_TYPE,
        EVENTLOG_WARNING_TYPE, RegisterEventSourceW, ReportEventW,
    };
    let src = wide_str(source);
    let msg = wide_str(text);
    let ty = match kind {
        EventKind::Information => EVENTLOG_INFORMATION_TYPE,
        EventKind::Warning => EVENTLOG_WARNING_TYPE,
        EventKind::Error => EVENTLOG_ERROR_TYPE,
    };
    // SAFETY: `src` and `msg` are NUL-terminated UTF-16 strings that outlive
    // the calls; the handle is checked and released exactly once.
    unsafe {
        let h = RegisterEventSourceW(std::ptr::null(), src.as_ptr());
        if h.is_null() {
            return false;
        }
        let strings = [msg.as_ptr()];
        let ok = ReportEventW(
            h,
            ty,
            0,
            id,
            std::ptr::null_mut(),
            1,
            0,
            strings.as_ptr(),
            std::ptr::null(),
        );
        DeregisterEventSource(h);
        ok != 0
    }
}

const EVENTLOG_KEY: &str = r"SYSTEM\CurrentControlSet\Services\EventLog\Application\";

/// Registers `source` in the Application log, so Event Viewer shows its
/// entries' text: the message file is .NET's `EventLogMessages.dll` (every
/// event id is "%1", present on every Windows Server with .NET 4), when
/// it is there.
///
/// # Errors
/// The OS error of creating the registry key (not elevated, for one).
pub fn register_event_source(source: &str) -> std::io::Result<()> {
    use windows_sys::Win32::System::Registry::{
        HKEY, HKEY_LOCAL_MACHINE, KEY_SET_VALUE, REG_DWORD, REG_EXPAND_SZ, REG_OPTION_NON_VOLATILE,
        RegCloseKey, RegCreateKeyExW, RegSetValueExW,
    };
    let key = wide_str(&format!("{EVENTLOG_KEY}{source}"));
    let mut h: HKEY = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings, out-pointer to a local HKEY.
    let rc = unsafe {
        RegCreateKeyExW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            0,
            std::ptr::null(),
            REG_OPTION_NON_VOLATILE,
            KEY_SET_VALUE,
            std::ptr::null(),
            &raw mut h,
            std::ptr::null_mut(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc as i32));
    }
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
    let dll = r"Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll";
    let mut rc = 0;
    if Path::new(&root).join(dll).is_file() {
        let file = wide_str(&format!(r"%SystemRoot%\{dll}"));
        // SAFETY: `h` is open; the value is `file.len() * 2` bytes.
        rc = unsafe {
            RegSetValueExW(
                h,
                wide_str("EventMessageFile").as_ptr(),
                0,
                REG_EXPAND_SZ,
                file.as_ptr().cast(),
                u32::try_from(file.len() * 2).unwrap_or(0),
            )
        };
    }
    let types: u32 = 7; // error | warning | information
    if rc == 0 {
        // SAFETY: `h` is open; the value is 4 bytes.
        rc = unsafe {
            RegSetValueExW(
                h,
                wide_str("TypesSupported").as_ptr(),
                0,
                REG_DWORD,
                (&raw const types).cast(),
                4,
            )
        };
    }
    // SAFETY: `h` was opened above and is closed once.
    unsafe { RegCloseKey(h) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc as i32))
    }
}

/// Removes what [`register_event_source`] made (past entries stay).
pub fn remove_event_source(source: &str) {
    use windows_sys::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RegDeleteKeyW};
    let key = wide_str(&format!("{EVENTLOG_KEY}{source}"));
    // SAFETY: a valid NUL-terminated string.
    unsafe { RegDeleteKeyW(HKEY_LOCAL_MACHINE, key.as_ptr()) };
}
