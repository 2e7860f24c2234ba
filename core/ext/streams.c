/*
 * Binary streams a peer opens (fast-tcp's stream(event, info, ack), over
 * the reserved events "weft::stream" [event, id, info?], "weft::chunk" [id,
 * bytes] and "weft::chunk_end" [id]; transport/fasttcp maps fast-tcp's
 * stream messages to them). The server's application hears the open (with
 * the info and, when asked, a reply: the sender's ack), then the chunks and
 * the end. Flow control is the connection's: pausing a stream stops
 * reading its spark, so the peer's writes wait (TCP's window) and memory
 * stays bounded. A chunk for a stream never opened, a second open of the
 * same id and more than WEFT__STREAMS_MAX open streams on one connection
 * end that connection (1008) with an error event of kind "stream".
 */
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "ext_internal.h"

#define WEFT__STREAMS_PLUGIN "weft.streams"
#define WEFT__STREAMS_MAX 64

struct weft_stream {
  weft_streams *ss;
  weft_spark *spark;
  uint32_t id;
  int paused;
  weft_stream_events ev;
  void *user;
  weft_stream *next; /* the spark's list */
};

struct weft_streams {
  weft_server *server;
  weft_stream_open_cb cb;
  void *user;
  void (*free_user)(void *);
  weft__map by_spark; /* spark -> its first stream */
  uint32_t next_id;   /* of the streams it opens without an ack */
};

static weft_stream **head_of(weft_streams *ss, weft_spark *sp) {
  return (weft_stream **)weft__map_get(&ss->by_spark, weft__map_ptr(sp));
}

static weft_stream *find(weft_streams *ss, weft_spark *sp, uint32_t id, weft_stream ***link) {
  weft_stream **pp = head_of(ss, sp);
  for (; pp && *pp; pp = &(*pp)->next)
    if ((*pp)->id == id) {
      if (link) *link = pp;
      return *pp;
    }
  return NULL;
}

/* Ends the connection: a misbehaving peer. */
static void fail(weft_streams *ss, weft_spark *sp, const char *why) {
  weft__server_error(ss->server, sp, WEFT_EPROTO, "stream", why);
  if (sp->state == WEFT__SP_OPEN) sp->conn.tran->conn.close(&sp->conn, WEFT__END_POLICY, why);
}

static void unlink_free(weft_streams *ss, weft_stream **link) {
  weft_stream *st = *link;
  *link = st->next;
  weft_stream **head = head_of(ss, st->spark);
  if (head && !*head) {
    weft__map_del(&ss->by_spark, weft__map_ptr(st->spark));
    free(head);
  }
  if (st->paused) weft_spark_resume(st->spark);
  free(st);
}

static void on_open(weft_spark *sp, const weft_value *args, weft_reply *reply, void *user) {
  weft_streams *ss = user;
  const char *event;
  size_t n;
  int64_t id;
  if (weft_value_get_string(weft_value_array_at(args, 0), &event, &n) ||
      weft_value_get_int(weft_value_array_at(args, 1), &id) || id <= 0 || id > UINT32_MAX) {
    if (reply) weft_reply_drop(reply);
    fail(ss, sp, "a stream open without an event and an id");
    return;
  }
  weft_stream **head = head_of(ss, sp);
  size_t count = 0;
  for (weft_stream *s = head ? *head : NULL; s; s = s->next)
    count++;
  if (find(ss, sp, (uint32_t)id, NULL) || count >= WEFT__STREAMS_MAX) {
    if (reply) weft_reply_drop(reply);
    fail(ss, sp, count >= WEFT__STREAMS_MAX ? "too many open streams" : "a stream opened twice");
    return;
  }
  weft_stream *st = calloc(1, sizeof(*st));
  if (!head && st) {
    head = calloc(1, sizeof(*head));
    if (!head || weft__map_put(&ss->by_spark, weft__map_ptr(sp), head)) {
      free(head);
      free(st);
      st = NULL;
    }
  }
  if (!st) {
    if (reply) weft_reply_drop(reply);
    fail(ss, sp, "out of memory for a stream");
    return;
  }
  *st = (weft_stream){ss, sp, (uint32_t)id, 0, {0}, NULL, *head};
  *head = st;
  const weft_value *info = weft_value_array_at(args, 2);
  weft_value null = {.type = WEFT_NULL};
  if (ss->cb)
    ss->cb(st, event, info ? info : &null, reply, ss->user);
  else if (reply)
    weft_reply_drop(reply);
}

