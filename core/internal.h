/*
 * The core's private structures: loop, server, spark (one WebSocket
 * connection), outgoing payloads and the write queue. Bindings never see
 * this; they use include/weft/ only.
 */
#ifndef WEFT__INTERNAL_H
#define WEFT__INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "parser/parser.h"
#include "stream.h"
#include "transport/transport.h"
#include "transport/ws_codec.h"
#include "value.h"
#include "weft/plugin.h"
#include "weft/weft.h"

#define WEFT__READ_CHUNK 65536
/* Queued frames up to this many bytes in all are copied into one buffer and
 * written with a single-buffer write: the kernel's per-iovec cost for many
 * small frames is higher than the copy. */
#define WEFT__CORK 16384

#if defined(__GNUC__) || defined(__clang__)
#define WEFT__PREFETCH(p) __builtin_prefetch((p), 1)
#else
#define WEFT__PREFETCH(p) ((void)(p))
#endif

/* The struct holding `ptr` as its member `member`. */
#define WEFT__CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- util.c ---- */

typedef struct weft__url {
  char scheme[8]; /* "ws", "wss", "tcp", … lower case */
  char host[256]; /* without brackets for IPv6 */
  int port;
  char path[1024]; /* path + query, "/" at least */
} weft__url;

int weft__url_parse(const char *url, weft__url *out);
/* Resolves a numeric host (IPv4/IPv6 literal or "localhost") and port. */
int weft__sockaddr(const char *host, int port, struct sockaddr_storage *ss);
int weft__uv_err(int uverr);
char *weft__strdup(const char *s);
uint64_t weft__now_ms(uv_loop_t *uv);
int weft__strcaseeq(const char *a, const char *b);

/* Random bytes for ids; refilled from getrandom() in blocks. */
typedef struct weft__rand {
  uint8_t pool[256];
  size_t avail;
} weft__rand;
int weft__rand_bytes(weft__rand *r, uint8_t *out, size_t n);

/* ---- loop.c ---- */

typedef struct weft__post weft__post;
typedef struct weft_spark weft__conn;

struct weft_loop {
  uv_loop_t *uv;
  uv_loop_t own;
  int owned;
  int depth; /* > 0 while inside weft_loop_run/run_once */
  int closing;
  size_t users;     /* live servers and clients */
  size_t handles;   /* our uv handles still to close (check, idle, async) */
  uv_check_t check; /* flushes corked writes right after poll */
  uv_idle_t idle;   /* keeps the next poll from blocking while writes wait */
  uv_async_t async; /* weft_loop_post() */
  uv_mutex_t post_mu;
  weft__post *posts;
  weft__stream *dirty; /* streams with queued writes to flush */
  int idle_active;
  int rbuf_busy;
  weft__buf scratch;          /* encode scratch, reused */
  struct weft__payload *pool; /* free small payloads */
  size_t pool_len;
  uint8_t rbuf[WEFT__READ_CHUNK]; /* shared read buffer for all connections */
  uint8_t tbuf[WEFT__READ_CHUNK]; /* decrypted TLS records, likewise shared */
  uint8_t cork[WEFT__CORK];       /* small frames gathered for one write */
};

/* Marks a stream as having data to flush at the end of this loop turn. */
void weft__loop_mark_dirty(weft_loop *loop, weft__stream *s);
void weft__loop_unmark_dirty(weft_loop *loop, weft__stream *s);
/* Flushes `s` now if it was the last stream marked dirty (found in O(1);
 * anything marked after it means a fan-out, left for the check phase). */
void weft__loop_flush_if_last(weft_loop *loop, weft__stream *s);
void weft__loop_pool_free(weft_loop *loop);

/* ---- payloads: encoded messages shared by every recipient ---- */

enum {
  WEFT__P_TEXT = 1,
  WEFT__P_BINARY = 2,
  WEFT__P_CLOSE = 8,
  WEFT__P_PING = 9,
  WEFT__P_PONG = 10,
  WEFT__P_RAW = 16 /* bytes as they are (HTTP) */
};

typedef struct weft__payload {
  struct weft__payload *deflated; /* compressed variant, built on first need */
  weft_loop *pool;                /* returned to this loop's pool when released */
  uint32_t refs;
  uint8_t kind; /* WEFT__P_* */
  uint8_t hlen; /* WebSocket header length once framed, 0 before */
  uint8_t rsv1; /* compressed */
  size_t len;
  uint8_t head[14]; /* the frame header, right-aligned */
  uint8_t data[];   /* follows head directly: one contiguous frame */
} weft__payload;

weft__payload *weft__payload_new(int kind, const void *data, size_t len);
/* The same from the loop's pool of small payloads: messages written one by
 * one cost no malloc in steady state. */
weft__payload *weft__payload_take(weft_loop *loop, int kind, const void *data, size_t len);
/* Payloads with at most this much data come from the pool. */
#define WEFT__POOL_DATA 240
#define WEFT__POOL_MAX 4096
/* Writes the frame header once (and masks the data when `mask` is given:
 * client frames, never shared). RAW payloads stay as they are. */
