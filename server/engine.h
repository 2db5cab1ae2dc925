/* The engine: one I/O completion port, a pool of worker threads servicing it
 * with GetQueuedCompletionStatusEx, the listeners and connections whose
 * completions arrive there, and the teardown procedure that ends them all.
 * See docs/design.md for the picture.
 *
 * Public part: what main.c and the tests use. Internal part (below the
 * marker): what listener.c, conn.c and sock.c share with engine.c. */
#ifndef PS_ENGINE_H
#define PS_ENGINE_H

#include "listen_spec.h"
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_engine ps_engine;

typedef struct ps_engine_config {
  unsigned threads;          /* worker threads; 0 = one per processor */
  unsigned accepts;          /* AcceptEx kept posted per TCP listener */
  unsigned buffer_size;      /* bytes in one pooled I/O buffer */
  unsigned send_queue_max;   /* unsent bytes per connection before reading pauses */
  unsigned max_connections;  /* 0 = no limit */
  unsigned drain_timeout_ms; /* graceful stop deadline */
  unsigned inline_max;       /* inline completions per event; shared out per dequeued batch (conn.c) */
  int skip_on_success;       /* use FILE_SKIP_COMPLETION_PORT_ON_SUCCESS where safe */
  unsigned udp_receives;     /* WSARecvFrom kept posted per UDP socket */
  unsigned buffer_idle_ms;   /* an idle connection gives its receive buffer back after 1-2x this */
  unsigned idle_timeout_ms;  /* no byte either way this long: graceful close (0 = off) */
  unsigned linger_timeout_ms;/* after our FIN, the peer's FIN is awaited this long (0 = forever) */
  unsigned send_timeout_ms;  /* a send making no progress this long: abortive close (0 = off) */
  unsigned keepalive_ms;     /* TCP keep-alive idle time (SIO_KEEPALIVE_VALS; 0 = off) */
  const char *quotes_file;   /* qotd quotes (NULL = built-in); read at listen time */
  unsigned bind_retry_ms;    /* a bind refused with WSAEADDRINUSE is retried this long (sock.c); 0 = not */
  void *bind_cancel;         /* HANDLE of an event that ends a bind retry at once; NULL for none */
  /* The UDP reflection guard (udp.c, docs/design.md). Source ports 0 and the
   * engine's own UDP ports are always refused; ports 1-1023 unless this is set. */
  int udp_allow_low_ports;
  unsigned udp_reply_rate;       /* replies per second per source address (0 = no limit) */
  unsigned udp_reply_burst;      /* replies a source may get at once (its bucket) */
  unsigned udp_reply_rate_total; /* replies per second from all sources (0 = no cap) */
  unsigned udp_reply_sources;    /* source addresses the rate table remembers (fixed memory) */
} ps_engine_config;

/* The bound address of one listening socket. */
typedef struct ps_endpoint {
  char service[32];
  char address[64];     /* "127.0.0.1" or "::1" */
  unsigned port;
  int family;           /* AF_INET or AF_INET6 */
  unsigned transport;   /* PS_TRANSPORT_TCP or PS_TRANSPORT_UDP */
} ps_endpoint;

void ps_engine_config_default(ps_engine_config *cfg);

/* Creates the completion port and starts the workers. 0 or a Win32 error. */
int ps_engine_new(const ps_engine_config *cfg, ps_engine **out);

/* Resolves spec->host with getaddrinfo(AI_PASSIVE) and opens one listening
 * socket per address (bound, listening, on the engine's port, accepts
 * posted). On failure logs the cause (naming the address) and returns -1;
 * listeners opened by this call are closed again. */
int ps_engine_listen(ps_engine *e, const ps_listen_spec *spec);

/* Copies up to `max` bound endpoints; returns how many there are. */
size_t ps_engine_endpoints(ps_engine *e, ps_endpoint *out, size_t max);

/* Graceful stop: close the listeners, close every connection gracefully,
 * wait for them up to drain_timeout_ms, reset the rest, drain every
 * completion, join the workers. Returns the number of connections that had
 * to be reset. Idempotent. */
