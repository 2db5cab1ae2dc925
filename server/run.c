/* ps_run (run.h): the one run loop shared by the console (main.c) and the
 * Windows service (service.c): start the engine, open the listeners, log
 * stats while waiting for the stop event, stop gracefully, check the live
 * counters. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "options.h"
#include "ps_win.h"
#include "run.h"
#include "stats.h"
#include "version.h"

const char *ps_run_status_text(ps_run_status status) {
  switch (status) {
    case PS_RUN_OK: return "";
    case PS_RUN_CONFIG_ERROR: return "configuration error";
    case PS_RUN_LISTEN_FAILED: return "a listener could not open";
    case PS_RUN_ENGINE_FAILED: return "the engine could not start";
    case PS_RUN_UNCLEAN_STOP: return "live counters not zero after the stop";
  }
  return "unknown status";
}

unsigned ps_run_console_drain_ms(DWORD ctrl_type, unsigned drain_timeout_ms) {
  switch (ctrl_type) {
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      return drain_timeout_ms < PS_CONSOLE_CLOSE_DRAIN_MS ? drain_timeout_ms : PS_CONSOLE_CLOSE_DRAIN_MS;
    default:
      return drain_timeout_ms;
  }
}

ps_run_status ps_run(const ps_options *o, const ps_run_hooks *hooks) {
  ps_engine_config cfg;
  ps_engine *e = NULL;
  ps_endpoint eps[64];
  ps_stats prev, now;
  ULONGLONG prev_ms;
  size_t i, n;
  unsigned reset, drain_ms;
  int err;
  ps_run_status status = PS_RUN_OK;
  char msg[200];
  char line[512]; /* the stats line */

  ps_engine_config_default(&cfg);
  ps_engine_config_set_options(&cfg, o);
  cfg.bind_cancel = hooks->stop_event;
  drain_ms = cfg.drain_timeout_ms;

  err = ps_engine_new(&cfg, &e);
  if (err != 0) {
    ps_log(PS_LOG_ERROR, "starting the engine failed: %s", ps_errstr((unsigned long)err, msg, sizeof(msg)));
    return PS_RUN_ENGINE_FAILED;
  }
  for (i = 0; i < o->listen_count && status == PS_RUN_OK; i++)
    if (ps_engine_listen(e, &o->listens[i]) != 0) status = PS_RUN_LISTEN_FAILED;

  if (status == PS_RUN_OK) {
    n = ps_engine_endpoints(e, eps, PS_COUNTOF(eps));
    ps_log(PS_LOG_INFO, "portserve %s ready: %u listener(s), %u worker thread(s); %s", PS_VERSION, (unsigned)n,
           ps_engine_threads(e), hooks->stop_hint);
    if (hooks->on_ready != NULL) hooks->on_ready(hooks->ctx);
    ps_engine_stats(e, &prev);
    prev_ms = GetTickCount64();
    for (;;) {
      DWORD wait = o->stats_interval_s ? o->stats_interval_s * 1000u : INFINITE;
      if (WaitForSingleObject(hooks->stop_event, wait) != WAIT_TIMEOUT) break;
      ps_engine_stats(e, &now);
      ps_stats_format(&now, &prev, (double)(GetTickCount64() - prev_ms) / 1000.0, line, sizeof(line));
      ps_log(PS_LOG_INFO, "stats: %s", line);
      prev = now;
      prev_ms = GetTickCount64();
    }
    ps_engine_stats(e, &now);
    if (hooks->stop_drain_ms != NULL) drain_ms = hooks->stop_drain_ms(hooks->ctx, cfg.drain_timeout_ms);
    ps_log(PS_LOG_INFO, "stopping (%s): closing listeners, draining %llu connection(s), deadline %u ms",
           hooks->stop_reason(hooks->ctx), (unsigned long long)now.conns_open, drain_ms);
  }

  reset = ps_engine_stop_within(e, drain_ms);
  ps_engine_stats(e, &now);
  ps_log(PS_LOG_INFO, "stopped: %llu connection(s) served, %llu bytes in, %llu bytes out, %u reset at the deadline",
         (unsigned long long)now.conns_total, (unsigned long long)now.bytes_in,
         (unsigned long long)now.bytes_out, reset);
  ps_log(PS_LOG_INFO, "timeouts: %llu idle, %llu linger, %llu send; longest timer sweep %llu us",
         (unsigned long long)now.timeouts_idle, (unsigned long long)now.timeouts_linger,
         (unsigned long long)now.timeouts_send, (unsigned long long)now.sweep_us_max);
  ps_log(PS_LOG_INFO,
         "udp guard: %llu datagram(s) dropped for source port 0, %llu for a low port, %llu for one of our ports; "
         "%llu repl(ies) over a source's rate, %llu over the total rate",
         (unsigned long long)now.dgrams_dropped_port0, (unsigned long long)now.dgrams_dropped_lowport,
         (unsigned long long)now.dgrams_dropped_loop, (unsigned long long)now.dgrams_dropped_rate,
         (unsigned long long)now.dgrams_dropped_rate_total);
  ps_log(PS_LOG_INFO, "live counters: sockets %llu, connections %llu, buffers in use %llu",
         (unsigned long long)now.sockets_live, (unsigned long long)now.conns_open,
         (unsigned long long)now.buffers_in_use);
  if (now.sockets_live != 0 || now.conns_open != 0 || now.buffers_in_use != 0) {
    ps_log(PS_LOG_ERROR, "live counters are not zero after stop: this is a bug");
    if (status == PS_RUN_OK) status = PS_RUN_UNCLEAN_STOP;
  }
  ps_engine_delete(e);
  return status;
}
