/* PROXY protocol v1/v2 parser and writers (proxy.h). Strictness follows the
 * specification (haproxy.org proxy-protocol.txt, 2.6), choosing the strict
 * reading wherever it leaves room: the header comes from a trusted proxy, so
 * anything unusual is more likely an attack or a misconfiguration than a
 * sender to be tolerant of. */
#include "proxy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ps_compat.h"

static const uint8_t proxy__sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char proxy__v1_prefix[] = "PROXY ";

static ps_proxy_result proxy__fail(char *err, size_t errlen, const char *fmt, ...) PS_PRINTF(3, 4);

static ps_proxy_result proxy__fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return PS_PROXY_ERROR;
}

/* ---- version 1: one line of text ------------------------------------------ */

/* A port: 1 to 5 digits, no leading zero (but "0"), at most 65535. */
static int proxy__port(const char *s, size_t n, uint16_t *port) {
  unsigned long v = 0;
  size_t i;
  if (n == 0 || n > 5 || (n > 1 && s[0] == '0')) return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535) return -1;
  *port = (uint16_t)v;
  return 0;
}

/* A dotted quad: four decimal octets, no leading zeros (which inet_pton
 * refuses too: some resolvers read them as octal). */
static int proxy__ipv4(const char *s, size_t n, uint8_t out[4]) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    size_t start = i;
    unsigned v = 0;
    if (part > 0) {
      if (i >= n || s[i] != '.') return -1;
      start = ++i;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3) v = v * 10 + (unsigned)(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) return -1;
    out[part] = (uint8_t)v;
  }
  return i == n ? 0 : -1;
}

static int proxy__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* An IPv6 address in the text forms of RFC 4291 section 2.2: eight groups of
 * 1-4 hex digits, one "::" for one or more zero groups, a dotted quad in
 * place of the last two groups. */
static int proxy__ipv6(const char *s, size_t n, uint8_t out[16]) {
  unsigned words[8];
  size_t i = 0, nw = 0, k;
  int gap = -1; /* index in words where "::" stands */
  if (n >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    i = 2;
  } else if (n == 0 || s[0] == ':') {
    return -1;
  }
  while (i < n) {
    size_t start = i;
    unsigned v = 0;
    while (i < n && proxy__hex(s[i]) >= 0 && i - start < 5) v = v * 16 + (unsigned)proxy__hex(s[i++]);
    if (i == start) return -1;
    if (i < n && s[i] == '.') { /* the dotted quad ends the address */
      uint8_t v4[4];
      if (nw > 6 || proxy__ipv4(s + start, n - start, v4) != 0) return -1;
      words[nw++] = (unsigned)(v4[0] << 8 | v4[1]);
      words[nw++] = (unsigned)(v4[2] << 8 | v4[3]);
      i = n;
      break;
    }
    if (i - start > 4 || nw == 8) return -1;
    words[nw++] = v;
    if (i == n) break;
    if (s[i] != ':') return -1;
    if (++i == n) return -1; /* a trailing single ':' */
    if (s[i] == ':') {
      if (gap >= 0) return -1; /* a second "::" */
      gap = (int)nw;
      i++;
    }
  }
  if (gap < 0 ? nw != 8 : nw > 7) return -1;
  memset(out, 0, 16);
  for (k = 0; k < nw; k++) {
    size_t at = gap >= 0 && k >= (size_t)gap ? k + (8 - nw) : k;
    out[2 * at] = (uint8_t)(words[k] >> 8);
    out[2 * at + 1] = (uint8_t)words[k];
  }
  return 0;
}

