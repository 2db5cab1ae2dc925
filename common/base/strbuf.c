/* The bounded, growable text buffer (strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ps_strbuf_init_fixed(ps_strbuf *b, char *storage, size_t size) {
  memset(b, 0, sizeof(*b));
  b->data = storage;
  b->cap = size;
  b->max = size;
  if (size > 0) storage[0] = '\0';
  else b->overflow = 1;
}

void ps_strbuf_init_heap(ps_strbuf *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max;
  b->owned = 1;
}

void ps_strbuf_free(ps_strbuf *b) {
  if (b->owned) free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* Room for `extra` more bytes plus the NUL: 0, or -1 (overflow set). */
static int strbuf__reserve(ps_strbuf *b, size_t extra) {
  size_t need, cap;
  char *grown;
  if (b->overflow) return -1;
  if (extra > b->max || b->len + 1 > b->max - extra) {
    b->overflow = 1;
    return -1;
  }
  need = b->len + extra + 1;
  if (need <= b->cap) return 0;
  if (!b->owned) {
    b->overflow = 1;
    return -1;
  }
  cap = b->cap < 256 ? 256 : b->cap;
  while (cap < need) cap = cap > b->max / 2 ? b->max : cap * 2;
  if (cap > b->max) cap = b->max;
  grown = (char *)realloc(b->data, cap);
  if (grown == NULL) {
    b->overflow = 1;
    return -1;
  }
  b->data = grown;
  b->cap = cap;
  return 0;
}

void ps_strbuf_append(ps_strbuf *b, const char *text, size_t len) {
  if (strbuf__reserve(b, len) != 0) return;
  memcpy(b->data + b->len, text, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void ps_strbuf_puts(ps_strbuf *b, const char *text) { ps_strbuf_append(b, text, strlen(text)); }

void ps_strbuf_printf(ps_strbuf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->overflow = 1;
    return;
  }
  if ((size_t)n < sizeof(small)) {
    ps_strbuf_append(b, small, (size_t)n);
    return;
  }
  /* Longer than the stack copy: format straight into the buffer. */
  if (strbuf__reserve(b, (size_t)n) != 0) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}
