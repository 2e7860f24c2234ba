/*
 * What the application hooks into a server's or client's life, written in
 * Lua over the core's C hooks: plugins and transforms (weft/plugin.h, one
 * ops struct per plugin), authorization of upgrades (the auth userdata) and
 * spark ids. The Lua files in lua/weft/ turn the constructors' options into these.
 */
#include <stdlib.h>
#include <string.h>

#include "weft_lua.h"

/* A registration holding one Lua value, freed by the core's free_user. */
typedef struct reg {
  weft__lloop *lp;
  int ref;
} reg;

static reg *reg_new(lua_State *L, int idx) {
  reg *r = malloc(sizeof(*r));
  if (!r) return NULL;
  r->lp = LOOP_UP(L);
  r->ref = weft__lref(L, idx);
  return r;
}

static void reg_free(void *user) {
  reg *r = user;
  weft__lunref(r->lp->L, &r->ref);
  free(r);
}

/* ---- plugins ---- */

typedef struct lplugin {
  weft_plugin_ops ops; /* its own: the name differs per plugin */
  reg r;               /* the plugin's table */
  weft__lowner *o;
  char name[];
} lplugin;

typedef struct hook_ctx {
  lplugin *p;
  const char *hook;
  weft_spark *sp;
  const weft_value *msg;
  weft_value **replace;
  int rc;
} hook_ctx;

/* table[hook](spark?, msg?) */
static int push_hook(lua_State *L, weft__lcall *c) {
  hook_ctx *h = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->p->r.ref);
  lua_getfield(L, -1, h->hook);
  if (lua_type(L, -1) != LUA_TFUNCTION) return -1;
  int n = 0;
  if (h->sp) weft__lspark_new(L, h->sp, h->p->o), n++;
  if (h->msg) weft__lpush_value(c->lp, L, h->msg), n++;
  return n;
}

/* A transform's answer: the message (replaces), nil (as it came),
 * weft.drop (swallowed), or nil and a reason (failed: an error event of
 * kind "transform"). */
static void transform_result(lua_State *L, weft__lcall *c) {
  hook_ctx *h = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->lp->drop_ref);
  if (lua_rawequal(L, -3, -1)) {
    h->rc = WEFT_SWALLOW;
  } else if (lua_isnil(L, -3)) {
    h->rc = lua_isnil(L, -2) ? WEFT_PASS : WEFT_EINVAL;
  } else {
    const char *why;
    h->rc = weft__lto_value(c->lp, L, -3, 0, h->replace, &why);
  }
}

static int hook(lplugin *p, const char *name, weft_spark *sp, const weft_value *msg,
                weft_value **replace) {
  hook_ctx h = {p, name, sp, msg, replace, WEFT_PASS};
  weft__lcall c;
  weft__lcall_init(&c, p->r.lp, LUA_NOREF);
  c.push = push_hook;
  c.ctx = &h;
  c.sp = sp;
  if (replace) {
    c.result = transform_result;
    c.nres = 2;
  }
  /* A hook that raised: the message goes no further, the error follows
   * the handler errors' rule. */
  return weft__lrun(&c) < 0 ? WEFT_SWALLOW : h.rc;
}

static void on_connection(weft_spark *sp, void *user) { hook(user, "connection", sp, NULL, NULL); }
static void on_disconnection(weft_spark *sp, void *user) {
  hook(user, "disconnection", sp, NULL, NULL);
}
static int on_incoming(weft_spark *sp, const weft_value *msg, weft_value **replace, void *user) {
  return hook(user, "incoming", sp, msg, replace);
}
static int on_outgoing(weft_spark *sp, const weft_value *msg, weft_value **replace, void *user) {
  return hook(user, "outgoing", sp, msg, replace);
}
static void on_client_open(weft_client *c, void *user) {
  (void)c;
  hook(user, "open", NULL, NULL, NULL);
}
static void on_client_close(weft_client *c, void *user) {
  (void)c;
  hook(user, "close", NULL, NULL, NULL);
}
static int on_client_incoming(weft_client *c, const weft_value *msg, weft_value **replace,
                              void *user) {
  (void)c;
  return hook(user, "incoming", NULL, msg, replace);
}
static int on_client_outgoing(weft_client *c, const weft_value *msg, weft_value **replace,
                              void *user) {
  (void)c;
  return hook(user, "outgoing", NULL, msg, replace);
}
static void plugin_destroy(void *user) {
  lplugin *p = user;
  weft__lunref(p->r.lp->L, &p->r.ref);
  free(p);
}

static int has(lua_State *L, const char *field) {
  lua_getfield(L, 3, field);
  int yes = lua_type(L, -1) == LUA_TFUNCTION;
  lua_pop(L, 1);
  return yes;
}

