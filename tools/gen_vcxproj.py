#!/usr/bin/env python3
"""Write server.sln and one .vcxproj per CMake target from CMake's manifest.

CMake is the source of truth for what gets built; the Visual Studio build is
derived from it, target for target, so the two cannot drift
(tests/check_vcxproj.py checks, tests/build_vcxproj.py builds the result):

    cmake --preset win                     # (CMakePresets.json) writes build/win/source-manifest.txt
    python3 tools/gen_vcxproj.py build/win/source-manifest.txt

The manifest (written by CMakeLists.txt) gives, for each target: its type,
sources, preprocessor definitions and include directories (with those its
libraries pass on) and the libraries it links directly. Each target becomes
one project: CMake's libraries become ProjectReferences (an executable
references every static library it links, directly or through another), other
libraries become AdditionalDependencies, gtest_main means googletest's own
sources compiled from $(GTEST_ROOT).

The output depends only on the manifest and the headers on disk: GUIDs are
derived from the target names and absolute paths are written relative to $(SolutionDir) or
$(GTEST_ROOT), so the same input gives byte-identical files on any machine.
Files are written with CRLF and a UTF-8 BOM, as Visual Studio writes them, so
saving the solution in the IDE does not rewrite every line.
"""
import argparse
import os
import sys
import uuid

# The projects are CMake's targets (PS_VS_TARGETS in CMakeLists.txt, the one
# list): each project's GUID is derived from its target's name (uuid5 in a
# namespace of our own), so regenerating never changes a project's identity
# and a new target needs nothing here. Each .vcxproj sits in the folder its
# sources share (common/base/psbase.vcxproj, server/app/portserve.vcxproj).
SOLUTION_GUID = "{5B0D3C1E-7A2F-4C61-9E3B-2D4F8A6C1E01}"
VCXPROJ_TYPE_GUID = "{8BC9CEB8-8B4A-11D0-8D11-00A0C91BC942}"  # Visual C++
PROJECT_NAMESPACE = uuid.UUID("5B0D3C1E-7A2F-4C61-9E3B-2D4F8A6C1E01")


def project_guid(name):
    return "{%s}" % str(uuid.uuid5(PROJECT_NAMESPACE, name)).upper()


CONFIGS = ("Debug", "Release")
PLATFORM = "x64"
# Only MSVC needs it: its CRT deprecates strncpy, fopen, ... (C4996), which
# /WX would make an error. CMakeLists.txt adds the same under if(MSVC).
MSVC_ONLY_DEFINES = ("_CRT_SECURE_NO_WARNINGS",)
# The example-config tests find portserve.ini.example through PS_SOURCE_DIR, a
# C string: forward slashes and no trailing separator, so that no backslash
# escape can end up in the literal (Windows takes '/' in paths).
SOURCE_DIR_PROPERTY = "PsSourceDir"
SOURCE_DIR_VALUE = "$(SolutionDir.Replace('\\','/').TrimEnd('/'))"
GTEST_SOURCES = ("googletest/src/gtest-all.cc", "googletest/src/gtest_main.cc")
GTEST_TARGETS = ("gtest_main",)
IGNORED_LIBS = ("Threads::Threads",)  # the MSVC runtime has threads built in
C_STANDARDS = {"11": "stdc11", "17": "stdc17"}
CXX_STANDARDS = {"14": "stdcpp14", "17": "stdcpp17", "20": "stdcpp20"}


class Target:
    def __init__(self, name, kind):
        self.name = name
        self.kind = kind
        self.source_dir = ""
        self.fields = {}


def fail(message):
    sys.exit("gen_vcxproj: " + message)


def read_manifest(path):
    """Returns (root, gtest_root, [Target]) as CMake wrote them."""
    root = gtest_root = None
    targets = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            key, _, value = line.partition(" ")
            if key == "ROOT":
                root = value
            elif key == "GTEST_ROOT":
                gtest_root = value
            elif key == "TARGET":
                name, _, kind = value.partition(" ")
                targets.append(Target(name, kind))
            elif targets and key in ("SOURCE_DIR", "SOURCES", "DEFINES", "INCLUDES", "LIBS",
                                     "C_STANDARD", "CXX_STANDARD"):
                targets[-1].fields[key] = value
            else:
                fail("%s:%d: cannot read %r" % (path, lineno, line))
    if not root or not targets:
        fail("%s: no ROOT or no TARGET lines: reconfigure with CMake" % path)
    return root, gtest_root, targets


