/*
 * The client: Primus's client state machine over one connection attempt at
 * a time. An attempt (weft__attempt) owns a stream, the upgrade handshake
 * and the frame reader; the client owns options, timers, the recovery
 * (backoff) state and the queue of writes made while not open. An attempt
 * that outlives its client's interest (end, timeout) is detached and
 * finishes closing on its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tls.h"
#include "value_internal.h"

enum { A_RESOLVING, A_CONNECTING, A_SPEC, A_HANDSHAKE, A_REFUSED, A_OPEN, A_LINGER, A_DEAD };

typedef struct weft__attempt {
  weft__stream io;
  weft_client *client; /* NULL once detached */
  weft_loop *loop;
  int phase;
  uv_connect_t creq;
  uv_getaddrinfo_t gai;
  weft__ws_reader reader;
  char accept[29];
  int status; /* of a refusal */
  weft__http_head resp;
  size_t body_need;
  weft_error_info err; /* why it failed, reported once the stream is closed */
  char errmsg[160];
  int spec;    /* this attempt only reads <path>/spec */
  int spec_ok; /* …and it is done: the real attempt follows at once */
} weft__attempt;

struct weft_client {
  weft_loop *loop;
  weft_client_events ev;
  void *ev_user;
  void (*ev_free)(void *);
  /* options */
  weft__url url;
  const weft__parser_ops *parser;
  uint32_t rmin, rmax, retries;
  double factor;
  int strat_disconnect, strat_online, strat_timeout;
  uint32_t timeout_ms, ping_timeout_ms;
  int ping_timeout_set, spec_done;
  size_t max_length, queue_limit;
  int retry_refused;
  weft__buf headers; /* extra "Name: value\r\n" lines */
  int secure, verify;
  char *ca_file;
  weft__tls_ctx *tls;
  /* state */
  int state;
  int ended, destroyed, online, disconnect, refused;
  int reconnecting, retry_pending, opened;
  uint32_t attempt, delay;
  weft__attempt *conn;
  uv_timer_t connect_timer, ping_timer, retry_timer;
  size_t live_handles;
  weft__payload **pend;
  size_t pend_len, pend_cap, pend_bytes;
  weft__arena arena;
  weft__rand rand;
  weft__plugin_list plugins;
  size_t batch_max;
  weft__batch *batch; /* messages held for this loop turn, while open */
};

static void attempt_start(weft_client *c);
static size_t spec_read(weft__attempt *a, uint8_t *data, size_t len);
static void client_lost(weft_client *c, weft__attempt *a);
static void recovery_reconnect(weft_client *c);
static void client_end(weft_client *c);
static void on_connect_timeout(uv_timer_t *t);

/* ---- events ---- */

#define EMIT(c, name, ...)                                                                         \
  do {                                                                                             \
    if ((c)->ev.name) (c)->ev.name(__VA_ARGS__);                                                   \
  } while (0)

/* The connection went away: plugins first, then the application. */
static void emit_close(weft_client *c) {
  /* Messages batched for a connection that is gone go with it, as frames
   * queued on it do. */
  weft__batch_clear(c->batch);
  weft__client_plugins_notify(&c->plugins, c, 0);
  EMIT(c, close, c, c->ev_user);
}

static void emit_error(weft_client *c, int code, const char *kind, const char *msg, int status,
                       const char *body) {
  weft_error_info e = {code, kind, msg ? msg : weft_strerror(code), status, body};
  EMIT(c, error, c, &e, c->ev_user);
}

static weft_reconnect_info info_of(const weft_client *c) {
  weft_reconnect_info i = {c->attempt, c->retries, c->delay};
  return i;
}

/* ---- sending ---- */

static int send_now(weft_client *c, weft__payload *p) {
  uint8_t mask[4];
  if (weft__rand_bytes(&c->rand, mask, sizeof(mask)) != 0) return WEFT_EIO;
  weft__payload_frame(p, mask);
  return weft__stream_enqueue(&c->conn->io, p);
}

static int is_open(const weft_client *c) {
  return c->state == WEFT_CLIENT_OPEN && c->conn && c->conn->phase == A_OPEN;
}

/* What was batched leaves before anything written after it. */
static int seal_batch(weft_client *c) {
  weft__payload *b = weft__batch_seal(c->batch, c->parser, c->loop);
  if (!b) return 0;
  int rc = is_open(c) ? send_now(c, b) : WEFT_ECLOSED;
  weft__payload_release(b);
  return rc;
}

static int send_or_queue(weft_client *c, weft__payload *p) {
  if (is_open(c) && c->batch_max && weft__batchable(c->parser, p, c->batch_max)) {
    size_t held = weft__batch_bytes(c->batch);
    if (held && held + p->len + 1 > c->batch_max && seal_batch(c)) return WEFT_ECLOSED;
    if (weft__batch_add(&c->batch, p)) return WEFT_ENOMEM;
    weft__loop_mark_dirty(c->loop, &c->conn->io);
    return 0;
  }
  if (weft__batch_bytes(c->batch)) seal_batch(c);
  if (is_open(c)) return send_now(c, p);
  if (c->queue_limit && c->pend_bytes + p->len > c->queue_limit) return WEFT_ENOBUFS;
  if (c->pend_len == c->pend_cap) {
    size_t cap = c->pend_cap ? c->pend_cap * 2 : 16;
    weft__payload **q = realloc(c->pend, cap * sizeof(*q));
    if (!q) return WEFT_ENOMEM;
    c->pend = q;
    c->pend_cap = cap;
  }
  p->refs++;
  c->pend[c->pend_len++] = p;
  c->pend_bytes += p->len;
  return 0;
}

