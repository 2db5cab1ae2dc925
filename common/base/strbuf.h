/* A text buffer for rendered responses (metrics, JSON, HTTP heads): bounded,
 * growing up to a cap, and reporting overflow instead of cutting silently.
 * A writer appends freely and checks `overflow` once at the end. */
#ifndef PS_STRBUF_H
#define PS_STRBUF_H

#include <stddef.h>

#include "ps_compat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ps_strbuf {
  char *data;   /* always NUL-terminated once anything was appended (or after init) */
  size_t len;   /* bytes before the NUL */
  size_t cap;   /* bytes allocated (or given), NUL included */
  size_t max;   /* cap never grows past this */
  int owned;    /* data is ours (malloc), grown on demand */
  int overflow; /* an append did not fit: the text is incomplete */
} ps_strbuf;

/* Over caller storage of `size` bytes (at least 1): never grows. */
void ps_strbuf_init_fixed(ps_strbuf *b, char *storage, size_t size);
/* On the heap, growing up to `max` bytes (NUL included). */
void ps_strbuf_init_heap(ps_strbuf *b, size_t max);
void ps_strbuf_free(ps_strbuf *b);

/* Append; on overflow nothing partial is kept of this call and `overflow` is set. */
void ps_strbuf_append(ps_strbuf *b, const char *text, size_t len);
void ps_strbuf_puts(ps_strbuf *b, const char *text);
void ps_strbuf_printf(ps_strbuf *b, const char *fmt, ...) PS_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif
