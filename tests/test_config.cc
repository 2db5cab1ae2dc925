// config: the INI configuration file (--config), its errors, and how it
// combines with the command line.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "temp_file.h"

extern "C" {
#include "config.h"
#include "options.h"
}

// The build defines PS_SOURCE_DIR (the repository root, as a string) so the
// tests can read the shipped portserve.ini.example; without it those tests
// would not exist, so its absence is an error rather than a silent skip.
#ifndef PS_SOURCE_DIR
#error "PS_SOURCE_DIR must be defined (CMake: tests/CMakeLists.txt; Visual Studio: tools/gen_vcxproj.py)"
#endif

namespace {

std::string Listener(const ps_listen_spec &spec) {
  char buf[400];
  return ps_listen_spec_format(&spec, buf, sizeof buf);
}

// Whether two option sets are the same in every field. The memcmp covers
// every byte, so a field added to ps_options later is compared too (both
// sides start from ps_options_defaults, which zeroes the whole struct,
// padding included, and parsing only assigns members); the named fields
// below only make the message say which one differs.
testing::AssertionResult SameOptions(const ps_options &got, const ps_options &want) {
  if (std::memcmp(&got, &want, sizeof got) == 0) return testing::AssertionSuccess();
  testing::AssertionResult r = testing::AssertionFailure();
  r << "options differ:";
  // clang-format re-indents this list further on every pass: leave it be.
  // clang-format off
#define PS_DIFF(field) \
  if (std::memcmp(&got.field, &want.field, sizeof got.field) != 0) r << " " #field;
  PS_DIFF(command) PS_DIFF(listens) PS_DIFF(listen_count) PS_DIFF(threads) PS_DIFF(accepts) PS_DIFF(accept_data) PS_DIFF(burst_reads) PS_DIFF(buffer_size)
  PS_DIFF(send_queue_max) PS_DIFF(drain_timeout_ms) PS_DIFF(stats_interval_s) PS_DIFF(max_connections)
  PS_DIFF(max_connections_per_source) PS_DIFF(udp_receives) PS_DIFF(idle_timeout_s) PS_DIFF(linger_timeout_s)
  PS_DIFF(send_timeout_s) PS_DIFF(keepalive_s) PS_DIFF(bind_retry_s) PS_DIFF(log_level) PS_DIFF(log_time)
  PS_DIFF(log_max_size) PS_DIFF(log_files) PS_DIFF(check_bind) PS_DIFF(admin) PS_DIFF(config_path)
  PS_DIFF(log_file) PS_DIFF(quotes_file) PS_DIFF(udp_reply_rate) PS_DIFF(udp_reply_burst)
  PS_DIFF(udp_reply_rate_total) PS_DIFF(udp_allow_low_ports) PS_DIFF(reload_pid) PS_DIFF(services)
#undef PS_DIFF
  r << " (if none is named: a field this list does not know, or padding)";
  // clang-format on
  return r;
}

// The fixture lives on the heap (gtest allocates it), and ps_options is big.
class Config : public testing::Test {
 protected:
  void SetUp() override { ps_options_defaults(&o); }

  testing::AssertionResult Parses(const std::string &text) {
    char err[512] = "";
    if (ps_config_parse(text.c_str(), "test.ini", &o, err, sizeof err) == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << "rejected: " << err;
  }

  // The message for text that must be rejected.
  std::string Error(const std::string &text) {
    char err[512] = "";
    EXPECT_EQ(ps_config_parse(text.c_str(), "test.ini", &o, err, sizeof err), -1) << text;
    EXPECT_NE(err[0], '\0') << "empty message";
    return err;
  }

  // The message for text that must be rejected at `line` ("test.ini:LINE: ...").
  std::string ErrorAt(unsigned line, const std::string &text) {
    std::string err = Error(text);
    std::string where = "test.ini:" + std::to_string(line) + ":";
    EXPECT_EQ(err.rfind(where, 0), 0u) << "expected '" << where << "' first: " << err;
    return err;
  }

  std::vector<std::string> Listeners() const {
    std::vector<std::string> all;
    for (size_t i = 0; i < o.listen_count; i++) all.push_back(Listener(o.listens[i]));
    return all;
  }

  ps_options o;
};

// The command line with --config: argv[0] added, mutable strings as main() gets them.
class ConfigCommandLine : public Config {
 protected:
  testing::AssertionResult ParsesArgs(std::vector<std::string> args) {
    char err[512] = "";
    if (ParseArgs(args, err, sizeof err) == 0) return testing::AssertionSuccess();
    return testing::AssertionFailure() << "rejected: " << err;
  }
  std::string ArgsError(std::vector<std::string> args) {
    char err[512] = "";
    EXPECT_EQ(ParseArgs(args, err, sizeof err), -1);
    EXPECT_NE(err[0], '\0') << "empty message";
    return err;
  }