def split_list(value):
    seen = []
    for item in (value or "").split(";"):
        item = item.strip()
        if item and item not in seen:
            seen.append(item)
    return seen


def repo_path(path, base, root):
    """A manifest path (absolute, or relative to base) as a repo-relative 'a/b.c'."""
    full = os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))
    rel = os.path.relpath(full, root)
    if rel == ".." or rel.startswith(".." + os.sep):
        return None
    return rel.replace(os.sep, "/")


def win_relpath(repo_rel, folder):
    """repo-relative 'a/b.c' -> path relative to the project folder, backslashes."""
    return os.path.relpath(repo_rel, folder).replace(os.sep, "\\").replace("/", "\\")


def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def cond(config):
    return "Condition=\"'$(Configuration)|$(Platform)'=='%s|%s'\"" % (config, PLATFORM)


class Project:
    """One target as Visual Studio will see it; paths are repo-relative."""

    def __init__(self, target, root, gtest_root, by_name):
        self.name = target.name
        self.guid = project_guid(target.name)
        if target.kind == "STATIC_LIBRARY":
            self.kind = "StaticLibrary"
        elif target.kind == "EXECUTABLE":
            self.kind = "Application"
        else:
            fail("%s: cannot make a project of a %s" % (self.name, target.kind))
        f = target.fields
        base = f.get("SOURCE_DIR", root)
        self.sources, self.resources = [], []
        for src in split_list(f.get("SOURCES")):
            rel = repo_path(src, base, root)
            if rel is None:
                fail("%s: source %s is outside the repository" % (self.name, src))
            (self.resources if rel.endswith(".rc") else self.sources).append(rel)
        self.sources.sort()
        self.resources.sort()
        # The folder the sources share (the .vcxproj goes there).
        dirs = [os.path.dirname(x) for x in self.sources + self.resources]
        if not dirs:
            fail("%s: no sources" % self.name)
        self.folder = os.path.commonpath(dirs).replace(os.sep, "/") or "."
        self.gtest = any(lib in GTEST_TARGETS for lib in split_list(f.get("LIBS")))
        self.defines = []
        for define in split_list(f.get("DEFINES")) + list(MSVC_ONLY_DEFINES):
            define = define.replace(root, "$(%s)" % SOURCE_DIR_PROPERTY)
            if define not in self.defines:
                self.defines.append(define)
        self.includes = []
        for inc in split_list(f.get("INCLUDES")):
            rel = repo_path(inc, root, root)
            if rel is not None:
                value = "$(SolutionDir)" + ("" if rel == "." else rel.replace("/", "\\"))
            elif gtest_root and repo_path(inc, gtest_root, gtest_root) is not None:
                value = "$(GTEST_ROOT)\\" + repo_path(inc, gtest_root, gtest_root).replace("/", "\\")
            else:
                fail("%s: include directory %s is neither in the repository nor in googletest"
                     % (self.name, inc))
            if value not in self.includes:
                self.includes.append(value)
        self.c_standard = C_STANDARDS[f.get("C_STANDARD") or "11"]
        self.cxx_standard = CXX_STANDARDS[f.get("CXX_STANDARD") or "17"]
        self.direct_libs = split_list(f.get("LIBS"))
        self.by_name = by_name

    def link_closure(self):
        """(project references, system libraries) this target links, in CMake's order."""
        refs, libs = [], []

        def walk(names):
            for lib in names:
                if lib in IGNORED_LIBS or lib in GTEST_TARGETS:
                    continue
                if lib in self.by_name:
                    if lib not in refs:
                        refs.append(lib)
                        walk(self.by_name[lib].direct_libs)
                elif "::" in lib or "/" in lib or "$<" in lib:
                    fail("%s: cannot link %r from Visual Studio" % (self.name, lib))
                elif lib + ".lib" not in libs:
                    libs.append(lib + ".lib")
        walk(self.direct_libs)
        return refs, libs

    def headers(self, root):
        """*.h beside the sources, less those a referenced project already lists."""
        dirs = sorted({os.path.dirname(src) for src in self.sources})
        found = []
        for d in dirs:
            for name in sorted(os.listdir(os.path.join(root, d))):
                if name.endswith(".h"):
                    found.append((d + "/" + name) if d else name)
        refs, _ = self.link_closure()
        theirs = set()
        for ref in refs:
            theirs.update(self.by_name[ref].headers(root))
        return [h for h in found if h not in theirs]


