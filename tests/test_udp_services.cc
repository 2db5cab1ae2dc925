// The built-in services through the real engine on real sockets (TCP and
// UDP, IPv4 and IPv6), and connectionless serving under bursts, oversized
// datagrams and ICMP port-unreachable. Every test ends with the live
// counters at zero.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "service_ref.h"
#include "testutil.h"

extern "C" {
#include "services.h"
}

using namespace pstest;

namespace {

std::string tcp_read_all(const ps_endpoint &ep, const std::string &send_first = "") {
  SOCKET s = connect_to(ep.family == AF_INET6 ? "::1" : "127.0.0.1", ep.port);
  EXPECT_NE(s, INVALID_SOCKET);
  if (s == INVALID_SOCKET) return std::string();
  if (!send_first.empty()) send_all(s, send_first.data(), send_first.size());
  std::string got;
  char buf[4096];
  for (;;) {
    int n = recv(s, buf, sizeof(buf), 0);
    if (n <= 0) {
      EXPECT_EQ(n, 0) << "the server closes gracefully (error " << WSAGetLastError() << ")";
      break;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  closesocket(s);
  return got;
}

bool looks_like_daytime(const std::string &line) {
  return line.size() > 20 && line.size() < 64 && line.compare(line.size() - 6, 6, "-UTC\r\n") == 0 &&
         line.find(", 20") != std::string::npos;
}

}  // namespace

// Every service on TCP and UDP, over IPv4 and IPv6, in one engine.
TEST(UdpServices, EveryServiceOnTcpAndUdpOverIPv4AndIPv6) {
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0"));
  for (const char *spec :
       {"echo=[::1]:0", "discard=127.0.0.1:0", "discard=[::1]:0", "chargen=127.0.0.1:0", "chargen=[::1]:0",
        "daytime=127.0.0.1:0", "daytime=[::1]:0", "qotd=127.0.0.1:0", "qotd=[::1]:0"})
    ASSERT_TRUE(srv.listen(spec)) << spec;
  ASSERT_EQ(srv.endpoints.size(), 20u) << "5 services x 2 families x 2 transports";

  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
    const ps_endpoint *ep;
    // echo
    ep = srv.endpoint("echo", PS_TRANSPORT_UDP, family);
    ASSERT_NE(ep, nullptr);
    EXPECT_EQ(udp_reply(*ep, "ping over udp"), "ping over udp");
    EXPECT_EQ(udp_reply(*ep, ""), "") << "an empty datagram is echoed as an empty datagram";
    EXPECT_EQ(srv.endpoint("echo", PS_TRANSPORT_TCP, family)->port, ep->port) << "TCP and UDP share the port";
    // discard: TCP sends nothing back and stays open until we close; UDP never replies.
    ep = srv.endpoint("discard", PS_TRANSPORT_TCP, family);
    {
      SOCKET s = connect_to(family == AF_INET6 ? "::1" : "127.0.0.1", ep->port);
      ASSERT_NE(s, INVALID_SOCKET);
      std::string junk(100000, 'd');
      EXPECT_TRUE(send_all(s, junk.data(), junk.size()));
      shutdown(s, SD_SEND);
      EXPECT_EQ(wait_eof(s, 10000), 1) << "nothing but the close comes back";
      closesocket(s);
    }
    // No reply proves nothing on its own (a dead listener does not reply
    // either): the datagram must also have been received.
    uint64_t dgrams_before = srv.stats().dgrams_in;
    EXPECT_FALSE(udp_ask(*srv.endpoint("discard", PS_TRANSPORT_UDP, family), "drop me", nullptr, 300));
    EXPECT_TRUE(wait_until([&] { return srv.stats().dgrams_in > dgrams_before; }, 5000))
        << "the discard UDP listener never received the datagram";
    // chargen: the RFC 864 pattern, across line wraps; UDP 0..512 characters of it.
    ep = srv.endpoint("chargen", PS_TRANSPORT_TCP, family);
    {
      SOCKET s = connect_to(family == AF_INET6 ? "::1" : "127.0.0.1", ep->port);
      ASSERT_NE(s, INVALID_SOCKET);
      std::string got(74 * 200, '\0');
      ASSERT_TRUE(recv_exact(s, &got[0], got.size()));
      EXPECT_EQ(got, chargen_reference(0, got.size()));
      closesocket(s);
    }
    std::string dgram = udp_reply(*srv.endpoint("chargen", PS_TRANSPORT_UDP, family), "x");
    EXPECT_LE(dgram.size(), static_cast<size_t>(PS_CHARGEN_DATAGRAM_MAX));
    EXPECT_EQ(dgram, chargen_reference(0, dgram.size()));
    // daytime: one line, then close (TCP); one datagram (UDP).
    EXPECT_TRUE(looks_like_daytime(tcp_read_all(*srv.endpoint("daytime", PS_TRANSPORT_TCP, family))));
    EXPECT_TRUE(looks_like_daytime(udp_reply(*srv.endpoint("daytime", PS_TRANSPORT_UDP, family), "")));
    // qotd: one quote under 512 characters, then close; the same quote over UDP (same day).
    std::string quote = tcp_read_all(*srv.endpoint("qotd", PS_TRANSPORT_TCP, family));
    EXPECT_GT(quote.size(), 0u);
    EXPECT_LT(quote.size(), 512u);
    EXPECT_EQ(quote.compare(quote.size() - 2, 2, "\r\n"), 0);
    EXPECT_EQ(udp_reply(*srv.endpoint("qotd", PS_TRANSPORT_UDP, family), ""), quote);
  }
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 10000));
  EXPECT_EQ(srv.stats().udp_connreset_off, 10u) << "SIO_UDP_CONNRESET turned off on every UDP socket";
  srv.stop_and_check();
}

