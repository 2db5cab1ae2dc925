/* The TCP connection state machine.
 *
 * Concurrency rule: a connection's state changes only while holding its lock
 * (c->lock). Completions for one connection (its receive and its send) may
 * arrive on different workers at once; the lock serialises them, and
 * handler callbacks run under it, so a handler sees one call at a time.
 * Lock order: the engine's lock before a connection's; never the reverse.
 *
 * Lifetime: c->refs counts one reference while the socket is open, one per
 * posted operation (and per resume packet), and one held by whoever is
 * working on the connection from outside a completion (accept, stop). The
 * connection is freed in conn__endgame, only when refs reaches zero, which
 * needs the socket closed and every posted operation completed.
 *
 * Reading: a connection that has not sent holds no buffer. It waits on a
 * zero-byte WSARecv; when that completes (data or FIN is waiting) a real
 * WSARecv into a full-size buffer follows, and usually completes inline.
 * A connection of a service whose clients speak first usually skips both:
 * its accept waited for the first bytes (listener.c), which arrive as if a
 * small read had completed with them (conn__accepted_data).
 * From then on every read is a real one, sized by what is known. After a
 * read that filled its buffer (more is likely waiting) the rest is read at
 * once by burst reads (conn__burst_read, libuv's way: a non-blocking
 * WSARecv of up to 64 KiB into the worker's buffer) until one finds
 * nothing or reads less; with --burst-reads 0, or when a burst read cannot
 * run, a read with a full-size buffer is posted instead. The read that
 * will wait for the peer gets a small
 * buffer (PS_SMALL_BUF_SIZE, e->spool) while the peer's bursts fit in one,
 * and a full-size one after a larger burst, until two small bursts in a
 * row (conn__learn_burst: a larger message would otherwise cost a second
 * read each time). So a connection that went quiet after small messages
 * holds one small buffer in its pending read and nothing else, and one
 * quiet after larger messages one full-size buffer, without a read ever
 * being cancelled to take a buffer back (Windows documents no safe way to
 * cancel one read without risking the data it was completing:
 * docs/design.md, "Read strategy"). Without burst reads, a burst that
 * ended exactly at a full-size read's end leaves a full-size read pending.
 *
 * Inline completions: with FILE_SKIP_COMPLETION_PORT_ON_SUCCESS an op that
 * succeeds at once queues no packet, so the poster handles it in a loop.
 * Each event grants the connection a budget of inline completions (its
 * receives and sends together); when it is spent, the next inline result
 * goes on the worker's deferred queue (ps_worker_defer) and is handled on
 * its next pass, after the completions waiting in the port by then. The
 * worker sizes the budget from its pass: cfg.inline_max when there is one
 * thing to do, cfg.inline_max / n with n. With many busy connections every
 * one gets a turn per pass (fairness); a lone busy connection runs inline
 * (fewer calls per message). Threads that are not workers (the
 * housekeeper, stop) hand a deferred result to the port instead
 * (PS_KEY_DEFERRED). So does a worker that has already queued more
 * results in this pass than another worker took in its own
 * (ps_worker_may_queue): queues stay even, and a connection on a long
 * queue does not wait while another worker serves a short one
 * (docs/design.md, "Inline completions", has the measurements).
 *
 * Resource errors: a post that fails for lack of resources (WSAENOBUFS, an
 * overlapped WSASend/WSARecv's WSAEWOULDBLOCK "too many outstanding
 * overlapped requests", no receive buffer) does not end the connection: the
 * op waits (C_RECV_WAIT / C_SEND_WAIT), the connection goes on the engine's
 * retry list (holding a reference), and ps_conn_retry, on the housekeeping
 * thread, pumps it again after a backoff of 100 ms doubling to 5 s. If its
 * posts keep failing for cfg.retry_limit_ms (10 s) it is aborted and
 * counted in closed_resources. Closing takes it off the list, as
 * closesocket cancels a pending op. (docs/design.md, "Resource errors") */
#include "conn.h"

#include <mstcpip.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "proxy.h"
#include "ps_log.h"
#include "sock.h"

enum {
  C_RECV_PENDING = 0x001, /* recv_op posted (or its result deferred to the port) */
  C_SEND_PENDING = 0x002, /* send_op posted (or its result deferred to the port) */
  C_EOF = 0x004,          /* the peer sent FIN */
  C_PAUSED = 0x008,       /* reading paused: too much unsent data */
  C_CLOSING = 0x010,      /* graceful close: no more input to the handler, no more sends */
  C_SHUT = 0x020,         /* shutdown(SD_SEND) done */
  C_CLOSED = 0x040,       /* socket closed, open reference dropped */
  C_SKIP = 0x080,         /* inline successes skip the port */
  C_NEXT_REAL = 0x100,    /* the next read uses a buffer (data is waiting) */
  C_OPENED = 0x200,       /* on_open was called; on_close is owed */
  C_SOURCE = 0x400,       /* counted in the engine's per-source table (release it at the end) */
  C_RECV_WAIT = 0x1000,   /* the read could not be posted (resources): ps_conn_retry posts it */
  C_SEND_WAIT = 0x2000,   /* the send could not be posted (resources): ps_conn_retry posts it */
  C_PROXY = 0x4000,       /* a PROXY header is awaited: no handler call yet (conn__proxy_input) */
  C_MGMT = 0x8000,        /* a management handler's (PS_HANDLER_MANAGEMENT): out of the totals */
  C_RBUF_SMALL = 0x10000, /* rbuf is a small buffer (e->spool) */
  C_LAST_FULL = 0x20000,  /* the last read filled its buffer: more is likely waiting */
  C_BIG_READS = 0x40000,  /* its recent bursts were larger than a small buffer: wait on full-size reads */
  C_NBIO = 0x80000        /* non-blocking mode is on (FIONBIO, for burst reads) */
};

enum { IO_PENDING = 0, IO_INLINE = 1, IO_FAILED = -1 };

#define PS_SEND_IOV 16

struct ps_session {
  ps_engine *eng;
  const ps_handler *handler;
  void *ctx; /* the service context (on_start) */
  SOCKET sock;
  SRWLOCK lock;
  unsigned refs;
  unsigned flags;
  unsigned budget;   /* inline completions left for the current event */
  unsigned bursts;   /* burst reads made in the current event */
  ps_worker *worker; /* the worker running the current event; NULL on other threads */
  ps_op recv_op;
  ps_op send_op;
  ps_buf *rbuf;              /* the receive buffer (small or full-size), kept between reads; NULL until data came */
  ps_buf *sq_head, *sq_tail; /* send queue; the head buffers may be in flight */
  size_t sq_bytes;           /* unsent bytes, in flight included */
  ps_conn *prev, *next;      /* engine->conns (engine lock) */
  ULONGLONG last_io_ms;      /* GetTickCount64 of the last byte either way (idle timeout) */
  ULONGLONG send_ms;         /* last send posted or progressed (send timeout) */
  ULONGLONG shut_ms;         /* when our FIN went out (linger timeout) */
  ULONGLONG retry_since;     /* first failed post of the current streak (retry limit); 0 = none */
  ULONGLONG deadline_at;     /* the handler's deadline (ps_session_set_deadline); 0 = none */

  /* On the engine's retry list (engine->retry_lock guards these three). */
  int retry_listed;
  ps_retry retry; /* when ps_conn_retry pumps it again */
  ps_conn *retry_next;
  ps_conn *retry_due_next; /* ps_conn_retry's own list of due connections (housekeeper only) */
  SOCKADDR_STORAGE peer;   /* the client: the TCP peer, or the one a PROXY header named */
  ps_ratelimit_key source; /* its per-source table key (C_SOURCE), kept: the prefixes may change */
  ULONGLONG accepted_ms;   /* when it was accepted (the PROXY header deadline) */
  size_t proxy_len;        /* C_PROXY: header bytes received so far, at the start of rbuf */
  ps_bound_stats *stats;   /* its listener's totals (may be NULL) */
  ps_stat_index end;       /* the first cause of its end, counted at the endgame; 0: orderly so far */
  size_t burst;            /* bytes read since the last read that did not fill its buffer */
  unsigned small_bursts;   /* bursts in a row that fitted in a small buffer (up to 2) */
  char *first;             /* the accept's first bytes while no receive buffer could be had (C_RECV_WAIT) */
  DWORD first_len;
};

