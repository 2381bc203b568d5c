#!/usr/bin/env bash
# bench-resume-kill.sh — a large copy resumed after kill -9 of the real
# binary (issue 21 item 4; part of `cargo make bench-wan`).
#
# The release binary copies one file (1 GiB by default) from a left folder
# to an empty right one with `max_bytes_per_second` set (so the copy takes
# a while), is killed with SIGKILL once its temp file holds ~80 % of the
# file, and `apply` runs again. Printed: the temp's size at the kill, the
# offset recorded in the state DB (the last synced chunk), the offset the
# second run resumed at (its log line), the bytes written to the temp
# after the restart (the file's size minus that offset) and their share of
# the file (goal: at most 25 %), and whether the copy landed byte for byte.
#
# Usage: scripts/bench-resume-kill.sh [--mib N] [--rate MIB_PER_S]
#   --mib N     file size in MiB (default 1024)
#   --rate R    max_bytes_per_second in MiB/s (default 64)
# Environment:
#   BENCH_DIR     work dir (default /tmp/twinsync-resume-kill; emptied first)
#   TWINSYNC_BIN  use this binary instead of building target/release/twinsync
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "bench-resume-kill: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
# shellcheck source=scripts/bench-lib.sh
source "$REPO/scripts/bench-lib.sh"

MIB=1024
RATE=64
while [[ $# -gt 0 ]]; do
  case $1 in
    --mib) MIB=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
command -v sqlite3 >/dev/null || die "sqlite3 is needed to read the recorded offset (apt-get install sqlite3)"
bench_binary

W=${BENCH_DIR:-/tmp/twinsync-resume-kill}
rm -rf "$W"
mkdir -p "$W/L/media" "$W/R"
SIZE=$((MIB * 1024 * 1024))
say "a ${MIB} MiB file of random bytes"
head -c "$SIZE" /dev/urandom > "$W/L/media/take1.mov"
cat > "$W/c.toml" <<EOF
left_root = '$W/L'
right_root = '$W/R'
state_db = '$W/state.db'
[transfer]
min_file_age_seconds = 0
max_bytes_per_second = $((RATE * 1024 * 1024))
[logging]
log_file_path = '$W/log.jsonl'
EOF
TS=(--config "$W/c.toml")
"$BIN" "${TS[@]}" init >/dev/null

say "apply, killed with SIGKILL at ~80 %"
"$BIN" "${TS[@]}" apply -y >"$W/apply1.out" 2>&1 &
PID=$!
TARGET=$((SIZE * 8 / 10))
TEMP=
while kill -0 "$PID" 2>/dev/null; do
  TEMP=$(find "$W/R/media" -name '.~twinsync-*.tmp' 2>/dev/null | head -n1 || true)
  if [[ -n $TEMP ]] && [[ $(stat -c %s "$TEMP") -ge $TARGET ]]; then
    kill -9 "$PID"
    break
  fi
  sleep 0.05
done
wait "$PID" 2>/dev/null || true
[[ -n $TEMP && -f $TEMP ]] || die "the copy finished before it could be killed: lower --rate"
AT_KILL=$(stat -c %s "$TEMP")
RECORDED=$(sqlite3 "$W/state.db" "SELECT done FROM transfers" || echo 0)

say "apply again"
T0=$(date +%s.%N)
"$BIN" "${TS[@]}" apply -y >"$W/apply2.out" 2>&1 || die "the second apply failed: $(cat "$W/apply2.out")"
T1=$(date +%s.%N)
RESUMED=$(grep -o '"offset":[0-9]*' "$W/log.jsonl" | tail -n1 | cut -d: -f2 || true)
RESUMED=${RESUMED:-0}
SENT=$((SIZE - RESUMED))
SAME=no
cmp -s "$W/L/media/take1.mov" "$W/R/media/take1.mov" && SAME=yes
LEFT_TEMPS=$(find "$W/R" -name '.~twinsync-*' | wc -l)
ROWS=$(sqlite3 "$W/state.db" "SELECT count(*) FROM transfers")

mib() { echo $(($1 / 1024 / 1024)); }
echo "bench-resume-kill: ${MIB} MiB at ${RATE} MiB/s, killed with SIGKILL at $(mib "$AT_KILL") MiB in the temp"
echo "  offset recorded at the kill: $(mib "$RECORDED") MiB (the last synced 64 MiB chunk)"
echo "  second apply resumed at:     $(mib "$RESUMED") MiB (its log)"
echo "  written after the restart:   $(mib "$SENT") MiB = $((100 * SENT / SIZE)) % of the file (goal <= 25 %)"
awk -v a="$T0" -v b="$T1" 'BEGIN { printf "  second apply wall time:      %.1f s\n", b - a }'
echo "  landed byte for byte: $SAME; temps left: $LEFT_TEMPS; transfer rows left: $ROWS"
[[ $SAME == yes && $RESUMED -gt 0 && $((4 * SENT)) -le $SIZE ]] || die "the resume did not meet its goal"
