/*
 * The "json" parser's decoder (rules in json.c): one pass over the text, no
 * recursion (an explicit stack of open containers, WEFT_VALUE_MAX_DEPTH
 * deep), no malloc for typical messages.
 *
 * Values are collected on a scratch stack (on the C stack, spilling to the
 * heap) and copied into the arena as one contiguous block per container
 * when the container closes. Strings without escapes are found eight bytes
 * at a time and copied once; strings with escapes are checked, then decoded
 * into the arena.
 *
 * Errors are found on the fast path; their offset is then worked out on the
 * slow path (bad_token_pos), reproducing what the yajl-based decoder before
 * this one reported: most errors at the end of the token that does not fit,
 * lexical errors at the offending byte, anything running into the end of the
 * text at the end. A lone surrogate escape anywhere in the text wins over
 * any other error in it, as it did when it was checked before parsing.
 */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/value_internal.h"
#include "json.h"

/* Values waiting for their container to close; spills to the heap. */
#define VSTACK_LOCAL 64
/* Strings left in the text (WEFT__DECODE_IN_PLACE) per message; any more
 * are copied as without the flag. */
#define IN_PLACE_MAX 32
/* Returned by the scanners: the token at the start offset is malformed;
 * bad_token_pos() finds where. Not a WEFT_E* code (those are negative). */
#define BAD_TOKEN 1

typedef struct json_dec {
  weft__arena *arena;
  const uint8_t *text;
  size_t len;
  size_t errpos;
  weft_value *vs;
  size_t vlen, vcap;
  size_t depth;
  int avx2; /* the CPU has AVX2 (see plain_ascii_avx2) */
  /* WEFT__DECODE_IN_PLACE: the text, which the flag says is writable
   * (else NULL), and the closing quotes of the strings left in it,
   * overwritten by NUL only once the message decoded (the error paths read
   * the text as it came). */
  uint8_t *in_place;
  uint32_t n_ends;
  uint32_t ends[IN_PLACE_MAX];
  /* Per open container: vs index where it starts << 1 | 1 for a map. */
  size_t open[WEFT_VALUE_MAX_DEPTH];
  weft_value vs_local[VSTACK_LOCAL];
} json_dec;

/* Bytes that end a plain run inside a string: '"', '\\', controls. */
// clang-format off
static const uint8_t str_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};
// clang-format on

static inline int is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static inline size_t skip_ws(const uint8_t *p, size_t i, size_t len) {
  while (i < len && is_ws(p[i]))
    i++;
  return i;
}

static inline int is_digit(uint8_t c) { return (unsigned)(c - '0') <= 9; }

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The four hex digits at s, or -1. */
static long hex4(const uint8_t *s) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

/* ------------------------------------------------------------------------ */
/* Error offsets (slow path)                                                */
/* ------------------------------------------------------------------------ */

/* Where the error about the token starting at i (after whitespace) is
 * reported: a malformed token at its offending byte (the byte itself for a
 * stray character, its start for a '/', just past a bad literal's matching
 * prefix), a token cut by the end of the text at the end, a well-formed
 * token that does not belong just past it, or, after a value inside a map,
 * at its start (two bytes in for a string), as yajl had it. */
