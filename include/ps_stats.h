/* A snapshot of the engine's counters and the console's stats line.
 * The engine keeps the live counters (server/engine.c); this module only
 * formats them, so the text is the same everywhere and testable natively. */
#ifndef PS_STATS_H
#define PS_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_stats {
  uint64_t conns_open;      /* connections accepted and not yet freed */
  uint64_t conns_total;     /* connections accepted since start */
  uint64_t conns_reset;     /* connections that ended with a reset (either side) */
  uint64_t conns_aborted;   /* connections this server reset (linger 0): send timeout, out of resources, a
                               handler's abort, the stop's drain deadline */
  /* Connection limits (docs/design.md, "Connection limits"). */
  uint64_t accepts_held;         /* gauge: accept slots not posted because --max-connections is reached */
  uint64_t admitted;             /* gauge: admission tokens in use (open connections plus posted AcceptEx) */
  uint64_t limit_waits;          /* times an accept slot waited for --max-connections */
  uint64_t conns_refused_source; /* reset at accept: the source had --max-connections-per-source open */
  uint64_t bytes_in;        /* payload bytes received */
  uint64_t bytes_out;       /* payload bytes sent */
  uint64_t msgs_in;         /* receives that delivered data to a handler */
  uint64_t msgs_out;        /* sends completed (one WSASend each) */
  uint64_t sockets_live;    /* sockets opened and not yet closed (listeners included) */
  uint64_t buffers_live;    /* pooled I/O buffers allocated (free or in use) */
  uint64_t buffers_in_use;  /* pooled I/O buffers held by connections */
  uint64_t dgrams_in;       /* UDP datagrams received */
  uint64_t dgrams_out;      /* UDP datagrams sent */
  uint64_t dgrams_dropped;  /* UDP datagrams too large for the buffer, or replies not sent */
  /* The UDP reflection guard: datagrams refused before the handler, by
   * source port, and replies refused by the rate limits. */
  uint64_t dgrams_dropped_port0;      /* source port 0 */
  uint64_t dgrams_dropped_lowport;    /* source port 1-1023 (unless --udp-allow-low-ports) */
  uint64_t dgrams_dropped_loop;       /* source port is one this portserve serves over UDP */
  uint64_t dgrams_dropped_rate;       /* replies over --udp-reply-rate/--udp-reply-burst for their source */
  uint64_t dgrams_dropped_rate_total; /* replies over --udp-reply-rate-total */
  uint64_t timeouts_idle;   /* connections closed by --idle-timeout */
  uint64_t timeouts_linger; /* connections closed by --linger-timeout (no FIN from the peer) */
  uint64_t timeouts_send;   /* connections reset by --send-timeout (the peer stopped reading) */
  uint64_t sweep_us_max;    /* longest timer sweep over the connections, microseconds */
  /* Pools and resource errors (docs/design.md, "Resource errors"). */
  uint64_t accepts_posted;         /* gauge: AcceptEx posted, all listeners (full: listeners x --accepts) */
  uint64_t udp_receives_posted;    /* gauge: WSARecvFrom posted (full: UDP sockets x --udp-receives) */
  uint64_t accept_errors;          /* AcceptEx or its socket failed at once (re-posted) */
  uint64_t udp_recv_errors;        /* WSARecvFrom failed at once (re-posted) */
  uint64_t conn_retries;           /* connection posts retried after a resource error */
  uint64_t conns_out_of_resources; /* connections aborted: resources missing too long */
  /* The process (GetProcessHandleCount, GetProcessMemoryInfo): what a soak
   * watches for leaks. */
  uint64_t process_handles;       /* open handles of the whole process */
  uint64_t process_private_bytes; /* committed private memory */
  /* Which engine paths ran (totals since start). Not in the stats line: they
   * say how the engine worked, not what it served; tests assert on them. */
  uint64_t conns_skip;       /* accepted connections with skip-on-success on */
  uint64_t inline_deferred;  /* inline completions deferred to the worker's next pass (budget spent) */
  uint64_t inline_balanced;  /* of those, sent through the port: another worker had less queued */
  uint64_t udp_connreset_off; /* UDP sockets opened with SIO_UDP_CONNRESET turned off */
} ps_stats;

/* "conns 3 open / 120 total | in 1.2 MiB 350.0 KiB/s | out ... | 1234 msg/s"
 * Rates come from the difference to `prev` over `elapsed_s` seconds. */
char *ps_stats_format(const ps_stats *now, const ps_stats *prev, double elapsed_s, char *buf, size_t bufsize);

/* "1.5 KiB", "3.0 MiB", "12 B". Returns buf. */
char *ps_format_bytes(double bytes, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif

#endif
