/* permessage-deflate: negotiation, the shared streams, compressed frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "transport/ws/codec.h"
#include "weft/weft.h"

#define RESP_BOTH "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

/* ---- negotiation -------------------------------------------------------- */

static int nego(const char *offers, weft__pmd_params *p, char *resp) {
  memset(resp, 'z', 128);
  return weft__pmd_negotiate(offers, p, resp, 128);
}

/* Accepted with this answer, compressing with a window of `bits`. */
static void accepted_bits(const char *offers, const char *want, int bits) {
  weft__pmd_params p;
  char resp[128];
  assert_int_equal(nego(offers, &p, resp), 0);
  if (!p.enabled) fail_msg("not accepted: %s", offers);
  assert_string_equal(resp, want);
  assert_int_equal(p.server_no_context_takeover, 1);
  assert_int_equal(p.client_no_context_takeover, 1);
  assert_int_equal(p.server_max_window_bits, bits);
  assert_int_equal(p.client_max_window_bits, 15);
}

static void accepted(const char *offers, const char *want) { accepted_bits(offers, want, 15); }

static void refused(const char *offers) {
  weft__pmd_params p;
  char resp[128];
  assert_int_equal(nego(offers, &p, resp), 0);
  if (p.enabled) fail_msg("accepted: %s", offers);
}

static void test_negotiate_clients(void **state) {
  (void)state;
  /* Chromium, and Node's ws with its default options */
  accepted("permessage-deflate; client_max_window_bits", RESP_BOTH);
  /* Firefox, Safari */
  accepted("permessage-deflate", RESP_BOTH);
  /* ws with every option set; the server window must be echoed */
  accepted("permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
           "server_max_window_bits=15; client_max_window_bits=15",
           RESP_BOTH "; server_max_window_bits=15");
  /* Python websockets */
  accepted("permessage-deflate; server_max_window_bits=15; client_max_window_bits",
           RESP_BOTH "; server_max_window_bits=15");
  accepted("permessage-deflate; client_max_window_bits=8", RESP_BOTH);
  accepted("PerMessage-Deflate;Client_Max_Window_Bits", RESP_BOTH);
  accepted("  permessage-deflate \t;\t client_max_window_bits  ", RESP_BOTH);
  accepted("permessage-deflate; client_max_window_bits=\"10\"", RESP_BOTH);
  accepted("permessage-deflate; server_max_window_bits=\"15\"",
           RESP_BOTH "; server_max_window_bits=15");
  accepted("permessage-deflate; client_max_window_bits=\"1\\2\"", RESP_BOTH);
}

static void test_negotiate_multiple(void **state) {
  (void)state;
  /* The first acceptable offer wins. */
  accepted("permessage-deflate; server_max_window_bits=16, permessage-deflate; "
           "client_max_window_bits",
           RESP_BOTH);
  accepted("permessage-deflate; server_max_window_bits=7; client_max_window_bits, "
           "permessage-deflate; server_max_window_bits=15",
           RESP_BOTH "; server_max_window_bits=15");
  accepted_bits("permessage-deflate; server_max_window_bits=10, permessage-deflate",
                RESP_BOTH "; server_max_window_bits=10", 10);
  accepted("x-webkit-deflate-frame, permessage-deflate", RESP_BOTH);
  accepted("foo; bar=\"a, permessage-deflate\", permessage-deflate", RESP_BOTH);
  accepted("permessage-deflate; bogus, permessage-deflate", RESP_BOTH);
  accepted(",, ,permessage-deflate,", RESP_BOTH);
  accepted("permessage-deflate;, permessage-deflate", RESP_BOTH);
  accepted("permessage-deflate garbage, permessage-deflate", RESP_BOTH);
  refused("permessage-deflate; server_max_window_bits=16, permessage-deflate; foo");
  /* An unterminated quote swallows the rest. */
  refused("permessage-deflate; x=\"unterminated, permessage-deflate");
}