// chargen has no on_eof: on the client's FIN the engine's default applies,
// a graceful close. The client half-closes while chargen streams, reads on,
// and gets the rest of the stream then a FIN, not a reset.
TEST(UdpServices, ChargenClosesGracefullyWhenTheClientHalfCloses) {
  Server srv;
  ASSERT_TRUE(srv.start("chargen=127.0.0.1:0/tcp"));
  SOCKET s = connect_to("127.0.0.1", srv.port());
  ASSERT_NE(s, INVALID_SOCKET);
  std::string got(74 * 50, '\0');
  ASSERT_TRUE(recv_exact(s, &got[0], got.size()));
  ASSERT_EQ(shutdown(s, SD_SEND), 0);
  // Bounded: a server that ignored the FIN would stream forever.
  char buf[4096];
  int n;
  ULONGLONG deadline = GetTickCount64() + 10000;
  while ((n = recv(s, buf, sizeof(buf), 0)) > 0 && GetTickCount64() < deadline) got.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0) << "no FIN within 10 s of ours, or a reset (error " << WSAGetLastError() << ")";
  EXPECT_EQ(got, chargen_reference(0, got.size())) << "the stream up to the FIN is the pattern";
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 10000));
  EXPECT_EQ(srv.stats().closed_reset, 0u);
  srv.stop_and_check();
}

// A chargen client that never reads: the server queues one chunk at a time,
// so its buffers stay bounded while the client's window is full, and other
// clients are served meanwhile.
TEST(UdpServices, ChargenToAClientThatNeverReadsStaysBounded) {
  Server srv;
  ASSERT_TRUE(srv.start("chargen=127.0.0.1:0/tcp"));
  ASSERT_TRUE(srv.listen("echo=127.0.0.1:0/tcp"));
  const ps_endpoint *chargen = srv.endpoint("chargen", PS_TRANSPORT_TCP, AF_INET);
  const ps_endpoint *echo = srv.endpoint("echo", PS_TRANSPORT_TCP, AF_INET);
  std::vector<SOCKET> sleepers;
  for (int i = 0; i < 5; i++) {
    int small = 4096;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char *>(&small), sizeof(small));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<u_short>(chargen->port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(s, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)), 0);
    sleepers.push_back(s);
  }
  // Let the server fill the sleepers' windows, then watch the bytes sent stop growing.
  uint64_t out = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        uint64_t now = srv.stats().bytes_out;
        bool still = now == out && now > 0;
        out = now;
        if (!still) Sleep(100);
        return still;
      },
      20000))
      << "chargen kept sending to clients that do not read";
  ps_stats st = srv.stats();
  // One 8 KiB chunk (one or two pooled buffers) per sleeping client at most.
  EXPECT_LE(st.buffers_in_use, 2u * sleepers.size() + 2) << "buffers in use: " << st.buffers_in_use;
  {
    SOCKET s = connect_to("127.0.0.1", echo->port);
    ByteStream stream(21);
    EXPECT_TRUE(echo_round_trip(s, stream, 50000)) << "other clients are served meanwhile";
    closesocket(s);
  }
  for (SOCKET s : sleepers) reset_socket(s);
  srv.stop_and_check();
}

