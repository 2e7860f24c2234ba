/*
 * weft's Node-API addon: the C core on Node's own libuv loop.
 *
 * The binding is thin on purpose; node/lib/ gives it Primus's shape. Rules it
 * keeps (docs/abi.md, design.md "Known pitfalls"):
 *  - one weft_loop per Node environment (main thread or worker), on the loop
 *    napi_get_uv_event_loop() returns; no threads, no hops;
 *  - every call into JavaScript goes through napi_make_callback() inside a
 *    handle scope, and an exception it leaves is handed to
 *    napi_fatal_exception(), which is process.on('uncaughtException');
 *  - every napi status is checked; nothing calls into JavaScript once the
 *    environment is being torn down;
 *  - an async cleanup hook destroys live servers and clients when the
 *    environment exits (process exit, worker exit or terminate) and frees the
 *    loop after their close events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <uv.h>
#include <weft/ext.h>
#include <weft/weft.h>

#define WEFT_NODE_MAX_DEPTH 512

typedef struct weft__addon weft__addon;
typedef struct weft__nserver weft__nserver;
typedef struct weft__nclient weft__nclient;

/* JavaScript dispatchers, registered once by lib/binding.js. */
enum {
  CB_SPARK,         /* (server, sparkExt, id) -> Spark */
  CB_CONNECTION,    /* this=server (spark) */
  CB_DISCONNECTION, /* this=server (spark) */
  CB_DATA,          /* this=spark (value) */
  CB_DRAIN,         /* this=spark () */
  CB_ERROR,         /* this=server (spark|null, code, kind, message) */
  CB_CLOSE,         /* this=server () */
  CB_AUTHORIZE,     /* this=server (authExt) */
  CB_CLIENT,        /* this=client (event, a, b, c) */
  CB_CLIENT_DATA,   /* this=client (value) */
  CB_EVENT,         /* this=spark|client (name, args, replyExt|undefined) */
  CB_ACK,           /* (token, codeName|null, value) */
  CB_CHANNEL,       /* this=channel (what, value) */
  CB_CHANNEL_OPEN,  /* this=server|client (chExt, name, spark|null) -> Channel */
  CB_POLICY,        /* this=server (spark, room, join) -> bool */
  CB_LOG,           /* this=server|client (level, event, message, spark|null, kind|null) */
  CB_COUNT
};

struct weft__addon {
  napi_env env;
  weft_loop *loop;
  napi_ref cbs[CB_COUNT];
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  int teardown;     /* the environment is going away: no more JavaScript */
  uv_idle_t reaper; /* closes the loop at teardown, once nothing uses it */
  int reaper_on;
  size_t live; /* servers and clients whose close/destroy has not come */
  weft__nserver *servers;
  weft__nclient *clients;
};

typedef struct weft__nreply weft__nreply;

typedef struct weft__nspark {
  weft_spark *spark; /* NULL after disconnection */
  weft__nserver *srv;
  napi_ref obj; /* strong from connection to disconnection */
  int js_gone;  /* the external was finalized */
} weft__nspark;

struct weft__nserver {
  weft__addon *a;
  weft_server *srv; /* NULL after close */
  napi_ref obj;     /* strong until close */
  int destroying;
  int js_gone;
  weft_emitter *em; /* extensions, attached before listen; NULL after close */
  weft_rooms *rooms;
  weft_channels *chs;
  weft__nreply *replies; /* replies handed to JavaScript, not answered yet */
  weft__nserver *next, *prev;
};

struct weft__nclient {
  weft__addon *a;
  weft_client *c; /* NULL after destroy */
  napi_ref obj;
  int destroying;
  int js_gone;
  weft_emitter *em;
  weft_channels *chs;
  weft__nreply *replies;
  weft__nclient *next, *prev;
};

typedef struct weft__nauth {
  weft__addon *a;
  weft_auth *req; /* NULL once answered */
} weft__nauth;

static void drop_replies(weft__nreply **head);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

#define NAPI_OK(call)                                                                              \
  do {                                                                                             \
    if ((call) != napi_ok) goto fail;                                                              \
  } while (0)

static napi_value undefined(napi_env env) {
  napi_value u = NULL;
  napi_get_undefined(env, &u);
  return u;
}

/* Throws an Error with .code = "EINVAL"-style name, .errno = the code and
 * this message. */
static napi_value throw_message(napi_env env, int code, const char *message) {
  napi_value msg, codev, err, num;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, weft_err_name(code), NAPI_AUTO_LENGTH, &codev) != napi_ok)
    return NULL;
  if (napi_create_error(env, codev, msg, &err) != napi_ok) return NULL;
  if (napi_create_int32(env, code, &num) == napi_ok)
    napi_set_named_property(env, err, "errno", num);
  napi_throw(env, err);
  return NULL;
}

/* The same with the message "what: strerror(code)". */
static napi_value throw_weft(napi_env env, int code, const char *what) {
  char buf[256];
  snprintf(buf, sizeof(buf), "%s: %s", what, weft_strerror(code));
  return throw_message(env, code, buf);
}

/* A refused transformer name, with the names there are taken from the core:
 * "unknown transformer 'sockjs' (available: websockets)" (WEFT_EUNSUPPORTED), or
 * "transformer 'x' does not serve this URL's scheme" (WEFT_EURL, clients). */
static napi_value throw_transformer(napi_env env, int code, const char *name) {
  char list[256] = "", buf[512];
  size_t n = 0;
  for (size_t i = 0; n < sizeof(list); i++) {
    const char *t = weft_transformer_at(i);
    if (!t) break;
    int w = snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", t);
    if (w < 0) break;
    n += (size_t)w;
  }
  if (code == WEFT_EUNSUPPORTED)
    snprintf(buf, sizeof(buf), "unknown transformer '%.100s' (available: %s)", name, list);
  else if (code == WEFT_EURL)
    snprintf(buf, sizeof(buf), "transformer '%.100s' does not serve this URL's scheme", name);
  else
    snprintf(buf, sizeof(buf), "transformer: %s", weft_strerror(code));
  return throw_message(env, code, buf);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
                    napi_value *self) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, self, NULL) != napi_ok) return -1;
  napi_value u = undefined(env);
  for (size_t i = argc; i < want; i++)
    argv[i] = u;
  return 0;
}

static void *get_external(napi_env env, napi_value v) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* A UTF-8 copy of a JS string (malloc'd), or NULL (not a string / no memory). */
static char *get_string(napi_env env, napi_value v, size_t *len_out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  if (len_out) *len_out = len;
  return s;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value v = NULL;
  if (!s) return NULL;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value make_int(napi_env env, int64_t i) {
  napi_value v = NULL;
  napi_create_int64(env, i, &v);
  return v;
}

/* Calls a dispatcher with `recv` as this. An exception becomes an
 * uncaughtException; the caller carries on either way. Must run inside a
 * handle scope. */
static napi_value call_js(weft__addon *a, int which, napi_value recv, size_t argc,
                          napi_value *argv) {
  napi_env env = a->env;
  napi_value fn, result = NULL;
  if (a->teardown || !a->cbs[which]) return NULL;
  if (napi_get_reference_value(env, a->cbs[which], &fn) != napi_ok || !fn) return NULL;
  napi_status st = napi_make_callback(env, a->actx, recv, fn, argc, argv, &result);
  if (st != napi_ok) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok && !a->teardown)
        napi_fatal_exception(env, exc);
    }
    return NULL;
  }
  return result;
}

/* ---------------------------------------------------------------------- */
/* Values                                                                 */
/* ---------------------------------------------------------------------- */

#define TWO53 9007199254740992LL

static napi_value to_js(napi_env env, const weft_value *v, int depth);

static napi_value key_to_js(napi_env env, const weft_value *k) {
  /* Object keys are strings; other key types become their JSON text. */
  const char *s;
  size_t len;
  napi_value out = NULL;
  if (weft_value_get_string(k, &s, &len) == 0) {
    napi_create_string_utf8(env, s, len, &out);
    return out;
  }
  uint8_t *enc = NULL;
  size_t elen = 0;
  if (weft_value_encode("json", k, &enc, &elen) == 0) {
    napi_create_string_utf8(env, (const char *)enc, elen, &out);
    weft_free(enc);
  }
  return out;
}

static napi_value to_js(napi_env env, const weft_value *v, int depth) {
  napi_value out = NULL;
  if (depth > WEFT_NODE_MAX_DEPTH) return NULL;
  switch (weft_value_type(v)) {
  case WEFT_NULL: napi_get_null(env, &out); break;
  case WEFT_BOOL: {
    int b = 0;
    weft_value_get_bool(v, &b);
    napi_get_boolean(env, b != 0, &out);
    break;
  }
  case WEFT_INT: {
    int64_t i = 0;
    weft_value_get_int(v, &i);
    if (i >= -TWO53 && i <= TWO53)
      napi_create_double(env, (double)i, &out);
    else
      napi_create_bigint_int64(env, i, &out);
    break;
  }
  case WEFT_FLOAT: {
    double d = 0;
    weft_value_get_float(v, &d);
    napi_create_double(env, d, &out);
    break;
  }
  case WEFT_STRING: {
    const char *s;
    size_t len;
    weft_value_get_string(v, &s, &len);
    napi_create_string_utf8(env, s, len, &out);
    break;
  }
  case WEFT_BINARY: {
    const uint8_t *p;
    size_t len;
    weft_value_get_binary(v, &p, &len);
    void *data;
    napi_create_buffer_copy(env, len, p, &data, &out);
    break;
  }
  case WEFT_ARRAY: {
    size_t n = weft_value_len(v);
    if (napi_create_array_with_length(env, n, &out) != napi_ok) return NULL;
    for (size_t i = 0; i < n; i++) {
      napi_value item = to_js(env, weft_value_array_at(v, i), depth + 1);
      if (!item || napi_set_element(env, out, (uint32_t)i, item) != napi_ok) return NULL;
    }
    break;
  }
  case WEFT_MAP: {
    size_t n = weft_value_len(v);
    if (napi_create_object(env, &out) != napi_ok) return NULL;
    for (size_t i = 0; i < n; i++) {
      napi_value k = key_to_js(env, weft_value_map_key_at(v, i));
      napi_value item = to_js(env, weft_value_map_value_at(v, i), depth + 1);
      if (!k || !item || napi_set_property(env, out, k, item) != napi_ok) return NULL;
    }
    break;
  }
  }
  return out;
}

/* JS -> owned weft_value, or NULL with a JS exception thrown. JSON's rules:
 * undefined and functions become null at the top and in arrays and are
 * skipped in objects; NaN/Infinity become null; toJSON() is honoured. */
static weft_value *from_js(napi_env env, napi_value v, int depth);

static int is_skippable(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  return t == napi_undefined || t == napi_function || t == napi_symbol;
}

