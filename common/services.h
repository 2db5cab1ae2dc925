/* The registry of built-in services (protocol handlers) by name, and the
 * pieces of them that are worth testing on their own. */
#ifndef PS_SERVICES_H
#define PS_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "ps_handler.h"

/* The handler for `name` ("echo"), or NULL. */
const ps_handler *ps_service_find(const char *name);
/* Comma-separated names, for messages ("echo, discard, ..."). */
const char *ps_service_names(void);

extern const ps_handler ps_svc_echo;    /* RFC 862 */
extern const ps_handler ps_svc_discard; /* RFC 863 */
extern const ps_handler ps_svc_chargen; /* RFC 864 */
extern const ps_handler ps_svc_daytime; /* RFC 867 */
extern const ps_handler ps_svc_qotd;    /* RFC 865 */
/* The HTTP admin endpoint (svc_admin.c). Not in the ps_service_find table:
 * the engine opens it for --admin, with metrics_fill in its configuration. */
extern const ps_handler ps_svc_admin;
/* Requests answered on one admin connection before it is closed. */
#define PS_ADMIN_REQUESTS_MAX 100

/* chargen: bytes of the RFC 864 pattern starting at stream offset *pos
 * (lines of 72 printable characters rotating through ASCII 32..126, each
 * ended by CR LF); advances *pos. */
#define PS_CHARGEN_LINE 72
void ps_chargen_fill(uint64_t *pos, char *buf, size_t len);
/* Largest chargen reply datagram (RFC 864: 0 to 512 characters). */
#define PS_CHARGEN_DATAGRAM_MAX 512

/* daytime: "Thursday, November 26, 2026 04:40:00-UTC\r\n" for a Unix time.
 * Returns the length written (buf of at least 64 bytes). */
size_t ps_daytime_format(int64_t unix_seconds, char *buf, size_t bufsize);

/* qotd: quotes separated by blank lines; each must be under 512 characters
 * (RFC 865). Returns 0 and a context for ps_svc_qotd, or -1 with a message. */
#define PS_QOTD_MAX 511
/* Largest quotes file qotd reads (bytes); a larger one is refused at start. */
#define PS_QOTD_FILE_MAX (256 * 1024)
int ps_qotd_parse(const char *text, const char *name, void **ctx, char *err, size_t errsize);
/* The quote for a day number (days since 1970), with CR LF line ends. */
const char *ps_qotd_quote(const void *ctx, int64_t day);
void ps_qotd_free(void *ctx);

#endif
