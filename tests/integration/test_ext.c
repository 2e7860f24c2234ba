/*
 * The extensions (include/weft/ext.h) through real sockets on 127.0.0.1: a
 * weft server with an emitter and rooms, and weft clients with emitters, all
 * on one loop in one thread. Callbacks record; the test body asserts after
 * the loop returned and checks that weft_loop_close() succeeds. A guard
 * timer bounds every test.
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
#include <sys/resource.h>
#include <uv.h>

#include "failf.h"
#include "weft/ext.h"
#include "weft/options.h"

#define MAX_PEERS 1000

typedef struct fx fx;

typedef struct peer {
  fx *f;
  int idx;
  weft_client *c;
  weft_emitter *em;
  weft_channels *chs;
  weft_spark *spark; /* its spark on the server */
  int opened, marker, room_msgs, datas, errors;
  char last_event[64];
  char got[16]; /* recipients: the letters received, in order */
} peer;

struct fx {
  weft_loop *loop;
  weft_server *server;
  weft_emitter *sem;
  weft_rooms *rooms;
  weft_channels *schs;
  char url[128];
  peer *peers;
  int npeers, connected, finished;
  uv_timer_t guard, tick;
  int ticks; /* 10 ms each, counted from start */
  char fail[512];
  void (*start)(fx *f);   /* all peers connected */
  void (*on_tick)(fx *f); /* every 10 ms after start */
  void (*peer_data)(peer *p, const weft_value *msg);
  /* observations */
  int acks, ack_status[8], srv_errors, cli_errors, srv_datas, events, validation;
  char ack_value[8][64], srv_err_msgs[1024], cli_err_msgs[512];
  weft_reply *kept;
  int kept_rc;
  int policy_calls;
  /* channels */
  weft_channel *sch[4];
  int sch_got[4], sch_seq_bad, sch_ends, cch_ends, drains, ch_errors, cch_got;
};

WEFT_TEST_FAILF(fx)

static void finish(fx *f) {
  if (f->finished) return;
  f->finished = 1;
  for (int i = 0; i < f->npeers; i++)
    if (f->peers[i].c) {
      weft_client_destroy(f->peers[i].c);
      f->peers[i].c = NULL;
    }
  weft_destroy_options o = {sizeof(o), 0, 200};
  weft_server_destroy(f->server, &o);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->tick, NULL);
}

static void on_guard(uv_timer_t *t) {
  fx *f = t->data;
  failf(f, __LINE__, "guard timer: test took too long");
  finish(f);
}

static void on_tick(uv_timer_t *t) {
  fx *f = t->data;
  f->ticks++;
  if (f->on_tick && !f->finished) f->on_tick(f);
}

/* Renders a value as JSON into buf (for comparisons). */
static const char *json(const weft_value *v, char *buf, size_t cap) {
  uint8_t *out;
  size_t len;
  if (!v || weft_value_encode("json", v, &out, &len) != 0) return "<none>";
  snprintf(buf, cap, "%.*s", (int)len, (const char *)out);
  weft_free(out);
  return buf;
}

static weft_value *parse(const char *s) {
  weft_value *v = NULL;
  weft_value_decode("json", s, strlen(s), &v, NULL);
  return v;
}

/* ---- server side ---- */

static void srv_connection(weft_spark *spark, void *user) {
  fx *f = user;
  const char *i = weft_spark_query(spark, "i");
  int idx = i ? atoi(i) : -1;
  if (idx < 0 || idx >= f->npeers) {
    failf(f, __LINE__, "connection without a peer index");
    return;
  }
  f->peers[idx].spark = spark;
  char room[16];
  snprintf(room, sizeof(room), "r%d", idx % 10);
  if (f->rooms) CHECK(f, weft_rooms_join(f->rooms, spark, room) == 0);
}

static void srv_data(weft_spark *spark, const weft_value *msg, void *user) {
  (void)spark, (void)msg;
  ((fx *)user)->srv_datas++;
}

static void srv_error(weft_emitter *em, weft_spark *spark, const weft_error_info *err, void *user) {
  fx *f = user;
  (void)em;
  CHECK(f, spark != NULL);
  /* A malformed event is Primacron's "validation"; the rest "emitter". */
  CHECK(f, strcmp(err->kind, err->code == WEFT_EPARSE ? "validation" : "emitter") == 0);
  f->srv_errors++;
  f->validation += strcmp(err->kind, "validation") == 0;
  size_t n = strlen(f->srv_err_msgs);
  snprintf(f->srv_err_msgs + n, sizeof(f->srv_err_msgs) - n, "%s;", err->message);
}

/* ---- client side ---- */

static void cli_open(weft_client *c, void *user) {
  peer *p = user;
  (void)c;
  if (p->opened++) return;
  if (++p->f->connected < p->f->npeers) return;
  uv_timer_start(&p->f->tick, on_tick, 10, 10);
  if (p->f->start) p->f->start(p->f);
}

static void cli_data(weft_client *c, const weft_value *msg, void *user) {
  peer *p = user;
  (void)c;
  p->datas++;
  if (p->f->peer_data) p->f->peer_data(p, msg);
}

static void cli_error(weft_emitter *em, weft_spark *spark, const weft_error_info *err, void *user) {
  peer *p = user;
  (void)em;
  CHECK(p->f, spark == NULL);
  p->errors++;
  p->f->cli_errors++;
  size_t n = strlen(p->f->cli_err_msgs);
  snprintf(p->f->cli_err_msgs + n, sizeof(p->f->cli_err_msgs) - n, "%s;", err->message);
}

static void srv_ch_error(weft_channels *chs, weft_spark *spark, const weft_error_info *err,
                         void *user) {
  fx *f = user;
  (void)chs, (void)spark;
  CHECK(f, strcmp(err->kind, "channel") == 0);
  f->ch_errors++;
}

enum { WITH_ROOMS = 1, WITH_CHANNELS = 2 };

