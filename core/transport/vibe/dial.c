/*
 * A Vibe client, over ws (a WebSocket through transport/ws/ to the URL's
 * path) or, when weft_client_set_transport or the URL's query says
 * transport=longpoll, over
 * httplongpoll (http/fetch.c: the open GET names the socket, each poll's
 * answer is one event and the next poll goes at once, an empty answer is
 * the close), or, when it says transport=stream, over httpstream (the open
 * GET's answer streamed, read as it arrives: padding, then "data: <text>"
 * messages, each ended by an empty line, the first "?id=<id>"; the
 * answer's end is the close). Over HTTP one POST "data=<event>" per event,
 * one at a time so that they arrive in order; GET when=abort to close.
 * The server's first text is the handshake
 * ("?heartbeat=<ms>&_heartbeat=<ms>"), then events both ways (event.c). The heartbeat is the
 * client's, as the reference's: a heartbeat event `heartbeat - _heartbeat` ms after open (and after
 * each echo), and no echo within `_heartbeat` ms ends the connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/fetch.h"
#include "vibe.h"

typedef struct vibe_dconn {
  weft__conn base;
  uint8_t client;  /* 1: tells it from a server's session (transport ops) */
  uint8_t open;    /* the handshake came (opened told) */
  uint8_t done;    /* closed, or cancelled: no more events */
  uint8_t waiting; /* a heartbeat was sent, its echo not yet back */
  uint8_t longpoll;
  uint8_t stream; /* httpstream (the HTTP parts as longpoll's) */
  weft_loop *loop;
  weft__conn *ws;
  /* httplongpoll: the URL (its path with the query), the socket's id, the
   * poll held, the posts under way. */
  weft__url url;
  struct weft__tls_ctx *tls;
  size_t max_length;
  char id[64];
  weft__http_fetch *get;
  weft__http_fetch *abort; /* an orderly close's GET when=abort, the GET kept till it answers */
  weft__buf posts;         /* struct vibe_post * each */
  weft__sse sse;           /* httpstream: the stream's reader */
  uv_timer_t timer;
  uint32_t heartbeat, wait; /* ms, from the handshake */
  uint64_t seq;
  weft__vibe_pend pend;
  weft__fault fault;
  char fault_msg[96];
} vibe_dconn;

#define EMIT WEFT__DIAL_EMIT

static void on_timer_closed(uv_handle_t *h) {
  vibe_dconn *d = h->data;
  weft_loop *loop = d->loop;
  weft__vibe_pend_free(&d->pend);
  weft__buf_free(&d->posts);
  weft__sse_free(&d->sse);
  free(d);
  loop->users--;
}

static void request(vibe_dconn *d, const char *method, const char *when, const uint8_t *body,
                    size_t len, weft__http_fetch_cb cb, void *user, weft__http_fetch **out);
/* An event posted: one at a time, in order (posts in parallel would reach
 * the server in any order); the rest wait in `posts` behind the first. */
typedef struct vibe_post {
  vibe_dconn *d;
  weft__http_fetch *f; /* NULL while it waits its turn */
  size_t len;
  uint8_t body[]; /* "data=<event>" */
} vibe_post;

/* The end of an orderly close over HTTP (the abort answered, or not within
 * the linger): the GET goes, then the memory. */
static void unlinger(vibe_dconn *d) {
  if (d->abort) weft__http_fetch_cancel(d->abort);
  if (d->get) weft__http_fetch_cancel(d->get);
  d->abort = d->get = NULL;
  if (!uv_is_closing((uv_handle_t *)&d->timer)) uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}

static void on_aborted(const weft__http_result *r, void *user) {
  (void)r;
  vibe_dconn *d = user;
  d->abort = NULL;
  unlinger(d);
}

static void on_linger(uv_timer_t *t) { unlinger(t->data); }

#define WEFT__VIBE_LINGER_MS 2000

/* No more events; the WebSocket goes (`orderly`: with a close frame), the
 * memory once the timer handle is closed. An orderly close over HTTP tells
 * the server (GET when=abort, as the reference) and keeps the stream or
 * the poll until that is answered (at most WEFT__VIBE_LINGER_MS): the
 * server ends its answer rather than seeing it cut. */
