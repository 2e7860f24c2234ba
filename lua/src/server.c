/*
 * Servers: core.server_new() and the server's methods in C (listening,
 * writing to everyone or to recipients, lookups, close), and the server's
 * events calling into Lua. lua/weft/server.lua builds weft.server{} on
 * these and adds on(), to()/except(), for_each().
 */
#include <stdlib.h>
#include <string.h>

#include "weft_lua.h"

weft__lowner *weft__lcheck_owner(lua_State *L, int idx, int *is_client) {
  weft__lhandle *h = lua_touserdata(L, idx);
  if (h && weft__lis(L, idx, MT_SERVER)) {
    *is_client = 0;
    return h->o;
  }
  h = luaL_checkudata(L, idx, MT_CLIENT);
  *is_client = 1;
  return h->o;
}

static weft__lowner *check_server(lua_State *L) {
  return ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
}

/* ---- events ---- */

static int push_connection(lua_State *L, weft__lcall *c) {
  weft__lowner *o = c->ctx;
  weft__lspark_new(L, c->sp, o); /* the spark's userdata, from now on */
  if (o->cb[SEV_CONNECTION] == LUA_NOREF) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, o->cb[SEV_CONNECTION]);
  lua_insert(L, -2);
  return 1;
}

static void on_connection(weft_spark *sp, void *user) {
  weft__lowner *o = user;
  weft__lcall c;
  weft__lcall_init(&c, o->lp, LUA_NOREF);
  c.push = push_connection;
  c.ctx = o;
  c.sp = sp;
  weft__lrun(&c);
}

/* The spark's handler `pev` with `msg`, else the server's `sev` with the
 * spark first: fn(msg) or fn(spark, msg). */
static void spark_event(weft__lowner *o, weft_spark *sp, int pev, int sev, const weft_value *msg) {
  weft__lspark *p = weft_spark_get_user(sp);
  if (!p) return;
  weft__lcall c;
  if (p->cb[pev] != LUA_NOREF) {
    weft__lcall_init(&c, o->lp, p->cb[pev]);
  } else {
    weft__lcall_init(&c, o->lp, o->cb[sev]);
    c.arg_ref = p->self_ref;
  }
  c.msg = msg;
  c.sp = sp;
  weft__lrun(&c);
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  spark_event(user, sp, PEV_DATA, SEV_DATA, msg);
}

static void on_drain(weft_spark *sp, void *user) {
  spark_event(user, sp, PEV_DRAIN, SEV_DRAIN, NULL);
}

static void on_disconnection(weft_spark *sp, void *user) {
  weft__lowner *o = user;
  weft__lspark *p = weft_spark_get_user(sp);
  if (!p) return;
  /* The spark's own "end" handler first, then the server's "disconnection"
   * handler with the spark, as Primus. */
  weft__lcall c;
  weft__lcall_init(&c, o->lp, p->cb[PEV_END]);
  c.sp = sp;
  weft__lrun(&c);
  weft__lcall_init(&c, o->lp, o->cb[SEV_DISCONNECTION]);
  c.arg_ref = p->self_ref;
  c.sp = sp;
  weft__lrun(&c);
  weft__lspark_gone(p);
}

/* The spark's "error" handler fn(err), else the server's fn(err, spark|nil). */
void weft__lon_server_error(weft_server *s, weft_spark *sp, const weft_error_info *err,
                            void *user) {
  (void)s;
  weft__lowner *o = user;
  weft__lspark *p = sp ? weft_spark_get_user(sp) : NULL;
  weft__lcall c;
  if (p && p->cb[PEV_ERROR] != LUA_NOREF) {
    weft__lcall_init(&c, o->lp, p->cb[PEV_ERROR]);
  } else {
    weft__lcall_init(&c, o->lp, o->cb[SEV_ERROR]);
    if (p) c.tail_ref = p->self_ref;
  }
  c.err = err;
  c.sp = sp;
  weft__lrun(&c);
}

static void on_close(weft_server *s, void *user) {
  (void)s;
  weft__lowner *o = user;
  weft__lreplies_reject(o, NULL); /* before the emitter goes, after this event */
  weft__lcall c;
  weft__lcall_init(&c, o->lp, o->cb[SEV_CLOSE]);
  weft__lrun(&c);
}

/* ---- core.server_new() --> a server that does not listen yet ---- */

static int l_server_new(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft__lhandle *h = weft__lnew(L, sizeof(*h), MT_SERVER);
  weft__lowner *o = weft__lowner_new(lp);
  if (!o) return weft__lfail(L, WEFT_ENOMEM, "server");
  int rc = weft_server_new(lp->loop, &o->s);
  if (rc != 0) {
    free(o);
    return weft__lfail(L, rc, "server");
  }
  weft_server_retain(o->s); /* the userdata's, released by __gc */
  weft__lowner_link(o, h);
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = on_connection,
                           .disconnection = on_disconnection,
                           .data = on_data,
                           .drain = on_drain,
                           .error = weft__lon_server_error,
                           .close = on_close};
  weft_server_set_events(o->s, &ev, o, weft__lowner_free);
  return 1;
}

