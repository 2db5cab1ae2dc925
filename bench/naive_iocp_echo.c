/* naive_iocp_echo: the textbook I/O completion port echo server, the
 * baseline every portserve figure is divided by (issue 6). Deliberately
 * plain, as the samples and tutorials write it:
 *   - AcceptEx (16 posted, no receive data), the listening socket and every
 *     connection on one completion port;
 *   - per connection one 8 KB buffer and one operation at a time: WSARecv
 *     into the buffer, WSASend of what arrived (again until all of it went),
 *     WSARecv again;
 *   - worker threads in GetQueuedCompletionStatus, one completion per call;
 *     as many as portserve runs (one per processor unless --threads N says
 *     otherwise), with the port's concurrency equal to that number, so a
 *     figure divided by this one compares the code, not the thread count;
 *   - no skip-on-success, no batching, no buffer pool, no zero-byte reads.
 * The one addition to the textbook is TCP_NODELAY (see naive__on_accept).
 *
 * With --udp it is the textbook UDP echo instead (issue 12): one UDP socket
 * on the port, NAIVE_UDP_RECVS overlapped WSARecvFrom posted (as many as
 * portserve's default --udp-receives), each datagram sent back with an
 * overlapped WSASendTo from the same buffer, and the WSARecvFrom posted
 * again when that send completes; the same workers, one completion per call.
 *
 *   naive_iocp_echo.exe [--threads N] [--udp] [ADDRESS:PORT]
 *                        ADDRESS:PORT defaults to 127.0.0.1:0 (any free port),
 *                        N to the number of processors
 *
 * Prints "listening on tcp ADDRESS:PORT" (or "listening on udp ...") to
 * stderr; Ctrl+C (SIGINT under Wine) stops it: close the listener, cancel
 * every connection, join the threads, exit 0. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"

#define NAIVE_THREADS_MAX MAXIMUM_WAIT_OBJECTS /* joined with one WaitForMultipleObjects */
#define NAIVE_ACCEPTS 16
#define NAIVE_BUF 8192
#define NAIVE_ADDR_LEN ((DWORD)sizeof(SOCKADDR_STORAGE) + 16)
#define NAIVE_STOP_WAIT_MS 5000
#define NAIVE_UDP_RECVS 8
#define NAIVE_UDP_BUF 65536 /* the largest datagram */

/* Completion keys: the listener's, a quit request; any other key is the
 * naive_conn the completion belongs to (the textbook "per-handle data"). */
#define KEY_LISTENER ((ULONG_PTR)1)
#define KEY_QUIT ((ULONG_PTR)2)
#define KEY_UDP ((ULONG_PTR)3)

typedef struct naive_accept {
  OVERLAPPED ov; /* first: the OVERLAPPED* is the op */
  SOCKET sock;
  char addrs[2 * NAIVE_ADDR_LEN];
} naive_accept;

typedef struct naive_conn {
  OVERLAPPED ov; /* the one operation in flight */
  SOCKET sock;
  int writing; /* the op is a WSASend of buf[sent, len) */
  DWORD len, sent;
  struct naive_conn *prev, *next;
  char buf[NAIVE_BUF];
} naive_conn;

/* One datagram's round: WSARecvFrom into buf, WSASendTo of it back to from. */
typedef struct naive_dgram {
  OVERLAPPED ov; /* first: the OVERLAPPED* is the op */
  int sending;
  SOCKADDR_STORAGE from;
  INT from_len;
  char buf[NAIVE_UDP_BUF];
} naive_dgram;

typedef struct naive_server {
  HANDLE port;
  SOCKET listener; /* the TCP listener, or with --udp the UDP socket */
  int udp;
  naive_dgram *dgrams; /* [NAIVE_UDP_RECVS] */
  volatile LONG dgrams_pending;
  int family;
  LPFN_ACCEPTEX accept_ex;
  naive_accept accepts[NAIVE_ACCEPTS];
  volatile LONG accepts_pending;
  volatile LONG stopping;
  CRITICAL_SECTION lock; /* guards the connection list */
  naive_conn *conns;
  volatile LONG live;
  volatile LONG served;
  HANDLE threads[NAIVE_THREADS_MAX];
  DWORD thread_count;
} naive_server;