static void test_negotiate_bad(void **state) {
  (void)state;
  weft__pmd_params p;
  char resp[128];
  assert_int_equal(nego(NULL, &p, resp), 0);
  assert_int_equal(p.enabled, 0);
  assert_int_equal(p.server_max_window_bits, 15);
  static const char *bad[] = {
      "",
      " , ",
      "x-webkit-deflate-frame",
      "permessage-deflatex",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=09",
      "permessage-deflate; server_max_window_bits=\"\"",
      "permessage-deflate; client_max_window_bits=16",
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; client_max_window_bits=08",
      "permessage-deflate; client_max_window_bits=015",
      "permessage-deflate; client_max_window_bits=",
      "permessage-deflate; client_max_window_bits=\"\"",
      "permessage-deflate; client_max_window_bits=\"150\"",
      "permessage-deflate; client_max_window_bits=\"1512345678901234\"",
      "permessage-deflate; client_max_window_bits=abc",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover=\"\"",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
      "permessage-deflate; server_max_window_bits=15; server_max_window_bits=15",
      "permessage-deflate; mux",
      "permessage-deflate;",
      "permessage-deflate; =15",
      "permessage-deflate; client_max_window_bits=\"10",
      "permessage-deflate; client_max_window_bits=\"10\\",
      "permessage-deflate client_max_window_bits",
      "; permessage-deflate",
      "\"permessage-deflate\"",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    refused(bad[i]);
}

/* Every window size a client may ask for (RFC 7692 7.1.2.1) is taken and
 * echoed: the connection is served by the compressor for that size. */
static void test_negotiate_windows(void **state) {
  (void)state;
  for (int bits = 8; bits <= 15; bits++) {
    char offer[128], want[160];
    snprintf(offer, sizeof offer,
             "permessage-deflate; client_no_context_takeover; client_max_window_bits; "
             "server_max_window_bits=%d",
             bits);
    snprintf(want, sizeof want, RESP_BOTH "; server_max_window_bits=%d", bits);
    accepted_bits(offer, want, bits);
    snprintf(offer, sizeof offer, "permessage-deflate; server_max_window_bits=\"%d\"", bits);
    accepted_bits(offer, want, bits);
  }
}

/* A client's offer, and what it makes of the server's answer. */
static void test_client_accept(void **state) {
  (void)state;
  weft__pmd_params p;
  assert_non_null(strstr(weft__pmd_offer, "permessage-deflate"));
  assert_int_equal(weft__pmd_accept(NULL, &p), 0);
  assert_int_equal(p.enabled, 0);
  assert_int_equal(weft__pmd_accept("permessage-deflate", &p), 0);
  assert_int_equal(p.enabled, 1);
  assert_int_equal(p.server_no_context_takeover, 0); /* the server keeps its context */
  assert_int_equal(p.client_no_context_takeover, 0);
  assert_int_equal(p.server_max_window_bits, 15);
  assert_int_equal(p.client_max_window_bits, 15);
  assert_int_equal(weft__pmd_accept(RESP_BOTH "; server_max_window_bits=10", &p), 0);
  assert_int_equal(p.server_no_context_takeover, 1);
  assert_int_equal(p.client_no_context_takeover, 1);
  assert_int_equal(p.server_max_window_bits, 10);
  assert_int_equal(weft__pmd_accept(" Permessage-Deflate ; client_max_window_bits=9 ", &p), 0);
  assert_int_equal(p.client_max_window_bits, 9);
  assert_int_equal(p.server_no_context_takeover, 0);
  static const char *bad[] = {
      "",
      "x-webkit-deflate-frame",
      "permessage-deflate, permessage-deflate",
      "permessage-deflate; client_max_window_bits", /* an answer gives the value */
      "permessage-deflate; client_max_window_bits=16",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_no_context_takeover=1",
      "permessage-deflate; mux",
      "permessage-deflate;",
      "permessage-deflate x",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (weft__pmd_accept(bad[i], &p) != WEFT_EPROTO) fail_msg("accepted: %s", bad[i]);
  assert_int_equal(weft__pmd_accept("permessage-deflate", NULL), WEFT_EINVAL);
}

static void test_negotiate_small_resp(void **state) {
  (void)state;
  weft__pmd_params p;
  char resp[16];
  assert_int_equal(weft__pmd_negotiate("permessage-deflate", &p, resp, sizeof resp), WEFT_EINVAL);
  assert_int_equal(p.enabled, 0);
  char exact[sizeof RESP_BOTH];
  assert_int_equal(weft__pmd_negotiate("permessage-deflate", &p, exact, sizeof exact), 0);
  assert_int_equal(p.enabled, 1);
  assert_string_equal(exact, RESP_BOTH);
  assert_int_equal(weft__pmd_negotiate("permessage-deflate", &p, NULL, 0), WEFT_EINVAL);
  /* Nothing to accept: no room needed. */
  assert_int_equal(weft__pmd_negotiate("foo", &p, NULL, 0), 0);
  assert_int_equal(weft__pmd_negotiate("foo", NULL, resp, sizeof resp), WEFT_EINVAL);
}

/* ---- streams ------------------------------------------------------------ */

static int setup(void **state) { return weft__pmd_new((weft__pmd **)state, 15, 0) ? -1 : 0; }
static int teardown(void **state) {
  weft__pmd_free(*state);
  return 0;
}

static void roundtrip(weft__pmd *z, const uint8_t *p, size_t n) {
  weft__buf c = {0}, d = {0};
  assert_int_equal(weft__pmd_deflate(z, p, n, &c), 0);
  assert_int_equal(weft__pmd_inflate(z, c.data, c.len, n, &d), 0);
  assert_int_equal(d.len, n);
  if (n) assert_memory_equal(d.data, p, n);
  weft__buf_free(&c);
  weft__buf_free(&d);
}

static void test_roundtrip(void **state) {
  weft__pmd *z = *state;
  size_t big = 1 << 20;
  uint8_t *p = malloc(big);
  unsigned s = 7;
  for (size_t i = 0; i < big; i++)
    p[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
  static const size_t sizes[] = {0, 1, 2, 100, 4095, 65536, 70000, 1 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    roundtrip(z, p, sizes[i]);
  const char *json = "{\"event\":\"chat\",\"room\":\"lobby\",\"user\":\"alice\",\"text\":\"hi\"}";
  size_t jl = strlen(json);
  for (size_t i = 0; i < big; i++)
    p[i] = (uint8_t)json[i % jl];
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    roundtrip(z, p, sizes[i]);
  /* Compressible data shrinks; an empty message is the single byte 00. */
  weft__buf c = {0};
  assert_int_equal(weft__pmd_deflate(z, p, big, &c), 0);
  assert_true(c.len < big / 50);
  c.len = 0;
  assert_int_equal(weft__pmd_deflate(z, p, 0, &c), 0);
  assert_int_equal(c.len, 1);
  assert_int_equal(c.data[0], 0);
  /* deflate appends */
  c.len = 0;
  weft__buf_append(&c, "xy", 2);
  assert_int_equal(weft__pmd_deflate(z, (const uint8_t *)"Hello", 5, &c), 0);
  assert_memory_equal(c.data, "xy", 2);
  weft__buf d = {0};
  assert_int_equal(weft__pmd_inflate(z, c.data + 2, c.len - 2, 5, &d), 0);
  assert_memory_equal(d.data, "Hello", 5);
  weft__buf_free(&c);
  weft__buf_free(&d);
  free(p);
}

static void test_rfc_examples(void **state) {
  weft__pmd *z = *state;
  weft__buf out = {0};
  /* RFC 7692 7.2.3.1: "Hello" compressed */
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  assert_int_equal(weft__pmd_inflate(z, hello, sizeof hello, 100, &out), 0);
  assert_int_equal(out.len, 5);
  assert_memory_equal(out.data, "Hello", 5);
  /* 7.2.3.3: with no compression (a stored block); the last 00 starts the
   * empty block whose LEN/NLEN the sender stripped */
  static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                   0x65, 0x6c, 0x6c, 0x6f, 0x00};
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(z, stored, sizeof stored, 100, &out), 0);
  assert_memory_equal(out.data, "Hello", 5);
  /* 7.2.3.4: BFINAL set */
  static const uint8_t final[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(z, final, sizeof final, 100, &out), 0);
  assert_memory_equal(out.data, "Hello", 5);
  /* 7.2.3.5: two DEFLATE blocks in one message */
  static const uint8_t two[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(z, two, sizeof two, 100, &out), 0);
  assert_int_equal(out.len, 5);
  assert_memory_equal(out.data, "Hello", 5);
  /* 7.2.3.6: an empty message */
  static const uint8_t empty[] = {0x00};
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(z, empty, 1, 100, &out), 0);
  assert_int_equal(out.len, 0);
  assert_int_equal(weft__pmd_inflate(z, empty, 0, 100, &out), 0);
  assert_int_equal(out.len, 0);
  /* The same message twice: no context is carried between messages. */
  for (int i = 0; i < 3; i++) {
    out.len = 0;
    assert_int_equal(weft__pmd_inflate(z, hello, sizeof hello, 5, &out), 0);
    assert_memory_equal(out.data, "Hello", 5);
  }
  /* 7.2.3.2's second message uses the first one's window: without context
   * takeover it refers to data we do not have. */
  static const uint8_t shared[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(z, shared, sizeof shared, 100, &out), WEFT_EPROTO);
  weft__buf_free(&out);
}

static void test_limits(void **state) {
  weft__pmd *z = *state;
  size_t n = 10 << 20;
  uint8_t *zeros = calloc(1, n);
  weft__buf c = {0}, out = {0};
  assert_int_equal(weft__pmd_deflate(z, zeros, n, &c), 0);
  assert_true(c.len < 60000);
  /* A bomb stops at the limit without expanding into memory. */
  assert_int_equal(weft__pmd_inflate(z, c.data, c.len, 1 << 20, &out), WEFT_ETOOBIG);
  assert_int_equal(out.len, 0);
  assert_true(out.cap <= (2u << 20) + 4096);
  weft__buf_free(&out);
  assert_int_equal(weft__pmd_inflate(z, c.data, c.len, 0, &out), WEFT_ETOOBIG);
  assert_true(out.cap <= 4096);
  /* The limit is inclusive. */
  assert_int_equal(weft__pmd_inflate(z, c.data, c.len, n, &out), 0);
  assert_int_equal(out.len, n);
  assert_memory_equal(out.data, zeros, n);
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(z, c.data, c.len, n - 1, &out), WEFT_ETOOBIG);
  assert_int_equal(out.len, 0);
  /* Existing content is kept on failure. */
  weft__buf_append(&out, "keep", 4);
  assert_int_equal(weft__pmd_inflate(z, c.data, c.len, 100, &out), WEFT_ETOOBIG);
  assert_int_equal(out.len, 4);
  assert_int_equal(weft__pmd_inflate(z, c.data, c.len, SIZE_MAX, &out), 0);
  assert_int_equal(out.len, n + 4);
  weft__buf_free(&out);
  weft__buf_free(&c);
  free(zeros);
}

