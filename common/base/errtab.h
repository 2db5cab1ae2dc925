/* Names and texts of the Winsock and Win32 errors a socket server meets.
 * Portable (plain numbers, no <windows.h>) so log lines and tests agree on
 * one spelling: "WSAEADDRINUSE (10048) address already in use". */
#ifndef PS_ERRTAB_H
#define PS_ERRTAB_H

#include <stddef.h>

#include "ps_compat.h"

/* Symbol of a known error ("WSAECONNRESET"), or NULL. */
const char *ps_err_symbol(unsigned long code);
/* Short lower-case text of a known error ("connection reset by peer"), or NULL. */
const char *ps_err_text(unsigned long code);
/* "SYMBOL (code) text" for a known error, "error code" otherwise; always
 * NUL-terminated, truncated to bufsize. Returns buf. */
char *ps_err_format(unsigned long code, char *buf, size_t bufsize);

/* The table itself, in its order (ascending codes), so that a test can check
 * every entry: how many there are, and entry i (0, or -1 past the end). */
size_t ps_err_count(void);
int ps_err_entry(size_t i, unsigned long *code, const char **symbol, const char **text);

/* Formats a message into err (truncated to errsize) and returns -1: the one
 * way the portable parsers report what is wrong. */
int ps_fail(char *err, size_t errsize, const char *fmt, ...) PS_PRINTF(3, 4);

#endif
