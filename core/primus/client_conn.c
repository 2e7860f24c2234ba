/*
 * The client's connection life, as Primus's client: the spec read once
 * before the first connection, one dial at a time through the transport's
 * dialer, the heartbeat, messages in and out (queued while not open), the
 * recovery's randomized exponential backoff, and the end. A connection the
 * client no longer wants (end, timeout) is detached and finishes closing
 * on its own.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/value_internal.h"
#include "http/fetch.h"
#include "primus.h"
#include "runtime/log.h"

static void client_lost(weft_client *c, const weft_error_info *why);
static void dial(weft_client *c);

#define EMIT(c, name, ...)                                                                         \
  do {                                                                                             \
    if ((c)->ev.name) (c)->ev.name(__VA_ARGS__);                                                   \
  } while (0)

/* ---- events ---- */

/* One log record about the client, its server named as the URL did. */
#define CLIENT_LOG(c, level, event, kind, ...)                                                     \
  do {                                                                                             \
    if (weft__log_on((c)->loop, level)) client_log(c, level, event, kind, __VA_ARGS__);            \
  } while (0)

WEFT__PRINTF(5, 6)
static void client_log(weft_client *c, int level, const char *event, const char *kind,
                       const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (c->url.sock[0])
    weft__log(c->loop, level, event, NULL, c, NULL, kind, "%s://%s: %s", c->url.scheme, c->url.sock,
              what);
  else
    weft__log(c->loop, level, event, NULL, c, NULL, kind, "%s://%s:%d: %s", c->url.scheme,
              c->url.host, c->url.port, what);
}

/* The connection went away: plugins first, then the application. */
void weft__client_emit_close(weft_client *c) {
  /* Messages batched for a connection that is gone go with it, as frames
   * queued on it do. */
  weft__batch_clear(c->batch);
  weft__client_plugins_notify(&c->plugins, c, 0);
  CLIENT_LOG(c, WEFT_LOG_INFO, "close", NULL, "%s", "connection closed");
  EMIT(c, close, c, c->ev_user);
}

void weft__client_emit_error(weft_client *c, int code, const char *kind, const char *msg,
                             int status, const char *body) {
  weft_error_info e = {code, kind, msg ? msg : weft_strerror(code), status, body};
  CLIENT_LOG(c, WEFT_LOG_WARN, "error", kind, "%s", e.message);
  EMIT(c, error, c, &e, c->ev_user);
}

static weft_reconnect_info info_of(const weft_client *c) {
  weft_reconnect_info i = {c->attempt, c->retries, c->delay};
  return i;
}

/* ---- sending ---- */

static int is_open(const weft_client *c) {
  return c->state == WEFT_CLIENT_OPEN && c->conn && c->conn_open;
}

static int send_now(weft_client *c, weft__payload *p) {
  return c->conn->tran->conn.send(c->conn, p, SIZE_MAX, NULL);
}

/* What was batched leaves before anything written after it. */
static int seal_batch(weft_client *c) {
  weft__payload *b = weft__batch_seal(c->batch, c->parser, c->loop);
  if (!b) return 0;
  int rc = is_open(c) ? send_now(c, b) : WEFT_ECLOSED;
  weft__payload_release(b);
  return rc;
}

int weft__client_encode(weft_client *c, const weft_value *v, weft__payload **out) {
  /* A framing that encodes messages itself (fast-tcp) frames them now: the
   * offline queue holds its frames. */
  if (c->transport->conn.encode) return c->transport->conn.encode(NULL, v, c->parser, out);
  return weft__message_encode(c->parser, c->loop, v, out);
}

