/*
 * Sparks: one userdata per connection, made at its connection (or when a
 * plugin first sees it), the same object in every event until its
 * disconnection; it retains the core's spark, so a kept one answers every
 * call with the core's ECLOSED afterwards (its id stays readable).
 */
#include <string.h>

#include "weft_lua.h"

weft__lspark *weft__lcheck_spark(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, MT_SPARK);
}

/* Pushes the userdata of `sp`, made now when it has none. */
void weft__lspark_new(lua_State *L, weft_spark *sp, weft__lowner *srv) {
  weft__lspark *p = weft_spark_get_user(sp);
  if (p) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->self_ref);
    return;
  }
  p = weft__lnew(L, sizeof(*p), MT_SPARK);
  for (int i = 0; i < PEV_N; i++)
    p->cb[i] = LUA_NOREF;
  p->self_ref = weft__lref(L, -1); /* anchored until its disconnection */
  p->sp = sp;
  p->srv = srv;
  weft_spark_retain(sp); /* released by __gc */
  weft_spark_set_user(sp, p, NULL);
}

void weft__lpush_spark(lua_State *L, weft_spark *sp) {
  weft__lspark *p = sp ? weft_spark_get_user(sp) : NULL;
  if (p && p->self_ref != LUA_NOREF)
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->self_ref);
  else
    lua_pushnil(L);
}

void weft__lspark_gone(weft__lspark *p) {
  lua_State *L = p->srv->lp->L;
  for (int i = 0; i < PEV_N; i++)
    weft__lunref(L, &p->cb[i]);
  weft__lunref(L, &p->self_ref);
  p->srv = NULL;
}

weft_server *weft__lspark_server(lua_State *L, weft__lspark *p, const char *what, int *nret) {
  weft_server *s = weft_spark_server(p->sp);
  if (!s) *nret = weft__lfail(L, WEFT_ECLOSED, what);
  return s;
}

int weft__lspark_gc(lua_State *L) {
  weft__lspark *p = luaL_checkudata(L, 1, MT_SPARK);
  if (p->sp) weft_spark_release(p->sp);
  p->sp = NULL;
  return 0;
}

static int l_on(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  if (!weft_spark_server(p->sp)) return weft__lfail(L, WEFT_ECLOSED, "on");
  return weft__lset_cb(L, p->cb, PEV_N);
}

static int l_write(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft_value *v;
  int nret;
  if (weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_spark_write(p->sp, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushboolean(L, rc == 0); /* false: above the high-water mark, wait for "drain" */
  return 1;
}

/* spark:write_raw(bytes, [binary]): one frame as it is (no transforms). */
static int l_write_raw(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  LOOP_UP(L)->L = L;
  int rc = weft_spark_write_raw(p->sp, s, len, lua_toboolean(L, 3));
  if (rc < 0) return weft__lfail(L, rc, "write_raw");
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* spark:close([msg], [{ reconnect = bool }]) */
static int l_close(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft_value *v = NULL;
  int nret, flags = 0;
  if (lua_type(L, 3) == LUA_TTABLE) {
    lua_getfield(L, 3, "reconnect");
    if (lua_toboolean(L, -1)) flags |= WEFT_END_RECONNECT;
    lua_pop(L, 1);
  }
  if (!lua_isnoneornil(L, 2) && weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_spark_end(p->sp, v, flags);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "close");
  lua_pushboolean(L, 1);
  return 1;
}

static int l_id(lua_State *L) {
  lua_pushstring(L, weft_spark_id(weft__lcheck_spark(L, 1)->sp));
  return 1;
}

/* spark:recovered() --> true when it resumed a session (recovery). */
static int l_recovered(lua_State *L) {
  lua_pushboolean(L, weft_spark_recovered(weft__lcheck_spark(L, 1)->sp) == 1);
  return 1;
}

static int l_address(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  const char *a = weft_spark_address(p->sp);
  if (!a) return weft__lfail(L, WEFT_ECLOSED, "address");
  lua_pushstring(L, a);
  lua_pushinteger(L, weft_spark_port(p->sp));
  return 2;
}

/* spark:url() --> the request target ("/primus?x=1"), or nil when the
 * server does not keep it (keep_url = false) past the connection event. */
static int l_url(lua_State *L) {
  weft_spark *sp = weft__lcheck_spark(L, 1)->sp;
  const char *u = weft_spark_url(sp);
  if (!u && !weft_spark_address(sp)) return weft__lfail(L, WEFT_ECLOSED, "url");
  lua_pushstring(L, u); /* nil when not kept */
  return 1;
}

/* spark:query(key) --> the decoded value or nil; spark:query() --> every
 * parameter as a table (the last one wins when repeated). */
static int l_query(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushstring(L, weft_spark_query(p->sp, luaL_checkstring(L, 2))); /* nil when absent */
    return 1;
  }
  size_t n = weft_spark_query_count(p->sp);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    const char *k, *v;
    if (weft_spark_query_at(p->sp, i, &k, &v) != 0) continue;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
  }
  return 1;
}

static int l_header(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  lua_pushstring(L, weft_spark_header(p->sp, luaL_checkstring(L, 2))); /* nil when absent */
  return 1;
}

/* spark:headers() --> { name = value }: every request header, names in
 * lower case, repeated ones joined with ", ". */
static int l_headers(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  size_t n = weft_spark_header_count(p->sp);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    const char *k, *v;
    if (weft_spark_header_at(p->sp, i, &k, &v) != 0) continue;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *c = k; *c; c++)
      luaL_addchar(&b, (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c));
    luaL_pushresult(&b);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushstring(L, v);
    } else {
      lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), v);
      lua_remove(L, -2);
    }
    lua_rawset(L, -3);
  }
  return 1;
}

static int l_buffered(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)weft_spark_buffered_amount(weft__lcheck_spark(L, 1)->sp));
  return 1;
}

/* Open from its connection until its disconnection event has run. */
static int l_is_open(lua_State *L) {
  lua_pushboolean(L, weft_spark_server(weft__lcheck_spark(L, 1)->sp) != NULL);
  return 1;
}

const luaL_Reg weft__lspark_methods[] = {{"_on", l_on},
                                         {"write", l_write},
                                         {"write_raw", l_write_raw},
                                         {"close", l_close},
                                         {"id", l_id},
                                         {"address", l_address},
                                         {"url", l_url},
                                         {"query", l_query},
                                         {"header", l_header},
                                         {"headers", l_headers},
                                         {"buffered", l_buffered},
                                         {"is_open", l_is_open},
                                         {"recovered", l_recovered},
                                         {NULL, NULL}};
