//! Tests of `crate::health`.

use super::*;
use crate::plan::guard::Guard;

fn refusal() -> Refusal {
    Refusal {
        guard: Guard::MassDelete,
        side: Side::Right,
        count: 19_900,
        total: 29_900,
        limit_percent: 50,
        since: "2026-12-07T02:33:10Z".into(),
        examples: Vec::new(),
    }
}

fn all() -> Facts {
    Facts {
        paused: Some(crate::control::Pause {
            since: "2026-12-07T02:33:10Z".into(),
            by: "dashboard".into(),
        }),
        unavailable: vec![(Side::Left, "the root does not exist".into(), None)],
        refusal: Some(refusal()),
        conflicts: 1,
        failing: 2,
        skipped: 3,
        steps_pending: 4,
        bytes_pending: 5 << 20,
        no_times: vec![(
            Side::Right,
            None,
            "set mtime: Operation not permitted".into(),
        )],
        low_space: vec![shortfall()],
        undelivered: Some((
            2,
            "2026-12-07T02:33:10Z".into(),
            "550 5.1.1 mailbox unavailable".into(),
        )),
        never_synced: true,
        watch: Some((watch_run(NOW - 3600, NOW - 600), Some(false))),
        now_s: NOW,
    }
}

/// 2026-12-07 03:33:10 UTC.
const NOW: i64 = 1_796_614_390;

/// A watch's note: running since an hour, `progress_at` and `alive_at` given.
fn watch_run(progress_at: i64, alive_at: i64) -> WatchRun {
    WatchRun {
        pid: 4242,
        started_at: NOW - 7200,
        alive_at,
        progress_at,
        stopped_at: None,
        dead: false,
    }
}

fn shortfall() -> crate::apply::space::Shortfall {
    crate::apply::space::Shortfall {
        side: Side::Right,
        place: "root".into(),
        folder: "/mnt/cloud".into(),
        free: 5 << 20,
        need: 300 << 20,
        since: "2026-12-07T02:33:10Z".into(),
        new: false,
    }
}

#[test]
fn nothing_is_in_sync_and_exits_0() {
    let v = verdict(&Facts::default());
    assert_eq!(v.health, Health::InSync);
    assert!(v.reasons.is_empty());
    assert_eq!(v.health.exit_code(), 0);
    assert_eq!(v.headline(), "In sync");
}

#[test]
fn pending_steps_are_working_and_exit_0() {
    let v = verdict(&Facts {
        steps_pending: 2,
        bytes_pending: 3 << 20,
        ..Facts::default()
    });
    assert_eq!(v.health, Health::Working);
    assert_eq!(v.health.exit_code(), 0);
    assert_eq!(v.headline(), "Working: 2 steps pending");
    assert!(
        v.reasons[0].to_string().contains("3 MiB"),
        "{}",
        v.reasons[0]
    );
    assert!(v.needs_admin().is_empty());
}

#[test]
fn each_needs_you_fact_alone_needs_you_and_exits_5() {
    for f in [
        Facts {
            conflicts: 1,
            ..Facts::default()
        },
        Facts {
            failing: 1,
            ..Facts::default()
        },
        Facts {
            skipped: 1,
            ..Facts::default()
        },
        Facts {
            no_times: vec![(Side::Right, None, "refused".into())],
            ..Facts::default()
        },
        Facts {
            low_space: vec![shortfall()],
            ..Facts::default()
        },
        Facts {
            undelivered: all().undelivered,
            ..Facts::default()
        },
    ] {
        let v = verdict(&f);
        assert_eq!(v.health, Health::NeedsYou, "{f:?}");
        assert_eq!(v.health.exit_code(), 5);
        assert_eq!(v.needs_admin().len(), 1);
    }
    let v = verdict(&Facts {
        conflicts: 1,
        skipped: 3,
        ..Facts::default()
    });
    assert_eq!(
        v.headline(),
        "Needs you: 1 unresolved conflict, 3 paths skipped"
    );
}

