/*
 * The engine.io client (see dial.h): its life, its connection ops, the
 * server's heartbeat, and its WebSocket — a dialed transport/ws connection
 * it owns, probed ("2probe", "3probe") and then upgraded to ("5") once the
 * poll and the post in flight came back, or the only one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "dial.h"

#define EMIT WEFT__DIAL_EMIT

/* ---- the end ---- */

static void on_timer_closed(uv_handle_t *h) {
  eio_dconn *d = h->data;
  weft_loop *loop = d->loop;
  weft__buf_free(&d->headers);
  free(d->q);
  free(d);
  loop->users--;
}

/* Lets go of everything: requests, the WebSocket (`orderly`: a close
 * frame), the queue; the memory goes once the timer handle is closed. */
static void release(eio_dconn *d, int orderly) {
  d->lingering = 0;
  if (d->get) weft__http_fetch_cancel(d->get);
  if (d->post) weft__http_fetch_cancel(d->post);
  d->get = d->post = NULL;
  if (d->ws) weft__transport_ws.dialer.cancel(d->ws, orderly);
  d->ws = NULL;
  for (size_t i = 0; i < d->q_len; i++)
    weft__payload_release(d->q[i]);
  d->q_len = d->q_bytes = 0;
  weft__loop_unmark_dirty(d->loop, &d->flush);
  if (!uv_is_closing((uv_handle_t *)&d->timer)) uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}

static void finish(eio_dconn *d, const weft__fault *why) {
  if (d->done) return;
  if (d->open) EMIT(d, closing, why);
  EMIT(d, closed, why);
  d->done = 1;
  release(d, 0);
}

void weft__eio_dfail(eio_dconn *d, int code, const char *kind, const char *msg) {
  if (d->done) return;
  snprintf(d->fault_msg, sizeof(d->fault_msg), "%s", msg ? msg : weft_strerror(code));
  d->fault = (weft__fault){code, kind, d->fault_msg};
  finish(d, &d->fault);
}

void weft__eio_drefused(eio_dconn *d, int status, const uint8_t *body, size_t len) {
  EMIT(d, refused, status, body, len);
  finish(d, NULL);
}

void weft__eio_dclosed(eio_dconn *d) { finish(d, NULL); }

/* ---- heartbeat ---- */

static void on_silence(uv_timer_t *t) {
  weft__eio_dfail(t->data, WEFT_ETIMEDOUT, "timeout", "no engine.io ping from the server");
}

/* The server pings every pingInterval; one missed by pingTimeout more ends
 * the connection, as engine.io-client does. */
static void heartbeat(eio_dconn *d) {
  if (!d->done && d->ping_interval)
    uv_timer_start(&d->timer, on_silence, (uint64_t)d->ping_interval + d->ping_timeout, 0);
}

/* ---- packets ---- */

void weft__eio_din(eio_dconn *d, const weft__eio_packet *pk) {
  switch (pk->type) {
  case WEFT__EIO_PING:
    heartbeat(d);
    weft__eio_dsend_text(d, "3", 1);
    break;
  case WEFT__EIO_MESSAGE: EMIT(d, message, 0, pk->data, pk->len); break;
  case WEFT__EIO_BINARY: EMIT(d, message, 1, pk->data, pk->len); break;
  case WEFT__EIO_CLOSE: weft__eio_dclosed(d); break;
  default: break; /* pong, noop, upgrade: nothing */
  }
}

static int ws_text(eio_dconn *d, const char *a, size_t na, const uint8_t *b, size_t nb) {
  weft__payload *p = weft__payload_take(d->loop, WEFT__P_TEXT, NULL, na + nb);
  if (!p) return WEFT_ENOMEM;
  memcpy(p->data, a, na);
  if (nb) memcpy(p->data + na, b, nb);
  int rc = weft__transport_ws.conn.send(d->ws, p, SIZE_MAX, NULL);
  weft__payload_release(p);
  return rc;
}

int weft__eio_dsend(eio_dconn *d, weft__payload *p) {
  if (d->done) return WEFT_ECLOSED;
  if (d->upgraded && d->ws) {
    if (p->kind == WEFT__P_BINARY) return weft__transport_ws.conn.send(d->ws, p, SIZE_MAX, NULL);
    if (p->kind == WEFT__P_RAW) return ws_text(d, (const char *)p->data, p->len, NULL, 0);
    return ws_text(d, "4", 1, p->data, p->len);
  }
  if (d->q_len == d->q_cap) {
    size_t cap = d->q_cap ? d->q_cap * 2 : 8;
    weft__payload **q = realloc(d->q, cap * sizeof(*q));
    if (!q) return WEFT_ENOMEM;
    d->q = q;
    d->q_cap = cap;
  }
  p->refs++;
  d->q[d->q_len++] = p;
  d->q_bytes += weft__eio_packet_len(p) + 1;
  weft__loop_mark_dirty(d->loop, &d->flush); /* posted at the end of the turn */
  return 0;
}

