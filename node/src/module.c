/*
 * The module: the environment's state (one loop, the dispatchers, the
 * reaper), the helpers every object's file uses, and what belongs to no
 * object (codecs, transformer names, the option tables, the version).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

weft__addon *weft__node_addon(napi_env env) {
  void *p = NULL;
  if (napi_get_instance_data(env, &p) != napi_ok) return NULL;
  return p;
}

napi_value weft__node_undefined(napi_env env) {
  napi_value u = NULL;
  napi_get_undefined(env, &u);
  return u;
}

napi_value weft__node_str(napi_env env, const char *s) {
  napi_value v = NULL;
  if (s) napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value weft__node_int(napi_env env, int64_t i) {
  napi_value v = NULL;
  napi_create_int64(env, i, &v);
  return v;
}

napi_value weft__node_throw(napi_env env, int code, const char *what) {
  char buf[256];
  napi_value msg, codev, err, num;
  snprintf(buf, sizeof(buf), "%s: %s", what, weft_strerror(code));
  if (napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, weft_err_name(code), NAPI_AUTO_LENGTH, &codev) != napi_ok ||
      napi_create_error(env, codev, msg, &err) != napi_ok)
    return NULL;
  if (napi_create_int32(env, code, &num) == napi_ok)
    napi_set_named_property(env, err, "errno", num);
  napi_throw(env, err);
  return NULL;
}

napi_value weft__node_throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

int weft__node_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  napi_value u = weft__node_undefined(env);
  for (size_t i = argc; i < want; i++)
    argv[i] = u;
  return 0;
}

void *weft__node_unwrap(napi_env env, napi_value v, uint32_t kind) {
  static const char *const names[] = {"server",        "spark", "client",
                                      "authorization", "reply", "channel"};
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, v, &p) == napi_ok && p && *(uint32_t *)p == kind)
    return p;
  char msg[64];
  snprintf(msg, sizeof(msg), "not a weft %s handle", names[kind - WEFT__N_SERVER]);
  weft__node_throw_type(env, msg);
  return NULL;
}

void *weft__node_unwrap_any(napi_env env, napi_value v) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, v, &p) == napi_ok && p &&
      (*(uint32_t *)p == WEFT__N_SERVER || *(uint32_t *)p == WEFT__N_CLIENT))
    return p;
  weft__node_throw_type(env, "not a weft server or client handle");
  return NULL;
}

char *weft__node_string(napi_env env, napi_value v, size_t *len_out) {
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

napi_value weft__node_deref(napi_env env, napi_ref ref) {
  napi_value v = NULL;
  if (ref && napi_get_reference_value(env, ref, &v) != napi_ok) return NULL;
  return v;
}

napi_value weft__node_call(weft__addon *a, int which, napi_value recv, size_t argc,
                           napi_value *argv) {
  napi_env env = a->env;
  napi_value fn, result = NULL;
  if (a->teardown || !a->cbs[which] || !recv) return NULL;
  if (napi_get_reference_value(env, a->cbs[which], &fn) != napi_ok || !fn) return NULL;
  if (napi_make_callback(env, a->actx, recv, fn, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_value exc;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &exc) == napi_ok && !a->teardown)
      napi_fatal_exception(env, exc);
    return NULL;
  }
  return result;
}

/* ---------------------------------------------------------------------- */
/* The loop, the closables and teardown                                   */
/* ---------------------------------------------------------------------- */

void weft__node_retained(weft__addon *a, int64_t bytes) {
  int64_t total;
  a->retained += bytes > 0 ? 1 : -1;
  napi_adjust_external_memory(a->env, bytes, &total);
}

void weft__node_live_add(weft__nclosable *c) {
  weft__addon *a = c->a;
  c->prev = NULL;
  c->next = a->live;
  if (a->live) a->live->prev = c;
  a->live = c;
}

static void maybe_finish_cleanup(weft__addon *a);

void weft__node_live_remove(weft__nclosable *c) {
  weft__addon *a = c->a;
  if (c->prev)
    c->prev->next = c->next;
  else if (a->live == c)
    a->live = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = c->prev = NULL;
  if (c->obj) napi_delete_reference(a->env, c->obj);
  c->obj = NULL;
  maybe_finish_cleanup(a);
}

weft__nclosable *weft__node_live_find(weft__addon *a, const void *handle) {
  for (weft__nclosable *c = a->live; handle && c; c = c->next)
    if (c->handle == handle) return c;
  return NULL;
}

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
  if (a->live) return;
  if (a->loop) {
    if (weft_loop_close(a->loop) == 0) a->loop = NULL;
    return;
  }
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, on_reaper_closed);
}

