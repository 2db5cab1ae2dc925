/* Serving until told to stop: the one run loop shared by the console
 * (`portserve run`, main.c) and the Windows service (service.c). It starts
 * the engine, opens the listeners, logs stats while it waits, then stops
 * gracefully and checks the live counters (run.c). */
#ifndef PS_RUN_H
#define PS_RUN_H

#include "options.h"
#include "ps_win.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a run ended. The non-zero values are also the service's
 * service-specific exit codes (dwServiceSpecificExitCode, with
 * dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR), documented for operators
 * in the README ("Install as a service"): keep the numbers stable. */
typedef enum ps_run_status {
  PS_RUN_OK = 0,
  PS_RUN_CONFIG_ERROR = 1,  /* bad command line or configuration file (set by the service; ps_run never returns it) */
  PS_RUN_LISTEN_FAILED = 2, /* a listener could not open: port in use, address not local, name not resolved */
  PS_RUN_ENGINE_FAILED = 3, /* the engine could not start: completion port, threads, memory */
  PS_RUN_UNCLEAN_STOP = 4   /* live counters not zero after the stop: a bug */
} ps_run_status;

/* Makes the options of a reload: the command line parsed again, which reads
 * the --config file again. 0, or -1 with a message in err. */
typedef int (*ps_reload_fn)(void *ctx, ps_options *out, char *err, size_t errsize);

typedef struct ps_run_hooks {
  HANDLE stop_event;                     /* signalled: begin the graceful stop (also ends a bind retry) */
  const char *stop_hint;                 /* ends the "ready:" line ("Ctrl+C stops") */
  const char *(*stop_reason)(void *ctx); /* names what signalled stop_event, for the log */
  void (*on_ready)(void *ctx);           /* every listener is open; NULL for none */
  /* The shutdown grace and the drain deadline for the stop that was
   * signalled, given the configured ones (which it may lower); NULL: the
   * configured ones. */
  void (*stop_limits)(void *ctx, unsigned *grace_ms, unsigned *drain_ms);
  /* Signalled (manual reset; NULL for none) when a stop already under way
   * must hurry: the console was closed after Ctrl+C, and Windows ends the
   * process PS_CONSOLE_CLOSE_WINDOW_MS later. It ends the shutdown grace at
   * once and the drain within PS_CONSOLE_CLOSE_DRAIN_MS. */
  HANDLE hurry_event;
  void *ctx;
  /* Reload (docs/design.md, "Reload"): when reload_event (auto-reset; NULL
   * for none) is signalled, reload() makes the new options (reading the
   * configuration file again); 0, or -1 with a message in err, and the
   * running configuration stays. */
  HANDLE reload_event;
  ps_reload_fn reload;
  void *reload_ctx;
} ps_run_hooks;

/* Serves `o->listens` until hooks->stop_event is signalled, then stops the
 * engine within o->drain_timeout_ms. Logs every step and failure itself. */
ps_run_status ps_run(const ps_options *o, const ps_run_hooks *hooks);

/* Windows gives a console process a few seconds after CTRL_CLOSE_EVENT,
 * CTRL_LOGOFF_EVENT and CTRL_SHUTDOWN_EVENT, then ends it wherever it is:
 * "the system terminates the process when HandlerRoutine returns TRUE or when
 * the time-out period elapses" (HandlerRoutine); the time-out is 5000 ms
 * (SPI_GETHUNGAPPTIMEOUT for close, SPI_GETWAITTOKILLTIMEOUT for logoff and
 * shutdown: microsoft/terminal doc/ConsoleCtrlEvent.md). The stop must fit:
 * the drain gets at most PS_CONSOLE_CLOSE_DRAIN_MS, leaving 2 s for the
 * resets, the workers and the log. */
#define PS_CONSOLE_CLOSE_WINDOW_MS 5000u
#define PS_CONSOLE_CLOSE_DRAIN_MS 3000u

/* The drain deadline for a console stop caused by control event `ctrl_type`
 * (CTRL_*_EVENT): drain_timeout_ms for Ctrl+C and Ctrl+Break (no time limit),
 * at most PS_CONSOLE_CLOSE_DRAIN_MS for close, logoff and shutdown. */
unsigned ps_run_console_drain_ms(DWORD ctrl_type, unsigned drain_timeout_ms);
/* The shutdown grace for the same: grace_ms for Ctrl+C and Ctrl+Break, none
 * for close, logoff and shutdown (the window has no room for it). */
unsigned ps_run_console_grace_ms(DWORD ctrl_type, unsigned grace_ms);

/* "a listener could not open" for a ps_run_status; "" for PS_RUN_OK. */
const char *ps_run_status_text(ps_run_status status);

#ifdef __cplusplus
}
#endif

#endif
