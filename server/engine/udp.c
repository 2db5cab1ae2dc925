/* UDP sockets and their receive and send operations.
 *
 * Concurrency rule: a UDP socket's `closing` flag, its socket handle and its
 * `pending` count change only under u->b.lock, and every WSARecvFrom and
 * WSASendTo is posted under it, so no op is ever posted on a closed handle.
 * Receive completions for one socket run concurrently on any worker; the
 * handler is called outside the lock. The socket is freed in ps_bound_endgame
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
 * Skip-on-success (docs/design.md, "UDP and skip-on-success"): where the
 * provider returns IFS handles and the system is Windows 8 or later, a UDP
 * socket skips the port for operations that complete at once with a
 * non-error status, which includes a truncated datagram (WSAEMSGSIZE from
 * STATUS_BUFFER_OVERFLOW, a warning): only WSA_IO_PENDING means a packet
 * will come (udp__outcome). A receive that completes at once counts as
 * posted until its result is handled, by the thread that re-posted it: the
 * worker that handled the previous datagram calls the handler again and
 * re-posts, in a loop bounded by the event's inline budget; past it the
 * result goes on the worker's deferred queue or to the port, as a
 * connection's does (conn.c), so one busy socket cannot starve the others.
 * Posts made where the handler cannot run (the first ones at open, the
 * housekeeper's retries, under the lock) hand their inline result to the
 * port. A reply sent at once completes (and is freed) in
 * ps_datagram_reply. Without skip-on-success every completion comes
 * through the port, a truncated datagram's included. */
#include "udp.h"

#include <versionhelpers.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bound.h"
#include "ps_log.h"
#include "sock.h"

#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#ifndef SIO_UDP_NETRESET
#define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15)
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
  unsigned index;     /* in its socket's pool */
  ps_bound_slot slot; /* idle: not posted, waiting for the housekeeper's retry */
  void *ctx;          /* the service context, read with the handler (ps_engine_switch) */
  /* A receive that completed at once on a skipping socket (udp__done_at_once):
   * no packet comes, so its result travels here. inline_done: the re-post's
   * caller takes it now (u->taking); deferred: it was queued (a worker's
   * queue or the port), and its completion's error is inline_err, not the
   * one the dispatch passes. */
  DWORD inline_bytes;
  DWORD inline_err;
  int inline_done;
  int deferred;
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
  ps_bound b;          /* first: the socket, lock, pending, retry, skipping (bound.h) */
  int non_ifs;         /* a non-IFS provider: completions carry their error in OffsetHigh */
  ps_datagram *taking; /* lock held: the receive whose re-post's inline result its caller handles */
  unsigned sends_in_flight;
  unsigned recv_count;
  ps_datagram **recvs;
};

/* The bound-socket kind (bound.h); the functions are at the end of the file. */
static ps_bound *udp__create(ps_engine *e);
static DWORD udp__prepare(ps_bound *b, const char **step);
static int udp__post(ps_bound *b, unsigned i);
static ps_bound_slot *udp__slot(ps_bound *b, unsigned i);
static unsigned udp__pool_size(const ps_bound *b);
static void udp__closing(ps_bound *b);
static void udp__linked(ps_bound *b, int linked);
static void udp__destroy(ps_bound *b);
static const char *udp__note(const ps_bound *b);

static const ps_bound_kind ps_udp_kind = {
  .transport = PS_TRANSPORT_UDP,
  .name = "udp",
  .post_call = "WSARecvFrom",
  .socktype = SOCK_DGRAM,
  .create = udp__create,
  .prepare = udp__prepare,
  .post = udp__post,
  .slot = udp__slot,
  .pool_size = udp__pool_size,
  .posted_stat = PS_STAT_udp_receives_posted,
  .error_stat = PS_STAT_udp_recv_errors,
  .error_site = PS_SITE_UDP_RECV,
  .warn = PS_WARN_UDP_POST,
  .pool_noun = "receives",
  .closing = udp__closing,
  .linked = udp__linked,
  .destroy = udp__destroy,
  .note = udp__note,
};

