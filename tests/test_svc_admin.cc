// The admin HTTP endpoint driven through a fake session: what a client sees.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_session.h"
#include "metrics_sample.h"

extern "C" {
#include "http.h"
#include "services.h"
}

namespace {

struct Figures {
  ps_metrics_state state = PS_METRICS_SERVING;
  int fills = 0;
};

void FillFromTest(void *arg, ps_metrics *out) {
  Figures *f = static_cast<Figures *>(arg);
  f->fills++;
  FillSampleMetrics(out);
  out->state = f->state;
}

// The admin service started as the engine starts it, with the test's figures.
class AdminService {
 public:
  AdminService() {
    options.metrics_fill = FillFromTest;
    options.metrics_arg = &figures;
    ps_service_config cfg{};
    cfg.name = "admin";
    cfg.options = &options;
    char err[200] = "";
    EXPECT_EQ(ps_svc_admin.on_start(&cfg, &ctx, err, sizeof(err)), 0) << err;
  }
  ~AdminService() { ps_svc_admin.on_stop(ctx); }
  ps_admin_options options{};
  Figures figures;
  void *ctx = nullptr;
};

struct Response {
  int status = 0;
  std::string head, body;
};

// Splits what the session sent into responses. HEAD responses carry a
// Content-Length but no body, so the caller says which ones were HEAD.
std::vector<Response> Responses(const std::string &sent, const std::vector<bool> &head_only = {}) {
  std::vector<Response> out;
  size_t pos = 0;
  while (pos < sent.size()) {
    size_t end = sent.find("\r\n\r\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated head: " << sent.substr(pos);
      break;
    }
    Response r;
    r.head = sent.substr(pos, end + 4 - pos);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t cl = r.head.find("Content-Length: ");
    size_t len = cl == std::string::npos ? 0 : std::stoul(r.head.substr(cl + 16));
    bool head = out.size() < head_only.size() && head_only[out.size()];
    pos = end + 4;
    if (!head) {
      r.body = sent.substr(pos, len);
      pos += len;
    }
    out.push_back(r);
  }
  return out;
}

const char kGetMetrics[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n\r\n";

}  // namespace

TEST(SvcAdmin, IsTcpOnlyAndRefusesToStartWithoutFigures) {
  EXPECT_STREQ(ps_svc_admin.name, "admin");
  EXPECT_EQ(ps_svc_admin.on_datagram, nullptr);
  EXPECT_EQ(ps_service_find("admin"), nullptr) << "opened by --admin, not --listen";
  ps_service_config cfg{};
  void *ctx = nullptr;
  char err[200] = "";
  EXPECT_EQ(ps_svc_admin.on_start(&cfg, &ctx, err, sizeof(err)), -1);
  EXPECT_NE(std::string(err).find("metrics_fill"), std::string::npos) << err;
}

TEST(SvcAdmin, GetMetricsAnswersPrometheusTextAndKeepsTheConnection) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  fake.Receive(kGetMetrics, sizeof(kGetMetrics) - 1);
  auto r = Responses(fake.record().sent);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_NE(r[0].head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(r[0].head.find("Cache-Control: no-store\r\n"), std::string::npos);
  EXPECT_NE(r[0].head.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_NE(r[0].body.find("\nportserve_connections_accepted_total 120\n"), std::string::npos);
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(svc.figures.fills, 1);
}

TEST(SvcAdmin, StatsJsonAndTextAndHealthz) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  const std::string reqs = "GET /stats.json HTTP/1.1\r\nHost: a\r\n\r\nGET /stats.txt HTTP/1.1\r\nHost: a\r\n\r\n"
                           "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  fake.Receive(reqs.data(), reqs.size());
  auto r = Responses(fake.record().sent);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_NE(r[0].head.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(r[0].body.rfind("{\"format\":1,", 0), 0u);
  EXPECT_EQ(r[1].body.rfind("portserve 0.1.0, serving", 0), 0u) << r[1].body;
  EXPECT_EQ(r[2].status, 200);
  EXPECT_EQ(r[2].body, "ok\n");
  EXPECT_EQ(fake.record().close_calls, 0);
}

TEST(SvcAdmin, HealthzWhileStoppingIs503AndCloses) {
  AdminService svc;
  svc.figures.state = PS_METRICS_STOPPING;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  fake.Receive(req.data(), req.size());
  auto r = Responses(fake.record().sent);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 503);
  EXPECT_EQ(r[0].body, "stopping\n");
  EXPECT_NE(r[0].head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(fake.record().close_calls, 1);
}

TEST(SvcAdmin, HeadSendsTheHeadersOfGetWithoutTheBody) {
  AdminService svc;
  FakeSession get(&ps_svc_admin, svc.ctx), head(&ps_svc_admin, svc.ctx);
  get.Receive(kGetMetrics, sizeof(kGetMetrics) - 1);
  const std::string req = "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
  head.Receive(req.data(), req.size());
  auto g = Responses(get.record().sent);
  auto h = Responses(head.record().sent, {true});
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(head.record().sent, h[0].head) << "nothing after the head";
  EXPECT_NE(h[0].head.find("Content-Length: " + std::to_string(g[0].body.size()) + "\r\n"), std::string::npos);
}

TEST(SvcAdmin, UnknownPathIs404ThenClose) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  const std::string req = "GET /admin HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
  fake.Receive(req.data(), req.size());
  auto r = Responses(fake.record().sent);
  ASSERT_EQ(r.size(), 1u) << "nothing is answered after an error";
  EXPECT_EQ(r[0].status, 404);
  EXPECT_NE(r[0].head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(fake.record().close_calls, 1);
  EXPECT_EQ(svc.figures.fills, 0) << "a 404 costs the engine nothing";
}

TEST(SvcAdmin, EachMalformedKindGetsItsStatusThenClose) {
  AdminService svc;
  std::string long_target = "/" + std::string(PS_HTTP_TARGET_MAX, 'a');
  std::string big_head = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(PS_HTTP_HEAD_MAX, 'v') + "\r\n\r\n";
  struct Case {
    std::string request;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET / HTTP/1.1\nHost: a\n\n", 400},
      {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
      {"GET " + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {big_head, 431},
      {"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", 405},
      {"GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", 413},
      {"GET /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411},
      {"GET /metrics HTTP/1.1\r\n\r\n", 400},
  };
  for (const Case &c : cases) {
    FakeSession fake(&ps_svc_admin, svc.ctx);
    fake.Receive(c.request.data(), c.request.size());
    auto r = Responses(fake.record().sent);
    ASSERT_EQ(r.size(), 1u) << c.request.substr(0, 60);
    EXPECT_EQ(r[0].status, c.status) << c.request.substr(0, 60);
    EXPECT_NE(r[0].head.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(r[0].body.rfind(std::to_string(c.status) + " ", 0), 0u) << r[0].body;
    EXPECT_EQ(fake.record().close_calls, 1) << c.request.substr(0, 60);
    if (c.status == 405) {
      EXPECT_NE(r[0].head.find("Allow: GET, HEAD\r\n"), std::string::npos);
    }
  }
}

TEST(SvcAdmin, RequestFedOneByteAtATimeIsAnsweredOnceComplete) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  const std::string req = kGetMetrics;
  for (size_t i = 0; i < req.size(); i++) {
    EXPECT_TRUE(fake.record().sent.empty()) << "answered before byte " << i;
    fake.Receive(&req[i], 1);
  }
  auto r = Responses(fake.record().sent);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
}

TEST(SvcAdmin, PipelinedRequestsSplitAcrossChunksAreAnsweredInOrder) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  const std::string all = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nHEAD /stats.json HTTP/1.1\r\nHost: a\r\n\r\n"
                          "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  size_t cut = all.size() / 2 + 3;  // the second request straddles the chunks
  fake.Receive(all.data(), cut);
  fake.Receive(all.data() + cut, all.size() - cut);
  auto r = Responses(fake.record().sent, {false, true, false});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].body, "ok\n");
  EXPECT_NE(r[1].head.find("application/json"), std::string::npos);
  EXPECT_NE(r[2].head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(fake.record().close_calls, 1) << "Connection: close is honoured";
}

TEST(SvcAdmin, ConnectionClosesAfterTheRequestCap) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  std::string many;
  for (int i = 0; i < PS_ADMIN_REQUESTS_MAX + 5; i++) many += "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  fake.Receive(many.data(), many.size());
  auto r = Responses(fake.record().sent);
  ASSERT_EQ(r.size(), static_cast<size_t>(PS_ADMIN_REQUESTS_MAX));
  EXPECT_NE(r.back().head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(r[PS_ADMIN_REQUESTS_MAX - 2].head.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(fake.record().close_calls, 1);
}

// Backpressure: one read of many pipelined scrapes queues answers only up to
// the engine's send queue limit; the rest wait unparsed and are answered as
// the queue drains (on_drained), in order, every one of them.
TEST(SvcAdmin, PipelinedScrapesStopAtTheSendQueueLimitAndGoOnWhenDrained) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  fake.session()->send_queue_max = 8192;
  std::string many;
  const int kRequests = 40;
  for (int i = 0; i < kRequests; i++) many += kGetMetrics;
  fake.Receive(many.data(), many.size());
  auto first = Responses(fake.record().sent);
  ASSERT_GE(first.size(), 1u) << "the first is answered at once";
  ASSERT_LT(first.size(), static_cast<size_t>(kRequests)) << "not all of them: the queue limit stops it";
  size_t one = fake.record().sent.size() / first.size();
  EXPECT_LT(fake.record().queued, 8192 + one) << "about one send queue, not one answer per request";
  EXPECT_EQ(svc.figures.fills, static_cast<int>(first.size()));
  size_t peak = fake.record().queued;
  for (int drains = 0; drains < kRequests && Responses(fake.record().sent).size() < static_cast<size_t>(kRequests);
       drains++) {
    fake.Drain();
    if (fake.record().queued > peak) peak = fake.record().queued;
  }
  auto all = Responses(fake.record().sent);
  EXPECT_EQ(all.size(), static_cast<size_t>(kRequests)) << "every request answered once drained";
  for (const auto &r : all) EXPECT_EQ(r.status, 200);
  EXPECT_LT(peak, 8192 + one);
  EXPECT_EQ(fake.record().close_calls, 0) << "keep-alive";
}

// New input behind held requests waits its turn; a FIN after them closes
// only once they are answered.
TEST(SvcAdmin, InputBehindHeldRequestsKeepsItsOrderAndEofWaitsForThem) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  fake.session()->send_queue_max = 1;  // one answer per drain
  const std::string a = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string b = "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  fake.Receive((a + a).data(), 2 * a.size());
  fake.Receive(b.data(), b.size());
  fake.PeerEof();
  EXPECT_EQ(Responses(fake.record().sent).size(), 1u);
  EXPECT_EQ(fake.record().close_calls, 0) << "answers still owed";
  fake.Drain();
  fake.Drain();
  auto r = Responses(fake.record().sent, {false, false, true});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].body, "ok\n");
  EXPECT_TRUE(r[2].body.empty()) << "the HEAD came last";
  EXPECT_EQ(fake.record().close_calls, 1) << "closed once the last held request was answered";
}

