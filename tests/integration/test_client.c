/*
 * The client (weft_client_*) through real sockets on 127.0.0.1, against a
 * weft server on the SAME loop in one thread: no threads, the loop is driven
 * by weft_loop_run() until every server and client is destroyed.
 *
 * Callbacks never assert (a longjmp out of the loop would leave it running):
 * they record the first failed check in the fixture and tear everything
 * down; the test body asserts after the loop returned, then checks that
 * weft_loop_close() succeeds (nothing left alive). Every test has a guard
 * timer that fails it after a bounded time. Event sequences are recorded per
 * client as a comma-separated log ("open,data,close,sched1,rec1,ok1,…");
 * fx_finish() appends "|" before it destroys the clients, so what happened
 * before the teardown is the part before "|".
 *
 * WEFT_TEST_TIME_SCALE=N multiplies the guard timers (valgrind);
 * WEFT_TEST_CLIENTS=N changes the client count of the many-clients test.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>
#include <zlib.h>

#include "weft/weft.h"

typedef struct fx fx;
typedef struct cl cl;

/* ------------------------------------------------------------------------ */
/* Per-client recorder                                                      */
/* ------------------------------------------------------------------------ */

#define MAX_INFO 32
#define MAX_GOT 64

struct cl {
  fx *f;
  weft_client *c; /* NULL once weft_client_destroy() was called */
  int idx;
  char log[2048];
  int opens, closes, ends, timeouts, errors, destroys, onlines, offlines, ids, datas;
  int nsched, nrec, nok, failed, rtimeouts;
  char err_kind[32];
  int err_status, err_code;
  char err_body[256];
  char id[128];
  weft_reconnect_info sched[MAX_INFO], rec[MAX_INFO], ok[MAX_INFO], fail_info;
  uint64_t sched_ns[MAX_INFO], rec_ns[MAX_INFO];
  uint64_t t0_ns, timeout_ns, open_ns, first_open_ns, offline_ns;
  int keep; /* dup every data message into got[] */
  weft_value *got[MAX_GOT];
  int ngot;
  int next_seq, done;  /* many-clients test */
  const char *kill_in; /* end or destroy the client inside this event */
  int kill_mode;       /* 0 destroy, 1 end */
  int killed;
  void (*on)(cl *k, const char *event, const void *arg);
};

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */
/* ------------------------------------------------------------------------ */

struct fx {
  weft_loop *loop;
  weft_server *server; /* NULL once weft_server_destroy() was called */
  int port;
  char url[160];
  int server_closed;
  int finishing;
  char fail[3072];
  uv_timer_t guard, timer;
  uv_timer_t *aux; /* a test's own timer, closed by fx_run */
  void (*timer_cb)(fx *f);
  void (*check)(fx *f); /* called after every event: finishes when done */
  cl **clients;
  int nclients;
  void *ctx;
  /* server observations */
  int connections, disconnections, srv_errors;
  char srv_err_kinds[256];
  char spark_ids[8][64];
  weft_spark *last_spark;
  weft_value *srv_got[MAX_GOT];
  int srv_ngot;
  char query_token[64], header_val[64];
  void (*srv_data)(fx *f, weft_spark *sp, const weft_value *msg);
  /* raw TCP peers */
  int raw_on;
  uv_tcp_t raw;
  struct rawc *raw_conns[64];
  int nraw, raw_accepted;
  void *raw_script; /* raw_script_fn */
  int spec_requests, upgrade_requests;
  uint8_t raw_in[8192]; /* what raw peers read after they answered */
  size_t raw_in_len;
};

static int time_scale(void) {
  const char *s = getenv("WEFT_TEST_TIME_SCALE");
  int n = s ? atoi(s) : 1;
  return n > 0 ? n : 1;
}

static void fx_finish(fx *f);
static void maybe_kill(cl *k, const char *ev);

__attribute__((format(printf, 3, 4))) static void fx_failf(fx *f, int line, const char *fmt, ...) {
  if (!f->fail[0]) {
    int n = snprintf(f->fail, sizeof(f->fail), "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->fail + n, sizeof(f->fail) - (size_t)n, fmt, ap);
    va_end(ap);
    /* The first clients' logs say what happened. */
    for (int i = 0; i < f->nclients && i < 3; i++) {
      size_t len = strlen(f->fail);
      if (len + 8 < sizeof(f->fail))
        snprintf(f->fail + len, sizeof(f->fail) - len, "\n  client %d log: %.900s", i,
                 f->clients[i]->log);
    }
  }
  fx_finish(f);
}

/* In callbacks: record and tear down. */
#define FCHECK(f, cond)                                                                            \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fx_failf((f), __LINE__, "%s", #cond);                                                        \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

__attribute__((format(printf, 2, 3))) static void logev(cl *k, const char *fmt, ...) {
  if (k->destroys) fx_failf(k->f, __LINE__, "client %d: an event after destroy", k->idx);
  size_t n = strlen(k->log);
  if (n + 40 >= sizeof(k->log)) return;
  if (n && k->log[n - 1] != '|') k->log[n++] = ',';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->log + n, sizeof(k->log) - n, fmt, ap);
  va_end(ap);
}

static void fx_check(fx *f) {
  if (f->check && !f->finishing) f->check(f);
}

/* The log up to the teardown marker. */
static void log_before_finish(const cl *k, char *out, size_t cap) {
  snprintf(out, cap, "%s", k->log);
  char *bar = strchr(out, '|');
  if (bar) {
    *bar = '\0';
    if (bar > out && bar[-1] == ',') bar[-1] = '\0';
  }
}

/* The log without "error:…" tokens (errors interleave with retries). */
static void log_without_errors(const char *in, char *out, size_t cap) {
  out[0] = '\0';
  char tmp[2048];
  snprintf(tmp, sizeof(tmp), "%s", in);
  size_t n = 0;
  for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (strncmp(tok, "error:", 6) == 0) continue;
    int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", tok);
    if (w < 0 || (size_t)w >= cap - n) break;
    n += (size_t)w;
  }
}

/* Index of token `tok` in a comma-separated log (first at or after `from`), or -1. */
static int tok_index(const char *log, const char *tok, int from) {
  char tmp[2048];
  snprintf(tmp, sizeof(tmp), "%s", log);
  int i = 0;
  for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save), i++)
    if (i >= from && strcmp(t, tok) == 0) return i;
  return -1;
}

static int tok_count_prefix(const char *log, const char *prefix) {
  char tmp[2048];
  snprintf(tmp, sizeof(tmp), "%s", log);
  int n = 0;
  for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
    if (strncmp(t, prefix, strlen(prefix)) == 0) n++;
  return n;
}

/* ---- client events ---- */

/* What every event callback ends with: the test's own hook, a kill if the
 * test asked for one at this event, and the fixture's done-check. */
static void after_event(cl *k, const char *ev, const void *arg) {
  if (k->on) k->on(k, ev, arg);
  maybe_kill(k, ev);
  fx_check(k->f);
}

static void c_open(weft_client *c, void *u) {
  cl *k = u;
  (void)c;
  k->opens++;
  k->open_ns = uv_hrtime();
  if (k->opens == 1) k->first_open_ns = k->open_ns;
  logev(k, "open");
  after_event(k, "open", NULL);
}

static void c_data(weft_client *c, const weft_value *msg, void *u) {
  cl *k = u;
  (void)c;
  k->datas++;
  if (k->keep) {
    logev(k, "data");
    if (k->ngot < MAX_GOT) k->got[k->ngot++] = weft_value_dup(msg);
  }
  after_event(k, "data", msg);
}

static void c_error(weft_client *c, const weft_error_info *e, void *u) {
  cl *k = u;
  (void)c;
  k->errors++;
  snprintf(k->err_kind, sizeof(k->err_kind), "%s", e->kind ? e->kind : "(null)");
  k->err_status = e->status;
  k->err_code = e->code;
  snprintf(k->err_body, sizeof(k->err_body), "%s", e->body ? e->body : "");
  logev(k, "error:%s", k->err_kind);
  after_event(k, "error", e);
}

static void c_close(weft_client *c, void *u) {
  cl *k = u;
  (void)c;
  k->closes++;
  logev(k, "close");
  after_event(k, "close", NULL);
}

static void c_end(weft_client *c, void *u) {
  cl *k = u;
  (void)c;
  k->ends++;
  logev(k, "end");
  after_event(k, "end", NULL);
}

static void c_timeout(weft_client *c, void *u) {
  cl *k = u;
  (void)c;
  k->timeouts++;
  k->timeout_ns = uv_hrtime();
  logev(k, "timeout");
  after_event(k, "timeout", NULL);
}

static void c_sched(weft_client *c, const weft_reconnect_info *info, void *u) {
  cl *k = u;
  (void)c;
  if (k->nsched < MAX_INFO) {
    k->sched[k->nsched] = *info;
    k->sched_ns[k->nsched] = uv_hrtime();
  }
  k->nsched++;
  logev(k, "sched%u", info->attempt);
  after_event(k, "sched", info);
}

static void c_rec(weft_client *c, const weft_reconnect_info *info, void *u) {
  cl *k = u;
  (void)c;
  if (k->nrec < MAX_INFO) {
    k->rec[k->nrec] = *info;
    k->rec_ns[k->nrec] = uv_hrtime();
  }
  k->nrec++;
  logev(k, "rec%u", info->attempt);
  after_event(k, "rec", info);
}

static void c_ok(weft_client *c, const weft_reconnect_info *info, void *u) {
  cl *k = u;
  (void)c;
  if (k->nok < MAX_INFO) k->ok[k->nok] = *info;
  k->nok++;
  logev(k, "ok%u", info->attempt);
  after_event(k, "ok", info);
}

static void c_failed(weft_client *c, const weft_reconnect_info *info, void *u) {
  cl *k = u;
  (void)c;
  k->failed++;
  k->fail_info = *info;
  logev(k, "failed");
  after_event(k, "failed", info);
}

static void c_rtimeout(weft_client *c, const weft_reconnect_info *info, void *u) {
  cl *k = u;
  (void)c;
  k->rtimeouts++;
  logev(k, "rtimeout%u", info->attempt);
  after_event(k, "rtimeout", info);
}

static void c_online(weft_client *c, void *u) {
  cl *k = u;
  (void)c;
  k->onlines++;
  logev(k, "online");
  after_event(k, "online", NULL);
}

static void c_offline(weft_client *c, void *u) {
  cl *k = u;
  (void)c;
  k->offlines++;
  k->offline_ns = uv_hrtime();
  logev(k, "offline");
  after_event(k, "offline", NULL);
}

