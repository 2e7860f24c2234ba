/*
 * An engine.io session: the connection a spark holds, whatever carries it
 * at the moment. While polling, what is sent waits in the session's queue
 * (counted as a WebSocket's queue is: the memory it holds, against the
 * same limit) and leaves in the answer to the next poll, all of it at the
 * end of the loop turn; once upgraded, it goes straight onto the
 * WebSocket. Closing queues a close packet ("1") for the next poll, or
 * closes the WebSocket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "eio.h"

#define EMIT(s, name, ...)                                                                         \
  do {                                                                                             \
    if ((s)->base.owner && (s)->base.ev->name) (s)->base.ev->name(&(s)->base, __VA_ARGS__);        \
  } while (0)
#define EMIT0(s, name)                                                                             \
  do {                                                                                             \
    if ((s)->base.owner && (s)->base.ev->name) (s)->base.ev->name(&(s)->base);                     \
  } while (0)

/* ---- life ---- */

weft__eio_session *weft__eio_session_new(weft__eio_listener *el, weft__http_conn *hs) {
  weft__conn *c = weft__conn_block(el->l, sizeof(weft__eio_session));
  if (!c) return NULL;
  weft__eio_session *s = weft__eio_of(c);
  s->el = el;
  s->hs = hs;
  s->tlist = WEFT__EIO_T_NONE;
  s->first = 1;
  const char *b64 = weft__http_req_query(&hs->req, "b64");
  s->b64 = b64 && *b64;
  el->life.n++;
  return s;
}

static void queue_clear(weft__eio_session *s) {
  for (uint32_t i = 0; i < s->q_len; i++)
    weft__payload_release(s->q[i]);
  s->q_len = 0;
  s->q_bytes = s->q_held = 0;
}

static void session_free(weft__eio_session *s) {
  weft__eio_listener *el = s->el;
  queue_clear(s);
  /* What goes back to the allocator, so an idle server returns a crowd of
   * abandoned sessions to the system (the loop trims past a threshold). */
  size_t bytes = sizeof(*s) + s->q_cap * sizeof(*s->q) + 512; /* 512: about the request's copy */
  weft__loop_released(el->l->p.loop, bytes + (s->kept ? 0 : el->l->p.owner_size));
  free(s->q);
  weft__http_req_free(&s->req);
  if (!s->kept) free((char *)s - el->l->p.owner_size); /* else the owner frees it */
  weft__sessions_gone(&el->life);
}

void weft__eio_release(weft__eio_session *s) {
  if (--s->busy == 0 && s->dead) session_free(s);
}

/* Lets go of an HTTP request the session held: answered with `packet`
 * ("1", "6") when it was a held poll, else closed. */
static void let_go(weft__eio_session *s, weft__http_conn **slot, const char *packet) {
  weft__http_conn *hc = *slot;
  if (!hc) return;
  *slot = NULL;
  weft__eio_sconn(hc)->ws.base.owner = NULL;
  if (packet && hc->state == WEFT__HC_HELD)
    weft__http_answer(hc, 200, "text/plain; charset=UTF-8", packet, strlen(packet), NULL, 1, NULL,
                      NULL);
  else
    weft__http_abort(hc);
  (void)s;
}

void weft__eio_finish(weft__eio_session *s, const weft__fault *why) {
  if (s->state == WEFT__EIO_S_CLOSED) return;
  weft__eio_hold(s);
  if (s->state == WEFT__EIO_S_OPEN) EMIT(s, closing, why);
  s->state = WEFT__EIO_S_CLOSED;
  weft__eio_timer_set(s->el, s, WEFT__EIO_T_NONE);
  weft__eio_unindex(s->el, s);
  let_go(s, &s->poll, "1");
  let_go(s, &s->post, NULL);
  free(s->stash);
  s->stash = NULL;
  if (s->hs) {
    weft__http_conn *hs = s->hs;
    s->hs = NULL;
    weft__eio_sconn(hs)->ws.base.owner = NULL;
    if (hs->state == WEFT__HC_HELD) weft__http_abort(hs);
  }
  if (s->ws) weft__eio_ws_detach(s, 1);
  queue_clear(s);
  /* The owner may keep the block (a retained spark): it frees it later. */
  s->kept = s->base.owner && s->base.ev->closed ? s->base.ev->closed(&s->base, why) != 0 : 0;
  s->base.owner = NULL;
  s->dead = 1;
  weft__eio_release(s);
}

