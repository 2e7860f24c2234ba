/*
 * Binary streams between a weft client and a weft server on fast-tcp's
 * wire (issue #20), over ipc:// and tcp:// on one loop:
 *   both ways: the client uploads 8 MiB with info and an ack while the
 *     server downloads 8 MiB to it with info and an ack; SHA-256, sizes,
 *     infos and both acks are checked;
 *   a slow reader, each way: the reader pauses its stream; the writer
 *     runs out of credit (a write returns 1, then WEFT_ENOBUFS), makes no
 *     progress while the reader stays paused, never holds more than its
 *     window + one chunk queued; once resumed everything arrives intact;
 *   bad input towards a client: a chunk for an unknown stream, and a
 *     flood of 65 stream opens, each from a raw peer: an error event of
 *     kind "stream" and the connection closed;
 *   misuse of the calls.
 * A guard timer bounds each run.
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

#include "ft_bytes.h"
#include "transport/fasttcp/codec.h"
#include "weft/ext.h"
#include "weft/weft.h"

enum { BIG = 8 << 20, CHUNK = 65536, WINDOW = 256 << 10 };

/* ---- one receiving end: hashes, answers the ack with what it got ---- */

typedef struct fx fx;

/* One direction's writer: its end and its ack. */
typedef struct way {
  fx *f;
  ft_source src;
  int done, rc, acked;
  weft_value *ack;
} way;

typedef struct recv_end {
  fx *f;
  ft_sink sink;
  weft_value *info;
  weft_reply *reply;
  weft_stream *st;
  int ended, aborted;
} recv_end;

struct fx {
  weft_loop *loop;
  weft_server *s;
  weft_client *c;
  weft_emitter *sem, *cem;
  uv_timer_t guard, tick;
  uint8_t *bytes;
  char hex[65];
  recv_end at_server, at_client;
  way up, down;                  /* client -> server, server -> client */
  int slow;                      /* 1: the server reads slowly, 2: the client does */
  size_t off_a, off_b;           /* the writer's progress 300 ms and 600 ms into the pause */
  int blocked_seen, ticks, done; /* the writer was out of credit at the checkpoint */
  int client_errors;
  char client_error_kind[32];
};

static void r_data(weft_stream *st, const uint8_t *p, size_t n, void *user) {
  (void)st;
  ft_sink_add(&((recv_end *)user)->sink, p, n);
}

static void check_done(fx *f);

static void r_end(weft_stream *st, int aborted, void *user) {
  (void)st;
  recv_end *r = user;
  ft_sink_done(&r->sink);
  r->ended = 1;
  r->aborted = aborted;
  r->st = NULL;
  ft_sink_answer(&r->sink, &r->reply);
  check_done(r->f);
}

static void r_open(recv_end *r, weft_stream *st, const weft_value *info, weft_reply *reply) {
  ft_sink_init(&r->sink);
  r->info = weft_value_dup(info);
  r->reply = reply;
  r->st = st;
  weft_stream_events ev = {sizeof(ev), r_data, r_end};
  assert_int_equal(weft_stream_set_events(st, &ev, r), 0);
}

static void srv_stream(weft_stream *st, const char *event, const weft_value *info,
                       weft_reply *reply, void *user) {
  fx *f = user;
  assert_string_equal(event, "upload");
  assert_non_null(weft_stream_spark(st));
  assert_null(weft_stream_client(st));
  r_open(&f->at_server, st, info, reply);
  if (f->slow == 1) assert_int_equal(weft_stream_pause(st), 0);
}

static void cli_stream(weft_stream *st, const char *event, const weft_value *info,
                       weft_reply *reply, void *user) {
  fx *f = user;
  assert_string_equal(event, "download");
  assert_null(weft_stream_spark(st));
  assert_ptr_equal(weft_stream_client(st), f->c);
  r_open(&f->at_client, st, info, reply);
  if (f->slow == 2) assert_int_equal(weft_stream_pause(st), 0);
}