def vcxproj(p, root):
    is_app = p.kind == "Application"
    refs, system_libs = p.link_closure()
    uses_source_dir = any("$(%s)" % SOURCE_DIR_PROPERTY in d for d in p.defines)
    charset = "Unicode" if "UNICODE" in p.defines else "NotSet"
    out = []
    w = out.append
    w('<?xml version="1.0" encoding="utf-8"?>')
    w("<!-- Generated by tools/gen_vcxproj.py from CMake's target %s: do not edit by hand." % p.name)
    w("     After changing CMakeLists.txt, reconfigure and run")
    w("       python3 tools/gen_vcxproj.py build/win/source-manifest.txt -->")
    w('<Project DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">')
    w('  <ItemGroup Label="ProjectConfigurations">')
    for config in CONFIGS:
        w('    <ProjectConfiguration Include="%s|%s">' % (config, PLATFORM))
        w("      <Configuration>%s</Configuration>" % config)
        w("      <Platform>%s</Platform>" % PLATFORM)
        w("    </ProjectConfiguration>")
    w("  </ItemGroup>")
    w('  <PropertyGroup Label="Globals">')
    w("    <VCProjectVersion>17.0</VCProjectVersion>")
    w("    <ProjectGuid>%s</ProjectGuid>" % p.guid)
    w("    <Keyword>Win32Proj</Keyword>")
    w("    <RootNamespace>%s</RootNamespace>" % p.name)
    w("    <WindowsTargetPlatformVersion>10.0</WindowsTargetPlatformVersion>")
    w("  </PropertyGroup>")
    w("  <!-- Building this project on its own (msbuild %s.vcxproj) leaves SolutionDir unset;" % p.name)
    w("       every path below is relative to it. -->")
    w("  <PropertyGroup Condition=\"'$(SolutionDir)'=='' Or '$(SolutionDir)'=='*Undefined*'\">")
    w("    <SolutionDir>$(MSBuildThisFileDirectory)..\\</SolutionDir>")
    w("  </PropertyGroup>")
    if uses_source_dir:
        w("  <!-- PS_SOURCE_DIR is a C string: forward slashes, no trailing separator, so no")
        w("       backslash of the path can become an escape sequence. -->")
        w("  <PropertyGroup>")
        w("    <%s>%s</%s>" % (SOURCE_DIR_PROPERTY, SOURCE_DIR_VALUE, SOURCE_DIR_PROPERTY))
        w("  </PropertyGroup>")
    if p.gtest:
        w("  <!-- googletest is compiled into %s.exe from source, no NuGet package: GTEST_ROOT is" % p.name)
        w("       a googletest checkout (v1.12.1, the version Debian's CMake build uses). Default:")
        w("       third_party\\googletest next to server.sln; override with an environment variable")
        w("       GTEST_ROOT or msbuild /p:GTEST_ROOT=C:\\path\\to\\googletest. -->")
        w("  <PropertyGroup>")
        w("    <GTEST_ROOT Condition=\"'$(GTEST_ROOT)'==''\">$(SolutionDir)third_party\\googletest</GTEST_ROOT>")
        w("  </PropertyGroup>")
    w('  <Import Project="$(VCTargetsPath)\\Microsoft.Cpp.Default.props" />')
    for config in CONFIGS:
        w('  <PropertyGroup %s Label="Configuration">' % cond(config))
        w("    <ConfigurationType>%s</ConfigurationType>" % p.kind)
        w("    <UseDebugLibraries>%s</UseDebugLibraries>" % ("true" if config == "Debug" else "false"))
        w("    <PlatformToolset>v143</PlatformToolset>")
        # MSBuild defines UNICODE;_UNICODE for Unicode, nothing for NotSet: as CMake does.
        w("    <CharacterSet>%s</CharacterSet>" % charset)
        w("  </PropertyGroup>")
    w('  <Import Project="$(VCTargetsPath)\\Microsoft.Cpp.props" />')
    w('  <ImportGroup Label="ExtensionSettings" />')
    w('  <ImportGroup Label="PropertySheets">')
    w('    <Import Project="$(UserRootDir)\\Microsoft.Cpp.$(Platform).user.props" '
      "Condition=\"exists('$(UserRootDir)\\Microsoft.Cpp.$(Platform).user.props')\" "
      'Label="LocalAppDataPlatform" />')
    w("  </ImportGroup>")
    w('  <PropertyGroup Label="UserMacros" />')
    w("  <!-- Every output in one place (build.ps1 runs x64\\<Config>\\*_tests.exe, clean removes x64\\). -->")
    w("  <PropertyGroup>")
    w("    <OutDir>$(SolutionDir)x64\\$(Configuration)\\</OutDir>")
    w("    <IntDir>$(SolutionDir)x64\\$(Configuration)\\obj\\$(ProjectName)\\</IntDir>")
    w("  </PropertyGroup>")
    defines = ";".join(p.defines)
    includes = ";".join(p.includes)
    w("  <ItemDefinitionGroup>")
    w("    <ClCompile>")
    w("      <WarningLevel>Level4</WarningLevel>")
    w("      <TreatWarningAsError>true</TreatWarningAsError>")
    if p.gtest:
        # As googletest's own MSVC build does: its macros make code the optimiser
        # proves unreachable (C4702), which /WX would turn into an error.
        w("      <DisableSpecificWarnings>4702;%(DisableSpecificWarnings)</DisableSpecificWarnings>")
    w("      <ConformanceMode>true</ConformanceMode>")
    w("      <LanguageStandard_C>%s</LanguageStandard_C>" % p.c_standard)
    w("      <LanguageStandard>%s</LanguageStandard>" % p.cxx_standard)
    w("      <PreprocessorDefinitions>%s;%%(PreprocessorDefinitions)</PreprocessorDefinitions>"
      % xml_escape(defines))
    if includes:
        w("      <AdditionalIncludeDirectories>%s;%%(AdditionalIncludeDirectories)</AdditionalIncludeDirectories>"
          % xml_escape(includes))
    w("      <AdditionalOptions>/utf-8 %(AdditionalOptions)</AdditionalOptions>")
    w("      <MultiProcessorCompilation>true</MultiProcessorCompilation>")
    w("    </ClCompile>")
    if p.resources:
        # rc.exe sees what the C compiler sees, as CMake passes both the same flags.
        w("    <ResourceCompile>")
        w("      <PreprocessorDefinitions>%s;%%(PreprocessorDefinitions)</PreprocessorDefinitions>"
          % xml_escape(defines))
        if includes:
            w("      <AdditionalIncludeDirectories>%s;%%(AdditionalIncludeDirectories)</AdditionalIncludeDirectories>"
              % xml_escape(includes))
        w("    </ResourceCompile>")
    if is_app:
        w("    <Link>")
        w("      <SubSystem>Console</SubSystem>")
        w("      <GenerateDebugInformation>true</GenerateDebugInformation>")
        if system_libs:
            w("      <AdditionalDependencies>%s;%%(AdditionalDependencies)</AdditionalDependencies>"
              % ";".join(system_libs))
        w("    </Link>")
    w("  </ItemDefinitionGroup>")
    for config in CONFIGS:
        debug = config == "Debug"
        w("  <ItemDefinitionGroup %s>" % cond(config))
        w("    <ClCompile>")
        w("      <RuntimeLibrary>%s</RuntimeLibrary>" % ("MultiThreadedDebug" if debug else "MultiThreaded"))
        w("      <Optimization>%s</Optimization>" % ("Disabled" if debug else "MaxSpeed"))
        if debug:
            w("      <PreprocessorDefinitions>_DEBUG;%(PreprocessorDefinitions)</PreprocessorDefinitions>")
        else:
            w("      <FunctionLevelLinking>true</FunctionLevelLinking>")
            w("      <IntrinsicFunctions>true</IntrinsicFunctions>")
            # No NDEBUG: asserts document our invariants and stay on in the
            # optimised build, as in CMake's (CMakeLists.txt removes -DNDEBUG).
        w("    </ClCompile>")
        if is_app and not debug:
            w("    <Link>")
            w("      <EnableCOMDATFolding>true</EnableCOMDATFolding>")
            w("      <OptimizeReferences>true</OptimizeReferences>")
            w("    </Link>")
        w("  </ItemDefinitionGroup>")
    w("  <ItemGroup>")
    for src in p.sources:
        w('    <ClCompile Include="%s" />' % xml_escape(win_relpath(src, p.folder)))
    if p.gtest:
        for src in GTEST_SOURCES:
            w('    <ClCompile Include="$(GTEST_ROOT)\\%s" />' % src.replace("/", "\\"))
    w("  </ItemGroup>")
    if p.resources:
        w("  <ItemGroup>")
        for rc in p.resources:
            w('    <ResourceCompile Include="%s" />' % xml_escape(win_relpath(rc, p.folder)))
        w("  </ItemGroup>")
    headers = p.headers(root)
    if headers:
        w("  <ItemGroup>")
        for header in headers:
            w('    <ClInclude Include="%s" />' % xml_escape(win_relpath(header, p.folder)))
        w("  </ItemGroup>")
    if refs:
        w("  <ItemGroup>")
        for ref_name in refs:
            ref = p.by_name[ref_name]
            w('    <ProjectReference Include="%s">'
              % win_relpath("%s/%s.vcxproj" % (ref.folder, ref.name), p.folder))
            w("      <Project>%s</Project>" % ref.guid)
            if not is_app:
                # A library only needs the other built first; the executables link each.
                w("      <LinkLibraryDependencies>false</LinkLibraryDependencies>")
            w("    </ProjectReference>")
        w("  </ItemGroup>")
    w('  <Import Project="$(VCTargetsPath)\\Microsoft.Cpp.targets" />')
    w('  <ImportGroup Label="ExtensionTargets" />')
    w("</Project>")
    return out


