/* Messages to and from payloads, the same for sparks and clients. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int weft__message_encode(const weft__parser_ops *parser, weft_loop *loop, const weft_value *v,
                         weft__payload **out) {
  *out = NULL;
  /* Binary with a text parser passes through as a binary frame, as Primus's
   * json decoder hands binary frames through untouched. */
  if (!parser->binary && weft_value_type(v) == WEFT_BINARY) {
    const uint8_t *p;
    size_t n;
    weft_value_get_binary(v, &p, &n);
    *out = weft__payload_take(loop, WEFT__P_BINARY, p, n);
    return *out ? 0 : WEFT_ENOMEM;
  }
  weft__buf *b = &loop->scratch;
  b->len = 0;
  int rc = parser->encode(v, b);
  if (rc) return rc;
  *out = weft__payload_take(loop, parser->binary ? WEFT__P_BINARY : WEFT__P_TEXT, b->data, b->len);
  return *out ? 0 : WEFT_ENOMEM;
}

int weft__message_decode(const weft__parser_ops *parser, weft__arena *arena, int binary,
                         const uint8_t *data, size_t len, const weft_value **out,
                         weft_value **owned, char *err, size_t errcap) {
  *out = NULL;
  *owned = NULL;
  if (binary && !parser->binary) {
    *owned = weft_value_new_binary(data, len);
    *out = *owned;
    if (!*owned) snprintf(err, errcap, "out of memory");
    return *owned ? 0 : WEFT_ENOMEM;
  }
  size_t pos = 0;
  int rc = parser->decode(data, len, arena, out, &pos);
  if (rc)
    snprintf(err, errcap, "failed to decode incoming %s data at byte %zu: %s", parser->name, pos,
             weft_strerror(rc));
  return rc;
}

int weft__message_is(const weft_value *v, const char *prefix, const char **rest, size_t *rest_len) {
  const char *s;
  size_t n, k = strlen(prefix);
  if (weft_value_get_string(v, &s, &n) != 0 || n < k || memcmp(s, prefix, k) != 0) return 0;
  if (rest) *rest = s + k;
  if (rest_len) *rest_len = n - k;
  return 1;
}
