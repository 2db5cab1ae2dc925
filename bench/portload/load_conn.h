/* One load connection's protocol state machine, independent of how its bytes
 * move: what to send next, verifying what comes back against the
 * connection's byte pattern, timing messages, counting. An I/O backend
 * (load_io.h) owns the socket and calls these functions as its operations
 * complete; the return values tell it what to do next. Portable.
 *
 * Threading: a connection is used by one thread at a time (the backend
 * serialises its callbacks). Each backend thread passes its own load_stats;
 * the counters in it are atomics because the main thread reads them for the
 * progress line, the histogram is read only after the threads are joined. */
#ifndef LOAD_CONN_H
#define LOAD_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "load_hist.h"
#include "load_options.h"
#include "load_plat.h"
#include "ps_compat.h"

/* The byte pattern: LOAD_PATTERN_LEN pseudo-random bytes (a prime, so a
 * stream offset and its connection's base rarely line up), stored twice in a
 * row so any window up to LOAD_PATTERN_LEN bytes is contiguous. */
#define LOAD_PATTERN_LEN 65521u

/* What the whole run shares; read-only while it runs except the atomics. */
typedef struct load_run {
  load_options opt;
  load_addr target;
  char target_name[80];
  uint64_t t_start;    /* connecting starts */
  uint64_t t_measure;  /* warm-up over: messages count from here */
  uint64_t t_end;      /* ... until here */
  atomic_int stopping; /* set by the main thread at t_end */
  atomic_uint errors_logged;
  unsigned char *pattern; /* 2 * LOAD_PATTERN_LEN bytes */
} load_run;

/* Counters of one backend thread. */
typedef struct load_stats {
  atomic_ullong msgs_total; /* every completed message (progress) */
  atomic_ullong msgs;       /* completed inside the measured window */
  atomic_ullong bytes_out;
  atomic_ullong bytes_in;
  atomic_ullong errors;       /* every error, the kinds below included */
  atomic_ullong mismatches;   /* echoed bytes that differ from what was sent */
  atomic_ullong refused;      /* connects refused */
  atomic_ullong resets;       /* connections reset or closed by the server */
  atomic_ullong conns_opened; /* connects that succeeded */
  atomic_ullong lost;         /* udp: datagrams not echoed within --loss-timeout (measured window) */
  atomic_ullong late;         /* udp: echoes that came after their datagram was counted lost */
  atomic_llong open;          /* connections open now */
  load_hist latency;          /* ns, measured window; owner thread only */
} load_stats;

/* What the backend does after a callback. */
typedef enum load_next {
  LOAD_GO = 0,        /* carry on: post whatever sends and receives are due */
  LOAD_RECONNECT = 1, /* close the socket, then connect again (storm) */
  LOAD_DROP = 2       /* close the socket; this connection is finished */
} load_next;

/* Why a connection ended without us asking. */
typedef enum load_end {
  LOAD_END_REFUSED = 1, /* connect refused */
  LOAD_END_RESET,       /* reset or aborted by the peer */
  LOAD_END_EOF,         /* the server closed the connection */
  LOAD_END_ERROR        /* anything else (named in the detail) */
} load_end;

/* udp: one datagram in flight. The datagram names its slot and sequence
 * number in its header, so an echo finds its slot without a search. */
typedef struct load_udp_slot {
  uint32_t seq;
  int busy;
  uint64_t t_sent;
} load_udp_slot;

