/*
 * Connection-state recovery on one node (decision #23), end to end over
 * real sockets on 127.0.0.1: a weft client with recovery reaches the server
 * through a TCP relay that the test cuts (both sides reset: whatever was in
 * flight is lost) and can make refuse connections for a while.
 *
 * Phases of client A: (0) fresh, joined to rooms r1 and r2, cut; meanwhile
 * 100 messages to it (broadcast, room r2, its id) and 20 that are not
 * (room r3, a broadcast except it); (1) it resumes: same id, same rooms, the
 * 100 in order once, then a new one; cut again, and while it is away forged
 * resumes (unknown id, wrong or used token, malformed) get fresh sparks and
 * take nothing; (2) it resumes again; cut, kept away past the window; (3) a
 * fresh spark, told so.
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

#include "procs.h"
#include "relay.h"
#include "steps.h"
#include "weft/adapter.h"
#include "weft/ext.h"
#include "weft/options.h"
#include "weft/weft.h"

#define WINDOW 5000
#define MISSED 100
#define NOISE 20
#define FORGED 7

typedef struct t {
  test_steps s; /* first: the steps, the phase, the first failed check */
  weft_loop *loop;
  weft_server *server; /* A's node */
  weft_rooms *rooms;
  int cluster;        /* the messages come from node 2, through Redis */
  weft_server *node2; /* the sender: node 2, or server */
  weft_rooms *rooms2;
  pid_t redis;
  char dir[64];
  weft_client *a, *forger[FORGED];
  rl relay;
  int forged_seen;
  char id0[64], stale[160];
} t_;

/* ---- the test ---- */

static void finish(void *p) {
  t_ *t = p;
  if (!steps_end(t)) return;
  relay_close(&t->relay);
  if (t->node2 != t->server) weft_server_destroy(t->node2, NULL);
  weft_client_destroy(t->a);
  for (int i = 0; i < FORGED; i++)
    if (t->forger[i]) weft_client_destroy(t->forger[i]);
  weft_server_destroy(t->server, NULL);
}

static void send_int(t_ *t, const weft_recipients *to, int64_t i) {
  weft_value *v = weft_value_new_int(i);
  steps_check(t, weft_server_send(t->node2, to, v) >= 0, "send");
  weft_value_free(v);
}

/* While A is away: what it must get, mixed with what it must not. */
static void send_missed(void *p) {
  t_ *t = p;
  rs_targets x;
  rs_targets_init(&x, t->id0);
  for (int i = 1; i <= MISSED; i++) {
    weft_value *v = weft_value_new_int(i);
    if (i % 3 == 0)
      steps_check(t, weft_server_write(t->node2, v) >= 0, "broadcast");
    else if (i % 3 == 1)
      steps_check(t, weft_rooms_write(t->rooms2, x.r2, 1, NULL, 0, v) >= 0, "room write");
    else
      steps_check(t, weft_server_send(t->node2, &x.to_id, v) >= 0, "direct");
    weft_value_free(v);
    if (i % (MISSED / NOISE) == 0) {
      send_int(t, &x.to_r3, -1);
      send_int(t, &x.not_it, -2);
    }
  }
}

static void relay_accept(void *p) {
  t_ *t = p;
  t->relay.refuse = 0;
}

static void forge(t_ *t) {
  /* An unknown id, a wrong token, the token the last resume used (rotated
   * since), a count in the future with a wrong token, malformed values. */
  char q[FORGED][200];
  snprintf(q[0], sizeof(q[0]), "nobody.AAAAAAAAAAAAAAAAAAAAAA.0");
  snprintf(q[1], sizeof(q[1]), "%s.AAAAAAAAAAAAAAAAAAAAAA.1", t->id0);
  snprintf(q[2], sizeof(q[2]), "%s", t->stale);
  snprintf(q[3], sizeof(q[3]), "%s.x.99999999999999999999", t->id0);
  snprintf(q[4], sizeof(q[4]), "..");
  snprintf(q[5], sizeof(q[5]), "%s..1", t->id0);
  snprintf(q[6], sizeof(q[6]), "%s", t->id0);
  for (int i = 0; i < FORGED; i++) {
    char url[400], enc[300];
    size_t k = 0;
    for (const char *s = q[i]; *s && k + 4 < sizeof(enc); s++) {
      if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '.')
        enc[k++] = *s;
      else
        k += (size_t)snprintf(enc + k, sizeof(enc) - k, "%%%02X", (unsigned char)*s);
    }
    enc[k] = '\0';
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus?who=f&weft_rs=%s",
             weft_server_port(t->server), enc);
    steps_check(t, weft_client_new(t->loop, url, &t->forger[i]) == 0, "forger");
    if (t->forger[i]) weft_client_open(t->forger[i]);
  }
}

