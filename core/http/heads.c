/*
 * Request heads shared between connections (heads.h).
 */
#include "heads.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "weft/weft.h"

typedef struct shared_head {
  uint32_t refs;   /* the requests sharing it, + 1 while in the pool */
  uint32_t size;   /* of text */
  uint16_t key_at; /* the key's value in text, WEFT__HTTP_NONE: no key */
  uint64_t hash;
  weft__http_head head; /* the fields; storage is text */
  char text[];
} shared_head;

static shared_head *shared_of(const weft__http_req *r) {
  return (shared_head *)(void *)(r->head.storage - offsetof(shared_head, text));
}

static void unref(shared_head *e) {
  if (--e->refs == 0) free(e);
}

/* ---- the key: 16 bytes as 22 base64 symbols and "==" ---- */

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The key's bytes, when `text` is exactly their encoding: a key whose
 * last symbol has unused bits set (accepted, as Node's ws does) would not
 * come back as sent. */
static int key_decode(const char *text, uint8_t out[16]) {
  if (strlen(text) != 24) return -1;
  uint32_t acc = 0;
  int bits = 0, n = 0;
  for (int i = 0; i < 22; i++) {
    int v = b64_value(text[i]);
    if (v < 0) return -1;
    acc = (acc << 6 | (uint32_t)v) & 0xffff;
    if ((bits += 6) >= 8 && n < 16) out[n++] = (uint8_t)(acc >> (bits -= 8));
  }
  uint8_t again[24];
  weft__b64_encode(again, out, 16);
  return memcmp(again, text, 24) == 0 ? 0 : -1;
}

/* ---- the pool ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t len) {
  const unsigned char *s = p;
  for (size_t i = 0; i < len; i++)
    h = (h ^ s[i]) * 0x100000001b3ULL;
  return h;
}

/* The fields and the text but the key. */
static uint64_t hash_of(const weft__http_head *h, size_t size, size_t key_at) {
  uint16_t f[] = {h->method,
                  h->target,
                  h->path,
                  h->query,
                  h->reason,
                  (uint16_t)h->status,
                  (uint16_t)h->version_minor,
                  h->n_headers};
  uint64_t x = fnv(0xcbf29ce484222325ULL, f, sizeof(f));
  if (key_at == WEFT__HTTP_NONE) {
    x = fnv(x, h->storage, size);
  } else {
    x = fnv(x, h->storage, key_at);
    x = fnv(x, h->storage + key_at + 24, size - key_at - 24);
  }
  return x ? x : 1;
}

static int same(const shared_head *e, const weft__http_head *h, size_t size, size_t key_at) {
  const weft__http_head *g = &e->head;
  if (e->size != size || e->key_at != key_at || g->method != h->method || g->target != h->target ||
      g->path != h->path || g->query != h->query || g->reason != h->reason ||
      g->status != h->status || g->version_minor != h->version_minor ||
      g->n_headers != h->n_headers)
    return 0;
  if (key_at == WEFT__HTTP_NONE) return memcmp(e->text, h->storage, size) == 0;
  return memcmp(e->text, h->storage, key_at) == 0 &&
         memcmp(e->text + key_at + 24, h->storage + key_at + 24, size - key_at - 24) == 0;
}

/* Lets go of the heads no request shares any more. Returns 0, or
 * WEFT_ENOMEM with the pool unchanged. */
static int sweep(weft__heads *hs) {
  weft__map live = {0};
  for (size_t i = 0; i < hs->map.cap; i++) {
    shared_head *e = hs->map.slots[i].val;
    if (hs->map.slots[i].key && e->refs > 1 && weft__map_put(&live, e->hash, e) != 0) {
      weft__map_free(&live);
      return WEFT_ENOMEM;
    }
  }
  for (size_t i = 0; i < hs->map.cap; i++)
    if (hs->map.slots[i].key) {
      shared_head *e = hs->map.slots[i].val;
      if (e->refs == 1) free(e);
    }
  weft__map_free(&hs->map);
  hs->map = live;
  return 0;
}

static shared_head *add(weft__heads *hs, const weft__http_head *h, size_t size, size_t key_at,
                        uint64_t hash) {
  if (hs->map.n >= WEFT__HEADS_MAX && (sweep(hs) != 0 || hs->map.n >= WEFT__HEADS_MAX)) return NULL;
  shared_head *e = malloc(offsetof(shared_head, text) + size);
  if (!e) return NULL;
  e->refs = 1;
  e->size = (uint32_t)size;
  e->key_at = (uint16_t)key_at;
  e->hash = hash;
  e->head = *h;
  e->head.storage = e->text;
  memcpy(e->text, h->storage, size);
  if (weft__map_put(&hs->map, hash, e) != 0) {
    free(e);
    return NULL;
  }
  return e;
}

int weft__heads_share(weft__heads *hs, weft__http_req *r) {
  weft__http_head *h = &r->head;
  if (!hs || r->head_shared || !h->storage) return 0;
  size_t size = weft__http_head_size(h), key_at = WEFT__HTTP_NONE;
  if (size > WEFT__HEADS_MAX_SIZE) return 0;
  uint8_t key[16] = {0};
  const char *k = weft__http_get(h, "Sec-WebSocket-Key");
  if (k) {
    if (key_decode(k, key) != 0) return 0;
    key_at = (size_t)(k - h->storage);
  }
  uint64_t hash = hash_of(h, size, key_at);
  shared_head *e = weft__map_get(&hs->map, hash);
  if (e && !same(e, h, size, key_at)) return 0; /* another head with that hash */
  if (!e) {
    uint32_t *seen = &hs->seen[hash % WEFT__HEADS_SEEN], tag = (uint32_t)(hash >> 32) | 1;
    if (*seen != tag) {
      *seen = tag;
      return 0;
    }
    if (!(e = add(hs, h, size, key_at, hash))) return 0;
  }
  e->refs++;
  free(h->storage);
  h->storage = e->text;
  memcpy(h->key, key, sizeof(key));
  r->head_shared = 1;
  return 1;
}

int weft__http_req_own(weft__http_req *r) {
  if (!r->head_shared) return 0;
  shared_head *e = shared_of(r);
  char *text = malloc(e->size);
  if (!text) return WEFT_ENOMEM;
  memcpy(text, e->text, e->size);
  if (e->key_at != WEFT__HTTP_NONE) weft__b64_encode((uint8_t *)text + e->key_at, r->head.key, 16);
  r->head = e->head;
  r->head.storage = text;
  r->head_shared = 0;
  unref(e);
  return 0;
}

void weft__http_req_unshare(weft__http_req *r) {
  if (!r->head_shared) return;
  unref(shared_of(r));
  memset(&r->head, 0, sizeof(r->head));
  r->head.method = r->head.target = r->head.path = r->head.query = r->head.reason = WEFT__HTTP_NONE;
  r->head_shared = 0;
}

void weft__heads_free(weft__heads *hs) {
  for (size_t i = 0; i < hs->map.cap; i++)
    if (hs->map.slots[i].key) unref(hs->map.slots[i].val);
  weft__map_free(&hs->map);
  memset(hs, 0, sizeof(*hs));
}
