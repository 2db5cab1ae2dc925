/* HOST:PORT splitting for clients (hostport.h); moved out of the stats client
 * (server/admin_client.c) so that it is tested and fuzzed natively. */
#include "hostport.h"

#include <string.h>

#include "errtab.h"

int ps_hostport_split(const char *text, char *host, size_t hostsize, char *port, size_t portsize, char *err,
                      size_t errsize) {
  const char *colon, *h = text;
  size_t hlen, plen;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL) return ps_fail(err, errsize, "'%.80s': missing ']' after the IPv6 address", text);
    if (close[1] != ':') return ps_fail(err, errsize, "'%.80s': expected ':PORT' after ']'", text);
    h = text + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (colon == NULL) return ps_fail(err, errsize, "'%.80s': missing ':PORT'", text);
    hlen = (size_t)(colon - text);
  }
  plen = strlen(colon + 1);
  if (hlen == 0) return ps_fail(err, errsize, "'%.80s': missing host before ':PORT'", text);
  if (hlen >= hostsize)
    return ps_fail(err, errsize, "'%.80s': host longer than %u bytes", text, (unsigned)hostsize - 1);
  if (plen == 0) return ps_fail(err, errsize, "'%.80s': missing port after ':'", text);
  if (plen >= portsize)
    return ps_fail(err, errsize, "'%.80s': port longer than %u bytes", text, (unsigned)portsize - 1);
  /* A host with brackets or a port with ':' could not be written back as
   * HOST:PORT and read the same; no name, address or service has them. */
  if (memchr(h, '[', hlen) != NULL || memchr(h, ']', hlen) != NULL)
    return ps_fail(err, errsize, "'%.80s': '[' or ']' inside the host", text);
  if (strpbrk(colon + 1, ":[]") != NULL) return ps_fail(err, errsize, "'%.80s': ':', '[' or ']' in the port", text);
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  memcpy(port, colon + 1, plen + 1);
  return 0;
}
