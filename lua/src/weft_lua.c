/*
 * weft for Lua: `local weft = require "weft"`.
 *
 * One C file, written by hand in luv's style: handles are userdata with
 * metatables, callbacks are registry references, and every call from C into
 * Lua goes through lua_pcall with a traceback handler, so a Lua error never
 * longjmps across libuv's frames. An error raised by a handler is stored and
 * re-raised by poll()/run() once the loop step has returned.
 *
 * Builds against Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API). The module does not
 * link liblua: lua_* come from the host executable or interpreter. Only
 * luaopen_weft is exported.
 *
 * There is one weft loop per Lua state. It lives in a full userdata that is
 * an upvalue of every function of the module; its __gc (at lua_close) ends
 * whatever is still open.
 */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include <weft/ext.h>
#include <weft/weft.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
#define WEFT__LUA_NO_INT 1
#endif

#define WEFT__LUA_EXPORT __attribute__((visibility("default")))

/* Metatable names in the registry. */
#define MT_LOOP "weft.loop"
#define MT_SERVER "weft.server"
#define MT_SPARK "weft.spark"
#define MT_CLIENT "weft.client"
#define MT_ARRAY "weft.array"
#define MT_MAP "weft.map"
#define MT_REPLY "weft.reply"
#define MT_CHANNEL "weft.channel"
#define MT_TARGET "weft.target"

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct weft__lhandle weft__lhandle;
struct weft__lhandle { /* every open server/client, for the loop's __gc */
  weft__lhandle *prev, *next;
  int is_client;
};

typedef struct weft__lloop {
  weft_loop *loop;
  lua_State *L; /* the state of the latest call into the module */
  int tb_ref, err_ref, array_mt_ref, map_mt_ref;
  int chans_ref;     /* table: lightuserdata(weft_channel) -> channel userdata */
  int nerr;          /* handler errors dropped after the first pending one */
  int closing;       /* lua_close: no more calls into Lua */
  int running;       /* inside weft.run() */
  int log_ref;       /* the log function (weft.set_log) */
  int log_busy;      /* the log function runs: records it causes are dropped */
  unsigned long ncb; /* callbacks dispatched (poll() returns the difference) */
  weft__lhandle *handles;
} weft__lloop;

enum {
  SEV_CONNECTION,
  SEV_DISCONNECTION,
  SEV_DATA,
  SEV_DRAIN,
  SEV_ERROR,
  SEV_CLOSE,
  SEV_CHANNEL,
  SEV_N
};
static const char *const server_events[] = {"connection", "disconnection", "data",    "drain",
                                            "error",      "close",         "channel", NULL};

typedef struct weft__lreply weft__lreply;

/* The extensions of one server or client (emitter, rooms, channels). */
typedef struct weft__lext {
  weft__lloop *lp;
  void *owner; /* the weft__lserver or weft__lclient */
  int is_client;
  int dead; /* closing: events are refused without calling Lua */
  weft_emitter *em;
  weft_rooms *rooms;
  weft_channels *chs;
  int handlers_ref;      /* table: event name -> function */
  int policy_ref;        /* rooms policy function */
  weft__lreply *replies; /* reply userdata not answered yet */
} weft__lext;

typedef struct weft__lserver {
  weft__lhandle h; /* first member */
  weft__lloop *lp;
  weft_server *s; /* NULL once destroy was called */
  int quiet;      /* collected: no server-level handlers any more */
  int cb[SEV_N];
  weft__lext ext;
} weft__lserver;

typedef struct weft__lserver_ud {
  weft__lserver *impl; /* NULL once closed */
} weft__lserver_ud;

enum { PEV_DATA, PEV_END, PEV_ERROR, PEV_DRAIN, PEV_N };
static const char *const spark_events[] = {"data", "end", "error", "drain", NULL};

typedef struct weft__lspark {
  weft_spark *sp; /* NULL after disconnection */
  weft__lserver *srv;
  int self_ref; /* keeps the userdata alive while connected */
  int cb[PEV_N];
} weft__lspark;

enum {
  CEV_OPEN,
  CEV_DATA,
  CEV_ERROR,
  CEV_CLOSE,
  CEV_END,
  CEV_TIMEOUT,
  CEV_RSCHED,
  CEV_RECONNECT,
  CEV_RECONNECTED,
  CEV_RFAILED,
  CEV_RTIMEOUT,
  CEV_ONLINE,
  CEV_OFFLINE,
  CEV_ID,
  CEV_CHANNEL,
  CEV_N
};
static const char *const client_events[] = {"open",
                                            "data",
                                            "error",
                                            "close",
                                            "end",
                                            "timeout",
                                            "reconnect scheduled",
                                            "reconnect",
                                            "reconnected",
                                            "reconnect failed",
                                            "reconnect timeout",
                                            "online",
                                            "offline",
                                            "id",
                                            "channel",
                                            NULL};

typedef struct weft__lclient {
  weft__lhandle h; /* first member */
  weft__lloop *lp;
  weft_client *c; /* NULL once destroy was called */
  int quiet;
  int cb[CEV_N];
  weft__lext ext;
} weft__lclient;

typedef struct weft__lclient_ud {
  weft__lclient *impl;
} weft__lclient_ud;

#define LOOP_UP(L) ((weft__lloop *)lua_touserdata(L, lua_upvalueindex(1)))

/* The extensions (defined with their Lua API further down). */
static void weft__lext_init(weft__lext *x, weft__lloop *lp, void *owner, int is_client);
static int weft__lext_attach(lua_State *L, weft__lext *x, weft_server *s, weft_client *c,
                             const char **what);
static void weft__lext_close(weft__lext *x);
static void weft__lext_free(weft__lext *x, lua_State *L);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static int weft__lfail(lua_State *L, int code, const char *what) {
  lua_pushnil(L);
  if (what)
    lua_pushfstring(L, "%s: %s", what, weft_strerror(code));
  else
    lua_pushstring(L, weft_strerror(code));
  lua_pushstring(L, weft_err_name(code));
  return 3;
}

static int weft__lfailmsg(lua_State *L, int code, const char *msg) {
  lua_pushnil(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, weft_err_name(code));
  return 3;
}

/* nil, "unknown transformer 'x' (available: a, b)", "EUNSUPPORTED" for a name the core
 * does not know (the names listed are the core's, weft_transformer_at());
 * nil, "transformer: <message>", name for another failure. */
static int weft__lfail_transformer(lua_State *L, int code, const char *name) {
  if (code != WEFT_EUNSUPPORTED || !name || weft_transformer_exists(name))
    return weft__lfail(L, code, "transformer");
  lua_pushnil(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "unknown transformer '");
  luaL_addstring(&b, name);
  luaL_addstring(&b, "' (available: ");
  for (size_t i = 0; weft_transformer_at(i); i++) {
    if (i > 0) luaL_addstring(&b, ", ");
    luaL_addstring(&b, weft_transformer_at(i));
  }
  luaL_addstring(&b, ")");
  luaL_pushresult(&b);
  lua_pushstring(L, weft_err_name(code));
  return 3;
}

static int weft__labsindex(lua_State *L, int idx) {
  return (idx < 0 && idx > LUA_REGISTRYINDEX) ? lua_gettop(L) + idx + 1 : idx;
}

static void weft__lunref(lua_State *L, int *ref) {
  if (*ref != LUA_NOREF && *ref != LUA_REFNIL) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  *ref = LUA_NOREF;
}

static int weft__levent_index(lua_State *L, int arg, const char *const names[]) {
  const char *name = luaL_checkstring(L, arg);
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], name) == 0) return i;
  /* Aliases: underscores for spaces, "disconnection"/"close" for a spark's end. */
  char buf[32];
  size_t n = strlen(name);
  if (n < sizeof(buf)) {
    for (size_t i = 0; i <= n; i++)
      buf[i] = name[i] == '_' ? ' ' : name[i];
    for (int i = 0; names[i]; i++)
      if (strcmp(names[i], buf) == 0) return i;
  }
  if (names == spark_events && (strcmp(name, "disconnection") == 0 || strcmp(name, "close") == 0))
    return PEV_END;
  return -1;
}

/* handle:on(event, fn|nil): sets or clears the handler; returns the handle. */
static int weft__lset_handler(lua_State *L, int *cb, const char *const names[]) {
  int ev = weft__levent_index(L, 2, names);
  if (ev < 0)
    return luaL_argerror(L, 2, lua_pushfstring(L, "unknown event '%s'", lua_tostring(L, 2)));
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  weft__lunref(L, &cb[ev]);
  if (!lua_isnoneornil(L, 3)) {
    lua_pushvalue(L, 3);
    cb[ev] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_settop(L, 1);
  return 1;
}

static void weft__llink(weft__lloop *lp, weft__lhandle *h) {
  h->prev = NULL;
  h->next = lp->handles;
  if (lp->handles) lp->handles->prev = h;
  lp->handles = h;
}

static void weft__lunlink(weft__lloop *lp, weft__lhandle *h) {
  if (h->prev)
    h->prev->next = h->next;
  else if (lp->handles == h)
    lp->handles = h->next;
  if (h->next) h->next->prev = h->prev;
  h->prev = h->next = NULL;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

/* Lua -> weft. Never raises: returns 0 or a WEFT_E* code, and *why says what
 * could not be converted. */
static int weft__lto_value(weft__lloop *lp, lua_State *L, int idx, int depth, weft_value **out,
                           const char **why) {
  idx = weft__labsindex(L, idx);
  *out = NULL;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: *out = weft_value_new_null(); break;
  case LUA_TBOOLEAN: *out = weft_value_new_bool(lua_toboolean(L, idx)); break;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) != NULL) {
      *why = "a light userdata";
      return WEFT_ETYPE;
    }
    *out = weft_value_new_null(); /* weft.null */
    break;
  case LUA_TNUMBER: {
#ifdef WEFT__LUA_NO_INT
    double d = lua_tonumber(L, idx);
    if (d == floor(d) && fabs(d) <= 9007199254740992.0)
      *out = weft_value_new_int((int64_t)d);
    else
      *out = weft_value_new_float(d);
#else
    if (lua_isinteger(L, idx))
      *out = weft_value_new_int((int64_t)lua_tointeger(L, idx));
    else
      *out = weft_value_new_float(lua_tonumber(L, idx));
#endif
    break;
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    *out = weft_value_new_string(s, len);
    if (!*out) *out = weft_value_new_binary(s, len); /* not UTF-8: bytes */
    break;
  }
  case LUA_TTABLE: {
    if (depth >= WEFT_VALUE_MAX_DEPTH) {
      *why = "a table nested too deeply (or a cycle)";
      return WEFT_EDEPTH;
    }
    if (!lua_checkstack(L, 6)) return WEFT_ENOMEM;
    int kind = 0; /* 1 array, 2 map */
    if (lua_getmetatable(L, idx)) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->array_mt_ref);
      if (lua_rawequal(L, -1, -2)) kind = 1;
      lua_pop(L, 1);
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->map_mt_ref);
      if (lua_rawequal(L, -1, -2)) kind = 2;
      lua_pop(L, 2);
    }
    size_t n = lua_rawlen(L, idx);
    if (kind == 0) {
      if (n == 0) {
        kind = 2;
      } else {
        kind = 1;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
          lua_pop(L, 1);
          int ok = 0;
          if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -1);
            ok = k >= 1 && k <= (lua_Number)n && k == floor(k);
          }
          if (!ok) {
            kind = 2;
            lua_pop(L, 1);
            break;
          }
        }
      }
    }
    if (kind == 1) {
      weft_value *arr = weft_value_new_array();
      if (!arr) return WEFT_ENOMEM;
      for (size_t i = 1; i <= n; i++) {
        weft_value *item;
        lua_rawgeti(L, idx, (int)i);
        int rc = weft__lto_value(lp, L, -1, depth + 1, &item, why);
        lua_pop(L, 1);
        if (rc == 0) rc = weft_value_array_push(arr, item);
        if (rc != 0) {
          weft_value_free(arr);
          return rc;
        }
      }
      *out = arr;
      return 0;
    }
    weft_value *map = weft_value_new_map();
    if (!map) return WEFT_ENOMEM;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      weft_value *val, *key;
      int rc = weft__lto_value(lp, L, -1, depth + 1, &val, why);
      if (rc == 0) {
        size_t klen;
        if (lua_type(L, -2) == LUA_TSTRING) {
          /* A string key that is not UTF-8 is a binary key (msgpack). */
          const char *k = lua_tolstring(L, -2, &klen);
          key = weft_value_new_string(k, klen);
          if (!key) key = weft_value_new_binary(k, klen);
          if (key) {
            rc = weft_value_map_add_value(map, key, val);
          } else {
            weft_value_free(val);
            rc = WEFT_ENOMEM;
          }
        } else {
          rc = weft__lto_value(lp, L, -2, depth + 1, &key, why);
          if (rc == 0)
            rc = weft_value_map_add_value(map, key, val);
          else
            weft_value_free(val);
        }
      }
      lua_pop(L, 1);
      if (rc != 0) {
        lua_pop(L, 1);
        weft_value_free(map);
        return rc;
      }
    }
    *out = map;
    return 0;
  }
  default: *why = lua_typename(L, lua_type(L, idx)); return WEFT_ETYPE;
  }
  return *out ? 0 : WEFT_ENOMEM;
}

/* Converts argument `idx`, or returns the nil, message, name triple. */
static int weft__lcheck_value(weft__lloop *lp, lua_State *L, int idx, weft_value **out, int *nret) {
  const char *why = NULL;
  int rc = weft__lto_value(lp, L, idx, 0, out, &why);
  if (rc != 0) {
    if (why)
      lua_pushfstring(L, "cannot send %s: %s", why, weft_strerror(rc));
    else
      lua_pushfstring(L, "cannot send this value: %s", weft_strerror(rc));
    const char *msg = lua_tostring(L, -1);
    *nret = weft__lfailmsg(L, rc, msg);
    lua_remove(L, -4);
  }
  return rc;
}

