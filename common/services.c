/* Name -> handler table of the built-in services. */
#include "services.h"

#include <string.h>

static const ps_handler *const ps_services[] = {
  &ps_svc_echo, &ps_svc_discard, &ps_svc_chargen, &ps_svc_daytime, &ps_svc_qotd,
};

const ps_handler *ps_service_find(const char *name) {
  size_t i;
  for (i = 0; i < sizeof(ps_services) / sizeof(ps_services[0]); i++)
    if (strcmp(ps_services[i]->name, name) == 0) return ps_services[i];
  return NULL;
}

const char *ps_service_names(void) { return "echo, discard, chargen, daytime, qotd"; }
