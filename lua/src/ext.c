/*
 * The extensions (weft/ext.h) on servers, sparks and clients: events with
 * acknowledgements (handle, emit, replies) and rooms. Turning them on is
 * an option (emitter, rooms) set through the core's table; errors on the
 * wire reach the owner's "error" event from the core. Handlers are
 * registrations whose free_user drops their Lua reference.
 */
#include <stdlib.h>
#include <string.h>

#include "weft/adapter.h"
#include "weft_lua.h"

/* nil, "<what>: the <ext> is not enabled (<option>=true)", "ESTATE"; or
 * ECLOSED when the handle is gone. */
static int not_enabled(lua_State *L, int gone, const char *what, const char *ext,
                       const char *option) {
  if (gone) return weft__lfail(L, WEFT_ECLOSED, what);
  lua_pushfstring(L, "%s: %s not enabled (%s=true)", what, ext, option);
  return weft__lfailmsg(L, WEFT_ESTATE, lua_tostring(L, -1));
}

/* The emitter of the server or client at index 1. */
static weft_emitter *emitter_of(lua_State *L, const char *what, int *nret, int *is_client) {
  weft__lowner *o = weft__lcheck_owner(L, 1, is_client);
  weft_emitter *em = o->closed    ? NULL
                     : *is_client ? weft_emitter_of_client(o->c)
                                  : weft_emitter_of_server(o->s);
  if (!em)
    *nret = not_enabled(
        L, o->closed || (*is_client ? !weft_client_loop(o->c) : !weft_server_loop(o->s)), what,
        "the emitter is", "emitter");
  return em;
}

/* ---- replies ---- */

struct weft__lreply { /* the userdata of a reply */
  weft_reply *r;      /* NULL once answered, or dropped */
  weft__lowner *o;
  weft__lreply *prev, *next; /* the owner's unanswered replies */
};

static void reply_unlink(weft__lreply *ru) {
  if (ru->prev)
    ru->prev->next = ru->next;
  else if (ru->o && ru->o->replies == ru)
    ru->o->replies = ru->next;
  if (ru->next) ru->next->prev = ru->prev;
  ru->prev = ru->next = NULL;
  ru->o = NULL;
}

static weft_reply *reply_take(weft__lreply *ru) {
  weft_reply *r = ru->r;
  ru->r = NULL;
  reply_unlink(ru);
  return r;
}

/* Rejects with the string `why` (WEFT_REPLY_DROPPED when NULL). */
static void reply_reject(weft_reply *r, const char *why) {
  weft_value *v = why ? weft_value_new_string(why, strlen(why)) : NULL;
  if (v)
    weft_reply_reject(r, v);
  else
    weft_reply_drop(r);
  weft_value_free(v);
}

/* The owner's unanswered replies are rejected with `why`: "closing" from
 * server:close()/client:close() (while the peers can still hear it), NULL
 * (dropped) from the owner's close event, after which the emitter goes. */
void weft__lreplies_reject(weft__lowner *o, const char *why) {
  while (o->replies)
    reply_reject(reply_take(o->replies), why);
}

typedef weft__lack ack;
#define ack_new weft__lack_new
#define ack_free weft__lack_free
#define on_ack weft__lon_ack

/* reply:resolve(value, fn, [{ timeout = ms }]): the answer carries fn, which
 * the peer may call back: fn(nil, value, reply|nil) then, reply when that
 * call carries a callback in turn; fn(err) at the timeout or the close. */
static int answer_cb(lua_State *L, weft__lloop *lp, weft__lreply *ru, weft_value *v) {
  uint32_t timeout = WEFT_EMIT_DEFAULT_TIMEOUT;
  if (lua_type(L, 4) == LUA_TTABLE) {
    lua_getfield(L, 4, "timeout");
    lua_Number t = lua_tonumber(L, -1);
    if (lua_type(L, -1) == LUA_TNUMBER && t >= 0 && t < 4294967295.0) {
      timeout = (uint32_t)t;
    } else if (!lua_isnil(L, -1)) {
      weft_value_free(v);
      return luaL_argerror(L, 4, "timeout must be a number of ms >= 0");
    }
    lua_pop(L, 1);
  }
  ack *a = ack_new(L, lp, 3);
  if (!a) {
    weft_value_free(v);
    return weft__lfail(L, WEFT_ENOMEM, "resolve");
  }
  int rc = weft_reply_resolve_cb(reply_take(ru), v, timeout, on_ack, a);
  weft_value_free(v);
  if (rc) ack_free(L, a); /* not sent: fn never runs */
  if (rc < 0) return weft__lfail(L, rc, "resolve");
  lua_pushboolean(L, 1);
  return 1;
}

