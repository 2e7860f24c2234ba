/*
 * The "websockets" transport: RFC 6455 over a byte stream (TCP, TLS, Unix
 * socket), the HTTP/1.1 upgrade on the server side through the HTTP layer,
 * and a dialer for clients. Files: conn.c (what both sides share: framing,
 * sending, the close handshake), listen.c (the listener), dial.c (the
 * dialer), codec.c and pmd.c (no I/O).
 */
#ifndef WEFT__WS_H
#define WEFT__WS_H

#include "base/rand.h"
#include "codec.h"
#include "runtime/net.h"
#include "transport/transport.h"

extern const weft__transport weft__transport_ws;

enum {
  WEFT__WS_NEW = 0, /* the handshake is not done */
  WEFT__WS_OPEN,    /* frames flow */
  WEFT__WS_CLOSING, /* our close frame is sent; waiting for the peer's */
  WEFT__WS_LINGER,  /* the closing handshake is over: flush, then close */
  WEFT__WS_CLOSED   /* the stream is closing */
};

typedef struct weft__ws_conn weft__ws_conn;
typedef struct weft__ws_psk weft__ws_psk;

/* How each side ends its byte stream (listen.c, dial.c). */
typedef struct weft__ws_side {
  void (*linger)(weft__ws_conn *w); /* write what is queued, then close */
  void (*abort)(weft__ws_conn *w);  /* close now */
  /* Closes it if it is still open after `ms` (NULL: no deadline). */
  void (*deadline)(weft__ws_conn *w, uint32_t ms);
  /* Client frames' masks; NULL on the server. */
  weft__rand *(*rand)(weft__ws_conn *w);
} weft__ws_side;

extern const weft__ws_side weft__ws_server_side, weft__ws_client_side;

/* What both sides' connections start with. The byte stream follows it
 * directly in both (see weft__ws_io). */
struct weft__ws_conn {
  weft__conn base;
  /* reader.pmd: the zlib streams when compression was negotiated (the
   * listener's for its window size, or a client's own). */
  weft__ws_reader reader;
  uint32_t fed;      /* message bytes handed up by the feed under way */
  uint8_t state;     /* WEFT__WS_* */
  uint8_t client;    /* dialed: frames out are masked (weft__ws_client_side) */
  uint8_t admitting; /* server: inside the owner's admit */
  /* The pre-shared key's handshake under way (psk.c), else NULL. */
  weft__ws_psk *psk;
};

static inline const weft__ws_side *weft__ws_side_of(const weft__ws_conn *w) {
  return w->client ? &weft__ws_client_side : &weft__ws_server_side;
}

/* A server connection: the HTTP connection (its stream first) follows. */
typedef struct weft__ws_sconn {
  weft__ws_conn ws;
  weft__http_conn hc;
} weft__ws_sconn;

/* The server connection an HTTP connection of a ws_sconn block is part of
 * (framings that serve WebSockets among their requests: engine.io, Vibe). */
static inline weft__ws_sconn *weft__ws_sconn_of(weft__http_conn *hc) {
  return (weft__ws_sconn *)(void *)((char *)hc - offsetof(weft__ws_sconn, hc));
}

static inline weft__stream *weft__ws_io(weft__ws_conn *w) {
  return (weft__stream *)(void *)(w + 1);
}

/* conn.c: the connection ops of both sides. */
int weft__ws_send(weft__conn *c, weft__payload *p, size_t limit, size_t *queued);
uint8_t *weft__ws_reserve(weft__conn *c, int binary, size_t n, size_t limit, size_t *queued,
                          int *rc);
