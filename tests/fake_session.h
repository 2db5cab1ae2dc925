/* A stand-in for the engine's side of the handler API (ps_handler.h), so a
 * service can be unit-tested natively: it records what the handler sends and
 * how it closes, and drives the callbacks in the order the engine does. */
#ifndef PS_FAKE_SESSION_H
#define PS_FAKE_SESSION_H

#include <cstddef>
#include <string>
#include <vector>

extern "C" {
#include "ps_handler.h"
}

/* The engine's struct is private to server/; this one only records. */
struct ps_session {
  const ps_handler *handler = nullptr;
  void *context = nullptr;          /* what ps_session_context returns */
  std::vector<unsigned char> state; /* handler->state_size bytes, zeroed at open */
  std::string sent;                 /* every byte ps_session_send accepted, in order */
  size_t queued = 0;                /* of those, not yet handed to the "network" */
  int send_calls = 0;
  int close_calls = 0;
  int abort_calls = 0;
  bool closing = false; /* after ps_session_close/abort: sends are refused */
  bool ended = false;   /* on_close delivered: no ps_session_* call is allowed */
  /* What ps_session_peer/ps_session_peer_name report: 192.0.2.7:40000. */
  unsigned char peer[16] = {0};
  int peer_len = 0;
  /* The peer's FIN reached a handler without on_eof: the engine's default (a
   * graceful close) applies. The fake does not act it out, so a test sees
   * only what the handler itself did; the default is tested against the real
   * engine (Engine.HalfCloseEchoesEverythingThenCloses,
   * UdpServices.ChargenClosesGracefullyWhenTheClientHalfCloses). */
  bool eof_left_to_engine = false;
  /* What ps_session_send_queue_max reports (the engine's default). */
  size_t send_queue_max = 262144;
  /* The deadline the handler armed (ps_session_set_deadline), 0 = none; the
   * test passes it with Deadline(). */
  unsigned deadline_ms = 0;
  int deadline_sets = 0;
};

/* One session of `handler`, opened by the constructor and always ended
 * (on_close) by the destructor if the test has not done it. `context` is the
 * service context, as on_start made it (nullptr for services without one). */
class FakeSession {
 public:
  explicit FakeSession(const ps_handler *handler, void *context = nullptr);
  ~FakeSession();
  FakeSession(const FakeSession &) = delete;
  FakeSession &operator=(const FakeSession &) = delete;

  /* Bytes arrive from the peer; ignored once the session is closing, as the
   * engine stops delivering input then. */
  void Receive(const void *data, size_t len);
  /* The network takes everything queued; on_drained runs if the handler has it. */
  void Drain();
  /* The peer half-closes: on_eof if the handler has one; otherwise only
   * records that the engine's default applies (eof_left_to_engine). */
  void PeerEof();
  /* The armed deadline passes: on_deadline if the handler has one (the
   * engine's default, a graceful close, otherwise). The fake disarms it
   * first, as the engine does. */
  void Deadline();
  /* The session ends: on_close, exactly once. */
  void End();

  ps_session *session() { return &session_; }
  const ps_session &record() const { return session_; }

 private:
  ps_session session_;
};

/* The engine's side of one UDP socket, as far as a handler sees it. */
struct ps_datagram {
  void *context = nullptr;          /* what ps_datagram_context returns */
  std::vector<std::string> replies; /* each reply datagram the fake accepted */
  int reply_calls = 0;              /* accepted or refused */
  bool refuse_replies = false;      /* ps_datagram_reply returns -1, as when out of memory */
  bool in_call = false;             /* a datagram is valid only during on_datagram */
  unsigned char peer[16] = {0};     /* the source ps_datagram_peer reports: 192.0.2.7:40000 */
  int peer_len = 0;
};

/* Delivers datagrams to `handler` and records its replies. The handler's
 * service context is `context`. */
class FakeDatagram {
 public:
  explicit FakeDatagram(const ps_handler *handler, void *context = nullptr);
  FakeDatagram(const FakeDatagram &) = delete;
  FakeDatagram &operator=(const FakeDatagram &) = delete;

  /* One datagram arrives: on_datagram, with replies recorded. */
  void Receive(const void *data, size_t len);
  void Receive(const std::string &payload) { Receive(payload.data(), payload.size()); }
  /* From now on every reply is refused (returns -1) and not recorded. */
  void RefuseReplies(bool refuse = true) { datagram_.refuse_replies = refuse; }

  ps_datagram *datagram() { return &datagram_; }
  const ps_datagram &record() const { return datagram_; }
  const std::vector<std::string> &replies() const { return datagram_.replies; }

 private:
  const ps_handler *handler_;
  ps_datagram datagram_;
};

#endif