static int answer(lua_State *L, int resolve) {
  weft__lreply *ru = luaL_checkudata(L, 1, MT_REPLY);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!ru->r)
    return weft__lfailmsg(L, WEFT_ESTATE,
                          "reply: already answered (or dropped: its server or client closed)");
  weft_value *v = NULL;
  int nret;
  if (!lua_isnoneornil(L, 2) && weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  if (resolve && lua_type(L, 3) == LUA_TFUNCTION) return answer_cb(L, lp, ru, v);
  if (resolve && !lua_isnoneornil(L, 3)) {
    weft_value_free(v);
    return luaL_argerror(L, 3, "a callback must be a function");
  }
  weft_reply *r = reply_take(ru);
  int rc = resolve ? weft_reply_resolve(r, v) : weft_reply_reject(r, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, resolve ? "resolve" : "reject");
  lua_pushboolean(L, 1);
  return 1;
}
static int l_resolve(lua_State *L) { return answer(L, 1); }
static int l_reject(lua_State *L) { return answer(L, 0); }
static int l_pending(lua_State *L) {
  lua_pushboolean(L, ((weft__lreply *)luaL_checkudata(L, 1, MT_REPLY))->r != NULL);
  return 1;
}

/* __gc: a reply let go of unanswered is dropped (WEFT_REPLY_DROPPED). */
int weft__lreply_gc(lua_State *L) {
  weft__lreply *ru = luaL_checkudata(L, 1, MT_REPLY);
  if (!ru->r) return 0;
  LOOP_UP(L)->L = L;
  weft_reply_drop(reply_take(ru));
  return 0;
}

weft__lreply *weft__lpush_reply(lua_State *L, weft__lowner *o, weft_reply *r) {
  weft__lreply *ru = weft__lnew(L, sizeof(*ru), MT_REPLY);
  ru->r = r;
  ru->o = o;
  ru->next = o->replies;
  if (ru->next) ru->next->prev = ru;
  o->replies = ru;
  return ru;
}

/* ---- events: handle(name, fn) ---- */

typedef struct handler {
  weft__lloop *lp;
  weft__lowner *o;
  int ref;
  int wildcard;
} handler;

static void handler_free(void *user) {
  handler *h = user;
  weft__lunref(h->lp->L, &h->ref);
  free(h);
}

typedef struct event_ctx {
  handler *h;
  const weft_event *ev;
  weft__lreply *ru;
  int keep; /* a registry reference to ru's userdata while the handler runs */
} event_ctx;

/* fn(spark, reply|nil, [name,] args...) on servers, fn(reply|nil, [name,]
 * args...) on clients; the wildcard handler gets the name. */
static int push_event(lua_State *L, weft__lcall *c) {
  event_ctx *e = c->ctx;
  const weft_event *ev = e->ev;
  size_t na = ev->args ? weft_value_len(ev->args) : 0;
  if (na > 100000) luaL_error(L, "event '%s': too many arguments", ev->name);
  luaL_checkstack(L, (int)na + 8, "too many event arguments");
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->h->ref);
  int n = 0;
  if (ev->spark) weft__lpush_spark(L, ev->spark), n++;
  if (ev->reply) {
    e->ru = weft__lpush_reply(L, e->h->o, ev->reply);
    e->keep = weft__lref(L, -1);
  } else {
    lua_pushnil(L);
  }
  n++;
  if (e->h->wildcard) lua_pushstring(L, ev->name), n++;
  for (size_t i = 0; i < na; i++)
    weft__lpush_value(c->lp, L, weft_value_array_at(ev->args, i)), n++;
  return n;
}

