/* Strict UTF-8 validation, whole or incremental: one DFA for the codec's
 * text frames and the parsers' strings. */
#include "utf8.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * A DFA after Bjoern Hoehrmann's: bytes map to 12 classes, states are
 * premultiplied by 12 so the next state is trans[state + class]. States:
 * 0 accept, 12 reject, 24 one continuation byte due, 36 two due, 48 after E0
 * (A0..BF next: no overlongs), 60 after ED (80..9F: no surrogates), 72 after
 * F0 (90..BF: no overlongs), 84 after F1..F3 (three due), 96 after F4
 * (80..8F: nothing past U+10FFFF).
 * Classes: 0 ASCII; 1 80..8F; 9 90..9F; 7 A0..BF; 8 never valid (C0, C1,
 * F5..FF); 2 C2..DF; 10 E0; 3 E1..EC, EE, EF; 4 ED; 11 F0; 6 F1..F3; 5 F4.
 */
/* clang-format off */
static const uint8_t utf8_class[256] = {
  /* 00..7F */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 80..9F */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
  /* A0..BF */
  7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  /* C0..DF */
  8, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* E0..EF */
  10, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3,
  /* F0..FF */
  11, 6, 6, 6, 5, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
};

static const uint8_t utf8_trans[108] = {
  /* class: 0   1   2   3   4   5   6   7   8   9  10  11 */
  /*  0 */ 0,  12, 24, 36, 60, 96, 84, 12, 12, 12, 48, 72,
  /* 12 */ 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
  /* 24 */ 12, 0,  12, 12, 12, 12, 12, 0,  12, 0,  12, 12,
  /* 36 */ 12, 24, 12, 12, 12, 12, 12, 24, 12, 24, 12, 12,
  /* 48 */ 12, 12, 12, 12, 12, 12, 12, 24, 12, 12, 12, 12,
  /* 60 */ 12, 24, 12, 12, 12, 12, 12, 12, 12, 24, 12, 12,
  /* 72 */ 12, 12, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12,
  /* 84 */ 12, 36, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12,
  /* 96 */ 12, 36, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
};
/* clang-format on */

/* Text is mostly ASCII: skips it eight bytes per step. */
static size_t skip_ascii(const uint8_t *p, size_t i, size_t len) {
#if defined(__SSE2__)
  while (len - i >= 32) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 16));
    if (_mm_movemask_epi8(_mm_or_si128(a, b))) break;
    i += 32;
  }
#endif
  while (len - i >= 16) {
    uint64_t a, b;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, 8);
    if ((a | b) & UINT64_C(0x8080808080808080)) break;
    i += 16;
  }
  while (len - i >= 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w & UINT64_C(0x8080808080808080)) break;
    i += 8;
  }
  while (i < len && p[i] < 0x80)
    i++;
  return i;
}

uint32_t weft__utf8_step(uint32_t state, const uint8_t *p, size_t len) {
  if (state > 96 || state % 12) return WEFT__UTF8_REJECT;
  size_t i = 0;
  while (i < len) {
    if (state == WEFT__UTF8_ACCEPT) {
      i = skip_ascii(p, i, len);
      if (i == len) break;
    }
    state = utf8_trans[state + utf8_class[p[i++]]];
    if (state == WEFT__UTF8_REJECT) break;
  }
  return state;
}

int weft__utf8_valid(const uint8_t *p, size_t len) {
  size_t i = skip_ascii(p, 0, len);
  return i == len || weft__utf8_step(WEFT__UTF8_ACCEPT, p + i, len - i) == WEFT__UTF8_ACCEPT;
}

size_t weft__utf8_check(const uint8_t *p, size_t len) {
  uint32_t state = WEFT__UTF8_ACCEPT;
  size_t lead = 0, i = 0;
  while (i < len) {
    if (state == WEFT__UTF8_ACCEPT) {
      i = skip_ascii(p, i, len);
      if (i == len) break;
      lead = i;
    }
    state = utf8_trans[state + utf8_class[p[i++]]];
    if (state == WEFT__UTF8_REJECT) return lead;
  }
  return state == WEFT__UTF8_ACCEPT ? len : lead;
}
