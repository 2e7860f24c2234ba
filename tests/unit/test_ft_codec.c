/* fast-tcp 3.3.2 frames: the bytes npm fast-tcp's Serializer writes (the
 * vectors below were printed by its serialize()), parsed and written back
 * byte for byte, and every way a frame can be bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/fasttcp/codec.h"
#include "weft/weft.h"

static size_t unhex(const char *h, uint8_t *out) {
  size_t n = strlen(h) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(h + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  return n;
}

/* serialize(event, data, mt, id) of fast-tcp 3.3.2. */
static const struct vec {
  const char *hex;
  int dt, mt;
  uint32_t id;
  const char *event;
} vecs[] = {
    {"160000000100010207000000020065760600000068c3a96c6c6f", 1, 2, 7, "ev"},
    {"1100000001000202080000000100620200000000ff", 2, 2, 8, "b"},
    {"15000000010003060900000001006906000000000000000080", 3, 6, 9, "i"},
    {"15000000010003020100000001006906000000ffffffffff7f", 3, 2, 1, "i"},
    {"17000000010004020200000001006408000000000000000000f87f", 4, 2, 2, "d"},
    {"17000000010004020300000001006408000000000000000000f0ff", 4, 2, 3, "d"},
    {"2f000000010005020400000001006f200000007b2261223a5b312c747275652c6e756c6c5d2c22e280a822"
     "3a22f09f9880227d",
     5, 2, 4, "o"},
    {"1000000001000602050000000100740100000001", 6, 2, 5, "t"},
    {"1000000001000602050000000100660100000000", 6, 2, 5, "f"},
    {"0f0000000100070a0600000001006e00000000", 7, 10, 6, "n"},
    {"0e0000000100070101000000000000000000", 7, 1, 1, ""},
    {"15000000010003020100000001007806000000000000000000", 3, 2, 1, "x"},
    {"17000000010004020100000001007808000000000000000000f83f", 4, 2, 1, "x"},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
    uint8_t in[256];
    size_t n = unhex(vecs[k].hex, in);
    weft__ft_msg m;
    size_t need = 0;
    const char *why = NULL;
    assert_int_equal(weft__ft_parse(in, n, 1 << 20, &m, &need, &why), (long)n);
    assert_int_equal(m.dt, vecs[k].dt);
    assert_int_equal(m.mt, vecs[k].mt);
    assert_int_equal(m.id, vecs[k].id);
    assert_int_equal(m.event_len, strlen(vecs[k].event));
    assert_memory_equal(m.event, vecs[k].event, m.event_len);
    /* written back from what was parsed: the same bytes */
    weft__buf out = {0};
    assert_int_equal(weft__ft_frame_size(&m), n);
    assert_int_equal(weft__ft_write(&out, &m), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);
    weft__buf_free(&out);
  }
}

static void test_scalars(void **state) {
  (void)state;
  uint8_t in[256];
  weft__ft_msg m;
  size_t n = unhex(vecs[2].hex, in);
  assert_int_equal(weft__ft_parse(in, n, 1000, &m, NULL, NULL), (long)n);
  assert_true(m.i == WEFT__FT_INT_MIN);
  n = unhex(vecs[3].hex, in);
  assert_int_equal(weft__ft_parse(in, n, 1000, &m, NULL, NULL), (long)n);
  assert_true(m.i == WEFT__FT_INT_MAX);
  n = unhex(vecs[4].hex, in);
  assert_int_equal(weft__ft_parse(in, n, 1000, &m, NULL, NULL), (long)n);
  assert_true(isnan(m.d));
  n = unhex(vecs[5].hex, in);
  assert_int_equal(weft__ft_parse(in, n, 1000, &m, NULL, NULL), (long)n);
  assert_true(isinf(m.d) && m.d < 0);
  n = unhex(vecs[7].hex, in);
  assert_int_equal(weft__ft_parse(in, n, 1000, &m, NULL, NULL), (long)n);
  assert_int_equal(m.b, 1);
  n = unhex(vecs[0].hex, in);
  assert_int_equal(weft__ft_parse(in, n, 1000, &m, NULL, NULL), (long)n);
  assert_int_equal(m.data_len, 6);
  assert_memory_equal(m.data, "h\xc3\xa9llo", 6);

  /* shorter integers, as Node's readIntLE reads them: sign-extended */
  weft__ft_msg w = {
      .dt = WEFT__FT_DT_BINARY, .mt = 2, .data = (const uint8_t *)"\xfe\xff", .data_len = 2};
  weft__buf out = {0};
  assert_int_equal(weft__ft_write(&out, &w), 0);
  out.data[6] = WEFT__FT_DT_INTEGER;
  assert_int_equal(weft__ft_parse(out.data, out.len, 1000, &m, NULL, NULL), (long)out.len);
  assert_true(m.i == -2);
  weft__buf_free(&out);

  /* the writer refuses integers fast-tcp cannot carry */
  w = (weft__ft_msg){.dt = WEFT__FT_DT_INTEGER, .mt = 2, .i = WEFT__FT_INT_MAX + 1};
  assert_int_equal(weft__ft_write(&out, &w), WEFT_ERANGE);
  w.i = WEFT__FT_INT_MIN - 1;
  assert_int_equal(weft__ft_write(&out, &w), WEFT_ERANGE);
  assert_int_equal(out.len, 0);
  w.dt = 0;
  assert_int_equal(weft__ft_write(&out, &w), WEFT_EINVAL);
  w.dt = 8;
  assert_int_equal(weft__ft_write(&out, &w), WEFT_EINVAL);
  w = (weft__ft_msg){.dt = WEFT__FT_DT_STRING, .mt = 2, .event_len = 65536, .event = "x"};
  assert_int_equal(weft__ft_frame_size(&w), 0);
  assert_int_equal(weft__ft_write(&out, &w), WEFT_ETOOBIG);
  assert_int_equal(out.len, 0);
  weft__buf_free(&out);
}

