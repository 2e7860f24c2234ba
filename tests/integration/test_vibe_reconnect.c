/*
 * Vibe under weft's client machinery (issue #21, decision #32), over ws,
 * httpstream and httplongpoll chosen by the client's `transport` option:
 *  - reconnect: the server (the CLI, `weft serve --transformer vibe --mode
 *    echo`) is killed with SIGKILL while the client is open and started
 *    again on the same port 400 ms after the client heard the close; the
 *    client reconnects with backoff (each delay at least
 *    reconnect_min * factor^(attempt - 1)), and the events emitted while it
 *    was down (at the close, and after a failed attempt) are sent on the
 *    new connection and echoed once each, in order.
 *  - heartbeat: a server whose vibe_heartbeat is 400 ms (set while
 *    listening) tells it in its handshake ("?heartbeat=400&_heartbeat=150",
 *    read by a raw long-poll socket, which sends no heartbeat and is closed)
 *    and keeps a quiet weft client's socket for 1.5 s: the client beats as
 *    the handshake says.
 * A guard timer bounds each run; the servers started are stopped by PID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <string.h>
#include <uv.h>

#include "http/fetch.h"
#include "procs.h"
#include "weft/ext.h"
#include "weft/options.h"
#include "weft/weft.h"

#ifndef WEFT_CLI
#define WEFT_CLI "weft"
#endif

#define N_DOWN 5 /* events emitted while the server is down */

typedef struct fx {
  weft_loop *loop;
  weft_client *client;
  weft_emitter *em;
  uv_timer_t guard, restart, grace;
  pid_t server;
  int port;
  int opened, closes, scheduled, bad_delay, emitted, got[16], n_got, done, guard_fired;
} fx;

static void serve(fx *f) {
  char port[16], url[64];
  snprintf(port, sizeof(port), "%d", f->port);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/vibe", f->port);
  char *argv[] = {WEFT_CLI, "serve",  "--listen", url, "--transformer",
                  "vibe",   "--mode", "echo",     NULL};
  f->server = spawn(argv, f->port);
  assert_true(f->server > 0);
}

static void emit_next(fx *f) {
  weft_value *args = weft_value_new_array();
  weft_value_array_push(args, weft_value_new_int(f->emitted++));
  assert_int_equal(weft_emitter_emit(f->em, NULL, "n", args, 0, NULL, NULL), 0);
  weft_value_free(args);
}

static void finish(fx *f) {
  if (f->done) return;
  f->done = 1;
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->restart, NULL);
  uv_close((uv_handle_t *)&f->grace, NULL);
  weft_client_destroy(f->client);
}

static void on_grace(uv_timer_t *t) { finish(t->data); }

/* The echo of event n. */
static void on_n(const weft_event *ev, void *user) {
  fx *f = user;
  int64_t v = -1;
  weft_value_get_int(weft_value_array_at(ev->args, 0), &v);
  if (f->n_got < 16) f->got[f->n_got] = (int)v;
  f->n_got++;
  if (f->n_got == 1) stop(&f->server, SIGKILL); /* the first came back: kill the server */
  if (f->n_got == 1 + N_DOWN) uv_timer_start(&f->grace, on_grace, 200, 0); /* no more may come */
}

static void on_open(weft_client *c, void *user) {
  (void)c;
  fx *f = user;
  if (++f->opened == 1) emit_next(f);
}

static void on_restart(uv_timer_t *t) { serve(t->data); }

static void on_close(weft_client *c, void *user) {
  (void)c;
  fx *f = user;
  if (f->done || ++f->closes != 1) return; /* not the destroy's */
  for (int i = 0; i < 3; i++)              /* down: held for the next connection */
    emit_next(f);
  uv_timer_start(&f->restart, on_restart, 400, 0);
}