def solution(projects):
    out = []
    w = out.append
    w("")
    w("Microsoft Visual Studio Solution File, Format Version 12.00")
    w("# Visual Studio Version 17")
    w("VisualStudioVersion = 17.0.31903.59")
    w("MinimumVisualStudioVersion = 10.0.40219.1")
    for p in projects:
        w('Project("%s") = "%s", "%s\\%s.vcxproj", "%s"'
          % (VCXPROJ_TYPE_GUID, p.name, p.folder, p.name, p.guid))
        w("EndProject")
    w("Global")
    w("\tGlobalSection(SolutionConfigurationPlatforms) = preSolution")
    for config in CONFIGS:
        w("\t\t%s|%s = %s|%s" % (config, PLATFORM, config, PLATFORM))
    w("\tEndGlobalSection")
    w("\tGlobalSection(ProjectConfigurationPlatforms) = postSolution")
    for p in projects:
        for config in CONFIGS:
            w("\t\t%s.%s|%s.ActiveCfg = %s|%s" % (p.guid, config, PLATFORM, config, PLATFORM))
            w("\t\t%s.%s|%s.Build.0 = %s|%s" % (p.guid, config, PLATFORM, config, PLATFORM))
    w("\tEndGlobalSection")
    w("\tGlobalSection(SolutionProperties) = preSolution")
    w("\t\tHideSolutionNode = FALSE")
    w("\tEndGlobalSection")
    w("\tGlobalSection(ExtensibilityGlobals) = postSolution")
    w("\t\tSolutionGuid = %s" % SOLUTION_GUID)
    w("\tEndGlobalSection")
    w("EndGlobal")
    return out


