/* The engine's internals: what listener.c, conn.c, udp.c and sock.c share
 * with engine.c. The public API is include/ps_engine.h. */
#ifndef PS_ENGINE_H
#define PS_ENGINE_H

#include "ps_engine.h"

/* ---------------------------------------------------------------------- */
/* Internal to server/.                                                    */
#ifdef PS_ENGINE_INTERNAL

#include <assert.h>

#include "bufpool.h"
#include "ps_log.h"
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
#define PS_KEY_DEFERRED ((ULONG_PTR)1) /* an inline result handed to the port (conn.c, udp.c) */
#define PS_KEY_QUIT ((ULONG_PTR)2)     /* a worker should exit */

typedef enum ps_op_kind { PS_OP_ACCEPT = 1, PS_OP_RECV, PS_OP_SEND, PS_OP_UDP_RECV, PS_OP_UDP_SEND } ps_op_kind;

/* Every overlapped operation starts with this; the OVERLAPPED comes first so
 * the pointer GetQueuedCompletionStatusEx returns is the op's address.
 * `next` and `bytes` carry an inline result on a worker's deferred queue. */
typedef struct ps_op {
  OVERLAPPED ov;
  ps_op_kind kind;
  int non_ifs; /* posted on a socket of a non-IFS provider: its error is in OffsetHigh (ps_op_error) */
  DWORD bytes;
  struct ps_op *next;
} ps_op;

#define PS_MAX_BOUND_STATS 128

/* A worker's burst read buffer (ps_worker.burst): what a burst read takes
 * at most in one call, as libuv reads waiting data. */
#define PS_BURST_READ_SIZE (64 * 1024)

/* A worker thread's own state: the inline results it deferred for fairness
 * (conn.c, udp.c), handled on its next pass, after the completions then waiting in
 * the port (docs/design.md, "Inline completions"). Only its thread touches
 * the queue; `owned` is read by the others (ps_worker_may_queue).
 *
 * And its share of the per-message counters (ps_count, ps_count_row): only
 * its thread writes them, with plain adds; the snapshots (ps_engine_stats,
 * ps_engine_listener_stats) read them from any thread and add every
 * worker's to the shared totals. A plain add is safe because an aligned
 * 64-bit load or store is single-copy atomic on x64 and ARM64, the only
 * targets: a reader sees the old value or the new one, never half of each.
 * The counters start on a cache line of their own and the struct is whole
 * lines (engine.c allocates the array aligned), so two workers never write
 * to one line. They live as long as the engine: a worker's counts stay
 * summed after it exits. */
