/* SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash for tables
 * whose keys a peer chooses (source addresses), so that without the 128-bit
 * key nobody can compute which keys collide. Portable, no allocation. */
#ifndef PS_SIPHASH_H
#define PS_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PS_SIPHASH_KEY_SIZE 16

/* The 128-bit key, as the reference implementation takes it: bytes k[0..7]
 * are k0 and k[8..15] are k1, both little-endian. */
typedef struct ps_siphash_key {
  uint8_t bytes[PS_SIPHASH_KEY_SIZE];
} ps_siphash_key;

/* SipHash-2-4 of `len` bytes at `data` (the reference's 64-bit output as an
 * integer: its 8 output bytes read little-endian). */
uint64_t ps_siphash(const ps_siphash_key *key, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
