/* The Windows backend: overlapped sockets on one I/O completion port.
 * ConnectEx (loaded with SIO_GET_EXTENSION_FUNCTION_POINTER, as Windows
 * documents), then one WSASend and one WSARecv outstanding per connection;
 * worker threads dequeue completions in batches with
 * GetQueuedCompletionStatusEx. Every operation completes through the port
 * (no skip-on-success): one shape for every path, and the client's cost is
 * not what is being measured.
 *
 * Concurrency rule: a connection's state changes only while holding its
 * lock; its send and receive completions may arrive on two workers at once.
 * Each worker passes its own load_stats. A connection's socket is closed only
 * under its lock, and the connection connects again (storm) or is finished
 * only when its pending count is zero, so no completion can arrive for a
 * socket that has been replaced.
 *
 * UDP mode: a connected datagram socket per connection (connect() on UDP
 * only sets the default peer and completes at once; its result is queued
 * through the port as the connect completion, so every connection starts on
 * a worker the same way). One WSASend and one WSARecv outstanding as for
 * TCP; the workers wake at least every IOCP_EXPIRE_MS to count overdue
 * datagrams lost and send into the freed slots. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include "load_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_compat.h"

#define IOCP_BATCH 64
/* Connects in flight at once while the connections are being opened. */
#define IOCP_CONNECT_WINDOW 128u
/* How long the stop waits for cancelled operations to complete. */
#define IOCP_STOP_WAIT_MS 5000u
/* udp: how often the workers look for lost datagrams, at most. */
#define IOCP_EXPIRE_MS 10u

/* Completion keys. KEY_RESULT carries the result of an operation the system
 * will not complete (one that failed to post, or a UDP connect, which is
 * synchronous): its error (0: success) is in op->error, and it goes through
 * the port like any completion so that failure handling never recurses. */
#define KEY_IO ((ULONG_PTR)0)
#define KEY_RESULT ((ULONG_PTR)1)
#define KEY_QUIT ((ULONG_PTR)2)

typedef enum iocp_op_kind { OP_CONNECT = 1, OP_RECV, OP_SEND } iocp_op_kind;

typedef struct iocp_op {
  OVERLAPPED ov; /* first: the OVERLAPPED* the port returns is the op */
  iocp_op_kind kind;
  DWORD error; /* KEY_RESULT packets only */
} iocp_op;

enum {
  F_STARTED = 0x01,    /* connected at least once (or trying to) */
  F_CONNECTING = 0x02, /* connect_op pending */
  F_RECV = 0x04,       /* recv_op pending */
  F_SEND = 0x08,       /* send_op pending */
  F_OPEN = 0x10,       /* connected, socket open */
  F_CLOSING = 0x20,    /* socket closed; waiting for pending ops before after_close */
  F_DEAD = 0x40,       /* finished: never connects again */
  F_NEXT_DONE = 0x80   /* has started the next connection of the window */
};

typedef struct iocp_conn {
  load_conn lc;
  load_io *io;
  SRWLOCK lock;
  SOCKET sock;
  unsigned flags;
  unsigned pending;      /* operations posted and not completed */
  load_next after_close; /* LOAD_RECONNECT or LOAD_DROP, once pending is 0 */
  iocp_op connect_op, recv_op, send_op;
} iocp_conn;

typedef struct iocp_worker {
  load_io *io;
  HANDLE thread;
  load_stats stats;
} iocp_worker;

struct load_io {
  load_run *run;
  HANDLE port;
  LPFN_CONNECTEX connect_ex;
  iocp_conn *conns;
  unsigned conn_count;
  iocp_worker *workers;
  unsigned worker_count;
  unsigned workers_started;
  volatile LONG next_start;    /* the next connection the window opens */
  volatile LONG64 pending_ops; /* over all connections */
  volatile LONG64 next_expire; /* udp: when a worker looks for lost datagrams next (ns) */
};

/* ---- errors ------------------------------------------------------------ */

