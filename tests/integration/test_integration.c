/*
 * The server through real sockets on 127.0.0.1: the server runs on the loop
 * in the main thread, a client thread speaks WebSocket by hand (support/
 * wsclient.c) and records the first failed check; the main thread asserts
 * after joining it. Also run under valgrind and ASan by `make test`.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "http_answer.h"
#include "transport/ws/codec.h"
#include "weft/options.h"
#include "weft/plugin.h"
#include "weft/weft.h"
#include "wsclient.h"

typedef struct fixture fixture;
struct fixture {
  weft_loop *loop;
  weft_server *server;
  int port;
  void (*configure)(fixture *f);
  void (*client)(fixture *f);
  pthread_t thread;
  char fail[512];
  /* loop-thread observations, read after the join */
  int connections, disconnections, errors, closed, drains;
  char error_kinds[256];
  int flood_first_full, flood_nobufs;
  int tiny_nobufs; /* "tinies": the write refused first (1-based) */
  int tiny_got;    /* and the messages the client then read */
  int small_full;  /* "smalls:N": the first write that said "above the mark" */
  char order[128];
  int plugin_destroys;
  int user_frees, foreach_seen, idgen_calls, reconnect_destroy;
  char addresses[128]; /* each spark's, as it opens */
  weft_spark *paused;  /* by "pause", resumed by resume_paused */
  char at_open[256];   /* what a spark's request said at its connection event */
};

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      if (!f->fail[0]) snprintf(f->fail, sizeof(f->fail), "line %d: %s", __LINE__, #cond);         \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

/* ---- the server side ---- */

static int str_is(const weft_value *v, const char *prefix, const char **rest) {
  const char *s;
  size_t n, k = strlen(prefix);
  if (weft_value_get_string(v, &s, &n) != 0 || n < k || memcmp(s, prefix, k) != 0) return 0;
  if (rest) *rest = s + k;
  return 1;
}

static void reply_str(weft_spark *sp, const char *s) {
  weft_value *v = s ? weft_value_new_string(s, strlen(s)) : weft_value_new_null();
  weft_spark_write(sp, v);
  weft_value_free(v);
}

static void on_connection(weft_spark *sp, void *user) {
  fixture *f = user;
  f->connections++;
  size_t n = strlen(f->addresses);
  const char *a = weft_spark_address(sp);
  snprintf(f->addresses + n, sizeof(f->addresses) - n, "%s,", a ? a : "-");
  const char *ua = weft_spark_header(sp, "user-agent"), *ck = weft_spark_header(sp, "cookie");
  const char *url = weft_spark_url(sp);
  snprintf(f->at_open, sizeof(f->at_open), "%s|%s|%s|%zu", ua ? ua : "-", ck ? ck : "-",
           url ? url : "-", weft_spark_header_count(sp));
}

static void on_disconnection(weft_spark *sp, void *user) {
  (void)sp;
  ((fixture *)user)->disconnections++;
}

static void on_drain(weft_spark *sp, void *user) {
  (void)sp;
  ((fixture *)user)->drains++;
}

static void on_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  fixture *f = user;
  (void)s, (void)sp;
  f->errors++;
  size_t n = strlen(f->error_kinds);
  snprintf(f->error_kinds + n, sizeof(f->error_kinds) - n, "%s,", e->kind);
}

static void on_close(weft_server *s, void *user) {
  (void)s;
  ((fixture *)user)->closed = 1;
}

static void count_user_free(void *user) { ((fixture *)user)->user_frees++; }

/* Ends every other spark it meets: ending during a walk must be safe. */
static int count_and_greet(weft_spark *sp, void *user) {
  fixture *f = user;
  f->foreach_seen++;
  reply_str(sp, "hello from foreach");
  if (f->foreach_seen == 2) weft_spark_end(sp, NULL, 0);
  return 0;
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  fixture *f = user;
  const char *rest;
  if (str_is(msg, "end", NULL) && weft_value_len(msg) == 3) {
    weft_spark_end(sp, NULL, 0);
  } else if (str_is(msg, "end-reconnect", NULL)) {
    weft_spark_end(sp, NULL, WEFT_END_RECONNECT);
  } else if (str_is(msg, "end-error", NULL)) {
    if (weft_spark_end(sp, NULL, 4) == WEFT_EINVAL) /* an unknown flag: nothing happens */
      weft_spark_end(sp, NULL, WEFT_END_ERROR);
  } else if (str_is(msg, "pause", NULL)) {
    f->paused = sp;
    int a = weft_spark_pause(sp), b = weft_spark_pause(sp); /* twice is once */
    reply_str(sp, a == 0 && b == 0 ? "paused" : "pause failed");
  } else if (str_is(msg, "bcast:", &rest)) {
    weft_value *v = weft_value_new_string(rest, strlen(rest));
    weft_server_write(f->server, v);
    weft_value_free(v);
  } else if (str_is(msg, "query:", &rest)) {
    reply_str(sp, weft_spark_query(sp, rest));
  } else if (str_is(msg, "header:", &rest)) {
    reply_str(sp, weft_spark_header(sp, rest));
  } else if (str_is(msg, "url", NULL)) {
    reply_str(sp, weft_spark_url(sp));
  } else if (str_is(msg, "hcount", NULL)) {
    char n[16];
    snprintf(n, sizeof(n), "%zu", weft_spark_header_count(sp));
    reply_str(sp, n);
  } else if (str_is(msg, "hat:", &rest)) {
    const char *name, *value;
    char pair[256];
    if (weft_spark_header_at(sp, (size_t)atoi(rest), &name, &value) == 0) {
      snprintf(pair, sizeof(pair), "%s=%s", name, value);
      reply_str(sp, pair);
    } else {
      reply_str(sp, NULL);
    }
  } else if (str_is(msg, "address", NULL)) {
    reply_str(sp, weft_spark_address(sp));
  } else if (str_is(msg, "raw", NULL)) {
    weft_spark_write_raw(sp, "{\"pre\":\"encoded\"}", 17, 0);
    weft_spark_write_raw(sp, "\x01\x02", 2, 1);
    if (weft_spark_write_raw(sp, "\xff", 1, 0) == WEFT_EUTF8) reply_str(sp, "utf8 refused");
  } else if (str_is(msg, "burst:", &rest)) {
    /* "burst:3,B,2": three writes, a broadcast of "B", two more writes. */
    int a = 0, b = 0;
    char mid[16] = "";
    sscanf(rest, "%d,%15[^,],%d", &a, mid, &b);
    char m[32];
    for (int i = 0; i < a + b; i++) {
      if (i == a && mid[0]) {
        weft_value *v = weft_value_new_string(mid, strlen(mid));
        weft_server_write(f->server, v);
        weft_value_free(v);
      }
      snprintf(m, sizeof(m), "m%d", i);
      reply_str(sp, m);
    }
  } else if (str_is(msg, "foreach", NULL)) {
    f->foreach_seen = 0;
    weft_server_foreach(f->server, count_and_greet, f);
    char n[16];
    snprintf(n, sizeof(n), "%d", f->foreach_seen);
    reply_str(sp, n);
  } else if (str_is(msg, "lookup", NULL)) {
    reply_str(sp, weft_server_spark(f->server, weft_spark_id(sp)) == sp ? "found" : "missing");
  } else if (str_is(msg, "user", NULL)) {
    weft_spark_set_user(sp, f, count_user_free);
    reply_str(sp, weft_spark_get_user(sp) == f ? "set" : "unset");
  } else if (str_is(msg, "gather:", &rest)) {
    /* "gather:N": N messages in one turn, small and large, text and
     * binary, the i-th carrying i (see gather_client). */
    int n = atoi(rest);
    char m[256];
    uint8_t b[200];
    for (int i = 0; i < n; i++) {
      weft_value *v;
      if (i % 10 == 9) {
        memset(b, i & 0xff, sizeof(b));
        v = weft_value_new_binary(b, (size_t)(i % 200));
      } else {
        int k = snprintf(m, sizeof(m), "g%d:", i);
        memset(m + k, 'x', (size_t)(i % 150));
        v = weft_value_new_string(m, (size_t)k + (size_t)(i % 150));
      }
      weft_spark_write(sp, v);
      weft_value_free(v);
    }
  } else if (str_is(msg, "smalls:", &rest)) {
    char m[16];
    for (int i = 0, n = atoi(rest); i < n; i++) {
      snprintf(m, sizeof(m), "s%d", i);
      weft_value *v = weft_value_new_string(m, strlen(m));
      if (weft_spark_write(sp, v) == 1 && !f->small_full) f->small_full = i + 1;
      weft_value_free(v);
    }
  } else if (str_is(msg, "amount", NULL)) {
    char a[48];
    snprintf(a, sizeof(a), "%zu,%d", weft_spark_buffered_amount(sp), f->drains);
    reply_str(sp, a);
  } else if (str_is(msg, "tinies", NULL)) {
    weft_value *v = weft_value_new_string("t", 1);
    for (int i = 0; i < 100000 && !f->tiny_nobufs; i++)
      if (weft_spark_write(sp, v) == WEFT_ENOBUFS) f->tiny_nobufs = i + 1;
    weft_value_free(v);
  } else if (str_is(msg, "flood", NULL)) {
    static const uint8_t chunk[65536];
    weft_value *v = weft_value_new_binary(chunk, sizeof(chunk));
    for (int i = 0; i < 2000; i++) {
      int rc = weft_spark_write(sp, v);
      if (rc == 1 && !f->flood_first_full) f->flood_first_full = i + 1;
      if (rc == WEFT_ENOBUFS) {
        f->flood_nobufs = i + 1;
        break;
      }
    }
    weft_value_free(v);
  } else {
    weft_spark_write(sp, msg);
  }
}

