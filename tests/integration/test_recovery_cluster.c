/*
 * Connection-state recovery to another node of a cluster (decision #24),
 * over real sockets on 127.0.0.1 and a real redis-server started here:
 * nodes X (where client A first connects), Y (where it resumes) and Z (a
 * sender), each with recovery on. A reaches a node through a TCP relay the
 * test cuts with resets and points at another node.
 *
 * (0) A connects to X, joins rooms r1 and r2, is cut. (1) While it is
 * away: Z sends it 100 messages (broadcast, room r2, its id) mixed with
 * ones it must not get (room r3, a broadcast except it); forged resumes at
 * Y (unknown id, A's id with a wrong token) get fresh sparks and take
 * nothing; and every node streams to it (X room r1, Y its id, Z
 * broadcast) every 2 ms, through its return. A comes back at Y: same id,
 * same rooms, the 100 in order once, each stream in order exactly once
 * (whether a message was kept by X, by Y during the claim, or sent live),
 * then new ones; presence of r1 asked at X names A (on Y). (2) Cut, away
 * past the window, back at X: a fresh spark, and both sides are told.
 * (3) Cut; two copies of its resume (the token sniffed on the wire) at Y
 * and at Z at once: exactly one recovers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <hiredis/hiredis.h>

#include "procs.h"
#include "relay.h"
#include "steps.h"
#include "weft/adapter.h"
#include "weft/ext.h"
#include "weft/options.h"
#include "weft/weft.h"

#define WINDOW 3000
#define MISSED 100
#define STREAM 100000 /* node i streams (i + 1) * STREAM + k, k = 1, 2, ... */
enum { X, Y, Z, NODES };

typedef struct t {
  test_steps s; /* first: the steps, the phase, the first failed check */
  weft_loop *loop;
  weft_server *n[NODES];
  weft_rooms *rooms[NODES];
  pid_t redis;
  char dir[64];
  weft_client *a, *forger[2], *twin[2];
  rl relay;
  uv_timer_t stream;
  int forged_seen, twins_seen, twins_recovered, streaming;
  int64_t streamed[NODES];
  char id0[64], id1[64];
} t_;

static void finish(void *p) {
  t_ *t = p;
  if (!steps_end(t)) return;
  relay_close(&t->relay);
  uv_close((uv_handle_t *)&t->stream, NULL);
  weft_client_destroy(t->a);
  for (int i = 0; i < 2; i++) {
    if (t->forger[i]) weft_client_destroy(t->forger[i]);
    if (t->twin[i]) weft_client_destroy(t->twin[i]);
  }
  for (int i = 0; i < NODES; i++)
    weft_server_destroy(t->n[i], NULL);
}

static void send_int(t_ *t, int node, const weft_recipients *to, int64_t i) {
  weft_value *v = weft_value_new_int(i);
  steps_check(t, weft_server_send(t->n[node], to, v) >= 0, "send");
  weft_value_free(v);
}

static weft_client *client_to(t_ *t, int node, const char *who, const char *rs) {
  char url[300];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus?who=%s%s%s", weft_server_port(t->n[node]),
           who, rs ? "&weft_rs=" : "", rs ? rs : "");
  weft_client *c = NULL;
  steps_check(t, weft_client_new(t->loop, url, &c) == 0 && weft_client_open(c) == 0, "a client");
  return c;
}

/* Every 2 ms while A is away, comes back and after: one message from each
 * node (X to room r1, Y to A's id, Z to everyone). */
static void stream_tick(uv_timer_t *h) {
  t_ *t = h->data;
  if (t->s.done || !t->streaming) return;
  const char *ids[] = {t->id0}, *r1[] = {"r1"};
  weft_recipients to[NODES] = {{sizeof(to[0]), r1, 1, NULL, 0, NULL, 0},
                               {sizeof(to[0]), NULL, 0, ids, 1, NULL, 0},
                               {sizeof(to[0]), NULL, 0, NULL, 0, NULL, 0}};
  for (int i = 0; i < NODES; i++)
    send_int(t, i, &to[i], (i + 1) * STREAM + ++t->streamed[i]);
}

static void come_back(void *p) {
  t_ *t = p;
  steps_check(t, t->forged_seen == 2, "the forged resumes were not answered");
  t->relay.server_port = weft_server_port(t->n[Y]);
  t->relay.sniff = 1;
  t->relay.refuse = 0;
}

/* While A is away: what it must get from Z, mixed with what it must not;
 * forged resumes at Y; the streams. */
