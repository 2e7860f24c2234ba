/*
 * A Vibe socket on the server: the connection a spark holds, whichever of
 * the three transports carries it (vibe.h). What the owner sends is turned
 * into a Vibe event once (event.c) and goes onto the WebSocket, into the
 * streaming response as a chunk, or to the held poll (one event per
 * answer, the rest queued, as the reference's long polling does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "vibe.h"

#define WEFT__VIBE_POLL_MS 3000 /* the reference's wait for the next poll */
#define WEFT__VIBE_NOCACHE "Pragma: no-cache\r\nExpires: 0\r\n"

#define EMIT(s, name, ...)                                                                         \
  do {                                                                                             \
    if ((s)->base.owner && (s)->base.ev->name) (s)->base.ev->name(&(s)->base, __VA_ARGS__);        \
  } while (0)

static uint64_t now_ms(const weft__vibe_session *s) { return uv_now(s->vl->l->p.loop->uv); }

weft__vibe_session *weft__vibe_session_new(weft__vibe_listener *vl, weft__http_conn *hs, int kind) {
  weft__conn *c = weft__conn_block(vl->l, sizeof(weft__vibe_session));
  if (!c) return NULL;
  weft__vibe_session *s = weft__vibe_of(c);
  s->vl = vl;
  s->hs = hs;
  s->kind = (uint8_t)kind;
  s->next = vl->head;
  if (vl->head) vl->head->prev = s;
  vl->head = s;
  vl->life.n++;
  return s;
}

static void queue_clear(weft__vibe_session *s) {
  for (uint32_t i = 0; i < s->q_len; i++)
    weft__payload_release(s->q[i]);
  s->q_len = 0;
  s->q_held = 0;
}

static void session_free(weft__vibe_session *s) {
  weft__vibe_listener *vl = s->vl;
  size_t owner = vl->l->p.owner_size;
  if (s->prev)
    s->prev->next = s->next;
  else
    vl->head = s->next;
  if (s->next) s->next->prev = s->prev;
  queue_clear(s);
  free(s->q);
  weft__vibe_pend_free(&s->pend);
  weft__loop_released(vl->l->p.loop, sizeof(*s) + 512 + (s->kept ? 0 : owner));
  weft__http_req_free(&s->req);
  if (!s->kept) free((char *)s - owner); /* else the owner frees it */
  weft__sessions_gone(&vl->life);
}

void weft__vibe_release(weft__vibe_session *s) {
  if (--s->busy == 0 && s->dead) session_free(s);
}

/* ---- sending ---- */

void weft__vibe_answer(weft__vibe_session *s, weft__http_conn *hc, const void *body, size_t len) {
  if (!s->callback[0] || !len) {
    weft__http_answer(hc, 200, "text/plain; charset=utf-8", body, len, WEFT__VIBE_NOCACHE, 1, NULL,
                      NULL);
    return;
  }
  /* JSONP: callback("<the text as a JSON string>"); */
  weft__buf out = {0};
  weft_value *v = weft_value_new_string(body, len);
  uint8_t *enc = NULL;
  size_t n = 0;
  int rc = v ? weft_value_encode("json", v, &enc, &n) : WEFT_EUTF8;
  weft_value_free(v);
  if (rc == 0 && weft__buf_append(&out, s->callback, strlen(s->callback)) == 0 &&
      weft__buf_putc(&out, '(') == 0 && weft__buf_append(&out, enc, n) == 0 &&
      weft__buf_append(&out, ");", 2) == 0)
    weft__http_answer(hc, 200, "text/javascript; charset=utf-8", out.data, out.len,
                      WEFT__VIBE_NOCACHE, 1, NULL, NULL);
  else
    weft__http_abort(hc);
  weft_free(enc);
  weft__buf_free(&out);
}

/* An answer to the held poll (an event, or empty: the end). */
static void answer_poll(weft__vibe_session *s, const void *body, size_t len) {
  weft__http_conn *hc = s->poll;
  s->poll = NULL;
  weft__vibe_sconn(hc)->ws.base.owner = NULL;
  weft__vibe_answer(s, hc, body, len);
  if (len) s->poll_due = now_ms(s) + WEFT__VIBE_POLL_MS;
}

