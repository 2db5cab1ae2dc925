// The admin endpoint's renderings (common/services/metrics.c) of the
// counter lists (ps_stats.h). promtool checks the exposition as a whole
// (tests/CMakeLists.txt: native.metrics.promtool_accepts_exposition); these
// check the details, and that docs/metrics.md names every family.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "metrics_sample.h"

#include "temp_file.h"

extern "C" {
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
      // Ours, or the standard process families every exporter has.
      EXPECT_TRUE(family.rfind("portserve_", 0) == 0 || family.rfind("process_", 0) == 0) << family;
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
  for (const char *reason : {"orderly\"} 100", "reset\"} 2", "out_of_resources\"} 8", "idle\"} 0", "stop\"} 0"})
    EXPECT_TRUE(Has(text, std::string("portserve_connections_closed_total{reason=\"") + reason)) << reason;
  EXPECT_TRUE(Has(text, "portserve_connections_refused_total{reason=\"per_source_limit\"} 4"));
  for (const char *timeout : {"idle\"} 5", "linger\"} 6", "send\"} 7"})
    EXPECT_TRUE(Has(text, std::string("portserve_timeouts_total{timeout=\"") + timeout)) << timeout;
  EXPECT_TRUE(Has(text, "portserve_datagrams_dropped_total{reason=\"source_port_low\"} 3"));
  EXPECT_TRUE(Has(text, "portserve_listener_connections_accepted_total{service=\"echo\",listener=\"127.0.0.1:7007\","
                        "transport=\"tcp\"} 100"));
  EXPECT_TRUE(Has(text, "portserve_listener_datagrams_received_total{service=\"echo\",listener=\"[::1]:7007\","
                        "transport=\"udp\"} 5"));
  EXPECT_TRUE(Has(text, "portserve_listener_connections_accepted_total{service=\"qotd\","
                        "listener=\"we\\\"ird\\\\name\\nx:17\",transport=\"tcp\"} 1"));
  EXPECT_EQ(text.find("portserve_listener_connections_accepted_total{service=\"echo\",listener=\"[::1]"),
            std::string::npos)
      << "UDP rows have no connections";
  EXPECT_TRUE(Has(text, "portserve_socket_error_codes_total{site=\"accept\",error=\"WSAENOBUFS\"} 3"));
  for (const char *site : {"accept", "recv", "send", "udp_recv", "udp_send"})
    EXPECT_TRUE(Has(text, std::string("portserve_socket_errors_total{site=\"") + site + "\"} 0"))
        << site << ": every site is there from the start, so increase() sees the first error";
  EXPECT_TRUE(Has(text, "portserve_worker_threads 2"));
  EXPECT_TRUE(Has(text, "portserve_serving 1"));
  EXPECT_TRUE(Has(text, "portserve_timer_sweep_max_seconds 0.0015"));
  EXPECT_TRUE(Has(text, "process_cpu_seconds_total 2.5"));
  EXPECT_TRUE(Has(text, "process_start_time_seconds 1795840000"));
  EXPECT_TRUE(Has(text, "portserve_config_last_reload_successful 1"));
  EXPECT_TRUE(Has(text, "portserve_config_last_reload_success_timestamp_seconds 1795840100"));
  EXPECT_TRUE(Has(text, "portserve_config_info{hash=\"0123456789abcdef\"} 1"));
}

// Every accepted connection ends with exactly one reason, so an operator
// can sum them: accepted = open + the closed reasons.
TEST(Metrics, CloseReasonsAreOneFamilyThatSumsToTheClosedTotal) {
  size_t reasons = 0;
  for (size_t i = 0; i < PS_STAT_COUNT; i++)
    if (std::string(ps_stat_at(i)->metric) == "portserve_connections_closed_total") reasons++;
  EXPECT_EQ(reasons, 10u)
      << "orderly, idle, linger, send, reset, out_of_resources, aborted, stop, proxy_header, refused";
}

// docs/metrics.md names every family the exposition has, and every label
// value of its reason, timeout and site labels; and nothing the exposition
// lacks (a removed metric leaves the docs too).
TEST(MetricsDocs, DocsNameEveryFamilyAndLabelValueAndNoOther) {
  const std::string doc = ReadSourceFile("docs/metrics.md");
  ASSERT_FALSE(doc.empty()) << "docs/metrics.md";
  auto m = std::make_unique<ps_metrics>();
  FillSampleMetrics(m.get());
  std::string text = Render(ps_metrics_prometheus, m.get());
  std::set<std::string> families;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      families.insert(name);
      EXPECT_NE(doc.find("| `" + name + "` |"), std::string::npos) << "docs/metrics.md has no row for " << name;
      continue;
    }
    for (const char *label : {"reason=\"", "timeout=\"", "site=\""}) {
      size_t at = line.find(label);
      if (at == std::string::npos || line.rfind("portserve_socket_error_codes_total", 0) == 0) continue;
      at += std::strlen(label);
      std::string value = line.substr(at, line.find('"', at) - at);
      EXPECT_NE(doc.find("`" + value + "`"), std::string::npos)
          << "docs/metrics.md does not explain the label value " << value << " of " << line;
    }
  }
  for (size_t at = doc.find("| `"); at != std::string::npos; at = doc.find("| `", at + 1)) {
    size_t end = doc.find('`', at + 3);
    std::string name = doc.substr(at + 3, end - at - 3);
    if (name.rfind("portserve_", 0) == 0 || name.rfind("process_", 0) == 0) {
      EXPECT_EQ(families.count(name), 1u) << "docs/metrics.md lists " << name << ", which /metrics does not have";
    }
  }
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
  for (size_t i = 0; i < PS_STAT_COUNT; i++)
    EXPECT_NE(json.find(std::string("\"") + ps_stat_at(i)->field + "\":"), std::string::npos)
        << "the totals have every counter of the list: " << ps_stat_at(i)->field;
  EXPECT_NE(json.find("{\"service\":\"echo\",\"address\":\"127.0.0.1:7007\",\"transport\":\"tcp\","
                      "\"conns_accepted\":100,\"bytes_in\":1000,\"bytes_out\":1000,\"msgs_in\":10,\"msgs_out\":10,"
                      "\"dgrams_in\":0,\"dgrams_out\":0}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"address\":\"we\\\"ird\\\\name\\u000ax:17\""), std::string::npos) << json;
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
  EXPECT_NE(text.find("connections  3 open, 120 accepted; ended: 100 orderly, 2 reset, 8 out_of_resources; "
                      "refused: 4 per_source_limit"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  echo     tcp 127.0.0.1:7007"), std::string::npos) << text;
  EXPECT_NE(text.find(", 5 datagrams in, 5 out\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  accept     WSAENOBUFS               3\n"), std::string::npos) << text;
}
