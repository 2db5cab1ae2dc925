/* Bound sockets: the open, close, endgame and listing that TCP listeners and
 * UDP sockets share (see bound.h). */
#include "bound.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "resolve.h"
#include "sock.h"

void ps_bound_endgame(ps_bound *b) {
  ps_engine *e = b->eng;
  ps_bound **pp;
  AcquireSRWLockExclusive(&e->lock);
  for (pp = &e->bound; *pp != NULL; pp = &(*pp)->next)
    if (*pp == b) {
      *pp = b->next;
      break;
    }
  if (b->kind->linked != NULL) b->kind->linked(b, 0);
  ReleaseSRWLockExclusive(&e->lock);
  if (b->stats != NULL) InterlockedDecrement64(&b->stats->open);
  b->kind->destroy(b);
  InterlockedDecrement64(&e->live_listeners);
  ps_engine__signal(e);
}

void ps_bound_close(ps_bound *b) {
  int dead;
  AcquireSRWLockExclusive(&b->lock);
  if (b->closing) {
    ReleaseSRWLockExclusive(&b->lock);
    return;
  }
  b->closing = 1;
  if (b->kind->closing != NULL) b->kind->closing(b);
  /* Closing the socket aborts its pending ops; each completes through the
   * port and retires itself (the last one ends the bound socket). */
  ps_sock_close(b->eng, &b->sock);
  dead = b->pending == 0;
  ReleaseSRWLockExclusive(&b->lock);
  if (dead) ps_bound_endgame(b);
}

size_t ps_bound_close_all(ps_engine *e, const ps_listen_spec *spec) {
  size_t closed = 0;
  for (;; closed++) {
    ps_bound *b;
    AcquireSRWLockExclusive(&e->lock);
    /* closing is read without b->lock: it only ever goes 0 -> 1, and
     * ps_bound_close checks it again under the lock. */
    for (b = e->bound; b != NULL; b = b->next)
      if (!b->closing && (spec == NULL || ps_listen_spec_equal(&b->spec, spec))) break;
    ReleaseSRWLockExclusive(&e->lock);
    if (b == NULL) return closed;
    ps_bound_close(b);
  }
}

size_t ps_bound_endpoints(ps_engine *e, ps_endpoint *out, size_t max) {
  ps_bound *b;
  size_t n = 0;
  for (b = e->bound; b != NULL; b = b->next) {
    if (b->closing) continue;
    if (n < max) ps_endpoint_set(&out[n], b->service, &b->addr, b->kind->transport);
    n++;
  }
  return n;
}

ULONGLONG ps_bound_retry(ps_engine *e, const ps_bound_kind *kind, ULONGLONG now,
                         int (*rearm)(ps_bound *b, ULONGLONG now, int *scheduled),
                         void (*log_failure)(ps_bound *b, int err, unsigned backoff_ms, unsigned posted)) {
  ps_bound *b;
  ULONGLONG next = 0;
  AcquireSRWLockShared(&e->lock);
  for (b = e->bound; b != NULL; b = b->next) {
    int err = 0, scheduled = 0;
    unsigned backoff = 0, posted = 0;
    if (b->kind != kind) continue;
    AcquireSRWLockExclusive(&b->lock);
    if (!b->closing && b->idle_count > 0 && ps_retry_take(&b->retry, now)) {
      err = rearm(b, now, &scheduled);
      if (b->idle_count == 0) ps_retry_reset(&b->retry); /* the pool is full again */
      backoff = b->retry.backoff_ms;
      posted = kind->pool_size(b) - b->idle_count;
    }
    if (!b->closing && b->idle_count > 0) ps_retry_earliest(&b->retry, &next);
    ReleaseSRWLockExclusive(&b->lock);
    /* b cannot end while the engine lock is held (its endgame takes it). */
    if (err != 0 && err != WSAESHUTDOWN) log_failure(b, err, backoff, posted);
  }
  ReleaseSRWLockShared(&e->lock);
  return next;
}

/* Socket, bind, the kind's preparation, port, link, op pool for one
 * address. Returns the bound socket or NULL after logging why. */
