/* load_plat.h on POSIX (Linux): clock_gettime, getaddrinfo, setrlimit. */
#define _POSIX_C_SOURCE 200809L

#include "load_plat.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

int load_plat_init(void) {
  struct rlimit rl;
  /* A peer that resets makes send() raise SIGPIPE; we want the error. */
  signal(SIGPIPE, SIG_IGN);
  /* Idle mode holds thousands of sockets: take the hard limit. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  return 0;
}

void load_plat_cleanup(void) {}

uint64_t load_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void load_sleep_ms(unsigned ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int load_resolve(const char *host, unsigned port, load_addr *out, char *err, size_t err_size) {
  struct addrinfo hints, *res = NULL;
  char service[16];
  int rc;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  snprintf(service, sizeof(service), "%u", port);
  rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0 || res == NULL) {
    snprintf(err, err_size, "cannot resolve '%s': %s", host, rc != 0 ? gai_strerror(rc) : "no address");
    return -1;
  }
  memset(out, 0, sizeof(*out));
  memcpy(out->u.bytes, res->ai_addr, res->ai_addrlen);
  out->len = (int)res->ai_addrlen;
  out->family = res->ai_family;
  freeaddrinfo(res);
  return 0;
}

void load_addr_format(const load_addr *a, char *out, size_t size) {
  char host[INET6_ADDRSTRLEN];
  if (a->family == AF_INET6) {
    const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)(const void *)a->u.bytes;
    inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof(host));
    snprintf(out, size, "[%s]:%u", host, (unsigned)ntohs(sa->sin6_port));
  } else {
    const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)a->u.bytes;
    inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
    snprintf(out, size, "%s:%u", host, (unsigned)ntohs(sa->sin_port));
  }
}

unsigned long load_plat_max_sockets(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return (unsigned long)rl.rlim_cur;
}
