// portserve's log sink (server/app/logsink.c): rotation by size, ISO 8601
// timestamps with the UTC offset, JSON lines, and a reload that changes
// level and file live, through the real file APIs under Wine.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <windows.h>

#include "logsink.h"
#include "ps_log.h"

namespace {

std::wstring Wide(const std::string &utf8) {
  wchar_t buf[MAX_PATH];
  int n = MultiByteToWideChar(CP_UTF8, 0, utf8.c_str(), -1, buf, MAX_PATH);
  return n > 0 ? std::wstring(buf) : std::wstring();
}

// A log file path in the temp directory, with a non-ASCII character (the
// rename must go through the wide APIs), and every rotated file removed at
// the end.
class RotatingLog {
 public:
  explicit RotatingLog(const char *tag = "") {
    char dir[MAX_PATH];
    GetTempPathA(MAX_PATH, dir);
    const testing::TestInfo *t = testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::string(dir) + "portserve_log_\xce\xbb_" + t->name() + tag + "_" +
            std::to_string(GetCurrentProcessId()) + ".log";
    Clean();
  }
  ~RotatingLog() {
    ps_logsink_close();
    Clean();
  }
  RotatingLog(const RotatingLog &) = delete;
  RotatingLog &operator=(const RotatingLog &) = delete;

  void Open(unsigned long long max_bytes, unsigned files, int utc = 0, ps_logsink_format format = PS_LOGSINK_TEXT) {
    ps_logsink_config cfg = Config(max_bytes, files, utc, format);
    ASSERT_EQ(ps_logsink_open(&cfg), 0);
  }
  ps_logsink_config Config(unsigned long long max_bytes, unsigned files, int utc = 0,
                           ps_logsink_format format = PS_LOGSINK_TEXT) {
    ps_logsink_config cfg{};
    cfg.level = PS_LOG_INFO;
    cfg.sinks = 0; /* the file only: keep the test output readable */
    cfg.file = path_.c_str();
    cfg.file_max_bytes = max_bytes;
    cfg.file_count = files;
    cfg.utc = utc;
    cfg.format = format;
    return cfg;
  }
  const std::string &path() const { return path_; }
  std::wstring Name(unsigned index) const {
    std::wstring w = Wide(path_);
    return index == 0 ? w : w + L"." + std::to_wstring(index);
  }
  bool Exists(unsigned index) const { return GetFileAttributesW(Name(index).c_str()) != INVALID_FILE_ATTRIBUTES; }
  std::string Read(unsigned index) const {
    std::string got;
    FILE *f = _wfopen(Name(index).c_str(), L"rb");
    if (f == nullptr) return got;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) got.append(buf, n);
    fclose(f);
    return got;
  }

 private:
  void Clean() {
    for (unsigned i = 0; i <= 10; i++) DeleteFileW(Name(i).c_str());
  }
  std::string path_;
};

// The numbers N of the "line N ..." lines of a file, in order.
std::vector<int> LineNumbers(const std::string &text) {
  std::vector<int> out;
  size_t pos = 0;
  while ((pos = text.find("line ", pos)) != std::string::npos) {
    out.push_back(std::stoi(text.substr(pos + 5)));
    pos += 5;
  }
  return out;
}

const std::string kPad(60, '.');

}  // namespace

TEST(LogRotation, KeepsTheNewestFilesWithinTheLimitAndDropsTheOldest) {
  RotatingLog log;
  log.Open(2000, 3);
  for (int i = 0; i < 200; i++) ps_log(PS_LOG_INFO, "line %d %s", i, kPad.c_str());
  ps_logsink_close();
  for (unsigned i = 0; i <= 3; i++) {
    ASSERT_TRUE(log.Exists(i)) << "file ." << i;
    EXPECT_LE(log.Read(i).size(), 2000u) << "file ." << i;
    if (i > 0) {
      EXPECT_GT(log.Read(i).size(), 2000u - 120u) << "file ." << i << " was rotated only when nearly full";
    }
  }
  EXPECT_FALSE(log.Exists(4)) << "only 3 old files are kept";
  // Oldest to newest: .3 .2 .1 FILE, one contiguous run ending at the last line.
  std::vector<int> all;
  for (int i = 3; i >= 0; i--) {
    std::vector<int> part = LineNumbers(log.Read(static_cast<unsigned>(i)));
    ASSERT_FALSE(part.empty());
    all.insert(all.end(), part.begin(), part.end());
  }
  EXPECT_EQ(all.back(), 199);
  for (size_t i = 1; i < all.size(); i++) ASSERT_EQ(all[i], all[i - 1] + 1) << "a line lost or repeated at " << i;
  EXPECT_GE(all.size(), 3 * LineNumbers(log.Read(1)).size()) << "four files' worth of lines survive";
}

TEST(LogRotation, WithNoOldFilesKeptTheFileStartsOver) {
  RotatingLog log;
  log.Open(1000, 0);
  for (int i = 0; i < 50; i++) ps_log(PS_LOG_INFO, "line %d %s", i, kPad.c_str());
  ps_logsink_close();
  EXPECT_FALSE(log.Exists(1));
  std::vector<int> lines = LineNumbers(log.Read(0));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), 49);
  EXPECT_LE(log.Read(0).size(), 1000u);
}

