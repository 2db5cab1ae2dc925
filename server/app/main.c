/* portserve.exe entry: parse the command line and hand it to the console
 * server (`run`, until Ctrl+C / Ctrl+Break / console close), to the Service
 * Control Manager (`service`) or to the service commands (service.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "check.h"
#include "logsink.h"
#include "ps_engine.h"
#include "ps_log.h"
#include "options.h"
#include "ps_win.h"
#include "run.h"
#include "service.h"
#include "ps_stats.h"

#include "version.h"

/* The console control handler has no context argument, so the events it
 * signals are the one piece of process-wide state, set before it is installed. */
static HANDLE main__stop_event;
static HANDLE main__hurry_event;
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
      /* A close after Ctrl+C: the stop under way keeps Ctrl+C's drain
       * deadline unless told to hurry into the close's window. */
      if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
        SetEvent(main__hurry_event);
      SetEvent(main__stop_event);
      /* For close/logoff/shutdown Windows ends the process when the handler
       * returns, or PS_CONSOLE_CLOSE_WINDOW_MS after the event if it has not:
       * hold it until the graceful stop (its drain capped by
       * ps_run_console_drain_ms) has finished; waiting longer is pointless. */
      if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
        WaitForSingleObject(main__stopped_event, PS_CONSOLE_CLOSE_WINDOW_MS);
      return TRUE;
    default:
      return FALSE;
  }
}

static const char *main__signal_name(void *ctx) {
  PS_UNUSED(ctx);
  switch (main__stop_signal - 1) {
    case CTRL_C_EVENT:
      return "Ctrl+C";
    case CTRL_BREAK_EVENT:
      return "Ctrl+Break";
    case CTRL_CLOSE_EVENT:
      return "console close";
    case CTRL_LOGOFF_EVENT:
      return "logoff";
    case CTRL_SHUTDOWN_EVENT:
      return "system shutdown";
    default:
      return "stop request";
  }
}

static void main__stop_limits(void *ctx, unsigned *grace_ms, unsigned *drain_ms) {
  DWORD type = (DWORD)(main__stop_signal - 1);
  PS_UNUSED(ctx);
  *grace_ms = ps_run_console_grace_ms(type, *grace_ms);
  *drain_ms = ps_run_console_drain_ms(type, *drain_ms);
}

/* The command line, for a reload to parse again (ps_reload_fn). */
typedef struct main__args {
  int argc;
  char **argv;
} main__args;

static int main__reparse(void *ctx, ps_options *out, char *err, size_t errsize) {
  const main__args *a = (const main__args *)ctx;
  return ps_options_parse(a->argc, a->argv, out, err, errsize);
}

/* The console's reload event, named after its process ID so that
 * `portserve reload PID` reaches this instance and no other. */
static void main__reload_event_name(unsigned pid, wchar_t *out, size_t n) {
  swprintf(out, n, L"Local\\portserve-reload-%u", pid);
}

/* `portserve reload [PID]`. */
static int main__reload(const ps_options *o) {
  wchar_t name[64];
  HANDLE ev;
  char msg[200];
  if (o->reload_pid == 0) return ps_service_reload(o);
  main__reload_event_name(o->reload_pid, name, PS_COUNTOF(name));
  ev = OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
  if (ev == NULL) {
    fprintf(stderr, "portserve reload: no portserve console with process ID %u here (OpenEvent: %s)\n", o->reload_pid,
            ps_errstr(GetLastError(), msg, sizeof(msg)));
    return 1;
  }
  SetEvent(ev);
  CloseHandle(ev);
  printf("asked portserve (process %u) to re-read its configuration; its log says how it went\n", o->reload_pid);
  return 0;
}

static int main__run(const ps_options *o, main__args *args) {
  ps_logsink_config log;
  ps_run_hooks hooks;
  ps_run_status status;
  HANDLE reload_event;
  wchar_t reload_name[64];
  char msg[200], hint[120];
  int err;

  ps_logsink_config_from_options(&log, o, PS_LOG_TO_STDERR);
  err = ps_logsink_open(&log);
  if (err != 0)
    ps_log(PS_LOG_WARN, "cannot open the log file %s: %s; logging to stderr only", o->log_file,
           ps_errstr((unsigned long)err, msg, sizeof(msg)));

  main__stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  main__hurry_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  main__stopped_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (main__stop_event == NULL || main__hurry_event == NULL || main__stopped_event == NULL) {
    ps_log(PS_LOG_ERROR, "CreateEvent failed: %s", ps_errstr(GetLastError(), msg, sizeof(msg)));
    ps_logsink_close();
    return 1;
  }
  SetConsoleCtrlHandler(main__on_console_ctrl, TRUE);
  main__reload_event_name((unsigned)GetCurrentProcessId(), reload_name, PS_COUNTOF(reload_name));
  reload_event = CreateEventW(NULL, FALSE, FALSE, reload_name);
  if (reload_event == NULL)
    ps_log(PS_LOG_WARN, "CreateEvent(%ls) failed: %s; 'portserve reload' cannot reach this instance", reload_name,
           ps_errstr(GetLastError(), msg, sizeof(msg)));
  snprintf(hint, sizeof(hint), "Ctrl+C stops, 'portserve reload %u' re-reads the configuration",
           (unsigned)GetCurrentProcessId());

  memset(&hooks, 0, sizeof(hooks));
  hooks.stop_event = main__stop_event;
  hooks.stop_hint = hint;
  hooks.reload_event = reload_event;
  hooks.reload = main__reparse;
  hooks.reload_ctx = args;
  hooks.stop_reason = main__signal_name;
  hooks.stop_limits = main__stop_limits;
  hooks.hurry_event = main__hurry_event;
  status = ps_run(o, &hooks);

  if (reload_event != NULL) CloseHandle(reload_event);
  ps_logsink_close();
  SetEvent(main__stopped_event);
  return status == PS_RUN_OK ? 0 : 1;
}

