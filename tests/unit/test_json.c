/* The json parser: strict decoding, JSON.stringify-compatible encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/value.h"
#include "parser/parser.h"
#include "weft/weft.h"

/* Decodes text (length from strlen unless given) and returns the status. */
static int decode_n(const char *text, size_t len, weft_value **out, size_t *errpos) {
  *out = NULL;
  return weft_value_decode("json", text, len, out, errpos);
}

static int decode(const char *text, weft_value **out) {
  return decode_n(text, strlen(text), out, NULL);
}

/* Encodes v and compares with the expected text exactly. */
static void expect_encoding(const weft_value *v, const char *expected) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(weft_value_encode("json", v, &buf, &len), 0);
  if (len != strlen(expected) || memcmp(buf, expected, len) != 0) {
    fail_msg("encoded %.*s, expected %s", (int)len, (const char *)buf, expected);
  }
  weft_free(buf);
}

/* text decodes, re-encodes to exactly `canon`, and that decodes to an equal
 * value. */
static void expect_roundtrip(const char *text, const char *canon) {
  weft_value *v, *w;
  size_t pos = 0;
  int rc = decode_n(text, strlen(text), &v, &pos);
  if (rc) fail_msg("decode %s: %s at %zu", text, weft_err_name(rc), pos);
  expect_encoding(v, canon);
  assert_int_equal(decode(canon, &w), 0);
  assert_true(weft_value_equal(v, w));
  weft_value_free(v);
  weft_value_free(w);
}

static void expect_error(const char *text, size_t len, int err) {
  weft_value *v;
  size_t pos = SIZE_MAX;
  int rc = decode_n(text, len, &v, &pos);
  if (rc != err) {
    fail_msg("decoding \"%.*s\": got %s, expected %s", (int)len, text, weft_err_name(rc),
             weft_err_name(err));
  }
  assert_null(v);
  assert_true(pos <= len);
}

static void expect_error_at(const char *text, int err, size_t at) {
  weft_value *v;
  size_t pos = SIZE_MAX;
  assert_int_equal(decode_n(text, strlen(text), &v, &pos), err);
  if (pos != at) fail_msg("\"%s\": error at %zu, expected %zu", text, pos, at);
}

static void test_types_roundtrip(void **state) {
  (void)state;
  expect_roundtrip("null", "null");
  expect_roundtrip("true", "true");
  expect_roundtrip(" false ", "false");
  expect_roundtrip("\"s\"", "\"s\"");
  expect_roundtrip("42", "42");
  expect_roundtrip("[]", "[]");
  expect_roundtrip("{}", "{}");
  expect_roundtrip(" \t\r\n[ 1 , 2 ,\n3 ] \n", "[1,2,3]");
  expect_roundtrip("{\"a\" : null, \"b\":true,\"c\":false,\"d\":-42,\"e\":1.5,\"f\":\"x\","
                   "\"g\":[1,[2,[]],{}],\"h\":{\"i\":{\"j\":[null]}}}",
                   "{\"a\":null,\"b\":true,\"c\":false,\"d\":-42,\"e\":1.5,\"f\":\"x\","
                   "\"g\":[1,[2,[]],{}],\"h\":{\"i\":{\"j\":[null]}}}");

  weft_value *v;
  assert_int_equal(decode("{\"k\":1,\"k\":2,\"x\":[true,null]}", &v), 0);
  int64_t i;
  assert_int_equal(weft_value_get_int(weft_value_map_get(v, "k", 1), &i), 0);
  assert_int_equal(i, 2); /* duplicate keys: the last wins, like JSON.parse */
  assert_int_equal(weft_value_len(v), 3);
  const weft_value *x = weft_value_map_get(v, "x", 1);
  assert_int_equal(weft_value_type(weft_value_array_at(x, 0)), WEFT_BOOL);
  assert_int_equal(weft_value_type(weft_value_array_at(x, 1)), WEFT_NULL);
  weft_value_free(v);
}

static void test_binary_buffer(void **state) {
  (void)state;
  weft_value *b = weft_value_new_binary("\x01\x02\x00\xff", 4);
  expect_encoding(b, "{\"type\":\"Buffer\",\"data\":[1,2,0,255]}");
  weft_value_free(b);
  b = weft_value_new_binary(NULL, 0);
  expect_encoding(b, "{\"type\":\"Buffer\",\"data\":[]}");
  weft_value_free(b);
}

static void test_encode_errors(void **state) {
  (void)state;
  weft_value *m = weft_value_new_map();
  assert_int_equal(weft_value_map_add_value(m, weft_value_new_int(1), weft_value_new_null()), 0);
  uint8_t *buf;
  size_t len;
  assert_int_equal(weft_value_encode("json", m, &buf, &len), WEFT_ETYPE);
  weft_value_free(m);
  /* NaN and infinities become null, as JSON.stringify does. */
  weft_value *a = weft_value_new_array();
  weft_value_array_push(a, weft_value_new_float(NAN));
  weft_value_array_push(a, weft_value_new_float(INFINITY));
  weft_value_array_push(a, weft_value_new_float(-INFINITY));
  expect_encoding(a, "[null,null,null]");
  weft_value_free(a);
}

