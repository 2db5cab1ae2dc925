// sock (server/engine/sock.c), white-box: it is the one owner of WSASocketW
// and closesocket, so every socket it opens is counted once (sockets_live)
// and every close counts it off once; sockets are not inherited, with the
// fallback for systems that refuse the flag; the bind options every
// listening socket gets.
#include <cstring>

#include "testutil.h"

extern "C" {
#include "sock.h" /* white box */
}

using namespace pstest;

namespace {

// An engine with no listener, so every socket counted is the test's.
struct Engine {
  ps_faults faults{};
  Server srv;
  bool start() {
    ps_engine_config cfg = default_config();
    cfg.bind_retry_ms = 0;  // a refused bind fails at once
    cfg.faults = &faults;
    int err = ps_engine_new(&cfg, &srv.engine);
    EXPECT_EQ(err, 0) << "ps_engine_new";
    return err == 0;
  }
  ps_engine *e() const { return srv.engine; }
  uint64_t live() const { return srv.stats().sockets_live; }
};

// Whether the socket's handle is inherited by child processes.
bool inheritable(SOCKET s) {
  DWORD flags = 0;
  EXPECT_TRUE(GetHandleInformation(reinterpret_cast<HANDLE>(s), &flags)) << GetLastError();
  return (flags & HANDLE_FLAG_INHERIT) != 0;
}

sockaddr_in loopback_v4(unsigned port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<u_short>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sin;
}

}  // namespace

TEST(Sock, EverySocketOpenedIsCountedAndEachCloseCountsItOffOnce) {
  Engine eng;
  ASSERT_TRUE(eng.start());
  DWORD err = 0;
  SOCKET tcp = ps_sock_open(eng.e(), AF_INET, SOCK_STREAM, &err);
  SOCKET udp6 = ps_sock_open(eng.e(), AF_INET6, SOCK_DGRAM, &err);
  ASSERT_NE(tcp, INVALID_SOCKET) << err;
  ASSERT_NE(udp6, INVALID_SOCKET) << err;
  EXPECT_EQ(eng.live(), 2u);
  ps_sock_close(eng.e(), &tcp);
  EXPECT_EQ(tcp, INVALID_SOCKET) << "the caller's handle is cleared";
  EXPECT_EQ(eng.live(), 1u);
  ps_sock_close(eng.e(), &tcp);
  EXPECT_EQ(eng.live(), 1u) << "a second close of the same socket is a no-op";
  ps_sock_abort(eng.e(), &udp6);
  EXPECT_EQ(udp6, INVALID_SOCKET);
  EXPECT_EQ(eng.live(), 0u);
  ps_sock_abort(eng.e(), &udp6);
  EXPECT_EQ(eng.live(), 0u) << "a second abort is a no-op";
  eng.srv.stop_and_check();
}

TEST(Sock, AFailedOpenIsNotCounted) {
  Engine eng;
  ASSERT_TRUE(eng.start());
  ps_faults_arm(&eng.faults, PS_FAULT_WSASOCKET, 1, 1, WSAEMFILE);
  DWORD err = 0;
  SOCKET s = ps_sock_open(eng.e(), AF_INET, SOCK_STREAM, &err);
  EXPECT_EQ(s, INVALID_SOCKET);
  EXPECT_EQ(err, static_cast<DWORD>(WSAEMFILE));
  EXPECT_EQ(eng.live(), 0u);
  eng.srv.stop_and_check();
}

// WSA_FLAG_NO_HANDLE_INHERIT: a child process (a service may start one)
// must not hold the server's sockets open.
TEST(Sock, SocketsAreNotInheritedByChildProcesses) {
  Engine eng;
  ASSERT_TRUE(eng.start());
  DWORD err = 0;
  SOCKET s = ps_sock_open(eng.e(), AF_INET, SOCK_STREAM, &err);
  ASSERT_NE(s, INVALID_SOCKET) << err;
  EXPECT_FALSE(inheritable(s));
  ps_sock_close(eng.e(), &s);
  eng.srv.stop_and_check();
}