/* Sets or clears `port` (host order) in the engine's own-port bitmap (engine lock held):
 * cleared only when no other open UDP socket of the engine has that port. */
static void udp__mark_port(ps_engine *e, unsigned short port, int on) {
  LONG bit = (LONG)(1UL << (port & 31));
  if (on) {
    InterlockedOr(&e->udp_ports[port >> 5], bit);
  } else {
    ps_bound *other;
    for (other = e->bound; other != NULL; other = other->next)
      if (other->kind == &ps_udp_kind && ntohs(ps_sockaddr_port(&other->addr)) == port) return;
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
    InterlockedIncrement64(&e->stat[PS_STAT_dgrams_dropped_port0]);
    return 1;
  }
  if (e->udp_ports[port >> 5] & (LONG)(1UL << (port & 31))) {
    InterlockedIncrement64(&e->stat[PS_STAT_dgrams_dropped_loop]);
    return 1;
  }
  if (port < 1024 && !e->cfg.udp_allow_low_ports) {
    InterlockedIncrement64(&e->stat[PS_STAT_dgrams_dropped_lowport]);
    return 1;
  }
  return 0;
}

/* The reply-rate guard: non-zero (and counted) if a reply to d's source is
 * over its bucket or the global cap. Charged per reply, not per datagram:
 * replies are what reach the victim of a reflection (docs/design.md). */
static int udp__reply_refused(ps_engine *e, const ps_datagram *d) {
  ps_ratelimit_key key;
  if (d->from.ss_family != AF_INET6 && d->from.ss_family != AF_INET) return 0;
  ps_sock_source_key(&e->cfg, &d->from, &key);
  switch (ps_ratelimit_take(&e->reply_limit, &key, GetTickCount64())) {
    case PS_RATELIMIT_OK:
      return 0;
    case PS_RATELIMIT_SOURCE:
      InterlockedIncrement64(&e->stat[PS_STAT_dgrams_dropped_rate]);
      return 1;
    case PS_RATELIMIT_TOTAL:
      InterlockedIncrement64(&e->stat[PS_STAT_dgrams_dropped_rate_total]);
      return 1;
  }
  return 0;
}

/* Where the result of a WSARecvFrom or WSASendTo goes, from what the call
 * returned (`err`: 0 for success, else WSAGetLastError()), the one rule
 * for both (docs/design.md, "UDP and skip-on-success"):
 *  - WSA_IO_PENDING: a packet comes when it completes.
 *  - 0, or WSAEMSGSIZE from a receive (a truncated datagram: the NTSTATUS
 *    is STATUS_BUFFER_OVERFLOW, a warning, so the receive did complete):
 *    completed at once with a non-error status. The system then queues a
 *    packet unless the socket skips the port on success: "skip queuing to
 *    the completion port when the IRP is completed synchronously with a
 *    non-error status" (FO_SKIP_COMPLETION_PORT, the FILE_OBJECT page),
 *    warnings included; libuv's and .NET's UDP paths rely on the same.
 *  - any other error: failed at once, no packet (an error status never
 *    queues one when it is returned at once). */
typedef enum udp_outcome { UDP_PENDING, UDP_DONE, UDP_FAILED } udp_outcome;

static udp_outcome udp__outcome(int err, int receive, int skipping) {
  if (err == WSA_IO_PENDING) return UDP_PENDING;
  if (err == 0 || (receive && err == WSAEMSGSIZE)) return skipping ? UDP_DONE : UDP_PENDING;
  return UDP_FAILED;
}

/* Hands receive d's inline result (`bytes`, d->inline_err) to be handled
 * later, as conn.c's conn__take_inline does: on worker w's deferred queue
 * unless another worker has less queued, else through the port
 * (PS_KEY_DEFERRED; also from threads that are not workers, w NULL). d
 * stays counted in `pending` until then. 0 if it could not be queued. */
