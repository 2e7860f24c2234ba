/* RFC 6455 codec: handshake, frame helpers, UTF-8 DFA and the reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/sha1.h"
#include "transport/ws/codec.h"
#include "weft/weft.h"

/* ---- helpers: build frames, run the reader like a caller would ---------- */

enum { EV_MSG = 1, EV_PING, EV_PONG, EV_CLOSE };

typedef struct ev {
  int type, binary, code;
  size_t len;
  uint8_t *data;
  int in_buffer; /* message data pointed into the fed buffer */
} ev;

typedef struct rec {
  ev evs[256];
  int n;
  int stop_on_msg; /* message callback returns 1 */
  int closed;
  const uint8_t *lo, *hi; /* the buffer being fed */
} rec;

static void rec_add(rec *r, int type, int binary, int code, const uint8_t *p, size_t len) {
  assert_true(r->n < 256);
  ev *e = &r->evs[r->n++];
  e->type = type;
  e->binary = binary;
  e->code = code;
  e->len = len;
  e->data = malloc(len + 1);
  if (len) memcpy(e->data, p, len);
  e->in_buffer = p >= r->lo && p < r->hi;
}

static void rec_free(rec *r) {
  for (int i = 0; i < r->n; i++)
    free(r->evs[i].data);
  r->n = 0;
}

static int on_msg(void *ctx, int binary, uint8_t *data, size_t len) {
  rec *r = ctx;
  assert_non_null(data);
  rec_add(r, EV_MSG, binary, 0, data, len);
  return r->stop_on_msg;
}
static int on_ping(void *ctx, uint8_t *data, size_t len) {
  rec_add(ctx, EV_PING, 0, 0, data, len);
  return 0;
}
static int on_pong(void *ctx, uint8_t *data, size_t len) {
  rec_add(ctx, EV_PONG, 0, 0, data, len);
  return 0;
}
static int on_close(void *ctx, int code, const char *reason, size_t len) {
  rec *r = ctx;
  rec_add(r, EV_CLOSE, 0, code, (const uint8_t *)reason, len);
  r->closed = 1;
  return 0;
}
static const weft__ws_reader_cbs cbs = {on_msg, on_ping, on_pong, on_close};

static unsigned mask_seed = 1;

/* Appends one frame; masked frames get a varying mask key. */
static void put(weft__buf *b, int op, int fin, int rsv1, const void *p, size_t n, int masked) {
  uint8_t key[4], h[14];
  for (int i = 0; i < 4; i++)
    key[i] = (uint8_t)((mask_seed = mask_seed * 1103515245u + 12345u) >> 16);
  size_t hl = weft__ws_frame_header(h, op, fin, rsv1, n, masked ? key : NULL);
  assert_int_equal(weft__buf_append(b, h, hl), 0);
  size_t at = b->len;
  assert_int_equal(weft__buf_append(b, p, n), 0);
  if (masked) weft__ws_mask(b->data + at, n, key, 0);
}

static void put_raw(weft__buf *b, const void *p, size_t n) {
  assert_int_equal(weft__buf_append(b, p, n), 0);
}

typedef struct result {
  rec rec;
  long err;
  int close_code;
  size_t consumed;
  size_t left; /* bytes fed but not consumed at the end */
} result;

static unsigned rnd(unsigned *s) { return (*s = *s * 1103515245u + 12345u) >> 16; }

/*
 * Feeds `stream` in chunks (mode 0: all at once, 1: one byte at a time,
 * 2: random sizes from seed), keeping unconsumed bytes and appending the next
 * chunk the way a connection does. Stops at an error or a close.
 */
static void run(const uint8_t *stream, size_t len, int server, weft__pmd *pmd, uint64_t max,
                int mode, unsigned seed, result *out) {
  memset(out, 0, sizeof *out);
  weft__ws_reader r;
  weft__ws_reader_init(&r, server, max);
  if (pmd) {
    r.allow_rsv1 = 1;
    r.pmd = pmd;
  }
  uint8_t *pending = malloc(len + 1);
  size_t have = 0, off = 0;
  while (off < len || have > 0) {
    size_t chunk = len - off;
    if (mode == 1 && chunk > 1) chunk = 1;
    if (mode == 2 && chunk > 0) {
      size_t c = 1 + rnd(&seed) % (rnd(&seed) % 4 == 0 ? 300 : 9);
      if (c < chunk) chunk = c;
    }
    memcpy(pending + have, stream + off, chunk);
    have += chunk;
    off += chunk;
    long rc;
    do {
      out->rec.lo = pending;
      out->rec.hi = pending + have;
      rc = weft__ws_reader_feed(&r, pending, have, &cbs, &out->rec);
      if (rc < 0) break;
      assert_true((size_t)rc <= have);
      memmove(pending, pending + rc, have - (size_t)rc);
      have -= (size_t)rc;
      out->consumed += (size_t)rc;
      /* need, when known, is more than what is buffered. */
      if (r.need) assert_true(r.need > have);
    } while (rc > 0 && have > 0 && !out->rec.closed);
    if (rc < 0) {
      out->err = rc;
      out->close_code = r.close_code;
      /* The stream is dead: feeding again repeats the error. */
      assert_int_equal(weft__ws_reader_feed(&r, pending, have, &cbs, &out->rec), rc);
      break;
    }
    if (out->rec.closed) break;
    if (off == len) break;
  }
  out->left = have;
  free(pending);
  weft__ws_reader_free(&r);
}

static void result_free(result *r) { rec_free(&r->rec); }

static void assert_same(const result *a, const result *b) {
  assert_int_equal(a->err, b->err);
  assert_int_equal(a->close_code, b->close_code);
  assert_int_equal(a->rec.n, b->rec.n);
  /* After an error, how much was consumed depends on the chunking. */
  if (!a->err) assert_int_equal(a->consumed, b->consumed);
  for (int i = 0; i < a->rec.n; i++) {
    const ev *x = &a->rec.evs[i], *y = &b->rec.evs[i];
    assert_int_equal(x->type, y->type);
    assert_int_equal(x->binary, y->binary);
    assert_int_equal(x->code, y->code);
    assert_int_equal(x->len, y->len);
    assert_memory_equal(x->data, y->data, x->len);
  }
}

/* Runs a stream whole, byte by byte and in random splits; all must agree.
 * Returns the whole-buffer result. */
static void run_all(const weft__buf *s, int server, weft__pmd *pmd, uint64_t max, result *out) {
  run(s->data, s->len, server, pmd, max, 0, 0, out);
  result o;
  run(s->data, s->len, server, pmd, max, 1, 0, &o);
  assert_same(out, &o);
  result_free(&o);
  for (unsigned seed = 1; seed <= 8; seed++) {
    run(s->data, s->len, server, pmd, max, 2, seed, &o);
    assert_same(out, &o);
    result_free(&o);
  }
}

/* Runs a stream that must fail with `code` (and the matching error). */
static void expect_fail(const weft__buf *s, int server, weft__pmd *pmd, uint64_t max, int code) {
  result res;
  run_all(s, server, pmd, max, &res);
  assert_int_equal(res.close_code, code);
  long err = code == 1002 ? WEFT_EPROTO : code == 1007 ? WEFT_EUTF8 : WEFT_ETOOBIG;
  assert_int_equal(res.err, err);
  result_free(&res);
}