static void c_id(weft_client *c, const char *id, void *u) {
  cl *k = u;
  (void)c;
  k->ids++;
  snprintf(k->id, sizeof(k->id), "%s", id ? id : "(null)");
  logev(k, "id");
  after_event(k, "id", id);
}

static void c_destroy(weft_client *c, void *u) {
  cl *k = u;
  (void)c;
  logev(k, "destroy");
  k->destroys++;
  fx_check(k->f);
}

static void destroy_client(cl *k);
static void fx_after(fx *f, uint64_t ms, void (*cb)(fx *f));

/* Ends or destroys the client from inside one of its own callbacks. */
static void maybe_kill(cl *k, const char *ev) {
  if (!k->kill_in || k->killed || strcmp(k->kill_in, ev) != 0 || !k->c) return;
  k->killed = 1;
  logev(k, "KILL");
  if (k->kill_mode == 0) {
    destroy_client(k);
  } else {
    int rc = weft_client_end(k->c, NULL);
    if (rc != 0 && rc != WEFT_ECLOSED)
      fx_failf(k->f, __LINE__, "weft_client_end inside %s: %s", ev, weft_err_name(rc));
  }
  fx_after(k->f, 150, fx_finish);
}

static const weft_client_events client_events = {sizeof(weft_client_events),
                                                 c_open,
                                                 c_data,
                                                 c_error,
                                                 c_close,
                                                 c_end,
                                                 c_timeout,
                                                 c_sched,
                                                 c_rec,
                                                 c_ok,
                                                 c_failed,
                                                 c_online,
                                                 c_offline,
                                                 c_id,
                                                 c_destroy,
                                                 c_rtimeout};

/* ---- server events ---- */

static int str_eq(const weft_value *v, const char *s) {
  const char *p;
  size_t n;
  return weft_value_get_string(v, &p, &n) == 0 && n == strlen(s) && memcmp(p, s, n) == 0;
}

static void spark_reply(weft_spark *sp, const char *s) {
  weft_value *v = weft_value_new_string(s, strlen(s));
  weft_spark_write(sp, v);
  weft_value_free(v);
}

static void s_connection(weft_spark *sp, void *user) {
  fx *f = user;
  if (f->connections < 8)
    snprintf(f->spark_ids[f->connections], sizeof(f->spark_ids[0]), "%s", weft_spark_id(sp));
  f->connections++;
  f->last_spark = sp;
  const char *t = weft_spark_query(sp, "token");
  if (t) snprintf(f->query_token, sizeof(f->query_token), "%s", t);
  const char *h = weft_spark_header(sp, "x-weft-test");
  if (h) snprintf(f->header_val, sizeof(f->header_val), "%s", h);
  fx_check(f);
}

static void s_disconnection(weft_spark *sp, void *user) {
  fx *f = user;
  f->disconnections++;
  if (f->last_spark == sp) f->last_spark = NULL;
  fx_check(f);
}

/* Default server behaviour: commands as strings "cmd:…", everything else
 * echoed. */
static void s_data(weft_spark *sp, const weft_value *msg, void *user) {
  fx *f = user;
  if (f->srv_data) {
    f->srv_data(f, sp, msg);
    fx_check(f);
    return;
  }
  if (str_eq(msg, "cmd:end")) {
    weft_spark_end(sp, NULL, 0);
  } else if (str_eq(msg, "cmd:end-reconnect")) {
    weft_spark_end(sp, NULL, WEFT_END_RECONNECT);
  } else if (str_eq(msg, "cmd:bad-json")) {
    /* An undecodable text frame, then a good message. */
    weft_spark_write_raw(sp, "{\"a\":", 5, 0);
    spark_reply(sp, "after-bad");
  } else if (str_eq(msg, "cmd:bad-msgpack")) {
    weft_spark_write_raw(sp, "\xc1", 1, 1);
    spark_reply(sp, "after-bad");
  } else {
    weft_spark_write(sp, msg);
  }
  fx_check(f);
}

static void s_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  fx *f = user;
  (void)s, (void)sp;
  f->srv_errors++;
  size_t n = strlen(f->srv_err_kinds);
  snprintf(f->srv_err_kinds + n, sizeof(f->srv_err_kinds) - n, "%s,", e->kind);
}

static void s_close(weft_server *s, void *user) {
  (void)s;
  ((fx *)user)->server_closed = 1;
}

static const weft_server_events server_events = {
    sizeof(weft_server_events), s_connection, s_disconnection, s_data, NULL, s_error, s_close};

/* ---- raw TCP peers ----
 * A listener on the loop that accepts and reads. Without a script it never
 * answers (a server that hangs on the upgrade); with one, it answers the
 * upgrade request with the script's chunks, one per timer tick, so the
 * client sees the answer split across reads. */

typedef struct rawc {
  uv_tcp_t tcp;
  uv_timer_t timer;
  fx *f;
  char req[4096];
  size_t reqlen;
  int answered, handles;
  char chunk[8][512];
  size_t chunk_len[8];
  int nchunks, next;
  int close_after; /* close the connection after the last chunk */
} rawc;

/* Builds the answer chunks once the request head is in (`key` is the
 * Sec-WebSocket-Key, "" when absent). */
typedef void (*raw_script_fn)(rawc *rc, const char *key);

static void rawc_closed(uv_handle_t *h) {
  rawc *rc = h->data;
  if (--rc->handles == 0) free(rc);
}

static void rawc_close(rawc *rc) {
  if (!uv_is_closing((uv_handle_t *)&rc->tcp)) uv_close((uv_handle_t *)&rc->tcp, rawc_closed);
  if (!uv_is_closing((uv_handle_t *)&rc->timer)) uv_close((uv_handle_t *)&rc->timer, rawc_closed);
}

static void raw_forget(fx *f, rawc *rc) {
  for (int i = 0; i < f->nraw; i++)
    if (f->raw_conns[i] == rc) {
      f->raw_conns[i] = f->raw_conns[--f->nraw];
      break;
    }
}

static void raw_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf) {
  static char sink[65536];
  (void)h, (void)want;
  *buf = uv_buf_init(sink, sizeof(sink));
}

static void raw_next_chunk(uv_timer_t *t) {
  rawc *rc = t->data;
  if (rc->next >= rc->nchunks) {
    uv_timer_stop(t);
    if (rc->close_after) {
      raw_forget(rc->f, rc);
      rawc_close(rc);
    }
    return;
  }
  uv_buf_t b = uv_buf_init(rc->chunk[rc->next], (unsigned)rc->chunk_len[rc->next]);
  rc->next++;
  uv_try_write((uv_stream_t *)&rc->tcp, &b, 1); /* small: goes out whole */
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  rawc *rc = s->data;
  fx *f = rc->f;
  if (n < 0) {
    raw_forget(f, rc);
    rawc_close(rc);
    return;
  }
  raw_script_fn script = (raw_script_fn)f->raw_script;
  if (rc->answered && (size_t)n <= sizeof(f->raw_in) - f->raw_in_len) {
    memcpy(f->raw_in + f->raw_in_len, buf->base, (size_t)n);
    f->raw_in_len += (size_t)n;
  }
  if (!script || rc->answered || n == 0) return;
  size_t take =
      (size_t)n < sizeof(rc->req) - 1 - rc->reqlen ? (size_t)n : sizeof(rc->req) - 1 - rc->reqlen;
  memcpy(rc->req + rc->reqlen, buf->base, take);
  rc->reqlen += take;
  rc->req[rc->reqlen] = '\0';
  if (!strstr(rc->req, "\r\n\r\n")) return;
  rc->answered = 1;
  char key[128] = "";
  const char *k = strcasestr(rc->req, "\r\nSec-WebSocket-Key:");
  if (k) {
    k += 20;
    while (*k == ' ')
      k++;
    size_t kl = strcspn(k, "\r\n ");
    snprintf(key, sizeof(key), "%.*s", (int)(kl < 100 ? kl : 100), k);
  }
  script(rc, key);
  uv_timer_start(&rc->timer, raw_next_chunk, 0, 15);
}

static void raw_on_connection(uv_stream_t *server, int status) {
  fx *f = server->data;
  if (status < 0) return;
  rawc *rc = calloc(1, sizeof(*rc));
  if (!rc) return;
  rc->f = f;
  uv_tcp_init(weft_loop_uv(f->loop), &rc->tcp);
  uv_timer_init(weft_loop_uv(f->loop), &rc->timer);
  rc->tcp.data = rc->timer.data = rc;
  rc->handles = 2;
  if (uv_accept(server, (uv_stream_t *)&rc->tcp) != 0 || f->nraw >= 64) {
    rawc_close(rc);
    return;
  }
  f->raw_conns[f->nraw++] = rc;
  f->raw_accepted++;
  uv_read_start((uv_stream_t *)&rc->tcp, raw_alloc, raw_read);
}

/* A TCP socket on 127.0.0.1:0: listening (accepts; answers per script) or
 * only bound (so connecting to its port is refused while nobody can take it). */
static int raw_start(fx *f, int listening) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  if (uv_tcp_init(weft_loop_uv(f->loop), &f->raw) != 0) return -1;
  f->raw_on = 1;
  f->raw.data = f;
  if (uv_tcp_bind(&f->raw, (const struct sockaddr *)&a, 0) != 0) return -1;
  if (listening && uv_listen((uv_stream_t *)&f->raw, 64, raw_on_connection) != 0) return -1;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&f->raw, (struct sockaddr *)&ss, &len) != 0) return -1;
  f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  snprintf(f->url, sizeof(f->url), "ws://127.0.0.1:%d/primus", f->port);
  return 0;
}

static void raw_stop(fx *f) {
  for (int i = 0; i < f->nraw; i++)
    rawc_close(f->raw_conns[i]);
  f->nraw = 0;
  if (f->raw_on) uv_close((uv_handle_t *)&f->raw, NULL);
  f->raw_on = 0;
}

/* ---- fixture life ---- */

static void guard_fired(uv_timer_t *t) {
  fx *f = t->data;
  fx_failf(f, __LINE__, "guard timer: the test did not finish in time");
}

static void timer_fired(uv_timer_t *t) {
  fx *f = t->data;
  if (f->finishing) return;
  void (*cb)(fx *) = f->timer_cb;
  f->timer_cb = NULL;
  if (cb) cb(f);
  fx_check(f);
}

