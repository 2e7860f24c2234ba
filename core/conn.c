/*
 * The "websockets" transformer: TCP connections on libuv, the HTTP upgrade,
 * and frames through the no-I/O codec.
 *
 * Reads land in the loop's shared buffer; only bytes of an incomplete frame
 * are copied into the connection, so an idle connection holds no buffer.
 * Writes queue references to shared payloads and leave in one writev per
 * connection per loop turn (see loop.c); a partial write hands the rest to
 * uv_write and nothing else is attempted until it completes.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WEFT__IOV_MAX 64
#define WEFT__DEFLATE_MIN 64 /* smaller messages are not worth compressing */

/* ---- payloads ---- */

weft__payload *weft__payload_new(int kind, const void *data, size_t len) {
  weft__payload *p = malloc(sizeof(*p) + len);
  if (!p) return NULL;
  p->refs = 1;
  p->kind = (uint8_t)kind;
  p->hlen = 0;
  p->rsv1 = 0;
  p->len = len;
  p->deflated = NULL;
  if (len && data) memcpy(p->data, data, len);
  return p;
}

int weft__payload_message(const void *data, size_t len, int binary, weft__payload **out) {
  *out = NULL;
  if (!binary && !weft__utf8_valid(data, len)) return WEFT_EUTF8;
  *out = weft__payload_new(binary ? WEFT__P_BINARY : WEFT__P_TEXT, data, len);
  return *out ? 0 : WEFT_ENOMEM;
}

void weft__payload_release(weft__payload *p) {
  if (!p || --p->refs > 0) return;
  weft__payload_release(p->deflated);
  free(p);
}

static void payload_frame(weft__payload *p) {
  if (p->hlen || p->kind == WEFT__P_RAW) return;
  uint8_t h[14];
  size_t n = weft__ws_frame_header(h, p->kind, 1, p->rsv1, p->len, NULL);
  memcpy(p->head + sizeof(p->head) - n, h, n);
  p->hlen = (uint8_t)n;
}

static inline uint8_t *frame_start(weft__payload *p) { return p->head + sizeof(p->head) - p->hlen; }
static inline size_t frame_len(const weft__payload *p) { return p->hlen + p->len; }

/* Server frames carry no mask and no per-connection state (no context
 * takeover), so the compressed frame is the same for every recipient. */
static weft__payload *payload_deflated(weft_server *s, weft__payload *p) {
  if (p->deflated) return p->deflated;
  weft__buf *out = &s->loop->scratch;
  out->len = 0;
  if (weft__pmd_deflate(s->pmd, p->data, p->len, out) != 0) return NULL;
  weft__payload *d = weft__payload_new(p->kind, out->data, out->len);
  if (!d) return NULL;
  d->rsv1 = 1;
  p->deflated = d;
  return d;
}

/* ---- queue ---- */

static int queue_push(weft__conn *c, weft__payload *p) {
  if (c->q_len == c->q_cap) {
    size_t cap = c->q_cap ? c->q_cap * 2 : 4;
    weft__qent *q = malloc(cap * sizeof(*q));
    if (!q) return WEFT_ENOMEM;
    for (size_t i = 0; i < c->q_len; i++)
      q[i] = c->q[(c->q_head + i) % c->q_cap];
    free(c->q);
    c->q = q;
    c->q_cap = cap;
    c->q_head = 0;
  }
  weft__qent *e = &c->q[(c->q_head + c->q_len) % c->q_cap];
  e->p = p;
  e->off = 0;
  p->refs++;
  c->q_len++;
  c->queued += frame_len(p);
  return 0;
}

/* Drops `n` written bytes from the head of the queue. */
static void queue_consume(weft__conn *c, size_t n) {
  while (n > 0 && c->q_len > 0) {
    weft__qent *e = &c->q[c->q_head];
    size_t rem = frame_len(e->p) - e->off;
    if (n < rem) {
      e->off += n;
      c->queued -= n;
      return;
    }
    n -= rem;
    c->queued -= rem;
    weft__payload_release(e->p);
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
  }
}

static void queue_clear(weft__conn *c) {
  while (c->q_len > 0) {
    weft__payload_release(c->q[c->q_head].p);
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
  }
  c->queued = 0;
  free(c->q);
  c->q = NULL;
  c->q_cap = c->q_head = 0;
}

