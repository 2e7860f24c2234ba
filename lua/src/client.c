/*
 * Clients: core.client_new(url) and the client's methods in C, and its
 * events calling into Lua. lua/weft/client.lua builds weft.client{} on
 * these (options, plugins, then open() unless manual) and adds on().
 */
#include <stdlib.h>
#include <string.h>

#include "weft_lua.h"

static weft__lowner *check_client(lua_State *L) {
  return ((weft__lhandle *)luaL_checkudata(L, 1, MT_CLIENT))->o;
}

/* ---- events: the handler of `ev` with what the event carries ---- */

static void call(void *user, int ev, const weft_value *msg, const weft_error_info *err,
                 const weft_reconnect_info *ri, const char *str) {
  weft__lowner *o = user;
  weft__lcall c;
  weft__lcall_init(&c, o->lp, o->cb[ev]);
  c.msg = msg;
  c.err = err;
  c.ri = ri;
  c.str = str;
  weft__lrun(&c);
}

static void on_open(weft_client *c, void *u) {
  (void)c;
  call(u, CEV_OPEN, NULL, NULL, NULL, NULL);
}
static void on_data(weft_client *c, const weft_value *m, void *u) {
  (void)c;
  call(u, CEV_DATA, m, NULL, NULL, NULL);
}
static void on_error(weft_client *c, const weft_error_info *e, void *u) {
  (void)c;
  call(u, CEV_ERROR, NULL, e, NULL, NULL);
}
static void on_close(weft_client *c, void *u) {
  (void)c;
  call(u, CEV_CLOSE, NULL, NULL, NULL, NULL);
}
static void on_end(weft_client *c, void *u) {
  (void)c;
  call(u, CEV_END, NULL, NULL, NULL, NULL);
}
static void on_timeout(weft_client *c, void *u) {
  (void)c;
  call(u, CEV_TIMEOUT, NULL, NULL, NULL, NULL);
}
static void on_rsched(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  call(u, CEV_RSCHED, NULL, NULL, i, NULL);
}
static void on_reconnect(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  call(u, CEV_RECONNECT, NULL, NULL, i, NULL);
}
static void on_reconnected(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  call(u, CEV_RECONNECTED, NULL, NULL, i, NULL);
}
static void on_rfailed(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  call(u, CEV_RFAILED, NULL, NULL, i, NULL);
}
static void on_rtimeout(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  call(u, CEV_RTIMEOUT, NULL, NULL, i, NULL);
}
static void on_online(weft_client *c, void *u) {
  (void)c;
  call(u, CEV_ONLINE, NULL, NULL, NULL, NULL);
}
static void on_offline(weft_client *c, void *u) {
  (void)c;
  call(u, CEV_OFFLINE, NULL, NULL, NULL, NULL);
}
static void on_id(weft_client *c, const char *id, void *u) {
  (void)c;
  call(u, CEV_ID, NULL, NULL, NULL, id ? id : "");
}
/* Replies die with the emitter, which goes after this event. */
static void on_destroy(weft_client *c, void *u) {
  (void)c;
  weft__lreplies_reject(u, NULL);
}

/* core.client_new(url) --> a client that has not connected yet. */
static int l_client_new(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  const char *url = luaL_checkstring(L, 1);
  lp->L = L;
  weft__lhandle *h = weft__lnew(L, sizeof(*h), MT_CLIENT);
  weft__lowner *o = weft__lowner_new(lp);
  if (!o) return weft__lfail(L, WEFT_ENOMEM, "client");
  int rc = weft_client_new(lp->loop, url, &o->c);
  if (rc != 0) {
    free(o);
    return weft__lfail(L, rc, "client");
  }
  weft_client_retain(o->c); /* the userdata's, released by __gc */
  weft__lowner_link(o, h);
  weft_client_events ev = {.size = sizeof(ev),
                           .open = on_open,
                           .data = on_data,
                           .error = on_error,
                           .close = on_close,
                           .end = on_end,
                           .timeout = on_timeout,
                           .reconnect_scheduled = on_rsched,
                           .reconnect = on_reconnect,
                           .reconnected = on_reconnected,
                           .reconnect_failed = on_rfailed,
                           .online = on_online,
                           .offline = on_offline,
                           .id = on_id,
                           .destroy = on_destroy,
                           .reconnect_timeout = on_rtimeout};
  weft_client_set_events(o->c, &ev, o, weft__lowner_free);
  return 1;
}

void weft__lclient_destroy(weft__lowner *o, int quiet) {
  if (quiet) weft__lowner_unref(o); /* no more handlers */
  weft_client_destroy(o->c);
}

