/*
 * A test's timed steps on a libuv loop and its first failed check, and the
 * recipients and answers the recovery tests share. Embed `test_steps` as
 * the first member of the test's state: a pointer to the state is then one
 * to its steps, and step callbacks take that pointer.
 */
#ifndef WEFT_TEST_STEPS_H
#define WEFT_TEST_STEPS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <weft/options.h>
#include <weft/weft.h>

typedef struct test_steps {
  uv_timer_t guard, step;
  void (*step_cb)(void *t);
  void (*on_timeout)(void *t); /* the guard fired (its check failed): end the test */
  int phase, done;
  char fail[512];    /* the first failed check, "" while none */
  char answers[256]; /* recovery answers: "1," resumed, "0," fresh, "0*," another id */
  int64_t got[4096]; /* the integers a client received, in order */
  int ngot;
} test_steps;

static inline void steps_check(void *t, int ok, const char *what) {
  test_steps *s = t;
  if (!ok && !s->fail[0]) snprintf(s->fail, sizeof(s->fail), "phase %d: %s", s->phase, what);
}

static inline void steps_guard_fired(uv_timer_t *h) {
  test_steps *s = h->data;
  steps_check(s, 0, "timed out");
  s->on_timeout(s);
}

static inline void steps_step_fired(uv_timer_t *h) {
  test_steps *s = h->data;
  if (!s->done) s->step_cb(s);
}

/* Runs cb(t) in `ms` (replacing a step not yet run). */
static inline void steps_after(void *t, uint64_t ms, void (*cb)(void *t)) {
  test_steps *s = t;
  s->step_cb = cb;
  uv_timer_start(&s->step, steps_step_fired, ms, 0);
}

/* The timers, and the guard: the test fails and ends after guard_ms. */
static inline void steps_start(void *t, uv_loop_t *uv, uint64_t guard_ms,
                               void (*on_timeout)(void *t)) {
  test_steps *s = t;
  uv_timer_init(uv, &s->guard);
  uv_timer_init(uv, &s->step);
  s->guard.data = s->step.data = s;
  s->on_timeout = on_timeout;
  uv_timer_start(&s->guard, steps_guard_fired, guard_ms, 0);
}

/* Closes the timers the first time (returns 1); 0 once ended. */
static inline int steps_end(void *t) {
  test_steps *s = t;
  if (s->done) return 0;
  s->done = 1;
  uv_close((uv_handle_t *)&s->guard, NULL);
  uv_close((uv_handle_t *)&s->step, NULL);
  return 1;
}

/* Notes an integer message in s->got: its value in *i, 0; or -1 (not an
 * integer, or full: a failed check). */
static inline int steps_got(void *t, const weft_value *msg, int64_t *i) {
  test_steps *s = t;
  int ok = weft_value_get_int(msg, i) == 0 && s->ngot < (int)(sizeof(s->got) / sizeof(s->got[0]));
  steps_check(s, ok, "unexpected data");
  if (ok) s->got[s->ngot++] = *i;
  return ok ? 0 : -1;
}

/* A client's recovery answer, noted in s->answers against the first id. */
static inline void steps_answer(void *t, int recovered, const char *id, const char *id0) {
  test_steps *s = t;
  size_t n = strlen(s->answers);
  snprintf(s->answers + n, sizeof(s->answers) - n, "%d%s,", recovered,
           strcmp(id, id0) == 0 ? "" : "*");
}

/* What a detached spark `id` in rooms r1 and r2 must get (its id, room r2)
 * and must not (room r3, everyone but it). */
typedef struct rs_targets {
  const char *ids[1], *r2[1], *r3[1];
  weft_recipients to_id, to_r2, to_r3, not_it;
} rs_targets;

static inline void rs_targets_init(rs_targets *x, const char *id) {
  x->ids[0] = id;
  x->r2[0] = "r2";
  x->r3[0] = "r3";
  weft_recipients to_id = {sizeof(to_id), NULL, 0, x->ids, 1, NULL, 0};
  weft_recipients to_r2 = {sizeof(to_r2), x->r2, 1, NULL, 0, NULL, 0};
  weft_recipients to_r3 = {sizeof(to_r3), x->r3, 1, NULL, 0, NULL, 0};
  weft_recipients not_it = {sizeof(not_it), NULL, 0, NULL, 0, x->ids, 1};
  x->to_id = to_id;
  x->to_r2 = to_r2;
  x->to_r3 = to_r3;
  x->not_it = not_it;
}

#endif
