/*
 * What a WebSocket connection does the same on both sides: frames out
 * (written once per payload: server frames carry no mask and no
 * per-connection state, so one frame — and one compressed frame per window
 * size — serves every recipient), frames in through the reader, pings
 * answered, and the closing handshake. How a side ends its byte stream is its weft__ws_side.
 */
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "ws.h"

#define WEFT__DEFLATE_MIN 64  /* smaller messages are not worth compressing */
#define WEFT__CLOSE_WAIT 2000 /* ms a server waits for the peer's close frame */
/* Message bytes one connection may hand up per loop turn before the others
 * go: a burst of large messages costs its peers one message's time, not the
 * burst's. */
#define WEFT__TURN_BUDGET (1u << 20)

/* Payload variants this framing makes (payload.h): a copy, and one
 * compressed variant per window size (TAG_DEFLATED + bits - 9), so
 * recipients that asked for the same window share it. */
enum { TAG_COPY = WEFT__TAGS_WS, TAG_DEFLATED = WEFT__TAGS_WS + 1 };

#define EMIT(w, name, ...)                                                                         \
  do {                                                                                             \
    if ((w)->base.owner && (w)->base.ev->name) (w)->base.ev->name(&(w)->base, __VA_ARGS__);        \
  } while (0)

/* ---- frames out ---- */

static weft__payload *deflated(weft__ws_conn *w, weft__payload *p) {
  uint8_t tag = (uint8_t)(TAG_DEFLATED + weft__pmd_window(w->reader.pmd) - 9);
  weft__payload *d = weft__payload_variant(p, tag);
  if (d) return d;
  weft__buf *out = &weft__ws_io(w)->loop->scratch;
  out->len = 0;
  if (weft__pmd_deflate(w->reader.pmd, p->data, p->len, out) != 0) return NULL;
  d = weft__payload_new(p->kind, out->data, out->len);
  weft__loop_scratch_done(weft__ws_io(w)->loop);
  if (d) weft__payload_add_variant(p, d, tag);
  return d;
}

/* Writes p's frame header in front of its data, once; a client's frames
 * are masked (they are never shared). */
static void frame(weft__payload *p, const uint8_t *mask) {
  int rsv1 = p->tag >= TAG_DEFLATED && p->tag < TAG_DEFLATED + WEFT__PMD_WINDOWS; /* ours only */
  int opcode = p->kind == WEFT__P_BINARY ? WEFT__WS_BINARY : WEFT__WS_TEXT;
  if (p->len < 126 && !mask) { /* most frames: two bytes, written in place */
    p->head[sizeof(p->head) - 2] = (uint8_t)(0x80 | (rsv1 ? 0x40 : 0) | opcode);
    p->head[sizeof(p->head) - 1] = (uint8_t)p->len;
    p->hlen = 2;
  } else {
    uint8_t h[14];
    size_t n = weft__ws_frame_header(h, opcode, 1, rsv1, p->len, mask);
    memcpy(p->head + sizeof(p->head) - n, h, n);
    p->hlen = (uint8_t)n;
    if (mask) weft__ws_mask(p->data, p->len, mask, 0);
  }
  p->framing = WEFT__FRAMING_WS;
}

/* The payload as this connection sends it: compressed when negotiated,
 * framed for WebSocket (a copy when another framing's header is in
 * place). Kept out of weft__ws_send so its common case (a payload a
 * broadcast framed already) stays a few instructions. */
static WEFT__NOINLINE weft__payload *prepare(weft__ws_conn *w, weft__payload *p, int *rc) {
  if (w->reader.pmd && p->len >= WEFT__DEFLATE_MIN) {
    weft__payload *d = deflated(w, p);
    if (d) p = d; /* on failure the plain frame is still valid */
  }
  if (p->framing == WEFT__FRAMING_WS) return p;
  if (p->framing) { /* another framing's header is in place: a copy of ours */
    weft__payload *v = weft__payload_variant(p, TAG_COPY);
    if (!v) {
      if (!(v = weft__payload_new(p->kind, p->data, p->len))) {
        *rc = WEFT_ENOMEM;
        return NULL;
      }
      weft__payload_add_variant(p, v, TAG_COPY);
    }
    if (v->framing == WEFT__FRAMING_WS) return v;
    p = v;
  }
  uint8_t mask[4];
  weft__rand *r = weft__ws_side_of(w)->rand ? weft__ws_side_of(w)->rand(w) : NULL;
  if (r && weft__rand_bytes(r, mask, sizeof(mask)) != 0) {
    *rc = WEFT_EIO;
    return NULL;
  }
  frame(p, r ? mask : NULL);
  return p;
}