static load_end iocp__end_kind(DWORD err) {
  switch (err) {
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED:
      return LOAD_END_REFUSED;
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAENETRESET:
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED:
      return LOAD_END_RESET;
    default:
      return LOAD_END_ERROR;
  }
}

static const char *iocp__errstr(const char *call, DWORD err, char *buf, size_t size) {
  char text[160];
  size_t n;
  DWORD len = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err, 0, text,
                             (DWORD)sizeof(text), NULL);
  if (len == 0) text[0] = '\0';
  n = strlen(text);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ' || text[n - 1] == '.'))
    text[--n] = '\0';
  snprintf(buf, size, "%s: error %lu%s%s", call, (unsigned long)err, n ? " " : "", text);
  return buf;
}

/* ---- a connection (its lock held) -------------------------------------- */

static void iocp__posted(iocp_conn *c, unsigned flag) {
  c->flags |= flag;
  c->pending++;
  InterlockedIncrement64(&c->io->pending_ops);
}

/* Closes the socket; the connection connects again or finishes (`next`)
 * once every pending operation has completed (iocp__settle). */
static void iocp__close(iocp_conn *c, load_stats *st, load_next next) {
  if (c->flags & F_CLOSING) return;
  c->flags |= F_CLOSING;
  c->flags &= ~F_OPEN;
  c->after_close = next;
  if (c->sock != INVALID_SOCKET) {
    /* Cancel first: closesocket alone does not always complete a pending
     * WSASend under Wine, and CancelIoEx is the documented way anyway. */
    if (c->pending > 0) CancelIoEx((HANDLE)c->sock, NULL);
    closesocket(c->sock);
    c->sock = INVALID_SOCKET;
  }
  load_conn_closed(&c->lc, st);
}

static void iocp__fail(iocp_conn *c, load_stats *st, load_end why, const char *call, DWORD err) {
  char msg[256];
  load_next next = load_conn_failed(&c->lc, st, why, call != NULL ? iocp__errstr(call, err, msg, sizeof(msg)) : NULL);
  iocp__close(c, st, next);
}

/* Queues a KEY_RESULT packet for an op the system will not complete. */
static void iocp__post_result(iocp_conn *c, iocp_op *op, unsigned flag, DWORD err) {
  op->error = err;
  iocp__posted(c, flag);
  if (!PostQueuedCompletionStatus(c->io->port, 0, KEY_RESULT, &op->ov)) {
    /* The port is gone: nothing can complete any more. */
    fprintf(stderr, "portload: fatal: PostQueuedCompletionStatus failed: error %lu\n", (unsigned long)GetLastError());
    abort();
  }
}

static void iocp__connect(iocp_conn *c) {
  load_io *io = c->io;
  const load_addr *a = &io->run->target;
  SOCKADDR_STORAGE any;
  BOOL nodelay = TRUE;
  DWORD err = 0;
  int udp = io->run->opt.mode == LOAD_MODE_UDP;
  load_conn_connecting(&c->lc, load_now_ns());
  c->flags = (c->flags & F_NEXT_DONE) | F_STARTED;
  memset(&c->connect_op.ov, 0, sizeof(c->connect_op.ov));
  c->sock = WSASocketW(a->family, udp ? SOCK_DGRAM : SOCK_STREAM, udp ? IPPROTO_UDP : IPPROTO_TCP, NULL, 0,
                       WSA_FLAG_OVERLAPPED);
  if (c->sock == INVALID_SOCKET) {
    iocp__post_result(c, &c->connect_op, F_CONNECTING, (DWORD)WSAGetLastError());
    return;
  }
  if (udp) {
    if (connect(c->sock, (const struct sockaddr *)(const void *)a->u.bytes, a->len) != 0)
      err = (DWORD)WSAGetLastError();
    else if (CreateIoCompletionPort((HANDLE)c->sock, io->port, KEY_IO, 0) == NULL) err = GetLastError();
    if (err != 0) {
      closesocket(c->sock);
      c->sock = INVALID_SOCKET;
    }
    /* Success or not, the result goes through the port (error 0: connected). */
    iocp__post_result(c, &c->connect_op, F_CONNECTING, err);
    return;
  }
  /* ConnectEx needs a bound socket. */
  memset(&any, 0, sizeof(any));
  any.ss_family = (ADDRESS_FAMILY)a->family;
  if (bind(c->sock, (const struct sockaddr *)&any,
           a->family == AF_INET6 ? (int)sizeof(SOCKADDR_IN6) : (int)sizeof(SOCKADDR_IN)) != 0)
    err = (DWORD)WSAGetLastError();
  else if (CreateIoCompletionPort((HANDLE)c->sock, io->port, KEY_IO, 0) == NULL) err = GetLastError();
  if (err != 0) {
    closesocket(c->sock);
    c->sock = INVALID_SOCKET;
    iocp__post_result(c, &c->connect_op, F_CONNECTING, err);
    return;
  }
  /* Request/response: no Nagle delay on small messages. */
  setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, (const char *)&nodelay, (int)sizeof(nodelay));
  iocp__posted(c, F_CONNECTING);
  if (!io->connect_ex(c->sock, (const struct sockaddr *)(const void *)a->u.bytes, a->len, NULL, 0, NULL,
                      &c->connect_op.ov)) {
    err = (DWORD)WSAGetLastError();
    if (err != ERROR_IO_PENDING) {
      /* Not posted after all: undo, then report it through the port. */
      c->pending--;
      InterlockedDecrement64(&io->pending_ops);
      iocp__post_result(c, &c->connect_op, F_CONNECTING, err);
    }
  }
}