TEST(LogRotation, ALineLongerThanTheLimitStillGetsWritten) {
  RotatingLog log;
  log.Open(100, 2);
  ps_log(PS_LOG_INFO, "line 1 short");
  ps_log(PS_LOG_INFO, "line 2 %s%s", kPad.c_str(), kPad.c_str());
  ps_log(PS_LOG_INFO, "line 3 short");
  ps_logsink_close();
  EXPECT_EQ(LineNumbers(log.Read(2)), std::vector<int>{1});
  EXPECT_EQ(LineNumbers(log.Read(1)), std::vector<int>{2});
  EXPECT_EQ(LineNumbers(log.Read(0)), std::vector<int>{3});
}

TEST(LogRotation, AnExistingFileCountsTowardsTheLimit) {
  RotatingLog log;
  log.Open(0, 0);
  for (int i = 0; i < 20; i++) ps_log(PS_LOG_INFO, "line %d %s", i, kPad.c_str());
  ps_logsink_close();
  ASSERT_GT(log.Read(0).size(), 1000u);
  log.Open(1000, 1);
  ps_log(PS_LOG_INFO, "line 100 after restart");
  ps_logsink_close();
  EXPECT_EQ(LineNumbers(log.Read(0)), std::vector<int>{100});
  EXPECT_EQ(LineNumbers(log.Read(1)).size(), 20u);
}

TEST(LogTime, TimestampsAreIso8601WithTheUtcOffset) {
  RotatingLog log;
  log.Open(0, 0, 1);
  SYSTEMTIME before;
  GetSystemTime(&before);
  ps_log(PS_LOG_INFO, "line 1");
  ps_logsink_close();
  std::string text = log.Read(0);
  ASSERT_GE(text.size(), 30u);
  char date[16];
  std::snprintf(date, sizeof(date), "%04u-%02u-%02uT", before.wYear, before.wMonth, before.wDay);
  EXPECT_EQ(text.substr(0, 11), date) << text;  // (fails only across midnight UTC)
  EXPECT_EQ(text.substr(23, 7), "Z info ") << text;
  log.Open(0, 0, 0);
  ps_log(PS_LOG_INFO, "line 2");
  ps_logsink_close();
  text = log.Read(0);
  std::string second = text.substr(text.find("\r\n") + 2);
  // Local time carries the offset in force: "...T06:02:27.041+01:00 info".
  TIME_ZONE_INFORMATION tz;
  DWORD which = GetTimeZoneInformation(&tz);
  long bias = tz.Bias + (which == TIME_ZONE_ID_DAYLIGHT   ? tz.DaylightBias
                         : which == TIME_ZONE_ID_STANDARD ? tz.StandardBias
                                                          : 0);
  long offset = -bias;
  char want[8];
  std::snprintf(want, sizeof(want), "%c%02ld:%02ld", offset < 0 ? '-' : '+', (offset < 0 ? -offset : offset) / 60,
                (offset < 0 ? -offset : offset) % 60);
  EXPECT_EQ(second.substr(10, 1), "T") << second;
  EXPECT_EQ(second.substr(23, 6), want) << second;
  EXPECT_EQ(second.substr(29, 6), " info ") << second;
}

TEST(LogFormat, JsonLinesCarryTimeLevelEventAndTheEscapedMessage) {
  RotatingLog log;
  log.Open(0, 0, 1, PS_LOGSINK_JSON);
  ps_log(PS_LOG_WARN, "a \"quoted\" path C:\\x and a tab\t");
  ps_log_event(PS_LOG_ERROR, PS_EVENT_BIND_FAILED, "listen echo on 127.0.0.1:7/tcp: bind failed");
  ps_logsink_close();
  std::string text = log.Read(0);
  size_t eol = text.find("\r\n");
  ASSERT_NE(eol, std::string::npos) << text;
  std::string first = text.substr(0, eol), second = text.substr(eol + 2);
  EXPECT_EQ(first.substr(0, 9), "{\"time\":\"") << first;
  EXPECT_NE(first.find("Z\",\"level\":\"warn\",\"msg\":\"a \\\"quoted\\\" path C:\\\\x and a tab\\u0009\"}"),
            std::string::npos)
      << first;
  EXPECT_NE(second.find("\"level\":\"error\",\"event\":\"bind_failed\",\"msg\":\"listen echo on"), std::string::npos)
      << second;
}

// A reload changes the level and the file from the next line on.
TEST(LogReload, LevelAndFileChangeLive) {
  RotatingLog first("_a"), second("_b");
  first.Open(0, 0);
  ps_log(PS_LOG_DEBUG, "line 1 dropped at info");
  ps_logsink_config cfg = second.Config(0, 0);
  cfg.level = PS_LOG_DEBUG;
  ASSERT_EQ(ps_logsink_reconfigure(&cfg), 0);
  EXPECT_EQ(ps_log_get_level(), PS_LOG_DEBUG);
  ps_log(PS_LOG_DEBUG, "line 2 kept at debug");
  ps_logsink_close();
  EXPECT_EQ(LineNumbers(first.Read(0)), std::vector<int>{}) << first.Read(0);
  EXPECT_EQ(LineNumbers(second.Read(0)), std::vector<int>{2}) << second.Read(0);
  ps_log_set_level(PS_LOG_INFO);
}
