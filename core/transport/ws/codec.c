/*
 * RFC 6455: the opening handshake checks, frame building helpers, strict
 * UTF-8 validation and the frame reader. No I/O happens here.
 */
#include "codec.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/sha1.h"
#include "weft/weft.h"

/* ---- Handshake ---------------------------------------------------------- */

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void weft__ws_accept_key(const char *key, char out[29]) {
  out[0] = '\0';
  if (!key) return;
  size_t kl = strlen(key);
  /* Keys that reach us are 24 bytes; anything longer is not worth hashing. */
  char cat[128];
  if (kl + sizeof ws_guid > sizeof cat) return;
  memcpy(cat, key, kl);
  memcpy(cat + kl, ws_guid, sizeof ws_guid - 1);
  uint8_t md[20];
  weft__sha1(cat, kl + sizeof ws_guid - 1, md);
  EVP_EncodeBlock((unsigned char *)out, md, 20);
}

int weft__ws_make_key(char out[25]) {
  unsigned char raw[16];
  out[0] = '\0';
  if (RAND_bytes(raw, sizeof raw) != 1) return WEFT_EIO;
  EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw);
  return 0;
}

static int is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

/* 16 bytes in base64 are exactly 22 symbols and "==". Like Node's ws, the
 * unused low bits of the last symbol are not checked. */
static int key_ok(const char *k) {
  if (!k || strlen(k) != 24) return 0;
  for (int i = 0; i < 22; i++)
    if (!is_b64(k[i])) return 0;
  return k[22] == '=' && k[23] == '=';
}

int weft__ws_check_upgrade(const weft__http_head *h, char accept[29]) {
  if (!h) return WEFT_EINVAL;
  if (accept) accept[0] = '\0';
  if (!weft__http_method(h) || strcmp(weft__http_method(h), "GET") != 0) return WEFT_EPROTO;
  if (h->version_minor < 1) return WEFT_EPROTO;
  if (!weft__http_has_token(weft__http_get(h, "Upgrade"), "websocket")) return WEFT_EPROTO;
  if (!weft__http_has_token(weft__http_get(h, "Connection"), "upgrade")) return WEFT_EPROTO;
  /* The version goes before the key: old drafts (hixie-76) send no
   * Sec-WebSocket-Key and deserve the 426 that names version 13. */
  const char *v = weft__http_get(h, "Sec-WebSocket-Version");
  if (!v || strcmp(v, "13") != 0) return WEFT_EUNSUPPORTED;
  const char *key = weft__http_get(h, "Sec-WebSocket-Key");
  /* RFC 6455 11.3.1: the key must not appear more than once. */
  if (!key_ok(key) || weft__http_count(h, "Sec-WebSocket-Key") != 1) return WEFT_EPROTO;
  if (!accept) return 0;
  weft__ws_accept_key(key, accept);
  return accept[0] ? 0 : WEFT_EIO;
}

/* ---- Frames ------------------------------------------------------------- */

size_t weft__ws_frame_header(uint8_t out[14], int opcode, int fin, int rsv1, uint64_t len,
                             const uint8_t *mask) {
  size_t n = 2;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
  uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    out[1] = (uint8_t)(m | len);
  } else if (len <= 0xffff) {
    out[1] = m | 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    n = 4;
  } else {
    out[1] = m | 127;
    for (int i = 0; i < 8; i++)
      out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    n = 10;
  }
  if (mask) {
    memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

#if defined(__SSE2__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) &&       \
    !defined(WEFT_NO_AVX2)
#include <immintrin.h>
#define WEFT__WS_AVX2 1
/* Where the CPU has AVX2 (asked at run time: the build targets plain
 * x86-64), 128 bytes per step: unmasks the whole 128-byte blocks of
 * p[0..len) with the 8-byte mask word w, ORs any high bit into *high, and
 * returns the bytes done. */
__attribute__((target("avx2"))) static size_t mask_avx2(uint8_t *p, size_t len, uint64_t w,
                                                        uint64_t *high) {
  __m256i w4 = _mm256_set1_epi64x((long long)w), hi = _mm256_setzero_si256();
  size_t i = 0;
  for (; len - i >= 128; i += 128) {
    __m256i *q = (__m256i *)(void *)(p + i);
    __m256i a = _mm256_xor_si256(_mm256_loadu_si256(q), w4);
    __m256i b = _mm256_xor_si256(_mm256_loadu_si256(q + 1), w4);
    __m256i c = _mm256_xor_si256(_mm256_loadu_si256(q + 2), w4);
    __m256i d = _mm256_xor_si256(_mm256_loadu_si256(q + 3), w4);
    _mm256_storeu_si256(q, a);
    _mm256_storeu_si256(q + 1, b);
    _mm256_storeu_si256(q + 2, c);
    _mm256_storeu_si256(q + 3, d);
    hi = _mm256_or_si256(hi, _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d)));
  }
  if (_mm256_movemask_epi8(hi)) *high = 0x80;
  return i;
}
#else
#define WEFT__WS_AVX2 0
#endif