static void expect_one_msg(const weft__buf *s, int server, const void *p, size_t n, int binary) {
  result res;
  run_all(s, server, NULL, 1 << 20, &res);
  assert_int_equal(res.err, 0);
  assert_int_equal(res.rec.n, 1);
  assert_int_equal(res.rec.evs[0].type, EV_MSG);
  assert_int_equal(res.rec.evs[0].binary, binary);
  assert_int_equal(res.rec.evs[0].len, n);
  assert_memory_equal(res.rec.evs[0].data, p, n);
  result_free(&res);
}

/* ---- handshake ---------------------------------------------------------- */

static void test_accept_key(void **state) {
  (void)state;
  char out[29];
  weft__ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  weft__ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out);
  assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void hex_of(const uint8_t md[20], char out[41]) {
  for (int i = 0; i < 20; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_sha1(void **state) {
  (void)state;
  /* FIPS 180 examples: one block, the padding spilling into a second, and
   * many blocks. */
  static const struct {
    const char *in, *hex;
  } known[] = {
      {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
      {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
  };
  uint8_t md[20];
  char hex[41];
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    weft__sha1(known[i].in, strlen(known[i].in), md);
    hex_of(md, hex);
    assert_string_equal(hex, known[i].hex);
  }
  size_t big = 1000000;
  char *a = malloc(big);
  assert_non_null(a);
  memset(a, 'a', big);
  for (int how = WEFT__SHA1_PORTABLE; how <= WEFT__SHA1_CPU; how++) {
    weft__sha1_using(how, a, big, md);
    hex_of(md, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  }
  /* Every length around the block and padding edges, against OpenSSL. */
  uint32_t x = 12345;
  int cpu = WEFT__SHA1_PORTABLE;
  for (size_t i = 0; i < 300; i++)
    a[i] = (char)(x = x * 1103515245u + 12345u) >> 16;
  for (size_t len = 0; len <= 300; len++) {
    uint8_t ref[EVP_MAX_MD_SIZE];
    unsigned int rl = 0;
    assert_true(EVP_Digest(a, len, ref, &rl, EVP_sha1(), NULL));
    assert_int_equal(rl, 20);
    weft__sha1(a, len, md);
    assert_memory_equal(md, ref, 20);
    /* Both compressions, whichever weft__sha1 chose here. */
    assert_int_equal(weft__sha1_using(WEFT__SHA1_PORTABLE, a, len, md), WEFT__SHA1_PORTABLE);
    assert_memory_equal(md, ref, 20);
    cpu = weft__sha1_using(WEFT__SHA1_CPU, a, len, md);
    assert_memory_equal(md, ref, 20);
  }
  if (cpu != WEFT__SHA1_CPU) print_message("sha1: no SHA extensions here, portable only\n");
  free(a);
}

static int upgrade(const char *req) {
  weft__http_head h;
  int n = weft__http_parse_request((const uint8_t *)req, strlen(req), &h);
  assert_int_equal(n, (int)strlen(req));
  char accept[29];
  int rc = weft__ws_check_upgrade(&h, accept);
  assert_int_equal(weft__ws_check_upgrade(&h, NULL), rc); /* the checks alone answer alike */
  if (rc == 0)
    assert_int_equal(strlen(accept), 28);
  else
    assert_string_equal(accept, "");
  weft__http_head_free(&h);
  return rc;
}

static void test_make_key(void **state) {
  (void)state;
  char a[25], b[25], req[256];
  assert_int_equal(weft__ws_make_key(a), 0);
  assert_int_equal(weft__ws_make_key(b), 0);
  assert_int_equal(strlen(a), 24);
  assert_string_not_equal(a, b);
  snprintf(req, sizeof req,
           "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n",
           a);
  assert_int_equal(upgrade(req), 0);
}

#define REQ(method, ver, up, conn, extra)                                                          \
  method " /primus HTTP/1." ver "\r\nHost: x\r\n" up conn extra "\r\n"
#define UP "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define V13 "Sec-WebSocket-Version: 13\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

static void test_check_upgrade(void **state) {
  (void)state;
  assert_int_equal(upgrade(REQ("GET", "1", UP, CONN, V13 KEY)), 0);
  assert_int_equal(upgrade(REQ("GET", "2", UP, CONN, V13 KEY)), 0); /* HTTP/1.2: later minor */
  assert_int_equal(upgrade(REQ("GET", "1", "Upgrade: WebSocket\r\n",
                               "Connection: keep-alive, Upgrade\r\n", V13 KEY)),
                   0);
  /* 400s */
  assert_int_equal(upgrade(REQ("POST", "1", UP, CONN, V13 KEY)), WEFT_EPROTO);
  assert_int_equal(upgrade(REQ("get", "1", UP, CONN, V13 KEY)), WEFT_EPROTO);
  assert_int_equal(upgrade(REQ("GET", "0", UP, CONN, V13 KEY)), WEFT_EPROTO);
  assert_int_equal(upgrade(REQ("GET", "1", "", CONN, V13 KEY)), WEFT_EPROTO);
  assert_int_equal(upgrade(REQ("GET", "1", "Upgrade: h2c\r\n", CONN, V13 KEY)), WEFT_EPROTO);
  assert_int_equal(upgrade(REQ("GET", "1", UP, "", V13 KEY)), WEFT_EPROTO);
  assert_int_equal(upgrade(REQ("GET", "1", UP, "Connection: keep-alive\r\n", V13 KEY)),
                   WEFT_EPROTO);
  assert_int_equal(upgrade(REQ("GET", "1", UP, CONN, V13)), WEFT_EPROTO);
  /* base64 of 15 and 17 bytes, bad alphabet, bad padding */
  assert_int_equal(
      upgrade(REQ("GET", "1", UP, CONN, V13 "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4P\r\n")),
      WEFT_EPROTO);
  assert_int_equal(
      upgrade(REQ("GET", "1", UP, CONN, V13 "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEBE=\r\n")),
      WEFT_EPROTO);
  assert_int_equal(
      upgrade(REQ("GET", "1", UP, CONN, V13 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=*\r\n")),
      WEFT_EPROTO);
  assert_int_equal(
      upgrade(REQ("GET", "1", UP, CONN, V13 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2-jZQ==\r\n")),
      WEFT_EPROTO);
  assert_int_equal(
      upgrade(REQ("GET", "1", UP, CONN, V13 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n")),
      WEFT_EPROTO);
  /* 426s: the version is missing or not 13 */
  assert_int_equal(upgrade(REQ("GET", "1", UP, CONN, KEY)), WEFT_EUNSUPPORTED);
  assert_int_equal(upgrade(REQ("GET", "1", UP, CONN, "Sec-WebSocket-Version: 8\r\n" KEY)),
                   WEFT_EUNSUPPORTED);
  assert_int_equal(upgrade(REQ("GET", "1", UP, CONN, "Sec-WebSocket-Version: 13, 8\r\n" KEY)),
                   WEFT_EUNSUPPORTED);
  /* hixie-76 sends no version and no Sec-WebSocket-Key: 426 names 13 */
  assert_int_equal(
      upgrade(REQ("GET", "1", UP, CONN, "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n")),
      WEFT_EUNSUPPORTED);
  char accept[29];
  assert_int_equal(weft__ws_check_upgrade(NULL, accept), WEFT_EINVAL);
}

/* ---- frame helpers ------------------------------------------------------ */

static void test_frame_header(void **state) {
  (void)state;
  static const struct {
    uint64_t len;
    size_t hl;
  } v[] = {{0, 2}, {125, 2}, {126, 4}, {65535, 4}, {65536, 10}};
  static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  uint8_t h[14];
  for (size_t i = 0; i < 5; i++) {
    for (int masked = 0; masked < 2; masked++) {
      size_t hl = weft__ws_frame_header(h, WEFT__WS_BINARY, 1, 0, v[i].len, masked ? key : NULL);
      assert_int_equal(hl, v[i].hl + (masked ? 4 : 0));
      assert_int_equal(h[0], 0x82);
      assert_int_equal(h[1] & 0x80, masked ? 0x80 : 0);
      if (v[i].hl == 2) assert_int_equal(h[1] & 0x7f, v[i].len);
      if (v[i].hl == 4) {
        assert_int_equal(h[1] & 0x7f, 126);
        assert_int_equal(h[2] << 8 | h[3], v[i].len);
      }
      if (v[i].hl == 10) {
        assert_int_equal(h[1] & 0x7f, 127);
        assert_memory_equal(h + 2, "\x00\x00\x00\x00\x00\x01\x00\x00", 8);
      }
      if (masked) assert_memory_equal(h + v[i].hl, key, 4);

      /* Round trip through the reader on the matching side. */
      size_t n = (size_t)v[i].len;
      uint8_t *payload = malloc(n + 1);
      for (size_t k = 0; k < n; k++)
        payload[k] = (uint8_t)(k * 7 + i);
      weft__buf s = {0};
      put(&s, WEFT__WS_BINARY, 1, 0, payload, n, masked);
      expect_one_msg(&s, masked, payload, n, 1);
      weft__buf_free(&s);
      free(payload);
    }
  }
  /* FIN, RSV1 and the opcode land in the first byte. */
  weft__ws_frame_header(h, WEFT__WS_TEXT, 0, 1, 5, NULL);
  assert_int_equal(h[0], 0x41);
  weft__ws_frame_header(h, WEFT__WS_PING, 1, 0, 0, NULL);
  assert_int_equal(h[0], 0x89);
  assert_int_equal(h[1], 0);
  /* Largest lengths encode all 8 bytes. */
  assert_int_equal(weft__ws_frame_header(h, 2, 1, 0, UINT64_C(0x7fffffffffffffff), NULL), 10);
  assert_memory_equal(h + 2, "\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
}

static void test_mask(void **state) {
  (void)state;
  static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
  uint8_t a[320], b[320]; /* past the 128-byte steps */
  for (size_t len = 0; len <= 300; len += (len < 140 ? 1 : 7)) {
    for (size_t off = 0; off < 8; off++) {
      for (size_t align = 0; align < 3; align++) {
        for (size_t k = 0; k < len; k++)
          a[align + k] = b[align + k] = (uint8_t)(k * 31 + 7);
        weft__ws_mask(a + align, len, key, off);
        for (size_t k = 0; k < len; k++)
          b[align + k] ^= key[(off + k) % 4];
        assert_memory_equal(a + align, b + align, len);
        weft__ws_mask(a + align, len, key, off); /* masking twice restores */
        for (size_t k = 0; k < len; k++)
          assert_int_equal(a[align + k], (uint8_t)(k * 31 + 7));
      }
    }
  }
  /* The result says whether any unmasked byte is >= 0x80: none, or one at
   * each position (through the 64-, 8- and 1-byte steps). */
  uint8_t c[300];
  for (size_t len = 0; len <= 290; len++) {
    for (size_t at = 0; at <= len; at++) {
      for (size_t k = 0; k < len; k++)
        c[k] = (uint8_t)(('a' + k % 26) ^ key[k % 4]);
      if (at < len) c[at] = (uint8_t)(0x80 ^ key[at % 4]);
      assert_int_equal(weft__ws_mask(c, len, key, 0), at < len);
      for (size_t k = 0; k < len; k++)
        assert_int_equal(c[k], k == at ? 0x80 : 'a' + k % 26);
    }
  }
  /* Masking in pieces equals masking at once when offsets carry over. */
  for (size_t k = 0; k < 100; k++)
    a[k] = b[k] = (uint8_t)k;
  weft__ws_mask(a, 100, key, 0);
  weft__ws_mask(b, 13, key, 0);
  weft__ws_mask(b + 13, 50, key, 13);
  weft__ws_mask(b + 63, 37, key, 63);
  assert_memory_equal(a, b, 100);
}

static void test_close_codes(void **state) {
  (void)state;
  static const int valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                              1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  static const int invalid[] = {-1,   0,    1,    999,  1004, 1005,  1006, 1015,
                                1016, 1100, 2000, 2999, 5000, 65535, 65536};
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
    assert_true(weft__ws_close_code_valid(valid[i]));
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
    assert_false(weft__ws_close_code_valid(invalid[i]));
}

static void test_close_payload(void **state) {
  (void)state;
  uint8_t out[125];
  assert_int_equal(weft__ws_close_payload(out, 0, "ignored"), 0);
  assert_int_equal(weft__ws_close_payload(out, 1000, NULL), 2);
  assert_memory_equal(out, "\x03\xe8", 2);
  assert_int_equal(weft__ws_close_payload(out, 1001, ""), 2);
  assert_int_equal(weft__ws_close_payload(out, 4000, "bye"), 5);
  assert_memory_equal(out,
                      "\x0f\xa0"
                      "bye",
                      5);
  char big[300];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(weft__ws_close_payload(out, 1000, big), 125);
  /* 70 two-byte characters: 61 fit (122 bytes); no half character. */
  char e[141];
  for (int i = 0; i < 70; i++)
    memcpy(e + 2 * i, "\xc3\xa9", 2);
  e[140] = '\0';
  assert_int_equal(weft__ws_close_payload(out, 1000, e), 124);
  assert_true(weft__utf8_valid(out + 2, 122));
  /* Four-byte characters at the edge: 30 fit (120 bytes). */
  char g[161];
  for (int i = 0; i < 40; i++)
    memcpy(g + 4 * i, "\xf0\x9f\x98\x80", 4);
  g[160] = '\0';
  assert_int_equal(weft__ws_close_payload(out, 1000, g), 122);
  /* Invalid UTF-8 is cut where it starts. */
  assert_int_equal(weft__ws_close_payload(out, 1000, "ok\xc0\x80zz"), 4);
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* A straightforward reference decoder to check the DFA against. */
static int ref_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    uint32_t cp;
    size_t k;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      k = 1;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      k = 2;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      k = 3;
    } else {
      return 0;
    }
    if (n - i < k + 1) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i + j] & 0x3f);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000)) return 0;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += k + 1;
  }
  return 1;
}

static void test_utf8_vectors(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int ok;
  } v[] = {
      {"", 1},
      {"hello world, plain ascii that is longer than eight bytes", 1},
      {"\x7f", 1},
      {"caf\xc3\xa9", 1},
      {"\xe2\x82\xac", 1},     /* € */
      {"\xf0\x9f\x98\x80", 1}, /* 😀 */
      {"\xf0\x9f\x8e\x89 party \xf0\x9f\x8e\x89", 1},
      {"\xc2\x80", 1},                 /* U+0080, smallest 2-byte */
      {"\xe0\xa0\x80", 1},             /* U+0800 */
      {"\xf0\x90\x80\x80", 1},         /* U+10000 */
      {"\xf4\x8f\xbf\xbf", 1},         /* U+10FFFF */
      {"\xed\x9f\xbf", 1},             /* U+D7FF */
      {"\xee\x80\x80", 1},             /* U+E000 */
      {"\xef\xbf\xbf", 1},             /* U+FFFF (noncharacters are valid) */
      {"\xc0\x80", 0},                 /* overlong NUL */
      {"\xc1\xbf", 0},                 /* overlong */
      {"\xe0\x80\x80", 0},             /* overlong */
      {"\xe0\x9f\xbf", 0},             /* overlong U+07FF */
      {"\xf0\x80\x80\x80", 0},         /* overlong */
      {"\xf0\x8f\xbf\xbf", 0},         /* overlong U+FFFF */
      {"\xed\xa0\x80", 0},             /* surrogate U+D800 */
      {"\xed\xbf\xbf", 0},             /* surrogate U+DFFF */
      {"\xed\xa0\x80\xed\xb0\x80", 0}, /* surrogate pair in CESU-8 */
      {"\xf4\x90\x80\x80", 0},         /* U+110000 */
      {"\xf5\x80\x80\x80", 0},
      {"\xf8\x88\x80\x80\x80", 0},     /* 5-byte */
      {"\xfc\x84\x80\x80\x80\x80", 0}, /* 6-byte */
      {"\xfe", 0},
      {"\xff", 0},
      {"\x80", 0}, /* lone continuation */
      {"\xbf", 0},
      {"a\x80"
       "b",
       0},
      {"\xc3", 0}, /* truncated */
      {"\xe2\x82", 0},
      {"\xf0\x9f\x98", 0},
      {"\xc3"
       "a",
       0}, /* continuation missing */
      {"\xe2\x82"
       "a",
       0},
      {"\xf0\x9f\x98"
       "a",
       0},
      {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1}, /* κόσμε */
      {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 0},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    const uint8_t *p = (const uint8_t *)v[i].s;
    size_t n = strlen(v[i].s);
    if (weft__utf8_valid(p, n) != v[i].ok) fail_msg("vector %zu", i);
    assert_int_equal(ref_valid(p, n), v[i].ok);
    /* Fed byte by byte, the state machine agrees. */
    uint32_t st = WEFT__UTF8_ACCEPT;
    for (size_t k = 0; k < n; k++)
      st = weft__utf8_step(st, p + k, 1);
    assert_int_equal(st == WEFT__UTF8_ACCEPT, v[i].ok);
  }
  /* Reject is final. */
  assert_int_equal(weft__utf8_step(WEFT__UTF8_REJECT, (const uint8_t *)"abc", 3),
                   WEFT__UTF8_REJECT);
  assert_int_equal(weft__utf8_step(WEFT__UTF8_ACCEPT,
                                   (const uint8_t *)"\xc0"
                                                    "abcdefghij",
                                   11),
                   WEFT__UTF8_REJECT);
  /* A pending sequence is neither accept nor reject. */
  uint32_t st = weft__utf8_step(WEFT__UTF8_ACCEPT, (const uint8_t *)"\xf0\x9f", 2);
  assert_true(st != WEFT__UTF8_ACCEPT && st != WEFT__UTF8_REJECT);
  assert_int_equal(weft__utf8_step(st, (const uint8_t *)"\x98\x80", 2), WEFT__UTF8_ACCEPT);
}

/* Every sequence of up to three bytes, and every four-byte sequence whose
 * tail bytes come from a representative set, against the reference. */
/* One non-ASCII sequence at every position of ASCII runs up to 100 bytes:
 * the 32-, 16- and 8-byte ASCII skips stop exactly where they must. */
static void test_utf8_positions(void **state) {
  (void)state;
  static const struct {
    const char *seq;
    int ok;
  } seqs[] = {{"\xc3\xa9", 1}, {"\xe2\x82\xac", 1}, {"\xff", 0}, {"\xc3", 0}, {"\xed\xa0\x80", 0}};
  uint8_t b[128];
  for (size_t n = 0; n <= 100; n++)
    for (size_t at = 0; at <= n; at++)
      for (size_t k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
        size_t sl = strlen(seqs[k].seq);
        memset(b, 'a', n + sl);
        memcpy(b + at, seqs[k].seq, sl);
        if (weft__utf8_valid(b, n + sl) != seqs[k].ok) fail_msg("n %zu at %zu seq %zu", n, at, k);
        if (weft__utf8_check(b, n + sl) != (seqs[k].ok ? n + sl : at))
          fail_msg("check: n %zu at %zu seq %zu", n, at, k);
      }
}

static void test_utf8_exhaustive(void **state) {
  (void)state;
  uint8_t b[4];
  for (unsigned x = 0; x < 256; x++) {
    b[0] = (uint8_t)x;
    assert_int_equal(weft__utf8_valid(b, 1), ref_valid(b, 1));
    for (unsigned y = 0; y < 256; y++) {
      b[1] = (uint8_t)y;
      assert_int_equal(weft__utf8_valid(b, 2), ref_valid(b, 2));
      if (x < 0xc0 && x >= 0x80) continue; /* the third byte cannot rescue these */
      for (unsigned z = 0; z < 256; z++) {
        b[2] = (uint8_t)z;
        if (weft__utf8_valid(b, 3) != ref_valid(b, 3)) fail_msg("%02x %02x %02x", x, y, z);
      }
    }
  }
  static const uint8_t tails[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
                                  0x9f, 0xa0, 0xbf, 0xc0, 0xf4, 0xff};
  for (unsigned x = 0xe0; x < 256; x++)
    for (unsigned y = 0; y < 256; y++)
      for (size_t i = 0; i < sizeof tails; i++)
        for (size_t j = 0; j < sizeof tails; j++) {
          b[0] = (uint8_t)x;
          b[1] = (uint8_t)y;
          b[2] = tails[i];
          b[3] = tails[j];
          if (weft__utf8_valid(b, 4) != ref_valid(b, 4))
            fail_msg("%02x %02x %02x %02x", x, y, b[2], b[3]);
        }
}

/* ---- reader: protocol rules --------------------------------------------- */

static void test_masking_side(void **state) {
  (void)state;
  weft__buf s = {0};
  put(&s, WEFT__WS_TEXT, 1, 0, "hi", 2, 0);
  expect_fail(&s, 1, NULL, 100, 1002); /* server requires masked frames */
  expect_one_msg(&s, 0, "hi", 2, 0);   /* a client takes them */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, "hi", 2, 1);
  expect_fail(&s, 0, NULL, 100, 1002); /* a client refuses masked frames */
  expect_one_msg(&s, 1, "hi", 2, 0);
  s.len = 0;
  put(&s, WEFT__WS_PING, 1, 0, "", 0, 0); /* control frames too */
  expect_fail(&s, 1, NULL, 100, 1002);
  weft__buf_free(&s);
}

static void test_rsv_bits(void **state) {
  (void)state;
  weft__buf s = {0};
  static const uint8_t rsv2[] = {0xa1, 0x80, 0, 0, 0, 0}, rsv3[] = {0x91, 0x80, 0, 0, 0, 0};
  static const uint8_t rsv1[] = {0xc1, 0x80, 0, 0, 0, 0};
  put_raw(&s, rsv2, sizeof rsv2);
  expect_fail(&s, 1, NULL, 100, 1002);
  s.len = 0;
  put_raw(&s, rsv3, sizeof rsv3);
  expect_fail(&s, 1, NULL, 100, 1002);
  s.len = 0;
  put_raw(&s, rsv1, sizeof rsv1); /* no permessage-deflate */
  expect_fail(&s, 1, NULL, 100, 1002);
  /* Fails on the first byte alone. */
  s.len = 1;
  expect_fail(&s, 1, NULL, 100, 1002);
  weft__buf_free(&s);
}

static void test_reserved_opcodes(void **state) {
  (void)state;
  weft__buf s = {0};
  static const int ops[] = {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
    s.len = 0;
    put(&s, ops[i], 1, 0, "x", 1, 1);
    expect_fail(&s, 1, NULL, 100, 1002);
    s.len = 0;
    put(&s, WEFT__WS_TEXT, 0, 0, "a", 1, 1);
    put(&s, ops[i], 0, 0, "x", 1, 1);
    expect_fail(&s, 1, NULL, 100, 1002);
  }
  weft__buf_free(&s);
}

static void test_control_rules(void **state) {
  (void)state;
  weft__buf s = {0};
  static const int ops[] = {WEFT__WS_PING, WEFT__WS_PONG, WEFT__WS_CLOSE};
  uint8_t big[126];
  memset(big, 'a', sizeof big);
  memcpy(big, "\x03\xe8", 2);
  for (size_t i = 0; i < 3; i++) {
    s.len = 0;
    put(&s, ops[i], 0, 0, "", 0, 1); /* no FIN */
    expect_fail(&s, 1, NULL, 100, 1002);
    s.len = 0;
    put(&s, ops[i], 1, 0, big, 126, 1); /* 126 bytes */
    expect_fail(&s, 1, NULL, 1000, 1002);
    s.len = 0;
    static const uint8_t hdr[] = {0x89, 0xfe, 0x00, 0x7d}; /* 125 in the 16-bit form */
    put_raw(&s, hdr, sizeof hdr);
    s.data[0] = (uint8_t)(0x80 | ops[i]);
    expect_fail(&s, 1, NULL, 1000, 1002);
    s.len = 0;
    put(&s, ops[i], 1, 0, big, 125, 1); /* 125 is fine */
    result res;
    run_all(&s, 1, NULL, 0, &res); /* and max_length does not apply */
    assert_int_equal(res.err, 0);
    assert_int_equal(res.rec.n, 1);
    assert_int_equal(res.rec.evs[0].len, ops[i] == WEFT__WS_CLOSE ? 123 : 125);
    result_free(&res);
  }
  weft__buf_free(&s);
}

static void test_rsv1_rules(void **state) {
  (void)state;
  weft__pmd *z;
  assert_int_equal(weft__pmd_new(&z, 15, 0), 0);
  weft__buf s = {0};
  put(&s, WEFT__WS_PING, 1, 1, "", 0, 1); /* compressed control frame */
  expect_fail(&s, 1, z, 100, 1002);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 1, "\xf2\x48", 2, 1); /* RSV1 on a continuation */
  put(&s, WEFT__WS_CONT, 1, 1, "\xcd\xc9\xc9\x07\x00", 5, 1);
  expect_fail(&s, 1, z, 100, 1002);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "a", 1, 1);
  put(&s, WEFT__WS_CONT, 1, 1, "b", 1, 1);
  expect_fail(&s, 1, z, 100, 1002);
  /* allow_rsv1 without a pmd is treated as not negotiated */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 1, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, 1);
  weft__ws_reader r;
  weft__ws_reader_init(&r, 1, 100);
  r.allow_rsv1 = 1;
  rec rc = {0};
  assert_int_equal(weft__ws_reader_feed(&r, s.data, s.len, &cbs, &rc), WEFT_EPROTO);
  assert_int_equal(r.close_code, 1002);
  weft__ws_reader_free(&r);
  weft__buf_free(&s);
  weft__pmd_free(z);
}

