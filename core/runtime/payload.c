/* Payloads and the loop's pool of small ones (see payload.h). */
#include "payload.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/utf8.h"
#include "loop.h"

static void payload_init(weft__payload *p, int kind, const void *data, size_t len) {
  p->variants = NULL;
  p->refs = 1;
  p->kind = (uint8_t)kind;
  p->framing = 0;
  p->hlen = 0;
  p->tag = 0;
  p->cls = 0;
  p->len = len;
  if (len && data) memcpy(p->data, data, len);
}

weft__payload *weft__payload_new(int kind, const void *data, size_t len) {
  weft__payload *p = malloc(sizeof(*p) + len);
  if (!p) return NULL;
  payload_init(p, kind, data, len);
  p->pool = NULL;
  return p;
}

static const size_t class_data[WEFT__POOL_CLASSES] = {WEFT__POOL_DATA, WEFT__POOL_MED_DATA};
static const size_t class_max[WEFT__POOL_CLASSES] = {WEFT__POOL_MAX, WEFT__POOL_MED_MAX};

weft__payload *weft__payload_take(weft_loop *loop, int kind, const void *data, size_t len) {
  if (len > WEFT__POOL_MED_DATA) return weft__payload_new(kind, data, len);
  int cls = len > WEFT__POOL_DATA;
  weft__payload_pool *pool = &loop->pools[cls];
  weft__payload *p = pool->head;
  if (p) {
    pool->head = p->variants; /* the free list is threaded through `variants` */
    if (--pool->len < pool->low) pool->low = pool->len;
    /* The free list's payloads are cold by the time the next message needs
     * one (a loop turn of syscalls lies between): fetch the next ahead. */
    WEFT__PREFETCH(pool->head);
  } else if (!(p = malloc(sizeof(*p) + class_data[cls]))) {
    return NULL;
  }
  payload_init(p, kind, data, len);
  p->pool = loop;
  p->cls = (uint8_t)cls;
  return p;
}

void weft__payload_pool_free(weft_loop *loop) {
  for (int c = 0; c < WEFT__POOL_CLASSES; c++) {
    weft__payload_pool *pool = &loop->pools[c];
    while (pool->head) {
      weft__payload *p = pool->head;
      pool->head = p->variants;
      free(p);
    }
    pool->len = pool->low = 0;
  }
}

size_t weft__payload_pool_decay(weft_loop *loop) {
  size_t bytes = 0;
  for (int c = 0; c < WEFT__POOL_CLASSES; c++) {
    /* The pool never fell below `low` since the last decay: that many were
     * not needed. Keep the head (the most recently freed, warm in the
     * cache) and free the tail. */
    weft__payload_pool *pool = &loop->pools[c];
    size_t keep = pool->len - pool->low, n = 0;
    weft__payload **at = &pool->head;
    for (size_t i = 0; i < keep && *at; i++)
      at = &(*at)->variants;
    while (*at) {
      weft__payload *p = *at;
      *at = p->variants;
      free(p);
      n++;
    }
    pool->len -= n;
    pool->low = pool->len;
    bytes += n * (sizeof(weft__payload) + class_data[c]);
  }
  return bytes;
}

int weft__payload_message(const void *data, size_t len, int binary, weft__payload **out) {
  *out = NULL;
  if (!binary && !weft__utf8_valid(data, len)) return WEFT_EUTF8;
  *out = weft__payload_new(binary ? WEFT__P_BINARY : WEFT__P_TEXT, data, len);
  return *out ? 0 : WEFT_ENOMEM;
}

void weft__payload_free(weft__payload *p) {
  /* A variant has none of its own: its `variants` links its siblings. */
  for (weft__payload *v = p->tag ? NULL : p->variants, *next; v; v = next) {
    next = v->variants;
    v->variants = NULL;
    weft__payload_release(v);
  }
  weft_loop *loop = p->pool;
  weft__payload_pool *pool = loop ? &loop->pools[p->cls] : NULL;
  if (pool && pool->len < class_max[p->cls]) {
    p->variants = pool->head;
    pool->head = p;
    pool->len++;
    if (!loop->pool_decay_armed) weft__loop_pool_arm(loop);
    return;
  }
  free(p);
}

weft__payload *weft__payload_variant(const weft__payload *p, uint8_t tag) {
  for (weft__payload *v = p->variants; v; v = v->variants)
    if (v->tag == tag) return v;
  return NULL;
}

void weft__payload_add_variant(weft__payload *p, weft__payload *v, uint8_t tag) {
  v->tag = tag;
  v->variants = p->variants;
  p->variants = v;
}
