/*
 * Channels: named substreams over one connection, with per-channel flow
 * control counted in messages (see include/weft/ext.h for the contract and
 * docs/extensions.md for the packets). A plugin of the core like the
 * emitter; packets are built as borrowed views on the stack.
 *
 * Messages are copied only when they must wait: a write without credit, or
 * an arrival on a paused channel. The common path (credit available, not
 * paused) encodes straight from the caller's value and delivers the
 * decoded value as it is.
 */
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "ext_internal.h"

#define PLUGIN "weft.channels"
#define CREDIT_MAX (1u << 30)

typedef struct msgq {
  weft_value **items;
  size_t head, len, cap;
} msgq;

struct weft_channel {
  weft_channels *chs;
  void *target; /* spark or client */
  weft_spark *spark;
  char *name;
  uint64_t key;
  weft_channel *next_same_key;
  weft_channel *tprev, *tnext;
  weft_channel_events ev;
  void *user;
  void (*user_free)(void *);
  uint32_t credit;   /* messages we may still send */
  uint32_t unacked;  /* received and not yet granted back */
  uint32_t consumed; /* delivered since the last grant */
  int paused, ending, delivering;
  int finished; /* its end event ran or runs: off the maps, freed after */
  msgq out, in;
};

struct weft_channels {
  weft_server *server;
  weft_client *client;
  weft__map by_key;  /* hash(target, name) -> chain */
  weft__map targets; /* target -> first channel */
  uint32_t window;
  size_t count;
  weft_channel_open_cb open_cb;
  void *open_user;
  void (*open_free)(void *);
  void (*err_cb)(weft_channels *, weft_spark *, const weft_error_info *, void *);
  void *err_user;
  void (*err_free)(void *);
};

/* ---- queues of owned values ---- */

static int q_push(msgq *q, weft_value *v) {
  if (q->len == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 8;
    weft_value **items = malloc(cap * sizeof(*items));
    if (!items) return WEFT_ENOMEM;
    for (size_t i = 0; i < q->len; i++)
      items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->head = 0;
    q->cap = cap;
  }
  q->items[(q->head + q->len++) % q->cap] = v;
  return 0;
}

