/*
 * weft's C client streaming over tcp:// or ipc:// for the interop tests
 * (tests/interop/fasttcp_streams.test.js), against npm fast-tcp's server:
 *
 *   weft_ft_stream URL up N       opens the stream "upload" with info
 *                                 {"name": "blob", "bytes": N} and an ack,
 *                                 writes N pseudo-random bytes under its
 *                                 credit and ends it; prints
 *                                 {"sha256": hex, "bytes": N, "ack": value}
 *   weft_ft_stream URL down N     emits "want-download" [N]; the server's
 *                                 stream "download" is hashed and its ack
 *                                 answered with {"sha256", "bytes"}; prints
 *                                 {"info": info, "sha256": hex, "bytes": n}
 *   weft_ft_stream URL to-socket ID N | to-room ROOM N | broadcast N
 *                                 a routed stream "relay" (info {"bytes":
 *                                 N}), no ack; prints {"sha256", "bytes"}
 *                                 once written
 * "down" and the routed modes exit on the server's event "bye"; "up" after
 * its ack. Exit 0: done; 1: a stream or ack failed; 2: usage or setup;
 * bounded: gives up after 20 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ft_bytes.h"

typedef struct run {
  weft_client *c;
  weft_emitter *em;
  const char *mode, *target;
  size_t n;
  uint8_t *buf;
  char hex[65];
  ft_source src;
  ft_sink sink;
  weft_value *info;
  weft_reply *reply;
  int rc, opened;
  uv_timer_t guard;
} run;

static void done(run *r, int rc) {
  r->rc = rc;
  uv_timer_stop(&r->guard);
  uv_close((uv_handle_t *)&r->guard, NULL);
  weft_client_destroy(r->c);
}

static void print_json(const char *key, const weft_value *v, int last) {
  uint8_t *out = NULL;
  size_t len = 0;
  if (v) weft_value_encode("json", v, &out, &len);
  printf("\"%s\":%.*s%s", key, out ? (int)len : 4, out ? (const char *)out : "null",
         last ? "}\n" : ",");
  weft_free(out);
}

static void on_ack(const weft_ack *a, void *user) {
  run *r = user;
  printf("{\"sha256\":\"%s\",\"bytes\":%zu,", r->hex, r->n);
  print_json("ack", a->value, 1);
  fflush(stdout);
  done(r, a->status == 0 ? 0 : 1);
}

static void written(ft_source *s, int rc, void *user) {
  run *r = user;
  (void)s;
  if (rc) {
    fprintf(stderr, "ft_stream: the stream failed: %s\n", weft_strerror(rc));
    done(r, 1);
  } else if (strcmp(r->mode, "up") != 0) {
    printf("{\"sha256\":\"%s\",\"bytes\":%zu}\n", r->hex, r->n);
    fflush(stdout);
  }
}

static void down_data(weft_stream *st, const uint8_t *p, size_t n, void *user) {
  (void)st;
  ft_sink_add(&((run *)user)->sink, p, n);
}

static void down_end(weft_stream *st, int aborted, void *user) {
  run *r = user;
  (void)st;
  ft_sink_done(&r->sink);
  ft_sink_answer(&r->sink, &r->reply);
  printf("{\"sha256\":\"%s\",\"bytes\":%zu,", r->sink.hex, r->sink.bytes);
  print_json("info", r->info, 1);
  fflush(stdout);
  if (aborted) done(r, 1);
}

static void on_stream(weft_stream *st, const char *event, const weft_value *info, weft_reply *reply,
                      void *user) {
  run *r = user;
  if (strcmp(event, "download") != 0 || r->info) {
    if (reply) weft_reply_drop(reply);
    return;
  }
  ft_sink_init(&r->sink);
  r->info = weft_value_dup(info);
  r->reply = reply;
  weft_stream_events ev = {sizeof(ev), down_data, down_end};
  weft_stream_set_events(st, &ev, r);
}

static void on_bye(const weft_event *ev, void *user) {
  (void)ev;
  done(user, 0);
}

static void on_open(weft_client *c, void *user) {
  run *r = user;
  if (r->opened++) return;
  weft_value *info = weft_value_new_map();
  weft_value_map_add(info, "name", 4, weft_value_new_string("blob", 4));
  weft_value_map_add(info, "bytes", 5, weft_value_new_int((int64_t)r->n));
  int rc = 0;
  weft_ostream *os = NULL;
  if (strcmp(r->mode, "down") == 0) {
    weft_value *args = weft_value_new_array();
    weft_value_array_push(args, weft_value_new_int((int64_t)r->n));
    rc = weft_emitter_emit(r->em, NULL, "want-download", args, 0, NULL, NULL);
    weft_value_free(args);
  } else if (strcmp(r->mode, "up") == 0) {
    rc = weft_ostream_open_client(c, "upload", info, NULL, on_ack, r, &os);
  } else {
    const char *one[1] = {r->target};
    weft_stream_to to = {sizeof(to), 0, NULL, 0, NULL, 0};
    if (strcmp(r->mode, "to-socket") == 0)
      to.ids = one, to.n_ids = 1;
    else if (strcmp(r->mode, "to-room") == 0)
      to.rooms = one, to.n_rooms = 1;
    else
      to.broadcast = 1;
    rc = weft_ostream_open_client(c, "relay", info, &to, NULL, NULL, &os);
  }
  weft_value_free(info);
  if (rc < 0) {
    fprintf(stderr, "ft_stream: cannot start: %s\n", weft_strerror(rc));
    done(r, 2);
  } else if (os) {
    r->src = (ft_source){.buf = r->buf, .n = r->n, .chunk = 65536, .done = written, .user = r};
    ft_source_start(&r->src, os);
  }
}

static void on_error(weft_client *c, const weft_error_info *e, void *user) {
  (void)c, (void)user;
  fprintf(stderr, "ft_stream: error %s: %s\n", e->kind ? e->kind : "-",
          e->message ? e->message : "-");
}

static void on_guard(uv_timer_t *t) {
  fprintf(stderr, "ft_stream: timed out\n");
  done(t->data, 2);
}

int main(int argc, char **argv) {
  run r;
  memset(&r, 0, sizeof(r));
  int routed = argc == 5 && (strcmp(argv[2], "to-socket") == 0 || strcmp(argv[2], "to-room") == 0);
  if (!(argc == 4 && (strcmp(argv[2], "up") == 0 || strcmp(argv[2], "down") == 0 ||
                      strcmp(argv[2], "broadcast") == 0)) &&
      !routed) {
    fprintf(stderr, "usage: weft_ft_stream URL up|down|broadcast N | to-socket ID N | "
                    "to-room ROOM N\n");
    return 2;
  }
  r.mode = argv[2];
  r.target = routed ? argv[3] : NULL;
  r.n = strtoul(argv[argc - 1], NULL, 10);
  r.buf = ft_bytes(r.n, 0x1234567u);
  ft_sha256_hex(r.buf, r.n, r.hex);
  weft_loop *loop;
  weft_client_events ev;
  memset(&ev, 0, sizeof(ev));
  ev.size = sizeof(ev);
  ev.open = on_open;
  ev.error = on_error;
  if (weft_loop_new(&loop) || weft_client_new(loop, argv[1], &r.c) ||
      weft_client_set_events(r.c, &ev, &r, NULL) || weft_emitter_client(r.c, &r.em) ||
      weft_emitter_on(r.em, "bye", on_bye, &r, NULL) ||
      weft_streams_client(r.c, on_stream, &r, NULL) || weft_client_open(r.c)) {
    fprintf(stderr, "ft_stream: setup failed\n");
    return 2;
  }
  uv_timer_init(weft_loop_uv(loop), &r.guard);
  r.guard.data = &r;
  uv_timer_start(&r.guard, on_guard, 20000, 0);
  weft_loop_run(loop);
  weft_loop_close(loop);
  weft_value_free(r.info);
  free(r.buf);
  return r.rc;
}
