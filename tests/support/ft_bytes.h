/*
 * Streams in the fast-tcp tests: pseudo-random bytes, their SHA-256, a
 * sink that hashes what a stream delivers and a source that writes a
 * buffer to a weft_ostream under its credit (waiting for the drain after
 * 1 or WEFT_ENOBUFS). Header-only; needs OpenSSL's libcrypto.
 */
#ifndef WEFT_TEST_FT_BYTES_H
#define WEFT_TEST_FT_BYTES_H

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft/ext.h>

/* n pseudo-random bytes (xorshift32 from `seed`), malloc'ed. */
static inline uint8_t *ft_bytes(size_t n, uint32_t seed) {
  uint8_t *buf = malloc(n ? n : 1);
  uint32_t x = seed ? seed : 2463534242u;
  for (size_t i = 0; buf && i < n; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    buf[i] = (uint8_t)x;
  }
  return buf;
}

static inline void ft_hex(const unsigned char md[32], char hex[65]) {
  for (unsigned i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static inline void ft_sha256_hex(const void *p, size_t n, char hex[65]) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
  ft_hex(md, hex);
}

/* What a stream delivered: its byte count and SHA-256. */
typedef struct ft_sink {
  EVP_MD_CTX *md;
  size_t bytes;
  char hex[65];
} ft_sink;

static inline void ft_sink_init(ft_sink *k) {
  k->md = EVP_MD_CTX_new();
  k->bytes = 0;
  k->hex[0] = 0;
  EVP_DigestInit_ex(k->md, EVP_sha256(), NULL);
}

static inline void ft_sink_add(ft_sink *k, const uint8_t *p, size_t n) {
  EVP_DigestUpdate(k->md, p, n);
  k->bytes += n;
}

static inline void ft_sink_done(ft_sink *k) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(k->md, md, &len);
  EVP_MD_CTX_free(k->md);
  k->md = NULL;
  ft_hex(md, k->hex);
}

/* {"sha256": hex, "bytes": n} of a finished sink (owned by the caller). */
static inline weft_value *ft_sink_value(const ft_sink *k) {
  weft_value *m = weft_value_new_map();
  weft_value_map_add(m, "sha256", 6, weft_value_new_string(k->hex, 64));
  weft_value_map_add(m, "bytes", 5, weft_value_new_int((int64_t)k->bytes));
  return m;
}

/* Answers *reply (when there is one) with ft_sink_value; *reply is NULL
 * after. */
static inline void ft_sink_answer(const ft_sink *k, weft_reply **reply) {
  if (!*reply) return;
  weft_value *m = ft_sink_value(k);
  weft_reply_resolve(*reply, m);
  weft_value_free(m);
  *reply = NULL;
}

/* Writes buf[0..n) in `chunk`-byte chunks under the stream's credit, then
 * ends it and calls done (rc: the end's, or the failing write's). Counts
 * what the credit did. */
typedef struct ft_source {
  weft_ostream *os;
  const uint8_t *buf;
  size_t n, off, chunk;
  size_t max_pending;       /* the most the connection held after a write */
  int full, nobufs, drains; /* writes that returned 1, WEFT_ENOBUFS; drains */
  void (*done)(struct ft_source *s, int rc, void *user);
  void *user;
} ft_source;

static inline void ft_source_pump(ft_source *s) {
  while (s->off < s->n) {
    size_t k = s->n - s->off < s->chunk ? s->n - s->off : s->chunk;
    int rc = weft_ostream_write(s->os, s->buf + s->off, k);
    if (rc == WEFT_ENOBUFS) {
      s->nobufs++;
      return; /* the drain comes */
    }
    if (rc < 0) {
      weft_ostream_end(s->os);
      s->os = NULL;
      s->done(s, rc, s->user);
      return;
    }
    s->off += k;
    size_t p = weft_ostream_pending(s->os);
    if (p > s->max_pending) s->max_pending = p;
    if (rc == 1) {
      s->full++;
      return;
    }
  }
  int rc = weft_ostream_end(s->os);
  s->os = NULL;
  s->done(s, rc, s->user);
}

static inline void ft_source_drain(weft_ostream *os, void *user) {
  ft_source *s = user;
  (void)os;
  s->drains++;
  ft_source_pump(s);
}

/* Starts writing on `os` (open already). */
static inline void ft_source_start(ft_source *s, weft_ostream *os) {
  s->os = os;
  weft_ostream_set_drain(os, ft_source_drain, s);
  ft_source_pump(s);
}

#endif