static void test_corrupt(void **state) {
  weft__pmd *z = *state;
  weft__buf out = {0};
  static const struct {
    const char *p;
    size_t n;
  } bad[] = {
      {"\xff\xff\xff\xff", 4}, /* BTYPE 11 */
      {"\xf2\x48", 2},         /* cut inside a block */
      {"\xf2\x48\xcd\xc9\xc9", 5},
      {"\x00\x05\x00\xfa\xff\x48\x65", 7},              /* stored block cut short */
      {"\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f", 10}, /* no header bits for the tail */
      {"\x00\x05\x00\x00\x00Hello", 10},                /* LEN/NLEN mismatch */
      {"\xf2\x00\x11\x00\x00", 5},                      /* distance before the start */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    out.len = 0;
    int rc = weft__pmd_inflate(z, (const uint8_t *)bad[i].p, bad[i].n, 1000, &out);
    if (rc != WEFT_EPROTO) fail_msg("case %zu: %d", i, rc);
    assert_int_equal(out.len, 0);
  }
  /* Random garbage never crashes and never exceeds the limit; the stream
   * stays usable afterwards. */
  uint8_t junk[256];
  unsigned s = 1;
  for (int round = 0; round < 2000; round++) {
    size_t n = 1 + (s = s * 1103515245u + 12345u) % sizeof junk;
    for (size_t i = 0; i < n; i++)
      junk[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16);
    out.len = 0;
    int rc = weft__pmd_inflate(z, junk, n, 512, &out);
    assert_true(rc == 0 || rc == WEFT_EPROTO || rc == WEFT_ETOOBIG);
    assert_true(out.len <= 512);
  }
  out.len = 0;
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  assert_int_equal(weft__pmd_inflate(z, hello, sizeof hello, 100, &out), 0);
  assert_memory_equal(out.data, "Hello", 5);
  weft__buf_free(&out);
  assert_int_equal(weft__pmd_inflate(NULL, hello, 1, 1, &out), WEFT_EINVAL);
  assert_int_equal(weft__pmd_deflate(z, NULL, 1, &out), WEFT_EINVAL);
  assert_int_equal(weft__pmd_new(NULL, 15, 0), WEFT_EINVAL);
  weft__pmd_free(NULL);
}

