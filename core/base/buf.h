/* A growable byte buffer: the one way the core builds bytes to send. */
#ifndef WEFT__BUF_H
#define WEFT__BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct weft__buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} weft__buf;

/* Makes room for `extra` more bytes. Returns 0 or WEFT_ENOMEM. */
int weft__buf_reserve(weft__buf *b, size_t extra);
/* Appends bytes. Returns 0 or WEFT_ENOMEM. */
int weft__buf_append(weft__buf *b, const void *p, size_t n);
int weft__buf_putc(weft__buf *b, uint8_t c);
/* Frees the storage and zeroes the struct. */
void weft__buf_free(weft__buf *b);

#endif
