/*
 * The "msgpack" parser: msgpack-c for both directions.
 *
 * Decoding instantiates msgpack-c's own unpacking state machine
 * (msgpack/unpack_template.h, the code behind msgpack_unpack_next) with
 * callbacks that build weft values straight in the arena. Going through
 * msgpack_unpack_next instead would cost a zone malloc per message and a
 * second walk to convert msgpack_objects, and it has two hazards (measured,
 * see docs/parsers.md):
 *  - its stack is MSGPACK_EMBED_STACK_SIZE = 32 deep, so a 33-deep message
 *    fails with MSGPACK_UNPACK_NOMEM_ERROR; here the stack is sized to
 *    WEFT_VALUE_MAX_DEPTH;
 *  - it allocates an array's or map's elements from the declared count before
 *    any element arrives: a 6-byte array32 header makes it allocate 2 GiB.
 *    Here every declared element must fit in the bytes of the message (each
 *    takes at least one byte), so a decode allocates O(input) at most.
 * Declared string and binary lengths need no guard: the state machine waits
 * for all their bytes before calling back, so a truncated one is EPARSE.
 *
 * Encoding uses msgpack-c's packer, which picks the smallest integer format,
 * writing into the weft__buf.
 */
#include <stdlib.h>
#include <string.h>

/* The template's stack (one entry per open container) lives in the decode
 * context on the C stack: 512 x 64 bytes. */
#define MSGPACK_EMBED_STACK_SIZE WEFT_VALUE_MAX_DEPTH

#include <msgpack.h>
#include <msgpack/unpack_define.h>

#include "base/utf8.h"
#include "base/value_internal.h"
#include "parser.h"

/* ------------------------------------------------------------------------ */
/* Decoder                                                                  */
/* ------------------------------------------------------------------------ */

/* Callback failures, distinct from the template's own -1 (parse error) and
 * -2 (stack full, i.e. nested too deeply). */
#define CB_FAIL (-100)

typedef struct weft__mp_user {
  weft__arena *arena;
  size_t len;
  /* Elements that containers may still declare: the bytes of the message. */
  size_t budget;
  int err;
  size_t errpos; /* SIZE_MAX: use the state machine's offset */
} weft__mp_user;

static int cb_fail(weft__mp_user *u, int err, size_t pos) {
  u->err = err;
  u->errpos = pos;
  return CB_FAIL;
}

static inline weft_value weft__mp_cb_root(weft__mp_user *u) {
  (void)u;
  weft_value v = {.type = WEFT_NULL};
  return v;
}

static inline int set_int(weft_value *o, int64_t i) {
  memset(o, 0, sizeof *o);
  o->type = WEFT_INT;
  o->u.i = i;
  return 0;
}

static inline int set_float(weft_value *o, double d) {
  memset(o, 0, sizeof *o);
  o->type = WEFT_FLOAT;
  o->u.d = d;
  return 0;
}

static inline int weft__mp_cb_uint8(weft__mp_user *u, uint8_t d, weft_value *o) {
  (void)u;
  return set_int(o, d);
}
static inline int weft__mp_cb_uint16(weft__mp_user *u, uint16_t d, weft_value *o) {
  (void)u;
  return set_int(o, d);
}
static inline int weft__mp_cb_uint32(weft__mp_user *u, uint32_t d, weft_value *o) {
  (void)u;
  return set_int(o, d);
}
static inline int weft__mp_cb_uint64(weft__mp_user *u, uint64_t d, weft_value *o) {
  (void)u;
  /* No int64 holds it: the nearest double, as JavaScript would read it. */
  if (d > INT64_MAX) return set_float(o, (double)d);
  return set_int(o, (int64_t)d);
}
static inline int weft__mp_cb_int8(weft__mp_user *u, int8_t d, weft_value *o) {
  (void)u;
  return set_int(o, d);
}
static inline int weft__mp_cb_int16(weft__mp_user *u, int16_t d, weft_value *o) {
  (void)u;
  return set_int(o, d);
}
static inline int weft__mp_cb_int32(weft__mp_user *u, int32_t d, weft_value *o) {
  (void)u;
  return set_int(o, d);
}
static inline int weft__mp_cb_int64(weft__mp_user *u, int64_t d, weft_value *o) {
  (void)u;
  return set_int(o, d);
}
static inline int weft__mp_cb_float(weft__mp_user *u, float d, weft_value *o) {
  (void)u;
  return set_float(o, (double)d);
}
static inline int weft__mp_cb_double(weft__mp_user *u, double d, weft_value *o) {
  (void)u;
  return set_float(o, d);
}

