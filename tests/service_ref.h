// What the tests hold the built-in services against, written once for the
// native tests (fake_session) and the engine tests alike: the registry's
// name list as messages print it, and RFC 864's chargen pattern written down
// independently of common/services/svc_chargen.c.
#ifndef PS_SERVICE_REF_H
#define PS_SERVICE_REF_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace pstest {

// The built-in registry's name list, as messages print it ("echo, discard, ...").
std::string builtin_names();

// `len` bytes of the chargen pattern from stream offset `offset`: line L is
// the 72 printable characters starting at the (L mod 95)-th one, then CR LF.
std::string chargen_reference(uint64_t offset, size_t len);

}  // namespace pstest

#endif
