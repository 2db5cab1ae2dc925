/* Every socket the engine owns is opened and closed here, so the count of
 * live sockets is exact: one ps_sock_open, one ps_sock_close (or
 * ps_sock_abort), nothing else calls WSASocketW or closesocket. */
#ifndef PS_SOCK_H
#define PS_SOCK_H

#define PS_ENGINE_INTERNAL
#include "engine.h"

/* An overlapped, non-inheritable socket. INVALID_SOCKET with *err set on failure. */
SOCKET ps_sock_open(ps_engine *e, int family, int type, int protocol, DWORD *err);
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
/* A socket of ai's family bound to ai's address, as every listening or UDP
 * socket is: IPV6_V6ONLY on IPv6 (so an IPv4 and an IPv6 socket on one port
 * coexist), SO_EXCLUSIVEADDRUSE (no other process may bind the port and steal
 * its traffic), bind, then getsockname into *bound (port 0 filled in). On
 * failure returns INVALID_SOCKET (nothing left open) with the failing call in
 * *step and its error in *err. A bind refused with WSAEADDRINUSE is retried
 * until the engine's bind-retry window (cfg.bind_retry_ms, shared by every
 * bind of the engine from the first refusal on) ends or cfg.bind_cancel is
 * signalled; it logs one line when it starts waiting and one when the port
 * is free. No other error is retried. */
SOCKET ps_sock_open_bound(ps_engine *e, const struct addrinfo *ai, SOCKADDR_STORAGE *bound, const char **step,
                          DWORD *err);
/* `portserve check --bind`: a socket of ai's family and type with the same
 * options and bind as ps_sock_open_bound's (one attempt, no retry), outside
 * any engine and not counted in its live sockets. INVALID_SOCKET with the
 * failing call in *step and its error in *err. Close it with
 * ps_sock_probe_close. */
SOCKET ps_sock_probe_bind(const struct addrinfo *ai, const char **step, DWORD *err);
void ps_sock_probe_close(SOCKET *s);
/* Fills an endpoint for ps_engine_endpoints. */
void ps_endpoint_set(ps_endpoint *ep, const char *service, const SOCKADDR_STORAGE *addr, unsigned transport);
/* The port of an IPv4 or IPv6 address, network order. */
unsigned short ps_sockaddr_port(const SOCKADDR_STORAGE *addr);
/* "127.0.0.1:7007" / "[::1]:7007". Returns buf. */
char *ps_sockaddr_format(const struct sockaddr *sa, char *buf, size_t bufsize);

#endif
