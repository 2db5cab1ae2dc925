// Files in tests: TempFile, a file in the test's temporary directory with
// given bytes, named after the running test (and the process, so concurrent
// runs do not share it), removed when it goes out of scope, written in
// binary mode (CR LF stays as given); ReadFileText and ReadSourceFile, the
// one reader of a whole file.
#ifndef PS_TEMP_FILE_H
#define PS_TEMP_FILE_H

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#ifdef _WIN32
#include <process.h>
#define PS_TEST_GETPID _getpid
#else
#include <unistd.h>
#define PS_TEST_GETPID getpid
#endif

class TempFile {
 public:
  explicit TempFile(const std::string &contents, const std::string &suffix = ".txt") {
    static int files_made = 0;  // several files in one test
    const testing::TestInfo *test = testing::UnitTest::GetInstance()->current_test_info();
    path_ = testing::TempDir() + "portserve_" + test->test_suite_name() + "_" + test->name() + "_" +
            std::to_string(static_cast<long>(PS_TEST_GETPID())) + "_" + std::to_string(++files_made) + suffix;
    std::FILE *f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr) {
      ADD_FAILURE() << "cannot create " << path_;
      return;
    }
    if (!contents.empty() && std::fwrite(contents.data(), 1, contents.size(), f) != contents.size())
      ADD_FAILURE() << "cannot write " << path_;
    std::fclose(f);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;

  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

// ASCII text as Notepad saves it in "Unicode": UTF-16LE with a byte order mark.
inline std::string Utf16LeWithBom(const std::string &ascii) {
  std::string utf16 = "\xFF\xFE";
  for (char c : ascii) {
    utf16.push_back(c);
    utf16.push_back('\0');
  }
  return utf16;
}

// The whole file, bytes as they are ("" if it cannot be read).
inline std::string ReadFileText(const std::string &path) {
  std::string text;
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

#ifdef PS_SOURCE_DIR
// A file of the source tree ("README.md", "docs/metrics.md").
inline std::string ReadSourceFile(const char *name) { return ReadFileText(std::string(PS_SOURCE_DIR) + "/" + name); }
#endif

#endif