int weft__client_send(weft_client *c, weft__payload *p) {
  if (is_open(c) && c->batch_max && !c->transport->conn.encode &&
      weft__batchable(c->parser, p, c->batch_max)) {
    size_t held = weft__batch_bytes(c->batch);
    if (held && held + p->len + 1 > c->batch_max && seal_batch(c)) return WEFT_ECLOSED;
    if (weft__batch_add(&c->batch, p)) return WEFT_ENOMEM;
    c->conn->tran->conn.hold(c->conn);
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

void weft__client_pend_clear(weft_client *c) {
  for (size_t i = 0; i < c->pend_len; i++)
    weft__payload_release(c->pend[i]);
  c->pend_len = c->pend_bytes = 0;
}

int weft__client_send_string(weft_client *c, const char *s, size_t n) {
  weft_value *v = weft_value_new_string(s, n);
  if (!v) return WEFT_ENOMEM;
  weft__payload *p;
  int rc = weft__client_encode(c, v, &p);
  weft_value_free(v);
  if (rc) return rc;
  rc = weft__client_send(c, p);
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
  weft__client_detach(c, 0);
  client_lost(c, NULL);
}

static void heartbeat(weft_client *c) {
  /* A framing with a heartbeat of its own (Vibe), or one that encodes its
   * own messages (fast-tcp, which has none), gets no primus::ping. */
  if (c->ping_timeout_ms && !c->transport->own_heartbeat && !c->transport->conn.encode)
    uv_timer_start(&c->ping_timer, on_ping_timeout, c->ping_timeout_ms, 0);
}

/* ---- incoming ---- */

/* One decoded message: Primus's control strings, then plugins and the data
 * event. `owned`: a binary frame under a text parser (never a control; an
 * application parser's values are read as any). */
static void client_value(weft_client *c, const weft_value *v, int owned) {
  const char *rest;
  size_t rlen;
  int control = !owned && weft__value_maybe_control(v);
  if (control && weft__message_is(v, "primus::ping::", &rest, &rlen)) {
    heartbeat(c);
    char pong[96];
    int n = snprintf(pong, sizeof(pong), "primus::pong::%.*s", (int)(rlen < 64 ? rlen : 64), rest);
    weft__client_send_string(c, pong, (size_t)n);
  } else if (control && weft__message_is(v, "primus::server::close", NULL, NULL)) {
    c->disconnect = 1;
  } else if (control && c->rs_on && weft__message_is(v, "primus::weft::rs::", &rest, &rlen)) {
    weft__client_resume_answer(c, rest, rlen);
  } else if (control && weft__message_is(v, "primus::id::", &rest, &rlen)) {
    char id[96];
    snprintf(id, sizeof(id), "%.*s", (int)(rlen < 95 ? rlen : 95), rest);
    EMIT(c, id, c, id, c->ev_user);
  } else if (c->plugins.n) {
    c->rs_count++; /* the server counted it as queued: before transforms */
    const weft_value *msg;
    weft_value *rep;
    int rc = weft__client_plugins_transform(&c->plugins, c, 0, v, &msg, &rep);
    if (rc < 0)
      weft__client_emit_error(c, rc, "transform", "an incoming transform failed", 0, NULL);
    else if (rc == WEFT_PASS && !c->ended)
      EMIT(c, data, c, msg, c->ev_user);
    weft_value_free(rep);
  } else {
    c->rs_count++;
    EMIT(c, data, c, v, c->ev_user);
  }
}

static void on_message(weft__conn *conn, int binary, uint8_t *data, size_t len) {
  weft_client *c = conn->owner;
  const weft_value *v;
  weft_value *owned;
  char err[160];
  int rc =
      weft__message_decode(c->parser, &c->arena, binary, data, len, &v, &owned, err, sizeof(err));
  const weft_value *items =
      rc == 0 && !owned && weft__value_maybe_batch(v) ? weft__batch_items(v) : NULL;
  if (rc) {
    weft__client_emit_error(c, rc, rc == WEFT_ENOMEM ? "io" : c->parser->name, err, 0, NULL);
  } else if (items) {
    for (size_t i = 0, n = weft_value_len(items); i < n && !c->ended && c->conn == conn; i++)
      client_value(c, weft_value_array_at(items, i), 0);
  } else {
    client_value(c, v, owned != NULL && !c->parser->app); /* an app parser's may be control */
  }
  weft_value_free(owned);
  weft__arena_reset(&c->arena);
}

static void on_value(weft__conn *conn, const weft_value *v, size_t len) {
  (void)len;
  client_value(conn->owner, v, 0);
}

/* ---- the connection's events ---- */

static void on_opened(weft__conn *conn) {
  weft_client *c = conn->owner;
  c->conn_open = 1;
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
  CLIENT_LOG(c, WEFT_LOG_INFO, "open", NULL, "%s", "connection open");
  if (c->state == WEFT_CLIENT_OPEN) EMIT(c, open, c, c->ev_user);
}

static void on_seal(weft__conn *conn) {
  weft_client *c = conn->owner;
  if (weft__batch_bytes(c->batch)) seal_batch(c);
}

/* An open connection failed (a bad frame): the error is told at its close. */
static void on_closing(weft__conn *conn, const weft__fault *why) {
  weft_client *c = conn->owner;
  c->conn_open = 0;
  if (!why || c->fault.kind) return;
  snprintf(c->fault_msg, sizeof(c->fault_msg), "%s", why->message);
  c->fault = (weft_error_info){why->code, why->kind, c->fault_msg, 0, NULL};
}

static void on_refused(weft__conn *conn, int status, const uint8_t *body, size_t len) {
  weft_client *c = conn->owner;
  char msg[96], text[1024];
  snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) - 1 ? len : sizeof(text) - 1),
           (const char *)body);
  snprintf(msg, sizeof(msg), "upgrade refused with HTTP %d", status);
  weft__client_emit_error(c, WEFT_EUNAUTHORIZED, "http", msg, status, text);
  if (!c->retry_refused) c->refused = 1;
}

