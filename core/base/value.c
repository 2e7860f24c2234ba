/*
 * Values: constructors, accessors, ownership, the decode arena, and the
 * public encode/decode entry points that dispatch to the parsers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "value.h"
#include "value_internal.h"

/* ------------------------------------------------------------------------ */
/* Arena                                                                    */
/* ------------------------------------------------------------------------ */

#define ARENA_ALIGN WEFT__ARENA_ALIGN
#define ARENA_HDR WEFT__ARENA_HDR
/* The first block is one page: a typical message (a few hundred bytes of
 * JSON) decodes into it with room to spare, and it is the block that reset
 * keeps, so an idle arena costs 4 KiB. */
#define ARENA_FIRST ((size_t)4096)
/* Later blocks double up to this size. Beyond it doubling buys little: a
 * request over a quarter of a block gets a block of its own anyway. */
#define ARENA_MAX_BLOCK ((size_t)64 * 1024)

static unsigned char *block_data(weft__arena_block *b) { return (unsigned char *)b + ARENA_HDR; }

void weft__arena_init(weft__arena *a) {
  a->head = NULL;
  a->cur = NULL;
}

static weft__arena_block *block_new(size_t cap) {
  if (cap > SIZE_MAX - ARENA_HDR) return NULL;
  weft__arena_block *b = malloc(ARENA_HDR + cap);
  if (!b) return NULL;
  b->next = NULL;
  b->cap = cap;
  b->used = 0;
  return b;
}

/* Slow path: the current block is full (or there is none yet). */
static void *arena_grow(weft__arena *a, size_t n) {
  if (n > SIZE_MAX / 2) return NULL;
  if (!a->head) {
    weft__arena_block *b = block_new(ARENA_FIRST - ARENA_HDR);
    if (!b) return NULL;
    a->head = a->cur = b;
    if (n <= b->cap) {
      b->used = n;
      return block_data(b);
    }
  }
  size_t next = (a->cur->cap + ARENA_HDR) * 2;
  if (next > ARENA_MAX_BLOCK) next = ARENA_MAX_BLOCK;
  weft__arena_block *b;
  if (n > next / 4) {
    /* A big request gets a block of its own, so the current block keeps
     * serving small ones instead of being abandoned half empty. */
    b = block_new(n);
    if (!b) return NULL;
    b->used = n;
    b->next = a->cur->next;
    a->cur->next = b;
    return block_data(b);
  }
  b = block_new(next - ARENA_HDR);
  if (!b) return NULL;
  b->used = n;
  b->next = a->cur->next;
  a->cur->next = b;
  a->cur = b;
  return block_data(b);
}

void *weft__arena_grow(weft__arena *a, size_t n, size_t align) {
  if (n == 0) return weft__arena_bump(a, 1, align);
  if (n > SIZE_MAX / 2) return NULL;
  /* A fresh block starts aligned; rounding keeps the next aligned request
   * from wasting the gap. */
  if (align > 1) n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  return arena_grow(a, n);
}

void *weft__arena_alloc(weft__arena *a, size_t n) {
  if (!a) return NULL;
  return weft__arena_bump(a, n, ARENA_ALIGN);
}

void weft__arena_reset(weft__arena *a) {
  if (!a || !a->head) return;
  weft__arena_block *b = a->head->next;
  while (b) {
    weft__arena_block *next = b->next;
    free(b);
    b = next;
  }
  a->head->next = NULL;
  a->head->used = 0;
  a->cur = a->head;
}

