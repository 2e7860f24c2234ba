/*
 * Client: a weft_client behind a JavaScript Client (lib/client.js). The
 * wrapper retains the client; its external's finalizer releases it, so a
 * call after the destroy event is the core's WEFT_ECLOSED. Events go to one
 * dispatcher as (name, a, b, c, d); lib/client.js shapes them as Primus's.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

static weft__nclient *arg_client(napi_env env, napi_value v) {
  return weft__node_unwrap(env, v, WEFT__N_CLIENT);
}

/* ---- events ---- */

/* Calls the client dispatcher with (name, argv...) in a scope of its own;
 * `build` makes the i-th argument from `arg`. */
static void emit(weft__nclient *nc, const char *name, size_t n,
                 napi_value (*build)(napi_env, const void *, size_t), const void *arg) {
  weft__addon *a = nc->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[5];
  argv[0] = weft__node_str(env, name);
  for (size_t i = 0; i < n && i < 4; i++) {
    argv[1 + i] = build(env, arg, i);
    if (!argv[1 + i]) argv[1 + i] = weft__node_undefined(env);
  }
  weft__node_call(a, CB_CLIENT, weft__node_deref(env, nc->base.obj), 1 + n, argv);
  napi_close_handle_scope(env, scope);
}

static napi_value build_reconnect(napi_env env, const void *p, size_t i) {
  const weft_reconnect_info *ri = p;
  return weft__node_int(env, i == 0 ? ri->attempt : i == 1 ? ri->retries : ri->delay_ms);
}

static napi_value build_error(napi_env env, const void *p, size_t i) {
  const weft_error_info *e = p;
  napi_value arr;
  switch (i) {
  case 0: return weft__node_str(env, weft_err_name(e->code));
  case 1: return weft__node_str(env, e->kind ? e->kind : "error");
  case 2: return weft__node_str(env, e->message ? e->message : weft_strerror(e->code));
  default: /* [status, body] */
    if (napi_create_array_with_length(env, 2, &arr) != napi_ok) return NULL;
    napi_set_element(env, arr, 0, weft__node_int(env, e->status));
    if (e->body) napi_set_element(env, arr, 1, weft__node_str(env, e->body));
    return arr;
  }
}

static napi_value build_string(napi_env env, const void *p, size_t i) {
  (void)i;
  return weft__node_str(env, p);
}

#define SIMPLE(fn, name)                                                                           \
  static void fn(weft_client *c, void *user) {                                                     \
    (void)c;                                                                                       \
    emit(user, name, 0, NULL, NULL);                                                               \
  }
SIMPLE(cev_open, "open")
SIMPLE(cev_close, "close")
SIMPLE(cev_timeout, "timeout")
SIMPLE(cev_online, "online")
SIMPLE(cev_offline, "offline")

#define RECONNECT(fn, name)                                                                        \
  static void fn(weft_client *c, const weft_reconnect_info *ri, void *user) {                      \
    (void)c;                                                                                       \
    emit(user, name, 3, build_reconnect, ri);                                                      \
  }
RECONNECT(cev_rs, "reconnect scheduled")
RECONNECT(cev_r, "reconnect")
RECONNECT(cev_rd, "reconnected")
RECONNECT(cev_rf, "reconnect failed")
RECONNECT(cev_rt, "reconnect timeout")

static void cev_error(weft_client *c, const weft_error_info *e, void *user) {
  (void)c;
  emit(user, "error", 4, build_error, e);
}

static void cev_id(weft_client *c, const char *id, void *user) {
  (void)c;
  emit(user, "id", 1, build_string, id);
}

/* The answer of a server with recovery: ("recovered", 1|0, id). */
static napi_value build_recovered(napi_env env, const void *p, size_t i) {
  const char *const *rid = p;
  return i == 0 ? weft__node_int(env, rid[0] != NULL) : weft__node_str(env, rid[1]);
}

static void cev_recovered(weft_client *c, int recovered, const char *id, void *user) {
  (void)c;
  const char *rid[2] = {recovered ? id : NULL, id};
  emit(user, "recovered", 2, build_recovered, rid);
}

static void cev_end(weft_client *c, void *user) {
  emit(user, "end", 0, NULL, NULL);
  weft_client_destroy(c); /* ended for good: the destroy event follows */
}

static void cev_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  weft__nclient *nc = user;
  weft__addon *a = nc->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value v = weft__node_to_js(env, msg);
  if (v) weft__node_call(a, CB_CLIENT_DATA, weft__node_deref(env, nc->base.obj), 1, &v);
  napi_close_handle_scope(env, scope);
}

static void client_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nclient *nc = data;
  weft_client_release(nc->c);
  weft__node_retained(nc->base.a, -WEFT__NODE_CLIENT_BYTES);
  free(nc);
}

static void cev_destroy(weft_client *c, void *user) {
  (void)c;
  weft__nclient *nc = user;
  emit(nc, "destroy", 0, NULL, NULL);
  weft__node_live_remove(&nc->base); /* the JS object may now be collected */
  if (nc->base.orphan) client_finalize(nc->base.a->env, nc, NULL);
}

