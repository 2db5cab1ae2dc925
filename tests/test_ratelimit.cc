// ratelimit: per-source token buckets in a fixed table, and the global cap,
// driven by a fake clock (milliseconds passed in).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

extern "C" {
#include "ratelimit.h"
}

namespace {

ps_ratelimit_config Config(unsigned rate, unsigned burst, unsigned total = 0, unsigned sources = 4096) {
  ps_ratelimit_config c;
  memset(&c, 0, sizeof c);
  c.rate = rate;
  c.burst = burst;
  c.rate_total = total;
  c.sources = sources;
  for (int i = 0; i < PS_SIPHASH_KEY_SIZE; i++) c.hash_key.bytes[i] = static_cast<uint8_t>(0x5e + 7 * i);
  return c;
}

ps_ratelimit_key V4(uint32_t a) {
  uint8_t b[4] = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16), static_cast<uint8_t>(a >> 8),
                  static_cast<uint8_t>(a)};
  ps_ratelimit_key k;
  ps_ratelimit_key_v4(&k, b);
  return k;
}

ps_ratelimit_key V6(uint64_t low) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
  for (int i = 0; i < 8; i++) b[15 - i] = static_cast<uint8_t>(low >> (8 * i));
  ps_ratelimit_key k;
  ps_ratelimit_key_v6(&k, b);
  return k;
}

// 2001:db8:0:SUBNET::HOST, keyed with the given prefix lengths.
ps_ratelimit_key V6Prefix(uint16_t subnet, uint64_t host, unsigned v6_bits, unsigned v4_bits = 32) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, static_cast<uint8_t>(subnet >> 8), static_cast<uint8_t>(subnet)};
  for (int i = 0; i < 8; i++) b[15 - i] = static_cast<uint8_t>(host >> (8 * i));
  ps_ratelimit_key k;
  ps_ratelimit_key_v6_prefix(&k, b, v6_bits, v4_bits);
  return k;
}

// Takes until refused; how many were granted (at most `max`).
int Drain(ps_ratelimit *rl, const ps_ratelimit_key &k, uint64_t now, int max = 1000000) {
  int n = 0;
  while (n < max && ps_ratelimit_take(rl, &k, now) == PS_RATELIMIT_OK) n++;
  return n;
}

class Table {
 public:
  explicit Table(const ps_ratelimit_config &c) { EXPECT_EQ(ps_ratelimit_init(&rl, &c, nullptr), 0); }
  ~Table() { ps_ratelimit_close(&rl); }
  ps_ratelimit rl;
};

}  // namespace

TEST(RateLimit, NewSourceGetsTheBurstThenTheRate) {
  Table t(Config(10, 20));
  ps_ratelimit_key k = V4(0x0a000001);
  EXPECT_EQ(Drain(&t.rl, k, 1000), 20) << "a new source starts with a full bucket";
  EXPECT_EQ(ps_ratelimit_take(&t.rl, &k, 1000), PS_RATELIMIT_SOURCE);
  EXPECT_EQ(ps_ratelimit_take(&t.rl, &k, 1099), PS_RATELIMIT_SOURCE) << "0.99 of a token is not a token";
  EXPECT_EQ(ps_ratelimit_take(&t.rl, &k, 1100), PS_RATELIMIT_OK) << "10/s: one token per 100 ms";
  EXPECT_EQ(ps_ratelimit_take(&t.rl, &k, 1100), PS_RATELIMIT_SOURCE);
  EXPECT_EQ(Drain(&t.rl, k, 1650), 5) << "550 ms refill 5.5 tokens";
  EXPECT_EQ(Drain(&t.rl, k, 1700), 1) << "the half token was kept";
  // Over a long run the grant is rate x time, whatever the polling: the
  // bucket was empty at 1700, the last poll is at 11996 (10.296 s later).
  int granted = 0;
  for (uint64_t now = 2000; now < 12000; now += 7) granted += Drain(&t.rl, k, now);
  EXPECT_EQ(granted, 102);
}

TEST(RateLimit, IdleBucketFillsToTheBurstAndNoFurther) {
  Table t(Config(1000, 50));
  ps_ratelimit_key k = V4(0x0a000002);
  EXPECT_EQ(Drain(&t.rl, k, 0), 50);
  EXPECT_EQ(Drain(&t.rl, k, 3600000), 50) << "an hour idle refills the burst, not more";
  // No overflow in elapsed x rate, and a clock going back refills nothing.
  EXPECT_EQ(Drain(&t.rl, k, UINT64_MAX - 5), 50);
  EXPECT_EQ(Drain(&t.rl, k, 10), 0);
}