/* Handler state follows the struct, aligned for any type. */
#define CONN_STATE_OFFSET ((sizeof(ps_conn) + 15) & ~(size_t)15)

/* Target of zero-byte reads; never written. */
static char conn__zero_byte;

static void conn__flush(ps_conn *c);
/* How conn__close_socket ends the connection. */
typedef enum conn_close {
  CLOSE_GRACEFUL = 0, /* closesocket after our FIN (or theirs) */
  CLOSE_RESET,        /* we reset it (linger 0): counted in conns_aborted */
  CLOSE_FAILED        /* the peer reset or the network failed: linger 0, nothing left to say */
} conn_close;

static void conn__close_socket(ps_conn *c, conn_close how);

/* Records why the connection ends (its portserve_connections_closed_total
 * reason): the first cause wins, so a connection the idle timeout closed
 * and the linger timeout then ended counts as idle. */
static void conn__end(ps_conn *c, ps_stat_index reason) {
  if (c->end == 0) c->end = reason;
}

/* Counts into the engine's totals, which a management connection keeps
 * out of: its listener's row counts it (ps_handler.h, PS_HANDLER_MANAGEMENT). */
static void conn__count(ps_conn *c, ps_stat_index i, LONG64 n) {
  if (!(c->flags & C_MGMT)) InterlockedAdd64(&c->eng->stat[i], n);
}

/* A per-message counter, into the totals as conn__count does and into the
 * listener's row, through the running worker's own counters (ps_count;
 * interlocked on other threads). */
static void conn__count_io(ps_conn *c, ps_stat_index i, ps_listener_stat_index row, LONG64 n) {
  if (!(c->flags & C_MGMT)) ps_count(c->eng, c->worker, i, n);
  ps_count_row(c->worker, c->stats, row, n);
}

/* A reference (c's lock held, or c not yet shared): a posted op, the retry
 * list, an event in progress. */
static void conn__ref(ps_conn *c) { c->refs++; }

/* Drops one; never the last (c's lock held; the last goes through
 * conn__unlock_release, which runs the endgame). */
static void conn__unref(ps_conn *c) {
  assert(c->refs > 1);
  c->refs--;
}

/* ---- handler API (ps_handler.h) ---------------------------------------- */

/* Formats the peer for a log line. */
static const char *conn__peer(const ps_conn *c, char *buf, size_t size) {
  return ps_sockaddr_format((const struct sockaddr *)&c->peer, buf, size);
}

int ps_session_send(ps_session *c, const void *data, size_t len) {
  const char *p = (const char *)data;
  size_t cap = c->eng->pool.buf_size, room, need, i;
  ps_buf *chain = NULL, *last = NULL;
  if (c->flags & (C_CLOSING | C_CLOSED)) return -1;
  /* All or nothing: take every buffer this copy needs before copying, so a
   * failure leaves the queue (and sq_bytes) as it was. */
  room = c->sq_tail != NULL ? cap - c->sq_tail->len : 0;
  need = len > room ? (len - room + cap - 1) / cap : 0;
  for (i = 0; i < need; i++) {
    ps_buf *b = ps_buf_get(&c->eng->pool);
    if (b == NULL) {
      char peer[80];
      while (chain != NULL) {
        b = chain;
        chain = b->next;
        ps_buf_put(&c->eng->pool, b);
      }
      /* The bytes are the handler's and cannot wait for a retry; a stream
       * with a hole must not look complete, so the peer gets a reset
       * (ps_handler.h documents this). */
      conn__end(c, PS_STAT_closed_resources);
      ps_log_limited(&c->eng->warn[PS_WARN_CONN_GIVE_UP], PS_LOG_WARN,
                     "connection from %s: no buffer for %llu bytes to send; resetting the connection",
                     conn__peer(c, peer, sizeof(peer)), (unsigned long long)len);
      conn__close_socket(c, CLOSE_RESET);
      return -1;
    }
    if (last != NULL) last->next = b;
    else chain = b;
    last = b;
  }
  if (chain != NULL) {
    /* Appending behind bytes already in flight is safe: the posted WSABUF
     * covers only what was there when it was posted. */
    if (c->sq_tail != NULL) c->sq_tail->next = chain;
    else c->sq_head = chain;
  }
  c->sq_bytes += len;
  if (c->flags & C_MGMT) {
    /* The admin endpoint's backpressure shows here (its highest queue). */
    volatile LONG64 *peak = &c->eng->stat[PS_STAT_mgmt_queue_peak];
    LONG64 seen = *peak;
    while ((LONG64)c->sq_bytes > seen) {
      LONG64 was = InterlockedCompareExchange64(peak, (LONG64)c->sq_bytes, seen);
      if (was == seen) break;
      seen = was;
    }
  }
  while (len > 0) {
    ps_buf *b = c->sq_tail != NULL && c->sq_tail->len < cap ? c->sq_tail : chain;
    size_t n = cap - b->len;
    if (b == chain) chain = chain->next;
    c->sq_tail = b;
    if (n > len) n = len;
    memcpy(b->data + b->len, p, n);
    b->len += (uint32_t)n;
    p += n;
    len -= n;
  }
  assert(chain == NULL);
  return 0;
}

size_t ps_session_queued(const ps_session *c) { return c->sq_bytes; }

size_t ps_session_send_queue_max(const ps_session *c) { return c->eng->cfg.send_queue_max; }

void ps_session_set_deadline(ps_session *c, unsigned ms) { c->deadline_at = ms != 0 ? GetTickCount64() + ms : 0; }

void ps_session_close(ps_session *c) {
  if (c->flags & (C_CLOSING | C_CLOSED)) return;
  c->flags |= C_CLOSING;
  /* The pump that follows every callback flushes the queue, then shuts down. */
}

void ps_session_abort(ps_session *c) {
  conn__end(c, PS_STAT_closed_aborted);
  conn__close_socket(c, CLOSE_RESET);
}

void *ps_session_state(ps_session *c) { return (char *)c + CONN_STATE_OFFSET; }

void *ps_session_context(ps_session *c) { return c->ctx; }

const struct sockaddr *ps_session_peer(const ps_session *c, int *len) {
  *len = c->peer.ss_family == AF_INET6 ? (int)sizeof(SOCKADDR_IN6) : (int)sizeof(SOCKADDR_IN);
  return (const struct sockaddr *)&c->peer;
}

char *ps_session_peer_name(const ps_session *c, char *buf, size_t size) {
  return ps_sockaddr_format((const struct sockaddr *)&c->peer, buf, size);
}

/* ---- closing ----------------------------------------------------------- */

static int conn__is_reset(DWORD err) {
  return err == WSAECONNRESET || err == WSAECONNABORTED || err == WSAENETRESET || err == WSAETIMEDOUT ||
         err == ERROR_NETNAME_DELETED || err == ERROR_CONNECTION_ABORTED || err == WSAEDISCON;
}

/* Takes c off the engine's retry list, if it is there, and drops the
 * list's reference (c's lock held; the caller holds a reference too). */
static void conn__unlist(ps_conn *c) {
  ps_engine *e = c->eng;
  ps_conn **pp;
  int was = 0;
  AcquireSRWLockExclusive(&e->retry_lock);
  if (c->retry_listed) {
    for (pp = &e->retry_conns; *pp != NULL; pp = &(*pp)->retry_next)
      if (*pp == c) {
        *pp = c->retry_next;
        break;
      }
    c->retry_listed = 0;
    was = 1;
  }
  ReleaseSRWLockExclusive(&e->retry_lock);
  if (was) conn__unref(c);
}

