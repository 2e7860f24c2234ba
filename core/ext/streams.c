/*
 * Binary streams a peer opens (fast-tcp's stream(event, info, ack), over
 * the reserved events "weft::stream" [event, id, info?], "weft::chunk" [id,
 * bytes] and "weft::chunk_end" [id]; transport/fasttcp maps fast-tcp's
 * stream messages to them), on a server or a client. The application
 * hears the open (with the info and, when asked, a reply: the sender's
 * ack), then the chunks and the end. Flow control is the connection's:
 * pausing a stream stops reading its spark or client connection, so the
 * peer's writes wait (TCP's window, then the writer's credit: ostream.c)
 * and memory stays bounded. A chunk for a stream never opened, a second
 * open of the same id and more than WEFT__STREAMS_MAX open streams on one
 * connection end that connection (1008) with an error event of kind
 * "stream".
 */
#include <stdlib.h>
#include <string.h>

#include "streams.h"

struct weft_stream {
  weft_streams *ss;
  weft_spark *spark; /* NULL on a client */
  void *target;      /* the spark or the client */
  uint32_t id;
  int paused;
  weft_stream_events ev;
  void *user;
  weft_stream *next; /* the spark's list */
};

static weft_stream **head_of(weft_streams *ss, void *t) {
  return (weft_stream **)weft__map_get(&ss->by_target, weft__map_ptr(t));
}

/* The handlers' spark: NULL on a client, whose target is itself. */
static void *target_of(weft_streams *ss, weft_spark *sp) {
  return sp ? (void *)sp : (void *)ss->client;
}

static weft_stream *find(weft_streams *ss, void *t, uint32_t id, weft_stream ***link) {
  weft_stream **pp = head_of(ss, t);
  for (; pp && *pp; pp = &(*pp)->next)
    if ((*pp)->id == id) {
      if (link) *link = pp;
      return *pp;
    }
  return NULL;
}

/* Ends the connection: a misbehaving peer. */
static void fail(weft_streams *ss, weft_spark *sp, const char *why) {
  if (!sp) {
    weft_client *c = ss->client;
    weft__client_emit_error(c, WEFT_EPROTO, "stream", why, 0, NULL);
    if (c->conn && c->conn_open) c->conn->tran->conn.close(c->conn, WEFT__END_POLICY, why);
    return;
  }
  weft__server_error(ss->server, sp, WEFT_EPROTO, "stream", why);
  if (sp->state == WEFT__SP_OPEN) sp->conn.tran->conn.close(&sp->conn, WEFT__END_POLICY, why);
}

static int pause_target(weft_stream *st, int on) {
  if (st->spark) return on ? weft_spark_pause(st->spark) : weft_spark_resume(st->spark);
  return weft__client_pause(st->target, on);
}

static void unlink_free(weft_streams *ss, weft_stream **link) {
  weft_stream *st = *link;
  *link = st->next;
  weft_stream **head = head_of(ss, st->target);
  if (head && !*head) {
    weft__map_del(&ss->by_target, weft__map_ptr(st->target));
    free(head);
  }
  if (st->paused) pause_target(st, 0);
  free(st);
}