static int udp__defer(ps_udp *u, ps_datagram *d, ps_worker *w, DWORD bytes) {
  ps_engine *e = u->b.eng;
  d->deferred = 1;
  if (w != NULL && ps_worker_may_queue(w)) {
    ps_worker_defer(w, &d->op, bytes);
    InterlockedIncrement64(&e->stat[PS_STAT_inline_deferred]);
    return 1;
  }
  if (PostQueuedCompletionStatus(e->port, bytes, PS_KEY_DEFERRED, &d->op.ov)) {
    InterlockedIncrement64(&e->stat[PS_STAT_inline_deferred]);
    if (w != NULL) InterlockedIncrement64(&e->stat[PS_STAT_inline_balanced]);
    return 1;
  }
  d->deferred = 0;
  return 0;
}

/* Receive d completed at once on a skipping socket (lock held): no packet
 * will come, so whoever posted it sees to its result. The caller of a
 * re-post from a completion (udp__rearm, u->taking) handles it after the
 * lock, within its budget; the first posts at open and the housekeeper's
 * retries, which cannot call the handler under the lock, hand it to the
 * port. 0: it counts as posted until handled. */
static int udp__done_at_once(ps_udp *u, ps_datagram *d, DWORD bytes, int err) {
  InterlockedIncrement64(&u->b.eng->stat[PS_STAT_udp_inline_recv]);
  d->inline_err = (DWORD)err;
  if (u->taking == d) {
    d->inline_bytes = bytes;
    d->inline_done = 1;
    return 0;
  }
  if (udp__defer(u, d, NULL, bytes)) return 0;
  /* The port could not take it (no memory): the datagram is lost, as UDP
   * allows, and the receive waits for the retry like any failed post. */
  InterlockedIncrement64(&u->b.eng->stat[PS_STAT_dgrams_dropped]);
  return (int)ERROR_NOT_ENOUGH_MEMORY;
}

/* The kind's post (bound.h): a WSARecvFrom for receive i (lock held). 0 if
 * posted (a packet will come, or it completed at once and its result is
 * seen to: udp__done_at_once), else the error. A port-unreachable from an
 * earlier reply (where SIO_UDP_CONNRESET could not be turned off) concerns
 * another peer: ps_bound_arm posts again at once. */
static int udp__post(ps_bound *b, unsigned i) {
  ps_udp *u = (ps_udp *)b;
  ps_datagram *d = u->recvs[i];
  WSABUF buf;
  DWORD bytes = 0;
  int err = (int)ps_fault_hit(b->eng->cfg.faults, PS_FAULT_WSARECVFROM);
  if (err != 0) return err;
  buf.buf = d->data;
  buf.len = (ULONG)b->eng->cfg.buffer_size;
  memset(&d->op.ov, 0, sizeof(d->op.ov));
  d->from_len = (INT)sizeof(d->from);
  d->flags = 0;
  d->inline_done = d->deferred = 0;
  if (WSARecvFrom(b->sock, &buf, 1, &bytes, &d->flags, (struct sockaddr *)&d->from, &d->from_len, &d->op.ov, NULL) != 0)
    err = WSAGetLastError();
  switch (udp__outcome(err, 1, b->skipping)) {
    case UDP_PENDING:
      return 0;
    case UDP_DONE:
      return udp__done_at_once(u, d, bytes, err);
    case UDP_FAILED:
      break;
  }
  return err;
}

/* Re-posts d after its result was handled, or retires it when closing.
 * Returns 1 with the next result in *bytes and *err when the re-post
 * completed at once and the event's budget lets the caller handle it now
 * (the budget is shared by the socket's inline results, as a connection's
 * is: one busy socket cannot hold a worker while others wait); 0 when it
 * is pending, retired, failed (left for the retry), or deferred. */
static int udp__rearm(ps_udp *u, ps_datagram *d, ps_worker *w, unsigned *budget, DWORD *bytes, DWORD *err) {
  ps_bound_rearm r;
  int done;
  AcquireSRWLockExclusive(&u->b.lock);
  u->taking = d;
  d->inline_done = 0;
  ps_bound_rearm_locked(&u->b, d->index, &r);
  u->taking = NULL;
  done = d->inline_done;
  ReleaseSRWLockExclusive(&u->b.lock);
  /* May end the socket, but not when d completed: it still counts in pending. */
  ps_bound_rearm_done(&u->b, &r);
  if (!done) return 0;
  *bytes = d->inline_bytes;
  *err = d->inline_err;
  if (*budget > 0) {
    (*budget)--;
    return 1;
  }
  /* Handled now rather than lost when it cannot be queued. */
  return !udp__defer(u, d, w, *bytes);
}