static weft_value *from_js_object(napi_env env, napi_value v, int depth) {
  bool flag = false;
  /* Binary: Buffer / typed arrays / DataView / ArrayBuffer. */
  if (napi_is_typedarray(env, v, &flag) == napi_ok && flag) {
    napi_typedarray_type tt;
    size_t length, offset;
    void *data;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &tt, &length, &data, &ab, &offset) != napi_ok) return NULL;
    size_t esize = 1;
    switch (tt) {
    case napi_int16_array:
    case napi_uint16_array: esize = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: esize = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: esize = 8; break;
    default: esize = 1;
    }
    weft_value *b = weft_value_new_binary(data, length * esize);
    if (!b) throw_weft(env, WEFT_ENOMEM, "binary");
    return b;
  }
  if (napi_is_dataview(env, v, &flag) == napi_ok && flag) {
    size_t length, offset;
    void *data;
    napi_value ab;
    if (napi_get_dataview_info(env, v, &length, &data, &ab, &offset) != napi_ok) return NULL;
    weft_value *b = weft_value_new_binary(data, length);
    if (!b) throw_weft(env, WEFT_ENOMEM, "binary");
    return b;
  }
  if (napi_is_arraybuffer(env, v, &flag) == napi_ok && flag) {
    void *data;
    size_t length;
    if (napi_get_arraybuffer_info(env, v, &data, &length) != napi_ok) return NULL;
    weft_value *b = weft_value_new_binary(data, length);
    if (!b) throw_weft(env, WEFT_ENOMEM, "binary");
    return b;
  }
  if (napi_is_array(env, v, &flag) == napi_ok && flag) {
    uint32_t n = 0;
    if (napi_get_array_length(env, v, &n) != napi_ok) return NULL;
    weft_value *arr = weft_value_new_array();
    if (!arr) return throw_weft(env, WEFT_ENOMEM, "array"), NULL;
    for (uint32_t i = 0; i < n; i++) {
      napi_value item;
      if (napi_get_element(env, v, i, &item) != napi_ok) goto arr_fail;
      weft_value *c =
          is_skippable(env, item) ? weft_value_new_null() : from_js(env, item, depth + 1);
      if (!c) goto arr_fail;
      if (weft_value_array_push(arr, c) != 0) {
        throw_weft(env, WEFT_ENOMEM, "array");
        goto arr_fail;
      }
    }
    return arr;
  arr_fail:
    weft_value_free(arr);
    return NULL;
  }
  /* toJSON (Date and friends). */
  napi_value tojson;
  napi_valuetype tt;
  if (napi_get_named_property(env, v, "toJSON", &tojson) == napi_ok &&
      napi_typeof(env, tojson, &tt) == napi_ok && tt == napi_function) {
    napi_value r;
    if (napi_call_function(env, v, tojson, 0, NULL, &r) != napi_ok) return NULL;
    return is_skippable(env, r) ? weft_value_new_null() : from_js(env, r, depth + 1);
  }
  napi_value keys;
  if (napi_get_all_property_names(env, v, napi_key_own_only,
                                  napi_key_enumerable | napi_key_skip_symbols,
                                  napi_key_numbers_to_strings, &keys) != napi_ok)
    return NULL;
  uint32_t n = 0;
  if (napi_get_array_length(env, keys, &n) != napi_ok) return NULL;
  weft_value *map = weft_value_new_map();
  if (!map) return throw_weft(env, WEFT_ENOMEM, "object"), NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value k, item;
    if (napi_get_element(env, keys, i, &k) != napi_ok) goto map_fail;
    if (napi_get_property(env, v, k, &item) != napi_ok) goto map_fail;
    if (is_skippable(env, item)) continue;
    size_t klen;
    char *ks = get_string(env, k, &klen);
    if (!ks) {
      throw_weft(env, WEFT_ENOMEM, "object key");
      goto map_fail;
    }
    weft_value *c = from_js(env, item, depth + 1);
    if (!c) {
      free(ks);
      goto map_fail;
    }
    int rc = weft_value_map_add(map, ks, klen, c);
    free(ks);
    if (rc != 0) {
      throw_weft(env, rc, "object");
      goto map_fail;
    }
  }
  return map;
map_fail:
  weft_value_free(map);
  return NULL;
}

static weft_value *from_js(napi_env env, napi_value v, int depth) {
  napi_valuetype t;
  weft_value *out = NULL;
  if (depth > WEFT_NODE_MAX_DEPTH) {
    napi_throw_range_error(env, "EDEPTH", "value nested too deeply (or cyclic)");
    return NULL;
  }
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  switch (t) {
  case napi_undefined:
  case napi_null:
  case napi_function:
  case napi_symbol: out = weft_value_new_null(); break;
  case napi_boolean: {
    bool b = false;
    napi_get_value_bool(env, v, &b);
    out = weft_value_new_bool(b);
    break;
  }
  case napi_number: {
    double d = 0;
    napi_get_value_double(env, v, &d);
    if (d != d || d == 1.0 / 0.0 || d == -1.0 / 0.0)
      out = weft_value_new_null();
    else if (d >= -(double)TWO53 && d <= (double)TWO53 && d == (double)(int64_t)d &&
             !(d == 0 && 1 / d < 0))
      out = weft_value_new_int((int64_t)d);
    else
      out = weft_value_new_float(d);
    break;
  }
  case napi_bigint: {
    int64_t i = 0;
    bool lossless = false;
    napi_get_value_bigint_int64(env, v, &i, &lossless);
    if (!lossless) {
      napi_throw_range_error(env, "ERANGE", "BigInt out of the int64 range");
      return NULL;
    }
    out = weft_value_new_int(i);
    break;
  }
  case napi_string: {
    size_t len;
    char *s = get_string(env, v, &len);
    if (!s) {
      throw_weft(env, WEFT_ENOMEM, "string");
      return NULL;
    }
    out = weft_value_new_string(s, len);
    free(s);
    break;
  }
  case napi_object:
  case napi_external:
    return t == napi_external ? weft_value_new_null() : from_js_object(env, v, depth);
  }
  if (!out) throw_weft(env, WEFT_ENOMEM, "value");
  return out;
}

/* ---------------------------------------------------------------------- */
/* Addon state and teardown                                               */
/* ---------------------------------------------------------------------- */

/* Teardown, in loop turns: (1) wait until weft_loop_close() accepts (the core
 * frees servers and clients just after their close/destroy events return);
 * (2) one more turn so the loop's own handles have run their close callbacks;
 * (3) close the reaper and only then let Node go on (and unload this code). */
static void on_reaper_closed(uv_handle_t *h) {
  weft__addon *a = h->data;
  napi_async_cleanup_hook_handle hook = a->cleanup;
  a->cleanup = NULL;
  a->reaper_on = 0;
  if (hook) napi_remove_async_cleanup_hook(hook);
}

static void on_reaper(uv_idle_t *h) {
  weft__addon *a = h->data;
  if (a->live > 0) return;
  if (a->loop) {
    if (weft_loop_close(a->loop) == 0) a->loop = NULL;
    return;
  }
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, on_reaper_closed);
}

static void maybe_finish_cleanup(weft__addon *a) {
  if (!a->cleanup || a->live > 0 || a->reaper_on) return;
  struct uv_loop_s *uv = a->loop ? weft_loop_uv(a->loop) : NULL;
  if (!uv || uv_idle_init(uv, &a->reaper) != 0) {
    napi_async_cleanup_hook_handle hook = a->cleanup;
    a->cleanup = NULL;
    napi_remove_async_cleanup_hook(hook);
    return;
  }
  a->reaper.data = a;
  a->reaper_on = 1;
  uv_idle_start(&a->reaper, on_reaper);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  weft__addon *a = arg;
  a->teardown = 1;
  a->cleanup = handle;
  for (weft__nserver *s = a->servers; s; s = s->next) {
    if (s->srv && !s->destroying) {
      weft_destroy_options o = {.size = sizeof(o), .reconnect = 1, .timeout_ms = 100};
      s->destroying = 1;
      weft_server_destroy(s->srv, &o);
    }
  }
  for (weft__nclient *c = a->clients; c; c = c->next) {
    if (c->c && !c->destroying) {
      c->destroying = 1;
      weft_client_destroy(c->c);
    }
  }
  maybe_finish_cleanup(a);
}

static void addon_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__addon *a = data;
  /* By now the cleanup hook has run and closed the loop. */
  free(a);
}

static weft__addon *get_addon(napi_env env) {
  void *p = NULL;
  if (napi_get_instance_data(env, &p) != napi_ok) return NULL;
  return p;
}

/* The loop, created on first use (loading the addon alone costs nothing). */
static weft_loop *addon_loop(napi_env env, weft__addon *a) {
  if (a->loop) return a->loop;
  if (a->teardown) return NULL;
  struct uv_loop_s *uv = NULL;
  if (napi_get_uv_event_loop(env, &uv) != napi_ok || !uv) return NULL;
  if (weft_loop_new_uv(&a->loop, uv) != 0) return NULL;
  if (napi_add_async_cleanup_hook(env, on_env_cleanup, a, NULL) != napi_ok) {
    weft_loop_close(a->loop);
    a->loop = NULL;
  }
  return a->loop;
}

/* ---------------------------------------------------------------------- */
/* Server events                                                          */
/* ---------------------------------------------------------------------- */

static void spark_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nspark *ns = data;
  if (ns->spark) {
    ns->js_gone = 1; /* disconnection frees it */
    return;
  }
  free(ns);
}

static void ev_connection(weft_spark *spark, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  weft__nspark *ns = calloc(1, sizeof(*ns));
  if (!ns) return;
  ns->spark = spark;
  ns->srv = s;
  ns->js_gone = 1; /* until an external holds it */
  weft_spark_set_user(spark, ns, NULL);
  if (a->teardown) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value server, ext, argv[3], sp;
  NAPI_OK(napi_get_reference_value(env, s->obj, &server));
  NAPI_OK(napi_create_external(env, ns, spark_finalize, NULL, &ext));
  ns->js_gone = 0;
  argv[0] = ext;
  argv[1] = make_string(env, weft_spark_id(spark));
  sp = call_js(a, CB_SPARK, server, 2, argv);
  if (!sp) goto fail;
  NAPI_OK(napi_create_reference(env, sp, 1, &ns->obj));
  argv[0] = sp;
  call_js(a, CB_CONNECTION, server, 1, argv);
fail:
  napi_close_handle_scope(env, scope);
}

static void ev_disconnection(weft_spark *spark, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  weft__nspark *ns = weft_spark_get_user(spark);
  if (!ns) return;
  ns->spark = NULL;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value server, sp;
    if (ns->obj && napi_get_reference_value(env, s->obj, &server) == napi_ok &&
        napi_get_reference_value(env, ns->obj, &sp) == napi_ok && sp)
      call_js(a, CB_DISCONNECTION, server, 1, &sp);
    napi_close_handle_scope(env, scope);
  }
  if (ns->obj) napi_delete_reference(env, ns->obj);
  ns->obj = NULL;
  weft_spark_set_user(spark, NULL, NULL);
  if (ns->js_gone) free(ns);
}

static void ev_data(weft_spark *spark, const weft_value *msg, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  weft__nspark *ns = weft_spark_get_user(spark);
  if (!ns || !ns->obj || a->teardown) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value sp, v;
  NAPI_OK(napi_get_reference_value(env, ns->obj, &sp));
  v = to_js(env, msg, 0);
  if (!v) goto fail;
  call_js(a, CB_DATA, sp, 1, &v);
fail:
  napi_close_handle_scope(env, scope);
}

static void ev_drain(weft_spark *spark, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  weft__nspark *ns = weft_spark_get_user(spark);
  if (!ns || !ns->obj || a->teardown) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value sp;
  NAPI_OK(napi_get_reference_value(env, ns->obj, &sp));
  call_js(a, CB_DRAIN, sp, 0, NULL);
fail:
  napi_close_handle_scope(env, scope);
}

static void ev_error(weft_server *srv, weft_spark *spark, const weft_error_info *err, void *user) {
  (void)srv;
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  if (a->teardown) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value server, argv[4];
  NAPI_OK(napi_get_reference_value(env, s->obj, &server));
  weft__nspark *ns = spark ? weft_spark_get_user(spark) : NULL;
  if (ns && ns->obj) {
    NAPI_OK(napi_get_reference_value(env, ns->obj, &argv[0]));
  } else {
    NAPI_OK(napi_get_null(env, &argv[0]));
  }
  argv[1] = make_string(env, weft_err_name(err->code));
  argv[2] = make_string(env, err->kind ? err->kind : "error");
  argv[3] = make_string(env, err->message ? err->message : weft_strerror(err->code));
  call_js(a, CB_ERROR, server, 4, argv);
fail:
  napi_close_handle_scope(env, scope);
}

