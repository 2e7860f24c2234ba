/*
 * Parsers the application registers (weft_server_set_parser_def,
 * weft_client_set_parser_def), through a real server on 127.0.0.1: a C
 * server and a C client both speak "xor" (JSON with every byte xor 0x5a, in
 * binary frames), for 400 ms of 100 ms pings: they go through it, the
 * client answers them and the spark stays, and neither side sees a ping or
 * a pong as data; a frame the decoder refuses is an error event
 * of kind "xor" and the spark stays; free_user runs once per parser; bad
 * definitions and late calls are refused.
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

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  int encodes, decodes, frees;
  int got_server, got_client, errors;
  int control_as_data;  /* primus:: strings delivered as data (must stay 0) */
  int ending, dropped;  /* the client ends itself; a disconnection before that */
  struct fx *server_fx; /* the client's fixture: the server's */
  uv_timer_t timer;
  char error_kind[16];
} fx;

static void xor_bytes(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] ^= 0x5a;
}

static int xor_encode(const weft_value *v, uint8_t **data, size_t *len, int *binary, void *user) {
  ((fx *)user)->encodes++;
  int rc = weft_value_encode("json", v, data, len);
  if (rc == 0) xor_bytes(*data, *len);
  *binary = 1;
  return rc;
}

static int xor_decode(const void *data, size_t len, int binary, weft_value **out, void *user) {
  ((fx *)user)->decodes++;
  if (!binary) return WEFT_EPARSE; /* this parser reads binary frames only */
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return WEFT_ENOMEM;
  memcpy(copy, data, len);
  xor_bytes(copy, len);
  int rc = weft_value_decode("json", copy, len, out, NULL);
  free(copy);
  return rc;
}

static void count_free(void *user) { ((fx *)user)->frees++; }

static const weft_parser_def XOR = {.name = "xor",
                                    .binary = 1,
                                    .encode = xor_encode,
                                    .decode = xor_decode,
                                    .free_user = count_free};

static int is_int(const weft_value *m, const char *key, int64_t want) {
  int64_t got = 0;
  return weft_value_get_int(weft_value_map_get(m, key, strlen(key)), &got) == 0 && got == want;
}

static int is_control(const weft_value *m) {
  const char *t;
  size_t n;
  return weft_value_get_string(m, &t, &n) == 0 && n >= 8 && memcmp(t, "primus::", 8) == 0;
}

static void on_disconnection(weft_spark *sp, void *user) {
  fx *f = user;
  (void)sp;
  if (!f->ending) f->dropped++;
}

static void on_server_data(weft_spark *sp, const weft_value *msg, void *user) {
  fx *f = user;
  (void)sp;
  f->control_as_data += is_control(msg);
  if (!is_int(msg, "n", 1)) return;
  f->got_server++;
  weft_value *v = weft_value_new_map();
  weft_value_map_add(v, "n", 1, weft_value_new_int(2));
  weft_server_write(f->server, v); /* a broadcast: encoded once */
  weft_value_free(v);
}

static void on_server_error(weft_server *s, weft_spark *sp, const weft_error_info *err,
                            void *user) {
  fx *f = user;
  (void)s, (void)sp;
  /* Only the parser's errors count here. */
  if (!err->kind || strcmp(err->kind, "xor") != 0) return;
  f->errors++;
  snprintf(f->error_kind, sizeof(f->error_kind), "%s", err->kind);
}

static void on_client_open(weft_client *c, void *user) {
  (void)user;
  /* A text frame the xor decoder refuses, then a message it reads. */
  weft_client_write_raw(c, "\"text\"", 6, 0);
  weft_value *v = weft_value_new_map();
  weft_value_map_add(v, "n", 1, weft_value_new_int(1));
  weft_client_write(c, v);
  weft_value_free(v);
}

static void on_later(uv_timer_t *t) {
  fx *f = t->data; /* the client's */
  f->ending = f->server_fx->ending = 1;
  uv_close((uv_handle_t *)t, NULL);
  weft_client_end(f->client, NULL);
  weft_server_destroy(f->server, NULL);
}

static void on_client_data(weft_client *c, const weft_value *msg, void *user) {
  fx *f = user;
  f->control_as_data += is_control(msg);
  if (!is_int(msg, "n", 2)) return;
  f->got_client++;
  f->client = c; /* four pings later, the end */
  uv_timer_init(weft_loop_uv(weft_client_loop(c)), &f->timer);
  f->timer.data = f;
  uv_timer_start(&f->timer, on_later, 400, 0);
}

static void on_client_end(weft_client *c, void *user) {
  (void)user;
  weft_client_destroy(c);
}

