/* The built-in services' internals worth testing on their own, and the
 * short forms of the built-in registry (ps_services.h has the registry). */
#ifndef PS_SERVICES_H
#define PS_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "ps_handler.h"
#include "ps_services.h"

/* The built-in handler for `name` ("echo"), or NULL:
 * ps_registry_find(ps_registry_builtin(), name). */
const ps_handler *ps_service_find(const char *name);
/* The HTTP admin endpoint (svc_admin.c). Not in the built-in registry: the
 * program opens it for --admin with ps_engine_serve and ps_admin_options. */
extern const ps_handler ps_svc_admin;
/* Requests answered on one admin connection before it is closed. */
#define PS_ADMIN_REQUESTS_MAX 100

typedef struct ps_metrics ps_metrics; /* common/metrics.h */

/* admin's options (ps_engine_serve's `options`): where its figures come
 * from. metrics_fill fills `out` (zeroed by the caller) with a
 * consistent-enough snapshot of the engine's counters, listener rows, error
 * rows, worker count, version and state; metrics_arg is what it needs. It is
 * called from inside admin's session callbacks, on any worker thread,
 * concurrently for different sessions: it must be thread-safe, must not
 * block for long, and must not call ps_session_*. The options and
 * metrics_arg must stay valid until the admin service's on_stop. Without
 * metrics_fill the admin service refuses to start. */
typedef struct ps_admin_options {
  void (*metrics_fill)(void *metrics_arg, ps_metrics *out);
  void *metrics_arg;
  /* A request head must be complete this long after its first byte, or
   * the connection gets 408 and is closed; 0: PS_ADMIN_HEAD_TIMEOUT_MS.
   * (Tests shorten it.) */
  unsigned head_timeout_ms;
} ps_admin_options;

#define PS_ADMIN_HEAD_TIMEOUT_MS 10000
/* Input an admin connection may send ahead of reading its answers: while
 * its queued answers are at the engine's send queue limit the rest of its
 * requests wait unparsed, up to this much; past it the connection is
 * closed once its answers are sent. (100 pipelined requests of a few
 * hundred bytes fit many times over.) */
#define PS_ADMIN_HELD_MAX 65536

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