/* ---- the writers ---- */

static void way_done(ft_source *s, int rc, void *user) {
  way *w = user;
  (void)s;
  w->done = 1;
  w->rc = rc;
  check_done(w->f);
}

static void way_acked(const weft_ack *a, void *user) {
  way *w = user;
  w->acked = a->status == 0 ? 1 : -1;
  w->ack = a->value ? weft_value_dup(a->value) : NULL;
  check_done(w->f);
}

static weft_value *info_of(const char *name) {
  weft_value *info = weft_value_new_map();
  weft_value_map_add(info, "name", 4, weft_value_new_string(name, strlen(name)));
  weft_value_map_add(info, "bytes", 5, weft_value_new_int(BIG));
  return info;
}

static void on_connection(weft_spark *sp, void *user) {
  fx *f = user;
  if (f->slow == 1) return; /* only the upload */
  weft_value *info = info_of("down");
  weft_ostream *os;
  assert_int_equal(weft_ostream_open(sp, "download", info, way_acked, &f->down, &os), 0);
  weft_value_free(info);
  f->down.src = (ft_source){.buf = f->bytes, .n = BIG, .chunk = CHUNK, .done = way_done};
  f->down.src.user = &f->down;
  ft_source_start(&f->down.src, os);
}

static void on_open(weft_client *c, void *user) {
  fx *f = user;
  if (f->slow == 2) return; /* only the download */
  weft_value *info = info_of("up");
  weft_ostream *os;
  assert_int_equal(weft_ostream_open_client(c, "upload", info, NULL, way_acked, &f->up, &os), 0);
  weft_value_free(info);
  f->up.src = (ft_source){.buf = f->bytes, .n = BIG, .chunk = CHUNK, .done = way_done};
  f->up.src.user = &f->up;
  ft_source_start(&f->up.src, os);
}

static void stop(fx *f) {
  if (f->done) return;
  f->done = 1;
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->tick, NULL);
  weft_client_destroy(f->c);
  weft_server_destroy(f->s, NULL);
}

static void check_done(fx *f) {
  int up = f->slow == 2 || (f->up.done && f->up.acked && f->at_server.ended);
  int down = f->slow == 1 || (f->down.done && f->down.acked && f->at_client.ended);
  if (up && down) stop(f);
}

static void on_guard(uv_timer_t *t) { stop(t->data); }

/* The slow reader: paused at its open; 300 ms and 600 ms after the writer
 * started, its progress is noted; then the reader resumes. */
static void on_tick(uv_timer_t *t) {
  fx *f = t->data;
  ft_source *w = f->slow == 1 ? &f->up.src : &f->down.src;
  recv_end *r = f->slow == 1 ? &f->at_server : &f->at_client;
  if (++f->ticks == 1) {
    f->off_a = w->off;
  } else {
    f->off_b = w->off;
    f->blocked_seen = w->full + w->nobufs;
    uv_timer_stop(t);
    if (r->st) assert_int_equal(weft_stream_resume(r->st), 0);
  }
}

