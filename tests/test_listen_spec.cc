// listen_spec: SERVICE=[HOST]:PORT[/tcp|/udp][,optional] as the operator writes it.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "listen_spec.h"
}

namespace {

ps_listen_spec Parse(const std::string &text) {
  ps_listen_spec spec;
  char err[512] = "";
  EXPECT_EQ(ps_listen_spec_parse(text.c_str(), &spec, err, sizeof err), 0) << text << ": " << err;
  return spec;
}

// The message for a spec that must be rejected.
std::string ParseError(const std::string &text) {
  ps_listen_spec spec;
  char err[1024] = "";
  EXPECT_EQ(ps_listen_spec_parse(text.c_str(), &spec, err, sizeof err), -1) << text;
  EXPECT_NE(err[0], '\0') << text << ": empty message";
  return err;
}

std::string Format(const ps_listen_spec &spec) {
  char buf[512];
  return ps_listen_spec_format(&spec, buf, sizeof buf);
}

void ExpectSpec(const ps_listen_spec &spec, const char *service, const char *host, unsigned port, unsigned transports,
                int optional) {
  EXPECT_STREQ(spec.service, service);
  EXPECT_STREQ(spec.host, host);
  EXPECT_EQ(spec.port, port);
  EXPECT_EQ(spec.transports, transports);
  EXPECT_EQ(spec.optional, optional);
}

}  // namespace

// ---- documented forms ----------------------------------------------------------

TEST(ListenSpec, EmptyHostMeansEveryAddressOnBothTransports) {
  ExpectSpec(Parse("echo=:7007"), "echo", "", 7007, PS_TRANSPORT_BOTH, 0);
}

TEST(ListenSpec, StarHostMeansEveryAddress) {
  ExpectSpec(Parse("echo=*:7007"), "echo", "", 7007, PS_TRANSPORT_BOTH, 0);
}

TEST(ListenSpec, IPv4WithTcp) {
  ExpectSpec(Parse("echo=127.0.0.1:7007/tcp"), "echo", "127.0.0.1", 7007, PS_TRANSPORT_TCP, 0);
}

TEST(ListenSpec, BracketedIPv6WithTransport) {
  ExpectSpec(Parse("chargen=[::1]:1919/udp"), "chargen", "::1", 1919, PS_TRANSPORT_UDP, 0);
}

TEST(ListenSpec, BracketedIPv6OnBothTransports) {
  ExpectSpec(Parse("echo=[::]:7"), "echo", "::", 7, PS_TRANSPORT_BOTH, 0);
  ExpectSpec(Parse("echo=[fe80::1%4]:7"), "echo", "fe80::1%4", 7, PS_TRANSPORT_BOTH, 0);
}

TEST(ListenSpec, HostNameWithOptional) {
  ExpectSpec(Parse("echo=localhost:7,optional"), "echo", "localhost", 7, PS_TRANSPORT_BOTH, 1);
  ExpectSpec(Parse("echo=my-host.example.com:7"), "echo", "my-host.example.com", 7, PS_TRANSPORT_BOTH, 0);
}

TEST(ListenSpec, TransportThenOptional) {
  ExpectSpec(Parse("echo=[::1]:7/tcp,optional"), "echo", "::1", 7, PS_TRANSPORT_TCP, 1);
  ExpectSpec(Parse("echo=:7/udp,optional"), "echo", "", 7, PS_TRANSPORT_UDP, 1);
}

TEST(ListenSpec, UppercaseTransport) {
  ExpectSpec(Parse("echo=:7/TCP"), "echo", "", 7, PS_TRANSPORT_TCP, 0);
  ExpectSpec(Parse("echo=:7/UDP"), "echo", "", 7, PS_TRANSPORT_UDP, 0);
}

TEST(ListenSpec, PortZeroAndMaximum) {
  EXPECT_EQ(Parse("echo=:0").port, 0u);
  EXPECT_EQ(Parse("echo=:65535").port, 65535u);
  EXPECT_EQ(Parse("echo=:00007").port, 7u);
}

TEST(ListenSpec, ServiceIsLowerCased) {
  EXPECT_STREQ(Parse("ECHO=:7").service, "echo");
  EXPECT_STREQ(Parse("My-Svc_2=:7").service, "my-svc_2");
}

TEST(ListenSpec, LongestServiceAndHostFit) {
  std::string service(PS_SERVICE_NAME_MAX - 1, 's');
  std::string host(PS_HOST_MAX - 1, 'h');
  ps_listen_spec spec = Parse(service + "=" + host + ":7");
  EXPECT_EQ(std::string(spec.service), service);
  EXPECT_EQ(std::string(spec.host), host);
}

// ---- errors: each message names the offending part ---------------------------

TEST(ListenSpec, MissingEqualsIsRejected) {
  std::string err = ParseError("echo:7007");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'echo:7007'", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "SERVICE=", err);
}

TEST(ListenSpec, EmptyServiceIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "missing service name", ParseError("=:7007"));
}

TEST(ListenSpec, BadCharacterInServiceIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'.'", ParseError("ec.ho=:7"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "' '", ParseError("ec ho=:7"));
}

