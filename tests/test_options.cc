// options: the command line of portserve.exe.
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "service_ref.h"

extern "C" {
#include "options.h"
#include "services.h"
}

// The build defines PS_SOURCE_DIR (the repository root, as a string) so the
// tests can read the shipped portserve.ini.example; without it those tests
// would not exist, so its absence is an error rather than a silent skip.
#ifndef PS_SOURCE_DIR
#error "PS_SOURCE_DIR must be defined (CMake: tests/CMakeLists.txt; Visual Studio: tools/gen_vcxproj.py)"
#endif

namespace {

// argv as main() gets it: mutable strings, argv[0] is the program.
class Argv {
 public:
  Argv(std::initializer_list<std::string> args) : Argv(std::vector<std::string>(args)) {}
  explicit Argv(std::vector<std::string> args) : strings_(std::move(args)) {
    strings_.insert(strings_.begin(), "portserve");
  }
  int argc() const { return static_cast<int>(strings_.size()); }
  char **argv() {
    pointers_.clear();
    for (std::string &s : strings_) pointers_.push_back(&s[0]);
    pointers_.push_back(nullptr);
    return pointers_.data();
  }

 private:
  std::vector<std::string> strings_;
  std::vector<char *> pointers_;
};

testing::AssertionResult Parses(Argv args, ps_options *o) {
  char err[512] = "";
  if (ps_options_parse(args.argc(), args.argv(), o, err, sizeof err) == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "rejected: " << err;
}

// The message for a command line that must be rejected.
std::string ParseError(Argv args) {
  static ps_options o;  // big (64 listeners): keep it off the stack
  char err[512] = "";
  EXPECT_EQ(ps_options_parse(args.argc(), args.argv(), &o, err, sizeof err), -1);
  EXPECT_NE(err[0], '\0') << "empty message";
  return err;
}

// Every numeric flag the parser accepts, its field and its documented range.
struct UintFlag {
  const char *name;
  unsigned ps_options::*field;
  unsigned min, max;
};
const UintFlag kUintFlags[] = {
    {"--threads", &ps_options::threads, 0, 256},
    {"--accepts", &ps_options::accepts, 1, 4096},
    {"--buffer-size", &ps_options::buffer_size, 512, 1048576},
    {"--send-queue-max", &ps_options::send_queue_max, 1024, 1073741824},
    {"--max-connections", &ps_options::max_connections, 0, 10000000},
    {"--drain-timeout", &ps_options::drain_timeout_ms, 0, 3600000},
    {"--stats-interval", &ps_options::stats_interval_s, 0, 86400},
    {"--udp-receives", &ps_options::udp_receives, 1, 1024},
    {"--max-connections-per-source", &ps_options::max_connections_per_source, 0, 10000000},
    {"--idle-timeout", &ps_options::idle_timeout_s, 0, 604800},
    {"--linger-timeout", &ps_options::linger_timeout_s, 0, 3600},
    {"--send-timeout", &ps_options::send_timeout_s, 0, 3600},
    {"--keepalive", &ps_options::keepalive_s, 0, 86400},
    {"--log-max-size", &ps_options::log_max_size, 0, 1073741824},
    {"--log-files", &ps_options::log_files, 1, 100},
    {"--bind-retry", &ps_options::bind_retry_s, 0, PS_BIND_RETRY_MAX_S},
    {"--udp-reply-rate", &ps_options::udp_reply_rate, 0, 1000000},
    {"--udp-reply-burst", &ps_options::udp_reply_burst, 1, 1000000},
    {"--udp-reply-rate-total", &ps_options::udp_reply_rate_total, 0, 10000000},
};

// The log levels, as --log-level takes them.
const struct {
  const char *name;
  ps_level_option level;
} kLevels[] = {{"error", PS_LEVEL_ERROR}, {"warn", PS_LEVEL_WARN}, {"info", PS_LEVEL_INFO}, {"debug", PS_LEVEL_DEBUG}};

// Path options: the flag and its field.
struct PathFlag {
  const char *name;
  char (ps_options::*field)[PS_PATH_MAX];
};
const PathFlag kPathFlags[] = {
    {"--log-file", &ps_options::log_file},
    {"--quotes-file", &ps_options::quotes_file},
};

const std::string kExampleConfig = std::string(PS_SOURCE_DIR) + "/portserve.ini.example";

ps_options g_options;  // 64 listeners: off the stack

std::string Usage() {
  std::vector<char> buf(PS_USAGE_MAX);
  size_t len = ps_options_usage(buf.data(), buf.size());
  EXPECT_LT(len, buf.size()) << "PS_USAGE_MAX is too small for the --help text";
  EXPECT_EQ(len, strlen(buf.data()));
  return buf.data();
}

}  // namespace

TEST(Options, RunHasDocumentedDefaults) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run"}, &o));
  EXPECT_EQ(o.command, PS_CMD_RUN);
  EXPECT_STREQ(PS_DEFAULT_LISTEN, "echo=localhost:7007");
  ASSERT_EQ(o.listen_count, 1u);
  EXPECT_STREQ(o.listens[0].service, "echo");
  EXPECT_STREQ(o.listens[0].host, "localhost");
  EXPECT_EQ(o.listens[0].port, 7007u);
  EXPECT_EQ(o.listens[0].transports, static_cast<unsigned>(PS_TRANSPORT_BOTH));
  EXPECT_EQ(o.listens[0].optional, 0);
  EXPECT_EQ(o.accepts, 16u);
  EXPECT_EQ(o.buffer_size, 8192u);
  EXPECT_EQ(o.send_queue_max, 262144u);
  EXPECT_EQ(o.drain_timeout_ms, 5000u);
  EXPECT_EQ(o.stats_interval_s, 5u);
  EXPECT_EQ(o.threads, 0u);
  EXPECT_EQ(o.max_connections, 0u);
  EXPECT_EQ(o.max_connections_per_source, 0u);
  EXPECT_EQ(o.idle_timeout_s, 300u);
  EXPECT_EQ(o.linger_timeout_s, 30u);
  EXPECT_EQ(o.send_timeout_s, 60u);
  EXPECT_EQ(o.keepalive_s, 60u);
  EXPECT_EQ(o.udp_receives, 1u);
  EXPECT_EQ(o.udp_reply_rate, 100u) << "the reflection guard is on by default";
  EXPECT_EQ(o.udp_reply_burst, 200u);
  EXPECT_EQ(o.udp_reply_rate_total, 10000u);
  EXPECT_EQ(o.udp_allow_low_ports, 0u);
  EXPECT_EQ(o.accept_data, 1u) << "accepts wait for a client-first service's first bytes by default";
  EXPECT_EQ(o.burst_reads, 1u) << "what is waiting after a full read is read at once by default";
  EXPECT_EQ(o.log_level, PS_LEVEL_INFO);
  EXPECT_EQ(o.log_time, PS_LOG_TIME_LOCAL);
  EXPECT_EQ(o.log_max_size, 10485760u);
  EXPECT_EQ(o.log_files, 5u);
  EXPECT_STREQ(o.log_file, "");
  EXPECT_STREQ(o.quotes_file, "");
  EXPECT_STREQ(o.admin, "") << "the admin endpoint is off unless configured";
  EXPECT_STREQ(o.config_path, "");
  EXPECT_EQ(o.check_bind, 0u);
  EXPECT_EQ(ps_options_bind_retry_s(&o), static_cast<unsigned>(PS_BIND_RETRY_CONSOLE_S));
}

