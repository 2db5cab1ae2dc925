/* TCP connections: from an accepted socket to the endgame that frees it.
 * A connection is the ps_session that handlers see (ps_handler.h). */
#ifndef PS_CONN_H
#define PS_CONN_H

#define PS_ENGINE_INTERNAL
#include "engine.h"
#include "ps_handler.h"

/* Takes ownership of an accepted socket (SO_UPDATE_ACCEPT_CONTEXT already
 * set): associates it with the port, creates the connection, calls the
 * handler's on_open and starts reading. The socket holds an admission
 * token (listener.c), given back when the connection ends. On failure, when
 * the engine is stopping, or when the source has max_connections_per_source
 * open, the socket is reset. With `proxy` (a ',proxy' listener) the peer
 * must be in cfg.proxy_from (else reset, counted) and on_open waits for its
 * PROXY header, whose client becomes the peer. `first` (not NULL when the
 * accept waited for the client's first bytes; never with `proxy`): the
 * first_len bytes it received, 0 when the client closed without sending. */
void ps_conn_accepted(ps_engine *e, ps_bound_stats *stats, const ps_handler *h, void *ctx, SOCKET s,
                      const struct sockaddr *peer, int skip_ok, int proxy, const char *first, DWORD first_len,
                      ps_worker *w);

/* A completion (or a deferred inline result) for one of a connection's ops,
 * on worker `w`; `budget` is how many further completions it may handle
 * inline before deferring the next inline result to w's next pass. */
void ps_conn_on_completion(ps_op *op, DWORD bytes, DWORD err, ps_worker *w, unsigned budget);

/* Closes every live connection: gracefully (flush, FIN, wait for the peer's
 * FIN) or, with `abort`, with a reset. Called by ps_engine_stop. */
void ps_conn_close_all(ps_engine *e, int abort);

/* The engine's timer sweep (cfg.sweep_ms apart), at GetTickCount64 `now`:
 * closes connections past their idle, linger or send deadline. */
void ps_conn_sweep(ps_engine *e, ULONGLONG now);

/* The housekeeper's retry pass: pumps every connection whose post failed
 * for lack of resources and whose backoff is over. Returns when the next
 * retry is due, or 0 if none is scheduled. */
ULONGLONG ps_conn_retry(ps_engine *e, ULONGLONG now);

/* Logs each live connection's state (a stop that cannot finish). */
void ps_conn_log_live(ps_engine *e);

#endif
