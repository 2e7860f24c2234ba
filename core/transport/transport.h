/*
 * Transports ("transformers"): a framing on a byte stream, behind three
 * sets of ops, as nng's transports are — a listener (bind, accept, reject,
 * stop), a dialer (dial, cancel) and a connection (send, hold, queued,
 * close, abort). The Primus layer above (server, sparks, client) uses only
 * these; a transport calls up only through the events its owner gave it.
 *
 * Memory: a connection is one block — the owner's part (a spark), then the
 * weft__conn every transport's connection starts with, then the
 * transport's own (sized by the transport) — so a spark costs one
 * allocation whatever carries it.
 *
 * Adding a transport: a folder here with its ops, and one line in
 * registry.c.
 */
#ifndef WEFT__TRANSPORT_H
#define WEFT__TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/url.h"
#include "http/server.h"
#include "runtime/payload.h"

struct weft__tls_ctx;
typedef struct weft__transport weft__transport;
typedef struct weft__conn weft__conn;
typedef struct weft__listener weft__listener;

/* The framings, as payloads record whose header they carry. */
enum { WEFT__FRAMING_WS = 1, WEFT__FRAMING_EIO = 2 };
/* The first variant tag each framing may use (payload.h): tags are the
 * framing's own from there on. */
enum { WEFT__TAGS_WS = 1, WEFT__TAGS_EIO = 32, WEFT__TAGS_FT = 64 };
/* The variant an owner caches for a framing that encodes messages itself
 * (conn.encode): the framing's frame for the payload's message. */
enum { WEFT__TAG_ENCODED = 250 };

/* Why a dialed connection failed (kind as weft_error_info's). */
typedef struct weft__fault {
  int code;
  const char *kind;
  const char *message;
} weft__fault;

/* What a connection tells its owner. Any member may be NULL. */
typedef struct weft__conn_events {
  /* Open: the server accepted it, or the dialed handshake succeeded. */
  void (*opened)(weft__conn *c);
  /* One message; the bytes are valid during the call, and the owner may
   * write within them (its decoder leaves strings in place). */
  void (*message)(weft__conn *c, int binary, uint8_t *data, size_t len);
  /* Queued bytes were written (the queue shrank). */
  void (*drained)(weft__conn *c);
  /* The flush is about to write: queue what was held back (hold). */
  void (*seal)(weft__conn *c);
  /* No longer open (closing, failed, aborted): sends are refused now. Only
   * for connections that had opened; `why` when a bad frame ended it. */
  void (*closing)(weft__conn *c, const weft__fault *why);
  /* Dialed: the server answered the handshake with `status` (not a
   * switch), with this body. */
  void (*refused)(weft__conn *c, int status, const uint8_t *body, size_t len);
  /* Gone: `why` is NULL for a clean end, else the failure. The memory goes
   * when this returns, unless (server side) it returns nonzero: then the
   * owner keeps the block and frees it later with free() at the owner's
   * part, the block's start. Server side: for connections that were
   * admitted. */
  int (*closed)(weft__conn *c, const weft__fault *why);
  /* One message already decoded (framings that carry typed values, not
   * the owner's encoding: fast-tcp; or that decoded it to translate it:
   * Vibe); valid during the call. `len`: the bytes it came as, for the
   * metrics (0: not counted). */
  void (*value)(weft__conn *c, const weft_value *v, size_t len);
} weft__conn_events;

struct weft__conn {
  const weft__transport *tran;
  const weft__conn_events *ev;
  void *owner; /* NULL: nobody listens any more (a dial given up) */
};

