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

/* What every op of a bound socket's pool has: whether it waits for the
 * housekeeper's retry (not posted after a failure). */
typedef struct ps_bound_slot {
  int idle;
} ps_bound_slot;

/* ps_bound_kind.post: the op was not posted, and that is no failure (a
 * listener's slot waiting for an admission token). */
#define PS_BOUND_HELD (-1)

typedef struct ps_bound_kind {
  unsigned transport;    /* PS_TRANSPORT_TCP or PS_TRANSPORT_UDP */
  const char *name;      /* "tcp" or "udp", for messages */
  const char *post_call; /* "AcceptEx" or "WSARecvFrom", for messages */
  int socktype;          /* SOCK_STREAM or SOCK_DGRAM */
  /* Allocates the kind's struct (a ps_bound first) and its op pool; NULL
   * when out of memory. The base fields are filled by the caller. */
  ps_bound *(*create)(ps_engine *e);
  /* After the bind, before the port association: listen(), ioctls, and
   * b->skip_ok (whether the socket may skip the port on success). 0, or an
   * error with *step naming the call. */
  DWORD (*prepare)(ps_bound *b, const char **step);
  /* Posts op `i` of the pool (b->lock held, not closing): 0, PS_BOUND_HELD,
   * or the Winsock error of a post that failed at once (nothing posted). */
  int (*post)(ps_bound *b, unsigned i);
  ps_bound_slot *(*slot)(ps_bound *b, unsigned i);
  unsigned (*pool_size)(const ps_bound *b);
  /* Counted per posted op, and per post that failed at once: the gauge of
   * posted ops, the total of failed posts and their error site; the
   * rate-limited warning a failed post logs, naming the pool's ops. */
  ps_stat_index posted_stat;
  ps_stat_index error_stat;
  ps_error_site error_site;
  int warn;              /* ps_warn */
  const char *pool_noun; /* "accepts", "receives" */
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
  int skip_ok;           /* set by the kind's prepare: skip-on-success is safe on this socket */
  int skipping;          /* ... and was turned on (ps_sock_associate): inline successes queue no packet */
  int closing;
  unsigned pending;      /* ops posted and not completed */
  unsigned idle_count;   /* ops not posted, waiting for a retry */
  unsigned held_count;   /* ops not posted, waiting for an admission token (listeners) */
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

/* Gives every open bound socket of `from` to `to` (its spec, service name
 * and per-listener row) with handler `h` and context `ctx`, under the
 * engine's lock and each socket's; returns how many. Completions read the
 * handler and context together under b->lock (listener.c, udp.c), so each
 * sees the old pair or the new one. */
size_t ps_bound_switch(ps_engine *e, const ps_listen_spec *from, const ps_listen_spec *to, const ps_handler *h,
                       void *ctx);

/* Bound endpoints of the open sockets, TCP and UDP (engine lock held by the
 * caller); returns how many there are. */
size_t ps_bound_endpoints(ps_engine *e, ps_endpoint *out, size_t max);

/* Posts op `i` (b->lock held), or leaves it idle for the housekeeper's
 * retry: a post that fails for a reset ("an incoming connection was
 * indicated, but was subsequently terminated by the remote peer", AcceptEx;
 * a port-unreachable for an earlier reply, WSARecvFrom) is tried again at
 * once, PS_RETRY_IMMEDIATE times; any other failure waits for the retry,
 * 100 ms doubling to 5 s. Never drops the op. 0 if posted or held, else the
 * last error; *scheduled when this scheduled b's retry (the caller wakes
 * the housekeeper once the lock is released). */
int ps_bound_arm(ps_bound *b, unsigned i, ULONGLONG now, int *scheduled);

/* What re-posting an op found, copied under b->lock for after it: a
 * concurrent close may free b once the lock is released. */
typedef struct ps_bound_rearm {
  ps_engine *eng;
  const ps_bound_kind *kind;
  int err, scheduled, dead;
  unsigned backoff_ms, posted, total;
  char name[80];
} ps_bound_rearm;

/* Op `i` completed and was handled (b->lock held): counts it off, posts it
 * again unless b is closing, and fills *r. */
void ps_bound_rearm_locked(ps_bound *b, unsigned i, ps_bound_rearm *r);
/* An op that had left the pool completed (b->lock held): counts it off
 * `pending` without posting anything (its pool's gauge was given back when
 * it left the pool) and fills *r, for ps_bound_rearm_done. */
void ps_bound_retire_locked(ps_bound *b, ps_bound_rearm *r);
/* After b->lock is released: wakes the housekeeper, logs a failed re-post,
 * and ends b if this was its last op. */
void ps_bound_rearm_done(ps_bound *b, const ps_bound_rearm *r);

/* The retry pass for one kind (housekeeper): posts the idle ops of each
 * socket whose retry is due; returns when the next is due (0: none). */
ULONGLONG ps_bound_retry(ps_engine *e, const ps_bound_kind *kind, ULONGLONG now);

#endif
