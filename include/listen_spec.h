/* One listener as the operator writes it: SERVICE=[HOST]:PORT[/tcp|/udp][,optional][,proxy]
 *   echo=:7007               every local address, IPv4 and IPv6, TCP and UDP
 *   echo=127.0.0.1:7007/tcp  one IPv4 address, TCP only
 *   chargen=[::1]:1919/udp   IPv6 literals go in brackets
 *   echo=localhost:7,optional  an address of the name that fails to open is
 *                            logged and skipped instead of failing the start
 *   echo=:7007/tcp,proxy     every connection starts with a PROXY protocol
 *                            header (v1 or v2) from a trusted load balancer
 *                            (proxy_from); TCP only
 * Parsing only: resolution (getaddrinfo) happens in the engine. */
#ifndef PS_LISTEN_SPEC_H
#define PS_LISTEN_SPEC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { PS_TRANSPORT_TCP = 1, PS_TRANSPORT_UDP = 2, PS_TRANSPORT_BOTH = PS_TRANSPORT_TCP | PS_TRANSPORT_UDP };

#define PS_SERVICE_NAME_MAX 32
#define PS_HOST_MAX 256

typedef struct ps_listen_spec {
  char service[PS_SERVICE_NAME_MAX]; /* lower case, e.g. "echo" */
  char host[PS_HOST_MAX];            /* "" means every local address */
  unsigned port;                     /* 0..65535; 0 asks the system for a free port */
  unsigned transports;               /* PS_TRANSPORT_* bits */
  int optional;                      /* non-zero: addresses that fail are skipped */
  int proxy;                         /* non-zero: connections start with a PROXY header (TCP only) */
} ps_listen_spec;

/* Parses `text`. Returns 0, or -1 with a message naming the problem in err. */
int ps_listen_spec_parse(const char *text, ps_listen_spec *out, char *err, size_t errsize);

/* Whether a and b are the same listener: every field equal (a reload
 * keeps a listener whose spec is unchanged, closes the others). */
int ps_listen_spec_equal(const ps_listen_spec *a, const ps_listen_spec *b);

/* Formats the spec back in the syntax above (canonical form). Returns buf. */
char *ps_listen_spec_format(const ps_listen_spec *spec, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif

#endif
