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
/* The bytes are the caller's, writable, and outlive the values: a text
 * parser may leave strings in them (json: a string without escapes is
 * ended in place, its closing quote overwritten by NUL once the whole
 * message decoded; on an error nothing is written). */
#define WEFT__DECODE_IN_PLACE 2

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
  /* Optional: when encode() would write v's string bytes as they are, with
   * nothing around them or one quote byte on each side, that quote byte
   * (json: '"', for a WEFT__VF_PLAIN string) or 0 (raw: any string); -1
   * otherwise. A message is then built in its payload directly, not in a
   * scratch buffer and copied. */
  int (*verbatim)(const weft_value *v);
  /* A parser the application registered (weft__app_parser): its callbacks
   * and their user; NULL for the built-in ones, whose decode/encode are
   * then the ones above. */
  const weft_parser_def *app;
  void *app_user;
} weft__parser_ops;

/* An application's parser as a server or client holds it: the ops the
 * message code calls, a copy of the definition and of its name. */
typedef struct weft__app_parser {
  weft__parser_ops ops;
  weft_parser_def def;
  char *name;
} weft__app_parser;

/* Replaces *slot with a parser made from def and user (the old one's
 * free_user runs). Returns 0, WEFT_EINVAL (no name, an empty or a built-in
 * one, no encode or decode) or WEFT_ENOMEM; on failure *slot is kept and
 * def's free_user is not called. */
int weft__app_parser_set(weft__app_parser **slot, const weft_parser_def *def, void *user);
/* Frees it (calling its free_user); NULL is fine. */
void weft__app_parser_free(weft__app_parser *p);

extern const weft__parser_ops weft__parser_json;
extern const weft__parser_ops weft__parser_msgpack;
extern const weft__parser_ops weft__parser_raw;

/* The parser of that name, or NULL. */
const weft__parser_ops *weft__parser_find(const char *name);

#endif