void weft__arena_free(weft__arena *a) {
  if (!a) return;
  weft__arena_block *b = a->head;
  while (b) {
    weft__arena_block *next = b->next;
    free(b);
    b = next;
  }
  a->head = a->cur = NULL;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */
/* ------------------------------------------------------------------------ */

const char weft__value_empty[1] = "";

/* ------------------------------------------------------------------------ */
/* Constructors and ownership                                               */
/* ------------------------------------------------------------------------ */

static size_t slots_per_entry(const weft_value *v) { return v->type == WEFT_MAP ? 2 : 1; }

static int is_container(const weft_value *v) {
  return v->type == WEFT_ARRAY || v->type == WEFT_MAP;
}

static int is_owned_root(const weft_value *v) {
  return v && (v->flags & (WEFT__VF_HEAP | WEFT__VF_ARENA_ROOT));
}

static weft_value *node_new(weft_type type) {
  weft_value *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->type = (uint8_t)type;
  v->flags = WEFT__VF_HEAP;
  return v;
}

weft_value *weft_value_new_null(void) { return node_new(WEFT_NULL); }

weft_value *weft_value_new_bool(int b) {
  weft_value *v = node_new(WEFT_BOOL);
  if (v) v->u.b = b ? 1 : 0;
  return v;
}

weft_value *weft_value_new_int(int64_t i) {
  weft_value *v = node_new(WEFT_INT);
  if (v) v->u.i = i;
  return v;
}

weft_value *weft_value_new_float(double d) {
  weft_value *v = node_new(WEFT_FLOAT);
  if (v) v->u.d = d;
  return v;
}

/* Heap copy of n bytes plus a NUL; the shared empty payload when n is 0. */
static int bytes_dup(weft_value *v, const void *p, size_t n) {
  if (n == 0) {
    v->u.str = weft__value_empty;
    return 0;
  }
  if (n == SIZE_MAX) return WEFT_ENOMEM;
  char *s = malloc(n + 1);
  if (!s) return WEFT_ENOMEM;
  memcpy(s, p, n);
  s[n] = '\0';
  v->u.str = s;
  v->len = n;
  v->flags |= WEFT__VF_DATA_HEAP;
  return 0;
}

weft_value *weft_value_new_string(const char *s, size_t len) {
  if (!s && len) return NULL;
  if (len && weft__utf8_check((const uint8_t *)s, len) != len) return NULL;
  weft_value *v = node_new(WEFT_STRING);
  if (!v) return NULL;
  if (bytes_dup(v, s, len)) {
    free(v);
    return NULL;
  }
  return v;
}

weft_value *weft_value_new_binary(const void *p, size_t len) {
  if (!p && len) return NULL;
  weft_value *v = node_new(WEFT_BINARY);
  if (!v) return NULL;
  if (bytes_dup(v, p, len)) {
    free(v);
    return NULL;
  }
  return v;
}

weft_value *weft_value_new_array(void) { return node_new(WEFT_ARRAY); }
weft_value *weft_value_new_map(void) { return node_new(WEFT_MAP); }

/* Frees what `v` owns below itself, not the node. Only nodes whose payload is
 * on the heap are visited: an arena subtree never holds heap memory, because
 * only roots can be modified. */
static void free_payload(weft_value *v) {
  if (!(v->flags & WEFT__VF_DATA_HEAP)) return;
  if (is_container(v)) {
    size_t n = v->len * slots_per_entry(v);
    for (size_t i = 0; i < n; i++)
      free_payload(&v->u.items[i]);
    free(v->u.items);
  } else {
    free((void *)v->u.str);
  }
}

void weft_value_free(weft_value *v) {
  if (!v) return;
  if (v->flags & WEFT__VF_HEAP) {
    free_payload(v);
    free(v);
  } else if (v->flags & WEFT__VF_ARENA_ROOT) {
    free_payload(v);
    /* The box lives inside the arena it describes: copy the arena out first. */
    weft__arena a = ((weft__value_box *)v)->arena;
    weft__arena_free(&a);
  }
}

/* Deep copy of src into the (uninitialised) node dst, all on the heap. */
static int dup_into(const weft_value *src, weft_value *dst) {
  memset(dst, 0, sizeof *dst);
  dst->type = src->type;
  switch ((weft_type)src->type) {
  case WEFT_NULL: return 0;
  case WEFT_BOOL: dst->u.b = src->u.b; return 0;
  case WEFT_INT: dst->u.i = src->u.i; return 0;
  case WEFT_FLOAT: dst->u.d = src->u.d; return 0;
  case WEFT_STRING: dst->flags = src->flags & WEFT__VF_PLAIN; /* fall through */
  case WEFT_BINARY: return bytes_dup(dst, src->u.str, src->len);
  case WEFT_ARRAY:
  case WEFT_MAP: break;
  }
  if (src->len == 0) return 0;
  if (src->len > UINT32_MAX) return WEFT_ENOMEM;
  size_t n = src->len * slots_per_entry(src);
  if (n > SIZE_MAX / sizeof(weft_value)) return WEFT_ENOMEM;
  weft_value *items = malloc(n * sizeof *items);
  if (!items) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    int rc = dup_into(&src->u.items[i], &items[i]);
    if (rc) {
      for (size_t j = 0; j < i; j++)
        free_payload(&items[j]);
      free(items);
      return rc;
    }
  }
  dst->u.items = items;
  dst->len = src->len;
  dst->cap = (uint32_t)src->len;
  dst->flags = WEFT__VF_DATA_HEAP;
  return 0;
}

weft_value *weft_value_dup(const weft_value *v) {
  if (!v) return NULL;
  weft_value *d = malloc(sizeof *d);
  if (!d) return NULL;
  if (dup_into(v, d)) {
    free(d);
    return NULL;
  }
  d->flags |= WEFT__VF_HEAP;
  return d;
}