static void pend_clear(weft_client *c) {
  for (size_t i = 0; i < c->pend_len; i++)
    weft__payload_release(c->pend[i]);
  c->pend_len = c->pend_bytes = 0;
}

static int send_string(weft_client *c, const char *s, size_t n) {
  weft_value *v = weft_value_new_string(s, n);
  if (!v) return WEFT_ENOMEM;
  weft__payload *p;
  int rc = weft__message_encode(c->parser, c->loop, v, &p);
  weft_value_free(v);
  if (rc) return rc;
  rc = send_or_queue(c, p);
  weft__payload_release(p);
  return rc;
}

/* ---- heartbeat ---- */

static void on_ping_timeout(uv_timer_t *t) {
  weft_client *c = t->data;
  if (c->state != WEFT_CLIENT_OPEN || !c->conn) return;
  /* No ping for too long: the connection is dead even if TCP says not. */
  if (c->online) {
    c->online = 0;
    EMIT(c, offline, c, c->ev_user);
    /* The application may have ended or destroyed us in there. */
    if (c->state != WEFT_CLIENT_OPEN || !c->conn) return;
  }
  weft__attempt *a = c->conn;
  a->phase = A_DEAD;
  weft__stream_close(&a->io);
  client_lost(c, a);
}

static void heartbeat(weft_client *c) {
  if (c->ping_timeout_ms) uv_timer_start(&c->ping_timer, on_ping_timeout, c->ping_timeout_ms, 0);
}

/* ---- incoming ---- */

/* One decoded message: Primus's control strings, then plugins and the data
 * event. `owned`: a binary frame under a text parser (never a control). */
static void client_value(weft_client *c, const weft_value *v, int owned) {
  const char *rest;
  size_t rlen;
  int control = !owned && weft__value_maybe_control(v);
  if (control && weft__message_is(v, "primus::ping::", &rest, &rlen)) {
    heartbeat(c);
    char pong[96];
    int n = snprintf(pong, sizeof(pong), "primus::pong::%.*s", (int)(rlen < 64 ? rlen : 64), rest);
    send_string(c, pong, (size_t)n);
  } else if (control && weft__message_is(v, "primus::server::close", NULL, NULL)) {
    c->disconnect = 1;
  } else if (control && weft__message_is(v, "primus::id::", &rest, &rlen)) {
    char id[96];
    snprintf(id, sizeof(id), "%.*s", (int)(rlen < 95 ? rlen : 95), rest);
    EMIT(c, id, c, id, c->ev_user);
  } else if (c->plugins.n) {
    const weft_value *msg;
    weft_value *rep;
    int rc = weft__client_plugins_incoming(&c->plugins, c, v, &msg, &rep);
    if (rc < 0)
      emit_error(c, rc, "transform", "an incoming transform failed", 0, NULL);
    else if (rc == WEFT_PASS && !c->ended)
      EMIT(c, data, c, msg, c->ev_user);
    weft_value_free(rep);
  } else {
    EMIT(c, data, c, v, c->ev_user);
  }
}

static void client_message(weft_client *c, int binary, const uint8_t *data, size_t len) {
  const weft_value *v;
  weft_value *owned;
  char err[160];
  int rc =
      weft__message_decode(c->parser, &c->arena, binary, data, len, &v, &owned, err, sizeof(err));
  const weft_value *items =
      rc == 0 && !owned && weft__value_maybe_batch(v) ? weft__batch_items(v) : NULL;
  if (rc) {
    emit_error(c, rc, rc == WEFT_ENOMEM ? "io" : c->parser->name, err, 0, NULL);
  } else if (items) {
    weft__attempt *a = c->conn;
    for (size_t i = 0, n = weft_value_len(items); i < n && !c->ended && c->conn == a; i++)
      client_value(c, weft_value_array_at(items, i), 0);
  } else {
    client_value(c, v, owned != NULL);
  }
  weft_value_free(owned);
  weft__arena_reset(&c->arena);
}

static int on_ws_message(void *ctx, int binary, uint8_t *data, size_t len) {
  weft__attempt *a = ctx;
  if (a->client && a->phase == A_OPEN) client_message(a->client, binary, data, len);
  return a->phase != A_OPEN;
}

static int on_ws_ping(void *ctx, uint8_t *data, size_t len) {
  weft__attempt *a = ctx;
  if (!a->client || a->phase != A_OPEN) return 0;
  weft__payload *p = weft__payload_new(WEFT__P_PONG, data, len);
  if (p) send_now(a->client, p);
  weft__payload_release(p);
  return 0;
}

static int on_ws_pong(void *ctx, uint8_t *data, size_t len) {
  (void)ctx, (void)data, (void)len;
  return 0;
}

static void attempt_linger(weft__attempt *a) {
  a->phase = A_LINGER;
  if (weft__stream_idle(&a->io)) weft__stream_close(&a->io);
}

