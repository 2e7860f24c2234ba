/*
 * A server's metrics and the loop's log: exact counter values after known
 * traffic (read through weft_server_metrics and scraped over HTTP at the
 * metrics path), heartbeat timeouts and full queues counted as the error
 * events say, log records in order and filtered by level — and the bad
 * input of each call. Requests come from a client thread speaking raw
 * HTTP/WebSocket; the server runs on the test's loop.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft/weft.h"
#include "wsclient.h"

#define MAX_RECORDS 64

typedef struct fix {
  weft_loop *loop;
  weft_server *server;
  int port;
  pthread_t thread;
  char fail[256];
  int server_closed;
  /* what the loop observed */
  char records[MAX_RECORDS][48]; /* "event" or "event:kind" */
  int levels[MAX_RECORDS];
  int n_records;
  int queue_errors, timeout_errors, refused_writes;
  atomic_int timed_out; /* the client thread may close its socket */
  weft_metrics m;       /* read on the loop just before the end */
} fix;

/* ---- the loop's side ---- */

static void on_log(const weft_log_record *r, void *user) {
  fix *f = user;
  if (f->n_records == MAX_RECORDS) return;
  snprintf(f->records[f->n_records], sizeof(f->records[0]), "%s%s%s", r->event, r->kind ? ":" : "",
           r->kind ? r->kind : "");
  f->levels[f->n_records++] = r->level;
}

static void s_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  weft_spark_write(sp, msg);
}

static void s_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  fix *f = user;
  (void)s, (void)sp;
  if (strcmp(e->kind, "queue") == 0) f->queue_errors++;
  if (strcmp(e->kind, "timeout") == 0) {
    f->timeout_errors++;
    atomic_store(&f->timed_out, 1);
  }
}

static void s_close(weft_server *s, void *user) { ((fix *)user)->server_closed = s != NULL; }

/* Fills the spark's queue: 64 KiB messages until three are refused. */
static void s_flood(weft_spark *sp, void *user) {
  fix *f = user;
  static char big[65536];
  memset(big, 'x', sizeof(big));
  weft_value *v = weft_value_new_string(big, sizeof(big));
  for (int i = 0; i < 10000 && f->refused_writes < 3; i++)
    if (weft_spark_write(sp, v) == WEFT_ENOBUFS) f->refused_writes++;
  weft_value_free(v);
}

static void new_server(fix *f, void (*on_connection)(weft_spark *, void *)) {
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = on_connection,
                           .data = s_data,
                           .error = s_error,
                           .close = s_close};
  weft_server_set_events(f->server, &ev, f, NULL);
}

/* On the loop: the metrics as the thread left them, then the end. */
static void done(void *user) {
  fix *f = user;
  f->m.size = sizeof(f->m);
  if (weft_server_metrics(f->server, &f->m) != 0) f->m.size = 0;
  weft_server_destroy(f->server, NULL);
}