/* The console control handler has no context argument: the event it sets is
 * the one piece of process-wide state. */
static HANDLE naive__stop_event;

static BOOL WINAPI naive__on_ctrl(DWORD type) {
  if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT || type == CTRL_CLOSE_EVENT) {
    SetEvent(naive__stop_event);
    return TRUE;
  }
  return FALSE;
}

static void naive__close(naive_server *s, naive_conn *c) {
  EnterCriticalSection(&s->lock);
  closesocket(c->sock);
  if (c->prev != NULL) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  LeaveCriticalSection(&s->lock);
  free(c);
  InterlockedDecrement(&s->live);
}

static int naive__post_recv(naive_conn *c) {
  WSABUF b;
  DWORD flags = 0;
  b.buf = c->buf;
  b.len = NAIVE_BUF;
  c->writing = 0;
  memset(&c->ov, 0, sizeof(c->ov));
  if (WSARecv(c->sock, &b, 1, NULL, &flags, &c->ov, NULL) != 0 && WSAGetLastError() != WSA_IO_PENDING) return -1;
  return 0;
}

static int naive__post_send(naive_conn *c) {
  WSABUF b;
  b.buf = c->buf + c->sent;
  b.len = c->len - c->sent;
  c->writing = 1;
  memset(&c->ov, 0, sizeof(c->ov));
  if (WSASend(c->sock, &b, 1, NULL, 0, &c->ov, NULL) != 0 && WSAGetLastError() != WSA_IO_PENDING) return -1;
  return 0;
}

static int naive__post_accept(naive_server *s, naive_accept *a) {
  DWORD bytes = 0;
  a->sock = WSASocketW(s->family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  if (a->sock == INVALID_SOCKET) return -1;
  memset(&a->ov, 0, sizeof(a->ov));
  InterlockedIncrement(&s->accepts_pending);
  if (!s->accept_ex(s->listener, a->sock, a->addrs, 0, NAIVE_ADDR_LEN, NAIVE_ADDR_LEN, &bytes, &a->ov) &&
      WSAGetLastError() != ERROR_IO_PENDING) {
    InterlockedDecrement(&s->accepts_pending);
    closesocket(a->sock);
    a->sock = INVALID_SOCKET;
    return -1;
  }
  return 0;
}

static void naive__on_accept(naive_server *s, naive_accept *a, BOOL ok) {
  SOCKET sock = a->sock;
  naive_conn *c;
  BOOL nodelay = TRUE;
  a->sock = INVALID_SOCKET;
  if (!ok || s->stopping) {
    closesocket(sock);
    InterlockedDecrement(&s->accepts_pending);
    return;
  }
  /* Re-post first, so the listener always has its accepts waiting. */
  InterlockedDecrement(&s->accepts_pending);
  if (naive__post_accept(s, a) != 0 && !s->stopping)
    fprintf(stderr, "naive_iocp_echo: AcceptEx failed: error %d\n", WSAGetLastError());

  setsockopt(sock, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&s->listener, (int)sizeof(s->listener));
  /* Not in the textbook, but without it Nagle's algorithm and delayed ACKs
   * would be what this baseline measures (portserve sets it too). */
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, (const char *)&nodelay, (int)sizeof(nodelay));
  c = (naive_conn *)calloc(1, sizeof(*c));
  if (c == NULL) {
    closesocket(sock);
    return;
  }
  c->sock = sock;
  if (CreateIoCompletionPort((HANDLE)sock, s->port, (ULONG_PTR)c, 0) == NULL) {
    closesocket(sock);
    free(c);
    return;
  }
  EnterCriticalSection(&s->lock);
  c->next = s->conns;
  if (s->conns != NULL) s->conns->prev = c;
  s->conns = c;
  LeaveCriticalSection(&s->lock);
  InterlockedIncrement(&s->live);
  InterlockedIncrement(&s->served);
  if (naive__post_recv(c) != 0) naive__close(s, c);
}