/* weft -> Lua (may raise a memory error: called inside lua_pcall only). */
static void weft__lpush_value(weft__lloop *lp, lua_State *L, const weft_value *v) {
  luaL_checkstack(L, 4, "message nested too deeply");
  switch (weft_value_type(v)) {
  case WEFT_NULL: lua_pushlightuserdata(L, NULL); break;
  case WEFT_BOOL: {
    int b = 0;
    weft_value_get_bool(v, &b);
    lua_pushboolean(L, b);
    break;
  }
  case WEFT_INT: {
    int64_t i = 0;
    weft_value_get_int(v, &i);
#ifdef WEFT__LUA_NO_INT
    lua_pushnumber(L, (lua_Number)i);
#else
    lua_pushinteger(L, (lua_Integer)i);
#endif
    break;
  }
  case WEFT_FLOAT: {
    double d = 0;
    weft_value_get_float(v, &d);
    lua_pushnumber(L, d);
    break;
  }
  case WEFT_STRING: {
    const char *s = NULL;
    size_t len = 0;
    weft_value_get_string(v, &s, &len);
    lua_pushlstring(L, s, len);
    break;
  }
  case WEFT_BINARY: {
    const uint8_t *p = NULL;
    size_t len = 0;
    weft_value_get_binary(v, &p, &len);
    lua_pushlstring(L, (const char *)p, len);
    break;
  }
  case WEFT_ARRAY: {
    size_t n = weft_value_len(v);
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      weft__lpush_value(lp, L, weft_value_array_at(v, i));
      lua_rawseti(L, -2, (int)(i + 1));
    }
    if (n == 0) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->array_mt_ref);
      lua_setmetatable(L, -2);
    }
    break;
  }
  case WEFT_MAP: {
    size_t n = weft_value_len(v);
    lua_createtable(L, 0, n > INT32_MAX ? 0 : (int)n);
    for (size_t i = 0; i < n; i++) {
      const weft_value *k = weft_value_map_key_at(v, i);
      if (weft_value_type(k) == WEFT_FLOAT) {
        double d = 0;
        weft_value_get_float(k, &d);
        if (d != d) continue; /* NaN cannot be a Lua key */
      }
      weft__lpush_value(lp, L, k);
      weft__lpush_value(lp, L, weft_value_map_value_at(v, i));
      lua_rawset(L, -3);
    }
    if (n == 0) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->map_mt_ref);
      lua_setmetatable(L, -2);
    }
    break;
  }
  }
}

static void weft__lpush_error(lua_State *L, const weft_error_info *err) {
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, err->code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, weft_err_name(err->code));
  lua_setfield(L, -2, "name");
  lua_pushstring(L, err->kind ? err->kind : "");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, err->message ? err->message : weft_strerror(err->code));
  lua_setfield(L, -2, "message");
  if (err->status) {
    lua_pushinteger(L, err->status);
    lua_setfield(L, -2, "status");
  }
  if (err->body) {
    lua_pushstring(L, err->body);
    lua_setfield(L, -2, "body");
  }
}

/* ------------------------------------------------------------------------ */
/* Calling into Lua from the loop                                           */
/* ------------------------------------------------------------------------ */

enum { D_CALL, D_CONNECTION, D_CUSTOM };

typedef struct weft__ldispatch weft__ldispatch;
struct weft__ldispatch {
  weft__lloop *lp;
  int kind;
  int ref;      /* handler (LUA_NOREF: none) */
  int arg_ref;  /* pushed first when not LUA_NOREF (a spark) */
  int tail_ref; /* pushed last when not LUA_NOREF (the spark of a server error) */
  const weft_value *msg;
  const weft_error_info *err;
  const weft_reconnect_info *ri;
  const char *str;
  weft_spark *sp;
  weft__lserver *srv;
  weft__lspark *spark;
  int (*custom)(lua_State *L, weft__ldispatch *d); /* D_CUSTOM: pushes and calls itself */
  void *ctx;
  int result;
};

static int weft__ltraceback(lua_State *L) {
  /* Error objects that are not strings (tables, userdata) pass through as
   * they are, so handlers can raise structured errors. */
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER) return 1;
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

static int weft__lpush_args(lua_State *L, weft__ldispatch *d) {
  int n = 0;
  if (d->arg_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, d->arg_ref);
    n++;
  }
  if (d->msg) {
    weft__lpush_value(d->lp, L, d->msg);
    n++;
  }
  if (d->err) {
    weft__lpush_error(L, d->err);
    n++;
  }
  if (d->ri) {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, d->ri->attempt);
    lua_setfield(L, -2, "attempt");
    lua_pushinteger(L, d->ri->retries);
    lua_setfield(L, -2, "retries");
    lua_pushinteger(L, d->ri->delay_ms);
    lua_setfield(L, -2, "delay");
    n++;
  }
  if (d->str) {
    lua_pushstring(L, d->str);
    n++;
  }
  if (d->tail_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, d->tail_ref);
    n++;
  }
  return n;
}

/* Runs inside lua_pcall: everything that may raise happens here. */
static int weft__ldispatch_fn(lua_State *L) {
  weft__ldispatch *d = lua_touserdata(L, 1);
  lua_settop(L, 0);
  if (d->kind == D_CUSTOM) return d->custom(L, d);
  if (d->kind == D_CONNECTION) {
    weft__lspark *p = lua_newuserdata(L, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->self_ref = LUA_NOREF;
    for (int i = 0; i < PEV_N; i++)
      p->cb[i] = LUA_NOREF;
    luaL_getmetatable(L, MT_SPARK);
    lua_setmetatable(L, -2);
    p->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    p->sp = d->sp;
    p->srv = d->srv;
    weft_spark_set_user(d->sp, p, NULL);
    d->arg_ref = p->self_ref;
  }
  if (d->ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, d->ref);
    lua_call(L, weft__lpush_args(L, d), 0);
  }
  return 0;
}

static void weft__lstore_error(weft__lloop *lp, lua_State *L) {
  if (lp->err_ref == LUA_NOREF) {
    lp->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else {
    lp->nerr++;
    lua_pop(L, 1);
  }
  if (lp->running) weft_loop_stop(lp->loop);
}

/* Returns 0 when the handler ran and returned, -1 otherwise. */
static int weft__lrun(weft__ldispatch *d) {
  weft__lloop *lp = d->lp;
  if (lp->closing) return -1;
  lua_State *L = lp->L;
  if (!lua_checkstack(L, 4)) return -1;
  lp->ncb++;
  int rc = 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->tb_ref);
  lua_pushcfunction(L, weft__ldispatch_fn);
  lua_pushlightuserdata(L, d);
  if (lua_pcall(L, 1, 0, -3) != 0) {
    weft__lstore_error(lp, L);
    rc = -1;
  }
  lua_pop(L, 1);
  return rc;
}

static void weft__linit_dispatch(weft__ldispatch *d, weft__lloop *lp, int kind, int ref) {
  memset(d, 0, sizeof(*d));
  d->lp = lp;
  d->kind = kind;
  d->ref = ref;
  d->arg_ref = LUA_NOREF;
  d->tail_ref = LUA_NOREF;
}

/* Raises the pending handler error, if any. */
static void weft__lraise_pending(weft__lloop *lp, lua_State *L) {
  if (lp->err_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->err_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->err_ref);
  lp->err_ref = LUA_NOREF;
  if (lp->nerr > 0 && lua_type(L, -1) == LUA_TSTRING)
    lua_pushfstring(L, "%s\n(and %d more handler errors)", lua_tostring(L, -1), lp->nerr);
  lp->nerr = 0;
  lua_error(L);
}

/* ------------------------------------------------------------------------ */
/* Server callbacks                                                         */
/* ------------------------------------------------------------------------ */

static int weft__lsrv_ref(weft__lserver *srv, int ev) {
  return srv->quiet ? LUA_NOREF : srv->cb[ev];
}

static void weft__lon_connection(weft_spark *sp, void *user) {
  weft__lserver *srv = user;
  weft__ldispatch d;
  weft__linit_dispatch(&d, srv->lp, D_CONNECTION, weft__lsrv_ref(srv, SEV_CONNECTION));
  d.sp = sp;
  d.srv = srv;
  weft__lrun(&d);
}

static void weft__lon_disconnection(weft_spark *sp, void *user) {
  weft__lserver *srv = user;
  weft__lspark *p = weft_spark_get_user(sp);
  if (!p) return;
  weft__ldispatch d;
  /* The spark's own "end" handler first (no argument), then the server's
   * "disconnection" handler with the spark, as Primus. */
  weft__linit_dispatch(&d, srv->lp, D_CALL, p->cb[PEV_END]);
  if (d.ref != LUA_NOREF) weft__lrun(&d);
  weft__linit_dispatch(&d, srv->lp, D_CALL, weft__lsrv_ref(srv, SEV_DISCONNECTION));
  d.arg_ref = p->self_ref;
  if (d.ref != LUA_NOREF) weft__lrun(&d);
  weft_spark_set_user(sp, NULL, NULL);
  p->sp = NULL;
  if (!srv->lp->closing) {
    lua_State *L = srv->lp->L;
    for (int i = 0; i < PEV_N; i++)
      weft__lunref(L, &p->cb[i]);
    weft__lunref(L, &p->self_ref);
  }
}

static void weft__lon_data(weft_spark *sp, const weft_value *msg, void *user) {
  weft__lserver *srv = user;
  weft__lspark *p = weft_spark_get_user(sp);
  weft__ldispatch d;
  if (p && p->cb[PEV_DATA] != LUA_NOREF) {
    weft__linit_dispatch(&d, srv->lp, D_CALL, p->cb[PEV_DATA]);
  } else {
    weft__linit_dispatch(&d, srv->lp, D_CALL, weft__lsrv_ref(srv, SEV_DATA));
    if (d.ref == LUA_NOREF || !p) return;
    d.arg_ref = p->self_ref;
  }
  d.msg = msg;
  weft__lrun(&d);
}

static void weft__lon_drain(weft_spark *sp, void *user) {
  weft__lserver *srv = user;
  weft__lspark *p = weft_spark_get_user(sp);
  weft__ldispatch d;
  if (!p) return;
  if (p->cb[PEV_DRAIN] != LUA_NOREF) {
    weft__linit_dispatch(&d, srv->lp, D_CALL, p->cb[PEV_DRAIN]);
  } else {
    weft__linit_dispatch(&d, srv->lp, D_CALL, weft__lsrv_ref(srv, SEV_DRAIN));
    d.arg_ref = p->self_ref;
  }
  if (d.ref != LUA_NOREF) weft__lrun(&d);
}

static void weft__lon_error(weft_server *s, weft_spark *sp, const weft_error_info *err,
                            void *user) {
  (void)s;
  weft__lserver *srv = user;
  weft__lspark *p = sp ? weft_spark_get_user(sp) : NULL;
  weft__ldispatch d;
  if (p && p->cb[PEV_ERROR] != LUA_NOREF) {
    weft__linit_dispatch(&d, srv->lp, D_CALL, p->cb[PEV_ERROR]);
    d.err = err;
    weft__lrun(&d);
    return;
  }
  weft__linit_dispatch(&d, srv->lp, D_CALL, weft__lsrv_ref(srv, SEV_ERROR));
  if (d.ref == LUA_NOREF) return;
  d.err = err;
  if (p) d.tail_ref = p->self_ref;
  weft__lrun(&d); /* server handler: fn(err, spark|nil) */
}

static void weft__lon_server_close(weft_server *s, void *user) {
  (void)s;
  weft__lserver *srv = user;
  weft__ldispatch d;
  weft__linit_dispatch(&d, srv->lp, D_CALL, weft__lsrv_ref(srv, SEV_CLOSE));
  if (d.ref != LUA_NOREF) weft__lrun(&d);
}

/* free_user of the server: after close; drops the handler references. */
static void weft__lserver_free(void *user) {
  weft__lserver *srv = user;
  weft__lloop *lp = srv->lp;
  if (!lp->closing) {
    for (int i = 0; i < SEV_N; i++)
      weft__lunref(lp->L, &srv->cb[i]);
    weft__lext_free(&srv->ext, lp->L);
  }
  weft__lunlink(lp, &srv->h);
  free(srv);
}

/* ------------------------------------------------------------------------ */
/* Loop: weft.poll, weft.run, weft.stop                                     */
/* ------------------------------------------------------------------------ */

#define WEFT__LPOLL_MAX_STEPS 256

/* weft_loop_timeout(), but -1 when nothing is alive (libuv says 0 then). */
static int weft__lloop_timeout(weft__lloop *lp) {
  if (!uv_loop_alive(weft_loop_uv(lp->loop))) return -1;
  return weft_loop_timeout(lp->loop);
}

/* Waits at most `ms` for work (never longer than the next timer), then drains:
 * run_once until nothing is ready. Returns the number of callbacks run. */
static int weft__lpoll(lua_State *L, weft__lloop *lp, lua_Number wait_ms) {
  lp->L = L;
  if (wait_ms > 0) {
    int t = weft__lloop_timeout(lp);
    int ms = wait_ms > 86400000 ? 86400000 : (int)ceil(wait_ms);
    if (t < 0 || t > ms) t = ms;
    int fd = weft_loop_fd(lp->loop);
    if (t > 0 && fd >= 0) { /* nothing alive (t == ms): a plain sleep */
      struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
      (void)poll(&pfd, 1, t);
    }
  }
  unsigned long before = lp->ncb;
  for (int i = 0; i < WEFT__LPOLL_MAX_STEPS; i++) {
    int rc = weft_loop_run_once(lp->loop);
    if (rc < 0) return weft__lfail(L, rc, "poll");
    if (lp->err_ref != LUA_NOREF) break;
    if (rc == 0 || weft__lloop_timeout(lp) != 0) break;
  }
  weft__lraise_pending(lp, L);
  lua_pushinteger(L, (lua_Integer)(lp->ncb - before));
  return 1;
}

