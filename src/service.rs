//! The Windows service (SPEC §13): `service install|uninstall|run`
//! (compiled on Windows only; elsewhere the command line says so).
//!
//! `install` registers `twinsync service run --config <abs path>` to start
//! at boot under the given account, with restart-on-failure actions.
//! `run` is what the Service Control Manager starts: it reports Running,
//! runs `watch` until a Stop arrives, then reports Stopped (with the exit
//! code of `watch`: non-zero makes the failure actions restart it). Progress
//! goes to the log file (there is no terminal); start, stop and fatal errors
//! also go to the Windows Application log, source `twinsync` (ids 1, 2, 3).

use crate::error::RunError;
use crate::win::EventKind;
use serde_json::json;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use windows_service::service::{
    ServiceAccess, ServiceAction as ScAction, ServiceActionType, ServiceControl,
    ServiceControlAccept, ServiceErrorControl, ServiceExitCode, ServiceFailureActions,
    ServiceFailureResetPeriod, ServiceInfo, ServiceStartType, ServiceState, ServiceStatus,
    ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

const NAME: &str = "twinsync";
static CONFIG: OnceLock<PathBuf> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// The error with its causes (windows-service's own message is generic,
/// "IO error in winapi call"; the OS error is its source).
fn err(e: impl std::fmt::Display) -> RunError {
    RunError::Other(format!("service: {e}"))
}

fn err_chain(e: &(dyn std::error::Error + 'static)) -> RunError {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cur = c.source();
    }
    err(text)
}

/// `service run`: what the Service Control Manager starts.
///
/// # Errors
/// Not started by the Service Control Manager.
pub fn run(cfg_path: &Path) -> Result<i32, RunError> {
    let abs = dunce::canonicalize(cfg_path).unwrap_or_else(|_| cfg_path.to_path_buf());
    let _ = CONFIG.set(abs);
    service_dispatcher::start(NAME, ffi_service_main).map_err(|e| {
        err(format!("{e} (`service run` is started by the Service Control Manager; to run in a console use `twinsync watch`)"))
    })?;
    Ok(0)
}

/// `service install`: registers the service.
///
/// # Errors
/// The service manager's error, with what to check.
pub fn install(
    cfg_path: &Path,
    account: Option<String>,
    password: Option<String>,
) -> Result<i32, RunError> {
    let cfg = dunce::canonicalize(cfg_path)
        .map_err(|e| err(format!("config `{}`: {e}", cfg_path.display())))?;
    crate::config::Config::load(&cfg)?;
    let exe = std::env::current_exe().map_err(err)?;
    let mgr = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| err(format!("{e} (run from an elevated prompt)")))?;
    let info = ServiceInfo {
        name: OsString::from(NAME),
        display_name: OsString::from("twinsync file sync"),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec![
            OsString::from("--config"),
            cfg.into_os_string(),
            OsString::from("service"),
            OsString::from("run"),
        ],
        dependencies: vec![],
        account_name: account.map(OsString::from),
        account_password: password.map(OsString::from),
    };
    let svc = mgr
        .create_service(
            &info,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::DELETE,
        )
        .map_err(|e| err_chain(&e))?;
    let restart = ScAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(60),
    };
    // Without restart actions the service is not what SPEC §13 asks for:
    // remove it again rather than leave it half-installed.
    if let Err(e) = svc.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart.clone(), restart.clone(), restart]),
    }) {
        let _ = svc.delete();
        return Err(err_chain(&e));
    }
    // SPEC §13: restart also when `watch` stops with an error (a non-zero
    // exit code), not only when the process crashes. Every Windows since
    // Vista supports it; where it is refused (Wine), restart after a crash
    // still holds, and the admin is told.
    if let Err(e) = svc.set_failure_actions_on_non_crash_failures(true) {
        let why = match err_chain(&e) {
            RunError::Other(t) => t,
            other => other.to_string(),
        };
        crate::eoutln!(
            "warning: restart after an error exit could not be set ({why}); the service restarts after a crash only"
        );
    }
    let _ = svc
        .set_description("Two-way sync of the office share and the cloud drive (twinsync watch)");
    // Start, stop and fatal errors go to the Application log as source
    // `twinsync` too; without the source, Event Viewer shows the text with
    // a "description cannot be found" preamble, which is still readable.
    if let Err(e) = crate::win::register_event_source(NAME) {
        crate::eoutln!("warning: Event Log source `{NAME}` not registered: {e}");
    }
    crate::outln!(
        "Service `{NAME}` installed (automatic start, restart on failure after 1 minute). Start it with: sc start {NAME}"
    );
    Ok(0)
}

