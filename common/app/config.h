/* The configuration file: INI, as Windows operators know it.
 *
 *   ; comments start with ';' or '#'
 *   [server]
 *   threads = 0
 *   drain_timeout = 5000
 *   log_level = info
 *
 *   [listeners]
 *   echo = :7             ; SERVICE = [HOST]:PORT[/tcp|/udp][,optional]
 *   echo = [::1]:7007/tcp ; a service may be listed several times
 *
 * Keys in [server] are the command-line flags without "--" and with '_' for
 * '-' (the option table, options.h). Unknown sections and keys, bad values
 * and duplicate listeners are errors that name the file and line. See
 * portserve.ini.example. */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stddef.h>

#include "options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives one error, "FILE:LINE: message" ("FILE: message" or "--config:
 * ..." for the file as a whole). Returns 0 to go on with the next line,
 * non-zero to stop at this error. */
typedef int (*ps_config_error_fn)(void *ctx, const char *message);

/* The on_error for callers that want the first error only: ctx is a
 * ps_config_first; the message goes into its buffer and parsing stops. */
typedef struct ps_config_first {
  char *err;
  size_t errsize;
} ps_config_first;
int ps_config_keep_first(void *ctx, const char *message);

/* Applies every good line of INI `text` (named `name` in messages) to `o`
 * and reports each bad one to on_error (a line under an unknown section is
 * not reported again). Returns the number of errors reported. */
unsigned ps_config_parse_each(const char *text, const char *name, ps_options *o, ps_config_error_fn on_error,
                              void *ctx);

/* ps_config_parse_each for the file at `path` (a file that cannot be read
 * is one error). */
unsigned ps_config_load_each(const char *path, ps_options *o, ps_config_error_fn on_error, void *ctx);

/* Applies the file at `path` to `o`, stopping at the first error. 0, or -1
 * with "FILE:LINE: message". */
int ps_config_load(const char *path, ps_options *o, char *err, size_t errsize);

/* Applies INI `text` (named `name` in messages) to `o`, stopping at the
 * first error. 0, or -1 with "FILE:LINE: message". */
int ps_config_parse(const char *text, const char *name, ps_options *o, char *err, size_t errsize);

#ifdef __cplusplus
}
#endif

#endif