static int on_closed(weft__conn *conn, const weft__fault *why) {
  weft_client *c = conn->owner;
  c->conn = NULL;
  c->conn_open = 0;
  weft_error_info e = c->fault;
  c->fault = (weft_error_info){0};
  if (why) {
    snprintf(c->fault_msg, sizeof(c->fault_msg), "%s", why->message);
    e = (weft_error_info){why->code, why->kind, c->fault_msg, 0, NULL};
  }
  client_lost(c, e.kind ? &e : NULL);
  return 0; /* a dialed connection's memory is the dialer's */
}

static void on_drained(weft__conn *conn) {
  weft_client *c = conn->owner;
  if (c->drained_hook && c->conn_open) c->drained_hook(c, c->drained_user);
}

int weft__client_pause(weft_client *c, int on) {
  if (!c->conn || !c->conn_open) return WEFT_ECLOSED;
  c->conn->tran->conn.pause(c->conn, on);
  return 0;
}

static const weft__conn_events client_events = {on_opened,  on_message, on_drained, on_seal,
                                                on_closing, on_refused, on_closed,  on_value};

/* ---- connecting ---- */

/* Primus bakes the server's pingInterval into its client library; weft's
 * client reads it from <path>/spec before its first connection instead.
 * Any answer that is not a usable spec keeps the default timeout. */
