/* What a TCP listener adds to the bound-socket base (bound.c): the
 * AcceptEx pool and its completion, and held slots (the connection limit).
 * Opening, arming with retry, closing and the endgame are the base's.
 *
 * Concurrency rule: a listener's socket, `closing` flag and `pending` count
 * change only under l->b.lock (bound.h), so a worker re-posting an AcceptEx
 * can never use a socket that ps_bound_close has just closed (or whose
 * handle value was reused). The listener is freed in ps_bound_endgame by
 * whoever sees closing set and pending at zero, under the lock.
 *
 * A slot whose AcceptEx cannot be posted is not dropped: it is re-posted at
 * once when AcceptEx says WSAECONNRESET (a connection in the backlog was
 * reset before it was accepted; the next one may be fine), a few times, and
 * otherwise (out of sockets, buffers, memory) it is marked idle and
 * ps_listener_retry (ps_bound_retry), on the housekeeping thread, re-posts
 * the listener's idle slots with exponential backoff (100 ms doubling to
 * 5 s). So the pool is back to full size (cfg.accepts) once resources
 * return (docs/design.md, "Resource errors"); accepts_posted shows its size.
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
 * Accepted sockets do, when the provider returns IFS handles.
 *
 * Accepting with the first bytes (docs/design.md, "Accepting with the first
 * bytes"): for a service whose clients speak first (PS_HANDLER_CLIENT_FIRST)
 * AcceptEx is posted with a receive of PS_ACCEPT_DATA_LEN bytes, so the
 * connection arrives with its first message and needs no first read. Such an
 * accept holds a connected client until it sends, which Windows warns about
 * (a client that connects and says nothing would keep the slot): every
 * sweep ps_listener_sweep asks SO_CONNECT_TIME of each posted one, and an
 * accept whose client has been connected and silent for a second leaves
 * the pool for the listener's `waiting` list (it stays posted, and becomes
 * a connection when its client speaks), a new accept takes its slot, and
 * the listener posts plain accepts (no receive: the zero-byte first read of
 * conn.c instead) for the next PS_ACCEPT_PLAIN_MS. A waiting client closed
 * for nothing but --idle-timeout, as an idle connection would be; at a
 * stop, its socket is closed with the listener's. */
#include "listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bound.h"
#include "conn.h"
#include "ps_log.h"
#include "sock.h"
#include "wsx.h"

/* AcceptEx wants room for each address plus 16 bytes: "at least 16 bytes
 * more than the maximum address length for the transport protocol in use",
 * which for TCP is an IPv6 address. */
#define PS_ACCEPT_ADDR_LEN ((DWORD)sizeof(SOCKADDR_IN6) + 16)
/* How long a listener whose client stayed silent posts plain accepts. */
#define PS_ACCEPT_PLAIN_MS 10000

typedef struct ps_accept_op {
  ps_op op;
  ps_listener *l;
  SOCKET sock;                      /* the socket the next connection is accepted into */
  ps_bound_slot slot;               /* idle: not posted, waiting for the housekeeper's retry */
  int held;                         /* not posted: waiting for an admission token (ps_listener_resume) */
  unsigned index;                   /* its slot in l->ops; no slot once it is waiting */
  DWORD recv_len;                   /* the receive posted with it: 0 or PS_ACCEPT_DATA_LEN */
  int waiting;                      /* out of the pool, its client silent (l->waiting) */
  ULONGLONG connected_ms;           /* waiting: when its client connected */
  struct ps_accept_op *prev, *next; /* l->waiting */
  /* The client's first bytes (recv_len of them), then the two addresses. */
  char buf[PS_ACCEPT_DATA_LEN + 2 * PS_ACCEPT_ADDR_LEN];
} ps_accept_op;

struct ps_listener {
  ps_bound b; /* first: the socket, lock, pending, retry, held slots (bound.h) */
  ps_wsx wsx;
  int ifs; /* accepted sockets may skip the port on success */
  unsigned op_count;
  ps_accept_op **ops;    /* the pool: op_count slots */
  ps_accept_op *waiting; /* accepts out of the pool, their clients silent */
  ULONGLONG plain_until; /* post accepts without a receive until then */
};

/* The bound-socket kind (bound.h); the functions are at the end of the file. */
static ps_bound *listener__create(ps_engine *e);
static DWORD listener__prepare(ps_bound *b, const char **step);
static int listener__post(ps_bound *b, unsigned i);
static ps_bound_slot *listener__slot(ps_bound *b, unsigned i);
static unsigned listener__pool_size(const ps_bound *b);
static void listener__closing(ps_bound *b);
static void listener__destroy(ps_bound *b);
static const char *listener__note(const ps_bound *b);

