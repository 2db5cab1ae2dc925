/* Console logging: timestamped lines on stderr, one write per line so lines
 * from different threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errtab.h"
#include "ps_win.h"

/* Process-wide by nature (like stderr itself); set once before threads start. */
static volatile LONG ps_log_level_current = PS_LOG_INFO;

void ps_log_set_level(ps_log_level level) { InterlockedExchange(&ps_log_level_current, (LONG)level); }

void ps_log(ps_log_level level, const char *fmt, ...) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  char line[1024];
  SYSTEMTIME t;
  int n;
  va_list ap;
  if ((LONG)level > ps_log_level_current) return;
  GetLocalTime(&t);
  n = snprintf(line, sizeof(line), "%04u-%02u-%02u %02u:%02u:%02u.%03u %-5s ", t.wYear, t.wMonth, t.wDay,
               t.wHour, t.wMinute, t.wSecond, t.wMilliseconds, names[level]);
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  n = (int)strlen(line);
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, stderr);
  fflush(stderr);
}

char *ps_errstr(unsigned long err, char *buf, size_t bufsize) {
  char text[256];
  DWORD n;
  if (ps_err_symbol(err) != NULL) return ps_err_format(err, buf, bufsize);
  n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)err, 0, text,
                     (DWORD)sizeof(text), NULL);
  while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n' || text[n - 1] == '.')) text[--n] = '\0';
  if (n > 0) snprintf(buf, bufsize, "error %lu: %s", err, text);
  else snprintf(buf, bufsize, "error %lu", err);
  return buf;
}
