/* The protocol handler API: how a protocol plugs into portserve.
 *
 * A protocol is a table of callbacks (ps_handler). The engine owns the
 * sockets, the buffers and the threads; a handler only sees a ps_session (one
 * TCP connection) and the calls below. It never touches a socket.
 *
 * Threading rule: callbacks for one session never run concurrently, and the
 * ps_session_* calls may be made only from inside a callback for that same
 * session (the engine holds the session's lock around every callback).
 * Callbacks for different sessions run in parallel on the worker threads, so
 * state shared between sessions needs the handler's own locking.
 *
 * Life of a session: on_open, then any number of on_data / on_drained, then
 * on_eof when the peer half-closes (if it does), and always exactly one
 * on_close, after which the session is gone.
 *
 * Datagrams (UDP): a handler that sets on_datagram serves UDP too. Each
 * datagram is one call; ps_datagram_reply sends datagrams back to its
 * source. Datagram calls run concurrently on any worker; they share only the
 * service context (on_start), which they must treat as read-only or lock.
 * The engine calls on_datagram only for datagrams from an acceptable source
 * port (not 0, not its own UDP ports, not below 1024 by default).
 *
 * Service context: on_start runs once when a listener for the service opens
 * (before any traffic) and returns a context every session and datagram of
 * that listener can read (ps_session_context, ps_datagram_context); on_stop
 * frees it after the engine stopped. A service's own settings reach on_start
 * as `cfg->options`, a pointer to a struct its header defines (qotd's is
 * ps_qotd_options), given to ps_engine_serve (ps_engine.h).
 *
 * Write a table with designated initialisers and leave out what you do not
 * need; every callback is optional, but a service needs at least one of
 * on_open, on_data and on_datagram:
 *
 *   const ps_handler my_proto = {
 *     .name = "upper",
 *     .state_size = sizeof(struct my_state),
 *     .on_data = my_on_data,
 *   };
 *
 * The built-in services (echo, discard, chargen, daytime, qotd, and admin,
 * the HTTP metrics endpoint) and the example in examples/upper are written
 * against this header only. */
#ifndef PS_HANDLER_H
#define PS_HANDLER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_session ps_session;
typedef struct ps_datagram ps_datagram;

struct sockaddr; /* <winsock2.h> or <sys/socket.h>; only pointers here */

/* What on_start gets. */
typedef struct ps_service_config {
  const char *name;    /* the name the service is served under ("echo") */
  const void *options; /* the service's own settings as given to ps_engine_serve
                        * (the type its header documents), or NULL: defaults */
} ps_service_config;

typedef struct ps_handler {
  const char *name;  /* service name used in --listen, e.g. "echo" */
  size_t state_size; /* bytes of zeroed per-session state the engine allocates */

  /* A connection was accepted. Optional. */
  void (*on_open)(ps_session *s);
  /* Bytes arrived. `data` is valid only during the call. Optional: without
   * it input is read and dropped (the service only talks, like daytime). */
  void (*on_data)(ps_session *s, const void *data, size_t len);
  /* Everything queued with ps_session_send has been handed to the network.
   * Optional; a streaming protocol uses it to queue the next chunk, so the
   * server never queues more than the peer reads. */
  void (*on_drained)(ps_session *s);
  /* The peer sent FIN (it will send nothing more). Optional; when absent the
   * engine closes gracefully once queued data is sent. */
  void (*on_eof)(ps_session *s);
  /* The session ends (peer closed, reset, ps_session_close finished, or the
   * server stops). Optional. No ps_session_* call is allowed after it. */
  void (*on_close)(ps_session *s);

  /* A datagram arrived; `data` is valid only during the call. Optional:
   * without it the service is TCP only. */
  void (*on_datagram)(ps_datagram *d, const void *data, size_t len);

  /* Creates the service context. Optional. 0, or -1 with a message in err
   * (the listener then fails to open, naming the service). */
  int (*on_start)(const ps_service_config *cfg, void **ctx, char *err, size_t errsize);
  /* Frees the service context. Optional. */
  void (*on_stop)(void *ctx);

  /* PS_HANDLER_* bits. Optional. */
  unsigned flags;
  /* The deadline set with ps_session_set_deadline passed. Optional: without
   * it the engine closes the session gracefully. */
  void (*on_deadline)(ps_session *s);
} ps_handler;