TEST(RateLimit, IPv4AndIPv6SourcesHaveTheirOwnBuckets) {
  Table t(Config(1, 3));
  ps_ratelimit_key a = V4(0x7f000001), b = V4(0x7f000002), c = V6(1), d = V6(2);
  EXPECT_EQ(Drain(&t.rl, a, 0), 3);
  EXPECT_EQ(Drain(&t.rl, b, 0), 3);
  EXPECT_EQ(Drain(&t.rl, c, 0), 3);
  EXPECT_EQ(Drain(&t.rl, d, 0), 3);
  // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d: the same source.
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  ps_ratelimit_key m;
  ps_ratelimit_key_v6(&m, mapped);
  EXPECT_EQ(memcmp(m.addr, a.addr, 16), 0);
  EXPECT_EQ(ps_ratelimit_take(&t.rl, &m, 0), PS_RATELIMIT_SOURCE);
  EXPECT_EQ(ps_ratelimit_sources(&t.rl), 4u);
}

// 100,000 sources through a 4,096-entry table: the size never changes, the
// table stays full but working, and a known source is served again.
TEST(RateLimit, HundredThousandSourcesKeepTheTableBounded) {
  Table t(Config(100, 200, 0, 4096));
  const size_t memory = ps_ratelimit_memory(&t.rl);
  const ps_ratelimit_entry *entries = t.rl.entries;
  EXPECT_LE(memory, 4096 * sizeof(ps_ratelimit_entry) + sizeof(ps_ratelimit));
  EXPECT_EQ(ps_ratelimit_lock_count(&t.rl), 4096u / PS_RATELIMIT_WAYS + 1);
  ps_ratelimit_config c = Config(100, 200, 0, 4000);
  EXPECT_EQ(ps_ratelimit_lock_count_for(&c), 4096u / PS_RATELIMIT_WAYS + 1) << "rounded up to a power of two";
  for (uint32_t i = 0; i < 100000; i++) {
    ps_ratelimit_key k = (i & 1) ? V4(0x0a000000u + i) : V6(i);
    ASSERT_EQ(ps_ratelimit_take(&t.rl, &k, i / 100), PS_RATELIMIT_OK) << "source " << i;
  }
  EXPECT_EQ(ps_ratelimit_memory(&t.rl), memory);
  EXPECT_EQ(t.rl.entries, entries) << "no reallocation";
  EXPECT_EQ(ps_ratelimit_sources(&t.rl), 4096u) << "full, not grown";
  ps_ratelimit_key fresh = V4(0xc0a80001);
  EXPECT_EQ(Drain(&t.rl, fresh, 1000), 200) << "a new source still gets its burst";
  EXPECT_EQ(ps_ratelimit_take(&t.rl, &fresh, 1000), PS_RATELIMIT_SOURCE) << "and is limited";
}

// The reflection victim: a spoofer drives it to its limit, then sends from
// 100,000 other addresses to push it out of the table and refill its bucket.
// Eviction takes the fullest buckets first, so it stays limited.
TEST(RateLimit, FloodOfNewSourcesDoesNotEvictASourceHeldAtItsLimit) {
  Table t(Config(100, 200, 0, 4096));
  ps_ratelimit_key victim = V4(0xc6336401);
  EXPECT_EQ(Drain(&t.rl, victim, 0), 200);
  // The flood comes after the victim's last reply (an LRU table would evict
  // the victim first), within 100 ms (10 tokens of refill).
  for (uint32_t i = 0; i < 100000; i++) {
    ps_ratelimit_key k = V4(0x0b000000u + i);
    ps_ratelimit_take(&t.rl, &k, 1 + i / 1011);
  }
  EXPECT_EQ(Drain(&t.rl, victim, 100), 10) << "the victim's bucket was evicted and came back full";
  EXPECT_EQ(Drain(&t.rl, victim, 1100), 100) << "one second later: the rate, not a new burst";
}