static void test_string_escapes(void **state) {
  (void)state;
  weft_value *s = weft_value_new_string("\"\\\b\f\n\r\t\x01\x1f\x00/\x7f<", 13);
  expect_encoding(s, "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\\u0000/\x7f<\"");
  weft_value_free(s);
  expect_roundtrip("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001F\\u00e9\\u20AC\"",
                   "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\xc3\xa9\xe2\x82\xac\"");

  weft_value *v;
  const char *str;
  size_t len;
  assert_int_equal(decode("\"a\\u0000b\"", &v), 0);
  assert_int_equal(weft_value_get_string(v, &str, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(str, "a\0b", 3);
  weft_value_free(v);
  assert_int_equal(decode("\"\\u00e9t\\u00e9\"", &v), 0);
  assert_true(weft__value_is_str(v, "\xc3\xa9t\xc3\xa9", 5));
  weft_value_free(v);
  /* Escaped keys are decoded too. */
  assert_int_equal(decode("{\"k\\ney\" : 1, \"\\\"\":2}", &v), 0);
  assert_non_null(weft_value_map_get(v, "k\ney", 4));
  assert_non_null(weft_value_map_get(v, "\"", 1));
  weft_value_free(v);
}

static void test_unicode(void **state) {
  (void)state;
  /* U+2028 and U+2029 are escaped (Primus does); other E2 sequences and
   * everything else non-ASCII stays raw. */
  weft_value *s = weft_value_new_string("a\xe2\x80\xa8"
                                        "b\xe2\x80\xa9"
                                        "c\xe2\x80\xa7\xe2\x82\xac"
                                        "\xf0\x9f\x98\x80\xe2",
                                        20);
  assert_null(s); /* the trailing lone E2 is not UTF-8 */
  s = weft_value_new_string("a\xe2\x80\xa8"
                            "b\xe2\x80\xa9"
                            "c\xe2\x80\xa7\xe2\x82\xac"
                            "\xf0\x9f\x98\x80",
                            19);
  assert_non_null(s);
  expect_encoding(s, "\"a\\u2028b\\u2029c\xe2\x80\xa7\xe2\x82\xac\xf0\x9f\x98\x80\"");
  uint8_t *buf;
  size_t len;
  assert_int_equal(weft_value_encode("json", s, &buf, &len), 0);
  weft_value *back;
  assert_int_equal(decode_n((const char *)buf, len, &back, NULL), 0);
  assert_true(weft_value_equal(s, back));
  weft_free(buf);
  weft_value_free(back);
  weft_value_free(s);

  weft_value *v;
  /* A surrogate pair escape is one 4-byte character. */
  assert_int_equal(decode("\"\\ud83d\\ude00\"", &v), 0);
  assert_true(weft__value_is_str(v, "\xf0\x9f\x98\x80", 4));
  weft_value_free(v);
  assert_int_equal(decode("[\"x\\uD83D\\uDE00y\"]", &v), 0);
  assert_true(weft__value_is_str(weft_value_array_at(v, 0), "x\xf0\x9f\x98\x80y", 6));
  weft_value_free(v);
  assert_int_equal(decode("\"\\udbff\\udfff\"", &v), 0);
  assert_true(weft__value_is_str(v, "\xf4\x8f\xbf\xbf", 4));
  weft_value_free(v);
  assert_int_equal(decode("\"\\u2028\"", &v), 0);
  assert_true(weft__value_is_str(v, "\xe2\x80\xa8", 3));
  weft_value_free(v);
  /* Raw emoji and a raw U+2028 in the input. */
  assert_int_equal(decode("\"\xf0\x9f\x98\x80\xe2\x80\xa8\"", &v), 0);
  assert_true(weft__value_is_str(v, "\xf0\x9f\x98\x80\xe2\x80\xa8", 7));
  weft_value_free(v);
}

static void test_lone_surrogates(void **state) {
  (void)state;
  expect_error_at("\"\\ud800\"", WEFT_EUTF8, 1);
  expect_error_at("\"\\udc00\"", WEFT_EUTF8, 1);
  expect_error_at("\"ab\\udfff\"", WEFT_EUTF8, 3);
  expect_error_at("\"\\ud800x\"", WEFT_EUTF8, 1);
  expect_error_at("\"\\ud800\\u0041\"", WEFT_EUTF8, 1);
  expect_error_at("\"\\ud800\\ud800\"", WEFT_EUTF8, 1);
  expect_error_at("\"\\ud800\\n\"", WEFT_EUTF8, 1);
  expect_error_at("[\"ok\", \"\\ude00\\ud83d\"]", WEFT_EUTF8, 8);
  expect_error_at("{\"\\ud83d\":1}", WEFT_EUTF8, 2);
  expect_error_at("\"\\\\\\ud83d\\\\ude00\"", WEFT_EUTF8, 3);
  /* An escaped backslash followed by "u" is no escape. */
  weft_value *v;
  assert_int_equal(decode("\"\\\\ud800\"", &v), 0);
  assert_true(weft__value_is_str(v, "\\ud800", 6));
  weft_value_free(v);
  assert_int_equal(decode("[\"\\\\\\ud83d\\ude00\\\\\"]", &v), 0);
  assert_true(weft__value_is_str(weft_value_array_at(v, 0), "\\\xf0\x9f\x98\x80\\", 6));
  weft_value_free(v);
}

static void test_invalid_utf8(void **state) {
  (void)state;
  /* Inside strings, with the exact offset of the bad sequence. */
  expect_error_at("\"a\xff\"", WEFT_EUTF8, 2);
  expect_error_at("[\"\xc0\x80\"]", WEFT_EUTF8, 2);
  expect_error_at("\"\xed\xa0\x80\"", WEFT_EUTF8, 1);
  expect_error_at("\"\xf4\x90\x80\x80\"", WEFT_EUTF8, 1);
  expect_error_at("\"\xe2\x82\"", WEFT_EUTF8, 1);
  expect_error_at("{\"\x80\":1}", WEFT_EUTF8, 2);
  expect_error_at("\"0123456789abcdef\x80\"", WEFT_EUTF8, 17);
  /* Outside strings. */
  expect_error_at("[1]\x80", WEFT_EUTF8, 3);
  expect_error_at("[\xff]", WEFT_EUTF8, 1);
  expect_error_at("\xc3", WEFT_EUTF8, 0);
  /* Valid UTF-8 where JSON allows none is a parse error. */
  expect_error("[\xc3\xa9]", 4, WEFT_EPARSE);
  /* A byte order mark is not JSON. */
  expect_error("\xef\xbb\xbf[1]", 6, WEFT_EPARSE);
}

static void test_numbers(void **state) {
  (void)state;
  weft_value *v;
  int64_t i;
  double d;
  assert_int_equal(decode("9223372036854775807", &v), 0);
  assert_int_equal(weft_value_get_int(v, &i), 0);
  assert_true(i == INT64_MAX);
  weft_value_free(v);
  assert_int_equal(decode("-9223372036854775808", &v), 0);
  assert_int_equal(weft_value_get_int(v, &i), 0);
  assert_true(i == INT64_MIN);
  weft_value_free(v);
  assert_int_equal(decode("-0", &v), 0);
  assert_int_equal(weft_value_get_int(v, &i), 0);
  assert_int_equal(i, 0);
  weft_value_free(v);

  static const struct {
    const char *text;
    double value;
  } floats[] = {
      {"9223372036854775808", 9223372036854775808.0},
      {"-9223372036854775809", -9223372036854775808.0},
      {"18446744073709551616", 18446744073709551616.0},
      {"123456789012345678901234567890", 1.2345678901234568e29},
      {"1.5", 1.5},
      {"1e300", 1e300},
      {"1E2", 100.0},
      {"-1.5e-3", -1.5e-3},
      {"0.1", 0.1},
      {"2.5E+2", 250.0},
      {"100.0", 100.0},
      {"1e400", INFINITY},
      {"1e-400", 0.0},
      {"0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e10"
       "0",
       1e-76},
  };
  for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++) {
    assert_int_equal(decode(floats[k].text, &v), 0);
    if (weft_value_get_float(v, &d) != 0 || d != floats[k].value) {
      fail_msg("%s decoded as %s %.17g", floats[k].text,
               weft_value_type(v) == WEFT_INT ? "int" : "float", d);
    }
    weft_value_free(v);
  }
  assert_int_equal(decode("-0.0", &v), 0);
  assert_int_equal(weft_value_get_float(v, &d), 0);
  assert_true(d == 0 && signbit(d));
  weft_value_free(v);

  expect_roundtrip("[9223372036854775807,-9223372036854775808,0,-1]",
                   "[9223372036854775807,-9223372036854775808,0,-1]");
  expect_roundtrip("9223372036854775808", "9223372036854776000.0");
  expect_roundtrip("1.5", "1.5");
  expect_roundtrip("1e300", "1e+300");
  expect_roundtrip("-0.0", "-0.0");
  expect_roundtrip("100.0", "100.0");
  expect_roundtrip("1E2", "100.0");
  expect_roundtrip("0.1", "0.1");
  expect_roundtrip("1e21", "1e+21");
  expect_roundtrip("1e20", "100000000000000000000.0");
  expect_roundtrip("1e-7", "1e-7");
  expect_roundtrip("1.5e-7", "1.5e-7");
  expect_roundtrip("0.000001", "0.000001");
  expect_roundtrip("123456.789", "123456.789");
  expect_roundtrip("5e-324", "4.94065645841247e-324");
  expect_roundtrip("1.7976931348623157e308", "1.7976931348623157e+308");
  expect_roundtrip("-2.2250738585072014e-308", "-2.2250738585072014e-308");
  expect_roundtrip("0.30000000000000004", "0.30000000000000004");
  expect_roundtrip("9007199254740993.0", "9007199254740992.0");
}

/* Every double must come back bit for bit. */
static void test_float_roundtrip_random(void **state) {
  (void)state;
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int n = 0; n < 20000; n++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double d;
    memcpy(&d, &x, sizeof d);
    if (!isfinite(d)) continue;
    weft_value *v = weft_value_new_float(d), *back;
    uint8_t *buf;
    size_t len;
    assert_int_equal(weft_value_encode("json", v, &buf, &len), 0);
    assert_int_equal(decode_n((const char *)buf, len, &back, NULL), 0);
    if (!weft_value_equal(v, back)) fail_msg("%.17g encoded as %.*s", d, (int)len, buf);
    weft_free(buf);
    weft_value_free(v);
    weft_value_free(back);
  }
}

