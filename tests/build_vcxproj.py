#!/usr/bin/env python3
"""Build the Visual Studio solution as far as Linux can: with mingw-w64 and clang-cl.

    python3 tests/build_vcxproj.py --root REPO --work DIR [--config Release]
        [--gtest-root /usr/src/googletest] [--reference CMAKE_BUILD_DIR]

No cl.exe, link.exe or rc.exe here, so this reads server.sln and every .vcxproj
it lists the way MSBuild would (properties, conditions, item definitions, items,
project references) and hands the result to the tools we have:

  * every ClCompile file is compiled with x86_64-w64-mingw32-gcc/g++ (posix)
    with exactly the project's PreprocessorDefinitions (plus what MSBuild and
    cl.exe add: UNICODE/_UNICODE for CharacterSet Unicode, _DEBUG for a debug
    RuntimeLibrary), AdditionalIncludeDirectories and language standard,
    -Wall -Wextra -Werror for Level4 + TreatWarningAsError; C++ files see the
    Windows SDK's min/max macros (vcxproj_shims/sdk_minmax.h);
  * every ResourceCompile file is compiled with windres, with its own
    definitions and include directories;
  * static library projects are archived with ar; each executable is linked
    from its objects and resources, the libraries of its ProjectReferences and
    its AdditionalDependencies (MSVC's default libraries for
    %(AdditionalDependencies)), in one group as link.exe searches them, so a
    symbol defined twice fails as LNK2005 would and a missing one as LNK2019;
  * each executable's resource types and IDs must equal those of the exe of
    the same name that CMake built (--reference), if there is one;
  * every C file is checked again with clang-cl (MSVC mode: _MSC_VER, MSVC's
    parsing rules) for syntax and warnings, /W4 /WX plus the conversion and
    shadowing warnings MSVC gives at /W4 (C4244, C4267, C4456-C4459), against
    mingw-w64's headers (vcxproj_shims/clang_cl_mingw.h), in both
    configurations.

What it cannot see: MSVC's own diagnostics and code generation, the real SDK
and MSVC standard library headers (a missing #include that libstdc++ forgives
is not caught), link.exe's options, and C++ under clang-cl (no MSVC STL).
"""
import argparse
import concurrent.futures
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = "{http://schemas.microsoft.com/developer/msbuild/2003}"
HERE = os.path.dirname(os.path.abspath(__file__))
SHIMS = os.path.join(HERE, "vcxproj_shims")
# What %(AdditionalDependencies) starts as in a new Visual C++ project (Microsoft.Cpp.props).
MSVC_DEFAULT_LIBS = ("kernel32 user32 gdi32 winspool comdlg32 advapi32 shell32 ole32 oleaut32 "
                     "uuid odbc32 odbccp32").split()
C_STANDARDS = {"stdc11": "c11", "stdc17": "c17", "Default": "c11"}
CXX_STANDARDS = {"stdcpp14": "c++14", "stdcpp17": "c++17", "stdcpp20": "c++20", "Default": "c++14"}
CLANG_CL_C_STANDARDS = {"stdc11": "/std:c11", "stdc17": "/std:c17", "Default": "/std:c11"}
# clang's names for what MSVC warns about at /W4 and gcc -Wall -Wextra does not.
CLANG_CL_MSVC_W4 = ["-Wshorten-64-to-32",      # C4267, C4244 (64-bit to 32-bit)
                    "-Wimplicit-int-conversion",  # C4244 (int to smaller int, level 4)
                    "-Wfloat-conversion",      # C4244 (floating to integer)
                    "-Wshadow",                # C4456, C4457, C4459
                    "-Wparentheses"]           # C4706 (assignment in a condition)
CXX_EXTENSIONS = (".cc", ".cpp", ".cxx")
WORK_MARKER = ".build_vcxproj"  # marks --work, so its exes are never taken for CMake's
# C++ files get the Windows SDK's min/max macros (see vcxproj_shims/sdk_minmax.h).
SDK_MINMAX = ["-include", os.path.join(SHIMS, "sdk_minmax.h"), "-isystem", os.path.join(SHIMS, "sdk")]


class Failure(Exception):
    pass