static size_t bad_token_pos(const uint8_t *p, size_t len, size_t i, int after_map_value) {
  if (i >= len) return len;
  size_t k = i + 1;
  int str = 0;
  switch (p[i]) {
  case '{':
  case '}':
  case '[':
  case ']':
  case ',':
  case ':': break;
  case 't':
  case 'f':
  case 'n': {
    const char *want = p[i] == 't' ? "rue" : p[i] == 'f' ? "alse" : "ull";
    for (; *want; want++, k++) {
      if (k >= len) return len;
      if (p[k] != (uint8_t)*want) return k;
    }
    break;
  }
  case '"':
    str = 1;
    for (;;) {
      if (k >= len) return len;
      uint8_t c = p[k++];
      if (c == '"') break;
      if (c < 0x20) return k - 1;
      if (c != '\\') continue;
      if (k >= len) return len;
      c = p[k++];
      if (c == 'u') {
        for (int h = 0; h < 4; h++, k++) {
          if (k >= len) return len;
          if (hexval(p[k]) < 0) return k;
        }
      } else if (!c || !strchr("\"\\/bfnrt", c)) {
        return k - 1;
      }
    }
    break;
  case '-':
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9':
    /* Each step needs the byte after it: a number that reaches the end is
     * cut, valid or not. */
    k = i;
    if (p[k] == '-' && ++k >= len) return len;
    if (p[k] == '0') {
      if (++k >= len) return len;
    } else if (is_digit(p[k])) {
      do
        if (++k >= len) return len;
      while (is_digit(p[k]));
    } else {
      return k;
    }
    if (p[k] == '.') {
      if (++k >= len) return len;
      if (!is_digit(p[k])) return k;
      do
        if (++k >= len) return len;
      while (is_digit(p[k]));
    }
    if (p[k] == 'e' || p[k] == 'E') {
      if (++k >= len) return len;
      if ((p[k] == '+' || p[k] == '-') && ++k >= len) return len;
      if (!is_digit(p[k])) return k;
      do
        if (++k >= len) return len;
      while (is_digit(p[k]));
    }
    break;
  case '/': return i;
  default: return k;
  }
  if (after_map_value) return str ? i + 2 : i;
  return k;
}

/* Offset of the backslash of the first \u escape that is half of a surrogate
 * pair without its other half, or len. A backslash starts an escape when it
 * ends an odd run of backslashes; a run outside a string is invalid JSON
 * whatever this says about it. Runs only once decoding has failed: a lone
 * surrogate anywhere in the text is the error reported. */
static size_t lone_surrogate(const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    const uint8_t *bs = memchr(p + i, '\\', len - i);
    if (!bs) break;
    size_t start = (size_t)(bs - p), k = start;
    while (k < len && p[k] == '\\')
      k++;
    i = k;
    if ((k - start) % 2 == 0 || k == len || p[k] != 'u') continue;
    long cp = len - k >= 5 ? hex4(p + k + 1) : -1;
    if (cp < 0xD800 || cp > 0xDFFF) continue; /* not a surrogate, or malformed */
    long lo = -1;
    if (cp <= 0xDBFF && len - k >= 11 && p[k + 5] == '\\' && p[k + 6] == 'u') lo = hex4(p + k + 7);
    if (lo < 0xDC00 || lo > 0xDFFF) return k - 1;
    i = k + 11;
  }
  return len;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

static int grow(json_dec *d) {
  if (d->vcap > SIZE_MAX / 2 / sizeof(weft_value)) return WEFT_ENOMEM;
  size_t ncap = d->vcap * 2;
  weft_value *n;
  if (d->vs == d->vs_local) {
    n = malloc(ncap * sizeof *n);
    if (n) memcpy(n, d->vs, d->vlen * sizeof *n);
  } else {
    n = realloc(d->vs, ncap * sizeof *n);
  }
  if (!n) return WEFT_ENOMEM;
  d->vs = n;
  d->vcap = ncap;
  return 0;
}

/* A slot for the next value with everything but the payload set, or NULL
 * (out of memory). Values are written in place: building them elsewhere and
 * copying them in stalls on store forwarding. */
static inline weft_value *slot(json_dec *d, weft_type type) {
  if (d->vlen == d->vcap && grow(d)) return NULL;
  weft_value *v = &d->vs[d->vlen++];
  v->type = (uint8_t)type;
  v->flags = 0;
  v->reserved = 0;
  v->cap = 0;
  v->len = 0;
  return v;
}

static size_t put_utf8(uint8_t *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xC0 | cp >> 6);
    o[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xE0 | cp >> 12);
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (uint8_t)(0xF0 | cp >> 18);
  o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the escapes of the string body s[0..n) at offset `at` of the text,
 * already checked to be well formed, into out (room for n bytes: no escape
 * grows). Returns the decoded length, or sets errpos and returns SIZE_MAX
 * for a lone surrogate. */
