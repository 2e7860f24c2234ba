/* Values: constructors, accessors, ownership, dup/equal, the arena, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdalign.h>
#include <string.h>

#include "base/value.h"
#include "weft/weft.h"

static void test_scalars(void **state) {
  (void)state;
  weft_value *n = weft_value_new_null();
  weft_value *b = weft_value_new_bool(42);
  weft_value *i = weft_value_new_int(INT64_MIN);
  weft_value *f = weft_value_new_float(1.5);
  assert_non_null(n);
  assert_int_equal(weft_value_type(n), WEFT_NULL);
  assert_int_equal(weft_value_type(b), WEFT_BOOL);
  assert_int_equal(weft_value_type(i), WEFT_INT);
  assert_int_equal(weft_value_type(f), WEFT_FLOAT);
  assert_int_equal(weft_value_type(NULL), WEFT_NULL);

  int bv = 0;
  int64_t iv = 0;
  double dv = 0;
  assert_int_equal(weft_value_get_bool(b, &bv), 0);
  assert_int_equal(bv, 1); /* any non-zero is normalised */
  assert_int_equal(weft_value_get_int(i, &iv), 0);
  assert_true(iv == INT64_MIN);
  assert_int_equal(weft_value_get_float(f, &dv), 0);
  assert_true(dv == 1.5);

  /* Wrong type, NULL value, NULL out. */
  assert_int_equal(weft_value_get_int(f, &iv), WEFT_ETYPE);
  assert_int_equal(weft_value_get_float(i, &dv), WEFT_ETYPE);
  assert_int_equal(weft_value_get_bool(n, &bv), WEFT_ETYPE);
  assert_int_equal(weft_value_get_bool(NULL, &bv), WEFT_EINVAL);
  assert_int_equal(weft_value_get_int(i, NULL), WEFT_EINVAL);
  const char *s;
  size_t len;
  assert_int_equal(weft_value_get_string(i, &s, &len), WEFT_ETYPE);
  const uint8_t *p;
  assert_int_equal(weft_value_get_binary(i, &p, &len), WEFT_ETYPE);
  assert_int_equal(weft_value_len(i), 0);
  assert_int_equal(weft_value_len(NULL), 0);
  assert_null(weft_value_array_at(i, 0));
  assert_null(weft_value_map_get(i, "a", 1));

  weft_value_free(n);
  weft_value_free(b);
  weft_value_free(i);
  weft_value_free(f);
  weft_value_free(NULL);
}

