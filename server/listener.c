/* Listening sockets and their AcceptEx pools.
 *
 * Concurrency rule: a listener's socket, `closing` flag and `pending` count
 * change only under l->lock, so a worker re-posting an AcceptEx can never use
 * a socket that ps_listener_close_all has just closed (or whose handle value
 * was reused). The listener is freed in listener__endgame by whoever sees
 * closing set and pending at zero, under the lock.
 *
 * A slot whose AcceptEx cannot be posted is not dropped: it is re-posted at
 * once when AcceptEx says WSAECONNRESET (a connection in the backlog was
 * reset before it was accepted; the next one may be fine), a few times, and
 * otherwise (out of sockets, buffers, memory) it is marked idle and
 * ps_listener_retry, on the housekeeping thread, re-posts the listener's
 * idle slots with exponential backoff (100 ms doubling to 5 s). So the pool
 * is back to --accepts once resources return (docs/design.md, "Resource
 * errors"); accepts_posted shows its size.
 *
 * Connection limit (docs/design.md, "Connection limits"): every posted
 * AcceptEx holds one of cfg.max_connections admission tokens
 * (ps_engine__admit), which passes to the connection it accepts and comes
 * back when that connection ends. A slot that finds no token is held: not
 * posted, so clients wait in the listen backlog instead of being accepted
 * and reset, and ps_listener_resume posts held slots again (listeners with
 * nothing posted first) as tokens come back.
 *
 * The listening socket does not use skip-on-success: every AcceptEx
 * completion comes through the port, which keeps the accept path one shape.
 * Accepted sockets do, when the provider returns IFS handles. */
#include "listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "resolve.h"
#include "sock.h"
#include "wsx.h"

/* AcceptEx wants room for each address plus 16 bytes. */
#define PS_ACCEPT_ADDR_LEN ((DWORD)sizeof(SOCKADDR_STORAGE) + 16)

typedef struct ps_accept_op {
  ps_op op;
  ps_listener *l;
  SOCKET sock; /* the socket the next connection is accepted into */
  int idle;    /* not posted: waiting for ps_listener_retry */
  int held;    /* not posted: waiting for an admission token (ps_listener_resume) */
  char addrs[2 * PS_ACCEPT_ADDR_LEN];
} ps_accept_op;

struct ps_listener {
  ps_engine *eng;
  ps_listener *next; /* engine->listeners (engine lock) */
  const ps_handler *handler;
  void *ctx; /* service context */
  char service[PS_SERVICE_NAME_MAX];
  SRWLOCK lock;
  SOCKET sock;
  int family;
  SOCKADDR_STORAGE addr; /* as bound (port filled in) */
  char name[80];         /* "127.0.0.1:7007", for log lines */
  ps_wsx wsx;
  int ifs;               /* accepted sockets may skip the port on success */
  int closing;
  unsigned pending;      /* AcceptEx posted and not completed */
  unsigned idle_count;   /* slots not posted, waiting for a retry */
  unsigned held_count;   /* slots not posted, waiting for an admission token */
  ps_retry retry;        /* when ps_listener_retry re-posts the idle slots */
  unsigned op_count;
  ps_accept_op *ops;
};

static void listener__endgame(ps_listener *l) {
  ps_engine *e = l->eng;
  ps_listener **pp;
  AcquireSRWLockExclusive(&e->lock);
  for (pp = &e->listeners; *pp != NULL; pp = &(*pp)->next)
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  ReleaseSRWLockExclusive(&e->lock);
  free(l->ops);
  free(l);
  InterlockedDecrement64(&e->live_listeners);
  ps_engine__signal(e);
}

/* Posts one AcceptEx (lock held), taking an admission token for it. 0, a
 * WSA error (the op stays idle), or PS_LISTENER_NO_TOKEN. */
