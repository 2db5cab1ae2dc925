// The PROXY protocol parser and writers (common/base/proxy.c): every valid
// form of v1 and v2, every kind of malformed header, and headers fed in
// pieces down to one byte at a time.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "proxy.h"
}

namespace {

using Bytes = std::vector<uint8_t>;

struct Parsed {
  ps_proxy_result result = PS_PROXY_NEED_MORE;
  ps_proxy_header header{};
  size_t consumed = 0;
  std::string err;
};

Parsed Parse(const Bytes &in, size_t len) {
  Parsed p;
  char err[PS_PROXY_ERR_MAX];
  p.result = ps_proxy_parse(in.data(), len, &p.header, &p.consumed, err, sizeof err);
  p.err = err;
  return p;
}

Parsed Parse(const Bytes &in) { return Parse(in, in.size()); }

Bytes B(const std::string &s) { return Bytes(s.begin(), s.end()); }

const Bytes kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A v2 header: signature, version/command, family byte, length, then `rest`.
Bytes V2(uint8_t ver_cmd, uint8_t fam, const Bytes &rest, int length = -1) {
  Bytes b = kSig;
  size_t n = length < 0 ? rest.size() : static_cast<size_t>(length);
  b.push_back(ver_cmd);
  b.push_back(fam);
  b.push_back(static_cast<uint8_t>(n >> 8));
  b.push_back(static_cast<uint8_t>(n));
  b.insert(b.end(), rest.begin(), rest.end());
  return b;
}

// 192.0.2.1:56324 -> 198.51.100.7:443, as HAProxy's send-proxy-v2 writes it.
const Bytes kInet = {192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB};

Bytes Inet6Block() {
  Bytes b(36, 0);
  b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8, b[15] = 1;      // 2001:db8::1
  b[16] = 0x20, b[17] = 0x01, b[18] = 0x0d, b[19] = 0xb8, b[31] = 2;  // 2001:db8::2
  b[32] = 0x30, b[33] = 0x39, b[34] = 0x00, b[35] = 0x50;             // 12345 -> 80
  return b;
}

// Every prefix of `in` shorter than `done_at` needs more; the whole gives
// the same answer as when fed at once.
void ExpectSameByteByByte(const Bytes &in) {
  Parsed whole = Parse(in);
  for (size_t n = 0; n < in.size(); n++) {
    Parsed part = Parse(in, n);
    if (part.result == PS_PROXY_NEED_MORE) continue;
    // An answer before the end must be the final one (a header, or an error
    // found early that more bytes cannot undo).
    EXPECT_EQ(part.result, whole.result) << "after " << n << " bytes: " << part.err;
    EXPECT_EQ(part.err, whole.err) << "after " << n << " bytes";
    EXPECT_EQ(part.consumed, whole.consumed);
    if (whole.result == PS_PROXY_DONE) {
      EXPECT_EQ(n, whole.consumed) << "DONE only once the header is all there";
    }
    return;
  }
}

}  // namespace

// ---- version 1 ---------------------------------------------------------------

TEST(Proxy, V1Tcp4GivesAddressesAndPortsAndLeavesTheClientsBytes) {
  Bytes in = B("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n");
  Parsed p = Parse(in);
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.consumed, 45u);
  EXPECT_EQ(p.header.version, 1u);
  EXPECT_EQ(p.header.command, PS_PROXY_PROXY);
  EXPECT_EQ(p.header.family, PS_PROXY_AF_INET);
  EXPECT_EQ(p.header.transport, PS_PROXY_STREAM);
  const uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {198, 51, 100, 7};
  EXPECT_EQ(0, memcmp(p.header.src_addr, src, 4));
  EXPECT_EQ(0, memcmp(p.header.dst_addr, dst, 4));
  EXPECT_EQ(p.header.src_port, 56324);
  EXPECT_EQ(p.header.dst_port, 443);
}

