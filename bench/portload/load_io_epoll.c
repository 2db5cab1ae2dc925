/* The Linux backend: non-blocking sockets, level-triggered epoll.
 *
 * Threads: connection i belongs to thread i % threads for its whole life;
 * each thread has its own epoll set, its own stats, and touches no other
 * thread's connections, so there are no locks. A thread connects its
 * connections from a queue, keeping at most a window of connects in flight;
 * storm-mode reconnects go through the same queue. On stop each thread
 * closes its own sockets.
 *
 * UDP mode: the same shape with connected datagram sockets (connect()
 * completes at once); each thread also looks for datagrams past their loss
 * timeout every few milliseconds and sends again into the freed slots. */
#define _POSIX_C_SOURCE 200809L

#include "load_io.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects in flight per process (split between the threads). */
#define EP_CONNECT_WINDOW 128u
#define EP_EVENTS 256
/* epoll_wait timeout: how late a thread may notice the stop. */
#define EP_WAIT_MS 20
/* udp: how often a thread looks for lost datagrams, at most. */
#define EP_EXPIRE_MAX_NS 20000000u

typedef struct ep_conn {
  load_conn lc;
  int fd;          /* -1 while closed */
  unsigned events; /* the epoll interest registered for fd */
  int connecting;  /* connect() in flight */
} ep_conn;

typedef struct ep_thread {
  load_io *io;
  int epfd;
  pthread_t thread;
  int running;
  load_stats stats;
  ep_conn **queue; /* ring of connections waiting to connect */
  unsigned queue_cap, queue_head, queue_len;
  unsigned connecting;  /* connects in flight */
  unsigned window;      /* ... at most */
  uint64_t next_expire; /* udp: when to look for lost datagrams next */
} ep_thread;

struct load_io {
  load_run *run;
  ep_conn *conns;
  unsigned conn_count;
  ep_thread *threads;
  unsigned thread_count;
};

static ep_thread *ep__owner(load_io *io, const ep_conn *c) { return &io->threads[c->lc.id % io->thread_count]; }

static void ep__enqueue(ep_thread *t, ep_conn *c) {
  /* Each connection is queued at most once at a time, so the ring never overflows. */
  t->queue[(t->queue_head + t->queue_len) % t->queue_cap] = c;
  t->queue_len++;
}

static const char *ep__errstr(int err, char *buf, size_t size) {
  if (strerror_r(err, buf, size) != 0) snprintf(buf, size, "error %d", err);
  return buf;
}

static load_end ep__end_kind(int err) {
  if (err == ECONNREFUSED) return LOAD_END_REFUSED;
  if (err == ECONNRESET || err == EPIPE || err == ECONNABORTED) return LOAD_END_RESET;
  return LOAD_END_ERROR;
}

/* Closes c's socket; then connects again if `next` says so. */
static void ep__finish(ep_thread *t, ep_conn *c, load_next next) {
  if (c->fd >= 0) {
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
  }
  if (c->connecting) {
    c->connecting = 0;
    t->connecting--;
  }
  load_conn_closed(&c->lc, &t->stats);
  if (next == LOAD_RECONNECT && !load_stopping(t->io->run)) ep__enqueue(t, c);
}

static void ep__fail(ep_thread *t, ep_conn *c, load_end why, int err) {
  char msg[128];
  load_next next = load_conn_failed(&c->lc, &t->stats, why, err != 0 ? ep__errstr(err, msg, sizeof(msg)) : NULL);
  ep__finish(t, c, next);
}

static int ep__set_events(ep_thread *t, ep_conn *c, unsigned events) {
  struct epoll_event ev;
  if (events == c->events) return 0;
  memset(&ev, 0, sizeof(ev));
  ev.events = events;
  ev.data.ptr = c;
  if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
    ep__fail(t, c, LOAD_END_ERROR, errno);
    return -1;
  }
  c->events = events;
  return 0;
}

/* Sends what is due until the socket's buffer is full; then watches for
 * EPOLLOUT only if something is left. */
static void ep__write(ep_thread *t, ep_conn *c) {
  const unsigned char *data;
  size_t len;
  unsigned events = EPOLLIN;
  while (load_conn_next_send(&c->lc, load_now_ns(), &data, &len)) {
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n > 0) {
      load_conn_sent(&c->lc, &t->stats, (size_t)n, load_now_ns());
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      events |= EPOLLOUT;
      break;
    }
    ep__fail(t, c, ep__end_kind(errno), errno);
    return;
  }
  ep__set_events(t, c, events);
}