#define PS_LISTENER_NO_TOKEN (-1)
static int listener__post_accept(ps_listener *l, ps_accept_op *op) {
  DWORD bytes = 0, err = 0, fault;
  if (l->closing) return WSAESHUTDOWN;
  if (!ps_engine__admit(l->eng)) return PS_LISTENER_NO_TOKEN;
  op->sock = ps_sock_open(l->eng, l->family, SOCK_STREAM, IPPROTO_TCP, &err);
  if (op->sock == INVALID_SOCKET) {
    ps_engine__unadmit(l->eng, 0);
    return (int)err;
  }
  memset(&op->op.ov, 0, sizeof(op->op.ov));
  fault = ps_fault_hit(l->eng->cfg.faults, PS_FAULT_ACCEPTEX);
  if (fault != 0) {
    ps_sock_close(l->eng, &op->sock);
    ps_engine__unadmit(l->eng, 0);
    return (int)fault;
  }
  l->pending++;
  /* No receive data with the accept (dwReceiveDataLength 0): a client that
   * connects and sends nothing must not hold an accept slot. */
  if (!l->wsx.accept_ex(l->sock, op->sock, op->addrs, 0, PS_ACCEPT_ADDR_LEN, PS_ACCEPT_ADDR_LEN, &bytes,
                        &op->op.ov)) {
    int wsa = WSAGetLastError();
    if (wsa != ERROR_IO_PENDING) {
      l->pending--;
      ps_sock_close(l->eng, &op->sock);
      /* No resume here: this listener's lock is held, and resume takes
       * listeners' locks. The slot goes idle and its retry takes a token. */
      ps_engine__unadmit(l->eng, 0);
      return wsa;
    }
  }
  /* TRUE (completed at once) still queues a packet: the listening socket
   * does not skip the port. */
  InterlockedIncrement64(&l->eng->accepts_posted);
  return 0;
}

/* Posts op, or leaves it idle for ps_listener_retry (lock held). 0 if
 * posted, else the last error; *scheduled is set when this scheduled the
 * listener's next retry (the caller wakes the housekeeper and logs). */
static int listener__arm(ps_listener *l, ps_accept_op *op, ULONGLONG now, int *scheduled) {
  int err, resets = 0;
  for (;;) {
    err = listener__post_accept(l, op);
    if (err == PS_LISTENER_NO_TOKEN && !op->held) {
      /* Hold the slot, then look again: a token given back between the
       * first look and accepts_held rising would otherwise find no held
       * slot to resume (ps_engine__unadmit reads accepts_held after it). */
      if (op->idle) l->idle_count--; /* waiting for a token now, not for a retry */
      op->idle = 0;
      op->held = 1;
      l->held_count++;
      InterlockedIncrement64(&l->eng->accepts_held);
      InterlockedIncrement64(&l->eng->limit_waits);
      continue;
    }
    if (err == PS_LISTENER_NO_TOKEN) return 0; /* held: not an error */
    if (op->held) {
      op->held = 0;
      l->held_count--;
      InterlockedDecrement64(&l->eng->accepts_held);
    }
    if (err == 0) {
      if (op->idle) l->idle_count--;
      op->idle = 0;
      return 0;
    }
    if (err == WSAESHUTDOWN) return err; /* closing: the slot is retired */
    InterlockedIncrement64(&l->eng->accept_errors);
    /* "If the error is WSAECONNRESET, an incoming connection was indicated,
     * but was subsequently terminated by the remote peer prior to accepting
     * the call" (AcceptEx): that peer is gone, the next may be fine. */
    if (err != WSAECONNRESET || ++resets > PS_RETRY_IMMEDIATE) break;
  }
  if (!op->idle) l->idle_count++;
  op->idle = 1;
  if (ps_retry_schedule(&l->retry, now)) *scheduled = 1;
  return err;
}

static void listener__log_post_failure(ps_listener *l, int err, unsigned backoff_ms, unsigned posted) {
  char msg[160];
  ps_log_limited(&l->eng->warn[PS_WARN_ACCEPT_POST], PS_LOG_WARN,
                 "accept on %s: posting AcceptEx failed: %s; %u of %u accepts posted, retrying in %u ms", l->name,
                 ps_errstr((unsigned long)err, msg, sizeof(msg)), posted, l->op_count, backoff_ms);
}

ULONGLONG ps_listener_retry(ps_engine *e, ULONGLONG now) {
  ps_listener *l;
  ULONGLONG next = 0;
  AcquireSRWLockShared(&e->lock);
  for (l = e->listeners; l != NULL; l = l->next) {
    int err = 0, scheduled = 0;
    unsigned i, backoff = 0, posted = 0;
    AcquireSRWLockExclusive(&l->lock);
    if (!l->closing && l->idle_count > 0 && ps_retry_take(&l->retry, now)) {
      for (i = 0; i < l->op_count && err == 0; i++)
        if (l->ops[i].idle) err = listener__arm(l, &l->ops[i], now, &scheduled);
      if (l->idle_count == 0) ps_retry_reset(&l->retry); /* the pool is full again */
      backoff = l->retry.backoff_ms;
      posted = l->op_count - l->idle_count;
    }
    if (!l->closing && l->idle_count > 0) ps_retry_earliest(&l->retry, &next);
    ReleaseSRWLockExclusive(&l->lock);
    if (err != 0 && err != WSAESHUTDOWN) listener__log_post_failure(l, err, backoff, posted);
  }
  ReleaseSRWLockShared(&e->lock);
  return next;
}

