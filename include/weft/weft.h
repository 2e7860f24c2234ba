/*
 * weft — real-time messaging: one C event core, Primus's wire protocol.
 *
 * This header is the application API and its reference. Rules that hold for
 * every declaration below (docs/abi.md says more):
 *
 *  - Errors: functions returning int return 0 (or a documented non-negative
 *    value) on success and a negative WEFT_E* code on failure. Bad input and
 *    misuse (NULL handles, calls in the wrong state) return an error; nothing
 *    aborts. weft_err_name() and weft_strerror() describe a code.
 *  - Threads: a loop and everything created on it belong to one thread. The
 *    only call that may be made from another thread is weft_loop_post().
 *  - Memory: a pointer handed to a callback is valid during that callback only,
 *    unless the declaration says otherwise. Handles that do I/O are closed
 *    asynchronously; their memory is freed after their close callback returns.
 *  - Callbacks carry `void *user`. Long-lived registrations also take a
 *    `free_user` function, called once when the registration ends.
 *  - Strings passed in are copied unless stated; strings returned are owned by
 *    the handle that returned them and live as long as it does.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>

#include "weft/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WEFT_EXTERN __attribute__((visibility("default")))
#else
#define WEFT_EXTERN
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* X(name, message). Codes are negative and stable: append only. */
#define WEFT_ERRNO_MAP(X)                                                                          \
  X(INVAL, "invalid argument")                                                                     \
  X(NOMEM, "out of memory")                                                                        \
  X(STATE, "operation not allowed in the handle's current state")                                  \
  X(CLOSED, "handle is closed or closing")                                                         \
  X(EXIST, "name already registered")                                                              \
  X(NOENT, "no such entry")                                                                        \
  X(TYPE, "value has another type")                                                                \
  X(RANGE, "number out of range")                                                                  \
  X(DEPTH, "value nested too deeply")                                                              \
  X(PARSE, "malformed message")                                                                    \
  X(UTF8, "invalid UTF-8")                                                                         \
  X(TOOBIG, "message larger than the maximum length")                                              \
  X(PROTO, "protocol violation by the peer")                                                       \
  X(URL, "invalid or unsupported URL")                                                             \
  X(ADDRINUSE, "address already in use")                                                           \
  X(ADDRNOTAVAIL, "address not available")                                                         \
  X(CONNREFUSED, "connection refused")                                                             \
  X(IO, "input/output error")                                                                      \
  X(TIMEDOUT, "timed out")                                                                         \
  X(NOBUFS, "outbound queue is full")                                                              \
  X(VERSION, "plugin ABI version not supported")                                                   \
  X(UNAUTHORIZED, "authorization refused")                                                         \
  X(UNSUPPORTED, "not supported")                                                                  \
  X(REJECTED, "the peer rejected the request")

typedef enum weft_errno {
  WEFT__ERRNO_BASE = -30000,
#define WEFT__ERR_ENUM(name, msg) WEFT_E##name,
  WEFT_ERRNO_MAP(WEFT__ERR_ENUM)
#undef WEFT__ERR_ENUM
      WEFT__ERRNO_END
} weft_errno;

/* "EINVAL"-style name of a code, or "UNKNOWN". Never NULL; static storage. */
WEFT_EXTERN const char *weft_err_name(int code);
/* Human-readable message of a code, or "unknown error". Never NULL; static. */
WEFT_EXTERN const char *weft_strerror(int code);

/* Library version, WEFT_VERSION_NUMBER of the linked library. */
WEFT_EXTERN unsigned weft_version(void);
WEFT_EXTERN const char *weft_version_string(void);

/* Frees memory that weft allocated for the caller (weft_value_encode()). */
WEFT_EXTERN void weft_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A decoded message: null, bool, int64, double, string (UTF-8), binary,
 * array, or map (keys of any type; JSON maps have string keys).
 *
 * Two kinds of pointers exist. `const weft_value *` handed to a callback is
 * borrowed: valid for that callback only, never freed by the application
 * (weft_value_dup() keeps a copy). `weft_value *` returned by a constructor,
 * weft_value_dup() or weft_value_decode() is owned: the caller frees it with
 * weft_value_free() or hands it to a function documented to take it.
 */
typedef struct weft_value weft_value;

typedef enum weft_type {
  WEFT_NULL = 0,
  WEFT_BOOL,
  WEFT_INT,
  WEFT_FLOAT,
  WEFT_STRING,
  WEFT_BINARY,
  WEFT_ARRAY,
  WEFT_MAP
} weft_type;

/* Containers deeper than this are refused by decoders and encoders. */
#define WEFT_VALUE_MAX_DEPTH 512

/* Constructors. Each returns an owned value, or NULL when out of memory.
 * weft_value_new_string() also returns NULL when `s` is not valid UTF-8 or
 * when s is NULL with len > 0; `s` is copied and may contain NUL bytes. */
WEFT_EXTERN weft_value *weft_value_new_null(void);
WEFT_EXTERN weft_value *weft_value_new_bool(int b);
WEFT_EXTERN weft_value *weft_value_new_int(int64_t i);
WEFT_EXTERN weft_value *weft_value_new_float(double d);
WEFT_EXTERN weft_value *weft_value_new_string(const char *s, size_t len);
WEFT_EXTERN weft_value *weft_value_new_binary(const void *p, size_t len);
WEFT_EXTERN weft_value *weft_value_new_array(void);
WEFT_EXTERN weft_value *weft_value_new_map(void);

/* Appends `item` to the owned array `arr`. Takes ownership of `item` in every
 * case (it is freed on failure), so calls can nest constructors.
 * Errors: WEFT_EINVAL (arr not an owned array, item NULL), WEFT_ENOMEM. */
WEFT_EXTERN int weft_value_array_push(weft_value *arr, weft_value *item);

/* Appends the entry key→val to the owned map `map`; keys are not
 * de-duplicated (weft_value_map_get() finds the last). Takes ownership of
 * `val` (and of `key` for _add_value) in every case.
 * Errors: WEFT_EINVAL, WEFT_EUTF8 (key not UTF-8), WEFT_ENOMEM. */
WEFT_EXTERN int weft_value_map_add(weft_value *map, const char *key, size_t keylen,
                                   weft_value *val);
WEFT_EXTERN int weft_value_map_add_value(weft_value *map, weft_value *key, weft_value *val);

/* Frees an owned value and everything in it. NULL is a no-op; so is a
 * borrowed value (weft never frees what it lent). */
WEFT_EXTERN void weft_value_free(weft_value *v);

/* Deep copy; the result is owned. NULL when out of memory or v is NULL. */
WEFT_EXTERN weft_value *weft_value_dup(const weft_value *v);

/* Deep equality (1 equal, 0 not). Ints and floats never compare equal. */
WEFT_EXTERN int weft_value_equal(const weft_value *a, const weft_value *b);

/* Accessors. weft_value_type(NULL) is WEFT_NULL. The getters return
 * WEFT_EINVAL for NULL arguments and WEFT_ETYPE for another type; pointers
 * they return live as long as the value. Strings are NUL-terminated as a
 * convenience; use the length, they may hold NUL bytes. */
WEFT_EXTERN weft_type weft_value_type(const weft_value *v);
WEFT_EXTERN int weft_value_get_bool(const weft_value *v, int *out);
WEFT_EXTERN int weft_value_get_int(const weft_value *v, int64_t *out);
WEFT_EXTERN int weft_value_get_float(const weft_value *v, double *out);
WEFT_EXTERN int weft_value_get_string(const weft_value *v, const char **s, size_t *len);
WEFT_EXTERN int weft_value_get_binary(const weft_value *v, const uint8_t **p, size_t *len);

/* Element count of an array or map, byte length of a string or binary,
 * otherwise 0. */
WEFT_EXTERN size_t weft_value_len(const weft_value *v);
/* Borrowed children, NULL when out of range or of another type. */
WEFT_EXTERN const weft_value *weft_value_array_at(const weft_value *v, size_t i);
WEFT_EXTERN const weft_value *weft_value_map_key_at(const weft_value *v, size_t i);
WEFT_EXTERN const weft_value *weft_value_map_value_at(const weft_value *v, size_t i);
WEFT_EXTERN const weft_value *weft_value_map_get(const weft_value *v, const char *key,
                                                 size_t keylen);

/* ------------------------------------------------------------------------ */
/* Parsers (encodings)                                                      */
/* ------------------------------------------------------------------------ */

