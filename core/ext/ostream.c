/*
 * Streams this side opens (weft_ostream_*): from a server to a spark, or
 * from a client to its server (fast-tcp's routed streams too), over the
 * reserved events "weft::stream" [event, id, info, target?],
 * "weft::chunk" [id, bytes] and "weft::chunk_end" [id].
 *
 * Credit: a writer may have up to its window queued on its connection (a
 * server's high-water mark, a client's weft_streams_client_window). A
 * write with credit is queued (returns 1 when the window is now used up);
 * a write without credit queues nothing (WEFT_ENOBUFS). When the
 * connection's queue falls below the window again, writers that ran out
 * hear their drain. A reader that pauses stops reading its connection:
 * the kernel's buffers fill, this side's queue stops shrinking, and the
 * writer waits with at most window + one chunk queued.
 */
#include <stdlib.h>
#include <string.h>

#include "streams.h"

struct weft_ostream {
  weft_streams *ss;
  void *target;     /* the spark or the client; NULL once gone */
  weft__conn *conn; /* a client's connection it was opened on */
  uint32_t id;
  int blocked; /* ran out of credit: a drain is owed */
  void (*drain)(weft_ostream *os, void *user);
  void *drain_user;
  weft_ostream *prev, *next;
};

/* ss is NULL once the server or client was freed (the stream is only
 * memory then, for weft_ostream_end to free). */
static size_t window_of(const weft_ostream *os) {
  return os->ss->server ? os->ss->server->hwm : os->ss->window;
}

size_t weft_ostream_pending(const weft_ostream *os) {
  if (!os || !os->ss || !os->target) return 0;
  return os->ss->server ? weft_spark_buffered_amount(os->target)
                        : weft_client_buffered_amount(os->target);
}

static int has_credit(const weft_ostream *os) { return weft_ostream_pending(os) < window_of(os); }

typedef struct open_ctx {
  const char *event;
  const weft_value *info;
  weft_value *target; /* a client's route, or NULL */
  uint32_t id;
} open_ctx;

/* [event, id, info, target?]: the id is the ack's when there is one. */
static weft_value *open_args(uint32_t ack_id, void *u) {
  open_ctx *o = u;
  if (ack_id) o->id = ack_id;
  weft_value *a = weft_value_new_array();
  if (a && (weft_value_array_push(a, weft_value_new_string(o->event, strlen(o->event))) ||
            weft_value_array_push(a, weft_value_new_int(o->id)) ||
            weft_value_array_push(a, o->info ? weft_value_dup(o->info) : weft_value_new_null()) ||
            (o->target && weft_value_array_push(a, weft_value_dup(o->target))))) {
    weft_value_free(a);
    return NULL;
  }
  return a;
}

/* {"broadcast": true} | {"rooms": [...]} | {"sockets": [...]}, as
 * fast-tcp allows one of them; NULL with *rc set when invalid. */
static weft_value *target_value(const weft_stream_to *to, int *rc) {
  *rc = WEFT_EINVAL;
  if (to->size < sizeof(*to) || (!!to->broadcast + !!to->n_rooms + !!to->n_ids) != 1) return NULL;
  const char *const *list = to->n_rooms ? to->rooms : to->ids;
  size_t n = to->n_rooms ? to->n_rooms : to->n_ids;
  weft_value *map = weft_value_new_map(),
             *v = to->broadcast ? weft_value_new_bool(1) : weft_value_new_array();
  int bad = 0, nomem = !map || !v;
  for (size_t i = 0; !nomem && !to->broadcast && i < n; i++) {
    if (!list || !list[i] || !weft__ext_name_ok(list[i], strlen(list[i])) || strpbrk(list[i], ",|"))
      bad = 1;
    else if (weft_value_array_push(v, weft_value_new_string(list[i], strlen(list[i]))))
      nomem = 1;
  }
  const char *key = to->broadcast ? "broadcast" : to->n_rooms ? "rooms" : "sockets";
  if (!bad && !nomem) { /* map_add takes v in every case */
    if (weft_value_map_add(map, key, strlen(key), v) == 0) {
      *rc = 0;
      return map;
    }
    v = NULL;
  }
  if (!bad) *rc = WEFT_ENOMEM;
  weft_value_free(v);
  weft_value_free(map);
  return NULL;
}

