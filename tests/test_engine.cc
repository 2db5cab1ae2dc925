// The engine as a whole: serving over IPv4 and IPv6, the stop procedure and
// its deadlines, two engines in one process, the configuration mapping.
#include <atomic>
#include <cstddef>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "options.h"
}
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

// Every engine row of the option table takes its default from the engine's
// own (PS_ENGINE_DEFAULT_*) through the row's scale, so the defaults are
// written once; the bind retry is the command's policy (a library engine
// retries no bind unless asked).
TEST(EngineConfig, OptionDefaultsAreTheEnginesThroughTheRows) {
  static ps_options o;  // 64 listeners: off the stack
  ps_engine_config def, mapped;
  ps_engine_config_default(&def);
  ps_options_defaults(&o);
  mapped = def;
  ps_options_engine_config(&o, &mapped);
  for (size_t k = 0; k < ps_option_count(); k++) {
    const ps_option_def *d = ps_option_at(k);
    if (!d->engine || d->engine_offset == offsetof(ps_engine_config, bind_retry_ms)) continue;
    unsigned a, b;
    std::memcpy(&a, reinterpret_cast<const char *>(&def) + d->engine_offset, sizeof(a));
    std::memcpy(&b, reinterpret_cast<const char *>(&mapped) + d->engine_offset, sizeof(b));
    EXPECT_EQ(b, a) << d->flag << ": its default is not the engine's";
  }
  EXPECT_EQ(def.bind_retry_ms, 0u) << "a library engine retries no bind unless asked";
  EXPECT_EQ(mapped.bind_retry_ms, PS_BIND_RETRY_CONSOLE_S * 1000u);
  o.command = PS_CMD_SERVICE;
  o.idle_timeout_s = 7;
  ps_options_engine_config(&o, &mapped);
  EXPECT_EQ(mapped.bind_retry_ms, PS_BIND_RETRY_SERVICE_S * 1000u);
  EXPECT_EQ(mapped.idle_timeout_ms, 7000u) << "seconds become milliseconds";
  EXPECT_EQ(mapped.inline_max, def.inline_max) << "engine-only knobs keep their own defaults";
}

// What a reload may change (the option rows' reload class) is what the
// engine applies: each engine row changed alone, then read back.
TEST(EngineConfig, ReconfigureAppliesExactlyTheRowsAReloadMayChange) {
  ps_engine_config cfg = default_config();
  cfg.max_connections_per_source = 4;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  ps_engine_config before;
  ps_engine_config_get(srv.engine, &before);
  for (size_t k = 0; k < ps_option_count(); k++) {
    const ps_option_def *d = ps_option_at(k);
    if (!d->engine) continue;
    ps_engine_config changed = before, after;
    unsigned v;
    char *field = reinterpret_cast<char *>(&changed) + d->engine_offset;
    if (d->type == PS_OPT_NETS) {
      // A list: another one, compared whole.
      char err[200];
      ASSERT_EQ(ps_net_list_parse("192.0.2.0/24,::1", reinterpret_cast<ps_net_list *>(field), err, sizeof(err)), 0);
      ps_engine_reconfigure(srv.engine, &changed);
      ps_engine_config_get(srv.engine, &after);
      EXPECT_EQ(std::memcmp(reinterpret_cast<const char *>(&after) + d->engine_offset, field, sizeof(ps_net_list)) == 0,
                d->reload != PS_RELOAD_RESTART)
          << d->flag << ": its reload class is not what the engine does";
      ps_engine_reconfigure(srv.engine, &before);
      continue;
    }
    std::memcpy(&v, field, sizeof(v));
    // Another value within the row's range.
    v = d->type == PS_OPT_BOOL ? !v : v / d->engine_scale < d->max ? v + d->engine_scale : v - d->engine_scale;
    std::memcpy(field, &v, sizeof(v));
    ps_engine_reconfigure(srv.engine, &changed);
    ps_engine_config_get(srv.engine, &after);
    unsigned got;
    std::memcpy(&got, reinterpret_cast<const char *>(&after) + d->engine_offset, sizeof(got));
    if (d->reload == PS_RELOAD_RESTART) {
      unsigned was;
      std::memcpy(&was, reinterpret_cast<const char *>(&before) + d->engine_offset, sizeof(was));
      EXPECT_EQ(got, was) << d->flag << " says it needs a restart, but the engine applied it";
    } else {
      EXPECT_EQ(got, v) << d->flag << " says a reload applies it, but the engine kept its value";
    }
    ps_engine_reconfigure(srv.engine, &before);
  }
  ByteStream stream(31);
  SOCKET s = connect_to("127.0.0.1", srv.port());
  EXPECT_TRUE(echo_round_trip(s, stream, 100)) << "serving after the changes";
  close_socket(s);
  srv.stop_and_check();
}