static void away(void *p) {
  t_ *t = p;
  rs_targets x;
  rs_targets_init(&x, t->id0);
  for (int i = 1; i <= MISSED; i++) {
    send_int(t, Z, i % 3 == 0 ? NULL : i % 3 == 1 ? &x.to_r2 : &x.to_id, i);
    if (i % 10 == 0) {
      send_int(t, Z, &x.to_r3, -1);
      send_int(t, Z, &x.not_it, -2);
    }
  }
  char q[160];
  t->forger[0] = client_to(t, Y, "f", "nobody.AAAAAAAAAAAAAAAAAAAAAA.0");
  snprintf(q, sizeof(q), "%s.AAAAAAAAAAAAAAAAAAAAAA.1", t->id0);
  t->forger[1] = client_to(t, Y, "f", q);
  t->streaming = 1;
  uv_timer_start(&t->stream, stream_tick, 2, 2);
  steps_after(t, 400, come_back); /* Z's 100 have reached X by then */
}

static void stop_stream(void *p) {
  t_ *t = p;
  t->streaming = 0;
  send_int(t, Z, NULL, 200); /* after every stream message, from each node's view */
}

static void come_back_late(void *p) {
  t_ *t = p;
  t->relay.sniff = 1; /* the fresh session's token, for the twins */
  t->relay.refuse = 0;
}

static void on_presence(weft_server *s, int status, const char *const *ids, size_t n, void *user) {
  (void)s;
  t_ *t = user;
  steps_check(t, status == 0 && n == 1 && strcmp(ids[0], t->id0) == 0,
              "presence does not follow A");
  t->s.phase = 2; /* away past the window, back at X */
  t->relay.refuse = 1;
  t->relay.server_port = weft_server_port(t->n[X]);
  relay_cut(&t->relay);
  steps_after(t, WINDOW + 1000, come_back_late);
}

static void ask_presence(void *p) {
  t_ *t = p;
  steps_check(t, weft_server_presence(t->n[X], "r1", on_presence, t) == 0, "presence");
}

static int has_rooms(t_ *t, int node, weft_spark *sp) {
  return weft_rooms_has(t->rooms[node], sp, "r1") == 1 &&
         weft_rooms_has(t->rooms[node], sp, "r2") == 1 &&
         weft_rooms_has(t->rooms[node], sp, "r3") == 0;
}

static int node_of(t_ *t, weft_spark *sp) {
  for (int i = 0; i < NODES; i++)
    if (weft_spark_server(sp) == t->n[i]) return i;
  return -1;
}

static void s_connection(weft_spark *sp, void *user) {
  t_ *t = user;
  const char *who = weft_spark_query(sp, "who");
  int rec = weft_spark_recovered(sp), node = node_of(t, sp);
  if (who && strcmp(who, "f") == 0) {
    steps_check(t, rec == 0 && strcmp(weft_spark_id(sp), t->id0) != 0, "a forged resume recovered");
    t->forged_seen++;
    return;
  }
  if (who && strcmp(who, "t") == 0) {
    t->twins_recovered += rec;
    steps_check(t, !rec || (strcmp(weft_spark_id(sp), t->id1) == 0 && node != X),
                "a twin's answer");
    if (++t->twins_seen == 2) finish(t);
    return;
  }
  switch (t->s.phase) {
  case 0:
    steps_check(t, rec == 0 && node == X, "first connection");
    snprintf(t->id0, sizeof(t->id0), "%s", weft_spark_id(sp));
    weft_rooms_join(t->rooms[X], sp, "r1");
    weft_rooms_join(t->rooms[X], sp, "r2");
    send_int(t, X, NULL, 1000);
    break;
  case 1:
    steps_check(t, node == Y, "resumed at another node than Y");
    steps_check(t, rec == 1, "not recovered at Y within the window");
    steps_check(t, strcmp(weft_spark_id(sp), t->id0) == 0, "another id at Y");
    steps_check(t, has_rooms(t, Y, sp), "rooms not recovered at Y");
    send_int(t, Y, NULL, 101); /* new, after the missed ones */
    break;
  case 2:
    steps_check(t, node == X && rec == 0, "recovered past the window");
    steps_check(t, strcmp(weft_spark_id(sp), t->id0) != 0, "the old id past the window");
    steps_check(t, weft_rooms_has(t->rooms[X], sp, "r1") == 0, "rooms past the window");
    snprintf(t->id1, sizeof(t->id1), "%s", weft_spark_id(sp));
    break;
  default: steps_check(t, 0, "A connected again");
  }
}

/* Two copies of A's resume at once, at Y and Z. */
static void twins(void *p) {
  t_ *t = p;
  char rs[200] = "", *id = strchr(t->relay.sniffed, ':'), *tok = id ? strchr(id + 1, ':') : NULL;
  steps_check(t, tok != NULL && strncmp(id + 1, t->id1, (size_t)(tok - id - 1)) == 0,
              "not sniffed");
  if (tok) snprintf(rs, sizeof(rs), "%s.%s.0", t->id1, tok + 1);
  t->twin[0] = client_to(t, Y, "t", rs);
  t->twin[1] = client_to(t, Z, "t", rs);
}