static const ps_bound_kind ps_listener_kind = {
  .transport = PS_TRANSPORT_TCP,
  .name = "tcp",
  .post_call = "AcceptEx",
  .socktype = SOCK_STREAM,
  .create = listener__create,
  .prepare = listener__prepare,
  .post = listener__post,
  .slot = listener__slot,
  .pool_size = listener__pool_size,
  .posted_stat = PS_STAT_accepts_posted,
  .error_stat = PS_STAT_accept_errors,
  .error_site = PS_SITE_ACCEPT,
  .warn = PS_WARN_ACCEPT_POST,
  .pool_noun = "accepts",
  .closing = listener__closing,
  .destroy = listener__destroy,
  .note = listener__note,
};

/* Whether the next accept may wait for the client's first bytes (lock
 * held): the service's clients speak first, no PROXY header comes first,
 * and no client stayed silent lately. */
static DWORD listener__recv_len(ps_listener *l) {
  const ps_engine *e = l->b.eng;
  if (!e->cfg.accept_data || !(l->b.handler->flags & PS_HANDLER_CLIENT_FIRST) || l->b.spec.proxy) return 0;
  if (l->plain_until != 0 && GetTickCount64() < l->plain_until) return 0;
  return PS_ACCEPT_DATA_LEN;
}

/* Posts one AcceptEx (lock held), taking an admission token for it. 0, a
 * WSA error, or PS_LISTENER_NO_TOKEN. */
#define PS_LISTENER_NO_TOKEN (-2)
static int listener__post_accept(ps_listener *l, ps_accept_op *op) {
  DWORD bytes = 0, err = 0, fault;
  if (!ps_engine__admit(l->b.eng, l->b.handler)) return PS_LISTENER_NO_TOKEN;
  op->sock = ps_sock_open(l->b.eng, l->b.family, SOCK_STREAM, &err);
  if (op->sock == INVALID_SOCKET) {
    ps_engine__unadmit(l->b.eng, l->b.handler, 0);
    return (int)err;
  }
  memset(&op->op.ov, 0, sizeof(op->op.ov));
  fault = ps_fault_hit(l->b.eng->cfg.faults, PS_FAULT_ACCEPTEX);
  if (fault != 0) {
    ps_sock_close(l->b.eng, &op->sock);
    ps_engine__unadmit(l->b.eng, l->b.handler, 0);
    return (int)fault;
  }
  /* With a receive only for a service whose clients speak first (see the
   * top of the file: a silent client leaves the pool at the next sweep).
   * TRUE (done at once) still queues a packet: the listening socket does
   * not skip the port, and the completion waits for this lock. */
  op->recv_len = listener__recv_len(l);
  if (!l->wsx.accept_ex(l->b.sock, op->sock, op->buf, op->recv_len, PS_ACCEPT_ADDR_LEN, PS_ACCEPT_ADDR_LEN, &bytes,
                        &op->op.ov)) {
    int wsa = WSAGetLastError();
    if (wsa != ERROR_IO_PENDING) {
      ps_sock_close(l->b.eng, &op->sock);
      /* No resume here: this listener's lock is held, and resume takes
       * listeners' locks. The slot goes idle and its retry takes a token. */
      ps_engine__unadmit(l->b.eng, l->b.handler, 0);
      return wsa;
    }
  }
  return 0;
}

/* The kind's post (bound.h): an AcceptEx for slot i. A slot that finds no
 * token is held (PS_BOUND_HELD), and ps_listener_resume posts it when a
 * connection ends. */
static int listener__post(ps_bound *b, unsigned i) {
  ps_listener *l = (ps_listener *)b;
  ps_accept_op *op = l->ops[i];
  int err = listener__post_accept(l, op);
  if (err == PS_LISTENER_NO_TOKEN && !op->held) {
    /* Hold the slot, then look again: a token given back between the
     * first look and accepts_held rising would otherwise find no held
     * slot to resume (ps_engine__unadmit reads accepts_held after it). */
    op->held = 1;
    b->held_count++;
    InterlockedIncrement64(&b->eng->stat[PS_STAT_accepts_held]);
    InterlockedIncrement64(&b->eng->stat[PS_STAT_limit_waits]);
    err = listener__post_accept(l, op);
  }
  if (err == PS_LISTENER_NO_TOKEN) return PS_BOUND_HELD;
  if (op->held) {
    op->held = 0;
    b->held_count--;
    InterlockedDecrement64(&b->eng->stat[PS_STAT_accepts_held]);
  }
  return err;
}