static void conn__close_socket(ps_conn *c, conn_close how) {
  if (c->flags & C_CLOSED) return;
  c->flags |= C_CLOSED | C_CLOSING;
  /* A scheduled retry is cancelled like a pending op. */
  c->flags &= ~(C_RECV_WAIT | C_SEND_WAIT);
  conn__unlist(c);
  /* closesocket cancels the pending ops; their completions still arrive and
   * drop their references. Cancel them explicitly first: Wine sometimes
   * never completes a WSASend still pending at closesocket
   * (docs/wine-notes.md), and on Windows CancelIoEx is the documented way
   * to end them anyway. */
  if (c->flags & (C_RECV_PENDING | C_SEND_PENDING)) CancelIoEx((HANDLE)c->sock, NULL);
  if (how == CLOSE_RESET) conn__count(c, PS_STAT_conns_aborted, 1);
  if (how == CLOSE_GRACEFUL) ps_sock_close(c->eng, &c->sock);
  else ps_sock_abort(c->eng, &c->sock);
  /* on_close runs in the endgame, never inside another callback. */
  conn__unref(c); /* the open reference; a caller's reference keeps c alive */
}

/* The Winsock call an error site names in a log line. */
static const char *conn__call(ps_error_site site) { return site == PS_SITE_SEND ? "WSASend" : "WSARecv"; }

/* An operation at `site` (PS_SITE_RECV or PS_SITE_SEND) failed: the peer
 * reset or the network failed. */
static void conn__fail(ps_conn *c, ps_error_site site, DWORD err) {
  char peer[80], msg[160];
  if (c->flags & C_CLOSED) return; /* the abort of our own closesocket */
  if ((c->flags & C_SHUT) && conn__is_reset(err)) {
    /* We had sent everything and our FIN: a peer that answers it with RST
     * (many clients close with unread data, or with linger 0) ended a
     * finished exchange. Not counted as a reset. */
    conn__close_socket(c, CLOSE_GRACEFUL);
    return;
  }
  conn__end(c, PS_STAT_closed_reset);
  ps_engine__count_error(c->eng, site, err);
  if (!conn__is_reset(err))
    ps_log_limited(&c->eng->warn[PS_WARN_CONN_OP], PS_LOG_WARN, "connection from %s: %s failed: %s",
                   conn__peer(c, peer, sizeof(peer)), conn__call(site), ps_errstr(err, msg, sizeof(msg)));
  conn__close_socket(c, CLOSE_FAILED);
}

/* A post failed for lack of resources (`wait` is C_RECV_WAIT or
 * C_SEND_WAIT): the op waits and the connection goes on the retry list,
 * unless its posts have been failing for retry_limit_ms already; then it
 * is aborted. */
static void conn__wait_for_resources(ps_conn *c, unsigned wait, const char *what, DWORD err) {
  ps_engine *e = c->eng;
  ULONGLONG now = GetTickCount64();
  char peer[80], msg[160];
  unsigned backoff;
  int listed;
  if (c->retry_since == 0) {
    c->retry_since = now;
  } else if (now - c->retry_since >= e->cfg.retry_limit_ms) {
    conn__end(c, PS_STAT_closed_resources);
    ps_log_limited(&e->warn[PS_WARN_CONN_GIVE_UP], PS_LOG_WARN,
                   "connection from %s: %s failed: %s, and posts kept failing for %u ms; resetting the connection",
                   conn__peer(c, peer, sizeof(peer)), what, ps_errstr(err, msg, sizeof(msg)),
                   (unsigned)(now - c->retry_since));
    conn__close_socket(c, CLOSE_RESET);
    return;
  }
  c->flags |= wait;
  InterlockedIncrement64(&e->stat[PS_STAT_conn_retries]);
  AcquireSRWLockExclusive(&e->retry_lock);
  listed = c->retry_listed;
  if (!listed) {
    ps_retry_schedule(&c->retry, now);
    c->retry_listed = 1;
    c->retry_next = e->retry_conns;
    e->retry_conns = c;
    conn__ref(c); /* the list's */
  }
  backoff = c->retry.backoff_ms;
  ReleaseSRWLockExclusive(&e->retry_lock);
  if (!listed) ps_engine__wake(e);
  ps_log_limited(&e->warn[PS_WARN_CONN_RETRY], PS_LOG_WARN, "connection from %s: %s failed: %s; retrying in %u ms",
                 conn__peer(c, peer, sizeof(peer)), what, ps_errstr(err, msg, sizeof(msg)), backoff);
}

/* Everything queued was sent and the handler asked to close: FIN. */
static void conn__shutdown(ps_conn *c) {
  c->flags |= C_SHUT;
  c->shut_ms = GetTickCount64();
  shutdown(c->sock, SD_SEND);
  if (c->flags & C_EOF) {
    conn__close_socket(c, CLOSE_GRACEFUL);
    return;
  }
  /* Lingering close: read (and drop) until the peer's FIN, so closesocket
   * never meets unread data, which would turn our FIN into a RST and could
   * destroy data the peer has not read yet. Reading resumes even if paused. */
  c->flags &= ~C_PAUSED;
}

/* ---- inline completions ------------------------------------------------ */

/* An op completed inline. Returns 1 if the caller handles its result now
 * (the event's budget allowed it; the op's reference is dropped), or 0 if
 * the budget is spent and the result was deferred: to the worker's queue,
 * or (from another thread, or when another worker has less queued) to the
 * port (PS_KEY_DEFERRED, bytes in the
 * packet); the op then stays pending and keeps its reference. If the packet
 * cannot be queued the result is handled now rather than lost. */
static int conn__take_inline(ps_conn *c, ps_op *op, DWORD bytes) {
  if (c->budget == 0) {
    if (c->worker != NULL && ps_worker_may_queue(c->worker)) {
      ps_worker_defer(c->worker, op, bytes);
      InterlockedIncrement64(&c->eng->stat[PS_STAT_inline_deferred]);
      return 0;
    }
    if (PostQueuedCompletionStatus(c->eng->port, bytes, PS_KEY_DEFERRED, &op->ov)) {
      InterlockedIncrement64(&c->eng->stat[PS_STAT_inline_deferred]);
      if (c->worker != NULL) InterlockedIncrement64(&c->eng->stat[PS_STAT_inline_balanced]);
      return 0;
    }
  }
  if (c->budget > 0) c->budget--;
  conn__unref(c);
  return 1;
}

/* ---- sending ----------------------------------------------------------- */

static void conn__send_done(ps_conn *c, DWORD bytes, DWORD err) {
  size_t sent = bytes;
  c->flags &= ~C_SEND_PENDING;
  if (err != 0) {
    conn__fail(c, PS_SITE_SEND, err);
    return;
  }
  /* Counted as it happens, not at the end: the stats are read from inside
   * the admin service's callbacks, which may not walk the connections
   * (that needs the engine's lock, which comes before a connection's). */
  conn__count_io(c, PS_STAT_bytes_out, PS_LSTAT_bytes_out, (LONG64)bytes);
  conn__count_io(c, PS_STAT_msgs_out, PS_LSTAT_msgs_out, 1);
  if (bytes > 0) c->last_io_ms = c->send_ms = GetTickCount64();
  assert(sent <= c->sq_bytes);
  c->sq_bytes -= sent;
  while (sent > 0) {
    ps_buf *b = c->sq_head;
    size_t n = b->len - b->off;
    if (n > sent) n = sent;
    b->off += (uint32_t)n;
    sent -= n;
    if (b->off == b->len) {
      c->sq_head = b->next;
      if (c->sq_head == NULL) c->sq_tail = NULL;
      ps_buf_put(&c->eng->pool, b);
    }
  }
  if ((c->flags & C_PAUSED) && c->sq_bytes <= c->eng->cfg.send_queue_max / 2) c->flags &= ~C_PAUSED;
  if (c->sq_bytes == 0 && !(c->flags & (C_CLOSING | C_CLOSED)) && c->handler->on_drained != NULL)
    c->handler->on_drained(c);
}

/* Posts sends until one is pending or the queue is empty; then, if closing
 * and everything is sent, shuts down. */
