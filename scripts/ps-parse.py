#!/usr/bin/env python3
"""Parse check for the PowerShell files (CI has no PowerShell).

Parses every *.ps1 / *.psm1 under the given files or folders (default: the
repository, without target/ and .git/) with the tree-sitter PowerShell
grammar and prints file:line:col for every ERROR or MISSING node. It also
flags pitfalls the grammar accepts: a function or script parameter named
after an automatic variable ($Args, $Input, $PSItem, $_, $Error, ...),
which shadows it (Invoke-Ts($Pair, $Args) silently breaks $args), and
non-ASCII text in a file without a BOM (mangled by Windows PowerShell 5.1).

Exit 0 when every file is clean, 1 otherwise, 2 on a usage problem.
Run through scripts/ps-parse.sh, which installs tree-sitter in a venv.
"""

import os
import sys

import tree_sitter
import tree_sitter_powershell

SKIP_DIRS = {"target", ".git", "node_modules"}
EXTENSIONS = (".ps1", ".psm1")
OPENERS = {"{", "(", "[", "@(", "@{", "$("}

# about_Automatic_Variables (Windows PowerShell 5.1 and PowerShell 7), lower case.
AUTOMATIC = {
    "$", "?", "^", "_", "args", "consolefilename", "enabledexperimentalfeatures",
    "error", "event", "eventargs", "eventsubscriber", "executioncontext", "false",
    "foreach", "home", "host", "input", "iscoreclr", "islinux", "ismacos",
    "iswindows", "lastexitcode", "matches", "myinvocation", "nestedpromptlevel",
    "null", "pid", "profile", "psboundparameters", "pscmdlet", "pscommandpath",
    "psculture", "psdebugcontext", "psedition", "pshome", "psitem", "psscriptroot",
    "pssenderinfo", "psuiculture", "psversiontable", "pwd", "sender", "shellid",
    "stacktrace", "switch", "this", "true",
}


def version(dist):
    try:
        from importlib.metadata import version as v
        return v(dist)
    except Exception:  # noqa: BLE001 - only for the summary line
        return "?"


def make_parser():
    lang = tree_sitter.Language(tree_sitter_powershell.language())
    try:
        return tree_sitter.Parser(lang)  # py-tree-sitter >= 0.22
    except TypeError:  # older API: Parser() then set_language
        p = tree_sitter.Parser()
        p.set_language(lang)
        return p


def variable_name(text):
    """`$Args`, `${Args}`, `$script:x` -> `args`, `args`, `x` (lower case)."""
    name = text.lstrip("$@")
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    if ":" in name:
        name = name.split(":", 1)[1]
    return name.lower()


def check(path, parser):
    """Returns a list of (line, col, message), 1-based."""
    with open(path, "rb") as f:
        src = f.read()
    problems = []
    # Windows PowerShell 5.1 reads a file without a BOM as ANSI: non-ASCII
    # text in one is mangled (strings, -Because messages, paths).
    if not src.startswith(b"\xef\xbb\xbf"):
        for i, raw in enumerate(src.split(b"\n"), 1):
            col = next((j for j, b in enumerate(raw) if b > 0x7F), None)
            if col is not None:
                problems.append((i, col + 1, "non-ASCII character in a file without a UTF-8 BOM "
                                 "(Windows PowerShell 5.1 reads it as ANSI): use ASCII"))
    tree = parser.parse(src)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        line, col = node.start_point[0] + 1, node.start_point[1] + 1
        if node.is_missing:
            problems.append((line, col, f"syntax error: missing `{node.type}`"))
        elif node.type == "ERROR":
            # An unbalanced bracket makes one ERROR node of everything from
            # the enclosing block on: point at the openers left unmatched in
            # it, else at its first real token (not a leading comment).
            openers = [c for c in node.children if c.type in OPENERS]
            for c in openers:
                problems.append((c.start_point[0] + 1, c.start_point[1] + 1,
                                 f"syntax error: `{c.type}` is never closed (or a statement in it is broken)"))
            if not openers:
                first = next((c for c in node.children if c.type != "comment"), node)
                snippet = src[first.start_byte:node.end_byte].decode("utf-8", "replace").strip()
                snippet = snippet.splitlines()[0][:60] if snippet else ""
                problems.append((first.start_point[0] + 1, first.start_point[1] + 1,
                                 f"syntax error near `{snippet}`"))
        elif node.type == "script_parameter":
            for child in node.children:
                if child.type == "variable":
                    name = variable_name(child.text.decode("utf-8", "replace"))
                    if name in AUTOMATIC:
                        problems.append((
                            line, col,
                            f"parameter `{child.text.decode()}` shadows the automatic variable "
                            f"${name}; rename it",
                        ))
        stack.extend(reversed(node.children))
    return sorted(problems)


def collect(targets):
    files = []
    for t in targets:
        if os.path.isfile(t):
            files.append(t)
            continue
        if not os.path.isdir(t):
            print(f"ps-parse: no such file or folder: {t}", file=sys.stderr)
            sys.exit(2)
        for root, dirs, names in os.walk(t):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            files.extend(os.path.join(root, n) for n in sorted(names) if n.lower().endswith(EXTENSIONS))
    return files


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    targets = sys.argv[1:] or [repo]
    files = collect(targets)
    if not files:
        print("ps-parse: no PowerShell files found", file=sys.stderr)
        return 1
    parser = make_parser()
    bad = 0
    for path in files:
        shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
        problems = check(path, parser)
        for line, col, msg in problems:
            print(f"{shown}:{line}:{col}: {msg}")
        if problems:
            bad += 1
        else:
            print(f"ok  {shown}")
    print(f"ps-parse: {len(files)} file(s), {bad} with errors "
          f"(tree-sitter {version('tree-sitter')}, tree-sitter-powershell {version('tree-sitter-powershell')})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