void weft__payload_frame(weft__payload *p, const uint8_t *mask);
/* A data frame from pre-encoded bytes; text must be UTF-8 (WEFT_EUTF8). */
int weft__payload_message(const void *data, size_t len, int binary, weft__payload **out);
void weft__payload_release(weft__payload *p);

/* ---- message.c: values to payloads and back, for sparks and clients ---- */

/* Encodes with the parser (binary values pass through text parsers as
 * binary frames); the payload is new (one reference). */
int weft__message_encode(const weft__parser_ops *parser, weft_loop *loop, const weft_value *v,
                         weft__payload **out);
/* Decodes one incoming message into `arena` (or *owned for a binary frame
 * under a text parser, freed by the caller); on failure `err` says why. */
int weft__message_decode(const weft__parser_ops *parser, weft__arena *arena, int binary,
                         const uint8_t *data, size_t len, const weft_value **out,
                         weft_value **owned, char *err, size_t errcap);
/* Batching: messages written in one loop turn leave as one frame,
 * {"weft::batch": [m1, m2, …]}, built from their encoded bytes (no
 * re-encoding); receivers unpack it before anything else sees it. */
typedef struct weft__batch weft__batch;
/* May `p` (encoded by `parser`) join a batch of at most `max` bytes? */
int weft__batchable(const weft__parser_ops *parser, const weft__payload *p, size_t max);
/* Appends one encoded message; *b is created on first use. */
int weft__batch_add(weft__batch **b, const weft__payload *p);
size_t weft__batch_bytes(const weft__batch *b);
/* The frame of what is batched (one reference; NULL when empty or out of
 * memory), and the batch is empty again. */
weft__payload *weft__batch_seal(weft__batch *b, const weft__parser_ops *parser, weft_loop *loop);
void weft__batch_clear(weft__batch *b);
void weft__batch_free(weft__batch *b);
/* The messages of a batch envelope, or NULL when `v` is not one. */
const weft_value *weft__batch_items(const weft_value *v);

/* Is `v` a string starting with `prefix` (which starts with "primus::")?
 * *rest gets what follows. */
int weft__message_is(const weft_value *v, const char *prefix, const char **rest, size_t *rest_len);

/* ---- plugins ---- */

typedef struct weft__plugin {
  const weft_plugin_ops *ops;
  void *user;
  char *name;
} weft__plugin;

typedef struct weft__plugin_list {
  weft__plugin *items;
  size_t n;
} weft__plugin_list;

/* ---- server ---- */

typedef struct weft__auth_list weft__auth_list;

struct weft_server {
  weft_loop *loop;
  int state; /* WEFT__SRV_* */
  weft_server_events ev;
  void *ev_user;
  void (*ev_free)(void *);

  /* options */
  const weft__parser_ops *parser;
  uint32_t ping_interval;
  size_t max_length;
  int compression;
  size_t hwm;
  size_t max_queue;
  size_t batch_max; /* 0: no batching */
  char **origins;
  size_t n_origins;
  char **proxies;
  size_t n_proxies;
  weft_id_generator idgen;
  void *idgen_user;
  void (*idgen_free)(void *);
  weft_authorize_cb auth_cb;
  void *auth_user;
  void (*auth_free)(void *);

  weft__plugin_list plugins;
  int has_incoming, has_outgoing;

  /* transport */
  const weft__transport_ops *transport;
  uv_tcp_t listener;
  int listening;
  int port;
  char pathname[256];
  char host[256];
  weft__pmd *pmd;
  char *tls_cert, *tls_key;
  struct weft__tls_ctx *tls;

  /* sparks */
  weft_spark *open_head; /* open sparks, doubly linked */
  size_t n_open;
  weft_spark **buckets; /* id → spark */
  size_t n_buckets;
  weft__conn *pending; /* conns in HTTP, auth or closing states */
  size_t n_conns;      /* every live connection */

  uv_timer_t ping_timer;
  uv_timer_t reaper; /* handshake and closing deadlines */
  int reaper_active;
  uv_timer_t destroy_timer;
  size_t live_handles; /* uv handles to close before freeing */

  weft__arena arena; /* decoded messages, reset after dispatch */
  weft__rand rand;
  int dispatching;
  int iterating; /* > 0 while walking the open list */
  int unlink_pending;
  int timers_closed;

  /* static.c: in-memory assets and a folder served over plain HTTP */
  struct weft__asset *assets;
  size_t n_assets;
  char *static_dir;
};

enum { WEFT__SRV_NEW = 0, WEFT__SRV_LISTENING, WEFT__SRV_CLOSING, WEFT__SRV_CLOSED };

/* ---- spark / connection ---- */

enum {
  WEFT__C_HTTP = 0, /* reading the request head */
  WEFT__C_AUTH,     /* waiting for the authorization answer */
  WEFT__C_OPEN,     /* WebSocket open: a spark */
  WEFT__C_CLOSING,  /* close frame sent, waiting for the peer's */
  WEFT__C_LINGER,   /* flush what is queued, then close (HTTP answers, close replies) */
  WEFT__C_CLOSED    /* uv_close called */
};

