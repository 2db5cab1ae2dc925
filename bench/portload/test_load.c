/* Unit tests of portload's portable parts, without sockets: the histogram's
 * bucket layout and quantiles, the command line, and the connection state
 * machine (pipelining, verification, mismatch and overrun detection, storm
 * cycles, chargen, idle connections' round trips). Plain C, no framework: prints "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_conn.h"
#include "load_hist.h"
#include "load_options.h"

static int test__passed, test__failed;

#define CHECK(cond) \
  do { \
    if (cond) { \
      test__passed++; \
    } else { \
      test__failed++; \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    } \
  } while (0)

static void test_hist_buckets_cover_every_value_within_3_percent(void) {
  uint64_t v = 0;
  unsigned prev = 0;
  int ok_range = 1, ok_bound = 1, ok_monotonic = 1;
  while (v < UINT64_MAX / 2) {
    unsigned i = load_hist_index(v);
    uint64_t up = load_hist_upper(i);
    if (i >= LOAD_HIST_BUCKETS) ok_range = 0;
    if (up < v || up - v > v / LOAD_HIST_SUB + 1) ok_bound = 0;
    if (i < prev) ok_monotonic = 0;
    prev = i;
    v = v < 100 ? v + 1 : v + v / 7;
  }
  CHECK(ok_range);
  CHECK(ok_bound);
  CHECK(ok_monotonic);
  CHECK(load_hist_index(UINT64_MAX) == LOAD_HIST_BUCKETS - 1);
  CHECK(load_hist_upper(LOAD_HIST_BUCKETS - 1) == UINT64_MAX);
}

static void test_hist_quantiles(void) {
  load_hist h, other;
  uint64_t v, p50, p99;
  load_hist_init(&h);
  load_hist_init(&other);
  CHECK(load_hist_quantile(&h, 0.5) == 0);
  for (v = 1; v <= 5000; v++) load_hist_record(v <= 2500 ? &h : &other, v * 1000);
  load_hist_merge(&h, &other);
  p50 = load_hist_quantile(&h, 0.5);
  p99 = load_hist_quantile(&h, 0.99);
  CHECK(h.count == 5000);
  CHECK(p50 >= 2500000 && p50 <= 2500000 + 2500000 / 32);
  CHECK(p99 >= 4950000 && p99 <= 4950000 + 4950000 / 32);
  CHECK(load_hist_quantile(&h, 1.0) == 5000000);
  CHECK(load_hist_quantile(&h, 0.999) <= 5000000);
  CHECK(h.min == 1000);
}

static int test__parse(const char *line, load_options *o, char *err, size_t size) {
  char buf[512], *argv[32];
  int argc = 0;
  char *tok;
  snprintf(buf, sizeof(buf), "portload %s", line);
  for (tok = strtok(buf, " "); tok != NULL && argc < 32; tok = strtok(NULL, " ")) argv[argc++] = tok;
  return load_options_parse(argc, argv, o, err, size);
}

static void test_options(void) {
  load_options o;
  char err[256];
  CHECK(test__parse("--target [::1]:7007 --size=100 --mode storm --connections 256 --json", &o, err, sizeof(err)) == 0);
  CHECK(strcmp(o.host, "::1") == 0 && o.port == 7007 && o.size == 100 && o.mode == LOAD_MODE_STORM &&
        o.connections == 256 && o.json == 1 && o.pipeline == 1);
  CHECK(test__parse("--target localhost:1 --duration 0.5 --warmup=1", &o, err, sizeof(err)) == 0);
  CHECK(o.duration_s == 0.5 && o.warmup_s == 1.0 && strcmp(o.host, "localhost") == 0);
  CHECK(test__parse("--help", &o, err, sizeof(err)) == 0 && o.help);
  CHECK(test__parse("--target 127.0.0.1:7 --bogus", &o, err, sizeof(err)) != 0 && strstr(err, "--bogus") != NULL);
  CHECK(test__parse("--target 127.0.0.1:7 --pipeline 0", &o, err, sizeof(err)) != 0 &&
        strstr(err, "--pipeline") != NULL);
  CHECK(test__parse("--target 127.0.0.1:7 --size 12x", &o, err, sizeof(err)) != 0 && strstr(err, "--size") != NULL);
  CHECK(test__parse("--target 127.0.0.1:70000", &o, err, sizeof(err)) != 0 && strstr(err, "port") != NULL);
  CHECK(test__parse("--target ::1:7", &o, err, sizeof(err)) != 0 && strstr(err, "--target") != NULL);
  CHECK(test__parse("--size 64", &o, err, sizeof(err)) != 0 && strstr(err, "--target") != NULL);
  CHECK(test__parse("--target 127.0.0.1:7 --threads", &o, err, sizeof(err)) != 0 &&
        strstr(err, "--threads needs a value") != NULL);
  CHECK(test__parse("--target 127.0.0.1:7 --size 1048576 --pipeline 1024", &o, err, sizeof(err)) != 0);
  CHECK(test__parse("--target 127.0.0.1:7 --mode udp --loss-timeout 0.25", &o, err, sizeof(err)) == 0 &&
        o.mode == LOAD_MODE_UDP && o.loss_timeout_s == 0.25);
  CHECK(test__parse("--target 127.0.0.1:7 --mode udp --size 4", &o, err, sizeof(err)) != 0 &&
        strstr(err, "--size") != NULL);
  CHECK(test__parse("--target 127.0.0.1:7 --mode idle", &o, err, sizeof(err)) == 0 && o.idle_messages == 0);
  CHECK(test__parse("--target 127.0.0.1:7 --mode idle --idle-messages 1", &o, err, sizeof(err)) == 0 &&
        o.idle_messages == 1);
  CHECK(test__parse("--target 127.0.0.1:7 --idle-messages 1", &o, err, sizeof(err)) != 0 &&
        strstr(err, "--idle-messages") != NULL);
  CHECK(test__parse("--target 127.0.0.1:7 --mode idle --idle-messages -1", &o, err, sizeof(err)) != 0 &&
        strstr(err, "--idle-messages") != NULL);
}

static void test__run(load_run *run, load_stats *st, load_mode mode, unsigned size, unsigned pipeline) {
  load_options o;
  memset(&o, 0, sizeof(o));
  o.mode = mode;
  o.size = size;
  o.pipeline = pipeline;
  o.connections = 1;
  o.threads = 1;
  if (load_run_init(run, &o) != 0) abort();
  run->t_measure = 0;
  run->t_end = UINT64_MAX;
  load_stats_init(st);
}

/* Plays an echo server: feeds `len` bytes of `data` back in pieces of `piece`. */
static load_next test__echo(load_conn *c, load_stats *st, const unsigned char *data, size_t len, size_t piece) {
  load_next next = LOAD_GO;
  while (len > 0 && next == LOAD_GO) {
    unsigned char *buf;
    size_t cap, n;
    load_conn_recv_buf(c, &buf, &cap);
    n = len < piece ? len : piece;
    if (n > cap) n = cap;
    memcpy(buf, data, n);
    next = load_conn_received(c, st, n, 1000);
    data += n;
    len -= n;
  }
  return next;
}

