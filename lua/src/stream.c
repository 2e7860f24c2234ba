/*
 * Binary streams (weft/ext.h: fast-tcp's stream(event, info, ack)) and the
 * route policy. Incoming streams reach the owner's "stream" handler
 * (cb[WEFT__LCB_STREAM]) as a weft.stream userdata with data/end handlers;
 * streams this side opens are weft.writer userdata over a weft_ostream.
 *
 * Lifetimes: a weft.stream holds its weft_stream until the core's end
 * event (anchored by self_ref meanwhile), then NULL: its methods answer
 * nil, message, "ECLOSED". A weft.writer owns its weft_ostream until
 * finish() or __gc (weft_ostream_end, which is memory-safe whatever
 * happened to the connection, the server or the client).
 */
#include <stdlib.h>
#include <string.h>

#include "weft_lua.h"

typedef struct lstream {
  weft_stream *st; /* NULL after its end */
  weft__lloop *lp;
  int self_ref, data_ref, end_ref;
} lstream;

typedef struct lwriter {
  weft_ostream *os; /* NULL after finish() */
  weft__lloop *lp;
  int drain_ref;
} lwriter;

/* ---- incoming streams ---- */

typedef struct chunk_ctx {
  lstream *u;
  const uint8_t *p;
  size_t len;
  int aborted, end;
} chunk_ctx;

static int push_chunk(lua_State *L, weft__lcall *c) {
  chunk_ctx *k = c->ctx;
  int ref = k->end ? k->u->end_ref : k->u->data_ref;
  if (ref == LUA_NOREF) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  if (k->end)
    lua_pushboolean(L, k->aborted);
  else
    lua_pushlstring(L, (const char *)k->p, k->len);
  return 1;
}

static void run_chunk(lstream *u, chunk_ctx *k) {
  weft__lcall c;
  weft__lcall_init(&c, u->lp, LUA_NOREF);
  c.push = push_chunk;
  c.ctx = k;
  c.sp = u->st ? weft_stream_spark(u->st) : NULL;
  weft__lrun(&c);
}

static void on_data(weft_stream *st, const uint8_t *p, size_t len, void *user) {
  (void)st;
  chunk_ctx k = {user, p, len, 0, 0};
  run_chunk(user, &k);
}

static void on_end(weft_stream *st, int aborted, void *user) {
  lstream *u = user;
  (void)st;
  chunk_ctx k = {u, NULL, 0, aborted, 1};
  run_chunk(u, &k);
  u->st = NULL;
  lua_State *L = u->lp->L;
  weft__lunref(L, &u->data_ref);
  weft__lunref(L, &u->end_ref);
  weft__lunref(L, &u->self_ref); /* last: u may be collected after this */
}

typedef struct open_ctx {
  weft__lowner *o;
  weft_stream *st;
  const char *event;
  const weft_value *info;
  weft_reply *reply;
  int reply_pushed;
} open_ctx;

/* fn(stream, event, info, reply|nil, spark) on servers, fn(stream, event,
 * info, reply|nil) on clients. */
static int push_open(lua_State *L, weft__lcall *c) {
  open_ctx *e = c->ctx;
  int ref = e->o->cb[WEFT__LCB_STREAM];
  if (ref == LUA_NOREF || ref == LUA_REFNIL) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lstream *u = weft__lnew(L, sizeof(*u), MT_STREAM);
  *u = (lstream){NULL, c->lp, LUA_NOREF, LUA_NOREF, LUA_NOREF};
  weft_stream_events ev = {sizeof(ev), on_data, on_end};
  if (weft_stream_set_events(e->st, &ev, u) != 0) luaL_error(L, "stream: no events");
  u->st = e->st;
  lua_pushvalue(L, -1);
  u->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushstring(L, e->event);
  if (e->info)
    weft__lpush_value(c->lp, L, e->info);
  else
    lua_pushnil(L);
  if (e->reply) {
    weft__lpush_reply(L, e->o, e->reply);
    e->reply_pushed = 1;
  } else {
    lua_pushnil(L);
  }
  weft_spark *sp = weft_stream_spark(e->st);
  if (!sp) return 4;
  weft__lpush_spark(L, sp);
  return 5;
}