static void run(fix *f, void *(*thread)(void *)) {
  f->port = weft_server_port(f->server);
  assert_int_equal(pthread_create(&f->thread, NULL, thread, f), 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  pthread_join(f->thread, NULL);
  if (f->fail[0]) fail_msg("client thread: %s", f->fail);
  assert_true(f->server_closed);
  assert_int_equal(weft_loop_close(f->loop), 0);
}

/* ---- the client thread ---- */

static int holds(fix *f, int ok, int line, const char *what) {
  if (!ok && !f->fail[0]) snprintf(f->fail, sizeof(f->fail), "line %d: %s", line, what);
  return ok;
}
#define REQUIRE(cond)                                                                              \
  if (!holds(f, (cond) != 0, __LINE__, #cond)) return

static void nap_ms(int ms) { nanosleep(&(struct timespec){0, ms * 1000L * 1000L}, NULL); }

static int scrape(fix *f, char *resp, size_t cap) {
  return wsc_http(f->port, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", resp, cap);
}

/* Echoes `msg` through an open WebSocket. */
static int echo(wsc *c, const char *msg) {
  uint8_t *p;
  size_t n;
  if (wsc_send_text(c, msg) != 0) return 0;
  return wsc_recv_data(c, &p, &n, 1, 3000) == 1 && n == strlen(msg) && memcmp(p, msg, n) == 0;
}

static void traffic(fix *f) {
  static char resp[16384];
  REQUIRE(wsc_http(f->port, "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", resp, sizeof(resp)) == 404);
  REQUIRE(wsc_http(f->port,
                   "GET /primus HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
                   "Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   resp, sizeof(resp)) == 400);
  wsc c;
  REQUIRE(wsc_connect(&c, f->port, "/primus", NULL, NULL, 0, NULL, 0) == 101);
  int ok = echo(&c, "\"hello\"") && echo(&c, "\"hello\"") && echo(&c, "\"hello\"");
  ok = ok && wsc_send_text(&c, "{") == 0 && echo(&c, "\"last\"");
  wsc_close(&c);
  REQUIRE(ok);
  /* A second connection sends more than the server's max length. */
  char big[200];
  memset(big, 'a', sizeof(big));
  big[0] = big[sizeof(big) - 2] = '"';
  big[sizeof(big) - 1] = '\0';
  REQUIRE(wsc_connect(&c, f->port, "/primus", NULL, NULL, 0, NULL, 0) == 101);
  int code = wsc_send_text(&c, big) == 0 ? wsc_expect_close(&c, 3000) : -3;
  wsc_close(&c);
  REQUIRE(code == 1009);
  /* The server learns of the close a moment later. */
  for (int i = 0; i < 100; i++) {
    REQUIRE(scrape(f, resp, sizeof(resp)) == 200);
    if (strstr(resp, "\nweft_connections{transport=\"websockets\"} 0\n")) break;
    nap_ms(20);
  }
  static const char *const lines[] = {
      "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n",
      "\n# TYPE weft_connections gauge\n",
      "\nweft_connections{transport=\"websockets\"} 0\n",
      "\n# TYPE weft_connections_total counter\n",
      "\nweft_connections_total{transport=\"websockets\"} 2\n",
      "\nweft_handshakes_total 2\n",
      "\nweft_http_responses_total{code=\"404\"} 1\n",
      "\nweft_http_responses_total{code=\"400\"} 1\n",
      "\nweft_http_responses_total{code=\"405\"} 0\n",
      "\nweft_messages_received_total{transport=\"websockets\"} 4\n",
      "\nweft_messages_sent_total{transport=\"websockets\"} 4\n",
      "\nweft_received_bytes_total{transport=\"websockets\"} 28\n", /* 3 × 7 + 1 + 6 */
      "\nweft_sent_bytes_total{transport=\"websockets\"} 27\n",
      "\nweft_queue_bytes 0\n",
      "\nweft_queue_refused_total 0\n",
      "\nweft_heartbeat_timeouts_total 0\n",
      "\nweft_errors_total{kind=\"json\"} 1\n",
      "\nweft_errors_total{kind=\"toobig\"} 1\n",
      "\nweft_errors_total{kind=\"other\"} 0\n",
  };
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    if (!strstr(resp, lines[i])) {
      snprintf(f->fail, sizeof(f->fail), "scrape lacks %s", lines[i]);
      return;
    }
  REQUIRE(wsc_http(f->port, "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", resp,
                   sizeof(resp)) == 405);
  REQUIRE(wsc_http(f->port, "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n", resp, sizeof(resp)) ==
          200);
  REQUIRE(!strstr(resp, "# TYPE")); /* a head without the body */
}

static void *traffic_thread(void *arg) {
  fix *f = arg;
  traffic(f);
  weft_loop_post(f->loop, done, f);
  return NULL;
}

/* A polling session by hand (handshake, a post, the poll that brings the
 * echo back) and a WebSocket spark beside it, then the scrape. */
static void traffic_eio(fix *f) {
  static char resp[16384], req[512];
  REQUIRE(wsc_http(f->port,
                   "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n"
                   "Connection: close\r\n\r\n",
                   resp, sizeof(resp)) == 200);
  const char *at = strstr(resp, "\"sid\":\"");
  REQUIRE(at);
  char sid[24] = {0};
  for (size_t i = 0; i < 20 && at[7 + i] != '"'; i++)
    sid[i] = at[7 + i];
  snprintf(req, sizeof(req),
           "POST /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: a\r\n"
           "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 8\r\n"
           "Connection: close\r\n\r\n4\"hello\"",
           sid);
  REQUIRE(wsc_http(f->port, req, resp, sizeof(resp)) == 200);
  snprintf(req, sizeof(req),
           "GET /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: a\r\n"
           "Connection: close\r\n\r\n",
           sid);
  REQUIRE(wsc_http(f->port, req, resp, sizeof(resp)) == 200);
  REQUIRE(strstr(resp, "\r\n\r\n4\"hello\""));
  wsc c;
  REQUIRE(wsc_connect(&c, f->port, "/primus", NULL, NULL, 0, NULL, 0) == 101);
  int ok = echo(&c, "\"hello\"");
  wsc_close(&c);
  REQUIRE(ok);
  REQUIRE(scrape(f, resp, sizeof(resp)) == 200);
  static const char *const lines[] = {
      "\nweft_connections{transport=\"engine.io\"} 1\n",
      "\nweft_connections_total{transport=\"engine.io\"} 1\n",
      "\nweft_connections_total{transport=\"websockets\"} 1\n",
      "\nweft_polling_requests_total{transport=\"engine.io\"} 3\n",
      "\nweft_polling_requests_total{transport=\"websockets\"} 0\n",
      "\nweft_messages_received_total{transport=\"engine.io\"} 1\n",
      "\nweft_messages_sent_total{transport=\"engine.io\"} 1\n",
      "\nweft_received_bytes_total{transport=\"engine.io\"} 7\n",
      "\nweft_messages_received_total{transport=\"websockets\"} 1\n",
  };
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    if (!strstr(resp, lines[i])) {
      snprintf(f->fail, sizeof(f->fail), "scrape lacks %s", lines[i]);
      return;
    }
}

static void *eio_thread(void *arg) {
  fix *f = arg;
  traffic_eio(f);
  weft_loop_post(f->loop, done, f);
  return NULL;
}

/* Connects and reads nothing: the queue fills, the pings go unanswered. */
static void *stalled_thread(void *arg) {
  fix *f = arg;
  wsc c;
  int st = wsc_connect(&c, f->port, "/primus", NULL, NULL, 0, NULL, 0);
  for (int i = 0; st == 101 && i < 500 && !atomic_load(&f->timed_out); i++)
    nap_ms(10);
  if (st == 101) wsc_close(&c);
  holds(f, st == 101, __LINE__, "upgrade");
  holds(f, atomic_load(&f->timed_out), __LINE__, "heartbeat timeout");
  nap_ms(50); /* the close reaches the server */
  weft_loop_post(f->loop, done, f);
  return NULL;
}

/* ---- tests ---- */

static int record_at(const fix *f, const char *what, int from) {
  for (int i = from; i < f->n_records; i++)
    if (strcmp(f->records[i], what) == 0) return i;
  return -1;
}

static void test_counters_and_log(void **state) {
  (void)state;
  fix f = {0};
  new_server(&f, NULL);
  assert_int_equal(weft_loop_set_log(f.loop, WEFT_LOG_DEBUG, on_log, &f, NULL), 0);
  assert_int_equal(weft_server_set_ping_interval(f.server, 0), 0);
  assert_int_equal(weft_server_set_metrics_path(f.server, "/metrics"), 0);
  assert_int_equal(weft_server_set_max_length(f.server, 100), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  run(&f, traffic_thread);
  /* The same figures through the C API (after the 405 and the HEAD). */
  assert_int_equal(f.m.size, sizeof(weft_metrics));
  assert_int_equal(f.m.connections_open, 0);
  assert_int_equal(f.m.connections_total, 2);
  assert_int_equal(f.m.handshakes_total, 2);
  assert_int_equal(f.m.refused_total, 3); /* 404, 400, 405 */
  assert_int_equal(f.m.messages_in_total, 4);
  assert_int_equal(f.m.messages_out_total, 4);
  assert_int_equal(f.m.bytes_in_total, 28);
  assert_int_equal(f.m.bytes_out_total, 27);
  assert_int_equal(f.m.queue_bytes, 0);
  assert_int_equal(f.m.queue_refused_total, 0);
  assert_int_equal(f.m.heartbeat_timeouts_total, 0);
  assert_int_equal(f.m.errors_total, 2); /* json, toobig */
  /* By name, as hosts read them: every counter, in the struct's order. */
  const char *names[] = {"connections_open",      "connections_total",        "handshakes_total",
                         "refused_total",         "messages_in_total",        "messages_out_total",
                         "bytes_in_total",        "bytes_out_total",          "queue_bytes",
                         "queue_refused_total",   "heartbeat_timeouts_total", "errors_total",
                         "polling_requests_total"};
  const uint64_t *field = &f.m.connections_open;
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    uint64_t v = 99;
    assert_string_equal(weft_metrics_at(&f.m, i, &v), names[i]);
    assert_int_equal(v, field[i]);
  }
  assert_null(weft_metrics_at(&f.m, sizeof(names) / sizeof(*names), NULL));
  /* The records, in order. */
  int at = record_at(&f, "listen", 0);
  assert_int_equal(at, 0);
  assert_int_equal(f.levels[at], WEFT_LOG_INFO);
  assert_true((at = record_at(&f, "refused", at + 1)) > 0); /* 404 */
  assert_true((at = record_at(&f, "refused", at + 1)) > 0); /* 400 */
  assert_true((at = record_at(&f, "connection", at + 1)) > 0);
  assert_true((at = record_at(&f, "error:json", at + 1)) > 0);
  assert_int_equal(f.levels[at], WEFT_LOG_WARN);
  assert_true((at = record_at(&f, "disconnection", at + 1)) > 0);
  assert_true((at = record_at(&f, "connection", at + 1)) > 0);
  assert_true((at = record_at(&f, "error:toobig", at + 1)) > 0);
  assert_true((at = record_at(&f, "disconnection", at + 1)) > 0);
  assert_true((at = record_at(&f, "refused", at + 1)) > 0); /* 405 */
}

/* engine.io sparks and their polling requests under their own name. */
static void test_engineio_counted_apart(void **state) {
  (void)state;
  fix f = {0};
  new_server(&f, NULL);
  assert_int_equal(weft_server_set_ping_interval(f.server, 0), 0);
  assert_int_equal(weft_server_set_transformer(f.server, "websockets,engine.io"), 0);
  assert_int_equal(weft_server_set_metrics_path(f.server, "/metrics"), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  run(&f, eio_thread);
  assert_int_equal(f.m.polling_requests_total, 3);
  assert_int_equal(f.m.connections_total, 2);
  assert_int_equal(f.m.messages_in_total, 2);
}

static void test_timeouts_and_full_queues(void **state) {
  (void)state;
  fix f = {0};
  new_server(&f, s_flood);
  /* Only warnings and worse: connections and refusals are left out. */
  assert_int_equal(weft_loop_set_log(f.loop, WEFT_LOG_WARN, on_log, &f, NULL), 0);
  assert_int_equal(weft_server_set_ping_interval(f.server, 100), 0);
  assert_int_equal(weft_server_set_max_queue(f.server, 256 << 10), 0);
  assert_int_equal(weft_server_set_queue_policy(f.server, WEFT_QUEUE_DROP), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  run(&f, stalled_thread);
  assert_int_equal(f.refused_writes, 3);
  assert_true(f.queue_errors >= 3); /* the pings into the full queue are refused too */
  assert_int_equal(f.m.queue_refused_total, (uint64_t)f.queue_errors);
  assert_int_equal(f.timeout_errors, 1);
  assert_int_equal(f.m.heartbeat_timeouts_total, 1);
  assert_int_equal(f.m.errors_total, (uint64_t)(f.queue_errors + f.timeout_errors));
  assert_int_equal(f.m.connections_total, 1);
  assert_true(f.m.messages_out_total > 0);
  assert_int_equal(f.m.bytes_out_total, f.m.messages_out_total * (65536 + 2));
  for (int i = 0; i < f.n_records; i++) {
    assert_true(f.levels[i] <= WEFT_LOG_WARN);
    assert_true(strcmp(f.records[i], "queue:queue") == 0 ||
                strcmp(f.records[i], "timeout:timeout") == 0);
  }
  assert_int_equal(record_at(&f, "connection", 0), -1);
  assert_true(record_at(&f, "timeout:timeout", 0) >= 0);
}

static int freed;
static void count_free(void *p) {
  (void)p;
  freed++;
}

static void test_bad_input(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  /* the log */
  assert_int_equal(weft_loop_set_log(NULL, WEFT_LOG_INFO, on_log, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_loop_set_log(loop, WEFT_LOG_DEBUG + 1, on_log, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_loop_set_log(loop, -1, on_log, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_loop_set_log(loop, WEFT_LOG_INFO, NULL, NULL, NULL), WEFT_EINVAL);
  int a, b;
  assert_int_equal(weft_loop_set_log(loop, WEFT_LOG_INFO, on_log, &a, count_free), 0);
  assert_int_equal(weft_loop_set_log(loop, WEFT_LOG_OFF, NULL, &b, count_free), 0);
  assert_int_equal(freed, 1); /* the replaced user */
  /* the metrics */
  weft_metrics m = {0};
  assert_int_equal(weft_server_metrics(NULL, &m), WEFT_EINVAL);
  assert_int_equal(weft_server_metrics(s, NULL), WEFT_EINVAL);
  assert_int_equal(weft_server_metrics(s, &m), WEFT_EINVAL); /* size 0 */
  m.size = offsetof(weft_metrics, connections_total);        /* an older, shorter layout */
  m.connections_total = 77;
  assert_int_equal(weft_server_metrics(s, &m), 0);
  assert_int_equal(m.size, offsetof(weft_metrics, connections_total));
  assert_int_equal(m.connections_total, 77); /* not written */
  uint64_t v = 5;
  assert_string_equal(weft_metrics_at(&m, 0, &v), "connections_open");
  assert_null(weft_metrics_at(&m, 1, &v)); /* past what m.size covers */
  assert_null(weft_metrics_at(NULL, 0, &v));
  assert_null(weft_metrics_at(&m, (size_t)-1, &v));
  assert_int_equal(weft_server_metrics_text(NULL, NULL, 0), WEFT_EINVAL);
  char small[16];
  assert_int_equal(weft_server_metrics_text(s, NULL, 5), WEFT_EINVAL);
  long n = weft_server_metrics_text(s, NULL, 0);
  assert_true(n > 1000);
  assert_int_equal(weft_server_metrics_text(s, small, sizeof(small)), n);
  assert_int_equal(strlen(small), sizeof(small) - 1); /* cut and terminated */
  assert_int_equal(weft_server_set_metrics_path(NULL, "/m"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_metrics_path(s, "metrics"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_metrics_path(s, "/a b"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_metrics_path(s, "/m?x"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_metrics_path(s, "/m\r\nX: y"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_metrics_path(s, "/m"), 0);
  assert_int_equal(weft_server_set_metrics_path(s, NULL), 0);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
  assert_int_equal(freed, 2); /* the last user, with the loop */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counters_and_log),
      cmocka_unit_test(test_engineio_counted_apart),
      cmocka_unit_test(test_timeouts_and_full_queues),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
