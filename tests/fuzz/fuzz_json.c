/*
 * libFuzzer target for the json parser. Whatever decodes must re-encode, decode
 * again to the same value, re-encode to the same bytes, and survive msgpack.
 * Errors must carry an offset inside the input. Decoding with and without the
 * UTF-8 pass agrees on valid UTF-8. Decoding in place (a writable copy)
 * agrees too, writes nothing on an error, and on success only NULs over
 * closing quotes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/value.h"
#include "parser/parser.h"
#include "weft/weft.h"

/* weft_value_equal, except that a non-finite float may come back as null:
 * JSON has no NaN or Infinity ("1e400" decodes to infinity, which encodes as
 * null, as JSON.stringify does). */
static int same(const weft_value *a, const weft_value *b) {
  double d;
  if (weft_value_get_float(a, &d) == 0 && !isfinite(d)) return weft_value_type(b) == WEFT_NULL;
  weft_type t = weft_value_type(a);
  if (t != weft_value_type(b)) return 0;
  if (t != WEFT_ARRAY && t != WEFT_MAP) return weft_value_equal(a, b);
  size_t n = weft_value_len(a);
  if (n != weft_value_len(b)) return 0;
  for (size_t i = 0; i < n; i++) {
    if (t == WEFT_ARRAY) {
      if (!same(weft_value_array_at(a, i), weft_value_array_at(b, i))) return 0;
    } else if (!same(weft_value_map_key_at(a, i), weft_value_map_key_at(b, i)) ||
               !same(weft_value_map_value_at(a, i), weft_value_map_value_at(b, i))) {
      return 0;
    }
  }
  return 1;
}

/* Decoding `text` with `flags` into an arena agrees with the owned decode
 * (status rc, offset pos, value v). */
static void agrees(const uint8_t *text, size_t size, int flags, int rc, size_t pos,
                   const weft_value *v) {
  weft__arena a;
  weft__arena_init(&a);
  const weft_value *av = NULL;
  size_t apos = SIZE_MAX;
  int arc = weft__parser_json.decode(text, size, flags, &a, &av, &apos);
  if (arc != rc || (rc && apos != pos) || (!rc && !weft_value_equal(v, av))) abort();
  weft__arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft_value *v = NULL;
  size_t pos = SIZE_MAX;
  int rc = weft_value_decode("json", data, size, &v, &pos);
  /* Text the frame reader has validated skips the UTF-8 pass and must come
   * out the same: same status, same error offset, same value. */
  if (weft__utf8_check(data, size) == size) agrees(data, size, WEFT__DECODE_UTF8_VALID, rc, pos, v);
  /* In place, on a copy: it agrees too, and the copy changed only where a
   * '"' became NUL, and only when it decoded. */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) abort();
  if (size) memcpy(copy, data, size);
  agrees(copy, size, WEFT__DECODE_IN_PLACE, rc, pos, v);
  for (size_t i = 0; i < size; i++)
    if (copy[i] != data[i] && (rc || data[i] != '"' || copy[i] != 0)) abort();
  free(copy);
  if (rc) {
    if (v || pos > size) abort();
    if (rc != WEFT_EPARSE && rc != WEFT_EUTF8 && rc != WEFT_EDEPTH && rc != WEFT_ENOMEM) abort();
    return 0;
  }

  /* The arena entry point agrees with the owned one. */
  weft__arena arena;
  weft__arena_init(&arena);
  const weft_value *av = NULL;
  if (weft__parser_json.decode(data, size, 0, &arena, &av, NULL) != 0) abort();
  if (!weft_value_equal(v, av)) abort();

  uint8_t *enc1 = NULL, *enc2 = NULL;
  size_t len1 = 0, len2 = 0;
  if (weft_value_encode("json", v, &enc1, &len1) != 0) abort();
  weft__arena_reset(&arena);
  if (weft__parser_json.decode(enc1, len1, 0, &arena, &av, NULL) != 0) abort();
  if (!same(v, av)) abort();
  if (weft_value_encode("json", av, &enc2, &len2) != 0) abort();
  if (len1 != len2 || memcmp(enc1, enc2, len1) != 0) abort();

  /* Everything JSON carries, msgpack carries exactly. */
  uint8_t *mp = NULL;
  size_t mplen = 0;
  if (weft_value_encode("msgpack", v, &mp, &mplen) != 0) abort();
  weft_value *m = NULL;
  if (weft_value_decode("msgpack", mp, mplen, &m, NULL) != 0) abort();
  if (!weft_value_equal(v, m)) abort();

  weft_value *d = weft_value_dup(v);
  if (!d || !weft_value_equal(v, d)) abort();

  weft_value_free(d);
  weft_value_free(m);
  weft_free(mp);
  weft_free(enc1);
  weft_free(enc2);
  weft__arena_free(&arena);
  weft_value_free(v);
  return 0;
}
