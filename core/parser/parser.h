/*
 * Parsers (encodings) behind one ops table. A parser does no I/O: it turns
 * bytes into a value tree and back. Decoded trees live in an arena that the
 * caller resets after dispatch, so the hot path makes no per-message malloc.
 */
#ifndef WEFT__PARSER_H
#define WEFT__PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/value.h"
#include "weft/weft.h"

#define WEFT__DECODE_UTF8_VALID 1

typedef struct weft__parser_ops {
  const char *name;
  /* 1: messages travel as binary frames (msgpack); 0: text frames (json). */
  int binary;
  /* Decodes exactly one message from data[0..len). On success *out points to
   * a tree allocated in `arena` (valid until the arena is reset or freed).
   * Returns 0 or WEFT_EPARSE / WEFT_EUTF8 / WEFT_EDEPTH / WEFT_ENOMEM; on
   * error *errpos (when not NULL) is the byte offset of the failure.
   * WEFT__DECODE_UTF8_VALID in `flags`: the bytes are known to be valid
   * UTF-8 (a text frame the WebSocket reader validated), so a text parser
   * need not check them again. */
  int (*decode)(const uint8_t *data, size_t len, int flags, weft__arena *arena,
                const weft_value **out, size_t *errpos);
  /* Appends the encoding of `v` to `out`. Returns 0 or WEFT_EDEPTH /
   * WEFT_ETYPE / WEFT_ENOMEM (out->len is then unspecified). */
  int (*encode)(const weft_value *v, weft__buf *out);
} weft__parser_ops;

extern const weft__parser_ops weft__parser_json;
extern const weft__parser_ops weft__parser_msgpack;
extern const weft__parser_ops weft__parser_raw;

/* The parser of that name, or NULL. */
const weft__parser_ops *weft__parser_find(const char *name);

#endif
