//! Email alerts against a real SMTP server on loopback (started by the
//! test), the persistent outbox, digests, `alert test`, `status --json`,
//! and that no password ever leaks into logs or error output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Env;
use common::smtp::Smtp;
use predicates::str::contains;
use std::time::{Duration, Instant};
use twinsync::Side;

const PASSWORD: &str = "s3cret-app-password";

fn email_config(port: u16, extra: &str) -> String {
    format!(
        "[email]\nenabled = true\nsmtp_host = '127.0.0.1'\nsmtp_port = {port}\nsecurity = 'none'\nauth = 'login'\nusername = 'sync@example.com'\npassword_env = 'TS_TEST_SMTP_PW'\nfrom_address = 'sync@example.com'\nto_addresses = ['admin@example.com']\n{extra}"
    )
}

fn env_with_mail(port: u16, extra: &str) -> Env {
    let e = Env::init(&email_config(port, extra));
    e.write(Side::Left, "keep", "k", 900);
    e
}

fn sync(e: &Env) -> std::process::Output {
    let out = e
        .cmd(&["apply", "--auto-approve"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn make_conflict(e: &Env, name: &str) {
    e.write(Side::Left, name, "base", 800);
    sync(e);
    e.write(Side::Left, name, "left edit", 300);
    e.write(Side::Right, name, "right edit, newer", 200);
}

#[test]
fn a_conflict_sends_one_email_with_the_details() {
    let smtp = Smtp::start(None, PASSWORD);
    let e = env_with_mail(smtp.port, "");
    make_conflict(&e, "budget.xlsx");
    sync(&e);
    let msgs = smtp.messages.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    for needle in [
        "budget.xlsx",
        "Newer side: right",
        "budget - clash.xlsx",
        "9 bytes",
        "17 bytes",
        "6.2.1",
        "Left:",
        "Right:",
    ] {
        assert!(m.contains(needle), "email lacks {needle:?}:\n{m}");
    }
    // Times as people read them: local, to the second, with the offset
    // (`Time: 2026-12-07 03:33:10 +01:00`), never RFC 3339 or nanoseconds.
    let time = m
        .lines()
        .find_map(|l| l.strip_prefix("Time: "))
        .unwrap_or_else(|| panic!("no Time line:\n{m}"));
    let b = time.as_bytes();
    assert!(
        time.len() == 26
            && b[10] == b' '
            && b[13] == b':'
            && b[19] == b' '
            && b"+-".contains(&b[20]),
        "{time}"
    );
    assert!(!m.contains(" ns)") && !m.contains(":00Z"), "{m}");
    assert!(!m.contains(PASSWORD));
    // Nothing more to send on the next run.
    sync(&e);
    assert_eq!(smtp.count(), 1);
}

#[test]
fn option2_alerts_once_not_every_cycle() {
    let smtp = Smtp::start(None, PASSWORD);
    let e = env_with_mail(
        smtp.port,
        "[conflicts]\nsame_file_changed_both = 'option2'\n",
    );
    make_conflict(&e, "r.docx");
    sync(&e);
    sync(&e);
    sync(&e);
    let msgs = smtp.messages.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].contains("left alone")
            || msgs[0].contains("left alone".to_uppercase().as_str())
            || msgs[0].contains("twinsync resolve"),
        "{}",
        msgs[0]
    );
}

#[test]
fn with_the_server_down_sync_is_prompt_and_mail_goes_out_later() {
    let probe = Smtp::start(None, PASSWORD);
    let port = probe.port;
    probe.stop();
    let e = env_with_mail(port, "");
    make_conflict(&e, "a.txt");
    let t = Instant::now();
    sync(&e);
    let took = t.elapsed();
    eprintln!(
        "apply with the mail server down took {:.2} s",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(10));
    assert_eq!(
        e.read(Side::Right, "a - clash.txt").as_deref(),
        Some("left edit"),
        "the sync itself completed"
    );
    let st: serde_json::Value =
        serde_json::from_slice(&e.cmd(&["status", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(st["emails_queued"], 1);
    // The server comes back: the next apply delivers the queue at once,
    // whatever the retry backoff says (SPEC §11).
    let smtp = Smtp::start(Some(port), PASSWORD);
    sync(&e);
    assert_eq!(smtp.count(), 1);
    assert!(smtp.messages.lock().unwrap()[0].contains("a.txt"));
}

/// A successful `alert test` delivers what is queued too, without waiting
/// for the retry backoff.
#[test]
fn alert_test_delivers_the_queue_once_the_server_works() {
    let probe = Smtp::start(None, PASSWORD);
    let port = probe.port;
    probe.stop();
    let e = env_with_mail(port, "");
    make_conflict(&e, "q.txt");
    sync(&e);
    let smtp = Smtp::start(Some(port), PASSWORD);
    e.cmd(&["alert", "test"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .assert()
        .success()
        .stdout(contains("Queued alerts: 1 sent, 0 still queued"));
    assert_eq!(smtp.count(), 2);
    assert!(smtp.messages.lock().unwrap()[1].contains("q.txt"));
}

#[test]
fn a_burst_of_conflicts_is_one_digest() {
    let smtp = Smtp::start(None, PASSWORD);
    // 100 edits on both sides of 101 files would trip the mass-change guard.
    let e = env_with_mail(smtp.port, "");
    std::fs::write(
        &e.config,
        std::fs::read_to_string(&e.config).unwrap() + "\n[safety]\nmax_change_percent = 100\n",
    )
    .unwrap();
    for i in 0..100 {
        e.write(Side::Left, &format!("c/{i}.txt"), "base", 800);
    }
    sync(&e);
    for i in 0..100 {
        e.write(Side::Left, &format!("c/{i}.txt"), "left edit", 300);
        e.write(Side::Right, &format!("c/{i}.txt"), "right edit, newer", 200);
    }
    sync(&e);
    let msgs = smtp.messages.lock().unwrap().clone();
    assert_eq!(
        msgs.len(),
        1,
        "100 conflicts must make one digest, got {}",
        msgs.len()
    );
    assert!(msgs[0].contains("100 events"));
    assert!(msgs[0].contains("c/57.txt"));
    // The digest's table has a time column.
    assert!(msgs[0].contains("| time "), "{}", msgs[0]);
}

#[test]
fn hourly_limit_holds_back_the_rest() {
    let smtp = Smtp::start(None, PASSWORD);
    let e = env_with_mail(smtp.port, "max_emails_per_hour = 2\n");
    for i in 0..4 {
        make_conflict(&e, &format!("f{i}.txt"));
        sync(&e);
    }
    assert_eq!(smtp.count(), 2);
    let st: serde_json::Value =
        serde_json::from_slice(&e.cmd(&["status", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(
        st["emails_queued"], 2,
        "the rest wait, to go out summarised in the next allowed email"
    );
}

#[test]
fn alert_test_reports_auth_failure_without_leaking_the_password() {
    let smtp = Smtp::start(None, "the-right-one");
    let e = env_with_mail(smtp.port, "");
    let out = e
        .cmd(&["alert", "test"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication rejected"), "{err}");
    assert!(!err.contains(PASSWORD));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
    assert!(
        !std::fs::read_to_string(e.dir.path().join("twinsync.log.jsonl"))
            .unwrap_or_default()
            .contains(PASSWORD)
    );
    // And a good password works.
    let smtp2 = Smtp::start(None, PASSWORD);
    let e2 = env_with_mail(smtp2.port, "");
    e2.cmd(&["alert", "test"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .assert()
        .success()
        .stdout(contains("Test email sent"));
    assert!(smtp2.messages.lock().unwrap()[0].contains("test email"));
}

#[test]
fn alert_test_diagnoses_connection_refused() {
    let probe = Smtp::start(None, PASSWORD);
    let port = probe.port;
    probe.stop();
    let e = env_with_mail(port, "");
    e.cmd(&["alert", "test"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .assert()
        .code(1)
        .stderr(contains("connection refused"));
}

#[test]
fn no_password_in_logs_even_when_login_is_rejected() {
    let smtp = Smtp::start(None, "not-this");
    let e = env_with_mail(smtp.port, "");
    make_conflict(&e, "x.txt");
    let out = sync(&e);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(PASSWORD));
    let log = std::fs::read_to_string(e.dir.path().join("twinsync.log.jsonl")).unwrap();
    assert!(
        log.contains("authentication rejected"),
        "the failure is logged"
    );
    assert!(!log.contains(PASSWORD));
    let db = std::fs::read(e.dir.path().join("state/twinsync.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains(PASSWORD));
}

#[cfg(unix)]
#[test]
fn literal_password_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::init("[email]\npassword = 'literal'\n");
    std::fs::set_permissions(&e.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = e.cmd(&["plan"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("password is written in the config file"),
        "{err}"
    );
    assert!(err.contains("readable by other users"), "{err}");
    assert!(!err.contains("literal"));
}

#[test]
fn status_json_shows_conflicts_failures_and_queue() {
    let probe = Smtp::start(None, PASSWORD);
    let port = probe.port;
    probe.stop();
    let e = env_with_mail(port, "[conflicts]\nsame_file_changed_both = 'option2'\n");
    make_conflict(&e, "r.docx");
    sync(&e);
    // A failing path, as apply records it (the recording itself is tested in apply's unit tests).
    let conn = rusqlite::Connection::open(e.dir.path().join("state/twinsync.db")).unwrap();
    conn.execute(
        "INSERT INTO failures(key, path, op, error, first_at, last_at, count, retry_after) VALUES('x.pst','x.pst','copy','locked by another process','2026-11-26T09:00:00Z','2026-11-26T09:05:00Z',3,0)",
        [],
    )
    .unwrap();
    // A conflict and a failing path need the admin: status exits 5.
    let out = e
        .cmd(&["status", "--json"])
        .assert()
        .code(5)
        .get_output()
        .stdout
        .clone();
    let st: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(st["roots"][0]["available"], true);
    assert_eq!(st["unresolved_conflicts"][0]["path"], "r.docx");
    assert!(st["emails_queued"].as_u64().unwrap() >= 1);
    assert!(st["last_cycles"].as_array().unwrap().len() >= 2);
    assert!(st["trash"]["left"]["files"].is_u64());
    assert_eq!(st["failing_paths"][0]["path"], "x.pst");
    assert_eq!(st["failing_paths"][0]["count"], 3);
    assert_eq!(st["health"]["state"], "needs_you");
    let text = e
        .cmd(&["status"])
        .assert()
        .code(5)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("twinsync resolve \"r.docx\""), "{text}");
}

#[test]
fn starttls_with_a_self_signed_certificate_trusted_through_tls_ca_file() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_der = rustls::pki_types::CertificateDer::from(ck.cert.der().to_vec());
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let server_cfg = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key_der)
    .unwrap();
    let smtp = Smtp::start_with(None, PASSWORD, Some(std::sync::Arc::new(server_cfg)));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("mail-ca.pem");
    std::fs::write(&ca, ck.cert.pem()).unwrap();
    let extra = format!(
        "[email]\nenabled = true\nsmtp_host = '127.0.0.1'\nsmtp_port = {}\nsecurity = 'starttls'\nauth = 'plain'\nusername = 'sync@example.com'\npassword_env = 'TS_TEST_SMTP_PW'\nfrom_address = 'sync@example.com'\nto_addresses = ['admin@example.com']\ntls_ca_file = '{}'\n",
        smtp.port,
        ca.display()
    );
    let e = Env::init(&extra);
    e.cmd(&["alert", "test"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .assert()
        .success();
    assert_eq!(smtp.count(), 1, "the test email went through STARTTLS");
    // Without trusting the certificate, the TLS failure is diagnosed.
    let untrusting = std::fs::read_to_string(&e.config)
        .unwrap()
        .replace(&format!("tls_ca_file = '{}'\n", ca.display()), "");
    std::fs::write(&e.config, untrusting).unwrap();
    e.cmd(&["alert", "test"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .assert()
        .code(1)
        .stderr(contains("TLS"));
}

#[test]
fn watch_cycles_ends_with_email_enabled_and_the_server_down() {
    let probe = Smtp::start(None, PASSWORD);
    let port = probe.port;
    probe.stop();
    let e = env_with_mail(port, "");
    make_conflict(&e, "a.txt");
    let t = Instant::now();
    e.cmd(&["watch", "--cycles", "1"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    assert!(t.elapsed() < Duration::from_secs(20));
}

/// While the guard keeps refusing, `watch` logs every cycle but alerts once
/// per refusal streak, and never talks SMTP inside a cycle (the mailer
/// thread sends): a mail server that never answers does not slow cycles.
#[test]
fn watch_alerts_a_guard_refusal_once_per_streak_without_smtp_in_the_cycle() {
    // Accepts connections (the kernel does) but never says a word.
    let tarpit = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = tarpit.local_addr().unwrap().port();
    let e = Env::init(&format!(
        "sync_interval_seconds = 1\n{}",
        email_config(port, "")
    ));
    for i in 0..25 {
        e.write(Side::Left, &format!("f{i}.txt"), "x", 900);
    }
    sync(&e);
    for i in 0..25 {
        std::fs::remove_file(e.left.join(format!("f{i}.txt"))).unwrap();
    }
    e.cmd(&["watch", "--cycles", "3"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .env("TWINSYNC_POLL_ONLY", "1")
        .timeout(Duration::from_mins(1))
        .assert()
        .code(4);
    let log = e.log();
    let refusals = log
        .iter()
        .filter(|l| l["reason"] == "refused by a safety guard")
        .count();
    assert_eq!(refusals, 3, "logged every cycle");
    let conn = rusqlite::Connection::open(e.dir.path().join("state/twinsync.db")).unwrap();
    let alerts: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbox WHERE kind = 'guard'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(alerts, 1, "alerted once for the streak");
    for c in log
        .iter()
        .filter(|l| l["event"] == "cycle" && l["result"] == "skipped")
    {
        assert!(
            c["duration_ms"].as_u64().unwrap() < 3000,
            "a cycle waited for the mail server: {c}"
        );
    }
    assert_eq!(common::synced(&e.right).len(), 25, "nothing deleted");
}

/// 6.2.2 under `new_file_both_different = "option2"` (newer overwrites)
/// is a conflict handled by option2: it alerts (SPEC §11).
#[test]
fn new_on_both_sides_with_option2_newer_overwrites_alerts() {
    let smtp = Smtp::start(None, PASSWORD);
    let e = env_with_mail(
        smtp.port,
        "[conflicts]\nnew_file_both_different = 'option2'\n",
    );
    sync(&e);
    e.write(Side::Left, "n.txt", "left", 300);
    e.write(Side::Right, "n.txt", "right, newer", 200);
    sync(&e);
    assert_eq!(e.read(Side::Left, "n.txt").as_deref(), Some("right, newer"));
    let msgs = smtp.messages.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    for needle in ["n.txt", "6.2.2", "overwrote", "Left:", "Right:", "12 bytes"] {
        assert!(msgs[0].contains(needle), "lacks {needle:?}:\n{}", msgs[0]);
    }
}

/// A guard's refusal email names the counts and the first few paths the
/// refused plan would delete.
#[test]
fn a_guard_refusal_email_names_the_counts_and_the_first_paths() {
    let smtp = Smtp::start(None, PASSWORD);
    let e = env_with_mail(smtp.port, "");
    for i in 0..25 {
        e.write(Side::Left, &format!("f{i:02}.txt"), "x", 900);
    }
    sync(&e);
    for i in 0..25 {
        std::fs::remove_file(e.left.join(format!("f{i:02}.txt"))).unwrap();
    }
    e.cmd(&["apply", "-y"])
        .env("TS_TEST_SMTP_PW", PASSWORD)
        .assert()
        .code(4);
    let msgs = smtp.messages.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    for needle in [
        "mass-delete guard",
        "Side: right",
        "25 of 26",
        "f00.txt",
        "f04.txt",
        "and 20 more",
    ] {
        assert!(m.contains(needle), "lacks {needle:?}:\n{m}");
    }
    assert!(!m.contains("f05.txt"), "{m}");
}

/// SPEC §4/§11: an outage is alerted once, by whichever run sees it first
/// (`apply` too), however many runs and `watch` restarts follow; the first
/// run that finds the side back alerts that, with since when — once.
#[test]
fn an_outage_alerts_once_across_runs_and_again_once_when_it_is_back() {
    let smtp = Smtp::start(None, PASSWORD);
    let e = Env::init(&format!(
        "sync_interval_seconds = 1\n{}",
        email_config(smtp.port, "")
    ));
    e.write(Side::Left, "keep", "k", 900);
    sync(&e);
    let away = e.dir.path().join("right.x");
    std::fs::rename(&e.right, &away).unwrap();
    let watch = || {
        e.cmd(&["watch", "--cycles", "2"])
            .env("TS_TEST_SMTP_PW", PASSWORD)
            .env("TWINSYNC_POLL_ONLY", "1")
            .timeout(Duration::from_mins(1))
            .output()
            .unwrap()
    };
    for _ in 0..3 {
        e.cmd(&["apply", "-y"])
            .env("TS_TEST_SMTP_PW", PASSWORD)
            .assert()
            .code(3);
    }
    assert_eq!(smtp.count(), 1, "the first apply alerts the outage");
    assert!(smtp.messages.lock().unwrap()[0].contains("right side unavailable"));
    watch();
    watch();
    assert_eq!(smtp.count(), 1, "one outage, one email");
    std::fs::rename(&away, &e.right).unwrap();
    watch();
    assert_eq!(smtp.count(), 2, "{:?}", smtp.messages.lock().unwrap());
    let back = smtp.messages.lock().unwrap()[1].clone();
    assert!(back.contains("right side available again"), "{back}");
    assert!(back.contains("Unavailable since: "), "{back}");
    watch();
    sync(&e);
    assert_eq!(smtp.count(), 2, "{:?}", smtp.messages.lock().unwrap());
}
