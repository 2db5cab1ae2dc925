// The engine under load: many concurrent clients, a large transfer both
// ways, and a stop while traffic flows. Clients are non-blocking sockets
// driven by WSAPoll from one thread; every byte is checked.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "testutil.h"

using namespace pstest;

namespace {

struct Client {
  SOCKET s = INVALID_SOCKET;
  ByteStream out{0}, expect{0};
  ByteStream sizes{0};
  size_t messages_done = 0;
  size_t msg_len = 0;  // current message (lockstep mode)
  size_t msg_sent = 0;
  size_t msg_received = 0;
  uint64_t sent = 0, received = 0;
  bool eof = false, failed = false, closed = false;
  std::vector<unsigned char> pending;  // generated, not yet sent
  size_t pending_off = 0;
};

SOCKET connect_nonblocking(unsigned port) {
  SOCKET s = connect_to("127.0.0.1", port);
  if (s == INVALID_SOCKET) return s;
  u_long on = 1;
  ioctlsocket(s, FIONBIO, &on);
  return s;
}

// Sends from c.pending (refilled from c.out); returns false on a hard error.
bool pump_send(Client &c, size_t max_bytes) {
  while (max_bytes > 0) {
    if (c.pending_off == c.pending.size()) {
      size_t n = (std::min<size_t>)(max_bytes, 16384);
      c.pending.resize(n);
      c.out.fill(c.pending.data(), n);
      c.pending_off = 0;
    }
    size_t want = (std::min)(max_bytes, c.pending.size() - c.pending_off);
    int n = send(c.s, reinterpret_cast<char *>(c.pending.data()) + c.pending_off, static_cast<int>(want), 0);
    if (n < 0) return WSAGetLastError() == WSAEWOULDBLOCK;
    c.pending_off += static_cast<size_t>(n);
    c.sent += static_cast<uint64_t>(n);
    max_bytes -= static_cast<size_t>(n);
  }
  return true;
}

// Receives what is there and checks it; returns false on mismatch or error.
bool pump_recv(Client &c, size_t max_bytes) {
  unsigned char buf[16384], want[16384];
  while (max_bytes > 0) {
    int n = recv(c.s, reinterpret_cast<char *>(buf), static_cast<int>((std::min)(max_bytes, sizeof(buf))), 0);
    if (n == 0) {
      c.eof = true;
      return true;
    }
    if (n < 0) return WSAGetLastError() == WSAEWOULDBLOCK;
    c.expect.fill(want, static_cast<size_t>(n));
    if (memcmp(buf, want, static_cast<size_t>(n)) != 0) {
      ADD_FAILURE() << "echoed bytes differ at offset " << c.received;
      return false;
    }
    c.received += static_cast<uint64_t>(n);
    max_bytes -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

// 200 clients at once, each 1,000 messages of random size (1..2048 bytes),
// sent one at a time and checked byte for byte when echoed. Eight client
// threads drive 25 clients each with WSAPoll (under Wine a poll costs in
// proportion to its socket count, so smaller sets keep the test quick).
TEST(EngineLoad, TwoHundredClientsThousandMessagesEachEveryByteVerified) {
  const size_t kClients = 200, kMessages = 1000, kThreads = 8;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp"));
  std::vector<Client> clients(kClients);
  for (size_t i = 0; i < kClients; i++) {
    Client &c = clients[i];
    c.s = connect_nonblocking(srv.port());
    ASSERT_NE(c.s, INVALID_SOCKET) << "client " << i;
    c.out = ByteStream(1000 + i);
    c.expect = ByteStream(1000 + i);
    c.sizes = ByteStream(5000 + i);
    c.msg_len = 1 + c.sizes.next() % 2048;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  std::vector<std::string> errors(kThreads);
  auto drive = [&](size_t t) {
    size_t begin = t * kClients / kThreads, end = (t + 1) * kClients / kThreads;
    std::vector<WSAPOLLFD> fds;
    std::vector<size_t> index;
    for (;;) {
      fds.clear();
      index.clear();
      for (size_t i = begin; i < end; i++) {
        Client &c = clients[i];
        if (c.messages_done == kMessages) continue;
        WSAPOLLFD p{};
        p.fd = c.s;
        p.events = c.msg_sent < c.msg_len ? POLLWRNORM : POLLRDNORM;
        fds.push_back(p);
        index.push_back(i);
      }
      if (fds.empty()) return;
      if (std::chrono::steady_clock::now() > deadline) {
        errors[t] = std::to_string(fds.size()) + " clients unfinished at the deadline";
        return;
      }
      if (WSAPoll(fds.data(), static_cast<ULONG>(fds.size()), 1000) < 0) {
        errors[t] = "WSAPoll failed: " + std::to_string(WSAGetLastError());
        return;
      }
      for (size_t k = 0; k < fds.size(); k++) {
        if (fds[k].revents == 0) continue;
        Client &c = clients[index[k]];
        if (fds[k].revents & (POLLERR | POLLNVAL)) {
          errors[t] = "client " + std::to_string(index[k]) + ": socket error";
          return;
        }
        if (c.msg_sent < c.msg_len) {
          uint64_t before = c.sent;
          if (!pump_send(c, c.msg_len - c.msg_sent)) {
            errors[t] = "send failed: " + std::to_string(WSAGetLastError());
            return;
          }
          c.msg_sent += static_cast<size_t>(c.sent - before);
        } else {
          uint64_t before = c.received;
          if (!pump_recv(c, c.msg_len - c.msg_received) || c.eof) {
            errors[t] = "client " + std::to_string(index[k]) + ": receive failed, wrong bytes or early close";
            return;
          }
          c.msg_received += static_cast<size_t>(c.received - before);
          if (c.msg_received == c.msg_len) {
            c.messages_done++;
            c.msg_len = 1 + c.sizes.next() % 2048;
            c.msg_sent = c.msg_received = 0;
          }
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; t++) threads.emplace_back(drive, t);
  for (std::thread &th : threads) th.join();
  for (size_t t = 0; t < kThreads; t++) EXPECT_EQ(errors[t], "") << "client thread " << t;
  ps_stats st = srv.stats();
  EXPECT_EQ(st.conns_total, kClients);
  EXPECT_EQ(st.closed_reset, 0u);
  for (Client &c : clients) {
    EXPECT_EQ(c.messages_done, kMessages);
    EXPECT_EQ(c.sent, c.received);
    close_socket(c.s);
  }
  srv.stop_and_check();
}

// 64 MiB each way on one connection, sending and receiving at the same time.
TEST(EngineLoad, SixtyFourMiBEachWayConcurrentlyChecksumVerified) {
  const uint64_t kBytes = 64ull << 20;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp"));
  SOCKET s = connect_to("127.0.0.1", srv.port(), 60000);
  ASSERT_NE(s, INVALID_SOCKET);
  std::atomic<bool> send_ok{true};
  std::thread sender([&] {
    ByteStream out(64);
    std::vector<unsigned char> buf(65536);
    for (uint64_t left = kBytes; left > 0;) {
      size_t n = static_cast<size_t>((std::min<uint64_t>)(left, buf.size()));
      out.fill(buf.data(), n);
      if (!send_all(s, buf.data(), n)) {
        send_ok = false;
        return;
      }
      left -= n;
    }
    shutdown(s, SD_SEND);
  });
  ByteStream expect(64);
  std::vector<unsigned char> buf(65536), want(65536);
  uint64_t received = 0;
  bool same = true;
  for (;;) {
    int n = recv(s, reinterpret_cast<char *>(buf.data()), static_cast<int>(buf.size()), 0);
    if (n <= 0) {
      EXPECT_EQ(n, 0) << "recv error " << WSAGetLastError() << " after " << received << " bytes";
      break;
    }
    expect.fill(want.data(), static_cast<size_t>(n));
    if (memcmp(buf.data(), want.data(), static_cast<size_t>(n)) != 0) same = false;
    received += static_cast<uint64_t>(n);
  }
  sender.join();
  EXPECT_TRUE(send_ok.load());
  EXPECT_TRUE(same) << "the echoed stream differs from the sent one";
  EXPECT_EQ(received, kBytes);
  close_socket(s);
  EXPECT_TRUE(wait_until([&] { return srv.stats().conns_open == 0; }, 10000));
  EXPECT_EQ(srv.stats().bytes_in, kBytes);
  EXPECT_EQ(srv.stats().bytes_out, kBytes);
  srv.stop_and_check();
}

// Stop with 100 connections open and traffic flowing both ways: every client
// gets an orderly close (FIN, never RST) after an exact prefix of its own
// stream, nobody is reset at the deadline, and all counters return to zero.
TEST(EngineLoad, StopWithHundredBusyConnectionsDrainsGracefully) {
  const size_t kClients = 100;
  Server srv;
  ps_engine_config cfg = default_config();
  cfg.drain_timeout_ms = 20000;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0", &cfg));
  std::vector<Client> clients(kClients);
  for (size_t i = 0; i < kClients; i++) {
    clients[i].s = connect_nonblocking(srv.port());
    ASSERT_NE(clients[i].s, INVALID_SOCKET);
    clients[i].out = ByteStream(7000 + i);
    clients[i].expect = ByteStream(7000 + i);
  }
  std::thread stopper;
  std::atomic<bool> stop_returned{false};
  unsigned reset_at_deadline = 99;
  size_t closed = 0;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::seconds(120);
  std::vector<WSAPOLLFD> fds;
  std::vector<size_t> index;
  while (closed < kClients) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << closed << " of " << kClients << " closed";
    // Once every client has had traffic echoed, stop the server mid-flow.
    if (!stopper.joinable()) {
      bool all_flowing = std::all_of(clients.begin(), clients.end(), [](const Client &c) { return c.received > 0; });
      if (all_flowing)
        stopper = std::thread([&] {
          reset_at_deadline = ps_engine_stop(srv.engine);
          stop_returned = true;
        });
    }
    fds.clear();
    index.clear();
    for (size_t i = 0; i < kClients; i++) {
      Client &c = clients[i];
      if (c.closed) continue;
      WSAPOLLFD p{};
      p.fd = c.s;
      p.events = POLLRDNORM;
      // Keep at most 64 KiB unechoed in flight; stop sending once the server closed.
      if (!c.eof && c.sent - c.received < 65536) p.events |= POLLWRNORM;
      fds.push_back(p);
      index.push_back(i);
    }
    int r = WSAPoll(fds.data(), static_cast<ULONG>(fds.size()), 1000);
    ASSERT_GE(r, 0);
    for (size_t k = 0; k < fds.size(); k++) {
      Client &c = clients[index[k]];
      short ev = fds[k].revents;
      if (ev == 0) continue;
      if (ev & (POLLRDNORM | POLLHUP | POLLERR)) {
        ASSERT_TRUE(pump_recv(c, 1 << 20)) << "client " << index[k] << ": recv error " << WSAGetLastError()
                                           << " (a reset instead of a graceful close?)";
      }
      if (!c.eof && (ev & POLLWRNORM)) {
        ASSERT_TRUE(pump_send(c, 65536 - static_cast<size_t>(c.sent - c.received)));
      }
      if (c.eof) {
        EXPECT_LE(c.received, c.sent);
        closesocket(c.s);
        c.closed = true;
        closed++;
      }
    }
  }
  ASSERT_TRUE(stopper.joinable()) << "traffic never flowed on every connection";
  stopper.join();
  EXPECT_TRUE(stop_returned.load());
  EXPECT_EQ(reset_at_deadline, 0u) << "connections reset at the drain deadline";
  ps_stats st = srv.stats();
  EXPECT_EQ(st.conns_total, kClients);
  EXPECT_EQ(st.sockets_live, 0u);
  EXPECT_EQ(st.conns_open, 0u);
  EXPECT_EQ(st.buffers_in_use, 0u);
  srv.stop_and_check();  // idempotent second stop; frees the engine
}
