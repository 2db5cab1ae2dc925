/* A small, strict HTTP/1.1 request parser (RFC 9112) for the admin endpoint,
 * and the pieces of a response. Incremental: bytes are fed as they arrive;
 * the parser buffers one request head (at most PS_HTTP_HEAD_MAX bytes) and
 * consumes nothing past its end, so after a request the caller's leftover
 * bytes are the next (pipelined) request. The endpoint takes no bodies.
 *
 * Strictness, where RFC 9112 lets a recipient choose:
 *  - line ends are CRLF only: a bare LF (which 9112 section 2.2 says a
 *    recipient MAY accept) and a bare CR are rejected with 400, so that no
 *    proxy in front of us can read the head differently;
 *  - up to PS_HTTP_EMPTY_LINES_MAX empty lines before the request line are
 *    ignored (9112 section 2.2: SHOULD ignore at least one);
 *  - obs-fold (a header line starting with SP/HTAB) and whitespace between a
 *    field name and its colon are rejected (9112 sections 5.1, 5.2);
 *  - a 1.1 request without exactly one Host is rejected (9112 section 3.2);
 *  - Content-Length together with Transfer-Encoding is rejected (9112
 *    section 6.3: the smuggling case); Transfer-Encoding in a 1.0 request too. */
#ifndef PS_HTTP_H
#define PS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PS_HTTP_HEAD_MAX 8192     /* request line + headers + blank line; more: 431 (or 414/400) */
#define PS_HTTP_TARGET_MAX 2048   /* request-target bytes; more: 414 */
#define PS_HTTP_EMPTY_LINES_MAX 4 /* CRLFs tolerated before the request line */

typedef enum ps_http_method { PS_HTTP_GET = 1, PS_HTTP_HEAD = 2 } ps_http_method;

typedef struct ps_http_request {
  ps_http_method method;
  char target[PS_HTTP_TARGET_MAX + 1]; /* as sent (origin-form, or absolute-form) */
  char path[PS_HTTP_TARGET_MAX + 1];   /* the path alone: no scheme/authority, no ?query */
  int version_minor;                   /* HTTP/1.x (higher minors read as 1) */
  int has_host;
  int keep_alive; /* the client wants the connection kept: 1.1 unless "close", 1.0 only with "keep-alive" */
} ps_http_request;

typedef struct ps_http_parser {
  char head[PS_HTTP_HEAD_MAX + 1]; /* + the NUL the head parser puts after it */
  size_t len;                      /* bytes of the current head buffered */
  unsigned empty_lines;            /* leading CRLFs skipped for the current request */
} ps_http_parser;

typedef enum ps_http_result {
  PS_HTTP_NEED_MORE = 0, /* all of the input was consumed; the head is not complete */
  PS_HTTP_DONE = 1,      /* *req is filled; the parser is ready for the next request */
  PS_HTTP_ERROR = -1     /* *status says what to answer; then close the connection */
} ps_http_result;

void ps_http_parser_init(ps_http_parser *p);

/* Feeds `len` bytes. *consumed says how many were used (all of them for
 * NEED_MORE, up to the end of the head for DONE: the rest belongs to the next
 * request). On ERROR, *status is the HTTP status to answer (400, 405, 411,
 * 413, 414, 431, 505) and *why a short reason for the body and the log; the
 * parser must be re-initialised before it is used again. */
ps_http_result ps_http_parse(ps_http_parser *p, const void *data, size_t len, size_t *consumed, ps_http_request *req,
                             int *status, const char **why);

/* "OK", "Not Found", ...; "Unknown" for a status we never send. */
const char *ps_http_reason(int status);

/* "Sat, 28 Nov 2026 05:58:50 GMT" (RFC 9110 IMF-fixdate) for a Unix time. buf >= 30 bytes. */
char *ps_http_date(int64_t unix_seconds, char *buf, size_t bufsize);

/* A response head: status line, Date, Content-Type, Content-Length,
 * Cache-Control: no-store, Connection: keep-alive or close, then `extra`
 * header lines (each ending in CRLF; NULL for none) and the blank line.
 * Returns its length, or 0 if it does not fit in bufsize. */
size_t ps_http_response_head(char *buf, size_t bufsize, int status, const char *content_type, size_t content_length,
                             int keep_alive, int64_t now_unix, const char *extra);

/* Reads a complete response (as a client that sent Connection: close):
 * the status code, and where the body is. A Content-Length, when present,
 * must be a plain number (every one of them the same) and match what
 * arrived. 0, or -1 if `buf` is not an HTTP/1.x response. */
int ps_http_parse_response(const char *buf, size_t len, int *status, size_t *body_offset, size_t *body_len);

#ifdef __cplusplus
}
#endif

#endif
