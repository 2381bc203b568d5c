//! The free-space alert of issue 22 ([`super::space`]) through the apply
//! harness: a side whose disk has less room than the plan's copies need is
//! logged, noted for the health verdict and alerted once, copies still go
//! on, and the note clears itself when there is room again.

use super::space::{self, Shortfall};
use super::tests::{harness, put_each, valid, with_parallel};
use super::*;
use crate::Side;
use crate::fs::Fs;
use crate::health::{self, Health, Reason};

const EMAIL: &str = "[email]\nenabled = true\nsmtp_host = '127.0.0.1'\nsmtp_port = 25\nsecurity = 'none'\nauth = 'none'\nfrom_address = 'sync@example.com'\nto_addresses = ['admin@example.com']\n";

/// One apply as the CLI runs it: admit, the space check, the steps.
fn apply_checked(h: &super::tests::Harness, log: &Logger) -> (Vec<Shortfall>, Report) {
    let plan = valid(&h.plan());
    let mut state = h.admitted(&plan, &h.sides());
    let short = space::check(&plan, &h.cfg, &h.sides(), &state, log);
    let r = run(
        &plan,
        &h.cfg,
        &h.sides(),
        &mut state,
        log,
        &Options::default(),
    )
    .unwrap();
    (short, r)
}

fn verdict(h: &super::tests::Harness) -> health::Verdict {
    let state = h.state();
    let none = [(Side::Left, None), (Side::Right, None)];
    health::verdict(&health::Facts::read(&state, none, 0, 0).unwrap())
}

#[test]
fn a_disk_short_of_room_is_alerted_once_before_copies_fail_and_clears_itself() {
    let h = harness(EMAIL);
    let log_file = h.cfg.log_file.clone();
    let log = Logger::new(&log_file, crate::config::Level::Info, 1 << 20, 1);
    h.right.set_free_space(Some(1000));
    put_each(&h.left, 3, "docs/d{i}.bin", &"x".repeat(400));
    // 1,200 bytes to copy to a right side with 1,000 free: short.
    let (short, r) = apply_checked(&h, &log);
    assert_eq!(short.len(), 1, "{short:?}");
    assert_eq!(
        (short[0].side, short[0].free, short[0].need),
        (Side::Right, 1000, 1200)
    );
    assert_eq!(short[0].place, "root");
    assert!(short[0].new, "found now: watch tells it on the console");
    assert_eq!(
        r.copied, 3,
        "copies still proceed (the drive may free space)"
    );
    assert_eq!(h.state().outbox_queued().unwrap(), 1, "one email");
    let logged = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("\"event\":\"alert\"") && l.contains("free")),
        "{logged}"
    );
    let v = verdict(&h);
    assert_eq!(v.health, Health::NeedsYou);
    assert!(
        matches!(
            &v.reasons[0],
            Reason::LowSpace {
                side: Side::Right,
                need: 1200,
                free: 1000,
                ..
            }
        ),
        "{:?}",
        v.reasons
    );
    let since = space::notes(&h.state()).unwrap()[0].since.clone();
    // Still short at the next apply: noted again, not alerted again, and
    // "since" is the first time.
    h.tick();
    put_each(&h.left, 3, "docs/d{i}.bin", &"y".repeat(450));
    let (short, _) = apply_checked(&h, &log);
    assert_eq!(short.len(), 1);
    assert_eq!(short[0].need, 1350);
    assert_eq!(short[0].since, since);
    assert!(!short[0].new, "told once");
    assert_eq!(h.state().outbox_queued().unwrap(), 1, "once per condition");
    // The free space is not known: the note stays (unknown is not "enough").
    h.right.set_free_space(None);
    h.tick();
    h.left.put("docs/d0.bin", b"z");
    let (short, _) = apply_checked(&h, &log);
    assert!(short.is_empty());
    assert_eq!(space::notes(&h.state()).unwrap().len(), 1);
    // Room again: the note clears, the verdict is back in sync.
    h.right.set_free_space(Some(1 << 30));
    h.tick();
    h.left.put("docs/d1.bin", b"z");
    let (short, _) = apply_checked(&h, &log);
    assert!(short.is_empty());
    assert!(space::notes(&h.state()).unwrap().is_empty());
    assert_eq!(
        verdict(&h).health,
        Health::InSync,
        "{:?}",
        verdict(&h).reasons
    );
    // Short again later: a new condition, a new email.
    h.right.set_free_space(Some(10));
    h.tick();
    h.left.put("docs/d2.bin", b"a bit more than ten bytes");
    let (short, _) = apply_checked(&h, &log);
    assert_eq!(short.len(), 1);
    assert_eq!(h.state().outbox_queued().unwrap(), 2);
}