static void test_continuation_order(void **state) {
  (void)state;
  weft__buf s = {0};
  put(&s, WEFT__WS_CONT, 1, 0, "x", 1, 1); /* nothing to continue */
  expect_fail(&s, 1, NULL, 100, 1002);
  s.len = 0;
  put(&s, WEFT__WS_CONT, 0, 0, "x", 1, 1);
  expect_fail(&s, 1, NULL, 100, 1002);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "a", 1, 1); /* new message while one is open */
  put(&s, WEFT__WS_TEXT, 1, 0, "b", 1, 1);
  expect_fail(&s, 1, NULL, 100, 1002);
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 0, 0, "a", 1, 1);
  put(&s, WEFT__WS_BINARY, 0, 0, "b", 1, 1);
  expect_fail(&s, 1, NULL, 100, 1002);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, "a", 1, 1); /* finished: continuation is late */
  put(&s, WEFT__WS_CONT, 1, 0, "b", 1, 1);
  result res;
  run_all(&s, 1, NULL, 100, &res);
  assert_int_equal(res.close_code, 1002);
  assert_int_equal(res.rec.n, 1);
  result_free(&res);
  weft__buf_free(&s);
}

static void test_fragments_with_control(void **state) {
  (void)state;
  weft__buf s = {0};
  put(&s, WEFT__WS_TEXT, 0, 0, "Hel", 3, 1);
  put(&s, WEFT__WS_PING, 1, 0, "p1", 2, 1);
  put(&s, WEFT__WS_CONT, 0, 0, "lo ", 3, 1);
  put(&s, WEFT__WS_PONG, 1, 0, "", 0, 1);
  put(&s, WEFT__WS_CONT, 0, 0, "", 0, 1);
  put(&s, WEFT__WS_CONT, 1, 0, "w\xc3\xb6rld", 6, 1);
  put(&s, WEFT__WS_BINARY, 0, 0, "\xff", 1, 1);
  put(&s, WEFT__WS_CONT, 1, 0, "\xfe", 1, 1);
  put(&s, WEFT__WS_TEXT, 0, 0, "", 0, 1); /* an empty fragmented message */
  put(&s, WEFT__WS_CONT, 1, 0, "", 0, 1);
  put(&s, WEFT__WS_TEXT, 1, 0, "single", 6, 1);
  put(&s, WEFT__WS_CLOSE, 1, 0,
      "\x03\xe8"
      "done",
      6, 1);
  put(&s, WEFT__WS_TEXT, 1, 0, "after close", 11, 1);
  size_t tail = 2 + 4 + 11;
  result res;
  run_all(&s, 1, NULL, 100, &res);
  assert_int_equal(res.err, 0);
  assert_int_equal(res.rec.n, 7);
  const ev *e = res.rec.evs;
  assert_int_equal(e[0].type, EV_PING);
  assert_memory_equal(e[0].data, "p1", 2);
  assert_int_equal(e[1].type, EV_PONG);
  assert_int_equal(e[1].len, 0);
  assert_int_equal(e[2].type, EV_MSG);
  assert_int_equal(e[2].binary, 0);
  assert_int_equal(e[2].len, 12);
  assert_memory_equal(e[2].data, "Hello w\xc3\xb6rld", 12);
  assert_false(e[2].in_buffer); /* assembled in r->msg */
  assert_int_equal(e[3].binary, 1);
  assert_memory_equal(e[3].data, "\xff\xfe", 2);
  assert_int_equal(e[4].len, 0);
  assert_int_equal(e[4].binary, 0);
  assert_memory_equal(e[5].data, "single", 6);
  assert_true(e[5].in_buffer); /* zero copy */
  assert_true(e[0].in_buffer);
  assert_int_equal(e[6].type, EV_CLOSE);
  assert_int_equal(e[6].code, 1000);
  assert_int_equal(e[6].len, 4);
  assert_memory_equal(e[6].data, "done", 4);
  /* The reader stopped after the close frame. */
  assert_int_equal(res.consumed, s.len - tail);
  result_free(&res);
  weft__buf_free(&s);
}