static weft_value *q_pop(msgq *q) {
  if (!q->len) return NULL;
  weft_value *v = q->items[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  return v;
}

static void q_free(msgq *q) {
  weft_value *v;
  while ((v = q_pop(q)) != NULL)
    weft_value_free(v);
  free(q->items);
  memset(q, 0, sizeof(*q));
}

/* ---- index ---- */

static uint64_t key_of(const void *target, const char *name, size_t len) {
  uint64_t h = weft__map_hash(name, len) ^ (weft__map_ptr(target) * 0x9e3779b97f4a7c15ULL);
  return h ? h : 1;
}

static weft_channel *find(weft_channels *chs, void *t, const char *name, size_t len) {
  for (weft_channel *c = weft__map_get(&chs->by_key, key_of(t, name, len)); c; c = c->next_same_key)
    if (c->target == t && strcmp(c->name, name) == 0) return c;
  return NULL;
}

static weft_channel *create(weft_channels *chs, void *t, weft_spark *spark, const char *name,
                            size_t len) {
  weft_channel *c = calloc(1, sizeof(*c));
  if (!c || !(c->name = malloc(len + 1))) {
    free(c);
    return NULL;
  }
  memcpy(c->name, name, len);
  c->name[len] = 0;
  c->chs = chs;
  c->target = t;
  c->spark = spark;
  c->credit = chs->window;
  c->key = key_of(t, name, len);
  c->next_same_key = weft__map_get(&chs->by_key, c->key);
  weft_channel *head = weft__map_get(&chs->targets, weft__map_ptr(t));
  if (weft__map_put(&chs->by_key, c->key, c) || weft__map_put(&chs->targets, weft__map_ptr(t), c)) {
    /* Undo: the chain head goes back to what it was. */
    if (c->next_same_key)
      weft__map_put(&chs->by_key, c->key, c->next_same_key);
    else
      weft__map_del(&chs->by_key, c->key);
    free(c->name);
    free(c);
    return NULL;
  }
  c->tnext = head;
  if (head) head->tprev = c;
  chs->count++;
  return c;
}

/* Takes the channel off the maps, so nothing finds it again. */
static void unlink_channel(weft_channel *c) {
  weft_channels *chs = c->chs;
  weft_channel *head = weft__map_get(&chs->by_key, c->key), **pp = &head;
  while (*pp && *pp != c)
    pp = &(*pp)->next_same_key;
  if (*pp) *pp = c->next_same_key;
  if (head)
    weft__map_put(&chs->by_key, c->key, head); /* replacing never grows */
  else
    weft__map_del(&chs->by_key, c->key);
  if (c->tprev)
    c->tprev->tnext = c->tnext;
  else if (c->tnext)
    weft__map_put(&chs->targets, weft__map_ptr(c->target), c->tnext);
  else
    weft__map_del(&chs->targets, weft__map_ptr(c->target));
  if (c->tnext) c->tnext->tprev = c->tprev;
  chs->count--;
}

static void free_channel(weft_channel *c) {
  if (c->user_free) c->user_free(c->user);
  q_free(&c->out);
  q_free(&c->in);
  free(c->name);
  free(c);
}

/* The end event, then the channel is gone. The end event may close the
 * connection (target_gone no longer finds the channel), and a data event may
 * end it (the delivering caller frees it once the event returned). */
static void finish(weft_channel *c) {
  if (c->finished) return;
  c->finished = 1;
  c->ending = 1;
  unlink_channel(c);
  if (c->ev.end) c->ev.end(c, c->user);
  if (!c->delivering) free_channel(c);
}

/* ---- sending ---- */

static int send_packet(weft_channel *c, int type, const weft_value *data, uint32_t credit) {
  weft_value kv[6], map;
  weft__ext_str(&kv[0], "type");
  weft__ext_int(&kv[1], type);
  weft__ext_str(&kv[2], "ch");
  weft__ext_str(&kv[3], c->name);
  size_t n = 2;
  if (type == 2) {
    weft__ext_str(&kv[4], "data");
    kv[5] = weft__value_view(data);
    n = 3;
  } else if (type == 4) {
    weft__ext_str(&kv[4], "credit");
    weft__ext_int(&kv[5], credit);
    n = 3;
  }
  weft__ext_map(&map, kv, n);
  int rc = c->chs->server ? weft_spark_write(c->target, &map) : weft_client_write(c->target, &map);
  return rc > 0 ? 0 : rc;
}

/* To the error handler, or by default to the owner's error event. */
static void error(weft_channels *chs, weft_spark *spark, int code, const char *msg) {
  if (!chs->err_cb) {
    if (chs->server)
      weft__server_error(chs->server, spark, code, "channel", msg);
    else
      weft__client_emit_error(chs->client, code, "channel", msg, 0, NULL);
    return;
  }
  weft_error_info e = {code, "channel", msg, 0, NULL};
  chs->err_cb(chs, spark, &e, chs->err_user);
}

static void flush_out(weft_channel *c) {
  int had = c->out.len > 0;
  while (c->credit && c->out.len && !c->ending) {
    weft_value *v = q_pop(&c->out);
    c->credit--;
    send_packet(c, 2, v, 0);
    weft_value_free(v);
  }
  if (had && !c->out.len && !c->ending && c->ev.drain) c->ev.drain(c, c->user);
}

/* ---- receiving ---- */

static void grant(weft_channel *c) {
  if (c->ending || c->consumed < c->chs->window / 2 + (c->chs->window == 1)) return;
  if (send_packet(c, 4, NULL, c->consumed) == 0) {
    c->unacked -= c->consumed;
    c->consumed = 0;
  }
}

static void deliver(weft_channel *c, const weft_value *msg) {
  c->consumed++;
  if (c->ev.data) c->ev.data(c, msg, c->user);
}

/* Delivers what waited while paused, in order, until paused again. */
static void drain_in(weft_channel *c) {
  if (c->delivering) return;
  c->delivering = 1;
  weft_value *v;
  while (!c->paused && !c->ending && (v = q_pop(&c->in)) != NULL) {
    deliver(c, v);
    weft_value_free(v);
  }
  c->delivering = 0;
  if (c->finished) {
    free_channel(c);
    return;
  }
  grant(c);
}

static void on_data(weft_channel *c, weft_spark *spark, const weft_value *msg) {
  if (c->ending) return; /* in flight when we ended: dropped */
  if (++c->unacked > c->chs->window) {
    c->unacked--;
    error(c->chs, spark, WEFT_EPROTO, "channel message beyond the granted window");
    return;
  }
  if (c->paused || c->in.len || c->delivering) {
    weft_value *copy = weft_value_dup(msg);
    if (!copy || q_push(&c->in, copy)) {
      weft_value_free(copy);
      c->unacked--;
      error(c->chs, spark, WEFT_ENOMEM, "no memory for a paused channel's message");
    }
    return;
  }
  c->delivering = 1;
  deliver(c, msg);
  c->delivering = 0;
  if (c->finished) {
    free_channel(c);
    return;
  }
  if (c->in.len && !c->paused)
    drain_in(c);
  else
    grant(c);
}

static int incoming(weft_channels *chs, weft_spark *spark, void *t, const weft_value *msg) {
  if (weft_value_type(msg) != WEFT_MAP) return WEFT_PASS;
  const weft_value *type = weft_value_map_get(msg, "type", 4);
  const weft_value *chv = weft_value_map_get(msg, "ch", 2);
  int64_t kind;
  if (!type || !chv || weft_value_get_int(type, &kind) || kind < 2 || kind > 4) return WEFT_PASS;
  const char *name;
  size_t len;
  if (weft_value_get_string(chv, &name, &len) || !weft__ext_name_ok(name, len)) {
    error(chs, spark, WEFT_EPARSE, "channel packet without a valid channel name");
    return WEFT_SWALLOW;
  }
  const weft_value *data = weft_value_map_get(msg, "data", 4);
  const weft_value *cr = weft_value_map_get(msg, "credit", 6);
  int64_t credit = 0;
  if ((kind == 2 && !data) || (kind == 4 && (!cr || weft_value_get_int(cr, &credit) || credit < 1 ||
                                             credit > CREDIT_MAX))) {
    error(chs, spark, WEFT_EPARSE, "malformed channel packet");
    return WEFT_SWALLOW;
  }
  weft_channel *c = find(chs, t, name, len);
  if (kind == 3) { /* end: answer it unless it answers ours */
    if (!c) return WEFT_SWALLOW;
    if (!c->ending) {
      c->ending = 1;
      send_packet(c, 3, NULL, 0);
    }
    finish(c);
    return WEFT_SWALLOW;
  }
  if (kind == 4) {
    if (c && !c->ending) {
      if (c->credit + (uint64_t)credit > CREDIT_MAX)
        error(chs, spark, WEFT_EPROTO, "channel credit overflow");
      else
        c->credit += (uint32_t)credit;
      flush_out(c);
    }
    return WEFT_SWALLOW;
  }
  if (!c) { /* opened by the peer */
    c = create(chs, t, spark, name, len);
    if (!c) {
      error(chs, spark, WEFT_ENOMEM, "no memory for a new channel");
      return WEFT_SWALLOW;
    }
    if (chs->open_cb) chs->open_cb(c, chs->open_user);
    if (!chs->open_cb) {
      error(chs, spark, WEFT_EUNSUPPORTED, "channel opened by the peer, and nobody takes it");
      weft_channel_end(c);
      return WEFT_SWALLOW;
    }
  }
  on_data(c, spark, data);
  return WEFT_SWALLOW;
}

/* ---- plugin hooks ---- */

static void target_gone(weft_channels *chs, void *t) {
  weft_channel *c;
  while ((c = weft__map_get(&chs->targets, weft__map_ptr(t))) != NULL) {
    c->ending = 1;
    finish(c);
  }
}

static int srv_incoming(weft_spark *spark, const weft_value *msg, weft_value **rep, void *user) {
  (void)rep;
  return incoming(user, spark, spark, msg);
}

static int cli_incoming(weft_client *cl, const weft_value *msg, weft_value **rep, void *user) {
  (void)rep;
  return incoming(user, NULL, cl, msg);
}

static void srv_disconnection(weft_spark *spark, void *user) { target_gone(user, spark); }
static void cli_close(weft_client *cl, void *user) { target_gone(user, cl); }

static void destroy(void *user) {
  weft_channels *chs = user;
  /* Every connection is gone by now; anything left is memory only. */
  for (size_t i = 0; i < chs->targets.cap; i++) {
    weft_channel *c = chs->targets.slots[i].val;
    if (!chs->targets.slots[i].key) continue;
    while (c) {
      weft_channel *n = c->tnext;
      free_channel(c);
      c = n;
    }
  }
  weft__map_free(&chs->targets);
  weft__map_free(&chs->by_key);
  if (chs->open_free) chs->open_free(chs->open_user);
  if (chs->err_free) chs->err_free(chs->err_user);
  free(chs);
}

static const weft_plugin_ops channels_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = PLUGIN,
    .disconnection = srv_disconnection,
    .incoming = srv_incoming,
    .destroy = destroy,
    .client_close = cli_close,
    .client_incoming = cli_incoming,
    .incoming_types = WEFT_PLUGIN_TYPE(WEFT_MAP), /* its packets are maps */
};