/* weft.poll([wait_ms]) and handle:poll([wait_ms]). */
static int weft__l_poll(lua_State *L) {
  int arg = lua_type(L, 1) == LUA_TUSERDATA || lua_type(L, 1) == LUA_TTABLE ? 2 : 1;
  lua_Number ms = luaL_optnumber(L, arg, 0);
  if (ms != ms || ms < 0) return luaL_argerror(L, arg, "wait must be a non-negative number");
  return weft__lpoll(L, LOOP_UP(L), ms);
}

static int weft__l_run(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  lp->running = 1;
  int rc = weft_loop_run(lp->loop);
  lp->running = 0;
  weft__lraise_pending(lp, L);
  if (rc < 0) return weft__lfail(L, rc, "run");
  lua_pushboolean(L, 1);
  return 1;
}

static int weft__l_stop(lua_State *L) {
  weft_loop_stop(LOOP_UP(L)->loop);
  return 0;
}

/* Monotonic milliseconds (a float) for game ticks. */
static int weft__l_clock(lua_State *L) {
  lua_pushnumber(L, (lua_Number)uv_hrtime() / 1e6);
  return 1;
}

/* weft.sleep(ms): sleeps without running the loop (a game's frame pacing
 * when the network is handled only at the tick's poll()). */
static int weft__l_sleep(lua_State *L) {
  lua_Number ms = luaL_checknumber(L, 1);
  if (ms != ms || ms < 0) return luaL_argerror(L, 1, "ms must be a non-negative number");
  if (ms > 86400000) ms = 86400000;
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(fmod(ms, 1000) * 1e6)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

/* weft.transformers() --> { "websockets", ... }: the core's names. */
static int weft__l_transformers(lua_State *L) {
  lua_newtable(L);
  for (size_t i = 0; weft_transformer_at(i); i++) {
    lua_pushstring(L, weft_transformer_at(i));
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

/* Milliseconds until the loop has timed work (-1 none, 0 ready now). */
static int weft__l_timeout(lua_State *L) {
  lua_pushinteger(L, weft__lloop_timeout(LOOP_UP(L)));
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Server                                                                   */
/* ------------------------------------------------------------------------ */

static int weft__lopt_field(lua_State *L, int t, const char *name, int type) {
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_type(L, -1) != type || (type == LUA_TNUMBER && lua_tonumber(L, -1) < 0)) {
    return luaL_error(L, "option '%s' must be a %s%s", name, lua_typename(L, type),
                      type == LUA_TNUMBER ? " >= 0" : "");
  }
  return 1;
}

static weft__lserver_ud *weft__lcheck_server(lua_State *L) {
  return luaL_checkudata(L, 1, MT_SERVER);
}

static int weft__lserver_close_impl(weft__lserver *srv, int reconnect, uint32_t timeout_ms) {
  if (!srv || !srv->s) return WEFT_ECLOSED;
  weft_server *s = srv->s;
  srv->s = NULL;
  weft__lext_close(&srv->ext);
  weft_destroy_options o = {.size = sizeof(o), .reconnect = reconnect, .timeout_ms = timeout_ms};
  return weft_server_destroy(s, &o);
}

/* The server's `url` option: a string, or a list of strings (one listener
 * each). Returns how many; raises when it is missing or of another type. */
static int weft__lserver_urls_opt(lua_State *L) {
  lua_getfield(L, 1, "url");
  int n = 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    n = 1;
  } else if (lua_type(L, -1) == LUA_TTABLE) {
    for (;; n++) {
      lua_rawgeti(L, -1, n + 1);
      int t = lua_type(L, -1);
      lua_pop(L, 1);
      if (t == LUA_TNIL) break;
      if (t != LUA_TSTRING) return luaL_argerror(L, 1, "'url' list must hold strings only");
    }
  } else if (!lua_isnil(L, -1)) {
    return luaL_argerror(L, 1, "'url' must be a string or a list of strings");
  }
  lua_pop(L, 1);
  if (n == 0) return luaL_argerror(L, 1, "'url' is required");
  return n;
}

/* weft.server{ url= (string or list), transformer=, parser=, ping_interval=,
 *              max_length=, compression=, high_water_mark=, max_queue=,
 *              origins={}, trusted_proxies={}, tls={cert=, key=}, unix_mode=,
 *              metrics_path= } */
static int weft__l_server(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  int nurl = weft__lserver_urls_opt(L);

  weft__lserver_ud *ud = lua_newuserdata(L, sizeof(*ud)); /* 2 */
  ud->impl = NULL;
  luaL_getmetatable(L, MT_SERVER);
  lua_setmetatable(L, -2);

  weft__lserver *srv = calloc(1, sizeof(*srv));
  if (!srv) return weft__lfail(L, WEFT_ENOMEM, "server");
  srv->lp = lp;
  for (int i = 0; i < SEV_N; i++)
    srv->cb[i] = LUA_NOREF;
  weft__lext_init(&srv->ext, lp, srv, 0);
  int rc = weft_server_new(lp->loop, &srv->s);
  if (rc != 0) {
    free(srv);
    return weft__lfail(L, rc, "server");
  }
  weft__llink(lp, &srv->h);
  ud->impl = srv;
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = weft__lon_connection,
                           .disconnection = weft__lon_disconnection,
                           .data = weft__lon_data,
                           .drain = weft__lon_drain,
                           .error = weft__lon_error,
                           .close = weft__lon_server_close};
  weft_server_set_events(srv->s, &ev, srv, weft__lserver_free);

  const char *what = NULL;
#define SRVOPT(name, type, call)                                                                   \
  if (rc == 0 && weft__lopt_field(L, 1, name, type)) {                                             \
    rc = call;                                                                                     \
    what = name;                                                                                   \
  }                                                                                                \
  lua_settop(L, 2);
  SRVOPT("transformer", LUA_TSTRING, weft_server_set_transformer(srv->s, lua_tostring(L, -1)))
  if (rc != 0) { /* the core's names in the message */
    ud->impl = NULL;
    srv->quiet = 1;
    weft__lserver_close_impl(srv, 0, 0);
    lua_getfield(L, 1, "transformer");
    return weft__lfail_transformer(L, rc, lua_tostring(L, -1));
  }
  SRVOPT("parser", LUA_TSTRING, weft_server_set_parser(srv->s, lua_tostring(L, -1)))
  SRVOPT("ping_interval", LUA_TNUMBER,
         weft_server_set_ping_interval(srv->s, (uint32_t)lua_tonumber(L, -1)))
  SRVOPT("max_length", LUA_TNUMBER, weft_server_set_max_length(srv->s, (size_t)lua_tonumber(L, -1)))
  SRVOPT("high_water_mark", LUA_TNUMBER,
         weft_server_set_high_water_mark(srv->s, (size_t)lua_tonumber(L, -1)))
  SRVOPT("max_queue", LUA_TNUMBER, weft_server_set_max_queue(srv->s, (size_t)lua_tonumber(L, -1)))
  SRVOPT(
      "queue_policy", LUA_TSTRING,
      weft_server_set_queue_policy(srv->s, !strcmp(lua_tostring(L, -1), "close")  ? WEFT_QUEUE_CLOSE
                                           : !strcmp(lua_tostring(L, -1), "drop") ? WEFT_QUEUE_DROP
                                                                                  : -1))
  SRVOPT("compression", LUA_TBOOLEAN, weft_server_set_compression(srv->s, lua_toboolean(L, -1)))
  SRVOPT("metrics_path", LUA_TSTRING, weft_server_set_metrics_path(srv->s, lua_tostring(L, -1)))
  SRVOPT("unix_mode", LUA_TNUMBER,
         weft_server_set_unix_mode(srv->s, lua_tonumber(L, -1) > 0xffffffffu
                                               ? 0xffffffffu
                                               : (unsigned)lua_tonumber(L, -1)))
#undef SRVOPT
  static const char *const lists[] = {"origins", "trusted_proxies"};
  for (int li = 0; li < 2 && rc == 0; li++) {
    if (!weft__lopt_field(L, 1, lists[li], LUA_TTABLE)) continue;
    what = lists[li];
    for (int i = 1; rc == 0; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_isnil(L, -1)) break;
      if (lua_type(L, -1) != LUA_TSTRING) {
        rc = WEFT_EINVAL;
        break;
      }
      rc = li == 0 ? weft_server_add_origin(srv->s, lua_tostring(L, -1))
                   : weft_server_add_trusted_proxy(srv->s, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_settop(L, 2);
  }
  if (rc == 0 && weft__lopt_field(L, 1, "tls", LUA_TTABLE)) { /* { cert = PEM, key = PEM } */
    what = "tls";
    lua_getfield(L, 3, "cert");
    lua_getfield(L, 3, "key");
    if (lua_type(L, -1) != LUA_TSTRING || lua_type(L, -2) != LUA_TSTRING)
      rc = WEFT_EINVAL;
    else
      rc = weft_server_set_tls(srv->s, lua_tostring(L, -2), lua_tostring(L, -1));
  }
  lua_settop(L, 2);
  if (rc == 0) rc = weft__lext_attach(L, &srv->ext, srv->s, NULL, &what);
  lua_settop(L, 2);
  if (rc == 0) {               /* one listener per URL; a failure names its URL */
    lua_getfield(L, 1, "url"); /* 3 */
    for (int i = 1; rc == 0 && i <= nurl; i++) {
      lua_settop(L, 3);
      if (lua_type(L, 3) == LUA_TTABLE)
        lua_rawgeti(L, 3, i);
      else
        lua_pushvalue(L, 3);
      rc = weft_server_listen(srv->s, lua_tostring(L, 4));
    }
    if (rc != 0) {
      ud->impl = NULL;
      srv->quiet = 1;
      weft__lserver_close_impl(srv, 0, 0);
      lua_pushfstring(L, "listen %s: %s", lua_tostring(L, 4), weft_strerror(rc));
      return weft__lfailmsg(L, rc, lua_tostring(L, -1));
    }
    lua_settop(L, 2);
  }
  if (rc != 0) {
    ud->impl = NULL;
    srv->quiet = 1;
    weft__lserver_close_impl(srv, 0, 0);
    return weft__lfail(L, rc, what);
  }
  lua_settop(L, 2);
  return 1;
}

static int weft__lserver_on(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  if (!ud->impl) return weft__lfail(L, WEFT_ECLOSED, "on");
  return weft__lset_handler(L, ud->impl->cb, server_events);
}

static int weft__lserver_write(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "write");
  weft_value *v;
  int nret;
  if (weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_server_write(ud->impl->s, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushinteger(L, rc);
  return 1;
}

static int weft__lserver_port(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "port");
  lua_pushinteger(L, weft_server_port(ud->impl->s));
  return 1;
}

/* server:url([i]) --> the URL the i-th listener (1-based, default 1) serves,
 * port resolved; nil past the last. */
static int weft__lserver_url(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  lua_Integer i = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, i >= 1, 2, "index must be >= 1");
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "url");
  lua_pushstring(L, weft_server_url(ud->impl->s, (size_t)(i - 1))); /* nil past the last */
  return 1;
}

/* server:urls() --> { url, ... } of every listener, in listen order. */
static int weft__lserver_urls(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "urls");
  lua_newtable(L);
  for (size_t i = 0;; i++) {
    const char *url = weft_server_url(ud->impl->s, i);
    if (!url) break;
    lua_pushstring(L, url);
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

static int weft__lserver_count(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  lua_pushinteger(L,
                  ud->impl && ud->impl->s ? (lua_Integer)weft_server_spark_count(ud->impl->s) : 0);
  return 1;
}

/* server:close([{ reconnect = bool, timeout = ms }]) */
static int weft__lserver_close(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  int reconnect = 0;
  uint32_t timeout = 0;
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_getfield(L, 2, "reconnect");
    reconnect = lua_toboolean(L, -1);
    lua_getfield(L, 2, "timeout");
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0)
      timeout = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
  }
  weft__lserver *srv = ud->impl;
  ud->impl = NULL;
  int rc = weft__lserver_close_impl(srv, reconnect, timeout);
  if (rc != 0) return weft__lfail(L, rc, "close");
  lua_pushboolean(L, 1);
  return 1;
}

/* __gc and __close: quiet close (no more server-level handlers). */
static int weft__lserver_gc(lua_State *L) {
  weft__lserver_ud *ud = luaL_checkudata(L, 1, MT_SERVER);
  weft__lserver *srv = ud->impl;
  ud->impl = NULL;
  if (srv) {
    srv->lp->L = L;
    srv->quiet = 1;
    weft__lserver_close_impl(srv, 0, 0);
  }
  return 0;
}

static int weft__lserver_tostring(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  const char *url = ud->impl && ud->impl->s ? weft_server_url(ud->impl->s, 0) : NULL;
  if (url)
    lua_pushfstring(L, "weft.server (%s)", url);
  else
    lua_pushstring(L, "weft.server (closed)");
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Spark                                                                    */
/* ------------------------------------------------------------------------ */

static weft__lspark *weft__lcheck_spark(lua_State *L) { return luaL_checkudata(L, 1, MT_SPARK); }

static int weft__lspark_on(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "on");
  return weft__lset_handler(L, p->cb, spark_events);
}

