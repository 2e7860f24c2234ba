/* The msgpack parser: smallest encodings, strict decoding, hostile lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/value.h"
#include "parser/parser.h"
#include "weft/weft.h"

static int decode_n(const void *data, size_t len, weft_value **out, size_t *errpos) {
  *out = NULL;
  return weft_value_decode("msgpack", data, len, out, errpos);
}

#define DECODE(lit, out, pos) decode_n(lit, sizeof(lit) - 1, out, pos)

static void expect_bytes(const weft_value *v, const void *expected, size_t n) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(weft_value_encode("msgpack", v, &buf, &len), 0);
  if (len != n || memcmp(buf, expected, n) != 0) {
    char hex[256] = "";
    for (size_t i = 0; i < len && i < 80; i++)
      snprintf(hex + 3 * i, 4, "%02x ", buf[i]);
    fail_msg("encoded %s(%zu bytes, expected %zu)", hex, len, n);
  }
  weft_value *back;
  assert_int_equal(decode_n(buf, len, &back, NULL), 0);
  assert_true(weft_value_equal(v, back));
  weft_value_free(back);
  weft_free(buf);
}

#define EXPECT(v, lit) expect_bytes(v, lit, sizeof(lit) - 1)

static void expect_int(int64_t i, const char *bytes, size_t n) {
  weft_value *v = weft_value_new_int(i);
  expect_bytes(v, bytes, n);
  weft_value_free(v);
}
#define EXPECT_INT(i, lit) expect_int(i, lit, sizeof(lit) - 1)

static void expect_error(const void *data, size_t len, int err, size_t at) {
  weft_value *v;
  size_t pos = SIZE_MAX;
  int rc = decode_n(data, len, &v, &pos);
  if (rc != err) fail_msg("got %s, expected %s", weft_err_name(rc), weft_err_name(err));
  assert_null(v);
  if (at != SIZE_MAX && pos != at) fail_msg("error at %zu, expected %zu", pos, at);
  assert_true(pos <= len);
}
#define EXPECT_ERROR(lit, err, at) expect_error(lit, sizeof(lit) - 1, err, at)

static void test_smallest_ints(void **state) {
  (void)state;
  EXPECT_INT(0, "\x00");
  EXPECT_INT(127, "\x7f");
  EXPECT_INT(128, "\xcc\x80");
  EXPECT_INT(255, "\xcc\xff");
  EXPECT_INT(256, "\xcd\x01\x00");
  EXPECT_INT(65535, "\xcd\xff\xff");
  EXPECT_INT(65536, "\xce\x00\x01\x00\x00");
  EXPECT_INT(4294967295, "\xce\xff\xff\xff\xff");
  EXPECT_INT(4294967296, "\xcf\x00\x00\x00\x01\x00\x00\x00\x00");
  EXPECT_INT(INT64_MAX, "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff");
  EXPECT_INT(-1, "\xff");
  EXPECT_INT(-32, "\xe0");
  EXPECT_INT(-33, "\xd0\xdf");
  EXPECT_INT(-128, "\xd0\x80");
  EXPECT_INT(-129, "\xd1\xff\x7f");
  EXPECT_INT(-32768, "\xd1\x80\x00");
  EXPECT_INT(-32769, "\xd2\xff\xff\x7f\xff");
  EXPECT_INT(INT32_MIN, "\xd2\x80\x00\x00\x00");
  EXPECT_INT((int64_t)INT32_MIN - 1, "\xd3\xff\xff\xff\xff\x7f\xff\xff\xff");
  EXPECT_INT(INT64_MIN, "\xd3\x80\x00\x00\x00\x00\x00\x00\x00");
}

static void test_types(void **state) {
  (void)state;
  weft_value *v = weft_value_new_null();
  EXPECT(v, "\xc0");
  weft_value_free(v);
  v = weft_value_new_bool(1);
  EXPECT(v, "\xc3");
  weft_value_free(v);
  v = weft_value_new_bool(0);
  EXPECT(v, "\xc2");
  weft_value_free(v);
  v = weft_value_new_float(1.5);
  EXPECT(v, "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00");
  weft_value_free(v);
  v = weft_value_new_float(NAN);
  uint8_t *buf;
  size_t len;
  assert_int_equal(weft_value_encode("msgpack", v, &buf, &len), 0);
  weft_value *back;
  assert_int_equal(decode_n(buf, len, &back, NULL), 0);
  assert_true(weft_value_equal(v, back)); /* NaN survives msgpack */
  weft_free(buf);
  weft_value_free(back);
  weft_value_free(v);
  v = weft_value_new_string("a", 1);
  EXPECT(v, "\xa1"
            "a");
  weft_value_free(v);
  v = weft_value_new_string("", 0);
  EXPECT(v, "\xa0");
  weft_value_free(v);
  char s32[32];
  memset(s32, 'z', 32);
  v = weft_value_new_string(s32, 32);
  EXPECT(v, "\xd9\x20zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
  weft_value_free(v);
  v = weft_value_new_string("a\0b", 3);
  EXPECT(v, "\xa3"
            "a\0b");
  weft_value_free(v);
  v = weft_value_new_binary("\xff\x00", 2);
  EXPECT(v, "\xc4\x02\xff\x00");
  weft_value_free(v);
  v = weft_value_new_binary(NULL, 0);
  EXPECT(v, "\xc4\x00");
  weft_value_free(v);
  v = weft_value_new_array();
  EXPECT(v, "\x90");
  for (int i = 0; i < 16; i++)
    weft_value_array_push(v, weft_value_new_null());
  EXPECT(v, "\xdc\x00\x10\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0");
  weft_value_free(v);

  /* Map keys of any type, including containers. */
  v = weft_value_new_map();
  EXPECT(v, "\x80");
  weft_value_map_add(v, "k", 1, weft_value_new_int(1));
  weft_value_map_add_value(v, weft_value_new_int(-1), weft_value_new_bool(1));
  weft_value *key = weft_value_new_array();
  weft_value_array_push(key, weft_value_new_int(2));
  weft_value_map_add_value(v, key, weft_value_new_null());
  EXPECT(v, "\x83\xa1k\x01\xff\xc3\x91\x02\xc0");
  weft_value_free(v);
}

