// bound (server/engine/bound.c), white-box: the base every listener and UDP
// socket shares, driven through a kind of the test's own whose posts follow
// a script, so each path can be chosen: open arms every op; a reset is
// retried at once, a few times; any other failure leaves the op idle for
// the retry pass, which posts it when due; close ends the socket only when
// its last op has completed; closing one listener's sockets leaves the
// others open. The last test does the same through the public API.
#include <cstring>
#include <deque>

#include "testutil.h"

extern "C" {
#include "bound.h" /* white box */
#include "listen_spec.h"
}

using namespace pstest;

namespace {

constexpr unsigned kOps = 3;

// What the test's kind does: per op, the results its next posts return (0
// once the list is empty), and what it saw.
struct Script {
  std::deque<int> results[kOps];
  unsigned posts[kOps] = {};
  unsigned destroyed = 0;
};
Script *g_script = nullptr;  // the running test's (tests run one at a time)

struct FakeBound {
  ps_bound b;  // first, as every kind has it
  ps_bound_slot slots[kOps];
};

ps_bound *fake_create(ps_engine *) {
  FakeBound *f = new FakeBound();
  return &f->b;
}
DWORD fake_prepare(ps_bound *, const char **) { return 0; }
int fake_post(ps_bound *, unsigned i) {
  g_script->posts[i]++;
  if (g_script->results[i].empty()) return 0;
  int r = g_script->results[i].front();
  g_script->results[i].pop_front();
  return r;
}
ps_bound_slot *fake_slot(ps_bound *b, unsigned i) { return &reinterpret_cast<FakeBound *>(b)->slots[i]; }
unsigned fake_pool_size(const ps_bound *) { return kOps; }
void fake_destroy(ps_bound *b) {
  g_script->destroyed++;
  delete reinterpret_cast<FakeBound *>(b);
}

ps_bound_kind fake_kind() {
  ps_bound_kind k{};
  k.transport = PS_TRANSPORT_UDP;
  k.name = "udp";
  k.post_call = "the test's post";
  k.socktype = SOCK_DGRAM;
  k.create = fake_create;
  k.prepare = fake_prepare;
  k.post = fake_post;
  k.slot = fake_slot;
  k.pool_size = fake_pool_size;
  k.posted_stat = PS_STAT_udp_receives_posted;
  k.error_stat = PS_STAT_udp_recv_errors;
  k.error_site = PS_SITE_UDP_RECV;
  k.warn = PS_WARN_UDP_POST;
  k.pool_noun = "test ops";
  k.destroy = fake_destroy;
  return k;
}
const ps_bound_kind kFakeKind = fake_kind();

// An engine with no listener of its own, and the script of its fake sockets.
struct Fixture {
  Script script;
  Server srv;
  Fixture() { g_script = &script; }
  ~Fixture() { g_script = nullptr; }
  bool start() {
    ps_engine_config cfg = default_config();
    int err = ps_engine_new(&cfg, &srv.engine);
    EXPECT_EQ(err, 0);
    return err == 0;
  }
  ps_engine *e() const { return srv.engine; }
  // Opens `text` ("name=127.0.0.1:0") as fake sockets; the first opened.
  ps_bound *open(const char *text, ps_listen_spec *spec) {
    char msg[200];
    EXPECT_EQ(ps_listen_spec_parse(text, spec, msg, sizeof(msg)), 0) << msg;
    unsigned port = 0;
    if (ps_bound_open_spec(e(), &kFakeKind, spec, &ps_svc_echo, nullptr, 0, &port) != 0) return nullptr;
    EXPECT_NE(port, 0u);
    AcquireSRWLockShared(&e()->lock);
    ps_bound *b = e()->bound;  // the list's head: the last one linked
    ReleaseSRWLockShared(&e()->lock);
    return b;
  }
  // Op i completes, as the port would deliver it, and is handled.
  void complete(ps_bound *b, unsigned i) {
    ps_bound_rearm r;
    AcquireSRWLockExclusive(&b->lock);
    ps_bound_rearm_locked(b, i, &r);
    ReleaseSRWLockExclusive(&b->lock);
    ps_bound_rearm_done(b, &r);
  }
  // Closes b and completes its posted ops, as their aborted completions would.
  // The last completion frees b: nothing of it is read after that one.
  void close_and_drain(ps_bound *b) {
    unsigned left = b->pending;
    bool posted[kOps];
    for (unsigned i = 0; i < kOps; i++) posted[i] = !fake_slot(b, i)->idle;
    ps_bound_close(b);
    for (unsigned i = 0; i < kOps && left > 0; i++) {
      if (!posted[i]) continue;
      left--;
      complete(b, i);
    }
  }
  size_t endpoints() const {
    ps_endpoint eps[8];
    return ps_engine_endpoints(e(), eps, 8);
  }
  ps_stats stats() const { return srv.stats(); }
};

}  // namespace

