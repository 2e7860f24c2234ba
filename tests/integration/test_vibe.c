/*
 * weft's C client and server speaking Vibe (issue #21) on one loop, over
 * ws, httpstream and httplongpoll: acks resolved and rejected both ways,
 * then either the client ends (an orderly close: over HTTP the client tells
 * the server with when=abort and keeps its stream or poll until that is
 * answered, so the server hears the disconnection) or the server goes (the
 * client hears its close and ends). The loop must end with nothing left
 * open; a guard timer bounds each run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <string.h>
#include <uv.h>

#include "weft/ext.h"
#include "weft/weft.h"

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  weft_emitter *cem, *sem;
  uv_timer_t guard;
  int server_goes; /* 1: the server ends it; 0: the client */
  int opened, sum, bad, asked, answers, disconnections, closes, ends, guard_fired, done;
} fx;

static weft_value *one(weft_value *v) {
  weft_value *args = weft_value_new_array();
  weft_value_array_push(args, v);
  return args;
}

/* The server's "sum": an array of ints resolves to their sum, else "no". */
static void on_sum(const weft_event *ev, void *user) {
  (void)user;
  const weft_value *a = weft_value_array_at(ev->args, 0);
  int64_t s = 0, v;
  int ok = weft_value_type(a) == WEFT_ARRAY;
  for (size_t i = 0; ok && i < weft_value_len(a); i++)
    if (weft_value_get_int(weft_value_array_at(a, i), &v) == 0) s += v;
  weft_value *r = ok ? weft_value_new_int(s) : weft_value_new_string("no", 2);
  if (ok)
    weft_reply_resolve(ev->reply, r);
  else
    weft_reply_reject(ev->reply, r);
  weft_value_free(r);
}

static void stop(fx *f) {
  if (f->done) return;
  f->done = 1;
  uv_close((uv_handle_t *)&f->guard, NULL);
  weft_client_destroy(f->client);
  weft_server_destroy(f->server, NULL);
}

/* Every answer is in: one side ends it. */
static void answered(fx *f) {
  if (++f->answers < 3) return;
  if (f->server_goes)
    weft_server_destroy(f->server, NULL), f->server = NULL;
  else
    assert_int_equal(weft_client_end(f->client, NULL), 0);
}

static void on_server_ack(const weft_ack *ack, void *user) {
  fx *f = user;
  int64_t v = 0;
  if (ack->status == 0 && weft_value_get_int(ack->value, &v) == 0 && v == 14) f->asked++;
  answered(f);
}

/* The client's "hello": the server asks it back. */
static void on_hello(const weft_event *ev, void *user) {
  fx *f = user;
  weft_value *args = one(weft_value_new_int(7));
  assert_int_equal(weft_emitter_emit(f->sem, ev->spark, "ask", args, 0, on_server_ack, f), 0);
  weft_value_free(args);
}

static void on_ask(const weft_event *ev, void *user) {
  (void)user;
  int64_t v = 0;
  weft_value_get_int(weft_value_array_at(ev->args, 0), &v);
  weft_value *r = weft_value_new_int(v * 2);
  weft_reply_resolve(ev->reply, r);
  weft_value_free(r);
}

static void on_sum_ack(const weft_ack *ack, void *user) {
  fx *f = user;
  int64_t v = 0;
  if (ack->status == 0 && weft_value_get_int(ack->value, &v) == 0 && v == 42) f->sum++;
  answered(f);
}

static void on_bad_ack(const weft_ack *ack, void *user) {
  fx *f = user;
  const char *s = NULL;
  size_t n = 0;
  if (ack->status == WEFT_EREJECTED && weft_value_get_string(ack->value, &s, &n) == 0 && n == 2 &&
      memcmp(s, "no", 2) == 0)
    f->bad++;
  answered(f);
}

