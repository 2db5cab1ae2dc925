/* TCP listeners: name resolution, one listening socket per resolved address,
 * and the pool of pre-posted AcceptEx operations that feeds conn.c. */
#ifndef PS_LISTENER_H
#define PS_LISTENER_H

#define PS_ENGINE_INTERNAL
#include "bufpool.h"
#include "engine.h"
#include "ps_handler.h"

/* The bytes an accept for a service whose clients speak first waits for:
 * one small buffer's worth, which the connection's first read would have
 * taken (conn.c). */
#define PS_ACCEPT_DATA_LEN ((DWORD)PS_SMALL_BUF_SIZE)

/* getaddrinfo(spec->host, AI_PASSIVE), then a listener per address. With
 * port 0 every address shares the port the first one was given, returned in
 * *port_out (so UDP can take the same one). 0, or -1
 * after logging the cause; on failure the listeners it opened are closed. */
int ps_listener_open_spec(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx, unsigned *port_out);

/* An AcceptEx completed (or was aborted). */
void ps_listener_on_completion(ps_op *op, DWORD bytes, DWORD err, ps_worker *w);

/* Posts held accept slots again while admission tokens are free
 * (max_connections): called when a connection ends. No lock held. */
void ps_listener_resume(ps_engine *e);

/* The housekeeper's sweep (every cfg.sweep_ms): sets aside accepts whose
 * client has been connected for a second without sending (a new one takes
 * each one's place), and closes those silent for cfg.idle_timeout_ms. */
void ps_listener_sweep(ps_engine *e, ULONGLONG now);

/* The housekeeper's retry pass (GetTickCount64 `now`): re-posts the idle
 * accept slots of every listener whose retry is due. Returns when the next
 * retry is due, or 0 if none is scheduled. */
ULONGLONG ps_listener_retry(ps_engine *e, ULONGLONG now);

#endif
