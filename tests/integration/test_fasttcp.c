/*
 * weft's C client and server on fast-tcp's wire (issue #20), over tcp://
 * and ipc:// on one loop: nmsg's promise (a client started 2 s before its
 * server emits 100 events, half with acks; all arrive once, in order, and
 * every ack resolves), then the server is destroyed and a new one started
 * on the same address while the client queues 20 more: they arrive once,
 * in order. A guard timer bounds each run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "weft/ext.h"
#include "weft/weft.h"

enum { FIRST = 100, SECOND = 20 };

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  weft_client *client;
  weft_emitter *cem;
  char url[300];
  uv_timer_t guard, later;
  int phase; /* 1: before the server, 2: after the restart */
  int got[FIRST + SECOND], order_bad, dup, received;
  int acks_ok, acks_bad, closes, opens;
  int done;
} fx;

static void on_n(const weft_event *ev, void *user) {
  fx *f = user;
  int64_t i = -1;
  weft_value_get_int(weft_value_array_at(ev->args, 0), &i);
  if (i < 0 || i >= FIRST + SECOND) {
    f->order_bad++;
  } else {
    if (f->got[i]++) f->dup++;
    if (i != f->received) f->order_bad++;
    f->received++;
  }
  if (ev->reply) weft_reply_resolve(ev->reply, weft_value_array_at(ev->args, 0));
}

static void server_start(fx *f) {
  weft_emitter *em;
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  assert_int_equal(weft_emitter_server(f->server, &em), 0);
  assert_int_equal(weft_emitter_on(em, "n", on_n, f, NULL), 0);
  assert_int_equal(weft_server_listen(f->server, f->url), 0);
}

static void on_ack(const weft_ack *ack, void *user) {
  fx *f = *(fx **)user;
  int64_t want = (int64_t)(intptr_t)((void **)user)[1], v = -1;
  if (ack->status == 0 && weft_value_get_int(ack->value, &v) == 0 && v == want)
    f->acks_ok++;
  else
    f->acks_bad++;
  free(user);
}

static void emit_n(fx *f, int i, int with_ack) {
  weft_value *args = weft_value_new_array();
  weft_value_array_push(args, weft_value_new_int(i));
  void **ctx = NULL;
  if (with_ack) {
    ctx = malloc(2 * sizeof(void *));
    ctx[0] = f;
    ctx[1] = (void *)(intptr_t)i;
  }
  int rc = weft_emitter_emit(f->cem, NULL, "n", args, 0, with_ack ? on_ack : NULL, ctx);
  assert_int_equal(rc, 0);
  weft_value_free(args);
}

static void stop_all(fx *f) {
  f->done = 1;
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->later, NULL);
  weft_client_destroy(f->client);
  weft_server_destroy(f->server, NULL);
}

static void check_done(fx *f) {
  if (!f->done && f->received == FIRST + SECOND && f->acks_ok + f->acks_bad == (FIRST + SECOND) / 2)
    stop_all(f);
}

static void on_later(uv_timer_t *t) {
  fx *f = t->data;
  if (f->phase == 1) { /* the server comes 2 s after the client */
    server_start(f);
  } else { /* the second server */
    server_start(f);
  }
}

static void on_open(weft_client *c, void *user) {
  (void)c;
  fx *f = user;
  f->opens++;
}

static void on_close(weft_client *c, void *user) {
  (void)c;
  fx *f = user;
  f->closes++;
  if (f->phase != 2 || f->closes != 1) return;
  /* The first server is gone: queue the rest while nobody listens. */
  for (int i = FIRST; i < FIRST + SECOND; i++)
    emit_n(f, i, i % 2 == 0);
  uv_timer_start(&f->later, on_later, 300, 0);
}

static void on_guard(uv_timer_t *t) {
  fx *f = t->data;
  if (!f->done) stop_all(f);
}

static void poll_progress(fx *f) {
  if (f->phase == 1 && f->received == FIRST && f->acks_ok + f->acks_bad == FIRST / 2) {
    f->phase = 2;
    weft_server_destroy(f->server, NULL);
    f->server = NULL;
  }
  check_done(f);
}

static void on_tick(uv_check_t *h) { poll_progress(h->data); }

