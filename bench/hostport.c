/* See hostport.h. */
#include "hostport.h"

#include <string.h>

int bench_hostport_split(const char *spec, char *host, size_t host_size, char *port, size_t port_size) {
  const char *colon = strrchr(spec, ':');
  size_t host_len;
  if (colon == NULL) return -1;
  host_len = (size_t)(colon - spec);
  if (spec[0] == '[' && host_len >= 2 && spec[host_len - 1] == ']') {
    spec++;
    host_len -= 2;
  }
  if (host_len >= host_size || strlen(colon + 1) >= port_size) return -1;
  memcpy(host, spec, host_len);
  host[host_len] = '\0';
  strcpy(port, colon + 1);
  return 0;
}
