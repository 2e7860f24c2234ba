/* SHA-1, FIPS 180-4 section 6.1: the plain 80-round compression, one
 * 64-byte block at a time, the tail padded in a local block. */
#include "sha1.h"

#include <string.h>

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

void weft__sha1(const void *data, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  const uint8_t *p = data;
  size_t left = len;
  for (; left >= 64; left -= 64, p += 64)
    block(h, p);
  /* The rest, 0x80, zeros, and the length in bits: one block or two. */
  uint8_t tail[128] = {0};
  memcpy(tail, p, left);
  tail[left] = 0x80;
  size_t n = left < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++)
    tail[n - 1 - i] = (uint8_t)(bits >> (8 * i));
  block(h, tail);
  if (n == 128) block(h, tail + 64);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8);
    out[4 * i + 3] = (uint8_t)h[i];
  }
}