int weft__ws_send(weft__conn *c, weft__payload *p, size_t limit, size_t *queued) {
  weft__ws_conn *w = (weft__ws_conn *)c;
  weft__stream *io = weft__ws_io(w);
  if (w->state != WEFT__WS_OPEN) return WEFT_ECLOSED;
  if (io->held + weft__stream_cost(p) > limit) return WEFT_ENOBUFS;
  int rc = 0;
  if (!p->framing && p->len < 126 && !w->client && !w->reader.pmd) {
    /* Most messages: a server's small frame, its two-byte header written in
     * place (the same as frame(), without the call). */
    p->head[sizeof(p->head) - 2] =
        (uint8_t)(0x80 | (p->kind == WEFT__P_BINARY ? WEFT__WS_BINARY : WEFT__WS_TEXT));
    p->head[sizeof(p->head) - 1] = (uint8_t)p->len;
    p->hlen = 2;
    p->framing = WEFT__FRAMING_WS;
  } else if ((p->framing != WEFT__FRAMING_WS || w->reader.pmd) && !(p = prepare(w, p, &rc))) {
    return rc;
  }
  rc = weft__stream_enqueue(io, p);
  if (queued) *queued = io->queued;
  return rc;
}

/* A server's small message, framed in the queue (the two-byte header of
 * weft__ws_send's common case); a client's frames are masked and a
 * compressed connection's deflated, so theirs take a payload. */
uint8_t *weft__ws_reserve(weft__conn *c, int binary, size_t n, size_t limit, size_t *queued,
                          int *rc) {
  weft__ws_conn *w = (weft__ws_conn *)c;
  *rc = 0;
  if (w->state != WEFT__WS_OPEN) {
    *rc = WEFT_ECLOSED;
    return NULL;
  }
  if (n >= 126 || w->client || w->reader.pmd) return NULL;
  weft__stream *io = weft__ws_io(w);
  uint8_t *at = weft__stream_reserve(io, 2 + n, limit, rc);
  if (!at) return NULL;
  at[0] = (uint8_t)(0x80 | (binary ? WEFT__WS_BINARY : WEFT__WS_TEXT));
  at[1] = (uint8_t)n;
  *queued = io->queued;
  return at + 2;
}

/* Is `p` a pong frame this connection queued (control frames are RAW
 * payloads holding the whole frame, FIN and opcode first)? */
static int is_pong(const weft__payload *p) {
  return p && p->kind == WEFT__P_RAW && p->len >= 2 && p->data[0] == (0x80 | WEFT__WS_PONG);
}

/* A control frame, built whole (masked on a client, with a fresh mask).
 * While the kernel takes no more (a write is in flight: the peer is not
 * reading), a pong replaces one still waiting unwritten at the tail of the
 * queue: it answers the latest ping (RFC 6455 5.5.3), and a peer that pings
 * without reading pins one pong, not one per ping. A peer that reads gets
 * a pong for every ping (Autobahn 2.10). */
static int send_control(weft__ws_conn *w, int opcode, const uint8_t *data, size_t n) {
  uint8_t mask[4];
  weft__rand *r = weft__ws_side_of(w)->rand ? weft__ws_side_of(w)->rand(w) : NULL;
  if (r && weft__rand_bytes(r, mask, sizeof(mask)) != 0) return WEFT_EIO;
  weft__payload *p = weft__payload_new(WEFT__P_RAW, NULL, 14 + n);
  if (!p) return WEFT_ENOMEM;
  size_t h = weft__ws_frame_header(p->data, opcode, 1, 0, n, r ? mask : NULL);
  if (n) memcpy(p->data + h, data, n);
  if (r) weft__ws_mask(p->data + h, n, mask, 0);
  p->len = h + n;
  weft__stream *io = weft__ws_io(w);
  int rc = 0;
  if (opcode == WEFT__WS_PONG && io->blocked && is_pong(weft__stream_tail(io)))
    weft__stream_swap_tail(io, p);
  else
    rc = weft__stream_enqueue(io, p);
  weft__payload_release(p);
  return rc;
}

int weft__ws_send_binary(weft__ws_conn *w, const uint8_t *data, size_t n) {
  return send_control(w, WEFT__WS_BINARY, data, n);
}

int weft__ws_send_close(weft__ws_conn *w, int code, const char *reason) {
  uint8_t body[125];
  size_t n = weft__ws_close_payload(body, code, reason);
  return send_control(w, WEFT__WS_CLOSE, body, n);
}

void weft__ws_hold(weft__conn *c) { weft__stream_mark(weft__ws_io((weft__ws_conn *)c)); }

size_t weft__ws_queued(const weft__conn *c, size_t *held) {
  const weft__stream *io = weft__ws_io((weft__ws_conn *)(void *)(uintptr_t)c);
  if (held) *held = io->held;
  return io->queued;
}

/* ---- state ---- */

void weft__ws_open(weft__ws_conn *w) {
  if (w->psk && weft__ws_psk_begin(w)) return; /* opened once the key is proven */
  w->state = WEFT__WS_OPEN;
  if (w->base.owner && w->base.ev->opened) w->base.ev->opened(&w->base);
}

void weft__ws_down(weft__ws_conn *w, const weft__fault *why) {
  if (w->state != WEFT__WS_OPEN) return;
  w->state = WEFT__WS_CLOSING;
  weft__stream_pause(weft__ws_io(w), 0); /* the peer's close frame is read */
  EMIT(w, closing, why);
}

