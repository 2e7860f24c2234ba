/*
 * weft for Lua, the C half: `weft.core`, a thin module over the C core.
 * The Lua files in lua/weft/ are the other half (options, `on`, targets,
 * for_each, plugins, the constructors), embedded into weft.so: users
 * `require "weft"` (luaopen_weft, module.c) and get init.lua's table.
 *
 * One file per object: module.c (the loop, calls into Lua, the module
 * table), value.c (values both ways), options.c (the core's option tables),
 * server.c, spark.c, client.c, ext.c (emitter and rooms), channel.c,
 * plugin.c (plugins, transforms, authorization, ids), log.c (logs and
 * metrics), stream.c (streams, writers, the route policy). This header is
 * theirs only.
 *
 * Lifetimes are the core's: a server, client or spark userdata retains its
 * handle and releases it from __gc; calls on a closed handle get the core's
 * WEFT_ECLOSED. Callback references are freed by the core's free_user.
 * Every call from C into Lua goes through lua_pcall (weft__lrun), so a Lua
 * error never unwinds through libuv; what it raised is kept and raised by
 * poll()/run(), or (handler_errors = "close") closes the spark it was about.
 */
#ifndef WEFT_LUA_H
#define WEFT_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <weft/ext.h>
#include <weft/options.h>
#include <weft/weft.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
#define WEFT__LUA_NO_INT 1
#endif

/* Metatable names in the registry. */
#define MT_LOOP "weft.loop"
#define MT_SERVER "weft.server"
#define MT_SPARK "weft.spark"
#define MT_CLIENT "weft.client"
#define MT_REPLY "weft.reply"
#define MT_CHANNEL "weft.channel"
#define MT_AUTH "weft.auth"

/* Every function of the module has the loop userdata as upvalue 1. */
#define LOOP_UP(L) ((weft__lloop *)lua_touserdata(L, lua_upvalueindex(1)))

typedef struct weft__lowner weft__lowner;
typedef struct weft__lreply weft__lreply;

typedef struct weft__lloop {
  weft_loop *loop;
  lua_State *L;       /* the state of the latest call into the module */
  int tb_ref;         /* the traceback function */
  int err_ref;        /* the first error a callback raised, until poll() raises it */
  int nerr;           /* errors after that one */
  int array_mt_ref;   /* weft.array's metatable */
  int map_mt_ref;     /* weft.map's metatable */
  int drop_ref;       /* weft.drop: a transform swallows the message */
  int chans_ref;      /* lightuserdata(weft_channel) -> channel userdata */
  int log_ref;        /* weft.set_log's function */
  int log_busy;       /* it runs: records it causes are dropped */
  int closing;        /* lua_close: no more calls into Lua */
  int running;        /* inside weft.run() */
  unsigned long ncb;  /* callbacks run (poll() returns the difference) */
  weft__lowner *open; /* servers and clients not yet freed by the core */
} weft__lloop;

/* The Lua side of a server or a client, shared by its userdata and the
 * core (as the events' user): freed when both let go. */
#define WEFT__LCB 16
struct weft__lowner {
  weft__lowner *prev, *next; /* the loop's list */
  weft__lloop *lp;
  weft_server *s; /* one of the two; retained by the userdata */
  weft_client *c;
  int refs;           /* the userdata's and the core's */
  int closed;         /* close() was called: registrations get WEFT_ECLOSED */
  int close_on_error; /* servers: handler_errors = "close" */
  weft__lreply *replies;
  int cb[WEFT__LCB]; /* handlers by event */
};

/* The userdata of a server or a client. */
typedef struct weft__lhandle {
  weft__lowner *o;
} weft__lhandle;