static void on_event(const weft_event *ev, void *user) {
  handler *h = user;
  event_ctx e = {h, ev, NULL, LUA_NOREF};
  weft__lcall c;
  weft__lcall_init(&c, h->lp, LUA_NOREF);
  c.push = push_event;
  c.ctx = &e;
  c.sp = ev->spark;
  int rc = weft__lrun(&c);
  if (!ev->reply) return;
  if (!e.ru) { /* it never had its reply */
    if (rc != 0) weft_reply_drop(ev->reply);
    return;
  }
  /* It raised before answering: "handler error". The reference kept its
   * userdata from the collector meanwhile (keeping the error allocates; a
   * collected reply would answer "no answer" first). Without one (no
   * memory for it), the live list is searched. */
  if (rc != 0) {
    weft__lreply *ru = e.keep != LUA_NOREF ? e.ru : h->o->replies;
    for (; ru; ru = e.keep != LUA_NOREF ? NULL : ru->next) {
      if (ru->r != ev->reply) continue;
      reply_reject(reply_take(ru), "handler error");
      break;
    }
  }
  weft__lunref(h->lp->L, &e.keep);
}

/* handle(name, fn|nil) on a server or client: the handler of an event
 * ("*": every event without its own). */
static int l_handle(lua_State *L) {
  int is_client, nret;
  const char *name = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft_emitter *em = emitter_of(L, "handle", &nret, &is_client);
  if (!em) return nret;
  handler *h = NULL;
  if (!lua_isnoneornil(L, 3)) {
    if (!(h = malloc(sizeof(*h)))) return weft__lfail(L, WEFT_ENOMEM, "handle");
    h->lp = lp;
    h->o = weft__lcheck_owner(L, 1, &is_client);
    h->ref = weft__lref(L, 3);
    h->wildcard = strcmp(name, "*") == 0;
  }
  int rc = weft_emitter_on(em, name, h ? on_event : NULL, h, h ? handler_free : NULL);
  if (rc != 0) {
    if (h) handler_free(h);
    return weft__lfail(L, rc, "handle");
  }
  lua_settop(L, 1);
  return 1;
}

/* ---- emit, with acks ---- */

struct weft__lack {
  weft__lloop *lp;
  int ref;
  const weft_ack *ack;
};

/* fn(nil, result) when resolved, fn(nil, result, reply) when the answer
 * carries a callback (reply:resolve(v[, fn]) calls it back); fn(err) with
 * err = { code, name, kind = "emitter", message, reason } otherwise. */
static int push_ack(lua_State *L, weft__lcall *c) {
  ack *a = c->ctx;
  const weft_ack *k = a->ack;
  lua_rawgeti(L, LUA_REGISTRYINDEX, a->ref);
  if (k->status == 0) {
    lua_pushnil(L);
    if (k->value)
      weft__lpush_value(c->lp, L, k->value);
    else
      lua_pushnil(L);
    if (!k->reply || weft_reply_keep(k->reply) != 0) return 2;
    /* Held by the userdata alone: answered, or dropped by __gc. */
    weft__lreply *ru = weft__lnew(L, sizeof(*ru), MT_REPLY);
    ru->r = k->reply;
    ru->o = NULL;
    ru->prev = ru->next = NULL;
    return 3;
  }
  const char *s = NULL;
  size_t len = 0;
  if (k->status == WEFT_EREJECTED && k->value && weft_value_type(k->value) == WEFT_STRING)
    weft_value_get_string(k->value, &s, &len);
  if (s)
    lua_pushfstring(L, "rejected: %s", s);
  else
    lua_pushstring(L, k->status == WEFT_ETIMEDOUT ? "no answer in time"
                      : k->status == WEFT_ECLOSED ? "the connection closed before the answer"
                                                  : weft_strerror(k->status));
  weft_error_info e = {k->status, "emitter", lua_tostring(L, -1), 0, NULL};
  weft__lpush_error(L, &e);
  lua_remove(L, -2);
  if (k->value) {
    weft__lpush_value(c->lp, L, k->value);
    lua_setfield(L, -2, "reason");
  }
  return 1;
}

void weft__lon_ack(const weft_ack *k, void *user) {
  ack *a = user;
  weft__lcall c;
  weft__lcall_init(&c, a->lp, LUA_NOREF);
  c.push = push_ack;
  c.ctx = a;
  a->ack = k;
  weft__lrun(&c);
  weft__lunref(a->lp->L, &a->ref);
  free(a);
}

ack *weft__lack_new(lua_State *L, weft__lloop *lp, int fn) {
  ack *a = malloc(sizeof(*a));
  if (!a) return NULL;
  a->lp = lp;
  a->ack = NULL;
  a->ref = weft__lref(L, fn);
  return a;
}

void weft__lack_free(lua_State *L, ack *a) {
  if (!a) return;
  weft__lunref(L, &a->ref);
  free(a);
}