void weft__ws_close(weft__conn *c, int code, const char *reason) {
  weft__ws_conn *w = (weft__ws_conn *)c;
  if (w->state != WEFT__WS_OPEN) return;
  if (weft__ws_send_close(w, code, reason) != 0) {
    weft__ws_abort(c);
    return;
  }
  weft__ws_down(w, NULL);
  if (w->state != WEFT__WS_CLOSING) return; /* the owner aborted it meanwhile */
  if (weft__ws_side_of(w)->deadline)
    weft__ws_side_of(w)->deadline(w, WEFT__CLOSE_WAIT);
  else
    weft__ws_side_of(w)->linger(w);
}

void weft__ws_pause(weft__conn *c, int on) {
  weft__ws_conn *w = (weft__ws_conn *)c;
  if (w->state == WEFT__WS_OPEN) weft__stream_pause(weft__ws_io(w), on);
}

void weft__ws_abort(weft__conn *c) {
  weft__ws_conn *w = (weft__ws_conn *)c;
  if (w->state == WEFT__WS_CLOSED) return;
  weft__ws_down(w, NULL);
  w->state = WEFT__WS_CLOSED;
  weft__ws_side_of(w)->abort(w);
}

int weft__ws_closed(weft__ws_conn *w, const weft__fault *why) {
  weft__ws_down(w, NULL);
  w->state = WEFT__WS_CLOSED;
  weft__ws_reader_free(&w->reader);
  weft__ws_psk_free(w);
  return w->base.owner && w->base.ev->closed ? w->base.ev->closed(&w->base, why) : 0;
}

/* ---- frames in ---- */

static int on_message(void *ctx, int binary, uint8_t *data, size_t len) {
  weft__ws_conn *w = ctx;
  if (w->psk && w->state == WEFT__WS_NEW) { /* the pre-shared key's handshake */
    weft__ws_psk_message(w, binary, data, len);
    return w->state == WEFT__WS_CLOSED;
  }
  if (w->state != WEFT__WS_OPEN) return 0; /* closing: data is ignored */
  EMIT(w, message, binary, data, len);
  w->fed += len < WEFT__TURN_BUDGET ? (uint32_t)len : WEFT__TURN_BUDGET;
  return w->fed >= WEFT__TURN_BUDGET || w->state == WEFT__WS_CLOSED || weft__ws_io(w)->paused;
}

static int on_ping(void *ctx, uint8_t *data, size_t len) {
  weft__ws_conn *w = ctx;
  if (w->state == WEFT__WS_OPEN) send_control(w, WEFT__WS_PONG, data, len);
  return 0;
}

static int on_pong(void *ctx, uint8_t *data, size_t len) {
  (void)ctx, (void)data, (void)len;
  return 0;
}

static int on_close(void *ctx, int code, const char *reason, size_t rlen) {
  weft__ws_conn *w = ctx;
  (void)reason, (void)rlen;
  if (w->state == WEFT__WS_OPEN) { /* the peer starts it: answer with its code */
    weft__ws_send_close(w, code == WEFT__CLOSE_NO_STATUS ? 0 : code, NULL);
    weft__ws_down(w, NULL);
  }
  /* Ours was answered, or we answered: what is queued goes, then the end. */
  if (w->state == WEFT__WS_CLOSING) weft__ws_side_of(w)->linger(w);
  return 1;
}

static const weft__ws_reader_cbs reader_cbs = {on_message, on_ping, on_pong, on_close};

static const char *close_kind(int code) {
  switch (code) {
  case WEFT__CLOSE_TOO_BIG: return "toobig";
  case WEFT__CLOSE_INVALID_DATA: return "utf8";
  default: return "protocol";
  }
}

size_t weft__ws_read(weft__ws_conn *w, uint8_t *data, size_t len) {
  if (w->state != WEFT__WS_OPEN && w->state != WEFT__WS_CLOSING && !w->psk) return len;
  w->fed = 0;
  long n = weft__ws_reader_feed(&w->reader, data, len, &reader_cbs, w);
  if (n >= 0) {
    weft__stream *io = weft__ws_io(w);
    weft__stream_need(io, w->reader.need);
    if (w->fed >= WEFT__TURN_BUDGET) weft__stream_spent(io);
    return (size_t)n;
  }
  int code = w->reader.close_code ? w->reader.close_code : WEFT__CLOSE_PROTOCOL;
  if (w->state != WEFT__WS_OPEN) {
    weft__ws_abort(&w->base);
    return len;
  }
  /* Clients report every bad frame as "protocol", servers say which. */
  weft__fault f = {(int)n, weft__ws_side_of(w)->rand ? "protocol" : close_kind(code),
                   weft_strerror((int)n)};
  weft__ws_send_close(w, code, NULL);
  weft__ws_down(w, &f);
  if (w->state == WEFT__WS_CLOSING) weft__ws_side_of(w)->linger(w);
  return len;
}
