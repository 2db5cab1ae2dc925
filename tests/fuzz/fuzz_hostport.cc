// libFuzzer target: HOST:PORT as the stats client splits it
// (ps_hostport_split, common/base/hostport.c) and as the server reads its
// --admin address (ps_options_admin_spec). Properties: a refusal names the
// input; a split host and port, written back (brackets when the host has a
// ':'), split to the same two strings; an address the server accepts with a
// host is one the client splits to the same host and port.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz_util.h"

extern "C" {
#include "hostport.h"
#include "options.h"
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1024) return 0;
  std::string text = fuzz::CString(data, size);
  char host[256], port[16], err[300];
  int split = ps_hostport_split(text.c_str(), host, sizeof host, port, sizeof port, err, sizeof err);
  if (split != 0) {
    FUZZ_CHECK(std::strncmp(err, ("'" + text.substr(0, 80)).c_str(), 1 + (text.size() < 80 ? text.size() : 80)) == 0,
               "'%s' refused with '%s'", text.c_str(), err);
  } else {
    FUZZ_CHECK(host[0] != '\0' && port[0] != '\0', "'%s' split into '%s' and '%s'", text.c_str(), host, port);
    std::string again =
        std::strchr(host, ':') != nullptr ? "[" + std::string(host) + "]:" + port : std::string(host) + ":" + port;
    char host2[256], port2[16];
    FUZZ_CHECK(ps_hostport_split(again.c_str(), host2, sizeof host2, port2, sizeof port2, err, sizeof err) == 0,
               "'%s' -> '%s' refused: %s", text.c_str(), again.c_str(), err);
    FUZZ_CHECK(std::strcmp(host, host2) == 0 && std::strcmp(port, port2) == 0,
               "'%s' -> ('%s', '%s') -> '%s' -> ('%s', '%s')", text.c_str(), host, port, again.c_str(), host2, port2);
  }

  ps_listen_spec spec;
  if (ps_options_admin_spec(text.c_str(), &spec, err, sizeof err) == 0 && spec.host[0] != '\0' &&
      std::strcmp(text.c_str(), "*") != 0 && text[0] != '*') {
    FUZZ_CHECK(split == 0, "the server takes --admin '%s' (host '%s'), the client refuses it", text.c_str(), spec.host);
    FUZZ_CHECK(std::strcmp(host, spec.host) == 0 && std::strtoul(port, nullptr, 10) == spec.port,
               "'%s': server reads host '%s' port %u, client '%s' '%s'", text.c_str(), spec.host, spec.port, host,
               port);
  }
  return 0;
}
