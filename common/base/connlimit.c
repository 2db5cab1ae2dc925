/* Per-source connection counts (see connlimit.h). */
#include "connlimit.h"

#include <stdlib.h>
#include <string.h>

#define PS_CONNLIMIT_MAX_SOURCES ((size_t)1 << 24)

int ps_connlimit_init(ps_connlimit *cl, unsigned limit, size_t sources, const ps_siphash_key *hash_key) {
  size_t slots = 2;
  memset(cl, 0, sizeof(*cl));
  if (limit == 0) return -1;
  if (sources == 0) sources = 1;
  if (sources > PS_CONNLIMIT_MAX_SOURCES) sources = PS_CONNLIMIT_MAX_SOURCES;
  while (slots < 2 * sources) slots <<= 1;
  cl->entries = (ps_connlimit_entry *)calloc(slots, sizeof(*cl->entries));
  if (cl->entries == NULL) return -1;
  cl->mask = slots - 1;
  cl->sources = sources;
  cl->limit = limit;
  cl->hash_key = *hash_key;
  return 0;
}

void ps_connlimit_close(ps_connlimit *cl) {
  free(cl->entries);
  memset(cl, 0, sizeof(*cl));
}

/* The slot holding `key`, or the free slot where it would go. The load is
 * at most one half, so a free slot is always found. */
static size_t cl__find(const ps_connlimit *cl, const ps_ratelimit_key *key) {
  size_t i = (size_t)ps_ratelimit_hash(&cl->hash_key, key) & cl->mask;
  while (cl->entries[i].count != 0 && memcmp(&cl->entries[i].key, key, sizeof(*key)) != 0) i = (i + 1) & cl->mask;
  return i;
}

ps_connlimit_verdict ps_connlimit_acquire(ps_connlimit *cl, const ps_ratelimit_key *key) {
  size_t i = cl__find(cl, key);
  ps_connlimit_entry *e = &cl->entries[i];
  if (e->count != 0) {
    if (e->count >= cl->limit) return PS_CONNLIMIT_SOURCE;
    e->count++;
    return PS_CONNLIMIT_OK;
  }
  if (cl->used >= cl->sources) return PS_CONNLIMIT_FULL;
  e->key = *key;
  e->count = 1;
  cl->used++;
  return PS_CONNLIMIT_OK;
}

void ps_connlimit_release(ps_connlimit *cl, const ps_ratelimit_key *key) {
  size_t i = cl__find(cl, key), j;
  if (cl->entries[i].count == 0) return; /* not counted: nothing to undo */
  if (--cl->entries[i].count != 0) return;
  cl->used--;
  /* Backward-shift deletion: move later members of the probe run into the
   * hole when their home slot does not lie (cyclically) after it, so every
   * key stays reachable from its home slot without tombstones. */
  for (j = (i + 1) & cl->mask; cl->entries[j].count != 0; j = (j + 1) & cl->mask) {
    size_t home = (size_t)ps_ratelimit_hash(&cl->hash_key, &cl->entries[j].key) & cl->mask;
    /* The entry at j may fill the hole at i unless home is in (i, j]. */
    int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    cl->entries[i] = cl->entries[j];
    cl->entries[j].count = 0;
    i = j;
  }
}

int ps_connlimit_move(ps_connlimit *to, ps_connlimit *from) {
  size_t i;
  if (to->entries == NULL || to->used != 0 || to->sources < from->used) return -1;
  for (i = 0; from->entries != NULL && i <= from->mask; i++) {
    const ps_connlimit_entry *src = &from->entries[i];
    if (src->count == 0) continue;
    /* Each key is in `from` once, so its slot in `to` is a free one. */
    to->entries[cl__find(to, &src->key)] = *src;
    to->used++;
  }
  if (from->entries != NULL) memset(from->entries, 0, (from->mask + 1) * sizeof(*from->entries));
  from->used = 0;
  return 0;
}

unsigned ps_connlimit_count(const ps_connlimit *cl, const ps_ratelimit_key *key) {
  if (cl->entries == NULL) return 0;
  return cl->entries[cl__find(cl, key)].count;
}

size_t ps_connlimit_memory(const ps_connlimit *cl) {
  return cl->entries != NULL ? (cl->mask + 1) * sizeof(*cl->entries) : 0;
}
