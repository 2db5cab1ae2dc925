/* Portability macros shared by common/ and server/: the one place where
 * compiler-specific syntax is allowed (STYLE.md: no __attribute__ elsewhere). */
#ifndef PS_COMPAT_H
#define PS_COMPAT_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define PS_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define PS_PRINTF(fmt_index, first_arg)
#endif

#define PS_UNUSED(x) ((void)(x))
#define PS_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))
/* A numeric macro as a string literal: PS_STR(5) is "5". */
#define PS_STR_(x) #x
#define PS_STR(x) PS_STR_(x)

/* The cache line of x64 and ARM64 (the only targets). PS_CACHE_ALIGNED on a
 * member starts it on a line of its own and rounds its struct's size up to
 * whole lines, so data one thread writes never shares a line with another's
 * (false sharing). An array of such structs needs an allocation that keeps
 * the alignment (_aligned_malloc): malloc and calloc give 16 bytes. */
#define PS_CACHE_LINE 64
#if defined(_MSC_VER)
#define PS_CACHE_ALIGNED __declspec(align(PS_CACHE_LINE))
#elif defined(__cplusplus)
#define PS_CACHE_ALIGNED alignas(PS_CACHE_LINE)
#else
#define PS_CACHE_ALIGNED _Alignas(PS_CACHE_LINE)
#endif

/* Recover the structure that embeds `ptr` as its member `member`. */
#define ps_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