static void s_disconnection(weft_spark *sp, void *user) {
  t_ *t = user;
  const char *id = weft_spark_id(sp);
  if (t->s.phase == 0 && strcmp(id, t->id0) == 0) {
    t->s.phase = 1;
    steps_after(t, 0, away); /* once the session is detached */
  } else if (t->s.phase == 3 && strcmp(id, t->id1) == 0) {
    steps_after(t, 0, twins);
  }
}

static void c_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  t_ *t = user;
  int64_t i;
  if (steps_got(t, msg, &i)) return finish(t);
  if (i == 1000) { /* cut, and refused until the test says */
    t->relay.refuse = 1;
    relay_cut(&t->relay);
  } else if (i == 101) {
    steps_after(t, 150, stop_stream);
  } else if (i == 200) {
    steps_after(t, 200, ask_presence); /* Y registered A's rooms by then */
  }
}

static void c_recovery(weft_client *c, int recovered, const char *id, void *user) {
  (void)c;
  t_ *t = user;
  steps_answer(t, recovered, id, t->id0);
  if (t->s.phase == 2) { /* now away for good: its resume goes to the twins */
    t->s.phase = 3;
    t->relay.refuse = 1;
    relay_cut(&t->relay);
  }
}

/* The subsequence of got[] in [lo, hi]: exactly lo, lo + 1, ..., last. */
static int in_order(const t_ *t, int64_t lo, int64_t hi, int64_t last) {
  int64_t want = lo;
  for (int i = 0; i < t->s.ngot; i++)
    if (t->s.got[i] >= lo && t->s.got[i] <= hi && t->s.got[i] != want++) return 0;
  return want == last + 1;
}

static int where(const t_ *t, int64_t v) {
  for (int i = 0; i < t->s.ngot; i++)
    if (t->s.got[i] == v) return i;
  return -1;
}

static void test_resume_elsewhere(void **state) {
  (void)state;
  t_ *t = calloc(1, sizeof(*t));
  assert_non_null(t);
  char rurl[64];
  snprintf(t->dir, sizeof(t->dir), "/tmp/weft-rs-cluster-XXXXXX");
  t->redis = spawn_redis(free_port(), t->dir, rurl, sizeof(rurl));
  assert_true(t->redis > 0);
  assert_int_equal(weft_loop_new(&t->loop), 0);
  uv_loop_t *uv = weft_loop_uv(t->loop);
  weft_server_events sev = {
      .size = sizeof(sev), .connection = s_connection, .disconnection = s_disconnection};
  for (int i = 0; i < NODES; i++) {
    assert_int_equal(weft_server_new(t->loop, &t->n[i]), 0);
    assert_int_equal(weft_server_set_events(t->n[i], &sev, t, NULL), 0);
    assert_int_equal(weft_rooms_server(t->n[i], &t->rooms[i]), 0);
    assert_int_equal(weft_server_set_recovery(t->n[i], WINDOW, 4096), 0);
    assert_int_equal(weft_redis_attach(t->n[i], rurl, 0), 0);
    assert_int_equal(weft_server_listen(t->n[i], "ws://127.0.0.1:0/primus"), 0);
  }
  t->relay.server_port = weft_server_port(t->n[X]);
  assert_int_equal(relay_start(&t->relay, uv), 0);
  assert_non_null(t->a = relay_client(&t->relay, t->loop, c_data, c_recovery, t));
  steps_start(t, uv, 40000, finish);
  uv_timer_init(uv, &t->stream);
  t->stream.data = t;
  /* A opens once every node is linked (what is published before is
   * dropped, decision #18). */
  while (!(weft_redis_linked(t->n[X]) == 1 && weft_redis_linked(t->n[Y]) == 1 &&
           weft_redis_linked(t->n[Z]) == 1))
    uv_run(uv, UV_RUN_ONCE);
  assert_int_equal(weft_client_open(t->a), 0);
  weft_loop_run(t->loop);
  uv_run(uv, UV_RUN_DEFAULT); /* the relay's own handles */
  stop(&t->redis, SIGTERM);
  rmdir(t->dir);
  assert_string_equal(t->s.fail, "");
  assert_int_equal(weft_loop_close(t->loop), 0);
  /* 1000 first; Z's 100 in order once, before the new 101; each node's
   * stream in order exactly once; 200; nothing else. */
  assert_true(t->s.ngot > 0 && t->s.got[0] == 1000);
  assert_true(in_order(t, 1, MISSED, MISSED));
  assert_true(where(t, MISSED) >= 0 && where(t, MISSED) < where(t, 101));
  int others = 3; /* 1000, 101, 200 */
  for (int i = 0; i < NODES; i++) {
    assert_true(t->streamed[i] > 0);
    assert_true(
        in_order(t, (i + 1) * STREAM + 1, (i + 2) * STREAM - 1, (i + 1) * STREAM + t->streamed[i]));
    others += (int)t->streamed[i];
  }
  assert_true(in_order(t, 101, 101, 101) && in_order(t, 200, 200, 200));
  assert_int_equal(t->s.ngot, MISSED + others);
  /* Fresh; resumed at Y; fresh past the window at X (another id). */
  assert_string_equal(t->s.answers, "0,1,0*,");
  assert_int_equal(t->twins_recovered, 1);
  free(t);
}