static void test_strings(void **state) {
  (void)state;
  weft_value *v = weft_value_new_string("a\0b", 3);
  assert_non_null(v);
  const char *s;
  size_t len;
  assert_int_equal(weft_value_get_string(v, &s, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(s, "a\0b", 3);
  assert_int_equal(s[3], '\0');
  assert_int_equal(weft_value_len(v), 3);
  assert_int_equal(weft_value_get_string(v, &s, NULL), WEFT_EINVAL);
  assert_true(weft__value_is_str(v, "a\0b", 3));
  assert_false(weft__value_is_str(v, "a", 1));
  assert_false(weft__value_is_str(NULL, "a", 1));
  weft_value_free(v);

  v = weft_value_new_string(NULL, 0);
  assert_non_null(v);
  assert_int_equal(weft_value_get_string(v, &s, &len), 0);
  assert_int_equal(len, 0);
  assert_string_equal(s, "");
  weft_value_free(v);
  assert_null(weft_value_new_string(NULL, 1));

  /* Valid multi-byte: é, €, U+FFFF, 😀, U+10FFFF. */
  static const char ok[] = "\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";
  v = weft_value_new_string(ok, sizeof ok - 1);
  assert_non_null(v);
  weft_value_free(v);

  static const char *const bad[] = {
      "\x80",             /* lone continuation */
      "\xc0\x80",         /* overlong NUL */
      "\xc1\xbf",         /* overlong */
      "\xe0\x9f\xbf",     /* overlong 3-byte */
      "\xed\xa0\x80",     /* surrogate D800 */
      "\xed\xbf\xbf",     /* surrogate DFFF */
      "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\xf5\x80\x80\x80", /* invalid lead */
      "\xff",
      "\xe2\x82",     /* truncated */
      "abcdefgh\xe2", /* truncated after the fast path */
      "\xc3\x28",     /* bad continuation */
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    assert_null(weft_value_new_string(bad[k], strlen(bad[k])));
  }
}

static void test_binary(void **state) {
  (void)state;
  const uint8_t raw[] = {0, 0xff, 0xc0, 0x80};
  weft_value *v = weft_value_new_binary(raw, sizeof raw);
  const uint8_t *p;
  size_t len;
  assert_int_equal(weft_value_get_binary(v, &p, &len), 0);
  assert_int_equal(len, 4);
  assert_memory_equal(p, raw, 4);
  const char *s;
  assert_int_equal(weft_value_get_string(v, &s, &len), WEFT_ETYPE);
  weft_value_free(v);

  v = weft_value_new_binary(NULL, 0);
  assert_non_null(v);
  assert_int_equal(weft_value_get_binary(v, &p, &len), 0);
  assert_non_null(p);
  assert_int_equal(len, 0);
  weft_value_free(v);
  assert_null(weft_value_new_binary(NULL, 5));
}

static void test_array(void **state) {
  (void)state;
  weft_value *arr = weft_value_new_array();
  for (int i = 0; i < 100; i++)
    assert_int_equal(weft_value_array_push(arr, weft_value_new_int(i)), 0);
  weft_value *inner = weft_value_new_array();
  assert_int_equal(weft_value_array_push(inner, weft_value_new_string("x", 1)), 0);
  assert_int_equal(weft_value_array_push(arr, inner), 0);
  assert_int_equal(weft_value_len(arr), 101);
  int64_t iv;
  assert_int_equal(weft_value_get_int(weft_value_array_at(arr, 57), &iv), 0);
  assert_int_equal(iv, 57);
  const weft_value *in = weft_value_array_at(arr, 100);
  assert_int_equal(weft_value_type(in), WEFT_ARRAY);
  assert_true(weft__value_is_str(weft_value_array_at(in, 0), "x", 1));
  assert_null(weft_value_array_at(arr, 101));
  assert_null(weft_value_map_key_at(arr, 0));

  /* Bad input: NULL item, NULL array, wrong container, itself, a borrowed
   * child. Items are freed in every case (the sanitizers/valgrind check). */
  assert_int_equal(weft_value_array_push(arr, NULL), WEFT_EINVAL);
  assert_int_equal(weft_value_array_push(NULL, weft_value_new_int(1)), WEFT_EINVAL);
  weft_value *str = weft_value_new_string("s", 1);
  assert_int_equal(weft_value_array_push(str, weft_value_new_int(1)), WEFT_EINVAL);
  weft_value *map = weft_value_new_map();
  assert_int_equal(weft_value_array_push(map, weft_value_new_int(1)), WEFT_EINVAL);
  assert_int_equal(weft_value_array_push(arr, arr), WEFT_EINVAL);
  assert_int_equal(weft_value_array_push(arr, (weft_value *)weft_value_array_at(arr, 3)),
                   WEFT_EINVAL);
  assert_int_equal(weft_value_len(arr), 101);
  /* A borrowed child cannot be freed by the application. */
  weft_value_free((weft_value *)weft_value_array_at(arr, 100));
  assert_int_equal(weft_value_len(weft_value_array_at(arr, 100)), 1);
  /* Pushing into a child (casting away const) is refused. */
  assert_int_equal(weft_value_array_push((weft_value *)in, weft_value_new_null()), WEFT_EINVAL);

  weft_value_free(str);
  weft_value_free(map);
  weft_value_free(arr);
}

static void test_map(void **state) {
  (void)state;
  weft_value *m = weft_value_new_map();
  assert_int_equal(weft_value_map_add(m, "a", 1, weft_value_new_int(1)), 0);
  assert_int_equal(weft_value_map_add(m, "b", 1, weft_value_new_int(2)), 0);
  assert_int_equal(weft_value_map_add(m, "a", 1, weft_value_new_int(3)), 0);
  assert_int_equal(weft_value_map_add(m, "", 0, weft_value_new_bool(1)), 0);
  assert_int_equal(weft_value_map_add(m, NULL, 0, weft_value_new_bool(0)), 0);
  assert_int_equal(
      weft_value_map_add_value(m, weft_value_new_int(7), weft_value_new_string("i", 1)), 0);
  assert_int_equal(weft_value_len(m), 6);

  int64_t iv;
  assert_int_equal(weft_value_get_int(weft_value_map_get(m, "a", 1), &iv), 0);
  assert_int_equal(iv, 3); /* the last one wins */
  assert_int_equal(weft_value_get_int(weft_value_map_get(m, "b", 1), &iv), 0);
  assert_int_equal(iv, 2);
  int bv;
  assert_int_equal(weft_value_get_bool(weft_value_map_get(m, "", 0), &bv), 0);
  assert_int_equal(bv, 0);
  assert_null(weft_value_map_get(m, "c", 1));
  assert_null(weft_value_map_get(m, "ab", 2));
  assert_null(weft_value_map_get(m, NULL, 1));
  assert_null(weft_value_map_get(NULL, "a", 1));
  assert_int_equal(weft_value_type(weft_value_map_key_at(m, 5)), WEFT_INT);
  assert_true(weft__value_is_str(weft_value_map_value_at(m, 5), "i", 1));
  assert_true(weft__value_is_str(weft_value_map_key_at(m, 1), "b", 1));
  assert_null(weft_value_map_key_at(m, 6));
  assert_null(weft_value_map_value_at(m, 6));
  assert_null(weft_value_array_at(m, 0));

  /* Bad input; every taken value is freed. */
  assert_int_equal(weft_value_map_add(m, "\xff", 1, weft_value_new_int(1)), WEFT_EUTF8);
  assert_int_equal(weft_value_map_add(m, NULL, 2, weft_value_new_int(1)), WEFT_EINVAL);
  assert_int_equal(weft_value_map_add(m, "k", 1, NULL), WEFT_EINVAL);
  assert_int_equal(weft_value_map_add(NULL, "k", 1, weft_value_new_int(1)), WEFT_EINVAL);
  weft_value *arr = weft_value_new_array();
  assert_int_equal(weft_value_map_add(arr, "k", 1, weft_value_new_int(1)), WEFT_EINVAL);
  assert_int_equal(weft_value_map_add_value(arr, weft_value_new_int(1), weft_value_new_int(1)),
                   WEFT_EINVAL);
  assert_int_equal(weft_value_map_add_value(m, NULL, weft_value_new_int(1)), WEFT_EINVAL);
  assert_int_equal(weft_value_map_add_value(m, weft_value_new_int(1), NULL), WEFT_EINVAL);
  assert_int_equal(weft_value_map_add(m, "self", 4, m), WEFT_EINVAL);
  assert_int_equal(weft_value_map_add_value(m, m, weft_value_new_int(1)), WEFT_EINVAL);
  weft_value *same = weft_value_new_int(5);
  assert_int_equal(weft_value_map_add_value(m, same, same), WEFT_EINVAL);
  assert_int_equal(weft_value_len(m), 6);
  weft_value_free(arr);
  weft_value_free(m);
}

static weft_value *sample(void) {
  weft_value *m = weft_value_new_map();
  weft_value *a = weft_value_new_array();
  weft_value_array_push(a, weft_value_new_null());
  weft_value_array_push(a, weft_value_new_bool(1));
  weft_value_array_push(a, weft_value_new_int(-5));
  weft_value_array_push(a, weft_value_new_float(2.25));
  weft_value_array_push(a, weft_value_new_string("h\0i", 3));
  weft_value_array_push(a, weft_value_new_binary("\x00\x01", 2));
  weft_value_array_push(a, weft_value_new_array());
  weft_value_array_push(a, weft_value_new_map());
  weft_value_map_add(m, "list", 4, a);
  weft_value_map_add_value(m, weft_value_new_float(1.0), weft_value_new_string("", 0));
  return m;
}

static void test_dup_equal(void **state) {
  (void)state;
  weft_value *a = sample();
  weft_value *b = weft_value_dup(a);
  assert_non_null(b);
  assert_true(weft_value_equal(a, b));
  assert_true(weft_value_equal(a, a));
  /* The copy is independent: change it and they differ. */
  assert_int_equal(weft_value_map_add(b, "x", 1, weft_value_new_null()), 0);
  assert_false(weft_value_equal(a, b));
  weft_value_free(b);

  assert_null(weft_value_dup(NULL));
  assert_true(weft_value_equal(NULL, NULL));
  assert_false(weft_value_equal(a, NULL));

  weft_value *i = weft_value_new_int(1), *f = weft_value_new_float(1.0);
  assert_false(weft_value_equal(i, f)); /* ints and floats never compare equal */
  weft_value *nan1 = weft_value_new_float(NAN), *nan2 = weft_value_new_float(-NAN);
  assert_true(weft_value_equal(nan1, nan2));
  weft_value *z = weft_value_new_float(0.0), *nz = weft_value_new_float(-0.0);
  assert_false(weft_value_equal(z, nz));
  weft_value *s1 = weft_value_new_string("ab", 2), *s2 = weft_value_new_string("ac", 2);
  weft_value *b1 = weft_value_new_binary("ab", 2);
  assert_false(weft_value_equal(s1, s2));
  assert_false(weft_value_equal(s1, b1));
  /* Maps compare in order. */
  weft_value *m1 = weft_value_new_map(), *m2 = weft_value_new_map();
  weft_value_map_add(m1, "a", 1, weft_value_new_int(1));
  weft_value_map_add(m1, "b", 1, weft_value_new_int(2));
  weft_value_map_add(m2, "b", 1, weft_value_new_int(2));
  weft_value_map_add(m2, "a", 1, weft_value_new_int(1));
  assert_false(weft_value_equal(m1, m2));
  weft_value *values[] = {a, i, f, nan1, nan2, z, nz, s1, s2, b1, m1, m2};
  for (size_t k = 0; k < sizeof values / sizeof values[0]; k++)
    weft_value_free(values[k]);
}

static void test_decoded_ownership(void **state) {
  (void)state;
  static const char doc[] = "{\"a\":[1,2],\"s\":\"str\"}";
  weft_value *v = NULL;
  assert_int_equal(weft_value_decode("json", doc, sizeof doc - 1, &v, NULL), 0);
  /* Children of a decoded tree are borrowed: freeing one does nothing. */
  weft_value_free((weft_value *)weft_value_map_get(v, "a", 1));
  assert_int_equal(weft_value_len(weft_value_map_get(v, "a", 1)), 2);
  weft_value *copy = weft_value_dup(v);
  /* A decoded root can grow: its children move to the heap, their payloads
   * stay in the arena. */
  assert_int_equal(weft_value_map_add(v, "n", 1, weft_value_new_null()), 0);
  assert_true(weft__value_is_str(weft_value_map_get(v, "s", 1), "str", 3));
  assert_int_equal(weft_value_len(v), 3);
  /* A decoded root pushed into an owned array is copied, its arena freed. */
  weft_value *arr = weft_value_new_array();
  assert_int_equal(weft_value_array_push(arr, v), 0);
  assert_int_equal(weft_value_len(weft_value_array_at(arr, 0)), 3);
  assert_true(weft_value_equal(weft_value_map_value_at(weft_value_array_at(arr, 0), 0),
                               weft_value_map_value_at(copy, 0)));
  weft_value_free(arr);

  weft_value *d = NULL;
  assert_int_equal(weft_value_decode("msgpack", "\x92\x01\x02", 3, &d, NULL), 0);
  assert_int_equal(weft_value_array_push(d, copy), 0);
  assert_int_equal(weft_value_len(d), 3);
  weft_value *d2 = weft_value_dup(d);
  assert_true(weft_value_equal(d, d2));
  weft_value_free(d2);
  weft_value_free(d);

  /* A decoded scalar root. */
  assert_int_equal(weft_value_decode("json", "\"x\"", 3, &d, NULL), 0);
  assert_true(weft__value_is_str(d, "x", 1));
  weft_value_free(d);
}

static void test_errors(void **state) {
  (void)state;
  assert_string_equal(weft_err_name(WEFT_EINVAL), "EINVAL");
  assert_string_equal(weft_err_name(WEFT_EUTF8), "EUTF8");
  assert_string_equal(weft_err_name(WEFT_EUNSUPPORTED), "EUNSUPPORTED");
  assert_string_equal(weft_err_name(0), "UNKNOWN");
  assert_string_equal(weft_err_name(1), "UNKNOWN");
  assert_string_equal(weft_err_name(-1), "UNKNOWN");
  assert_string_equal(weft_err_name(WEFT__ERRNO_BASE), "UNKNOWN");
  assert_string_equal(weft_err_name(WEFT__ERRNO_END), "UNKNOWN");
  assert_string_equal(weft_strerror(WEFT_ENOMEM), "out of memory");
  assert_string_equal(weft_strerror(WEFT_EDEPTH), "value nested too deeply");
  assert_string_equal(weft_strerror(12345), "unknown error");
  for (int c = WEFT__ERRNO_BASE + 1; c < WEFT__ERRNO_END; c++) {
    assert_true(c < 0);
    assert_int_equal(weft_err_name(c)[0], 'E');
    assert_string_not_equal(weft_strerror(c), "unknown error");
  }
}

static void test_arena(void **state) {
  (void)state;
  weft__arena a;
  weft__arena_init(&a);
  assert_null(a.head);
  void *first = weft__arena_alloc(&a, 10);
  assert_non_null(first);
  weft__arena_block *head = a.head;
  for (int i = 0; i < 20; i++) {
    void *p = weft__arena_alloc(&a, (size_t)i * 3 + 1);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
    memset(p, 0xab, (size_t)i * 3 + 1);
  }
  assert_ptr_equal(a.cur, head); /* all of that fits the first block */
  assert_non_null(weft__arena_alloc(&a, 0));
  /* Fill several blocks and a big one. */
  for (int i = 0; i < 1000; i++)
    memset(weft__arena_alloc(&a, 100), 1, 100);
  void *big = weft__arena_alloc(&a, 1 << 20);
  assert_non_null(big);
  memset(big, 2, 1 << 20);
  assert_null(weft__arena_alloc(&a, SIZE_MAX));
  assert_null(weft__arena_alloc(&a, SIZE_MAX - 8));
  /* Reset keeps the first block and reuses it from its start. */
  weft__arena_reset(&a);
  assert_ptr_equal(a.head, head);
  assert_ptr_equal(a.cur, head);
  assert_ptr_equal(weft__arena_alloc(&a, 10), first);
  weft__arena_reset(&a);
  weft__arena_reset(&a);
  weft__arena_free(&a);
  assert_null(a.head);
  weft__arena_free(&a);
  weft__arena_reset(&a);
  assert_null(weft__arena_alloc(NULL, 1));
  /* A large first request still leaves a small first block to keep. */
  weft__arena_init(&a);
  assert_non_null(weft__arena_alloc(&a, 100000));
  weft__arena_reset(&a);
  assert_non_null(a.head);
  assert_ptr_equal(a.cur, a.head);
  weft__arena_free(&a);
}

static void test_parsers_api(void **state) {
  (void)state;
  assert_true(weft_parser_exists("json"));
  assert_true(weft_parser_exists("msgpack"));
  assert_false(weft_parser_exists("xml"));
  assert_false(weft_parser_exists(""));
  assert_false(weft_parser_exists(NULL));

  weft_value *v = weft_value_new_int(1), *out = NULL;
  uint8_t *buf = (uint8_t *)"x";
  size_t len = 99;
  assert_int_equal(weft_value_encode("xml", v, &buf, &len), WEFT_EINVAL);
  assert_null(buf);
  assert_int_equal(weft_value_encode(NULL, v, &buf, &len), WEFT_EINVAL);
  assert_int_equal(weft_value_encode("json", NULL, &buf, &len), WEFT_EINVAL);
  assert_int_equal(weft_value_encode("json", v, NULL, &len), WEFT_EINVAL);
  assert_int_equal(weft_value_encode("json", v, &buf, NULL), WEFT_EINVAL);
  assert_int_equal(weft_value_encode("json", v, &buf, &len), 0);
  assert_memory_equal(buf, "1", 1);
  assert_int_equal(len, 1);
  weft_free(buf);
  weft_free(NULL);

  assert_int_equal(weft_value_decode("xml", "1", 1, &out, NULL), WEFT_EINVAL);
  assert_int_equal(weft_value_decode(NULL, "1", 1, &out, NULL), WEFT_EINVAL);
  assert_int_equal(weft_value_decode("json", "1", 1, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_value_decode("json", NULL, 1, &out, NULL), WEFT_EINVAL);
  size_t pos = 99;
  assert_int_equal(weft_value_decode("json", NULL, 0, &out, &pos), WEFT_EPARSE);
  assert_int_equal(pos, 0);
  assert_null(out);
  assert_int_equal(weft_value_decode("msgpack", NULL, 0, &out, NULL), WEFT_EPARSE);
  weft_value_free(v);
}

/* A chain of n nested arrays around an int. */
static weft_value *nested(int n) {
  weft_value *v = weft_value_new_int(7);
  for (int i = 0; i < n; i++) {
    weft_value *a = weft_value_new_array();
    assert_int_equal(weft_value_array_push(a, v), 0);
    v = a;
  }
  return v;
}

static void test_depth(void **state) {
  (void)state;
  static const char *const parsers[] = {"json", "msgpack"};
  for (int p = 0; p < 2; p++) {
    weft_value *ok = nested(WEFT_VALUE_MAX_DEPTH), *deep = nested(WEFT_VALUE_MAX_DEPTH + 1);
    uint8_t *buf;
    size_t len;
    assert_int_equal(weft_value_encode(parsers[p], ok, &buf, &len), 0);
    weft_value *back = NULL;
    assert_int_equal(weft_value_decode(parsers[p], buf, len, &back, NULL), 0);
    assert_true(weft_value_equal(ok, back));
    weft_value_free(back);
    weft_free(buf);
    assert_int_equal(weft_value_encode(parsers[p], deep, &buf, &len), WEFT_EDEPTH);
    assert_null(buf);
    weft_value_free(ok);
    weft_value_free(deep);
  }
  /* Trees built by hand may be deeper; dup, equal and free cope. */
  weft_value *v = nested(5000), *d = weft_value_dup(v);
  assert_true(weft_value_equal(v, d));
  weft_value_free(v);
  weft_value_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_binary),
      cmocka_unit_test(test_array),
      cmocka_unit_test(test_map),
      cmocka_unit_test(test_dup_equal),
      cmocka_unit_test(test_decoded_ownership),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_arena),
      cmocka_unit_test(test_parsers_api),
      cmocka_unit_test(test_depth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