TEST(Proxy, V1Tcp6TakesEveryTextFormOfIPv6) {
  struct {
    const char *text;
    uint8_t bytes[16];
  } cases[] = {
      {"2001:db8::1", {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
      {"::", {0}},
      {"::1", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
      {"fe80::", {0xfe, 0x80}},
      {"FFFF:ffff:FFFF:ffff:ffff:ffff:ffff:FFFF",
       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
      {"::ffff:192.0.2.1", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}},
      {"1:2:3:4:5:6:7::", {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0}},
      {"0001:02:3:4:5:6:1.2.3.4", {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4}},
  };
  for (const auto &c : cases) {
    Parsed p = Parse(B(std::string("PROXY TCP6 ") + c.text + " ::1 1 2\r\n"));
    ASSERT_EQ(p.result, PS_PROXY_DONE) << c.text << ": " << p.err;
    EXPECT_EQ(p.header.family, PS_PROXY_AF_INET6);
    EXPECT_EQ(0, memcmp(p.header.src_addr, c.bytes, 16)) << c.text;
  }
}

TEST(Proxy, V1UnknownIgnoresTheRestOfTheLine) {
  for (const char *line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"}) {
    Parsed p = Parse(B(line));
    ASSERT_EQ(p.result, PS_PROXY_DONE) << line << p.err;
    EXPECT_EQ(p.header.family, PS_PROXY_AF_UNSPEC);
    EXPECT_EQ(p.consumed, strlen(line));
  }
}

TEST(Proxy, V1LineOf107BytesIsTheLongestAccepted) {
  // The spec's worst case: TCP6 with two full-length addresses, 104 + CRLF.
  std::string longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                        "65535 65535\r\n";
  EXPECT_EQ(Parse(B(longest)).result, PS_PROXY_DONE);
  std::string at107 = "PROXY UNKNOWN " + std::string(107 - 16, 'x') + "\r\n";
  ASSERT_EQ(at107.size(), 107u);
  EXPECT_EQ(Parse(B(at107)).result, PS_PROXY_DONE);
  std::string at108 = "PROXY UNKNOWN " + std::string(108 - 16, 'x') + "\r\n";
  Parsed p = Parse(B(at108));
  EXPECT_EQ(p.result, PS_PROXY_ERROR);
  EXPECT_NE(p.err.find("107"), std::string::npos) << p.err;
  // Refused as soon as the 107th byte arrives without a line end.
  EXPECT_EQ(Parse(B(at108), 106).result, PS_PROXY_NEED_MORE);
  EXPECT_EQ(Parse(B(at108), 107).result, PS_PROXY_ERROR);
}

TEST(Proxy, V1MalformedLinesAreRefusedNamingTheField) {
  struct {
    const char *line;
    const char *names;
  } cases[] = {
      {"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\n", "bare LF"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\rX", "CR without LF"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 \r\n", "after the destination port"},
      {"PROXY TCP4  192.0.2.1 198.51.100.7 56324 443\r\n", "empty source address"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 56324\r\n", "before the destination port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 1\r\n", "after the destination port"},
      {"PROXY TCP5 192.0.2.1 198.51.100.7 56324 443\r\n", "unknown protocol 'TCP5'"},
      {"PROXY tcp4 192.0.2.1 198.51.100.7 56324 443\r\n", "unknown protocol 'tcp4'"},
      {"PROXY UNKNOWNX\r\n", "unknown protocol"},
      {"PROXY \r\n", "unknown protocol ''"},
      {"PROXY  TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", "unknown protocol ''"},
      {"PROXY TCP4 192.0.2.256 198.51.100.7 56324 443\r\n", "source address '192.0.2.256'"},
      {"PROXY TCP4 192.0.2.01 198.51.100.7 56324 443\r\n", "source address"},
      {"PROXY TCP4 192.0.2 198.51.100.7 56324 443\r\n", "source address"},
      {"PROXY TCP4 192.0.2.1.5 198.51.100.7 56324 443\r\n", "source address"},
      {"PROXY TCP4 192.0.2.1 ::1 56324 443\r\n", "destination address '::1' is not an IPv4"},
      {"PROXY TCP6 192.0.2.1 ::1 56324 443\r\n", "source address '192.0.2.1' is not an IPv6"},
      {"PROXY TCP6 ::1 1::2::3 1 2\r\n", "destination address"},
      {"PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n", "destination address"},
      {"PROXY TCP6 ::1 12345::1 1 2\r\n", "destination address"},
      {"PROXY TCP6 ::1 :1 1 2\r\n", "destination address"},
      {"PROXY TCP6 ::1 1: 1 2\r\n", "destination address"},
      {"PROXY TCP6 ::1 1:2:3:4:5:6:7 1 2\r\n", "destination address"},
      {"PROXY TCP6 ::1 g::1 1 2\r\n", "destination address"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 65536 443\r\n", "source port '65536'"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 056324 443\r\n", "source port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 0443 443\r\n", "source port '0443'"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 +443 443\r\n", "source port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 443 -1\r\n", "destination port"},
      {"PROXY TCP4 192.0.2.1 198.51.100.7 443 4x\r\n", "destination port"},
      {"PROXY\tTCP4 192.0.2.1 198.51.100.7 56324 443\r\n", "does not start with \"PROXY \""},
      {"PROXX TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", "byte 4"},
      {"PROXY TCP4 192.0.2.1\t198.51.100.7 56324 443\r\n", "not printable"},
      {"PROXY UNKNOWN \x80\r\n", "not printable"},
      {"GET / HTTP/1.1\r\n", "not a PROXY protocol header"},
  };
  for (const auto &c : cases) {
    Parsed p = Parse(B(c.line));
    EXPECT_EQ(p.result, PS_PROXY_ERROR) << c.line;
    EXPECT_NE(p.err.find(c.names), std::string::npos) << c.line << " -> " << p.err;
    EXPECT_EQ(p.consumed, 0u);
    ExpectSameByteByByte(B(c.line));
  }
}

TEST(Proxy, V1TruncatedNeedsMoreAndAWrongPrefixIsRefusedAtOnce) {
  std::string line = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
  for (size_t n = 0; n < line.size(); n++) EXPECT_EQ(Parse(B(line), n).result, PS_PROXY_NEED_MORE) << n;
  EXPECT_EQ(Parse(B("PRX")).result, PS_PROXY_ERROR) << "the third byte already rules it out";
  EXPECT_EQ(Parse(B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r")).result, PS_PROXY_NEED_MORE);
}

// ---- version 2 ---------------------------------------------------------------

TEST(Proxy, V2ProxyTcp4AsHAProxySendsIt) {
  Bytes in = V2(0x21, 0x11, kInet);
  in.push_back('G');
  Parsed p = Parse(in);
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.consumed, 28u);
  EXPECT_EQ(p.header.version, 2u);
  EXPECT_EQ(p.header.command, PS_PROXY_PROXY);
  EXPECT_EQ(p.header.family, PS_PROXY_AF_INET);
  EXPECT_EQ(p.header.transport, PS_PROXY_STREAM);
  EXPECT_EQ(0, memcmp(p.header.src_addr, kInet.data(), 4));
  EXPECT_EQ(0, memcmp(p.header.dst_addr, kInet.data() + 4, 4));
  EXPECT_EQ(p.header.src_port, 56324);
  EXPECT_EQ(p.header.dst_port, 443);
  EXPECT_EQ(p.header.tlv_len, 0u);
  ExpectSameByteByByte(in);
}

TEST(Proxy, V2ProxyInet6DgramAndUnix) {
  Parsed p = Parse(V2(0x21, 0x22, Inet6Block()));
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.header.family, PS_PROXY_AF_INET6);
  EXPECT_EQ(p.header.transport, PS_PROXY_DGRAM);
  EXPECT_EQ(p.header.src_addr[15], 1);
  EXPECT_EQ(p.header.dst_addr[15], 2);
  EXPECT_EQ(p.header.src_port, 12345);
  EXPECT_EQ(p.header.dst_port, 80);

  Bytes unix_block(216, 0);
  memcpy(unix_block.data(), "/run/client.sock", 16);
  p = Parse(V2(0x21, 0x31, unix_block));
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.header.family, PS_PROXY_AF_UNIX);
  EXPECT_EQ(p.header.addr_offset, 16u);
  EXPECT_EQ(p.consumed, 16u + 216u);
}

TEST(Proxy, V2LocalIsAcceptedWithItsBlockSkippedUnread) {
  Parsed p = Parse(V2(0x20, 0x00, {}));
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.header.command, PS_PROXY_LOCAL);
  EXPECT_EQ(p.header.family, PS_PROXY_AF_UNSPEC);
  EXPECT_EQ(p.consumed, 16u);
  // "discard the protocol block including the family which is ignored".
  p = Parse(V2(0x20, 0x11, {1, 2, 3}));
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.header.family, PS_PROXY_AF_UNSPEC);
  EXPECT_EQ(p.consumed, 19u);
}

TEST(Proxy, V2TlvsAreSkippedAndTheirFramingChecked) {
  Bytes block = kInet;
  const Bytes tlvs = {0x02, 0x00, 0x0b, 'e',  'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',  // AUTHORITY
                      0x04, 0x00, 0x00,                                                          // NOOP, empty
                      0x05, 0x00, 0x02, 0xab, 0xcd};                                             // UNIQUE_ID
  block.insert(block.end(), tlvs.begin(), tlvs.end());
  Bytes in = V2(0x21, 0x11, block);
  Parsed p = Parse(in);
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.consumed, in.size());
  EXPECT_EQ(p.header.tlv_offset, 28u);
  EXPECT_EQ(p.header.tlv_len, tlvs.size());
  ExpectSameByteByByte(in);
  // PROXY with UNSPEC: no addresses, the whole block is TLVs.
  p = Parse(V2(0x21, 0x00, tlvs));
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.header.family, PS_PROXY_AF_UNSPEC);
  EXPECT_EQ(p.header.tlv_len, tlvs.size());

  Bytes overrun = kInet;
  overrun.insert(overrun.end(), {0x02, 0x00, 0x05, 'a', 'b'});
  p = Parse(V2(0x21, 0x11, overrun));
  EXPECT_EQ(p.result, PS_PROXY_ERROR);
  EXPECT_NE(p.err.find("TLV at byte 28"), std::string::npos) << p.err;
  Bytes stub = kInet;
  stub.insert(stub.end(), {0x04, 0x00});
  p = Parse(V2(0x21, 0x11, stub));
  EXPECT_EQ(p.result, PS_PROXY_ERROR);
  EXPECT_NE(p.err.find("too few for a TLV header"), std::string::npos) << p.err;
}