static void ev_close(weft_server *srv, void *user) {
  (void)srv;
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  s->srv = NULL;
  drop_replies(&s->replies);
  s->em = NULL;
  s->rooms = NULL;
  s->chs = NULL;
  napi_handle_scope scope;
  if (!a->teardown && napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value server;
    if (napi_get_reference_value(env, s->obj, &server) == napi_ok && server)
      call_js(a, CB_CLOSE, server, 0, NULL);
    napi_close_handle_scope(env, scope);
  }
  /* Unlink; the JS object may now be collected. */
  if (s->prev)
    s->prev->next = s->next;
  else
    a->servers = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  if (s->obj) napi_delete_reference(env, s->obj);
  s->obj = NULL;
  a->live--;
  if (s->js_gone) free(s);
  maybe_finish_cleanup(a);
}

static void server_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nserver *s = data;
  if (s->srv) {
    s->js_gone = 1;
    return;
  }
  free(s);
}

/* ---------------------------------------------------------------------- */
/* Server API                                                             */
/* ---------------------------------------------------------------------- */

static weft__nserver *arg_server(napi_env env, napi_value v) {
  weft__nserver *s = get_external(env, v);
  if (!s) throw_type(env, "not a weft server handle");
  return s;
}

/* serverNew(jsServer) -> external */
static napi_value js_server_new(napi_env env, napi_callback_info info) {
  napi_value argv[1], ext;
  weft__addon *a = get_addon(env);
  if (get_args(env, info, 1, argv, NULL) != 0 || !a) return NULL;
  weft_loop *loop = addon_loop(env, a);
  if (!loop) return throw_weft(env, WEFT_ECLOSED, "loop");
  weft__nserver *s = calloc(1, sizeof(*s));
  if (!s) return throw_weft(env, WEFT_ENOMEM, "server");
  s->a = a;
  int rc = weft_server_new(loop, &s->srv);
  if (rc != 0) {
    free(s);
    return throw_weft(env, rc, "server");
  }
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = ev_connection,
                           .disconnection = ev_disconnection,
                           .data = ev_data,
                           .drain = ev_drain,
                           .error = ev_error,
                           .close = ev_close};
  weft_server_set_events(s->srv, &ev, s, NULL);
  if (napi_create_reference(env, argv[0], 1, &s->obj) != napi_ok ||
      napi_create_external(env, s, server_finalize, NULL, &ext) != napi_ok) {
    weft_destroy_options o = {.size = sizeof(o)};
    weft_server_destroy(s->srv, &o);
    s->js_gone = 1;
    a->live++;
    s->next = a->servers;
    if (a->servers) a->servers->prev = s;
    a->servers = s;
    return NULL;
  }
  s->next = a->servers;
  if (a->servers) a->servers->prev = s;
  a->servers = s;
  a->live++;
  return ext;
}

/* serverSet(ext, name, value): transformer, parser, pingInterval, maxLength,
 * compression, highWaterMark, maxQueue, unixMode, origin, trustedProxy,
 * metricsPath. */
static napi_value js_server_set(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return throw_weft(env, WEFT_ECLOSED, "server");
  char name[32];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof(name), &len) != napi_ok)
    return throw_type(env, "option name must be a string");
  napi_valuetype t;
  if (napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
  int rc = WEFT_EINVAL;
  if (t == napi_string) {
    char *val = get_string(env, argv[2], NULL);
    if (!val) return throw_weft(env, WEFT_ENOMEM, name);
    if (!strcmp(name, "transformer")) {
      rc = weft_server_set_transformer(s->srv, val);
      if (rc != 0) {
        throw_transformer(env, rc, val);
        free(val);
        return NULL;
      }
    } else if (!strcmp(name, "parser"))
      rc = weft_server_set_parser(s->srv, val);
    else if (!strcmp(name, "queuePolicy"))
      rc = weft_server_set_queue_policy(s->srv, !strcmp(val, "close")  ? WEFT_QUEUE_CLOSE
                                                : !strcmp(val, "drop") ? WEFT_QUEUE_DROP
                                                                       : -1);
    else if (!strcmp(name, "origin"))
      rc = weft_server_add_origin(s->srv, val);
    else if (!strcmp(name, "trustedProxy"))
      rc = weft_server_add_trusted_proxy(s->srv, val);
    else if (!strcmp(name, "metricsPath"))
      rc = weft_server_set_metrics_path(s->srv, val);
    free(val);
  } else if (t == napi_number || t == napi_boolean) {
    double d = 0;
    if (t == napi_boolean) {
      bool b;
      napi_get_value_bool(env, argv[2], &b);
      d = b ? 1 : 0;
    } else {
      napi_get_value_double(env, argv[2], &d);
    }
    if (!(d >= 0 && d <= 1e15)) return throw_weft(env, WEFT_EINVAL, name);
    if (!strcmp(name, "pingInterval") && d <= UINT32_MAX)
      rc = weft_server_set_ping_interval(s->srv, (uint32_t)d);
    else if (!strcmp(name, "maxLength"))
      rc = weft_server_set_max_length(s->srv, (size_t)d);
    else if (!strcmp(name, "compression"))
      rc = weft_server_set_compression(s->srv, d != 0);
    else if (!strcmp(name, "highWaterMark"))
      rc = weft_server_set_high_water_mark(s->srv, (size_t)d);
    else if (!strcmp(name, "maxQueue"))
      rc = weft_server_set_max_queue(s->srv, (size_t)d);
    else if (!strcmp(name, "unixMode") && d <= UINT32_MAX && d == (unsigned)d)
      rc = weft_server_set_unix_mode(s->srv, (unsigned)d);
  }
  if (rc != 0) return throw_weft(env, rc, name);
  return undefined(env);
}

/* serverTls(ext, certFile, keyFile) */
static napi_value js_server_tls(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return throw_weft(env, WEFT_ECLOSED, "server");
  char *cert = get_string(env, argv[1], NULL), *key = get_string(env, argv[2], NULL);
  int rc = cert && key ? weft_server_set_tls(s->srv, cert, key) : WEFT_EINVAL;
  free(cert);
  free(key);
  if (rc != 0) return throw_weft(env, rc, "tls");
  return undefined(env);
}

/* serverListen(ext, url) -> port */
static napi_value js_server_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return throw_weft(env, WEFT_ECLOSED, "listen");
  char *url = get_string(env, argv[1], NULL);
  if (!url) return throw_type(env, "url must be a string");
  int rc = weft_server_listen(s->srv, url);
  free(url);
  if (rc != 0) return throw_weft(env, rc, "listen");
  return make_int(env, weft_server_port(s->srv));
}

/* serverUrls(ext) -> the URLs the listeners serve, ports resolved. */
/* An array of the strings at(ctx, 0), at(ctx, 1), … up to the first NULL:
 * the core's lists (transformer names, a server's URLs). */
static napi_value string_list(napi_env env, const char *(*at)(const void *ctx, size_t i),
                              const void *ctx) {
  napi_value arr;
  if (napi_create_array(env, &arr) != napi_ok) return NULL;
  const char *item;
  for (size_t i = 0; (item = at(ctx, i)) != NULL; i++) {
    napi_value v = make_string(env, item);
    if (!v || napi_set_element(env, arr, (uint32_t)i, v) != napi_ok) return NULL;
  }
  return arr;
}

static const char *server_url_at(const void *srv, size_t i) { return weft_server_url(srv, i); }

static napi_value js_server_urls(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  return string_list(env, server_url_at, s->srv); /* none once closed */
}

static napi_value js_server_pathname(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return undefined(env);
  return make_string(env, weft_server_pathname(s->srv));
}

/* serverWrite(ext, value) -> number of sparks */
static napi_value js_server_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv || s->destroying) return make_int(env, 0);
  weft_value *v = from_js(env, argv[1], 0);
  if (!v) return NULL;
  int rc = weft_server_write(s->srv, v);
  weft_value_free(v);
  if (rc < 0) return throw_weft(env, rc, "write");
  return make_int(env, rc);
}

/* serverDestroy(ext, reconnect, timeoutMs) */
static napi_value js_server_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv || s->destroying) return throw_weft(env, WEFT_ECLOSED, "destroy");
  bool reconnect = false;
  double timeout = 0;
  napi_get_value_bool(env, argv[1], &reconnect);
  napi_get_value_double(env, argv[2], &timeout);
  if (!(timeout >= 0 && timeout <= UINT32_MAX)) timeout = 0;
  weft_destroy_options o = {
      .size = sizeof(o), .reconnect = reconnect, .timeout_ms = (uint32_t)timeout};
  int rc = weft_server_destroy(s->srv, &o);
  if (rc != 0) return throw_weft(env, rc, "destroy");
  s->destroying = 1;
  return undefined(env);
}

/* ---- authorization ---- */

static void auth_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  /* lib/ keeps every pending request reachable until it is answered, so a
   * collected handle has been answered (or the environment is going away). */
  free(data);
}

static void ev_authorize(weft_auth *req, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  if (a->teardown || !s->obj) {
    weft_auth_deny(req, 503, "Server closing");
    return;
  }
  weft__nauth *na = calloc(1, sizeof(*na));
  if (!na) {
    weft_auth_deny(req, 500, "Out of memory");
    return;
  }
  na->a = a;
  na->req = req;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    weft_auth_deny(req, 500, "Internal error");
    free(na);
    return;
  }
  napi_value server, ext;
  if (napi_get_reference_value(env, s->obj, &server) != napi_ok ||
      napi_create_external(env, na, auth_finalize, NULL, &ext) != napi_ok) {
    weft_auth_deny(req, 500, "Internal error");
    free(na);
  } else {
    call_js(a, CB_AUTHORIZE, server, 1, &ext);
  }
  napi_close_handle_scope(env, scope);
}

/* serverAuthorize(ext, on) */
static napi_value js_server_authorize(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return throw_weft(env, WEFT_ECLOSED, "authorize");
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  int rc = weft_server_set_authorize(s->srv, on ? ev_authorize : NULL, s, NULL);
  if (rc != 0) return throw_weft(env, rc, "authorize");
  return undefined(env);
}

/* authInfo(ext, what, name?) -> string | undefined; what: header, address,
 * url, query */
static napi_value js_auth_info(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nauth *na = get_external(env, argv[0]);
  if (!na) return throw_type(env, "not an authorization handle");
  if (!na->req) return undefined(env);
  char what[16];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], what, sizeof(what), &len) != napi_ok)
    return throw_type(env, "what must be a string");
  const char *r = NULL;
  if (!strcmp(what, "address"))
    r = weft_auth_address(na->req);
  else if (!strcmp(what, "url"))
    r = weft_auth_url(na->req);
  else {
    char *name = get_string(env, argv[2], NULL);
    if (!name) return throw_type(env, "name must be a string");
    if (!strcmp(what, "header"))
      r = weft_auth_header(na->req, name);
    else if (!strcmp(what, "query"))
      r = weft_auth_query(na->req, name);
    free(name);
  }
  return r ? make_string(env, r) : undefined(env);
}