TEST(SvcAdmin, ClientFarAheadOfItsAnswersIsClosed) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  fake.session()->send_queue_max = 1;
  std::string chunk;
  while (chunk.size() < 8192) chunk += kGetMetrics;
  for (int i = 0; i < PS_ADMIN_HELD_MAX / 8192 + 2 && fake.record().close_calls == 0; i++)
    fake.Receive(chunk.data(), chunk.size());
  EXPECT_EQ(fake.record().close_calls, 1) << "past PS_ADMIN_HELD_MAX held";
}

// The head deadline runs from a head's first byte and is not moved by the
// bytes after it; when it passes the client gets 408 and a close.
TEST(SvcAdmin, HeadDeadlineArmsOnTheFirstByteOnlyThen408AndClose) {
  AdminService svc;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  EXPECT_EQ(fake.record().deadline_sets, 0) << "nothing armed before a byte";
  fake.Receive("G", 1);
  EXPECT_EQ(fake.record().deadline_ms, static_cast<unsigned>(PS_ADMIN_HEAD_TIMEOUT_MS));
  EXPECT_EQ(fake.record().deadline_sets, 1);
  fake.Receive("ET /met", 7);
  fake.Receive("rics", 4);
  EXPECT_EQ(fake.record().deadline_sets, 1) << "further bytes do not move it";
  fake.Deadline();
  auto r = Responses(fake.record().sent);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 408);
  EXPECT_NE(r[0].head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(fake.record().close_calls, 1);
}