static void release(vibe_dconn *d, int orderly) {
  d->done = 1;
  if (d->ws) weft__transport_ws.dialer.cancel(d->ws, orderly);
  d->ws = NULL;
  int http = (d->longpoll || d->stream) && d->id[0] && orderly;
  if (d->get && !http) weft__http_fetch_cancel(d->get);
  if (!http) d->get = NULL;
  vibe_post **posts = (vibe_post **)(void *)d->posts.data;
  for (size_t i = 0; i < d->posts.len / sizeof(*posts); i++) {
    if (posts[i]->f) weft__http_fetch_cancel(posts[i]->f);
    free(posts[i]);
  }
  d->posts.len = 0;
  if (http) request(d, "GET", "abort", NULL, 0, on_aborted, d, &d->abort);
  if (d->abort)
    uv_timer_start(&d->timer, on_linger, WEFT__VIBE_LINGER_MS, 0);
  else
    unlinger(d);
}

static void finish(vibe_dconn *d, const weft__fault *why, int orderly) {
  if (d->done) return;
  if (d->open) EMIT(d, closing, why);
  EMIT(d, closed, why);
  release(d, orderly);
}

static void fail(vibe_dconn *d, int code, const char *kind, const char *msg) {
  snprintf(d->fault_msg, sizeof(d->fault_msg), "%s", msg);
  d->fault = (weft__fault){code, kind, d->fault_msg};
  finish(d, &d->fault, 1);
}

static int post(vibe_dconn *d, const uint8_t *text, size_t n);

static int send_text(vibe_dconn *d, const uint8_t *text, size_t n, size_t *queued) {
  if (d->longpoll || d->stream) {
    if (queued) *queued = 0;
    return post(d, text, n);
  }
  if (!d->ws) return WEFT_ECLOSED;
  weft__payload *p = weft__payload_take(d->loop, WEFT__P_TEXT, text, n);
  if (!p) return WEFT_ENOMEM;
  int rc = d->ws->tran->conn.send(d->ws, p, SIZE_MAX, queued);
  weft__payload_release(p);
  return rc;
}

/* ---- heartbeat ---- */

static void on_timer(uv_timer_t *t) {
  vibe_dconn *d = t->data;
  if (d->waiting) {
    fail(d, WEFT_ETIMEDOUT, "timeout", "no heartbeat echo from the server");
    return;
  }
  char hb[64];
  int n = snprintf(hb, sizeof(hb), "{\"id\":\"n%llu\",\"type\":\"heartbeat\",\"reply\":false}",
                   (unsigned long long)++d->seq);
  d->waiting = 1;
  send_text(d, (const uint8_t *)hb, (size_t)n, NULL);
  uv_timer_start(&d->timer, on_timer, d->wait, 0);
}

static void beat(vibe_dconn *d) {
  d->waiting = 0;
  if (!d->done && d->heartbeat > d->wait)
    uv_timer_start(&d->timer, on_timer, d->heartbeat - d->wait, 0);
}

/* A number parameter of the handshake ("?heartbeat=20000&_heartbeat=5000"). */
static uint32_t param(const uint8_t *q, size_t len, const char *key, uint32_t def) {
  size_t k = strlen(key);
  for (size_t i = 0; i + k + 1 < len; i++)
    if ((i == 0 || q[i - 1] == '?' || q[i - 1] == '&') && memcmp(q + i, key, k) == 0 &&
        q[i + k] == '=') {
      uint64_t v = 0;
      for (size_t j = i + k + 1; j < len && q[j] >= '0' && q[j] <= '9' && v < 0x7fffffff; j++)
        v = v * 10 + (uint64_t)(q[j] - '0');
      return (uint32_t)v;
    }
  return def;
}

/* ---- the WebSocket's events ---- */

