/* Resolving a listener's host and opening each address (see resolve.h). */
#include "resolve.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

#define PS_RESOLVE_MAX 32

static int resolve__same(const struct addrinfo *a, const struct addrinfo *b) {
  return a->ai_family == b->ai_family && a->ai_addrlen == b->ai_addrlen &&
         memcmp(a->ai_addr, b->ai_addr, a->ai_addrlen) == 0;
}

int ps_resolve_open(const ps_resolve_req *req, unsigned *port_out) {
  const ps_listen_spec *spec = req->spec;
  const char *shown_host = spec->host[0] ? spec->host : "(all addresses)";
  struct addrinfo hints, *res = NULL, *ai, *prev;
  void *opened[PS_RESOLVE_MAX];
  size_t opened_count = 0, k;
  unsigned short chosen = htons((unsigned short)req->port);
  char port_text[8], msg[160];
  int rc;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = req->socktype;
  hints.ai_protocol = req->protocol;
  hints.ai_flags = AI_PASSIVE;
  snprintf(port_text, sizeof(port_text), "%u", req->port);
  /* An empty host passes NULL: the IPv4 and IPv6 wildcard addresses. */
  rc = getaddrinfo(spec->host[0] ? spec->host : NULL, port_text, &hints, &res);
  if (rc != 0) {
    ps_log(PS_LOG_ERROR, "listen %s/%s: cannot resolve host '%s': %s", spec->service, req->transport, shown_host,
           ps_errstr((unsigned long)rc, msg, sizeof(msg)));
    return -1;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    unsigned short bound = 0;
    void *obj;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    for (prev = res; prev != ai; prev = prev->ai_next)
      if (resolve__same(prev, ai)) break;
    if (prev != ai) continue; /* resolvers may repeat an address */
    if (opened_count == PS_RESOLVE_MAX) {
      ps_log(PS_LOG_WARN, "listen %s/%s: '%s' resolves to more than %d addresses; the rest are ignored", spec->service,
             req->transport, shown_host, PS_RESOLVE_MAX);
      break;
    }
    if (chosen != 0) {
      if (ai->ai_family == AF_INET) ((struct sockaddr_in *)ai->ai_addr)->sin_port = chosen;
      else ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = chosen;
    }
    obj = req->open(req->arg, ai, &bound);
    if (obj == NULL) {
      if (spec->optional) continue;
      for (k = 0; k < opened_count; k++) req->close(opened[k]);
      freeaddrinfo(res);
      return -1;
    }
    opened[opened_count++] = obj;
    if (chosen == 0) chosen = bound;
  }
  freeaddrinfo(res);
  if (opened_count == 0) {
    ps_log(PS_LOG_ERROR, "listen %s/%s: no address of '%s' could be opened", spec->service, req->transport, shown_host);
    return -1;
  }
  *port_out = ntohs(chosen);
  return 0;
}