/// Issue 18: a drive that keeps no times is a needs-you item in the
/// words the admin needs.
#[test]
fn a_drive_that_keeps_no_times_needs_you_in_plain_words() {
    let v = verdict(&Facts {
        no_times: vec![(
            Side::Right,
            Some("2026-12-07T02:33:10Z".into()),
            "set mtime `a.txt`: Operation not permitted".into(),
        )],
        ..Facts::default()
    });
    assert_eq!(v.health, Health::NeedsYou);
    let text = v.reasons[0].to_string();
    assert!(
        text.starts_with("the right drive does not keep modification times; newer-wins decisions there use the drive's times"),
        "{text}"
    );
    assert!(text.contains("Operation not permitted"), "{text}");
    assert_eq!(
        v.headline(),
        "Needs you: the right drive keeps no modification times"
    );
}

/// Issue 22: a disk short of room for the next copies needs you, with
/// the figures and what to do.
#[test]
fn low_free_space_needs_you_with_the_figures() {
    let v = verdict(&Facts {
        low_space: vec![shortfall()],
        ..Facts::default()
    });
    assert_eq!(v.health, Health::NeedsYou);
    assert_eq!(v.headline(), "Needs you: low free space on the right side");
    let text = v.reasons[0].to_string();
    for want in [
        "`/mnt/cloud`",
        "5 MiB free",
        "needed 300 MiB",
        "since 2026-12-0",
        "trash purge",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["reasons"][0]["kind"], "low_space");
    assert_eq!(j["reasons"][0]["need"], 300 << 20);
}

#[test]
fn a_refusal_blocks_exits_4_and_names_guard_counts_and_commands() {
    let v = verdict(&Facts {
        refusal: Some(refusal()),
        ..Facts::default()
    });
    assert_eq!(v.health, Health::Blocked);
    assert_eq!(v.health.exit_code(), 4);
    let text = v.reasons[0].to_string();
    for want in [
        "mass-delete guard",
        "19900 of 29900",
        "right side",
        "`twinsync plan`",
        "`twinsync apply --force`",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert_eq!(
        v.reasons[0].commands(),
        ["twinsync plan", "twinsync apply --force"]
    );
}

#[test]
fn an_unavailable_side_is_not_syncing_exits_3_and_says_since_when() {
    let v = verdict(&Facts {
        unavailable: vec![(
            Side::Right,
            "the root does not exist".into(),
            Some("2026-12-07T02:33:10Z".into()),
        )],
        ..Facts::default()
    });
    assert_eq!(v.health, Health::NotSyncing);
    assert_eq!(v.health.exit_code(), 3);
    let text = v.reasons[0].to_string();
    assert!(
        text.contains("right side is unavailable since 2026-12-0"),
        "{text}"
    );
    assert!(text.contains("the root does not exist"), "{text}");
}

/// not syncing › blocked › needs you › working › in sync; every reason
/// is kept, the most severe first.
#[test]
fn precedence_most_severe_wins_and_every_reason_is_kept() {
    let mut f = all();
    let order = [
        Health::Paused,
        Health::NotSyncing,
        Health::Blocked,
        Health::NeedsYou,
        Health::Working,
        Health::InSync,
    ];
    for want in order {
        let v = verdict(&f);
        assert_eq!(v.health, want, "{f:?}");
        let states: Vec<Health> = v.reasons.iter().map(Reason::health).collect();
        let mut sorted = states.clone();
        sorted.sort_by_key(|h| std::cmp::Reverse(*h));
        assert_eq!(states, sorted, "most severe first");
        // Take away the facts of this state: the next one shows.
        match want {
            Health::Paused => f.paused = None,
            Health::NotSyncing => {
                f.unavailable.clear();
                // The watch, alive now, has got nothing done for an hour.
                f.watch = Some((watch_run(NOW - 3600, NOW - 10), Some(true)));
            }
            Health::Blocked => f.refusal = None,
            Health::NeedsYou => {
                (f.conflicts, f.failing, f.skipped) = (0, 0, 0);
                f.no_times.clear();
                f.low_space.clear();
                f.undelivered = None;
                f.watch = None;
            }
            Health::Working => (f.steps_pending, f.never_synced) = (0, false),
            Health::InSync => {}
        }
    }
    assert_eq!(verdict(&all()).reasons.len(), 12);
}

#[test]
fn json_carries_state_exit_code_and_typed_reasons() {
    let v = verdict(&Facts {
        refusal: Some(refusal()),
        skipped: 1,
        ..Facts::default()
    });
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["state"], "blocked");
    assert_eq!(j["label"], "blocked");
    assert_eq!(j["exit_code"], 4);
    assert_eq!(j["reasons"][0]["kind"], "blocked");
    assert_eq!(j["reasons"][0]["refusal"]["guard"], "mass_delete");
    assert_eq!(j["reasons"][0]["refusal"]["count"], 19_900);
    assert_eq!(j["reasons"][0]["commands"][1], "twinsync apply --force");
    assert_eq!(j["reasons"][1]["kind"], "skipped_paths");
    assert_eq!(j["reasons"][1]["state"], "needs_you");
    assert!(
        j["reasons"][1]["text"]
            .as_str()
            .unwrap()
            .contains("1 path skipped")
    );
}

