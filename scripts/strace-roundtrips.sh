#!/usr/bin/env bash
# Metadata calls per file on the destination, counted on the release binary
# with strace (issue 21 item 2): the system calls of `twinsync apply PLAN`
# whose path, or whose file descriptor's path (`strace -y`), lies under the
# right root, data transfer (read, write) and close left out. Four cases of
# N small files (default 300, 3 kB, in 10 folders) copied left -> right in
# turn: new files, updates (the old version to trash), moves (a folder
# renamed file by file is not a move: each file goes to a new folder), and
# soft deletes.
#
#   bash scripts/strace-roundtrips.sh [N]
#
# Prints per case the calls per file and the count per system call.
# `TWINSYNC_BIN` names the binary (default: target/release/twinsync, built).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-300}
command -v strace >/dev/null || {
    if [[ $(id -u) == 0 ]]; then
        apt-get install -y -qq strace >/dev/null
    else
        echo "needs strace" >&2
        exit 1
    fi
}
bin=${TWINSYNC_BIN:-}
if [[ -z $bin ]]; then
    cargo build --release --locked --quiet
    bin=$PWD/target/release/twinsync
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/left" "$work/right"
cat >"$work/sync_config.toml" <<'EOF'
left_root = 'left'
right_root = 'right'
state_db = 'state/twinsync.db'
[transfer]
min_file_age_seconds = 0
[safety]
max_delete_percent = 100
max_change_percent = 100
[logging]
log_file_path = 'twinsync.log.jsonl'
EOF
ts() { (cd "$work" && "$bin" --config sync_config.toml -q "$@"); }
ts init >/dev/null
right=$(realpath "$work/right")
body=$(head -c 3000 /dev/zero | tr '\0' 'x')

# One case: plan, then the apply under strace; prints the figures.
measure() {
    local what=$1
    ts plan --out "$work/p.json" >/dev/null
    (cd "$work" && strace -f -y -qq -o "$work/trace" \
        "$bin" --config sync_config.toml -q apply p.json -y >/dev/null)
    # Lines naming a path under the right root, data transfer and close out.
    grep -F "$right" "$work/trace" \
        | grep -v "resumed>" \
        | grep -Ev '^[0-9]+ +(read|write|pread64|pwrite64|close|lseek|getdents64)\(' \
        | sed -E 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/' | sort | uniq -c | sort -rn >"$work/counts"
    local total
    total=$(awk '{s += $1} END {print s + 0}' "$work/counts")
    printf '%-12s %6.2f calls per file (%d calls, %d files): %s\n' "$what" \
        "$(awk -v t="$total" -v n="$n" 'BEGIN {print t / n}')" "$total" "$n" \
        "$(awk '{printf "%s %s, ", $2, $1}' "$work/counts" | sed 's/, $//')"
}

for i in $(seq 1 "$n"); do
    mkdir -p "$work/left/d$((i % 10))"
    printf '%s %d\n' "$body" "$i" >"$work/left/d$((i % 10))/f$i.txt"
done
measure "new file"
sleep 1
for i in $(seq 1 "$n"); do
    printf '%s %d, v2\n' "$body" "$i" >"$work/left/d$((i % 10))/f$i.txt"
done
measure "update"
for i in $(seq 1 "$n"); do
    mkdir -p "$work/left/moved/d$((i % 10))"
    mv "$work/left/d$((i % 10))/f$i.txt" "$work/left/moved/d$((i % 10))/f$i.txt"
done
measure "move"
for i in $(seq 1 "$n"); do
    rm "$work/left/moved/d$((i % 10))/f$i.txt"
done
measure "soft delete"
