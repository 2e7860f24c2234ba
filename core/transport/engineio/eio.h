/*
 * The "engine.io" transport: Engine.IO protocol v4 as engine.io 6.6 speaks
 * it (Primus's engine.io transformer). A connection is a session that
 * outlives HTTP requests: HTTP long-polling (a held GET answered with the
 * packets queued meanwhile, POSTs of packets), upgraded to WebSocket (the
 * probe, then frames through transport/ws/), or WebSocket from the start.
 *
 * Files: packet.c (the wire, no I/O: packets, payloads, base64),
 * session.c (a session: its queue, sending, closing, the connection ops),
 * poll.c (the HTTP requests: handshake, polls, posts, errors), upgrade.c
 * (the WebSocket side), listen.c (the listener: sessions by sid, the
 * heartbeat timer), dial.c and dial_poll.c (the client).
 */
#ifndef WEFT__EIO_H
#define WEFT__EIO_H

#include "base/map.h"
#include "base/rand.h"
#include "transport/transport.h"
#include "transport/ws/ws.h"

extern const weft__transport weft__transport_eio;

/* ---- packet.c: the wire ---- */

enum {
  WEFT__EIO_OPEN = '0',
  WEFT__EIO_CLOSE = '1',
  WEFT__EIO_PING = '2',
  WEFT__EIO_PONG = '3',
  WEFT__EIO_MESSAGE = '4',
  WEFT__EIO_UPGRADE = '5',
  WEFT__EIO_NOOP = '6',
  WEFT__EIO_BINARY = 'b' /* a binary message, base64 ("b<base64>") */
};
#define WEFT__EIO_SEP 0x1e /* between the packets of a polling payload */

/* engine.io's errors, answered as 400 {"code": n, "message": "…"}. */
enum {
  WEFT__EIO_E_TRANSPORT = 0, /* "Transport unknown" */
  WEFT__EIO_E_SID = 1,       /* "Session ID unknown" */
  WEFT__EIO_E_METHOD = 2,    /* "Bad handshake method" */
  WEFT__EIO_E_REQUEST = 3,   /* "Bad request" */
  WEFT__EIO_E_FORBIDDEN = 4, /* "Forbidden" (403) */
  WEFT__EIO_E_VERSION = 5    /* "Unsupported protocol version" */
};
const char *weft__eio_error_text(int code);

/* One packet: its type (a WEFT__EIO_* character) and its data (binary
 * messages decoded). */
typedef struct weft__eio_packet {
  char type;
  uint8_t *data;
  size_t len;
} weft__eio_packet;

/* The next packet of a polling payload buf[0..len) from *at (the payload
 * is modified: binary packets are decoded in place). Returns 1 with a
 * packet, 0 at the end, WEFT_EPROTO for a malformed one (an empty packet,
 * an unknown type, bad base64), WEFT_EUTF8 for a text packet that is not
 * UTF-8. */
int weft__eio_payload_next(uint8_t *buf, size_t len, size_t *at, weft__eio_packet *pk);
/* One packet as a WebSocket message carries it: a text message is a
 * typed packet ("4…", "b…" decoded in place), a binary one a binary
 * message. Returns 0 or WEFT_EPROTO. */
int weft__eio_packet_decode(int binary, uint8_t *data, size_t len, weft__eio_packet *pk);

/* Base64 out: weft__b64_len / weft__b64_encode (base/common.h). Decodes in place (padding
 * optional); returns the length or -1. */
long weft__eio_b64_decode(uint8_t *buf, size_t len);

/* What a queued payload adds to a polling payload: a message (TEXT "4…",
 * BINARY "b<base64>") or a packet built whole (RAW). */
size_t weft__eio_packet_len(const weft__payload *p);
/* Writes the packets of q[0..n), joined by the separator, into dst
 * (sum of weft__eio_packet_len + n - 1 bytes). */
