/* Token buckets per source in a fixed set-associative table (see ratelimit.h).
 * Tokens are kept in thousandths so a refill of `rate` per second is an
 * integer `rate` per millisecond. */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define RL__MILLI 1000u

static void rl__lock(ps_ratelimit *rl, size_t i) {
  if (rl->locks.lock != NULL) rl->locks.lock(rl->locks.ctx, i);
}

static void rl__unlock(ps_ratelimit *rl, size_t i) {
  if (rl->locks.unlock != NULL) rl->locks.unlock(rl->locks.ctx, i);
}

/* The bucket `milli` last refilled at `last_ms`, refilled to `now_ms`.
 * Overflow-free: past the time a bucket needs to fill, it is simply full. */
static uint64_t rl__refill(uint64_t milli, uint64_t last_ms, uint64_t now_ms, unsigned rate, uint64_t cap) {
  uint64_t elapsed;
  if (now_ms <= last_ms || rate == 0) return milli; /* a clock that went back refills nothing */
  elapsed = now_ms - last_ms;
  if (elapsed >= cap / rate + 1) return cap;
  milli += elapsed * rate;
  return milli < cap ? milli : cap;
}

uint64_t ps_ratelimit_hash(const ps_siphash_key *hash_key, const ps_ratelimit_key *key) {
  return ps_siphash(hash_key, key->addr, sizeof(key->addr));
}

static size_t rl__set_of(const ps_ratelimit *rl, const ps_ratelimit_key *key) {
  return (size_t)(ps_ratelimit_hash(&rl->cfg.hash_key, key) & (uint64_t)(rl->sets - 1));
}

/* Sets for `cfg`: 0 without a per-source rate, else sources rounded up to a
 * power of two (at most 2^24 entries), divided into ways. */
static size_t rl__sets_for(const ps_ratelimit_config *cfg) {
  size_t entries = PS_RATELIMIT_WAYS;
  if (cfg->rate == 0) return 0;
  while (entries < cfg->sources && entries < ((size_t)1 << 24)) entries <<= 1;
  return entries / PS_RATELIMIT_WAYS;
}

size_t ps_ratelimit_lock_count_for(const ps_ratelimit_config *cfg) { return rl__sets_for(cfg) + 1; }

int ps_ratelimit_init(ps_ratelimit *rl, const ps_ratelimit_config *cfg, const ps_ratelimit_locks *locks) {
  size_t entries;
  memset(rl, 0, sizeof(*rl));
  rl->cfg = *cfg;
  if (rl->cfg.burst == 0) rl->cfg.burst = 1;
  if (locks != NULL) rl->locks = *locks;
  rl->sets = rl__sets_for(&rl->cfg);
  if (rl->sets == 0) return 0; /* no per-source limit: no table */
  entries = rl->sets * PS_RATELIMIT_WAYS;
  rl->entries = (ps_ratelimit_entry *)calloc(entries, sizeof(*rl->entries));
  if (rl->entries == NULL) {
    rl->sets = 0;
    return -1;
  }
  return 0;
}

void ps_ratelimit_close(ps_ratelimit *rl) {
  free(rl->entries);
  rl->entries = NULL;
  rl->sets = 0;
}

size_t ps_ratelimit_lock_count(const ps_ratelimit *rl) { return rl->sets + 1; }

size_t ps_ratelimit_memory(const ps_ratelimit *rl) {
  return sizeof(*rl) + rl->sets * PS_RATELIMIT_WAYS * sizeof(ps_ratelimit_entry);
}

size_t ps_ratelimit_sources(ps_ratelimit *rl) {
  size_t s, w, n = 0;
  for (s = 0; s < rl->sets; s++) {
    rl__lock(rl, s);
    for (w = 0; w < PS_RATELIMIT_WAYS; w++) n += rl->entries[s * PS_RATELIMIT_WAYS + w].used != 0;
    rl__unlock(rl, s);
  }
  return n;
}

/* The global bucket (its lock held): 1 if a token was taken. */
static int rl__take_total(ps_ratelimit *rl, uint64_t now_ms) {
  uint64_t cap = (uint64_t)rl->cfg.rate_total * RL__MILLI;
  if (!rl->total_started) {
    rl->total_started = 1;
    rl->total_milli_tokens = cap;
  } else {
    rl->total_milli_tokens = rl__refill(rl->total_milli_tokens, rl->total_last_ms, now_ms, rl->cfg.rate_total, cap);
  }
  if (now_ms > rl->total_last_ms) rl->total_last_ms = now_ms;
  if (rl->total_milli_tokens < RL__MILLI) return 0;
  rl->total_milli_tokens -= RL__MILLI;
  return 1;
}