/* Reads once, or again while reads fill the buffer. 0 if c is still open. */
static int ep__read(ep_thread *t, ep_conn *c) {
  int udp = t->io->run->opt.mode == LOAD_MODE_UDP;
  for (;;) {
    unsigned char *buf;
    size_t cap;
    ssize_t n;
    load_next next;
    load_conn_recv_buf(&c->lc, &buf, &cap);
    n = recv(c->fd, buf, cap, 0);
    if (n > 0 || (n == 0 && udp)) {
      /* (An empty datagram is not an end of stream: load_conn reports it.) */
      next = load_conn_received(&c->lc, &t->stats, (size_t)n, load_now_ns());
      if (next != LOAD_GO) {
        ep__finish(t, c, next);
        return -1;
      }
      /* A stream is drained when a read does not fill the buffer; datagrams
       * come one per read, until EAGAIN. */
      if ((size_t)n < cap && !udp) return 0;
      continue;
    }
    if (n == 0) {
      ep__fail(t, c, LOAD_END_EOF, 0);
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    ep__fail(t, c, ep__end_kind(errno), errno);
    return -1;
  }
}

static void ep__connected(ep_thread *t, ep_conn *c) {
  load_next next = load_conn_connected(&c->lc, &t->stats, load_now_ns());
  if (next != LOAD_GO) {
    ep__finish(t, c, next);
    return;
  }
  ep__write(t, c);
}

static void ep__connect(ep_thread *t, ep_conn *c) {
  const load_addr *a = &t->io->run->target;
  struct epoll_event ev;
  int one = 1, udp = t->io->run->opt.mode == LOAD_MODE_UDP;
  load_conn_connecting(&c->lc, load_now_ns());
  /* udp: a connected datagram socket; its connect() succeeds at once. */
  c->fd =
    socket(a->family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, udp ? IPPROTO_UDP : IPPROTO_TCP);
  if (c->fd < 0) {
    ep__fail(t, c, LOAD_END_ERROR, errno);
    return;
  }
  /* Request/response: no Nagle delay on small messages. */
  if (!udp) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c->connecting = 1;
  t->connecting++;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLOUT;
  ev.data.ptr = c;
  c->events = EPOLLOUT;
  if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    ep__fail(t, c, LOAD_END_ERROR, errno);
    return;
  }
  if (connect(c->fd, (const struct sockaddr *)(const void *)a->u.bytes, (socklen_t)a->len) == 0) {
    c->connecting = 0;
    t->connecting--;
    ep__connected(t, c);
    return;
  }
  if (errno != EINPROGRESS) ep__fail(t, c, ep__end_kind(errno), errno);
}

static void ep__on_event(ep_thread *t, ep_conn *c, unsigned events) {
  if (c->fd < 0) return; /* closed earlier in this batch */
  if (c->connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    c->connecting = 0;
    t->connecting--;
    if (err != 0) ep__fail(t, c, ep__end_kind(err), err);
    else ep__connected(t, c);
    return;
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && ep__read(t, c) != 0) return;
  ep__write(t, c);
}

/* udp: counts this thread's overdue datagrams lost and fills their slots. */
static void ep__expire(ep_thread *t) {
  load_io *io = t->io;
  uint64_t now = load_now_ns(), every = (uint64_t)(io->run->opt.loss_timeout_s * 1e9 / 10);
  unsigned i;
  if (now < t->next_expire) return;
  t->next_expire = now + (every < EP_EXPIRE_MAX_NS ? every : EP_EXPIRE_MAX_NS);
  for (i = 0; i < io->conn_count; i++) {
    ep_conn *c = &io->conns[i];
    if (ep__owner(io, c) == t && c->fd >= 0 && !c->connecting && load_conn_expire(&c->lc, &t->stats, now) > 0)
      ep__write(t, c);
  }
}

static void *ep__thread_main(void *arg) {
  ep_thread *t = (ep_thread *)arg;
  load_run *run = t->io->run;
  struct epoll_event evs[EP_EVENTS];
  unsigned i;
  while (!load_stopping(run)) {
    int n;
    while (t->queue_len > 0 && t->connecting < t->window && !load_stopping(run)) {
      ep_conn *c = t->queue[t->queue_head];
      t->queue_head = (t->queue_head + 1) % t->queue_cap;
      t->queue_len--;
      ep__connect(t, c);
    }
    /* Do not sleep while reconnects are waiting for a window slot that is free. */
    n = epoll_wait(t->epfd, evs, EP_EVENTS, t->queue_len > 0 && t->connecting < t->window ? 0 : EP_WAIT_MS);
    if (n < 0) {
      char msg[128];
      if (errno == EINTR) continue;
      /* Only a broken epoll fd fails here: nothing this thread can go on with. */
      fprintf(stderr, "portload: fatal: epoll_wait failed: %s\n", ep__errstr(errno, msg, sizeof(msg)));
      abort();
    }
    for (i = 0; i < (unsigned)n; i++) ep__on_event(t, (ep_conn *)evs[i].data.ptr, evs[i].events);
    if (run->opt.mode == LOAD_MODE_UDP) ep__expire(t);
  }
  /* Teardown: this thread's sockets, by this thread. */
  for (i = 0; i < t->io->conn_count; i++) {
    ep_conn *c = &t->io->conns[i];
    if (ep__owner(t->io, c) == t && c->fd >= 0) ep__finish(t, c, LOAD_DROP);
  }
  return NULL;
}

