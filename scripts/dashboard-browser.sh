#!/usr/bin/env bash
# The dashboard in a real browser (issue 23): headless Chromium driven over
# WebDriver (Debian's chromium + chromium-driver; curl and jq speak the
# protocol). On two temporary folders it:
#   1. makes an unresolved conflict (option2) on `report.docx` and a 48 MiB
#      file to copy under a 4 MiB/s limit, then starts `twinsync watch` with
#      the dashboard on 127.0.0.1 (a free port);
#   2. logs in with the one-time link `twinsync dashboard` prints;
#   3. waits for the copy in flight and screenshots the page (mid-copy),
#      then screenshots it with the conflict listed;
#   4. clicks "Keep left" on the conflict, waits until the page (refreshed
#      by its own script) no longer lists it, and checks `twinsync status
#      --json` has no unresolved conflict and both sides hold the left edit.
#
#   bash scripts/dashboard-browser.sh [OUT_DIR]    (default target/dashboard)
#
# Writes OUT_DIR/dashboard-mid-copy.png and OUT_DIR/dashboard-conflict.png,
# prints one line per check and "N passed, N failed". Installs chromium and
# chromium-driver when missing and running as root. Uses the debug binary
# (cargo build) unless TWINSYNC_BIN names another. About a minute.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
out=$(realpath -m "${1:-target/dashboard}")
mkdir -p "$out"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [[ $(id -u) == 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "needs chromium and chromium-driver (apt-get install chromium chromium-driver)" >&2
        exit 1
    fi
fi
for t in curl jq base64; do
    command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }
done
bin=${TWINSYNC_BIN:-}
if [[ -z $bin ]]; then
    cargo build --quiet --locked
    bin=${CARGO_TARGET_DIR:-$repo/target}/debug/twinsync
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -n ${KEEP:-} ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p "$work/left" "$work/right"
cat >"$work/sync_config.toml" <<'EOF'
left_root = 'left'
right_root = 'right'
state_db = 'state/twinsync.db'
sync_interval_seconds = 2

[conflicts]
same_file_changed_both = "option2"

[transfer]
min_file_age_seconds = 0
max_bytes_per_second = 4194304
large_file_bytes = 1048576

[logging]
log_file_path = 'twinsync.log.jsonl'

[dashboard]
enabled = true
listen = "127.0.0.1:0"
EOF
ts() { (cd "$work" && "$bin" --config sync_config.toml "$@"); }
ts init >/dev/null
echo "base" >"$work/left/report.docx"
touch -d '-10 min' "$work/left/report.docx"
ts apply -y >/dev/null
echo "left edit" >"$work/left/report.docx"
touch -d '-5 min' "$work/left/report.docx"
echo "right edit, newer" >"$work/right/report.docx"
touch -d '-2 min' "$work/right/report.docx"
ts apply -y >/dev/null
mkdir -p "$work/left/Premiere"
head -c $((48 << 20)) /dev/urandom >"$work/left/Premiere/interview-take-3.mov"
touch -d '-1 min' "$work/left/Premiere/interview-take-3.mov"

(cd "$work" && exec "$bin" --config sync_config.toml watch >"$work/watch.out" 2>&1) &
pids+=($!)
link=""
for _ in $(seq 1 100); do
    if o=$(ts dashboard 2>"$work/dash.err") && ! grep -q "not serving" "$work/dash.err"; then
        link=$(sed -n 's/^One-time login link.*): //p' <<<"$o")
        break
    fi
    sleep 0.2
done
[[ -n $link ]] || { echo "the dashboard did not start"; cat "$work/watch.out"; exit 1; }

port=$((9515 + RANDOM % 400))
chromedriver --port=$port >"$work/chromedriver.log" 2>&1 &
pids+=($!)
wd=http://127.0.0.1:$port
for _ in $(seq 1 50); do curl -s "$wd/status" >/dev/null && break; sleep 0.2; done
caps='{"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{"binary":"/usr/bin/chromium","args":["--headless=new","--no-sandbox","--disable-gpu","--disable-dev-shm-usage","--window-size=1280,1500","--no-first-run","--disable-background-networking","--disable-component-update","--disable-sync","--disable-quic","--user-data-dir='"$work/chromium"'"]}}}}'
sid=$(curl -s -X POST -H 'Content-Type: application/json' -d "$caps" "$wd/session" | jq -r '.value.sessionId')
[[ $sid != null && -n $sid ]] || { echo "no WebDriver session"; cat "$work/chromedriver.log"; exit 1; }
api() { # METHOD PATH [JSON]
    curl -s -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$wd/session/$sid$2"
}
count() { # CSS selector -> how many match
    api POST /elements "$(jq -nc --arg v "$1" '{using:"css selector",value:$v}')" | jq '.value | length'
}
shot() {
    api GET /screenshot | jq -r '.value' | base64 -d >"$1"
}
pass=0
fail=0
check() { # NAME CONDITION-COMMAND...
    local name=$1
    shift
    if "$@"; then
        echo "ok   $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        fail=$((fail + 1))
    fi
}
waitfor() { # SECONDS COMMAND...
    local n=$(($1 * 5))
    shift
    for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.2; done
    return 1
}

api POST /url "$(jq -nc --arg u "$link" '{url:$u}')" >/dev/null
title=$(api GET /title | jq -r .value)
check "logged in with the one-time link (title: $title)" grep -q "^twinsync:" <<<"$title"
has_copy() { [[ $(count "tr.copy") -ge 1 ]]; }
check "a copy in flight is shown (bytes, speed, time left)" waitfor 30 has_copy
sleep 3 # let it move a little, and the page refresh
shot "$out/dashboard-mid-copy.png"
has_conflict() { [[ $(count 'tr.conflict[data-path="report.docx"]') -ge 1 ]]; }
check "the conflict appears on the page" waitfor 10 has_conflict
no_copy() { [[ $(count "tr.copy") -eq 0 ]]; }
waitfor 30 no_copy || true # the copy done: the page as it waits for the admin
shot "$out/dashboard-conflict.png"
# Click "Keep left" (found again if the page's refresh replaced it meanwhile).
keep_left='{"using":"xpath","value":"//tr[@data-path=\"report.docx\"]//button[text()=\"Keep left\"]"}'
clicked=false
for _ in 1 2 3 4 5; do
    el=$(api POST /element "$keep_left" | jq -r '.value | to_entries[0].value')
    if [[ $(api POST "/element/$el/click" '{}' | jq -r '.value') == null ]]; then
        clicked=true
        break
    fi
    sleep 0.5
done
check "clicked Keep left" $clicked
after=$(api GET /title | jq -r .value)
check "the click went through (page: $after)" grep -q "^twinsync:" <<<"$after"
no_conflict() { [[ $(count 'tr.conflict[data-path="report.docx"]') -eq 0 ]]; }
check "after the click the conflict is gone from the page" waitfor 30 no_conflict
settled() {
    [[ $(ts status --json 2>/dev/null | jq '.unresolved_conflicts | length') -eq 0 ]] &&
        [[ $(cat "$work/right/report.docx") == "left edit" ]]
}
check "and from twinsync status (the right side holds the left edit)" waitfor 30 settled
check "the action is logged with the actor dashboard" \
    grep -q '"actor":"dashboard".*"action":"resolve"\|"action":"resolve".*"actor":"dashboard"' "$work/twinsync.log.jsonl"
api DELETE "" >/dev/null || true
echo "screenshots: $out/dashboard-mid-copy.png $out/dashboard-conflict.png"
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
