/* The service registry (ps_services.h) and the built-in one. */
#include "services.h"

#include <stdio.h>
#include <string.h>

#include "errtab.h"
#include "listen_spec.h"
#include "ps_compat.h"

/* The built-in registry is constant data, not a mutable global. */
static const ps_registry services__builtin = {
  {&ps_svc_echo, &ps_svc_discard, &ps_svc_chargen, &ps_svc_daytime, &ps_svc_qotd},
  5,
};

const ps_registry *ps_registry_builtin(void) { return &services__builtin; }

void ps_registry_init(ps_registry *r) { memset(r, 0, sizeof(*r)); }

/* A name usable in "--listen NAME=..." and in an INI line. */
static int services__name_ok(const char *name) {
  size_t n = 0;
  for (; name[n] != '\0'; n++) {
    char c = name[n];
    /* Lower case: listen specs are lower-cased when parsed. */
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return 0;
  }
  return n > 0 && n < PS_SERVICE_NAME_MAX;
}

int ps_registry_add(ps_registry *r, const ps_handler *h, char *err, size_t errsize) {
  if (h == NULL || h->name == NULL || !services__name_ok(h->name))
    return ps_fail(err, errsize,
                   "service name '%s' is not a word of lower-case letters, digits, '-' or '_' (at most %d)",
                   h != NULL && h->name != NULL ? h->name : "", PS_SERVICE_NAME_MAX - 1);
  if (h->on_open == NULL && h->on_data == NULL && h->on_datagram == NULL)
    return ps_fail(err, errsize, "service '%s' has no on_open, on_data or on_datagram", h->name);
  if (ps_registry_find(r, h->name) != NULL) return ps_fail(err, errsize, "service '%s' is already registered", h->name);
  if (r->count == PS_REGISTRY_MAX)
    return ps_fail(err, errsize, "cannot register '%s': %d services already", h->name, PS_REGISTRY_MAX);
  r->handlers[r->count++] = h;
  return 0;
}

void ps_registry_add_builtins(ps_registry *r) {
  size_t i;
  for (i = 0; i < services__builtin.count; i++) (void)ps_registry_add(r, services__builtin.handlers[i], NULL, 0);
}

const ps_handler *ps_registry_find(const ps_registry *r, const char *name) {
  size_t i;
  for (i = 0; i < r->count; i++)
    if (strcmp(r->handlers[i]->name, name) == 0) return r->handlers[i];
  return NULL;
}

char *ps_registry_names(const ps_registry *r, char *buf, size_t size) {
  size_t i, len = 0;
  if (size == 0) return buf;
  buf[0] = '\0';
  for (i = 0; i < r->count && len < size; i++) {
    int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", r->handlers[i]->name);
    if (n < 0) break;
    len += (size_t)n;
  }
  return buf;
}

const ps_handler *ps_service_find(const char *name) { return ps_registry_find(&services__builtin, name); }