/* handle:_use(name, plugin[, incoming_types]): the plugin table's hooks
 * (servers: connection, disconnection, incoming, outgoing; clients: open,
 * close, incoming, outgoing), before listening / opening; incoming_types:
 * WEFT_PLUGIN_TYPE bits (0, the default: every type). */
static int l_use(lua_State *L) {
  int is_client;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_Integer types = luaL_optinteger(L, 4, 0);
  luaL_argcheck(L, types >= 0 && types <= (lua_Integer)UINT32_MAX, 4, "type bits out of range");
  LOOP_UP(L)->L = L;
  lplugin *p = calloc(1, sizeof(*p) + len + 1);
  if (!p) return weft__lfail(L, WEFT_ENOMEM, "plugin");
  memcpy(p->name, name, len + 1);
  p->r.lp = LOOP_UP(L);
  p->r.ref = weft__lref(L, 3);
  p->o = o;
  weft_plugin_ops *ops = &p->ops;
  ops->version = WEFT_PLUGIN_VERSION;
  ops->size = sizeof(*ops);
  ops->name = p->name;
  ops->destroy = plugin_destroy;
  ops->incoming_types = (uint32_t)types;
  int rc;
  if (is_client) {
    if (has(L, "open")) ops->client_open = on_client_open;
    if (has(L, "close")) ops->client_close = on_client_close;
    if (has(L, "incoming")) ops->client_incoming = on_client_incoming;
    if (has(L, "outgoing")) ops->client_outgoing = on_client_outgoing;
    rc = weft_client_use(o->c, ops, p); /* destroy has run when it fails */
  } else {
    if (has(L, "connection")) ops->connection = on_connection;
    if (has(L, "disconnection")) ops->disconnection = on_disconnection;
    if (has(L, "incoming")) ops->incoming = on_incoming;
    if (has(L, "outgoing")) ops->outgoing = on_outgoing;
    rc = weft_server_use(o->s, ops, p);
  }
  if (rc != 0) {
    lua_pushfstring(L, "plugin '%s': %s", name, weft_strerror(rc));
    return weft__lfailmsg(L, rc, lua_tostring(L, -1));
  }
  lua_settop(L, 1);
  return 1;
}

/* ---- authorization ---- */

typedef struct lauth {
  weft_auth *a; /* NULL once answered */
} lauth;

typedef struct auth_ctx {
  reg *r;
  weft_auth *a;
  lauth *u;
  int verdict; /* 1 allow, 0 deny, -1 later */
  int status;
  const char *message;
} auth_ctx;

static int push_auth(lua_State *L, weft__lcall *c) {
  auth_ctx *x = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, x->r->ref);
  x->u = weft__lnew(L, sizeof(lauth), MT_AUTH);
  x->u->a = x->a;
  return 1;
}

/* fn(req) --> true: allowed; false, [status], [message]: denied; nothing:
 * req:allow() or req:deny() answers later. */
static void auth_result(lua_State *L, weft__lcall *c) {
  auth_ctx *x = c->ctx;
  x->verdict = lua_isnil(L, -3) ? -1 : lua_toboolean(L, -3);
  x->status = lua_type(L, -2) == LUA_TNUMBER ? (int)lua_tointeger(L, -2) : 401;
  x->message = lua_tostring(L, -1); /* anchored by the stack until the call ends */
  if (x->u->a && x->verdict >= 0) {
    weft_auth *a = x->u->a;
    x->u->a = NULL;
    if (x->verdict)
      weft_auth_allow(a);
    else
      weft_auth_deny(a, x->status, x->message);
  }
}

static void on_authorize(weft_auth *a, void *user) {
  auth_ctx x = {user, a, NULL, -1, 0, NULL};
  weft__lcall c;
  weft__lcall_init(&c, x.r->lp, LUA_NOREF);
  c.push = push_auth;
  c.result = auth_result;
  c.nres = 3;
  c.ctx = &x;
  if (weft__lrun(&c) == 0) return;
  /* It raised (or the state is closing) before answering. */
  if (x.u) {
    if (!x.u->a) return;
    x.u->a = NULL;
  }
  weft_auth_deny(a, 500, "authorization failed");
}

/* server:authorize(fn|nil) */
static int l_authorize(lua_State *L) {
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  LOOP_UP(L)->L = L;
  reg *r = NULL;
  if (!lua_isnoneornil(L, 2) && !(r = reg_new(L, 2)))
    return weft__lfail(L, WEFT_ENOMEM, "authorize");
  int rc = weft_server_set_authorize(o->s, r ? on_authorize : NULL, r, r ? reg_free : NULL);
  if (rc != 0) {
    if (r) reg_free(r);
    return weft__lfail(L, rc, "authorize");
  }
  lua_settop(L, 1);
  return 1;
}