static inline int set_simple(weft_value *o, weft_type t, int b) {
  memset(o, 0, sizeof *o);
  o->type = (uint8_t)t;
  o->u.b = b;
  return 0;
}
static inline int weft__mp_cb_nil(weft__mp_user *u, weft_value *o) {
  (void)u;
  return set_simple(o, WEFT_NULL, 0);
}
static inline int weft__mp_cb_true(weft__mp_user *u, weft_value *o) {
  (void)u;
  return set_simple(o, WEFT_BOOL, 1);
}
static inline int weft__mp_cb_false(weft__mp_user *u, weft_value *o) {
  (void)u;
  return set_simple(o, WEFT_BOOL, 0);
}

/* Children array for n entries of `per` slots, after charging the budget. */
static inline int start_container(weft__mp_user *u, weft_type t, size_t n, size_t per,
                                  weft_value *o) {
  memset(o, 0, sizeof *o);
  o->type = (uint8_t)t;
  if (n == 0) return 0;
  /* More elements than bytes left: the message ends before they could. */
  if (n > u->budget / per) return cb_fail(u, WEFT_EPARSE, u->len);
  u->budget -= n * per;
  o->u.items = weft__arena_bump(u->arena, n * per * sizeof(weft_value), WEFT__ARENA_ALIGN);
  if (!o->u.items) return cb_fail(u, WEFT_ENOMEM, SIZE_MAX);
  return 0;
}

static inline int weft__mp_cb_array(weft__mp_user *u, unsigned int n, weft_value *o) {
  return start_container(u, WEFT_ARRAY, n, 1, o);
}

static inline int weft__mp_cb_array_item(weft__mp_user *u, weft_value *c, weft_value o) {
  (void)u;
  c->u.items[c->len++] = o;
  return 0;
}

static inline int weft__mp_cb_map(weft__mp_user *u, unsigned int n, weft_value *o) {
  return start_container(u, WEFT_MAP, n, 2, o);
}

static inline int weft__mp_cb_map_item(weft__mp_user *u, weft_value *c, weft_value k,
                                       weft_value v) {
  (void)u;
  c->u.items[2 * c->len] = k;
  c->u.items[2 * c->len + 1] = v;
  c->len++;
  return 0;
}

static inline int set_bytes(weft__mp_user *u, weft_type t, const char *p, size_t l, weft_value *o) {
  memset(o, 0, sizeof *o);
  o->type = (uint8_t)t;
  o->len = l;
  o->u.str = weft__arena_strdup(u->arena, p, l);
  return o->u.str ? 0 : cb_fail(u, WEFT_ENOMEM, SIZE_MAX);
}

static inline int weft__mp_cb_str(weft__mp_user *u, const char *b, const char *p, unsigned int l,
                                  weft_value *o) {
  size_t bad = weft__utf8_check((const uint8_t *)p, l);
  if (bad != l) return cb_fail(u, WEFT_EUTF8, (size_t)(p - b) + bad);
  return set_bytes(u, WEFT_STRING, p, l, o);
}

static inline int weft__mp_cb_bin(weft__mp_user *u, const char *b, const char *p, unsigned int l,
                                  weft_value *o) {
  (void)b;
  return set_bytes(u, WEFT_BINARY, p, l, o);
}

/* Extension types (timestamps included) have no weft value. */
static inline int weft__mp_cb_ext(weft__mp_user *u, const char *b, const char *p, unsigned int l,
                                  weft_value *o) {
  (void)l;
  (void)o;
  return cb_fail(u, WEFT_EPARSE, (size_t)(p - b));
}

