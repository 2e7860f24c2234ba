/*
 * weft's Node-API addon: the C core on Node's own libuv loop. One source
 * per wrapped object (module.c, value.c, server.c, auth.c, spark.c,
 * client.c, transform.c, emitter.c, rooms.c, channel.c, log.c), as
 * zeromq.js does;
 * node/lib/ gives them Primus's shape.
 *
 * Rules every file keeps (docs/abi.md, design.md "Known pitfalls"):
 *  - one weft_loop per Node environment (main thread or worker), on the loop
 *    napi_get_uv_event_loop() returns; no threads, no hops;
 *  - every call into JavaScript goes through weft__node_call() (module.c):
 *    napi_make_callback() inside the caller's handle scope; an exception it
 *    leaves is handed to napi_fatal_exception(), which is
 *    process.on('uncaughtException') (lib/ decides before that whether a
 *    handler's exception closes a spark instead: the handlerErrors option);
 *  - lifetimes are the core's (weft.h "Handle lifetimes"): a wrapper takes
 *    a reference on its handle (*_retain) and gives it back from the
 *    finalizer of its external, so a call on a closed handle is the core's
 *    WEFT_ECLOSED and no wrapper keeps a guard flag;
 *  - the servers and clients whose last event has not come are the
 *    environment's closables (one list, the reaper's): an async cleanup hook
 *    destroys them when the environment exits and frees the loop after
 *    their last events. Nothing calls into JavaScript once that started.
 */
#ifndef WEFT_NODE_ADDON_H
#define WEFT_NODE_ADDON_H

#include <stdint.h>

#include <node_api.h>
#include <uv.h>
#include <weft/ext.h>
#include <weft/options.h>
#include <weft/weft.h>

/* JavaScript dispatchers, registered once by lib/index.js (binding.setup). */
enum {
  CB_SPARK,         /* this=server (sparkExt, id) -> Spark */
  CB_CONNECTION,    /* this=server (spark) */
  CB_DISCONNECTION, /* this=server (spark) */
  CB_DATA,          /* this=spark (value) */
  CB_DRAIN,         /* this=spark () */
  CB_ERROR,         /* this=server (spark|null, code, kind, message) */
  CB_CLOSE,         /* this=server () */
  CB_AUTHORIZE,     /* this=server (authExt) */
  CB_CLIENT,        /* this=client (event, a, b, c, d) */
  CB_CLIENT_DATA,   /* this=client (value) */
  CB_EVENT,         /* this=spark|client (name, args, replyExt|undefined) */
  CB_ACK,           /* (token, codeName|null, value) */
  CB_CHANNEL,       /* this=channel (what, value) */
  CB_CHANNEL_OPEN,  /* this=server|client (chExt, name, spark|null) -> Channel */
  CB_POLICY,        /* this=server (spark, room, join) -> bool */
  CB_LOG,           /* this=server|client (level, event, message, spark|null, kind|null) */
  CB_TRANSFORM,     /* this=spark|client (direction, value) -> [value] | false */
  CB_ID,            /* this=server () -> string */
  CB_PARSER,        /* this=server|client (encode, value|bytes) -> [result] | Error */
  CB_STREAM,        /* this=IStream|OStream (what, Buffer|aborted) */
  CB_STREAM_OPEN,   /* this=server|client (stExt, event, info, replyExt|undefined, spark|null) */
  CB_ROUTE,         /* this=server (spark, route) -> false | true | {broadcast, withSender} */
  CB_COUNT
};

/* What an external holds: the first member of every wrapper, checked before
 * a pointer from JavaScript is used as one. */
enum {
  WEFT__N_SERVER = 0x77530001,
  WEFT__N_SPARK,
  WEFT__N_CLIENT,
  WEFT__N_AUTH,
  WEFT__N_REPLY,
  WEFT__N_CHANNEL,
  WEFT__N_STREAM,
  WEFT__N_OSTREAM
};

typedef struct weft__addon weft__addon;

/* A server or client whose last event (close, destroy) has not come: the
 * reaper's list. `obj` is the JavaScript object, strong until that event. */
typedef struct weft__nclosable {
  uint32_t kind;
  weft__addon *a;
  napi_ref obj;
  void *handle; /* the weft_server or weft_client */
  int orphan;   /* no external holds the wrapper: its last event frees it */
  struct weft__nclosable *next, *prev;
} weft__nclosable;

struct weft__addon {
  napi_env env;
  weft_loop *loop;
  napi_ref cbs[CB_COUNT];
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  int teardown;     /* the environment is going away: no more JavaScript */
  uv_idle_t reaper; /* closes the loop at teardown, once nothing uses it */
  int reaper_on;
  weft__nclosable *live; /* servers and clients before their last event */
  int64_t retained;      /* sparks and clients whose wrapper holds a reference */
};

/* What a wrapper keeps alive after its handle closed, until it is collected
 * (a spark's connection block, a client's struct; estimates), told to V8
 * so that its collections account for it (weft__node_retained). */
#define WEFT__NODE_SPARK_BYTES 1024
#define WEFT__NODE_CLIENT_BYTES 3072

/* The transforms trampoline of one server or client (transform.c): a
 * weft_plugin_ops registered before it listens/opens, calling JavaScript
 * only while the counts say transforms exist. Owned by the core (freed by
 * the plugin's destroy). */
typedef struct weft__ntransforms {
  weft__addon *a;
  weft__nclosable *owner;
  uint32_t in, out;  /* transforms registered in JavaScript */
  uint32_t in_types; /* WEFT_PLUGIN_TYPE bits the incoming ones look at; 0: all */
  int bypass;        /* a write already transformed (asynchronously) */
} weft__ntransforms;

