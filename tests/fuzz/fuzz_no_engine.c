/* The engine's session and datagram calls, for fuzz targets that link
 * psservices (whose built-in services call them) but run no service: reaching
 * one of these is a bug in the target, so each aborts. */
#include <stdlib.h>

#include "ps_handler.h"

int ps_session_send(ps_session *s, const void *data, size_t len) {
  (void)s, (void)data, (void)len;
  abort();
}
size_t ps_session_queued(const ps_session *s) {
  (void)s;
  abort();
}
void ps_session_close(ps_session *s) {
  (void)s;
  abort();
}
void ps_session_abort(ps_session *s) {
  (void)s;
  abort();
}
void *ps_session_state(ps_session *s) {
  (void)s;
  abort();
}
void *ps_session_context(ps_session *s) {
  (void)s;
  abort();
}
const struct sockaddr *ps_session_peer(const ps_session *s, int *len) {
  (void)s, (void)len;
  abort();
}
char *ps_session_peer_name(const ps_session *s, char *buf, size_t size) {
  (void)s, (void)buf, (void)size;
  abort();
}
int ps_datagram_reply(ps_datagram *d, const void *data, size_t len) {
  (void)d, (void)data, (void)len;
  abort();
}
void *ps_datagram_context(ps_datagram *d) {
  (void)d;
  abort();
}
const struct sockaddr *ps_datagram_peer(const ps_datagram *d, int *len) {
  (void)d, (void)len;
  abort();
}