/* authAnswer(ext, allow, status, message) -> 0 | error code (ECLOSED) */
static napi_value js_auth_answer(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv, NULL) != 0) return NULL;
  weft__nauth *na = get_external(env, argv[0]);
  if (!na) return throw_type(env, "not an authorization handle");
  if (!na->req) return throw_weft(env, WEFT_ESTATE, "authorize: answered twice");
  bool allow = false;
  napi_get_value_bool(env, argv[1], &allow);
  weft_auth *req = na->req;
  na->req = NULL;
  int rc;
  if (allow) {
    rc = weft_auth_allow(req);
  } else {
    int32_t status = 401;
    napi_valuetype t;
    if (napi_typeof(env, argv[2], &t) == napi_ok && t == napi_number)
      napi_get_value_int32(env, argv[2], &status);
    if (status < 400 || status > 599) status = 401;
    char *msg = get_string(env, argv[3], NULL);
    rc = weft_auth_deny(req, status, msg ? msg : "Unauthorized");
    free(msg);
  }
  return make_int(env, rc);
}

/* ---- sparks ---- */

static weft__nspark *arg_spark(napi_env env, napi_value v) {
  weft__nspark *ns = get_external(env, v);
  if (!ns) throw_type(env, "not a weft spark handle");
  return ns;
}

/* sparkWrite(ext, value) -> 0 | 1 (above high-water mark) | -code */
static napi_value js_spark_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns) return NULL;
  if (!ns->spark) return make_int(env, WEFT_ECLOSED);
  /* Fast paths: strings and buffers skip the tree. */
  weft_value *v = from_js(env, argv[1], 0);
  if (!v) return NULL;
  int rc = weft_spark_write(ns->spark, v);
  weft_value_free(v);
  return make_int(env, rc);
}

/* sparkEnd(ext, value|undefined, reconnect) */
static napi_value js_spark_end(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns) return NULL;
  if (!ns->spark) return make_int(env, WEFT_ECLOSED);
  napi_valuetype t;
  weft_value *v = NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined) {
    v = from_js(env, argv[1], 0);
    if (!v) return NULL;
  }
  bool reconnect = false;
  napi_get_value_bool(env, argv[2], &reconnect);
  int rc = weft_spark_end(ns->spark, v, reconnect ? WEFT_END_RECONNECT : 0);
  weft_value_free(v);
  return make_int(env, rc);
}

/* sparkInfo(ext) -> { headers, address, port, url, query } */
static napi_value js_spark_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, headers, query;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns) return NULL;
  if (!ns->spark) return undefined(env);
  weft_spark *sp = ns->spark;
  NAPI_OK(napi_create_object(env, &out));
  NAPI_OK(napi_create_object(env, &headers));
  NAPI_OK(napi_create_object(env, &query));
  size_t n = weft_spark_header_count(sp);
  for (size_t i = 0; i < n; i++) {
    const char *k, *v;
    if (weft_spark_header_at(sp, i, &k, &v) != 0) continue;
    /* Node's convention: lower-case names. */
    size_t kl = strlen(k);
    char *lk = malloc(kl + 1);
    if (!lk) continue;
    for (size_t j = 0; j <= kl; j++)
      lk[j] = (k[j] >= 'A' && k[j] <= 'Z') ? (char)(k[j] + 32) : k[j];
    napi_value vv = make_string(env, v);
    if (vv) napi_set_named_property(env, headers, lk, vv);
    free(lk);
  }
  n = weft_spark_query_count(sp);
  for (size_t i = 0; i < n; i++) {
    const char *k, *v;
    if (weft_spark_query_at(sp, i, &k, &v) != 0) continue;
    napi_value vv = make_string(env, v);
    if (vv) napi_set_named_property(env, query, k, vv);
  }
  NAPI_OK(napi_set_named_property(env, out, "headers", headers));
  NAPI_OK(napi_set_named_property(env, out, "query", query));
  const char *addr = weft_spark_address(sp);
  NAPI_OK(napi_set_named_property(env, out, "ip", make_string(env, addr ? addr : "")));
  NAPI_OK(napi_set_named_property(env, out, "port", make_int(env, weft_spark_port(sp))));
  const char *url = weft_spark_url(sp);
  NAPI_OK(napi_set_named_property(env, out, "url", make_string(env, url ? url : "")));
  return out;
fail:
  return NULL;
}

static napi_value js_spark_buffered(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns) return NULL;
  return make_int(env, ns->spark ? (int64_t)weft_spark_buffered_amount(ns->spark) : 0);
}

/* ---------------------------------------------------------------------- */
/* Client                                                                 */
/* ---------------------------------------------------------------------- */

static void client_event(weft_client *c, const char *name, size_t extra, napi_value *extra_argv,
                         void *user) {
  (void)c;
  weft__nclient *nc = user;
  weft__addon *a = nc->a;
  napi_env env = a->env;
  if (a->teardown || !nc->obj) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value obj, argv[5];
  NAPI_OK(napi_get_reference_value(env, nc->obj, &obj));
  argv[0] = make_string(env, name);
  for (size_t i = 0; i < extra && i < 4; i++)
    argv[1 + i] = extra_argv[i] ? extra_argv[i] : undefined(env);
  call_js(a, CB_CLIENT, obj, 1 + extra, argv);
fail:
  napi_close_handle_scope(env, scope);
}

/* Argument values are built inside the scope client_event opens; to keep it
 * simple, events with arguments open their own scope first. */
static void cev_simple(weft_client *c, void *user, const char *name) {
  client_event(c, name, 0, NULL, user);
}
static void cev_open(weft_client *c, void *user) { cev_simple(c, user, "open"); }
static void cev_close(weft_client *c, void *user) { cev_simple(c, user, "close"); }
static void cev_timeout(weft_client *c, void *user) { cev_simple(c, user, "timeout"); }
static void cev_online(weft_client *c, void *user) { cev_simple(c, user, "online"); }
static void cev_offline(weft_client *c, void *user) { cev_simple(c, user, "offline"); }

static void cev_end(weft_client *c, void *user) {
  weft__nclient *nc = user;
  cev_simple(c, user, "end");
  /* Ended for good: free the handle (the destroy event finishes). */
  if (nc->c && !nc->destroying) {
    nc->destroying = 1;
    weft_client_destroy(nc->c);
  }
}

static void cev_with_args(weft_client *c, void *user, const char *name, size_t n,
                          napi_value (*build)(napi_env, const void *, size_t), const void *arg) {
  weft__nclient *nc = user;
  napi_env env = nc->a->env;
  if (nc->a->teardown) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[4] = {0};
  for (size_t i = 0; i < n && i < 4; i++)
    argv[i] = build(env, arg, i);
  client_event(c, name, n, argv, user);
  napi_close_handle_scope(env, scope);
}

static napi_value build_reconnect(napi_env env, const void *p, size_t i) {
  const weft_reconnect_info *ri = p;
  return make_int(env, i == 0 ? ri->attempt : i == 1 ? ri->retries : ri->delay_ms);
}
static napi_value build_error(napi_env env, const void *p, size_t i) {
  const weft_error_info *e = p;
  switch (i) {
  case 0: return make_string(env, weft_err_name(e->code));
  case 1: return make_string(env, e->kind ? e->kind : "error");
  case 2: return make_string(env, e->message ? e->message : weft_strerror(e->code));
  default: {
    /* [status, body] */
    napi_value arr;
    if (napi_create_array_with_length(env, 2, &arr) != napi_ok) return NULL;
    napi_set_element(env, arr, 0, make_int(env, e->status));
    napi_value b = e->body ? make_string(env, e->body) : NULL;
    if (b) napi_set_element(env, arr, 1, b);
    return arr;
  }
  }
}
static napi_value build_id(napi_env env, const void *p, size_t i) {
  (void)i;
  return make_string(env, p);
}

static void cev_error(weft_client *c, const weft_error_info *e, void *user) {
  cev_with_args(c, user, "error", 4, build_error, e);
}
static void cev_rs(weft_client *c, const weft_reconnect_info *ri, void *user) {
  cev_with_args(c, user, "reconnect scheduled", 3, build_reconnect, ri);
}
static void cev_r(weft_client *c, const weft_reconnect_info *ri, void *user) {
  cev_with_args(c, user, "reconnect", 3, build_reconnect, ri);
}
static void cev_rd(weft_client *c, const weft_reconnect_info *ri, void *user) {
  cev_with_args(c, user, "reconnected", 3, build_reconnect, ri);
}
static void cev_rf(weft_client *c, const weft_reconnect_info *ri, void *user) {
  cev_with_args(c, user, "reconnect failed", 3, build_reconnect, ri);
}
static void cev_rt(weft_client *c, const weft_reconnect_info *ri, void *user) {
  cev_with_args(c, user, "reconnect timeout", 3, build_reconnect, ri);
}
static void cev_id(weft_client *c, const char *id, void *user) {
  cev_with_args(c, user, "id", 1, build_id, id);
}

static void cev_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  weft__nclient *nc = user;
  weft__addon *a = nc->a;
  napi_env env = a->env;
  if (a->teardown || !nc->obj) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value obj, v;
  NAPI_OK(napi_get_reference_value(env, nc->obj, &obj));
  v = to_js(env, msg, 0);
  if (!v) goto fail;
  call_js(a, CB_CLIENT_DATA, obj, 1, &v);
fail:
  napi_close_handle_scope(env, scope);
}

static void cev_destroy(weft_client *c, void *user) {
  (void)c;
  weft__nclient *nc = user;
  weft__addon *a = nc->a;
  nc->c = NULL;
  drop_replies(&nc->replies);
  nc->em = NULL;
  nc->chs = NULL;
  cev_simple(c, user, "destroy");
  if (nc->prev)
    nc->prev->next = nc->next;
  else
    a->clients = nc->next;
  if (nc->next) nc->next->prev = nc->prev;
  nc->next = nc->prev = NULL;
  if (nc->obj) napi_delete_reference(a->env, nc->obj);
  nc->obj = NULL;
  a->live--;
  if (nc->js_gone) free(nc);
  maybe_finish_cleanup(a);
}

static void client_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nclient *nc = data;
  if (nc->c) {
    nc->js_gone = 1;
    return;
  }
  free(nc);
}

static weft__nclient *arg_client(napi_env env, napi_value v) {
  weft__nclient *nc = get_external(env, v);
  if (!nc) throw_type(env, "not a weft client handle");
  return nc;
}

/* clientNew(jsClient, url) -> external */
static napi_value js_client_new(napi_env env, napi_callback_info info) {
  napi_value argv[2], ext;
  weft__addon *a = get_addon(env);
  if (get_args(env, info, 2, argv, NULL) != 0 || !a) return NULL;
  weft_loop *loop = addon_loop(env, a);
  if (!loop) return throw_weft(env, WEFT_ECLOSED, "loop");
  char *url = get_string(env, argv[1], NULL);
  if (!url) return throw_type(env, "url must be a string");
  weft__nclient *nc = calloc(1, sizeof(*nc));
  if (!nc) {
    free(url);
    return throw_weft(env, WEFT_ENOMEM, "client");
  }
  nc->a = a;
  int rc = weft_client_new(loop, url, &nc->c);
  free(url);
  if (rc != 0) {
    free(nc);
    return throw_weft(env, rc, "connect");
  }
  weft_client_events ev = {.size = sizeof(ev),
                           .open = cev_open,
                           .data = cev_data,
                           .error = cev_error,
                           .close = cev_close,
                           .end = cev_end,
                           .timeout = cev_timeout,
                           .reconnect_scheduled = cev_rs,
                           .reconnect = cev_r,
                           .reconnected = cev_rd,
                           .reconnect_failed = cev_rf,
                           .online = cev_online,
                           .offline = cev_offline,
                           .id = cev_id,
                           .destroy = cev_destroy,
                           .reconnect_timeout = cev_rt};
  weft_client_set_events(nc->c, &ev, nc, NULL);
  nc->next = a->clients;
  if (a->clients) a->clients->prev = nc;
  a->clients = nc;
  a->live++;
  if (napi_create_reference(env, argv[0], 1, &nc->obj) != napi_ok ||
      napi_create_external(env, nc, client_finalize, NULL, &ext) != napi_ok) {
    nc->js_gone = 1;
    nc->destroying = 1;
    weft_client_destroy(nc->c);
    return NULL;
  }
  return ext;
}

