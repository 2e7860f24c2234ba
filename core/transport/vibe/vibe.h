/*
 * The "vibe" transport: the Vibe protocol as vibe-protocol 3.0.0-Alpha9's
 * reference server speaks it, over its three transports at one path:
 *  - ws: a WebSocket (an upgrade of the path), one text frame per event;
 *  - httpstream: GET ?transport=stream&when=open answers a streaming
 *    (chunked) response: 2 KiB of padding, "data: ?id=<id>\n\n", then one
 *    "data: <event>\n\n" per event; the client POSTs "data=<event>" with
 *    ?id=; the response's end is the close;
 *  - httplongpoll: GET ?transport=longpoll&when=open answers "?id=<id>",
 *    then each GET ?when=poll&id= is held until one event is sent (the
 *    answer's body), or answered empty when the socket closes; a poll that
 *    does not follow an answer within 3 s ends the socket.
 * GET ?when=abort&id= closes a socket. The first message on every
 * transport is the handshake "?heartbeat=<ms>&_heartbeat=<ms>"; the client
 * sends "heartbeat" events, each echoed; none for `heartbeat` ms closes the
 * socket.
 *
 * Events map onto the emitter's packets (event.c): the peer's event
 * {"type": t, "data": d} is the emitter event t with the argument d, its
 * "reply" an ack whose answer goes back as a Vibe "reply" event (resolve:
 * exception false, reject: true), and the emitter's acks likewise. A plain
 * write leaves as the event "message". JSON only.
 *
 * Files: event.c (the events, no I/O), session.c (a socket: queue, sends,
 * heartbeat, closing, the connection ops and the transport's table),
 * http.c (the requests and the listener), transport.c (the WebSocket
 * side).
 */
#ifndef WEFT__VIBE_H
#define WEFT__VIBE_H

#include <uv.h>

#include "base/map.h"
#include "base/rand.h"
#include "base/value_internal.h"
#include "transport/transport.h"
#include "transport/ws/ws.h"

extern const weft__transport weft__transport_vibe;

/* ---- event.c ---- */

enum { WEFT__VIBE_EVENT = 0, WEFT__VIBE_HEARTBEAT, WEFT__VIBE_REPLY };

typedef struct weft__vibe_in {
  int kind;               /* WEFT__VIBE_* */
  const weft_value *root; /* the decoded event: in *arena, or `owned` */
  weft_value *owned;
  weft__arena *arena;
  const char *type; /* its type (not NUL-terminated) */
  size_t type_len;
  const weft_value *type_v; /* the same, as decoded */
  const weft_value *data;   /* NULL: none */
  const weft_value *id;
  int reply;     /* the peer waits for an answer */
  uint32_t ack;  /* REPLY: the emitter's id it answers (0: not ours) */
  int exception; /* REPLY: rejected */
} weft__vibe_in;

/* One event from the peer. Returns 0 (free it with weft__vibe_in_free),
 * WEFT_EPARSE/WEFT_EUTF8/WEFT_EDEPTH (not JSON), WEFT_EPROTO (not an
 * event: no map, no type). */
int weft__vibe_parse(const uint8_t *text, size_t len, weft__vibe_in *in);
void weft__vibe_in_free(weft__vibe_in *in);
/* The emitter packet of an EVENT (with the ack id n, 0: none) or REPLY as
 * a value, its nodes in *pk and views of in's (valid while both are): the
 * owner gets it decoded, not as JSON it would decode again. */
typedef struct weft__vibe_packet {
  weft_value root, map[6], args[2];
} weft__vibe_packet;
const weft_value *weft__vibe_packet_of(const weft__vibe_in *in, uint32_t n, weft__vibe_packet *pk);
/* The same packet as JSON. */
int weft__vibe_to_emitter(const weft__vibe_in *in, uint32_t n, weft__buf *out);
/* The event's id as JSON, NUL-terminated, malloc'd. */
int weft__vibe_id_json(const weft__vibe_in *in, char **out);
/* One message the owner sends (JSON: an emitter packet, or any value) as a
 * Vibe event; `seq` names it; reply_id gives the peer's id (JSON) of the
 * event an ack answers; the message is decoded in `scratch` (reset after;
 * NULL: an arena of its own). WEFT_EUNSUPPORTED for channel packets,
 * WEFT_ENOENT for an ack of no pending event, decoding errors. */
int weft__vibe_from_message(const uint8_t *msg, size_t len, uint64_t seq,
                            const char *(*reply_id)(uint32_t n, void *user), void *user,
                            weft__arena *scratch, weft__buf *out);
