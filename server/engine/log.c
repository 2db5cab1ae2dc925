/* The logging front (include/ps_log.h): level filter, the process-wide
 * sink, the default stderr sink, rate-limited warnings, error text. Where
 * lines finally go (file, Event Log, JSON) is the application's choice
 * (server/app/logsink.c); the engine only ever calls ps_log. */
#include "ps_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errtab.h"
#include "ps_win.h"

static void log__stderr_sink(void *ctx, const ps_log_record *rec);

/* Process-wide by nature, like stderr itself: the sink is set while no
 * other thread logs (ps_log_set_sink); the level is read and written
 * whole, from any thread. */
static ps_log_sink log__sink = log__stderr_sink;
static void *log__sink_ctx;
static volatile LONG log__level = PS_LOG_INFO;

void ps_log_set_sink(ps_log_sink sink, void *ctx) {
  log__sink = sink != NULL ? sink : log__stderr_sink;
  log__sink_ctx = sink != NULL ? ctx : NULL;
}

void ps_log_set_level(ps_log_level level) { InterlockedExchange(&log__level, (LONG)level); }

ps_log_level ps_log_get_level(void) { return (ps_log_level)log__level; }

const char *ps_log_level_name(ps_log_level level) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  return (unsigned)level < PS_COUNTOF(names) ? names[level] : "?";
}

const char *ps_event_name(ps_event event) {
  static const char *const names[PS_EVENT_COUNT] = {"",
                                                    "started",
                                                    "stopped",
                                                    "start_failed",
                                                    "bind_failed",
                                                    "config_error",
                                                    "reload_rejected",
                                                    "reload_done",
                                                    "resource_limit",
                                                    "stop_deadline"};
  return (unsigned)event < PS_COUNTOF(names) ? names[event] : "";
}

/* 100-ns intervals between 1601-01-01 (FILETIME) and 1970-01-01. */
#define LOG__EPOCH_DIFF 116444736000000000ULL

char *ps_log_timestamp(long long unix_ms, int utc, char *buf, size_t size) {
  ULARGE_INTEGER u;
  FILETIME ft;
  SYSTEMTIME st, lt;
  long offset_min = 0;
  u.QuadPart = (ULONGLONG)unix_ms * 10000u + LOG__EPOCH_DIFF;
  ft.dwLowDateTime = u.LowPart;
  ft.dwHighDateTime = u.HighPart;
  FileTimeToSystemTime(&ft, &st);
  if (!utc && SystemTimeToTzSpecificLocalTime(NULL, &st, &lt)) {
    /* The offset in force at that moment (daylight saving included): the
     * difference between the local and the UTC reading of one instant. */
    FILETIME lft;
    ULARGE_INTEGER l;
    SystemTimeToFileTime(&lt, &lft);
    l.LowPart = lft.dwLowDateTime;
    l.HighPart = lft.dwHighDateTime;
    offset_min = (long)(((long long)l.QuadPart - (long long)u.QuadPart) / 600000000LL);
    st = lt;
  } else {
    utc = 1;
  }
  if (utc) {
    snprintf(buf, size, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", st.wYear, st.wMonth, st.wDay, st.wHour, st.wMinute,
             st.wSecond, st.wMilliseconds);
  } else {
    long a = offset_min < 0 ? -offset_min : offset_min;
    snprintf(buf, size, "%04u-%02u-%02uT%02u:%02u:%02u.%03u%c%02ld:%02ld", st.wYear, st.wMonth, st.wDay, st.wHour,
             st.wMinute, st.wSecond, st.wMilliseconds, offset_min < 0 ? '-' : '+', a / 60, a % 60);
  }
  return buf;
}

static long long log__now_ms(void) {
  FILETIME ft;
  ULARGE_INTEGER u;
  GetSystemTimeAsFileTime(&ft);
  u.LowPart = ft.dwLowDateTime;
  u.HighPart = ft.dwHighDateTime;
  return (long long)((u.QuadPart - LOG__EPOCH_DIFF) / 10000u);
}

/* The sink of a program that set none: one timestamped line on stderr. */
static void log__stderr_sink(void *ctx, const ps_log_record *rec) {
  char line[1200], when[40];
  int n;
  PS_UNUSED(ctx);
  n = snprintf(line, sizeof(line), "%s %-5s %s\n", ps_log_timestamp(rec->unix_ms, 0, when, sizeof(when)),
               ps_log_level_name(rec->level), rec->text);
  if (n < 0) return;
  if ((size_t)n >= sizeof(line)) {
    n = (int)sizeof(line) - 1;
    line[n - 1] = '\n';
  }
  ps_console_write(stderr, line, (size_t)n);
}

static void log__write(ps_log_level level, ps_event event, const char *fmt, va_list ap) {
  char text[1024];
  ps_log_record rec;
  if (event == PS_EVENT_NONE && (LONG)level > log__level) return;
  vsnprintf(text, sizeof(text), fmt, ap);
  rec.level = level;
  rec.event = event;
  rec.text = text;
  rec.unix_ms = log__now_ms();
  log__sink(log__sink_ctx, &rec);
}

