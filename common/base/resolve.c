/* getaddrinfo for binding (resolve.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200112L /* getaddrinfo in strict C11 */
#endif
#include "resolve.h"

#include <stdio.h>
#include <string.h>

int ps_resolve_passive(const char *host, unsigned port, int socktype, ps_resolved *out) {
  struct addrinfo hints, *res = NULL, *ai;
  char port_text[8];
  int rc;
  memset(out, 0, sizeof(*out));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_protocol = socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
  hints.ai_flags = AI_PASSIVE;
  snprintf(port_text, sizeof(port_text), "%u", port);
  /* An empty host passes NULL: the IPv4 and IPv6 wildcard addresses. */
  rc = getaddrinfo(host[0] != '\0' ? host : NULL, port_text, &hints, &res);
  if (rc != 0) return rc;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ps_resolved_add(out, ai->ai_addr, (int)ai->ai_addrlen) < 0) break;
  }
  freeaddrinfo(res);
  return 0;
}

int ps_resolved_add(ps_resolved *out, const struct sockaddr *sa, int len) {
  size_t k;
  if (len <= 0 || (size_t)len > sizeof(out->addrs[0].addr)) return 0;
  /* Resolvers may repeat an address (once per protocol, or from both
   * /etc/hosts and DNS). */
  for (k = 0; k < out->count; k++)
    if (out->addrs[k].len == len && memcmp(&out->addrs[k].addr, sa, (size_t)len) == 0) return 0;
  if (out->count == PS_RESOLVE_MAX) {
    out->truncated = 1;
    return -1;
  }
  memcpy(&out->addrs[out->count].addr, sa, (size_t)len);
  out->addrs[out->count].len = len;
  out->count++;
  return 1;
}

void ps_resolved_set_port(ps_resolved_addr *a, unsigned port) {
  unsigned short net = htons((unsigned short)port);
  if (a->addr.ss_family == AF_INET6) ((struct sockaddr_in6 *)&a->addr)->sin6_port = net;
  else ((struct sockaddr_in *)&a->addr)->sin_port = net;
}

char *ps_sockaddr_format(const struct sockaddr *sa, char *buf, size_t bufsize) {
  char host[INET6_ADDRSTRLEN];
  char port[8];
  int len = sa->sa_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in);
  if (getnameinfo(sa, (socklen_t)len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(buf, bufsize, "(unknown address)");
    return buf;
  }
  if (sa->sa_family == AF_INET6) snprintf(buf, bufsize, "[%s]:%s", host, port);
  else snprintf(buf, bufsize, "%s:%s", host, port);
  return buf;
}
