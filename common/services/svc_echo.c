/* echo (RFC 862): every byte received is sent back, until the peer closes;
 * over UDP each datagram goes back to its sender unchanged. Backpressure is
 * the engine's: while the peer does not read, the send queue fills and the
 * engine stops reading until it drains. */
#include "ps_handler.h"
#include "services.h"

static void echo__on_data(ps_session *s, const void *data, size_t len) {
  /* On failure the engine has already aborted the session; nothing to undo. */
  (void)ps_session_send(s, data, len);
}

static void echo__on_datagram(ps_datagram *d, const void *data, size_t len) { (void)ps_datagram_reply(d, data, len); }

const ps_handler ps_svc_echo = {
  .name = "echo",
  .on_data = echo__on_data, /* no on_eof: the engine closes once the echo is sent */
  .on_datagram = echo__on_datagram,
  .flags = PS_HANDLER_CLIENT_FIRST,
};
