/* The figures the admin endpoint serves, as one plain struct the program
 * fills (ps_admin_options.metrics_fill, services.h: the application's run
 * loop from the engine's snapshot), and its three renderings:
 * Prometheus text (GET /metrics), JSON (GET /stats.json, `portserve stats
 * --json`) and human-readable text (GET /stats.txt, `portserve stats`).
 * Metric names, types and labels: docs/metrics.md. */
#ifndef PS_METRICS_H
#define PS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ps_stats.h"
#include "strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_METRICS_LISTENERS_MAX 128 /* as the engine's table: one row per listening socket */
#define PS_METRICS_ERRORS_MAX 32     /* distinct (site, error) rows; the rest fold into "other" */

typedef struct ps_metrics_error {
  char site[16];  /* where: ps_error_site_name(), or "other" */
  char error[40]; /* the Win32 error's symbol: "WSAECONNRESET" (ps_err_symbol), or "error_1234" */
  uint64_t count;
} ps_metrics_error;

typedef enum ps_metrics_state {
  PS_METRICS_SERVING = 0,
  PS_METRICS_STOPPING = 1 /* the engine is stopping: /healthz answers 503 */
} ps_metrics_state;

typedef struct ps_metrics {
  ps_stats stats; /* the engine's counters (ps_engine_stats) */
  ps_listener_stats listeners[PS_METRICS_LISTENERS_MAX];
  size_t listener_count;
  ps_metrics_error errors[PS_METRICS_ERRORS_MAX];
  size_t error_count;
  uint64_t listener_rows_dropped; /* listening sockets beyond PS_METRICS_LISTENERS_MAX */
  unsigned worker_threads;
  char version[32]; /* PS_VERSION */
  ps_metrics_state state;
  uint64_t start_time_unix; /* when the process started (seconds since 1970, UTC); 0 = unknown */
  /* The configuration in force (run.c): whether the last reload was
   * applied (1 when none was asked for), when the configuration was last
   * loaded, and a hash of it ("" = none). */
  unsigned reload_ok;
  uint64_t reload_success_unix;
  char config_hash[20];
} ps_metrics;

/* Upper bounds of the renderings (PS_METRICS_*_MAX bytes), for a bounded ps_strbuf. */
#define PS_METRICS_TEXT_MAX (256 * 1024)

/* Each appends to `out`; out->overflow reports a cut. `now_unix` gives the
 * uptime in the human text (and nothing else). */
void ps_metrics_prometheus(const ps_metrics *m, ps_strbuf *out);
void ps_metrics_json(const ps_metrics *m, ps_strbuf *out);
void ps_metrics_text(const ps_metrics *m, uint64_t now_unix, ps_strbuf *out);

/* Adds `count` to the (site, error) row, appending one if there is room.
 * When the table is full, its last row becomes ("other", "other") and takes
 * every count that has no row. For the engine's fill callback. */
void ps_metrics_add_error(ps_metrics *m, const char *site, const char *error, uint64_t count);

#ifdef __cplusplus
}
#endif

#endif