void weft__ws_hold(weft__conn *c);
size_t weft__ws_queued(const weft__conn *c, size_t *held);
void weft__ws_close(weft__conn *c, int code, const char *reason);
void weft__ws_abort(weft__conn *c);
/* The request a server connection was opened with (NULL when dialed). */
const weft__http_req *weft__ws_peer(const weft__conn *c);
/* A server connection's request: after the upgrade only it reads it. */
weft__http_req *weft__ws_request(weft__conn *c);
/* Stops or resumes reading the connection's stream. */
void weft__ws_pause(weft__conn *c, int on);
/* The handshake is done: frames flow, and the owner hears of it. */
void weft__ws_open(weft__ws_conn *w);
/* Feeds bytes to the frame reader; returns the bytes used. */
size_t weft__ws_read(weft__ws_conn *w, uint8_t *data, size_t len);
/* The connection stops being open (once): the owner's closing event. */
void weft__ws_down(weft__ws_conn *w, const weft__fault *why);
/* The stream is closed: the owner hears it last (`why` for a failure). */
int weft__ws_closed(weft__ws_conn *w, const weft__fault *why);
/* Queues a close frame (code 0: an empty one). Returns 0 or an error. */
int weft__ws_send_close(weft__ws_conn *w, int code, const char *reason);

/* listen.c: a listener's private part, and its ops. */
/* Window sizes 9..15 (a client's 8 is served by 9). */
#define WEFT__PMD_WINDOWS 7

typedef struct weft__ws_listener {
  weft__http_endpoint ep;
  /* Compression: the streams shared by its connections, one set per
   * window size (server_max_window_bits) in use, made on first use. */
  weft__pmd *pmd[WEFT__PMD_WINDOWS];
  /* The pre-shared key its connections prove (psk_len 0: none). */
  size_t psk_len;
  uint8_t psk[256];
} weft__ws_listener;

int weft__ws_bind(weft__listener *l);
/* Answers an upgrade request held on sc, already found valid by
 * weft__ws_check_upgrade (only its key is read here), with 101 (plus `extra`
 * header lines), hands its stream to the WebSocket ops and opens it (the
 * owner's opened follows: set sc->ws.base first). Other framings that
 * upgrade to WebSocket (engine.io) use it too. Returns 0, or an error
 * after which the connection is aborted. */
int weft__ws_serve(weft__ws_sconn *sc, size_t max_length, weft__pmd *pmd, const char *extra);
/* The same for a WebSocket that another framing's session owns: its events
 * go to `ev` with `owner` as the connection's owner. */
int weft__ws_serve_for(weft__ws_sconn *sc, const weft__conn_events *ev, void *owner,
                       size_t max_length);
/* Opens l's own HTTP endpoint `ep` with `h` on ws_sconn blocks (the owner's
 * part before each), and fills l->http, l->port and l->served. Returns 0 or
 * the error of weft__http_endpoint_open (then `closed` follows). */
int weft__ws_endpoint_open(weft__listener *l, weft__http_endpoint *ep, const weft__http_handler *h,
                           void (*closed)(weft__http_endpoint *ep));
/* Is hc a valid WebSocket upgrade request (no body)? When not, it is
 * answered (426 for another version, else 400) and this returns 0. */
int weft__ws_upgrade_ok(weft__http_conn *hc);
void weft__ws_accept(weft__conn *c);
void weft__ws_reject(weft__conn *c, int status, const char *message);
void weft__ws_stop(weft__listener *l, int hard);
int weft__ws_adopt(weft__listener *l, int fd, const void *head, size_t len, int once);

/* psk.c: the pre-shared key on ws:// (decision #26). */
/* Gives w a handshake to do with this key (a copy): 0, WEFT_EINVAL or
 * WEFT_ENOMEM. */
int weft__ws_psk_new(weft__ws_conn *w, const uint8_t *key, size_t klen);
/* Wipes and frees it (none: nothing). */
void weft__ws_psk_free(weft__ws_conn *w);
/* From weft__ws_open when w->psk: the server's challenge and deadline (a
 * client waits for the challenge). Returns 1: not open yet. */
int weft__ws_psk_begin(weft__ws_conn *w);
/* A message while the handshake is under way. */
void weft__ws_psk_message(weft__ws_conn *w, int binary, const uint8_t *data, size_t len);
/* conn.c: one unfragmented binary frame of bytes as they are. */
int weft__ws_send_binary(weft__ws_conn *w, const uint8_t *data, size_t n);

/* dial.c: the dialer ops. */
int weft__ws_dial(const weft__dial_params *p, weft__conn **out);
void weft__ws_cancel(weft__conn *c, int orderly);

#endif
