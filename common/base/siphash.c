/* SipHash-2-4 (siphash.h), written from the paper's description: 2 compression
 * rounds per 8-byte word, 4 finalisation rounds. Byte order is spelled out
 * (little-endian loads), so the result is the same on every platform. */
#include "siphash.h"

#define SIP__ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t sip__load64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static void sip__round(uint64_t v[4]) {
  v[0] += v[1];
  v[1] = SIP__ROTL(v[1], 13);
  v[1] ^= v[0];
  v[0] = SIP__ROTL(v[0], 32);
  v[2] += v[3];
  v[3] = SIP__ROTL(v[3], 16);
  v[3] ^= v[2];
  v[0] += v[3];
  v[3] = SIP__ROTL(v[3], 21);
  v[3] ^= v[0];
  v[2] += v[1];
  v[1] = SIP__ROTL(v[1], 17);
  v[1] ^= v[2];
  v[2] = SIP__ROTL(v[2], 32);
}

uint64_t ps_siphash(const ps_siphash_key *key, const void *data, size_t len) {
  const uint8_t *in = (const uint8_t *)data;
  uint64_t k0 = sip__load64(key->bytes), k1 = sip__load64(key->bytes + 8);
  uint64_t v[4], m, last;
  size_t i, full = len - len % 8;
  v[0] = k0 ^ 0x736f6d6570736575ull; /* "somepseudorandomlygeneratedbytes" */
  v[1] = k1 ^ 0x646f72616e646f6dull;
  v[2] = k0 ^ 0x6c7967656e657261ull;
  v[3] = k1 ^ 0x7465646279746573ull;
  for (i = 0; i < full; i += 8) {
    m = sip__load64(in + i);
    v[3] ^= m;
    sip__round(v);
    sip__round(v);
    v[0] ^= m;
  }
  /* The last word: the 0-7 bytes left, and the length's low byte on top. */
  last = (uint64_t)(len & 0xff) << 56;
  for (i = len % 8; i > 0; i--) last |= (uint64_t)in[full + i - 1] << (8 * (i - 1));
  v[3] ^= last;
  sip__round(v);
  sip__round(v);
  v[0] ^= last;
  v[2] ^= 0xff;
  sip__round(v);
  sip__round(v);
  sip__round(v);
  sip__round(v);
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}
