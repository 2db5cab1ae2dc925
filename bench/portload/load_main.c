/* portload: the load generator's entry point. Parses the command line, runs
 * the backend for warm-up + duration while printing progress once a second,
 * then stops it and reports (human summary, and one JSON line with --json).
 * Portable: everything platform-specific is behind load_io.h and load_plat.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_conn.h"
#include "load_io.h"
#include "load_options.h"
#include "load_plat.h"

/* How often the main thread wakes to check for the end and idle progress. */
#define MAIN_TICK_MS 50u
/* How often it looks for stalled connections. */
#define MAIN_STALL_SCAN_NS 250000000u

/* Connections that stopped being answered: each connection slot is counted
 * once, the first time it is seen waiting longer than --stall-timeout. */
typedef struct main_stalls {
  unsigned char *seen; /* [connections] */
  uint64_t count;
  uint64_t next_scan;
} main_stalls;

static void main__scan_stalls(load_run *run, load_io *io, main_stalls *ms, uint64_t now) {
  uint64_t timeout = (uint64_t)(run->opt.stall_timeout_s * 1e9);
  unsigned i, n = load_io_conn_count(io);
  for (i = 0; i < n; i++) {
    if (ms->seen[i] || !load_conn_stalled(load_io_conn(io, i), now, timeout)) continue;
    ms->seen[i] = 1;
    ms->count++;
    load_run_log(run, "connection %u: no byte from the server for more than %.2f s while waiting for one (stalled)", i,
                 run->opt.stall_timeout_s);
  }
}

typedef struct main_totals {
  uint64_t msgs_total, msgs, bytes_out, bytes_in, errors, mismatches, refused, resets, conns_opened, lost, late;
  int64_t open;
} main_totals;

static void main__sum(load_io *io, main_totals *t) {
  unsigned i, n = load_io_stats_count(io);
  memset(t, 0, sizeof(*t));
  for (i = 0; i < n; i++) {
    load_stats *st = load_io_stats(io, i);
    t->msgs_total += load_stat_get(&st->msgs_total);
    t->msgs += load_stat_get(&st->msgs);
    t->bytes_out += load_stat_get(&st->bytes_out);
    t->bytes_in += load_stat_get(&st->bytes_in);
    t->errors += load_stat_get(&st->errors);
    t->mismatches += load_stat_get(&st->mismatches);
    t->refused += load_stat_get(&st->refused);
    t->resets += load_stat_get(&st->resets);
    t->conns_opened += load_stat_get(&st->conns_opened);
    t->lost += load_stat_get(&st->lost);
    t->late += load_stat_get(&st->late);
    t->open += atomic_load_explicit(&st->open, memory_order_relaxed);
  }
}

static double main__seconds(uint64_t ns) { return (double)ns / 1e9; }

/* "after 1.25 s", and with --idle-messages what the connections did first. */
static void main__idle_line(FILE *out, const load_options *o, const char *head, uint64_t all_open_ns) {
  fprintf(out, "%sall %u connections open after %.2f s", head, o->connections, main__seconds(all_open_ns));
  if (o->idle_messages > 0) fprintf(out, " (each after %u echoed message(s), now quiet)", o->idle_messages);
  fputc('\n', out);
}

/* Runs until run->t_end; prints a progress line per second. Returns the time
 * (ns after t_start) at which all connections were first open, or 0. */
static uint64_t main__wait(load_run *run, load_io *io, main_stalls *ms) {
  const load_options *o = &run->opt;
  main_totals prev, now;
  uint64_t next_report = run->t_start + 1000000000u, prev_t = run->t_start, all_open = 0;
  unsigned second = 0;
  memset(&prev, 0, sizeof(prev));
  for (;;) {
    uint64_t t = load_now_ns();
    if (t >= ms->next_scan) {
      main__scan_stalls(run, io, ms, t);
      ms->next_scan = t + MAIN_STALL_SCAN_NS;
    }
    if (t >= run->t_end) break;
    if (all_open == 0 && o->mode == LOAD_MODE_IDLE) {
      main__sum(io, &now);
      /* Every round trip of --idle-messages done: msgs_total counts them
       * whether or not they fell in the measured window. */
      if (now.open >= (int64_t)o->connections &&
          now.msgs_total >= (uint64_t)o->connections * (uint64_t)o->idle_messages) {
        all_open = t - run->t_start;
        /* bench.py and idle10k.sh wait for this line before they measure the
         * server's memory. */
        main__idle_line(stderr, o, "portload: idle: ", all_open);
      }
    }
    if (t >= next_report) {
      double dt = main__seconds(t - prev_t);
      main__sum(io, &now);
      second++;
      fprintf(stderr, "portload: [%3us]%s %9.0f msg/s %8.2f MB/s  open %lld  errors %llu  stalled %llu\n", second,
              t < run->t_measure ? " (warm-up)" : "", (double)(now.msgs_total - prev.msgs_total) / dt,
              (double)(now.msgs_total - prev.msgs_total) * o->size / dt / 1e6, (long long)now.open,
              (unsigned long long)now.errors, (unsigned long long)ms->count);
      prev = now;
      prev_t = t;
      next_report += 1000000000u;
    }
    {
      uint64_t left = run->t_end - t, wake = next_report - t;
      if (wake > left) wake = left;
      wake /= 1000000u;
      load_sleep_ms(wake < MAIN_TICK_MS ? (unsigned)wake + 1u : MAIN_TICK_MS);
    }
  }
  return all_open;
}

