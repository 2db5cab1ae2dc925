/* UDP sockets and their receive and send operations.
 *
 * Concurrency rule: a UDP socket's `closing` flag, its socket handle and its
 * `pending` count change only under u->lock, and every WSARecvFrom and
 * WSASendTo is posted under it, so no op is ever posted on a closed handle.
 * Receive completions for one socket run concurrently on any worker; the
 * handler is called outside the lock. The socket is freed in udp__endgame
 * by whoever sees closing set and pending at zero.
 *
 * Receive ops are counted in `pending` while posted: each completion
 * re-posts its op. A receive that cannot be posted is not dropped: after a
 * few immediate tries for WSAECONNRESET/WSAENETRESET (a port-unreachable
 * from an earlier reply, where SIO_UDP_CONNRESET could not be turned off)
 * it is marked idle, and ps_udp_retry, on the housekeeping thread, re-posts
 * the socket's idle receives with exponential backoff (100 ms doubling to
 * 5 s); udp_receives_posted shows the pool's size. Send ops are allocated per
 * reply (header + payload) and freed on completion; at most
 * PS_UDP_SENDS_MAX are in flight per socket, beyond that replies are
 * dropped and counted, as UDP allows.
 *
 * Reflection guard (docs/design.md, "UDP reflection guard"): a datagram whose
 * source port is 0, one of this engine's UDP ports, or (unless
 * udp_allow_low_ports) below 1024 is counted and never reaches the handler;
 * every reply is charged to its destination's token bucket and the global
 * one (common/ratelimit.h) before anything is allocated for it.
 *
 * No skip-on-success on UDP sockets: a truncated datagram completes with a
 * warning status (STATUS_BUFFER_OVERFLOW -> WSAEMSGSIZE) which still queues a
 * completion, so with skip mode "returned at once" would not tell whether a
 * packet follows. Every UDP completion comes through the port. */
#include "udp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resolve.h"
#include "sock.h"

#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif

#define PS_UDP_SENDS_MAX 1024

typedef struct ps_udp ps_udp;

/* A receive op; the handler sees it as the ps_datagram it replies to. */
struct ps_datagram {
  ps_op op;
  ps_udp *u;
  SOCKADDR_STORAGE from;
  INT from_len;
  DWORD flags;
  int idle; /* not posted: waiting for ps_udp_retry */
  char data[];
};

typedef struct ps_udp_send {
  ps_op op;
  ps_udp *u;
  SOCKADDR_STORAGE to; /* a copy: the datagram's op is re-posted before the send completes */
  INT to_len;
  char data[];
} ps_udp_send;

struct ps_udp {
  ps_engine *eng;
  ps_udp *next; /* engine->udps (engine lock) */
  const ps_handler *handler;
  void *ctx;
  char service[PS_SERVICE_NAME_MAX];
  SRWLOCK lock;
  SOCKET sock;
  int family;
  SOCKADDR_STORAGE addr;
  char name[80];
  int closing;
  unsigned pending;         /* receive ops posted + sends in flight */
  unsigned sends_in_flight;
  unsigned idle_count;      /* receive ops not posted, waiting for a retry */
  ps_retry retry;           /* when ps_udp_retry re-posts the idle receives */
  unsigned recv_count;
  ps_datagram **recvs;
};

/* Sets or clears `port` (host order) in the engine's own-port bitmap (engine lock held):
 * cleared only when no other open UDP socket of the engine has that port. */
static void udp__mark_port(ps_engine *e, unsigned short port, int on) {
  LONG bit = (LONG)(1UL << (port & 31));
  if (on) {
    InterlockedOr(&e->udp_ports[port >> 5], bit);
  } else {
    ps_udp *other;
    for (other = e->udps; other != NULL; other = other->next)
      if (ntohs(ps_sockaddr_port(&other->addr)) == port) return;
    InterlockedAnd(&e->udp_ports[port >> 5], ~bit);
  }
}

/* The source-port guard, before the handler runs. Non-zero (and counted) if
 * the datagram must be dropped: its reply would go to port 0 (nobody), to a
 * service port of ours (an echo<->chargen loop inside this engine, or with a
 * twin of it), or to a well-known service port of another host
 * (CVE-1999-0103: echo, chargen, daytime, qotd answering each other). */
