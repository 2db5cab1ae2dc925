/* The admin endpoint's figures rendered as Prometheus text, JSON and a
 * human-readable summary (metrics.h). The counters come from the lists in
 * ps_stats.h (PS_STATS, PS_LISTENER_STATS): a row there is a sample here;
 * docs/metrics.md names every family (tests/test_metrics.cc checks). */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "listen_spec.h" /* PS_TRANSPORT_UDP */
#include "prom.h"

/* AF_INET6 without the socket headers (Windows and Linux give it different
 * values; ps_endpoint.family holds the platform's). */
#ifdef _WIN32
#define METRICS__AF_INET6 23
#else
#define METRICS__AF_INET6 10
#endif

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

/* "127.0.0.1:7007", "[::1]:7007". Returns buf. */
static const char *metrics__address(const ps_endpoint *ep, char *buf, size_t size) {
  snprintf(buf, size, ep->family == METRICS__AF_INET6 ? "[%s]:%u" : "%s:%u", ep->address, ep->port);
  return buf;
}

static const char *metrics__transport(const ps_endpoint *ep) {
  return ep->transport == PS_TRANSPORT_UDP ? "udp" : "tcp";
}

/* ---- Prometheus ------------------------------------------------------------ */

/* A list row's label ("reason=idle") as a ps_prom_label; 0 if it has none. */
static size_t metrics__row_label(const char *text, char *name, size_t size, ps_prom_label *label) {
  const char *eq = strchr(text, '=');
  size_t n;
  if (eq == NULL) return 0;
  n = (size_t)(eq - text) < size - 1 ? (size_t)(eq - text) : size - 1;
  memcpy(name, text, n);
  name[n] = '\0';
  label->name = name;
  label->value = eq + 1;
  return 1;
}

/* Every row of PS_STATS, family by family (the rows of a family are
 * adjacent in the list). */
static void metrics__stats_families(ps_prom *p, const ps_stats *s) {
  const char *family = "";
  size_t i;
  for (i = 0; i < PS_STAT_COUNT; i++) {
    const ps_stat_def *d = ps_stat_at(i);
    ps_prom_label label;
    char name[32];
    size_t labels = metrics__row_label(d->label, name, sizeof(name), &label);
    if (strcmp(d->metric, family) != 0) {
      family = d->metric;
      ps_prom_family(p, d->metric, d->kind == PS_STAT_COUNTER ? "counter" : "gauge", d->help);
    }
    if (d->div > 1) ps_prom_sample_double(p, labels ? &label : NULL, labels, (double)ps_stat_value(s, i) / d->div);
    else ps_prom_sample(p, labels ? &label : NULL, labels, ps_stat_value(s, i));
  }
}

/* Every family of PS_LISTENER_STATS over the rows of its transport. */
static void metrics__listener_families(ps_prom *p, const ps_metrics *m) {
  size_t f, i;
  for (f = 0; f < PS_LSTAT_COUNT; f++) {
    const ps_listener_stat_def *d = ps_listener_stat_at(f);
    int any = 0;
    for (i = 0; i < m->listener_count; i++) {
      const ps_listener_stats *l = &m->listeners[i];
      ps_prom_label labels[3];
      char address[96];
      if (d->transport[0] != '\0' && strcmp(d->transport, metrics__transport(&l->ep)) != 0) continue;
      if (!any) ps_prom_family(p, d->metric, "counter", d->help);
      any = 1;
      labels[0].name = "service";
      labels[0].value = l->ep.service;
      labels[1].name = "listener";
      labels[1].value = metrics__address(&l->ep, address, sizeof(address));
      labels[2].name = "transport";
      labels[2].value = metrics__transport(&l->ep);
      ps_prom_sample(p, labels, 3, ps_listener_stat_value(l, f));
    }
  }
}