// The feature went away with its option: a configuration that still sets it
// is told so, like any unknown option.
TEST(Options, BufferIdleMsIsGone) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "unknown option '--buffer-idle-ms'",
                      ParseError({"run", "--buffer-idle-ms", "1000"}));
  EXPECT_EQ(ps_option_by_ini_key("buffer_idle_ms"), nullptr);
}

TEST(Options, BoolFlagTakesOnlyZeroOrOne) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run", "--udp-allow-low-ports", "1"}, &o));
  EXPECT_EQ(o.udp_allow_low_ports, 1u);
  ASSERT_TRUE(Parses({"run", "--udp-allow-low-ports=0"}, &o));
  EXPECT_EQ(o.udp_allow_low_ports, 0u);
  for (const char *bad : {"2", "yes", "", "01", "true"}) {
    std::string err = ParseError({"run", "--udp-allow-low-ports", bad});
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "--udp-allow-low-ports", err) << bad;
    EXPECT_PRED_FORMAT2(testing::IsSubstring, std::string("'") + bad + "' is not 0 or 1", err);
  }
}

TEST(Options, LogTimeTakesUtcOrLocal) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run", "--log-time", "utc"}, &o));
  EXPECT_EQ(o.log_time, PS_LOG_TIME_UTC);
  ASSERT_TRUE(Parses({"run", "--log-time=local"}, &o));
  EXPECT_EQ(o.log_time, PS_LOG_TIME_LOCAL);
  std::string err = ParseError({"run", "--log-time", "gmt"});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "--log-time: 'gmt' is not one of local, utc", err);
}