int weft__eio_dsend_text(eio_dconn *d, const char *text, size_t n) {
  weft__payload *p = weft__payload_take(d->loop, WEFT__P_RAW, text, n);
  if (!p) return WEFT_ENOMEM;
  int rc = weft__eio_dsend(d, p);
  weft__payload_release(p);
  return rc;
}

/* ---- the WebSocket ---- */

void weft__eio_dmaybe_upgrade(eio_dconn *d) {
  if (!d->pausing || d->get || d->post || !d->ws || d->done) return;
  d->pausing = 0;
  d->upgraded = 1;
  if (ws_text(d, "5", 1, NULL, 0) != 0) {
    weft__eio_dfail(d, WEFT_ENOMEM, "io", NULL);
    return;
  }
  /* What waited for a post goes over the WebSocket now, in order. */
  size_t n = d->q_len;
  d->q_len = d->q_bytes = 0;
  for (size_t i = 0; i < n; i++) {
    weft__eio_dsend(d, d->q[i]);
    weft__payload_release(d->q[i]);
  }
}

static void ws_opened(weft__conn *c) {
  eio_dconn *d = c->owner;
  if (d->open && !d->upgraded) ws_text(d, "2probe", 6, NULL, 0);
}

static void ws_message(weft__conn *c, int binary, uint8_t *data, size_t len) {
  eio_dconn *d = c->owner;
  weft__eio_packet pk;
  if (weft__eio_packet_decode(binary, data, len, &pk) != 0) {
    weft__eio_dfail(d, WEFT_EPROTO, "protocol", "malformed engine.io packet");
    return;
  }
  if (!d->open) { /* WebSocket only: the open packet first */
    if (pk.type != WEFT__EIO_OPEN || weft__eio_dhandshake(d, pk.data, pk.len) != 0) {
      weft__eio_dfail(d, WEFT_EPROTO, "protocol", "no engine.io open packet");
      return;
    }
    d->open = 1;
    d->upgraded = 1;
    heartbeat(d);
    if (d->base.owner && d->base.ev->opened) d->base.ev->opened(&d->base);
    return;
  }
  if (d->upgraded) {
    weft__eio_din(d, &pk);
  } else if (pk.type == WEFT__EIO_PONG && pk.len == 5 && memcmp(pk.data, "probe", 5) == 0) {
    d->pausing = 1; /* the upgrade, once polling is idle */
    weft__eio_dmaybe_upgrade(d);
  }
}

static void ws_seal(weft__conn *c) {
  eio_dconn *d = c->owner;
  if (d->upgraded && !d->done && d->base.owner && d->base.ev->seal) d->base.ev->seal(&d->base);
}

static void ws_drained(weft__conn *c) {
  eio_dconn *d = c->owner;
  if (d->upgraded && !d->done && d->base.owner && d->base.ev->drained)
    d->base.ev->drained(&d->base);
}

static void ws_refused(weft__conn *c, int status, const uint8_t *body, size_t len) {
  eio_dconn *d = c->owner;
  if (!d->open) weft__eio_drefused(d, status, body, len);
}

static int ws_closed(weft__conn *c, const weft__fault *why) {
  eio_dconn *d = c->owner;
  d->ws = NULL;
  if (d->upgraded || !d->open) {
    if (why)
      weft__eio_dfail(d, why->code, why->kind, why->message);
    else
      finish(d, NULL);
    return 0;
  }
  /* A probe that failed: polling goes on. */
  d->pausing = 0;
  int rc = weft__eio_dpoll(d);
  if (rc == 0) weft__eio_dpost(d);
  if (rc) weft__eio_dfail(d, rc, "connect", NULL);
  return 0; /* a client keeps nothing */
}

static const weft__conn_events ws_events = {ws_opened, ws_message, ws_drained, ws_seal,
                                            NULL,      ws_refused, ws_closed,  NULL};

static int dial_ws(eio_dconn *d) {
  weft__dial_params p = {.loop = d->loop,
                         .url = d->url,
                         .tls = d->tls,
                         .headers = &d->headers,
                         .max_length = d->max_length,
                         .ev = &ws_events,
                         .owner = d};
  weft__eio_dtarget(d, "websocket", p.url.path, sizeof(p.url.path));
  return weft__transport_ws.dialer.dial(&p, &d->ws);
}

void weft__eio_dopened(eio_dconn *d) {
  d->open = 1;
  heartbeat(d);
  if (d->base.owner && d->base.ev->opened) d->base.ev->opened(&d->base);
  if (d->done || !d->can_upgrade || !(d->modes & WEFT__DIAL_WEBSOCKET)) return;
  if (dial_ws(d) != 0) d->ws = NULL; /* polling goes on */
}

