/* Forced (g++ -include) into every C++ file tests/build_vcxproj.py compiles,
 * so that mingw-w64 behaves as MSVC with the Windows SDK does about min/max.
 *
 * The SDK's minwindef.h (reached from <windows.h> and <winsock2.h>) defines
 * min(a,b) and max(a,b) as macros unless NOMINMAX is defined, in C and C++
 * alike, and MSVC's standard library writes (std::min)(...) so it survives
 * them: after a Windows header a bare std::min(a, b) is a syntax error with
 * MSVC. mingw-w64's minwindef.h defines them for C only, and libstdc++ defines
 * NOMINMAX besides (its headers call std::min(...) bare), which hides the
 * mistake here.
 *
 * So: read every standard header now, before any Windows header (their include
 * guards make the file's own #includes of them no-ops later, so the macros
 * cannot break them), then take back libstdc++'s NOMINMAX (not one the project
 * or the command line defined). sdk/minwindef.h, found first on the include
 * path, then defines the macros when the file includes a Windows header, as the
 * SDK does; a file that includes none gets none, as with MSVC.
 * build_vcxproj.py checks with probes that this really happens. */
#ifndef PS_SDK_MINMAX_H
#define PS_SDK_MINMAX_H

#ifdef NOMINMAX
#define PS_SDK_NOMINMAX_FROM_PROJECT 1
#endif

#include <bits/stdc++.h>
#include <cxxabi.h> /* googletest's port header includes it after <windows.h> */

#ifndef PS_SDK_NOMINMAX_FROM_PROJECT
#undef NOMINMAX
#endif

#endif