// A stop already draining must hurry when told (the console was closed
// after Ctrl+C: Windows ends the process a few seconds later): the drain
// ends within hurry_drain_ms of the event, not at its own deadline.
TEST(Engine, HurryEventCutsARunningDrainShort) {
  ps_engine_config cfg = default_config();
  HANDLE hurry = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  cfg.drain_timeout_ms = 20000;
  cfg.hurry_event = hurry;
  cfg.hurry_drain_ms = 300;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  SOCKET quiet = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(quiet, INVALID_SOCKET);
  ASSERT_TRUE(wait_until([&] { return srv.stats().conns_open == 1; }, 5000));
  ULONGLONG started = GetTickCount64(), hurried = 0;
  std::thread closer([&] {
    Sleep(500);
    hurried = GetTickCount64();
    SetEvent(hurry);
  });
  // The client never closes: only the drain deadline ends its connection.
  unsigned reset = ps_engine_stop(srv.engine);
  ULONGLONG ended = GetTickCount64();
  closer.join();
  EXPECT_EQ(reset, 1u);
  EXPECT_GE(ended - started, 450u) << "the drain did not wait for the hurry";
  EXPECT_LT(ended - hurried, 2500u) << "the drain kept its 20 s deadline after the hurry";
  close_socket(quiet);
  srv.stop_and_check();
  CloseHandle(hurry);
}

