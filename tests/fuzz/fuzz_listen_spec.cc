// libFuzzer target: --listen specs (common/base/listen_spec.c), and the --admin
// address that reuses their syntax (ps_options_admin_spec).
// Properties: an accepted spec, formatted (ps_listen_spec_format), parses to
// an equal spec, and formatting is idempotent; a refused spec's message
// quotes the input it refuses.
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"

extern "C" {
#include "listen_spec.h"
#include "options.h"
}

namespace {

// ps_listen_spec_parse quotes the input, shortened to 40 characters and
// "..." when longer than 47.
void CheckQuotes(const std::string &err, const std::string &text, const char *what) {
  std::string shown = text.size() < 48 ? text : text.substr(0, 40);
  FUZZ_CHECK(err.compare(0, 1 + shown.size(), "'" + shown) == 0, "%s: '%s' refused with '%s'", what, text.c_str(),
             err.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1024) return 0;
  std::string text = fuzz::CString(data, size);
  ps_listen_spec spec, again;
  char err[400], formatted[PS_SERVICE_NAME_MAX + PS_HOST_MAX + 64], formatted2[sizeof formatted];

  if (ps_listen_spec_parse(text.c_str(), &spec, err, sizeof err) != 0) {
    CheckQuotes(err, text, "listen");
  } else {
    FUZZ_CHECK(spec.port <= 65535 && spec.transports >= 1 && spec.transports <= 3, "port %u transports %u", spec.port,
               spec.transports);
    ps_listen_spec_format(&spec, formatted, sizeof formatted);
    FUZZ_CHECK(ps_listen_spec_parse(formatted, &again, err, sizeof err) == 0, "'%s' formats as '%s', refused: %s",
               text.c_str(), formatted, err);
    FUZZ_CHECK(ps_listen_spec_equal(&spec, &again), "'%s' formats as '%s', which parses to another spec", text.c_str(),
               formatted);
    ps_listen_spec_format(&again, formatted2, sizeof formatted2);
    FUZZ_CHECK(std::strcmp(formatted, formatted2) == 0, "format not idempotent: '%s' then '%s'", formatted, formatted2);
  }

  // The same text as an --admin value.
  if (ps_options_admin_spec(text.c_str(), &spec, err, sizeof err) != 0) {
    FUZZ_CHECK(std::strncmp(err, "'", 1) == 0 && std::strstr(err, text.substr(0, 40).c_str()) != nullptr,
               "admin '%s' refused with '%s'", text.c_str(), err);
  } else {
    FUZZ_CHECK(spec.transports == PS_TRANSPORT_TCP && !spec.optional, "admin spec with transports %u", spec.transports);
    ps_listen_spec_format(&spec, formatted, sizeof formatted);
    std::string addr = formatted;
    addr = addr.substr(addr.find('=') + 1);
    addr = addr.substr(0, addr.rfind("/tcp"));
    FUZZ_CHECK(ps_options_admin_spec(addr.c_str(), &again, err, sizeof err) == 0 && ps_listen_spec_equal(&spec, &again),
               "admin '%s' written back as '%s': %s", text.c_str(), addr.c_str(), err);
  }
  return 0;
}
