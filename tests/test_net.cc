// Address ranges (include/ps_net.h): the --proxy-from list decides who may
// name a client, so it is parsed strictly and matched exactly.
#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "listen_spec.h"
#include "ps_net.h"
}

namespace {

std::string roundtrip(const char *text) {
  ps_net_list l;
  char err[200], out[400];
  if (ps_net_list_parse(text, &l, err, sizeof(err)) != 0) return std::string("error: ") + err;
  return ps_net_list_format(&l, out, sizeof(out));
}

bool matches(const char *list, const char *addr) {
  ps_net_list l;
  uint8_t a[16];
  char err[200];
  EXPECT_EQ(ps_net_list_parse(list, &l, err, sizeof(err)), 0) << err;
  int family = ps_net_addr_parse(addr, strlen(addr), a);
  EXPECT_NE(family, 0) << addr;
  return ps_net_list_match(&l, family, a) != 0;
}

}  // namespace

TEST(Net, ListsParseAndFormatBackCanonically) {
  EXPECT_EQ(roundtrip(""), "");
  EXPECT_EQ(roundtrip("10.0.0.5"), "10.0.0.5");
  EXPECT_EQ(roundtrip(" 10.0.0.5 , 192.0.2.0/24"), "10.0.0.5,192.0.2.0/24");
  EXPECT_EQ(roundtrip("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(roundtrip("2001:db8::/32,::1,::"), "2001:db8::/32,::1,::");
  EXPECT_EQ(roundtrip("1:0:0:2:0:0:0:3"), "1:0:0:2::3") << "the longest zero run";
  EXPECT_EQ(roundtrip("::ffff:192.0.2.1"), "::ffff:c000:201");
  EXPECT_EQ(roundtrip("0.0.0.0/0"), "0.0.0.0/0");
}

TEST(Net, BadItemsAreRefusedNamingThem) {
  for (const char *bad :
       {"10.0.0", "10.0.0.256", "010.0.0.1", "10.0.0.1/33", "10.0.0.1/24", "10.0.0.0/", "1:2:3", "1::2::3",
        ":1::", "1:2:3:4:5:6:7:8:9", "::/129", "10.0.0.5,", ",10.0.0.5", "host.example", "10.0.0.0/08", "12345::"}) {
    ps_net_list l;
    char err[200] = "";
    EXPECT_NE(ps_net_list_parse(bad, &l, err, sizeof(err)), 0) << bad;
    EXPECT_NE(std::string(err), "") << bad;
  }
  std::string many;
  for (int i = 0; i < PS_NET_LIST_MAX + 1; i++) many += (i ? "," : "") + std::string("10.0.0.") + std::to_string(i);
  ps_net_list l;
  char err[200];
  EXPECT_NE(ps_net_list_parse(many.c_str(), &l, err, sizeof(err)), 0);
}

TEST(Net, MatchIsByPrefixAndMappedAddressesMatchIpv4Ranges) {
  EXPECT_TRUE(matches("192.0.2.0/24", "192.0.2.200"));
  EXPECT_FALSE(matches("192.0.2.0/24", "192.0.3.1"));
  EXPECT_TRUE(matches("192.0.2.128/25", "192.0.2.129"));
  EXPECT_FALSE(matches("192.0.2.128/25", "192.0.2.127"));
  EXPECT_TRUE(matches("10.0.0.5", "10.0.0.5"));
  EXPECT_FALSE(matches("10.0.0.5", "10.0.0.6"));
  EXPECT_TRUE(matches("127.0.0.1", "::ffff:127.0.0.1")) << "a dual-stack socket's IPv4 peer";
  EXPECT_FALSE(matches("::1", "127.0.0.1"));
  EXPECT_TRUE(matches("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(matches("2001:db8::/32", "2001:db9::1"));
  EXPECT_FALSE(matches("", "127.0.0.1")) << "the empty list trusts nobody";
}

TEST(Net, ListenSpecProxyOptionIsTcpOnlyAndWrittenBack) {
  ps_listen_spec s;
  char err[200], out[300];
  ASSERT_EQ(ps_listen_spec_parse("echo=:7007/tcp,proxy,optional", &s, err, sizeof(err)), 0) << err;
  EXPECT_TRUE(s.proxy);
  EXPECT_TRUE(s.optional);
  EXPECT_STREQ(ps_listen_spec_format(&s, out, sizeof(out)), "echo=:7007/tcp,optional,proxy");
  EXPECT_NE(ps_listen_spec_parse("echo=:7007,proxy", &s, err, sizeof(err)), 0) << "TCP and UDP";
  EXPECT_NE(std::string(err).find("/tcp"), std::string::npos) << err;
  EXPECT_NE(ps_listen_spec_parse("echo=:7007/udp,proxy", &s, err, sizeof(err)), 0);
  EXPECT_NE(ps_listen_spec_parse("echo=:7007/tcp,proxy,proxy", &s, err, sizeof(err)), 0);
  ps_listen_spec a, b;
  ASSERT_EQ(ps_listen_spec_parse("echo=:7007/tcp", &a, err, sizeof(err)), 0);
  ASSERT_EQ(ps_listen_spec_parse("echo=:7007/tcp,proxy", &b, err, sizeof(err)), 0);
  EXPECT_FALSE(ps_listen_spec_equal(&a, &b));
}