/* Numbers do not depend on the C locale's decimal separator. */
static void test_locale(void **state) {
  (void)state;
  static const char *const locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
  const char *set = NULL;
  for (size_t k = 0; k < 4 && !set; k++)
    set = setlocale(LC_NUMERIC, locales[k]);
  if (set) {
    assert_string_equal(localeconv()->decimal_point, ",");
  } else {
    print_message("no comma locale installed; checking the C locale only\n");
  }
  weft_value *v = weft_value_new_float(1.25);
  expect_encoding(v, "1.25");
  weft_value_free(v);
  v = weft_value_new_float(1e-7 * 3);
  expect_encoding(v, "3e-7");
  weft_value_free(v);
  double d;
  assert_int_equal(decode("2.5", &v), 0);
  assert_int_equal(weft_value_get_float(v, &d), 0);
  assert_true(d == 2.5);
  weft_value_free(v);
  setlocale(LC_NUMERIC, "C");
}

static void test_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",           " ",           "\n\t",        "[1,]",     "{\"a\":1,}",
      "[,1]",       "[1 2]",       "{\"a\"}",     "{\"a\":}", "{a:1}",
      "{1:1}",      "['a']",       "[1]//c",      "/*c*/[1]", "# c\n1",
      "[1] x",      "1 2",         "[1]]",        "{}}",      "]",
      "}",          ":",           ",",           "NaN",      "Infinity",
      "-Infinity",  "undefined",   "nul",         "tru",      "True",
      "01",         "-01",         "+1",          ".5",       "1.",
      "1e",         "1e+",         "-",           "0x10",     "\"\\x\"",
      "\"\\u12\"",  "\"\\u12g4\"", "\"\\U1234\"", "\"a",      "\"a\\\"",
      "[\"a\tb\"]", "\"\x01\"",    "'s'",         "[1,,2]",   "{\"a\":1 \"b\":2}",
      "{\"a\",1}",  "[}",          "{]",          "\"\\",     "[-]",
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    expect_error(bad[k], strlen(bad[k]), WEFT_EPARSE);
  }
  /* NUL bytes: raw inside a string, after the value, as the value. */
  expect_error("\"a\0b\"", 5, WEFT_EPARSE);
  expect_error("[1]\0", 4, WEFT_EPARSE);
  expect_error("\0", 1, WEFT_EPARSE);
}

