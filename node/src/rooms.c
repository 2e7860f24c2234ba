/*
 * Rooms (weft/ext.h): membership from JavaScript, and the policy that lets
 * clients join and leave (a synchronous JavaScript answer). Messages to
 * rooms go through the recipients call (server.c: weft_server_send). The
 * rooms of a spark are its server's: the spark's wrapper retains that
 * server, and the core answers NULL for the rooms of a closed one.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"
#include "weft/adapter.h"

/* The rooms of the server of a server or spark external; NULL with *rc
 * ECLOSED when the server closed (or has no rooms: lib/ checks that first),
 * NULL with a TypeError for another handle. */
static weft_rooms *rooms_of(napi_env env, napi_value v, weft__nspark **ns, int *rc) {
  napi_valuetype t;
  void *p = NULL;
  *ns = NULL;
  *rc = WEFT_ECLOSED;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, v, &p) == napi_ok && p) {
    if (*(uint32_t *)p == WEFT__N_SERVER) return weft_rooms_of_server(((weft__nserver *)p)->srv);
    if (*(uint32_t *)p == WEFT__N_SPARK) {
      *ns = p;
      return weft_rooms_of_server((*ns)->srv);
    }
  }
  *rc = 0;
  weft__node_throw_type(env, "not a weft server or spark handle");
  return NULL;
}