ULONGLONG ps_listener_retry(ps_engine *e, ULONGLONG now) { return ps_bound_retry(e, &ps_listener_kind, now); }

void ps_listener_resume(ps_engine *e) {
  int pass, out_of_tokens = 0;
  unsigned n = 0, start, k;
  ps_listener *l;
  /* First the listeners with nothing posted (their clients wait for sure),
   * then any with a held slot; each time starting one listener further on,
   * so a listener that keeps winning the first look cannot starve the
   * others. Locks: the engine's (shared), then one listener's at a time, as
   * ps_listener_retry. */
  ps_bound *b;
  AcquireSRWLockShared(&e->lock);
  for (b = e->bound; b != NULL; b = b->next)
    if (b->kind == &ps_listener_kind) n++;
  start = n > 0 ? (unsigned)InterlockedIncrement(&e->resume_turn) % n : 0;
  for (pass = 0; pass < 2 && !out_of_tokens; pass++) {
    for (k = 0; k < n && !out_of_tokens; k++) {
      unsigned i, skip = (start + k) % n;
      int scheduled = 0;
      for (b = e->bound; b->kind != &ps_listener_kind || skip-- > 0;) b = b->next;
      l = (ps_listener *)b;
      AcquireSRWLockExclusive(&l->b.lock);
      if (!l->b.closing && l->b.held_count > 0 && (pass == 1 || l->b.pending == 0)) {
        for (i = 0; i < l->op_count && l->b.held_count > 0; i++) {
          ps_accept_op *op = l->ops[i];
          if (!op->held) continue;
          ps_bound_arm(&l->b, i, GetTickCount64(), &scheduled);
          if (op->held) {
            out_of_tokens = 1;
            break;
          }
          if (pass == 0) break; /* one each first: spread the tokens */
        }
      }
      ReleaseSRWLockExclusive(&l->b.lock);
      if (scheduled) ps_engine__wake(e);
    }
  }
  ReleaseSRWLockShared(&e->lock);
}

/* A fresh op for slot i (not posted), or NULL when out of memory. */
static ps_accept_op *listener__op_new(ps_listener *l, unsigned i) {
  ps_accept_op *op = (ps_accept_op *)calloc(1, sizeof(*op));
  if (op == NULL) return NULL;
  op->op.kind = PS_OP_ACCEPT;
  op->op.non_ifs = !l->ifs; /* set again by listener__prepare, which learns ifs */
  op->l = l;
  op->sock = INVALID_SOCKET;
  op->index = i;
  return op;
}

/* Takes a waiting op off l->waiting (lock held). */
static void listener__unwait(ps_listener *l, ps_accept_op *op) {
  if (op->prev != NULL) op->prev->next = op->next;
  else l->waiting = op->next;
  if (op->next != NULL) op->next->prev = op->prev;
  op->prev = op->next = NULL;
  InterlockedDecrement64(&l->b.eng->stat[PS_STAT_accepts_waiting_data]);
}

