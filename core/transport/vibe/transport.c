/* The WebSocket side of a Vibe socket (see vibe.h): transport/ws/ carries
 * it, one text frame per event. */
#include <string.h>

#include "vibe.h"

/* ---- the WebSocket's events ---- */

static weft__ws_sconn *sconn_of(weft__conn *c) { return (weft__ws_sconn *)(void *)c; }

static void ws_opened(weft__conn *c) {
  weft__vibe_session *s = c->owner;
  if (!s || s->state != WEFT__VIBE_S_NEW) return;
  weft__ws_sconn *sc = sconn_of(c);
  s->ws = sc;
  s->hs = NULL;
  weft__http_take_req(&sc->hc, &s->req);
  weft__vibe_opened(s);
}

static void ws_message(weft__conn *c, int binary, uint8_t *data, size_t len) {
  weft__vibe_session *s = c->owner;
  if (s && s->ws == sconn_of(c) && !binary) weft__vibe_text(s, data, len); /* text only */
}

static void ws_drained(weft__conn *c) {
  weft__vibe_session *s = c->owner;
  if (s && s->state == WEFT__VIBE_S_OPEN && s->base.owner && s->base.ev->drained)
    s->base.ev->drained(&s->base);
}

static void ws_seal(weft__conn *c) {
  weft__vibe_session *s = c->owner;
  if (s && s->state == WEFT__VIBE_S_OPEN && s->base.owner && s->base.ev->seal)
    s->base.ev->seal(&s->base);
}

static void ws_closing(weft__conn *c, const weft__fault *why) {
  weft__vibe_session *s = c->owner;
  if (!s || s->ws != sconn_of(c) || s->state != WEFT__VIBE_S_OPEN) return;
  s->state = WEFT__VIBE_S_CLOSING;
  if (s->base.owner && s->base.ev->closing) s->base.ev->closing(&s->base, why);
}

static int ws_closed(weft__conn *c, const weft__fault *why) {
  weft__vibe_session *s = c->owner;
  if (!s) return 0;
  if (s->hs == &sconn_of(c)->hc) s->hs = NULL; /* it failed before it opened */
  return weft__vibe_ws_gone(s, why);           /* the block is the HTTP layer's */
}

static const weft__conn_events ws_events = {ws_opened,  ws_message, ws_drained, ws_seal,
                                            ws_closing, NULL,       ws_closed,  NULL};

int weft__vibe_ws_serve(weft__vibe_session *s, weft__http_conn *hc) {
  return weft__ws_serve_for(weft__vibe_sconn(hc), &ws_events, s, s->vl->l->p.max_length);
}

int weft__vibe_ws_text(weft__vibe_session *s, const uint8_t *text, size_t n, size_t limit,
                       size_t *queued) {
  weft__payload *p = weft__payload_take(s->vl->l->p.loop, WEFT__P_TEXT, text, n);
  if (!p) return WEFT_ENOMEM;
  int rc = weft__ws_send(&s->ws->ws.base, p, limit, queued);
  weft__payload_release(p);
  return rc;
}