void weft__lserver_destroy(weft__lowner *o, int quiet, int reconnect, uint32_t timeout_ms) {
  if (quiet) weft__lowner_unref(o); /* no more handlers */
  weft_destroy_options opts = {
      .size = sizeof(opts), .reconnect = reconnect, .timeout_ms = timeout_ms};
  weft_server_destroy(o->s, &opts);
}

/* __gc and __close: a server nobody holds closes quietly (no handlers). */
int weft__lserver_gc(lua_State *L) {
  weft__lhandle *h = luaL_checkudata(L, 1, MT_SERVER);
  if (!h->o) return 0;
  weft__lowner *o = h->o;
  h->o = NULL;
  o->lp->L = L;
  weft_server *s = o->s;
  weft__lserver_destroy(o, 1, 0, 0);
  weft__lowner_release(o);
  weft_server_release(s);
  return 0;
}

/* ---- methods ---- */

static int l_on(lua_State *L) { return weft__lset_cb(L, check_server(L)->cb, SEV_CHANNEL + 1); }

/* server:listen(url): one more listener. */
static int l_listen(lua_State *L) {
  weft__lowner *o = check_server(L);
  const char *url = luaL_checkstring(L, 2);
  LOOP_UP(L)->L = L;
  int rc = weft_server_listen(o->s, url);
  if (rc != 0) {
    lua_pushfstring(L, "listen %s: %s", url, weft_strerror(rc));
    return weft__lfailmsg(L, rc, lua_tostring(L, -1));
  }
  lua_settop(L, 1);
  return 1;
}

