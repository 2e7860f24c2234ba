/*
 * Private layout of weft_value, shared by value.c and the parsers.
 *
 * One node is 24 bytes on 64-bit targets. Containers keep their children in
 * one contiguous array of nodes (maps interleave key, value, key, value …), so
 * a decoder allocates one block per container, not one per element, and the
 * same accessors walk owned and arena trees alike.
 *
 * Who frees what is decided per node by `flags`:
 *  - WEFT__VF_HEAP: the node itself is a lone malloc block (the root that a
 *    constructor or weft_value_dup() returned). weft_value_free() frees it.
 *  - WEFT__VF_ARENA_ROOT: the node is the first member of a weft__value_box
 *    allocated inside the arena that holds the whole decoded tree; freeing the
 *    node frees the arena. Only weft_value_decode() makes these.
 *  - WEFT__VF_DATA_HEAP: the payload (string bytes, binary bytes, child array)
 *    is malloc'd and belongs to this node. Clear for arena payloads and for
 *    the shared empty string, so free() never touches them.
 * A node with neither root flag is borrowed: weft_value_free() ignores it.
 *  - WEFT__VF_PLAIN: a string whose bytes JSON carries as they are (no '"',
 *    '\\', control or U+2028/U+2029), so the json encoder copies them without
 *    looking. Only a decoder that has seen every byte sets it; it may be
 *    missing from a plain string, never present on another. A string's bytes
 *    never change after it is made, so a copy of the node keeps it.
 */
#ifndef WEFT__VALUE_INTERNAL_H
#define WEFT__VALUE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "value.h"
#include "weft/weft.h"

#define WEFT__VF_HEAP 0x01u
#define WEFT__VF_ARENA_ROOT 0x02u
#define WEFT__VF_DATA_HEAP 0x04u
#define WEFT__VF_PLAIN 0x08u

struct weft_value {
  uint8_t type;  /* weft_type */
  uint8_t flags; /* WEFT__VF_* */
  uint16_t reserved;
  /* Allocated child slots of a WEFT__VF_DATA_HEAP container (entries, i.e.
   * pairs for maps); meaningless otherwise. */
  uint32_t cap;
  /* Bytes of a string/binary (without the string's NUL), elements of an
   * array, entries of a map. */
  size_t len;
  union {
    int b;
    int64_t i;
    double d;
    const char *str;          /* NUL-terminated, may hold NULs */
    const uint8_t *bin;       /* never NULL, even when len is 0 */
    struct weft_value *items; /* array: len nodes; map: 2*len nodes */
  } u;
};

/* What weft_value_decode() returns: the root node followed by the arena that
 * holds it, the box itself being the arena's own allocation. */
typedef struct weft__value_box {
  struct weft_value root; /* first: the box is reached from the root */
  weft__arena arena;
} weft__value_box;

/* Payload of every empty string and binary, so that neither needs memory. */
extern const char weft__value_empty[1];

/* Arena blocks: a header, then `cap` bytes of which `used` are taken. */
struct weft__arena_block {
  weft__arena_block *next;
  size_t cap;
  size_t used;
};

#define WEFT__ARENA_ALIGN ((size_t) _Alignof(max_align_t))
#define WEFT__ARENA_HDR                                                                            \
  ((sizeof(weft__arena_block) + WEFT__ARENA_ALIGN - 1) & ~(WEFT__ARENA_ALIGN - 1))

/* The slow path of the allocators below: a new block. */
void *weft__arena_grow(weft__arena *a, size_t n, size_t align);

/* Bump allocation, inline: decoders allocate once per string and container,
 * and a call per allocation was a sixth of msgpack decoding. `align` is a
 * power of two no larger than WEFT__ARENA_ALIGN. */
static inline void *weft__arena_bump(weft__arena *a, size_t n, size_t align) {
  weft__arena_block *b = a->cur;
  if (b && n && n <= SIZE_MAX / 2) {
    size_t off = (b->used + align - 1) & ~(align - 1);
    if (off <= b->cap && b->cap - off >= n) {
      b->used = off + n;
      return (unsigned char *)b + WEFT__ARENA_HDR + off;
    }
  }
  return weft__arena_grow(a, n, align);
}

/* Unaligned arena allocation for byte payloads (strings and binaries), so a
 * string costs its length plus one, not a multiple of the alignment. */
static inline void *weft__arena_alloc_bytes(weft__arena *a, size_t n) {
  return weft__arena_bump(a, n, 1);
}

/* Copies bytes into the arena as a NUL-terminated payload; `n` may be 0. NULL
 * when out of memory. */
static inline const char *weft__arena_strdup(weft__arena *a, const void *p, size_t n) {
  if (n == 0) return weft__value_empty;
  if (n == SIZE_MAX) return NULL;
  char *s = (char *)weft__arena_bump(a, n + 1, 1);
  if (!s) return NULL;
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* Asked of every incoming message, so answered inline: whether it may be a
 * Primus control string ("primus::…") or a batch envelope (a one-entry
 * map). Most messages are neither. */
static inline int weft__value_maybe_control(const weft_value *v) {
  return v->type == WEFT_STRING && v->len >= 8 && memcmp(v->u.str, "primus::", 8) == 0;
}

static inline int weft__value_maybe_batch(const weft_value *v) {
  return v->type == WEFT_MAP && v->len == 1;
}

#endif