/* Transformer (transport) names, in this order: "websockets" (Primus's
 * default: RFC 6455 over TCP, TLS or a Unix socket), "engine.io" (Engine.IO
 * protocol v4, Primus's engine.io transformer: HTTP long-polling upgraded
 * to WebSocket, or WebSocket alone), "fast-tcp" (fast-tcp 3.3.2's binary
 * framing on tcp:// and ipc:// URLs, which pick it themselves) and "vibe"
 * (the Vibe protocol: ws, httpstream, httplongpoll).
 * weft_transformer_exists() returns 1 for a known name (or a
 * comma-separated list of known names, as weft_server_set_transformer()
 * takes), else 0; weft_transformer_at(i) is the i-th name this build has,
 * NULL past the last (to list them in an error message). */
WEFT_EXTERN int weft_transformer_exists(const char *name);
WEFT_EXTERN const char *weft_transformer_at(size_t i);

/* Parser names: "json" (text frames; strict RFC 8259, UTF-8 validated,
 * U+2028/U+2029 escaped on output), "msgpack" (binary frames), and "raw"
 * (weft's own, not Primus's: a text frame is a string, a binary frame is
 * binary, both sent back as they came; other values go out as JSON text —
 * for generic WebSocket peers).
 * weft_parser_exists() returns 1 for a known name, else 0. */
WEFT_EXTERN int weft_parser_exists(const char *name);

/* Encodes `v` with the named parser into a new buffer (*out, *len) that the
 * caller frees with weft_free(). Errors: WEFT_EINVAL (unknown parser, NULL
 * argument), WEFT_EDEPTH, WEFT_ETYPE (a map key JSON cannot carry),
 * WEFT_ENOMEM. */
WEFT_EXTERN int weft_value_encode(const char *parser, const weft_value *v, uint8_t **out,
                                  size_t *len);

/* Decodes one message; *out is owned. Errors: WEFT_EINVAL, WEFT_EPARSE,
 * WEFT_EUTF8, WEFT_EDEPTH, WEFT_ENOMEM. When `errpos` is not NULL it receives
 * the byte offset where decoding failed. */
WEFT_EXTERN int weft_value_decode(const char *parser, const void *data, size_t len,
                                  weft_value **out, size_t *errpos);

/* ------------------------------------------------------------------------ */
/* Loop                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * The libuv loop that servers and clients run on. Three ways to drive it:
 *  1. weft_loop_run() until there is no more work (C programs, the CLI);
 *  2. a host's own uv_loop_t (weft_loop_new_uv()), which the host runs;
 *  3. the host polls weft_loop_fd() for readability, sleeps at most
 *     weft_loop_timeout() ms, then calls weft_loop_run_once() (asyncio,
 *     game ticks). Nothing busy-polls.
 */
typedef struct weft_loop weft_loop;

/* A loop with its own uv_loop_t. Errors: WEFT_EINVAL, WEFT_ENOMEM, WEFT_EIO. */
WEFT_EXTERN int weft_loop_new(weft_loop **out);
/* A loop on the host's uv_loop_t (a `uv_loop_t *`, passed as void * so this
 * header needs no libuv). The host keeps owning and running it. */
WEFT_EXTERN int weft_loop_new_uv(weft_loop **out, void *uv_loop);
/* The uv_loop_t * underneath. */
WEFT_EXTERN void *weft_loop_uv(weft_loop *loop);

/* Runs until no handle is active or weft_loop_stop(). Returns 0, or
 * WEFT_ESTATE when called from inside a callback of this loop. */
WEFT_EXTERN int weft_loop_run(weft_loop *loop);
/* Runs ready callbacks once without blocking. Returns 1 when work remains
 * (call again after waiting), 0 when none, WEFT_ESTATE when re-entered. */
WEFT_EXTERN int weft_loop_run_once(weft_loop *loop);
/* Writes what is queued now, without reading, running timers or waiting:
 * one write per connection with queued frames (what a socket does not take
 * waits for writability, as after any flush). Writes made between calls
 * otherwise leave on the next weft_loop_run_once(), before its reads; a
 * game that reads its inputs at the top of its tick and broadcasts at the
 * end flushes there, so the tick's sends leave with it. Callbacks it may
 * run: drain, and error and disconnection when a write fails. Returns 0,
 * WEFT_EINVAL (no loop), or WEFT_ESTATE from inside a callback of this
 * loop (which flushes by itself when the callback returns). */
WEFT_EXTERN int weft_loop_flush(weft_loop *loop);
/* A file descriptor that becomes readable when weft_loop_run_once() has work;
 * -1 when the platform has none. */
WEFT_EXTERN int weft_loop_fd(const weft_loop *loop);
/* Milliseconds until the next timer (-1 none, 0 work is ready now). */
WEFT_EXTERN int weft_loop_timeout(const weft_loop *loop);
/* Makes weft_loop_run() return after the current iteration. */
WEFT_EXTERN int weft_loop_stop(weft_loop *loop);

/* The log: records of what happens on the loop (listening, connections and
 * disconnections, refused handshakes, error events, heartbeat timeouts,
 * full queues, a client's reconnects), off by default. Levels: */
enum { WEFT_LOG_OFF = 0, WEFT_LOG_ERROR, WEFT_LOG_WARN, WEFT_LOG_INFO, WEFT_LOG_DEBUG };
struct weft_server;
struct weft_client;
typedef struct weft_log_record {
  int level;                  /* WEFT_LOG_ERROR..DEBUG */
  const char *event;          /* "listen", "connection", "disconnection", "refused", "error",
                               * "timeout", "queue", "open", "close", "reconnect", "end" */
  const char *message;        /* one line of text */
  struct weft_server *server; /* the server it is about, or NULL */
  struct weft_client *client; /* the client it is about, or NULL */
  const char *spark;          /* the spark's id, or NULL */
  const char *kind;           /* an error's kind (as weft_error_info's), or NULL */
} weft_log_record;
typedef void (*weft_log_cb)(const weft_log_record *record, void *user);
/* Sends the records up to `level` to `cb` (everything on the record is
 * borrowed for the call). WEFT_LOG_OFF (or a NULL cb) turns it off.
 * `free_user` runs when replaced or when the loop is freed. Errors:
 * WEFT_EINVAL (NULL loop, a level out of range, a level without cb). */
WEFT_EXTERN int weft_loop_set_log(weft_loop *loop, int level, weft_log_cb cb, void *user,
                                  void (*free_user)(void *user));

/* Runs `fn(user)` on the loop's thread soon. The only thread-safe call.
 * Errors: WEFT_EINVAL, WEFT_ENOMEM, WEFT_ECLOSED (the loop is closing). */
WEFT_EXTERN int weft_loop_post(weft_loop *loop, void (*fn)(void *user), void *user);

/* Frees the loop. Every server and client on it must have been closed and
 * their close callbacks run. A loop of its own is closed with uv_loop_close();
 * a borrowed one is left to its host. Errors: WEFT_ESTATE (handles alive;
 * nothing is freed). */
WEFT_EXTERN int weft_loop_close(weft_loop *loop);

/* ------------------------------------------------------------------------ */
/* Server and sparks                                                        */
/* ------------------------------------------------------------------------ */

typedef struct weft_server weft_server;
typedef struct weft_spark weft_spark;
typedef struct weft_auth weft_auth;
struct weft_client;

/*
 * Handle lifetimes. A server or client is created with one reference, its
 * creator's, which weft_server_destroy() / weft_client_destroy() give up
 * once the close or destroy event has run; a spark belongs to its server
 * and is gone after its disconnection event. Anyone else who keeps a
 * handle (a host's wrapper object) takes a reference with *_retain() and
 * gives it back with *_release(): the handle's memory then stays until the
 * last release, and every call on a handle that has closed in the
 * meantime returns WEFT_ECLOSED (NULL or 0 for getters; a spark's id stays
 * readable) instead of touching freed memory. Without retains, the C rules
 * are as before: don't use a handle after its last event.
 *
 * Errors: WEFT_EINVAL (NULL; a release without a retain — the creator's
 * reference is not released here), WEFT_ECLOSED (retaining a handle that
 * is already gone), WEFT_ERANGE (too many retains). A release may free the
 * handle: don't use it afterwards. Safe from inside the handle's events,
 * including its last one.
 */
WEFT_EXTERN int weft_server_retain(weft_server *server);
WEFT_EXTERN int weft_server_release(weft_server *server);
WEFT_EXTERN int weft_spark_retain(weft_spark *spark);
WEFT_EXTERN int weft_spark_release(weft_spark *spark);
WEFT_EXTERN int weft_client_retain(struct weft_client *client);
WEFT_EXTERN int weft_client_release(struct weft_client *client);