void weft__eio_end(weft__eio_session *s, const weft__fault *why) {
  if (s->state == WEFT__EIO_S_NEW) {
    weft__eio_finish(s, why);
    return;
  }
  if (s->state != WEFT__EIO_S_OPEN) return;
  weft__eio_hold(s);
  /* Reading resumes: the peer's answer to the close comes by a post. */
  if (s->paused) weft__eio_pause(&s->base, 0);
  s->state = WEFT__EIO_S_CLOSING;
  EMIT(s, closing, why);
  /* A probe not answered yet goes (the client polls on). One answered
   * ("3probe") stays: the client has paused its polling for it and upgrades
   * next ("5"), which moves the close packet to the WebSocket; dropping it
   * would leave the client paused until its heartbeat timeout. */
  if (s->ws && !s->upgraded && !s->probed) weft__eio_ws_detach(s, 1);
  if (s->state != WEFT__EIO_S_CLOSING) {
    /* the owner aborted it meanwhile */
  } else if (why) {
    /* A failure ends it now: a held poll learns it with a close packet. */
    weft__eio_finish(s, why);
  } else if (s->upgraded && s->ws) {
    weft__ws_close(&s->ws->ws.base, WEFT__CLOSE_NORMAL, NULL); /* closed follows */
  } else if (weft__eio_send_packet(s, "1", 1) != 0) {
    weft__eio_finish(s, NULL);
  } else {
    weft__eio_timer_set(s->el, s, WEFT__EIO_T_CLOSE); /* to wait for the next poll */
    if (s->poll) weft__http_mark(s->poll);
  }
  weft__eio_release(s);
}

/* ---- heartbeat ---- */

static void send_ping(weft__eio_session *s) {
  s->refreshed = 0;
  weft__eio_timer_set(s->el, s, WEFT__EIO_T_PONG);
  if (s->upgraded && s->ws)
    weft__eio_ws_packet(&s->ws->ws, "2", 1);
  else
    weft__eio_send_packet(s, "2", 1);
}

void weft__eio_ping(weft__eio_session *s) {
  switch (s->tlist) {
  case WEFT__EIO_T_PING: send_ping(s); break;
  case WEFT__EIO_T_PONG: {
    if (s->paused) {
      /* Its pong waits behind what it posted (as a paused WebSocket's
       * does): ping again at once, so the peer keeps hearing from us. */
      send_ping(s);
      break;
    }
    weft__fault f = {WEFT_ETIMEDOUT, "timeout", "ping timeout"};
    weft__eio_finish(s, &f);
    break;
  }
  default: weft__eio_finish(s, NULL); /* its close was never fetched */
  }
}