static void fx_init(fx *f, int npeers, int flags) {
  int with_rooms = flags & WITH_ROOMS;
  memset(f, 0, sizeof(*f));
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events ev = {.size = sizeof(ev), .connection = srv_connection, .data = srv_data};
  assert_int_equal(weft_server_set_events(f->server, &ev, f, NULL), 0);
  assert_int_equal(weft_emitter_server(f->server, &f->sem), 0);
  assert_ptr_equal(weft_emitter_of_server(f->server), f->sem);
  assert_int_equal(weft_emitter_on_error(f->sem, srv_error, f, NULL), 0);
  if (with_rooms) assert_int_equal(weft_rooms_server(f->server, &f->rooms), 0);
  if (flags & WITH_CHANNELS) {
    assert_int_equal(weft_channels_server(f->server, &f->schs), 0);
    assert_int_equal(weft_channels_on_error(f->schs, srv_ch_error, f, NULL), 0);
  }
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/primus"), 0);
  snprintf(f->url, sizeof(f->url), "ws://127.0.0.1:%d/primus", weft_server_port(f->server));
  uv_loop_t *uv = weft_loop_uv(f->loop);
  uv_timer_init(uv, &f->guard);
  uv_timer_init(uv, &f->tick);
  f->guard.data = f->tick.data = f;
  uv_timer_start(&f->guard, on_guard, 30000, 0);
  f->npeers = npeers;
  f->peers = calloc((size_t)npeers, sizeof(peer));
  for (int i = 0; i < npeers; i++) {
    peer *p = &f->peers[i];
    p->f = f;
    p->idx = i;
    char url[160];
    snprintf(url, sizeof(url), "%s?i=%d", f->url, i);
    assert_int_equal(weft_client_new(f->loop, url, &p->c), 0);
    weft_client_events ce = {.size = sizeof(ce), .open = cli_open, .data = cli_data};
    assert_int_equal(weft_client_set_events(p->c, &ce, p, NULL), 0);
    assert_int_equal(weft_emitter_client(p->c, &p->em), 0);
    assert_int_equal(weft_emitter_on_error(p->em, cli_error, p, NULL), 0);
    if (flags & WITH_CHANNELS) assert_int_equal(weft_channels_client(p->c, &p->chs), 0);
    assert_int_equal(weft_client_open(p->c), 0);
  }
}

static void fx_run(fx *f) {
  assert_int_equal(weft_loop_run(f->loop), 0);
  free(f->peers);
  assert_int_equal(weft_loop_close(f->loop), 0);
  if (f->fail[0]) fail_msg("%s", f->fail);
}

static void record_ack(const weft_ack *a, void *user) {
  fx *f = user;
  if (f->acks < 8) {
    f->ack_status[f->acks] = a->status;
    json(a->value, f->ack_value[f->acks], sizeof(f->ack_value[0]));
  }
  f->acks++;
}

/* ------------------------------------------------------------------------ */
/* Acknowledgements both ways, sync and async answers, plain data passes     */
/* ------------------------------------------------------------------------ */

static void h_sum(const weft_event *ev, void *user) {
  fx *f = user;
  f->events++;
  CHECK(f, ev->spark != NULL && ev->client == NULL && ev->reply != NULL);
  CHECK(f, strcmp(ev->name, "sum") == 0);
  int64_t a = 0, b = 0;
  CHECK(f, weft_value_len(ev->args) == 2);
  weft_value_get_int(weft_value_array_at(ev->args, 0), &a);
  weft_value_get_int(weft_value_array_at(ev->args, 1), &b);
  weft_value *r = weft_value_new_int(a + b);
  CHECK(f, weft_reply_resolve(ev->reply, r) == 0);
  weft_value_free(r);
}

static void h_slow(const weft_event *ev, void *user) { ((fx *)user)->kept = ev->reply; }

static void h_ask(const weft_event *ev, void *user) {
  peer *p = user;
  CHECK(p->f, ev->client == p->c && ev->spark == NULL);
  snprintf(p->last_event, sizeof(p->last_event), "%s", ev->name);
  weft_value *why = weft_value_new_string("nope", 4);
  CHECK(p->f, weft_reply_reject(ev->reply, why) == 0);
  weft_value_free(why);
}

static void ack_start(fx *f) {
  peer *p = &f->peers[0];
  weft_value *args = parse("[2,40]");
  CHECK(f,
        weft_emitter_emit(p->em, NULL, "sum", args, WEFT_EMIT_DEFAULT_TIMEOUT, record_ack, f) == 0);
  weft_value_free(args);
  CHECK(f, weft_emitter_emit(p->em, NULL, "slow", NULL, 2000, record_ack, f) == 0);
  CHECK(f, weft_emitter_emit(p->em, NULL, "nobody", NULL, 2000, record_ack, f) == 0);
  CHECK(f, weft_emitter_emit(f->sem, p->spark, "ask", NULL, 2000, record_ack, f) == 0);
  /* A plain message is no emitter packet: it reaches the data event. */
  weft_value *plain = parse("{\"type\":\"chat\",\"text\":\"hi\"}");
  CHECK(f, weft_client_write(p->c, plain) == 0);
  weft_value_free(plain);
}

static void ack_tick(fx *f) {
  if (f->ticks == 10) { /* the async answer, 100 ms later */
    CHECK(f, f->kept != NULL);
    weft_value *v = parse("{\"late\":true}");
    if (f->kept) CHECK(f, weft_reply_resolve(f->kept, v) == 0);
    f->kept = NULL;
    weft_value_free(v);
  }
  if (f->acks >= 4 && f->srv_datas >= 1) finish(f);
}

static void test_ack_round_trips(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, 0);
  assert_int_equal(weft_emitter_on(f.sem, "sum", h_sum, &f, NULL), 0);
  assert_int_equal(weft_emitter_on(f.sem, "slow", h_slow, &f, NULL), 0);
  assert_int_equal(weft_emitter_on(f.peers[0].em, "ask", h_ask, &f.peers[0], NULL), 0);
  f.start = ack_start;
  f.on_tick = ack_tick;
  fx_run(&f);
  assert_int_equal(f.acks, 4);
  int seen = 0;
  for (int i = 0; i < 4; i++) {
    if (f.ack_status[i] == 0 && strcmp(f.ack_value[i], "42") == 0) seen |= 1;
    if (f.ack_status[i] == 0 && strcmp(f.ack_value[i], "{\"late\":true}") == 0) seen |= 2;
    if (f.ack_status[i] == WEFT_EREJECTED &&
        strcmp(f.ack_value[i], "\"no handler for nobody\"") == 0)
      seen |= 4;
    if (f.ack_status[i] == WEFT_EREJECTED && strcmp(f.ack_value[i], "\"nope\"") == 0) seen |= 8;
  }
  assert_int_equal(seen, 15);
  assert_string_equal(f.ack_value[3], "{\"late\":true}"); /* the async one came last */
  assert_int_equal(f.srv_datas, 1);
  assert_int_equal(f.srv_errors, 0);
  assert_int_equal(f.cli_errors, 0);
}

/* ------------------------------------------------------------------------ */
/* Timeouts, answers after them, and a disconnection with acks pending      */
/* ------------------------------------------------------------------------ */

static void h_keep(const weft_event *ev, void *user) { ((fx *)user)->kept = ev->reply; }

static void h_never(const weft_event *ev, void *user) {
  peer *p = user;
  /* Keeps the reply and answers only after the connection is gone. */
  p->f->kept = ev->reply;
}

static void timeout_start(fx *f) {
  CHECK(f, weft_emitter_emit(f->peers[0].em, NULL, "keep", NULL, 50, record_ack, f) == 0);
}

