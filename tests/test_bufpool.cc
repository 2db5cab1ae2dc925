// The buffer pool (server/engine/bufpool.c), white-box: buffers come back
// and are handed out again, the counts of live and in-use buffers are exact,
// the free list keeps no more than its cap, and a failed allocation
// (PS_FAULT_BUFFER) hands out nothing and counts nothing.
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "testutil.h"

extern "C" {
#include "bufpool.h"
}

using namespace pstest;

namespace {

// A pool that is closed by the test's end, with every buffer returned.
struct Pool {
  ps_bufpool p;
  Pool(size_t buf_size, LONG max_free, ps_faults *faults = nullptr) { ps_bufpool_init(&p, buf_size, max_free, faults); }
  ~Pool() { ps_bufpool_close(&p); }
};

}  // namespace

TEST(Bufpool, AReturnedBufferIsTheNextOneHandedOut) {
  Pool pool(64, 8);
  ps_buf *first = ps_buf_get(&pool.p);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(pool.p.live, 1);
  EXPECT_EQ(pool.p.in_use, 1);
  ps_buf_put(&pool.p, first);
  EXPECT_EQ(pool.p.in_use, 0);
  EXPECT_EQ(pool.p.live, 1) << "kept on the free list, not freed";
  EXPECT_EQ(pool.p.free_count, 1);
  ps_buf *again = ps_buf_get(&pool.p);
  EXPECT_EQ(again, first) << "the free buffer is reused before a new one is allocated";
  EXPECT_EQ(pool.p.live, 1);
  EXPECT_EQ(pool.p.free_count, 0);
  ps_buf_put(&pool.p, again);
}

TEST(Bufpool, AReusedBufferComesBackEmptyUnlinkedAndWholeAligned) {
  Pool pool(100, 8);
  ps_buf *b = ps_buf_get(&pool.p);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % MEMORY_ALLOCATION_ALIGNMENT, 0u) << "SLIST entries must be aligned";
  memset(b->data, 0xAB, pool.p.buf_size);  // every byte of data[] is the caller's
  b->len = 100;
  b->off = 40;
  b->next = b;
  ps_buf_put(&pool.p, b);
  ps_buf *again = ps_buf_get(&pool.p);
  ASSERT_EQ(again, b);
  EXPECT_EQ(again->len, 0u);
  EXPECT_EQ(again->off, 0u);
  EXPECT_EQ(again->next, nullptr);
  ps_buf_put(&pool.p, again);
}

TEST(Bufpool, CountsEveryBufferInUseAndFreesThoseBeyondTheCap) {
  Pool pool(256, 2);
  std::vector<ps_buf *> held;
  for (int i = 0; i < 5; i++) {
    held.push_back(ps_buf_get(&pool.p));
    ASSERT_NE(held.back(), nullptr);
  }
  EXPECT_EQ(pool.p.in_use, 5);
  EXPECT_EQ(pool.p.live, 5);
  for (size_t i = 0; i < held.size(); i++) {
    ps_buf_put(&pool.p, held[i]);
    EXPECT_EQ(pool.p.in_use, static_cast<LONG64>(held.size() - i - 1));
  }
  EXPECT_EQ(pool.p.free_count, 2) << "the cap";
  EXPECT_EQ(pool.p.live, 2) << "the three beyond the cap are freed";
}

TEST(Bufpool, CloseFreesTheCachedBuffers) {
  ps_bufpool p;
  ps_bufpool_init(&p, 64, 8, nullptr);
  ps_buf *a = ps_buf_get(&p), *b = ps_buf_get(&p);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  ps_buf_put(&p, a);
  ps_buf_put(&p, b);
  EXPECT_EQ(p.live, 2);
  ps_bufpool_close(&p);
  EXPECT_EQ(p.live, 0);
  EXPECT_EQ(p.free_count, 0);
}

TEST(Bufpool, AFailedGetHandsOutNothingAndCountsNothing) {
  ps_faults faults{};
  Pool pool(64, 8, &faults);
  ps_faults_arm(&faults, PS_FAULT_BUFFER, 2, 1, ERROR_NOT_ENOUGH_MEMORY);
  ps_buf *first = ps_buf_get(&pool.p);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(ps_buf_get(&pool.p), nullptr) << "the second get fails";
  EXPECT_EQ(pool.p.in_use, 1);
  EXPECT_EQ(pool.p.live, 1);
  ps_buf *third = ps_buf_get(&pool.p);
  EXPECT_NE(third, nullptr) << "one failure only";
  EXPECT_EQ(ps_faults_disarm(&faults, PS_FAULT_BUFFER), 1);
  ps_buf_put(&pool.p, first);
  ps_buf_put(&pool.p, third);
}

// Workers take and return buffers concurrently (the free list is lock-free):
// no buffer is ever handed to two owners, and the counts end exact.
TEST(Bufpool, ConcurrentGetAndPutNeverShareABufferAndEndWithNothingInUse) {
  const int kThreads = 4, kRounds = 20000;
  Pool pool(64, 3);
  std::vector<int> shared(kThreads, 0), failed(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; i++) {
        ps_buf *b = ps_buf_get(&pool.p);
        if (b == nullptr) {
          failed[t]++;
          continue;
        }
        memset(b->data, t + 1, pool.p.buf_size);
        for (size_t k = 0; k < pool.p.buf_size; k += 8)
          if (b->data[k] != static_cast<char>(t + 1)) shared[t]++;
        ps_buf_put(&pool.p, b);
      }
    });
  }
  for (std::thread &th : threads) th.join();
  for (int t = 0; t < kThreads; t++) {
    EXPECT_EQ(shared[t], 0) << "thread " << t << " saw another owner's bytes";
    EXPECT_EQ(failed[t], 0) << "thread " << t;
  }
  EXPECT_EQ(pool.p.in_use, 0);
  EXPECT_LE(pool.p.free_count, 3);
  EXPECT_EQ(pool.p.live, pool.p.free_count) << "every live buffer is back on the free list";
}
