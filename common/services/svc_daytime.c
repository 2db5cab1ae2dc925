/* daytime (RFC 867): the current UTC date and time as one human-readable
 * line; TCP then closes, UDP replies with one datagram. The calendar
 * arithmetic is our own (days to civil date), so it is thread-safe and
 * identical on every platform. */
#include <stdio.h>
#include <time.h>

#include "ps_handler.h"
#include "services.h"

size_t ps_daytime_format(int64_t t, char *buf, size_t bufsize) {
  static const char *const weekdays[] = {"Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"};
  static const char *const months[] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  int64_t secs = t - days * 86400;
  /* Civil date from days since 1970-01-01 (H. Hinnant's algorithm). */
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t wd = ((days % 7) + 7) % 7; /* 1970-01-01 was a Thursday */
  int n;
  if (m <= 2) y++;
  n = snprintf(buf, bufsize, "%s, %s %d, %lld %02d:%02d:%02d-UTC\r\n", weekdays[wd], months[m - 1], (int)d,
               (long long)y, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
  return n < 0 ? 0 : ((size_t)n < bufsize ? (size_t)n : bufsize - 1);
}

static size_t daytime__now(char *buf, size_t bufsize) { return ps_daytime_format((int64_t)time(NULL), buf, bufsize); }

static void daytime__on_open(ps_session *s) {
  char line[96];
  size_t n = daytime__now(line, sizeof(line));
  (void)ps_session_send(s, line, n);
  ps_session_close(s);
}

static void daytime__on_datagram(ps_datagram *d, const void *data, size_t len) {
  char line[96];
  size_t n = daytime__now(line, sizeof(line));
  (void)data;
  (void)len;
  (void)ps_datagram_reply(d, line, n);
}

const ps_handler ps_svc_daytime = {
  .name = "daytime",
  .on_open = daytime__on_open, /* no on_data: input is read and dropped while the reply goes out */
  .on_datagram = daytime__on_datagram,
};
