/* Logging, as the engine does it and as a program built on it may: one
 * process-wide sink (stderr with a timestamp until a program sets its own),
 * lines filtered by level, key conditions tagged with an event so a sink can
 * give each its own Event Log ID, and a rate limit for warnings a peer can
 * repeat. Errors are logged once, where they are handled, naming the call
 * and the object. portserve's sinks (file, Event Log, JSON) are the
 * application's: server/app/logsink.c. */
#ifndef PS_LOG_H
#define PS_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "ps_compat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ps_log_level { PS_LOG_ERROR = 0, PS_LOG_WARN, PS_LOG_INFO, PS_LOG_DEBUG } ps_log_level;

/* Conditions an operator alerts on. A line tagged with one reaches the
 * sink whatever the level filter says; portserve's Event Log sink gives each
 * its own event ID (the README lists them). PS_EVENT_NONE: an ordinary line. */
typedef enum ps_event {
  PS_EVENT_NONE = 0,
  PS_EVENT_STARTED,         /* serving: every listener is open */
  PS_EVENT_STOPPED,         /* stopped cleanly */
  PS_EVENT_START_FAILED,    /* could not start, or stopped with an error */
  PS_EVENT_BIND_FAILED,     /* a listener's address could not be opened */
  PS_EVENT_CONFIG_ERROR,    /* the command line or the configuration file is wrong */
  PS_EVENT_RELOAD_REJECTED, /* a reload was refused; the running configuration stays */
  PS_EVENT_RELOAD_DONE,     /* a reload was applied */
  PS_EVENT_RESOURCE_LIMIT,  /* connections aborted or refused: resources or a limit ran out */
  PS_EVENT_STOP_DEADLINE,   /* connections were reset at the stop's drain deadline */
  PS_EVENT_COUNT
} ps_event;

/* One line as a sink gets it. */
typedef struct ps_log_record {
  ps_log_level level;
  ps_event event;
  const char *text;  /* the message: UTF-8, one line, no newline */
  long long unix_ms; /* when it was logged: milliseconds since 1970-01-01 UTC */
} ps_log_record;

typedef void (*ps_log_sink)(void *ctx, const ps_log_record *rec);

/* Sets the process-wide sink (NULL: the default, a timestamped line on
 * stderr). Call while no other thread logs: at start, and after the engine
 * stopped. A sink is called on the logging thread, possibly on several at
 * once, never under an engine lock (ps_log_limited defers). */
void ps_log_set_sink(ps_log_sink sink, void *ctx);
/* Lines above `level` are dropped before they reach the sink (tagged ones
 * never are). May be called at any time, from any thread. */
void ps_log_set_level(ps_log_level level);
ps_log_level ps_log_get_level(void);

void ps_log(ps_log_level level, const char *fmt, ...) PS_PRINTF(2, 3);
/* A line tagged with condition `event`. */
void ps_log_event(ps_log_level level, ps_event event, const char *fmt, ...) PS_PRINTF(3, 4);

/* "error", "warn", "info", "debug". */
const char *ps_log_level_name(ps_log_level level);
/* "bind_failed", ... ("" for PS_EVENT_NONE): stable names for JSON logs. */
const char *ps_event_name(ps_event event);
/* ISO 8601 with milliseconds and the UTC offset in force at that moment:
 * "2026-12-07T06:02:27.041+01:00" in local time, "...Z" with `utc`.
 * Returns buf. */
char *ps_log_timestamp(long long unix_ms, int utc, char *buf, size_t size);

/* A rate limit for one repeated warning (one per call site, kept by its
 * owner: the engine holds one per ps_warn, since there are no mutable
 * globals). The first line of a window is kept; the others within
 * window_ms are counted, and the next line kept says how many there were
 * ("... (12 more like this in the last 60 s)").
 *
 * ps_log_limited never writes: it formats the line into the limit's slot,
 * and ps_log_limit_flush, from a timer (the engine's housekeeper, at least
 * once a second) or after the threads stopped, writes it and reports a
 * count still held once its window is over. So a warning raised inside a
 * connection's lock costs no Event Log RPC and no file write there. */
typedef struct ps_log_limit {
  const char *what; /* for the flush line: "accept on a listener failed" */
  unsigned window_ms;
  volatile long long window_start; /* GetTickCount64 of the last line kept; 0 = none yet */
  volatile long suppressed;        /* lines not kept since */
  volatile long slot;              /* the line below: 0 empty, 1 busy, 2 waiting for the flush */
  int level;
  int event;
  char line[800];
} ps_log_limit;

void ps_log_limit_init(ps_log_limit *l, const char *what, ps_event event, unsigned window_ms);
/* Keeps the line for the next flush unless one was kept less than
 * window_ms ago. 1 if kept. */
int ps_log_limited(ps_log_limit *l, ps_log_level level, const char *fmt, ...) PS_PRINTF(3, 4);
/* Writes the kept line, if any; if lines were held back and the window is
 * over, one line with their count. */
void ps_log_limit_flush(ps_log_limit *l, ps_log_level level);

/* Writes UTF-8 text to stdout or stderr: as UTF-16 (WriteConsoleW) when the
 * stream is a console, so paths and messages outside the console's code
 * page show right; as the UTF-8 bytes when it is a pipe or a file. */
void ps_console_write(FILE *stream, const char *utf8, size_t len);
void ps_console_printf(FILE *stream, const char *fmt, ...) PS_PRINTF(2, 3);

/* "WSAEADDRINUSE (10048) address already in use" for a Winsock/Win32 error;
 * FormatMessage text for errors the table does not know. Returns buf. */
char *ps_errstr(unsigned long err, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif

#endif