/* One event's text to the peer, by the session's transport. */
static int send_text(weft__vibe_session *s, const uint8_t *text, size_t n, size_t limit,
                     size_t *queued) {
  if (s->kind == WEFT__VIBE_WS)
    return s->ws ? weft__vibe_ws_text(s, text, n, limit, queued) : WEFT_ECLOSED;
  if (s->kind == WEFT__VIBE_STREAM)
    return s->stream ? weft__http_chunk(s->stream, "data: ", text, n, "\n\n", limit, queued)
                     : WEFT_ECLOSED;
  if (s->poll && !s->q_len) {
    answer_poll(s, text, n);
    if (queued) *queued = 0;
    return 0;
  }
  weft__payload *p = weft__payload_take(s->vl->l->p.loop, WEFT__P_RAW, text, n);
  if (!p) return WEFT_ENOMEM;
  size_t cost = weft__payload_footprint(p) + sizeof(p);
  int rc = s->q_held + cost > limit ? WEFT_ENOBUFS : 0;
  if (!rc && s->q_len == s->q_cap) {
    uint32_t cap = s->q_cap ? s->q_cap * 2 : 8;
    weft__payload **q = realloc(s->q, cap * sizeof(*q));
    if (q) {
      s->q = q;
      s->q_cap = cap;
    } else {
      rc = WEFT_ENOMEM;
    }
  }
  if (rc) {
    weft__payload_release(p);
    return rc;
  }
  s->q[s->q_len++] = p;
  s->q_held += cost;
  if (queued) *queued = s->q_held;
  return 0;
}

static int send_control(weft__vibe_session *s, const char *text) {
  return send_text(s, (const uint8_t *)text, strlen(text), SIZE_MAX, NULL);
}

/* ---- the peer's events ---- */

static void fail(weft__vibe_session *s, int code, const char *kind, const char *why) {
  weft__fault f = {code, kind, why};
  weft__vibe_finish(s, &f);
}

void weft__vibe_text(weft__vibe_session *s, const uint8_t *text, size_t len) {
  if (s->state != WEFT__VIBE_S_OPEN) return;
  weft__vibe_in in;
  weft__vibe_packet pk;
  const weft_value *pkt;
  /* The listener's arena, unless an event being delivered holds it. */
  weft__vibe_listener *vl = s->vl;
  weft__arena *arena = vl->in_busy ? NULL : &vl->in;
  vl->in_busy = 1;
  int rc = weft__vibe_incoming(&s->pend, text, len, arena, &in, &pk, &pkt);
  if (rc == 1) {
    /* The client's heartbeat: echoed, and the socket lives on. */
    char echo[64];
    snprintf(echo, sizeof(echo), "{\"id\":\"n%llu\",\"type\":\"heartbeat\",\"reply\":false}",
             (unsigned long long)++s->seq);
    s->hb_due = now_ms(s) + s->heartbeat;
    send_control(s, echo);
  } else if (rc == WEFT_ENOBUFS) {
    fail(s, rc, "protocol", "too many events waiting for a reply");
  } else if (rc < 0) {
    fail(s, rc, "protocol", "malformed Vibe event");
  } else if (pkt) {
    weft__vibe_hold(s);
    weft__vibe_deliver(&s->base, pkt, len);
    weft__vibe_release(s);
  }
  weft__vibe_in_free(&in);
  if (arena) vl->in_busy = 0;
}

/* ---- life ---- */

void weft__vibe_opened(weft__vibe_session *s) {
  const weft__listen_params *p = &s->vl->l->p;
  uint32_t hb = p->vibe_heartbeat          ? p->vibe_heartbeat
                : p->session_ping_interval ? p->session_ping_interval
                                           : 20000;
  uint32_t wait = p->vibe_heartbeat         ? p->vibe_wait
                  : p->session_ping_timeout ? p->session_ping_timeout
                                            : 5000;
  char hs[96];
  snprintf(hs, sizeof(hs), "?heartbeat=%u&_heartbeat=%u", hb, wait);
  s->heartbeat = hb;
  s->hb_due = now_ms(s) + hb;
  s->state = WEFT__VIBE_S_OPEN;
  if (send_control(s, hs) != 0) {
    weft__vibe_finish(s, NULL);
    return;
  }
  weft__vibe_hold(s);
  if (s->base.owner && s->base.ev->opened) s->base.ev->opened(&s->base);
  weft__vibe_release(s);
}

void weft__vibe_finish(weft__vibe_session *s, const weft__fault *why) {
  if (s->state == WEFT__VIBE_S_CLOSED) return;
  weft__vibe_hold(s);
  if (s->state == WEFT__VIBE_S_OPEN) EMIT(s, closing, why);
  s->state = WEFT__VIBE_S_CLOSED;
  weft__vibe_unindex(s->vl, s);
  if (s->poll) answer_poll(s, NULL, 0); /* an empty answer: the client closes */
  if (s->stream) {
    weft__http_conn *hc = s->stream;
    s->stream = NULL;
    weft__vibe_sconn(hc)->ws.base.owner = NULL;
    weft__http_chunk_end(hc);
  }
  if (s->hs) {
    weft__http_conn *hc = s->hs;
    s->hs = NULL;
    weft__vibe_sconn(hc)->ws.base.owner = NULL;
    if (hc->state == WEFT__HC_HELD) weft__http_abort(hc);
  }
  if (s->ws) {
    weft__ws_sconn *sc = s->ws;
    s->ws = NULL;
    sc->ws.base.owner = NULL;
    weft__ws_close(&sc->ws.base, WEFT__CLOSE_NORMAL, NULL);
  }
  queue_clear(s);
  s->kept = s->base.owner && s->base.ev->closed ? s->base.ev->closed(&s->base, why) != 0 : 0;
  s->base.owner = NULL;
  s->dead = 1;
  weft__vibe_release(s);
}