static void on_open(weft_stream *st, const char *event, const weft_value *info, weft_reply *reply,
                    void *user) {
  weft__lowner *o = user;
  open_ctx e = {o, st, event, info, reply, 0};
  weft__lcall c;
  weft__lcall_init(&c, o->lp, LUA_NOREF);
  c.push = push_open;
  c.ctx = &e;
  c.sp = weft_stream_spark(st);
  weft__lrun(&c);
  if (reply && !e.reply_pushed) weft_reply_drop(reply);
}

static lstream *check_stream(lua_State *L) { return luaL_checkudata(L, 1, MT_STREAM); }

/* stream:on("data" | "end", fn|nil) --> the stream */
static int l_stream_on(lua_State *L) {
  lstream *u = check_stream(L);
  const char *name = luaL_checkstring(L, 2);
  int *ref = strcmp(name, "data") == 0  ? &u->data_ref
             : strcmp(name, "end") == 0 ? &u->end_ref
                                        : NULL;
  luaL_argcheck(L, ref != NULL, 2, "unknown stream event (data, end)");
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  LOOP_UP(L)->L = L;
  if (!u->st) return weft__lfailmsg(L, WEFT_ECLOSED, "stream: it ended");
  weft__lunref(L, ref);
  if (!lua_isnoneornil(L, 3)) *ref = weft__lref(L, 3);
  lua_settop(L, 1);
  return 1;
}

static int stream_flow(lua_State *L, int pause) {
  lstream *u = check_stream(L);
  LOOP_UP(L)->L = L;
  const char *what = pause ? "pause" : "resume";
  if (!u->st) return weft__lfail(L, WEFT_ECLOSED, what);
  int rc = pause ? weft_stream_pause(u->st) : weft_stream_resume(u->st);
  if (rc < 0) return weft__lfail(L, rc, what);
  lua_settop(L, 1);
  return 1;
}
static int l_pause(lua_State *L) { return stream_flow(L, 1); }
static int l_resume(lua_State *L) { return stream_flow(L, 0); }
static int l_stream_open(lua_State *L) {
  lua_pushboolean(L, check_stream(L)->st != NULL);
  return 1;
}

int weft__lstream_gc(lua_State *L) {
  (void)check_stream(L); /* anchored while it lives: nothing to free */
  return 0;
}

/* ---- writers ---- */

static int push_drain(lua_State *L, weft__lcall *c) {
  lwriter *w = c->ctx;
  if (w->drain_ref == LUA_NOREF) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, w->drain_ref);
  return 0;
}

static void on_drain(weft_ostream *os, void *user) {
  lwriter *w = user;
  (void)os;
  weft__lcall c;
  weft__lcall_init(&c, w->lp, LUA_NOREF);
  c.push = push_drain;
  c.ctx = w;
  weft__lrun(&c);
}

static lwriter *check_writer(lua_State *L) { return luaL_checkudata(L, 1, MT_WRITER); }

/* writer:write(chunk) --> true (credit left), false (the window is used
 * up: wait for on_drain), or nil, message, name ("ENOBUFS": not sent;
 * "ECLOSED": the connection went; "ESTATE": finished). */