static void conn__flush(ps_conn *c) {
  while (!(c->flags & (C_SEND_PENDING | C_SEND_WAIT | C_CLOSED)) && c->sq_bytes > 0) {
    WSABUF bufs[PS_SEND_IOV];
    DWORD count = 0, sent = 0;
    ps_buf *b;
    int err = (int)ps_fault_hit(c->eng->cfg.faults, PS_FAULT_WSASEND);
    for (b = c->sq_head; b != NULL && count < PS_SEND_IOV; b = b->next) {
      bufs[count].buf = b->data + b->off;
      bufs[count].len = b->len - b->off;
      count++;
    }
    memset(&c->send_op.ov, 0, sizeof(c->send_op.ov));
    conn__ref(c);
    c->flags |= C_SEND_PENDING;
    c->send_ms = GetTickCount64();
    /* WSASend captures the WSABUF array, so a stack array is fine. */
    if (err == 0 && WSASend(c->sock, bufs, count, &sent, 0, &c->send_op.ov, NULL) == 0) {
      if (!(c->flags & C_SKIP)) return; /* a completion packet will come */

      if (!conn__take_inline(c, &c->send_op, sent)) return;
      conn__send_done(c, sent, 0);
      continue;
    }
    if (err == 0) err = WSAGetLastError();
    if (err == WSA_IO_PENDING) return;
    conn__unref(c);
    c->flags &= ~C_SEND_PENDING;
    if (ps_err_is_resource((unsigned long)err)) conn__wait_for_resources(c, C_SEND_WAIT, "WSASend", (DWORD)err);
    else conn__fail(c, PS_SITE_SEND, (DWORD)err);
    return;
  }
  if ((c->flags & (C_CLOSING | C_SHUT | C_CLOSED | C_SEND_PENDING)) == C_CLOSING && c->sq_bytes == 0) conn__shutdown(c);
}

/* ---- receiving --------------------------------------------------------- */

/* The pool the receive buffer comes from and goes back to. */
static ps_bufpool *conn__rpool(ps_conn *c) { return (c->flags & C_RBUF_SMALL) ? &c->eng->spool : &c->eng->pool; }

/* Gives the receive buffer back; with no buffer and nothing known to be
 * waiting, the next read is a zero-byte read. */
static void conn__release_rbuf(ps_conn *c) {
  if (c->rbuf != NULL) ps_buf_put(conn__rpool(c), c->rbuf);
  c->rbuf = NULL;
  c->flags &= ~(C_NEXT_REAL | C_RBUF_SMALL | C_LAST_FULL);
}

/* Makes rbuf the buffer the next read needs (see the top of the file): a
 * full-size one when data is waiting (a zero-byte read completed, or the
 * last read filled its buffer) or a PROXY header is being gathered (its
 * bytes so far are in rbuf), a small one otherwise. 0 when none is free. */
static int conn__rbuf_for_read(ps_conn *c) {
  unsigned small = (c->flags & (C_NEXT_REAL | C_LAST_FULL | C_PROXY | C_BIG_READS)) ? 0 : C_RBUF_SMALL;
  if (c->rbuf != NULL && (c->flags & C_RBUF_SMALL) != small) {
    assert(c->proxy_len == 0); /* never switched while it holds header bytes */
    ps_buf_put(conn__rpool(c), c->rbuf);
    c->rbuf = NULL;
  }
  if (c->rbuf == NULL) {
    c->flags = (c->flags & ~C_RBUF_SMALL) | small;
    c->rbuf = ps_buf_get(conn__rpool(c));
  }
  return c->rbuf != NULL;
}

/* Learns the size of the peer's bursts (the bytes read up to a read that
 * did not fill its buffer), which sets the buffer of the read that waits
 * for the next one: full-size after a burst larger than a small buffer
 * (its next one would cost a second read), small again after two bursts
 * in a row that fitted in one. */
static void conn__learn_burst(ps_conn *c, DWORD bytes) {
  c->burst += bytes;
  if (c->flags & C_LAST_FULL) return;
  if (c->burst > PS_SMALL_BUF_SIZE) {
    c->flags |= C_BIG_READS;
    c->small_bursts = 0;
  } else if (c->burst > 0 && ++c->small_bursts >= 2) {
    c->flags &= ~C_BIG_READS;
    c->small_bursts = 2;
  }
  c->burst = 0;
}

/* The room the next real read gets in rbuf. */
static size_t conn__rbuf_room(ps_conn *c) { return conn__rpool(c)->buf_size - c->proxy_len; }

static int conn__post_recv(ps_conn *c, DWORD *bytes) {
  WSABUF b;
  DWORD flags = 0;
  int err;
  if (c->rbuf != NULL || (c->flags & C_NEXT_REAL)) {
    if (!conn__rbuf_for_read(c)) {
      /* Data may be waiting and stays waiting: read it when a buffer is
       * free (no byte was taken, so any kind of read may follow). */
      conn__wait_for_resources(c, C_RECV_WAIT, "getting a receive buffer", ERROR_NOT_ENOUGH_MEMORY);
      return IO_FAILED;
    }
    /* While a PROXY header is awaited, the bytes read so far stay in front. */
    b.buf = c->rbuf->data + c->proxy_len;
    b.len = (ULONG)conn__rbuf_room(c);
  } else {
    b.buf = &conn__zero_byte;
    b.len = 0;
  }
  memset(&c->recv_op.ov, 0, sizeof(c->recv_op.ov));
  conn__ref(c);
  c->flags |= C_RECV_PENDING;
  err = (int)ps_fault_hit(c->eng->cfg.faults, PS_FAULT_WSARECV);
  if (err == 0 && WSARecv(c->sock, &b, 1, bytes, &flags, &c->recv_op.ov, NULL) == 0)
    return (c->flags & C_SKIP) ? IO_INLINE : IO_PENDING;
  if (err == 0) err = WSAGetLastError();
  if (err == WSA_IO_PENDING) return IO_PENDING;
  conn__unref(c);
  c->flags &= ~C_RECV_PENDING;
  if (ps_err_is_resource((unsigned long)err)) conn__wait_for_resources(c, C_RECV_WAIT, "WSARecv", (DWORD)err);
  else conn__fail(c, PS_SITE_RECV, (DWORD)err);
  return IO_FAILED;
}

static void conn__eof(ps_conn *c) {
  c->flags |= C_EOF;
  if (c->flags & C_CLOSING) {
    /* Lingering close done, or still flushing (conn__shutdown closes then). */
    if (c->flags & C_SHUT) conn__close_socket(c, CLOSE_GRACEFUL);
    return;
  }
  if (c->flags & C_PROXY) {
    /* The balancer closed before (or within) the header: nothing to serve. */
    if (c->proxy_len > 0) {
      InterlockedIncrement64(&c->eng->stat[PS_STAT_proxy_bad]);
      conn__end(c, PS_STAT_closed_proxy);
    }
    ps_session_close(c);
    return;
  }
  if (c->handler->on_eof != NULL) c->handler->on_eof(c);
  else ps_session_close(c);
}

static int conn__source_acquire(ps_engine *e, const ps_ratelimit_key *key);

/* A PROXY header is awaited and `bytes` more arrived after the c->proxy_len
 * already in c->rbuf. Returns 1 once the header is complete and the
 * connection open (*data, *len: the client's bytes that followed it, maybe
 * none), 0 while more is needed or when the connection was ended. */
