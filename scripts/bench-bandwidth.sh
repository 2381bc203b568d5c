#!/usr/bin/env bash
# bench-bandwidth.sh — the bandwidth limiter with both lanes busy (issue 22).
#
# Two files of ~200 MB go left → right under `[transfer] bandwidth =
# "00:00,20MiB"` (one limit in force all day), `large_file_bytes =
# 200000000`: `l/big.bin` of 200,000,001 bytes takes the large-file lane,
# `s/small.bin` of exactly 200,000,000 bytes the small lane. The real
# release binary runs `watch` on two real folders: the large copy starts
# first; once it runs, the small file is moved in (a rename, so it is whole
# when seen) and the next cycle copies it in the small lane while the large
# one goes on. A sampler (which starts `watch`, so both share one clock)
# reads every second how many bytes the copies' temp files and finished
# files hold in each folder of the right side, and prints bytes per second
# per lane and together, then the figures that matter: the mean rate while
# both lanes were busy, the highest rate over any 5 s window (goal: within
# 10 % of the limit; 20 MiB/s = 20.97 MB/s), and the whole transfer's mean.
#
# Usage: scripts/bench-bandwidth.sh [--limit RATE] [--size BYTES]
#   --limit RATE  the `bandwidth` rate (default 20MiB; rclone's syntax)
#   --size BYTES  the small file's size and large_file_bytes (default 200000000)
# Environment:
#   BENCH_DIR     work dir (default /tmp/twinsync-bw), emptied first
#   TWINSYNC_BIN  use this binary instead of building target/release/twinsync
# Exit status: 0 when both files arrived whole, 1 otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

