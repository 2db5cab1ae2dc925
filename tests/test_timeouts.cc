// The engine's timer sweep and the per-connection deadlines it enforces
// (idle, linger, send stall, a handler's own deadline), on real loopback
// sockets; and the management handlers' own accounting (PS_HANDLER_MANAGEMENT).
// Timeouts here are a second or two so the tests stay short; the sweep runs
// at least once a second, so a deadline acts within about one sweep of
// passing.
#include <cstring>
#include <string>
#include <vector>

#include "testutil.h"

using namespace pstest;

TEST(Timeouts, IdleConnectionsAreClosedGracefullyWhileBusyOnesStay) {
  ps_engine_config cfg = default_config();
  cfg.idle_timeout_ms = 1000;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  SOCKET idle1 = connect_to("127.0.0.1", srv.port());
  SOCKET idle2 = connect_to("127.0.0.1", srv.port());
  SOCKET busy = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(idle1, INVALID_SOCKET);
  ASSERT_NE(idle2, INVALID_SOCKET);
  ASSERT_NE(busy, INVALID_SOCKET);
  ByteStream stream(41);
  // One message before going quiet: idleness counts from the last byte.
  EXPECT_TRUE(echo_round_trip(idle2, stream, 10));
  // The busy client echoes every 200 ms for 3 s: three idle timeouts long.
  for (int i = 0; i < 15; i++) {
    EXPECT_TRUE(echo_round_trip(busy, stream, 32)) << "round " << i;
    Sleep(200);
  }
  // The idle ones got FIN (orderly EOF, not a reset) well before now; the
  // server waits for their FIN in its lingering close, so answer it.
  EXPECT_EQ(wait_eof(idle1, 1000), 1);
  EXPECT_EQ(wait_eof(idle2, 1000), 1);
  close_socket(idle1);
  close_socket(idle2);
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 1; }, 500));
  EXPECT_TRUE(echo_round_trip(busy, stream, 1000));
  ps_stats st = srv.stats();
  EXPECT_EQ(st.timeouts_idle, 2u);
  EXPECT_EQ(st.closed_reset, 0u);
  close_socket(busy);
  srv.stop_and_check();
}

TEST(Timeouts, IdleTimeoutZeroNeverCloses) {
  ps_engine_config cfg = default_config();
  cfg.idle_timeout_ms = 0;
  cfg.sweep_ms = 100;  // sweeps ten times a second
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  SOCKET s = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(s, INVALID_SOCKET);
  EXPECT_EQ(wait_eof(s, 1500), 0) << "closed although the idle timeout is off";
  EXPECT_EQ(srv.stats().timeouts_idle, 0u);
  ByteStream stream(42);
  EXPECT_TRUE(echo_round_trip(s, stream, 100));
  close_socket(s);
  srv.stop_and_check();
}

TEST(Timeouts, LingerTimeoutClosesDaytimeClientsThatNeverSendFin) {
  ps_engine_config cfg = default_config();
  cfg.linger_timeout_ms = 1000;
  Server srv;
  ASSERT_TRUE(srv.start("daytime=127.0.0.1:0/tcp", &cfg));
  // One client reads the time and its EOF, then neither sends nor closes;
  // another keeps sending into the server's lingering read.
  SOCKET silent = connect_to("127.0.0.1", srv.port());
  SOCKET chatty = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(silent, INVALID_SOCKET);
  ASSERT_NE(chatty, INVALID_SOCKET);
  EXPECT_EQ(wait_eof(silent, 5000), 1) << "daytime sends the time, then FIN";
  EXPECT_EQ(wait_eof(chatty, 5000), 1);
  // A sweep or two after our FIN, both still wait in the lingering close.
  Sleep(300);
  ASSERT_EQ(srv.stats().conns_open, 2u) << "both wait in the lingering close for the clients' FIN";
  for (int i = 0; i < 40 && srv.stats().conns_open > 0; i++) {
    send(chatty, "more\r\n", 6, 0);  // fails once the server has closed
    Sleep(100);
  }
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 5000));
  ps_stats st = srv.stats();
  EXPECT_EQ(st.timeouts_linger, 2u);
  EXPECT_EQ(st.timeouts_idle, 0u);
  close_socket(silent);
  close_socket(chatty);
  srv.stop_and_check();
}

