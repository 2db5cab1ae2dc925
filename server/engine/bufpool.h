/* Fixed-size I/O buffers shared by every connection of an engine. An engine
 * has two pools: full-size buffers (cfg.buffer_size) for sending and for
 * reads of data known or likely to be waiting, and small ones
 * (PS_SMALL_BUF_SIZE) for the read a connection leaves pending while it
 * waits for its peer after small messages (conn.c, "Reading", has the
 * rule). Free buffers sit on a lock-free list (SLIST) up to a
 * cap. */
#ifndef PS_BUFPOOL_H
#define PS_BUFPOOL_H

#include <stdint.h>

#include "ps_win.h"

typedef struct ps_buf {
  SLIST_ENTRY entry;   /* free-list link; SLIST needs it first and 16-byte aligned */
  struct ps_buf *next; /* send-queue link */
  uint32_t len;        /* bytes of data in the buffer */
  uint32_t off;        /* bytes of data already sent */
  char data[];
} ps_buf;

/* A small buffer is one 256-byte heap block, header included. */
#define PS_SMALL_BUF_BLOCK 256
#define PS_SMALL_BUF_SIZE (PS_SMALL_BUF_BLOCK - sizeof(ps_buf))

typedef struct ps_bufpool {
  SLIST_HEADER free_list;
  size_t buf_size; /* bytes in data[] */
  LONG max_free;   /* free buffers kept for reuse; beyond, freed */
  volatile LONG free_count;
  volatile LONG64 live;     /* allocated, free or in use */
  volatile LONG64 in_use;   /* handed out and not yet returned */
  struct ps_faults *faults; /* tests: PS_FAULT_BUFFER makes ps_buf_get fail; NULL in production */
} ps_bufpool;

void ps_bufpool_init(ps_bufpool *p, size_t buf_size, LONG max_free, struct ps_faults *faults);
/* Frees the cached buffers. Every buffer must have been returned. */
void ps_bufpool_close(ps_bufpool *p);
/* A buffer with len = off = 0, next = NULL; NULL when out of memory. */
ps_buf *ps_buf_get(ps_bufpool *p);
void ps_buf_put(ps_bufpool *p, ps_buf *b);

#endif