static void text_in(vibe_dconn *d, uint8_t *data, size_t len) {
  if (!d->open) {
    if (len == 0 || data[0] != '?') {
      fail(d, WEFT_EPROTO, "protocol", "no Vibe handshake");
      return;
    }
    d->heartbeat = param(data, len, "heartbeat", 20000);
    d->wait = param(data, len, "_heartbeat", 5000);
    d->open = 1;
    beat(d);
    if (d->base.owner && d->base.ev->opened) d->base.ev->opened(&d->base);
    return;
  }
  weft__vibe_in in;
  weft__vibe_packet pk;
  const weft_value *pkt;
  int rc = weft__vibe_incoming(&d->pend, data, len, NULL, &in, &pk, &pkt);
  if (rc == 1)
    beat(d); /* the echo of our heartbeat */
  else if (rc < 0)
    fail(d, rc, "protocol", "malformed Vibe event");
  else if (pkt && !d->done)
    weft__vibe_deliver(&d->base, pkt, len);
  weft__vibe_in_free(&in);
}

static void ws_message(weft__conn *c, int binary, uint8_t *data, size_t len) {
  vibe_dconn *d = c->owner;
  if (d && !d->done && !binary) text_in(d, data, len);
}

static void ws_drained(weft__conn *c) {
  vibe_dconn *d = c->owner;
  if (d && d->open && !d->done && d->base.owner && d->base.ev->drained)
    d->base.ev->drained(&d->base);
}

static void ws_refused(weft__conn *c, int status, const uint8_t *body, size_t len) {
  vibe_dconn *d = c->owner;
  if (d) EMIT(d, refused, status, body, len);
}

static int ws_closed(weft__conn *c, const weft__fault *why) {
  vibe_dconn *d = c->owner;
  if (!d || d->ws != c) return 0;
  d->ws = NULL;
  finish(d, why, 0);
  return 0;
}

static const weft__conn_events ws_events = {NULL, ws_message, ws_drained, NULL,
                                            NULL, ws_refused, ws_closed,  NULL};

/* ---- httplongpoll (and the requests of both HTTP transports) ---- */

/* A request to the URL's path with "&when=…&id=…" (the reference's
 * targets); on_data: a streamed answer. */
static void request_streamed(vibe_dconn *d, const char *method, const char *when,
                             const uint8_t *body, size_t len, weft__http_fetch_cb cb,
                             weft__http_fetch_data_cb on_data, void *user, weft__http_fetch **out) {
  char target[1300];
  snprintf(target, sizeof(target), "%s%s%s%s%s%s", d->url.path, when ? "&when=" : "",
           when ? when : "", d->id[0] ? "&id=" : "", d->id, "");
  weft__http_request r = {.method = method,
                          .target = target,
                          .body = body,
                          .body_len = len,
                          .ctype = body ? "text/plain; charset=utf-8" : NULL,
                          .max_body = d->max_length + 64,
                          .on_data = on_data};
  weft__http_fetch *f = NULL;
  if (weft__http_fetch_request(d->loop, &d->url, &r, d->tls, cb, user, &f) != 0) f = NULL;
  if (out) *out = f;
}

static void request(vibe_dconn *d, const char *method, const char *when, const uint8_t *body,
                    size_t len, weft__http_fetch_cb cb, void *user, weft__http_fetch **out) {
  request_streamed(d, method, when, body, len, cb, NULL, user, out);
}

static void on_poll(const weft__http_result *r, void *user);