TEST(Options, AdminTakesHostAndPort) {
  ps_options &o = g_options;
  for (const char *good : {"127.0.0.1:9100", "[::1]:9100", "localhost:0", ":9100"}) {
    ASSERT_TRUE(Parses({"run", "--admin", good}, &o)) << good;
    EXPECT_STREQ(o.admin, good);
  }
  ps_listen_spec spec;
  char err[300];
  ASSERT_EQ(ps_options_admin_spec("[::1]:9100", &spec, err, sizeof err), 0) << err;
  EXPECT_STREQ(spec.host, "::1");
  EXPECT_EQ(spec.port, 9100u);
  EXPECT_EQ(spec.transports, static_cast<unsigned>(PS_TRANSPORT_TCP));
  const struct {
    const char *value, *says;
  } bad[] = {{"127.0.0.1", "missing ':PORT'"},
             {"::1:9100", "brackets"},
             {"127.0.0.1:99999", "not a number from 0 to 65535"},
             {"127.0.0.1:9100/udp", "no /tcp, /udp"},
             {"127.0.0.1:9100,optional", "no /tcp, /udp"}};
  for (const auto &b : bad) {
    std::string e = ParseError({"run", "--admin", b.value});
    EXPECT_EQ(e.rfind(std::string("--admin: '") + b.value + "'", 0), 0u) << e;
    EXPECT_PRED_FORMAT2(testing::IsSubstring, b.says, e);
  }
}

TEST(Options, CheckTakesConfigAndBind) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"check", "--config", "no-such-file.ini"}, &o));
  EXPECT_EQ(o.command, PS_CMD_CHECK);
  EXPECT_STREQ(o.config_path, "no-such-file.ini") << "check reads the file itself, reporting every error";
  EXPECT_EQ(o.check_bind, 0u);
  EXPECT_EQ(o.listen_count, 0u) << "check adds no default listener";
  ASSERT_TRUE(Parses({"check", "--bind", "--config=x.ini"}, &o));
  EXPECT_EQ(o.check_bind, 1u);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "check needs --config FILE", ParseError({"check"}));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "check needs --config FILE", ParseError({"check", "--bind"}));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "check takes only --config FILE and --bind ('--threads')",
                      ParseError({"check", "--config", "x.ini", "--threads", "2"}));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "unknown option '--bind'", ParseError({"run", "--bind"}));
}

// The service waits out the TIME_WAIT of its previous instance's connections
// (120 s by default on Windows); the console gives up sooner. A value set
// with --bind-retry or bind_retry, 0 included, wins in both.
TEST(Options, BindRetryDefaultsPerCommandAndAnExplicitValueWins) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"service"}, &o));
  EXPECT_EQ(ps_options_bind_retry_s(&o), 120u);
  ASSERT_TRUE(Parses({"run"}, &o));
  EXPECT_EQ(ps_options_bind_retry_s(&o), 5u);
  ASSERT_TRUE(Parses({"service", "--bind-retry", "0"}, &o));
  EXPECT_EQ(ps_options_bind_retry_s(&o), 0u);
  ASSERT_TRUE(Parses({"run", "--bind-retry=30"}, &o));
  EXPECT_EQ(ps_options_bind_retry_s(&o), 30u);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "out of range", ParseError({"run", "--bind-retry", "3601"}));
}