static int udp__source_refused(ps_engine *e, const ps_datagram *d) {
  unsigned short port = ntohs(ps_sockaddr_port(&d->from)); /* ps_sockaddr_port: network order */
  if (port == 0) {
    InterlockedIncrement64(&e->dgrams_dropped_port0);
    return 1;
  }
  if (e->udp_ports[port >> 5] & (LONG)(1UL << (port & 31))) {
    InterlockedIncrement64(&e->dgrams_dropped_loop);
    return 1;
  }
  if (port < 1024 && !e->cfg.udp_allow_low_ports) {
    InterlockedIncrement64(&e->dgrams_dropped_lowport);
    return 1;
  }
  return 0;
}

/* The reply-rate guard: non-zero (and counted) if a reply to d's source is
 * over its bucket or the global cap. Charged per reply, not per datagram:
 * replies are what reach the victim of a reflection (docs/design.md). */
static int udp__reply_refused(ps_engine *e, const ps_datagram *d) {
  ps_ratelimit_key key;
  if (d->from.ss_family == AF_INET6) {
    ps_ratelimit_key_v6(&key, ((const SOCKADDR_IN6 *)&d->from)->sin6_addr.s6_addr);
  } else if (d->from.ss_family == AF_INET) {
    ps_ratelimit_key_v4(&key, (const uint8_t *)&((const SOCKADDR_IN *)&d->from)->sin_addr);
  } else {
    return 0;
  }
  switch (ps_ratelimit_take(&e->reply_limit, &key, GetTickCount64())) {
    case PS_RATELIMIT_OK: return 0;
    case PS_RATELIMIT_SOURCE: InterlockedIncrement64(&e->dgrams_dropped_rate); return 1;
    case PS_RATELIMIT_TOTAL: InterlockedIncrement64(&e->dgrams_dropped_rate_total); return 1;
  }
  return 0;
}

static void udp__endgame(ps_udp *u) {
  ps_engine *e = u->eng;
  ps_udp **pp;
  unsigned i;
  AcquireSRWLockExclusive(&e->lock);
  for (pp = &e->udps; *pp != NULL; pp = &(*pp)->next)
    if (*pp == u) {
      *pp = u->next;
      break;
    }
  udp__mark_port(e, ntohs(ps_sockaddr_port(&u->addr)), 0);
  ReleaseSRWLockExclusive(&e->lock);
  for (i = 0; i < u->recv_count; i++) free(u->recvs[i]);
  free(u->recvs);
  free(u);
  InterlockedDecrement64(&e->live_listeners);
  ps_engine__signal(e);
}

/* Posts a receive (lock held). 0 if pending (a packet will come), else the error. */
static int udp__post_recv(ps_udp *u, ps_datagram *d) {
  WSABUF b;
  int err = (int)ps_fault_hit(u->eng->cfg.faults, PS_FAULT_WSARECVFROM);
  if (err != 0) return err;
  b.buf = d->data;
  b.len = (ULONG)u->eng->cfg.buffer_size;
  memset(&d->op.ov, 0, sizeof(d->op.ov));
  d->from_len = (INT)sizeof(d->from);
  d->flags = 0;
  if (WSARecvFrom(u->sock, &b, 1, NULL, &d->flags, (struct sockaddr *)&d->from, &d->from_len, &d->op.ov, NULL) != 0) {
    err = WSAGetLastError();
    /* WSAEMSGSIZE at once is a completed (truncated) receive: its packet comes. */
    if (err != WSA_IO_PENDING && err != WSAEMSGSIZE) return err;
  }
  InterlockedIncrement64(&u->eng->udp_receives_posted);
  return 0;
}

/* Posts d, or leaves it idle for ps_udp_retry (lock held, not closing). 0
 * if posted (counted in pending), else the last error; *scheduled is set
 * when this scheduled the socket's next retry. */
static int udp__arm(ps_udp *u, ps_datagram *d, ULONGLONG now, int *scheduled) {
  int err, resets = 0;
  for (;;) {
    err = udp__post_recv(u, d);
    if (err == 0) {
      u->pending++;
      if (d->idle) u->idle_count--;
      d->idle = 0;
      return 0;
    }
    InterlockedIncrement64(&u->eng->udp_recv_errors);
    /* A port-unreachable from an earlier reply, where SIO_UDP_CONNRESET could
     * not be turned off: it concerns another peer, so post again. */
    if ((err != WSAECONNRESET && err != WSAENETRESET) || ++resets > PS_RETRY_IMMEDIATE) break;
  }
  if (!d->idle) u->idle_count++;
  d->idle = 1;
  if (ps_retry_schedule(&u->retry, now)) *scheduled = 1;
  return err;
}