void ps_listener_resume(ps_engine *e) {
  int pass, out_of_tokens = 0;
  unsigned n = 0, start, k;
  ps_listener *l;
  /* First the listeners with nothing posted (their clients wait for sure),
   * then any with a held slot; each time starting one listener further on,
   * so a listener that keeps winning the first look cannot starve the
   * others. Locks: the engine's (shared), then one listener's at a time, as
   * ps_listener_retry. */
  AcquireSRWLockShared(&e->lock);
  for (l = e->listeners; l != NULL; l = l->next) n++;
  start = n > 0 ? (unsigned)InterlockedIncrement(&e->resume_turn) % n : 0;
  for (pass = 0; pass < 2 && !out_of_tokens; pass++) {
    for (k = 0; k < n && !out_of_tokens; k++) {
      unsigned i, skip = (start + k) % n;
      int scheduled = 0;
      for (l = e->listeners; skip > 0; skip--) l = l->next;
      AcquireSRWLockExclusive(&l->lock);
      if (!l->closing && l->held_count > 0 && (pass == 1 || l->pending == 0)) {
        for (i = 0; i < l->op_count && l->held_count > 0; i++) {
          ps_accept_op *op = &l->ops[i];
          if (!op->held) continue;
          listener__arm(l, op, GetTickCount64(), &scheduled);
          if (op->held) {
            out_of_tokens = 1;
            break;
          }
          if (pass == 0) break; /* one each first: spread the tokens */
        }
      }
      ReleaseSRWLockExclusive(&l->lock);
      if (scheduled) ps_engine__wake(e);
    }
  }
  ReleaseSRWLockShared(&e->lock);
}

void ps_listener_on_completion(ps_op *op_base, DWORD bytes, DWORD err, ps_worker *w) {
  ps_accept_op *op = ps_container_of(op_base, ps_accept_op, op);
  ps_listener *l = op->l;
  ps_engine *e = l->eng;
  SOCKET accepted = INVALID_SOCKET;
  SOCKADDR_STORAGE peer;
  const ps_handler *handler;
  void *ctx;
  int ifs, dead, closing, released = 0, repost_err = 0, scheduled = 0;
  unsigned backoff = 0, posted = 0, op_count;
  char name[sizeof(l->name)], msg[160];
  PS_UNUSED(bytes);

  memset(&peer, 0, sizeof(peer));
  AcquireSRWLockExclusive(&l->lock);
  l->pending--;
  InterlockedDecrement64(&e->accepts_posted);
  /* Copied under the lock: once it is released and this op re-posted (or
   * not), a concurrent close may end the listener and free it. */
  handler = l->handler;
  ctx = l->ctx;
  ifs = l->ifs;
  op_count = l->op_count;
  memcpy(name, l->name, sizeof(name));
  if (err == 0 && !l->closing) {
    struct sockaddr *local = NULL, *remote = NULL;
    int local_len = 0, remote_len = 0;
    /* Gives the accepted socket the listener's properties, so getpeername,
     * shutdown and SO_* work on it. */
    if (setsockopt(op->sock, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&l->sock,
                   (int)sizeof(l->sock)) != 0) {
      ps_log_limited(&e->warn[PS_WARN_ACCEPT_CTX], PS_LOG_WARN, "accept on %s: SO_UPDATE_ACCEPT_CONTEXT failed: %s",
                     l->name, ps_errstr((unsigned long)WSAGetLastError(), msg, sizeof(msg)));
    }
    l->wsx.get_accept_ex_sockaddrs(op->addrs, 0, PS_ACCEPT_ADDR_LEN, PS_ACCEPT_ADDR_LEN, &local, &local_len,
                                   &remote, &remote_len);
    if (remote != NULL && remote_len > 0 && (size_t)remote_len <= sizeof(peer)) memcpy(&peer, remote, (size_t)remote_len);
    else peer.ss_family = (ADDRESS_FAMILY)l->family;
    accepted = op->sock; /* its admission token goes with it */
    op->sock = INVALID_SOCKET;
  } else {
    /* Aborted by our own close, or the client reset before the accept
     * finished: either way the slot is re-armed (with a new token). */
    ps_sock_close(e, &op->sock);
    ps_engine__unadmit(e, 0);
    released = 1;
  }
  /* Re-armed before the new connection is handled; a slot that cannot be
   * posted now waits for the housekeeper's retry, it is never dropped. */
  if (!l->closing) repost_err = listener__arm(l, op, GetTickCount64(), &scheduled);
  backoff = l->retry.backoff_ms;
  posted = op_count - l->idle_count - l->held_count;
  closing = l->closing;
  dead = closing && l->pending == 0;
  ReleaseSRWLockExclusive(&l->lock);

  /* A token this slot gave back and did not take again may be another
   * listener's turn. */
  if (released && closing && e->accepts_held > 0) ps_listener_resume(e);
  if (err != 0 && err != ERROR_OPERATION_ABORTED && !dead)
    ps_log(PS_LOG_DEBUG, "accept on %s: %s", name, ps_errstr(err, msg, sizeof(msg)));
  if (scheduled) ps_engine__wake(e);
  if (repost_err != 0 && repost_err != WSAESHUTDOWN) {
    ps_log_limited(&e->warn[PS_WARN_ACCEPT_POST], PS_LOG_WARN,
                   "accept on %s: posting AcceptEx failed: %s; %u of %u accepts posted, retrying in %u ms", name,
                   ps_errstr((unsigned long)repost_err, msg, sizeof(msg)), posted, op_count, backoff);
  }
  if (accepted != INVALID_SOCKET) ps_conn_accepted(e, handler, ctx, accepted, (const struct sockaddr *)&peer, ifs, w);
  if (dead) listener__endgame(l);
}