static int attempt_send_close(weft__attempt *a, int code) {
  uint8_t body[125], mask[4] = {0x5a, 0xc3, 0x1e, 0x77};
  size_t n = code ? weft__ws_close_payload(body, code, NULL) : 0;
  weft__payload *p = weft__payload_new(WEFT__P_CLOSE, body, n);
  if (!p) return WEFT_ENOMEM;
  weft__payload_frame(p, mask);
  int rc = weft__stream_enqueue(&a->io, p);
  weft__payload_release(p);
  return rc;
}

static int on_ws_close(void *ctx, int code, const char *reason, size_t rlen) {
  weft__attempt *a = ctx;
  (void)reason, (void)rlen;
  if (a->phase == A_OPEN) attempt_send_close(a, code == WEFT__CLOSE_NO_STATUS ? 0 : code);
  attempt_linger(a);
  return 1;
}

static const weft__ws_reader_cbs reader_cbs = {on_ws_message, on_ws_ping, on_ws_pong, on_ws_close};

/* ---- the attempt's stream ---- */

static void attempt_fail(weft__attempt *a, int code, const char *kind, const char *msg) {
  if (!a->err.kind) {
    snprintf(a->errmsg, sizeof(a->errmsg), "%s", msg ? msg : weft_strerror(code));
    a->err = (weft_error_info){code, kind, a->errmsg, 0, NULL};
  }
  a->phase = A_DEAD;
  weft__stream_close(&a->io);
}

static void client_opened(weft_client *c) {
  uv_timer_stop(&c->connect_timer);
  if (c->reconnecting) {
    weft_reconnect_info i = info_of(c);
    c->reconnecting = 0;
    c->attempt = 0;
    EMIT(c, reconnected, c, &i, c->ev_user);
  }
  if (!c->online) {
    c->online = 1;
    EMIT(c, online, c, c->ev_user);
  }
  c->state = WEFT_CLIENT_OPEN;
  heartbeat(c);
  /* Writes made while offline leave first, in order, before `open`. */
  size_t n = c->pend_len;
  for (size_t i = 0; i < n; i++) {
    send_now(c, c->pend[i]);
    weft__payload_release(c->pend[i]);
  }
  c->pend_len = c->pend_bytes = 0;
  weft__client_plugins_notify(&c->plugins, c, 1);
  if (c->state == WEFT_CLIENT_OPEN) EMIT(c, open, c, c->ev_user);
}

static size_t handshake(weft__attempt *a, uint8_t *data, size_t len) {
  weft_client *c = a->client;
  weft__http_head *h = &a->resp;
  int rc = weft__http_parse_response(data, len, h);
  if (rc == 0) return 0;
  if (rc < 0) {
    attempt_fail(a, WEFT_EPROTO, "protocol", "malformed HTTP response to the upgrade");
    return len;
  }
  size_t used = (size_t)rc;
  if (h->status != 101) {
    a->status = h->status;
    const char *cl = weft__http_get(h, "Content-Length");
    a->body_need = cl ? (size_t)strtoul(cl, NULL, 10) : SIZE_MAX;
    if (a->body_need > 65536) a->body_need = 65536;
    a->phase = A_REFUSED;
    return used;
  }
  const char *up = weft__http_get(h, "Upgrade"), *conn = weft__http_get(h, "Connection");
  const char *acc = weft__http_get(h, "Sec-WebSocket-Accept");
  if (!up || !weft__http_has_token(up, "websocket") || !conn ||
      !weft__http_has_token(conn, "upgrade") || !acc || strcmp(acc, a->accept) != 0 ||
      weft__http_get(h, "Sec-WebSocket-Extensions")) {
    attempt_fail(a, WEFT_EPROTO, "protocol", "invalid WebSocket upgrade response");
    return len;
  }
  weft__ws_reader_init(&a->reader, 0, c->max_length);
  a->phase = A_OPEN;
  client_opened(c);
  return used;
}

static void refused(weft__attempt *a, const uint8_t *body, size_t n) {
  char msg[96], text[1024];
  snprintf(text, sizeof(text), "%.*s", (int)(n < sizeof(text) - 1 ? n : sizeof(text) - 1),
           (const char *)body);
  snprintf(msg, sizeof(msg), "upgrade refused with HTTP %d", a->status);
  weft_client *c = a->client;
  if (c) {
    emit_error(c, WEFT_EUNAUTHORIZED, "http", msg, a->status, text);
    if (!c->retry_refused) c->refused = 1;
  }
  a->err.kind = "reported";
  a->phase = A_DEAD;
  weft__stream_close(&a->io);
}

static size_t attempt_read(weft__stream *io, uint8_t *data, size_t len) {
  weft__attempt *a = WEFT__CONTAINER(io, weft__attempt, io);
  size_t used = 0;
  if (!a->client) return len;
  if (a->phase == A_SPEC) return spec_read(a, data, len);
  if (a->phase == A_HANDSHAKE) {
    used = handshake(a, data, len);
    if (a->phase == A_DEAD) return len;
    if (a->phase == A_HANDSHAKE) return 0; /* the answer's head is not all here */
  }
  if (a->phase == A_REFUSED) {
    if (len - used >= a->body_need) refused(a, data + used, a->body_need);
    return a->phase == A_DEAD ? len : used;
  }
  if (a->phase == A_OPEN) {
    long n = weft__ws_reader_feed(&a->reader, data + used, len - used, &reader_cbs, a);
    if (n < 0) {
      int code = a->reader.close_code ? a->reader.close_code : WEFT__CLOSE_PROTOCOL;
      attempt_send_close(a, code);
      if (!a->err.kind) {
        snprintf(a->errmsg, sizeof(a->errmsg), "%s", weft_strerror((int)n));
        a->err = (weft_error_info){(int)n, "protocol", a->errmsg, 0, NULL};
      }
      attempt_linger(a);
      return len;
    }
    a->io.need = a->reader.need;
    return used + (size_t)n;
  }
  return len;
}