/* ---- the end of the loop turn ---- */

static void on_seal(weft__flushable *f) {
  eio_dconn *d = WEFT__CONTAINER(f, eio_dconn, flush);
  if (d->open && !d->upgraded && !d->done && d->base.owner && d->base.ev->seal)
    d->base.ev->seal(&d->base);
}

static void on_flush(weft__flushable *f) { weft__eio_dpost(WEFT__CONTAINER(f, eio_dconn, flush)); }

static const weft__flush_ops flush_ops = {on_seal, on_flush, NULL};

/* ---- the connection ops (the client's side of transport.c's) ---- */

int weft__eio_dsend_op(weft__conn *c, weft__payload *p, size_t *queued) {
  eio_dconn *d = (eio_dconn *)c;
  if (d->done || !d->open) return WEFT_ECLOSED;
  int rc = weft__eio_dsend(d, p);
  if (queued) *queued = d->q_bytes;
  return rc;
}

void weft__eio_dhold_op(weft__conn *c) {
  eio_dconn *d = (eio_dconn *)c;
  if (d->upgraded && d->ws)
    weft__transport_ws.conn.hold(d->ws);
  else if (!d->done)
    weft__loop_mark_dirty(d->loop, &d->flush);
}

size_t weft__eio_dqueued_op(const weft__conn *c, size_t *held) {
  const eio_dconn *d = (const eio_dconn *)(const void *)c;
  size_t q = d->q_bytes;
  if (d->ws && d->upgraded) q += weft__transport_ws.conn.queued(d->ws, NULL);
  if (held) *held = q;
  return q;
}

/* A close packet of its own, for a session polling (no answer awaited). */
static void post_close(eio_dconn *d) {
  weft__http_fetch *f;
  weft__eio_drequest(d, (const uint8_t *)"1", 1, NULL, &f);
}

static void on_linger(uv_timer_t *t) { release(t->data, 0); }

void weft__eio_drelease(eio_dconn *d) { release(d, 0); }

void weft__eio_cancel(weft__conn *c, int orderly) {
  eio_dconn *d = (eio_dconn *)c;
  c->owner = NULL;
  if (d->done) return;
  d->done = 1;
  if (!orderly || !d->open || d->upgraded || !d->get) {
    if (orderly && d->open && !d->upgraded) post_close(d);
    release(d, orderly);
    return;
  }
  /* Polling: the close packet is posted, and the poll in flight is left to
   * come back (the server answers it once it has the close), as
   * engine.io-client does, for a second at most. */
  post_close(d);
  if (d->post) weft__http_fetch_cancel(d->post);
  d->post = NULL;
  d->lingering = 1;
  uv_timer_start(&d->timer, on_linger, 1000, 0);
}

void weft__eio_dclose_op(weft__conn *c) {
  eio_dconn *d = (eio_dconn *)c;
  if (d->done) return;
  if (d->open && !d->upgraded) post_close(d);
  if (d->ws) weft__transport_ws.dialer.cancel(d->ws, 1);
  d->ws = NULL;
  finish(d, NULL);
}

void weft__eio_dabort_op(weft__conn *c) { finish((eio_dconn *)c, NULL); }

int weft__eio_dial(const weft__dial_params *p, weft__conn **out) {
  *out = NULL;
  eio_dconn *d = calloc(1, sizeof(*d));
  if (!d) return WEFT_ENOMEM;
  d->base.tran = &weft__transport_eio;
  d->client = 1;
  d->base.ev = p->ev;
  d->base.owner = p->owner;
  d->loop = p->loop;
  d->url = p->url;
  d->tls = p->tls;
  d->max_length = p->max_length;
  d->modes = p->modes ? p->modes : WEFT__DIAL_POLLING | WEFT__DIAL_WEBSOCKET;
  d->flush.ops = &flush_ops;
  /* The pathname with a trailing '/' (engine.io's path), and the query. */
  size_t n = strcspn(p->url.path, "?");
  const char *q = p->url.path + n;
  snprintf(d->query, sizeof(d->query), "%s", *q ? q + 1 : "");
  while (n > 0 && p->url.path[n - 1] == '/')
    n--;
  snprintf(d->url.path, sizeof(d->url.path), "%.*s/", (int)n, p->url.path);
  if (p->headers && p->headers->len &&
      weft__buf_append(&d->headers, p->headers->data, p->headers->len)) {
    free(d);
    return WEFT_ENOMEM;
  }
  uv_timer_init(p->loop->uv, &d->timer);
  d->timer.data = d;
  p->loop->users++;
  *out = &d->base;
  int rc = d->modes & WEFT__DIAL_POLLING ? weft__eio_dpoll(d) : dial_ws(d);
  if (rc) weft__eio_dfail(d, rc, "connect", NULL);
  return 0;
}