static void run(fx *f, const char *url, int slow) {
  memset(f, 0, sizeof(*f));
  f->slow = slow;
  f->at_server.f = f->at_client.f = f->up.f = f->down.f = f;
  f->bytes = ft_bytes(BIG, 0x9e3779b9u);
  ft_sha256_hex(f->bytes, BIG, f->hex);
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->s), 0);
  assert_int_equal(weft_server_set_high_water_mark(f->s, WINDOW), 0);
  weft_server_events sev;
  memset(&sev, 0, sizeof(sev));
  sev.size = sizeof(sev);
  sev.connection = on_connection;
  assert_int_equal(weft_server_set_events(f->s, &sev, f, NULL), 0);
  assert_int_equal(weft_emitter_server(f->s, &f->sem), 0);
  assert_int_equal(weft_streams_server(f->s, srv_stream, f, NULL), 0);
  assert_int_equal(weft_server_listen(f->s, url), 0);
  char u[300];
  if (strncmp(url, "tcp:", 4) == 0)
    snprintf(u, sizeof(u), "tcp://127.0.0.1:%d", weft_server_port(f->s));
  else
    snprintf(u, sizeof(u), "%s", url);
  assert_int_equal(weft_client_new(f->loop, u, &f->c), 0);
  weft_client_events cev;
  memset(&cev, 0, sizeof(cev));
  cev.size = sizeof(cev);
  cev.open = on_open;
  assert_int_equal(weft_client_set_events(f->c, &cev, f, NULL), 0);
  assert_int_equal(weft_emitter_client(f->c, &f->cem), 0);
  assert_int_equal(weft_streams_client(f->c, cli_stream, f, NULL), 0);
  assert_int_equal(weft_streams_client_window(f->c, WINDOW), 0);
  assert_int_equal(weft_client_open(f->c), 0);
  uv_loop_t *uv = weft_loop_uv(f->loop);
  uv_timer_init(uv, &f->guard);
  uv_timer_init(uv, &f->tick);
  f->guard.data = f->tick.data = f;
  uv_timer_start(&f->guard, on_guard, 30000, 0);
  if (slow) uv_timer_start(&f->tick, on_tick, 300, 300);
  weft_loop_run(f->loop);
  assert_int_equal(weft_loop_close(f->loop), 0);
  free(f->bytes);
}

/* What a receiver got and what its writer heard back. */
static void check_end(fx *f, recv_end *r, way *wy, const char *name) {
  ft_source *w = &wy->src;
  assert_true(r->ended);
  assert_false(r->aborted);
  assert_int_equal(r->sink.bytes, BIG);
  assert_string_equal(r->sink.hex, f->hex);
  const char *s;
  size_t n;
  int64_t i;
  assert_int_equal(weft_value_get_string(weft_value_map_get(r->info, "name", 4), &s, &n), 0);
  assert_true(n == strlen(name) && memcmp(s, name, n) == 0);
  assert_int_equal(weft_value_get_int(weft_value_map_get(r->info, "bytes", 5), &i), 0);
  assert_int_equal(i, BIG);
  assert_int_equal(wy->rc, 0);
  assert_int_equal(w->off, BIG);
  assert_true(w->max_pending <= WINDOW + CHUNK + 64); /* the credit's bound */
  assert_int_equal(wy->acked, 1);
  assert_int_equal(weft_value_get_string(weft_value_map_get(wy->ack, "sha256", 6), &s, &n), 0);
  assert_true(n == 64 && memcmp(s, f->hex, 64) == 0);
  weft_value_free(r->info);
  weft_value_free(wy->ack);
}

static void both_ways(const char *url) {
  fx f;
  run(&f, url, 0);
  check_end(&f, &f.at_server, &f.up, "up");
  check_end(&f, &f.at_client, &f.down, "down");
}

static void ipc_url(char *url, size_t cap, char *dir) {
  assert_non_null(mkdtemp(dir));
  snprintf(url, cap, "ipc://%s/s.sock", dir);
}

static void ipc_cleanup(const char *dir) {
  char path[128];
  snprintf(path, sizeof(path), "%s/s.sock", dir);
  unlink(path);
  rmdir(dir);
}

static void test_both_ways_ipc(void **state) {
  (void)state;
  char dir[] = "/tmp/weft-fts-XXXXXX", url[128];
  ipc_url(url, sizeof(url), dir);
  both_ways(url);
  ipc_cleanup(dir);
}

static void test_both_ways_tcp(void **state) {
  (void)state;
  both_ways("tcp://127.0.0.1:0");
}

