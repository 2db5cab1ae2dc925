/* The stats client: one blocking HTTP/1.1 GET with Connection: close to the
 * admin endpoint, bounded by timeouts on connect and on every receive. The
 * human text is rendered by the server (/stats.txt), so the client and the
 * endpoint cannot disagree on it; --json asks for /stats.json. */
#include "admin_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"
#include "http.h"
#include "ps_log.h"
#include "ps_win.h"

#define ADMIN__RESPONSE_MAX (4u * 1024u * 1024u)

/* Connects with a deadline: non-blocking connect, then select. Returns the
 * socket or INVALID_SOCKET with the Winsock error in *err. */
static SOCKET admin__connect(const struct addrinfo *ai, DWORD *err) {
  SOCKET s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  u_long nonblocking = 1;
  fd_set writable, failed;
  struct timeval tv;
  int rc;
  if (s == INVALID_SOCKET) {
    *err = (DWORD)WSAGetLastError();
    return INVALID_SOCKET;
  }
  ioctlsocket(s, FIONBIO, &nonblocking);
  if (connect(s, ai->ai_addr, (int)ai->ai_addrlen) != 0 && WSAGetLastError() != WSAEWOULDBLOCK) {
    *err = (DWORD)WSAGetLastError();
    closesocket(s);
    return INVALID_SOCKET;
  }
  FD_ZERO(&writable);
  FD_ZERO(&failed);
  FD_SET(s, &writable);
  FD_SET(s, &failed);
  tv.tv_sec = PS_ADMIN_CLIENT_TIMEOUT_MS / 1000;
  tv.tv_usec = (PS_ADMIN_CLIENT_TIMEOUT_MS % 1000) * 1000;
  /* Windows reports a failed non-blocking connect in the except set. */
  rc = select(0, NULL, &writable, &failed, &tv);
  if (rc <= 0 || FD_ISSET(s, &failed)) {
    int so_error = 0, len = (int)sizeof(so_error);
    if (rc == 0) *err = WSAETIMEDOUT;
    else if (rc < 0) *err = (DWORD)WSAGetLastError();
    else
      *err = getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&so_error, &len) == 0 && so_error != 0 ? (DWORD)so_error
                                                                                                : WSAECONNREFUSED;
    closesocket(s);
    return INVALID_SOCKET;
  }
  nonblocking = 0;
  ioctlsocket(s, FIONBIO, &nonblocking);
  return s;
}

int ps_admin_fetch(const char *addr, const char *path, char **out, size_t *out_len, char *why, size_t whysize) {
  char host[256], port[16], request[512], msg[200], split[200];
  struct addrinfo hints, *res = NULL, *ai;
  SOCKET s = INVALID_SOCKET;
  DWORD err = 0, timeout = PS_ADMIN_CLIENT_TIMEOUT_MS;
  char *buf;
  size_t len = 0;
  int n, rc;
  if (ps_hostport_split(addr, host, sizeof(host), port, sizeof(port), split, sizeof(split)) != 0) {
    snprintf(why, whysize, "--admin takes HOST:PORT or [IPV6]:PORT, not '%s' (%s)", addr, split);
    return -1;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    snprintf(why, whysize, "cannot resolve %s: %s", addr, ps_errstr((unsigned long)rc, msg, sizeof(msg)));
    return -1;
  }
  for (ai = res; ai != NULL && s == INVALID_SOCKET; ai = ai->ai_next) s = admin__connect(ai, &err);
  freeaddrinfo(res);
  if (s == INVALID_SOCKET) {
    snprintf(why, whysize, "nothing answers at %s: %s", addr, ps_errstr(err, msg, sizeof(msg)));
    return -1;
  }
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout, (int)sizeof(timeout));
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char *)&timeout, (int)sizeof(timeout));
  n = snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr);
  if (n < 0 || (size_t)n >= sizeof(request) || send(s, request, n, 0) != n) {
    snprintf(why, whysize, "sending the request to %s failed: %s", addr,
             ps_errstr((unsigned long)WSAGetLastError(), msg, sizeof(msg)));
    closesocket(s);
    return -1;
  }
  buf = (char *)malloc(ADMIN__RESPONSE_MAX);
  if (buf == NULL) {
    closesocket(s);
    snprintf(why, whysize, "out of memory");
    return -1;
  }
  for (;;) {
    n = recv(s, buf + len, (int)(ADMIN__RESPONSE_MAX - len), 0);
    if (n == 0) break;
    if (n < 0) {
      err = (DWORD)WSAGetLastError();
      snprintf(why, whysize, "receiving from %s failed: %s", addr, ps_errstr(err, msg, sizeof(msg)));
      free(buf);
      closesocket(s);
      return -1;
    }
    len += (size_t)n;
    if (len == ADMIN__RESPONSE_MAX) {
      snprintf(why, whysize, "the answer from %s is larger than %u bytes", addr, ADMIN__RESPONSE_MAX);
      free(buf);
      closesocket(s);
      return -1;
    }
  }
  closesocket(s);
  *out = buf;
  *out_len = len;
  return 0;
}

int ps_admin_client_main(int argc, char **argv) {
  const char *addr = PS_ADMIN_DEFAULT_ADDR;
  int json = 0, i, status = 0, rc = 1;
  size_t len = 0, body_off = 0, body_len = 0;
  char *response = NULL, why[400];
  WSADATA wsa;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "--admin") == 0 && i + 1 < argc) {
      addr = argv[++i];
    } else {
      ps_console_printf(stderr,
                        "portserve stats: unknown argument '%s'\nusage: portserve stats [--admin HOST:PORT] [--json]\n",
                        argv[i]);
      return 2;
    }
  }
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    ps_console_printf(stderr, "portserve stats: WSAStartup failed\n");
    return 1;
  }
  if (ps_admin_fetch(addr, json ? "/stats.json" : "/stats.txt", &response, &len, why, sizeof(why)) != 0) {
    ps_console_printf(stderr, "portserve stats: %s\n", why);
    if (strncmp(why, "nothing answers", 15) == 0)
      ps_console_printf(stderr,
                        "(is portserve running with its admin endpoint on that address? --admin ADDR picks another)\n");
  } else {
    if (ps_http_parse_response(response, len, &status, &body_off, &body_len) != 0) {
      ps_console_printf(stderr, "portserve stats: %s did not answer with HTTP (is it portserve's admin endpoint?)\n",
                        addr);
    } else if (status != 200) {
      ps_console_printf(stderr, "portserve stats: %s answered %d: %.*s", addr, status,
                        (int)(body_len > 300 ? 300 : body_len), response + body_off);
    } else {
      ps_console_write(stdout, response + body_off, body_len);
      rc = 0;
    }
    free(response);
  }
  WSACleanup();
  return rc;
}