static int conn__proxy_input(ps_conn *c, DWORD bytes, const char **data, size_t *len) {
  ps_engine *e = c->eng;
  size_t total = c->proxy_len + bytes, used = 0;
  ps_proxy_header h;
  char err[PS_PROXY_ERR_MAX], name[64];
  ps_proxy_result r = ps_proxy_parse((const uint8_t *)c->rbuf->data, total, &h, &used, err, sizeof(err));
  if (r == PS_PROXY_NEED_MORE && total < e->pool.buf_size) {
    c->proxy_len = total;
    return 0;
  }
  if (r != PS_PROXY_DONE) {
    if (r == PS_PROXY_NEED_MORE)
      snprintf(err, sizeof(err), "longer than the %u-byte buffer", (unsigned)e->pool.buf_size);
    InterlockedIncrement64(&e->stat[PS_STAT_proxy_bad]);
    ps_log_limited(&e->warn[PS_WARN_CONN_OP], PS_LOG_WARN, "connection from %s: bad PROXY header: %s; reset",
                   conn__peer(c, name, sizeof(name)), err);
    conn__end(c, PS_STAT_closed_proxy);
    conn__close_socket(c, CLOSE_RESET);
    return 0;
  }
  c->flags &= ~C_PROXY;
  c->proxy_len = 0;
  if (h.command == PS_PROXY_PROXY && (h.family == PS_PROXY_AF_INET || h.family == PS_PROXY_AF_INET6)) {
    /* The client the balancer relays: from now on it is the peer for the
     * per-source limit, the logs and the handler. */
    memset(&c->peer, 0, sizeof(c->peer));
    if (h.family == PS_PROXY_AF_INET) {
      SOCKADDR_IN *a = (SOCKADDR_IN *)&c->peer;
      a->sin_family = AF_INET;
      memcpy(&a->sin_addr, h.src_addr, 4);
      a->sin_port = htons((u_short)h.src_port);
    } else {
      SOCKADDR_IN6 *a = (SOCKADDR_IN6 *)&c->peer;
      a->sin6_family = AF_INET6;
      memcpy(&a->sin6_addr, h.src_addr, 16);
      a->sin6_port = htons((u_short)h.src_port);
    }
    InterlockedIncrement64(&e->stat[PS_STAT_proxy_ok]);
  } else {
    /* LOCAL (a health check) or UNKNOWN: the balancer itself. */
    InterlockedIncrement64(&e->stat[PS_STAT_proxy_local]);
  }
  if (e->cfg.max_connections_per_source != 0) {
    ps_sock_source_key(&e->cfg, &c->peer, &c->source);
    if (!conn__source_acquire(e, &c->source)) {
      InterlockedIncrement64(&e->stat[PS_STAT_refused_source]);
      conn__end(c, PS_STAT_closed_refused);
      conn__close_socket(c, CLOSE_RESET);
      return 0;
    }
    c->flags |= C_SOURCE;
  }
  c->flags |= C_OPENED;
  if (c->handler->on_open != NULL) c->handler->on_open(c);
  *data = c->rbuf->data + used;
  *len = total - used;
  return 1;
}

/* A read returned `bytes` into `room`: a full one means more is likely
 * waiting, and the peer's burst is learnt. 0 if it was the peer's FIN
 * (handled here); 1 if there are bytes for conn__input. */
static int conn__took(ps_conn *c, DWORD bytes, size_t room) {
  c->flags &= ~(C_NEXT_REAL | C_LAST_FULL);
  if (bytes == room) c->flags |= C_LAST_FULL;
  conn__learn_burst(c, bytes);
  if (bytes == 0) {
    conn__release_rbuf(c);
    conn__eof(c);
    return 0;
  }
  return 1;
}

/* Bytes read (into rbuf, or by a burst read into the worker's buffer):
 * counted, through the PROXY header if one is awaited, to the handler. */
static void conn__input(ps_conn *c, const char *data, DWORD bytes) {
  size_t len = bytes;
  conn__count_io(c, PS_STAT_bytes_in, PS_LSTAT_bytes_in, (LONG64)bytes);
  conn__count_io(c, PS_STAT_msgs_in, PS_LSTAT_msgs_in, 1);
  c->last_io_ms = GetTickCount64();
  if ((c->flags & C_PROXY) && !conn__proxy_input(c, bytes, &data, &len)) len = 0;
  /* Without on_data the service only talks: input is read and dropped. */
  if (len > 0 && !(c->flags & C_CLOSING) && c->handler->on_data != NULL) c->handler->on_data(c, data, len);
  /* Keep the buffer for the next read (see the top of the file). */
  if (c->flags & C_CLOSED) conn__release_rbuf(c);
  if (!(c->flags & C_SHUT) && c->sq_bytes >= c->eng->cfg.send_queue_max) c->flags |= C_PAUSED;
}

static void conn__recv_done(ps_conn *c, DWORD bytes, DWORD err) {
  c->flags &= ~C_RECV_PENDING;
  if (err != 0) {
    conn__fail(c, PS_SITE_RECV, err);
    return;
  }
  if (c->rbuf == NULL) {
    /* The zero-byte read completed: data or FIN is waiting. */
    c->flags |= C_NEXT_REAL;
    return;
  }
  if (conn__took(c, bytes, conn__rbuf_room(c))) conn__input(c, c->rbuf->data, bytes);
}

/* A burst read (cfg.burst_reads; docs/design.md, "Burst reads"): the last
 * read filled its buffer, so more is likely waiting. Instead of posting
 * another read of one buffer's worth, read it at once as libuv does: a
 * non-overlapped WSARecv on the socket in non-blocking mode, into the
 * worker's PS_BURST_READ_SIZE buffer, which on_data gets and must not keep
 * (ps_session_send copies). Overlapped operations do not block whatever
 * the socket's mode, so FIONBIO, set here once per connection, leaves the
 * posted reads and sends as they were.
 * Only on a worker (the buffer is its own); the first of an event always,
 * the next ones only with inline budget left (each that reads counts as an
 * inline completion, so a peer that keeps sending still lets the others
 * have their turn; the first is free because the event's echo send had
 * usually spent the budget by then, measured before conn__pump began to
 * hold that send back after a full read); and never while a
 * read is pending or waiting (bytes would be read out of order). It reads
 * no more than the send queue has room for, or one buffer if that is more:
 * a peer that does not read its replies holds at most send_queue_max plus
 * one buffer, as with posted reads. With buffers of 64 KiB or more a
 * burst read would read no more than a posted one, and is not made.
 * Returns 1 if it read bytes or the FIN, or the connection failed; 0 if it
 * did not read: the caller posts the usual read. When nothing was waiting
 * that is the read that waits for the peer (the burst ended at the last
 * buffer's edge), sized by the peer's bursts. */
static int conn__burst_read(ps_conn *c) {
  ps_worker *w = c->worker;
  size_t buf = c->eng->pool.buf_size, max = c->eng->cfg.send_queue_max, len = PS_BURST_READ_SIZE, room;
  WSABUF b;
  DWORD bytes = 0, flags = 0;
  int err;
  if (w == NULL || (c->budget == 0 && c->bursts > 0) || !c->eng->cfg.burst_reads || buf >= PS_BURST_READ_SIZE ||
      (c->flags & (C_LAST_FULL | C_PROXY | C_RECV_PENDING | C_RECV_WAIT | C_PAUSED | C_EOF | C_CLOSED)) != C_LAST_FULL)
    return 0;
  if (w->burst == NULL) {
    if ((w->burst = (char *)malloc(PS_BURST_READ_SIZE)) == NULL) return 0;
    InterlockedIncrement64(&c->eng->stat[PS_STAT_burst_buffers_live]);
  }
  if (!(c->flags & C_NBIO)) {
    u_long on = 1;
    if (ioctlsocket(c->sock, FIONBIO, &on) != 0) return 0;
    c->flags |= C_NBIO;
  }
  room = c->sq_bytes < max ? max - c->sq_bytes : 0;
  if (room < len) len = room < buf ? buf : room;
  b.buf = w->burst;
  b.len = (ULONG)len;
  err = (int)ps_fault_hit(c->eng->cfg.faults, PS_FAULT_BURST_READ);
  if (err == 0 && WSARecv(c->sock, &b, 1, &bytes, &flags, NULL, NULL) == 0) {
    if (c->bursts++ > 0) c->budget--;
    ps_count(c->eng, w, PS_STAT_burst_reads, 1);
    if (conn__took(c, bytes, len)) conn__input(c, w->burst, bytes);
    return 1;
  }
  if (err == 0) err = WSAGetLastError();
  if (err == WSAEWOULDBLOCK) {
    /* Nothing waiting: the burst ended exactly at the last read's end. */
    ps_count(c->eng, w, PS_STAT_burst_reads_empty, 1);
    c->flags &= ~C_LAST_FULL;
    conn__learn_burst(c, 0);
    return 0;
  }
  /* Out of resources now: the posted read, which waits for them, follows. */
  if (ps_err_is_resource((unsigned long)err)) return 0;
  conn__fail(c, PS_SITE_RECV, (DWORD)err);
  return 1;
}