static void test_length_rules(void **state) {
  (void)state;
  weft__buf s = {0};
  /* 64-bit length with the top bit set */
  static const uint8_t top[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0};
  put_raw(&s, top, sizeof top);
  expect_fail(&s, 1, NULL, UINT64_MAX, 1002);
  /* A huge declared length fails on the header: no payload is awaited. */
  s.len = 0;
  static const uint8_t huge[] = {0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0};
  put_raw(&s, huge, sizeof huge); /* even before the mask key */
  expect_fail(&s, 1, NULL, 1 << 20, 1009);
  put_raw(&s, "\1\2\3\4", 4);
  expect_fail(&s, 1, NULL, 1 << 20, 1009);
  /* A limit past 4 GiB - 1 is taken as that: 2^32 bytes fail at once,
   * 2^32 - 1 are awaited. */
  s.len = 0;
  static const uint8_t four_gib[] = {0x82, 0xff, 0, 0, 0, 0x01, 0, 0, 0, 0, 1, 2, 3, 4};
  put_raw(&s, four_gib, sizeof four_gib);
  expect_fail(&s, 1, NULL, UINT64_MAX, 1009);
  static uint8_t under[] = {0x82, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
  weft__ws_reader big;
  weft__ws_reader_init(&big, 1, (uint64_t)8 << 30);
  rec brc = {0};
  assert_int_equal(weft__ws_reader_feed(&big, under, sizeof under, &cbs, &brc), 0);
  assert_int_equal(big.close_code, 0);
  assert_int_equal(big.need, UINT32_MAX);
  weft__ws_reader_free(&big);

  uint8_t payload[200];
  memset(payload, 'a', sizeof payload);
  /* max_length exactly, then one more, fed as the header only */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, payload, 100, 1);
  expect_one_msg(&s, 1, payload, 100, 0);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, payload, 101, 1);
  s.len = 2;
  expect_fail(&s, 1, NULL, 100, 1009);
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 1, 0, payload, 200, 1);
  s.len = 4; /* 16-bit length, no mask key yet */
  expect_fail(&s, 1, NULL, 199, 1009);
  /* The sum of fragments counts, checked on each header. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, payload, 60, 1);
  put(&s, WEFT__WS_CONT, 0, 0, payload, 40, 1);
  put(&s, WEFT__WS_CONT, 1, 0, payload, 0, 1);
  expect_one_msg(&s, 1, payload, 100, 0);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, payload, 60, 1);
  put(&s, WEFT__WS_CONT, 1, 0, payload, 41, 1);
  s.len -= 41; /* the last fragment's payload never arrives */
  expect_fail(&s, 1, NULL, 100, 1009);
  /* max_length 0 still carries empty messages */
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 1, 0, "", 0, 1);
  result res;
  run_all(&s, 1, NULL, 0, &res);
  assert_int_equal(res.err, 0);
  assert_int_equal(res.rec.n, 1);
  result_free(&res);
  weft__buf_free(&s);
}