/* clientSet(ext, name, value...) */
static napi_value js_client_set(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (get_args(env, info, 6, argv, NULL) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  if (!nc->c || nc->destroying) return throw_weft(env, WEFT_ECLOSED, "client");
  char name[32];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof(name), &len) != napi_ok)
    return throw_type(env, "option name must be a string");
  double d[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; i++) {
    napi_valuetype t;
    if (napi_typeof(env, argv[2 + i], &t) == napi_ok && t == napi_number)
      napi_get_value_double(env, argv[2 + i], &d[i]);
    else if (t == napi_boolean) {
      bool b;
      napi_get_value_bool(env, argv[2 + i], &b);
      d[i] = b;
    }
  }
  for (int i = 0; i < 4; i++)
    if (!(d[i] >= 0 && d[i] <= 1e15)) return throw_weft(env, WEFT_EINVAL, name);
  int rc = WEFT_EINVAL;
  weft_client *c = nc->c;
  char *s1 = NULL, *s2 = NULL;
  if (!strcmp(name, "transformer")) {
    s1 = get_string(env, argv[2], NULL);
    if (!s1) return throw_type(env, "transformer must be a string");
    rc = weft_client_set_transformer(c, s1);
    if (rc != 0) {
      throw_transformer(env, rc, s1);
      free(s1);
      return NULL;
    }
  } else if (!strcmp(name, "parser") || !strcmp(name, "strategy") || !strcmp(name, "caFile")) {
    s1 = get_string(env, argv[2], NULL);
    if (!s1) return throw_type(env, "expected a string");
    rc = !strcmp(name, "parser")     ? weft_client_set_parser(c, s1)
         : !strcmp(name, "strategy") ? weft_client_set_strategy(c, s1)
                                     : weft_client_set_ca_file(c, s1);
  } else if (!strcmp(name, "header")) {
    s1 = get_string(env, argv[2], NULL);
    s2 = get_string(env, argv[3], NULL);
    rc = s1 && s2 ? weft_client_add_header(c, s1, s2) : WEFT_EINVAL;
  } else if (!strcmp(name, "reconnect")) {
    if (d[0] > UINT32_MAX || d[1] > UINT32_MAX || d[2] > UINT32_MAX)
      rc = WEFT_EINVAL;
    else
      rc = weft_client_set_reconnect(c, (uint32_t)d[0], (uint32_t)d[1], (uint32_t)d[2], d[3]);
  } else if (d[0] <= UINT32_MAX && !strcmp(name, "timeout")) {
    rc = weft_client_set_timeout(c, (uint32_t)d[0]);
  } else if (d[0] <= UINT32_MAX && !strcmp(name, "pingTimeout")) {
    rc = weft_client_set_ping_timeout(c, (uint32_t)d[0]);
  } else if (!strcmp(name, "maxLength")) {
    rc = weft_client_set_max_length(c, (size_t)d[0]);
  } else if (!strcmp(name, "queueLimit")) {
    rc = weft_client_set_queue_limit(c, (size_t)d[0]);
  } else if (!strcmp(name, "retryRefused")) {
    rc = weft_client_set_retry_refused(c, d[0] != 0);
  } else if (!strcmp(name, "verify")) {
    rc = weft_client_set_verify(c, d[0] != 0);
  } else if (!strcmp(name, "online")) {
    rc = weft_client_set_online(c, d[0] != 0);
  }
  free(s1);
  free(s2);
  if (rc != 0) return throw_weft(env, rc, name);
  return undefined(env);
}

/* clientCall(ext, op) -> rc; op: open, id, destroy, state, buffered */
static napi_value js_client_call(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  char op[16];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], op, sizeof(op), &len) != napi_ok)
    return throw_type(env, "op must be a string");
  if (!nc->c)
    return make_int(env, !strcmp(op, "state") || !strcmp(op, "buffered") ? 0 : WEFT_ECLOSED);
  int64_t rc = WEFT_EINVAL;
  if (!strcmp(op, "open"))
    rc = nc->destroying ? WEFT_ECLOSED : weft_client_open(nc->c);
  else if (!strcmp(op, "id"))
    rc = weft_client_id(nc->c);
  else if (!strcmp(op, "state"))
    rc = weft_client_state(nc->c);
  else if (!strcmp(op, "buffered"))
    rc = (int64_t)weft_client_buffered_amount(nc->c);
  else if (!strcmp(op, "destroy")) {
    if (nc->destroying) {
      rc = WEFT_ECLOSED;
    } else {
      nc->destroying = 1;
      rc = weft_client_destroy(nc->c);
    }
  }
  return make_int(env, rc);
}

/* clientWrite(ext, value) -> 0 | -code */
static napi_value js_client_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  if (!nc->c || nc->destroying) return make_int(env, WEFT_ECLOSED);
  weft_value *v = from_js(env, argv[1], 0);
  if (!v) return NULL;
  int rc = weft_client_write(nc->c, v);
  weft_value_free(v);
  return make_int(env, rc);
}

/* clientEnd(ext, value|undefined) -> 0 | -code */
static napi_value js_client_end(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  if (!nc->c || nc->destroying) return make_int(env, WEFT_ECLOSED);
  napi_valuetype t;
  weft_value *v = NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined) {
    v = from_js(env, argv[1], 0);
    if (!v) return NULL;
  }
  int rc = weft_client_end(nc->c, v);
  weft_value_free(v);
  return make_int(env, rc);
}

/* ---------------------------------------------------------------------- */
/* Extensions: emitter (events with acks), rooms, channels, batching       */
/* ---------------------------------------------------------------------- */

/* A reply handed to JavaScript. The core frees unanswered replies with the
 * emitter (after the server's close or the client's destroy event), so the
 * owner's list is emptied there and a late answer finds r == NULL. */
struct weft__nreply {
  weft_reply *r; /* NULL once answered or the owner closed */
  weft__nreply **head;
  weft__nreply *next, *prev;
  int teardown_only; /* set when its addon is tearing down */
  weft__addon *a;
};

static void reply_unlink(weft__nreply *nr) {
  if (!nr->head) return;
  if (nr->prev)
    nr->prev->next = nr->next;
  else
    *nr->head = nr->next;
  if (nr->next) nr->next->prev = nr->prev;
  nr->next = nr->prev = NULL;
  nr->head = NULL;
}

static void drop_replies(weft__nreply **head) {
  while (*head) {
    weft__nreply *nr = *head;
    nr->r = NULL;
    reply_unlink(nr);
  }
}

static void reply_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nreply *nr = data;
  /* Collected without an answer: the sender must not wait for ever. */
  if (nr->r) { /* owners drop their replies at close, before any teardown finalizer */
    weft_value *why = weft_value_new_string("no answer", 9);
    weft_reply *r = nr->r;
    nr->r = NULL;
    reply_unlink(nr);
    weft_reply_reject(r, why);
    weft_value_free(why);
  }
  reply_unlink(nr);
  free(nr);
}

/* An ack on its way: JavaScript keeps the callback under `token`. */
typedef struct weft__nack {
  weft__addon *a;
  double token;
} weft__nack;

static void on_ack(const weft_ack *ack, void *user) {
  weft__nack *k = user;
  weft__addon *a = k->a;
  napi_env env = a->env;
  if (!a->teardown) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      napi_value argv[3], recv;
      if (napi_get_global(env, &recv) != napi_ok) recv = undefined(env);
      napi_create_double(env, k->token, &argv[0]);
      if (ack->status == 0)
        napi_get_null(env, &argv[1]);
      else
        argv[1] = make_string(env, weft_err_name(ack->status));
      argv[2] = ack->value ? to_js(env, ack->value, 0) : NULL;
      if (!argv[2]) argv[2] = undefined(env);
      call_js(a, CB_ACK, recv, 3, argv);
      napi_close_handle_scope(env, scope);
    }
  }
  free(k);
}

static void on_event(const weft_event *ev, napi_ref owner_ref, weft__addon *a,
                     weft__nreply **replies) {
  napi_env env = a->env;
  if (a->teardown) {
    if (ev->reply) weft_reply_reject(ev->reply, NULL);
    return;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    if (ev->reply) weft_reply_reject(ev->reply, NULL);
    return;
  }
  weft__nreply *nr = NULL;
  napi_value recv, argv[3];
  if (ev->spark) {
    weft__nspark *ns = weft_spark_get_user(ev->spark);
    if (!ns || !ns->obj) goto fail;
    NAPI_OK(napi_get_reference_value(env, ns->obj, &recv));
  } else {
    if (!owner_ref) goto fail;
    NAPI_OK(napi_get_reference_value(env, owner_ref, &recv));
  }
  argv[0] = make_string(env, ev->name);
  argv[1] = to_js(env, ev->args, 0);
  if (!argv[0] || !argv[1]) goto fail;
  if (ev->reply) {
    nr = calloc(1, sizeof(*nr));
    if (!nr) goto fail;
    nr->a = a;
    nr->r = ev->reply;
    nr->head = replies;
    nr->next = *replies;
    if (*replies) (*replies)->prev = nr;
    *replies = nr;
    if (napi_create_external(env, nr, reply_finalize, NULL, &argv[2]) != napi_ok) {
      reply_unlink(nr);
      free(nr);
      nr = NULL;
      goto fail;
    }
    nr = NULL; /* the external owns it */
  } else {
    argv[2] = undefined(env);
  }
  call_js(a, CB_EVENT, recv, 3, argv);
  napi_close_handle_scope(env, scope);
  return;
fail:
  if (ev->reply) weft_reply_reject(ev->reply, NULL);
  napi_close_handle_scope(env, scope);
}

static void srv_event(const weft_event *ev, void *user) {
  weft__nserver *s = user;
  on_event(ev, NULL, s->a, &s->replies);
}

static void cli_event(const weft_event *ev, void *user) {
  weft__nclient *nc = user;
  on_event(ev, nc->obj, nc->a, &nc->replies);
}

static void srv_em_error(weft_emitter *em, weft_spark *spark, const weft_error_info *err,
                         void *user) {
  (void)em;
  ev_error(NULL, spark, err, user);
}

static void cli_em_error(weft_emitter *em, weft_spark *spark, const weft_error_info *err,
                         void *user) {
  (void)em;
  (void)spark;
  weft__nclient *nc = user;
  cev_error(nc->c, err, nc);
}

/* ---- channels ---- */

typedef struct weft__nchannel {
  weft__addon *a;
  weft_channel *ch; /* NULL after its end event */
  napi_ref obj;     /* strong until the end event */
  int js_gone;
} weft__nchannel;

static void channel_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nchannel *nch = data;
  if (nch->ch) {
    nch->js_gone = 1;
    return;
  }
  free(nch);
}

static void channel_call(weft__nchannel *nch, const char *what, const weft_value *msg) {
  weft__addon *a = nch->a;
  napi_env env = a->env;
  if (a->teardown || !nch->obj) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value obj, argv[2];
  NAPI_OK(napi_get_reference_value(env, nch->obj, &obj));
  argv[0] = make_string(env, what);
  argv[1] = msg ? to_js(env, msg, 0) : undefined(env);
  if (!argv[0] || !argv[1]) goto fail;
  call_js(a, CB_CHANNEL, obj, 2, argv);
fail:
  napi_close_handle_scope(env, scope);
}