static void run(const char *url) {
  fx f;
  memset(&f, 0, sizeof(f));
  snprintf(f.url, sizeof(f.url), "%s", url);
  assert_int_equal(weft_loop_new(&f.loop), 0);
  uv_loop_t *uv = weft_loop_uv(f.loop);
  uv_timer_init(uv, &f.guard);
  uv_timer_init(uv, &f.later);
  f.guard.data = f.later.data = &f;
  uv_check_t check;
  uv_check_init(uv, &check);
  check.data = &f;
  uv_check_start(&check, on_tick);
  uv_unref((uv_handle_t *)&check);
  assert_int_equal(weft_client_new(f.loop, url, &f.client), 0);
  weft_client_events ev;
  memset(&ev, 0, sizeof(ev));
  ev.size = sizeof(ev);
  ev.open = on_open;
  ev.close = on_close;
  assert_int_equal(weft_client_set_events(f.client, &ev, &f, NULL), 0);
  assert_int_equal(weft_client_set_reconnect(f.client, 100, 400, 1000, 1.5), 0);
  assert_int_equal(weft_emitter_client(f.client, &f.cem), 0);
  assert_int_equal(weft_client_open(f.client), 0);
  f.phase = 1;
  for (int i = 0; i < FIRST; i++)
    emit_n(&f, i, i % 2 == 0);
  uv_timer_start(&f.later, on_later, 2000, 0);
  uv_timer_start(&f.guard, on_guard, 20000, 0);
  weft_loop_run(f.loop);
  uv_close((uv_handle_t *)&check, NULL);
  weft_loop_run(f.loop);
  assert_int_equal(weft_loop_close(f.loop), 0);
  assert_int_equal(f.received, FIRST + SECOND);
  assert_int_equal(f.dup, 0);
  assert_int_equal(f.order_bad, 0);
  assert_int_equal(f.acks_ok, (FIRST + SECOND) / 2);
  assert_int_equal(f.acks_bad, 0);
  assert_true(f.opens >= 2);
}

static void test_nmsg_tcp(void **state) {
  (void)state;
  /* A port nobody listens on yet: bound and released. */
  uv_loop_t l;
  uv_loop_init(&l);
  uv_tcp_t t;
  uv_tcp_init(&l, &t);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
  struct sockaddr_in got;
  int len = sizeof(got);
  uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&l, UV_RUN_DEFAULT);
  uv_loop_close(&l);
  char url[64];
  snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ntohs(got.sin_port));
  run(url);
}

static void test_nmsg_ipc(void **state) {
  (void)state;
  char dir[] = "/tmp/weft-ft-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char url[128];
  snprintf(url, sizeof(url), "ipc://%s/s.sock", dir);
  run(url);
  char path[128];
  snprintf(path, sizeof(path), "%s/s.sock", dir);
  unlink(path);
  rmdir(dir);
}

/* ---- misuse of the PSK and routing calls ---- */

static int refuse_all(weft_spark *sp, weft_route *r, void *user) {
  (void)sp, (void)r, (void)user;
  return WEFT_EUNAUTHORIZED;
}