static void test_conn_echo_pipelines_verifies_and_times(void) {
  load_run run;
  load_stats st;
  load_conn c;
  const unsigned char *data;
  unsigned char copy[64];
  size_t len;
  test__run(&run, &st, LOAD_MODE_ECHO, 10, 3);
  CHECK(load_conn_init(&c, &run, 5) == 0);
  load_conn_connecting(&c, 0);
  CHECK(load_conn_connected(&c, &st, 0) == LOAD_GO);
  /* The whole window: 3 messages of 10 bytes. */
  CHECK(load_conn_next_send(&c, 100, &data, &len) == 1 && len == 30);
  load_conn_sent(&c, &st, 12, 200);
  CHECK(load_conn_next_send(&c, 200, &data, &len) == 1 && len == 18); /* the unsent tail */
  load_conn_sent(&c, &st, 18, 300);
  CHECK(load_conn_next_send(&c, 300, &data, &len) == 0); /* window full */
  /* Echo the 30 bytes in odd pieces: 3 messages complete, each timed. */
  memcpy(copy, c.sbuf, 30);
  CHECK(test__echo(&c, &st, copy, 30, 7) == LOAD_GO);
  CHECK(load_stat_get(&st.msgs) == 3 && c.msgs == 3 && st.latency.count == 3);
  CHECK(st.latency.min == 900); /* handed out at 100, back at 1000 */
  CHECK(load_conn_next_send(&c, 1100, &data, &len) == 1 && len == 30);
  load_conn_sent(&c, &st, 30, 1200);
  /* A flipped bit is a mismatch, an error, and the end of the connection. */
  memcpy(copy, data, 30);
  copy[13] ^= 0x10;
  CHECK(test__echo(&c, &st, copy, 30, 30) == LOAD_DROP);
  CHECK(load_stat_get(&st.mismatches) == 1 && load_stat_get(&st.errors) == 1);
  load_conn_closed(&c, &st);
  CHECK(atomic_load(&st.open) == 0);
  load_conn_free(&c);
  load_run_close(&run);
}