static void ch_data(weft_channel *ch, const weft_value *msg, void *user) {
  (void)ch;
  channel_call(user, "data", msg);
}

static void ch_drain(weft_channel *ch, void *user) {
  (void)ch;
  channel_call(user, "drain", NULL);
}

static void ch_end(weft_channel *ch, void *user) {
  (void)ch;
  weft__nchannel *nch = user;
  channel_call(nch, "end", NULL);
  nch->ch = NULL;
  if (nch->obj) napi_delete_reference(nch->a->env, nch->obj);
  nch->obj = NULL;
  if (nch->js_gone) free(nch);
}

static const weft_channel_events channel_events = {
    .size = sizeof(weft_channel_events), .data = ch_data, .end = ch_end, .drain = ch_drain};

/* The peer opened a channel: JavaScript makes its object, or refuses. */
static void ch_open(weft_channel *ch, weft__addon *a, napi_ref owner_ref) {
  napi_env env = a->env;
  weft__nchannel *nch = calloc(1, sizeof(*nch));
  if (!nch) {
    weft_channel_end(ch);
    return;
  }
  nch->a = a;
  nch->ch = ch;
  nch->js_gone = 1; /* until an external holds it */
  if (weft_channel_set_events(ch, &channel_events, nch, NULL) != 0) {
    free(nch);
    weft_channel_end(ch);
    return;
  }
  napi_handle_scope scope;
  if (a->teardown || !owner_ref || napi_open_handle_scope(env, &scope) != napi_ok) {
    weft_channel_end(ch);
    return;
  }
  napi_value owner, argv[3], obj;
  napi_valuetype t;
  NAPI_OK(napi_get_reference_value(env, owner_ref, &owner));
  NAPI_OK(napi_create_external(env, nch, channel_finalize, NULL, &argv[0]));
  nch->js_gone = 0;
  argv[1] = make_string(env, weft_channel_name(ch));
  argv[2] = NULL;
  weft_spark *sp = weft_channel_spark(ch);
  weft__nspark *ns = sp ? weft_spark_get_user(sp) : NULL;
  if (ns && ns->obj) NAPI_OK(napi_get_reference_value(env, ns->obj, &argv[2]));
  if (!argv[2]) NAPI_OK(napi_get_null(env, &argv[2]));
  obj = call_js(a, CB_CHANNEL_OPEN, owner, 3, argv);
  if (obj && napi_typeof(env, obj, &t) == napi_ok && t == napi_object &&
      napi_create_reference(env, obj, 1, &nch->obj) == napi_ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
fail:
  napi_close_handle_scope(env, scope);
  if (nch->ch) weft_channel_end(ch); /* refused: nobody listens */
}

static void srv_ch_open(weft_channel *ch, void *user) {
  weft__nserver *s = user;
  ch_open(ch, s->a, s->obj);
}

static void cli_ch_open(weft_channel *ch, void *user) {
  weft__nclient *nc = user;
  ch_open(ch, nc->a, nc->obj);
}

static void srv_ch_error(weft_channels *chs, weft_spark *spark, const weft_error_info *err,
                         void *user) {
  (void)chs;
  ev_error(NULL, spark, err, user);
}

static void cli_ch_error(weft_channels *chs, weft_spark *spark, const weft_error_info *err,
                         void *user) {
  (void)chs;
  (void)spark;
  weft__nclient *nc = user;
  cev_error(nc->c, err, nc);
}

/* ---- attaching ---- */

/* 1: a number in [0, 2^32) in *out; 0: undefined; -1: anything else. */
static int get_number(napi_env env, napi_value v, double *out) {
  napi_valuetype t;
  *out = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  if (t != napi_number) return -1;
  napi_get_value_double(env, v, out);
  return *out >= 0 && *out <= 4294967295.0 ? 1 : -1;
}

/* serverExt(ext, what, number): emitter (ack timeout), rooms, channels
 * (window), batching (bytes). Before listen, except batching's 0. */
static napi_value js_server_ext(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return throw_weft(env, WEFT_ECLOSED, "server");
  char what[16];
  size_t len;
  double d;
  if (napi_get_value_string_utf8(env, argv[1], what, sizeof(what), &len) != napi_ok)
    return throw_type(env, "what must be a string");
  int has = get_number(env, argv[2], &d);
  if (has < 0) return throw_weft(env, WEFT_EINVAL, what);
  int rc = WEFT_EINVAL;
  if (!strcmp(what, "emitter")) {
    rc = s->em ? 0 : weft_emitter_server(s->srv, &s->em);
    if (rc == 0) rc = weft_emitter_on(s->em, "*", srv_event, s, NULL);
    if (rc == 0) rc = weft_emitter_on_error(s->em, srv_em_error, s, NULL);
    if (rc == 0 && has) rc = weft_emitter_set_timeout(s->em, (uint32_t)d);
  } else if (!strcmp(what, "rooms")) {
    rc = s->rooms ? 0 : weft_rooms_server(s->srv, &s->rooms);
  } else if (!strcmp(what, "channels")) {
    rc = s->chs ? 0 : weft_channels_server(s->srv, &s->chs);
    if (rc == 0) rc = weft_channels_on_open(s->chs, srv_ch_open, s, NULL);
    if (rc == 0) rc = weft_channels_on_error(s->chs, srv_ch_error, s, NULL);
    if (rc == 0 && has) rc = weft_channels_set_window(s->chs, (uint32_t)d);
  } else if (!strcmp(what, "batching")) {
    rc = weft_server_set_batching(s->srv, (size_t)d);
  }
  if (rc != 0) return throw_weft(env, rc, what);
  return undefined(env);
}

/* clientExt(ext, what, number): emitter, channels, batching. */
static napi_value js_client_ext(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  if (!nc->c || nc->destroying) return throw_weft(env, WEFT_ECLOSED, "client");
  char what[16];
  size_t len;
  double d;
  if (napi_get_value_string_utf8(env, argv[1], what, sizeof(what), &len) != napi_ok)
    return throw_type(env, "what must be a string");
  int has = get_number(env, argv[2], &d);
  if (has < 0) return throw_weft(env, WEFT_EINVAL, what);
  int rc = WEFT_EINVAL;
  if (!strcmp(what, "emitter")) {
    rc = nc->em ? 0 : weft_emitter_client(nc->c, &nc->em);
    if (rc == 0) rc = weft_emitter_on(nc->em, "*", cli_event, nc, NULL);
    if (rc == 0) rc = weft_emitter_on_error(nc->em, cli_em_error, nc, NULL);
    if (rc == 0 && has) rc = weft_emitter_set_timeout(nc->em, (uint32_t)d);
  } else if (!strcmp(what, "channels")) {
    rc = nc->chs ? 0 : weft_channels_client(nc->c, &nc->chs);
    if (rc == 0) rc = weft_channels_on_open(nc->chs, cli_ch_open, nc, NULL);
    if (rc == 0) rc = weft_channels_on_error(nc->chs, cli_ch_error, nc, NULL);
    if (rc == 0 && has) rc = weft_channels_set_window(nc->chs, (uint32_t)d);
  } else if (!strcmp(what, "batching")) {
    rc = weft_client_set_batching(nc->c, (size_t)d);
  }
  if (rc != 0) return throw_weft(env, rc, what);
  return undefined(env);
}

/* ---- emitting ---- */

/* A JS array (or undefined) as an owned weft array; NULL with an exception. */
static weft_value *args_from_js(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t == napi_undefined) {
    weft_value *arr = weft_value_new_array();
    if (!arr) throw_weft(env, WEFT_ENOMEM, "args");
    return arr;
  }
  bool isarr = false;
  if (napi_is_array(env, v, &isarr) != napi_ok || !isarr) {
    throw_type(env, "args must be an array");
    return NULL;
  }
  return from_js(env, v, 0);
}

/* Starts an ack when token >= 0; *out_k is freed by the caller on error. */
static int emit_common(napi_env env, weft_emitter *em, weft_spark *to, napi_value *argv,
                       int *thrown) {
  /* argv: event, args, timeout (-1 default), token (-1 none) */
  *thrown = 0;
  char *event = get_string(env, argv[0], NULL);
  if (!event) {
    *thrown = 1;
    throw_type(env, "event must be a string");
    return WEFT_EINVAL;
  }
  weft_value *args = args_from_js(env, argv[1]);
  if (!args) {
    free(event);
    *thrown = 1;
    return WEFT_EINVAL;
  }
  double timeout = -1, token = -1;
  napi_get_value_double(env, argv[2], &timeout);
  napi_get_value_double(env, argv[3], &token);
  weft__nack *k = NULL;
  if (token >= 0) {
    k = malloc(sizeof(*k));
    if (!k) {
      free(event);
      weft_value_free(args);
      return WEFT_ENOMEM;
    }
    k->a = get_addon(env);
    k->token = token;
  }
  uint32_t tmo =
      timeout >= 0 && timeout <= 4294967294.0 ? (uint32_t)timeout : WEFT_EMIT_DEFAULT_TIMEOUT;
  int rc = weft_emitter_emit(em, to, event, args, tmo, k ? on_ack : NULL, k);
  if (rc < 0) free(k);
  free(event);
  weft_value_free(args);
  return rc;
}

/* sparkEmit(sparkExt, event, args, timeout, token) -> 0 | 1 | -code */
static napi_value js_spark_emit(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv, NULL) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns) return NULL;
  if (!ns->spark) return make_int(env, WEFT_ECLOSED);
  if (!ns->srv || !ns->srv->em) return throw_weft(env, WEFT_ESTATE, "emitter not enabled");
  int thrown;
  int rc = emit_common(env, ns->srv->em, ns->spark, argv + 1, &thrown);
  return thrown ? NULL : make_int(env, rc);
}

/* clientEmit(ext, event, args, timeout, token) -> 0 | 1 | -code */
static napi_value js_client_emit(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv, NULL) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  if (!nc->c || nc->destroying) return make_int(env, WEFT_ECLOSED);
  if (!nc->em) return throw_weft(env, WEFT_ESTATE, "emitter not enabled");
  int thrown;
  int rc = emit_common(env, nc->em, NULL, argv + 1, &thrown);
  return thrown ? NULL : make_int(env, rc);
}

/* clientRoom(ext, join, room, token) -> 0 | -code */
static napi_value js_client_room(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv, NULL) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  if (!nc->c || nc->destroying) return make_int(env, WEFT_ECLOSED);
  if (!nc->em) return throw_weft(env, WEFT_ESTATE, "emitter not enabled");
  bool join = false;
  double token = -1;
  napi_get_value_bool(env, argv[1], &join);
  char *room = get_string(env, argv[2], NULL);
  if (!room) return throw_type(env, "room must be a string");
  napi_get_value_double(env, argv[3], &token);
  weft__nack *k = malloc(sizeof(*k));
  if (!k) {
    free(room);
    return throw_weft(env, WEFT_ENOMEM, "room");
  }
  k->a = nc->a;
  k->token = token;
  int rc = join ? weft_emitter_join(nc->em, room, on_ack, k)
                : weft_emitter_leave(nc->em, room, on_ack, k);
  if (rc < 0) free(k);
  free(room);
  return make_int(env, rc);
}

