/* An open-addressing hash map from non-zero 64-bit keys (ids, pointers,
 * string hashes) to pointers, for the extensions' indexes. Linear probing
 * with backward-shift deletion: no tombstones, so lookups stay short after
 * many joins and leaves. */
#ifndef WEFT_EXT_MAP_H
#define WEFT_EXT_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct weft__map_slot {
  uint64_t key; /* 0: empty */
  void *val;
} weft__map_slot;

typedef struct weft__map {
  weft__map_slot *slots;
  size_t cap; /* 0 or a power of two */
  size_t n;
} weft__map;

void *weft__map_get(const weft__map *m, uint64_t key);
/* Inserts or replaces; WEFT_ENOMEM when it cannot grow. */
int weft__map_put(weft__map *m, uint64_t key, void *val);
/* Removes and returns the value, or NULL. Below 1/8 full the table halves,
 * so do not delete while walking `slots`. */
void *weft__map_del(weft__map *m, uint64_t key);
void weft__map_free(weft__map *m);

/* FNV-1a over bytes, never 0. */
uint64_t weft__map_hash(const void *p, size_t len);
/* FNV-1a continued over more bytes from h (WEFT__MAP_HASH_SEED to start),
 * for a key made of pieces; may be 0. */
#define WEFT__MAP_HASH_SEED 0xcbf29ce484222325ULL
uint64_t weft__map_hash_more(uint64_t h, const void *p, size_t len);
static inline uint64_t weft__map_ptr(const void *p) { return (uint64_t)(uintptr_t)p; }

#endif