int weft__conn_enqueue(weft__conn *c, weft__payload *p) {
  if (c->state == WEFT__C_CLOSED) return WEFT_ECLOSED;
  weft_server *s = c->server;
  if (c->pmd && (p->kind == WEFT__P_TEXT || p->kind == WEFT__P_BINARY) &&
      p->len >= WEFT__DEFLATE_MIN) {
    weft__payload *d = payload_deflated(s, p);
    if (d) p = d; /* on failure the plain frame is still valid */
  }
  payload_frame(p);
  int rc = queue_push(c, p);
  if (rc) return rc;
  weft__loop_mark_dirty(s->loop, c);
  return 0;
}

/* ---- closing ---- */

static void on_closed(uv_handle_t *h) {
  weft__conn *c = h->data;
  weft_server *s = c->server;
  if (c->auth) c->auth->conn = NULL;
  if (c->was_open) weft__spark_closed(c);
  queue_clear(c);
  weft__buf_free(&c->in);
  weft__ws_reader_free(&c->reader);
  weft__spark_free_identity(c);
  free(c);
  weft__server_conn_closed(s);
}

void weft__conn_abort(weft__conn *c) {
  if (c->state == WEFT__C_CLOSED) return;
  weft_server *s = c->server;
  if (c->state == WEFT__C_OPEN) weft__server_remove_open(s, c);
  weft__server_pending_remove(s, c);
  weft__loop_unmark_dirty(s->loop, c);
  c->state = WEFT__C_CLOSED;
  uv_read_stop((uv_stream_t *)&c->tcp);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void weft__conn_linger(weft__conn *c) {
  if (c->state == WEFT__C_CLOSED || c->state == WEFT__C_LINGER) return;
  weft_server *s = c->server;
  if (c->state == WEFT__C_OPEN) weft__server_remove_open(s, c);
  c->state = WEFT__C_LINGER;
  weft__server_pending_add(s, c, 2000);
  if (c->q_len == 0 && !c->writing) weft__conn_abort(c);
}

void weft__conn_close_ws(weft__conn *c, int code, const char *reason) {
  if (c->state != WEFT__C_OPEN) return;
  uint8_t body[125];
  size_t n = weft__ws_close_payload(body, code, reason);
  weft__payload *p = weft__payload_new(WEFT__P_CLOSE, body, n);
  if (!p || weft__conn_enqueue(c, p) != 0) {
    weft__payload_release(p);
    weft__conn_abort(c);
    return;
  }
  weft__payload_release(p);
  c->close_sent = 1;
  weft__server_remove_open(c->server, c);
  c->state = WEFT__C_CLOSING;
  weft__server_pending_add(c->server, c, 2000);
}

/* ---- writing ---- */

static size_t fill_iov(weft__conn *c, uv_buf_t *iov) {
  size_t n = c->q_len < WEFT__IOV_MAX ? c->q_len : WEFT__IOV_MAX;
  for (size_t i = 0; i < n; i++) {
    weft__qent *e = &c->q[(c->q_head + i) % c->q_cap];
    iov[i] = uv_buf_init((char *)frame_start(e->p) + e->off, (unsigned)(frame_len(e->p) - e->off));
  }
  return n;
}

static void after_write(weft__conn *c) {
  weft_server *s = c->server;
  if (c->above_hwm && c->queued < s->hwm && c->state == WEFT__C_OPEN) {
    c->above_hwm = 0;
    if (s->ev.drain) s->ev.drain(c, s->ev_user);
  }
  if (c->state == WEFT__C_LINGER && c->q_len == 0 && !c->writing) weft__conn_abort(c);
}

static void on_write(uv_write_t *req, int status) {
  weft__conn *c = req->data;
  c->writing = 0;
  if (c->state == WEFT__C_CLOSED) return; /* cancelled by uv_close */
  if (status < 0) {
    weft__conn_abort(c);
    return;
  }
  size_t done = 0;
  for (size_t i = 0; i < c->inflight_n; i++) {
    weft__qent *e = &c->q[(c->q_head + i) % c->q_cap];
    done += frame_len(e->p) - e->off;
  }
  c->inflight_n = 0;
  queue_consume(c, done);
  if (c->q_len > 0) weft__conn_flush(c);
  after_write(c);
}

void weft__conn_flush(weft__conn *c) {
  if (c->writing || c->q_len == 0 || c->state == WEFT__C_CLOSED) return;
  uv_buf_t iov[WEFT__IOV_MAX];
  size_t n = fill_iov(c, iov);
  int w = uv_try_write((uv_stream_t *)&c->tcp, iov, (unsigned)n);
  if (w == UV_EAGAIN || w == UV_ENOSYS) w = 0;
  if (w < 0) {
    weft__conn_abort(c);
    return;
  }
  queue_consume(c, (size_t)w);
  if (c->q_len > 0) {
    n = fill_iov(c, iov);
    c->inflight_n = n;
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, iov, (unsigned)n, on_write) != 0) {
      c->inflight_n = 0;
      weft__conn_abort(c);
      return;
    }
    c->writing = 1;
  }
  after_write(c);
}

