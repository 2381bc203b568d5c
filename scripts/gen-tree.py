#!/usr/bin/env python3
"""Deterministic test tree for the plan benchmark (scripts/bench-plan.sh).

Builds the same tree of small files, byte for byte and mtime for mtime, in
one or more roots: by default 90,000 files in 3,000 folders nested up to
four levels (top / mid / leaf, one leaf in seven one level deeper), named
like an office share
("Dept 10 Quality/2024 Drafts 110/Offer 2190/Review 2191/Invoice-82620.jpg"),
sizes 0-4,096 bytes, mtimes spread over 2023-2024 with nanosecond parts.
Everything derives from --seed through a self-contained splitmix64, so the
tree does not depend on the Python version or the machine. Only the
standard library is used (Python 3.8+).

  gen-tree.py generate --files N --dirs D --seed S ROOT [ROOT...]
      (re)creates each ROOT with the tree (ROOT is removed first)
  gen-tree.py verify   --files N --dirs D --seed S ROOT [ROOT...]
      exit 0 if each ROOT holds exactly the tree (ignoring the twinsync
      marker `.twinsync-root` and the root folder's own mtime); otherwise
      print the first differences and exit 1
  gen-tree.py describe --files N --dirs D --seed S
      print a one-line fingerprint of the parameters and generator version
"""

import argparse
import hashlib
import os
import shutil
import sys

GENERATOR_VERSION = 1
MASK = (1 << 64) - 1
MARKER = ".twinsync-root"
BASE_S = 1_672_531_200  # 2023-01-01T00:00:00Z
SPAN_S = 2 * 365 * 86_400
MAX_SIZE = 4096
POOL_SIZE = 1 << 16

TOP_NAMES = ["Finance", "Sales", "Projects", "HR", "Legal", "Marketing",
             "Engineering", "Admin", "Purchasing", "Quality", "IT", "Board"]
MID_NAMES = ["Projects", "Clients", "Archive", "Reports", "Templates",
             "Contracts", "Photos", "Minutes", "Invoices", "Drafts"]
LEAF_NAMES = ["Q1", "Q2", "Q3", "Q4", "Site visit", "Offer", "Review",
              "Correspondence", "Scans", "Plans", "Working", "Final"]
STEMS = ["Report", "Invoice", "Meeting notes", "Budget", "Site photo",
         "Offer", "Contract", "Minutes", "Timesheet", "Drawing", "Memo",
         "Price list", "Order", "Letter"]
EXTS = [".docx", ".xlsx", ".pdf", ".pptx", ".txt", ".jpg", ".msg", ".csv",
        ".dwg", ".png"]


class Rng:
    """splitmix64: tiny, fast enough, identical on every platform."""

    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


def spec(files, dirs, seed):
    """The tree as data: (dirs, files).

    dirs:  list of (relpath, mtime_ns), parents before children.
    files: list of (relpath, size, mtime_ns, pool_offset).
    """
    if dirs < 1 or files < 0:
        raise SystemExit("need --dirs >= 1 and --files >= 0")
    rng = Rng(seed)
    n_top = max(1, round(dirs / 300))
    n_mid = min(dirs - n_top, max(1, round(dirs * 13 / 300)))
    n_leaf = dirs - n_top - n_mid
    paths = []
    for i in range(n_top):
        paths.append(f"Dept {i + 1:02d} {TOP_NAMES[i % len(TOP_NAMES)]}")
    for j in range(n_mid):
        parent = paths[j % n_top]
        paths.append(f"{parent}/{2015 + j % 10} {MID_NAMES[j % len(MID_NAMES)]} {j + 1:03d}")
    first_leaf = len(paths)
    for j in range(n_leaf):
        if j % 7 == 6:
            parent = paths[first_leaf + j - 1]  # one level deeper
        else:
            parent = paths[n_top + j % n_mid] if n_mid else paths[j % n_top]
        paths.append(f"{parent}/{LEAF_NAMES[j % len(LEAF_NAMES)]} {j + 1:04d}")
    dir_list = [(p, (BASE_S + rng.below(SPAN_S)) * 1_000_000_000 + rng.below(1_000_000_000))
                for p in paths]
    file_list = []
    for f in range(files):
        d = paths[rng.below(dirs)]
        name = f"{STEMS[rng.below(len(STEMS))]}-{f + 1:05d}{EXTS[rng.below(len(EXTS))]}"
        size = rng.below(MAX_SIZE + 1)
        mtime = (BASE_S + rng.below(SPAN_S)) * 1_000_000_000 + rng.below(1_000_000_000)
        off = rng.below(POOL_SIZE - MAX_SIZE)
        file_list.append((f"{d}/{name}", size, mtime, off))
    return dir_list, file_list


