/* libuv_echo: the benchmark's libuv server, a TCP (or, with --udp, UDP) echo
 * on one libuv loop, shaped like libuv's own test/echo-server.c. libuv is not
 * part of this tree: bench/libuv.sh fetches Debian's source and builds this.
 *
 *   libuv_echo.exe [--udp] [ADDRESS:PORT]   numeric address; default 127.0.0.1:0
 *
 * Settings, all libuv's defaults except where said: one loop thread (libuv
 * runs one loop per thread, and an echo server has no work to hand to its
 * thread pool); TCP_NODELAY on every connection, as the other servers of the
 * benchmark; a 64 KiB buffer from alloc_cb for each read (the size libuv asks
 * for), echoed with uv_write from that buffer and freed when the write
 * completes. Prints "listening on tcp|udp ADDRESS:PORT" to stderr; Ctrl+C
 * (SIGINT, which reaches a Wine process as CTRL_C_EVENT) closes every handle
 * and exits 0 once the loop has nothing left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "hostport.h"

/* A connection whose peer does not read stops being read once this many
 * echoed bytes wait to be sent (portserve's --send-queue-max default), so
 * one slow reader cannot grow the heap without bound. */
#define ECHO_WRITE_QUEUE_MAX (256u * 1024u)
/* UDP replies waiting to be sent beyond which a datagram is dropped. */
#define ECHO_UDP_QUEUE_MAX (1024u * 1024u)
#define ECHO_READ_SIZE 65536u

typedef struct echo_server {
  uv_loop_t loop;
  union {
    uv_tcp_t tcp;
    uv_udp_t udp;
  } listener;
  uv_signal_t sigint;
  uv_signal_t sigbreak;
  int udp;
  unsigned long live_conns; /* accepted and not yet closed: zero at exit */
  unsigned long live_bufs;  /* read buffers not yet freed: zero at exit */
} echo_server;

typedef struct echo_conn {
  uv_tcp_t tcp; /* first: libuv hands callbacks the uv_tcp_t* */
  echo_server *srv;
  int paused; /* reading stopped by ECHO_WRITE_QUEUE_MAX */
} echo_conn;

typedef struct echo_write {
  uv_write_t req;
  uv_buf_t buf;
} echo_write;

typedef struct echo_send {
  uv_udp_send_t req;
  uv_buf_t buf;
} echo_send;

static echo_server *echo__server(uv_handle_t *h) { return (echo_server *)uv_loop_get_data(h->loop); }

static void echo__free_buf(echo_server *srv, char *base) {
  if (base == NULL) return;
  free(base);
  srv->live_bufs--;
}

static void echo__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  echo_server *srv = echo__server(h);
  char *base;
  (void)suggested; /* libuv asks 65536 for TCP and UDP alike */
  base = (char *)malloc(ECHO_READ_SIZE);
  /* A NULL base makes libuv report UV_ENOBUFS to the read callback. */
  *buf = uv_buf_init(base, base != NULL ? ECHO_READ_SIZE : 0);
  if (base != NULL) srv->live_bufs++;
}

/* ---- TCP --------------------------------------------------------------- */

static void echo__on_close(uv_handle_t *h) {
  echo_conn *c = (echo_conn *)h;
  c->srv->live_conns--;
  free(c);
}

static void echo__close(echo_conn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, echo__on_close);
}

static void echo__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void echo__on_write(uv_write_t *req, int status) {
  echo_write *w = (echo_write *)req;
  echo_conn *c = (echo_conn *)req->handle;
  uv_stream_t *s = req->handle;
  echo__free_buf(c->srv, w->buf.base);
  free(w);
  if (status < 0) {
    /* UV_ECANCELED comes from our own uv_close; anything else is the peer's. */
    echo__close(c);
    return;
  }
  if (c->paused && uv_stream_get_write_queue_size(s) <= ECHO_WRITE_QUEUE_MAX / 2 && !uv_is_closing((uv_handle_t *)s)) {
    c->paused = 0;
    if (uv_read_start(s, echo__alloc, echo__on_read) != 0) echo__close(c);
  }
}

static void echo__on_shutdown(uv_shutdown_t *req, int status) {
  (void)status; /* closed either way */
  echo__close((echo_conn *)req->handle);
  free(req);
}

