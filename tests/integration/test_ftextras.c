/*
 * fast-tcp's extras (issue #20, decision #26), weft's C server and client
 * on one loop: the object serializer is the owner's parser (msgpack objects
 * with binary inside arrive whole over tcp:// and ipc://; a json peer of a
 * msgpack server is closed and delivers nothing), tcps:// with the test
 * certificate and a pre-shared key (a wrong key is refused), the key over
 * ws:// and wss:// (weft_server_set_psk_ws), and the API's errors. A guard timer
 * bounds each run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "weft/weft.h"

#ifndef WEFT_TEST_DATA
#error "WEFT_TEST_DATA must name tests/data"
#endif
#define CERT WEFT_TEST_DATA "/tls/cert.pem"
#define KEY WEFT_TEST_DATA "/tls/key.pem"

typedef struct cfg {
  const char *listen;                        /* the server's URL ("…:0": the port is found) */
  const char *server_parser, *client_parser; /* NULL: json */
  const char *server_key, *client_key;       /* pre-shared keys, NULL: none */
  int psk_ws, tls;
} cfg;

typedef struct run {
  const cfg *c;
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  uv_timer_t guard;
  weft_value *sent, *echo;
  int opened, server_data, status, done;
  char server_error[200], client_error[200];
} run;

static void s_data(weft_spark *sp, const weft_value *msg, void *user) {
  run *r = user;
  r->server_data++;
  weft_spark_write(sp, msg);
}

static void s_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  (void)s, (void)sp;
  run *r = user;
  snprintf(r->server_error, sizeof(r->server_error), "%s: %s", e->kind, e->message);
}

static void finish(run *r) {
  if (r->done) return;
  r->done = 1;
  uv_close((uv_handle_t *)&r->guard, NULL);
  weft_client_destroy(r->client);
  weft_server_destroy(r->server, NULL);
}

static void c_open(weft_client *c, void *user) {
  run *r = user;
  r->opened++;
  assert_int_equal(weft_client_write(c, r->sent), 0);
}

static void c_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  run *r = user;
  r->echo = weft_value_dup(msg);
  finish(r);
}

static void c_error(weft_client *c, const weft_error_info *e, void *user) {
  (void)c;
  run *r = user;
  r->status = e->status;
  snprintf(r->client_error, sizeof(r->client_error), "%s: %s", e->kind,
           e->body ? e->body : e->message);
}

static void c_end(weft_client *c, void *user) {
  (void)c;
  finish(user);
}

static void on_guard(uv_timer_t *t) { finish(t->data); }

/* {"bin": <00 01 02 ff 00>, "list": [1, -2.5, "é 🎉", true, null],
 *  "nested": {"deep": [<binary>, {}]}} */
static weft_value *object(void) {
  static const uint8_t bytes[] = {0, 1, 2, 255, 0};
  weft_value *m = weft_value_new_map(), *list = weft_value_new_array();
  weft_value *nested = weft_value_new_map(), *deep = weft_value_new_array();
  weft_value_array_push(list, weft_value_new_int(1));
  weft_value_array_push(list, weft_value_new_float(-2.5));
  weft_value_array_push(list, weft_value_new_string("\xc3\xa9 \xf0\x9f\x8e\x89", 7));
  weft_value_array_push(list, weft_value_new_bool(1));
  weft_value_array_push(list, weft_value_new_null());
  weft_value_array_push(deep, weft_value_new_binary(bytes, sizeof(bytes)));
  weft_value_array_push(deep, weft_value_new_map());
  weft_value_map_add(nested, "deep", 4, deep);
  weft_value_map_add(m, "bin", 3, weft_value_new_binary(bytes, sizeof(bytes)));
  weft_value_map_add(m, "list", 4, list);
  weft_value_map_add(m, "nested", 6, nested);
  return m;
}

static void go(run *r, const cfg *c) {
  memset(r, 0, sizeof(*r));
  r->c = c;
  r->sent = object();
  signal(SIGPIPE, SIG_IGN);
  assert_int_equal(weft_loop_new(&r->loop), 0);
  assert_int_equal(weft_server_new(r->loop, &r->server), 0);
  weft_server_events sev = {sizeof(sev), NULL, NULL, s_data, NULL, s_error, NULL};
  weft_server_set_events(r->server, &sev, r, NULL);
  if (c->server_parser) assert_int_equal(weft_server_set_parser(r->server, c->server_parser), 0);
  if (c->server_key)
    assert_int_equal(weft_server_set_psk(r->server, c->server_key, strlen(c->server_key)), 0);
  assert_int_equal(weft_server_set_psk_ws(r->server, c->psk_ws), 0);
  if (c->tls) assert_int_equal(weft_server_set_tls(r->server, CERT, KEY), 0);
  assert_int_equal(weft_server_listen(r->server, c->listen), 0);
  assert_int_equal(weft_server_set_psk_ws(r->server, 1), WEFT_ESTATE);
  const char *url = weft_server_url(r->server, 0);
  assert_non_null(url);
  assert_int_equal(weft_client_new(r->loop, url, &r->client), 0);
  weft_client_events cev = {
      .size = sizeof(cev), .open = c_open, .data = c_data, .error = c_error, .end = c_end};
  weft_client_set_events(r->client, &cev, r, NULL);
  weft_client_set_strategy(r->client, "none");
  if (c->client_parser) assert_int_equal(weft_client_set_parser(r->client, c->client_parser), 0);
  if (c->client_key)
    assert_int_equal(weft_client_set_psk(r->client, c->client_key, strlen(c->client_key)), 0);
  if (c->tls) assert_int_equal(weft_client_set_ca_file(r->client, CERT), 0);
  assert_int_equal(weft_client_open(r->client), 0);
  uv_timer_init(weft_loop_uv(r->loop), &r->guard);
  r->guard.data = r;
  uv_timer_start(&r->guard, on_guard, 10000, 0);
  assert_int_equal(weft_loop_run(r->loop), 0);
  assert_int_equal(weft_loop_close(r->loop), 0);
}