/* Independent check with zlib used the way other peers use it: a client
 * deflating with its own stream and context takeover off. */
static void test_interop_zlib(void **state) {
  weft__pmd *z = *state;
  z_stream s;
  memset(&s, 0, sizeof s);
  assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -10, 9, Z_DEFAULT_STRATEGY), Z_OK);
  static const char msg[] = "the quick brown fox jumps over the lazy dog, the quick brown fox";
  uint8_t c[256];
  s.next_in = (Bytef *)(uintptr_t)msg;
  s.avail_in = sizeof msg - 1;
  s.next_out = c;
  s.avail_out = sizeof c;
  assert_int_equal(deflate(&s, Z_SYNC_FLUSH), Z_OK);
  size_t n = sizeof c - s.avail_out;
  deflateEnd(&s);
  assert_memory_equal(c + n - 4, "\x00\x00\xff\xff", 4);
  weft__buf out = {0};
  assert_int_equal(weft__pmd_inflate(z, c, n - 4, 1000, &out), 0);
  assert_int_equal(out.len, sizeof msg - 1);
  assert_memory_equal(out.data, msg, out.len);
  /* And ours decodes with plain zlib plus the tail. */
  weft__buf d = {0};
  assert_int_equal(weft__pmd_deflate(z, (const uint8_t *)msg, sizeof msg - 1, &d), 0);
  weft__buf_append(&d, "\x00\x00\xff\xff", 4);
  memset(&s, 0, sizeof s);
  assert_int_equal(inflateInit2(&s, -15), Z_OK);
  uint8_t back[256];
  s.next_in = d.data;
  s.avail_in = (uInt)d.len;
  s.next_out = back;
  s.avail_out = sizeof back;
  int rc = inflate(&s, Z_SYNC_FLUSH);
  assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
  assert_int_equal(sizeof back - s.avail_out, sizeof msg - 1);
  assert_memory_equal(back, msg, sizeof msg - 1);
  inflateEnd(&s);
  weft__buf_free(&out);
  weft__buf_free(&d);
}

