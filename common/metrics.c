/* The admin endpoint's figures rendered as Prometheus text, JSON and a
 * human-readable summary (metrics.h; the names are listed in docs/metrics.md). */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "prom.h"

#define METRICS__COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

static void metrics__copy(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

void ps_metrics_add_error(ps_metrics *m, const char *site, const char *error, uint64_t count) {
  ps_metrics_error *row;
  size_t i;
  for (i = 0; i < m->error_count; i++)
    if (strcmp(m->errors[i].site, site) == 0 && strcmp(m->errors[i].error, error) == 0) {
      m->errors[i].count += count;
      return;
    }
  if (m->error_count < PS_METRICS_ERRORS_MAX) {
    row = &m->errors[m->error_count++];
    metrics__copy(row->site, sizeof(row->site), site);
    metrics__copy(row->error, sizeof(row->error), error);
    row->count = count;
    return;
  }
  row = &m->errors[PS_METRICS_ERRORS_MAX - 1];
  metrics__copy(row->site, sizeof(row->site), "other");
  metrics__copy(row->error, sizeof(row->error), "other");
  row->count += count;
}

/* Reasons a connection closed other than normally, and reasons a datagram
 * was dropped: the label values of the two *_by_reason counters. Adding a
 * reason is one row here (and one in docs/metrics.md). */
typedef struct metrics__reason {
  const char *reason;
  size_t offset;    /* of the uint64_t in ps_stats */
  const char *text; /* for the human summary */
} metrics__reason;

#define METRICS__FIELD(f) offsetof(ps_stats, f)
static const metrics__reason metrics__closed[] = {
  {"idle", METRICS__FIELD(timeouts_idle), "idle timeout"},
  {"linger", METRICS__FIELD(timeouts_linger), "linger timeout"},
  {"send", METRICS__FIELD(timeouts_send), "send timeout"},
  {"per_source_limit", METRICS__FIELD(conns_refused_source), "over --max-connections-per-source"},
  {"reset", METRICS__FIELD(conns_reset), "reset"},
  {"out_of_resources", METRICS__FIELD(conns_out_of_resources), "out of resources"},
};
static const metrics__reason metrics__dropped[] = {
  {"source_port_0", METRICS__FIELD(dgrams_dropped_port0), "source port 0"},
  {"source_port_low", METRICS__FIELD(dgrams_dropped_lowport), "source port below 1024"},
  {"source_port_loop", METRICS__FIELD(dgrams_dropped_loop), "from our own UDP port"},
  {"reply_rate_source", METRICS__FIELD(dgrams_dropped_rate), "over the per-source reply rate"},
  {"reply_rate_total", METRICS__FIELD(dgrams_dropped_rate_total), "over the total reply rate"},
  {"other", METRICS__FIELD(dgrams_dropped), "too large, or reply not sent"},
};

static uint64_t metrics__at(const ps_stats *s, size_t offset) {
  uint64_t v;
  memcpy(&v, (const char *)s + offset, sizeof(v));
  return v;
}

/* ---- Prometheus ------------------------------------------------------------ */

/* One per-listener family over the rows of one transport (NULL: all rows). */
static void metrics__listener_family(ps_prom *p, const ps_metrics *m, const char *name, const char *help,
                                     const char *transport, size_t offset) {
  size_t i;
  int any = 0;
  for (i = 0; i < m->listener_count; i++) {
    const ps_metrics_listener *l = &m->listeners[i];
    ps_prom_label labels[3];
    uint64_t v;
    if (transport != NULL && strcmp(l->transport, transport) != 0) continue;
    if (!any) ps_prom_family(p, name, "counter", help);
    any = 1;
    labels[0].name = "service";
    labels[0].value = l->service;
    labels[1].name = "listener";
    labels[1].value = l->address;
    labels[2].name = "transport";
    labels[2].value = l->transport;
    memcpy(&v, (const char *)l + offset, sizeof(v));
    ps_prom_sample(p, labels, 3, v);
  }
}

static void metrics__reasons(ps_prom *p, const ps_stats *s, const char *name, const char *help,
                             const metrics__reason *reasons, size_t count) {
  size_t i;
  ps_prom_family(p, name, "counter", help);
  for (i = 0; i < count; i++) {
    ps_prom_label label;
    label.name = "reason";
    label.value = reasons[i].reason;
    ps_prom_sample(p, &label, 1, metrics__at(s, reasons[i].offset));
  }
}

#define METRICS__LFIELD(f) offsetof(ps_metrics_listener, f)

/* A family with one unlabelled sample: a ps_stats field. */
typedef struct metrics__single {
  const char *name, *type, *help;
  size_t offset; /* in ps_stats */
} metrics__single;

/* A per-listener family: a ps_metrics_listener field over the rows of one
 * transport (NULL: every row). */
typedef struct metrics__per_listener {
  const char *name, *help, *transport;
  size_t offset; /* in ps_metrics_listener */
} metrics__per_listener;

static const metrics__single metrics__connections[] = {
  {"portserve_connections_accepted_total", "counter", "TCP connections accepted.", METRICS__FIELD(conns_total)},
  {"portserve_connections_open", "gauge", "TCP connections accepted and not yet freed.", METRICS__FIELD(conns_open)},
  {"portserve_connections_aborted_total", "counter",
   "TCP connections this server reset: send timeout, out of resources, a handler's abort, the stop's deadline.",
   METRICS__FIELD(conns_aborted)},
};

static const metrics__single metrics__traffic[] = {
  {"portserve_received_bytes_total", "counter", "Payload bytes received, TCP and UDP.", METRICS__FIELD(bytes_in)},
  {"portserve_sent_bytes_total", "counter", "Payload bytes sent, TCP and UDP.", METRICS__FIELD(bytes_out)},
  {"portserve_received_messages_total", "counter", "TCP receives that delivered data to a handler.",
   METRICS__FIELD(msgs_in)},
  {"portserve_sent_messages_total", "counter", "TCP sends completed (one WSASend each).", METRICS__FIELD(msgs_out)},
  {"portserve_datagrams_received_total", "counter", "UDP datagrams received.", METRICS__FIELD(dgrams_in)},
  {"portserve_datagrams_sent_total", "counter", "UDP datagrams sent.", METRICS__FIELD(dgrams_out)},
};

static const metrics__per_listener metrics__listener_rows[] = {
  {"portserve_listener_connections_accepted_total", "TCP connections accepted, per listener.", "tcp",
   METRICS__LFIELD(conns_accepted)},
  {"portserve_listener_received_bytes_total", "Payload bytes received, per listener.", NULL, METRICS__LFIELD(bytes_in)},
  {"portserve_listener_sent_bytes_total", "Payload bytes sent, per listener.", NULL, METRICS__LFIELD(bytes_out)},
  {"portserve_listener_received_messages_total", "TCP receives delivered to the handler, per listener.", "tcp",
   METRICS__LFIELD(msgs_in)},
  {"portserve_listener_sent_messages_total", "TCP sends queued by the handler, per listener.", "tcp",
   METRICS__LFIELD(msgs_out)},
  {"portserve_listener_received_datagrams_total", "UDP datagrams received, per listener.", "udp",
   METRICS__LFIELD(dgrams_in)},
  {"portserve_listener_sent_datagrams_total", "UDP datagrams sent, per listener.", "udp", METRICS__LFIELD(dgrams_out)},
};

static const metrics__single metrics__pools[] = {
  {"portserve_accept_errors_total", "counter", "AcceptEx posts that failed at once (re-posted).",
   METRICS__FIELD(accept_errors)},
  {"portserve_udp_receive_errors_total", "counter", "WSARecvFrom posts that failed at once (re-posted).",
   METRICS__FIELD(udp_recv_errors)},
  {"portserve_connection_retries_total", "counter", "Connection posts retried after a resource error.",
   METRICS__FIELD(conn_retries)},
  {"portserve_accepts_posted", "gauge", "AcceptEx operations posted, all listeners.", METRICS__FIELD(accepts_posted)},
  {"portserve_accepts_held", "gauge",
   "Accept slots not posted because --max-connections is reached (clients wait in the backlog).",
   METRICS__FIELD(accepts_held)},
  {"portserve_connection_slots_used", "gauge",
   "Of --max-connections: open connections plus posted AcceptEx, each holding one slot.", METRICS__FIELD(admitted)},
  {"portserve_connection_limit_waits_total", "counter", "Times an accept slot had to wait for --max-connections.",
   METRICS__FIELD(limit_waits)},
  {"portserve_process_open_handles", "gauge", "Open handles of the process (GetProcessHandleCount; 0 under Wine 8).",
   METRICS__FIELD(process_handles)},
  {"portserve_process_private_bytes", "gauge", "Committed private memory of the process.",
   METRICS__FIELD(process_private_bytes)},
  {"portserve_udp_receives_posted", "gauge", "WSARecvFrom operations posted, all UDP sockets.",
   METRICS__FIELD(udp_receives_posted)},
  {"portserve_buffers_in_use", "gauge", "Pooled I/O buffers held by connections.", METRICS__FIELD(buffers_in_use)},
  {"portserve_buffers_allocated", "gauge", "Pooled I/O buffers allocated, free or in use.",
   METRICS__FIELD(buffers_live)},
  {"portserve_sockets_open", "gauge", "Sockets open, listeners included.", METRICS__FIELD(sockets_live)},
};

static void metrics__singles(ps_prom *p, const ps_stats *s, const metrics__single *rows, size_t count) {
  size_t i;
  for (i = 0; i < count; i++)
    ps_prom_single(p, rows[i].name, rows[i].type, rows[i].help, metrics__at(s, rows[i].offset));
}

void ps_metrics_prometheus(const ps_metrics *m, ps_strbuf *out) {
  const ps_stats *s = &m->stats;
  ps_prom p;
  ps_prom_label label;
  size_t i;
  ps_prom_init(&p, out);

  ps_prom_family(&p, "portserve_build_info", "gauge", "Always 1; the version label says which portserve runs.");
  label.name = "version";
  label.value = m->version;
  ps_prom_sample(&p, &label, 1, 1);
  ps_prom_single(&p, "portserve_serving", "gauge", "1 while serving, 0 once stopping.",
                 m->state == PS_METRICS_SERVING ? 1 : 0);
  if (m->start_time_unix != 0)
    ps_prom_single(&p, "portserve_start_time_seconds", "gauge", "When the engine started, seconds since 1970 (UTC).",
                   m->start_time_unix);
  ps_prom_single(&p, "portserve_worker_threads", "gauge", "Worker threads serving the completion port.",
                 m->worker_threads);

  metrics__singles(&p, s, metrics__connections, METRICS__COUNTOF(metrics__connections));
  metrics__reasons(&p, s, "portserve_connections_closed_total",
                   "TCP connections that ended other than by an orderly close, by reason.", metrics__closed,
                   METRICS__COUNTOF(metrics__closed));
  metrics__singles(&p, s, metrics__traffic, METRICS__COUNTOF(metrics__traffic));
  metrics__reasons(&p, s, "portserve_datagrams_dropped_total", "UDP datagrams dropped, by reason.", metrics__dropped,
                   METRICS__COUNTOF(metrics__dropped));
  for (i = 0; i < METRICS__COUNTOF(metrics__listener_rows); i++) {
    const metrics__per_listener *r = &metrics__listener_rows[i];
    metrics__listener_family(&p, m, r->name, r->help, r->transport, r->offset);
  }

  if (m->error_count > 0) {
    ps_prom_family(&p, "portserve_errors_total", "counter",
                   "Socket operations that failed, by where (site) and Win32 error name.");
    for (i = 0; i < m->error_count; i++) {
      ps_prom_label labels[2];
      labels[0].name = "site";
      labels[0].value = m->errors[i].site;
      labels[1].name = "error";
      labels[1].value = m->errors[i].error;
      ps_prom_sample(&p, labels, 2, m->errors[i].count);
    }
  }
  metrics__singles(&p, s, metrics__pools, METRICS__COUNTOF(metrics__pools));
  ps_prom_family(&p, "portserve_timer_sweep_max_seconds", "gauge",
                 "Longest timer sweep over the connections since start.");
  ps_prom_sample_double(&p, NULL, 0, (double)s->sweep_us_max / 1e6);
}

/* ---- JSON ------------------------------------------------------------------ */

static void metrics__json_string(ps_strbuf *out, const char *s) {
  ps_strbuf_append(out, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      ps_strbuf_append(out, "\\", 1);
      ps_strbuf_append(out, s, 1);
    } else if (c < 0x20) {
      ps_strbuf_printf(out, "\\u%04x", c);
    } else {
      ps_strbuf_append(out, s, 1);
    }
  }
  ps_strbuf_append(out, "\"", 1);
}

