//! The resume half of the WAN bench (issue 21 item 4): a 1 GiB copy from
//! one folder on disk to another, interrupted at 80 % by an injected
//! write error on the destination, then resumed by a fresh plan (as the
//! next `watch` cycle or `apply` does). Prints the bytes read and written
//! on each side during the resume; the goal is that at most 25 % of the
//! file is sent again (the chunk in progress at 80 % and the rest).
//!
//! Run: `cargo bench --bench wan_resume` (or `cargo make bench-wan`).
//! `TWINSYNC_BENCH_DIR` chooses where the 2 GiB of files go (default: a
//! temp folder); `TWINSYNC_BENCH_MIB` the file size (default 1024).

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;
use twinsync::apply::{self, Options};
use twinsync::config::Config;
use twinsync::fs::fault::FaultFs;
use twinsync::fs::latency::{LatencyFs, Link};
use twinsync::fs::real::RealFs;
use twinsync::fs::{ErrorClass, Fs};
use twinsync::log::Logger;
use twinsync::pipeline::{self, PlanRequest};
use twinsync::roots::Sides;
use twinsync::state::State;

const MIB: u64 = 1024 * 1024;

fn main() -> Result<(), Box<dyn Error>> {
    let mib: u64 = std::env::var("TWINSYNC_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib * MIB;
    let base = match std::env::var_os("TWINSYNC_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let (l, r) = (base.path().join("left"), base.path().join("right"));
    std::fs::create_dir_all(l.join("media"))?;
    std::fs::create_dir_all(&r)?;
    for (dir, id) in [(&l, "L"), (&r, "R")] {
        std::fs::write(
            dir.join(twinsync::paths::MARKER_NAME),
            format!(r#"{{"root_id":"{id}"}}"#),
        )?;
    }
    write_noise(&l.join("media/take1.mov"), size)?;
    let text = format!(
        "left_root = '{}'\nright_root = '{}'\nstate_db = '{}'\n[transfer]\nmin_file_age_seconds = 0\n[logging]\nlog_file_path = '{}'\n",
        l.display(),
        r.display(),
        base.path().join("s.db").display(),
        base.path().join("log.jsonl").display()
    );
    let cfg = Config::parse(&base.path().join("c.toml"), &text)?;
    let left = Arc::new(LatencyFs::new(Arc::new(RealFs::new(&l)), Link::default()));
    let fault = FaultFs::new(Arc::new(RealFs::new(&r)));
    let at = size * 8 / 10;
    fault.fail_writes_at(twinsync::paths::TEMP_PREFIX, at, ErrorClass::Other);
    let faulty = Arc::new(LatencyFs::new(Arc::new(fault), Link::default()));
    let healthy = Arc::new(LatencyFs::new(Arc::new(RealFs::new(&r)), Link::default()));
    let log = Logger::null();

    println!(
        "wan_resume: a {mib} MiB copy, a write error injected at byte {at} (80 %), chunk {} MiB",
        apply::CHUNK_BYTES / MIB
    );
    let t0 = Instant::now();
    let first = attempt(&cfg, &left, &faulty, &log)?;
    let state = State::open(&cfg.state_db)?;
    let done = state.transfers()?.first().map_or(0, |t| t.done);
    drop(state);
    println!(
        "  first attempt: {} failed, {} MiB written to the temp, {} MiB recorded as resumable ({:.1} s)",
        first.failed.len(),
        faulty.bytes().1 / MIB,
        done / MIB,
        t0.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    let second = attempt(&cfg, &left, &healthy, &log)?;
    let (src_read, _) = left.bytes();
    let (dst_read, dst_written) = healthy.bytes();
    #[allow(clippy::cast_precision_loss)]
    let pct = |n: u64| 100.0 * n as f64 / size as f64;
    println!(
        "  resume: {} copied, {} failed ({:.1} s)",
        second.copied,
        second.failed.len(),
        t1.elapsed().as_secs_f64()
    );
    println!(
        "  after the resume, destination: {} MiB written ({:.1} % of the file; goal <= 25 %), {} MiB read back ({:.1} %: the last chunk, checked)",
        dst_written / MIB,
        pct(dst_written),
        dst_read / MIB,
        pct(dst_read)
    );
    println!(
        "  after the resume, source: {} MiB read ({:.1} %: the kept prefix is hashed locally, not sent; plus the checked chunk)",
        src_read / MIB,
        pct(src_read)
    );
    let whole = std::fs::metadata(r.join("media/take1.mov"))?.len() == size;
    println!("  the file landed whole: {whole}");
    if !whole || !second.failed.is_empty() || dst_written > size / 4 {
        return Err("the resume did not meet its goal".into());
    }
    Ok(())
}

/// One plan and apply of the whole tree on `left` → `right`; the byte
/// counters start after the plan's scan and the admission.
fn attempt(
    cfg: &Config,
    left: &Arc<LatencyFs>,
    right: &Arc<LatencyFs>,
    log: &Logger,
) -> Result<apply::Report, Box<dyn Error>> {
    let sides = Sides {
        left: Arc::clone(left) as Arc<dyn Fs>,
        right: Arc::clone(right) as Arc<dyn Fs>,
    };
    let mut state = State::open_or_create(&cfg.state_db)?;
    apply::prepare(&mut state, cfg, &sides, log)?;
    let req = PlanRequest {
        now_ns: twinsync::now_ns(),
        ..PlanRequest::default()
    };
    let (plan, _) = pipeline::make_plan(cfg, &sides, &state, req)?;
    apply::admit(
        &plan,
        cfg,
        &sides,
        &mut state,
        apply::Overrides::GUARDS_CHECKED,
    )?;
    left.reset_bytes();
    right.reset_bytes();
    let plan = plan.validated()?;
    Ok(apply::run(
        &plan,
        cfg,
        &sides,
        &mut state,
        log,
        &Options::default(),
    )?)
}

/// `len` bytes of cheap noise (no run long enough to compress away).
fn write_noise(path: &std::path::Path, len: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 22, std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..len / MIB {
        for b in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf)?;
    }
    f.flush()
}
