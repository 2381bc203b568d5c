#!/usr/bin/env bash
# bench-peers.sh — twinsync against Unison and rclone bisync (`cargo make bench-peers`).
#
# Generates one deterministic tree (scripts/gen-tree.py: 90,000 small files
# in 3,000 folders by default), gives each tool its own identical copy of
# it, and measures with GNU time (wall from a ns clock, CPU = user+sys, peak
# RSS), each step after `sync` and a warm-up listing of both sides:
#   1. no-change cycle after the initial sync (--runs N runs, median);
#   2. 10 + 10 small edits: 10 files changed on the left and 10 other files
#      on the right, then one sync;
#   3. initial sync into an empty side (every file from left to an empty right);
#   4. folder rename: the folder of depth <= 2 whose file count is closest to
#      1/12 of the tree (a top-level one at the default size) renamed on the
#      left, then one sync; reports whether the right side's files were
#      renamed (same inodes) or copied again, and the tool's own transfer
#      figure (twinsync: moves vs copies from its plan summary).
# Steps run in the order 3, 1, 2, 4 on each tool's copy. The floors: 1 is
# compared with `find LEFT -printf '%s %T@\n'` (one side, median of --runs),
# 3 with `cp -a LEFT EMPTY && sync`.
# After every step both sides are checked against the expected tree (paths,
# types, file sizes and mtimes to the second, plus `diff -rq` of contents),
# so a tool that "wins" by not syncing shows FAIL in the check column.
# Tools: twinsync (`apply --auto-approve`), unison (`-batch -auto -times
# -perms 0`, archives in the work dir via UNISON), rclone bisync (local
# paths, `--resync` on the first run, `--remove-empty-dirs`, work dir and an
# empty config in the work dir). Default settings otherwise (twinsync keeps
# soft deletes on; `min_file_age_seconds = 0`).
#
# Usage: scripts/bench-peers.sh [--regen] [--keep] [--runs N] [--files N] [--dirs N]
#   --regen    rebuild the tree even if the existing one matches
#   --keep     keep each tool's copies afterwards (default: removed, to save space)
#   --runs N   runs of the no-change cycle and of find (default 3)
#   --files N, --dirs N   tree size (default 90000 / 3000)
#   --no-docs  do not rewrite the peers section of docs/benchmarks.md
# Environment:
#   BENCH_DIR      work dir (default /tmp/twinsync-peers): base/, one folder per
#                  tool, out/ (every command's output), results-*.txt / *.tsv
#   TWINSYNC_BIN   use this binary instead of building target/release/twinsync
#   CARGO_TARGET_DIR  honoured when building
# Missing unison, rclone or GNU time are installed with apt-get (as root,
# else through sudo).
#
# Writes the table between `<!-- bench-peers:begin -->` and
# `<!-- bench-peers:end -->` in docs/benchmarks.md (appended if the markers
# are missing). Exit status: 0 when the report was written (a tool's failure
# or a failed check shows in the table), 1 when the setup is wrong.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

die() { echo "bench-peers: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

REGEN=0
KEEP=0
DOCS=1
RUNS=3
FILES=90000
DIRS=3000
SEED=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --regen) REGEN=1 ;;
    --keep) KEEP=1 ;;
    --no-docs) DOCS=0 ;;
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
(( FILES >= 40 )) || die "--files must be at least 40 (20 edits, one folder to rename)"

# --- tools -------------------------------------------------------------------
# shellcheck source=scripts/bench-lib.sh
source "$REPO/scripts/bench-lib.sh"
bench_tools unison rclone
bench_binary

V_TWINSYNC=$("$BIN" --version 2>/dev/null || echo "twinsync ?")
V_UNISON=$(unison -version 2>/dev/null | head -n 1)
V_RCLONE=$(rclone version 2>/dev/null | head -n 1)