TEST(Options, ServiceCommandsParse) {
  const struct {
    const char *word;
    ps_command command;
  } commands[] = {{"install", PS_CMD_INSTALL}, {"uninstall", PS_CMD_UNINSTALL}, {"start", PS_CMD_START},
                  {"stop", PS_CMD_STOP},       {"status", PS_CMD_STATUS},       {"service", PS_CMD_SERVICE}};
  for (const auto &c : commands) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({c.word}, &o)) << c.word;
    EXPECT_EQ(o.command, c.command) << c.word;
  }
}

// The service serves like run does; the commands that only talk to the SCM
// do not open listeners, so they get no default one.
TEST(Options, DefaultListenerOnlyForCommandsThatServe) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"service"}, &o));
  ASSERT_EQ(o.listen_count, 1u);
  EXPECT_STREQ(o.listens[0].host, "localhost");
  for (const char *command : {"install", "uninstall", "start", "stop", "status"}) {
    ASSERT_TRUE(Parses({command}, &o)) << command;
    EXPECT_EQ(o.listen_count, 0u) << command;
  }
}

// install records only --config in the service's command line, so any other
// flag would be silently lost: it is refused, naming it. The other SCM
// commands take nothing.
TEST(Options, ScmCommandsRefuseFlagsTheyWouldIgnore) {
  ps_options &o = g_options;
  const std::string example = std::string(PS_SOURCE_DIR) + "/portserve.ini.example";
  ASSERT_TRUE(Parses({"install", "--config", example}, &o));
  EXPECT_EQ(std::string(o.config_path), example);
  std::string err = ParseError({"install", "--threads", "4"});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "install takes only --config", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "--threads", err);
  for (const char *command : {"uninstall", "start", "stop", "status"}) {
    err = ParseError({command, "--config", "x.ini"});
    EXPECT_PRED_FORMAT2(testing::IsSubstring, std::string(command) + " takes no options", err);
  }
}

TEST(Options, ServiceCommandsTakeFlags) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"service", "--threads", "2", "--log-level", "warn"}, &o));
  EXPECT_EQ(o.command, PS_CMD_SERVICE);
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.log_level, PS_LEVEL_WARN);
}

TEST(Options, LogLevelTakesEachLevelInBothForms) {
  for (const auto &l : kLevels) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({"run", "--log-level", l.name}, &o)) << l.name;
    EXPECT_EQ(o.log_level, l.level) << l.name;
    ASSERT_TRUE(Parses({"run", std::string("--log-level=") + l.name}, &o)) << l.name;
    EXPECT_EQ(o.log_level, l.level) << l.name;
  }
}

TEST(Options, BadLogLevelNamesFlagValueAndLevels) {
  for (const char *bad : {"loud", "", "warning", "inf", "debug2"}) {
    std::string err = ParseError({"run", "--log-level", bad});
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "--log-level", err) << bad;
    EXPECT_PRED_FORMAT2(testing::IsSubstring, std::string("'") + bad + "'", err);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "error, warn, info, debug", err);
  }
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "--log-level needs a value", ParseError({"run", "--log-level"}));
}

TEST(Options, PathFlagsKeepTheirValue) {
  for (const PathFlag &f : kPathFlags) {
    ps_options &o = g_options;
    const std::string path = "C:\\Program Files\\portserve\\file name.txt";
    ASSERT_TRUE(Parses({"run", f.name, path}, &o)) << f.name;
    EXPECT_EQ(std::string(o.*f.field), path) << f.name;
    ASSERT_TRUE(Parses({"run", std::string(f.name) + "=/tmp/a=b.txt"}, &o)) << f.name;
    EXPECT_STREQ(o.*f.field, "/tmp/a=b.txt") << f.name << ": only the first '=' separates the value";
  }
}