/// `service uninstall`: stops and removes the service.
///
/// # Errors
/// The service manager's error.
pub fn uninstall() -> Result<i32, RunError> {
    let mgr =
        ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT).map_err(err)?;
    let svc = mgr
        .open_service(
            NAME,
            ServiceAccess::STOP | ServiceAccess::DELETE | ServiceAccess::QUERY_STATUS,
        )
        .map_err(err)?;
    let _ = svc.stop();
    svc.delete().map_err(err)?;
    crate::win::remove_event_source(NAME);
    crate::outln!("Service `{NAME}` removed.");
    Ok(0)
}

fn service_main(_args: Vec<OsString>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    let handler = move |ctrl| match ctrl {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            s2.store(true, Ordering::SeqCst);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(status) = service_control_handler::register(NAME, handler) else {
        return;
    };
    let set = |state, exit_code| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code,
            checkpoint: 0,
            wait_hint: Duration::from_secs(30),
            process_id: None,
        });
    };
    set(ServiceState::Running, ServiceExitCode::Win32(0));
    let code = run_watch(&stop);
    set(
        ServiceState::Stopped,
        if code == 0 {
            ServiceExitCode::Win32(0)
        } else {
            // Non-zero: the Service Control Manager's failure actions
            // (restart after a minute) apply, crash or not.
            ServiceExitCode::ServiceSpecific(u32::try_from(code).unwrap_or(1))
        },
    );
}

/// Event ids of the Application log entries (source `twinsync`).
const EVENT_STARTED: u32 = 1;
const EVENT_STOPPED: u32 = 2;
const EVENT_FATAL: u32 = 3;

fn event(kind: EventKind, id: u32, text: &str) {
    crate::win::report_event(NAME, kind, id, text);
}

/// Runs `watch` for the service and says so in the Event Log and the JSON
/// log; returns the exit code (0 after a requested stop).
fn run_watch(stop: &Arc<AtomicBool>) -> i32 {
    let Some(path) = CONFIG.get() else {
        event(
            EventKind::Error,
            EVENT_FATAL,
            "twinsync service: no config path given",
        );
        return 1;
    };
    let cfg = match crate::config::Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            let e = RunError::from(e);
            event(
                EventKind::Error,
                EVENT_FATAL,
                &format!("twinsync service cannot start: {e}"),
            );
            return e.exit_code();
        }
    };
    let log = crate::log::Logger::from_config(&cfg);
    let started = format!("twinsync service started (config {})", path.display());
    log.info("scan", json!({"note": started}));
    event(EventKind::Information, EVENT_STARTED, &started);
    match crate::watch::run(&cfg, None, false, false, Some(Arc::clone(stop))) {
        Ok(code) => {
            log.info("scan", json!({"note": "twinsync service stopped"}));
            event(
                EventKind::Information,
                EVENT_STOPPED,
                "twinsync service stopped",
            );
            code
        }
        Err(e) => {
            let text = format!("twinsync service stopped by a fatal error: {e}");
            log.error("error", json!({"error": e.to_string(), "note": text}));
            event(EventKind::Error, EVENT_FATAL, &text);
            e.exit_code()
        }
    }
}
