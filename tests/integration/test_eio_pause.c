/*
 * weft_spark_pause on engine.io sparks, through weft's own engine.io
 * client on 127.0.0.1: polling only (the session leaves the peer's next
 * post unread, so it waits) and upgraded to WebSocket. The client writes
 * one message, then one every 20 ms; the server pauses at the first for
 * 400 ms —
 * longer than the session's heartbeat, which must not expire it — and
 * then every message arrives, in order, none while paused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <string.h>
#include <uv.h>

#include "weft/weft.h"

#define N 10

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  weft_spark *spark;
  uv_timer_t writer, resumer;
  int written, got, during_pause, paused, pause_rc, resume_rc, disconnections;
  int64_t order[N];
} fx;

static void write_next(uv_timer_t *t) {
  fx *f = t->data;
  weft_value *v = weft_value_new_int(f->written);
  if (weft_client_write(f->client, v) == 0) f->written++;
  weft_value_free(v);
  if (f->written == N) uv_timer_stop(t);
}

static void resume(uv_timer_t *t) {
  fx *f = t->data;
  f->paused = 0;
  f->resume_rc = weft_spark_resume(f->spark);
}

static void on_open(weft_client *c, void *user) {
  fx *f = user;
  (void)c;
  /* The first goes alone (its own post), the rest 100 ms later. */
  write_next(&f->writer);
  uv_timer_start(&f->writer, write_next, 100, 20);
}

static void on_connection(weft_spark *sp, void *user) { ((fx *)user)->spark = sp; }

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  fx *f = user;
  if (f->paused) f->during_pause++;
  if (f->got < N) weft_value_get_int(msg, &f->order[f->got]);
  if (++f->got == 1) {
    f->paused = 1;
    f->pause_rc = weft_spark_pause(sp);
    uv_timer_start(&f->resumer, resume, 400, 0);
  }
  if (f->got == N) {
    weft_client_end(f->client, NULL);
    weft_server_destroy(f->server, NULL);
  }
}

static void on_disconnection(weft_spark *sp, void *user) {
  (void)sp;
  ((fx *)user)->disconnections++;
}

static void on_end(weft_client *c, void *user) {
  fx *f = user;
  uv_close((uv_handle_t *)&f->writer, NULL);
  uv_close((uv_handle_t *)&f->resumer, NULL);
  weft_client_destroy(c);
}

static void run(const char *transports, uint32_t heartbeat_ms) {
  fx f = {0};
  assert_int_equal(weft_loop_new(&f.loop), 0);
  uv_loop_t *uv = weft_loop_uv(f.loop);
  uv_timer_init(uv, &f.writer);
  uv_timer_init(uv, &f.resumer);
  f.writer.data = f.resumer.data = &f;
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  assert_int_equal(weft_server_set_transformer(f.server, "engine.io"), 0);
  assert_int_equal(weft_server_set_session_heartbeat(f.server, heartbeat_ms, heartbeat_ms), 0);
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = on_connection,
                           .data = on_data,
                           .disconnection = on_disconnection};
  assert_int_equal(weft_server_set_events(f.server, &ev, &f, NULL), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  char url[128];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", weft_server_port(f.server));
  assert_int_equal(weft_client_new(f.loop, url, &f.client), 0);
  assert_int_equal(weft_client_set_transformer(f.client, "engine.io"), 0);
  assert_int_equal(weft_client_set_transports(f.client, transports), 0);
  weft_client_events ce = {.size = sizeof(ce), .open = on_open, .end = on_end};
  assert_int_equal(weft_client_set_events(f.client, &ce, &f, NULL), 0);
  assert_int_equal(weft_client_open(f.client), 0);
  assert_int_equal(weft_loop_run(f.loop), 0);
  assert_int_equal(weft_loop_close(f.loop), 0);

  assert_int_equal(f.pause_rc, 0);
  assert_int_equal(f.resume_rc, 0);
  assert_int_equal(f.during_pause, 0);
  assert_int_equal(f.got, N);
  for (int i = 0; i < N; i++)
    assert_int_equal(f.order[i], i);
  assert_int_equal(f.disconnections, 1); /* the spark lived through the pause */
}

static void test_pause_polling(void **state) {
  (void)state;
  /* A heartbeat (100 + 100 ms) shorter than the pause: the session does not
   * expire a paused spark whose pongs wait in its unread post. */
  run("polling", 100);
}

static void test_pause_upgraded(void **state) {
  (void)state;
  /* Upgraded (or upgrading: an engine.io client finishes its post before
   * it upgrades, and hears no ping meanwhile, so the heartbeat here is
   * longer than the pause, as 25 s + 20 s is in production). */
  run("polling,websocket", 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pause_polling),
      cmocka_unit_test(test_pause_upgraded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
