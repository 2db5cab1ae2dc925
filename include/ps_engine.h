/* The engine's public API: what a program that serves protocols with
 * portserve's engine calls (portserve.exe's main.c, examples/upper, the
 * tests). One I/O completion port, a pool of worker threads servicing it
 * with GetQueuedCompletionStatusEx, the listeners and connections whose
 * completions arrive there, and the teardown procedure that ends them all.
 * See docs/design.md for the picture. Link the static library psengine. */
#ifndef PS_ENGINE_PUBLIC_H
#define PS_ENGINE_PUBLIC_H

#include "listen_spec.h"
#include "ps_net.h"
#include "ps_handler.h"
#include "ps_stats.h"

#include <stdint.h>

struct sockaddr;

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
  /* A posted AcceptEx that completed successfully is handled as if it had
   * completed with `error` (the socket it accepted into is closed): the
   * path of an accept that fails after it was posted. */
  PS_FAULT_ACCEPT_DONE,
  /* WSASocketW refuses WSA_FLAG_NO_HANDLE_INHERIT with `error` (WSAEINVAL:
   * systems before Windows 7 SP1): ps_sock_open's fallback without it. */
  PS_FAULT_NO_INHERIT_FLAG,
  /* The non-blocking WSARecv of a burst read (conn.c: after a read that
   * filled its buffer, what else is waiting is read at once). */
  PS_FAULT_BURST_READ,
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
  /* Called by ps_engine_stop on its own thread once the engine is stopping
   * and before its listeners close: a test can race a client against that
   * moment on purpose. NULL: nothing is called. */
  void (*on_stopping)(void *arg);
  void *on_stopping_arg;
} ps_faults;

/* Arms `site`: calls nth .. nth+count-1 from now on fail with `error`. */
void ps_faults_arm(ps_faults *f, ps_fault_site site, long nth, long count, unsigned long error);
/* Disarms `site`; returns how many calls failed. */
long ps_faults_disarm(ps_faults *f, ps_fault_site site);

/* The defaults of ps_engine_config_default, written once: portserve's
 * option table takes its defaults for engine settings from these too. */
#define PS_ENGINE_DEFAULT_THREADS 0 /* one per processor */
#define PS_ENGINE_DEFAULT_ACCEPTS 16
#define PS_ENGINE_DEFAULT_BUFFER_SIZE 8192
#define PS_ENGINE_DEFAULT_SEND_QUEUE_MAX 262144
#define PS_ENGINE_DEFAULT_IDLE_TIMEOUT_MS 300000
#define PS_ENGINE_DEFAULT_LINGER_TIMEOUT_MS 30000
#define PS_ENGINE_DEFAULT_SEND_TIMEOUT_MS 60000
#define PS_ENGINE_DEFAULT_KEEPALIVE_MS 60000
#define PS_ENGINE_DEFAULT_DRAIN_TIMEOUT_MS 5000
#define PS_ENGINE_DEFAULT_UDP_RECEIVES 1
#define PS_ENGINE_DEFAULT_UDP_REPLY_RATE 100
#define PS_ENGINE_DEFAULT_UDP_REPLY_BURST 200
#define PS_ENGINE_DEFAULT_UDP_REPLY_RATE_TOTAL 10000
#define PS_ENGINE_DEFAULT_UDP_REPLY_SOURCES 4096
#define PS_ENGINE_DEFAULT_INLINE_MAX 16
#define PS_ENGINE_DEFAULT_RETRY_LIMIT_MS 10000
#define PS_ENGINE_DEFAULT_WARN_INTERVAL_MS 60000
#define PS_ENGINE_DEFAULT_SWEEP_MS 1000
#define PS_ENGINE_DEFAULT_SOURCE_PREFIX_V4 32
#define PS_ENGINE_DEFAULT_SOURCE_PREFIX_V6 64
#define PS_ENGINE_DEFAULT_PROXY_TIMEOUT_MS 5000