/* ---- reading ---- */

static int on_ws_message(void *ctx, int binary, uint8_t *data, size_t len) {
  weft__conn *c = ctx;
  if (c->state != WEFT__C_OPEN) return 0; /* closing: data is ignored */
  weft__spark_message(c, binary, data, len);
  return c->state == WEFT__C_CLOSED;
}

static int on_ws_ping(void *ctx, uint8_t *data, size_t len) {
  weft__conn *c = ctx;
  if (c->state != WEFT__C_OPEN) return 0;
  weft__payload *p = weft__payload_new(WEFT__P_PONG, data, len);
  if (p) weft__conn_enqueue(c, p);
  weft__payload_release(p);
  return 0;
}

static int on_ws_pong(void *ctx, uint8_t *data, size_t len) {
  (void)ctx, (void)data, (void)len;
  return 0;
}

static int on_ws_close(void *ctx, int code, const char *reason, size_t rlen) {
  weft__conn *c = ctx;
  (void)reason, (void)rlen;
  if (c->state == WEFT__C_CLOSING) { /* our close was answered (or crossed it) */
    weft__conn_linger(c);
    return 1;
  }
  if (c->state != WEFT__C_OPEN) return 1;
  uint8_t body[125];
  size_t n = code == WEFT__CLOSE_NO_STATUS ? 0 : weft__ws_close_payload(body, code, NULL);
  weft__payload *p = weft__payload_new(WEFT__P_CLOSE, body, n);
  if (p) weft__conn_enqueue(c, p);
  weft__payload_release(p);
  c->close_sent = 1;
  weft__conn_linger(c);
  return 1;
}

static const weft__ws_reader_cbs reader_cbs = {on_ws_message, on_ws_ping, on_ws_pong, on_ws_close};

static const char *close_kind(int code) {
  switch (code) {
  case WEFT__CLOSE_TOO_BIG: return "toobig";
  case WEFT__CLOSE_INVALID_DATA: return "utf8";
  default: return "protocol";
  }
}

/* Consumes what it can of data[0..len); returns the bytes used. */
static size_t process(weft__conn *c, uint8_t *data, size_t len) {
  size_t used = 0;
  if (c->state == WEFT__C_HTTP) {
    int rc = weft__http_parse_request(data, len, &c->req);
    if (rc == 0) return 0;
    if (rc < 0) {
      weft__http_respond(c, rc == WEFT_ETOOBIG ? 431 : 400, "text/plain",
                         rc == WEFT_ETOOBIG ? "Request Header Fields Too Large" : "Bad Request",
                         NULL);
      return len;
    }
    used = (size_t)rc;
    weft__http_request(c);
  }
  if (c->state == WEFT__C_OPEN || c->state == WEFT__C_CLOSING) {
    long n = weft__ws_reader_feed(&c->reader, data + used, len - used, &reader_cbs, c);
    if (n < 0) {
      int code = c->reader.close_code ? c->reader.close_code : WEFT__CLOSE_PROTOCOL;
      if (c->state == WEFT__C_OPEN) {
        weft__server_error(c->server, c, (int)n, close_kind(code), weft_strerror((int)n));
        weft__conn_close_ws(c, code, NULL);
        weft__conn_linger(c);
      } else {
        weft__conn_abort(c);
      }
      return len;
    }
    return used + (size_t)n;
  }
  if (c->state == WEFT__C_AUTH) return used; /* kept until the answer */
  return len;                                /* lingering or closed: discard */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  weft__conn *c = h->data;
  weft_loop *loop = c->server->loop;
  (void)suggested;
  if (c->in.len == 0 && !loop->rbuf_busy) {
    loop->rbuf_busy = 1;
    *buf = uv_buf_init((char *)loop->rbuf, sizeof(loop->rbuf));
    return;
  }
  size_t want = c->reader.need > c->in.len ? c->reader.need - c->in.len : 0;
  if (want < 16384) want = 16384;
  if (weft__buf_reserve(&c->in, want) != 0) {
    *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  weft__conn *c = stream->data;
  weft_loop *loop = c->server->loop;
  int shared = buf->base == (char *)loop->rbuf;
  if (shared) loop->rbuf_busy = 0;
  if (nread < 0) {
    weft__conn_abort(c);
    return;
  }
  if (nread == 0 || c->state == WEFT__C_CLOSED) return;
  if (shared) {
    size_t used = process(c, loop->rbuf, (size_t)nread);
    if (used < (size_t)nread && c->state != WEFT__C_CLOSED &&
        weft__buf_append(&c->in, loop->rbuf + used, (size_t)nread - used) != 0)
      weft__conn_abort(c);
  } else {
    c->in.len += (size_t)nread;
    weft__conn_process_pending(c);
  }
  /* An authorization that never answers must not buffer without bound. */
  if (c->state == WEFT__C_AUTH && c->in.len > WEFT__READ_CHUNK) weft__conn_abort(c);
}

void weft__conn_process_pending(weft__conn *c) {
  if (c->in.len == 0 || c->state == WEFT__C_CLOSED) return;
  size_t used = process(c, c->in.data, c->in.len);
  if (c->state == WEFT__C_CLOSED) return;
  if (used >= c->in.len) {
    /* Nothing pending: give the memory back, idle connections hold none. */
    weft__buf_free(&c->in);
  } else if (used > 0) {
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
  }
}

/* ---- accepting and listening ---- */

static void on_reject_closed(uv_handle_t *h) { free(h); }

static void peer_name(weft__conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  c->address[0] = '\0';
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, c->address, sizeof(c->address));
    c->rport = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, c->address, sizeof(c->address));
    c->rport = ntohs(a->sin_port);
  }
}