unsigned ps_engine_stop(ps_engine *e);

/* ps_engine_stop with another drain deadline than cfg.drain_timeout_ms (the
 * console's close event leaves the process only a few seconds). */
unsigned ps_engine_stop_within(ps_engine *e, unsigned drain_timeout_ms);

void ps_engine_stats(ps_engine *e, ps_stats *out);

/* Number of worker threads servicing the port. */
unsigned ps_engine_threads(ps_engine *e);

/* Frees the engine; stops it first if needed. */
void ps_engine_delete(ps_engine *e);

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------------------- */
/* Internal to server/.                                                    */
#ifdef PS_ENGINE_INTERNAL

#include "bufpool.h"
#include "ps_handler.h"
#include "ps_win.h"
#include "ratelimit.h"

typedef struct ps_listener ps_listener;
typedef struct ps_udp ps_udp;
typedef struct ps_session ps_conn;

/* A service context made by a handler's on_start, freed by its on_stop. */
typedef struct ps_service_ctx {
  const ps_handler *handler;
  void *ctx;
} ps_service_ctx;

#define PS_MAX_SERVICE_CTX 64

struct ps_engine {
  ps_engine_config cfg;
  HANDLE port;
  HANDLE *workers;
  unsigned worker_count;
  HANDLE housekeeper;       /* thread: the sweep (timeouts, buffer parking), once a second */
  HANDLE housekeeper_stop;  /* event that ends it */
  ps_bufpool pool;

  /* Guards the lists and `stopping`. Lock order: engine, then a connection
   * or listener; never the engine while holding a connection's lock. */
  SRWLOCK lock;
  CONDITION_VARIABLE changed; /* live_conns or live_listeners fell */
  ps_conn *conns;             /* live connections, doubly linked */
  ps_listener *listeners;     /* listeners not yet freed */
  ps_udp *udps;               /* UDP sockets not yet freed */
  ps_service_ctx services[PS_MAX_SERVICE_CTX];
  unsigned service_count;
  int stopping;
  int stopped;
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

  /* Live counters (Interlocked); they must all be zero after a stop. */
  volatile LONG64 live_sockets;
  volatile LONG64 live_conns;
  volatile LONG64 live_listeners; /* TCP listeners and UDP sockets */

  /* Totals (Interlocked). */
  volatile LONG64 conns_total;
  volatile LONG64 conns_reset;
  volatile LONG64 conns_refused;
  volatile LONG64 bytes_in;
  volatile LONG64 bytes_out;
  volatile LONG64 msgs_in;
  volatile LONG64 dgrams_in;
  volatile LONG64 dgrams_out;
  volatile LONG64 dgrams_dropped;
  volatile LONG64 timeouts_idle;   /* closed by idle_timeout_ms */
  volatile LONG64 timeouts_linger; /* closed by linger_timeout_ms (peer never sent FIN) */
  volatile LONG64 timeouts_send;   /* reset by send_timeout_ms (peer stopped reading) */
  volatile LONG64 sweep_us_max;    /* longest sweep so far, microseconds (docs/design.md) */
  volatile LONG64 conns_skip;
  volatile LONG64 inline_deferred;
  volatile LONG64 reads_parked;
  volatile LONG64 udp_connreset_off;
  volatile LONG64 dgrams_dropped_port0;      /* source port 0 */
  volatile LONG64 dgrams_dropped_lowport;    /* source port 1-1023 */
  volatile LONG64 dgrams_dropped_loop;       /* source port = one of our UDP ports */
  volatile LONG64 dgrams_dropped_rate;       /* reply over the source's rate */
  volatile LONG64 dgrams_dropped_rate_total; /* reply over the global cap */
};

/* Wakes ps_engine_stop's waits after a live count fell. */
void ps_engine__signal(ps_engine *e);

/* Converts an op's final NTSTATUS (OVERLAPPED.Internal) to a Winsock error. */
DWORD ps_ntstatus_to_error(ULONG_PTR status);

#endif /* PS_ENGINE_INTERNAL */

#endif
