/*
 * Server: a weft_server behind a JavaScript Server (lib/server.js). The
 * wrapper retains the server; its external's finalizer releases it, so a
 * call after the close event is the core's WEFT_ECLOSED. Options go by name
 * through the core's table (weft_server_set_option); recipients through
 * weft_server_send / weft_server_send_event.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

static weft__nserver *arg_server(napi_env env, napi_value v) {
  return weft__node_unwrap(env, v, WEFT__N_SERVER);
}

/* ---- events ---- */

static void ev_error(weft_server *srv, weft_spark *spark, const weft_error_info *err, void *user) {
  (void)srv;
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[4];
  argv[0] = spark ? weft__node_spark_obj(env, spark) : NULL;
  if (!argv[0]) napi_get_null(env, &argv[0]);
  argv[1] = weft__node_str(env, weft_err_name(err->code));
  argv[2] = weft__node_str(env, err->kind ? err->kind : "error");
  argv[3] = weft__node_str(env, err->message ? err->message : weft_strerror(err->code));
  weft__node_call(a, CB_ERROR, weft__node_deref(env, s->base.obj), 4, argv);
  napi_close_handle_scope(env, scope);
}

static void server_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nserver *s = data;
  weft_server_release(s->srv);
  free(s);
}

static void ev_close(weft_server *srv, void *user) {
  (void)srv;
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (!a->teardown && napi_open_handle_scope(env, &scope) == napi_ok) {
    weft__node_call(a, CB_CLOSE, weft__node_deref(env, s->base.obj), 0, NULL);
    napi_close_handle_scope(env, scope);
  }
  weft__node_live_remove(&s->base); /* the JS object may now be collected */
  if (s->base.orphan) server_finalize(env, s, NULL);
}

/* ---- construction, options, listening ---- */

/* serverNew(jsServer) -> external */
static napi_value js_server_new(napi_env env, napi_callback_info info) {
  napi_value argv[1], ext = NULL;
  weft__addon *a = weft__node_addon(env);
  if (weft__node_args(env, info, 1, argv) != 0 || !a) return NULL;
  weft_loop *loop = weft__node_loop(env, a);
  if (!loop) return weft__node_throw(env, WEFT_ECLOSED, "loop");
  weft__nserver *s = calloc(1, sizeof(*s));
  if (!s) return weft__node_throw(env, WEFT_ENOMEM, "server");
  s->base.kind = WEFT__N_SERVER;
  s->base.a = a;
  int rc = weft_server_new(loop, &s->srv);
  if (rc != 0) {
    free(s);
    return weft__node_throw(env, rc, "server");
  }
  s->base.handle = s->srv;
  weft_server_retain(s->srv);
  weft_server_events ev = {.size = sizeof(ev), .error = ev_error, .close = ev_close};
  weft__node_spark_events(&ev);
  weft_server_set_events(s->srv, &ev, s, NULL);
  weft__node_live_add(&s->base);
  if (napi_create_external(env, s, server_finalize, NULL, &ext) != napi_ok) {
    s->base.orphan = 1; /* its close event frees it */
    ext = NULL;
  }
  if (!ext || napi_create_reference(env, argv[0], 1, &s->base.obj) != napi_ok) {
    weft_destroy_options o = {.size = sizeof(o)};
    weft_server_destroy(s->srv, &o);
    return NULL;
  }
  return ext;
}

/* serverSetOption(ext, name, value) -> 0 | -code (weft_server_set_option). */
static napi_value js_server_set_option(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[64];
  size_t len;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof(name), &len) != napi_ok)
    return weft__node_throw_type(env, "option name must be a string");
  weft_value *v = weft__node_from_js(env, argv[2]);
  if (!v) return NULL;
  int rc = weft_server_set_option(s->srv, name, v);
  weft_value_free(v);
  return weft__node_int(env, rc);
}

/* Listens on (or attaches at) a URL: the first listener's port; throws. */
static napi_value listen_url(napi_env env, napi_callback_info info, int attach) {
  napi_value argv[2];
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  char *url = weft__node_string(env, argv[1], NULL);
  if (!url) return weft__node_throw_type(env, "url must be a string");
  int rc = attach ? weft_server_attach(s->srv, url) : weft_server_listen(s->srv, url);
  free(url);
  if (rc != 0) return weft__node_throw(env, rc, attach ? "attach" : "listen");
  return weft__node_int(env, weft_server_port(s->srv));
}

/* serverListen(ext, url) -> the first listener's port; throws. */
static napi_value js_server_listen(napi_env env, napi_callback_info info) {
  return listen_url(env, info, 0);
}

/* serverAttach(ext, url) -> the port the URL names; throws (weft_server_attach). */
static napi_value js_server_attach(napi_env env, napi_callback_info info) {
  return listen_url(env, info, 1);
}

/* serverAdopt(ext, fd, head, once) -> the core's code. A duplicate of fd
 * (Node keeps and closes its own) goes to weft_server_adopt with the bytes
 * Node's HTTP parser already read; on an error the duplicate is closed. */