static void *client_main(void *arg) {
  fixture *f = arg;
  f->client(f);
  return NULL;
}

static void destroy_server(void *arg) {
  fixture *f = arg;
  weft_destroy_options o = {sizeof(o), f->reconnect_destroy, 500};
  if (!f->closed) weft_server_destroy(f->server, &o);
}

static void client_done(fixture *f) { weft_loop_post(f->loop, destroy_server, f); }

static void run(fixture *f) {
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events ev = {sizeof(ev), on_connection, on_disconnection, on_data,
                           on_drain,   on_error,      on_close};
  assert_int_equal(weft_server_set_events(f->server, &ev, f, NULL), 0);
  if (f->configure) f->configure(f);
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/primus"), 0);
  f->port = weft_server_port(f->server);
  assert_true(f->port > 0);
  void (*client)(fixture *) = f->client;
  (void)client;
  assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  pthread_join(f->thread, NULL);
  if (f->fail[0]) fail_msg("client: %s", f->fail);
  assert_true(f->closed);
  assert_int_equal(f->connections, f->disconnections);
  assert_int_equal(weft_loop_close(f->loop), 0);
}

/* Wraps a client body so it always posts the end of the test. */
#define CLIENT(name)                                                                               \
  static void name##_body(fixture *f);                                                             \
  static void name(fixture *f) {                                                                   \
    name##_body(f);                                                                                \
    client_done(f);                                                                                \
  }                                                                                                \
  static void name##_body(fixture *f)

static int open_ws(fixture *f, wsc *c, const char *target) {
  return wsc_connect(c, f->port, target ? target : "/primus", NULL, NULL, 0, NULL, 0);
}

static int echo_ok(wsc *c, const char *json) {
  if (wsc_send_text(c, json) != 0) return 0;
  uint8_t *p;
  size_t n;
  int op = wsc_recv_data(c, &p, &n, 1, 3000);
  if (op != 1) return 0;
  weft_value *a = NULL, *b = NULL;
  int ok = weft_value_decode("json", json, strlen(json), &a, NULL) == 0 &&
           weft_value_decode("json", p, n, &b, NULL) == 0 && weft_value_equal(a, b);
  weft_value_free(a);
  weft_value_free(b);
  return ok;
}

/* ---- tests ---- */

CLIENT(echo_client) {
  wsc c;
  CHECK(open_ws(f, &c,
                "/primus?&&_primuscb=123&name=J%C3%BCrgen&x=1&x=2&sp=a+b&bad=%zz%4&eq=x%3Dy=z&flag"
                "&=anon&") == 101);
  CHECK(echo_ok(&c, "{\"a\":[1,2.5,\"x\",true,null],\"u\":\"\\u2028 \xc3\xa9 \xf0\x9f\x98\x80\"}"));
  CHECK(echo_ok(&c, "\"\""));
  CHECK(echo_ok(&c, "-9223372036854775808"));
  CHECK(echo_ok(&c, "\"primus::unknown::x\""));
  /* U+2028 leaves escaped, as Primus sends it. */
  CHECK(wsc_send_text(&c, "\"\xe2\x80\xa8\"") == 0);
  uint8_t *p;
  size_t n;
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1);
  CHECK(n == 8 && memcmp(p, "\"\\u2028\"", 8) == 0);
  /* Binary frames pass through the json parser untouched. */
  const uint8_t bin[5] = {0, 1, 2, 0xff, 0xfe};
  CHECK(wsc_send_frame(&c, 2, 1, 0, bin, sizeof(bin), 0) == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 2);
  CHECK(n == 5 && memcmp(p, bin, 5) == 0);
  /* Fragmented message with a ping in between. */
  CHECK(wsc_send_frame(&c, 1, 0, 0, "[1,", 3, 0) == 0);
  CHECK(wsc_send_frame(&c, 9, 1, 0, "hi", 2, 0) == 0);
  CHECK(wsc_send_frame(&c, 0, 1, 0, "2]", 2, 0) == 0);
  CHECK(wsc_recv(&c, &p, &n, NULL, 3000) == 10 && n == 2 && memcmp(p, "hi", 2) == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 5 && memcmp(p, "[1,2]", 5) == 0);
  /* primus::id:: is answered with the spark id. */
  CHECK(wsc_send_text(&c, "\"primus::id::\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1);
  CHECK(n == 14 + 21 && memcmp(p, "\"primus::id::", 13) == 0);
  /* Query, headers and address. */
  CHECK(wsc_send_text(&c, "\"query:name\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1);
  CHECK(n == 9 && memcmp(p, "\"J\xc3\xbcrgen\"", 9) == 0);
  CHECK(wsc_send_text(&c, "\"query:x\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 3 && memcmp(p, "\"2\"", 3) == 0);
  /* '+' is a space, bad escapes stay, '=' after the first is the value's,
   * a part without '=' has an empty value, empty parts are skipped. */
  static const char *const q[][2] = {{"sp", "\"a b\""},   {"bad", "\"%zz%4\""},
                                     {"eq", "\"x=y=z\""}, {"flag", "\"\""},
                                     {"", "\"anon\""},    {"_primuscb", "\"123\""}};
  for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
    char ask[32];
    snprintf(ask, sizeof(ask), "\"query:%s\"", q[i][0]);
    CHECK(wsc_send_text(&c, ask) == 0);
    CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == strlen(q[i][1]) &&
          memcmp(p, q[i][1], n) == 0);
  }
  CHECK(wsc_send_text(&c, "\"header:sec-websocket-version\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 4 && memcmp(p, "\"13\"", 4) == 0);
  CHECK(wsc_send_text(&c, "\"address\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && memcmp(p, "\"127.0.0.1\"", 11) == 0);
  /* A client-initiated close is answered with the same code. */
  CHECK(wsc_send_frame(&c, 8, 1, 0, "\x0f\xa0", 2, 0) == 0);
  CHECK(wsc_expect_close(&c, 3000) == 4000);
  wsc_close(&c);
}

static void test_echo(void **state) {
  (void)state;
  fixture f = {.client = echo_client};
  run(&f);
  assert_int_equal(f.connections, 1);
}

/* A query with nothing to decode (read by another path): the same rules. */
CLIENT(query_client) {
  wsc c;
  CHECK(open_ws(f, &c, "/primus?&&flag&=anon&eq=x=y&a=1&&x=1&x=2&") == 101);
  static const char *const q[][2] = {
      {"flag", "\"\""}, {"", "\"anon\""}, {"eq", "\"x=y\""}, {"a", "\"1\""}, {"x", "\"2\""}};
  for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
    char ask[32];
    uint8_t *p;
    size_t n;
    snprintf(ask, sizeof(ask), "\"query:%s\"", q[i][0]);
    CHECK(wsc_send_text(&c, ask) == 0);
    CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == strlen(q[i][1]) &&
          memcmp(p, q[i][1], n) == 0);
  }
  wsc_close(&c);
}

static void test_query(void **state) {
  (void)state;
  fixture f = {.client = query_client};
  run(&f);
  assert_int_equal(f.connections, 1);
}

/* What a spark keeps of its request after the connection event
 * (weft_server_set_kept_headers, weft_server_set_keep_url). */