static size_t unescape(json_dec *d, const uint8_t *s, size_t n, size_t at, uint8_t *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    const uint8_t *bs = memchr(s + i, '\\', n - i);
    size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
    memcpy(out + o, s + i, run);
    o += run;
    i += run;
    if (!bs) break;
    uint8_t c = s[i + 1];
    switch (c) {
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': c = 0; break;
    default: break; /* '"', '\\', '/' stand for themselves */
    }
    if (c) {
      out[o++] = c;
      i += 2;
      continue;
    }
    long cp = hex4(s + i + 2);
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      d->errpos = at + i;
      return SIZE_MAX;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      long lo = -1;
      if (n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u') lo = hex4(s + i + 8);
      if (lo < 0xDC00 || lo > 0xDFFF) {
        d->errpos = at + i;
        return SIZE_MAX;
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      i += 6;
    }
    i += 6;
    o += put_utf8(out + o, (uint32_t)cp);
  }
  return o;
}

/* The rest of a string with escapes: body starts at `start`, the first
 * backslash is at k. */
static int escaped_string(json_dec *d, size_t *pi, size_t start, size_t k) {
  const uint8_t *p = d->text;
  size_t len = d->len;
  for (;;) {
    while (k < len && !str_special[p[k]])
      k++;
    if (k >= len) return BAD_TOKEN;
    uint8_t c = p[k];
    if (c == '"') break;
    if (c != '\\' || len - k < 2) return BAD_TOKEN;
    c = p[k + 1];
    if (c == 'u') {
      if (len - k < 6 || hex4(p + k + 2) < 0) return BAD_TOKEN;
      k += 6;
    } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
               c == 't') {
      k += 2;
    } else {
      return BAD_TOKEN;
    }
  }
  size_t rawlen = k - start;
  uint8_t *out = weft__arena_alloc_bytes(d->arena, rawlen + 1);
  if (!out) {
    d->errpos = k + 1;
    return WEFT_ENOMEM;
  }
  size_t olen = unescape(d, p + start, rawlen, start, out);
  if (olen == SIZE_MAX) return WEFT_EUTF8;
  out[olen] = '\0';
  weft_value *v = slot(d, WEFT_STRING);
  if (!v) {
    d->errpos = k + 1;
    return WEFT_ENOMEM;
  }
  v->u.str = olen ? (const char *)out : weft__value_empty;
  v->len = olen;
  *pi = k + 1;
  return 0;
}

#if WEFT__JSON_SSE2 && defined(__x86_64__) && !defined(WEFT_NO_AVX2)
#include <immintrin.h>
#define WEFT__JSON_AVX2 1
/* The build targets plain x86-64; where the CPU has AVX2 (asked at run
 * time), a string's scan first skips 32 bytes per step over what is plainly
 * ASCII content: the offset of the first '"', '\\', control or byte >= 0x80
 * in the whole 32-byte blocks of p[0..n), or the end of those blocks. The
 * SSE2 scan takes over from there, so what it finds is found as before. */
__attribute__((target("avx2"))) static inline __m256i special_avx2(const uint8_t *p) {
  __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
  /* Signed: x < 0x20 holds for the controls and for the bytes >= 0x80. */
  __m256i lo = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), x);
  return _mm256_or_si256(lo, _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('"')),
                                             _mm256_cmpeq_epi8(x, _mm256_set1_epi8('\\'))));
}

__attribute__((target("avx2"))) static size_t plain_ascii_avx2(const uint8_t *p, size_t n) {
  size_t i = 0;
  for (; n - i >= 64; i += 64) { /* two blocks per test; the loop below finds which */
    __m256i m = _mm256_or_si256(special_avx2(p + i), special_avx2(p + i + 32));
    if (!_mm256_testz_si256(m, m)) break;
  }
  for (; n - i >= 32; i += 32) {
    uint32_t b = (uint32_t)_mm256_movemask_epi8(special_avx2(p + i));
    if (b) return i + (unsigned)__builtin_ctz(b);
  }
  return i;
}

/* Is every byte of p[0..n) (n >= 32) plain ASCII, nothing '"', '\\', a
 * control or >= 0x80? Whether only: no test per step, the last 32 bytes
 * overlapping. */