/* The same from the message's value (what the owner encoded into the
 * message's bytes, which JSON gives back unchanged): no decoding. */
int weft__vibe_from_value(const weft_value *v, uint64_t seq,
                          const char *(*reply_id)(uint32_t n, void *user), void *user,
                          weft__buf *out);

/* The peer's events that wait for the emitter's answer: the emitter's
 * ack id n -> the peer's id (JSON), at most WEFT__VIBE_PENDING_MAX. */
#define WEFT__VIBE_PENDING_MAX 4096
/* sse.c: the httpstream client's event-stream reader (no I/O). */
typedef struct weft__sse {
  weft__buf buf; /* text not yet a whole message, line endings as '\n' */
  size_t scan;   /* where the search for the message's end goes on */
  uint8_t cr;    /* the last byte fed was '\r' */
} weft__sse;
/* Feeds n bytes: msg(user, text, len) runs for each whole message (its
 * "data:" lines joined by '\n', writable, valid for the call); a nonzero
 * return stops the reading (the owner is done with it). Returns 0,
 * WEFT_ENOMEM, or WEFT_ETOOBIG when what waits for its end passes max. */
int weft__sse_feed(weft__sse *r, const uint8_t *p, size_t n, size_t max,
                   int (*msg)(void *user, uint8_t *text, size_t len), void *user);
void weft__sse_free(weft__sse *r);

typedef struct weft__vibe_pending {
  uint32_t n; /* the emitter's id */
  char *id;   /* the peer's, JSON */
} weft__vibe_pending;
typedef struct weft__vibe_pend {
  weft__vibe_pending *items;
  uint32_t len, cap, next;
  char *taken; /* the id a reply being sent answers (freed by _done) */
} weft__vibe_pend;
/* Keeps the event's id; returns its ack id, 0 when full or out of memory. */
uint32_t weft__vibe_pend_add(weft__vibe_pend *p, const weft__vibe_in *in);
/* weft__vibe_from_message's reply_id over a weft__vibe_pend (user). */
const char *weft__vibe_pend_take(uint32_t n, void *user);
/* After a send: the id taken goes. */
void weft__vibe_pend_done(weft__vibe_pend *p);
void weft__vibe_pend_free(weft__vibe_pend *p);
/* One event from the peer (text), parsed into *in, in `arena` when given
 * (free it with weft__vibe_in_free whatever the result, which resets the
 * arena): the heartbeat (1, nothing to
 * deliver), or 0 and the emitter packet in *pkt (weft__vibe_packet_of;
 * NULL: nothing to deliver), or an error (malformed: WEFT_EPROTO and the
 * parse errors; WEFT_ENOBUFS: too many waiting for an answer). */
int weft__vibe_incoming(weft__vibe_pend *p, const uint8_t *text, size_t len, weft__arena *arena,
                        weft__vibe_in *in, weft__vibe_packet *pk, const weft_value **pkt);
/* Hands the owner of c the packet of an event of len bytes: decoded (its
 * value event), or as JSON (message) for an owner without one. */
void weft__vibe_deliver(weft__conn *c, const weft_value *pkt, size_t len);

/* ---- session.c ---- */

enum { WEFT__VIBE_WS = 0, WEFT__VIBE_STREAM, WEFT__VIBE_LONGPOLL };
enum { WEFT__VIBE_S_NEW = 0, WEFT__VIBE_S_OPEN, WEFT__VIBE_S_CLOSING, WEFT__VIBE_S_CLOSED };

typedef struct weft__vibe_listener weft__vibe_listener;

typedef struct weft__vibe_session {
  weft__conn base; /* the owner's part lies before it */
  uint8_t client;  /* 0: a server's (transport.c tells them apart) */
  uint8_t kind;    /* WEFT__VIBE_WS, _STREAM, _LONGPOLL */
  uint8_t state;   /* WEFT__VIBE_S_* */
  uint8_t busy, dead, kept;
  weft__vibe_listener *vl;
  weft__http_conn *hs;     /* while NEW: the request that opens it */
  weft__http_conn *stream; /* httpstream: the response it writes */
  weft__http_conn *poll;   /* httplongpoll: the held poll */
  weft__ws_sconn *ws;      /* ws */
  weft__payload **q;       /* httplongpoll: events for the next polls */
  uint32_t q_len, q_cap;
  size_t q_held;
  struct weft__vibe_session *next, *prev; /* the listener's sessions */
  uint64_t hb_due, poll_due;              /* loop ms; 0: none (the listener's tick checks them) */
  uint32_t heartbeat;                     /* ms, from the listener at open */
  uint64_t seq;                           /* names of events sent */
  weft__vibe_pend pend;                   /* the peer's events that wait for an answer */
  char callback[64];                      /* httplongpoll with jsonp=true: the callback's name */
  char id[40];
  weft__http_req req; /* the opening request, once open */
} weft__vibe_session;

