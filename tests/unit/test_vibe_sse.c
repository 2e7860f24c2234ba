/* The httpstream client's event-stream reader (transport/vibe/sse.c):
 * "\n", "\r\n" and "\r" line endings split anywhere between reads, data
 * lines joined, comments and padding dropped, a message past the maximum,
 * and an owner that stops in the middle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/vibe/vibe.h"

typedef struct got {
  char msgs[8][64];
  int n, stop_after;
} got;

static int on_msg(void *user, uint8_t *text, size_t len) {
  got *g = user;
  assert_true(g->n < 8 && len < 64);
  memcpy(g->msgs[g->n], text, len);
  g->msgs[g->n][len] = '\0';
  g->n++;
  return g->stop_after && g->n == g->stop_after;
}

/* Feeds s in pieces of `step` bytes (0: whole). */
static void feed(const char *s, size_t step, got *g) {
  weft__sse r = {0};
  size_t n = strlen(s);
  if (!step) step = n;
  for (size_t i = 0; i < n; i += step)
    assert_int_equal(
        weft__sse_feed(&r, (const uint8_t *)s + i, i + step > n ? n - i : step, 1024, on_msg, g),
        0);
  weft__sse_free(&r);
}

static void expect(const char *s, int n, const char *const *want) {
  for (size_t step = 0; step <= 7; step++) {
    got g = {0};
    feed(s, step, &g);
    assert_int_equal(g.n, n);
    for (int i = 0; i < n; i++)
      assert_string_equal(g.msgs[i], want[i]);
  }
}

static void test_line_endings(void **state) {
  (void)state;
  static const char *const want[] = {"?id=abc", "one", "two\nlines", ""};
  expect("data: ?id=abc\n\ndata: one\n\ndata: two\ndata:lines\n\ndata:\n\n", 4, want);
  expect("data: ?id=abc\r\n\r\ndata: one\r\n\r\ndata: two\r\ndata:lines\r\n\r\ndata:\r\n\r\n", 4,
         want);
  expect("data: ?id=abc\r\rdata: one\r\rdata: two\rdata:lines\r\rdata:\r\r", 4, want);
  expect("data: ?id=abc\r\n\ndata: one\n\r\ndata: two\rdata:lines\r\n\rdata:\n\r", 4, want);
}

static void test_padding_comments_fields(void **state) {
  (void)state;
  static const char *const want[] = {"a", "b c"};
  expect(" \t\n\r\n: a comment\nid: 7\ndata: a\n\n\n\n  event: x\ndata: b c\nretry: 1\n\n \n", 2,
         want);
  got g = {0};
  feed("data: no end yet\n", 1, &g);
  assert_int_equal(g.n, 0);
}

static void test_too_big_and_stop(void **state) {
  (void)state;
  weft__sse r = {0};
  got g = {0};
  char big[300];
  memset(big, 'x', sizeof(big));
  memcpy(big, "data: ", 6);
  assert_int_equal(weft__sse_feed(&r, (const uint8_t *)big, sizeof(big), 256, on_msg, &g),
                   WEFT_ETOOBIG);
  weft__sse_free(&r);
  g.stop_after = 1;
  const char *two = "data: 1\n\ndata: 2\n\n";
  assert_int_equal(weft__sse_feed(&r, (const uint8_t *)two, strlen(two), 256, on_msg, &g), 0);
  assert_int_equal(g.n, 1);
  weft__sse_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_line_endings),
      cmocka_unit_test(test_padding_comments_fields),
      cmocka_unit_test(test_too_big_and_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