/* What a listener serves and whom it tells. */
typedef struct weft__listen_params {
  weft_loop *loop;
  weft__url url;
  char path[256];        /* the pathname served */
  weft__http_site *site; /* for transports over HTTP */
  struct weft__tls_ctx *tls;
  size_t max_length; /* largest incoming message */
  int compression;   /* offer permessage-deflate (WebSocket) */
  unsigned unix_mode;
  int attached;      /* no listening socket: connections come through adopt */
  size_t owner_size; /* the owner's bytes before each weft__conn */
  /* Framings with sessions over HTTP requests (engine.io): the session
   * heartbeat (the framing's own pings) and an expiry when unanswered, and
   * a cookie naming the session (sticky load balancing; "" none). */
  uint32_t session_ping_interval, session_ping_timeout;
  /* Vibe's heartbeat and _heartbeat (0: the session pair's, else 20000 and
   * 5000). */
  uint32_t vibe_heartbeat, vibe_wait;
  char session_cookie[64];
  /* Counted once per HTTP request of a polling session (handshake, poll,
   * post) the framing serves; NULL: not counted. */
  uint64_t *polls;
  /* Join this listener's HTTP endpoint (same address and path) instead of
   * binding one: framings side by side. NULL: bind. */
  struct weft__listener *share;
  const weft__conn_events *ev;
  /* A pre-shared key (framings without HTTP: fast-tcp's PSK handshake);
   * psk_len 0: none. Copied by the listener. */
  const uint8_t *psk;
  size_t psk_len;
  /* The owner's parser (framings whose values carry encoded objects:
   * fast-tcp's object data); NULL: JSON. */
  const struct weft__parser_ops *parser;
  /* A peer asks to open a connection: answer with accept or reject, now or
   * later. */
  void (*admit)(weft__conn *c, void *user);
  /* Stopped, and every connection is gone: free it (weft__listener_free). */
  void (*closed)(weft__listener *l, void *user);
  void *user;
} weft__listen_params;

struct weft__listener {
  const weft__transport *tran;
  weft__listen_params p;
  /* Its HTTP endpoint (transports over HTTP), which other framings may
   * join (p.share). */
  weft__http_endpoint *http;
  int port;             /* the bound TCP port, 0 for a Unix socket */
  char served[1200];    /* the URL served, the port resolved */
  weft__listener *next; /* the owner's list */
  /* the transport's part follows (weft__listener_priv) */
};

typedef struct weft__dial_params {
  weft_loop *loop;
  weft__url url; /* path: the request target (path + query) */
  struct weft__tls_ctx *tls;
  const weft__buf *headers; /* extra request header lines, "Name: value\r\n" */
  size_t max_length;
  int compression; /* offer permessage-deflate (WebSocket) */
  /* Framings with HTTP fallbacks (engine.io): which of their ways in the
   * client may use, WEFT__DIAL_* bits; 0 is all of them. */
  unsigned modes;
  /* Vibe: the transport weft_client_set_transport() chose (WEFT__WAY_*);
   * 0: the one the URL's query names, else ws. */
  unsigned way;
  const weft__conn_events *ev;
  void *owner;
  const uint8_t *psk; /* as in weft__listen_params: copied by the dialer */
  size_t psk_len;
  const struct weft__parser_ops *parser; /* as in weft__listen_params */
} weft__dial_params;

enum { WEFT__DIAL_POLLING = 1, WEFT__DIAL_WEBSOCKET = 2 };

/* Vibe's transports, as a client chooses them. */
enum { WEFT__WAY_WS = 1, WEFT__WAY_STREAM, WEFT__WAY_LONGPOLL };
/* The Vibe transport a request target's query names, as the reference
 * client's URIs do (transport=ws, stream or longpoll): WEFT__WAY_*, 0 when
 * it names none, -1 for another value (transport/vibe/dial.c). */
int weft__vibe_url_way(const char *target);

