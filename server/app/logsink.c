/* portserve's log sink (logsink.h): timestamped lines to stderr and/or an
 * append-only log file (rotated by size), as text or JSON lines; warnings,
 * errors and tagged conditions to the Windows Event Log, each condition
 * with its own event ID. One lock guards the file, so a line never lands in
 * a file being rotated or swapped by a reload, and lines from different
 * threads never interleave. */
#include "logsink.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "path.h"
#include "ps_win.h"

/* Rotated files are FILE.1 .. FILE.<count>: at most three digits. */
#define LOGSINK__FILES_MAX 999

typedef struct logsink {
  SRWLOCK lock; /* the fields below; writers hold it exclusively */
  volatile LONG sinks;
  int utc;
  ps_logsink_format format;
  HANDLE file;         /* opened for FILE_APPEND_DATA only; NULL for none */
  HANDLE event_source; /* RegisterEventSourceW; NULL for none */
  unsigned long long max_bytes;
  unsigned file_count;
  unsigned long long size; /* of the file, as far as we know (another instance may append too) */
  wchar_t path[PS_PATH_MAX];
} logsink;

/* Process-wide, as the sink it implements (ps_log_set_sink). */
static logsink logsink__the = {SRWLOCK_INIT, PS_LOG_TO_STDERR, 0, PS_LOGSINK_TEXT, NULL, NULL, 0, 0, 0, {0}};

/* Paths are UTF-8 (main.c converts the UTF-16 command line): wide APIs,
 * so a name outside the ANSI code page opens; a path that is not valid UTF-8
 * came from a configuration file saved as ANSI and is read in the ANSI code
 * page, as CreateFileA would (and ps_fopen does for the files common/ opens).
 * The wide form is kept: rotation renames with MoveFileExW. 0 or -1. */
static int logsink__wide_path(const char *path, wchar_t *wide, size_t cap) {
  uint16_t units[PS_PATH_MAX];
  int n = ps_utf8_to_utf16(path, units, PS_COUNTOF(units)), i;
  if (n < 0) return MultiByteToWideChar(CP_ACP, 0, path, -1, wide, (int)cap) > 0 ? 0 : -1;
  if ((size_t)n >= cap) return -1;
  for (i = 0; i <= n; i++) wide[i] = (wchar_t)units[i];
  return 0;
}