static napi_value js_server_adopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (weft__node_args(env, info, 4, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  int32_t fd = -1;
  bool once = false;
  void *head = NULL;
  size_t len = 0;
  if (napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0)
    return weft__node_throw_type(env, "fd must be a descriptor");
  if (napi_get_buffer_info(env, argv[2], &head, &len) != napi_ok)
    return weft__node_throw_type(env, "head must be a Buffer");
  napi_get_value_bool(env, argv[3], &once);
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return weft__node_int(env, WEFT_EIO);
  int rc = weft_server_adopt(s->srv, dup, len ? head : NULL, len, once ? WEFT_ADOPT_ONCE : 0);
  if (rc == WEFT_EINVAL || rc == WEFT_ESTATE || rc == WEFT_ECLOSED) close(dup);
  return weft__node_int(env, rc);
}

/* clientLibrary(name) -> the browser client's source (a string), or undefined. */
static napi_value js_client_library(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  char *name = weft__node_string(env, argv[0], NULL);
  if (!name) return weft__node_throw_type(env, "name must be a string");
  size_t len = 0;
  const char *src = weft_client_library(name, &len);
  free(name);
  if (!src) return weft__node_undefined(env);
  if (napi_create_string_utf8(env, src, len, &out) != napi_ok) return NULL;
  return out;
}

/* serverUrls(ext) -> the URLs the listeners serve, ports resolved ([] once closed). */
static napi_value js_server_urls(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr;
  const char *url;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s || napi_create_array(env, &arr) != napi_ok) return NULL;
  for (uint32_t i = 0; (url = weft_server_url(s->srv, i)) != NULL; i++)
    if (napi_set_element(env, arr, i, weft__node_str(env, url)) != napi_ok) return NULL;
  return arr;
}

/* serverPathname(ext) -> the first listener's pathname (undefined once closed). */
static napi_value js_server_pathname(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  const char *p = weft_server_pathname(s->srv);
  return p ? weft__node_str(env, p) : weft__node_undefined(env);
}

/* serverDestroy(ext, reconnect, timeoutMs) -> 0 | -code */
static napi_value js_server_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  bool reconnect = false;
  double timeout = 0;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  napi_get_value_bool(env, argv[1], &reconnect);
  napi_get_value_double(env, argv[2], &timeout);
  if (!(timeout >= 0 && timeout <= UINT32_MAX)) timeout = 0;
  weft_destroy_options o = {
      .size = sizeof(o), .reconnect = reconnect, .timeout_ms = (uint32_t)timeout};
  return weft__node_int(env, weft_server_destroy(s->srv, &o));
}

/* ---- recipients ---- */

/* An array of JS strings (or undefined/null: none) as a vector of copies. */
typedef struct strings {
  char **v;
  size_t n;
} strings;

static void strings_free(strings *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
}

static int strings_from_js(napi_env env, napi_value v, strings *out) {
  napi_valuetype t;
  bool isarr = false;
  uint32_t len = 0;
  out->v = NULL;
  out->n = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined || t == napi_null) return 0;
  if (napi_is_array(env, v, &isarr) != napi_ok || !isarr ||
      napi_get_array_length(env, v, &len) != napi_ok)
    return -1;
  if (len && !(out->v = calloc(len, sizeof(char *)))) return -1;
  for (uint32_t i = 0; i < len; i++) {
    napi_value item;
    if (napi_get_element(env, v, i, &item) != napi_ok ||
        !(out->v[out->n] = weft__node_string(env, item, NULL))) {
      strings_free(out);
      return -1;
    }
    out->n++;
  }
  return 0;
}

/* serverSend(ext, rooms, ids, except, value) -> count | -code
 * serverSendEvent(ext, rooms, ids, except, event, args) -> count | -code
 * rooms, ids, except: arrays of strings or null; all null: every spark. */
