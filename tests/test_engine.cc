// The engine as a whole: serving over IPv4 and IPv6, the stop procedure and
// its deadlines, two engines in one process, the configuration mapping.
#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "run.h"
#include "testutil.h"

using namespace pstest;

TEST(Engine, EchoOverIPv4) {
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp"));
  ASSERT_EQ(srv.endpoints.size(), 1u);
  EXPECT_STREQ(srv.endpoints[0].address, "127.0.0.1");
  EXPECT_NE(srv.endpoints[0].port, 0u);
  expect_echo("127.0.0.1", srv.port(AF_INET), 1);
  // Skip-on-success is on for every accepted connection (loopback TCP is an
  // IFS provider): the inline paths of conn.c are the ones this test ran.
  ps_stats st = srv.stats();
  EXPECT_EQ(st.conns_total, 1u);
  EXPECT_EQ(st.conns_skip, st.conns_total) << "skip-on-success was not turned on";
  srv.stop_and_check();
}

TEST(Engine, EchoOverIPv6) {
  Server srv;
  ASSERT_TRUE(srv.start("echo=[::1]:0/tcp"));
  ASSERT_EQ(srv.endpoints.size(), 1u);
  EXPECT_STREQ(srv.endpoints[0].address, "::1");
  expect_echo("::1", srv.port(AF_INET6), 2);
  srv.stop_and_check();
}

// Windows ends a console process about 5 s after close, logoff or shutdown;
// Ctrl+C and Ctrl+Break have no limit. Wine does not deliver CTRL_CLOSE_EVENT
// to a process run from a terminal (docs/wine-notes.md), so the cap is
// checked here.
TEST(Engine, ConsoleCloseCapsTheDrainSoTheStopFitsTheWindow) {
  EXPECT_EQ(ps_run_console_drain_ms(CTRL_C_EVENT, 5000), 5000u);
  EXPECT_EQ(ps_run_console_drain_ms(CTRL_BREAK_EVENT, 20000), 20000u);
  for (DWORD type : {DWORD(CTRL_CLOSE_EVENT), DWORD(CTRL_LOGOFF_EVENT), DWORD(CTRL_SHUTDOWN_EVENT)}) {
    EXPECT_EQ(ps_run_console_drain_ms(type, 5000), 3000u) << type;
    EXPECT_EQ(ps_run_console_drain_ms(type, 1000), 1000u) << type;
    EXPECT_LT(ps_run_console_drain_ms(type, 3600000), PS_CONSOLE_CLOSE_WINDOW_MS) << type;
  }
}

// ps_engine_stop_within: the deadline given, not the configured one.
TEST(Engine, StopWithinUsesTheDeadlineItIsGiven) {
  ps_engine_config cfg = default_config();
  cfg.send_queue_max = 16 * 1024;
  cfg.drain_timeout_ms = 60000;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0", &cfg));
  SOCKET s = connect_to("127.0.0.1", srv.port(), 1000);
  ASSERT_NE(s, INVALID_SOCKET);
  fill_until_stalled(s);
  ULONGLONG started = GetTickCount64();
  EXPECT_EQ(ps_engine_stop_within(srv.engine, 300), 1u);
  EXPECT_LT(GetTickCount64() - started, 10000u);
  srv.stop_and_check();
  close_socket(s);
}

TEST(Engine, TwoEnginesInOneProcess) {
  Server one, two;
  ASSERT_TRUE(one.start("echo=127.0.0.1:0"));
  ASSERT_TRUE(two.start("echo=127.0.0.1:0"));
  ASSERT_NE(one.port(), two.port());
  expect_echo("127.0.0.1", one.port(), 14);
  expect_echo("127.0.0.1", two.port(), 15);
  one.stop_and_check();
  expect_echo("127.0.0.1", two.port(), 16);
  two.stop_and_check();
}

// A peer that never reads cannot hold up a stop: at the drain deadline it is
// reset, and everything is still freed.
TEST(Engine, StopResetsConnectionsThatMissTheDrainDeadline) {
  ps_engine_config cfg = default_config();
  cfg.send_queue_max = 16 * 1024;
  cfg.drain_timeout_ms = 300;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0", &cfg));
  SOCKET s = connect_to("127.0.0.1", srv.port(), 1000);
  ASSERT_NE(s, INVALID_SOCKET);
  fill_until_stalled(s);
  EXPECT_EQ(srv.stop_and_check(), 1u);
  close_socket(s);
}

// The engine's defaults are the option table's, through the one mapping
// (ps_engine_config_set_options): seconds become milliseconds there, and the
// bind retry follows the command.
TEST(EngineConfig, DefaultsAreTheOptionTablesThroughTheOneMapping) {
  static ps_options o;  // 64 listeners: off the stack
  ps_engine_config cfg;
  ps_engine_config_default(&cfg);
  ps_options_defaults(&o);
  EXPECT_EQ(cfg.accepts, o.accepts);
  EXPECT_EQ(cfg.buffer_size, o.buffer_size);
  EXPECT_EQ(cfg.idle_timeout_ms, o.idle_timeout_s * 1000u);
  EXPECT_EQ(cfg.keepalive_ms, o.keepalive_s * 1000u);
  EXPECT_EQ(cfg.max_connections_per_source, 0u);
  EXPECT_EQ(cfg.udp_reply_rate, o.udp_reply_rate);
  EXPECT_EQ(cfg.bind_retry_ms, 0u) << "a library engine retries no bind unless asked";
  EXPECT_EQ(cfg.services, nullptr) << "the built-in services";

  o.command = PS_CMD_SERVICE;
  o.idle_timeout_s = 7;
  o.linger_timeout_s = 8;
  o.send_timeout_s = 9;
  o.max_connections_per_source = 3;
  ps_engine_config_set_options(&cfg, &o);
  EXPECT_EQ(cfg.idle_timeout_ms, 7000u);
  EXPECT_EQ(cfg.linger_timeout_ms, 8000u);
  EXPECT_EQ(cfg.send_timeout_ms, 9000u);
  EXPECT_EQ(cfg.max_connections_per_source, 3u);
  EXPECT_EQ(cfg.bind_retry_ms, PS_BIND_RETRY_SERVICE_S * 1000u);
  EXPECT_EQ(cfg.inline_max, 16u) << "engine-only knobs keep their own defaults";
}
