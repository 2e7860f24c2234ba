/*
 * An engine.io session's WebSocket, through transport/ws/ (its reader, its
 * frames, its closing handshake): one from the start (the open packet is
 * its first frame), or a probe of a polling session — "2probe" answered
 * "3probe", the held poll released with a noop, then "5" and the queue
 * moves over. A probe that does not finish in 10 s is closed; the session
 * goes on polling.
 */
#include <string.h>

#include "base/common.h"
#include "eio.h"

#define WEFT__EIO_UPGRADE_MS 10000 /* engine.io's upgradeTimeout */

/* Payload variants (payload.h): a copy when another framing's header is in
 * the way, and a binary message as the text packet "b<base64>". */
enum { TAG_COPY = WEFT__TAGS_EIO, TAG_B64 = WEFT__TAGS_EIO + 1 };

/* ---- frames out ---- */

/* "4" + the message as one text frame: the header and the packet type go
 * into the room in front of the data, once per payload. */
static void frame_message(weft__payload *p) {
  uint8_t h[14];
  size_t n = weft__ws_frame_header(h, WEFT__WS_TEXT, 1, 0, p->len + 1, NULL);
  memcpy(p->head + sizeof(p->head) - 1 - n, h, n);
  p->head[sizeof(p->head) - 1] = WEFT__EIO_MESSAGE;
  p->hlen = (uint8_t)(n + 1);
  p->framing = WEFT__FRAMING_EIO;
}

static WEFT__NOINLINE weft__payload *variant(weft_loop *loop, weft__payload *p, uint8_t tag) {
  weft__payload *v = weft__payload_variant(p, tag);
  if (v) return v;
  if (tag == TAG_B64) {
    v = weft__payload_take(loop, WEFT__P_TEXT, NULL, 1 + weft__b64_len(p->len));
    if (!v) return NULL;
    v->data[0] = WEFT__EIO_BINARY;
    weft__b64_encode(v->data + 1, p->data, p->len);
  } else if (!(v = weft__payload_take(loop, p->kind, p->data, p->len))) {
    return NULL;
  }
  weft__payload_add_variant(p, v, tag);
  return v;
}

int weft__eio_ws_send(weft__eio_session *s, weft__payload *p, size_t limit, size_t *queued) {
  weft__ws_conn *w = &s->ws->ws;
  weft__stream *io = weft__ws_io(w);
  if (w->state != WEFT__WS_OPEN) return WEFT_ECLOSED;
  if (p->kind == WEFT__P_RAW) return weft__eio_ws_packet(w, (const char *)p->data, p->len);
  if (p->kind == WEFT__P_BINARY) {
    /* A binary frame as it is, or (b64: the client cannot take binary)
     * a text packet. */
    if (s->b64 && !(p = variant(io->loop, p, TAG_B64))) return WEFT_ENOMEM;
    return weft__ws_send(&w->base, p, limit, queued);
  }
  if (io->held + weft__stream_cost(p) > limit) return WEFT_ENOBUFS;
  if (p->framing != WEFT__FRAMING_EIO) {
    if (p->framing && !(p = variant(io->loop, p, TAG_COPY))) return WEFT_ENOMEM;
    if (p->framing != WEFT__FRAMING_EIO) frame_message(p);
  }
  int rc = weft__stream_enqueue(io, p);
  if (queued) *queued = io->queued;
  return rc;
}

int weft__eio_ws_packet(weft__ws_conn *w, const char *text, size_t n) {
  if (w->state != WEFT__WS_OPEN) return WEFT_ECLOSED;
  weft__stream *io = weft__ws_io(w);
  weft__payload *p = weft__payload_take(io->loop, WEFT__P_RAW, NULL, 10 + n);
  if (!p) return WEFT_ENOMEM;
  size_t h = weft__ws_frame_header(p->data, WEFT__WS_TEXT, 1, 0, n, NULL);
  memcpy(p->data + h, text, n);
  p->len = h + n;
  int rc = weft__stream_enqueue(io, p);
  weft__payload_release(p);
  return rc;
}

void weft__eio_ws_detach(weft__eio_session *s, int abort) {
  weft__ws_sconn *sc = s->ws;
  if (!sc) return;
  s->ws = NULL;
  s->probed = 0;
  sc->ws.base.owner = NULL;
  if (abort)
    weft__ws_abort(&sc->ws.base);
  else
    weft__ws_close(&sc->ws.base, WEFT__CLOSE_NORMAL, NULL);
}

/* ---- the WebSocket's events ---- */

static weft__ws_sconn *sconn_of(weft__conn *c) { return (weft__ws_sconn *)(void *)c; }

