#!/usr/bin/env python3
"""The core's dependency rule, checked: calls and includes go down the layers.

  scripts/layers.py [--build DIR] [--graph] [--by-folder]

Each folder of core/ is a layer, lowest first (LAYERS below; a subfolder
belongs to its top folder's layer, so core/transport/ws is "transport").
Two checks, and a non-zero exit when either finds a violation:

  includes  every `#include "..."` in core/ resolves to a file of the same
            layer or a lower one (or to include/weft/, the public contract);
  calls     every weft_/weft__ symbol an object file of the core uses is
            defined in the same layer or a lower one (`nm` on the objects of
            DIR, default build/: the objects CMake built for weft_objs).

Upward news travels through ops tables and callbacks, which `nm` does not
see as calls, so they pass. --graph prints the call graph between layer
folders (edges with the number of distinct symbols) and the cycles between
files, as `scripts/layers.py --graph` does for the note of a change;
--by-folder groups by plain folder instead of layer, which is how a tree
without the layer folders (before issue #14) can be measured too.
"""
import argparse
import os
import re
import subprocess
import sys

LAYERS = ["base", "parser", "runtime", "http", "transport", "primus", "ext"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = os.path.join(ROOT, "core")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    """core/transport/ws/x.c -> transport (or transport/ws with --by-folder)."""
    rel = os.path.relpath(path, CORE)
    parts = rel.split(os.sep)
    if len(parts) == 1:
        return "."
    return parts[0] if not BY_FOLDER else "/".join(parts[:-1])


def rank(folder):
    top = folder.split("/")[0]
    return LAYERS.index(top) if top in LAYERS else None


def core_files(exts):
    for d, _, files in os.walk(CORE):
        for f in sorted(files):
            if f.endswith(exts):
                yield os.path.join(d, f)


def resolve(src, inc):
    for base in (os.path.dirname(src), CORE, os.path.join(ROOT, "include")):
        p = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(p):
            return p
    return None


def check_includes():
    bad = []
    for src in core_files((".c", ".h")):
        sf = folder_of(src)
        if not BY_FOLDER and rank(sf) is None:
            bad.append(f"{os.path.relpath(src, ROOT)}: outside the layer folders {LAYERS}")
            continue
        with open(src, encoding="utf-8") as fh:
            text = fh.read()
        for inc in INCLUDE_RE.findall(text):
            dst = resolve(src, inc)
            if dst is None or not dst.startswith(CORE + os.sep):
                continue  # the public headers, or a generated file
            df = folder_of(dst)
            if not BY_FOLDER and rank(df) > rank(sf):
                bad.append(f"{os.path.relpath(src, ROOT)} includes {inc}: "
                           f"{sf.split('/')[0]} may not include {df.split('/')[0]}")
    return bad


def objects(build):
    """The objects of the sources core/sources.txt lists (a build folder may
    hold stale ones of files that moved)."""
    objdir = os.path.join(build, "CMakeFiles", "weft_objs.dir")
    with open(os.path.join(CORE, "sources.txt"), encoding="utf-8") as fh:
        sources = [line.strip() for line in fh if line.strip()]
    for rel in sources:
        obj = os.path.join(objdir, rel + ".o")
        if not os.path.isfile(obj):
            sys.exit(f"layers: no object {obj} (build first: make build)")
        yield obj, os.path.join(ROOT, rel)


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[-1].startswith("weft_"):
            continue
        kind, name = parts[-2], parts[-1]
        (used if kind == "U" else defined).add(name)
    return defined, used


def call_graph(build):
    defs, uses = {}, {}
    for obj, src in objects(build):
        d, u = symbols(obj)
        uses[src] = u
        for name in d:
            defs[name] = src
    files = {}  # file -> set of files it calls
    for src, used in uses.items():
        files[src] = {defs[n] for n in used if n in defs and defs[n] != src}
    return defs, uses, files


def call_edges(defs, uses):
    """The calls between folders, and the ones that go up a layer."""
    edges, bad = {}, []
    for src, called in uses.items():
        for name in called:
            if name not in defs:
                continue
            sf, df = folder_of(src), folder_of(defs[name])
            if sf == df:
                continue
            edges.setdefault((sf, df), set()).add(name)
            if not BY_FOLDER and (rank(sf) is None or rank(df) > rank(sf)):
                bad.append(f"{os.path.relpath(src, ROOT)} calls {name} "
                           f"({os.path.relpath(defs[name], ROOT)}): {sf} may not call {df}")
    return edges, bad


def sccs(graph):
    """Tarjan: strongly connected components with more than one file."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def self_test():
    """The check's own bad-input path: a tree where base/ includes and calls
    into primus/, and a file sits outside the layers, must be refused."""
    import shutil
    import tempfile
    global ROOT, CORE
    saved = ROOT, CORE
    tmp = tempfile.mkdtemp(prefix="weft-layers-")
    try:
        ROOT, CORE = tmp, os.path.join(tmp, "core")
        files = {
            "core/base/low.c": '#include "primus/high.h"\nint weft__low(void) { return weft__high(); }\n',
            "core/primus/high.h": "int weft__high(void);\n",
            "core/primus/high.c": '#include "high.h"\nint weft__high(void) { return 1; }\n',
            "core/stray.c": "int weft__stray(void) { return 0; }\n",
        }
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w", encoding="utf-8") as fh:
                fh.write(text)
        with open(os.path.join(CORE, "sources.txt"), "w", encoding="utf-8") as fh:
            fh.write("core/base/low.c\ncore/primus/high.c\n")
        build = os.path.join(tmp, "build")
        for rel in ("core/base/low.c", "core/primus/high.c"):
            obj = os.path.join(build, "CMakeFiles", "weft_objs.dir", rel + ".o")
            os.makedirs(os.path.dirname(obj), exist_ok=True)
            subprocess.run(["cc", "-c", "-I", CORE, os.path.join(tmp, rel), "-o", obj], check=True)
        bad = check_includes()
        defs, uses, _ = call_graph(build)
        _, up = call_edges(defs, uses)
        ok = (any("includes primus/high.h" in b for b in bad) and any("stray.c" in b for b in bad)
              and len(up) == 1 and "calls weft__high" in up[0])
        print(f"layers self-test: {'ok' if ok else 'FAILED'} (an upward include, a stray file and an upward call are caught)")
        return 0 if ok else 1
    finally:
        ROOT, CORE = saved
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    global BY_FOLDER, ROOT, CORE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--graph", action="store_true", help="print the graph between folders")
    ap.add_argument("--by-folder", action="store_true", help="plain folders, no layer rule")
    ap.add_argument("--root", help="another checkout to measure (default: this one)")
    ap.add_argument("--self-test", action="store_true", help="check that violations are caught")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    BY_FOLDER = a.by_folder
    if a.root:
        ROOT = os.path.abspath(a.root)
        CORE = os.path.join(ROOT, "core")
        if a.build == ap.get_default("build"):
            a.build = os.path.join(ROOT, "build")

    bad = check_includes()
    defs, uses, files = call_graph(a.build)
    edges, up = call_edges(defs, uses)
    bad += up
    if a.graph:
        print("calls between folders (distinct symbols):")
        for (sf, df), names in sorted(edges.items()):
            back = " <- cycle" if (df, sf) in edges else ""
            print(f"  {sf:<14} -> {df:<14} {len(names):3d}{back}")
        cycles = sccs(files)
        print(f"cycles of calls between files: {len(cycles)}")
        for c in cycles:
            print("  " + " <-> ".join(os.path.relpath(f, CORE) for f in c))
    for line in bad:
        print("layers: " + line, file=sys.stderr)
    if not BY_FOLDER:
        print(f"layers: {len(bad)} violations ({' < '.join(LAYERS)})")
    return 1 if bad else 0


BY_FOLDER = False
if __name__ == "__main__":
    sys.exit(main())
