/*
 * The Primus layer: servers that hand out sparks, the reconnecting client,
 * messages (encode once, decode into an arena, batches), plugins and their
 * transforms. It speaks to the wire only through transport ops
 * (transport/transport.h); bindings see none of this, only include/weft/.
 */
#ifndef WEFT__PRIMUS_H
#define WEFT__PRIMUS_H

#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "base/rand.h"
#include "base/value.h"
#include "http/heads.h"
#include "http/server.h"
#include "parser/parser.h"
#include "runtime/loop.h"
#include "runtime/payload.h"
#include "transport/transport.h"
#include "weft/adapter.h"
#include "weft/plugin.h"
#include "weft/weft.h"

/* ---- message.c: values to payloads and back, for sparks and clients ---- */

/* Encodes with the parser (binary values pass through text parsers as
 * binary frames); the payload is new (one reference). */
int weft__message_encode(const weft__parser_ops *parser, weft_loop *loop, const weft_value *v,
                         weft__payload **out);
/* A value whose encoding is its own bytes (a string with nothing to
 * escape, binary under a text parser): the frame kind, the quote around
 * them (0: none) and the bytes, which the value owns. */
typedef struct weft__verbatim {
  const uint8_t *data;
  size_t len;
  int binary;
  uint8_t quote;
} weft__verbatim;
/* 0 and *out filled when `v` encodes so under `parser`, else -1. */
int weft__message_verbatim(const weft__parser_ops *parser, const weft_value *v,
                           weft__verbatim *out);
/* A new payload (one reference) holding those bytes: 0 or WEFT_ENOMEM. */
int weft__verbatim_payload(weft_loop *loop, const weft__verbatim *vb, weft__payload **out);
/* The encoded length and the bytes themselves (weft__verbatim_len bytes). */
static inline size_t weft__verbatim_len(const weft__verbatim *vb) {
  return vb->len + (vb->quote ? 2 : 0);
}
static inline void weft__verbatim_write(const weft__verbatim *vb, uint8_t *d) {
  if (vb->quote) {
    d[0] = d[vb->len + 1] = vb->quote;
    d++;
  }
  if (vb->len) memcpy(d, vb->data, vb->len);
}
/* Decodes one incoming message into `arena` (or *owned for a binary frame
 * under a text parser, freed by the caller); on failure `err` says why.
 * `data` is the transport's message, writable during the call: the values
 * may keep their strings in it (WEFT__DECODE_IN_PLACE), so they are valid
 * while both the arena and the message are. */
int weft__message_decode(const weft__parser_ops *parser, weft__arena *arena, int binary,
                         uint8_t *data, size_t len, const weft_value **out, weft_value **owned,
                         char *err, size_t errcap);
/* Is `v` a string starting with `prefix` (which starts with "primus::")?
 * *rest gets what follows. */
int weft__message_is(const weft_value *v, const char *prefix, const char **rest, size_t *rest_len);

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

/* ---- plugin.c ---- */

typedef struct weft__plugin {
  const weft_plugin_ops *ops;
  void *user;
  char *name;
  uint32_t in_types; /* ops->incoming_types, every type for 0 or a short struct */
} weft__plugin;

typedef struct weft__plugin_list {
  weft__plugin *items;
  size_t n;
} weft__plugin_list;

/* Appends a plugin after the common checks (`state_rc` is the handle's own
 * refusal, 0 when it may take plugins); on error destroy has run. */
int weft__plugin_add(weft__plugin_list *l, const weft_plugin_ops *ops, void *user, int state_rc,
                     size_t min_size);
/* Runs client_init of the plugin just added; on error it is removed again. */
int weft__client_plugin_init(weft__plugin_list *l, weft_client *c);
void *weft__plugin_find(weft__plugin_list *l, const char *name);
void weft__plugins_free(weft__plugin_list *l);
void weft__client_plugins_notify(weft__plugin_list *l, weft_client *c, int open);
/* As weft__plugins_transform, for a client's plugins. */
int weft__client_plugins_transform(weft__plugin_list *l, weft_client *c, int outgoing,
                                   const weft_value *msg, const weft_value **out,
                                   weft_value **owned);
/* Runs the transforms of one direction; *out is the message to use (msg or
 * *owned); returns WEFT_PASS, WEFT_SWALLOW or an error. */