typedef struct weft__nserver {
  weft__nclosable base; /* kind WEFT__N_SERVER */
  weft_server *srv;     /* retained until the external's finalizer */
} weft__nserver;

typedef struct weft__nclient {
  weft__nclosable base; /* kind WEFT__N_CLIENT */
  weft_client *c;       /* retained until the external's finalizer */
} weft__nclient;

typedef struct weft__nspark {
  uint32_t kind; /* WEFT__N_SPARK */
  weft__addon *a;
  weft_spark *spark; /* retained until the external's finalizer */
  weft_server *srv;  /* its server, retained as long (weft_spark_server's
                      * answer outlives neither) */
  napi_ref obj;      /* the Spark, strong from connection to disconnection */
} weft__nspark;

/* ---- module.c: helpers ---- */

#define NAPI_OK(call)                                                                              \
  do {                                                                                             \
    if ((call) != napi_ok) goto fail;                                                              \
  } while (0)

weft__addon *weft__node_addon(napi_env env);
/* The loop, created on first use (loading the addon alone costs nothing). */
weft_loop *weft__node_loop(napi_env env, weft__addon *a);
/* Calls dispatcher `which` with `recv` as this, inside the caller's handle
 * scope; NULL when it threw (handed to uncaughtException) or at teardown. */
napi_value weft__node_call(weft__addon *a, int which, napi_value recv, size_t argc,
                           napi_value *argv);
/* Gets `want` arguments (missing ones undefined); -1 on a napi failure. */
int weft__node_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
/* The wrapper an external holds when it is of `kind`, else NULL with a
 * TypeError thrown. */
void *weft__node_unwrap(napi_env env, napi_value v, uint32_t kind);
/* The wrapper of a server or client external (either), else NULL with a
 * TypeError thrown. */
void *weft__node_unwrap_any(napi_env env, napi_value v);
/* A UTF-8 copy of a JS string (malloc'd), or NULL (not a string, or no memory). */
char *weft__node_string(napi_env env, napi_value v, size_t *len_out);
napi_value weft__node_str(napi_env env, const char *s); /* NULL for NULL */
napi_value weft__node_int(napi_env env, int64_t i);
napi_value weft__node_undefined(napi_env env);
/* Throws an Error with .code = the "EINVAL"-style name of `code` and .errno;
 * the message is "what: strerror(code)". Returns NULL. */
napi_value weft__node_throw(napi_env env, int code, const char *what);
napi_value weft__node_throw_type(napi_env env, const char *msg);
/* The JS object of a strong reference (NULL when it has none). */
napi_value weft__node_deref(napi_env env, napi_ref ref);

/* A spark's or client's wrapper took (+bytes) or gave back (-bytes) its
 * reference: counted, and told to V8 (napi_adjust_external_memory). */
void weft__node_retained(weft__addon *a, int64_t bytes);

/* The reaper: a server or client joins at creation and leaves at its last
 * event (after which the loop may close at teardown). */
void weft__node_live_add(weft__nclosable *c);
void weft__node_live_remove(weft__nclosable *c);
/* The closable of a core handle, for records about it (log.c). */
weft__nclosable *weft__node_live_find(weft__addon *a, const void *handle);

/* ---- value.c ---- */
napi_value weft__node_to_js(napi_env env, const weft_value *v);
/* An owned weft_value, or NULL with a JS exception thrown. */
weft_value *weft__node_from_js(napi_env env, napi_value v);

/* ---- per-object property tables (each file's exports) ---- */
int weft__node_define_server(napi_env env, napi_value exports);
int weft__node_define_auth(napi_env env, napi_value exports);
int weft__node_define_spark(napi_env env, napi_value exports);
int weft__node_define_client(napi_env env, napi_value exports);
int weft__node_define_transform(napi_env env, napi_value exports);
int weft__node_define_emitter(napi_env env, napi_value exports);
int weft__node_define_rooms(napi_env env, napi_value exports);
int weft__node_define_channel(napi_env env, napi_value exports);
int weft__node_define_log(napi_env env, napi_value exports);
int weft__node_define_parser(napi_env env, napi_value exports);
int weft__node_define_stream(napi_env env, napi_value exports);
#define WEFT__NODE_FN(n, f)                                                                        \
  { n, NULL, f, NULL, NULL, NULL, napi_default, NULL }

/* ---- cross-object hooks ---- */
/* spark.c: the server events of sparks. */
void weft__node_spark_events(weft_server_events *ev);
/* spark.c: the JS Spark of a core spark, or NULL. */
napi_value weft__node_spark_obj(napi_env env, weft_spark *spark);
/* emitter.c: a reply handed to JavaScript (an external answered through
 * replyAnswer; dropped when collected unanswered), or NULL (the caller
 * still owns r). */
napi_value weft__node_reply_ext(napi_env env, weft__nclosable *owner, weft_reply *r);
/* emitter.c: an ack on its way: JavaScript keeps the callback under
 * `token` (NULL for a token < 0: no ack wanted); weft__node_on_ack is its
 * weft_ack_cb and frees it. */
typedef struct weft__nack {
  weft__addon *a;
  double token;
  weft_server *srv; /* owner of the emitter (a reply the answer carries is theirs) */
  weft_client *cli;
} weft__nack;
weft__nack *weft__node_new_ack(napi_env env, napi_value token, weft_server *srv, weft_client *cli);
/* stream.c: the strings of an array value (borrowed from it), at most cap. */
size_t weft__node_strs(const weft_value *list, const char **out, size_t cap);
void weft__node_on_ack(const weft_ack *ack, void *user);

#endif /* WEFT_NODE_ADDON_H */