static void echo__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  echo_conn *c = (echo_conn *)s;
  echo_write *w;
  if (nread <= 0) {
    echo__free_buf(c->srv, buf->base);
    if (nread == 0) return; /* libuv found nothing more to read */
    if (nread == UV_EOF) {
      /* Half-close: queued behind the echoes not yet sent, so they all go
       * out before the FIN. */
      uv_shutdown_t *req = (uv_shutdown_t *)malloc(sizeof(*req));
      if (req != NULL && uv_shutdown(req, s, echo__on_shutdown) == 0) return;
      free(req);
    }
    echo__close(c);
    return;
  }
  w = (echo_write *)malloc(sizeof(*w));
  if (w == NULL) {
    echo__free_buf(c->srv, buf->base);
    echo__close(c);
    return;
  }
  w->buf = uv_buf_init(buf->base, (unsigned int)nread);
  if (uv_write(&w->req, s, &w->buf, 1, echo__on_write) != 0) {
    echo__free_buf(c->srv, w->buf.base);
    free(w);
    echo__close(c);
    return;
  }
  if (uv_stream_get_write_queue_size(s) > ECHO_WRITE_QUEUE_MAX) {
    c->paused = 1;
    uv_read_stop(s);
  }
}

static void echo__on_connection(uv_stream_t *listener, int status) {
  echo_server *srv = echo__server((uv_handle_t *)listener);
  echo_conn *c;
  if (status < 0) {
    fprintf(stderr, "libuv_echo: accept failed: %s\n", uv_strerror(status));
    return;
  }
  c = (echo_conn *)calloc(1, sizeof(*c));
  if (c == NULL || uv_tcp_init(&srv->loop, &c->tcp) != 0) {
    /* Not accepted: libuv keeps it queued for the next uv_accept. */
    free(c);
    return;
  }
  c->srv = srv;
  srv->live_conns++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || uv_tcp_nodelay(&c->tcp, 1) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, echo__alloc, echo__on_read) != 0)
    echo__close(c);
}

/* ---- UDP --------------------------------------------------------------- */

static void echo__on_sent(uv_udp_send_t *req, int status) {
  echo_send *s = (echo_send *)req;
  (void)status; /* a lost reply is UDP's to lose */
  echo__free_buf(echo__server((uv_handle_t *)req->handle), s->buf.base);
  free(s);
}

static void echo__on_datagram(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                              unsigned flags) {
  echo_server *srv = echo__server((uv_handle_t *)h);
  echo_send *s;
  if (nread < 0) {
    /* libuv has stopped receiving; the load test sees the silence. */
    fprintf(stderr, "libuv_echo: udp receive failed: %s\n", uv_strerror((int)nread));
    echo__free_buf(srv, buf->base);
    return;
  }
  /* nread 0 without an address: nothing more to read. A truncated datagram
   * (UV_UDP_PARTIAL) is not echoed, as an echo of part of it would be wrong. */
  if (from == NULL || (flags & UV_UDP_PARTIAL) || uv_udp_get_send_queue_size(h) > ECHO_UDP_QUEUE_MAX ||
      (s = (echo_send *)malloc(sizeof(*s))) == NULL) {
    echo__free_buf(srv, buf->base);
    return;
  }
  s->buf = uv_buf_init(buf->base, (unsigned int)nread);
  if (uv_udp_send(&s->req, h, &s->buf, 1, from, echo__on_sent) != 0) {
    echo__free_buf(srv, s->buf.base);
    free(s);
  }
}

/* ---- start and stop ------------------------------------------------------ */

static void echo__close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h)) return;
  /* Connections go through their own close callback, which counts them. */
  if (h->type == UV_TCP && h != (uv_handle_t *)&echo__server(h)->listener.tcp) echo__close((echo_conn *)h);
  else uv_close(h, NULL);
}

static void echo__on_signal(uv_signal_t *sig, int signum) {
  fprintf(stderr, "libuv_echo: stopping (signal %d): closing %lu connection(s)\n", signum,
          echo__server((uv_handle_t *)sig)->live_conns);
  /* Closing every handle, the listener and the signals included, leaves the
   * loop nothing to wait for: uv_run returns. */
  uv_walk(sig->loop, echo__close_any, NULL);
}