static void main__report(load_run *run, load_io *io, uint64_t all_open_ns, int64_t open_at_end, uint64_t stalls) {
  const load_options *o = &run->opt;
  main_totals tot;
  load_hist lat;
  unsigned i, n = load_io_stats_count(io);
  uint64_t per_min = UINT64_MAX, per_max = 0;
  double secs = main__seconds(run->t_end - run->t_measure);
  double rate, mbps, p50, p99, p999, lmin, lmax;
  int timed = o->mode == LOAD_MODE_ECHO || o->mode == LOAD_MODE_STORM || o->mode == LOAD_MODE_UDP ||
              (o->mode == LOAD_MODE_IDLE && o->idle_messages > 0);
  int udp = o->mode == LOAD_MODE_UDP;
  FILE *out = o->json ? stderr : stdout;
  char lat_json[200];

  main__sum(io, &tot);
  tot.open = open_at_end; /* the stop has closed them all by now */
  load_hist_init(&lat);
  for (i = 0; i < n; i++) load_hist_merge(&lat, &load_io_stats(io, i)->latency);
  for (i = 0; i < load_io_conn_count(io); i++) {
    uint64_t m = load_io_conn(io, i)->msgs;
    if (m < per_min) per_min = m;
    if (m > per_max) per_max = m;
  }
  if (per_min == UINT64_MAX) per_min = 0;
  rate = (double)tot.msgs / secs;
  mbps = rate * o->size / 1e6;
  p50 = (double)load_hist_quantile(&lat, 0.50) / 1e3;
  p99 = (double)load_hist_quantile(&lat, 0.99) / 1e3;
  p999 = (double)load_hist_quantile(&lat, 0.999) / 1e3;
  lmin = lat.count ? (double)lat.min / 1e3 : 0;
  lmax = (double)lat.max / 1e3;

  fprintf(out,
          "portload: %s to %s, %u connection(s) x %u bytes, pipeline %u, %u thread(s), %s backend, %.1f s measured\n",
          load_mode_name(o->mode), run->target_name, o->connections, o->size, o->pipeline, n, load_io_backend(), secs);
  fprintf(out, "  %-14s %llu (%.0f/s, %.2f MB/s)\n",
          o->mode == LOAD_MODE_STORM ? "round trips"
          : udp                      ? "datagrams"
                                     : "messages",
          (unsigned long long)tot.msgs, rate, mbps);
  if (timed && lat.count > 0)
    fprintf(out, "  %-14s p50 %.1f us, p99 %.1f us, p99.9 %.1f us (min %.1f, max %.1f)%s\n", "latency", p50, p99, p999,
            lmin, lmax, o->mode == LOAD_MODE_STORM ? ", connect to echo" : "");
  fprintf(out, "  %-14s min %llu, max %llu messages\n", "per connection", (unsigned long long)per_min,
          (unsigned long long)per_max);
  if (udp)
    fprintf(out, "  %-14s %llu (%.3f%% of those sent), %llu echoed after counted lost (loss timeout %.3f s)\n", "lost",
            (unsigned long long)tot.lost,
            tot.msgs + tot.lost ? 100.0 * (double)tot.lost / (double)(tot.msgs + tot.lost) : 0.0,
            (unsigned long long)tot.late, o->loss_timeout_s);
  fprintf(out, "  %-14s %llu opened, %lld open at the end, %llu refused, %llu reset or closed by the server\n",
          "connections", (unsigned long long)tot.conns_opened, (long long)tot.open, (unsigned long long)tot.refused,
          (unsigned long long)tot.resets);
  if (o->mode == LOAD_MODE_IDLE) {
    if (all_open_ns) {
      fprintf(out, "  %-14s ", "idle");
      main__idle_line(out, o, "", all_open_ns);
    } else {
      fprintf(out, "  %-14s never all %u open at once%s\n", "idle", o->connections,
              o->idle_messages > 0 ? " with their round trips done" : "");
    }
  }
  fprintf(out, "  %-14s %llu (byte mismatches %llu)\n", "errors", (unsigned long long)tot.errors,
          (unsigned long long)tot.mismatches);
  fprintf(out, "  %-14s %llu connection(s) got no byte back for more than %.2f s while waiting\n", "stalled",
          (unsigned long long)stalls, o->stall_timeout_s);

  if (!o->json) return;
  if (timed && lat.count > 0)
    snprintf(lat_json, sizeof(lat_json), "{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"min\":%.1f,\"max\":%.1f}", p50,
             p99, p999, lmin, lmax);
  else snprintf(lat_json, sizeof(lat_json), "null");
  printf("{\"tool\":\"portload\",\"backend\":\"%s\",\"mode\":\"%s\",\"target\":\"%s\",\"connections\":%u,"
         "\"size\":%u,\"pipeline\":%u,\"threads\":%u,\"duration_s\":%.3f,\"warmup_s\":%.3f,"
         "\"messages\":%llu,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,\"latency_us\":%s,"
         "\"per_conn_msgs\":{\"min\":%llu,\"max\":%llu},\"conns_opened\":%llu,\"conns_per_s\":%.1f,"
         "\"open_at_end\":%lld,\"all_open_s\":",
         load_io_backend(), load_mode_name(o->mode), run->target_name, o->connections, o->size, o->pipeline, n, secs,
         o->warmup_s, (unsigned long long)tot.msgs, rate, mbps, lat_json, (unsigned long long)per_min,
         (unsigned long long)per_max, (unsigned long long)tot.conns_opened, o->mode == LOAD_MODE_STORM ? rate : 0.0,
         (long long)tot.open);
  if (all_open_ns) printf("%.3f", main__seconds(all_open_ns));
  else printf("null");
  printf(",\"bytes_out\":%llu,\"bytes_in\":%llu,\"errors\":%llu,\"mismatches\":%llu,\"refused\":%llu,"
         "\"resets\":%llu,\"stalls\":%llu,\"stall_timeout_s\":%.3f,\"lost\":%llu,\"late\":%llu,"
         "\"loss_timeout_s\":%.3f,\"idle_messages\":%u}\n",
         (unsigned long long)tot.bytes_out, (unsigned long long)tot.bytes_in, (unsigned long long)tot.errors,
         (unsigned long long)tot.mismatches, (unsigned long long)tot.refused, (unsigned long long)tot.resets,
         (unsigned long long)stalls, o->stall_timeout_s, (unsigned long long)tot.lost, (unsigned long long)tot.late,
         o->loss_timeout_s, o->idle_messages);
  fflush(stdout);
}

