/* Forced (/FI) into every C file tests/build_vcxproj.py checks with clang-cl.
 *
 * There are no MSVC or Windows SDK headers on Linux, so clang-cl reads
 * mingw-w64's. Those were written for gcc and take an _MSC_VER compiler to be
 * MSVC itself, which clang in MSVC mode is not quite. Three repairs, nothing
 * about our code:
 *  - _mingw.h defines __attribute__(x) away for non-gcc compilers, which breaks
 *    clang's own intrinsic headers that winnt.h includes: undo it;
 *  - __MINGW_ATTRIB_NORETURN becomes __declspec(noreturn) written after the
 *    declarator, which clang rejects: use the attribute form;
 *  - winnt.h maps InterlockedIncrement64 and friends to MSVC's intrinsics and
 *    expects MSVC's <intrin.h> to have declared them, and maps InterlockedAdd64
 *    to _InterlockedAdd64, which MSVC has only on ARM (the SDK's winnt.h
 *    builds it from _InterlockedExchangeAdd64 on x64, as done here). */
#ifndef PS_CLANG_CL_MINGW_H
#define PS_CLANG_CL_MINGW_H

#include <_mingw.h>

#undef __attribute__
#undef __MINGW_ATTRIB_NORETURN
#define __MINGW_ATTRIB_NORETURN __attribute__((__noreturn__))
#undef __MINGW_ATTRIB_DEPRECATED
#define __MINGW_ATTRIB_DEPRECATED

__int64 _InterlockedIncrement64(__int64 volatile *addend);
__int64 _InterlockedDecrement64(__int64 volatile *addend);
__int64 _InterlockedExchangeAdd64(__int64 volatile *addend, __int64 value);
static __inline __int64 _InterlockedAdd64(__int64 volatile *addend, __int64 value) {
  return _InterlockedExchangeAdd64(addend, value) + value;
}

#endif