__attribute__((target("avx2"))) static int plain_all_avx2(const uint8_t *p, size_t n) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; n - i >= 64; i += 64)
    acc = _mm256_or_si256(acc, _mm256_or_si256(special_avx2(p + i), special_avx2(p + i + 32)));
  if (i < n) acc = _mm256_or_si256(acc, special_avx2(p + n - 32));
  if (n - i > 32) acc = _mm256_or_si256(acc, special_avx2(p + i));
  return _mm256_testz_si256(acc, acc);
}
#else
#define WEFT__JSON_AVX2 0
#endif

/* The string whose opening quote is at *pi; on success *pi is just past the
 * closing quote. Alongside the scan for its end, whether any byte is
 * >= 0x80 (one OR per load): an ASCII string without escapes holds nothing
 * the encoder escapes (not even U+2028/U+2029) and is WEFT__VF_PLAIN. A step
 * may look at bytes outside the string, which can only withhold the flag. */
static inline int string(json_dec *d, size_t *pi) {
  const uint8_t *p = d->text;
  size_t len = d->len, start = *pi + 1, k = start;
#if WEFT__JSON_AVX2
  if (d->avx2 && len - k >= 32) k += plain_ascii_avx2(p + k, len - k);
#endif
#if WEFT__JSON_SWAR
  uint64_t x, m, high = 0;
#endif
#if WEFT__JSON_SSE2
  __m128i hi = _mm_setzero_si128();
  for (; len - k >= 32; k += 32) {
    const __m128i *q = (const __m128i *)(const void *)(p + k);
    __m128i a = _mm_loadu_si128(q), b = _mm_loadu_si128(q + 1);
    hi = _mm_or_si128(hi, _mm_or_si128(a, b));
    uint32_t m32 = (uint32_t)_mm_movemask_epi8(weft__sse2_special(a, 0)) |
                   (uint32_t)_mm_movemask_epi8(weft__sse2_special(b, 0)) << 16;
    if (m32) {
      k += (unsigned)__builtin_ctz(m32);
      goto found;
    }
  }
  if (len - k >= 16) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
    hi = _mm_or_si128(hi, a);
    unsigned m16 = (unsigned)_mm_movemask_epi8(weft__sse2_special(a, 0));
    if (m16) {
      k += (unsigned)__builtin_ctz(m16);
      goto found;
    }
    k += 16;
  }
  if (k < len && len >= 16) { /* the last 16 bytes, without those already seen */
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16));
    hi = _mm_or_si128(hi, a);
    unsigned m16 = (unsigned)_mm_movemask_epi8(weft__sse2_special(a, 0)) >> (16 - (len - k));
    if (!m16) return BAD_TOKEN;
    k += (unsigned)__builtin_ctz(m16);
    goto found;
  }
#endif
#if WEFT__JSON_SWAR
  for (; len - k >= 8; k += 8) {
    memcpy(&x, p + k, 8);
    high |= x;
    m = weft__swar_str_special(x);
    if (m) {
      k += weft__swar_first(m);
      goto found;
    }
  }
  if (k >= len) return BAD_TOKEN;
  if (len >= 8) { /* the last 8 bytes, without those already seen */
    memcpy(&x, p + len - 8, 8);
    high |= x;
    m = weft__swar_str_special(x) >> (8 * (8 - (len - k)));
  } else { /* padded with a byte that needs nothing */
    x = WEFT__REP('a');
    memcpy(&x, p + k, len - k);
    high |= x;
    m = weft__swar_str_special(x);
  }
  if (!m) return BAD_TOKEN;
  k += weft__swar_first(m);
found:;
  int plain = !(high & WEFT__HIGHS);
#if WEFT__JSON_SSE2
  plain = plain && !_mm_movemask_epi8(hi);
#endif
#else
  while (k < len && !str_special[p[k]])
    k++;
  if (k >= len) return BAD_TOKEN;
  int plain = 0;
#endif
  if (p[k] != '"') return p[k] == '\\' ? escaped_string(d, pi, start, k) : BAD_TOKEN;
  const char *s;
  if (d->in_place && d->n_ends < IN_PLACE_MAX && k <= UINT32_MAX) {
    d->ends[d->n_ends++] = (uint32_t)k;
    s = (const char *)p + start;
  } else {
    s = weft__arena_strdup(d->arena, p + start, k - start);
  }
  weft_value *v = s ? slot(d, WEFT_STRING) : NULL;
  if (!v) {
    d->errpos = k + 1;
    return WEFT_ENOMEM;
  }
  v->flags = plain ? WEFT__VF_PLAIN : 0;
  v->u.str = s;
  v->len = k - start;
  *pi = k + 1;
  return 0;
}

