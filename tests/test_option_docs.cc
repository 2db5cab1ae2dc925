// The documentation lists every option of the table (options.h): each flag
// in README.md, each INI key in portserve.ini.example. A new row fails here
// until both mention it; a removed one must leave them too.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "temp_file.h"

extern "C" {
#include "options.h"
}

#ifndef PS_SOURCE_DIR
#error "PS_SOURCE_DIR must be defined (CMake: tests/CMakeLists.txt; Visual Studio: tools/gen_vcxproj.py)"
#endif

namespace {

// Whether `text` has a line "KEY =" or ";KEY =" (set, or shown commented out).
bool HasIniLine(const std::string &text, const std::string &key) {
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line[0] == ';') line.erase(0, 1);
    if (line.compare(0, key.size(), key) == 0) {
      size_t eq = line.find_first_not_of(" \t", key.size());
      if (eq != std::string::npos && line[eq] == '=') return true;
    }
    start = end + 1;
  }
  return false;
}

}  // namespace

TEST(OptionDocs, ReadmeNamesEveryFlag) {
  const std::string readme = ReadSourceFile("README.md");
  ASSERT_FALSE(readme.empty()) << PS_SOURCE_DIR "/README.md";
  ASSERT_GT(ps_option_count(), 20u);
  for (size_t i = 0; i < ps_option_count(); i++) {
    const ps_option_def *d = ps_option_at(i);
    // In code style, followed by a space (its value) or the closing backtick.
    std::string flag = std::string("`") + d->flag;
    EXPECT_TRUE(readme.find(flag + " ") != std::string::npos || readme.find(flag + "`") != std::string::npos)
        << "README.md does not list " << d->flag;
  }
}

TEST(OptionDocs, ReadmeListsEveryIniKeyWithItsFlag) {
  const std::string readme = ReadSourceFile("README.md");
  for (size_t i = 0; i < ps_option_count(); i++) {
    const ps_option_def *d = ps_option_at(i);
    if (d->ini_key == nullptr) continue;
    EXPECT_NE(readme.find(std::string("`") + d->ini_key + "`"), std::string::npos)
        << "README.md does not name the INI key " << d->ini_key;
  }
}

TEST(OptionDocs, IniExampleShowsEveryKey) {
  const std::string example = ReadSourceFile("portserve.ini.example");
  ASSERT_FALSE(example.empty()) << PS_SOURCE_DIR "/portserve.ini.example";
  for (size_t i = 0; i < ps_option_count(); i++) {
    const ps_option_def *d = ps_option_at(i);
    if (d->ini_key == nullptr) continue;
    EXPECT_TRUE(HasIniLine(example, d->ini_key))
        << "portserve.ini.example has no line '" << d->ini_key << " = ...' (or ';" << d->ini_key << " = ...')";
  }
}

// A removed option leaves the documentation too.
TEST(OptionDocs, RemovedOptionsAreNotDocumented) {
  EXPECT_EQ(ReadSourceFile("README.md").find("buffer-idle"), std::string::npos);
  EXPECT_FALSE(HasIniLine(ReadSourceFile("portserve.ini.example"), "buffer_idle_ms"));
}

// The table's own consistency: one row per engine field (a field set by two
// rows would take whichever comes last), and every setting a file can hold
// says what a reload does with it.
TEST(OptionTable, EachEngineFieldHasOneRowAndEverySettingAReloadClass) {
  std::set<size_t> fields;
  for (size_t i = 0; i < ps_option_count(); i++) {
    const ps_option_def *d = ps_option_at(i);
    if (d->engine) {
      EXPECT_TRUE(fields.insert(d->engine_offset).second) << d->flag << " sets an engine field another row sets";
      EXPECT_TRUE(d->type == PS_OPT_UINT || d->type == PS_OPT_BOOL || d->type == PS_OPT_NETS) << d->flag;
      EXPECT_GE(d->engine_scale, 1u) << d->flag;
    }
    if (d->ini_key != nullptr) {
      EXPECT_NE(d->reload, PS_RELOAD_NONE) << d->flag << " has no reload class";
    }
  }
  EXPECT_GE(fields.size(), 15u);
}