TEST(Proxy, V2MalformedHeadersAreRefusedNamingTheByte) {
  Bytes bad_sig = V2(0x21, 0x11, kInet);
  bad_sig[7] = 'q';
  struct {
    Bytes in;
    const char *names;
  } cases[] = {
      {bad_sig, "signature byte 7"},
      {V2(0x11, 0x11, kInet), "version 1"},
      {V2(0x31, 0x11, kInet), "version 3"},
      {V2(0x22, 0x11, kInet), "command 2"},
      {V2(0x2F, 0x11, kInet), "command 15"},
      {V2(0x21, 0x41, kInet), "unknown family/transport 0x41"},
      {V2(0x21, 0x13, kInet), "0x13"},
      {V2(0x21, 0x10, kInet), "0x10"},
      {V2(0x21, 0x01, kInet), "0x01"},
      {V2(0x20, 0x51, {}), "0x51"},
      {V2(0x21, 0x11, Bytes(kInet.begin(), kInet.begin() + 8)), "length 8 in bytes 14-15 is shorter than the 12-byte"},
      {V2(0x21, 0x21, kInet), "shorter than the 36-byte INET6"},
      {V2(0x21, 0x31, Bytes(215, 0)), "shorter than the 216-byte UNIX"},
  };
  for (const auto &c : cases) {
    Parsed p = Parse(c.in);
    EXPECT_EQ(p.result, PS_PROXY_ERROR) << c.names;
    EXPECT_NE(p.err.find(c.names), std::string::npos) << c.names << " -> " << p.err;
    ExpectSameByteByByte(c.in);
  }
}

