/* The log sink: timestamped lines to stderr and/or an append-only log file
 * (rotated by size), warnings, errors and key events to the Windows Event
 * Log. Each line is written with one call per destination so that lines from
 * different threads do not interleave; with rotation on, file writes and the
 * rotation itself happen under one lock, so no line lands in a file being
 * renamed. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errtab.h"
#include "options.h"
#include "path.h"
#include "ps_win.h"

/* Rotated files are FILE.1 .. FILE.<count>: at most three digits. */
#define LOG__FILES_MAX 999

typedef struct log__sink {
  ps_log_level level;
  unsigned sinks;
  HANDLE file;         /* opened for FILE_APPEND_DATA only; NULL for none */
  HANDLE event_source; /* RegisterEventSourceW; NULL for none */
  int utc;
  /* Rotation (all under `lock`; max_bytes 0 = off, and the lock unused). */
  SRWLOCK lock;
  unsigned long long max_bytes;
  unsigned file_count;
  unsigned long long size; /* of the file, as far as we know (another instance may append too) */
  wchar_t path[PS_PATH_MAX];
} log__sink;

/* Process-wide by nature (like stderr itself): written by ps_log_open and
 * ps_log_close only, while no other thread logs; read by every thread. The
 * default lets code that never opens the log (unit tests) log to stderr. */
static log__sink log__the = {PS_LOG_INFO, PS_LOG_TO_STDERR, NULL, NULL, 0, SRWLOCK_INIT, 0, 0, 0, {0}};

/* Paths are UTF-8 (main.c converts the UTF-16 command line): wide APIs,
 * so a name outside the ANSI code page opens; a path that is not valid UTF-8
 * came from a configuration file saved as ANSI and is read in the ANSI code
 * page, as CreateFileA would (and ps_fopen does for the files common/ opens).
 * The wide form is kept: rotation renames with MoveFileExW. 0 or -1. */
static int log__wide_path(const char *path, wchar_t *wide, size_t cap) {
  uint16_t units[PS_PATH_MAX];
  int n = ps_utf8_to_utf16(path, units, PS_COUNTOF(units)), i;
  if (n < 0) return MultiByteToWideChar(CP_ACP, 0, path, -1, wide, (int)cap) > 0 ? 0 : -1;
  if ((size_t)n >= cap) return -1;
  for (i = 0; i <= n; i++) wide[i] = (wchar_t)units[i];
  return 0;
}

static HANDLE log__create_file(const wchar_t *path) {
  /* FILE_SHARE_DELETE: another instance may rotate (rename) the file while
   * we have it open. */
  const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  return CreateFileW(path, FILE_APPEND_DATA, share, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
}

static unsigned long long log__file_size(HANDLE h) {
  LARGE_INTEGER size;
  return GetFileSizeEx(h, &size) ? (unsigned long long)size.QuadPart : 0;
}

/* FILE.<index> (FILE itself for 0). */
static void log__rotated_name(const wchar_t *path, unsigned index, wchar_t *out, size_t cap) {
  if (index == 0) _snwprintf(out, cap, L"%ls", path);
  else _snwprintf(out, cap, L"%ls.%u", path, index);
  out[cap - 1] = L'\0';
}

/* Called with the lock held when the next line would pass max_bytes: shift
 * FILE.(n-1) to FILE.n ... FILE to FILE.1 (replacing the oldest), then start
 * a new FILE. Windows cannot rename a file over one that is open without
 * FILE_SHARE_DELETE, and our handle is closed first so our own rename never
 * meets it. Failures cannot be logged (we are the log): they go to stderr
 * when that is a sink, and writing goes on in whatever FILE is. */
static void log__rotate(log__sink *k) {
  wchar_t from[PS_PATH_MAX + 8], to[PS_PATH_MAX + 8];
  unsigned i;
  DWORD failed = 0;
  if (k->file != NULL) CloseHandle(k->file);
  k->file = NULL;
  if (k->file_count == 0) {
    if (!DeleteFileW(k->path) && GetLastError() != ERROR_FILE_NOT_FOUND) failed = GetLastError();
  } else {
    for (i = k->file_count; i >= 1; i--) {
      log__rotated_name(k->path, i - 1, from, PS_COUNTOF(from));
      log__rotated_name(k->path, i, to, PS_COUNTOF(to));
      if (!MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING) && GetLastError() != ERROR_FILE_NOT_FOUND && i == 1)
        failed = GetLastError();
    }
  }
  k->file = log__create_file(k->path);
  if (k->file == INVALID_HANDLE_VALUE) {
    if (failed == 0) failed = GetLastError();
    k->file = NULL;
  }
  /* After a failed rename FILE is still big: count from 0 so the next try
   * comes after another max_bytes, not at every line. */
  k->size = failed != 0 || k->file == NULL ? 0 : log__file_size(k->file);
  if (failed != 0 && (k->sinks & PS_LOG_TO_STDERR)) {
    char msg[200];
    ps_console_printf(stderr, "portserve: log file rotation failed: %s\n", ps_errstr(failed, msg, sizeof(msg)));
  }
}

