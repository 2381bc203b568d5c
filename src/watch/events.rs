//! Where `watch` learns that something happened: file-system watchers on
//! both roots, stop requests (Ctrl-C, SIGTERM), and the large-file lane
//! finishing a batch all arrive as one [`Wake`] channel; [`wait`] collects
//! them, debounced, into the [`Dirty`] set the next cycle rescans.
//!
//! Invariant: an event only ever adds work (a folder to re-list, a side to
//! walk in full); a missed event is caught by the periodic full scan, never
//! read as a deletion.

use crate::config::Config;
use crate::log::Logger;
use crate::{PerSide, Side};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Installs Ctrl-C / SIGTERM handling that sets `stop`; where it cannot
/// (a handler is already set), logs why: a stop then ends the process
/// without letting the step in progress finish (the journal still tells
/// the next start where it stood).
pub(super) fn install_stop(stop: &Arc<AtomicBool>, log: &Logger) {
    let s = Arc::clone(stop);
    if let Err(e) = ctrlc::set_handler(move || s.store(true, Ordering::SeqCst)) {
        log.warn(
            "error",
            json!({"error": format!("cannot handle Ctrl-C: {e}")}),
        );
    }
}

/// What woke the loop.
pub(super) enum Wake {
    /// File-system events on a side, with the relative paths they named.
    Event(Side, Vec<String>),
    /// A watcher reported an error (overflow…): rescan that side fully.
    Overflow(Side),
    /// The large-file lane finished a batch: its keys, and the paths it wrote.
    LaneDone(Vec<String>, Vec<(Side, String)>),
    /// The dashboard asked for a cycle now (an action, "sync now"): both
    /// sides are scanned in full.
    Now,
}

/// File-system watchers on both roots.
pub(super) struct Watchers {
    pub(super) w: PerSide<Option<notify::RecommendedWatcher>>,
    pub(super) working: PerSide<bool>,
}

/// False for events that change nothing: opening, reading and closing
/// without writing (inotify reports those; our own scans and background
/// hashing open every folder and many files, and taking them for changes
/// would turn every quiet cycle into a full scan). A close after writing
/// is kept: it marks a file finished.
fn changes_content(kind: notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Starts the watcher of one root; `None` (logged) where none can be set up.
pub(super) fn start_watcher(
    cfg: &Config,
    side: Side,
    tx: &Sender<Wake>,
    log: &Logger,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let root = cfg.root(side).to_path_buf();
    let ex = match cfg.excluder(side) {
        Ok(ex) => ex,
        Err(e) => {
            log.warn(
                "scan",
                json!({"side": side, "note": "no file-system watcher on this side: polling it (a full scan every cycle)", "error": e.to_string()}),
            );
            return None;
        }
    };
    let tx = tx.clone();
    let root2 = root.clone();
    let handler = move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            if ev.need_rescan() {
                // (Nobody listens only once the loop has ended.)
                let _ = tx.send(Wake::Overflow(side));
                return;
            }
            if !changes_content(ev.kind) {
                return;
            }
            let rels: Vec<String> = ev
                .paths
                .iter()
                .filter_map(|p| p.strip_prefix(&root2).ok())
                .map(|rel| rel.to_string_lossy().replace('\\', "/"))
                .filter(|rel| !rel.is_empty() && !ex.is_excluded(rel, false))
                .collect();
            if !rels.is_empty() {
                let _ = tx.send(Wake::Event(side, rels));
            }
        }
        Err(_) => {
            let _ = tx.send(Wake::Overflow(side));
        }
    };
    match notify::recommended_watcher(handler)
        .and_then(|mut w| w.watch(&root, notify::RecursiveMode::Recursive).map(|()| w))
    {
        Ok(w) => Some(w),
        Err(e) => {
            log.warn(
                "scan",
                json!({"side": side, "note": "no file-system watcher on this side: polling it (a full scan every cycle)", "error": e.to_string()}),
            );
            None
        }
    }
}

pub(super) fn start_watchers(cfg: &Config, tx: &Sender<Wake>, log: &Logger) -> Watchers {
    let w = PerSide::from_fn(|side| start_watcher(cfg, side, tx, log));
    let working = PerSide::new(w.left.is_some(), w.right.is_some());
    Watchers { w, working }
}

/// What the events since the last cycle say about each side.
#[derive(Default)]
pub(super) struct Dirty {
    /// Relative paths named by events.
    pub(super) paths: PerSide<HashSet<String>>,
    /// A watcher overflowed or failed: rescan that side fully.
    pub(super) full: PerSide<bool>,
    /// The large-file lane finished a batch (its held paths can be planned again).
    pub(super) lane_done: bool,
    /// Keys the lane finished: released from the hold before the next cycle.
    pub(super) released: Vec<String>,
}

impl Dirty {
    pub(super) fn any(&self) -> bool {
        self.full.values().any(|f| *f)
            || self.paths.values().any(|p| !p.is_empty())
            || self.lane_done
    }
}

/// Above this many event paths on a side, a full rescan is cheaper.
const MAX_EVENT_PATHS: usize = 2000;

/// Waits for the next cycle: the interval, or events (debounced: until they
/// pause for 300 ms, at most 2 s after the first), or stop.
pub(super) fn wait(rx: &Receiver<Wake>, stop: &AtomicBool, max: Duration) -> Dirty {
    let mut d = Dirty::default();
    let end = Instant::now() + max;
    let mut first: Option<Instant> = None;
    let mut quiet_until: Option<Instant> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return d;
        }
        let now = Instant::now();
        let deadline = quiet_until.map_or(end, |q| q.min(end));
        if now >= deadline {
            return d;
        }
        let step = (deadline - now).min(Duration::from_millis(100));
        let mut debounce = |now: Instant| {
            let f = *first.get_or_insert(now);
            quiet_until = Some((now + Duration::from_millis(300)).min(f + Duration::from_secs(2)));
        };
        match rx.recv_timeout(step) {
            Ok(Wake::Event(s, paths)) => {
                if d.paths[s].len() + paths.len() > MAX_EVENT_PATHS {
                    d.full[s] = true;
                    d.paths[s].clear();
                } else if !d.full[s] {
                    d.paths[s].extend(paths);
                }
                debounce(Instant::now());
            }
            Ok(Wake::Overflow(s)) => {
                d.full[s] = true;
                debounce(Instant::now());
            }
            Ok(Wake::LaneDone(keys, written)) => {
                d.released.extend(keys);
                for (s, p) in written {
                    d.paths[s].insert(p);
                }
                d.lane_done = true;
                quiet_until = Some(Instant::now());
            }
            Ok(Wake::Now) => {
                d.full = PerSide::new(true, true);
                quiet_until = Some(Instant::now());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(step),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::changes_content;
    use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};

    #[test]
    fn reads_are_not_changes_but_writes_are() {
        assert!(!changes_content(EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!changes_content(EventKind::Access(AccessKind::Read)));
        assert!(changes_content(EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_content(EventKind::Modify(ModifyKind::Any)));
        assert!(changes_content(EventKind::Create(CreateKind::File)));
        assert!(changes_content(EventKind::Any));
    }
}