static void slow_reader(int slow) {
  char dir[] = "/tmp/weft-fts-XXXXXX", url[128];
  ipc_url(url, sizeof(url), dir);
  fx f;
  run(&f, url, slow);
  ipc_cleanup(dir);
  ft_source *w = slow == 1 ? &f.up.src : &f.down.src;
  /* held back: out of credit, and no progress while the reader was paused */
  assert_true(f.blocked_seen > 0);
  assert_true(f.off_a < BIG);
  assert_int_equal(f.off_a, f.off_b);
  assert_true(w->drains > 0);
  if (slow == 1)
    check_end(&f, &f.at_server, &f.up, "up");
  else
    check_end(&f, &f.at_client, &f.down, "down");
}

static void test_slow_server_reader(void **state) {
  (void)state;
  slow_reader(1);
}

static void test_slow_client_reader(void **state) {
  (void)state;
  slow_reader(2);
}

/* ---- bad input towards a client, from a raw fast-tcp peer ---- */

typedef struct raw_fx {
  weft_loop *loop;
  uv_pipe_t server, conn;
  uv_write_t wr;
  weft__buf out;
  weft_client *c;
  uv_timer_t guard;
  int errors, closes, opens, streams, accepted, done;
  char kind[32], message[128];
} raw_fx;

static void frame(weft__buf *out, int mt, uint32_t id, int dt, const char *data) {
  weft__ft_msg m = {.mt = (uint8_t)mt, .id = id, .dt = (uint8_t)dt, .event = "ev", .event_len = 2};
  m.data = (const uint8_t *)data;
  m.data_len = data ? strlen(data) : 0;
  assert_int_equal(weft__ft_write(out, &m), 0);
}

static void raw_stop(raw_fx *f) {
  if (f->done) return;
  f->done = 1;
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->server, NULL);
  if (f->accepted) uv_close((uv_handle_t *)&f->conn, NULL);
  weft_client_destroy(f->c);
}

static void raw_alloc(uv_handle_t *h, size_t size, uv_buf_t *b) {
  static char buf[4096]; /* read and dropped */
  (void)h, (void)size;
  *b = uv_buf_init(buf, sizeof(buf));
}

/* The peer closes when the client does (as a Node socket would). */
static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  raw_fx *f = s->data;
  (void)b;
  if (n >= 0 || !f->accepted) return;
  f->accepted = 0;
  uv_close((uv_handle_t *)s, NULL);
}

static void raw_accept(uv_stream_t *s, int status) {
  raw_fx *f = s->data;
  assert_int_equal(status, 0);
  uv_pipe_init(weft_loop_uv(f->loop), &f->conn, 0);
  f->accepted = 1;
  assert_int_equal(uv_accept(s, (uv_stream_t *)&f->conn), 0);
  uv_buf_t b = uv_buf_init((char *)f->out.data, (unsigned)f->out.len);
  assert_int_equal(uv_write(&f->wr, (uv_stream_t *)&f->conn, &b, 1, NULL), 0);
  f->conn.data = f;
  assert_int_equal(uv_read_start((uv_stream_t *)&f->conn, raw_alloc, raw_read), 0);
}

static void raw_error(weft_client *c, const weft_error_info *e, void *user) {
  raw_fx *f = user;
  (void)c;
  f->errors++;
  snprintf(f->kind, sizeof(f->kind), "%s", e->kind ? e->kind : "");
  snprintf(f->message, sizeof(f->message), "%s", e->message ? e->message : "");
}

static void raw_open(weft_client *c, void *user) {
  (void)c;
  ((raw_fx *)user)->opens++;
}

static void raw_close(weft_client *c, void *user) {
  (void)c;
  raw_fx *f = user;
  f->closes++;
  raw_stop(f);
}

static void raw_stream(weft_stream *st, const char *event, const weft_value *info,
                       weft_reply *reply, void *user) {
  (void)st, (void)event, (void)info;
  ((raw_fx *)user)->streams++;
  if (reply) weft_reply_drop(reply);
}

static void raw_guard(uv_timer_t *t) { raw_stop(t->data); }