static int l_write(lua_State *L) {
  lwriter *w = check_writer(L);
  size_t len;
  const char *p = luaL_checklstring(L, 2, &len);
  LOOP_UP(L)->L = L;
  if (!w->os) return weft__lfailmsg(L, WEFT_ESTATE, "write: the writer is finished");
  if (!len) return weft__lfailmsg(L, WEFT_EINVAL, "write: an empty chunk");
  int rc = weft_ostream_write(w->os, p, len);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* writer:on_drain(fn|nil) --> the writer: fn() once a write that returned
 * false or ENOBUFS may go on. */
static int l_on_drain(lua_State *L) {
  lwriter *w = check_writer(L);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  LOOP_UP(L)->L = L;
  if (!w->os) return weft__lfailmsg(L, WEFT_ESTATE, "on_drain: the writer is finished");
  weft__lunref(L, &w->drain_ref);
  if (!lua_isnoneornil(L, 2)) w->drain_ref = weft__lref(L, 2);
  weft_ostream_set_drain(w->os, on_drain, w);
  lua_settop(L, 1);
  return 1;
}

static int l_pending(lua_State *L) {
  lwriter *w = check_writer(L);
  lua_pushinteger(L, (lua_Integer)(w->os ? weft_ostream_pending(w->os) : 0));
  return 1;
}

/* writer:finish() --> true, or nil, message, name (ECLOSED: the connection
 * went, nothing sent; ESTATE: finished already). The writer is done either
 * way. */
static int l_finish(lua_State *L) {
  lwriter *w = check_writer(L);
  LOOP_UP(L)->L = L;
  if (!w->os) return weft__lfailmsg(L, WEFT_ESTATE, "finish: the writer is finished");
  int rc = weft_ostream_end(w->os);
  w->os = NULL;
  weft__lunref(L, &w->drain_ref);
  if (rc < 0) return weft__lfail(L, rc, "finish");
  lua_pushboolean(L, 1);
  return 1;
}

int weft__lwriter_gc(lua_State *L) {
  lwriter *w = check_writer(L);
  LOOP_UP(L)->L = L;
  if (w->os) weft_ostream_end(w->os);
  w->os = NULL;
  weft__lunref(L, &w->drain_ref);
  return 0;
}

/* A list of names at t[key] (nil: none) as borrowed pointers (the table
 * holds the strings); *n its length. Returns 0, or raises. */
static const char **names_at(lua_State *L, int t, const char *key, size_t *n) {
  *n = 0;
  lua_getfield(L, t, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TTABLE) luaL_error(L, "'%s' must be a list of names", key);
  size_t len = lua_rawlen(L, -1);
  const char **v = lua_newuserdata(L, (len ? len : 1) * sizeof(*v)); /* collected with the call */
  for (size_t i = 0; i < len; i++) {
    lua_rawgeti(L, -2, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "'%s' must be a list of names", key);
    v[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  lua_replace(L, -2); /* keep the array on the stack: the list stays in t */
  *n = len;
  return v;
}

static int field_bool(lua_State *L, int t, const char *key) {
  lua_getfield(L, t, key);
  int b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

static int push_writer(lua_State *L, weft__lloop *lp, int rc, weft_ostream *os, weft__lack *a) {
  if (rc < 0) {
    weft__lack_free(L, a);
    return weft__lfail(L, rc, "stream");
  }
  lwriter *w = weft__lnew(L, sizeof(*w), MT_WRITER);
  *w = (lwriter){os, lp, LUA_NOREF};
  return 1;
}

/* The info (nil: none) and ack (nil: none) at info, info + 1. */
static int open_args(lua_State *L, weft__lloop *lp, int info, weft_value **v, weft__lack **a,
                     int *nret) {
  *v = NULL;
  *a = NULL;
  if (!lua_isnoneornil(L, info) && weft__lcheck_value(lp, L, info, v, nret) != 0) return -1;
  if (!lua_isnoneornil(L, info + 1)) {
    luaL_checktype(L, info + 1, LUA_TFUNCTION);
    if (!(*a = weft__lack_new(L, lp, info + 1))) {
      weft_value_free(*v);
      *nret = weft__lfail(L, WEFT_ENOMEM, "stream");
      return -1;
    }
  }
  return 0;
}

/* spark:stream(event, [info], [ack]) --> a writer, or nil, message, name */
static int l_spark_stream(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  const char *event = luaL_checkstring(L, 2);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  int nret;
  if (!weft__lspark_server(L, p, "stream", &nret)) return nret;
  weft_value *info;
  weft__lack *a;
  if (open_args(L, lp, 3, &info, &a, &nret) != 0) return nret;
  weft_ostream *os = NULL;
  int rc = weft_ostream_open(p->sp, event, info, a ? weft__lon_ack : NULL, a, &os);
  weft_value_free(info);
  return push_writer(L, lp, rc, os, a);
}

/* client:stream(event, [info], [ack], [to]) with to = { broadcast = true }
 * | { rooms = {…} } | { sockets = {…} } (routed by a fast-tcp server; no
 * ack). */
static int l_client_stream(lua_State *L) {
  int is_client;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  const char *event = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 5)) luaL_checktype(L, 5, LUA_TTABLE);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (o->closed) return weft__lfail(L, WEFT_ECLOSED, "stream");
  weft_stream_to to = {sizeof(to), 0, NULL, 0, NULL, 0};
  if (lua_type(L, 5) == LUA_TTABLE) {
    lua_settop(L, 5);
    to.broadcast = field_bool(L, 5, "broadcast");
    to.rooms = names_at(L, 5, "rooms", &to.n_rooms);
    to.ids = names_at(L, 5, "sockets", &to.n_ids);
  }
  int nret;
  weft_value *info;
  weft__lack *a;
  if (open_args(L, lp, 3, &info, &a, &nret) != 0) return nret;
  weft_ostream *os = NULL;
  int rc = weft_ostream_open_client(o->c, event, info, lua_type(L, 5) == LUA_TTABLE ? &to : NULL,
                                    a ? weft__lon_ack : NULL, a, &os);
  weft_value_free(info);
  return push_writer(L, lp, rc, os, a);
}

/* handle:_streams([window]): streams on (before listen/open). */
static int l_streams(lua_State *L) {
  int is_client;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  LOOP_UP(L)->L = L;
  if (o->closed) return weft__lfail(L, WEFT_ECLOSED, "streams");
  int rc = is_client ? weft_streams_client(o->c, on_open, o, NULL)
                     : weft_streams_server(o->s, on_open, o, NULL);
  if (rc == 0 && is_client && lua_type(L, 2) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, 2);
    rc = n >= 1 && n < 1e15 ? weft_streams_client_window(o->c, (size_t)n) : WEFT_EINVAL;
  }
  if (rc < 0) return weft__lfail(L, rc, "streams");
  lua_settop(L, 1);
  return 1;
}

/* handle:_on_stream(fn|nil) */
static int l_on_stream(lua_State *L) {
  int is_client;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  LOOP_UP(L)->L = L;
  weft__lunref(L, &o->cb[WEFT__LCB_STREAM]);
  if (!lua_isnoneornil(L, 2)) o->cb[WEFT__LCB_STREAM] = weft__lref(L, 2);
  lua_settop(L, 1);
  return 1;
}

/* ---- routes ---- */

/* client:route(event, args|nil, to) with to = { broadcast =, rooms =,
 * sockets =, with_sender = } --> true, or nil, message, name */
static int l_route(lua_State *L) {
  int is_client;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  const char *event = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  lua_settop(L, 4);
  weft_emitter *em = o->closed || !is_client ? NULL : weft_emitter_of_client(o->c);
  if (!em)
    return weft__lfailmsg(L, o->closed ? WEFT_ECLOSED : WEFT_ESTATE,
                          "route: the emitter is not enabled (emitter=true)");
  weft_route r = {sizeof(r), event, NULL, field_bool(L, 4, "broadcast"),  NULL,
                  0,         NULL,  0,    field_bool(L, 4, "with_sender")};
  r.rooms = names_at(L, 4, "rooms", &r.n_rooms);
  r.ids = names_at(L, 4, "sockets", &r.n_ids);
  int first = lua_gettop(L) + 1, n = lua_isnil(L, 3) ? 0 : (int)lua_rawlen(L, 3);
  luaL_checkstack(L, n + 4, "too many route arguments");
  for (int i = 1; i <= n; i++)
    lua_rawgeti(L, 3, i);
  weft_value *args;
  int nret;
  if (weft__lcheck_args(lp, L, first, first + n - 1, &args, &nret) != 0) return nret;
  r.args = args;
  int rc = weft_emitter_route(em, &r);
  weft_value_free(args);
  if (rc < 0) return weft__lfail(L, rc, "route");
  lua_pushboolean(L, 1);
  return 1;
}

typedef struct policy {
  weft__lloop *lp;
  int ref;
} policy;

typedef struct policy_ctx {
  policy *pol;
  weft_spark *sp;
  weft_route *r;
  int verdict; /* 0 serve, -1 refuse */
} policy_ctx;

static void push_names(lua_State *L, const char *const *v, size_t n, const char *key) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, v[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  lua_setfield(L, -2, key);
}

static int push_policy(lua_State *L, weft__lcall *c) {
  policy_ctx *p = c->ctx;
  weft_route *r = p->r;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->pol->ref);
  weft__lpush_spark(L, p->sp);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, r->event);
  lua_setfield(L, -2, "event");
  if (r->args)
    weft__lpush_value(c->lp, L, r->args);
  else
    lua_newtable(L);
  lua_setfield(L, -2, "args");
  lua_pushboolean(L, r->broadcast);
  lua_setfield(L, -2, "broadcast");
  lua_pushboolean(L, r->with_sender);
  lua_setfield(L, -2, "with_sender");
  push_names(L, r->rooms, r->n_rooms, "rooms");
  push_names(L, r->ids, r->n_ids, "sockets");
  return 2;
}

