/* admin: the HTTP/1.1 endpoint operators and Prometheus read (TCP only).
 *   GET /metrics     Prometheus text exposition (metrics.h, docs/metrics.md)
 *   GET /stats.json  the same figures as JSON (`portserve stats --json`)
 *   GET /stats.txt   human-readable summary (`portserve stats`)
 *   GET /healthz     200 "ok" while serving, 503 "stopping" while stopping
 * HEAD works on each. Anything else gets its 4xx/5xx and the connection is
 * closed. Bounds: a request head of PS_HTTP_HEAD_MAX bytes (http.h), no
 * bodies, PS_ADMIN_REQUESTS_MAX requests per connection, a head complete
 * within PS_ADMIN_HEAD_TIMEOUT_MS of its first byte (else 408: a session
 * deadline, which each new byte does not move, unlike the idle timeout).
 * Backpressure: pipelined requests are answered only while the answers
 * queued are under the engine's send queue limit; the rest of the input
 * waits here (at most PS_ADMIN_HELD_MAX) and is parsed on on_drained, so a
 * client that sends many requests and reads nothing holds about one send
 * queue, not one answer per request. The handler is PS_HANDLER_MANAGEMENT:
 * its connections stay out of the totals it reports and out of
 * --max-connections. The figures come from the engine through its options,
 * ps_admin_options.metrics_fill (services.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errtab.h"
#include "http.h"
#include "metrics.h"
#include "prom.h"
#include "ps_handler.h"
#include "services.h"
#include "strbuf.h"

typedef struct admin_ctx {
  void (*fill)(void *arg, ps_metrics *out);
  void *arg;
  unsigned head_timeout_ms;
} admin_ctx;

typedef struct admin_session {
  ps_http_parser parser;
  unsigned requests; /* answered on this connection */
  int done;          /* closing: no more input is read */
  int in_head;       /* the parser holds part of a request head: its deadline is armed */
  int eof;           /* the peer half-closed: close once `held` is answered */
  char *held;        /* input not parsed yet: the answers queued reached the send queue limit */
  size_t held_len;
} admin_session;

static int admin__on_start(const ps_service_config *cfg, void **ctx, char *err, size_t errsize) {
  const ps_admin_options *opt = cfg != NULL ? (const ps_admin_options *)cfg->options : NULL;
  admin_ctx *a;
  if (opt == NULL || opt->metrics_fill == NULL)
    return ps_fail(err, errsize, "the admin service needs the engine's figures (ps_admin_options.metrics_fill)");
  a = (admin_ctx *)malloc(sizeof(*a));
  if (a == NULL) return ps_fail(err, errsize, "out of memory");
  a->fill = opt->metrics_fill;
  a->arg = opt->metrics_arg;
  a->head_timeout_ms = opt->head_timeout_ms != 0 ? opt->head_timeout_ms : PS_ADMIN_HEAD_TIMEOUT_MS;
  *ctx = a;
  return 0;
}

static void admin__on_stop(void *ctx) { free(ctx); }

static void admin__on_open(ps_session *s) {
  admin_session *st = (admin_session *)ps_session_state(s);
  ps_http_parser_init(&st->parser);
}

/* Sends one response; `body` is sent only for GET. */
static void admin__respond(ps_session *s, int status, const char *content_type, const char *body, size_t body_len,
                           int head_only, int keep_alive, const char *extra) {
  char head[512];
  size_t n =
    ps_http_response_head(head, sizeof(head), status, content_type, body_len, keep_alive, (int64_t)time(NULL), extra);
  if (n == 0) { /* cannot happen with our own header values; fail closed */
    ps_session_abort(s);
    return;
  }
  if (ps_session_send(s, head, n) != 0) return;
  if (!head_only && body_len > 0) (void)ps_session_send(s, body, body_len);
}

static void admin__error(ps_session *s, admin_session *st, int status, const char *why) {
  char body[200];
  size_t n;
  n = (size_t)snprintf(body, sizeof(body), "%d %s: %s\n", status, ps_http_reason(status), why);
  if (n >= sizeof(body)) n = sizeof(body) - 1;
  admin__respond(s, status, "text/plain; charset=utf-8", body, n, 0, 0, status == 405 ? "Allow: GET, HEAD\r\n" : NULL);
  st->done = 1;
  ps_session_close(s);
}

/* The routes: a path and what writes its body (and sets status, type and
 * keep-alive where it differs from 200, text/plain and the request's). */