static void test_decode_formats(void **state) {
  (void)state;
  weft_value *v;
  double d;
  int64_t i;
  /* uint64 beyond int64: the nearest double. */
  assert_int_equal(DECODE("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", &v, NULL), 0);
  assert_int_equal(weft_value_get_float(v, &d), 0);
  assert_true(d == 18446744073709551615.0);
  weft_value_free(v);
  assert_int_equal(DECODE("\xcf\x80\x00\x00\x00\x00\x00\x00\x00", &v, NULL), 0);
  assert_int_equal(weft_value_get_float(v, &d), 0);
  assert_true(d == 9223372036854775808.0);
  weft_value_free(v);
  assert_int_equal(DECODE("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", &v, NULL), 0);
  assert_int_equal(weft_value_get_int(v, &i), 0);
  assert_true(i == INT64_MAX);
  weft_value_free(v);
  /* Non-minimal encodings are accepted. */
  assert_int_equal(DECODE("\xd3\x00\x00\x00\x00\x00\x00\x00\x05", &v, NULL), 0);
  assert_int_equal(weft_value_get_int(v, &i), 0);
  assert_int_equal(i, 5);
  weft_value_free(v);
  assert_int_equal(DECODE("\xda\x00\x01x", &v, NULL), 0);
  assert_true(weft__value_is_str(v, "x", 1));
  weft_value_free(v);
  /* float32. */
  assert_int_equal(DECODE("\xca\x3f\xc0\x00\x00", &v, NULL), 0);
  assert_int_equal(weft_value_get_float(v, &d), 0);
  assert_true(d == 1.5);
  weft_value_free(v);
  /* bin and str of every width. */
  assert_int_equal(
      DECODE("\x93\xc5\x00\x01\x07\xc6\x00\x00\x00\x00\xdb\x00\x00\x00\x02hi", &v, NULL), 0);
  const uint8_t *p;
  size_t len;
  assert_int_equal(weft_value_get_binary(weft_value_array_at(v, 0), &p, &len), 0);
  assert_int_equal(len, 1);
  assert_int_equal(p[0], 7);
  assert_int_equal(weft_value_len(weft_value_array_at(v, 1)), 0);
  assert_true(weft__value_is_str(weft_value_array_at(v, 2), "hi", 2));
  weft_value_free(v);
  /* map16 and map32 with a duplicate key. */
  assert_int_equal(DECODE("\xde\x00\x02\xa1k\x01\xa1k\x02", &v, NULL), 0);
  assert_int_equal(weft_value_get_int(weft_value_map_get(v, "k", 1), &i), 0);
  assert_int_equal(i, 2);
  weft_value_free(v);
  assert_int_equal(DECODE("\xdf\x00\x00\x00\x01\xc0\xc0", &v, NULL), 0);
  assert_int_equal(weft_value_type(weft_value_map_key_at(v, 0)), WEFT_NULL);
  weft_value_free(v);
  /* A binary may hold anything; only strings are UTF-8 checked. */
  assert_int_equal(DECODE("\xc4\x02\xff\xfe", &v, NULL), 0);
  weft_value_free(v);
}