void ps_listener_on_completion(ps_op *op_base, DWORD bytes, DWORD err, ps_worker *w) {
  ps_accept_op *op = ps_container_of(op_base, ps_accept_op, op);
  ps_listener *l = op->l;
  ps_engine *e = l->b.eng;
  SOCKET accepted = INVALID_SOCKET;
  SOCKADDR_STORAGE peer;
  const ps_handler *handler;
  void *ctx;
  ps_bound_stats *stats;
  ps_bound_rearm r;
  int ifs, proxy, closing, released = 0, waiting;
  DWORD recv_len = op->recv_len;
  char first[PS_ACCEPT_DATA_LEN];
  char msg[160];

  if (err == 0) err = (DWORD)ps_fault_hit(e->cfg.faults, PS_FAULT_ACCEPT_DONE);
  memset(&peer, 0, sizeof(peer));
  AcquireSRWLockExclusive(&l->b.lock);
  /* Copied under the lock: once it is released and this op re-posted (or
   * not), a concurrent close may end the listener and free it. */
  handler = l->b.handler;
  ctx = l->b.ctx;
  stats = l->b.stats;
  ifs = l->ifs;
  proxy = l->b.spec.proxy;
  waiting = op->waiting;
  if (err == 0 && !l->b.closing && op->sock != INVALID_SOCKET) {
    struct sockaddr *local = NULL, *remote = NULL;
    int local_len = 0, remote_len = 0;
    /* Gives the accepted socket the listener's properties, so getpeername,
     * shutdown and SO_* work on it. */
    if (setsockopt(op->sock, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&l->b.sock, (int)sizeof(l->b.sock)) !=
        0) {
      ps_log_limited(&e->warn[PS_WARN_ACCEPT_CTX], PS_LOG_WARN, "accept on %s: SO_UPDATE_ACCEPT_CONTEXT failed: %s",
                     l->b.name, ps_errstr((unsigned long)WSAGetLastError(), msg, sizeof(msg)));
    }
    l->wsx.get_accept_ex_sockaddrs(op->buf, recv_len, PS_ACCEPT_ADDR_LEN, PS_ACCEPT_ADDR_LEN, &local, &local_len,
                                   &remote, &remote_len);
    if (remote != NULL && remote_len > 0 && (size_t)remote_len <= sizeof(peer))
      memcpy(&peer, remote, (size_t)remote_len);
    else peer.ss_family = (ADDRESS_FAMILY)l->b.family;
    /* The first bytes, copied before the op is posted again (0 with a
     * receive: the client closed without sending). */
    if (bytes > recv_len) bytes = recv_len;
    if (recv_len > 0) memcpy(first, op->buf, bytes);
    accepted = op->sock; /* its admission token goes with it */
    op->sock = INVALID_SOCKET;
  } else {
    /* Aborted by our own close, or the client reset before the accept
     * finished: either way the slot is re-armed (with a new token). A
     * waiting op's socket may have been closed already (the sweep's idle
     * timeout, or the listener's close). */
    ps_sock_close(e, &op->sock);
    ps_engine__unadmit(e, handler, 0);
    released = 1;
  }
  if (!waiting) {
    /* Re-armed before the new connection is handled; a slot that cannot be
     * posted now waits for the housekeeper's retry, it is never dropped. */
    ps_bound_rearm_locked(&l->b, op->index, &r);
  } else {
    /* Out of the pool: no slot to re-arm, the op ends here. */
    listener__unwait(l, op);
    ps_bound_retire_locked(&l->b, &r);
  }
  closing = l->b.closing;
  ReleaseSRWLockExclusive(&l->b.lock);
  if (waiting) free(op);

  /* A token this slot gave back and did not take again may be another
   * listener's turn. */
  if (released && (closing || waiting) && e->stat[PS_STAT_accepts_held] > 0) ps_listener_resume(e);
  if (err != 0 && err != ERROR_OPERATION_ABORTED && !r.dead)
    ps_log(PS_LOG_DEBUG, "accept on %s: %s", r.name, ps_errstr(err, msg, sizeof(msg)));
  if (accepted != INVALID_SOCKET) {
    if (recv_len > 0) InterlockedIncrement64(&e->stat[PS_STAT_conns_with_data]);
    ps_conn_accepted(e, stats, handler, ctx, accepted, (const struct sockaddr *)&peer, ifs, proxy,
                     recv_len > 0 ? first : NULL, bytes, w);
  }
  ps_bound_rearm_done(&l->b, &r);
}

/* One silent client's accept leaves the pool (lock held): a new op takes
 * slot i and is posted, plain accepts follow for a while, and the old op
 * stays posted on l->waiting. 0 when out of memory (tried again at the
 * next sweep). */
static int listener__set_aside(ps_listener *l, unsigned i, DWORD connected_s, ULONGLONG now, int *scheduled) {
  ps_accept_op *old = l->ops[i], *op = listener__op_new(l, i);
  ps_engine *e = l->b.eng;
  if (op == NULL) return 0;
  old->waiting = 1;
  old->connected_ms = now - (ULONGLONG)connected_s * 1000;
  old->next = l->waiting;
  if (l->waiting != NULL) l->waiting->prev = old;
  l->waiting = old;
  l->ops[i] = op;
  /* Still posted (pending counts it) but no longer one of the pool's. */
  InterlockedDecrement64(&e->stat[PS_STAT_accepts_posted]);
  InterlockedIncrement64(&e->stat[PS_STAT_accepts_waiting_data]);
  InterlockedIncrement64(&e->stat[PS_STAT_accepts_silent]);
  l->plain_until = now + PS_ACCEPT_PLAIN_MS;
  ps_bound_arm(&l->b, i, now, scheduled);
  return 1;
}