static void done(run *r) {
  weft_value_free(r->sent);
  weft_value_free(r->echo);
}

/* The object came back whole, its binary still binary. */
static void assert_echoed(run *r) {
  assert_int_equal(r->opened, 1);
  assert_int_equal(r->server_data, 1);
  assert_non_null(r->echo);
  assert_int_equal(weft_value_equal(r->sent, r->echo), 1);
  assert_int_equal(weft_value_type(weft_value_map_get(r->echo, "bin", 3)), WEFT_BINARY);
  done(r);
}

/* Refused before opening: nothing reached the server's application. */
static void assert_refused(run *r, const char *why) {
  assert_int_equal(r->opened, 0);
  assert_int_equal(r->server_data, 0);
  assert_int_equal(r->status, 401);
  assert_non_null(strstr(r->client_error, why));
  done(r);
}

static void test_msgpack_objects(void **state) {
  (void)state;
  char dir[] = "/tmp/weft-ftx-XXXXXX", ipc[128];
  assert_non_null(mkdtemp(dir));
  snprintf(ipc, sizeof(ipc), "ipc://%s/s.sock", dir);
  run r;
  cfg tcp = {.listen = "tcp://127.0.0.1:0", .server_parser = "msgpack", .client_parser = "msgpack"};
  go(&r, &tcp);
  assert_echoed(&r);
  cfg unix_ = {.listen = ipc, .server_parser = "msgpack", .client_parser = "msgpack"};
  go(&r, &unix_);
  assert_echoed(&r);
  /* json (the default) keeps working, binary in an object aside */
  cfg json = {.listen = "tcp://127.0.0.1:0"};
  go(&r, &json);
  assert_int_equal(r.server_data, 1);
  assert_non_null(r.echo);
  done(&r);
  snprintf(ipc, sizeof(ipc), "%s/s.sock", dir);
  unlink(ipc);
  rmdir(dir);
}

/* The serializers must match: a json client's object is not msgpack. */
static void test_serializer_mismatch(void **state) {
  (void)state;
  run r;
  cfg c = {.listen = "tcp://127.0.0.1:0", .server_parser = "msgpack"};
  go(&r, &c);
  assert_int_equal(r.server_data, 0);
  assert_null(r.echo);
  assert_non_null(strstr(r.server_error, "object data that is not msgpack"));
  done(&r);
}

/* A keyed msgpack pair on `url` (tls: with the test certificate) echoes;
 * the same with the client's key replaced by `other` is refused (`why`). */
static void keyed(const char *url, int tls, int psk_ws, const char *other, const char *why) {
  run r;
  cfg right = {.listen = url,
               .tls = tls,
               .psk_ws = psk_ws,
               .server_key = "a shared secret",
               .client_key = "a shared secret",
               .server_parser = "msgpack",
               .client_parser = "msgpack"};
  go(&r, &right);
  assert_echoed(&r);
  right.client_key = other;
  go(&r, &right);
  assert_refused(&r, why);
}

static void test_tcps_psk(void **state) {
  (void)state;
  keyed("tcps://127.0.0.1:0", 1, 0, "another secret", "authentication failed");
}

static void test_ws_psk(void **state) {
  (void)state;
  keyed("ws://127.0.0.1:0/primus", 0, 1, NULL, "requires a pre-shared key");
  keyed("wss://127.0.0.1:0/primus", 1, 1, "another secret", "authentication failed");
}

static void test_api_errors(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  weft_client *c;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_set_psk_ws(NULL, 1), WEFT_EINVAL);
  /* engine.io has no handshake for the key */
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_set_transformer(s, "engine.io"), 0);
  assert_int_equal(weft_server_set_psk(s, "k", 1), 0);
  assert_int_equal(weft_server_set_psk_ws(s, 1), 0);
  assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:0/primus"), WEFT_EUNSUPPORTED);
  assert_int_equal(weft_server_listen(s, "tcp://127.0.0.1:0"), 0); /* fast-tcp has it */
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_client_new(loop, "ws://127.0.0.1:9/primus", &c), 0);
  assert_int_equal(weft_client_set_transformer(c, "engine.io"), 0);
  assert_int_equal(weft_client_set_psk(c, "k", 1), 0);
  assert_int_equal(weft_client_open(c), WEFT_EUNSUPPORTED);
  weft_client_destroy(c);
  /* tcps:// needs the certificate */
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_listen(s, "tcps://127.0.0.1:0"), WEFT_EINVAL);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_msgpack_objects), cmocka_unit_test(test_serializer_mismatch),
      cmocka_unit_test(test_tcps_psk),        cmocka_unit_test(test_ws_psk),
      cmocka_unit_test(test_api_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