die() { echo "bench-bandwidth: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

LIMIT=20MiB
SIZE=200000000
while [[ $# -gt 0 ]]; do
  case $1 in
    --limit) LIMIT=${2:?--limit needs a rate}; shift ;;
    --size) SIZE=${2:?--size needs a number}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \`$1\` (see --help)" ;;
  esac
  shift
done
[[ $SIZE =~ ^[1-9][0-9]*$ ]] || die "--size takes a whole number"
command -v python3 >/dev/null || die "python3 is needed for the sampler"

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
bench_binary

W=${BENCH_DIR:-/tmp/twinsync-bw}
rm -rf "$W"
mkdir -p "$W/left/s" "$W/left/l" "$W/right" "$W/stage"
say "writing two files of $SIZE and $((SIZE + 1)) bytes (random, so nothing compresses)"
head -c "$SIZE" /dev/urandom >"$W/stage/small.bin"
head -c "$((SIZE + 1))" /dev/urandom >"$W/left/l/big.bin"
touch -d '-1 hour' "$W/stage/small.bin" "$W/left/l/big.bin"
cat >"$W/sync.toml" <<TOML
left_root = '$W/left'
right_root = '$W/right'
state_db = '$W/state.db'
sync_interval_seconds = 2

[transfer]
large_file_bytes = $SIZE
bandwidth = "00:00,$LIMIT"
min_file_age_seconds = 0

[logging]
log_file_path = '$W/log.jsonl'
TOML
"$BIN" --config "$W/sync.toml" init >/dev/null

say "twinsync watch, sampling the right side every second"
status=0
python3 - "$BIN" "$W" "$SIZE" "$LIMIT" <<'PY' || status=$?
import os, re, subprocess, sys, time

binary, work, size, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
right = os.path.join(work, "right")
want = {"s": size, "l": size + 1}
names = {"s": "small.bin", "l": "big.bin"}
staged = os.path.join(work, "stage", "small.bin")


def held(folder):
    """Bytes in a folder of the right side: temps being written and the file."""
    d = os.path.join(right, folder)
    total = 0
    try:
        for n in os.listdir(d):
            try:
                total += os.stat(os.path.join(d, n)).st_size
            except FileNotFoundError:
                pass  # renamed between listing and stat
    except FileNotFoundError:
        pass
    return total


def done(folder):
    try:
        return os.stat(os.path.join(right, folder, names[folder])).st_size == want[folder]
    except FileNotFoundError:
        return False


m = re.fullmatch(r"([\d.]+)\s*(B|K|KiB|M|MiB|G|GiB)?", limit)
unit = {"B": 1, None: 1024, "K": 1024, "KiB": 1024, "M": 1 << 20, "MiB": 1 << 20,
        "G": 1 << 30, "GiB": 1 << 30}
rate = float(m.group(1)) * unit[m.group(2)] if m else None

out = open(os.path.join(work, "watch.out"), "w")
t0 = time.monotonic()
watch = subprocess.Popen([binary, "--config", os.path.join(work, "sync.toml"), "watch"],
                         stdout=out, stderr=subprocess.STDOUT)
prev = {"s": 0, "l": 0}
rows = []
deadline = t0 + 3 * (2 * size) / (rate or 1e9) + 120
print(f"{'t (s)':>6} {'small lane':>12} {'large lane':>12} {'together':>12}   (MB/s, 1 MB = 10^6 bytes)")
while time.monotonic() < deadline:
    time.sleep(1.0 - ((time.monotonic() - t0) % 1.0))
    now = {f: held(f) for f in want}
    # A finished file counts as whole; never more than the file.
    d = {f: max(0, min(now[f], want[f]) - prev[f]) for f in want}
    prev = {f: max(prev[f], min(now[f], want[f])) for f in want}
    t = round(time.monotonic() - t0)
    rows.append((t, d["s"], d["l"]))
    print(f"{t:>6} {d['s'] / 1e6:>12.2f} {d['l'] / 1e6:>12.2f} {(d['s'] + d['l']) / 1e6:>12.2f}",
          flush=True)
    if os.path.exists(staged) and prev["l"] > 0:
        os.rename(staged, os.path.join(work, "left", "s", "small.bin"))
    if done("s") and done("l"):
        break

watch.terminate()
try:
    watch.wait(timeout=30)
except subprocess.TimeoutExpired:
    watch.kill()
ok = done("s") and done("l")
both = [r for r in rows if r[1] > 0 and r[2] > 0]
first = next((i for i, r in enumerate(rows) if r[1] + r[2] > 0), 0)
last = max((i for i, r in enumerate(rows) if r[1] + r[2] > 0), default=0)
active = rows[first:last + 1]
win = [sum(r[1] + r[2] for r in active[i:i + 5]) / 5 for i in range(max(0, len(active) - 4))]
print()
print(f"limit in force: {limit}/s = {rate / 1e6:.2f} MB/s" if rate else f"limit: {limit}")
if both:
    mean = sum(r[1] + r[2] for r in both) / len(both)
    print(f"both lanes busy: {len(both)} s, mean {mean / 1e6:.2f} MB/s together "
          f"(small {sum(r[1] for r in both) / len(both) / 1e6:.2f}, "
          f"large {sum(r[2] for r in both) / len(both) / 1e6:.2f})")
if win:
    top = max(win)
    over = (top / rate - 1) * 100 if rate else 0
    print(f"highest 5 s window: {top / 1e6:.2f} MB/s ({over:+.1f} % against the limit; goal <= +10 %)")
if active:
    total = sum(r[1] + r[2] for r in active)
    print(f"whole transfer: {total / 1e6:.1f} MB in {len(active)} s, mean {total / len(active) / 1e6:.2f} MB/s")
print("both files arrived whole" if ok else "NOT DONE: a file did not arrive in time")
sys.exit(0 if ok else 1)
PY
cmp -s "$W/left/s/small.bin" "$W/right/s/small.bin" && cmp -s "$W/left/l/big.bin" "$W/right/l/big.bin" \
  || { echo "the copies differ from their sources" >&2; status=1; }
exit "$status"