int weft__plugins_transform(weft_spark *c, int outgoing, const weft_value *msg,
                            const weft_value **out, weft_value **owned);

/* ---- the server ---- */

#define WEFT__KINDS 17 /* error kinds counted by name (metrics.c) */

/* The per-message counters; -DWEFT_NO_METRICS compiles them out, for
 * bench/metrics_cost.sh to measure what they cost (never in a release). */
#ifdef WEFT_NO_METRICS
#define WEFT__METRIC(stmt) ((void)0)
#else
#define WEFT__METRIC(stmt) (void)(stmt)
#endif

/* What metrics.c reports; per transport by registry index. */
typedef struct weft__metrics {
  uint64_t open[WEFT__TRANSPORTS_MAX], opened[WEFT__TRANSPORTS_MAX];
  uint64_t msgs_in[WEFT__TRANSPORTS_MAX], msgs_out[WEFT__TRANSPORTS_MAX];
  uint64_t bytes_in[WEFT__TRANSPORTS_MAX], bytes_out[WEFT__TRANSPORTS_MAX];
  uint64_t polls[WEFT__TRANSPORTS_MAX]; /* polling requests (engine.io) */
  uint64_t handshakes, timeouts, queue_refused;
  uint64_t errors[WEFT__KINDS];
} weft__metrics;

/* metrics.c: counts an error event by kind. */
void weft__metrics_error(weft_server *s, const char *kind);

struct weft_server {
  weft_loop *loop;
  int state; /* WEFT__SRV_* */
  weft_server_events ev;
  void *ev_user;
  void (*ev_free)(void *);

  /* options */
  const weft__transport *transport; /* the first named: the spec's */
  /* Side by side on every URL (transports.c): the one that binds first,
   * then those that join its endpoint. */
  const weft__transport *transports[WEFT__TRANSPORTS_MAX];
  size_t n_transports;
  uint32_t session_ping_interval, session_ping_timeout; /* engine.io's; 0: its defaults */
  uint32_t vibe_heartbeat, vibe_wait; /* Vibe's; 0: the session pair's, else its defaults */
  char session_cookie[64];
  const weft__parser_ops *parser;
  weft__app_parser *app_parser; /* weft_server_set_parser_def's, or NULL */
  uint32_t ping_interval;
  size_t max_length;
  int compression;
  /* What a spark keeps of its request after its connection event:
   * keep_all_headers, or the n_kept names; keep_url the request line. */
  char **kept_headers;
  size_t n_kept_headers;
  uint8_t keep_all_headers, keep_url;
  weft__heads heads; /* the kept heads sparks share (decision #41) */
  size_t hwm;
  size_t max_queue;
  size_t batch_max;   /* 0: no batching */
  int queue_policy;   /* WEFT_QUEUE_CLOSE or WEFT_QUEUE_DROP */
  int client_library; /* serve the browser client under each pathname (library.c) */
  unsigned unix_mode;
  weft_id_generator idgen;
  void *idgen_user;
  void (*idgen_free)(void *);
  weft_authorize_cb auth_cb;
  void *auth_user;
  void (*auth_free)(void *);
  char *tls_cert, *tls_key;
  uint8_t psk[256]; /* tcp:// and ipc://: fast-tcp's PSK handshake (psk_len 0: none) */
  size_t psk_len;
  uint8_t psk_ws; /* … on ws:// and wss:// too (decision #26) */
  struct weft__tls_ctx *tls;
  weft__http_site site; /* assets, static folder, origins, proxies, the spec */

  weft__plugin_list plugins;
  /* The message types some plugin's incoming hook looks at (a bit per
   * weft_type; 0 when no plugin has one): the transform step is skipped
   * for the others. */
  uint32_t in_types;
  int has_outgoing;
  const struct weft_adapter_ops *adapter; /* NULL: local only (weft/adapter.h) */
  void *adapter_user;

  weft__listener *listeners; /* in the order they were added */
  size_t n_listeners;
  size_t closing_listeners; /* stopped or failed, not yet closed */

  /* sparks */
  weft_spark *open_head; /* open sparks, doubly linked */
  size_t n_open;
  weft_spark **buckets; /* id → spark */
  size_t n_buckets;

