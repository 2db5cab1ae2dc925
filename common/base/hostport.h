/* HOST:PORT as a client names a server to connect to (`portserve stats
 * --admin`): "127.0.0.1:9100", "localhost:9100", "[::1]:9100". Split only,
 * no resolution: the host and port strings go to getaddrinfo as they are
 * (so a port may be a service name there). The server side of the same
 * syntax, where an empty host means every address, is ps_options_admin_spec. */
#ifndef PS_HOSTPORT_H
#define PS_HOSTPORT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Splits `text` into host (brackets of an IPv6 literal removed) and port.
 * Without brackets the port is what follows the last ':'. Both must be
 * non-empty and fit their buffers (including the NUL); the host holds no
 * '[' or ']', the port no ':', '[' or ']'. 0, or -1 with a message in err
 * naming the part that is wrong. */
int ps_hostport_split(const char *text, char *host, size_t hostsize, char *port, size_t portsize, char *err,
                      size_t errsize);

#ifdef __cplusplus
}
#endif

#endif