static HANDLE logsink__create_file(const wchar_t *path) {
  /* FILE_APPEND_DATA without FILE_WRITE_DATA: every WriteFile lands at the
   * current end of the file, atomically, even with another writer (a
   * second instance, a console run next to the service). No CRT buffer: a
   * line is in the file when ps_log returns. FILE_SHARE_DELETE: another
   * instance may rotate (rename) the file while we have it open. */
  const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  return CreateFileW(path, FILE_APPEND_DATA, share, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
}

static unsigned long long logsink__file_size(HANDLE h) {
  LARGE_INTEGER size;
  return GetFileSizeEx(h, &size) ? (unsigned long long)size.QuadPart : 0;
}

/* FILE.<index> (FILE itself for 0). */
static void logsink__rotated_name(const wchar_t *path, unsigned index, wchar_t *out, size_t cap) {
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
static void logsink__rotate(logsink *k) {
  wchar_t from[PS_PATH_MAX + 8], to[PS_PATH_MAX + 8];
  unsigned i;
  DWORD failed = 0;
  if (k->file != NULL) CloseHandle(k->file);
  k->file = NULL;
  if (k->file_count == 0) {
    if (!DeleteFileW(k->path) && GetLastError() != ERROR_FILE_NOT_FOUND) failed = GetLastError();
  } else {
    for (i = k->file_count; i >= 1; i--) {
      logsink__rotated_name(k->path, i - 1, from, PS_COUNTOF(from));
      logsink__rotated_name(k->path, i, to, PS_COUNTOF(to));
      if (!MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING) && GetLastError() != ERROR_FILE_NOT_FOUND && i == 1)
        failed = GetLastError();
    }
  }
  k->file = logsink__create_file(k->path);
  if (k->file == INVALID_HANDLE_VALUE) {
    if (failed == 0) failed = GetLastError();
    k->file = NULL;
  }
  /* After a failed rename FILE is still big: count from 0 so the next try
   * comes after another max_bytes, not at every line. */
  k->size = failed != 0 || k->file == NULL ? 0 : logsink__file_size(k->file);
  if (failed != 0 && (k->sinks & PS_LOG_TO_STDERR)) {
    char msg[200];
    ps_console_printf(stderr, "portserve: log file rotation failed: %s\n", ps_errstr(failed, msg, sizeof(msg)));
  }
}

static void logsink__report_event(HANDLE source, const ps_log_record *rec) {
  wchar_t wide[1024];
  const wchar_t *strings[1];
  WORD type = rec->level == PS_LOG_ERROR  ? EVENTLOG_ERROR_TYPE
              : rec->level == PS_LOG_WARN ? EVENTLOG_WARNING_TYPE
                                          : EVENTLOG_INFORMATION_TYPE;
  if (MultiByteToWideChar(CP_UTF8, 0, rec->text, -1, wide, (int)PS_COUNTOF(wide)) == 0) {
    wide[PS_COUNTOF(wide) - 1] = L'\0'; /* too long: ReportEventW gets what fitted */
  }
  strings[0] = wide;
  /* Nothing sensible to do if it fails: the line is in the other sinks. */
  ReportEventW(source, type, 0, (DWORD)PS_LOG_EVENT_ID(rec->event), NULL, 1, 0, strings, NULL);
}

size_t ps_logsink_format_text(const ps_log_record *rec, int utc, char *buf, size_t size) {
  char when[40];
  int n = snprintf(buf, size, "%s %-5s %s", ps_log_timestamp(rec->unix_ms, utc, when, sizeof(when)),
                   ps_log_level_name(rec->level), rec->text);
  if (n < 0) return 0;
  return (size_t)n < size ? (size_t)n : size - 1;
}

/* Appends `s` as the body of a JSON string (quotes and control characters
 * escaped; UTF-8 passed through). Returns the new length. */
static size_t logsink__json_escape(char *buf, size_t size, size_t len, const char *s) {
  for (; *s != '\0' && len + 7 < size; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[len++] = '\\';
      buf[len++] = (char)c;
    } else if (c < 0x20) {
      len += (size_t)snprintf(buf + len, size - len, "\\u%04x", c);
    } else {
      buf[len++] = (char)c;
    }
  }
  buf[len] = '\0';
  return len;
}

size_t ps_logsink_format_json(const ps_log_record *rec, int utc, char *buf, size_t size) {
  char when[40];
  int n = snprintf(buf, size, "{\"time\":\"%s\",\"level\":\"%s\",",
                   ps_log_timestamp(rec->unix_ms, utc, when, sizeof(when)), ps_log_level_name(rec->level));
  size_t len;
  if (n < 0 || (size_t)n >= size) return 0;
  len = (size_t)n;
  if (rec->event != PS_EVENT_NONE)
    len += (size_t)snprintf(buf + len, size - len, "\"event\":\"%s\",", ps_event_name(rec->event));
  if (len + 8 >= size) return 0;
  len += (size_t)snprintf(buf + len, size - len, "\"msg\":\"");
  len = logsink__json_escape(buf, size - 2, len, rec->text);
  buf[len++] = '"';
  buf[len++] = '}';
  buf[len] = '\0';
  return len;
}

static void logsink__write(void *ctx, const ps_log_record *rec) {
  logsink *k = (logsink *)ctx;
  char line[2200];
  size_t len;
  DWORD written;
  AcquireSRWLockExclusive(&k->lock);
  if (k->event_source != NULL && (rec->event != PS_EVENT_NONE || rec->level <= PS_LOG_WARN))
    logsink__report_event(k->event_source, rec);
  len = k->format == PS_LOGSINK_JSON ? ps_logsink_format_json(rec, k->utc, line, sizeof(line) - 2)
                                     : ps_logsink_format_text(rec, k->utc, line, sizeof(line) - 2);
  if (k->file != NULL) {
    /* CRLF in the file: operators read it with Windows tools. */
    line[len] = '\r';
    line[len + 1] = '\n';
    if (k->max_bytes != 0) {
      /* Another instance appending to the same file makes our count low:
       * ask the file before deciding to rotate. */
      if (k->size > 0 && k->size + len + 2 > k->max_bytes) k->size = logsink__file_size(k->file);
      if (k->size > 0 && k->size + len + 2 > k->max_bytes) logsink__rotate(k);
    }
    if (k->file != NULL && WriteFile(k->file, line, (DWORD)(len + 2), &written, NULL)) k->size += written;
  }
  if (k->sinks & PS_LOG_TO_STDERR) {
    line[len] = '\n';
    ps_console_write(stderr, line, len + 1);
  }
  ReleaseSRWLockExclusive(&k->lock);
}

