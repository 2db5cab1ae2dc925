/* The counter list as data (ps_stat_at) and the console's stats line, both
 * made from PS_STATS (ps_stats.h). */
#include "ps_stats.h"

#include <stdio.h>
#include <string.h>

static const ps_stat_def stats__defs[PS_STAT_COUNT] = {
#define STATS__DEF(field, kind, metric, label, help, line, div) \
  {#field, kind, metric, label, help, line, div, offsetof(ps_stats, field)},
  PS_STATS(STATS__DEF)
#undef STATS__DEF
};

const ps_stat_def *ps_stat_at(size_t i) { return i < PS_STAT_COUNT ? &stats__defs[i] : NULL; }

uint64_t ps_stat_value(const ps_stats *s, size_t i) {
  uint64_t v;
  memcpy(&v, (const char *)s + stats__defs[i].offset, sizeof(v));
  return v;
}

static const ps_listener_stat_def stats__listener_defs[PS_LSTAT_COUNT] = {
#define STATS__LDEF(field, metric, transport, help) \
  {#field, metric, transport, help, offsetof(ps_listener_stats, field)},
  PS_LISTENER_STATS(STATS__LDEF)
#undef STATS__LDEF
};

const ps_listener_stat_def *ps_listener_stat_at(size_t i) {
  return i < PS_LSTAT_COUNT ? &stats__listener_defs[i] : NULL;
}

uint64_t ps_listener_stat_value(const ps_listener_stats *s, size_t i) {
  uint64_t v;
  memcpy(&v, (const char *)s + stats__listener_defs[i].offset, sizeof(v));
  return v;
}

const char *ps_error_site_name(ps_error_site site) {
  static const char *const names[PS_SITE_COUNT] = {"accept", "recv", "send", "udp_recv", "udp_send"};
  return (unsigned)site < PS_SITE_COUNT ? names[site] : "other";
}

char *ps_format_bytes(double bytes, char *buf, size_t bufsize) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t u = 0;
  /* Above bytes, 1023.95 would print as "1024.0": move up a unit first. */
  while ((u == 0 ? bytes >= 1024.0 : bytes >= 1023.95) && u + 1 < sizeof(units) / sizeof(units[0])) {
    bytes /= 1024.0;
    u++;
  }
  if (u == 0) snprintf(buf, bufsize, "%.0f %s", bytes, units[u]);
  else snprintf(buf, bufsize, "%.1f %s", bytes, units[u]);
  return buf;
}

static double stats__rate(uint64_t now, uint64_t prev, double elapsed_s) {
  if (elapsed_s <= 0.0 || now < prev) return 0.0;
  return (double)(now - prev) / elapsed_s;
}

/* Appends to buf at *len, never past size (a cut line stays terminated). */
static void stats__put(char *buf, size_t size, size_t *len, const char *text) {
  size_t n = strlen(text);
  if (*len + 1 >= size) return;
  if (n > size - 1 - *len) n = size - 1 - *len;
  memcpy(buf + *len, text, n);
  *len += n;
  buf[*len] = '\0';
}

char *ps_stats_format(const ps_stats *now, const ps_stats *prev, double elapsed_s, char *buf, size_t bufsize) {
  char group[32] = "", piece[96], value[32], rate[32];
  size_t len = 0, i;
  if (bufsize == 0) return buf;
  buf[0] = '\0';
  for (i = 0; i < PS_STAT_COUNT; i++) {
    const ps_stat_def *d = &stats__defs[i];
    const char *space = strchr(d->line, ' ');
    const char *word = space != NULL ? space + 1 : "";
    int with_rate = word[0] == '+', bytes = strstr(d->metric, "_bytes") != NULL;
    size_t glen = space != NULL ? (size_t)(space - d->line) : strlen(d->line);
    uint64_t v = ps_stat_value(now, i);
    if (d->line[0] == '\0') continue;
    if (with_rate) word++;
    if (glen >= sizeof(group) || strncmp(group, d->line, glen) != 0 || group[glen] != '\0') {
      memcpy(group, d->line, glen < sizeof(group) ? glen : sizeof(group) - 1);
      group[glen < sizeof(group) ? glen : sizeof(group) - 1] = '\0';
      snprintf(piece, sizeof(piece), "%s%s", len > 0 ? " | " : "", group);
      stats__put(buf, bufsize, &len, piece);
    }
    if (bytes) ps_format_bytes((double)v, value, sizeof(value));
    else snprintf(value, sizeof(value), "%llu", (unsigned long long)v);
    snprintf(piece, sizeof(piece), " %s%s%s", value, word[0] != '\0' ? " " : "", word);
    stats__put(buf, bufsize, &len, piece);
    if (with_rate) {
      double r = stats__rate(v, ps_stat_value(prev, i), elapsed_s);
      if (bytes) ps_format_bytes(r, rate, sizeof(rate));
      else snprintf(rate, sizeof(rate), "%.0f", r);
      snprintf(piece, sizeof(piece), " %s/s", rate);
      stats__put(buf, bufsize, &len, piece);
    }
  }
  return buf;
}