static int has_rooms(t_ *t, weft_spark *sp) {
  return weft_rooms_has(t->rooms, sp, "r1") == 1 && weft_rooms_has(t->rooms, sp, "r2") == 1 &&
         weft_rooms_has(t->rooms, sp, "r3") == 0;
}

static void s_connection(weft_spark *sp, void *user) {
  t_ *t = user;
  const char *who = weft_spark_query(sp, "who");
  int rec = weft_spark_recovered(sp);
  if (who && strcmp(who, "f") == 0) {
    steps_check(t, rec == 0, "a forged resume recovered");
    steps_check(t, strcmp(weft_spark_id(sp), t->id0) != 0, "a forged resume got A's id");
    if (++t->forged_seen == FORGED) steps_after(t, 50, relay_accept); /* now A may come back */
    return;
  }
  switch (t->s.phase) {
  case 0:
    steps_check(t, rec == 0, "first connection recovered");
    snprintf(t->id0, sizeof(t->id0), "%s", weft_spark_id(sp));
    weft_rooms_join(t->rooms, sp, "r1");
    weft_rooms_join(t->rooms, sp, "r2");
    send_int(t, NULL, 1000);
    break;
  case 1:
  case 2: {
    steps_check(t, rec == 1, "not recovered within the window");
    steps_check(t, strcmp(weft_spark_id(sp), t->id0) == 0, "another id");
    steps_check(t, has_rooms(t, sp), "rooms not recovered");
    const char *q = weft_spark_query(sp, "weft_rs");
    snprintf(t->stale, sizeof(t->stale), "%s", q ? q : "");
    send_int(t, NULL, 100 + t->s.phase); /* new, after the missed ones */
    break;
  }
  default:
    steps_check(t, rec == 0, "recovered past the window");
    steps_check(t, strcmp(weft_spark_id(sp), t->id0) != 0, "the old id past the window");
    steps_check(t, weft_rooms_has(t->rooms, sp, "r1") == 0, "rooms past the window");
  }
}

static void s_disconnection(weft_spark *sp, void *user) {
  t_ *t = user;
  if (t->s.phase == 0 && strcmp(weft_spark_id(sp), t->id0) == 0) {
    t->s.phase = 1;
    steps_after(t, 0, send_missed); /* once the session is detached */
  }
}

static void cut_refuse(t_ *t, int ms) {
  t->relay.refuse = 1;
  relay_cut(&t->relay);
  if (ms) steps_after(t, (uint64_t)ms, relay_accept);
}

static void c_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  t_ *t = user;
  int64_t i;
  if (steps_got(t, msg, &i)) return finish(t);
  if (i == 1000) {
    cut_refuse(t, 0);
    t->relay.refuse = 0;
  } else if (i == 101) { /* away while forgers try */
    t->s.phase = 2;
    cut_refuse(t, 0);
    forge(t);
  } else if (i == 102) { /* away past the window */
    t->s.phase = 3;
    cut_refuse(t, WINDOW + 1000);
  }
}

static void c_recovery(weft_client *c, int recovered, const char *id, void *user) {
  (void)c;
  t_ *t = user;
  steps_answer(t, recovered, id, t->id0);
  if (t->s.phase == 3) finish(t); /* the client is open: nothing is half dialed */
}

/* Opens A once both nodes are linked to Redis (what node 2 publishes
 * before that is dropped, decision #18). */
static void open_a(void *p) {
  t_ *t = p;
  if (t->cluster && (weft_redis_linked(t->server) != 1 || weft_redis_linked(t->node2) != 1))
    return steps_after(t, 20, open_a);
  steps_check(t, weft_client_open(t->a) == 0, "open");
}

