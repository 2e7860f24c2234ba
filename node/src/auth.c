/*
 * What a server asks JavaScript before a spark exists: the authorization of
 * an upgrade (Primus's authorize, answered now or later) and the spark's id
 * (the idGenerator option). A request JavaScript lets go of without an
 * answer is refused (500) when its external is collected.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

typedef struct weft__nauth {
  uint32_t kind;  /* WEFT__N_AUTH */
  weft_auth *req; /* NULL once answered */
} weft__nauth;

static void auth_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nauth *na = data;
  if (na->req) weft_auth_deny(na->req, 500, "no answer");
  free(na);
}

static void ev_authorize(weft_auth *req, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  napi_value ext;
  weft__nauth *na = NULL;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) {
    weft_auth_deny(req, 503, "Server closing");
    return;
  }
  na = calloc(1, sizeof(*na));
  if (!na || napi_create_external(env, na, auth_finalize, NULL, &ext) != napi_ok) {
    free(na);
    weft_auth_deny(req, 500, "Internal error");
  } else {
    na->kind = WEFT__N_AUTH;
    na->req = req;
    weft__node_call(a, CB_AUTHORIZE, weft__node_deref(env, s->base.obj), 1, &ext);
  }
  napi_close_handle_scope(env, scope);
}

/* authInfo(ext, what, name?) -> string | undefined; what: header, address,
 * url, query; port -> number | undefined. */
static napi_value js_auth_info(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char what[16];
  size_t len;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nauth *na = weft__node_unwrap(env, argv[0], WEFT__N_AUTH);
  if (!na) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], what, sizeof(what), &len) != napi_ok)
    return weft__node_throw_type(env, "what must be a string");
  const char *r = NULL;
  if (!na->req) {
    r = NULL;
  } else if (!strcmp(what, "port")) {
    int port = weft_auth_port(na->req);
    return port >= 0 ? weft__node_int(env, port) : weft__node_undefined(env);
  } else if (!strcmp(what, "address")) {
    r = weft_auth_address(na->req);
  } else if (!strcmp(what, "url")) {
    r = weft_auth_url(na->req);
  } else {
    char *name = weft__node_string(env, argv[2], NULL);
    if (!name) return weft__node_throw_type(env, "name must be a string");
    r = !strcmp(what, "header")  ? weft_auth_header(na->req, name)
        : !strcmp(what, "query") ? weft_auth_query(na->req, name)
                                 : NULL;
    free(name);
  }
  return r ? weft__node_str(env, r) : weft__node_undefined(env);
}

/* authAnswer(ext, allow, status, message) -> 0 | -code (ESTATE when
 * answered before, ECLOSED when the peer is gone). */
static napi_value js_auth_answer(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  bool allow = false;
  int32_t status = 401;
  if (weft__node_args(env, info, 4, argv) != 0) return NULL;
  weft__nauth *na = weft__node_unwrap(env, argv[0], WEFT__N_AUTH);
  if (!na) return NULL;
  if (!na->req) return weft__node_int(env, WEFT_ESTATE);
  weft_auth *req = na->req;
  na->req = NULL;
  napi_get_value_bool(env, argv[1], &allow);
  if (allow) return weft__node_int(env, weft_auth_allow(req));
  napi_get_value_int32(env, argv[2], &status);
  char *msg = weft__node_string(env, argv[3], NULL);
  int rc = weft_auth_deny(req, status, msg ? msg : "Unauthorized");
  free(msg);
  return weft__node_int(env, rc);
}

/* ---- spark ids ---- */

/* The idGenerator's answer, when it is a string that fits; else the core's
 * own id (the generator returns non-zero). */
static int gen_id(char *buf, size_t cap, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  size_t len = 0;
  int rc = -1;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  napi_value id = weft__node_call(a, CB_ID, weft__node_deref(env, s->base.obj), 0, NULL);
  if (id && napi_get_value_string_utf8(env, id, buf, cap, &len) == napi_ok && len > 0 &&
      len < cap - 1 && strlen(buf) == len)
    rc = 0;
  napi_close_handle_scope(env, scope);
  return rc;
}

/* serverHook(ext, hook, on) -> 0 | -code: hook 0 is authorize, 1 the id
 * generator; on: the dispatcher (CB_AUTHORIZE, CB_ID) answers, off: the
 * core's default. The server block is the user (freed with the wrapper, so
 * no free_user). */
static napi_value js_server_hook(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  bool on = false;
  int32_t hook = -1;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nserver *s = weft__node_unwrap(env, argv[0], WEFT__N_SERVER);
  if (!s) return NULL;
  napi_get_value_int32(env, argv[1], &hook);
  napi_get_value_bool(env, argv[2], &on);
  int rc = hook == 0   ? weft_server_set_authorize(s->srv, on ? ev_authorize : NULL, s, NULL)
           : hook == 1 ? weft_server_set_id_generator(s->srv, on ? gen_id : NULL, s, NULL)
                       : WEFT_EINVAL;
  return weft__node_int(env, rc);
}

int weft__node_define_auth(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("serverHook", js_server_hook),
      WEFT__NODE_FN("authInfo", js_auth_info),
      WEFT__NODE_FN("authAnswer", js_auth_answer),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