static void timeout_tick(fx *f) {
  if (f->ticks == 20) { /* 200 ms: the client gave up at 50 ms */
    CHECK(f, f->acks == 1 && f->ack_status[0] == WEFT_ETIMEDOUT);
    weft_value *v = weft_value_new_int(7);
    CHECK(f, f->kept && weft_reply_resolve(f->kept, v) == 0);
    weft_value_free(v);
    f->kept = NULL;
    /* The server asks peer 1, which keeps the reply; then peer 1 ends. */
    CHECK(f, weft_emitter_emit(f->sem, f->peers[1].spark, "hold", NULL, 0, record_ack, f) == 0);
  }
  if (f->ticks == 30) {
    CHECK(f, f->kept != NULL);
    weft_client_end(f->peers[1].c, NULL);
  }
  if (f->ticks == 45) {
    /* The ack failed with ECLOSED at the disconnection; the late reply of
     * the ended client has nobody to go to. */
    CHECK(f, f->acks == 2 && f->ack_status[1] == WEFT_ECLOSED);
    if (f->kept) CHECK(f, weft_reply_resolve(f->kept, NULL) == WEFT_ECLOSED);
    f->kept = NULL;
    finish(f);
  }
}

static void test_ack_timeout_late_and_disconnect(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 2, 0);
  assert_int_equal(weft_emitter_on(f.sem, "keep", h_keep, &f, NULL), 0);
  assert_int_equal(weft_emitter_on(f.peers[1].em, "hold", h_never, &f.peers[1], NULL), 0);
  f.start = timeout_start;
  f.on_tick = timeout_tick;
  fx_run(&f);
  assert_int_equal(f.acks, 2);
  assert_int_equal(f.ack_status[0], WEFT_ETIMEDOUT);
  assert_int_equal(f.ack_status[1], WEFT_ECLOSED);
  /* The answer that came after the timeout is an error on the client. */
  assert_int_equal(f.cli_errors, 1);
  assert_non_null(strstr(f.cli_err_msgs, "unknown id"));
}

/* ------------------------------------------------------------------------ */
/* Malformed extension messages: error events, no crash, the spark lives on */
/* ------------------------------------------------------------------------ */

static const char *const bad_packets[] = {
    "{\"type\":0,\"data\":\"x\"}",             /* data not an array */
    "{\"type\":0,\"data\":[]}",                /* no name */
    "{\"type\":0,\"data\":[5]}",               /* name not a string */
    "{\"type\":0,\"data\":[\"\"]}",            /* empty name */
    "{\"type\":0,\"id\":3}",                   /* event without data */
    "{\"type\":0,\"data\":[\"x\"],\"id\":-1}", /* bad id */
    "{\"type\":0,\"data\":[\"x\"],\"id\":\"1\"}",
    "{\"type\":1,\"id\":999,\"data\":[]}", /* unknown ack id */
    "{\"type\":1,\"data\":[null,1]}",      /* ack without id */
    "{\"type\":0,\"data\":[\"open\"]}",    /* reserved name */
    "{\"type\":0,\"data\":[\"weft::nope\"]}",
};
#define N_BAD (sizeof(bad_packets) / sizeof(bad_packets[0]))

static void bad_start(fx *f) {
  for (size_t i = 0; i < N_BAD; i++) {
    weft_value *v = parse(bad_packets[i]);
    CHECK(f, v != NULL);
    if (v) CHECK(f, weft_client_write(f->peers[0].c, v) == 0);
    weft_value_free(v);
  }
  /* Not emitter packets: these pass to the data event. */
  const char *plain[] = {"{\"type\":2,\"data\":[1]}", "{\"type\":0}", "[0,1]", "\"hello\""};
  for (size_t i = 0; i < 4; i++) {
    weft_value *v = parse(plain[i]);
    CHECK(f, weft_client_write(f->peers[0].c, v) == 0);
    weft_value_free(v);
  }
  /* And the spark still answers a good event afterwards. */
  weft_value *args = parse("[1,2]");
  CHECK(f, weft_emitter_emit(f->peers[0].em, NULL, "sum", args, 2000, record_ack, f) == 0);
  weft_value_free(args);
}

static void bad_tick(fx *f) {
  if (f->acks == 1) finish(f);
}

static void test_bad_packets(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, 0);
  assert_int_equal(weft_emitter_on(f.sem, "sum", h_sum, &f, NULL), 0);
  f.start = bad_start;
  f.on_tick = bad_tick;
  fx_run(&f);
  assert_int_equal(f.srv_errors, (int)N_BAD);
  assert_int_equal(f.validation, (int)N_BAD - 3); /* all but the unknown id and reserved names */
  assert_int_equal(f.srv_datas, 4);
  assert_int_equal(f.acks, 1);
  assert_int_equal(f.ack_status[0], 0);
  assert_string_equal(f.ack_value[0], "3");
}

/* Without an error handler the bad packets reach the server's error event
 * (kind "emitter"), and a reply dropped unanswered rejects with the one
 * text every host uses. */
static void srv_event_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  fx *f = user;
  (void)s;
  CHECK(f, sp != NULL && strcmp(e->kind, e->code == WEFT_EPARSE ? "validation" : "emitter") == 0);
  f->srv_errors++;
  f->validation += strcmp(e->kind, "validation") == 0;
}

static void h_drop(const weft_event *ev, void *user) {
  CHECK((fx *)user, weft_reply_drop(ev->reply) == 0);
}

static void routed_start(fx *f) {
  bad_start(f);
  CHECK(f, weft_emitter_emit(f->peers[0].em, NULL, "drop", NULL, 2000, record_ack, f) == 0);
}

static void routed_tick(fx *f) {
  if (f->acks == 2) finish(f);
}

