#!/usr/bin/env bash
# bench-plan.sh — the 90,000-file plan benchmark (`cargo make bench`).
#
# Builds twinsync (release), generates the same deterministic tree on both
# sides (scripts/gen-tree.py: 90,000 small files in 3,000 folders, identical
# content and mtimes), then measures with GNU time, all with a warm page
# cache:
#   a. the first-run adoption plan (empty state DB, both trees populated);
#   b. one `apply --auto-approve` that records the adoption;
#   c. the no-change plan, 5 runs (median / min);
#   d. `find LEFT -printf '%s %T@\n'`, 5 runs, as the floor for one side.
# and prints a table with the goals of the issue (reported, never fatal):
# no-change plan <= 2x find, peak RSS < 60 MiB, adoption plan <= 4x no-change.
# Figures and how to read them: docs/benchmarks.md.
#
# Usage: scripts/bench-plan.sh [--regen] [--runs N] [--files N] [--dirs N]
#   --regen    rebuild the trees even if the existing ones match
#   --runs N   runs of the no-change plan and of find (default 5)
#   --files N, --dirs N   tree size (default 90000 / 3000; smaller trees are
#              handy for profiling, but only the default matches the issue)
# Environment:
#   BENCH_DIR      work dir (default /tmp/twinsync-bench); holds left/, right/,
#                  the state DB, the log, bench.toml and results-*.txt
#   TWINSYNC_BIN   use this binary instead of building target/release/twinsync
#   CARGO_TARGET_DIR  honoured when building
#
# Exit status: 0 when every step ran (whether or not the goals are met),
# 1 when a step failed or the setup is wrong.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