TEST(RateLimit, WellBehavedSourceIsServedWhileAnotherFloods) {
  Table t(Config(100, 200, 10000));
  ps_ratelimit_key flood = V4(0x7f000001), calm = V4(0x7f000002);
  int flood_ok = 0, calm_ok = 0, calm_asked = 0;
  for (uint64_t now = 0; now < 10000; now++) {  // 10 s, 1 ms steps
    for (int i = 0; i < 5; i++) flood_ok += ps_ratelimit_take(&t.rl, &flood, now) == PS_RATELIMIT_OK;  // 5,000/s
    if (now % 20 == 0) {                                                                               // 50/s
      calm_asked++;
      calm_ok += ps_ratelimit_take(&t.rl, &calm, now) == PS_RATELIMIT_OK;
    }
  }
  EXPECT_EQ(calm_ok, calm_asked);
  EXPECT_LE(flood_ok, 200 + 100 * 10) << "burst + rate x 10 s";
  EXPECT_GE(flood_ok, 200 + 100 * 10 - 2);
}

TEST(RateLimit, GlobalCapLimitsAllSourcesAndChargesNoSourceItRefuses) {
  Table t(Config(1, 3, 50));
  int ok = 0, total = 0;
  for (uint32_t i = 0; i < 100; i++) {
    ps_ratelimit_key k = V4(0x0a000000u + i);
    ps_ratelimit_verdict v = ps_ratelimit_take(&t.rl, &k, 0);
    ok += v == PS_RATELIMIT_OK;
    total += v == PS_RATELIMIT_TOTAL;
  }
  EXPECT_EQ(ok, 50) << "the global bucket holds one second's worth";
  EXPECT_EQ(total, 50);
  ps_ratelimit_key k = V4(0x0a000063);  // refused by the cap above
  for (int i = 0; i < 10; i++) EXPECT_EQ(ps_ratelimit_take(&t.rl, &k, 0), PS_RATELIMIT_TOTAL);
  EXPECT_EQ(Drain(&t.rl, k, 1000), 3) << "ten refusals by the cap cost the source nothing: its burst is whole";
  ps_ratelimit_key others = V4(0x0a0000ff);
  EXPECT_EQ(Drain(&t.rl, others, 1000), 3);
  int more = 0;
  for (uint32_t i = 0; i < 100; i++) more += Drain(&t.rl, V4(0x0b000000u + i), 1000);
  EXPECT_EQ(more, 50 - 6) << "one second refilled the cap's 50";
}

TEST(RateLimit, ZeroRatesTurnEachLimitOff) {
  Table per_source_off(Config(0, 200, 30));
  EXPECT_EQ(ps_ratelimit_memory(&per_source_off.rl), sizeof(ps_ratelimit)) << "no table without a per-source rate";
  EXPECT_EQ(Drain(&per_source_off.rl, V4(1), 0), 30);
  ps_ratelimit_key other = V4(2);
  EXPECT_EQ(ps_ratelimit_take(&per_source_off.rl, &other, 0), PS_RATELIMIT_TOTAL);
  Table no_cap(Config(1, 100000, 0));
  int ok = 0;
  for (uint32_t i = 0; i < 1000; i++) ok += Drain(&no_cap.rl, V4(i), 0, 200);
  EXPECT_EQ(ok, 200000);
}

// Workers call concurrently: with the caller's locks, the global cap is
// exact at a frozen clock, and every lock taken is released.
TEST(RateLimit, ConcurrentTakersRespectTheCapThroughTheLockHooks) {
  ps_ratelimit_config c = Config(1000, 1000, 5000, 256);
  struct Locks {
    std::vector<std::mutex> m;
    std::vector<int> held;
    explicit Locks(size_t n) : m(n), held(n, 0) {}
  };
  ps_ratelimit rl;
  Locks locks(ps_ratelimit_lock_count_for(&c));
  ps_ratelimit_locks hooks;
  hooks.ctx = &locks;
  hooks.lock = [](void *ctx, size_t i) {
    Locks *l = static_cast<Locks *>(ctx);
    l->m[i].lock();
    l->held[i]++;
  };
  hooks.unlock = [](void *ctx, size_t i) {
    Locks *l = static_cast<Locks *>(ctx);
    l->held[i]--;
    l->m[i].unlock();
  };
  ASSERT_EQ(ps_ratelimit_init(&rl, &c, &hooks), 0);
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&, t] {
      for (uint32_t i = 0; i < 20000; i++) {
        ps_ratelimit_key k = V4(static_cast<uint32_t>(t) * 1000000u + i % 3000);
        ok[t] += ps_ratelimit_take(&rl, &k, 0) == PS_RATELIMIT_OK;
      }
    });
  for (std::thread &th : threads) th.join();
  EXPECT_EQ(ok[0] + ok[1] + ok[2] + ok[3], 5000);
  for (int h : locks.held) EXPECT_EQ(h, 0);
  ps_ratelimit_close(&rl);
}

