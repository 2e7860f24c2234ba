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

#define WEFT__DEFLATE_MIN 64 /* smaller messages are not worth compressing */

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

int weft__conn_enqueue(weft__conn *c, weft__payload *p) {
  if (c->state == WEFT__C_CLOSED) return WEFT_ECLOSED;
  weft_server *s = c->server;
  if (c->pmd && (p->kind == WEFT__P_TEXT || p->kind == WEFT__P_BINARY) &&
      p->len >= WEFT__DEFLATE_MIN) {
    weft__payload *d = payload_deflated(s, p);
    if (d) p = d; /* on failure the plain frame is still valid */
  }
  weft__payload_frame(p, NULL);
  return weft__stream_enqueue(&c->io, p);
}

/* ---- closing ---- */

static void on_closed(weft__stream *io) {
  weft__conn *c = WEFT__CONTAINER(io, weft__conn, io);
  weft_server *s = c->server;
  if (c->auth) c->auth->conn = NULL;
  if (c->was_open) weft__spark_closed(c);
  weft__ws_reader_free(&c->reader);
  weft__spark_free_identity(c);
  weft__batch_free(c->batch);
  free(c);
  weft__server_conn_closed(s);
}

void weft__conn_abort(weft__conn *c) {
  if (c->state == WEFT__C_CLOSED) return;
  weft_server *s = c->server;
  if (c->state == WEFT__C_OPEN) weft__server_remove_open(s, c);
  weft__server_pending_remove(s, c);
  c->state = WEFT__C_CLOSED;
  weft__stream_close(&c->io);
}

void weft__conn_linger(weft__conn *c) {
  if (c->state == WEFT__C_CLOSED || c->state == WEFT__C_LINGER) return;
  weft_server *s = c->server;
  if (c->state == WEFT__C_OPEN) weft__server_remove_open(s, c);
  c->state = WEFT__C_LINGER;
  weft__server_pending_add(s, c, 2000);
  if (weft__stream_idle(&c->io)) weft__conn_abort(c);
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

static void on_written(weft__stream *io) {
  weft__conn *c = WEFT__CONTAINER(io, weft__conn, io);
  weft_server *s = c->server;
  if (c->above_hwm && io->queued < s->hwm && c->state == WEFT__C_OPEN) {
    c->above_hwm = 0;
    if (s->ev.drain) s->ev.drain(c, s->ev_user);
  }
  if (c->state == WEFT__C_LINGER && weft__stream_idle(io)) weft__conn_abort(c);
}

static void on_eof(weft__stream *io, int uverr) {
  (void)uverr;
  weft__conn_abort(WEFT__CONTAINER(io, weft__conn, io));
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
static size_t on_bytes(weft__stream *io, uint8_t *data, size_t len) {
  weft__conn *c = WEFT__CONTAINER(io, weft__conn, io);
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
    c->io.need = c->reader.need;
    return used + (size_t)n;
  }
  if (c->state == WEFT__C_AUTH) {
    /* Kept until the answer, within reason: an authorization that never
     * answers must not buffer without bound. */
    if (c->io.in.len > WEFT__READ_CHUNK) weft__conn_abort(c);
    return used;
  }
  return len; /* lingering or closed: discard */
}

static void on_seal(weft__stream *io) { weft__spark_seal(WEFT__CONTAINER(io, weft__conn, io)); }

static const weft__stream_ops conn_ops = {on_bytes, on_eof, on_written, on_closed, on_seal};

void weft__conn_process_pending(weft__conn *c) { weft__stream_reprocess(&c->io); }

/* ---- accepting and listening ---- */

static void on_reject_closed(uv_handle_t *h) { free(h); }

static void peer_name(weft__conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  c->address[0] = '\0';
  if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&ss, &len) != 0) return;
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
  peer_name(c);
  weft__ws_reader_init(&c->reader, 1, s->max_length);
  c->state = WEFT__C_HTTP;
  weft__server_pending_add(s, c, 10000);
  if ((s->tls && weft__stream_tls(&c->io, s->tls, 1, NULL) != 0) || weft__stream_start(&c->io) != 0)
    weft__conn_abort(c);
}

static weft__conn *conn_new(weft_server *s) {
  weft__conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->server = s;
  weft__stream_init(&c->io, s->loop, &conn_ops);
  s->n_conns++; /* from here on_closed runs, whatever happens */
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
  if (uv_accept(l, (uv_stream_t *)&c->io.tcp) != 0) {
    c->state = WEFT__C_CLOSED;
    weft__stream_close(&c->io); /* frees c via on_closed: nothing was owed */
    return;
  }
  conn_start(s, c);
}

int weft__conn_adopt(weft_server *s, int fd) {
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  weft__conn *c = conn_new(s);
  if (!c) return WEFT_ENOMEM;
  int rc = uv_tcp_open(&c->io.tcp, fd);
  if (rc != 0) {
    c->state = WEFT__C_CLOSED;
    weft__stream_close(&c->io);
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
    "websockets",    {"ws", "http", "wss", "https", NULL}, ws_listen, ws_stop, ws_send, ws_close,
    weft__conn_abort};

const weft__transport_ops *weft__transport_find(const char *scheme) {
  static const weft__transport_ops *const all[] = {&weft__transport_ws};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    for (const char *const *sc = all[i]->schemes; *sc; sc++)
      if (strcmp(*sc, scheme) == 0) return all[i];
  return NULL;
}