/* What went wrong, for error events. `kind` names the class of error as
 * Primacron's namespaced events do ("json", "msgpack", "invalid", "toobig",
 * "utf8", "protocol", "timeout", "transform", "encode", "listen", "io", "validation": a
 * malformed emitter event, weft/ext.h);
 * `code` is a WEFT_E* code; `message` is human-readable. */
typedef struct weft_error_info {
  int code;
  const char *kind;
  const char *message;
  /* Clients: the HTTP status and body of a refused upgrade (kind "http"),
   * else 0 and NULL. */
  int status;
  const char *body;
} weft_error_info;

/*
 * Server events. Any member may be NULL. Sparks passed here are valid from
 * `connection` until `disconnection` returns; `disconnection` is called once
 * for every spark that had `connection`.
 */
typedef struct weft_server_events {
  size_t size; /* sizeof(weft_server_events): lets members be added */
  void (*connection)(weft_spark *spark, void *user);
  void (*disconnection)(weft_spark *spark, void *user);
  /* A message after incoming transforms; `msg` is borrowed. */
  void (*data)(weft_spark *spark, const weft_value *msg, void *user);
  /* The spark's queue fell below the high-water mark after a write said 1. */
  void (*drain)(weft_spark *spark, void *user);
  /* `spark` is NULL for server-level errors. The spark stays usable unless a
   * disconnection follows. */
  void (*error)(weft_server *server, weft_spark *spark, const weft_error_info *err, void *user);
  /* The server is fully closed; its memory is freed when this returns. */
  void (*close)(weft_server *server, void *user);
} weft_server_events;

/* A server on `loop`. Options are set with the setters below before
 * weft_server_listen(). Errors: WEFT_EINVAL, WEFT_ENOMEM. */
WEFT_EXTERN int weft_server_new(weft_loop *loop, weft_server **out);

/* Connection-state recovery (decision #23; off by default). With a window,
 * a client that asks (weft_client_set_recovery) gets a session: when its
 * connection goes, its spark id, its rooms (with the rooms extension) and
 * what the server sends to everyone, to its rooms or to its id
 * (weft_server_write/_raw, weft_server_send/_send_event, weft_rooms_write,
 * weft_server_deliver; as encoded for other nodes, without outgoing
 * transforms) are kept for `window_ms`; a client coming back within it
 * with the session's token gets the same id and rooms and the messages it
 * had not received, in order, before new ones and before the connection
 * event (weft_spark_recovered() says so). At most `max_messages` are kept
 * per session (1 to 65536): the last ones while connected (those lost in
 * flight), and every one while detached — a session that would need more
 * is dropped, as is the session of a spark ended by weft_spark_end()
 * without WEFT_END_RECONNECT/WEFT_END_ERROR. Past the window, with a wrong token, an unknown id or
 * a count the server cannot serve: a fresh spark, recovered 0. Messages written to a spark object
 * (weft_spark_write, weft_server_write_to) while it is detached cannot reach it. In a cluster
 * (weft_redis_attach, decision #24) the client may come back at any node with recovery on: the
 * node that had the session keeps it in Redis for the window, the other node claims it (one
 * claimer wins) and waits up to 2 s for the owner's answer (the connection is held meanwhile;
 * no answer: a fresh spark). Errors:
 * WEFT_EINVAL (NULL, max_messages 0 with a window or above 65536), WEFT_ESTATE (after listen),
 * WEFT_ECLOSED. */
WEFT_EXTERN int weft_server_set_recovery(weft_server *server, uint32_t window_ms,
                                         uint32_t max_messages);

/* Registers the event callbacks (copied) and user data. `free_user`, when not
 * NULL, is called with `user` after the close event, or when another set of
 * events replaces this one. Errors: WEFT_EINVAL (size too small). */
WEFT_EXTERN int weft_server_set_events(weft_server *server, const weft_server_events *events,
                                       void *user, void (*free_user)(void *user));

/* Options; each returns WEFT_ESTATE once listening unless noted.
 *  transformer: "websockets" (default), "engine.io", "vibe" (the Vibe
 *    protocol of vibe-protocol 3.0.0-Alpha9 at the path: ws, httpstream
 *    and httplongpoll; events map to the emitter's, replies to its acks;
 *    JSON only: weft_server_listen() is WEFT_EINVAL with another parser;
 *    its own heartbeat, see session_heartbeat), or several side by side
 *    as a comma-separated list ("websockets,engine.io"): every URL then
 *    serves each (one port; a request with an EIO query is engine.io's),
 *    broadcasts reach every spark, and the spec names the first.
 *    WEFT_EUNSUPPORTED for a name this build does not have, or none
 *    (weft_transformer_at() lists the ones it has); WEFT_EINVAL for an
 *    empty name in a list, a name twice, or framings that cannot share a
 *    port.
 *  parser: "json" (default), "msgpack" or "raw" — WEFT_EINVAL for another.
 *    On tcp://, tcps:// and ipc:// it is fast-tcp's object serializer:
 *    object data is msgpack with "msgpack", JSON otherwise; the peer's
 *    must match (decision #26).
 *  ping_interval: ms between primus::ping heartbeats, 30000; 0 turns it off.
 *    A spark that has not answered the previous ping is dropped.
 *  max_length: largest message in bytes, 10 MiB (close 1009 beyond); at
 *    most 4 GiB - 1 over WebSocket (a larger limit is taken as that).
 *  compression: 1 negotiates permessage-deflate with clients that offer it.
 *  high_water_mark: queued bytes above which writes return 1, 1 MiB.
 *    (May be changed while listening.)
 *  max_queue: the memory a spark's outbound queue may hold, 64 MiB: each
 *    queued message counts its allocation and its slot, not only its bytes
 *    (many tiny messages cost what they really pin). A write that would
 *    pass it is refused with WEFT_ENOBUFS and the queue policy applies.
 *    (May be changed while listening.)
 *  queue_policy: what a full queue does to its spark: WEFT_QUEUE_CLOSE (the
 *    default) closes it with 1008 "outbound queue full"; WEFT_QUEUE_DROP
 *    drops that message and keeps the spark. Either way an error event of
 *    kind "queue" says so, once per refused write. (May be changed while
 *    listening.)
 *  origin: adds an allowed Origin for upgrades and CORS ("*" allows any,
 *    the default when none is added); other origins get 403.
 *  trusted_proxy: adds an IP address whose X-Forwarded-For is believed when it
 *    is the peer (spark address then comes from the header). */
WEFT_EXTERN int weft_server_set_transformer(weft_server *server, const char *transformer);
WEFT_EXTERN int weft_server_set_parser(weft_server *server, const char *parser);
WEFT_EXTERN int weft_server_set_ping_interval(weft_server *server, uint32_t ms);
WEFT_EXTERN int weft_server_set_max_length(weft_server *server, size_t bytes);
WEFT_EXTERN int weft_server_set_compression(weft_server *server, int on);
WEFT_EXTERN int weft_server_set_high_water_mark(weft_server *server, size_t bytes);
WEFT_EXTERN int weft_server_set_max_queue(weft_server *server, size_t bytes);
enum { WEFT_QUEUE_CLOSE = 0, WEFT_QUEUE_DROP = 1 };
WEFT_EXTERN int weft_server_set_queue_policy(weft_server *server, int policy);
WEFT_EXTERN int weft_server_add_origin(weft_server *server, const char *origin);
WEFT_EXTERN int weft_server_add_trusted_proxy(weft_server *server, const char *ip);
/* What a spark keeps of the HTTP request that opened it once its
 * `connection` event (and every plugin's) has run. Before then every
 * accessor sees the whole request; after it weft_spark_header*() see only
 * the kept headers, and weft_spark_url() returns NULL when the URL is not
 * kept. The address, port, query and id are always kept. A browser's
 * request head is 350-650 bytes a connection (cookies, user agent), most
 * of an idle connection's memory: an application that copies what it needs
 * in its connection handler may drop it (decision #39).
 *  kept_headers: the names (case-insensitive; copied) of the headers kept,
 *    n of them: n == 0 keeps none; names NULL, or a name "*", keeps every
 *    header (the default, as Primus's spark.headers).
 *  keep_url: 0 drops the request line (method and URL); 1, the default,
 *    keeps it.
 * Both before weft_server_listen(). Errors: WEFT_EINVAL (NULL server, a
 * NULL or empty name, or one with a character an HTTP header name cannot
 * hold), WEFT_ENOMEM, WEFT_ESTATE (listening), WEFT_ECLOSED. */
WEFT_EXTERN int weft_server_set_kept_headers(weft_server *server, const char *const *names,
                                             size_t n);
WEFT_EXTERN int weft_server_set_keep_url(weft_server *server, int on);
/* TLS for "wss://" and "tcps://" URLs: PEM certificate (chain) and key files,
 * loaded by weft_server_listen() (WEFT_EINVAL when unreadable or
 * mismatched; an error event of kind "tls" says which). Copied. */
