/*
 * Internal side of weft_value: the arena that decoders allocate trees in.
 * The struct layout itself is private to value.c and the parsers
 * (value_internal.h).
 */
#ifndef WEFT__VALUE_H
#define WEFT__VALUE_H

#include <stddef.h>

#include "weft/weft.h"

typedef struct weft__arena_block weft__arena_block;

/* Chained blocks; reset keeps the first block so steady-state decoding
 * allocates nothing. Zero-initialise or call weft__arena_init(). */
typedef struct weft__arena {
  weft__arena_block *head;
  weft__arena_block *cur;
} weft__arena;

void weft__arena_init(weft__arena *a);
/* Aligned allocation; NULL when out of memory. */
void *weft__arena_alloc(weft__arena *a, size_t n);
/* Forgets every allocation, keeping the first block for reuse. */
void weft__arena_reset(weft__arena *a);
void weft__arena_free(weft__arena *a);

/* Is this a string and equal to the NUL-free literal? (protocol checks) */
int weft__value_is_str(const weft_value *v, const char *s, size_t len);

#endif