int weft__ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t offset) {
  /* The mask rotated to `offset`, twice over: an 8-byte word whose bytes are
   * the mask for each position of every 8-byte block (both halves are the
   * same 4 bytes, so the host's byte order does not matter for the
   * doubling; the rotation follows it). */
  uint32_t m4;
  memcpy(&m4, mask, 4);
  unsigned rot = (unsigned)(offset & 3) * 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  if (rot) m4 = m4 << rot | m4 >> (32 - rot);
#else
  if (rot) m4 = m4 >> rot | m4 << (32 - rot);
#endif
  uint64_t w = (uint64_t)m4 << 32 | m4;
  uint8_t m[8];
  memcpy(m, &w, 8);
  size_t i = 0;
  uint64_t high = 0;
#if WEFT__WS_AVX2
  if (len >= 128 && __builtin_cpu_supports("avx2")) i = mask_avx2(p, len, w, &high);
#endif
#if defined(__SSE2__)
  __m128i w2 = _mm_set1_epi64x((long long)w), hi = _mm_setzero_si128();
  for (; i + 64 <= len; i += 64) {
    __m128i *q = (__m128i *)(void *)(p + i);
    __m128i a = _mm_xor_si128(_mm_loadu_si128(q), w2);
    __m128i b = _mm_xor_si128(_mm_loadu_si128(q + 1), w2);
    __m128i c = _mm_xor_si128(_mm_loadu_si128(q + 2), w2);
    __m128i d = _mm_xor_si128(_mm_loadu_si128(q + 3), w2);
    _mm_storeu_si128(q, a);
    _mm_storeu_si128(q + 1, b);
    _mm_storeu_si128(q + 2, c);
    _mm_storeu_si128(q + 3, d);
    hi = _mm_or_si128(hi, _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)));
  }
  for (; i + 16 <= len; i += 16) { /* most messages are short: no scalar 32s */
    __m128i *q = (__m128i *)(void *)(p + i);
    __m128i a = _mm_xor_si128(_mm_loadu_si128(q), w2);
    _mm_storeu_si128(q, a);
    hi = _mm_or_si128(hi, a);
  }
  if (_mm_movemask_epi8(hi)) high = 0x80;
#endif
  for (; i + 32 <= len; i += 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, 8);
    memcpy(&c, p + i + 16, 8);
    memcpy(&d, p + i + 24, 8);
    a ^= w;
    b ^= w;
    c ^= w;
    d ^= w;
    high |= a | b | c | d;
    memcpy(p + i, &a, 8);
    memcpy(p + i + 8, &b, 8);
    memcpy(p + i + 16, &c, 8);
    memcpy(p + i + 24, &d, 8);
  }
  for (; i + 8 <= len; i += 8) {
    uint64_t a;
    memcpy(&a, p + i, 8);
    a ^= w;
    high |= a;
    memcpy(p + i, &a, 8);
  }
  for (; i < len; i++) {
    p[i] ^= m[i & 7];
    high |= p[i];
  }
  return (high & UINT64_C(0x8080808080808080)) != 0;
}

/* RFC 6455 7.4 plus the IANA registry: 1012-1014 (service restart, try again
 * later, bad gateway) were registered after the RFC; servers send them on
 * redeploys, browsers accept them and current Autobahn no longer lists them
 * as invalid. 1004 is reserved; 1005, 1006 and 1015 must never be sent. */
int weft__ws_close_code_valid(int code) {
  if (code >= 3000 && code <= 4999) return 1;
  if (code < 1000 || code > 1014) return 0;
  return code != 1004 && code != 1005 && code != 1006;
}

