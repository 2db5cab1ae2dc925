/* Name resolution for listeners, shared by TCP (listener.c) and UDP (udp.c):
 * getaddrinfo(host, AI_PASSIVE) and one open per distinct address. With port
 * 0 every address gets the port the first one was given. */
#ifndef PS_RESOLVE_H
#define PS_RESOLVE_H

#include "listen_spec.h"
#include "ps_win.h"

typedef struct ps_resolve_req {
  const ps_listen_spec *spec;
  int socktype;          /* SOCK_STREAM or SOCK_DGRAM */
  int protocol;          /* IPPROTO_TCP or IPPROTO_UDP */
  const char *transport; /* "tcp" or "udp", for messages */
  unsigned port;         /* port to bind; 0: the system picks one, shared by every address */
  /* Opens one address (logging its own failure); returns the object or NULL,
   * and the port it was bound to (network order) in *bound_port. */
  void *(*open)(void *arg, const struct addrinfo *ai, unsigned short *bound_port);
  /* Closes an object `open` returned, when a later address fails. */
  void (*close)(void *opened);
  void *arg;
} ps_resolve_req;

/* 0 with the bound port (host order) in *port_out, or -1 after logging the
 * cause; on -1 everything this call opened has been closed again. Addresses
 * that fail are skipped when spec->optional is set. */
int ps_resolve_open(const ps_resolve_req *req, unsigned *port_out);

#endif