static void run(int cluster) {
  t_ *t = calloc(1, sizeof(*t));
  assert_non_null(t);
  t->cluster = cluster;
  char rurl[64] = "";
  if (cluster) {
    snprintf(t->dir, sizeof(t->dir), "/tmp/weft-recovery-XXXXXX");
    t->redis = spawn_redis(free_port(), t->dir, rurl, sizeof(rurl));
    assert_true(t->redis > 0);
  }
  assert_int_equal(weft_loop_new(&t->loop), 0);
  uv_loop_t *uv = weft_loop_uv(t->loop);
  assert_int_equal(weft_server_new(t->loop, &t->server), 0);
  weft_server_events sev = {
      .size = sizeof(sev), .connection = s_connection, .disconnection = s_disconnection};
  assert_int_equal(weft_server_set_events(t->server, &sev, t, NULL), 0);
  assert_int_equal(weft_rooms_server(t->server, &t->rooms), 0);
  assert_int_equal(weft_server_set_recovery(t->server, WINDOW, 1024), 0);
  t->node2 = t->server;
  t->rooms2 = t->rooms;
  if (cluster) {
    assert_int_equal(weft_redis_attach(t->server, rurl, 0), 0);
    assert_int_equal(weft_server_new(t->loop, &t->node2), 0);
    assert_int_equal(weft_rooms_server(t->node2, &t->rooms2), 0);
    assert_int_equal(weft_redis_attach(t->node2, rurl, 0), 0);
    assert_int_equal(weft_server_listen(t->node2, "ws://127.0.0.1:0/primus"), 0);
  }
  assert_int_equal(weft_server_listen(t->server, "ws://127.0.0.1:0/primus"), 0);
  assert_int_equal(weft_server_set_recovery(t->server, WINDOW, 1024), WEFT_ESTATE);
  t->relay.server_port = weft_server_port(t->server);
  assert_int_equal(relay_start(&t->relay, uv), 0);
  assert_non_null(t->a = relay_client(&t->relay, t->loop, c_data, c_recovery, t));
  steps_start(t, uv, 30000, finish);
  open_a(t);
  weft_loop_run(t->loop);
  uv_run(uv, UV_RUN_DEFAULT); /* the relay's own handles */
  stop(&t->redis, SIGTERM);
  if (t->dir[0]) rmdir(t->dir);
  assert_string_equal(t->s.fail, "");
  assert_int_equal(weft_loop_close(t->loop), 0);
  /* 1000 before the first cut (sent again if it was lost in flight), the
   * 100 missed ones in order once, then the new ones. */
  int64_t want[MISSED + 3];
  want[0] = 1000;
  for (int i = 1; i <= MISSED; i++)
    want[i] = i;
  want[MISSED + 1] = 101;
  want[MISSED + 2] = 102;
  assert_int_equal(t->s.ngot, MISSED + 3);
  assert_memory_equal(t->s.got, want, sizeof(want));
  /* Fresh, resumed twice, then fresh with another id. */
  assert_string_equal(t->s.answers, "0,1,1,0*,");
  free(t);
}

static void test_single_node(void **state) {
  (void)state;
  run(0);
}

/* The same with the messages sent from another node of a cluster on a real
 * redis-server: a detached session keeps what the other nodes publish. */
static void test_cluster_same_node(void **state) {
  (void)state;
  run(1);
}

/* ---- a deliberate end keeps no session ---- */

typedef struct en {
  weft_loop *loop;
  weft_server *server;
  weft_client *c1, *c2;
  weft_spark *sp1;
  int flags, recovered;
  char id[64], token[32];
  uv_timer_t step;
} en;

static void en_second(uv_timer_t *h) {
  en *e = h->data;
  char url[200];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus?n=2&weft_rs=%s.%s.0",
           weft_server_port(e->server), e->id, e->token);
  if (weft_client_new(e->loop, url, &e->c2) == 0) weft_client_open(e->c2);
}

static void en_connection(weft_spark *sp, void *user) {
  en *e = user;
  const char *n = weft_spark_query(sp, "n");
  if (n && strcmp(n, "1") == 0) {
    e->sp1 = sp;
    return;
  }
  e->recovered = weft_spark_recovered(sp);
  uv_close((uv_handle_t *)&e->step, NULL);
  weft_client_destroy(e->c2);
  weft_server_destroy(e->server, NULL);
}