static void on_scheduled(weft_client *c, const weft_reconnect_info *info, void *user) {
  (void)c;
  fx *f = user;
  f->scheduled++;
  double floor_ms = fmin(2000.0, 50.0 * pow(2.0, (double)(info->attempt - 1)));
  if (info->delay_ms < floor_ms || info->delay_ms > 2000) f->bad_delay++;
  if (info->attempt == 2) /* after a failed attempt: still down */
    while (f->emitted < 1 + N_DOWN)
      emit_next(f);
}

static void on_guard(uv_timer_t *t) {
  fx *f = t->data;
  f->guard_fired = 1;
  finish(f);
}

static void reconnect_over(const char *transport) {
  fx f;
  memset(&f, 0, sizeof(f));
  assert_int_equal(weft_loop_new(&f.loop), 0);
  uv_loop_t *uv = weft_loop_uv(f.loop);
  uv_timer_init(uv, &f.guard);
  uv_timer_init(uv, &f.restart);
  uv_timer_init(uv, &f.grace);
  f.guard.data = f.restart.data = f.grace.data = &f;
  f.port = free_port();
  serve(&f);
  char url[64], name[32];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/vibe", f.port);
  assert_int_equal(weft_client_new(f.loop, url, &f.client), 0);
  assert_int_equal(weft_client_set_transformer(f.client, "vibe"), 0);
  snprintf(name, sizeof(name), "\"%s\"", transport);
  weft_value *v = NULL;
  assert_int_equal(weft_value_decode("json", name, strlen(name), &v, NULL), 0);
  assert_int_equal(weft_client_set_option(f.client, "transport", v), 0);
  weft_value_free(v);
  assert_int_equal(weft_client_set_reconnect(f.client, 50, 2000, 30, 2), 0);
  weft_client_events ev = {
      .size = sizeof(ev), .open = on_open, .close = on_close, .reconnect_scheduled = on_scheduled};
  assert_int_equal(weft_client_set_events(f.client, &ev, &f, NULL), 0);
  assert_int_equal(weft_emitter_client(f.client, &f.em), 0);
  assert_int_equal(weft_emitter_on(f.em, "n", on_n, &f, NULL), 0);
  assert_int_equal(weft_client_open(f.client), 0);
  uv_timer_start(&f.guard, on_guard, 15000, 0);
  weft_loop_run(f.loop);
  stop(&f.server, SIGTERM);
  assert_int_equal(weft_loop_close(f.loop), 0);
  assert_int_equal(f.guard_fired, 0);
  assert_int_equal(f.opened, 2);
  assert_int_equal(f.closes, 1);
  assert_true(f.scheduled >= 2); /* the first attempt failed: nothing listened yet */
  assert_int_equal(f.bad_delay, 0);
  assert_int_equal(f.emitted, 1 + N_DOWN);
  assert_int_equal(f.n_got, 1 + N_DOWN); /* each once */
  for (int i = 0; i < 1 + N_DOWN; i++)   /* in order */
    assert_int_equal(f.got[i], i);
}

static void test_reconnect_ws(void **state) {
  (void)state;
  reconnect_over("ws");
}
static void test_reconnect_httpstream(void **state) {
  (void)state;
  reconnect_over("httpstream");
}
static void test_reconnect_httplongpoll(void **state) {
  (void)state;
  reconnect_over("httplongpoll");
}

/* ---- the server's heartbeat reaches the client ---- */

typedef struct hb {
  weft_server *server;
  weft_client *client;
  uv_timer_t quiet;
  int opened, closes, disconnections, quiet_done;
  weft_loop *loop;
  weft__url url;
  char handshake[64]; /* what a raw long-poll socket is told first */
} hb;

static void hb_open(weft_client *c, void *user) {
  (void)c;
  ((hb *)user)->opened++;
}
static void hb_close(weft_client *c, void *user) {
  (void)c;
  hb *h = user;
  if (!h->quiet_done) h->closes++; /* not the destroy's */
}
static void hb_gone(weft_spark *sp, void *user) {
  (void)sp;
  hb *h = user;
  if (!h->quiet_done) h->disconnections++; /* not the server's destroy */
}