static void test_need(void **state) {
  (void)state;
  weft__ws_reader r;
  weft__ws_reader_init(&r, 1, 1 << 20);
  rec rc = {0};
  weft__buf s = {0};
  uint8_t payload[1000] = {0};
  put(&s, WEFT__WS_BINARY, 1, 0, payload, 1000, 1);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 1, &cbs, &rc), 0);
  assert_int_equal(r.need, 0); /* header not known yet */
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 3, &cbs, &rc), 0);
  assert_int_equal(r.need, 0);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 4, &cbs, &rc), 0);
  assert_int_equal(r.need, 1008); /* header + payload */
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 500, &cbs, &rc), 0);
  assert_int_equal(r.need, 1008);
  assert_int_equal(rc.n, 0);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, s.len, &cbs, &rc), 1008);
  assert_int_equal(r.need, 0);
  assert_int_equal(rc.n, 1);
  /* need describes the pending frame after complete ones. */
  s.len = 0;
  put(&s, WEFT__WS_PING, 1, 0, "x", 1, 1);
  put(&s, WEFT__WS_BINARY, 1, 0, payload, 300, 1);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 7 + 8, &cbs, &rc), 7);
  assert_int_equal(r.need, 308);
  assert_int_equal(weft__ws_reader_feed(&r, NULL, 0, &cbs, &rc), 0);
  assert_int_equal(r.need, 0);
  rec_free(&rc);
  weft__ws_reader_free(&r);
  weft__buf_free(&s);
}