/* The bytes the accept received (listener.c), as a small read that
 * completed with them: the same rules follow (a full one means more may be
 * waiting; 0 is the client's FIN). Without a receive buffer they are kept
 * in c->first and the connection waits for resources like a read that
 * could not be posted (ps_conn_retry delivers them, before any read);
 * only if even that copy cannot be made is the connection reset. */
static void conn__accepted_data(ps_conn *c, const char *data, DWORD len) {
  assert(c->rbuf == NULL && !(c->flags & (C_PROXY | C_NEXT_REAL)));
  if (!conn__rbuf_for_read(c)) {
    if (c->first == NULL) {
      c->first = (char *)malloc(len + 1);
      if (c->first == NULL) {
        char peer[80];
        conn__end(c, PS_STAT_closed_resources);
        ps_log_limited(&c->eng->warn[PS_WARN_CONN_GIVE_UP], PS_LOG_WARN,
                       "connection from %s: no memory for its first bytes; resetting it",
                       conn__peer(c, peer, sizeof(peer)));
        conn__close_socket(c, CLOSE_RESET);
        return;
      }
      memcpy(c->first, data, len);
      c->first_len = len;
    }
    conn__wait_for_resources(c, C_RECV_WAIT, "getting a receive buffer", ERROR_NOT_ENOUGH_MEMORY);
    return;
  }
  assert(conn__rbuf_room(c) == PS_ACCEPT_DATA_LEN);
  memcpy(c->rbuf->data, data, len);
  free(c->first); /* `data` may have been it: copied first */
  c->first = NULL;
  conn__recv_done(c, len, 0);
}

/* Posts reads until one is pending, reading is paused, or the connection
 * ends. What the handler queued is sent after each read that did not fill
 * its buffer (the rest of a message that spans reads is read first, so it
 * goes out in one send), and when reading stops; if that send resumed
 * reading (C_PAUSED cleared), reading goes on. */
static void conn__read(ps_conn *c) {
  for (;;) {
    DWORD bytes = 0;
    unsigned paused;
    if (conn__burst_read(c)) {
      if (!(c->flags & C_LAST_FULL)) conn__flush(c);
      continue;
    }
    if (!(c->flags & (C_RECV_PENDING | C_RECV_WAIT | C_PAUSED | C_EOF | C_CLOSED)) &&
        conn__post_recv(c, &bytes) == IO_INLINE && conn__take_inline(c, &c->recv_op, bytes)) {
      conn__recv_done(c, bytes, 0);
      if (!(c->flags & C_LAST_FULL)) conn__flush(c);
      continue;
    }
    paused = c->flags & C_PAUSED;
    conn__flush(c);
    if (!paused || (c->flags & C_PAUSED)) return;
  }
}

/* Runs after every event: send what is queued, then read what is waiting.
 * After a read that filled its buffer the send waits for the rest of the
 * burst (conn__read sends once it has read it, and whenever it stops), so
 * a message that spans reads goes out in one send. */
static void conn__pump(ps_conn *c) {
  if (!(c->flags & C_LAST_FULL)) conn__flush(c);
  conn__read(c);
}

/* ---- lifetime ---------------------------------------------------------- */

/* Counts a connection of source `key` (max_connections_per_source). 1 if
 * it may open. */
static int conn__source_acquire(ps_engine *e, const ps_ratelimit_key *key) {
  ps_connlimit_verdict v;
  AcquireSRWLockExclusive(&e->src_lock);
  v = ps_connlimit_acquire(&e->src_limit, key);
  ReleaseSRWLockExclusive(&e->src_lock);
  return v == PS_CONNLIMIT_OK;
}

static void conn__source_release(ps_engine *e, const ps_ratelimit_key *key) {
  AcquireSRWLockExclusive(&e->src_lock);
  ps_connlimit_release(&e->src_limit, key);
  ReleaseSRWLockExclusive(&e->src_lock);
}

/* Whether `peer` may send PROXY headers (cfg.proxy_from). */
static int conn__proxy_trusted(ps_engine *e, const SOCKADDR_STORAGE *peer) {
  int ok;
  AcquireSRWLockShared(&e->src_lock);
  if (peer->ss_family == AF_INET6)
    ok = ps_net_list_match(&e->cfg.proxy_from, 6, ((const SOCKADDR_IN6 *)peer)->sin6_addr.s6_addr);
  else ok = ps_net_list_match(&e->cfg.proxy_from, 4, (const uint8_t *)&((const SOCKADDR_IN *)peer)->sin_addr);
  ReleaseSRWLockShared(&e->src_lock);
  return ok;
}

static void conn__endgame(ps_conn *c) {
  ps_engine *e = c->eng;
  const ps_handler *h = c->handler;
  assert(c->refs == 0);
  assert((c->flags & (C_CLOSED | C_RECV_PENDING | C_SEND_PENDING)) == C_CLOSED);
  assert(!c->retry_listed);
  /* The one place on_close runs: every op has completed, no lock is held,
   * and no other callback for this session can run again. */
  if ((c->flags & C_OPENED) && c->handler->on_close != NULL) c->handler->on_close(c);
  conn__release_rbuf(c);
  free(c->first); /* first bytes never delivered: the connection ended waiting for a buffer */
  while (c->sq_head != NULL) {
    ps_buf *b = c->sq_head;
    c->sq_head = b->next;
    ps_buf_put(&e->pool, b);
  }
  AcquireSRWLockExclusive(&e->lock);
  if (c->prev != NULL) c->prev->next = c->next;
  else e->conns = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  ReleaseSRWLockExclusive(&e->lock);
  if (c->flags & C_SOURCE) conn__source_release(e, &c->source);
  conn__count(c, c->end != 0 ? c->end : PS_STAT_closed_orderly, 1);
  InterlockedDecrement64(&e->stat[(c->flags & C_MGMT) ? PS_STAT_mgmt_open : PS_STAT_conns_open]);
  free(c);
  /* Its admission token goes back, and a held accept slot may post. */
  ps_engine__unadmit(e, h, 1);
  ps_engine__signal(e);
}

/* Drops the caller's reference; frees the connection if it was the last. */
static void conn__unlock_release(ps_conn *c) {
  int dead;
  assert(c->refs > 0);
  dead = --c->refs == 0;
  c->worker = NULL;
  ReleaseSRWLockExclusive(&c->lock);
  if (dead) conn__endgame(c);
}

/* The shape of every event on a connection (a completion, an accept, a
 * retry, a sweep's or the stop's close): take its lock and set the inline
 * budget and the worker running it (NULL on other threads); after the
 * event's work, send what is queued and read what is waiting, release the
 * lock and the event's reference (the endgame, if it was the last). */
static void conn__event_begin(ps_conn *c, ps_worker *w, unsigned budget) {
  AcquireSRWLockExclusive(&c->lock);
  c->budget = budget;
  c->bursts = 0;
  c->worker = w;
}

static void conn__event_end(ps_conn *c) {
  conn__pump(c);
  conn__unlock_release(c);
}

/* Every live connection `pick` selects (c's lock held; NULL: all), each
 * with a reference taken for the caller, who works on them after the
 * engine lock is released (a connection's endgame needs it) and ends each
 * with conn__event_end. Returns a malloc'd array of *count (NULL if none or
 * out of memory, logged). */