struct ps_worker {
  ps_engine *eng;
  ps_op *head, *tail;
  unsigned count;      /* results queued so far in this pass */
  volatile LONG owned; /* results it took from its queue at the start of this pass */
  /* PS_BURST_READ_SIZE bytes that burst reads (conn.c) read into and hand
   * to on_data, which must not keep them (ps_handler.h): free again when
   * on_data returns. Allocated at the first burst read, freed when the
   * thread quits; only this thread touches it. */
  char *burst;
  /* Its counts: by PS_STAT_* (only the per-message ones are used), and by
   * listener row (ps_bound_stats.index), then PS_LSTAT_*. */
  PS_CACHE_ALIGNED volatile LONG64 stat[PS_STAT_COUNT];
  volatile LONG64 lstat[PS_MAX_BOUND_STATS][PS_LSTAT_COUNT];
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
 * made where it happens (a connection counts into its listener's row). The
 * per-message counts (bytes, messages, datagrams) a worker makes go to its
 * own lstat[index] (ps_count_row) and are summed on read; every other count
 * is interlocked into v[]. Read under stats_lock only: safe from any
 * callback. */
typedef struct ps_bound_stats {
  ps_endpoint ep;
  size_t index; /* its row in ps_engine_listener_stats and in ps_worker.lstat; < PS_MAX_BOUND_STATS */
  volatile LONG64 open;
  volatile LONG64 v[PS_LSTAT_COUNT]; /* PS_LISTENER_STATS, by PS_LSTAT_* */
} ps_bound_stats;

#define PS_MAX_ERROR_COUNTS 32

struct ps_engine {
  ps_engine_config cfg;
  HANDLE port;
  HANDLE *workers;
  ps_worker *worker_state; /* one per worker thread (_aligned_malloc: whole cache lines each) */
  unsigned worker_count;   /* threads running; 0 after a stop */
  unsigned worker_states;  /* entries of worker_state, kept after a stop: their counts are summed */
  HANDLE housekeeper;      /* thread: the sweep (timeouts, buffer parking), once a second */
  HANDLE housekeeper_stop; /* event that ends it */
  HANDLE housekeeper_wake; /* auto-reset event: a retry was scheduled (ps_engine__wake); closed after the workers */
  /* A console close during a stop: the drain must end within
   * cfg.hurry_drain_ms of it (GetTickCount64; 0 = not asked). */
  volatile LONG64 hurry_deadline;
  ps_log_limit warn[PS_WARN_COUNT];
  ps_bufpool pool;  /* full-size buffers: sends, and reads of waiting data */
  ps_bufpool spool; /* small buffers: the read a quiet connection leaves pending */

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
   * WSAEADDRINUSE and shared by every later bind until
   * ps_engine_rebind_window: the whole start (or one reload) waits at most
   * bind_retry_ms. 0 = not started. Used by the thread that calls
   * ps_engine_serve only. */
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
   * limits"). stat[PS_STAT_admitted]: open connections plus posted
   * AcceptEx, each holding one of max_connections tokens; a slot that finds
   * none is held (stat[PS_STAT_accepts_held]) until a connection ends.
   * src_limit counts open connections per source address under src_lock
   * (innermost lock). */
  volatile LONG resume_turn; /* where ps_listener_resume starts its round */
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

  /* Every counter of PS_STATS (ps_stats.h), by PS_STAT_* (Interlocked; the
   * gauges conns_open, sockets_live and admitted must be zero after a stop).
   * The per-message counters a worker makes are in its own ps_worker.stat
   * instead (ps_count); the snapshot (ps_engine_stats) adds those of every
   * worker state to these. */
  volatile LONG64 stat[PS_STAT_COUNT];
  volatile LONG64 live_listeners; /* TCP listeners and UDP sockets not yet freed */

  /* Connections waiting for a retry of a failed post (conn.c), linked
   * through the connection; each holds a reference. retry_lock is the
   * innermost lock: taken under a connection's lock, nothing under it. */
  SRWLOCK retry_lock;
  ps_conn *retry_conns;
};

/* Counts n into the engine's total i from the per-message path. On a worker
 * (w != NULL) a plain add to its own counter, no interlocked operation and
 * no line shared with another thread; on any other thread (the
 * housekeeper, stop: w == NULL) an interlocked add to e->stat. Only for
 * counters that just go up and that nothing in the engine decides by: a
 * gauge (conns_open, admitted, mgmt_open, accepts_held...) stays
 * interlocked in e->stat, where a decision reads it. */
static inline void ps_count(ps_engine *e, ps_worker *w, ps_stat_index i, LONG64 n) {
  if (w != NULL) w->stat[i] += n;
  else InterlockedAdd64(&e->stat[i], n);
}

/* The same into listening socket row `st` (NULL: the table was full, so
 * only the engine's totals count it). */
static inline void ps_count_row(ps_worker *w, ps_bound_stats *st, ps_listener_stat_index i, LONG64 n) {
  if (st == NULL) return;
  assert(st->index < PS_MAX_BOUND_STATS);
  if (w != NULL) w->lstat[st->index][i] += n;
  else InterlockedAdd64(&st->v[i], n);
}

/* Admission tokens (max_connections; listener.c). admit takes one for an
 * AcceptEx about to be posted (0: none left); unadmit gives one back (the
 * AcceptEx failed, or the connection it made ended), and with `resume`
 * posts held accept slots again: the caller must hold no lock. A
 * management handler's (PS_HANDLER_MANAGEMENT) accepts take no token: its
 * connections have their own allowance (stat[PS_STAT_mgmt_open], conn.c). */
int ps_engine__admit(ps_engine *e, const ps_handler *h);
void ps_engine__unadmit(ps_engine *e, const ps_handler *h, int resume);

/* The stats row for `ep` (NULL when the table is full: then only the
 * engine's totals count it). */
ps_bound_stats *ps_engine__bound_stats(ps_engine *e, const ps_endpoint *ep);

/* Counts one error at `site`, with its code. */
void ps_engine__count_error(ps_engine *e, ps_error_site site, unsigned long error);

/* Tells the housekeeping thread a retry was scheduled (it may sleep less). */
void ps_engine__wake(ps_engine *e);

/* Wakes ps_engine_stop's waits after a live count fell. */
void ps_engine__signal(ps_engine *e);

#endif /* PS_ENGINE_INTERNAL */

#endif