static int asks(wsc *c, const char *ask, const char *want) {
  uint8_t *p;
  size_t n;
  if (wsc_send_text(c, ask) != 0 || wsc_recv_data(c, &p, &n, 1, 3000) != 1) return 0;
  return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void keep_ua(fixture *f) {
  const char *names[] = {"User-Agent", "x-none"};
  assert_int_equal(weft_server_set_kept_headers(f->server, names, 2), 0);
  assert_int_equal(weft_server_set_keep_url(f->server, 0), 0);
}

static void keep_url_only(fixture *f) {
  const weft_value *none = NULL;
  weft_value *v = NULL;
  assert_int_equal(weft_value_decode("json", "[]", 2, &v, NULL), 0);
  none = v;
  assert_int_equal(weft_server_set_option(f->server, "kept_headers", none), 0);
  weft_value_free(v);
}

#define KEPT_HEAD "User-Agent: t/1\r\nCookie: sid=abc\r\nX-A: 1\r\n"

CLIENT(kept_ua_client) {
  wsc c;
  CHECK(wsc_connect(&c, f->port, "/primus?x=1", KEPT_HEAD, NULL, 0, NULL, 0) == 101);
  CHECK(asks(&c, "\"header:user-agent\"", "\"t/1\""));
  CHECK(asks(&c, "\"header:cookie\"", "null"));
  CHECK(asks(&c, "\"header:host\"", "null"));
  CHECK(asks(&c, "\"hcount\"", "\"1\""));
  CHECK(asks(&c, "\"url\"", "null"));
  CHECK(asks(&c, "\"query:x\"", "\"1\""));
  CHECK(asks(&c, "\"address\"", "\"127.0.0.1\""));
  wsc_close(&c);
}

CLIENT(kept_url_client) {
  wsc c;
  CHECK(wsc_connect(&c, f->port, "/primus?x=1", KEPT_HEAD, NULL, 0, NULL, 0) == 101);
  CHECK(asks(&c, "\"hcount\"", "\"0\""));
  CHECK(asks(&c, "\"header:user-agent\"", "null"));
  CHECK(asks(&c, "\"url\"", "\"/primus?x=1\""));
  CHECK(asks(&c, "\"query:x\"", "\"1\""));
  wsc_close(&c);
}

static void test_kept_request(void **state) {
  (void)state;
  /* The whole request at the connection event, then only what is kept. */
  fixture f = {.client = kept_ua_client, .configure = keep_ua};
  run(&f);
  assert_int_equal(f.connections, 1);
  assert_string_equal(f.at_open, "t/1|sid=abc|/primus?x=1|8");
  fixture g = {.client = kept_url_client, .configure = keep_url_only};
  run(&g);
  assert_string_equal(g.at_open, "t/1|sid=abc|/primus?x=1|8");
  /* Bad input: nothing changes, nothing aborts. */
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  const char *empty[] = {""}, *space[] = {"user agent"}, *null[] = {NULL}, *colon[] = {"a:b"};
  assert_int_equal(weft_server_set_kept_headers(NULL, NULL, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_set_keep_url(NULL, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_set_kept_headers(s, empty, 1), WEFT_EINVAL);
  assert_int_equal(weft_server_set_kept_headers(s, space, 1), WEFT_EINVAL);
  assert_int_equal(weft_server_set_kept_headers(s, null, 1), WEFT_EINVAL);
  assert_int_equal(weft_server_set_kept_headers(s, colon, 1), WEFT_EINVAL);
  weft_value *v = NULL;
  assert_int_equal(weft_value_decode("json", "[\"ok\", 1]", 9, &v, NULL), 0);
  assert_int_not_equal(weft_server_set_option(s, "kept_headers", v), 0);
  weft_value_free(v);
  assert_int_equal(weft_value_decode("json", "\"a\\u0000b\"", 10, &v, NULL), 0);
  weft_value *list = weft_value_new_array();
  weft_value_array_push(list, v);
  assert_int_equal(weft_server_set_option(s, "kept_headers", list), WEFT_EINVAL);
  weft_value_free(list);
  const char *ok[] = {"cookie"};
  assert_int_equal(weft_server_set_kept_headers(s, ok, 1), 0);
  assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:0/primus"), 0);
  assert_int_equal(weft_server_set_kept_headers(s, ok, 1), WEFT_ESTATE);
  assert_int_equal(weft_server_set_keep_url(s, 0), WEFT_ESTATE);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* Heads that differ only in their keys are shared once the connection
 * event has run (decision #41): each spark still reads its own key, and
 * every other line, in order, and reading one spark's head leaves the
 * others' alone. A key that is not canonical base64 is accepted (as
 * Node's ws does) and kept as sent. */
static const char *const share_keys[] = {
    "AAECAwQFBgcICQoLDA0ODw==", "8PHy8/T19vf4+fr7/P3+/w==", "dGhlIHNhbXBsZSBub25jZQ==",
    "dGhlIHNhbXBsZSBub25jZR==", "qqqqqqqqqqqqqqqqqqqqqg=="};

static int asks_key(wsc *c, const char *key) {
  char want[64];
  snprintf(want, sizeof(want), "\"%s\"", key);
  return asks(c, "\"header:sec-websocket-key\"", want);
}

CLIENT(shared_heads_client) {
  wsc c[7];
  char host[64];
  snprintf(host, sizeof(host), "\"127.0.0.1:%d\"", f->port);
  for (int i = 0; i < 4; i++)
    CHECK(wsc_connect_key(&c[i], f->port, "/primus?x=1", "User-Agent: t/1\r\n", share_keys[i]) ==
          101);
  for (int i = 3; i >= 0; i--) {
    CHECK(asks_key(&c[i], share_keys[i]));
    CHECK(asks(&c[i], "\"hcount\"", "\"6\""));
    CHECK(asks(&c[i], "\"header:host\"", host));
    CHECK(asks(&c[i], "\"hat:5\"", "\"User-Agent=t/1\""));
    CHECK(asks(&c[i], "\"hat:6\"", "null"));
    CHECK(asks(&c[i], "\"url\"", "\"/primus?x=1\""));
    CHECK(asks(&c[i], "\"query:x\"", "\"1\""));
  }
  /* The shared copy outlives its readers: a later spark shares it. */
  CHECK(wsc_connect_key(&c[4], f->port, "/primus?x=1", "User-Agent: t/1\r\n", share_keys[4]) ==
        101);
  CHECK(asks(&c[4], "\"hat:3\"", "\"Sec-WebSocket-Key=qqqqqqqqqqqqqqqqqqqqqg==\""));
  CHECK(asks_key(&c[0], share_keys[0]));
  /* Other URLs (Primus's client busts caches with `_primuscb`): the lines
   * are shared, each keeps its own URL and query. */
  const char *urls[] = {"/primus?x=2&_primuscb=Nq1", "/primus?_primuscb=OsD3h2k-7"};
  char want[64];
  for (int i = 5; i < 7; i++) {
    CHECK(wsc_connect_key(&c[i], f->port, urls[i - 5], "User-Agent: t/1\r\n", share_keys[i - 5]) ==
          101);
  }
  for (int i = 5; i < 7; i++) {
    snprintf(want, sizeof(want), "\"%s\"", urls[i - 5]);
    CHECK(asks(&c[i], "\"url\"", want));
    CHECK(asks(&c[i], "\"query:x\"", i == 5 ? "\"2\"" : "null"));
    CHECK(asks_key(&c[i], share_keys[i - 5]));
    CHECK(asks(&c[i], "\"hat:5\"", "\"User-Agent=t/1\""));
  }
  for (int i = 0; i < 7; i++)
    wsc_close(&c[i]);
}

static void test_shared_heads(void **state) {
  (void)state;
  fixture f = {.client = shared_heads_client};
  run(&f);
  assert_int_equal(f.connections, 7);
}

#define UPGRADE_HEAD                                                                               \
  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"                     \
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* RFC 9112 and RFC 6455 strictness (issue #16): a request line too long is
 * 414, a missing or repeated Host 400, a repeated key 400, a body with the
 * upgrade 400; an absolute-form target is served. */
static void http_strictness(fixture *f) {
  char resp[4096];
  static char line[110000];
  int n = snprintf(line, sizeof(line), "GET /primus/");
  memset(line + n, 'a', 100 * 1024);
  strcpy(line + n + 100 * 1024, " HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(wsc_http(f->port, line, resp, sizeof(resp)) == 414);
  CHECK(wsc_http(f->port, "GET /primus/spec HTTP/1.1\r\n\r\n", resp, sizeof(resp)) == 400);
  CHECK(wsc_http(f->port, "GET /primus/spec HTTP/1.0\r\n\r\n", resp, sizeof(resp)) == 200);
  CHECK(wsc_http(f->port, "GET /primus/spec HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", resp,
                 sizeof(resp)) == 400);
  CHECK(wsc_http(f->port, "GET /primus HTTP/1.1\r\n" UPGRADE_HEAD "\r\n", resp, sizeof(resp)) ==
        400);
  CHECK(wsc_http(f->port,
                 "GET /primus HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEAD
                 "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n",
                 resp, sizeof(resp)) == 400);
  CHECK(wsc_http(f->port,
                 "GET /primus HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEAD
                 "Content-Length: 5\r\n\r\nhello",
                 resp, sizeof(resp)) == 400);
  CHECK(wsc_http(f->port,
                 "GET /primus HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEAD
                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 resp, sizeof(resp)) == 400);
  CHECK(wsc_http(f->port, "GET http://127.0.0.1/primus/spec HTTP/1.1\r\nHost: x\r\n\r\n", resp,
                 sizeof(resp)) == 200);
  CHECK(strstr(resp, "\"pathname\":\"/primus\""));
  CHECK(wsc_http(f->port, "GET HTTPS://h:1/primus?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", resp,
                 sizeof(resp)) == 426); /* under the path, not an upgrade */
  CHECK(wsc_http(f->port, "GET http://h/other HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp)) ==
        404);
}

CLIENT(http_client) {
  char resp[4096];
  CHECK(wsc_http(f->port, "GET /primus/spec HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp)) ==
        200);
  CHECK(strstr(resp, "\"pingInterval\":30000") && strstr(resp, "\"pathname\":\"/primus\""));
  CHECK(strstr(resp, "\"transformer\":\"websockets\"") && strstr(resp, "\"parser\":\"json\""));
  CHECK(strstr(resp, "application/json"));
  CHECK(wsc_http(f->port, "GET /primus HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp)) == 426);
  CHECK(wsc_http(f->port, "GET /primus/anything HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp)) ==
        426);
  CHECK(wsc_http(f->port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp)) == 404);
  CHECK(wsc_http(f->port, "BLAH\r\n\r\n", resp, sizeof(resp)) == 400);
  CHECK(wsc_http(f->port,
                 "OPTIONS /primus HTTP/1.1\r\nHost: x\r\nOrigin: http://a.test\r\n"
                 "Access-Control-Request-Headers: x-y\r\n\r\n",
                 resp, sizeof(resp)) == 200);
  CHECK(strstr(resp, "Access-Control-Allow-Origin: http://a.test"));
  CHECK(strstr(resp, "Access-Control-Allow-Headers: x-y"));
  char big[12000];
  int n = snprintf(big, sizeof(big), "GET /primus HTTP/1.1\r\nHost: x\r\nX: ");
  memset(big + n, 'a', 10000);
  strcpy(big + n + 10000, "\r\n\r\n");
  CHECK(wsc_http(f->port, big, resp, sizeof(resp)) == 431);
  CHECK(wsc_http(f->port,
                 "GET /primus HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
                 resp, sizeof(resp)) == 426);
  CHECK(strstr(resp, "Sec-WebSocket-Version: 13"));
  CHECK(wsc_http(f->port,
                 "GET /primus HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 resp, sizeof(resp)) == 400);
  http_strictness(f);
}

static void test_http(void **state) {
  (void)state;
  fixture f = {.client = http_client};
  run(&f);
  assert_int_equal(f.connections, 0);
}

static void small_max(fixture *f) { weft_server_set_max_length(f->server, 1024); }

static int good_round(fixture *f, wsc *good, int n) {
  (void)f;
  for (int i = 0; i < n; i++)
    if (!echo_ok(&good[i], "{\"still\":\"here\",\"i\":[1,2,3]}")) return 0;
  return 1;
}

CLIENT(bad_input_client) {
  enum { GOOD = 10 };
  wsc good[GOOD], bad;
  for (int i = 0; i < GOOD; i++)
    CHECK(open_ws(f, &good[i], NULL) == 101);
  CHECK(good_round(f, good, GOOD));

  /* Invalid JSON: an error event, the connection stays. */
  CHECK(open_ws(f, &bad, NULL) == 101);
  CHECK(wsc_send_text(&bad, "{\"a\":") == 0);
  CHECK(wsc_send_text(&bad, "[1,]") == 0);
  CHECK(echo_ok(&bad, "[1]"));
  wsc_close(&bad);
  CHECK(good_round(f, good, GOOD));

  /* Bigger than max_length: 1009, from the header alone. */
  static char big[2000];
  memset(big, 'a', sizeof(big));
  CHECK(open_ws(f, &bad, NULL) == 101);
  CHECK(wsc_send_frame(&bad, 1, 1, 0, big, sizeof(big), 0) == 0);
  CHECK(wsc_expect_close(&bad, 3000) == 1009);
  wsc_close(&bad);
  /* … and in fragments adding up to too much. */
  CHECK(open_ws(f, &bad, NULL) == 101);
  CHECK(wsc_send_frame(&bad, 1, 0, 0, big, 700, 0) == 0);
  CHECK(wsc_send_frame(&bad, 0, 1, 0, big, 700, 0) == 0);
  CHECK(wsc_expect_close(&bad, 3000) == 1009);
  wsc_close(&bad);

  /* Invalid UTF-8 in a text frame: 1007. */
  CHECK(open_ws(f, &bad, NULL) == 101);
  CHECK(wsc_send_frame(&bad, 1, 1, 0, "\"\xc0\x80\"", 4, 0) == 0);
  CHECK(wsc_expect_close(&bad, 3000) == 1007);
  wsc_close(&bad);

  /* Malformed frames: reserved opcode, unmasked, RSV bits: 1002. */
  CHECK(open_ws(f, &bad, NULL) == 101);
  CHECK(wsc_send_frame(&bad, 3, 1, 0, "x", 1, 0) == 0);
  CHECK(wsc_expect_close(&bad, 3000) == 1002);
  wsc_close(&bad);
  CHECK(open_ws(f, &bad, NULL) == 101);
  CHECK(wsc_send_frame(&bad, 1, 1, 0, "\"x\"", 3, 1) == 0);
  CHECK(wsc_expect_close(&bad, 3000) == 1002);
  wsc_close(&bad);
  CHECK(open_ws(f, &bad, NULL) == 101);
  CHECK(wsc_send_frame(&bad, 1, 1, 1, "\"x\"", 3, 0) == 0);
  CHECK(wsc_expect_close(&bad, 3000) == 1002);
  wsc_close(&bad);

  CHECK(good_round(f, good, GOOD));
  for (int i = 0; i < GOOD; i++)
    wsc_close(&good[i]);
}

static void test_bad_input(void **state) {
  (void)state;
  fixture f = {.client = bad_input_client, .configure = small_max};
  run(&f);
  assert_non_null(strstr(f.error_kinds, "json,"));
  assert_non_null(strstr(f.error_kinds, "toobig,"));
  assert_non_null(strstr(f.error_kinds, "utf8,"));
  assert_non_null(strstr(f.error_kinds, "protocol,"));
}

/* Reads for `ms`: counts the heartbeat's pings (answering them when
 * `answer`); -1 when anything else arrives or the connection fails. */
static int pings_for(wsc *c, uint64_t ms, int answer) {
  uint64_t t0 = uv_hrtime();
  int pings = 0;
  while (uv_hrtime() - t0 < ms * 1000000ull) {
    uint8_t *p;
    size_t n;
    int op = wsc_recv(c, &p, &n, NULL, 50);
    if (op == -1) continue;
    if (op != 1 || n <= 15 || memcmp(p, "\"primus::ping::", 15) != 0) return -1;
    if (answer) {
      char pong[96];
      snprintf(pong, sizeof(pong), "\"primus::pong::%.*s", (int)(n - 15), (char *)p + 15);
      if (wsc_send_text(c, pong) != 0) return -1;
    }
    pings++;
  }
  return pings;
}

static void fast_ping(fixture *f) { weft_server_set_ping_interval(f->server, 150); }

CLIENT(ping_client) {
  wsc live, dead;
  CHECK(open_ws(f, &live, NULL) == 101);
  CHECK(open_ws(f, &dead, NULL) == 101);
  /* The live client answers pings for ~5 intervals and is still echoed. */
  CHECK(pings_for(&live, 800, 1) >= 3);
  CHECK(echo_ok(&live, "\"alive\""));
  /* The silent one was dropped with 1001. */
  CHECK(wsc_expect_close(&dead, 1000) == 1001);
  wsc_close(&live);
  wsc_close(&dead);
}

static void test_ping_timeout(void **state) {
  (void)state;
  fixture f = {.client = ping_client, .configure = fast_ping};
  run(&f);
  assert_non_null(strstr(f.error_kinds, "timeout,"));
}

CLIENT(end_client) {
  wsc a, b;
  uint8_t *p;
  size_t n;
  CHECK(open_ws(f, &a, NULL) == 101);
  CHECK(wsc_send_text(&a, "\"end\"") == 0);
  CHECK(wsc_recv_data(&a, &p, &n, 1, 3000) == 1);
  CHECK(n == 23 && memcmp(p, "\"primus::server::close\"", 23) == 0);
  CHECK(wsc_expect_close(&a, 3000) == 1000);
  wsc_close(&a);
  CHECK(open_ws(f, &b, NULL) == 101);
  CHECK(wsc_send_text(&b, "\"end-reconnect\"") == 0);
  CHECK(wsc_recv(&b, &p, &n, NULL, 3000) == 8); /* straight to the close frame */
  wsc_close(&b);
  /* A failed handler: no primus::server::close (the client comes back), 1011. */
  CHECK(open_ws(f, &a, NULL) == 101);
  CHECK(wsc_send_text(&a, "\"end-error\"") == 0);
  CHECK(wsc_recv(&a, &p, &n, NULL, 3000) == 8); /* straight to the close frame */
  CHECK(n >= 2 && ((p[0] << 8) | p[1]) == 1011);
  wsc_close(&a);
}

static void test_end(void **state) {
  (void)state;
  fixture f = {.client = end_client};
  run(&f);
}

static void resume_paused(void *arg) {
  fixture *f = arg;
  assert_int_equal(weft_spark_resume(f->paused), 0);
  assert_int_equal(weft_spark_resume(f->paused), 0); /* resuming a reading spark: nothing */
}

/* A paused spark hears nothing (its messages wait in the kernel) and is not
 * timed out by the heartbeat meanwhile; resumed, it gets them all, in
 * order, from the next loop turn. */
static void ping_100ms(fixture *f) { weft_server_set_ping_interval(f->server, 100); }

CLIENT(pause_client) {
  wsc c;
  uint8_t *p;
  size_t n;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"pause\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 8 && memcmp(p, "\"paused\"", 8) == 0);
  const char *msgs[] = {"\"p1\"", "\"p2\"", "\"p3\"", "\"p4\"", "\"p5\""};
  for (int i = 0; i < 5; i++)
    CHECK(wsc_send_text(&c, msgs[i]) == 0);
  /* 5 heartbeat periods: pings (unanswered) but no echo and no close. */
  CHECK(pings_for(&c, 500, 0) >= 3);
  weft_loop_post(f->loop, resume_paused, f);
  for (int i = 0; i < 5; i++) {
    CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1);
    CHECK(n == 4 && memcmp(p, msgs[i], 4) == 0);
  }
  wsc_close(&c);
}

static void test_pause(void **state) {
  (void)state;
  fixture f = {.client = pause_client, .configure = ping_100ms};
  run(&f);
  assert_null(strstr(f.error_kinds, "timeout,"));
  assert_int_equal(weft_spark_pause(NULL), WEFT_EINVAL);
  assert_int_equal(weft_spark_resume(NULL), WEFT_EINVAL);
}

CLIENT(broadcast_client) {
  enum { N = 3 };
  wsc c[N];
  for (int i = 0; i < N; i++)
    CHECK(open_ws(f, &c[i], NULL) == 101);
  CHECK(wsc_send_text(&c[1], "\"bcast:hello all\"") == 0);
  for (int i = 0; i < N; i++) {
    uint8_t *p;
    size_t n;
    CHECK(wsc_recv_data(&c[i], &p, &n, 1, 3000) == 1);
    CHECK(n == 11 && memcmp(p, "\"hello all\"", 11) == 0);
  }
  for (int i = 0; i < N; i++)
    wsc_close(&c[i]);
}

static void test_broadcast(void **state) {
  (void)state;
  fixture f = {.client = broadcast_client};
  run(&f);
  assert_int_equal(f.connections, 3);
}

/* Authorization answered later, from a posted callback. */
static void answer_auth(void *arg) {
  weft_auth *req = arg;
  const char *token = weft_auth_query(req, "token");
  if (token && strcmp(token, "ok") == 0)
    weft_auth_allow(req);
  else
    weft_auth_deny(req, 403, "nope \"quoted\"");
}

static void authorize(weft_auth *req, void *user) {
  fixture *f = user;
  weft_loop_post(f->loop, answer_auth, req);
}

static void with_auth(fixture *f) { weft_server_set_authorize(f->server, authorize, f, NULL); }

CLIENT(auth_client) {
  wsc c;
  char head[1024], body[256];
  CHECK(wsc_connect(&c, f->port, "/primus?token=bad", NULL, head, sizeof(head), body,
                    sizeof(body)) == 403);
  CHECK(strstr(head, "Content-Type: application/json"));
  CHECK(strcmp(body, "{\"error\":\"nope \\\"quoted\\\"\"}") == 0);
  wsc_close(&c);
  CHECK(wsc_connect(&c, f->port, "/primus", NULL, NULL, 0, NULL, 0) == 403);
  wsc_close(&c);
  CHECK(wsc_connect(&c, f->port, "/primus?token=ok", NULL, NULL, 0, NULL, 0) == 101);
  CHECK(echo_ok(&c, "{\"authorized\":true}"));
  wsc_close(&c);
}

static void test_auth(void **state) {
  (void)state;
  fixture f = {.client = auth_client, .configure = with_auth};
  run(&f);
  assert_int_equal(f.connections, 1);
}

/* Plugins: order, replacing, swallowing, registration errors. */
static int p_incoming(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  fixture *f = user;
  (void)sp;
  strcat(f->order, "A");
  if (str_is(msg, "swallow", NULL)) return WEFT_SWALLOW;
  if (str_is(msg, "replace", NULL)) *rep = weft_value_new_string("replaced", 8);
  if (str_is(msg, "fail", NULL)) return WEFT_EINVAL;
  return WEFT_PASS;
}

static int p2_incoming(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  fixture *f = user;
  (void)sp, (void)rep;
  strcat(f->order, str_is(msg, "replaced", NULL) ? "b" : "B");
  return WEFT_PASS;
}

static int p_outgoing(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)user;
  if (str_is(msg, "secret", NULL)) *rep = weft_value_new_string("***", 3);
  return WEFT_PASS;
}

static void p_connection(weft_spark *sp, void *user) {
  (void)sp;
  strcat(((fixture *)user)->order, "C");
}

static void p_destroy(void *user) { ((fixture *)user)->plugin_destroys++; }

static const weft_plugin_ops plugin_a = {.version = WEFT_PLUGIN_VERSION,
                                         .size = sizeof(weft_plugin_ops),
                                         .name = "a",
                                         .connection = p_connection,
                                         .incoming = p_incoming,
                                         .outgoing = p_outgoing,
                                         .destroy = p_destroy};
static const weft_plugin_ops plugin_b = {.version = WEFT_PLUGIN_VERSION,
                                         .size = sizeof(weft_plugin_ops),
                                         .name = "b",
                                         .incoming = p2_incoming,
                                         .destroy = p_destroy};
static const weft_plugin_ops plugin_old = {
    .version = 99, .size = sizeof(weft_plugin_ops), .name = "old", .destroy = p_destroy};

static void with_plugins(fixture *f) {
  assert_int_equal(weft_server_use(f->server, &plugin_a, f), 0);
  assert_int_equal(weft_server_use(f->server, &plugin_b, f), 0);
  assert_int_equal(weft_server_use(f->server, &plugin_a, f), WEFT_EEXIST);
  assert_int_equal(weft_server_use(f->server, &plugin_old, f), WEFT_EVERSION);
  assert_int_equal(weft_server_use(f->server, NULL, f), WEFT_EINVAL);
  assert_ptr_equal(weft_server_plugin(f->server, "b"), f);
  assert_null(weft_server_plugin(f->server, "zzz"));
  assert_int_equal(f->plugin_destroys, 2); /* the refused ones */
}

CLIENT(plugin_client) {
  wsc c;
  uint8_t *p;
  size_t n;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"swallow\"") == 0);
  CHECK(wsc_send_text(&c, "\"fail\"") == 0);
  CHECK(wsc_send_text(&c, "\"replace\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 10 && memcmp(p, "\"replaced\"", 10) == 0);
  CHECK(wsc_send_text(&c, "\"secret\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 5 && memcmp(p, "\"***\"", 5) == 0);
  CHECK(wsc_send_text(&c, "\"bcast:secret\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 5 && memcmp(p, "\"***\"", 5) == 0);
  wsc_close(&c);
}

static void test_plugins(void **state) {
  (void)state;
  fixture f = {.client = plugin_client, .configure = with_plugins};
  run(&f);
  assert_string_equal(f.order, "CAAAbABAB"); /* swallow stops, fail stops, replace is seen */
  assert_int_equal(f.plugin_destroys, 4);
  assert_non_null(strstr(f.error_kinds, "transform,"));
}

static void with_msgpack(fixture *f) {
  assert_int_equal(weft_server_set_parser(f->server, "xml"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_parser(f->server, "msgpack"), 0);
}

CLIENT(msgpack_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  const char *json = "{\"k\":[1,-2,3.25,\"\xe2\x82\xac\",null,false,{\"n\":{}}]}";
  weft_value *v = NULL;
  uint8_t *enc = NULL, *p;
  size_t elen, n;
  CHECK(weft_value_decode("json", json, strlen(json), &v, NULL) == 0);
  CHECK(weft_value_encode("msgpack", v, &enc, &elen) == 0);
  CHECK(wsc_send_frame(&c, 2, 1, 0, enc, elen, 0) == 0);
  weft_free(enc);
  int op = wsc_recv_data(&c, &p, &n, 0, 3000);
  weft_value *back = NULL;
  int ok =
      op == 2 && weft_value_decode("msgpack", p, n, &back, NULL) == 0 && weft_value_equal(v, back);
  weft_value_free(v);
  weft_value_free(back);
  CHECK(ok);
  /* Garbage: an error event, the connection stays. */
  CHECK(wsc_send_frame(&c, 2, 1, 0, "\xc1", 1, 0) == 0);
  CHECK(wsc_send_frame(&c, 2, 1, 0, "\x93\x01", 2, 0) == 0);
  CHECK(wsc_send_frame(&c, 2, 1, 0, "\xc0", 1, 0) == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 0, 3000) == 2 && n == 1 && p[0] == 0xc0);
  wsc_close(&c);
}

static void test_msgpack(void **state) {
  (void)state;
  fixture f = {.client = msgpack_client, .configure = with_msgpack};
  run(&f);
  assert_non_null(strstr(f.error_kinds, "msgpack,"));
}

static void with_raw(fixture *f) { assert_int_equal(weft_server_set_parser(f->server, "raw"), 0); }

CLIENT(raw_client) {
  wsc c;
  uint8_t *p;
  size_t n;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "plain text, {not json") == 0);
  CHECK(wsc_recv(&c, &p, &n, NULL, 3000) == 1 && n == 21 &&
        memcmp(p, "plain text, {not json", n) == 0);
  CHECK(wsc_send_frame(&c, 2, 1, 0, "\x00\xff\x01", 3, 0) == 0);
  CHECK(wsc_recv(&c, &p, &n, NULL, 3000) == 2 && n == 3 && memcmp(p, "\x00\xff\x01", 3) == 0);
  CHECK(wsc_send_text(&c, "primus::id::") == 0); /* control strings travel bare */
  CHECK(wsc_recv(&c, &p, &n, NULL, 3000) == 1 && n == 12 + 21 &&
        memcmp(p, "primus::id::", 12) == 0);
  CHECK(wsc_send_text(&c, "bcast:to all") == 0);
  CHECK(wsc_recv(&c, &p, &n, NULL, 3000) == 1 && n == 6 && memcmp(p, "to all", 6) == 0);
  CHECK(wsc_send_frame(&c, 1, 1, 0, "\xc0\x80", 2, 0) == 0); /* invalid UTF-8 still closes */
  CHECK(wsc_expect_close(&c, 3000) == 1007);
  wsc_close(&c);
}

static void with_batching(fixture *f) {
  assert_int_equal(weft_server_set_batching(f->server, 4096), 0);
}

static int recv_text(wsc *c, const char *want) {
  uint8_t *p;
  size_t n;
  int op = wsc_recv_data(c, &p, &n, 1, 3000);
  if (op != 1 || n != strlen(want) || memcmp(p, want, n) != 0) {
    fprintf(stderr, "got op %d: %.*s\nwant: %s\n", op, op == 1 ? (int)n : 0, (const char *)p, want);
    return 0;
  }
  return 1;
}

CLIENT(batching_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  /* Writes of one loop turn leave as one frame; a broadcast in between
   * leaves between the batches, in order; a lone message goes bare. */
  CHECK(wsc_send_text(&c, "\"burst:3,B,2\"") == 0);
  CHECK(recv_text(&c, "{\"weft::batch\":[\"m0\",\"m1\",\"m2\"]}"));
  CHECK(recv_text(&c, "\"B\""));
  CHECK(recv_text(&c, "{\"weft::batch\":[\"m3\",\"m4\"]}"));
  CHECK(wsc_send_text(&c, "\"burst:1,,0\"") == 0);
  CHECK(recv_text(&c, "\"m0\""));
  /* A batch from the peer is unpacked: each message is handled in turn. */
  CHECK(wsc_send_text(&c, "{\"weft::batch\":[\"bcast:one\",\"primus::id::\",\"bcast:two\"]}") == 0);
  CHECK(recv_text(&c, "\"one\""));
  uint8_t *p;
  size_t n;
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n > 14 && memcmp(p, "\"primus::id::", 13) == 0);
  CHECK(recv_text(&c, "\"two\""));
  /* Not envelopes: ordinary data, echoed (both in one read: one batch). */
  CHECK(wsc_send_text(&c, "{\"weft::batch\":5}") == 0);
  CHECK(wsc_send_text(&c, "{\"weft::batch\":[1],\"x\":1}") == 0);
  CHECK(wsc_send_text(&c, "\"bcast:three\"") == 0);
  uint8_t *e;
  size_t en;
  int op = wsc_recv_data(&c, &e, &en, 1, 3000);
  CHECK(op == 1);
  if (en > 20 && memcmp(e, "{\"weft::batch\":[{", 17) == 0) {
    CHECK(recv_text(&c, "\"three\"")); /* both echoes came in one frame */
  } else { /* the two arrived in two reads: their echoes leave as frames of their own */
    CHECK(en == 17 && memcmp(e, "{\"weft::batch\":5}", 17) == 0);
    CHECK(recv_text(&c, "{\"weft::batch\":[1],\"x\":1}"));
    CHECK(recv_text(&c, "\"three\""));
  }
  wsc_close(&c);
}

/* Small frames queued behind one another are gathered into one buffer
 * (stream.c): 60000 of them (about 4 MB, more than the socket takes while
 * the client sleeps, so gathers are written in parts), of every size
 * around the gathering limit, text and binary, with a pong queued among
 * them, arrive whole and in order. */
CLIENT(gather_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"gather:60000\"") == 0);
  usleep(300 * 1000);
  CHECK(wsc_send_frame(&c, 9, 1, 0, "pi", 2, 0) == 0);
  int pongs = 0;
  for (int i = 0; i < 60000; i++) {
    uint8_t *p;
    size_t n;
    int op = wsc_recv_data(&c, &p, &n, 1, 5000);
    if (op == 10) {
      CHECK(n == 2 && memcmp(p, "pi", 2) == 0);
      pongs++;
      i--;
      continue;
    }
    if (i % 10 == 9) {
      CHECK(op == 2 && n == (size_t)(i % 200));
      for (size_t k = 0; k < n; k++)
        CHECK(p[k] == (uint8_t)(i & 0xff));
    } else {
      char want[256];
      int k = snprintf(want, sizeof(want), "\"g%d:", i);
      memset(want + k, 'x', (size_t)(i % 150));
      want[k + i % 150] = '"';
      CHECK(op == 1 && n == (size_t)k + (size_t)(i % 150) + 1 && memcmp(p, want, n) == 0);
    }
  }
  if (!pongs) { /* the pong may follow the last message */
    uint8_t *p;
    size_t n;
    CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 10 && n == 2);
  }
  CHECK(echo_ok(&c, "\"after\""));
  wsc_close(&c);
}