/* The complete line buf[0, n) (without its CRLF), all of it printable ASCII. */
static ps_proxy_result proxy__v1_line(const char *line, size_t n, ps_proxy_header *out, char *err, size_t errlen) {
  static const char *const names[4] = {"source address", "destination address", "source port", "destination port"};
  const char *field[4], *p = line + 6, *end = line + n, *proto_end;
  size_t field_len[4], proto_len, f;
  int v6;
  out->version = 1;
  out->command = PS_PROXY_PROXY;
  for (proto_end = p; proto_end < end && *proto_end != ' '; proto_end++) continue;
  proto_len = (size_t)(proto_end - p);
  /* UNKNOWN: "the receiver must ignore anything presented before the CRLF". */
  if (proto_len == 7 && memcmp(p, "UNKNOWN", 7) == 0) return PS_PROXY_DONE;
  if (proto_len == 4 && memcmp(p, "TCP4", 4) == 0) v6 = 0;
  else if (proto_len == 4 && memcmp(p, "TCP6", 4) == 0) v6 = 1;
  else
    return proxy__fail(err, errlen, "PROXY v1: unknown protocol '%.*s' (TCP4, TCP6 or UNKNOWN)",
                       (int)(proto_len > 16 ? 16 : proto_len), p);
  p = proto_end;
  for (f = 0; f < 4; f++) {
    if (p == end)
      return proxy__fail(err, errlen, "PROXY v1: the line ends before the %s (at byte %u)", names[f],
                         (unsigned)(p - line));
    p++; /* the one space before every field */
    field[f] = p;
    while (p < end && *p != ' ') p++;
    field_len[f] = (size_t)(p - field[f]);
    if (field_len[f] == 0)
      return proxy__fail(err, errlen, "PROXY v1: empty %s at byte %u (fields are separated by one space)", names[f],
                         (unsigned)(field[f] - line));
  }
  if (p != end)
    return proxy__fail(err, errlen, "PROXY v1: unexpected text after the destination port at byte %u",
                       (unsigned)(p - line));
  out->family = v6 ? PS_PROXY_AF_INET6 : PS_PROXY_AF_INET;
  out->transport = PS_PROXY_STREAM;
  for (f = 0; f < 2; f++) {
    uint8_t *addr = f == 0 ? out->src_addr : out->dst_addr;
    int bad = v6 ? proxy__ipv6(field[f], field_len[f], addr) : proxy__ipv4(field[f], field_len[f], addr);
    if (bad)
      return proxy__fail(err, errlen, "PROXY v1: %s '%.*s' is not an %s address", names[f],
                         (int)(field_len[f] > 45 ? 45 : field_len[f]), field[f], v6 ? "IPv6" : "IPv4");
  }
  for (f = 2; f < 4; f++) {
    if (proxy__port(field[f], field_len[f], f == 2 ? &out->src_port : &out->dst_port) != 0)
      return proxy__fail(err, errlen, "PROXY v1: %s '%.*s' is not a number from 0 to 65535 (no leading zeros)",
                         names[f], (int)(field_len[f] > 8 ? 8 : field_len[f]), field[f]);
  }
  return PS_PROXY_DONE;
}

static ps_proxy_result proxy__v1(const uint8_t *buf, size_t len, ps_proxy_header *out, size_t *consumed, char *err,
                                 size_t errlen) {
  size_t i;
  for (i = 0; i < len && i < PS_PROXY_V1_MAX; i++) {
    uint8_t c = buf[i];
    if (i < 6 && c != (uint8_t)proxy__v1_prefix[i])
      return proxy__fail(err, errlen, "PROXY v1: the line does not start with \"PROXY \" (byte %u is 0x%02x)",
                         (unsigned)i, c);
    if (i > 0 && buf[i - 1] == '\r' && c != '\n')
      return proxy__fail(err, errlen, "PROXY v1: CR without LF at byte %u", (unsigned)(i - 1));
    if (c == '\n') {
      ps_proxy_result r;
      if (i == 0 || buf[i - 1] != '\r')
        return proxy__fail(err, errlen, "PROXY v1: bare LF at byte %u (the line ends with CRLF)", (unsigned)i);
      r = proxy__v1_line((const char *)buf, i - 1, out, err, errlen);
      if (r == PS_PROXY_DONE) *consumed = i + 1;
      return r;
    }
    if (c != '\r' && (c < 0x20 || c > 0x7E))
      return proxy__fail(err, errlen, "PROXY v1: byte %u is 0x%02x, not printable ASCII", (unsigned)i, c);
  }
  if (len >= PS_PROXY_V1_MAX)
    return proxy__fail(err, errlen, "PROXY v1: no CRLF within the first %d bytes (the longest line allowed)",
                       PS_PROXY_V1_MAX);
  return PS_PROXY_NEED_MORE;
}

/* ---- version 2: binary ---------------------------------------------------- */

/* The address block's size for a family, or (size_t)-1 for none known. */
static size_t proxy__v2_addr_size(ps_proxy_family family) {
  switch (family) {
    case PS_PROXY_AF_UNSPEC:
      return 0;
    case PS_PROXY_AF_INET:
      return 12;
    case PS_PROXY_AF_INET6:
      return 36;
    case PS_PROXY_AF_UNIX:
      return 2 * PS_PROXY_UNIX_ADDR;
  }
  return (size_t)-1;
}

/* The defined family/transport bytes: UNSPEC alone, or INET, INET6, UNIX
 * with STREAM or DGRAM. "Other values ... must be rejected as invalid". */
static int proxy__v2_fam_valid(uint8_t fam) {
  unsigned family = fam >> 4, transport = fam & 0x0F;
  if (fam == 0x00) return 1;
  return family >= 1 && family <= 3 && transport >= 1 && transport <= 2;
}

static const char *proxy__family_name(unsigned family) {
  static const char *const names[4] = {"UNSPEC", "INET", "INET6", "UNIX"};
  return family < 4 ? names[family] : "unknown";
}