static int weft__lspark_write(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "write");
  weft_value *v;
  int nret;
  if (weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_spark_write(p->sp, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushboolean(L, rc == 0); /* false: above the high-water mark, wait for "drain" */
  return 1;
}

/* spark:close([msg], [{ reconnect = bool }]) */
static int weft__lspark_close(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "close");
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

static int weft__lspark_id(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "id");
  lua_pushstring(L, weft_spark_id(p->sp));
  return 1;
}

static int weft__lspark_address(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "address");
  lua_pushstring(L, weft_spark_address(p->sp));
  lua_pushinteger(L, weft_spark_port(p->sp));
  return 2;
}

static int weft__lspark_query(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  const char *key = luaL_checkstring(L, 2);
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "query");
  const char *v = weft_spark_query(p->sp, key);
  if (v)
    lua_pushstring(L, v);
  else
    lua_pushnil(L);
  return 1;
}

static int weft__lspark_header(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  const char *key = luaL_checkstring(L, 2);
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "header");
  const char *v = weft_spark_header(p->sp, key);
  if (v)
    lua_pushstring(L, v);
  else
    lua_pushnil(L);
  return 1;
}

static int weft__lspark_buffered(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  lua_pushinteger(L, p->sp ? (lua_Integer)weft_spark_buffered_amount(p->sp) : 0);
  return 1;
}

static int weft__lspark_is_open(lua_State *L) {
  lua_pushboolean(L, weft__lcheck_spark(L)->sp != NULL);
  return 1;
}

static int weft__lspark_tostring(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  if (p->sp)
    lua_pushfstring(L, "weft.spark (%s)", weft_spark_id(p->sp));
  else
    lua_pushstring(L, "weft.spark (closed)");
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Client                                                                   */
/* ------------------------------------------------------------------------ */

static void weft__lclient_call(weft__lclient *cl, int ev, const weft_value *msg,
                               const weft_error_info *err, const weft_reconnect_info *ri,
                               const char *str) {
  if (cl->quiet || cl->cb[ev] == LUA_NOREF) return;
  weft__ldispatch d;
  weft__linit_dispatch(&d, cl->lp, D_CALL, cl->cb[ev]);
  d.msg = msg;
  d.err = err;
  d.ri = ri;
  d.str = str;
  weft__lrun(&d);
}

#define CL(u) ((weft__lclient *)(u))
static void weft__lc_open(weft_client *c, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_OPEN, NULL, NULL, NULL, NULL);
}
static void weft__lc_data(weft_client *c, const weft_value *m, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_DATA, m, NULL, NULL, NULL);
}
static void weft__lc_error(weft_client *c, const weft_error_info *e, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_ERROR, NULL, e, NULL, NULL);
}
static void weft__lc_close(weft_client *c, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_CLOSE, NULL, NULL, NULL, NULL);
}
static void weft__lc_end(weft_client *c, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_END, NULL, NULL, NULL, NULL);
}
static void weft__lc_timeout(weft_client *c, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_TIMEOUT, NULL, NULL, NULL, NULL);
}
static void weft__lc_rsched(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_RSCHED, NULL, NULL, i, NULL);
}
static void weft__lc_reconnect(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_RECONNECT, NULL, NULL, i, NULL);
}
static void weft__lc_reconnected(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_RECONNECTED, NULL, NULL, i, NULL);
}
static void weft__lc_rfailed(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_RFAILED, NULL, NULL, i, NULL);
}
static void weft__lc_rtimeout(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_RTIMEOUT, NULL, NULL, i, NULL);
}
static void weft__lc_online(weft_client *c, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_ONLINE, NULL, NULL, NULL, NULL);
}
static void weft__lc_offline(weft_client *c, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_OFFLINE, NULL, NULL, NULL, NULL);
}
static void weft__lc_id(weft_client *c, const char *id, void *u) {
  (void)c;
  weft__lclient_call(CL(u), CEV_ID, NULL, NULL, NULL, id ? id : "");
}
#undef CL

static void weft__lclient_free(void *user) {
  weft__lclient *cl = user;
  weft__lloop *lp = cl->lp;
  if (!lp->closing) {
    for (int i = 0; i < CEV_N; i++)
      weft__lunref(lp->L, &cl->cb[i]);
    weft__lext_free(&cl->ext, lp->L);
  }
  weft__lunlink(lp, &cl->h);
  free(cl);
}

static weft__lclient_ud *weft__lcheck_client(lua_State *L) {
  return luaL_checkudata(L, 1, MT_CLIENT);
}

static int weft__lclient_destroy_impl(weft__lclient *cl) {
  if (!cl || !cl->c) return WEFT_ECLOSED;
  weft_client *c = cl->c;
  cl->c = NULL;
  weft__lext_close(&cl->ext);
  if (weft_client_state(c) != WEFT_CLIENT_CLOSED) weft_client_end(c, NULL);
  return weft_client_destroy(c);
}

/* weft.client{ url=, transformer=, parser=, timeout=, ping_timeout=, max_length=,
 *   queue_limit=, strategy=, reconnect={min=,max=,retries=,factor=},
 *   retry_refused=, headers={name=value}, ca_file=, verify=, manual= } */
static int weft__l_client(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (!weft__lopt_field(L, 1, "url", LUA_TSTRING)) return luaL_argerror(L, 1, "'url' is required");
  const char *url = lua_tostring(L, -1);

  weft__lclient *cl = calloc(1, sizeof(*cl));
  if (!cl) return weft__lfail(L, WEFT_ENOMEM, "client");
  cl->lp = lp;
  cl->h.is_client = 1;
  for (int i = 0; i < CEV_N; i++)
    cl->cb[i] = LUA_NOREF;
  weft__lext_init(&cl->ext, lp, cl, 1);
  int rc = weft_client_new(lp->loop, url, &cl->c);
  if (rc != 0) {
    free(cl);
    return weft__lfail(L, rc, "client");
  }
  lua_settop(L, 1);
  weft__llink(lp, &cl->h);
  weft_client_events ev = {.size = sizeof(ev),
                           .open = weft__lc_open,
                           .data = weft__lc_data,
                           .error = weft__lc_error,
                           .close = weft__lc_close,
                           .end = weft__lc_end,
                           .timeout = weft__lc_timeout,
                           .reconnect_scheduled = weft__lc_rsched,
                           .reconnect = weft__lc_reconnect,
                           .reconnected = weft__lc_reconnected,
                           .reconnect_failed = weft__lc_rfailed,
                           .online = weft__lc_online,
                           .offline = weft__lc_offline,
                           .id = weft__lc_id,
                           .reconnect_timeout = weft__lc_rtimeout};
  weft_client_set_events(cl->c, &ev, cl, weft__lclient_free);

  weft__lclient_ud *ud = lua_newuserdata(L, sizeof(*ud)); /* 2 */
  ud->impl = cl;
  luaL_getmetatable(L, MT_CLIENT);
  lua_setmetatable(L, -2);

  const char *what = NULL;
#define NUMOPT(name, call)                                                                         \
  if (rc == 0 && weft__lopt_field(L, 1, name, LUA_TNUMBER)) {                                      \
    rc = call;                                                                                     \
    what = name;                                                                                   \
  }                                                                                                \
  lua_settop(L, 2);
  if (weft__lopt_field(L, 1, "transformer", LUA_TSTRING)) {
    rc = weft_client_set_transformer(cl->c, lua_tostring(L, -1));
    if (rc != 0) { /* the core's names in the message */
      ud->impl = NULL;
      cl->quiet = 1;
      weft__lclient_destroy_impl(cl);
      return weft__lfail_transformer(L, rc, lua_tostring(L, 3));
    }
  }
  lua_settop(L, 2);
  if (weft__lopt_field(L, 1, "parser", LUA_TSTRING)) {
    rc = weft_client_set_parser(cl->c, lua_tostring(L, -1));
    what = "parser";
  }
  lua_settop(L, 2);
  NUMOPT("timeout", weft_client_set_timeout(cl->c, (uint32_t)lua_tonumber(L, -1)))
  NUMOPT("ping_timeout", weft_client_set_ping_timeout(cl->c, (uint32_t)lua_tonumber(L, -1)))
  NUMOPT("max_length", weft_client_set_max_length(cl->c, (size_t)lua_tonumber(L, -1)))
  NUMOPT("queue_limit", weft_client_set_queue_limit(cl->c, (size_t)lua_tonumber(L, -1)))
#undef NUMOPT
  if (rc == 0 && weft__lopt_field(L, 1, "strategy", LUA_TSTRING)) {
    rc = weft_client_set_strategy(cl->c, lua_tostring(L, -1));
    what = "strategy";
  }
  lua_settop(L, 2);
  if (rc == 0 && weft__lopt_field(L, 1, "retry_refused", LUA_TBOOLEAN))
    rc = weft_client_set_retry_refused(cl->c, lua_toboolean(L, -1));
  lua_settop(L, 2);
  if (rc == 0 && weft__lopt_field(L, 1, "verify", LUA_TBOOLEAN))
    rc = weft_client_set_verify(cl->c, lua_toboolean(L, -1));
  lua_settop(L, 2);
  if (rc == 0 && weft__lopt_field(L, 1, "ca_file", LUA_TSTRING)) {
    rc = weft_client_set_ca_file(cl->c, lua_tostring(L, -1));
    what = "ca_file";
  }
  lua_settop(L, 2);
  if (rc == 0 && weft__lopt_field(L, 1, "reconnect", LUA_TTABLE)) {
    uint32_t v[3] = {500, 0, 10};
    double factor = 2;
    static const char *const keys[] = {"min", "max", "retries"};
    for (int i = 0; i < 3; i++) {
      lua_getfield(L, 3, keys[i]);
      if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0)
        v[i] = (uint32_t)lua_tonumber(L, -1);
      else if (!lua_isnil(L, -1))
        rc = WEFT_EINVAL;
      lua_pop(L, 1);
    }
    lua_getfield(L, 3, "factor");
    if (lua_type(L, -1) == LUA_TNUMBER) factor = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (rc == 0) rc = weft_client_set_reconnect(cl->c, v[0], v[1], v[2], factor);
    what = "reconnect";
  }
  lua_settop(L, 2);
  if (rc == 0 && weft__lopt_field(L, 1, "headers", LUA_TTABLE)) {
    what = "headers";
    lua_pushnil(L);
    while (rc == 0 && lua_next(L, 3)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        rc = WEFT_EINVAL;
      else
        rc = weft_client_add_header(cl->c, lua_tostring(L, -2), lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_settop(L, 2);
  if (rc == 0) rc = weft__lext_attach(L, &cl->ext, NULL, cl->c, &what);
  lua_settop(L, 2);
  lua_getfield(L, 1, "manual");
  int manual = lua_toboolean(L, -1);
  lua_settop(L, 2);
  if (rc == 0 && !manual) {
    rc = weft_client_open(cl->c);
    what = "open";
  }
  if (rc != 0) {
    ud->impl = NULL;
    cl->quiet = 1;
    weft__lclient_destroy_impl(cl);
    return weft__lfail(L, rc, what);
  }
  lua_settop(L, 2);
  return 1;
}

static int weft__lclient_on(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  if (!ud->impl) return weft__lfail(L, WEFT_ECLOSED, "on");
  return weft__lset_handler(L, ud->impl->cb, client_events);
}

static int weft__lclient_open(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!ud->impl || !ud->impl->c) return weft__lfail(L, WEFT_ECLOSED, "open");
  int rc = weft_client_open(ud->impl->c);
  if (rc != 0) return weft__lfail(L, rc, "open");
  lua_settop(L, 1);
  return 1;
}

static int weft__lclient_write(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!ud->impl || !ud->impl->c) return weft__lfail(L, WEFT_ECLOSED, "write");
  weft_value *v;
  int nret;
  if (weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  int rc = weft_client_write(ud->impl->c, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, "write");
  lua_pushboolean(L, 1);
  return 1;
}

static int weft__lclient_id(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  if (!ud->impl || !ud->impl->c) return weft__lfail(L, WEFT_ECLOSED, "id");
  int rc = weft_client_id(ud->impl->c);
  if (rc != 0) return weft__lfail(L, rc, "id");
  lua_pushboolean(L, 1);
  return 1;
}

static int weft__lclient_state(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  int st = ud->impl && ud->impl->c ? weft_client_state(ud->impl->c) : WEFT_CLIENT_CLOSED;
  lua_pushstring(L, st == WEFT_CLIENT_OPEN      ? "open"
                    : st == WEFT_CLIENT_OPENING ? "opening"
                                                : "closed");
  return 1;
}

/* client:close([msg]): ends for good (close and end events follow), frees. */
static int weft__lclient_close(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  weft__lclient *cl = ud->impl;
  if (!cl || !cl->c) return weft__lfail(L, WEFT_ECLOSED, "close");
  weft_value *v = NULL;
  int nret;
  if (!lua_isnoneornil(L, 2) && weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  ud->impl = NULL;
  if (weft_client_state(cl->c) != WEFT_CLIENT_CLOSED) weft_client_end(cl->c, v);
  weft_value_free(v);
  weft__lclient_destroy_impl(cl);
  lua_pushboolean(L, 1);
  return 1;
}

static int weft__lclient_gc(lua_State *L) {
  weft__lclient_ud *ud = luaL_checkudata(L, 1, MT_CLIENT);
  weft__lclient *cl = ud->impl;
  ud->impl = NULL;
  if (cl) {
    cl->lp->L = L;
    cl->quiet = 1;
    weft__lclient_destroy_impl(cl);
  }
  return 0;
}

static int weft__lclient_tostring(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  lua_pushstring(L, ud->impl ? "weft.client" : "weft.client (closed)");
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Extensions: emitter with acks, rooms, channels                           */
/* ------------------------------------------------------------------------ */

struct weft__lreply { /* the userdata of a reply handle */
  weft_reply *r;      /* NULL once answered (or dropped at close) */
  weft__lext *x;
  weft__lreply *prev, *next;
};

typedef struct weft__lchannel { /* the userdata of a channel */
  weft_channel *ch;             /* NULL after its end event */
  weft__lloop *lp;
  int is_client;
  int cb[3]; /* data, end, drain */
} weft__lchannel;
static const char *const channel_events[] = {"data", "end", "drain", NULL};

static void weft__lext_init(weft__lext *x, weft__lloop *lp, void *owner, int is_client) {
  memset(x, 0, sizeof(*x));
  x->lp = lp;
  x->owner = owner;
  x->is_client = is_client;
  x->handlers_ref = x->policy_ref = LUA_NOREF;
}

static void weft__lreply_unlink(weft__lreply *ru) {
  weft__lext *x = ru->x;
  if (ru->prev)
    ru->prev->next = ru->next;
  else if (x && x->replies == ru)
    x->replies = ru->next;
  if (ru->next) ru->next->prev = ru->prev;
  ru->prev = ru->next = NULL;
  ru->x = NULL;
}

static void weft__lreject_str(weft_reply *r, const char *why) {
  weft_value *v = weft_value_new_string(why, strlen(why));
  weft_reply_reject(r, v);
  weft_value_free(v);
}

/* The server or client is closing: unanswered replies are rejected (the C
 * replies must be answered before the emitter goes), and later events are
 * refused without calling Lua. Never calls into Lua. */
static void weft__lext_close(weft__lext *x) {
  x->dead = 1;
  while (x->replies) {
    weft__lreply *ru = x->replies;
    weft_reply *r = ru->r;
    ru->r = NULL;
    weft__lreply_unlink(ru);
    if (r) weft__lreject_str(r, "closing");
  }
}

static void weft__lext_free(weft__lext *x, lua_State *L) {
  weft__lunref(L, &x->handlers_ref);
  weft__lunref(L, &x->policy_ref);
}

/* Pushes the Lua spark of a C spark, or nil. */
static void weft__lpush_spark(lua_State *L, weft_spark *sp) {
  weft__lspark *p = sp ? weft_spark_get_user(sp) : NULL;
  if (p && p->self_ref != LUA_NOREF)
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->self_ref);
  else
    lua_pushnil(L);
}

/* ---- errors of the extensions go to the owner's error event ---- */

static void weft__lon_error(weft_server *s, weft_spark *sp, const weft_error_info *err, void *user);
static void weft__lclient_call(weft__lclient *cl, int ev, const weft_value *msg,
                               const weft_error_info *err, const weft_reconnect_info *ri,
                               const char *str);

static void weft__lext_error(weft__lext *x, weft_spark *sp, const weft_error_info *err) {
  if (x->dead) return;
  if (x->is_client)
    weft__lclient_call(x->owner, CEV_ERROR, NULL, err, NULL, NULL);
  else
    weft__lon_error(NULL, sp, err, x->owner);
}
static void weft__lon_em_error(weft_emitter *em, weft_spark *sp, const weft_error_info *err,
                               void *user) {
  (void)em;
  weft__lext_error(user, sp, err);
}
static void weft__lon_ch_error(weft_channels *chs, weft_spark *sp, const weft_error_info *err,
                               void *user) {
  (void)chs;
  weft__lext_error(user, sp, err);
}

/* ---- acks ---- */

typedef struct weft__lack {
  weft__lloop *lp;
  int ref;
  const weft_ack *ack;
} weft__lack;

static void weft__lpush_ack_error(weft__lloop *lp, lua_State *L, const weft_ack *ack) {
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, ack->status);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, weft_err_name(ack->status));
  lua_setfield(L, -2, "name");
  lua_pushstring(L, "emitter");
  lua_setfield(L, -2, "kind");
  if (ack->status == WEFT_EREJECTED && ack->value && weft_value_type(ack->value) == WEFT_STRING) {
    const char *s = NULL;
    size_t len = 0;
    weft_value_get_string(ack->value, &s, &len);
    lua_pushfstring(L, "rejected: %s", s);
  } else {
    lua_pushstring(L, ack->status == WEFT_ETIMEDOUT ? "no answer in time"
                      : ack->status == WEFT_ECLOSED ? "the connection closed before the answer"
                                                    : weft_strerror(ack->status));
  }
  lua_setfield(L, -2, "message");
  if (ack->value) {
    weft__lpush_value(lp, L, ack->value);
    lua_setfield(L, -2, "reason");
  }
}