void ps_listener_sweep(ps_engine *e, ULONGLONG now) {
  ps_bound *b;
  unsigned idle_ms = e->cfg.idle_timeout_ms;
  AcquireSRWLockShared(&e->lock);
  for (b = e->bound; b != NULL; b = b->next) {
    ps_listener *l;
    ps_accept_op *op, *next;
    unsigned i;
    int scheduled = 0;
    if (b->kind != &ps_listener_kind) continue;
    l = (ps_listener *)b;
    AcquireSRWLockExclusive(&l->b.lock);
    if (!l->b.closing) {
      for (i = 0; i < l->op_count; i++) {
        DWORD secs = ~(DWORD)0;
        int len = (int)sizeof(secs);
        op = l->ops[i];
        if (op->recv_len == 0 || op->sock == INVALID_SOCKET || op->held || op->slot.idle) continue;
        /* ~0: no client yet. Whole seconds, so 1 is one to two seconds. */
        if (getsockopt(op->sock, SOL_SOCKET, SO_CONNECT_TIME, (char *)&secs, &len) != 0 || secs == ~(DWORD)0 ||
            secs < 1)
          continue;
        if (!listener__set_aside(l, i, secs, now, &scheduled)) break;
      }
      /* A waiting client is closed at --idle-timeout, as an idle
       * connection would be; its accept then completes aborted. */
      for (op = l->waiting; op != NULL && idle_ms != 0; op = next) {
        next = op->next;
        if (op->sock == INVALID_SOCKET || now - op->connected_ms < idle_ms) continue;
        /* Counted first: the client may look as soon as the socket closes. */
        InterlockedIncrement64(&e->stat[PS_STAT_accept_data_timeouts]);
        InterlockedIncrement64(&e->stat[PS_STAT_timeouts_idle]); /* what an operator counts as one */
        ps_sock_close(e, &op->sock);
      }
    }
    ReleaseSRWLockExclusive(&l->b.lock);
    if (scheduled) ps_engine__wake(e);
  }
  ReleaseSRWLockShared(&e->lock);
}

/* ---- the bound-socket kind (bound.h) ------------------------------------ */

static ps_bound *listener__create(ps_engine *e) {
  ps_listener *l = (ps_listener *)calloc(1, sizeof(*l));
  unsigned i;
  if (l == NULL) return NULL;
  l->ops = (ps_accept_op **)calloc(e->cfg.accepts, sizeof(*l->ops));
  if (l->ops == NULL) {
    free(l);
    return NULL;
  }
  l->op_count = e->cfg.accepts;
  for (i = 0; i < l->op_count; i++) {
    l->ops[i] = listener__op_new(l, i);
    if (l->ops[i] == NULL) {
      listener__destroy(&l->b);
      return NULL;
    }
  }
  return &l->b;
}

static DWORD listener__prepare(ps_bound *b, const char **step) {
  ps_listener *l = (ps_listener *)b;
  DWORD err;
  unsigned i;
  *step = "listen";
  if (listen(b->sock, SOMAXCONN) != 0) return (DWORD)WSAGetLastError();
  *step = "WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)";
  err = (DWORD)ps_wsx_load(b->sock, &l->wsx);
  if (err != 0) return err;
  l->ifs = ps_sock_is_ifs(b->sock);
  for (i = 0; i < l->op_count; i++) l->ops[i]->op.non_ifs = !l->ifs;
  return 0;
}

static ps_bound_slot *listener__slot(ps_bound *b, unsigned i) { return &((ps_listener *)b)->ops[i]->slot; }

static unsigned listener__pool_size(const ps_bound *b) { return ((const ps_listener *)b)->op_count; }

static void listener__closing(ps_bound *b) {
  ps_listener *l = (ps_listener *)b;
  /* Held slots have no AcceptEx to abort: they simply end. */
  unsigned i;
  ps_accept_op *op;
  InterlockedAdd64(&b->eng->stat[PS_STAT_accepts_held], -(LONG64)b->held_count);
  b->held_count = 0;
  for (i = 0; i < l->op_count; i++) l->ops[i]->held = 0;
  /* An accept that has a client and waits for its first bytes is ended by
   * closing its own socket, not only the listener's. */
  for (i = 0; i < l->op_count; i++)
    if (l->ops[i]->recv_len > 0) ps_sock_close(b->eng, &l->ops[i]->sock);
  for (op = l->waiting; op != NULL; op = op->next) ps_sock_close(b->eng, &op->sock);
}

static void listener__destroy(ps_bound *b) {
  ps_listener *l = (ps_listener *)b;
  unsigned i;
  for (i = 0; i < l->op_count; i++) free(l->ops[i]);
  free(l->ops);
  free(l);
}

static const char *listener__note(const ps_bound *b) {
  return ((const ps_listener *)b)->ifs && b->eng->cfg.skip_on_success ? "" : " [no skip-on-success: non-IFS provider]";
}

int ps_listener_open_spec(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx,
                          unsigned *port_out) {
  return ps_bound_open_spec(e, &ps_listener_kind, spec, h, ctx, spec->port, port_out);
}
