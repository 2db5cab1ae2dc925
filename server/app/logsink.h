/* Where portserve's log lines go (the sink of include/ps_log.h): stderr in
 * the console, the Windows Event Log as a service, and a log file rotated
 * by size, as text or as JSON lines; changed live by a reload. */
#ifndef PS_LOGSINK_H
#define PS_LOGSINK_H

#include "ps_log.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where lines go (ps_logsink_config.sinks). */
#define PS_LOG_TO_STDERR 0x1u
#define PS_LOG_TO_EVENTLOG 0x2u /* warnings, errors and tagged lines (ps_log_event) */

/* The Event Log source the service reports to; `portserve install` and the
 * MSI register it under HKLM\SYSTEM\CurrentControlSet\Services\EventLog\
 * Application with portserve.exe as its EventMessageFile. */
#define PS_LOG_EVENT_SOURCE PS_WIDE(PS_PRODUCT_NAME)

/* The Event Log ID of a line: PS_EVENT_x + 1 (1 for an untagged warning or
 * error). server/app/portserve.rc's message table has each ID with the
 * text "%1"; the README ("Install as a service") lists them. */
#define PS_LOG_EVENT_ID(event) ((unsigned)(event) + 1u)

typedef enum ps_logsink_format { PS_LOGSINK_TEXT = 0, PS_LOGSINK_JSON } ps_logsink_format;

typedef struct ps_logsink_config {
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
  int utc;                  /* timestamps in UTC ("...Z") instead of local time with its offset */
  ps_logsink_format format; /* of stderr and the file; the Event Log gets the message alone */
} ps_logsink_config;

/* Installs the sink with `cfg` (ps_log_set_sink). Call once, before other
 * threads log. If the log file cannot be opened the other sinks are set
 * anyway and its Win32 error is returned (the caller words the warning). */
int ps_logsink_open(const ps_logsink_config *cfg);

/* Applies `cfg` to the running sink (a reload): level, file (closed and
 * the new one opened; on failure the old one stays and its error is
 * returned), rotation, time zone and format, each from the next line on.
 * `sinks` is kept as it is. Any thread, any time. */
int ps_logsink_reconfigure(const ps_logsink_config *cfg);

/* Closes the file and the Event Log handle, and sets the default sink back.
 * Call after every thread that logs has ended. */
void ps_logsink_close(void);

/* The sink configuration for portserve's options (--log-level, --log-file,
 * --log-max-size, --log-files, --log-time, --log-format); `sinks` as given. */
struct ps_options;
void ps_logsink_config_from_options(ps_logsink_config *cfg, const struct ps_options *o, unsigned sinks);

/* One line as the text format writes it, without the line end:
 * "2026-12-07T06:02:27.041+01:00 info  message". Returns its length. */
size_t ps_logsink_format_text(const ps_log_record *rec, int utc, char *buf, size_t size);
/* The same as one JSON object: {"time":"...","level":"info","msg":"..."}
 * (and "event":"bind_failed" for a tagged line). */
size_t ps_logsink_format_json(const ps_log_record *rec, int utc, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
