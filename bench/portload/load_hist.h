/* An HDR-style latency histogram: log-spaced buckets, each power of two split
 * into LOAD_HIST_SUB linear sub-buckets, so every recorded value is kept to
 * within 1/LOAD_HIST_SUB (about 3%) without storing samples. Fixed size,
 * no allocation; one per thread, merged at the end. Portable. */
#ifndef LOAD_HIST_H
#define LOAD_HIST_H

#include <stdint.h>

#define LOAD_HIST_SUB_BITS 5
#define LOAD_HIST_SUB (1u << LOAD_HIST_SUB_BITS)
/* Values below 2*SUB get a bucket each (indexes 0..2*SUB-1); each further
 * power of two up to 2^63 adds SUB: the top value's index is
 * (63 - SUB_BITS) * SUB + 2*SUB - 1. */
#define LOAD_HIST_BUCKETS ((65u - LOAD_HIST_SUB_BITS) * LOAD_HIST_SUB)

typedef struct load_hist {
  uint64_t count;
  uint64_t min, max;
  uint64_t buckets[LOAD_HIST_BUCKETS];
} load_hist;

void load_hist_init(load_hist *h);
void load_hist_record(load_hist *h, uint64_t value);
void load_hist_merge(load_hist *into, const load_hist *from);

/* The value at quantile q (0..1): the upper bound of the bucket holding the
 * ceil(q * count)-th smallest value, clamped to the recorded max. 0 when empty. */
uint64_t load_hist_quantile(const load_hist *h, double q);

/* Exposed for the tests of the bucket layout. */
unsigned load_hist_index(uint64_t value);
uint64_t load_hist_upper(unsigned index);

#endif
