// resolve (common/base/resolve.c): the addresses a listener binds, each
// once, and how they are written in messages. Portable: natively on Linux
// and under Wine.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

extern "C" {
#include "resolve.h"
}

namespace {

#ifdef _WIN32
// Winsock must be started before getaddrinfo (resolve.h).
class Resolve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    WSADATA data;
    ASSERT_EQ(WSAStartup(MAKEWORD(2, 2), &data), 0);
  }
  static void TearDownTestSuite() { WSACleanup(); }
};
#else
class Resolve : public ::testing::Test {};
#endif

sockaddr_storage V4(const char *text, unsigned port) {
  sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  sockaddr_in *sin = reinterpret_cast<sockaddr_in *>(&ss);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(static_cast<unsigned short>(port));
  EXPECT_EQ(inet_pton(AF_INET, text, &sin->sin_addr), 1) << text;
  return ss;
}

sockaddr_storage V6(const char *text, unsigned port) {
  sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  sockaddr_in6 *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<unsigned short>(port));
  EXPECT_EQ(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1) << text;
  return ss;
}

const sockaddr *Sa(const sockaddr_storage &ss) { return reinterpret_cast<const sockaddr *>(&ss); }

std::string Format(const sockaddr_storage &ss) {
  char buf[80];
  return ps_sockaddr_format(Sa(ss), buf, sizeof(buf));
}

}  // namespace

TEST_F(Resolve, FormatWritesIPv4PlainAndIPv6InBrackets) {
  EXPECT_EQ(Format(V4("127.0.0.1", 7007)), "127.0.0.1:7007");
  EXPECT_EQ(Format(V4("0.0.0.0", 0)), "0.0.0.0:0");
  EXPECT_EQ(Format(V6("::1", 7007)), "[::1]:7007");
  EXPECT_EQ(Format(V6("2001:db8::5", 65535)), "[2001:db8::5]:65535");
  EXPECT_EQ(Format(V6("::", 19)), "[::]:19");
}

TEST_F(Resolve, FormatTruncatesToTheBufferItIsGiven) {
  char buf[8];
  sockaddr_storage ss = V4("127.0.0.1", 7007);
  EXPECT_STREQ(ps_sockaddr_format(Sa(ss), buf, sizeof(buf)), "127.0.0") << "7 characters and the NUL";
}

TEST_F(Resolve, SetPortSetsTheFamilysPortInNetworkOrder) {
  ps_resolved_addr a;
  a.addr = V4("127.0.0.1", 0);
  a.len = static_cast<int>(sizeof(sockaddr_in));
  ps_resolved_set_port(&a, 7007);
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in *>(&a.addr)->sin_port), 7007);
  EXPECT_EQ(Format(a.addr), "127.0.0.1:7007");
  a.addr = V6("::1", 1);
  a.len = static_cast<int>(sizeof(sockaddr_in6));
  ps_resolved_set_port(&a, 65535);
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in6 *>(&a.addr)->sin6_port), 65535);
  EXPECT_EQ(Format(a.addr), "[::1]:65535");
}

// Resolvers repeat addresses (per protocol, /etc/hosts and DNS): each is
// kept once, in the order first seen; the same address on another port,
// or in the other family, is another address.
TEST_F(Resolve, AddKeepsEachAddressOnceInTheOrderFirstSeen) {
  ps_resolved r;
  memset(&r, 0, sizeof(r));
  sockaddr_storage v4 = V4("127.0.0.1", 7), v6 = V6("::1", 7), v4_other_port = V4("127.0.0.1", 8);
  const int len4 = static_cast<int>(sizeof(sockaddr_in)), len6 = static_cast<int>(sizeof(sockaddr_in6));
  EXPECT_EQ(ps_resolved_add(&r, Sa(v4), len4), 1);
  EXPECT_EQ(ps_resolved_add(&r, Sa(v6), len6), 1);
  EXPECT_EQ(ps_resolved_add(&r, Sa(v4), len4), 0) << "a repeat";
  EXPECT_EQ(ps_resolved_add(&r, Sa(v6), len6), 0) << "a repeat";
  EXPECT_EQ(ps_resolved_add(&r, Sa(v4_other_port), len4), 1);
  ASSERT_EQ(r.count, 3u);
  EXPECT_EQ(Format(r.addrs[0].addr), "127.0.0.1:7");
  EXPECT_EQ(Format(r.addrs[1].addr), "[::1]:7");
  EXPECT_EQ(Format(r.addrs[2].addr), "127.0.0.1:8");
  EXPECT_EQ(r.addrs[1].len, len6);
  EXPECT_EQ(r.truncated, 0);
}

TEST_F(Resolve, AddStopsAtTheMaximumAndSaysSo) {
  ps_resolved r;
  memset(&r, 0, sizeof(r));
  const int len4 = static_cast<int>(sizeof(sockaddr_in));
  for (int i = 0; i < PS_RESOLVE_MAX; i++) {
    std::string text = "10.0.0." + std::to_string(i + 1);
    sockaddr_storage ss = V4(text.c_str(), 7);
    ASSERT_EQ(ps_resolved_add(&r, Sa(ss), len4), 1) << text;
  }
  sockaddr_storage repeat = V4("10.0.0.1", 7), extra = V4("10.0.1.1", 7);
  EXPECT_EQ(ps_resolved_add(&r, Sa(repeat), len4), 0) << "a repeat is no overflow";
  EXPECT_EQ(r.truncated, 0);
  EXPECT_EQ(ps_resolved_add(&r, Sa(extra), len4), -1);
  EXPECT_EQ(r.truncated, 1);
  EXPECT_EQ(r.count, static_cast<size_t>(PS_RESOLVE_MAX));
}

TEST_F(Resolve, PassiveNumericHostsGiveThatOneAddressWithThePort) {
  ps_resolved r;
  ASSERT_EQ(ps_resolve_passive("127.0.0.1", 7007, SOCK_STREAM, &r), 0);
  ASSERT_EQ(r.count, 1u);
  EXPECT_EQ(r.addrs[0].addr.ss_family, AF_INET);
  EXPECT_EQ(r.addrs[0].len, static_cast<int>(sizeof(sockaddr_in)));
  EXPECT_EQ(Format(r.addrs[0].addr), "127.0.0.1:7007");
  ASSERT_EQ(ps_resolve_passive("::1", 19, SOCK_DGRAM, &r), 0);
  ASSERT_EQ(r.count, 1u);
  EXPECT_EQ(r.addrs[0].addr.ss_family, AF_INET6);
  EXPECT_EQ(Format(r.addrs[0].addr), "[::1]:19");
}

// "" is every local address: the IPv4 and IPv6 wildcards (each once),
// whatever else the resolver says.
TEST_F(Resolve, PassiveEmptyHostGivesTheWildcardsEachOnce) {
  ps_resolved r;
  ASSERT_EQ(ps_resolve_passive("", 7, SOCK_STREAM, &r), 0);
  ASSERT_GE(r.count, 1u);
  std::set<std::string> seen;
  for (size_t i = 0; i < r.count; i++) {
    std::string text = Format(r.addrs[i].addr);
    EXPECT_TRUE(text == "0.0.0.0:7" || text == "[::]:7") << text;
    EXPECT_TRUE(seen.insert(text).second) << text << " twice";
  }
  EXPECT_EQ(r.truncated, 0);
}

TEST_F(Resolve, PassiveUnresolvableHostIsTheResolversError) {
  ps_resolved r;
  EXPECT_NE(ps_resolve_passive("no-such-host.invalid", 7, SOCK_STREAM, &r), 0);
  EXPECT_EQ(r.count, 0u);
}