static void test_malformed(void **state) {
  (void)state;
  EXPECT_ERROR("", WEFT_EPARSE, 0);
  EXPECT_ERROR("\xc1", WEFT_EPARSE, SIZE_MAX); /* never used */
  EXPECT_ERROR("\x91\xc1", WEFT_EPARSE, SIZE_MAX);
  /* Exactly one object. */
  EXPECT_ERROR("\xc0\xc0", WEFT_EPARSE, 1);
  EXPECT_ERROR("\x91\x01\x02", WEFT_EPARSE, 2);
  EXPECT_ERROR("\x80\x00", WEFT_EPARSE, 1);
  /* Extension types, timestamps included, anywhere. */
  EXPECT_ERROR("\xd4\x01\x02", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xd5\x01\x02\x03", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xd6\xff\x00\x00\x00\x01", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xd7\xff\x00\x00\x00\x00\x00\x00\x00\x01", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xd8\x01"
               "0123456789abcdef",
               WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xc7\x01\x05x", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xc7\x00\x05", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xc8\x00\x01\x05x", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\xc9\x00\x00\x00\x01\x05x", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\x92\x01\xd4\x01\x02", WEFT_EPARSE, SIZE_MAX);
  EXPECT_ERROR("\x81\xa1k\xd4\x01\x02", WEFT_EPARSE, SIZE_MAX);
  /* Invalid UTF-8 in strings, at the offset of the bad byte; in keys too. */
  EXPECT_ERROR("\xa2"
               "a\xff",
               WEFT_EUTF8, 2);
  EXPECT_ERROR("\x92\x01\xa3\xed\xa0\x80", WEFT_EUTF8, 3);
  EXPECT_ERROR("\x81\xa2\xc0\x80\x01", WEFT_EUTF8, 2);
  EXPECT_ERROR("\xd9\x04\xf4\x90\x80\x80", WEFT_EUTF8, 2);
}

/* Declared lengths far beyond the data: an error, never a big allocation. */
static void test_huge_lengths(void **state) {
  (void)state;
  size_t trunc = SIZE_MAX;
  EXPECT_ERROR("\xdb\xff\xff\xff\xff"
               "abcde",
               WEFT_EPARSE, trunc); /* str32, 4 GiB */
  EXPECT_ERROR("\xc6\xff\xff\xff\xff"
               "abcde",
               WEFT_EPARSE, trunc); /* bin32 */
  EXPECT_ERROR("\xc9\xff\xff\xff\xff\x01"
               "abcde",
               WEFT_EPARSE, trunc); /* ext32 */
  EXPECT_ERROR("\xc9\xff\xff\xff\xfe\x01"
               "abcde",
               WEFT_EPARSE, trunc);
  EXPECT_ERROR("\xdd\xff\xff\xff\xff\xc0", WEFT_EPARSE, trunc);     /* array32 */
  EXPECT_ERROR("\xdd\x04\x00\x00\x00\xc0", WEFT_EPARSE, trunc);     /* 64 Mi elements */
  EXPECT_ERROR("\xdf\xff\xff\xff\xff\xc0\xc0", WEFT_EPARSE, trunc); /* map32 */
  EXPECT_ERROR("\xdf\x04\x00\x00\x00\xc0\xc0", WEFT_EPARSE, trunc);
  EXPECT_ERROR("\xdc\xff\xff\xc0", WEFT_EPARSE, trunc); /* array16 */
  EXPECT_ERROR("\xde\xff\xff\xc0", WEFT_EPARSE, trunc);
  /* Many containers, each within the message, together far beyond it. */
  uint8_t buf[60];
  for (size_t i = 0; i < sizeof buf; i += 5)
    memcpy(buf + i, "\xdd\x00\x00\x00\x10", 5);
  expect_error(buf, 60, WEFT_EPARSE, SIZE_MAX);
  /* Exactly as many elements as there are bytes left is fine. */
  weft_value *v;
  assert_int_equal(DECODE("\xdd\x00\x00\x00\x03\xc0\xc0\xc0", &v, NULL), 0);
  assert_int_equal(weft_value_len(v), 3);
  weft_value_free(v);
}

/* Every proper prefix of a valid document fails cleanly, at its end. */
static void test_truncation(void **state) {
  (void)state;
  weft_value *m = weft_value_new_map();
  weft_value_map_add(m, "type", 4, weft_value_new_string("event", 5));
  weft_value *a = weft_value_new_array();
  weft_value_array_push(a, weft_value_new_int(-70000));
  weft_value_array_push(a, weft_value_new_int(INT64_MAX));
  weft_value_array_push(a, weft_value_new_float(2.5));
  weft_value_array_push(a, weft_value_new_binary("\x01\x02\x03", 3));
  weft_value_array_push(a, weft_value_new_string("\xe2\x82\xac uro", 7));
  weft_value_array_push(a, weft_value_new_null());
  weft_value_array_push(a, weft_value_new_bool(1));
  weft_value_array_push(a, weft_value_new_map());
  weft_value_map_add(m, "args", 4, a);
  uint8_t *buf;
  size_t n;
  assert_int_equal(weft_value_encode("msgpack", m, &buf, &n), 0);
  for (size_t len = 0; len < n; len++) {
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    expect_error(copy, len, WEFT_EPARSE, len);
    free(copy);
  }
  weft_value *v;
  assert_int_equal(decode_n(buf, n, &v, NULL), 0);
  assert_true(weft_value_equal(m, v));
  weft_value_free(v);
  weft_free(buf);
  weft_value_free(m);
}

static void test_depth(void **state) {
  (void)state;
  size_t n = 100000;
  uint8_t *buf = malloc(n + 1);
  memset(buf, 0x91, n);
  buf[n] = 0xc0;
  weft_value *v;
  size_t pos;
  assert_int_equal(decode_n(buf, n + 1, &v, &pos), WEFT_EDEPTH);
  assert_int_equal(pos, WEFT_VALUE_MAX_DEPTH);
  /* The limit is weft's 512, not msgpack-c's MSGPACK_EMBED_STACK_SIZE of 32. */
  size_t depths[] = {32, 33, WEFT_VALUE_MAX_DEPTH};
  for (size_t k = 0; k < 3; k++) {
    size_t d = depths[k];
    memset(buf, 0x91, d - 1);
    buf[d - 1] = 0x90;
    assert_int_equal(decode_n(buf, d, &v, NULL), 0);
    weft_value_free(v);
  }
  memset(buf, 0x91, WEFT_VALUE_MAX_DEPTH);
  buf[WEFT_VALUE_MAX_DEPTH] = 0x90; /* an empty container one level too deep */
  assert_int_equal(decode_n(buf, WEFT_VALUE_MAX_DEPTH + 1, &v, NULL), WEFT_EDEPTH);
  /* Maps nest too (as values and as keys). */
  size_t pairs = WEFT_VALUE_MAX_DEPTH;
  for (size_t i = 0; i < 2 * pairs; i += 2) {
    buf[i] = 0x81;
    buf[i + 1] = 0xc0;
  }
  buf[2 * pairs] = 0xc0;
  assert_int_equal(decode_n(buf, 2 * pairs + 1, &v, NULL), 0);
  weft_value_free(v);
  pairs++;
  buf[2 * pairs - 2] = 0x81;
  buf[2 * pairs - 1] = 0xc0;
  buf[2 * pairs] = 0xc0;
  assert_int_equal(decode_n(buf, 2 * pairs + 1, &v, NULL), WEFT_EDEPTH);
  memset(buf, 0, 4 * WEFT_VALUE_MAX_DEPTH);
  memset(buf, 0x81, WEFT_VALUE_MAX_DEPTH + 1);
  assert_int_equal(decode_n(buf, 4 * WEFT_VALUE_MAX_DEPTH, &v, NULL), WEFT_EDEPTH);
  free(buf);
}

static void test_arena_reuse(void **state) {
  (void)state;
  static const char doc[] = "{\"type\":\"event\",\"name\":\"chat\",\"args\":[{\"room\":\"lobby\","
                            "\"text\":\"hello\",\"ts\":1700000000123,\"n\":1.5}]}";
  weft_value *v;
  assert_int_equal(weft_value_decode("json", doc, sizeof doc - 1, &v, NULL), 0);
  weft__buf mp = {0};
  assert_int_equal(weft__parser_msgpack.encode(v, &mp), 0);
  weft__arena a;
  weft__arena_init(&a);
  for (int k = 0; k < 1000; k++) {
    const weft_value *d = NULL;
    assert_int_equal(weft__parser_msgpack.decode(mp.data, mp.len, 0, &a, &d, NULL), 0);
    assert_true(weft_value_equal(d, v));
    assert_ptr_equal(a.cur, a.head);
    weft__arena_reset(&a);
  }
  assert_true(weft__parser_msgpack.binary);
  assert_string_equal(weft__parser_msgpack.name, "msgpack");
  weft__arena_free(&a);
  weft__buf_free(&mp);
  weft_value_free(v);
}

static void test_large(void **state) {
  (void)state;
  weft_value *root = weft_value_new_map();
  for (int k = 0; k < 70000; k++) {
    weft_value_map_add_value(root, weft_value_new_int(k), weft_value_new_float(k * 0.5));
  }
  char *big = malloc(70000);
  memset(big, 'y', 70000);
  weft_value_map_add(root, "big", 3, weft_value_new_string(big, 70000));
  weft_value_map_add(root, "bin", 3, weft_value_new_binary(big, 300));
  free(big);
  uint8_t *buf;
  size_t len;
  assert_int_equal(weft_value_encode("msgpack", root, &buf, &len), 0);
  assert_int_equal(buf[0], 0xdf); /* map32 */
  weft_value *back;
  assert_int_equal(decode_n(buf, len, &back, NULL), 0);
  assert_true(weft_value_equal(root, back));
  weft_free(buf);
  weft_value_free(back);
  weft_value_free(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_smallest_ints),  cmocka_unit_test(test_types),
      cmocka_unit_test(test_decode_formats), cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_huge_lengths),   cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_depth),          cmocka_unit_test(test_arena_reuse),
      cmocka_unit_test(test_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