static lauth *check_auth(lua_State *L) { return luaL_checkudata(L, 1, MT_AUTH); }

/* req:header(name), req:query(key), req:address(), req:url(): nil once
 * answered. */
static int l_auth_header(lua_State *L) {
  lua_pushstring(L, weft_auth_header(check_auth(L)->a, luaL_checkstring(L, 2)));
  return 1;
}
static int l_auth_query(lua_State *L) {
  lua_pushstring(L, weft_auth_query(check_auth(L)->a, luaL_checkstring(L, 2)));
  return 1;
}
static int l_auth_address(lua_State *L) {
  lua_pushstring(L, weft_auth_address(check_auth(L)->a));
  return 1;
}
static int l_auth_url(lua_State *L) {
  lua_pushstring(L, weft_auth_url(check_auth(L)->a));
  return 1;
}

/* req:allow() and req:deny([status], [message]) --> true, or nil,
 * message, "ESTATE" (answered already) / "ECLOSED" (the peer left). */
static int auth_answer(lua_State *L, int allow) {
  lauth *u = check_auth(L);
  int status = (int)luaL_optinteger(L, 2, 401);
  const char *message = luaL_optstring(L, 3, NULL);
  LOOP_UP(L)->L = L;
  if (!u->a) return weft__lfailmsg(L, WEFT_ESTATE, "authorization: answered already");
  weft_auth *a = u->a;
  u->a = NULL;
  int rc = allow ? weft_auth_allow(a) : weft_auth_deny(a, status, message);
  if (rc != 0) return weft__lfail(L, rc, allow ? "allow" : "deny");
  lua_pushboolean(L, 1);
  return 1;
}
static int l_auth_allow(lua_State *L) { return auth_answer(L, 1); }
static int l_auth_deny(lua_State *L) { return auth_answer(L, 0); }

/* __gc: a request let go of unanswered is denied (500). */
int weft__lauth_gc(lua_State *L) {
  lauth *u = check_auth(L);
  if (!u->a) return 0;
  weft_auth *a = u->a;
  u->a = NULL;
  LOOP_UP(L)->L = L;
  weft_auth_deny(a, 500, WEFT_REPLY_DROPPED);
  return 0;
}

/* ---- spark ids ---- */

typedef struct id_ctx {
  reg *r;
  char *buf;
  size_t cap;
  int ok;
} id_ctx;

static int push_id(lua_State *L, weft__lcall *c) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, ((id_ctx *)c->ctx)->r->ref);
  return 0;
}

static void id_result(lua_State *L, weft__lcall *c) {
  id_ctx *x = c->ctx;
  size_t len;
  const char *id = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
  if (!id || len == 0 || len >= x->cap || strlen(id) != len) return;
  memcpy(x->buf, id, len + 1);
  x->ok = 1;
}

/* fn() --> the id, a string; anything else (or an error) falls back to the
 * core's random id. */
static int gen_id(char *buf, size_t cap, void *user) {
  id_ctx x = {user, buf, cap, 0};
  weft__lcall c;
  weft__lcall_init(&c, x.r->lp, LUA_NOREF);
  c.push = push_id;
  c.result = id_result;
  c.nres = 1;
  c.ctx = &x;
  weft__lrun(&c);
  return x.ok ? 0 : -1;
}

/* server:id_generator(fn|nil) */
static int l_id_generator(lua_State *L) {
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  reg *r = NULL;
  if (!lua_isnoneornil(L, 2) && !(r = reg_new(L, 2)))
    return weft__lfail(L, WEFT_ENOMEM, "id_generator");
  int rc = weft_server_set_id_generator(o->s, r ? gen_id : NULL, r, r ? reg_free : NULL);
  if (rc != 0) {
    if (r) reg_free(r);
    return weft__lfail(L, rc, "id_generator");
  }
  lua_settop(L, 1);
  return 1;
}

const luaL_Reg weft__lauth_methods[] = {{"header", l_auth_header},
                                        {"query", l_auth_query},
                                        {"address", l_auth_address},
                                        {"url", l_auth_url},
                                        {"allow", l_auth_allow},
                                        {"deny", l_auth_deny},
                                        {NULL, NULL}};
const luaL_Reg weft__lplugin_server_methods[] = {
    {"_use", l_use}, {"authorize", l_authorize}, {"id_generator", l_id_generator}, {NULL, NULL}};
const luaL_Reg weft__lplugin_client_methods[] = {{"_use", l_use}, {NULL, NULL}};