/* emit(name, args..., [fn, [{ timeout = ms }]]) on a spark (sp) or a client. */
static int emit(lua_State *L, weft_emitter *em, weft_spark *sp) {
  weft__lloop *lp = LOOP_UP(L);
  const char *name = luaL_checkstring(L, 2);
  int top = lua_gettop(L), last = top, fn = 0;
  uint32_t timeout = WEFT_EMIT_DEFAULT_TIMEOUT;
  if (top >= 3 && lua_type(L, top) == LUA_TFUNCTION) {
    fn = top;
    last = top - 1;
  } else if (top > 3 && lua_type(L, top) == LUA_TTABLE && lua_type(L, top - 1) == LUA_TFUNCTION) {
    fn = top - 1;
    last = top - 2;
    lua_getfield(L, top, "timeout");
    lua_Number t = lua_tonumber(L, -1);
    if (lua_type(L, -1) == LUA_TNUMBER && t >= 0 && t < 4294967295.0)
      timeout = (uint32_t)t;
    else if (!lua_isnil(L, -1))
      return luaL_argerror(L, top, "timeout must be a number of ms >= 0");
    lua_pop(L, 1);
  }
  weft_value *args;
  int nret;
  if (weft__lcheck_args(lp, L, 3, last, &args, &nret) != 0) return nret;
  ack *a = NULL;
  if (fn && !(a = ack_new(L, lp, fn))) {
    weft_value_free(args);
    return weft__lfail(L, WEFT_ENOMEM, "emit");
  }
  int rc = weft_emitter_emit(em, sp, name, args, timeout, a ? on_ack : NULL, a);
  weft_value_free(args);
  if (rc < 0) {
    ack_free(L, a);
    return weft__lfail(L, rc, "emit");
  }
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int l_spark_emit(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  LOOP_UP(L)->L = L;
  luaL_checkstring(L, 2);
  int nret;
  weft_server *s = weft__lspark_server(L, p, "emit", &nret);
  if (!s) return nret;
  weft_emitter *em = weft_emitter_of_server(s);
  if (!em) return not_enabled(L, 0, "emit", "the emitter is", "emitter");
  return emit(L, em, p->sp);
}

/* client:emit(...) as spark:emit; server:emit(name, args...) to every open
 * spark (no acks) --> the number of sparks reached. */
static int l_emit(lua_State *L) {
  int is_client, nret;
  luaL_checkstring(L, 2);
  LOOP_UP(L)->L = L;
  weft_emitter *em = emitter_of(L, "emit", &nret, &is_client);
  if (!em) return nret;
  if (is_client) return emit(L, em, NULL);
  if (lua_type(L, lua_gettop(L)) == LUA_TFUNCTION)
    return weft__lfailmsg(L, WEFT_EINVAL, "emit: a broadcast cannot ask for acks");
  weft_value *args;
  if (weft__lcheck_args(LOOP_UP(L), L, 3, lua_gettop(L), &args, &nret) != 0) return nret;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  int rc = weft_server_send_event(o->s, NULL, lua_tostring(L, 2), args);
  weft_value_free(args);
  if (rc < 0) return weft__lfail(L, rc, "emit");
  lua_pushinteger(L, rc);
  return 1;
}

/* ---- rooms ---- */

static weft_rooms *spark_rooms(lua_State *L, weft__lspark *p, const char *what, int *nret) {
  weft_server *s = weft__lspark_server(L, p, what, nret);
  weft_rooms *rooms = s ? weft_rooms_of_server(s) : NULL;
  if (s && !rooms) *nret = not_enabled(L, 0, what, "rooms are", "rooms");
  return rooms;
}

static int spark_room_op(lua_State *L, int op) {
  static const char *const names[] = {"join", "leave", "leave_all", "in_room"};
  weft__lspark *p = weft__lcheck_spark(L, 1);
  const char *room = op == 2 ? NULL : luaL_checkstring(L, 2);
  LOOP_UP(L)->L = L;
  int nret;
  weft_rooms *rooms = spark_rooms(L, p, names[op], &nret);
  if (!rooms) return nret;
  int rc = op == 0   ? weft_rooms_join(rooms, p->sp, room)
           : op == 1 ? weft_rooms_leave(rooms, p->sp, room)
           : op == 2 ? weft_rooms_leave_all(rooms, p->sp)
                     : weft_rooms_has(rooms, p->sp, room);
  if (rc < 0) return weft__lfail(L, rc, names[op]);
  lua_pushboolean(L, op == 3 ? rc > 0 : 1);
  return 1;
}
static int l_join(lua_State *L) { return spark_room_op(L, 0); }
static int l_leave(lua_State *L) { return spark_room_op(L, 1); }
static int l_leave_all(lua_State *L) { return spark_room_op(L, 2); }
static int l_in_room(lua_State *L) { return spark_room_op(L, 3); }

/* spark:rooms() --> { names } */
static int l_spark_rooms(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L, 1);
  int nret;
  weft_rooms *rooms = spark_rooms(L, p, "rooms", &nret);
  if (!rooms) return nret;
  int n = weft_rooms_of_spark_count(rooms, p->sp);
  lua_createtable(L, n > 0 ? n : 0, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, weft_rooms_of_spark_at(rooms, p->sp, (size_t)i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static weft_rooms *server_rooms(lua_State *L, const char *what, int *nret) {
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
  weft_rooms *rooms = weft_rooms_of_server(o->s);
  if (!rooms) *nret = not_enabled(L, !weft_server_loop(o->s), what, "rooms are", "rooms");
  return rooms;
}

/* server:rooms() --> { names of the rooms that have members } */
static int l_server_rooms(lua_State *L) {
  int nret;
  weft_rooms *rooms = server_rooms(L, "rooms", &nret);
  if (!rooms) return nret;
  int n = weft_rooms_count(rooms);
  lua_createtable(L, n > 0 ? n : 0, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, weft_rooms_name_at(rooms, (size_t)i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* server:members(room) --> { sparks } */
static int l_members(lua_State *L) {
  const char *room = luaL_checkstring(L, 2);
  int nret;
  weft_rooms *rooms = server_rooms(L, "members", &nret);
  if (!rooms) return nret;
  int n = weft_rooms_member_count(rooms, room);
  if (n < 0) return weft__lfail(L, n, "members");
  lua_createtable(L, n, 0);
  int j = 0;
  for (int i = 0; i < n; i++) {
    weft__lpush_spark(L, weft_rooms_member_at(rooms, room, (size_t)i));
    if (lua_isnil(L, -1))
      lua_pop(L, 1);
    else
      lua_rawseti(L, -2, ++j);
  }
  return 1;
}

/* server:presence(room, fn): fn(ids) with the spark ids in `room` across
 * the cluster (option redis; this process only without it), sorted, or
 * fn(nil, err). Returns the server. */
typedef struct presence_ask {
  weft__lloop *lp;
  int ref, status;
  const char *const *ids;
  size_t n;
} presence_ask;

static int push_presence(lua_State *L, weft__lcall *c) {
  presence_ask *a = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, a->ref);
  if (a->status) {
    lua_pushnil(L);
    weft_error_info e = {a->status, "presence", weft_strerror(a->status), 0, NULL};
    weft__lpush_error(L, &e);
    return 2;
  }
  lua_createtable(L, (int)a->n, 0);
  for (size_t i = 0; i < a->n; i++) {
    lua_pushstring(L, a->ids[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

static void on_presence(weft_server *s, int status, const char *const *ids, size_t n, void *user) {
  presence_ask *a = user;
  weft__lcall c;
  (void)s;
  weft__lcall_init(&c, a->lp, LUA_NOREF);
  c.push = push_presence;
  c.ctx = a;
  a->status = status;
  a->ids = ids;
  a->n = n;
  weft__lrun(&c);
  weft__lunref(a->lp->L, &a->ref);
  free(a);
}

static int l_presence(lua_State *L) {
  const char *room = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  int nret;
  weft_rooms *rooms = server_rooms(L, "presence", &nret);
  if (!rooms) return nret;
  weft__lowner *o = ((weft__lhandle *)luaL_checkudata(L, 1, MT_SERVER))->o;
  presence_ask *a = malloc(sizeof(*a));
  if (!a) return weft__lfail(L, WEFT_ENOMEM, "presence");
  a->lp = LOOP_UP(L);
  a->ref = weft__lref(L, 3);
  int rc = weft_server_presence(o->s, room, on_presence, a);
  if (rc) {
    weft__lunref(L, &a->ref);
    free(a);
    return weft__lfail(L, rc, "presence");
  }
  lua_settop(L, 1);
  return 1;
}

typedef struct policy_ctx {
  handler *h;
  weft_spark *sp;
  const char *room;
  int join, allow;
} policy_ctx;

static int push_policy(lua_State *L, weft__lcall *c) {
  policy_ctx *p = c->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->h->ref);
  weft__lpush_spark(L, p->sp);
  lua_pushstring(L, p->room);
  lua_pushboolean(L, p->join);
  return 3;
}

static void policy_result(lua_State *L, weft__lcall *c) {
  ((policy_ctx *)c->ctx)->allow = lua_toboolean(L, -1);
}

static int on_policy(weft_spark *sp, const char *room, int join, void *user) {
  policy_ctx p = {user, sp, room, join, 0};
  weft__lcall c;
  weft__lcall_init(&c, p.h->lp, LUA_NOREF);
  c.push = push_policy;
  c.result = policy_result;
  c.nres = 1;
  c.ctx = &p;
  c.sp = sp;
  return weft__lrun(&c) == 0 && p.allow ? 0 : WEFT_EREJECTED;
}

/* server:rooms_policy(fn(spark, room, join) --> allow | nil) */
static int l_rooms_policy(lua_State *L) {
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  int nret;
  weft_rooms *rooms = server_rooms(L, "rooms_policy", &nret);
  if (!rooms) return nret;
  handler *h = NULL;
  if (!lua_isnoneornil(L, 2)) {
    if (!(h = malloc(sizeof(*h)))) return weft__lfail(L, WEFT_ENOMEM, "rooms_policy");
    *h = (handler){lp, NULL, weft__lref(L, 2), 0};
  }
  int rc = weft_rooms_set_client_policy(rooms, h ? on_policy : NULL, h, h ? handler_free : NULL);
  if (rc != 0) {
    if (h) handler_free(h);
    return weft__lfail(L, rc, "rooms_policy");
  }
  lua_settop(L, 1);
  return 1;
}

/* client:join(room, [fn(err)]), client:leave(room, [fn(err)]) (join 1,
 * 0) and client:leave_all([fn(err)]) (join -1) */
static int client_room(lua_State *L, int join) {
  const char *what = join > 0 ? "join" : join ? "leave_all" : "leave";
  const char *room = join >= 0 ? luaL_checkstring(L, 2) : NULL;
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  int is_client, nret;
  weft_emitter *em = emitter_of(L, what, &nret, &is_client);
  if (!em) return nret;
  ack *a = NULL;
  if (!lua_isnoneornil(L, 3) && !(a = ack_new(L, lp, 3))) return weft__lfail(L, WEFT_ENOMEM, what);
  int rc = join > 0 ? weft_emitter_join(em, room, a ? on_ack : NULL, a)
           : join   ? weft_emitter_leave_all(em, a ? on_ack : NULL, a)
                    : weft_emitter_leave(em, room, a ? on_ack : NULL, a);
  if (rc < 0) {
    ack_free(L, a);
    return weft__lfail(L, rc, what);
  }
  lua_pushboolean(L, 1);
  return 1;
}
static int l_client_join(lua_State *L) { return client_room(L, 1); }
static int l_client_leave(lua_State *L) { return client_room(L, 0); }
static int l_client_leave_all(lua_State *L) {
  lua_settop(L, 2);
  lua_pushnil(L);
  lua_insert(L, 2); /* (client, nil, fn): fn where join's is */
  return client_room(L, -1);
}

const luaL_Reg weft__lreply_methods[] = {
    {"resolve", l_resolve}, {"reject", l_reject}, {"pending", l_pending}, {NULL, NULL}};

const luaL_Reg weft__lext_server_methods[] = {{"handle", l_handle},
                                              {"emit", l_emit},
                                              {"rooms", l_server_rooms},
                                              {"members", l_members},
                                              {"presence", l_presence},
                                              {"rooms_policy", l_rooms_policy},
                                              {NULL, NULL}};
const luaL_Reg weft__lext_spark_methods[] = {{"emit", l_spark_emit},
                                             {"join", l_join},
                                             {"leave", l_leave},
                                             {"leave_all", l_leave_all},
                                             {"in_room", l_in_room},
                                             {"rooms", l_spark_rooms},
                                             {NULL, NULL}};
const luaL_Reg weft__lext_client_methods[] = {{"handle", l_handle},
                                              {"emit", l_emit},
                                              {"join", l_client_join},
                                              {"leave", l_client_leave},
                                              {"leave_all", l_client_leave_all},
                                              {NULL, NULL}};