typedef void (*admin_route_fn)(const ps_metrics *m, ps_strbuf *body, const char **type, int *status, int *keep_alive);

static void admin__route_metrics(const ps_metrics *m, ps_strbuf *body, const char **type, int *status,
                                 int *keep_alive) {
  (void)status, (void)keep_alive;
  ps_metrics_prometheus(m, body);
  *type = PS_PROM_CONTENT_TYPE;
}

static void admin__route_json(const ps_metrics *m, ps_strbuf *body, const char **type, int *status, int *keep_alive) {
  (void)status, (void)keep_alive;
  ps_metrics_json(m, body);
  *type = "application/json";
}

static void admin__route_text(const ps_metrics *m, ps_strbuf *body, const char **type, int *status, int *keep_alive) {
  (void)type, (void)status, (void)keep_alive;
  ps_metrics_text(m, (uint64_t)time(NULL), body);
}

static void admin__route_health(const ps_metrics *m, ps_strbuf *body, const char **type, int *status, int *keep_alive) {
  (void)type;
  if (m->state == PS_METRICS_SERVING) {
    ps_strbuf_puts(body, "ok\n");
    return;
  }
  /* A load balancer takes us out of rotation; the stop will close this
   * connection anyway, so do not invite another request on it. */
  ps_strbuf_puts(body, "stopping\n");
  *status = 503;
  *keep_alive = 0;
}

static const struct {
  const char *path;
  admin_route_fn write;
} admin__routes[] = {
  {"/metrics", admin__route_metrics},
  {"/stats.json", admin__route_json},
  {"/stats.txt", admin__route_text},
  {"/healthz", admin__route_health},
};

static void admin__serve(ps_session *s, admin_session *st, const ps_http_request *req) {
  const admin_ctx *a = (const admin_ctx *)ps_session_context(s);
  int head_only = req->method == PS_HTTP_HEAD;
  int keep_alive = req->keep_alive && st->requests < PS_ADMIN_REQUESTS_MAX;
  const char *type = "text/plain; charset=utf-8";
  int status = 200;
  size_t r;
  ps_metrics *m;
  ps_strbuf body;

  for (r = 0; r < PS_COUNTOF(admin__routes); r++)
    if (strcmp(req->path, admin__routes[r].path) == 0) break;
  if (r == PS_COUNTOF(admin__routes)) {
    char paths[128];
    size_t len = (size_t)snprintf(paths, sizeof(paths), "try");
    for (r = 0; r < PS_COUNTOF(admin__routes); r++)
      len += (size_t)snprintf(paths + len, len < sizeof(paths) ? sizeof(paths) - len : 0, "%s %s",
                              r == 0                               ? ""
                              : r + 1 == PS_COUNTOF(admin__routes) ? " or"
                                                                   : ",",
                              admin__routes[r].path);
    admin__error(s, st, 404, paths);
    return;
  }
  /* About 15 KiB: on the heap, not on a worker's stack. */
  m = (ps_metrics *)calloc(1, sizeof(*m));
  if (m == NULL) {
    admin__error(s, st, 503, "out of memory");
    return;
  }
  a->fill(a->arg, m);
  ps_strbuf_init_heap(&body, PS_METRICS_TEXT_MAX);
  admin__routes[r].write(m, &body, &type, &status, &keep_alive);
  free(m);
  if (body.overflow) {
    ps_strbuf_free(&body);
    admin__error(s, st, 500, "response too large");
    return;
  }
  admin__respond(s, status, type, body.data, body.len, head_only, keep_alive, NULL);
  ps_strbuf_free(&body);
  if (!keep_alive) {
    st->done = 1;
    ps_session_close(s);
  }
}

/* Parses and answers the requests in `in` until the input ends, the
 * connection closes, or (at a request boundary) the answers queued reach
 * the engine's send queue limit. Returns the bytes used; the caller keeps
 * the rest for on_drained. */