// The per-message counters are each worker's own, summed on read
// (engine.h, ps_count): with several workers and clients on TCP and UDP at
// once, the totals are exactly what the clients sent, the listener rows add
// up to them, and after the stop (the workers have exited) nothing is lost.
TEST(Engine, CountsOfEveryWorkerAddUpToWhatTheClientsSent) {
  ps_engine_config cfg = default_config();
  cfg.threads = 4;
  cfg.accept_data = 1;     // first messages come with the accepts: counted all the same
  cfg.udp_reply_rate = 0;  // every datagram gets its reply
  cfg.udp_reply_rate_total = 0;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0", &cfg));
  ASSERT_EQ(ps_engine_threads(srv.engine), 4u);
  const ps_endpoint *tcp = srv.endpoint("echo", PS_TRANSPORT_TCP);
  const ps_endpoint *udp = srv.endpoint("echo", PS_TRANSPORT_UDP);
  ASSERT_TRUE(tcp != nullptr && udp != nullptr);
  const ps_endpoint tcp_ep = *tcp, udp_ep = *udp;

  const int tcp_clients = 8, udp_clients = 4, rounds = 150;
  std::atomic<uint64_t> tcp_bytes{0}, tcp_msgs{0}, udp_bytes{0}, udp_dgrams{0};
  std::atomic<int> failures{0}, ready{0};
  std::vector<std::thread> clients;
  for (int k = 0; k < tcp_clients; k++) {
    clients.emplace_back([&, k] {
      SOCKET s = connect_to("127.0.0.1", tcp_ep.port);
      ready++;
      while (ready < tcp_clients + udp_clients) Sleep(1);
      ByteStream stream(100 + k);
      int done = 0;
      for (; s != INVALID_SOCKET && done < rounds; done++) {
        size_t len = 1 + static_cast<size_t>((done * 37 + k * 101) % 3000);
        if (!echo_round_trip(s, stream, len)) break;
        tcp_bytes += len;
        tcp_msgs++;
      }
      if (done != rounds) failures++;
      close_socket(s);
    });
  }
  for (int k = 0; k < udp_clients; k++) {
    clients.emplace_back([&, k] {
      SOCKET s = udp_socket(AF_INET);
      ready++;
      while (ready < tcp_clients + udp_clients) Sleep(1);
      for (int i = 0; i < rounds; i++) {
        std::string payload(1 + static_cast<size_t>((i * 53 + k * 7) % 1200), static_cast<char>('a' + k));
        std::string reply;
        if (!udp_ask(s, udp_ep, payload, &reply) || reply != payload) {
          failures++;
          break;
        }
        udp_bytes += payload.size();
        udp_dgrams++;
      }
      closesocket(s);
    });
  }
  for (std::thread &th : clients) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(tcp_msgs.load(), static_cast<uint64_t>(tcp_clients * rounds));
  ASSERT_EQ(udp_dgrams.load(), static_cast<uint64_t>(udp_clients * rounds));
  const uint64_t bytes = tcp_bytes + udp_bytes;

  // Every figure that must hold, or what differs ("" when all do).
  auto mismatches = [&]() {
    std::string out;
    auto want = [&](const char *what, uint64_t got, uint64_t expected, bool at_least = false) {
      if (got == expected || (at_least && got > expected)) return;
      out +=
          std::string(what) + " " + std::to_string(got) + (at_least ? " < " : " != ") + std::to_string(expected) + "; ";
    };
    ps_stats st = srv.stats();
    ps_listener_stats all[8], t{}, u{};
    size_t n = ps_engine_listener_stats(srv.engine, all, 8);
    want("listener rows (TCP and UDP)", n, 2);
    for (size_t i = 0; i < n && i < 8; i++) (all[i].ep.transport == PS_TRANSPORT_TCP ? t : u) = all[i];
    want("bytes_in", st.bytes_in, bytes);
    want("bytes_out", st.bytes_out, bytes);
    want("dgrams_in", st.dgrams_in, udp_dgrams);
    want("dgrams_out", st.dgrams_out, udp_dgrams);
    // A lockstep message arrives in one receive or more, and shares none.
    want("msgs_in", st.msgs_in, tcp_msgs, true);
    want("msgs_out", st.msgs_out, tcp_msgs, true);
    want("tcp row bytes_in", t.bytes_in, tcp_bytes);
    want("tcp row bytes_out", t.bytes_out, tcp_bytes);
    want("udp row bytes_in", u.bytes_in, udp_bytes);
    want("udp row bytes_out", u.bytes_out, udp_bytes);
    want("tcp row msgs_in", t.msgs_in, st.msgs_in);
    want("tcp row msgs_out", t.msgs_out, st.msgs_out);
    want("udp row dgrams_in", u.dgrams_in, st.dgrams_in);
    want("udp row dgrams_out", u.dgrams_out, st.dgrams_out);
    want("tcp row conns_accepted", t.conns_accepted, tcp_clients);
    return out;
  };
  // While running: a send is counted when it completes, which may be just
  // after its client had the reply, so the figures settle on the exact ones.
  std::string running;
  EXPECT_TRUE(wait_until(
      [&] {
        running = mismatches();
        return running.empty();
      },
      5000))
      << "while running: " << running;
  ps_engine_stop(srv.engine);
  EXPECT_EQ(ps_engine_threads(srv.engine), 0u);
  EXPECT_EQ(mismatches(), "") << "after the stop: the workers' counts outlive them";
  srv.stop_and_check();
}