static void on_spec(const weft__http_result *r, void *user) {
  weft_client *c = user;
  c->spec = NULL;
  if (r->error) {
    weft_error_info e = {r->error, r->kind, r->message, 0, NULL};
    snprintf(c->fault_msg, sizeof(c->fault_msg), "%s", r->message ? r->message : "");
    e.message = c->fault_msg;
    client_lost(c, &e);
    return;
  }
  weft_value *spec = NULL;
  if (r->body && weft_value_decode("json", r->body, r->len, &spec, NULL) == 0) {
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
  c->spec_done = 1;
  if (!c->ended) dial(c);
}

static void dial(weft_client *c) {
  weft__dial_params p = {.loop = c->loop,
                         .url = c->url,
                         .tls = c->tls,
                         .headers = &c->headers,
                         .max_length = c->max_length,
                         .compression = c->compression,
                         .modes = c->modes,
                         .way = c->way,
                         .ev = &client_events,
                         .owner = c,
                         .psk = c->psk,
                         .psk_len = c->psk_len,
                         .parser = c->parser};
  c->rs_recovered = 0;
  if (weft__client_resume_url(c, &p.url)) { /* too long: this attempt without */
    p.url = c->url;
    weft__client_emit_error(c, WEFT_EURL, "connect", "no room for the recovery parameter", 0, NULL);
  }
  weft__conn *conn;
  int rc = c->transport->dialer.dial(&p, &conn);
  if (rc) {
    weft__client_emit_error(c, rc, "connect", NULL, 0, NULL);
    weft__client_end(c);
    return;
  }
  c->conn = conn;
}

void weft__client_attempt(weft_client *c) {
  c->state = WEFT_CLIENT_OPENING;
  c->fault = (weft_error_info){0};
  if (c->spec_done || c->ping_timeout_set || !c->transport->over_http ||
      c->transport->own_heartbeat) {
    dial(c);
    return;
  }
  /* <path>/spec: the request path without its query and trailing '/'. */
  char target[1100];
  size_t n = strcspn(c->url.path, "?");
  while (n > 0 && c->url.path[n - 1] == '/')
    n--;
  snprintf(target, sizeof(target), "%.*s/spec", (int)n, c->url.path);
  int rc = weft__http_fetch_start(c->loop, &c->url, target, c->tls, on_spec, c, &c->spec);
  if (rc) {
    weft_error_info e = {rc, "connect", weft_strerror(rc), 0, NULL};
    client_lost(c, &e);
  }
}

void weft__client_detach(weft_client *c, int send_close) {
  if (c->spec) {
    weft__http_fetch_cancel(c->spec);
    c->spec = NULL;
  }
  weft__conn *conn = c->conn;
  if (!conn) return;
  c->conn = NULL;
  c->conn_open = 0;
  conn->tran->dialer.cancel(conn, send_close);
}

/* ---- recovery (backoff) ---- */

static void on_retry(uv_timer_t *t) {
  weft_client *c = t->data;
  c->retry_pending = 0;
  if (c->ended) return;
  weft_reconnect_info i = info_of(c);
  EMIT(c, reconnect, c, &i, c->ev_user);
  if (c->ended || c->conn || c->spec) return;
  c->opened = 1;
  if (c->timeout_ms)
    uv_timer_start(&c->connect_timer, weft__client_on_connect_timeout, c->timeout_ms, 0);
  weft__client_attempt(c);
}

void weft__client_reconnect(weft_client *c) {
  if (c->retry_pending || c->ended) return;
  c->reconnecting = 1;
  c->attempt++;
  if (c->attempt > c->retries) {
    c->attempt--;
    weft_reconnect_info i = info_of(c);
    c->reconnecting = 0;
    CLIENT_LOG(c, WEFT_LOG_WARN, "reconnect", NULL, "gave up after %u attempts", i.attempt);
    EMIT(c, reconnect_failed, c, &i, c->ev_user);
    weft__client_end(c);
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
  CLIENT_LOG(c, WEFT_LOG_INFO, "reconnect", NULL, "reconnect attempt %u of %u in %u ms", i.attempt,
             i.retries, i.delay_ms);
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

static void client_lost(weft_client *c, const weft_error_info *why) {
  int prev = c->state;
  uv_timer_stop(&c->ping_timer);
  if (c->ended) return;
  /* As Primus's recovery: a failed retry is not an error, just the next
   * step of the backoff. */
  if (why && !c->reconnecting) EMIT(c, error, c, why, c->ev_user);
  if (c->ended) return;
  c->state = WEFT_CLIENT_CLOSED;
  if (c->disconnect || c->refused) { /* primus::server::close or a refusal */
    c->disconnect = 0;
    if (prev == WEFT_CLIENT_OPEN) weft__client_emit_close(c);
    weft__client_end(c);
    return;
  }
  if (prev != WEFT_CLIENT_OPEN) { /* an attempt failed before opening */
    if (c->reconnecting) {
      weft__client_reconnect(c);
    } else if (uv_is_active((uv_handle_t *)&c->connect_timer)) {
      uv_timer_stop(&c->connect_timer);
      if (c->strat_timeout)
        weft__client_reconnect(c);
      else
        weft__client_end(c);
    }
    return;
  }
  weft__client_emit_close(c);
  if (c->ended) return;
  if (c->strat_disconnect)
    weft__client_reconnect(c);
  else
    weft__client_end(c);
}

void weft__client_on_connect_timeout(uv_timer_t *t) {
  weft_client *c = t->data;
  if (c->state == WEFT_CLIENT_OPEN || c->ended) return;
  if (c->reconnecting) {
    /* A retry that hangs (a server that accepts but never answers) counts
     * as failed, as Primus's recovery times its attempts out. */
    weft_reconnect_info i = info_of(c);
    EMIT(c, reconnect_timeout, c, &i, c->ev_user);
    if (c->ended) return;
    weft__client_detach(c, 0);
    c->state = WEFT_CLIENT_CLOSED;
    weft__client_reconnect(c);
    return;
  }
  EMIT(c, timeout, c, c->ev_user);
  if (c->ended) return;
  weft__client_detach(c, 0);
  c->state = WEFT_CLIENT_CLOSED;
  if (c->strat_timeout)
    weft__client_reconnect(c);
  else
    weft__client_end(c);
}

/* ---- the end ---- */

void weft__client_end(weft_client *c) {
  if (c->ended) return;
  int prev = c->state;
  c->ended = 1;
  c->reconnecting = 0;
  c->retry_pending = 0;
  uv_timer_stop(&c->connect_timer);
  uv_timer_stop(&c->ping_timer);
  uv_timer_stop(&c->retry_timer);
  weft__client_detach(c, 1);
  weft__client_pend_clear(c);
  c->state = WEFT_CLIENT_CLOSED;
  if (prev != WEFT_CLIENT_CLOSED) weft__client_emit_close(c);
  CLIENT_LOG(c, WEFT_LOG_INFO, "end", NULL, "%s", "ended");
  EMIT(c, end, c, c->ev_user);
}