static void listener__close(ps_listener *l) {
  int dead;
  AcquireSRWLockExclusive(&l->lock);
  if (l->closing) {
    ReleaseSRWLockExclusive(&l->lock);
    return;
  }
  l->closing = 1;
  /* Held slots have no AcceptEx to abort: they simply end. */
  InterlockedAdd64(&l->eng->accepts_held, -(LONG64)l->held_count);
  l->held_count = 0;
  /* Closing the listening socket aborts its pending AcceptEx; each completes
   * through the port and closes its own accept socket. */
  ps_sock_close(l->eng, &l->sock);
  dead = l->pending == 0;
  ReleaseSRWLockExclusive(&l->lock);
  if (dead) listener__endgame(l);
}

void ps_listener_close_all(ps_engine *e) {
  for (;;) {
    ps_listener *l;
    AcquireSRWLockExclusive(&e->lock);
    for (l = e->listeners; l != NULL; l = l->next) {
      /* closing is read without l->lock: it only ever goes 0 -> 1, and
       * listener__close checks it again under the lock. */
      if (!l->closing) break;
    }
    ReleaseSRWLockExclusive(&e->lock);
    if (l == NULL) return;
    listener__close(l);
  }
}

size_t ps_listener_endpoints(ps_engine *e, ps_endpoint *out, size_t max) {
  ps_listener *l;
  size_t n = 0;
  for (l = e->listeners; l != NULL; l = l->next) {
    if (l->closing) continue;
    if (n < max) ps_endpoint_set(&out[n], l->service, &l->addr, PS_TRANSPORT_TCP);
    n++;
  }
  return n;
}

/* Socket, options, bind, listen, port, AcceptEx pool for one address.
 * Returns the listener or NULL after logging why. */