 private:
  int ParseArgs(std::vector<std::string> args, char *err, size_t errsize) {
    args.insert(args.begin(), "portserve");
    std::vector<char *> argv;
    for (std::string &arg : args) argv.push_back(&arg[0]);
    argv.push_back(nullptr);
    return ps_options_parse(static_cast<int>(args.size()), argv.data(), &o, err, errsize);
  }
};

}  // namespace

// ---- the format ---------------------------------------------------------------

TEST_F(Config, ServerSectionSetsEveryNumericOption) {
  ASSERT_TRUE(Parses("[server]\n"
                     "threads = 4\n"
                     "accepts = 32\n"
                     "buffer_size = 16384\n"
                     "send_queue_max = 65536\n"
                     "max_connections = 1000\n"
                     "drain_timeout = 250\n"
                     "stats_interval = 60\n"
                     "udp_receives = 64\n"));
  EXPECT_EQ(o.threads, 4u);
  EXPECT_EQ(o.accepts, 32u);
  EXPECT_EQ(o.buffer_size, 16384u);
  EXPECT_EQ(o.send_queue_max, 65536u);
  EXPECT_EQ(o.max_connections, 1000u);
  EXPECT_EQ(o.drain_timeout_ms, 250u);
  EXPECT_EQ(o.stats_interval_s, 60u);
  EXPECT_EQ(o.udp_receives, 64u);
  EXPECT_EQ(o.listen_count, 0u) << "the file adds no default listener";
}

TEST_F(Config, ServerSectionSetsLogLevelLogFileAndQuotesFile) {
  const struct {
    const char *text;
    ps_level_option level;
  } levels[] = {{"error", PS_LEVEL_ERROR}, {"warn", PS_LEVEL_WARN}, {"info", PS_LEVEL_INFO}, {"debug", PS_LEVEL_DEBUG}};
  for (const auto &level : levels) {
    ASSERT_TRUE(Parses(std::string("[server]\nlog_level = ") + level.text + "\n")) << level.text;
    EXPECT_EQ(o.log_level, level.level) << level.text;
  }
  ASSERT_TRUE(Parses("[server]\n"
                     "log_file = C:\\ProgramData\\portserve\\portserve.log\n"
                     "quotes_file = C:\\Program Files\\portserve\\quotes.txt\n"));
  EXPECT_STREQ(o.log_file, "C:\\ProgramData\\portserve\\portserve.log");
  EXPECT_STREQ(o.quotes_file, "C:\\Program Files\\portserve\\quotes.txt") << "spaces inside a value are kept";
}

TEST_F(Config, ListenersMayRepeatAServiceAndKeepTheirOrder) {
  ASSERT_TRUE(Parses("[listeners]\n"
                     "echo = 127.0.0.1:7/tcp\n"
                     "echo = [::1]:7/tcp\n"
                     "chargen = :19/udp\n"
                     "qotd = localhost:17,optional\n"
                     "daytime=:13\n"
                     "discard = *:9\n"));
  EXPECT_EQ(Listeners(), (std::vector<std::string>{"echo=127.0.0.1:7/tcp", "echo=[::1]:7/tcp", "chargen=:19/udp",
                                                   "qotd=localhost:17,optional", "daytime=:13", "discard=:9"}));
}

TEST_F(Config, CommentsStartWithSemicolonOrHashAnywhereAfterSpace) {
  ASSERT_TRUE(Parses("; a comment\n"
                     "# another\n"
                     "   ; indented comment\n"
                     "[server] ; trailing comment on a section\n"
                     "threads = 2 ; trailing comment\n"
                     "accepts = 3\t# after a tab\n"
                     "log_file = C:\\logs#1\\ps;1.log ; a '#' or ';' inside a value stays\n"
                     ";threads = 99\n"
                     "#threads = 98\n"
                     "[listeners] # listeners\n"
                     "echo = :7 ; all addresses\n"));
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.accepts, 3u);
  EXPECT_STREQ(o.log_file, "C:\\logs#1\\ps;1.log");
  EXPECT_EQ(Listeners(), std::vector<std::string>{"echo=:7"});
}

