/*
 * Client plugins through a real server on 127.0.0.1: outgoing transforms
 * (client_outgoing) replace, swallow or refuse what weft_client_write()
 * sends, raw writes bypass them, and a plugin whose struct is too short
 * to hold the hook is never called through it (older plugins). Incoming
 * hooks that name the types they look at (incoming_types) are called for
 * those only, on both sides, a replacement asked about by its own type.
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

#include "weft/plugin.h"
#include "weft/weft.h"

#define MAX_GOT 8

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  weft_value *got[MAX_GOT];
  int n_got;
  int short_calls; /* calls through the hook of a too-short struct */
  int rc_drop, rc_fail, rc_wrap, rc_raw;
} fx;

static int is_text(const weft_value *m, const char *s) {
  const char *t;
  size_t len;
  return weft_value_get_string(m, &t, &len) == 0 && len == strlen(s) && memcmp(t, s, len) == 0;
}

/* Registered first: "drop" is swallowed, "fail" refused. */
static int gate(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)rep, (void)user;
  if (is_text(msg, "drop")) return WEFT_SWALLOW;
  return is_text(msg, "fail") ? WEFT_EINVAL : WEFT_PASS;
}

/* Registered second: what passes the gate leaves as {"out": m}. */
static int wrap(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)user;
  *rep = weft_value_new_map();
  weft_value_map_add(*rep, "out", 3, weft_value_dup(msg));
  return WEFT_PASS;
}

static int counted(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)msg, (void)rep;
  ((fx *)user)->short_calls++;
  return WEFT_SWALLOW;
}

static const weft_plugin_ops gate_ops = {.version = WEFT_PLUGIN_VERSION,
                                         .size = sizeof(weft_plugin_ops),
                                         .name = "gate",
                                         .client_outgoing = gate};
static const weft_plugin_ops wrap_ops = {.version = WEFT_PLUGIN_VERSION,
                                         .size = sizeof(weft_plugin_ops),
                                         .name = "wrap",
                                         .client_outgoing = wrap};
/* An older plugin: its size ends before client_outgoing. */
static const weft_plugin_ops short_ops = {.version = WEFT_PLUGIN_VERSION,
                                          .size = offsetof(weft_plugin_ops, client_outgoing),
                                          .name = "short",
                                          .client_outgoing = counted};

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  fx *f = user;
  (void)sp;
  if (f->n_got < MAX_GOT) f->got[f->n_got++] = weft_value_dup(msg);
  if (f->n_got == 2) {
    weft_client_end(f->client, NULL);
    weft_server_destroy(f->server, NULL);
  }
}

static void on_open(weft_client *c, void *user) {
  fx *f = user;
  weft_value *v = weft_value_new_string("drop", 4);
  f->rc_drop = weft_client_write(c, v);
  weft_value_free(v);
  v = weft_value_new_string("fail", 4);
  f->rc_fail = weft_client_write(c, v);
  weft_value_free(v);
  v = weft_value_new_int(7);
  f->rc_wrap = weft_client_write(c, v);
  weft_value_free(v);
  f->rc_raw = weft_client_write_raw(c, "\"raw\"", 5, 0);
}

static void on_end(weft_client *c, void *user) {
  (void)user;
  weft_client_destroy(c);
}

static void test_outgoing_transforms(void **state) {
  (void)state;
  fx f = {0};
  assert_int_equal(weft_loop_new(&f.loop), 0);
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  weft_server_events ev = {.size = sizeof(ev), .data = on_data};
  assert_int_equal(weft_server_set_events(f.server, &ev, &f, NULL), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  char url[128];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", weft_server_port(f.server));
  assert_int_equal(weft_client_new(f.loop, url, &f.client), 0);
  assert_int_equal(weft_client_use(f.client, &short_ops, &f), 0);
  assert_int_equal(weft_client_use(f.client, &gate_ops, &f), 0);
  assert_int_equal(weft_client_use(f.client, &wrap_ops, &f), 0);
  weft_client_events ce = {.size = sizeof(ce), .open = on_open, .end = on_end};
  assert_int_equal(weft_client_set_events(f.client, &ce, &f, NULL), 0);
  assert_int_equal(weft_client_open(f.client), 0);
  assert_int_equal(weft_loop_run(f.loop), 0);
  assert_int_equal(weft_loop_close(f.loop), 0);

  assert_int_equal(f.rc_drop, 0);           /* swallowed: not sent, no error */
  assert_int_equal(f.rc_fail, WEFT_EINVAL); /* refused: the write says so */
  assert_int_equal(f.rc_wrap, 0);
  assert_int_equal(f.rc_raw, 0);
  assert_int_equal(f.short_calls, 0);
  assert_int_equal(f.n_got, 2);
  /* Only the transformed message and the raw one arrived, in order. */
  assert_int_equal(weft_value_type(f.got[0]), WEFT_MAP);
  int64_t out = 0;
  assert_int_equal(weft_value_get_int(weft_value_map_get(f.got[0], "out", 3), &out), 0);
  assert_int_equal(out, 7);
  assert_true(is_text(f.got[1], "raw"));
  for (int i = 0; i < f.n_got; i++)
    weft_value_free(f.got[i]);
}

/* ---- incoming_types ---- */

typedef struct tx {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  int maps, ints, maps2, shorts, cli_maps, got, cli_got;
  weft_type types[4];
  int not_map; /* a maps-only hook was given something else */
} tx;

static int maps_in(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)rep;
  tx *t = user;
  t->maps++;
  t->not_map |= weft_value_type(msg) != WEFT_MAP;
  return WEFT_PASS;
}

static int maps2_in(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)rep;
  tx *t = user;
  t->maps2++;
  t->not_map |= weft_value_type(msg) != WEFT_MAP;
  return WEFT_PASS;
}