# ---- MSBuild, the little of it our projects use -----------------------------------

PROPERTY = re.compile(r"\$\((\w+)((?:\.\w+\((?:'[^']*'(?:\s*,\s*'[^']*')*)?\))*)\)")
METHOD = re.compile(r"\.(\w+)\(((?:'[^']*'(?:\s*,\s*'[^']*')*)?)\)")


def expand(text, props):
    """$(Name) and $(Name.Replace('a','b').TrimEnd('c')); anything else is an error."""
    def one(m):
        name, methods = m.group(1), m.group(2)
        if name not in props:
            raise Failure("property $(%s) is not defined" % name)
        value = props[name]
        for method, args in METHOD.findall(methods):
            args = re.findall(r"'([^']*)'", args)
            if method == "Replace" and len(args) == 2:
                value = value.replace(args[0], args[1])
            elif method == "TrimEnd" and len(args) == 1:
                value = value.rstrip(args[0])
            else:
                raise Failure("property function %s(%s) is not understood" % (method, args))
        return value
    result = PROPERTY.sub(one, text or "")
    if "$(" in result:
        raise Failure("cannot evaluate %r" % text)
    return result


def condition_holds(cond, props):
    if not cond:
        return True
    for alternative in re.split(r"\s+Or\s+", cond.strip()):
        ok = True
        for part in re.split(r"\s+And\s+", alternative):
            m = re.fullmatch(r"\s*'([^']*)'\s*(==|!=)\s*'([^']*)'\s*", part)
            if not m:
                raise Failure("condition %r is not understood" % cond)
            left, right = expand(m.group(1), props), expand(m.group(3), props)
            ok = ok and ((left.lower() == right.lower()) == (m.group(2) == "=="))
        if ok:
            return True
    return False


def split(value):
    return [v.strip() for v in value.split(";") if v.strip()]


class Project:
    def __init__(self, path, root, config, global_props):
        self.path = path
        self.dir = os.path.dirname(path)
        self.name = os.path.splitext(os.path.basename(path))[0]
        tree = ET.parse(path).getroot()
        props = {"SolutionDir": root.rstrip("/") + "/", "Configuration": config, "Platform": "x64",
                 "ProjectName": self.name, "MSBuildThisFileDirectory": self.dir + "/",
                 "MSBuildProjectDirectory": self.dir}
        props.update(global_props)
        fixed = set(global_props)  # msbuild /p: properties cannot be overridden by the project
        for group in tree.iter(NS + "PropertyGroup"):
            if not condition_holds(group.get("Condition"), props):
                continue
            for prop in group:
                name = prop.tag[len(NS):]
                if name in fixed or not condition_holds(prop.get("Condition"), props):
                    continue
                props[name] = expand((prop.text or "").strip(), props)
        self.props = props
        self.kind = props.get("ConfigurationType")
        if self.kind not in ("Application", "StaticLibrary"):
            raise Failure("%s: ConfigurationType %r is not handled" % (path, self.kind))
        # Item definitions: what Microsoft.Cpp.props starts with, then the project's.
        charset = {"Unicode": "_UNICODE;UNICODE", "MultiByte": "_MBCS"}.get(props.get("CharacterSet"), "")
        meta = {"ClCompile": {"PreprocessorDefinitions": charset},
                "ResourceCompile": {"PreprocessorDefinitions": charset},
                "Link": {"AdditionalDependencies": ";".join(l + ".lib" for l in MSVC_DEFAULT_LIBS)}}
        for group in tree.iter(NS + "ItemDefinitionGroup"):
            if not condition_holds(group.get("Condition"), props):
                continue
            for tool in group:
                tool_name = tool.tag[len(NS):]
                current = meta.setdefault(tool_name, {})
                for item in tool:
                    key = item.tag[len(NS):]
                    value = expand((item.text or "").strip(), props)
                    current[key] = value.replace("%%(%s)" % key, current.get(key, ""))
        self.meta = meta
        self.sources, self.resources, self.refs = [], [], []
        for group in tree.iter(NS + "ItemGroup"):
            if not condition_holds(group.get("Condition"), props) or group.get("Label") == "ProjectConfigurations":
                continue
            for item in group:
                tag = item.tag[len(NS):]
                include = item.get("Include")
                if include is None:
                    continue
                excluded = any(condition_holds(e.get("Condition"), props) and (e.text or "").strip().lower() == "true"
                               for e in item.findall(NS + "ExcludedFromBuild"))
                if excluded:
                    continue
                for one in split(expand(include, props)):
                    full = os.path.normpath(os.path.join(self.dir, one.replace("\\", "/")))
                    if tag == "ClCompile":
                        self.sources.append(full)
                    elif tag == "ResourceCompile":
                        self.resources.append(full)
                    elif tag == "ProjectReference":
                        link = (item.findtext(NS + "LinkLibraryDependencies") or "true").strip().lower()
                        self.refs.append((full, link != "false"))

    def tool(self, name, key, default=""):
        return self.meta.get(name, {}).get(key, default)

    def defines(self, tool="ClCompile"):
        found = split(self.tool(tool, "PreprocessorDefinitions"))
        # cl.exe defines _DEBUG itself for /MTd and /MDd.
        if tool == "ClCompile" and self.tool(tool, "RuntimeLibrary", "").endswith("Debug") and "_DEBUG" not in found:
            found.append("_DEBUG")
        return found

    def includes(self, tool="ClCompile"):
        result = []
        for inc in split(self.tool(tool, "AdditionalIncludeDirectories")):
            full = os.path.normpath(os.path.join(self.dir, inc.replace("\\", "/")))
            if not os.path.isdir(full):
                raise Failure("%s: AdditionalIncludeDirectories names %s, which does not exist" % (self.name, full))
            result.append(full)
        return result


