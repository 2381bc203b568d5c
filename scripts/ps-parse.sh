#!/usr/bin/env bash
# Parse check of the PowerShell files (the Pester suite in ps-tests/ and any
# other *.ps1 outside target/) for CI, which has no PowerShell: parses them
# with the tree-sitter PowerShell grammar (scripts/ps-parse.py) and fails on
# any syntax error or on a parameter that shadows an automatic variable.
#
#   bash scripts/ps-parse.sh                 # the whole repository
#   bash scripts/ps-parse.sh FILE|DIR ...    # only these
#
# Installs the PyPI packages tree-sitter and tree-sitter-powershell into a
# venv under ${TWINSYNC_PS_VENV:-${TMPDIR:-/tmp}/twinsync-ps-venv} on first
# use (on Debian, as root, python3-venv is installed if venv is missing;
# without root, pip --user is the fallback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PKGS=("tree-sitter>=0.22,<1" "tree-sitter-powershell>=0.24,<1")
VENV=${TWINSYNC_PS_VENV:-${TMPDIR:-/tmp}/twinsync-ps-venv}
PY=python3
command -v python3 >/dev/null || {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
    else
        echo "ps-parse: python3 is needed" >&2; exit 1
    fi
}

have() { "$1" -c 'import tree_sitter, tree_sitter_powershell' 2>/dev/null; }

make_venv() {
    rm -rf "$VENV"
    python3 -m venv "$VENV" >/dev/null 2>&1 && [ -x "$VENV/bin/pip" ]
}

if have "$VENV/bin/python"; then
    PY=$VENV/bin/python
else
    if ! make_venv && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        # Debian's python3 has no ensurepip without python3-venv.
        echo "ps-parse: installing python3-venv" >&2
        ver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${ver}-venv" >/dev/null || true
        make_venv || true
    fi
    if [ -x "$VENV/bin/pip" ]; then
        echo "ps-parse: installing ${PKGS[*]} into $VENV" >&2
        "$VENV/bin/pip" install -q --disable-pip-version-check "${PKGS[@]}" >&2
        PY=$VENV/bin/python
    elif ! have python3; then
        rm -rf "$VENV"
        echo "ps-parse: no venv; installing ${PKGS[*]} with pip --user" >&2
        python3 -m pip install -q --user "${PKGS[@]}" >&2 ||
            python3 -m pip install -q --user --break-system-packages "${PKGS[@]}" >&2
    fi
fi
have "$PY" || { echo "ps-parse: cannot import tree_sitter / tree_sitter_powershell with $PY" >&2; exit 1; }
exec "$PY" scripts/ps-parse.py "$@"