enum { SEV_CONNECTION, SEV_DISCONNECTION, SEV_DATA, SEV_DRAIN, SEV_ERROR, SEV_CLOSE, SEV_CHANNEL };
enum { PEV_DATA, PEV_END, PEV_ERROR, PEV_DRAIN, PEV_N };
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
  CEV_CHANNEL
};
enum { HEV_DATA, HEV_END, HEV_DRAIN, HEV_N }; /* channels */
extern const char *const weft__lserver_events[];
extern const char *const weft__lspark_events[];
extern const char *const weft__lchannel_events[];

/* The userdata of a spark: the same object from connection to
 * disconnection (anchored by self_ref meanwhile). */
typedef struct weft__lspark {
  weft_spark *sp;    /* retained */
  weft__lowner *srv; /* its server, for its events (valid while connected) */
  int self_ref;
  int cb[PEV_N];
} weft__lspark;

/* ---- module.c: calls into Lua ---- */

/* One call into Lua from the loop. `push` pushes the function and its
 * arguments and returns how many arguments (-1: nothing to call); it runs
 * inside lua_pcall, as does `result` (reading the `nres` results). Without
 * `push`: the handler `ref` with, in this order, `arg_ref`'s value, `msg`,
 * `err`, `ri`, `str`, `tail_ref`'s value (those that are set). */
typedef struct weft__lcall weft__lcall;
struct weft__lcall {
  weft__lloop *lp;
  int ref, arg_ref, tail_ref;
  const weft_value *msg;
  const weft_error_info *err;
  const weft_reconnect_info *ri;
  const char *str;
  int (*push)(lua_State *L, weft__lcall *c);
  void (*result)(lua_State *L, weft__lcall *c);
  int nres;
  weft_spark *sp; /* the spark this call is about, or NULL */
  void *ctx;
  int ran; /* set when there was something to call */
};
/* Inline: on every event's path, and the stores it does not need fold away. */
static inline void weft__lcall_init(weft__lcall *c, weft__lloop *lp, int ref) {
  *c = (weft__lcall){.lp = lp, .ref = ref, .arg_ref = LUA_NOREF, .tail_ref = LUA_NOREF};
}
/* Returns 0 when the function ran and returned, 1 when there was nothing
 * to call, -1 when it raised (the error is kept for poll(), or closes the
 * spark: see the top of this file). */
int weft__lrun(weft__lcall *c);

int weft__lfail(lua_State *L, int code, const char *what);
int weft__lfailmsg(lua_State *L, int code, const char *msg);
void weft__lunref(lua_State *L, int *ref);
int weft__lref(lua_State *L, int idx);
int weft__lis(lua_State *L, int idx, const char *mt);
/* handle:_on(i, fn|nil) for a handler array of n events (i is 1-based). */
int weft__lset_cb(lua_State *L, int *cb, int n);
/* A new userdata of `mt` of `size` bytes, zeroed. */
void *weft__lnew(lua_State *L, size_t size, const char *mt);
void weft__lowner_unref(weft__lowner *o);
int weft__lowner_release(weft__lowner *o); /* one reference less; frees at 0 */
/* A new owner without handlers (NULL: out of memory); linked to its
 * userdata `h` and the loop's list once its handle exists (two references:
 * the userdata's and the core's). weft__lowner_free is the free_user of
 * its events: off the list, the core's reference given back. */
weft__lowner *weft__lowner_new(weft__lloop *lp);
void weft__lowner_link(weft__lowner *o, weft__lhandle *h);
void weft__lowner_free(void *user);

/* ---- value.c ---- */

/* Lua -> weft; never raises: 0 or a WEFT_E* code, and *why. */
int weft__lto_value(weft__lloop *lp, lua_State *L, int idx, int depth, weft_value **out,
                    const char **why);
/* Converts argument idx, or leaves nil, message, name and sets *nret. */
int weft__lcheck_value(weft__lloop *lp, lua_State *L, int idx, weft_value **out, int *nret);
/* The values at [first, last] as one array (nil is null), as above. */
int weft__lcheck_args(weft__lloop *lp, lua_State *L, int first, int last, weft_value **out,
                      int *nret);