static void udp__log_post_failure(ps_udp *u, int err, unsigned backoff_ms, unsigned posted) {
  char msg[160];
  ps_log_limited(&u->eng->warn[PS_WARN_UDP_POST], PS_LOG_WARN,
                 "udp %s: posting WSARecvFrom failed: %s; %u of %u receives posted, retrying in %u ms", u->name,
                 ps_errstr((unsigned long)err, msg, sizeof(msg)), posted, u->recv_count, backoff_ms);
}

/* Re-posts d after its completion was handled, or retires it when closing. */
static void udp__rearm(ps_udp *u, ps_datagram *d) {
  int dead = 0, err = 0, scheduled = 0;
  unsigned backoff, posted, total;
  ps_engine *e = u->eng;
  char name[sizeof(u->name)], msg[160];
  AcquireSRWLockExclusive(&u->lock);
  u->pending--;
  InterlockedDecrement64(&u->eng->udp_receives_posted);
  if (!u->closing) err = udp__arm(u, d, GetTickCount64(), &scheduled);
  dead = u->closing && u->pending == 0;
  backoff = u->retry.backoff_ms;
  posted = u->recv_count - u->idle_count;
  total = u->recv_count;
  /* Copied under the lock: once it is released, a concurrent close may end
   * the socket and free it (this receive was its last pending op). */
  memcpy(name, u->name, sizeof(name));
  ReleaseSRWLockExclusive(&u->lock);
  if (scheduled) ps_engine__wake(e);
  if (err != 0)
    ps_log_limited(&e->warn[PS_WARN_UDP_POST], PS_LOG_WARN,
                   "udp %s: posting WSARecvFrom failed: %s; %u of %u receives posted, retrying in %u ms", name,
                   ps_errstr((unsigned long)err, msg, sizeof(msg)), posted, total, backoff);
  if (dead) udp__endgame(u);
}

ULONGLONG ps_udp_retry(ps_engine *e, ULONGLONG now) {
  ps_udp *u;
  ULONGLONG next = 0;
  AcquireSRWLockShared(&e->lock);
  for (u = e->udps; u != NULL; u = u->next) {
    int err = 0, scheduled = 0;
    unsigned i, backoff = 0, posted = 0;
    AcquireSRWLockExclusive(&u->lock);
    if (!u->closing && u->idle_count > 0 && ps_retry_take(&u->retry, now)) {
      for (i = 0; i < u->recv_count && err == 0; i++)
        if (u->recvs[i]->idle) err = udp__arm(u, u->recvs[i], now, &scheduled);
      if (u->idle_count == 0) ps_retry_reset(&u->retry);
      backoff = u->retry.backoff_ms;
      posted = u->recv_count - u->idle_count;
    }
    if (!u->closing && u->idle_count > 0) ps_retry_earliest(&u->retry, &next);
    ReleaseSRWLockExclusive(&u->lock);
    if (err != 0) udp__log_post_failure(u, err, backoff, posted);
  }
  ReleaseSRWLockShared(&e->lock);
  return next;
}

int ps_datagram_reply(ps_datagram *d, const void *data, size_t len) {
  ps_udp *u = d->u;
  ps_udp_send *op;
  WSABUF b;
  int err = 0, dropped = 0;
  if (udp__reply_refused(u->eng, d)) return -1;
  op = (ps_udp_send *)malloc(sizeof(*op) + (len ? len : 1));
  if (op == NULL) {
    InterlockedIncrement64(&u->eng->dgrams_dropped);
    return -1;
  }
  memset(op, 0, sizeof(*op));
  op->op.kind = PS_OP_UDP_SEND;
  op->u = u;
  memcpy(&op->to, &d->from, sizeof(op->to));
  op->to_len = d->from_len;
  if (len) memcpy(op->data, data, len);
  b.buf = op->data;
  b.len = (ULONG)len;
  AcquireSRWLockExclusive(&u->lock);
  if (u->closing || u->sends_in_flight >= PS_UDP_SENDS_MAX) {
    dropped = 1;
  } else {
    u->pending++;
    u->sends_in_flight++;
    if (WSASendTo(u->sock, &b, 1, NULL, 0, (const struct sockaddr *)&op->to, op->to_len, &op->op.ov, NULL) != 0) {
      err = WSAGetLastError();
      if (err == WSA_IO_PENDING) {
        err = 0;
      } else {
        u->pending--;
        u->sends_in_flight--;
        dropped = 1;
      }
    }
  }
  ReleaseSRWLockExclusive(&u->lock);
  if (dropped) {
    InterlockedIncrement64(&u->eng->dgrams_dropped);
    free(op);
    return -1;
  }
  return 0;
}

