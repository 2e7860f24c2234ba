/*
 * Payloads: one encoded message, shared by reference by every connection it
 * is queued on, so a broadcast is encoded once. A framing writes its header
 * once into the room left in front of the data (`head`), so the frame is
 * one contiguous buffer and a broadcast is framed once too. A payload wanted
 * in another form (another framing's header, a compressed body) gets a
 * variant, made once and cached on it, tagged by whoever made it.
 */
#ifndef WEFT__PAYLOAD_H
#define WEFT__PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "weft/weft.h"

enum {
  WEFT__P_TEXT = 1,   /* a message as text (valid UTF-8) */
  WEFT__P_BINARY = 2, /* a message as bytes */
  WEFT__P_RAW = 16,   /* bytes to write as they are (HTTP, control frames) */
  WEFT__P_GATHER = 32 /* a stream's own copy of small frames queued one after another */
};

/* Room for a framing's header in front of the data. */
#define WEFT__PAYLOAD_HEAD 14

typedef struct weft__payload {
  /* The variants of this payload; on a variant, its next sibling; in the
   * loop's pool, the next free payload. */
  struct weft__payload *variants;
  weft_loop *pool; /* returned to this loop's pool when released */
  uint32_t refs;
  uint8_t kind;    /* WEFT__P_* */
  uint8_t framing; /* the framing whose header is in `head`, 0 none yet */
  uint8_t hlen;    /* bytes of that header (right-aligned in `head`) */
  uint8_t tag;     /* a variant's tag, 0 on the original */
  uint8_t cls;     /* the size class of a pooled one (`pool` set) */
  size_t len;
  uint8_t head[WEFT__PAYLOAD_HEAD];
  uint8_t data[]; /* follows head directly: one contiguous frame */
} weft__payload;

weft__payload *weft__payload_new(int kind, const void *data, size_t len);
/* The same from the loop's pools: messages written one by one cost no
 * malloc in steady state. */
weft__payload *weft__payload_take(weft_loop *loop, int kind, const void *data, size_t len);
/* Payloads with at most this much data come from the pools: small ones
 * (most messages), and medium ones, which malloc serves slowly (past its
 * per-thread cache). At most _MAX of each class stay free. */
#define WEFT__POOL_DATA 240
#define WEFT__POOL_MAX 4096
#define WEFT__POOL_MED_DATA 2000
#define WEFT__POOL_MED_MAX 512
/* A TEXT or BINARY payload of pre-encoded bytes; text must be UTF-8
 * (WEFT_EUTF8). */
int weft__payload_message(const void *data, size_t len, int binary, weft__payload **out);
/* Drops a reference (inline: a delivery releases one on every write). */
void weft__payload_free(weft__payload *p);
static inline void weft__payload_release(weft__payload *p) {
  if (p && --p->refs == 0) weft__payload_free(p);
}
void weft__payload_pool_free(weft_loop *loop);
/* Frees the pooled payloads the last interval did not need (see
 * weft__loop_pool_arm); returns the bytes freed. */
size_t weft__payload_pool_decay(weft_loop *loop);

/* The cached variant of `p` with this tag, or NULL. */
weft__payload *weft__payload_variant(const weft__payload *p, uint8_t tag);
/* Caches `v` as p's variant `tag` (taking the caller's reference). */
void weft__payload_add_variant(weft__payload *p, weft__payload *v, uint8_t tag);

/* The memory a payload takes (what its allocation holds), so a queue's
 * limit counts what a peer that does not read really pins: a 2-byte
 * message from the pool costs its whole slot. */
static inline size_t weft__payload_footprint(const weft__payload *p) {
  return sizeof(*p) + (!p->pool ? p->len : p->cls ? WEFT__POOL_MED_DATA : WEFT__POOL_DATA);
}

/* The bytes to write: the header its framing put in front, then the data. */
static inline uint8_t *weft__payload_wire(weft__payload *p) {
  return p->head + sizeof(p->head) - p->hlen;
}
static inline size_t weft__payload_wire_len(const weft__payload *p) { return p->hlen + p->len; }

#endif
