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
  std::vector<unsigned char> state; /* handler->state_size bytes, zeroed at open */
  std::string sent;                 /* every byte ps_session_send accepted, in order */
  size_t queued = 0;                /* of those, not yet handed to the "network" */
  int send_calls = 0;
  int close_calls = 0;
  int abort_calls = 0;
  bool closing = false; /* after ps_session_close/abort: sends are refused */
  bool ended = false;   /* on_close delivered: no ps_session_* call is allowed */
};

/* One session of `handler`, opened by the constructor and always ended
 * (on_close) by the destructor if the test has not done it. */
class FakeSession {
 public:
  explicit FakeSession(const ps_handler *handler);
  ~FakeSession();
  FakeSession(const FakeSession &) = delete;
  FakeSession &operator=(const FakeSession &) = delete;

  /* Bytes arrive from the peer; ignored once the session is closing, as the
   * engine stops delivering input then. */
  void Receive(const void *data, size_t len);
  /* The network takes everything queued; on_drained runs if the handler has it. */
  void Drain();
  /* The peer half-closes: on_eof, or the engine default (graceful close). */
  void PeerEof();
  /* The session ends: on_close, exactly once. */
  void End();

  ps_session *session() { return &session_; }
  const ps_session &record() const { return session_; }

 private:
  ps_session session_;
};

#endif
