/*
 * Vibe's HTTP requests, as the reference's lib/transport-http-server.js
 * answers them: GET ?when=open (a new socket: ws by upgrade, stream,
 * longpoll), ?when=poll, ?when=abort; POST "data=<event>" with ?id=;
 * bodies are bounded by max_length before a byte is buffered. Unknown
 * transports and `when`s get 501, unknown ids 500, other methods 405.
 * Also the listener: its endpoint, its sessions by id, the tick that
 * checks their deadlines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "vibe.h"

#define WEFT__VIBE_TICK_MS 100

static weft__vibe_listener *listener_of(const weft__http_conn *hc) {
  return weft__listener_priv(weft__http_user(hc));
}

static const char *query(const weft__http_conn *hc, const char *key) {
  return weft__http_req_query(&hc->req, key);
}

/* ---- sessions by id ---- */

static const char hex[] = "0123456789abcdef";

/* The key of an id: its first 16 hex digits, dashes aside (ids are
 * random and named so that no two keys are the same: no chain). */
static int id_key(const char *id, uint64_t *key) {
  uint64_t k = 0;
  for (int i = 0; i < 16; id++) {
    if (*id == '-') continue;
    /* Lowercase hex only, as named (every POST and poll looks its id up). */
    int d = *id >= '0' && *id <= '9' ? *id - '0' : *id >= 'a' && *id <= 'f' ? *id - 'a' + 10 : -1;
    if (d < 0) return 0;
    k = k << 4 | (uint64_t)d;
    i++;
  }
  *key = k;
  return 1;
}

static weft__vibe_session *find(weft__vibe_listener *vl, const char *id) {
  uint64_t k;
  if (!id || !id_key(id, &k)) return NULL;
  weft__vibe_session *s = weft__map_get(&vl->ids, k);
  return s && strcmp(s->id, id) == 0 && s->state != WEFT__VIBE_S_CLOSED ? s : NULL;
}

/* A UUID v4, as the reference names its transports. */
int weft__vibe_name(weft__vibe_listener *vl, weft__vibe_session *s) {
  uint8_t r[16];
  uint64_t k;
  do {
    if (weft__rand_bytes(&vl->rand, r, sizeof(r)) != 0) return WEFT_EIO;
    r[6] = (uint8_t)(0x40 | (r[6] & 15));
    r[8] = (uint8_t)(0x80 | (r[8] & 63));
    char *o = s->id;
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
      *o++ = hex[r[i] >> 4];
      *o++ = hex[r[i] & 15];
    }
    *o = '\0';
    k = 0;
    for (int i = 0; i < 8; i++)
      k = k << 8 | r[i];
  } while (weft__map_get(&vl->ids, k)); /* k: the id's key (id_key) */
  return weft__map_put(&vl->ids, k, s) == 0 ? 0 : WEFT_ENOMEM;
}

void weft__vibe_unindex(weft__vibe_listener *vl, weft__vibe_session *s) {
  uint64_t k;
  if (s->id[0] && id_key(s->id, &k) && weft__map_get(&vl->ids, k) == s) weft__map_del(&vl->ids, k);
}

/* ---- requests ---- */

static void open_socket(weft__vibe_listener *vl, weft__http_conn *hc, int kind) {
  weft__vibe_session *s = weft__vibe_session_new(vl, hc, kind);
  if (!s) {
    weft__http_respond_status(hc, 503, NULL);
    return;
  }
  weft__vibe_sconn(hc)->ws.base.owner = s;
  weft__http_hold(hc);
  weft__listener *l = vl->l;
  weft__vibe_hold(s);
  l->p.admit(&s->base, l->p.user);
  weft__vibe_release(s);
}

static void on_get(weft__vibe_listener *vl, weft__http_conn *hc) {
  const char *when = query(hc, "when"), *transport = query(hc, "transport");
  if (weft__http_header_has(&hc->req.head, "Upgrade", "websocket")) {
    if (weft__ws_upgrade_ok(hc)) open_socket(vl, hc, WEFT__VIBE_WS);
    return;
  }
  if (when && strcmp(when, "open") == 0) {
    if (transport && strcmp(transport, "stream") == 0)
      open_socket(vl, hc, WEFT__VIBE_STREAM);
    else if (transport && strcmp(transport, "longpoll") == 0)
      open_socket(vl, hc, WEFT__VIBE_LONGPOLL);
    else
      weft__http_respond_status(hc, 501, NULL);
    return;
  }
  weft__vibe_session *s = find(vl, query(hc, "id"));
  if (when && strcmp(when, "poll") == 0) {
    if (s && s->kind == WEFT__VIBE_LONGPOLL && s->state != WEFT__VIBE_S_NEW)
      weft__vibe_poll(s, hc);
    else
      weft__http_answer(hc, 500, "text/plain", "", 0, NULL, 1, NULL, NULL);
  } else if (when && strcmp(when, "abort") == 0) {
    if (s) weft__vibe_end(s);
    weft__http_answer(hc, 200, "text/javascript; charset=utf-8", "", 0, NULL, 1, NULL, NULL);
  } else {
    weft__http_respond_status(hc, 501, NULL);
  }
}

