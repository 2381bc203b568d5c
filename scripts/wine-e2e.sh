#!/usr/bin/env bash
# End-to-end check of the RELEASE twinsync.exe under Wine, on real folders
# (Wine maps / to Z:, so the config names Z:\... roots). Each scenario gets
# its own pair of roots, config and state DB, prints PASS or FAIL with the
# reasons, and the script ends with a summary; any FAIL exits non-zero.
#
# Run alone:  bash scripts/wine-e2e.sh     (builds the release .exe first)
# or as the `e2e` phase of scripts/windows-check.sh.
#
# Knobs (all optional; WINCHECK_* as in scripts/wincross-env.sh):
#   WINE_E2E_EXE=path        run this .exe instead of the release build
#   WINE_E2E_SKIP_BUILD=1    do not (re)build the release .exe
#   WINE_E2E_SKIP_PREFIX=1   the Wine prefix and shim are known to be ready
#   WINE_E2E_ONLY="1 4 7"    run only these scenario numbers
#   WINE_E2E_KEEP=1          keep the temp folders even when all pass
#                            (they are always kept after a failure)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/wincross-env.sh
source "$ROOT/scripts/wincross-env.sh"

E2E_T0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for tool in wine wineserver x86_64-w64-mingw32-gcc python3; do
    command -v "$tool" >/dev/null || { echo "wine-e2e: $tool not found (run scripts/windows-check.sh once to install the toolchain)" >&2; exit 1; }
done

if [[ "${WINE_E2E_SKIP_PREFIX:-0}" != 1 ]]; then
    wincross_build_shim
    wincross_prefix
fi
if [[ -n "${WINE_E2E_EXE:-}" ]]; then
    TS_EXE=$WINE_E2E_EXE
else
    TS_EXE=$ROOT/$RELEASE_EXE
    if [[ "${WINE_E2E_SKIP_BUILD:-0}" != 1 ]]; then
        t=$(date +%s.%N)
        echo "==> release build"
        wincross_build_release || { echo "wine-e2e: release build failed" >&2; exit 1; }
        echo "<== release build done in $(since "$t")s"
    fi
fi
[[ -f "$TS_EXE" ]] || { echo "wine-e2e: $TS_EXE missing" >&2; exit 1; }
echo "wine-e2e: testing $TS_EXE ($(stat -c %s "$TS_EXE") bytes)"

E=$(mktemp -d "${TMPDIR:-/tmp}/twinsync-e2e.XXXXXX")
LOCK_EXE=$E/wine-lock.exe
SCPROBE_EXE=$E/wine-scprobe.exe
x86_64-w64-mingw32-gcc -municode -O2 -s -o "$LOCK_EXE" "$ROOT/scripts/wine-lock.c" \
    || { echo "wine-e2e: cannot build scripts/wine-lock.c" >&2; exit 1; }
x86_64-w64-mingw32-gcc -municode -O2 -s -o "$SCPROBE_EXE" "$ROOT/scripts/wine-scprobe.c" -ladvapi32 \
    || { echo "wine-e2e: cannot build scripts/wine-scprobe.c" >&2; exit 1; }

BG_PIDS=()
finish() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    # A service left registered would start with every later wineserver
    # (it is AutoStart), so remove it whatever happened.
    if [[ -n "${SVC_INSTALLED:-}" ]]; then
        timeout 30 wine sc stop twinsync >/dev/null 2>&1
        timeout 30 wine sc delete twinsync >/dev/null 2>&1
    fi
    # Leave no wineserver (or helper) behind; it serves this prefix only.
    wineserver -k >/dev/null 2>&1
}
trap finish EXIT

# ------------------------------------------------------------- helpers ----
# Z:\ path of a Unix path.
winpath() { local p=$1; printf 'Z:%s' "${p//\//\\}"; }

SC_FAILS=()
fail() { SC_FAILS+=("$*"); echo "    FAIL: $*"; }
note() { echo "    $*"; }

