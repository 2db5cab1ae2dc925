// libFuzzer target: the INI reader and configuration loader (common/app/config.c,
// through the option table of common/app/options.c).
// Properties: every error is "FILE:LINE: message" with a line of the file,
// in order; stopping at the first error (ps_config_parse) reports the first
// of them; the same file with CRLF line ends reads the same; the options of
// a file without errors, written back as INI, read back the same.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"

extern "C" {
#include "config.h"
}

namespace {

const char kName[] = "fuzz.ini";

int Collect(void *ctx, const char *message) {
  static_cast<std::vector<std::string> *>(ctx)->push_back(message);
  return 0;
}

ps_options options, options2;

std::vector<std::string> ReadAll(const std::string &text, ps_options *o) {
  std::vector<std::string> errors;
  ps_options_defaults(o);
  unsigned n = ps_config_parse_each(text.c_str(), kName, o, Collect, &errors);
  FUZZ_CHECK(n == errors.size(), "%u errors counted, %zu reported", n, errors.size());
  return errors;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  std::string text = fuzz::CString(data, size);
  size_t lines = 1, longest = 0, len = 0;
  for (char c : text) {
    if (c == '\n') {
      lines++;
      len = 0;
    } else if (++len > longest) {
      longest = len;
    }
  }

  std::vector<std::string> errors = ReadAll(text, &options);
  unsigned last_line = 0;
  for (const std::string &e : errors) {
    FUZZ_CHECK(e.compare(0, sizeof kName, std::string(kName) + ":") == 0, "error without the file: '%s'", e.c_str());
    char *end = nullptr;
    unsigned long line = std::strtoul(e.c_str() + sizeof kName, &end, 10);
    FUZZ_CHECK(end != e.c_str() + sizeof kName && std::strncmp(end, ": ", 2) == 0 && end[2] != '\0',
               "error without a line: '%s'", e.c_str());
    FUZZ_CHECK(line >= 1 && line <= lines && line > last_line, "line %lu of %zu (after %u): '%s'", line, lines,
               last_line, e.c_str());
    last_line = static_cast<unsigned>(line);
  }

  // Stopping at the first error reports that one.
  char first[800];
  ps_options_defaults(&options2);
  int rc = ps_config_parse(text.c_str(), kName, &options2, first, sizeof first);
  FUZZ_CHECK((rc == 0) == errors.empty(), "ps_config_parse %d with %zu errors", rc, errors.size());
  if (rc != 0) FUZZ_CHECK(errors[0] == first, "first error '%s', ps_config_parse '%s'", errors[0].c_str(), first);

  // CRLF line ends (Notepad) read the same, as long as no line gets too long.
  if (text.find('\r') == std::string::npos && longest + 2 < 1024) {
    std::vector<std::string> crlf = ReadAll(fuzz::LfToCrlf(text), &options2);
    std::string why;
    FUZZ_CHECK(crlf == errors, "with CRLF %zu errors (first '%s'), with LF %zu", crlf.size(),
               crlf.empty() ? "" : crlf[0].c_str(), errors.size());
    FUZZ_CHECK(fuzz::SameOptions(options, options2, &why), "with CRLF: %s", why.c_str());
  }

  // A good file's options, written back, are the same options.
  if (errors.empty()) {
    std::string ini = fuzz::RenderIni(options);
    std::vector<std::string> again = ReadAll(ini, &options2);
    std::string why;
    FUZZ_CHECK(again.empty(), "written back:\n%s\nrefused: %s", ini.c_str(), again[0].c_str());
    FUZZ_CHECK(fuzz::SameOptions(options, options2, &why), "written back:\n%s\ndiffers: %s", ini.c_str(), why.c_str());
  }
  return 0;
}