# --- work dir and tree -------------------------------------------------------
WORK=$(realpath -m "${BENCH_DIR:-/tmp/twinsync-peers}")
case $WORK in
  / | "$HOME" | "$REPO" | "$REPO"/*) die "BENCH_DIR=$WORK is not a safe work dir" ;;
  *"'"*) die "BENCH_DIR must not contain a single quote" ;;
esac
TAG=$WORK/.twinsync-bench-peers
if [[ -d $WORK && ! -e $TAG && -n $(ls -A "$WORK") ]]; then
  die "$WORK exists, is not empty and was not made by this script; set BENCH_DIR"
fi
mkdir -p "$WORK"
touch "$TAG"
OUTD=$WORK/out
rm -rf "$OUTD" "$WORK/floor-copy"
mkdir -p "$OUTD"
BASE=$WORK/base
GEN=(python3 "$REPO/scripts/gen-tree.py" --files "$FILES" --dirs "$DIRS" --seed "$SEED")
STAMP=$WORK/tree.stamp
WANT_STAMP="$("${GEN[@]}" describe) generator-sha256=$(sha256sum scripts/gen-tree.py | cut -c1-16)"

reuse=0
if [[ $REGEN == 0 && -f $STAMP && $(cat "$STAMP") == "$WANT_STAMP" ]]; then
  say "checking the existing tree $BASE"
  if "${GEN[@]}" verify "$BASE"; then reuse=1; else say "it differs from the spec: regenerating"; fi
fi
if [[ $reuse == 0 ]]; then
  rm -f "$STAMP"
  say "generating $FILES files in $DIRS folders"
  t0=$(date +%s)
  "${GEN[@]}" generate "$BASE" >&2
  echo "$WANT_STAMP" >"$STAMP"
  say "generated in $(( $(date +%s) - t0 )) s"
else
  say "reusing the tree ($WANT_STAMP); --regen to rebuild"
fi

# --- helpers -----------------------------------------------------------------
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
# stats V...: "median min max" of the numbers.
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

# Files the tools keep inside a root; never part of the comparison.
EXCL_DIFF=(-x .twinsync-root -x .sync_trash -x '.unison.*')
# manifest ROOT: sorted "path TAB type TAB size TAB mtime-seconds" (folders
# without size and mtime: no tool is asked to keep folder mtimes).
manifest() {
  (cd "$1" && find . -mindepth 1 \( -name .twinsync-root -o -name .sync_trash -o -name '.unison.*' \) -prune \
      -o -printf '%P\t%y\t%s\t%T@\n') |
    awk -F'\t' -v OFS='\t' '{ if ($2 == "d") { $3 = ""; $4 = "" } else sub(/\..*/, "", $4); print }' |
    LC_ALL=C sort
}
# check_sides L R EXPECTED NAME: OK, or FAIL with the reason; differences in
# $OUTD/NAME.check.
check_sides() {
  local l=$1 r=$2 exp=$3 name=$4 f=$OUTD/$4.check why=()
  : >"$f"
  manifest "$l" >"$OUTD/$name.left.manifest"
  manifest "$r" >"$OUTD/$name.right.manifest"
  diff "$exp" "$OUTD/$name.left.manifest" >>"$f" 2>&1 || why+=("left != expected")
  diff "$exp" "$OUTD/$name.right.manifest" >>"$f" 2>&1 || why+=("right != expected")
  diff -rq "${EXCL_DIFF[@]}" "$l" "$r" >>"$f" 2>&1 || why+=("contents differ")
  if [[ ${#why[@]} == 0 ]]; then CHECK=OK; else CHECK="FAIL ($(IFS=,; echo "${why[*]}"))"; fi
  rm -f "$OUTD/$name.left.manifest" "$OUTD/$name.right.manifest"
  [[ $CHECK == OK ]] && rm -f "$f"
  return 0
}
# prep ROOT...: flush dirty pages, then warm the caches with a listing.
prep() { sync; find "$@" -printf '%s %T@\n' >/dev/null; }

# --- the workload --------------------------------------------------------------
say "floors"
prep "$BASE"
fwalls=() fcpus=() frss=()
for i in $(seq "$RUNS"); do
  OUT=/dev/null measure "find-$i" find "$BASE" -printf '%s %T@\n'
  [[ $RC == 0 ]] || die "find exited $RC"
  fwalls+=("$WALL") fcpus+=("$CPU") frss+=("$RSS")
done
read -r FIND_WALL FIND_MIN _ < <(stats "${fwalls[@]}")
read -r FIND_CPU _ _ < <(stats "${fcpus[@]}")
read -r _ _ FIND_RSS < <(stats "${frss[@]}")
prep "$BASE"
# shellcheck disable=SC2016  # $0 and $1 are bash -c's own arguments
measure cp-sync bash -c 'cp -a "$0" "$1" && sync' "$BASE" "$WORK/floor-copy"
[[ $RC == 0 ]] || die "cp -a exited $RC"
CP_WALL=$WALL CP_CPU=$CPU CP_RSS=$RSS
rm -rf "$WORK/floor-copy"

manifest "$BASE" >"$WORK/base.manifest"
TOTAL_BYTES=$(awk -F'\t' '$2 == "f" { s += $3 } END { printf "%d", s }' "$WORK/base.manifest")
# 20 files spread over the tree: even ones edited on the left, odd on the right.
awk -F'\t' '$2 == "f" { print $1 }' "$WORK/base.manifest" |
  awk -v n="$FILES" 'BEGIN { for (k = 0; k < 20; k++) want[int(k * n / 20) + 1] = k }
    (NR in want) { print want[NR] % 2 "\t" $0 }' >"$WORK/edits.list"
# The folder to rename: depth 1 or 2, file count closest to FILES/12.
read -r REN_COUNT REN_DIR < <(awk -F'\t' '$2 == "f" { print $1 }' "$WORK/base.manifest" |
  awk -F/ -v t="$((FILES / 12))" '
    { c[$1]++; if (NF > 2) c[$1 "/" $2]++ }
    END { bd = -1
          for (k in c) { d = c[k] - t; if (d < 0) d = -d
            if (bd < 0 || d < bd || (d == bd && k < best)) { best = k; bd = d } }
          print c[best] " " best }')
[[ -n ${REN_DIR:-} ]] || die "found no folder to rename"
REN_NEW="$REN_DIR renamed"
say "tree: $FILES files, $(mb "$TOTAL_BYTES"); rename: \`$REN_DIR\` ($REN_COUNT files)"

# tool_cmd TOOL first|sync: sets CMD to the sync command of TOOL in $D.
tool_cmd() {
  case $1 in
    twinsync) CMD=("$BIN" --config "$D/twinsync.toml" apply --auto-approve) ;;
    unison) CMD=(env "UNISON=$D/unison-archive" unison "$D/left" "$D/right" -batch -auto -times -perms 0) ;;
    rclone)
      CMD=(rclone --config "$D/rclone.conf" bisync "$D/left" "$D/right" --workdir "$D/rclone-work"
           --remove-empty-dirs --stats-log-level NOTICE)
      [[ $2 == first ]] && CMD+=(--resync)
      ;;
  esac
  return 0
}
tool_setup() {
  case $1 in
    twinsync)
      mkdir -p "$D/state"
      cat >"$D/twinsync.toml" <<EOF
# Written by scripts/bench-peers.sh.
left_root  = '$D/left'
right_root = '$D/right'
state_db   = '$D/state/twinsync.db'

[transfer]
min_file_age_seconds = 0

[logging]
log_file_path = '$D/twinsync.log.jsonl'
EOF
      "$BIN" --config "$D/twinsync.toml" init >"$OUTD/twinsync-init.out" 2>&1 \
        || { cat "$OUTD/twinsync-init.out" >&2; die "twinsync init failed"; }
      ;;
    unison) mkdir -p "$D/unison-archive" ;;
    rclone) mkdir -p "$D/rclone-work"; : >"$D/rclone.conf" ;;
  esac
}
# transfer_note TOOL OUTFILE: what the tool says it transferred.
transfer_note() {
  case $1 in
    # (the summary may wrap: its continuation lines are indented)
    twinsync) awk '/^Plan:/ {p = 1; s = $0; next} p && /^ / {s = s " " $0; next} p {exit} END {print s}' "$2" \
        | tr -s ' ' | sed 's/^Plan: //; s/, 0 conflicts//; s/, 0 to trash, 0 deleted for good//' || true ;;
    unison) grep -m1 -o '([0-9]* items\? transferred[^)]*)' "$2" || true ;;
    rclone) grep -m1 'Transferred:' "$2" | sed 's/^.*Transferred:[[:space:]]*//; s/ \/ .*//; s/$/ transferred/' || true ;;
  esac
}