def encode(lines):
    return "\ufeff".encode("utf-8") + "".join(line + "\r\n" for line in lines).encode("utf-8")


def generate(manifest, root):
    """[(repo-relative path, bytes)] of every file this script writes, and the projects."""
    manifest_root, gtest_root, targets = read_manifest(manifest)
    if os.path.realpath(manifest_root) != os.path.realpath(root):
        fail("%s was written for %s, not %s" % (manifest, manifest_root, root))
    by_name = {}
    projects = []
    for t in targets:
        p = Project(t, manifest_root, gtest_root, by_name)
        by_name[p.name] = p
        projects.append(p)
    outputs = [("%s/%s.vcxproj" % (p.folder, p.name), encode(vcxproj(p, root))) for p in projects]
    outputs.append(("server.sln", encode(solution(projects))))
    return outputs, projects


def main():
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifest", help="source-manifest.txt from the CMake build directory")
    parser.add_argument("--root", default=default_root, help="repository root (default: %(default)s)")
    args = parser.parse_args()
    root = os.path.abspath(args.root)

    outputs, projects = generate(args.manifest, root)
    changed = 0
    for rel, data in outputs:
        path = os.path.join(root, rel)
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            pass
        with open(path, "wb") as f:
            f.write(data)
        print("wrote %s" % rel)
        changed += 1
    total = sum(len(p.sources) + len(p.resources) for p in projects)
    print("%d sources in %d projects; %d of %d files changed"
          % (total, len(projects), changed, len(outputs)))


if __name__ == "__main__":
    main()