typedef struct load_conn {
  load_run *run;
  unsigned id;
  unsigned cycle;      /* connections this slot has made */
  int open;            /* connected and not yet closed */
  uint64_t t_connect;  /* when the current connect started */
  uint64_t base;       /* pattern offset of the current stream's first byte */
  uint64_t tx_off;     /* stream bytes handed to the backend to send */
  uint64_t sent_off;   /* ... of which the backend reported sent */
  uint64_t rx_off;     /* stream bytes received (and verified) */
  uint64_t msgs_sent;  /* messages handed to the backend */
  uint64_t msgs_done;  /* messages completed */
  unsigned char *sbuf; /* the chunk being sent: [s_pos, s_len) is still to go */
  size_t s_cap, s_pos, s_len;
  unsigned char *rbuf;
  size_t r_cap;
  uint64_t *t_sent;     /* [pipeline]: when message k was handed out, at k % pipeline */
  uint64_t msgs;        /* completed in the measured window */
  int chargen_phase;    /* RFC 864 line of the first byte, -1 until seen */
  load_udp_slot *slots; /* udp: [pipeline] */
  unsigned *free_slots; /* udp: stack of free slot indexes */
  unsigned free_count;
  uint32_t next_seq; /* udp: sequence number of the next datagram */
  /* Since when this connection waits for a byte from the server (ns), 0 when
   * it expects none: set when a request goes out with none outstanding (or,
   * in chargen mode, at connect), moved on by every byte that arrives. The
   * owner thread writes it, the main thread reads it to find stalls. */
  atomic_ullong waiting_since;
} load_conn;

/* Builds the shared byte pattern. 0 or -1 (out of memory). */
int load_run_init(load_run *run, const load_options *opt);
void load_run_close(load_run *run);

/* Prints one error line to stderr; after the first 20, only counts them. */
void load_run_log(load_run *run, const char *fmt, ...) PS_PRINTF(2, 3);

int load_stats_init(load_stats *st);

/* Allocates the buffers. 0 or -1. */
int load_conn_init(load_conn *c, load_run *run, unsigned id);
void load_conn_free(load_conn *c);

/* The backend is about to connect: a new stream (new pattern base) begins. */
void load_conn_connecting(load_conn *c, uint64_t now);
/* The connect succeeded. */
load_next load_conn_connected(load_conn *c, load_stats *st, uint64_t now);
/* The connect failed, or an open connection ended without us closing it
 * (detail: the OS error text, or NULL). Counted as an error unless stopping. */
load_next load_conn_failed(load_conn *c, load_stats *st, load_end why, const char *detail);
/* The backend closed the socket (for whatever reason). */
void load_conn_closed(load_conn *c, load_stats *st);

/* The bytes to send next, or 0 when nothing is due. Until load_conn_sent
 * accounts for all of them, the same unsent tail is returned again. In udp
 * mode each call hands out one whole datagram, to be sent with one call. */
int load_conn_next_send(load_conn *c, uint64_t now, const unsigned char **data, size_t *len);
void load_conn_sent(load_conn *c, load_stats *st, size_t bytes, uint64_t now);

/* Where to receive into; then load_conn_received with the byte count (> 0). */
void load_conn_recv_buf(load_conn *c, unsigned char **buf, size_t *len);
load_next load_conn_received(load_conn *c, load_stats *st, size_t bytes, uint64_t now);

/* udp: counts every datagram sent more than --loss-timeout before `now`
 * and not echoed as lost (in the measured window) and frees its slot.
 * Returns how many slots it freed: the backend then sends again. */
unsigned load_conn_expire(load_conn *c, load_stats *st, uint64_t now);

/* Whether the connection has waited for the server for more than
 * `timeout_ns` at `now` (a request or a stream outstanding, no byte back).
 * Safe from any thread. */
int load_conn_stalled(const load_conn *c, uint64_t now, uint64_t timeout_ns);

/* Relaxed atomic helpers for the counters. */
static inline void load_stat_add(atomic_ullong *counter, uint64_t v) {
  atomic_fetch_add_explicit(counter, v, memory_order_relaxed);
}
static inline uint64_t load_stat_get(atomic_ullong *counter) {
  return atomic_load_explicit(counter, memory_order_relaxed);
}
static inline int load_stopping(load_run *run) { return atomic_load_explicit(&run->stopping, memory_order_relaxed); }

#endif