declare -A R_WALL R_CPU R_RSS R_CHECK R_NOTE R_RATIO
record() { # TOOL STEP
  R_WALL[$1,$2]=$WALL R_CPU[$1,$2]=$CPU R_RSS[$1,$2]=$RSS R_CHECK[$1,$2]=$CHECK
  [[ $RC == 0 ]] || R_CHECK[$1,$2]="FAIL (exit $RC) ${CHECK}"
}

TOOLS=(twinsync unison rclone)
for T in "${TOOLS[@]}"; do
  D=$WORK/$T
  rm -rf "$D"
  mkdir -p "$D/right"
  cp -a "$BASE" "$D/left"
  tool_setup "$T"
  L=$D/left R=$D/right

  say "$T: 3. initial sync into an empty right side"
  tool_cmd "$T" first
  prep "$L" "$R"
  measure "$T-3-initial" "${CMD[@]}"
  check_sides "$L" "$R" "$WORK/base.manifest" "$T-3-initial"
  record "$T" 3
  R_RATIO[$T,3]=$(ratio "$WALL" "$CP_WALL")
  R_NOTE[$T,3]=$(transfer_note "$T" "$OUTD/$T-3-initial.out")

  say "$T: 1. no-change cycle x$RUNS"
  tool_cmd "$T" sync
  walls=() cpus=() rsss=() rcs=0
  for i in $(seq "$RUNS"); do
    prep "$L" "$R"
    measure "$T-1-nochange-$i" "${CMD[@]}"
    walls+=("$WALL") cpus+=("$CPU") rsss+=("$RSS")
    [[ $RC == 0 ]] || rcs=$RC
  done
  read -r WALL wmin wmax < <(stats "${walls[@]}")
  read -r CPU _ _ < <(stats "${cpus[@]}")
  read -r _ _ RSS < <(stats "${rsss[@]}")
  RC=$rcs
  check_sides "$L" "$R" "$WORK/base.manifest" "$T-1-nochange"
  record "$T" 1
  R_RATIO[$T,1]=$(ratio "$WALL" "$FIND_WALL")
  R_NOTE[$T,1]="median of $RUNS ($wmin-$wmax s)"
  if [[ $T == twinsync ]] && ! grep -q 'No changes' "$OUTD/$T-1-nochange-1.out"; then
    R_NOTE[$T,1]+="; WARNING: not reported as no change"
  fi

  say "$T: 2. 10 + 10 small edits"
  while IFS=$'\t' read -r side rel; do
    if [[ $side == 0 ]]; then root=$L; else root=$R; fi
    # (a file missing here means the last step failed, and its check says so)
    if [[ -f $root/$rel ]]; then
      echo "bench-peers edit on the $( [[ $side == 0 ]] && echo left || echo right )" >>"$root/$rel"
    fi
  done <"$WORK/edits.list"
  manifest "$L" >"$D/left.manifest"
  manifest "$R" >"$D/right.manifest"
  awk -F'\t' '$1 == 1 { print $2 }' "$WORK/edits.list" >"$D/right-edits"
  # Expected: the left tree, but the right's edited files as the right has them.
  awk -F'\t' 'FILENAME == ARGV[1] { r[$0] = 1; next }
              FILENAME == ARGV[2] { if (!($1 in r)) print; next }
              ($1 in r) { print }' "$D/right-edits" "$D/left.manifest" "$D/right.manifest" |
    LC_ALL=C sort >"$D/expected-2.manifest"
  prep "$L" "$R"
  measure "$T-2-edits" "${CMD[@]}"
  check_sides "$L" "$R" "$D/expected-2.manifest" "$T-2-edits"
  record "$T" 2
  R_RATIO[$T,2]=$(ratio "$WALL" "${R_WALL[$T,1]}")
  R_NOTE[$T,2]=$(transfer_note "$T" "$OUTD/$T-2-edits.out")

  say "$T: 4. rename \`$REN_DIR\` on the left"
  : >"$D/inodes-before"
  if [[ -d $R/$REN_DIR ]]; then
    (cd "$R/$REN_DIR" && find . -type f -printf '%P\t%i\t%s\n') | LC_ALL=C sort >"$D/inodes-before"
  fi
  [[ -d $L/$REN_DIR ]] || die "$T: \`$REN_DIR\` is missing on the left"
  mv "$L/$REN_DIR" "$L/$REN_NEW"
  manifest "$L" >"$D/expected-4.manifest"
  prep "$L" "$R"
  measure "$T-4-rename" "${CMD[@]}"
  check_sides "$L" "$R" "$D/expected-4.manifest" "$T-4-rename"
  record "$T" 4
  R_RATIO[$T,4]=$(ratio "$WALL" "${R_WALL[$T,1]}")
  if [[ -d $R/$REN_NEW ]]; then
    (cd "$R/$REN_NEW" && find . -type f -printf '%P\t%i\t%s\n') | LC_ALL=C sort >"$D/inodes-after"
    read -r kept recopied rebytes < <(awk -F'\t' 'FILENAME == ARGV[1] { i[$1] = $2; next }
      { if (($1 in i) && i[$1] == $2) k++; else { n++; b += $3 } }
      END { printf "%d %d %d\n", k, n, b }' "$D/inodes-before" "$D/inodes-after")
    if (( recopied == 0 )); then
      R_NOTE[$T,4]="renamed in place ($kept/$REN_COUNT files kept their inode)"
    else
      R_NOTE[$T,4]="re-copied $recopied/$REN_COUNT files ($(mb "$rebytes")), $kept kept"
    fi
  else
    R_NOTE[$T,4]="renamed folder missing on the right"
  fi
  tn=$(transfer_note "$T" "$OUTD/$T-4-rename.out")
  [[ -z $tn ]] || R_NOTE[$T,4]+="; tool: $tn"

  [[ $KEEP == 1 ]] || rm -rf "$L" "$R"
done

# --- report ------------------------------------------------------------------------
STEPS=(1 2 3 4)
declare -A SNAME=(
  [1]="1. no-change cycle"
  [2]="2. 10+10 edits, one sync"
  [3]="3. initial sync to empty side"
  [4]="4. folder rename, one sync"
)
declare -A SFLOOR=([1]="find" [3]="cp -a+sync" [2]="no-change" [4]="no-change")
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//' || echo '?')
MACHINE="$(nproc) CPUs ($CPU_MODEL), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r), $(df -PT "$WORK" | awk 'NR==2 {print $2}') under $WORK"
STAMPF=$(date +%Y%m%d-%H%M%S)
RESULTS=$WORK/results-$STAMPF.txt
TSV=$WORK/results-$STAMPF.tsv
{
  printf 'tool\tstep\twall_s\tcpu_s\tpeak_rss_kib\tratio\tratio_to\tcheck\tnote\n'
  printf 'find\tfloor-find\t%s\t%s\t%s\t\t\tOK\tmedian of %s\n' "$FIND_WALL" "$FIND_CPU" "$FIND_RSS" "$RUNS"
  printf 'cp\tfloor-cp\t%s\t%s\t%s\t\t\tOK\tcp -a + sync\n' "$CP_WALL" "$CP_CPU" "$CP_RSS"
  for s in "${STEPS[@]}"; do for T in "${TOOLS[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$T" "$s" "${R_WALL[$T,$s]}" "${R_CPU[$T,$s]}" \
      "${R_RSS[$T,$s]}" "${R_RATIO[$T,$s]}" "${SFLOOR[$s]}" "${R_CHECK[$T,$s]}" "${R_NOTE[$T,$s]}"
  done; done
} >"$TSV"

{
  echo "twinsync vs Unison vs rclone bisync — $NOW"
  echo "tree: $WANT_STAMP ($FILES files, $DIRS folders, $(mb "$TOTAL_BYTES")); rename: \`$REN_DIR\` ($REN_COUNT files)"
  echo "machine: $MACHINE"
  echo "tools: $V_TWINSYNC; $V_UNISON; $V_RCLONE"
  echo "wall: ns clock around GNU time; cpu: user+sys; rss: GNU time %M; warm cache"
  echo
  printf '%-32s %-9s %8s %7s %9s %7s  %-6s %s\n' step tool "wall s" "cpu s" "peak MiB" ratio check note
  printf '%-32s %-9s %8s %7s %9s %7s  %-6s %s\n' "floor: find LEFT (one side)" find "$FIND_WALL" "$FIND_CPU" "$(mib "$FIND_RSS")" "" "" "median of $RUNS (min $FIND_MIN)"
  printf '%-32s %-9s %8s %7s %9s %7s  %-6s %s\n' "floor: cp -a LEFT EMPTY && sync" cp "$CP_WALL" "$CP_CPU" "$(mib "$CP_RSS")" "" "" ""
  for s in "${STEPS[@]}"; do
    for T in "${TOOLS[@]}"; do
      printf '%-32s %-9s %8s %7s %9s %7s  %-6s %s\n' "${SNAME[$s]}" "$T" "${R_WALL[$T,$s]}" "${R_CPU[$T,$s]}" \
        "$(mib "${R_RSS[$T,$s]}")" "${R_RATIO[$T,$s]}x" "${R_CHECK[$T,$s]}" "${R_NOTE[$T,$s]}"
    done
  done
  echo
  echo "steps ran in the order 3, 1, 2, 4 on each tool's own copy of the tree."
  echo "ratio: 1 vs find of one side; 3 vs cp -a + sync; 2 and 4 vs the tool's own no-change cycle."
  echo "check: both sides equal the expected tree (paths, sizes, mtimes to the second, contents)."
} | tee "$RESULTS"
echo "(saved to $RESULTS and $TSV; command output in $OUTD)"

# --- docs ----------------------------------------------------------------------------
[[ $DOCS == 1 ]] || exit 0
DOC=$REPO/docs/benchmarks.md
SECTION=$WORK/docs-section.md
{
  echo "<!-- bench-peers:begin -->"
  echo "<!-- Written by scripts/bench-peers.sh; rewritten on every run. -->"
  echo
  echo "### Peers: figures ($(date -u +%Y-%m-%d), $FILES files in $DIRS folders)"
  echo
  (( FILES == 90000 && DIRS == 3000 )) \
    || { echo "**Not the default size (90,000 / 3,000): a smoke run, not representative.**"; echo; }
  echo "* Machine: $MACHINE."
  echo "* Tools: $V_TWINSYNC; $V_UNISON; $V_RCLONE."
  echo "* Tree: \`$WANT_STAMP\`, $(mb "$TOTAL_BYTES"); step 4 renames \`$REN_DIR\` ($REN_COUNT files)."
  echo "* Wall from a ns clock around GNU time, CPU = user + sys, peak RSS = \`%M\`; warm cache."
  echo
  echo "| step | tool | wall s | CPU s | peak RSS MiB | ratio | check | notes |"
  echo "|---|---|---:|---:|---:|---:|---|---|"
  # shellcheck disable=SC2016  # backquotes are Markdown here
  printf '| floor | `find LEFT -printf %s` | %s | %s | %s | | | median of %s (min %s) |\n' \
    "'%s %T@\\n'" "$FIND_WALL" "$FIND_CPU" "$(mib "$FIND_RSS")" "$RUNS" "$FIND_MIN"
  echo "| floor | \`cp -a LEFT EMPTY && sync\` | $CP_WALL | $CP_CPU | $(mib "$CP_RSS") | | | |"
  for s in "${STEPS[@]}"; do
    for T in "${TOOLS[@]}"; do
      echo "| ${SNAME[$s]} | $T | ${R_WALL[$T,$s]} | ${R_CPU[$T,$s]} | $(mib "${R_RSS[$T,$s]}") | ${R_RATIO[$T,$s]}× ${SFLOOR[$s]} | ${R_CHECK[$T,$s]} | ${R_NOTE[$T,$s]//|/\\|} |"
    done
  done
  echo
  echo "<!-- bench-peers:end -->"
} >"$SECTION"
if grep -q '^<!-- bench-peers:begin -->' "$DOC" && grep -q '^<!-- bench-peers:end -->' "$DOC"; then
  awk -v sec="$SECTION" '
    /^<!-- bench-peers:begin -->/ { while ((getline line < sec) > 0) print line; skip = 1; next }
    /^<!-- bench-peers:end -->/ { skip = 0; next }
    !skip' "$DOC" >"$DOC.tmp"
else
  { cat "$DOC"; echo; cat "$SECTION"; } >"$DOC.tmp"
fi
mv "$DOC.tmp" "$DOC"
say "updated the peers section of $DOC"