void weft__eio_payload_fill(uint8_t *dst, weft__payload *const *q, size_t n);

/* ---- listen.c: the listener ---- */

typedef struct weft__eio_session weft__eio_session;

/* Sessions wait in one of these, in deadline order (each list's delay is
 * fixed): to be pinged, for a pong, to deliver their close. */
enum { WEFT__EIO_T_PING = 0, WEFT__EIO_T_PONG, WEFT__EIO_T_CLOSE, WEFT__EIO_T_NONE };

typedef struct weft__eio_listener {
  weft__http_endpoint ep;    /* its own, unless it joined another's */
  weft__http_endpoint *http; /* the one it serves on */
  weft__listener *l;
  weft__map sids; /* hash of a sid -> chain of sessions */
  weft__rand rand;
  weft__sessions life; /* its sessions, endpoint and timer (transport.h) */
  struct {
    weft__eio_session *head, *tail;
  } lists[3];
  uint32_t delay[3];
  uint8_t joined;
} weft__eio_listener;

int weft__eio_bind(weft__listener *l);
void weft__eio_stop(weft__listener *l, int hard);
int weft__eio_adopt(weft__listener *l, int fd, const void *head, size_t len, int once);
/* The session of that sid, or NULL. */
weft__eio_session *weft__eio_find(weft__eio_listener *el, const char *sid);
/* Names an admitted session and indexes it. Returns 0 or WEFT_ENOMEM. */
int weft__eio_name(weft__eio_listener *el, weft__eio_session *s);
void weft__eio_unindex(weft__eio_listener *el, weft__eio_session *s);
/* Moves a session to a timer list (NONE: off them all). */
void weft__eio_timer_set(weft__eio_listener *el, weft__eio_session *s, int list);

/* ---- session.c ---- */

enum {
  WEFT__EIO_S_NEW = 0, /* asked for, being admitted */
  WEFT__EIO_S_OPEN,
  WEFT__EIO_S_CLOSING, /* its close is on the way to the peer */
  WEFT__EIO_S_CLOSED   /* the owner heard closed (freed unless busy) */
};

struct weft__eio_session {
  weft__conn base; /* the owner's part lies before it */
  uint8_t client;  /* 0: tells it from a dialed connection (transport.c) */
  weft__eio_listener *el;
  weft__eio_session *hnext;         /* sid chain */
  weft__eio_session *tnext, *tprev; /* timer list */
  uint64_t deadline;
  weft__http_conn *hs;   /* while NEW: the handshake request */
  weft__http_conn *poll; /* the held GET */
  weft__http_conn *post; /* the POST whose body is being read */
  weft__ws_sconn *ws;    /* probing, or upgraded */
  weft__payload **q;     /* queued for the next poll, in order */
  uint32_t q_len, q_cap;
  size_t q_bytes; /* bytes of the payload they make */
  size_t q_held;  /* memory they hold (what send's limit counts) */
  uint8_t state;  /* WEFT__EIO_S_* */
  uint8_t tlist;  /* WEFT__EIO_T_* */
  uint8_t upgraded, probed, b64, refreshed, admitting, first, busy, dead;
  uint8_t kept;   /* the owner keeps the block (its closed returned nonzero) */
  uint8_t paused; /* weft_spark_pause: posts (or the WebSocket) wait */
  uint8_t *stash; /* paused: the body of the post that waits */
  size_t stash_len;
  char sid[24];
  weft__http_req req; /* the handshake request, once admitted */
};

static inline weft__eio_session *weft__eio_of(weft__conn *c) {
  return (weft__eio_session *)(void *)c;
}

/* A new session for a handshake request (its owner's part before it). */
weft__eio_session *weft__eio_session_new(weft__eio_listener *el, weft__http_conn *hs);
/* Queues a packet built whole ("2", "6", "1", "0{…}", "3probe"), past the
 * limit (control). Returns 0 or an error. */
