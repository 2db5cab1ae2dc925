// PROXY protocol headers on ',proxy' listeners (conn.c): only the trusted
// balancers (cfg.proxy_from) may connect; the header is read before the
// handler sees a byte, the client it names becomes the session's peer (the
// per-source limit, the logs, ps_session_peer_name), the bytes after it are
// the client's; bad, too long and late headers are reset and counted.
#include <gtest/gtest.h>

#include <string>

#include "testutil.h"

extern "C" {
#include "proxy.h"
}

using namespace pstest;

namespace {

// Sends its peer's name and a newline, then echoes.
void peer_open(ps_session *s) {
  char name[80];
  ps_session_peer_name(s, name, sizeof(name));
  std::string line = std::string(name) + "\n";
  ps_session_send(s, line.data(), line.size());
}
void peer_data(ps_session *s, const void *data, size_t len) { ps_session_send(s, data, len); }

ps_handler peer_handler() {
  ps_handler h;
  memset(&h, 0, sizeof(h));
  h.name = "peername";
  h.on_open = peer_open;
  h.on_data = peer_data;
  return h;
}
const ps_handler kPeer = peer_handler();

ps_engine_config proxy_config(const char *trusted) {
  ps_engine_config cfg = default_config();
  char err[200];
  EXPECT_EQ(ps_net_list_parse(trusted, &cfg.proxy_from, err, sizeof(err)), 0) << err;
  cfg.sweep_ms = 100;
  return cfg;
}

// Starts srv with the peer-name service on a proxy listener; its port.
unsigned start_peer_server(Server &srv, const ps_engine_config &cfg) {
  ps_listen_spec spec;
  char err[200];
  EXPECT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  EXPECT_EQ(ps_listen_spec_parse("peername=127.0.0.1:0/tcp,proxy", &spec, err, sizeof(err)), 0) << err;
  EXPECT_EQ(ps_engine_serve(srv.engine, &spec, &kPeer, nullptr), 0);
  ps_endpoint eps[8];
  size_t n = ps_engine_endpoints(srv.engine, eps, 8);
  for (size_t i = 0; i < n; i++)
    if (std::string(eps[i].service) == "peername") return eps[i].port;
  ADD_FAILURE() << "no peername listener";
  return 0;
}

std::string v2_header(int family, const char *src, unsigned sport, bool local = false) {
  ps_proxy_header h;
  memset(&h, 0, sizeof(h));
  h.version = 2;
  h.command = local ? PS_PROXY_LOCAL : PS_PROXY_PROXY;
  h.family = local ? PS_PROXY_AF_UNSPEC : (family == 6 ? PS_PROXY_AF_INET6 : PS_PROXY_AF_INET);
  h.transport = local ? PS_PROXY_TRANSPORT_UNSPEC : PS_PROXY_STREAM;
  if (!local) {
    EXPECT_EQ(ps_net_addr_parse(src, strlen(src), h.src_addr), family);
    EXPECT_EQ(ps_net_addr_parse(family == 6 ? "::1" : "127.0.0.1", family == 6 ? 3 : 9, h.dst_addr), family);
  }
  h.src_port = static_cast<uint16_t>(sport);
  h.dst_port = 7;
  uint8_t buf[64];
  size_t n = ps_proxy_format_v2(&h, nullptr, 0, buf, sizeof(buf));
  EXPECT_GT(n, 0u);
  return std::string(reinterpret_cast<char *>(buf), n);
}

// Reads one line (up to '\n') or "" on timeout/EOF.
std::string read_line(SOCKET s) {
  std::string line;
  char c;
  while (recv_exact(s, &c, 1)) {
    if (c == '\n') return line;
    line += c;
  }
  return "";
}

}  // namespace

TEST(ProxyConn, V1HeaderNamesTheClientAndTheBytesAfterItAreTheClients) {
  Server srv;
  unsigned port = start_peer_server(srv, proxy_config("127.0.0.1"));
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  std::string hello = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 7\r\nhello";
  ASSERT_TRUE(send_all(s, hello.data(), hello.size()));
  EXPECT_EQ(read_line(s), "192.0.2.7:5555") << "the handler sees the client the header names";
  char got[5];
  ASSERT_TRUE(recv_exact(s, got, 5));
  EXPECT_EQ(std::string(got, 5), "hello") << "the bytes after the header reach the service";
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 5000));
  ps_stats st = srv.stats();
  EXPECT_EQ(st.proxy_ok, 1u);
  EXPECT_EQ(st.proxy_bad, 0u);
  srv.stop_and_check();
}

TEST(ProxyConn, V2HeaderSentByteByByteNamesAnIpv6Client) {
  Server srv;
  unsigned port = start_peer_server(srv, proxy_config("127.0.0.0/8"));
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  std::string h = v2_header(6, "2001:db8::1", 4000);
  for (char c : h) ASSERT_TRUE(send_all(s, &c, 1));
  std::string name = read_line(s);
  EXPECT_NE(name.find("2001:db8::1"), std::string::npos) << name;
  EXPECT_NE(name.find("4000"), std::string::npos) << name;
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().proxy_ok == 1; }, 5000));
  srv.stop_and_check();
}

TEST(ProxyConn, V2LocalIsTheBalancerItself) {
  Server srv;
  unsigned port = start_peer_server(srv, proxy_config("127.0.0.1"));
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  std::string h = v2_header(4, nullptr, 0, true);
  ASSERT_TRUE(send_all(s, h.data(), h.size()));
  EXPECT_EQ(read_line(s).rfind("127.0.0.1:", 0), 0u) << "a health check's peer is the balancer";
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().proxy_local == 1; }, 5000));
  srv.stop_and_check();
}

