/* The "raw" parser: text in and out as strings, JSON for other values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <string.h>

#include "weft/weft.h"

static void test_text_round_trip(void **state) {
  (void)state;
  const char *in = "not {json} at all \xe2\x82\xac";
  weft_value *v = NULL;
  assert_int_equal(weft_value_decode("raw", in, strlen(in), &v, NULL), 0);
  const char *s;
  size_t n;
  assert_int_equal(weft_value_get_string(v, &s, &n), 0);
  assert_int_equal(n, strlen(in));
  assert_memory_equal(s, in, n);
  assert_int_equal(s[n], '\0');
  uint8_t *out;
  size_t len;
  assert_int_equal(weft_value_encode("raw", v, &out, &len), 0);
  assert_int_equal(len, strlen(in));
  assert_memory_equal(out, in, len);
  weft_free(out);
  weft_value_free(v);
  assert_int_equal(weft_value_decode("raw", "", 0, &v, NULL), 0);
  assert_int_equal(weft_value_len(v), 0);
  weft_value_free(v);
}

static void test_other_values_as_json(void **state) {
  (void)state;
  weft_value *m = weft_value_new_map();
  weft_value_map_add(m, "count", 5, weft_value_new_int(3));
  uint8_t *out;
  size_t len;
  assert_int_equal(weft_value_encode("raw", m, &out, &len), 0);
  assert_int_equal(len, 11);
  assert_memory_equal(out, "{\"count\":3}", 11);
  weft_free(out);
  weft_value_free(m);
}

static void test_bad_input(void **state) {
  (void)state;
  weft_value *v = (weft_value *)1;
  size_t pos = 99;
  assert_int_equal(weft_value_decode("raw", "ok\xc0\x80", 4, &v, &pos), WEFT_EUTF8);
  assert_int_equal(pos, 2);
  assert_int_equal(weft_parser_exists("raw"), 1);
  assert_int_equal(weft_parser_exists("RAW"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_round_trip),
      cmocka_unit_test(test_other_values_as_json),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