static inline weft__vibe_session *weft__vibe_of(weft__conn *c) {
  return (weft__vibe_session *)(void *)c;
}

weft__vibe_session *weft__vibe_session_new(weft__vibe_listener *vl, weft__http_conn *hs, int kind);
/* Open: the handshake goes out and the owner hears opened. */
void weft__vibe_opened(weft__vibe_session *s);
/* One text message from the peer. */
void weft__vibe_text(weft__vibe_session *s, const uint8_t *text, size_t len);
/* Ends it: the owner hears closing (with `why`) and closed. */
void weft__vibe_finish(weft__vibe_session *s, const weft__fault *why);
/* Server-side close (not the WebSocket's: it closes itself): the stream
 * ends, a held poll is answered empty (or the next one); closed follows
 * from the listener's tick. */
void weft__vibe_end(weft__vibe_session *s);
static inline void weft__vibe_hold(weft__vibe_session *s) { s->busy++; }
void weft__vibe_release(weft__vibe_session *s);
/* A long-poll answer of `len` bytes (0: the empty one that ends it),
 * wrapped as callback("…"); when the socket is JSONP. */
void weft__vibe_answer(weft__vibe_session *s, weft__http_conn *hc, const void *body, size_t len);
/* A poll arrived (httplongpoll). */
void weft__vibe_poll(weft__vibe_session *s, weft__http_conn *hc);
/* The HTTP connection of a session (its block's ws part holds it). */
static inline weft__ws_sconn *weft__vibe_sconn(weft__http_conn *hc) {
  return weft__ws_sconn_of(hc);
}
static inline weft__vibe_session *weft__vibe_session_of(weft__http_conn *hc) {
  return (weft__vibe_session *)weft__vibe_sconn(hc)->ws.base.owner;
}
/* The WebSocket of a ws session is gone. */
int weft__vibe_ws_gone(weft__vibe_session *s, const weft__fault *why);

void weft__vibe_accept(weft__conn *c);
void weft__vibe_reject(weft__conn *c, int status, const char *message);

/* ---- http.c: the requests and the listener ---- */

struct weft__vibe_listener {
  weft__http_endpoint ep;
  weft__listener *l;
  weft__map ids; /* key: the id's first 16 hex digits -> session */
  weft__rand rand;
  weft__arena scratch; /* decodes the owner's messages (event.c) */
  weft__arena in;      /* decodes the peers' events, while in_busy */
  uint8_t in_busy;
  weft__vibe_session *head; /* every session, for the tick */
  /* Its sessions, endpoint and the tick (life.timer) that checks their
   * deadlines: heartbeats, polls that did not come (transport.h). */
  weft__sessions life;
};

int weft__vibe_bind(weft__listener *l);
void weft__vibe_stop(weft__listener *l, int hard);
int weft__vibe_adopt(weft__listener *l, int fd, const void *head, size_t len, int once);
/* Names a session and indexes it; 0 or WEFT_ENOMEM / WEFT_EIO. */
int weft__vibe_name(weft__vibe_listener *vl, weft__vibe_session *s);
void weft__vibe_unindex(weft__vibe_listener *vl, weft__vibe_session *s);
/* The tick runs at the next turn (a socket's deadline is due now). */
void weft__vibe_soon(weft__vibe_listener *vl);

/* ---- dial.c: the client (ws) ---- */

int weft__vibe_dial(const weft__dial_params *p, weft__conn **out);
void weft__vibe_cancel(weft__conn *c, int orderly);
int weft__vibe_dsend(weft__conn *c, weft__payload *p, size_t *queued);
size_t weft__vibe_dqueued(const weft__conn *c, size_t *held);
void weft__vibe_dclose(weft__conn *c);
void weft__vibe_dabort(weft__conn *c);

/* ---- transport.c: the WebSocket side ---- */

/* Serves the held upgrade request as the session's WebSocket. */
int weft__vibe_ws_serve(weft__vibe_session *s, weft__http_conn *hc);
/* One event as a text frame. */
int weft__vibe_ws_text(weft__vibe_session *s, const uint8_t *text, size_t n, size_t limit,
                       size_t *queued);

#endif