/* Locale-independent strtod: the digits are rewritten without a decimal
 * point ("12.5e3" becomes "125e2"), the one part of a number's spelling that
 * the C locale changes. The JSON number grammar has been checked. */
static int to_double(json_dec *d, const char *s, size_t n, double *out) {
  char local[128];
  char *buf = local;
  if (n > sizeof local - 32) {
    buf = weft__arena_alloc_bytes(d->arena, n + 32);
    if (!buf) return WEFT_ENOMEM;
  }
  size_t i = 0, o = 0;
  int64_t frac = 0, exp = 0;
  if (i < n && s[i] == '-') buf[o++] = s[i++];
  while (i < n && s[i] >= '0' && s[i] <= '9')
    buf[o++] = s[i++];
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      buf[o++] = s[i++];
      frac++;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    /* Saturate: anything this large is 0 or infinity to strtod anyway. */
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (exp < INT64_C(1000000000000)) exp = exp * 10 + (s[i] - '0');
      i++;
    }
    if (neg) exp = -exp;
  }
  exp -= frac;
  buf[o++] = 'e';
  if (exp < 0) buf[o++] = '-';
  uint64_t ue = exp < 0 ? 0 - (uint64_t)exp : (uint64_t)exp;
  char tmp[24], *end = tmp + sizeof tmp, *p = end;
  do {
    *--p = (char)('0' + ue % 10);
    ue /= 10;
  } while (ue);
  memcpy(buf + o, p, (size_t)(end - p));
  o += (size_t)(end - p);
  buf[o] = '\0';
  *out = strtod(buf, NULL);
  return 0;
}

/* The number starting at *pi (a '-' or a digit); on success *pi is just
 * past it. Integers that fit int64 are WEFT_INT, the rest WEFT_FLOAT. */
static inline int number(json_dec *d, size_t *pi) {
  const uint8_t *p = d->text;
  size_t len = d->len, s = *pi, i = s;
  int neg = p[i] == '-';
  i += (size_t)neg;
  if (i >= len || !is_digit(p[i])) return BAD_TOKEN;
  size_t ds = i;
  if (p[i] == '0')
    i++;
  else
    while (i < len && is_digit(p[i]))
      i++;
  size_t nd = i - ds;
  int is_int = 1;
  if (i < len && p[i] == '.') {
    if (++i >= len || !is_digit(p[i])) return BAD_TOKEN;
    while (i < len && is_digit(p[i]))
      i++;
    is_int = 0;
  }
  if (i < len && (p[i] == 'e' || p[i] == 'E')) {
    if (++i < len && (p[i] == '+' || p[i] == '-')) i++;
    if (i >= len || !is_digit(p[i])) return BAD_TOKEN;
    while (i < len && is_digit(p[i]))
      i++;
    is_int = 0;
  }
  uint64_t u = 0;
  if (is_int) {
    if (nd <= 18) { /* below 10^18: fits either way */
      for (size_t k = ds; k < ds + nd; k++)
        u = u * 10 + (unsigned)(p[k] - '0');
    } else {
      uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
      for (size_t k = ds; k < ds + nd && is_int; k++) {
        unsigned dg = (unsigned)(p[k] - '0');
        if (u > (lim - dg) / 10)
          is_int = 0;
        else
          u = u * 10 + dg;
      }
    }
  }
  weft_value *v;
  if (is_int) {
    v = slot(d, WEFT_INT);
    if (v) v->u.i = neg ? (int64_t)(0 - u) : (int64_t)u;
  } else {
    double dbl;
    if (to_double(d, (const char *)p + s, i - s, &dbl)) {
      v = NULL;
    } else {
      v = slot(d, WEFT_FLOAT);
      if (v) v->u.d = dbl;
    }
  }
  if (!v) {
    d->errpos = i;
    return WEFT_ENOMEM;
  }
  *pi = i;
  return 0;
}

/* Moves the children of the innermost open container into the arena and
 * leaves the container in their place. */