static void on_chunk(weft_spark *sp, const weft_value *args, weft_reply *reply, void *user) {
  weft_streams *ss = user;
  int64_t id;
  const uint8_t *p;
  size_t n;
  if (reply) weft_reply_drop(reply);
  weft_stream *st =
      weft_value_get_int(weft_value_array_at(args, 0), &id) == 0 && id > 0 && id <= UINT32_MAX
          ? find(ss, sp, (uint32_t)id, NULL)
          : NULL;
  if (!st || weft_value_get_binary(weft_value_array_at(args, 1), &p, &n)) {
    fail(ss, sp, "a stream chunk for an unknown stream");
    return;
  }
  if (st->ev.data) st->ev.data(st, p, n, st->user);
}

static void end_stream(weft_streams *ss, weft_stream **link, int aborted) {
  weft_stream *st = *link;
  if (st->ev.end) st->ev.end(st, aborted, st->user);
  /* the list may have changed in there: find it again */
  weft_stream **again;
  if (find(ss, st->spark, st->id, &again) == st) unlink_free(ss, again);
}

static void on_chunk_end(weft_spark *sp, const weft_value *args, weft_reply *reply, void *user) {
  weft_streams *ss = user;
  int64_t id;
  weft_stream **link;
  if (reply) weft_reply_drop(reply);
  if (weft_value_get_int(weft_value_array_at(args, 0), &id) || id <= 0 || id > UINT32_MAX ||
      !find(ss, sp, (uint32_t)id, &link)) {
    fail(ss, sp, "a stream end for an unknown stream");
    return;
  }
  end_stream(ss, link, 0);
}

static void on_disconnection(weft_spark *sp, void *user) {
  weft_streams *ss = user;
  weft_stream **head;
  while ((head = head_of(ss, sp)) && *head)
    end_stream(ss, head, 1);
}

static void destroy(void *user) {
  weft_streams *ss = user;
  for (size_t i = 0; i < ss->by_spark.cap; i++) { /* normally empty: memory only */
    weft_stream **head = ss->by_spark.slots[i].val;
    if (!ss->by_spark.slots[i].key) continue;
    for (weft_stream *st = *head, *n; st; st = n) {
      n = st->next;
      free(st);
    }
    free(head);
  }
  weft__map_free(&ss->by_spark);
  if (ss->free_user) ss->free_user(ss->user);
  free(ss);
}

static const weft_plugin_ops streams_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = WEFT__STREAMS_PLUGIN,
    .disconnection = on_disconnection,
    .destroy = destroy,
};

int weft_streams_server(weft_server *server, weft_stream_open_cb cb, void *user,
                        void (*free_user)(void *user)) {
  if (!server || !cb) return WEFT_EINVAL;
  weft_streams *ss = calloc(1, sizeof(*ss));
  if (!ss) return WEFT_ENOMEM;
  ss->server = server;
  int rc = weft_server_use(server, &streams_ops, ss); /* frees ss on error */
  if (rc) return rc;
  ss->cb = cb;
  ss->user = user;
  ss->free_user = free_user;
  rc = weft__reserved_on(server, "weft::stream", on_open, ss);
  if (rc == 0) rc = weft__reserved_on(server, "weft::chunk", on_chunk, ss);
  if (rc == 0) rc = weft__reserved_on(server, "weft::chunk_end", on_chunk_end, ss);
  return rc;
}