static void test_gather(void **state) {
  (void)state;
  fixture f = {.client = gather_client};
  run(&f);
  assert_int_equal(f.errors, 0);
}

/* Gathered frames still count in the queue limit as the payloads they came
 * in: 1-byte messages into a 64 KiB limit are refused after about 64 KiB /
 * ~300 B each (as before gathering), not after 64 KiB / 3 B of frames. */
static void tiny_queue(fixture *f) {
  weft_server_set_max_queue(f->server, 64 * 1024);
  weft_server_set_queue_policy(f->server, WEFT_QUEUE_DROP);
}

CLIENT(tiny_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"tinies\"") == 0);
  int got = 0;
  uint8_t *p;
  size_t n;
  while (wsc_recv_data(&c, &p, &n, 1, 500) == 1) {
    CHECK(n == 3 && memcmp(p, "\"t\"", 3) == 0);
    got++;
  }
  f->tiny_got = got;
  CHECK(echo_ok(&c, "\"after the tiny ones\""));
  wsc_close(&c);
}

static void test_gather_limit(void **state) {
  (void)state;
  fixture f = {.client = tiny_client, .configure = tiny_queue};
  run(&f);
  assert_true(f.tiny_nobufs > 64 * 1024 / 512 && f.tiny_nobufs < 64 * 1024 / 128);
  assert_int_equal(f.tiny_got, f.tiny_nobufs - 1); /* all before the refusal, none after */
}

