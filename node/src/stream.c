/*
 * Binary streams (weft/ext.h: weft_streams_*, weft_ostream_*) behind
 * lib/streams.js: a stream a peer opens becomes a stream.Readable (its
 * chunks pushed as they come; the core pauses the connection when the
 * Readable's buffer is full), one this side opens a stream.Writable (its
 * writes under the core's credit: a full window waits for the drain). A
 * wrapper has two owners: the core (an incoming stream until its end
 * event, an outgoing one until weft_ostream_end) and the JavaScript
 * external, which gives it up when collected. After the end, calls answer
 * WEFT_ECLOSED.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

typedef struct weft__nstream {
  uint32_t kind; /* WEFT__N_STREAM (incoming) or WEFT__N_OSTREAM */
  int refs;      /* the core's, the external's */
  weft__addon *a;
  weft_stream *st;  /* incoming: NULL after its end event */
  weft_ostream *os; /* outgoing: NULL once ended */
  napi_ref obj;     /* the JS stream, strong while the core holds it */
} weft__nstream;

static void unref(weft__nstream *ns) {
  if (--ns->refs == 0) free(ns);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  unref(data);
}

/* The core is done with it: JavaScript's object is no longer held. */
static void core_done(weft__nstream *ns) {
  if (ns->obj) napi_delete_reference(ns->a->env, ns->obj);
  ns->obj = NULL;
  unref(ns);
}

static void call(weft__nstream *ns, const char *what, const uint8_t *p, size_t len, int flag) {
  weft__addon *a = ns->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || !ns->obj || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[2];
  argv[0] = weft__node_str(env, what);
  if (p)
    napi_create_buffer_copy(env, len, p, NULL, &argv[1]);
  else
    napi_get_boolean(env, flag != 0, &argv[1]);
  if (argv[0] && argv[1]) weft__node_call(a, CB_STREAM, weft__node_deref(env, ns->obj), 2, argv);
  napi_close_handle_scope(env, scope);
}

static void st_data(weft_stream *st, const uint8_t *p, size_t len, void *user) {
  (void)st;
  call(user, "data", p, len, 0);
}

static void st_end(weft_stream *st, int aborted, void *user) {
  (void)st;
  weft__nstream *ns = user;
  call(ns, "end", NULL, 0, aborted);
  ns->st = NULL;
  core_done(ns);
}

static const weft_stream_events events = {sizeof(weft_stream_events), st_data, st_end};

static weft__nstream *wrap(weft__addon *a, uint32_t kind, napi_value *ext) {
  weft__nstream *ns = calloc(1, sizeof(*ns));
  if (!ns) return NULL;
  ns->kind = kind;
  ns->a = a;
  ns->refs = 1;
  if (napi_create_external(a->env, ns, finalize, NULL, ext) != napi_ok) {
    free(ns);
    return NULL;
  }
  return ns;
}

/* A peer opened a stream: JavaScript makes its Readable, or refuses it
 * (nobody listens: its chunks are dropped). */
static void on_open(weft_stream *st, const char *event, const weft_value *info, weft_reply *reply,
                    void *user) {
  weft__nclosable *owner = user;
  weft__addon *a = owner->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  napi_value argv[5], obj;
  napi_valuetype t;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) {
    if (reply) weft_reply_drop(reply);
    return;
  }
  weft__nstream *ns = wrap(a, WEFT__N_STREAM, &argv[0]);
  argv[1] = weft__node_str(env, event);
  argv[2] = weft__node_to_js(env, info);
  argv[3] = reply ? weft__node_reply_ext(env, owner, reply) : weft__node_undefined(env);
  argv[4] = weft_stream_spark(st) ? weft__node_spark_obj(env, weft_stream_spark(st)) : NULL;
  if (!argv[4]) napi_get_null(env, &argv[4]);
  if (!ns || !argv[1] || !argv[2] || !argv[3]) {
    if (reply && !argv[3]) weft_reply_drop(reply); /* else its external drops it */
    napi_close_handle_scope(env, scope);
    return;
  }
  ns->st = st;
  obj = weft__node_call(a, CB_STREAM_OPEN, weft__node_deref(env, owner->obj), 5, argv);
  if (obj && napi_typeof(env, obj, &t) == napi_ok && t == napi_object &&
      napi_create_reference(env, obj, 1, &ns->obj) == napi_ok) {
    ns->refs++; /* the core's, until the end event */
    weft_stream_set_events(st, &events, ns);
  } else {
    ns->st = NULL;
  }
  napi_close_handle_scope(env, scope);
}

/* streamsListen(serverExt | clientExt) -> 0 | -code (before listen/open;
 * the emitter must be on). */
static napi_value js_streams_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nclosable *owner = weft__node_unwrap_any(env, argv[0]);
  if (!owner) return NULL;
  int rc = owner->kind == WEFT__N_SERVER ? weft_streams_server(owner->handle, on_open, owner, NULL)
                                         : weft_streams_client(owner->handle, on_open, owner, NULL);
  return weft__node_int(env, rc);
}

static void os_drain(weft_ostream *os, void *user) {
  (void)os;
  call(user, "drain", NULL, 0, 0);
}

/* The strings of an array (borrowed from it), at most cap. */
size_t weft__node_strs(const weft_value *list, const char **out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < weft_value_len(list) && n < cap; i++) {
    size_t len;
    if (weft_value_get_string(weft_value_array_at(list, i), &out[n], &len) == 0) n++;
  }
  return n;
}

