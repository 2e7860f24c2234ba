/* Random bytes for ids, WebSocket keys and masks, and backoff jitter:
 * getrandom() read in blocks so a message costs no syscall. */
#ifndef WEFT__RAND_H
#define WEFT__RAND_H

#include <stddef.h>
#include <stdint.h>

typedef struct weft__rand {
  uint8_t pool[256];
  size_t avail;
} weft__rand;

/* Fills out[0..n). Returns 0 or WEFT_EIO (the system has no randomness). */
int weft__rand_bytes(weft__rand *r, uint8_t *out, size_t n);

#endif