static ps_bound *bound__open(ps_engine *e, const ps_bound_kind *kind, const ps_listen_spec *spec, const ps_handler *h,
                             void *ctx, const struct addrinfo *ai) {
  char where[80], msg[160];
  const char *step = "";
  SOCKET s;
  DWORD err = 0;
  unsigned posted;
  int scheduled = 0;
  ps_bound *b;
  SOCKADDR_STORAGE addr;

  ps_sockaddr_format(ai->ai_addr, where, sizeof(where));
  s = ps_sock_open_bound(e, ai, &addr, &step, &err);
  if (s == INVALID_SOCKET) goto fail;
  ps_sockaddr_format((const struct sockaddr *)&addr, where, sizeof(where));

  step = "allocating the socket's operations";
  b = kind->create(e);
  if (b == NULL) {
    err = ERROR_NOT_ENOUGH_MEMORY;
    goto fail;
  }
  b->kind = kind;
  b->eng = e;
  b->handler = h;
  b->ctx = ctx;
  snprintf(b->service, sizeof(b->service), "%s", spec->service);
  b->spec = *spec;
  InitializeSRWLock(&b->lock);
  b->sock = s;
  b->family = ai->ai_family;
  memcpy(&b->addr, &addr, sizeof(addr));
  snprintf(b->name, sizeof(b->name), "%s", where);

  {
    ps_endpoint ep;
    ps_endpoint_set(&ep, spec->service, &addr, kind->transport);
    b->stats = ps_engine__bound_stats(e, &ep);
  }
  err = kind->prepare(b, &step);
  if (err == 0) {
    step = "CreateIoCompletionPort";
    if (CreateIoCompletionPort((HANDLE)s, e->port, PS_KEY_IO, 0) == NULL) err = GetLastError();
  }
  if (err != 0) {
    if (b->stats != NULL) InterlockedDecrement64(&b->stats->open);
    kind->destroy(b);
    goto fail;
  }

  AcquireSRWLockExclusive(&e->lock);
  b->next = e->bound;
  e->bound = b;
  if (kind->linked != NULL) kind->linked(b, 1);
  ReleaseSRWLockExclusive(&e->lock);
  InterlockedIncrement64(&e->live_listeners);

  AcquireSRWLockExclusive(&b->lock);
  posted = kind->arm_all(b, &err, &scheduled);
  ReleaseSRWLockExclusive(&b->lock);
  if (posted == 0) {
    ps_log(PS_LOG_ERROR, "listen %s on %s/%s: %s failed: %s", spec->service, where, kind->name, kind->post_call,
           ps_errstr(err, msg, sizeof(msg)));
    ps_bound_close(b);
    return NULL;
  }
  if (posted < kind->pool_size(b)) {
    ps_log(PS_LOG_WARN, "listen %s on %s/%s: only %u of %u %s posted: %s; retrying the others", spec->service, where,
           kind->name, posted, kind->pool_size(b), kind->post_call, ps_errstr(err, msg, sizeof(msg)));
    if (scheduled) ps_engine__wake(e);
  }
  ps_log(PS_LOG_INFO, "listening on %s %s (%s)%s", kind->name, where, spec->service,
         kind->note != NULL ? kind->note(b) : "");
  return b;

fail:
  ps_log(PS_LOG_ERROR, "listen %s on %s/%s: %s failed: %s", spec->service, where, kind->name, step,
         ps_errstr(err, msg, sizeof(msg)));
  ps_sock_close(e, &s);
  return NULL;
}

typedef struct bound__open_arg {
  ps_engine *e;
  const ps_bound_kind *kind;
  const ps_listen_spec *spec;
  const ps_handler *h;
  void *ctx;
} bound__open_arg;

static void *bound__open_one(void *arg, const struct addrinfo *ai, unsigned short *bound_port) {
  const bound__open_arg *a = (const bound__open_arg *)arg;
  ps_bound *b = bound__open(a->e, a->kind, a->spec, a->h, a->ctx, ai);
  if (b != NULL) *bound_port = ps_sockaddr_port(&b->addr);
  return b;
}

static void bound__close_one(void *opened) { ps_bound_close((ps_bound *)opened); }

int ps_bound_open_spec(ps_engine *e, const ps_bound_kind *kind, const ps_listen_spec *spec, const ps_handler *h,
                       void *ctx, unsigned port, unsigned *port_out) {
  bound__open_arg arg;
  ps_resolve_req req;
  arg.e = e;
  arg.kind = kind;
  arg.spec = spec;
  arg.h = h;
  arg.ctx = ctx;
  req.spec = spec;
  req.socktype = kind->socktype;
  req.protocol = kind->protocol;
  req.transport = kind->name;
  req.port = port;
  req.open = bound__open_one;
  req.close = bound__close_one;
  req.arg = &arg;
  return ps_resolve_open(&req, port_out);
}