int main(int argc, char **argv) {
  load_options o;
  load_run run;
  load_io *io = NULL;
  main_totals tot;
  main_stalls stalls;
  char err[512];
  uint64_t all_open;
  int rc;

  if (load_options_parse(argc, argv, &o, err, sizeof(err)) != 0) {
    fprintf(stderr, "portload: %s\n\n%s", err, load_options_usage());
    return 2;
  }
  if (o.help) {
    fputs(load_options_usage(), stdout);
    return 0;
  }
  if (load_plat_init() != 0) return 1;
  if (load_run_init(&run, &o) != 0) {
    fprintf(stderr, "portload: out of memory\n");
    return 1;
  }
  if (load_resolve(o.host, o.port, &run.target, err, sizeof(err)) != 0) {
    fprintf(stderr, "portload: --target: %s\n", err);
    load_run_close(&run);
    return 1;
  }
  load_addr_format(&run.target, run.target_name, sizeof(run.target_name));
  if (load_io_new(&run, &io) != 0) {
    load_run_close(&run);
    return 1;
  }

  memset(&stalls, 0, sizeof(stalls));
  stalls.seen = (unsigned char *)calloc(o.connections, 1);
  if (stalls.seen == NULL) {
    fprintf(stderr, "portload: out of memory\n");
    load_io_delete(io);
    load_run_close(&run);
    return 1;
  }
  run.t_start = load_now_ns();
  run.t_measure = run.t_start + (uint64_t)(o.warmup_s * 1e9);
  run.t_end = run.t_measure + (uint64_t)(o.duration_s * 1e9);
  if (load_io_start(io) != 0) {
    atomic_store(&run.stopping, 1);
    load_io_delete(io);
    load_run_close(&run);
    free(stalls.seen);
    return 1;
  }
  all_open = main__wait(&run, io, &stalls);
  main__scan_stalls(&run, io, &stalls, load_now_ns());
  main__sum(io, &tot);
  atomic_store(&run.stopping, 1);
  load_io_stop(io);

  main__report(&run, io, all_open, tot.open, stalls.count);
  main__sum(io, &tot);
  rc = tot.errors == 0 && stalls.count == 0 ? 0 : 1;
  if ((o.mode == LOAD_MODE_ECHO || o.mode == LOAD_MODE_UDP) && tot.msgs == 0) {
    fprintf(stderr, "portload: no message completed in the measured time\n");
    rc = 1;
  }
  if (o.mode == LOAD_MODE_STORM && tot.msgs == 0) {
    fprintf(stderr, "portload: no connection completed its round trip in the measured time\n");
    rc = 1;
  }
  load_io_delete(io);
  load_run_close(&run);
  load_plat_cleanup();
  free(stalls.seen);
  return rc;
}