static void attempt_eof(weft__stream *io, int uverr) {
  weft__attempt *a = WEFT__CONTAINER(io, weft__attempt, io);
  if (a->phase == A_SPEC && uverr == UV_EOF) { /* no spec: keep the default, go on */
    a->client->spec_done = 1;
    a->spec_ok = 1;
    a->phase = A_DEAD;
    weft__stream_close(io);
    return;
  }
  if (a->phase == A_REFUSED) { /* the body ended with the connection */
    refused(a, a->io.in.data ? a->io.in.data : (const uint8_t *)"", a->io.in.len);
    return;
  }
  const char *tls_err = weft__stream_tls_error(io);
  if (a->phase < A_OPEN && !a->err.kind) {
    if (*tls_err)
      attempt_fail(a, WEFT_EPROTO, "tls", tls_err);
    else
      attempt_fail(a, weft__uv_err(uverr), "connect", uv_strerror(uverr));
  }
  a->phase = A_DEAD;
  weft__stream_close(io);
}

static void attempt_written(weft__stream *io) {
  weft__attempt *a = WEFT__CONTAINER(io, weft__attempt, io);
  if (a->phase == A_LINGER && weft__stream_idle(io)) weft__stream_close(io);
}

static void attempt_closed(weft__stream *io) {
  weft__attempt *a = WEFT__CONTAINER(io, weft__attempt, io);
  weft_client *c = a->client;
  weft_loop *loop = a->loop;
  weft__ws_reader_free(&a->reader);
  weft__http_head_free(&a->resp);
  if (c && c->conn == a && a->spec_ok) { /* the spec is read: connect for real */
    c->conn = NULL;
    c->live_handles--;
    if (!c->ended) attempt_start(c);
  } else if (c && c->conn == a) {
    client_lost(c, a);
  } else if (c) {
    c->live_handles--;
  }
  free(a);
  loop->users--;
}

static void attempt_seal(weft__stream *io) {
  weft__attempt *a = WEFT__CONTAINER(io, weft__attempt, io);
  if (a->client && a->client->conn == a && weft__batch_bytes(a->client->batch))
    seal_batch(a->client);
}

static const weft__stream_ops attempt_ops = {attempt_read, attempt_eof, attempt_written,
                                             attempt_closed, attempt_seal};

/* ---- connecting ---- */

/* Primus bakes the server's pingInterval into its client library; weft's
 * client reads it from <path>/spec before its first connection instead. */
static void send_spec_request(weft__attempt *a, weft_client *c) {
  size_t plen = strcspn(c->url.path, "?");
  int v6 = strchr(c->url.host, ':') != NULL;
  char head[1600];
  int n = snprintf(head, sizeof(head),
                   "GET %.*s/spec HTTP/1.1\r\nHost: %s%s%s:%d\r\nAccept: application/json\r\n"
                   "Connection: close\r\n\r\n",
                   (int)plen, c->url.path, v6 ? "[" : "", c->url.host, v6 ? "]" : "", c->url.port);
  weft__payload *p =
      n > 0 && (size_t)n < sizeof(head) ? weft__payload_new(WEFT__P_RAW, head, (size_t)n) : NULL;
  int rc = p ? 0 : WEFT_ENOMEM;
  if (rc == 0 && c->secure) rc = weft__stream_tls(&a->io, c->tls, 0, c->url.host);
  if (rc == 0) rc = weft__stream_enqueue(&a->io, p);
  weft__payload_release(p);
  if (rc == 0) rc = weft__stream_start(&a->io);
  if (rc) {
    attempt_fail(a, rc, "connect", NULL);
    return;
  }
  a->phase = A_SPEC;
}

/* Reads the spec answer; any answer that is not a usable spec keeps the
 * default timeout. */
static size_t spec_read(weft__attempt *a, uint8_t *data, size_t len) {
  weft_client *c = a->client;
  weft__http_head h;
  int rc = weft__http_parse_response(data, len, &h);
  if (rc == 0) return 0;
  size_t used = rc > 0 ? (size_t)rc : len;
  if (rc > 0 && h.status == 200) {
    const char *cl = weft__http_get(&h, "Content-Length");
    size_t body = cl ? (size_t)strtoul(cl, NULL, 10) : len - used;
    if (body > 65536) body = 0;
    if (len - used < body) {
      weft__http_head_free(&h);
      return 0; /* the whole answer first */
    }
    weft_value *spec = NULL;
    if (body && weft_value_decode("json", data + used, body, &spec, NULL) == 0) {
      const weft_value *pi = weft_value_map_get(spec, "pingInterval", 12);
      int64_t ms;
      double d;
      if (weft_value_type(pi) == WEFT_BOOL)
        c->ping_timeout_ms = 0; /* false: no heartbeat */
      else if (weft_value_get_int(pi, &ms) == 0 && ms > 0 && ms < UINT32_MAX / 2)
        c->ping_timeout_ms = (uint32_t)ms + (uint32_t)ms / 2;
      else if (weft_value_get_float(pi, &d) == 0 && d > 0 && d < UINT32_MAX / 2)
        c->ping_timeout_ms = (uint32_t)(d * 1.5);
    }
    weft_value_free(spec);
    used += body;
  }
  if (rc > 0) weft__http_head_free(&h);
  c->spec_done = 1;
  a->spec_ok = 1;
  a->phase = A_DEAD;
  weft__stream_close(&a->io);
  return len;
}