size_t weft__ws_close_payload(uint8_t out[125], int code, const char *reason) {
  if (code == 0) return 0;
  out[0] = (uint8_t)(code >> 8);
  out[1] = (uint8_t)code;
  if (!reason) return 2;
  /* Keep the longest prefix that is whole, valid UTF-8 and fits. */
  size_t ok = 0;
  uint32_t st = WEFT__UTF8_ACCEPT;
  for (size_t i = 0; i < 123 && reason[i]; i++) {
    st = weft__utf8_step(st, (const uint8_t *)reason + i, 1);
    if (st == WEFT__UTF8_REJECT) break;
    if (st == WEFT__UTF8_ACCEPT) ok = i + 1;
  }
  memcpy(out + 2, reason, ok);
  return 2 + ok;
}

/* ---- Reader ------------------------------------------------------------- */

/* Buffers larger than this are freed after each message, so a connection
 * that once received a big fragmented or compressed message does not keep
 * the memory while idle. */
#define READER_KEEP 4096

void weft__ws_reader_init(weft__ws_reader *r, int expect_masked, uint64_t max_length) {
  memset(r, 0, sizeof *r);
  r->expect_masked = expect_masked ? 1 : 0;
  r->max_length = max_length < UINT32_MAX ? (uint32_t)max_length : UINT32_MAX;
  r->utf8_state = WEFT__UTF8_ACCEPT;
}

void weft__ws_reader_free(weft__ws_reader *r) {
  if (!r || !r->bufs) return;
  weft__buf_free(&r->bufs->msg);
  weft__buf_free(&r->bufs->scratch);
  free(r->bufs);
  r->bufs = NULL;
}

static weft__ws_rbufs *bufs_of(weft__ws_reader *r) {
  if (!r->bufs) r->bufs = calloc(1, sizeof(*r->bufs));
  return r->bufs;
}

static void trim(weft__buf *b) {
  if (b->cap > READER_KEEP)
    weft__buf_free(b);
  else
    b->len = 0;
}

/* After a message or a failure: big buffers go, and the block goes when
 * neither holds memory any more. */
static void trim_bufs(weft__ws_reader *r) {
  weft__ws_rbufs *b = r->bufs;
  if (!b) return;
  trim(&b->msg);
  trim(&b->scratch);
  if (!b->msg.cap && !b->scratch.cap) weft__ws_reader_free(r);
}

static long code_error(int close_code) {
  switch (close_code) {
  case WEFT__CLOSE_INVALID_DATA: return WEFT_EUTF8;
  case WEFT__CLOSE_TOO_BIG: return WEFT_ETOOBIG;
  case WEFT__CLOSE_INTERNAL: return WEFT_ENOMEM;
  default: return WEFT_EPROTO;
  }
}

static long fail(weft__ws_reader *r, int close_code) {
  r->close_code = close_code;
  r->need = 0;
  r->pend_done = 0;
  trim_bufs(r);
  return code_error(close_code);
}

static int rsv1_allowed(const weft__ws_reader *r) { return r->allow_rsv1 && r->pmd; }

/* Rules that the first byte alone decides, so garbage fails on arrival. */
static int check_b0(const weft__ws_reader *r, uint8_t b0) {
  int fin = b0 & 0x80, rsv1 = b0 & 0x40;
  if (b0 & 0x30) return WEFT__CLOSE_PROTOCOL; /* RSV2, RSV3: no extension uses them */
  switch (b0 & 0x0f) {
  case WEFT__WS_CONT:
    /* RFC 7692 6.1: RSV1 marks the first frame of a compressed message only. */
    if (!r->in_message || rsv1) return WEFT__CLOSE_PROTOCOL;
    return 0;
  case WEFT__WS_TEXT:
  case WEFT__WS_BINARY:
    if (r->in_message || (rsv1 && !rsv1_allowed(r))) return WEFT__CLOSE_PROTOCOL;
    return 0;
  case WEFT__WS_CLOSE:
  case WEFT__WS_PING:
  case WEFT__WS_PONG:
    if (!fin || rsv1) return WEFT__CLOSE_PROTOCOL;
    return 0;
  default: return WEFT__CLOSE_PROTOCOL;
  }
}

/* Hands a finished message to the callback, inflating it first when it was
 * compressed. Returns 0 or the callback's stop value (> 0), or a close code
 * negated. `fallback` is a valid pointer for empty messages. */
