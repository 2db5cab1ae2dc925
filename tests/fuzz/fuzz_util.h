// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cc): a checked
// assertion that stops the run with the input saved, a deterministic choice
// of split points (so a crash replays), and ps_options written back as INI
// text and as a command line (the round trips of the options and config
// targets).
#ifndef PS_FUZZ_UTIL_H
#define PS_FUZZ_UTIL_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "options.h"
}

// A property that failed: say which, then abort so libFuzzer keeps the input.
#define FUZZ_CHECK(cond, ...) \
  do { \
    if (!(cond)) { \
      std::fprintf(stderr, "\nproperty failed: %s (%s:%d)\n  ", #cond, __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__); \
      std::fprintf(stderr, "\n"); \
      std::abort(); \
    } \
  } while (0)

namespace fuzz {

// splitmix64 seeded from the input, so the same input splits the same way.
class Rng {
 public:
  Rng(const uint8_t *data, size_t size) : state_(0x9E3779B97F4A7C15ull ^ size) {
    for (size_t i = 0; i < size; i++) state_ = (state_ ^ data[i]) * 0x100000001B3ull;
  }
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

// Chunk sizes that add up to `size`: random, from 1 byte to the whole.
inline std::vector<size_t> RandomChunks(Rng &rng, size_t size) {
  std::vector<size_t> chunks;
  size_t max = 1 + rng.Below(size + 1);
  while (size > 0) {
    size_t n = 1 + rng.Below(max < size ? max : size);
    chunks.push_back(n);
    size -= n;
  }
  return chunks;
}

// The bytes as a C string, stopping at the first NUL (the parsers take C
// strings; what follows a NUL is not part of the input they see).
inline std::string CString(const uint8_t *data, size_t size) {
  const void *nul = std::memchr(data, 0, size);
  size_t n = nul != nullptr ? static_cast<size_t>(static_cast<const uint8_t *>(nul) - data) : size;
  return std::string(reinterpret_cast<const char *>(data), n);
}

inline std::string LfToCrlf(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// The text an option row's field holds, as a flag or INI value would set it;
// false when it is at its default (nothing to write).
inline bool OptionText(const ps_options &o, const ps_option_def *d, std::string *text) {
  ps_options defaults;
  ps_options_defaults(&defaults);
  const char *field = reinterpret_cast<const char *>(&o) + d->offset;
  const char *def = reinterpret_cast<const char *>(&defaults) + d->offset;
  switch (d->type) {
    case PS_OPT_UINT:
    case PS_OPT_BOOL:
    case PS_OPT_ENUM: {
      unsigned v, dv;
      std::memcpy(&v, field, sizeof v);
      std::memcpy(&dv, def, sizeof dv);
      if (v == dv) return false;
      *text = d->type == PS_OPT_ENUM ? std::string(d->names[v]) : std::to_string(v);
      return true;
    }
    case PS_OPT_PATH:
    case PS_OPT_ADDR:
      if (std::strcmp(field, def) == 0) return false;
      *text = field;
      return true;
    case PS_OPT_NETS: {
      // Written back in canonical form, which parses to the same list.
      char buf[1024];
      if (ps_option_equal(&o, &defaults, d)) return false;
      *text = ps_option_value_text(&o, d, buf, sizeof buf);
      return true;
    }
    case PS_OPT_LISTEN:
    case PS_OPT_CONFIG:
      return false;
  }
  return false;
}

// Every option that differs from its default, and every listener, as INI.
inline std::string RenderIni(const ps_options &o) {
  std::string ini = "[server]\n";
  for (size_t k = 0; k < ps_option_count(); k++) {
    const ps_option_def *d = ps_option_at(k);
    std::string v;
    // "key=value" without spaces: ';' or '#' after a space starts a comment,
    // so a value that begins with one is written right after the '='.
    if (d->ini_key != nullptr && OptionText(o, d, &v)) ini += std::string(d->ini_key) + "=" + v + "\n";
  }
  ini += "[listeners]\n";
  for (size_t i = 0; i < o.listen_count; i++) {
    char spec[PS_SERVICE_NAME_MAX + PS_HOST_MAX + 64];
    ps_listen_spec_format(&o.listens[i], spec, sizeof spec);
    ini += std::string(spec) + "\n";
  }
  return ini;
}

// The fields two option sets may differ in, compared one by one (strings up
// to their NUL: what lies after it is not the option's).
inline bool SameOptions(const ps_options &a, const ps_options &b, std::string *why) {
  for (size_t k = 0; k < ps_option_count(); k++) {
    const ps_option_def *d = ps_option_at(k);
    std::string x, y;
    bool hx = OptionText(a, d, &x), hy = OptionText(b, d, &y);
    if (hx != hy || x != y) {
      *why = std::string(d->flag) + ": '" + x + "' vs '" + y + "'";
      return false;
    }
  }
  if (a.listen_count != b.listen_count) {
    *why = "listener count " + std::to_string(a.listen_count) + " vs " + std::to_string(b.listen_count);
    return false;
  }
  for (size_t i = 0; i < a.listen_count; i++)
    if (!ps_listen_spec_equal(&a.listens[i], &b.listens[i])) {
      char x[400], y[400];
      *why = std::string("listener ") + ps_listen_spec_format(&a.listens[i], x, sizeof x) + " vs " +
             ps_listen_spec_format(&b.listens[i], y, sizeof y);
      return false;
    }
  return true;
}

}  // namespace fuzz

#endif