TEST(Bound, OpenArmsEveryOpAndTheLastCompletionAfterCloseEndsIt) {
  Fixture fx;
  ASSERT_TRUE(fx.start());
  ps_listen_spec spec;
  ps_bound *b = fx.open("fake=127.0.0.1:0/udp", &spec);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->pending, kOps);
  EXPECT_EQ(fx.stats().udp_receives_posted, kOps);
  EXPECT_EQ(fx.stats().sockets_live, 1u);
  EXPECT_EQ(fx.endpoints(), 1u);
  for (unsigned i = 0; i < kOps; i++) EXPECT_EQ(fx.script.posts[i], 1u) << "op " << i;

  // A completion while open: counted off and posted again.
  fx.complete(b, 1);
  EXPECT_EQ(fx.script.posts[1], 2u);
  EXPECT_EQ(b->pending, kOps);

  ps_bound_close(b);
  EXPECT_EQ(fx.stats().sockets_live, 0u) << "the socket closes at once";
  EXPECT_EQ(fx.endpoints(), 0u) << "a closing socket is no endpoint";
  EXPECT_EQ(fx.script.destroyed, 0u) << "ops are still pending";
  ps_bound_close(b);  // idempotent
  fx.complete(b, 0);
  fx.complete(b, 1);
  EXPECT_EQ(fx.script.destroyed, 0u);
  EXPECT_EQ(fx.script.posts[0], 1u) << "nothing is re-posted on a closing socket";
  fx.complete(b, 2);  // the last: the endgame
  EXPECT_EQ(fx.script.destroyed, 1u);
  EXPECT_EQ(fx.stats().udp_receives_posted, 0u);
  fx.srv.stop_and_check();
}

// "An incoming connection was reset before it was accepted": the next post
// may be fine, so a reset is tried again at once, PS_RETRY_IMMEDIATE times;
// every failed post is counted with its error.
TEST(Bound, AResetIsRetriedAtOnceAFewTimes) {
  Fixture fx;
  ASSERT_TRUE(fx.start());
  fx.script.results[0] = {WSAECONNRESET, WSAECONNRESET};
  for (int i = 0; i <= PS_RETRY_IMMEDIATE; i++) fx.script.results[2].push_back(WSAECONNRESET);
  ps_listen_spec spec;
  ps_bound *b = fx.open("fake=127.0.0.1:0/udp", &spec);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(fx.script.posts[0], 3u) << "two resets, then posted";
  EXPECT_FALSE(fake_slot(b, 0)->idle);
  EXPECT_EQ(fx.script.posts[2], static_cast<unsigned>(PS_RETRY_IMMEDIATE + 1)) << "then it waits for the retry";
  EXPECT_TRUE(fake_slot(b, 2)->idle);
  EXPECT_EQ(b->idle_count, 1u);
  EXPECT_EQ(b->pending, 2u);
  EXPECT_EQ(fx.stats().udp_recv_errors, 2u + PS_RETRY_IMMEDIATE + 1);
  fx.close_and_drain(b);
  EXPECT_EQ(fx.script.destroyed, 1u);
  fx.srv.stop_and_check();
}

// Out of buffers, memory, sockets: the op waits, idle, for the retry pass,
// 100 ms later and doubling while it keeps failing; the pass posts it when
// due, and a full pool starts the backoff over.
TEST(Bound, OtherErrorsWaitForTheRetryPassWhichPostsWhenDue) {
  Fixture fx;
  ASSERT_TRUE(fx.start());
  fx.script.results[1] = {WSAENOBUFS, WSAENOBUFS};
  ps_listen_spec spec;
  ps_bound *b = fx.open("fake=127.0.0.1:0/udp", &spec);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(fx.script.posts[1], 1u) << "not retried at once";
  EXPECT_TRUE(fake_slot(b, 1)->idle);
  EXPECT_EQ(b->retry.backoff_ms, PS_RETRY_FIRST_MS);
  ULONGLONG due = b->retry.at;
  ASSERT_NE(due, 0u);

  EXPECT_EQ(ps_bound_retry(fx.e(), &kFakeKind, due - 1), due) << "not yet: says when";
  EXPECT_EQ(fx.script.posts[1], 1u);
  EXPECT_EQ(ps_bound_retry(fx.e(), &kFakeKind, due), due + 2 * PS_RETRY_FIRST_MS) << "failed again: twice the wait";
  EXPECT_EQ(fx.script.posts[1], 2u);
  EXPECT_EQ(b->retry.backoff_ms, 2 * PS_RETRY_FIRST_MS);
  EXPECT_EQ(ps_bound_retry(fx.e(), &kFakeKind, due + 2 * PS_RETRY_FIRST_MS), 0u) << "posted: nothing more is due";
  EXPECT_EQ(fx.script.posts[1], 3u);
  EXPECT_FALSE(fake_slot(b, 1)->idle);
  EXPECT_EQ(b->idle_count, 0u);
  EXPECT_EQ(b->pending, kOps);
  EXPECT_EQ(b->retry.backoff_ms, 0u) << "the pool is full: the next failure waits the first delay again";
  EXPECT_EQ(fx.stats().udp_receives_posted, kOps);
  fx.close_and_drain(b);
  EXPECT_EQ(fx.script.destroyed, 1u);
  fx.srv.stop_and_check();
}

