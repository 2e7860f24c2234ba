/*
 * Events with acknowledgements (weft/ext.h, the emitter): the handler of
 * every event of a server's or client's emitter is the JavaScript event
 * dispatcher (lib/ext.js finds the listeners); acks carry a JavaScript
 * token; a reply handed to JavaScript is answered from there, or dropped
 * (weft_reply_drop: "no answer") when its external is collected unanswered.
 * Errors on the wire reach the server's or client's error event through
 * the core (no handler is set here).
 */
#include <stdlib.h>

#include "addon.h"

/* A reply handed to JavaScript. It stays valid until answered while its
 * emitter lives: the owner (retained) answers NULL for its emitter once
 * closed, and then the reply is the core's to forget. */
typedef struct weft__nreply {
  uint32_t kind;    /* WEFT__N_REPLY */
  weft_reply *r;    /* NULL once answered */
  weft_emitter *em; /* the emitter it came from */
  weft_server *srv; /* the owner, retained (one of the two) */
  weft_client *cli;
} weft__nreply;

/* Unanswered: the core keeps an unanswered reply until it is answered,
 * even past its emitter (answering it then only frees it). */
static int reply_live(const weft__nreply *nr) { return nr->r != NULL; }

static void reply_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  weft__nreply *nr = data;
  if (reply_live(nr)) weft_reply_drop(nr->r); /* collected without an answer */
  if (nr->srv) weft_server_release(nr->srv);
  if (nr->cli) weft_client_release(nr->cli);
  free(nr);
}

/* The external of a reply for JavaScript (its owner: a server or a
 * client), or NULL (then the reply is not answered yet). */
static napi_value make_reply(napi_env env, weft_server *srv, weft_client *cli, weft_reply *r) {
  napi_value out;
  weft__nreply *nr = calloc(1, sizeof(*nr));
  if (!nr) return NULL;
  nr->kind = WEFT__N_REPLY;
  nr->r = r;
  nr->em = srv ? weft_emitter_of_server(srv) : weft_emitter_of_client(cli);
  if (srv && weft_server_retain(srv) == 0)
    nr->srv = srv;
  else if (cli && weft_client_retain(cli) == 0)
    nr->cli = cli;
  if (napi_create_external(env, nr, reply_finalize, NULL, &out) != napi_ok) {
    nr->r = NULL;
    reply_finalize(env, nr, NULL);
    return NULL;
  }
  return out;
}

napi_value weft__node_reply_ext(napi_env env, weft__nclosable *owner, weft_reply *r) {
  return make_reply(env, owner->kind == WEFT__N_SERVER ? owner->handle : NULL,
                    owner->kind == WEFT__N_CLIENT ? owner->handle : NULL, r);
}

/* A remote event: this = the Spark (servers) or the Client. */
static void on_event(const weft_event *ev, void *user) {
  weft__nclosable *owner = user;
  weft__addon *a = owner->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  napi_value argv[3], self;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) {
    if (ev->reply) weft_reply_drop(ev->reply);
    return;
  }
  self = ev->spark ? weft__node_spark_obj(env, ev->spark) : weft__node_deref(env, owner->obj);
  argv[0] = weft__node_str(env, ev->name);
  argv[1] = weft__node_to_js(env, ev->args);
  argv[2] = weft__node_undefined(env);
  if (!self || !argv[0] || !argv[1]) goto fail;
  if (ev->reply) {
    argv[2] = make_reply(env, owner->kind == WEFT__N_SERVER ? owner->handle : NULL,
                         owner->kind == WEFT__N_CLIENT ? owner->handle : NULL, ev->reply);
    if (!argv[2]) goto fail;
  }
  weft__node_call(a, CB_EVENT, self, 3, argv);
  napi_close_handle_scope(env, scope);
  return;
fail:
  if (ev->reply) weft_reply_drop(ev->reply);
  napi_close_handle_scope(env, scope);
}

/* replyAnswer(replyExt, ok, value, token) -> 0 | -code (ECLOSED: answered
 * before, or the owner closed). token >= 0: the answer carries the callback
 * JavaScript keeps under it (weft_reply_resolve_cb). Throws when the value
 * cannot be converted (then it is not answered yet). */
