// echo (RFC 862) driven through a fake session: what the peer would get back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include "fake_session.h"
#include "service_ref.h"

extern "C" {
#include "services.h"
}

TEST(SvcEcho, IsNamedEchoAndLeavesEverythingButDataToTheEngine) {
  EXPECT_STREQ(ps_svc_echo.name, "echo");
  EXPECT_EQ(ps_svc_echo.state_size, 0u);
  EXPECT_NE(ps_svc_echo.on_data, nullptr);
  EXPECT_EQ(ps_svc_echo.on_open, nullptr);
  EXPECT_EQ(ps_svc_echo.on_drained, nullptr);
  EXPECT_EQ(ps_svc_echo.on_eof, nullptr) << "the engine default closes once the echo is sent";
  EXPECT_EQ(ps_svc_echo.on_close, nullptr);
}

TEST(SvcEcho, ServiceFindReturnsEchoByName) {
  EXPECT_EQ(ps_service_find("echo"), &ps_svc_echo);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "echo", pstest::builtin_names());
}

TEST(SvcEcho, ServiceFindReturnsNullForUnknownNames) {
  for (const char *name : {"", "gopher", "ech", "echo2", "echo "}) EXPECT_EQ(ps_service_find(name), nullptr) << name;
}

TEST(SvcEcho, EchoesOneChunkExactly) {
  FakeSession fake(&ps_svc_echo);
  const std::string hello = "hello\r\n";
  fake.Receive(hello.data(), hello.size());
  EXPECT_EQ(fake.record().sent, hello);
  EXPECT_EQ(ps_session_queued(fake.session()), hello.size());
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(fake.record().abort_calls, 0);
}

TEST(SvcEcho, EchoesEveryByteValue) {
  std::string all;
  for (int b = 0; b < 256; b++) all.push_back(static_cast<char>(b));
  FakeSession fake(&ps_svc_echo);
  fake.Receive(all.data(), all.size());
  EXPECT_EQ(fake.record().sent, all);
}

TEST(SvcEcho, ZeroLengthDataSendsNothing) {
  FakeSession fake(&ps_svc_echo);
  const char byte = 'x';
  fake.Receive(&byte, 0);
  EXPECT_TRUE(fake.record().sent.empty());
  EXPECT_EQ(ps_session_queued(fake.session()), 0u);
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(fake.record().abort_calls, 0);
}

// Receives of random sizes (some empty), with the network draining at random
// points: the peer gets back exactly the bytes it sent, in order.
TEST(SvcEcho, EchoesManyRandomChunksInOrder) {
  std::mt19937 rng(20240611);  // fixed seed: a failure reproduces
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> chunk(0, 9000);
  std::bernoulli_distribution drain(0.3);

  std::string input(512 * 1024, '\0');
  for (char &c : input) c = static_cast<char>(byte(rng));

  FakeSession fake(&ps_svc_echo);
  size_t offset = 0;
  int receives = 0;
  while (offset < input.size()) {
    size_t len = (std::min)(chunk(rng), input.size() - offset);
    fake.Receive(input.data() + offset, len);
    offset += len;
    receives++;
    if (drain(rng)) fake.Drain();
    ASSERT_EQ(fake.record().sent.size(), offset) << "after receive " << receives;
  }
  EXPECT_GT(receives, 50);
  EXPECT_TRUE(fake.record().sent == input) << "echoed bytes differ from the input";
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(fake.record().abort_calls, 0);
}

// The life the engine gives a session: open, data, peer FIN, close. echo has
// no on_eof: it leaves the close to the engine's default (a graceful close
// once the echo is sent, tested in Conn.HalfCloseEchoesEverythingThenCloses)
// and itself neither closes nor drops what it queued.
TEST(SvcEcho, PeerEofLeavesTheGracefulCloseToTheEngine) {
  FakeSession fake(&ps_svc_echo);
  const std::string data = "last words";
  fake.Receive(data.data(), data.size());
  fake.PeerEof();
  EXPECT_TRUE(fake.record().eof_left_to_engine);
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(fake.record().abort_calls, 0);
  EXPECT_EQ(ps_session_queued(fake.session()), data.size()) << "the echo stays queued for the close to flush";
  fake.End();
  EXPECT_EQ(fake.record().sent, data);
  EXPECT_EQ(fake.record().send_calls, 1);
}