WEFT_EXTERN int weft_server_set_tls(weft_server *server, const char *cert_file,
                                    const char *key_file);
/* A pre-shared key for tcp:// and ipc:// (fast-tcp's wire): every
 * connection must prove it (HMAC-SHA256 challenge-response, weft's own
 * wire, docs/fasttcp.md) before any message is read; a peer that does not
 * is told "authentication failed" and closed, and the application never
 * hears of it. `key` (1..256 bytes; len 0 turns it off) is copied, and
 * wiped when the server is freed. Errors: WEFT_EINVAL (NULL key with len,
 * len > 256), WEFT_ESTATE (listening already), WEFT_ECLOSED. */
WEFT_EXTERN int weft_server_set_psk(weft_server *server, const void *key, size_t len);
/* Requires the pre-shared key on ws:// and wss:// listeners too (on: 1;
 * off by default, so browsers keep connecting there). The handshake is
 * tcp://'s, as binary WebSocket messages after the 101 (whose head says
 * "Weft-Psk: 1"; decision #26): the application hears of the connection
 * (its connection event) only after the client proved the key; Primus's
 * authorize runs before it, on the upgrade request. A wrong or missing
 * key is told "authentication failed" and closed with 1008. Only the
 * websockets transformer has it: weft_server_listen() on an HTTP URL is
 * WEFT_EUNSUPPORTED with a key, this on, and engine.io or Vibe among the
 * transformers. Without a key it does nothing. Errors: WEFT_EINVAL
 * (NULL), WEFT_ESTATE (listening already), WEFT_ECLOSED. */
WEFT_EXTERN int weft_server_set_psk_ws(weft_server *server, int on);

/* A parser the application provides (Primus's custom parser objects,
 * `{ encoder, decoder }`): the core calls it for every message it writes or
 * reads on this server's sparks (or this client), its own control messages
 * (primus::ping::, primus::server::close) included, once per broadcast.
 *  name: what the spec and the handshake say (copied); not a built-in name.
 *  binary: 1 if it writes binary frames by default (encode may say otherwise
 *    per message).
 *  encode(v, &data, &len, &binary, user): sets *data to a malloc'd buffer
 *    the core takes (freed with free()) and *len; *binary starts as the
 *    default and may be changed (0: a text frame, which must be UTF-8).
 *    Returns 0 or a WEFT_E* code (the write fails with it; WEFT_EUTF8 when
 *    a text frame is not UTF-8).
 *  decode(data, len, binary, &out, user): sets *out to an owned value (the
 *    core frees it). Returns 0 or a WEFT_E* code: an error event of kind
 *    `name` and the message is dropped, as for the built-in parsers.
 *  free_user: called with user when the parser is replaced or its server
 *    (client) is freed; may be NULL.
 * No batching with such a parser (batching is then ignored). Errors:
 * WEFT_EINVAL (NULL, no callbacks, an empty or a built-in name),
 * WEFT_ESTATE (listening already), WEFT_ECLOSED, WEFT_ENOMEM; on an error
 * free_user is not called. Not for the "vibe" transformer (JSON only). */
typedef struct weft_parser_def {
  const char *name;
  int binary;
  int (*encode)(const weft_value *v, uint8_t **data, size_t *len, int *binary, void *user);
  int (*decode)(const void *data, size_t len, int binary, weft_value **out, void *user);
  void (*free_user)(void *user);
} weft_parser_def;
WEFT_EXTERN int weft_server_set_parser_def(weft_server *server, const weft_parser_def *def,
                                           void *user);

/* Spark ids: by default 21 URL-safe random characters. A generator writes a
 * NUL-terminated id of at most `cap`-1 bytes into `buf` and returns 0, or
 * returns non-zero to fall back to the default. */
typedef int (*weft_id_generator)(char *buf, size_t cap, void *user);
WEFT_EXTERN int weft_server_set_id_generator(weft_server *server, weft_id_generator gen, void *user,
                                             void (*free_user)(void *));

/*
 * Authorization. The hook runs for every upgrade request before a spark
 * exists; it must eventually call weft_auth_allow() or weft_auth_deny()
 * exactly once, now or later from any callback on the loop. The weft_auth
 * stays valid until then, even if the peer went away meanwhile (the answer
 * then returns WEFT_ECLOSED). A denial answers with `status` (401 when 0) and
 * the JSON body {"error": message}, as Primus does.
 */
typedef void (*weft_authorize_cb)(weft_auth *req, void *user);
WEFT_EXTERN int weft_server_set_authorize(weft_server *server, weft_authorize_cb cb, void *user,
                                          void (*free_user)(void *));
/* Request details: header by case-insensitive name (NULL when absent), the
 * client's address, the request target ("/primus?x=1"), a query parameter. */
WEFT_EXTERN const char *weft_auth_header(const weft_auth *req, const char *name);
WEFT_EXTERN const char *weft_auth_address(const weft_auth *req);
WEFT_EXTERN const char *weft_auth_url(const weft_auth *req);
WEFT_EXTERN const char *weft_auth_query(const weft_auth *req, const char *key);
/* The client's port, as weft_spark_port(): the peer's (or X-Forwarded-Port's
 * from a trusted proxy); WEFT_EINVAL (NULL) or WEFT_ECLOSED (the peer went). */
WEFT_EXTERN int weft_auth_port(const weft_auth *req);
/* Answers and releases `req`; do not use it afterwards. Both return 0, or
 * WEFT_ECLOSED when the connection is already gone (req is released too). */
WEFT_EXTERN int weft_auth_allow(weft_auth *req);
WEFT_EXTERN int weft_auth_deny(weft_auth *req, int status, const char *message);

/* Starts listening on a URL the transformer serves; may be called again to
 * listen on more (each URL with its own pathname; options are fixed from
 * the first). For "websockets":
 *  - "ws://host:port/path" (also http://), TCP; port 0 picks a free port;
 *  - "wss://host:port/path" (also https://), TLS after weft_server_set_tls();
 *  - "ws+unix:///path/to.sock:/path" (and wss+unix), a Unix-domain socket,
 *    the form of the npm `ws` package: the socket's path, ':', the request
 *    path. The socket file is made with 0777 & ~umask unless
 *    weft_server_set_unix_mode() says otherwise, and removed when the
 *    server closes; a file left by a server that is gone (nobody accepts
 *    on it) is replaced, while a path where a server accepts, or that is
 *    not a socket, is WEFT_EADDRINUSE.
 * The path is the pathname: "/primus" when the URL names none ("ws://h:1"),
 * and as given otherwise, "/" included ("ws://h:1/" serves every path).
 * Upgrades to any path starting with the pathname are accepted; GET
 * <path>/spec answers the server's spec as JSON; other HTTP under the path
 * gets 426. Errors: WEFT_EURL (malformed, a scheme the transformer does not
 * serve, a socket path over 107 bytes), WEFT_EADDRINUSE, WEFT_EADDRNOTAVAIL,
 * WEFT_EINVAL (wss without TLS files), WEFT_ESTATE (closing), WEFT_EIO. */
WEFT_EXTERN int weft_server_listen(weft_server *server, const char *url);
/* Attaches to another HTTP server instead of listening: `url` is as for
 * weft_server_listen (its scheme and path say what is served; the host and
 * port, or the socket path, only name what weft_server_url answers), and no
 * socket is bound. Connections come in through weft_server_adopt: the
 * application's server hands over those for the pathname (Node's http
 * server: its `upgrade` and `request` events). May be mixed with
 * weft_server_listen. Errors: those of weft_server_listen except the
 * address ones, and WEFT_EUNSUPPORTED for wss:// (the other server
 * terminates TLS; its bytes cannot be handed over). */
WEFT_EXTERN int weft_server_attach(weft_server *server, const char *url);
/* Serves `fd`, a connected stream socket (TCP or Unix) that another server
 * accepted, as if the first listener had accepted it. `head`, `len`: the
 * bytes already read from it (the request head another HTTP parser
 * consumed, re-serialized, then whatever it read past it), copied and
 * parsed before anything read from fd, on the next turn of the loop; NULL,
 * 0 for none. flags: WEFT_ADOPT_ONCE serves one request and closes
 * ("Connection: close") unless it upgrades — for connections whose later
 * requests belong to the other server. On success the fd is the server's
 * (it closes it); on error it is closed too, except for WEFT_EINVAL (bad
 * arguments, or fd is not a socket), WEFT_ESTATE (neither listening nor
 * attached, or closing) and WEFT_ECLOSED, where the caller keeps it.
 * Cost: the fd is served by the core from here on; nothing of its traffic
 * passes through the caller. */
