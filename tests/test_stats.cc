// stats: the console stats line and byte units.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

extern "C" {
#include "ps_stats.h"
}

static std::string Bytes(double bytes) {
  char buf[32];
  return ps_format_bytes(bytes, buf, sizeof buf);
}

static std::string Line(const ps_stats &now, const ps_stats &prev, double elapsed_s) {
  char buf[1024];
  return ps_stats_format(&now, &prev, elapsed_s, buf, sizeof buf);
}

TEST(Stats, FormatBytesPicksBinaryUnits) {
  const double KiB = 1024.0, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;
  EXPECT_EQ(Bytes(0), "0 B");
  EXPECT_EQ(Bytes(1), "1 B");
  EXPECT_EQ(Bytes(1023), "1023 B");
  EXPECT_EQ(Bytes(KiB), "1.0 KiB");
  EXPECT_EQ(Bytes(1.5 * KiB), "1.5 KiB");
  EXPECT_EQ(Bytes(1.5 * MiB), "1.5 MiB");
  EXPECT_EQ(Bytes(3 * GiB), "3.0 GiB");
  EXPECT_EQ(Bytes(TiB), "1.0 TiB");
}

TEST(Stats, FormatBytesStopsAtTiB) { EXPECT_EQ(Bytes(1024.0 * 1024 * 1024 * 1024 * 1024), "1024.0 TiB"); }

// Values just under a unit boundary round up to "1024.0" of the smaller unit
// instead of "1.0" of the next one.
TEST(Stats, FormatBytesNeverShows1024OfASmallerUnit) {
  EXPECT_EQ(Bytes(1024.0 * 1024 - 1), "1.0 MiB");
  EXPECT_EQ(Bytes(1024.0 * 1024 * 1024 - 1), "1.0 GiB");
}

TEST(Stats, FormatBytesTruncatesToTinyBufferAndStaysTerminated) {
  char buf[8];
  std::memset(buf, 'x', sizeof buf);
  EXPECT_STREQ(ps_format_bytes(1536, buf, 4), "1.5");
  EXPECT_EQ(buf[4], 'x') << "wrote past bufsize";
}

TEST(Stats, LineShowsCountsTotalsAndRates) {
  ps_stats prev{};
  ps_stats now{};
  now.conns_open = 3;
  now.conns_total = 120;
  now.bytes_in = 2048;  // 2048 B over 2 s
  prev.bytes_out = 1024;
  now.bytes_out = 4096;  // 3072 B over 2 s
  now.msgs_in = 100;     // 100 over 2 s
  now.buffers_in_use = 4;
  now.buffers_live = 32;
  now.dgrams_in = 7;
  now.dgrams_out = 6;
  now.dgrams_dropped = 1;
  now.dgrams_dropped_port0 = 1;
  now.dgrams_dropped_lowport = 2;
  now.dgrams_dropped_loop = 4;
  now.dgrams_dropped_rate = 8;
  now.dgrams_dropped_rate_total = 16;
  now.timeouts_idle = 5;
  now.timeouts_linger = 2;
  now.timeouts_send = 1;
  now.limit_waits = 6;
  now.accepts_held = 3;
  now.refused_source = 2;
  now.accepts_posted = 32;
  now.udp_receives_posted = 16;
  now.accept_errors = 9;
  now.udp_recv_errors = 8;
  now.closed_resources = 4;
  now.process_handles = 77;
  now.process_private_bytes = 3 * 1024 * 1024;
  EXPECT_EQ(Line(now, prev, 2.0),
            "conns 3 open 120 total | closed 0 reset 4 out-of-resources 0 aborted | refused 2 per-source | "
            "timeouts 5 idle 2 linger 1 send | limits 3 held 6 waits | in 2.0 KiB 1.0 KiB/s | "
            "out 4.0 KiB 1.5 KiB/s | msg 100 in 50/s | udp 7 in 6 out 1 dropped | "
            "guard 1 port0 2 low-port 4 loop 8 rate 16 total-rate | posted 32 accept 16 udp 0 awaiting-data | "
            "errors 9 accept 8 udp 0 retries | buffers 4 used 32 allocated | process 77 handles 3.0 MiB private");
}

// The line is made from the counter list: every row with a `line` shows,
// and a longer list never overruns the caller's buffer.
TEST(Stats, LineHasEveryListedRowAndStaysWithinItsBuffer) {
  ps_stats prev{}, now{};
  std::string line = Line(now, prev, 1.0);
  size_t words = 0;
  for (size_t i = 0; i < PS_STAT_COUNT; i++)
    if (ps_stat_at(i)->line[0] != '\0') words++;
  size_t values = 0;
  for (size_t at = line.find(" 0"); at != std::string::npos; at = line.find(" 0", at + 1)) values++;
  EXPECT_GE(values, words) << line;
  char small[40];
  std::memset(small, 'x', sizeof small);
  ps_stats_format(&now, &prev, 1.0, small, 32);
  EXPECT_EQ(std::strlen(small), 31u);
  EXPECT_EQ(small[32], 'x') << "wrote past bufsize";
}

TEST(Stats, RateIsDifferenceOverElapsed) {
  ps_stats prev{};
  ps_stats now{};
  prev.bytes_in = 1000;
  now.bytes_in = 1000 + 3 * 1024 * 1024;  // 3 MiB over 0.5 s
  std::string line = Line(now, prev, 0.5);
  EXPECT_NE(line.find("in 3.0 MiB 6.0 MiB/s"), std::string::npos) << line;
}

TEST(Stats, ZeroElapsedGivesZeroRates) {
  ps_stats prev{};
  ps_stats now{};
  now.bytes_in = 2048;
  now.bytes_out = 2048;
  now.msgs_in = 10;
  for (double elapsed : {0.0, -1.0}) {
    std::string line = Line(now, prev, elapsed);
    EXPECT_NE(line.find("in 2.0 KiB 0 B/s"), std::string::npos) << line;
    EXPECT_NE(line.find("out 2.0 KiB 0 B/s"), std::string::npos) << line;
    EXPECT_NE(line.find("msg 10 in 0/s"), std::string::npos) << line;
  }
}

TEST(Stats, CountersGoingBackwardsGiveZeroRates) {
  ps_stats prev{};
  ps_stats now{};
  prev.bytes_in = 5000;
  now.bytes_in = 10;
  prev.bytes_out = 5000;
  now.bytes_out = 10;
  prev.msgs_in = 50;
  now.msgs_in = 1;
  std::string line = Line(now, prev, 1.0);
  EXPECT_NE(line.find("in 10 B 0 B/s"), std::string::npos) << line;
  EXPECT_NE(line.find("out 10 B 0 B/s"), std::string::npos) << line;
  EXPECT_NE(line.find("msg 1 in 0/s"), std::string::npos) << line;
}

TEST(Stats, LargestCountsPrintInFull) {
  ps_stats zero{};
  ps_stats now{};
  now.conns_total = UINT64_MAX;
  std::string line = Line(now, zero, 1.0);
  EXPECT_NE(line.find(" 18446744073709551615 total"), std::string::npos) << line;
}

TEST(Stats, LineTruncatesToSmallBufferAndStaysTerminated) {
  ps_stats zero{};
  char buf[16];
  std::memset(buf, 'x', sizeof buf);
  EXPECT_STREQ(ps_stats_format(&zero, &zero, 1.0, buf, 11), "conns 0 op");
  EXPECT_EQ(buf[11], 'x') << "wrote past bufsize";
}