// A socket whose every post fails is not kept: open fails and closes it.
TEST(Bound, OpenFailsWhenNoOpCanBePosted) {
  Fixture fx;
  ASSERT_TRUE(fx.start());
  for (unsigned i = 0; i < kOps; i++) fx.script.results[i] = {WSAENOBUFS};
  ps_listen_spec spec;
  EXPECT_EQ(fx.open("fake=127.0.0.1:0/udp", &spec), nullptr);
  EXPECT_EQ(fx.script.destroyed, 1u);
  EXPECT_EQ(fx.stats().sockets_live, 0u);
  EXPECT_EQ(fx.endpoints(), 0u);
  fx.srv.stop_and_check();
}

// ps_bound_close_all with a spec (a reload's unlisten) closes the sockets
// opened for that spec and no other.
TEST(Bound, CloseAllOfASpecClosesOnlyItsSockets) {
  Fixture fx;
  ASSERT_TRUE(fx.start());
  ps_listen_spec one, two;
  ps_bound *a = fx.open("one=127.0.0.1:0/udp", &one);
  ps_bound *b = fx.open("two=127.0.0.1:0/udp", &two);
  ASSERT_TRUE(a != nullptr && b != nullptr && a != b);
  EXPECT_EQ(fx.stats().sockets_live, 2u);
  EXPECT_EQ(ps_bound_close_all(fx.e(), &one), 1u);
  EXPECT_TRUE(a->closing);
  EXPECT_FALSE(b->closing);
  EXPECT_EQ(fx.stats().sockets_live, 1u);
  EXPECT_EQ(fx.endpoints(), 1u);
  EXPECT_EQ(ps_bound_close_all(fx.e(), &one), 0u) << "nothing left of it";
  fx.close_and_drain(a);
  fx.close_and_drain(b);
  EXPECT_EQ(fx.script.destroyed, 2u);
  fx.srv.stop_and_check();
}

// The same through the public API: unlisten closes the listener's socket
// and the sockets of its accept pool, and nothing of the other listener.
TEST(Bound, UnlistenClosesOnlyItsListener) {
  ps_engine_config cfg = default_config();
  cfg.accepts = 2;
  Server srv;
  ASSERT_TRUE(srv.start("echo=127.0.0.1:0/tcp", &cfg));
  ASSERT_TRUE(srv.listen("discard=127.0.0.1:0/tcp"));
  unsigned echo_port = srv.endpoint("echo", PS_TRANSPORT_TCP)->port;
  unsigned discard_port = srv.endpoint("discard", PS_TRANSPORT_TCP)->port;
  EXPECT_EQ(srv.stats().sockets_live, 2u * (1 + cfg.accepts)) << "each listener and its accept sockets";
  ps_listen_spec spec;
  char msg[200];
  ASSERT_EQ(ps_listen_spec_parse("discard=127.0.0.1:0/tcp", &spec, msg, sizeof(msg)), 0) << msg;
  EXPECT_EQ(ps_engine_unlisten(srv.engine, &spec), 1u);
  EXPECT_TRUE(wait_until([&] { return srv.stats().sockets_live == 1 + cfg.accepts; }, 5000))
      << "sockets_live " << srv.stats().sockets_live;
  SOCKET refused = connect_to("127.0.0.1", discard_port, 2000);
  EXPECT_EQ(refused, INVALID_SOCKET) << "the closed listener accepts nothing";
  if (refused != INVALID_SOCKET) closesocket(refused);
  expect_echo("127.0.0.1", echo_port, 3);
  srv.stop_and_check();
}
