// The admin endpoint's renderings (common/metrics.c, prom.c, strbuf.c).
// promtool checks the exposition as a whole (tests/CMakeLists.txt:
// native.metrics.promtool_accepts_exposition); these check the details.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "metrics_sample.h"

extern "C" {
#include "prom.h"
#include "strbuf.h"
}

namespace {

std::string Render(void (*render)(const ps_metrics *, ps_strbuf *), const ps_metrics *m) {
  ps_strbuf out;
  ps_strbuf_init_heap(&out, PS_METRICS_TEXT_MAX);
  render(m, &out);
  EXPECT_FALSE(out.overflow);
  std::string s(out.data != nullptr ? out.data : "", out.len);
  ps_strbuf_free(&out);
  return s;
}

bool Has(const std::string &text, const std::string &line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST(StrBuf, FixedBufferReportsOverflowAndKeepsWhatFitted) {
  char storage[8];
  ps_strbuf b;
  ps_strbuf_init_fixed(&b, storage, sizeof(storage));
  ps_strbuf_puts(&b, "abc");
  ps_strbuf_printf(&b, "%d", 1234);
  EXPECT_FALSE(b.overflow);
  EXPECT_STREQ(storage, "abc1234");
  ps_strbuf_puts(&b, "x");
  EXPECT_TRUE(b.overflow);
  EXPECT_STREQ(storage, "abc1234") << "nothing partial of the failed append";
}

TEST(StrBuf, HeapBufferGrowsToItsMaxThenOverflows) {
  ps_strbuf b;
  ps_strbuf_init_heap(&b, 1000);
  std::string line(99, 'x');
  for (int i = 0; i < 9; i++) ps_strbuf_printf(&b, "%s\n", line.c_str());
  EXPECT_FALSE(b.overflow);
  EXPECT_EQ(b.len, 900u);
  ps_strbuf_printf(&b, "%s\n", line.c_str());
  EXPECT_TRUE(b.overflow) << "1000 bytes + NUL do not fit in max 1000";
  EXPECT_EQ(b.len, 900u);
  ps_strbuf_free(&b);
}

TEST(Prom, EscapesLabelValuesAndHelpText) {
  ps_strbuf b;
  ps_strbuf_init_heap(&b, 4096);
  ps_prom p;
  ps_prom_init(&p, &b);
  ps_prom_family(&p, "x_total", "counter", "a \\ b\nc");
  ps_prom_label l = {"k", "q\"b\\n\nz"};
  ps_prom_sample(&p, &l, 1, 7);
  EXPECT_EQ(std::string(b.data, b.len),
            "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{k=\"q\\\"b\\\\n\\nz\"} 7\n");
  ps_strbuf_free(&b);
}

TEST(Metrics, PrometheusHasEachFamilyOnceWithHelpAndTypeBeforeItsSamples) {
  auto m = std::make_unique<ps_metrics>();
  FillSampleMetrics(m.get());
  std::string text = Render(ps_metrics_prometheus, m.get());
  std::istringstream in(text);
  std::string line, family;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(family).second) << "family twice: " << family;
      EXPECT_EQ(family.rfind("portserve_", 0), 0u) << family;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      EXPECT_EQ(rest.substr(0, rest.find(' ')), family);
      std::string type = rest.substr(rest.find(' ') + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      if (type == "counter") {
        EXPECT_EQ(family.substr(family.size() - 6), "_total") << family;
      }
      continue;
    }
    std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(name, family) << "sample outside its family: " << line;
  }
  EXPECT_TRUE(Has(text, "portserve_build_info{version=\"0.1.0\"} 1"));
  EXPECT_TRUE(Has(text, "portserve_connections_accepted_total 120"));
  EXPECT_TRUE(Has(text, "portserve_connections_open 3"));
  for (const char *reason :
       {"idle\"} 5", "linger\"} 6", "send\"} 7", "per_source_limit\"} 4", "reset\"} 2", "out_of_resources\"} 8"})
    EXPECT_TRUE(Has(text, std::string("portserve_connections_closed_total{reason=\"") + reason)) << reason;
  EXPECT_TRUE(Has(text, "portserve_datagrams_dropped_total{reason=\"source_port_low\"} 3"));
  EXPECT_TRUE(Has(text, "portserve_listener_connections_accepted_total{service=\"echo\",listener=\"127.0.0.1:7007\","
                        "transport=\"tcp\"} 100"));
  EXPECT_TRUE(Has(text, "portserve_listener_received_datagrams_total{service=\"echo\",listener=\"[::1]:7007\","
                        "transport=\"udp\"} 5"));
  EXPECT_TRUE(Has(text, "portserve_listener_connections_accepted_total{service=\"qotd\","
                        "listener=\"we\\\"ird\\\\name\\nx\",transport=\"tcp\"} 1"));
  EXPECT_EQ(text.find("portserve_listener_connections_accepted_total{service=\"echo\",listener=\"[::1]"),
            std::string::npos)
      << "UDP rows have no connections";
  EXPECT_TRUE(Has(text, "portserve_errors_total{site=\"accept\",error=\"WSAENOBUFS\"} 3"));
  EXPECT_TRUE(Has(text, "portserve_worker_threads 2"));
  EXPECT_TRUE(Has(text, "portserve_serving 1"));
  EXPECT_TRUE(Has(text, "portserve_timer_sweep_max_seconds 0.0015"));
}