static void on_request(weft__http_conn *hc) {
  weft__vibe_listener *vl = listener_of(hc);
  const char *method = weft__http_method(&hc->req.head);
  if (vl->life.stopping) {
    weft__http_respond_status(hc, 503, NULL);
    return;
  }
  if (vl->l->p.polls && !weft__http_header_has(&hc->req.head, "Upgrade", "websocket"))
    (*vl->l->p.polls)++;
  if (strcmp(method, "GET") == 0) {
    on_get(vl, hc);
  } else if (strcmp(method, "POST") == 0) {
    /* "data=" and an event of at most max_length bytes. */
    int status = weft__http_read_body(hc, vl->l->p.max_length + 5);
    if (status) weft__http_respond_status(hc, status, NULL);
  } else {
    weft__http_respond_status(hc, 405, NULL);
  }
}

/* A POST's event: to its socket, then the answer (the reference answers
 * 500 when the socket is gone by the time the body is read). */
static void on_body(weft__http_conn *hc, uint8_t *data, size_t len) {
  weft__vibe_session *s = find(listener_of(hc), query(hc, "id"));
  if (len < 5 || memcmp(data, "data=", 5) != 0) {
    weft__http_respond_status(hc, 400, NULL);
    return;
  }
  if (!s || s->state != WEFT__VIBE_S_OPEN) {
    weft__http_answer(hc, 500, "text/plain", "", 0, NULL, 1, NULL, NULL);
    return;
  }
  weft__vibe_text(s, data + 5, len - 5);
  weft__http_answer(hc, 200, "text/plain", "", 0, NULL, 1, NULL, NULL);
}

/* A request a socket held went away (the peer closed it). */
static int on_closed(weft__http_conn *hc) {
  weft__vibe_session *s = weft__vibe_session_of(hc);
  if (!s) return 0;
  weft__vibe_sconn(hc)->ws.base.owner = NULL;
  if (s->hs == hc) s->hs = NULL;
  if (s->stream == hc) s->stream = NULL;
  if (s->poll == hc) s->poll = NULL;
  weft__vibe_finish(s, NULL); /* as the reference: the response's close ends it */
  return 0;
}

static const weft__http_handler handler = {
    .claims = NULL,
    .request = on_request,
    .body = on_body,
    .upgraded = {NULL, NULL, NULL, NULL, NULL}, /* weft__ws_serve hands its own */
    .closed = on_closed,
};

/* ---- admission ---- */

