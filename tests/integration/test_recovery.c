/*
 * Connection-state recovery (decision #23), the client's half: the
 * weft_rs query parameter of each attempt and the server's answer, over
 * real sockets on 127.0.0.1. The server here is a plain weft server whose
 * handlers speak the server's side of the wire by hand (the answer string,
 * then messages, then an end that lets the client reconnect), so what the
 * client presents on each reconnect is checked exactly.
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
#include <uv.h>

#include "weft/weft.h"

#define CONNS 4

typedef struct rt {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  uv_timer_t guard;
  int recovery; /* the client asks */
  int conns;
  char query[CONNS][128];  /* weft_rs of each connection ("-": none) */
  char target[CONNS][160]; /* its request target */
  char log[1024];          /* the client's events */
  int done;
} rt;

static void logf_(rt *t, const char *fmt, ...) {
  size_t n = strlen(t->log);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->log + n, sizeof(t->log) - n, fmt, ap);
  va_end(ap);
}

static void finish(rt *t) {
  if (t->done) return;
  t->done = 1;
  uv_close((uv_handle_t *)&t->guard, NULL);
  weft_client_destroy(t->client);
  weft_server_destroy(t->server, NULL);
}

static void guard_fired(uv_timer_t *h) {
  rt *t = h->data;
  logf_(t, "TIMEOUT");
  finish(t);
}

static void say(weft_spark *sp, const char *s) {
  weft_value *v = weft_value_new_string(s, strlen(s));
  weft_spark_write(sp, v);
  weft_value_free(v);
}

static void say_int(weft_spark *sp, int64_t i) {
  weft_value *v = weft_value_new_int(i);
  weft_spark_write(sp, v);
  weft_value_free(v);
}

/* Each connection: what the server answers, the messages it sends, then an
 * end without primus::server::close (the client comes back). */
static void s_connection(weft_spark *sp, void *user) {
  rt *t = user;
  int i = t->conns++;
  const char *q = weft_spark_query(sp, "weft_rs");
  if (i < CONNS) {
    snprintf(t->query[i], sizeof(t->query[i]), "%s", q ? q : "-");
    snprintf(t->target[i], sizeof(t->target[i]), "%s", weft_spark_url(sp));
  }
  if (!t->recovery) {
    if (i == 0) { /* an answer to a client that did not ask is its data */
      say(sp, "primus::weft::rs::0:x:y");
      weft_spark_end(sp, NULL, WEFT_END_RECONNECT);
    } else {
      finish(t);
    }
    return;
  }
  switch (i) {
  case 0: /* a fresh session; an id holding a colon and a dot */
    say(sp, "primus::weft::rs::0:sp:1.d:TOK0");
    for (int k = 1; k <= 3; k++)
      say_int(sp, k);
    weft_spark_end(sp, NULL, WEFT_END_RECONNECT);
    break;
  case 1: /* malformed answers are ignored; then the session resumed */
    say(sp, "primus::weft::rs::2:x:TOK");
    say(sp, "primus::weft::rs::1:x:bad token");
    say(sp, "primus::weft::rs::1::TOK");
    say(sp, "primus::weft::rs::1:sp:1.d:TOK1");
    say_int(sp, 4);
    weft_spark_end(sp, NULL, WEFT_END_RECONNECT);
    break;
  case 2: /* refused: a fresh spark, the count starts again */
    say(sp, "primus::weft::rs::0:fresh:TOK2");
    say_int(sp, 5);
    weft_spark_end(sp, NULL, WEFT_END_RECONNECT);
    break;
  default: finish(t);
  }
}

static void c_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  rt *t = user;
  int64_t i;
  if (weft_value_get_int(msg, &i) == 0)
    logf_(t, "d%lld,", (long long)i);
  else
    logf_(t, "s,");
}

static void c_error(weft_client *c, const weft_error_info *e, void *user) {
  (void)c;
  logf_(user, "E:%s,", e->kind ? e->kind : "?");
}

static void c_open(weft_client *c, void *user) { logf_(user, "open%d,", weft_client_recovered(c)); }

static void c_recovery(weft_client *c, int recovered, const char *id, void *user) {
  logf_(user, "r%d:%s:%d,", recovered, id, weft_client_recovered(c));
}

/* The log is `want`, then maybe the last connection's open, which races
 * the teardown the server's connection event starts. */
static void assert_log(const rt *t, const char *want) {
  size_t n = strlen(want);
  assert_memory_equal(t->log, want, n);
  if (strcmp(t->log + n, "") != 0) assert_string_equal(t->log + n, "open0,");
}

static void run(rt *t) {
  assert_int_equal(weft_loop_new(&t->loop), 0);
  assert_int_equal(weft_server_new(t->loop, &t->server), 0);
  weft_server_events sev = {.size = sizeof(sev), .connection = s_connection};
  assert_int_equal(weft_server_set_events(t->server, &sev, t, NULL), 0);
  assert_int_equal(weft_server_listen(t->server, "ws://127.0.0.1:0/primus"), 0);
  char url[96];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus?x=1", weft_server_port(t->server));
  assert_int_equal(weft_client_new(t->loop, url, &t->client), 0);
  weft_client_events cev = {.size = sizeof(cev), .open = c_open, .data = c_data, .error = c_error};
  assert_int_equal(weft_client_set_events(t->client, &cev, t, NULL), 0);
  assert_int_equal(weft_client_set_reconnect(t->client, 10, 40, 10, 2.0), 0);
  if (t->recovery) assert_int_equal(weft_client_set_recovery(t->client, 1, c_recovery, t), 0);
  assert_int_equal(weft_client_recovered(t->client), 0);
  assert_int_equal(uv_timer_init(weft_loop_uv(t->loop), &t->guard), 0);
  t->guard.data = t;
  uv_timer_start(&t->guard, guard_fired, 10000, 0);
  assert_int_equal(weft_client_open(t->client), 0);
  /* Too late once started. */
  assert_int_equal(weft_client_set_recovery(t->client, 1, NULL, NULL), WEFT_ESTATE);
  weft_loop_run(t->loop);
  assert_int_equal(weft_loop_close(t->loop), 0);
}

static void test_resume_parameter(void **state) {
  (void)state;
  rt t = {.recovery = 1};
  run(&t);
  assert_string_equal(t.query[0], "1");
  assert_string_equal(t.target[0], "/primus?x=1&weft_rs=1");
  /* The id, the token, the count of messages received; the id is
   * percent-encoded (the server splits at the last two dots). */
  assert_string_equal(t.query[1], "sp:1.d.TOK0.3");
  assert_string_equal(t.target[1], "/primus?x=1&weft_rs=sp%3A1%2Ed.TOK0.3");
  assert_string_equal(t.query[2], "sp:1.d.TOK1.4");
  assert_string_equal(t.query[3], "fresh.TOK2.1");
  assert_log(&t, "open0,r0:sp:1.d:0,d1,d2,d3,"
                 "open0,E:protocol,E:protocol,E:protocol,r1:sp:1.d:1,d4,"
                 "open0,r0:fresh:0,d5,");
}

static void test_no_recovery(void **state) {
  (void)state;
  rt t = {.recovery = 0};
  run(&t);
  assert_string_equal(t.query[0], "-");
  assert_string_equal(t.query[1], "-");
  assert_string_equal(t.target[1], "/primus?x=1");
  assert_log(&t, "open0,s,");
}

static void test_bad_calls(void **state) {
  (void)state;
  assert_int_equal(weft_client_set_recovery(NULL, 1, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_recovered(NULL), WEFT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_parameter),
      cmocka_unit_test(test_no_recovery),
      cmocka_unit_test(test_bad_calls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
