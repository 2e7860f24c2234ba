/*
 * The "json" parser's encoder (see json.c): JSON.stringify's output, plus
 * \u2028/\u2029 escapes and ".0" on integral floats.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/value_internal.h"
#include "json.h"

/* Appends inline: the encoder writes a few bytes at a time, and a call into
 * buf.c for each was a fifth of the encoding time. */
static inline int put(weft__buf *b, const void *p, size_t n) {
  if (b->cap - b->len < n && weft__buf_reserve(b, n)) return WEFT_ENOMEM;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static inline int put1(weft__buf *b, char c) {
  if (b->len == b->cap && weft__buf_reserve(b, 1)) return WEFT_ENOMEM;
  b->data[b->len++] = (uint8_t)c;
  return 0;
}

#if !WEFT__JSON_SWAR
/* 1: escape; 2: first byte of U+2028/U+2029 (E2 80 A8/A9), look closer. */
// clang-format off
static const uint8_t esc_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    [0xE2] = 2,
};
// clang-format on
#endif

#if WEFT__JSON_SWAR
/* High bit of each byte that needs escaping: as in a decoded string, plus
 * the E2 that may start U+2028/U+2029 (looked at closer by the caller). */
static inline uint64_t esc_mask(uint64_t x) {
  uint64_t y = x & WEFT__LOWS;
  uint64_t ok = (x & weft__swar_ne7(y, 0xE2)) | (~x & weft__swar_ascii_ok(y));
  return ~ok & WEFT__HIGHS;
}
#endif

/* Length of the run at s[0..n) that needs no escaping (no esc_class byte). */
static inline size_t plain_run(const uint8_t *s, size_t n) {
#if WEFT__JSON_SWAR
  uint64_t x, m;
  if (n < 8) { /* padded with a byte that needs nothing */
    x = WEFT__REP('a');
    memcpy(&x, s, n);
    m = esc_mask(x);
    return m ? weft__swar_first(m) : n;
  }
  size_t i = 0;
#if WEFT__JSON_SSE2
  for (; n - i >= 32; i += 32) {
    uint32_t m32 = weft__sse2_special32(s + i, 1);
    if (m32) return i + (unsigned)__builtin_ctz(m32);
  }
  if (n - i >= 16) {
    unsigned m16 = (unsigned)_mm_movemask_epi8(
        weft__sse2_special(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), 1));
    if (m16) return i + (unsigned)__builtin_ctz(m16);
    i += 16;
  }
#endif
  for (; n - i >= 8; i += 8) {
    memcpy(&x, s + i, 8);
    m = esc_mask(x);
    if (m) return i + weft__swar_first(m);
  }
  if (i == n) return n;
  /* The last 8 bytes, without those already seen. */
  memcpy(&x, s + n - 8, 8);
  m = esc_mask(x) >> (8 * (8 - (n - i)));
  return m ? i + weft__swar_first(m) : n;
#else
  size_t i = 0;
  while (i < n && !esc_class[s[i]])
    i++;
  return i;
#endif
}

/* Appends the escape of the byte(s) at s[i] that plain_run() stopped at;
 * returns the offset after them, or 0 when out of memory. Out of line: the
 * common string has nothing to escape. */