TEST(Metrics, ErrorTableFoldsRowsPastItsSizeIntoOther) {
  auto m = std::make_unique<ps_metrics>();
  for (int i = 0; i < PS_METRICS_ERRORS_MAX + 5; i++)
    ps_metrics_add_error(m.get(), "recv", ("error_" + std::to_string(i)).c_str(), 1);
  EXPECT_EQ(m->error_count, static_cast<size_t>(PS_METRICS_ERRORS_MAX));
  const ps_metrics_error &last = m->errors[PS_METRICS_ERRORS_MAX - 1];
  EXPECT_STREQ(last.site, "other");
  EXPECT_STREQ(last.error, "other");
  EXPECT_EQ(last.count, 6u) << "the row it replaced and the 5 that found no room";
}

TEST(Metrics, JsonHasTheDocumentedShape) {
  auto m = std::make_unique<ps_metrics>();
  FillSampleMetrics(m.get());
  m->state = PS_METRICS_STOPPING;
  std::string json = Render(ps_metrics_json, m.get());
  EXPECT_EQ(json.rfind("{\"format\":1,\"version\":\"0.1.0\",\"state\":\"stopping\",\"start_time_unix\":1795840000,"
                       "\"worker_threads\":2,\"totals\":{\"conns_open\":3,\"conns_total\":120,",
                       0),
            0u)
      << json;
  EXPECT_NE(json.find("{\"service\":\"echo\",\"address\":\"127.0.0.1:7007\",\"transport\":\"tcp\","
                      "\"conns_accepted\":100,\"bytes_in\":1000,\"bytes_out\":1000,\"msgs_in\":10,\"msgs_out\":10,"
                      "\"dgrams_in\":0,\"dgrams_out\":0}"),
            std::string::npos);
  EXPECT_NE(json.find("\"address\":\"we\\\"ird\\\\name\\u000ax\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"errors\":[{\"site\":\"accept\",\"error\":\"WSAENOBUFS\",\"count\":3},"), std::string::npos);
  EXPECT_EQ(json.substr(json.size() - 3), "]}\n");
}

TEST(Metrics, TextSummarySaysStateUptimeAndEachListener) {
  auto m = std::make_unique<ps_metrics>();
  FillSampleMetrics(m.get());
  ps_strbuf out;
  ps_strbuf_init_heap(&out, PS_METRICS_TEXT_MAX);
  ps_metrics_text(m.get(), 1795840000 + 90061, &out);
  std::string text(out.data, out.len);
  ps_strbuf_free(&out);
  EXPECT_EQ(text.rfind("portserve 0.1.0, serving, 2 worker threads, up 1d 01h 01m 01s\n", 0), 0u) << text;
  EXPECT_NE(text.find("connections  3 open, 120 accepted; ended abnormally: 5 idle timeout"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  echo     tcp 127.0.0.1:7007"), std::string::npos) << text;
  EXPECT_NE(text.find(", 5 datagrams in, 5 out\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  accept     WSAENOBUFS               3\n"), std::string::npos) << text;
}
