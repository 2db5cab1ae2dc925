/* The engine's counters, described once. PS_STATS(X) is the one list: the
 * ps_stats struct, the engine's counter array and its snapshot, the admin
 * endpoint's JSON and Prometheus text, the console's stats line and the
 * documentation check (docs/metrics.md names every row) are all made from
 * it. Adding a counter is one row here and one in docs/metrics.md.
 *
 * X(field, kind, metric, label, help, line, div)
 *   field   the uint64_t member of ps_stats (and PS_STAT_field, its index)
 *   kind    PS_STAT_COUNTER (a total since start) or PS_STAT_GAUGE (a level now)
 *   metric  the Prometheus family; the rows of a labelled family are adjacent
 *   label   "name=value" of the row's label in its family, "" for none
 *   help    the family's help text (the first row of a family gives it)
 *   line    "group word" in the console's stats line ("+word" adds a rate per
 *           second); "" keeps the row out of the line
 *   div     the field counts 1/div of the metric's unit (1000000: the field
 *           is in microseconds, the metric in seconds) */
#ifndef PS_STATS_H
#define PS_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PS_STAT_COUNTER 0
#define PS_STAT_GAUGE 1

/* clang-format off */
#define PS_STATS(X) \
  /* Connections. Every accepted connection ends with one reason, so the   \
   * reasons sum to accepted - open. */                                      \
  X(conns_open, PS_STAT_GAUGE, "portserve_connections_open", "", \
    "TCP connections accepted and not yet ended.", "conns open", 1) \
  X(conns_total, PS_STAT_COUNTER, "portserve_connections_accepted_total", "", \
    "TCP connections accepted.", "conns total", 1) \
  X(closed_orderly, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=orderly", \
    "TCP connections that ended, by the first cause of their end.", "", 1) \
  X(closed_idle, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=idle", "", "", 1) \
  X(closed_linger, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=linger", "", "", 1) \
  X(closed_send, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=send", "", "", 1) \
  X(closed_reset, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=reset", "", "closed reset", 1) \
  X(closed_resources, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=out_of_resources", "", \
    "closed out-of-resources", 1) \
  X(closed_aborted, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=aborted", "", "", 1) \
  X(closed_stop, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=stop", "", "", 1) \
  X(closed_proxy, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=proxy_header", "", "", 1) \
  X(closed_refused, PS_STAT_COUNTER, "portserve_connections_closed_total", "reason=refused", "", "", 1) \
  X(conns_aborted, PS_STAT_COUNTER, "portserve_connections_aborted_total", "", \
    "TCP connections this server reset (linger 0): send timeout, out of resources, a handler's abort, " \
    "the stop's deadline.", "closed aborted", 1) \
  X(refused_source, PS_STAT_COUNTER, "portserve_connections_refused_total", "reason=per_source_limit", \
    "Accepted sockets reset before they became connections, by reason.", "refused per-source", 1) \
  X(refused_stopping, PS_STAT_COUNTER, "portserve_connections_refused_total", "reason=stopping", "", "", 1) \
  X(refused_management, PS_STAT_COUNTER, "portserve_connections_refused_total", "reason=management_limit", "", \
    "", 1) \
  X(refused_untrusted, PS_STAT_COUNTER, "portserve_connections_refused_total", "reason=untrusted_proxy", "", "", 1) \
  /* PROXY protocol headers on ',proxy' listeners (conn.c). */ \
  X(proxy_ok, PS_STAT_COUNTER, "portserve_proxy_headers_total", "result=ok", \
    "PROXY protocol headers by result: ok (a client named), local (the balancer's own connection), bad " \
    "(malformed or too long: reset), timeout (not complete in time: reset).", "", 1) \
  X(proxy_local, PS_STAT_COUNTER, "portserve_proxy_headers_total", "result=local", "", "", 1) \
  X(proxy_bad, PS_STAT_COUNTER, "portserve_proxy_headers_total", "result=bad", "", "", 1) \
  X(proxy_timeout, PS_STAT_COUNTER, "portserve_proxy_headers_total", "result=timeout", "", "", 1) \
  X(timeouts_idle, PS_STAT_COUNTER, "portserve_timeouts_total", "timeout=idle", \
    "Connection deadlines that passed: idle (graceful close), linger (close), send (reset), deadline (a " \
    "service's own: the admin endpoint's request head).", "timeouts idle", 1) \
  X(timeouts_linger, PS_STAT_COUNTER, "portserve_timeouts_total", "timeout=linger", "", "timeouts linger", 1) \
  X(timeouts_send, PS_STAT_COUNTER, "portserve_timeouts_total", "timeout=send", "", "timeouts send", 1) \
  X(timeouts_deadline, PS_STAT_COUNTER, "portserve_timeouts_total", "timeout=deadline", "", "", 1) \
  /* Management connections (PS_HANDLER_MANAGEMENT: the admin endpoint), \
   * kept out of the connection and traffic totals. */ \
  X(mgmt_open, PS_STAT_GAUGE, "portserve_admin_connections_open", "", \
    "Admin endpoint connections open (not in portserve_connections_open; at most 8).", "", 1) \
  X(mgmt_queue_peak, PS_STAT_GAUGE, "portserve_admin_send_queue_peak_bytes", "", \
    "Largest send queue any admin endpoint connection reached since start.", "", 1) \
  /* Connection limits (docs/design.md, "Connection limits"). */ \
  X(admitted, PS_STAT_GAUGE, "portserve_connection_slots_used", "", \
    "Of --max-connections: open connections plus posted AcceptEx, each holding one slot.", "", 1) \
  X(accepts_held, PS_STAT_GAUGE, "portserve_accepts_held", "", \
    "Accept slots not posted because --max-connections is reached (clients wait in the backlog).", \
    "limits held", 1) \
  X(limit_waits, PS_STAT_COUNTER, "portserve_connection_limit_waits_total", "", \
    "Times an accept slot had to wait for --max-connections.", "limits waits", 1) \
  /* Traffic. */ \
  X(bytes_in, PS_STAT_COUNTER, "portserve_bytes_received_total", "", \
    "Payload bytes received, TCP and UDP.", "in +", 1) \
  X(bytes_out, PS_STAT_COUNTER, "portserve_bytes_sent_total", "", "Payload bytes sent, TCP and UDP.", "out +", 1) \
  X(msgs_in, PS_STAT_COUNTER, "portserve_messages_received_total", "", \
    "TCP receives that delivered data to a handler.", "msg +in", 1) \
  X(msgs_out, PS_STAT_COUNTER, "portserve_messages_sent_total", "", \
    "TCP sends completed (one WSASend each).", "", 1) \
  X(dgrams_in, PS_STAT_COUNTER, "portserve_datagrams_received_total", "", "UDP datagrams received.", "udp in", 1) \
  X(dgrams_out, PS_STAT_COUNTER, "portserve_datagrams_sent_total", "", "UDP datagrams sent.", "udp out", 1) \
  X(dgrams_dropped, PS_STAT_COUNTER, "portserve_datagrams_dropped_total", "reason=other", \
    "UDP datagrams dropped, by reason: other is too large for the buffer, or a reply that could not be sent.", \
    "udp dropped", 1) \
  X(dgrams_dropped_port0, PS_STAT_COUNTER, "portserve_datagrams_dropped_total", "reason=source_port_0", "", \
    "guard port0", 1) \
  X(dgrams_dropped_lowport, PS_STAT_COUNTER, "portserve_datagrams_dropped_total", "reason=source_port_low", "", \
    "guard low-port", 1) \
  X(dgrams_dropped_loop, PS_STAT_COUNTER, "portserve_datagrams_dropped_total", "reason=source_port_loop", "", \
    "guard loop", 1) \
  X(dgrams_dropped_rate, PS_STAT_COUNTER, "portserve_datagrams_dropped_total", "reason=reply_rate_source", "", \
    "guard rate", 1) \
  X(dgrams_dropped_rate_total, PS_STAT_COUNTER, "portserve_datagrams_dropped_total", "reason=reply_rate_total", \
    "", "guard total-rate", 1) \
  /* Pools and resource errors (docs/design.md, "Resource errors"). */ \
  X(accepts_posted, PS_STAT_GAUGE, "portserve_accepts_posted", "", \
    "AcceptEx operations posted, all listeners (full: listeners x --accepts).", "posted accept", 1) \
  X(udp_receives_posted, PS_STAT_GAUGE, "portserve_udp_receives_posted", "", \
    "WSARecvFrom operations posted, all UDP sockets (full: UDP sockets x --udp-receives).", "posted udp", 1) \
  X(accepts_waiting_data, PS_STAT_GAUGE, "portserve_accepts_awaiting_data", "", \
    "Clients of a service whose clients speak first that connected and have sent nothing for over a second: " \
    "their accepts left the pool (a new one took each one's place) and wait for the first bytes.", \
    "posted awaiting-data", 1) \
  X(accepts_silent, PS_STAT_COUNTER, "portserve_accepts_silent_total", "", \
    "Accepts set aside because their client was connected and silent for a second; each makes its listener " \
    "accept without waiting for data for the next 10 s.", "", 1) \
  X(accept_data_timeouts, PS_STAT_COUNTER, "portserve_accept_data_timeouts_total", "", \
    "Silent clients closed at --idle-timeout before their first byte (also in the idle timeouts).", "", 1) \
  X(accept_errors, PS_STAT_COUNTER, "portserve_accept_errors_total", "", \
    "AcceptEx posts (or their sockets) that failed at once; re-posted.", "errors accept", 1) \
  X(udp_recv_errors, PS_STAT_COUNTER, "portserve_udp_receive_errors_total", "", \
    "WSARecvFrom posts that failed at once; re-posted.", "errors udp", 1) \
  X(conn_retries, PS_STAT_COUNTER, "portserve_connection_retries_total", "", \
    "Connection posts retried after a resource error.", "errors retries", 1) \
  X(buffers_in_use, PS_STAT_GAUGE, "portserve_buffers_in_use", "", "Pooled I/O buffers held by connections.", \
    "buffers used", 1) \
  X(buffers_live, PS_STAT_GAUGE, "portserve_buffers_allocated", "", "Pooled I/O buffers allocated, free or in use.", \
    "buffers allocated", 1) \
  X(small_buffers_in_use, PS_STAT_GAUGE, "portserve_small_buffers_in_use", "", \
    "Small read buffers held by connections: one per connection whose recent messages fit in one, waiting for more.", "", 1) \
  X(small_buffers_live, PS_STAT_GAUGE, "portserve_small_buffers_allocated", "", \
    "Small read buffers allocated, free or in use.", "", 1) \
  X(burst_buffers_live, PS_STAT_GAUGE, "portserve_burst_buffers_allocated", "", \
    "Worker threads' 64 KiB buffers for burst reads, allocated at a worker's first burst read.", "", 1) \
  X(sockets_live, PS_STAT_GAUGE, "portserve_sockets_open", "", "Sockets open, listeners included.", "", 1) \
  /* Socket operations that failed, by where; always present, so increase() \
   * sees the first one. Their codes: ps_engine_error_counts. */ \
  X(errors_accept, PS_STAT_COUNTER, "portserve_socket_errors_total", "site=accept", \
    "Socket operations that failed, by where (their Win32 codes: portserve_socket_error_codes_total).", "", 1) \
  X(errors_recv, PS_STAT_COUNTER, "portserve_socket_errors_total", "site=recv", "", "", 1) \
  X(errors_send, PS_STAT_COUNTER, "portserve_socket_errors_total", "site=send", "", "", 1) \
  X(errors_udp_recv, PS_STAT_COUNTER, "portserve_socket_errors_total", "site=udp_recv", "", "", 1) \
  X(errors_udp_send, PS_STAT_COUNTER, "portserve_socket_errors_total", "site=udp_send", "", "", 1) \
  X(error_rows_full, PS_STAT_COUNTER, "portserve_error_table_overflow_total", "", \
    "Socket errors counted without a row of their own in portserve_socket_error_codes_total (the table was full).", \
    "", 1) \
  X(listener_rows_full, PS_STAT_COUNTER, "portserve_listener_table_overflow_total", "", \
    "Sockets opened without a row of their own in the per-listener families (the table was full).", "", 1) \
  /* The process, for leak watching (a soak samples them). */ \
  X(process_handles, PS_STAT_GAUGE, "process_open_handles", "", \
    "Open handles of the process (GetProcessHandleCount; 0 under Wine 8).", "process handles", 1) \
  X(process_private_bytes, PS_STAT_GAUGE, "portserve_process_private_bytes", "", \
    "Committed private memory of the process.", "process private", 1) \
  X(process_resident_bytes, PS_STAT_GAUGE, "process_resident_memory_bytes", "", \
    "Resident memory of the process: its working set.", "", 1) \
  X(process_cpu_us, PS_STAT_COUNTER, "process_cpu_seconds_total", "", \
    "CPU time of the process, user and kernel, in seconds.", "", 1000000) \
  /* How the engine worked: tests assert on them. */ \
  X(sweep_us_max, PS_STAT_GAUGE, "portserve_timer_sweep_max_seconds", "", \
    "Longest timer sweep over the connections since start.", "", 1000000) \
  X(conns_with_data, PS_STAT_COUNTER, "portserve_connections_accepted_with_data_total", "", \
    "Accepted connections whose first bytes (or FIN) came with the accept: AcceptEx with a receive.", "", 1) \
  X(conns_skip, PS_STAT_COUNTER, "portserve_connections_skip_on_success_total", "", \
    "Accepted connections with skip-on-success on.", "", 1) \
  X(burst_reads, PS_STAT_COUNTER, "portserve_burst_reads_total", "result=data", \
    "Burst reads: after a read that filled its buffer, a non-blocking read of what else was waiting, by what " \
    "it found (data, or nothing: the read that waits for the peer is posted instead).", "", 1) \
  X(burst_reads_empty, PS_STAT_COUNTER, "portserve_burst_reads_total", "result=empty", "", "", 1) \
  X(inline_deferred, PS_STAT_COUNTER, "portserve_inline_deferred_total", "", \
    "Inline completions deferred to a worker's next pass (their event's budget was spent).", "", 1) \
  X(inline_balanced, PS_STAT_COUNTER, "portserve_inline_balanced_total", "", \
    "Of those, handed to the port because another worker had less queued.", "", 1) \
  X(udp_skip, PS_STAT_COUNTER, "portserve_udp_skip_on_success_total", "", \
    "UDP sockets opened with skip-on-success on.", "", 1) \
  X(udp_inline_recv, PS_STAT_COUNTER, "portserve_udp_inline_total", "op=receive", \
    "UDP operations that completed at once on a socket with skip-on-success, handled by the thread that " \
    "posted them instead of through the completion port.", "", 1) \
  X(udp_inline_send, PS_STAT_COUNTER, "portserve_udp_inline_total", "op=send", "", "", 1) \
  X(udp_connreset_off, PS_STAT_COUNTER, "portserve_udp_connreset_off_total", "", \
    "UDP sockets opened with SIO_UDP_CONNRESET turned off.", "", 1) \
  X(udp_netreset_off, PS_STAT_COUNTER, "portserve_udp_netreset_off_total", "", \
    "UDP sockets opened with SIO_UDP_NETRESET turned off.", "", 1)