/* One test timer at a time (replaces a pending one). */
static void fx_after(fx *f, uint64_t ms, void (*cb)(fx *f)) {
  f->timer_cb = cb;
  uv_timer_start(&f->timer, timer_fired, ms, 0);
}

static void fx_init(fx *f, int with_server, void (*configure)(fx *f)) {
  assert_int_equal(weft_loop_new(&f->loop), 0);
  uv_loop_t *uv = weft_loop_uv(f->loop);
  assert_int_equal(uv_timer_init(uv, &f->guard), 0);
  assert_int_equal(uv_timer_init(uv, &f->timer), 0);
  f->guard.data = f->timer.data = f;
  if (!with_server) return;
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  assert_int_equal(weft_server_set_events(f->server, &server_events, f, NULL), 0);
  if (configure) configure(f);
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/primus"), 0);
  f->port = weft_server_port(f->server);
  assert_true(f->port > 0);
  snprintf(f->url, sizeof(f->url), "ws://127.0.0.1:%d/primus", f->port);
}

static void fx_add(fx *f, cl *k) {
  k->f = f;
  k->idx = f->nclients;
  cl **n = realloc(f->clients, sizeof(*n) * (size_t)(f->nclients + 1));
  assert_non_null(n);
  f->clients = n;
  f->clients[f->nclients++] = k;
}

/* A client on f's loop with the recorder as its events. */
static void new_client(fx *f, cl *k, const char *url) {
  fx_add(f, k);
  assert_int_equal(weft_client_new(f->loop, url ? url : f->url, &k->c), 0);
  assert_non_null(k->c);
  assert_int_equal(weft_client_set_events(k->c, &client_events, k, NULL), 0);
}

static void destroy_client(cl *k) {
  if (!k->c) return;
  weft_client *c = k->c;
  k->c = NULL;
  int rc = weft_client_destroy(c);
  if (rc != 0) fx_failf(k->f, __LINE__, "weft_client_destroy: %s", weft_err_name(rc));
}

/* Tear down everything (idempotent); the loop then runs dry. */
static void fx_finish(fx *f) {
  if (f->finishing) return;
  f->finishing = 1;
  uv_timer_stop(&f->timer);
  if (f->aux) uv_timer_stop(f->aux);
  raw_stop(f);
  for (int i = 0; i < f->nclients; i++) {
    cl *k = f->clients[i];
    if (!k->destroys) {
      size_t n = strlen(k->log);
      if (n + 2 < sizeof(k->log)) snprintf(k->log + n, sizeof(k->log) - n, "%s|", n ? "," : "");
    }
    destroy_client(k);
  }
  if (f->server) {
    weft_destroy_options o = {sizeof(o), 0, 500};
    weft_server *s = f->server;
    f->server = NULL;
    weft_server_destroy(s, &o);
  }
}

static void close_noop(uv_handle_t *h) { (void)h; }

/* Runs the loop until everything is gone; fails the test on a recorded
 * failure or when anything is left alive. */
static void fx_run(fx *f, unsigned guard_s) {
  uv_timer_start(&f->guard, guard_fired, (uint64_t)guard_s * 1000u * (uint64_t)time_scale(), 0);
  uv_unref((uv_handle_t *)&f->guard);
  assert_int_equal(weft_loop_run(f->loop), 0);
  int leftover = 0;
  for (int i = 0; i < f->nclients; i++)
    if (!f->clients[i]->destroys) leftover++;
  if (leftover || (f->server && !f->server_closed)) {
    /* The loop ran dry while something was alive: a handle the client does
     * not keep active. Record it and clean up. */
    fx_failf(f, __LINE__, "weft_loop_run returned with %d client(s) not destroyed, server %s",
             leftover, f->server_closed || !f->server ? "closed" : "alive");
    fx_finish(f);
    weft_loop_run(f->loop);
  }
  uv_close((uv_handle_t *)&f->guard, close_noop);
  uv_close((uv_handle_t *)&f->timer, close_noop);
  if (f->aux) uv_close((uv_handle_t *)f->aux, close_noop);
  weft_loop_run(f->loop);
  for (int i = 0; i < f->nclients; i++) {
    cl *k = f->clients[i];
    for (int j = 0; j < k->ngot; j++)
      weft_value_free(k->got[j]);
    k->ngot = 0;
  }
  for (int j = 0; j < f->srv_ngot; j++)
    weft_value_free(f->srv_got[j]);
  f->srv_ngot = 0;
  int lc = weft_loop_close(f->loop);
  free(f->clients);
  f->clients = NULL;
  if (f->fail[0]) fail_msg("%s", f->fail);
  assert_int_equal(lc, 0);
}

static weft_value *json(const char *text) {
  weft_value *v = NULL;
  int rc = weft_value_decode("json", text, strlen(text), &v, NULL);
  if (rc != 0) fail_msg("bad test JSON %s: %s", text, weft_err_name(rc));
  return v;
}

static int write_str(weft_client *c, const char *s) {
  weft_value *v = weft_value_new_string(s, strlen(s));
  int rc = weft_client_write(c, v);
  weft_value_free(v);
  return rc;
}

static int write_int(weft_client *c, int64_t i) {
  weft_value *v = weft_value_new_int(i);
  int rc = weft_client_write(c, v);
  weft_value_free(v);
  return rc;
}

static int int_is(const weft_value *v, int64_t want) {
  int64_t i;
  return weft_value_get_int(v, &i) == 0 && i == want;
}

/* ------------------------------------------------------------------------ */
/* 10. Bad input and misuse without I/O                                     */
/* ------------------------------------------------------------------------ */

static int destroy_events;
static void count_destroy(weft_client *c, void *u) {
  (void)c, (void)u;
  destroy_events++;
}
static int user_frees;
static void count_free(void *u) {
  (void)u;
  user_frees++;
}

