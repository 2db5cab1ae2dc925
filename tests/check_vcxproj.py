#!/usr/bin/env python3
"""Check that the committed Visual Studio projects are what CMake's targets give.

    python3 tests/check_vcxproj.py <repo-root> <build-dir>/source-manifest.txt

CMake writes the manifest (one block per target: sources, definitions, include
directories, libraries). The committed server.sln and .vcxproj files must be
byte for byte what tools/gen_vcxproj.py makes of it, and no other .vcxproj may
lie in the repository. Where a project differs, its source and resource items
are compared with the target's so that the message names the file. Exit
status 0 when everything matches, 1 on any drift.
"""
import difflib
import os
import sys
import xml.etree.ElementTree as ET

MSBUILD_NS = "{http://schemas.microsoft.com/developer/msbuild/2003}"
REGENERATE = "python3 tools/gen_vcxproj.py build/win/source-manifest.txt"


def items(data, project_dir, root):
    """Repo-relative paths of the ClCompile and ResourceCompile items of a project (bytes)."""
    found = set()
    try:
        tree = ET.fromstring(data)
    except ET.ParseError as e:
        return {"<not valid XML: %s>" % e}
    for tag in ("ClCompile", "ResourceCompile"):
        for item in tree.iter(MSBUILD_NS + tag):
            include = item.get("Include")
            if include is None or "$(GTEST_ROOT)" in include:
                continue
            full = os.path.normpath(os.path.join(project_dir, include.replace("\\", "/")))
            found.add(os.path.relpath(full, root).replace(os.sep, "/"))
    return found


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s <repo-root> <source-manifest.txt>\n" % argv[0])
        return 2
    root = os.path.abspath(argv[1])
    manifest = argv[2]
    if not os.path.isfile(manifest):
        print("error: %s not found: configure the CMake build first" % manifest)
        return 1
    sys.path.insert(0, os.path.join(root, "tools"))
    import gen_vcxproj  # noqa: E402 (the generator is the definition of "right")

    outputs, projects = gen_vcxproj.generate(manifest, root)
    problems = []
    for rel, wanted in outputs:
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            problems.append("%s is missing" % rel)
            continue
        with open(path, "rb") as f:
            have = f.read()
        if have == wanted:
            continue
        if rel.endswith(".vcxproj"):
            project_dir = os.path.dirname(path)
            want_items, have_items = items(wanted, project_dir, root), items(have, project_dir, root)
            for src in sorted(want_items - have_items):
                problems.append("%s is missing %s (CMake builds it)" % (rel, src))
            for src in sorted(have_items - want_items):
                problems.append("%s lists %s which CMake does not build" % (rel, src))
        diff = list(difflib.unified_diff(
            wanted.decode("utf-8-sig").splitlines(), have.decode("utf-8-sig", "replace").splitlines(),
            "generated/" + rel, "committed/" + rel, n=1, lineterm=""))
        problems.append("%s differs from the generated one:\n    %s"
                        % (rel, "\n    ".join(diff[:40] or ["(line endings or byte-order mark)"])))
    generated = {rel for rel, _ in outputs}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("build", "x64", "third_party")]
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if name.endswith(".vcxproj") and rel not in generated:
                problems.append("%s is not a CMake target's project (remove it)" % rel)

    if problems:
        for problem in problems:
            print("drift: " + problem)
        print("The Visual Studio projects no longer match CMake (%s).\n"
              "Regenerate them from the repository root and commit the result:\n    %s"
              % (manifest, REGENERATE))
        return 1
    total = sum(len(p.sources) + len(p.resources) for p in projects)
    print("ok: %d sources in %d projects and server.sln match CMake's targets" % (total, len(projects)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