/* clang-format on */

typedef struct ps_stats {
#define PS_STATS__FIELD(field, kind, metric, label, help, line, div) uint64_t field;
  PS_STATS(PS_STATS__FIELD)
#undef PS_STATS__FIELD
} ps_stats;

/* PS_STAT_field: a row's index in the list (and in the engine's array). */
typedef enum ps_stat_index {
#define PS_STATS__INDEX(field, kind, metric, label, help, line, div) PS_STAT_##field,
  PS_STATS(PS_STATS__INDEX)
#undef PS_STATS__INDEX
    PS_STAT_COUNT
} ps_stat_index;

/* Where a socket operation failed: the site of ps_error_count and the
 * label of portserve_socket_errors_total (ps_error_site_name). */
typedef enum ps_error_site {
  PS_SITE_ACCEPT = 0, /* AcceptEx posted or completed */
  PS_SITE_RECV,       /* a connection's WSARecv */
  PS_SITE_SEND,       /* a connection's WSASend */
  PS_SITE_UDP_RECV,   /* WSARecvFrom */
  PS_SITE_UDP_SEND,   /* WSASendTo */
  PS_SITE_COUNT
} ps_error_site;

/* "accept", "recv", "send", "udp_recv", "udp_send". */
const char *ps_error_site_name(ps_error_site site);

