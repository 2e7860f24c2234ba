/*
 * libFuzzer target for the msgpack parser. Whatever decodes must re-encode,
 * decode again to the same value and re-encode to the same bytes; JSON either
 * carries it or refuses it with a documented error. Errors must carry an
 * offset inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/value.h"
#include "parser/parser.h"
#include "weft/weft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft_value *v = NULL;
  size_t pos = SIZE_MAX;
  int rc = weft_value_decode("msgpack", data, size, &v, &pos);
  if (rc) {
    if (v || pos > size) abort();
    if (rc != WEFT_EPARSE && rc != WEFT_EUTF8 && rc != WEFT_EDEPTH && rc != WEFT_ENOMEM) abort();
    return 0;
  }

  weft__arena arena;
  weft__arena_init(&arena);
  const weft_value *av = NULL;
  if (weft__parser_msgpack.decode(data, size, 0, &arena, &av, NULL) != 0) abort();
  if (!weft_value_equal(v, av)) abort();

  uint8_t *enc1 = NULL, *enc2 = NULL;
  size_t len1 = 0, len2 = 0;
  if (weft_value_encode("msgpack", v, &enc1, &len1) != 0) abort();
  weft__arena_reset(&arena);
  if (weft__parser_msgpack.decode(enc1, len1, 0, &arena, &av, NULL) != 0) abort();
  if (!weft_value_equal(v, av)) abort();
  if (weft_value_encode("msgpack", av, &enc2, &len2) != 0) abort();
  if (len1 != len2 || memcmp(enc1, enc2, len1) != 0) abort();

  /* JSON refuses non-string keys; what it accepts it must read back (a
   * Buffer object adds two levels, which may cross the depth limit). */
  uint8_t *js = NULL;
  size_t jslen = 0;
  rc = weft_value_encode("json", v, &js, &jslen);
  if (rc == 0) {
    weft_value *j = NULL;
    rc = weft_value_decode("json", js, jslen, &j, NULL);
    if (rc != 0 && rc != WEFT_EDEPTH) abort();
    weft_value_free(j);
    weft_free(js);
  } else if (rc != WEFT_ETYPE) {
    abort();
  }

  weft_value *d = weft_value_dup(v);
  if (!d || !weft_value_equal(v, d)) abort();

  weft_value_free(d);
  weft_free(enc1);
  weft_free(enc2);
  weft__arena_free(&arena);
  weft_value_free(v);
  return 0;
}
