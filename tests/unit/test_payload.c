/* Payloads from the loop's pools: both size classes are reused, counted at
 * what their slot holds, capped, and handed back by the decay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <string.h>

#include "runtime/loop.h"
#include "runtime/payload.h"
#include "weft/weft.h"

static void test_classes(void **state) {
  (void)state;
  weft_loop *loop;
  assert_int_equal(weft_loop_new(&loop), 0);
  static const uint8_t bytes[WEFT__POOL_MED_DATA + 1] = {1};
  static const size_t sizes[] = {0,
                                 1,
                                 WEFT__POOL_DATA,
                                 WEFT__POOL_DATA + 1,
                                 1026,
                                 WEFT__POOL_MED_DATA,
                                 WEFT__POOL_MED_DATA + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    weft__payload *p = weft__payload_take(loop, WEFT__P_TEXT, bytes, n);
    assert_non_null(p);
    assert_int_equal(p->len, n);
    assert_memory_equal(p->data, bytes, n);
    size_t slot = n > WEFT__POOL_MED_DATA ? n
                  : n > WEFT__POOL_DATA   ? WEFT__POOL_MED_DATA
                                          : WEFT__POOL_DATA;
    assert_int_equal(weft__payload_footprint(p), sizeof(*p) + slot);
    weft__payload_release(p);
    /* A pooled one comes back for the next of its class. */
    weft__payload *q = weft__payload_take(loop, WEFT__P_BINARY, NULL, n);
    assert_non_null(q);
    if (n <= WEFT__POOL_MED_DATA) assert_ptr_equal(p, q);
    assert_int_equal(q->kind, WEFT__P_BINARY);
    assert_int_equal(q->refs, 1);
    weft__payload_release(q);
  }
  assert_int_equal(loop->pools[0].len, 1);
  assert_int_equal(loop->pools[1].len, 1);
  assert_int_equal(weft_loop_close(loop), 0);
}

static void test_cap_and_decay(void **state) {
  (void)state;
  weft_loop *loop;
  assert_int_equal(weft_loop_new(&loop), 0);
  enum { N = WEFT__POOL_MED_MAX + 10 };
  static weft__payload *ps[N];
  for (int i = 0; i < N; i++)
    assert_non_null(ps[i] = weft__payload_take(loop, WEFT__P_TEXT, NULL, 1000));
  for (int i = 0; i < N; i++)
    weft__payload_release(ps[i]);
  assert_int_equal(loop->pools[1].len, WEFT__POOL_MED_MAX);
  /* The first decay frees nothing (none was seen unneeded yet) ... */
  assert_int_equal(weft__payload_pool_decay(loop), 0);
  /* ... then taking 3 back leaves MAX - 3 unneeded: those go. */
  for (int i = 0; i < 3; i++)
    ps[i] = weft__payload_take(loop, WEFT__P_TEXT, NULL, 1000);
  for (int i = 0; i < 3; i++)
    weft__payload_release(ps[i]);
  size_t small = loop->pools[0].len;
  assert_int_equal(weft__payload_pool_decay(loop),
                   (WEFT__POOL_MED_MAX - 3) * (sizeof(weft__payload) + WEFT__POOL_MED_DATA) +
                       small * (sizeof(weft__payload) + WEFT__POOL_DATA));
  assert_int_equal(loop->pools[1].len, 3);
  assert_int_equal(weft__payload_pool_decay(loop),
                   3 * (sizeof(weft__payload) + WEFT__POOL_MED_DATA));
  assert_int_equal(loop->pools[1].len, 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classes),
      cmocka_unit_test(test_cap_and_decay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