static void test_errors_routed_and_dropped_replies(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, 0);
  assert_int_equal(weft_emitter_on_error(f.sem, NULL, NULL, NULL), 0);
  weft_server_events ev = {
      .size = sizeof(ev), .connection = srv_connection, .data = srv_data, .error = srv_event_error};
  assert_int_equal(weft_server_set_events(f.server, &ev, &f, NULL), 0);
  assert_int_equal(weft_emitter_on(f.sem, "sum", h_sum, &f, NULL), 0);
  assert_int_equal(weft_emitter_on(f.sem, "drop", h_drop, &f, NULL), 0);
  f.start = routed_start;
  f.on_tick = routed_tick;
  fx_run(&f);
  assert_int_equal(f.srv_errors, (int)N_BAD);
  assert_int_equal(f.validation, (int)N_BAD - 3);
  assert_int_equal(f.acks, 2);
  int dropped = f.ack_status[0] == WEFT_EREJECTED ? 0 : 1;
  assert_int_equal(f.ack_status[dropped], WEFT_EREJECTED);
  assert_string_equal(f.ack_value[dropped], "\"" WEFT_REPLY_DROPPED "\"");
  assert_int_equal(weft_reply_drop(NULL), WEFT_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* API misuse returns errors                                                */
/* ------------------------------------------------------------------------ */

static void noop_event(const weft_event *ev, void *user) { (void)ev, (void)user; }

static void misuse_start(fx *f) {
  weft_emitter *cem = f->peers[0].em;
  weft_spark *sp = f->peers[0].spark;
  weft_value *args = parse("[1]"), *notarr = parse("{\"a\":1}");
  CHECK(f, weft_emitter_emit(NULL, NULL, "x", NULL, 0, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_emit(cem, sp, "x", NULL, 0, NULL, NULL) == WEFT_EINVAL); /* to on client */
  CHECK(f, weft_emitter_emit(f->sem, NULL, "x", NULL, 0, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_emit(cem, NULL, "", NULL, 0, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_emit(cem, NULL, "data", NULL, 0, NULL, NULL) == WEFT_EINVAL);
  static const char *const reserved[] = {
      "log",          "end",         "pong",          "open",          "data",        "error",
      "close",        "online",      "offline",       "timeout",       "initialised", "reconnect",
      "reconnecting", "connection",  "disconnection", "leaveallrooms", "roomserror",  "leaveroom",
      "joinroom",     "incoming::x", "outgoing::",    "weft::"};
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    CHECK(f, weft_emitter_emit(cem, NULL, reserved[i], NULL, 0, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_emit(cem, NULL, "weft::join", args, 0, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_emit(cem, NULL, "\xff\xfe", NULL, 0, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_emit(cem, NULL, "x", notarr, 0, record_ack, f) == WEFT_EINVAL);
  char longname[300];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = 0;
  CHECK(f, weft_emitter_emit(cem, NULL, longname, NULL, 0, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_on(cem, "", noop_event, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_on(cem, longname, noop_event, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_on(cem, "x", noop_event, NULL, NULL) == 0);
  CHECK(f, weft_emitter_on(cem, "x", NULL, NULL, NULL) == 0); /* removes */
  CHECK(f, weft_emitter_on(cem, "never-set", NULL, NULL, NULL) == 0);
  CHECK(f, weft_emitter_broadcast(cem, "x", NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_broadcast(f->sem, "x", args) == 1);
  CHECK(f, weft_emitter_set_timeout(cem, WEFT_EMIT_DEFAULT_TIMEOUT) == WEFT_EINVAL);
  CHECK(f, weft_emitter_join(f->sem, "room", NULL, NULL) == WEFT_EINVAL); /* client only */
  CHECK(f, weft_emitter_join(cem, "", NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_emitter_leave_all(f->sem, NULL, NULL) == WEFT_EINVAL); /* client only */
  CHECK(f, weft_emitter_leave_all(NULL, NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_reply_resolve(NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_reply_reject(NULL, NULL) == WEFT_EINVAL);
  weft_value *pk = NULL;
  CHECK(f, weft_emitter_packet("x", args, &pk) == 0 && pk != NULL);
  char buf[128];
  CHECK(f, strcmp(json(pk, buf, sizeof(buf)), "{\"type\":0,\"data\":[\"x\",1]}") == 0);
  weft_value_free(pk);
  CHECK(f, weft_emitter_packet("end", args, &pk) == WEFT_EINVAL && pk == NULL);
  /* Rooms: invalid names, another server's spark. */
  weft_rooms *rs = f->rooms;
  CHECK(f, weft_rooms_join(rs, sp, "") == WEFT_EINVAL);
  CHECK(f, weft_rooms_join(rs, sp, longname) == WEFT_EINVAL);
  CHECK(f, weft_rooms_join(rs, sp, "\xc3\x28") == WEFT_EINVAL);
  CHECK(f, weft_rooms_join(rs, NULL, "a") == WEFT_EINVAL);
  CHECK(f, weft_rooms_join(NULL, sp, "a") == WEFT_EINVAL);
  CHECK(f, weft_rooms_leave(rs, sp, "not-in") == 0);
  CHECK(f, weft_rooms_member_count(rs, "nobody-here") == 0);
  CHECK(f, weft_rooms_member_count(rs, "") == WEFT_EINVAL);
  const char *bad_rooms[] = {""};
  CHECK(f, weft_rooms_write(rs, bad_rooms, 1, NULL, 0, args) == WEFT_EINVAL);
  CHECK(f, weft_rooms_write(rs, NULL, 1, NULL, 0, args) == WEFT_EINVAL);
  CHECK(f, weft_server_write_to(f->server, args, NULL, 1) == WEFT_EINVAL);
  weft_spark *none[2] = {NULL, sp};
  CHECK(f, weft_server_write_to(f->server, args, none, 2) == 1);
  weft_value_free(args);
  weft_value_free(notarr);
  finish(f);
}

static void test_misuse(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, WITH_ROOMS);
  /* Attaching twice, or after listening, is refused. */
  weft_emitter *em2;
  assert_int_equal(weft_emitter_server(f.server, &em2), WEFT_ESTATE);
  assert_int_equal(weft_emitter_client(f.peers[0].c, &em2), WEFT_ESTATE);
  assert_int_equal(weft_emitter_server(NULL, &em2), WEFT_EINVAL);
  f.start = misuse_start;
  fx_run(&f);
}

/* ------------------------------------------------------------------------ */
/* Rooms: 1000 sparks in 10 rooms; a write to rooms with exceptions         */
/* ------------------------------------------------------------------------ */

#define ROOM_PEERS 1000

static int excepted(fx *f, int idx) {
  /* The first five members of r3 by the server's own listing. */
  for (int i = 0; i < 5; i++)
    if (weft_rooms_member_at(f->rooms, "r3", (size_t)i) == f->peers[idx].spark) return 1;
  return 0;
}

static int expect_room_msg(fx *f, int idx) {
  int r = idx % 10;
  return (r == 3 || r == 4 || idx == 5) && !excepted(f, idx);
}

static int except_snapshot[ROOM_PEERS];

static void rooms_peer_data(peer *p, const weft_value *msg) {
  const char *s;
  size_t len;
  if (weft_value_get_string(msg, &s, &len) != 0) return;
  if (len == 7 && memcmp(s, "to-room", 7) == 0) p->room_msgs++;
  if (len == 6 && memcmp(s, "marker", 6) == 0) p->marker++;
}

static void rooms_start(fx *f) {
  weft_rooms *rs = f->rooms;
  CHECK(f, weft_rooms_count(rs) == 10);
  CHECK(f, weft_rooms_member_count(rs, "r3") == 100);
  /* Peer 5 (in r5) also joins r3, and peer 13 (in r3) joins r4: in both
   * rooms it must still get the message once. */
  CHECK(f, weft_rooms_join(rs, f->peers[5].spark, "r3") == 0);
  CHECK(f, weft_rooms_join(rs, f->peers[5].spark, "r3") == 0); /* twice: no error */
  CHECK(f, weft_rooms_join(rs, f->peers[13].spark, "r4") == 0);
  CHECK(f, weft_rooms_of_spark_count(rs, f->peers[13].spark) == 2);
  CHECK(f, weft_rooms_has(rs, f->peers[5].spark, "r3") == 1);
  CHECK(f, weft_rooms_has(rs, f->peers[6].spark, "r3") == 0);
  const char *except[5];
  for (int i = 0; i < 5; i++) {
    weft_spark *sp = weft_rooms_member_at(rs, "r3", (size_t)i);
    except[i] = sp ? weft_spark_id(sp) : "";
  }
  for (int i = 0; i < f->npeers; i++)
    except_snapshot[i] = expect_room_msg(f, i);
  int expected = 0;
  for (int i = 0; i < f->npeers; i++)
    expected += except_snapshot[i];
  const char *names[] = {"r3", "r4", "r3", "no-such-room"};
  weft_value *msg = weft_value_new_string("to-room", 7);
  int n = weft_rooms_write(rs, names, 4, except, 5, msg);
  weft_value_free(msg);
  CHECK(f, n == expected);
  CHECK(f, expected == 100 + 100 + 1 - 5);
  weft_value *marker = weft_value_new_string("marker", 6);
  CHECK(f, weft_server_write(f->server, marker) == f->npeers);
  weft_value_free(marker);
}

/* Phase 2: a write to one room (r7) with 5 of its members excepted. */
static int rooms_phase;

static void rooms_one_room(fx *f) {
  weft_rooms *rs = f->rooms;
  const char *except[5];
  weft_spark *ex[5];
  for (int i = 0; i < 5; i++) {
    ex[i] = weft_rooms_member_at(rs, "r7", (size_t)i);
    except[i] = ex[i] ? weft_spark_id(ex[i]) : "";
  }
  for (int i = 0; i < f->npeers; i++) {
    f->peers[i].room_msgs = f->peers[i].marker = 0;
    int out = 0;
    for (int k = 0; k < 5; k++)
      out |= ex[k] == f->peers[i].spark;
    except_snapshot[i] = i % 10 == 7 && !out;
  }
  const char *names[] = {"r7"};
  weft_value *msg = weft_value_new_string("to-room", 7);
  CHECK(f, weft_rooms_write(rs, names, 1, except, 5, msg) == 95);
  weft_value_free(msg);
  weft_value *marker = weft_value_new_string("marker", 6);
  CHECK(f, weft_server_write(f->server, marker) == f->npeers);
  weft_value_free(marker);
}

static void rooms_tick(fx *f) {
  int done = 0;
  for (int i = 0; i < f->npeers; i++)
    done += f->peers[i].marker;
  if (done < f->npeers) return;
  for (int i = 0; i < f->npeers; i++)
    if (f->peers[i].room_msgs != except_snapshot[i])
      failf(f, __LINE__, "phase %d: peer %d got %d room messages, expected %d", rooms_phase, i,
            f->peers[i].room_msgs, except_snapshot[i]);
  if (rooms_phase++ == 0) {
    rooms_one_room(f);
    return;
  }
  /* Leaving: a room disappears with its last member. */
  weft_rooms *rs = f->rooms;
  CHECK(f, weft_rooms_join(rs, f->peers[0].spark, "solo") == 0);
  CHECK(f, weft_rooms_count(rs) == 11);
  CHECK(f, weft_rooms_leave(rs, f->peers[0].spark, "solo") == 0);
  CHECK(f, weft_rooms_count(rs) == 10);
  CHECK(f, weft_rooms_leave_all(rs, f->peers[13].spark) == 0);
  CHECK(f, weft_rooms_of_spark_count(rs, f->peers[13].spark) == 0);
  CHECK(f, weft_rooms_member_count(rs, "r3") == 100); /* 100 + peer 5 - peer 13 */
  finish(f);
}

static void test_rooms_with_exceptions(void **state) {
  (void)state;
  fx f;
  rooms_phase = 0;
  fx_init(&f, ROOM_PEERS, WITH_ROOMS);
  f.start = rooms_start;
  f.on_tick = rooms_tick;
  f.peer_data = rooms_peer_data;
  fx_run(&f);
  assert_int_equal(rooms_phase, 2);
}

/* ------------------------------------------------------------------------ */
/* One message to a selection: rooms, ids, everyone, minus some ids          */
/* ------------------------------------------------------------------------ */

static const char *pid(fx *f, int i) { return weft_spark_id(f->peers[i].spark); }

static int send_letter(fx *f, const char *letter, const char **rooms, size_t nr, const char **ids,
                       size_t ni, const char **ex, size_t ne) {
  weft_recipients to = {sizeof(to), rooms, nr, ids, ni, ex, ne};
  weft_value *v = weft_value_new_string(letter, 1);
  int n = weft_server_send(f->server, &to, v);
  weft_value_free(v);
  return n;
}

static void sel_peer_data(peer *p, const weft_value *msg) {
  const char *s;
  size_t n;
  size_t at = strlen(p->got);
  if (weft_value_get_string(msg, &s, &n) == 0 && n == 1 && at + 1 < sizeof(p->got))
    p->got[at] = s[0];
}

static void h_letter(const weft_event *ev, void *user) {
  peer *p = user;
  snprintf(p->last_event, sizeof(p->last_event), "%s", ev->name);
}

static void sel_start(fx *f) {
  const char *r01[] = {"r0", "r1"}, *r3[] = {"r3"}, *r9[] = {"r9"}, *bad[] = {""};
  const char *ex1[] = {pid(f, 1)}, *ex012[] = {pid(f, 2), pid(f, 0), pid(f, 1)};
  const char *ids23[] = {pid(f, 2), pid(f, 3), "no-such-id"}, *ids4[] = {pid(f, 4)};
  CHECK(f, send_letter(f, "A", r01, 2, NULL, 0, ex1, 1) == 1);
  CHECK(f, send_letter(f, "B", r3, 1, ids23, 3, NULL, 0) == 2); /* peer 3 once */
  CHECK(f, send_letter(f, "C", NULL, 0, NULL, 0, ex012, 3) == 3);
  weft_value *d = weft_value_new_string("D", 1);
  CHECK(f, weft_server_send(f->server, NULL, d) == 6);
  weft_value_free(d);
  CHECK(f, send_letter(f, "X", r9, 1, NULL, 0, NULL, 0) == 0); /* an empty room */
  weft_recipients to4 = {sizeof(to4), NULL, 0, ids4, 1, NULL, 0};
  CHECK(f, weft_server_send_event(f->server, &to4, "letter", NULL) == 1);
  /* Bad selections. */
  CHECK(f, send_letter(f, "Z", bad, 1, NULL, 0, NULL, 0) == WEFT_EINVAL);
  CHECK(f, send_letter(f, "Z", NULL, 1, NULL, 0, NULL, 0) == WEFT_EINVAL);
  CHECK(f, send_letter(f, "Z", NULL, 0, NULL, 0, NULL, 2) == WEFT_EINVAL);
  weft_recipients small = {1, NULL, 0, NULL, 0, NULL, 0};
  weft_value *z = weft_value_new_string("Z", 1);
  CHECK(f, weft_server_send(f->server, &small, z) == WEFT_EINVAL);
  CHECK(f, weft_server_send(NULL, NULL, z) == WEFT_EINVAL);
  CHECK(f, weft_server_send(f->server, NULL, NULL) == WEFT_EINVAL);
  weft_value_free(z);
  CHECK(f, weft_server_send_event(f->server, NULL, NULL, NULL) == WEFT_EINVAL);
}

static void sel_tick(fx *f) {
  int all = 0;
  for (int i = 0; i < f->npeers; i++)
    all += strchr(f->peers[i].got, 'D') != NULL;
  if (all < f->npeers || strcmp(f->peers[4].last_event, "letter") != 0) return;
  static const char *const want[] = {"AD", "D", "BD", "BCD", "CD", "CD"};
  for (int i = 0; i < f->npeers; i++)
    if (strcmp(f->peers[i].got, want[i]) != 0)
      failf(f, __LINE__, "peer %d got \"%s\", expected \"%s\"", i, f->peers[i].got, want[i]);
  for (int i = 0; i < f->npeers; i++)
    if (i != 4 && f->peers[i].last_event[0]) failf(f, __LINE__, "peer %d got the event", i);
  finish(f);
}

static void test_recipients(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 6, WITH_ROOMS);
  for (int i = 0; i < 6; i++)
    assert_int_equal(weft_emitter_on(f.peers[i].em, "letter", h_letter, &f.peers[i], NULL), 0);
  f.start = sel_start;
  f.on_tick = sel_tick;
  f.peer_data = sel_peer_data;
  fx_run(&f);
}

/* Without rooms, or before listening: the state is wrong. */
static void test_recipients_state(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  weft_value *v = weft_value_new_int(1);
  const char *rooms[] = {"r"};
  weft_recipients to = {sizeof(to), rooms, 1, NULL, 0, NULL, 0};
  assert_int_equal(weft_server_send(s, NULL, v), WEFT_ESTATE);               /* not listening */
  assert_int_equal(weft_server_send_event(s, NULL, "e", NULL), WEFT_ESTATE); /* no emitter */
  assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:0/primus"), 0);
  assert_int_equal(weft_server_send(s, &to, v), WEFT_ESTATE); /* no rooms */
  assert_int_equal(weft_server_send(s, NULL, v), 0);          /* nobody yet */
  weft_value_free(v);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* ------------------------------------------------------------------------ */
/* Clients asking to join rooms: the application's policy decides           */
/* ------------------------------------------------------------------------ */

static int policy(weft_spark *spark, const char *room, int join, void *user) {
  fx *f = user;
  (void)spark, (void)join;
  f->policy_calls++;
  return strcmp(room, "secret") == 0 ? WEFT_EUNAUTHORIZED : 0;
}

static void join_start(fx *f) {
  weft_emitter *em = f->peers[0].em;
  CHECK(f, weft_emitter_join(em, "lobby", record_ack, f) == 0);
  CHECK(f, weft_emitter_join(em, "secret", record_ack, f) == 0);
  CHECK(f, weft_emitter_leave(em, "lobby", record_ack, f) == 0);
  CHECK(f, weft_emitter_join(em, "again", record_ack, f) == 0);
}

static void join_tick(fx *f) {
  if (f->acks == 4 && f->policy_calls == 4) {
    CHECK(f, f->ack_status[0] == 0);
    CHECK(f, f->ack_status[1] == WEFT_EREJECTED);
    CHECK(f, f->ack_status[2] == 0);
    CHECK(f, f->ack_status[3] == 0);
    CHECK(f, weft_rooms_has(f->rooms, f->peers[0].spark, "lobby") == 0);
    CHECK(f, weft_rooms_has(f->rooms, f->peers[0].spark, "again") == 1);
    CHECK(f, weft_rooms_has(f->rooms, f->peers[0].spark, "secret") == 0);
    CHECK(f, weft_emitter_leave_all(f->peers[0].em, record_ack, f) == 0);
    f->policy_calls = 100; /* once only; leave-all asks the policy per room */
  }
  if (f->acks == 5 && f->policy_calls > 100 && f->policy_calls < 200) {
    CHECK(f, f->ack_status[4] == 0);
    CHECK(f, weft_rooms_has(f->rooms, f->peers[0].spark, "again") == 0);
    /* Without a policy, clients may not change rooms. */
    weft_rooms_set_client_policy(f->rooms, NULL, NULL, NULL);
    CHECK(f, weft_emitter_join(f->peers[0].em, "later", record_ack, f) == 0);
    f->policy_calls = 200; /* once only */
  }
  if (f->acks == 6) {
    CHECK(f, f->ack_status[5] == WEFT_EREJECTED);
    finish(f);
  }
}

static void test_client_join_policy(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, WITH_ROOMS);
  assert_int_equal(weft_rooms_set_client_policy(f.rooms, policy, &f, NULL), 0);
  f.start = join_start;
  f.on_tick = join_tick;
  fx_run(&f);
  assert_int_equal(f.acks, 6);
  assert_int_equal(f.policy_calls, 200); /* no policy call once it is removed */
  assert_string_equal(f.ack_value[1], "\"authorization refused\"");
  assert_string_equal(f.ack_value[4], "null"); /* leave-all resolved */
  assert_string_equal(f.ack_value[5], "\"clients may not change rooms here\"");
}

/* ------------------------------------------------------------------------ */
/* Channels: independent flow per channel, pause/resume, end handshake      */
/* ------------------------------------------------------------------------ */

#define CH_MSGS 100

static int ch_index(weft_channel *ch) {
  const char *n = weft_channel_name(ch);
  return n[0] == 'a' ? 0 : n[0] == 'b' ? 1 : n[0] == 'v' ? 2 : 3;
}

static void sch_data(weft_channel *ch, const weft_value *msg, void *user) {
  fx *f = user;
  int i = ch_index(ch);
  int64_t seq = -1;
  weft_value_get_int(msg, &seq);
  if (i == 0 && seq != f->sch_got[0]) f->sch_seq_bad++;
  f->sch_got[i]++;
}

static void sch_end(weft_channel *ch, void *user) {
  fx *f = user;
  f->sch_ends++;
  f->sch[ch_index(ch)] = NULL;
}

static void srv_ch_open(weft_channel *ch, void *user) {
  fx *f = user;
  weft_channel_events ev = {.size = sizeof(ev), .data = sch_data, .end = sch_end};
  CHECK(f, weft_channel_set_events(ch, &ev, f, NULL) == 0);
  CHECK(f, weft_channel_spark(ch) == f->peers[0].spark);
  f->sch[ch_index(ch)] = ch;
  if (ch_index(ch) == 0 || ch_index(ch) == 2) weft_channel_pause(ch); /* "a", "v" */
}

static void cch_data(weft_channel *ch, const weft_value *msg, void *user) {
  fx *f = user;
  (void)ch, (void)msg;
  f->cch_got++;
}

static void cch_end(weft_channel *ch, void *user) {
  (void)ch;
  ((fx *)user)->cch_ends++;
}

static void cch_drain(weft_channel *ch, void *user) {
  (void)ch;
  ((fx *)user)->drains++;
}

static void cli_ch_open(weft_channel *ch, void *user) {
  fx *f = user;
  weft_channel_events ev = {.size = sizeof(ev), .data = cch_data, .end = cch_end};
  CHECK(f, weft_channel_set_events(ch, &ev, f, NULL) == 0);
}

static weft_channel *cch_a;

static void ch_start(fx *f) {
  peer *p = &f->peers[0];
  weft_channel *a, *b;
  CHECK(f, weft_channel_open(p->chs, NULL, "a", &a) == 0);
  CHECK(f, weft_channel_open(p->chs, NULL, "b", &b) == 0);
  weft_channel_events ev = {.size = sizeof(ev), .end = cch_end, .drain = cch_drain};
  weft_channel_set_events(a, &ev, f, NULL);
  weft_channel_set_events(b, &ev, f, NULL);
  cch_a = a;
  int queued = 0;
  for (int i = 0; i < CH_MSGS; i++) {
    weft_value *v = weft_value_new_int(i);
    int rc = weft_channel_write(a, v);
    CHECK(f, rc == 0 || rc == 1);
    queued += rc == 1;
    weft_value_free(v);
  }
  CHECK(f, queued == CH_MSGS - 8); /* the window is 8 */
  CHECK(f, weft_channel_queued(a) == CH_MSGS - 8);
  for (int i = 0; i < 5; i++) {
    weft_value *v = weft_value_new_int(i);
    CHECK(f, weft_channel_write(b, v) == 0);
    weft_value_free(v);
  }
  weft_value *plain = parse("{\"type\":2}");
  CHECK(f, weft_client_write(p->c, plain) == 0); /* no "ch": an ordinary message */
  weft_value_free(plain);
}

static void ch_tick(fx *f) {
  if (getenv("EXT_DEBUG") && f->ticks % 50 == 0)
    fprintf(stderr, "tick %d got %d %d cch %d drains %d ends %d %d sch0 %p\n", f->ticks,
            f->sch_got[0], f->sch_got[1], f->cch_got, f->drains, f->sch_ends, f->cch_ends,
            (void *)f->sch[0]);
  if (f->ticks == 10) {
    /* "a" is paused at the server: one window arrived and waits; "b" flowed. */
    CHECK(f, f->sch_got[0] == 0);
    CHECK(f, f->sch_got[1] == 5);
    CHECK(f, f->srv_datas == 1);
    CHECK(f, weft_channel_queued(cch_a) == CH_MSGS - 8);
    if (f->sch[0]) weft_channel_resume(f->sch[0]);
    /* The server opens a channel of its own towards the client. */
    weft_channel *c;
    CHECK(f, weft_channel_open(f->schs, f->peers[0].spark, "c", &c) == 0);
    weft_channel_events ev = {.size = sizeof(ev), .end = sch_end};
    weft_channel_set_events(c, &ev, f, NULL);
    weft_value *v = weft_value_new_string("hi", 2);
    CHECK(f, weft_channel_write(c, v) == 0);
    weft_value_free(v);
  }
  if (f->ticks > 10 && f->sch_got[0] == CH_MSGS && f->cch_got == 1 && f->drains == 1 && f->sch[0]) {
    CHECK(f, weft_channel_end(f->sch[0]) == 0);
    CHECK(f, weft_channel_end(f->sch[0]) == WEFT_ECLOSED);
  }
  if (f->sch_ends == 1 && f->cch_ends == 1) {
    /* The rest end with the connection. */
    weft_client_destroy(f->peers[0].c);
    f->peers[0].c = NULL;
  }
  if (f->sch_ends == 3) finish(f); /* a, b and c */
}

static void test_channels(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, WITH_CHANNELS);
  assert_int_equal(weft_channels_set_window(f.schs, 8), 0);
  assert_int_equal(weft_channels_set_window(f.peers[0].chs, 8), 0);
  assert_int_equal(weft_channels_on_open(f.schs, srv_ch_open, &f, NULL), 0);
  assert_int_equal(weft_channels_on_open(f.peers[0].chs, cli_ch_open, &f, NULL), 0);
  f.start = ch_start;
  f.on_tick = ch_tick;
  fx_run(&f);
  assert_int_equal(f.sch_got[0], CH_MSGS);
  assert_int_equal(f.sch_seq_bad, 0);
  assert_int_equal(f.sch_got[1], 5);
  assert_int_equal(f.drains, 1);
  assert_int_equal(f.sch_ends, 3);
  assert_int_equal(f.ch_errors, 0);
}

/* Malformed channel packets, a window overrun, a refused channel. */
static void chbad_start(fx *f) {
  peer *p = &f->peers[0];
  const char *bad[] = {
      "{\"type\":2,\"ch\":\"\",\"data\":1}",
      "{\"type\":2,\"ch\":5,\"data\":1}",
      "{\"type\":2,\"ch\":\"x\"}",
      "{\"type\":4,\"ch\":\"x\",\"credit\":0}",
      "{\"type\":4,\"ch\":\"x\",\"credit\":\"a\"}",
      "{\"type\":4,\"ch\":\"x\"}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    weft_value *v = parse(bad[i]);
    CHECK(f, weft_client_write(p->c, v) == 0);
    weft_value_free(v);
  }
  /* Six messages on "v" (paused at the server, window 4) without credit. */
  for (int i = 0; i < 6; i++) {
    weft_value *v = parse("{\"type\":2,\"ch\":\"v\",\"data\":0}");
    CHECK(f, weft_client_write(p->c, v) == 0);
    weft_value_free(v);
  }
  /* An end and a credit for channels that do not exist: ignored. */
  weft_value *v = parse("{\"type\":3,\"ch\":\"ghost\"}");
  weft_client_write(p->c, v);
  weft_value_free(v);
  v = parse("{\"type\":4,\"ch\":\"ghost\",\"credit\":3}");
  weft_client_write(p->c, v);
  weft_value_free(v);
  /* Misuse. */
  weft_channel *c;
  CHECK(f, weft_channel_open(NULL, NULL, "a", &c) == WEFT_EINVAL);
  CHECK(f, weft_channel_open(p->chs, p->spark, "a", &c) == WEFT_EINVAL); /* spark on a client */
  CHECK(f, weft_channel_open(f->schs, NULL, "a", &c) == WEFT_EINVAL);    /* none on a server */
  CHECK(f, weft_channel_open(p->chs, NULL, "", &c) == WEFT_EINVAL);
  CHECK(f, weft_channel_open(p->chs, NULL, "\xff", &c) == WEFT_EINVAL);
  CHECK(f, weft_channel_write(NULL, NULL) == WEFT_EINVAL);
  CHECK(f, weft_channel_end(NULL) == WEFT_EINVAL);
  CHECK(f, weft_channels_set_window(f->schs, 0) == WEFT_EINVAL);
  weft_channel_events short_ev = {.size = 1};
  CHECK(f, weft_channel_open(p->chs, NULL, "ok", &c) == 0);
  CHECK(f, weft_channel_set_events(c, &short_ev, NULL, NULL) == WEFT_EINVAL);
}

static void chbad_tick(fx *f) {
  if (f->ticks < 20) return;
  CHECK(f, weft_channels_set_window(f->schs, 5) == WEFT_ESTATE); /* channels exist */
  finish(f);
}

static void test_channels_bad_input(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, WITH_CHANNELS);
  assert_int_equal(weft_channels_set_window(f.schs, 4), 0);
  assert_int_equal(weft_channels_on_open(f.schs, srv_ch_open, &f, NULL), 0);
  f.start = chbad_start;
  f.on_tick = chbad_tick;
  fx_run(&f);
  /* 6 malformed + 2 beyond the window. */
  assert_int_equal(f.ch_errors, 8);
  assert_int_equal(f.sch_got[2], 0);
  assert_int_equal(f.srv_datas, 0);
}

/* ------------------------------------------------------------------------ */
/* Batching both ways with msgpack: order kept, nothing lost                */
/* ------------------------------------------------------------------------ */

#define BATCH_MSGS 300

static void batch_srv_data(weft_spark *spark, const weft_value *msg, void *user) {
  ((fx *)user)->srv_datas++;
  weft_spark_write(spark, msg); /* echoed: batched again */
}

static void batch_peer_data(peer *p, const weft_value *msg) {
  int64_t seq = -1;
  if (weft_value_get_int(msg, &seq) == 0 && seq != p->room_msgs) p->errors++;
  p->room_msgs++;
}

static void batch_start(fx *f) {
  for (int i = 0; i < BATCH_MSGS; i++) {
    weft_value *v = weft_value_new_int(i);
    CHECK(f, weft_client_write(f->peers[0].c, v) == 0);
    weft_value_free(v);
  }
}

static void batch_tick(fx *f) {
  if (f->peers[0].room_msgs < BATCH_MSGS) return;
  f->cch_got = f->peers[0].room_msgs; /* the peers are freed by fx_run */
  f->cli_errors = f->peers[0].errors;
  finish(f);
}

static void test_batching_msgpack(void **state) {
  (void)state;
  fx f;
  memset(&f, 0, sizeof(f));
  /* fx_init listens at once: set the server up by hand. */
  assert_int_equal(weft_loop_new(&f.loop), 0);
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  weft_server_events ev = {
      .size = sizeof(ev), .connection = srv_connection, .data = batch_srv_data};
  assert_int_equal(weft_server_set_events(f.server, &ev, &f, NULL), 0);
  assert_int_equal(weft_server_set_parser(f.server, "msgpack"), 0);
  assert_int_equal(weft_server_set_batching(f.server, 1000), 0); /* several batches */
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  assert_int_equal(weft_server_set_batching(f.server, 10), WEFT_ESTATE);
  snprintf(f.url, sizeof(f.url), "ws://127.0.0.1:%d/primus?i=0", weft_server_port(f.server));
  uv_timer_init(weft_loop_uv(f.loop), &f.guard);
  uv_timer_init(weft_loop_uv(f.loop), &f.tick);
  f.guard.data = f.tick.data = &f;
  uv_timer_start(&f.guard, on_guard, 30000, 0);
  f.npeers = 1;
  f.peers = calloc(1, sizeof(peer));
  peer *p = &f.peers[0];
  p->f = &f;
  assert_int_equal(weft_client_new(f.loop, f.url, &p->c), 0);
  weft_client_events ce = {.size = sizeof(ce), .open = cli_open, .data = cli_data};
  assert_int_equal(weft_client_set_events(p->c, &ce, p, NULL), 0);
  assert_int_equal(weft_client_set_parser(p->c, "msgpack"), 0);
  assert_int_equal(weft_client_set_batching(p->c, 512), 0);
  f.start = batch_start;
  f.on_tick = batch_tick;
  f.peer_data = batch_peer_data;
  assert_int_equal(weft_client_open(p->c), 0);
  fx_run(&f);
  assert_int_equal(f.srv_datas, BATCH_MSGS);
  assert_int_equal(f.cch_got, BATCH_MSGS);
  assert_int_equal(f.cli_errors, 0);
}

static void test_batching_misuse(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  weft_client *c;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_set_batching(NULL, 10), WEFT_EINVAL);
  assert_int_equal(weft_server_set_parser(s, "raw"), 0);
  assert_int_equal(weft_server_set_batching(s, 10), WEFT_EUNSUPPORTED);
  assert_int_equal(weft_server_set_batching(s, 0), 0);
  assert_int_equal(weft_client_new(loop, "ws://127.0.0.1:9/primus", &c), 0);
  assert_int_equal(weft_client_set_batching(NULL, 10), WEFT_EINVAL);
  assert_int_equal(weft_client_set_parser(c, "raw"), 0);
  assert_int_equal(weft_client_set_batching(c, 10), WEFT_EUNSUPPORTED);
  weft_client_destroy(c);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* A channel's own events may end the connection under it. */
static void kill_data(weft_channel *ch, const weft_value *msg, void *user) {
  fx *f = user;
  (void)msg;
  f->sch_got[3]++;
  weft_spark_end(weft_channel_spark(ch), NULL, 0); /* ends every channel of the spark */
}

static void kill_end(weft_channel *ch, void *user) {
  (void)ch;
  ((fx *)user)->sch_ends++;
}

static void kill_open(weft_channel *ch, void *user) {
  weft_channel_events ev = {.size = sizeof(ev), .data = kill_data, .end = kill_end};
  weft_channel_set_events(ch, &ev, user, NULL);
}

static void kill_start(fx *f) {
  weft_channel *a, *b;
  CHECK(f, weft_channel_open(f->peers[0].chs, NULL, "other", &b) == 0);
  CHECK(f, weft_channel_open(f->peers[0].chs, NULL, "kill", &a) == 0);
  weft_value *v = weft_value_new_int(1);
  CHECK(f, weft_channel_write(b, v) == 0); /* opens "other" at the server first */
  CHECK(f, weft_channel_write(a, v) == 0);
  CHECK(f, weft_channel_write(a, v) == 0); /* after the end: dropped */
  weft_value_free(v);
}

static void kill_tick(fx *f) {
  if (f->ticks >= 30) finish(f);
}

static void test_channel_event_ends_connection(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 1, WITH_CHANNELS);
  assert_int_equal(weft_channels_on_open(f.schs, kill_open, &f, NULL), 0);
  f.start = kill_start;
  f.on_tick = kill_tick;
  fx_run(&f);
  /* The first message ("other") ends the connection from inside its data
   * event: that channel's end runs there, and nothing after it arrives. */
  assert_int_equal(f.sch_got[3], 1);
  assert_int_equal(f.sch_ends, 1);
}

int main(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ack_round_trips),
      cmocka_unit_test(test_ack_timeout_late_and_disconnect),
      cmocka_unit_test(test_bad_packets),
      cmocka_unit_test(test_errors_routed_and_dropped_replies),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_rooms_with_exceptions),
      cmocka_unit_test(test_recipients),
      cmocka_unit_test(test_recipients_state),
      cmocka_unit_test(test_client_join_policy),
      cmocka_unit_test(test_channels),
      cmocka_unit_test(test_channels_bad_input),
      cmocka_unit_test(test_channel_event_ends_connection),
      cmocka_unit_test(test_batching_msgpack),
      cmocka_unit_test(test_batching_misuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