// 10,000 datagrams from 10 sockets, 32 in flight per socket: every reply
// matches its request (each carries its own id and a pattern derived from it).
// All ten sockets are one source address (127.0.0.1), which the default
// reply rate (100/s, burst 200) would hold to about 100 replies a second:
// this test is about the engine under a burst, not the reflection guard
// (test_udp_guard.cc), so it turns the rate limits off.
TEST(UdpServices, UdpEchoBurstOfTenThousandDatagramsEveryReplyMatches) {
  ps_engine_config cfg = default_config();
  cfg.udp_reply_rate = 0;
  cfg.udp_reply_rate_total = 0;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/udp", &cfg));
  const ps_endpoint *ep = srv.endpoint("echo", PS_TRANSPORT_UDP, AF_INET);
  ASSERT_NE(ep, nullptr);
  const int kSockets = 10, kPerSocket = 1000, kWindow = 32;
  UdpEchoLoad load = udp_echo_load(*ep, kSockets, kPerSocket, kWindow);
  for (int t = 0; t < kSockets; t++) {
    EXPECT_EQ(load.matched[t], kPerSocket) << "socket " << t;
    EXPECT_EQ(load.mismatched[t], 0) << "socket " << t;
  }
  EXPECT_GE(srv.stats().dgrams_in, static_cast<uint64_t>(kSockets * kPerSocket));
  srv.stop_and_check();
}

// The socket survives an ICMP port-unreachable: a client sends and closes
// before the reply, so the reply bounces. With SIO_UDP_CONNRESET left on,
// Windows would fail the next receive with WSAECONNRESET. Wine 8 never
// reports it (docs/wine-notes.md, row 2), so under Wine only the first check
// can fail: that the engine turned SIO_UDP_CONNRESET off on the socket.
TEST(UdpServices, UdpSocketSurvivesPortUnreachableFromAClosedPeer) {
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/udp"));
  EXPECT_EQ(srv.stats().udp_connreset_off, 1u) << "WSAIoctl(SIO_UDP_CONNRESET, FALSE) did not succeed";
  const ps_endpoint *ep = srv.endpoint("echo", PS_TRANSPORT_UDP, AF_INET);
  for (int i = 0; i < 50; i++) {
    SOCKET gone = udp_socket(AF_INET);
    udp_send(gone, *ep, "bye");
    closesocket(gone);
  }
  for (int i = 0; i < 20; i++)
    EXPECT_EQ(udp_reply(*ep, "still there " + std::to_string(i)), "still there " + std::to_string(i));
  srv.stop_and_check();
}

// A datagram larger than the receive buffer is dropped and counted; the
// socket carries on.
TEST(UdpServices, OversizedDatagramIsDroppedAndCounted) {
  ps_engine_config cfg = default_config();
  cfg.buffer_size = 1024;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/udp", &cfg));
  const ps_endpoint *ep = srv.endpoint("echo", PS_TRANSPORT_UDP, AF_INET);
  EXPECT_FALSE(udp_ask(*ep, std::string(5000, 'b'), nullptr, 500));
  EXPECT_TRUE(wait_until([&] { return srv.stats().dgrams_dropped >= 1; }, 5000));
  EXPECT_EQ(udp_reply(*ep, std::string(1024, 'f')), std::string(1024, 'f')) << "a datagram that fits still works";
  srv.stop_and_check();
}

// qotd reads its quotes from the configured file.
TEST(UdpServices, QotdServesQuotesFromTheConfiguredFile) {
  char dir[MAX_PATH], path[MAX_PATH];
  GetTempPathA(MAX_PATH, dir);
  GetTempFileNameA(dir, "pq", 0, path);
  FILE *f = fopen(path, "wb");
  ASSERT_NE(f, nullptr);
  fputs("Only quote in the file.\n  -- the test\n", f);
  fclose(f);
  ps_engine_config cfg = default_config();
  ps_qotd_options opts = {path};  // qotd's own options, given with its listener
  Server srv;
  ASSERT_EQ(ps_engine_new(&cfg, &srv.engine), 0);
  ASSERT_TRUE(srv.listen("qotd=127.0.0.1:0", &opts));
  EXPECT_EQ(tcp_read_all(*srv.endpoint("qotd", PS_TRANSPORT_TCP, AF_INET)),
            "Only quote in the file.\r\n  -- the test\r\n");
  srv.stop_and_check();
  DeleteFileA(path);
}