/* Every proper prefix of a valid document fails cleanly. */
static void test_truncation(void **state) {
  (void)state;
  static const char doc[] =
      "{\"a\":[1,-2.5e3,\"x\\u00e9\\n\\ud83d\\ude00\xe2\x82\xac\",true,false,null,{\"b\":{}}],"
      "\"c\":-3, \"d\" : [ [] ] }";
  size_t n = sizeof doc - 1;
  weft_value *v;
  assert_int_equal(decode_n(doc, n, &v, NULL), 0);
  weft_value_free(v);
  for (size_t len = 0; len < n; len++) {
    char *copy = malloc(len ? len : 1); /* exact size, so overreads are caught */
    memcpy(copy, doc, len);
    size_t pos = SIZE_MAX;
    int rc = decode_n(copy, len, &v, &pos);
    if (rc != WEFT_EPARSE && rc != WEFT_EUTF8) fail_msg("prefix %zu: %s", len, weft_err_name(rc));
    assert_null(v);
    assert_true(pos <= len);
    free(copy);
  }
}

static void test_error_offsets(void **state) {
  (void)state;
  weft_value *v;
  size_t pos;
  assert_int_equal(decode_n("[1,2,]", 6, &v, &pos), WEFT_EPARSE);
  assert_in_range(pos, 5, 6);
  assert_int_equal(decode_n("[1] x", 5, &v, &pos), WEFT_EPARSE);
  assert_in_range(pos, 4, 5);
  assert_int_equal(decode_n("{\"a\":1,\"b\" 2}", 13, &v, &pos), WEFT_EPARSE);
  assert_in_range(pos, 11, 12);
  assert_int_equal(decode_n("[1,2", 4, &v, &pos), WEFT_EPARSE);
  assert_int_equal(pos, 4); /* truncation: the end */
  assert_int_equal(decode_n("", 0, &v, &pos), WEFT_EPARSE);
  assert_int_equal(pos, 0);
}