/// Issue 23: a pause heads the verdict, whatever else is true, says
/// who paused and how to resume, and `status` exits 5.
#[test]
fn a_pause_heads_the_verdict_and_says_how_to_resume() {
    let v = verdict(&all());
    assert_eq!(v.health, Health::Paused);
    assert_eq!(v.health.label(), "paused");
    assert_eq!(v.health.exit_code(), 5);
    assert_eq!(v.headline(), "Paused: paused by the dashboard");
    let text = v.reasons[0].to_string();
    assert!(
        text.starts_with("syncing is paused by the dashboard since 2026-12-0"),
        "{text}"
    );
    assert!(text.contains("`twinsync resume`"), "{text}");
    assert_eq!(v.reasons[0].commands(), ["twinsync resume"]);
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["state"], "paused");
    assert_eq!(j["reasons"][0]["kind"], "paused");
    assert_eq!(j["reasons"][0]["by"], "dashboard");
}

#[test]
fn local_time_is_to_the_second_with_offset() {
    let t = local_time("2026-12-07T02:33:10Z");
    assert_eq!(t.len(), "2026-12-07 03:33:10 +01:00".len(), "{t}");
    assert!(t.contains(":10 "), "{t}");
    assert_eq!(local_time("not a time"), "not a time");
}

/// Audit item 1: what a plan with nothing to apply still leaves open, in
/// the verdict's words; nothing for a true "in sync" (and neither a
/// refusal nor an unavailable side, which a plan that was made has ended
/// or never got past).
#[test]
fn open_items_name_what_needs_you_and_what_is_pending() {
    assert_eq!(verdict(&Facts::default()).open_items(), None);
    let v = verdict(&Facts {
        conflicts: 1,
        skipped: 7,
        steps_pending: 2,
        ..Facts::default()
    });
    assert_eq!(
        v.open_items().as_deref(),
        Some("Needs you: 1 unresolved conflict, 7 paths skipped; working: 2 steps pending")
    );
    let v = verdict(&Facts {
        refusal: Some(refusal()),
        unavailable: vec![(Side::Left, "gone".into(), None)],
        ..Facts::default()
    });
    assert_eq!(v.open_items(), None);
    let open = verdict(&all()).open_items().unwrap();
    assert!(
        open.starts_with("Paused by the dashboard; needs you: "),
        "{open}"
    );
}

