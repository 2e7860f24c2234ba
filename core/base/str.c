#include <stdlib.h>
#include <string.h>

#include "common.h"

char *weft__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

char *weft__strndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* ---- base64 out (RFC 4648, padded) ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t weft__b64_len(size_t n) { return (n + 2) / 3 * 4; }

void weft__b64_encode(uint8_t *out, const uint8_t *in, size_t n) {
  size_t i = 0;
  for (; i + 3 <= n; i += 3, out += 4) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[0] = (uint8_t)b64chars[v >> 18];
    out[1] = (uint8_t)b64chars[(v >> 12) & 63];
    out[2] = (uint8_t)b64chars[(v >> 6) & 63];
    out[3] = (uint8_t)b64chars[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[0] = (uint8_t)b64chars[v >> 18];
    out[1] = (uint8_t)b64chars[(v >> 12) & 63];
    out[2] = i + 1 < n ? (uint8_t)b64chars[(v >> 6) & 63] : '=';
    out[3] = '=';
  }
}