// Before Windows 7 SP1, WSASocketW refuses the flag with WSAEINVAL: the
// socket is made without it (inheritable, but a server), and counted as any
// other. Any other error is the open's failure.
TEST(Sock, WithoutTheNoInheritFlagItFallsBackToAPlainSocket) {
  Engine eng;
  ASSERT_TRUE(eng.start());
  ps_faults_arm(&eng.faults, PS_FAULT_NO_INHERIT_FLAG, 1, 1, WSAEINVAL);
  DWORD err = 0;
  SOCKET s = ps_sock_open(eng.e(), AF_INET, SOCK_STREAM, &err);
  ASSERT_NE(s, INVALID_SOCKET) << err;
  EXPECT_EQ(ps_faults_disarm(&eng.faults, PS_FAULT_NO_INHERIT_FLAG), 1);
  EXPECT_EQ(eng.live(), 1u);
  EXPECT_TRUE(inheritable(s)) << "made by the second WSASocketW, without the flag";
  ps_sock_close(eng.e(), &s);

  ps_faults_arm(&eng.faults, PS_FAULT_NO_INHERIT_FLAG, 1, 1, WSAEMFILE);
  s = ps_sock_open(eng.e(), AF_INET, SOCK_STREAM, &err);
  EXPECT_EQ(s, INVALID_SOCKET) << "only WSAEINVAL means the flag is unknown";
  EXPECT_EQ(err, static_cast<DWORD>(WSAEMFILE));
  EXPECT_EQ(eng.live(), 0u);
  eng.srv.stop_and_check();
}

TEST(Sock, AbortResetsThePeer) {
  Engine eng;
  ASSERT_TRUE(eng.start());
  SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in sin = loopback_v4(0);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  int len = sizeof(sin);
  getsockname(listener, reinterpret_cast<sockaddr *>(&sin), &len);
  DWORD err = 0;
  SOCKET s = ps_sock_open(eng.e(), AF_INET, SOCK_STREAM, &err);
  ASSERT_NE(s, INVALID_SOCKET) << err;
  ASSERT_EQ(connect(s, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)), 0) << WSAGetLastError();
  SOCKET peer = accept(listener, nullptr, nullptr);
  ASSERT_NE(peer, INVALID_SOCKET);
  DWORD timeout = 5000;
  setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char *>(&timeout), sizeof(timeout));
  ps_sock_abort(eng.e(), &s);
  EXPECT_TRUE(wait_reset(peer, 5000)) << "the peer sees a reset, not an orderly close";
  closesocket(peer);
  closesocket(listener);
  EXPECT_EQ(eng.live(), 0u);
  eng.srv.stop_and_check();
}

// Every listening or UDP socket: SO_EXCLUSIVEADDRUSE (a second bind of the
// port fails, naming the bind and leaving nothing open), IPV6_V6ONLY on
// IPv6, and the port the system chose read back.
TEST(Sock, OpenBoundIsExclusiveV6OnlyAndReadsBackItsPort) {
  Engine eng;
  ASSERT_TRUE(eng.start());
  sockaddr_in sin = loopback_v4(0);
  SOCKADDR_STORAGE bound{};
  const char *step = "";
  DWORD err = 0;
  SOCKET s =
      ps_sock_open_bound(eng.e(), reinterpret_cast<sockaddr *>(&sin), sizeof(sin), SOCK_STREAM, &bound, &step, &err);
  ASSERT_NE(s, INVALID_SOCKET) << step << " " << err;
  unsigned port = ntohs(ps_sockaddr_port(&bound));
  EXPECT_NE(port, 0u);
  EXPECT_EQ(eng.live(), 1u);

  sockaddr_in again = loopback_v4(port);
  SOCKADDR_STORAGE bound2{};
  SOCKET s2 = ps_sock_open_bound(eng.e(), reinterpret_cast<sockaddr *>(&again), sizeof(again), SOCK_STREAM, &bound2,
                                 &step, &err);
  EXPECT_EQ(s2, INVALID_SOCKET);
  EXPECT_STREQ(step, "bind");
  EXPECT_EQ(err, static_cast<DWORD>(WSAEADDRINUSE));
  EXPECT_EQ(eng.live(), 1u) << "the refused socket is closed again";

  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  SOCKET s6 =
      ps_sock_open_bound(eng.e(), reinterpret_cast<sockaddr *>(&sin6), sizeof(sin6), SOCK_DGRAM, &bound2, &step, &err);
  ASSERT_NE(s6, INVALID_SOCKET) << step << " " << err;
  DWORD v6only = 0;
  int optlen = sizeof(v6only);
  EXPECT_EQ(getsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<char *>(&v6only), &optlen), 0);
  EXPECT_EQ(v6only, 1u);
  EXPECT_EQ(eng.live(), 2u);
  ps_sock_close(eng.e(), &s6);
  ps_sock_close(eng.e(), &s);
  eng.srv.stop_and_check();
}
