/* epoll_echo: a trivial native Linux echo server, the limit of the machine
 * without Wine in the benchmark. One thread, non-blocking sockets,
 * level-triggered epoll, one 8 KB buffer per connection: read, write it all
 * back (waiting for EPOLLOUT if the peer is slow, reading nothing meanwhile),
 * read again.
 *
 *   epoll_echo [ADDRESS:PORT]     default 127.0.0.1:0 (any free port)
 *
 * Prints "listening on tcp ADDRESS:PORT" to stderr; stops on SIGINT/SIGTERM,
 * closing every connection, with exit status 0. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostport.h"

#define ECHO_BUF 8192
#define ECHO_EVENTS 256

typedef struct echo_conn {
  int fd;
  size_t off, len; /* buf[off, len) is still to be written back */
  struct echo_conn *prev, *next;
  char buf[ECHO_BUF];
} echo_conn;

typedef struct echo_server {
  int epfd, lfd, sigfd;
  echo_conn *conns; /* every open connection, to close them at the stop */
  unsigned long long served, live;
} echo_server;

/* Markers in epoll_event.data.ptr for the two non-connection fds. */
static char echo__listener_tag, echo__signal_tag;

static void echo__close(echo_server *s, echo_conn *c) {
  close(c->fd); /* also leaves the epoll set */
  if (c->prev != NULL) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  s->live--;
  free(c);
}

static int echo__watch(echo_server *s, echo_conn *c, unsigned events, int op) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.events = events;
  ev.data.ptr = c;
  return epoll_ctl(s->epfd, op, c->fd, &ev);
}

static void echo__accept(echo_server *s) {
  for (;;) {
    echo_conn *c;
    int one = 1;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) perror("epoll_echo: accept");
      return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = (echo_conn *)malloc(sizeof(*c));
    if (c == NULL) {
      fprintf(stderr, "epoll_echo: out of memory; closing a new connection\n");
      close(fd);
      continue;
    }
    c->fd = fd;
    c->off = c->len = 0;
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns != NULL) s->conns->prev = c;
    s->conns = c;
    s->served++;
    s->live++;
    if (echo__watch(s, c, EPOLLIN, EPOLL_CTL_ADD) != 0) {
      perror("epoll_echo: epoll_ctl");
      echo__close(s, c);
    }
  }
}

/* Writes back what is pending; 0 when it is all written (or c must close). */
static int echo__flush(echo_server *s, echo_conn *c) {
  while (c->off < c->len) {
    ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (n > 0) {
      c->off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* The peer is not reading: stop reading until it does. */
      if (echo__watch(s, c, EPOLLOUT, EPOLL_CTL_MOD) == 0) return 1;
    }
    echo__close(s, c);
    return -1;
  }
  c->off = c->len = 0;
  return 0;
}

static void echo__on_event(echo_server *s, echo_conn *c, unsigned events) {
  if (c->len > 0) {
    /* Waiting to write: EPOLLOUT (or an error, which send reports). */
    int rc = echo__flush(s, c);
    if (rc == 0) echo__watch(s, c, EPOLLIN, EPOLL_CTL_MOD);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
    if (n > 0) {
      c->len = (size_t)n;
      echo__flush(s, c);
      return;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
    echo__close(s, c); /* the peer's FIN (everything was echoed), or a reset */
  }
}

static int echo__listen(echo_server *s, const char *spec) {
  char host[256], port[16], name[INET6_ADDRSTRLEN];
  struct addrinfo hints, *res = NULL;
  struct sockaddr_storage bound;
  socklen_t len = sizeof(bound);
  struct epoll_event ev;
  int one = 1, rc;
  if (bench_hostport_split(spec, host, sizeof(host), port, sizeof(port)) != 0) {
    fprintf(stderr, "epoll_echo: '%s' is not ADDRESS:PORT\nusage: epoll_echo [ADDRESS:PORT]\n", spec);
    return 2;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "epoll_echo: '%s': %s\nusage: epoll_echo [ADDRESS:PORT]\n", spec, gai_strerror(rc));
    return 2;
  }
  s->lfd = socket(res->ai_family, SOCK_STREAM, IPPROTO_TCP);
  if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(s->lfd, res->ai_addr, res->ai_addrlen) != 0 || listen(s->lfd, SOMAXCONN) != 0 ||
      getsockname(s->lfd, (struct sockaddr *)&bound, &len) != 0) {
    fprintf(stderr, "epoll_echo: listen on %s failed: %s\n", spec, strerror(errno));
    freeaddrinfo(res);
    return 1;
  }
  freeaddrinfo(res);
  fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK);
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.ptr = &echo__listener_tag;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0) {
    perror("epoll_echo: epoll_ctl");
    return 1;
  }
  if (bound.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&bound;
    inet_ntop(AF_INET6, &a->sin6_addr, name, sizeof(name));
    fprintf(stderr, "listening on tcp [%s]:%u\n", name, (unsigned)ntohs(a->sin6_port));
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&bound;
    inet_ntop(AF_INET, &a->sin_addr, name, sizeof(name));
    fprintf(stderr, "listening on tcp %s:%u\n", name, (unsigned)ntohs(a->sin_port));
  }
  return 0;
}

int main(int argc, char **argv) {
  echo_server s;
  struct epoll_event evs[ECHO_EVENTS], ev;
  struct rlimit rl;
  sigset_t mask;
  int rc, stop = 0;

  if (argc > 2 || (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))) {
    fprintf(argc > 2 ? stderr : stdout, "usage: epoll_echo [ADDRESS:PORT]   (default 127.0.0.1:0)\n");
    return argc > 2 ? 2 : 0;
  }
  memset(&s, 0, sizeof(s));
  /* Idle benchmarks hold 10,000 connections. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* SIGINT/SIGTERM arrive through a signalfd in the epoll set: no race
   * between checking a flag and sleeping in epoll_wait. */
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  s.epfd = epoll_create1(EPOLL_CLOEXEC);
  s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (s.epfd < 0 || s.sigfd < 0) {
    perror("epoll_echo: epoll_create1/signalfd");
    return 1;
  }
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.ptr = &echo__signal_tag;
  epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.sigfd, &ev);
  rc = echo__listen(&s, argc == 2 ? argv[1] : "127.0.0.1:0");
  if (rc != 0) return rc;

  while (!stop) {
    int i, n = epoll_wait(s.epfd, evs, ECHO_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_echo: epoll_wait");
      return 1;
    }
    for (i = 0; i < n; i++) {
      void *tag = evs[i].data.ptr;
      if (tag == &echo__signal_tag) stop = 1;
      else if (tag == &echo__listener_tag) echo__accept(&s);
      else echo__on_event(&s, (echo_conn *)tag, evs[i].events);
    }
  }
  fprintf(stderr, "stopping: closing the listener and %llu connection(s)\n", s.live);
  close(s.lfd);
  while (s.conns != NULL) echo__close(&s, s.conns);
  close(s.sigfd);
  close(s.epfd);
  fprintf(stderr, "stopped: %llu connection(s) served\n", s.served);
  return 0;
}
