/* Every socket the engine owns is opened and closed here, so the count of
 * live sockets is exact: one ps_sock_open, one ps_sock_close (or
 * ps_sock_abort), nothing else calls WSASocketW or closesocket. */
#ifndef PS_SOCK_H
#define PS_SOCK_H

#define PS_ENGINE_INTERNAL
#include "engine.h"
#include "resolve.h" /* ps_sockaddr_format */

/* An overlapped, non-inheritable socket of `type` (SOCK_STREAM: TCP,
 * SOCK_DGRAM: UDP). INVALID_SOCKET with *err set on failure. */
SOCKET ps_sock_open(ps_engine *e, int family, int type, DWORD *err);
/* closesocket, count it, and set *s to INVALID_SOCKET. No-op on INVALID_SOCKET. */
void ps_sock_close(ps_engine *e, SOCKET *s);
/* Abortive close: SO_LINGER {1, 0} then closesocket, so the peer gets RST. */
void ps_sock_abort(ps_engine *e, SOCKET *s);
/* Associates the socket with the engine's completion port and, where the
 * provider allows it (skip_ok), sets FILE_SKIP_COMPLETION_PORT_ON_SUCCESS and
 * FILE_SKIP_SET_EVENT_ON_HANDLE. Returns 0 or a Win32 error. *skipping says
 * whether inline successes will skip the port. */
DWORD ps_sock_associate(ps_engine *e, SOCKET s, int skip_ok, int *skipping);
/* Non-zero when the socket's provider returns IFS handles (no non-IFS LSP), which
 * is what FILE_SKIP_COMPLETION_PORT_ON_SUCCESS requires. */
int ps_sock_is_ifs(SOCKET s);
/* A socket of `type` bound to `addr`, as every listening or UDP socket is:
 * IPV6_V6ONLY on IPv6 (so an IPv4 and an IPv6 socket on one port coexist),
 * SO_EXCLUSIVEADDRUSE (no other process may bind the port and steal its
 * traffic), bind, then getsockname into *bound (port 0 filled in). On
 * failure returns INVALID_SOCKET (nothing left open) with the failing call
 * in *step and its error in *err. A bind refused with WSAEADDRINUSE is
 * retried until the engine's bind-retry window (cfg.bind_retry_ms from the
 * first refusal since the engine started or ps_engine_rebind_window) ends or
 * cfg.bind_cancel is signalled; it logs one line when it starts waiting and
 * one when the port is free. No other error is retried. The same options
 * are what ps_bind_trial (ps_engine.h) gives `portserve check --bind`. */
SOCKET ps_sock_open_bound(ps_engine *e, const struct sockaddr *addr, int addrlen, int type, SOCKADDR_STORAGE *bound,
                          const char **step, DWORD *err);
/* Fills an endpoint for ps_engine_endpoints. */
void ps_endpoint_set(ps_endpoint *ep, const char *service, const SOCKADDR_STORAGE *addr, unsigned transport);
/* What one source is (the per-source limit, the UDP reply buckets): the
 * key of `addr` with the bits past cfg's source prefixes zeroed; an
 * IPv4-mapped IPv6 address keyed as IPv4. The one place that keys a peer. */
void ps_sock_source_key(const ps_engine_config *cfg, const SOCKADDR_STORAGE *addr, ps_ratelimit_key *key);
/* The port of an IPv4 or IPv6 address, network order. */
unsigned short ps_sockaddr_port(const SOCKADDR_STORAGE *addr);

#endif