typedef struct ps_engine_config {
  unsigned threads;                    /* worker threads; 0 = one per processor */
  unsigned accepts;                    /* AcceptEx kept posted per TCP listener */
  unsigned buffer_size;                /* bytes in one pooled I/O buffer */
  unsigned send_queue_max;             /* unsent bytes per connection before reading pauses */
  unsigned max_connections;            /* open connections plus posted AcceptEx, at most (0 = no limit); listener.c */
  unsigned max_connections_per_source; /* open connections per source (0 = no limit) */
  /* What one source is, for the per-source limit and the UDP reply buckets:
   * an IPv4 address's first source_prefix_v4 bits, an IPv6 address's first
   * source_prefix_v6 (64: one subnet, which one host may own whole). */
  unsigned source_prefix_v4;
  unsigned source_prefix_v6;
  /* Load balancers trusted to send PROXY headers, on listeners whose spec
   * has `proxy` (conn.c): a connection from anyone else there is refused;
   * one from them must send a valid header within proxy_timeout_ms. */
  ps_net_list proxy_from;
  unsigned proxy_timeout_ms;
  unsigned drain_timeout_ms; /* graceful stop deadline */
  unsigned inline_max;       /* inline completions per event; shared out per dequeued batch (conn.c) */
  unsigned skip_on_success;  /* use FILE_SKIP_COMPLETION_PORT_ON_SUCCESS where safe */
  /* Accept connections of services whose clients speak first together with
   * their first bytes (AcceptEx with a receive; listener.c). */
  unsigned accept_data;
  /* After a read that filled its buffer, read what else is waiting at once
   * into the worker's PS_BURST_READ_SIZE buffer (a non-blocking WSARecv,
   * libuv's way) instead of posting another read (conn.c). */
  unsigned burst_reads;
  unsigned udp_receives;      /* WSARecvFrom kept posted per UDP socket */
  unsigned idle_timeout_ms;   /* no byte either way this long: graceful close (0 = off) */
  unsigned linger_timeout_ms; /* after our FIN, the peer's FIN is awaited this long (0 = forever) */
  unsigned send_timeout_ms;   /* a send making no progress this long: abortive close (0 = off) */
  unsigned keepalive_ms;      /* TCP keep-alive idle time (SIO_KEEPALIVE_VALS; 0 = off) */
  unsigned bind_retry_ms;     /* a bind refused with WSAEADDRINUSE is retried this long (sock.c); 0 = not */
  void *bind_cancel;          /* HANDLE of an event that ends a bind retry at once; NULL for none */
  unsigned retry_limit_ms;    /* a connection whose posts fail for lack of resources this long is aborted */
  unsigned warn_interval_ms;  /* a repeated warning is logged at most once per this (ps_log_limited) */
  ps_faults *faults;          /* tests only: fault injection; NULL in production */
  /* The UDP reflection guard (udp.c, docs/design.md). Source ports 0 and the
   * engine's own UDP ports are always refused; ports 1-1023 unless this is set. */
  unsigned udp_allow_low_ports;
  unsigned udp_reply_rate;       /* replies per second per source address (0 = no limit) */
  unsigned udp_reply_burst;      /* replies a source may get at once (its bucket) */
  unsigned udp_reply_rate_total; /* replies per second from all sources (0 = no cap) */
  unsigned udp_reply_sources;    /* source addresses the rate table remembers (fixed memory) */
  unsigned sweep_ms;             /* timer sweep period (deadlines are checked this often; tests shorten it) */
  /* HANDLE of an event that, signalled during a stop's drain, ends that
   * drain within hurry_drain_ms (the console closed after Ctrl+C: Windows
   * ends the process a few seconds later); NULL for none. */
  void *hurry_event;
  unsigned hurry_drain_ms;
} ps_engine_config;

void ps_engine_config_default(ps_engine_config *cfg);

/* Creates the completion port and starts the workers. 0 or a Win32 error. */
int ps_engine_new(const ps_engine_config *cfg, ps_engine **out);