static int weft__lack_call(lua_State *L, weft__ldispatch *d) {
  weft__lack *a = d->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, a->ref);
  if (a->ack->status == 0) {
    lua_pushnil(L);
    if (a->ack->value)
      weft__lpush_value(d->lp, L, a->ack->value);
    else
      lua_pushnil(L);
  } else {
    weft__lpush_ack_error(d->lp, L, a->ack);
    lua_pushnil(L);
  }
  lua_call(L, 2, 0);
  return 0;
}

static void weft__lon_ack(const weft_ack *ack, void *user) {
  weft__lack *a = user;
  weft__lloop *lp = a->lp;
  if (!lp->closing) {
    weft__ldispatch d;
    weft__linit_dispatch(&d, lp, D_CUSTOM, LUA_NOREF);
    d.custom = weft__lack_call;
    a->ack = ack;
    d.ctx = a;
    weft__lrun(&d);
    weft__lunref(lp->L, &a->ref);
  }
  free(a);
}

/* ---- events ---- */

typedef struct weft__levctx {
  weft__lext *x;
  const weft_event *ev;
  weft__lreply *ru; /* the reply userdata, once made */
} weft__levctx;

static int weft__levent_call(lua_State *L, weft__ldispatch *d) {
  weft__levctx *c = d->ctx;
  const weft_event *ev = c->ev;
  luaL_checkstack(L, 8, "event");
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->x->handlers_ref);
  int wildcard = strcmp(ev->name, "*") == 0; /* an event named "*" is no special case */
  lua_getfield(L, -1, ev->name);
  if (lua_isnil(L, -1) || wildcard) {
    lua_pop(L, 1);
    lua_getfield(L, -1, "*");
    wildcard = 1;
  }
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) return luaL_error(L, "no handler for event '%s'", ev->name);
  int n = 0;
  if (!c->x->is_client) {
    weft__lpush_spark(L, ev->spark);
    n++;
  }
  if (ev->reply) {
    weft__lreply *ru = lua_newuserdata(L, sizeof(*ru));
    memset(ru, 0, sizeof(*ru));
    luaL_getmetatable(L, MT_REPLY);
    lua_setmetatable(L, -2);
    ru->r = ev->reply;
    ru->x = c->x;
    ru->next = c->x->replies;
    if (ru->next) ru->next->prev = ru;
    c->x->replies = ru;
    c->ru = ru;
  } else {
    lua_pushnil(L);
  }
  n++;
  if (wildcard) {
    lua_pushstring(L, ev->name);
    n++;
  }
  size_t na = ev->args ? weft_value_len(ev->args) : 0;
  if (na > 100000) return luaL_error(L, "event '%s': too many arguments", ev->name);
  luaL_checkstack(L, (int)na + 4, "too many event arguments");
  for (size_t i = 0; i < na; i++) {
    weft__lpush_value(d->lp, L, weft_value_array_at(ev->args, i));
    n++;
  }
  lua_call(L, n, 0);
  return 0;
}

static void weft__lon_event(const weft_event *ev, void *user) {
  weft__lext *x = user;
  if (x->dead || x->lp->closing || x->handlers_ref == LUA_NOREF) {
    if (ev->reply) weft__lreject_str(ev->reply, "closing");
    return;
  }
  weft__levctx c = {x, ev, NULL};
  weft__ldispatch d;
  weft__linit_dispatch(&d, x->lp, D_CUSTOM, LUA_NOREF);
  d.custom = weft__levent_call;
  d.ctx = &c;
  int rc = weft__lrun(&d);
  if (!ev->reply) return;
  if (!c.ru) { /* the handler never got its reply */
    weft__lreject_str(ev->reply, "handler error");
  } else if (rc != 0) {
    /* The handler raised before answering. Its userdata may have been
     * collected since (storing the error allocates), so it is looked up in
     * the list of live replies instead of through c.ru. */
    for (weft__lreply *ru = x->replies; ru; ru = ru->next) {
      if (ru->r != ev->reply) continue;
      ru->r = NULL;
      weft__lreply_unlink(ru);
      weft__lreject_str(ev->reply, "handler error");
      break;
    }
  }
}

/* ---- rooms policy ---- */

typedef struct weft__lpolctx {
  weft__lext *x;
  weft_spark *sp;
  const char *room;
  int join;
  int allow;
} weft__lpolctx;

static int weft__lpolicy_call(lua_State *L, weft__ldispatch *d) {
  weft__lpolctx *c = d->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->x->policy_ref);
  weft__lpush_spark(L, c->sp);
  lua_pushstring(L, c->room);
  lua_pushboolean(L, c->join);
  lua_call(L, 3, 1);
  c->allow = lua_toboolean(L, -1);
  return 0;
}

static int weft__lon_policy(weft_spark *sp, const char *room, int join, void *user) {
  weft__lext *x = user;
  if (x->dead || x->policy_ref == LUA_NOREF) return WEFT_EREJECTED;
  weft__lpolctx c = {x, sp, room, join, 0};
  weft__ldispatch d;
  weft__linit_dispatch(&d, x->lp, D_CUSTOM, LUA_NOREF);
  d.custom = weft__lpolicy_call;
  d.ctx = &c;
  if (weft__lrun(&d) != 0) return WEFT_EREJECTED;
  return c.allow ? 0 : WEFT_EREJECTED;
}

/* ---- channels ---- */

static void weft__lch_data(weft_channel *ch, const weft_value *msg, void *user);
static void weft__lch_end(weft_channel *ch, void *user);
static void weft__lch_drain(weft_channel *ch, void *user);

/* Pushes the userdata of `ch`, making it (and its events) on first use.
 * Raises only on memory errors. */
static void weft__lpush_channel(lua_State *L, weft__lloop *lp, weft_channel *ch, int is_client) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->chans_ref);
  lua_pushlightuserdata(L, ch);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  weft__lchannel *u = lua_newuserdata(L, sizeof(*u));
  u->ch = ch;
  u->lp = lp;
  u->is_client = is_client;
  for (int i = 0; i < 3; i++)
    u->cb[i] = LUA_NOREF;
  luaL_getmetatable(L, MT_CHANNEL);
  lua_setmetatable(L, -2);
  lua_pushlightuserdata(L, ch);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4); /* anchored until its end event */
  lua_remove(L, -2);
  weft_channel_events ev = {
      .size = sizeof(ev), .data = weft__lch_data, .end = weft__lch_end, .drain = weft__lch_drain};
  weft_channel_set_events(ch, &ev, u, NULL);
}

static void weft__lch_call(weft__lchannel *u, int which, const weft_value *msg) {
  if (u->cb[which] == LUA_NOREF) return;
  weft__ldispatch d;
  weft__linit_dispatch(&d, u->lp, D_CALL, u->cb[which]);
  d.msg = msg;
  weft__lrun(&d);
}
static void weft__lch_data(weft_channel *ch, const weft_value *msg, void *user) {
  (void)ch;
  weft__lch_call(user, 0, msg);
}
static void weft__lch_drain(weft_channel *ch, void *user) {
  (void)ch;
  weft__lch_call(user, 2, NULL);
}
static void weft__lch_end(weft_channel *ch, void *user) {
  weft__lchannel *u = user;
  weft__lloop *lp = u->lp;
  weft__lch_call(u, 1, NULL);
  u->ch = NULL;
  if (lp->closing) return;
  lua_State *L = lp->L;
  for (int i = 0; i < 3; i++)
    weft__lunref(L, &u->cb[i]);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->chans_ref);
  lua_pushlightuserdata(L, ch);
  lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

typedef struct weft__lopenctx {
  weft__lext *x;
  weft_channel *ch;
  int handled;
} weft__lopenctx;