/* An orderly close: the peer learns it now (the stream's end, an empty
 * answer to the held poll, or to the next one: the reference's "aborted"
 * flag); the owner hears closed from the listener's tick, never from
 * inside the close it asked for. */
void weft__vibe_end(weft__vibe_session *s) {
  if (s->state == WEFT__VIBE_S_NEW) {
    weft__vibe_finish(s, NULL);
    return;
  }
  if (s->state != WEFT__VIBE_S_OPEN) return;
  s->state = WEFT__VIBE_S_CLOSING;
  weft__vibe_hold(s);
  EMIT(s, closing, NULL);
  uint64_t due = now_ms(s) + WEFT__VIBE_POLL_MS;
  if (s->poll) {
    answer_poll(s, NULL, 0);
    due = now_ms(s);
  }
  if (s->stream) {
    weft__http_conn *hc = s->stream;
    s->stream = NULL;
    weft__vibe_sconn(hc)->ws.base.owner = NULL;
    weft__http_chunk_end(hc);
    due = now_ms(s);
  }
  if (!s->poll_due || s->poll_due > due) s->poll_due = due;
  weft__vibe_soon(s->vl);
  weft__vibe_release(s);
}

void weft__vibe_poll(weft__vibe_session *s, weft__http_conn *hc) {
  if (s->poll) { /* a poll that overlaps: the newer one is the one held */
    weft__http_conn *old = s->poll;
    s->poll = NULL;
    weft__vibe_sconn(old)->ws.base.owner = NULL;
    weft__http_abort(old);
  }
  s->poll = hc;
  s->poll_due = 0;
  weft__vibe_sconn(hc)->ws.base.owner = s;
  weft__http_park(hc);
  weft__http_site_handshake_done(hc->ep->site, hc);
  if (s->state == WEFT__VIBE_S_CLOSING) {
    weft__vibe_finish(s, NULL); /* answers it empty */
  } else if (s->q_len) {
    weft__payload *p = s->q[0];
    memmove(s->q, s->q + 1, (s->q_len - 1) * sizeof(*s->q));
    s->q_len--;
    s->q_held -= weft__payload_footprint(p) + sizeof(p);
    answer_poll(s, p->data, p->len);
    weft__payload_release(p);
    weft__vibe_hold(s);
    if (s->state == WEFT__VIBE_S_OPEN && s->base.owner && s->base.ev->drained)
      s->base.ev->drained(&s->base);
    weft__vibe_release(s);
  }
}

int weft__vibe_ws_gone(weft__vibe_session *s, const weft__fault *why) {
  s->ws = NULL;
  weft__vibe_finish(s, why);
  return 0;
}

/* ---- the connection ops ---- */

static size_t vibe_queued(const weft__conn *c, size_t *held);

/* p's message as a Vibe event (from msg when given, else from p's bytes). */
static int vibe_send_value(weft__conn *c, weft__payload *p, const weft_value *msg, size_t limit,
                           size_t *queued) {
  weft__vibe_session *s = weft__vibe_of(c);
  if (s->state != WEFT__VIBE_S_OPEN) return WEFT_ECLOSED;
  if (p->kind == WEFT__P_BINARY) return WEFT_EUNSUPPORTED;    /* Vibe carries text */
  if (p->len >= 9 && memcmp(p->data, "\"primus::", 9) == 0) { /* Primus's own: not Vibe's */
    if (queued) *queued = vibe_queued(c, NULL);
    return 0;
  }
  weft__buf out = {0};
  int rc = msg ? weft__vibe_from_value(msg, ++s->seq, weft__vibe_pend_take, &s->pend, &out)
               : weft__vibe_from_message(p->data, p->len, ++s->seq, weft__vibe_pend_take, &s->pend,
                                         &s->vl->scratch, &out);
  if (rc == 0) rc = send_text(s, out.data, out.len, limit, queued);
  weft__vibe_pend_done(&s->pend);
  weft__buf_free(&out);
  return rc;
}

static int vibe_send(weft__conn *c, weft__payload *p, size_t limit, size_t *queued) {
  return vibe_send_value(c, p, NULL, limit, queued);
}