static napi_value send_to(napi_env env, napi_callback_info info, int event) {
  napi_value argv[6];
  strings l[3] = {{0}};
  int rc = WEFT_EINVAL;
  char *name = NULL;
  if (weft__node_args(env, info, 6, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  weft_value *v = weft__node_from_js(env, argv[event ? 5 : 4]);
  if (!v) return NULL;
  if (event && !(name = weft__node_string(env, argv[4], NULL))) {
    weft_value_free(v);
    return weft__node_throw_type(env, "event must be a string");
  }
  if (strings_from_js(env, argv[1], &l[0]) == 0 && strings_from_js(env, argv[2], &l[1]) == 0 &&
      strings_from_js(env, argv[3], &l[2]) == 0) {
    weft_recipients to = {
        sizeof(to), (const char *const *)l[0].v, l[0].n, (const char *const *)l[1].v,
        l[1].n,     (const char *const *)l[2].v, l[2].n};
    rc = event ? weft_server_send_event(s->srv, &to, name, v) : weft_server_send(s->srv, &to, v);
  }
  for (int i = 0; i < 3; i++)
    strings_free(&l[i]);
  free(name);
  weft_value_free(v);
  return weft__node_int(env, rc);
}

static napi_value js_server_send(napi_env env, napi_callback_info info) {
  return send_to(env, info, 0);
}
static napi_value js_server_send_event(napi_env env, napi_callback_info info) {
  return send_to(env, info, 1);
}

/* ---- static content ---- */

/* serverAddAsset(ext, path, contentType, Buffer | string, replace) -> 0 | -code */
static napi_value js_server_add_asset(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  bool isbuf = false, replace = false;
  void *data = NULL;
  size_t n = 0;
  if (weft__node_args(env, info, 5, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  napi_get_value_bool(env, argv[4], &replace);
  char *path = weft__node_string(env, argv[1], NULL);
  char *type = weft__node_string(env, argv[2], NULL);
  char *str = NULL;
  int rc = WEFT_EINVAL;
  if (napi_is_buffer(env, argv[3], &isbuf) == napi_ok && isbuf)
    napi_get_buffer_info(env, argv[3], &data, &n);
  else if ((str = weft__node_string(env, argv[3], &n)) != NULL)
    data = str;
  if (path && type && data)
    rc = replace ? weft_server_set_asset(s->srv, path, type, data, n)
                 : weft_server_add_asset(s->srv, path, type, data, n);
  free(path);
  free(type);
  free(str);
  return weft__node_int(env, rc);
}

/* ---- metrics ---- */

/* serverMetrics(ext) -> { connectionsOpen, ... } (numbers: exact below 2^53). */
static napi_value js_server_metrics(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  weft_metrics m;
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  int rc = weft_server_metrics(s->srv, &m);
  if (rc != 0) return weft__node_throw(env, rc, "metrics");
  /* The core's list of counters, named in camelCase as every Node option is. */
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  uint64_t value;
  const char *name;
  for (size_t i = 0; (name = weft_metrics_at(&m, i, &value)) != NULL; i++) {
    char key[64];
    size_t k = 0;
    for (const char *c = name; *c && k + 1 < sizeof(key); c++)
      key[k++] = (*c == '_' && c[1]) ? (char)(*++c - 'a' + 'A') : *c;
    key[k] = '\0';
    napi_value v;
    if (napi_create_double(env, (double)value, &v) != napi_ok ||
        napi_set_named_property(env, out, key, v) != napi_ok)
      return NULL;
  }
  return out;
}

/* serverMetricsText(ext) -> the Prometheus text. */
static napi_value js_server_metrics_text(napi_env env, napi_callback_info info) {
  napi_value argv[1], out = NULL;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nserver *s = arg_server(env, argv[0]);
  if (!s) return NULL;
  long n = weft_server_metrics_text(s->srv, NULL, 0);
  if (n < 0) return weft__node_throw(env, (int)n, "metricsText");
  char *buf = malloc((size_t)n + 1);
  if (!buf) return weft__node_throw(env, WEFT_ENOMEM, "metricsText");
  weft_server_metrics_text(s->srv, buf, (size_t)n + 1);
  napi_create_string_utf8(env, buf, (size_t)n, &out);
  free(buf);
  return out;
}

/* setPsk(serverExt | clientExt, Buffer) -> 0 | -code: the pre-shared key
 * of tcp:// and ipc:// (before listen / open). */
static napi_value js_set_psk(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  void *key = NULL;
  size_t len = 0;
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  weft__nclosable *owner = weft__node_unwrap_any(env, argv[0]);
  if (!owner) return NULL;
  if (napi_get_buffer_info(env, argv[1], &key, &len) != napi_ok)
    return weft__node_throw_type(env, "psk must be a Buffer or a string");
  int rc = owner->kind == WEFT__N_SERVER ? weft_server_set_psk(owner->handle, key, len)
                                         : weft_client_set_psk(owner->handle, key, len);
  return weft__node_int(env, rc);
}

int weft__node_define_server(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("serverNew", js_server_new),
      WEFT__NODE_FN("serverSetOption", js_server_set_option),
      WEFT__NODE_FN("serverListen", js_server_listen),
      WEFT__NODE_FN("serverUrls", js_server_urls),
      WEFT__NODE_FN("serverAttach", js_server_attach),
      WEFT__NODE_FN("clientLibrary", js_client_library),
      WEFT__NODE_FN("serverAdopt", js_server_adopt),
      WEFT__NODE_FN("serverPathname", js_server_pathname),
      WEFT__NODE_FN("serverDestroy", js_server_destroy),
      WEFT__NODE_FN("serverSend", js_server_send),
      WEFT__NODE_FN("serverSendEvent", js_server_send_event),
      WEFT__NODE_FN("serverAddAsset", js_server_add_asset),
      WEFT__NODE_FN("serverMetrics", js_server_metrics),
      WEFT__NODE_FN("serverMetricsText", js_server_metrics_text),
      WEFT__NODE_FN("setPsk", js_set_psk),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
