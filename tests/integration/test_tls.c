/*
 * wss://: a weft server with the test certificate (tests/data/tls) and weft
 * clients on the same loop: a trusting client echoes; a client that trusts
 * only the system store refuses the self-signed certificate with a clear
 * error; a client reaching the server under a name the certificate does not
 * carry refuses it too; bad files are errors, not crashes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "weft/weft.h"

#ifndef WEFT_TEST_DATA
#error "WEFT_TEST_DATA must name tests/data"
#endif
#define CERT WEFT_TEST_DATA "/tls/cert.pem"
#define KEY WEFT_TEST_DATA "/tls/key.pem"

typedef struct fix {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  uv_timer_t guard;
  int opened, ended, destroyed, server_closed, echoes, tls_errors;
  char error[256];
  char id[64], spark_id[64];
} fix;

static void s_data(weft_spark *sp, const weft_value *msg, void *user) {
  fix *f = user;
  snprintf(f->spark_id, sizeof(f->spark_id), "%s", weft_spark_id(sp));
  weft_spark_write(sp, msg);
}

static void s_close(weft_server *s, void *user) {
  (void)s;
  ((fix *)user)->server_closed = 1;
}

static void s_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  fix *f = user;
  (void)s, (void)sp;
  if (strcmp(e->kind, "tls") == 0) f->tls_errors++;
}

static void finish(fix *f) {
  uv_close((uv_handle_t *)&f->guard, NULL);
  if (f->client) weft_client_destroy(f->client);
  if (f->server && !f->server_closed) weft_server_destroy(f->server, NULL);
}

static void c_open(weft_client *c, void *user) {
  fix *f = user;
  f->opened++;
  weft_value *v = weft_value_new_map();
  weft_value_map_add(v, "secure", 6, weft_value_new_bool(1));
  weft_client_write(c, v);
  weft_value_free(v);
  weft_client_id(c);
}

static void c_data(weft_client *c, const weft_value *msg, void *user) {
  fix *f = user;
  (void)c;
  if (weft_value_type(weft_value_map_get(msg, "secure", 6)) == WEFT_BOOL) f->echoes++;
  if (f->echoes && f->id[0]) weft_client_end(c, NULL);
}

static void c_id(weft_client *c, const char *id, void *user) {
  fix *f = user;
  snprintf(f->id, sizeof(f->id), "%s", id);
  if (f->echoes) weft_client_end(c, NULL);
}

static void c_error(weft_client *c, const weft_error_info *e, void *user) {
  fix *f = user;
  (void)c;
  snprintf(f->error, sizeof(f->error), "%s: %s", e->kind, e->message);
}

static void c_end(weft_client *c, void *user) {
  (void)c;
  fix *f = user;
  f->ended++;
  finish(f);
  f->client = NULL;
}

static void c_destroy(weft_client *c, void *user) {
  (void)c;
  ((fix *)user)->destroyed++;
}

static void on_guard(uv_timer_t *t) {
  fix *f = t->data;
  snprintf(f->error, sizeof(f->error), "timed out");
  finish(f);
  f->client = NULL;
}

/* Runs one client against a fresh wss server; `host` is what the client
 * calls the server. */
static void run(fix *f, const char *host, const char *ca_file, int verify) {
  signal(SIGPIPE, SIG_IGN);
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events sev = {sizeof(sev), NULL, NULL, s_data, NULL, s_error, s_close};
  weft_server_set_events(f->server, &sev, f, NULL);
  assert_int_equal(weft_server_listen(f->server, "wss://127.0.0.1:0/primus"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_tls(f->server, CERT, KEY), 0);
  assert_int_equal(weft_server_listen(f->server, "wss://127.0.0.1:0/primus"), 0);
  char url[128];
  snprintf(url, sizeof(url), "wss://%s:%d/primus", host, weft_server_port(f->server));
  assert_int_equal(weft_client_new(f->loop, url, &f->client), 0);
  weft_client_events cev = {.size = sizeof(cev),
                            .open = c_open,
                            .data = c_data,
                            .error = c_error,
                            .end = c_end,
                            .id = c_id,
                            .destroy = c_destroy};
  weft_client_set_events(f->client, &cev, f, NULL);
  weft_client_set_strategy(f->client, "none");
  if (ca_file) assert_int_equal(weft_client_set_ca_file(f->client, ca_file), 0);
  assert_int_equal(weft_client_set_verify(f->client, verify), 0);
  assert_int_equal(weft_client_open(f->client), 0);
  uv_timer_init(weft_loop_uv(f->loop), &f->guard);
  f->guard.data = f;
  uv_timer_start(&f->guard, on_guard, 10000, 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  assert_int_equal(f->destroyed, 1);
  assert_true(f->server_closed);
  assert_int_equal(weft_loop_close(f->loop), 0);
}

static void test_trusted_echo(void **state) {
  (void)state;
  fix f = {0};
  run(&f, "127.0.0.1", CERT, 1);
  assert_int_equal(f.opened, 1);
  assert_int_equal(f.echoes, 1);
  assert_string_equal(f.id, f.spark_id);
  assert_string_equal(f.error, "");
}

static void test_trusted_by_name(void **state) {
  (void)state;
  fix f = {0};
  run(&f, "localhost", CERT, 1);
  assert_int_equal(f.echoes, 1);
}

static void test_self_signed_refused(void **state) {
  (void)state;
  fix f = {0};
  run(&f, "127.0.0.1", NULL, 1); /* the system store does not know it */
  assert_int_equal(f.opened, 0);
  assert_int_equal(f.ended, 1);
  if (!strstr(f.error, "tls: certificate verify failed")) fail_msg("error was: %s", f.error);
  assert_int_equal(f.tls_errors, 0); /* the server saw a client hang up, nothing worse */
  assert_non_null(strstr(f.error, "self-signed"));
}

static void test_verify_off(void **state) {
  (void)state;
  fix f = {0};
  run(&f, "127.0.0.1", NULL, 0);
  assert_int_equal(f.echoes, 1);
}

static void test_bad_files(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  weft_client *c;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_set_tls(s, NULL, KEY), WEFT_EINVAL);
  assert_int_equal(weft_server_set_tls(s, "/nonexistent.pem", KEY), 0);
  assert_int_equal(weft_server_listen(s, "wss://127.0.0.1:0/"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_tls(s, CERT, CERT), 0); /* not a key */
  assert_int_equal(weft_server_listen(s, "wss://127.0.0.1:0/"), WEFT_EINVAL);
  assert_int_equal(weft_client_new(loop, "wss://127.0.0.1:1/", &c), 0);
  assert_int_equal(weft_client_set_ca_file(c, ""), WEFT_EINVAL);
  assert_int_equal(weft_client_set_ca_file(c, "/nonexistent.pem"), 0);
  assert_int_equal(weft_client_open(c), WEFT_EINVAL);
  assert_int_equal(weft_client_destroy(c), 0);
  assert_int_equal(weft_server_destroy(s, NULL), 0);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trusted_echo),        cmocka_unit_test(test_trusted_by_name),
      cmocka_unit_test(test_self_signed_refused), cmocka_unit_test(test_verify_off),
      cmocka_unit_test(test_bad_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
