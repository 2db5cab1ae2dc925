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

/* Recover the structure that embeds `ptr` as its member `member`. */
#define ps_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