ULONGLONG ps_udp_retry(ps_engine *e, ULONGLONG now) { return ps_bound_retry(e, &ps_udp_kind, now); }

int ps_datagram_reply(ps_datagram *d, const void *data, size_t len) {
  ps_udp *u = d->u;
  ps_udp_send *op;
  WSABUF b;
  DWORD sent = 0;
  int err = 0, dropped = 0, done = 0;
  if (udp__reply_refused(u->b.eng, d)) return -1;
  op = (ps_udp_send *)malloc(sizeof(*op) + (len ? len : 1));
  if (op == NULL) {
    InterlockedIncrement64(&u->b.eng->stat[PS_STAT_dgrams_dropped]);
    return -1;
  }
  memset(op, 0, sizeof(*op));
  op->op.kind = PS_OP_UDP_SEND;
  op->op.non_ifs = u->non_ifs;
  op->u = u;
  memcpy(&op->to, &d->from, sizeof(op->to));
  op->to_len = d->from_len;
  if (len) memcpy(op->data, data, len);
  b.buf = op->data;
  b.len = (ULONG)len;
  AcquireSRWLockExclusive(&u->b.lock);
  if (u->b.closing || u->sends_in_flight >= PS_UDP_SENDS_MAX) {
    dropped = 1;
  } else {
    u->b.pending++;
    u->sends_in_flight++;
    if (WSASendTo(u->b.sock, &b, 1, &sent, 0, (const struct sockaddr *)&op->to, op->to_len, &op->op.ov, NULL) != 0)
      err = WSAGetLastError();
    switch (udp__outcome(err, 0, u->b.skipping)) {
      case UDP_PENDING:
        err = 0;
        break;
      case UDP_DONE:
        done = 1;
        break;
      case UDP_FAILED:
        u->b.pending--;
        u->sends_in_flight--;
        dropped = 1;
        break;
    }
  }
  ReleaseSRWLockExclusive(&u->b.lock);
  if (dropped) {
    InterlockedIncrement64(&u->b.eng->stat[PS_STAT_dgrams_dropped]);
    if (err != 0) ps_engine__count_error(u->b.eng, PS_SITE_UDP_SEND, (unsigned long)err);
    free(op);
    return -1;
  }
  if (done) {
    /* Sent at once on a skipping socket: no packet comes, so it completes
     * here (counted, freed, pending dropped) as the port's would. The
     * receive being handled still counts in pending: this cannot end the
     * socket under its caller. */
    InterlockedIncrement64(&u->b.eng->stat[PS_STAT_udp_inline_send]);
    ps_udp_on_completion(&op->op, sent, 0, NULL, 0);
  }
  return 0;
}

void *ps_datagram_context(ps_datagram *d) { return d->ctx; }

const struct sockaddr *ps_datagram_peer(const ps_datagram *d, int *len) {
  *len = d->from_len;
  return (const struct sockaddr *)&d->from;
}

