/*
 * Handle lifetimes: a retained spark, server or client outlives its close,
 * answers every call with WEFT_ECLOSED (NULL or 0 from getters) and is
 * freed by its last release — including releases made inside its own last
 * event. Run under ASan and valgrind with the other C tests, which is what
 * proves no call touches freed memory. A server and a weft client share
 * one loop; each test runs over websockets and over engine.io (whose
 * session keeps the spark's block for it when retained).
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
#include "weft/options.h"

typedef struct fx {
  const char *transformer;
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  weft_spark *spark; /* retained in the connection event */
  weft_rooms *rooms;
  weft_emitter *em;
  int rc_late_emit; /* an emit to the retained spark, from the server's close event */
  char id[64];
  int disconnected, server_closed, client_destroyed;
  int release_in_event; /* release the handles from inside their last events */
  int rc_in_event[3];
  int rc_rooms[4]; /* leave, leave_all, join and an emit from the disconnection event */
} fx;

static void s_connection(weft_spark *sp, void *user) {
  fx *f = user;
  f->spark = sp;
  assert_int_equal(weft_spark_retain(sp), 0);
  snprintf(f->id, sizeof(f->id), "%s", weft_spark_id(sp));
  assert_int_equal(weft_rooms_join(f->rooms, sp, "lobby"), 0);
  weft_spark_end(sp, NULL, 0); /* the server ends it at once */
}

static void s_disconnection(weft_spark *sp, void *user) {
  fx *f = user;
  f->disconnected = 1;
  /* It leaves its rooms by itself: every host reports ECLOSED alike. */
  f->rc_rooms[0] = weft_rooms_leave(f->rooms, sp, "lobby");
  f->rc_rooms[1] = weft_rooms_leave_all(f->rooms, sp);
  f->rc_rooms[2] = weft_rooms_join(f->rooms, sp, "lobby");
  f->rc_rooms[3] =
      weft_emitter_emit(weft_emitter_of_server(f->server), sp, "late", NULL, 0, NULL, NULL);
  if (f->release_in_event) {
    f->rc_in_event[0] = weft_spark_release(sp);
    f->spark = NULL;
  }
}

static void s_close(weft_server *s, void *user) {
  fx *f = user;
  f->server_closed = 1;
  if (f->spark) f->rc_late_emit = weft_emitter_emit(f->em, f->spark, "late", NULL, 0, NULL, NULL);
  if (f->release_in_event) f->rc_in_event[1] = weft_server_release(s);
}

static void c_end(weft_client *c, void *user) {
  fx *f = user;
  weft_client_destroy(c);
  weft_server_destroy(f->server, NULL);
}

static void c_destroy(weft_client *c, void *user) {
  fx *f = user;
  f->client_destroyed = 1;
  if (f->release_in_event) f->rc_in_event[2] = weft_client_release(c);
}

static void run(fx *f) {
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = s_connection,
                           .disconnection = s_disconnection,
                           .close = s_close};
  assert_int_equal(weft_server_set_events(f->server, &ev, f, NULL), 0);
  assert_int_equal(weft_emitter_server(f->server, &f->em), 0);
  assert_int_equal(weft_rooms_server(f->server, &f->rooms), 0);
  assert_int_equal(weft_server_set_transformer(f->server, f->transformer), 0);
  /* The creator's reference is not released here. */
  assert_int_equal(weft_server_release(f->server), WEFT_EINVAL);
  assert_int_equal(weft_server_retain(f->server), 0);
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/primus"), 0);
  char url[128];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", weft_server_port(f->server));
  assert_int_equal(weft_client_new(f->loop, url, &f->client), 0);
  assert_int_equal(weft_client_release(f->client), WEFT_EINVAL);
  assert_int_equal(weft_client_retain(f->client), 0);
  assert_int_equal(weft_client_set_transformer(f->client, f->transformer), 0);
  weft_client_events ce = {.size = sizeof(ce), .end = c_end, .destroy = c_destroy};
  assert_int_equal(weft_client_set_events(f->client, &ce, f, NULL), 0);
  assert_int_equal(weft_client_open(f->client), 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  assert_true(f->disconnected && f->server_closed && f->client_destroyed);
}

