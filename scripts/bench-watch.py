#!/usr/bin/env python3
"""Change-to-sync latency of `twinsync watch` (issue: watch and the service).

Starts `watch` with the default interval (10 s) and default
min_file_age_seconds (2 s) on two temp folders, saves N small files on each
side one after another, and measures how long each takes to appear on the
other side. Runs twice: with file-system watchers, and polling only
(TWINSYNC_POLL_ONLY=1). Prints median and worst per direction.

    python3 scripts/bench-watch.py [--changes 20] [--tree 2000]

Goals (SPEC §9): worst case under 10 s polling, under 3 s with watchers.
"""
import argparse, os, random, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXE = os.path.join(ROOT, "target", "release", "twinsync")


def run(changes, tree, poll_only):
    work = tempfile.mkdtemp(prefix="twinsync-latency-")
    left, right = os.path.join(work, "left"), os.path.join(work, "right")
    for d in (left, right):
        os.makedirs(d)
    # A background tree so a scan is not free.
    old = time.time() - 3600
    for i in range(tree):
        for d in (left, right):
            p = os.path.join(d, f"bg{i % 50}", f"f{i}.txt")
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(f"background {i}")
            os.utime(p, (old, old))
    cfg = os.path.join(work, "sync_config.toml")
    with open(cfg, "w") as f:
        f.write("left_root = 'left'\nright_root = 'right'\nstate_db = 'twinsync.db'\n"
                "[logging]\nlog_file_path = 'twinsync.log.jsonl'\n")
    subprocess.run([EXE, "--config", cfg, "init"], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ)
    if poll_only:
        env["TWINSYNC_POLL_ONLY"] = "1"
    proc = subprocess.Popen([EXE, "--config", cfg, "watch"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Wait for the first cycle (adoption of the background tree).
        time.sleep(3)
        lat = {"left→right": [], "right→left": []}
        rnd = random.Random(7)
        for i in range(changes):
            for src, dst, key in ((left, right, "left→right"), (right, left, "right→left")):
                name = f"doc-{key[0]}-{i}.txt"
                # Save at a random point of the cycle.
                time.sleep(rnd.uniform(0, 1.5))
                t0 = time.monotonic()
                with open(os.path.join(src, name), "w") as f:
                    f.write(f"saved {i}")
                target = os.path.join(dst, name)
                while not os.path.exists(target):
                    if time.monotonic() - t0 > 60:
                        raise SystemExit(f"{name} never arrived")
                    time.sleep(0.02)
                lat[key].append(time.monotonic() - t0)
        return lat
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--tree", type=int, default=2000)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=ROOT, check=True)
    print(f"{a.changes} changes per direction, background tree {a.tree} files per side, "
          "default interval 10 s, min_file_age_seconds 2 s")
    print(f"{'mode':<10} {'direction':<12} {'median s':>9} {'worst s':>8} {'goal s':>7}")
    ok = True
    for mode, poll, goal in (("watcher", False, 3.0), ("polling", True, 10.0)):
        lat = run(a.changes, a.tree, poll)
        for key, v in lat.items():
            worst = max(v)
            ok &= worst < goal
            print(f"{mode:<10} {key:<12} {statistics.median(v):9.2f} {worst:8.2f} {goal:7.1f}"
                  f"{'' if worst < goal else '  MISSED'}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