TEST_F(Config, CrlfLineEndsAndAByteOrderMarkAreAccepted) {
  ASSERT_TRUE(Parses("\xEF\xBB\xBF[server]\r\nthreads = 5\r\n\r\n; note\r\nlog_file = a.log\r\n[listeners]\r\n"
                     "echo = :7007/tcp\r\n"));
  EXPECT_EQ(o.threads, 5u);
  EXPECT_STREQ(o.log_file, "a.log") << "no CR left at the end of a value";
  EXPECT_EQ(Listeners(), std::vector<std::string>{"echo=:7007/tcp"});
}

TEST_F(Config, SectionAndKeyNamesAreCaseInsensitive) {
  ASSERT_TRUE(Parses("[SERVER]\nThreads = 6\nLOG_LEVEL = debug\nDrain_Timeout = 1\n[Listeners]\nECHO = :7\n"));
  EXPECT_EQ(o.threads, 6u);
  EXPECT_EQ(o.log_level, PS_LEVEL_DEBUG);
  EXPECT_EQ(o.drain_timeout_ms, 1u);
  EXPECT_EQ(Listeners(), std::vector<std::string>{"echo=:7"});
}

TEST_F(Config, SpacesAroundNamesAndValuesAreOptional) {
  ASSERT_TRUE(Parses("  [ server ]  \nthreads=7\n\taccepts\t=\t9\t\n"));
  EXPECT_EQ(o.threads, 7u);
  EXPECT_EQ(o.accepts, 9u);
}

TEST_F(Config, EmptyTextChangesNothing) {
  ps_options defaults;
  ps_options_defaults(&defaults);
  for (const char *text : {"", "\n", "\r\n\r\n", "; only a comment", "\xEF\xBB\xBF", "[server]\n[listeners]\n"}) {
    ps_options_defaults(&o);
    ASSERT_TRUE(Parses(text)) << "'" << text << "'";
    EXPECT_TRUE(SameOptions(o, defaults)) << "'" << text << "'";
  }
}

// ---- errors name the file and the line ------------------------------------------