/* ---- API ---- */

static weft_channels *channels_new(void) {
  weft_channels *chs = calloc(1, sizeof(*chs));
  if (chs) chs->window = 64;
  return chs;
}

int weft_channels_server(weft_server *server, weft_channels **out) {
  if (!server || !out) return WEFT_EINVAL;
  *out = NULL;
  weft_channels *chs = channels_new();
  if (!chs) return WEFT_ENOMEM;
  chs->server = server;
  int rc = weft_server_use(server, &channels_ops, chs);
  if (rc == 0) *out = chs;
  return rc;
}

int weft_channels_client(weft_client *client, weft_channels **out) {
  if (!client || !out) return WEFT_EINVAL;
  *out = NULL;
  weft_channels *chs = channels_new();
  if (!chs) return WEFT_ENOMEM;
  chs->client = client;
  int rc = weft_client_use(client, &channels_ops, chs);
  if (rc == 0) *out = chs;
  return rc;
}

int weft_channels_on_open(weft_channels *chs, weft_channel_open_cb cb, void *user,
                          void (*free_user)(void *)) {
  if (!chs || (!cb && free_user)) return WEFT_EINVAL;
  chs->open_cb = cb;
  weft__ext_set_user(&chs->open_user, &chs->open_free, user, free_user);
  return 0;
}