static __attribute__((noinline)) size_t put_escape(weft__buf *b, const uint8_t *s, size_t n,
                                                   size_t i) {
  uint8_t c = s[i];
  char e[6] = {'\\'};
  size_t elen = 2;
  if (c == 0xE2) {
    if (n - i >= 3 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
      memcpy(e, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
      elen = 6;
      i += 3;
    } else {
      e[0] = (char)c;
      elen = 1;
      i++;
    }
  } else {
    switch (c) {
    case '"': e[1] = '"'; break;
    case '\\': e[1] = '\\'; break;
    case '\b': e[1] = 'b'; break;
    case '\f': e[1] = 'f'; break;
    case '\n': e[1] = 'n'; break;
    case '\r': e[1] = 'r'; break;
    case '\t': e[1] = 't'; break;
    default: /* JSON.stringify's form: lower-case hex */
      memcpy(e, "\\u00", 4);
      e[4] = "0123456789abcdef"[c >> 4];
      e[5] = "0123456789abcdef"[c & 15];
      elen = 6;
    }
    i++;
  }
  return put(b, e, elen) ? 0 : i;
}

static int put_string(weft__buf *b, const weft_value *v) {
  const uint8_t *s = (const uint8_t *)v->u.str;
  size_t n = v->len;
  if (n > SIZE_MAX / 2 || weft__buf_reserve(b, n + 2)) return WEFT_ENOMEM;
  b->data[b->len++] = '"';
  if (v->flags & WEFT__VF_PLAIN) { /* the decoder saw nothing to escape */
    memcpy(b->data + b->len, s, n);
    b->data[b->len + n] = '"';
    b->len += n + 1;
    return 0;
  }
  size_t i = 0;
  for (;;) {
    size_t run = plain_run(s + i, n - i);
    if (put(b, s + i, run)) return WEFT_ENOMEM;
    i += run;
    if (i == n) break;
    i = put_escape(b, s, n, i);
    if (!i) return WEFT_ENOMEM;
  }
  return put1(b, '"');
}

/* Decimal digits of u, right-aligned ending at end; returns the start. */
static char *fmt_u64(char *end, uint64_t u) {
  do {
    *--end = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  return end;
}

static int put_int(weft__buf *b, int64_t i) {
  char tmp[24];
  char *end = tmp + sizeof tmp;
  uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
  char *p = fmt_u64(end, u);
  if (i < 0) *--p = '-';
  return put(b, p, (size_t)(end - p));
}

/* Shortest digits of d > 0 (no leading or trailing zeros) and the exponent
 * of the first digit, d = 0.DIGITS x 10^(exp10 + 1). */
static int shortest_digits(double d, char digits[24], int *exp10) {
#if FLT_EVAL_METHOD == 0
  /* Fast path, for the short decimals messages mostly carry (98.6, 0.25):
   * the fewest decimals p such that m / 10^p reads back as d. With m below
   * 2^53 and p at most 22 both operands are exact, so the one correctly
   * rounded division gives what strtod would (Clinger's fast path). */
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  for (int p = 1; p <= 22; p++) {
    double x = d * pow10[p];
    if (x >= 9007199254740992.0) break;
    uint64_t m = (uint64_t)(x + 0.5);
    if ((double)m / pow10[p] == d) {
      char *end = digits + 23, *s = fmt_u64(end, m);
      int k = (int)(end - s);
      memmove(digits, s, (size_t)k);
      digits[k] = '\0';
      *exp10 = k - p - 1;
      return k;
    }
  }
#endif
  /* Otherwise the shortest of 15, 16 or 17 significant digits that reads
   * back. %e's radix character follows the locale, so only digits are kept,
   * and the read-back check is spelled without one. */
  int k = 0;
  for (int prec = 15; prec <= 17; prec++) {
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    const char *p = tmp;
    k = 0;
    while (*p && *p != 'e') {
      if (*p >= '0' && *p <= '9' && k < 23) digits[k++] = *p;
      p++;
    }
    int e = (int)strtol(*p ? p + 1 : p, NULL, 10);
    while (k > 1 && digits[k - 1] == '0')
      k--;
    digits[k] = '\0';
    *exp10 = e;
    char check[48];
    snprintf(check, sizeof check, "%se%d", digits, e - (k - 1));
    if (strtod(check, NULL) == d) break;
  }
  return k;
}

static int put_double(weft__buf *b, double d) {
  if (!isfinite(d)) return put(b, "null", 4);
  if (d == 0) return signbit(d) ? put(b, "-0.0", 4) : put(b, "0.0", 3);
  if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
    int rc = put_int(b, (int64_t)d);
    return rc ? rc : put(b, ".0", 2);
  }
  char digits[24];
  int e;
  int k = shortest_digits(fabs(d), digits, &e);
  int n = e + 1; /* position of the decimal point relative to the digits */
  char out[48];
  size_t o = 0;
  if (d < 0) out[o++] = '-';
  /* Number::toString's layout: plain notation from 1e-7 up to 1e21. */
  if (k <= n && n <= 21) {
    memcpy(out + o, digits, (size_t)k);
    o += (size_t)k;
    for (int i = k; i < n; i++)
      out[o++] = '0';
    memcpy(out + o, ".0", 2);
    o += 2;
  } else if (0 < n && n <= 21) {
    memcpy(out + o, digits, (size_t)n);
    o += (size_t)n;
    out[o++] = '.';
    memcpy(out + o, digits + n, (size_t)(k - n));
    o += (size_t)(k - n);
  } else if (-6 < n && n <= 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (int i = 0; i < -n; i++)
      out[o++] = '0';
    memcpy(out + o, digits, (size_t)k);
    o += (size_t)k;
  } else {
    out[o++] = digits[0];
    if (k > 1) {
      out[o++] = '.';
      memcpy(out + o, digits + 1, (size_t)(k - 1));
      o += (size_t)(k - 1);
    }
    out[o++] = 'e';
    out[o++] = n - 1 >= 0 ? '+' : '-';
    char tmp[8];
    char *end = tmp + sizeof tmp, *s = fmt_u64(end, (uint64_t)(n - 1 >= 0 ? n - 1 : 1 - n));
    memcpy(out + o, s, (size_t)(end - s));
    o += (size_t)(end - s);
  }
  return put(b, out, o);
}

static int put_binary(weft__buf *b, const uint8_t *p, size_t n) {
  static const char head[] = "{\"type\":\"Buffer\",\"data\":[";
  if (n > (SIZE_MAX - 32) / 4 || weft__buf_reserve(b, sizeof head + 4 * n + 2)) return WEFT_ENOMEM;
  memcpy(b->data + b->len, head, sizeof head - 1);
  b->len += sizeof head - 1;
  for (size_t i = 0; i < n; i++) {
    char tmp[4];
    char *s = fmt_u64(tmp + 4, p[i]);
    if (i) b->data[b->len++] = ',';
    size_t l = (size_t)(tmp + 4 - s);
    memcpy(b->data + b->len, s, l);
    b->len += l;
  }
  b->data[b->len++] = ']';
  b->data[b->len++] = '}';
  return 0;
}

static int encode_value(const weft_value *v, weft__buf *b, int depth) {
  switch ((weft_type)v->type) {
  case WEFT_NULL: return put(b, "null", 4);
  case WEFT_BOOL: return v->u.b ? put(b, "true", 4) : put(b, "false", 5);
  case WEFT_INT: return put_int(b, v->u.i);
  case WEFT_FLOAT: return put_double(b, v->u.d);
  case WEFT_STRING: return put_string(b, v);
  case WEFT_BINARY: return put_binary(b, v->u.bin, v->len);
  case WEFT_ARRAY:
  case WEFT_MAP: break;
  default: return WEFT_ETYPE;
  }
  if (depth >= WEFT_VALUE_MAX_DEPTH) return WEFT_EDEPTH;
  int map = v->type == WEFT_MAP;
  if (put1(b, map ? '{' : '[')) return WEFT_ENOMEM;
  for (size_t i = 0; i < v->len; i++) {
    if (i && put1(b, ',')) return WEFT_ENOMEM;
    const weft_value *item = &v->u.items[map ? 2 * i : i];
    int rc;
    if (map) {
      if (item->type != WEFT_STRING) return WEFT_ETYPE;
      rc = put_string(b, item);
      if (rc) return rc;
      if (put1(b, ':')) return WEFT_ENOMEM;
      item++;
    }
    rc = encode_value(item, b, depth + 1);
    if (rc) return rc;
  }
  return put1(b, map ? '}' : ']');
}

int weft__json_encode(const weft_value *v, weft__buf *out) {
  if (!v || !out) return WEFT_EINVAL;
  return encode_value(v, out, 0);
}