static void test_xor_both_ways(void **state) {
  (void)state;
  fx f = {0}, fc = {0};
  assert_int_equal(weft_loop_new(&f.loop), 0);
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  weft_server_events ev = {.size = sizeof(ev),
                           .data = on_server_data,
                           .error = on_server_error,
                           .disconnection = on_disconnection};
  assert_int_equal(weft_server_set_events(f.server, &ev, &f, NULL), 0);
  assert_int_equal(weft_server_set_parser_def(f.server, &XOR, &f), 0);
  assert_int_equal(weft_server_set_ping_interval(f.server, 100), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  /* Once listening the parser is fixed; the refused definition's user is not freed. */
  assert_int_equal(weft_server_set_parser_def(f.server, &XOR, &fc), WEFT_ESTATE);
  char url[128];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", weft_server_port(f.server));
  assert_int_equal(weft_client_new(f.loop, url, &f.client), 0);
  assert_int_equal(weft_client_set_parser_def(f.client, &XOR, &fc), 0);
  weft_client_events ce = {
      .size = sizeof(ce), .open = on_client_open, .data = on_client_data, .end = on_client_end};
  fc.server = f.server;
  fc.server_fx = &f;
  assert_int_equal(weft_client_set_events(f.client, &ce, &fc, NULL), 0);
  assert_int_equal(weft_client_open(f.client), 0);
  assert_int_equal(weft_loop_run(f.loop), 0);
  assert_int_equal(weft_loop_close(f.loop), 0);

  assert_int_equal(f.got_server, 1);
  assert_int_equal(fc.got_client, 1);
  assert_int_equal(f.dropped, 0); /* the pings were answered through the parser */
  assert_int_equal(f.control_as_data + fc.control_as_data, 0);
  assert_true(f.encodes >= 4);   /* the broadcast and the pings */
  assert_int_equal(f.errors, 1); /* the text frame, kind "xor"; the spark stayed */
  assert_string_equal(f.error_kind, "xor");
  assert_true(f.encodes >= 1);  /* the broadcast (and any ping) */
  assert_true(f.decodes >= 2);  /* the refused frame, {"n":1} */
  assert_true(fc.encodes >= 1); /* {"n":1} */
  assert_true(fc.decodes >= 1);
  assert_int_equal(f.frees, 1); /* at the server's free */
  assert_int_equal(fc.frees, 1);
}

static int enc_noop(const weft_value *v, uint8_t **d, size_t *n, int *b, void *u) {
  (void)v, (void)d, (void)n, (void)b, (void)u;
  return 0;
}

static void test_bad_definitions(void **state) {
  (void)state;
  fx f = {0};
  weft_loop *loop;
  weft_server *s;
  weft_client *c;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_client_new(loop, "ws://127.0.0.1:1/primus", &c), 0);
  weft_parser_def d = XOR;
  assert_int_equal(weft_server_set_parser_def(NULL, &d, &f), WEFT_EINVAL);
  assert_int_equal(weft_server_set_parser_def(s, NULL, &f), WEFT_EINVAL);
  assert_int_equal(weft_client_set_parser_def(c, NULL, &f), WEFT_EINVAL);
  d.name = "json"; /* a built-in name */
  assert_int_equal(weft_server_set_parser_def(s, &d, &f), WEFT_EINVAL);
  d.name = "";
  assert_int_equal(weft_client_set_parser_def(c, &d, &f), WEFT_EINVAL);
  d.name = NULL;
  assert_int_equal(weft_server_set_parser_def(s, &d, &f), WEFT_EINVAL);
  d = XOR;
  d.decode = NULL;
  assert_int_equal(weft_server_set_parser_def(s, &d, &f), WEFT_EINVAL);
  d = XOR;
  d.encode = NULL;
  assert_int_equal(weft_client_set_parser_def(c, &d, &f), WEFT_EINVAL);
  assert_int_equal(f.frees, 0);
  /* Replacing one frees the one before; the last is freed with its owner. */
  d = XOR;
  d.encode = enc_noop;
  assert_int_equal(weft_server_set_parser_def(s, &d, &f), 0);
  assert_int_equal(weft_server_set_parser_def(s, &XOR, &f), 0);
  assert_int_equal(f.frees, 1);
  assert_int_equal(weft_client_set_parser_def(c, &XOR, &f), 0);
  /* A built-in parser by name afterwards is fine too. */
  assert_int_equal(weft_server_set_parser(s, "msgpack"), 0);
  weft_client_destroy(c);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
  assert_int_equal(f.frees, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xor_both_ways),
      cmocka_unit_test(test_bad_definitions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