def solution_projects(root):
    sln = os.path.join(root, "server.sln")
    found = []
    with open(sln, encoding="utf-8-sig") as f:
        for line in f:
            m = re.match(r'Project\("\{[^}]+\}"\)\s*=\s*"([^"]*)",\s*"([^"]*\.vcxproj)"', line)
            if m:
                found.append(os.path.normpath(os.path.join(root, m.group(2).replace("\\", "/"))))
    if not found:
        raise Failure("server.sln lists no .vcxproj")
    return found


# ---- running the tools ---------------------------------------------------------------

def run(cmd, what):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise Failure("%s failed (exit %d):\n  %s\n%s" % (what, proc.returncode,
                      " ".join(shlex.quote(c) for c in cmd), proc.stdout.rstrip()))
    return proc.stdout


def up_to_date(obj, cmd):
    """An object is reused only if built by the same command from unchanged inputs (gcc -MD)."""
    stamp, depfile = obj + ".cmd", obj + ".d"
    try:
        with open(stamp) as f:
            if f.read() != "\0".join(cmd):
                return False
        built = os.path.getmtime(obj)
        with open(depfile) as f:
            deps = f.read().replace("\\\n", " ").split(":", 1)[1].split()
    except (OSError, IndexError):
        return False
    return all(os.path.exists(d) and os.path.getmtime(d) <= built for d in deps if d != "\\")


def object_path(work, project, src, suffix):
    digest = hashlib.sha1(src.encode()).hexdigest()[:8]
    os.makedirs(os.path.join(work, "obj", project.name), exist_ok=True)
    return os.path.join(work, "obj", project.name, "%s-%s%s" % (os.path.basename(src), digest, suffix))


def compile_one(args, project, src, work, root):
    is_cxx = src.endswith(CXX_EXTENSIONS)
    ours = os.path.commonpath([src, root]) == root
    cmd = [args.cxx if is_cxx else args.cc, "-c"]
    if is_cxx:
        cmd.append("-std=" + CXX_STANDARDS[project.tool("ClCompile", "LanguageStandard", "Default") or "Default"])
        cmd += SDK_MINMAX
    else:
        cmd.append("-std=" + C_STANDARDS[project.tool("ClCompile", "LanguageStandard_C", "Default") or "Default"])
    level = project.tool("ClCompile", "WarningLevel")
    if ours and level in ("Level3", "Level4", "EnableAllWarnings"):
        cmd += ["-Wall", "-Wextra"]
        if project.tool("ClCompile", "TreatWarningAsError").lower() == "true":
            cmd.append("-Werror")
    cmd.append("-O0" if project.tool("ClCompile", "Optimization") == "Disabled" else "-O2")
    cmd += ["-D" + d for d in project.defines()]
    cmd += ["-I" + i for i in project.includes()]
    obj = object_path(work, project, src, ".o")
    cmd += ["-MD", "-MF", obj + ".d", "-o", obj, src]
    if not os.path.isfile(src):
        raise Failure("%s: ClCompile %s does not exist" % (project.name, src))
    if up_to_date(obj, cmd):
        return obj
    for stale in (obj, obj + ".cmd"):
        if os.path.exists(stale):
            os.remove(stale)
    run(cmd, "%s: compiling %s" % (project.name, os.path.relpath(src, root)))
    with open(obj + ".cmd", "w") as f:
        f.write("\0".join(cmd))
    return obj