static void ws_opened(weft__conn *c) {
  weft__eio_session *s = c->owner;
  weft__ws_sconn *sc = sconn_of(c);
  if (!s || s->state != WEFT__EIO_S_NEW) return; /* a probe: it waits for "2probe" */
  /* Opened from the start: the open packet, then the owner's opened. */
  char open[256];
  size_t n = weft__eio_handshake(s, 0, open, sizeof(open));
  s->ws = sc;
  s->upgraded = 1;
  s->hs = NULL;
  weft__http_take_req(&sc->hc, &s->req);
  if (n == 0 || weft__eio_ws_packet(&sc->ws, open, n) != 0) {
    weft__eio_finish(s, NULL);
    return;
  }
  s->state = WEFT__EIO_S_OPEN;
  weft__eio_timer_set(s->el, s, WEFT__EIO_T_PING);
  if (s->base.owner && s->base.ev->opened) s->base.ev->opened(&s->base);
}

/* A probe's packets: only the probe and the upgrade belong there. */
static void probe_in(weft__eio_session *s, weft__ws_sconn *sc, const weft__eio_packet *pk) {
  if (pk->type == WEFT__EIO_PING && pk->len == 5 && memcmp(pk->data, "probe", 5) == 0) {
    weft__eio_ws_packet(&sc->ws, "3probe", 6);
    s->probed = 1;
    /* The client waits for its poll to come back before it upgrades. */
    weft__eio_flush_poll(s, 1);
  } else if (pk->type == WEFT__EIO_UPGRADE && s->probed) {
    s->upgraded = 1;
    s->probed = 0;
    if (s->paused) weft__ws_pause(&sc->ws.base, 1);
    weft__http_deadline(&sc->hc, 0);
    weft__eio_hold(s);
    weft__eio_flush_poll(s, 1); /* a poll still held gets a noop */
    if (s->state == WEFT__EIO_S_OPEN || s->state == WEFT__EIO_S_CLOSING) weft__eio_drain_to_ws(s);
    if (s->state == WEFT__EIO_S_CLOSING) weft__ws_close(&sc->ws.base, WEFT__CLOSE_NORMAL, NULL);
    weft__eio_release(s);
  } else {
    weft__eio_ws_detach(s, 0);
  }
}

static void ws_message(weft__conn *c, int binary, uint8_t *data, size_t len) {
  weft__eio_session *s = c->owner;
  weft__ws_sconn *sc = sconn_of(c);
  if (!s || s->ws != sc) return;
  weft__eio_packet pk;
  if (weft__eio_packet_decode(binary, data, len, &pk) != 0) {
    if (!s->upgraded) {
      weft__eio_ws_detach(s, 0);
      return;
    }
    weft__fault f = {WEFT_EPROTO, "protocol", "malformed engine.io packet"};
    weft__eio_finish(s, &f);
    return;
  }
  if (s->upgraded)
    weft__eio_packet_in(s, &pk);
  else
    probe_in(s, sc, &pk);
}

static void ws_drained(weft__conn *c) {
  weft__eio_session *s = c->owner;
  if (s && s->upgraded && s->ws == sconn_of(c) && s->state == WEFT__EIO_S_OPEN && s->base.owner &&
      s->base.ev->drained)
    s->base.ev->drained(&s->base);
}

static void ws_seal(weft__conn *c) {
  weft__eio_session *s = c->owner;
  if (s && s->upgraded && s->ws == sconn_of(c) && s->state == WEFT__EIO_S_OPEN && s->base.owner &&
      s->base.ev->seal)
    s->base.ev->seal(&s->base);
}

static void ws_closing(weft__conn *c, const weft__fault *why) {
  weft__eio_session *s = c->owner;
  if (!s || !s->upgraded || s->ws != sconn_of(c) || s->state != WEFT__EIO_S_OPEN) return;
  s->state = WEFT__EIO_S_CLOSING;
  if (s->base.owner && s->base.ev->closing) s->base.ev->closing(&s->base, why);
}

static int ws_closed(weft__conn *c, const weft__fault *why) {
  weft__eio_session *s = c->owner;
  if (s && s->state == WEFT__EIO_S_NEW && s->hs == &sconn_of(c)->hc) {
    s->hs = NULL; /* a handshake that failed before it opened */
    weft__eio_finish(s, why);
    return 0;
  }
  if (!s || s->ws != sconn_of(c)) return 0;
  if (s->upgraded) {
    s->ws = NULL;
    weft__eio_finish(s, why);
  } else {
    s->ws = NULL; /* a probe that failed: polling goes on */
    s->probed = 0;
  }
  return 0; /* the WebSocket's block is the session's, not an owner's */
}

static const weft__conn_events ws_events = {ws_opened,  ws_message, ws_drained, ws_seal,
                                            ws_closing, NULL,       ws_closed,  NULL};

int weft__eio_ws_open(weft__eio_session *s, weft__http_conn *hc) {
  weft__ws_sconn *sc = weft__eio_sconn(hc);
  int probe = s->state == WEFT__EIO_S_OPEN;
  if (probe)
    s->ws = sc;
  else
    s->hs = hc;
  int rc = weft__ws_serve_for(sc, &ws_events, s, s->el->l->p.max_length);
  if (rc == 0 && probe) weft__http_deadline(hc, WEFT__EIO_UPGRADE_MS);
  return rc;
}