struct weft__transport {
  const char *name;           /* the spec's "transformer": "websockets" */
  const char *const *schemes; /* URL schemes it serves and dials, NULL-ended */
  int over_http;              /* HTTP carries it: the site and the spec apply */
  int can_join;               /* its listener may join another's endpoint (p.share) */
  struct {
    size_t size; /* bytes of its private part */
    /* Binds p->url and starts accepting. On error the listener is
     * stopping: p->closed follows. */
    int (*bind)(weft__listener *l);
    /* Answers an admission: open it (opened follows) … */
    void (*accept)(weft__conn *c);
    /* … or refuse it with an HTTP status and a reason (closed follows). */
    void (*reject)(weft__conn *c, int status, const char *message);
    /* Stops accepting and drops connections not yet open; `hard` drops
     * the closing ones too. Open connections are the owner's to end. */
    void (*stop)(weft__listener *l, int hard);
    /* Serves an already connected socket as if it had been accepted (the
     * descriptor is the listener's afterwards). */
    int (*adopt)(weft__listener *l, int fd, const void *head, size_t len, int once);
  } listener;
  struct {
    /* Starts connecting; events follow, never from inside the call. */
    int (*dial)(const weft__dial_params *p, weft__conn **out);
    /* Gives up on a connection: no event follows; it closes on its own. */
    void (*cancel)(weft__conn *c, int orderly);
  } dialer;
  struct {
    /* Queues one encoded message (TEXT or BINARY; takes its own reference)
     * unless the memory the queue holds would pass `limit` bytes (each
     * queued frame counts its allocation and its slot, not only its bytes);
     * *queued (when not NULL) gets the bytes queued after it. One call per
     * message on the hot path: the limit check and the count come with it.
     * Returns 0, WEFT_ENOBUFS (over the limit; nothing queued),
     * WEFT_ECLOSED or WEFT_ENOMEM. */
    int (*send)(weft__conn *c, weft__payload *p, size_t limit, size_t *queued);
    /* The owner holds messages back this turn: seal runs before the flush. */
    void (*hold)(weft__conn *c);
    /* Bytes queued and not yet written; *held (when not NULL) gets the
     * memory the queue holds (what `send`'s limit counts). */
    size_t (*queued)(const weft__conn *c, size_t *held);
    /* Orderly close with a code and reason: closing, then closed. */
    void (*close)(weft__conn *c, int code, const char *reason);
    /* Now, queued data dropped: closing (when open), then closed. */
    void (*abort)(weft__conn *c);
    /* Who is at the other end: the request that opened it (headers, query,
     * URL) and the peer's address; transports without HTTP give one
     * without a head; NULL on a dialed connection. */
    const weft__http_req *(*peer)(const weft__conn *c);
    /* Stops reading (on = 1): no message event follows, from the next
     * message on, until reading resumes (on = 0; messages already read go
     * first, from the next loop turn). */
    void (*pause)(weft__conn *c, int on);
    /* Optional: the name the framing gave the connection and told its
     * peer (engine.io's sid), which the owner takes as its id; NULL when
     * it has none. */
    const char *(*id)(const weft__conn *c);
    /* Optional: the framing encodes messages itself from their values
     * (fast-tcp carries typed values, not the owner's encoding): *out gets
     * a new payload holding the whole frame(s) for `msg`, which `send`
     * then takes. The owner caches it on the payload it encoded for other
     * framings (variant WEFT__TAG_ENCODED), so a broadcast is encoded once
     * per framing. Such a framing has no Primus heartbeat (its peers do
     * not answer pings). `objects`: the owner's parser, which encodes
     * object data (NULL: JSON); c may be NULL (a client offline). Returns
     * 0, WEFT_EINVAL or WEFT_ENOMEM. */
    int (*encode)(weft__conn *c, const weft_value *msg, const struct weft__parser_ops *objects,
                  weft__payload **out);
    /* Optional: `send` told the value p encodes as well (msg, never NULL).
     * A framing that rewrites each message for its connection (Vibe: every
     * event carries the connection's own id) reads the value instead of
     * decoding p again. */
    int (*send_value)(weft__conn *c, weft__payload *p, const weft_value *msg, size_t limit,
                      size_t *queued);
    /* Optional: peer's request as the connection's own to change, once
     * nothing else reads it: after its connection event the owner trims
     * it, or shares its head with other connections' (http/heads.h).
     * NULL while an HTTP answer still reads it (a polling handshake being
     * answered). */
    weft__http_req *(*request)(weft__conn *c);
    /* Optional: room for one small message of `n` bytes (`binary`: a
     * binary one, else text), its frame header already written in front,
     * straight in the connection's queue: the owner encodes into it and
     * needs no payload. The owner writes all n bytes before it calls the
     * connection again. NULL with *rc 0 when this message cannot go so
     * (the owner sends a payload), else *rc as `send` returns it; *queued
     * as `send` sets it. */
    uint8_t *(*reserve)(weft__conn *c, int binary, size_t n, size_t limit, size_t *queued, int *rc);
  } conn;
  /* The framing keeps connections alive itself (Vibe's heartbeat): the
   * owner sends no primus::ping on them. */
  int own_heartbeat;
  /* Its messages are JSON text (Vibe's events): servers with another
   * parser may not listen with it. */
  int json_only;
};

