// HOST:PORT splitting for clients (common/base/hostport.c).
#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "hostport.h"
}

TEST(HostPort, SplitsNamesAddressesAndBracketedIPv6) {
  struct {
    const char *text, *host, *port;
  } cases[] = {
      {"127.0.0.1:9100", "127.0.0.1", "9100"},
      {"localhost:http", "localhost", "http"},
      {"[::1]:9100", "::1", "9100"},
      {"[fe80::1%eth0]:1", "fe80::1%eth0", "1"},
      {"a:b:7", "a:b", "7"},  // the last ':' without brackets, as before
  };
  for (const auto &c : cases) {
    char host[64], port[16], err[200];
    ASSERT_EQ(0, ps_hostport_split(c.text, host, sizeof host, port, sizeof port, err, sizeof err)) << c.text << err;
    EXPECT_STREQ(host, c.host);
    EXPECT_STREQ(port, c.port);
  }
}

TEST(HostPort, RefusesNamingWhatIsMissingOrTooLong) {
  struct {
    const char *text, *names;
  } cases[] = {
      {"9100", "missing ':PORT'"},
      {":9100", "missing host"},
      {"host:", "missing port"},
      {"[::1]9100", "expected ':PORT' after ']'"},
      {"[::1:9100", "missing ']'"},
      {"[]:9100", "missing host"},
      {"h:12345678901234567", "port longer than 15"},
      // Found by fuzz_hostport: split, written back and split again, these
      // came apart differently.
      {"[x]:1:2", "in the port"},
      {"a]:b:1", "inside the host"},
      {"[[x]:1", "inside the host"},
  };
  for (const auto &c : cases) {
    char host[64], port[16], err[200];
    EXPECT_EQ(-1, ps_hostport_split(c.text, host, sizeof host, port, sizeof port, err, sizeof err)) << c.text;
    EXPECT_NE(std::string(err).find(c.names), std::string::npos) << c.text << " -> " << err;
  }
  char host[4], port[16], err[200];
  EXPECT_EQ(-1, ps_hostport_split("abcd:1", host, sizeof host, port, sizeof port, err, sizeof err));
  EXPECT_NE(std::string(err).find("host longer than 3"), std::string::npos) << err;
}
