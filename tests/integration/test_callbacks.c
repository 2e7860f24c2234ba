/*
 * nmsg's remote callbacks through the emitter (weft_reply_resolve_cb,
 * weft_ack.reply), a C server and a C client on 127.0.0.1:
 *  - a chain of three callbacks at depths 1, 2 and 3, each called back
 *    across the connection (client, server, client);
 *  - 10000 emits whose depth-2 callback is never called by the client: each
 *    is released (the reply dropped when the ack callback returns, so the
 *    server's callback sees the rejection "no answer"); ASan and valgrind
 *    see no leak;
 *  - callbacks kept and never answered are released at their timeout
 *    (WEFT_ETIMEDOUT) and at the connection's close (WEFT_ECLOSED);
 *  - bad input: NULL reply, an answer carrying a malformed callback id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "weft/ext.h"
#include "weft/weft.h"

#define WINDOW 100
#define KEPT_MAX 64

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  weft_emitter *sem, *cem;
  int mode; /* 0 chain, 1 drop (10k), 2 keep: timeout, 3 keep: close */
  int total, sent, acked;
  int depth[4];    /* depth[n]: callback n was called (with the right value) */
  int released[3]; /* server's depth-2 callbacks: rejected, timed out, closed */
  weft_reply *kept[KEPT_MAX];
  int n_kept;
  int kept_closed; /* answering a kept reply after the close: WEFT_ECLOSED */
  int wire_errors;
} fx;

static int is_str(const weft_value *v, const char *s) {
  const char *t;
  size_t n;
  return v && weft_value_get_string(v, &t, &n) == 0 && n == strlen(s) && memcmp(t, s, n) == 0;
}

static void finish(fx *f) {
  weft_client_end(f->client, NULL);
  weft_server_destroy(f->server, NULL);
}

/* ---- the chain: f1 (client), f2 (server), f3 (client) ---- */

static void f3(const weft_ack *a, void *user) {
  fx *f = user;
  if (a->status == 0 && is_str(a->value, "v3") && !a->reply) f->depth[3]++;
  finish(f);
}

static void f2(const weft_ack *a, void *user) {
  fx *f = user;
  if (a->status == 0 && is_str(a->value, "v2") && a->reply) {
    f->depth[2]++;
    weft_value *v = weft_value_new_string("v3", 2);
    assert_int_equal(weft_reply_resolve(a->reply, v), 0);
    weft_value_free(v);
  }
}

static void f1(const weft_ack *a, void *user) {
  fx *f = user;
  if (a->status != 0 || !is_str(a->value, "v1") || !a->reply) return finish(f);
  f->depth[1]++;
  weft_value *v = weft_value_new_string("v2", 2);
  assert_int_equal(weft_reply_resolve_cb(a->reply, v, WEFT_EMIT_DEFAULT_TIMEOUT, f3, f), 0);
  weft_value_free(v);
}

/* ---- the server's handler and its depth-2 callback in the other modes ---- */

static void server_cb(const weft_ack *a, void *user) {
  fx *f = user;
  if (a->status == WEFT_EREJECTED && is_str(a->value, WEFT_REPLY_DROPPED)) f->released[0]++;
  if (a->status == WEFT_ETIMEDOUT) f->released[1]++;
  if (a->status == WEFT_ECLOSED) f->released[2]++;
  if (f->mode == 1 && f->released[0] == f->total) finish(f);
  if (f->mode == 2 && f->released[1] == f->total) finish(f);
}

static void on_ask(const weft_event *ev, void *user) {
  fx *f = user;
  weft_value *v = weft_value_new_string("v1", 2);
  if (f->mode == 0)
    weft_reply_resolve_cb(ev->reply, v, WEFT_EMIT_DEFAULT_TIMEOUT, f2, f);
  else
    weft_reply_resolve_cb(ev->reply, v, f->mode == 2 ? 30 : 0, server_cb, f);
  weft_value_free(v);
}

static void emit_one(fx *f);

/* The client's depth-1 callback outside the chain: drops or keeps the reply. */
static void client_cb(const weft_ack *a, void *user) {
  fx *f = user;
  f->acked++;
  if (a->status == 0 && a->reply && f->mode >= 2 && f->n_kept < KEPT_MAX) {
    assert_int_equal(weft_reply_keep(a->reply), 0);
    f->kept[f->n_kept++] = a->reply;
  } /* mode 1: ignored, dropped on return */
  if (f->sent < f->total) emit_one(f);
  if (f->mode == 3 && f->acked == f->total) weft_client_end(f->client, NULL);
}

