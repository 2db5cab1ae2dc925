/* The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the
 * header a load balancer puts before a client's bytes to say whom it is
 * relaying. A strict parser and the two writers. Portable: addresses are raw
 * bytes and ports host-order integers, no socket types.
 *
 * The parser keeps no state between calls: the caller accumulates what it
 * has received and passes all of it each time, until the answer is DONE or
 * ERROR. Each check looks only at bytes already there, in order, so an input
 * fed in any number of pieces (byte by byte included) gets the same answer as
 * when fed whole, and a bad header is refused as soon as the first wrong byte
 * arrives where that can be decided (a wrong signature byte, a bare LF, an
 * unknown version), not only at its end. */
#ifndef PS_PROXY_H
#define PS_PROXY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PS_PROXY_V1_MAX 107          /* the longest v1 line, CRLF included */
#define PS_PROXY_V2_FIXED 16         /* signature, version/command, family, length */
#define PS_PROXY_V2_MAX (16 + 65535) /* the longest v2 header */
#define PS_PROXY_UNIX_ADDR 108       /* one AF_UNIX address in a v2 block */
#define PS_PROXY_ERR_MAX 160         /* room enough for any message */

typedef enum ps_proxy_result {
  PS_PROXY_NEED_MORE = 0, /* a valid header's beginning: call again with more bytes */
  PS_PROXY_DONE = 1,      /* *out is filled, *consumed bytes were the header */
  PS_PROXY_ERROR = -1     /* not a valid header: err says which byte or field */
} ps_proxy_result;

typedef enum ps_proxy_command {
  PS_PROXY_LOCAL = 0, /* v2 only: the proxy's own connection (health check): use the real endpoints */
  PS_PROXY_PROXY = 1  /* relayed for the client the addresses name */
} ps_proxy_command;

typedef enum ps_proxy_family {
  PS_PROXY_AF_UNSPEC = 0, /* no addresses (v1 UNKNOWN, v2 UNSPEC or LOCAL): use the real endpoints */
  PS_PROXY_AF_INET = 1,
  PS_PROXY_AF_INET6 = 2,
  PS_PROXY_AF_UNIX = 3
} ps_proxy_family;

typedef enum ps_proxy_transport {
  PS_PROXY_TRANSPORT_UNSPEC = 0,
  PS_PROXY_STREAM = 1, /* TCP (v1's TCP4/TCP6) */
  PS_PROXY_DGRAM = 2
} ps_proxy_transport;

typedef struct ps_proxy_header {
  unsigned version; /* 1 or 2 */
  ps_proxy_command command;
  ps_proxy_family family;
  ps_proxy_transport transport;
  /* INET: the first 4 bytes (network order); INET6: all 16; otherwise zero.
   * AF_UNIX addresses are not copied: they are the PS_PROXY_UNIX_ADDR bytes
   * at buf + addr_offset (source) and after it (destination). */
  uint8_t src_addr[16], dst_addr[16];
  uint16_t src_port, dst_port; /* host order */
  size_t addr_offset;          /* v2 PROXY: where the address block starts in buf (16); else 0 */
  size_t tlv_offset, tlv_len;  /* v2 PROXY: the TLVs after the address block, framing checked */
} ps_proxy_header;

/* Parses the header at the start of buf[0, len). DONE: *out is the header
 * and *consumed its length (the bytes after it are the client's). NEED_MORE
 * and ERROR: *consumed is 0; on ERROR, err (errlen bytes, PS_PROXY_ERR_MAX
 * is enough) names the offending byte or field. The caller decides how long
 * to wait: a v1 line is at most PS_PROXY_V1_MAX bytes (longer is an ERROR
 * here), a v2 header at most PS_PROXY_V2_MAX. */
ps_proxy_result ps_proxy_parse(const uint8_t *buf, size_t len, ps_proxy_header *out, size_t *consumed, char *err,
                               size_t errlen);

/* Writes h as a v1 line ("PROXY TCP4 ... \r\n", or "PROXY UNKNOWN\r\n" for
 * AF_UNSPEC or a LOCAL header), NUL-terminated. Returns its length without
 * the NUL, or 0 if it does not fit or v1 cannot say it (UNIX, DGRAM). */
size_t ps_proxy_format_v1(const ps_proxy_header *h, char *buf, size_t size);

/* Writes h as a v2 header followed by `tlv_len` bytes of TLVs (written as
 * given; NULL for none). AF_UNIX addresses are written as zeros. Returns its
 * length, or 0 if it does not fit or the length field cannot hold it. */
size_t ps_proxy_format_v2(const ps_proxy_header *h, const uint8_t *tlvs, size_t tlv_len, uint8_t *buf, size_t size);

/* The text form of an address of h's family ("192.0.2.1", "2001:db8::1",
 * RFC 5952 for IPv6), NUL-terminated; 46 bytes are enough. Returns buf. */
char *ps_proxy_addr_format(ps_proxy_family family, const uint8_t addr[16], char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