# Sets up scenario $1: folders $S/{left,right}, config $CFG (extra TOML
# lines in $2), state DB and log inside $S.
new_pair() {
    S=$E/$1
    L=$S/left
    R=$S/right
    mkdir -p "$L" "$R"
    CFG=$S/sync_config.toml
    CFGW=$(winpath "$CFG")
    LOG=$S/twinsync.log.jsonl
    cat > "$CFG" <<TOML
left_root  = '$(winpath "$L")'
right_root = '$(winpath "$R")'
state_db   = '$(winpath "$S/twinsync.db")'
sync_interval_seconds = 1
${2:-}

[transfer]
min_file_age_seconds = 0

[logging]
log_file_path = '$(winpath "$LOG")'
TOML
    NRUN=0
}

# Runs twinsync with the scenario's config; sets RC, OUT (stdout), ERR.
ts() {
    NRUN=$((NRUN + 1))
    OUT=$S/run$NRUN.out
    ERR=$S/run$NRUN.err
    timeout 180 wine "$TS_EXE" --config "$CFGW" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    note "\$ twinsync $* -> exit $RC"
}
# Shows the last run's output, indented (filtered of Wine's own noise).
show() {
    { cat "$ERR"; [[ $(head -c1 "$OUT") == "{" ]] || cat "$OUT"; } | grep -v -e '^wine: Read access denied for device' -e '^$' \
        | sed 's/\r$//; s/^/      | /' | head -n "${1:-40}"
}
expect_rc() {
    local w
    for w in "$@"; do [[ $RC == "$w" ]] && return 0; done
    fail "exit $RC, expected $*"
    show
    return 1
}
# The last run's stdout + stderr contain this text (fixed string).
expect_text() {
    grep -qF -- "$1" "$OUT" "$ERR" || { fail "output lacks \"$1\""; show; }
}

# mkfile PATH CONTENT [DATE]: a file with fixed content and mtime.
mkfile() {
    mkdir -p "$(dirname "$1")"
    printf '%s' "$2" > "$1"
    touch -d "${3:-2024-01-01 10:00:00}" "$1"
}
# The file holds exactly this content.
expect_content() {
    if [[ ! -f "$1" ]]; then
        fail "missing ${1#"$S"/}"
    elif [[ "$(cat "$1")" != "$2" ]]; then
        fail "${1#"$S"/} holds \"$(head -c 80 "$1")\", expected \"$2\""
    fi
}
expect_absent() { [[ ! -e "$1" ]] || fail "${1#"$S"/} should not exist"; }

# One line per entry: kind, exact relative path, and for files size, mtime
# (seconds) and md5. The marker and the trash are left out.
tree_of() {
    (cd "$1" && find . -mindepth 1 \( -path ./.sync_trash -o -path ./.twinsync-root \) -prune \
        -o -type d -printf 'd\t%P\n' -o -type f -printf 'f\t%P\t%s %TY-%Tm-%Td_%TH:%TM:%.2TS\n' \
        | LC_ALL=C sort) | while IFS=$'\t' read -r k p rest; do
        if [[ $k == f ]]; then
            printf '%s %s %s %s\n' "$k" "$p" "$rest" "$(md5sum < "$1/$p" | cut -c1-12)"
        else
            printf '%s %s\n' "$k" "$p"
        fi
    done
}
expect_same_trees() {
    local d
    if ! d=$(diff <(tree_of "$L") <(tree_of "$R")); then
        fail "left and right differ (< left, > right):"
        sed 's/^/      | /' <<<"$d" | head -30
    fi
}

# Plans with --detailed-exitcode; expects exit 0 (nothing to do).
expect_clean_plan() {
    ts plan --detailed-exitcode --json
    if [[ $RC != 0 ]]; then
        fail "plan is not clean (exit $RC)${1:+: $1}"
        show
    fi
}
# py EXPR FILE: evaluates a Python expression over the JSON in FILE (as d).
py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2"; }

# wine attrib flags (letters among A S H R) of a Unix path.
attrs_of() {
    timeout 60 wine attrib "$(winpath "$1")" 2>/dev/null | tr -d '\r' | sed 's/Z:.*//' | tr -cd 'ASHR'
}
# wine attrib +X / -X PATH (Wine's attrib takes one flag per call).
set_attr() { timeout 60 wine attrib "$1" "$(winpath "$2")" >/dev/null 2>&1 || fail "wine attrib $1 $2 failed"; }
has_flags() { # has_flags PATH WANT(letters among SHR, exactly these of S/H/R)
    local got want=$2 c
    got=$(attrs_of "$1" | tr -d 'A')
    for c in S H R; do
        if [[ $want == *$c* && $got != *$c* ]] || [[ $want != *$c* && $got == *$c* ]]; then
            fail "${1#"$S"/}: attrib shows \"$got\", expected \"$want\""
            return 1
        fi
    done
}