/* The command line's errors (ps_options_parse_each), each printed as it
 * comes: the configuration file's as "FILE:LINE: message", as `portserve
 * check` prints them, the others after "portserve: ". Under the SCM nobody
 * reads stderr, so `service` only keeps the first for its exit code and the
 * Event Log. */
typedef struct main__errors {
  const ps_options *o; /* o->config_path is set before its file is read */
  int quiet;
  char first[PS_OPTIONS_ERROR_MAX];
} main__errors;

static int main__on_error(void *ctx, const char *message) {
  main__errors *m = (main__errors *)ctx;
  size_t n = strlen(m->o->config_path);
  if (m->first[0] == '\0') snprintf(m->first, sizeof(m->first), "%s", message);
  if (m->quiet) return 1;
  if (n > 0 && strncmp(message, m->o->config_path, n) == 0 && message[n] == ':')
    ps_console_printf(stderr, "%s\n", message);
  else ps_console_printf(stderr, "portserve: %s\n", message);
  return 0;
}

static int main__main(int argc, char **argv) {
  ps_options o;
  main__args args;
  main__errors errors;
  unsigned error_count;
  char usage[PS_USAGE_MAX];
  args.argc = argc;
  args.argv = argv;
  /* A client of a running instance: none of the server's options apply. */
  if (argc >= 2 && strcmp(argv[1], "stats") == 0) return ps_admin_client_main(argc - 1, argv + 1);
  memset(&errors, 0, sizeof(errors));
  errors.o = &o;
  errors.quiet = argc >= 2 && strcmp(argv[1], "service") == 0;
  error_count = ps_options_parse_each(NULL, argc, argv, &o, main__on_error, &errors);
  if (error_count != 0) {
    if (errors.quiet) {
      ps_options_defaults(&o);
      return ps_service_dispatch(&o, errors.first, main__reparse, &args);
    }
    /* The errors stay the last thing on the screen: one line points at the
     * usage instead of 100 lines of it burying them. */
    ps_console_printf(stderr, "portserve: %u error(s); 'portserve --help' lists the commands and options\n",
                      error_count);
    return 2;
  }
  switch (o.command) {
    case PS_CMD_HELP:
      ps_options_usage(usage, sizeof(usage));
      fputs(usage, stdout);
      return 0;
    case PS_CMD_VERSION:
      printf("portserve %s\n", PS_VERSION);
      return 0;
    case PS_CMD_RUN:
      return main__run(&o, &args);
    case PS_CMD_SERVICE:
      return ps_service_dispatch(&o, NULL, main__reparse, &args);
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
    case PS_CMD_RELOAD:
      return main__reload(&o);
    case PS_CMD_CHECK:
      return ps_check(&o);
  }
  fprintf(stderr, "portserve: command not available in this build\n");
  return 2;
}

/* wmain, not main: main's argv is in the ANSI code page, where a path with
 * characters outside it (a Greek or CJK folder on a Western system) arrives
 * as '?' and names another file. The portable parser takes UTF-8, so the
 * UTF-16 arguments are converted here, once; every file is then opened
 * through a wide API (path.h, log.c, service.c). */
int wmain(int argc, wchar_t **wargv) {
  char **argv = (char **)calloc((size_t)argc + 1, sizeof(char *));
  int i, rc;
  if (argv == NULL) {
    fputs("portserve: out of memory\n", stderr);
    return 1;
  }
  for (i = 0; i < argc; i++) {
    int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
    argv[i] = n > 0 ? (char *)malloc((size_t)n) : NULL;
    if (argv[i] == NULL || WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL) != n) {
      fputs("portserve: cannot convert the command line to UTF-8\n", stderr);
      rc = 1;
      goto done;
    }
  }
  rc = main__main(argc, argv);
done:
  for (i = 0; i < argc; i++) free(argv[i]);
  free(argv);
  return rc;
}