static int close_container(json_dec *d) {
  size_t o = d->open[--d->depth];
  size_t start = o >> 1, n = d->vlen - start;
  weft_value *items = NULL;
  if (n) {
    items = weft__arena_bump(d->arena, n * sizeof(weft_value), WEFT__ARENA_ALIGN);
    if (!items) return WEFT_ENOMEM;
    memcpy(items, d->vs + start, n * sizeof(weft_value));
  }
  d->vlen = start;
  weft_value *v = slot(d, o & 1 ? WEFT_MAP : WEFT_ARRAY);
  if (!v) return WEFT_ENOMEM;
  v->len = o & 1 ? n / 2 : n;
  v->u.items = items;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Grammar                                                                  */
/* ------------------------------------------------------------------------ */

static int parse(json_dec *d) {
  const uint8_t *p = d->text;
  size_t len = d->len, i = 0;
  int rc, after_map_value = 0;
value: /* a value must follow */
  i = skip_ws(p, i, len);
  if (i >= len) goto bad;
  switch (p[i]) {
  case '"':
    rc = string(d, &i);
    if (rc == BAD_TOKEN) goto bad;
    if (rc) return rc;
    goto after;
  case '{':
  case '[':
    if (d->depth >= WEFT_VALUE_MAX_DEPTH) {
      d->errpos = i;
      return WEFT_EDEPTH;
    }
    d->open[d->depth++] = d->vlen << 1 | (p[i] == '{');
    if (p[i++] == '[') {
      i = skip_ws(p, i, len);
      if (i < len && p[i] == ']') goto close;
      goto value;
    }
    i = skip_ws(p, i, len);
    if (i < len && p[i] == '}') goto close;
    goto key;
  case 't':
  case 'f':
  case 'n': {
    static const char *const lit[3] = {"true", "false", "null"};
    int which = p[i] == 't' ? 0 : p[i] == 'f' ? 1 : 2;
    size_t n = 4 + (which == 1);
    if (len - i < n || memcmp(p + i, lit[which], n) != 0) goto bad;
    weft_value *v = slot(d, which == 2 ? WEFT_NULL : WEFT_BOOL);
    if (!v) {
      d->errpos = i + n;
      return WEFT_ENOMEM;
    }
    v->u.i = 0;
    if (which == 0) v->u.b = 1;
    i += n;
    goto after;
  }
  case '-':
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9':
    rc = number(d, &i);
    if (rc == BAD_TOKEN) goto bad;
    if (rc) return rc;
    goto after;
  default: goto bad;
  }
key: /* at a non-blank: a key must follow */
  if (i >= len || p[i] != '"') goto bad;
  rc = string(d, &i);
  if (rc == BAD_TOKEN) goto bad;
  if (rc) return rc;
  i = skip_ws(p, i, len);
  if (i >= len || p[i] != ':') goto bad;
  i++;
  goto value;
close: /* at the closing bracket */
  i++;
  rc = close_container(d);
  if (rc) {
    d->errpos = i;
    return rc;
  }
after: /* a value is complete */
  i = skip_ws(p, i, len);
  if (d->depth == 0) {
    if (i == len) return 0;
    goto bad;
  }
  if (i < len) {
    int map = d->open[d->depth - 1] & 1;
    if (p[i] == ',') {
      i = skip_ws(p, i + 1, len);
      if (map) goto key;
      goto value;
    }
    if (p[i] == (map ? '}' : ']')) goto close;
    after_map_value = map;
  }
bad:
  d->errpos = bad_token_pos(p, len, i, after_map_value);
  return WEFT_EPARSE;
}

/* A text that is one string with nothing to unescape (a chat line, an
 * echo: the commonest message there is) needs none of the parser's state:
 * one scan for the bytes that would end or escape it, and for bytes >= 0x80
 * (WEFT__VF_PLAIN as string() sets it). Returns 0 (*out set), BAD_TOKEN
 * (another shape, an escape, a control: the parser decides, errors
 * included) or WEFT_ENOMEM. */
static int lone_string(const uint8_t *p, size_t len, int in_place, weft__arena *arena,
                       const weft_value **out) {
  if (len < 2 || p[0] != '"' || p[len - 1] != '"' || len - 2 > UINT32_MAX) return BAD_TOKEN;
  const uint8_t *s = p + 1;
  size_t n = len - 2, i = 0;
  int high = 0;
#if WEFT__JSON_AVX2
  /* Plain ASCII, 32 bytes a step: all of it (most messages), else up to
   * the first byte that is special or >= 0x80 (the SSE2 scan goes on from
   * there and decides). */
  if (n >= 32 && __builtin_cpu_supports("avx2"))
    i = plain_all_avx2(s, n) ? n : plain_ascii_avx2(s, n);
#endif
#if WEFT__JSON_SSE2
  if (n >= 16) {
    /* Only whether: the bytes that would end or escape it are ORed into
     * one mask tested at the end (the parser finds where). */
    __m128i hi = _mm_setzero_si128(), sp = _mm_setzero_si128();
    for (; n - i >= 16; i += 16) {
      __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
      hi = _mm_or_si128(hi, a);
      sp = _mm_or_si128(sp, weft__sse2_special(a, 0));
    }
    if (i < n) { /* the last 16 bytes, overlapping those already seen */
      __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
      hi = _mm_or_si128(hi, a);
      sp = _mm_or_si128(sp, weft__sse2_special(a, 0));
    }
    if (_mm_movemask_epi8(sp)) return BAD_TOKEN;
    high = _mm_movemask_epi8(hi);
    i = n;
  }
#endif
  for (; i < n; i++) {
    if (str_special[s[i]]) return BAD_TOKEN;
    high |= s[i] & 0x80;
  }
  const char *str = in_place ? (const char *)s : weft__arena_strdup(arena, s, n);
  weft_value *v = str ? weft__arena_bump(arena, sizeof *v, WEFT__ARENA_ALIGN) : NULL;
  if (!v) return WEFT_ENOMEM;
  v->type = WEFT_STRING;
  v->flags = high ? 0 : WEFT__VF_PLAIN;
  v->reserved = 0;
  v->cap = 0;
  v->len = n;
  v->u.str = str;
  if (in_place) ((uint8_t *)(uintptr_t)p)[len - 1] = '\0';
  *out = v;
  return 0;
}

int weft__json_decode(const uint8_t *data, size_t len, int flags, weft__arena *arena,
                      const weft_value **out, size_t *errpos) {
  if (!(flags & WEFT__DECODE_UTF8_VALID)) {
    size_t bad = weft__utf8_check(data, len);
    if (bad != len) {
      if (errpos) *errpos = bad;
      return WEFT_EUTF8;
    }
  }
  int whole = lone_string(data, len, flags & WEFT__DECODE_IN_PLACE, arena, out);
  if (whole != BAD_TOKEN) {
    if (whole && errpos) *errpos = len;
    return whole;
  }
  /* Not zero-initialised as a whole: the open stack is 4 KiB. */
  json_dec dec;
  json_dec *d = &dec;
  d->arena = arena;
  d->text = data;
  d->len = len;
  d->errpos = 0;
  d->vs = d->vs_local;
  d->vlen = 0;
  d->vcap = VSTACK_LOCAL;
  d->depth = 0;
  d->in_place = flags & WEFT__DECODE_IN_PLACE ? (uint8_t *)(uintptr_t)data : NULL;
  d->n_ends = 0;
#if WEFT__JSON_AVX2
  d->avx2 = __builtin_cpu_supports("avx2");
#else
  d->avx2 = 0;
#endif
  int rc = parse(d);
  if (!rc) {
    weft_value *root = weft__arena_bump(arena, sizeof *root, WEFT__ARENA_ALIGN);
    if (root) {
      *root = d->vs[0];
      *out = root;
      for (uint32_t e = 0; e < d->n_ends; e++)
        d->in_place[d->ends[e]] = '\0';
    } else {
      rc = WEFT_ENOMEM;
      d->errpos = len;
    }
  }
  if (d->vs != d->vs_local) free(d->vs);
  if (rc) {
    size_t lone = lone_surrogate(data, len);
    if (lone != len) {
      rc = WEFT_EUTF8;
      d->errpos = lone;
    }
    if (errpos) *errpos = d->errpos;
  }
  return rc;
}
