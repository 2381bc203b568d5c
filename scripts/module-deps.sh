#!/usr/bin/env bash
# Lists which top-level module of src/ uses which (any `crate::x` path or
# `crate::{x, y}` group in code; comments and unit tests ignored: tests.rs
# and *_tests.rs files, files under a tests/ folder (a test module's
# helpers) and what follows a top-level #[cfg(test)], which in src/ only
# ever opens `mod tests`), then checks the graph for cycles.
# lib.rs only declares modules and re-exports; a re-exported name used from
# the crate root (`crate::Side`, `crate::now_ns`, `crate::human_size`) counts
# as a use of the module it comes from (read from lib.rs's `pub use` lines),
# and the out! macros as `out`. Usage: scripts/module-deps.sh  (exit 1 on a cycle)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../src"
mods=$(ls | sed -E 's/\.rs$//' | grep -vx 'lib\|main' | sort -u)
# Root name -> module, from `pub use m::…::{A, b as c};` in lib.rs.
declare -A root
while read -r m names; do
    for n in $names; do root[$n]=$m; done
done < <(grep -v '^\s*//' lib.rs | tr '\n' ' ' | grep -oE 'pub use [a-z_]+(::[a-z_]+)*::(\{[^}]*\}|[A-Za-z_]+)( as [a-z_]+)?;' |
    sed -E 's/^pub use ([a-z_]+)(::[a-z_]+)*::/\1 /; s/[{};,]/ /g; s/[A-Za-z_]+ as //g' |
    awk '{ printf "%s", $1; for (i = 2; i <= NF; i++) if ($i ~ /^[A-Za-z_]+$/) printf " %s", $i; print "" }')
declare -A edges
for f in $(find . -name '*.rs' ! -name lib.rs ! -name main.rs ! -name tests.rs ! -name '*_tests.rs' ! -path '*/tests/*' | sort); do
    m=$(echo "$f" | sed -E 's#^\./##; s#/.*##; s#\.rs$##')
    for d in $(awk '/^#\[cfg\(test\)\]/ { exit } { print }' "$f" | grep -v '^\s*//' | tr '\n' ' ' |
        grep -oE 'crate::(\{[^}]*\}|[A-Za-z_]+!?)' | sed -E 's/^crate:://; s/[{}]//g' | tr ',' '\n' |
        sed -E 's/^\s+//; s/(::|\s).*//' | grep -v '^$' | sort -u); do
        case "$d" in out! | outln! | eout! | eoutln! | errln! | debugln!) d=out ;; esac
        [[ -n "${root[$d]:-}" ]] && d=${root[$d]}
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
