/*
 * Transforms written in JavaScript (server.transform(), client.transform()),
 * run by the core's plugin pipeline (weft/plugin.h) through one trampoline
 * per server or client: so they see every message the core reads or writes
 * (broadcasts, rooms, events with acks), in the core's order.
 *
 * The trampoline is registered at construction (transformsAttach), after
 * the extensions and before the server listens or the client opens (the
 * core's rule), and calls
 * JavaScript only while transforms exist (tr->in, tr->out): a server
 * without transforms pays one C call per message.
 *
 *  - incoming: the message goes to JavaScript, which runs the transforms
 *    and delivers what survives to the Spark (or Client) itself, now or
 *    after an asynchronous transform; the core's data event is skipped
 *    (WEFT_SWALLOW), so the value is converted once.
 *  - outgoing (servers): JavaScript answers [value] (replace), or false
 *    (dropped, or delivered later: an asynchronous transform writes its
 *    result with transformedWrite(), which the trampoline lets through).
 * The core has no outgoing hook for clients: lib/client.js runs a client's
 * outgoing transforms before it writes.
 */
#include <stdlib.h>

#include "addon.h"

/* Calls the transform dispatcher: this = the spark or client. Returns the
 * JS answer, or NULL (threw, teardown). */
static napi_value run(weft__ntransforms *tr, napi_value self, int outgoing, const weft_value *msg) {
  weft__addon *a = tr->a;
  napi_env env = a->env;
  napi_value argv[2];
  if (!self) return NULL;
  napi_get_boolean(env, outgoing != 0, &argv[0]);
  argv[1] = weft__node_to_js(env, msg);
  return argv[1] ? weft__node_call(a, CB_TRANSFORM, self, 2, argv) : NULL;
}

/* incoming (servers) and client_incoming: JavaScript delivers. */
static int deliver(weft__ntransforms *tr, weft_spark *spark, const weft_value *msg) {
  weft__addon *a = tr->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (!tr->in) return WEFT_PASS;
  /* No transform looks at this type: the core delivers it, no JavaScript. */
  if (tr->in_types && !(tr->in_types & WEFT_PLUGIN_TYPE(weft_value_type(msg)))) return WEFT_PASS;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return WEFT_SWALLOW;
  napi_value self =
      spark ? weft__node_spark_obj(env, spark) : weft__node_deref(env, tr->owner->obj);
  run(tr, self, 0, msg);
  napi_close_handle_scope(env, scope);
  return WEFT_SWALLOW;
}

static int tr_incoming(weft_spark *spark, const weft_value *msg, weft_value **replace, void *user) {
  (void)replace;
  return deliver(user, spark, msg);
}

static int tr_client_incoming(weft_client *client, const weft_value *msg, weft_value **replace,
                              void *user) {
  (void)client;
  (void)replace;
  return deliver(user, NULL, msg);
}

static int tr_outgoing(weft_spark *spark, const weft_value *msg, weft_value **replace, void *user) {
  weft__ntransforms *tr = user;
  weft__addon *a = tr->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  int rc = WEFT_SWALLOW;
  if (!tr->out || tr->bypass) return WEFT_PASS;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return WEFT_PASS;
  napi_value r = run(tr, weft__node_spark_obj(env, spark), 1, msg), item;
  bool isarr = false;
  if (r && napi_is_array(env, r, &isarr) == napi_ok && isarr &&
      napi_get_element(env, r, 0, &item) == napi_ok) {
    *replace = weft__node_from_js(env, item);
    if (*replace) {
      rc = WEFT_PASS;
    } else { /* not encodable: the error is the writer's */
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      rc = WEFT_ETYPE;
    }
  }
  napi_close_handle_scope(env, scope);
  return rc;
}

static void tr_destroy(void *user) { free(user); }

static const weft_plugin_ops ops = {.version = WEFT_PLUGIN_VERSION,
                                    .size = sizeof(weft_plugin_ops),
                                    .name = "node.transforms",
                                    .incoming = tr_incoming,
                                    .outgoing = tr_outgoing,
                                    .destroy = tr_destroy,
                                    .client_incoming = tr_client_incoming};