/* Takes over an initialised, connected handle and starts the HTTP phase. */
static void conn_start(weft_server *s, weft__conn *c) {
  uv_tcp_nodelay(&c->tcp, 1);
  peer_name(c);
  weft__ws_reader_init(&c->reader, 1, s->max_length);
  c->state = WEFT__C_HTTP;
  s->n_conns++;
  weft__server_pending_add(s, c, 10000);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) weft__conn_abort(c);
}

static weft__conn *conn_new(weft_server *s) {
  weft__conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->server = s;
  uv_tcp_init(s->loop->uv, &c->tcp);
  c->tcp.data = c;
  return c;
}

static void on_connection(uv_stream_t *l, int status) {
  weft_server *s = l->data;
  if (status < 0) {
    weft__server_error(s, NULL, weft__uv_err(status), "io", uv_strerror(status));
    return;
  }
  weft__conn *c = conn_new(s);
  if (!c) {
    /* Out of memory: accept and drop, or the listener would spin on it. */
    uv_tcp_t *t = malloc(sizeof(*t));
    if (!t) return;
    uv_tcp_init(s->loop->uv, t);
    uv_accept(l, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_reject_closed);
    return;
  }
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_reject_closed);
    return;
  }
  conn_start(s, c);
}

int weft__conn_adopt(weft_server *s, int fd) {
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  weft__conn *c = conn_new(s);
  if (!c) return WEFT_ENOMEM;
  int rc = uv_tcp_open(&c->tcp, fd);
  if (rc != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_reject_closed);
    return weft__uv_err(rc);
  }
  conn_start(s, c);
  return 0;
}

static int ws_listen(weft_server *s, const weft__url *url) {
  struct sockaddr_storage ss;
  int rc = weft__sockaddr(url->host, url->port, &ss);
  if (rc) return rc;
  uv_tcp_init(s->loop->uv, &s->listener);
  s->listener.data = s;
  s->live_handles++;
  s->listening = 1;
  rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (rc != 0) return weft__uv_err(rc);
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
  s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

static void on_listener_closed(uv_handle_t *h) {
  weft_server *s = h->data;
  weft__server_handle_closed(s);
}

static void ws_stop(weft_server *s) {
  if (!s->listening) return;
  s->listening = 0;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

static int ws_send(weft_spark *sp, weft__payload *p) { return weft__conn_enqueue(sp, p); }

static void ws_close(weft_spark *sp, int code, const char *reason) {
  weft__conn_close_ws(sp, code, reason);
}

const weft__transport_ops weft__transport_ws = {
    "websockets",    {"ws", "http", NULL, NULL}, ws_listen, ws_stop, ws_send, ws_close,
    weft__conn_abort};

const weft__transport_ops *weft__transport_find(const char *scheme) {
  static const weft__transport_ops *const all[] = {&weft__transport_ws};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    for (const char *const *sc = all[i]->schemes; *sc; sc++)
      if (strcmp(*sc, scheme) == 0) return all[i];
  return NULL;
}
