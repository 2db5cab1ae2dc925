// The stop procedure under pressure: a stop that races a burst of clients
// connecting, sending and closing, repeated; and two threads stopping one
// engine at the same moment.
#include <atomic>
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

// ps_engine_stop from two threads at once: both return, one stop ran, the
// engine ends stopped with nothing live; a third call afterwards is a no-op.
TEST(Stop, ConcurrentStopsAreOneStop) {
  for (int round = 0; round < 5; round++) {
    Server srv;
    ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp"));
    std::vector<SOCKET> conns = connect_many(srv, 10);
    ASSERT_TRUE(wait_until([&] { return srv.stats().conns_open == 10; }, 10000));
    std::atomic<int> ready{0};
    auto stopper = [&] {
      ready++;
      while (ready.load() < 2) {
      }
      ps_engine_stop(srv.engine);
    };
    std::thread a(stopper), b(stopper);
    // The clients close their side so the graceful drain can end.
    close_all(conns);
    a.join();
    b.join();
    EXPECT_EQ(ps_engine_stop(srv.engine), 0u) << "a stop after the stop does nothing";
    ps_stats st = srv.stats();
    EXPECT_EQ(st.sockets_live, 0u);
    EXPECT_EQ(st.conns_open, 0u);
    EXPECT_EQ(st.buffers_in_use, 0u);
    srv.stop_and_check();
  }
}

}  // namespace