/* ---- bad input: a session whose owner is gone or whose record is junk,
 * and malformed messages on the channel ---- */

typedef struct silent {
  weft_loop *loop;
  weft_server *y;
  weft_client *c[2];
  int seen, fresh, stop_after; /* connections before the test ends */
} silent;

static void si_connection(weft_spark *sp, void *user) {
  silent *si = user;
  const char *id = weft_spark_id(sp);
  si->fresh += weft_spark_recovered(sp) == 0 && strcmp(id, "ghost") && strcmp(id, "junk");
  if (++si->seen < si->stop_after) return;
  for (int i = 0; i < 2; i++)
    weft_client_destroy(si->c[i]);
  weft_server_destroy(si->y, NULL);
}

static void run_silent(int stop_after) {
  silent si = {.stop_after = stop_after};
  char dir[64] = "/tmp/weft-rs-silent-XXXXXX", rurl[64];
  int port = free_port();
  pid_t redis = spawn_redis(port, dir, rurl, sizeof(rurl));
  assert_true(redis > 0);
  /* A session parked by a node that is gone (it will never answer the
   * claim), one whose record is junk, and junk on the channel. */
  redisContext *rc = redisConnect("127.0.0.1", port);
  assert_true(rc && !rc->err);
  const char *cmds[][3] = {{"SET", "weft:rs:ghost", "0123456789abcdef\nTOKEN\n0\nr1\n"},
                           {"SET", "weft:rs:junk", "0123456789abcdef"},
                           {"PUBLISH", "weft:all", "WC"},
                           {"PUBLISH", "weft:all", "WD0123456789abcdef\x01\xff\xffid"},
                           {"PUBLISH", "weft:all", "WC0123456789abcdef0123456789abcdefghost"}};
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
    const char *a[3] = {cmds[i][0], cmds[i][1], cmds[i][2]};
    redisReply *rep = redisCommandArgv(rc, 3, a, NULL);
    assert_non_null(rep);
    freeReplyObject(rep);
  }
  redisFree(rc);
  assert_int_equal(weft_loop_new(&si.loop), 0);
  assert_int_equal(weft_server_new(si.loop, &si.y), 0);
  weft_server_events sev = {.size = sizeof(sev), .connection = si_connection};
  assert_int_equal(weft_server_set_events(si.y, &sev, &si, NULL), 0);
  assert_int_equal(weft_server_set_recovery(si.y, WINDOW, 16), 0);
  assert_int_equal(weft_redis_attach(si.y, rurl, 0), 0);
  assert_int_equal(weft_server_listen(si.y, "ws://127.0.0.1:0/primus"), 0);
  while (weft_redis_linked(si.y) != 1)
    uv_run(weft_loop_uv(si.loop), UV_RUN_ONCE);
  const char *rs[2] = {"ghost.TOKEN.0", "junk.TOKEN.0"};
  for (int i = 0; i < 2; i++) {
    char url[160];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus?weft_rs=%s", weft_server_port(si.y),
             rs[i]);
    assert_int_equal(weft_client_new(si.loop, url, &si.c[i]), 0);
    assert_int_equal(weft_client_open(si.c[i]), 0);
  }
  weft_loop_run(si.loop); /* the ghost's claim ends at its deadline (2 s) */
  assert_int_equal(weft_loop_close(si.loop), 0);
  stop(&redis, SIGTERM);
  rmdir(dir);
  assert_int_equal(si.seen, stop_after);
  assert_int_equal(si.fresh, stop_after);
}

static void test_owner_gone_or_junk(void **state) {
  (void)state;
  run_silent(2);
}

/* The server closes while the ghost's claim waits: the held upgrade is
 * let go, nothing leaks (ASan). */
static void test_closed_while_claiming(void **state) {
  (void)state;
  run_silent(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_elsewhere),
      cmocka_unit_test(test_owner_gone_or_junk),
      cmocka_unit_test(test_closed_while_claiming),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