die() { echo "bench-plan: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

REGEN=0
RUNS=5
FILES=90000
DIRS=3000
SEED=1
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
[[ $RUNS =~ ^[1-9][0-9]*$ && $FILES =~ ^[0-9]+$ && $DIRS =~ ^[1-9][0-9]*$ ]] \
  || die "--runs, --files and --dirs take whole numbers"

# --- tools -------------------------------------------------------------------
# shellcheck source=scripts/bench-lib.sh
source "$REPO/scripts/bench-lib.sh"
bench_tools
bench_binary

# --- work dir and trees ------------------------------------------------------
WORK=$(realpath -m "${BENCH_DIR:-/tmp/twinsync-bench}")
case $WORK in
  / | "$HOME" | "$REPO" | "$REPO"/*) die "BENCH_DIR=$WORK is not a safe work dir" ;;
  *"'"*) die "BENCH_DIR must not contain a single quote" ;;
esac
TAG=$WORK/.twinsync-bench
if [[ -d $WORK && ! -e $TAG && -n $(ls -A "$WORK") ]]; then
  die "$WORK exists, is not empty and was not made by this script; set BENCH_DIR"
fi
mkdir -p "$WORK" "$WORK/state"
touch "$TAG"
LEFT=$WORK/left
RIGHT=$WORK/right
GEN=(python3 "$REPO/scripts/gen-tree.py" --files "$FILES" --dirs "$DIRS" --seed "$SEED")
STAMP=$WORK/tree.stamp
WANT_STAMP="$("${GEN[@]}" describe) generator-sha256=$(sha256sum scripts/gen-tree.py | cut -c1-16)"

# Fresh state for every run: no DB, no log, no markers (init rewrites them).
rm -f "$WORK"/state/twinsync.db* "$WORK"/twinsync.log.jsonl* "$WORK"/plan-*.out
rm -f "$LEFT/.twinsync-root" "$RIGHT/.twinsync-root"

reuse=0
if [[ $REGEN == 0 && -f $STAMP && $(cat "$STAMP") == "$WANT_STAMP" ]]; then
  say "checking the existing trees in $WORK"
  if "${GEN[@]}" verify "$LEFT" "$RIGHT"; then
    reuse=1
  else
    say "the trees differ from the spec: regenerating"
  fi
fi
if [[ $reuse == 0 ]]; then
  rm -f "$STAMP"
  say "generating $FILES files in $DIRS folders on both sides (takes a while)"
  t0=$(date +%s)
  "${GEN[@]}" generate "$LEFT" "$RIGHT" >&2
  echo "$WANT_STAMP" >"$STAMP"
  say "generated in $(( $(date +%s) - t0 )) s"
else
  say "reusing the trees ($WANT_STAMP); --regen to rebuild"
fi

CONFIG=$WORK/bench.toml
cat >"$CONFIG" <<EOF
# Written by scripts/bench-plan.sh; rewritten on every run.
left_root  = '$LEFT'
right_root = '$RIGHT'
state_db   = '$WORK/state/twinsync.db'

[transfer]
min_file_age_seconds = 0

[logging]
log_file_path = '$WORK/twinsync.log.jsonl'
EOF
TS=("$BIN" --config "$CONFIG")

say "twinsync init"
"${TS[@]}" init >"$WORK/init.out" 2>&1 || { cat "$WORK/init.out" >&2; die "init failed"; }

# --- measuring -----------------------------------------------------------------
# measure NAME CMD...: runs CMD under GNU time, output to $WORK/NAME.out (or to
# $OUT if set); sets WALL (s, from a ns clock), CPU (user+sys s), RSS (KiB), RC.
measure() {
  local name=$1; shift
  local tf=$WORK/$name.time out=${OUT:-$WORK/$name.out} t0 t1
  t0=$(date +%s%N)
  RC=0
  "$TIME" -f '%e %U %S %M' -o "$tf" "$@" >"$out" 2>&1 || RC=$?
  t1=$(date +%s%N)
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  read -r _ user sys RSS < <(tail -n 1 "$tf")
  CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}
# stats V...: "median min max" of the numbers.
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
# verdict OK-EXPR: PASS or FAIL
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }

# Warm the page cache and dentry cache for both sides.
find "$LEFT" "$RIGHT" -printf '%s %T@\n' >/dev/null

say "a. first-run adoption plan"
measure plan-adopt "${TS[@]}" plan
[[ $RC == 0 ]] || { tail -n 20 "$WORK/plan-adopt.out" >&2; die "adoption plan exited $RC"; }
A_WALL=$WALL A_CPU=$CPU A_RSS=$RSS

say "b. apply --auto-approve (records the adoption)"
measure apply-adopt "${TS[@]}" apply --auto-approve
[[ $RC == 0 ]] || { tail -n 20 "$WORK/apply-adopt.out" >&2; die "apply exited $RC"; }
B_WALL=$WALL B_CPU=$CPU B_RSS=$RSS
B_LINE=$(tail -n 1 "$WORK/apply-adopt.out")

say "c. no-change plan x$RUNS"
walls=() cpus=() rsss=() changed=0
for i in $(seq "$RUNS"); do
  measure "plan-nochange-$i" "${TS[@]}" plan --detailed-exitcode
  case $RC in
    0) ;;
    2) changed=1 ;;
    *) tail -n 20 "$WORK/plan-nochange-$i.out" >&2; die "no-change plan exited $RC" ;;
  esac
  walls+=("$WALL") cpus+=("$CPU") rsss+=("$RSS")
done
read -r C_WALL C_WALL_MIN C_WALL_MAX < <(stats "${walls[@]}")
read -r C_CPU C_CPU_MIN _ < <(stats "${cpus[@]}")
read -r _ _ C_RSS < <(stats "${rsss[@]}")

say "d. find LEFT x$RUNS"
fwalls=() fcpus=() frsss=()
for i in $(seq "$RUNS"); do
  OUT=/dev/null measure find find "$LEFT" -printf '%s %T@\n'
  [[ $RC == 0 ]] || die "find exited $RC"
  fwalls+=("$WALL") fcpus+=("$CPU") frsss+=("$RSS")
done
read -r D_WALL D_WALL_MIN _ < <(stats "${fwalls[@]}")
read -r D_CPU _ _ < <(stats "${fcpus[@]}")
read -r _ _ D_RSS < <(stats "${frsss[@]}")

# The trees must be untouched by the benchmark (adoption copies nothing).
if ! "${GEN[@]}" verify "$LEFT" "$RIGHT" 2>"$WORK/verify.err"; then
  say "WARNING: twinsync changed the trees (see $WORK/verify.err); next run regenerates"
  rm -f "$STAMP"
fi

# --- report ------------------------------------------------------------------------
R_NC_FIND=$(ratio "$C_WALL" "$D_WALL")
R_AD_NC=$(ratio "$A_WALL" "$C_WALL")
G1=$(verdict "$C_WALL <= 2 * $D_WALL")
G2=$(verdict "$C_RSS < 60 * 1024")
G2A=$(verdict "$A_RSS < 60 * 1024")
G3=$(verdict "$A_WALL <= 4 * $C_WALL")
RESULTS=$WORK/results-$(date +%Y%m%d-%H%M%S).txt
{
  echo "twinsync plan benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "twinsync $("$BIN" --version 2>/dev/null | awk '{print $NF}') ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo '+dirty'))," \
       "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
  echo "tree: $WANT_STAMP, both sides under $WORK ($(df -PT "$WORK" | awk 'NR==2 {print $2}'))"
  echo "wall: ns clock around GNU time; cpu: user+sys; rss: GNU time %M; warm cache"
  echo
  printf '%-34s %9s %9s %9s %10s\n' "step" "wall s" "min s" "cpu s" "peak MiB"
  printf '%-34s %9s %9s %9s %10s\n' "a. adoption plan (first run)" "$A_WALL" "" "$A_CPU" "$(mib "$A_RSS")"
  printf '%-34s %9s %9s %9s %10s\n' "b. apply --auto-approve (adopt)" "$B_WALL" "" "$B_CPU" "$(mib "$B_RSS")"
  printf '%-34s %9s %9s %9s %10s\n' "c. no-change plan (median of $RUNS)" "$C_WALL" "$C_WALL_MIN" "$C_CPU" "$(mib "$C_RSS")"
  printf '%-34s %9s %9s %9s %10s\n' "d. find LEFT (median of $RUNS)" "$D_WALL" "$D_WALL_MIN" "$D_CPU" "$(mib "$D_RSS")"
  echo "(peak MiB of c and d: the highest of the runs; no-change wall max $C_WALL_MAX s)"
  echo
  echo "no-change plan / find       = ${R_NC_FIND}x"
  echo "adoption plan / no-change   = ${R_AD_NC}x"
  echo "adoption plan: $(grep -m1 -o '[0-9]* paths to record' "$WORK/plan-adopt.out" || echo '? paths to record');" \
       "$(grep -m1 '^Plan:' "$WORK/plan-adopt.out" || true)"
  echo "apply: $B_LINE"
  echo "state DB after the adoption: $(du -sm "$WORK/state" | cut -f1) MB"
  [[ $changed == 0 ]] || echo "WARNING: a no-change plan reported changes (exit 2): see $WORK/plan-nochange-*.out"
  echo
  echo "goals (issue)                                  result"
  echo "no-change plan <= 2x find (one side)           $G1  (${R_NC_FIND}x)"
  echo "peak RSS < 60 MiB, no-change plan              $G2  ($(mib "$C_RSS") MiB)"
  echo "peak RSS < 60 MiB, adoption plan               $G2A  ($(mib "$A_RSS") MiB)"
  echo "adoption plan <= 4x no-change plan             $G3  (${R_AD_NC}x)"
} | tee "$RESULTS"
echo "(saved to $RESULTS)"