TEST(Options, PathFlagsRejectPathsTooLongToKeep) {
  for (const PathFlag &f : kPathFlags) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({"run", f.name, std::string(PS_PATH_MAX - 1, 'p')}, &o)) << f.name;
    EXPECT_EQ(std::string(o.*f.field).size(), static_cast<size_t>(PS_PATH_MAX - 1));
    std::string err = ParseError({"run", f.name, std::string(PS_PATH_MAX, 'p')});
    EXPECT_PRED_FORMAT2(testing::IsSubstring, f.name, err);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "too long", err);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, std::string(f.name) + " needs a value", ParseError({"run", f.name}));
  }
}

TEST(Options, ConfigIsReadAndItsPathKept) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run", "--config", kExampleConfig}, &o));
  EXPECT_STREQ(o.config_path, kExampleConfig.c_str());
  EXPECT_EQ(o.stats_interval_s, 60u) << "the example's value, not the default";
}

TEST(Options, ConfigPathTooLongIsRejected) {
  std::string err = ParseError({"run", "--config", std::string(PS_PATH_MAX, 'c')});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "--config", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "too long", err);
}

TEST(Options, FlagTakesValueAsNextArgument) {
  for (const UintFlag &f : kUintFlags) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({"run", f.name, std::to_string(f.max)}, &o)) << f.name;
    EXPECT_EQ(o.*f.field, f.max) << f.name;
  }
}

TEST(Options, FlagTakesValueAfterEquals) {
  for (const UintFlag &f : kUintFlags) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({"run", std::string(f.name) + "=" + std::to_string(f.min)}, &o)) << f.name;
    EXPECT_EQ(o.*f.field, f.min) << f.name;
  }
}

TEST(Options, ListenTakesBothFormsAndRepeatsInOrder) {
  ps_options &o = g_options;
  ASSERT_TRUE(
      Parses({"run", "--listen", "echo=127.0.0.1:1/tcp", "--listen=echo=[::1]:2,optional", "--accepts", "3"}, &o));
  ASSERT_EQ(o.listen_count, 2u) << "the default listener is added only when none is given";
  EXPECT_STREQ(o.listens[0].host, "127.0.0.1");
  EXPECT_EQ(o.listens[0].port, 1u);
  EXPECT_EQ(o.listens[0].transports, static_cast<unsigned>(PS_TRANSPORT_TCP));
  EXPECT_STREQ(o.listens[1].host, "::1");
  EXPECT_EQ(o.listens[1].port, 2u);
  EXPECT_EQ(o.listens[1].optional, 1);
  EXPECT_EQ(o.accepts, 3u);
}

TEST(Options, HelpCommandForms) {
  for (const char *help : {"--help", "-h", "help", "/?"}) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({help}, &o)) << help;
    EXPECT_EQ(o.command, PS_CMD_HELP) << help;
  }
}

TEST(Options, HelpFlagAfterRunWinsOverLaterArguments) {
  for (const char *help : {"--help", "-h"}) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({"run", "--threads", "2", help, "--bogus"}, &o)) << help;
    EXPECT_EQ(o.command, PS_CMD_HELP) << help;
  }
}

TEST(Options, VersionCommandForms) {
  for (const char *version : {"--version", "version"}) {
    ps_options &o = g_options;
    ASSERT_TRUE(Parses({version}, &o)) << version;
    EXPECT_EQ(o.command, PS_CMD_VERSION) << version;
    EXPECT_EQ(o.listen_count, 0u) << "only run gets the default listener";
  }
}

TEST(Options, MissingCommandIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "missing command", ParseError({}));
}

TEST(Options, UnknownCommandIsNamed) { EXPECT_PRED_FORMAT2(testing::IsSubstring, "'serve'", ParseError({"serve"})); }

TEST(Options, UnknownFlagIsNamed) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'--bogus'", ParseError({"run", "--bogus", "1"}));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'--bogus'", ParseError({"run", "--bogus=1"}));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'--thread'", ParseError({"run", "--thread", "1"}));
}

