// UTF-8 file names (common/path.h): the decoder ps_fopen uses on Windows,
// and ps_fopen itself with a name outside any single-byte code page.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "path.h"
#include "temp_file.h"

namespace {

std::vector<uint16_t> Utf16(const char *utf8, size_t cap = 64) {
  std::vector<uint16_t> out(cap, 0xFFFF);
  int n = ps_utf8_to_utf16(utf8, out.data(), out.size());
  if (n < 0) return {};
  EXPECT_EQ(out[static_cast<size_t>(n)], 0u) << "not NUL-terminated";
  out.resize(static_cast<size_t>(n));
  return out;
}

int Decode(const char *utf8, size_t cap = 64) {
  std::vector<uint16_t> out(cap == 0 ? 1 : cap);
  return ps_utf8_to_utf16(utf8, out.data(), cap);
}

}  // namespace

TEST(Path, DecodesAsciiCyrillicCjkAndAstralCharacters) {
  EXPECT_EQ(Utf16("C:\\a.ini"), (std::vector<uint16_t>{'C', ':', '\\', 'a', '.', 'i', 'n', 'i'}));
  // "ко-配" : two 2-byte, one ASCII, one 3-byte sequence.
  EXPECT_EQ(Utf16("\xD0\xBA\xD0\xBE-\xE9\x85\x8D"), (std::vector<uint16_t>{0x043A, 0x043E, '-', 0x914D}));
  // U+1F600 is a surrogate pair.
  EXPECT_EQ(Utf16("\xF0\x9F\x98\x80"), (std::vector<uint16_t>{0xD83D, 0xDE00}));
  EXPECT_EQ(Utf16(""), std::vector<uint16_t>{});
}

// A name that is not UTF-8 is reported, so ps_fopen can take it as ANSI
// (a configuration file saved in Windows-1252 by an older Notepad).
TEST(Path, RejectsWhatIsNotUtf8) {
  EXPECT_EQ(Decode("caf\xE9.ini"), -1) << "Windows-1252 e-acute";
  EXPECT_EQ(Decode("\x80"), -1) << "continuation byte first";
  EXPECT_EQ(Decode("\xC0\xAF"), -1) << "overlong '/'";
  EXPECT_EQ(Decode("\xE0\x80\xAF"), -1) << "overlong 3-byte";
  EXPECT_EQ(Decode("\xED\xA0\x80"), -1) << "UTF-16 surrogate";
  EXPECT_EQ(Decode("\xF4\x90\x80\x80"), -1) << "above U+10FFFF";
  EXPECT_EQ(Decode("\xE9\x85"), -1) << "truncated";
}

TEST(Path, RespectsTheCapacityIncludingTheTerminator) {
  EXPECT_EQ(Decode("abc", 4), 3);
  EXPECT_EQ(Decode("abc", 3), -1);
  EXPECT_EQ(Decode("\xF0\x9F\x98\x80", 3), 2);
  EXPECT_EQ(Decode("\xF0\x9F\x98\x80", 2), -1);
  EXPECT_EQ(Decode("", 0), -1);
}

// Under Windows (and Wine) ps_fopen must reach a file whose name the ANSI
// code page cannot hold; natively it is fopen.
TEST(Path, OpensAFileWhoseNameIsOutsideTheAnsiCodePage) {
  TempFile made("", ".txt");
  const std::string name =
      made.path() + "-\xD0\xBA\xD0\xBE\xD0\xBD\xD1\x84\xD0\xB8\xD0\xB3-\xE9\x85\x8D\xE7\xBD\xAE.txt";
  FILE *f = ps_fopen(name.c_str(), "wb");
  ASSERT_NE(f, nullptr) << name;
  fputs("written", f);
  fclose(f);
  f = ps_fopen(name.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  char buf[16] = "";
  EXPECT_EQ(fread(buf, 1, sizeof buf - 1, f), 7u);
  fclose(f);
  EXPECT_STREQ(buf, "written");
#ifdef _WIN32
  std::vector<uint16_t> units(1024);
  ASSERT_GT(ps_utf8_to_utf16(name.c_str(), units.data(), units.size()), 0);
  std::wstring wide(units.begin(), units.begin() + static_cast<long>(std::char_traits<uint16_t>::length(units.data())));
  EXPECT_EQ(_wremove(wide.c_str()), 0);
#else
  EXPECT_EQ(std::remove(name.c_str()), 0);
#endif
}

// ps_read_text_file: the one reader of operators' files (config, quotes).
TEST(Path, ReadTextFileTakesUpToItsLimitAndNamesWhatIsWrong) {
  char err[300] = "";
  TempFile ok("abc\n");
  char *text = ps_read_text_file(ok.path().c_str(), 4, "", err, sizeof(err));
  ASSERT_NE(text, nullptr) << err << ": a file exactly at the limit";
  EXPECT_STREQ(text, "abc\n");
  free(text);
  EXPECT_EQ(ps_read_text_file(ok.path().c_str(), 3, "", err, sizeof(err)), nullptr);
  EXPECT_EQ(std::string(err), ok.path() + ": larger than 3 bytes");
  TempFile nul(std::string("a\0b", 3));
  EXPECT_EQ(ps_read_text_file(nul.path().c_str(), 100, "", err, sizeof(err)), nullptr);
  EXPECT_NE(std::string(err).find("not a text file"), std::string::npos) << err;
  EXPECT_EQ(ps_read_text_file("no-such-dir/none.txt", 100, "quotes file ", err, sizeof(err)), nullptr);
  EXPECT_STREQ(err, "cannot open quotes file 'no-such-dir/none.txt'");
}