/* Serves handler `h` on `spec` (as uv_listen takes its callback): resolves
 * spec->host with getaddrinfo(AI_PASSIVE) and opens one listening socket per
 * address for each transport in spec->transports (TCP: bound, listening, on
 * the engine's port, AcceptEx posted; UDP if h has on_datagram). spec->service
 * names the service in logs and stats; `options` is the handler's own
 * settings (the type its header documents; NULL: its defaults), passed to
 * its on_start, which runs once per handler and options. May be called
 * before or while the engine serves. On failure logs the cause (naming the
 * address) and returns -1; listeners opened by this call are closed again. */
int ps_engine_serve(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, const void *options);

/* Hands the sockets opened for `from` to `to`, a listener on the same
 * host, port and transports whose service or flags differ, without closing
 * or binding any socket (a second bind of the same address would be
 * refused by SO_EXCLUSIVEADDRUSE while the first is open): connections
 * accepted and datagrams received from now on are served by `h` with
 * `options` (as ps_engine_serve takes them); connections already open keep
 * their handler until they end. 0, or -1 after logging why (no socket is
 * open for `from`; the host, port or transports differ; `to` has UDP and
 * `h` no on_datagram; or the handler's on_start failed); then nothing
 * changed. */
int ps_engine_switch(ps_engine *e, const ps_listen_spec *from, const ps_listen_spec *to, const ps_handler *h,
                     const void *options);

/* Closes the listening sockets opened for `spec` (TCP and UDP); the
 * connections they accepted carry on until they end (a reload that removes
 * a listener drains it this way). Returns how many sockets it closed. */
size_t ps_engine_unlisten(ps_engine *e, const ps_listen_spec *spec);

/* Applies a changed configuration to a running engine (a reload): every
 * field takes effect for every connection from its next event on (limits,
 * timeouts, keep-alive for connections accepted from now, drain, the bind
 * retry window of the next binds), or for listeners opened from now on
 * (accepts, udp_receives), except the ones fixed at start, which keep their
 * running value: threads, buffer_size, skip_on_success, inline_max, the UDP
 * reply rates and sources, sweep_ms, warn_interval_ms, faults. A higher
 * max_connections posts the accept slots that waited for it. */
void ps_engine_reconfigure(ps_engine *e, const ps_engine_config *cfg);

/* Starts a new bind-retry window: the binds from now on (the listeners a
 * reload adds) may wait up to cfg.bind_retry_ms from their first
 * WSAEADDRINUSE, whatever earlier binds waited. Call before opening a
 * batch of listeners; the binds of one batch share one window. */
void ps_engine_rebind_window(ps_engine *e);

/* A dry run of the bind ps_engine_serve makes for one address: a socket of
 * `transport` (PS_TRANSPORT_TCP or PS_TRANSPORT_UDP) bound to `addr` with the
 * same options (IPV6_V6ONLY, SO_EXCLUSIVEADDRUSE), neither listening nor
 * counted in any engine, for `portserve check --bind`. 0 with the socket in
 * *out (close it with ps_bind_trial_close), or the Winsock error with the
 * failing call in *step. Starts Winsock if needed. */
unsigned long ps_bind_trial(const struct sockaddr *addr, int addrlen, unsigned transport, uintptr_t *out,
                            const char **step);
void ps_bind_trial_close(uintptr_t s);

/* The configuration the engine runs with now (after ps_engine_new's
 * adjustments and every ps_engine_reconfigure). */
void ps_engine_config_get(ps_engine *e, ps_engine_config *out);

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

/* Copies up to `max` rows; returns how many there are. */
size_t ps_engine_listener_stats(ps_engine *e, ps_listener_stats *out, size_t max);

/* Errors by where they happened (their site) and their Win32/Winsock code:
 * AcceptEx posts and completions, connection receives and sends that failed
 * or were reset, UDP receives and sends. */
typedef struct ps_error_count {
  ps_error_site site;
  unsigned long error;
  uint64_t count;
} ps_error_count;

/* Copies up to `max` rows; returns how many there are. */
size_t ps_engine_error_counts(ps_engine *e, ps_error_count *out, size_t max);

/* Number of worker threads servicing the port. */
unsigned ps_engine_threads(ps_engine *e);

/* Frees the engine; stops it first if needed. */
void ps_engine_delete(ps_engine *e);

#ifdef __cplusplus
}
#endif

#endif
