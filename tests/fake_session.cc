/* The fake engine behind fake_session.h: definitions of the ps_session_* and
 * ps_datagram_* calls that the real engine (server/conn.c, server/udp.c)
 * provides on Windows. Linked only into common_tests; engine_tests links the
 * real ones. */
#include "fake_session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

/* 192.0.2.7:40000 (TEST-NET-1) as a sockaddr_in, into a fake's peer bytes:
 * sa_family (AF_INET = 2, host order) then the port and the address in
 * network order, the layout of both Winsock's and POSIX's sockaddr_in
 * (written by hand: common_tests links no socket library). */
static int fake__peer(unsigned char *out) {
  const uint16_t family = 2;
  const unsigned char rest[6] = {0x9c, 0x40, 192, 0, 2, 7};
  memset(out, 0, 16);
  memcpy(out, &family, sizeof(family));
  memcpy(out + 2, rest, sizeof(rest));
  return 16;
}

static bool fake__usable(const ps_session *s, const char *call) {
  if (s->ended) {
    ADD_FAILURE() << call << " called after on_close";
    return false;
  }
  return true;
}

extern "C" {

int ps_session_send(ps_session *s, const void *data, size_t len) {
  if (!fake__usable(s, "ps_session_send")) return -1;
  s->send_calls++;
  if (s->closing) return -1;
  s->sent.append(static_cast<const char *>(data), len);
  s->queued += len;
  return 0;
}

size_t ps_session_queued(const ps_session *s) {
  if (!fake__usable(s, "ps_session_queued")) return 0;
  return s->queued;
}

size_t ps_session_send_queue_max(const ps_session *s) {
  if (!fake__usable(s, "ps_session_send_queue_max")) return 0;
  return s->send_queue_max;
}

void ps_session_set_deadline(ps_session *s, unsigned ms) {
  if (!fake__usable(s, "ps_session_set_deadline")) return;
  s->deadline_ms = ms;
  s->deadline_sets++;
}

void ps_session_close(ps_session *s) {
  if (!fake__usable(s, "ps_session_close")) return;
  s->close_calls++;
  s->closing = true;
}

void ps_session_abort(ps_session *s) {
  if (!fake__usable(s, "ps_session_abort")) return;
  s->abort_calls++;
  s->closing = true;
  s->queued = 0; /* an abort drops what is queued */
}

void *ps_session_state(ps_session *s) {
  if (!fake__usable(s, "ps_session_state")) return nullptr;
  return s->state.data();
}

void *ps_session_context(ps_session *s) {
  if (!fake__usable(s, "ps_session_context")) return nullptr;
  return s->context;
}

const struct sockaddr *ps_session_peer(const ps_session *s, int *len) {
  if (!fake__usable(s, "ps_session_peer")) return nullptr;
  *len = s->peer_len;
  return reinterpret_cast<const struct sockaddr *>(s->peer);
}

char *ps_session_peer_name(const ps_session *s, char *buf, size_t size) {
  if (fake__usable(s, "ps_session_peer_name")) snprintf(buf, size, "192.0.2.7:40000");
  return buf;
}

const struct sockaddr *ps_datagram_peer(const ps_datagram *d, int *len) {
  if (!d->in_call) ADD_FAILURE() << "ps_datagram_peer called outside on_datagram";
  *len = d->peer_len;
  return reinterpret_cast<const struct sockaddr *>(d->peer);
}

int ps_datagram_reply(ps_datagram *d, const void *data, size_t len) {
  if (!d->in_call) {
    ADD_FAILURE() << "ps_datagram_reply called outside on_datagram";
    return -1;
  }
  d->reply_calls++;
  if (d->refuse_replies) return -1;
  d->replies.emplace_back(static_cast<const char *>(data), len);
  return 0;
}

void *ps_datagram_context(ps_datagram *d) {
  if (!d->in_call) ADD_FAILURE() << "ps_datagram_context called outside on_datagram";
  return d->context;
}

} /* extern "C" */

FakeSession::FakeSession(const ps_handler *handler, void *context) {
  session_.handler = handler;
  session_.context = context;
  session_.state.assign(handler->state_size, 0);
  session_.peer_len = fake__peer(session_.peer);
  if (handler->on_open != nullptr) handler->on_open(&session_);
}

FakeSession::~FakeSession() { End(); }

void FakeSession::Receive(const void *data, size_t len) {
  if (session_.ended || session_.closing) return;
  if (session_.handler->on_data == nullptr) return; /* the engine reads and drops it */
  session_.handler->on_data(&session_, data, len);
}

void FakeSession::Drain() {
  if (session_.ended) return;
  session_.queued = 0;
  if (!session_.closing && session_.handler->on_drained != nullptr) session_.handler->on_drained(&session_);
}

void FakeSession::PeerEof() {
  if (session_.ended || session_.closing) return;
  if (session_.handler->on_eof != nullptr) session_.handler->on_eof(&session_);
  else session_.eof_left_to_engine = true;
}

void FakeSession::Deadline() {
  if (session_.ended || session_.closing) return;
  session_.deadline_ms = 0;
  if (session_.handler->on_deadline != nullptr) session_.handler->on_deadline(&session_);
  else ps_session_close(&session_);
}

void FakeSession::End() {
  if (session_.ended) return;
  if (session_.handler->on_close != nullptr) session_.handler->on_close(&session_);
  session_.ended = true;
}

FakeDatagram::FakeDatagram(const ps_handler *handler, void *context) : handler_(handler) {
  datagram_.context = context;
  datagram_.peer_len = fake__peer(datagram_.peer);
}

void FakeDatagram::Receive(const void *data, size_t len) {
  if (handler_->on_datagram == nullptr) {
    ADD_FAILURE() << handler_->name << " does not serve UDP (no on_datagram)";
    return;
  }
  datagram_.in_call = true;
  handler_->on_datagram(&datagram_, data, len);
  datagram_.in_call = false;
}
