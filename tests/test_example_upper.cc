// The example protocol (examples/upper) against the fake engine: what a
// user's handler test looks like.
#include <gtest/gtest.h>

#include <string>

#include "fake_session.h"

extern "C" {
#include "upper.h"
}

namespace {

// The service context, made and freed as the engine does.
struct UpperService {
  void *ctx = nullptr;
  explicit UpperService(const char *greeting = nullptr) {
    upper_options opt = {greeting};
    ps_service_config cfg = {"upper", &opt};
    char err[200];
    EXPECT_EQ(upper_handler.on_start(&cfg, &ctx, err, sizeof err), 0) << err;
  }
  ~UpperService() { upper_handler.on_stop(ctx); }
};

TEST(ExampleUpper, GreetsWithThePeerAddressAndTheConfiguredWord) {
  UpperService svc("hi:");
  FakeSession s(&upper_handler, svc.ctx);
  EXPECT_EQ(s.session()->sent, "hi: hello 192.0.2.7:40000\r\n");
}

TEST(ExampleUpper, AnswersEachLineInUpperCaseAcrossReceives) {
  UpperService svc;
  FakeSession s(&upper_handler, svc.ctx);
  s.session()->sent.clear();
  s.Receive("hel", 3);
  EXPECT_EQ(s.session()->sent, "") << "half a line is kept until its end arrives";
  s.Receive("lo wor", 6);
  s.Receive("ld\r\nsecond\n", 11);
  EXPECT_EQ(s.session()->sent, "HELLO WORLD\r\nSECOND\r\n");
  EXPECT_FALSE(s.session()->closing);
}

TEST(ExampleUpper, QuitSaysByeAndClosesGracefully) {
  UpperService svc;
  FakeSession s(&upper_handler, svc.ctx);
  s.session()->sent.clear();
  s.Receive("quit\r\n", 6);
  EXPECT_EQ(s.session()->sent, "BYE\r\n");
  EXPECT_EQ(s.session()->close_calls, 1);
  EXPECT_EQ(s.session()->abort_calls, 0);
}

TEST(ExampleUpper, ALineLongerThanTheLimitIsRefused) {
  UpperService svc;
  FakeSession s(&upper_handler, svc.ctx);
  s.session()->sent.clear();
  std::string big(UPPER_LINE_MAX + 1, 'a');
  s.Receive(big.data(), big.size());
  EXPECT_EQ(s.session()->sent, "ERR line too long\r\n");
  EXPECT_TRUE(s.session()->closing);
}

TEST(ExampleUpper, ALastLineWithoutLineEndIsAnsweredAtEof) {
  UpperService svc;
  FakeSession s(&upper_handler, svc.ctx);
  s.session()->sent.clear();
  s.Receive("tail", 4);
  s.PeerEof();
  EXPECT_EQ(s.session()->sent, "TAIL\r\n");
  EXPECT_TRUE(s.session()->closing);
}

TEST(ExampleUpper, DatagramsComeBackInUpperCase) {
  UpperService svc;
  FakeDatagram d(&upper_handler, svc.ctx);
  d.Receive("mixed Case 42", 13);
  ASSERT_EQ(d.replies().size(), 1u);
  EXPECT_EQ(d.replies()[0], "MIXED CASE 42");
}

TEST(ExampleUpper, ATooLongGreetingFailsTheStartWithAMessage) {
  std::string g(100, 'g');
  upper_options opt = {g.c_str()};
  ps_service_config cfg = {"upper", &opt};
  void *ctx = nullptr;
  char err[200] = "";
  EXPECT_EQ(upper_handler.on_start(&cfg, &ctx, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("greeting"), std::string::npos) << err;
}

}  // namespace