/* A dialed connection `d` (its weft__conn in `base`, a `done` flag: given
 * up or closed) tells its owner `name` unless done. */
#define WEFT__DIAL_EMIT(d, name, ...)                                                              \
  do {                                                                                             \
    if (!(d)->done && (d)->base.owner && (d)->base.ev->name)                                       \
      (d)->base.ev->name(&(d)->base, __VA_ARGS__);                                                 \
  } while (0)

/* The transport of that name, or NULL. */
const weft__transport *weft__transport_find(const char *name);
/* The first transport that serves URLs of this scheme, or NULL. */
const weft__transport *weft__transport_of_scheme(const char *scheme);
/* Does `t` serve URLs of this scheme? */
int weft__transport_serves(const weft__transport *t, const char *scheme);
/* The name of the i-th transport, NULL past the end. */
const char *weft__transport_at(size_t i);
/* A transport's place in the registry (for per-transport counters). */
size_t weft__transport_index(const weft__transport *t);
#define WEFT__TRANSPORTS_MAX 4

/* A listener of `t` on p (copied); *out is set even on error, and then
 * p->closed follows as after a stop. */
int weft__listener_new(const weft__transport *t, const weft__listen_params *p,
                       weft__listener **out);
void weft__listener_free(weft__listener *l);
/* A server connection of l's transport as one zeroed block: the owner's
 * part (l->p.owner_size bytes), then `size` bytes that start with the
 * weft__conn (its transport, l's events, the block's start as owner).
 * NULL when out of memory; free() at the block's start. */
weft__conn *weft__conn_block(const weft__listener *l, size_t size);
static inline void *weft__listener_priv(weft__listener *l) { return l + 1; }

/* The life of a listener whose connections are sessions of HTTP requests
 * (engine.io, Vibe; sessions.c): how many sessions are alive, whether its
 * own endpoint is open, and one timer for their deadlines (its `data` is
 * the framing's). Once stopping with no session and no endpoint, the
 * timer closes, `freed` (optional) runs, then the listener's closed. */
typedef struct weft__sessions {
  weft__listener *l;
  uv_timer_t timer;
  size_t n; /* alive, admitted or not */
  uint8_t stopping, ep_open, timer_open, done;
  void (*freed)(struct weft__sessions *ss);
} weft__sessions;

void weft__sessions_init(weft__sessions *ss, weft__listener *l, void (*freed)(weft__sessions *ss));
/* Finishes when it is time (stopping, no session, no endpoint). */
void weft__sessions_check(weft__sessions *ss);
/* A session is gone; the endpoint closed. */
void weft__sessions_gone(weft__sessions *ss);
void weft__sessions_ep_closed(weft__sessions *ss);

/* Close codes an owner asks for: RFC 6455's numbers, which every framing
 * maps to its own way of ending. */
enum {
  WEFT__END_NORMAL = 1000,
  WEFT__END_GOING_AWAY = 1001,
  WEFT__END_POLICY = 1008,
  WEFT__END_ERROR = 1011
};

#endif