/* Plain zlib inflating `c` (plus the tail) with a window of `bits`. */
static int zlib_inflate(const weft__buf *c, int bits, uint8_t *out, size_t cap, size_t *n) {
  z_stream s;
  memset(&s, 0, sizeof s);
  assert_int_equal(inflateInit2(&s, -bits), Z_OK);
  uint8_t *in = malloc(c->len + 4);
  memcpy(in, c->data, c->len);
  memcpy(in + c->len, "\x00\x00\xff\xff", 4);
  s.next_in = in;
  s.avail_in = (uInt)c->len + 4;
  s.next_out = out;
  s.avail_out = (uInt)cap;
  int rc = inflate(&s, Z_SYNC_FLUSH);
  *n = cap - s.avail_out;
  inflateEnd(&s);
  free(in);
  return rc == Z_OK || rc == Z_BUF_ERROR ? 0 : -1;
}

/* Each window size compresses within its window: a peer inflating with
 * exactly that many bits (8 included) reads it. Repeats 1000 bytes apart
 * are found by 15 bits, not by 9. */
static void test_windows(void **state) {
  (void)state;
  size_t n = 20000;
  uint8_t *p = malloc(n), *back = malloc(n);
  unsigned r = 3;
  for (size_t i = 0; i < 1000; i++)
    p[i] = (uint8_t)((r = r * 1103515245u + 12345u) >> 16);
  for (size_t i = 1000; i < n; i++)
    p[i] = p[i - 1000];
  size_t len[16] = {0};
  for (int bits = 8; bits <= 15; bits++) {
    weft__pmd *z;
    assert_int_equal(weft__pmd_new(&z, bits, 0), 0);
    assert_int_equal(weft__pmd_window(z), bits < 9 ? 9 : bits);
    weft__buf c = {0};
    assert_int_equal(weft__pmd_deflate(z, p, n, &c), 0);
    size_t got;
    assert_int_equal(zlib_inflate(&c, bits, back, n, &got), 0);
    assert_int_equal(got, n);
    assert_memory_equal(back, p, n);
    len[bits] = c.len;
    weft__buf_free(&c);
    weft__pmd_free(z);
  }
  assert_true(len[15] * 5 < len[9]);
  weft__pmd *z = NULL;
  assert_int_equal(weft__pmd_new(&z, 7, 0), WEFT_EINVAL);
  assert_null(z);
  assert_int_equal(weft__pmd_new(&z, 16, 0), WEFT_EINVAL);
  free(p);
  free(back);
}