  uv_timer_t ping_timer;
  char ping_value[24]; /* what the last primus::ping carried: a pong must repeat it */
  uint8_t ping_len;
  uv_timer_t destroy_timer;
  size_t live_handles; /* uv handles to close before freeing */

  weft__arena arena;   /* decoded messages, reset after dispatch */
  uint32_t refs;       /* the creator's and weft_server_retain()s */
  uint8_t creator_ref; /* the creator's is still counted (until destroy ends) */
  weft__metrics m;
  weft__rand rand;
  int dispatching;
  int iterating; /* > 0 while walking the open list */
  int unlink_pending;
  int timers_closed;
  /* connection-state recovery (resume.c, decision #23) */
  uint32_t rs_window;              /* ms; 0: off */
  uint32_t rs_max;                 /* messages a session keeps */
  struct weft__rs *rs_detached;    /* sessions whose connection went, newest first */
  struct weft__rs_hooks *rs_hooks; /* a cluster's (decision #24), NULL: one node */
  const char *rs_from;             /* the origin node of the message being kept */
  uint64_t rs_seq;                 /* and its publish sequence (0: none) */
  /* an extension's (streams): a spark's queue shrank */
  void (*drained_hook)(weft_spark *spark, void *user);
  void *drained_user;
};

enum { WEFT__SRV_NEW = 0, WEFT__SRV_LISTENING, WEFT__SRV_CLOSING, WEFT__SRV_CLOSED };

/* A server closed for good, kept only for its retainers
 * (weft_server_retain): every call says so. */
static inline int weft__server_gone(const weft_server *s) {
  return s && s->state == WEFT__SRV_CLOSED;
}

/* Frees the kept header names (weft_server_set_kept_headers). */
void weft__server_keep_none(weft_server *s);

/* ---- sparks ---- */

enum {
  WEFT__SP_NEW = 0, /* asked to open: being authorized */
  WEFT__SP_OPEN,    /* a spark: connection event emitted */
  WEFT__SP_ENDED,   /* no longer open; the disconnection follows */
  WEFT__SP_GONE     /* closed, kept only for its retainers: every call says so */
};

struct weft_spark {
  weft_server *server;
  uint8_t state;        /* WEFT__SP_* */
  uint8_t alive;        /* bit 0: answered the last ping; WEFT__SP_PAUSED */
  uint8_t above_hwm;    /* a write returned 1: drain owed */
  uint8_t was_open;     /* connection event emitted: disconnection owed */
  uint8_t unlink_later; /* left on the open list until an iteration ends */
  uint8_t tran;         /* the transport's registry index, for the metrics */
  uint16_t refs;        /* weft_spark_retain()s: the block outlives the connection */
  /* One at a time, and was_open says which: before the connection event
   * the authorization waited for (NULL once answered, before the spark
   * opens), once open the messages held for this loop turn (only an open
   * spark is written to). */
  union {
    weft_auth *auth;
    weft__batch *batch;
  };
  weft_spark *next, *prev; /* open list */
  weft_spark *hnext;       /* id bucket chain */
  /* The id (weft__spark_id): in place when it fits, the generated ones (21
   * characters) do; a longer one is on the heap, its pointer at id_in + 8
   * and id_in[23] set (an id in place ends before that byte). "" while no
   * id is set. */
  char id_in[24];
  struct weft__rs *rs; /* its recovery session (resume.c), when it asked */
  void *user;
  void (*user_free)(void *);
  weft__conn conn; /* last: the transport's part follows (transport.h) */
};

struct weft_auth {
  weft_spark *spark; /* NULL once the connection is gone */
};

static inline const char *weft__spark_id(const weft_spark *c) {
  if (!c->id_in[23]) return c->id_in;
  const char *heap;
  memcpy(&heap, c->id_in + 8, sizeof(heap));
  return heap;
}

/* ---- the client ---- */

struct weft__http_fetch;

