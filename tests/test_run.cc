// The run loop shared by the console and the service (server/run.c), driven
// as main.c and service.c drive it: options in, a stop event, and the
// admin endpoint answering over real sockets while the server stops.
#include <cstring>
#include <string>
#include <thread>

#include "testutil.h"

extern "C" {
#include "options.h"
#include "run.h"
}

using namespace pstest;

namespace {

const char *test_stop_reason(void *) { return "test"; }

// ps_run on its own thread, with a stop event the test signals.
struct RunningServer {
  ps_options options{};
  ps_run_hooks hooks{};
  HANDLE stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  ps_run_status status = PS_RUN_OK;
  std::thread thread;

  RunningServer() {
    ps_options_defaults(&options);
    options.stats_interval_s = 0;
    options.threads = 2;
    hooks.stop_event = stop;
    hooks.stop_hint = "the test stops it";
    hooks.stop_reason = test_stop_reason;
  }
  ~RunningServer() {
    SetEvent(stop);
    if (thread.joinable()) thread.join();
    CloseHandle(stop);
  }
  void start() {
    thread = std::thread([this] { status = ps_run(&options, &hooks); });
  }
  void stop_and_join() {
    SetEvent(stop);
    thread.join();
  }
};

// The port the log says `service` listens on over TCP ("listening on tcp
// 127.0.0.1:PORT (service)"), 0 until it does.
unsigned logged_port(const LogCapture &log, const char *service) {
  std::string text = log.text(), tail = std::string(" (") + service + ")";
  const std::string head = "listening on tcp 127.0.0.1:";
  for (size_t at = text.find(head); at != std::string::npos; at = text.find(head, at + 1)) {
    size_t digits = at + head.size(), end = text.find_first_not_of("0123456789", digits);
    if (end != std::string::npos && text.compare(end, tail.size(), tail) == 0)
      return static_cast<unsigned>(std::stoul(text.substr(digits, end - digits)));
  }
  return 0;
}

// One HTTP/1.0 request on a new connection; the status code, or 0.
int http_status(unsigned port, const char *path) {
  SOCKET s = connect_to("127.0.0.1", port, 5000);
  if (s == INVALID_SOCKET) return 0;
  std::string req = std::string("GET ") + path + " HTTP/1.0\r\n\r\n";
  send_all(s, req.data(), req.size());
  char buf[64] = {0};
  int n = recv(s, buf, sizeof(buf) - 1, 0);
  close_socket(s);
  if (n < 12 || std::strncmp(buf, "HTTP/1.", 7) != 0) return 0;
  return std::atoi(buf + 9);
}

}  // namespace

// A load balancer checks /healthz: from the moment a stop begins it must
// fail (503), on a new admin connection too, while the service listeners
// go on serving through the shutdown grace; afterwards they close.
TEST(Run, HealthzIs503WhileTheServerStops) {
  LogCapture log;
  RunningServer srv;
  char err[300];
  ASSERT_EQ(ps_options_add_listen(&srv.options, "echo=127.0.0.1:0/tcp", err, sizeof(err)), 0) << err;
  std::strcpy(srv.options.admin, "127.0.0.1:0");
  srv.options.shutdown_grace_s = 2;
  srv.start();
  unsigned admin = 0, echo = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        admin = logged_port(log, "admin");
        echo = logged_port(log, "echo");
        return admin != 0 && echo != 0;
      },
      10000));
  EXPECT_EQ(http_status(admin, "/healthz"), 200) << "serving";
  SetEvent(srv.stop);
  ASSERT_TRUE(wait_until([&] { return log.text().find("shutdown grace") != std::string::npos; }, 5000));
  EXPECT_EQ(http_status(admin, "/healthz"), 503) << "health fails as soon as the stop begins";
  SOCKET c = connect_to("127.0.0.1", echo);
  ASSERT_NE(c, INVALID_SOCKET) << "the listeners keep accepting through the grace";
  ByteStream stream(9);
  EXPECT_TRUE(echo_round_trip(c, stream, 100)) << "and keep serving";
  close_socket(c);
  srv.stop_and_join();
  EXPECT_EQ(srv.status, PS_RUN_OK);
  EXPECT_EQ(connect_to("127.0.0.1", echo, 2000), INVALID_SOCKET) << "the listener closed after the grace";
}

// Windows ends a console process about 5 s after close, logoff or shutdown;
// Ctrl+C and Ctrl+Break have no limit. Wine does not deliver CTRL_CLOSE_EVENT
// to a process run from a terminal (docs/wine-notes.md), so the cap is
// checked here.
TEST(Run, ConsoleCloseCapsTheDrainSoTheStopFitsTheWindow) {
  EXPECT_EQ(ps_run_console_drain_ms(CTRL_C_EVENT, 5000), 5000u);
  EXPECT_EQ(ps_run_console_drain_ms(CTRL_BREAK_EVENT, 20000), 20000u);
  for (DWORD type : {DWORD(CTRL_CLOSE_EVENT), DWORD(CTRL_LOGOFF_EVENT), DWORD(CTRL_SHUTDOWN_EVENT)}) {
    EXPECT_EQ(ps_run_console_drain_ms(type, 5000), 3000u) << type;
    EXPECT_EQ(ps_run_console_drain_ms(type, 1000), 1000u) << type;
    EXPECT_LT(ps_run_console_drain_ms(type, 3600000), PS_CONSOLE_CLOSE_WINDOW_MS) << type;
  }
}

// The shutdown grace, likewise: none when the console is closed (the 5 s
// window has no room for it), the configured one for Ctrl+C and Ctrl+Break.
TEST(Run, ConsoleCloseSkipsTheShutdownGrace) {
  EXPECT_EQ(ps_run_console_grace_ms(CTRL_C_EVENT, 5000), 5000u);
  EXPECT_EQ(ps_run_console_grace_ms(CTRL_BREAK_EVENT, 5000), 5000u);
  for (DWORD type : {DWORD(CTRL_CLOSE_EVENT), DWORD(CTRL_LOGOFF_EVENT), DWORD(CTRL_SHUTDOWN_EVENT)})
    EXPECT_EQ(ps_run_console_grace_ms(type, 5000), 0u) << type;
}