static void test_api_errors(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  weft_client *c;
  weft_emitter *sem, *cem;
  uint8_t key[257] = {1};
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_set_psk(NULL, key, 1), WEFT_EINVAL);
  assert_int_equal(weft_server_set_psk(s, NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_server_set_psk(s, key, 257), WEFT_EINVAL);
  assert_int_equal(weft_server_set_psk(s, key, 256), 0);
  assert_int_equal(weft_server_set_psk(s, NULL, 0), 0);
  assert_int_equal(weft_emitter_server(s, &sem), 0);
  assert_int_equal(weft_emitter_set_route_policy(NULL, refuse_all, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_emitter_set_route_policy(sem, NULL, key, free), WEFT_EINVAL);
  assert_int_equal(weft_emitter_set_route_policy(sem, refuse_all, NULL, NULL), 0);
  assert_int_equal(weft_emitter_set_route_policy(sem, NULL, NULL, NULL), 0);
  weft_route r = {sizeof(r), "ev", NULL, 1, NULL, 0, NULL, 0, 0};
  assert_int_equal(weft_emitter_route(sem, &r), WEFT_EINVAL); /* a server's emitter */
  assert_int_equal(weft_server_listen(s, "tcp://127.0.0.1:0"), 0);
  assert_int_equal(weft_server_set_psk(s, key, 16), WEFT_ESTATE);
  assert_int_equal(weft_client_new(loop, "tcp://127.0.0.1:1", &c), 0);
  assert_int_equal(weft_client_set_psk(c, NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_client_set_psk(c, key, 257), WEFT_EINVAL);
  assert_int_equal(weft_client_set_psk(c, key, 32), 0);
  assert_int_equal(weft_emitter_client(c, &cem), 0);
  assert_int_equal(weft_emitter_set_route_policy(cem, refuse_all, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_emitter_route(cem, NULL), WEFT_EINVAL);
  weft_route bad = r;
  bad.size = 1;
  assert_int_equal(weft_emitter_route(cem, &bad), WEFT_EINVAL);
  bad = r;
  bad.broadcast = 0; /* nobody */
  assert_int_equal(weft_emitter_route(cem, &bad), WEFT_EINVAL);
  bad = r;
  bad.event = "weft::join"; /* reserved */
  assert_int_equal(weft_emitter_route(cem, &bad), WEFT_EINVAL);
  bad = r;
  bad.broadcast = 0;
  bad.n_rooms = 1; /* rooms NULL */
  assert_int_equal(weft_emitter_route(cem, &bad), WEFT_EINVAL);
  assert_int_equal(weft_client_open(c), 0);
  assert_int_equal(weft_client_set_psk(c, key, 32), WEFT_ESTATE);
  weft_client_destroy(c);
  weft_server_destroy(s, NULL);
  weft_loop_run(loop);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* ---- a C client asks for a route: the others get it, not the sender ---- */

typedef struct route_fx {
  weft_loop *loop;
  weft_server *s;
  weft_client *c[3];
  weft_emitter *em[3];
  int opened, got[3], done;
  uv_timer_t guard;
} route_fx;

typedef struct route_who {
  route_fx *f;
  int k;
} route_who;

static void route_got(const weft_event *ev, void *user) {
  route_fx *f = ((route_who *)user)->f;
  (void)ev;
  f->got[((route_who *)user)->k]++;
  if (f->got[1] && f->got[2] && !f->done) {
    f->done = 1;
    for (int k = 0; k < 3; k++)
      weft_client_destroy(f->c[k]);
    weft_server_destroy(f->s, NULL);
    uv_close((uv_handle_t *)&f->guard, NULL);
  }
}

static void route_open(weft_client *c, void *user) {
  route_fx *f = user;
  (void)c;
  if (++f->opened < 3) return;
  weft_value *args = weft_value_new_array();
  weft_value_array_push(args, weft_value_new_int(7));
  weft_route r = {sizeof(r), "hey", args, 1, NULL, 0, NULL, 0, 0};
  assert_int_equal(weft_emitter_route(f->em[0], &r), 0);
  weft_value_free(args);
}

static void route_guard(uv_timer_t *t) {
  route_fx *f = t->data;
  f->done = 1;
  for (int k = 0; k < 3; k++)
    weft_client_destroy(f->c[k]);
  weft_server_destroy(f->s, NULL);
  uv_close((uv_handle_t *)&f->guard, NULL);
}

static void test_client_route(void **state) {
  (void)state;
  route_fx f;
  memset(&f, 0, sizeof(f));
  weft_emitter *sem;
  route_who who[3];
  assert_int_equal(weft_loop_new(&f.loop), 0);
  assert_int_equal(weft_server_new(f.loop, &f.s), 0);
  assert_int_equal(weft_emitter_server(f.s, &sem), 0);
  assert_int_equal(weft_server_listen(f.s, "tcp://127.0.0.1:0"), 0);
  char url[64];
  snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", weft_server_port(f.s));
  for (int k = 0; k < 3; k++) {
    assert_int_equal(weft_client_new(f.loop, url, &f.c[k]), 0);
    weft_client_events ev;
    memset(&ev, 0, sizeof(ev));
    ev.size = sizeof(ev);
    ev.open = route_open;
    weft_client_set_events(f.c[k], &ev, &f, NULL);
    assert_int_equal(weft_emitter_client(f.c[k], &f.em[k]), 0);
    who[k] = (route_who){&f, k};
    assert_int_equal(weft_emitter_on(f.em[k], "hey", route_got, &who[k], NULL), 0);
    assert_int_equal(weft_client_open(f.c[k]), 0);
  }
  uv_timer_init(weft_loop_uv(f.loop), &f.guard);
  f.guard.data = &f;
  uv_timer_start(&f.guard, route_guard, 10000, 0);
  weft_loop_run(f.loop);
  assert_int_equal(weft_loop_close(f.loop), 0);
  assert_int_equal(f.got[0], 0); /* not the sender */
  assert_int_equal(f.got[1], 1);
  assert_int_equal(f.got[2], 1);
}

/* Room requests with an ack between weft peers (docs/fasttcp.md, flags
 * bit 1): the policy's verdict comes back, a refusal as WEFT_EREJECTED. */
typedef struct rooms_fx {
  weft_loop *loop;
  weft_server *s;
  weft_client *c;
  weft_emitter *em;
  weft_rooms *rooms;
  uv_timer_t guard;
  int step, status[3], count[2], done;
  weft_spark *spark;
} rooms_fx;

static int open_only(weft_spark *sp, const char *room, int join, void *user) {
  (void)sp, (void)user;
  return join && strncmp(room, "open", 4) != 0 ? WEFT_EUNAUTHORIZED : 0;
}

static void rooms_end(rooms_fx *f) {
  f->done = 1;
  weft_client_destroy(f->c);
  weft_server_destroy(f->s, NULL);
  uv_close((uv_handle_t *)&f->guard, NULL);
}

static void rooms_ack(const weft_ack *ack, void *user) {
  rooms_fx *f = user;
  f->status[f->step++] = ack->status;
  if (f->step == 2) { /* joined open-1 and open-2 (refused: closed) */
    f->count[0] = weft_rooms_of_spark_count(f->rooms, f->spark);
    assert_int_equal(weft_emitter_leave_all(f->em, rooms_ack, f), 0);
  } else if (f->step == 3) {
    f->count[1] = weft_rooms_of_spark_count(f->rooms, f->spark);
    rooms_end(f);
  }
}

static void rooms_conn(weft_spark *sp, void *user) { ((rooms_fx *)user)->spark = sp; }

static void rooms_open(weft_client *c, void *user) {
  rooms_fx *f = user;
  (void)c;
  assert_int_equal(weft_emitter_join(f->em, "open-1", NULL, NULL), 0);
  assert_int_equal(weft_emitter_join(f->em, "open-2", rooms_ack, f), 0);
  assert_int_equal(weft_emitter_join(f->em, "closed", rooms_ack, f), 0);
}

static void rooms_guard(uv_timer_t *t) { rooms_end(t->data); }

static void test_room_acks(void **state) {
  (void)state;
  rooms_fx f;
  memset(&f, 0, sizeof(f));
  weft_emitter *sem;
  assert_int_equal(weft_loop_new(&f.loop), 0);
  assert_int_equal(weft_server_new(f.loop, &f.s), 0);
  assert_int_equal(weft_emitter_server(f.s, &sem), 0);
  assert_int_equal(weft_rooms_server(f.s, &f.rooms), 0);
  assert_int_equal(weft_rooms_set_client_policy(f.rooms, open_only, NULL, NULL), 0);
  weft_server_events sev;
  memset(&sev, 0, sizeof(sev));
  sev.size = sizeof(sev);
  sev.connection = rooms_conn;
  assert_int_equal(weft_server_set_events(f.s, &sev, &f, NULL), 0);
  assert_int_equal(weft_server_listen(f.s, "tcp://127.0.0.1:0"), 0);
  char url[64];
  snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", weft_server_port(f.s));
  assert_int_equal(weft_client_new(f.loop, url, &f.c), 0);
  weft_client_events ev;
  memset(&ev, 0, sizeof(ev));
  ev.size = sizeof(ev);
  ev.open = rooms_open;
  weft_client_set_events(f.c, &ev, &f, NULL);
  assert_int_equal(weft_emitter_client(f.c, &f.em), 0);
  assert_int_equal(weft_emitter_join(f.em, "", rooms_ack, &f), WEFT_EINVAL);
  assert_int_equal(weft_client_open(f.c), 0);
  uv_timer_init(weft_loop_uv(f.loop), &f.guard);
  f.guard.data = &f;
  uv_timer_start(&f.guard, rooms_guard, 10000, 0);
  weft_loop_run(f.loop);
  assert_int_equal(weft_loop_close(f.loop), 0);
  assert_int_equal(f.step, 3);
  assert_int_equal(f.status[0], 0);              /* open-2 */
  assert_int_equal(f.status[1], WEFT_EREJECTED); /* closed */
  assert_int_equal(f.status[2], 0);              /* leave-all */
  assert_int_equal(f.count[0], 2);               /* open-1 (no ack asked) and open-2 */
  assert_int_equal(f.count[1], 0);               /* after leave-all */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nmsg_tcp),   cmocka_unit_test(test_nmsg_ipc),
      cmocka_unit_test(test_api_errors), cmocka_unit_test(test_client_route),
      cmocka_unit_test(test_room_acks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