TEST(ListenSpec, TooLongServiceIsRejected) {
  std::string service(PS_SERVICE_NAME_MAX, 's');
  std::string err = ParseError(service + "=:7");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "service name longer than 31", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, service, err);
}

TEST(ListenSpec, MissingAddressIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "missing [HOST]:PORT", ParseError("echo="));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "missing [HOST]:PORT", ParseError("echo=/tcp"));
}

TEST(ListenSpec, MissingPortIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "missing ':PORT'", ParseError("echo=localhost"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "port ''", ParseError("echo=localhost:"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "port ''", ParseError("echo=localhost:/tcp"));
}

TEST(ListenSpec, Port65536IsRejected) {
  std::string err = ParseError("echo=:65536");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'65536'", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "0 to 65535", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'999999'", ParseError("echo=:999999"));
}

TEST(ListenSpec, NonNumericPortIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'http'", ParseError("echo=:http"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'7x'", ParseError("echo=:7x"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'-1'", ParseError("echo=:-1"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "' 7'", ParseError("echo=: 7"));
}

TEST(ListenSpec, UnbracketedIPv6IsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "in brackets", ParseError("echo=::1:7007"));
}

TEST(ListenSpec, MissingCloseBracketIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "missing ']'", ParseError("echo=[::1:7007"));
}

TEST(ListenSpec, EmptyBracketsAreRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "empty IPv6 address", ParseError("echo=[]:7007"));
}

// Found by fuzz_listen_spec (tests/fuzz/regressions/listen_spec): these came
// back from ps_listen_spec_format as other specs ("[*]" as every address).
TEST(ListenSpec, BracketsInsideTheHostAndABracketedStarAreRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'*' (every address) goes without brackets", ParseError("echo=[*]:7"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'[' or ']' inside the host", ParseError("echo=[[x]:7"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'[' or ']' inside the host", ParseError("echo=a]:7"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'[' or ']' inside the host", ParseError("echo=a[b:7"));
}

TEST(ListenSpec, NoPortAfterBracketIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "':PORT' after ']'", ParseError("echo=[::1]"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "':PORT' after ']'", ParseError("echo=[::1]7007"));
}

TEST(ListenSpec, UnknownTransportIsRejected) {
  std::string err = ParseError("echo=:7/sctp");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'sctp'", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "/tcp or /udp", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "transport ''", ParseError("echo=:7/"));
}

TEST(ListenSpec, UnknownOptionIsRejected) {
  std::string err = ParseError("echo=:7,fast");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'fast'", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "',optional'", err);
}

TEST(ListenSpec, TooLongHostIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "host name too long",
                      ParseError("echo=" + std::string(PS_HOST_MAX, 'h') + ":7"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "host name too long",
                      ParseError("echo=[" + std::string(PS_HOST_MAX, 'a') + "]:7"));
}

TEST(ListenSpec, ErrorFitsSmallBufferAndStaysTerminated) {
  ps_listen_spec spec;
  char err[16];
  std::memset(err, 'x', sizeof err);
  EXPECT_EQ(ps_listen_spec_parse("echo=:65536", &spec, err, 8), -1);
  EXPECT_EQ(std::strlen(err), 7u);
  EXPECT_EQ(err[8], 'x') << "wrote past errsize";
  EXPECT_EQ(ps_listen_spec_parse("echo=:65536", &spec, nullptr, 0), -1);
}

// ---- format ---------------------------------------------------------------------

TEST(ListenSpec, FormatIsCanonical) {
  EXPECT_EQ(Format(Parse("ECHO=*:7007")), "echo=:7007");
  EXPECT_EQ(Format(Parse("echo=127.0.0.1:7/TCP")), "echo=127.0.0.1:7/tcp");
  EXPECT_EQ(Format(Parse("echo=[::1]:7/udp,optional")), "echo=[::1]:7/udp,optional");
  EXPECT_EQ(Format(Parse("echo=localhost:007")), "echo=localhost:7");
}

TEST(ListenSpec, FormatParsesBackToTheSameSpec) {
  const std::string texts[] = {
      "echo=:7007",
      "echo=*:0",
      "echo=127.0.0.1:7007/tcp",
      "chargen=[::1]:1919/udp",
      "echo=[fe80::1%4]:65535/TCP,optional",
      "Echo=localhost:7,optional",
      "echo=[localhost]:7",
      std::string(PS_SERVICE_NAME_MAX - 1, 's') + "=" + std::string(PS_HOST_MAX - 1, 'h') + ":65535/udp,optional",
  };
  for (const std::string &text : texts) {
    SCOPED_TRACE(text);
    ps_listen_spec first = Parse(text);
    std::string formatted = Format(first);
    ps_listen_spec second = Parse(formatted);
    EXPECT_STREQ(second.service, first.service) << formatted;
    EXPECT_STREQ(second.host, first.host) << formatted;
    EXPECT_EQ(second.port, first.port) << formatted;
    EXPECT_EQ(second.transports, first.transports) << formatted;
    EXPECT_EQ(second.optional, first.optional) << formatted;
    EXPECT_EQ(Format(second), formatted);
  }
}