/* Posts the send and the receive that are due. */
static void iocp__pump(iocp_conn *c, load_stats *st) {
  if ((c->flags & (F_OPEN | F_CLOSING)) != F_OPEN) return;
  if (!(c->flags & F_SEND)) {
    const unsigned char *data;
    size_t len;
    if (load_conn_next_send(&c->lc, load_now_ns(), &data, &len)) {
      WSABUF b;
      DWORD sent = 0;
      b.buf = (CHAR *)(size_t)data; /* WSABUF is not const; WSASend only reads it */
      b.len = (ULONG)len;
      memset(&c->send_op.ov, 0, sizeof(c->send_op.ov));
      iocp__posted(c, F_SEND);
      /* 0 (done at once) still queues a completion: no skip-on-success here. */
      if (WSASend(c->sock, &b, 1, &sent, 0, &c->send_op.ov, NULL) != 0) {
        DWORD err = (DWORD)WSAGetLastError();
        if (err != WSA_IO_PENDING) {
          c->flags &= ~F_SEND;
          c->pending--;
          InterlockedDecrement64(&c->io->pending_ops);
          iocp__fail(c, st, iocp__end_kind(err), "WSASend", err);
          return;
        }
      }
    }
  }
  if (!(c->flags & F_RECV)) {
    unsigned char *buf;
    size_t cap;
    WSABUF b;
    DWORD got = 0, flags = 0;
    load_conn_recv_buf(&c->lc, &buf, &cap);
    b.buf = (CHAR *)buf;
    b.len = (ULONG)cap;
    memset(&c->recv_op.ov, 0, sizeof(c->recv_op.ov));
    iocp__posted(c, F_RECV);
    if (WSARecv(c->sock, &b, 1, &got, &flags, &c->recv_op.ov, NULL) != 0) {
      DWORD err = (DWORD)WSAGetLastError();
      if (err != WSA_IO_PENDING) {
        c->flags &= ~F_RECV;
        c->pending--;
        InterlockedDecrement64(&c->io->pending_ops);
        iocp__fail(c, st, iocp__end_kind(err), "WSARecv", err);
      }
    }
  }
}

/* After a close, once nothing is pending: connect again, or finish. */
static void iocp__settle(iocp_conn *c) {
  if (!(c->flags & F_CLOSING) || c->pending > 0) return;
  c->flags &= ~F_CLOSING;
  if (c->after_close == LOAD_RECONNECT && !load_stopping(c->io->run)) iocp__connect(c);
  else c->flags |= F_DEAD;
}