TEST(Options, StrayArgumentIsNamed) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'extra'", ParseError({"run", "extra"}));
}

TEST(Options, MissingValueNamesTheFlag) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "--listen needs a value", ParseError({"run", "--listen"}));
  for (const UintFlag &f : kUintFlags)
    EXPECT_PRED_FORMAT2(testing::IsSubstring, std::string(f.name) + " needs a value", ParseError({"run", f.name}));
}

TEST(Options, NonNumericValueNamesFlagAndValue) {
  for (const char *bad : {"abc", "5x", "-5", "+5", " 5", "0x10", ""}) {
    std::string err = ParseError({"run", std::string("--accepts=") + bad});
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "--accepts", err);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, std::string("'") + bad + "' is not a number", err);
  }
}

TEST(Options, OutOfRangeValueNamesFlagAndRange) {
  for (const UintFlag &f : kUintFlags) {
    std::string range = "(" + std::to_string(f.min) + " to " + std::to_string(f.max) + ")";
    std::string above = std::to_string(static_cast<unsigned long long>(f.max) + 1);
    std::string err = ParseError({"run", f.name, above});
    EXPECT_PRED_FORMAT2(testing::IsSubstring, f.name, err);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, above, err);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, range, err);
    if (f.min > 0) {
      err = ParseError({"run", f.name, std::to_string(f.min - 1)});
      EXPECT_PRED_FORMAT2(testing::IsSubstring, f.name, err);
      EXPECT_PRED_FORMAT2(testing::IsSubstring, range, err);
    }
  }
}

// strtoul saturates instead of wrapping; on Windows unsigned long is 32 bits.
TEST(Options, HugeValueIsOutOfRangeNotWrapped) {
  for (const char *huge : {"4294967296", "4294967297", "99999999999999999999999"}) {
    std::string err = ParseError({"run", "--max-connections", huge});
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "out of range", err);
  }
}

TEST(Options, BadListenSpecNamesFlagAndProblem) {
  std::string err = ParseError({"run", "--listen", "echo=:65536"});
  EXPECT_EQ(err.rfind("--listen", 0), 0u) << err;
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "65536", err);
}

// A rejected over-long host must still say why. The spec parser's message
// quotes the whole text first, and opt__add_listen copies it through a
// 300-byte buffer, so the reason is cut off.
TEST(Options, OverlongListenHostStillSaysWhy) {
  std::string err = ParseError({"run", "--listen", "echo=" + std::string(300, 'h') + ":7"});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "too long", err);
}

TEST(Options, UnknownServiceListsKnownServices) {
  std::string err = ParseError({"run", "--listen", "gopher=:70"});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'gopher'", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, std::string("known: ") + pstest::builtin_names(), err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "echo", err);
}

TEST(Options, UppercaseServiceNameIsAccepted) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run", "--listen", "ECHO=:7"}, &o));
  EXPECT_STREQ(o.listens[0].service, "echo");
}

TEST(Options, DuplicateListenerIsRejected) {
  std::string err = ParseError({"run", "--listen", "echo=:7007", "--listen", "echo=*:7007"});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "duplicate of listener 1", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'echo=*:7007'", err);
  // /tcp overlaps the default (both transports).
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "duplicate",
                      ParseError({"run", "--listen", "echo=127.0.0.1:7", "--listen", "echo=127.0.0.1:7/tcp"}));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "duplicate of listener 2",
                      ParseError({"run", "--listen", "echo=:1", "--listen", "echo=[::1]:7/udp", "--listen",
                                  "echo=[::1]:7/UDP,optional"}));
}

TEST(Options, SamePortOnDifferentTransportsIsAccepted) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run", "--listen", "echo=:7007/tcp", "--listen", "echo=:7007/udp"}, &o));
  EXPECT_EQ(o.listen_count, 2u);
}

TEST(Options, SamePortOnDifferentHostsIsAccepted) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run", "--listen", "echo=127.0.0.1:7", "--listen", "echo=[::1]:7"}, &o));
  EXPECT_EQ(o.listen_count, 2u);
}

