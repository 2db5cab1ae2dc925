/* `portserve stats [--admin HOST:PORT] [--json]`: asks a running portserve's
 * admin endpoint (svc_admin) for its figures and prints them. */
#ifndef PS_ADMIN_CLIENT_H
#define PS_ADMIN_CLIENT_H

#include "options.h"   /* PS_ADMIN_DEFAULT_PORT */
#include "ps_compat.h" /* PS_STR */

/* The shipped configuration's admin address: one port number, written once. */
#define PS_ADMIN_DEFAULT_ADDR "127.0.0.1:" PS_STR(PS_ADMIN_DEFAULT_PORT)
#define PS_ADMIN_CLIENT_TIMEOUT_MS 5000 /* connect, and each receive */

#include <stddef.h>

/* GET `path` from the admin endpoint at addr (HOST:PORT), Connection:
 * close, each step bounded by PS_ADMIN_CLIENT_TIMEOUT_MS: the whole response
 * in *out (malloc'ed). 0, or -1 with why. Winsock must be started. */
int ps_admin_fetch(const char *addr, const char *path, char **out, size_t *out_len, char *why, size_t whysize);

/* argv[0] is "stats". Prints GET /stats.txt (or /stats.json with --json)
 * to stdout; 0, 1 when nothing (or no 200) answers, with the reason on
 * stderr, 2 for a bad command line. */
int ps_admin_client_main(int argc, char **argv);

#endif