static void test_depth(void **state) {
  (void)state;
  size_t n = 100000;
  char *text = malloc(2 * n + 1);
  memset(text, '[', n);
  memset(text + n, ']', n);
  weft_value *v;
  size_t pos = 0;
  assert_int_equal(decode_n(text, 2 * n, &v, &pos), WEFT_EDEPTH);
  assert_int_equal(pos, WEFT_VALUE_MAX_DEPTH); /* the first bracket too many */
  assert_int_equal(decode_n(text, n, &v, &pos), WEFT_EDEPTH);

  /* Exactly the limit decodes; one more does not. */
  size_t d = WEFT_VALUE_MAX_DEPTH;
  memset(text, '[', d);
  memset(text + d, ']', d);
  assert_int_equal(decode_n(text, 2 * d, &v, &pos), 0);
  weft_value_free(v);
  memset(text, '[', d + 1);
  memset(text + d + 1, ']', d + 1);
  assert_int_equal(decode_n(text, 2 * d + 2, &v, &pos), WEFT_EDEPTH);
  free(text);

  /* Nested maps count too. */
  char *m = malloc(6 * (d + 1) + 8);
  size_t o = 0;
  for (size_t k = 0; k < d + 1; k++)
    o += (size_t)sprintf(m + o, "{\"a\":");
  o += (size_t)sprintf(m + o, "1");
  for (size_t k = 0; k < d + 1; k++)
    m[o++] = '}';
  assert_int_equal(decode_n(m, o, &v, &pos), WEFT_EDEPTH);
  free(m);
}

/* A lone surrogate anywhere in the text is the error, even after another. */
static void test_lone_surrogate_wins(void **state) {
  (void)state;
  expect_error_at("[1 2, \"\\ud800\"]", WEFT_EUTF8, 7);
  expect_error_at("[1,] \"\\udc00", WEFT_EUTF8, 6);
  expect_error_at("{\"a\" 1} \\ud83d", WEFT_EUTF8, 8);
  expect_error_at("[\"\\x\", \"\\ud800\"]", WEFT_EUTF8, 8);
  size_t d = WEFT_VALUE_MAX_DEPTH + 1;
  char *text = malloc(d + 16);
  memset(text, '[', d);
  strcpy(text + d, "\"\\ud800\"");
  expect_error_at(text, WEFT_EUTF8, d + 1);
  free(text);
  /* A valid pair after an error leaves that error. */
  expect_error_at("[1,] \"\\ud83d\\ude00\"", WEFT_EPARSE, 4);
}

/* Only space, tab, CR and LF are blanks (RFC 8259, JSON.parse): not \v or
 * \f, which yajl let through. */
static void test_blanks(void **state) {
  (void)state;
  expect_error_at("\v1", WEFT_EPARSE, 1);
  expect_error_at("[1,\f2]", WEFT_EPARSE, 4);
  expect_error_at("1\v", WEFT_EPARSE, 2);
  expect_error_at("{\"a\"\v:1}", WEFT_EPARSE, 5);
  expect_roundtrip(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n1 \t\r\n} \t\r\n", "{\"a\":1}");
}

/* Trailing garbage is refused whatever it is, an unterminated string too
 * (yajl accepted that one). */
static void test_trailing(void **state) {
  (void)state;
  expect_error_at("[1] \"abc", WEFT_EPARSE, 8);
  expect_error_at("0\"", WEFT_EPARSE, 2);
  expect_error_at("{}\"", WEFT_EPARSE, 3);
  expect_error_at("\"a\"\"", WEFT_EPARSE, 4);
  expect_error_at("[1] x", WEFT_EPARSE, 5);
  expect_error_at("[1]]", WEFT_EPARSE, 4);
  expect_error_at("1 2", WEFT_EPARSE, 3);
  expect_error_at("true false ", WEFT_EPARSE, 10);
  expect_error_at("null\"a\"", WEFT_EPARSE, 7);
}