static int echo__listen(echo_server *srv, const char *spec) {
  char host[128], port[16], name[INET6_ADDRSTRLEN];
  struct sockaddr_storage addr;
  int namelen = (int)sizeof(addr), rc;
  char *end;
  long port_number;
  if (bench_hostport_split(spec, host, sizeof(host), port, sizeof(port)) != 0) return UV_EINVAL;
  port_number = strtol(port, &end, 10);
  if (port[0] == '\0' || *end != '\0' || port_number < 0 || port_number > 65535) return UV_EINVAL;
  rc = uv_ip4_addr(host, (int)port_number, (struct sockaddr_in *)&addr);
  if (rc != 0) rc = uv_ip6_addr(host, (int)port_number, (struct sockaddr_in6 *)&addr);
  if (rc != 0) return rc;
  if (srv->udp) {
    if ((rc = uv_udp_init(&srv->loop, &srv->listener.udp)) != 0) return rc;
    if ((rc = uv_udp_bind(&srv->listener.udp, (struct sockaddr *)&addr, 0)) != 0 ||
        (rc = uv_udp_recv_start(&srv->listener.udp, echo__alloc, echo__on_datagram)) != 0 ||
        (rc = uv_udp_getsockname(&srv->listener.udp, (struct sockaddr *)&addr, &namelen)) != 0)
      return rc;
  } else {
    if ((rc = uv_tcp_init(&srv->loop, &srv->listener.tcp)) != 0) return rc;
    if ((rc = uv_tcp_bind(&srv->listener.tcp, (struct sockaddr *)&addr, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&srv->listener.tcp, SOMAXCONN, echo__on_connection)) != 0 ||
        (rc = uv_tcp_getsockname(&srv->listener.tcp, (struct sockaddr *)&addr, &namelen)) != 0)
      return rc;
  }
  if (addr.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&addr, name, sizeof(name));
    fprintf(stderr, "listening on %s [%s]:%u\n", srv->udp ? "udp" : "tcp", name,
            (unsigned)ntohs(((struct sockaddr_in6 *)&addr)->sin6_port));
  } else {
    uv_ip4_name((struct sockaddr_in *)&addr, name, sizeof(name));
    fprintf(stderr, "listening on %s %s:%u\n", srv->udp ? "udp" : "tcp", name,
            (unsigned)ntohs(((struct sockaddr_in *)&addr)->sin_port));
  }
  return 0;
}

int main(int argc, char **argv) {
  echo_server *srv;
  const char *spec = "127.0.0.1:0";
  int i, rc;
  /* Heap-allocated: uv_loop_t is large, and one object holds the state. */
  srv = (echo_server *)calloc(1, sizeof(*srv));
  if (srv == NULL) return 1;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--udp") == 0) srv->udp = 1;
    else if (argv[i][0] != '-' && i == argc - 1) spec = argv[i];
    else {
      fprintf(stderr, "usage: libuv_echo [--udp] [ADDRESS:PORT]\n");
      free(srv);
      return 2;
    }
  }
  if ((rc = uv_loop_init(&srv->loop)) != 0) {
    fprintf(stderr, "libuv_echo: uv_loop_init failed: %s\n", uv_strerror(rc));
    free(srv);
    return 1;
  }
  uv_loop_set_data(&srv->loop, srv);
  rc = echo__listen(srv, spec);
  if (rc != 0) {
    fprintf(stderr, "libuv_echo: %s %s failed: %s\n", srv->udp ? "bind udp" : "listen on", spec, uv_strerror(rc));
    uv_walk(&srv->loop, echo__close_any, NULL);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv->loop);
    free(srv);
    return 1;
  }
  fprintf(stderr, "libuv_echo: libuv %s, one loop thread, %s\n", uv_version_string(),
          srv->udp ? "64 KiB receive buffers" : "TCP_NODELAY, 64 KiB read buffers");
  uv_signal_init(&srv->loop, &srv->sigint);
  uv_signal_start(&srv->sigint, echo__on_signal, SIGINT);
  uv_signal_init(&srv->loop, &srv->sigbreak);
  uv_signal_start(&srv->sigbreak, echo__on_signal, SIGBREAK);
  uv_run(&srv->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&srv->loop);
  fprintf(stderr, "libuv_echo: live counters: connections %lu, buffers %lu%s\n", srv->live_conns, srv->live_bufs,
          rc != 0 ? ", loop still busy" : "");
  rc = rc != 0 || srv->live_conns != 0 || srv->live_bufs != 0;
  free(srv);
  return rc;
}
