#!/usr/bin/env bash
# bench-scale.sh — twinsync on 1,000,000 files per side (`cargo make bench-scale`).
#
# Generates the left tree with scripts/gen-tree.py (default 1,000,000 small
# files in 30,000 folders; metadata-heavy, 0-4,096 bytes each) and makes the
# right one with `cp -a` (faster than generating it again), then measures
# with GNU time (wall from a ns clock, CPU = user+sys, peak RSS):
#   a. `find LEFT -printf '%s %T@\n'`, twice: first right after `sync`
#      without a warm-up ("cold-ish": the page cache is never dropped, as
#      that would disturb other work on the machine), then warm;
#   b. the first-run adoption: `apply --auto-approve` with an empty state DB;
#   c. the no-change `plan --detailed-exitcode`, --runs times (median);
#   d. a 100-change cycle: 100 files spread over the left tree appended to,
#      then `apply --auto-approve` (the right side must then hold them).
# Steps b-d run after `sync` and a warm-up listing of both sides. Goals
# (reported, never fatal): no-change plan <= 2x warm find of one side, peak
# RSS <= 400 MB.
# At the end the 100 files are put back (size and mtime) and the trash
# folders removed, so the next run can reuse the trees after
# `gen-tree.py verify`.
#
# Usage: scripts/bench-scale.sh [--regen] [--runs N] [--files N] [--dirs N]
#   --regen    rebuild the trees even if the existing ones match
#   --runs N   runs of the no-change plan (default 3)
#   --files N, --dirs N   tree size (default 1000000 / 30000; try
#              --files 20000 --dirs 600 first)
# Environment:
#   BENCH_DIR      work dir (default /tmp/twinsync-scale): left/, right/, the
#                  state DB, out/ (every command's output), results-*.txt
#   TWINSYNC_BIN   use this binary instead of building target/release/twinsync
#   CARGO_TARGET_DIR  honoured when building
# Needs at the default size: ~9 GB and ~2.1 M inodes for the trees, plus the
# state DB, in BENCH_DIR.
#
# Exit status: 0 when every step ran (whether or not the goals are met),
# 1 when a step failed or the setup is wrong.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