/* An int becomes {"was": n}: the next maps-only hook sees the map. */
static int ints_in(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp;
  tx *t = user;
  t->ints++;
  *rep = weft_value_new_map();
  weft_value_map_add(*rep, "was", 3, weft_value_dup(msg));
  return WEFT_PASS;
}

static int shorts_in(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)msg, (void)rep;
  ((tx *)user)->shorts++;
  return WEFT_PASS;
}

static int cli_maps_in(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)rep;
  tx *t = user;
  t->cli_maps++;
  t->not_map |= weft_value_type(msg) != WEFT_MAP;
  return WEFT_PASS;
}

static const weft_plugin_ops maps_ops = {.version = WEFT_PLUGIN_VERSION,
                                         .size = sizeof(weft_plugin_ops),
                                         .name = "maps",
                                         .incoming = maps_in,
                                         .client_incoming = cli_maps_in,
                                         .incoming_types = WEFT_PLUGIN_TYPE(WEFT_MAP)};
static const weft_plugin_ops ints_ops = {.version = WEFT_PLUGIN_VERSION,
                                         .size = sizeof(weft_plugin_ops),
                                         .name = "ints",
                                         .incoming = ints_in,
                                         .incoming_types = WEFT_PLUGIN_TYPE(WEFT_INT)};
static const weft_plugin_ops maps2_ops = {.version = WEFT_PLUGIN_VERSION,
                                          .size = sizeof(weft_plugin_ops),
                                          .name = "maps2",
                                          .incoming = maps2_in,
                                          .incoming_types = WEFT_PLUGIN_TYPE(WEFT_MAP)};
/* An older plugin: its struct ends before incoming_types, which is then
 * every type, whatever the bytes past its size say. */
static const weft_plugin_ops shorts_ops = {.version = WEFT_PLUGIN_VERSION,
                                           .size = offsetof(weft_plugin_ops, incoming_types),
                                           .name = "shorts",
                                           .incoming = shorts_in,
                                           .incoming_types = WEFT_PLUGIN_TYPE(WEFT_MAP)};

static void tx_data(weft_spark *sp, const weft_value *msg, void *user) {
  tx *t = user;
  if (t->got < 4) t->types[t->got] = weft_value_type(msg);
  if (++t->got == 4) {
    weft_value *v = weft_value_new_string("x", 1);
    weft_spark_write(sp, v);
    weft_value_free(v);
    v = weft_value_new_map();
    weft_value_map_add(v, "m", 1, weft_value_new_int(1));
    weft_spark_write(sp, v);
    weft_value_free(v);
  }
}

static void tx_open(weft_client *c, void *user) {
  (void)user;
  weft_value *v = weft_value_new_string("s", 1);
  weft_client_write(c, v);
  weft_value_free(v);
  v = weft_value_new_map();
  weft_value_map_add(v, "k", 1, weft_value_new_int(1));
  weft_client_write(c, v);
  weft_value_free(v);
  v = weft_value_new_int(5);
  weft_client_write(c, v);
  weft_value_free(v);
  v = weft_value_new_array();
  weft_value_array_push(v, weft_value_new_int(1));
  weft_client_write(c, v);
  weft_value_free(v);
}

static void tx_cli_data(weft_client *c, const weft_value *msg, void *user) {
  (void)msg;
  tx *t = user;
  if (++t->cli_got == 2) {
    weft_client_end(c, NULL);
    weft_server_destroy(t->server, NULL);
  }
}

static void test_incoming_types(void **state) {
  (void)state;
  tx t = {0};
  assert_int_equal(weft_loop_new(&t.loop), 0);
  assert_int_equal(weft_server_new(t.loop, &t.server), 0);
  assert_int_equal(weft_server_use(t.server, &maps_ops, &t), 0);
  assert_int_equal(weft_server_use(t.server, &ints_ops, &t), 0);
  assert_int_equal(weft_server_use(t.server, &maps2_ops, &t), 0);
  assert_int_equal(weft_server_use(t.server, &shorts_ops, &t), 0);
  weft_server_events ev = {.size = sizeof(ev), .data = tx_data};
  assert_int_equal(weft_server_set_events(t.server, &ev, &t, NULL), 0);
  assert_int_equal(weft_server_listen(t.server, "ws://127.0.0.1:0/primus"), 0);
  char url[128];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", weft_server_port(t.server));
  assert_int_equal(weft_client_new(t.loop, url, &t.client), 0);
  assert_int_equal(weft_client_use(t.client, &maps_ops, &t), 0);
  weft_client_events ce = {.size = sizeof(ce), .open = tx_open, .data = tx_cli_data, .end = on_end};
  assert_int_equal(weft_client_set_events(t.client, &ce, &t, NULL), 0);
  assert_int_equal(weft_client_open(t.client), 0);
  assert_int_equal(weft_loop_run(t.loop), 0);
  assert_int_equal(weft_loop_close(t.loop), 0);

  assert_int_equal(t.got, 4);
  assert_int_equal(t.types[0], WEFT_STRING);
  assert_int_equal(t.types[1], WEFT_MAP);
  assert_int_equal(t.types[2], WEFT_MAP); /* 5, replaced */
  assert_int_equal(t.types[3], WEFT_ARRAY);
  assert_int_equal(t.maps, 1);   /* {"k":1} */
  assert_int_equal(t.ints, 1);   /* 5 */
  assert_int_equal(t.maps2, 2);  /* {"k":1} and {"was":5} */
  assert_int_equal(t.shorts, 4); /* every message */
  assert_int_equal(t.cli_got, 2);
  assert_int_equal(t.cli_maps, 1); /* {"m":1}, not "x" */
  assert_false(t.not_map);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outgoing_transforms),
      cmocka_unit_test(test_incoming_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