void *ps_datagram_context(ps_datagram *d) { return d->u->ctx; }

const struct sockaddr *ps_datagram_peer(const ps_datagram *d, int *len) {
  *len = d->from_len;
  return (const struct sockaddr *)&d->from;
}

void ps_udp_on_completion(ps_op *op, DWORD bytes, DWORD err) {
  if (op->kind == PS_OP_UDP_SEND) {
    ps_udp_send *s = ps_container_of(op, ps_udp_send, op);
    ps_udp *u = s->u;
    int dead;
    if (err == 0) {
      InterlockedIncrement64(&u->eng->dgrams_out);
      InterlockedAdd64(&u->eng->bytes_out, (LONG64)bytes);
    }
    free(s);
    AcquireSRWLockExclusive(&u->lock);
    u->pending--;
    u->sends_in_flight--;
    dead = u->closing && u->pending == 0;
    ReleaseSRWLockExclusive(&u->lock);
    if (dead) udp__endgame(u);
    return;
  } else {
    ps_datagram *d = ps_container_of(op, ps_datagram, op);
    ps_udp *u = d->u;
    if (err == 0) {
      InterlockedIncrement64(&u->eng->dgrams_in);
      InterlockedAdd64(&u->eng->bytes_in, (LONG64)bytes);
      if (u->handler->on_datagram != NULL && !udp__source_refused(u->eng, d))
        u->handler->on_datagram(d, d->data, bytes);
    } else if (err == WSAEMSGSIZE) {
      /* Larger than the receive buffer: dropped and counted, never fatal. */
      InterlockedIncrement64(&u->eng->dgrams_dropped);
    } else if (err != ERROR_OPERATION_ABORTED && err != WSAECONNRESET && err != WSAENETRESET) {
      char msg[160];
      ps_log_limited(&u->eng->warn[PS_WARN_UDP_RECV], PS_LOG_WARN, "udp %s: receive failed: %s", u->name,
                     ps_errstr(err, msg, sizeof(msg)));
    }
    udp__rearm(u, d);
  }
}

static void udp__close(ps_udp *u) {
  int dead;
  AcquireSRWLockExclusive(&u->lock);
  if (u->closing) {
    ReleaseSRWLockExclusive(&u->lock);
    return;
  }
  u->closing = 1;
  /* Aborts the posted receives and sends; their completions retire them. */
  CancelIoEx((HANDLE)u->sock, NULL);
  ps_sock_close(u->eng, &u->sock);
  dead = u->pending == 0;
  ReleaseSRWLockExclusive(&u->lock);
  if (dead) udp__endgame(u);
}

void ps_udp_close_all(ps_engine *e) {
  for (;;) {
    ps_udp *u;
    AcquireSRWLockExclusive(&e->lock);
    for (u = e->udps; u != NULL; u = u->next)
      if (!u->closing) break; /* only ever goes 0 -> 1; udp__close checks again */
    ReleaseSRWLockExclusive(&e->lock);
    if (u == NULL) return;
    udp__close(u);
  }
}

size_t ps_udp_endpoints(ps_engine *e, ps_endpoint *out, size_t max) {
  ps_udp *u;
  size_t n = 0;
  for (u = e->udps; u != NULL; u = u->next) {
    if (u->closing) continue;
    if (n < max) ps_endpoint_set(&out[n], u->service, &u->addr, PS_TRANSPORT_UDP);
    n++;
  }
  return n;
}