static napi_value js_reply_answer(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  napi_valuetype t;
  bool ok = false;
  weft_value *v = NULL;
  if (weft__node_args(env, info, 4, argv) != 0) return NULL;
  weft__nreply *nr = weft__node_unwrap(env, argv[0], WEFT__N_REPLY);
  if (!nr || napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
  if (!reply_live(nr)) return weft__node_int(env, WEFT_ECLOSED);
  napi_get_value_bool(env, argv[1], &ok);
  if (t != napi_undefined && !(v = weft__node_from_js(env, argv[2]))) return NULL;
  weft_reply *r = nr->r;
  nr->r = NULL;
  weft__nack *k = ok ? weft__node_new_ack(env, argv[3], nr->srv, nr->cli) : NULL;
  int rc = k    ? weft_reply_resolve_cb(r, v, WEFT_EMIT_DEFAULT_TIMEOUT, weft__node_on_ack, k)
           : ok ? weft_reply_resolve(r, v)
                : weft_reply_reject(r, v);
  if (k && rc != 0) free(k); /* not sent: the callback never runs */
  weft_value_free(v);
  return weft__node_int(env, rc);
}

/* ---- acks ---- */

/* An ack on its way (addon.h): a reply the answer carries is srv's or cli's. */
void weft__node_on_ack(const weft_ack *ack, void *user) {
  weft__nack *k = user;
  weft__addon *a = k->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (!a->teardown && napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value argv[4], recv = NULL;
    napi_get_global(env, &recv);
    napi_create_double(env, k->token, &argv[0]);
    if (ack->status == 0)
      napi_get_null(env, &argv[1]);
    else
      argv[1] = weft__node_str(env, weft_err_name(ack->status));
    argv[2] = ack->value ? weft__node_to_js(env, ack->value) : NULL;
    if (!argv[2]) argv[2] = weft__node_undefined(env);
    /* A callback the answer carries: JavaScript answers it, or it is
     * dropped when collected (weft_reply_keep: past this call). */
    argv[3] = NULL;
    if (ack->reply && weft_reply_keep(ack->reply) == 0)
      argv[3] = make_reply(env, k->srv, k->cli, ack->reply);
    if (!argv[3]) argv[3] = weft__node_undefined(env);
    weft__node_call(a, CB_ACK, recv, 4, argv);
    napi_close_handle_scope(env, scope);
  }
  free(k);
}

weft__nack *weft__node_new_ack(napi_env env, napi_value token, weft_server *srv, weft_client *cli) {
  double t = -1;
  napi_get_value_double(env, token, &t);
  if (!(t >= 0)) return NULL;
  weft__nack *k = malloc(sizeof(*k));
  if (k) {
    k->a = weft__node_addon(env);
    k->token = t;
    k->srv = srv;
    k->cli = cli;
  }
  return k;
}

/* The emitter of a spark's server or of a client (*to: the spark); NULL
 * when off or closed (the core answers NULL for a closed handle's
 * plugins); NULL with a TypeError for another handle (*bad). */
static weft_emitter *emitter_of(napi_env env, napi_value v, weft_spark **to, int *bad) {
  napi_valuetype t;
  void *p = NULL;
  *to = NULL;
  *bad = 0;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, v, &p) == napi_ok && p) {
    if (*(uint32_t *)p == WEFT__N_SPARK) {
      *to = ((weft__nspark *)p)->spark;
      return weft_emitter_of_server(((weft__nspark *)p)->srv);
    }
    if (*(uint32_t *)p == WEFT__N_CLIENT) return weft_emitter_of_client(((weft__nclient *)p)->c);
  }
  *bad = 1;
  weft__node_throw_type(env, "not a weft spark or client handle");
  return NULL;
}

/* emit(sparkExt | clientExt, event, args, timeout, token) -> 0 | 1 | -code
 * timeout < 0: the emitter's default; token < 0: no ack wanted. */
static napi_value js_emit(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  double timeout = -1;
  weft_spark *to;
  int bad;
  if (weft__node_args(env, info, 5, argv) != 0) return NULL;
  weft_emitter *em = emitter_of(env, argv[0], &to, &bad);
  if (!em) return bad ? NULL : weft__node_int(env, WEFT_ECLOSED);
  char *event = weft__node_string(env, argv[1], NULL);
  if (!event) return weft__node_throw_type(env, "event must be a string");
  weft_value *args = weft__node_from_js(env, argv[2]);
  if (!args) {
    free(event);
    return NULL;
  }
  napi_get_value_double(env, argv[3], &timeout);
  void *ext = NULL;
  napi_get_value_external(env, argv[0], &ext);
  weft__nack *k = weft__node_new_ack(env, argv[4], to ? ((weft__nspark *)ext)->srv : NULL,
                                     to ? NULL : ((weft__nclient *)ext)->c);
  uint32_t tmo =
      timeout >= 0 && timeout <= 4294967294.0 ? (uint32_t)timeout : WEFT_EMIT_DEFAULT_TIMEOUT;
  int rc = weft_emitter_emit(em, to, event, args, tmo, k ? weft__node_on_ack : NULL, k);
  if (rc < 0) free(k);
  free(event);
  weft_value_free(args);
  return weft__node_int(env, rc);
}

/* clientRoom(clientExt, join, room | null, token) -> 0 | -code: a null
 * room leaves every room. */
static napi_value js_client_room(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  bool join = false;
  if (weft__node_args(env, info, 4, argv) != 0) return NULL;
  weft__nclient *nc = weft__node_unwrap(env, argv[0], WEFT__N_CLIENT);
  if (!nc) return NULL;
  weft_emitter *em = weft_emitter_of_client(nc->c);
  if (!em) return weft__node_int(env, WEFT_ECLOSED);
  napi_get_value_bool(env, argv[1], &join);
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  char *room = t == napi_null ? NULL : weft__node_string(env, argv[2], NULL);
  if (!room && t != napi_null) return weft__node_throw_type(env, "room must be a string");
  weft__nack *k = weft__node_new_ack(env, argv[3], NULL, nc->c);
  int rc = !room  ? weft_emitter_leave_all(em, k ? weft__node_on_ack : NULL, k)
           : join ? weft_emitter_join(em, room, k ? weft__node_on_ack : NULL, k)
                  : weft_emitter_leave(em, room, k ? weft__node_on_ack : NULL, k);
  if (rc < 0) free(k);
  free(room);
  return weft__node_int(env, rc);
}

/* emitterListen(serverExt | clientExt) -> 0 | -code: every event of the
 * owner's emitter (after the emitter option) goes to the dispatcher. */
static napi_value js_emitter_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nclosable *owner = weft__node_unwrap_any(env, argv[0]);
  if (!owner) return NULL;
  weft_emitter *em = owner->kind == WEFT__N_SERVER ? weft_emitter_of_server(owner->handle)
                                                   : weft_emitter_of_client(owner->handle);
  if (!em) return weft__node_int(env, WEFT_ESTATE);
  return weft__node_int(env, weft_emitter_on(em, "*", on_event, owner, NULL));
}

int weft__node_define_emitter(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("emitterListen", js_emitter_listen),
      WEFT__NODE_FN("emit", js_emit),
      WEFT__NODE_FN("clientRoom", js_client_room),
      WEFT__NODE_FN("replyAnswer", js_reply_answer),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