/* zlib's deflate of `p` as one message: Z_SYNC_FLUSH with the tail
 * stripped, or Z_FINISH (a final block). */
static void zdeflate(z_stream *s, const char *p, int finish, weft__buf *out) {
  uint8_t c[512];
  s->next_in = (Bytef *)(uintptr_t)p;
  s->avail_in = (uInt)strlen(p);
  s->next_out = c;
  s->avail_out = sizeof c;
  int rc = deflate(s, finish ? Z_FINISH : Z_SYNC_FLUSH);
  assert_int_equal(rc, finish ? Z_STREAM_END : Z_OK);
  size_t n = sizeof c - s->avail_out;
  if (!finish) n -= 4;
  out->len = 0;
  weft__buf_append(out, c, n);
}

/* A client's inflater under server context takeover: later messages refer
 * to earlier ones, also across a message that ended with a final block. */
static void test_takeover(void **state) {
  (void)state;
  static const char m1[] = "the quick brown fox jumps over the lazy dog";
  weft__pmd *keep, *fresh;
  assert_int_equal(weft__pmd_new(&keep, 15, 1), 0);
  assert_int_equal(weft__pmd_new(&fresh, 15, 0), 0);
  z_stream s;
  memset(&s, 0, sizeof s);
  assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  weft__buf c = {0}, out = {0};
  for (int i = 0; i < 3; i++) {
    zdeflate(&s, m1, 0, &c);
    out.len = 0;
    assert_int_equal(weft__pmd_inflate(keep, c.data, c.len, 1000, &out), 0);
    assert_int_equal(out.len, strlen(m1));
    assert_memory_equal(out.data, m1, out.len);
  }
  /* The third copy is a back reference: without the context it is corrupt. */
  out.len = 0;
  assert_true(c.len < 10);
  assert_int_equal(weft__pmd_inflate(fresh, c.data, c.len, 1000, &out), WEFT_EPROTO);
  /* A final block, then a new stream that keeps the window. */
  zdeflate(&s, "jumps over", 1, &c);
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(keep, c.data, c.len, 1000, &out), 0);
  assert_int_equal(out.len, 10);
  assert_int_equal(deflateReset(&s), Z_OK);
  static const char dict[] = "the quick brown fox jumps over the lazy dog"
                             "the quick brown fox jumps over the lazy dog"
                             "the quick brown fox jumps over the lazy dogjumps over";
  assert_int_equal(deflateSetDictionary(&s, (const Bytef *)dict, sizeof dict - 1), Z_OK);
  zdeflate(&s, m1, 0, &c);
  out.len = 0;
  assert_int_equal(weft__pmd_inflate(keep, c.data, c.len, 1000, &out), 0);
  assert_int_equal(out.len, strlen(m1));
  assert_memory_equal(out.data, m1, out.len);
  deflateEnd(&s);
  weft__buf_free(&c);
  weft__buf_free(&out);
  weft__pmd_free(keep);
  weft__pmd_free(fresh);
}

