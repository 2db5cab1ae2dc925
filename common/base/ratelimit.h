/* Per-source token buckets for UDP replies, in a table of fixed size, and
 * one global bucket: the reply-rate half of the UDP reflection guard
 * (docs/design.md, "UDP reflection guard"). Portable and clock-free: the
 * caller passes the time in milliseconds, so tests drive a fake clock.
 *
 * Memory: everything is allocated by ps_ratelimit_init; taking a token never
 * allocates. The table is set-associative: a source's address hashes (SipHash
 * with a per-table secret key) to one set of PS_RATELIMIT_WAYS entries; a new source
 * replaces, within its set, the entry whose forgetting gives away the fewest
 * tokens (the fullest bucket: a full bucket is the same as no entry), the
 * least recently used among equals. So a flood of new sources evicts other
 * new sources and refilled buckets first, and a source held at its limit is
 * evicted only when its whole set is held at the limit too.
 *
 * Locking: the table does none itself, it asks the caller's lock hooks.
 * Lock i (0 <= i < sets) guards set i; lock `sets` guards the global bucket.
 * ps_ratelimit_take takes the set's lock, and inside it the global one: the
 * only nesting, always in that order. With lock == NULL nothing is locked
 * (single-threaded use). */
#ifndef PS_RATELIMIT_H
#define PS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_RATELIMIT_WAYS 8

typedef struct ps_ratelimit_config {
  unsigned rate;           /* replies per second per source; 0 = no per-source limit */
  unsigned burst;          /* bucket size per source (tokens a new source starts with); >= 1 */
  unsigned rate_total;     /* replies per second from all sources; 0 = no global cap.
                            * The global bucket holds one second's worth. */
  unsigned sources;        /* table entries, rounded up to a power of two >= PS_RATELIMIT_WAYS */
  ps_siphash_key hash_key; /* secret, so senders cannot compute which sources share a set */
} ps_ratelimit_config;

/* The caller's locks (see the top of this file). */
typedef struct ps_ratelimit_locks {
  void (*lock)(void *ctx, size_t index);
  void (*unlock)(void *ctx, size_t index);
  void *ctx;
} ps_ratelimit_locks;

/* A source: its IPv6 address, or the IPv4-mapped form (::ffff:a.b.c.d) of an
 * IPv4 one, with the bits past the source's prefix length zeroed (see the
 * _prefix builders). The port is no part of it: a spoofer chooses it freely. */
typedef struct ps_ratelimit_key {
  uint8_t addr[16];
} ps_ratelimit_key;

typedef struct ps_ratelimit_entry {
  ps_ratelimit_key key;
  uint64_t last_ms;      /* time the bucket was last refilled (and used) */
  uint32_t milli_tokens; /* tokens x 1000 */
  uint32_t used;         /* 0: free slot */
} ps_ratelimit_entry;

typedef struct ps_ratelimit {
  ps_ratelimit_config cfg;
  ps_ratelimit_entry *entries; /* sets x PS_RATELIMIT_WAYS, one allocation */
  size_t sets;
  ps_ratelimit_locks locks;
  uint64_t total_last_ms;
  uint64_t total_milli_tokens;
  int total_started;
} ps_ratelimit;

typedef enum ps_ratelimit_verdict {
  PS_RATELIMIT_OK = 0,     /* a token was taken: send the reply */
  PS_RATELIMIT_SOURCE = 1, /* the source is over its rate: drop */
  PS_RATELIMIT_TOTAL = 2   /* the global cap is reached: drop (the source is not charged) */
} ps_ratelimit_verdict;

/* Allocates the table. 0, or -1 if out of memory. `locks` may be NULL. */
int ps_ratelimit_init(ps_ratelimit *rl, const ps_ratelimit_config *cfg, const ps_ratelimit_locks *locks);
void ps_ratelimit_close(ps_ratelimit *rl);

/* Locks the caller must provide: sets + 1. The _for form answers before
 * init, so the caller can make the locks first. */
size_t ps_ratelimit_lock_count(const ps_ratelimit *rl);
size_t ps_ratelimit_lock_count_for(const ps_ratelimit_config *cfg);

/* Bytes the table holds (constant from init to close). */
size_t ps_ratelimit_memory(const ps_ratelimit *rl);

/* Entries in use (walks the table taking each set's lock; for tests and stats). */
size_t ps_ratelimit_sources(ps_ratelimit *rl);

/* One reply for `key` at `now_ms`: charges the source's bucket and the global
 * one, or neither. */
ps_ratelimit_verdict ps_ratelimit_take(ps_ratelimit *rl, const ps_ratelimit_key *key, uint64_t now_ms);

/* The keyed hash of a source the table uses (also the per-source connection
 * table's, common/connlimit.h): SipHash-2-4 of the key's 16 bytes. */
uint64_t ps_ratelimit_hash(const ps_siphash_key *hash_key, const ps_ratelimit_key *key);

/* What one source is: a host of IPv4 (its /32), a subnet of IPv6. One IPv6
 * host usually holds a whole /64 (SLAAC, privacy addresses), so keying IPv6
 * sources by the full address would hand it 2^64 buckets; the /64 is what
 * one subscriber gets. */
#define PS_SOURCE_PREFIX_V4_DEFAULT 32
#define PS_SOURCE_PREFIX_V6_DEFAULT 64

/* The source of an IPv4 address, keyed by its first `bits` bits (0..32;
 * more is read as 32). */
void ps_ratelimit_key_v4_prefix(ps_ratelimit_key *key, const uint8_t addr[4], unsigned bits);
/* The source of an IPv6 address, keyed by its first `v6_bits` bits (0..128).
 * An IPv4-mapped address (::ffff:a.b.c.d, a dual-stack socket's IPv4 peer)
 * is an IPv4 source: keyed as ps_ratelimit_key_v4_prefix with `v4_bits`, so
 * it is the same source whichever socket it came in on. */
void ps_ratelimit_key_v6_prefix(ps_ratelimit_key *key, const uint8_t addr[16], unsigned v6_bits, unsigned v4_bits);

/* Full addresses: _v4_prefix with 32 and _v6_prefix with 128 and 32. */
void ps_ratelimit_key_v4(ps_ratelimit_key *key, const uint8_t addr[4]);
void ps_ratelimit_key_v6(ps_ratelimit_key *key, const uint8_t addr[16]);

#ifdef __cplusplus
}
#endif

#endif