static int deliver(weft__ws_reader *r, int binary, int compressed, int validated, uint8_t *data,
                   size_t len, uint8_t *fallback, const weft__ws_reader_cbs *cbs, void *ctx) {
  if (compressed) {
    weft__ws_rbufs *b = bufs_of(r);
    if (!b) return -WEFT__CLOSE_INTERNAL;
    b->scratch.len = 0;
    size_t max = r->max_length;
    int rc = weft__pmd_inflate(r->pmd, data, len, max, &b->scratch);
    if (rc == WEFT_ETOOBIG) return -WEFT__CLOSE_TOO_BIG;
    if (rc == WEFT_ENOMEM) return -WEFT__CLOSE_INTERNAL;
    if (rc) return -WEFT__CLOSE_PROTOCOL;
    data = b->scratch.data;
    len = b->scratch.len;
    validated = 0;
  }
  if (!binary && !validated && !weft__utf8_valid(data, len)) return -WEFT__CLOSE_INVALID_DATA;
  if (!data) data = fallback;
  int stop = cbs && cbs->message ? cbs->message(ctx, binary, data, len) : 0;
  if (compressed && r->bufs) trim(&r->bufs->scratch);
  return stop ? 1 : 0;
}

long weft__ws_reader_feed(weft__ws_reader *r, uint8_t *buf, size_t len,
                          const weft__ws_reader_cbs *cbs, void *ctx) {
  if (!r) return WEFT_EINVAL;
  if (r->close_code) return code_error(r->close_code);
  if (!buf && len) return WEFT_EINVAL;
  r->need = 0;
  size_t pos = 0;
  while (pos < len) {
    uint8_t *f = buf + pos;
    size_t avail = len - pos;
    /* Most frames are small whole text or binary messages, masked as
     * expected, not compressed: they skip the general checks below. */
    if ((f[0] == 0x81 || f[0] == 0x82) && !r->in_message && !r->pend_done && avail >= 2 &&
        (f[1] >> 7) == r->expect_masked && (f[1] & 0x7f) < 126) {
      size_t n = f[1] & 0x7f, hlen = r->expect_masked ? 6 : 2;
      if (n <= r->max_length && avail >= hlen + n) {
        uint8_t *payload = f + hlen;
        /* Unmasked text that is all ASCII is valid UTF-8 as it is. */
        int ascii = r->expect_masked && !weft__ws_mask(payload, n, f + 2, 0);
        int rc = deliver(r, f[0] == 0x82, 0, ascii, payload, n, payload, cbs, ctx);
        if (rc < 0) return fail(r, -rc);
        pos += hlen + n;
        if (rc) break;
        continue;
      }
    }
    int code = check_b0(r, f[0]);
    if (code) return fail(r, code);
    if (avail < 2) break;
    uint8_t b0 = f[0], b1 = f[1];
    int op = b0 & 0x0f, fin = (b0 & 0x80) != 0, rsv1 = (b0 & 0x40) != 0;
    int control = (op & 0x08) != 0, masked = (b1 & 0x80) != 0;
    uint64_t plen = b1 & 0x7f;
    if (masked != r->expect_masked) return fail(r, WEFT__CLOSE_PROTOCOL);
    if (control && plen > 125) return fail(r, WEFT__CLOSE_PROTOCOL);
    size_t ext = plen == 126 ? 2 : plen == 127 ? 8 : 0;
    size_t hlen = 2 + ext + (masked ? 4 : 0);
    if (avail < 2 + ext) break;
    if (ext == 2) {
      plen = (uint64_t)f[2] << 8 | f[3];
    } else if (ext == 8) {
      plen = 0;
      for (int i = 0; i < 8; i++)
        plen = plen << 8 | f[2 + i];
      if (plen >> 63) return fail(r, WEFT__CLOSE_PROTOCOL);
    }
    /* The size check comes before any payload is buffered: a peer cannot
     * make us wait for (or the caller allocate) more than max_length. */
    int compressed = op == WEFT__WS_CONT ? r->msg_compressed : rsv1;
    if (!control) {
      uint64_t limit = r->max_length;
      /* Incompressible data grows a little when deflated; the real limit
       * applies to the inflated size. */
      if (compressed && limit < UINT64_MAX / 2) limit += limit / 1024 + 64;
      uint64_t have = op == WEFT__WS_CONT && r->bufs ? r->bufs->msg.len : 0;
      if (plen > limit || have > limit - plen) return fail(r, WEFT__CLOSE_TOO_BIG);
    }
    /* Uncompressed text is checked as its bytes arrive, so a bad one fails
     * before the rest of the frame (or message) comes. A frame cut short is
     * offered again with more bytes appended: the first pend_done bytes of
     * its payload are unmasked and checked already (state pend_utf8). */
    int text =
        !control && !compressed && (op == WEFT__WS_TEXT || (op == WEFT__WS_CONT && !r->msg_binary));
    uint8_t *payload = f + hlen;
    size_t done = r->pend_done;
    uint32_t st = done ? r->pend_utf8 : op == WEFT__WS_CONT ? r->utf8_state : WEFT__UTF8_ACCEPT;
    if (avail < hlen || plen > avail - hlen) {
      uint64_t total = hlen + plen;
      r->need = total < UINT32_MAX ? (uint32_t)total : UINT32_MAX;
      if (text && avail > hlen + done) {
        size_t got = avail - hlen;
        if (masked) weft__ws_mask(payload + done, got - done, f + hlen - 4, done);
        st = weft__utf8_step(st, payload + done, got - done);
        if (st == WEFT__UTF8_REJECT) return fail(r, WEFT__CLOSE_INVALID_DATA);
        r->pend_done = (uint32_t)got;
        r->pend_utf8 = (uint8_t)st;
      }
      break;
    }
    size_t n = (size_t)plen;
    int ascii = masked && !weft__ws_mask(payload + done, n - done, f + hlen - 4, done);
    r->pend_done = 0;
    if (text && !(ascii && st == WEFT__UTF8_ACCEPT)) {
      st = weft__utf8_step(st, payload + done, n - done);
      if (st == WEFT__UTF8_REJECT || (fin && st != WEFT__UTF8_ACCEPT))
        return fail(r, WEFT__CLOSE_INVALID_DATA);
    }
    size_t flen = hlen + n;
    int stop = 0;

    if (control) {
      if (op == WEFT__WS_CLOSE) {
        int cc = WEFT__CLOSE_NO_STATUS;
        const char *reason = (const char *)payload;
        size_t rlen = 0;
        if (n == 1) return fail(r, WEFT__CLOSE_PROTOCOL);
        if (n >= 2) {
          cc = payload[0] << 8 | payload[1];
          if (!weft__ws_close_code_valid(cc)) return fail(r, WEFT__CLOSE_PROTOCOL);
          reason += 2;
          rlen = n - 2;
          if (!weft__utf8_valid(payload + 2, rlen)) return fail(r, WEFT__CLOSE_INVALID_DATA);
        }
        if (cbs && cbs->close) cbs->close(ctx, cc, reason, rlen);
        /* Nothing after a close frame counts (RFC 6455 5.5.1). */
        return (long)(pos + flen);
      }
      if (op == WEFT__WS_PING)
        stop = cbs && cbs->ping ? cbs->ping(ctx, payload, n) : 0;
      else
        stop = cbs && cbs->pong ? cbs->pong(ctx, payload, n) : 0;
    } else if (op != WEFT__WS_CONT && fin) {
      /* The common case: a whole message in one frame, delivered in place. */
      int rc = deliver(r, op == WEFT__WS_BINARY, compressed, text, payload, n, payload, cbs, ctx);
      if (rc < 0) return fail(r, -rc);
      stop = rc;
    } else {
      if (op != WEFT__WS_CONT) {
        r->in_message = 1;
        r->msg_binary = op == WEFT__WS_BINARY;
        r->msg_compressed = compressed;
      }
      r->utf8_state = (uint8_t)(text ? st : WEFT__UTF8_ACCEPT);
      weft__ws_rbufs *b = bufs_of(r);
      if (!b) return fail(r, WEFT__CLOSE_INTERNAL);
      if (op != WEFT__WS_CONT) b->msg.len = 0;
      if (weft__buf_append(&b->msg, payload, n)) return fail(r, WEFT__CLOSE_INTERNAL);
      if (fin) {
        r->in_message = 0;
        int rc = deliver(r, r->msg_binary, r->msg_compressed, 1, b->msg.data, b->msg.len, payload,
                         cbs, ctx);
        r->msg_compressed = 0;
        r->utf8_state = WEFT__UTF8_ACCEPT;
        if (rc < 0) return fail(r, -rc);
        trim_bufs(r);
        stop = rc;
      }
    }
    pos += flen;
    if (stop) break;
  }
  return (long)pos;
}