static void emit_one(fx *f) {
  f->sent++;
  int rc = weft_emitter_emit(f->cem, NULL, "ask", NULL, WEFT_EMIT_DEFAULT_TIMEOUT,
                             f->mode == 0 ? f1 : client_cb, f);
  assert_true(rc == 0 || rc == 1);
}

static void on_open(weft_client *c, void *user) {
  fx *f = user;
  if (f->mode == 0) { /* an answer whose callback id is not one: a wire error, then the chain */
    static const char bad[] = "{\"type\":1,\"data\":[null,1],\"id\":7,\"cb\":-1}";
    assert_int_equal(weft_client_write_raw(c, bad, sizeof(bad) - 1, 0), 0);
  }
  for (int i = 0; i < WINDOW && f->sent < f->total; i++)
    emit_one(f);
}

static void on_disconnection(weft_spark *sp, void *user) {
  fx *f = user;
  (void)sp;
  if (f->mode == 3) weft_server_destroy(f->server, NULL);
}

static void answer_kept(fx *f) {
  for (int i = 0; i < f->n_kept; i++) {
    weft_value *v = weft_value_new_string("late", 4);
    if (weft_reply_resolve(f->kept[i], v) == WEFT_ECLOSED) f->kept_closed++;
    weft_value_free(v);
  }
  f->n_kept = 0;
}

static void on_end(weft_client *c, void *user) {
  fx *f = user;
  /* Kept replies answered once the connection is gone: nothing is sent,
   * each is freed (mode 3 answers them after the client is freed, below). */
  if (f->mode != 3) answer_kept(f);
  weft_client_destroy(c);
}

static void on_wire_error(weft_emitter *em, weft_spark *sp, const weft_error_info *e, void *user) {
  (void)em, (void)sp, (void)e;
  ((fx *)user)->wire_errors++;
}

static void run(fx *f) {
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events ev = {.size = sizeof(ev), .disconnection = on_disconnection};
  assert_int_equal(weft_server_set_events(f->server, &ev, f, NULL), 0);
  assert_int_equal(weft_emitter_server(f->server, &f->sem), 0);
  assert_int_equal(weft_emitter_on(f->sem, "ask", on_ask, f, NULL), 0);
  assert_int_equal(weft_emitter_on_error(f->sem, on_wire_error, f, NULL), 0);
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/primus"), 0);
  char url[128];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", weft_server_port(f->server));
  assert_int_equal(weft_client_new(f->loop, url, &f->client), 0);
  assert_int_equal(weft_emitter_client(f->client, &f->cem), 0);
  weft_client_events ce = {.size = sizeof(ce), .open = on_open, .end = on_end};
  assert_int_equal(weft_client_set_events(f->client, &ce, f, NULL), 0);
  assert_int_equal(weft_client_open(f->client), 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  answer_kept(f); /* the client and its emitter are freed: answering only frees them */
  assert_int_equal(weft_loop_close(f->loop), 0);
}

static void test_chain_depths_1_2_3(void **state) {
  (void)state;
  fx f = {.mode = 0, .total = 1};
  run(&f);
  assert_int_equal(f.depth[1], 1);    /* client: the emit's callback */
  assert_int_equal(f.depth[2], 1);    /* server: the callback its answer carried */
  assert_int_equal(f.depth[3], 1);    /* client: the callback the next answer carried */
  assert_int_equal(f.wire_errors, 1); /* the malformed callback id */
}

static void test_10k_dropped_callbacks_released(void **state) {
  (void)state;
  fx f = {.mode = 1, .total = 10000};
  run(&f);
  assert_int_equal(f.acked, 10000);
  assert_int_equal(f.released[0], 10000);
  assert_int_equal(f.released[1] + f.released[2], 0);
}

static void test_kept_callbacks_time_out(void **state) {
  (void)state;
  fx f = {.mode = 2, .total = 50};
  run(&f);
  assert_int_equal(f.released[1], 50); /* the server's callbacks: ETIMEDOUT */
  assert_int_equal(f.kept_closed, 50);
}

static void test_kept_callbacks_closed(void **state) {
  (void)state;
  fx f = {.mode = 3, .total = 50};
  run(&f);
  assert_int_equal(f.released[2], 50); /* no timeout: released at the close */
  assert_int_equal(f.kept_closed, 50);
}

static void test_bad_input(void **state) {
  (void)state;
  assert_int_equal(weft_reply_resolve_cb(NULL, NULL, 0, f1, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reply_keep(NULL), WEFT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain_depths_1_2_3),
      cmocka_unit_test(test_10k_dropped_callbacks_released),
      cmocka_unit_test(test_kept_callbacks_time_out),
      cmocka_unit_test(test_kept_callbacks_closed),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