/* The trampoline of a server or client external, or NULL with a TypeError;
 * NULL too (and *closed set) once the server or client is gone, with its
 * plugins (the core answers NULL for a closed handle's plugin). */
static weft__ntransforms *arg_transforms(napi_env env, napi_value v, int *closed) {
  napi_valuetype t;
  void *p = NULL;
  *closed = 0;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, v, &p) == napi_ok && p) {
    void *tr = NULL;
    if (*(uint32_t *)p == WEFT__N_SERVER)
      tr = weft_server_plugin(((weft__nserver *)p)->srv, ops.name);
    else if (*(uint32_t *)p == WEFT__N_CLIENT)
      tr = weft_client_plugin(((weft__nclient *)p)->c, ops.name);
    else
      p = NULL;
    *closed = p && !tr;
    if (tr) return tr;
  }
  if (!*closed) weft__node_throw_type(env, "not a weft server or client handle");
  return NULL;
}

/* transformsAttach(ext) -> 0 | -code: registers the trampoline, after the
 * extensions (so they read their own packets first) and before the server
 * listens or the client opens. */
static napi_value js_transforms_attach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *p = NULL;
  int rc;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__ntransforms *tr = calloc(1, sizeof(*tr));
  if (!tr) return weft__node_throw(env, WEFT_ENOMEM, "transforms");
  tr->a = weft__node_addon(env);
  if ((p = weft__node_unwrap_any(env, argv[0])) == NULL) {
    free(tr);
    return NULL;
  }
  if (*(uint32_t *)p == WEFT__N_SERVER)
    rc = weft_server_use(((weft__nserver *)p)->srv, &ops, tr); /* frees tr on failure */
  else
    rc = weft_client_use(((weft__nclient *)p)->c, &ops, tr);
  if (rc == 0) tr->owner = p;
  return weft__node_int(env, rc);
}

/* transformCounts(ext, incoming, outgoing, incomingTypes): how many
 * transforms JavaScript has (0: the trampoline passes in C), and the
 * message types the incoming ones look at (WEFT_PLUGIN_TYPE bits, 0: all;
 * lib/transforms.js keeps each one's and skips it for the others). */
static napi_value js_transform_counts(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint32_t in = 0, out = 0, in_types = 0;
  if (weft__node_args(env, info, 4, argv) != 0) return NULL;
  int closed;
  weft__ntransforms *tr = arg_transforms(env, argv[0], &closed);
  if (!tr) return closed ? weft__node_undefined(env) : NULL;
  napi_get_value_uint32(env, argv[1], &in);
  napi_get_value_uint32(env, argv[2], &out);
  napi_get_value_uint32(env, argv[3], &in_types);
  tr->in = in;
  tr->out = out;
  tr->in_types = in_types;
  return weft__node_undefined(env);
}

/* transformedWrite(serverExt, sparkExt, value) -> weft_spark_write's answer,
 * past this server's outgoing transforms (they ran already). */
static napi_value js_transformed_write(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  int closed;
  weft__ntransforms *tr = arg_transforms(env, argv[0], &closed);
  weft__nspark *ns = tr ? weft__node_unwrap(env, argv[1], WEFT__N_SPARK) : NULL;
  if (closed) return weft__node_int(env, WEFT_ECLOSED);
  if (!ns) return NULL;
  weft_value *v = weft__node_from_js(env, argv[2]);
  if (!v) return NULL;
  tr->bypass = 1;
  int rc = weft_spark_write(ns->spark, v);
  tr->bypass = 0;
  weft_value_free(v);
  return weft__node_int(env, rc);
}

int weft__node_define_transform(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("transformsAttach", js_transforms_attach),
      WEFT__NODE_FN("transformCounts", js_transform_counts),
      WEFT__NODE_FN("transformedWrite", js_transformed_write),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