TEST(Timeouts, SendTimeoutResetsAClientThatStopsReadingAndFreesItsBuffers) {
  ps_engine_config cfg = default_config();
  cfg.send_timeout_ms = 1000;
  cfg.send_queue_max = 64 * 1024;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  SOCKET stuck = connect_to("127.0.0.1", srv.port());
  SOCKET good = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(stuck, INVALID_SOCKET);
  ASSERT_NE(good, INVALID_SOCKET);
  size_t sent = fill_until_stalled(stuck);
  EXPECT_GT(sent, cfg.send_queue_max) << "the client's send never stalled";
  ps_stats held = srv.stats();
  EXPECT_GT(held.buffers_in_use, 0u) << "the stalled echo holds queued data";
  // The server gives up on the stuck client within a sweep or two of the
  // deadline; the other client is served meanwhile.
  ByteStream stream(43);
  EXPECT_TRUE(wait_until([&] { return srv.stats().timeouts_send == 1; }, 5000));
  EXPECT_TRUE(echo_round_trip(good, stream, 5000));
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 1; }, 5000));
  ps_stats st = srv.stats();
  EXPECT_EQ(st.timeouts_send, 1u);
  EXPECT_LE(st.buffers_in_use, 1u) << "the reset connection's queue went back to the pool";
  // The server reset it (linger 0), not closed it with FIN: on the wire
  // where the platform shows it (wait_reset), and always in the server's
  // count of connections it aborted, whose only cause here is the timeout.
  EXPECT_EQ(st.conns_aborted, 1u) << "the stalled sender is reset, not closed gracefully";
  EXPECT_EQ(st.closed_reset, 0u) << "neither client reset";
  EXPECT_TRUE(wait_reset(stuck, 5000));
  close_socket(stuck);
  close_socket(good);
  srv.stop_and_check();
}

TEST(Timeouts, IdleThenLingerTimeoutEndsAPeerThatNeverAnswers) {
  ps_engine_config cfg = default_config();
  cfg.idle_timeout_ms = 1000;
  cfg.linger_timeout_ms = 1000;
  Server srv;
  ASSERT_TRUE(srv.start("discard=127.0.0.1:0/tcp", &cfg));
  SOCKET s = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(s, INVALID_SOCKET);
  // Idle timeout sends FIN; the client never answers, so the linger
  // timeout ends it: two deadlines in a row on one connection.
  EXPECT_EQ(wait_eof(s, 5000), 1);
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 5000));
  ps_stats st = srv.stats();
  EXPECT_EQ(st.timeouts_idle, 1u);
  EXPECT_EQ(st.timeouts_linger, 1u);
  close_socket(s);
  srv.stop_and_check();
}

// Idleness counts bytes either way: a client that only sends (discard never
// answers) is not idle, however long it keeps sending; once it stops, the
// idle timeout runs from its last byte.
TEST(Timeouts, InputOnlyTrafficKeepsAConnectionAlive) {
  ps_engine_config cfg = default_config();
  cfg.idle_timeout_ms = 1000;
  cfg.sweep_ms = 100;
  Server srv;
  ASSERT_TRUE(srv.start("discard=127.0.0.1:0/tcp", &cfg));
  SOCKET s = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(s, INVALID_SOCKET);
  // Three idle timeouts long, a byte every 250 ms.
  for (int i = 0; i < 12; i++) {
    ASSERT_TRUE(send_all(s, "x", 1)) << "send " << i << ": the server closed a connection that was sending";
    Sleep(250);
  }
  ASSERT_TRUE(wait_until([&] { return srv.stats().bytes_in == 12; }, 2000));
  EXPECT_EQ(srv.stats().timeouts_idle, 0u) << "closed while the client was sending";
  EXPECT_EQ(srv.stats().conns_open, 1u);
  ULONGLONG quiet = GetTickCount64();
  EXPECT_EQ(wait_eof(s, 5000), 1) << "the idle timeout closes it gracefully once it is quiet";
  ULONGLONG waited = GetTickCount64() - quiet;
  EXPECT_GE(waited, 700u) << "closed before the idle timeout had passed since the last byte";
  EXPECT_LE(waited, 3000u);
  EXPECT_EQ(srv.stats().timeouts_idle, 1u);
  close_socket(s);
  srv.stop_and_check();
}