/* server:write(msg) --> the number of sparks it was queued on. */
static int l_write(lua_State *L) {
  weft__lowner *o = check_server(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft_value *v;
  int nret;
  if (weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_server_write(o->s, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushinteger(L, rc);
  return 1;
}

/* server:write_raw(bytes, [binary]) --> sparks reached (no transforms). */
static int l_write_raw(lua_State *L) {
  weft__lowner *o = check_server(L);
  size_t len;
  const char *p = luaL_checklstring(L, 2, &len);
  LOOP_UP(L)->L = L;
  int rc = weft_server_write_raw(o->s, p, len, lua_toboolean(L, 3));
  if (rc < 0) return weft__lfail(L, rc, "write_raw");
  lua_pushinteger(L, rc);
  return 1;
}

/* The strings of the list at `idx` (nil: none) as a C array on the stack
 * (a userdata, so nothing leaks when Lua raises); the strings stay
 * anchored by the list. */
static const char **strings(lua_State *L, int idx, size_t *n) {
  *n = lua_type(L, idx) == LUA_TTABLE ? lua_rawlen(L, idx) : 0;
  const char **a = lua_newuserdata(L, (*n + 1) * sizeof(*a));
  for (size_t i = 0; i < *n; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    a[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (!a[i]) luaL_argerror(L, idx, "a list of strings");
  }
  return a;
}

/* server:_send(rooms, ids, except, msg) and
 * server:_send_event(rooms, ids, except, name, args...): the recipients
 * are lists of strings (nil for none); see weft_recipients. */
static int send(lua_State *L, int event) {
  weft__lowner *o = check_server(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  const char *name = event ? luaL_checkstring(L, 5) : NULL;
  int top = lua_gettop(L);
  weft_recipients to = {.size = sizeof(to)};
  to.rooms = strings(L, 2, &to.n_rooms);
  to.ids = strings(L, 3, &to.n_ids);
  to.except = strings(L, 4, &to.n_except);
  weft_value *v;
  int nret, rc;
  if (event) {
    if (weft__lcheck_args(lp, L, 6, top, &v, &nret) != 0) return nret;
    rc = weft_server_send_event(o->s, &to, name, v);
  } else {
    if (weft__lcheck_value(lp, L, 5, &v, &nret) != 0) return nret;
    rc = weft_server_send(o->s, &to, v);
  }
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, event ? "emit" : "write");
  lua_pushinteger(L, rc);
  return 1;
}
static int l_send(lua_State *L) { return send(L, 0); }
static int l_send_event(lua_State *L) { return send(L, 1); }

static int l_port(lua_State *L) {
  int rc = weft_server_port(check_server(L)->s);
  if (rc < 0) return weft__lfail(L, rc, "port");
  lua_pushinteger(L, rc);
  return 1;
}

/* server:url([i]) --> the URL the i-th listener (default 1) serves, port
 * resolved; nil past the last. */
static int l_url(lua_State *L) {
  weft__lowner *o = check_server(L);
  lua_Integer i = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, i >= 1, 2, "index must be >= 1");
  if (!weft_server_loop(o->s)) return weft__lfail(L, WEFT_ECLOSED, "url");
  lua_pushstring(L, weft_server_url(o->s, (size_t)(i - 1))); /* nil past the last */
  return 1;
}

/* server:urls() --> { url, ... } of every listener, in listen order. */
static int l_urls(lua_State *L) {
  weft__lowner *o = check_server(L);
  if (!weft_server_loop(o->s)) return weft__lfail(L, WEFT_ECLOSED, "urls");
  lua_newtable(L);
  for (size_t i = 0; weft_server_url(o->s, i); i++) {
    lua_pushstring(L, weft_server_url(o->s, i));
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

static int l_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)weft_server_spark_count(check_server(L)->s));
  return 1;
}

typedef struct collect {
  weft_spark **a;
  size_t n, cap;
} collect;

static int collect_spark(weft_spark *sp, void *user) {
  collect *c = user;
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    weft_spark **a = realloc(c->a, cap * sizeof(*a));
    if (!a) return WEFT_ENOMEM;
    c->a = a;
    c->cap = cap;
  }
  c->a[c->n++] = sp;
  return 0;
}

/* server:sparks() --> { spark, ... }: the open sparks (for_each's list). */
static int l_sparks(lua_State *L) {
  weft__lowner *o = check_server(L);
  if (o->closed) return weft__lfail(L, WEFT_ECLOSED, "sparks"); /* closing: none to visit */
  collect c = {NULL, 0, 0};
  int rc = weft_server_foreach(o->s, collect_spark, &c);
  if (rc != 0) {
    free(c.a);
    return weft__lfail(L, rc, "sparks");
  }
  weft_spark **a =
      lua_newuserdata(L, (c.n ? c.n : 1) * sizeof(*a)); /* nothing leaks if Lua raises */
  if (c.n) memcpy(a, c.a, c.n * sizeof(*a));
  free(c.a);
  lua_createtable(L, (int)c.n, 0);
  int j = 0;
  for (size_t i = 0; i < c.n; i++) {
    weft__lpush_spark(L, a[i]);
    if (lua_isnil(L, -1))
      lua_pop(L, 1);
    else
      lua_rawseti(L, -2, ++j);
  }
  return 1;
}

/* server:spark(id) --> the open spark with this id, or nil. */
static int l_spark(lua_State *L) {
  weft__lowner *o = check_server(L);
  weft__lpush_spark(L, weft_server_spark(o->s, luaL_checkstring(L, 2)));
  return 1;
}

/* server:asset(path, content_type, bytes): served at that exact path. */
static int l_asset(lua_State *L) {
  weft__lowner *o = check_server(L);
  const char *path = luaL_checkstring(L, 2);
  const char *type = luaL_checkstring(L, 3);
  size_t len;
  const char *data = luaL_checklstring(L, 4, &len);
  int rc = weft_server_add_asset(o->s, path, type, data, len);
  if (rc != 0) return weft__lfail(L, rc, "asset");
  lua_settop(L, 1);
  return 1;
}

/* server:_handler_errors(close): what a raising handler does. */
static int l_handler_errors(lua_State *L) {
  check_server(L)->close_on_error = lua_toboolean(L, 2);
  lua_settop(L, 1);
  return 1;
}

/* server:_psk(key) --> server, or nil, message, name: the pre-shared key
 * tcp:// and ipc:// clients must prove (before listening). */
static int l_psk(lua_State *L) {
  weft__lowner *o = check_server(L);
  size_t n;
  const char *key = luaL_checklstring(L, 2, &n);
  int rc = weft_server_set_psk(o->s, key, n);
  if (rc != 0) return weft__lfail(L, rc, "psk");
  lua_settop(L, 1);
  return 1;
}

/* server:close([{ reconnect = bool, timeout = ms }]) --> true */
static int l_close(lua_State *L) {
  weft__lowner *o = check_server(L);
  LOOP_UP(L)->L = L;
  int reconnect = 0;
  uint32_t timeout = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "reconnect");
    reconnect = lua_toboolean(L, -1);
    lua_getfield(L, 2, "timeout");
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0)
      timeout = lua_tonumber(L, -1) > 4294967295.0 ? UINT32_MAX : (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
  }
  weft_destroy_options opts = {.size = sizeof(opts), .reconnect = reconnect, .timeout_ms = timeout};
  if (weft_server_loop(o->s)) weft__lreplies_reject(o, "closing");
  int rc = weft_server_destroy(o->s, &opts);
  o->closed = 1;
  if (rc != 0) return weft__lfail(L, rc, "close");
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg weft__lserver_funcs[] = {{"server_new", l_server_new}, {NULL, NULL}};

const luaL_Reg weft__lserver_methods[] = {{"_on", l_on},
                                          {"_send", l_send},
                                          {"_send_event", l_send_event},
                                          {"_handler_errors", l_handler_errors},
                                          {"_psk", l_psk},
                                          {"listen", l_listen},
                                          {"write", l_write},
                                          {"write_raw", l_write_raw},
                                          {"port", l_port},
                                          {"url", l_url},
                                          {"urls", l_urls},
                                          {"count", l_count},
                                          {"sparks", l_sparks},
                                          {"spark", l_spark},
                                          {"asset", l_asset},
                                          {"close", l_close},
                                          {NULL, NULL}};