static napi_value names(napi_env env, weft_rooms *rs, int n,
                        const char *(*at)(weft_rooms *, const void *, size_t), const void *key) {
  napi_value arr;
  if (n < 0) return weft__node_throw(env, n, "rooms");
  if (napi_create_array_with_length(env, (size_t)n, &arr) != napi_ok) return NULL;
  for (int i = 0; i < n; i++) {
    napi_value v = weft__node_str(env, at(rs, key, (size_t)i));
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

/* roomsCall(serverExt | sparkExt, op, room?) -> depends on op:
 *   spark: join, leave, leaveAll (-> 0 | -code), has (-> 1 | 0 | -code),
 *          of (-> names);
 *   server: list (-> names), members (room -> spark ids). */
static napi_value js_rooms_call(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char op[12], *room = NULL;
  size_t len;
  weft__nspark *ns;
  int rc;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft_rooms *rs = rooms_of(env, argv[0], &ns, &rc);
  if (!rs) return rc ? weft__node_int(env, rc) : NULL;
  if (napi_get_value_string_utf8(env, argv[1], op, sizeof(op), &len) != napi_ok)
    return weft__node_throw_type(env, "op must be a string");
  napi_valuetype t;
  if (napi_typeof(env, argv[2], &t) == napi_ok && t != napi_undefined &&
      !(room = weft__node_string(env, argv[2], NULL)))
    return weft__node_throw_type(env, "room must be a string");
  napi_value out = NULL;
  weft_spark *sp = ns ? ns->spark : NULL;
  rc = WEFT_EINVAL;
  if (!strcmp(op, "list") && !ns)
    out = names(env, rs, weft_rooms_count(rs), at_room, NULL);
  else if (!strcmp(op, "members") && !ns && room)
    out = names(env, rs, weft_rooms_member_count(rs, room), at_member, room);
  else if (!strcmp(op, "of") && sp)
    out = names(env, rs, weft_rooms_of_spark_count(rs, sp), at_of_spark, sp);
  else if (!strcmp(op, "join") && sp && room)
    rc = weft_rooms_join(rs, sp, room);
  else if (!strcmp(op, "leave") && sp && room)
    rc = weft_rooms_leave(rs, sp, room);
  else if (!strcmp(op, "leaveAll") && sp)
    rc = weft_rooms_leave_all(rs, sp);
  else if (!strcmp(op, "has") && sp && room)
    rc = weft_rooms_has(rs, sp, room);
  free(room);
  return out ? out : weft__node_int(env, rc);
}

/* The policy: this = the server, (spark, room, join) -> true allows. */
static int policy_cb(weft_spark *spark, const char *room, int join, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  napi_value argv[3], r;
  bool yes = false;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return WEFT_EUNAUTHORIZED;
  argv[0] = weft__node_spark_obj(env, spark);
  argv[1] = weft__node_str(env, room);
  napi_get_boolean(env, join != 0, &argv[2]);
  if (argv[0] && argv[1]) {
    r = weft__node_call(a, CB_POLICY, weft__node_deref(env, s->base.obj), 3, argv);
    if (r) napi_get_value_bool(env, r, &yes);
  }
  napi_close_handle_scope(env, scope);
  return yes ? 0 : WEFT_EUNAUTHORIZED;
}

/* An array of C strings as a JS array of strings. */
static napi_value str_array(napi_env env, const char *const *v, size_t n) {
  napi_value arr;
  if (napi_create_array_with_length(env, n, &arr) != napi_ok) return NULL;
  for (size_t i = 0; i < n; i++)
    napi_set_element(env, arr, (uint32_t)i, weft__node_str(env, v[i]));
  return arr;
}

static void set_bool(napi_env env, napi_value obj, const char *key, int v) {
  napi_value b;
  napi_get_boolean(env, v != 0, &b);
  napi_set_named_property(env, obj, key, b);
}

/* The route policy: this = the server, (spark, {event, args, broadcast,
 * rooms, sockets, withSender}) -> false refuses; an object may set
 * broadcast and withSender; anything else serves the route as asked. */
static int route_cb(weft_spark *spark, weft_route *r, void *user) {
  weft__nserver *s = user;
  weft__addon *a = s->base.a;
  napi_env env = a->env;
  napi_handle_scope scope;
  napi_value argv[2], res, v;
  napi_valuetype t;
  int rc = WEFT_EUNAUTHORIZED;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return rc;
  argv[0] = weft__node_spark_obj(env, spark);
  if (!argv[0] || napi_create_object(env, &argv[1]) != napi_ok) goto out;
  napi_set_named_property(env, argv[1], "event", weft__node_str(env, r->event));
  v = r->args ? weft__node_to_js(env, r->args) : NULL;
  if (v) napi_set_named_property(env, argv[1], "args", v);
  set_bool(env, argv[1], "broadcast", r->broadcast);
  set_bool(env, argv[1], "withSender", r->with_sender);
  if ((v = str_array(env, r->rooms, r->n_rooms))) napi_set_named_property(env, argv[1], "rooms", v);
  if ((v = str_array(env, r->ids, r->n_ids))) napi_set_named_property(env, argv[1], "sockets", v);
  res = weft__node_call(a, CB_ROUTE, weft__node_deref(env, s->base.obj), 2, argv);
  if (!res || napi_typeof(env, res, &t) != napi_ok) goto out;
  if (t == napi_boolean) {
    bool yes = false;
    napi_get_value_bool(env, res, &yes);
    rc = yes ? 0 : WEFT_EUNAUTHORIZED;
  } else if (t == napi_object) {
    bool b;
    if (napi_get_named_property(env, res, "broadcast", &v) == napi_ok &&
        napi_get_value_bool(env, v, &b) == napi_ok)
      r->broadcast = b;
    if (napi_get_named_property(env, res, "withSender", &v) == napi_ok &&
        napi_get_value_bool(env, v, &b) == napi_ok)
      r->with_sender = b;
    rc = 0;
  } else {
    rc = t == napi_undefined ? 0 : WEFT_EUNAUTHORIZED;
  }
out:
  napi_close_handle_scope(env, scope);
  return rc;
}

/* routePolicy(serverExt, on) -> 0 | -code */
static napi_value js_route_policy(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on = false;
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  weft__nserver *s = weft__node_unwrap(env, argv[0], WEFT__N_SERVER);
  if (!s) return NULL;
  weft_emitter *em = weft_emitter_of_server(s->srv);
  if (!em) return weft__node_int(env, WEFT_ESTATE);
  napi_get_value_bool(env, argv[1], &on);
  return weft__node_int(env, weft_emitter_set_route_policy(em, on ? route_cb : NULL, s, NULL));
}

/* clientRoute(clientExt, event, args, broadcast, rooms, sockets, withSender)
 * -> 0 | -code (rooms, sockets: arrays of strings). */
static napi_value js_client_route(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  bool b = false, self = false;
  if (weft__node_args(env, info, 7, argv) != 0) return NULL;
  weft__nclient *nc = weft__node_unwrap(env, argv[0], WEFT__N_CLIENT);
  if (!nc) return NULL;
  weft_emitter *em = weft_emitter_of_client(nc->c);
  if (!em) return weft__node_int(env, WEFT_ESTATE);
  char *event = weft__node_string(env, argv[1], NULL);
  if (!event) return weft__node_throw_type(env, "event must be a string");
  weft_value *args = weft__node_from_js(env, argv[2]);
  weft_value *rooms = args ? weft__node_from_js(env, argv[4]) : NULL;
  weft_value *ids = rooms ? weft__node_from_js(env, argv[5]) : NULL;
  int64_t rc = WEFT_ENOMEM;
  if (ids) {
    const char *rv[64], *iv[64];
    napi_get_value_bool(env, argv[3], &b);
    napi_get_value_bool(env, argv[6], &self);
    weft_route r = {sizeof(r), event,
                    args,      b,
                    rv,        weft__node_strs(rooms, rv, 64),
                    iv,        weft__node_strs(ids, iv, 64),
                    self};
    rc = weft_emitter_route(em, &r);
  }
  free(event);
  weft_value_free(args);
  weft_value_free(rooms);
  weft_value_free(ids);
  return ids ? weft__node_int(env, rc) : NULL;
}

/* roomsPolicy(serverExt, on) -> 0 | -code */
static napi_value js_rooms_policy(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on = false;
  if (weft__node_args(env, info, 2, argv) != 0) return NULL;
  weft__nserver *s = weft__node_unwrap(env, argv[0], WEFT__N_SERVER);
  if (!s) return NULL;
  weft_rooms *rs = weft_rooms_of_server(s->srv);
  if (!rs) return weft__node_int(env, WEFT_ECLOSED);
  napi_get_value_bool(env, argv[1], &on);
  return weft__node_int(env, weft_rooms_set_client_policy(rs, on ? policy_cb : NULL, s, NULL));
}

/* A presence question on its way: JavaScript keeps the callback under
 * `token`; the answer comes as an ack (token, codeName|null, ids). */
typedef struct presence_ask {
  weft__addon *a;
  double token;
} presence_ask;

static void on_presence(weft_server *srv, int status, const char *const *ids, size_t n,
                        void *user) {
  presence_ask *k = user;
  weft__addon *a = k->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  (void)srv;
  if (!a->teardown && napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value argv[3], recv = NULL;
    napi_get_global(env, &recv);
    napi_create_double(env, k->token, &argv[0]);
    if (status == 0)
      napi_get_null(env, &argv[1]);
    else
      argv[1] = weft__node_str(env, weft_err_name(status));
    napi_create_array_with_length(env, n, &argv[2]);
    for (size_t i = 0; i < n; i++) {
      napi_value v = weft__node_str(env, ids[i]);
      if (v) napi_set_element(env, argv[2], (uint32_t)i, v);
    }
    weft__node_call(a, CB_ACK, recv, 3, argv);
    napi_close_handle_scope(env, scope);
  }
  free(k);
}

/* roomsPresence(serverExt, room, token) -> 0 | -code (then no answer) */
static napi_value js_rooms_presence(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nserver *s = weft__node_unwrap(env, argv[0], WEFT__N_SERVER);
  if (!s) return NULL;
  char *room = weft__node_string(env, argv[1], NULL);
  if (!room) return weft__node_throw_type(env, "room must be a string");
  presence_ask *k = malloc(sizeof(*k));
  int rc = k ? 0 : WEFT_ENOMEM;
  if (k) {
    k->a = weft__node_addon(env);
    napi_get_value_double(env, argv[2], &k->token);
    rc = weft_server_presence(s->srv, room, on_presence, k);
    if (rc) free(k);
  }
  free(room);
  return weft__node_int(env, rc);
}

int weft__node_define_rooms(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("roomsCall", js_rooms_call),
      WEFT__NODE_FN("roomsPolicy", js_rooms_policy),
      WEFT__NODE_FN("routePolicy", js_route_policy),
      WEFT__NODE_FN("clientRoute", js_client_route),
      WEFT__NODE_FN("roomsPresence", js_rooms_presence),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
