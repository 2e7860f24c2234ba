/*
 * The loop's log (weft.set_log) and a server's metrics (server:metrics(),
 * server:metrics_text()).
 */
#include <string.h>

#include "weft_lua.h"

static const char *const log_levels[] = {"off", "error", "warn", "info", "debug", NULL};

/* Pushes the record as a table and calls the log function with it. */
static int push_record(lua_State *L, weft__lcall *c) {
  const weft_log_record *r = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, log_levels[r->level]);
  lua_setfield(L, -2, "level");
  lua_pushstring(L, r->event);
  lua_setfield(L, -2, "event");
  lua_pushstring(L, r->message);
  lua_setfield(L, -2, "message");
  lua_pushstring(L, r->spark); /* nil when NULL */
  lua_setfield(L, -2, "spark");
  lua_pushstring(L, r->kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, r->server ? "server" : r->client ? "client" : NULL);
  lua_setfield(L, -2, "source");
  return 1;
}

static void on_log(const weft_log_record *r, void *user) {
  weft__lloop *lp = user;
  if (lp->log_busy || lp->log_ref == LUA_NOREF || r->level < 1 || r->level > 4) return;
  weft__lcall c;
  weft__lcall_init(&c, lp, lp->log_ref);
  c.push = push_record;
  c.ctx = (void *)r;
  lp->log_busy = 1;
  weft__lrun(&c); /* an error is kept and raised by poll(), as a handler's */
  lp->log_busy = 0;
}

/* weft.set_log(level, fn): records up to `level` ("error", "warn", "info",
 * "debug") go to fn(record); weft.set_log("off") (fn may be left out)
 * turns it off. A bad level name or a fn that is not a function raises. */
static int l_set_log(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  int level = luaL_checkoption(L, 1, NULL, log_levels);
  if (level != WEFT_LOG_OFF) luaL_checktype(L, 2, LUA_TFUNCTION);
  int rc = weft_loop_set_log(lp->loop, level, level ? on_log : NULL, lp, NULL);
  if (rc != 0) return weft__lfail(L, rc, "set_log");
  weft__lunref(L, &lp->log_ref);
  if (level != WEFT_LOG_OFF) {
    lua_pushvalue(L, 2);
    lp->log_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* server:metrics() --> { connections_open = n, ... }: every counter of
 * weft_metrics, named by the core (weft_metrics_at). */
static int l_metrics(lua_State *L) {
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
  if (o->closed) return weft__lfail(L, WEFT_ECLOSED, "metrics"); /* close() was called */
  weft_server *s = o->s;
  weft_metrics m;
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  int rc = weft_server_metrics(s, &m);
  if (rc != 0) return weft__lfail(L, rc, "metrics");
  lua_createtable(L, 0, 16);
  uint64_t v;
  const char *name;
  for (size_t i = 0; (name = weft_metrics_at(&m, i, &v)); i++) {
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, name);
  }
  return 1;
}

/* server:metrics_text() --> the Prometheus text (what metrics_path serves). */
static int l_metrics_text(lua_State *L) {
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
  if (o->closed) return weft__lfail(L, WEFT_ECLOSED, "metrics_text"); /* close() was called */
  weft_server *s = o->s;
  long n = weft_server_metrics_text(s, NULL, 0);
  if (n < 0) return weft__lfail(L, (int)n, "metrics_text");
  char *buf = lua_newuserdata(L, (size_t)n + 1); /* collected: nothing leaks if Lua raises */
  weft_server_metrics_text(s, buf, (size_t)n + 1);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

const luaL_Reg weft__llog_funcs[] = {{"set_log", l_set_log}, {NULL, NULL}};
const luaL_Reg weft__llog_server_methods[] = {
    {"metrics", l_metrics}, {"metrics_text", l_metrics_text}, {NULL, NULL}};
