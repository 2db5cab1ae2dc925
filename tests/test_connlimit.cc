// connlimit: open connections per source address in a fixed table
// (--max-connections-per-source).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

extern "C" {
#include "connlimit.h"
}

namespace {

ps_siphash_key HashKey(uint8_t salt) {
  ps_siphash_key key;
  for (int i = 0; i < PS_SIPHASH_KEY_SIZE; i++) key.bytes[i] = static_cast<uint8_t>(salt + 13 * i);
  return key;
}

ps_ratelimit_key Source(uint32_t a) {
  uint8_t b[4] = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16), static_cast<uint8_t>(a >> 8),
                  static_cast<uint8_t>(a)};
  ps_ratelimit_key k;
  ps_ratelimit_key_v4(&k, b);
  return k;
}

TEST(ConnLimit, RefusesTheConnectionOverTheLimitAndTakesOneAfterARelease) {
  ps_connlimit cl;
  ps_siphash_key key = HashKey(1);
  ASSERT_EQ(0, ps_connlimit_init(&cl, 2, 16, &key));
  ps_ratelimit_key a = Source(0x7f000001), b = Source(0x7f000002);
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&cl, &a));
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&cl, &a));
  EXPECT_EQ(PS_CONNLIMIT_SOURCE, ps_connlimit_acquire(&cl, &a));
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&cl, &b)) << "another source is not affected";
  EXPECT_EQ(2u, ps_connlimit_count(&cl, &a));
  ps_connlimit_release(&cl, &a);
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&cl, &a));
  ps_connlimit_release(&cl, &a);
  ps_connlimit_release(&cl, &a);
  ps_connlimit_release(&cl, &b);
  EXPECT_EQ(0u, ps_connlimit_count(&cl, &a));
  EXPECT_EQ(0u, cl.used);
  ps_connlimit_close(&cl);
}

TEST(ConnLimit, ANewSourceIsRefusedWhenTheTableIsFullAndMemoryStaysFixed) {
  ps_connlimit cl;
  ps_siphash_key key = HashKey(7);
  ASSERT_EQ(0, ps_connlimit_init(&cl, 1, 1000, &key));
  size_t memory = ps_connlimit_memory(&cl);
  EXPECT_LE(memory, 2048u * sizeof(ps_connlimit_entry));
  int refused = 0;
  for (uint32_t i = 0; i < 100000; i++) {
    ps_ratelimit_key k = Source(0x0a000000 + i);
    if (ps_connlimit_acquire(&cl, &k) == PS_CONNLIMIT_FULL) refused++;
  }
  EXPECT_EQ(100000 - 1000, refused);
  EXPECT_EQ(memory, ps_connlimit_memory(&cl));
  ps_connlimit_close(&cl);
}

// A table that must grow (a reload raised --max-connections): the counts
// move into a bigger one, which takes the sources the old one refused.
TEST(ConnLimit, MoveCarriesTheCountsIntoABiggerTableThatTakesMoreSources) {
  ps_connlimit small, big;
  ps_siphash_key key = HashKey(3);
  ASSERT_EQ(0, ps_connlimit_init(&small, 2, 2, &key));
  ps_ratelimit_key a = Source(0x7f000002), b = Source(0x7f000003), c = Source(0x7f000004);
  ASSERT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&small, &a));
  ASSERT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&small, &a));
  ASSERT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&small, &b));
  ASSERT_EQ(PS_CONNLIMIT_FULL, ps_connlimit_acquire(&small, &c));
  ASSERT_EQ(0, ps_connlimit_init(&big, 2, 1, &key));
  EXPECT_EQ(-1, ps_connlimit_move(&big, &small)) << "a table for fewer sources than are held";
  EXPECT_EQ(2u, ps_connlimit_count(&small, &a)) << "a refused move leaves the counts";
  ps_connlimit_close(&big);
  ASSERT_EQ(0, ps_connlimit_init(&big, 2, 6, &key));
  ASSERT_EQ(0, ps_connlimit_move(&big, &small));
  EXPECT_EQ(0u, small.used);
  EXPECT_EQ(0u, ps_connlimit_count(&small, &a));
  ps_connlimit_close(&small);
  EXPECT_EQ(2u, big.used);
  EXPECT_EQ(2u, ps_connlimit_count(&big, &a));
  EXPECT_EQ(1u, ps_connlimit_count(&big, &b));
  EXPECT_EQ(PS_CONNLIMIT_SOURCE, ps_connlimit_acquire(&big, &a)) << "the moved count still counts";
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&big, &c)) << "the new source the small table refused";
  ps_connlimit_release(&big, &a);
  ps_connlimit_release(&big, &a);
  ps_connlimit_release(&big, &b);
  ps_connlimit_release(&big, &c);
  EXPECT_EQ(0u, big.used) << "releases of moved connections find them";
  ps_connlimit_close(&big);
}