/* The bound address of one listening socket. */
typedef struct ps_endpoint {
  char service[32];
  char address[64]; /* "127.0.0.1" or "::1" */
  unsigned port;
  int family;         /* AF_INET or AF_INET6 */
  unsigned transport; /* PS_TRANSPORT_TCP or PS_TRANSPORT_UDP */
} ps_endpoint;

/* Per listening socket (one per address of a listener, TCP and UDP apart),
 * described once as PS_STATS is:
 * X(field, metric, transport, help): transport "tcp" or "udp" for a family
 * only that transport has, "" for both. */
/* clang-format off */
#define PS_LISTENER_STATS(X) \
  X(conns_accepted, "portserve_listener_connections_accepted_total", "tcp", \
    "TCP connections accepted, per listener.") \
  X(bytes_in, "portserve_listener_bytes_received_total", "", "Payload bytes received, per listener.") \
  X(bytes_out, "portserve_listener_bytes_sent_total", "", "Payload bytes sent, per listener.") \
  X(msgs_in, "portserve_listener_messages_received_total", "tcp", \
    "TCP receives delivered to the handler, per listener.") \
  X(msgs_out, "portserve_listener_messages_sent_total", "tcp", "TCP sends completed, per listener.") \
  X(dgrams_in, "portserve_listener_datagrams_received_total", "udp", "UDP datagrams received, per listener.") \
  X(dgrams_out, "portserve_listener_datagrams_sent_total", "udp", "UDP datagrams sent, per listener.")