int weft__lclient_gc(lua_State *L) {
  weft__lhandle *h = luaL_checkudata(L, 1, MT_CLIENT);
  if (!h->o) return 0;
  weft__lowner *o = h->o;
  h->o = NULL;
  o->lp->L = L;
  weft_client *c = o->c;
  weft__lclient_destroy(o, 1);
  weft__lowner_release(o);
  weft_client_release(c);
  return 0;
}

/* ---- methods ---- */

static int l_on(lua_State *L) { return weft__lset_cb(L, check_client(L)->cb, CEV_CHANNEL + 1); }

static int l_open(lua_State *L) {
  weft__lowner *o = check_client(L);
  LOOP_UP(L)->L = L;
  int rc = weft_client_open(o->c);
  if (rc != 0) return weft__lfail(L, rc, "open");
  lua_settop(L, 1);
  return 1;
}

/* client:write(msg): queued while not open, sent in order. The plugins'
 * outgoing transforms run inside weft_client_write (client_outgoing). */
static int l_write(lua_State *L) {
  weft__lowner *o = check_client(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft_value *v;
  int nret;
  if (weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_client_write(o->c, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushboolean(L, 1);
  return 1;
}

/* client:write_raw(bytes, [binary]): one frame as it is (no transforms). */
static int l_write_raw(lua_State *L) {
  weft__lowner *o = check_client(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  LOOP_UP(L)->L = L;
  int rc = weft_client_write_raw(o->c, s, len, lua_toboolean(L, 3));
  if (rc < 0) return weft__lfail(L, rc, "write_raw");
  lua_pushboolean(L, 1);
  return 1;
}

static int l_id(lua_State *L) {
  weft__lowner *o = check_client(L);
  LOOP_UP(L)->L = L;
  int rc = weft_client_id(o->c);
  if (rc != 0) return weft__lfail(L, rc, "id");
  lua_pushboolean(L, 1);
  return 1;
}

static int l_state(lua_State *L) {
  int st = weft_client_state(check_client(L)->c);
  lua_pushstring(L, st == WEFT_CLIENT_OPEN      ? "open"
                    : st == WEFT_CLIENT_OPENING ? "opening"
                                                : "closed");
  return 1;
}

static int l_buffered(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)weft_client_buffered_amount(check_client(L)->c));
  return 1;
}

/* client:recovered() --> true while the current connection resumed its
 * session (option recovery; the server's answer precedes its messages). */
static int l_recovered(lua_State *L) {
  lua_pushboolean(L, weft_client_recovered(check_client(L)->c) == 1);
  return 1;
}

/* client:set_online(bool): the network went away (false) or came back. */
static int l_set_online(lua_State *L) {
  weft__lowner *o = check_client(L);
  luaL_checktype(L, 2, LUA_TBOOLEAN);
  LOOP_UP(L)->L = L;
  int rc = weft_client_set_online(o->c, lua_toboolean(L, 2));
  if (rc != 0) return weft__lfail(L, rc, "set_online");
  lua_settop(L, 1);
  return 1;
}

/* client:close([msg]): ends for good ("close" when it was open, then
 * "end"), and the client is freed. */
static int l_close(lua_State *L) {
  weft__lowner *o = check_client(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft_value *v = NULL;
  int nret;
  if (!lua_isnoneornil(L, 2) && weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  if (v) weft_client_end(o->c, v);
  weft_value_free(v);
  int rc = weft_client_destroy(o->c);
  o->closed = 1;
  if (rc != 0) return weft__lfail(L, rc, "close");
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg weft__lclient_funcs[] = {{"client_new", l_client_new}, {NULL, NULL}};

/* client:_psk(key) --> client, or nil, message, name: the pre-shared key a
 * tcp:// or ipc:// server asks for (before opening). */
static int l_psk(lua_State *L) {
  weft__lowner *o = check_client(L);
  size_t n;
  const char *key = luaL_checklstring(L, 2, &n);
  int rc = weft_client_set_psk(o->c, key, n);
  if (rc != 0) return weft__lfail(L, rc, "psk");
  lua_settop(L, 1);
  return 1;
}

const luaL_Reg weft__lclient_methods[] = {{"_on", l_on},
                                          {"open", l_open},
                                          {"write", l_write},
                                          {"write_raw", l_write_raw},
                                          {"id", l_id},
                                          {"state", l_state},
                                          {"buffered", l_buffered},
                                          {"set_online", l_set_online},
                                          {"close", l_close},
                                          {"recovered", l_recovered},
                                          {"_psk", l_psk},
                                          {NULL, NULL}};