// The linger deadline counts from our FIN: a daytime client that reads the
// time and its FIN but never sends its own is closed linger_timeout_ms
// after that FIN (within the sweep's period), not at the next sweep.
TEST(Timeouts, LingerLastsAboutTheTimeoutFromOurFin) {
  ps_engine_config cfg = default_config();
  cfg.linger_timeout_ms = 2000;
  cfg.sweep_ms = 100;
  Server srv;
  ASSERT_TRUE(srv.start("daytime=127.0.0.1:0/tcp", &cfg));
  SOCKET s = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(s, INVALID_SOCKET);
  ASSERT_EQ(wait_eof(s, 5000), 1) << "daytime sends the time, then FIN";
  ULONGLONG fin = GetTickCount64();
  ASSERT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 6000));
  ULONGLONG lingered = GetTickCount64() - fin;
  // Our FIN left at most a few ms before the client saw it; the sweep runs
  // every 100 ms, and a loaded machine may be late by a few more.
  EXPECT_GE(lingered, 1800u) << "the linger ended before linger_timeout_ms had passed since our FIN";
  EXPECT_LE(lingered, 3500u) << "the linger outlasted linger_timeout_ms by more than the sweep's period";
  EXPECT_EQ(srv.stats().timeouts_linger, 1u);
  EXPECT_EQ(srv.stats().conns_aborted, 0u) << "a linger timeout closes, it does not reset";
  close_socket(s);
  srv.stop_and_check();
}

// ---- the handler's own deadline (ps_session_set_deadline) ----------------

namespace {

// Arms a 600 ms deadline at open and never moves it; input is read and
// dropped. When it passes: "late\n", then a graceful close.
void deadline_on_open(ps_session *s) { ps_session_set_deadline(s, 600); }
void deadline_on_data(ps_session *, const void *, size_t) {}
void deadline_on_deadline(ps_session *s) {
  ps_session_send(s, "late\n", 5);
  ps_session_close(s);
}

// The handler tables (C++17 has no designated initialisers).
ps_handler DeadlineProbe(bool with_on_deadline) {
  ps_handler h{};
  h.name = "deadline";
  h.on_open = deadline_on_open;
  h.on_data = deadline_on_data;
  if (with_on_deadline) h.on_deadline = deadline_on_deadline;  // else the engine's default: a graceful close
  return h;
}

// An echo that is a management service (PS_HANDLER_MANAGEMENT).
void mgmt_on_data(ps_session *s, const void *data, size_t len) { ps_session_send(s, data, len); }
ps_handler ManagementEcho() {
  ps_handler h{};
  h.name = "mgmt";
  h.on_data = mgmt_on_data;
  h.flags = PS_HANDLER_MANAGEMENT;
  return h;
}

// Serves `h` on 127.0.0.1, port 0, beside what srv serves; its port.
unsigned serve_handler(Server &srv, const ps_handler *h) {
  ps_listen_spec spec;
  char msg[300];
  std::string text = std::string(h->name) + "=127.0.0.1:0/tcp";
  if (ps_listen_spec_parse(text.c_str(), &spec, msg, sizeof(msg)) != 0) {
    ADD_FAILURE() << msg;
    return 0;
  }
  if (ps_engine_serve(srv.engine, &spec, h, nullptr) != 0) return 0;
  std::vector<ps_endpoint> eps(64);
  eps.resize(ps_engine_endpoints(srv.engine, eps.data(), eps.size()));
  for (const ps_endpoint &ep : eps)
    if (std::strcmp(ep.service, h->name) == 0) return ep.port;
  return 0;
}

}  // namespace

TEST(Timeouts, HandlerDeadlineFiresOnTimeAndIsNotMovedByTraffic) {
  ps_engine_config cfg = default_config();
  cfg.sweep_ms = 100;
  ps_handler probe = DeadlineProbe(true);  // outlives the engine
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  unsigned port = serve_handler(srv, &probe);
  ASSERT_NE(port, 0u);
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  ULONGLONG start = GetTickCount64();
  // A byte every 100 ms: an idle timeout would never fire; this deadline does.
  std::string got;
  for (int i = 0; i < 30 && got.empty(); i++) {
    send(s, "x", 1, 0);
    Sleep(100);
    u_long ready = 0;
    ioctlsocket(s, FIONREAD, &ready);
    if (ready > 0) {
      char buf[16];
      int n = recv(s, buf, sizeof(buf), 0);
      if (n > 0) got.assign(buf, static_cast<size_t>(n));
    }
  }
  ULONGLONG took = GetTickCount64() - start;
  EXPECT_EQ(got, "late\n");
  EXPECT_GE(took, 550u) << "not before the deadline";
  EXPECT_LT(took, 1500u) << "a sweep or two after it, not moved by the bytes";
  EXPECT_EQ(wait_eof(s, 2000), 1) << "on_deadline closed it gracefully";
  close_socket(s);
  EXPECT_EQ(srv.stats().timeouts_deadline, 1u);
  EXPECT_EQ(srv.stats().timeouts_idle, 0u);
  srv.stop_and_check();
}

