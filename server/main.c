/* portserve.exe entry: parse the command line and hand it to the console
 * server (`run`, until Ctrl+C / Ctrl+Break / console close), to the Service
 * Control Manager (`service`) or to the service commands (service.c).
 * Also defines ps_run (run.h), the run loop the console and the service share. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "options.h"
#include "ps_win.h"
#include "run.h"
#include "service.h"
#include "stats.h"

#define PS_VERSION "0.1.0"

/* The console control handler has no context argument, so the events it
 * signals are the one piece of process-wide state, set before it is installed. */
static HANDLE main__stop_event;
static HANDLE main__stopped_event;
static volatile LONG main__stop_signal;

static BOOL WINAPI main__on_console_ctrl(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      InterlockedCompareExchange(&main__stop_signal, (LONG)type + 1, 0);
      SetEvent(main__stop_event);
      /* For close/logoff/shutdown Windows ends the process when the handler
       * returns: hold it until the graceful stop has finished (Windows allows
       * about 5 s for CTRL_CLOSE_EVENT). */
      if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
        WaitForSingleObject(main__stopped_event, 10000);
      return TRUE;
    default:
      return FALSE;
  }
}

static const char *main__signal_name(void *ctx) {
  PS_UNUSED(ctx);
  switch (main__stop_signal - 1) {
    case CTRL_C_EVENT: return "Ctrl+C";
    case CTRL_BREAK_EVENT: return "Ctrl+Break";
    case CTRL_CLOSE_EVENT: return "console close";
    case CTRL_LOGOFF_EVENT: return "logoff";
    case CTRL_SHUTDOWN_EVENT: return "system shutdown";
    default: return "stop request";
  }
}

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

ps_run_status ps_run(const ps_options *o, const ps_run_hooks *hooks) {
  ps_engine_config cfg;
  ps_engine *e = NULL;
  ps_endpoint eps[64];
  ps_stats prev, now;
  ULONGLONG prev_ms;
  size_t i, n;
  unsigned reset;
  int err;
  ps_run_status status = PS_RUN_OK;
  char msg[200];

  ps_engine_config_default(&cfg);
  cfg.threads = o->threads;
  cfg.accepts = o->accepts;
  cfg.buffer_size = o->buffer_size;
  cfg.send_queue_max = o->send_queue_max;
  cfg.max_connections = o->max_connections;
  cfg.drain_timeout_ms = o->drain_timeout_ms;
  cfg.udp_receives = o->udp_receives;
  cfg.buffer_idle_ms = o->buffer_idle_ms;
  cfg.buffer_idle_ms = o->buffer_idle_ms;
  cfg.quotes_file = o->quotes_file[0] ? o->quotes_file : NULL;

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
      ps_stats_format(&now, &prev, (double)(GetTickCount64() - prev_ms) / 1000.0, msg, sizeof(msg));
      ps_log(PS_LOG_INFO, "stats: %s", msg);
      prev = now;
      prev_ms = GetTickCount64();
    }
    ps_engine_stats(e, &now);
    ps_log(PS_LOG_INFO, "stopping (%s): closing listeners, draining %llu connection(s), deadline %u ms",
           hooks->stop_reason(hooks->ctx), (unsigned long long)now.conns_open, cfg.drain_timeout_ms);
  }

  reset = ps_engine_stop(e);
  ps_engine_stats(e, &now);
  ps_log(PS_LOG_INFO, "stopped: %llu connection(s) served, %llu bytes in, %llu bytes out, %u reset at the deadline",
         (unsigned long long)now.conns_total, (unsigned long long)now.bytes_in,
         (unsigned long long)now.bytes_out, reset);
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

static int main__run(const ps_options *o) {
  ps_log_config log = {(ps_log_level)o->log_level, PS_LOG_TO_STDERR, o->log_file};
  ps_run_hooks hooks;
  ps_run_status status;
  char msg[200];
  int err;

  err = ps_log_open(&log);
  if (err != 0)
    ps_log(PS_LOG_WARN, "cannot open the log file %s: %s; logging to stderr only", o->log_file,
           ps_errstr((unsigned long)err, msg, sizeof(msg)));

  main__stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  main__stopped_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (main__stop_event == NULL || main__stopped_event == NULL) {
    ps_log(PS_LOG_ERROR, "CreateEvent failed: %s", ps_errstr(GetLastError(), msg, sizeof(msg)));
    ps_log_close();
    return 1;
  }
  SetConsoleCtrlHandler(main__on_console_ctrl, TRUE);

  memset(&hooks, 0, sizeof(hooks));
  hooks.stop_event = main__stop_event;
  hooks.stop_hint = "Ctrl+C stops";
  hooks.stop_reason = main__signal_name;
  status = ps_run(o, &hooks);

  ps_log_close();
  SetEvent(main__stopped_event);
  return status == PS_RUN_OK ? 0 : 1;
}

int main(int argc, char **argv) {
  ps_options o;
  char err[512];
  if (ps_options_parse(argc, argv, &o, err, sizeof(err)) != 0) {
    /* Under the SCM nobody reads stderr: the service reports the error as
     * its exit code and in the Event Log instead. */
    if (argc >= 2 && strcmp(argv[1], "service") == 0) {
      ps_options_defaults(&o);
      return ps_service_dispatch(&o, err);
    }
    fprintf(stderr, "portserve: %s\n\n%s", err, ps_options_usage());
    return 2;
  }
  switch (o.command) {
    case PS_CMD_HELP:
      fputs(ps_options_usage(), stdout);
      return 0;
    case PS_CMD_VERSION:
      printf("portserve %s\n", PS_VERSION);
      return 0;
    case PS_CMD_RUN:
      return main__run(&o);
    case PS_CMD_SERVICE:
      return ps_service_dispatch(&o, NULL);
    case PS_CMD_INSTALL:
      return ps_service_install(&o);
    case PS_CMD_UNINSTALL:
      return ps_service_uninstall(&o);
    case PS_CMD_START:
      return ps_service_start(&o);
    case PS_CMD_STOP:
      return ps_service_stop(&o);
    case PS_CMD_STATUS:
      return ps_service_status(&o);
  }
  fprintf(stderr, "portserve: command not available in this build\n");
  return 2;
}
