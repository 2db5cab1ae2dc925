// libFuzzer target: the stats client's response reader (ps_http_parse_response
// in common/base/http.c; `portserve stats` reads the admin endpoint's answer with
// it). Properties: an accepted response has a 3-digit status, its body starts
// right after the blank line and runs to the end, and every Content-Length
// field in the head is a plain number equal to the body's size; the same
// status and body written by the endpoint's own writer (ps_http_response_head)
// read back the same.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"

extern "C" {
#include "http.h"
}

namespace {

bool IEquals(const std::string &a, const char *b) {
  if (a.size() != std::strlen(b)) return false;
  for (size_t i = 0; i < a.size(); i++) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = reinterpret_cast<const char *>(data);
  int status = 0;
  size_t body_offset = 0, body_len = 0;
  if (ps_http_parse_response(buf, size, &status, &body_offset, &body_len) != 0) return 0;

  FUZZ_CHECK(status >= 100 && status <= 599, "status %d", status);
  FUZZ_CHECK(body_offset >= 4 && body_offset <= size && body_offset + body_len == size, "body %zu+%zu of %zu",
             body_offset, body_len, size);
  FUZZ_CHECK(std::memcmp(buf + body_offset - 4, "\r\n\r\n", 4) == 0, "the body does not follow a blank line");
  FUZZ_CHECK(std::string(buf, body_offset).find("\r\n\r\n") == body_offset - 4, "the head ends earlier");

  // Every Content-Length line of the head: OWS, digits, OWS, and the body's size.
  std::string head(buf, body_offset - 2);
  for (size_t line = head.find("\r\n") + 2; line < head.size();) {
    size_t eol = head.find("\r\n", line);
    std::string field = head.substr(line, eol - line);
    size_t colon = field.find(':');
    if (colon != std::string::npos && IEquals(field.substr(0, colon), "content-length")) {
      std::string v = field.substr(colon + 1);
      size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
      FUZZ_CHECK(b != std::string::npos, "empty Content-Length accepted");
      v = v.substr(b, e - b + 1);
      FUZZ_CHECK(v.find_first_not_of("0123456789") == std::string::npos, "Content-Length '%s' accepted", v.c_str());
      // 1*DIGIT (RFC 9110 8.6): leading zeros are allowed and count for nothing.
      std::string digits = v.substr(std::min(v.find_first_not_of('0'), v.size() - 1));
      FUZZ_CHECK(digits.size() <= 19 && std::strtoull(digits.c_str(), nullptr, 10) == body_len,
                 "Content-Length '%s' accepted for a body of %zu bytes", v.c_str(), body_len);
    }
    line = eol + 2;
  }

  // The endpoint's writer, read back.
  char again[1024];
  size_t n = ps_http_response_head(again, sizeof again, status, "text/plain", body_len, 0, 0, nullptr);
  FUZZ_CHECK(n > 0, "response head for %d does not fit", status);
  std::string response = std::string(again, n) + std::string(buf + body_offset, body_len);
  int status2 = 0;
  size_t off2 = 0, len2 = 0;
  FUZZ_CHECK(ps_http_parse_response(response.data(), response.size(), &status2, &off2, &len2) == 0,
             "the endpoint's own response for %d refused", status);
  FUZZ_CHECK(status2 == status && len2 == body_len && std::memcmp(response.data() + off2, buf + body_offset, len2) == 0,
             "read back as %d with %zu bytes", status2, len2);
  return 0;
}
