/* One logging API for the console (stderr) and, later, the service (Event
 * Log / file). Errors are logged once, where they are handled, naming the
 * call and the object. */
#ifndef PS_LOG_H
#define PS_LOG_H

#include <stddef.h>

#include "ps_compat.h"

typedef enum ps_log_level {
  PS_LOG_ERROR = 0,
  PS_LOG_WARN,
  PS_LOG_INFO,
  PS_LOG_DEBUG
} ps_log_level;

/* Messages above `level` are dropped. Call once at start-up. */
void ps_log_set_level(ps_log_level level);
void ps_log(ps_log_level level, const char *fmt, ...) PS_PRINTF(2, 3);

/* "WSAEADDRINUSE (10048) address already in use" for a Winsock/Win32 error;
 * FormatMessage text for errors the table does not know. Returns buf. */
char *ps_errstr(unsigned long err, char *buf, size_t bufsize);

#endif