/* false/nil refuses, a table changes broadcast / with_sender, anything
 * else serves. */
static void policy_result(lua_State *L, weft__lcall *c) {
  policy_ctx *p = c->ctx;
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, "broadcast");
    if (!lua_isnil(L, -1)) p->r->broadcast = lua_toboolean(L, -1);
    lua_getfield(L, -2, "with_sender");
    if (!lua_isnil(L, -1)) p->r->with_sender = lua_toboolean(L, -1);
    lua_pop(L, 2);
    p->verdict = 0;
  } else {
    p->verdict = lua_toboolean(L, -1) ? 0 : -1;
  }
}

static int on_route(weft_spark *sp, weft_route *r, void *user) {
  policy_ctx p = {user, sp, r, -1};
  weft__lcall c;
  weft__lcall_init(&c, p.pol->lp, LUA_NOREF);
  c.push = push_policy;
  c.result = policy_result;
  c.nres = 1;
  c.ctx = &p;
  c.sp = sp;
  return weft__lrun(&c) == 0 && p.verdict == 0 ? 0 : WEFT_EREJECTED;
}

static void policy_free(void *user) {
  policy *pol = user;
  weft__lunref(pol->lp->L, &pol->ref);
  free(pol);
}

/* server:route_policy(fn(spark, route) --> false | true | { broadcast =,
 * with_sender = } | nil): nil serves every route (the default). */