size_t weft__eio_handshake(const weft__eio_session *s, int upgrades, char *out, size_t cap) {
  const weft__eio_listener *el = s->el;
  int n = snprintf(out, cap,
                   "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%u,\"pingTimeout\":%u,"
                   "\"maxPayload\":%zu}",
                   s->sid, upgrades ? "\"websocket\"" : "", el->delay[WEFT__EIO_T_PING],
                   el->delay[WEFT__EIO_T_PONG], el->l->p.max_length);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- packets in ---- */

void weft__eio_packet_in(weft__eio_session *s, const weft__eio_packet *pk) {
  if (s->state == WEFT__EIO_S_CLOSING && pk->type == WEFT__EIO_CLOSE) {
    weft__eio_finish(s, NULL); /* both sides close: no need to wait for a poll */
    return;
  }
  if (s->state != WEFT__EIO_S_OPEN) return;
  /* engine.io: any packet but a pong gives a late pong its time once more. */
  if (pk->type != WEFT__EIO_PONG && s->tlist == WEFT__EIO_T_PONG && !s->refreshed) {
    s->refreshed = 1;
    weft__eio_timer_set(s->el, s, WEFT__EIO_T_PONG);
  }
  switch (pk->type) {
  case WEFT__EIO_MESSAGE: EMIT(s, message, 0, pk->data, pk->len); break;
  case WEFT__EIO_BINARY: EMIT(s, message, 1, pk->data, pk->len); break;
  case WEFT__EIO_PONG:
    if (s->tlist == WEFT__EIO_T_PONG) weft__eio_timer_set(s->el, s, WEFT__EIO_T_PING);
    break;
  case WEFT__EIO_CLOSE: /* the peer closes: a held poll gets a noop */
    weft__eio_hold(s);
    s->state = WEFT__EIO_S_CLOSING;
    EMIT(s, closing, NULL);
    let_go(s, &s->poll, "6");
    weft__eio_finish(s, NULL);
    weft__eio_release(s);
    break;
  case WEFT__EIO_PING: {
    weft__fault f = {WEFT_EPROTO, "protocol", "invalid heartbeat direction"};
    weft__eio_finish(s, &f);
    break;
  }
  default: break; /* open, upgrade, noop: nothing to do */
  }
}

/* ---- the queue ---- */

static int push(weft__eio_session *s, weft__payload *p) {
  if (s->q_len == s->q_cap) {
    uint32_t cap = s->q_cap ? s->q_cap * 2 : 4;
    weft__payload **q = realloc(s->q, cap * sizeof(*q));
    if (!q) return WEFT_ENOMEM;
    s->q = q;
    s->q_cap = cap;
  }
  s->q[s->q_len++] = p;
  p->refs++;
  s->q_bytes += weft__eio_packet_len(p) + 1;
  s->q_held += weft__payload_footprint(p) + sizeof(p);
  return 0;
}

int weft__eio_send_packet(weft__eio_session *s, const char *text, size_t n) {
  weft__payload *p = weft__payload_take(s->el->l->p.loop, WEFT__P_RAW, text, n);
  if (!p) return WEFT_ENOMEM;
  int rc = push(s, p);
  weft__payload_release(p);
  if (rc == 0 && s->poll) weft__http_mark(s->poll);
  return rc;
}

/* What fill writes: the session's queue, and from `hs` (the handshake
 * being answered, else NULL) the request to keep. */
typedef struct fill_job {
  weft__eio_session *s;
  weft__http_conn *hs;
} fill_job;

/* The whole queue as one polling payload, written straight into the
 * answer; the handshake request is taken over then (its answer is built:
 * the head was still needed for it). */
static void fill(uint8_t *dst, void *user) {
  fill_job *j = user;
  weft__eio_payload_fill(dst, j->s->q, j->s->q_len);
  if (j->hs) {
    weft__http_take_req(j->hs, &j->s->req);
    j->s->hs = NULL;
  }
}

void weft__eio_flush_poll(weft__eio_session *s, int noop) {
  if (!s->poll) return;
  weft__eio_hold(s);
  if (s->state == WEFT__EIO_S_OPEN) EMIT0(s, seal);
  if (s->poll && (s->q_len || noop) && (s->q_len || weft__eio_send_packet(s, "6", 1) == 0)) {
    size_t len = s->q_len - 1;
    for (uint32_t i = 0; i < s->q_len; i++)
      len += weft__eio_packet_len(s->q[i]);
    char extra[192] = "";
    const char *cookie = s->el->l->p.session_cookie;
    if (s->first && cookie[0])
      snprintf(extra, sizeof(extra), "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax\r\n",
               cookie, s->sid);
    s->first = 0;
    weft__http_conn *hc = s->poll;
    s->poll = NULL;
    weft__eio_sconn(hc)->ws.base.owner = NULL;
    /* s->poll is NULL by now: the job names the handshake, if that is it */
    fill_job job = {s, s->hs == hc ? hc : NULL};
    weft__http_answer(hc, 200, "text/plain; charset=UTF-8", NULL, len, extra, 1, fill, &job);
    if (s->hs == hc) s->hs = NULL; /* a HEAD request: never filled */
    queue_clear(s);
    if (s->state == WEFT__EIO_S_CLOSING)
      weft__eio_finish(s, NULL); /* its close packet went with it */
    else if (s->state == WEFT__EIO_S_OPEN)
      EMIT0(s, drained);
  }
  weft__eio_release(s);
}

int weft__eio_drain_to_ws(weft__eio_session *s) {
  int rc = 0;
  for (uint32_t i = 0; i < s->q_len && rc == 0; i++) {
    weft__payload *p = s->q[i];
    rc = p->kind == WEFT__P_RAW ? weft__eio_ws_packet(&s->ws->ws, (const char *)p->data, p->len)
                                : weft__eio_ws_send(s, p, SIZE_MAX, NULL);
  }
  queue_clear(s);
  return rc;
}

/* ---- the connection ops ---- */

int weft__eio_send(weft__conn *c, weft__payload *p, size_t limit, size_t *queued) {
  weft__eio_session *s = weft__eio_of(c);
  if (s->state != WEFT__EIO_S_OPEN) return WEFT_ECLOSED;
  if (s->upgraded) return weft__eio_ws_send(s, p, limit, queued);
  if (s->q_held + weft__payload_footprint(p) + sizeof(p) > limit) return WEFT_ENOBUFS;
  int rc = push(s, p);
  if (queued) *queued = s->q_bytes;
  if (s->poll) weft__http_mark(s->poll);
  return rc;
}

void weft__eio_hold_op(weft__conn *c) {
  weft__eio_session *s = weft__eio_of(c);
  if (s->upgraded && s->ws)
    weft__ws_hold(&s->ws->ws.base);
  else if (s->poll)
    weft__http_mark(s->poll);
}

size_t weft__eio_queued(const weft__conn *c, size_t *held) {
  const weft__eio_session *s = (const weft__eio_session *)(const void *)c;
  size_t h = s->q_held, q = s->q_bytes;
  if (s->upgraded && s->ws) {
    size_t wh;
    q += weft__ws_queued(&s->ws->ws.base, &wh);
    h += wh;
  }
  if (held) *held = h;
  return q;
}

void weft__eio_close(weft__conn *c, int code, const char *reason) {
  weft__eio_session *s = weft__eio_of(c);
  if (s->state == WEFT__EIO_S_OPEN && s->upgraded && s->ws) {
    /* As a WebSocket closes: the code and reason in its close frame. */
    s->state = WEFT__EIO_S_CLOSING;
    EMIT(s, closing, NULL);
    if (s->ws && s->state == WEFT__EIO_S_CLOSING) weft__ws_close(&s->ws->ws.base, code, reason);
    return;
  }
  weft__eio_end(s, NULL);
}

void weft__eio_abort(weft__conn *c) {
  weft__eio_session *s = weft__eio_of(c);
  queue_clear(s);
  weft__eio_finish(s, NULL);
}

/* Flow control (weft_spark_pause): an upgraded session pauses its
 * WebSocket; a polling one leaves its post's body in the kernel, so the
 * peer's next post waits for the answer of this one (engine.io clients
 * post one at a time) — backpressure without buffering. */
void weft__eio_pause(weft__conn *c, int on) {
  weft__eio_session *s = weft__eio_of(c);
  if (s->state != WEFT__EIO_S_OPEN || s->paused == on) return;
  s->paused = (uint8_t)on;
  if (s->upgraded && s->ws) weft__ws_pause(&s->ws->ws.base, on);
  if (on && s->post) weft__stream_pause(&s->post->io, 1);
  if (!on) weft__eio_post_resume(s);
}

const weft__http_req *weft__eio_peer(const weft__conn *c) {
  const weft__eio_session *s = (const weft__eio_session *)(const void *)c;
  return s->hs ? &s->hs->req : &s->req;
}

weft__http_req *weft__eio_request(weft__conn *c) {
  weft__eio_session *s = (weft__eio_session *)(void *)c;
  return s->hs ? NULL : &s->req;
}

const char *weft__eio_id(const weft__conn *c) {
  const weft__eio_session *s = (const weft__eio_session *)(const void *)c;
  return s->sid[0] ? s->sid : NULL;
}

/* ---- admission ---- */

void weft__eio_accept(weft__conn *c) {
  weft__eio_session *s = weft__eio_of(c);
  weft__http_conn *hc = s->hs;
  if (s->state != WEFT__EIO_S_NEW || !hc) return;
  if (weft__eio_name(s->el, s) != 0) {
    weft__eio_reject(c, 503, NULL);
    return;
  }
  if (weft__http_header_has(&hc->req.head, "Upgrade", "websocket")) {
    int inside = s->admitting;
    weft__eio_hold(s);
    /* The open packet goes first, then the owner hears opened. */
    if (weft__eio_ws_open(s, hc) == 0 && !inside && s->state == WEFT__EIO_S_OPEN && s->ws)
      weft__stream_reprocess(&s->ws->hc.io); /* bytes that came while it was admitted */
    weft__eio_release(s);
    return;
  }
  /* Polling: the handshake request is the first poll, answered with the
   * open packet and whatever the owner sends meanwhile. */
  char open[256];
  size_t n = weft__eio_handshake(s, 1, open, sizeof(open));
  if (n == 0 || weft__eio_send_packet(s, open, n) != 0) {
    weft__eio_reject(c, 500, NULL);
    return;
  }
  s->state = WEFT__EIO_S_OPEN;
  s->poll = hc;
  weft__http_park(hc);
  weft__http_site_handshake_done(hc->ep->site, hc);
  weft__http_mark(hc);
  weft__eio_timer_set(s->el, s, WEFT__EIO_T_PING);
  weft__eio_hold(s);
  if (s->base.owner && s->base.ev->opened) s->base.ev->opened(&s->base);
  weft__eio_release(s);
}

void weft__eio_reject(weft__conn *c, int status, const char *message) {
  weft__eio_session *s = weft__eio_of(c);
  weft__http_conn *hc = s->hs;
  if (s->state != WEFT__EIO_S_NEW || !hc) return;
  s->hs = NULL;
  weft__eio_sconn(hc)->ws.base.owner = NULL;
  weft__http_refuse(hc, status, message);
  weft__eio_finish(s, NULL);
}
