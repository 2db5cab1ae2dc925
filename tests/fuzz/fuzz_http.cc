// libFuzzer target: the admin endpoint's HTTP/1.1 request parser
// (common/base/http.c). The input is a connection's bytes: requests are taken one
// after another (pipelining) until an error or the end.
// Properties: fed whole, byte by byte and in random reads, the requests and
// the error are the same; an error has a status the endpoint sends and a
// reason naming the part that is wrong; a parsed request, written back as a
// canonical request, parses to the same method, target, path, version and
// keep-alive.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"

extern "C" {
#include "http.h"
}

namespace {

struct Event {
  ps_http_result result;
  int status;
  std::string why, target, path;
  int method, version_minor, has_host, keep_alive;
  size_t end; /* offset in the input just past this request */

  bool operator==(const Event &o) const {
    return result == o.result && status == o.status && why == o.why && target == o.target && path == o.path &&
           method == o.method && version_minor == o.version_minor && has_host == o.has_host &&
           keep_alive == o.keep_alive && end == o.end;
  }
};

ps_http_parser parser;
ps_http_request request;

// Feeds the input in the given chunks; the requests and the final error.
std::vector<Event> Run(const uint8_t *data, size_t size, const std::vector<size_t> &chunks) {
  std::vector<Event> events;
  size_t at = 0;
  ps_http_parser_init(&parser);
  for (size_t chunk : chunks) {
    size_t off = 0;
    while (off < chunk) {
      size_t used = 0;
      int status = 0;
      const char *why = nullptr;
      ps_http_result r = ps_http_parse(&parser, data + at + off, chunk - off, &used, &request, &status, &why);
      FUZZ_CHECK(used <= chunk - off, "consumed %zu of %zu", used, chunk - off);
      off += used;
      if (r == PS_HTTP_NEED_MORE) {
        FUZZ_CHECK(off == chunk, "NEED_MORE left %zu bytes", chunk - off);
        break;
      }
      Event e{};
      e.result = r;
      e.end = at + off;
      if (r == PS_HTTP_ERROR) {
        e.status = status;
        e.why = why != nullptr ? why : "";
        events.push_back(e);
        return events;
      }
      FUZZ_CHECK(used > 0, "a request of no bytes");
      e.target = request.target;
      e.path = request.path;
      e.method = request.method;
      e.version_minor = request.version_minor;
      e.has_host = request.has_host;
      e.keep_alive = request.keep_alive;
      events.push_back(e);
    }
    at += chunk;
  }
  (void)size;
  return events;
}

std::string Describe(const std::vector<Event> &ev) {
  std::string s;
  for (const Event &e : ev)
    s += "[" + std::to_string(e.result) + " " + std::to_string(e.status) + " '" + e.why + "' " + e.target + " @" +
         std::to_string(e.end) + "]";
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 3 * PS_HTTP_HEAD_MAX) return 0;
  std::vector<Event> whole = Run(data, size, std::vector<size_t>(1, size));
  if (size == 0) whole = Run(data, 0, std::vector<size_t>());

  std::vector<Event> bytewise = Run(data, size, std::vector<size_t>(size, 1));
  FUZZ_CHECK(bytewise == whole, "byte by byte %s, whole %s", Describe(bytewise).c_str(), Describe(whole).c_str());
  fuzz::Rng rng(data, size);
  std::vector<Event> split = Run(data, size, fuzz::RandomChunks(rng, size));
  FUZZ_CHECK(split == whole, "random reads %s, whole %s", Describe(split).c_str(), Describe(whole).c_str());

  size_t start = 0;
  for (const Event &e : whole) {
    // The head alone (without the empty lines a client may send first) is
    // within PS_HTTP_HEAD_MAX when accepted, and reached it when refused as
    // too large.
    size_t head_start = start;
    while (head_start + 1 < e.end && data[head_start] == '\r' && data[head_start + 1] == '\n') head_start += 2;
    size_t head = e.end - head_start;
    start = e.end;
    if (e.result == PS_HTTP_ERROR && (e.status == 431 || e.why == "request line too long"))
      FUZZ_CHECK(head == PS_HTTP_HEAD_MAX, "refused as too large (%d) after %zu bytes of head", e.status, head);
    FUZZ_CHECK(head <= PS_HTTP_HEAD_MAX, "%s a head of %zu bytes", e.result == PS_HTTP_DONE ? "accepted" : "read",
               head);
    if (e.result == PS_HTTP_ERROR) {
      static const int statuses[] = {400, 405, 411, 413, 414, 431, 505};
      bool known = false;
      for (int s : statuses) known = known || s == e.status;
      FUZZ_CHECK(known, "status %d", e.status);
      FUZZ_CHECK(!e.why.empty() && std::strcmp(ps_http_reason(e.status), "Unknown") != 0, "no reason for %d", e.status);
      continue;
    }
    FUZZ_CHECK(e.method == PS_HTTP_GET || e.method == PS_HTTP_HEAD, "method %d", e.method);
    FUZZ_CHECK(e.target.size() <= PS_HTTP_TARGET_MAX && !e.target.empty(), "target of %zu bytes", e.target.size());
    FUZZ_CHECK(e.path == "*" || (!e.path.empty() && e.path[0] == '/'), "path '%s'", e.path.c_str());
    FUZZ_CHECK(e.version_minor == 1 ? e.has_host == 1 : true, "1.1 without Host");

    // Written back as a canonical request, it is the same request.
    std::string again = std::string(e.method == PS_HTTP_GET ? "GET" : "HEAD") + " " + e.target + " HTTP/1." +
                        std::to_string(e.version_minor) + "\r\n";
    if (e.has_host) again += "Host: h\r\n";
    again += e.keep_alive ? (e.version_minor == 0 ? "Connection: keep-alive\r\n" : "")
                          : (e.version_minor == 1 ? "Connection: close\r\n" : "");
    again += "\r\n";
    std::vector<Event> re =
        Run(reinterpret_cast<const uint8_t *>(again.data()), again.size(), std::vector<size_t>(1, again.size()));
    FUZZ_CHECK(re.size() == 1 && re[0].result == PS_HTTP_DONE, "rewritten request refused: %s", Describe(re).c_str());
    Event want = e;
    want.end = again.size();
    FUZZ_CHECK(re[0] == want, "rewritten %s, first %s", Describe(re).c_str(), Describe({e}).c_str());
  }
  return 0;
}
