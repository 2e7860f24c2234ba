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

weft__payload *weft__payload_take(weft_loop *loop, int kind, const void *data, size_t len) {
  if (len > WEFT__POOL_DATA) return weft__payload_new(kind, data, len);
  weft__payload *p = loop->pool;
  if (p) {
    loop->pool = p->variants; /* the free list is threaded through `variants` */
    if (--loop->pool_len < loop->pool_low) loop->pool_low = loop->pool_len;
    /* The free list's payloads are cold by the time the next message needs
     * one (a loop turn of syscalls lies between): fetch the next ahead. */
    WEFT__PREFETCH(loop->pool);
  } else if (!(p = malloc(sizeof(*p) + WEFT__POOL_DATA))) {
    return NULL;
  }
  payload_init(p, kind, data, len);
  p->pool = loop;
  return p;
}

void weft__payload_pool_free(weft_loop *loop) {
  while (loop->pool) {
    weft__payload *p = loop->pool;
    loop->pool = p->variants;
    free(p);
  }
  loop->pool_len = loop->pool_low = 0;
}

size_t weft__payload_pool_decay(weft_loop *loop) {
  /* The pool never fell below pool_low since the last decay: that many were
   * not needed. Keep the head (the most recently freed, warm in the cache)
   * and free the tail. */
  size_t keep = loop->pool_len - loop->pool_low, n = 0;
  weft__payload **at = &loop->pool;
  for (size_t i = 0; i < keep && *at; i++)
    at = &(*at)->variants;
  while (*at) {
    weft__payload *p = *at;
    *at = p->variants;
    free(p);
    n++;
  }
  loop->pool_len -= n;
  loop->pool_low = loop->pool_len;
  return n * (sizeof(weft__payload) + WEFT__POOL_DATA);
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
  if (loop && loop->pool_len < WEFT__POOL_MAX) {
    p->variants = loop->pool;
    loop->pool = p;
    loop->pool_len++;
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