void weft__vibe_accept(weft__conn *c) {
  weft__vibe_session *s = weft__vibe_of(c);
  weft__http_conn *hc = s->hs;
  if (s->state != WEFT__VIBE_S_NEW || !hc) return;
  if (weft__vibe_name(s->vl, s) != 0) {
    weft__vibe_reject(c, 503, NULL);
    return;
  }
  if (s->kind == WEFT__VIBE_WS) {
    weft__vibe_ws_serve(s, hc); /* opened follows from the WebSocket */
    return;
  }
  s->hs = NULL;
  weft__http_take_req(hc, &s->req);
  if (s->kind == WEFT__VIBE_LONGPOLL) {
    /* The handshake's answer names the socket; the first poll follows. */
    const char *jsonp = weft__http_req_query(&s->req, "jsonp");
    const char *cb = weft__http_req_query(&s->req, "callback");
    if (jsonp && strcmp(jsonp, "true") == 0) {
      /* A name, not script: letters, digits, '_', '$' and '.'. */
      size_t k =
          cb ? strspn(cb, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$.") : 0;
      if (!cb || !*cb || cb[k] || k >= sizeof(s->callback)) {
        weft__vibe_sconn(hc)->ws.base.owner = NULL;
        weft__http_respond_status(hc, 400, NULL);
        weft__vibe_finish(s, NULL);
        return;
      }
      memcpy(s->callback, cb, k + 1);
    }
    char body[48];
    int n = snprintf(body, sizeof(body), "?id=%s", s->id);
    weft__vibe_sconn(hc)->ws.base.owner = NULL;
    s->poll_due = uv_now(s->vl->l->p.loop->uv) + 3000;
    weft__vibe_answer(s, hc, body, (size_t)n);
    weft__vibe_opened(s);
    return;
  }
  /* A stream: 2 KiB of padding for old browsers, then the id. */
  const char *sse = weft__http_req_query(&s->req, "sse");
  int rc =
      weft__http_answer_stream(hc, 200,
                               sse && strcmp(sse, "true") == 0 ? "text/event-stream; charset=utf-8"
                                                               : "text/plain; charset=utf-8",
                               "Pragma: no-cache\r\nExpires: 0\r\n");
  char first[2048 + 64];
  memset(first, ' ', 2047);
  int n = snprintf(first + 2047, sizeof(first) - 2047, "\ndata: ?id=%s\n\n", s->id);
  if (rc == 0) rc = weft__http_chunk(hc, "", first, 2047 + (size_t)n, "", SIZE_MAX, NULL);
  if (rc) {
    weft__vibe_finish(s, NULL);
    return;
  }
  s->stream = hc;
  weft__vibe_opened(s);
}

void weft__vibe_reject(weft__conn *c, int status, const char *message) {
  weft__vibe_session *s = weft__vibe_of(c);
  weft__http_conn *hc = s->hs;
  if (s->state != WEFT__VIBE_S_NEW || !hc) return;
  s->hs = NULL;
  weft__vibe_sconn(hc)->ws.base.owner = NULL;
  weft__http_refuse(hc, status, message);
  weft__vibe_finish(s, NULL);
}

/* ---- the listener ---- */

static void on_tick(uv_timer_t *t) {
  weft__vibe_listener *vl = t->data;
  uint64_t now = uv_now(vl->l->p.loop->uv);
  weft__vibe_session *s = vl->head;
  while (s) {
    weft__vibe_session *next = s->next;
    if (s->state != WEFT__VIBE_S_CLOSED && s->hb_due && now >= s->hb_due) {
      weft__fault f = {WEFT_ETIMEDOUT, "timeout", "no heartbeat"};
      s->hb_due = 0;
      weft__vibe_hold(s);
      weft__vibe_finish(s, &f);
      next = s->next;
      weft__vibe_release(s);
    } else if (s->state != WEFT__VIBE_S_CLOSED && !s->poll && s->poll_due && now >= s->poll_due) {
      s->poll_due = 0;
      weft__vibe_hold(s);
      weft__vibe_finish(s, NULL); /* its next poll never came */
      next = s->next;
      weft__vibe_release(s);
    }
    s = next;
  }
}

void weft__vibe_soon(weft__vibe_listener *vl) {
  if (vl->life.timer_open) uv_timer_start(&vl->life.timer, on_tick, 0, WEFT__VIBE_TICK_MS);
}

static void freed(weft__sessions *ss) {
  weft__vibe_listener *vl = WEFT__CONTAINER(ss, weft__vibe_listener, life);
  weft__map_free(&vl->ids);
  weft__arena_free(&vl->scratch);
  weft__arena_free(&vl->in);
}

static void on_endpoint_closed(weft__http_endpoint *ep) {
  weft__sessions_ep_closed(&WEFT__CONTAINER(ep, weft__vibe_listener, ep)->life);
}

int weft__vibe_bind(weft__listener *l) {
  weft__vibe_listener *vl = weft__listener_priv(l);
  vl->l = l;
  weft__sessions_init(&vl->life, l, freed);
  vl->life.timer.data = vl;
  uv_timer_start(&vl->life.timer, on_tick, WEFT__VIBE_TICK_MS, WEFT__VIBE_TICK_MS);
  uv_unref((uv_handle_t *)&vl->life.timer);
  vl->life.ep_open = 1;
  int rc = weft__ws_endpoint_open(l, &vl->ep, &handler, on_endpoint_closed);
  if (rc) vl->life.stopping = 1; /* the endpoint closes: on_endpoint_closed */
  return rc;
}

void weft__vibe_stop(weft__listener *l, int hard) {
  weft__vibe_listener *vl = weft__listener_priv(l);
  vl->life.stopping = 1;
  /* Sockets not yet admitted go; closing ones (a long poll's that waits for
   * its next poll) too when hard. Open ones are the owner's to end. */
  for (weft__vibe_session *s = vl->head, *next; s; s = next) {
    next = s->next;
    if (s->state == WEFT__VIBE_S_NEW || (hard && s->state == WEFT__VIBE_S_CLOSING))
      weft__vibe_finish(s, NULL);
  }
  weft__http_endpoint_stop(&vl->ep, hard);
  weft__sessions_check(&vl->life);
}

int weft__vibe_adopt(weft__listener *l, int fd, const void *head, size_t len, int once) {
  weft__vibe_listener *vl = weft__listener_priv(l);
  return weft__http_endpoint_adopt(&vl->ep, fd, head, len, once);
}
