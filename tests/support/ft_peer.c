/*
 * The weft server the fast-tcp interop suite (tests/fasttcp/) talks to:
 * an emitter and rooms (clients may join any room but those named
 * "closed…", refused by the rooms policy, and leave any) on every
 * --listen URL given (tcp://, ipc://, ws://: one application behind all).
 * Prints "listening on URL" per listener, then "connection ID" and
 * "disconnection ID" lines.
 *
 * Events:
 *   any other event  emitted back to its sender with the same name and
 *                    arguments; an ack request is resolved with the first
 *                    argument (null when none)
 *   ctl:send [event, data, {rooms, ids, except}]  the server emits to those
 *                    recipients ("self" in ids/except is the sender); the
 *                    ack gets the count reached
 *   ctl:ask [event, data]  the server emits to the sender asking for an
 *                    ack; the answer comes back as event ctl:answer [value]
 *   ctl:rooms        the ack gets the sender's rooms (sorted by join)
 *   ctl:id           the ack gets the sender's id
 *   ctl:join [room, id]  the server puts spark `id` in `room`
 *   ctl:download [n]  the server opens the stream "download" to the sender
 *                    with info {"bytes": n, "sha256": hex} and an ack, and
 *                    writes n pseudo-random bytes in 64 KiB chunks under
 *                    the stream's credit (a slow reader holds it back); the
 *                    ack's value comes back as ctl:answer [value]
 * A stream opened to it is hashed: its ack (asked for) is answered at its
 * end with {"sha256": hex, "bytes": n, "info": the open's info}.
 * A plain message is written back as it came. Routes clients ask for are
 * served, except the event "secret" (refused by the route policy); the
 * event "all-of-us" is rewritten to reach its sender too.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <weft/ext.h>
#include <weft/options.h>
#include <weft/weft.h>

#include "ft_bytes.h"
#include "serve_until_signal.h"

typedef struct app {
  weft_loop *loop;
  weft_server *server;
  weft_emitter *em;
  weft_rooms *rooms;
} app;

static void line(const char *what, const char *id) {
  printf("%s %s\n", what, id);
  fflush(stdout);
}

static void on_connection(weft_spark *sp, void *user) {
  (void)user;
  line("connection", weft_spark_id(sp));
}

static void on_disconnection(weft_spark *sp, void *user) {
  (void)user;
  line("disconnection", weft_spark_id(sp));
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  weft_spark_write(sp, msg);
}

static int is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* The strings of an array, "self" standing for the sender's id. */
static size_t names(const weft_value *arr, const char **out, size_t cap, weft_spark *self) {
  size_t n = 0;
  for (size_t i = 0; i < weft_value_len(arr) && n < cap; i++) {
    const char *s;
    size_t len;
    if (weft_value_get_string(weft_value_array_at(arr, i), &s, &len) == 0)
      out[n++] = is(s, "self") ? weft_spark_id(self) : s;
  }
  return n;
}

static void answered(const weft_ack *ack, void *user) {
  weft_spark *sp = user;
  weft_emitter *em = weft_emitter_of_server(weft_spark_server(sp));
  weft_value *args = weft_value_new_array();
  weft_value_array_push(args, ack->value ? weft_value_dup(ack->value) : weft_value_new_null());
  if (em && ack->status == 0) weft_emitter_emit(em, sp, "ctl:answer", args, 0, NULL, NULL);
  weft_value_free(args);
  weft_spark_release(sp);
}

typedef struct download_job {
  ft_source src;
  uint8_t *buf;
} download_job;

static void download_done(ft_source *s, int rc, void *user) {
  (void)rc, (void)user;
  download_job *d = (download_job *)s;
  free(d->buf);
  free(d);
}