static void test_conn_echo_rejects_bytes_never_sent_and_other_streams(void) {
  load_run run;
  load_stats st;
  load_conn a, b;
  const unsigned char *data;
  unsigned char copy[64];
  size_t len;
  test__run(&run, &st, LOAD_MODE_ECHO, 16, 1);
  CHECK(load_conn_init(&a, &run, 0) == 0 && load_conn_init(&b, &run, 1) == 0);
  load_conn_connecting(&a, 0);
  load_conn_connecting(&b, 0);
  load_conn_connected(&a, &st, 0);
  load_conn_connected(&b, &st, 0);
  CHECK(load_conn_next_send(&a, 0, &data, &len) == 1 && len == 16);
  memcpy(copy, data, 16);
  CHECK(load_conn_next_send(&b, 0, &data, &len) == 1);
  /* a's bytes arriving on b: another connection's stream. */
  CHECK(test__echo(&b, &st, copy, 16, 16) == LOAD_DROP);
  /* More than was ever sent. */
  memcpy(copy + 16, copy, 16);
  CHECK(test__echo(&a, &st, copy, 32, 32) == LOAD_DROP);
  CHECK(load_stat_get(&st.mismatches) == 2);
  load_conn_free(&a);
  load_conn_free(&b);
  load_run_close(&run);
}

static void test_conn_idle_makes_its_round_trips_then_goes_quiet(void) {
  load_run run;
  load_stats st;
  load_conn c;
  const unsigned char *data;
  unsigned char copy[64];
  size_t len;
  test__run(&run, &st, LOAD_MODE_IDLE, 64, 1);
  run.opt.idle_messages = 2;
  CHECK(load_conn_init(&c, &run, 2) == 0);
  load_conn_connecting(&c, 0);
  load_conn_connected(&c, &st, 0);
  /* One at a time (pipeline 1), each echo verified and timed. */
  CHECK(load_conn_next_send(&c, 10, &data, &len) == 1 && len == 64);
  load_conn_sent(&c, &st, 64, 20);
  CHECK(load_conn_next_send(&c, 30, &data, &len) == 0);
  CHECK(load_conn_stalled(&c, 10 + 3000, 1000)); /* waiting for the echo */
  memcpy(copy, c.sbuf, 64);
  CHECK(test__echo(&c, &st, copy, 64, 13) == LOAD_GO);
  CHECK(load_conn_next_send(&c, 1100, &data, &len) == 1 && len == 64);
  load_conn_sent(&c, &st, 64, 1200);
  memcpy(copy, data, 64);
  CHECK(test__echo(&c, &st, copy, 64, 64) == LOAD_GO);
  CHECK(load_stat_get(&st.msgs_total) == 2 && st.latency.count == 2 && load_stat_get(&st.errors) == 0);
  /* Then quiet: nothing more to send, no stall, and any byte is an error. */
  CHECK(load_conn_next_send(&c, 2000, &data, &len) == 0);
  CHECK(!load_conn_stalled(&c, 1000000, 1000));
  CHECK(test__echo(&c, &st, copy, 1, 1) == LOAD_DROP && load_stat_get(&st.errors) == 1);
  load_conn_free(&c);
  load_run_close(&run);

  /* Without --idle-messages: never sends, and the first byte is an error. */
  test__run(&run, &st, LOAD_MODE_IDLE, 64, 1);
  CHECK(load_conn_init(&c, &run, 0) == 0);
  load_conn_connecting(&c, 0);
  load_conn_connected(&c, &st, 0);
  CHECK(load_conn_next_send(&c, 10, &data, &len) == 0);
  CHECK(test__echo(&c, &st, copy, 1, 1) == LOAD_DROP && load_stat_get(&st.errors) == 1);
  load_conn_free(&c);
  load_run_close(&run);
}