/* Small messages are framed straight into the queue (no payload of their
 * own): the bytes they queue still count towards the high-water mark, to
 * the byte, and come off it when written (a drain event, nothing left). */
static void small_mark(fixture *f) { weft_server_set_high_water_mark(f->server, 100); }

CLIENT(smalls_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"smalls:40\"") == 0);
  for (int i = 0; i < 40; i++) {
    char want[16];
    snprintf(want, sizeof(want), "\"s%d\"", i);
    CHECK(recv_text(&c, want));
  }
  CHECK(echo_ok(&c, "\"between\""));
  CHECK(wsc_send_text(&c, "\"amount\"") == 0);
  CHECK(recv_text(&c, "\"0,1\""));
  wsc_close(&c);
}

static void test_small_writes_mark(void **state) {
  (void)state;
  fixture f = {.client = smalls_client, .configure = small_mark};
  run(&f);
  /* frames of 6 bytes ("s0"-"s9" and a 2-byte header), then 7: the 16th
   * takes the queue from 95 to 102 bytes */
  assert_int_equal(f.small_full, 16);
  assert_int_equal(f.errors, 0);
}

static void test_batching(void **state) {
  (void)state;
  fixture f = {.client = batching_client, .configure = with_batching};
  run(&f);
  assert_int_equal(f.errors, 0);
}