static void maybe_finish_cleanup(weft__addon *a) {
  if (!a->cleanup || a->live || a->reaper_on) return;
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

/* The environment exits: every live server and client is destroyed (the
 * core answers WEFT_ECLOSED for one that is closing already). */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  weft__addon *a = arg;
  a->teardown = 1;
  a->cleanup = handle;
  for (weft__nclosable *c = a->live; c; c = c->next) {
    if (c->kind == WEFT__N_SERVER) {
      weft_destroy_options o = {.size = sizeof(o), .reconnect = 1, .timeout_ms = 100};
      weft_server_destroy(c->handle, &o);
    } else {
      weft_client_destroy(c->handle);
    }
  }
  maybe_finish_cleanup(a);
}

weft_loop *weft__node_loop(napi_env env, weft__addon *a) {
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

static void addon_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data); /* the cleanup hook has run and closed the loop */
}

/* ---------------------------------------------------------------------- */
/* What belongs to no object                                              */
/* ---------------------------------------------------------------------- */

/* setup({spark, connection, ...}): the dispatchers. */
static napi_value js_setup(napi_env env, napi_callback_info info) {
  static const char *const names[CB_COUNT] = {
      "spark",   "connection",  "disconnection", "data",       "drain",     "error",
      "close",   "authorize",   "client",        "clientData", "event",     "ack",
      "channel", "channelOpen", "policy",        "log",        "transform", "id",
      "parser",  "stream",      "streamOpen",    "route"};
  napi_value argv[1];
  weft__addon *a = weft__node_addon(env);
  if (weft__node_args(env, info, 1, argv) != 0 || !a) return NULL;
  for (int i = 0; i < CB_COUNT; i++) {
    napi_value fn;
    napi_valuetype t;
    if (napi_get_named_property(env, argv[0], names[i], &fn) != napi_ok) return NULL;
    if (napi_typeof(env, fn, &t) != napi_ok || t != napi_function)
      return weft__node_throw_type(env, "setup: every dispatcher must be a function");
    if (a->cbs[i]) napi_delete_reference(env, a->cbs[i]);
    a->cbs[i] = NULL;
    if (napi_create_reference(env, fn, 1, &a->cbs[i]) != napi_ok) return NULL;
  }
  return weft__node_undefined(env);
}

/* encode(parser, value) -> Buffer */
static napi_value js_encode(napi_env env, napi_callback_info info) {
  napi_value argv[2], out = NULL;
  char parser[16];
  size_t len;
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], parser, sizeof(parser), &len) != napi_ok)
    return weft__node_throw_type(env, "parser must be a string");
  weft_value *v = weft__node_from_js(env, argv[1]);
  if (!v) return NULL;
  uint8_t *buf = NULL;
  size_t n = 0;
  int rc = weft_value_encode(parser, v, &buf, &n);
  weft_value_free(v);
  if (rc != 0) return weft__node_throw(env, rc, "encode");
  void *data;
  napi_status st = napi_create_buffer_copy(env, n, buf, &data, &out);
  weft_free(buf);
  return st == napi_ok ? out : NULL;
}

/* decode(parser, Buffer | string) -> value */
static napi_value js_decode(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char parser[16], *str = NULL;
  size_t len, n = 0;
  bool isbuf = false;
  void *data = NULL;
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], parser, sizeof(parser), &len) != napi_ok)
    return weft__node_throw_type(env, "parser must be a string");
  if (napi_is_buffer(env, argv[1], &isbuf) == napi_ok && isbuf) {
    if (napi_get_buffer_info(env, argv[1], &data, &n) != napi_ok) return NULL;
  } else if ((str = weft__node_string(env, argv[1], &n)) != NULL) {
    data = str;
  } else {
    return weft__node_throw_type(env, "data must be a Buffer or a string");
  }
  weft_value *v = NULL;
  int rc = weft_value_decode(parser, data, n, &v, NULL);
  free(str);
  if (rc != 0) return weft__node_throw(env, rc, "decode");
  napi_value out = weft__node_to_js(env, v);
  weft_value_free(v);
  return out ? out : weft__node_throw(env, WEFT_EDEPTH, "decode");
}

/* transformers() -> the names the core has (weft_transformer_at). */
static napi_value js_transformers(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr;
  const char *name;
  if (napi_create_array(env, &arr) != napi_ok) return NULL;
  for (uint32_t i = 0; (name = weft_transformer_at(i)) != NULL; i++)
    if (napi_set_element(env, arr, i, weft__node_str(env, name)) != napi_ok) return NULL;
  return arr;
}

/* transformerExists(name) -> bool */
static napi_value js_transformer_exists(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  char *name = weft__node_string(env, argv[0], NULL);
  if (!name) return weft__node_throw_type(env, "transformer must be a string");
  napi_get_boolean(env, weft_transformer_exists(name) != 0, &out);
  free(name);
  return out;
}

static int set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value v = NULL;
  if (s)
    v = weft__node_str(env, s);
  else
    napi_get_null(env, &v);
  return v && napi_set_named_property(env, obj, key, v) == napi_ok ? 0 : -1;
}