/* Opens cfg's log file into *file, *size and `path`; 0 or a Win32 error
 * (nothing opened). */
static int logsink__open_file(const ps_logsink_config *cfg, wchar_t *path, HANDLE *file, unsigned long long *size) {
  HANDLE h;
  *file = NULL;
  *size = 0;
  if (cfg->file == NULL || cfg->file[0] == '\0') return 0;
  if (logsink__wide_path(cfg->file, path, PS_PATH_MAX) != 0) return ERROR_FILENAME_EXCED_RANGE;
  h = logsink__create_file(path);
  if (h == INVALID_HANDLE_VALUE) return (int)GetLastError();
  *file = h;
  *size = logsink__file_size(h);
  return 0;
}

/* The settings of `cfg` a reload may change (lock held). */
static void logsink__set(logsink *k, const ps_logsink_config *cfg) {
  k->utc = cfg->utc;
  k->format = cfg->format;
  k->file_count = cfg->file_count > LOGSINK__FILES_MAX ? LOGSINK__FILES_MAX : cfg->file_count;
  k->max_bytes = k->file != NULL ? cfg->file_max_bytes : 0; /* rotation only with a file */
  ps_log_set_level(cfg->level);
}

int ps_logsink_open(const ps_logsink_config *cfg) {
  logsink *k = &logsink__the;
  int err;
  AcquireSRWLockExclusive(&k->lock);
  k->sinks = (LONG)cfg->sinks;
  if (cfg->sinks & PS_LOG_TO_EVENTLOG)
    /* Succeeds even when the source is not registered (the events then go
     * to the Application log without message text): install registers it. */
    k->event_source = RegisterEventSourceW(NULL, PS_LOG_EVENT_SOURCE);
  err = logsink__open_file(cfg, k->path, &k->file, &k->size);
  logsink__set(k, cfg);
  ReleaseSRWLockExclusive(&k->lock);
  ps_log_set_sink(logsink__write, k);
  return err;
}

int ps_logsink_reconfigure(const ps_logsink_config *cfg) {
  logsink *k = &logsink__the;
  wchar_t path[PS_PATH_MAX];
  HANDLE file;
  unsigned long long size;
  int err = 0, same;
  AcquireSRWLockExclusive(&k->lock);
  same = (cfg->file == NULL || cfg->file[0] == '\0') ? k->file == NULL
                                                     : logsink__wide_path(cfg->file, path, PS_COUNTOF(path)) == 0 &&
                                                         k->file != NULL && _wcsicmp(path, k->path) == 0;
  if (!same) {
    err = logsink__open_file(cfg, path, &file, &size);
    if (err == 0) {
      if (k->file != NULL) CloseHandle(k->file);
      k->file = file;
      k->size = size;
      memcpy(k->path, path, sizeof(path));
    }
  }
  logsink__set(k, cfg);
  ReleaseSRWLockExclusive(&k->lock);
  return err;
}

void ps_logsink_close(void) {
  logsink *k = &logsink__the;
  ps_log_set_sink(NULL, NULL);
  AcquireSRWLockExclusive(&k->lock);
  if (k->file != NULL) CloseHandle(k->file);
  if (k->event_source != NULL) DeregisterEventSource(k->event_source);
  k->file = NULL;
  k->event_source = NULL;
  k->sinks = PS_LOG_TO_STDERR;
  k->utc = 0;
  k->format = PS_LOGSINK_TEXT;
  k->max_bytes = 0;
  k->file_count = 0;
  k->size = 0;
  ReleaseSRWLockExclusive(&k->lock);
}

void ps_logsink_config_from_options(ps_logsink_config *cfg, const ps_options *o, unsigned sinks) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->level = (ps_log_level)o->log_level;
  cfg->sinks = sinks;
  cfg->file = o->log_file;
  cfg->file_max_bytes = o->log_max_size;
  cfg->file_count = o->log_files;
  cfg->utc = o->log_time == PS_LOG_TIME_UTC;
  cfg->format = o->log_format == PS_LOG_FORMAT_JSON ? PS_LOGSINK_JSON : PS_LOGSINK_TEXT;
}
