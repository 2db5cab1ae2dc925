/* Services by name: the registry a program fills with the handlers it
 * serves (the built-in ones, its own), and the built-in handlers.
 *
 * portserve's own command line and configuration file name services
 * ("--listen echo=:7"); the registry turns a name into its handler and
 * lists the names for messages and --help. A program that links the engine
 * makes its own registry, so nothing is global:
 *
 *   ps_registry reg;
 *   ps_registry_init(&reg);
 *   ps_registry_add_builtins(&reg);
 *   if (ps_registry_add(&reg, &my_proto, err, sizeof(err)) != 0) ...
 *
 * No locking: fill it before the engine starts, then only read it. */
#ifndef PS_SERVICES_PUBLIC_H
#define PS_SERVICES_PUBLIC_H

#include <stddef.h>

#include "ps_handler.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_REGISTRY_MAX 32

typedef struct ps_registry {
  const ps_handler *handlers[PS_REGISTRY_MAX];
  size_t count;
} ps_registry;

/* An empty registry. */
void ps_registry_init(ps_registry *r);
/* Adds `h`. 0, or -1 with a message: no name, a name that is not a word
 * (lower-case letters, digits, '-', '_'; at most 31), none of on_open,
 * on_data and on_datagram,
 * a name already taken, or a full registry. */
int ps_registry_add(ps_registry *r, const ps_handler *h, char *err, size_t errsize);
/* Adds echo, discard, chargen, daytime and qotd. */
void ps_registry_add_builtins(ps_registry *r);
/* The handler named `name`, or NULL. */
const ps_handler *ps_registry_find(const ps_registry *r, const char *name);
/* "echo, discard, chargen, daytime, qotd" into buf; returns buf. */
char *ps_registry_names(const ps_registry *r, char *buf, size_t size);
/* The built-in services only (read-only, shared). */
const ps_registry *ps_registry_builtin(void);

extern const ps_handler ps_svc_echo;    /* RFC 862 */
extern const ps_handler ps_svc_discard; /* RFC 863 */
extern const ps_handler ps_svc_chargen; /* RFC 864 */
extern const ps_handler ps_svc_daytime; /* RFC 867 */
extern const ps_handler ps_svc_qotd;    /* RFC 865 */

/* qotd's options (ps_engine_serve's `options`). */
typedef struct ps_qotd_options {
  const char *quotes_file; /* quotes separated by blank lines, UTF-8; NULL = built-in */
} ps_qotd_options;

#ifdef __cplusplus
}
#endif

#endif
