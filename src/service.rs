//! The Windows service (SPEC §13): `service install|uninstall|run`
//! (compiled on Windows only; elsewhere the command line says so).
//!
//! `install` registers `twinsync service run --config <abs path>` to start
//! at boot under the given account, with restart-on-failure actions.
//! `run` is what the Service Control Manager starts: it reports Running,
//! runs `watch` until a Stop arrives, then reports Stopped. Progress goes to
//! the log file (there is no terminal).

use crate::error::RunError;
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

fn err(e: impl std::fmt::Display) -> RunError {
    RunError::Other(format!("service: {e}"))
}

/// `service run`: what the Service Control Manager starts.
///
/// # Errors
/// Not started by the Service Control Manager.
pub fn run(cfg_path: &Path) -> Result<i32, RunError> {
    let abs = std::fs::canonicalize(cfg_path).unwrap_or_else(|_| cfg_path.to_path_buf());
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
    let cfg = std::fs::canonicalize(cfg_path)
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
        .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)
        .map_err(err)?;
    let restart = ScAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(30),
    };
    svc.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart.clone(), restart.clone(), restart]),
    })
    .map_err(err)?;
    // SPEC §13: restart also when `watch` stops with an error (a non-zero
    // exit code), not only when the process crashes.
    svc.set_failure_actions_on_non_crash_failures(true)
        .map_err(err)?;
    let _ = svc
        .set_description("Two-way sync of the office share and the cloud drive (twinsync watch)");
    crate::outln!(
        "Service `{NAME}` installed (automatic start, restart on failure). Start it with: sc start {NAME}"
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
    let set = |state, code| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(code),
            checkpoint: 0,
            wait_hint: Duration::from_secs(30),
            process_id: None,
        });
    };
    set(ServiceState::Running, 0);
    let code = match CONFIG.get().map(|p| crate::config::Config::load(p)) {
        Some(Ok(cfg)) => match crate::watch::run(&cfg, None, false, Some(stop)) {
            Ok(_) => 0,
            Err(_) => 1,
        },
        _ => 1,
    };
    set(ServiceState::Stopped, code);
}
