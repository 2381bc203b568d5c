#!/usr/bin/env bash
# Lists which top-level module of src/ uses which (any `crate::x` path in
# code; comments and unit tests ignored: tests.rs and *_tests.rs files and what follows a
# top-level #[cfg(test)], which in src/ only ever opens `mod tests`), then
# checks the graph for cycles.
# Items of lib.rs itself (Side, Entry, …) and the out! macros count as the
# crate root and `out`. Usage: scripts/module-deps.sh  (exit 1 on a cycle)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../src"
mods=$(ls | sed -E 's/\.rs$//' | grep -vx 'lib\|main' | sort -u)
declare -A edges
for f in $(find . -name '*.rs' ! -name lib.rs ! -name main.rs ! -name tests.rs ! -name '*_tests.rs' | sort); do
    m=$(echo "$f" | sed -E 's#^\./##; s#/.*##; s#\.rs$##')
    for d in $(awk '/^#\[cfg\(test\)\]/ { exit } { print }' "$f" | grep -v '^\s*//' | grep -oE 'crate::[a-z_]+!?' | sed 's/crate:://' | sort -u); do
        case "$d" in out! | outln! | eout! | eoutln! | errln! | debugln!) d=out ;; esac
        echo "$mods" | grep -qx "$d" || continue
        [[ "$d" == "$m" ]] && continue
        edges[$m]+="$d "
    done
done
for m in $mods; do
    printf '%-9s -> %s\n' "$m" "$(echo ${edges[$m]:-} | tr ' ' '\n' | sort -u | tr '\n' ' ')"
done
# Cycle check: repeatedly drop the modules that import none of those left.
left=$(echo $mods)
while [[ -n "$left" ]]; do
    keep=""
    for m in $left; do
        for d in ${edges[$m]:-}; do
            if [[ " $left " == *" $d "* ]]; then keep+="$m "; break; fi
        done
    done
    keep=$(echo $keep)
    [[ "$keep" == "$left" ]] && { echo "CYCLE among: $left"; exit 1; }
    left=$keep
done
echo "no cycle"