int weft__eio_send_packet(weft__eio_session *s, const char *text, size_t n);
/* One packet from the peer (a POST's or a WebSocket frame's). */
void weft__eio_packet_in(weft__eio_session *s, const weft__eio_packet *pk);
/* Ends a session: closing (with `why`) when open, its close packet or
 * frame, then closed once delivered (or its deadline). */
void weft__eio_end(weft__eio_session *s, const weft__fault *why);
/* The owner hears closed and the memory goes (now, or after a dispatch
 * that holds it busy). */
void weft__eio_finish(weft__eio_session *s, const weft__fault *why);
/* Brackets work that may end the session: it stays allocated meanwhile. */
static inline void weft__eio_hold(weft__eio_session *s) { s->busy++; }
void weft__eio_release(weft__eio_session *s);
/* The heartbeat: ping now (then wait for the pong), or time out. */
void weft__eio_ping(weft__eio_session *s);
/* The open packet's JSON into out (NUL-terminated); returns its length. */
size_t weft__eio_handshake(const weft__eio_session *s, int upgrades, char *out, size_t cap);
/* The queued packets go to the held poll now, when there is one and
 * something to say (or `noop`: a "6" when nothing is queued). */
void weft__eio_flush_poll(weft__eio_session *s, int noop);
/* Moves what is queued onto the upgraded WebSocket. */
int weft__eio_drain_to_ws(weft__eio_session *s);

/* The connection ops. */
int weft__eio_send(weft__conn *c, weft__payload *p, size_t limit, size_t *queued);
void weft__eio_hold_op(weft__conn *c);
size_t weft__eio_queued(const weft__conn *c, size_t *held);
void weft__eio_close(weft__conn *c, int code, const char *reason);
void weft__eio_abort(weft__conn *c);
void weft__eio_pause(weft__conn *c, int on);
/* Reading resumes: the post that waits goes on (poll.c). */
void weft__eio_post_resume(weft__eio_session *s);
const weft__http_req *weft__eio_peer(const weft__conn *c);
/* The session's request once taken from its handshake (else NULL). */
weft__http_req *weft__eio_request(weft__conn *c);
const char *weft__eio_id(const weft__conn *c);
void weft__eio_accept(weft__conn *c);
void weft__eio_reject(weft__conn *c, int status, const char *message);

/* ---- poll.c: the HTTP handler ---- */

extern const weft__http_handler weft__eio_handler;
/* The session an HTTP connection serves (its block's ws part holds it). */
static inline weft__ws_sconn *weft__eio_sconn(weft__http_conn *hc) { return weft__ws_sconn_of(hc); }
static inline weft__eio_session *weft__eio_session_of(weft__http_conn *hc) {
  return (weft__eio_session *)weft__eio_sconn(hc)->ws.base.owner;
}
/* Answers an engine.io error (400 JSON; 403 for FORBIDDEN; a WebSocket
 * upgrade gets engine.io's text/html 400). */
void weft__eio_refuse(weft__http_conn *hc, int code);

/* ---- upgrade.c: the WebSocket side ---- */

/* Serves a held upgrade request as the session's WebSocket (a direct
 * handshake, or a probe). Returns 0 or an error (aborted). */
int weft__eio_ws_open(weft__eio_session *s, weft__http_conn *hc);
/* Sends one payload on the upgraded WebSocket. */
int weft__eio_ws_send(weft__eio_session *s, weft__payload *p, size_t limit, size_t *queued);
/* A packet built whole as a text frame. */
int weft__eio_ws_packet(weft__ws_conn *w, const char *text, size_t n);
/* The session lets go of its WebSocket (no more events). */
void weft__eio_ws_detach(weft__eio_session *s, int abort);

/* ---- dial.c: the client ---- */

int weft__eio_dial(const weft__dial_params *p, weft__conn **out);
void weft__eio_cancel(weft__conn *c, int orderly);

#endif