static ps_proxy_result proxy__v2(const uint8_t *buf, size_t len, ps_proxy_header *out, size_t *consumed, char *err,
                                 size_t errlen) {
  size_t i, block, addr_size, at;
  unsigned version, command;
  for (i = 0; i < len && i < sizeof(proxy__sig); i++)
    if (buf[i] != proxy__sig[i])
      return proxy__fail(err, errlen, "PROXY v2: signature byte %u is 0x%02x, not 0x%02x", (unsigned)i, buf[i],
                         proxy__sig[i]);
  if (len < 13) return PS_PROXY_NEED_MORE;
  version = buf[12] >> 4;
  command = buf[12] & 0x0F;
  if (version != 2) return proxy__fail(err, errlen, "PROXY v2: version %u in byte 12 (only 2 is defined)", version);
  if (command > 1)
    return proxy__fail(err, errlen, "PROXY v2: command %u in byte 12 (0 LOCAL and 1 PROXY are defined)", command);
  if (len < 14) return PS_PROXY_NEED_MORE;
  if (!proxy__v2_fam_valid(buf[13]))
    return proxy__fail(err, errlen, "PROXY v2: unknown family/transport 0x%02x in byte 13", buf[13]);
  if (len < PS_PROXY_V2_FIXED) return PS_PROXY_NEED_MORE;
  block = (size_t)buf[14] << 8 | buf[15];
  addr_size = proxy__v2_addr_size((ps_proxy_family)(buf[13] >> 4));
  /* LOCAL: "the receiver must ... discard the protocol block including the
   * family which is ignored": its contents are not read, nor checked. */
  if (command == 1 && block < addr_size)
    return proxy__fail(err, errlen, "PROXY v2: length %u in bytes 14-15 is shorter than the %u-byte %s address block",
                       (unsigned)block, (unsigned)addr_size, proxy__family_name(buf[13] >> 4));
  if (len < PS_PROXY_V2_FIXED + block) return PS_PROXY_NEED_MORE;

  out->version = 2;
  out->command = command == 1 ? PS_PROXY_PROXY : PS_PROXY_LOCAL;
  if (out->command == PS_PROXY_PROXY) {
    const uint8_t *a = buf + PS_PROXY_V2_FIXED;
    out->family = (ps_proxy_family)(buf[13] >> 4);
    out->transport = (ps_proxy_transport)(buf[13] & 0x0F);
    out->addr_offset = PS_PROXY_V2_FIXED;
    if (out->family == PS_PROXY_AF_INET || out->family == PS_PROXY_AF_INET6) {
      size_t n = out->family == PS_PROXY_AF_INET ? 4 : 16;
      memcpy(out->src_addr, a, n);
      memcpy(out->dst_addr, a + n, n);
      out->src_port = (uint16_t)(a[2 * n] << 8 | a[2 * n + 1]);
      out->dst_port = (uint16_t)(a[2 * n + 2] << 8 | a[2 * n + 3]);
    }
    out->tlv_offset = PS_PROXY_V2_FIXED + addr_size;
    out->tlv_len = block - addr_size;
    /* Type-length-value records fill the rest exactly. */
    for (at = out->tlv_offset; at < PS_PROXY_V2_FIXED + block;) {
      size_t left = PS_PROXY_V2_FIXED + block - at, value;
      if (left < 3)
        return proxy__fail(err, errlen, "PROXY v2: %u byte(s) at byte %u are too few for a TLV header (3)",
                           (unsigned)left, (unsigned)at);
      value = (size_t)buf[at + 1] << 8 | buf[at + 2];
      if (value > left - 3)
        return proxy__fail(err, errlen, "PROXY v2: the TLV at byte %u (type 0x%02x) claims %u bytes, %u are left",
                           (unsigned)at, buf[at], (unsigned)value, (unsigned)(left - 3));
      at += 3 + value;
    }
  }
  *consumed = PS_PROXY_V2_FIXED + block;
  return PS_PROXY_DONE;
}

ps_proxy_result ps_proxy_parse(const uint8_t *buf, size_t len, ps_proxy_header *out, size_t *consumed, char *err,
                               size_t errlen) {
  ps_proxy_result r;
  memset(out, 0, sizeof(*out));
  *consumed = 0;
  if (errlen > 0) err[0] = '\0';
  if (len == 0) return PS_PROXY_NEED_MORE;
  if (buf[0] == 'P') r = proxy__v1(buf, len, out, consumed, err, errlen);
  else if (buf[0] == proxy__sig[0]) r = proxy__v2(buf, len, out, consumed, err, errlen);
  else
    return proxy__fail(err, errlen, "not a PROXY protocol header: byte 0 is 0x%02x (v1 starts with 'P', v2 with 0x0d)",
                       buf[0]);
  if (r != PS_PROXY_DONE) {
    /* Nothing half-filled is left for a caller that looks anyway. */
    memset(out, 0, sizeof(*out));
    *consumed = 0;
  }
  return r;
}

