#include "buf.h"

#include <stdlib.h>

#include "weft/weft.h"

int weft__buf_reserve(weft__buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  if (extra > SIZE_MAX / 2 - b->len) return WEFT_ENOMEM;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < extra)
    cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p) return WEFT_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int weft__buf_append(weft__buf *b, const void *p, size_t n) {
  if (n == 0) return 0;
  int rc = weft__buf_reserve(b, n);
  if (rc) return rc;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int weft__buf_putc(weft__buf *b, uint8_t c) {
  if (b->len == b->cap) {
    int rc = weft__buf_reserve(b, 1);
    if (rc) return rc;
  }
  b->data[b->len++] = c;
  return 0;
}

void weft__buf_free(weft__buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* The public way to free what weft allocated for a caller
 * (weft_value_encode()): the same allocator as the buffers. */
void weft_free(void *ptr) { free(ptr); }