/* weft -> Lua (may raise a memory error: inside lua_pcall only). */
void weft__lpush_value(weft__lloop *lp, lua_State *L, const weft_value *v);
void weft__lpush_error(lua_State *L, const weft_error_info *err);
extern const luaL_Reg weft__lvalue_funcs[];

/* ---- the objects' methods and their events ---- */

extern const luaL_Reg weft__lserver_methods[], weft__lspark_methods[], weft__lclient_methods[],
    weft__lreply_methods[], weft__lchannel_methods[], weft__lauth_methods[];
extern const luaL_Reg weft__lext_server_methods[], weft__lext_spark_methods[],
    weft__lext_client_methods[], weft__lchannel_owner_methods[], weft__lchannel_spark_methods[],
    weft__lchannel_client_methods[], weft__lplugin_server_methods[], weft__lplugin_client_methods[],
    weft__llog_server_methods[];
extern const luaL_Reg weft__lserver_funcs[], weft__lclient_funcs[], weft__loptions_funcs[],
    weft__llog_funcs[];
int weft__lserver_gc(lua_State *L);
int weft__lspark_gc(lua_State *L);
int weft__lclient_gc(lua_State *L);
int weft__lreply_gc(lua_State *L);
int weft__lauth_gc(lua_State *L);

/* spark.c */
void weft__lspark_new(lua_State *L, weft_spark *sp, weft__lowner *srv);
void weft__lpush_spark(lua_State *L, weft_spark *sp); /* its userdata, or nil */
weft__lspark *weft__lcheck_spark(lua_State *L, int idx);
/* The spark's server, or nil, message, "ECLOSED" (nret) once it is gone. */
weft_server *weft__lspark_server(lua_State *L, weft__lspark *p, const char *what, int *nret);
void weft__lspark_gone(weft__lspark *p); /* after its disconnection */

/* server.c / client.c */
weft__lowner *weft__lcheck_owner(lua_State *L, int idx, int *is_client);
void weft__lserver_destroy(weft__lowner *o, int quiet, int reconnect, uint32_t timeout_ms);
void weft__lclient_destroy(weft__lowner *o, int quiet);
void weft__lon_server_error(weft_server *s, weft_spark *sp, const weft_error_info *err, void *user);

/* lua_files.c (generated by lua/embed.cmake): lua/weft/<name>.lua, ending
 * with a NULL name. */
typedef struct weft__lfile {
  const char *name;
  const char *data;
  size_t len;
} weft__lfile;
extern const weft__lfile weft__lfiles[];

/* ext.c: replies; channel.c */
void weft__lreplies_reject(weft__lowner *o, const char *why);
/* A new reply userdata for `r`, on the owner's list of unanswered ones. */
weft__lreply *weft__lpush_reply(lua_State *L, weft__lowner *o, weft_reply *r);
/* An ack's callback (the function at `fn`): weft__lon_ack is its
 * weft_ack_cb and frees it; weft__lack_free when it was never sent. */
typedef struct weft__lack weft__lack;
weft__lack *weft__lack_new(lua_State *L, weft__lloop *lp, int fn);
void weft__lack_free(lua_State *L, weft__lack *a);
void weft__lon_ack(const weft_ack *k, void *user);
/* stream.c: streams and route policy */
#define WEFT__LCB_STREAM (WEFT__LCB - 1) /* the owner's "stream" handler */
#define MT_STREAM "weft.stream"
#define MT_WRITER "weft.writer"
extern const luaL_Reg weft__lstream_methods[], weft__lwriter_methods[],
    weft__lstream_server_methods[], weft__lstream_spark_methods[], weft__lstream_client_methods[];
int weft__lstream_gc(lua_State *L);
int weft__lwriter_gc(lua_State *L);
void weft__lpush_channel(lua_State *L, weft__lloop *lp, weft_channel *ch);

#endif /* WEFT_LUA_H */
