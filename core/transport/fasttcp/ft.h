/*
 * The fast-tcp framing (npm fast-tcp 3.3.2's wire, codec.h) over a raw TCP
 * or Unix-domain stream: "tcp://host:port" and "ipc:///path/to.sock". No
 * HTTP and no Primus heartbeat. A connection carries typed values, not the
 * owner's encoding: incoming messages reach the owner decoded (the
 * `value` event) and outgoing ones are framed from their values
 * (conn.encode). How values and events map is in map.c and
 * docs/fasttcp.md.
 */
#ifndef WEFT__FT_H
#define WEFT__FT_H

#include "base/rand.h"
#include "codec.h"
#include "parser/parser.h"
#include "psk.h"
#include "runtime/net.h"
#include "runtime/stream.h"
#include "transport/transport.h"

extern const weft__transport weft__transport_ft;

enum { WEFT__FT_NEW = 0, WEFT__FT_OPEN, WEFT__FT_CLOSING, WEFT__FT_CLOSED };
enum { WEFT__FT_PSK_DONE = 0, WEFT__FT_PSK_ANSWER, WEFT__FT_PSK_CHALLENGE, WEFT__FT_PSK_VERDICT };

/* The plain write of a value that is not an event travels as this event
 * (and this event arrives as a plain message). */
#define WEFT__FT_PLAIN_EVENT "data"
/* Flags bit on an event whose data is the array of its arguments (more
 * than one): a weft peer spreads them back; fast-tcp ignores flags. */
#define WEFT__FT_FLAG_ARGS 1
/* Flags bit on a room request (join, leave, leave all) with a message id:
 * "answer it with an ack" (the policy's verdict); on a server's register:
 * "this server answers such requests" (a weft server). npm fast-tcp
 * neither sets nor reads it, so a weft client settles its room requests
 * to such a server itself once they are queued (dial.c). */
#define WEFT__FT_FLAG_ROOM_ACK 2
/* Flags bit on an ack that refuses: its data is {"error": reason} (what
 * an npm fast-tcp peer sees); a weft peer hands [reason] on, a rejection. */
#define WEFT__FT_FLAG_REJECT 4

typedef struct weft__ft_listener weft__ft_listener;

typedef struct weft__ft_conn {
  weft__conn base;
  weft__stream io;
  weft__ft_listener *fl;             /* the listener (server side), else NULL */
  struct weft__ft_conn *prev, *next; /* the listener's list */
  uint8_t state;                     /* WEFT__FT_* */
  uint8_t admitting;                 /* inside the owner's admit */
  uint8_t client;
  uint8_t opened;  /* the owner heard `opened` */
  uint8_t answers; /* client: the server answers room requests (FLAG_ROOM_ACK) */
  uint32_t fed;    /* bytes handed up this loop turn */
  size_t max;      /* the largest frame read */
  char id[24];     /* the name told to the peer (MT_REGISTER) */
  /* PSK handshake (psk.h): its phase, the nonces (Ns | Nc), the key (the
   * listener's or the dialer's copy), randomness, and when it began. */
  uint8_t psk; /* WEFT__FT_PSK_* */
  uint8_t nonce[2 * WEFT__PSK_NONCE];
  const uint8_t *key;
  size_t klen;
  weft__rand *rand;
  uint64_t born;
  /* tcps://: the TLS handshake is not done (since `born`). */
  uint8_t tls_wait;
  /* Object data's encoding (weft__ft_objects of the owner's parser). */
  const weft__parser_ops *objects;
  weft__http_req req;
  weft__connector connector; /* a dialed connection's */
} weft__ft_conn;

struct weft__ft_listener {
  weft__listener *l;
  weft__acceptor acc;
  weft__ft_conn *conns; /* every connection not yet gone */
  weft__rand rand;
  uint8_t acc_open, stopping;
  uint8_t psk_len_set, sweep_open; /* a key, and the handshake deadline's timer */
  uv_timer_t sweep;
  size_t klen;
  uint8_t key[WEFT__PSK_KEY_MAX];
};

