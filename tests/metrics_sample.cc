// Prints the sample metrics (metrics_sample.h) as Prometheus text, for
// `promtool check metrics` (ctest: native.metrics.promtool_accepts_exposition).
#include <cstdio>
#include <memory>

#include "metrics_sample.h"

extern "C" {
#include "strbuf.h"
}

int main() {
  auto m = std::make_unique<ps_metrics>();
  FillSampleMetrics(m.get());
  ps_strbuf out;
  ps_strbuf_init_heap(&out, PS_METRICS_TEXT_MAX);
  ps_metrics_prometheus(m.get(), &out);
  if (out.overflow) {
    std::fputs("metrics_sample: output overflowed\n", stderr);
    return 1;
  }
  std::fwrite(out.data, 1, out.len, stdout);
  ps_strbuf_free(&out);
  return 0;
}
