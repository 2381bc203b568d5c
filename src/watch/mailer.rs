//! The mailer thread of `watch`: sends the alert outbox from its own state
//! connection, so a slow or dead mail server never delays a sync cycle.

use crate::config::Config;
use crate::log::Logger;
use crate::state::State;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Starts the mailer when email is enabled. It tries every 5 s (the
/// outbox's own backoff and digest window decide what is sent), and once
/// more when stopped.
pub(super) fn start_mailer(
    cfg: &Config,
    stop: &Arc<AtomicBool>,
    log: Arc<Logger>,
) -> Option<std::thread::JoinHandle<()>> {
    if !cfg.raw.email.enabled {
        return None;
    }
    let (cfg, stop) = (cfg.clone(), Arc::clone(stop));
    Some(std::thread::spawn(move || {
        let Ok(state) = State::open(&cfg.state_db) else {
            return;
        };
        let digest = i64::try_from(cfg.raw.email.digest_seconds).unwrap_or(60);
        while !stop.load(Ordering::SeqCst) {
            crate::alert::flush_with(&cfg, &state, &log, digest);
            for _ in 0..50 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // Last chance before exiting: what is queued goes out now.
        crate::alert::flush_with(&cfg, &state, &log, 0);
    }))
}
