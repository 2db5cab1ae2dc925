// libFuzzer target: the command line (ps_options_parse, common/app/options.c).
// The input is the arguments after the program name, separated by NUL bytes.
// Arguments naming --config are dropped: that flag reads a file, which is
// the config target's business (and a fuzzer must not open /dev/stdin).
// Properties: a refusal names an argument (or says what is missing); parsing
// is repeatable; the options of an accepted command line, written back as
// flags (and --listen specs), parse to the same options.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"

extern "C" {
#include "options.h"
}

namespace {

ps_options options, options2;

int Parse(const std::vector<std::string> &args, ps_options *o, std::string *err) {
  std::vector<char *> argv;
  std::vector<std::string> copy = args;
  for (std::string &a : copy) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  char msg[600];
  msg[0] = '\0';
  int rc = ps_options_parse(static_cast<int>(copy.size()), argv.data(), o, msg, sizeof msg);
  *err = msg;
  return rc;
}

const char *CommandName(ps_command c) {
  switch (c) {
    case PS_CMD_RUN:
      return "run";
    case PS_CMD_HELP:
      return "help";
    case PS_CMD_VERSION:
      return "version";
    case PS_CMD_SERVICE:
      return "service";
    case PS_CMD_INSTALL:
      return "install";
    case PS_CMD_UNINSTALL:
      return "uninstall";
    case PS_CMD_START:
      return "start";
    case PS_CMD_STOP:
      return "stop";
    case PS_CMD_STATUS:
      return "status";
    case PS_CMD_RELOAD:
      return "reload";
    case PS_CMD_CHECK:
      return "check";
  }
  return "?";
}

// The option part of an argument ("--threads" of "--threads=4"), at most 8
// characters: what a message about it shows.
std::string Named(const std::string &arg) {
  std::string flag = arg.substr(0, arg.find('='));
  return flag.substr(0, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  std::vector<std::string> args(1, "portserve");
  size_t start = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i < size && data[i] != 0) continue;
    std::string a(reinterpret_cast<const char *>(data) + start, i - start);
    if (a.find("config") != std::string::npos) return 0;
    args.push_back(a);
    start = i + 1;
  }
  if (args.size() > 40) return 0;

  std::string err, err2;
  int rc = Parse(args, &options, &err);
  int rc2 = Parse(args, &options2, &err2);
  std::string why;
  FUZZ_CHECK(rc == rc2 && err == err2, "not repeatable: %d '%s' then %d '%s'", rc, err.c_str(), rc2, err2.c_str());
  if (rc != 0) {
    FUZZ_CHECK(rc == -1 && !err.empty(), "refused (%d) without a message", rc);
    bool named = err.find("missing command") != std::string::npos || err.find("needs --config") != std::string::npos;
    for (size_t i = 1; i < args.size() && !named; i++)
      named = args[i].empty() ? err.find("''") != std::string::npos : err.find(Named(args[i])) != std::string::npos;
    FUZZ_CHECK(named, "refused with '%s', which names no argument", err.c_str());
    return 0;
  }
  FUZZ_CHECK(fuzz::SameOptions(options, options2, &why), "second parse differs: %s", why.c_str());
  if (options.command == PS_CMD_HELP || options.command == PS_CMD_VERSION) return 0;

  // Written back as a command line.
  std::vector<std::string> again(1, "portserve");
  again.push_back(CommandName(options.command));
  if (options.reload_pid != 0) again.push_back(std::to_string(options.reload_pid));
  for (size_t k = 0; k < ps_option_count(); k++) {
    const ps_option_def *d = ps_option_at(k);
    std::string v;
    if (fuzz::OptionText(options, d, &v)) {
      again.push_back(d->flag);
      again.push_back(v);
    }
  }
  for (size_t i = 0; i < options.listen_count; i++) {
    char spec[PS_SERVICE_NAME_MAX + PS_HOST_MAX + 64];
    again.push_back("--listen");
    again.push_back(ps_listen_spec_format(&options.listens[i], spec, sizeof spec));
  }
  if (options.check_bind) again.push_back("--bind");
  rc2 = Parse(again, &options2, &err2);
  std::string line;
  for (const std::string &a : again) line += "'" + a + "' ";
  FUZZ_CHECK(rc2 == 0, "written back as %s: refused: %s", line.c_str(), err2.c_str());
  FUZZ_CHECK(options2.command == options.command && options2.reload_pid == options.reload_pid,
             "written back as %s: another command", line.c_str());
  FUZZ_CHECK(fuzz::SameOptions(options, options2, &why), "written back as %s: %s", line.c_str(), why.c_str());
  return 0;
}