# ----------------------------------------------------------- scenarios ----

# 1. init, plan, apply both directions, status.
sc_basic() {
    new_pair basic
    rmdir "$R"
    ts init # the right root is missing and --create-roots not given
    [[ $RC != 0 ]] || fail "init without --create-roots succeeded with a missing right root"
    [[ -d $R ]] && fail "init without --create-roots created the right root"
    ts init --create-roots
    expect_rc 0
    [[ -f $L/.twinsync-root && -f $R/.twinsync-root ]] || fail "root markers missing after init"
    ts init
    expect_rc 0 # idempotent
    mkfile "$L/a.txt" "left a"
    mkfile "$L/docs/b.docx" "left b" "2024-02-03 04:05:06"
    mkdir -p "$L/empty dir"
    mkfile "$R/c.txt" "right c"
    mkfile "$R/sub/deep/d.pdf" "right d" "2023-12-31 23:59:58"
    ts plan --detailed-exitcode --out "$(winpath "$S/plan1.json")"
    expect_rc 2
    expect_text "6.2.9"
    if [[ -f $S/plan1.json ]]; then
        note "plan: $(py '", ".join(sorted(o["kind"]+" "+o["path"]+" ("+o["rule"]+")" for o in d["ops"]))' "$S/plan1.json")"
        [[ $(py 'sum(o["kind"]=="copy" for o in d["ops"])' "$S/plan1.json") == 4 ]] || fail "plan should hold 4 copies"
    else
        fail "plan --out wrote no plan file"
    fi
    ts apply "$(winpath "$S/plan1.json")"
    expect_rc 0
    expect_content "$R/a.txt" "left a"
    expect_content "$R/docs/b.docx" "left b"
    [[ -d "$R/empty dir" ]] || fail "empty folder not created on the right"
    expect_content "$L/c.txt" "right c"
    expect_content "$L/sub/deep/d.pdf" "right d"
    expect_same_trees
    expect_clean_plan "after the first apply"
    # Second round, the other way round, through `apply --auto-approve`.
    mkfile "$R/docs/b.docx" "right edit of b" "2024-03-01 08:00:00"
    mkfile "$R/new-right.txt" "new on right"
    mkfile "$L/new-left.txt" "new on left"
    rm "$L/a.txt"
    ts apply --auto-approve
    expect_rc 0
    expect_content "$L/docs/b.docx" "right edit of b"
    expect_content "$L/new-right.txt" "new on right"
    expect_content "$R/new-left.txt" "new on left"
    expect_absent "$R/a.txt"
    expect_content "$R/.sync_trash/a.txt" "left a"
    expect_same_trees
    expect_clean_plan "after the second apply"
    ts status
    expect_rc 0
    show 30
    expect_text "$(winpath "$L")"
    ts status --json
    expect_rc 0
    if py '1' "$OUT" >/dev/null 2>&1; then
        note "status --json keys: $(py '", ".join(sorted(d))' "$OUT")"
    else
        fail "status --json is not JSON"
        show
    fi
}