TEST(SvcAdmin, HeadDeadlineIsDisarmedByACompleteRequestAndConfigurable) {
  AdminService svc;
  svc.options.head_timeout_ms = 1500;
  ps_svc_admin.on_stop(svc.ctx);
  ps_service_config cfg{};
  cfg.name = "admin";
  cfg.options = &svc.options;
  char err[200] = "";
  ASSERT_EQ(ps_svc_admin.on_start(&cfg, &svc.ctx, err, sizeof(err)), 0) << err;
  FakeSession fake(&ps_svc_admin, svc.ctx);
  const std::string two = std::string(kGetMetrics) + "GET /hea";
  fake.Receive(two.data(), two.size());
  EXPECT_EQ(fake.record().deadline_ms, 1500u) << "re-armed for the second head, from the test's setting";
  EXPECT_EQ(fake.record().deadline_sets, 1) << "a head complete in one read arms nothing; the cut one does";
  const std::string rest = "lthz HTTP/1.1\r\nHost: a\r\n\r\n";
  fake.Receive(rest.data(), rest.size());
  EXPECT_EQ(fake.record().deadline_ms, 0u) << "disarmed between requests: an idle keep-alive is the idle timeout's";
  EXPECT_EQ(Responses(fake.record().sent).size(), 2u);
}

TEST(SvcAdmin, IsAManagementServiceWithADeadlineHandler) {
  EXPECT_NE(ps_svc_admin.flags & PS_HANDLER_MANAGEMENT, 0u) << "kept out of the totals and --max-connections";
  EXPECT_NE(ps_svc_admin.on_deadline, nullptr);
  EXPECT_NE(ps_svc_admin.on_drained, nullptr);
}