void ps_udp_on_completion(ps_op *op, DWORD bytes, DWORD err, ps_worker *w, unsigned budget) {
  if (op->kind == PS_OP_UDP_SEND) {
    ps_udp_send *s = ps_container_of(op, ps_udp_send, op);
    ps_udp *u = s->u;
    /* Read once: a switch (ps_bound_switch) may change it meanwhile; every
     * row lives as long as the engine. */
    ps_bound_stats *stats = u->b.stats;
    int dead;
    if (err == 0) {
      ps_count(u->b.eng, w, PS_STAT_dgrams_out, 1);
      ps_count(u->b.eng, w, PS_STAT_bytes_out, (LONG64)bytes);
      ps_count_row(w, stats, PS_LSTAT_dgrams_out, 1);
      ps_count_row(w, stats, PS_LSTAT_bytes_out, (LONG64)bytes);
    } else if (err != ERROR_OPERATION_ABORTED) {
      InterlockedIncrement64(&u->b.eng->stat[PS_STAT_dgrams_dropped]);
      ps_engine__count_error(u->b.eng, PS_SITE_UDP_SEND, err);
    }
    free(s);
    AcquireSRWLockExclusive(&u->b.lock);
    u->b.pending--;
    u->sends_in_flight--;
    dead = u->b.closing && u->b.pending == 0;
    ReleaseSRWLockExclusive(&u->b.lock);
    if (dead) ps_bound_endgame(&u->b);
    return;
  } else {
    ps_datagram *d = ps_container_of(op, ps_datagram, op);
    ps_udp *u = d->u;
    /* A result its poster deferred completed at once: its error is the one
     * it had then (the dispatch passes 0 for a deferred result). */
    if (d->deferred) {
      d->deferred = 0;
      err = d->inline_err;
    }
    /* Each pass handles one result; a re-post that completes at once comes
     * back here while the budget lasts (udp__rearm). */
  next:
    if (err == 0) {
      const ps_handler *h;
      ps_bound_stats *stats;
      /* The handler, its context and its row as one set: a reload may hand
       * this socket to another service (ps_bound_switch) between two
       * datagrams. */
      AcquireSRWLockShared(&u->b.lock);
      h = u->b.handler;
      d->ctx = u->b.ctx;
      stats = u->b.stats;
      ReleaseSRWLockShared(&u->b.lock);
      ps_count(u->b.eng, w, PS_STAT_dgrams_in, 1);
      ps_count(u->b.eng, w, PS_STAT_bytes_in, (LONG64)bytes);
      ps_count_row(w, stats, PS_LSTAT_dgrams_in, 1);
      ps_count_row(w, stats, PS_LSTAT_bytes_in, (LONG64)bytes);
      if (h->on_datagram != NULL && !udp__source_refused(u->b.eng, d)) h->on_datagram(d, d->data, bytes);
    } else if (err == WSAEMSGSIZE) {
      /* Larger than the receive buffer: dropped and counted, never fatal. */
      InterlockedIncrement64(&u->b.eng->stat[PS_STAT_dgrams_dropped]);
    } else if (err != ERROR_OPERATION_ABORTED && err != WSAECONNRESET && err != WSAENETRESET) {
      char msg[160];
      ps_engine__count_error(u->b.eng, PS_SITE_UDP_RECV, err);
      ps_log_limited(&u->b.eng->warn[PS_WARN_UDP_RECV], PS_LOG_WARN, "udp %s: receive failed: %s", u->b.name,
                     ps_errstr(err, msg, sizeof(msg)));
    }
    if (udp__rearm(u, d, w, &budget, &bytes, &err)) goto next;
  }
}

/* ---- the bound-socket kind (bound.h) ------------------------------------ */

static ps_bound *udp__create(ps_engine *e) {
  ps_udp *u = (ps_udp *)calloc(1, sizeof(*u));
  unsigned i;
  if (u == NULL) return NULL;
  u->recvs = (ps_datagram **)calloc(e->cfg.udp_receives, sizeof(*u->recvs));
  if (u->recvs == NULL) {
    free(u);
    return NULL;
  }
  for (i = 0; i < e->cfg.udp_receives; i++) {
    u->recvs[i] = (ps_datagram *)calloc(1, sizeof(ps_datagram) + e->cfg.buffer_size);
    if (u->recvs[i] == NULL) {
      udp__destroy(&u->b);
      return NULL;
    }
    u->recvs[i]->op.kind = PS_OP_UDP_RECV;
    u->recvs[i]->u = u;
    u->recvs[i]->index = i;
    u->recv_count++;
  }
  return &u->b;
}

/* Turns one ICMP report off (SIO_UDP_CONNRESET or SIO_UDP_NETRESET) and
 * counts it (the counter shows which sockets have it off); when the
 * provider refuses, the error it would report is ignored on receive instead
 * (ps_udp_on_completion). A provider that does not know the ioctl at all
 * (WSAEOPNOTSUPP, WSAEINVAL: Wine has no SIO_UDP_NETRESET, docs/wine-notes.md)
 * leaves the operator nothing to do, so that is a debug line; any other
 * failure is a warning. */