static int open_any(weft_streams *ss, weft_spark *sp, weft_emitter *em, const char *event,
                    const weft_value *info, const weft_stream_to *to, weft_ack_cb cb, void *user,
                    weft_ostream **out) {
  if (!ss || !em || weft__ext_event_name_check(event) || (to && cb)) return WEFT_EINVAL;
  open_ctx o = {event, info, NULL, 0x80000000u | ++ss->next_id};
  int rc = 0;
  if (to && !(o.target = target_value(to, &rc))) return rc;
  weft_ostream *os = calloc(1, sizeof(*os));
  if (!os) {
    weft_value_free(o.target);
    return WEFT_ENOMEM;
  }
  /* without an ack, ids from the top half: apart from the emitter's */
  uint32_t ack = 0;
  rc = weft__emitter_emit_with(em, sp, "weft::stream", open_args, &o, cb, user, &ack);
  weft_value_free(o.target);
  if (rc < 0) {
    free(os);
    return rc;
  }
  os->ss = ss;
  os->target = sp ? (void *)sp : (void *)ss->client;
  os->conn = sp ? NULL : ss->client->conn;
  os->id = o.id;
  os->next = ss->out;
  if (ss->out) ss->out->prev = os;
  ss->out = os;
  *out = os;
  return rc;
}

int weft_ostream_open(weft_spark *sp, const char *event, const weft_value *info, weft_ack_cb cb,
                      void *user, weft_ostream **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  weft_server *s = weft_spark_server(sp);
  if (!sp || !s) return WEFT_EINVAL;
  return open_any(weft_server_plugin(s, WEFT__STREAMS_PLUGIN), sp, weft_emitter_of_server(s), event,
                  info, NULL, cb, user, out);
}

int weft_ostream_open_client(weft_client *c, const char *event, const weft_value *info,
                             const weft_stream_to *to, weft_ack_cb cb, void *user,
                             weft_ostream **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  if (!c) return WEFT_EINVAL;
  weft_streams *ss = weft_client_plugin(c, WEFT__STREAMS_PLUGIN);
  if (ss && !c->conn_open) return WEFT_ESTATE;
  return open_any(ss, NULL, weft_emitter_of_client(c), event, info, to, cb, user, out);
}

/* "weft::chunk" [id, bytes] or "weft::chunk_end" [id]. */
static int send_part(weft_ostream *os, const char *what, const void *p, size_t len) {
  weft_value items[2], args;
  weft__ext_int(&items[0], os->id);
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
    rc = os->ss->server ? weft_spark_write(os->target, &ep.map)
                        : weft_client_write(os->target, &ep.map);
    weft__ext_event_done(&ep);
  }
  return rc;
}

/* A client's stream lives on the connection it was opened on. */
static int live(const weft_ostream *os) {
  return os->ss && os->target && (os->ss->server || os->ss->client->conn == os->conn);
}

int weft_ostream_write(weft_ostream *os, const void *p, size_t len) {
  if (!os || !p || !len) return WEFT_EINVAL;
  if (!live(os)) return WEFT_ECLOSED;
  if (!has_credit(os)) {
    os->blocked = 1;
    return WEFT_ENOBUFS;
  }
  return weft__ostream_write_over(os, p, len);
}

int weft__ostream_write_over(weft_ostream *os, const void *p, size_t len) {
  if (!live(os)) return WEFT_ECLOSED;
  int rc = send_part(os, "weft::chunk", p, len);
  if (rc < 0) return rc;
  if (has_credit(os)) return 0;
  os->blocked = 1;
  return 1;
}

int weft_ostream_set_drain(weft_ostream *os, void (*cb)(weft_ostream *os, void *user), void *user) {
  if (!os) return WEFT_EINVAL;
  os->drain = cb;
  os->drain_user = user;
  return 0;
}

static void unlink_os(weft_streams *ss, weft_ostream *os) {
  if (os->prev)
    os->prev->next = os->next;
  else
    ss->out = os->next;
  if (os->next) os->next->prev = os->prev;
}

int weft_ostream_end(weft_ostream *os) {
  if (!os) return WEFT_EINVAL;
  int rc = live(os) ? send_part(os, "weft::chunk_end", NULL, 0) : WEFT_ECLOSED;
  if (os->ss) unlink_os(os->ss, os);
  free(os);
  return rc < 0 ? rc : 0;
}

void weft__ostreams_gone(weft_streams *ss, void *target) {
  for (weft_ostream *os = ss->out; os; os = os->next)
    if (os->target == target) os->target = NULL;
}

void weft__ostreams_drained(weft_streams *ss, void *target) {
  /* a drain may write, end this stream or others: look again after each */
  for (int again = 1; again;) {
    again = 0;
    for (weft_ostream *os = ss->out; os; os = os->next) {
      if (os->target != target || !os->blocked || !has_credit(os)) continue;
      os->blocked = 0;
      if (os->drain) {
        os->drain(os, os->drain_user);
        again = 1;
        break;
      }
    }
  }
}

void weft__ostreams_detach(weft_streams *ss) {
  for (weft_ostream *os = ss->out; os; os = os->next)
    os->ss = NULL, os->target = NULL;
  ss->out = NULL;
}
