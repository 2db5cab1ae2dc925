/* Command line of portserve.exe: the command, its flags and their defaults.
 * Portable so that every bad flag gets the same message on every platform
 * and the parser is unit-tested natively. */
#ifndef PS_OPTIONS_H
#define PS_OPTIONS_H

#include <stddef.h>

#include "listen_spec.h"

#define PS_MAX_LISTENS 64
#define PS_DEFAULT_LISTEN "echo=localhost:7007"

typedef enum ps_command {
  PS_CMD_RUN = 1, /* console server */
  PS_CMD_HELP,
  PS_CMD_VERSION
} ps_command;

typedef struct ps_options {
  ps_command command;
  ps_listen_spec listens[PS_MAX_LISTENS];
  size_t listen_count;
  unsigned threads;            /* worker threads; 0 = one per processor */
  unsigned accepts;            /* AcceptEx kept posted per TCP listener */
  unsigned buffer_size;        /* bytes in one pooled I/O buffer */
  unsigned send_queue_max;     /* per-connection unsent bytes before reading pauses */
  unsigned drain_timeout_ms;   /* graceful stop deadline */
  unsigned stats_interval_s;   /* console stats line period; 0 = off */
  unsigned max_connections;    /* 0 = no limit */
} ps_options;

/* Fills `o` from argv (argv[0] is the program). Returns 0, or -1 with a
 * message naming the bad argument in err (callers print usage and exit 2). */
int ps_options_parse(int argc, char **argv, ps_options *o, char *err, size_t errsize);

/* The --help text. */
const char *ps_options_usage(void);

#endif
