/* SHA-1, FIPS 180-4 section 6.1: the plain 80-round compression, one
 * 64-byte block at a time, the tail padded in a local block; on x86-64
 * CPUs with the SHA extensions, the same compression in their
 * instructions (four rounds each), ~10x fewer instructions a block. */
#include "sha1.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC's __builtin_cpu_supports knows "sha"; clang's (14) does not, and a
 * cpuid per call would trap to the hypervisor in a VM: portable there. */
#define WEFT__SHA1_NI 1
#include <immintrin.h>
#else
#define WEFT__SHA1_NI 0
#endif

static uint32_t rol(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One round: the caller rotates the roles of a..e instead of moving them. */
#define ROUND(a, b, c, d, e, f, k, w)                                                              \
  do {                                                                                             \
    (e) += rol(a, 5) + (f) + (k) + (w);                                                            \
    (b) = rol(b, 30);                                                                              \
  } while (0)
#define FIVE(f, k, i)                                                                              \
  do {                                                                                             \
    ROUND(a, b, c, d, e, f(b, c, d), k, w[(i)]);                                                   \
    ROUND(e, a, b, c, d, f(a, b, c), k, w[(i) + 1]);                                               \
    ROUND(d, e, a, b, c, f(e, a, b), k, w[(i) + 2]);                                               \
    ROUND(c, d, e, a, b, f(d, e, a), k, w[(i) + 3]);                                               \
    ROUND(b, c, d, e, a, f(c, d, e), k, w[(i) + 4]);                                               \
  } while (0)
#define CH(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define PARITY(x, y, z) ((x) ^ (y) ^ (z))
#define MAJ(x, y, z) (((x) & (y)) | ((x) & (z)) | ((y) & (z)))

static void block(uint32_t h[5], const uint8_t *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = be32(p + 4 * i);
  for (int i = 16; i < 80; i++)
    w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 20; i += 5)
    FIVE(CH, 0x5a827999u, i);
  for (int i = 20; i < 40; i += 5)
    FIVE(PARITY, 0x6ed9eba1u, i);
  for (int i = 40; i < 60; i += 5)
    FIVE(MAJ, 0x8f1bbcdcu, i);
  for (int i = 60; i < 80; i += 5)
    FIVE(PARITY, 0xca62c1d6u, i);
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

#if WEFT__SHA1_NI
/* Four rounds per group g (0-19) of the message words W[4g..4g+3], kept in
 * m[g & 3]: from group 4 on, SHA1MSG1/XOR/SHA1MSG2 derive them from the
 * four groups before (W[i] = rol(W[i-3] ^ W[i-8] ^ W[i-14] ^ W[i-16], 1)).
 * SHA1NEXTE turns the A of four rounds ago into the next E, plus W. The
 * registers hold the words big end first (A, W0 in the top lane). */
#define NI_MSG(g) m[(g)&3]
#define NI_GROUP(g, f)                                                                             \
  do {                                                                                             \
    if ((g) >= 4)                                                                                  \
      NI_MSG(g) = _mm_sha1msg2_epu32(                                                              \
          _mm_xor_si128(_mm_sha1msg1_epu32(NI_MSG(g), NI_MSG((g) + 1)), NI_MSG((g) + 2)),          \
          NI_MSG((g) + 3));                                                                        \
    e = (g) == 0 ? _mm_add_epi32(e0, NI_MSG(0)) : _mm_sha1nexte_epu32(prev, NI_MSG(g));            \
    prev = abcd;                                                                                   \
    abcd = _mm_sha1rnds4_epu32(abcd, e, f);                                                        \
  } while (0)
#define NI_FIVE(g, f)                                                                              \
  do {                                                                                             \
    NI_GROUP((g), f);                                                                              \
    NI_GROUP((g) + 1, f);                                                                          \
    NI_GROUP((g) + 2, f);                                                                          \
    NI_GROUP((g) + 3, f);                                                                          \
    NI_GROUP((g) + 4, f);                                                                          \
  } while (0)

__attribute__((target("sha,ssse3,sse4.1"))) static void block_ni(uint32_t h[5], const uint8_t *p) {
  const __m128i swap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h), 0x1b);
  __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0), e, prev;
  __m128i m[4];
  for (int i = 0; i < 4; i++)
    m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)), swap);
  __m128i abcd0 = abcd;
  NI_FIVE(0, 0);
  NI_FIVE(5, 1);
  NI_FIVE(10, 2);
  NI_FIVE(15, 3);
  e0 = _mm_sha1nexte_epu32(prev, e0);
  abcd = _mm_shuffle_epi32(_mm_add_epi32(abcd, abcd0), 0x1b);
  _mm_storeu_si128((__m128i *)(void *)h, abcd);
  h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}
#endif

int weft__sha1_using(int how, const void *data, size_t len, uint8_t out[20]) {
  void (*compress)(uint32_t *, const uint8_t *) = block;
#if WEFT__SHA1_NI
  if (how == WEFT__SHA1_CPU && __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1"))
    compress = block_ni;
#else
  (void)how;
#endif
  uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  const uint8_t *p = data;
  size_t left = len;
  for (; left >= 64; left -= 64, p += 64)
    compress(h, p);
  /* The rest, 0x80, zeros, and the length in bits: one block or two. */
  uint8_t tail[128] = {0};
  memcpy(tail, p, left);
  tail[left] = 0x80;
  size_t n = left < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++)
    tail[n - 1 - i] = (uint8_t)(bits >> (8 * i));
  compress(h, tail);
  if (n == 128) compress(h, tail + 64);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8);
    out[4 * i + 3] = (uint8_t)h[i];
  }
  return compress == block ? WEFT__SHA1_PORTABLE : WEFT__SHA1_CPU;
}

void weft__sha1(const void *data, size_t len, uint8_t out[20]) {
  (void)weft__sha1_using(WEFT__SHA1_CPU, data, len, out);
}