struct weft_client {
  weft_loop *loop;
  weft_client_events ev;
  void *ev_user;
  void (*ev_free)(void *);
  /* options */
  weft__url url; /* path: the request target */
  const weft__transport *transport;
  const weft__parser_ops *parser;
  weft__app_parser *app_parser; /* weft_client_set_parser_def's, or NULL */
  uint32_t rmin, rmax, retries;
  double factor;
  int strat_disconnect, strat_online, strat_timeout;
  uint32_t timeout_ms, ping_timeout_ms;
  int ping_timeout_set, spec_done;
  size_t max_length, queue_limit;
  int retry_refused;
  int compression;   /* offer permessage-deflate */
  unsigned modes;    /* WEFT__DIAL_* the transport may use (engine.io); 0 all */
  unsigned way;      /* WEFT__WAY_* (Vibe; weft_client_set_transport); 0 the URL's */
  weft__buf headers; /* extra "Name: value\r\n" lines */
  int secure, verify;
  char *ca_file;
  uint8_t psk[256]; /* tcp:// and ipc://: the pre-shared key (psk_len 0: none) */
  size_t psk_len;
  struct weft__tls_ctx *tls;
  /* state */
  int state;
  int ended, destroyed, online, disconnect, refused;
  int reconnecting, retry_pending, opened;
  uint32_t attempt, delay;
  weft__conn *conn;              /* being dialed, or open */
  int conn_open;                 /* …and open (its closing has not come) */
  struct weft__http_fetch *spec; /* <path>/spec being read before the first dial */
  weft_error_info fault;         /* why the open connection failed, for its close */
  char fault_msg[160];
  uv_timer_t connect_timer, ping_timer, retry_timer;
  size_t live_handles;
  weft__payload **pend;
  size_t pend_len, pend_cap, pend_bytes;
  weft__arena arena;
  weft__rand rand;
  weft__plugin_list plugins;
  size_t batch_max;
  weft__batch *batch;  /* messages held for this loop turn, while open */
  uint32_t refs;       /* the creator's and weft_client_retain()s */
  uint8_t creator_ref; /* the creator's is still counted (until destroy ends) */
  uint8_t freed;       /* destroyed, kept only for its retainers */
  /* connection-state recovery (client_resume.c, decision #23) */
  uint8_t rs_on; /* weft_client_set_recovery() */
  weft_client_recovery_cb rs_cb;
  void *rs_user;
  uint8_t rs_recovered; /* the last open resumed a session */
  char rs_id[64];       /* the session's spark id ("" before the first answer) */
  char rs_token[48];    /* its resume token */
  uint64_t rs_count;    /* application messages received in the session */
  /* an extension's (streams): the connection's queue shrank */
  void (*drained_hook)(weft_client *c, void *user);
  void *drained_user;
};

/* A client destroyed for good, kept only for its retainers: every call
 * says so. */
static inline int weft__client_gone(const weft_client *c) { return c && c->freed; }

/* client.c */
/* Starts a connection attempt (the spec first, once, when needed). */
void weft__client_attempt(weft_client *c);
/* Ends the client for good (close, end events); no reconnect follows. */
void weft__client_end(weft_client *c);
/* Leaves the current attempt or connection to close on its own. */
void weft__client_detach(weft_client *c, int send_close);
void weft__client_emit_close(weft_client *c);
void weft__client_emit_error(weft_client *c, int code, const char *kind, const char *msg,
                             int status, const char *body);
/* Sends now when open, else queues for the next open (in order). */
/* A message as the client's transport carries it: its parser's bytes, or
 * the framing's own frame (conn.encode). */
int weft__client_encode(weft_client *c, const weft_value *v, weft__payload **out);
int weft__client_send(weft_client *c, weft__payload *p);
int weft__client_send_string(weft_client *c, const char *s, size_t n);
void weft__client_reconnect(weft_client *c);
void weft__client_pend_clear(weft_client *c);
void weft__client_on_connect_timeout(uv_timer_t *t);
/* client_conn.c: stop (on) or resume reading the open connection (a
 * stream's reader); WEFT_ECLOSED when none is open. */
int weft__client_pause(weft_client *c, int on);
/* client_resume.c: the request target of the next attempt, with the resume
 * parameter when recovery is on (WEFT_EURL: it does not fit). */
int weft__client_resume_url(const weft_client *c, weft__url *u);
/* The server's "primus::weft::rs::" answer (`rest` after the prefix). */
void weft__client_resume_answer(weft_client *c, const char *rest, size_t len);

/* resume.c: connection-state recovery on the server (decision #23). */
typedef struct weft__rs weft__rs;
/* The spark's id: a resumed session's, else a new one (make_id); sets up
 * the session of a spark that asked. Returns 1 when it resumed. */