enum { WEFT_ADOPT_ONCE = 1 };
WEFT_EXTERN int weft_server_adopt(weft_server *server, int fd, const void *head, size_t len,
                                  unsigned flags);
/* The first listener's bound port (0 for a Unix socket), or a negative
 * error when not listening. */
WEFT_EXTERN int weft_server_port(const weft_server *server);
/* The first listener's pathname ("/primus"; "/primus" before listening). */
WEFT_EXTERN const char *weft_server_pathname(const weft_server *server);
/* The URL the i-th listener serves, its port resolved
 * ("ws://127.0.0.1:41234/primus", "ws+unix:///run/app.sock:/primus"), or
 * NULL past the last or when not listening. Valid while the server lives. */
WEFT_EXTERN const char *weft_server_url(const weft_server *server, size_t i);
/* Connection limits, for every listener of the server together; they may
 * be changed while listening. A connection over one is answered at once —
 * before its request is read — and closed (over TLS it is only closed).
 *  max_connections: connections at once; beyond it, 503. 0 (the default)
 *    means just below the process's open-file limit as it is when the
 *    server listens (the soft RLIMIT_NOFILE less 64), so a server that
 *    runs out answers instead of failing to accept.
 *  max_connections_per_ip: connections at once from one peer address
 *    (before any X-Forwarded-For); beyond it, 429. 0 (the default): none.
 *    Peers on a Unix socket have no address and are not counted.
 *  max_handshakes: connections still in their HTTP handshake (reading the
 *    request, being authorized) at once; beyond it, 503. 0 (the default):
 *    none.
 * Errors: WEFT_EINVAL (NULL server). */
WEFT_EXTERN int weft_server_set_max_connections(weft_server *server, size_t n);
WEFT_EXTERN int weft_server_set_max_connections_per_ip(weft_server *server, size_t n);
WEFT_EXTERN int weft_server_set_max_handshakes(weft_server *server, size_t n);

/* The permissions (chmod) of the socket files of "…+unix" listeners, e.g.
 * 0660; 0 (the default) keeps what bind() made. Errors: WEFT_EINVAL (over
 * 07777), WEFT_ESTATE (listening). */
WEFT_EXTERN int weft_server_set_unix_mode(weft_server *server, unsigned mode);
/* The loop the server runs on (never NULL for a valid server). */
WEFT_EXTERN weft_loop *weft_server_loop(const weft_server *server);

/* Batching, off by default: the messages weft_spark_write() queues on one
 * spark in one loop turn leave as one frame, {"weft::batch": [m1, m2, …]},
 * built from their encoded bytes (replies written while handling that
 * spark's own data leave when the read that brought it is handled, so a
 * turn may send one batch per read). weft servers and clients unpack it before
 * control strings, transforms and events, so the receiver sees the messages
 * one by one, in order. For weft peers only: a Primus client would see the
 * envelope. A batch holds at most `max_bytes` (a larger message leaves on
 * its own); 0 turns batching off. Broadcasts, raw writes and control
 * messages are never batched; they leave after what was batched before
 * them. Errors: WEFT_EINVAL, WEFT_ESTATE (listening), WEFT_EUNSUPPORTED
 * (the raw parser has no envelope). */
WEFT_EXTERN int weft_server_set_batching(weft_server *server, size_t max_bytes);

/* engine.io sessions (transformer "engine.io"):
 *  session_heartbeat: the framing's own heartbeat, engine.io's
 *    pingInterval and pingTimeout (25000 and 20000 ms): the server sends a
 *    ping packet every `interval_ms`; a session whose pong has not come
 *    `timeout_ms` later is closed (error kind "timeout"), and so is one
 *    abandoned (its polls stopped). Primus's primus::ping heartbeat
 *    (ping_interval) runs inside the messages as well. For "vibe" it is
 *    the heartbeat the server hands each socket in its handshake
 *    (heartbeat = interval_ms, 20000 by default; _heartbeat = timeout_ms,
 *    5000): the client sends a heartbeat event every interval less
 *    timeout, each echoed; a socket that sent none for interval_ms is
 *    closed (error kind "timeout"); no primus::ping is sent to Vibe
 *    sockets. May be called while listening: Vibe sockets opened
 *    afterwards take the new values, engine.io sessions keep the ones they
 *    listened with. Errors: WEFT_EINVAL (0, or over 2^31 - 1),
 *    WEFT_ESTATE (closing).
 *  session_cookie: the name of a cookie set on the handshake answer of a
 *    polling session, holding its sid (engine.io's `cookie` option, e.g.
 *    "io"), so a load balancer can send a session's requests to the same
 *    process (sticky sessions, docs/protocol.md); NULL or "" (the
 *    default): none. Errors: WEFT_EINVAL (not an RFC 6265 token, 64 bytes
 *    or more), WEFT_ESTATE (listening). */
WEFT_EXTERN int weft_server_set_session_heartbeat(weft_server *server, uint32_t interval_ms,
                                                  uint32_t timeout_ms);
WEFT_EXTERN int weft_server_set_session_cookie(weft_server *server, const char *name);
/* Vibe's heartbeat (transformer "vibe"), as the reference server's
 * `heartbeat` and `_heartbeat` options: the handshake tells each client to
 * send a heartbeat event every heartbeat_ms - wait_ms ms and to wait
 * wait_ms for its echo; a socket that sent none for heartbeat_ms is closed
 * (error kind "timeout"). Vibe's client takes these from the handshake
 * (decision #32). Until this is called a Vibe socket takes
 * weft_server_set_session_heartbeat()'s pair when that was called, else
 * 20000 and 5000. May be called while listening: sockets opened afterwards
 * take the new values. Errors: WEFT_EINVAL (NULL, wait_ms 0 or not below
 * heartbeat_ms, heartbeat_ms over 2^31 - 1), WEFT_ESTATE (closing). */
WEFT_EXTERN int weft_server_set_vibe_heartbeat(weft_server *server, uint32_t heartbeat_ms,
                                               uint32_t wait_ms);

/* Broadcast: encodes once and queues the same frame on every open spark.
 * Returns the number of sparks it was queued on (sparks whose queue is full
 * are skipped and get an error event), or a negative error. With outgoing
 * transforms registered, each spark's transforms run first. */
WEFT_EXTERN int weft_server_write(weft_server *server, const weft_value *msg);
/* Broadcast of pre-encoded bytes (no transforms); `binary` picks the frame
 * type (text frames must be valid UTF-8: WEFT_EUTF8). */
WEFT_EXTERN int weft_server_write_raw(weft_server *server, const void *data, size_t len,
                                      int binary);
/* Multicast: the same as weft_server_write, to the `n` sparks of `sparks`
 * only (rooms, "everyone but the sender"). Encodes once. Entries are NULL or
 * sparks still valid (before their disconnection event returned); NULL
 * entries, sparks that are closing and sparks of another server are skipped;
 * a spark listed twice gets the message twice.
 * Returns the number of sparks it was queued on, or WEFT_EINVAL,
 * WEFT_ESTATE (not listening) or an encoding error. */
WEFT_EXTERN int weft_server_write_to(weft_server *server, const weft_value *msg,
                                     weft_spark *const *sparks, size_t n);

/* Calls fn for every open spark; stops early when fn returns non-zero and
 * returns that value. Sparks may be written to or ended inside fn. */
WEFT_EXTERN int weft_server_foreach(weft_server *server, int (*fn)(weft_spark *spark, void *user),
                                    void *user);
/* Number of open sparks. */
WEFT_EXTERN size_t weft_server_spark_count(const weft_server *server);
/* The open spark with this id, or NULL. */
WEFT_EXTERN weft_spark *weft_server_spark(weft_server *server, const char *id);

/* Metrics: counters and gauges the server keeps as it works (a few
 * additions per message; always on). Counters only grow for the life of
 * the server. Messages are the application's (Primus's pings, pongs and
 * ids are not counted); bytes are encoded payloads (each delivery of a
 * broadcast counts). Set `size` to sizeof(weft_metrics) before the
 * call; fields a library of an older layout lacks are left as they were
 * and `size` is set to what was filled. */