/* Opens the next connection of the window, if any is left. No lock held. */
static void iocp__start_next(load_io *io) {
  LONG index = InterlockedIncrement(&io->next_start) - 1;
  iocp_conn *c;
  if (index < 0 || (unsigned)index >= io->conn_count) return;
  c = &io->conns[index];
  AcquireSRWLockExclusive(&c->lock);
  if (!(c->flags & (F_STARTED | F_DEAD)) && !load_stopping(io->run)) iocp__connect(c);
  ReleaseSRWLockExclusive(&c->lock);
}

static void iocp__on_completion(iocp_worker *w, iocp_op *op, DWORD bytes, ULONG_PTR key) {
  iocp_conn *c = op->kind == OP_CONNECT ? ps_container_of(op, iocp_conn, connect_op)
                 : op->kind == OP_RECV  ? ps_container_of(op, iocp_conn, recv_op)
                                        : ps_container_of(op, iocp_conn, send_op);
  load_stats *st = &w->stats;
  DWORD err = 0;
  int start_next = 0;
  load_next next;

  AcquireSRWLockExclusive(&c->lock);
  c->pending--;
  InterlockedDecrement64(&c->io->pending_ops);
  if (key == KEY_RESULT) {
    err = op->error;
  } else if (op->ov.Internal != 0 && !(c->flags & F_CLOSING)) {
    /* The WSA error for the op's NTSTATUS (only while the socket is ours). */
    DWORD flags = 0;
    if (!WSAGetOverlappedResult(c->sock, &op->ov, &bytes, FALSE, &flags)) err = (DWORD)WSAGetLastError();
    if (err == 0) err = ERROR_GEN_FAILURE;
  }

  switch (op->kind) {
    case OP_CONNECT:
      c->flags &= ~F_CONNECTING;
      if (!(c->flags & F_NEXT_DONE)) {
        c->flags |= F_NEXT_DONE;
        start_next = 1;
      }
      if (c->flags & F_CLOSING) break;
      if (err != 0) {
        iocp__fail(c, st, iocp__end_kind(err), "ConnectEx", err);
        break;
      }
      /* Makes getpeername, shutdown and the like work on the socket (a
       * ConnectEx socket; a UDP socket was connected with connect()). */
      if (c->io->run->opt.mode != LOAD_MODE_UDP) setsockopt(c->sock, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
      c->flags |= F_OPEN;
      next = load_conn_connected(&c->lc, st, load_now_ns());
      if (next != LOAD_GO) iocp__close(c, st, next);
      else iocp__pump(c, st);
      break;
    case OP_RECV:
      c->flags &= ~F_RECV;
      if (c->flags & F_CLOSING) break;
      if (err != 0) {
        iocp__fail(c, st, iocp__end_kind(err), "WSARecv", err);
        break;
      }
      if (bytes == 0 && c->io->run->opt.mode != LOAD_MODE_UDP) {
        /* (An empty datagram is not an end of stream: load_conn reports it.) */
        iocp__fail(c, st, LOAD_END_EOF, NULL, 0);
        break;
      }
      next = load_conn_received(&c->lc, st, bytes, load_now_ns());
      if (next != LOAD_GO) iocp__close(c, st, next);
      else iocp__pump(c, st);
      break;
    case OP_SEND:
      c->flags &= ~F_SEND;
      if (c->flags & F_CLOSING) break;
      if (err != 0) {
        iocp__fail(c, st, iocp__end_kind(err), "WSASend", err);
        break;
      }
      load_conn_sent(&c->lc, st, bytes, load_now_ns());
      iocp__pump(c, st);
      break;
  }
  iocp__settle(c);
  ReleaseSRWLockExclusive(&c->lock);
  if (start_next) iocp__start_next(c->io);
}

/* udp: one worker at a time counts overdue datagrams lost and fills the
 * freed slots. */
static void iocp__expire(iocp_worker *w) {
  load_io *io = w->io;
  uint64_t now = load_now_ns(), every = (uint64_t)IOCP_EXPIRE_MS * 1000000u;
  LONG64 due = io->next_expire;
  unsigned i;
  if ((uint64_t)due > now || InterlockedCompareExchange64(&io->next_expire, (LONG64)(now + every), due) != due) return;
  for (i = 0; i < io->conn_count; i++) {
    iocp_conn *c = &io->conns[i];
    AcquireSRWLockExclusive(&c->lock);
    if ((c->flags & (F_OPEN | F_CLOSING)) == F_OPEN && load_conn_expire(&c->lc, &w->stats, now) > 0)
      iocp__pump(c, &w->stats);
    ReleaseSRWLockExclusive(&c->lock);
  }
}

static DWORD WINAPI iocp__worker_main(LPVOID arg) {
  iocp_worker *w = (iocp_worker *)arg;
  OVERLAPPED_ENTRY entries[IOCP_BATCH];
  int udp = w->io->run->opt.mode == LOAD_MODE_UDP;
  for (;;) {
    ULONG count = 0, i;
    unsigned quits = 0;
    if (udp) iocp__expire(w);
    if (!GetQueuedCompletionStatusEx(w->io->port, entries, IOCP_BATCH, &count, udp ? IOCP_EXPIRE_MS : INFINITE,
                                     FALSE)) {
      if (udp && GetLastError() == WAIT_TIMEOUT) continue;
      /* Only a closed port fails an infinite wait, and it is closed after
       * the workers are joined: a bug we cannot run past. */
      fprintf(stderr, "portload: fatal: GetQueuedCompletionStatusEx failed: error %lu\n",
              (unsigned long)GetLastError());
      abort();
    }
    for (i = 0; i < count; i++) {
      if (entries[i].lpCompletionKey == KEY_QUIT) {
        quits++;
        continue;
      }
      iocp__on_completion(w, (iocp_op *)(void *)entries[i].lpOverlapped, entries[i].dwNumberOfBytesTransferred,
                          entries[i].lpCompletionKey);
    }
    if (quits > 0) {
      /* One quit packet per worker; pass on the extras dequeued here. */
      while (--quits > 0) PostQueuedCompletionStatus(w->io->port, 0, KEY_QUIT, NULL);
      return 0;
    }
  }
}

/* ---- the backend ------------------------------------------------------- */

static int iocp__load_connect_ex(load_io *io) {
  GUID guid = WSAID_CONNECTEX;
  DWORD bytes = 0;
  int rc = 0;
  SOCKET s = WSASocketW(io->run->target.family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  if (s == INVALID_SOCKET) {
    char msg[256];
    fprintf(stderr, "portload: %s\n", iocp__errstr("WSASocket", (DWORD)WSAGetLastError(), msg, sizeof(msg)));
    return -1;
  }
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, (DWORD)sizeof(guid), &io->connect_ex,
               (DWORD)sizeof(io->connect_ex), &bytes, NULL, NULL) != 0) {
    char msg[256];
    fprintf(stderr, "portload: loading ConnectEx: %s\n",
            iocp__errstr("WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)", (DWORD)WSAGetLastError(), msg, sizeof(msg)));
    rc = -1;
  }
  closesocket(s);
  return rc;
}