def pool(seed):
    """64 KiB of deterministic bytes that file contents are sliced from."""
    out = bytearray()
    i = 0
    while len(out) < POOL_SIZE:
        out += hashlib.sha256(f"twinsync-bench:{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:POOL_SIZE])


def generate(root, dir_list, file_list, data):
    if os.path.lexists(root):
        shutil.rmtree(root)
    os.makedirs(root, mode=0o755)
    for rel, _ in dir_list:
        os.mkdir(os.path.join(root, rel), 0o755)
    for rel, size, mtime, off in file_list:
        p = os.path.join(root, rel)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            if size:
                os.write(fd, data[off:off + size])
        finally:
            os.close(fd)
        os.utime(p, ns=(mtime, mtime))
    # Folder mtimes last (creating their files moved them), deepest first.
    for rel, mtime in reversed(dir_list):
        os.utime(os.path.join(root, rel), ns=(mtime, mtime))


def verify(root, dir_list, file_list):
    """Lists differences between ROOT and the spec (at most 10)."""
    want = {rel: ("d", 0, m) for rel, m in dir_list}
    for rel, size, mtime, _ in file_list:
        want[rel] = ("f", size, mtime)
    problems = []
    if not os.path.isdir(root):
        return [f"{root}: not a folder"]
    stack = [""]
    seen = 0
    while stack and len(problems) < 10:
        rel_dir = stack.pop()
        with os.scandir(os.path.join(root, rel_dir)) as it:
            for e in it:
                rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
                if rel == MARKER:
                    continue
                st = e.stat(follow_symlinks=False)
                if e.is_dir(follow_symlinks=False):
                    got = ("d", 0, st.st_mtime_ns)
                    stack.append(rel)
                elif e.is_file(follow_symlinks=False):
                    got = ("f", st.st_size, st.st_mtime_ns)
                else:
                    got = ("other", 0, 0)
                exp = want.get(rel)
                if exp is None:
                    problems.append(f"{root}/{rel}: not in the tree")
                elif exp != got:
                    problems.append(f"{root}/{rel}: expected {exp}, found {got}")
                else:
                    seen += 1
    if not problems and seen != len(want):
        problems.append(f"{root}: {len(want) - seen} entries missing")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["generate", "verify", "describe"])
    ap.add_argument("roots", nargs="*")
    ap.add_argument("--files", type=int, default=90_000)
    ap.add_argument("--dirs", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_intermixed_args()
    if a.action == "describe":
        print(f"gen-tree v{GENERATOR_VERSION} files={a.files} dirs={a.dirs} "
              f"seed={a.seed} sizes=0-{MAX_SIZE}")
        return 0
    if not a.roots:
        ap.error("give at least one ROOT")
    dir_list, file_list = spec(a.files, a.dirs, a.seed)
    if a.action == "generate":
        os.umask(0o022)
        data = pool(a.seed)
        for r in a.roots:
            generate(r, dir_list, file_list, data)
            total = sum(s for _, s, _, _ in file_list)
            print(f"generated {r}: {len(file_list)} files, {len(dir_list)} folders, "
                  f"{total / 1e6:.1f} MB")
        return 0
    bad = False
    for r in a.roots:
        problems = verify(r, dir_list, file_list)
        for p in problems:
            print(p, file=sys.stderr)
        bad = bad or bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