static int rl__total(ps_ratelimit *rl, uint64_t now_ms) {
  int ok;
  if (rl->cfg.rate_total == 0) return 1;
  rl__lock(rl, rl->sets);
  ok = rl__take_total(rl, now_ms);
  rl__unlock(rl, rl->sets);
  return ok;
}

/* The entry for `key` in `set` (its lock held), refilled to now; a new source
 * takes a free way or evicts (see ratelimit.h) and starts with a full bucket. */
static ps_ratelimit_entry *rl__entry(ps_ratelimit *rl, size_t set, const ps_ratelimit_key *key, uint64_t now_ms) {
  ps_ratelimit_entry *ways = rl->entries + set * PS_RATELIMIT_WAYS;
  ps_ratelimit_entry *victim = NULL;
  uint64_t cap = (uint64_t)rl->cfg.burst * RL__MILLI, victim_tokens = 0;
  size_t w;
  for (w = 0; w < PS_RATELIMIT_WAYS; w++) {
    ps_ratelimit_entry *e = &ways[w];
    uint64_t tokens;
    if (!e->used) {
      if (victim == NULL || victim->used) victim = e;
      continue;
    }
    if (memcmp(e->key.addr, key->addr, sizeof(key->addr)) == 0) {
      e->milli_tokens = (uint32_t)rl__refill(e->milli_tokens, e->last_ms, now_ms, rl->cfg.rate, cap);
      if (now_ms > e->last_ms) e->last_ms = now_ms;
      return e;
    }
    if (victim != NULL && !victim->used) continue; /* a free way beats any eviction */
    tokens = rl__refill(e->milli_tokens, e->last_ms, now_ms, rl->cfg.rate, cap);
    if (victim == NULL || tokens > victim_tokens || (tokens == victim_tokens && e->last_ms < victim->last_ms)) {
      victim = e;
      victim_tokens = tokens;
    }
  }
  victim->key = *key;
  victim->used = 1;
  victim->last_ms = now_ms;
  victim->milli_tokens = (uint32_t)cap;
  return victim;
}

ps_ratelimit_verdict ps_ratelimit_take(ps_ratelimit *rl, const ps_ratelimit_key *key, uint64_t now_ms) {
  ps_ratelimit_entry *e;
  ps_ratelimit_verdict v = PS_RATELIMIT_OK;
  size_t set;
  if (rl->sets == 0) return rl__total(rl, now_ms) ? PS_RATELIMIT_OK : PS_RATELIMIT_TOTAL;
  set = rl__set_of(rl, key);
  rl__lock(rl, set);
  e = rl__entry(rl, set, key, now_ms);
  if (e->milli_tokens < RL__MILLI) v = PS_RATELIMIT_SOURCE;
  else if (!rl__total(rl, now_ms)) v = PS_RATELIMIT_TOTAL; /* the source keeps its token */
  else e->milli_tokens -= RL__MILLI;
  rl__unlock(rl, set);
  return v;
}

/* Zeroes the bits of addr[0, len) past the first `bits`. */
static void rl__mask(uint8_t *addr, size_t len, unsigned bits) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (bits >= 8) {
      bits -= 8;
      continue;
    }
    addr[i] = (uint8_t)(addr[i] & (0xFF00u >> bits));
    bits = 0;
  }
}

void ps_ratelimit_key_v4_prefix(ps_ratelimit_key *key, const uint8_t addr[4], unsigned bits) {
  memset(key->addr, 0, 10);
  key->addr[10] = 0xff;
  key->addr[11] = 0xff;
  memcpy(key->addr + 12, addr, 4);
  rl__mask(key->addr + 12, 4, bits);
}

void ps_ratelimit_key_v6_prefix(ps_ratelimit_key *key, const uint8_t addr[16], unsigned v6_bits, unsigned v4_bits) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
    ps_ratelimit_key_v4_prefix(key, addr + 12, v4_bits);
    return;
  }
  memcpy(key->addr, addr, 16);
  rl__mask(key->addr, 16, v6_bits);
}

void ps_ratelimit_key_v4(ps_ratelimit_key *key, const uint8_t addr[4]) { ps_ratelimit_key_v4_prefix(key, addr, 32); }

void ps_ratelimit_key_v6(ps_ratelimit_key *key, const uint8_t addr[16]) {
  ps_ratelimit_key_v6_prefix(key, addr, 128, 32);
}
