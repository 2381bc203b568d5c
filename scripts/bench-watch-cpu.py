#!/usr/bin/env python3
"""CPU per `watch` cycle on a large synced tree (issue 12, item 5).

Uses the tree and state DB that scripts/bench-plan.sh leaves in BENCH_DIR
(default /tmp/twinsync-bench: 90,000 files per side, synced): starts
`twinsync watch` there with a 1 s interval, waits until the start-up full
scans are done, then measures the process's CPU time (all threads, from
/proc/PID/task/*/schedstat, nanoseconds) over

  a. quiet cycles (no change: the watchers report nothing), per cycle;
  b. cycles that each carry 10 edited files (10 folders, left side),
     per cycle, until the edits are on the right side.

Prints the figures next to the goals (quiet < 5 ms, 10 changes < 50 ms);
never fails on a goal (a benchmark, not a test). Linux only (/proc).

    python3 scripts/bench-watch-cpu.py [--bin PATH] [--quiet 10] [--rounds 5]
"""
import argparse, glob, os, sqlite3, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_ns(pid):
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(f) as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just ended
    return total


def cycles(log):
    n = 0
    try:
        with open(log) as fh:
            for line in fh:
                if '"event":"cycle"' in line:
                    n += 1
    except FileNotFoundError:
        pass
    return n


def wait_cycles(log, n, timeout=120):
    start = cycles(log)
    t = time.time()
    while cycles(log) < start + n:
        if time.time() - t > timeout:
            sys.exit(f"bench-watch-cpu: no {n} cycles within {timeout} s (see {log})")
        time.sleep(0.05)


def unhashed(db):
    """Pairs adopted by size and mtime whose hash `watch` has yet to fill in
    (in spare time, a few hundred a cycle): quiet cycles do that work first."""
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        n = c.execute("SELECT count(*) FROM files WHERE l_kind = 0 AND r_kind = 0 "
                      "AND (l_hash IS NULL OR r_hash IS NULL)").fetchone()[0]
        c.close()
        return n
    except sqlite3.Error:
        return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("TWINSYNC_BIN", os.path.join(ROOT, "target/release/twinsync")))
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp/twinsync-bench"))
    ap.add_argument("--quiet", type=int, default=10, help="quiet cycles measured")
    ap.add_argument("--rounds", type=int, default=5, help="10-change cycles measured")
    ap.add_argument("--hash-wait", type=int, default=900, help="seconds to wait for background hashing")
    a = ap.parse_args()
    work = os.path.abspath(a.dir)
    base = os.path.join(work, "bench.toml")
    if not os.path.exists(base) or not os.path.exists(os.path.join(work, "state", "twinsync.db")):
        sys.exit(f"bench-watch-cpu: run scripts/bench-plan.sh first (no synced tree in {work})")
    cfg = os.path.join(work, "watch-cpu.toml")
    log = os.path.join(work, "watch-cpu.log.jsonl")
    with open(base) as fh:
        text = fh.read()
    text = text.replace(os.path.join(work, "twinsync.log.jsonl"), log)
    with open(cfg, "w") as fh:
        fh.write("sync_interval_seconds = 1\nfull_scan_interval_seconds = 3600\n" + text)
    if os.path.exists(log):
        os.remove(log)
    left = os.path.join(work, "left")
    right = os.path.join(work, "right")
    folders = sorted(d for d, _, files in os.walk(left) if any(f.endswith((".pdf", ".docx", ".xlsx", ".jpg", ".txt")) for f in files))[:10]
    if len(folders) < 10:
        sys.exit("bench-watch-cpu: the tree has fewer than 10 folders with files")
    p = subprocess.Popen([a.bin, "--config", cfg, "watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_cycles(log, 3)  # start-up: full scans, then quiet
        db = os.path.join(work, "state", "twinsync.db")
        t = time.time()
        left_n = unhashed(db)
        if left_n > 0:
            print(f"waiting for watch to hash {left_n} adopted pairs in spare time (at most {a.hash_wait} s)...", flush=True)
        while unhashed(db) > 0 and time.time() - t < a.hash_wait:
            time.sleep(1)
        hashing = unhashed(db)
        c0, t0 = cpu_ns(p.pid), time.time()
        wait_cycles(log, a.quiet)
        quiet_ms = (cpu_ns(p.pid) - c0) / 1e6 / a.quiet
        quiet_wall = (time.time() - t0) / a.quiet
        busy = []
        for r in range(a.rounds):
            wait_cycles(log, 1)
            c0 = cpu_ns(p.pid)
            n0 = cycles(log)
            targets = []
            for i, d in enumerate(folders):
                f = sorted(x for x in os.listdir(d) if os.path.isfile(os.path.join(d, x)))[0]
                path = os.path.join(d, f)
                with open(path, "a") as fh:
                    fh.write(f"edit {r}.{i}\n")
                old = time.time() - 10  # older than min_file_age_seconds
                os.utime(path, (old, old))
                targets.append((path, os.path.join(right, os.path.relpath(path, left))))
            t = time.time()
            while any(os.path.getsize(l) != os.path.getsize(rr) if os.path.exists(rr) else True for l, rr in targets):
                if time.time() - t > 60:
                    sys.exit("bench-watch-cpu: the edits never reached the right side")
                time.sleep(0.02)
            n = max(1, cycles(log) - n0)
            # The CPU of the cycles that carried the edits, less the quiet
            # cycles' share among them.
            busy.append(((cpu_ns(p.pid) - c0) / 1e6 - quiet_ms * (n - 1), time.time() - t))
    finally:
        p.terminate()
        p.wait(timeout=30)
    busy_ms = sorted(b[0] for b in busy)
    med = busy_ms[len(busy_ms) // 2]
    print(f"watch CPU per cycle, tree in {work} ({a.bin})")
    note = "" if hashing == 0 else f"; background hashing still had {hashing} pairs to do"
    print(f"  quiet cycle:              {quiet_ms:7.2f} ms CPU  (goal < 5 ms; {a.quiet} cycles, {quiet_wall:.2f} s apart{note})")
    print(f"  cycle with 10 edits:      {med:7.2f} ms CPU  (goal < 50 ms; median of {len(busy)}, all: {', '.join(f'{b:.1f}' for b in busy_ms)})")
    print(f"  edit to synced, median:   {sorted(b[1] for b in busy)[len(busy) // 2]:7.2f} s")


if __name__ == "__main__":
    main()
