// Log file rotation by size and the UTC timestamps (server/log.c), through
// the real file APIs under Wine.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <windows.h>

#include "log.h"

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
  RotatingLog() {
    char dir[MAX_PATH];
    GetTempPathA(MAX_PATH, dir);
    const testing::TestInfo *t = testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        std::string(dir) + "portserve_log_\xce\xbb_" + t->name() + "_" + std::to_string(GetCurrentProcessId()) + ".log";
    Clean();
  }
  ~RotatingLog() {
    ps_log_close();
    Clean();
  }
  RotatingLog(const RotatingLog &) = delete;
  RotatingLog &operator=(const RotatingLog &) = delete;

  void Open(unsigned long long max_bytes, unsigned files, int utc = 0) {
    ps_log_config cfg{};
    cfg.level = PS_LOG_INFO;
    cfg.sinks = 0; /* the file only: keep the test output readable */
    cfg.file = path_.c_str();
    cfg.file_max_bytes = max_bytes;
    cfg.file_count = files;
    cfg.utc = utc;
    ASSERT_EQ(ps_log_open(&cfg), 0);
  }
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
  ps_log_close();
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
  EXPECT_LT(all.front(), 199 - 60) << "about 4 files of ~23 lines survive";
}

TEST(LogRotation, WithNoOldFilesKeptTheFileStartsOver) {
  RotatingLog log;
  log.Open(1000, 0);
  for (int i = 0; i < 50; i++) ps_log(PS_LOG_INFO, "line %d %s", i, kPad.c_str());
  ps_log_close();
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
  ps_log_close();
  EXPECT_EQ(LineNumbers(log.Read(2)), std::vector<int>{1});
  EXPECT_EQ(LineNumbers(log.Read(1)), std::vector<int>{2});
  EXPECT_EQ(LineNumbers(log.Read(0)), std::vector<int>{3});
}

TEST(LogRotation, AnExistingFileCountsTowardsTheLimit) {
  RotatingLog log;
  log.Open(0, 0);
  for (int i = 0; i < 20; i++) ps_log(PS_LOG_INFO, "line %d %s", i, kPad.c_str());
  ps_log_close();
  ASSERT_GT(log.Read(0).size(), 1000u);
  log.Open(1000, 1);
  ps_log(PS_LOG_INFO, "line 100 after restart");
  ps_log_close();
  EXPECT_EQ(LineNumbers(log.Read(0)), std::vector<int>{100});
  EXPECT_EQ(LineNumbers(log.Read(1)).size(), 20u);
}

TEST(LogTime, UtcTimestampsEndInZAndMatchTheSystemClock) {
  RotatingLog log;
  log.Open(0, 0, 1);
  SYSTEMTIME before;
  GetSystemTime(&before);
  ps_log(PS_LOG_INFO, "line 1");
  ps_log_close();
  std::string text = log.Read(0);
  ASSERT_GE(text.size(), 30u);
  char date[16];
  std::snprintf(date, sizeof(date), "%04u-%02u-%02u ", before.wYear, before.wMonth, before.wDay);
  EXPECT_EQ(text.substr(0, 11), date) << text;  // (fails only across midnight UTC)
  EXPECT_EQ(text.substr(23, 7), "Z info ") << text;
  log.Open(0, 0, 0);
  ps_log(PS_LOG_INFO, "line 2");
  ps_log_close();
  text = log.Read(0);
  size_t second = text.find("\r\n") + 2;
  EXPECT_EQ(text.substr(second + 23, 6), " info ") << "local time has no Z: " << text;
}
