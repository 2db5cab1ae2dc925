/* Address ranges as an operator writes them: "10.0.0.5", "192.0.2.0/24",
 * "2001:db8::/32", "::1", separated by commas (spaces allowed). A list names
 * who may do something (the load balancers trusted to send PROXY headers:
 * --proxy-from). Portable: addresses are raw bytes, parsed here, no socket
 * calls. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches the IPv4
 * ranges, as a dual-stack socket reports IPv4 peers that way. */
#ifndef PS_NET_H
#define PS_NET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PS_NET_LIST_MAX 16 /* ranges in one list */

typedef struct ps_net {
  unsigned char family; /* 4 or 6 */
  unsigned char bits;   /* prefix length: 0..32 or 0..128; the bits after it are zero in addr */
  uint8_t addr[16];     /* IPv4 in the first 4 bytes, network order */
} ps_net;

typedef struct ps_net_list {
  ps_net v[PS_NET_LIST_MAX];
  unsigned count;
} ps_net_list;

/* Parses one address, IPv4 dotted quad (four decimal parts, no leading
 * zeros) or IPv6 (RFC 4291 text, "::" once, a dotted IPv4 tail allowed),
 * into out (4 or 16 bytes). Returns 4 or 6, or 0 if `text` (len bytes) is
 * neither. */
int ps_net_addr_parse(const char *text, size_t len, uint8_t out[16]);

/* Parses a list ("" is the empty list). Host bits set past the prefix
 * length are an error (192.0.2.1/24 is a typo for .0/24 or /32). Returns 0,
 * or -1 with a message naming the item in err. */
int ps_net_list_parse(const char *text, ps_net_list *out, char *err, size_t errsize);

/* Writes the list back in canonical form ("192.0.2.0/24,::1"; an address
 * without its full-length prefix), NUL-terminated. Returns buf. */
char *ps_net_list_format(const ps_net_list *list, char *buf, size_t size);

/* Whether an address of `family` (4: 4 bytes, 6: 16 bytes) is in a range
 * of the list. */
int ps_net_list_match(const ps_net_list *list, int family, const uint8_t *addr);

#ifdef __cplusplus
}
#endif

#endif
