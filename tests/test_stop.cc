// The stop procedure under pressure: a stop that races a burst of clients
// connecting, sending and closing, repeated; and two threads stopping one
// engine at the same moment.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "testutil.h"

using namespace pstest;

namespace {

// Clients connect, send a little, read what comes back and close, as fast as
// they can, while the engine stops under them. Every stop must end with the
// live counters at zero (stop_and_check), whatever each client saw.
TEST(Stop, RacingAnAcceptBurstEndsCleanEveryTime) {
  for (int round = 0; round < 20; round++) {
    ps_engine_config cfg = default_config();
    cfg.drain_timeout_ms = 200;
    Server srv;
    ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
    unsigned port = srv.port();
    std::atomic<bool> stop{false};
    std::atomic<int> connected{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; t++) {
      clients.emplace_back([&] {
        while (!stop.load()) {
          SOCKET s = connect_to("127.0.0.1", port, 500);
          if (s == INVALID_SOCKET) continue;  // refused once the listener closed
          connected++;
          char buf[64] = "burst";
          send(s, buf, 5, 0);
          recv(s, buf, sizeof buf, 0);  // an echo, EOF or a reset: all fine here
          if ((connected.load() & 1) != 0) reset_socket(s);
          else close_socket(s);
        }
      });
    }
    // Stop after a varying number of connections, mid-burst.
    ASSERT_TRUE(wait_until([&] { return connected.load() >= 5 + round; }, 20000)) << "round " << round;
    srv.stop_and_check();
    stop = true;
    for (std::thread &c : clients) c.join();
  }
}

// ps_engine_stop from two threads at once: one stop runs, and the other
// call returns only once it has finished (a caller must never see a
// half-stopped engine). Clients keep their connections open, so the drain
// lasts until its deadline and the stop resets them: that stop's return
// value and its one log line say one stop ran.
TEST(Stop, ConcurrentStopsAreOneStop) {
  for (int round = 0; round < 3; round++) {
    LogCapture log;
    ps_engine_config cfg = default_config();
    cfg.drain_timeout_ms = 400;
    Server srv;
    ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
    std::vector<SOCKET> conns = connect_many(srv, 10);
    ASSERT_TRUE(wait_until([&] { return srv.stats().conns_open == 10; }, 10000));
    struct Seen {
      unsigned reset = 0;
      ps_stats at_return{};
    } seen[2];
    std::atomic<int> ready{0};
    auto stopper = [&](Seen *out) {
      ready++;
      while (ready.load() < 2) {
      }
      out->reset = ps_engine_stop(srv.engine);
      ps_engine_stats(srv.engine, &out->at_return);
    };
    std::thread a(stopper, &seen[0]), b(stopper, &seen[1]);
    a.join();
    b.join();
    for (const Seen &x : seen) {
      EXPECT_EQ(x.at_return.conns_open, 0u) << "round " << round << ": a stop returned before the stop had ended";
      EXPECT_EQ(x.at_return.sockets_live, 0u) << "round " << round;
    }
    EXPECT_EQ(seen[0].reset + seen[1].reset, 10u) << "round " << round << ": the ten were reset by one stop";
    EXPECT_TRUE(seen[0].reset == 0 || seen[1].reset == 0) << "round " << round;
    std::string text = log.text();
    size_t lines = 0;
    for (size_t at = text.find("still open after the"); at != std::string::npos;
         at = text.find("still open after the", at + 1))
      lines++;
    EXPECT_EQ(lines, 1u) << "round " << round << ": one stop reached the drain deadline\n" << text;
    EXPECT_EQ(ps_engine_stop(srv.engine), 0u) << "a stop after the stop does nothing";
    close_all(conns);
    srv.stop_and_check();
  }
}

// Once a stop has begun, no connection is taken on: a client that connects
// in the moment between `stopping` and the listeners' close (the fault
// hook's on_stopping) is reset and never counted as accepted.
struct LateClient {
  Server *srv = nullptr;
  uint64_t accepted_before = 0, accepted_after = 0;
  int seen = 0; /* wait_eof: 1 EOF, -1 reset, 0 nothing */
  bool connected = false;
};

static void connect_while_stopping(void *arg) {
  LateClient *late = static_cast<LateClient *>(arg);
  late->accepted_before = late->srv->stats().conns_total;
  SOCKET s = connect_to("127.0.0.1", late->srv->port(), 3000);
  late->connected = s != INVALID_SOCKET;
  if (s == INVALID_SOCKET) return;
  late->seen = wait_eof(s, 3000);
  late->accepted_after = late->srv->stats().conns_total;
  close_socket(s);
}

TEST(Stop, NoConnectionIsAcceptedOnceStopping) {
  ps_faults faults{};
  LateClient late;
  ps_engine_config cfg = default_config();
  cfg.faults = &faults;
  Server srv;
  late.srv = &srv;
  faults.on_stopping = connect_while_stopping;
  faults.on_stopping_arg = &late;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  SOCKET before = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(before, INVALID_SOCKET);
  ByteStream stream(3);
  EXPECT_TRUE(echo_round_trip(before, stream, 10));
  close_socket(before);
  srv.stop_and_check();
  ASSERT_TRUE(late.connected) << "the listener was still open when the stop began";
  EXPECT_NE(late.seen, 0) << "the late client was neither reset nor closed within 3 s";
  EXPECT_EQ(late.accepted_after, late.accepted_before) << "a connection was accepted after the stop began";
}

}  // namespace