typedef struct weft_metrics {
  size_t size;
  uint64_t connections_open;  /* gauge: open sparks */
  uint64_t connections_total; /* sparks opened */
  uint64_t handshakes_total;  /* upgrade requests that reached authorization */
  uint64_t refused_total;     /* HTTP answers of status 400 and above */
  uint64_t messages_in_total, messages_out_total;
  uint64_t bytes_in_total, bytes_out_total;
  uint64_t queue_bytes;         /* gauge: written to sparks, not yet on the wire */
  uint64_t queue_refused_total; /* writes that found a full queue */
  uint64_t heartbeat_timeouts_total;
  uint64_t errors_total; /* error events, whatever their kind */
  /* HTTP requests of polling sessions (engine.io's handshakes, polls and
   * posts; not its WebSocket upgrades) */
  uint64_t polling_requests_total;
} weft_metrics;
/* Fills `out`. Errors: WEFT_EINVAL (NULL, or size too small). */
WEFT_EXTERN int weft_server_metrics(const weft_server *server, weft_metrics *out);
/* The i-th counter of `m` (0, 1, … in the struct's order): returns its
 * name, the field's ("connections_open", …), and stores its value in
 * *value when value is not NULL; NULL past the last counter, for a NULL
 * `m`, or past what m->size covers. The names are static. Hosts build
 * their metrics objects from this instead of a list of their own. */
WEFT_EXTERN const char *weft_metrics_at(const weft_metrics *m, size_t i, uint64_t *value);
/* The metrics in Prometheus's text exposition format (version 0.0.4),
 * with per-transport, per-status and per-error-kind series, into `buf` of
 * `cap` bytes (NUL-terminated when it fits). Returns the length of the
 * whole text (call with cap 0 to size the buffer) or WEFT_EINVAL. */
WEFT_EXTERN long weft_server_metrics_text(const weft_server *server, char *buf, size_t cap);
/* Serves that text on GET/HEAD of `path` (exact, e.g. "/metrics") on every
 * listener of the server, ahead of the static folder; NULL turns it off.
 * Off by default: metrics say how busy a server is, expose them on
 * purpose. Errors: WEFT_EINVAL (not starting with '/', or holding '?',
 * '#', a space or a line break), WEFT_ENOMEM. */
WEFT_EXTERN int weft_server_set_metrics_path(weft_server *server, const char *path);

/* Destroy: stop listening, end every spark (with primus::server::close, or
 * without it when `reconnect` is set so clients come back), wait at most
 * `timeout_ms` for their closing handshakes, then emit `close` and free the
 * server. Safe from inside callbacks. Errors: WEFT_EINVAL, WEFT_ECLOSED
 * (already closing). */
typedef struct weft_destroy_options {
  size_t size;         /* sizeof(weft_destroy_options) */
  int reconnect;       /* 1: don't send primus::server::close */
  uint32_t timeout_ms; /* longest wait for sparks to close; 0 = 1000 */
} weft_destroy_options;
WEFT_EXTERN int weft_server_destroy(weft_server *server, const weft_destroy_options *opts);

/* --- Sparks ---------------------------------------------------------------- */

WEFT_EXTERN weft_server *weft_spark_server(const weft_spark *spark);
/* The spark id (NUL-terminated). */
WEFT_EXTERN const char *weft_spark_id(const weft_spark *spark);
/* 1 when this spark resumed a session (connection-state recovery, decision
 * #23: its id, rooms and missed messages are the previous connection's),
 * 0 otherwise. Errors: WEFT_EINVAL (NULL). */
WEFT_EXTERN int weft_spark_recovered(const weft_spark *spark);
/* Request header by case-insensitive name, NULL when absent.
 * Lifetime of the strings the header and URL accessors return: until the
 * spark's `connection` event (and every plugin's) has returned when taken
 * before its end (an authorizer's, a connection handler's: copy what you
 * keep), as long as the spark afterwards. After that event the request is
 * trimmed (weft_server_set_kept_headers) and its head may be shared with
 * other sparks' that sent the same head but for their Sec-WebSocket-Key
 * (decision #41): the first header or URL call after it gives the spark
 * its own copy back, and returns NULL (count 0, WEFT_ENOMEM for _at) when
 * that copy cannot be allocated. */
WEFT_EXTERN const char *weft_spark_header(const weft_spark *spark, const char *name);
/* Number of request headers and the i-th (name, value); EINVAL out of range. */
WEFT_EXTERN size_t weft_spark_header_count(const weft_spark *spark);
WEFT_EXTERN int weft_spark_header_at(const weft_spark *spark, size_t i, const char **name,
                                     const char **value);
/* Remote address (after trusted X-Forwarded-For) and port. */
WEFT_EXTERN const char *weft_spark_address(const weft_spark *spark);
WEFT_EXTERN int weft_spark_port(const weft_spark *spark);
/* The request target ("/primus?x=1") and a decoded query parameter (NULL
 * when absent; the last one wins when repeated). */
WEFT_EXTERN const char *weft_spark_url(const weft_spark *spark);
WEFT_EXTERN const char *weft_spark_query(const weft_spark *spark, const char *key);
WEFT_EXTERN size_t weft_spark_query_count(const weft_spark *spark);
WEFT_EXTERN int weft_spark_query_at(const weft_spark *spark, size_t i, const char **key,
                                    const char **value);

/* Application data. `free_user` (may be NULL) runs after the disconnection
 * event, or when replaced. */
WEFT_EXTERN int weft_spark_set_user(weft_spark *spark, void *user, void (*free_user)(void *));
WEFT_EXTERN void *weft_spark_get_user(const weft_spark *spark);

/* Writes a message (outgoing transforms, then the parser). Never blocks.
 * Returns 0 when the queue is below the high-water mark, 1 when at or above
 * it (the message is queued; a drain event follows), or an error:
 * WEFT_ECLOSED, WEFT_ENOBUFS (queue at max_queue; nothing queued; the queue
 * policy has closed the spark or dropped the message, and said so in an
 * error event), WEFT_EDEPTH/WEFT_ETYPE (cannot encode), WEFT_ENOMEM. */
WEFT_EXTERN int weft_spark_write(weft_spark *spark, const weft_value *msg);
/* Pre-encoded bytes as one frame, bypassing transforms; returns as above,
 * plus WEFT_EUTF8 for a text frame that is not UTF-8. */
WEFT_EXTERN int weft_spark_write_raw(weft_spark *spark, const void *data, size_t len, int binary);
/* Bytes queued and not yet handed to the kernel. */
WEFT_EXTERN size_t weft_spark_buffered_amount(const weft_spark *spark);

/* Ends the spark: writes `msg` when not NULL, then primus::server::close
 * unless WEFT_END_RECONNECT is given, then closes the WebSocket (1000).
 * WEFT_END_ERROR says the server failed on this spark (a host's handler
 * raised): no primus::server::close (the client reconnects), and the close
 * code is 1011 "internal error". Queued data is flushed first. The
 * disconnection event follows. Errors: WEFT_EINVAL (NULL, unknown flags),
 * WEFT_ECLOSED. */
#define WEFT_END_RECONNECT 1
#define WEFT_END_ERROR 2
WEFT_EXTERN int weft_spark_end(weft_spark *spark, const weft_value *msg, int flags);

/* Flow control of what the spark sends: weft_spark_pause() stops reading
 * its connection, so no data event follows (but for the rest of a batch
 * frame being delivered) until weft_spark_resume(). What the peer sends
 * meanwhile waits in the kernel's buffers, whose fullness slows the peer
 * down (TCP flow control): an application that consumes slower than the
 * peer writes bounds its own queue this way instead of growing it.
 * Writes, ends and closes go on while paused; the heartbeat does not time
 * out a paused spark (its answers wait behind its messages) and starts a
 * fresh period when it resumes. Pausing a paused spark, or resuming one
 * that reads, changes nothing. Reading resumes from the next loop turn
 * (what was read already comes first), never inside the call. On
 * engine.io, a spark that polls leaves the peer's next post unanswered
 * (the peer keeps its messages meanwhile: one post, at most max_length,
 * waits here) and one upgraded pauses its WebSocket.
 * Errors: WEFT_EINVAL (NULL), WEFT_ECLOSED (not open). */
WEFT_EXTERN int weft_spark_pause(weft_spark *spark);
WEFT_EXTERN int weft_spark_resume(weft_spark *spark);

/* --- Static content ---------------------------------------------------------- */