/* ---- calls ---- */

/* clientNew(jsClient, url) -> external */
static napi_value js_client_new(napi_env env, napi_callback_info info) {
  napi_value argv[2], ext = NULL;
  weft__addon *a = weft__node_addon(env);
  if (weft__node_args(env, info, 2, argv) != 0 || !a) return NULL;
  weft_loop *loop = weft__node_loop(env, a);
  if (!loop) return weft__node_throw(env, WEFT_ECLOSED, "loop");
  char *url = weft__node_string(env, argv[1], NULL);
  if (!url) return weft__node_throw_type(env, "url must be a string");
  weft__nclient *nc = calloc(1, sizeof(*nc));
  int rc = nc ? weft_client_new(loop, url, &nc->c) : WEFT_ENOMEM;
  free(url);
  if (rc != 0) {
    free(nc);
    return weft__node_throw(env, rc, "connect");
  }
  nc->base.kind = WEFT__N_CLIENT;
  nc->base.a = a;
  nc->base.handle = nc->c;
  weft_client_retain(nc->c);
  weft__node_retained(a, WEFT__NODE_CLIENT_BYTES);
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
  /* Off until the "recovery" option turns it on (which keeps the callback). */
  weft_client_set_recovery(nc->c, 0, cev_recovered, nc);
  weft__node_live_add(&nc->base);
  if (napi_create_external(env, nc, client_finalize, NULL, &ext) != napi_ok) {
    nc->base.orphan = 1; /* its destroy event frees it */
    ext = NULL;
  }
  if (!ext || napi_create_reference(env, argv[0], 1, &nc->base.obj) != napi_ok) {
    weft_client_destroy(nc->c);
    return NULL;
  }
  return ext;
}

/* clientSetOption(ext, name, value) -> 0 | -code (weft_client_set_option). */
static napi_value js_client_set_option(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[64];
  size_t len;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof(name), &len) != napi_ok)
    return weft__node_throw_type(env, "option name must be a string");
  weft_value *v = weft__node_from_js(env, argv[2]);
  if (!v) return NULL;
  int rc = weft_client_set_option(nc->c, name, v);
  weft_value_free(v);
  return weft__node_int(env, rc);
}

/* clientWrite(ext, value) -> 0 | -code; clientEnd(ext, value|undefined). */
static napi_value write_or_end(napi_env env, napi_callback_info info, int end) {
  napi_value argv[2];
  napi_valuetype t;
  weft_value *v = NULL;
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc || napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if ((!end || t != napi_undefined) && !(v = weft__node_from_js(env, argv[1]))) return NULL;
  int rc = end ? weft_client_end(nc->c, v) : weft_client_write(nc->c, v);
  weft_value_free(v);
  return weft__node_int(env, rc);
}

static napi_value js_client_write(napi_env env, napi_callback_info info) {
  return write_or_end(env, info, 0);
}
static napi_value js_client_end(napi_env env, napi_callback_info info) {
  return write_or_end(env, info, 1);
}

/* clientSetOnline(ext, online) -> 0 | -code */
static napi_value js_client_set_online(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on = false;
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  weft__nclient *nc = arg_client(env, argv[0]);
  if (!nc) return NULL;
  napi_get_value_bool(env, argv[1], &on);
  return weft__node_int(env, weft_client_set_online(nc->c, on));
}

/* One-argument calls: (ext) -> the core's int. */
#define CALL(fn, expr)                                                                             \
  static napi_value fn(napi_env env, napi_callback_info info) {                                    \
    napi_value argv[1];                                                                            \
    if (weft__node_args(env, info, 1, argv) != 0) return NULL;                                     \
    weft__nclient *nc = arg_client(env, argv[0]);                                                  \
    return nc ? weft__node_int(env, (int64_t)(expr)) : NULL;                                       \
  }
CALL(js_client_open, weft_client_open(nc->c))
CALL(js_client_id, weft_client_id(nc->c))
CALL(js_client_destroy, weft_client_destroy(nc->c))
CALL(js_client_state, weft_client_state(nc->c))
CALL(js_client_buffered, weft_client_buffered_amount(nc->c))

int weft__node_define_client(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("clientNew", js_client_new),
      WEFT__NODE_FN("clientSetOption", js_client_set_option),
      WEFT__NODE_FN("clientWrite", js_client_write),
      WEFT__NODE_FN("clientEnd", js_client_end),
      WEFT__NODE_FN("clientSetOnline", js_client_set_online),
      WEFT__NODE_FN("clientOpen", js_client_open),
      WEFT__NODE_FN("clientId", js_client_id),
      WEFT__NODE_FN("clientDestroy", js_client_destroy),
      WEFT__NODE_FN("clientState", js_client_state),
      WEFT__NODE_FN("clientBuffered", js_client_buffered),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
