/*
 * Channels (weft/ext.h): spark:channel(name), client:channel(name), the
 * owner's "channel" event for channels the peer opens, and the channel
 * userdata. A channel's userdata is anchored (the loop's chans table)
 * until the core frees the channel after its end event; the free_user of
 * its events drops it and its handlers, and its methods answer ECLOSED.
 */
#include <stdlib.h>

#include "weft_lua.h"

typedef struct lchannel {
  weft_channel *ch; /* NULL once the core freed it */
  weft__lloop *lp;
  int cb[HEV_N];
} lchannel;

static void channel_call(void *user, int ev, const weft_value *msg) {
  lchannel *u = user;
  weft__lcall c;
  weft__lcall_init(&c, u->lp, u->cb[ev]);
  c.msg = msg;
  c.sp = weft_channel_spark(u->ch);
  weft__lrun(&c);
}
static void on_data(weft_channel *ch, const weft_value *msg, void *user) {
  (void)ch;
  channel_call(user, HEV_DATA, msg);
}
static void on_drain(weft_channel *ch, void *user) {
  (void)ch;
  channel_call(user, HEV_DRAIN, NULL);
}
static void on_end(weft_channel *ch, void *user) {
  (void)ch;
  channel_call(user, HEV_END, NULL);
}

/* free_user of the channel's events: the core frees the channel. */
static void channel_free(void *user) {
  lchannel *u = user;
  lua_State *L = u->lp->L;
  for (int i = 0; i < HEV_N; i++)
    weft__lunref(L, &u->cb[i]);
  lua_rawgeti(L, LUA_REGISTRYINDEX, u->lp->chans_ref);
  lua_pushlightuserdata(L, u->ch);
  lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  u->ch = NULL;
}

/* Pushes the userdata of `ch`, made (with its events) on first use. */
void weft__lpush_channel(lua_State *L, weft__lloop *lp, weft_channel *ch) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->chans_ref);
  lua_pushlightuserdata(L, ch);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  lchannel *u = weft__lnew(L, sizeof(*u), MT_CHANNEL);
  u->ch = ch;
  u->lp = lp;
  for (int i = 0; i < HEV_N; i++)
    u->cb[i] = LUA_NOREF;
  lua_pushlightuserdata(L, ch);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);
  lua_remove(L, -2);
  weft_channel_events ev = {.size = sizeof(ev), .data = on_data, .end = on_end, .drain = on_drain};
  weft_channel_set_events(ch, &ev, u, channel_free);
}

/* ---- opened by the peer: the owner's "channel" handler ---- */

typedef struct open_ctx {
  weft__lowner *o;
  weft_channel *ch;
  int taken;
} open_ctx;

static int push_open(lua_State *L, weft__lcall *c) {
  open_ctx *x = c->ctx;
  int ref = x->o->cb[x->o->c ? CEV_CHANNEL : SEV_CHANNEL];
  if (ref == LUA_NOREF) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  weft__lpush_channel(L, c->lp, x->ch);
  x->taken = 1;
  if (x->o->c) return 1;
  weft__lpush_spark(L, weft_channel_spark(x->ch));
  return 2;
}

/* Without a "channel" handler (or one that raised before taking it) the
 * channel is refused: ended at once. */
static void on_open(weft_channel *ch, void *user) {
  open_ctx x = {user, ch, 0};
  weft__lcall c;
  weft__lcall_init(&c, x.o->lp, LUA_NOREF);
  c.push = push_open;
  c.ctx = &x;
  c.sp = weft_channel_spark(ch);
  weft__lrun(&c);
  if (!x.taken) weft_channel_end(ch);
}

/* handle:_channels(): the peer's channels go to the "channel" event (once
 * the channels option is on). */
static int l_channels(lua_State *L) {
  int is_client;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  weft_channels *chs = is_client ? weft_channels_of_client(o->c) : weft_channels_of_server(o->s);
  int rc = chs ? weft_channels_on_open(chs, on_open, o, NULL) : WEFT_ESTATE;
  if (rc != 0) return weft__lfail(L, rc, "channels");
  lua_settop(L, 1);
  return 1;
}