TEST(UdpServices, MissingQuotesFileFailsTheListenerNamingTheFile) {
  LogCapture log;
  ps_engine_config cfg = default_config();
  ps_qotd_options opts = {"C:\\no\\such\\quotes.txt"};
  {
    Server srv;
    ASSERT_EQ(ps_engine_new(&cfg, &srv.engine), 0);
    EXPECT_FALSE(srv.listen("qotd=127.0.0.1:0", &opts));
    EXPECT_TRUE(srv.listen("echo=127.0.0.1:0")) << "other services are unaffected";
    srv.stop_and_check();
  }
  std::string text = log.text();
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "listen qotd: cannot open quotes file 'C:\\no\\such\\quotes.txt'", text);
}

// ps_engine_switch (a reload changing the service on one address): the
// sockets of echo=127.0.0.1:P become discard's without a bind; new TCP
// connections and datagrams get discard, a connection accepted before keeps
// echo, the per-listener rows follow, and a listener on another address or
// transport set is refused with nothing changed.
TEST(EngineSwitch, EchoBecomesDiscardOnTheSameSocketsAndOpenConnectionsKeepEcho) {
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0"));
  const ps_endpoint *tcp = srv.endpoint("echo", PS_TRANSPORT_TCP, AF_INET);
  const ps_endpoint *udp = srv.endpoint("echo", PS_TRANSPORT_UDP, AF_INET);
  ASSERT_NE(tcp, nullptr);
  ASSERT_NE(udp, nullptr);
  ps_endpoint tcp_ep = *tcp, udp_ep = *udp;
  SOCKET old = connect_to("127.0.0.1", tcp_ep.port);
  ASSERT_NE(old, INVALID_SOCKET);
  ByteStream stream(21);
  ASSERT_TRUE(echo_round_trip(old, stream, 10));
  ps_listen_spec from, to, elsewhere;
  char msg[300];
  ASSERT_EQ(ps_listen_spec_parse("echo=127.0.0.1:0", &from, msg, sizeof(msg)), 0) << msg;
  ASSERT_EQ(ps_listen_spec_parse("discard=127.0.0.1:0,optional", &to, msg, sizeof(msg)), 0) << msg;
  ASSERT_EQ(ps_listen_spec_parse("discard=127.0.0.1:0/tcp", &elsewhere, msg, sizeof(msg)), 0) << msg;
  EXPECT_EQ(ps_engine_switch(srv.engine, &from, &elsewhere, &ps_svc_discard, nullptr), -1)
      << "another set of transports is a new listener, not a switch";
  ASSERT_EQ(ps_engine_switch(srv.engine, &from, &to, &ps_svc_discard, nullptr), 0);
  EXPECT_EQ(ps_engine_switch(srv.engine, &from, &to, &ps_svc_discard, nullptr), -1) << "nothing is echo's any more";

  SOCKET fresh = connect_to("127.0.0.1", tcp_ep.port);
  ASSERT_NE(fresh, INVALID_SOCKET) << "the same listening socket accepts";
  ASSERT_TRUE(send_all(fresh, "into the void", 13));
  EXPECT_EQ(wait_readable(fresh, 500), 0) << "a new connection gets discard";
  EXPECT_FALSE(udp_ask(udp_ep, "ping", nullptr, 500)) << "a new datagram gets discard";
  EXPECT_TRUE(echo_round_trip(old, stream, 10)) << "the open connection keeps echo";

  ps_endpoint now[8];
  size_t n = ps_engine_endpoints(srv.engine, now, 8);
  ASSERT_EQ(n, 2u);
  for (size_t i = 0; i < n; i++) {
    EXPECT_STREQ(now[i].service, "discard");
    EXPECT_EQ(now[i].port, tcp_ep.port) << "no new bind: the same port";
  }
  ps_listener_stats rows[8];
  size_t count = ps_engine_listener_stats(srv.engine, rows, 8);
  int echo_open = 0, discard_open = 0;
  for (size_t i = 0; i < count && i < 8; i++) {
    if (strcmp(rows[i].ep.service, "echo") == 0) echo_open += rows[i].open;
    if (strcmp(rows[i].ep.service, "discard") == 0) discard_open += rows[i].open;
  }
  EXPECT_EQ(echo_open, 0) << "echo's rows are closed";
  EXPECT_EQ(discard_open, 2) << "discard has a row per socket (TCP and UDP)";
  closesocket(fresh);
  closesocket(old);
  srv.stop_and_check();
}