def compile_resource(args, project, rc, work, root):
    if not os.path.isfile(rc):
        raise Failure("%s: ResourceCompile %s does not exist" % (project.name, rc))
    obj = object_path(work, project, rc, ".res.o")
    cmd = [args.rc, "-O", "coff", "-o", obj]
    cmd += ["-D" + d for d in project.defines("ResourceCompile")]
    cmd += ["-I" + i for i in project.includes("ResourceCompile")]
    cmd += ["-I", os.path.dirname(rc), "-i", rc]  # rc.exe searches the .rc file's folder
    run(cmd, "%s: windres %s" % (project.name, os.path.relpath(rc, root)))
    return obj


def resource_ids(args, exe):
    """{(type, name)} of an exe's resources, from objdump's dump of its resource directory:
    a type entry is indented 3 spaces after the offset, a name entry 5, a language 7."""
    out = run([args.objdump, "-p", exe], "objdump -p " + exe)
    if "Resource Directory section" not in out:
        return set()
    found = set()
    current_type = None
    for line in out.split("Resource Directory section", 1)[1].splitlines():
        m = re.match(r"^[0-9a-f]{3}( +)Entry: (?:ID: (0x[0-9a-f]+)|name: (.*?)), Value", line)
        if not m:
            continue
        depth, key = len(m.group(1)), m.group(2) or m.group(3)
        if depth == 3:
            current_type = key
        elif depth == 5 and current_type is not None:
            found.add((current_type, key))
    if not found:
        raise Failure("cannot read the resource directory of %s from objdump -p" % exe)
    return found


def find_reference(reference, name):
    """CMake's <name>.exe under its build folder (not under a work folder of this script)."""
    for dirpath, dirnames, filenames in os.walk(reference):
        if os.path.exists(os.path.join(dirpath, WORK_MARKER)):
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(("wineprefix", "CMakeFiles", "googletest")))
        if name in filenames:
            return os.path.join(dirpath, name)
    return None


def clang_cl_commands(args, project, root, config):
    """(what, command) for each C file of a project: clang-cl /Zs, MSVC mode."""
    options = [o for o in project.tool("ClCompile", "AdditionalOptions").split() if o.startswith("/")]
    for src in project.sources:
        if not src.endswith(".c"):
            continue
        cmd = [args.clang_cl, "--target=x86_64-pc-windows-msvc", "/nologo", "/Zs", "/W4", "/WX",
               CLANG_CL_C_STANDARDS[project.tool("ClCompile", "LanguageStandard_C", "Default") or "Default"],
               "-imsvc", args.mingw_include, "/FI" + os.path.join(SHIMS, "clang_cl_mingw.h")]
        cmd += options + CLANG_CL_MSVC_W4
        cmd += ["/D" + d for d in project.defines()]
        cmd += ["/I" + i for i in project.includes()]
        cmd += ["--", src]
        yield "%s|%s: clang-cl %s" % (project.name, config, os.path.relpath(src, root)), cmd