/*
 * Plain HTTP GET/HEAD answered next to the real-time endpoint, so one process
 * serves a page, its scripts and the WebSocket (Primus serves its client at
 * <path>/primus.js the same way). Both may be called before or while
 * listening. Other methods on these paths get 405; answers carry
 * Content-Type, Content-Length and Cache-Control: no-store.
 *
 * weft_server_add_asset(): serves `len` bytes of `data` (copied) at the
 * exact request path `path` ("/primus/weft.js"; the query is ignored) with
 * `content_type`. Assets are looked up first, also under the pathname.
 * Errors: WEFT_EINVAL (NULL, a path that does not start with '/', has a ".",
 * ".." or hidden segment, a '?', '#', '\' or control character, is over 1024
 * bytes; a content type with control characters), WEFT_EEXIST (the path is
 * taken), WEFT_ECLOSED (the server is closing), WEFT_ENOMEM.
 *
 * weft_server_set_asset(): the same, but a path already served (the
 * application's, or the browser client's under the pathname) gets these
 * bytes and content type instead (answers under way keep their copy); no
 * WEFT_EEXIST. Hosts serve Primus's library() at <pathname>/primus.js so.
 *
 * weft_server_set_static_dir(): serves the files of the folder `dir` (its
 * real path is resolved now and copied; a second call replaces it) at every
 * path outside the pathname: "/" and paths ending in '/' serve that folder's
 * index.html; the path is percent-decoded once; no listings, symbolic links
 * are not followed, and a "." / ".." / hidden segment, a malformed or %00
 * escape (400) or a path over 1024 bytes (414) is refused; a missing file or
 * a folder is 404; files over 16 MiB are 500. Files are read on the loop's
 * thread when requested: this is for pages and scripts, not for large
 * downloads. Assets and files are answered with HTTP/1.1 keep-alive (the
 * connection stays for the next request); a refusal closes it.
 * Errors: WEFT_EINVAL (NULL, "", not a folder), WEFT_ENOENT (no such
 * path), WEFT_ECLOSED, WEFT_ENOMEM.
 */
/* The browser client: weft's (global Weft) at <pathname>/weft.js and the
 * Primus-compatible one (global Primus) at <pathname>/primus.js, with its
 * optional channels module (Weft.channels) at <pathname>/weft-channels.js, served
 * from the library itself under every pathname the server listens on,
 * unless turned off here (before listening) or the application registered
 * those paths itself first. On by default. Errors: WEFT_EINVAL,
 * WEFT_ESTATE (listening), WEFT_ECLOSED. */
WEFT_EXTERN int weft_server_set_client_library(weft_server *server, int on);
/* The browser client's source: "primus.js" (global Primus) or "weft.js"
 * (global Weft), *len bytes (when len is not NULL), static (never freed);
 * NULL for another name or NULL. What a server serves under its pathname,
 * and what hosts build Primus's library() from. */
WEFT_EXTERN const char *weft_client_library(const char *name, size_t *len);

WEFT_EXTERN int weft_server_set_asset(weft_server *server, const char *path,
                                      const char *content_type, const void *data, size_t len);
WEFT_EXTERN int weft_server_add_asset(weft_server *server, const char *path,
                                      const char *content_type, const void *data, size_t len);
WEFT_EXTERN int weft_server_set_static_dir(weft_server *server, const char *dir);

/* ------------------------------------------------------------------------ */
/* Client                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * The connecting side, as Primus's client: it reconnects by itself with
 * randomized exponential backoff, answers heartbeats, queues writes while
 * offline, and speaks the same wire protocol as the server (so it works
 * against a weft server and against a Primus server).
 *
 * Events follow Primus's names and order:
 *   open                 the connection is up (queued writes already sent);
 *   data                 a message (borrowed for the callback);
 *   error                a failure (kind "connect", "tls", "http" with status and
 *                        body for a refused upgrade, "json"/"msgpack" for an
 *                        undecodable message, "protocol", "queue");
 *   close                the connection went away, or end() was called while
 *                        it was open or opening (as Primus's end());
 *   end                  the client is closed for good (end(), a
 *                        primus::server::close, a refusal, failed retries);
 *   timeout              the first connection did not open in time;
 *   reconnect scheduled  a retry is planned (attempt, retries, delay);
 *   reconnect            the retry starts now;
 *   reconnected          a retry succeeded (just before open);
 *   reconnect failed     retries are exhausted (end follows);
 *   reconnect timeout    a retry did not open within the client's timeout
 *                        (weft_client_set_timeout); it is abandoned and the
 *                        backoff goes on (Primus's recovery event);
 *   online / offline     the network came back / went away (heartbeat
 *                        expiry, weft_client_set_online());
 *   id                   the answer to weft_client_id();
 *   destroy              after weft_client_destroy(): the client's memory is
 *                        freed when this returns.
 */
typedef struct weft_client weft_client;

/* The names of the events above, in that order and spelling ("open" …
 * "id", without "destroy", which is C's only), for hosts that dispatch by
 * name: the i-th, NULL past the last. Never fails. */
WEFT_EXTERN const char *weft_client_event_at(size_t i);

typedef struct weft_reconnect_info {
  uint32_t attempt;  /* 1 for the first retry */
  uint32_t retries;  /* the configured limit */
  uint32_t delay_ms; /* the wait before this attempt */
} weft_reconnect_info;

typedef struct weft_client_events {
  size_t size; /* sizeof(weft_client_events) */
  void (*open)(weft_client *c, void *user);
  void (*data)(weft_client *c, const weft_value *msg, void *user);
  void (*error)(weft_client *c, const weft_error_info *err, void *user);
  void (*close)(weft_client *c, void *user);
  void (*end)(weft_client *c, void *user);
  void (*timeout)(weft_client *c, void *user);
  void (*reconnect_scheduled)(weft_client *c, const weft_reconnect_info *info, void *user);
  void (*reconnect)(weft_client *c, const weft_reconnect_info *info, void *user);
  void (*reconnected)(weft_client *c, const weft_reconnect_info *info, void *user);
  void (*reconnect_failed)(weft_client *c, const weft_reconnect_info *info, void *user);
  void (*online)(weft_client *c, void *user);
  void (*offline)(weft_client *c, void *user);
  void (*id)(weft_client *c, const char *id, void *user);
  void (*destroy)(weft_client *c, void *user);
  /* Added after the first release: set `size` to cover it. */
  void (*reconnect_timeout)(weft_client *c, const weft_reconnect_info *info, void *user);
} weft_client_events;

/* A client for "ws://host:port/path?query" (the path is the server's
 * pathname, "/primus" when the URL has none — "ws://h:1/" asks for "/" —;
 * the query is sent as is), or "ws+unix:///path/to.sock:/path?query" over a
 * Unix-domain socket (Host: localhost; "wss+unix" checks the certificate's
 * chain only, there being no host name to match). It
 * does not connect until weft_client_open() (Primus's `manual` mode is the
 * only mode: the application decides when). "wss://" connects over TLS with
 * the server's certificate verified against the system's trust store (see
 * weft_client_set_ca_file / _set_verify), as "tcps://" (fast-tcp over
 * TLS) does. "user:password@" before the
 * host is sent as "Authorization: Basic" (percent-decoded first; a malformed
 * escape or a control character in it is WEFT_EURL). Errors: WEFT_EINVAL,
 * WEFT_EURL, WEFT_ENOMEM. */
WEFT_EXTERN int weft_client_new(weft_loop *loop, const char *url, weft_client **out);

/* Events and user data; `free_user` runs after the destroy event or when
 * replaced. Errors: WEFT_EINVAL. */
WEFT_EXTERN int weft_client_set_events(weft_client *c, const weft_client_events *events, void *user,
                                       void (*free_user)(void *user));

/* Options (Primus's defaults); each returns WEFT_EINVAL for bad values.
 *  parser: "json" (default) or "msgpack"; on fast-tcp URLs, the object
 *    serializer (as weft_server_set_parser's; the server's must match).
 *  reconnect: min 500 ms, max 0 (unlimited), retries 10, factor 2. Attempt n
 *    waits min(round((rand + 1) * min * factor^(n-1)), max), rand in [0,1).
 *  strategy: comma-separated, case-insensitive list of "disconnect" (an open
 *    connection dropped), "online" (the network came back), "timeout" (the
 *    first connection failed or timed out); default "disconnect,online,
 *    timeout"; "" or "none" never reconnects.
 *  timeout: ms for the first connection to open, 10000; 0 off.
 *  ping_timeout: ms without a primus::ping before the connection is taken
 *    for dead (offline, close, reconnect); 0 off. When not set, the first
 *    connection reads the server's <path>/spec and uses 1.5 x its
 *    pingInterval (off when it is false), else 45000 as Primus.
 *  max_length: largest incoming message, 10 MiB; at most 4 GiB - 1 over
 *    WebSocket (a larger limit is taken as that).
 *  compression: 1 offers permessage-deflate (RFC 7692) from the next
 *    connection on; off by default. The client compresses each message of
 *    64 bytes or more afresh, within the window the server allows, and
 *    inflates what the server sends (keeping the server's context when the
 *    server keeps it: a 32 KiB window per connection). A server's answer it
 *    cannot honour fails that connection (an error event of kind
 *    "protocol"). Errors: WEFT_EINVAL (NULL) only.
 *  queue_limit: bytes of writes held while not open, 0 = unbounded;
 *    beyond it writes fail with WEFT_ENOBUFS.
 *  retry_refused: 1 keeps reconnecting after the server refused the upgrade
 *    (401, 403, …); by default a refusal ends the client.
 *  header: an extra request header (copied).
 *  ca_file: PEM file of certificates to trust for wss:// instead of the
 *    system's store (copied).
 *  verify: 0 turns certificate verification off (tests, development only);
 *    a failed verification is an error event of kind "tls". */
