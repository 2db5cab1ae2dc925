/* admin: the HTTP/1.1 endpoint operators and Prometheus read (TCP only).
 *   GET /metrics     Prometheus text exposition (metrics.h, docs/metrics.md)
 *   GET /stats.json  the same figures as JSON (`portserve stats --json`)
 *   GET /stats.txt   human-readable summary (`portserve stats`)
 *   GET /healthz     200 "ok" while serving, 503 "stopping" while stopping
 * HEAD works on each. Anything else gets its 4xx/5xx and the connection is
 * closed. Bounds: a request head of PS_HTTP_HEAD_MAX bytes (http.h), no
 * bodies, PS_ADMIN_REQUESTS_MAX requests per connection; a slow client is
 * the engine's idle timeout's business. The figures come from the engine
 * through its options, ps_admin_options.metrics_fill (services.h). */
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
} admin_ctx;

typedef struct admin_session {
  ps_http_parser parser;
  unsigned requests; /* answered on this connection */
  int done;          /* closing: no more input is read */
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

static void admin__serve(ps_session *s, admin_session *st, const ps_http_request *req) {
  const admin_ctx *a = (const admin_ctx *)ps_session_context(s);
  int head_only = req->method == PS_HTTP_HEAD;
  int keep_alive = req->keep_alive && st->requests < PS_ADMIN_REQUESTS_MAX;
  const char *type = "text/plain; charset=utf-8";
  int status = 200;
  ps_metrics *m;
  ps_strbuf body;

  if (strcmp(req->path, "/metrics") != 0 && strcmp(req->path, "/stats.json") != 0 &&
      strcmp(req->path, "/stats.txt") != 0 && strcmp(req->path, "/healthz") != 0) {
    admin__error(s, st, 404, "try /metrics, /stats.json, /stats.txt or /healthz");
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
  if (strcmp(req->path, "/metrics") == 0) {
    ps_metrics_prometheus(m, &body);
    type = PS_PROM_CONTENT_TYPE;
  } else if (strcmp(req->path, "/stats.json") == 0) {
    ps_metrics_json(m, &body);
    type = "application/json";
  } else if (strcmp(req->path, "/stats.txt") == 0) {
    ps_metrics_text(m, (uint64_t)time(NULL), &body);
  } else if (m->state == PS_METRICS_SERVING) {
    ps_strbuf_puts(&body, "ok\n");
  } else {
    /* A load balancer takes us out of rotation; the stop will close this
     * connection anyway, so do not invite another request on it. */
    ps_strbuf_puts(&body, "stopping\n");
    status = 503;
    keep_alive = 0;
  }
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

static void admin__on_data(ps_session *s, const void *data, size_t len) {
  admin_session *st = (admin_session *)ps_session_state(s);
  const char *in = (const char *)data;
  ps_http_request *req;
  /* One request struct per call (4 KiB of target and path): heap, not stack. */
  req = (ps_http_request *)malloc(sizeof(*req));
  if (req == NULL) {
    ps_session_abort(s);
    return;
  }
  /* Pipelining: every complete request in this chunk is answered in order;
   * what follows the last one stays in the parser for the next chunk. */
  while (len > 0 && !st->done) {
    size_t used = 0;
    int status = 0;
    const char *why = NULL;
    ps_http_result r = ps_http_parse(&st->parser, in, len, &used, req, &status, &why);
    in += used;
    len -= used;
    if (r == PS_HTTP_NEED_MORE) break;
    if (r == PS_HTTP_ERROR) {
      admin__error(s, st, status, why);
      break;
    }
    st->requests++;
    admin__serve(s, st, req);
  }
  free(req);
}

const ps_handler ps_svc_admin = {
  "admin",
  sizeof(admin_session),
  admin__on_open,
  admin__on_data,
  NULL, /* on_drained */
  NULL, /* on_eof: engine default, close once the answers are sent (a half request gets none) */
  NULL, /* on_close */
  NULL, /* on_datagram: TCP only */
  admin__on_start,
  admin__on_stop,
};