static void test_api_misuse(void **state) {
  (void)state;
  weft_loop *loop;
  weft_client *c = NULL;
  assert_int_equal(weft_loop_new(&loop), 0);
  const char *url = "ws://127.0.0.1:1/primus";

  /* NULLs */
  assert_int_equal(weft_client_new(NULL, url, &c), WEFT_EINVAL);
  assert_int_equal(weft_client_new(loop, NULL, &c), WEFT_EINVAL);
  assert_int_equal(weft_client_new(loop, url, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_open(NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_write(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_write_raw(NULL, "1", 1, 0), WEFT_EINVAL);
  assert_int_equal(weft_client_id(NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_end(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_destroy(NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_set_online(NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_client_set_parser(NULL, "json"), WEFT_EINVAL);
  assert_int_equal(weft_client_set_strategy(NULL, "timeout"), WEFT_EINVAL);
  assert_int_equal(weft_client_set_events(NULL, &client_events, NULL, NULL), WEFT_EINVAL);

  /* Bad URLs */
  const char *bad[] = {"nope",
                       "",
                       "ftp://127.0.0.1:1/primus",
                       "ws://127.0.0.1:99999/primus",
                       "ws://:80/primus",
                       "ws://127.0.0.1:x/primus",
                       "ws://[::1/primus"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    c = (weft_client *)0x1;
    int rc = weft_client_new(loop, bad[i], &c);
    if (rc != WEFT_EURL)
      fail_msg("weft_client_new(\"%s\") = %s, want EURL", bad[i], weft_err_name(rc));
  }
  assert_int_equal(weft_loop_close(loop), 0); /* nothing was created */

  /* Options on a real client that never connects. */
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_client_new(loop, url, &c), 0);
  assert_int_equal(weft_client_state(c), WEFT_CLIENT_CLOSED);
  weft_client_events small = {0};
  assert_int_equal(weft_client_set_events(c, &small, NULL, NULL), WEFT_EINVAL); /* size 0 */
  assert_int_equal(weft_client_set_parser(c, "xml"), WEFT_EINVAL);
  assert_int_equal(weft_client_set_parser(c, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_set_parser(c, "msgpack"), 0);
  assert_int_equal(weft_client_set_parser(c, "json"), 0);
  assert_int_equal(weft_client_set_strategy(c, "bogus"), WEFT_EINVAL);
  assert_int_equal(weft_client_set_strategy(c, "disconnect,bogus"), WEFT_EINVAL);
  assert_int_equal(weft_client_set_strategy(c, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_set_strategy(c, "Disconnect,ONLINE,timeout"), 0);
  assert_int_equal(weft_client_set_strategy(c, "none"), 0);
  assert_int_equal(weft_client_set_strategy(c, ""), 0);
  assert_int_equal(weft_client_set_reconnect(c, 100, 1000, 5, -1.0), WEFT_EINVAL);
  assert_int_equal(weft_client_set_reconnect(c, 100, 1000, 5, NAN), WEFT_EINVAL);
  assert_int_equal(weft_client_set_reconnect(c, 100, 1000, 5, 2.0), 0);
  assert_int_equal(weft_client_add_header(c, NULL, "x"), WEFT_EINVAL);
  assert_int_equal(weft_client_add_header(c, "X-A", NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_add_header(c, "X-A\r\nX-B", "1"), WEFT_EINVAL);
  assert_int_equal(weft_client_add_header(c, "X-A", "1\r\nX-B: 2"), WEFT_EINVAL);
  assert_int_equal(weft_client_add_header(c, "X-A", "1"), 0);
  assert_int_equal(weft_client_write(c, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_write_raw(c, "\"\xff\"", 3, 0), WEFT_EUTF8);
  assert_int_equal(weft_client_write_raw(c, NULL, 1, 1), WEFT_EINVAL);

  /* wss:// is accepted (TLS); never opened, destroyed at once. */
  weft_client *tls = NULL;
  assert_int_equal(weft_client_new(loop, "wss://127.0.0.1:1/primus", &tls), 0);
  assert_int_equal(weft_client_set_ca_file(tls, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_destroy(tls), 0);

  /* Destroy without ever opening; twice is ECLOSED; the destroy event and
   * free_user follow from the loop. */
  weft_client_events ev = {.size = sizeof(ev), .destroy = count_destroy};
  destroy_events = user_frees = 0;
  assert_int_equal(weft_client_set_events(c, &ev, &ev, count_free), 0);
  assert_int_equal(weft_client_destroy(c), 0);
  assert_int_equal(weft_client_destroy(c), WEFT_ECLOSED);
  assert_int_equal(weft_loop_close(loop), WEFT_ESTATE); /* the client is still alive */
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(destroy_events, 1);
  assert_int_equal(user_frees, 1);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* ------------------------------------------------------------------------ */
/* 9. Writes queue while not open and go out first, in order               */
/* ------------------------------------------------------------------------ */

static void queue_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  (void)arg;
  if (strcmp(ev, "open") == 0) {
    FCHECK(f, weft_client_state(k->c) == WEFT_CLIENT_OPEN);
    FCHECK(f, weft_client_open(k->c) == WEFT_ESTATE);
    for (int i = 5; i < 10; i++)
      FCHECK(f, write_int(k->c, i) == 0);
  } else if (strcmp(ev, "data") == 0) {
    if (!int_is(arg, k->ngot - 1)) {
      fx_failf(f, __LINE__, "echo #%d is not %d", k->ngot - 1, k->ngot - 1);
      return;
    }
    if (k->ngot == 10) fx_finish(f);
  }
}

static void test_queue_before_open(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.keep = 1, .on = queue_on};
  fx_init(&f, 1, NULL);
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_state(k.c), WEFT_CLIENT_CLOSED);
  assert_int_equal(weft_client_buffered_amount(k.c), 0);
  assert_int_equal(write_int(k.c, 0), 0); /* before weft_client_open() */
  assert_int_equal(write_int(k.c, 1), 0);
  assert_true(weft_client_buffered_amount(k.c) > 0);
  assert_int_equal(weft_client_open(k.c), 0);
  assert_int_equal(weft_client_state(k.c), WEFT_CLIENT_OPENING);
  assert_int_equal(weft_client_open(k.c), WEFT_ESTATE);
  for (int i = 2; i < 5; i++)
    assert_int_equal(write_int(k.c, i), 0); /* while opening */
  fx_run(&f, 10);
  assert_int_equal(k.opens, 1);
  assert_int_equal(k.datas, 10);
  assert_int_equal(k.nsched, 0);
  assert_int_equal(k.errors, 0);
  assert_int_equal(f.connections, 1);
}

/* Same, but checking what the SERVER received, in order, before the echo. */
static void srv_order_data(fx *f, weft_spark *sp, const weft_value *msg) {
  int64_t i;
  int *next = f->ctx;
  if (weft_value_get_int(msg, &i) != 0 || i != *next) {
    fx_failf(f, __LINE__, "server got message #%d out of order (value %lld)", *next,
             (long long)(weft_value_get_int(msg, &i) == 0 ? i : -1));
    return;
  }
  (*next)++;
  weft_spark_write(sp, msg);
}

static void test_queue_order_at_server(void **state) {
  (void)state;
  fx f = {0};
  int next = 0;
  cl k = {.keep = 1, .on = queue_on};
  fx_init(&f, 1, NULL);
  f.ctx = &next;
  f.srv_data = srv_order_data;
  new_client(&f, &k, NULL);
  assert_int_equal(write_int(k.c, 0), 0);
  assert_int_equal(write_int(k.c, 1), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  for (int i = 2; i < 5; i++)
    assert_int_equal(write_int(k.c, i), 0);
  fx_run(&f, 10);
  assert_int_equal(next, 10);
}

/* queue_limit: beyond it, writes while not open fail with ENOBUFS and are
 * not sent; the accepted ones are. */
static void qlimit_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  int *accepted = f->ctx;
  (void)arg;
  if (strcmp(ev, "open") == 0) {
    FCHECK(f, write_str(k->c, "after open") == 0);
  } else if (strcmp(ev, "data") == 0) {
    char want[32];
    int i = k->ngot - 1;
    if (i < *accepted)
      snprintf(want, sizeof(want), "%02d-xxxxxxxxxxxxxxxxx", i);
    else
      snprintf(want, sizeof(want), "after open");
    if (!str_eq(arg, want)) {
      fx_failf(f, __LINE__, "echo #%d is not \"%s\"", i, want);
      return;
    }
    if (k->ngot == *accepted + 1) fx_finish(f);
  }
}

static void test_queue_limit(void **state) {
  (void)state;
  fx f = {0};
  int accepted = 0, nobufs_at = -1;
  cl k = {.keep = 1, .on = qlimit_on};
  fx_init(&f, 1, NULL);
  f.ctx = &accepted;
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_queue_limit(k.c, 64), 0);
  /* 20 characters: 22 bytes of JSON each. */
  for (int i = 0; i < 10; i++) {
    char s[32];
    snprintf(s, sizeof(s), "%02d-xxxxxxxxxxxxxxxxx", i);
    int rc = write_str(k.c, s);
    if (rc == 0) {
      if (nobufs_at >= 0) fail_msg("write %d accepted after an ENOBUFS at %d", i, nobufs_at);
      accepted++;
    } else {
      if (rc != WEFT_ENOBUFS) fail_msg("write %d: %s, want 0 or ENOBUFS", i, weft_err_name(rc));
      if (nobufs_at < 0) nobufs_at = i;
    }
  }
  if (nobufs_at < 2 || nobufs_at > 3)
    fail_msg("queue_limit 64 with 22-byte messages: first ENOBUFS at write %d, want 2 or 3",
             nobufs_at);
  size_t held = weft_client_buffered_amount(k.c);
  assert_true(held > 0 && held <= 64 + 32);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  assert_int_equal(k.datas, accepted + 1);
}

/* ------------------------------------------------------------------------ */
/* Echo of varied values (json and msgpack), raw writes                     */
/* ------------------------------------------------------------------------ */

typedef struct echo_ctx {
  weft_value *sent[32];
  int n;
} echo_ctx;

static const char *echo_json[] = {
    "{\"a\":[1,2.5,\"x\",true,null],\"u\":\"\\u2028 \xc3\xa9 \xf0\x9f\x98\x80\"}",
    "\"\"",
    "0",
    "-9223372036854775808",
    "9223372036854775807",
    "1.5e300",
    "-0.25",
    "true",
    "null",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[[[[[\"deep\"]]]]]]]]]]]]]]]]]]]]",
    "\"nul\\u0000 tab\\t nl\\n \\u001b\"",
    "\"primus::unknown::x\"",
    "{\"__weft_test\":\"not a command here\"}",
};

static void echo_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  echo_ctx *e = f->ctx;
  if (strcmp(ev, "data") != 0) return;
  int i = k->ngot - 1;
  if (i >= e->n) {
    fx_failf(f, __LINE__, "more echoes than messages sent");
    return;
  }
  if (!weft_value_equal(arg, e->sent[i])) {
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    weft_value_encode("json", arg, &a, &al);
    weft_value_encode("json", e->sent[i], &b, &bl);
    fx_failf(f, __LINE__, "echo #%d differs: got %.200s, sent %.200s", i, a ? (char *)a : "?",
             b ? (char *)b : "?");
    weft_free(a);
    weft_free(b);
    return;
  }
  if (k->ngot == e->n) fx_finish(f);
}

/* Every value written comes back equal, in order. */
static void echo_test(const char *parser) {
  fx f = {0};
  echo_ctx e = {0};
  cl k = {.keep = 1, .on = echo_on};
  fx_init(&f, 0, NULL);
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  assert_int_equal(weft_server_set_events(f.server, &server_events, &f, NULL), 0);
  assert_int_equal(weft_server_set_parser(f.server, parser), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  f.port = weft_server_port(f.server);
  snprintf(f.url, sizeof(f.url), "ws://127.0.0.1:%d/primus", f.port);
  f.ctx = &e;
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_parser(k.c, parser), 0);
  for (size_t i = 0; i < sizeof(echo_json) / sizeof(echo_json[0]); i++)
    e.sent[e.n++] = json(echo_json[i]);
  char *big = malloc(70000);
  assert_non_null(big);
  for (int i = 0; i < 70000; i++)
    big[i] = (char)('a' + i % 26);
  e.sent[e.n++] = weft_value_new_string(big, 70000);
  free(big);
  const uint8_t bin[6] = {0, 1, 2, 0xff, 0xfe, 0x80};
  e.sent[e.n++] = weft_value_new_binary(bin, sizeof(bin));
  if (strcmp(parser, "msgpack") == 0) {
    weft_value *m = weft_value_new_map();
    assert_int_equal(weft_value_map_add_value(m, weft_value_new_int(7), weft_value_new_null()), 0);
    e.sent[e.n++] = m;
  }
  for (int i = 0; i < e.n; i++)
    assert_int_equal(weft_client_write(k.c, e.sent[i]), 0);
  weft_value *pre = json("{\"pre\":\"encoded\"}");
  uint8_t *enc;
  size_t elen;
  assert_int_equal(weft_value_encode(parser, pre, &enc, &elen), 0);
  assert_int_equal(weft_client_write_raw(k.c, enc, elen, strcmp(parser, "msgpack") == 0), 0);
  weft_free(enc);
  e.sent[e.n++] = pre;
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  for (int i = 0; i < e.n; i++)
    weft_value_free(e.sent[i]);
  assert_int_equal(k.datas, e.n);
  assert_int_equal(k.errors, 0);
  assert_int_equal(f.srv_errors, 0);
}

static void test_echo_values(void **state) {
  (void)state;
  echo_test("json");
  echo_test("msgpack");
}

/* ------------------------------------------------------------------------ */
/* 10. id, headers and query, undecodable messages, server close           */
/* ------------------------------------------------------------------------ */

static void id_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  if (strcmp(ev, "open") == 0) {
    FCHECK(f, weft_client_id(k->c) == 0);
  } else if (strcmp(ev, "id") == 0) {
    const char *id = arg;
    FCHECK(f, f->connections == 1);
    if (strcmp(id, f->spark_ids[0]) != 0) {
      fx_failf(f, __LINE__, "id event \"%s\" != spark id \"%s\"", id, f->spark_ids[0]);
      return;
    }
    if (k->ids == 2) fx_finish(f);
  }
}

static void test_id_headers_query(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = id_on};
  fx_init(&f, 1, NULL);
  char url[200];
  snprintf(url, sizeof(url), "%s?token=abc%%20d&x=1", f.url);
  new_client(&f, &k, url);
  assert_int_equal(weft_client_add_header(k.c, "X-Weft-Test", "yes it is"), 0);
  assert_int_equal(weft_client_id(k.c), 0); /* queued while not open */
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  assert_int_equal(k.ids, 2);
  assert_string_equal(k.id, f.spark_ids[0]);
  assert_int_equal((int)strlen(k.id), 21);
  assert_string_equal(f.query_token, "abc d");
  assert_string_equal(f.header_val, "yes it is");
}

static void bad_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  (void)arg;
  if (strcmp(ev, "open") == 0) {
    FCHECK(f, write_str(k->c, f->ctx ? "cmd:bad-msgpack" : "cmd:bad-json") == 0);
  } else if (strcmp(ev, "data") == 0) {
    const weft_value *msg = arg;
    if (str_eq(msg, "after-bad")) {
      FCHECK(f, k->errors == 1);
      /* still the same connection, and it still works */
      FCHECK(f, weft_client_state(k->c) == WEFT_CLIENT_OPEN);
      FCHECK(f, write_str(k->c, "still here") == 0);
    } else if (str_eq(msg, "still here")) {
      fx_finish(f);
    }
  }
}

static void bad_msgpack_server(fx *f) { weft_server_set_parser(f->server, "msgpack"); }

static void test_undecodable_from_server(void **state) {
  (void)state;
  for (int mp = 0; mp < 2; mp++) {
    fx f = {0};
    cl k = {.on = bad_on};
    fx_init(&f, 1, mp ? bad_msgpack_server : NULL);
    f.ctx = mp ? &f : NULL;
    new_client(&f, &k, NULL);
    if (mp) assert_int_equal(weft_client_set_parser(k.c, "msgpack"), 0);
    assert_int_equal(weft_client_open(k.c), 0);
    fx_run(&f, 10);
    char log[2048];
    log_before_finish(&k, log, sizeof(log));
    assert_string_equal(k.err_kind, mp ? "msgpack" : "json");
    assert_int_equal(k.errors, 1);
    assert_int_equal(k.closes, 1); /* only the teardown's */
    assert_int_equal(tok_index(log, "close", 0), -1);
    assert_int_equal(f.connections, 1);
  }
}

/* primus::server::close: close then end, no reconnect, the handle refuses
 * further use with ECLOSED, destroy twice is ECLOSED. */
static void server_close_quiet(fx *f) {
  cl *k = f->clients[0];
  char log[2048];
  log_before_finish(k, log, sizeof(log));
  FCHECK(f, k->nsched == 0 && k->nrec == 0);
  FCHECK(f, f->connections == 1);
  weft_client *c = k->c;
  k->c = NULL;
  FCHECK(f, weft_client_destroy(c) == 0);
  FCHECK(f, weft_client_destroy(c) == WEFT_ECLOSED);
  fx_finish(f);
}

static void server_close_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  (void)arg;
  if (strcmp(ev, "open") == 0) {
    FCHECK(f, write_str(k->c, "cmd:end") == 0);
  } else if (strcmp(ev, "end") == 0) {
    FCHECK(f, weft_client_state(k->c) == WEFT_CLIENT_CLOSED);
    FCHECK(f, write_str(k->c, "late") == WEFT_ECLOSED);
    FCHECK(f, weft_client_write_raw(k->c, "1", 1, 0) == WEFT_ECLOSED);
    FCHECK(f, weft_client_open(k->c) == WEFT_ECLOSED);
    FCHECK(f, weft_client_end(k->c, NULL) == WEFT_ECLOSED);
    fx_after(f, 400, server_close_quiet);
  }
}

static void test_server_close(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = server_close_on};
  fx_init(&f, 1, NULL);
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_reconnect(k.c, 50, 100, 5, 2), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  assert_string_equal(k.log, "open,close,end,|destroy");
  assert_int_equal(f.disconnections, 1);
}

/* weft_client_end(msg): the message reaches the server before it goes. */
static void end_msg_data(fx *f, weft_spark *sp, const weft_value *msg) {
  (void)sp;
  if (f->srv_ngot < MAX_GOT) f->srv_got[f->srv_ngot++] = weft_value_dup(msg);
}

static void end_msg_check(fx *f) {
  cl *k = f->clients[0];
  if (f->disconnections == 1 && k->ends == 1) {
    FCHECK(f, f->srv_ngot == 1 && str_eq(f->srv_got[0], "bye"));
    fx_after(f, 300, fx_finish);
  }
}

static void end_msg_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  (void)arg;
  if (strcmp(ev, "open") == 0) {
    weft_value *bye = weft_value_new_string("bye", 3);
    int rc = weft_client_end(k->c, bye);
    weft_value_free(bye);
    FCHECK(f, rc == 0);
    FCHECK(f, weft_client_state(k->c) == WEFT_CLIENT_CLOSED);
    FCHECK(f, write_str(k->c, "late") == WEFT_ECLOSED);
    FCHECK(f, weft_client_end(k->c, NULL) == WEFT_ECLOSED);
  }
}

static void test_client_end(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = end_msg_on};
  fx_init(&f, 1, NULL);
  f.srv_data = end_msg_data;
  f.check = end_msg_check;
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  assert_string_equal(k.log, "open,close,end,|destroy");
}

/* weft_client_end() before the connection opened: end, and no close (close
 * is for an open connection that went away); queued writes are dropped. */
static void test_end_while_opening(void **state) {
  (void)state;
  for (int opened = 0; opened < 2; opened++) {
    fx f = {0};
    cl k = {0};
    fx_init(&f, 1, NULL);
    f.srv_data = end_msg_data; /* keeps what arrives */
    new_client(&f, &k, NULL);
    assert_int_equal(write_str(k.c, "queued"), 0);
    if (opened) assert_int_equal(weft_client_open(k.c), 0); /* else: never opened */
    assert_int_equal(weft_client_end(k.c, NULL), 0);
    assert_int_equal(weft_client_state(k.c), WEFT_CLIENT_CLOSED);
    assert_int_equal(weft_client_end(k.c, NULL), WEFT_ECLOSED);
    assert_int_equal(weft_client_open(k.c), WEFT_ECLOSED);
    fx_after(&f, 300, fx_finish);
    fx_run(&f, 5);
    char log[2048];
    log_before_finish(&k, log, sizeof(log));
    /* As Primus's end(): `close` whenever the state was not CLOSED
     * (opening counts), then `end`; a client never opened just ends. */
    const char *want = opened ? "close,end" : "end";
    if (strcmp(log, want) != 0)
      fail_msg("end while %s: log %s, want %s", opened ? "opening" : "never opened", log, want);
    assert_int_equal(f.srv_ngot, 0);
  }
}

/* end-reconnect from the server: the client comes back by itself. */
static void end_reconnect_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  (void)arg;
  if (strcmp(ev, "open") == 0) {
    if (k->opens == 1) {
      FCHECK(f, write_str(k->c, "cmd:end-reconnect") == 0);
    } else {
      FCHECK(f, write_str(k->c, "back") == 0);
    }
  } else if (strcmp(ev, "data") == 0 && str_eq(arg, "back")) {
    fx_finish(f);
  }
}

static void test_server_end_reconnect(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = end_reconnect_on};
  fx_init(&f, 1, NULL);
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_reconnect(k.c, 50, 200, 5, 2), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  char log[2048];
  log_before_finish(&k, log, sizeof(log));
  assert_string_equal(log, "open,close,sched1,rec1,ok1,open");
  assert_int_equal(f.connections, 2);
  assert_string_not_equal(f.spark_ids[0], f.spark_ids[1]);
  assert_true(k.sched[0].delay_ms >= 50 && k.sched[0].delay_ms <= 100);
  assert_int_equal(k.sched[0].retries, 5);
}

/* ------------------------------------------------------------------------ */
/* 6. The backoff schedule against a port where nobody listens              */
/* ------------------------------------------------------------------------ */

static void backoff_on(cl *k, const char *ev, const void *arg) {
  (void)arg;
  if (strcmp(ev, "end") == 0) fx_after(k->f, 300, fx_finish); /* anything after end shows */
}

static void test_backoff_schedule(void **state) {
  (void)state;
  enum { MIN = 50, MAX = 400, RETRIES = 6 };
  fx f = {0};
  cl k = {.on = backoff_on};
  fx_init(&f, 0, NULL);
  assert_int_equal(raw_start(&f, 0), 0); /* bound, not listening: connect is refused */
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_strategy(k.c, "timeout"), 0);
  assert_int_equal(weft_client_set_reconnect(k.c, MIN, MAX, RETRIES, 2), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 15);

  char log[2048], seq[2048];
  log_before_finish(&k, log, sizeof(log));
  /* Errors may accompany failed attempts, but only before reconnect failed. */
  int failed_at = tok_index(log, "failed", 0);
  if (failed_at < 0) fail_msg("no reconnect failed; log: %s", log);
  log_without_errors(log, seq, sizeof(seq));
  assert_string_equal(seq,
                      "sched1,rec1,sched2,rec2,sched3,rec3,sched4,rec4,sched5,rec5,sched6,rec6,"
                      "failed,end");
  /* docs/protocol.md: a failed retry is not an error; only the first
   * connection's failure may be reported. */
  int errors = tok_count_prefix(log, "error:");
  if (errors > 1 || (errors == 1 && strncmp(log, "error:", 6) != 0))
    fail_msg("errors from retries: %s", log);
  assert_non_null(strstr(k.log, ",failed,end,|destroy"));
  assert_int_equal(k.nsched, RETRIES);
  assert_int_equal(k.nrec, RETRIES);
  for (int n = 1; n <= RETRIES; n++) {
    weft_reconnect_info *s = &k.sched[n - 1], *r = &k.rec[n - 1];
    uint32_t lo = (uint32_t)MIN << (n - 1), hi = 2 * lo;
    if (hi > MAX) hi = MAX;
    if (lo > MAX) lo = MAX;
    if (s->attempt != (uint32_t)n || s->retries != RETRIES || s->delay_ms < lo || s->delay_ms > hi)
      fail_msg("reconnect scheduled #%d: attempt %u retries %u delay %u ms; want attempt %d, "
               "retries %d, delay in [%u, %u]",
               n, s->attempt, s->retries, s->delay_ms, n, RETRIES, lo, hi);
    if (r->attempt != (uint32_t)n || r->delay_ms != s->delay_ms)
      fail_msg("reconnect #%d: attempt %u delay %u; scheduled delay %u", n, r->attempt, r->delay_ms,
               s->delay_ms);
    /* the retry does not start before its delay (2 ms of clock slack) */
    uint64_t waited_ms = (k.rec_ns[n - 1] - k.sched_ns[n - 1]) / 1000000u;
    if (waited_ms + 2 < s->delay_ms)
      fail_msg("reconnect #%d started %llu ms after being scheduled with delay %u ms", n,
               (unsigned long long)waited_ms, s->delay_ms);
  }
  assert_int_equal(k.opens, 0);
  assert_int_equal(k.closes, 0); /* never open, so never closed */
  assert_int_equal(k.ends, 1);
}

/* ------------------------------------------------------------------------ */
/* 7. A server that accepts TCP and never answers the upgrade               */
/* ------------------------------------------------------------------------ */

static void timeout_on(cl *k, const char *ev, const void *arg) {
  (void)arg;
  fx *f = k->f;
  int *reconnecting = f->ctx;
  if (*reconnecting && strcmp(ev, "sched") == 0 && k->nsched == 2) fx_finish(f);
  if (!*reconnecting && strcmp(ev, "end") == 0) fx_after(f, 300, fx_finish);
}

static void test_connect_timeout(void **state) {
  (void)state;
  for (int reconnecting = 1; reconnecting >= 0; reconnecting--) {
    fx f = {0};
    cl k = {.on = timeout_on};
    fx_init(&f, 0, NULL);
    f.ctx = &reconnecting;
    assert_int_equal(raw_start(&f, 1), 0);
    new_client(&f, &k, NULL);
    assert_int_equal(weft_client_set_timeout(k.c, 300), 0);
    assert_int_equal(weft_client_set_strategy(k.c, reconnecting ? "timeout" : "disconnect,online"),
                     0);
    assert_int_equal(weft_client_set_reconnect(k.c, 100, 200, 2, 2), 0);
    /* The core's timer counts from the loop's cached time: bring it to now,
     * or a slow set-up makes the timeout look early. */
    uv_update_time(weft_loop_uv(f.loop));
    k.t0_ns = uv_hrtime();
    assert_int_equal(weft_client_open(k.c), 0);
    fx_run(&f, 10);
    char log[2048], seq[2048];
    log_before_finish(&k, log, sizeof(log));
    log_without_errors(log, seq, sizeof(seq));
    assert_true(f.raw_accepted >= 1); /* TCP did connect */
    assert_int_equal(k.timeouts, 1);
    uint64_t after_ms = (k.timeout_ns - k.t0_ns) / 1000000u;
    if (after_ms + 5 < 300)
      fail_msg("timeout after %llu ms, before the 300 ms connect timeout",
               (unsigned long long)after_ms);
    if (reconnecting) {
      /* docs/protocol.md: each retry is bounded by the connect timeout too */
      assert_string_equal(seq, "timeout,sched1,rec1,rtimeout1,sched2");
      assert_int_equal(k.rtimeouts, 1);
      assert_true(k.sched[0].delay_ms >= 100 && k.sched[0].delay_ms <= 200);
      assert_true(f.raw_accepted >= 2);
      uint64_t retry_ms = (k.sched_ns[1] - k.rec_ns[0]) / 1000000u;
      if (retry_ms + 5 < 300)
        fail_msg("the hanging retry gave up after %llu ms, before the 300 ms timeout",
                 (unsigned long long)retry_ms);
    } else {
      assert_string_equal(seq, "timeout,end"); /* no close: it never opened */
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Refused upgrades                                                         */
/* ------------------------------------------------------------------------ */

static void authorize(weft_auth *req, void *user) {
  (void)user;
  const char *t = weft_auth_query(req, "token");
  if (t && strcmp(t, "secret") == 0)
    weft_auth_allow(req);
  else
    weft_auth_deny(req, 401, "bad token");
}

static void with_auth(fx *f) { weft_server_set_authorize(f->server, authorize, f, NULL); }

typedef struct refuse_ctx {
  int quiet_done;
} refuse_ctx;

static void refuse_quiet(fx *f) { ((refuse_ctx *)f->ctx)->quiet_done = 1; }

static void refuse_check(fx *f) {
  refuse_ctx *r = f->ctx;
  cl *a = f->clients[0], *b = f->clients[1], *ok = f->clients[2];
  if (a->ends == 1 && !r->quiet_done && !uv_is_active((uv_handle_t *)&f->timer))
    fx_after(f, 400, refuse_quiet);
  if (r->quiet_done && b->nsched >= 1 && ok->opens == 1) fx_finish(f);
}

static void test_refused(void **state) {
  (void)state;
  fx f = {0};
  refuse_ctx r = {0};
  cl a = {0}, b = {0}, ok = {0};
  fx_init(&f, 1, with_auth);
  f.ctx = &r;
  f.check = refuse_check;
  char url[200];
  snprintf(url, sizeof(url), "%s?token=wrong", f.url);
  new_client(&f, &a, url);
  new_client(&f, &b, f.url); /* no token, retry_refused */
  snprintf(url, sizeof(url), "%s?token=secret", f.url);
  new_client(&f, &ok, url);
  assert_int_equal(weft_client_set_reconnect(a.c, 50, 100, 3, 2), 0);
  assert_int_equal(weft_client_set_reconnect(b.c, 50, 100, 100, 2), 0);
  assert_int_equal(weft_client_set_retry_refused(b.c, 1), 0);
  assert_int_equal(weft_client_open(a.c), 0);
  assert_int_equal(weft_client_open(b.c), 0);
  assert_int_equal(weft_client_open(ok.c), 0);
  fx_run(&f, 10);
  char log[2048];
  log_before_finish(&a, log, sizeof(log));
  assert_string_equal(log, "error:http,end");
  assert_int_equal(a.err_status, 401);
  assert_true(a.err_code < 0);
  assert_string_equal(a.err_body, "{\"error\":\"bad token\"}");
  log_before_finish(&b, log, sizeof(log));
  if (strncmp(log, "error:http,sched1", 17) != 0)
    fail_msg("retry_refused: log %s, want error:http,sched1,…", log);
  assert_int_equal(b.err_status, 401);
  if (tok_index(log, "end", 0) != -1) fail_msg("retry_refused: ended: %s", log);
  assert_int_equal(ok.errors, 0);
  assert_int_equal(f.connections, 1);
}

/* ------------------------------------------------------------------------ */
/* Heartbeats                                                               */
/* ------------------------------------------------------------------------ */

static void fast_ping(fx *f) { weft_server_set_ping_interval(f->server, 100); }

static void ping_echo(fx *f) {
  cl *k = f->clients[0];
  FCHECK(f, write_str(k->c, "alive") == 0);
}

static void ping_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  if (strcmp(ev, "open") == 0) fx_after(f, 800, ping_echo);
  if (strcmp(ev, "data") == 0 && str_eq(arg, "alive")) fx_finish(f);
}

static void test_heartbeat_answered(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = ping_on};
  fx_init(&f, 1, fast_ping);
  new_client(&f, &k, NULL);
  /* 800 ms of pings every 100 ms outlast a 600 ms timeout only if each ping
   * restarts it; 6 intervals of slack keep a stalled machine from timing
   * out between two pings. */
  assert_int_equal(weft_client_set_ping_timeout(k.c, 600), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  char log[2048];
  log_before_finish(&k, log, sizeof(log));
  assert_string_equal(log, "open");
  assert_int_equal(f.connections, 1);
  assert_null(strstr(f.srv_err_kinds, "timeout"));
}

/* No pings at all: after ping_timeout the connection is taken for dead:
 * offline, close, then a reconnect (which succeeds: open again). */
static void no_ping(fx *f) { weft_server_set_ping_interval(f->server, 0); }

static void ping_dead_on(cl *k, const char *ev, const void *arg) {
  (void)arg;
  if (strcmp(ev, "open") == 0 && k->opens == 2) fx_finish(k->f);
}

static void test_heartbeat_timeout(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = ping_dead_on};
  fx_init(&f, 1, no_ping);
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_ping_timeout(k.c, 200), 0);
  assert_int_equal(weft_client_set_reconnect(k.c, 50, 100, 3, 2), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  char log[2048];
  log_before_finish(&k, log, sizeof(log));
  int off = tok_index(log, "offline", 0), cls = tok_index(log, "close", 0),
      sch = tok_index(log, "sched1", 0), ok1 = tok_index(log, "ok1", 0),
      op2 = tok_index(log, "open", 1);
  if (!(off > 0 && off < cls && cls < sch && sch < ok1 && ok1 < op2))
    fail_msg("heartbeat expiry: log %s; want open,…offline,close,sched1,rec1,…ok1,open", log);
  uint64_t dead_after = (k.offline_ns - k.first_open_ns) / 1000000u;
  if (dead_after + 5 < 200)
    fail_msg("offline %llu ms after open, before the 200 ms ping timeout",
             (unsigned long long)dead_after);
  assert_int_equal(tok_index(log, "end", 0), -1);
}

/* weft_client_set_online(0/1) */
static void online_back(fx *f) {
  cl *k = f->clients[0];
  char log[2048];
  log_before_finish(k, log, sizeof(log));
  FCHECK(f, k->nsched == 0 && k->opens == 1); /* nothing while offline */
  FCHECK(f, weft_client_set_online(k->c, 1) == 0);
}

static void online_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  (void)arg;
  if (strcmp(ev, "open") == 0 && k->opens == 1) {
    FCHECK(f, weft_client_set_online(k->c, 0) == 0);
    fx_after(f, 300, online_back);
  } else if (strcmp(ev, "open") == 0 && k->opens == 2) {
    fx_finish(f);
  }
}

static void test_online_offline(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = online_on};
  fx_init(&f, 1, NULL);
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_reconnect(k.c, 50, 100, 3, 2), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  char log[2048];
  log_before_finish(&k, log, sizeof(log));
  int off = tok_index(log, "offline", 0), cls = tok_index(log, "close", 0),
      on = tok_index(log, "online", 0), op2 = tok_index(log, "open", 1);
  if (!(off == 1 && cls > off && on > cls && op2 > on))
    fail_msg("online/offline: log %s; want open,offline,…close,…online,…open", log);
  assert_int_equal(f.connections, 2);
}

/* ------------------------------------------------------------------------ */
/* Answers split across reads (as Primus writes its 401: line by line)      */
/* ------------------------------------------------------------------------ */

static void unmask(uint8_t *p, size_t n, const uint8_t key[4]) {
  for (size_t i = 0; i < n; i++)
    p[i] ^= key[i & 3];
}

static void add_chunk(rawc *rc, const void *p, size_t n) {
  memcpy(rc->chunk[rc->nchunks], p, n);
  rc->chunk_len[rc->nchunks++] = n;
}

static void script_split_101(rawc *rc, const char *key) {
  char in[256], acc[64];
  unsigned char sha[SHA_DIGEST_LENGTH];
  snprintf(in, sizeof(in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  SHA1((const unsigned char *)in, strlen(in), sha);
  EVP_EncodeBlock((unsigned char *)acc, sha, SHA_DIGEST_LENGTH);
  char tail[256];
  snprintf(tail, sizeof(tail), "ection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", acc);
  add_chunk(rc, "HTTP/1.1 ", 9);
  const char *mid = "101 Switching Protocols\r\nUpgrade: websocket\r\nConn";
  add_chunk(rc, mid, strlen(mid));
  add_chunk(rc, tail, strlen(tail));
  add_chunk(rc, "\r\n", 2);
  add_chunk(rc, "\x81\x07", 2); /* a text frame of 7 bytes … */
  add_chunk(rc, "\"hel", 4);    /* … in two pieces */
  add_chunk(rc, "lo\"", 3);
}

static void script_split_401(rawc *rc, const char *key) {
  (void)key;
  const char *head = "401 Unauthorized\r\nConnection: close\r\nContent-Type: application/json\r\n"
                     "Content-Length: 21\r\n";
  add_chunk(rc, "HTTP/1.1 ", 9);
  add_chunk(rc, head, strlen(head));
  add_chunk(rc, "\r\n", 2);
  add_chunk(rc, "{\"error\":\"bad ", 14);
  add_chunk(rc, "token\"}", 7);
}

static void split_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  if (strcmp(ev, "data") == 0) {
    FCHECK(f, str_eq(arg, "hello"));
    fx_finish(f);
  } else if (strcmp(ev, "end") == 0) {
    fx_after(f, 200, fx_finish);
  }
}

/* Without ping_timeout, the first connection reads <path>/spec and uses
 * 1.5 x its pingInterval: a server announcing 100 ms that never pings is
 * taken for dead after ~150 ms (not the 45 s default). The spec is read once. */
static void script_spec_then_101(rawc *rc, const char *key) {
  if (strncmp(rc->req, "GET /primus/spec", 16) == 0) {
    rc->f->spec_requests++;
    const char *body = "{\"pingInterval\":100,\"pathname\":\"/primus\",\"version\":\"8.0.9\","
                       "\"parser\":\"json\",\"transformer\":\"websockets\"}";
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             strlen(body));
    add_chunk(rc, head, strlen(head));
    add_chunk(rc, body, strlen(body));
    rc->close_after = 1;
    return;
  }
  rc->f->upgrade_requests++;
  script_split_101(rc, key);
  rc->nchunks -= 3; /* no data frame */
}

static void spec_on(cl *k, const char *ev, const void *arg) {
  (void)arg;
  if (strcmp(ev, "offline") == 0) fx_finish(k->f);
}

static void test_spec_ping_timeout(void **state) {
  (void)state;
  fx f = {0};
  cl k = {.on = spec_on};
  fx_init(&f, 0, NULL);
  f.raw_script = (void *)script_spec_then_101;
  assert_int_equal(raw_start(&f, 1), 0);
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  char log[2048];
  log_before_finish(&k, log, sizeof(log));
  assert_string_equal(log, "open,offline");
  assert_int_equal(f.spec_requests, 1);
  assert_int_equal(f.upgrade_requests, 1);
  uint64_t dead_after = (k.offline_ns - k.first_open_ns) / 1000000u;
  if (dead_after + 5 < 150)
    fail_msg("offline %llu ms after open; the spec's 100 ms interval gives 150 ms",
             (unsigned long long)dead_after);
}

static void test_split_answers(void **state) {
  (void)state;
  for (int refuse = 0; refuse < 2; refuse++) {
    fx f = {0};
    cl k = {.on = split_on};
    fx_init(&f, 0, NULL);
    f.raw_script = (void *)(refuse ? script_split_401 : script_split_101);
    assert_int_equal(raw_start(&f, 1), 0);
    new_client(&f, &k, NULL);
    assert_int_equal(weft_client_set_reconnect(k.c, 50, 100, 2, 2), 0);
    assert_int_equal(weft_client_set_ping_timeout(k.c, 0), 0);
    assert_int_equal(weft_client_open(k.c), 0);
    fx_run(&f, 10);
    char log[2048];
    log_before_finish(&k, log, sizeof(log));
    if (refuse) {
      if (strcmp(log, "error:http,end") != 0)
        fail_msg("401 split across reads: log %s (last error %s), want error:http,end", log,
                 k.err_kind);
      assert_int_equal(k.err_status, 401);
      assert_string_equal(k.err_body, "{\"error\":\"bad token\"}");
    } else {
      if (strcmp(log, "open") != 0)
        fail_msg("101 split across reads: log %s (last error %s), want open", log, k.err_kind);
      assert_int_equal(k.datas, 1);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* permessage-deflate                                                       */
/* ------------------------------------------------------------------------ */

static void pmd_echo_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  const char *big = f->ctx;
  if (strcmp(ev, "open") == 0) {
    FCHECK(f, write_str(k->c, big) == 0);
    FCHECK(f, write_str(k->c, "short") == 0);
  } else if (strcmp(ev, "data") == 0 && k->datas == 1) {
    FCHECK(f, str_eq(arg, big));
  } else if (strcmp(ev, "data") == 0) {
    FCHECK(f, str_eq(arg, "short"));
    fx_finish(f);
  }
}

static void compression_server(fx *f) { weft_server_set_compression(f->server, 1); }

/* Against a weft server with compression, with and without the client's:
 * long and short messages come back as they went. */
static void test_compression_echo(void **state) {
  (void)state;
  char big[3000];
  for (size_t i = 0; i < sizeof big - 1; i++)
    big[i] = "weft compresses this "[i % 21];
  big[sizeof big - 1] = '\0';
  for (int on = 0; on < 2; on++) {
    fx f = {0};
    cl k = {.on = pmd_echo_on};
    fx_init(&f, 1, compression_server);
    f.ctx = big;
    new_client(&f, &k, NULL);
    assert_int_equal(weft_client_set_compression(k.c, on), 0);
    assert_int_equal(weft_client_set_ping_timeout(k.c, 0), 0);
    assert_int_equal(weft_client_open(k.c), 0);
    fx_run(&f, 10);
    assert_int_equal(k.datas, 2);
    assert_int_equal(k.errors, 0);
  }
  assert_int_equal(weft_client_set_compression(NULL, 1), WEFT_EINVAL);
}

/* The raw peer's answer: its Sec-WebSocket-Extensions line (pmd_answer),
 * then two text frames compressed the way pmd_takeover says. */
static const char *pmd_answer;
static int pmd_takeover, pmd_offered;

static size_t pmd_compress(z_stream *z, const char *text, uint8_t *out, size_t cap) {
  z->next_in = (Bytef *)(uintptr_t)text;
  z->avail_in = (uInt)strlen(text);
  z->next_out = out;
  z->avail_out = (uInt)cap;
  assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
  return cap - z->avail_out - 4; /* without 00 00 ff ff */
}

static void script_pmd_101(rawc *rc, const char *key) {
  char in[256], acc[64], head[512];
  unsigned char sha[SHA_DIGEST_LENGTH];
  pmd_offered = strstr(rc->req, "\r\nSec-WebSocket-Extensions: permessage-deflate; "
                                "client_no_context_takeover; client_max_window_bits\r\n") != NULL;
  snprintf(in, sizeof(in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  SHA1((const unsigned char *)in, strlen(in), sha);
  EVP_EncodeBlock((unsigned char *)acc, sha, SHA_DIGEST_LENGTH);
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                   "Sec-WebSocket-Extensions: %s\r\n\r\n",
                   acc, pmd_answer);
  add_chunk(rc, head, (size_t)n);
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  for (int i = 0; i < 2; i++) {
    uint8_t frame[200];
    if (!pmd_takeover) deflateReset(&z);
    size_t len = pmd_compress(&z, "\"hello hello hello hello\"", frame + 2, sizeof frame - 2);
    frame[0] = 0xc1; /* FIN, RSV1, text */
    frame[1] = (uint8_t)len;
    add_chunk(rc, frame, len + 2);
  }
  deflateEnd(&z);
}

static void pmd_raw_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  if (strcmp(ev, "data") == 0) {
    FCHECK(f, str_eq(arg, "hello hello hello hello"));
    if (k->datas == 2) fx_finish(f);
  } else if (strcmp(ev, "end") == 0) {
    fx_after(f, 100, fx_finish);
  }
}

/* What the client makes of a server's answers: the server's context kept
 * (the second frame refers to the first), given up, and answers that fail
 * the connection (a parameter it cannot know, an extension not offered). */
static void test_compression_answers(void **state) {
  (void)state;
  static const struct {
    int offer;
    const char *answer;
    int takeover;
    const char *log;
  } cases[] = {
      {1, "permessage-deflate", 1, "open"},
      {1, "permessage-deflate; server_no_context_takeover; client_max_window_bits=9", 0, "open"},
      {1, "permessage-deflate; server_max_window_bits=10; client_no_context_takeover", 1, "open"},
      {1, "permessage-deflate; mux", 0, "error:protocol,end"},
      {1, "permessage-deflate; client_max_window_bits", 0, "error:protocol,end"},
      {1, "permessage-deflate, permessage-deflate", 0, "error:protocol,end"},
      {0, "permessage-deflate", 0, "error:protocol,end"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    fx f = {0};
    cl k = {.on = pmd_raw_on};
    pmd_answer = cases[i].answer;
    pmd_takeover = cases[i].takeover;
    pmd_offered = -1;
    fx_init(&f, 0, NULL);
    f.raw_script = (void *)script_pmd_101;
    assert_int_equal(raw_start(&f, 1), 0);
    new_client(&f, &k, NULL);
    assert_int_equal(weft_client_set_compression(k.c, cases[i].offer), 0);
    assert_int_equal(weft_client_set_ping_timeout(k.c, 0), 0);
    assert_int_equal(weft_client_set_strategy(k.c, "none"), 0);
    assert_int_equal(weft_client_open(k.c), 0);
    fx_run(&f, 10);
    char log[2048];
    log_before_finish(&k, log, sizeof(log));
    if (strcmp(log, cases[i].log) != 0)
      fail_msg("answer \"%s\": log %s, want %s", cases[i].answer, log, cases[i].log);
    assert_int_equal(pmd_offered, cases[i].offer);
    assert_int_equal(k.datas, strcmp(cases[i].log, "open") == 0 ? 2 : 0);
  }
}

static void pmd_frames_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  (void)arg;
  if (strcmp(ev, "open") == 0) {
    FCHECK(f, write_str(k->c, f->ctx) == 0);
    FCHECK(f, write_str(k->c, f->ctx) == 0);
    FCHECK(f, write_str(k->c, "tiny") == 0);
    FCHECK(f, weft_client_end(k->c, NULL) == 0);
  } else if (strcmp(ev, "end") == 0) {
    fx_after(f, 300, fx_finish);
  }
}

/* The client's frames on the wire: each masked with its own key (the close
 * frame too); long messages compressed within the 9-bit window the server
 * allowed, short ones not. */
static void test_compression_frames(void **state) {
  (void)state;
  char text[400];
  for (size_t i = 0; i < sizeof text - 1; i++)
    text[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[(i * 7) % 36];
  text[sizeof text - 1] = '\0';
  fx f = {0};
  cl k = {.on = pmd_frames_on};
  pmd_answer = "permessage-deflate; client_max_window_bits=9";
  pmd_takeover = 1;
  fx_init(&f, 0, NULL);
  f.ctx = text;
  f.raw_script = (void *)script_pmd_101;
  assert_int_equal(raw_start(&f, 1), 0);
  new_client(&f, &k, NULL);
  assert_int_equal(weft_client_set_compression(k.c, 1), 0);
  assert_int_equal(weft_client_set_ping_timeout(k.c, 0), 0);
  assert_int_equal(weft_client_open(k.c), 0);
  fx_run(&f, 10);
  uint8_t keys[8][4], *p = f.raw_in;
  int ops[8], rsv1[8], n = 0;
  size_t left = f.raw_in_len;
  while (left >= 6 && n < 8) {
    size_t len = p[1] & 0x7f, h = 2;
    assert_true(p[1] & 0x80); /* masked */
    if (len == 126) {
      len = (size_t)p[2] << 8 | p[3];
      h = 4;
    }
    assert_true(left >= h + 4 + len);
    memcpy(keys[n], p + h, 4);
    ops[n] = p[0] & 0x0f;
    rsv1[n] = (p[0] & 0x40) != 0;
    uint8_t *payload = p + h + 4;
    unmask(payload, len, keys[n]);
    if (ops[n] == 1 && rsv1[n]) {
      /* "text" as JSON, inflated with exactly a 9-bit window */
      uint8_t out[512];
      z_stream z;
      memset(&z, 0, sizeof z);
      assert_int_equal(inflateInit2(&z, -9), Z_OK);
      uint8_t in[512];
      memcpy(in, payload, len);
      memcpy(in + len, "\x00\x00\xff\xff", 4);
      z.next_in = in;
      z.avail_in = (uInt)len + 4;
      z.next_out = out;
      z.avail_out = sizeof out;
      int zr = inflate(&z, Z_SYNC_FLUSH);
      assert_true(zr == Z_OK || zr == Z_BUF_ERROR);
      assert_int_equal(sizeof out - z.avail_out, strlen(text) + 2);
      assert_memory_equal(out + 1, text, strlen(text));
      inflateEnd(&z);
    }
    p += h + 4 + len;
    left -= h + 4 + len;
    n++;
  }
  assert_int_equal(left, 0);
  assert_int_equal(n, 4);
  assert_int_equal(ops[0], 1);
  assert_int_equal(rsv1[0], 1);
  assert_int_equal(ops[1], 1);
  assert_int_equal(rsv1[1], 1);
  assert_int_equal(ops[2], 1);
  assert_int_equal(rsv1[2], 0); /* "tiny" is below the threshold */
  assert_int_equal(ops[3], 8);  /* close */
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (memcmp(keys[i], keys[j], 4) == 0) fail_msg("frames %d and %d share a mask key", i, j);
}

/* ------------------------------------------------------------------------ */
/* End or destroy from inside every event                                   */
/* ------------------------------------------------------------------------ */

typedef struct kill_case {
  const char *ev;
  int server;      /* 0 none, 1 echo server, 2 echo server without pings */
  int raw;         /* 0 none, 1 accepts and never answers, 2 refuses */
  const char *pre; /* written before open */
  int id;
  uint32_t ping_timeout, timeout;
  const char *strategy;
} kill_case;

static const kill_case kill_cases[] = {
    {"open", 1, 0, NULL, 0, 0, 0, NULL},
    {"data", 1, 0, "x", 0, 0, 0, NULL},
    {"id", 1, 0, NULL, 1, 0, 0, NULL},
    {"close", 1, 0, "cmd:end-reconnect", 0, 0, 0, NULL},
    {"sched", 1, 0, "cmd:end-reconnect", 0, 0, 0, NULL},
    {"rec", 1, 0, "cmd:end-reconnect", 0, 0, 0, NULL},
    {"ok", 1, 0, "cmd:end-reconnect", 0, 0, 0, NULL},
    {"offline", 2, 0, NULL, 0, 150, 0, NULL},
    {"error", 1, 0, "cmd:bad-json", 0, 0, 0, NULL},
    {"timeout", 0, 1, NULL, 0, 0, 200, NULL},
    {"end", 1, 0, "cmd:end", 0, 0, 0, NULL},
    {"failed", 0, 2, NULL, 0, 0, 0, "timeout"},
};

static void test_kill_inside_callbacks(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    for (size_t i = 0; i < sizeof(kill_cases) / sizeof(kill_cases[0]); i++) {
      const kill_case *kc = &kill_cases[i];
      fx f = {0};
      cl k = {.kill_in = kc->ev, .kill_mode = mode};
      fx_init(&f, kc->server != 0, kc->server == 2 ? no_ping : NULL);
      if (kc->raw) assert_int_equal(raw_start(&f, kc->raw == 1), 0);
      new_client(&f, &k, NULL);
      assert_int_equal(weft_client_set_reconnect(k.c, 50, 100, 1, 2), 0);
      if (kc->ping_timeout)
        assert_int_equal(weft_client_set_ping_timeout(k.c, kc->ping_timeout), 0);
      if (kc->timeout) assert_int_equal(weft_client_set_timeout(k.c, kc->timeout), 0);
      if (kc->strategy) assert_int_equal(weft_client_set_strategy(k.c, kc->strategy), 0);
      if (kc->pre) assert_int_equal(write_str(k.c, kc->pre), 0);
      if (kc->id) assert_int_equal(weft_client_id(k.c), 0);
      assert_int_equal(weft_client_open(k.c), 0);
      print_message("  %s inside '%s'\n", mode ? "end" : "destroy", kc->ev);
      fx_run(&f, 5);
      if (!k.killed) fail_msg("the '%s' event never came: %s", kc->ev, k.log);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* 8. Many clients, one server, one loop                                    */
/* ------------------------------------------------------------------------ */

enum { MANY_MSGS = 100 };

typedef struct many_ctx {
  int n, opened, done, delivered;
  uv_timer_t opener;
  cl *ks;
} many_ctx;

static void many_on(cl *k, const char *ev, const void *arg) {
  fx *f = k->f;
  many_ctx *m = f->ctx;
  if (strcmp(ev, "data") == 0) {
    int64_t want = (int64_t)k->idx * 1000 + k->next_seq;
    if (!int_is(arg, want)) {
      fx_failf(f, __LINE__, "client %d: message %d out of order or wrong", k->idx, k->next_seq);
      return;
    }
    k->next_seq++;
    m->delivered++;
    if (k->next_seq == MANY_MSGS) {
      k->done = 1;
      m->done++;
      destroy_client(k);
      if (m->done == m->n) fx_finish(f);
    }
  } else if (strcmp(ev, "close") == 0 || strcmp(ev, "end") == 0 || strcmp(ev, "sched") == 0) {
    if (!k->done) fx_failf(f, __LINE__, "client %d: %s before all echoes", k->idx, ev);
  }
}

/* Opens clients in batches so the server's accept backlog never overflows
 * (a dropped SYN costs a 1 s retransmit, not a failure). */
static void many_open_batch(uv_timer_t *t) {
  fx *f = t->data;
  many_ctx *m = f->ctx;
  if (f->finishing) {
    uv_timer_stop(t);
    return;
  }
  for (int b = 0; b < 100 && m->opened < m->n; b++, m->opened++) {
    cl *k = &m->ks[m->opened];
    k->on = many_on;
    fx_add(f, k);
    int rc = weft_client_new(f->loop, f->url, &k->c);
    if (rc == 0) rc = weft_client_set_events(k->c, &client_events, k, NULL);
    if (rc == 0) rc = weft_client_open(k->c);
    for (int i = 0; rc == 0 && i < MANY_MSGS; i++)
      rc = write_int(k->c, (int64_t)k->idx * 1000 + i); /* pipelined: queued while opening */
    if (rc != 0) {
      fx_failf(f, __LINE__, "client %d setup: %s", k->idx, weft_err_name(rc));
      return;
    }
  }
  if (m->opened == m->n) uv_timer_stop(t);
}

static void test_many_clients(void **state) {
  (void)state;
  const char *env = getenv("WEFT_TEST_CLIENTS");
  many_ctx m = {.n = env && atoi(env) > 0 ? atoi(env) : 1000};
  fx f = {0};
  m.ks = calloc((size_t)m.n, sizeof(cl));
  assert_non_null(m.ks);
  fx_init(&f, 1, NULL);
  f.ctx = &m;
  assert_int_equal(uv_timer_init(weft_loop_uv(f.loop), &m.opener), 0);
  m.opener.data = &f;
  assert_int_equal(uv_timer_start(&m.opener, many_open_batch, 0, 1), 0);
  f.aux = &m.opener;
  fx_run(&f, 25);
  assert_int_equal(m.done, m.n);
  assert_int_equal(m.delivered, m.n * MANY_MSGS);
  assert_int_equal(f.connections, m.n);
  free(m.ks);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  /* Two descriptors per client in one process. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_api_misuse),
      cmocka_unit_test(test_queue_before_open),
      cmocka_unit_test(test_queue_order_at_server),
      cmocka_unit_test(test_queue_limit),
      cmocka_unit_test(test_echo_values),
      cmocka_unit_test(test_id_headers_query),
      cmocka_unit_test(test_undecodable_from_server),
      cmocka_unit_test(test_server_close),
      cmocka_unit_test(test_client_end),
      cmocka_unit_test(test_end_while_opening),
      cmocka_unit_test(test_server_end_reconnect),
      cmocka_unit_test(test_backoff_schedule),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_split_answers),
      cmocka_unit_test(test_compression_echo),
      cmocka_unit_test(test_compression_answers),
      cmocka_unit_test(test_compression_frames),
      cmocka_unit_test(test_spec_ping_timeout),
      cmocka_unit_test(test_heartbeat_answered),
      cmocka_unit_test(test_heartbeat_timeout),
      cmocka_unit_test(test_online_offline),
      cmocka_unit_test(test_kill_inside_callbacks),
      cmocka_unit_test(test_many_clients),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