/* The error offsets, pinned: those the yajl-based decoder reported. */
static void test_error_offsets_exact(void **state) {
  (void)state;
  static const struct {
    const char *text;
    size_t at;
  } cases[] = {
      /* A token that does not belong: just past it. */
      {"[1,]", 4},
      {"[,1]", 2},
      {"[1 2]", 4},
      {"[1}", 3},
      {"{\"a\" 1}", 6},
      {"{\"a\":}", 6},
      {"{1:1}", 2},
      {"{\"a\":1,}", 8},
      {"[\"a\" \"bc\"]", 9},
      {"[1,true false]", 13},
      {"]", 1},
      {":", 1},
      /* After a value in a map: at the token, two bytes in for a string. */
      {"{\"a\":1 \"bc\":2}", 9},
      {"{\"a\":1 2}", 7},
      {"{\"a\":1]", 6},
      {"{\"a\":1 \"b\\n\":2}", 9},
      /* A malformed token: at the offending byte. */
      {"[-]", 2},
      {"[1.]", 3},
      {"[1.e5]", 3},
      {"[1e]", 3},
      {"[1e+]", 4},
      {"[-a]", 2},
      {"[tru]", 4},
      {"[nulx]", 4},
      {"[fals ]", 5},
      {"[True]", 2},
      {"[x]", 2},
      {"/*c*/[1]", 0},
      {"[1]//c", 3},
      {"[\"a\\x\"]", 4},
      {"[\"a\\u12g4\"]", 7},
      {"[\"a\tb\"]", 3},
      {"[\"a\"x]", 5},
      {"[1.5x]", 5},
      {"[01]", 3},
      {"{\"k\\q\":1}", 4},
      /* Cut by the end: the end. */
      {"[1", 2},
      {"[1.", 3},
      {"-", 1},
      {"[\"abc", 5},
      {"[\"a\\", 4},
      {"[\"\\u12", 6},
      {"{\"a\":1,", 7},
      {"[tr", 3},
      {"[1] 2", 5},
      {"[01", 3},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    expect_error_at(cases[k].text, WEFT_EPARSE, cases[k].at);
}

/* Strings of every length up to 80 with a quote, backslash, control byte or
 * U+2028 at every position: the 32-, 16- and 8-byte scans in both
 * directions. */
static void test_string_scan_boundaries(void **state) {
  (void)state;
  static const struct {
    const char *raw, *json;
  } specials[] = {
      {"\"", "\\\""},
      {"\\", "\\\\"},
      {"\n", "\\n"},
      {"\x1f", "\\u001f"},
      {"\x7f", "\x7f"},
      {"\xc3\xa9", "\xc3\xa9"},
      {"\xe2\x80\xa8", "\\u2028"},
      {"\xe2\x82\xac", "\xe2\x82\xac"},
  };
  char raw[96], json[192];
  for (size_t n = 0; n <= 80; n++) {
    for (size_t at = 0; at <= n; at++) {
      for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        size_t rl = strlen(specials[k].raw), jl = strlen(specials[k].json);
        memset(raw, 'a', at);
        memcpy(raw + at, specials[k].raw, rl);
        memset(raw + at + rl, 'b', n - at);
        size_t rlen = n + rl;
        json[0] = '"';
        memset(json + 1, 'a', at);
        memcpy(json + 1 + at, specials[k].json, jl);
        memset(json + 1 + at + jl, 'b', n - at);
        json[1 + n + jl] = '"';
        json[2 + n + jl] = '\0';
        weft_value *s = weft_value_new_string(raw, rlen);
        assert_non_null(s);
        expect_encoding(s, json);
        weft_value *v;
        assert_int_equal(decode(json, &v), 0);
        assert_true(weft_value_equal(s, v));
        weft_value_free(v);
        weft_value_free(s);
      }
      /* A raw control byte or a missing closing quote at any position. */
      memset(json, 'a', n + 2);
      json[0] = '"';
      json[n + 1] = '"';
      json[n + 2] = '\0';
      json[1 + at] = '\x01';
      expect_error_at(json, WEFT_EPARSE, 1 + at);
      json[1 + at] = 'a';
      json[n + 1] = 'a';
      expect_error_at(json, WEFT_EPARSE, n + 2);
    }
  }
}

/* A decoded string is encoded again without a scan when the decoder saw
 * nothing in it to escape (WEFT__VF_PLAIN): the output must still be what
 * the encoder makes of the bytes, at every length and position around the
 * 8/16/32-byte steps, from the text as it was read (raw bytes or escapes),
 * as a map key and value, and after weft_value_dup(). */
static void test_reencode_decoded(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"", ""},
      {"\\\"", "\\\""},
      {"\\n", "\\n"},
      {"\\u0041", "A"},
      {"\\u2028", "\\u2028"},
      {"\xe2\x80\xa8", "\\u2028"},
      {"\xe2\x80\xa9", "\\u2029"},
      {"\xe2\x82\xac", "\xe2\x82\xac"},
      {"\x7f", "\x7f"},
      {"/", "/"},
  };
  char in[160], out[160], obj_in[360], obj_out[360];
  for (size_t n = 0; n <= 70; n++) {
    for (size_t at = 0; at <= n; at += (n > 40 ? 7 : 1)) {
      for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t il = strlen(cases[k].in), ol = strlen(cases[k].out);
        in[0] = out[0] = '"';
        memset(in + 1, 'a', at);
        memset(out + 1, 'a', at);
        memcpy(in + 1 + at, cases[k].in, il);
        memcpy(out + 1 + at, cases[k].out, ol);
        memset(in + 1 + at + il, 'b', n - at);
        memset(out + 1 + at + ol, 'b', n - at);
        memcpy(in + 1 + n + il, "\"", 2);
        memcpy(out + 1 + n + ol, "\"", 2);
        expect_roundtrip(in, out);
        snprintf(obj_in, sizeof obj_in, "{%s:[%s,1]}", in, in);
        snprintf(obj_out, sizeof obj_out, "{%s:[%s,1]}", out, out);
        expect_roundtrip(obj_in, obj_out);
        weft_value *v, *d;
        assert_int_equal(decode(obj_in, &v), 0);
        d = weft_value_dup(v);
        assert_non_null(d);
        weft_value_free(v);
        expect_encoding(d, obj_out);
        weft_value_free(d);
      }
    }
  }
}