/* Room for one more entry in an owned root container. A decoded root's
 * children sit in its arena; the first append moves that child array (not
 * the children's payloads, which the arena keeps alive) to the heap. */
static int container_grow(weft_value *c) {
  if ((c->flags & WEFT__VF_DATA_HEAP) && c->len < c->cap) return 0;
  if (c->len >= UINT32_MAX) return WEFT_ENOMEM;
  size_t ncap = c->len < 4 ? 4 : c->len * 2;
  if (ncap > UINT32_MAX) ncap = UINT32_MAX;
  size_t per = slots_per_entry(c);
  if (ncap > SIZE_MAX / (per * sizeof(weft_value))) return WEFT_ENOMEM;
  size_t bytes = ncap * per * sizeof(weft_value);
  weft_value *items;
  if (c->flags & WEFT__VF_DATA_HEAP) {
    items = realloc(c->u.items, bytes);
  } else {
    items = malloc(bytes);
    if (items && c->len) memcpy(items, c->u.items, c->len * per * sizeof(weft_value));
  }
  if (!items) return WEFT_ENOMEM;
  c->u.items = items;
  c->cap = (uint32_t)ncap;
  c->flags |= WEFT__VF_DATA_HEAP;
  return 0;
}

/* Moves the owned root `item` into `slot` and releases its shell. A decoded
 * root is deep-copied first: its arena cannot outlive the box being dropped. */
static int adopt(weft_value *item, weft_value *slot) {
  if (item->flags & WEFT__VF_ARENA_ROOT) {
    weft_value *copy = weft_value_dup(item);
    weft_value_free(item);
    if (!copy) return WEFT_ENOMEM;
    item = copy;
  }
  *slot = *item;
  slot->flags &= (uint8_t)~WEFT__VF_HEAP;
  free(item);
  return 0;
}

int weft_value_array_push(weft_value *arr, weft_value *item) {
  if (!item) return WEFT_EINVAL;
  /* Pushing an array into itself would make a cycle; the caller keeps arr,
   * so it is not freed either. */
  if (item == arr) return WEFT_EINVAL;
  if (!is_owned_root(arr) || arr->type != WEFT_ARRAY || !is_owned_root(item)) {
    weft_value_free(item);
    return WEFT_EINVAL;
  }
  int rc = container_grow(arr);
  if (rc) {
    weft_value_free(item);
    return rc;
  }
  rc = adopt(item, &arr->u.items[arr->len]);
  if (rc) return rc;
  arr->len++;
  return 0;
}

/* Appends key (already a heap node's contents, flags without HEAP) and the
 * owned root val. Frees both on failure. */
static int map_append(weft_value *map, weft_value *key, weft_value *val) {
  int rc = container_grow(map);
  if (rc) {
    free_payload(key);
    weft_value_free(val);
    return rc;
  }
  weft_value *slot = &map->u.items[2 * map->len];
  rc = adopt(val, &slot[1]);
  if (rc) {
    free_payload(key);
    return rc;
  }
  slot[0] = *key;
  map->len++;
  return 0;
}

int weft_value_map_add(weft_value *map, const char *key, size_t keylen, weft_value *val) {
  if (!val) return WEFT_EINVAL;
  if (val == map) return WEFT_EINVAL;
  if (!is_owned_root(map) || map->type != WEFT_MAP || !is_owned_root(val) || (!key && keylen)) {
    weft_value_free(val);
    return WEFT_EINVAL;
  }
  if (keylen && weft__utf8_check((const uint8_t *)key, keylen) != keylen) {
    weft_value_free(val);
    return WEFT_EUTF8;
  }
  weft_value k;
  memset(&k, 0, sizeof k);
  k.type = WEFT_STRING;
  if (bytes_dup(&k, key, keylen)) {
    weft_value_free(val);
    return WEFT_ENOMEM;
  }
  return map_append(map, &k, val);
}

int weft_value_map_add_value(weft_value *map, weft_value *key, weft_value *val) {
  /* Neither the map itself nor one node passed twice can be taken. */
  if (key == map) key = NULL;
  if (val == map) val = NULL;
  if (key && key == val) {
    weft_value_free(key);
    return WEFT_EINVAL;
  }
  if (!key || !val || !is_owned_root(map) || map->type != WEFT_MAP || !is_owned_root(key) ||
      !is_owned_root(val)) {
    weft_value_free(key);
    weft_value_free(val);
    return WEFT_EINVAL;
  }
  weft_value k;
  int rc = adopt(key, &k);
  if (rc) {
    weft_value_free(val);
    return rc;
  }
  return map_append(map, &k, val);
}

