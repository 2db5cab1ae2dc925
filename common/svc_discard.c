/* discard (RFC 863): everything received is dropped; nothing is ever sent,
 * over TCP or UDP. The connection stays until the peer closes. */
#include "ps_handler.h"
#include "services.h"

static void discard__on_data(ps_session *s, const void *data, size_t len) {
  (void)s;
  (void)data;
  (void)len;
}

static void discard__on_datagram(ps_datagram *d, const void *data, size_t len) {
  (void)d;
  (void)data;
  (void)len;
}

const ps_handler ps_svc_discard = {
  "discard", 0, NULL, discard__on_data, NULL, NULL, NULL, discard__on_datagram, NULL, NULL,
};