/* The parser's own API: decode into a caller's arena, reset, repeat. */
static void test_arena_reuse(void **state) {
  (void)state;
  static const char msg[] = "{\"type\":\"event\",\"name\":\"chat\",\"args\":[{\"room\":\"lobby\","
                            "\"text\":\"hello \\\"world\\\"\\n\",\"ts\":1700000000123,\"n\":1.5}]}";
  weft__arena a;
  weft__arena_init(&a);
  weft__buf out = {0};
  for (int k = 0; k < 1000; k++) {
    const weft_value *v = NULL;
    assert_int_equal(
        weft__parser_json.decode((const uint8_t *)msg, sizeof msg - 1, 0, &a, &v, NULL), 0);
    out.len = 0;
    assert_int_equal(weft__parser_json.encode(v, &out), 0);
    /* A typical message fits the first block: nothing else is allocated. */
    assert_ptr_equal(a.cur, a.head);
    weft__arena_reset(&a);
  }
  assert_int_equal(out.len, sizeof msg - 1);
  assert_memory_equal(out.data, msg, out.len);
  assert_false(weft__parser_json.binary);
  assert_string_equal(weft__parser_json.name, "json");
  weft__buf_free(&out);
  weft__arena_free(&a);
}

/* WEFT__DECODE_IN_PLACE: strings without escapes stay in the text, ended
 * by NUL over their closing quote; escaped ones go to the arena as before;
 * past IN_PLACE_MAX (32) strings are copied; an error writes nothing. */
static int in_text(const char *s, const char *text, size_t len) {
  return s >= text && s < text + len;
}

static void test_in_place(void **state) {
  (void)state;
  weft__arena a;
  weft__arena_init(&a);
  char text[] = "[\"ab\", {\"k\": \"v\"}, \"x\\ny\", \"\"]";
  size_t len = sizeof text - 1;
  const weft_value *v = NULL;
  assert_int_equal(
      weft__parser_json.decode((const uint8_t *)text, len, WEFT__DECODE_IN_PLACE, &a, &v, NULL), 0);
  const weft_value *ab = weft_value_array_at(v, 0), *m = weft_value_array_at(v, 1);
  const weft_value *esc = weft_value_array_at(v, 2), *empty = weft_value_array_at(v, 3);
  const char *s;
  size_t n;
  assert_int_equal(weft_value_get_string(ab, &s, &n), 0);
  assert_true(in_text(s, text, len));
  assert_int_equal(n, 2);
  assert_string_equal(s, "ab");
  assert_int_equal(weft_value_get_string(weft_value_map_key_at(m, 0), &s, &n), 0);
  assert_ptr_equal(s, text + 9);
  assert_string_equal(s, "k");
  assert_int_equal(weft_value_get_string(weft_value_map_get(m, "k", 1), &s, &n), 0);
  assert_true(in_text(s, text, len));
  assert_string_equal(s, "v");
  assert_int_equal(weft_value_get_string(esc, &s, &n), 0);
  assert_false(in_text(s, text, len));
  assert_string_equal(s, "x\ny");
  assert_int_equal(weft_value_get_string(empty, &s, &n), 0);
  assert_int_equal(n, 0);
  assert_string_equal(s, "");
  weft__arena_reset(&a);

  /* An error writes nothing, and is reported where it is without the flag. */
  char bad[] = "[\"ab\", \"cd\", tru]";
  char copy[sizeof bad];
  memcpy(copy, bad, sizeof bad);
  size_t pos = 0, pos_copy = 0;
  assert_int_equal(weft__parser_json.decode((const uint8_t *)bad, sizeof bad - 1,
                                            WEFT__DECODE_IN_PLACE, &a, &v, &pos),
                   WEFT_EPARSE);
  assert_memory_equal(bad, copy, sizeof bad);
  assert_int_equal(
      weft__parser_json.decode((const uint8_t *)copy, sizeof copy - 1, 0, &a, &v, &pos_copy),
      WEFT_EPARSE);
  assert_int_equal(pos, pos_copy);
  weft__arena_reset(&a);

  /* 40 strings: the first 32 in the text, the rest copied; all correct. */
  char many[40 * 6 + 2], *w = many;
  *w++ = '[';
  for (int i = 0; i < 40; i++)
    w += sprintf(w, "%s\"s%02d\"", i ? "," : "", i);
  *w++ = ']';
  assert_int_equal(weft__parser_json.decode((const uint8_t *)many, (size_t)(w - many),
                                            WEFT__DECODE_IN_PLACE, &a, &v, NULL),
                   0);
  assert_int_equal(weft_value_len(v), 40);
  for (int i = 0; i < 40; i++) {
    char want[8];
    snprintf(want, sizeof want, "s%02d", i);
    assert_int_equal(weft_value_get_string(weft_value_array_at(v, (size_t)i), &s, &n), 0);
    assert_string_equal(s, want);
    assert_int_equal(in_text(s, many, (size_t)(w - many)), i < 32);
  }
  weft__arena_free(&a);
}

/* A text that is one string takes a path of its own (lone_string): the same
 * answers as the parser's, which the same text after a blank still takes.
 * Every length to 40 with a quote, a backslash, a control or a byte >= 0x80
 * at every position, in place and copied. */
