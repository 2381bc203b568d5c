# shellcheck shell=bash
# bench-lib.sh — what the benchmark scripts share (sourced, not run):
# installing missing Debian packages, checking GNU time, and the twinsync
# binary to measure. Expects `die` and `say` and `REPO` from the caller.

# bench_tools [PKG...]: python3 must be there; GNU time and the commands
# named (each a Debian package of that name) are installed with apt-get
# when missing (as root, else through sudo). Sets TIME.
# shellcheck disable=SC2120 # the packages are optional arguments
bench_tools() {
  command -v python3 >/dev/null || die "python3 is needed to generate the tree"
  TIME=/usr/bin/time
  local missing=() p
  for p in "$@"; do command -v "$p" >/dev/null || missing+=("$p"); done
  [[ -x $TIME ]] || missing+=(time)
  if [[ ${#missing[@]} -gt 0 ]]; then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
      command -v sudo >/dev/null \
        || die "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
      sudo=(sudo)
    fi
    say "installing ${missing[*]} (apt-get install -y)"
    "${sudo[@]}" apt-get install -y "${missing[@]}" >&2 \
      || { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y "${missing[@]}" >&2; } \
      || die "could not install ${missing[*]}"
  fi
  "$TIME" -f '%e %U %S %M' -o /dev/null true 2>/dev/null \
    || die "$TIME is not GNU time (needs -f and -o)"
}

# bench_binary: BIN = $TWINSYNC_BIN, or the release build (built here).
bench_binary() {
  if [[ -n ${TWINSYNC_BIN:-} ]]; then
    BIN=$TWINSYNC_BIN
  else
    say "cargo build --release --locked"
    cargo build --release --locked
    BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/twinsync
    [[ $BIN == /* ]] || BIN=$REPO/$BIN
  fi
  [[ -x $BIN ]] || die "no binary at $BIN"
  BIN=$(realpath "$BIN")
}
