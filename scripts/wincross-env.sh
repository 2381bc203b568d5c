# shellcheck shell=bash
# Shared set-up for running twinsync's Windows build under Wine, sourced by
# scripts/windows-check.sh and scripts/wine-e2e.sh (see shared/WINDOWS.md for
# why each piece is needed). Sourcing it only sets variables and defines
# functions; nothing is built or started.
#
# Environment knobs (all optional):
#   WINCHECK_DIR           work dir for the shim and the Wine prefix
#                          (default ${TMPDIR:-/tmp}/twinsync-wincross)
#   WINCHECK_RUN_TIMEOUT   seconds allowed for each .exe run under Wine,
#                          including each test binary (default 1200)

WINCROSS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=x86_64-pc-windows-gnu
TARGET_DIR=target/wincross
EXE=$TARGET_DIR/$TARGET/debug/twinsync.exe
RELEASE_EXE=$TARGET_DIR/$TARGET/release/twinsync.exe
W=${WINCHECK_DIR:-${TMPDIR:-/tmp}/twinsync-wincross}
RUN_TIMEOUT=${WINCHECK_RUN_TIMEOUT:-1200}

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# The Wine runner is given to cargo with --config (below), NOT through
# CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER as WINDOWS.md shows: assert_cmd's
# Command::cargo_bin reads that variable at run time inside the test .exe
# (which inherits the Unix environment under Wine) and then tries to spawn
# "wine" from inside Wine, failing with "program not found".
unset CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER
# Headless Wine: no X display, no Mono/Gecko install prompts, no debug noise.
unset DISPLAY WAYLAND_DISPLAY
export WINEDLLOVERRIDES="mscoree,mshtml=" WINEDEBUG=-all WINEARCH=win64
export WINEPREFIX=$W/prefix

# Plain -Zbuild-std for build, test and the release build alike (switching
# variants rebuilds std).
CARGO_ARGS=(--locked -Zbuild-std --target "$TARGET" --target-dir "$TARGET_DIR"
    # Each test binary runs under Wine, bounded so a hang cannot eat CI's time.
    --config "target.$TARGET.runner = [\"timeout\", \"$RUN_TIMEOUT\", \"wine\"]")

# Wine 8 lacks bcryptprimitives.dll (ProcessPrng, imported by Rust std >=
# 1.78): build a shim forwarding to RtlGenRandom, or every .exe exits 53.
wincross_build_shim() {
    mkdir -p "$W"
    cat > "$W/bcp.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len); /* RtlGenRandom */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE p, SIZE_T n) {
  while (n) { ULONG k = n > 0x40000000 ? 0x40000000 : (ULONG)n;
    if (!SystemFunction036(p, k)) return FALSE; p += k; n -= k; }
  return TRUE; }
C
    x86_64-w64-mingw32-gcc -shared -O2 -s -o "$W/bcryptprimitives.dll" "$W/bcp.c" -ladvapi32
}

# Creates the Wine prefix (once) and installs the shim into it.
wincross_prefix() {
    [[ -f "$W/bcryptprimitives.dll" ]] || wincross_build_shim
    # The marker guards against a prefix left half-made by an interrupted run.
    if [[ ! -f "$W/prefix.ok" || ! -d "$WINEPREFIX/drive_c/windows/system32" ]]; then
        rm -rf "$WINEPREFIX" "$W/prefix.ok"
        timeout 300 wine wineboot --init </dev/null
        timeout 120 wineserver -w
        touch "$W/prefix.ok"
    else
        echo "reusing Wine prefix $WINEPREFIX"
    fi
    cp "$W/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
}

# The release .exe the end-to-end check runs.
wincross_build_release() {
    (cd "$WINCROSS_ROOT" && /usr/bin/cargo build "${CARGO_ARGS[@]}" --release --bin twinsync)
}