# 2. Same file edited on both sides since the last sync -> clash copies.
sc_clash() {
    new_pair clash
    ts init
    expect_rc 0
    mkfile "$L/report.docx" "base report"
    mkfile "$L/notes" "base notes"
    ts apply --auto-approve
    expect_rc 0
    mkfile "$L/report.docx" "LEFT edit (older)" "2024-05-01 09:00:00"
    mkfile "$R/report.docx" "RIGHT edit (newer)" "2024-05-01 10:00:00"
    mkfile "$L/notes" "left notes, newer" "2024-05-02 10:00:00"
    mkfile "$R/notes" "right notes, older" "2024-05-02 09:00:00"
    ts plan --json
    expect_rc 0
    note "plan: $(py '"; ".join(o["kind"]+" "+o["path"]+" "+o["rule"] for o in d["ops"])' "$OUT")"
    local clashes
    clashes=$(py '"|".join(sorted(o["conflict"]["clash_path"]+" newer="+o["conflict"]["newer"] for o in d["ops"] if o["kind"]=="conflict"))' "$OUT")
    note "conflicts: $clashes"
    [[ $clashes == "notes - clash newer=left|report - clash.docx newer=right" ]] \
        || fail "conflict ops should name clash paths \"notes - clash\" (left newer) and \"report - clash.docx\" (right newer)"
    [[ $(py 'sum(o["kind"]=="conflict" and o["rule"]=="6.2.1" for o in d["ops"])' "$OUT") == 2 ]] \
        || fail "plan should hold 2 conflicts with rule 6.2.1"
    ts apply --auto-approve
    expect_rc 0
    local side
    for side in "$L" "$R"; do
        expect_content "$side/report.docx" "RIGHT edit (newer)"
        expect_content "$side/report - clash.docx" "LEFT edit (older)"
        expect_content "$side/notes" "left notes, newer"
        expect_content "$side/notes - clash" "right notes, older"
    done
    expect_same_trees
    expect_clean_plan "after the clash"
    # The clash name is taken: the next one is `report - clash 2.docx`.
    mkfile "$L/report.docx" "LEFT again (newer)" "2024-06-01 10:00:00"
    mkfile "$R/report.docx" "RIGHT again (older)" "2024-06-01 09:00:00"
    ts apply --auto-approve
    expect_rc 0
    expect_content "$L/report - clash 2.docx" "RIGHT again (older)"
    expect_content "$R/report.docx" "LEFT again (newer)"
    expect_same_trees
}

# 3. Case-only renames of a file and a folder on one side.
sc_case() {
    new_pair case
    ts init
    expect_rc 0
    mkfile "$L/Doc.txt" "doc"
    mkfile "$L/Folder/inner.txt" "inner"
    mkfile "$L/Folder/Sub/x.txt" "x"
    ts apply --auto-approve
    expect_rc 0
    mv "$L/Doc.txt" "$L/DOC.txt"
    mv "$L/Folder" "$L/FOLDER"
    ts plan --json
    expect_rc 0
    note "plan: $(py '"; ".join(o["kind"]+" "+o["path"]+" "+o["rule"] for o in d["ops"])' "$OUT")"
    [[ $(py 'sum(o["kind"]=="copy" for o in d["ops"])' "$OUT") == 0 ]] || fail "a case-only rename should copy nothing"
    ts apply --auto-approve
    expect_rc 0
    expect_content "$R/DOC.txt" "doc"
    expect_content "$R/FOLDER/inner.txt" "inner"
    expect_content "$R/FOLDER/Sub/x.txt" "x"
    expect_absent "$R/Doc.txt"
    expect_absent "$R/Folder"
    note "right now holds: $(cd "$R" && find . -mindepth 1 -not -path './.twinsync-root' | sort | tr '\n' ' ')"
    expect_same_trees
    expect_clean_plan "after the case-only renames"
    # And back the other way, from the right side.
    mv "$R/DOC.txt" "$R/doc.txt"
    ts apply --auto-approve
    expect_rc 0
    expect_content "$L/doc.txt" "doc"
    expect_absent "$L/DOC.txt"
    expect_same_trees
}

