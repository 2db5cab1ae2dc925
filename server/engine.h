/* The engine's internals: what listener.c, conn.c, udp.c and sock.c share
 * with engine.c. The public API is include/ps_engine.h. */
#ifndef PS_ENGINE_H
#define PS_ENGINE_H

#include "options.h"
#include "ps_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sets every field a portserve option governs from `o` (seconds to
 * milliseconds and the like): the one copy of that mapping, used by the run
 * loop and by ps_engine_config_default (whose defaults are the option
 * table's). Not in the public header: ps_options is portserve's command
 * line, not the library's. */
void ps_engine_config_set_options(ps_engine_config *cfg, const ps_options *o);

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------------------- */
/* Internal to server/.                                                    */
#ifdef PS_ENGINE_INTERNAL

#include "bufpool.h"
#include "log.h"
#include "ps_handler.h"
#include "ps_win.h"
#include "connlimit.h"
#include "ratelimit.h"

typedef struct ps_listener ps_listener;
typedef struct ps_udp ps_udp;
typedef struct ps_session ps_conn;
typedef struct ps_worker ps_worker;

/* The completion-port dispatch contract. Sockets are associated with
 * PS_KEY_IO; the op kind in the OVERLAPPED's enclosing ps_op says what
 * completed and engine__worker hands it to its owner (listener.c, conn.c,
 * udp.c). */
#define PS_KEY_IO ((ULONG_PTR)0)
#define PS_KEY_DEFERRED ((ULONG_PTR)1) /* an inline result handed to the port by a non-worker thread */
#define PS_KEY_QUIT ((ULONG_PTR)2)     /* a worker should exit */

typedef enum ps_op_kind { PS_OP_ACCEPT = 1, PS_OP_RECV, PS_OP_SEND, PS_OP_UDP_RECV, PS_OP_UDP_SEND } ps_op_kind;

/* Every overlapped operation starts with this; the OVERLAPPED comes first so
 * the pointer GetQueuedCompletionStatusEx returns is the op's address.
 * `next` and `bytes` carry an inline result on a worker's deferred queue. */
typedef struct ps_op {
  OVERLAPPED ov;
  ps_op_kind kind;
  DWORD bytes;
  struct ps_op *next;
} ps_op;

/* A worker thread's own state: the inline results it deferred for fairness
 * (conn.c), handled on its next pass, after the completions then waiting in
 * the port (docs/design.md, "Inline completions"). Only its thread touches
 * the queue; `owned` is read by the others (ps_worker_may_queue). */
struct ps_worker {
  ps_engine *eng;
  ps_op *head, *tail;
  unsigned count;      /* results queued so far in this pass */
  volatile LONG owned; /* results it took from its queue at the start of this pass */
};

/* Queues an inline result on worker `w` (its own thread only). */
void ps_worker_defer(ps_worker *w, ps_op *op, DWORD bytes);
/* 1 if worker `w` may queue one more result: it has queued no more in
 * this pass than any other worker took in its own. 0: the result should go
 * through the port, where the worker with less to do takes it. */
int ps_worker_may_queue(const ps_worker *w);

/* A service context made by a handler's on_start (once per handler and
 * options), freed by its on_stop. */
typedef struct ps_service_ctx {
  const ps_handler *handler;
  const void *options;
  void *ctx;
} ps_service_ctx;

#define PS_MAX_SERVICE_CTX 64

/* Warnings a peer (or the machine's resources) can trigger, each rate
 * limited on its own (ps_log_limited): a flood logs one line a minute. */
typedef enum ps_warn {
  PS_WARN_ACCEPT_POST = 0, /* AcceptEx (or its socket) could not be posted */
  PS_WARN_ACCEPT_CTX,      /* SO_UPDATE_ACCEPT_CONTEXT failed */
  PS_WARN_ACCEPTED,        /* an accepted socket could not be taken on */
  PS_WARN_CONN_OP,         /* a connection's WSARecv/WSASend failed (not a reset) */
  PS_WARN_CONN_RETRY,      /* a connection's post failed for lack of resources; retried */
  PS_WARN_CONN_GIVE_UP,    /* ... and kept failing: aborted */
  PS_WARN_UDP_POST,        /* WSARecvFrom could not be posted */
  PS_WARN_UDP_RECV,        /* a receive completed with an error */
  PS_WARN_COUNT
} ps_warn;

/* Re-post policy after a post that failed at once (docs/design.md,
 * "Resource errors"): a few immediate retries for WSAECONNRESET, then
 * (and for everything else) the housekeeping thread retries with
 * exponential backoff. */
#define PS_RETRY_IMMEDIATE 3
#define PS_RETRY_FIRST_MS 100u
#define PS_RETRY_MAX_MS 5000u

/* The next backoff after `prev` (0 = the first): 100 ms doubling to 5 s. */
unsigned ps_retry_backoff(unsigned prev);

/* One retry schedule (a listener's idle accepts, a UDP socket's idle
 * receives, a connection's waiting op), under its owner's lock. */
typedef struct ps_retry {
  ULONGLONG at;        /* when the retry is due (GetTickCount64); 0 = none scheduled */
  unsigned backoff_ms; /* the current delay; 0 = the next failure waits PS_RETRY_FIRST_MS */
} ps_retry;

/* Schedules a retry after the next backoff unless one is scheduled; 1 if
 * this call scheduled it (the caller wakes the housekeeper). */
int ps_retry_schedule(ps_retry *r, ULONGLONG now);
/* 1 if the scheduled retry is due at `now`; it is then taken (none scheduled). */
int ps_retry_take(ps_retry *r, ULONGLONG now);
/* Everything that waited was posted: the next failure starts from the first backoff. */
void ps_retry_reset(ps_retry *r);
/* Lowers *next (0 = none yet) to r's due time, if r has one. */
void ps_retry_earliest(const ps_retry *r, ULONGLONG *next);

/* Errors that say "not now" (out of buffers, memory, sockets, or too many
 * overlapped requests) rather than "this connection is broken". */
int ps_err_is_resource(unsigned long err);

/* The fault hook: 0, or the error the call at `site` must fail with. */
unsigned long ps_fault_hit(ps_faults *f, ps_fault_site site);

/* A listening socket's totals (ps_listener_stats): found or made by
 * address when the socket opens, kept for the engine's life; every count is
 * interlocked, made where it happens (a connection counts into its
 * listener's row). Read under stats_lock only: safe from any callback. */
typedef struct ps_bound_stats {
  ps_endpoint ep;
  size_t index; /* its row in ps_engine_listener_stats */
  volatile LONG64 open;
  volatile LONG64 conns_accepted;
  volatile LONG64 bytes_in, bytes_out, msgs_in, msgs_out, dgrams_in, dgrams_out;
} ps_bound_stats;

#define PS_MAX_BOUND_STATS 128
#define PS_MAX_ERROR_COUNTS 32

struct ps_engine {
  ps_engine_config cfg;
  HANDLE port;
  HANDLE *workers;
  ps_worker *worker_state; /* one per worker thread */
  unsigned worker_count;
  HANDLE housekeeper;      /* thread: the sweep (timeouts, buffer parking), once a second */
  HANDLE housekeeper_stop; /* event that ends it */
  HANDLE housekeeper_wake; /* auto-reset event: a retry was scheduled (ps_engine__wake) */
  ps_log_limit warn[PS_WARN_COUNT];
  ps_bufpool pool;

  /* Guards the lists and `stopping`. Lock order: engine, then a connection
   * or listener; never the engine while holding a connection's lock. */
  SRWLOCK lock;
  CONDITION_VARIABLE changed; /* live_conns or live_listeners fell */
  ps_conn *conns;             /* live connections, doubly linked */
  struct ps_bound *bound;     /* TCP listeners and UDP sockets not yet freed (bound.h) */
  ps_service_ctx services[PS_MAX_SERVICE_CTX];
  unsigned service_count;
  int stopping; /* ps_engine_stop has begun: no new connections, no sweeps */
  int stopped;  /* ... and finished; a concurrent caller waits for this */
  /* End of the bind-retry window (GetTickCount64), started by the first
   * WSAEADDRINUSE and shared by every later bind: the whole start waits at
   * most bind_retry_ms. 0 = not started. Used by the thread that calls
   * ps_engine_listen only. */
  ULONGLONG bind_deadline;

  /* The UDP reflection guard (udp.c). udp_ports: one bit per port some UDP
   * socket of this engine is bound to, set and cleared under `lock`, read
   * without it (a LONG read is atomic; a datagram racing a listener's open
   * or close may see either state). reply_limit: the per-source reply
   * buckets; reply_locks: its locks (ps_ratelimit_lock_count SRW locks). */
  volatile LONG udp_ports[65536 / 32];
  ps_ratelimit reply_limit;
  SRWLOCK *reply_locks;

  /* Connection limits (listener.c, conn.c; docs/design.md, "Connection
   * limits"). admitted: open connections plus posted AcceptEx, each holding
   * one of max_connections tokens; a slot that finds none is held
   * (accepts_held) until a connection ends. src_limit counts open
   * connections per source address under src_lock (innermost lock). */
  volatile LONG64 admitted;
  volatile LONG64 accepts_held;         /* gauge: accept slots waiting for a token */
  volatile LONG resume_turn;            /* where ps_listener_resume starts its round */
  volatile LONG64 limit_waits;          /* times a slot had to wait: max_connections reached */
  volatile LONG64 conns_refused_source; /* reset at accept: the source had max_connections_per_source */
  SRWLOCK src_lock;
  ps_connlimit src_limit;

  /* Per listening socket and per error (ps_engine_listener_stats,
   * ps_engine_error_counts), guarded by stats_lock (innermost; rows are
   * only ever added). */
  SRWLOCK stats_lock;
  ps_bound_stats *bound_stats[PS_MAX_BOUND_STATS];
  size_t bound_stats_count;
  ps_error_count errors[PS_MAX_ERROR_COUNTS];
  size_t error_count;

  /* Live counters (Interlocked); they must all be zero after a stop. */
  volatile LONG64 live_sockets;
  volatile LONG64 live_conns;
  volatile LONG64 live_listeners; /* TCP listeners and UDP sockets */

  /* Totals (Interlocked). */
  volatile LONG64 conns_total;
  volatile LONG64 conns_reset;
  volatile LONG64 conns_aborted; /* closed with a reset by us (conn.c) */
  volatile LONG64 conns_refused;
  volatile LONG64 bytes_in;
  volatile LONG64 bytes_out;
  volatile LONG64 msgs_in;
  volatile LONG64 msgs_out;
  volatile LONG64 dgrams_in;
  volatile LONG64 dgrams_out;
  volatile LONG64 dgrams_dropped;
  volatile LONG64 timeouts_idle;   /* closed by idle_timeout_ms */
  volatile LONG64 timeouts_linger; /* closed by linger_timeout_ms (peer never sent FIN) */
  volatile LONG64 timeouts_send;   /* reset by send_timeout_ms (peer stopped reading) */
  volatile LONG64 sweep_us_max;    /* longest sweep so far, microseconds (docs/design.md) */
  volatile LONG64 conns_skip;
  volatile LONG64 inline_deferred;
  volatile LONG64 inline_balanced;
  volatile LONG64 udp_connreset_off;

  /* Pools and resource errors (docs/design.md, "Resource errors"). */
  volatile LONG64 accepts_posted;         /* gauge: AcceptEx pending, all listeners */
  volatile LONG64 udp_receives_posted;    /* gauge: WSARecvFrom pending, all UDP sockets */
  volatile LONG64 accept_errors;          /* AcceptEx (or its WSASocketW) failed at once */
  volatile LONG64 udp_recv_errors;        /* WSARecvFrom failed at once */
  volatile LONG64 conn_retries;           /* connection posts retried after a resource error */
  volatile LONG64 conns_out_of_resources; /* aborted: resources missing longer than retry_limit_ms */

  /* Connections waiting for a retry of a failed post (conn.c), linked
   * through the connection; each holds a reference. retry_lock is the
   * innermost lock: taken under a connection's lock, nothing under it. */
  SRWLOCK retry_lock;
  ps_conn *retry_conns;
  volatile LONG64 dgrams_dropped_port0;      /* source port 0 */
  volatile LONG64 dgrams_dropped_lowport;    /* source port 1-1023 */
  volatile LONG64 dgrams_dropped_loop;       /* source port = one of our UDP ports */
  volatile LONG64 dgrams_dropped_rate;       /* reply over the source's rate */
  volatile LONG64 dgrams_dropped_rate_total; /* reply over the global cap */
};

/* Admission tokens (max_connections; listener.c). admit takes one for an
 * AcceptEx about to be posted (0: none left); unadmit gives one back (the
 * AcceptEx failed, or the connection it made ended), and with `resume`
 * posts held accept slots again: the caller must hold no lock. */
int ps_engine__admit(ps_engine *e);
void ps_engine__unadmit(ps_engine *e, int resume);

/* The stats row for `ep` (NULL when the table is full: then only the
 * engine's totals count it). */
ps_bound_stats *ps_engine__bound_stats(ps_engine *e, const ps_endpoint *ep);

/* Counts one error at `site` ("accept", "recv", ...; a string literal). */
void ps_engine__count_error(ps_engine *e, const char *site, unsigned long error);

/* Tells the housekeeping thread a retry was scheduled (it may sleep less). */
void ps_engine__wake(ps_engine *e);

/* Wakes ps_engine_stop's waits after a live count fell. */
void ps_engine__signal(ps_engine *e);

#endif /* PS_ENGINE_INTERNAL */

#endif
