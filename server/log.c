/* The log sink: timestamped lines to stderr and/or an append-only log file,
 * warnings, errors and key events to the Windows Event Log. Each line is
 * written with one call per destination so that lines from different
 * threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errtab.h"
#include "ps_win.h"

typedef struct log__sink {
  ps_log_level level;
  unsigned sinks;
  HANDLE file;         /* opened for FILE_APPEND_DATA only; NULL for none */
  HANDLE event_source; /* RegisterEventSourceW; NULL for none */
} log__sink;

/* Process-wide by nature (like stderr itself): written by ps_log_open and
 * ps_log_close only, while no other thread logs; read by every thread. The
 * default lets code that never opens the log (unit tests) log to stderr. */
static log__sink log__the = {PS_LOG_INFO, PS_LOG_TO_STDERR, NULL, NULL};

int ps_log_open(const ps_log_config *cfg) {
  int err = 0;
  log__the.level = cfg->level;
  log__the.sinks = cfg->sinks;
  if (cfg->sinks & PS_LOG_TO_EVENTLOG)
    /* Succeeds even when the source is not registered (the events then go
     * to the Application log without message text): install registers it. */
    log__the.event_source = RegisterEventSourceW(NULL, PS_LOG_EVENT_SOURCE);
  if (cfg->file != NULL && cfg->file[0] != '\0') {
    /* FILE_APPEND_DATA without FILE_WRITE_DATA: every WriteFile lands at the
     * current end of the file, atomically, even with another writer (a
     * second instance, a console run next to the service). No CRT buffer:
     * a line is in the file when ps_log returns. */
    HANDLE h = CreateFileA(cfg->file, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) err = (int)GetLastError();
    else log__the.file = h;
  }
  return err;
}

void ps_log_close(void) {
  if (log__the.file != NULL) CloseHandle(log__the.file);
  if (log__the.event_source != NULL) DeregisterEventSource(log__the.event_source);
  log__the.file = NULL;
  log__the.event_source = NULL;
  log__the.sinks = PS_LOG_TO_STDERR;
}

static void log__report_event(ps_log_level level, ps_log_event_id id, const char *text) {
  wchar_t wide[1024];
  const wchar_t *strings[1];
  WORD type = level == PS_LOG_ERROR ? EVENTLOG_ERROR_TYPE
              : level == PS_LOG_WARN ? EVENTLOG_WARNING_TYPE
                                     : EVENTLOG_INFORMATION_TYPE;
  if (MultiByteToWideChar(CP_ACP, 0, text, -1, wide, (int)PS_COUNTOF(wide)) == 0) {
    wide[PS_COUNTOF(wide) - 1] = L'\0'; /* too long: ReportEventW gets what fitted */
  }
  strings[0] = wide;
  /* Nothing sensible to do if it fails: the line is in the other sinks. */
  ReportEventW(log__the.event_source, type, 0, (DWORD)id, NULL, 1, 0, strings, NULL);
}

static void log__write(ps_log_level level, int event, ps_log_event_id id, const char *fmt, va_list ap) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  char line[1024];
  const char *text;
  SYSTEMTIME t;
  int n;
  size_t len;
  DWORD written;

  if (!event && level > log__the.level) return;
  GetLocalTime(&t);
  n = snprintf(line, sizeof(line), "%04u-%02u-%02u %02u:%02u:%02u.%03u %-5s ", t.wYear, t.wMonth, t.wDay,
               t.wHour, t.wMinute, t.wSecond, t.wMilliseconds, names[level]);
  text = line + n;
  /* Leave room for "\r\n". */
  vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
  len = strlen(line);

  if (log__the.event_source != NULL && (event || level <= PS_LOG_WARN))
    log__report_event(level, event ? id : PS_EVENT_MESSAGE, text);

  if (log__the.file != NULL) {
    /* CRLF in the file: operators read it with Windows tools. */
    line[len] = '\r';
    line[len + 1] = '\n';
    WriteFile(log__the.file, line, (DWORD)(len + 2), &written, NULL);
  }
  if (log__the.sinks & PS_LOG_TO_STDERR) {
    line[len] = '\n';
    fwrite(line, 1, len + 1, stderr);
    fflush(stderr);
  }
}

void ps_log(ps_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log__write(level, 0, PS_EVENT_MESSAGE, fmt, ap);
  va_end(ap);
}

void ps_log_event(ps_log_level level, ps_log_event_id id, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log__write(level, 1, id, fmt, ap);
  va_end(ap);
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