# 4. Read-only, hidden and system attributes set with wine attrib.
sc_attrs() {
    new_pair attrs
    ts init
    expect_rc 0
    mkfile "$L/ro.txt" "read-only"
    mkfile "$L/hid.txt" "hidden"
    mkfile "$L/sys.txt" "system"
    mkfile "$L/all.txt" "all three"
    mkfile "$L/HidDir/in.txt" "in a hidden folder"
    ts apply --auto-approve
    expect_rc 0
    set_attr +r "$L/ro.txt"
    set_attr +h "$L/hid.txt"
    set_attr +s "$L/sys.txt"
    set_attr +r "$L/all.txt"
    set_attr +h "$L/all.txt"
    set_attr +s "$L/all.txt"
    set_attr +h "$L/HidDir"
    note "left attrib: ro=$(attrs_of "$L/ro.txt") hid=$(attrs_of "$L/hid.txt") sys=$(attrs_of "$L/sys.txt") all=$(attrs_of "$L/all.txt") HidDir=$(attrs_of "$L/HidDir")"
    ts plan --json
    expect_rc 0
    note "plan: $(py '"; ".join(o["kind"]+" "+o["path"]+" "+o["rule"] for o in d["ops"])' "$OUT")"
    [[ $(py 'sum(o["kind"]=="copy" for o in d["ops"])' "$OUT") == 0 ]] || fail "attribute changes should copy nothing"
    ts apply --auto-approve
    expect_rc 0
    note "right attrib: ro=$(attrs_of "$R/ro.txt") hid=$(attrs_of "$R/hid.txt") sys=$(attrs_of "$R/sys.txt") all=$(attrs_of "$R/all.txt") HidDir=$(attrs_of "$R/HidDir")"
    has_flags "$R/ro.txt" R
    has_flags "$R/hid.txt" H
    has_flags "$R/sys.txt" S
    has_flags "$R/all.txt" SHR
    has_flags "$R/HidDir" H
    expect_content "$R/all.txt" "all three"
    expect_clean_plan "after the attribute changes"
    # Clearing them on the right is carried back.
    set_attr -r "$R/ro.txt"
    set_attr -h "$R/hid.txt"
    ts apply --auto-approve
    expect_rc 0
    has_flags "$L/ro.txt" ""
    has_flags "$L/hid.txt" ""
    has_flags "$L/sys.txt" S
    expect_clean_plan "after clearing attributes"
}