WEFT_EXTERN int weft_client_set_parser(weft_client *c, const char *parser);
/* The same for a client (weft_server_set_parser_def's rules); before
 * weft_client_open(): WEFT_ESTATE after. */
WEFT_EXTERN int weft_client_set_parser_def(weft_client *c, const weft_parser_def *def, void *user);
/* The transformer to dial with: "websockets" (default), "engine.io", or
 * "vibe" (the Vibe protocol: over ws, or httplongpoll when the URL's query
 * says transport=longpoll, httpstream when it says transport=stream, or as
 * weft_client_set_transport() says;
 * emitter events and acks as Vibe events and replies, the server's
 * heartbeat from its handshake, no primus::ping). A tcp:// or ipc:// URL
 * picks "fast-tcp" itself, and "websockets" then changes nothing. Before
 * weft_client_open(); errors: WEFT_EINVAL (NULL), WEFT_EUNSUPPORTED (a name
 * this build does not have), WEFT_EURL (it does not serve the URL's
 * scheme), WEFT_ESTATE (opened already). */
WEFT_EXTERN int weft_client_set_transformer(weft_client *c, const char *transformer);
/* engine.io's ways in, as engine.io-client's `transports` option: a
 * comma-separated list of "polling" and "websocket". Both (the default):
 * a polling handshake, then the upgrade to WebSocket when the server
 * offers it; "polling": long-polling only (Primus's `websockets: false`);
 * "websocket": a WebSocket from the start. Other transformers ignore it.
 * Errors: WEFT_EINVAL (an unknown name, an empty list), WEFT_ESTATE (after
 * the first connection started). */
WEFT_EXTERN int weft_client_set_transports(weft_client *c, const char *transports);
/* Vibe's transport, as vibe-protocol's client names them: "ws" (the
 * default), "httpstream" or "httplongpoll". The URL's query may name it
 * instead, as the reference's URIs do (transport=ws, transport=stream,
 * transport=longpoll) and is honoured without this call; with both, they
 * must agree. Other transformers ignore it. Errors: WEFT_EINVAL (NULL, an
 * unknown name, a URL whose transport= names another transport or none of
 * the three), WEFT_ESTATE (after weft_client_open()), WEFT_ECLOSED. */
WEFT_EXTERN int weft_client_set_transport(weft_client *c, const char *transport);
WEFT_EXTERN int weft_client_set_reconnect(weft_client *c, uint32_t min_ms, uint32_t max_ms,
                                          uint32_t retries, double factor);
WEFT_EXTERN int weft_client_set_strategy(weft_client *c, const char *strategy);
WEFT_EXTERN int weft_client_set_timeout(weft_client *c, uint32_t ms);
WEFT_EXTERN int weft_client_set_ping_timeout(weft_client *c, uint32_t ms);
WEFT_EXTERN int weft_client_set_max_length(weft_client *c, size_t bytes);
WEFT_EXTERN int weft_client_set_compression(weft_client *c, int on);
WEFT_EXTERN int weft_client_set_queue_limit(weft_client *c, size_t bytes);
WEFT_EXTERN int weft_client_set_retry_refused(weft_client *c, int on);
/* Connection-state recovery (decision #23): with `on`, the client asks the
 * server for a session (query parameter weft_rs=1 on the upgrade) and on
 * every reconnect presents it (weft_rs=<id>.<token>.<count>: the spark id,
 * the server's resume token, the number of messages received in the
 * session), so that a server with recovery on gives back the spark id, its
 * rooms and the messages missed, before new ones. Servers without it
 * ignore the parameter and never answer. `cb` (may be NULL) runs with the
 * server's answer after each open, before that connection's messages:
 * `recovered` 1 when the session was resumed, 0 for a fresh spark (the
 * first connection, or a resume the server refused: past the window, or
 * unknown); `id` the spark's id, borrowed for the call. A malformed answer
 * is an error event (kind "protocol") and is ignored. Errors: WEFT_EINVAL
 * (NULL client), WEFT_ESTATE (after the first connection started),
 * WEFT_ECLOSED. */
typedef void (*weft_client_recovery_cb)(weft_client *c, int recovered, const char *id, void *user);
WEFT_EXTERN int weft_client_set_recovery(weft_client *c, int on, weft_client_recovery_cb cb,
                                         void *user);
/* 1 when the last open resumed the session, 0 otherwise (also before the
 * server answered, and without recovery). Errors: WEFT_EINVAL (NULL),
 * WEFT_ECLOSED. */
WEFT_EXTERN int weft_client_recovered(const weft_client *c);
WEFT_EXTERN int weft_client_add_header(weft_client *c, const char *name, const char *value);
WEFT_EXTERN int weft_client_set_ca_file(weft_client *c, const char *path);
/* The pre-shared key to prove on tcp:// and ipc:// (weft_server_set_psk),
 * and on ws:// and wss:// (weft_server_set_psk_ws: after the 101).
 * A wrong key, a server without one, or a server that fails to prove the
 * same key end the connection with an error event of kind "http", status
 * 401 and the reason as its body, and no reconnection (unless
 * weft_client_set_retry_refused). Copied, wiped when the client is freed.
 * With the engine.io or Vibe transformer weft_client_open() is
 * WEFT_EUNSUPPORTED (they have no such handshake).
 * Errors: WEFT_EINVAL (NULL key with len, len > 256), WEFT_ESTATE (opened
 * already), WEFT_ECLOSED. */
WEFT_EXTERN int weft_client_set_psk(weft_client *c, const void *key, size_t len);
WEFT_EXTERN int weft_client_set_verify(weft_client *c, int on);

/* Starts connecting. Errors: WEFT_ESTATE (already open or connecting),
 * WEFT_ECLOSED (ended or destroyed). */
WEFT_EXTERN int weft_client_open(weft_client *c);

/* Sends a message, or queues it while not open (flushed in order before the
 * open event). Returns 0, or WEFT_ECLOSED (ended), WEFT_ENOBUFS (queue limit),
 * WEFT_EDEPTH/WEFT_ETYPE (cannot encode), WEFT_ENOMEM. */
WEFT_EXTERN int weft_client_write(weft_client *c, const weft_value *msg);
/* Pre-encoded bytes as one frame (text must be UTF-8: WEFT_EUTF8). */
WEFT_EXTERN int weft_client_write_raw(weft_client *c, const void *data, size_t len, int binary);
/* Bytes written but not yet handed to the kernel (queued offline included). */
WEFT_EXTERN size_t weft_client_buffered_amount(const weft_client *c);

/* Asks the server for this connection's spark id (primus::id::); the id
 * event answers. Queued while not open. */
WEFT_EXTERN int weft_client_id(weft_client *c);

/* Tells the client the network went away (0) or came back (1): offline ends
 * the current connection, online reconnects when the strategy says so. */
WEFT_EXTERN int weft_client_set_online(weft_client *c, int online);

/* Closes for good: writes `msg` when not NULL, closes the connection (1000),
 * emits close (when it was open or opening) and end; no reconnect follows. Queued
 * writes that never went out are dropped. Errors: WEFT_ECLOSED. */
WEFT_EXTERN int weft_client_end(weft_client *c, const weft_value *msg);

/* Ends the client if needed and frees it; the destroy event follows from the
 * loop, after which the handle is gone. Errors: WEFT_ECLOSED (twice). */
WEFT_EXTERN int weft_client_destroy(weft_client *c);

/* WEFT_CLIENT_CLOSED, _OPENING or _OPEN. */
enum { WEFT_CLIENT_CLOSED = 0, WEFT_CLIENT_OPENING = 1, WEFT_CLIENT_OPEN = 2 };
WEFT_EXTERN int weft_client_state(const weft_client *c);
/* The loop the client runs on (never NULL for a valid client). */
WEFT_EXTERN weft_loop *weft_client_loop(const weft_client *c);
/* Batching of the client's writes while open, as weft_server_set_batching
 * (writes queued while offline leave one frame each). May be changed at
 * any time. Errors: WEFT_EINVAL, WEFT_EUNSUPPORTED (raw parser). */
WEFT_EXTERN int weft_client_set_batching(weft_client *c, size_t max_bytes);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */
