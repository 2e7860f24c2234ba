/*
 * The loop's dirty list when a seal marks other flushables: they go in
 * front of the one being flushed, and must still be flushed in the same
 * turn. flush_head once took the sealed one off by assuming it was still
 * the head, which dropped them (an engine.io session whose poll's seal
 * closed its WebSocket: that stream's close never finished, and
 * weft_server_destroy never completed). test_eio_seal.c drives the same
 * through real sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "runtime/loop.h"
#include "weft/weft.h"

typedef struct probe {
  weft__flushable f; /* first: the flushable is the probe */
  weft_loop *loop;
  struct probe *marks[2]; /* what its seal marks dirty */
  int seals, flushes;
} probe;

static void seal(weft__flushable *f) {
  probe *p = (probe *)(void *)f;
  p->seals++;
  for (int i = 0; i < 2; i++)
    if (p->marks[i]) weft__loop_mark_dirty(p->loop, &p->marks[i]->f);
}

static void flush(weft__flushable *f) { ((probe *)(void *)f)->flushes++; }

static const weft__flush_ops ops = {seal, flush, NULL};

/* `first` is marked last, so it is the head when the turn flushes. */
static void run_turn(int (*turn)(weft_loop *)) {
  weft_loop *loop;
  assert_int_equal(weft_loop_new(&loop), 0);
  probe p[3] = {{{NULL, &ops}, loop, {NULL, NULL}, 0, 0},
                {{NULL, &ops}, loop, {NULL, NULL}, 0, 0},
                {{NULL, &ops}, loop, {NULL, NULL}, 0, 0}};
  probe *first = &p[0];
  first->marks[0] = &p[1];
  first->marks[1] = &p[2];
  weft__loop_mark_dirty(loop, &first->f);
  assert_ptr_equal(loop->dirty, &first->f);
  assert_true(turn(loop) >= 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(p[i].seals, 1);
    assert_int_equal(p[i].flushes, 1);
    assert_false(weft__loop_is_dirty(&p[i].f)); /* else it could never be marked again */
  }
  assert_ptr_equal(loop->dirty, &loop->dirty_end);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* The same list, with one already waiting behind the head: the seal's
 * marks go in front of the head, the one behind must stay. */
static void run_turn_with_tail(int (*turn)(weft_loop *)) {
  weft_loop *loop;
  assert_int_equal(weft_loop_new(&loop), 0);
  probe p[4] = {{{NULL, &ops}, loop, {NULL, NULL}, 0, 0},
                {{NULL, &ops}, loop, {NULL, NULL}, 0, 0},
                {{NULL, &ops}, loop, {NULL, NULL}, 0, 0},
                {{NULL, &ops}, loop, {NULL, NULL}, 0, 0}};
  p[0].marks[0] = &p[1];
  p[0].marks[1] = &p[2];
  weft__loop_mark_dirty(loop, &p[3].f);
  weft__loop_mark_dirty(loop, &p[0].f);
  assert_true(turn(loop) >= 0);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(p[i].seals, 1);
    assert_int_equal(p[i].flushes, 1);
    assert_false(weft__loop_is_dirty(&p[i].f));
  }
  assert_ptr_equal(loop->dirty, &loop->dirty_end);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* The check phase of a loop turn, as a running server flushes. */
static void test_seal_marks_others_run_once(void **state) {
  (void)state;
  run_turn(weft_loop_run_once);
  run_turn_with_tail(weft_loop_run_once);
}

/* A host's explicit flush goes through the same list walk. */
static void test_seal_marks_others_flush(void **state) {
  (void)state;
  run_turn(weft_loop_flush);
  run_turn_with_tail(weft_loop_flush);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seal_marks_others_run_once),
      cmocka_unit_test(test_seal_marks_others_flush),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