# 5. A path over 260 characters.
sc_long() {
    new_pair long
    ts init
    expect_rc 0
    local seg d rel
    seg=$(printf 'segment-%02d-abcdefghijklmnopqrstuvwxyz-0123456789' 0)
    d=""
    for i in 1 2 3 4 5 6; do d+="${seg/00/$(printf %02d "$i")}/"; done
    rel="long/${d}a file with a long path.txt"
    mkfile "$L/$rel" "deep left"
    mkfile "$R/long/${d}from right.txt" "deep right"
    note "relative path: ${#rel} characters"
    local abs
    abs=$(winpath "$R/$rel")
    note "absolute Windows path on the right: ${#abs} chars"
    (( ${#abs} > 260 )) || fail "test setup: path is not over 260 characters"
    ts apply --auto-approve
    expect_rc 0
    expect_content "$R/$rel" "deep left"
    expect_content "$L/long/${d}from right.txt" "deep right"
    expect_same_trees
    mkfile "$L/$rel" "deep left, edited" "2024-07-01 00:00:00"
    ts apply --auto-approve
    expect_rc 0
    expect_content "$R/$rel" "deep left, edited"
    expect_clean_plan "after the long-path edit"
}

# 6. Names reserved or invalid on Windows, created from Linux.
sc_names() {
    new_pair names
    ts init
    expect_rc 0
    mkfile "$L/keep.txt" "keep"
    mkfile "$R/keep-right.txt" "keep right"
    ts apply --auto-approve
    expect_rc 0
    local bad=('CON.txt' 'aux' 'name.' 'a:b' 'a\b' 'CONIN$' 'trailing ' 'lpt1.log' 'q?.txt')
    local n
    for n in "${bad[@]}"; do mkfile "$L/$n" "bad name $n"; done
    mkdir -p "$L/nul"
    mkfile "$L/nul/inside.txt" "inside a reserved folder"
    mkfile "$L/good.txt" "good"
    mkfile "$R/PRN.txt" "bad name on the right"
    ts plan --detailed-exitcode --json
    expect_rc 2
    show 20
    local ops
    ops=$(py '"; ".join(o["kind"]+" "+o["path"] for o in d["ops"])' "$OUT" 2>/dev/null)
    note "plan ops: $ops"
    [[ $ops == "copy good.txt" ]] || fail "the plan should only copy good.txt, holds: $ops"
    for n in 'CON.txt' 'aux' 'name.' 'CONIN$' 'trailing ' 'lpt1.log' 'q?.txt' 'nul' 'PRN.txt'; do
        grep -qF -- "$n" "$ERR" "$OUT" || fail "\"$n\" is not reported"
    done
    for n in 'a:b' 'a\b'; do
        grep -qF -- "$n" "$ERR" "$OUT" || fail "\"$n\" is not reported (the walker's ':' / '\\' bug?)"
    done
    ts apply --auto-approve
    expect_rc 0
    grep -F 'Apply complete' "$OUT" | sed 's/^/      | /'
    expect_content "$R/good.txt" "good"
    expect_content "$L/keep-right.txt" "keep right"
    local right_now
    right_now=$(cd "$R" && find . -mindepth 1 -not -path './.twinsync-root' -not -path './.sync_trash*' -printf '%P\n' | LC_ALL=C sort | tr '\n' '|')
    [[ $right_now == "PRN.txt|good.txt|keep-right.txt|keep.txt|" ]] || fail "right holds \"$right_now\", expected PRN.txt|good.txt|keep-right.txt|keep.txt|"
    expect_absent "$L/PRN.txt"
    expect_content "$R/PRN.txt" "bad name on the right"
    for n in "${bad[@]}"; do expect_content "$L/$n" "bad name $n"; done
    expect_content "$L/nul/inside.txt" "inside a reserved folder"
    expect_clean_plan "a second plan must hold no ops for the bad names"
    [[ -f $OUT ]] && note "second plan ops: $(py 'len(d["ops"])' "$OUT" 2>/dev/null)"
    # Not looped on: a third cycle through apply does nothing either.
    ts apply --auto-approve
    expect_rc 0
    expect_clean_plan "after another apply"
}

# 7. A file held open with no sharing by another process.
sc_locked() {
    new_pair locked
    ts init
    expect_rc 0
    mkfile "$L/locked.docx" "v1"
    mkfile "$L/dest-locked.xlsx" "v1"
    mkfile "$L/other.txt" "v1"
    ts apply --auto-approve
    expect_rc 0
    mkfile "$L/locked.docx" "v2 from left" "2024-08-01 10:00:00"
    mkfile "$L/dest-locked.xlsx" "v2 from left" "2024-08-01 10:00:00"
    mkfile "$L/other.txt" "v2 from left" "2024-08-01 10:00:00"
    mkfile "$L/new.txt" "new"
    # The source of one copy and the destination of another are held open.
    local rel=$S/release-lock lockout=$S/lock.out
    timeout 120 wine "$LOCK_EXE" "$(winpath "$rel")" 90 \
        "$(winpath "$L/locked.docx")" "$(winpath "$R/dest-locked.xlsx")" >"$lockout" 2>&1 &
    local lpid=$!
    BG_PIDS+=("$lpid")
    local i
    for i in $(seq 1 300); do grep -q locked "$lockout" 2>/dev/null && break; sleep 0.1; done
    if ! grep -q locked "$lockout"; then
        fail "wine-lock did not report \"locked\": $(cat "$lockout")"
        touch "$rel"
        return
    fi
    note "wine-lock holds left/locked.docx and right/dest-locked.xlsx"
    ts apply --auto-approve
    expect_rc 0 1
    note "apply with locked files exited $RC"
    show 25
    expect_content "$R/other.txt" "v2 from left"
    expect_content "$R/new.txt" "new"
    expect_content "$R/locked.docx" "v1"
    expect_content "$L/locked.docx" "v2 from left"
    expect_content "$R/dest-locked.xlsx" "v1"
    expect_content "$L/dest-locked.xlsx" "v2 from left"
    ts status
    grep -qiE 'locked\.docx' "$OUT" && note "status lists locked.docx among failures"
    touch "$rel"
    wait "$lpid"
    note "wine-lock exited $? ($(tr -d '\r' < "$lockout" | tr '\n' ' '))"
    ts apply --auto-approve
    expect_rc 0
    expect_content "$R/locked.docx" "v2 from left"
    expect_content "$R/dest-locked.xlsx" "v2 from left"
    expect_same_trees
    expect_clean_plan "after the locks were released"
}

# 8. watch --cycles N picks up changes made before and while it runs.
sc_watch() {
    new_pair watch
    ts init
    expect_rc 0
    mkfile "$L/before.txt" "made before watch"
    local out=$S/watch.out
    timeout 120 wine "$TS_EXE" --config "$CFGW" watch --cycles 6 >"$out" 2>&1 </dev/null &
    local wpid=$! i
    BG_PIDS+=("$wpid")
    # Wait for the first cycle to be logged, then change the right side.
    for i in $(seq 1 300); do grep -q '"event":"cycle"' "$LOG" 2>/dev/null && break; sleep 0.1; done
    grep -q '"event":"cycle"' "$LOG" 2>/dev/null || note "no cycle event logged after 30 s"
    [[ -f $R/before.txt ]] && note "before.txt reached the right side in the first cycle"
    mkfile "$R/during.txt" "made while watch runs" "2024-01-01 12:00:00"
    wait "$wpid"
    RC=$?
    note "\$ twinsync watch --cycles 6 -> exit $RC ($(grep -c '"event":"cycle"' "$LOG") cycle events logged)"
    [[ $RC == 0 ]] || { fail "watch exited $RC"; sed 's/^/      | /' "$out" | tail -20; }
    expect_content "$R/before.txt" "made before watch"
    expect_content "$L/during.txt" "made while watch runs"
    expect_same_trees
}

# 9. The Windows service under Wine's service control manager.
# Known Wine limitation (Wine 8): ChangeServiceConfig2W with
# SERVICE_CONFIG_FAILURE_ACTIONS_FLAG fails with ERROR_INVALID_LEVEL (124).
# `service install` then keeps the service (restart after a crash is set)
# and warns that restart after an error exit could not be set. Only that
# exact case is tolerated: the warning is printed and wine-scprobe.exe
# confirms that this Wine refuses that one call.
sc_service() {
    new_pair service
    ts init
    expect_rc 0
    mkfile "$L/via-service.txt" "synced by the service"
    local q
    scq() { q=$(timeout 30 wine sc query twinsync 2>&1 | tr -d '\r'); }
    # A leftover from an interrupted run would make install fail.
    scq
    if grep -q STATE <<<"$q"; then
        note "removing a twinsync service left by an earlier run"
        timeout 30 wine sc stop twinsync >/dev/null 2>&1
        timeout 30 wine sc delete twinsync >/dev/null 2>&1
    fi
    ts service install
    scq
    grep -q STATE <<<"$q" && SVC_INSTALLED=1
    if [[ $RC != 0 ]]; then
        fail "service install exited $RC"
        show 10
        [[ -n ${SVC_INSTALLED:-} ]] && fail "a failed install left the service registered"
        return
    fi
    show 3
    if grep -qF 'warning: restart after an error exit could not be set' "$ERR" "$OUT"; then
        local probe
        probe=$(timeout 30 wine "$SCPROBE_EXE" twinsync 2>/dev/null | tr -d '\r')
        if grep -qx 'FAILURE_ACTIONS_FLAG error 124' <<<"$probe"; then
            note "KNOWN WINE LIMITATION (tolerated): install warned \"$(grep -h 'warning:' "$ERR" "$OUT" | head -1)\";"
            note "  this Wine answers ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS_FLAG) with ERROR_INVALID_LEVEL (124)"
            note "  (wine-scprobe: $(tr '\n' ';' <<<"$probe"))"
        else
            fail "install could not set restart after an error exit, and this Wine accepts that call"
            note "wine-scprobe: $(tr '\n' ';' <<<"$probe")"
        fi
    fi
    [[ -n ${SVC_INSTALLED:-} ]] || { fail "service not registered after install"; return; }
    note "sc query after install: $(grep -E 'STATE' <<<"$q" | tr -s ' ')"
    local reg
    reg=$(timeout 30 wine reg query 'HKLM\System\CurrentControlSet\Services\twinsync' 2>/dev/null | tr -d '\r')
    note "registry: $(grep -E 'ImagePath|Start ' <<<"$reg" | tr -s ' ' | tr '\n' ' ')"
    grep -q 'Start.*0x2' <<<"$reg" || fail "service start type is not automatic (Start=2)"
    grep -qF "$CFGW" <<<"$reg" || fail "the service's command line does not name $CFGW"
    if grep -q RUNNING <<<"$q"; then
        note "(already RUNNING: Wine auto-started the AutoStart service)"
    else
        local st
        st=$(timeout 60 wine sc start twinsync 2>&1 | tr -d '\r')
        note "sc start -> $(grep -E 'STATE|FAILED|rror' <<<"$st" | tr -s ' ' | tr '\n' ' ')"
    fi
    local i running=""
    for i in $(seq 1 30); do
        scq
        grep -q RUNNING <<<"$q" && { running=1; break; }
        sleep 1
    done
    if [[ -z $running ]]; then
        fail "service not RUNNING 30 s after sc start"
        sed 's/^/      | /' <<<"$q"
        tail -5 "$LOG" 2>/dev/null | sed 's/^/      log| /'
    else
        note "sc query: RUNNING"
        for i in $(seq 1 40); do [[ -f $R/via-service.txt ]] && break; sleep 0.5; done
        expect_content "$R/via-service.txt" "synced by the service"
        local sp
        sp=$(timeout 60 wine sc stop twinsync 2>&1 | tr -d '\r')
        note "sc stop -> $(grep -E 'STATE|FAILED' <<<"$sp" | tr -s ' ' | tr '\n' ' ')"
        local stopped=""
        for i in $(seq 1 30); do
            scq
            grep -q STOPPED <<<"$q" && { stopped=1; break; }
            sleep 1
        done
        if [[ -n $stopped ]]; then
            note "sc query: STOPPED ($(grep -E 'WIN32_EXIT_CODE' <<<"$q" | tr -s ' '))"
        else
            fail "service not STOPPED 30 s after sc stop"
            sed 's/^/      | /' <<<"$q"
        fi
        note "the service logged $(grep -c '"event":"cycle"' "$LOG" 2>/dev/null) cycle event(s)"
    fi
    ts service uninstall
    expect_rc 0 && SVC_INSTALLED=""
    show 3
    scq
    if grep -q STATE <<<"$q"; then
        fail "service still registered after uninstall"
        sed 's/^/      | /' <<<"$q"
    else
        note "sc query after uninstall: $(tr -s ' \n' ' ' <<<"$q" | head -c 160)"
    fi
}

# ---------------------------------------------------------------- main ----
SCENARIOS=(
    "1:init, plan, apply both ways, status:sc_basic"
    "2:clash (same file edited on both sides):sc_clash"
    "3:case-only rename of a file and a folder:sc_case"
    "4:attributes read-only, hidden, system:sc_attrs"
    "5:path over 260 characters:sc_long"
    "6:reserved and invalid names skipped:sc_names"
    "7:file locked with no sharing:sc_locked"
    "8:watch --cycles:sc_watch"
    "9:service install, start, stop, uninstall:sc_service"
)
RESULTS=()
NFAIL=0
echo "wine-e2e: work dir $E"
for s in "${SCENARIOS[@]}"; do
    IFS=: read -r num title fn <<<"$s"
    if [[ -n "${WINE_E2E_ONLY:-}" && " $WINE_E2E_ONLY " != *" $num "* ]]; then continue; fi
    echo
    echo "--- scenario $num: $title"
    SC_FAILS=()
    t=$(date +%s.%N)
    "$fn"
    dt=$(since "$t")
    if [[ ${#SC_FAILS[@]} -eq 0 ]]; then
        line=$(printf 'PASS  %s. %s (%ss)' "$num" "$title" "$dt")
    else
        line=$(printf 'FAIL  %s. %s (%ss): %s' "$num" "$title" "$dt" "${SC_FAILS[0]}")
        NFAIL=$((NFAIL + 1))
    fi
    echo "$line"
    RESULTS+=("$line")
done

echo
echo "---- wine-e2e summary ----"
for r in "${RESULTS[@]}"; do echo "$r"; done
echo "e2e scenarios: ${#RESULTS[@]} run, $NFAIL failed, $(since "$E2E_T0")s in all"
if [[ $NFAIL -gt 0 ]]; then
    echo "wine-e2e: FAILED; folders, configs and outputs kept in $E" >&2
    exit 1
fi
if [[ "${WINE_E2E_KEEP:-0}" == 1 ]]; then
    echo "wine-e2e: folders kept in $E"
else
    rm -rf "$E"
fi
echo "wine-e2e: OK"
