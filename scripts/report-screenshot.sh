#!/usr/bin/env bash
# Renders the demo's activity report (`twinsync report`, SPEC §12) in headless
# Chromium and saves a PNG of what an admin sees when opening the page.
#
#   bash scripts/report-screenshot.sh [STATE] [OUT.png]
#
# STATE (default `demo`) is what the page shows:
#   demo       the demo after some work: edits each way, a delete that goes
#              to the trash, a file changed on both sides (a clash);
#   blocked    `watch` refused by the mass-delete guard (most files deleted
#              on one side): the headline says "Blocked" and names the guard,
#              the counts and the commands to review and override;
#   needs-you  an unresolved conflict (option2) and two names Windows cannot
#              hold (`CON.txt`, `Q3: budget.xlsx`): the headline says "Needs
#              you", the page lists them with why;
#   all        the three, as target/report-STATE.png.
# OUT.png defaults to target/report-STATE.png.
#
# Runs the demo of the README's quick start (config/demo.toml with demo/left
# and demo/right) on a temporary copy, so the repository's demo folders stay
# as shipped: three watch cycles, then the state's changes and two more
# cycles. Then `twinsync report` writes the page and Chromium screenshots it
# from disk (file://).
# Needs Debian's chromium; installs it when missing and running as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
state=${1:-demo}
case $state in
demo | blocked | needs-you) ;;
all)
    for s in demo blocked needs-you; do bash "$0" "$s"; done
    exit 0
    ;;
*)
    echo "usage: $0 [demo|blocked|needs-you|all] [OUT.png]" >&2
    exit 1
    ;;
esac
out=$(realpath -m "${2:-target/report-$state.png}")
mkdir -p "$(dirname "$out")"

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        browser=$(command -v chromium)
    else
        echo "chromium is not installed (Debian: sudo apt-get install chromium)" >&2
        exit 1
    fi
fi

cargo build --locked --quiet
bin=$repo/target/debug/twinsync

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The demo as shipped: its config and its two roots (with their markers),
# none of a previous run's state DB, log or report.
mkdir -p "$work/config"
cp config/demo.toml "$work/config/"
git ls-files -z demo | xargs -0 -I{} cp --parents {} "$work/"
cd "$work"
run() { "$bin" --config config/demo.toml "$@" >/dev/null 2>&1; }

# The state's settings go in before the first cycle (the demo config has no
# [safety] or [conflicts] section of its own).
case $state in
blocked) printf '\n[safety]\nmax_delete_min_files = 2\n' >> config/demo.toml ;;
needs-you) printf '\n[conflicts]\nsame_file_changed_both = "option2"\n' >> config/demo.toml ;;
esac
run watch --cycles 3 # the first cycle copies each side's demo files across
case $state in
demo)
    echo "minutes of today's meeting" > demo/left/docs/minutes-today.txt
    head -c 300000 /dev/urandom > demo/right/media/clip.bin
    echo "Reception 100, Accounts 101" > demo/left/phones.txt
    echo "Reception 100, Accounts 102, Sales 103" > demo/right/phones.txt
    rm -f demo/left/docs/minutes.txt
    ;;
blocked)
    # Three of the four files gone on the left: the guard refuses to
    # delete them on the right (exit 4), and the refusal is remembered.
    rm -f demo/left/docs/minutes.txt demo/left/docs/budget.csv demo/left/phones.txt
    ;;
needs-you)
    echo "Reception 100, Accounts 101" > demo/left/phones.txt
    echo "Reception 100, Accounts 102, Sales 103" > demo/right/phones.txt
    echo "a name Windows reserves" > "demo/left/CON.txt"
    echo "a colon Windows cannot hold" > "demo/left/docs/Q3: budget.xlsx"
    ;;
esac
run watch --cycles 2 || true
run report
page=$work/demo/twinsync-report.html
cp "$page" "${out%.png}.html"

flags=(--headless --disable-gpu --disable-background-networking --disable-component-update
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$work/chromium"
    --screenshot="$out" --window-size=1280,2000)
# Chromium's sandbox does not run as root.
[[ $(id -u) == 0 ]] && flags+=(--no-sandbox)
"$browser" "${flags[@]}" "file://$page" >/dev/null 2>&1
echo "state:      $state ($("$bin" --config config/demo.toml status --json 2>/dev/null | grep -m1 '"headline"' | sed -E 's/^ *"headline": "(.*)",?$/\1/'))"
echo "page:       ${out%.png}.html"
echo "screenshot: $out"