static void test_raw(void **state) {
  (void)state;
  fixture f = {.client = raw_client, .configure = with_raw};
  run(&f);
}

static void with_compression(fixture *f) { weft_server_set_compression(f->server, 1); }

static int inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen) {
  z_stream z = {0};
  if (inflateInit2(&z, -15) != Z_OK) return -1;
  uint8_t tail[4] = {0, 0, 0xff, 0xff};
  z.next_out = out;
  z.avail_out = (uInt)cap;
  z.next_in = (uint8_t *)in;
  z.avail_in = (uInt)n;
  int rc = inflate(&z, Z_SYNC_FLUSH);
  z.next_in = tail;
  z.avail_in = 4;
  if (rc == Z_OK || rc == Z_BUF_ERROR) rc = inflate(&z, Z_SYNC_FLUSH);
  *outlen = cap - z.avail_out;
  inflateEnd(&z);
  return rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END ? 0 : -1;
}

CLIENT(compression_client) {
  wsc c;
  char head[1024];
  CHECK(wsc_connect(&c, f->port, "/primus",
                    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
                    head, sizeof(head), NULL, 0) == 101);
  CHECK(strstr(head, "permessage-deflate"));
  char msg[400];
  memset(msg, 'z', sizeof(msg));
  msg[0] = '"';
  msg[sizeof(msg) - 1] = '\0';
  msg[sizeof(msg) - 2] = '"';
  CHECK(wsc_send_text(&c, msg) == 0);
  uint8_t *p, out[1024];
  size_t n, outlen;
  int flags;
  int op;
  while ((op = wsc_recv(&c, &p, &n, &flags, 3000)) == 1 && !(flags & 2)) {
  }
  CHECK(op == 1 && (flags & 2) && n < strlen(msg));
  CHECK(inflate_raw(p, n, out, sizeof(out), &outlen) == 0);
  CHECK(outlen == strlen(msg) && memcmp(out, msg, outlen) == 0);
  /* A compressed message from the client is inflated. */
  weft__pmd *z;
  weft__buf b = {0};
  CHECK(weft__pmd_new(&z, 15, 0) == 0);
  CHECK(weft__pmd_deflate(z, (const uint8_t *)"\"tiny\"", 6, &b) == 0);
  weft__pmd_free(z);
  CHECK(wsc_send_frame(&c, 1, 1, 1, b.data, b.len, 0) == 0);
  weft__buf_free(&b);
  CHECK(wsc_recv(&c, &p, &n, &flags, 3000) == 1 && !(flags & 2) && n == 6);
  CHECK(memcmp(p, "\"tiny\"", 6) == 0);
  wsc_close(&c);
}