/* A frame fed byte by byte: 0 with the right `need` until it is whole. */
static void test_truncated(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
    uint8_t in[256];
    size_t n = unhex(vecs[k].hex, in);
    for (size_t cut = 0; cut < n; cut++) {
      weft__ft_msg m;
      size_t need = 0;
      assert_int_equal(weft__ft_parse(in, cut, 1000, &m, &need, NULL), 0);
      assert_int_equal(need, cut < 4 ? 4 : n);
    }
  }
  /* two frames back to back: the first one's size */
  uint8_t two[512];
  size_t a = unhex(vecs[0].hex, two);
  size_t b = unhex(vecs[1].hex, two + a);
  weft__ft_msg m;
  assert_int_equal(weft__ft_parse(two, a + b, 1000, &m, NULL, NULL), (long)a);
  assert_int_equal(weft__ft_parse(two + a, b, 1000, &m, NULL, NULL), (long)b);
}

static long parse_bad(const char *hex, size_t max, const char **why) {
  uint8_t in[256];
  size_t n = unhex(hex, in);
  weft__ft_msg m;
  *why = NULL;
  long rc = weft__ft_parse(in, n, max, &m, NULL, why);
  if (rc < 0) assert_non_null(*why);
  return rc;
}

static void test_bad(void **state) {
  (void)state;
  const char *why;
  /* oversize: known from the length alone, the rest never needed */
  assert_int_equal(parse_bad("ffffff7f", 1 << 20, &why), WEFT_ETOOBIG);
  assert_int_equal(parse_bad("ffffffff", SIZE_MAX, &why), 0);
  assert_int_equal(parse_bad(vecs[0].hex, 25, &why), WEFT_ETOOBIG);
  assert_int_equal(parse_bad(vecs[0].hex, 26, &why), 26);
  /* too short for its fixed part */
  assert_int_equal(parse_bad("0d000000", 1000, &why), WEFT_EPROTO);
  assert_int_equal(parse_bad("00000000", 1000, &why), WEFT_EPROTO);
  /* version 2, version 0 */
  assert_int_equal(parse_bad("0e0000000200070101000000000000000000", 1000, &why), WEFT_EPROTO);
  assert_string_equal(why, "serializer version mismatch");
  assert_int_equal(parse_bad("0e0000000000070101000000000000000000", 1000, &why), WEFT_EPROTO);
  /* data types 0 and 8, message type 18 */
  assert_int_equal(parse_bad("0e0000000100000101000000000000000000", 1000, &why), WEFT_EPROTO);
  assert_string_equal(why, "unknown data type");
  assert_int_equal(parse_bad("0e0000000100080101000000000000000000", 1000, &why), WEFT_EPROTO);
  assert_int_equal(parse_bad("0e0000000100071201000000000000000000", 1000, &why), WEFT_EPROTO);
  assert_string_equal(why, "unknown message type");
  /* every message type 0..17 with every data type is known */
  for (int mt = 0; mt <= WEFT__FT_MT_LAST; mt++) {
    char hex[64];
    snprintf(hex, sizeof hex, "0e00000001000701%02x000000000000000000", mt);
    assert_int_equal(parse_bad(hex, 1000, &why), 18);
  }
  /* event longer than the frame; data length too long, too short */
  assert_int_equal(parse_bad("0e0000000100070101000000010000000000", 1000, &why), WEFT_EPROTO);
  assert_int_equal(parse_bad("0e0000000100070101000000000001000000", 1000, &why), WEFT_EPROTO);
  assert_int_equal(parse_bad("0f000000010001010100000000000000000041", 1000, &why), WEFT_EPROTO);
  /* scalars of the wrong size */
  assert_int_equal(parse_bad("0e0000000100030201000000000000000000", 1000, &why), WEFT_EPROTO);
  assert_int_equal(parse_bad("15000000010003020100000000000700000000000000000000", 1000, &why),
                   WEFT_EPROTO);
  assert_int_equal(parse_bad("0f000000010004020100000000000100000000", 1000, &why), WEFT_EPROTO);
  assert_int_equal(parse_bad("1000000001000602010000000000020000000001", 1000, &why), WEFT_EPROTO);
  assert_int_equal(parse_bad("0f000000010007020100000000000100000000", 1000, &why), WEFT_EPROTO);
  /* not UTF-8: the event, a string; binary may be anything */
  assert_int_equal(parse_bad("0f000000010007020100000001008000000000", 1000, &why), WEFT_EUTF8);
  assert_int_equal(parse_bad("0f0000000100010201000000000001000000c0", 1000, &why), WEFT_EUTF8);
  assert_int_equal(parse_bad("0f0000000100020201000000000001000000c0", 1000, &why), 19);
  /* NULLs */
  weft__ft_msg m;
  assert_int_equal(weft__ft_parse(NULL, 0, 1000, &m, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft__ft_parse((const uint8_t *)"", 0, 1000, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft__ft_write(NULL, &m), WEFT_EINVAL);
}

/* Random frames written, then parsed back to the same message. */
static void test_round_trip(void **state) {
  (void)state;
  uint32_t s = 12345;
  uint8_t bytes[300];
  char ev[40];
  for (int k = 0; k < 2000; k++) {
    s ^= s << 13, s ^= s >> 17, s ^= s << 5;
    weft__ft_msg w = {.dt = (uint8_t)(1 + s % 7), .mt = (uint8_t)(s % 18), .id = s};
    w.event_len = s % 40;
    for (size_t i = 0; i < w.event_len; i++)
      ev[i] = (char)('a' + (s >> (i % 24)) % 26);
    w.event = ev;
    for (size_t i = 0; i < sizeof bytes; i++)
      bytes[i] = (uint8_t)('A' + (s + i * 7) % 50);
    w.data = bytes;
    w.data_len = (s >> 8) % 300;
    w.i = (int64_t)(s * UINT64_C(2654435761)) % WEFT__FT_INT_MAX;
    w.d = (double)s / 7.0;
    w.b = s & 1;
    weft__buf out = {0};
    assert_int_equal(weft__ft_write(&out, &w), 0);
    weft__ft_msg r;
    assert_int_equal(weft__ft_parse(out.data, out.len, out.len, &r, NULL, NULL), (long)out.len);
    assert_int_equal(r.dt, w.dt);
    assert_int_equal(r.mt, w.mt);
    assert_int_equal(r.id, w.id);
    assert_int_equal(r.event_len, w.event_len);
    assert_memory_equal(r.event, ev, w.event_len);
    if (w.dt == WEFT__FT_DT_INTEGER) assert_true(r.i == w.i);
    if (w.dt == WEFT__FT_DT_DECIMAL) assert_true(r.d == w.d);
    if (w.dt == WEFT__FT_DT_BOOLEAN) assert_int_equal(r.b, w.b);
    if (w.dt == WEFT__FT_DT_EMPTY) assert_int_equal(r.data_len, 0);
    if (w.dt <= WEFT__FT_DT_BINARY || w.dt == WEFT__FT_DT_OBJECT) {
      assert_int_equal(r.data_len, w.data_len);
      assert_memory_equal(r.data, bytes, w.data_len);
    }
    weft__buf_free(&out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),    cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_truncated),  cmocka_unit_test(test_bad),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