die() { echo "bench-scale: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

REGEN=0
RUNS=3
FILES=1000000
DIRS=30000
SEED=1
CHANGES=100
while [[ $# -gt 0 ]]; do
  case $1 in
    --regen) REGEN=1 ;;
    --runs) RUNS=${2:?--runs needs a number}; shift ;;
    --files) FILES=${2:?--files needs a number}; shift ;;
    --dirs) DIRS=${2:?--dirs needs a number}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \`$1\` (see --help)" ;;
  esac
  shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $FILES =~ ^[1-9][0-9]*$ && $DIRS =~ ^[1-9][0-9]*$ ]] \
  || die "--runs, --files and --dirs take whole numbers"
(( FILES >= CHANGES )) || die "--files must be at least $CHANGES"

# --- tools -------------------------------------------------------------------
# shellcheck source=scripts/bench-lib.sh
source "$REPO/scripts/bench-lib.sh"
bench_tools
bench_binary

# --- work dir and trees ------------------------------------------------------
WORK=$(realpath -m "${BENCH_DIR:-/tmp/twinsync-scale}")
case $WORK in
  / | "$HOME" | "$REPO" | "$REPO"/*) die "BENCH_DIR=$WORK is not a safe work dir" ;;
  *"'"*) die "BENCH_DIR must not contain a single quote" ;;
esac
TAG=$WORK/.twinsync-bench-scale
if [[ -d $WORK && ! -e $TAG && -n $(ls -A "$WORK") ]]; then
  die "$WORK exists, is not empty and was not made by this script; set BENCH_DIR"
fi
mkdir -p "$WORK" "$WORK/state"
touch "$TAG"
OUTD=$WORK/out
rm -rf "$OUTD"
mkdir -p "$OUTD"
LEFT=$WORK/left
RIGHT=$WORK/right
GEN=(python3 "$REPO/scripts/gen-tree.py" --files "$FILES" --dirs "$DIRS" --seed "$SEED")
STAMP=$WORK/tree.stamp
WANT_STAMP="$("${GEN[@]}" describe) generator-sha256=$(sha256sum scripts/gen-tree.py | cut -c1-16)"

# Fresh state for every run: no DB, no log, no markers, no trash.
rm -f "$WORK"/state/twinsync.db* "$WORK"/twinsync.log.jsonl*
rm -f "$LEFT/.twinsync-root" "$RIGHT/.twinsync-root"
rm -rf "$LEFT/.sync_trash" "$RIGHT/.sync_trash"

GEN_NOTE="reused"
reuse=0
if [[ $REGEN == 0 && -f $STAMP && $(cat "$STAMP") == "$WANT_STAMP" ]]; then
  say "checking the existing trees in $WORK"
  if "${GEN[@]}" verify "$LEFT" "$RIGHT"; then reuse=1; else say "the trees differ from the spec: regenerating"; fi
fi
if [[ $reuse == 0 ]]; then
  rm -f "$STAMP"
  rm -rf "$RIGHT"
  say "generating $FILES files in $DIRS folders on the left"
  t0=$(date +%s%N)
  "${GEN[@]}" generate "$LEFT" >&2
  t1=$(date +%s%N)
  say "copying it to the right (cp -a)"
  cp -a "$LEFT" "$RIGHT"
  sync
  t2=$(date +%s%N)
  echo "$WANT_STAMP" >"$STAMP"
  GEN_NOTE=$(awk -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN { printf "left generated in %.1f s, right copied (cp -a + sync) in %.1f s", (b - a) / 1e9, (c - b) / 1e9 }')
  say "$GEN_NOTE"
else
  say "reusing the trees ($WANT_STAMP); --regen to rebuild"
fi

CONFIG=$WORK/bench.toml
cat >"$CONFIG" <<EOF
# Written by scripts/bench-scale.sh; rewritten on every run.
left_root  = '$LEFT'
right_root = '$RIGHT'
state_db   = '$WORK/state/twinsync.db'

[transfer]
min_file_age_seconds = 0

[logging]
log_file_path = '$WORK/twinsync.log.jsonl'
EOF
TS=("$BIN" --config "$CONFIG")
"${TS[@]}" init >"$OUTD/init.out" 2>&1 || { cat "$OUTD/init.out" >&2; die "init failed"; }

# --- measuring -----------------------------------------------------------------
# measure NAME CMD...: runs CMD under GNU time, output to $OUTD/NAME.out (or to
# $OUT if set); sets WALL (s, from a ns clock), CPU (user+sys s), RSS (KiB), RC.
measure() {
  local name=$1; shift
  local tf=$OUTD/$name.time out=${OUT:-$OUTD/$name.out} t0 t1 user sys
  t0=$(date +%s%N)
  RC=0
  "$TIME" -f '%e %U %S %M' -o "$tf" "$@" >"$out" 2>&1 || RC=$?
  t1=$(date +%s%N)
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  read -r _ user sys RSS < <(tail -n 1 "$tf")
  CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mbs() { awk -v k="$1" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
prep() { sync; find "$@" -printf '%s %T@\n' >/dev/null; }

say "a. find LEFT, twice (cold-ish, then warm)"
sync
OUT=/dev/null measure find-1 find "$LEFT" -printf '%s %T@\n'
[[ $RC == 0 ]] || die "find exited $RC"
F1_WALL=$WALL F1_CPU=$CPU F1_RSS=$RSS
OUT=/dev/null measure find-2 find "$LEFT" -printf '%s %T@\n'
[[ $RC == 0 ]] || die "find exited $RC"
F2_WALL=$WALL F2_CPU=$CPU F2_RSS=$RSS

say "b. first-run adoption (apply --auto-approve, empty state)"
prep "$LEFT" "$RIGHT"
measure adopt "${TS[@]}" apply --auto-approve
[[ $RC == 0 ]] || { tail -n 20 "$OUTD/adopt.out" >&2; die "adoption apply exited $RC"; }
B_WALL=$WALL B_CPU=$CPU B_RSS=$RSS
B_LINE=$(grep -m1 '^Apply' "$OUTD/adopt.out" || tail -n 1 "$OUTD/adopt.out")

say "c. no-change plan x$RUNS"
walls=() cpus=() rsss=()
for i in $(seq "$RUNS"); do
  prep "$LEFT" "$RIGHT"
  measure "plan-nochange-$i" "${TS[@]}" plan --detailed-exitcode
  [[ $RC == 0 ]] || { tail -n 20 "$OUTD/plan-nochange-$i.out" >&2; die "no-change plan exited $RC (2 = it found changes)"; }
  walls+=("$WALL") cpus+=("$CPU") rsss+=("$RSS")
done
read -r C_WALL C_WALL_MIN C_WALL_MAX < <(stats "${walls[@]}")
read -r C_CPU _ _ < <(stats "${cpus[@]}")
read -r _ _ C_RSS < <(stats "${rsss[@]}")

say "d. $CHANGES changes on the left, then apply --auto-approve"
# $CHANGES files spread evenly over the tree (in walk order), with their
# original size and mtime to put them back afterwards.
find "$LEFT" -type f ! -name .twinsync-root -printf '%s\t%T@\t%P\n' |
  awk -v n="$FILES" -v c="$CHANGES" 'BEGIN { step = int(n / c) } (NR - 1) % step == 0 && k < c { k++; print }' \
  >"$WORK/changes.list"
[[ $(wc -l <"$WORK/changes.list") == "$CHANGES" ]] || die "could not pick $CHANGES files"
# ...and their folders' mtimes (writing a copy into a folder changes its mtime).
while IFS=$'\t' read -r _ _ rel; do
  printf '%s\t%s\n' "$(stat -c '%.9Y' "$LEFT/${rel%/*}")" "${rel%/*}"
done <"$WORK/changes.list" | sort -u -t $'\t' -k2,2 >"$WORK/changes.dirs"
restore() {
  local size mtime rel root
  while IFS=$'\t' read -r size mtime rel; do
    for root in "$LEFT" "$RIGHT"; do
      if [[ -f $root/$rel ]]; then truncate -s "$size" "$root/$rel"; touch -m -d "@$mtime" "$root/$rel"; fi
    done
  done <"$WORK/changes.list"
  rm -rf "$LEFT/.sync_trash" "$RIGHT/.sync_trash"
  while IFS=$'\t' read -r mtime rel; do
    for root in "$LEFT" "$RIGHT"; do
      if [[ -d $root/$rel ]]; then touch -m -d "@$mtime" "$root/$rel"; fi
    done
  done <"$WORK/changes.dirs"
}
while IFS=$'\t' read -r _ _ rel; do
  echo "bench-scale change" >>"$LEFT/$rel"
done <"$WORK/changes.list"
prep "$LEFT" "$RIGHT"
measure change "${TS[@]}" apply --auto-approve
[[ $RC == 0 ]] || { tail -n 20 "$OUTD/change.out" >&2; restore; die "change apply exited $RC"; }
D_WALL=$WALL D_CPU=$CPU D_RSS=$RSS
D_LINE=$(grep -m1 '^Apply' "$OUTD/change.out" || tail -n 1 "$OUTD/change.out")
bad=0
while IFS=$'\t' read -r _ _ rel; do
  cmp -s "$LEFT/$rel" "$RIGHT/$rel" || bad=$((bad + 1))
done <"$WORK/changes.list"
D_CHECK="OK: the $CHANGES files are on the right"
[[ $bad == 0 ]] || D_CHECK="FAIL: $bad of $CHANGES changed files differ on the right"

say "putting the $CHANGES files back"
restore
if ! "${GEN[@]}" verify "$LEFT" "$RIGHT" 2>"$OUTD/verify.err"; then
  say "WARNING: the trees do not match the spec after the run (see $OUTD/verify.err); the next run regenerates"
  rm -f "$STAMP"
fi

# --- report ------------------------------------------------------------------------
R_NC_F2=$(ratio "$C_WALL" "$F2_WALL")
R_NC_F1=$(ratio "$C_WALL" "$F1_WALL")
R_CH_NC=$(ratio "$D_WALL" "$C_WALL")
G1=$(verdict "$C_WALL <= 2 * $F2_WALL")
LIMIT_KIB=$(( 400 * 1000 * 1000 / 1024 ))
G2=$(verdict "$C_RSS <= $LIMIT_KIB")
G3=$(verdict "$D_RSS <= $LIMIT_KIB")
G4=$(verdict "$B_RSS <= $LIMIT_KIB")
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//' || echo '?')
RESULTS=$WORK/results-$(date +%Y%m%d-%H%M%S).txt
{
  echo "twinsync scale benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "twinsync $("$BIN" --version 2>/dev/null | awk '{print $NF}') ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))," \
       "$(nproc) CPUs ($CPU_MODEL), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r)"
  echo "tree: $WANT_STAMP per side, under $WORK ($(df -PT "$WORK" | awk 'NR==2 {print $2}')); $GEN_NOTE"
  echo "wall: ns clock around GNU time; cpu: user+sys; rss: GNU time %M"
  echo
  printf '%-40s %9s %9s %9s %10s\n' "step" "wall s" "min s" "cpu s" "peak MiB"
  printf '%-40s %9s %9s %9s %10s\n' "a1. find LEFT (first, cold-ish)" "$F1_WALL" "" "$F1_CPU" "$(mib "$F1_RSS")"
  printf '%-40s %9s %9s %9s %10s\n' "a2. find LEFT (warm)" "$F2_WALL" "" "$F2_CPU" "$(mib "$F2_RSS")"
  printf '%-40s %9s %9s %9s %10s\n' "b. adoption: apply --auto-approve" "$B_WALL" "" "$B_CPU" "$(mib "$B_RSS")"
  printf '%-40s %9s %9s %9s %10s\n' "c. no-change plan (median of $RUNS)" "$C_WALL" "$C_WALL_MIN" "$C_CPU" "$(mib "$C_RSS")"
  printf '%-40s %9s %9s %9s %10s\n' "d. $CHANGES changes: apply --auto-approve" "$D_WALL" "" "$D_CPU" "$(mib "$D_RSS")"
  echo "(no-change plan: wall max $C_WALL_MAX s, peak MiB the highest of the runs)"
  echo
  echo "no-change plan / find (warm)       = ${R_NC_F2}x"
  echo "no-change plan / find (cold-ish)   = ${R_NC_F1}x"
  echo "$CHANGES-change apply / no-change plan = ${R_CH_NC}x"
  echo "adoption: $B_LINE"
  echo "changes:  $D_LINE"
  echo "check:    $D_CHECK"
  echo "state DB: $(du -sm "$WORK/state" | cut -f1) MB"
  echo
  echo "goals                                   result"
  echo "no-change plan <= 2x find (warm)        $G1  (${R_NC_F2}x)"
  echo "peak RSS <= 400 MB, no-change plan      $G2  ($(mbs "$C_RSS") MB)"
  echo "peak RSS <= 400 MB, $CHANGES-change apply    $G3  ($(mbs "$D_RSS") MB)"
  echo "peak RSS <= 400 MB, adoption apply      $G4  ($(mbs "$B_RSS") MB)"
} | tee "$RESULTS"
echo "(saved to $RESULTS; command output in $OUTD)"
[[ $bad == 0 ]] || exit 1