int load_io_new(load_run *run, load_io **out) {
  load_io *io;
  unsigned i;
  unsigned long max_fds = load_plat_max_sockets();
  *out = NULL;
  if (max_fds != 0 && run->opt.connections + 64ul > max_fds)
    fprintf(stderr, "portload: warning: %u connections but only %lu file descriptors allowed (ulimit -n)\n",
            run->opt.connections, max_fds);
  io = (load_io *)calloc(1, sizeof(*io));
  if (io == NULL) goto oom;
  io->run = run;
  io->conn_count = run->opt.connections;
  io->thread_count = run->opt.threads < run->opt.connections ? run->opt.threads : run->opt.connections;
  io->conns = (ep_conn *)calloc(io->conn_count, sizeof(ep_conn));
  io->threads = (ep_thread *)calloc(io->thread_count, sizeof(ep_thread));
  if (io->conns == NULL || io->threads == NULL) goto oom;
  /* Before anything can fail: load_io_delete closes what is >= 0. */
  for (i = 0; i < io->thread_count; i++) io->threads[i].epfd = -1;
  for (i = 0; i < io->conn_count; i++) io->conns[i].fd = -1;
  for (i = 0; i < io->thread_count; i++) {
    ep_thread *t = &io->threads[i];
    t->io = io;
    load_stats_init(&t->stats);
    t->queue_cap = io->conn_count / io->thread_count + 1;
    t->queue = (ep_conn **)calloc(t->queue_cap, sizeof(ep_conn *));
    if (t->queue == NULL) goto oom;
    t->window = EP_CONNECT_WINDOW / io->thread_count;
    if (t->window < 8) t->window = 8;
  }
  for (i = 0; i < io->conn_count; i++) {
    ep_conn *c = &io->conns[i];
    if (load_conn_init(&c->lc, run, i) != 0) goto oom;
    ep__enqueue(ep__owner(io, c), c);
  }
  for (i = 0; i < io->thread_count; i++) {
    io->threads[i].epfd = epoll_create1(EPOLL_CLOEXEC);
    if (io->threads[i].epfd < 0) {
      char msg[128];
      fprintf(stderr, "portload: epoll_create1 failed: %s\n", ep__errstr(errno, msg, sizeof(msg)));
      load_io_delete(io);
      return -1;
    }
  }
  *out = io;
  return 0;
oom:
  fprintf(stderr, "portload: out of memory for %u connections\n", run->opt.connections);
  load_io_delete(io);
  return -1;
}

int load_io_start(load_io *io) {
  unsigned i;
  for (i = 0; i < io->thread_count; i++) {
    int err = pthread_create(&io->threads[i].thread, NULL, ep__thread_main, &io->threads[i]);
    if (err != 0) {
      char msg[128];
      fprintf(stderr, "portload: pthread_create failed: %s\n", ep__errstr(err, msg, sizeof(msg)));
      return -1;
    }
    io->threads[i].running = 1;
  }
  return 0;
}

void load_io_stop(load_io *io) {
  unsigned i;
  /* The threads see run->stopping within EP_WAIT_MS and close their sockets. */
  for (i = 0; i < io->thread_count; i++) {
    if (!io->threads[i].running) continue;
    pthread_join(io->threads[i].thread, NULL);
    io->threads[i].running = 0;
  }
}

const char *load_io_backend(void) { return "epoll"; }

unsigned load_io_stats_count(const load_io *io) { return io->thread_count; }
load_stats *load_io_stats(load_io *io, unsigned index) { return &io->threads[index].stats; }
unsigned load_io_conn_count(const load_io *io) { return io->conn_count; }
const load_conn *load_io_conn(const load_io *io, unsigned index) { return &io->conns[index].lc; }

void load_io_delete(load_io *io) {
  unsigned i;
  if (io == NULL) return;
  load_io_stop(io);
  if (io->threads != NULL)
    for (i = 0; i < io->thread_count; i++) {
      if (io->threads[i].epfd >= 0) close(io->threads[i].epfd);
      free(io->threads[i].queue);
    }
  if (io->conns != NULL)
    for (i = 0; i < io->conn_count; i++) {
      if (io->conns[i].fd >= 0) close(io->conns[i].fd);
      load_conn_free(&io->conns[i].lc);
    }
  free(io->threads);
  free(io->conns);
  free(io);
}