static size_t admin__parse(ps_session *s, admin_session *st, const char *in, size_t len) {
  const admin_ctx *a = (const admin_ctx *)ps_session_context(s);
  size_t queue_max = ps_session_send_queue_max(s), left = len;
  ps_http_request *req;
  /* One request struct per call (4 KiB of target and path): heap, not stack. */
  req = (ps_http_request *)malloc(sizeof(*req));
  if (req == NULL) {
    ps_session_abort(s);
    return len;
  }
  /* Pipelining: complete requests are answered in order; a head cut by the
   * end of the input stays in the parser for the next chunk. */
  while (left > 0 && !st->done) {
    size_t used = 0;
    int status = 0;
    const char *why = NULL;
    ps_http_result r;
    if (!st->in_head && queue_max != 0 && ps_session_queued(s) >= queue_max) break; /* on_drained goes on */
    r = ps_http_parse(&st->parser, in, left, &used, req, &status, &why);
    in += used;
    left -= used;
    if (r == PS_HTTP_NEED_MORE) {
      if (!st->in_head && used > 0) {
        /* The head's first byte: its deadline starts now and is not moved. */
        st->in_head = 1;
        ps_session_set_deadline(s, a->head_timeout_ms);
      }
      break;
    }
    if (st->in_head) {
      st->in_head = 0;
      ps_session_set_deadline(s, 0);
    }
    if (r == PS_HTTP_ERROR) {
      admin__error(s, st, status, why);
      break;
    }
    st->requests++;
    admin__serve(s, st, req);
  }
  free(req);
  return len - left;
}

/* Parses what was held back, as far as the send queue allows; with the
 * peer's FIN seen and nothing left, closes (the engine's default, which
 * on_eof deferred). */
static void admin__resume(ps_session *s, admin_session *st) {
  size_t used = admin__parse(s, st, st->held, st->held_len);
  if (st->done) used = st->held_len;
  memmove(st->held, st->held + used, st->held_len - used);
  st->held_len -= used;
  if (st->held_len == 0 && st->eof && !st->done) {
    st->done = 1;
    ps_session_close(s);
  }
}

/* Keeps `len` bytes after what is held. 0, or -1 past PS_ADMIN_HELD_MAX or
 * out of memory (the connection is then closed after its answers). */
static int admin__hold(ps_session *s, admin_session *st, const char *in, size_t len) {
  char *grown;
  if (len == 0) return 0;
  if (st->held_len + len > PS_ADMIN_HELD_MAX || (grown = (char *)realloc(st->held, st->held_len + len)) == NULL) {
    st->done = 1;
    ps_session_close(s);
    return -1;
  }
  st->held = grown;
  memcpy(st->held + st->held_len, in, len);
  st->held_len += len;
  return 0;
}

static void admin__on_data(ps_session *s, const void *data, size_t len) {
  admin_session *st = (admin_session *)ps_session_state(s);
  const char *in = (const char *)data;
  size_t used;
  if (st->done) return;
  if (st->held_len > 0) {
    /* Behind what waits already: in order, after it. */
    if (admin__hold(s, st, in, len) == 0) admin__resume(s, st);
    return;
  }
  used = admin__parse(s, st, in, len);
  if (!st->done) (void)admin__hold(s, st, in + used, len - used);
}

static void admin__on_drained(ps_session *s) {
  admin_session *st = (admin_session *)ps_session_state(s);
  if (st->held_len > 0 && !st->done) admin__resume(s, st);
}

static void admin__on_eof(ps_session *s) {
  admin_session *st = (admin_session *)ps_session_state(s);
  /* Answer what was sent before the FIN (a half request gets nothing). */
  st->eof = 1;
  if (st->held_len == 0 && !st->done) {
    st->done = 1;
    ps_session_close(s);
  }
}

static void admin__on_deadline(ps_session *s) {
  admin_session *st = (admin_session *)ps_session_state(s);
  const admin_ctx *a = (const admin_ctx *)ps_session_context(s);
  char why[80];
  if (st->done) return;
  snprintf(why, sizeof(why), "the request head was not complete within %u ms of its first byte", a->head_timeout_ms);
  admin__error(s, st, 408, why);
}

static void admin__on_close(ps_session *s) {
  admin_session *st = (admin_session *)ps_session_state(s);
  free(st->held);
  st->held = NULL;
  st->held_len = 0;
}

const ps_handler ps_svc_admin = {
  .name = "admin",
  .state_size = sizeof(admin_session),
  .on_open = admin__on_open,
  .on_data = admin__on_data,
  .on_drained = admin__on_drained,
  .on_eof = admin__on_eof,
  .on_close = admin__on_close,
  /* no on_datagram: TCP only */
  .on_start = admin__on_start,
  .on_stop = admin__on_stop,
  .flags = PS_HANDLER_MANAGEMENT,
  .on_deadline = admin__on_deadline,
};