static int set_num(napi_env env, napi_value obj, const char *key, double d) {
  napi_value v;
  return napi_create_double(env, d, &v) == napi_ok &&
                 napi_set_named_property(env, obj, key, v) == napi_ok
             ? 0
             : -1;
}

/* optionTable('server' | 'client') -> the core's rows (weft/options.h), as
 * they are: lib/options.js names them the Node way. */
static napi_value js_option_table(napi_env env, napi_callback_info info) {
  static const char *const types[] = {"",       "bool", "uint",    "number",
                                      "string", "enum", "strings", "headers"};
  napi_value argv[1], arr;
  char kind[8];
  size_t len;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], kind, sizeof(kind), &len) != napi_ok)
    return weft__node_throw_type(env, "kind must be 'server' or 'client'");
  const weft_option *(*at)(size_t) = !strcmp(kind, "server")   ? weft_server_option_at
                                     : !strcmp(kind, "client") ? weft_client_option_at
                                                               : NULL;
  if (!at) return weft__node_throw_type(env, "kind must be 'server' or 'client'");
  if (napi_create_array(env, &arr) != napi_ok) return NULL;
  const weft_option *o;
  for (uint32_t i = 0; (o = at(i)) != NULL; i++) {
    napi_value row, b;
    int t = o->type >= 1 && o->type <= 7 ? o->type : 0;
    if (napi_create_object(env, &row) != napi_ok || set_str(env, row, "name", o->name) ||
        set_str(env, row, "type", types[t]) || set_str(env, row, "def", o->def) ||
        set_str(env, row, "choices", o->choices) || set_num(env, row, "min", o->min) ||
        set_num(env, row, "max", o->max) || set_str(env, row, "unit", o->unit) ||
        set_str(env, row, "expects", o->expects) || set_str(env, row, "doc", o->doc))
      return NULL;
    napi_get_boolean(env, (o->flags & WEFT_OPT_FIXED) != 0, &b);
    napi_set_named_property(env, row, "fixed", b);
    napi_get_boolean(env, (o->flags & WEFT_OPT_EXT) != 0, &b);
    napi_set_named_property(env, row, "extension", b);
    if (napi_set_element(env, arr, i, row) != napi_ok) return NULL;
  }
  return arr;
}

/* errorInfo(code) -> ["EINVAL"-style name, message] (weft_err_name, weft_strerror). */
static napi_value js_error_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr;
  int32_t code = 0;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  napi_get_value_int32(env, argv[0], &code);
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok ||
      napi_set_element(env, arr, 0, weft__node_str(env, weft_err_name(code))) != napi_ok ||
      napi_set_element(env, arr, 1, weft__node_str(env, weft_strerror(code))) != napi_ok)
    return NULL;
  return arr;
}

/* live() -> [servers and clients whose last event has not come, sparks
 * and clients whose wrapper was not collected yet] (tests). */
static napi_value js_live(napi_env env, napi_callback_info info) {
  (void)info;
  weft__addon *a = weft__node_addon(env);
  napi_value arr;
  int64_t n = 0;
  for (weft__nclosable *c = a ? a->live : NULL; c; c = c->next)
    n++;
  if (!a || napi_create_array_with_length(env, 2, &arr) != napi_ok ||
      napi_set_element(env, arr, 0, weft__node_int(env, n)) != napi_ok ||
      napi_set_element(env, arr, 1, weft__node_int(env, a->retained)) != napi_ok)
    return NULL;
  return arr;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  weft__addon *a = calloc(1, sizeof(*a));
  if (!a) return NULL;
  a->env = env;
  if (napi_set_instance_data(env, a, addon_finalize, NULL) != napi_ok) {
    free(a);
    return NULL;
  }
  napi_value name, v;
  if (napi_create_string_utf8(env, "weft", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &a->actx) != napi_ok)
    return NULL;
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("setup", js_setup),
      WEFT__NODE_FN("encode", js_encode),
      WEFT__NODE_FN("decode", js_decode),
      WEFT__NODE_FN("transformers", js_transformers),
      WEFT__NODE_FN("transformerExists", js_transformer_exists),
      WEFT__NODE_FN("optionTable", js_option_table),
      WEFT__NODE_FN("errorInfo", js_error_info),
      WEFT__NODE_FN("live", js_live),
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok ||
      weft__node_define_server(env, exports) || weft__node_define_auth(env, exports) ||
      weft__node_define_spark(env, exports) || weft__node_define_client(env, exports) ||
      weft__node_define_transform(env, exports) || weft__node_define_parser(env, exports) ||
      weft__node_define_emitter(env, exports) || weft__node_define_rooms(env, exports) ||
      weft__node_define_channel(env, exports) || weft__node_define_stream(env, exports) ||
      weft__node_define_log(env, exports))
    return NULL;
  if (napi_create_string_utf8(env, weft_version_string(), NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, exports, "version", v);
  return exports;
}
