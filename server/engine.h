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
#include "options.h"
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_engine ps_engine;

/* Fault injection, for tests (docs/design.md, "Resource errors"): each site
 * counts its calls once armed, and the calls numbered nth .. nth+count-1
 * fail at once with `error`, as if the Win32 call had returned it (a buffer
 * allocation returns NULL). A field of ps_engine_config, NULL in production:
 * the tests exercise the same psengine library portserve.exe links. */
typedef enum ps_fault_site {
  PS_FAULT_BUFFER = 0, /* ps_buf_get (I/O buffer for a receive or a send) */
  PS_FAULT_WSASOCKET,  /* ps_sock_open (the socket an AcceptEx accepts into, ...) */
  PS_FAULT_ACCEPTEX,
  PS_FAULT_WSARECV,
  PS_FAULT_WSASEND,
  PS_FAULT_WSARECVFROM,
  PS_FAULT_SITES
} ps_fault_site;

typedef struct ps_fault {
  volatile long nth;   /* first call that fails (1 = the next); 0 = not armed */
  volatile long count; /* how many calls in a row fail; -1 = every one from nth on */
  volatile long calls; /* calls since armed */
  volatile long fired; /* calls failed */
  unsigned long error; /* Win32/Winsock error the failed call returns */
} ps_fault;

typedef struct ps_faults {
  ps_fault site[PS_FAULT_SITES];
} ps_faults;

/* Arms `site`: calls nth .. nth+count-1 from now on fail with `error`. */
void ps_faults_arm(ps_faults *f, ps_fault_site site, long nth, long count, unsigned long error);
/* Disarms `site`; returns how many calls failed. */
long ps_faults_disarm(ps_faults *f, ps_fault_site site);

typedef struct ps_engine_config {
  unsigned threads;          /* worker threads; 0 = one per processor */
  unsigned accepts;          /* AcceptEx kept posted per TCP listener */
  unsigned buffer_size;      /* bytes in one pooled I/O buffer */
  unsigned send_queue_max;   /* unsent bytes per connection before reading pauses */
  unsigned max_connections;  /* 0 = no limit */
  unsigned max_connections_per_source; /* open connections per source address (0 = no limit) */
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
  unsigned retry_limit_ms;   /* a connection whose posts fail for lack of resources this long is aborted */
  unsigned warn_interval_ms; /* a repeated warning is logged at most once per this (ps_log_limited) */
  ps_faults *faults;         /* tests only: fault injection; NULL in production */
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

/* The defaults: the option table's (ps_options_defaults, mapped by
 * ps_engine_config_set_options), and the engine-only knobs' own. */
void ps_engine_config_default(ps_engine_config *cfg);

/* Sets every field a user option governs from `o` (seconds to milliseconds
 * and the like): the one copy of that mapping. quotes_file points into `o`. */
void ps_engine_config_set_options(ps_engine_config *cfg, const ps_options *o);

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
#include "log.h"
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

/* Errors that say "not now" (out of buffers, memory, sockets, or too many
 * overlapped requests) rather than "this connection is broken". */
int ps_err_is_resource(unsigned long err);

/* The fault hook: 0, or the error the call at `site` must fail with. */
unsigned long ps_fault_hit(ps_faults *f, ps_fault_site site);

struct ps_engine {
  ps_engine_config cfg;
  HANDLE port;
  HANDLE *workers;
  unsigned worker_count;
  HANDLE housekeeper;       /* thread: the sweep (timeouts, buffer parking), once a second */
  HANDLE housekeeper_stop;  /* event that ends it */
  HANDLE housekeeper_wake;  /* auto-reset event: a retry was scheduled (ps_engine__wake) */
  ps_log_limit warn[PS_WARN_COUNT];
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

/* Tells the housekeeping thread a retry was scheduled (it may sleep less). */
void ps_engine__wake(ps_engine *e);

/* Wakes ps_engine_stop's waits after a live count fell. */
void ps_engine__signal(ps_engine *e);

/* Converts an op's final NTSTATUS (OVERLAPPED.Internal) to a Winsock error. */
DWORD ps_ntstatus_to_error(ULONG_PTR status);

#endif /* PS_ENGINE_INTERNAL */

#endif
