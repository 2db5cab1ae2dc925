#!/usr/bin/env python3
"""Check that the Visual Studio projects compile exactly what CMake compiles.

    python3 tests/check_vcxproj.py <repo-root> <build-dir>/source-manifest.txt

CMake writes the manifest ("GROUP path" lines); each group belongs to one
.vcxproj. Items under $(GTEST_ROOT) (googletest itself) are not ours and are
ignored. Exit status 0 when everything matches, 1 on any drift.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

MSBUILD_NS = "{http://schemas.microsoft.com/developer/msbuild/2003}"
PROJECTS = (  # manifest group, project file relative to the repository root
    ("COMMON", "common/pscommon.vcxproj"),
    ("ENGINE", "server/psengine.vcxproj"),
    ("MAIN", "server/portserve.vcxproj"),
    ("TEST", "tests/tests.vcxproj"),
)
SLN_PROJECT = re.compile(r'^Project\("\{[^}]+\}"\)\s*=\s*"([^"]*)",\s*"([^"]*)",\s*"\{[^}]+\}"')
REGENERATE = "python3 tools/gen_vcxproj.py build/win/source-manifest.txt"


def read_manifest(path, root, problems):
    sources = {group: set() for group, _ in PROJECTS}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            group, _, src = line.partition(" ")
            src = src.strip()
            if group not in sources or not src:
                problems.append("%s:%d: cannot read %r (expected 'GROUP path')" % (path, lineno, line))
                continue
            if os.path.isabs(src):
                src = os.path.relpath(src, root)
            sources[group].add(os.path.normpath(src).replace(os.sep, "/"))
    return sources


def resolve(include, project_dir, root):
    """An item's Include as a repo-relative forward-slash path, or None if unknown."""
    path = include.strip().replace("\\", "/")
    for macro, value in (("$(SolutionDir)", root + "/"),
                         ("$(ProjectDir)", project_dir + "/"),
                         ("$(MSBuildProjectDirectory)", project_dir),
                         ("$(MSBuildThisFileDirectory)", project_dir + "/")):
        path = path.replace(macro, value)
    if "$(" in path or "*" in path or "?" in path:
        return None
    full = os.path.normpath(os.path.join(project_dir, path))
    return os.path.relpath(full, root).replace(os.sep, "/")


def excluded_from_build(item):
    return any((child.text or "").strip().lower() == "true"
               for child in item.findall(MSBUILD_NS + "ExcludedFromBuild"))


def compiled_sources(vcxproj, root, problems):
    """Repo-relative paths of the ClCompile items in one project."""
    project_dir = os.path.dirname(vcxproj)
    rel_proj = os.path.relpath(vcxproj, root).replace(os.sep, "/")
    try:
        tree = ET.parse(vcxproj)
    except ET.ParseError as e:
        problems.append("%s is not valid XML: %s" % (rel_proj, e))
        return []
    found = []
    for item in tree.getroot().iter(MSBUILD_NS + "ClCompile"):
        include = item.get("Include")
        if include is None:  # the ClCompile settings inside an ItemDefinitionGroup
            continue
        for one in include.split(";"):
            if not one.strip() or "$(GTEST_ROOT)" in one:
                continue
            if excluded_from_build(item):
                continue  # listed for browsing only; then CMake must not build it either
            path = resolve(one, project_dir, root)
            if path is None:
                problems.append("%s: cannot resolve ClCompile %r (use a path relative to the project)"
                                % (rel_proj, one))
            else:
                found.append(path)
    return found


def check_solution(root, problems):
    sln = os.path.join(root, "server.sln")
    if not os.path.isfile(sln):
        problems.append("server.sln is missing")
        return
    listed = set()
    with open(sln, encoding="utf-8-sig") as f:
        for line in f:
            m = SLN_PROJECT.match(line.strip())
            if not m:
                continue
            rel = m.group(2).replace("\\", "/")
            listed.add(os.path.normpath(rel).replace(os.sep, "/"))
            if not os.path.isfile(os.path.join(root, rel)):
                problems.append("server.sln lists project %s (%s) which does not exist"
                                % (m.group(1), rel))
    for _, rel in PROJECTS:
        if rel not in listed:
            problems.append("server.sln does not list %s" % rel)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s <repo-root> <source-manifest.txt>\n" % argv[0])
        return 2
    root = os.path.abspath(argv[1])
    manifest = argv[2]
    problems = []
    if not os.path.isfile(manifest):
        print("error: %s not found: configure the CMake build first" % manifest)
        return 1
    wanted = read_manifest(manifest, root, problems)

    total = 0
    for group, rel in PROJECTS:
        vcxproj = os.path.join(root, rel)
        if not os.path.isfile(vcxproj):
            problems.append("%s is missing (CMake builds %d sources for it)" % (rel, len(wanted[group])))
            continue
        listed = compiled_sources(vcxproj, root, problems)
        seen = set()
        for path in listed:
            if path in seen:
                problems.append("%s lists %s twice" % (rel, path))
            seen.add(path)
        for path in sorted(wanted[group] - seen):
            problems.append("%s is missing %s (CMake builds it)" % (rel, path))
        for path in sorted(seen - wanted[group]):
            problems.append("%s lists %s which CMake does not build" % (rel, path))
        total += len(wanted[group])

    check_solution(root, problems)

    if problems:
        for problem in problems:
            print("drift: " + problem)
        print("The Visual Studio projects no longer match CMake (%s).\n"
              "Regenerate them from the repository root and commit the result:\n    %s"
              % (manifest, REGENERATE))
        return 1
    print("ok: %d sources in %d projects match CMake" % (total, len(PROJECTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