static void on_connect(uv_connect_t *req, int status) {
  weft__attempt *a = req->data;
  if (a->io.closed) return;
  if (status < 0) {
    attempt_fail(a, weft__uv_err(status), "connect", uv_strerror(status));
    return;
  }
  weft_client *c = a->client;
  if (!c) {
    weft__stream_close(&a->io);
    return;
  }
  if (a->spec) {
    send_spec_request(a, c);
    return;
  }
  char key[25];
  if (weft__ws_make_key(key) != 0) {
    attempt_fail(a, WEFT_EIO, "connect", "no randomness for the WebSocket key");
    return;
  }
  weft__ws_accept_key(key, a->accept);
  int v6 = strchr(c->url.host, ':') != NULL;
  weft__buf *b = &c->loop->scratch;
  b->len = 0;
  char head[1600];
  int n = snprintf(head, sizeof(head),
                   "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                   c->url.path, v6 ? "[" : "", c->url.host, v6 ? "]" : "", c->url.port, key);
  if (n < 0 || (size_t)n >= sizeof(head) || weft__buf_append(b, head, (size_t)n) ||
      weft__buf_append(b, c->headers.data, c->headers.len) || weft__buf_append(b, "\r\n", 2)) {
    attempt_fail(a, WEFT_ENOMEM, "connect", NULL);
    return;
  }
  weft__payload *p = weft__payload_new(WEFT__P_RAW, b->data, b->len);
  int rc = p ? 0 : WEFT_ENOMEM;
  if (rc == 0 && c->secure) rc = weft__stream_tls(&a->io, c->tls, 0, c->url.host);
  if (rc == 0) rc = weft__stream_enqueue(&a->io, p);
  weft__payload_release(p);
  if (rc == 0) rc = weft__stream_start(&a->io);
  if (rc) {
    attempt_fail(a, rc, "connect", NULL);
    return;
  }
  a->phase = A_HANDSHAKE;
}

static void connect_to(weft__attempt *a, const struct sockaddr *sa) {
  a->phase = A_CONNECTING;
  a->creq.data = a;
  int rc = uv_tcp_connect(&a->creq, &a->io.tcp, sa, on_connect);
  if (rc) attempt_fail(a, weft__uv_err(rc), "connect", uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  weft__attempt *a = req->data;
  if (status < 0 || !res) {
    if (res) uv_freeaddrinfo(res);
    attempt_fail(a, WEFT_EADDRNOTAVAIL, "connect", uv_strerror(status));
    return;
  }
  if (!a->client) {
    uv_freeaddrinfo(res);
    weft__stream_close(&a->io);
    return;
  }
  connect_to(a, res->ai_addr);
  uv_freeaddrinfo(res);
}

static void attempt_start(weft_client *c) {
  weft__attempt *a = calloc(1, sizeof(*a));
  if (!a) {
    emit_error(c, WEFT_ENOMEM, "connect", NULL, 0, NULL);
    client_end(c);
    return;
  }
  a->client = c;
  a->loop = c->loop;
  a->spec = !c->spec_done && !c->ping_timeout_set;
  c->loop->users++;
  c->live_handles++;
  weft__stream_init(&a->io, c->loop, &attempt_ops);
  c->conn = a;
  c->state = WEFT_CLIENT_OPENING;
  struct sockaddr_storage ss;
  if (weft__sockaddr(c->url.host, c->url.port, &ss) == 0) {
    connect_to(a, (struct sockaddr *)&ss);
    return;
  }
  /* A host name: libuv resolves it on its thread pool. */
  char port[8];
  snprintf(port, sizeof(port), "%d", c->url.port);
  struct addrinfo hints = {0};
  hints.ai_socktype = SOCK_STREAM;
  a->gai.data = a;
  a->phase = A_RESOLVING;
  int rc = uv_getaddrinfo(c->loop->uv, &a->gai, on_resolved, c->url.host, port, &hints);
  if (rc) attempt_fail(a, WEFT_EADDRNOTAVAIL, "connect", uv_strerror(rc));
}

/* Leaves the current attempt to finish closing on its own. */
static void detach(weft_client *c, int send_close) {
  weft__attempt *a = c->conn;
  if (!a) return;
  c->conn = NULL;
  a->client = NULL;
  c->live_handles--;
  if (a->phase == A_RESOLVING) return; /* closes when the resolver answers */
  if (a->phase == A_OPEN && send_close) {
    attempt_send_close(a, WEFT__CLOSE_NORMAL);
    attempt_linger(a);
  } else {
    weft__stream_close(&a->io); /* also cancels a pending connect */
  }
}

/* ---- recovery (backoff) ---- */

static void on_retry(uv_timer_t *t) {
  weft_client *c = t->data;
  c->retry_pending = 0;
  if (c->ended) return;
  weft_reconnect_info i = info_of(c);
  EMIT(c, reconnect, c, &i, c->ev_user);
  if (c->ended || c->conn) return;
  c->opened = 1;
  if (c->timeout_ms) uv_timer_start(&c->connect_timer, on_connect_timeout, c->timeout_ms, 0);
  attempt_start(c);
}

static void recovery_reconnect(weft_client *c) {
  if (c->retry_pending || c->ended) return;
  c->reconnecting = 1;
  c->attempt++;
  if (c->attempt > c->retries) {
    c->attempt--;
    weft_reconnect_info i = info_of(c);
    c->reconnecting = 0;
    EMIT(c, reconnect_failed, c, &i, c->ev_user);
    client_end(c);
    return;
  }
  double r = 0.5; /* only if the system has no randomness */
  uint32_t bits;
  if (weft__rand_bytes(&c->rand, (uint8_t *)&bits, sizeof(bits)) == 0) r = bits / 4294967296.0;
  double d = round((r + 1.0) * c->rmin * pow(c->factor, (double)(c->attempt - 1)));
  if (c->rmax && d > c->rmax) d = c->rmax;
  if (d > 4294967295.0) d = 4294967295.0;
  c->delay = (uint32_t)d;
  weft_reconnect_info i = info_of(c);
  EMIT(c, reconnect_scheduled, c, &i, c->ev_user);
  if (c->ended) return;
  /* Between retries the state stays CLOSED, as Primus's readyState. */
  c->state = WEFT_CLIENT_CLOSED;
  c->retry_pending = 1;
  /* The loop's clock was read at the start of this turn; the delay counts
   * from now, not from then. */
  uv_update_time(c->loop->uv);
  uv_timer_start(&c->retry_timer, on_retry, c->delay, 0);
}

/* ---- losing a connection ---- */

static void client_lost(weft_client *c, weft__attempt *a) {
  c->conn = NULL;
  c->live_handles--;
  a->client = NULL;
  int prev = c->state;
  uv_timer_stop(&c->ping_timer);
  if (c->ended) return;
  /* As Primus's recovery: a failed retry is not an error, just the next
   * step of the backoff. */
  if (a->err.kind && strcmp(a->err.kind, "reported") != 0 && !c->reconnecting)
    EMIT(c, error, c, &a->err, c->ev_user);
  if (c->ended) return;
  c->state = WEFT_CLIENT_CLOSED;
  if (c->disconnect || c->refused) { /* primus::server::close or a refusal */
    c->disconnect = 0;
    if (prev == WEFT_CLIENT_OPEN) emit_close(c);
    client_end(c);
    return;
  }
  if (prev != WEFT_CLIENT_OPEN) { /* an attempt failed before opening */
    if (c->reconnecting) {
      recovery_reconnect(c);
    } else if (uv_is_active((uv_handle_t *)&c->connect_timer)) {
      uv_timer_stop(&c->connect_timer);
      if (c->strat_timeout)
        recovery_reconnect(c);
      else
        client_end(c);
    }
    return;
  }
  emit_close(c);
  if (c->ended) return;
  if (c->strat_disconnect)
    recovery_reconnect(c);
  else
    client_end(c);
}

static void on_connect_timeout(uv_timer_t *t) {
  weft_client *c = t->data;
  if (c->state == WEFT_CLIENT_OPEN || c->ended) return;
  if (c->reconnecting) {
    /* A retry that hangs (a server that accepts but never answers) counts
     * as failed, as Primus's recovery times its attempts out. */
    weft_reconnect_info i = info_of(c);
    EMIT(c, reconnect_timeout, c, &i, c->ev_user);
    if (c->ended) return;
    detach(c, 0);
    c->state = WEFT_CLIENT_CLOSED;
    recovery_reconnect(c);
    return;
  }
  EMIT(c, timeout, c, c->ev_user);
  if (c->ended) return;
  detach(c, 0);
  c->state = WEFT_CLIENT_CLOSED;
  if (c->strat_timeout)
    recovery_reconnect(c);
  else
    client_end(c);
}

/* ---- the end ---- */

static void client_end(weft_client *c) {
  if (c->ended) return;
  int prev = c->state;
  c->ended = 1;
  c->reconnecting = 0;
  c->retry_pending = 0;
  uv_timer_stop(&c->connect_timer);
  uv_timer_stop(&c->ping_timer);
  uv_timer_stop(&c->retry_timer);
  detach(c, 1);
  pend_clear(c);
  c->state = WEFT_CLIENT_CLOSED;
  if (prev != WEFT_CLIENT_CLOSED) emit_close(c);
  EMIT(c, end, c, c->ev_user);
}

static void client_free(weft_client *c) {
  weft_loop *loop = c->loop;
  EMIT(c, destroy, c, c->ev_user);
  if (c->ev_free) c->ev_free(c->ev_user);
  weft__plugins_free(&c->plugins);
  weft__batch_free(c->batch);
  pend_clear(c);
  free(c->pend);
  weft__buf_free(&c->headers);
  weft__tls_ctx_free(c->tls);
  free(c->ca_file);
  weft__arena_free(&c->arena);
  free(c);
  loop->users--;
}

static void on_timer_closed(uv_handle_t *h) {
  weft_client *c = h->data;
  if (--c->live_handles == 0) client_free(c);
}

/* ---- API ---- */

int weft_client_new(weft_loop *loop, const char *url, weft_client **out) {
  if (!loop || !url || !out) return WEFT_EINVAL;
  *out = NULL;
  if (loop->closing) return WEFT_ECLOSED;
  weft__url u;
  int rc = weft__url_parse(url, &u);
  if (rc) return rc;
  int secure = strcmp(u.scheme, "wss") == 0 || strcmp(u.scheme, "https") == 0;
  if (!secure && strcmp(u.scheme, "ws") != 0 && strcmp(u.scheme, "http") != 0) return WEFT_EURL;
  if (u.port == 0) return WEFT_EURL;
  weft_client *c = calloc(1, sizeof(*c));
  if (!c) return WEFT_ENOMEM;
  c->url = u;
  if (u.path[0] == '/' && (u.path[1] == '\0' || u.path[1] == '?')) {
    /* No path: Primus's default pathname. */
    size_t qlen = strlen(u.path + 1);
    if (qlen + 8 > sizeof(c->url.path)) {
      free(c);
      return WEFT_EURL;
    }
    memcpy(c->url.path, "/primus", 7);
    memcpy(c->url.path + 7, u.path + 1, qlen + 1);
  }
  c->loop = loop;
  c->secure = secure;
  c->verify = 1;
  c->parser = &weft__parser_json;
  c->rmin = 500;
  c->retries = 10;
  c->factor = 2;
  c->strat_disconnect = c->strat_online = c->strat_timeout = 1;
  c->timeout_ms = 10000;
  c->ping_timeout_ms = 45000;
  c->max_length = 10u << 20;
  c->online = 1;
  weft__arena_init(&c->arena);
  uv_timer_init(loop->uv, &c->connect_timer);
  uv_timer_init(loop->uv, &c->ping_timer);
  uv_timer_init(loop->uv, &c->retry_timer);
  c->connect_timer.data = c->ping_timer.data = c->retry_timer.data = c;
  c->live_handles = 3;
  loop->users++;
  *out = c;
  return 0;
}

int weft_client_set_events(weft_client *c, const weft_client_events *ev, void *user,
                           void (*free_user)(void *)) {
  if (!c || !ev || ev->size < offsetof(weft_client_events, open)) return WEFT_EINVAL;
  if (c->ev_free && c->ev_user != user) c->ev_free(c->ev_user);
  memset(&c->ev, 0, sizeof(c->ev));
  memcpy(&c->ev, ev, ev->size < sizeof(c->ev) ? ev->size : sizeof(c->ev));
  c->ev_user = user;
  c->ev_free = free_user;
  return 0;
}

int weft_client_set_parser(weft_client *c, const char *name) {
  const weft__parser_ops *p = name ? weft__parser_find(name) : NULL;
  if (!c || !p) return WEFT_EINVAL;
  if (c->state != WEFT_CLIENT_CLOSED || c->pend_len) return WEFT_ESTATE;
  c->parser = p;
  return 0;
}

int weft_client_set_reconnect(weft_client *c, uint32_t min_ms, uint32_t max_ms, uint32_t retries,
                              double factor) {
  if (!c || min_ms == 0 || !(factor >= 1.0 && factor <= 1000.0) || (max_ms && max_ms < min_ms))
    return WEFT_EINVAL;
  c->rmin = min_ms;
  c->rmax = max_ms;
  c->retries = retries;
  c->factor = factor;
  return 0;
}

int weft_client_set_strategy(weft_client *c, const char *list) {
  if (!c || !list) return WEFT_EINVAL;
  int d = 0, o = 0, t = 0;
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t n = strcspn(p, ", ");
    if (n == 0) break;
    if (n == 10 && strncasecmp(p, "disconnect", n) == 0)
      d = 1;
    else if (n == 6 && strncasecmp(p, "online", n) == 0)
      o = 1;
    else if (n == 7 && strncasecmp(p, "timeout", n) == 0)
      t = 1;
    else if (!(n == 4 && strncasecmp(p, "none", n) == 0))
      return WEFT_EINVAL;
    p += n;
  }
  c->strat_disconnect = d;
  c->strat_online = o;
  c->strat_timeout = t;
  return 0;
}

int weft_client_set_timeout(weft_client *c, uint32_t ms) {
  if (!c) return WEFT_EINVAL;
  c->timeout_ms = ms;
  return 0;
}

int weft_client_set_ping_timeout(weft_client *c, uint32_t ms) {
  if (!c) return WEFT_EINVAL;
  c->ping_timeout_ms = ms;
  c->ping_timeout_set = 1;
  return 0;
}

int weft_client_set_max_length(weft_client *c, size_t bytes) {
  if (!c || bytes == 0) return WEFT_EINVAL;
  c->max_length = bytes;
  return 0;
}

int weft_client_set_queue_limit(weft_client *c, size_t bytes) {
  if (!c) return WEFT_EINVAL;
  c->queue_limit = bytes;
  return 0;
}

int weft_client_set_retry_refused(weft_client *c, int on) {
  if (!c) return WEFT_EINVAL;
  c->retry_refused = on != 0;
  return 0;
}

static int header_ok(const char *s, int name) {
  if (!*s && name) return 0;
  for (; *s; s++)
    if (*s == '\r' || *s == '\n' || (name && (*s == ':' || *s == ' '))) return 0;
  return 1;
}

int weft_client_add_header(weft_client *c, const char *name, const char *value) {
  if (!c || !name || !value || !header_ok(name, 1) || !header_ok(value, 0)) return WEFT_EINVAL;
  if (weft__buf_append(&c->headers, name, strlen(name)) || weft__buf_append(&c->headers, ": ", 2) ||
      weft__buf_append(&c->headers, value, strlen(value)) ||
      weft__buf_append(&c->headers, "\r\n", 2))
    return WEFT_ENOMEM;
  return 0;
}

int weft_client_set_ca_file(weft_client *c, const char *path) {
  if (!c || !path || !*path) return WEFT_EINVAL;
  if (c->tls) return WEFT_ESTATE;
  char *d = weft__strdup(path);
  if (!d) return WEFT_ENOMEM;
  free(c->ca_file);
  c->ca_file = d;
  return 0;
}

int weft_client_set_verify(weft_client *c, int on) {
  if (!c) return WEFT_EINVAL;
  if (c->tls) return WEFT_ESTATE;
  c->verify = on != 0;
  return 0;
}

int weft_client_open(weft_client *c) {
  if (!c) return WEFT_EINVAL;
  if (c->ended || c->destroyed) return WEFT_ECLOSED;
  if (c->state != WEFT_CLIENT_CLOSED || c->conn || c->retry_pending) return WEFT_ESTATE;
  if (c->secure && !c->tls) {
    char err[256];
    int rc = weft__tls_ctx_client(&c->tls, c->ca_file, c->verify, err, sizeof(err));
    if (rc) {
      emit_error(c, rc, "tls", err, 0, NULL);
      return rc;
    }
  }
  c->opened = 1;
  if (c->timeout_ms) uv_timer_start(&c->connect_timer, on_connect_timeout, c->timeout_ms, 0);
  attempt_start(c);
  return 0;
}

int weft_client_write(weft_client *c, const weft_value *msg) {
  if (!c || !msg) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  weft__payload *p;
  int rc = weft__message_encode(c->parser, c->loop, msg, &p);
  if (rc) return rc;
  rc = send_or_queue(c, p);
  weft__payload_release(p);
  return rc;
}

int weft_client_write_raw(weft_client *c, const void *data, size_t len, int binary) {
  if (!c || (!data && len)) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  weft__payload *p;
  int rc = weft__payload_message(data, len, binary, &p);
  if (rc) return rc;
  rc = send_or_queue(c, p);
  weft__payload_release(p);
  return rc;
}

size_t weft_client_buffered_amount(const weft_client *c) {
  if (!c) return 0;
  return c->pend_bytes + (c->conn ? c->conn->io.queued : 0);
}

int weft_client_id(weft_client *c) {
  if (!c) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  return send_string(c, "primus::id::", 12);
}

int weft_client_set_online(weft_client *c, int online) {
  if (!c) return WEFT_EINVAL;
  if (c->destroyed) return WEFT_ECLOSED;
  if (!online && c->online) {
    c->online = 0;
    EMIT(c, offline, c, c->ev_user);
    if (c->ended) return 0; /* ended from the callback */
    /* As Primus: going offline drops the connection and any retry plan. */
    if (c->conn) {
      detach(c, 0);
      if (c->state == WEFT_CLIENT_OPEN) emit_close(c);
    }
    uv_timer_stop(&c->retry_timer);
    uv_timer_stop(&c->ping_timer);
    c->retry_pending = 0;
    c->reconnecting = 0;
    c->attempt = 0;
    c->state = WEFT_CLIENT_CLOSED;
  } else if (online && !c->online) {
    c->online = 1;
    EMIT(c, online, c, c->ev_user);
    if (c->strat_online && !c->ended && !c->conn && c->state == WEFT_CLIENT_CLOSED)
      recovery_reconnect(c);
  }
  return 0;
}

int weft_client_end(weft_client *c, const weft_value *msg) {
  if (!c) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  if (msg && c->state == WEFT_CLIENT_OPEN) weft_client_write(c, msg);
  client_end(c);
  return 0;
}

int weft_client_destroy(weft_client *c) {
  if (!c) return WEFT_EINVAL;
  if (c->destroyed) return WEFT_ECLOSED;
  client_end(c);
  c->destroyed = 1;
  uv_close((uv_handle_t *)&c->connect_timer, on_timer_closed);
  uv_close((uv_handle_t *)&c->ping_timer, on_timer_closed);
  uv_close((uv_handle_t *)&c->retry_timer, on_timer_closed);
  return 0;
}

int weft_client_state(const weft_client *c) { return c ? c->state : WEFT_EINVAL; }

weft_loop *weft_client_loop(const weft_client *c) { return c ? c->loop : NULL; }

int weft_client_set_batching(weft_client *c, size_t max_bytes) {
  if (!c) return WEFT_EINVAL;
  if (max_bytes && strcmp(c->parser->name, "raw") == 0) return WEFT_EUNSUPPORTED;
  c->batch_max = max_bytes;
  return 0;
}

int weft_client_use(weft_client *c, const weft_plugin_ops *ops, void *user) {
  int state_rc = !c                         ? WEFT_EINVAL
                 : c->ended || c->destroyed ? WEFT_ECLOSED
                 : c->opened                ? WEFT_ESTATE
                                            : 0;
  weft__plugin_list none = {0};
  int rc = weft__plugin_add(c ? &c->plugins : &none, ops, user, state_rc, sizeof(weft_plugin_ops));
  return rc ? rc : weft__client_plugin_init(&c->plugins, c);
}

void *weft_client_plugin(weft_client *c, const char *name) {
  return c ? weft__plugin_find(&c->plugins, name) : NULL;
}