/// What a plan needs per side: the copies' bytes on the root's disk; the
/// versions it moves to trash (soft deletes, replaced versions kept by
/// their folder's rule) counted apart, for a trash outside the root. Steps
/// already done count no more.
#[test]
fn the_need_counts_copies_per_side_and_trash_bound_versions_apart() {
    let h = harness("[[rules]]\npath = 'Temp/**'\ndelete = 'hard'\n");
    h.synced(&[
        ("a.txt", "1234567890"),
        ("Temp/t.txt", "1234567890"),
        ("gone.txt", "12345"),
    ]);
    h.left.put("a.txt", b"twenty bytes, edited");
    h.left.put("Temp/t.txt", b"twenty bytes, edited");
    h.left.remove_file("gone.txt").unwrap();
    h.right.put("new.txt", b"seven b");
    let plan = valid(&h.plan());
    let state = h.admitted(&plan, &h.sides());
    let need = space::needs(&plan, &h.cfg, &state);
    assert_eq!(
        need[Side::Right],
        (40, 10 + 5),
        "a.txt kept, Temp/t.txt not; gone.txt soft"
    );
    assert_eq!(need[Side::Left], (7, 0));
    drop(state);
    h.apply(&plan);
    let state = h.state();
    assert_eq!(
        space::needs(&plan, &h.cfg, &state)[Side::Right],
        (0, 0),
        "all done"
    );
    // Stopped after the first copy (a service stop): only the rest counts
    // (one copy at a time, so the second has not started).
    let h = with_parallel(1);
    h.left.put("a.txt", b"first");
    h.left.put("b.txt", b"second file");
    let plan = h.plan();
    let (sides, stop) = h.hooked(Side::Left).flag_when_opened("a.txt");
    let mut state = h.admitted(&plan, &sides);
    let opts = Options {
        stop: Some(&stop),
        ..Options::default()
    };
    assert_eq!(
        h.run_in(&mut state, &plan, &sides, &opts).unwrap().copied,
        1
    );
    let need = space::needs(&valid(&plan), &h.cfg, &state);
    assert_eq!(need[Side::Right], (11, 0));
}

/// The real file system answers from `statvfs` (Unix) or
/// `GetDiskFreeSpaceExW` (Windows); a root that is not there is unknown.
#[test]
fn the_real_disk_says_its_free_space_and_a_missing_root_does_not() {
    let d = tempfile::tempdir().unwrap();
    let real = crate::fs::real::RealFs::new(d.path());
    let free = real.free_space();
    assert!(free.is_some_and(|f| f > 0), "{free:?}");
    let gone = crate::fs::real::RealFs::new(d.path().join("not there"));
    assert_eq!(gone.free_space(), None);
}

/// An apply with nothing to write on a side whose note stands (its failed
/// copies waiting for their retry, say) keeps the note while the disk
/// still lacks the room noted, and clears it once the disk has it: the
/// alert does not come and go with the retries.
#[test]
fn with_nothing_to_write_the_note_clears_only_when_the_room_is_there() {
    let h = harness(EMAIL);
    let log = Logger::null();
    h.right.set_free_space(Some(100));
    h.left.put("big.bin", &[7u8; 300]);
    assert_eq!(apply_checked(&h, &log).0.len(), 1);
    // A change on the right only: nothing is written to the right.
    h.tick();
    h.right.put("from-right.txt", b"new on the right");
    let (short, _) = apply_checked(&h, &log);
    assert!(
        short.is_empty(),
        "nothing written there: nothing to warn about"
    );
    assert_eq!(
        space::notes(&h.state()).unwrap().len(),
        1,
        "still short of 300"
    );
    h.right.set_free_space(Some(300));
    h.tick();
    h.right.put("from-right-2.txt", b"another");
    apply_checked(&h, &log);
    assert!(
        space::notes(&h.state()).unwrap().is_empty(),
        "the room is there"
    );
    assert_eq!(h.state().outbox_queued().unwrap(), 1, "one email in all");
}