const char *load_io_backend(void) { return "iocp"; }

int load_io_new(load_run *run, load_io **out) {
  load_io *io;
  unsigned i;
  *out = NULL;
  io = (load_io *)calloc(1, sizeof(*io));
  if (io == NULL) goto oom;
  io->run = run;
  io->conn_count = run->opt.connections;
  io->worker_count = run->opt.threads;
  io->conns = (iocp_conn *)calloc(io->conn_count, sizeof(iocp_conn));
  io->workers = (iocp_worker *)calloc(io->worker_count, sizeof(iocp_worker));
  if (io->conns == NULL || io->workers == NULL) goto oom;
  for (i = 0; i < io->worker_count; i++) {
    io->workers[i].io = io;
    load_stats_init(&io->workers[i].stats);
  }
  for (i = 0; i < io->conn_count; i++) {
    iocp_conn *c = &io->conns[i];
    c->io = io;
    c->sock = INVALID_SOCKET;
    InitializeSRWLock(&c->lock);
    c->connect_op.kind = OP_CONNECT;
    c->recv_op.kind = OP_RECV;
    c->send_op.kind = OP_SEND;
    if (load_conn_init(&c->lc, run, i) != 0) goto oom;
  }
  if (iocp__load_connect_ex(io) != 0) {
    load_io_delete(io);
    return -1;
  }
  io->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, io->worker_count);
  if (io->port == NULL) {
    char msg[256];
    fprintf(stderr, "portload: %s\n", iocp__errstr("CreateIoCompletionPort", GetLastError(), msg, sizeof(msg)));
    load_io_delete(io);
    return -1;
  }
  *out = io;
  return 0;