/* clang-format on */

typedef enum ps_listener_stat_index {
#define PS_LISTENER_STATS__INDEX(field, metric, transport, help) PS_LSTAT_##field,
  PS_LISTENER_STATS(PS_LISTENER_STATS__INDEX)
#undef PS_LISTENER_STATS__INDEX
    PS_LSTAT_COUNT
} ps_listener_stat_index;

/* What one listening socket served since it opened. A socket a reload
 * closed keeps its row (open = 0) and its totals; one opened again for the
 * same address goes on counting in the same row. */
typedef struct ps_listener_stats {
  ps_endpoint ep;
  int open;
#define PS_LISTENER_STATS__FIELD(field, metric, transport, help) uint64_t field;
  PS_LISTENER_STATS(PS_LISTENER_STATS__FIELD)
#undef PS_LISTENER_STATS__FIELD
} ps_listener_stats;

typedef struct ps_listener_stat_def {
  const char *field;
  const char *metric;
  const char *transport; /* "tcp", "udp" or "" */
  const char *help;
  size_t offset; /* in ps_listener_stats */
} ps_listener_stat_def;

const ps_listener_stat_def *ps_listener_stat_at(size_t i);
uint64_t ps_listener_stat_value(const ps_listener_stats *s, size_t i);

/* The list as data, for code that loops over it. */
typedef struct ps_stat_def {
  const char *field;
  int kind;
  const char *metric;
  const char *label; /* "name=value" or "" */
  const char *help;
  const char *line;
  unsigned div;
  size_t offset; /* of the field in ps_stats */
} ps_stat_def;

/* Row i of the list (i < PS_STAT_COUNT). */
const ps_stat_def *ps_stat_at(size_t i);
/* A row's value in `s`. */
uint64_t ps_stat_value(const ps_stats *s, size_t i);

/* "conns 3 open 120 total | in 1.2 MiB 350.0 KiB/s | ...": the rows with a
 * `line`, grouped; rates from the difference to `prev` over `elapsed_s`
 * seconds. */
char *ps_stats_format(const ps_stats *now, const ps_stats *prev, double elapsed_s, char *buf, size_t bufsize);

/* "1.5 KiB", "3.0 MiB", "12 B". Returns buf. */
char *ps_format_bytes(double bytes, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif

#endif