TEST(ProxyConn, AnUntrustedAddressIsRefusedBeforeItBecomesAConnection) {
  Server srv;
  unsigned port = start_peer_server(srv, proxy_config("127.0.0.2"));
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  std::string hello = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 7\r\n";
  send_all(s, hello.data(), hello.size());
  EXPECT_NE(wait_eof(s, 5000), 0) << "closed, not served";
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().refused_untrusted == 1; }, 5000));
  EXPECT_EQ(srv.stats().conns_total, 0u);
  srv.stop_and_check();
}

TEST(ProxyConn, MalformedHeaderIsResetAndCounted) {
  Server srv;
  unsigned port = start_peer_server(srv, proxy_config("127.0.0.1"));
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  std::string get = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_TRUE(send_all(s, get.data(), get.size()));
  EXPECT_NE(wait_eof(s, 5000), 0);
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 5000));
  ps_stats st = srv.stats();
  EXPECT_EQ(st.proxy_bad, 1u);
  EXPECT_EQ(st.closed_proxy, 1u);
  EXPECT_EQ(st.conns_aborted, 1u) << "reset by us";
  srv.stop_and_check();
}

TEST(ProxyConn, AHeaderThatDoesNotCompleteInTimeIsReset) {
  Server srv;
  ps_engine_config cfg = proxy_config("127.0.0.1");
  cfg.proxy_timeout_ms = 300;
  unsigned port = start_peer_server(srv, cfg);
  SOCKET s = connect_to("127.0.0.1", port);
  ASSERT_NE(s, INVALID_SOCKET);
  ASSERT_TRUE(send_all(s, "PROXY TCP4 ", 11));
  EXPECT_NE(wait_eof(s, 5000), 0);
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().proxy_timeout == 1; }, 5000));
  // The reason is counted at the connection's end, once its ops completed.
  EXPECT_TRUE(wait_until([&] { return srv.stats().closed_proxy == 1; }, 5000));
  srv.stop_and_check();
}

// The per-source limit sees the client of the header: two connections of
// 192.0.2.7 are one source (the second reset), 192.0.2.8 another.
TEST(ProxyConn, PerSourceLimitCountsTheClientTheHeaderNames) {
  Server srv;
  ps_engine_config cfg = proxy_config("127.0.0.1");
  cfg.max_connections_per_source = 1;
  unsigned port = start_peer_server(srv, cfg);
  SOCKET a = connect_to("127.0.0.1", port), b = connect_to("127.0.0.1", port), c = connect_to("127.0.0.1", port);
  ASSERT_NE(a, INVALID_SOCKET);
  ASSERT_NE(b, INVALID_SOCKET);
  ASSERT_NE(c, INVALID_SOCKET);
  std::string h7 = "PROXY TCP4 192.0.2.7 127.0.0.1 1000 7\r\n", h7b = "PROXY TCP4 192.0.2.7 127.0.0.1 1001 7\r\n",
              h8 = "PROXY TCP4 192.0.2.8 127.0.0.1 1000 7\r\n";
  ASSERT_TRUE(send_all(a, h7.data(), h7.size()));
  EXPECT_EQ(read_line(a), "192.0.2.7:1000");
  send_all(b, h7b.data(), h7b.size());
  EXPECT_NE(wait_eof(b, 5000), 0) << "the second connection of 192.0.2.7 is refused";
  ASSERT_TRUE(send_all(c, h8.data(), h8.size()));
  EXPECT_EQ(read_line(c), "192.0.2.8:1000") << "another client is not affected";
  EXPECT_TRUE(wait_until([&] { return srv.stats().refused_source == 1; }, 5000));
  EXPECT_EQ(srv.stats().closed_refused, 1u);
  close_socket(a);
  close_socket(b);
  close_socket(c);
  srv.stop_and_check();
}

// IPv6 sources are one source per /64 by default, per address with 128.
TEST(ProxyConn, Ipv6SourcesOfOneSlash64AreOneSourceUnlessThePrefixIs128) {
  for (unsigned prefix : {64u, 128u}) {
    Server srv;
    ps_engine_config cfg = proxy_config("127.0.0.1");
    cfg.max_connections_per_source = 1;
    cfg.source_prefix_v6 = prefix;
    unsigned port = start_peer_server(srv, cfg);
    SOCKET a = connect_to("127.0.0.1", port), b = connect_to("127.0.0.1", port);
    ASSERT_NE(a, INVALID_SOCKET);
    ASSERT_NE(b, INVALID_SOCKET);
    std::string ha = v2_header(6, "2001:db8:0:1::1", 1000), hb = v2_header(6, "2001:db8:0:1::2", 1000);
    ASSERT_TRUE(send_all(a, ha.data(), ha.size()));
    EXPECT_NE(read_line(a), "") << prefix;
    send_all(b, hb.data(), hb.size());
    if (prefix == 64) {
      EXPECT_NE(wait_eof(b, 5000), 0) << "one /64, one source";
      EXPECT_TRUE(wait_until([&] { return srv.stats().refused_source == 1; }, 5000));
    } else {
      EXPECT_NE(read_line(b), "") << "two sources at /128";
      EXPECT_EQ(srv.stats().refused_source, 0u);
    }
    close_socket(a);
    close_socket(b);
    srv.stop_and_check();
  }
}