static void test_utf8_text(void **state) {
  (void)state;
  weft__buf s = {0};
  put(&s, WEFT__WS_TEXT, 1, 0, "ok\xc0\x80", 4, 1);
  expect_fail(&s, 1, NULL, 100, 1007);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, "\xe2\x82", 2, 1); /* truncated at the end */
  expect_fail(&s, 1, NULL, 100, 1007);
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 1, 0, "ok\xc0\x80", 4, 1); /* binary is not checked */
  expect_one_msg(&s, 1, "ok\xc0\x80", 4, 1);
  /* A code point split across fragments is fine. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "\xe2", 1, 1);
  put(&s, WEFT__WS_CONT, 0, 0, "\x82", 1, 1);
  put(&s, WEFT__WS_PING, 1, 0, "", 0, 1);
  put(&s, WEFT__WS_CONT, 1, 0, "\xac!", 2, 1);
  result res;
  run_all(&s, 1, NULL, 100, &res);
  assert_int_equal(res.err, 0);
  assert_int_equal(res.rec.n, 2);
  assert_memory_equal(res.rec.evs[1].data, "\xe2\x82\xac!", 4);
  result_free(&res);
  /* Fail fast: the bad fragment fails though FIN never comes. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "good", 4, 1);
  put(&s, WEFT__WS_CONT, 0, 0, "\xf4\x90\x80\x80", 4, 1);
  expect_fail(&s, 1, NULL, 100, 1007);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "\xed", 1, 1);
  put(&s, WEFT__WS_CONT, 0, 0, "\xa0", 1, 1); /* surrogate, split */
  expect_fail(&s, 1, NULL, 100, 1007);
  /* A message ending inside a code point fails at FIN. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "a\xf0\x9f", 3, 1);
  put(&s, WEFT__WS_CONT, 1, 0, "\x98", 1, 1);
  expect_fail(&s, 1, NULL, 100, 1007);
  /* An all-ASCII fragment after one that ends inside a code point fails
   * (unmasking finds ASCII, which skips the check only between code
   * points). */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "a\xc3", 2, 1);
  put(&s, WEFT__WS_CONT, 1, 0, "bcdefghijk", 10, 1);
  expect_fail(&s, 1, NULL, 100, 1007);
  /* Short and 16-bit-length frames: a bad byte anywhere fails, ASCII and
   * good UTF-8 pass. */
  char p[300];
  for (size_t n = 1; n <= 300; n += (n < 140 ? 1 : 13)) {
    for (size_t at = 0; at < n; at += (n < 70 ? 1 : 11)) {
      memset(p, 'x', n);
      s.len = 0;
      put(&s, WEFT__WS_TEXT, 1, 0, p, n, 1);
      expect_one_msg(&s, 1, p, n, 0);
      p[at] = (char)0xff;
      s.len = 0;
      put(&s, WEFT__WS_TEXT, 1, 0, p, n, 1);
      expect_fail(&s, 1, NULL, 1000, 1007);
      if (at + 1 < n) {
        p[at] = (char)0xc3;
        p[at + 1] = (char)0xa9;
        s.len = 0;
        put(&s, WEFT__WS_TEXT, 1, 0, p, n, 1);
        expect_one_msg(&s, 1, p, n, 0);
      }
    }
  }
  weft__buf_free(&s);
}