TEST(Options, PortZeroListenersNeverCollide) {
  ps_options &o = g_options;
  ASSERT_TRUE(Parses({"run", "--listen", "echo=:0", "--listen", "echo=:0"}, &o));
  EXPECT_EQ(o.listen_count, 2u);
}

TEST(Options, AtMostMaxListenersAreAccepted) {
  std::vector<std::string> args = {"run"};
  for (int port = 1; port <= PS_MAX_LISTENS; port++) args.push_back("--listen=echo=:" + std::to_string(port));
  ps_options &o = g_options;
  ASSERT_TRUE(Parses(Argv(args), &o));
  EXPECT_EQ(o.listen_count, static_cast<size_t>(PS_MAX_LISTENS));

  args.push_back("--listen=echo=:" + std::to_string(PS_MAX_LISTENS + 1));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "more than " + std::to_string(PS_MAX_LISTENS), ParseError(Argv(args)));
}

TEST(Options, ErrorFitsSmallBufferAndStaysTerminated) {
  Argv args({"serve"});
  char err[16];
  for (char &c : err) c = 'x';
  EXPECT_EQ(ps_options_parse(args.argc(), args.argv(), &g_options, err, 8), -1);
  EXPECT_EQ(std::string(err), "unknown");
  EXPECT_EQ(err[8], 'x') << "wrote past errsize";
}

// Each flag is checked against the parser first, so the list cannot name a
// flag the parser does not take; then the usage text must mention it.
TEST(Options, UsageMentionsEveryAcceptedFlag) {
  std::vector<std::pair<std::string, std::vector<std::string>>> accepted = {
      {"run", {"run"}},
      {"--listen", {"run", "--listen", "echo=:7"}},
      {"--help", {"--help"}},
      {"-h", {"-h"}},
      {"--version", {"--version"}},
      {"install", {"install"}},
      {"uninstall", {"uninstall"}},
      {"start", {"start"}},
      {"stop", {"stop"}},
      {"status", {"status"}},
      {"service", {"service"}},
      {"check", {"check", "--config", "x.ini"}},
      {"--bind", {"check", "--config", "x.ini", "--bind"}},
      {"--log-level", {"run", "--log-level", "debug"}},
      {"--log-time", {"run", "--log-time", "utc"}},
      {"--udp-allow-low-ports", {"run", "--udp-allow-low-ports", "1"}},
      {"--accept-data", {"run", "--accept-data", "0"}},
      {"--admin", {"run", "--admin", "127.0.0.1:9100"}},
  };
  for (const UintFlag &f : kUintFlags) accepted.push_back({f.name, {"run", f.name, std::to_string(f.max)}});
  for (const PathFlag &f : kPathFlags) accepted.push_back({f.name, {"run", f.name, "file.txt"}});
  for (const auto &l : kLevels) accepted.push_back({l.name, {"run", "--log-level", l.name}});
  accepted.push_back({"--config", {"run", "--config", kExampleConfig}});

  const std::string usage = Usage();
  for (const auto &flag : accepted) {
    EXPECT_TRUE(Parses(Argv(flag.second), &g_options)) << flag.first;
    EXPECT_PRED_FORMAT2(testing::IsSubstring, flag.first, usage);
  }
  EXPECT_PRED_FORMAT2(testing::IsSubstring, PS_DEFAULT_LISTEN, usage);
}

// --help reads the table: every row is there, with its default.
TEST(Options, UsageHasEveryTableRowWithItsDefault) {
  const std::string usage = Usage();
  for (size_t i = 0; i < ps_option_count(); i++) {
    const ps_option_def *d = ps_option_at(i);
    size_t at = usage.find("  " + std::string(d->flag) + " ", usage.find("Options ("));
    ASSERT_NE(at, std::string::npos) << d->flag;
    char def[64];
    ps_option_default_text(d, def, sizeof def);
    size_t next = usage.find("\n  --", at + 2);
    std::string row;  // whitespace runs (the wrapping) as one space
    for (char c : usage.substr(at, next - at))
      if (!(c == ' ' || c == '\n') || row.empty() || row.back() != ' ') row += (c == '\n' ? ' ' : c);
    if (d->type != PS_OPT_CONFIG) {
      EXPECT_PRED_FORMAT2(testing::IsSubstring, "(default", row) << d->flag;
    }
    if (def[0] != '\0') {
      EXPECT_PRED_FORMAT2(testing::IsSubstring, def, row) << d->flag;
    }
  }
  EXPECT_EQ(usage.find("buffer-idle"), std::string::npos);
}