/* A raw long-poll socket: its first poll's answer is the handshake; it
 * never beats, so the server closes it at vibe_heartbeat. */
static void raw_polled(const weft__http_result *r, void *user) {
  hb *h = user;
  snprintf(h->handshake, sizeof(h->handshake), "%.*s", (int)r->len, r->body ? (char *)r->body : "");
}
static void raw_opened(const weft__http_result *r, void *user) {
  hb *h = user;
  assert_int_equal(r->status, 200);
  assert_true(r->len > 4 && r->len < 60 && !memcmp(r->body, "?id=", 4));
  char target[128];
  snprintf(target, sizeof(target), "/vibe?transport=longpoll&when=poll&id=%.*s", (int)r->len - 4,
           (char *)r->body + 4);
  weft__http_fetch *f;
  assert_int_equal(weft__http_fetch_start(h->loop, &h->url, target, NULL, raw_polled, h, &f), 0);
}
static void hb_quiet(uv_timer_t *t) {
  hb *h = t->data;
  h->quiet_done = 1;
  uv_close((uv_handle_t *)&h->quiet, NULL);
  weft_client_destroy(h->client);
  weft_server_destroy(h->server, NULL);
}

static void heartbeat_over(const char *transport) {
  hb h;
  memset(&h, 0, sizeof(h));
  weft_loop *loop;
  assert_int_equal(weft_loop_new(&loop), 0);
  uv_timer_init(weft_loop_uv(loop), &h.quiet);
  h.quiet.data = &h;
  assert_int_equal(weft_server_new(loop, &h.server), 0);
  assert_int_equal(weft_server_set_transformer(h.server, "vibe"), 0);
  weft_server_events sev = {.size = sizeof(sev), .disconnection = hb_gone};
  assert_int_equal(weft_server_set_events(h.server, &sev, &h, NULL), 0);
  assert_int_equal(weft_server_listen(h.server, "http://127.0.0.1:0/vibe"), 0);
  assert_int_equal(weft_server_set_vibe_heartbeat(h.server, 400, 150), 0); /* while listening */
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/vibe", weft_server_port(h.server));
  h.loop = loop;
  assert_int_equal(weft__url_parse(url, &h.url), 0);
  weft__http_fetch *f;
  assert_int_equal(weft__http_fetch_start(loop, &h.url, "/vibe?transport=longpoll&when=open", NULL,
                                          raw_opened, &h, &f),
                   0);
  assert_int_equal(weft_client_new(loop, url, &h.client), 0);
  assert_int_equal(weft_client_set_transformer(h.client, "vibe"), 0);
  assert_int_equal(weft_client_set_transport(h.client, transport), 0);
  weft_client_events cev = {.size = sizeof(cev), .open = hb_open, .close = hb_close};
  assert_int_equal(weft_client_set_events(h.client, &cev, &h, NULL), 0);
  assert_int_equal(weft_client_open(h.client), 0);
  uv_timer_start(&h.quiet, hb_quiet, 1500, 0);
  weft_loop_run(loop);
  assert_int_equal(weft_loop_close(loop), 0);
  assert_int_equal(h.opened, 1);
  assert_string_equal(h.handshake, "?heartbeat=400&_heartbeat=150");
  assert_int_equal(h.closes, 0);
  assert_int_equal(h.disconnections, 1); /* the raw socket's: the client's deadline never passed */
}

static void test_heartbeat(void **state) {
  (void)state;
  heartbeat_over("ws");
  heartbeat_over("httpstream");
  heartbeat_over("httplongpoll");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reconnect_ws),
      cmocka_unit_test(test_reconnect_httpstream),
      cmocka_unit_test(test_reconnect_httplongpoll),
      cmocka_unit_test(test_heartbeat),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