TEST_F(Config, UnknownSectionIsNamed) {
  std::string err = ErrorAt(3, "[server]\nthreads = 1\n[client]\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "client", err);
}

TEST_F(Config, MalformedSectionHeaderIsRejected) {
  for (const char *header : {"[server", "[server]x", "[]"}) {
    ErrorAt(2, std::string("; first\n") + header + "\n");
  }
}

TEST_F(Config, UnknownKeyIsNamed) {
  std::string err = ErrorAt(3, "[server]\nthreads = 1\nthread = 2\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'thread'", err);
}

// Listeners have their own section; the file cannot include another file.
TEST_F(Config, CommandLineOnlyNamesAreUnknownKeysInServer) {
  for (const char *key : {"listen", "config", "--threads", "help", "version"}) {
    std::string err = ErrorAt(2, std::string("[server]\n") + key + " = 1\n");
    EXPECT_PRED_FORMAT2(testing::IsSubstring, key, err);
  }
}

TEST_F(Config, KeyOutsideASectionIsRejected) {
  std::string err = ErrorAt(3, "; comment\n\nthreads = 1\n[server]\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "threads", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "section", err);
}

TEST_F(Config, LineWithoutEqualsIsRejected) {
  std::string err = ErrorAt(2, "[server]\nthreads 4\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "threads 4", err);
  ErrorAt(2, "[listeners]\necho :7\n");
}

TEST_F(Config, MissingKeyBeforeEqualsIsRejected) { ErrorAt(2, "[server]\n = 4\n"); }

TEST_F(Config, BadValuesNameLineKeyAndProblem) {
  const struct {
    const char *line;
    const char *says;
  } cases[] = {
      {"threads = 257", "out of range"},
      {"accepts = 0", "out of range"},
      {"buffer_size = 511", "out of range"},
      {"udp_receives = 1025", "out of range"},
      {"threads = many", "not a number"},
      {"threads = -1", "not a number"},
      {"threads = 4x", "not a number"},
      {"threads =", "not a number"},
      {"max_connections = 99999999999999999999", "out of range"},
      {"log_level = loud", "'loud'"},
  };
  for (const auto &c : cases) {
    std::string err = ErrorAt(3, std::string("[server]\n\n") + c.line + "\n");
    EXPECT_PRED_FORMAT2(testing::IsSubstring, c.says, err) << c.line;
    std::string key = std::string(c.line).substr(0, std::string(c.line).find(' '));
    EXPECT_PRED_FORMAT2(testing::IsSubstring, key.substr(0, key.find('_')), err) << "names the key";
  }
}

TEST_F(Config, TooLongPathIsRejected) {
  std::string err = ErrorAt(2, "[server]\nlog_file = " + std::string(PS_PATH_MAX, 'p') + "\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "too long", err);
}

TEST_F(Config, BadListenerNamesLineAndProblem) {
  std::string err = ErrorAt(3, "[listeners]\necho = :7\necho = :99999\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "99999", err);

  err = ErrorAt(2, "[listeners]\ngopher = :70\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "gopher", err);

  err = ErrorAt(2, "[listeners]\necho = 127.0.0.1:7/sctp\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "sctp", err);

  err = ErrorAt(2, "[listeners]\necho = ::1:7\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "brackets", err);
}

TEST_F(Config, DuplicateListenerNamesLine) {
  std::string err = ErrorAt(4, "[listeners]\necho = 127.0.0.1:7\n; again\nECHO = 127.0.0.1:7/tcp\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "duplicate", err);
}

TEST_F(Config, TooLongLineIsRejected) {
  std::string err = ErrorAt(3, "[server]\nthreads = 1\nlog_file = " + std::string(2000, 'x') + "\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "too long", err);
}

TEST_F(Config, LineNumbersCountCrlfAndByteOrderMarkCorrectly) {
  ErrorAt(5, "\xEF\xBB\xBF; header\r\n[server]\r\n\r\nthreads = 1\r\nbogus = 2\r\n");
}

// ---- every error, not only the first (portserve check) ------------------------

namespace {

int Collect(void *ctx, const char *message) {
  static_cast<std::vector<std::string> *>(ctx)->push_back(message);
  return 0;
}

}  // namespace

// One file with one bad line of each kind: each is reported with its own
// line, in order, and the good lines around them still apply.
TEST_F(Config, EachErrorIsReportedWithItsLine) {
  const std::string text = "threads = 1\n"              // 1: outside a section
                           "[server]\n"                 // 2
                           "thraeds = 2\n"              // 3: unknown key
                           "accepts = many\n"           // 4: bad value
                           "buffer_size = 16384\n"      // 5: good
                           "log_level\n"                // 6: no '='
                           "buffer_idle_ms = 1000\n"    // 7: an option that is gone
                           "[client]\n"                 // 8: unknown section
                           "whatever = 1\n"             // 9: under it: not reported again
                           "[listeners\n"               // 10: bad section header
                           "[listeners]\n"              // 11
                           "echo = 127.0.0.1:7\n"       // 12: good
                           "echo = 127.0.0.1:99999\n"   // 13: bad listen spec
                           "echo = 127.0.0.1:7/tcp\n"   // 14: duplicate of line 12
                           "gopher = :70\n"             // 15: unknown service
                           "[server]\n"                 // 16
                           "udp_allow_low_ports = 2\n"  // 17: bad boolean
                           "log_time = utc\n";          // 18: good
  std::vector<std::string> errors;
  EXPECT_EQ(ps_config_parse_each(text.c_str(), "test.ini", &o, Collect, &errors), 11u);
  const struct {
    unsigned line;
    const char *says;
  } want[] = {{1, "outside a section"},
              {3, "unknown key 'thraeds'"},
              {4, "accepts: 'many' is not a number"},
              {6, "expected 'key = value'"},
              {7, "unknown key 'buffer_idle_ms'"},
              {8, "unknown section [client]"},
              {10, "bad section header"},
              {13, "99999"},
              {14, "duplicate of listener 1"},
              {15, "unknown service 'gopher'"},
              {17, "udp_allow_low_ports: '2' is not 0 or 1"}};
  ASSERT_EQ(errors.size(), sizeof want / sizeof want[0]);
  for (size_t i = 0; i < errors.size(); i++) {
    std::string where = "test.ini:" + std::to_string(want[i].line) + ": ";
    EXPECT_EQ(errors[i].rfind(where, 0), 0u) << "expected '" << where << "' first: " << errors[i];
    EXPECT_PRED_FORMAT2(testing::IsSubstring, want[i].says, errors[i]);
  }
  EXPECT_EQ(o.buffer_size, 16384u) << "good lines between bad ones apply";
  EXPECT_EQ(o.log_time, PS_LOG_TIME_UTC);
  EXPECT_EQ(Listeners(), std::vector<std::string>{"echo=127.0.0.1:7"});
}

TEST_F(Config, CallbackCanStopAtTheFirstError) {
  std::vector<std::string> errors;
  auto stop = [](void *ctx, const char *message) {
    static_cast<std::vector<std::string> *>(ctx)->push_back(message);
    return 1;
  };
  EXPECT_EQ(ps_config_parse_each("[server]\nbogus = 1\nthreads = x\n", "test.ini", &o, stop, &errors), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("test.ini:2: ", 0), 0u) << errors[0];
}

TEST_F(Config, LoadEachReportsAFileItCannotRead) {
  std::string path = testing::TempDir() + "portserve_no_such_config_each.ini";
  std::remove(path.c_str());
  std::vector<std::string> errors;
  EXPECT_EQ(ps_config_load_each(path.c_str(), &o, Collect, &errors), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'" + path + "'", errors[0]);
}

TEST_F(Config, NewOptionsHaveKeys) {
  ASSERT_TRUE(Parses("[server]\n"
                     "max_connections_per_source = 10\n"
                     "admin = [::1]:9100\n"
                     "log_max_size = 0\n"
                     "log_files = 100\n"
                     "log_time = utc\n"));
  EXPECT_EQ(o.max_connections_per_source, 10u);
  EXPECT_STREQ(o.admin, "[::1]:9100");
  EXPECT_EQ(o.log_max_size, 0u);
  EXPECT_EQ(o.log_files, 100u);
  EXPECT_EQ(o.log_time, PS_LOG_TIME_UTC);
  std::string err = ErrorAt(2, "[server]\nlog_files = 0\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "log_files: 0 is out of range (1 to 100)", err);
  err = ErrorAt(2, "[server]\nadmin = 127.0.0.1\n");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "admin: '127.0.0.1' is not HOST:PORT", err);
}

// run's errors (ps_options_parse_each): every bad line of --config and every
// bad value of a known flag, in order; an unknown flag ends the reading.
TEST(ConfigEach, RunReportsEveryBadLineAndFlagValueInOrder) {
  TempFile ini("[server]\nthraeds = 3\naccepts = many\n[listeners]\necho = 127.0.0.1:x\n", ".ini");
  std::vector<std::string> args = {"portserve",      "run", "--threads", "lots",      "--config", ini.path(),
                                   "--idle-timeout", "-1",  "--bogus",   "--accepts", "zero"};
  std::vector<char *> argv;
  for (std::string &arg : args) argv.push_back(&arg[0]);
  std::vector<std::string> got;
  ps_options o;
  unsigned n = ps_options_parse_each(
      nullptr, static_cast<int>(args.size()), argv.data(), &o,
      [](void *ctx, const char *message) {
        static_cast<std::vector<std::string> *>(ctx)->push_back(message);
        return 0;
      },
      &got);
  ASSERT_EQ(n, 6u);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_NE(got[0].find("--threads: 'lots' is not a number"), std::string::npos) << got[0];
  EXPECT_EQ(got[1].rfind(ini.path() + ":2: unknown key 'thraeds'", 0), 0u) << got[1];
  EXPECT_EQ(got[2].rfind(ini.path() + ":3: accepts: 'many' is not a number", 0), 0u) << got[2];
  EXPECT_EQ(got[3].rfind(ini.path() + ":5: ", 0), 0u) << got[3];
  EXPECT_NE(got[4].find("--idle-timeout"), std::string::npos) << got[4];
  EXPECT_EQ(got[5], "unknown option '--bogus'") << "an unknown flag is the last: '--accepts zero' is not read";
}

// ps_options_parse keeps the first error only, as before (reload's message).
TEST(ConfigEach, ParseStopsAtTheFirstErrorOfTheFile) {
  TempFile ini("[server]\nthraeds = 3\naccepts = many\n", ".ini");
  std::vector<std::string> args = {"portserve", "run", "--config", ini.path()};
  std::vector<char *> argv;
  for (std::string &arg : args) argv.push_back(&arg[0]);
  ps_options o;
  char err[512] = "";
  EXPECT_EQ(ps_options_parse(static_cast<int>(args.size()), argv.data(), &o, err, sizeof err), -1);
  EXPECT_EQ(std::string(err).rfind(ini.path() + ":2: unknown key 'thraeds'", 0), 0u) << err;
}

// ---- the shipped example ------------------------------------------------------

const std::string kExample = std::string(PS_SOURCE_DIR) + "/portserve.ini.example";

TEST_F(Config, ShippedExampleLoadsWithItsOneListener) {
  char err[512] = "";
  ASSERT_EQ(ps_config_load(kExample.c_str(), &o, err, sizeof err), 0) << err;
  EXPECT_EQ(Listeners(), std::vector<std::string>{"echo=127.0.0.1:7007/tcp"});
  EXPECT_EQ(o.threads, 0u);
  EXPECT_EQ(o.accepts, 16u);
  EXPECT_EQ(o.buffer_size, 8192u);
  EXPECT_EQ(o.send_queue_max, 262144u);
  EXPECT_EQ(o.max_connections, 0u);
  EXPECT_EQ(o.drain_timeout_ms, 5000u);
  EXPECT_EQ(o.stats_interval_s, 60u);
  EXPECT_EQ(o.udp_reply_rate, 100u);
  EXPECT_EQ(o.udp_reply_burst, 200u);
  EXPECT_EQ(o.udp_reply_rate_total, 10000u);
  EXPECT_EQ(o.udp_allow_low_ports, 0u) << "udp_allow_low_ports is commented out";
  EXPECT_EQ(o.log_level, PS_LEVEL_INFO);
  EXPECT_STREQ(o.log_file, "") << "log_file is commented out";
}

// The settings the example shows commented out (";key = value") are valid too.
TEST_F(Config, ShippedExampleCommentedOutSettingsAreValid) {
  std::string text = ReadFileText(kExample);
  ASSERT_FALSE(text.empty()) << kExample;
  std::string uncommented;
  size_t settings = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.size() > 1 && line[0] == ';' && line[1] != ' ' && line.find('=') != std::string::npos) {
      line.erase(0, 1);
      settings++;
    }
    uncommented += line + "\n";
    start = end + 1;
  }
  EXPECT_GE(settings, 2u);
  ASSERT_TRUE(Parses(uncommented));
  EXPECT_STREQ(o.log_file, "C:\\ProgramData\\portserve\\logs\\portserve.log");
  EXPECT_EQ(Listeners(), (std::vector<std::string>{"echo=127.0.0.1:7007/tcp", "echo=[::1]:7007/tcp"}));
}

// ---- ps_config_load -----------------------------------------------------------

TEST_F(Config, LoadReadsAFile) {
  TempFile file("\xEF\xBB\xBF[server]\r\nthreads = 3\r\n[listeners]\r\ndaytime = :1313\r\n", ".ini");
  char err[512] = "";
  ASSERT_EQ(ps_config_load(file.path().c_str(), &o, err, sizeof err), 0) << err;
  EXPECT_EQ(o.threads, 3u);
  EXPECT_EQ(Listeners(), std::vector<std::string>{"daytime=:1313"});
}

TEST_F(Config, LoadErrorNamesThePathAndLine) {
  TempFile file("[server]\nthreads = lots\n", ".ini");
  char err[512] = "";
  ASSERT_EQ(ps_config_load(file.path().c_str(), &o, err, sizeof err), -1);
  EXPECT_EQ(std::string(err).rfind(file.path() + ":2:", 0), 0u) << err;
}

TEST_F(Config, LoadOfAMissingFileNamesThePath) {
  std::string path = testing::TempDir() + "portserve_no_such_config.ini";
  std::remove(path.c_str());
  char err[512] = "";
  ASSERT_EQ(ps_config_load(path.c_str(), &o, err, sizeof err), -1);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'" + path + "'", err);
}

// Notepad's "Unicode" encoding: refused with a message that says what to do.
TEST_F(Config, LoadOfAUtf16FileSaysSo) {
  TempFile file(Utf16LeWithBom("[server]\r\nthreads = 2\r\n"), ".ini");
  char err[512] = "";
  ASSERT_EQ(ps_config_load(file.path().c_str(), &o, err, sizeof err), -1);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, file.path(), err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "UTF-16", err);
  EXPECT_EQ(o.threads, 0u) << "nothing applied";
}

// ---- with the command line ------------------------------------------------------

TEST_F(ConfigCommandLine, FlagsAfterConfigOverrideTheFile) {
  TempFile file("[server]\nthreads = 7\naccepts = 5\n", ".ini");
  ASSERT_TRUE(ParsesArgs({"run", "--config", file.path(), "--threads", "3"}));
  EXPECT_EQ(o.threads, 3u);
  EXPECT_EQ(o.accepts, 5u) << "what the flags do not name still comes from the file";
  EXPECT_STREQ(o.config_path, file.path().c_str());
}

TEST_F(ConfigCommandLine, FlagsBeforeConfigAreOverriddenByTheFile) {
  TempFile file("[server]\nthreads = 7\n", ".ini");
  ASSERT_TRUE(ParsesArgs({"run", "--threads", "3", "--accepts", "4", "--config=" + file.path()}));
  EXPECT_EQ(o.threads, 7u);
  EXPECT_EQ(o.accepts, 4u);
  EXPECT_STREQ(o.config_path, file.path().c_str());
}

TEST_F(ConfigCommandLine, ListenersFromTheFileAndTheCommandLineAddUp) {
  TempFile file("[listeners]\necho = 127.0.0.1:7/tcp\nqotd = 127.0.0.1:17\n", ".ini");
  ASSERT_TRUE(ParsesArgs(
      {"run", "--listen", "echo=127.0.0.1:8", "--config", file.path(), "--listen", "chargen=127.0.0.1:19/udp"}));
  EXPECT_EQ(Listeners(), (std::vector<std::string>{"echo=127.0.0.1:8", "echo=127.0.0.1:7/tcp", "qotd=127.0.0.1:17",
                                                   "chargen=127.0.0.1:19/udp"}));
}

TEST_F(ConfigCommandLine, ListenerInBothTheFileAndTheCommandLineIsADuplicate) {
  TempFile file("[listeners]\necho = 127.0.0.1:7\n", ".ini");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "duplicate",
                      ArgsError({"run", "--config", file.path(), "--listen", "echo=127.0.0.1:7/udp"}));
  std::string err = ArgsError({"run", "--listen", "echo=127.0.0.1:7/udp", "--config", file.path()});
  EXPECT_EQ(err.rfind(file.path() + ":2:", 0), 0u) << err;
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "duplicate", err);
}

TEST_F(ConfigCommandLine, DefaultListenerOnlyWhenNoneIsGivenAnywhere) {
  TempFile none("[server]\nthreads = 2\n", ".ini");
  ASSERT_TRUE(ParsesArgs({"run", "--config", none.path()}));
  EXPECT_EQ(Listeners(), std::vector<std::string>{PS_DEFAULT_LISTEN});

  TempFile one("[listeners]\ndiscard = 127.0.0.1:9\n", ".ini");
  ASSERT_TRUE(ParsesArgs({"run", "--config", one.path()}));
  EXPECT_EQ(Listeners(), std::vector<std::string>{"discard=127.0.0.1:9"});

  ASSERT_TRUE(ParsesArgs({"run", "--config", none.path(), "--listen", "echo=127.0.0.1:1"}));
  EXPECT_EQ(Listeners(), std::vector<std::string>{"echo=127.0.0.1:1"});
}

TEST_F(ConfigCommandLine, InstallTakesTheConfigAndChecksIt) {
  TempFile file("[listeners]\nqotd = :17\n", ".ini");
  ASSERT_TRUE(ParsesArgs({"install", "--config", file.path()}));
  EXPECT_EQ(o.command, PS_CMD_INSTALL);
  EXPECT_STREQ(o.config_path, file.path().c_str());
  EXPECT_EQ(Listeners(), std::vector<std::string>{"qotd=:17"});

  TempFile bad("[listeners]\nqotd = :17x\n", ".ini");
  std::string err = ArgsError({"install", "--config", bad.path()});
  EXPECT_EQ(err.rfind(bad.path() + ":2:", 0), 0u) << err;
}

TEST_F(ConfigCommandLine, MissingConfigFileNamesThePath) {
  std::string path = testing::TempDir() + "portserve_missing_for_cli.ini";
  std::remove(path.c_str());
  std::string err = ArgsError({"run", "--config", path});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "--config", err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, path, err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "--config needs a value", ArgsError({"run", "--config"}));
}
