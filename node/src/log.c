/*
 * The loop's log (weft_loop_set_log): each record goes to the dispatcher
 * with the server or client it is about as `this` (lib/log.js queues it
 * for the next tick, so JavaScript never runs inside the core's record).
 */
#include "addon.h"

static void on_log(const weft_log_record *r, void *user) {
  weft__addon *a = user;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown) return;
  weft__nclosable *c = weft__node_live_find(a, r->server ? (void *)r->server : (void *)r->client);
  if (!c || !c->obj || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value null, argv[5];
  napi_get_null(env, &null);
  argv[0] = weft__node_int(env, r->level);
  argv[1] = weft__node_str(env, r->event);
  argv[2] = weft__node_str(env, r->message);
  argv[3] = r->spark ? weft__node_str(env, r->spark) : null;
  argv[4] = r->kind ? weft__node_str(env, r->kind) : null;
  if (argv[0] && argv[1] && argv[2] && argv[3] && argv[4])
    weft__node_call(a, CB_LOG, weft__node_deref(env, c->obj), 5, argv);
  napi_close_handle_scope(env, scope);
}

/* logLevel(level): the loop's level (WEFT_LOG_OFF..WEFT_LOG_DEBUG). */
static napi_value js_log_level(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t level = -1;
  weft__addon *a = weft__node_addon(env);
  if (weft__node_args(env, info, 1, argv) != 0 || !a) return NULL;
  if (napi_get_value_int32(env, argv[0], &level) != napi_ok)
    return weft__node_throw_type(env, "level must be a number");
  weft_loop *loop = weft__node_loop(env, a);
  if (!loop) return weft__node_throw(env, WEFT_ECLOSED, "loop");
  int rc = weft_loop_set_log(loop, level, level > 0 ? on_log : NULL, a, NULL);
  if (rc != 0) return weft__node_throw(env, rc, "logLevel");
  return weft__node_undefined(env);
}

int weft__node_define_log(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {WEFT__NODE_FN("logLevel", js_log_level)};
  return napi_define_properties(env, exports, 1, props) != napi_ok;
}