/* ---- map.c: fast-tcp messages and the owner's values ---- */

/* A message from a peer as the values its owner hears (emitter packets, a
 * plain message), each handed to deliver(). Returns 0, or an error with
 * *why (the connection ends): WEFT_EPROTO (a message type a peer may not
 * send, a stream), WEFT_EPARSE (object data that is not JSON),
 * WEFT_ENOMEM. */
int weft__ft_inbound(const weft__ft_msg *m, void (*deliver)(void *u, const weft_value *v), void *u,
                     const char **why);
/* The frame(s) for one outgoing message, appended to `out`; object data
 * encoded by `objects` (weft__ft_objects). */
int weft__ft_outbound(const weft_value *msg, const weft__parser_ops *objects, weft__buf *out);
/* The object serializer for an owner's parser: json and msgpack as they
 * are, JSON for raw (which encodes no objects) and NULL. */
const weft__parser_ops *weft__ft_objects(const weft__parser_ops *owner);
/* A frame of one type, flags, event and string data (register, error). */
int weft__ft_frame_str(weft__buf *out, int mt, int flags, const char *event, const char *data);

/* ---- conn.c ---- */

/* The PSK handshake's step on bytes read: bytes consumed (0: more needed),
 * the connection failed or refused when it went wrong. */
size_t weft__ft_psk_step(weft__ft_conn *fc, const uint8_t *data, size_t len);

size_t weft__ft_read(weft__ft_conn *fc, uint8_t *data, size_t len);
/* Hands the owner a successful ack for message `id`, as a server that
 * answers room requests would send it (open connections only). */
void weft__ft_settle(weft__ft_conn *fc, uint32_t id);
void weft__ft_open(weft__ft_conn *fc);
void weft__ft_fail(weft__ft_conn *fc, int code, const char *why);
int weft__ft_closed(weft__ft_conn *fc, const weft__fault *why);
int weft__ft_send(weft__conn *c, weft__payload *p, size_t limit, size_t *queued);
int weft__ft_encode(weft__conn *c, const weft_value *msg, const weft__parser_ops *objects,
                    weft__payload **out);
void weft__ft_hold(weft__conn *c);
size_t weft__ft_queued(const weft__conn *c, size_t *held);
void weft__ft_close(weft__conn *c, int code, const char *reason);
void weft__ft_abort(weft__conn *c);
void weft__ft_pause(weft__conn *c, int on);
extern const weft__stream_ops weft__ft_stream_ops;

/* ---- listen.c ---- */

int weft__ft_bind(weft__listener *l);
void weft__ft_accept(weft__conn *c);
void weft__ft_reject(weft__conn *c, int status, const char *message);
void weft__ft_stop(weft__listener *l, int hard);
int weft__ft_adopt(weft__listener *l, int fd, const void *head, size_t n, int once);
void weft__ft_gone(weft__ft_conn *fc);  /* unlinks and frees a server connection */
void weft__ft_admit(weft__ft_conn *fc); /* hands a server connection to its owner */
/* A server connection's start once its bytes are plain (at once, or when
 * the TLS handshake of tcps:// is done): the PSK challenge or the admit. */
void weft__ft_begin(weft__ft_conn *fc);
const weft__http_req *weft__ft_peer(const weft__conn *c);
const char *weft__ft_id(const weft__conn *c);

/* ---- dial.c ---- */

int weft__ft_dial(const weft__dial_params *p, weft__conn **out);
void weft__ft_cancel(weft__conn *c, int orderly);
/* A dialed connection queued payload p to a server that does not answer
 * room requests: a room request in it that asks for an ack is settled in
 * the next check phase (never inside the owner's write). */
void weft__ft_dial_sent(weft__ft_conn *fc, const weft__payload *p);

#endif
