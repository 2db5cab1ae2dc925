/* mingw-w64's minwindef.h, then min and max as the Windows SDK's minwindef.h
 * defines them: in C++ too, unless NOMINMAX (mingw's defines them in C only).
 * Found first through -isystem by tests/build_vcxproj.py for C++ files; see
 * ../sdk_minmax.h. No include guard: the real header has one. */
#include_next <minwindef.h>

#if defined(__cplusplus) && !defined(NOMINMAX)
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#endif
