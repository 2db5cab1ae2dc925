/* discard (RFC 863): everything received is dropped; nothing is ever sent,
 * over TCP or UDP. The connection stays until the peer closes. */
#include "ps_handler.h"
#include "services.h"

static void discard__on_datagram(ps_datagram *d, const void *data, size_t len) {
  (void)d;
  (void)data;
  (void)len;
}

/* No on_data: the engine reads and drops what arrives. */
const ps_handler ps_svc_discard = {
  .name = "discard",
  .on_datagram = discard__on_datagram,
  .flags = PS_HANDLER_CLIENT_FIRST,
};