/* ---- writers -------------------------------------------------------------- */

char *ps_proxy_addr_format(ps_proxy_family family, const uint8_t addr[16], char *buf, size_t size) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  size_t len = 0;
  int best = -1, best_len = 0, run = -1, k;
  if (size == 0) return buf;
  buf[0] = '\0';
  if (family == PS_PROXY_AF_INET) {
    snprintf(buf, size, "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
    return buf;
  }
  if (family != PS_PROXY_AF_INET6) return buf;
  /* RFC 5952 section 5: an IPv4-mapped address ends in its dotted quad. */
  if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
    snprintf(buf, size, "::ffff:%u.%u.%u.%u", addr[12], addr[13], addr[14], addr[15]);
    return buf;
  }
  /* RFC 5952 section 4.2: "::" replaces the longest run of two or more zero
   * groups, the first of equal runs. */
  for (k = 0; k <= 8; k++) {
    int zero = k < 8 && addr[2 * k] == 0 && addr[2 * k + 1] == 0;
    if (zero && run < 0) run = k;
    if (!zero && run >= 0) {
      if (k - run > best_len && k - run >= 2) {
        best = run;
        best_len = k - run;
      }
      run = -1;
    }
  }
  for (k = 0; k < 8; k++) {
    int n;
    if (k == best) {
      n = snprintf(buf + len, size - len, "::");
      k += best_len - 1;
    } else {
      n = snprintf(buf + len, size - len, "%x%s", (unsigned)(addr[2 * k] << 8 | addr[2 * k + 1]),
                   k < 7 && k + 1 != best ? ":" : "");
    }
    if (n < 0 || (size_t)n >= size - len) return buf; /* cut: snprintf kept it terminated */
    len += (size_t)n;
  }
  return buf;
}

size_t ps_proxy_format_v1(const ps_proxy_header *h, char *buf, size_t size) {
  char src[64], dst[64];
  int n;
  if (h->command == PS_PROXY_LOCAL || h->family == PS_PROXY_AF_UNSPEC) {
    n = snprintf(buf, size, "PROXY UNKNOWN\r\n");
  } else {
    if ((h->family != PS_PROXY_AF_INET && h->family != PS_PROXY_AF_INET6) || h->transport != PS_PROXY_STREAM) return 0;
    ps_proxy_addr_format(h->family, h->src_addr, src, sizeof(src));
    ps_proxy_addr_format(h->family, h->dst_addr, dst, sizeof(dst));
    n = snprintf(buf, size, "PROXY %s %s %s %u %u\r\n", h->family == PS_PROXY_AF_INET ? "TCP4" : "TCP6", src, dst,
                 (unsigned)h->src_port, (unsigned)h->dst_port);
  }
  if (n < 0 || (size_t)n >= size) return 0;
  return (size_t)n;
}

size_t ps_proxy_format_v2(const ps_proxy_header *h, const uint8_t *tlvs, size_t tlv_len, uint8_t *buf, size_t size) {
  ps_proxy_family family = h->command == PS_PROXY_LOCAL ? PS_PROXY_AF_UNSPEC : h->family;
  size_t addr_size = proxy__v2_addr_size(family), block, total;
  uint8_t fam = (uint8_t)((unsigned)family << 4 | (family == PS_PROXY_AF_UNSPEC ? 0u : (unsigned)h->transport));
  if (addr_size == (size_t)-1 || !proxy__v2_fam_valid(fam)) return 0;
  block = addr_size + tlv_len;
  total = PS_PROXY_V2_FIXED + block;
  if (block > 65535 || total > size) return 0;
  memcpy(buf, proxy__sig, sizeof(proxy__sig));
  buf[12] = (uint8_t)(0x20 | (h->command == PS_PROXY_LOCAL ? 0 : 1));
  buf[13] = fam;
  buf[14] = (uint8_t)(block >> 8);
  buf[15] = (uint8_t)block;
  memset(buf + PS_PROXY_V2_FIXED, 0, addr_size);
  if (family == PS_PROXY_AF_INET || family == PS_PROXY_AF_INET6) {
    uint8_t *a = buf + PS_PROXY_V2_FIXED;
    size_t n = family == PS_PROXY_AF_INET ? 4 : 16;
    memcpy(a, h->src_addr, n);
    memcpy(a + n, h->dst_addr, n);
    a[2 * n] = (uint8_t)(h->src_port >> 8);
    a[2 * n + 1] = (uint8_t)h->src_port;
    a[2 * n + 2] = (uint8_t)(h->dst_port >> 8);
    a[2 * n + 3] = (uint8_t)h->dst_port;
  }
  if (tlv_len > 0) memcpy(buf + PS_PROXY_V2_FIXED + addr_size, tlvs, tlv_len);
  return total;
}
