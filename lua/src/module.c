/*
 * weft.core: the loop of the Lua state (poll, run, stop, the clock), calls
 * from the loop into Lua, and the module table with the classes' metatables
 * (the Lua files in lua/weft/ add their methods to them).
 *
 * Builds against Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API). The module does not
 * link liblua: lua_* come from the host executable or interpreter. Only
 * luaopen_weft is exported.
 *
 * There is one weft loop per Lua state, in a full userdata that is an
 * upvalue of every function of the module; its __gc (at lua_close) ends
 * whatever is still open, without calling into Lua.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "weft_lua.h"

#define WEFT__LUA_EXPORT __attribute__((visibility("default")))

/* ---- small helpers ---- */

int weft__lfail(lua_State *L, int code, const char *what) {
  lua_pushnil(L);
  if (what)
    lua_pushfstring(L, "%s: %s", what, weft_strerror(code));
  else
    lua_pushstring(L, weft_strerror(code));
  lua_pushstring(L, weft_err_name(code));
  return 3;
}

int weft__lfailmsg(lua_State *L, int code, const char *msg) {
  lua_pushnil(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, weft_err_name(code));
  return 3;
}

void weft__lunref(lua_State *L, int *ref) {
  if (*ref != LUA_NOREF && *ref != LUA_REFNIL) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  *ref = LUA_NOREF;
}

int weft__lref(lua_State *L, int idx) {
  lua_pushvalue(L, idx);
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

int weft__lis(lua_State *L, int idx, const char *mt) {
  if (!lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, mt);
  int eq = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return eq;
}

void *weft__lnew(lua_State *L, size_t size, const char *mt) {
  void *u = lua_newuserdata(L, size);
  memset(u, 0, size);
  luaL_getmetatable(L, mt);
  lua_setmetatable(L, -2);
  return u;
}

int weft__lset_cb(lua_State *L, int *cb, int n) {
  lua_Integer i = luaL_checkinteger(L, 2);
  luaL_argcheck(L, i >= 1 && i <= n, 2, "no such event");
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  LOOP_UP(L)->L = L;
  weft__lunref(L, &cb[i - 1]);
  if (!lua_isnoneornil(L, 3)) cb[i - 1] = weft__lref(L, 3);
  lua_settop(L, 1);
  return 1;
}

/* ---- servers and clients on the Lua side ---- */

void weft__lowner_unref(weft__lowner *o) {
  lua_State *L = o->lp->L;
  for (int i = 0; i < WEFT__LCB; i++)
    weft__lunref(L, &o->cb[i]);
}

int weft__lowner_release(weft__lowner *o) {
  if (--o->refs > 0) return 0;
  weft__lowner_unref(o);
  free(o);
  return 1;
}

weft__lowner *weft__lowner_new(weft__lloop *lp) {
  weft__lowner *o = calloc(1, sizeof(*o));
  if (!o) return NULL;
  o->lp = lp;
  for (int i = 0; i < WEFT__LCB; i++)
    o->cb[i] = LUA_NOREF;
  return o;
}

void weft__lowner_link(weft__lowner *o, weft__lhandle *h) {
  weft__lloop *lp = o->lp;
  o->refs = 2;
  h->o = o;
  o->next = lp->open;
  if (lp->open) lp->open->prev = o;
  lp->open = o;
}

void weft__lowner_free(void *user) {
  weft__lowner *o = user;
  weft__lloop *lp = o->lp;
  if (o->prev)
    o->prev->next = o->next;
  else if (lp->open == o)
    lp->open = o->next;
  if (o->next) o->next->prev = o->prev;
  o->prev = o->next = NULL;
  weft__lowner_release(o);
}

/* ---- calls into Lua ---- */

static int traceback(lua_State *L) {
  /* Error objects that are not strings (tables, userdata) pass through as
   * they are, so handlers can raise structured errors. */
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER) return 1;
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

static int push_args(lua_State *L, weft__lcall *c) {
  if (c->ref == LUA_NOREF) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  int n = 0;
  if (c->arg_ref != LUA_NOREF) lua_rawgeti(L, LUA_REGISTRYINDEX, c->arg_ref), n++;
  if (c->msg) weft__lpush_value(c->lp, L, c->msg), n++;
  if (c->err) weft__lpush_error(L, c->err), n++;
  if (c->ri) {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, c->ri->attempt);
    lua_setfield(L, -2, "attempt");
    lua_pushinteger(L, c->ri->retries);
    lua_setfield(L, -2, "retries");
    lua_pushinteger(L, c->ri->delay_ms);
    lua_setfield(L, -2, "delay");
    n++;
  }
  if (c->str) lua_pushstring(L, c->str), n++;
  if (c->tail_ref != LUA_NOREF) lua_rawgeti(L, LUA_REGISTRYINDEX, c->tail_ref), n++;
  return n;
}

