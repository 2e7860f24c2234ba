/*
 * engine.io's HTTP requests, as engine.io 6.6 checks and answers them: the
 * handshake (a GET, or a WebSocket upgrade, without a sid), a poll (GET
 * with a sid: held until there is something to send), a post (POST with a
 * sid: packets, bounded by maxPayload before a byte is buffered, answered
 * "ok"), a probe (an upgrade with a sid); anything else gets engine.io's
 * error. Connections stay open between requests (keep-alive).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio.h"

static weft__eio_listener *listener_of(const weft__http_conn *hc) {
  return weft__listener_priv(weft__http_user(hc));
}

static int is_upgrade(const weft__http_conn *hc) {
  return weft__http_header_has(&hc->req.head, "Upgrade", "websocket");
}

void weft__eio_refuse(weft__http_conn *hc, int code) {
  const char *msg = weft__eio_error_text(code);
  if (is_upgrade(hc)) { /* engine.io answers a refused upgrade in plain text */
    weft__http_respond(hc, 400, "text/html", msg, strlen(msg), NULL);
    return;
  }
  char body[96];
  int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", code, msg);
  weft__http_respond(hc, code == WEFT__EIO_E_FORBIDDEN ? 403 : 400, "application/json", body,
                     (size_t)n, NULL);
}

/* A failure of the session the request was for: the request is answered
 * with `status` (engine.io's bare answers), the session ends. */
static void session_fails(weft__eio_session *s, weft__http_conn *hc, int status, int code,
                          const char *kind, const char *why) {
  weft__http_respond(hc, status, "text/plain", "", 0, NULL);
  weft__fault f = {code, kind, why};
  weft__eio_finish(s, &f);
}

static void poll_get(weft__eio_session *s, weft__http_conn *hc) {
  if (s->poll) {
    session_fails(s, hc, 400, WEFT_EPROTO, "protocol", "overlapping polls");
    return;
  }
  s->poll = hc;
  weft__eio_sconn(hc)->ws.base.owner = s;
  weft__http_park(hc);
  weft__http_site_handshake_done(hc->ep->site, hc);
  weft__http_mark(hc); /* answered at the end of the turn when there is something to say */
}

static void poll_post(weft__eio_session *s, weft__http_conn *hc) {
  if (s->post) {
    session_fails(s, hc, 400, WEFT_EPROTO, "protocol", "overlapping posts");
    return;
  }
  const char *ct = weft__http_get(&hc->req.head, "Content-Type");
  if (ct && strncmp(ct, "application/octet-stream", 24) == 0) {
    session_fails(s, hc, 400, WEFT_EPROTO, "protocol", "binary payload in protocol v4");
    return;
  }
  int status = weft__http_read_body(hc, s->el->l->p.max_length);
  if (status) {
    session_fails(s, hc, status, status == 413 ? WEFT_ETOOBIG : WEFT_EPROTO,
                  status == 413 ? "toobig" : "protocol",
                  status == 413 ? "payload too large" : "unreadable body");
    return;
  }
  s->post = hc;
  weft__eio_sconn(hc)->ws.base.owner = s;
  weft__http_site_handshake_done(hc->ep->site, hc);
  if (s->paused) weft__stream_pause(&hc->io, 1); /* its body waits for the resume */
}

/* A post's packets, then its answer (which lets the peer post again). */
static void take_body(weft__eio_session *s, weft__http_conn *hc, uint8_t *data, size_t len) {
  weft__eio_sconn(hc)->ws.base.owner = NULL;
  if (s) {
    s->post = NULL;
    weft__eio_hold(s);
    size_t at = 0;
    weft__eio_packet pk;
    int rc;
    /* While closing, only the peer's close packet still counts. */
    while ((s->state == WEFT__EIO_S_OPEN || s->state == WEFT__EIO_S_CLOSING) &&
           (rc = weft__eio_payload_next(data, len, &at, &pk)) != 0) {
      if (rc < 0) {
        weft__fault f = {rc, rc == WEFT_EUTF8 ? "utf8" : "protocol", "malformed engine.io payload"};
        weft__eio_finish(s, &f);
        break;
      }
      weft__eio_packet_in(s, &pk);
    }
    weft__eio_release(s);
  }
  weft__http_answer(hc, 200, "text/html", "ok", 2, NULL, 1, NULL, NULL);
}

static void on_body(weft__http_conn *hc, uint8_t *data, size_t len) {
  weft__eio_session *s = weft__eio_session_of(hc);
  /* Paused (weft_spark_pause): the body waits unanswered, so does the
   * peer's next post — one post (at most maxPayload) per paused session. */
  if (s && s->paused && s->state == WEFT__EIO_S_OPEN && !s->stash &&
      (s->stash = malloc(len ? len : 1)) != NULL) {
    memcpy(s->stash, data, len);
    s->stash_len = len;
    weft__http_park(hc);
    return;
  }
  take_body(s, hc, data, len);
}

