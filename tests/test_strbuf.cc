// ps_strbuf (common/base/strbuf.c): fixed and heap buffers and their overflow.
#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "strbuf.h"
}

TEST(StrBuf, FixedBufferReportsOverflowAndKeepsWhatFitted) {
  char storage[8];
  ps_strbuf b;
  ps_strbuf_init_fixed(&b, storage, sizeof(storage));
  ps_strbuf_puts(&b, "abc");
  ps_strbuf_printf(&b, "%d", 1234);
  EXPECT_FALSE(b.overflow);
  EXPECT_STREQ(storage, "abc1234");
  ps_strbuf_puts(&b, "x");
  EXPECT_TRUE(b.overflow);
  EXPECT_STREQ(storage, "abc1234") << "nothing partial of the failed append";
}

TEST(StrBuf, HeapBufferGrowsToItsMaxThenOverflows) {
  ps_strbuf b;
  ps_strbuf_init_heap(&b, 1000);
  std::string line(99, 'x');
  for (int i = 0; i < 9; i++) ps_strbuf_printf(&b, "%s\n", line.c_str());
  EXPECT_FALSE(b.overflow);
  EXPECT_EQ(b.len, 900u);
  ps_strbuf_printf(&b, "%s\n", line.c_str());
  EXPECT_TRUE(b.overflow) << "1000 bytes + NUL do not fit in max 1000";
  EXPECT_EQ(b.len, 900u);
  ps_strbuf_free(&b);
}
