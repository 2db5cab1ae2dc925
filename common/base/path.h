/* File names as UTF-8, on every platform. portserve.exe takes its command
 * line as UTF-16 and hands the portable code UTF-8 (main.c), so a path may
 * hold characters the system's ANSI code page cannot: opening it with
 * fopen() (which takes ANSI on Windows) would fail or open another file.
 * ps_fopen opens through _wfopen on Windows and fopen elsewhere. */
#ifndef PS_PATH_H
#define PS_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest path, in bytes of UTF-8, that options and files hold. */
#define PS_PATH_MAX 520

/* Decodes NUL-terminated UTF-8 into UTF-16 code units (surrogate pairs above
 * U+FFFF), NUL-terminated. Returns the number of units written before the
 * NUL, or -1 if `utf8` is not valid UTF-8 (overlong forms, surrogates, values
 * above U+10FFFF, truncated sequences) or does not fit in `cap` units. */
int ps_utf8_to_utf16(const char *utf8, uint16_t *out, size_t cap);

/* fopen for a UTF-8 path. On Windows: _wfopen when `path` is valid UTF-8;
 * otherwise fopen, so a path from a configuration file saved in the ANSI code
 * page (Notepad's "ANSI") still opens as it did. */
FILE *ps_fopen(const char *path, const char *mode);

/* Reads a whole text file of at most `max` bytes (an operator's file: the
 * configuration, the quotes) through ps_fopen. Returns it NUL-terminated in
 * malloc'd memory (the caller frees it), or NULL with err saying why:
 * "cannot open WHAT'PATH'" (`what` is "" or a noun and a space, "quotes
 * file "), "PATH: larger than MAX bytes", "PATH: not a text file (UTF-16?
 * ...)" (a NUL byte inside), or out of memory. */
char *ps_read_text_file(const char *path, size_t max, const char *what, char *err, size_t errsize);

#ifdef __cplusplus
}
#endif

#endif