void weft__eio_post_resume(weft__eio_session *s) {
  if (s->post) weft__stream_pause(&s->post->io, 0);
  if (!s->stash || !s->post) return;
  uint8_t *data = s->stash;
  s->stash = NULL;
  take_body(s, s->post, data, s->stash_len);
  free(data);
}

static void handshake(weft__eio_listener *el, weft__http_conn *hc, int upgrade) {
  if (upgrade && !weft__ws_upgrade_ok(hc)) return;
  weft__eio_session *s = weft__eio_session_new(el, hc);
  if (!s) {
    weft__http_respond_status(hc, 503, NULL);
    return;
  }
  weft__eio_sconn(hc)->ws.base.owner = s;
  weft__http_hold(hc);
  weft__listener *l = el->l;
  s->admitting = 1; /* an accept from in here: the read goes on by itself */
  weft__eio_hold(s);
  l->p.admit(&s->base, l->p.user);
  s->admitting = 0;
  weft__eio_release(s);
}

static void on_request(weft__http_conn *hc) {
  weft__eio_listener *el = listener_of(hc);
  const weft__http_req *r = &hc->req;
  const char *transport = weft__http_req_query(r, "transport");
  const char *sid = weft__http_req_query(r, "sid");
  const char *eio = weft__http_req_query(r, "EIO");
  int v4 = eio && strcmp(eio, "4") == 0;
  int upgrade = is_upgrade(hc);
  int ws = transport && strcmp(transport, "websocket") == 0;
  if (el->life.stopping) {
    weft__http_respond_status(hc, 503, NULL);
    return;
  }
  if (!upgrade && el->l->p.polls) (*el->l->p.polls)++;
  if (!transport || (!ws && strcmp(transport, "polling") != 0)) {
    weft__eio_refuse(hc, WEFT__EIO_E_TRANSPORT);
    return;
  }
  if (!sid) {
    if (strcmp(weft__http_method(&r->head), "GET") != 0)
      weft__eio_refuse(hc, WEFT__EIO_E_METHOD);
    else if (ws != upgrade) /* a WebSocket without the upgrade, or polling with one */
      weft__eio_refuse(hc, WEFT__EIO_E_REQUEST);
    else if (!v4)
      weft__eio_refuse(hc, WEFT__EIO_E_VERSION);
    else
      handshake(el, hc, upgrade);
    return;
  }
  weft__eio_session *s = weft__eio_find(el, sid);
  if (!s) {
    weft__eio_refuse(hc, WEFT__EIO_E_SID);
    return;
  }
  /* The protocol or the transport is not the session's; an upgrade of a
   * session that is closing, upgrading or upgraded. */
  if (!v4 || ws != upgrade || (s->upgraded && !ws) ||
      (upgrade && (s->state != WEFT__EIO_S_OPEN || s->upgraded || s->ws))) {
    weft__eio_refuse(hc, WEFT__EIO_E_REQUEST);
    return;
  }
  if (upgrade) {
    if (weft__ws_check_upgrade(&hc->req.head, NULL) != 0) {
      weft__http_respond_status(hc, 400, NULL);
      return;
    }
    weft__http_hold(hc);
    weft__eio_ws_open(s, hc);
  } else if (strcmp(weft__http_method(&r->head), "GET") == 0) {
    poll_get(s, hc);
  } else if (strcmp(weft__http_method(&r->head), "POST") == 0) {
    poll_post(s, hc);
  } else {
    weft__http_respond(hc, 500, "text/plain", "", 0, NULL);
  }
}

static void on_seal(weft__http_conn *hc) {
  weft__eio_session *s = weft__eio_session_of(hc);
  if (s && s->poll == hc) weft__eio_flush_poll(s, s->probed);
}

/* A request the session held went away (the peer closed it). */
static int on_closed(weft__http_conn *hc) {
  weft__eio_session *s = weft__eio_session_of(hc);
  if (!s) return 0;
  weft__eio_sconn(hc)->ws.base.owner = NULL;
  if (s->hs == hc) {
    s->hs = NULL;
    if (s->state == WEFT__EIO_S_NEW) {
      weft__eio_finish(s, NULL);
      return 0;
    }
  }
  /* The peer went away (engine.io ends the session too, with no error). */
  if (s->poll == hc) {
    s->poll = NULL;
    weft__eio_finish(s, NULL);
  } else if (s->post == hc) {
    s->post = NULL;
    weft__eio_finish(s, NULL);
  }
  return 0; /* the request's block is the HTTP layer's */
}

static int claims(const weft__http_conn *hc) {
  return weft__http_req_query(&hc->req, "EIO") ? 2 : 0;
}

const weft__http_handler weft__eio_handler = {
    .claims = claims,
    .request = on_request,
    .body = on_body,
    .seal = on_seal,
    .upgraded = {NULL, NULL, NULL, NULL, NULL}, /* weft__ws_serve hands its own */
    .closed = on_closed,
};