static ps_udp *udp__open(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx,
                         const struct addrinfo *ai) {
  char where[80], msg[160];
  const char *step;
  SOCKET s;
  DWORD err = 0, bytes = 0;
  BOOL off = FALSE;
  unsigned i, posted = 0;
  int scheduled = 0;
  ps_udp *u = NULL;
  SOCKADDR_STORAGE bound;

  ps_sockaddr_format(ai->ai_addr, where, sizeof(where));
  s = ps_sock_open_bound(e, ai, &bound, &step, &err);
  if (s == INVALID_SOCKET) goto fail;
  ps_sockaddr_format((const struct sockaddr *)&bound, where, sizeof(where));
  /* An ICMP port-unreachable caused by a reply to one peer must not fail the
   * next receive for everyone (Windows reports it as WSAECONNRESET). */
  if (WSAIoctl(s, SIO_UDP_CONNRESET, &off, (DWORD)sizeof(off), NULL, 0, &bytes, NULL, NULL) == 0)
    InterlockedIncrement64(&e->udp_connreset_off);
  else
    ps_log(PS_LOG_WARN, "udp %s: WSAIoctl(SIO_UDP_CONNRESET) failed: %s; port-unreachable errors are ignored instead",
           where, ps_errstr((unsigned long)WSAGetLastError(), msg, sizeof(msg)));
  step = "CreateIoCompletionPort";
  if (CreateIoCompletionPort((HANDLE)s, e->port, PS_KEY_IO, 0) == NULL) {
    err = GetLastError();
    goto fail;
  }

  step = "allocating the socket's receive buffers";
  u = (ps_udp *)calloc(1, sizeof(*u));
  if (u != NULL) u->recvs = (ps_datagram **)calloc(e->cfg.udp_receives, sizeof(*u->recvs));
  if (u == NULL || u->recvs == NULL) goto fail_mem;
  for (i = 0; i < e->cfg.udp_receives; i++) {
    u->recvs[i] = (ps_datagram *)calloc(1, sizeof(ps_datagram) + e->cfg.buffer_size);
    if (u->recvs[i] == NULL) goto fail_mem;
    u->recvs[i]->op.kind = PS_OP_UDP_RECV;
    u->recvs[i]->u = u;
    u->recv_count++;
  }
  u->eng = e;
  u->handler = h;
  u->ctx = ctx;
  snprintf(u->service, sizeof(u->service), "%s", spec->service);
  InitializeSRWLock(&u->lock);
  u->sock = s;
  u->family = ai->ai_family;
  memcpy(&u->addr, &bound, sizeof(bound));
  snprintf(u->name, sizeof(u->name), "%s", where);

  AcquireSRWLockExclusive(&e->lock);
  u->next = e->udps;
  e->udps = u;
  udp__mark_port(e, ntohs(ps_sockaddr_port(&u->addr)), 1);
  ReleaseSRWLockExclusive(&e->lock);
  InterlockedIncrement64(&e->live_listeners);

  AcquireSRWLockExclusive(&u->lock);
  for (i = 0; i < u->recv_count; i++) {
    int r = udp__arm(u, u->recvs[i], GetTickCount64(), &scheduled);
    if (r == 0) posted++;
    else err = (DWORD)r;
  }
  ReleaseSRWLockExclusive(&u->lock);
  if (posted == 0) {
    ps_log(PS_LOG_ERROR, "listen %s on %s/udp: WSARecvFrom failed: %s", spec->service, where,
           ps_errstr(err, msg, sizeof(msg)));
    udp__close(u);
    return NULL;
  }
  if (posted < u->recv_count) {
    ps_log(PS_LOG_WARN, "listen %s on %s/udp: only %u of %u receives posted: %s; retrying the others",
           spec->service, where, posted, u->recv_count, ps_errstr(err, msg, sizeof(msg)));
    if (scheduled) ps_engine__wake(e);
  }
  ps_log(PS_LOG_INFO, "listening on udp %s (%s)", where, spec->service);
  return u;

fail_mem:
  if (u != NULL) {
    for (i = 0; i < u->recv_count; i++) free(u->recvs[i]);
    free(u->recvs);
    free(u);
  }
  err = ERROR_NOT_ENOUGH_MEMORY;
  goto fail;
fail:
  ps_log(PS_LOG_ERROR, "listen %s on %s/udp: %s failed: %s", spec->service, where, step,
         ps_errstr(err, msg, sizeof(msg)));
  ps_sock_close(e, &s);
  return NULL;
}

typedef struct udp__open_arg {
  ps_engine *e;
  const ps_listen_spec *spec;
  const ps_handler *h;
  void *ctx;
} udp__open_arg;

static void *udp__open_one(void *arg, const struct addrinfo *ai, unsigned short *bound_port) {
  const udp__open_arg *a = (const udp__open_arg *)arg;
  ps_udp *u = udp__open(a->e, a->spec, a->h, a->ctx, ai);
  if (u != NULL) *bound_port = ps_sockaddr_port(&u->addr);
  return u;
}

static void udp__close_one(void *opened) { udp__close((ps_udp *)opened); }

int ps_udp_open_spec(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx, unsigned port) {
  udp__open_arg arg;
  ps_resolve_req req;
  unsigned bound_port;
  arg.e = e;
  arg.spec = spec;
  arg.h = h;
  arg.ctx = ctx;
  req.spec = spec;
  req.socktype = SOCK_DGRAM;
  req.protocol = IPPROTO_UDP;
  req.transport = "udp";
  req.port = port;
  req.open = udp__open_one;
  req.close = udp__close_one;
  req.arg = &arg;
  return ps_resolve_open(&req, &bound_port);
}