static void on_open(weft_client *c, void *user) {
  (void)c;
  fx *f = user;
  f->opened++;
  weft_value *nums = weft_value_new_array();
  weft_value_array_push(nums, weft_value_new_int(1));
  weft_value_array_push(nums, weft_value_new_int(2));
  weft_value_array_push(nums, weft_value_new_int(39));
  weft_value *args = one(nums);
  assert_int_equal(weft_emitter_emit(f->cem, NULL, "sum", args, 0, on_sum_ack, f), 0);
  weft_value_free(args);
  args = one(weft_value_new_string("x", 1));
  assert_int_equal(weft_emitter_emit(f->cem, NULL, "sum", args, 0, on_bad_ack, f), 0);
  weft_value_free(args);
  args = weft_value_new_array();
  assert_int_equal(weft_emitter_emit(f->cem, NULL, "hello", args, 0, NULL, NULL), 0);
  weft_value_free(args);
}

static void on_close(weft_client *c, void *user) {
  (void)c;
  ((fx *)user)->closes++;
}

static void on_end(weft_client *c, void *user) {
  (void)c;
  fx *f = user;
  f->ends++;
  if (f->server_goes) stop(f);
}

static void on_disconnection(weft_spark *sp, void *user) {
  (void)sp;
  fx *f = user;
  f->disconnections++;
  if (!f->server_goes) stop(f);
}

static void on_guard(uv_timer_t *t) {
  fx *f = t->data;
  f->guard_fired = 1;
  stop(f);
}

static void run(const char *query, int server_goes) {
  fx f;
  memset(&f, 0, sizeof(f));
  f.server_goes = server_goes;
  assert_int_equal(weft_loop_new(&f.loop), 0);
  uv_timer_init(weft_loop_uv(f.loop), &f.guard);
  f.guard.data = &f;
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  assert_int_equal(weft_server_set_transformer(f.server, "vibe"), 0);
  weft_server_events sev = {.size = sizeof(sev), .disconnection = on_disconnection};
  assert_int_equal(weft_server_set_events(f.server, &sev, &f, NULL), 0);
  assert_int_equal(weft_emitter_server(f.server, &f.sem), 0);
  assert_int_equal(weft_emitter_on(f.sem, "sum", on_sum, &f, NULL), 0);
  assert_int_equal(weft_emitter_on(f.sem, "hello", on_hello, &f, NULL), 0);
  assert_int_equal(weft_server_listen(f.server, "http://127.0.0.1:0/vibe"), 0);
  char url[300];
  snprintf(url, sizeof(url), "%s%s", weft_server_url(f.server, 0), query);
  if (!strncmp(url, "ws:", 3)) memmove(url, url + 2, strlen(url + 2) + 1), memcpy(url, "http", 4);
  assert_int_equal(weft_client_new(f.loop, url, &f.client), 0);
  assert_int_equal(weft_client_set_transformer(f.client, "vibe"), 0);
  assert_int_equal(weft_client_set_reconnect(f.client, 100, 100, 0, 1), 0);
  weft_client_events cev = {.size = sizeof(cev), .open = on_open, .close = on_close, .end = on_end};
  assert_int_equal(weft_client_set_events(f.client, &cev, &f, NULL), 0);
  assert_int_equal(weft_emitter_client(f.client, &f.cem), 0);
  assert_int_equal(weft_emitter_on(f.cem, "ask", on_ask, &f, NULL), 0);
  assert_int_equal(weft_client_open(f.client), 0);
  uv_timer_start(&f.guard, on_guard, 10000, 0);
  weft_loop_run(f.loop);
  assert_int_equal(weft_loop_close(f.loop), 0); /* nothing left open */
  assert_int_equal(f.guard_fired, 0);
  assert_int_equal(f.opened, 1);
  assert_int_equal(f.sum, 1);
  assert_int_equal(f.bad, 1);
  assert_int_equal(f.asked, 1);
  assert_int_equal(f.closes, 1);
  assert_int_equal(f.ends, 1);
  if (!server_goes) assert_int_equal(f.disconnections, 1);
}

static void test_ws(void **state) {
  (void)state;
  run("", 0);
  run("", 1);
}

static void test_httpstream(void **state) {
  (void)state;
  run("?transport=stream", 0);
  run("?transport=stream", 1);
}

static void test_httplongpoll(void **state) {
  (void)state;
  run("?transport=longpoll", 0);
  run("?transport=longpoll", 1);
}

/* A trusted proxy's X-Forwarded-For names the peer of its own request
 * only: on a keep-alive connection the next request's peer is the
 * socket's again (the server re-reads it only then, not per request).
 * Connection A: a poll of no socket with X-Forwarded-For (answered 500,
 * kept alive), then a long-poll open without it: 127.0.0.1. Connection B:
 * an open with it: the proxy's client. */
