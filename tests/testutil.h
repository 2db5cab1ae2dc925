// Helpers for the engine tests: start an engine on loopback port 0, plain
// Winsock clients with timeouts, and the check every test ends with (the
// live counters back at zero).
#ifndef PS_TESTUTIL_H
#define PS_TESTUTIL_H

// Without NOMINMAX, which we do not define, the Windows SDK's windows.h makes
// min and max macros in C++ too (mingw's libstdc++ defines NOMINMAX and hides
// this), so tests write (std::min)(a, b): a macro name followed by ')' is not
// expanded. tests/build_vcxproj.py compiles with the SDK's macros to check.
#include <winsock2.h>
#include <ws2tcpip.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" {
#include "ps_engine.h"
#include "ps_log.h"
#include "ps_services.h"
}

namespace pstest {

// A deterministic byte stream (xorshift), so both ends of a transfer can
// produce and check the same bytes without storing them.
class ByteStream {
 public:
  explicit ByteStream(uint64_t seed) : state_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  void fill(void *dst, size_t len);
  uint64_t next();

 private:
  uint64_t state_;
  uint64_t word_ = 0;
  unsigned left_ = 0;
};

struct Server {
  ps_engine *engine = nullptr;
  std::vector<ps_endpoint> endpoints;

  ~Server();
  // Creates an engine with `cfg` and opens `spec` ("echo=127.0.0.1:0").
  // Returns false (with a gtest failure) if that fails.
  bool start(const char *spec, const ps_engine_config *cfg = nullptr);
  // Another listener on the same engine, served by the built-in service the
  // spec names; `options` are the service's own, e.g. a ps_qotd_options.
  bool listen(const char *spec, const void *options = nullptr);
  // The same with a handler of the test's own instead of a built-in one.
  bool serve(const char *spec, const ps_handler *h, const void *options = nullptr);
  unsigned port(int family = AF_INET) const;
  // The endpoint serving `service` on `transport` (PS_TRANSPORT_TCP or
  // PS_TRANSPORT_UDP) and `family`, or nullptr and a failure.
  const ps_endpoint *endpoint(const char *service, unsigned transport, int family = AF_INET) const;
  ps_stats stats() const;
  // Stops the engine; asserts sockets, connections, buffers and posted
  // accepts (set-aside ones too) and UDP receives are zero (an op that never completed keeps its
  // pool's gauge up). Returns the number of connections reset at the drain
  // deadline.
  unsigned stop_and_check();
};

ps_engine_config default_config();

// Every log line written while it lives is kept (and still printed on
// stderr), for text() to read back: the engine's log sink (ps_log_set_sink)
// is set while it lives. Make it before the engine starts and let it go
// after the engine stopped: the sink is set while no other thread logs.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture &) = delete;
  LogCapture &operator=(const LogCapture &) = delete;
  std::string text() const;

 private:
  static void sink(void *ctx, const ps_log_record *rec);
  mutable SRWLOCK lock_ = SRWLOCK_INIT;
  std::string text_;
};

// A connected blocking client socket with send/recv timeouts, or INVALID_SOCKET.
SOCKET connect_to(const char *address, unsigned port, int timeout_ms = 10000);
// The same from local address `local` (an IPv4 literal such as "127.0.0.2").
SOCKET connect_from(const char *local, const char *address, unsigned port, int timeout_ms = 10000);
// 1 if data (or EOF, or a reset) is waiting within timeout_ms, else 0.
int wait_readable(SOCKET s, int timeout_ms);
// `count` connected clients of the server's IPv4 listener (a failure is
// reported and the vector holds INVALID_SOCKET for it).
std::vector<SOCKET> connect_many(const Server &srv, int count);
void close_all(const std::vector<SOCKET> &sockets);
bool send_all(SOCKET s, const void *data, size_t len);
// Receives exactly len bytes; false on timeout, error or early EOF.
bool recv_exact(SOCKET s, void *data, size_t len);
// Waits for EOF; returns 1 on orderly EOF, 0 on timeout, -1 on reset/error.
int wait_eof(SOCKET s, int timeout_ms);
// True when the tests run under Wine (its ntdll exports wine_get_version).
bool under_wine();
// Waits up to timeout_ms for the peer's reset: true when recv fails (the
// reset). An orderly EOF counts only under Wine, where a linger-0 close is
// sometimes seen as one (docs/wine-notes.md, row 23); on Windows it fails.
bool wait_reset(SOCKET s, int timeout_ms);
void close_socket(SOCKET s);

// A UDP socket of `family` whose receives time out after timeout_ms.
SOCKET udp_socket(int family, int timeout_ms = 5000);
// One datagram from `s` to the endpoint (a wildcard address means loopback).
void udp_send(SOCKET s, const ps_endpoint &ep, const std::string &payload);
// One datagram from `s` to the endpoint and one reply read into *reply (if
// given); false when none comes within s's receive timeout.
bool udp_ask(SOCKET s, const ps_endpoint &ep, const std::string &payload, std::string *reply = nullptr);
// The same from a fresh socket of the endpoint's family, closed after.
bool udp_ask(const ps_endpoint &ep, const std::string &payload, std::string *reply = nullptr, int timeout_ms = 5000);
// The reply to one datagram, or "" and a failure when none comes in 5 s.
std::string udp_reply(const ps_endpoint &ep, const std::string &payload);
void reset_socket(SOCKET s);  // linger 0 then close: the peer gets RST

// What udp_echo_load saw, per client: replies that matched their request,
// replies that did not, datagrams sent again after a wait.
struct UdpEchoLoad {
  std::vector<int> matched, mismatched, resent;
  int total_resent() const;
};
// `clients` sockets at once each send `per_client` datagrams to an echo
// endpoint, `window` in flight per socket; each carries its client, its
// number and a body derived from both (1 to 1,400 bytes), and each reply is
// checked against it. What is missing after a 2 s wait is sent again
// (loopback UDP can drop under pressure), up to 2,000 datagrams a client.
UdpEchoLoad udp_echo_load(const ps_endpoint &ep, int clients, int per_client, int window);

// Polls `pred` every few ms until it holds or timeout_ms passes.
template <typename Pred> bool wait_until(Pred pred, int timeout_ms) {
  for (int waited = 0;; waited += 5) {
    if (pred()) return true;
    if (waited >= timeout_ms) return false;
    Sleep(5);
  }
}

// Sends from a client that never reads until its own send stalls (the
// server's queue and both socket buffers are full). Returns bytes sent; the
// socket is blocking again afterwards.
size_t fill_until_stalled(SOCKET s);

// Connects to address:port and echoes messages of 1 byte to 200,000 bytes
// (around the buffer size), every byte checked; then closes.
void expect_echo(const char *address, unsigned port, uint64_t seed);

// Echo round trip of `len` bytes from `stream`; false (and a failure) on mismatch.
bool echo_round_trip(SOCKET s, ByteStream &stream, size_t len);

}  // namespace pstest

#endif