static void on_open(weft_spark *sp, const weft_value *args, weft_reply *reply, void *user) {
  weft_streams *ss = user;
  void *t = target_of(ss, sp);
  const char *event;
  size_t n;
  int64_t id;
  /* [event, id, info, target]: a stream a client routes (relay.c); a
   * client hears no routed streams (a server routes none to it). */
  int routed = weft_value_len(args) == 4 && sp;
  if (weft_value_get_string(weft_value_array_at(args, 0), &event, &n) ||
      weft_value_get_int(weft_value_array_at(args, 1), &id) || id <= 0 || id > UINT32_MAX ||
      (weft_value_len(args) > 3 && !routed) || (routed && reply)) {
    if (reply) weft_reply_drop(reply);
    fail(ss, sp, "a stream open without an event and an id, or malformed");
    return;
  }
  weft_stream **head = head_of(ss, t);
  size_t count = 0;
  for (weft_stream *s = head ? *head : NULL; s; s = s->next)
    count++;
  if (find(ss, t, (uint32_t)id, NULL) || count >= WEFT__STREAMS_MAX) {
    if (reply) weft_reply_drop(reply);
    fail(ss, sp, count >= WEFT__STREAMS_MAX ? "too many open streams" : "a stream opened twice");
    return;
  }
  weft_stream *st = calloc(1, sizeof(*st));
  if (!head && st) {
    head = calloc(1, sizeof(*head));
    if (!head || weft__map_put(&ss->by_target, weft__map_ptr(t), head)) {
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
  *st = (weft_stream){ss, sp, t, (uint32_t)id, 0, {0}, NULL, *head};
  *head = st;
  const weft_value *info = weft_value_array_at(args, 2);
  weft_value null = {.type = WEFT_NULL};
  if (routed) {
    int rc = weft__relay_open(st, sp, event, info, weft_value_array_at(args, 3));
    if (rc)
      fail(ss, sp,
           rc == WEFT_EINVAL ? "a routed stream without a valid target"
                             : "out of memory for a routed stream");
  } else if (ss->cb)
    ss->cb(st, event, info ? info : &null, reply, ss->user);
  else if (reply)
    weft_reply_drop(reply);
}

/* A chunk's bytes: binary, or over a parser without binary (json) the
 * form its encoder writes, {"type": "Buffer", "data": [bytes]} (as Node's
 * Buffer.toJSON), copied into *owned. */
static int chunk_bytes(const weft_value *v, const uint8_t **p, size_t *n, uint8_t **owned) {
  if (weft_value_get_binary(v, p, n) == 0) return 0;
  const weft_value *type = weft_value_map_get(v, "type", 4);
  const weft_value *data = weft_value_map_get(v, "data", 4);
  const char *s;
  size_t len;
  if (weft_value_len(v) != 2 || weft_value_get_string(type, &s, &len) || len != 6 ||
      memcmp(s, "Buffer", 6) || weft_value_type(data) != WEFT_ARRAY || !weft_value_len(data))
    return WEFT_ETYPE;
  size_t k = weft_value_len(data);
  uint8_t *b = malloc(k);
  for (size_t i = 0; b && i < k; i++) {
    int64_t x;
    if (weft_value_get_int(weft_value_array_at(data, i), &x) || x < 0 || x > 255) {
      free(b);
      return WEFT_ETYPE;
    }
    b[i] = (uint8_t)x;
  }
  if (!b) return WEFT_ENOMEM;
  *p = *owned = b;
  *n = k;
  return 0;
}

static void on_chunk(weft_spark *sp, const weft_value *args, weft_reply *reply, void *user) {
  weft_streams *ss = user;
  int64_t id;
  const uint8_t *p;
  size_t n;
  if (reply) weft_reply_drop(reply);
  weft_stream *st =
      weft_value_get_int(weft_value_array_at(args, 0), &id) == 0 && id > 0 && id <= UINT32_MAX
          ? find(ss, target_of(ss, sp), (uint32_t)id, NULL)
          : NULL;
  uint8_t *owned = NULL;
  if (!st || chunk_bytes(weft_value_array_at(args, 1), &p, &n, &owned)) {
    fail(ss, sp, st ? "a stream chunk that is not binary" : "a stream chunk for an unknown stream");
    return;
  }
  if (st->ev.data) st->ev.data(st, p, n, st->user);
  free(owned);
}

static void end_stream(weft_streams *ss, weft_stream **link, int aborted) {
  weft_stream *st = *link;
  if (st->ev.end) st->ev.end(st, aborted, st->user);
  /* the list may have changed in there: find it again */
  weft_stream **again;
  if (find(ss, st->target, st->id, &again) == st) unlink_free(ss, again);
}

static void on_chunk_end(weft_spark *sp, const weft_value *args, weft_reply *reply, void *user) {
  weft_streams *ss = user;
  int64_t id;
  weft_stream **link;
  if (reply) weft_reply_drop(reply);
  if (weft_value_get_int(weft_value_array_at(args, 0), &id) || id <= 0 || id > UINT32_MAX ||
      !find(ss, target_of(ss, sp), (uint32_t)id, &link)) {
    fail(ss, sp, "a stream end for an unknown stream");
    return;
  }
  end_stream(ss, link, 0);
}

static void gone(weft_streams *ss, void *t) {
  weft__ostreams_gone(ss, t);
  weft_stream **head;
  while ((head = head_of(ss, t)) && *head)
    end_stream(ss, head, 1);
}

static void on_disconnection(weft_spark *sp, void *user) { gone(user, sp); }
static void on_client_close(weft_client *c, void *user) { gone(user, c); }
static void on_spark_drained(weft_spark *sp, void *user) { weft__ostreams_drained(user, sp); }
static void on_client_drained(weft_client *c, void *user) { weft__ostreams_drained(user, c); }

static void destroy(void *user) {
  weft_streams *ss = user;
  if (ss->server && ss->server->drained_user == ss) ss->server->drained_hook = NULL;
  if (ss->client && ss->client->drained_user == ss) ss->client->drained_hook = NULL;
  weft__ostreams_detach(ss);
  for (size_t i = 0; i < ss->by_target.cap; i++) { /* normally empty: memory only */
    weft_stream **head = ss->by_target.slots[i].val;
    if (!ss->by_target.slots[i].key) continue;
    for (weft_stream *st = *head, *n; st; st = n) {
      n = st->next;
      free(st);
    }
    free(head);
  }
  weft__map_free(&ss->by_target);
  if (ss->free_user) ss->free_user(ss->user);
  free(ss);
}

static const weft_plugin_ops streams_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = WEFT__STREAMS_PLUGIN,
    .disconnection = on_disconnection,
    .destroy = destroy,
    .client_close = on_client_close,
};

/* Streams on a server or (server NULL) a client: the plugin, the drained
 * hook and the reserved events. */
static int attach(weft_server *server, weft_client *client, weft_stream_open_cb cb, void *user,
                  void (*free_user)(void *user)) {
  if (!(server || client) || !cb) return WEFT_EINVAL;
  weft_streams *ss = calloc(1, sizeof(*ss));
  if (!ss) return WEFT_ENOMEM;
  ss->server = server;
  ss->client = client;
  ss->window = WEFT__STREAMS_WINDOW;
  /* each frees ss on error */
  int rc = server ? weft_server_use(server, &streams_ops, ss)
                  : weft_client_use(client, &streams_ops, ss);
  if (rc) return rc;
  ss->cb = cb;
  ss->user = user;
  ss->free_user = free_user;
  if (server) {
    server->drained_hook = on_spark_drained;
    server->drained_user = ss;
  } else {
    client->drained_hook = on_client_drained;
    client->drained_user = ss;
  }
  static const char *const names[3] = {"weft::stream", "weft::chunk", "weft::chunk_end"};
  static const weft__reserved_cb cbs[3] = {on_open, on_chunk, on_chunk_end};
  for (int i = 0; rc == 0 && i < 3; i++)
    rc = server ? weft__reserved_on(server, names[i], cbs[i], ss)
                : weft__reserved_on_client(client, names[i], cbs[i], ss);
  return rc;
}

int weft_streams_server(weft_server *server, weft_stream_open_cb cb, void *user,
                        void (*free_user)(void *user)) {
  return server ? attach(server, NULL, cb, user, free_user) : WEFT_EINVAL;
}

int weft_streams_client(weft_client *client, weft_stream_open_cb cb, void *user,
                        void (*free_user)(void *user)) {
  return client ? attach(NULL, client, cb, user, free_user) : WEFT_EINVAL;
}

int weft_streams_client_window(weft_client *client, size_t bytes) {
  weft_streams *ss = client ? weft_client_plugin(client, WEFT__STREAMS_PLUGIN) : NULL;
  if (!ss || !bytes) return WEFT_EINVAL;
  ss->window = bytes;
  return 0;
}

int weft_stream_set_events(weft_stream *st, const weft_stream_events *ev, void *user) {
  if (!st || !ev || ev->size < sizeof(*ev)) return WEFT_EINVAL;
  st->ev = *ev;
  st->user = user;
  return 0;
}

weft_spark *weft_stream_spark(const weft_stream *st) { return st ? st->spark : NULL; }
weft_client *weft_stream_client(const weft_stream *st) {
  return st && !st->spark ? st->ss->client : NULL;
}

int weft_stream_pause(weft_stream *st) {
  if (!st) return WEFT_EINVAL;
  if (st->paused) return 0;
  int rc = pause_target(st, 1);
  if (rc == 0) st->paused = 1;
  return rc;
}

int weft_stream_resume(weft_stream *st) {
  if (!st) return WEFT_EINVAL;
  if (!st->paused) return 0;
  st->paused = 0;
  return pause_target(st, 0);
}