static int weft__lopen_call(lua_State *L, weft__ldispatch *d) {
  weft__lopenctx *c = d->ctx;
  int ref = c->x->is_client ? ((weft__lclient *)c->x->owner)->cb[CEV_CHANNEL]
                            : ((weft__lserver *)c->x->owner)->cb[SEV_CHANNEL];
  if (ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  weft__lpush_channel(L, d->lp, c->ch, c->x->is_client);
  c->handled = 1;
  int n = 1;
  if (!c->x->is_client) {
    weft__lpush_spark(L, weft_channel_spark(c->ch));
    n++;
  }
  lua_call(L, n, 0);
  return 0;
}

/* The peer opened a channel: the owner's "channel" handler gets it; without
 * one (or when it raises before taking it) the channel is refused. */
static void weft__lon_channel_open(weft_channel *ch, void *user) {
  weft__lext *x = user;
  weft__lopenctx c = {x, ch, 0};
  if (!x->dead && !x->lp->closing) {
    weft__ldispatch d;
    weft__linit_dispatch(&d, x->lp, D_CUSTOM, LUA_NOREF);
    d.custom = weft__lopen_call;
    d.ctx = &c;
    weft__lrun(&d);
  }
  if (!c.handled) weft_channel_end(ch);
}

/* ---- attaching: the options emitter=, rooms=, channels=, batching= ---- */

/* Table at index 1 holds the options; returns 0 or an error, *what says
 * which option failed. Runs before listen/open. */
static int weft__lext_attach(lua_State *L, weft__lext *x, weft_server *s, weft_client *c,
                             const char **what) {
  int top = lua_gettop(L), rc = 0;
  lua_getfield(L, 1, "emitter");
  if (lua_toboolean(L, -1)) {
    *what = "emitter";
    rc = s ? weft_emitter_server(s, &x->em) : weft_emitter_client(c, &x->em);
    if (rc == 0 && lua_type(L, -1) == LUA_TTABLE) {
      lua_getfield(L, -1, "timeout");
      if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0)
        rc = weft_emitter_set_timeout(x->em, (uint32_t)lua_tonumber(L, -1));
      else if (!lua_isnil(L, -1))
        rc = WEFT_EINVAL;
    }
    if (rc == 0) rc = weft_emitter_on_error(x->em, weft__lon_em_error, x, NULL);
    if (rc == 0) {
      lua_newtable(L);
      x->handlers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
  }
  lua_settop(L, top);
  if (rc == 0) {
    lua_getfield(L, 1, "rooms");
    if (lua_toboolean(L, -1)) {
      *what = "rooms";
      rc = s ? weft_rooms_server(s, &x->rooms) : WEFT_EINVAL; /* rooms live on servers */
    }
    lua_settop(L, top);
  }
  if (rc == 0) {
    lua_getfield(L, 1, "channels");
    if (lua_toboolean(L, -1)) {
      *what = "channels";
      rc = s ? weft_channels_server(s, &x->chs) : weft_channels_client(c, &x->chs);
      if (rc == 0 && lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "window");
        if (lua_type(L, -1) == LUA_TNUMBER)
          rc = weft_channels_set_window(x->chs, (uint32_t)lua_tonumber(L, -1));
        else if (!lua_isnil(L, -1))
          rc = WEFT_EINVAL;
      }
      if (rc == 0) rc = weft_channels_on_open(x->chs, weft__lon_channel_open, x, NULL);
      if (rc == 0) rc = weft_channels_on_error(x->chs, weft__lon_ch_error, x, NULL);
    }
    lua_settop(L, top);
  }
  if (rc == 0) {
    lua_getfield(L, 1, "batching");
    if (!lua_isnil(L, -1)) {
      *what = "batching";
      if (lua_type(L, -1) == LUA_TBOOLEAN) {
        size_t n = lua_toboolean(L, -1) ? 16384 : 0;
        rc = s ? weft_server_set_batching(s, n) : weft_client_set_batching(c, n);
      } else if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0) {
        size_t n = (size_t)lua_tonumber(L, -1);
        rc = s ? weft_server_set_batching(s, n) : weft_client_set_batching(c, n);
      } else {
        rc = WEFT_EINVAL;
      }
    }
    lua_settop(L, top);
  }
  return rc;
}

/* ---- Lua API: helpers ---- */

static weft__lext *weft__lext_of(lua_State *L, int *is_client) {
  void *u = lua_touserdata(L, 1);
  if (u && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, MT_SERVER);
    int srv = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (srv) {
      weft__lserver *s = ((weft__lserver_ud *)u)->impl;
      *is_client = 0;
      return s && s->s ? &s->ext : NULL;
    }
  }
  weft__lclient_ud *cu = luaL_checkudata(L, 1, MT_CLIENT);
  *is_client = 1;
  return cu->impl && cu->impl->c ? &cu->impl->ext : NULL;
}

/* Values at [first, last] as one array (nil is null). */
static int weft__lbuild_args(weft__lloop *lp, lua_State *L, int first, int last, weft_value **out,
                             int *nret) {
  weft_value *arr = weft_value_new_array();
  if (!arr) {
    *nret = weft__lfail(L, WEFT_ENOMEM, "emit");
    return WEFT_ENOMEM;
  }
  for (int i = first; i <= last; i++) {
    weft_value *v;
    int rc = weft__lcheck_value(lp, L, i, &v, nret);
    if (rc == 0) {
      rc = weft_value_array_push(arr, v);
      if (rc != 0) *nret = weft__lfail(L, rc, "emit");
    }
    if (rc != 0) {
      weft_value_free(arr);
      return rc;
    }
  }
  *out = arr;
  return 0;
}

/* Splits emit's arguments from index `first`: a trailing function asks for
 * an ack, optionally followed by { timeout = ms }. */
static int weft__lemit_split(lua_State *L, int first, int *last, int *fn, uint32_t *timeout) {
  int top = lua_gettop(L);
  *fn = 0;
  *timeout = WEFT_EMIT_DEFAULT_TIMEOUT;
  *last = top;
  if (top >= first && lua_type(L, top) == LUA_TFUNCTION) {
    *fn = top;
    *last = top - 1;
  } else if (top > first && lua_type(L, top) == LUA_TTABLE &&
             lua_type(L, top - 1) == LUA_TFUNCTION) {
    *fn = top - 1;
    *last = top - 2;
    lua_getfield(L, top, "timeout");
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0 &&
        lua_tonumber(L, -1) < 4294967295.0)
      *timeout = (uint32_t)lua_tonumber(L, -1);
    else if (!lua_isnil(L, -1))
      return luaL_argerror(L, top, "timeout must be a number of ms >= 0");
    lua_pop(L, 1);
  }
  return 0;
}

/* emit on a spark (sp) or a client (sp NULL). Stack: self, name, args... */
static int weft__lemit_common(lua_State *L, weft__lloop *lp, weft_emitter *em, weft_spark *sp) {
  const char *name = luaL_checkstring(L, 2);
  int last, fn;
  uint32_t timeout;
  weft__lemit_split(L, 3, &last, &fn, &timeout);
  if (!em) return weft__lfailmsg(L, WEFT_ESTATE, "emit: the emitter is not enabled (emitter=true)");
  weft_value *args;
  int nret;
  if (weft__lbuild_args(lp, L, 3, last, &args, &nret) != 0) return nret;
  weft__lack *a = NULL;
  if (fn) {
    a = malloc(sizeof(*a));
    if (!a) {
      weft_value_free(args);
      return weft__lfail(L, WEFT_ENOMEM, "emit");
    }
    a->lp = lp;
    a->ack = NULL;
    lua_pushvalue(L, fn);
    a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  int rc = weft_emitter_emit(em, sp, name, args, timeout, fn ? weft__lon_ack : NULL, a);
  weft_value_free(args);
  if (rc < 0) {
    if (a) {
      weft__lunref(L, &a->ref);
      free(a);
    }
    return weft__lfail(L, rc, "emit");
  }
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* ---- server and client: handle, emit ---- */

/* handle(name, fn|nil): sets the handler of an event ("*": every event
 * without its own handler). */
static int weft__lext_handle(lua_State *L) {
  int is_client;
  weft__lext *x = weft__lext_of(L, &is_client);
  const char *name = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  LOOP_UP(L)->L = L;
  if (!x) return weft__lfail(L, WEFT_ECLOSED, "handle");
  if (!x->em)
    return weft__lfailmsg(L, WEFT_ESTATE, "handle: the emitter is not enabled (emitter=true)");
  size_t len = strlen(name);
  if (len == 0 || len > 255) return weft__lfail(L, WEFT_EINVAL, "handle");
  int rc = weft_emitter_on(x->em, name, lua_isnoneornil(L, 3) ? NULL : weft__lon_event, x, NULL);
  if (rc != 0) return weft__lfail(L, rc, "handle");
  lua_rawgeti(L, LUA_REGISTRYINDEX, x->handlers_ref);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  lua_settop(L, 1);
  return 1;
}

/* server:emit(name, ...): to every open spark, no acks; returns the count. */
static int weft__lserver_emit(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  const char *name = luaL_checkstring(L, 2);
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "emit");
  if (!ud->impl->ext.em)
    return weft__lfailmsg(L, WEFT_ESTATE, "emit: the emitter is not enabled (emitter=true)");
  if (lua_type(L, lua_gettop(L)) == LUA_TFUNCTION)
    return weft__lfailmsg(L, WEFT_EINVAL, "emit: a broadcast cannot ask for acks");
  weft_value *args;
  int nret;
  if (weft__lbuild_args(lp, L, 3, lua_gettop(L), &args, &nret) != 0) return nret;
  int rc = weft_emitter_broadcast(ud->impl->ext.em, name, args);
  weft_value_free(args);
  if (rc < 0) return weft__lfail(L, rc, "emit");
  lua_pushinteger(L, rc);
  return 1;
}

static int weft__lspark_emit(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  luaL_checkstring(L, 2);
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "emit");
  return weft__lemit_common(L, lp, p->srv->ext.em, p->sp);
}

static int weft__lclient_emit(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  luaL_checkstring(L, 2);
  if (!ud->impl || !ud->impl->c) return weft__lfail(L, WEFT_ECLOSED, "emit");
  return weft__lemit_common(L, lp, ud->impl->ext.em, NULL);
}

/* ---- replies ---- */

static weft__lreply *weft__lcheck_reply(lua_State *L) { return luaL_checkudata(L, 1, MT_REPLY); }