/* ------------------------------------------------------------------------ */
/* Equality and accessors                                                   */
/* ------------------------------------------------------------------------ */

int weft_value_equal(const weft_value *a, const weft_value *b) {
  if (!a || !b) return a == b;
  if (a->type != b->type) return 0;
  switch ((weft_type)a->type) {
  case WEFT_NULL: return 1;
  case WEFT_BOOL: return a->u.b == b->u.b;
  case WEFT_INT: return a->u.i == b->u.i;
  case WEFT_FLOAT:
    /* Same value as JavaScript's Object.is: NaN equals NaN, and 0.0 and
     * -0.0 differ, so that an encode/decode round trip can be checked. */
    if (isnan(a->u.d)) return isnan(b->u.d);
    return a->u.d == b->u.d && signbit(a->u.d) == signbit(b->u.d);
  case WEFT_STRING:
  case WEFT_BINARY:
    return a->len == b->len && (a->len == 0 || memcmp(a->u.str, b->u.str, a->len) == 0);
  case WEFT_ARRAY:
  case WEFT_MAP: break;
  }
  if (a->len != b->len) return 0;
  /* Maps compare entry by entry, in order: keys may repeat, and order is
   * what an encoder preserves. */
  size_t n = a->len * slots_per_entry(a);
  for (size_t i = 0; i < n; i++) {
    if (!weft_value_equal(&a->u.items[i], &b->u.items[i])) return 0;
  }
  return 1;
}

weft_type weft_value_type(const weft_value *v) { return v ? (weft_type)v->type : WEFT_NULL; }

static int check_get(const weft_value *v, const void *out, weft_type t) {
  if (!v || !out) return WEFT_EINVAL;
  return v->type == t ? 0 : WEFT_ETYPE;
}

int weft_value_get_bool(const weft_value *v, int *out) {
  int rc = check_get(v, out, WEFT_BOOL);
  if (!rc) *out = v->u.b;
  return rc;
}

int weft_value_get_int(const weft_value *v, int64_t *out) {
  int rc = check_get(v, out, WEFT_INT);
  if (!rc) *out = v->u.i;
  return rc;
}

int weft_value_get_float(const weft_value *v, double *out) {
  int rc = check_get(v, out, WEFT_FLOAT);
  if (!rc) *out = v->u.d;
  return rc;
}

int weft_value_get_string(const weft_value *v, const char **s, size_t *len) {
  int rc = check_get(v, s, WEFT_STRING);
  if (!rc && !len) rc = WEFT_EINVAL;
  if (!rc) {
    *s = v->u.str;
    *len = v->len;
  }
  return rc;
}

int weft_value_get_binary(const weft_value *v, const uint8_t **p, size_t *len) {
  int rc = check_get(v, p, WEFT_BINARY);
  if (!rc && !len) rc = WEFT_EINVAL;
  if (!rc) {
    *p = v->u.bin;
    *len = v->len;
  }
  return rc;
}

size_t weft_value_len(const weft_value *v) {
  if (!v) return 0;
  switch ((weft_type)v->type) {
  case WEFT_STRING:
  case WEFT_BINARY:
  case WEFT_ARRAY:
  case WEFT_MAP: return v->len;
  default: return 0;
  }
}

const weft_value *weft_value_array_at(const weft_value *v, size_t i) {
  if (!v || v->type != WEFT_ARRAY || i >= v->len) return NULL;
  return &v->u.items[i];
}

const weft_value *weft_value_map_key_at(const weft_value *v, size_t i) {
  if (!v || v->type != WEFT_MAP || i >= v->len) return NULL;
  return &v->u.items[2 * i];
}

const weft_value *weft_value_map_value_at(const weft_value *v, size_t i) {
  if (!v || v->type != WEFT_MAP || i >= v->len) return NULL;
  return &v->u.items[2 * i + 1];
}

const weft_value *weft_value_map_get(const weft_value *v, const char *key, size_t keylen) {
  if (!v || v->type != WEFT_MAP || (!key && keylen)) return NULL;
  /* Backwards, so that the last of repeated keys wins, as in JSON.parse. */
  for (size_t i = v->len; i-- > 0;) {
    const weft_value *k = &v->u.items[2 * i];
    if (k->type == WEFT_STRING && k->len == keylen &&
        (keylen == 0 || memcmp(k->u.str, key, keylen) == 0)) {
      return &v->u.items[2 * i + 1];
    }
  }
  return NULL;
}

int weft__value_is_str(const weft_value *v, const char *s, size_t len) {
  return v && v->type == WEFT_STRING && v->len == len &&
         (len == 0 || memcmp(v->u.str, s, len) == 0);
}