static ps_listener *listener__open(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx,
                                   const struct addrinfo *ai) {
  char where[80], msg[160];
  const char *step;
  SOCKET s;
  DWORD err = 0;
  int posted = 0, ifs, scheduled = 0;
  unsigned i;
  ps_wsx wsx;
  ps_listener *l;
  SOCKADDR_STORAGE bound;

  ps_sockaddr_format(ai->ai_addr, where, sizeof(where));
  s = ps_sock_open_bound(e, ai, &bound, &step, &err);
  if (s == INVALID_SOCKET) goto fail;
  ps_sockaddr_format((const struct sockaddr *)&bound, where, sizeof(where));
  step = "listen";
  if (listen(s, SOMAXCONN) != 0) goto fail_wsa;
  step = "WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)";
  err = (DWORD)ps_wsx_load(s, &wsx);
  if (err != 0) goto fail;
  ifs = ps_sock_is_ifs(s);
  step = "CreateIoCompletionPort";
  if (CreateIoCompletionPort((HANDLE)s, e->port, PS_KEY_IO, 0) == NULL) {
    err = GetLastError();
    goto fail;
  }

  step = "allocating the listener";
  l = (ps_listener *)calloc(1, sizeof(*l));
  if (l != NULL) l->ops = (ps_accept_op *)calloc(e->cfg.accepts, sizeof(*l->ops));
  if (l == NULL || l->ops == NULL) {
    free(l);
    err = ERROR_NOT_ENOUGH_MEMORY;
    goto fail;
  }
  l->eng = e;
  l->handler = h;
  l->ctx = ctx;
  snprintf(l->service, sizeof(l->service), "%s", spec->service);
  InitializeSRWLock(&l->lock);
  l->sock = s;
  l->family = ai->ai_family;
  memcpy(&l->addr, &bound, sizeof(bound));
  snprintf(l->name, sizeof(l->name), "%s", where);
  l->wsx = wsx;
  l->ifs = ifs;
  l->op_count = e->cfg.accepts;

  AcquireSRWLockExclusive(&e->lock);
  l->next = e->listeners;
  e->listeners = l;
  ReleaseSRWLockExclusive(&e->lock);
  InterlockedIncrement64(&e->live_listeners);

  AcquireSRWLockExclusive(&l->lock);
  for (i = 0; i < l->op_count; i++) {
    int r;
    l->ops[i].op.kind = PS_OP_ACCEPT;
    l->ops[i].l = l;
    l->ops[i].sock = INVALID_SOCKET;
    r = listener__arm(l, &l->ops[i], GetTickCount64(), &scheduled);
    if (r == 0 && !l->ops[i].held) posted++;
    else err = (DWORD)r;
  }
  ReleaseSRWLockExclusive(&l->lock);
  if (posted == 0 && l->held_count == 0) {
    ps_log(PS_LOG_ERROR, "listen %s on %s/tcp: AcceptEx failed: %s", spec->service, where,
           ps_errstr(err, msg, sizeof(msg)));
    listener__close(l);
    return NULL;
  }
  if ((unsigned)posted + l->held_count < l->op_count) {
    ps_log(PS_LOG_WARN, "listen %s on %s/tcp: only %d of %u accepts posted: %s; retrying the others", spec->service,
           where, posted, l->op_count, ps_errstr(err, msg, sizeof(msg)));
    if (scheduled) ps_engine__wake(e);
  }
  ps_log(PS_LOG_INFO, "listening on tcp %s (%s)%s", where, spec->service,
         ifs && e->cfg.skip_on_success ? "" : " [no skip-on-success: non-IFS provider]");
  return l;

fail_wsa:
  err = (DWORD)WSAGetLastError();
fail:
  ps_log(PS_LOG_ERROR, "listen %s on %s/tcp: %s failed: %s", spec->service, where, step,
         ps_errstr(err, msg, sizeof(msg)));
  ps_sock_close(e, &s);
  return NULL;
}

typedef struct listener__open_arg {
  ps_engine *e;
  const ps_listen_spec *spec;
  const ps_handler *h;
  void *ctx;
} listener__open_arg;

static void *listener__open_one(void *arg, const struct addrinfo *ai, unsigned short *bound_port) {
  const listener__open_arg *a = (const listener__open_arg *)arg;
  ps_listener *l = listener__open(a->e, a->spec, a->h, a->ctx, ai);
  if (l != NULL) *bound_port = ps_sockaddr_port(&l->addr);
  return l;
}

static void listener__close_one(void *opened) { listener__close((ps_listener *)opened); }

int ps_listener_open_spec(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx,
                          unsigned *port_out) {
  listener__open_arg arg;
  ps_resolve_req req;
  arg.e = e;
  arg.spec = spec;
  arg.h = h;
  arg.ctx = ctx;
  req.spec = spec;
  req.socktype = SOCK_STREAM;
  req.protocol = IPPROTO_TCP;
  req.transport = "tcp";
  req.port = spec->port;
  req.open = listener__open_one;
  req.close = listener__close_one;
  req.arg = &arg;
  return ps_resolve_open(&req, port_out);
}