static void test_conn_storm_one_round_trip_per_connection(void) {
  load_run run;
  load_stats st;
  load_conn c;
  const unsigned char *data;
  unsigned char first[64];
  size_t len;
  test__run(&run, &st, LOAD_MODE_STORM, 64, 1);
  CHECK(load_conn_init(&c, &run, 3) == 0);
  load_conn_connecting(&c, 0);
  load_conn_connected(&c, &st, 0);
  CHECK(load_conn_next_send(&c, 0, &data, &len) == 1 && len == 64);
  memcpy(first, data, 64);
  load_conn_sent(&c, &st, 64, 0);
  CHECK(load_conn_next_send(&c, 0, &data, &len) == 0);
  CHECK(test__echo(&c, &st, first, 64, 64) == LOAD_RECONNECT);
  load_conn_closed(&c, &st);
  /* The next cycle sends a different stream: the old echo is a mismatch. */
  load_conn_connecting(&c, 2000);
  load_conn_connected(&c, &st, 2000);
  CHECK(load_conn_next_send(&c, 2000, &data, &len) == 1 && memcmp(data, first, 64) != 0);
  load_conn_sent(&c, &st, 64, 2000);
  CHECK(test__echo(&c, &st, first, 64, 64) == LOAD_DROP);
  CHECK(load_stat_get(&st.msgs) == 1 && load_stat_get(&st.conns_opened) == 2);
  /* A refused connect counts, and a storm goes on. */
  CHECK(load_conn_failed(&c, &st, LOAD_END_REFUSED, NULL) == LOAD_RECONNECT);
  CHECK(load_stat_get(&st.refused) == 1 && load_stat_get(&st.errors) == 2);
  load_conn_free(&c);
  load_run_close(&run);
}

static void test_conn_chargen_verifies_rfc864(void) {
  load_run run;
  load_stats st;
  load_conn c;
  unsigned char stream[1000];
  size_t i;
  test__run(&run, &st, LOAD_MODE_CHARGEN, 100, 1);
  CHECK(load_conn_init(&c, &run, 0) == 0);
  load_conn_connecting(&c, 0);
  load_conn_connected(&c, &st, 0);
  /* Starting at '!' (line 1), as some servers do. */
  for (i = 0; i < sizeof(stream); i++) {
    size_t line = i / 74 + 1, col = i % 74;
    stream[i] = col == 72 ? '\r' : col == 73 ? '\n' : (unsigned char)(' ' + (line + col) % 95);
  }
  CHECK(test__echo(&c, &st, stream, 600, 37) == LOAD_GO);
  CHECK(load_stat_get(&st.msgs) == 6);
  stream[700] = 'x';
  CHECK(test__echo(&c, &st, stream + 600, 400, 400) == LOAD_DROP);
  CHECK(load_stat_get(&st.mismatches) == 1);
  load_conn_free(&c);
  load_run_close(&run);
}