int weft__rs_open(weft_spark *c, void (*make_id)(weft_spark *c));
/* After open: the answer, then the messages the client missed. */
void weft__rs_opened(weft_spark *c);
/* A message queued on the spark (c->rs set). */
void weft__rs_keep(weft_spark *c, weft__payload *p);
/* The rooms the spark is in, as it disconnects (the rooms extension). */
int weft__rs_note_rooms(weft_spark *c, const char *const *names, size_t n);
/* The rooms of a resumed spark, once (borrowed until weft__rs_rooms_done). */
size_t weft__rs_rooms(weft_spark *c, const char *const **names);
void weft__rs_rooms_done(weft_spark *c);
/* The spark is ended for good (no reconnect): no session is kept. */
void weft__rs_drop(weft_spark *c);
/* The connection went: the session is kept for the window. */
void weft__rs_detach(weft_spark *c);
/* A message to `to` (NULL: everyone): kept by the detached sessions it
 * names. */
void weft__rs_capture(weft_server *s, const weft_recipients *to, weft__payload *p);
/* Frees every session (the server goes). */
void weft__rs_free_all(weft_server *s);

/* resume_x.c: a session moves between the nodes of a cluster (decision
 * #24). The adapter (core/ext/redis_rs.c) gives these hooks; each returns
 * 0 when it did (or started) the job. */
typedef struct weft__rs_mark { /* an origin node and its last sequence */
  const char *node;            /* WEFT__RS_NODE_LEN bytes, not NUL-ended */
  uint64_t seq;
} weft__rs_mark;
#define WEFT__RS_NODE_LEN 16
typedef struct weft__rs_hooks {
  void *user;
  /* A session detached here: store its header and ring for the window. */
  int (*park)(void *user, weft__rs *r);
  /* A message kept by a parked session while it is away. */
  int (*record)(void *user, const char *id, const weft__payload *p);
  /* A parked session is gone here (resumed here, or overflowed). */
  void (*unpark)(void *user, const char *id);
  /* A client presents a session not here: claim it, then answer with
   * weft__rs_claimed (or not at all: the deadline answers). */
  int (*claim)(void *user, weft__rs *pending);
} weft__rs_hooks;
/* What a parked session holds, for the adapter. */
const char *weft__rs_id(const weft__rs *r);
const char *weft__rs_token(const weft__rs *r);
size_t weft__rs_room_list(const weft__rs *r, const char *const **names);
uint64_t weft__rs_base(const weft__rs *r); /* the count before the ring's first */
uint32_t weft__rs_len(const weft__rs *r);
const weft__payload *weft__rs_at(const weft__rs *r, uint32_t i);
/* A spark asking to resume a session not kept here: 1 when it is held
 * (claimed through the hooks; it is accepted later), 0 to accept now. */
int weft__rs_hold(weft_spark *c);
/* The claiming node's pending session for `id` (NULL: none, or ended). */
weft__rs *weft__rs_pending(weft_server *s, const char *id);
/* 1 when `tok` (len bytes) is the token the client presented. */
int weft__rs_token_is(const weft__rs *pending, const char *tok, size_t len);
/* The owner's header is read: the session's rooms and base; the pending
 * session keeps what this node sends and delivers from now on. */
int weft__rs_pending_rooms(weft__rs *pending, char *const *rooms, size_t n, uint64_t base);
/* The claim's end: ok with the owner's entries (bytes as the adapter
 * stored them: a flag byte, 1 binary, then the message) and its marks, or
 * not (a fresh spark). The spark is accepted either way. */
typedef struct weft__rs_entry {
  const char *data;
  size_t len;
} weft__rs_entry;
void weft__rs_claimed(weft__rs *pending, int ok, const weft__rs_entry *e, size_t n,
                      const weft__rs_mark *marks, size_t n_marks);
/* The owner's side: the claimed session `id`, taken off the detached list
 * (NULL when not here, or not recoverable elsewhere); free it after. */
weft__rs *weft__rs_handover(weft_server *s, const char *id);
void weft__rs_release(weft__rs *r);