TEST(Timeouts, HandlerDeadlineWithoutOnDeadlineClosesGracefully) {
  ps_engine_config cfg = default_config();
  cfg.sweep_ms = 100;
  ps_handler probe = DeadlineProbe(false);  // outlives the engine
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  unsigned port = serve_handler(srv, &probe);
  ASSERT_NE(port, 0u);
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  EXPECT_EQ(wait_eof(s, 3000), 1);
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().timeouts_deadline == 1; }, 1000));
  srv.stop_and_check();
}

// A management service is served while the others are at --max-connections,
// counts only in its listener's row, and has its own allowance.
TEST(Management, ConnectionsKeepOutOfTheTotalsAndTheConnectionLimit) {
  ps_engine_config cfg = default_config();
  cfg.max_connections = 2;
  cfg.accepts = 1;
  ps_handler mgmt_handler = ManagementEcho();  // outlives the engine
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  unsigned mport = serve_handler(srv, &mgmt_handler);
  ASSERT_NE(mport, 0u);
  ByteStream stream(77);
  SOCKET a = connect_to("127.0.0.1", srv.port());
  SOCKET b = connect_to("127.0.0.1", srv.port());
  ASSERT_TRUE(echo_round_trip(a, stream, 10));
  ASSERT_TRUE(echo_round_trip(b, stream, 10));
  ps_stats before = srv.stats();
  EXPECT_EQ(before.conns_open, 2u) << "the service is at its limit";
  std::vector<SOCKET> mgmt;
  for (int i = 0; i < PS_MANAGEMENT_CONNECTIONS_MAX; i++) {
    SOCKET m = connect_to("127.0.0.1", mport);
    ASSERT_NE(m, INVALID_SOCKET);
    EXPECT_TRUE(echo_round_trip(m, stream, 100)) << "management connection " << i << " at the limit";
    mgmt.push_back(m);
  }
  SOCKET over = connect_to("127.0.0.1", mport);
  if (over != INVALID_SOCKET) {
    send(over, "x", 1, 0);
    EXPECT_NE(wait_eof(over, 3000), 0) << "a ninth is ended";
    close_socket(over);
  }
  ps_stats after = srv.stats();
  EXPECT_EQ(after.refused_management, 1u);
  EXPECT_EQ(after.mgmt_open, static_cast<uint64_t>(PS_MANAGEMENT_CONNECTIONS_MAX));
  EXPECT_GE(after.mgmt_queue_peak, 1u);
  EXPECT_EQ(after.conns_total, before.conns_total) << "not in the service totals";
  EXPECT_EQ(after.bytes_in, before.bytes_in);
  EXPECT_EQ(after.bytes_out, before.bytes_out);
  EXPECT_EQ(after.conns_open, 2u);
  std::vector<ps_listener_stats> rows(16);
  rows.resize(ps_engine_listener_stats(srv.engine, rows.data(), rows.size()));
  bool found = false;
  for (const ps_listener_stats &r : rows)
    if (std::strcmp(r.ep.service, "mgmt") == 0) {
      found = true;
      EXPECT_EQ(r.conns_accepted, static_cast<uint64_t>(PS_MANAGEMENT_CONNECTIONS_MAX)) << "its own row counts them";
      EXPECT_GT(r.bytes_in, 0u);
    }
  EXPECT_TRUE(found);
  for (SOCKET m : mgmt) close_socket(m);
  close_socket(a);
  close_socket(b);
  EXPECT_TRUE(wait_until([&] { return srv.stats().mgmt_open == 0 && srv.stats().conns_open == 0; }, 3000));
  ps_stats end = srv.stats();
  EXPECT_EQ(end.closed_orderly, 2u) << "only the service's connections in the close reasons";
  srv.stop_and_check();
}