/* Feeds s[0..len) one byte at a time to a fresh reader, keeping unconsumed
 * bytes as a connection does. Returns the first error (0 when none) and in
 * *at how many bytes had been offered then. */
static long feed_bytewise(const weft__buf *s, int server, weft__pmd *pmd, rec *rc, size_t *at) {
  weft__ws_reader r;
  weft__ws_reader_init(&r, server, 1 << 20);
  if (pmd) {
    r.allow_rsv1 = 1;
    r.pmd = pmd;
  }
  uint8_t *pending = malloc(s->len + 1);
  size_t have = 0;
  long err = 0;
  for (size_t i = 0; i < s->len && !err; i++) {
    pending[have++] = s->data[i];
    long n = weft__ws_reader_feed(&r, pending, have, &cbs, rc);
    if (n < 0) {
      err = n;
      *at = i + 1;
      assert_int_equal(r.close_code, WEFT__CLOSE_INVALID_DATA);
      break;
    }
    memmove(pending, pending + n, have - (size_t)n);
    have -= (size_t)n;
  }
  free(pending);
  weft__ws_reader_free(&r);
  return err;
}

static void test_utf8_within_frame(void **state) {
  (void)state;
  static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 ascii \xe2\x82\xac";
  size_t tl = sizeof text - 1;
  weft__buf s = {0};
  rec rc = {0};
  size_t at = 0;
  /* Valid text split at every byte, on both sides (masked and not): one
   * message, intact, with code points cut anywhere. */
  for (int server = 0; server <= 1; server++) {
    s.len = 0;
    put(&s, WEFT__WS_TEXT, 1, 0, text, tl, server);
    assert_int_equal(feed_bytewise(&s, server, NULL, &rc, &at), 0);
    assert_int_equal(rc.n, 1);
    assert_int_equal(rc.evs[0].len, tl);
    assert_memory_equal(rc.evs[0].data, text, tl);
    rec_free(&rc);
    expect_one_msg(&s, server, text, tl, 0);
  }
  /* A 200-byte frame (16-bit length) fails at its first bad byte, long
   * before the frame ends: byte 10 of the payload is 0xff. */
  uint8_t big[200];
  memset(big, 'x', sizeof big);
  big[10] = 0xff;
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, big, sizeof big, 1);
  assert_int_equal(feed_bytewise(&s, 1, NULL, &rc, &at), WEFT_EUTF8);
  assert_int_equal(at, 8 + 11); /* header (2 + 2 + mask 4), then 11 bytes */
  assert_int_equal(rc.n, 0);
  expect_fail(&s, 1, NULL, 1000, 1007);
  /* The same when a whole feed holds part of the frame only. */
  weft__ws_reader r;
  weft__ws_reader_init(&r, 1, 1000);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 8 + 5, &cbs, &rc), 0);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 8 + 40, &cbs, &rc), WEFT_EUTF8);
  assert_int_equal(r.close_code, WEFT__CLOSE_INVALID_DATA);
  weft__ws_reader_free(&r);
  /* A surrogate in a continuation frame of a text message, caught before
   * that frame's last byte. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "ok", 2, 1);
  memcpy(big + 10, "\xed\xa0\x80", 3);
  put(&s, WEFT__WS_CONT, 1, 0, big, sizeof big, 1);
  assert_int_equal(feed_bytewise(&s, 1, NULL, &rc, &at), WEFT_EUTF8);
  assert_int_equal(at, 8 + 8 + 12);
  assert_int_equal(rc.n, 0);
  /* A code point cut at the end of what arrived is not an error yet. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, "\xf0\x9f\x98\x80", 4, 1);
  weft__ws_reader_init(&r, 1, 1000);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 6 + 2, &cbs, &rc), 0);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, 6 + 3, &cbs, &rc), 0);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, s.len, &cbs, &rc), (long)s.len);
  assert_int_equal(rc.n, 1);
  assert_memory_equal(rc.evs[0].data, "\xf0\x9f\x98\x80", 4);
  rec_free(&rc);
  weft__ws_reader_free(&r);
  /* Valid text in fragments, each split at every byte, with a ping between:
   * one message. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, text, 5, 1);
  put(&s, WEFT__WS_PING, 1, 0, "p", 1, 1);
  put(&s, WEFT__WS_CONT, 0, 0, text + 5, 4, 1);
  put(&s, WEFT__WS_CONT, 1, 0, text + 9, tl - 9, 1);
  assert_int_equal(feed_bytewise(&s, 1, NULL, &rc, &at), 0);
  assert_int_equal(rc.n, 2);
  assert_int_equal(rc.evs[1].len, tl);
  assert_memory_equal(rc.evs[1].data, text, tl);
  rec_free(&rc);
  /* Binary frames are not text: their bytes are never checked. */
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 1, 0, big, sizeof big, 1);
  assert_int_equal(feed_bytewise(&s, 1, NULL, &rc, &at), 0);
  assert_int_equal(rc.n, 1);
  assert_memory_equal(rc.evs[0].data, big, sizeof big);
  rec_free(&rc);
  weft__buf_free(&s);
}

