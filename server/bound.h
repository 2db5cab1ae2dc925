/* Bound sockets: what a TCP listener (listener.c) and a UDP socket (udp.c)
 * have in common, as libuv's handles share their common fields and one
 * close/endgame dispatch. One open (resolve each address, bind, prepare,
 * associate with the port, link, post the op pool), one close, one endgame,
 * one list in the engine, one endpoint listing; the kind (ps_bound_kind)
 * supplies what differs.
 *
 * Concurrency rule (both kinds): the socket, `closing`, `pending` and the
 * kind's op pool change only under b->lock, so no op is ever posted on a
 * closed handle. The bound socket is freed in ps_bound_endgame by whoever
 * sees closing set and pending at zero, under the lock. Lock order: the
 * engine's lock, then a bound socket's. */
#ifndef PS_BOUND_H
#define PS_BOUND_H

#define PS_ENGINE_INTERNAL
#include "engine.h"

typedef struct ps_bound ps_bound;

typedef struct ps_bound_kind {
  unsigned transport;    /* PS_TRANSPORT_TCP or PS_TRANSPORT_UDP */
  const char *name;      /* "tcp" or "udp", for messages */
  const char *post_call; /* "AcceptEx" or "WSARecvFrom", for messages */
  int socktype;          /* SOCK_STREAM or SOCK_DGRAM */
  int protocol;          /* IPPROTO_TCP or IPPROTO_UDP */
  /* Allocates the kind's struct (a ps_bound first) and its op pool; NULL
   * when out of memory. The base fields are filled by the caller. */
  ps_bound *(*create)(ps_engine *e);
  /* After the bind, before the port association: listen(), ioctls. 0, or
   * an error with *step naming the call. */
  DWORD (*prepare)(ps_bound *b, const char **step);
  /* Posts the op pool (b->lock held); returns how many are posted or
   * waiting for a token, the last error in *err, *scheduled if a retry was
   * scheduled. */
  unsigned (*arm_all)(ps_bound *b, DWORD *err, int *scheduled);
  unsigned (*pool_size)(const ps_bound *b);
  /* b->lock held, `closing` just set, the socket still open. Optional. */
  void (*closing)(ps_bound *b);
  /* The engine's lock held, just linked or unlinked. Optional. */
  void (*linked)(ps_bound *b, int linked);
  /* Frees the kind's struct and ops (no lock held; nothing pending). */
  void (*destroy)(ps_bound *b);
  /* Extra words for the "listening on" line (""). Optional. */
  const char *(*note)(const ps_bound *b);
} ps_bound_kind;

struct ps_bound {
  const ps_bound_kind *kind;
  ps_engine *eng;
  ps_bound *next; /* engine->bound (engine lock) */
  const ps_handler *handler;
  void *ctx; /* the service context */
  char service[PS_SERVICE_NAME_MAX];
  ps_listen_spec spec; /* the listener it was opened for (ps_engine_unlisten) */
  SRWLOCK lock;
  SOCKET sock;
  int family;
  SOCKADDR_STORAGE addr; /* as bound (port filled in) */
  char name[80];         /* "127.0.0.1:7007", for log lines */
  int closing;
  unsigned pending;      /* ops posted and not completed */
  unsigned idle_count;   /* ops not posted, waiting for a retry */
  ps_retry retry;        /* when the housekeeper re-posts them */
  ps_bound_stats *stats; /* its row of per-listener totals; NULL if the table is full */
};

/* Resolves spec->host for `kind` and opens one bound socket per address on
 * `port` (0: the system picks one, shared by all addresses). 0 with the
 * port in *port_out, or -1 after logging why (everything closed again). */
int ps_bound_open_spec(ps_engine *e, const ps_bound_kind *kind, const ps_listen_spec *spec, const ps_handler *h,
                       void *ctx, unsigned port, unsigned *port_out);

/* Closes the socket (its pending ops complete aborted); the endgame follows
 * when the last one has. Idempotent. */
void ps_bound_close(ps_bound *b);

/* Whoever saw closing set and pending reach zero (b->lock released): unlinks
 * and frees it. */
void ps_bound_endgame(ps_bound *b);

/* Closes every bound socket of the engine (step 1 of the stop), or with
 * `spec` only those opened for it; returns how many it closed. */
size_t ps_bound_close_all(ps_engine *e, const ps_listen_spec *spec);

/* Bound endpoints of the open sockets, TCP and UDP (engine lock held by the
 * caller); returns how many there are. */
size_t ps_bound_endpoints(ps_engine *e, ps_endpoint *out, size_t max);

/* The retry pass for one kind (housekeeper): calls `rearm` under each
 * socket's lock when its retry is due; returns when the next is due (0:
 * none). `rearm` returns the last error (0 if everything was posted). */
ULONGLONG ps_bound_retry(ps_engine *e, const ps_bound_kind *kind, ULONGLONG now,
                         int (*rearm)(ps_bound *b, ULONGLONG now, int *scheduled),
                         void (*log_failure)(ps_bound *b, int err, unsigned backoff_ms, unsigned posted));

#endif