static void vibe_hold_op(weft__conn *c) {
  weft__vibe_session *s = weft__vibe_of(c);
  if (s->ws) weft__ws_hold(&s->ws->ws.base);
}

static size_t vibe_queued(const weft__conn *c, size_t *held) {
  const weft__vibe_session *s = (const weft__vibe_session *)(const void *)c;
  const weft__stream *io = s->stream ? &s->stream->io : s->ws ? &s->ws->hc.io : NULL;
  if (held) *held = io ? io->held : s->q_held;
  return io ? io->queued : s->q_held;
}

static void vibe_close(weft__conn *c, int code, const char *reason) {
  weft__vibe_session *s = weft__vibe_of(c);
  if (s->state == WEFT__VIBE_S_OPEN && s->ws) {
    /* As a WebSocket closes: the code and reason in its close frame. */
    s->state = WEFT__VIBE_S_CLOSING;
    weft__vibe_hold(s);
    EMIT(s, closing, NULL);
    if (s->ws) weft__ws_close(&s->ws->ws.base, code, reason); /* closed follows */
    weft__vibe_release(s);
    return;
  }
  weft__vibe_end(s);
}

static void vibe_abort(weft__conn *c) {
  weft__vibe_session *s = weft__vibe_of(c);
  queue_clear(s);
  if (s->ws) {
    weft__ws_sconn *sc = s->ws;
    s->ws = NULL;
    sc->ws.base.owner = NULL;
    weft__ws_abort(&sc->ws.base);
  }
  weft__vibe_finish(s, NULL);
}

static void vibe_pause(weft__conn *c, int on) {
  weft__vibe_session *s = weft__vibe_of(c);
  if (s->ws) weft__ws_pause(&s->ws->ws.base, on);
}

static const weft__http_req *vibe_peer(const weft__conn *c) {
  const weft__vibe_session *s = (const weft__vibe_session *)(const void *)c;
  return s->hs ? &s->hs->req : &s->req;
}

static weft__http_req *vibe_request(weft__conn *c) {
  weft__vibe_session *s = (weft__vibe_session *)(void *)c;
  return s->hs ? NULL : &s->req;
}

static const char *vibe_id(const weft__conn *c) {
  const weft__vibe_session *s = (const weft__vibe_session *)(const void *)c;
  return s->id[0] ? s->id : NULL;
}

/* ---- the transport ---- */

static const char *const schemes[] = {"http", "https", "ws", "wss", "ws+unix", "wss+unix", NULL};

/* The ops serve a server's sessions and a client's connections (dial.c),
 * told apart by the flag both keep right after their weft__conn. */
static int is_client(const weft__conn *c) {
  return ((const weft__vibe_session *)(const void *)c)->client;
}

static int send_op(weft__conn *c, weft__payload *p, size_t limit, size_t *queued) {
  return is_client(c) ? weft__vibe_dsend(c, p, queued) : vibe_send(c, p, limit, queued);
}

static int send_value_op(weft__conn *c, weft__payload *p, const weft_value *msg, size_t limit,
                         size_t *queued) {
  return is_client(c) ? weft__vibe_dsend(c, p, queued) : vibe_send_value(c, p, msg, limit, queued);
}

static void hold_op(weft__conn *c) {
  if (!is_client(c)) vibe_hold_op(c);
}

static size_t queued_op(const weft__conn *c, size_t *held) {
  return is_client(c) ? weft__vibe_dqueued(c, held) : vibe_queued(c, held);
}

static void close_op(weft__conn *c, int code, const char *reason) {
  if (is_client(c))
    weft__vibe_dclose(c);
  else
    vibe_close(c, code, reason);
}

static void abort_op(weft__conn *c) {
  if (is_client(c))
    weft__vibe_dabort(c);
  else
    vibe_abort(c);
}

static const weft__http_req *peer_op(const weft__conn *c) {
  return is_client(c) ? NULL : vibe_peer(c);
}

static void pause_op(weft__conn *c, int on) {
  if (!is_client(c)) vibe_pause(c, on);
}

static const char *id_op(const weft__conn *c) { return is_client(c) ? NULL : vibe_id(c); }

static weft__http_req *request_op(weft__conn *c) { return is_client(c) ? NULL : vibe_request(c); }

const weft__transport weft__transport_vibe = {
    "vibe",
    schemes,
    1,
    0,
    {sizeof(weft__vibe_listener), weft__vibe_bind, weft__vibe_accept, weft__vibe_reject,
     weft__vibe_stop, weft__vibe_adopt},
    {weft__vibe_dial, weft__vibe_cancel},
    {send_op, hold_op, queued_op, close_op, abort_op, peer_op, pause_op, id_op, NULL, send_value_op,
     request_op, NULL},
    1,
    1,
};