static void en_disconnection(weft_spark *sp, void *user) {
  en *e = user;
  if (sp == e->sp1) uv_timer_start(&e->step, en_second, 0, 0); /* once detached (or not) */
}

/* A client that did not ask for recovery itself sees the answer as data:
 * the test reads the id and the token from it, then the server ends it. */
static void en_data(weft_client *c, const weft_value *msg, void *user) {
  en *e = user;
  const char *s;
  size_t len;
  if (weft_value_get_string(msg, &s, &len) || len < 22 || strncmp(s, "primus::weft::rs::0:", 20))
    return;
  const char *colon = memchr(s + 20, ':', len - 20);
  if (!colon) return;
  snprintf(e->id, sizeof(e->id), "%.*s", (int)(colon - s - 20), s + 20);
  snprintf(e->token, sizeof(e->token), "%.*s", (int)(s + len - colon - 1), colon + 1);
  weft_spark_end(e->sp1, NULL, e->flags);
  weft_client_destroy(c);
}

static int end_then_resume(int flags) {
  en e = {.flags = flags, .recovered = -1};
  assert_int_equal(weft_loop_new(&e.loop), 0);
  assert_int_equal(weft_server_new(e.loop, &e.server), 0);
  weft_server_events sev = {
      .size = sizeof(sev), .connection = en_connection, .disconnection = en_disconnection};
  assert_int_equal(weft_server_set_events(e.server, &sev, &e, NULL), 0);
  assert_int_equal(weft_server_set_recovery(e.server, WINDOW, 64), 0);
  assert_int_equal(weft_server_listen(e.server, "ws://127.0.0.1:0/primus"), 0);
  uv_timer_init(weft_loop_uv(e.loop), &e.step);
  e.step.data = &e;
  char url[96];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus?n=1&weft_rs=1", weft_server_port(e.server));
  assert_int_equal(weft_client_new(e.loop, url, &e.c1), 0);
  weft_client_events cev = {.size = sizeof(cev), .data = en_data};
  assert_int_equal(weft_client_set_events(e.c1, &cev, &e, NULL), 0);
  assert_int_equal(weft_client_open(e.c1), 0);
  weft_loop_run(e.loop);
  assert_int_equal(weft_loop_close(e.loop), 0);
  assert_int_equal(strlen(e.token), 22);
  return e.recovered;
}

static void test_end_keeps_no_session(void **state) {
  (void)state;
  assert_int_equal(end_then_resume(0), 0);                  /* primus::server::close: gone */
  assert_int_equal(end_then_resume(WEFT_END_RECONNECT), 1); /* the client may come back */
}

static void test_bad_calls(void **state) {
  (void)state;
  assert_int_equal(weft_server_set_recovery(NULL, 1000, 10), WEFT_EINVAL);
  assert_int_equal(weft_spark_recovered(NULL), WEFT_EINVAL);
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_set_recovery(s, 1000, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_set_recovery(s, 1000, 65537), WEFT_EINVAL);
  assert_int_equal(weft_server_set_recovery(s, 0, 0), 0); /* off */
  /* The options table's rows (every host's way in). */
  weft_value *v = weft_value_new_int(0);
  assert_int_equal(weft_server_set_option(s, "recovery_messages", v), WEFT_ERANGE);
  weft_value_free(v);
  v = weft_value_new_int(65537);
  assert_int_equal(weft_server_set_option(s, "recovery_messages", v), WEFT_ERANGE);
  weft_value_free(v);
  v = weft_value_new_string("2m", 2);
  assert_int_equal(weft_server_set_option(s, "recovery", v), WEFT_ETYPE);
  weft_value_free(v);
  v = weft_value_new_int(120000);
  assert_int_equal(weft_server_set_option(s, "recovery", v), 0);
  weft_value_free(v);
  v = weft_value_new_int(16);
  assert_int_equal(weft_server_set_option(s, "recovery_messages", v), 0);
  weft_value_free(v);
  assert_int_equal(weft_server_destroy(s, NULL), 0);
  weft_loop_run(loop);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_node),
      cmocka_unit_test(test_cluster_same_node),
      cmocka_unit_test(test_end_keeps_no_session),
      cmocka_unit_test(test_bad_calls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