static int open_channel(lua_State *L, weft_channels *chs, weft_spark *sp, int gone) {
  const char *name = luaL_checkstring(L, 2);
  if (!chs) {
    if (gone) return weft__lfail(L, WEFT_ECLOSED, "channel");
    return weft__lfailmsg(L, WEFT_ESTATE, "channel: channels are not enabled (channels = true)");
  }
  weft_channel *ch;
  int rc = weft_channel_open(chs, sp, name, &ch);
  if (rc != 0) return weft__lfail(L, rc, "channel");
  weft__lpush_channel(L, LOOP_UP(L), ch);
  return 1;
}

/* spark:channel(name) and client:channel(name): the same object per name. */
static int l_spark_channel(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  LOOP_UP(L)->L = L;
  luaL_checkstring(L, 2);
  weft_server *s = weft_spark_server(p->sp);
  return open_channel(L, s ? weft_channels_of_server(s) : NULL, p->sp, !s);
}

static int l_client_channel(lua_State *L) {
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_CLIENT))->o;
  LOOP_UP(L)->L = L;
  luaL_checkstring(L, 2);
  return open_channel(L, weft_channels_of_client(o->c), NULL, !weft_client_loop(o->c));
}

/* ---- the channel's methods ---- */

static lchannel *check(lua_State *L) { return luaL_checkudata(L, 1, MT_CHANNEL); }

static int l_on(lua_State *L) {
  lchannel *u = check(L);
  if (!u->ch) return weft__lfail(L, WEFT_ECLOSED, "on");
  return weft__lset_cb(L, u->cb, HEV_N);
}

static int l_write(lua_State *L) {
  lchannel *u = check(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!u->ch) return weft__lfail(L, WEFT_ECLOSED, "write");
  weft_value *v;
  int nret;
  if (weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_channel_write(u->ch, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushboolean(L, rc == 0); /* false: queued until the peer grants credit ("drain") */
  return 1;
}

static int op(lua_State *L, int which) {
  static const char *const names[] = {"pause", "resume", "close"};
  lchannel *u = check(L);
  LOOP_UP(L)->L = L;
  if (!u->ch) return weft__lfail(L, WEFT_ECLOSED, names[which]);
  int rc = which == 0   ? weft_channel_pause(u->ch)
           : which == 1 ? weft_channel_resume(u->ch)
                        : weft_channel_end(u->ch);
  if (rc < 0) return weft__lfail(L, rc, names[which]);
  lua_settop(L, 1);
  return 1;
}
static int l_pause(lua_State *L) { return op(L, 0); }
static int l_resume(lua_State *L) { return op(L, 1); }
static int l_close(lua_State *L) { return op(L, 2); }

static int l_name(lua_State *L) {
  lchannel *u = check(L);
  if (!u->ch) return weft__lfail(L, WEFT_ECLOSED, "name");
  lua_pushstring(L, weft_channel_name(u->ch));
  return 1;
}
static int l_queued(lua_State *L) {
  lchannel *u = check(L);
  lua_pushinteger(L, u->ch ? (lua_Integer)weft_channel_queued(u->ch) : 0);
  return 1;
}
static int l_is_open(lua_State *L) {
  lua_pushboolean(L, check(L)->ch != NULL);
  return 1;
}
static int l_spark(lua_State *L) {
  lchannel *u = check(L);
  weft__lpush_spark(L, u->ch ? weft_channel_spark(u->ch) : NULL);
  return 1;
}

const luaL_Reg weft__lchannel_methods[] = {
    {"_on", l_on},      {"write", l_write}, {"pause", l_pause},   {"resume", l_resume},
    {"close", l_close}, {"name", l_name},   {"queued", l_queued}, {"is_open", l_is_open},
    {"spark", l_spark}, {NULL, NULL}};
const luaL_Reg weft__lchannel_owner_methods[] = {{"_channels", l_channels}, {NULL, NULL}};
const luaL_Reg weft__lchannel_spark_methods[] = {{"channel", l_spark_channel}, {NULL, NULL}};
const luaL_Reg weft__lchannel_client_methods[] = {{"channel", l_client_channel}, {NULL, NULL}};
