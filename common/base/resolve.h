/* Resolving a listener's host for binding: getaddrinfo(AI_PASSIVE) and the
 * distinct IPv4 and IPv6 addresses it returns, in its order. Shared by the
 * engine's open (server/engine/bound.c) and `portserve check --bind`, so
 * both see the same addresses. Portable (Winsock or POSIX). */
#ifndef PS_RESOLVE_H
#define PS_RESOLVE_H

#include <stddef.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Addresses kept per name; a name with more is cut there (truncated). */
#define PS_RESOLVE_MAX 32

typedef struct ps_resolved_addr {
  struct sockaddr_storage addr; /* port set */
  int len;                      /* of the sockaddr_in or sockaddr_in6 */
} ps_resolved_addr;

typedef struct ps_resolved {
  size_t count;
  int truncated; /* the name had more than PS_RESOLVE_MAX distinct addresses */
  ps_resolved_addr addrs[PS_RESOLVE_MAX];
} ps_resolved;

/* The addresses to bind for `host` ("" = every local address: the IPv4 and
 * IPv6 wildcards) and `port`, for sockets of `socktype` (SOCK_STREAM or
 * SOCK_DGRAM). Repeats the resolver returned are dropped. 0, or the
 * getaddrinfo error (a WSA error on Windows, EAI_* elsewhere). On Windows,
 * Winsock must be started. */
int ps_resolve_passive(const char *host, unsigned port, int socktype, ps_resolved *out);

/* Appends an address of `len` bytes unless `out` has it already (resolvers
 * repeat addresses). 1 if added, 0 if a repeat (or too long to hold), -1
 * (and out->truncated set) if `out` holds PS_RESOLVE_MAX already. */
int ps_resolved_add(ps_resolved *out, const struct sockaddr *sa, int len);

/* "127.0.0.1:7007" / "[::1]:7007" (numeric). Returns buf. */
char *ps_sockaddr_format(const struct sockaddr *sa, char *buf, size_t bufsize);

/* Sets the port (host order) of an IPv4 or IPv6 address. */
void ps_resolved_set_port(ps_resolved_addr *a, unsigned port);

#ifdef __cplusplus
}
#endif

#endif