/* Runs inside lua_pcall: everything that may raise happens here. */
static int trampoline(lua_State *L) {
  weft__lcall *c =
      lua_touserdata(L, 1); /* stays: 19 of LUA_MINSTACK slots left, push_args needs 8 */
  int n = c->push ? c->push(L, c) : push_args(L, c);
  if (n < 0) return 0;
  c->ran = 1;
  lua_call(L, n, c->nres);
  if (c->result) c->result(L, c);
  return 0;
}

/* Keeps the error on top of the stack (popped) for poll() to raise. */
static void store_error(weft__lloop *lp, lua_State *L) {
  if (lp->err_ref == LUA_NOREF) {
    lp->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else {
    lp->nerr++;
    lua_pop(L, 1);
  }
  if (lp->running) weft_loop_stop(lp->loop);
}

/* handler_errors = "close": the error event of the spark (or its server)
 * gets { kind = "handler", message = the error's text with its traceback,
 * error = what was raised }, then the spark closes with 1011. When no
 * handler would see it, the error is kept for poll() as by default. */
typedef struct handler_error_ctx {
  weft__lspark *p;
  int err_ref; /* what was raised */
} handler_error_ctx;

static int push_handler_error(lua_State *L, weft__lcall *c) {
  handler_error_ctx *h = c->ctx;
  weft__lspark *p = h->p;
  int spark_cb = p->cb[PEV_ERROR] != LUA_NOREF;
  int ref = spark_cb ? p->cb[PEV_ERROR] : p->srv->cb[SEV_ERROR];
  if (ref == LUA_NOREF) return -1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->err_ref);
  const char *text = lua_tostring(L, -1);
  weft_error_info e = {WEFT_EIO, "handler", text ? text : "a handler raised a non-string error", 0,
                       NULL};
  weft__lpush_error(L, &e);
  lua_insert(L, -2);
  lua_setfield(L, -2, "error");
  if (spark_cb) return 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->self_ref);
  return 2;
}

/* What a call raised is on top of the stack; it is popped. */
static void handler_error(weft__lloop *lp, lua_State *L, weft__lcall *c) {
  weft__lspark *p = c->sp ? weft_spark_get_user(c->sp) : NULL;
  if (!p || !p->srv || !p->srv->close_on_error || p->self_ref == LUA_NOREF) {
    store_error(lp, L);
    return;
  }
  handler_error_ctx h = {p, weft__lref(L, -1)};
  weft__lcall e;
  weft__lcall_init(&e, lp, LUA_NOREF);
  e.push = push_handler_error;
  e.ctx = &h;
  int rc = weft__lrun(&e);
  weft__lunref(L, &h.err_ref);
  weft_spark_end(c->sp, NULL, WEFT_END_ERROR);
  if (rc == 1)
    store_error(lp, L); /* nobody listens: poll() raises it */
  else
    lua_pop(L, 1);
}

int weft__lrun(weft__lcall *c) {
  weft__lloop *lp = c->lp;
  if (lp->closing) return 1;
  lua_State *L = lp->L;
  if (!lua_checkstack(L, 6)) return -1;
  lp->ncb++;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->tb_ref);
  lua_pushcfunction(L, trampoline);
  lua_pushlightuserdata(L, c);
  int rc = lua_pcall(L, 1, 0, top + 1);
  if (rc != 0) {
    handler_error(lp, L, c);
    lua_settop(L, top);
    return -1;
  }
  lua_settop(L, top);
  return c->ran ? 0 : 1;
}

/* Raises the kept error, if any. */
static void raise_pending(weft__lloop *lp, lua_State *L) {
  if (lp->err_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->err_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->err_ref);
  lp->err_ref = LUA_NOREF;
  if (lp->nerr > 0 && lua_type(L, -1) == LUA_TSTRING)
    lua_pushfstring(L, "%s\n(and %d more handler errors)", lua_tostring(L, -1), lp->nerr);
  lp->nerr = 0;
  lua_error(L);
}

/* ---- the loop: poll, run, stop ---- */

#define WEFT__LPOLL_MAX_STEPS 256