/* replyAnswer(replyExt, ok, value) -> 0 | -code; throws when answered twice */
static napi_value js_reply_answer(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nreply *nr = get_external(env, argv[0]);
  if (!nr) return throw_type(env, "not a reply handle");
  if (!nr->r) return make_int(env, WEFT_ECLOSED);
  bool ok = false;
  napi_get_value_bool(env, argv[1], &ok);
  napi_valuetype t;
  weft_value *v = NULL;
  if (napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
  if (t != napi_undefined) {
    v = from_js(env, argv[2], 0);
    if (!v) return NULL; /* not answered yet: the caller may try again */
  }
  weft_reply *r = nr->r;
  nr->r = NULL;
  reply_unlink(nr);
  int rc = ok ? weft_reply_resolve(r, v) : weft_reply_reject(r, v);
  weft_value_free(v);
  return make_int(env, rc);
}

/* A JS array of strings as a malloc'd vector (each malloc'd). */
static int strings_from_js(napi_env env, napi_value v, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined || t == napi_null) return 0;
  bool isarr = false;
  uint32_t len = 0;
  if (napi_is_array(env, v, &isarr) != napi_ok || !isarr) return -1;
  if (napi_get_array_length(env, v, &len) != napi_ok) return -1;
  if (len == 0) return 0;
  char **vec = calloc(len, sizeof(*vec));
  if (!vec) return -1;
  for (uint32_t i = 0; i < len; i++) {
    napi_value item;
    if (napi_get_element(env, v, i, &item) != napi_ok || !(vec[i] = get_string(env, item, NULL))) {
      for (uint32_t j = 0; j < i; j++)
        free(vec[j]);
      free(vec);
      return -1;
    }
  }
  *out = vec;
  *n = len;
  return 0;
}

static void strings_free(char **vec, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(vec[i]);
  free(vec);
}

/* serverSend(ext, target, mode, a, b, rooms, except) -> count | -code
 *   target: "all" (broadcast; mode "emit" only), "sparks" (rooms = array of
 *   spark handles), "rooms" (rooms = names, except = ids);
 *   mode: "write" (a = value) or "emit" (a = event, b = args). */
static napi_value js_server_send(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (get_args(env, info, 7, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv || s->destroying) return make_int(env, 0);
  char target[8], mode[8];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], target, sizeof(target), &len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], mode, sizeof(mode), &len) != napi_ok)
    return throw_type(env, "target and mode must be strings");
  int emit = !strcmp(mode, "emit");
  char *event = NULL;
  weft_value *val = NULL, *args = NULL, *packet = NULL;
  char **rooms = NULL, **except = NULL;
  size_t nrooms = 0, nexcept = 0;
  weft_spark **sparks = NULL;
  int rc = WEFT_EINVAL;
  if (emit) {
    if (!s->em) return throw_weft(env, WEFT_ESTATE, "emitter not enabled");
    event = get_string(env, argv[3], NULL);
    if (!event) return throw_type(env, "event must be a string");
    args = args_from_js(env, argv[4]);
    if (!args) goto thrown;
  } else {
    val = from_js(env, argv[3], 0);
    if (!val) goto thrown;
  }
  if (!strcmp(target, "all")) {
    rc = emit ? weft_emitter_broadcast(s->em, event, args) : weft_server_write(s->srv, val);
  } else if (!strcmp(target, "rooms")) {
    if (!s->rooms) {
      rc = WEFT_ESTATE;
      goto done;
    }
    if (strings_from_js(env, argv[5], &rooms, &nrooms) != 0 ||
        strings_from_js(env, argv[6], &except, &nexcept) != 0) {
      rc = WEFT_EINVAL;
      goto done;
    }
    rc = emit ? weft_rooms_emit(s->rooms, (const char *const *)rooms, nrooms,
                                (const char *const *)except, nexcept, event, args)
              : weft_rooms_write(s->rooms, (const char *const *)rooms, nrooms,
                                 (const char *const *)except, nexcept, val);
  } else if (!strcmp(target, "sparks")) {
    bool isarr = false;
    uint32_t n = 0;
    if (napi_is_array(env, argv[5], &isarr) != napi_ok || !isarr ||
        napi_get_array_length(env, argv[5], &n) != napi_ok)
      goto done;
    sparks = calloc(n ? n : 1, sizeof(*sparks));
    if (!sparks) {
      rc = WEFT_ENOMEM;
      goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
      napi_value item;
      if (napi_get_element(env, argv[5], i, &item) != napi_ok) goto done;
      weft__nspark *ns = get_external(env, item);
      sparks[i] = ns && ns->srv == s ? ns->spark : NULL;
    }
    if (emit) {
      rc = weft_emitter_packet(event, args, &packet);
      if (rc != 0) goto done;
    }
    rc = weft_server_write_to(s->srv, emit ? packet : val, sparks, n);
  }
done:
  free(event);
  weft_value_free(val);
  weft_value_free(args);
  weft_value_free(packet);
  strings_free(rooms, nrooms);
  strings_free(except, nexcept);
  free(sparks);
  return make_int(env, rc);
thrown:
  free(event);
  weft_value_free(val);
  weft_value_free(args);
  return NULL;
}

/* ---- rooms ---- */

static int policy_cb(weft_spark *spark, const char *room, int join, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->a;
  napi_env env = a->env;
  weft__nspark *ns = weft_spark_get_user(spark);
  if (a->teardown || !ns || !ns->obj || !s->obj) return WEFT_EUNAUTHORIZED;
  int rc = WEFT_EUNAUTHORIZED;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return rc;
  napi_value server, argv[3], r;
  bool yes = false;
  NAPI_OK(napi_get_reference_value(env, s->obj, &server));
  NAPI_OK(napi_get_reference_value(env, ns->obj, &argv[0]));
  argv[1] = make_string(env, room);
  NAPI_OK(napi_get_boolean(env, join != 0, &argv[2]));
  r = call_js(a, CB_POLICY, server, 3, argv);
  if (r && napi_get_value_bool(env, r, &yes) == napi_ok && yes) rc = 0;
fail:
  napi_close_handle_scope(env, scope);
  return rc;
}

static napi_value string_array(napi_env env, weft_rooms *rs, int count,
                               const char *(*at)(weft_rooms *, const void *, size_t),
                               const void *key) {
  napi_value arr;
  if (napi_create_array_with_length(env, count > 0 ? (size_t)count : 0, &arr) != napi_ok)
    return NULL;
  for (int i = 0; i < count; i++) {
    const char *n = at(rs, key, (size_t)i);
    napi_value v = n ? make_string(env, n) : NULL;
    if (v) napi_set_element(env, arr, (uint32_t)i, v);
  }
  return arr;
}

static const char *at_room(weft_rooms *rs, const void *key, size_t i) {
  (void)key;
  return weft_rooms_name_at(rs, i);
}
static const char *at_member(weft_rooms *rs, const void *key, size_t i) {
  weft_spark *sp = weft_rooms_member_at(rs, key, i);
  return sp ? weft_spark_id(sp) : NULL;
}
static const char *at_of_spark(weft_rooms *rs, const void *key, size_t i) {
  return weft_rooms_of_spark_at(rs, (weft_spark *)key, i);
}

/* roomsCall(serverExt, op, sparkExt|undefined, room|undefined)
 *   op: join, leave, leaveAll, has (-> bool), list (-> names),
 *   members (-> ids), of (-> names), policy (room = bool). */
static napi_value js_rooms_call(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  char op[12];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], op, sizeof(op), &len) != napi_ok)
    return throw_type(env, "op must be a string");
  if (!s->srv || !s->rooms) return throw_weft(env, s->srv ? WEFT_ESTATE : WEFT_ECLOSED, "rooms");
  weft_rooms *rs = s->rooms;
  if (!strcmp(op, "list")) return string_array(env, rs, weft_rooms_count(rs), at_room, NULL);
  if (!strcmp(op, "policy")) {
    bool on = false;
    napi_get_value_bool(env, argv[3], &on);
    int rc = weft_rooms_set_client_policy(rs, on ? policy_cb : NULL, s, NULL);
    if (rc != 0) return throw_weft(env, rc, "roomsPolicy");
    return undefined(env);
  }
  char *room = NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[3], &t) != napi_ok) return NULL;
  if (t != napi_undefined) {
    room = get_string(env, argv[3], NULL);
    if (!room) return throw_type(env, "room must be a string");
  }
  napi_value out = NULL;
  if (!strcmp(op, "members")) {
    out = room ? string_array(env, rs, weft_rooms_member_count(rs, room), at_member, room)
               : (throw_weft(env, WEFT_EINVAL, "room"), NULL);
    free(room);
    return out;
  }
  weft__nspark *ns = get_external(env, argv[2]);
  if (!ns) {
    free(room);
    return throw_type(env, "not a weft spark handle");
  }
  weft_spark *sp = ns->srv == s ? ns->spark : NULL;
  int rc = WEFT_EINVAL;
  if (!strcmp(op, "of")) {
    free(room);
    if (!sp) {
      napi_create_array(env, &out);
      return out;
    }
    return string_array(env, rs, weft_rooms_of_spark_count(rs, sp), at_of_spark, sp);
  }
  if (!sp) {
    rc = WEFT_ECLOSED;
  } else if (!strcmp(op, "leaveAll")) {
    rc = weft_rooms_leave_all(rs, sp);
  } else if (room && !strcmp(op, "join")) {
    rc = weft_rooms_join(rs, sp, room);
  } else if (room && !strcmp(op, "leave")) {
    rc = weft_rooms_leave(rs, sp, room);
  } else if (room && !strcmp(op, "has")) {
    rc = weft_rooms_has(rs, sp, room);
    free(room);
    if (rc < 0) return throw_weft(env, rc, "rooms.has");
    napi_get_boolean(env, rc > 0, &out);
    return out;
  }
  free(room);
  if (rc == WEFT_ECLOSED && strcmp(op, "join") != 0) rc = 0; /* a closed spark is in no room */
  if (rc != 0) return throw_weft(env, rc, op);
  return undefined(env);
}

/* ---- channels from JavaScript ---- */

/* channelOpen(ownerExt, isClient, name, jsChannel) -> channel external */
static napi_value js_channel_open(napi_env env, napi_callback_info info) {
  napi_value argv[4], ext;
  if (get_args(env, info, 4, argv, NULL) != 0) return NULL;
  bool is_client = false;
  napi_get_value_bool(env, argv[1], &is_client);
  weft_channels *chs = NULL;
  weft_spark *sp = NULL;
  weft__addon *a = get_addon(env);
  if (is_client) {
    weft__nclient *nc = arg_client(env, argv[0]);
    if (!nc) return NULL;
    if (!nc->c || nc->destroying) return throw_weft(env, WEFT_ECLOSED, "channel");
    chs = nc->chs;
  } else {
    weft__nspark *ns = arg_spark(env, argv[0]);
    if (!ns) return NULL;
    if (!ns->spark) return throw_weft(env, WEFT_ECLOSED, "channel");
    chs = ns->srv ? ns->srv->chs : NULL;
    sp = ns->spark;
  }
  if (!chs) return throw_weft(env, WEFT_ESTATE, "channels not enabled");
  char *name = get_string(env, argv[2], NULL);
  if (!name) return throw_type(env, "channel name must be a string");
  weft_channel *ch = NULL;
  int rc = weft_channel_open(chs, sp, name, &ch);
  free(name);
  if (rc != 0) return throw_weft(env, rc, "channel");
  weft__nchannel *nch = calloc(1, sizeof(*nch));
  if (!nch) return throw_weft(env, WEFT_ENOMEM, "channel");
  nch->a = a;
  nch->ch = ch;
  if (napi_create_reference(env, argv[3], 1, &nch->obj) != napi_ok ||
      napi_create_external(env, nch, channel_finalize, NULL, &ext) != napi_ok) {
    if (nch->obj) napi_delete_reference(env, nch->obj);
    free(nch);
    return NULL;
  }
  weft_channel_set_events(ch, &channel_events, nch, NULL);
  return ext;
}