/* "?id=<id>": the socket's name (0), else the connection fails (-1). */
static int take_id(vibe_dconn *d, const uint8_t *text, size_t len) {
  size_t n = 0;
  if (len > 4 && !memcmp(text, "?id=", 4))
    while (4 + n < len && text[4 + n] != '&' && n < sizeof(d->id))
      n++;
  /* It goes into request targets: letters, digits, '-' and '_' only. */
  for (size_t i = 0; i < n && n < sizeof(d->id); i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", text[4 + i]))
      n = 0;
  if (n == 0 || n >= sizeof(d->id)) {
    fail(d, WEFT_EPROTO, "protocol", "no Vibe socket id");
    return -1;
  }
  memcpy(d->id, text + 4, n);
  d->id[n] = '\0';
  return 0;
}

static void poll(vibe_dconn *d) {
  request(d, "GET", "poll", NULL, 0, on_poll, d, &d->get);
  if (!d->get) fail(d, WEFT_EIO, "connect", "could not poll");
}

static void on_poll(const weft__http_result *r, void *user) {
  vibe_dconn *d = user;
  d->get = NULL;
  if (d->done) return;
  if (r->error || r->status != 200 || !r->len) {
    /* The server ended it (an empty answer), or went away. */
    if (d->open || (r->error == 0 && r->status == 200))
      finish(d, NULL, 0);
    else
      fail(d, r->error ? r->error : WEFT_EPROTO, r->error ? r->kind : "protocol",
           r->error ? r->message : "the poll was refused");
    return;
  }
  poll(d); /* no idle time between polls */
  if (!d->done) text_in(d, r->body, r->len);
}

/* The open GET answered (or its stream ended): an error or a refusal ends
 * the connection (1); 0: it was a 200. */
static int open_ended(vibe_dconn *d, const weft__http_result *r) {
  d->get = NULL;
  if (d->done) return 1;
  if (r->error) {
    fail(d, r->error, r->kind, r->message);
    return 1;
  }
  if (r->status == 200) return 0;
  EMIT(d, refused, r->status, r->body, r->len);
  finish(d, NULL, 0);
  return 1;
}

static void on_open(const weft__http_result *r, void *user) {
  vibe_dconn *d = user;
  if (open_ended(d, r)) return;
  if (take_id(d, r->body, r->len) == 0) poll(d);
}

static void on_post(const weft__http_result *r, void *user);

static int post_first(vibe_dconn *d) {
  vibe_post *vp = *(vibe_post **)(void *)d->posts.data;
  request(d, "POST", NULL, vp->body, vp->len, on_post, vp, &vp->f);
  return vp->f ? 0 : WEFT_EIO;
}

/* The first post answered (its status is not looked at, as the
 * reference's): the next goes. */
static void on_post(const weft__http_result *r, void *user) {
  (void)r;
  vibe_post *vp = user;
  vibe_dconn *d = vp->d;
  weft__buf *b = &d->posts;
  memmove(b->data, b->data + sizeof(vp), b->len - sizeof(vp));
  b->len -= sizeof(vp);
  free(vp);
  if (b->len && post_first(d) != 0) fail(d, WEFT_EIO, "connect", "could not post");
}

static int post(vibe_dconn *d, const uint8_t *text, size_t n) {
  if (!d->id[0]) return WEFT_ECLOSED;
  if (weft__buf_reserve(&d->posts, sizeof(vibe_post *)) != 0) return WEFT_ENOMEM;
  vibe_post *vp = malloc(sizeof(*vp) + 5 + n);
  if (!vp) return WEFT_ENOMEM;
  *vp = (vibe_post){.d = d, .len = 5 + n};
  memcpy(vp->body, "data=", 5);
  memcpy(vp->body + 5, text, n);
  weft__buf_append(&d->posts, &vp, sizeof(vp)); /* room reserved: cannot fail */
  if (d->posts.len > sizeof(vp)) return 0;      /* behind another */
  int rc = post_first(d);
  if (rc) {
    d->posts.len = 0;
    free(vp);
  }
  return rc;
}

/* ---- httpstream ---- */

/* A whole message of the stream: the first names the socket. */
static int stream_message(void *user, uint8_t *text, size_t len) {
  vibe_dconn *d = user;
  if (!d->id[0])
    take_id(d, text, len);
  else
    text_in(d, text, len);
  return d->done;
}

/* The stream's bytes (sse.c): what waits for its end is at most one
 * message of max_length (and its framing). */
static void on_stream_data(const uint8_t *data, size_t len, void *user) {
  vibe_dconn *d = user;
  if (d->done) return;
  int rc = weft__sse_feed(&d->sse, data, len, d->max_length + 4096, stream_message, d);
  if (rc && !d->done)
    fail(d, rc, "protocol", rc == WEFT_ETOOBIG ? "Vibe event too large" : "out of memory");
}

/* The stream's end: the close (or, before it opened, a refusal). */
static void on_stream_end(const weft__http_result *r, void *user) {
  vibe_dconn *d = user;
  if (!open_ended(d, r)) finish(d, NULL, 0);
}

/* ---- the ops ---- */

int weft__vibe_url_way(const char *target) {
  const char *q = strchr(target, '?');
  for (const char *p = q; p; p = strchr(p + 1, '&')) {
    if (strncmp(p + 1, "transport=", 10) != 0) continue;
    size_t n = strcspn(p + 11, "&#");
    return n == 2 && !strncmp(p + 11, "ws", 2)         ? WEFT__WAY_WS
           : n == 6 && !strncmp(p + 11, "stream", 6)   ? WEFT__WAY_STREAM
           : n == 8 && !strncmp(p + 11, "longpoll", 8) ? WEFT__WAY_LONGPOLL
                                                       : -1;
  }
  return 0;
}

/* The option chose an HTTP transport the URL does not name: its query
 * gets "transport=<name>" (the server reads it from the open GET). */
static int add_way(weft__url *u, const char *name) {
  size_t len = strlen(u->path);
  int n = snprintf(u->path + len, sizeof(u->path) - len, "%stransport=%s",
                   strchr(u->path, '?') ? "&" : "?", name);
  if (n < 0 || (size_t)n >= sizeof(u->path) - len) return WEFT_EURL;
  return 0;
}

int weft__vibe_dial(const weft__dial_params *p, weft__conn **out) {
  *out = NULL;
  vibe_dconn *d = calloc(1, sizeof(*d));
  if (!d) return WEFT_ENOMEM;
  d->base.tran = &weft__transport_vibe;
  d->base.ev = p->ev;
  d->base.owner = p->owner;
  d->client = 1;
  d->loop = p->loop;
  uv_timer_init(p->loop->uv, &d->timer);
  d->timer.data = d;
  p->loop->users++;
  *out = &d->base;
  int in_url = weft__vibe_url_way(p->url.path);
  unsigned way = p->way ? p->way : in_url > 0 ? (unsigned)in_url : WEFT__WAY_WS;
  d->longpoll = way == WEFT__WAY_LONGPOLL;
  d->stream = way == WEFT__WAY_STREAM;
  if (d->longpoll || d->stream) {
    d->url = p->url;
    if (in_url <= 0 && add_way(&d->url, d->stream ? "stream" : "longpoll") != 0) {
      fail(d, WEFT_EURL, "connect", "no room for the transport parameter");
      return 0;
    }
    d->tls = p->tls;
    d->max_length = p->max_length;
    request_streamed(d, "GET", "open", NULL, 0, d->stream ? on_stream_end : on_open,
                     d->stream ? on_stream_data : NULL, d, &d->get);
    if (!d->get) fail(d, WEFT_EIO, "connect", "could not connect");
    return 0;
  }
  weft__dial_params wp = *p;
  wp.ev = &ws_events;
  wp.owner = d;
  int rc = weft__transport_ws.dialer.dial(&wp, &d->ws);
  if (rc) {
    d->ws = NULL;
    fail(d, rc, "connect", weft_strerror(rc));
  }
  return 0;
}

void weft__vibe_cancel(weft__conn *c, int orderly) {
  vibe_dconn *d = (vibe_dconn *)c;
  c->owner = NULL;
  if (!d->done) release(d, orderly);
}

int weft__vibe_dsend(weft__conn *c, weft__payload *p, size_t *queued) {
  vibe_dconn *d = (vibe_dconn *)c;
  if (d->done || !d->open) return WEFT_ECLOSED;
  if (p->kind == WEFT__P_BINARY) return WEFT_EUNSUPPORTED;
  if (p->len >= 9 && memcmp(p->data, "\"primus::", 9) == 0) { /* Primus's own: not Vibe's */
    if (queued) *queued = weft__vibe_dqueued(c, NULL);
    return 0;
  }
  weft__buf text = {0};
  int rc = weft__vibe_from_message(p->data, p->len, ++d->seq, weft__vibe_pend_take, &d->pend, NULL,
                                   &text);
  if (rc == 0) rc = send_text(d, text.data, text.len, queued);
  weft__vibe_pend_done(&d->pend);
  weft__buf_free(&text);
  return rc;
}

size_t weft__vibe_dqueued(const weft__conn *c, size_t *held) { /* httplongpoll: 0 */
  const vibe_dconn *d = (const vibe_dconn *)(const void *)c;
  if (d->ws) return d->ws->tran->conn.queued(d->ws, held);
  if (held) *held = 0;
  return 0;
}

void weft__vibe_dclose(weft__conn *c) { finish((vibe_dconn *)c, NULL, 1); }

void weft__vibe_dabort(weft__conn *c) { finish((vibe_dconn *)c, NULL, 0); }
