/* load_plat.h on Windows: QueryPerformanceCounter, Winsock's getaddrinfo. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include "load_plat.h"

#include <stdio.h>
#include <string.h>

int load_plat_init(void) {
  WSADATA data;
  int err = WSAStartup(MAKEWORD(2, 2), &data);
  if (err != 0) {
    fprintf(stderr, "portload: WSAStartup failed: error %d\n", err);
    return -1;
  }
  return 0;
}

void load_plat_cleanup(void) { WSACleanup(); }

uint64_t load_now_ns(void) {
  LARGE_INTEGER now, freq;
  QueryPerformanceCounter(&now);
  QueryPerformanceFrequency(&freq);
  /* Whole seconds and remainder separately: counts * 1e9 would overflow
   * 64 bits after about 30 minutes of uptime at a 10 MHz counter. */
  return (uint64_t)(now.QuadPart / freq.QuadPart) * 1000000000u +
         (uint64_t)(now.QuadPart % freq.QuadPart) * 1000000000u / (uint64_t)freq.QuadPart;
}

void load_sleep_ms(unsigned ms) { Sleep(ms); }

int load_resolve(const char *host, unsigned port, load_addr *out, char *err, size_t err_size) {
  ADDRINFOA hints, *res = NULL;
  char service[16];
  int rc;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  snprintf(service, sizeof(service), "%u", port);
  rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0 || res == NULL) {
    snprintf(err, err_size, "cannot resolve '%s': error %d", host, rc);
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
    const SOCKADDR_IN6 *sa = (const SOCKADDR_IN6 *)(const void *)a->u.bytes;
    inet_ntop(AF_INET6, (void *)&sa->sin6_addr, host, sizeof(host));
    snprintf(out, size, "[%s]:%u", host, (unsigned)ntohs(sa->sin6_port));
  } else {
    const SOCKADDR_IN *sa = (const SOCKADDR_IN *)(const void *)a->u.bytes;
    inet_ntop(AF_INET, (void *)&sa->sin_addr, host, sizeof(host));
    snprintf(out, size, "%s:%u", host, (unsigned)ntohs(sa->sin_port));
  }
}

unsigned long load_plat_max_sockets(void) { return 0; }
