/* One logging API for the console and the service. The process has one log
 * sink, set once by main before any thread logs: stderr (console), the
 * Windows Event Log (service) and optionally a log file, in any combination.
 * Errors are logged once, where they are handled, naming the call and the
 * object. */
#ifndef PS_LOG_H
#define PS_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "ps_compat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ps_log_level { PS_LOG_ERROR = 0, PS_LOG_WARN, PS_LOG_INFO, PS_LOG_DEBUG } ps_log_level;

/* Where lines go (ps_log_config.sinks). */
#define PS_LOG_TO_STDERR 0x1u
#define PS_LOG_TO_EVENTLOG 0x2u /* warnings, errors and ps_log_event lines */

/* The Event Log source the service reports to; `portserve install` and the
 * MSI register it under HKLM\SYSTEM\CurrentControlSet\Services\EventLog\
 * Application with portserve.exe as its EventMessageFile. */
#define PS_LOG_EVENT_SOURCE L"portserve"

/* Event IDs: the message table in server/portserve.rc gives each of them the
 * text "%1", so Event Viewer shows our line as it is. Operators filter on
 * the ID; the README ("Install as a service") lists them. */
typedef enum ps_log_event_id {
  PS_EVENT_MESSAGE = 1,      /* any warning or error line */
  PS_EVENT_STARTED = 2,      /* the service is running: listeners are open */
  PS_EVENT_STOPPED = 3,      /* the service stopped cleanly */
  PS_EVENT_START_FAILED = 4, /* the service could not start, or stopped with an error */
} ps_log_event_id;

typedef struct ps_log_config {
  ps_log_level level; /* lines above this level are dropped */
  unsigned sinks;     /* PS_LOG_TO_* */
  const char *file;   /* also append every line here; NULL or "" for none */
  /* Rotation by size (--log-max-size, --log-files): when a line would take
   * the file past file_max_bytes, FILE is renamed FILE.1 (FILE.1 to FILE.2,
   * ..., FILE.<file_count> is replaced, so the oldest goes) and a new FILE
   * is started. 0 = never rotate; file_count 0 = no old files kept. A file
   * always takes at least one line, so a line longer than the limit still
   * gets written. */
  unsigned long long file_max_bytes;
  unsigned file_count;
  int utc; /* timestamps in UTC (ending in "Z") instead of local time (--log-time) */
} ps_log_config;

/* The log configuration for portserve's options: level, file, rotation
 * (--log-max-size, --log-files) and --log-time; `sinks` as given. */
struct ps_options;
void ps_log_config_from_options(ps_log_config *cfg, const struct ps_options *o, unsigned sinks);

/* Sets the process-wide sink. Call once, before other threads start. If the
 * log file cannot be opened the other sinks are set anyway and its Win32
 * error is returned (the caller words the warning); 0 otherwise. */
int ps_log_open(const ps_log_config *cfg);

/* Closes the file and the Event Log handle. Call after every thread that
 * logs has ended; ps_log then writes to stderr only. */
void ps_log_close(void);

/* A line to every sink; to the Event Log only if it is a warning or an error. */
void ps_log(ps_log_level level, const char *fmt, ...) PS_PRINTF(2, 3);

/* A key event (started, stopped, failed): the line goes to every sink and,
 * whatever its level, to the Event Log with event ID `id`. */
void ps_log_event(ps_log_level level, ps_log_event_id id, const char *fmt, ...) PS_PRINTF(3, 4);

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
  char line[800];
} ps_log_limit;

void ps_log_limit_init(ps_log_limit *l, const char *what, unsigned window_ms);
/* Keeps the line for the next flush unless one was kept less than
 * window_ms ago. 1 if kept. */
int ps_log_limited(ps_log_limit *l, ps_log_level level, const char *fmt, ...) PS_PRINTF(3, 4);
/* Writes the kept line, if any; if lines were held back and the window is
 * over, one line with their count. */
void ps_log_limit_flush(ps_log_limit *l, ps_log_level level);

/* Writes UTF-8 text to stdout or stderr: as UTF-16 (WriteConsoleW) when the
 * stream is a console, so paths and messages outside the console's code
 * page show right; as the UTF-8 bytes when it is a pipe or a file. Every log
 * line and every message the commands print go through here. */
void ps_console_write(FILE *stream, const char *utf8, size_t len);
void ps_console_printf(FILE *stream, const char *fmt, ...) PS_PRINTF(2, 3);

/* "WSAEADDRINUSE (10048) address already in use" for a Winsock/Win32 error;
 * FormatMessage text for errors the table does not know. Returns buf. */
char *ps_errstr(unsigned long err, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif

#endif