/* A management service (the admin endpoint): the engine keeps its
 * connections out of the service totals (connections, bytes, messages,
 * close reasons, timeouts) and counts them only in their listener's own
 * row; they take no --max-connections slot but one of their own
 * allowance of PS_MANAGEMENT_CONNECTIONS_MAX, over which an accepted
 * connection is reset (connections_refused_total{reason="management_limit"}).
 * So a scrape neither shows up in the figures it reads nor waits behind a
 * server that is full. */
#define PS_HANDLER_MANAGEMENT 1u
#define PS_MANAGEMENT_CONNECTIONS_MAX 8

/* The service's clients speak first (echo, discard; not daytime, which
 * talks as soon as a client connects): the engine may accept a connection
 * together with its first bytes (AcceptEx with a receive), so on_open runs
 * when the client's first bytes (or its FIN) arrive, just before on_data
 * gets them. A client that connects and stays silent is still served when
 * it speaks, and closed at --idle-timeout like an idle connection
 * (docs/design.md, "Accepting with the first bytes"). */
#define PS_HANDLER_CLIENT_FIRST 2u

/* Queues a copy of `len` bytes for sending. Returns 0, or -1 when nothing of
 * this call was queued:
 *  - the session is closing (ps_session_close/abort, or the peer reset);
 *  - the engine has no buffer memory for the copy: the session is then
 *    aborted (the peer gets a reset, counted in conns_out_of_resources).
 *    The bytes are the caller's and cannot wait for memory to come back,
 *    and a reply with a hole in it must not reach the peer looking whole;
 *    what was queued before this call is dropped with the reset.
 * After -1 the session takes no more sends; on_close follows as always, so
 * a handler may ignore the return value. The engine's own resource errors
 * (a WSASend or WSARecv refused for lack of buffers, no receive buffer) do
 * not reach the handler: the engine retries them with backoff and aborts
 * the session only if they persist (docs/design.md, "Resource errors").
 * Sends are delivered in order. While more than the configured send queue
 * limit is unsent, the engine stops reading from the peer (backpressure). */
int ps_session_send(ps_session *s, const void *data, size_t len);

/* Bytes queued and not yet handed to the network. */
size_t ps_session_queued(const ps_session *s);

/* The engine's send queue limit as configured now: past it the engine stops
 * reading from the peer. A request/response protocol that answers
 * pipelined requests stops answering at it too (and goes on in on_drained),
 * so one read of many requests does not queue many answers. */
size_t ps_session_send_queue_max(const ps_session *s);

/* Arms the session's deadline `ms` from now (0 disarms it): when it passes,
 * on_deadline runs (without one, the session closes gracefully), counted in
 * timeouts_deadline. Traffic does not move it, unlike the idle timeout: a
 * protocol bounds a slow request with it. The engine's timer sweep checks
 * it, so it fires up to one sweep period (a second by default) late. */
void ps_session_set_deadline(ps_session *s, unsigned ms);

/* Graceful close: stop delivering input, send what is queued, then FIN. */
void ps_session_close(ps_session *s);

/* Abortive close: drop what is queued and reset the connection (RST). */
void ps_session_abort(ps_session *s);

/* The handler's per-session state (state_size bytes, zeroed at open). */
void *ps_session_state(ps_session *s);

/* The service context from on_start (NULL without on_start). */
void *ps_session_context(ps_session *s);

/* The peer's address (sockaddr_in or sockaddr_in6) and its length in *len.
 * Valid for the session's life. */
const struct sockaddr *ps_session_peer(const ps_session *s, int *len);

/* The peer as text, "192.0.2.1:5000" or "[2001:db8::1]:5000", into buf;
 * returns buf. 64 bytes are enough. */
char *ps_session_peer_name(const ps_session *s, char *buf, size_t size);

/* Sends `len` bytes (0 allowed) as one datagram to the sender of `d`. 0, or
 * -1 if it could not be queued (out of memory, too many replies in flight,
 * or over the sender's reply rate or the global one: the reply is dropped
 * and counted, as UDP allows). */
int ps_datagram_reply(ps_datagram *d, const void *data, size_t len);

/* The service context from on_start (NULL without on_start). */
void *ps_datagram_context(ps_datagram *d);

/* The datagram's source address and its length in *len (valid during the
 * on_datagram call). */
const struct sockaddr *ps_datagram_peer(const ps_datagram *d, int *len);

#ifdef __cplusplus
}
#endif

#endif
