// libFuzzer target: the PROXY protocol parser (common/base/proxy.c).
// Properties: every prefix of the input needs more bytes or already gives the
// final answer (so any split of the input into reads, byte by byte included,
// ends the same); an error names a byte, field or limit; a header written
// back by the formatter of its version parses to the same header, and an
// INET/INET6 stream header survives a trip through the other version.
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"

extern "C" {
#include "proxy.h"
}

namespace {

struct Result {
  ps_proxy_result result;
  ps_proxy_header header;
  size_t consumed;
  std::string err;
};

Result Parse(const uint8_t *data, size_t len) {
  Result r;
  char err[PS_PROXY_ERR_MAX];
  std::memset(err, 'x', sizeof err);  // the parser must write its own terminator
  r.result = ps_proxy_parse(data, len, &r.header, &r.consumed, err, sizeof err);
  FUZZ_CHECK(std::memchr(err, 0, sizeof err) != nullptr, "err not terminated");
  r.err = err;
  return r;
}

bool Same(const Result &a, const Result &b) {
  return a.result == b.result && a.consumed == b.consumed && a.err == b.err &&
         std::memcmp(&a.header, &b.header, sizeof a.header) == 0;
}

bool SameAddresses(const ps_proxy_header &a, const ps_proxy_header &b) {
  return a.family == b.family && a.command == b.command && std::memcmp(a.src_addr, b.src_addr, 16) == 0 &&
         std::memcmp(a.dst_addr, b.dst_addr, 16) == 0 && a.src_port == b.src_port && a.dst_port == b.dst_port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > PS_PROXY_V2_MAX + 64) return 0;
  Result whole = Parse(data, size);

  // Prefixes: all of them for short inputs, random ones otherwise. The first
  // answer that is not NEED_MORE must be the whole input's.
  fuzz::Rng rng(data, size);
  size_t first_answer = size + 1;
  if (size <= 400) {
    for (size_t n = 0; n <= size; n++) {
      Result part = Parse(data, n);
      if (part.result == PS_PROXY_NEED_MORE) continue;
      first_answer = n;
      FUZZ_CHECK(Same(part, whole), "prefix of %zu bytes: %d '%s', whole %zu bytes: %d '%s'", n, part.result,
                 part.err.c_str(), size, whole.result, whole.err.c_str());
      break;
    }
  } else {
    size_t at = 0;
    for (size_t chunk : fuzz::RandomChunks(rng, size)) {
      at += chunk;
      Result part = Parse(data, at);
      if (part.result == PS_PROXY_NEED_MORE) continue;
      FUZZ_CHECK(Same(part, whole), "a read ending at byte %zu answered %d '%s', the whole %d '%s'", at, part.result,
                 part.err.c_str(), whole.result, whole.err.c_str());
      break;
    }
  }

  switch (whole.result) {
    case PS_PROXY_NEED_MORE:
      FUZZ_CHECK(whole.consumed == 0 && whole.err.empty(), "NEED_MORE with consumed %zu, err '%s'", whole.consumed,
                 whole.err.c_str());
      FUZZ_CHECK(size < PS_PROXY_V1_MAX || (size > 0 && data[0] == 0x0D), "v1 needs more after %zu bytes", size);
      return 0;
    case PS_PROXY_ERROR:
      FUZZ_CHECK(whole.consumed == 0, "an error consumed %zu", whole.consumed);
      FUZZ_CHECK(!whole.err.empty() &&
                     (whole.err.find("byte") != std::string::npos || whole.err.find("address") != std::string::npos ||
                      whole.err.find("port") != std::string::npos || whole.err.find("protocol") != std::string::npos ||
                      whole.err.find("length") != std::string::npos),
                 "error without a byte or field: '%s'", whole.err.c_str());
      return 0;
    case PS_PROXY_DONE:
      break;
  }
  FUZZ_CHECK(first_answer == size + 1 || first_answer == whole.consumed, "DONE at %zu, header is %zu bytes",
             first_answer, whole.consumed);
  const ps_proxy_header &h = whole.header;
  FUZZ_CHECK(whole.consumed > 0 && whole.consumed <= size, "consumed %zu of %zu", whole.consumed, size);
  FUZZ_CHECK(h.version == 1 ? whole.consumed <= PS_PROXY_V1_MAX : whole.consumed <= PS_PROXY_V2_MAX,
             "header of %zu bytes", whole.consumed);
  FUZZ_CHECK(h.tlv_offset + h.tlv_len <= whole.consumed, "TLVs past the header");

  // Round trip through the formatter of its own version.
  if (h.version == 1) {
    char line[PS_PROXY_V1_MAX + 1];
    size_t n = ps_proxy_format_v1(&h, line, sizeof line);
    FUZZ_CHECK(n > 0, "a v1 header the v1 writer cannot write");
    Result again = Parse(reinterpret_cast<const uint8_t *>(line), n);
    FUZZ_CHECK(again.result == PS_PROXY_DONE && again.consumed == n, "rewritten v1 '%s' -> %d '%s'", line, again.result,
               again.err.c_str());
    FUZZ_CHECK(std::memcmp(&again.header, &h, sizeof h) == 0, "v1 '%s' parses to another header", line);
  } else {
    static uint8_t out[PS_PROXY_V2_MAX];
    size_t n = ps_proxy_format_v2(&h, data + h.tlv_offset, h.tlv_len, out, sizeof out);
    FUZZ_CHECK(n > 0, "a v2 header the v2 writer cannot write");
    Result again = Parse(out, n);
    FUZZ_CHECK(again.result == PS_PROXY_DONE && again.consumed == n, "rewritten v2 -> %d '%s'", again.result,
               again.err.c_str());
    FUZZ_CHECK(std::memcmp(&again.header, &h, sizeof h) == 0, "v2 rewritten parses to another header");
    FUZZ_CHECK(h.tlv_len == 0 || std::memcmp(out + again.header.tlv_offset, data + h.tlv_offset, h.tlv_len) == 0,
               "TLVs changed");
  }

  // Across versions: what both can say survives.
  if (h.command == PS_PROXY_PROXY && h.transport == PS_PROXY_STREAM &&
      (h.family == PS_PROXY_AF_INET || h.family == PS_PROXY_AF_INET6)) {
    char line[PS_PROXY_V1_MAX + 1];
    uint8_t bin[16 + 36];
    size_t n1 = ps_proxy_format_v1(&h, line, sizeof line);
    size_t n2 = ps_proxy_format_v2(&h, nullptr, 0, bin, sizeof bin);
    FUZZ_CHECK(n1 > 0 && n2 > 0, "an INET stream header one writer cannot write");
    Result r1 = Parse(reinterpret_cast<const uint8_t *>(line), n1), r2 = Parse(bin, n2);
    FUZZ_CHECK(r1.result == PS_PROXY_DONE && SameAddresses(r1.header, h), "as v1 '%s': %s", line, r1.err.c_str());
    FUZZ_CHECK(r2.result == PS_PROXY_DONE && SameAddresses(r2.header, h), "as v2: %s", r2.err.c_str());
  }
  return 0;
}
