/*
 * The two halves of the "json" parser (json_decode.c, json_encode.c); json.c
 * puts them behind the parser ops table.
 */
#ifndef WEFT__JSON_H
#define WEFT__JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/value_internal.h"
#include "parser.h"

/* The ops table's decode and encode (see parser.h for the contracts). */
int weft__json_decode(const uint8_t *data, size_t len, int flags, weft__arena *arena,
                      const weft_value **out, size_t *errpos);
int weft__json_encode(const weft_value *v, weft__buf *out);
/* The ops table's verbatim: a string the decoder saw nothing to escape in
 * (WEFT__VF_PLAIN) goes out between quotes as it is. Inline here so the
 * message code asks it without an indirect call. */
static inline int weft__json_verbatim(const weft_value *v) {
  return v->type == WEFT_STRING && (v->flags & WEFT__VF_PLAIN) ? '"' : -1;
}

/* SWAR: eight bytes at a time, on little-endian targets (where the lowest
 * flagged byte of a mask is the first in memory). The tests work on the low
 * seven bits of each byte, where additions carry into the byte's own high
 * bit and never into the next byte, so each byte's flag is exact. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&                        \
    (defined(__GNUC__) || defined(__clang__))
#define WEFT__JSON_SWAR 1
#define WEFT__LOWS UINT64_C(0x7f7f7f7f7f7f7f7f)
#define WEFT__HIGHS UINT64_C(0x8080808080808080)
#define WEFT__REP(b) (UINT64_C(0x0101010101010101) * (uint8_t)(b))
/* High bit of each byte whose low seven bits (y = x & WEFT__LOWS) differ
 * from those of c. */
static inline uint64_t weft__swar_ne7(uint64_t y, uint8_t c) {
  return (y ^ WEFT__REP(c & 0x7f)) + WEFT__LOWS;
}
/* High bit of each byte whose low seven bits are neither a control nor '"'
 * (y ^ 2 swaps '"' with ' ', so both tests are one: y ^ 2 >= 0x21) nor '\\'.
 * Only meaningful for ASCII bytes. */
static inline uint64_t weft__swar_ascii_ok(uint64_t y) {
  return ((y ^ WEFT__REP(0x02)) + WEFT__REP(0x80 - 0x21)) & weft__swar_ne7(y, '\\');
}
/* High bit of each byte that a JSON string cannot hold raw: '"', '\\' and
 * the controls below 0x20. */
static inline uint64_t weft__swar_str_special(uint64_t x) {
  return ~(weft__swar_ascii_ok(x & WEFT__LOWS) | x) & WEFT__HIGHS;
}
/* Index of the first flagged byte of a non-zero mask. */
static inline unsigned weft__swar_first(uint64_t m) { return (unsigned)__builtin_ctzll(m) >> 3; }
#else
#define WEFT__JSON_SWAR 0
#endif

/* SSE2 (every x86-64): sixteen bytes per step, ahead of the SWAR loops, for
 * the long strings where the scan is most of a message's cost. */
#if defined(__SSE2__) && WEFT__JSON_SWAR
#include <emmintrin.h>
#define WEFT__JSON_SSE2 1
/* 0xFF in each byte of x that is '"', '\\' or a control below 0x20
 * (max(x, 0x1f) == 0x1f: x <= 0x1f, unsigned), or, when e2 is set, the
 * 0xE2 that may start U+2028/U+2029. */
static inline __m128i weft__sse2_special(__m128i x, int e2) {
  __m128i lo = _mm_set1_epi8(0x1f);
  __m128i m =
      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_max_epu8(x, lo), lo));
  if (e2) m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xE2)));
  return m;
}
/* Bit i set when byte i of the 32 at p is special as above. */
static inline uint32_t weft__sse2_special32(const uint8_t *p, int e2) {
  const __m128i *q = (const __m128i *)(const void *)p;
  uint32_t a = (uint32_t)_mm_movemask_epi8(weft__sse2_special(_mm_loadu_si128(q), e2));
  uint32_t b = (uint32_t)_mm_movemask_epi8(weft__sse2_special(_mm_loadu_si128(q + 1), e2));
  return a | b << 16;
}
#else
#define WEFT__JSON_SSE2 0
#endif

#endif
