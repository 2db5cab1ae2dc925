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
 * '-'. Unknown sections and keys, bad values and duplicate listeners are
 * errors that name the file and line. See portserve.ini.example. */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stddef.h>

#include "options.h"

/* Applies the file at `path` to `o`. 0, or -1 with "FILE:LINE: message". */
int ps_config_load(const char *path, ps_options *o, char *err, size_t errsize);

/* Applies INI `text` (named `name` in messages) to `o`. */
int ps_config_parse(const char *text, const char *name, ps_options *o, char *err, size_t errsize);

#endif
