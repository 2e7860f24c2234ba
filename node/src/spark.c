/*
 * Spark: one connection of a server behind a JavaScript Spark
 * (lib/spark.js). The wrapper retains the spark from its connection event;
 * its external's finalizer releases it, so a Spark kept after its
 * disconnection answers WEFT_ECLOSED (and keeps its id). The Spark object
 * is held strongly from connection to disconnection only.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

static weft__nspark *arg_spark(napi_env env, napi_value v) {
  return weft__node_unwrap(env, v, WEFT__N_SPARK);
}

static void spark_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nspark *ns = data;
  weft_spark_release(ns->spark);
  weft_server_release(ns->srv);
  weft__node_retained(ns->a, -WEFT__NODE_SPARK_BYTES);
  free(ns);
}

napi_value weft__node_spark_obj(napi_env env, weft_spark *spark) {
  weft__nspark *ns = spark ? weft_spark_get_user(spark) : NULL;
  return ns ? weft__node_deref(env, ns->obj) : NULL;
}

/* ---- events ---- */

static void ev_connection(weft_spark *spark, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value server = weft__node_deref(env, s->base.obj), argv[2], sp;
  weft__nspark *ns = calloc(1, sizeof(*ns));
  if (!ns || !server) goto fail;
  ns->kind = WEFT__N_SPARK;
  ns->a = a;
  ns->spark = spark;
  ns->srv = s->srv;
  weft_spark_retain(spark);
  weft_server_retain(s->srv);
  weft__node_retained(a, WEFT__NODE_SPARK_BYTES);
  if (napi_create_external(env, ns, spark_finalize, NULL, &argv[0]) != napi_ok) {
    spark_finalize(env, ns, NULL);
    goto fail;
  }
  argv[1] = weft__node_str(env, weft_spark_id(spark));
  sp = weft__node_call(a, CB_SPARK, server, 2, argv);
  if (!sp || napi_create_reference(env, sp, 1, &ns->obj) != napi_ok) goto fail;
  weft_spark_set_user(spark, ns, NULL);
  weft__node_call(a, CB_CONNECTION, server, 1, &sp);
fail:
  napi_close_handle_scope(env, scope);
}

static void ev_disconnection(weft_spark *spark, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  weft__nspark *ns = weft_spark_get_user(spark);
  napi_handle_scope scope;
  if (!ns || !ns->obj) return;
  if (!a->teardown && napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value sp = weft__node_deref(env, ns->obj);
    weft__node_call(a, CB_DISCONNECTION, weft__node_deref(env, s->base.obj), 1, &sp);
    napi_close_handle_scope(env, scope);
  }
  napi_delete_reference(env, ns->obj); /* the Spark may now be collected */
  ns->obj = NULL;
}

static void ev_data(weft_spark *spark, const weft_value *msg, void *user) {
  weft__addon *a = ((weft__nserver *)user)->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value sp = weft__node_spark_obj(env, spark), v = sp ? weft__node_to_js(env, msg) : NULL;
  if (v) weft__node_call(a, CB_DATA, sp, 1, &v);
  napi_close_handle_scope(env, scope);
}

static void ev_drain(weft_spark *spark, void *user) {
  weft__addon *a = ((weft__nserver *)user)->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return;
  weft__node_call(a, CB_DRAIN, weft__node_spark_obj(env, spark), 0, NULL);
  napi_close_handle_scope(env, scope);
}

void weft__node_spark_events(weft_server_events *ev) {
  ev->connection = ev_connection;
  ev->disconnection = ev_disconnection;
  ev->data = ev_data;
  ev->drain = ev_drain;
}

/* ---- calls ---- */

/* sparkWrite(ext, value) -> 0 | 1 (above the high-water mark) | -code */
static napi_value js_spark_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns) return NULL;
  weft_value *v = weft__node_from_js(env, argv[1]);
  if (!v) return NULL;
  int rc = weft_spark_write(ns->spark, v);
  weft_value_free(v);
  return weft__node_int(env, rc);
}

/* sparkEnd(ext, value|undefined, flags) -> 0 | -code (flags: weft_spark_end's). */
static napi_value js_spark_end(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  napi_valuetype t;
  int32_t flags = 0;
  weft_value *v = NULL;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns || napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !(v = weft__node_from_js(env, argv[1]))) return NULL;
  napi_get_value_int32(env, argv[2], &flags);
  int rc = weft_spark_end(ns->spark, v, flags);
  weft_value_free(v);
  return weft__node_int(env, rc);
}

/* Fills obj[name] = value for each pair of a spark's list (header names in
 * lower case, Node's convention; the query as it is). */
static int pairs(napi_env env, napi_value obj, const weft_spark *sp, size_t n,
                 int (*at)(const weft_spark *, size_t, const char **, const char **), int lower) {
  for (size_t i = 0; i < n; i++) {
    const char *k, *v;
    char buf[128], *low = NULL;
    if (at(sp, i, &k, &v) != 0) continue;
    size_t kl = strlen(k);
    if (lower) {
      low = kl < sizeof(buf) ? buf : malloc(kl + 1);
      if (!low) return -1;
      for (size_t j = 0; j <= kl; j++)
        low[j] = (k[j] >= 'A' && k[j] <= 'Z') ? (char)(k[j] + 32) : k[j];
      k = low;
    }
    napi_value key = weft__node_str(env, k), val = weft__node_str(env, v);
    if (low != buf) free(low);
    if (!key || !val || napi_set_property(env, obj, key, val) != napi_ok) return -1;
  }
  return 0;
}

/* sparkInfo(ext) -> { headers, query, ip, port, url, recovered } (the
 * request's, enumerated: weft_spark_header_at / _query_at; recovered:
 * weft_spark_recovered). */
static napi_value js_spark_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, headers, query;
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  if (!ns) return NULL;
  const weft_spark *sp = ns->spark;
  const char *addr = weft_spark_address(sp), *url = weft_spark_url(sp);
  NAPI_OK(napi_create_object(env, &out));
  NAPI_OK(napi_create_object(env, &headers));
  NAPI_OK(napi_create_object(env, &query));
  if (pairs(env, headers, sp, weft_spark_header_count(sp), weft_spark_header_at, 1) ||
      pairs(env, query, sp, weft_spark_query_count(sp), weft_spark_query_at, 0))
    goto fail;
  NAPI_OK(napi_set_named_property(env, out, "headers", headers));
  NAPI_OK(napi_set_named_property(env, out, "query", query));
  NAPI_OK(napi_set_named_property(env, out, "ip", weft__node_str(env, addr ? addr : "")));
  NAPI_OK(napi_set_named_property(env, out, "port", weft__node_int(env, weft_spark_port(sp))));
  NAPI_OK(napi_set_named_property(env, out, "url", weft__node_str(env, url ? url : "")));
  napi_value rec;
  NAPI_OK(napi_get_boolean(env, weft_spark_recovered(sp) == 1, &rec));
  NAPI_OK(napi_set_named_property(env, out, "recovered", rec));
  return out;
fail:
  return NULL;
}

/* sparkBuffered(ext) -> bytes queued, not yet handed to the kernel. */
static napi_value js_spark_buffered(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nspark *ns = arg_spark(env, argv[0]);
  return ns ? weft__node_int(env, (int64_t)weft_spark_buffered_amount(ns->spark)) : NULL;
}

int weft__node_define_spark(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("sparkWrite", js_spark_write),
      WEFT__NODE_FN("sparkEnd", js_spark_end),
      WEFT__NODE_FN("sparkInfo", js_spark_info),
      WEFT__NODE_FN("sparkBuffered", js_spark_buffered),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
