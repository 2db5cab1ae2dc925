/* Open connections per source address, in a table of fixed size: the
 * --max-connections-per-source limit (docs/design.md, "Connection limits").
 * Portable, so it is unit-tested natively.
 *
 * An entry exists only while its source has an open connection, so the
 * table never needs more entries than there are open connections: it is
 * sized for `sources` addresses at init and never allocates afterwards. A
 * new source that finds it full is refused like a source at its limit
 * (PS_CONNLIMIT_FULL), which can happen only with more than `sources`
 * distinct addresses connected at once. When the connection limit it was
 * sized for rises, the caller makes a bigger table and moves the counts
 * into it (ps_connlimit_move).
 *
 * Open addressing with linear probing at a load of at most one half, and
 * backward-shift deletion (no tombstones), so lookups stay short however
 * many sources come and go. The hash is keyed (SipHash, ps_ratelimit_hash)
 * with a secret, so a client cannot choose addresses that collide. What one
 * source is (a full address, an IPv6 /64) is the caller's key builder's
 * choice (ps_ratelimit_key_*_prefix). No locking: the caller
 * serialises acquire and release. */
#ifndef PS_CONNLIMIT_H
#define PS_CONNLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_connlimit_entry {
  ps_ratelimit_key key;
  uint32_t count; /* open connections; 0 = free slot */
} ps_connlimit_entry;

typedef struct ps_connlimit {
  ps_connlimit_entry *entries;
  size_t mask;    /* slots - 1 (slots: a power of two >= 2 x sources) */
  size_t sources; /* most addresses held at once */
  size_t used;    /* addresses held now */
  unsigned limit; /* connections per address */
  ps_siphash_key hash_key;
} ps_connlimit;

typedef enum ps_connlimit_verdict {
  PS_CONNLIMIT_OK = 0,     /* counted: the connection may open */
  PS_CONNLIMIT_SOURCE = 1, /* the address already has `limit` open */
  PS_CONNLIMIT_FULL = 2    /* a new address, and `sources` addresses are held */
} ps_connlimit_verdict;

/* Allocates the table for `sources` addresses (1 .. 2^24). 0, or -1 if out
 * of memory or limit is 0. */
int ps_connlimit_init(ps_connlimit *cl, unsigned limit, size_t sources, const ps_siphash_key *hash_key);
void ps_connlimit_close(ps_connlimit *cl);

/* Counts one more connection from `key`, unless that breaks the limit. */
ps_connlimit_verdict ps_connlimit_acquire(ps_connlimit *cl, const ps_ratelimit_key *key);
/* Counts one connection from `key` less (one that acquire counted). */
void ps_connlimit_release(ps_connlimit *cl, const ps_ratelimit_key *key);

/* Moves every counted address of `from` into `to`, an empty table made with
 * ps_connlimit_init for at least from->used sources (its own limit and
 * key), and leaves `from` empty. A table that must grow: the bigger one is
 * made outside the caller's lock, the counts moved under it, and the old
 * one closed after. 0, or -1 (nothing moved) if `to` is too small or not
 * empty. */
int ps_connlimit_move(ps_connlimit *to, ps_connlimit *from);

/* Open connections counted for `key` (0 if none). */
unsigned ps_connlimit_count(const ps_connlimit *cl, const ps_ratelimit_key *key);
/* Bytes the table holds (constant from init to close). */
size_t ps_connlimit_memory(const ps_connlimit *cl);

#ifdef __cplusplus
}
#endif

#endif