static int weft__lreply_answer(lua_State *L, int resolve) {
  weft__lreply *ru = weft__lcheck_reply(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (!ru->r)
    return weft__lfailmsg(L, WEFT_ESTATE,
                          "reply: already answered (or dropped: its server or client closed)");
  weft_value *v = NULL;
  int nret;
  if (!lua_isnoneornil(L, 2) && weft__lcheck_value(lp, L, 2, &v, &nret) != 0) return nret;
  weft_reply *r = ru->r;
  ru->r = NULL;
  weft__lreply_unlink(ru);
  int rc = resolve ? weft_reply_resolve(r, v) : weft_reply_reject(r, v);
  weft_value_free(v);
  if (rc < 0) return weft__lfail(L, rc, resolve ? "resolve" : "reject");
  lua_pushboolean(L, 1);
  return 1;
}
static int weft__lreply_resolve(lua_State *L) { return weft__lreply_answer(L, 1); }
static int weft__lreply_reject(lua_State *L) { return weft__lreply_answer(L, 0); }
static int weft__lreply_pending(lua_State *L) {
  lua_pushboolean(L, weft__lcheck_reply(L)->r != NULL);
  return 1;
}

/* __gc: a reply dropped unanswered is rejected with "dropped". */
static int weft__lreply_gc(lua_State *L) {
  weft__lreply *ru = luaL_checkudata(L, 1, MT_REPLY);
  if (!ru->r) return 0;
  LOOP_UP(L)->L = L;
  weft_reply *r = ru->r;
  ru->r = NULL;
  weft__lreply_unlink(ru);
  weft__lreject_str(r, "dropped");
  return 0;
}

static int weft__lreply_tostring(lua_State *L) {
  lua_pushstring(L, weft__lcheck_reply(L)->r ? "weft.reply" : "weft.reply (answered)");
  return 1;
}

/* ---- rooms ---- */

static weft_rooms *weft__lrooms_of_spark(lua_State *L, weft__lspark *p, const char *what,
                                         int *nret) {
  if (!p->sp) {
    *nret = weft__lfail(L, WEFT_ECLOSED, what);
    return NULL;
  }
  if (!p->srv->ext.rooms) {
    lua_pushfstring(L, "%s: rooms are not enabled (rooms=true)", what);
    *nret = weft__lfailmsg(L, WEFT_ESTATE, lua_tostring(L, -1));
    return NULL;
  }
  return p->srv->ext.rooms;
}

static int weft__lspark_room_op(lua_State *L, int op) {
  weft__lspark *p = weft__lcheck_spark(L);
  static const char *const names[] = {"join", "leave", "leave_all", "in_room"};
  const char *room = op == 2 ? NULL : luaL_checkstring(L, 2);
  LOOP_UP(L)->L = L;
  int nret;
  weft_rooms *rooms = weft__lrooms_of_spark(L, p, names[op], &nret);
  if (!rooms) return nret;
  int rc = op == 0   ? weft_rooms_join(rooms, p->sp, room)
           : op == 1 ? weft_rooms_leave(rooms, p->sp, room)
           : op == 2 ? weft_rooms_leave_all(rooms, p->sp)
                     : weft_rooms_has(rooms, p->sp, room);
  if (rc < 0) return weft__lfail(L, rc, names[op]);
  lua_pushboolean(L, op == 3 ? rc > 0 : 1);
  return 1;
}
static int weft__lspark_join(lua_State *L) { return weft__lspark_room_op(L, 0); }
static int weft__lspark_leave(lua_State *L) { return weft__lspark_room_op(L, 1); }
static int weft__lspark_leave_all(lua_State *L) { return weft__lspark_room_op(L, 2); }
static int weft__lspark_in_room(lua_State *L) { return weft__lspark_room_op(L, 3); }

/* spark:rooms() -> { names } */
static int weft__lspark_rooms(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  int nret;
  weft_rooms *rooms = weft__lrooms_of_spark(L, p, "rooms", &nret);
  if (!rooms) return nret;
  int n = weft_rooms_of_spark_count(rooms, p->sp);
  lua_createtable(L, n > 0 ? n : 0, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, weft_rooms_of_spark_at(rooms, p->sp, (size_t)i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static weft_rooms *weft__lrooms_of_server(lua_State *L, const char *what, int *nret) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  if (!ud->impl || !ud->impl->s) {
    *nret = weft__lfail(L, WEFT_ECLOSED, what);
    return NULL;
  }
  if (!ud->impl->ext.rooms) {
    lua_pushfstring(L, "%s: rooms are not enabled (rooms=true)", what);
    *nret = weft__lfailmsg(L, WEFT_ESTATE, lua_tostring(L, -1));
    return NULL;
  }
  return ud->impl->ext.rooms;
}

/* server:rooms() -> { names of the rooms that have members } */
static int weft__lserver_rooms(lua_State *L) {
  int nret;
  weft_rooms *rooms = weft__lrooms_of_server(L, "rooms", &nret);
  if (!rooms) return nret;
  int n = weft_rooms_count(rooms);
  lua_createtable(L, n > 0 ? n : 0, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, weft_rooms_name_at(rooms, (size_t)i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* server:members(room) -> { sparks } */
static int weft__lserver_members(lua_State *L) {
  const char *room = luaL_checkstring(L, 2);
  int nret;
  weft_rooms *rooms = weft__lrooms_of_server(L, "members", &nret);
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

/* server:rooms_policy(fn(spark, room, join) -> allow | nil) */
static int weft__lserver_rooms_policy(lua_State *L) {
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  int nret;
  weft_rooms *rooms = weft__lrooms_of_server(L, "rooms_policy", &nret);
  if (!rooms) return nret;
  weft__lserver *srv = ((weft__lserver_ud *)lua_touserdata(L, 1))->impl;
  if (!srv->ext.em)
    return weft__lfailmsg(L, WEFT_ESTATE, "rooms_policy: needs the emitter too (emitter=true)");
  weft__lunref(L, &srv->ext.policy_ref);
  int rc;
  if (lua_isnoneornil(L, 2)) {
    rc = weft_rooms_set_client_policy(rooms, NULL, NULL, NULL);
  } else {
    lua_pushvalue(L, 2);
    srv->ext.policy_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    rc = weft_rooms_set_client_policy(rooms, weft__lon_policy, &srv->ext, NULL);
  }
  if (rc != 0) return weft__lfail(L, rc, "rooms_policy");
  lua_settop(L, 1);
  return 1;
}

/* server:spark(id) -> the open spark with this id, or nil */
static int weft__lserver_spark(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  const char *id = luaL_checkstring(L, 2);
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "spark");
  weft__lpush_spark(L, weft_server_spark(ud->impl->s, id));
  return 1;
}

/* ---- targets: server:to(rooms...):except(ids...):write(msg) / :emit(...) ---- */

static int weft__lis_udata(lua_State *L, int i, const char *mt) {
  if (!lua_getmetatable(L, i)) return 0;
  luaL_getmetatable(L, mt);
  int eq = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return eq;
}

/* Appends strings (or the ids of sparks) from argument `from` on, flattening
 * tables, into the array at index `t`. */
static void weft__lcollect(lua_State *L, int t, int from, int to, int depth) {
  for (int i = from; i <= to; i++) {
    int ty = lua_type(L, i);
    if (ty == LUA_TSTRING) {
      lua_pushvalue(L, i);
    } else if (ty == LUA_TUSERDATA && weft__lis_udata(L, i, MT_SPARK)) {
      weft__lspark *p = lua_touserdata(L, i);
      if (!p->sp) continue; /* gone: nothing to exclude */
      lua_pushstring(L, weft_spark_id(p->sp));
    } else if (ty == LUA_TTABLE && depth == 0) {
      int n = (int)lua_rawlen(L, i);
      for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, i, k);
        weft__lcollect(L, t, lua_gettop(L), lua_gettop(L), 1);
        lua_pop(L, 1);
      }
      continue;
    } else {
      luaL_argerror(L, i, "room names or spark ids (strings, sparks, or a table of them)");
      continue;
    }
    lua_rawseti(L, t, (int)lua_rawlen(L, t) + 1);
  }
}

/* server:to(rooms...) -> target; no rooms: every open spark. */
static int weft__lserver_to(lua_State *L) {
  weft__lcheck_server(L);
  int top = lua_gettop(L);
  lua_createtable(L, 1, 2); /* top+1 */
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  if (top >= 2) {
    lua_newtable(L);
    weft__lcollect(L, top + 2, 2, top, 0);
    lua_setfield(L, top + 1, "_rooms");
  }
  lua_newtable(L);
  lua_setfield(L, top + 1, "_except");
  luaL_getmetatable(L, MT_TARGET);
  lua_setmetatable(L, -2);
  return 1;
}

static int weft__ltarget_except(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int top = lua_gettop(L);
  lua_getfield(L, 1, "_except");
  weft__lcollect(L, top + 1, 2, top, 0);
  lua_settop(L, 1);
  return 1;
}

typedef struct weft__lcollect_ctx {
  const char *const *except;
  size_t n_except;
  weft_spark **out;
  size_t n, cap;
} weft__lcollect_ctx;

static int weft__lcollect_spark(weft_spark *sp, void *user) {
  weft__lcollect_ctx *c = user;
  const char *id = weft_spark_id(sp);
  for (size_t i = 0; i < c->n_except; i++)
    if (strcmp(c->except[i], id) == 0) return 0;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    weft_spark **m = realloc(c->out, cap * sizeof(*m));
    if (!m) return WEFT_ENOMEM;
    c->out = m;
    c->cap = cap;
  }
  c->out[c->n++] = sp;
  return 0;
}

/* Stack: target, then the message or the event's name and args. */
static int weft__ltarget_send(lua_State *L, int emit) {
  luaL_checktype(L, 1, LUA_TTABLE);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  const char *what = emit ? "emit" : "write";
  const char *name = emit ? luaL_checkstring(L, 2) : NULL;
  int top = lua_gettop(L);
  lua_rawgeti(L, 1, 1);
  weft__lserver_ud *ud = luaL_checkudata(L, -1, MT_SERVER);
  lua_pop(L, 1);
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, what);
  weft__lserver *srv = ud->impl;
  if (emit && !srv->ext.em)
    return weft__lfailmsg(L, WEFT_ESTATE, "emit: the emitter is not enabled (emitter=true)");
  lua_getfield(L, 1, "_rooms");  /* top+1 */
  lua_getfield(L, 1, "_except"); /* top+2 */
  int has_rooms = lua_type(L, top + 1) == LUA_TTABLE;
  if (has_rooms && !srv->ext.rooms)
    return weft__lfailmsg(L, WEFT_ESTATE, "to: rooms are not enabled (rooms=true)");
  weft_value *msg = NULL, *args = NULL;
  int nret, rc;
  if (emit) {
    if (weft__lbuild_args(lp, L, 3, top, &args, &nret) != 0) return nret;
  } else if (weft__lcheck_value(lp, L, 2, &msg, &nret) != 0) {
    return nret;
  }
  size_t nr = has_rooms ? lua_rawlen(L, top + 1) : 0;
  size_t ne = lua_type(L, top + 2) == LUA_TTABLE ? lua_rawlen(L, top + 2) : 0;
  const char **names = calloc(nr + ne + 1, sizeof(*names));
  if (!names) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < nr; i++) { /* the strings stay anchored in the target */
    lua_rawgeti(L, top + 1, (int)i + 1);
    names[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  for (size_t i = 0; i < ne; i++) {
    lua_rawgeti(L, top + 2, (int)i + 1);
    names[nr + i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  if (has_rooms) {
    rc = emit ? weft_rooms_emit(srv->ext.rooms, names, nr, names + nr, ne, name, args)
              : weft_rooms_write(srv->ext.rooms, names, nr, names + nr, ne, msg);
  } else {
    weft__lcollect_ctx c = {names + nr, ne, NULL, 0, 0};
    rc = weft_server_foreach(srv->s, weft__lcollect_spark, &c);
    if (rc == 0 && emit) rc = weft_emitter_packet(name, args, &msg);
    if (rc == 0) rc = c.n ? weft_server_write_to(srv->s, msg, c.out, c.n) : 0;
    free(c.out);
  }
  free(names);
done:
  weft_value_free(msg);
  weft_value_free(args);
  if (rc < 0) return weft__lfail(L, rc, what);
  lua_pushinteger(L, rc);
  return 1;
}
static int weft__ltarget_write(lua_State *L) { return weft__ltarget_send(L, 0); }
static int weft__ltarget_emit(lua_State *L) { return weft__ltarget_send(L, 1); }

/* ---- client: join, leave ---- */

static void weft__lon_room_ack(const weft_ack *ack, void *user) { weft__lon_ack(ack, user); }

static int weft__lclient_room(lua_State *L, int join) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  const char *room = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  const char *what = join ? "join" : "leave";
  if (!ud->impl || !ud->impl->c) return weft__lfail(L, WEFT_ECLOSED, what);
  weft_emitter *em = ud->impl->ext.em;
  if (!em) return weft__lfailmsg(L, WEFT_ESTATE, "join/leave: needs the emitter (emitter=true)");
  weft__lack *a = NULL;
  if (!lua_isnoneornil(L, 3)) {
    if (!(a = malloc(sizeof(*a)))) return weft__lfail(L, WEFT_ENOMEM, what);
    a->lp = lp;
    a->ack = NULL;
    lua_pushvalue(L, 3);
    a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  int rc = join ? weft_emitter_join(em, room, a ? weft__lon_room_ack : NULL, a)
                : weft_emitter_leave(em, room, a ? weft__lon_room_ack : NULL, a);
  if (rc < 0) {
    if (a) {
      weft__lunref(L, &a->ref);
      free(a);
    }
    return weft__lfail(L, rc, what);
  }
  lua_pushboolean(L, 1);
  return 1;
}
static int weft__lclient_join(lua_State *L) { return weft__lclient_room(L, 1); }
static int weft__lclient_leave(lua_State *L) { return weft__lclient_room(L, 0); }

/* ---- channels: spark:channel(name), client:channel(name) ---- */

static int weft__lchannel_open(lua_State *L, weft__lext *x, weft_spark *sp, int is_client) {
  const char *name = luaL_checkstring(L, 2);
  if (!x->chs)
    return weft__lfailmsg(L, WEFT_ESTATE, "channel: channels are not enabled (channels=true)");
  weft_channel *ch;
  int rc = weft_channel_open(x->chs, sp, name, &ch);
  if (rc != 0) return weft__lfail(L, rc, "channel");
  weft__lpush_channel(L, x->lp, ch, is_client);
  return 1;
}

static int weft__lspark_channel(lua_State *L) {
  weft__lspark *p = weft__lcheck_spark(L);
  LOOP_UP(L)->L = L;
  luaL_checkstring(L, 2);
  if (!p->sp) return weft__lfail(L, WEFT_ECLOSED, "channel");
  return weft__lchannel_open(L, &p->srv->ext, p->sp, 0);
}

static int weft__lclient_channel(lua_State *L) {
  weft__lclient_ud *ud = weft__lcheck_client(L);
  LOOP_UP(L)->L = L;
  luaL_checkstring(L, 2);
  if (!ud->impl || !ud->impl->c) return weft__lfail(L, WEFT_ECLOSED, "channel");
  return weft__lchannel_open(L, &ud->impl->ext, NULL, 1);
}

static weft__lchannel *weft__lcheck_channel(lua_State *L) {
  return luaL_checkudata(L, 1, MT_CHANNEL);
}

static int weft__lchannel_on(lua_State *L) {
  weft__lchannel *u = weft__lcheck_channel(L);
  if (!u->ch) return weft__lfail(L, WEFT_ECLOSED, "on");
  return weft__lset_handler(L, u->cb, channel_events);
}

static int weft__lchannel_write(lua_State *L) {
  weft__lchannel *u = weft__lcheck_channel(L);
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

static int weft__lchannel_op(lua_State *L, int op) {
  weft__lchannel *u = weft__lcheck_channel(L);
  static const char *const names[] = {"pause", "resume", "close"};
  LOOP_UP(L)->L = L;
  if (!u->ch) return weft__lfail(L, WEFT_ECLOSED, names[op]);
  int rc = op == 0   ? weft_channel_pause(u->ch)
           : op == 1 ? weft_channel_resume(u->ch)
                     : weft_channel_end(u->ch);
  if (rc < 0) return weft__lfail(L, rc, names[op]);
  lua_settop(L, 1);
  return 1;
}
static int weft__lchannel_pause(lua_State *L) { return weft__lchannel_op(L, 0); }
static int weft__lchannel_resume(lua_State *L) { return weft__lchannel_op(L, 1); }
static int weft__lchannel_close(lua_State *L) { return weft__lchannel_op(L, 2); }

static int weft__lchannel_name(lua_State *L) {
  weft__lchannel *u = weft__lcheck_channel(L);
  if (!u->ch) return weft__lfail(L, WEFT_ECLOSED, "name");
  lua_pushstring(L, weft_channel_name(u->ch));
  return 1;
}
static int weft__lchannel_queued(lua_State *L) {
  weft__lchannel *u = weft__lcheck_channel(L);
  lua_pushinteger(L, u->ch ? (lua_Integer)weft_channel_queued(u->ch) : 0);
  return 1;
}
static int weft__lchannel_is_open(lua_State *L) {
  lua_pushboolean(L, weft__lcheck_channel(L)->ch != NULL);
  return 1;
}
static int weft__lchannel_spark(lua_State *L) {
  weft__lchannel *u = weft__lcheck_channel(L);
  weft__lpush_spark(L, u->ch ? weft_channel_spark(u->ch) : NULL);
  return 1;
}
static int weft__lchannel_tostring(lua_State *L) {
  weft__lchannel *u = weft__lcheck_channel(L);
  if (u->ch)
    lua_pushfstring(L, "weft.channel (%s)", weft_channel_name(u->ch));
  else
    lua_pushstring(L, "weft.channel (ended)");
  return 1;
}
static int weft__ltarget_tostring(lua_State *L) {
  lua_pushstring(L, "weft.target");
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Markers and module                                                       */
/* ------------------------------------------------------------------------ */

static int weft__lmark(lua_State *L, int ref) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_setmetatable(L, 1);
  return 1;
}
static int weft__l_array(lua_State *L) { return weft__lmark(L, LOOP_UP(L)->array_mt_ref); }
static int weft__l_map(lua_State *L) { return weft__lmark(L, LOOP_UP(L)->map_mt_ref); }

/* weft.encode(value, [parser]) -> bytes; weft.decode(bytes, [parser]) -> value */
static int weft__l_encode(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  const char *parser = luaL_optstring(L, 2, "json");
  weft_value *v;
  int nret;
  lua_settop(L, 2);
  if (weft__lcheck_value(lp, L, 1, &v, &nret) != 0) return nret;
  uint8_t *out = NULL;
  size_t len = 0;
  int rc = weft_value_encode(parser, v, &out, &len);
  weft_value_free(v);
  if (rc != 0) return weft__lfail(L, rc, "encode");
  lua_pushlstring(L, (const char *)out, len); /* may raise: out leaks only then */
  weft_free(out);
  return 1;
}

static int weft__ldecode_push(lua_State *L) {
  weft__lpush_value(LOOP_UP(L), L, lua_touserdata(L, 1));
  return 1;
}

static int weft__l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *parser = luaL_optstring(L, 2, "json");
  weft_value *v = NULL;
  size_t pos = 0;
  int rc = weft_value_decode(parser, s, len, &v, &pos);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "decode: %s at byte %d", weft_strerror(rc), (int)pos);
    lua_pushstring(L, weft_err_name(rc));
    return 3;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, weft__ldecode_push, 1);
  lua_pushlightuserdata(L, v);
  rc = lua_pcall(L, 1, 1, 0);
  weft_value_free(v);
  if (rc != 0) lua_error(L);
  return 1;
}

/* The loop's __gc (lua_close, or the module unloaded): closes what is still
 * open without calling into Lua, runs the loop until they are gone, frees. */
static int weft__lloop_gc(lua_State *L) {
  weft__lloop *lp = luaL_checkudata(L, 1, MT_LOOP);
  if (!lp->loop) return 0;
  lp->closing = 1;
  for (weft__lhandle *h = lp->handles; h; h = h->next) {
    if (h->is_client) {
      weft__lclient *cl = (weft__lclient *)h;
      cl->quiet = 1;
      weft__lclient_destroy_impl(cl);
    } else {
      weft__lserver *srv = (weft__lserver *)h;
      srv->quiet = 1;
      weft__lserver_close_impl(srv, 0, 100);
    }
  }
  for (int i = 0; i < 1000 && lp->handles; i++) {
    if (weft_loop_run_once(lp->loop) < 0) break;
    if (lp->handles && weft_loop_timeout(lp->loop) != 0) {
      struct pollfd pfd = {.fd = weft_loop_fd(lp->loop), .events = POLLIN, .revents = 0};
      (void)poll(&pfd, 1, 5);
    }
  }
  weft_loop_run(lp->loop);
  if (weft_loop_close(lp->loop) == 0) lp->loop = NULL;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The loop's log (weft.set_log) and a server's metrics                     */
/* ------------------------------------------------------------------------ */

static const char *const log_levels[] = {"off", "error", "warn", "info", "debug", NULL};

/* Pushes the record as a table and calls the log function with it. */
static int weft__llog_call(lua_State *L, weft__ldispatch *d) {
  const weft_log_record *r = d->ctx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->ref);
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
  lua_call(L, 1, 0);
  return 0;
}

static void weft__lon_log(const weft_log_record *r, void *user) {
  weft__lloop *lp = user;
  if (lp->log_busy || lp->log_ref == LUA_NOREF || r->level < 1 || r->level > 4) return;
  weft__ldispatch d;
  weft__linit_dispatch(&d, lp, D_CUSTOM, lp->log_ref);
  d.custom = weft__llog_call;
  d.ctx = (void *)r;
  lp->log_busy = 1;
  weft__lrun(&d); /* an error is kept and raised by poll(), as a handler's */
  lp->log_busy = 0;
}

/* weft.set_log(level, fn): records up to `level` ("error", "warn", "info",
 * "debug") go to fn(record); weft.set_log("off") (fn may be left out)
 * turns it off. A bad level name or a fn that is not a function raises. */
static int weft__l_set_log(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  int level = luaL_checkoption(L, 1, NULL, log_levels);
  if (level != WEFT_LOG_OFF) luaL_checktype(L, 2, LUA_TFUNCTION);
  int rc = weft_loop_set_log(lp->loop, level, level ? weft__lon_log : NULL, lp, NULL);
  if (rc != 0) return weft__lfail(L, rc, "set_log");
  weft__lunref(L, &lp->log_ref);
  if (level != WEFT_LOG_OFF) {
    lua_pushvalue(L, 2);
    lp->log_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* server:metrics() --> { connections_open = n, ... } (weft_metrics' fields). */
static int weft__lserver_metrics(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "metrics");
  weft_metrics m;
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  int rc = weft_server_metrics(ud->impl->s, &m);
  if (rc != 0) return weft__lfail(L, rc, "metrics");
  const struct {
    const char *name;
    uint64_t v;
  } f[] = {{"connections_open", m.connections_open},
           {"connections_total", m.connections_total},
           {"handshakes_total", m.handshakes_total},
           {"refused_total", m.refused_total},
           {"messages_in_total", m.messages_in_total},
           {"messages_out_total", m.messages_out_total},
           {"bytes_in_total", m.bytes_in_total},
           {"bytes_out_total", m.bytes_out_total},
           {"queue_bytes", m.queue_bytes},
           {"queue_refused_total", m.queue_refused_total},
           {"heartbeat_timeouts_total", m.heartbeat_timeouts_total},
           {"errors_total", m.errors_total}};
  lua_createtable(L, 0, (int)(sizeof(f) / sizeof(f[0])));
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    lua_pushinteger(L, (lua_Integer)f[i].v);
    lua_setfield(L, -2, f[i].name);
  }
  return 1;
}

/* server:metrics_text() --> the Prometheus text (what metrics_path serves). */
static int weft__lserver_metrics_text(lua_State *L) {
  weft__lserver_ud *ud = weft__lcheck_server(L);
  if (!ud->impl || !ud->impl->s) return weft__lfail(L, WEFT_ECLOSED, "metrics_text");
  long n = weft_server_metrics_text(ud->impl->s, NULL, 0);
  if (n < 0) return weft__lfail(L, (int)n, "metrics_text");
  char *buf = lua_newuserdata(L, (size_t)n + 1); /* collected: nothing leaks if Lua raises */
  weft_server_metrics_text(ud->impl->s, buf, (size_t)n + 1);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static const luaL_Reg server_methods[] = {{"on", weft__lserver_on},
                                          {"write", weft__lserver_write},
                                          {"port", weft__lserver_port},
                                          {"url", weft__lserver_url},
                                          {"urls", weft__lserver_urls},
                                          {"count", weft__lserver_count},
                                          {"close", weft__lserver_close},
                                          {"poll", weft__l_poll},
                                          {"handle", weft__lext_handle},
                                          {"emit", weft__lserver_emit},
                                          {"rooms", weft__lserver_rooms},
                                          {"members", weft__lserver_members},
                                          {"rooms_policy", weft__lserver_rooms_policy},
                                          {"to", weft__lserver_to},
                                          {"spark", weft__lserver_spark},
                                          {"metrics", weft__lserver_metrics},
                                          {"metrics_text", weft__lserver_metrics_text},
                                          {NULL, NULL}};
static const luaL_Reg spark_methods[] = {{"on", weft__lspark_on},
                                         {"write", weft__lspark_write},
                                         {"close", weft__lspark_close},
                                         {"id", weft__lspark_id},
                                         {"address", weft__lspark_address},
                                         {"query", weft__lspark_query},
                                         {"header", weft__lspark_header},
                                         {"buffered", weft__lspark_buffered},
                                         {"is_open", weft__lspark_is_open},
                                         {"emit", weft__lspark_emit},
                                         {"join", weft__lspark_join},
                                         {"leave", weft__lspark_leave},
                                         {"leave_all", weft__lspark_leave_all},
                                         {"in_room", weft__lspark_in_room},
                                         {"rooms", weft__lspark_rooms},
                                         {"channel", weft__lspark_channel},
                                         {NULL, NULL}};
static const luaL_Reg client_methods[] = {{"on", weft__lclient_on},
                                          {"open", weft__lclient_open},
                                          {"write", weft__lclient_write},
                                          {"id", weft__lclient_id},
                                          {"state", weft__lclient_state},
                                          {"close", weft__lclient_close},
                                          {"poll", weft__l_poll},
                                          {"handle", weft__lext_handle},
                                          {"emit", weft__lclient_emit},
                                          {"join", weft__lclient_join},
                                          {"leave", weft__lclient_leave},
                                          {"channel", weft__lclient_channel},
                                          {NULL, NULL}};
static const luaL_Reg reply_methods[] = {{"resolve", weft__lreply_resolve},
                                         {"reject", weft__lreply_reject},
                                         {"pending", weft__lreply_pending},
                                         {NULL, NULL}};
static const luaL_Reg channel_methods[] = {
    {"on", weft__lchannel_on},         {"write", weft__lchannel_write},
    {"pause", weft__lchannel_pause},   {"resume", weft__lchannel_resume},
    {"close", weft__lchannel_close},   {"name", weft__lchannel_name},
    {"queued", weft__lchannel_queued}, {"is_open", weft__lchannel_is_open},
    {"spark", weft__lchannel_spark},   {NULL, NULL}};
static const luaL_Reg target_methods[] = {{"except", weft__ltarget_except},
                                          {"write", weft__ltarget_write},
                                          {"emit", weft__ltarget_emit},
                                          {NULL, NULL}};
static const luaL_Reg module_funcs[] = {{"server", weft__l_server},
                                        {"client", weft__l_client},
                                        {"poll", weft__l_poll},
                                        {"run", weft__l_run},
                                        {"stop", weft__l_stop},
                                        {"clock", weft__l_clock},
                                        {"sleep", weft__l_sleep},
                                        {"timeout", weft__l_timeout},
                                        {"transformers", weft__l_transformers},
                                        {"array", weft__l_array},
                                        {"map", weft__l_map},
                                        {"encode", weft__l_encode},
                                        {"decode", weft__l_decode},
                                        {"set_log", weft__l_set_log},
                                        {NULL, NULL}};

/* Creates metatable `name` (methods with the loop as upvalue; __index itself;
 * `gc` for __gc and __close), leaves nothing on the stack. Loop at `loop_idx`. */
static void weft__lnew_class(lua_State *L, int loop_idx, const char *name, const luaL_Reg *methods,
                             lua_CFunction gc, lua_CFunction tostring) {
  luaL_newmetatable(L, name);
  lua_pushvalue(L, loop_idx);
  luaL_setfuncs(L, methods, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  if (gc) {
    lua_pushvalue(L, loop_idx);
    lua_pushcclosure(L, gc, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__gc");
    lua_setfield(L, -2, "__close");
  }
  lua_pushvalue(L, loop_idx);
  lua_pushcclosure(L, tostring, 1);
  lua_setfield(L, -2, "__tostring");
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

WEFT__LUA_EXPORT int luaopen_weft(lua_State *L) {
  /* A peer that vanishes must not kill the server: the stock interpreters
   * (lua5.4, luajit) leave SIGPIPE at its default, which terminates the
   * process on a write to a closed socket. Ignore it, but only when nobody
   * chose a disposition (a host with its own handler is left alone). */
  struct sigaction old_pipe;
  if (sigaction(SIGPIPE, NULL, &old_pipe) == 0 && old_pipe.sa_handler == SIG_DFL &&
      !(old_pipe.sa_flags & SA_SIGINFO))
    signal(SIGPIPE, SIG_IGN);
  /* One loop per Lua state, kept in the registry. */
  lua_getfield(L, LUA_REGISTRYINDEX, MT_LOOP ".instance");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    weft__lloop *lp = lua_newuserdata(L, sizeof(*lp));
    memset(lp, 0, sizeof(*lp));
    lp->tb_ref = lp->err_ref = lp->array_mt_ref = lp->map_mt_ref = lp->chans_ref = LUA_NOREF;
    lp->log_ref = LUA_NOREF;
    lp->L = L;
    int rc = weft_loop_new(&lp->loop);
    if (rc != 0) return luaL_error(L, "weft: cannot create the loop: %s", weft_strerror(rc));
    luaL_newmetatable(L, MT_LOOP);
    lua_pushcfunction(L, weft__lloop_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushcfunction(L, weft__ltraceback);
    lp->tb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_newmetatable(L, MT_ARRAY);
    lua_pushstring(L, "array");
    lua_setfield(L, -2, "__weft");
    lp->array_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_newmetatable(L, MT_MAP);
    lua_pushstring(L, "map");
    lua_setfield(L, -2, "__weft");
    lp->map_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lp->chans_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, MT_LOOP ".instance");
  }
  int loop_idx = lua_gettop(L);
  weft__lnew_class(L, loop_idx, MT_SERVER, server_methods, weft__lserver_gc,
                   weft__lserver_tostring);
  weft__lnew_class(L, loop_idx, MT_SPARK, spark_methods, NULL, weft__lspark_tostring);
  weft__lnew_class(L, loop_idx, MT_CLIENT, client_methods, weft__lclient_gc,
                   weft__lclient_tostring);
  weft__lnew_class(L, loop_idx, MT_REPLY, reply_methods, weft__lreply_gc, weft__lreply_tostring);
  weft__lnew_class(L, loop_idx, MT_CHANNEL, channel_methods, NULL, weft__lchannel_tostring);
  weft__lnew_class(L, loop_idx, MT_TARGET, target_methods, NULL, weft__ltarget_tostring);

  lua_newtable(L);
  lua_pushvalue(L, loop_idx);
  luaL_setfuncs(L, module_funcs, 1);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  lua_pushstring(L, weft_version_string());
  lua_setfield(L, -2, "version");
  return 1;
}
