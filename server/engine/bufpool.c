/* The buffer pool (see bufpool.h). */
#include "bufpool.h"

#define PS_ENGINE_INTERNAL
#include "engine.h"

#include <assert.h>
#include <string.h>

void ps_bufpool_init(ps_bufpool *p, size_t buf_size, LONG max_free, struct ps_faults *faults) {
  memset(p, 0, sizeof(*p));
  p->faults = faults;
  InitializeSListHead(&p->free_list);
  p->buf_size = buf_size;
  p->max_free = max_free;
}

void ps_bufpool_close(ps_bufpool *p) {
  PSLIST_ENTRY e;
  assert(p->in_use == 0);
  while ((e = InterlockedPopEntrySList(&p->free_list)) != NULL) {
    HeapFree(GetProcessHeap(), 0, e);
    InterlockedDecrement(&p->free_count);
    InterlockedDecrement64(&p->live);
  }
  assert(p->live == 0);
}

ps_buf *ps_buf_get(ps_bufpool *p) {
  ps_buf *b;
  if (ps_fault_hit(p->faults, PS_FAULT_BUFFER) != 0) return NULL;
  b = (ps_buf *)(void *)InterlockedPopEntrySList(&p->free_list);
  if (b != NULL) {
    InterlockedDecrement(&p->free_count);
  } else {
    /* HeapAlloc's blocks are MEMORY_ALLOCATION_ALIGNMENT aligned, as the
     * SLIST entry needs, with no padding of their own (a small buffer is
     * one 256-byte heap block). */
    b = (ps_buf *)HeapAlloc(GetProcessHeap(), 0, sizeof(ps_buf) + p->buf_size);
    if (b == NULL) return NULL;
    InterlockedIncrement64(&p->live);
  }
  InterlockedIncrement64(&p->in_use);
  b->next = NULL;
  b->len = 0;
  b->off = 0;
  return b;
}

void ps_buf_put(ps_bufpool *p, ps_buf *b) {
  InterlockedDecrement64(&p->in_use);
  if (InterlockedIncrement(&p->free_count) <= p->max_free) {
    InterlockedPushEntrySList(&p->free_list, &b->entry);
    return;
  }
  InterlockedDecrement(&p->free_count);
  InterlockedDecrement64(&p->live);
  HeapFree(GetProcessHeap(), 0, b);
}