int weft_channels_on_error(weft_channels *chs,
                           void (*cb)(weft_channels *, weft_spark *, const weft_error_info *,
                                      void *),
                           void *user, void (*free_user)(void *)) {
  if (!chs || (!cb && free_user)) return WEFT_EINVAL;
  chs->err_cb = cb;
  weft__ext_set_user(&chs->err_user, &chs->err_free, user, free_user);
  return 0;
}

weft_channels *weft_channels_of_server(weft_server *server) {
  return weft_server_plugin(server, PLUGIN);
}

weft_channels *weft_channels_of_client(weft_client *client) {
  return weft_client_plugin(client, PLUGIN);
}

int weft_channels_set_window(weft_channels *chs, uint32_t messages) {
  if (!chs || messages < 1 || messages > 65536) return WEFT_EINVAL;
  if (chs->count) return WEFT_ESTATE;
  chs->window = messages;
  return 0;
}

int weft_channel_open(weft_channels *chs, weft_spark *spark, const char *name, weft_channel **out) {
  if (!chs || !name || !out || (chs->server ? !spark : spark != NULL)) return WEFT_EINVAL;
  *out = NULL;
  size_t len = strlen(name);
  if (!weft__ext_name_ok(name, len)) return WEFT_EINVAL;
  if (spark && !weft__spark_is_open(spark)) return WEFT_ECLOSED;
  if (spark && weft_spark_server(spark) != chs->server) return WEFT_EINVAL;
  void *t = spark ? (void *)spark : (void *)chs->client;
  if (!spark && weft_client_state(chs->client) != WEFT_CLIENT_OPEN) return WEFT_ECLOSED;
  weft_channel *c = find(chs, t, name, len);
  if (c && c->ending) return WEFT_ECLOSED;
  if (!c && !(c = create(chs, t, spark, name, len))) return WEFT_ENOMEM;
  *out = c;
  return 0;
}

int weft_channel_set_events(weft_channel *c, const weft_channel_events *ev, void *user,
                            void (*free_user)(void *)) {
  if (!c || !ev || ev->size < offsetof(weft_channel_events, drain)) return WEFT_EINVAL;
  memset(&c->ev, 0, sizeof(c->ev));
  memcpy(&c->ev, ev, ev->size < sizeof(c->ev) ? ev->size : sizeof(c->ev));
  weft__ext_set_user(&c->user, &c->user_free, user, free_user);
  return 0;
}

int weft_channel_write(weft_channel *c, const weft_value *msg) {
  if (!c || !msg) return WEFT_EINVAL;
  if (c->ending) return WEFT_ECLOSED;
  if (c->credit && !c->out.len) {
    int rc = send_packet(c, 2, msg, 0);
    if (rc == 0) c->credit--;
    return rc;
  }
  weft_value *copy = weft_value_dup(msg);
  if (!copy) return WEFT_ENOMEM;
  if (q_push(&c->out, copy)) {
    weft_value_free(copy);
    return WEFT_ENOMEM;
  }
  return 1;
}

int weft_channel_end(weft_channel *c) {
  if (!c) return WEFT_EINVAL;
  if (c->ending) return WEFT_ECLOSED;
  c->ending = 1;
  q_free(&c->out);
  q_free(&c->in);
  /* When the end cannot be sent the connection is going away, and its end
   * (target_gone) ends the channel: never freed from inside this call. */
  send_packet(c, 3, NULL, 0);
  return 0;
}

int weft_channel_pause(weft_channel *c) {
  if (!c) return WEFT_EINVAL;
  c->paused = 1;
  return 0;
}

int weft_channel_resume(weft_channel *c) {
  if (!c) return WEFT_EINVAL;
  if (!c->paused) return 0;
  c->paused = 0;
  drain_in(c);
  return 0;
}

const char *weft_channel_name(const weft_channel *c) { return c ? c->name : NULL; }
weft_spark *weft_channel_spark(const weft_channel *c) { return c ? c->spark : NULL; }
size_t weft_channel_queued(const weft_channel *c) { return c ? c->out.len : 0; }