void ps_log(ps_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log__write(level, PS_EVENT_NONE, fmt, ap);
  va_end(ap);
}

void ps_log_event(ps_log_level level, ps_event event, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log__write(level, event, fmt, ap);
  va_end(ap);
}

void ps_log_limit_init(ps_log_limit *l, const char *what, ps_event event, unsigned window_ms) {
  l->what = what;
  l->window_ms = window_ms;
  l->window_start = 0;
  l->suppressed = 0;
  l->slot = 0;
  l->level = PS_LOG_WARN;
  l->event = (int)event;
  l->line[0] = '\0';
}

/* Claims the right to log a line now: 1 if no line was logged in the last
 * window_ms and this thread won the race to log one. Lock-free: two threads
 * may meet here, and only the one whose compare-exchange succeeds logs. */
static int log__limit_claim(ps_log_limit *l, LONG64 now) {
  LONG64 start = l->window_start;
  if (start != 0 && now - start < (LONG64)l->window_ms) return 0;
  return InterlockedCompareExchange64((volatile LONG64 *)&l->window_start, now, start) == start;
}

/* The line slot: 0 empty, 1 being written or read, 2 holds a line. */
enum { LOG_SLOT_EMPTY = 0, LOG_SLOT_BUSY = 1, LOG_SLOT_FULL = 2 };

int ps_log_limited(ps_log_limit *l, ps_log_level level, const char *fmt, ...) {
  va_list ap;
  LONG held;
  /* The line is only formatted here; ps_log_limit_flush writes it. Callers
   * are often inside a connection's or a listener's lock, and writing can
   * take long (the Event Log is an RPC; a file can stall). */
  if (!log__limit_claim(l, (LONG64)GetTickCount64()) ||
      InterlockedCompareExchange((volatile LONG *)&l->slot, LOG_SLOT_BUSY, LOG_SLOT_EMPTY) != LOG_SLOT_EMPTY) {
    InterlockedIncrement((volatile LONG *)&l->suppressed);
    return 0;
  }
  held = InterlockedExchange((volatile LONG *)&l->suppressed, 0);
  va_start(ap, fmt);
  vsnprintf(l->line, sizeof(l->line), fmt, ap);
  va_end(ap);
  if (held > 0) {
    size_t n = strlen(l->line);
    snprintf(l->line + n, sizeof(l->line) - n, " (%ld more like this in the last %u s)", (long)held,
             (l->window_ms + 999) / 1000);
  }
  l->level = (int)level;
  InterlockedExchange((volatile LONG *)&l->slot, LOG_SLOT_FULL);
  return 1;
}

void ps_log_limit_flush(ps_log_limit *l, ps_log_level level) {
  LONG held;
  if (InterlockedCompareExchange((volatile LONG *)&l->slot, LOG_SLOT_BUSY, LOG_SLOT_FULL) == LOG_SLOT_FULL) {
    ps_log_event((ps_log_level)l->level, (ps_event)l->event, "%s", l->line);
    InterlockedExchange((volatile LONG *)&l->slot, LOG_SLOT_EMPTY);
  }
  if (l->suppressed == 0 || !log__limit_claim(l, (LONG64)GetTickCount64())) return;
  held = InterlockedExchange((volatile LONG *)&l->suppressed, 0);
  if (held > 0)
    ps_log(level, "%ld more like this in the last %u s: %s", (long)held, (l->window_ms + 999) / 1000, l->what);
}

void ps_console_write(FILE *stream, const char *utf8, size_t len) {
  HANDLE h = GetStdHandle(stream == stdout ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE);
  DWORD mode, written;
  wchar_t wide[2048];
  int n;
  /* A console shows bytes in its output code page (OEM, not UTF-8): give it
   * UTF-16. Pipes and files get the UTF-8 bytes as they are. */
  if (h != NULL && h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode) && len < PS_COUNTOF(wide)) {
    n = MultiByteToWideChar(CP_UTF8, 0, utf8, (int)len, wide, (int)PS_COUNTOF(wide));
    if (n > 0) {
      fflush(stream);
      WriteConsoleW(h, wide, (DWORD)n, &written, NULL);
      return;
    }
  }
  fwrite(utf8, 1, len, stream);
  fflush(stream);
}

void ps_console_printf(FILE *stream, const char *fmt, ...) {
  char text[2048];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  ps_console_write(stream, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
}

char *ps_errstr(unsigned long err, char *buf, size_t bufsize) {
  char text[512];
  wchar_t wide[256];
  DWORD n;
  if (ps_err_symbol(err) != NULL) return ps_err_format(err, buf, bufsize);
  /* Wide, then UTF-8 like every other part of a log line. */
  n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)err, 0, wide,
                     (DWORD)PS_COUNTOF(wide), NULL);
  if (n > 0) n = (DWORD)WideCharToMultiByte(CP_UTF8, 0, wide, (int)n, text, (int)sizeof(text) - 1, NULL, NULL);
  text[n] = '\0';
  while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n' || text[n - 1] == '.')) text[--n] = '\0';
  if (n > 0) snprintf(buf, bufsize, "error %lu: %s", err, text);
  else snprintf(buf, bufsize, "error %lu", err);
  return buf;
}