/* Every call on the closed handles, then the releases that free them. */
static void retained_after_close(const char *transformer) {
  fx f = {.transformer = transformer};
  run(&f);
  weft_value *v = weft_value_new_string("late", 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(f.rc_rooms[i], WEFT_ECLOSED);
  assert_int_equal(f.rc_late_emit, WEFT_ECLOSED); /* not EINVAL: the spark has no server now */
  /* the spark */
  weft_spark *sp = f.spark;
  assert_int_equal(weft_spark_write(sp, v), WEFT_ECLOSED);
  assert_int_equal(weft_spark_write_raw(sp, "x", 1, 0), WEFT_ECLOSED);
  assert_int_equal(weft_spark_end(sp, NULL, 0), WEFT_ECLOSED);
  assert_int_equal(weft_spark_pause(sp), WEFT_ECLOSED);
  assert_int_equal(weft_spark_resume(sp), WEFT_ECLOSED);
  assert_string_equal(weft_spark_id(sp), f.id);
  assert_null(weft_spark_header(sp, "host"));
  assert_int_equal(weft_spark_header_count(sp), 0);
  assert_null(weft_spark_address(sp));
  assert_null(weft_spark_url(sp));
  assert_null(weft_spark_query(sp, "a"));
  assert_int_equal(weft_spark_buffered_amount(sp), 0);
  assert_null(weft_spark_server(sp));
  assert_int_equal(weft_spark_set_user(sp, &f, NULL), WEFT_ECLOSED);
  assert_null(weft_spark_get_user(sp));
  assert_int_equal(weft_spark_retain(sp), WEFT_ECLOSED);
  /* the server */
  weft_server *s = f.server;
  assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:0/x"), WEFT_ECLOSED);
  assert_int_equal(weft_server_write(s, v), WEFT_ECLOSED);
  assert_int_equal(weft_server_send(s, NULL, v), WEFT_ECLOSED);
  assert_int_equal(weft_server_set_option(s, "max_queue", v), WEFT_ECLOSED);
  assert_int_equal(weft_server_set_max_queue(s, 10), WEFT_ECLOSED);
  assert_int_equal(weft_server_set_parser(s, "json"), WEFT_ECLOSED);
  assert_int_equal(weft_server_port(s), WEFT_ECLOSED);
  assert_null(weft_server_url(s, 0));
  assert_null(weft_server_spark(s, f.id));
  assert_null(weft_server_plugin(s, "weft.rooms"));
  assert_null(weft_rooms_of_server(s));
  assert_int_equal(weft_server_spark_count(s), 0);
  weft_metrics m = {.size = sizeof(m)};
  assert_int_equal(weft_server_metrics(s, &m), WEFT_ECLOSED);
  assert_int_equal(weft_server_destroy(s, NULL), WEFT_ECLOSED);
  assert_int_equal(weft_server_retain(s), WEFT_ECLOSED);
  /* the client */
  weft_client *c = f.client;
  assert_int_equal(weft_client_write(c, v), WEFT_ECLOSED);
  assert_int_equal(weft_client_open(c), WEFT_ECLOSED);
  assert_int_equal(weft_client_set_option(c, "timeout", v), WEFT_ECLOSED);
  assert_int_equal(weft_client_set_timeout(c, 5), WEFT_ECLOSED);
  assert_int_equal(weft_client_state(c), WEFT_ECLOSED);
  assert_null(weft_client_loop(c));
  assert_int_equal(weft_client_destroy(c), WEFT_ECLOSED);
  assert_int_equal(weft_client_retain(c), WEFT_ECLOSED);
  weft_value_free(v);
  /* The loop has nothing left of them: it closes with the handles held. */
  assert_int_equal(weft_loop_close(f.loop), 0);
  assert_int_equal(weft_spark_release(sp), 0);
  assert_int_equal(weft_server_release(s), 0);
  assert_int_equal(weft_client_release(c), 0);
}

static void test_retained_after_close(void **state) {
  (void)state;
  retained_after_close("websockets");
}

static void test_retained_after_close_engineio(void **state) {
  (void)state;
  retained_after_close("engine.io");
}

/* Released from inside their last events: freed after the event returns. */
static void released_in_last_event(const char *transformer) {
  fx f = {.transformer = transformer, .release_in_event = 1};
  run(&f);
  assert_int_equal(f.rc_in_event[0], 0);
  assert_int_equal(f.rc_in_event[1], 0);
  assert_int_equal(f.rc_in_event[2], 0);
  assert_int_equal(weft_loop_close(f.loop), 0);
}

static void test_released_in_last_event(void **state) {
  (void)state;
  released_in_last_event("websockets");
}

static void test_released_in_last_event_engineio(void **state) {
  (void)state;
  released_in_last_event("engine.io");
}

static void test_bad_input(void **state) {
  (void)state;
  assert_int_equal(weft_spark_retain(NULL), WEFT_EINVAL);
  assert_int_equal(weft_spark_release(NULL), WEFT_EINVAL);
  assert_int_equal(weft_server_retain(NULL), WEFT_EINVAL);
  assert_int_equal(weft_server_release(NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_retain(NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_release(NULL), WEFT_EINVAL);
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_retain(s), 0);
  assert_int_equal(weft_server_release(s), 0);
  assert_int_equal(weft_server_release(s), WEFT_EINVAL); /* only the creator's is left */
  assert_int_equal(weft_server_destroy(s, NULL), 0);     /* and that frees it */
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* A client destroyed before it ended: its end event runs inside
 * weft_client_destroy, and a destroy from there is WEFT_ECLOSED (it used
 * to close the client's timers twice). */
static void end_destroys(weft_client *c, void *user) { *(int *)user = weft_client_destroy(c); }

static void test_destroy_from_end_event(void **state) {
  (void)state;
  weft_loop *loop;
  weft_client *c;
  int rc = 1;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_client_new(loop, "ws://127.0.0.1:1/primus", &c), 0);
  weft_client_events ev = {.size = sizeof(ev), .end = end_destroys};
  assert_int_equal(weft_client_set_events(c, &ev, &rc, NULL), 0);
  assert_int_equal(weft_client_destroy(c), 0);
  assert_int_equal(rc, WEFT_ECLOSED);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retained_after_close),
      cmocka_unit_test(test_retained_after_close_engineio),
      cmocka_unit_test(test_released_in_last_event),
      cmocka_unit_test(test_released_in_last_event_engineio),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_destroy_from_end_event),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