/// Alert emails failing to go out for over an hour need the admin: the
/// verdict says how many, since when, what the server said, and the
/// command that sends the queue once `[email]` is fixed.
#[test]
fn alerts_that_cannot_be_delivered_need_you_with_the_error() {
    let v = verdict(&Facts {
        undelivered: all().undelivered,
        ..Facts::default()
    });
    assert_eq!(v.health, Health::NeedsYou);
    assert_eq!(v.headline(), "Needs you: 2 alert emails not delivered");
    let r = &v.reasons[0];
    let text = r.to_string();
    assert!(text.contains("550 5.1.1 mailbox unavailable"), "{text}");
    assert!(text.contains("[email]"), "{text}");
    assert_eq!(r.commands(), ["twinsync alert test"]);
}

/// Nothing ever synced (after `init`): working, exit 0, what to run; a
/// plan's "No changes" is not held back by it (the plan is the first step).
#[test]
fn a_state_db_that_never_synced_is_working_not_in_sync() {
    let v = verdict(&Facts {
        never_synced: true,
        ..Facts::default()
    });
    assert_eq!(v.health, Health::Working);
    assert_eq!(v.health.exit_code(), 0);
    assert_eq!(v.headline(), "Working: no sync has run yet");
    assert_eq!(v.reasons[0].commands(), ["twinsync plan", "twinsync apply"]);
    assert_eq!(v.open_items(), None);
}

/// A watch that died (its note says it runs, nobody holds the lock; or an
/// apply found it so) is not syncing, exit 3, with its last sign of life;
/// one that exited cleanly, or whose lock cannot be looked at, says nothing.
#[test]
fn a_dead_watch_is_not_syncing_and_says_when_it_was_last_seen() {
    let dead = |run: WatchRun, held: Option<bool>| {
        verdict(&Facts {
            watch: Some((run, held)),
            now_s: NOW,
            ..Facts::default()
        })
    };
    // Killed a moment ago (a test, a restart by hand): not yet.
    let just = watch_run(NOW - 100, NOW - STOPPED_AFTER_S + 10);
    assert_eq!(dead(just, Some(false)).health, Health::InSync);
    let v = dead(watch_run(NOW - 400, NOW - 390), Some(false));
    assert_eq!(v.health, Health::NotSyncing);
    assert_eq!(v.health.exit_code(), 3);
    assert_eq!(v.headline(), "Not syncing: the watch is not running");
    let text = v.reasons[0].to_string();
    for want in [
        "stopped without a clean exit",
        "Start-Service twinsync",
        "twinsync watch",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(text.contains(&local_time("2026-12-07T03:26:40Z")), "{text}");
    let found_by_apply = WatchRun {
        dead: true,
        ..watch_run(NOW - 400, NOW - 390)
    };
    assert_eq!(dead(found_by_apply, Some(true)).health, Health::NotSyncing);
    let clean = WatchRun {
        stopped_at: Some(NOW - 350),
        ..watch_run(NOW - 400, NOW - 390)
    };
    assert_eq!(dead(clean, Some(false)).health, Health::InSync);
    assert_eq!(
        dead(watch_run(NOW - 400, NOW - 390), None).health,
        Health::InSync
    );
}

/// A running watch (it holds the lock) that got nothing done for longer
/// than STALLED_AFTER_S needs you, naming its process and since when;
/// a little less is still fine.
#[test]
fn a_watch_that_gets_nothing_done_needs_you() {
    let running = |progress_at: i64| {
        verdict(&Facts {
            watch: Some((watch_run(progress_at, NOW - 5), Some(true))),
            now_s: NOW,
            ..Facts::default()
        })
    };
    assert_eq!(running(NOW - STALLED_AFTER_S + 60).health, Health::InSync);
    let v = running(NOW - STALLED_AFTER_S - 60);
    assert_eq!(v.health, Health::NeedsYou);
    assert_eq!(v.headline(), "Needs you: the watch gets nothing done");
    let text = v.reasons[0].to_string();
    assert!(text.contains("process 4242"), "{text}");
    assert!(text.contains("nothing done since"), "{text}");
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["reasons"][0]["kind"], "watch_stalled");
}
