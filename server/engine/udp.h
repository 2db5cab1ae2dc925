/* Connectionless serving: one UDP socket per resolved address on the
 * engine's completion port, several overlapped WSARecvFrom posted at once,
 * replies with overlapped WSASendTo to each datagram's source. */
#ifndef PS_UDP_H
#define PS_UDP_H

#define PS_ENGINE_INTERNAL
#include "engine.h"
#include "ps_handler.h"

/* Resolves spec->host (SOCK_DGRAM) and opens a socket per address on `port`
 * (0: the system picks one, shared by all addresses). 0, or -1 after
 * logging the cause; sockets opened by this call are closed again. */
int ps_udp_open_spec(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx, unsigned port);

/* A WSARecvFrom or WSASendTo completed (or was aborted), or a receive's
 * deferred inline result is due, on worker `w` with `budget` inline
 * completions for re-posts that complete at once (engine.c's dispatch, as
 * for connections). */
void ps_udp_on_completion(ps_op *op, DWORD bytes, DWORD err, ps_worker *w, unsigned budget);

/* The housekeeper's retry pass: re-posts the idle receives of every UDP
 * socket whose retry is due. Returns when the next is due, or 0 if none. */
ULONGLONG ps_udp_retry(ps_engine *e, ULONGLONG now);

#endif
