/* Formatting of ps_stats for the console and the logs. */
#include "ps_stats.h"

#include <stdio.h>

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

char *ps_stats_format(const ps_stats *now, const ps_stats *prev, double elapsed_s, char *buf, size_t bufsize) {
  char in_total[32], in_rate[32], out_total[32], out_rate[32], mem[32];
  ps_format_bytes((double)now->bytes_in, in_total, sizeof(in_total));
  ps_format_bytes(stats__rate(now->bytes_in, prev->bytes_in, elapsed_s), in_rate, sizeof(in_rate));
  ps_format_bytes((double)now->bytes_out, out_total, sizeof(out_total));
  ps_format_bytes(stats__rate(now->bytes_out, prev->bytes_out, elapsed_s), out_rate, sizeof(out_rate));
  ps_format_bytes((double)now->process_private_bytes, mem, sizeof(mem));
  snprintf(buf, bufsize,
           "conns %llu open / %llu total | in %s %s/s | out %s %s/s | %.0f msg/s | udp %llu in %llu out %llu dropped"
           " | guard %llu port %llu rate | buffers %llu/%llu"
           " | timeouts %llu idle %llu linger %llu send | limits %llu waits %llu held %llu per-source"
           " | posted %llu accept %llu udp | errors %llu accept %llu udp %llu out-of-resources"
           " | process %llu handles %s",
           (unsigned long long)now->conns_open, (unsigned long long)now->conns_total, in_total, in_rate, out_total,
           out_rate, stats__rate(now->msgs_in, prev->msgs_in, elapsed_s), (unsigned long long)now->dgrams_in,
           (unsigned long long)now->dgrams_out, (unsigned long long)now->dgrams_dropped,
           (unsigned long long)(now->dgrams_dropped_port0 + now->dgrams_dropped_lowport + now->dgrams_dropped_loop),
           (unsigned long long)(now->dgrams_dropped_rate + now->dgrams_dropped_rate_total),
           (unsigned long long)now->buffers_in_use, (unsigned long long)now->buffers_live,
           (unsigned long long)now->timeouts_idle, (unsigned long long)now->timeouts_linger,
           (unsigned long long)now->timeouts_send, (unsigned long long)now->limit_waits,
           (unsigned long long)now->accepts_held, (unsigned long long)now->conns_refused_source,
           (unsigned long long)now->accepts_posted, (unsigned long long)now->udp_receives_posted,
           (unsigned long long)now->accept_errors, (unsigned long long)now->udp_recv_errors,
           (unsigned long long)now->conns_out_of_resources, (unsigned long long)now->process_handles, mem);
  return buf;
}