int weft_stream_set_events(weft_stream *st, const weft_stream_events *ev, void *user) {
  if (!st || !ev || ev->size < sizeof(*ev)) return WEFT_EINVAL;
  st->ev = *ev;
  st->user = user;
  return 0;
}

weft_spark *weft_stream_spark(const weft_stream *st) { return st ? st->spark : NULL; }

int weft_stream_pause(weft_stream *st) {
  if (!st) return WEFT_EINVAL;
  if (st->paused) return 0;
  int rc = weft_spark_pause(st->spark);
  if (rc == 0) st->paused = 1;
  return rc;
}

int weft_stream_resume(weft_stream *st) {
  if (!st) return WEFT_EINVAL;
  if (!st->paused) return 0;
  st->paused = 0;
  return weft_spark_resume(st->spark);
}

/* ---- streams the server opens ---- */

struct weft_ostream {
  weft_spark *spark;
  uint32_t id;
};

typedef struct open_ctx {
  const char *event;
  const weft_value *info;
  uint32_t id;
} open_ctx;

/* [event, id, info]: the id is the ack's when there is one. */
static weft_value *open_args(uint32_t ack_id, void *u) {
  open_ctx *o = u;
  if (ack_id) o->id = ack_id;
  weft_value *a = weft_value_new_array();
  if (a && (weft_value_array_push(a, weft_value_new_string(o->event, strlen(o->event))) ||
            weft_value_array_push(a, weft_value_new_int(o->id)) ||
            weft_value_array_push(a, o->info ? weft_value_dup(o->info) : weft_value_new_null()))) {
    weft_value_free(a);
    return NULL;
  }
  return a;
}

int weft_ostream_open(weft_spark *sp, const char *event, const weft_value *info, weft_ack_cb cb,
                      void *user, weft_ostream **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  weft_server *s = weft_spark_server(sp);
  weft_streams *ss = s ? weft_server_plugin(s, WEFT__STREAMS_PLUGIN) : NULL;
  weft_emitter *em = s ? weft_emitter_of_server(s) : NULL;
  if (!sp || !s || !ss || !em || weft__ext_event_name_check(event)) return WEFT_EINVAL;
  weft_ostream *os = calloc(1, sizeof(*os));
  if (!os) return WEFT_ENOMEM;
  /* without an ack, ids from the top half: apart from the emitter's */
  open_ctx o = {event, info, 0x80000000u | ++ss->next_id};
  uint32_t ack = 0;
  int rc = weft__emitter_emit_with(em, sp, "weft::stream", open_args, &o, cb, user, &ack);
  if (rc < 0) {
    free(os);
    return rc;
  }
  *os = (weft_ostream){sp, o.id};
  *out = os;
  return rc;
}

/* "weft::chunk" [id, bytes] or "weft::chunk_end" [id]. */
static int send_part(weft_ostream *os, const char *what, const void *p, size_t len) {
  weft_value id, items[2], args;
  weft__ext_int(&id, os->id);
  items[0] = id;
  memset(&items[1], 0, sizeof(items[1]));
  items[1].type = WEFT_BINARY;
  items[1].len = len;
  items[1].u.bin = p;
  memset(&args, 0, sizeof(args));
  args.type = WEFT_ARRAY;
  args.len = p ? 2 : 1;
  args.u.items = items;
  weft__ext_event ep;
  int rc = weft__ext_event_build(&ep, what, &args, 0);
  if (rc == 0) {
    rc = weft_spark_write(os->spark, &ep.map);
    weft__ext_event_done(&ep);
  }
  return rc;
}

int weft_ostream_write(weft_ostream *os, const void *p, size_t len) {
  if (!os || !p || !len) return WEFT_EINVAL;
  return send_part(os, "weft::chunk", p, len);
}

int weft_ostream_end(weft_ostream *os) {
  if (!os) return WEFT_EINVAL;
  int rc = send_part(os, "weft::chunk_end", NULL, 0);
  free(os);
  return rc;
}