static void test_conn_errors_while_stopping_are_not_counted(void) {
  load_run run;
  load_stats st;
  load_conn c;
  test__run(&run, &st, LOAD_MODE_ECHO, 64, 1);
  CHECK(load_conn_init(&c, &run, 0) == 0);
  CHECK(load_conn_failed(&c, &st, LOAD_END_RESET, "x") == LOAD_DROP);
  CHECK(load_stat_get(&st.errors) == 1 && load_stat_get(&st.resets) == 1);
  atomic_store(&run.stopping, 1);
  CHECK(load_conn_failed(&c, &st, LOAD_END_RESET, "x") == LOAD_DROP);
  CHECK(load_stat_get(&st.errors) == 1);
  load_conn_free(&c);
  load_run_close(&run);
}

static void test_conn_udp_datagrams_verified_lost_and_late(void) {
  load_run run;
  load_stats st;
  load_conn c;
  const unsigned char *data;
  unsigned char first[32], second[32];
  size_t len;
  unsigned char *buf;
  size_t cap;
  test__run(&run, &st, LOAD_MODE_UDP, 32, 2);
  run.opt.loss_timeout_s = 0.000001; /* 1000 ns */
  CHECK(load_conn_init(&c, &run, 4) == 0);
  load_conn_connecting(&c, 0);
  load_conn_connected(&c, &st, 0);
  /* Two datagrams in flight, then the window is full. */
  CHECK(load_conn_next_send(&c, 100, &data, &len) == 1 && len == 32);
  memcpy(first, data, 32);
  load_conn_sent(&c, &st, 32, 100);
  CHECK(load_conn_next_send(&c, 100, &data, &len) == 1 && len == 32 && memcmp(data, first, 32) != 0);
  memcpy(second, data, 32);
  load_conn_sent(&c, &st, 32, 100);
  CHECK(load_conn_next_send(&c, 100, &data, &len) == 0);
  /* The second's echo completes it (out of order is fine), timed. */
  load_conn_recv_buf(&c, &buf, &cap);
  CHECK(cap > 32);
  memcpy(buf, second, 32);
  CHECK(load_conn_received(&c, &st, 32, 600) == LOAD_GO);
  CHECK(load_stat_get(&st.msgs) == 1 && st.latency.min == 500);
  /* The first is overdue at 1200: lost, its slot free again. */
  CHECK(load_conn_expire(&c, &st, 1200) == 1 && load_stat_get(&st.lost) == 1);
  CHECK(load_conn_next_send(&c, 1200, &data, &len) == 1);
  load_conn_sent(&c, &st, 32, 1200);
  /* Its echo arriving now is late, not an error. */
  memcpy(buf, first, 32);
  CHECK(load_conn_received(&c, &st, 32, 1300) == LOAD_GO);
  CHECK(load_stat_get(&st.late) == 1 && load_stat_get(&st.errors) == 0 && load_stat_get(&st.msgs) == 1);
  /* A changed byte, or a wrong length, is a mismatch. */
  memcpy(buf, second, 32);
  buf[20] ^= 1;
  CHECK(load_conn_received(&c, &st, 32, 1400) == LOAD_DROP);
  CHECK(load_conn_received(&c, &st, 31, 1400) == LOAD_DROP);
  CHECK(load_stat_get(&st.mismatches) == 2);
  load_conn_free(&c);
  load_run_close(&run);
}

int main(void) {
  test_hist_buckets_cover_every_value_within_3_percent();
  test_hist_quantiles();
  test_options();
  test_conn_echo_pipelines_verifies_and_times();
  test_conn_echo_rejects_bytes_never_sent_and_other_streams();
  test_conn_idle_makes_its_round_trips_then_goes_quiet();
  test_conn_storm_one_round_trip_per_connection();
  test_conn_chargen_verifies_rfc864();
  test_conn_errors_while_stopping_are_not_counted();
  test_conn_udp_datagrams_verified_lost_and_late();
  printf("%d passed, %d failed\n", test__passed, test__failed);
  return test__failed == 0 ? 0 : 1;
}