#define msgpack_unpack_struct(name) struct weft__mp##name
#define msgpack_unpack_func(ret, name) static ret weft__mp##name
#define msgpack_unpack_callback(name) weft__mp_cb##name
#define msgpack_unpack_object weft_value
#define msgpack_unpack_user weft__mp_user

#include <msgpack/unpack_template.h>

static int mp_decode(const uint8_t *data, size_t len, int flags, weft__arena *arena,
                     const weft_value **out, size_t *errpos) {
  (void)flags; /* msgpack strings are checked one by one, whatever the frame */
  struct weft__mp_context ctx;
  weft__mp_init(&ctx);
  ctx.user.arena = arena;
  ctx.user.len = len;
  ctx.user.budget = len;
  ctx.user.err = 0;
  ctx.user.errpos = SIZE_MAX;
  size_t off = 0;
  int rc = 0, r = weft__mp_execute(&ctx, (const char *)data, len, &off);
  size_t pos = off;
  if (r < 0) {
    if (ctx.user.err) {
      rc = ctx.user.err;
      if (ctx.user.errpos != SIZE_MAX) pos = ctx.user.errpos;
    } else {
      rc = r == MSGPACK_UNPACK_NOMEM_ERROR ? WEFT_EDEPTH : WEFT_EPARSE;
    }
  } else if (r == 0) {
    rc = WEFT_EPARSE; /* truncated */
    pos = len;
  } else if (off != len) {
    rc = WEFT_EPARSE; /* bytes after the one object */
  } else {
    weft_value *root = weft__arena_alloc(arena, sizeof *root);
    if (!root) return WEFT_ENOMEM;
    *root = weft__mp_data(&ctx);
    *out = root;
    return 0;
  }
  if (errpos) *errpos = pos > len ? len : pos;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Encoder                                                                  */
/* ------------------------------------------------------------------------ */

/* The packer calls this for every header and body: keep the common case (it
 * fits) free of calls into buf.c. */
static int mp_write(void *data, const char *buf, size_t len) {
  weft__buf *b = data;
  if (b->cap - b->len < len && weft__buf_reserve(b, len)) return -1;
  memcpy(b->data + b->len, buf, len);
  b->len += len;
  return 0;
}

static int encode_value(msgpack_packer *pk, const weft_value *v, int depth) {
  int r;
  switch ((weft_type)v->type) {
  case WEFT_NULL: r = msgpack_pack_nil(pk); break;
  case WEFT_BOOL: r = v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
  case WEFT_INT: r = msgpack_pack_int64(pk, v->u.i); break;
  case WEFT_FLOAT: r = msgpack_pack_double(pk, v->u.d); break;
  case WEFT_STRING:
    if (v->len > UINT32_MAX) return WEFT_ETYPE;
    r = msgpack_pack_str(pk, v->len) || msgpack_pack_str_body(pk, v->u.str, v->len);
    break;
  case WEFT_BINARY:
    if (v->len > UINT32_MAX) return WEFT_ETYPE;
    r = msgpack_pack_bin(pk, v->len) || msgpack_pack_bin_body(pk, v->u.bin, v->len);
    break;
  case WEFT_ARRAY:
  case WEFT_MAP: {
    if (depth >= WEFT_VALUE_MAX_DEPTH) return WEFT_EDEPTH;
    if (v->len > UINT32_MAX) return WEFT_ETYPE;
    int map = v->type == WEFT_MAP;
    r = map ? msgpack_pack_map(pk, v->len) : msgpack_pack_array(pk, v->len);
    if (r) break;
    size_t n = map ? 2 * v->len : v->len;
    for (size_t i = 0; i < n; i++) {
      int rc = encode_value(pk, &v->u.items[i], depth + 1);
      if (rc) return rc;
    }
    return 0;
  }
  default: return WEFT_ETYPE;
  }
  return r ? WEFT_ENOMEM : 0;
}

static int mp_encode(const weft_value *v, weft__buf *out) {
  if (!v || !out) return WEFT_EINVAL;
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, mp_write);
  return encode_value(&pk, v, 0);
}

const weft__parser_ops weft__parser_msgpack = {
    .name = "msgpack",
    .binary = 1,
    .decode = mp_decode,
    .encode = mp_encode,
};
