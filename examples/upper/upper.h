/* "upper": an example protocol written against portserve's public headers
 * only (ps_handler.h). Every line a client sends comes back in upper case;
 * "quit" ends the session; over UDP each datagram comes back in upper case.
 *
 *   $ nc 127.0.0.1 7070
 *   upper: hello 127.0.0.1:51234          <- the greeting, with the peer
 *   hello world
 *   HELLO WORLD
 *   quit
 *   BYE
 *
 * It shows each part of the handler API: per-session state (a partial line),
 * on_open/on_data/on_eof, a service context made from the service's own
 * options (on_start/on_stop), the peer address accessor, and datagrams. */
#ifndef UPPER_H
#define UPPER_H

#include "ps_handler.h"

#define UPPER_LINE_MAX 256

/* The service's own options (ps_engine_serve's `options`). */
typedef struct upper_options {
  const char *greeting; /* first word of the greeting line; NULL = "upper:" */
} upper_options;

extern const ps_handler upper_handler;

#endif