static void udp__report_off(ps_bound *b, DWORD ioctl, const char *name, ps_stat_index counted, const char *what) {
  DWORD bytes = 0;
  BOOL off = FALSE;
  char msg[160];
  int err;
  if (WSAIoctl(b->sock, ioctl, &off, (DWORD)sizeof(off), NULL, 0, &bytes, NULL, NULL) == 0) {
    InterlockedIncrement64(&b->eng->stat[counted]);
    return;
  }
  err = WSAGetLastError();
  ps_log(err == WSAEOPNOTSUPP || err == WSAEINVAL ? PS_LOG_DEBUG : PS_LOG_WARN,
         "udp %s: WSAIoctl(%s) failed: %s; %s errors are ignored instead", b->name, name,
         ps_errstr((unsigned long)err, msg, sizeof(msg)), what);
}

/* Whether a UDP socket may skip the port on success: its provider returns
 * IFS handles (as SetFileCompletionNotificationModes requires of a socket,
 * and accepted connections are checked: listener.c), and the system is
 * Windows 8 or later: .NET keeps skip-on-success off for UDP sockets
 * through Windows 7 for "a bug with using SetFileCompletionNotificationModes
 * with UDP" there (CompletionPortHelper.PlatformHasUdpIssue), which is what
 * libuv's comment on datagram sockets describes too (docs/design.md). */
static int udp__skip_ok(int non_ifs) { return !non_ifs && IsWindows8OrGreater(); }

static DWORD udp__prepare(ps_bound *b, const char **step) {
  ps_udp *u = (ps_udp *)b;
  unsigned i;
  PS_UNUSED(step);
  /* An ICMP port-unreachable (WSAECONNRESET) or time-exceeded
   * (WSAENETRESET) caused by a reply to one peer must not fail the next
   * receive for everyone. */
  udp__report_off(b, SIO_UDP_CONNRESET, "SIO_UDP_CONNRESET", PS_STAT_udp_connreset_off, "port-unreachable");
  udp__report_off(b, SIO_UDP_NETRESET, "SIO_UDP_NETRESET", PS_STAT_udp_netreset_off, "time-exceeded");
  u->non_ifs = !ps_sock_is_ifs(b->sock);
  b->skip_ok = udp__skip_ok(u->non_ifs);
  for (i = 0; i < u->recv_count; i++) u->recvs[i]->op.non_ifs = u->non_ifs;
  return 0;
}

static ps_bound_slot *udp__slot(ps_bound *b, unsigned i) { return &((ps_udp *)b)->recvs[i]->slot; }

static unsigned udp__pool_size(const ps_bound *b) { return ((const ps_udp *)b)->recv_count; }

static void udp__closing(ps_bound *b) {
  /* Aborts the posted receives and sends; their completions retire them. */
  CancelIoEx((HANDLE)b->sock, NULL);
}

static void udp__linked(ps_bound *b, int linked) {
  udp__mark_port(b->eng, ntohs(ps_sockaddr_port(&b->addr)), linked);
  if (linked && b->skipping) InterlockedIncrement64(&b->eng->stat[PS_STAT_udp_skip]);
}

/* Says why a UDP socket does not skip the port when it could have. */
static const char *udp__note(const ps_bound *b) {
  if (b->skipping || !b->eng->cfg.skip_on_success) return "";
  return ((const ps_udp *)b)->non_ifs ? " [no skip-on-success: non-IFS provider]"
                                      : " [no skip-on-success: Windows 7 or older]";
}

static void udp__destroy(ps_bound *b) {
  ps_udp *u = (ps_udp *)b;
  unsigned i;
  for (i = 0; i < u->recv_count; i++) free(u->recvs[i]);
  free(u->recvs);
  free(u);
}

int ps_udp_open_spec(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, void *ctx, unsigned port) {
  unsigned bound_port;
  return ps_bound_open_spec(e, &ps_udp_kind, spec, h, ctx, port, &bound_port);
}