static void raw_run(raw_fx *f, const char *expect) {
  char dir[] = "/tmp/weft-fts-XXXXXX", url[128], path[128];
  ipc_url(url, sizeof(url), dir);
  snprintf(path, sizeof(path), "%s/s.sock", dir);
  assert_int_equal(weft_loop_new(&f->loop), 0);
  uv_loop_t *uv = weft_loop_uv(f->loop);
  uv_pipe_init(uv, &f->server, 0);
  f->server.data = f;
  assert_int_equal(uv_pipe_bind(&f->server, path), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&f->server, 4, raw_accept), 0);
  assert_int_equal(weft_client_new(f->loop, url, &f->c), 0);
  weft_client_events ev;
  memset(&ev, 0, sizeof(ev));
  ev.size = sizeof(ev);
  ev.open = raw_open;
  ev.error = raw_error;
  ev.close = raw_close;
  weft_emitter *em;
  assert_int_equal(weft_client_set_events(f->c, &ev, f, NULL), 0);
  assert_int_equal(weft_emitter_client(f->c, &em), 0);
  assert_int_equal(weft_streams_client(f->c, raw_stream, f, NULL), 0);
  assert_int_equal(weft_client_open(f->c), 0);
  uv_timer_init(uv, &f->guard);
  f->guard.data = f;
  uv_timer_start(&f->guard, raw_guard, 10000, 0);
  weft_loop_run(f->loop);
  assert_int_equal(weft_loop_close(f->loop), 0);
  weft__buf_free(&f->out);
  ipc_cleanup(dir);
  assert_int_equal(f->opens, 1);
  assert_int_equal(f->closes, 1);
  assert_true(f->errors >= 1);
  assert_string_equal(f->kind, "stream");
  assert_string_equal(f->message, expect);
}

static void test_chunk_for_unknown_stream(void **state) {
  (void)state;
  raw_fx f;
  memset(&f, 0, sizeof(f));
  frame(&f.out, WEFT__FT_MT_REGISTER, 1, WEFT__FT_DT_STRING, "me");
  frame(&f.out, WEFT__FT_MT_STREAM, 77, WEFT__FT_DT_BINARY, "x");
  raw_run(&f, "a stream chunk for an unknown stream");
  assert_int_equal(f.streams, 0);
}

static void test_flood_of_stream_opens(void **state) {
  (void)state;
  raw_fx f;
  memset(&f, 0, sizeof(f));
  frame(&f.out, WEFT__FT_MT_REGISTER, 1, WEFT__FT_DT_STRING, "me");
  for (uint32_t i = 1; i <= 65; i++)
    frame(&f.out, WEFT__FT_MT_STREAM_OPEN, i, WEFT__FT_DT_EMPTY, NULL);
  raw_run(&f, "too many open streams");
  assert_int_equal(f.streams, 64);
}

/* ---- misuse ---- */

