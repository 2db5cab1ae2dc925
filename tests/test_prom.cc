// The Prometheus text writer (common/base/prom.c): escaping of label values
// and help text. promtool checks whole expositions (native.metrics.promtool_*).
#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "prom.h"
#include "strbuf.h"
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
