/*
 * Request heads shared between connections (heads.h).
 */
#include "heads.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "weft/weft.h"

/* The text is a whole head as parsed (weft__http_head): the offset table,
 * the request line's strings, then the header lines from lines_at. */
typedef struct shared_head {
  uint32_t refs;     /* the requests sharing it, + 1 while in the pool */
  uint32_t size;     /* of text */
  uint16_t lines_at; /* where the header lines start in text */
  uint16_t key_at;   /* the key's value in text, WEFT__HTTP_NONE: no key */
  uint64_t hash;
  weft__http_head head; /* the fields; storage is text */
  char text[];
} shared_head;

/* A request that shares the header lines but not the request line (a
 * cache-busting query: Primus's client sends `_primuscb` on every
 * connection) keeps its line here (head_shared WEFT__HEAD_LINE). */
typedef struct own_line {
  shared_head *shared;
  uint16_t method, target, path, query; /* as in its whole head */
  uint16_t len;                         /* of text */
  char text[];                          /* its strings, as after its offset table */
} own_line;

enum { WEFT__HEAD_SHARED = 1, WEFT__HEAD_LINE = 2 };

static shared_head *shared_of(const weft__http_req *r) {
  if (r->head_shared == WEFT__HEAD_LINE) return ((own_line *)(void *)r->head.storage)->shared;
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

/* Where h's header lines start: after the offset table and the request
 * line's strings. */
static size_t lines_at(const weft__http_head *h, size_t size) {
  return h->n_headers ? ((const uint16_t *)(const void *)h->storage)[0] : size;
}

/* The header lines but the key's value (the offset table follows from
 * them). The request line is not in it: requests that differ only there
 * share their lines. */
static uint64_t hash_of(const weft__http_head *h, size_t size, size_t at, size_t key_at) {
  uint16_t f[] = {(uint16_t)h->version_minor, h->n_headers,
                  (uint16_t)(key_at == WEFT__HTTP_NONE ? WEFT__HTTP_NONE : key_at - at)};
  uint64_t x = weft__map_hash_more(WEFT__MAP_HASH_SEED, f, sizeof(f));
  if (key_at == WEFT__HTTP_NONE) {
    x = weft__map_hash_more(x, h->storage + at, size - at);
  } else {
    x = weft__map_hash_more(x, h->storage + at, key_at - at);
    x = weft__map_hash_more(x, h->storage + key_at + 24, size - key_at - 24);
  }
  return x ? x : 1;
}

static int same_lines(const shared_head *e, const weft__http_head *h, size_t size, size_t at,
                      size_t key_at) {
  const char *a = e->text + e->lines_at, *b = h->storage + at;
  size_t len = size - at;
  if (e->size - e->lines_at != len || e->head.version_minor != h->version_minor ||
      e->head.n_headers != h->n_headers)
    return 0;
  if (key_at == WEFT__HTTP_NONE) return e->key_at == WEFT__HTTP_NONE && memcmp(a, b, len) == 0;
  size_t k = key_at - at;
  return e->key_at != WEFT__HTTP_NONE && (size_t)(e->key_at - e->lines_at) == k &&
         memcmp(a, b, k) == 0 && memcmp(a + k + 24, b + k + 24, len - k - 24) == 0;
}

static int same_line(const shared_head *e, const weft__http_head *h, size_t at) {
  const weft__http_head *g = &e->head;
  return e->lines_at == at && g->method == h->method && g->target == h->target &&
         g->path == h->path && g->query == h->query && g->reason == h->reason &&
         g->status == h->status && memcmp(e->text, h->storage, at) == 0;
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

static shared_head *add(weft__heads *hs, const weft__http_head *h, size_t size, size_t at,
                        size_t key_at, uint64_t hash) {
  if (hs->map.n >= WEFT__HEADS_MAX && (sweep(hs) != 0 || hs->map.n >= WEFT__HEADS_MAX)) return NULL;
  shared_head *e = malloc(offsetof(shared_head, text) + size);
  if (!e) return NULL;
  e->refs = 1;
  e->size = (uint32_t)size;
  e->lines_at = (uint16_t)at;
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

/* r's request line in a block of its own, next to the shared lines. */
static int keep_line(weft__http_req *r, shared_head *e, size_t at) {
  weft__http_head *h = &r->head;
  size_t table = (size_t)h->n_headers * 2, len = at - table;
  own_line *l = malloc(offsetof(own_line, text) + len);
  if (!l) return WEFT_ENOMEM;
  l->shared = e;
  l->method = h->method;
  l->target = h->target;
  l->path = h->path;
  l->query = h->query;
  l->len = (uint16_t)len;
  memcpy(l->text, h->storage + table, len);
  free(h->storage);
  h->storage = (char *)l;
  r->head_shared = WEFT__HEAD_LINE;
  return 0;
}

int weft__heads_share(weft__heads *hs, weft__http_req *r) {
  weft__http_head *h = &r->head;
  if (!hs || r->head_shared || !h->storage || h->reason != WEFT__HTTP_NONE) return 0;
  size_t size = weft__http_head_size(h), key_at = WEFT__HTTP_NONE;
  if (size > WEFT__HEADS_MAX_SIZE) return 0;
  size_t at = lines_at(h, size);
  uint8_t key[16] = {0};
  const char *k = weft__http_get(h, "Sec-WebSocket-Key");
  if (k) {
    if (key_decode(k, key) != 0) return 0;
    key_at = (size_t)(k - h->storage);
  }
  uint64_t hash = hash_of(h, size, at, key_at);
  shared_head *e = weft__map_get(&hs->map, hash);
  if (e && !same_lines(e, h, size, at, key_at)) return 0; /* another head with that hash */
  if (!e) {
    uint32_t *seen = &hs->seen[hash % WEFT__HEADS_SEEN], tag = (uint32_t)(hash >> 32) | 1;
    if (*seen != tag) {
      *seen = tag;
      return 0;
    }
    if (!(e = add(hs, h, size, at, key_at, hash))) return 0;
  }
  if (!same_line(e, h, at)) {
    /* A line of its own costs the block's 18 bytes more than the line:
     * only worth it when the table and the lines it no longer holds are
     * larger (not for a head that kept only its URL). */
    if ((size_t)h->n_headers * 2 + (size - at) < WEFT__HEADS_MIN_LINES || keep_line(r, e, at) != 0)
      return 0;
  } else {
    free(h->storage);
    h->storage = e->text;
    r->head_shared = WEFT__HEAD_SHARED;
  }
  e->refs++;
  memcpy(h->key, key, sizeof(key));
  return 1;
}

int weft__http_req_own(weft__http_req *r) {
  if (!r->head_shared) return 0;
  shared_head *e = shared_of(r);
  own_line *l = r->head_shared == WEFT__HEAD_LINE ? (own_line *)(void *)r->head.storage : NULL;
  size_t table = (size_t)e->head.n_headers * 2, at = l ? table + l->len : e->lines_at;
  size_t lines = e->size - e->lines_at;
  char *text = malloc(at + lines);
  if (!text) return WEFT_ENOMEM;
  if (l) { /* its line, then the shared lines, the table shifted to them */
    const uint16_t *from = (const uint16_t *)(const void *)e->text;
    uint16_t *to = (uint16_t *)(void *)text;
    for (size_t i = 0; i < e->head.n_headers; i++)
      to[i] = (uint16_t)(from[i] - e->lines_at + at);
    memcpy(text + table, l->text, l->len);
    memcpy(text + at, e->text + e->lines_at, lines);
  } else {
    memcpy(text, e->text, e->size);
  }
  if (e->key_at != WEFT__HTTP_NONE)
    weft__b64_encode((uint8_t *)text + at + (e->key_at - e->lines_at), r->head.key, 16);
  r->head = e->head;
  r->head.storage = text;
  if (l) {
    r->head.method = l->method;
    r->head.target = l->target;
    r->head.path = l->path;
    r->head.query = l->query;
    free(l);
  }
  r->head_shared = 0;
  unref(e);
  return 0;
}

void weft__http_req_unshare(weft__http_req *r) {
  if (!r->head_shared) return;
  unref(shared_of(r));
  if (r->head_shared == WEFT__HEAD_LINE) free(r->head.storage);
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