void ps_metrics_prometheus(const ps_metrics *m, ps_strbuf *out) {
  ps_prom p;
  ps_prom_label label;
  size_t i;
  ps_prom_init(&p, out);

  ps_prom_family(&p, "portserve_build_info", "gauge", "Always 1; the version label says which portserve runs.");
  label.name = "version";
  label.value = m->version;
  ps_prom_sample(&p, &label, 1, 1);
  ps_prom_single(&p, "portserve_serving", "gauge", "1 while serving, 0 once stopping (/healthz answers 503).",
                 m->state == PS_METRICS_SERVING ? 1 : 0);
  if (m->start_time_unix != 0)
    ps_prom_single(&p, "process_start_time_seconds", "gauge", "When the process started, seconds since 1970 (UTC).",
                   m->start_time_unix);
  ps_prom_single(&p, "portserve_worker_threads", "gauge", "Worker threads serving the completion port.",
                 m->worker_threads);
  ps_prom_single(&p, "portserve_config_last_reload_successful", "gauge",
                 "1 if the last reload was applied (or none was asked for), 0 if it was rejected.", m->reload_ok);
  if (m->reload_success_unix != 0)
    ps_prom_single(&p, "portserve_config_last_reload_success_timestamp_seconds", "gauge",
                   "When the configuration in force was loaded (start or reload), seconds since 1970 (UTC).",
                   m->reload_success_unix);
  if (m->config_hash[0] != '\0') {
    ps_prom_family(&p, "portserve_config_info", "gauge",
                   "Always 1; the hash label identifies the configuration in force (options and listeners).");
    label.name = "hash";
    label.value = m->config_hash;
    ps_prom_sample(&p, &label, 1, 1);
  }
  metrics__stats_families(&p, &m->stats);
  metrics__listener_families(&p, m);
  ps_prom_single(&p, "portserve_listener_rows_dropped", "gauge",
                 "Listening sockets whose rows did not fit in this answer.", m->listener_rows_dropped);
  if (m->error_count > 0) {
    ps_prom_family(&p, "portserve_socket_error_codes_total", "counter",
                   "Socket operations that failed, by where (site) and Win32 error name; a row appears with its "
                   "first error (portserve_socket_errors_total has every site from the start).");
    for (i = 0; i < m->error_count; i++) {
      ps_prom_label labels[2];
      labels[0].name = "site";
      labels[0].value = m->errors[i].site;
      labels[1].name = "error";
      labels[1].value = m->errors[i].error;
      ps_prom_sample(&p, labels, 2, m->errors[i].count);
    }
  }
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

void ps_metrics_json(const ps_metrics *m, ps_strbuf *out) {
  size_t i, f;
  ps_strbuf_puts(out, "{\"format\":1,\"version\":");
  metrics__json_string(out, m->version);
  ps_strbuf_printf(out, ",\"state\":\"%s\",\"start_time_unix\":%llu,\"worker_threads\":%u,\"totals\":{",
                   m->state == PS_METRICS_SERVING ? "serving" : "stopping", (unsigned long long)m->start_time_unix,
                   m->worker_threads);
  for (i = 0; i < PS_STAT_COUNT; i++)
    ps_strbuf_printf(out, "%s\"%s\":%llu", i > 0 ? "," : "", ps_stat_at(i)->field,
                     (unsigned long long)ps_stat_value(&m->stats, i));
  ps_strbuf_puts(out, "},\"listeners\":[");
  for (i = 0; i < m->listener_count; i++) {
    const ps_listener_stats *l = &m->listeners[i];
    char address[96];
    ps_strbuf_puts(out, i > 0 ? ",{\"service\":" : "{\"service\":");
    metrics__json_string(out, l->ep.service);
    ps_strbuf_puts(out, ",\"address\":");
    metrics__json_string(out, metrics__address(&l->ep, address, sizeof(address)));
    ps_strbuf_puts(out, ",\"transport\":");
    metrics__json_string(out, metrics__transport(&l->ep));
    for (f = 0; f < PS_LSTAT_COUNT; f++)
      ps_strbuf_printf(out, ",\"%s\":%llu", ps_listener_stat_at(f)->field,
                       (unsigned long long)ps_listener_stat_value(l, f));
    ps_strbuf_puts(out, "}");
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

/* "5 idle, 2 reset" over the rows of family `metric` that are not 0. */
static void metrics__reason_list(ps_strbuf *out, const ps_stats *s, const char *metric) {
  size_t i;
  int any = 0;
  for (i = 0; i < PS_STAT_COUNT; i++) {
    const ps_stat_def *d = ps_stat_at(i);
    const char *eq = strchr(d->label, '=');
    uint64_t v = ps_stat_value(s, i);
    if (strcmp(d->metric, metric) != 0 || v == 0) continue;
    ps_strbuf_printf(out, "%s%llu %s", any ? ", " : "", (unsigned long long)v, eq != NULL ? eq + 1 : d->field);
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
  ps_strbuf_printf(out, "\nconnections  %llu open, %llu accepted; ended: ", (unsigned long long)s->conns_open,
                   (unsigned long long)s->conns_total);
  metrics__reason_list(out, s, "portserve_connections_closed_total");
  ps_strbuf_puts(out, "; refused: ");
  metrics__reason_list(out, s, "portserve_connections_refused_total");
  ps_strbuf_printf(out, "\ntraffic      in %s, out %s, %llu messages in\n",
                   ps_format_bytes((double)s->bytes_in, a, sizeof(a)),
                   ps_format_bytes((double)s->bytes_out, b, sizeof(b)), (unsigned long long)s->msgs_in);
  ps_strbuf_printf(out, "datagrams    %llu in, %llu out; dropped: ", (unsigned long long)s->dgrams_in,
                   (unsigned long long)s->dgrams_out);
  metrics__reason_list(out, s, "portserve_datagrams_dropped_total");
  ps_strbuf_printf(out,
                   "\nresources    buffers %llu in use / %llu allocated, %llu accepts and %llu UDP receives posted,"
                   " %llu sockets open\n",
                   (unsigned long long)s->buffers_in_use, (unsigned long long)s->buffers_live,
                   (unsigned long long)s->accepts_posted, (unsigned long long)s->udp_receives_posted,
                   (unsigned long long)s->sockets_live);
  ps_strbuf_puts(out, "errors       ");
  metrics__reason_list(out, s, "portserve_socket_errors_total");
  ps_strbuf_printf(out, "; %llu retries after resource errors\n", (unsigned long long)s->conn_retries);
  for (i = 0; i < m->error_count; i++)
    ps_strbuf_printf(out, "  %-10s %-24s %llu\n", m->errors[i].site, m->errors[i].error,
                     (unsigned long long)m->errors[i].count);
  if (m->listener_count > 0) ps_strbuf_puts(out, "listeners\n");
  for (i = 0; i < m->listener_count; i++) {
    const ps_listener_stats *l = &m->listeners[i];
    char address[96];
    ps_strbuf_printf(out, "  %-8s %s %-24s in %s, out %s", l->ep.service, metrics__transport(&l->ep),
                     metrics__address(&l->ep, address, sizeof(address)),
                     ps_format_bytes((double)l->bytes_in, a, sizeof(a)),
                     ps_format_bytes((double)l->bytes_out, b, sizeof(b)));
    if (l->ep.transport == PS_TRANSPORT_UDP)
      ps_strbuf_printf(out, ", %llu datagrams in, %llu out\n", (unsigned long long)l->dgrams_in,
                       (unsigned long long)l->dgrams_out);
    else
      ps_strbuf_printf(out, ", %llu connections, %llu messages in, %llu out\n", (unsigned long long)l->conns_accepted,
                       (unsigned long long)l->msgs_in, (unsigned long long)l->msgs_out);
  }
  if (m->listener_rows_dropped > 0)
    ps_strbuf_printf(out, "  (%llu more listening sockets not shown)\n", (unsigned long long)m->listener_rows_dropped);
}
