/* `portserve check --config FILE [--bind]` (issue 13): reports every error of
 * a configuration file before a restart needs it, and with --bind whether
 * each listener's addresses can be bound now (check.c). */
#ifndef PS_CHECK_H
#define PS_CHECK_H

#include "options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checks o->config_path (o->check_bind: also binds). Prints each error to
 * stderr, "FILE:LINE: message" for the file's, and "FILE: OK (N listeners)"
 * to stdout when there is none. Returns the exit status: 0 OK, 1 errors. */
int ps_check(const ps_options *o);

#ifdef __cplusplus
}
#endif

#endif