/* channelCall(chExt, op, value) -> rc: write (0|1|-code), end, pause,
 * resume, queued. */
static napi_value js_channel_call(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  weft__nchannel *nch = get_external(env, argv[0]);
  if (!nch) return throw_type(env, "not a weft channel handle");
  char op[8];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], op, sizeof(op), &len) != napi_ok)
    return throw_type(env, "op must be a string");
  if (!nch->ch) return make_int(env, !strcmp(op, "queued") ? 0 : WEFT_ECLOSED);
  int64_t rc = WEFT_EINVAL;
  if (!strcmp(op, "write")) {
    weft_value *v = from_js(env, argv[2], 0);
    if (!v) return NULL;
    rc = weft_channel_write(nch->ch, v);
    weft_value_free(v);
  } else if (!strcmp(op, "end")) {
    rc = weft_channel_end(nch->ch);
  } else if (!strcmp(op, "pause")) {
    rc = weft_channel_pause(nch->ch);
  } else if (!strcmp(op, "resume")) {
    rc = weft_channel_resume(nch->ch);
  } else if (!strcmp(op, "queued")) {
    rc = (int64_t)weft_channel_queued(nch->ch);
  }
  return make_int(env, rc);
}

/* ---------------------------------------------------------------------- */
/* The loop's log and a server's metrics                                  */
/* ---------------------------------------------------------------------- */

/* The loop's log function: each record goes to the dispatcher with the
 * server or client it is about as `this` (lib/log.js queues it for the next
 * tick, so JavaScript never runs inside the core's record). */
static void on_log(const weft_log_record *r, void *user) {
  weft__addon *a = user;
  if (a->teardown) return;
  napi_ref obj = NULL;
  for (weft__nserver *s = a->servers; r->server && s && !obj; s = s->next)
    if (s->srv == r->server) obj = s->obj;
  for (weft__nclient *c = a->clients; r->client && c && !obj; c = c->next)
    if (c->c == r->client) obj = c->obj;
  if (!obj) return;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value recv, null, argv[5];
  NAPI_OK(napi_get_reference_value(env, obj, &recv));
  NAPI_OK(napi_get_null(env, &null));
  argv[0] = make_int(env, r->level);
  argv[1] = make_string(env, r->event);
  argv[2] = make_string(env, r->message);
  argv[3] = r->spark ? make_string(env, r->spark) : null;
  argv[4] = r->kind ? make_string(env, r->kind) : null;
  for (int i = 0; i < 5; i++)
    if (!argv[i]) goto fail;
  call_js(a, CB_LOG, recv, 5, argv);
fail:
  napi_close_handle_scope(env, scope);
}

/* logLevel(level): the loop's level (WEFT_LOG_OFF..WEFT_LOG_DEBUG). */
static napi_value js_log_level(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  weft__addon *a = get_addon(env);
  if (get_args(env, info, 1, argv, NULL) != 0 || !a) return NULL;
  int32_t level = -1;
  if (napi_get_value_int32(env, argv[0], &level) != napi_ok)
    return throw_type(env, "level must be a number");
  weft_loop *loop = addon_loop(env, a);
  if (!loop) return throw_weft(env, WEFT_ECLOSED, "loop");
  int rc = weft_loop_set_log(loop, level, level > 0 ? on_log : NULL, a, NULL);
  if (rc != 0) return throw_weft(env, rc, "logLevel");
  return undefined(env);
}

/* serverMetrics(ext) -> { connectionsOpen, ... } (numbers: exact below
 * 2^53). */
static napi_value js_server_metrics(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return throw_weft(env, WEFT_ECLOSED, "metrics");
  weft_metrics m;
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  int rc = weft_server_metrics(s->srv, &m);
  if (rc != 0) return throw_weft(env, rc, "metrics");
  const struct {
    const char *name;
    uint64_t v;
  } f[] = {{"connectionsOpen", m.connections_open},
           {"connectionsTotal", m.connections_total},
           {"handshakesTotal", m.handshakes_total},
           {"refusedTotal", m.refused_total},
           {"messagesInTotal", m.messages_in_total},
           {"messagesOutTotal", m.messages_out_total},
           {"bytesInTotal", m.bytes_in_total},
           {"bytesOutTotal", m.bytes_out_total},
           {"queueBytes", m.queue_bytes},
           {"queueRefusedTotal", m.queue_refused_total},
           {"heartbeatTimeoutsTotal", m.heartbeat_timeouts_total},
           {"errorsTotal", m.errors_total}};
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    napi_value v;
    if (napi_create_double(env, (double)f[i].v, &v) != napi_ok ||
        napi_set_named_property(env, out, f[i].name, v) != napi_ok)
      return NULL;
  }
  return out;
}

/* serverMetricsText(ext) -> the Prometheus text. */
static napi_value js_server_metrics_text(napi_env env, napi_callback_info info) {
  napi_value argv[1], out = NULL;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (!s->srv) return throw_weft(env, WEFT_ECLOSED, "metricsText");
  long n = weft_server_metrics_text(s->srv, NULL, 0);
  if (n < 0) return throw_weft(env, (int)n, "metricsText");
  char *buf = malloc((size_t)n + 1);
  if (!buf) return throw_weft(env, WEFT_ENOMEM, "metricsText");
  weft_server_metrics_text(s->srv, buf, (size_t)n + 1);
  napi_create_string_utf8(env, buf, (size_t)n, &out);
  free(buf);
  return out;
}

/* ---------------------------------------------------------------------- */
/* Module                                                                 */
/* ---------------------------------------------------------------------- */

/* setup({spark, connection, ...}) */
static napi_value js_setup(napi_env env, napi_callback_info info) {
  static const char *const names[CB_COUNT] = {
      "spark",   "connection",  "disconnection", "data",       "drain", "error",
      "close",   "authorize",   "client",        "clientData", "event", "ack",
      "channel", "channelOpen", "policy",        "log"};
  napi_value argv[1];
  weft__addon *a = get_addon(env);
  if (get_args(env, info, 1, argv, NULL) != 0 || !a) return NULL;
  for (int i = 0; i < CB_COUNT; i++) {
    napi_value fn;
    napi_valuetype t;
    if (napi_get_named_property(env, argv[0], names[i], &fn) != napi_ok) return NULL;
    if (napi_typeof(env, fn, &t) != napi_ok || t != napi_function)
      return throw_type(env, "setup: every dispatcher must be a function");
    if (a->cbs[i]) napi_delete_reference(env, a->cbs[i]);
    a->cbs[i] = NULL;
    if (napi_create_reference(env, fn, 1, &a->cbs[i]) != napi_ok) return NULL;
  }
  return undefined(env);
}

/* Values round trip through a parser (tests, and a codec for users). */
static napi_value js_encode(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  char parser[16];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], parser, sizeof(parser), &len) != napi_ok)
    return throw_type(env, "parser must be a string");
  weft_value *v = from_js(env, argv[1], 0);
  if (!v) return NULL;
  uint8_t *buf = NULL;
  size_t n = 0;
  int rc = weft_value_encode(parser, v, &buf, &n);
  weft_value_free(v);
  if (rc != 0) return throw_weft(env, rc, "encode");
  void *data;
  napi_status st = napi_create_buffer_copy(env, n, buf, &data, &out);
  weft_free(buf);
  return st == napi_ok ? out : NULL;
}

static napi_value js_decode(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  char parser[16];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], parser, sizeof(parser), &len) != napi_ok)
    return throw_type(env, "parser must be a string");
  bool isbuf = false;
  void *data = NULL;
  size_t n = 0;
  char *str = NULL;
  if (napi_is_buffer(env, argv[1], &isbuf) == napi_ok && isbuf) {
    if (napi_get_buffer_info(env, argv[1], &data, &n) != napi_ok) return NULL;
  } else {
    str = get_string(env, argv[1], &n);
    if (!str) return throw_type(env, "data must be a Buffer or a string");
    data = str;
  }
  weft_value *v = NULL;
  int rc = weft_value_decode(parser, data, n, &v, NULL);
  free(str);
  if (rc != 0) return throw_weft(env, rc, "decode");
  napi_value out = to_js(env, v, 0);
  weft_value_free(v);
  if (!out) return throw_weft(env, WEFT_EDEPTH, "decode");
  return out;
}

static const char *transformer_at(const void *unused, size_t i) {
  (void)unused;
  return weft_transformer_at(i);
}

/* transformers() -> the names the core has (weft_transformer_at). */
static napi_value js_transformers(napi_env env, napi_callback_info info) {
  (void)info;
  return string_list(env, transformer_at, NULL);
}

/* transformerCheck(name): throws unless the core knows the name. */
static napi_value js_transformer_check(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  char *name = get_string(env, argv[0], NULL);
  if (!name) return throw_type(env, "transformer must be a string");
  int ok = weft_transformer_exists(name);
  if (!ok) throw_transformer(env, WEFT_EUNSUPPORTED, name);
  free(name);
  return ok ? undefined(env) : NULL;
}

static napi_value js_live(napi_env env, napi_callback_info info) {
  (void)info;
  weft__addon *a = get_addon(env);
  return make_int(env, a ? (int64_t)a->live : 0);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  weft__addon *a = calloc(1, sizeof(*a));
  if (!a) return NULL;
  a->env = env;
  if (napi_set_instance_data(env, a, addon_finalize, NULL) != napi_ok) {
    free(a);
    return NULL;
  }
  napi_value name;
  if (napi_create_string_utf8(env, "weft", NAPI_AUTO_LENGTH, &name) != napi_ok) return NULL;
  if (napi_async_init(env, NULL, name, &a->actx) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
#define FN(n, f) {n, NULL, f, NULL, NULL, NULL, napi_default, NULL}
      FN("setup", js_setup),
      FN("serverNew", js_server_new),
      FN("serverSet", js_server_set),
      FN("serverTls", js_server_tls),
      FN("serverListen", js_server_listen),
      FN("serverPathname", js_server_pathname),
      FN("serverUrls", js_server_urls),
      FN("serverWrite", js_server_write),
      FN("serverDestroy", js_server_destroy),
      FN("serverAuthorize", js_server_authorize),
      FN("authInfo", js_auth_info),
      FN("authAnswer", js_auth_answer),
      FN("sparkWrite", js_spark_write),
      FN("sparkEnd", js_spark_end),
      FN("sparkInfo", js_spark_info),
      FN("sparkBuffered", js_spark_buffered),
      FN("clientNew", js_client_new),
      FN("clientSet", js_client_set),
      FN("clientCall", js_client_call),
      FN("clientWrite", js_client_write),
      FN("clientEnd", js_client_end),
      FN("serverExt", js_server_ext),
      FN("clientExt", js_client_ext),
      FN("sparkEmit", js_spark_emit),
      FN("clientEmit", js_client_emit),
      FN("clientRoom", js_client_room),
      FN("replyAnswer", js_reply_answer),
      FN("serverSend", js_server_send),
      FN("roomsCall", js_rooms_call),
      FN("channelOpen", js_channel_open),
      FN("channelCall", js_channel_call),
      FN("encode", js_encode),
      FN("decode", js_decode),
      FN("live", js_live),
      FN("transformers", js_transformers),
      FN("transformerCheck", js_transformer_check),
      FN("logLevel", js_log_level),
      FN("serverMetrics", js_server_metrics),
      FN("serverMetricsText", js_server_metrics_text),
#undef FN
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok)
    return NULL;
  napi_value v;
  if (napi_create_string_utf8(env, weft_version_string(), NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, exports, "version", v);
  return exports;
}