static void test_api_errors(void **state) {
  (void)state;
  weft_loop *loop;
  weft_client *c;
  weft_emitter *em;
  weft_ostream *os = (weft_ostream *)&os;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_client_new(loop, "tcp://127.0.0.1:1", &c), 0);
  assert_int_equal(weft_streams_client(NULL, raw_stream, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_streams_client(c, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_streams_client_window(c, WINDOW), WEFT_EINVAL); /* streams not on */
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, NULL, NULL, NULL, &os), WEFT_EINVAL);
  assert_null(os);
  assert_int_equal(weft_emitter_client(c, &em), 0);
  assert_int_equal(weft_streams_client(c, raw_stream, NULL, NULL), 0);
  assert_int_equal(weft_streams_client(c, raw_stream, NULL, NULL), WEFT_EEXIST);
  assert_int_equal(weft_streams_client_window(c, 0), WEFT_EINVAL);
  assert_int_equal(weft_streams_client_window(NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, NULL, NULL, NULL, &os), WEFT_ESTATE);
  assert_int_equal(weft_ostream_open_client(NULL, "x", NULL, NULL, NULL, NULL, &os), WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_ostream_write(NULL, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_ostream_end(NULL), WEFT_EINVAL);
  assert_int_equal(weft_ostream_set_drain(NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_ostream_pending(NULL), 0);
  assert_int_equal(weft_stream_pause(NULL), WEFT_EINVAL);
  assert_null(weft_stream_client(NULL));
  weft_client_destroy(c);
  weft_loop_run(loop);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* Once open: a target with an ack, a target naming nobody or a bad name,
 * a reserved event; then a valid stream's own misuse. */
typedef struct open_fx {
  weft_server *s;
  weft_client *c;
  int checked;
} open_fx;

static void ack_never(const weft_ack *a, void *user) { (void)a, (void)user; }

static void any_stream(weft_stream *st, const char *event, const weft_value *info,
                       weft_reply *reply, void *user) {
  (void)st, (void)event, (void)info, (void)user;
  if (reply) weft_reply_drop(reply);
}

static void misuse_open(weft_client *c, void *user) {
  open_fx *o = user;
  weft_ostream *os;
  const char *ids[] = {"a|b"}, *rooms[] = {"r"};
  weft_stream_to none = {sizeof(none), 0, NULL, 0, NULL, 0};
  weft_stream_to bad = {sizeof(bad), 0, NULL, 0, ids, 1};
  weft_stream_to two = {sizeof(two), 1, rooms, 1, NULL, 0};
  weft_stream_to room = {sizeof(room), 0, rooms, 1, NULL, 0};
  weft_stream_to small = {1, 1, NULL, 0, NULL, 0};
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, &none, NULL, NULL, &os), WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, &bad, NULL, NULL, &os), WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, &two, NULL, NULL, &os), WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, &small, NULL, NULL, &os), WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "x", NULL, &room, ack_never, NULL, &os),
                   WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "weft::x", NULL, NULL, NULL, NULL, &os),
                   WEFT_EINVAL);
  assert_int_equal(weft_ostream_open_client(c, "fine", NULL, NULL, NULL, NULL, &os), 0);
  assert_int_equal(weft_ostream_write(os, NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_ostream_write(os, "x", 0), WEFT_EINVAL);
  assert_int_equal(weft_ostream_write(os, "x", 1), 0);
  assert_int_equal(weft_ostream_end(os), 0);
  o->checked = 1;
  weft_client_destroy(o->c);
  weft_server_destroy(o->s, NULL);
}

static void test_open_errors(void **state) {
  (void)state;
  weft_loop *loop;
  weft_emitter *sem, *cem;
  open_fx o = {0};
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &o.s), 0);
  assert_int_equal(weft_emitter_server(o.s, &sem), 0);
  assert_int_equal(weft_streams_server(o.s, any_stream, NULL, NULL), 0);
  assert_int_equal(weft_server_listen(o.s, "tcp://127.0.0.1:0"), 0);
  char url[64];
  snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", weft_server_port(o.s));
  assert_int_equal(weft_client_new(loop, url, &o.c), 0);
  weft_client_events ev;
  memset(&ev, 0, sizeof(ev));
  ev.size = sizeof(ev);
  ev.open = misuse_open;
  assert_int_equal(weft_client_set_events(o.c, &ev, &o, NULL), 0);
  assert_int_equal(weft_emitter_client(o.c, &cem), 0);
  assert_int_equal(weft_streams_client(o.c, any_stream, NULL, NULL), 0);
  assert_int_equal(weft_client_open(o.c), 0);
  weft_loop_run(loop);
  assert_int_equal(weft_loop_close(loop), 0);
  assert_true(o.checked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_both_ways_ipc),
      cmocka_unit_test(test_both_ways_tcp),
      cmocka_unit_test(test_slow_server_reader),
      cmocka_unit_test(test_slow_client_reader),
      cmocka_unit_test(test_chunk_for_unknown_stream),
      cmocka_unit_test(test_flood_of_stream_opens),
      cmocka_unit_test(test_api_errors),
      cmocka_unit_test(test_open_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
