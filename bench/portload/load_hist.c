/* The log-bucket histogram (see load_hist.h). Bucket layout: values v < 2*SUB
 * are exact (index v); otherwise with m the position of v's top bit and
 * shift = m - SUB_BITS, the index is shift*SUB + (v >> shift), where
 * (v >> shift) lies in [SUB, 2*SUB). */
#include "load_hist.h"

#include <string.h>

void load_hist_init(load_hist *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

static unsigned hist__top_bit(uint64_t v) {
  unsigned m = 0;
  if (v >> 32) {
    v >>= 32;
    m += 32;
  }
  if (v >> 16) {
    v >>= 16;
    m += 16;
  }
  if (v >> 8) {
    v >>= 8;
    m += 8;
  }
  if (v >> 4) {
    v >>= 4;
    m += 4;
  }
  if (v >> 2) {
    v >>= 2;
    m += 2;
  }
  if (v >> 1) m += 1;
  return m;
}

unsigned load_hist_index(uint64_t value) {
  unsigned shift;
  if (value < 2 * LOAD_HIST_SUB) return (unsigned)value;
  shift = hist__top_bit(value) - LOAD_HIST_SUB_BITS;
  return shift * LOAD_HIST_SUB + (unsigned)(value >> shift);
}

uint64_t load_hist_upper(unsigned index) {
  unsigned shift;
  uint64_t sub;
  if (index < 2 * LOAD_HIST_SUB) return index;
  shift = index / LOAD_HIST_SUB - 1;
  sub = index % LOAD_HIST_SUB + LOAD_HIST_SUB;
  /* The last bucket's upper bound is UINT64_MAX; do not overflow into 0. */
  if (shift >= 64 - LOAD_HIST_SUB_BITS - 1 && sub == 2 * LOAD_HIST_SUB - 1) return UINT64_MAX;
  return ((sub + 1) << shift) - 1;
}

void load_hist_record(load_hist *h, uint64_t value) {
  h->buckets[load_hist_index(value)]++;
  h->count++;
  if (value < h->min) h->min = value;
  if (value > h->max) h->max = value;
}

void load_hist_merge(load_hist *into, const load_hist *from) {
  unsigned i;
  if (from->count == 0) return;
  for (i = 0; i < LOAD_HIST_BUCKETS; i++) into->buckets[i] += from->buckets[i];
  into->count += from->count;
  if (from->min < into->min) into->min = from->min;
  if (from->max > into->max) into->max = from->max;
}

uint64_t load_hist_quantile(const load_hist *h, double q) {
  uint64_t rank, seen = 0;
  unsigned i;
  if (h->count == 0) return 0;
  if (q <= 0) return h->min;
  if (q >= 1) return h->max;
  rank = (uint64_t)(q * (double)h->count);
  if ((double)rank < q * (double)h->count) rank++;
  if (rank == 0) rank = 1;
  for (i = 0; i < LOAD_HIST_BUCKETS; i++) {
    seen += h->buckets[i];
    if (seen >= rank) {
      uint64_t v = load_hist_upper(i);
      if (v > h->max) v = h->max;
      if (v < h->min) v = h->min;
      return v;
    }
  }
  return h->max;
}