static void naive__on_conn(naive_server *s, naive_conn *c, BOOL ok, DWORD bytes) {
  int rc;
  if (!ok || (bytes == 0 && !c->writing) || s->stopping) {
    /* A reset, the peer's FIN, or the stop. */
    naive__close(s, c);
    return;
  }
  if (!c->writing) {
    c->len = bytes;
    c->sent = 0;
    rc = naive__post_send(c);
  } else {
    c->sent += bytes;
    rc = c->sent < c->len ? naive__post_send(c) : naive__post_recv(c);
  }
  if (rc != 0) naive__close(s, c);
}

static int naive__post_recvfrom(naive_server *s, naive_dgram *d) {
  WSABUF b;
  DWORD flags = 0;
  b.buf = d->buf;
  b.len = NAIVE_UDP_BUF;
  d->sending = 0;
  d->from_len = (INT)sizeof(d->from);
  memset(&d->ov, 0, sizeof(d->ov));
  if (WSARecvFrom(s->listener, &b, 1, NULL, &flags, (struct sockaddr *)&d->from, &d->from_len, &d->ov, NULL) != 0 &&
      WSAGetLastError() != WSA_IO_PENDING)
    return -1;
  return 0;
}

static void naive__on_dgram(naive_server *s, naive_dgram *d, BOOL ok, DWORD bytes) {
  int rc;
  if (s->stopping) {
    InterlockedDecrement(&s->dgrams_pending);
    return;
  }
  if (ok && !d->sending) {
    WSABUF b;
    b.buf = d->buf;
    b.len = bytes;
    d->sending = 1;
    memset(&d->ov, 0, sizeof(d->ov));
    rc = WSASendTo(s->listener, &b, 1, NULL, 0, (const struct sockaddr *)&d->from, d->from_len, &d->ov, NULL);
    if (rc == 0 || WSAGetLastError() == WSA_IO_PENDING) return;
  }
  /* The send completed (or failed), or the receive failed (an ICMP
   * port-unreachable from an earlier reply, say): receive again. */
  if (naive__post_recvfrom(s, d) != 0) {
    fprintf(stderr, "naive_iocp_echo: WSARecvFrom failed: error %d\n", WSAGetLastError());
    InterlockedDecrement(&s->dgrams_pending);
  }
}

static DWORD WINAPI naive__worker(LPVOID arg) {
  naive_server *s = (naive_server *)arg;
  for (;;) {
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *ov = NULL;
    BOOL ok = GetQueuedCompletionStatus(s->port, &bytes, &key, &ov, INFINITE);
    if (ov == NULL) {
      if (ok && key == KEY_QUIT) return 0;
      fprintf(stderr, "naive_iocp_echo: fatal: GetQueuedCompletionStatus failed: error %lu\n",
              (unsigned long)GetLastError());
      abort();
    }
    if (key == KEY_LISTENER) naive__on_accept(s, (naive_accept *)(void *)ov, ok);
    else if (key == KEY_UDP) naive__on_dgram(s, (naive_dgram *)(void *)ov, ok, bytes);
    else naive__on_conn(s, (naive_conn *)key, ok, bytes);
  }
}

