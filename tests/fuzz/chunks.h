/*
 * Fuzz input fed to a reader the way a socket delivers it: with a seed,
 * in reads of 1..8 bytes mostly and 1..512 sometimes (a xorshift on the
 * seed), so every split of a frame is tried; without one, all at once.
 */
#ifndef WEFT_FUZZ_CHUNKS_H
#define WEFT_FUZZ_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

/* The next read's size, at most `left`; `s` is the state (seed | 1). */
static inline size_t fuzz_chunk(uint32_t *s, int seeded, size_t left) {
  if (!seeded) return left;
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  size_t c = 1 + (*s & 0x100 ? *s % 512 : *s % 8);
  return c < left ? c : left;
}

#endif