/* weft_loop_timeout(), but -1 when nothing is alive (libuv says 0 then). */
static int loop_timeout(weft__lloop *lp) {
  if (!uv_loop_alive(weft_loop_uv(lp->loop))) return -1;
  return weft_loop_timeout(lp->loop);
}

/* Is the loop's backend readable now (I/O ready, e.g. the answer a peer in
 * this process wrote in the turn just run)? */
static int backend_ready(weft__lloop *lp) {
  int fd = weft_loop_fd(lp->loop);
  struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
  return fd >= 0 && poll(&pfd, 1, 0) == 1;
}

/* weft.poll([wait_ms]) and handle:poll([wait_ms]): waits at most wait_ms
 * for work (never past the next timer), then drains (run_once until nothing
 * is ready: no work due and no I/O ready); returns the number of callbacks
 * run. */
static int l_poll(lua_State *L) {
  int arg = lua_type(L, 1) == LUA_TUSERDATA || lua_type(L, 1) == LUA_TTABLE ? 2 : 1;
  lua_Number wait_ms = luaL_optnumber(L, arg, 0);
  if (wait_ms != wait_ms || wait_ms < 0)
    return luaL_argerror(L, arg, "wait must be a non-negative number");
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  if (wait_ms > 0) {
    int t = loop_timeout(lp);
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
    if (rc == 0) break;
    if (loop_timeout(lp) != 0 && !backend_ready(lp)) break;
  }
  raise_pending(lp, L);
  lua_pushinteger(L, (lua_Integer)(lp->ncb - before));
  return 1;
}

/* weft.flush() and handle:flush(): writes what is queued now (a tick's
 * broadcast) without reading; true, or nil, message, "ESTATE" from inside
 * a handler (the loop flushes after it by itself). */
