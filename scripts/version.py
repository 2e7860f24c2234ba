#!/usr/bin/env python3
"""weft's version: defined once, in the file VERSION.

  scripts/version.py              prints it
  scripts/version.py --check      checks every copy a package tool needs
                                  committed; exits 1 naming each stale one
  scripts/version.py --set X.Y.Z  writes VERSION and every copy (renames the
                                  rockspec)
  scripts/version.py --self-test  --check and --set on a copy in a temp folder

Generated at build time, so never stale: include/weft/version.h (CMake and
node/scripts/build.js, from include/weft/version.h.in), the Python package's
version (scikit-build-core reads VERSION), weft.pc and weftConfigVersion.cmake,
the spec endpoint (WEFT_VERSION_STRING). Committed because their tools read
them as files, so checked here (a stage of `make test`): node/package.json and
its lock, clients/js/package.json, its lock, src/weft.js and the dist bundles
built from it, and the rockspec (its file name holds the version too).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

# Files that hold the version in text, with the pattern around it (group 1
# before, group 2 the version).
TEXT = [
    ("clients/js/src/weft.js", r"(Weft\.version = ')([^']*)'"),
    ("clients/js/dist/weft.mjs", r'(Weft\.version = ")([^"]*)"'),
    ("clients/js/dist/weft.min.js", r'(\.version=")([^"]*)"'),
    ("clients/js/dist/primus.min.js", r'(\.version=")([^"]*)"'),
]
# package.json files and their locks: "version" at the top and, in a lock,
# packages[""].version.
PACKAGES = ["node/package.json", "node/package-lock.json", "clients/js/package.json",
            "clients/js/package-lock.json"]


def read_version(root):
    with open(os.path.join(root, "VERSION")) as f:
        v = f.read().strip()
    if not SEMVER.match(v):
        raise SystemExit(f"VERSION: {v!r} is not MAJOR.MINOR.PATCH")
    return v


def rockspecs(root):
    return sorted(glob.glob(os.path.join(root, "weft-*.rockspec")))


def package_versions(path):
    with open(path) as f:
        doc = json.load(f)
    found = [doc.get("version")]
    if "packages" in doc:
        found.append(doc["packages"].get("", {}).get("version"))
    return found


def check(root):
    want = read_version(root)
    stale = []
    for rel in PACKAGES:
        for got in package_versions(os.path.join(root, rel)):
            if got != want:
                stale.append(f"{rel}: {got} (want {want})")
    for rel, pattern in TEXT:
        with open(os.path.join(root, rel)) as f:
            m = re.search(pattern, f.read())
        if not m or m.group(2) != want:
            stale.append(f"{rel}: {m.group(2) if m else 'no version found'} (want {want})")
    specs = rockspecs(root)
    if len(specs) != 1:
        stale.append(f"rockspec: {len(specs)} weft-*.rockspec files at the root (want one)")
    else:
        name = os.path.basename(specs[0])
        with open(specs[0]) as f:
            m = re.search(r'^version = "([^"]*)-(\d+)"', f.read(), re.M)
        if not m or m.group(1) != want or name != f"weft-{want}-{m.group(2)}.rockspec":
            stale.append(f"{name}: version {m.group(0) if m else 'missing'} (want {want}-N "
                         f"in weft-{want}-N.rockspec)")
    for line in stale:
        print(f"version: stale copy: {line}", file=sys.stderr)
    if stale:
        print("version: run `python3 scripts/version.py --set "
              f"{want}` (VERSION is the source)", file=sys.stderr)
    return not stale


def set_version(root, new):
    if not SEMVER.match(new):
        raise SystemExit(f"version: {new!r} is not MAJOR.MINOR.PATCH")
    with open(os.path.join(root, "VERSION"), "w") as f:
        f.write(new + "\n")
    for rel in PACKAGES:
        path = os.path.join(root, rel)
        with open(path) as f:
            doc = json.load(f)
        doc["version"] = new
        if "packages" in doc and "" in doc["packages"]:
            doc["packages"][""]["version"] = new
        with open(path, "w") as f:
            f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    for rel, pattern in TEXT:
        path = os.path.join(root, rel)
        with open(path) as f:
            text = f.read()
        text = re.sub(pattern, lambda m: m.group(0).replace(m.group(2), new, 1), text, count=1)
        with open(path, "w") as f:
            f.write(text)
    for spec in rockspecs(root):
        with open(spec) as f:
            text = f.read()
        text = re.sub(r'^version = "[^"]*"', f'version = "{new}-1"', text, count=1, flags=re.M)
        text = re.sub(r'(tag = "v)[^"]*"', rf'\g<1>{new}"', text, count=1)
        os.remove(spec)
        with open(os.path.join(root, f"weft-{new}-1.rockspec"), "w") as f:
            f.write(text)


def self_test():
    """--check on a copy passes; a bumped VERSION makes it fail naming each
    copy; --set repairs it; a bad version is refused."""
    files = ["VERSION"] + PACKAGES + [rel for rel, _ in TEXT]
    files += [os.path.relpath(p, ROOT) for p in rockspecs(ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        for rel in files:
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            shutil.copy(os.path.join(ROOT, rel), os.path.join(tmp, rel))
        me = os.path.abspath(__file__)

        def run(*args):
            return subprocess.run([sys.executable, me, "--root", tmp, *args],
                                  capture_output=True, text=True)

        r = run("--check")
        assert r.returncode == 0, r.stderr
        with open(os.path.join(tmp, "VERSION"), "w") as f:
            f.write("9.8.7\n")
        r = run("--check")
        assert r.returncode == 1, r
        for rel in PACKAGES + [rel for rel, _ in TEXT] + ["rockspec"]:
            assert rel.split("/")[-1].split(".")[0] in r.stderr, (rel, r.stderr)
        r = run("--set", "9.8.7")
        assert r.returncode == 0, r.stderr
        r = run("--check")
        assert r.returncode == 0, r.stderr
        assert os.path.exists(os.path.join(tmp, "weft-9.8.7-1.rockspec"))
        r = run("--set", "1.2")
        assert r.returncode != 0 and "not MAJOR.MINOR.PATCH" in r.stderr, r
    print("version: self-test ok")
    return True


def main(argv):
    root = ROOT
    if len(argv) >= 2 and argv[0] == "--root":
        root, argv = argv[1], argv[2:]
    if not argv:
        print(read_version(root))
        return 0
    if argv[0] == "--check":
        return 0 if check(root) else 1
    if argv[0] == "--set" and len(argv) == 2:
        set_version(root, argv[1])
        return 0
    if argv[0] == "--self-test":
        return 0 if self_test() else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