/* Written under the stream's credit: a slow reader holds the rest here. */
static void download(weft_spark *sp, size_t n) {
  download_job *d = calloc(1, sizeof(*d));
  d->buf = ft_bytes(n, 0);
  char hex[65];
  ft_sha256_hex(d->buf, n, hex);
  weft_value *info = weft_value_new_map();
  weft_value_map_add(info, "bytes", 5, weft_value_new_int((int64_t)n));
  weft_value_map_add(info, "sha256", 6, weft_value_new_string(hex, 64));
  weft_ostream *os;
  weft_spark_retain(sp);
  if (weft_ostream_open(sp, "download", info, answered, sp, &os) >= 0) {
    d->src = (ft_source){.buf = d->buf, .n = n, .chunk = 65536, .done = download_done};
    ft_source_start(&d->src, os);
  } else {
    weft_spark_release(sp);
    free(d->buf);
    free(d);
  }
  weft_value_free(info);
}

static void control(app *a, const weft_event *ev) {
  /* fast-tcp sends one value: an array of the arguments */
  const weft_value *args = ev->args;
  if (weft_value_len(args) == 1 && weft_value_type(weft_value_array_at(args, 0)) == WEFT_ARRAY)
    args = weft_value_array_at(args, 0);
  weft_value *answer = NULL;
  if (is(ev->name, "ctl:send")) {
    const weft_value *opts = weft_value_array_at(args, 2);
    const char *rooms[16], *ids[16], *except[16], *event = NULL;
    size_t elen;
    weft_recipients to = {sizeof(to), rooms, 0, ids, 0, except, 0};
    to.n_rooms = names(weft_value_map_get(opts, "rooms", 5), rooms, 16, ev->spark);
    to.n_ids = names(weft_value_map_get(opts, "ids", 3), ids, 16, ev->spark);
    to.n_except = names(weft_value_map_get(opts, "except", 6), except, 16, ev->spark);
    weft_value_get_string(weft_value_array_at(args, 0), &event, &elen);
    weft_value *data = weft_value_new_array();
    weft_value_array_push(data, weft_value_dup(weft_value_array_at(args, 1)));
    int n = event ? weft_server_send_event(a->server, &to, event, data) : WEFT_EINVAL;
    weft_value_free(data);
    answer = weft_value_new_int(n);
  } else if (is(ev->name, "ctl:ask")) {
    const char *event = NULL;
    size_t elen;
    weft_value_get_string(weft_value_array_at(args, 0), &event, &elen);
    weft_value *data = weft_value_new_array();
    weft_value_array_push(data, weft_value_dup(weft_value_array_at(args, 1)));
    weft_spark_retain(ev->spark);
    if (!event || weft_emitter_emit(a->em, ev->spark, event, data, 5000, answered, ev->spark) != 0)
      weft_spark_release(ev->spark);
    weft_value_free(data);
  } else if (is(ev->name, "ctl:rooms")) {
    answer = weft_value_new_array();
    for (int i = 0; i < weft_rooms_of_spark_count(a->rooms, ev->spark); i++) {
      const char *r = weft_rooms_of_spark_at(a->rooms, ev->spark, (size_t)i);
      weft_value_array_push(answer, weft_value_new_string(r, strlen(r)));
    }
  } else if (is(ev->name, "ctl:id")) {
    const char *id = weft_spark_id(ev->spark);
    answer = weft_value_new_string(id, strlen(id));
  } else if (is(ev->name, "ctl:download")) {
    int64_t n = 0;
    weft_value_get_int(weft_value_array_at(args, 0), &n);
    download(ev->spark, n > 0 && n <= (64 << 20) ? (size_t)n : 0);
  } else if (is(ev->name, "ctl:join")) {
    const char *room = NULL, *id = NULL;
    size_t n;
    weft_value_get_string(weft_value_array_at(args, 0), &room, &n);
    weft_value_get_string(weft_value_array_at(args, 1), &id, &n);
    weft_spark *sp = id ? weft_server_spark(a->server, id) : NULL;
    answer = weft_value_new_int(sp && room ? weft_rooms_join(a->rooms, sp, room) : WEFT_ENOENT);
  }
  if (ev->reply) weft_reply_resolve(ev->reply, answer);
  weft_value_free(answer);
}

