// libFuzzer target: the qotd quotes reader (ps_qotd_parse, common/services/svc_qotd.c;
// qotd's on_start reads the file and hands its text to it).
// Properties: every quote is under 512 characters, ends in CRLF, has CRLF
// line ends only and no blank line; the same text with CRLF line ends gives
// the same quotes; the quotes written back as a file (blank lines between)
// read back the same; a refusal names the file, and the line where it can.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"

extern "C" {
#include "services.h"
}

namespace {

const char kName[] = "quotes.txt";

// The quotes, or the error message.
bool Read(const std::string &text, std::vector<std::string> *quotes, std::string *error) {
  void *ctx = nullptr;
  char err[400];
  quotes->clear();
  if (ps_qotd_parse(text.c_str(), kName, &ctx, err, sizeof err) != 0) {
    *error = err;
    return false;
  }
  // ps_qotd_quote(ctx, day) cycles through the quotes: find the period.
  const char *first = ps_qotd_quote(ctx, 0);
  quotes->push_back(first);
  for (int64_t day = 1; day <= static_cast<int64_t>(text.size()) + 1; day++) {
    const char *q = ps_qotd_quote(ctx, day);
    if (q == first) break;
    quotes->push_back(q);
  }
  ps_qotd_free(ctx);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  std::string text = fuzz::CString(data, size);
  std::vector<std::string> quotes, again;
  std::string error, error2;
  bool ok = Read(text, &quotes, &error);
  if (!ok) {
    FUZZ_CHECK(error.compare(0, sizeof kName, std::string(kName) + ":") == 0, "error without the file: '%s'",
               error.c_str());
  } else {
    for (const std::string &q : quotes) {
      FUZZ_CHECK(q.size() <= PS_QOTD_MAX && q.size() >= 3, "a quote of %zu characters", q.size());
      FUZZ_CHECK(q.compare(q.size() - 2, 2, "\r\n") == 0, "a quote not ending in CRLF");
      for (size_t i = 0; i < q.size(); i++) {
        FUZZ_CHECK(q[i] != '\r' || (i + 1 < q.size() && q[i + 1] == '\n'), "a CR without LF in a quote");
        FUZZ_CHECK(q[i] != '\n' || (i > 0 && q[i - 1] == '\r'), "a bare LF in a quote");
      }
      // No blank (whitespace-only) line inside.
      size_t start = 0;
      while (start < q.size()) {
        size_t eol = q.find("\r\n", start);
        FUZZ_CHECK(q.find_first_not_of(" \t", start) < eol, "a blank line in a quote");
        start = eol + 2;
      }
    }
    // Written back as a file: LF line ends, a blank line between quotes, and
    // a byte order mark (as Notepad writes it: a first quote that starts with
    // U+FEFF keeps it).
    std::string file = "\xEF\xBB\xBF";
    for (const std::string &q : quotes) {
      std::string lf = q;
      for (size_t at; (at = lf.find("\r\n")) != std::string::npos;) lf.replace(at, 2, "\n");
      file += lf + "\n";
    }
    FUZZ_CHECK(Read(file, &again, &error2), "quotes written back refused: %s", error2.c_str());
    FUZZ_CHECK(again == quotes, "%zu quotes read back as %zu (or changed)", quotes.size(), again.size());
  }

  // CRLF line ends read the same (Notepad's files).
  if (text.find('\r') == std::string::npos) {
    bool ok2 = Read(fuzz::LfToCrlf(text), &again, &error2);
    FUZZ_CHECK(ok2 == ok, "with CRLF: %s", ok2 ? "accepted" : error2.c_str());
    if (ok) FUZZ_CHECK(again == quotes, "with CRLF, other quotes");
    // The error is the same but for the counted length (CRs are not counted).
    if (!ok)
      FUZZ_CHECK(error2.substr(0, error2.find(' ')) == error.substr(0, error.find(' ')), "'%s' vs '%s'", error.c_str(),
                 error2.c_str());
  }
  return 0;
}