/* streamOpen(sparkExt | clientExt, event, info, token, jsStream, target)
 * -> ostream external; throws the core's error. target (clients):
 * undefined, {broadcast: true}, {rooms: [..]} or {sockets: [..]}. */
static napi_value js_stream_open(napi_env env, napi_callback_info info) {
  napi_value argv[6], ext;
  napi_valuetype t;
  void *p = NULL;
  if (weft__node_args(env, info, 6, argv) != 0) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, argv[0], &p) != napi_ok || !p ||
      (*(uint32_t *)p != WEFT__N_SPARK && *(uint32_t *)p != WEFT__N_CLIENT))
    return weft__node_throw_type(env, "not a weft spark or client handle");
  char *event = weft__node_string(env, argv[1], NULL);
  if (!event) return weft__node_throw_type(env, "event must be a string");
  weft_value *inf = NULL, *rooms = NULL, *ids = NULL;
  napi_typeof(env, argv[2], &t);
  if (t != napi_undefined && !(inf = weft__node_from_js(env, argv[2]))) goto out;
  const char *list[64];
  weft_stream_to to = {sizeof(to), 0, list, 0, list, 0};
  napi_typeof(env, argv[5], &t);
  int routed = t == napi_object;
  if (routed) {
    napi_value v;
    bool has = false, b = false;
    if (napi_has_named_property(env, argv[5], "rooms", &has) == napi_ok && has &&
        napi_get_named_property(env, argv[5], "rooms", &v) == napi_ok &&
        !(rooms = weft__node_from_js(env, v)))
      goto out;
    if (napi_has_named_property(env, argv[5], "sockets", &has) == napi_ok && has &&
        napi_get_named_property(env, argv[5], "sockets", &v) == napi_ok &&
        !(ids = weft__node_from_js(env, v)))
      goto out;
    if (napi_get_named_property(env, argv[5], "broadcast", &v) == napi_ok &&
        napi_get_value_bool(env, v, &b) == napi_ok)
      to.broadcast = b;
    to.n_rooms = weft__node_strs(rooms, list, 64);
    to.n_ids = to.n_rooms ? 0 : weft__node_strs(ids, list, 64);
  }
  int spark = *(uint32_t *)p == WEFT__N_SPARK;
  weft__nack *k = weft__node_new_ack(env, argv[3], spark ? ((weft__nspark *)p)->srv : NULL,
                                     spark ? NULL : ((weft__nclient *)p)->c);
  weft_ostream *os = NULL;
  int rc = spark
               ? weft_ostream_open(((weft__nspark *)p)->spark, event, inf,
                                   k ? weft__node_on_ack : NULL, k, &os)
               : weft_ostream_open_client(((weft__nclient *)p)->c, event, inf, routed ? &to : NULL,
                                          k ? weft__node_on_ack : NULL, k, &os);
  if (rc < 0) {
    free(k);
    weft__node_throw(env, rc, "stream");
    goto out;
  }
  weft__nstream *ns = wrap(weft__node_addon(env), WEFT__N_OSTREAM, &ext);
  if (!ns || napi_create_reference(env, argv[4], 1, &ns->obj) != napi_ok) {
    weft_ostream_end(os);
    weft__node_throw(env, WEFT_ENOMEM, "stream");
    goto out;
  }
  ns->os = os;
  ns->refs++; /* the core's, until ended */
  weft_ostream_set_drain(os, os_drain, ns);
  free(event);
  weft_value_free(inf);
  weft_value_free(rooms);
  weft_value_free(ids);
  return ext;
out:
  free(event);
  weft_value_free(inf);
  weft_value_free(rooms);
  weft_value_free(ids);
  return NULL;
}

/* streamCall(ext, op, buffer) -> incoming: pause, resume (0 | -code);
 * outgoing: write (0 | 1 | -code), end (0 | -code), pending (bytes). */
static napi_value js_stream_call(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char op[8];
  size_t len;
  void *p = NULL;
  napi_valuetype t;
  int64_t rc = WEFT_EINVAL;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, argv[0], &p) != napi_ok || !p ||
      (*(uint32_t *)p != WEFT__N_STREAM && *(uint32_t *)p != WEFT__N_OSTREAM))
    return weft__node_throw_type(env, "not a weft stream handle");
  if (napi_get_value_string_utf8(env, argv[1], op, sizeof(op), &len) != napi_ok)
    return weft__node_throw_type(env, "op must be a string");
  weft__nstream *ns = p;
  if (!strcmp(op, "pending")) return weft__node_int(env, (int64_t)weft_ostream_pending(ns->os));
  if (!ns->st && !ns->os) return weft__node_int(env, WEFT_ECLOSED);
  if (!strcmp(op, "pause")) {
    rc = weft_stream_pause(ns->st);
  } else if (!strcmp(op, "resume")) {
    rc = weft_stream_resume(ns->st);
  } else if (!strcmp(op, "write") && ns->os) {
    void *data = NULL;
    size_t n = 0;
    if (napi_get_buffer_info(env, argv[2], &data, &n) != napi_ok)
      return weft__node_throw_type(env, "chunk must be a Buffer");
    rc = weft_ostream_write(ns->os, data, n);
  } else if (!strcmp(op, "end") && ns->os) {
    rc = weft_ostream_end(ns->os);
    ns->os = NULL;
    core_done(ns);
  }
  return weft__node_int(env, rc);
}

int weft__node_define_stream(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("streamsListen", js_streams_listen),
      WEFT__NODE_FN("streamOpen", js_stream_open),
      WEFT__NODE_FN("streamCall", js_stream_call),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
