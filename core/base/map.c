#include "map.h"

#include <stdlib.h>

#include "weft/weft.h"

static size_t slot_of(uint64_t key, size_t cap) {
  key ^= key >> 33; /* pointers and sequential ids: mix the high bits in */
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return (size_t)key & (cap - 1);
}

void *weft__map_get(const weft__map *m, uint64_t key) {
  if (!m->cap || !key) return NULL;
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key) return m->slots[i].val;
    if (!m->slots[i].key) return NULL;
  }
}

static int resize(weft__map *m, size_t cap) {
  weft__map_slot *slots = calloc(cap, sizeof(*slots));
  if (!slots) return WEFT_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].key) continue;
    size_t j = slot_of(m->slots[i].key, cap);
    while (slots[j].key)
      j = (j + 1) & (cap - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return 0;
}

int weft__map_put(weft__map *m, uint64_t key, void *val) {
  if (!key) return WEFT_EINVAL;
  if ((m->n + 1) * 4 > m->cap * 3 && resize(m, m->cap ? m->cap * 2 : 16)) return WEFT_ENOMEM;
  size_t i = slot_of(key, m->cap);
  while (m->slots[i].key && m->slots[i].key != key)
    i = (i + 1) & (m->cap - 1);
  if (!m->slots[i].key) m->n++;
  m->slots[i].key = key;
  m->slots[i].val = val;
  return 0;
}

void *weft__map_del(weft__map *m, uint64_t key) {
  if (!m->cap || !key) return NULL;
  size_t mask = m->cap - 1, i = slot_of(key, m->cap);
  while (m->slots[i].key != key) {
    if (!m->slots[i].key) return NULL;
    i = (i + 1) & mask;
  }
  void *val = m->slots[i].val;
  /* Backward shift: move later entries of the run into the hole when their
   * home slot allows it. */
  for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
    size_t home = slot_of(m->slots[j].key, m->cap);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i].key = 0;
  m->slots[i].val = NULL;
  m->n--;
  /* A crowd gone (abandoned sessions, a burst of sparks) gives its slots
   * back: below 1/8 full, halve (still under 1/4, far from the 3/4 that
   * grows; a failed allocation keeps the bigger table). */
  if (m->cap > 16 && m->n * 8 < m->cap) (void)resize(m, m->cap / 2);
  return val;
}

void weft__map_free(weft__map *m) {
  free(m->slots);
  m->slots = NULL;
  m->cap = m->n = 0;
}

uint64_t weft__map_hash_more(uint64_t h, const void *p, size_t len) {
  const unsigned char *s = p;
  for (size_t i = 0; i < len; i++)
    h = (h ^ s[i]) * 0x100000001b3ULL;
  return h;
}

uint64_t weft__map_hash(const void *p, size_t len) {
  uint64_t h = weft__map_hash_more(WEFT__MAP_HASH_SEED, p, len);
  return h ? h : 1;
}