/* ---- compressed frames through the reader ------------------------------ */

typedef struct got {
  int n, pings;
  uint8_t data[1 << 16];
  size_t len;
  int binary;
  int close_code;
} got;

static int on_msg(void *ctx, int binary, uint8_t *data, size_t len) {
  got *g = ctx;
  g->n++;
  g->binary = binary;
  assert_true(len <= sizeof g->data);
  memcpy(g->data, data, len);
  g->len = len;
  return 0;
}
static int on_ping(void *ctx, uint8_t *data, size_t len) {
  (void)data;
  (void)len;
  ((got *)ctx)->pings++;
  return 0;
}
static const weft__ws_reader_cbs cbs = {on_msg, on_ping, NULL, NULL};

static void put(weft__buf *b, int op, int fin, int rsv1, const void *p, size_t n) {
  static const uint8_t key[4] = {0xa1, 0x02, 0xc3, 0x44};
  uint8_t h[14];
  size_t hl = weft__ws_frame_header(h, op, fin, rsv1, n, key);
  weft__buf_append(b, h, hl);
  size_t at = b->len;
  weft__buf_append(b, p, n);
  weft__ws_mask(b->data + at, n, key, 0);
}

/* Feeds `s` in chunks of `step` bytes (0: whole), keeping leftovers. */
static long feed_split(weft__pmd *z, const weft__buf *s, size_t step, uint64_t max, got *g,
                       int *close_code) {
  weft__ws_reader r;
  weft__ws_reader_init(&r, 1, max);
  r.allow_rsv1 = 1;
  r.pmd = z;
  uint8_t *buf = malloc(s->len + 1);
  size_t have = 0, off = 0;
  long rc = 0;
  memset(g, 0, sizeof *g);
  while (off < s->len) {
    size_t c = step && step < s->len - off ? step : s->len - off;
    memcpy(buf + have, s->data + off, c);
    have += c;
    off += c;
    rc = weft__ws_reader_feed(&r, buf, have, &cbs, g);
    if (rc < 0) break;
    memmove(buf, buf + rc, have - (size_t)rc);
    have -= (size_t)rc;
  }
  *close_code = r.close_code;
  free(buf);
  weft__ws_reader_free(&r);
  return rc < 0 ? rc : (long)have;
}

static void expect_msg(weft__pmd *z, const weft__buf *s, const void *p, size_t n, int pings) {
  static const size_t steps[] = {0, 1, 2, 3, 7, 64};
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    got *g = malloc(sizeof *g);
    int cc;
    assert_int_equal(feed_split(z, s, steps[i], 1 << 16, g, &cc), 0);
    assert_int_equal(cc, 0);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->pings, pings);
    assert_int_equal(g->len, n);
    assert_memory_equal(g->data, p, n);
    free(g);
  }
}

static void expect_error(weft__pmd *z, const weft__buf *s, uint64_t max, int code) {
  static const size_t steps[] = {0, 1, 5};
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    got *g = malloc(sizeof *g);
    int cc;
    long rc = feed_split(z, s, steps[i], max, g, &cc);
    assert_int_equal(cc, code);
    assert_int_equal(rc, code == 1002 ? WEFT_EPROTO : code == 1007 ? WEFT_EUTF8 : WEFT_ETOOBIG);
    free(g);
  }
}

