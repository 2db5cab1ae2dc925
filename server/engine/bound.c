/* Bound sockets: the open, close, endgame and listing that TCP listeners and
 * UDP sockets share (see bound.h). */
#include "bound.h"

#include <stdio.h>
#include <string.h>

#include "ps_log.h"
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

size_t ps_bound_switch(ps_engine *e, const ps_listen_spec *from, const ps_listen_spec *to, const ps_handler *h,
                       void *ctx) {
  size_t switched = 0;
  ps_bound *b;
  AcquireSRWLockExclusive(&e->lock);
  for (b = e->bound; b != NULL; b = b->next) {
    ps_endpoint ep;
    ps_bound_stats *row, *old;
    if (b->closing || !ps_listen_spec_equal(&b->spec, from)) continue;
    /* The new service's row (stats_lock is innermost: taken under e->lock). */
    ps_endpoint_set(&ep, to->service, &b->addr, b->kind->transport);
    row = ps_engine__bound_stats(e, &ep);
    AcquireSRWLockExclusive(&b->lock);
    old = b->stats;
    b->handler = h;
    b->ctx = ctx;
    b->stats = row;
    b->spec = *to;
    snprintf(b->service, sizeof(b->service), "%s", to->service);
    ReleaseSRWLockExclusive(&b->lock);
    /* Rows are freed only with the engine: a completion that copied the
     * old one before the swap still counts into valid memory. */
    if (old != NULL) InterlockedDecrement64(&old->open);
    switched++;
  }
  ReleaseSRWLockExclusive(&e->lock);
  return switched;
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

int ps_bound_arm(ps_bound *b, unsigned i, ULONGLONG now, int *scheduled) {
  const ps_bound_kind *kind = b->kind;
  ps_bound_slot *slot = kind->slot(b, i);
  int err, resets = 0;
  for (;;) {
    if (b->closing) return WSAESHUTDOWN; /* the op is retired, not failed */
    err = kind->post(b, i);
    if (err == 0 || err == PS_BOUND_HELD) {
      if (slot->idle) b->idle_count--;
      slot->idle = 0;
      if (err == 0) {
        b->pending++;
        InterlockedIncrement64(&b->eng->stat[kind->posted_stat]);
      }
      return 0;
    }
    InterlockedIncrement64(&b->eng->stat[kind->error_stat]);
    ps_engine__count_error(b->eng, kind->error_site, (unsigned long)err);
    /* A reset concerns one peer that is gone: the next post may be fine. */
    if ((err != WSAECONNRESET && err != WSAENETRESET) || ++resets > PS_RETRY_IMMEDIATE) break;
  }
  if (!slot->idle) b->idle_count++;
  slot->idle = 1;
  if (ps_retry_schedule(&b->retry, now)) *scheduled = 1;
  return err;
}

/* The warning for a pool that could not be refilled (rate limited per kind). */
static void bound__log_post_failure(ps_engine *e, const ps_bound_kind *kind, const char *name, int err,
                                    unsigned backoff_ms, unsigned posted, unsigned total) {
  char msg[160];
  ps_log_limited(&e->warn[kind->warn], PS_LOG_WARN,
                 "%s %s: posting %s failed: %s; %u of %u %s posted, retrying in %u ms", kind->name, name,
                 kind->post_call, ps_errstr((unsigned long)err, msg, sizeof(msg)), posted, total, kind->pool_noun,
                 backoff_ms);
}

/* The rest of *r, once an op has been counted off (and maybe re-posted). */
static void bound__rearm_fill(ps_bound *b, ps_bound_rearm *r) {
  r->eng = b->eng;
  r->kind = b->kind;
  r->dead = b->closing && b->pending == 0;
  r->backoff_ms = b->retry.backoff_ms;
  r->total = b->kind->pool_size(b);
  r->posted = r->total - b->idle_count - b->held_count;
  memcpy(r->name, b->name, sizeof(r->name));
}

void ps_bound_rearm_locked(ps_bound *b, unsigned i, ps_bound_rearm *r) {
  b->pending--;
  InterlockedDecrement64(&b->eng->stat[b->kind->posted_stat]);
  r->scheduled = 0;
  r->err = b->closing ? 0 : ps_bound_arm(b, i, GetTickCount64(), &r->scheduled);
  bound__rearm_fill(b, r);
}

void ps_bound_retire_locked(ps_bound *b, ps_bound_rearm *r) {
  b->pending--;
  r->scheduled = 0;
  r->err = 0;
  bound__rearm_fill(b, r);
}

void ps_bound_rearm_done(ps_bound *b, const ps_bound_rearm *r) {
  if (r->scheduled) ps_engine__wake(r->eng);
  if (r->err != 0 && r->err != WSAESHUTDOWN)
    bound__log_post_failure(r->eng, r->kind, r->name, r->err, r->backoff_ms, r->posted, r->total);
  if (r->dead) ps_bound_endgame(b);
}

ULONGLONG ps_bound_retry(ps_engine *e, const ps_bound_kind *kind, ULONGLONG now) {
  ps_bound *b;
  ULONGLONG next = 0;
  AcquireSRWLockShared(&e->lock);
  for (b = e->bound; b != NULL; b = b->next) {
    int err = 0, scheduled = 0;
    unsigned backoff = 0, posted = 0, total = 0, i;
    if (b->kind != kind) continue;
    AcquireSRWLockExclusive(&b->lock);
    if (!b->closing && b->idle_count > 0 && ps_retry_take(&b->retry, now)) {
      total = kind->pool_size(b);
      for (i = 0; i < total && err == 0; i++)
        if (kind->slot(b, i)->idle) err = ps_bound_arm(b, i, now, &scheduled);
      if (b->idle_count == 0) ps_retry_reset(&b->retry); /* the pool is full again */
      backoff = b->retry.backoff_ms;
      posted = total - b->idle_count - b->held_count;
    }
    if (!b->closing && b->idle_count > 0) ps_retry_earliest(&b->retry, &next);
    ReleaseSRWLockExclusive(&b->lock);
    /* b cannot end while the engine lock is held (its endgame takes it). */
    if (err != 0 && err != WSAESHUTDOWN) bound__log_post_failure(e, kind, b->name, err, backoff, posted, total);
  }
  ReleaseSRWLockShared(&e->lock);
  return next;
}

/* Socket, bind, the kind's preparation, port, link, op pool for one
 * address. Returns the bound socket or NULL after logging why. */
static ps_bound *bound__open(ps_engine *e, const ps_bound_kind *kind, const ps_listen_spec *spec, const ps_handler *h,
                             void *ctx, const ps_resolved_addr *a) {
  char where[80], msg[160];
  const char *step = "";
  SOCKET s;
  DWORD err = 0;
  unsigned posted = 0, i;
  int scheduled = 0;
  ps_bound *b;
  SOCKADDR_STORAGE addr;

  ps_sockaddr_format((const struct sockaddr *)&a->addr, where, sizeof(where));
  s = ps_sock_open_bound(e, (const struct sockaddr *)&a->addr, a->len, kind->socktype, &addr, &step, &err);
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
  b->family = a->addr.ss_family;
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
    err = ps_sock_associate(e, s, b->skip_ok, &b->skipping);
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
  for (i = 0; i < kind->pool_size(b); i++) {
    int r = ps_bound_arm(b, i, GetTickCount64(), &scheduled);
    if (r == 0) posted++; /* posted, or held for a token: not a failure */
    else err = (DWORD)r;
  }
  ReleaseSRWLockExclusive(&b->lock);
  if (posted == 0) {
    ps_log_event(PS_LOG_ERROR, PS_EVENT_BIND_FAILED, "listen %s on %s/%s: %s failed: %s", spec->service, where,
                 kind->name, kind->post_call, ps_errstr(err, msg, sizeof(msg)));
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
  ps_log_event(PS_LOG_ERROR, PS_EVENT_BIND_FAILED, "listen %s on %s/%s: %s failed: %s", spec->service, where,
               kind->name, step, ps_errstr(err, msg, sizeof(msg)));
  ps_sock_close(e, &s);
  return NULL;
}

int ps_bound_open_spec(ps_engine *e, const ps_bound_kind *kind, const ps_listen_spec *spec, const ps_handler *h,
                       void *ctx, unsigned port, unsigned *port_out) {
  const char *shown = spec->host[0] ? spec->host : "(all addresses)";
  ps_resolved r;
  ps_bound *opened[PS_RESOLVE_MAX];
  size_t count = 0, i;
  unsigned chosen = port;
  char msg[160];
  int rc = ps_resolve_passive(spec->host, port, kind->socktype, &r);
  if (rc != 0) {
    ps_log_event(PS_LOG_ERROR, PS_EVENT_BIND_FAILED, "listen %s/%s: cannot resolve host '%s': %s", spec->service,
                 kind->name, shown, ps_errstr((unsigned long)rc, msg, sizeof(msg)));
    return -1;
  }
  if (r.truncated)
    ps_log(PS_LOG_WARN, "listen %s/%s: '%s' resolves to more than %d addresses; the rest are ignored", spec->service,
           kind->name, shown, PS_RESOLVE_MAX);
  for (i = 0; i < r.count; i++) {
    ps_bound *b;
    /* Port 0: every further address gets the port the first was given. */
    if (chosen != 0) ps_resolved_set_port(&r.addrs[i], chosen);
    b = bound__open(e, kind, spec, h, ctx, &r.addrs[i]);
    if (b == NULL) {
      if (spec->optional) continue;
      while (count > 0) ps_bound_close(opened[--count]);
      return -1;
    }
    opened[count++] = b;
    if (chosen == 0) chosen = ntohs(ps_sockaddr_port(&b->addr));
  }
  if (count == 0) {
    ps_log_event(PS_LOG_ERROR, PS_EVENT_BIND_FAILED, "listen %s/%s: no address of '%s' could be opened", spec->service,
                 kind->name, shown);
    return -1;
  }
  *port_out = chosen;
  return 0;
}
