/*
 * The engine.io client's connection (dial.c, dial_poll.c): the handshake
 * over polling (then the probe and the upgrade to WebSocket when the
 * server offers it and the client allows it), or over a WebSocket from the
 * start; the packets each way; the server's heartbeat answered and timed.
 */
#ifndef WEFT__EIO_DIAL_H
#define WEFT__EIO_DIAL_H

#include "eio.h"
#include "http/fetch.h"

typedef struct eio_dconn {
  weft__conn base;
  uint8_t client; /* 1: tells it from a server's session (transport.c) */
  weft_loop *loop;
  weft__url url; /* path: the pathname with a trailing '/' */
  char query[1100];
  struct weft__tls_ctx *tls;
  weft__buf headers;
  size_t max_length;
  unsigned modes;
  uint8_t open;     /* the handshake is done (opened told) */
  uint8_t done;     /* closed, or cancelled: no more events */
  uint8_t upgraded; /* packets go over the WebSocket */
  uint8_t pausing;  /* the probe answered: polling winds down */
  uint8_t can_upgrade;
  uint8_t lingering; /* cancelled while polling: the last poll may come back */
  char sid[64];
  uint32_t ping_interval, ping_timeout;
  uint32_t requests; /* for the t= parameter */
  weft__http_fetch *get, *post;
  weft__payload **q; /* packets waiting for the next post */
  size_t q_len, q_cap, q_bytes;
  weft__conn *ws;        /* probing, upgraded, or the only transport */
  weft__flushable flush; /* end of the turn: the owner's seal, then the post */
  uv_timer_t timer;      /* the heartbeat's deadline */
  weft__fault fault;
  char fault_msg[160];
} eio_dconn;

/* dial.c */
/* Fails the connection (closing, then closed with `why`), once. */
void weft__eio_dfail(eio_dconn *d, int code, const char *kind, const char *msg);
/* The server answered the handshake with `status`: refused, then closed. */
void weft__eio_drefused(eio_dconn *d, int status, const uint8_t *body, size_t len);
/* One packet from the server (over either transport). */
void weft__eio_din(eio_dconn *d, const weft__eio_packet *pk);
/* A packet of ours: over the WebSocket once upgraded, else queued for the
 * next post (a text packet built whole, or a message payload). */
int weft__eio_dsend(eio_dconn *d, weft__payload *p);
int weft__eio_dsend_text(eio_dconn *d, const char *text, size_t n);
/* The polling handshake is done: open, and the probe when allowed. */
void weft__eio_dopened(eio_dconn *d);
/* Lets go of everything; the memory goes once the timer is closed. */
void weft__eio_drelease(eio_dconn *d);
/* Clean end (the server's close packet, or its WebSocket closed). */
void weft__eio_dclosed(eio_dconn *d);

/* The connection ops on the client's side (transport.c dispatches). */
int weft__eio_dsend_op(weft__conn *c, weft__payload *p, size_t *queued);
void weft__eio_dhold_op(weft__conn *c);
size_t weft__eio_dqueued_op(const weft__conn *c, size_t *held);
void weft__eio_dclose_op(weft__conn *c);
void weft__eio_dabort_op(weft__conn *c);

/* dial_poll.c */
/* The next request target ("/primus/?EIO=4&transport=polling&t=…&sid=…"). */
void weft__eio_dtarget(eio_dconn *d, const char *transport, char *out, size_t cap);
/* Starts a polling request of the session: a GET (body NULL; the answer
 * bounded by the largest message) or a POST of `body`; cb (may be NULL)
 * gets the result with d as its user. Returns 0 or an error. */
int weft__eio_drequest(eio_dconn *d, const uint8_t *body, size_t len, weft__http_fetch_cb cb,
                       weft__http_fetch **out);
/* Starts the handshake, or the next poll. Returns 0 or an error. */
int weft__eio_dpoll(eio_dconn *d);
/* Posts what is queued, when no post is on its way. */
void weft__eio_dpost(eio_dconn *d);
/* Parses the open packet's JSON. Returns 0 or WEFT_EPROTO. */
int weft__eio_dhandshake(eio_dconn *d, const uint8_t *json, size_t len);
/* The upgrade may complete once the poll and the post are back. */
void weft__eio_dmaybe_upgrade(eio_dconn *d);

#endif
