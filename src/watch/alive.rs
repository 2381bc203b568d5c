//! The watch's signs of life (see [`crate::state::WatchRun`]): a note in
//! the state DB written at the start, every [`BEAT_SECS`] from its own
//! thread and connection, and at a clean exit. It carries when the watch
//! last got anything done ([`Pulse`]: a cycle ended, a step finished, a
//! copy wrote bytes), so that `status` can say "stopped" or "hangs"
//! instead of "in sync" when the watch is dead or stuck.
//!
//! Invariant: only a watch holding the run lock writes the note (a dry run
//! writes none), and a failure to write it never stops syncing (logged once).

use crate::apply::Progress;
use crate::config::Config;
use crate::log::Logger;
use crate::plan::Op;
use crate::state::{BEAT_SECS, State, WatchRun};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

fn now_s() -> i64 {
    crate::now_ns().div_euclid(1_000_000_000)
}

/// When the watch last got anything done (Unix seconds), and whether it
/// is inside a cycle (waiting between cycles is not being stuck, however
/// long the interval).
#[derive(Debug)]
pub(super) struct Pulse {
    at: AtomicI64,
    in_cycle: AtomicBool,
}

impl Pulse {
    fn new() -> Self {
        Self {
            at: AtomicI64::new(now_s()),
            in_cycle: AtomicBool::new(false),
        }
    }

    /// Something got done now.
    pub(super) fn beat(&self) {
        self.at.store(now_s(), Ordering::Relaxed);
    }

    /// A cycle starts (`true`) or ended (`false`).
    pub(super) fn cycle(&self, running: bool) {
        self.beat();
        self.in_cycle.store(running, Ordering::Relaxed);
    }

    /// The last time something got done; now, between cycles.
    fn at(&self) -> i64 {
        if self.in_cycle.load(Ordering::Relaxed) {
            self.at.load(Ordering::Relaxed)
        } else {
            now_s()
        }
    }
}

impl Progress for Pulse {
    fn copied(&self, _n: u64) {
        self.beat();
    }
    fn step_end(&self, _op: &Op) {
        self.beat();
    }
}

/// The thread that writes the note, and what it reads.
pub(super) struct Heart {
    pub(super) pulse: Arc<Pulse>,
    run: WatchRun,
    state_db: std::path::PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
    log: Arc<Logger>,
}

impl Heart {
    /// Writes the first note now (so `status` sees the watch at once) and
    /// starts beating until `stop`.
    pub(super) fn start(cfg: &Config, stop: &Arc<AtomicBool>, log: Arc<Logger>) -> Self {
        let pulse = Arc::new(Pulse::new());
        let now = now_s();
        let run = WatchRun {
            pid: std::process::id(),
            started_at: now,
            alive_at: now,
            progress_at: now,
            stopped_at: None,
            dead: false,
        };
        let state = State::open(&cfg.state_db);
        let mut warned = false;
        if let Ok(s) = &state {
            write(s, &run, &log, &mut warned);
        }
        let thread = state.ok().map(|state| {
            let (pulse, stop, log, mut run) = (
                Arc::clone(&pulse),
                Arc::clone(stop),
                Arc::clone(&log),
                run.clone(),
            );
            std::thread::spawn(move || {
                let tick = Duration::from_millis(200);
                let per_beat = BEAT_SECS * 5;
                'beat: loop {
                    for _ in 0..per_beat {
                        if stop.load(Ordering::SeqCst) {
                            break 'beat;
                        }
                        std::thread::sleep(tick);
                    }
                    run.alive_at = now_s();
                    run.progress_at = pulse.at();
                    write(&state, &run, &log, &mut warned);
                }
            })
        });
        Self {
            pulse,
            run,
            state_db: cfg.state_db.clone(),
            thread,
            log,
        }
    }

    /// A clean exit: the thread ends and the note says so.
    pub(super) fn stopped(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let now = now_s();
        self.run.alive_at = now;
        self.run.progress_at = self.pulse.at();
        self.run.stopped_at = Some(now);
        if let Ok(s) = State::open(&self.state_db) {
            write(&s, &self.run, &self.log, &mut false);
        }
    }
}

fn write(state: &State, run: &WatchRun, log: &Logger, warned: &mut bool) {
    if let Err(e) = state.set_watch_run(run)
        && !*warned
    {
        *warned = true;
        log.warn(
            "error",
            json!({"error": format!("cannot note the watch's signs of life (status may call it stopped): {e}")}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The note is there from the start, without `stopped_at`; a clean
    /// exit sets it.
    #[test]
    fn the_note_is_written_at_start_and_marked_at_a_clean_exit() {
        let d = tempfile::tempdir().unwrap();
        let cfg = Config::parse(
            &d.path().join("c.toml"),
            "left_root = 'l'\nright_root = 'r'\nstate_db = 's.db'\n",
        )
        .unwrap();
        State::open_or_create(&cfg.state_db).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let heart = Heart::start(&cfg, &stop, Arc::new(Logger::null()));
        let s = State::open(&cfg.state_db).unwrap();
        let run = s.watch_run().unwrap().unwrap();
        assert_eq!(run.pid, std::process::id());
        assert_eq!(run.stopped_at, None);
        heart.pulse.beat();
        stop.store(true, Ordering::SeqCst);
        heart.stopped();
        let run = s.watch_run().unwrap().unwrap();
        assert!(run.stopped_at.is_some_and(|t| t >= run.started_at));
        assert!(run.progress_at >= run.started_at);
    }
}
