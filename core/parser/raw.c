/*
 * "raw": weft's pass-through encoding, not a Primus parser. A text frame is
 * a string and a binary frame is binary (message.c hands binary frames
 * through before a text parser sees them); both go out as they came. It is
 * what generic WebSocket peers speak (load generators, conformance suites,
 * plain browser WebSockets). Values that are neither string nor binary are
 * sent as JSON text, so replies built as maps still reach such peers.
 */
#include "base/utf8.h"
#include "base/value_internal.h"
#include "parser.h"

static int raw_decode(const uint8_t *data, size_t len, int flags, weft__arena *arena,
                      const weft_value **out, size_t *errpos) {
  size_t bad = flags & WEFT__DECODE_UTF8_VALID ? len : weft__utf8_check(data, len);
  if (bad != len) {
    if (errpos) *errpos = bad;
    return WEFT_EUTF8;
  }
  struct weft_value *v = weft__arena_bump(arena, sizeof(*v), WEFT__ARENA_ALIGN);
  const char *s = v ? weft__arena_strdup(arena, data, len) : NULL;
  if (!s) return WEFT_ENOMEM;
  memset(v, 0, sizeof(*v));
  v->type = WEFT_STRING;
  v->len = len;
  v->u.str = s;
  *out = v;
  return 0;
}

static int raw_encode(const weft_value *v, weft__buf *out) {
  if (v->type == WEFT_STRING) return weft__buf_append(out, v->u.str, v->len);
  return weft__parser_json.encode(v, out);
}

static int raw_verbatim(const weft_value *v) { return v->type == WEFT_STRING ? 0 : -1; }

const weft__parser_ops weft__parser_raw = {.name = "raw",
                                           .binary = 0,
                                           .decode = raw_decode,
                                           .encode = raw_encode,
                                           .verbatim = raw_verbatim};