struct weft_spark {
  weft__stream io;
  weft_server *server;
  int state;
  uint8_t was_open;  /* connection event emitted: disconnection owed */
  uint8_t alive;     /* answered the last ping */
  uint8_t above_hwm; /* a write returned 1: drain owed */
  uint8_t pmd;       /* permessage-deflate negotiated */
  uint8_t close_sent;
  uint8_t on_pending;   /* on server->pending */
  uint8_t unlink_later; /* left on the open list until an iteration ends */
  weft__batch *batch;   /* messages held for this loop turn */

  weft__ws_reader reader;

  /* lists */
  weft_spark *next, *prev;   /* open list */
  weft_spark *pnext, *pprev; /* pending list (kept apart: an open-list
                                unlink may be deferred during a walk) */
  weft_spark *hnext;         /* id bucket chain */
  uint64_t deadline;         /* ms; for HTTP, auth and closing states */

  /* identity */
  char id[64];
  weft__http_head req;
  char address[64];
  int rport;
  char **query; /* key, value, key, value … */
  size_t n_query;
  weft_auth *auth;

  void *user;
  void (*user_free)(void *);
};

struct weft_auth {
  weft_spark *conn; /* NULL once the connection is gone */
};

/* server.c */
void weft__server_conn_closed(weft_server *s);
void weft__server_handle_closed(weft_server *s);
/* Walks of the open list bracket themselves with these so sparks closed
 * during the walk stay linked until it ends. */
void weft__server_iter_begin(weft_server *s);
void weft__server_iter_end(weft_server *s);
void weft__server_add_open(weft_server *s, weft_spark *c);
void weft__server_remove_open(weft_server *s, weft_spark *c);
void weft__server_pending_add(weft_server *s, weft_spark *c, uint32_t timeout_ms);
void weft__server_pending_remove(weft_server *s, weft_spark *c);
void weft__server_error(weft_server *s, weft_spark *c, int code, const char *kind, const char *msg);
int weft__server_encode(weft_server *s, const weft_value *v, weft__payload **out);

/* spark.c: the Primus layer over a connection */
void weft__spark_opened(weft_spark *c);
void weft__spark_closed(weft_spark *c);
int weft__spark_broadcast_transformed(weft_server *s, const weft_value *msg);
void weft__spark_message(weft_spark *c, int binary, const uint8_t *data, size_t len);
int weft__spark_send_payload(weft_spark *c, weft__payload *p);
/* Queues the spark's batch, if any (the loop's flush). */
void weft__spark_seal(weft_spark *c);
int weft__spark_send_string(weft_spark *c, const char *s);
void weft__spark_free_identity(weft_spark *c);

/* conn.c: bytes, frames and the TCP handle */
/* Serves an already connected stream socket as if it had been accepted
 * (the fuzz target's way in; fd is owned by the connection afterwards). */
int weft__conn_adopt(weft_server *s, int fd);
int weft__conn_enqueue(weft__conn *c, weft__payload *p);
void weft__conn_close_ws(weft__conn *c, int code, const char *reason);
void weft__conn_abort(weft__conn *c);
void weft__conn_linger(weft__conn *c);
void weft__conn_process_pending(weft__conn *c);

/* plugin.c */
/* Appends a plugin after the common checks (`state_rc` is the handle's own
 * refusal, 0 when it may take plugins); on error destroy has run. */
int weft__plugin_add(weft__plugin_list *l, const weft_plugin_ops *ops, void *user, int state_rc,
                     size_t min_size);
/* Runs client_init of the plugin just added; on error it is removed again. */
int weft__client_plugin_init(weft__plugin_list *l, weft_client *c);
void *weft__plugin_find(weft__plugin_list *l, const char *name);
void weft__plugins_free(weft__plugin_list *l);
void weft__client_plugins_notify(weft__plugin_list *l, weft_client *c, int open);
int weft__client_plugins_incoming(weft__plugin_list *l, weft_client *c, const weft_value *msg,
                                  const weft_value **out, weft_value **owned);
/* Runs the transforms of one direction; *out is the message to use (msg or
 * *owned); returns WEFT_PASS, WEFT_SWALLOW or an error. */
int weft__plugins_transform(weft_spark *c, int outgoing, const weft_value *msg,
                            const weft_value **out, weft_value **owned);

/* http.c: the HTTP side of the server */
void weft__http_request(weft__conn *c);
void weft__http_respond(weft__conn *c, int status, const char *ctype, const char *body,
                        const char *extra_headers);
void weft__http_upgrade_allowed(weft__conn *c);
/* Like weft__http_respond with a body of `blen` bytes (binary allowed). */
void weft__http_respond_body(weft__conn *c, int status, const char *ctype, const void *body,
                             size_t blen, const char *extra_headers);

/* static.c: answers GET/HEAD for a registered asset or a file of the static
 * folder (and refuses bad paths); returns 1 when it answered, 0 when the
 * request is not for static content. */
int weft__static_request(weft__conn *c);
void weft__static_free(weft_server *s);

#endif
