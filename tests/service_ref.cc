#include "service_ref.h"

#include <algorithm>

extern "C" {
#include "services.h"
}

namespace pstest {

std::string builtin_names() {
  char buf[300];
  return ps_registry_names(ps_registry_builtin(), buf, sizeof buf);
}

std::string chargen_reference(uint64_t offset, size_t len) {
  // The 95 printable characters, twice, so a line is one substring.
  static const std::string twice = [] {
    std::string once;
    for (int c = 32; c <= 126; c++) once.push_back(static_cast<char>(c));
    return once + once;
  }();
  const size_t line_bytes = PS_CHARGEN_LINE + 2;  // CR LF
  std::string out;
  uint64_t line = offset / line_bytes;
  size_t col = static_cast<size_t>(offset % line_bytes);
  while (out.size() < len) {
    std::string text = twice.substr(static_cast<size_t>(line % 95), PS_CHARGEN_LINE) + "\r\n";
    size_t take = (std::min)(text.size() - col, len - out.size());
    out.append(text, col, take);
    col = 0;
    line++;
  }
  return out;
}

}  // namespace pstest