static void test_lone_string(void **state) {
  (void)state;
  weft__arena a;
  weft__arena_init(&a);
  static const uint8_t odd[] = {'"', '\\', 0x01, 0x1f, 0xc3, 0x7f};
  /* Every length to 40 (the SSE2 scan and its tail), then lengths around
   * the AVX2 scan's 64- and 32-byte steps where the CPU has it. */
  static const size_t upto[][2] = {{0, 40}, {62, 70}, {94, 98}, {126, 131}, {190, 193}};
  for (size_t r = 0; r < sizeof upto / sizeof upto[0]; r++) {
    for (size_t n = upto[r][0]; n <= upto[r][1]; n++) {
      for (size_t at = 0; at <= n; at++) {
        for (size_t o = 0; o < sizeof odd; o++) {
          if (at == n && o) break; /* at == n: no odd byte at all */
          uint8_t text[200], blank[202];
          text[0] = '"';
          for (size_t i = 0; i < n; i++)
            text[1 + i] = (uint8_t)('a' + i % 26);
          size_t len = n + 2;
          if (at < n) {
            text[1 + at] = odd[o];
            if (odd[o] == 0xc3) { /* a whole UTF-8 sequence: é */
              if (at + 1 >= n) continue;
              text[2 + at] = 0xa9;
            }
          }
          text[len - 1] = '"';
          blank[0] = ' ';
          memcpy(blank + 1, text, len);
          for (int in_place = 0; in_place < 2; in_place++) {
            uint8_t mine[200], theirs[202];
            memcpy(mine, text, len);
            memcpy(theirs, blank, len + 1);
            const weft_value *v = NULL, *w = NULL;
            size_t pos = 0, wpos = 0;
            int flags = WEFT__DECODE_UTF8_VALID | (in_place ? WEFT__DECODE_IN_PLACE : 0);
            int rc = weft__parser_json.decode(mine, len, flags, &a, &v, &pos);
            int wrc = weft__parser_json.decode(theirs, len + 1, flags, &a, &w, &wpos);
            assert_int_equal(rc, wrc);
            if (rc) {
              assert_int_equal(pos + 1, wpos);
              assert_memory_equal(mine, text, len); /* an error writes nothing */
              continue;
            }
            const char *s, *t;
            size_t sn, tn;
            assert_int_equal(weft_value_get_string(v, &s, &sn), 0);
            assert_int_equal(weft_value_get_string(w, &t, &tn), 0);
            assert_int_equal(sn, tn);
            assert_memory_equal(s, t, sn);
            assert_int_equal(s[sn], '\0');
            assert_int_equal(weft__parser_json.verbatim(v), weft__parser_json.verbatim(w));
            assert_int_equal(in_text(s, (const char *)mine, len),
                             in_text(t, (const char *)theirs, len + 1));
            if (!in_place) assert_memory_equal(mine, text, len);
          }
          weft__arena_reset(&a);
        }
      }
    }
  }
  weft__arena_free(&a);
}

/* A long document (many blocks, big containers, long strings) survives. */
static void test_large(void **state) {
  (void)state;
  weft_value *root = weft_value_new_array();
  for (int k = 0; k < 3000; k++) {
    weft_value *m = weft_value_new_map();
    char key[32];
    int kl = snprintf(key, sizeof key, "key%d", k);
    weft_value_map_add(m, key, (size_t)kl, weft_value_new_int(k));
    weft_value_map_add(m, "f", 1, weft_value_new_float(k / 7.0));
    weft_value_map_add(m, "s", 1, weft_value_new_string("line\nwith \"quotes\" \xe2\x80\xa8", 23));
    weft_value_array_push(root, m);
  }
  char *big = malloc(100000);
  memset(big, 'x', 100000);
  weft_value_array_push(root, weft_value_new_string(big, 100000));
  free(big);
  uint8_t *buf;
  size_t len;
  assert_int_equal(weft_value_encode("json", root, &buf, &len), 0);
  weft_value *back;
  assert_int_equal(decode_n((const char *)buf, len, &back, NULL), 0);
  assert_true(weft_value_equal(root, back));
  weft_free(buf);
  weft_value_free(back);
  weft_value_free(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_types_roundtrip),
      cmocka_unit_test(test_binary_buffer),
      cmocka_unit_test(test_encode_errors),
      cmocka_unit_test(test_string_escapes),
      cmocka_unit_test(test_unicode),
      cmocka_unit_test(test_lone_surrogates),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_float_roundtrip_random),
      cmocka_unit_test(test_locale),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_error_offsets),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_lone_surrogate_wins),
      cmocka_unit_test(test_blanks),
      cmocka_unit_test(test_trailing),
      cmocka_unit_test(test_error_offsets_exact),
      cmocka_unit_test(test_string_scan_boundaries),
      cmocka_unit_test(test_reencode_decoded),
      cmocka_unit_test(test_arena_reuse),
      cmocka_unit_test(test_in_place),
      cmocka_unit_test(test_lone_string),
      cmocka_unit_test(test_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