static ps_conn **conn__collect(ps_engine *e, int (*pick)(const ps_conn *c, void *arg), void *arg, size_t *count) {
  ps_conn **held = NULL, *c;
  size_t n = 0, cap = 0, missed = 0;
  AcquireSRWLockExclusive(&e->lock);
  for (c = e->conns; c != NULL; c = c->next) {
    AcquireSRWLockExclusive(&c->lock);
    /* refs == 0: its endgame is waiting for the engine lock to unlink it.
     * It must not be revived. */
    if (c->refs != 0 && (pick == NULL || pick(c, arg))) {
      if (n == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        ps_conn **grown = (ps_conn **)realloc(held, ncap * sizeof(*held));
        if (grown != NULL) {
          held = grown;
          cap = ncap;
        }
      }
      if (n < cap) {
        conn__ref(c);
        held[n++] = c;
      } else {
        missed++;
      }
    }
    ReleaseSRWLockExclusive(&c->lock);
  }
  ReleaseSRWLockExclusive(&e->lock);
  /* Those it missed are found by the next sweep (or the stop's reset). */
  if (missed > 0) ps_log(PS_LOG_ERROR, "out of memory listing connections: %u left for later", (unsigned)missed);
  *count = n;
  return held;
}

/* An accepted socket that will not become a connection: reset it and give
 * its admission token back. */
static void conn__refuse(ps_engine *e, const ps_handler *h, SOCKET *s) {
  ps_sock_abort(e, s);
  if (h->flags & PS_HANDLER_MANAGEMENT) InterlockedDecrement64(&e->stat[PS_STAT_mgmt_open]);
  ps_engine__unadmit(e, h, 1);
}

void ps_conn_accepted(ps_engine *e, ps_bound_stats *stats, const ps_handler *h, void *ctx, SOCKET s,
                      const struct sockaddr *peer, int skip_ok, int proxy, const char *first, DWORD first_len,
                      ps_worker *w) {
  ps_conn *c;
  int skipping = 0, refuse = 0, counted = 0;
  BOOL nodelay = TRUE;
  SOCKADDR_STORAGE from;
  ps_ratelimit_key source;
  DWORD err;

  memset(&from, 0, sizeof(from));
  memcpy(&from, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  /* A management connection takes one of its own slots instead of the
   * admission token it never had (ps_engine__admit); over the allowance it
   * is reset at once, like the per-source limit below. */
  if ((h->flags & PS_HANDLER_MANAGEMENT) &&
      InterlockedIncrement64(&e->stat[PS_STAT_mgmt_open]) > PS_MANAGEMENT_CONNECTIONS_MAX) {
    InterlockedDecrement64(&e->stat[PS_STAT_mgmt_open]);
    InterlockedIncrement64(&e->stat[PS_STAT_refused_management]);
    ps_sock_abort(e, &s);
    return;
  }
  memset(&source, 0, sizeof(source));
  /* On a proxy listener only the trusted balancers may connect; the
   * per-source limit waits for the client their header names. */
  if (proxy && !conn__proxy_trusted(e, &from)) {
    InterlockedIncrement64(&e->stat[PS_STAT_refused_untrusted]);
    conn__refuse(e, h, &s);
    return;
  }
  /* The per-source limit first: a refused connection costs no association
   * and no allocation. It is reset at once (counted): unlike the global
   * limit there is no way to keep one source's clients in the backlog. */
  if (!proxy && e->cfg.max_connections_per_source != 0) {
    ps_sock_source_key(&e->cfg, &from, &source);
    if (!conn__source_acquire(e, &source)) {
      InterlockedIncrement64(&e->stat[PS_STAT_refused_source]);
      conn__refuse(e, h, &s);
      return;
    }
    counted = 1;
  }
  err = ps_sock_associate(e, s, skip_ok, &skipping);
  if (err != 0) {
    char msg[160];
    ps_log_limited(&e->warn[PS_WARN_ACCEPTED], PS_LOG_ERROR, "accepted connection: CreateIoCompletionPort failed: %s",
                   ps_errstr(err, msg, sizeof(msg)));
    if (counted) conn__source_release(e, &source);
    conn__refuse(e, h, &s);
    return;
  }
  /* Request/response protocols must not wait for Nagle and delayed ACKs. */
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&nodelay, (int)sizeof(nodelay));
  if (e->cfg.keepalive_ms != 0) {
    /* Finds peers that vanished without FIN or RST (power loss, a dropped
     * NAT mapping): SIO_KEEPALIVE_VALS sets the idle time and the probe
     * interval per socket (Windows sends 10 probes, not configurable since
     * Vista); the system-wide default idle time is two hours. */
    struct tcp_keepalive ka;
    DWORD ret = 0;
    ka.onoff = 1;
    ka.keepalivetime = e->cfg.keepalive_ms;
    ka.keepaliveinterval = 1000;
    if (WSAIoctl(s, SIO_KEEPALIVE_VALS, &ka, (DWORD)sizeof(ka), NULL, 0, &ret, NULL, NULL) != 0) {
      char msg[160];
      ps_log(PS_LOG_DEBUG, "accepted connection: SIO_KEEPALIVE_VALS failed: %s",
             ps_errstr((unsigned long)WSAGetLastError(), msg, sizeof(msg)));
    }
  }

  c = (ps_conn *)calloc(1, CONN_STATE_OFFSET + h->state_size);
  if (c == NULL) {
    ps_log_limited(&e->warn[PS_WARN_ACCEPTED], PS_LOG_ERROR, "accepted connection: out of memory; resetting it");
    if (counted) conn__source_release(e, &source);
    conn__refuse(e, h, &s);
    return;
  }
  c->eng = e;
  c->handler = h;
  c->ctx = ctx;
  c->sock = s;
  InitializeSRWLock(&c->lock);
  c->refs = 2; /* the open reference and ours */
  c->flags = (skipping ? C_SKIP : 0) | (counted ? C_SOURCE : 0) | (proxy ? C_PROXY : 0) |
             ((h->flags & PS_HANDLER_MANAGEMENT) ? C_MGMT : 0);
  c->recv_op.kind = PS_OP_RECV;
  c->send_op.kind = PS_OP_SEND;
  c->recv_op.non_ifs = c->send_op.non_ifs = !skip_ok; /* skip_ok: the listener's provider is IFS */
  c->last_io_ms = c->send_ms = GetTickCount64();
  c->peer = from;
  c->source = source;
  c->accepted_ms = c->last_io_ms;
  c->stats = stats;

  AcquireSRWLockExclusive(&e->lock);
  if (e->stopping) refuse = 1;
  if (!refuse) {
    c->next = e->conns;
    if (e->conns != NULL) e->conns->prev = c;
    e->conns = c;
    conn__count(c, PS_STAT_conns_open, 1); /* a management one holds mgmt_open already */
    conn__count(c, PS_STAT_conns_total, 1);
    if (skipping) conn__count(c, PS_STAT_conns_skip, 1);
    if (stats != NULL) InterlockedIncrement64(&stats->v[PS_LSTAT_conns_accepted]);
  }
  ReleaseSRWLockExclusive(&e->lock);
  if (refuse) {
    InterlockedIncrement64(&e->stat[PS_STAT_refused_stopping]);
    if (counted) conn__source_release(e, &source);
    conn__refuse(e, h, &c->sock);
    free(c);
    return;
  }

  conn__event_begin(c, w, e->cfg.inline_max);
  if (!proxy) {
    c->flags |= C_OPENED;
    if (h->on_open != NULL) h->on_open(c);
  }
  if (first != NULL && !(c->flags & C_CLOSING)) conn__accepted_data(c, first, first_len);
  conn__event_end(c);
}

void ps_conn_on_completion(ps_op *op, DWORD bytes, DWORD err, ps_worker *w, unsigned budget) {
  ps_conn *c = op->kind == PS_OP_RECV ? ps_container_of(op, ps_conn, recv_op) : ps_container_of(op, ps_conn, send_op);
  conn__event_begin(c, w, budget);
  /* A completion only ever arrives for an op we posted and did not complete
   * inline (a deferred inline result keeps its op pending). */
  assert(c->flags & (op->kind == PS_OP_RECV ? C_RECV_PENDING : C_SEND_PENDING));
  if (op->kind == PS_OP_RECV) conn__recv_done(c, bytes, err);
  else conn__send_done(c, bytes, err);
  conn__event_end(c); /* drops the completed op's reference */
}

