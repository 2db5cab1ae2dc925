/* The registry of built-in services (protocol handlers) by name. */
#ifndef PS_SERVICES_H
#define PS_SERVICES_H

#include "ps_handler.h"

/* The handler for `name` ("echo"), or NULL. */
const ps_handler *ps_service_find(const char *name);
/* Comma-separated names, for messages ("echo"). */
const char *ps_service_names(void);

extern const ps_handler ps_svc_echo;

#endif