oom:
  fprintf(stderr, "portload: out of memory for %u connections\n", run->opt.connections);
  load_io_delete(io);
  return -1;
}

int load_io_start(load_io *io) {
  unsigned i, window = io->conn_count < IOCP_CONNECT_WINDOW ? io->conn_count : IOCP_CONNECT_WINDOW;
  for (i = 0; i < io->worker_count; i++) {
    io->workers[i].thread = CreateThread(NULL, 0, iocp__worker_main, &io->workers[i], 0, NULL);
    if (io->workers[i].thread == NULL) {
      char msg[256];
      fprintf(stderr, "portload: %s\n", iocp__errstr("CreateThread", GetLastError(), msg, sizeof(msg)));
      return -1;
    }
    io->workers_started++;
  }
  io->next_start = (LONG)window;
  for (i = 0; i < window; i++) {
    iocp_conn *c = &io->conns[i];
    AcquireSRWLockExclusive(&c->lock);
    iocp__connect(c);
    ReleaseSRWLockExclusive(&c->lock);
  }
  return 0;
}

void load_io_stop(load_io *io) {
  unsigned i, waited = 0;
  if (io->workers_started == 0) return;
  /* 1. Close every socket; the pending operations complete, cancelled. The
   *    main thread's closes count against worker 0's stats (atomics). */
  for (i = 0; i < io->conn_count; i++) {
    iocp_conn *c = &io->conns[i];
    AcquireSRWLockExclusive(&c->lock);
    c->flags |= F_DEAD;
    if (c->sock != INVALID_SOCKET || (c->flags & F_CONNECTING)) iocp__close(c, &io->workers[0].stats, LOAD_DROP);
    iocp__settle(c);
    ReleaseSRWLockExclusive(&c->lock);
  }
  /* 2. Wait for them (bounded: a hung stop must not hang a benchmark). */
  while (io->pending_ops > 0 && waited < IOCP_STOP_WAIT_MS) {
    Sleep(10);
    waited += 10;
  }
  if (io->pending_ops > 0)
    fprintf(stderr, "portload: warning: %lld operation(s) still pending %u ms after closing every socket\n",
            (long long)io->pending_ops, IOCP_STOP_WAIT_MS);
  /* 3. Wake the workers and join them. */
  for (i = 0; i < io->workers_started; i++) PostQueuedCompletionStatus(io->port, 0, KEY_QUIT, NULL);
  for (i = 0; i < io->workers_started; i++) {
    WaitForSingleObject(io->workers[i].thread, INFINITE);
    CloseHandle(io->workers[i].thread);
  }
  io->workers_started = 0;
}

unsigned load_io_stats_count(const load_io *io) { return io->worker_count; }
load_stats *load_io_stats(load_io *io, unsigned index) { return &io->workers[index].stats; }
unsigned load_io_conn_count(const load_io *io) { return io->conn_count; }
const load_conn *load_io_conn(const load_io *io, unsigned index) { return &io->conns[index].lc; }

void load_io_delete(load_io *io) {
  unsigned i;
  if (io == NULL) return;
  load_io_stop(io);
  if (io->pending_ops > 0) return; /* the system may still write into them: leak, the process is ending */
  if (io->port != NULL) CloseHandle(io->port);
  if (io->conns != NULL)
    for (i = 0; i < io->conn_count; i++) load_conn_free(&io->conns[i].lc);
  free(io->conns);
  free(io->workers);
  free(io);
}