static int naive__listen(naive_server *s, const char *spec) {
  char host[256], port[16], name[INET6_ADDRSTRLEN];
  ADDRINFOA hints, *res = NULL;
  SOCKADDR_STORAGE bound;
  int len = (int)sizeof(bound);
  GUID guid = WSAID_ACCEPTEX;
  DWORD bytes = 0;
  if (bench_hostport_split(spec, host, sizeof(host), port, sizeof(port)) != 0) {
    fprintf(stderr, "naive_iocp_echo: '%s' is not ADDRESS:PORT\nusage: naive_iocp_echo [ADDRESS:PORT]\n", spec);
    return 2;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = s->udp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_protocol = s->udp ? IPPROTO_UDP : IPPROTO_TCP;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
    fprintf(stderr, "naive_iocp_echo: '%s' is not ADDRESS:PORT\nusage: naive_iocp_echo [ADDRESS:PORT]\n", spec);
    return 2;
  }
  s->family = res->ai_family;
  if (s->udp) {
    s->listener = WSASocketW(res->ai_family, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s->listener == INVALID_SOCKET || bind(s->listener, res->ai_addr, (int)res->ai_addrlen) != 0 ||
        getsockname(s->listener, (struct sockaddr *)&bound, &len) != 0 ||
        CreateIoCompletionPort((HANDLE)s->listener, s->port, KEY_UDP, 0) == NULL) {
      fprintf(stderr, "naive_iocp_echo: bind udp %s failed: error %d\n", spec, WSAGetLastError());
      freeaddrinfo(res);
      return 1;
    }
  } else {
    s->listener = WSASocketW(res->ai_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s->listener == INVALID_SOCKET || bind(s->listener, res->ai_addr, (int)res->ai_addrlen) != 0 ||
        listen(s->listener, SOMAXCONN) != 0 || getsockname(s->listener, (struct sockaddr *)&bound, &len) != 0 ||
        WSAIoctl(s->listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, (DWORD)sizeof(guid), &s->accept_ex,
                 (DWORD)sizeof(s->accept_ex), &bytes, NULL, NULL) != 0 ||
        CreateIoCompletionPort((HANDLE)s->listener, s->port, KEY_LISTENER, 0) == NULL) {
      fprintf(stderr, "naive_iocp_echo: listen on %s failed: error %d\n", spec, WSAGetLastError());
      freeaddrinfo(res);
      return 1;
    }
  }
  freeaddrinfo(res);
  if (bound.ss_family == AF_INET6) {
    SOCKADDR_IN6 *a = (SOCKADDR_IN6 *)&bound;
    inet_ntop(AF_INET6, &a->sin6_addr, name, sizeof(name));
    fprintf(stderr, "listening on %s [%s]:%u\n", s->udp ? "udp" : "tcp", name, (unsigned)ntohs(a->sin6_port));
  } else {
    SOCKADDR_IN *a = (SOCKADDR_IN *)&bound;
    inet_ntop(AF_INET, &a->sin_addr, name, sizeof(name));
    fprintf(stderr, "listening on %s %s:%u\n", s->udp ? "udp" : "tcp", name, (unsigned)ntohs(a->sin_port));
  }
  return 0;
}

/* Cancels every connection's operation; their completions close them. */
static void naive__cancel_all(naive_server *s) {
  naive_conn *c;
  EnterCriticalSection(&s->lock);
  for (c = s->conns; c != NULL; c = c->next) CancelIoEx((HANDLE)c->sock, NULL);
  LeaveCriticalSection(&s->lock);
}

static void naive__usage(FILE *f) {
  fprintf(f, "usage: naive_iocp_echo [--threads N] [--udp] [ADDRESS:PORT]   (defaults: one thread per processor, "
             "TCP, 127.0.0.1:0)\n");
}

