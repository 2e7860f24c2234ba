/* Shared between the extensions: rooms answer the emitter's reserved
 * "weft::join"/"weft::leave" events, and both build packets as borrowed
 * views over existing values (no copies, no mallocs per message). */
#ifndef WEFT_EXT_INTERNAL_H
#define WEFT_EXT_INTERNAL_H

#include "../value_internal.h"
#include "weft/ext.h"

#define WEFT__EMITTER_PLUGIN "weft.emitter"
#define WEFT__ROOMS_PLUGIN "weft.rooms"
#define WEFT__NAME_MAX 255

/* A node that borrows `v`'s payload: freeing it never frees anything. */
static inline weft_value weft__value_view(const weft_value *v) {
  weft_value n = *v;
  n.flags = 0;
  return n;
}

/* Borrowed nodes built on the stack: packets cost no allocation. */
static inline void weft__ext_str(weft_value *n, const char *s) {
  memset(n, 0, sizeof(*n));
  n->type = WEFT_STRING;
  n->len = strlen(s);
  n->u.str = s;
}

static inline void weft__ext_int(weft_value *n, int64_t i) {
  memset(n, 0, sizeof(*n));
  n->type = WEFT_INT;
  n->u.i = i;
}

/* A map over `n` key/value pairs laid out in kv[0..2n). */
static inline void weft__ext_map(weft_value *map, weft_value *kv, size_t n) {
  memset(map, 0, sizeof(*map));
  map->type = WEFT_MAP;
  map->len = n;
  map->u.items = kv;
}

/* Is s[0..len) a valid name: 1..255 bytes, UTF-8, no NUL. */
int weft__ext_name_ok(const char *s, size_t len);

/* rooms.c: a client asks to join or leave; answers through `reply` (may be
 * NULL when the client asked for no answer). */
void weft__rooms_request(weft_rooms *rooms, weft_spark *spark, const weft_value *args, int join,
                         weft_reply *reply);

#endif