// An IPv6 host holds a /64: keyed by /64 its addresses share one bucket,
// keyed by the full address each has its own.
TEST(RateLimit, TwoAddressesOfOneSlash64AreOneSourceWithPrefix64AndTwoWith128) {
  Table t64(Config(1, 3)), t128(Config(1, 3));
  ps_ratelimit_key a64 = V6Prefix(7, 1, 64), b64 = V6Prefix(7, 0xfeedface, 64);
  ps_ratelimit_key a128 = V6Prefix(7, 1, 128), b128 = V6Prefix(7, 0xfeedface, 128);
  EXPECT_EQ(memcmp(a64.addr, b64.addr, 16), 0);
  EXPECT_NE(memcmp(a128.addr, b128.addr, 16), 0);
  EXPECT_EQ(Drain(&t64.rl, a64, 0), 3);
  EXPECT_EQ(Drain(&t64.rl, b64, 0), 0) << "the same /64: the same, empty bucket";
  EXPECT_EQ(ps_ratelimit_sources(&t64.rl), 1u);
  EXPECT_EQ(Drain(&t128.rl, a128, 0), 3);
  EXPECT_EQ(Drain(&t128.rl, b128, 0), 3);
  EXPECT_EQ(ps_ratelimit_sources(&t128.rl), 2u);
  ps_ratelimit_key other = V6Prefix(8, 1, 64);
  EXPECT_EQ(Drain(&t64.rl, other, 0), 3) << "the next /64 is another source";
}

TEST(RateLimit, PrefixBuildersKeepTheFullAddressFunctionsAndMaskInsideAByte) {
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8};
  ps_ratelimit_key full, prefixed;
  ps_ratelimit_key_v6(&full, v6);
  ps_ratelimit_key_v6_prefix(&prefixed, v6, 128, 32);
  EXPECT_EQ(memcmp(full.addr, v6, 16), 0);
  EXPECT_EQ(memcmp(full.addr, prefixed.addr, 16), 0);
  ps_ratelimit_key_v6_prefix(&prefixed, v6, 52, 32);  // 2001:db8:1234:5000::
  const uint8_t want52[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x50};
  EXPECT_EQ(memcmp(prefixed.addr, want52, 16), 0);
  ps_ratelimit_key_v6_prefix(&prefixed, v6, 0, 32);
  const uint8_t zero[16] = {0};
  EXPECT_EQ(memcmp(prefixed.addr, zero, 16), 0);

  uint8_t v4[4] = {192, 0, 2, 0xb7};
  ps_ratelimit_key_v4(&full, v4);
  ps_ratelimit_key_v4_prefix(&prefixed, v4, 32);
  EXPECT_EQ(memcmp(full.addr, prefixed.addr, 16), 0);
  ps_ratelimit_key_v4_prefix(&prefixed, v4, 29);  // 192.0.2.176/29
  const uint8_t want29[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 0xb0};
  EXPECT_EQ(memcmp(prefixed.addr, want29, 16), 0);
  ps_ratelimit_key_v4_prefix(&prefixed, v4, 99);
  EXPECT_EQ(memcmp(full.addr, prefixed.addr, 16), 0) << "more than 32 bits is the whole address";

  // An IPv4-mapped peer takes the IPv4 prefix, not the IPv6 one: with /64 it
  // would otherwise be :: like every other mapped address.
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 0xb7};
  ps_ratelimit_key_v6_prefix(&prefixed, mapped, 64, 32);
  EXPECT_EQ(memcmp(full.addr, prefixed.addr, 16), 0);
  ps_ratelimit_key_v6_prefix(&prefixed, mapped, 64, 29);
  EXPECT_EQ(memcmp(prefixed.addr, want29, 16), 0);
}

TEST(RateLimit, TheHashIsKeyed) {
  ps_ratelimit_config a = Config(1, 1), b = Config(1, 1);
  b.hash_key.bytes[0] ^= 0x80;
  ps_ratelimit_key k = V4(0xc0000201);
  EXPECT_EQ(ps_ratelimit_hash(&a.hash_key, &k), ps_siphash(&a.hash_key, k.addr, 16));
  EXPECT_NE(ps_ratelimit_hash(&a.hash_key, &k), ps_ratelimit_hash(&b.hash_key, &k));
}