static void test_reader_compressed(void **state) {
  weft__pmd *z = *state;
  weft__buf s = {0};
  static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  put(&s, WEFT__WS_TEXT, 1, 1, hello, sizeof hello);
  expect_msg(z, &s, "Hello", 5, 0);

  /* Fragmented, a ping in between, split inside the compressed data. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 1, hello, 2);
  put(&s, WEFT__WS_PING, 1, 0, "", 0);
  put(&s, WEFT__WS_CONT, 0, 0, hello + 2, 3);
  put(&s, WEFT__WS_CONT, 0, 0, "", 0);
  put(&s, WEFT__WS_CONT, 1, 0, hello + 5, 2);
  expect_msg(z, &s, "Hello", 5, 1);

  /* A big compressed binary message in many fragments. */
  uint8_t *big = malloc(60000);
  for (size_t i = 0; i < 60000; i++)
    big[i] = (uint8_t)(i % 251 ^ i / 1000);
  weft__buf c = {0};
  assert_int_equal(weft__pmd_deflate(z, big, 60000, &c), 0);
  s.len = 0;
  size_t third = c.len / 3;
  put(&s, WEFT__WS_BINARY, 0, 1, c.data, third);
  put(&s, WEFT__WS_CONT, 0, 0, c.data + third, third);
  put(&s, WEFT__WS_CONT, 1, 0, c.data + 2 * third, c.len - 2 * third);
  expect_msg(z, &s, big, 60000, 0);

  /* Compressed and plain messages mix on one connection. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 0, "plain", 5);
  put(&s, WEFT__WS_TEXT, 1, 1, hello, sizeof hello);
  got *g = malloc(sizeof *g);
  int cc;
  assert_int_equal(feed_split(z, &s, 1, 100, g, &cc), 0);
  assert_int_equal(g->n, 2);
  assert_memory_equal(g->data, "Hello", 5);
  free(g);
  free(big);
  weft__buf_free(&c);
  weft__buf_free(&s);
}

static void test_reader_compressed_errors(void **state) {
  weft__pmd *z = *state;
  weft__buf s = {0}, c = {0};
  /* Inflates past max_length: 1009. */
  uint8_t *zeros = calloc(1, 200000);
  assert_int_equal(weft__pmd_deflate(z, zeros, 200000, &c), 0);
  put(&s, WEFT__WS_BINARY, 1, 1, c.data, c.len);
  expect_error(z, &s, 100000, 1009);
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 0, 1, c.data, 10);
  put(&s, WEFT__WS_CONT, 1, 0, c.data + 10, c.len - 10);
  expect_error(z, &s, 199999, 1009);
  /* The compressed size itself is checked on the header (with a little
   * slack for incompressible data). */
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 1, 1, zeros, 2000);
  s.len = 8;
  expect_error(z, &s, 1000, 1009);
  /* Corrupt data: 1002. */
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 1, "\xff\xff\xff", 3);
  expect_error(z, &s, 1000, 1002);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 1, "\xf2\x48", 2);
  expect_error(z, &s, 1000, 1002);
  /* Inflated text must be UTF-8: 1007; binary need not be. */
  c.len = 0;
  assert_int_equal(weft__pmd_deflate(z, (const uint8_t *)"bad \xed\xa0\x80", 7, &c), 0);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 1, 1, c.data, c.len);
  expect_error(z, &s, 1000, 1007);
  s.len = 0;
  put(&s, WEFT__WS_TEXT, 0, 1, c.data, 1);
  put(&s, WEFT__WS_CONT, 1, 0, c.data + 1, c.len - 1);
  expect_error(z, &s, 1000, 1007);
  s.len = 0;
  put(&s, WEFT__WS_BINARY, 1, 1, c.data, c.len);
  expect_msg(z, &s, "bad \xed\xa0\x80", 7, 0);
  weft__buf_free(&s);
  weft__buf_free(&c);
  free(zeros);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_negotiate_clients),
      cmocka_unit_test(test_negotiate_multiple),
      cmocka_unit_test(test_negotiate_bad),
      cmocka_unit_test(test_negotiate_windows),
      cmocka_unit_test(test_client_accept),
      cmocka_unit_test(test_negotiate_small_resp),
      cmocka_unit_test(test_windows),
      cmocka_unit_test(test_takeover),
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rfc_examples, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_interop_zlib, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reader_compressed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reader_compressed_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