static void test_compression(void **state) {
  (void)state;
  fixture f = {.client = compression_client, .configure = with_compression};
  run(&f);
}

static void small_queue(fixture *f) {
  weft_server_set_high_water_mark(f->server, 256 * 1024);
  weft_server_set_max_queue(f->server, 4 * 1024 * 1024);
  /* This test is about the drop policy: the spark stays after a refusal
   * (the default closes it: test_queue_full_closes). */
  weft_server_set_queue_policy(f->server, WEFT_QUEUE_DROP);
}

CLIENT(backpressure_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"flood\"") == 0);
  size_t total = 0;
  uint8_t *p;
  size_t n;
  int op;
  while ((op = wsc_recv(&c, &p, &n, NULL, 1000)) == 2)
    total += n;
  CHECK(total >= 4 * 65536 && total <= 4 * 1024 * 1024);
  CHECK(echo_ok(&c, "\"after the flood\""));
  wsc_close(&c);
}

static void test_backpressure(void **state) {
  (void)state;
  fixture f = {.client = backpressure_client, .configure = small_queue};
  run(&f);
  assert_int_equal(f.flood_first_full, 4); /* 4 × 64 KiB reaches the mark */
  assert_true(f.flood_nobufs > 4 && f.flood_nobufs <= 64);
  assert_true(f.drains >= 1);
}

/* The default queue policy: a spark whose queue is full is closed with
 * 1008 after what was queued, and an error event of kind "queue" says so. */
static void small_queue_default(fixture *f) {
  weft_server_set_max_queue(f->server, 4 * 1024 * 1024);
  assert_int_equal(weft_server_set_queue_policy(f->server, 7), WEFT_EINVAL);
  assert_int_equal(weft_server_set_queue_policy(NULL, WEFT_QUEUE_DROP), WEFT_EINVAL);
}

CLIENT(queue_full_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"flood\"") == 0);
  CHECK(wsc_expect_close(&c, 5000) == 1008);
  wsc_close(&c);
}

static void test_queue_full_closes(void **state) {
  (void)state;
  fixture f = {.client = queue_full_client, .configure = small_queue_default};
  run(&f);
  assert_true(f.flood_nobufs > 4 && f.flood_nobufs <= 64);
  assert_non_null(strstr(f.error_kinds, "queue,"));
  assert_null(strstr(strstr(f.error_kinds, "queue,") + 6, "queue,")); /* said once */
}

/* Destroy with sparks connected: each gets primus::server::close and 1000. */
CLIENT(destroy_client) {
  enum { N = 3 };
  wsc c[N];
  for (int i = 0; i < N; i++)
    CHECK(open_ws(f, &c[i], NULL) == 101);
  CHECK(echo_ok(&c[N - 1], "1")); /* all three are open on the server now */
  weft_loop_post(f->loop, destroy_server, f);
  for (int i = 0; i < N; i++) {
    uint8_t *p;
    size_t n;
    CHECK(wsc_recv_data(&c[i], &p, &n, 1, 3000) == 1);
    CHECK(n == 23 && memcmp(p, "\"primus::server::close\"", 23) == 0);
    CHECK(wsc_expect_close(&c[i], 3000) == 1000);
    wsc_close(&c[i]);
  }
}

static void test_destroy(void **state) {
  (void)state;
  fixture f = {.client = destroy_client};
  run(&f);
  assert_int_equal(f.connections, 3);
}

/* Trusted proxies, origins, ids from the application, raw writes, user data,
 * for-each and lookup. */
static int idgen(char *buf, size_t cap, void *user) {
  fixture *f = user;
  f->idgen_calls++;
  if (f->idgen_calls == 2) return -1; /* falls back to a random id */
  /* The third: longer than a spark's inline id (kept on the heap). */
  snprintf(buf, cap, f->idgen_calls == 3 ? "app-%d-an-id-longer-than-24-bytes" : "app-%d",
           f->idgen_calls);
  return 0;
}

static void with_everything(fixture *f) {
  assert_int_equal(weft_server_add_trusted_proxy(f->server, "not an ip"), WEFT_EINVAL);
  assert_int_equal(weft_server_add_trusted_proxy(f->server, "127.0.0.1"), 0);
  assert_int_equal(weft_server_add_origin(f->server, ""), WEFT_EINVAL);
  assert_int_equal(weft_server_add_origin(f->server, "http://good.test"), 0);
  assert_int_equal(weft_server_set_id_generator(f->server, idgen, f, NULL), 0);
}