TEST(Proxy, V2TruncatedNeedsMoreUntilTheLengthIsThere) {
  Bytes block = kInet;
  block.insert(block.end(), {0x04, 0x00, 0x03, 1, 2, 3});
  Bytes in = V2(0x21, 0x11, block);
  for (size_t n = 0; n < in.size(); n++) EXPECT_EQ(Parse(in, n).result, PS_PROXY_NEED_MORE) << n;
  EXPECT_EQ(Parse(in).result, PS_PROXY_DONE);
  // A length that promises more than will come keeps asking (the caller's
  // timeout and PS_PROXY_V2_MAX bound the wait).
  Bytes promise = V2(0x21, 0x11, kInet, 65535);
  EXPECT_EQ(Parse(promise).result, PS_PROXY_NEED_MORE);
}

// ---- writers -----------------------------------------------------------------

TEST(Proxy, FormattersRoundTripBothVersions) {
  ps_proxy_header h{};
  h.version = 1;
  h.command = PS_PROXY_PROXY;
  h.family = PS_PROXY_AF_INET6;
  h.transport = PS_PROXY_STREAM;
  const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
  memcpy(h.src_addr, src, 16);
  h.dst_addr[15] = 1;
  h.src_port = 65535;
  h.dst_port = 0;
  char line[PS_PROXY_V1_MAX + 1];
  size_t n = ps_proxy_format_v1(&h, line, sizeof line);
  EXPECT_STREQ(line, "PROXY TCP6 2001:db8::1:0:0:1 ::1 65535 0\r\n");
  Parsed p = Parse(Bytes(line, line + n));
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(0, memcmp(&p.header, &h, sizeof h));

  uint8_t out[64];
  const uint8_t tlv[] = {0x04, 0x00, 0x01, 0x00};
  n = ps_proxy_format_v2(&h, tlv, sizeof tlv, out, sizeof out);
  ASSERT_EQ(n, 16u + 36u + 4u);
  p = Parse(Bytes(out, out + n));
  ASSERT_EQ(p.result, PS_PROXY_DONE) << p.err;
  EXPECT_EQ(p.header.version, 2u);
  EXPECT_EQ(0, memcmp(p.header.src_addr, h.src_addr, 16));
  EXPECT_EQ(p.header.src_port, 65535);
  EXPECT_EQ(p.header.tlv_len, 4u);
  EXPECT_EQ(0u, ps_proxy_format_v2(&h, tlv, sizeof tlv, out, 55)) << "one byte short";

  h.command = PS_PROXY_LOCAL;
  EXPECT_EQ(ps_proxy_format_v1(&h, line, sizeof line), 15u);
  EXPECT_STREQ(line, "PROXY UNKNOWN\r\n");
  n = ps_proxy_format_v2(&h, nullptr, 0, out, sizeof out);
  EXPECT_EQ(Bytes(out, out + n), V2(0x20, 0x00, {}));

  h.command = PS_PROXY_PROXY;
  h.family = PS_PROXY_AF_INET;
  h.transport = PS_PROXY_DGRAM;
  EXPECT_EQ(0u, ps_proxy_format_v1(&h, line, sizeof line)) << "v1 has no UDP";
  EXPECT_EQ(0u, ps_proxy_format_v1(&h, line, 10));
}

TEST(Proxy, AddressTextIsRfc5952) {
  char buf[64];
  struct {
    uint8_t a[16];
    const char *text;
  } cases[] = {
      {{0}, "::"},
      {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
      {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "2001:db8::"},
      {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, "2001:db8:0:1::1"},
      {{0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0}, "2001::1:0:0:1:0"},
      {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, "2001:db8:0:1:1:1:1:1"},
      {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, "::ffff:192.0.2.1"},
  };
  for (const auto &c : cases) EXPECT_STREQ(ps_proxy_addr_format(PS_PROXY_AF_INET6, c.a, buf, sizeof buf), c.text);
  const uint8_t v4[16] = {255, 0, 2, 9};
  EXPECT_STREQ(ps_proxy_addr_format(PS_PROXY_AF_INET, v4, buf, sizeof buf), "255.0.2.9");
}