static void on_event(const weft_event *ev, void *user) {
  app *a = user;
  if (strncmp(ev->name, "ctl:", 4) == 0) {
    control(a, ev);
    return;
  }
  weft_emitter_emit(a->em, ev->spark, ev->name, ev->args, 0, NULL, NULL);
  if (ev->reply) weft_reply_resolve(ev->reply, weft_value_array_at(ev->args, 0));
}

typedef struct upload {
  ft_sink sink;
  weft_value *info;
  weft_reply *reply;
} upload;

static void up_data(weft_stream *st, const uint8_t *p, size_t n, void *user) {
  upload *u = user;
  ft_sink_add(&u->sink, p, n);
  (void)st;
}

static void up_end(weft_stream *st, int aborted, void *user) {
  (void)st;
  upload *u = user;
  ft_sink_done(&u->sink);
  if (u->reply && !aborted) {
    weft_value *m = ft_sink_value(&u->sink);
    weft_value_map_add(m, "info", 4, u->info ? u->info : weft_value_new_null());
    u->info = NULL;
    weft_reply_resolve(u->reply, m);
    weft_value_free(m);
  } else if (u->reply) {
    weft_reply_drop(u->reply);
  }
  weft_value_free(u->info);
  free(u);
}

static void on_stream(weft_stream *st, const char *event, const weft_value *info, weft_reply *reply,
                      void *user) {
  (void)user;
  upload *u = calloc(1, sizeof(*u));
  ft_sink_init(&u->sink);
  u->info = weft_value_dup(info);
  u->reply = reply;
  (void)event;
  weft_stream_events ev = {sizeof(ev), up_data, up_end};
  weft_stream_set_events(st, &ev, u);
}

static int allow(weft_spark *sp, const char *room, int join, void *user) {
  (void)sp, (void)user;
  return join && strncmp(room, "closed", 6) == 0 ? WEFT_EUNAUTHORIZED : 0;
}

static int route_policy(weft_spark *sp, weft_route *r, void *user) {
  (void)sp, (void)user;
  if (is(r->event, "secret")) return WEFT_EUNAUTHORIZED;
  if (is(r->event, "all-of-us")) r->with_sender = 1;
  return 0;
}

static void on_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  (void)s, (void)user;
  fprintf(stderr, "error %s %s %s\n", e->kind, sp ? weft_spark_id(sp) : "-", e->message);
}

int main(int argc, char **argv) {
  app a = {0};
  if (weft_loop_new(&a.loop) || weft_server_new(a.loop, &a.server)) return 1;
  weft_server_events evs;
  memset(&evs, 0, sizeof(evs));
  evs.size = sizeof(evs);
  evs.connection = on_connection;
  evs.disconnection = on_disconnection;
  evs.data = on_data;
  evs.error = on_error;
  weft_server_set_events(a.server, &evs, &a, NULL);
  if (weft_emitter_server(a.server, &a.em) || weft_rooms_server(a.server, &a.rooms) ||
      weft_rooms_set_client_policy(a.rooms, allow, NULL, NULL) ||
      weft_emitter_on(a.em, "*", on_event, &a, NULL) ||
      weft_emitter_set_route_policy(a.em, route_policy, NULL, NULL) ||
      weft_streams_server(a.server, on_stream, NULL, NULL))
    return 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--listen") != 0) continue;
    int rc = weft_server_listen(a.server, argv[i + 1]);
    if (rc) {
      fprintf(stderr, "cannot listen on %s: %s\n", argv[i + 1], weft_strerror(rc));
      return 1;
    }
  }
  for (size_t i = 0; weft_server_url(a.server, i); i++)
    printf("listening on %s\n", weft_server_url(a.server, i));
  fflush(stdout);
  return weft_test_serve_until_signal(a.loop, a.server);
}