/* The ps_stats fields by their C names: the "totals" object of the JSON. */
typedef struct metrics__stat {
  const char *name;
  size_t offset;
} metrics__stat;
#define METRICS__STAT(f) \
  { #f, offsetof(ps_stats, f) }
static const metrics__stat metrics__stats[] = {
  METRICS__STAT(conns_open),
  METRICS__STAT(conns_total),
  METRICS__STAT(conns_reset),
  METRICS__STAT(conns_aborted),
  METRICS__STAT(admitted),
  METRICS__STAT(conns_refused_source),
  METRICS__STAT(accepts_held),
  METRICS__STAT(limit_waits),
  METRICS__STAT(bytes_in),
  METRICS__STAT(bytes_out),
  METRICS__STAT(msgs_in),
  METRICS__STAT(msgs_out),
  METRICS__STAT(process_handles),
  METRICS__STAT(process_private_bytes),
  METRICS__STAT(sockets_live),
  METRICS__STAT(buffers_live),
  METRICS__STAT(buffers_in_use),
  METRICS__STAT(dgrams_in),
  METRICS__STAT(dgrams_out),
  METRICS__STAT(dgrams_dropped),
  METRICS__STAT(dgrams_dropped_port0),
  METRICS__STAT(dgrams_dropped_lowport),
  METRICS__STAT(dgrams_dropped_loop),
  METRICS__STAT(dgrams_dropped_rate),
  METRICS__STAT(dgrams_dropped_rate_total),
  METRICS__STAT(timeouts_idle),
  METRICS__STAT(timeouts_linger),
  METRICS__STAT(timeouts_send),
  METRICS__STAT(sweep_us_max),
  METRICS__STAT(accepts_posted),
  METRICS__STAT(udp_receives_posted),
  METRICS__STAT(accept_errors),
  METRICS__STAT(udp_recv_errors),
  METRICS__STAT(conn_retries),
  METRICS__STAT(conns_out_of_resources),
  METRICS__STAT(conns_skip),
  METRICS__STAT(inline_deferred),
  METRICS__STAT(inline_balanced),
  METRICS__STAT(udp_connreset_off),
};

void ps_metrics_json(const ps_metrics *m, ps_strbuf *out) {
  size_t i;
  ps_strbuf_puts(out, "{\"format\":1,\"version\":");
  metrics__json_string(out, m->version);
  ps_strbuf_printf(out, ",\"state\":\"%s\",\"start_time_unix\":%llu,\"worker_threads\":%u,\"totals\":{",
                   m->state == PS_METRICS_SERVING ? "serving" : "stopping", (unsigned long long)m->start_time_unix,
                   m->worker_threads);
  for (i = 0; i < METRICS__COUNTOF(metrics__stats); i++)
    ps_strbuf_printf(out, "%s\"%s\":%llu", i > 0 ? "," : "", metrics__stats[i].name,
                     (unsigned long long)metrics__at(&m->stats, metrics__stats[i].offset));
  ps_strbuf_puts(out, "},\"listeners\":[");
  for (i = 0; i < m->listener_count; i++) {
    const ps_metrics_listener *l = &m->listeners[i];
    ps_strbuf_puts(out, i > 0 ? ",{\"service\":" : "{\"service\":");
    metrics__json_string(out, l->service);
    ps_strbuf_puts(out, ",\"address\":");
    metrics__json_string(out, l->address);
    ps_strbuf_puts(out, ",\"transport\":");
    metrics__json_string(out, l->transport);
    ps_strbuf_printf(out,
                     ",\"conns_accepted\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,\"msgs_in\":%llu,"
                     "\"msgs_out\":%llu,\"dgrams_in\":%llu,\"dgrams_out\":%llu}",
                     (unsigned long long)l->conns_accepted, (unsigned long long)l->bytes_in,
                     (unsigned long long)l->bytes_out, (unsigned long long)l->msgs_in, (unsigned long long)l->msgs_out,
                     (unsigned long long)l->dgrams_in, (unsigned long long)l->dgrams_out);
  }
  ps_strbuf_puts(out, "],\"errors\":[");
  for (i = 0; i < m->error_count; i++) {
    ps_strbuf_puts(out, i > 0 ? ",{\"site\":" : "{\"site\":");
    metrics__json_string(out, m->errors[i].site);
    ps_strbuf_puts(out, ",\"error\":");
    metrics__json_string(out, m->errors[i].error);
    ps_strbuf_printf(out, ",\"count\":%llu}", (unsigned long long)m->errors[i].count);
  }
  ps_strbuf_puts(out, "]}\n");
}

/* ---- human-readable --------------------------------------------------------- */

static void metrics__reason_list(ps_strbuf *out, const ps_stats *s, const metrics__reason *reasons, size_t count) {
  size_t i;
  int any = 0;
  for (i = 0; i < count; i++) {
    uint64_t v = metrics__at(s, reasons[i].offset);
    if (v == 0) continue;
    ps_strbuf_printf(out, "%s%llu %s", any ? ", " : "", (unsigned long long)v, reasons[i].text);
    any = 1;
  }
  if (!any) ps_strbuf_puts(out, "none");
}

void ps_metrics_text(const ps_metrics *m, uint64_t now_unix, ps_strbuf *out) {
  const ps_stats *s = &m->stats;
  char a[32], b[32];
  size_t i;
  ps_strbuf_printf(out, "portserve %s, %s, %u worker threads", m->version,
                   m->state == PS_METRICS_SERVING ? "serving" : "stopping", m->worker_threads);
  if (m->start_time_unix != 0 && now_unix >= m->start_time_unix) {
    uint64_t up = now_unix - m->start_time_unix;
    ps_strbuf_printf(out, ", up %llud %02lluh %02llum %02llus", (unsigned long long)(up / 86400),
                     (unsigned long long)(up / 3600 % 24), (unsigned long long)(up / 60 % 60),
                     (unsigned long long)(up % 60));
  }
  ps_strbuf_printf(out,
                   "\nconnections  %llu open, %llu accepted; ended abnormally: ", (unsigned long long)s->conns_open,
                   (unsigned long long)s->conns_total);
  metrics__reason_list(out, s, metrics__closed, METRICS__COUNTOF(metrics__closed));
  ps_strbuf_printf(out, "\ntraffic      in %s, out %s, %llu messages in\n",
                   ps_format_bytes((double)s->bytes_in, a, sizeof(a)),
                   ps_format_bytes((double)s->bytes_out, b, sizeof(b)), (unsigned long long)s->msgs_in);
  ps_strbuf_printf(out, "datagrams    %llu in, %llu out; dropped: ", (unsigned long long)s->dgrams_in,
                   (unsigned long long)s->dgrams_out);
  metrics__reason_list(out, s, metrics__dropped, METRICS__COUNTOF(metrics__dropped));
  ps_strbuf_printf(out,
                   "\nresources    buffers %llu in use / %llu allocated, %llu accepts and %llu UDP receives posted,"
                   " %llu sockets open\n",
                   (unsigned long long)s->buffers_in_use, (unsigned long long)s->buffers_live,
                   (unsigned long long)s->accepts_posted, (unsigned long long)s->udp_receives_posted,
                   (unsigned long long)s->sockets_live);
  ps_strbuf_printf(out, "errors       %llu accept, %llu UDP receive, %llu retries after resource errors\n",
                   (unsigned long long)s->accept_errors, (unsigned long long)s->udp_recv_errors,
                   (unsigned long long)s->conn_retries);
  for (i = 0; i < m->error_count; i++)
    ps_strbuf_printf(out, "  %-10s %-24s %llu\n", m->errors[i].site, m->errors[i].error,
                     (unsigned long long)m->errors[i].count);
  if (m->listener_count > 0) ps_strbuf_puts(out, "listeners\n");
  for (i = 0; i < m->listener_count; i++) {
    const ps_metrics_listener *l = &m->listeners[i];
    ps_strbuf_printf(out, "  %-8s %s %-24s in %s, out %s", l->service, l->transport, l->address,
                     ps_format_bytes((double)l->bytes_in, a, sizeof(a)),
                     ps_format_bytes((double)l->bytes_out, b, sizeof(b)));
    if (strcmp(l->transport, "udp") == 0)
      ps_strbuf_printf(out, ", %llu datagrams in, %llu out\n", (unsigned long long)l->dgrams_in,
                       (unsigned long long)l->dgrams_out);
    else
      ps_strbuf_printf(out, ", %llu connections, %llu messages in, %llu out\n", (unsigned long long)l->conns_accepted,
                       (unsigned long long)l->msgs_in, (unsigned long long)l->msgs_out);
  }
}