void ps_conn_close_all(ps_engine *e, int abort) {
  size_t count, i;
  ps_conn **held = conn__collect(e, NULL, NULL, &count);
  for (i = 0; i < count; i++) {
    ps_conn *c = held[i];
    conn__event_begin(c, NULL, e->cfg.inline_max);
    if (abort) {
      conn__end(c, PS_STAT_closed_stop);
      conn__close_socket(c, CLOSE_RESET);
    } else {
      ps_session_close(c);
    }
    conn__event_end(c);
  }
  free(held);
}

void ps_conn_log_live(ps_engine *e) {
  typedef struct live_line {
    SOCKADDR_STORAGE peer;
    unsigned flags, refs;
    size_t unsent;
  } live_line;
  live_line *lines;
  ps_conn *c;
  size_t n = 0, cap = 0, i;
  char peer[80];
  /* Copied under the locks, logged after them: no write under a lock. */
  AcquireSRWLockShared(&e->lock);
  for (c = e->conns; c != NULL; c = c->next) cap++;
  lines = (live_line *)calloc(cap ? cap : 1, sizeof(*lines));
  for (c = e->conns; c != NULL && lines != NULL && n < cap; c = c->next) {
    AcquireSRWLockExclusive(&c->lock);
    lines[n].peer = c->peer;
    lines[n].flags = c->flags;
    lines[n].refs = c->refs;
    lines[n].unsent = c->sq_bytes;
    n++;
    ReleaseSRWLockExclusive(&c->lock);
  }
  ReleaseSRWLockShared(&e->lock);
  if (lines == NULL) {
    ps_log(PS_LOG_ERROR, "  (out of memory listing %u connections)", (unsigned)cap);
    return;
  }
  for (i = 0; i < n; i++)
    ps_log(PS_LOG_ERROR, "  connection from %s: flags 0x%x, references %u, %llu bytes unsent",
           ps_sockaddr_format((const struct sockaddr *)&lines[i].peer, peer, sizeof(peer)), lines[i].flags,
           lines[i].refs, (unsigned long long)lines[i].unsent);
  free(lines);
}

ULONGLONG ps_conn_retry(ps_engine *e, ULONGLONG now) {
  ps_conn *c, **pp, *due = NULL;
  ULONGLONG next = 0;
  /* Take the due connections off the list (their references come along),
   * then pump each under its own lock, as a completion would. */
  AcquireSRWLockExclusive(&e->retry_lock);
  for (pp = &e->retry_conns; (c = *pp) != NULL;) {
    if (ps_retry_take(&c->retry, now)) {
      *pp = c->retry_next;
      c->retry_listed = 0;
      c->retry_due_next = due;
      due = c;
    } else {
      ps_retry_earliest(&c->retry, &next);
      pp = &c->retry_next;
    }
  }
  ReleaseSRWLockExclusive(&e->retry_lock);
  while (due != NULL) {
    c = due;
    due = c->retry_due_next;
    conn__event_begin(c, NULL, e->cfg.inline_max);
    c->flags &= ~(C_RECV_WAIT | C_SEND_WAIT);
    if (c->first != NULL && !(c->flags & C_CLOSED)) conn__accepted_data(c, c->first, c->first_len);
    conn__pump(c);
    /* Every post went out: the streak of failures is over. A new failure
     * re-listed it and woke the housekeeper, which recomputes `next`. */
    if (!(c->flags & (C_RECV_WAIT | C_SEND_WAIT))) {
      c->retry_since = 0;
      ps_retry_reset(&c->retry);
    }
    conn__unlock_release(c); /* the list's reference, which came along */
  }
  return next;
}

/* What a sweep found a connection to need. */
enum { SWEEP_OK = 0, SWEEP_IDLE, SWEEP_LINGER, SWEEP_SEND, SWEEP_PROXY, SWEEP_HANDLER };

/* Whether `timeout_ms` (0 = never) has passed since `since`. A worker may
 * have stamped `since` after the sweep read `now`: that is no time at all,
 * not an unsigned wrap-around. */
static int conn__expired(ULONGLONG now, ULONGLONG since, unsigned timeout_ms) {
  return timeout_ms != 0 && now > since && now - since >= timeout_ms;
}

static int conn__deadline(const ps_conn *c, const ps_engine_config *cfg, ULONGLONG now) {
  unsigned f = c->flags;
  if (f & C_CLOSED) return SWEEP_OK;
  if ((f & C_SEND_PENDING) && conn__expired(now, c->send_ms, cfg->send_timeout_ms)) return SWEEP_SEND;
  if ((f & (C_PROXY | C_CLOSING)) == C_PROXY && conn__expired(now, c->accepted_ms, cfg->proxy_timeout_ms))
    return SWEEP_PROXY;
  if ((f & C_SHUT) && conn__expired(now, c->shut_ms, cfg->linger_timeout_ms)) return SWEEP_LINGER;
  if (!(f & C_CLOSING) && c->deadline_at != 0 && now >= c->deadline_at) return SWEEP_HANDLER;
  if (!(f & C_CLOSING) && conn__expired(now, c->last_io_ms, cfg->idle_timeout_ms)) return SWEEP_IDLE;
  return SWEEP_OK;
}

/* conn__collect's pick for the sweep: past a deadline at `now`. */
typedef struct conn__sweep_arg {
  const ps_engine_config *cfg;
  ULONGLONG now;
} conn__sweep_arg;

static int conn__past_deadline(const ps_conn *c, void *arg) {
  const conn__sweep_arg *a = (const conn__sweep_arg *)arg;
  return conn__deadline(c, a->cfg, a->now) != SWEEP_OK;
}

void ps_conn_sweep(ps_engine *e, ULONGLONG now) {
  conn__sweep_arg arg;
  ps_conn **held, *c;
  size_t count, i;
  arg.cfg = &e->cfg;
  arg.now = now;
  held = conn__collect(e, conn__past_deadline, &arg, &count);
  for (i = 0; i < count; i++) {
    c = held[i];
    conn__event_begin(c, NULL, e->cfg.inline_max);
    switch (conn__deadline(c, &e->cfg, now)) {
      case SWEEP_SEND:
        /* The peer stopped reading: what is queued will never go. */
        conn__count(c, PS_STAT_timeouts_send, 1);
        conn__end(c, PS_STAT_closed_send);
        conn__close_socket(c, CLOSE_RESET);
        break;
      case SWEEP_PROXY:
        /* A balancer that sends no header in time is broken or is not one. */
        InterlockedIncrement64(&e->stat[PS_STAT_proxy_timeout]);
        conn__end(c, PS_STAT_closed_proxy);
        conn__close_socket(c, CLOSE_RESET);
        break;
      case SWEEP_LINGER:
        /* Our FIN went out long ago and the peer never answered with its
         * own: everything we sent was handed over, so close now. */
        conn__count(c, PS_STAT_timeouts_linger, 1);
        conn__end(c, PS_STAT_closed_linger);
        conn__close_socket(c, CLOSE_GRACEFUL);
        break;
      case SWEEP_HANDLER:
        /* Counted for every service, management ones included: it is
         * their own deadline (the admin endpoint's request head). */
        InterlockedIncrement64(&e->stat[PS_STAT_timeouts_deadline]);
        c->deadline_at = 0;
        if (c->handler->on_deadline != NULL) c->handler->on_deadline(c);
        else ps_session_close(c);
        break;
      case SWEEP_IDLE:
        conn__count(c, PS_STAT_timeouts_idle, 1);
        conn__end(c, PS_STAT_closed_idle);
        ps_session_close(c);
        break;
      default:
        break; /* it moved on between the two looks */
    }
    conn__event_end(c);
  }
  free(held);
}