/* server.c */
void weft__server_error(weft_server *s, weft_spark *c, int code, const char *kind, const char *msg);
int weft__server_encode(weft_server *s, const weft_value *v, weft__payload **out);
/* library.c: the browser client under `pathname` (when client_library). */
int weft__server_add_library(weft_server *s, const char *pathname);
/* options.c: the certificate (key 0) or key (1) file for wss:// (copied). */
int weft__server_set_tls_file(weft_server *s, int key, const char *path);

/* sparks.c: the open sparks, their index and walks */
/* Walks of the open list bracket themselves with these so sparks closed
 * during the walk stay linked until it ends. */
void weft__server_iter_begin(weft_server *s);
void weft__server_iter_end(weft_server *s);
void weft__server_add_open(weft_server *s, weft_spark *c);
void weft__server_remove_open(weft_server *s, weft_spark *c);
extern const weft__conn_events weft__spark_events;
/* The heartbeat timer's callback: a ping to every spark, and the end of
 * those that missed the last one. */
void weft__server_ping(uv_timer_t *t);
/* A listener's request to open: authorization, then the spark. */
void weft__spark_admit(weft__conn *conn, void *server);

/* adapter.c: messages that leave this process (weft/adapter.h) */
/* Hands an encoded message to the adapter (when one is set). */
void weft__server_publish(weft_server *s, const weft_recipients *to, const weft__payload *p);
/* Encodes `msg` once and publishes it (when an adapter is set). */
void weft__server_publish_value(weft_server *s, const weft_recipients *to, const weft_value *msg);
/* Local deliveries of an encoded message: to every open spark, or to the
 * sparks listed (closed ones skipped); the number queued on. */
/* `msg`: the value p encodes when there is one (NULL: only the bytes), for
 * framings that encode messages themselves (fast-tcp). */
int weft__server_broadcast_payload(weft_server *s, weft__payload *p, const weft_value *msg);
int weft__server_payload_to(weft_server *s, weft__payload *p, const weft_value *msg,
                            weft_spark *const *sparks, size_t n);

/* spark.c: the Primus layer over one connection */
int weft__spark_broadcast_transformed(weft_server *s, const weft_value *msg);
void weft__spark_message(weft_spark *c, int binary, uint8_t *data, size_t len);
/* The same for a message its framing decoded (weft__conn_events.value; len: its bytes, 0: not
 * counted). */
void weft__spark_value(weft_spark *c, const weft_value *v, size_t len);
int weft__spark_send_payload(weft_spark *c, weft__payload *p, const weft_value *msg);
/* A message the recovery ring held, sent again (not kept again). */
int weft__spark_replay(weft_spark *c, weft__payload *p);
/* The same for Primus's own strings (pings, ids): not counted as messages. */
int weft__spark_send_control(weft_spark *c, weft__payload *p, const weft_value *msg);
/* Queues the spark's batch, if any (before the flush). */
void weft__spark_seal(weft_spark *c);
int weft__spark_send_string(weft_spark *c, const char *s);
void weft__spark_opened(weft_spark *c);
/* Gives the spark a copy of `id` (shorter than 64 bytes). Returns 0 or
 * WEFT_ENOMEM (the id is left as it was). */
int weft__spark_set_id(weft_spark *c, const char *id);
/* Frees a heap id (the block is about to go). */
void weft__spark_free_id(weft_spark *c);
void weft__spark_closed(weft_spark *c);
/* A bit of `alive`: reading is paused (weft_spark_pause), so the answer to
 * a ping may wait unread: the heartbeat does not time the spark out. */
#define WEFT__SP_PAUSED 2

static inline int weft__spark_is_open(const weft_spark *c) { return c->state == WEFT__SP_OPEN; }

/* transports.c */
/* Parses a comma-separated transformer list into the server's options.
 * Errors: WEFT_EINVAL, WEFT_EUNSUPPORTED (a name this build lacks). */
int weft__server_set_transports(weft_server *s, const char *list);
/* Listens on p->url with each of the server's transports (the first binds,
 * the others join it), or with `alone` only (a framing without HTTP);
 * *first gets the one that bound. */
int weft__server_listen_all(weft_server *s, weft__listen_params *p, const weft__transport *alone,
                            weft__listener **first);

/* auth.c */
/* The owner route of every server's HTTP site: GET <path>/spec. */
int weft__server_route(weft__http_conn *hc, const char *rest, void *server);

#endif