int main(int argc, char **argv) {
  naive_server s;
  WSADATA wsa;
  SYSTEM_INFO si;
  const char *spec = "127.0.0.1:0";
  unsigned long threads = 0;
  int i, rc, waited, have_spec = 0, udp = 0;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      naive__usage(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      char *end = NULL;
      threads = strtoul(argv[++i], &end, 10);
      if (*end != '\0' || threads < 1 || threads > NAIVE_THREADS_MAX) {
        fprintf(stderr, "naive_iocp_echo: --threads: '%s' is not a number from 1 to %d\n", argv[i], NAIVE_THREADS_MAX);
        return 2;
      }
    } else if (strcmp(argv[i], "--udp") == 0) {
      udp = 1;
    } else if (argv[i][0] != '-' && !have_spec) {
      spec = argv[i];
      have_spec = 1;
    } else {
      naive__usage(stderr);
      return 2;
    }
  }
  memset(&s, 0, sizeof(s));
  s.listener = INVALID_SOCKET;
  s.udp = udp;
  /* Sized as portserve sizes its workers (server/engine.c): one per
   * processor, concurrency equal to the thread count. */
  GetSystemInfo(&si);
  if (threads == 0) threads = si.dwNumberOfProcessors ? si.dwNumberOfProcessors : 1;
  if (threads > NAIVE_THREADS_MAX) threads = NAIVE_THREADS_MAX;
  s.thread_count = (DWORD)threads;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "naive_iocp_echo: WSAStartup failed\n");
    return 1;
  }
  InitializeCriticalSection(&s.lock);
  naive__stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  s.port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, s.thread_count);
  if (naive__stop_event == NULL || s.port == NULL) {
    fprintf(stderr, "naive_iocp_echo: CreateEvent/CreateIoCompletionPort failed: error %lu\n",
            (unsigned long)GetLastError());
    return 1;
  }
  rc = naive__listen(&s, spec);
  if (rc != 0) return rc;
  fprintf(stderr, "naive_iocp_echo: %lu worker thread(s), port concurrency %lu\n", (unsigned long)s.thread_count,
          (unsigned long)s.thread_count);
  SetConsoleCtrlHandler(naive__on_ctrl, TRUE);
  for (i = 0; i < (int)s.thread_count; i++) {
    s.threads[i] = CreateThread(NULL, 0, naive__worker, &s, 0, NULL);
    if (s.threads[i] == NULL) {
      fprintf(stderr, "naive_iocp_echo: CreateThread failed: error %lu\n", (unsigned long)GetLastError());
      return 1;
    }
  }
  if (s.udp) {
    s.dgrams = (naive_dgram *)calloc(NAIVE_UDP_RECVS, sizeof(naive_dgram));
    if (s.dgrams == NULL) {
      fprintf(stderr, "naive_iocp_echo: out of memory\n");
      return 1;
    }
    for (i = 0; i < NAIVE_UDP_RECVS; i++) {
      InterlockedIncrement(&s.dgrams_pending);
      if (naive__post_recvfrom(&s, &s.dgrams[i]) != 0) {
        fprintf(stderr, "naive_iocp_echo: WSARecvFrom failed: error %d\n", WSAGetLastError());
        return 1;
      }
    }
  } else {
    for (i = 0; i < NAIVE_ACCEPTS; i++)
      if (naive__post_accept(&s, &s.accepts[i]) != 0) {
        fprintf(stderr, "naive_iocp_echo: AcceptEx failed: error %d\n", WSAGetLastError());
        return 1;
      }
  }

  WaitForSingleObject(naive__stop_event, INFINITE);

  /* Stop: no new connections, then end the open ones. A worker may re-post
   * an operation just after a sweep, so sweep until none are left. */
  fprintf(stderr, "stopping: closing the listener and %ld connection(s)\n", s.live);
  InterlockedExchange(&s.stopping, 1);
  closesocket(s.listener);
  for (waited = 0; (s.live > 0 || s.accepts_pending > 0 || s.dgrams_pending > 0) && waited < NAIVE_STOP_WAIT_MS;
       waited += 50) {
    naive__cancel_all(&s);
    Sleep(50);
  }
  rc = s.live == 0 && s.accepts_pending == 0 && s.dgrams_pending == 0 ? 0 : 1;
  if (rc != 0)
    fprintf(stderr,
            "naive_iocp_echo: %ld connection(s), %ld accept(s) and %ld datagram op(s) did not complete "
            "after %d ms\n",
            s.live, s.accepts_pending, s.dgrams_pending, NAIVE_STOP_WAIT_MS);
  for (i = 0; i < (int)s.thread_count; i++) PostQueuedCompletionStatus(s.port, 0, KEY_QUIT, NULL);
  WaitForMultipleObjects(s.thread_count, s.threads, TRUE, INFINITE);
  for (i = 0; i < (int)s.thread_count; i++) CloseHandle(s.threads[i]);
  CloseHandle(s.port);
  if (rc == 0) free(s.dgrams); /* else the system may still write into them */
  DeleteCriticalSection(&s.lock);
  WSACleanup();
  fprintf(stderr, "stopped: %ld connection(s) served\n", s.served);
  return rc;
}