int ps_log_open(const ps_log_config *cfg) {
  int err = 0;
  log__the.level = cfg->level;
  log__the.sinks = cfg->sinks;
  log__the.utc = cfg->utc;
  log__the.max_bytes = 0;
  log__the.file_count = cfg->file_count > LOG__FILES_MAX ? LOG__FILES_MAX : cfg->file_count;
  if (cfg->sinks & PS_LOG_TO_EVENTLOG)
    /* Succeeds even when the source is not registered (the events then go
     * to the Application log without message text): install registers it. */
    log__the.event_source = RegisterEventSourceW(NULL, PS_LOG_EVENT_SOURCE);
  if (cfg->file != NULL && cfg->file[0] != '\0') {
    /* FILE_APPEND_DATA without FILE_WRITE_DATA: every WriteFile lands at the
     * current end of the file, atomically, even with another writer (a
     * second instance, a console run next to the service). No CRT buffer:
     * a line is in the file when ps_log returns. */
    HANDLE h = INVALID_HANDLE_VALUE;
    if (log__wide_path(cfg->file, log__the.path, PS_COUNTOF(log__the.path)) != 0) err = ERROR_FILENAME_EXCED_RANGE;
    else h = log__create_file(log__the.path);
    if (h == INVALID_HANDLE_VALUE) {
      if (err == 0) err = (int)GetLastError();
    } else {
      log__the.file = h;
      log__the.size = log__file_size(h);
      log__the.max_bytes = cfg->file_max_bytes; /* rotation only with a file */
    }
  }
  return err;
}

void ps_log_close(void) {
  if (log__the.file != NULL) CloseHandle(log__the.file);
  if (log__the.event_source != NULL) DeregisterEventSource(log__the.event_source);
  log__the.file = NULL;
  log__the.event_source = NULL;
  log__the.sinks = PS_LOG_TO_STDERR;
  log__the.utc = 0;
  log__the.max_bytes = 0;
  log__the.file_count = 0;
  log__the.size = 0;
}

static void log__report_event(ps_log_level level, ps_log_event_id id, const char *text) {
  wchar_t wide[1024];
  const wchar_t *strings[1];
  WORD type = level == PS_LOG_ERROR  ? EVENTLOG_ERROR_TYPE
              : level == PS_LOG_WARN ? EVENTLOG_WARNING_TYPE
                                     : EVENTLOG_INFORMATION_TYPE;
  if (MultiByteToWideChar(CP_UTF8, 0, text, -1, wide, (int)PS_COUNTOF(wide)) == 0) {
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
  if (log__the.utc) GetSystemTime(&t);
  else GetLocalTime(&t);
  n = snprintf(line, sizeof(line), "%04u-%02u-%02u %02u:%02u:%02u.%03u%s %-5s ", t.wYear, t.wMonth, t.wDay, t.wHour,
               t.wMinute, t.wSecond, t.wMilliseconds, log__the.utc ? "Z" : "", names[level]);
  text = line + n;
  /* Leave room for "\r\n". */
  vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
  len = strlen(line);

  if (log__the.event_source != NULL && (event || level <= PS_LOG_WARN))
    log__report_event(level, event ? id : PS_EVENT_MESSAGE, text);

  /* CRLF in the file: operators read it with Windows tools. */
  line[len] = '\r';
  line[len + 1] = '\n';
  if (log__the.max_bytes == 0) {
    if (log__the.file != NULL) WriteFile(log__the.file, line, (DWORD)(len + 2), &written, NULL);
  } else {
    /* Rotation on: log__the.file changes under the lock only. */
    AcquireSRWLockExclusive(&log__the.lock);
    /* Another instance appending to the same file makes our count low:
     * ask the file before deciding to rotate. */
    if (log__the.size > 0 && log__the.size + len + 2 > log__the.max_bytes && log__the.file != NULL)
      log__the.size = log__file_size(log__the.file);
    if (log__the.size > 0 && log__the.size + len + 2 > log__the.max_bytes) log__rotate(&log__the);
    if (log__the.file != NULL && WriteFile(log__the.file, line, (DWORD)(len + 2), &written, NULL))
      log__the.size += written;
    ReleaseSRWLockExclusive(&log__the.lock);
  }
  if (log__the.sinks & PS_LOG_TO_STDERR) {
    line[len] = '\n';
    ps_console_write(stderr, line, len + 1);
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

void ps_log_limit_init(ps_log_limit *l, const char *what, unsigned window_ms) {
  l->what = what;
  l->window_ms = window_ms;
  l->window_start = 0;
  l->suppressed = 0;
  l->slot = 0;
  l->level = PS_LOG_WARN;
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
    ps_log((ps_log_level)l->level, "%s", l->line);
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

void ps_log_config_from_options(ps_log_config *cfg, const ps_options *o, unsigned sinks) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->level = (ps_log_level)o->log_level;
  cfg->sinks = sinks;
  cfg->file = o->log_file;
  cfg->file_max_bytes = o->log_max_size;
  cfg->file_count = o->log_files;
  cfg->utc = o->log_time == PS_LOG_TIME_UTC;
}