TEST(Options, UsageLinesFitEightyColumns) {
  const std::string usage = Usage();
  size_t start = 0;
  while (start < usage.size()) {
    size_t end = usage.find('\n', start);
    if (end == std::string::npos) end = usage.size();
    // The usage line itself is the one long line (the listen syntax cannot wrap).
    if (usage.compare(start, 6, "usage:") != 0) {
      EXPECT_LE(end - start, 80u) << usage.substr(start, end - start);
    }
    start = end + 1;
  }
}

// The rules the table keeps: one row per flag, the key is the flag without
// "--" and with '_' for '-', and the default is inside the range.
TEST(Options, TableRowsAreConsistent) {
  ps_options &o = g_options;
  ps_options_defaults(&o);
  for (size_t i = 0; i < ps_option_count(); i++) {
    const ps_option_def *d = ps_option_at(i);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(ps_option_by_flag(d->flag), d) << d->flag << " appears twice";
    EXPECT_NE(d->help, nullptr);
    if (d->ini_key != nullptr) {
      std::string key = std::string(d->flag).substr(2);
      for (char &c : key) c = c == '-' ? '_' : c;
      EXPECT_EQ(key, d->ini_key);
      EXPECT_EQ(ps_option_by_ini_key(d->ini_key), d);
    }
    if (d->type == PS_OPT_UINT && !(d->default_uint == PS_BIND_RETRY_DEFAULT && d->default_shown != nullptr)) {
      EXPECT_GE(d->default_uint, d->min) << d->flag;
      EXPECT_LE(d->default_uint, d->max) << d->flag;
      // The value --help shows as the default is the one a parse gives.
      char def[64];
      ps_option_default_text(d, def, sizeof def);
      ASSERT_TRUE(Parses({"run", d->flag, def}, &o)) << d->flag;
    }
  }
  EXPECT_EQ(ps_option_at(ps_option_count()), nullptr);
}

// An operator learns from --help which services --listen takes.
TEST(Options, UsageNamesEveryService) {
  const std::string usage = Usage();
  size_t services_at = usage.find("Services");
  ASSERT_NE(services_at, std::string::npos) << usage;
  const std::string services = usage.substr(services_at, usage.find("\n\n", services_at) - services_at);
  const std::string names = pstest::builtin_names();
  size_t start = 0;
  for (;;) {
    size_t comma = names.find(", ", start);
    std::string name = names.substr(start, comma - start);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, name, services) << "usage does not list the service " << name;
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
}

// --help lists the services of the registry it is given: a program that
// registers its own protocol sees it named there, next to the built-ins.
TEST(Options, UsageNamesTheRegistrysServices) {
  ps_handler mine;
  memset(&mine, 0, sizeof mine);
  mine.name = "upper";
  mine.on_open = [](ps_session *) {};
  ps_registry reg;
  ps_registry_init(&reg);
  ps_registry_add_builtins(&reg);
  char err[200];
  ASSERT_EQ(ps_registry_add(&reg, &mine, err, sizeof err), 0) << err;
  std::vector<char> buf(PS_USAGE_MAX);
  ps_options_usage_for(&reg, buf.data(), buf.size());
  EXPECT_NE(std::string(buf.data()).find("Services: echo, discard, chargen, daytime, qotd, upper."), std::string::npos);
  ps_options_usage(buf.data(), buf.size());
  EXPECT_EQ(std::string(buf.data()).find("upper"), std::string::npos) << "the built-in registry by default";
}