static int l_flush(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  int rc = weft_loop_flush(lp->loop);
  if (rc < 0) return weft__lfail(L, rc, "flush");
  raise_pending(lp, L);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_run(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  lp->running = 1;
  int rc = weft_loop_run(lp->loop);
  lp->running = 0;
  raise_pending(lp, L);
  if (rc < 0) return weft__lfail(L, rc, "run");
  lua_pushboolean(L, 1);
  return 1;
}

static int l_stop(lua_State *L) {
  weft_loop_stop(LOOP_UP(L)->loop);
  return 0;
}

/* Monotonic milliseconds (a float) for game ticks. */
static int l_clock(lua_State *L) {
  lua_pushnumber(L, (lua_Number)uv_hrtime() / 1e6);
  return 1;
}

/* weft.sleep(ms): sleeps without running the loop. */
static int l_sleep(lua_State *L) {
  lua_Number ms = luaL_checknumber(L, 1);
  if (ms != ms || ms < 0) return luaL_argerror(L, 1, "ms must be a non-negative number");
  if (ms > 86400000) ms = 86400000;
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(fmod(ms, 1000) * 1e6)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

/* Milliseconds until the loop has timed work (-1 none, 0 ready now). */
static int l_timeout(lua_State *L) {
  lua_pushinteger(L, loop_timeout(LOOP_UP(L)));
  return 1;
}

/* weft.transformers() --> { "websockets", ... }: the core's names. */
static int l_transformers(lua_State *L) {
  lua_newtable(L);
  for (size_t i = 0; weft_transformer_at(i); i++) {
    lua_pushstring(L, weft_transformer_at(i));
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

/* The loop's __gc (lua_close, or the module unloaded): closes what is still
 * open without calling into Lua, runs the loop until they are gone, frees. */
static int loop_gc(lua_State *L) {
  weft__lloop *lp = luaL_checkudata(L, 1, MT_LOOP);
  if (!lp->loop) return 0;
  lp->L = L;
  lp->closing = 1;
  for (weft__lowner *o = lp->open, *next; o; o = next) {
    next = o->next;
    if (o->s)
      weft__lserver_destroy(o, 1, 0, 100);
    else
      weft__lclient_destroy(o, 1);
  }
  for (int i = 0; i < 1000 && lp->open; i++) {
    if (weft_loop_run_once(lp->loop) < 0) break;
    if (lp->open && weft_loop_timeout(lp->loop) != 0) {
      struct pollfd pfd = {.fd = weft_loop_fd(lp->loop), .events = POLLIN, .revents = 0};
      (void)poll(&pfd, 1, 5);
    }
  }
  weft_loop_run(lp->loop);
  if (weft_loop_close(lp->loop) == 0) lp->loop = NULL;
  return 0;
}

static const luaL_Reg loop_funcs[] = {{"poll", l_poll},
                                      {"flush", l_flush},
                                      {"run", l_run},
                                      {"stop", l_stop},
                                      {"clock", l_clock},
                                      {"sleep", l_sleep},
                                      {"timeout", l_timeout},
                                      {"transformers", l_transformers},
                                      {NULL, NULL}};

const char *const weft__lserver_events[] = {"connection", "disconnection", "data",    "drain",
                                            "error",      "close",         "channel", NULL};
const char *const weft__lspark_events[] = {"data", "end", "error", "drain", NULL};
const char *const weft__lchannel_events[] = {"data", "end", "drain", NULL};

/* ---- the module ---- */

static void set_funcs(lua_State *L, int loop_idx, const luaL_Reg *funcs) {
  lua_pushvalue(L, loop_idx);
  luaL_setfuncs(L, funcs, 1);
}

/* The metatable `name` (methods with the loop as upvalue, __index itself,
 * `gc` as __gc, and as __close for servers and clients) into the table on
 * top, as classes[key]. */
static void new_class(lua_State *L, int loop_idx, const char *key, const char *name,
                      const luaL_Reg *const *methods, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  for (; *methods; methods++)
    set_funcs(L, loop_idx, *methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  if (gc) {
    lua_pushvalue(L, loop_idx);
    lua_pushcclosure(L, gc, 1);
    if (gc == weft__lserver_gc || gc == weft__lclient_gc) {
      lua_pushvalue(L, -1);
      lua_setfield(L, -3, "__close");
    }
    lua_setfield(L, -2, "__gc");
  }
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_setfield(L, -2, key);
}

static void push_names(lua_State *L, const char *const *names, const char *key) {
  lua_newtable(L);
  for (int i = 0; names[i]; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, key);
}

/* The core's client event names (weft_client_event_at), then the channels
 * extension's "channel". */
static void push_client_events(lua_State *L) {
  lua_newtable(L);
  int n = 0;
  for (const char *name; (name = weft_client_event_at((size_t)n)) != NULL;) {
    lua_pushstring(L, name);
    lua_rawseti(L, -2, ++n);
  }
  lua_pushstring(L, "channel");
  lua_rawseti(L, -2, n + 1);
  lua_setfield(L, -2, "client");
}

/* One loop per Lua state, kept in the registry; pushes it. */
static void push_loop(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, MT_LOOP ".instance");
  if (!lua_isnil(L, -1)) return;
  lua_pop(L, 1);
  weft__lloop *lp = lua_newuserdata(L, sizeof(*lp));
  memset(lp, 0, sizeof(*lp));
  lp->tb_ref = lp->err_ref = lp->array_mt_ref = lp->map_mt_ref = LUA_NOREF;
  lp->drop_ref = lp->chans_ref = lp->log_ref = LUA_NOREF;
  lp->L = L;
  int rc = weft_loop_new(&lp->loop);
  if (rc != 0) luaL_error(L, "weft: cannot create the loop: %s", weft_strerror(rc));
  luaL_newmetatable(L, MT_LOOP);
  lua_pushcfunction(L, loop_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushcfunction(L, traceback);
  lp->tb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  static const char *const marks[] = {"array", "map"};
  for (int i = 0; i < 2; i++) {
    luaL_newmetatable(L, i ? "weft.map" : "weft.array");
    lua_pushstring(L, marks[i]);
    lua_setfield(L, -2, "__weft");
    *(i ? &lp->map_mt_ref : &lp->array_mt_ref) = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_newtable(L); /* weft.drop: a unique value */
  lua_pushstring(L, "weft.drop");
  lua_setfield(L, -2, "name");
  lp->drop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  lp->chans_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, MT_LOOP ".instance");
}

static int open_core(lua_State *L) {
  /* A peer that vanishes must not kill the server: the stock interpreters
   * (lua5.4, luajit) leave SIGPIPE at its default, which terminates the
   * process on a write to a closed socket. Ignore it, but only when nobody
   * chose a disposition (a host with its own handler is left alone). */
  struct sigaction old_pipe;
  if (sigaction(SIGPIPE, NULL, &old_pipe) == 0 && old_pipe.sa_handler == SIG_DFL &&
      !(old_pipe.sa_flags & SA_SIGINFO))
    signal(SIGPIPE, SIG_IGN);
  push_loop(L);
  int loop_idx = lua_gettop(L);
  weft__lloop *lp = lua_touserdata(L, loop_idx);

  lua_newtable(L); /* the module */
  const luaL_Reg *const funcs[] = {loop_funcs,          weft__lvalue_funcs,   weft__lserver_funcs,
                                   weft__lclient_funcs, weft__loptions_funcs, weft__llog_funcs};
  for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
    set_funcs(L, loop_idx, funcs[i]);
  lua_newtable(L);
  const luaL_Reg *const server[] = {weft__lserver_methods,
                                    weft__lext_server_methods,
                                    weft__lchannel_owner_methods,
                                    weft__lplugin_server_methods,
                                    weft__llog_server_methods,
                                    weft__lstream_server_methods,
                                    NULL};
  const luaL_Reg *const spark[] = {weft__lspark_methods, weft__lext_spark_methods,
                                   weft__lchannel_spark_methods, weft__lstream_spark_methods, NULL};
  const luaL_Reg *const client[] = {weft__lclient_methods,
                                    weft__lext_client_methods,
                                    weft__lchannel_owner_methods,
                                    weft__lchannel_client_methods,
                                    weft__lplugin_client_methods,
                                    weft__lstream_client_methods,
                                    NULL};
  const luaL_Reg *const reply[] = {weft__lreply_methods, NULL};
  const luaL_Reg *const channel[] = {weft__lchannel_methods, NULL};
  const luaL_Reg *const auth[] = {weft__lauth_methods, NULL};
  const luaL_Reg *const stream[] = {weft__lstream_methods, NULL};
  const luaL_Reg *const writer[] = {weft__lwriter_methods, NULL};
  new_class(L, loop_idx, "server", MT_SERVER, server, weft__lserver_gc);
  new_class(L, loop_idx, "spark", MT_SPARK, spark, weft__lspark_gc);
  new_class(L, loop_idx, "client", MT_CLIENT, client, weft__lclient_gc);
  new_class(L, loop_idx, "reply", MT_REPLY, reply, weft__lreply_gc);
  new_class(L, loop_idx, "channel", MT_CHANNEL, channel, NULL);
  new_class(L, loop_idx, "auth", MT_AUTH, auth, weft__lauth_gc);
  new_class(L, loop_idx, "stream", MT_STREAM, stream, weft__lstream_gc);
  new_class(L, loop_idx, "writer", MT_WRITER, writer, weft__lwriter_gc);
  lua_setfield(L, -2, "classes");
  lua_newtable(L);
  push_names(L, weft__lserver_events, "server");
  push_names(L, weft__lspark_events, "spark");
  push_client_events(L);
  push_names(L, weft__lchannel_events, "channel");
  lua_setfield(L, -2, "events");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->drop_ref);
  lua_setfield(L, -2, "drop");
  lua_pushstring(L, weft_version_string());
  lua_setfield(L, -2, "version");
  return 1;
}

/* require "weft": the C half as package.loaded["weft.core"], the Lua files
 * of lua/weft/ (embedded) as package.preload["weft.<name>"], then init.lua,
 * whose result is the module. */
WEFT__LUA_EXPORT int luaopen_weft(lua_State *L) {
  lua_getglobal(L, "package");
  if (!lua_istable(L, -1)) return luaL_error(L, "weft: no package library");
  int pkg = lua_gettop(L);
  lua_getfield(L, pkg, "loaded");
  lua_pushcfunction(L, open_core);
  lua_call(L, 0, 1);
  lua_setfield(L, -2, "weft.core");
  lua_getfield(L, pkg, "preload");
  const weft__lfile *init = NULL;
  for (const weft__lfile *f = weft__lfiles; f->name; f++) {
    if (strcmp(f->name, "init") == 0) {
      init = f;
      continue;
    }
    lua_pushfstring(L, "@lua/weft/%s.lua", f->name);
    if (luaL_loadbuffer(L, f->data, f->len, lua_tostring(L, -1)) != 0) return lua_error(L);
    lua_pushfstring(L, "weft.%s", f->name);
    lua_insert(L, -2);
    lua_settable(L, -4);
    lua_pop(L, 1); /* the chunk name */
  }
  if (!init || luaL_loadbuffer(L, init->data, init->len, "@lua/weft/init.lua") != 0)
    return init ? lua_error(L) : luaL_error(L, "weft: init.lua is not embedded");
  lua_pushstring(L, "weft");
  lua_call(L, 1, 1);
  return 1;
}