static void test_close_frames(void **state) {
  (void)state;
  weft__buf s = {0};
  result res;
  put(&s, WEFT__WS_CLOSE, 1, 0, "", 0, 1);
  run_all(&s, 1, NULL, 100, &res);
  assert_int_equal(res.err, 0);
  assert_int_equal(res.rec.n, 1);
  assert_int_equal(res.rec.evs[0].code, WEFT__CLOSE_NO_STATUS);
  assert_int_equal(res.rec.evs[0].len, 0);
  result_free(&res);

  s.len = 0;
  put(&s, WEFT__WS_CLOSE, 1, 0, "\x03", 1, 1); /* length 1 */
  expect_fail(&s, 1, NULL, 100, 1002);

  static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
  static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                             1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  uint8_t p[2];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    s.len = 0;
    p[0] = (uint8_t)(bad[i] >> 8);
    p[1] = (uint8_t)bad[i];
    put(&s, WEFT__WS_CLOSE, 1, 0, p, 2, 1);
    expect_fail(&s, 1, NULL, 100, 1002);
  }
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    s.len = 0;
    p[0] = (uint8_t)(good[i] >> 8);
    p[1] = (uint8_t)good[i];
    put(&s, WEFT__WS_CLOSE, 1, 0, p, 2, 0);
    run_all(&s, 0, NULL, 100, &res);
    assert_int_equal(res.err, 0);
    assert_int_equal(res.rec.evs[0].code, good[i]);
    result_free(&res);
  }
  s.len = 0;
  put(&s, WEFT__WS_CLOSE, 1, 0,
      "\x03\xe8"
      "bad\xed\xa0\x80",
      8, 1);
  expect_fail(&s, 1, NULL, 100, 1007);
  s.len = 0;
  put(&s, WEFT__WS_CLOSE, 1, 0, "\x03\xe8\xf0\x9f\x98\x80", 6, 1);
  run_all(&s, 1, NULL, 100, &res);
  assert_int_equal(res.rec.evs[0].len, 4);
  result_free(&res);
  /* A close inside a fragmented message is fine: it is a control frame. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 0, "partial", 7, 1);
  put(&s, WEFT__WS_CLOSE, 1, 0, "\x03\xe9", 2, 1);
  run_all(&s, 1, NULL, 100, &res);
  assert_int_equal(res.err, 0);
  assert_int_equal(res.rec.n, 1);
  assert_int_equal(res.rec.evs[0].code, 1001);
  result_free(&res);
  weft__buf_free(&s);
}

static void test_stop(void **state) {
  (void)state;
  weft__buf s = {0};
  put(&s, WEFT__WS_TEXT, 1, 0, "one", 3, 1);
  size_t first = s.len;
  put(&s, WEFT__WS_TEXT, 0, 0, "tw", 2, 1);
  put(&s, WEFT__WS_CONT, 1, 0, "o", 1, 1);
  size_t second = s.len;
  put(&s, WEFT__WS_BINARY, 1, 0, "3", 1, 1);
  weft__ws_reader r;
  weft__ws_reader_init(&r, 1, 100);
  rec rc = {0};
  rc.stop_on_msg = 1;
  long n = weft__ws_reader_feed(&r, s.data, s.len, &cbs, &rc);
  assert_int_equal(n, first);
  assert_int_equal(rc.n, 1);
  assert_int_equal(r.need, 0);
  n = weft__ws_reader_feed(&r, s.data + first, s.len - first, &cbs, &rc);
  assert_int_equal(n, second - first);
  assert_int_equal(rc.n, 2);
  assert_memory_equal(rc.evs[1].data, "two", 3);
  n = weft__ws_reader_feed(&r, s.data + second, s.len - second, &cbs, &rc);
  assert_int_equal(n, s.len - second);
  assert_int_equal(rc.n, 3);
  /* Ping and pong callbacks stop too. */
  /* Callbacks may be left NULL. */
  static const weft__ws_reader_cbs none = {NULL, NULL, NULL, NULL};
  s.len = 0;
  put(&s, WEFT__WS_PING, 1, 0, "", 0, 1);
  put(&s, WEFT__WS_TEXT, 1, 0, "x", 1, 1);
  assert_int_equal(weft__ws_reader_feed(&r, s.data, s.len, &none, NULL), s.len);
  rec_free(&rc);
  weft__ws_reader_free(&r);
  weft__buf_free(&s);
}

static int ping_stops(void *ctx, uint8_t *data, size_t len) {
  (void)ctx;
  (void)data;
  (void)len;
  return 1;
}

static void test_stop_control(void **state) {
  (void)state;
  weft__buf s = {0};
  put(&s, WEFT__WS_PING, 1, 0, "a", 1, 0);
  size_t first = s.len;
  put(&s, WEFT__WS_PING, 1, 0, "b", 1, 0);
  weft__ws_reader r;
  weft__ws_reader_init(&r, 0, 100);
  weft__ws_reader_cbs c = {NULL, ping_stops, NULL, NULL};
  assert_int_equal(weft__ws_reader_feed(&r, s.data, s.len, &c, NULL), first);
  weft__ws_reader_free(&r);
  weft__buf_free(&s);
}

/* A long mixed stream, both sides, many random splits. */
static void test_mixed_stream(void **state) {
  (void)state;
  for (int server = 0; server < 2; server++) {
    weft__buf s = {0};
    uint8_t big[70000];
    for (size_t i = 0; i < sizeof big; i++)
      big[i] = (uint8_t)('a' + i % 26);
    for (int i = 0; i < 20; i++) {
      put(&s, WEFT__WS_TEXT, 1, 0, big, (size_t)i * 13, server);
      put(&s, WEFT__WS_PING, 1, 0, big, (size_t)i, server);
      put(&s, WEFT__WS_BINARY, 0, 0, big, 100, server);
      put(&s, WEFT__WS_PONG, 1, 0, big, 125, server);
      put(&s, WEFT__WS_CONT, 1, 0, big, 26, server);
    }
    put(&s, WEFT__WS_BINARY, 1, 0, big, sizeof big, server);
    put(&s, WEFT__WS_TEXT, 0, 0, big, 65535, server);
    put(&s, WEFT__WS_CONT, 1, 0, big, 126, server);
    result res;
    run_all(&s, server, NULL, 1 << 20, &res);
    assert_int_equal(res.err, 0);
    assert_int_equal(res.rec.n, 82);
    assert_int_equal(res.consumed, s.len);
    assert_int_equal(res.rec.evs[80].len, sizeof big);
    assert_memory_equal(res.rec.evs[80].data, big, sizeof big);
    assert_int_equal(res.rec.evs[81].len, 65535 + 126);
    result_free(&res);
    weft__buf_free(&s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha1),
      cmocka_unit_test(test_accept_key),
      cmocka_unit_test(test_make_key),
      cmocka_unit_test(test_check_upgrade),
      cmocka_unit_test(test_frame_header),
      cmocka_unit_test(test_mask),
      cmocka_unit_test(test_close_codes),
      cmocka_unit_test(test_close_payload),
      cmocka_unit_test(test_utf8_vectors),
      cmocka_unit_test(test_utf8_positions),
      cmocka_unit_test(test_utf8_exhaustive),
      cmocka_unit_test(test_masking_side),
      cmocka_unit_test(test_rsv_bits),
      cmocka_unit_test(test_reserved_opcodes),
      cmocka_unit_test(test_control_rules),
      cmocka_unit_test(test_rsv1_rules),
      cmocka_unit_test(test_continuation_order),
      cmocka_unit_test(test_fragments_with_control),
      cmocka_unit_test(test_length_rules),
      cmocka_unit_test(test_need),
      cmocka_unit_test(test_utf8_text),
      cmocka_unit_test(test_utf8_within_frame),
      cmocka_unit_test(test_close_frames),
      cmocka_unit_test(test_stop),
      cmocka_unit_test(test_stop_control),
      cmocka_unit_test(test_mixed_stream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