static int l_route_policy(lua_State *L) {
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft_emitter *em = o->closed ? NULL : weft_emitter_of_server(o->s);
  if (!em)
    return weft__lfailmsg(L, o->closed ? WEFT_ECLOSED : WEFT_ESTATE,
                          "route_policy: the emitter is not enabled (emitter=true)");
  policy *pol = NULL;
  if (!lua_isnoneornil(L, 2)) {
    if (!(pol = malloc(sizeof(*pol)))) return weft__lfail(L, WEFT_ENOMEM, "route_policy");
    *pol = (policy){lp, weft__lref(L, 2)};
  }
  int rc = weft_emitter_set_route_policy(em, pol ? on_route : NULL, pol, pol ? policy_free : NULL);
  if (rc != 0) {
    if (pol) policy_free(pol);
    return weft__lfail(L, rc, "route_policy");
  }
  lua_settop(L, 1);
  return 1;
}

const luaL_Reg weft__lstream_methods[] = {{"on", l_stream_on},
                                          {"pause", l_pause},
                                          {"resume", l_resume},
                                          {"is_open", l_stream_open},
                                          {NULL, NULL}};
const luaL_Reg weft__lwriter_methods[] = {{"write", l_write},     {"on_drain", l_on_drain},
                                          {"pending", l_pending}, {"finish", l_finish},
                                          {"end", l_finish},      {NULL, NULL}};
const luaL_Reg weft__lstream_server_methods[] = {{"_streams", l_streams},
                                                 {"_on_stream", l_on_stream},
                                                 {"route_policy", l_route_policy},
                                                 {NULL, NULL}};
const luaL_Reg weft__lstream_spark_methods[] = {{"stream", l_spark_stream}, {NULL, NULL}};
const luaL_Reg weft__lstream_client_methods[] = {{"_streams", l_streams},
                                                 {"_on_stream", l_on_stream},
                                                 {"stream", l_client_stream},
                                                 {"route", l_route},
                                                 {NULL, NULL}};