// Random acquires and releases against a std::map: after every step each
// touched source's count matches, so backward-shift deletion never loses a
// key behind a hole.
TEST(ConnLimit, MatchesAModelUnderRandomChurn) {
  ps_connlimit cl;
  ps_siphash_key key = HashKey(42);
  ASSERT_EQ(0, ps_connlimit_init(&cl, 3, 256, &key));
  std::map<uint32_t, unsigned> model;
  std::mt19937 rng(1234);
  for (int step = 0; step < 200000; step++) {
    uint32_t src = rng() % 400;
    ps_ratelimit_key k = Source(src);
    if (rng() % 2 == 0) {
      ps_connlimit_verdict v = ps_connlimit_acquire(&cl, &k);
      unsigned have = model.count(src) ? model[src] : 0;
      if (have >= 3) {
        ASSERT_EQ(PS_CONNLIMIT_SOURCE, v);
      } else if (have == 0 && model.size() >= 256) {
        ASSERT_EQ(PS_CONNLIMIT_FULL, v);
      } else {
        ASSERT_EQ(PS_CONNLIMIT_OK, v);
        model[src] = have + 1;
      }
    } else if (model.count(src)) {
      ps_connlimit_release(&cl, &k);
      if (--model[src] == 0) model.erase(src);
    }
    ASSERT_EQ(model.count(src) ? model[src] : 0u, ps_connlimit_count(&cl, &k)) << "step " << step;
    ASSERT_EQ(model.size(), cl.used);
  }
  for (auto &m : model) {
    ps_ratelimit_key k = Source(m.first);
    ASSERT_EQ(m.second, ps_connlimit_count(&cl, &k));
  }
  ps_connlimit_close(&cl);
}

}  // namespace

namespace {

// 2001:db8:0:SUBNET::HOST keyed with an IPv6 prefix of `bits`.
ps_ratelimit_key V6Source(uint16_t subnet, uint64_t host, unsigned bits) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, static_cast<uint8_t>(subnet >> 8), static_cast<uint8_t>(subnet)};
  for (int i = 0; i < 8; i++) b[15 - i] = static_cast<uint8_t>(host >> (8 * i));
  ps_ratelimit_key k;
  ps_ratelimit_key_v6_prefix(&k, b, bits, PS_SOURCE_PREFIX_V4_DEFAULT);
  return k;
}

}  // namespace

TEST(ConnLimit, TwoAddressesOfOneSlash64AreOneSourceWithPrefix64AndTwoWith128) {
  ps_siphash_key key = HashKey(3);
  ps_connlimit by64, by128;
  ASSERT_EQ(0, ps_connlimit_init(&by64, 1, 16, &key));
  ASSERT_EQ(0, ps_connlimit_init(&by128, 1, 16, &key));
  ps_ratelimit_key a = V6Source(1, 0x1111, 64), b = V6Source(1, 0x2222, 64);
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&by64, &a));
  EXPECT_EQ(PS_CONNLIMIT_SOURCE, ps_connlimit_acquire(&by64, &b)) << "the same /64 holds its one connection";
  a = V6Source(1, 0x1111, 128);
  b = V6Source(1, 0x2222, 128);
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&by128, &a));
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&by128, &b)) << "two addresses, two sources";
  EXPECT_EQ(2u, by128.used);
  ps_connlimit_close(&by64);
  ps_connlimit_close(&by128);
}

// A host rotating through its /64 (privacy addresses, or an attacker) fills
// no more than one entry when sources are /64s.
TEST(ConnLimit, ManyAddressesOfOneSlash64FillOneEntryWithPrefix64) {
  ps_siphash_key key = HashKey(9);
  ps_connlimit cl;
  ASSERT_EQ(0, ps_connlimit_init(&cl, 100000, 64, &key));
  std::mt19937_64 rng(99);
  for (int i = 0; i < 10000; i++) {
    ps_ratelimit_key k = V6Source(0xabcd, rng(), 64);
    ASSERT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&cl, &k)) << "address " << i;
  }
  EXPECT_EQ(1u, cl.used);
  ps_ratelimit_key any = V6Source(0xabcd, 42, 64);
  EXPECT_EQ(10000u, ps_connlimit_count(&cl, &any));
  ps_ratelimit_key next = V6Source(0xabce, 42, 64);
  EXPECT_EQ(PS_CONNLIMIT_OK, ps_connlimit_acquire(&cl, &next)) << "the next /64 is its own source";
  EXPECT_EQ(2u, cl.used);
  ps_connlimit_close(&cl);
}