def probe_minmax(args, work):
    """The emulation is only worth something if the macros are really there, and only there."""
    os.makedirs(work, exist_ok=True)
    probe = os.path.join(work, "minmax_probe.cc")

    def compiles(text):
        with open(probe, "w") as f:
            f.write(text)
        return subprocess.run([args.cxx, "-std=c++17", "-fsyntax-only", "-DWIN32_LEAN_AND_MEAN"] + SDK_MINMAX
                              + [probe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    body = "int f(int a, int b) { return %s(a, b); }\n"
    for header in ("winsock2.h", "windows.h", "ws2tcpip.h"):
        for before in ("#include <algorithm>\n", ""):
            top = before + "#include <%s>\n#include <vector>\n" % header
            if not compiles(top + "#if !defined(min) || !defined(max)\n#error no macros\n#endif\n"
                            + body % "(std::min)"):
                raise Failure("min/max probe: no SDK min/max macros after <%s>" % header)
            if compiles(top + body % "std::min"):
                raise Failure("min/max probe: a bare std::min after <%s> compiled" % header)
        if not compiles("#define NOMINMAX\n#include <%s>\n#include <algorithm>\n" % header + body % "std::min"):
            raise Failure("min/max probe: NOMINMAX before <%s> does not keep the macros away" % header)
    if not compiles("#include <algorithm>\n" + body % "std::min"):
        raise Failure("min/max probe: macros without any Windows header")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="repository root (server.sln)")
    parser.add_argument("--work", required=True, help="folder for objects and executables")
    parser.add_argument("--config", default="Release", choices=("Debug", "Release"),
                        help="configuration to compile and link (clang-cl checks both)")
    parser.add_argument("--gtest-root", default="/usr/src/googletest", help="GTEST_ROOT (a googletest checkout)")
    parser.add_argument("--reference", help="CMake build folder whose executables' resources must match")
    parser.add_argument("--cc", default="x86_64-w64-mingw32-gcc-posix")
    parser.add_argument("--cxx", default="x86_64-w64-mingw32-g++-posix")
    parser.add_argument("--rc", default="x86_64-w64-mingw32-windres")
    parser.add_argument("--ar", default="x86_64-w64-mingw32-ar")
    parser.add_argument("--objdump", default="x86_64-w64-mingw32-objdump")
    parser.add_argument("--clang-cl", default="clang-cl-14", help="clang in cl mode ('' skips that check)")
    parser.add_argument("--mingw-include", default="/usr/share/mingw-w64/include")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    work = os.path.abspath(args.work)
    global_props = {"GTEST_ROOT": os.path.abspath(args.gtest_root)}

    problems = []
    if args.clang_cl and not shutil.which(args.clang_cl):
        print("FAILED: %s not found (Debian package clang; build.sh installs it)" % args.clang_cl)
        return 1
    os.makedirs(work, exist_ok=True)
    open(os.path.join(work, WORK_MARKER), "w").close()
    try:
        probe_minmax(args, work)
        paths = solution_projects(root)
        projects = {p: Project(p, root, args.config, global_props) for p in paths}
    except (Failure, ET.ParseError, OSError) as e:
        print("FAILED: %s" % e)
        return 1

    # Compile everything (in parallel), then archive and link in solution order.
    objects = {p: [] for p in paths}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        jobs = {}
        for p, proj in projects.items():
            for src in proj.sources:
                jobs[pool.submit(compile_one, args, proj, src, work, root)] = (p, src)
            for rc in proj.resources:
                jobs[pool.submit(compile_resource, args, proj, rc, work, root)] = (p, rc)
        order = {key: i for i, key in enumerate(jobs.values())}
        results = {}
        for future in concurrent.futures.as_completed(jobs):
            try:
                results[jobs[future]] = future.result()
            except Failure as e:
                problems.append(str(e))
        for key in sorted(results, key=order.get):
            objects[key[0]].append(results[key])
    if problems:
        return report(problems)

    libraries = {}
    for p in paths:
        proj = projects[p]
        if proj.kind == "StaticLibrary":
            lib = os.path.join(work, "lib", proj.name + ".lib")
            os.makedirs(os.path.dirname(lib), exist_ok=True)
            if os.path.exists(lib):
                os.remove(lib)
            try:
                run([args.ar, "rcs", lib] + objects[p], "%s: ar" % proj.name)
            except Failure as e:
                problems.append(str(e))
            libraries[p] = lib
    linked, compared = [], []
    for p in paths:
        proj = projects[p]
        if proj.kind != "Application":
            continue
        libs = []
        for ref, link in proj.refs:
            if ref not in projects:
                problems.append("%s: references %s, which server.sln does not list" % (proj.name, ref))
            elif projects[ref].kind != "StaticLibrary":
                problems.append("%s: references %s, which is not a static library" % (proj.name, ref))
            elif link:
                libs.append(libraries[ref])
        system = []
        for dep in split(proj.tool("Link", "AdditionalDependencies")):
            name = dep[:-4] if dep.lower().endswith(".lib") else dep
            if not os.path.exists("/usr/x86_64-w64-mingw32/lib/lib%s.a" % name.lower()):
                problems.append("%s: AdditionalDependencies %s has no mingw-w64 import library" % (proj.name, dep))
                continue
            system.append("-l" + name.lower())
        exe = os.path.join(work, "bin", proj.name + ".exe")
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        if os.path.exists(exe):
            os.remove(exe)
        uses_cxx = any(s.endswith(CXX_EXTENSIONS) for s in proj.sources)
        subsystem = "-mwindows" if proj.tool("Link", "SubSystem") == "Windows" else "-mconsole"
        # -static: the static CRT of RuntimeLibrary MultiThreaded(Debug); a group, as
        # link.exe searches every library for every unresolved symbol.
        # link.exe picks the CRT entry point from the function the objects
        # define (wmain -> wmainCRTStartup); mingw's driver needs -municode
        # for that, so give it when an object defines wmain.
        unicode_entry = []
        nm = os.path.join(os.path.dirname(args.cc), "x86_64-w64-mingw32-nm")
        for obj in objects[p]:
            out = subprocess.run([nm if os.path.exists(nm) else "x86_64-w64-mingw32-nm", "--defined-only", obj],
                                 capture_output=True, text=True).stdout
            if any(line.split()[-1:] == ["wmain"] for line in out.splitlines()):
                unicode_entry = ["-municode"]
                break
        cmd = [args.cxx if uses_cxx else args.cc, "-static", subsystem] + unicode_entry + ["-o", exe] + objects[p]
        cmd += ["-Wl,--start-group"] + libs + system + ["-Wl,--end-group"]
        try:
            run(cmd, "%s|%s: link" % (proj.name, args.config))
            linked.append((proj, exe))
        except Failure as e:
            problems.append(str(e))

    if args.reference:
        for proj, exe in linked:
            ref = find_reference(args.reference, proj.name + ".exe")
            if ref is None:
                continue
            try:
                want, have = resource_ids(args, ref), resource_ids(args, exe)
            except Failure as e:
                problems.append(str(e))
                continue
            if want != have:
                problems.append("%s: resources (type, name) %s, but CMake's %s has %s"
                                % (proj.name, sorted(have) or "none", ref, sorted(want)))
            compared.append(proj.name)

    clang_checked = 0
    if args.clang_cl:
        checks = []
        for config in ("Debug", "Release"):
            for p in paths:
                proj = projects[p] if config == args.config else Project(p, root, config, global_props)
                checks += list(clang_cl_commands(args, proj, root, config))
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for what, future in [(what, pool.submit(run, cmd, what)) for what, cmd in checks]:
                try:
                    future.result()
                except Failure as e:
                    problems.append(str(e))
        clang_checked = len(checks)

    if problems:
        return report(problems)
    n_sources = sum(len(pr.sources) for pr in projects.values())
    n_rc = sum(len(pr.resources) for pr in projects.values())
    print("ok: %d projects from server.sln (%s|x64): %d sources and %d resource scripts compiled with "
          "mingw-w64, %d libraries archived, %d executables linked, resources of %d compared with CMake's (%s); "
          "%d C file checks with clang-cl (Debug and Release)"
          % (len(projects), args.config, n_sources, n_rc, len(libraries), len(linked), len(compared),
             ", ".join(compared), clang_checked))
    for proj, exe in linked:
        print("  %s" % os.path.relpath(exe, work))
    return 0


def report(problems):
    for problem in problems:
        print("FAILED: " + problem)
    print("%d problem(s): the Visual Studio build would not work as the projects stand." % len(problems))
    return 1


if __name__ == "__main__":
    sys.exit(main())