CLIENT(misc_client) {
  wsc a, b, c, d;
  uint8_t *p;
  size_t n;
  char resp[2048];
  CHECK(wsc_connect(&a, f->port, "/primus",
                    "X-Forwarded-For: 203.0.113.9, 10.0.0.1\r\n"
                    "X-Forwarded-Port: 4242\r\nOrigin: http://good.test\r\n",
                    NULL, 0, NULL, 0) == 101);
  CHECK(wsc_send_text(&a, "\"address\"") == 0);
  CHECK(wsc_recv_data(&a, &p, &n, 1, 3000) == 1 && n == 13 &&
        memcmp(p, "\"203.0.113.9\"", 13) == 0);
  CHECK(wsc_send_text(&a, "\"primus::id::\"") == 0);
  CHECK(wsc_recv_data(&a, &p, &n, 1, 3000) == 1 && n == 19 &&
        memcmp(p, "\"primus::id::app-1\"", 19) == 0);
  CHECK(wsc_connect(&b, f->port, "/primus", "Origin: http://evil.test\r\n", NULL, 0, NULL, 0) ==
        403);
  wsc_close(&b);
  CHECK(wsc_http(f->port,
                 "GET /primus/spec HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.test\r\n\r\n", resp,
                 sizeof(resp)) == 403);
  CHECK(wsc_http(f->port,
                 "GET /primus/spec HTTP/1.1\r\nHost: x\r\nOrigin: http://good.test\r\n\r\n", resp,
                 sizeof(resp)) == 200);
  CHECK(strstr(resp, "\r\nAccess-Control-Allow-Origin: http://good.test\r\n"
                     "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n"));
  CHECK(open_ws(f, &b, NULL) == 101); /* no Origin header: not a browser, allowed */
  CHECK(wsc_send_text(&b, "\"primus::id::\"") == 0);
  CHECK(wsc_recv_data(&b, &p, &n, 1, 3000) == 1 && n == 35); /* generator declined: 21 random */
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(wsc_send_text(&c, "\"primus::id::\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 46 &&
        memcmp(p, "\"primus::id::app-3-an-id-longer-than-24-bytes\"", 46) == 0);
  CHECK(wsc_send_text(&c, "\"raw\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 17 &&
        memcmp(p, "{\"pre\":\"encoded\"}", 17) == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 2 && n == 2);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 14);
  CHECK(wsc_send_text(&c, "\"user\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 5 && memcmp(p, "\"set\"", 5) == 0);
  CHECK(wsc_send_text(&c, "\"lookup\"") == 0);
  CHECK(wsc_recv_data(&c, &p, &n, 1, 3000) == 1 && n == 7 && memcmp(p, "\"found\"", 7) == 0);
  CHECK(open_ws(f, &d, NULL) == 101);
  CHECK(echo_ok(&d, "0"));
  /* for-each over 4 sparks; the second one met is ended during the walk. */
  CHECK(wsc_send_text(&a, "\"foreach\"") == 0);
  wsc *all[4] = {&a, &b, &c, &d};
  int ended = 0;
  for (int i = 0; i < 4; i++) {
    CHECK(wsc_recv_data(all[i], &p, &n, 1, 3000) == 1 && n == 20);
    if (wsc_recv_data(all[i], &p, &n, 1, 300) == 1 && n == 23 &&
        memcmp(p, "\"primus::server::close\"", 23) == 0)
      ended++;
  }
  CHECK(ended == 1);
  for (int i = 0; i < 4; i++)
    wsc_close(all[i]);
  /* A forwarded address too long to stay in the request (on the heap). */
  static const char v6[] = "\"2001:db8:85a3:8d3:1319:8a2e:370:7348\"";
  CHECK(wsc_connect(&a, f->port, "/primus",
                    "X-Forwarded-For: 2001:db8:85a3:8d3:1319:8a2e:370:7348\r\n", NULL, 0, NULL,
                    0) == 101);
  CHECK(wsc_send_text(&a, "\"address\"") == 0);
  CHECK(wsc_recv_data(&a, &p, &n, 1, 3000) == 1 && n == sizeof(v6) - 1 && memcmp(p, v6, n) == 0);
  wsc_close(&a);
}

static void test_misc(void **state) {
  (void)state;
  fixture f = {.client = misc_client, .configure = with_everything};
  run(&f);
  assert_int_equal(f.connections, 5);
  assert_int_equal(f.foreach_seen, 4);
  assert_int_equal(f.user_frees, 1); /* after the disconnection */
}

/* A kept-alive connection whose request came through a trusted proxy: the
 * next request on it is from the socket's peer again. Two engine.io
 * handshakes pipelined on one connection, only the first with
 * X-Forwarded-For; each spark gives its address as it opens and later,
 * when a message asks (a polling session keeps its handshake's request). */
CLIENT(proxied_keepalive_client) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
  struct timeval tv = {3, 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
  const char *hs = "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n";
  char req[512], body[512];
  snprintf(req, sizeof(req), "%sX-Forwarded-For: 203.0.113.9\r\n\r\n%s\r\n", hs, hs);
  rbuf b = {.n = 0};
  int ok = send_str(fd, req) == 0;
  char sid[2][64];
  for (int i = 0; ok && i < 2; i++)
    ok = read_answer(fd, &b, body, sizeof(body)) == 200 &&
         sscanf(body, "0{\"sid\":\"%63[^\"]\"", sid[i]) == 1;
  const char *want[2] = {"4\"203.0.113.9\"", "4\"127.0.0.1\""};
  for (int i = 0; ok && i < 2; i++) {
    const char *eio = "/primus/?EIO=4&transport=polling&sid=";
    snprintf(req, sizeof(req),
             "POST %s%s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n4\"address\"", eio,
             sid[i]);
    ok = send_str(fd, req) == 0 && read_answer(fd, &b, body, sizeof(body)) == 200;
    snprintf(req, sizeof(req), "GET %s%s HTTP/1.1\r\nHost: x\r\n\r\n", eio, sid[i]);
    ok = ok && send_str(fd, req) == 0 && read_answer(fd, &b, body, sizeof(body)) == 200 &&
         strcmp(body, want[i]) == 0;
  }
  close(fd);
  CHECK(ok);
}

static void with_proxy_eio(fixture *f) {
  assert_int_equal(weft_server_add_trusted_proxy(f->server, "127.0.0.1"), 0);
  assert_int_equal(weft_server_set_transformer(f->server, "engine.io"), 0);
}

static void test_proxied_keepalive(void **state) {
  (void)state;
  fixture f = {.client = proxied_keepalive_client, .configure = with_proxy_eio};
  run(&f);
  assert_int_equal(f.connections, 2);
  assert_string_equal(f.addresses, "203.0.113.9,127.0.0.1,");
}

/* A request body's length (an engine.io POST here; Vibe's reads it the
 * same way): 1 to 15 digits, nothing else; over the limit 413; chunked 411. */
static int eio_connect(fixture *f) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
  struct timeval tv = {3, 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* A new polling session's POST with that length line: its status (a
 * refused body ends the session, so each case has its own). */
static int post_status(fixture *f, const char *length_line) {
  int fd = eio_connect(f);
  if (fd < 0) return -1;
  rbuf b = {.n = 0};
  char req[512], body[512], sid[64];
  int status = -1;
  if (send_str(fd, "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n") == 0 &&
      read_answer(fd, &b, body, sizeof(body)) == 200 &&
      sscanf(body, "0{\"sid\":\"%63[^\"]\"", sid) == 1) {
    snprintf(req, sizeof(req),
             "POST /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n4\"x\"",
             sid, length_line);
    status = send_str(fd, req) == 0 ? read_answer(fd, &b, body, sizeof(body)) : -1;
  }
  close(fd);
  return status;
}

CLIENT(body_length_client) {
  static const struct {
    const char *line;
    int status;
  } cases[] = {
      {"Content-Length: ", 400},
      {"Content-Length: abc", 400},
      {"Content-Length: -4", 400},
      {"Content-Length: +4", 400},
      {"Content-Length: 4 4", 400},
      {"Content-Length: 0x4", 400},
      {"Content-Length: 1234567890123456", 400},
      {"Content-Length: 999999999999999", 413},
      {"Transfer-Encoding: chunked", 411},
      {"Content-Length: 0004", 200},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int got = post_status(f, cases[i].line);
    if (got != cases[i].status) fprintf(stderr, "%s: %d\n", cases[i].line, got);
    CHECK(got == cases[i].status);
  }
}

static void with_eio(fixture *f) {
  assert_int_equal(weft_server_set_transformer(f->server, "engine.io"), 0);
}

static void test_body_length(void **state) {
  (void)state;
  fixture f = {.client = body_length_client, .configure = with_eio};
  run(&f);
}

/* Destroy with reconnect: clients get no primus::server::close. */
CLIENT(destroy_reconnect_client) {
  wsc c;
  CHECK(open_ws(f, &c, NULL) == 101);
  CHECK(echo_ok(&c, "2"));
  weft_loop_post(f->loop, destroy_server, f);
  uint8_t *p;
  size_t n;
  CHECK(wsc_recv(&c, &p, &n, NULL, 3000) == 8 && n >= 2 && ((p[0] << 8) | p[1]) == 1000);
  wsc_close(&c);
}

static void test_destroy_reconnect(void **state) {
  (void)state;
  fixture f = {.client = destroy_reconnect_client, .reconnect_destroy = 1};
  run(&f);
}

/* ---- the loop API without I/O ---- */

static void test_loop_api(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(NULL), WEFT_EINVAL);
  assert_int_equal(weft_loop_run(NULL), WEFT_EINVAL);
  assert_int_equal(weft_loop_fd(NULL), -1);
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_true(weft_loop_fd(loop) >= 0);
  assert_int_equal(weft_loop_run_once(loop), 0);
  assert_int_equal(weft_loop_flush(NULL), WEFT_EINVAL);
  assert_int_equal(weft_loop_flush(loop), 0); /* nothing queued */
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_port(s), WEFT_ESTATE);
  assert_int_equal(weft_server_listen(s, "nope"), WEFT_EURL);
  assert_int_equal(weft_server_listen(s, "ftp://127.0.0.1:0/"), WEFT_EURL);
  assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:99999/"), WEFT_EURL);
  assert_int_equal(weft_server_listen(s, "ws://1.2.3.4.5:0/"), WEFT_EADDRNOTAVAIL);
  assert_int_equal(weft_server_write(s, NULL), WEFT_EINVAL);
  assert_int_equal(weft_loop_close(loop), WEFT_ESTATE); /* the server is alive */
  assert_int_equal(weft_server_destroy(s, NULL), 0);
  assert_int_equal(weft_server_destroy(s, NULL), WEFT_ECLOSED);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_timeout(loop), -1); /* nothing alive: no timer, not "now" */
  assert_int_equal(weft_loop_close(loop), 0);

  /* A host's own uv loop: weft borrows it and leaves it closable. */
  uv_loop_t uv;
  assert_int_equal(uv_loop_init(&uv), 0);
  assert_int_equal(weft_loop_new_uv(&loop, &uv), 0);
  assert_ptr_equal(weft_loop_uv(loop), &uv);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:0"), 0);
  assert_string_equal(weft_server_pathname(s), "/primus");
  uv_run(&uv, UV_RUN_NOWAIT);            /* new watchers reach epoll inside uv_run */
  int idle_ms = weft_loop_timeout(loop); /* idle: only the heartbeat is due */
  assert_true(idle_ms > 0 && idle_ms <= 30000);
  assert_int_equal(weft_server_destroy(s, NULL), 0);
  uv_run(&uv, UV_RUN_DEFAULT);
  assert_int_equal(weft_loop_close(loop), 0);
  uv_run(&uv, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&uv), 0);

  /* A port in use is an error, not a crash. */
  weft_server *a, *b;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &a), 0);
  assert_int_equal(weft_server_new(loop, &b), 0);
  assert_int_equal(weft_server_listen(a, "ws://127.0.0.1:0/x"), 0);
  char url[64];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/x", weft_server_port(a));
  assert_int_equal(weft_server_listen(b, url), WEFT_EADDRINUSE);
  weft_server_destroy(a, NULL);
  weft_server_destroy(b, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loop_api),
      cmocka_unit_test(test_echo),
      cmocka_unit_test(test_query),
      cmocka_unit_test(test_kept_request),
      cmocka_unit_test(test_shared_heads),
      cmocka_unit_test(test_http),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_ping_timeout),
      cmocka_unit_test(test_end),
      cmocka_unit_test(test_pause),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_auth),
      cmocka_unit_test(test_plugins),
      cmocka_unit_test(test_msgpack),
      cmocka_unit_test(test_compression),
      cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_queue_full_closes),
      cmocka_unit_test(test_destroy),
      cmocka_unit_test(test_misc),
      cmocka_unit_test(test_proxied_keepalive),
      cmocka_unit_test(test_body_length),
      cmocka_unit_test(test_destroy_reconnect),
      cmocka_unit_test(test_raw),
      cmocka_unit_test(test_batching),
      cmocka_unit_test(test_gather),
      cmocka_unit_test(test_gather_limit),
      cmocka_unit_test(test_small_writes_mark),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