typedef struct px {
  weft_loop *loop;
  weft_server *server;
  uv_tcp_t tcp[2];
  uv_connect_t creq[2];
  uv_write_t w[2];
  uv_timer_t guard;
  char buf[4096];
  int spoofed, direct, other, guard_fired, done;
} px;

static const char *const px_requests[2] = {
    "GET /vibe?when=poll&id=none HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n"
    "GET /vibe?transport=longpoll&when=open HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /vibe?transport=longpoll&when=open HTTP/1.1\r\nHost: x\r\n"
    "X-Forwarded-For: 203.0.113.9\r\n\r\n"};

static void px_stop(px *p) {
  if (p->done) return;
  p->done = 1;
  uv_close((uv_handle_t *)&p->guard, NULL);
  for (int i = 0; i < 2; i++)
    uv_close((uv_handle_t *)&p->tcp[i], NULL);
  weft_server_destroy(p->server, NULL);
}

static void px_connection(weft_spark *sp, void *user) {
  px *p = user;
  const char *a = weft_spark_address(sp);
  if (a && strcmp(a, "127.0.0.1") == 0)
    p->direct++;
  else if (a && strcmp(a, "203.0.113.9") == 0)
    p->spoofed++;
  else
    p->other++;
  if (p->direct + p->spoofed + p->other == 2) px_stop(p);
}

static void px_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)n;
  px *p = h->data;
  *b = uv_buf_init(p->buf, sizeof(p->buf));
}

static void px_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n < 0) uv_read_stop(s); /* what the server answers is not looked at */
}

static void px_connected(uv_connect_t *c, int status) {
  px *p = c->handle->data;
  int i = c == &p->creq[0] ? 0 : 1;
  assert_int_equal(status, 0);
  uv_buf_t b = uv_buf_init((char *)px_requests[i], (unsigned)strlen(px_requests[i]));
  assert_int_equal(uv_write(&p->w[i], c->handle, &b, 1, NULL), 0);
  assert_int_equal(uv_read_start(c->handle, px_alloc, px_read), 0);
}

static void px_guard(uv_timer_t *t) {
  px *p = t->data;
  p->guard_fired = 1;
  px_stop(p);
}

static void test_proxy_address(void **state) {
  (void)state;
  px p;
  memset(&p, 0, sizeof(p));
  assert_int_equal(weft_loop_new(&p.loop), 0);
  uv_loop_t *uv = weft_loop_uv(p.loop);
  uv_timer_init(uv, &p.guard);
  p.guard.data = &p;
  assert_int_equal(weft_server_new(p.loop, &p.server), 0);
  assert_int_equal(weft_server_set_transformer(p.server, "vibe"), 0);
  assert_int_equal(weft_server_add_trusted_proxy(p.server, "127.0.0.1"), 0);
  weft_server_events sev = {.size = sizeof(sev), .connection = px_connection};
  assert_int_equal(weft_server_set_events(p.server, &sev, &p, NULL), 0);
  assert_int_equal(weft_server_listen(p.server, "http://127.0.0.1:0/vibe"), 0);
  int port = 0;
  assert_int_equal(sscanf(weft_server_url(p.server, 0), "%*[^:]://127.0.0.1:%d", &port), 1);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  for (int i = 0; i < 2; i++) {
    uv_tcp_init(uv, &p.tcp[i]);
    p.tcp[i].data = &p;
    assert_int_equal(
        uv_tcp_connect(&p.creq[i], &p.tcp[i], (const struct sockaddr *)&addr, px_connected), 0);
  }
  uv_timer_start(&p.guard, px_guard, 10000, 0);
  weft_loop_run(p.loop);
  assert_int_equal(weft_loop_close(p.loop), 0); /* nothing left open */
  assert_int_equal(p.guard_fired, 0);
  assert_int_equal(p.direct, 1);
  assert_int_equal(p.spoofed, 1);
  assert_int_equal(p.other, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ws),
      cmocka_unit_test(test_httpstream),
      cmocka_unit_test(test_httplongpoll),
      cmocka_unit_test(test_proxy_address),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
