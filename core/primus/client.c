/*
 * The client's API: creation, options, writes, and the calls that open,
 * end and destroy it. Its connection's life is client_conn.c.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "primus.h"
#include "runtime/tls.h"

const char *weft_client_event_at(size_t i) {
  static const char *const names[] = {"open",
                                      "data",
                                      "error",
                                      "close",
                                      "end",
                                      "timeout",
                                      "reconnect scheduled",
                                      "reconnect",
                                      "reconnected",
                                      "reconnect failed",
                                      "reconnect timeout",
                                      "online",
                                      "offline",
                                      "id"};
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : NULL;
}

#define EMIT(c, name, ...)                                                                         \
  do {                                                                                             \
    if ((c)->ev.name) (c)->ev.name(__VA_ARGS__);                                                   \
  } while (0)

static void client_free(weft_client *c) {
  weft_loop *loop = c->loop;
  EMIT(c, destroy, c, c->ev_user);
  if (c->ev_free) c->ev_free(c->ev_user);
  weft__plugins_free(&c->plugins);
  weft__batch_free(c->batch);
  weft__client_pend_clear(c);
  free(c->pend);
  weft__buf_free(&c->headers);
  weft__tls_ctx_free(c->tls);
  free(c->ca_file);
  OPENSSL_cleanse(c->psk, sizeof(c->psk));
  weft__arena_free(&c->arena);
  weft__app_parser_free(c->app_parser);
  c->app_parser = NULL;
  c->parser = &weft__parser_json;
  loop->users--;
  c->creator_ref = 0;
  if (--c->refs == 0) {
    free(c);
    return;
  }
  /* Retained: what is left answers every call with WEFT_ECLOSED. */
  c->freed = 1;
  memset(&c->ev, 0, sizeof(c->ev));
  c->ev_free = NULL;
  c->pend = NULL;
  c->batch = NULL;
  c->tls = NULL;
  c->ca_file = NULL;
  c->loop = NULL;
}

int weft_client_retain(weft_client *c) {
  if (!c) return WEFT_EINVAL;
  if (c->freed) return WEFT_ECLOSED;
  if (c->refs == UINT32_MAX) return WEFT_ERANGE;
  c->refs++;
  return 0;
}

int weft_client_release(weft_client *c) {
  /* The creator's reference goes with weft_client_destroy, not here. */
  if (!c || c->refs <= c->creator_ref) return WEFT_EINVAL;
  if (--c->refs == 0) free(c);
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  weft_client *c = h->data;
  if (--c->live_handles == 0) client_free(c);
}

/* ---- API ---- */

/* "user:password@" in the URL: an Authorization: Basic header, as
 * Primus's client and browsers send it. */
static int basic_auth(weft_client *c, const char *userinfo) {
  size_t n = strlen(userinfo);
  uint8_t b64[(sizeof(((weft__url *)0)->userinfo) + 2) / 3 * 4];
  weft__b64_encode(b64, (const uint8_t *)userinfo, n);
  return weft__buf_append(&c->headers, "Authorization: Basic ", 21) ||
         weft__buf_append(&c->headers, b64, weft__b64_len(n)) ||
         weft__buf_append(&c->headers, "\r\n", 2);
}

int weft_client_new(weft_loop *loop, const char *url, weft_client **out) {
  if (!loop || !url || !out) return WEFT_EINVAL;
  *out = NULL;
  if (loop->closing) return WEFT_ECLOSED;
  weft__url u;
  int rc = weft__url_parse(url, &u);
  if (rc) return rc;
  /* A framing without HTTP (fast-tcp's tcp:// and ipc://) by its scheme;
   * else Primus's default, which weft_client_set_transformer may change. */
  const weft__transport *t = weft__transport_of_scheme(u.scheme);
  if (!t || t->over_http) t = weft__transport_find("websockets");
  if (!weft__transport_serves(t, u.scheme) || (!u.sock[0] && u.port == 0)) return WEFT_EURL;
  weft_client *c = calloc(1, sizeof(*c));
  if (!c) return WEFT_ENOMEM;
  c->url = u;
  if (u.userinfo[0] && basic_auth(c, u.userinfo) != 0) {
    weft__buf_free(&c->headers);
    free(c);
    return WEFT_ENOMEM;
  }
  if (!u.has_path) {
    /* No path: Primus's default pathname (the query stays). */
    size_t qlen = strlen(u.path + 1);
    if (qlen + 8 > sizeof(c->url.path)) {
      free(c);
      return WEFT_EURL;
    }
    memcpy(c->url.path, "/primus", 7);
    memcpy(c->url.path + 7, u.path + 1, qlen + 1);
  }
  c->loop = loop;
  c->transport = t;
  c->secure = weft__url_secure(&u);
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
  c->refs = 1; /* the creator's, dropped when a destroy has finished */
  c->creator_ref = 1;
  loop->users++;
  *out = c;
  return 0;
}

int weft_client_set_events(weft_client *c, const weft_client_events *ev, void *user,
                           void (*free_user)(void *)) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !ev || ev->size < offsetof(weft_client_events, open)) return WEFT_EINVAL;
  if (c->ev_free && c->ev_user != user) c->ev_free(c->ev_user);
  memset(&c->ev, 0, sizeof(c->ev));
  memcpy(&c->ev, ev, ev->size < sizeof(c->ev) ? ev->size : sizeof(c->ev));
  c->ev_user = user;
  c->ev_free = free_user;
  return 0;
}

int weft_client_set_parser(weft_client *c, const char *name) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  const weft__parser_ops *p = name ? weft__parser_find(name) : NULL;
  if (!c || !p) return WEFT_EINVAL;
  if (c->state != WEFT_CLIENT_CLOSED || c->pend_len) return WEFT_ESTATE;
  c->parser = p;
  return 0;
}

int weft_client_set_parser_def(weft_client *c, const weft_parser_def *def, void *user) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !def) return WEFT_EINVAL;
  if (c->state != WEFT_CLIENT_CLOSED || c->pend_len) return WEFT_ESTATE;
  int rc = weft__app_parser_set(&c->app_parser, def, user);
  if (rc == 0) c->parser = &c->app_parser->ops;
  return rc;
}

int weft_client_set_reconnect(weft_client *c, uint32_t min_ms, uint32_t max_ms, uint32_t retries,
                              double factor) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || min_ms == 0 || !(factor >= 1.0 && factor <= 1000.0) || (max_ms && max_ms < min_ms))
    return WEFT_EINVAL;
  c->rmin = min_ms;
  c->rmax = max_ms;
  c->retries = retries;
  c->factor = factor;
  return 0;
}

int weft_client_set_strategy(weft_client *c, const char *list) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !list) return WEFT_EINVAL;
  int d = 0, o = 0, t = 0;
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t n = strcspn(p, ", ");
    if (n == 0) break;
    if (n == 10 && weft__strncaseeq(p, "disconnect", n))
      d = 1;
    else if (n == 6 && weft__strncaseeq(p, "online", n))
      o = 1;
    else if (n == 7 && weft__strncaseeq(p, "timeout", n))
      t = 1;
    else if (!(n == 4 && weft__strncaseeq(p, "none", n)))
      return WEFT_EINVAL;
    p += n;
  }
  c->strat_disconnect = d;
  c->strat_online = o;
  c->strat_timeout = t;
  return 0;
}

int weft_client_set_timeout(weft_client *c, uint32_t ms) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  c->timeout_ms = ms;
  return 0;
}

int weft_client_set_ping_timeout(weft_client *c, uint32_t ms) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  c->ping_timeout_ms = ms;
  c->ping_timeout_set = 1;
  return 0;
}

int weft_client_set_max_length(weft_client *c, size_t bytes) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || bytes == 0) return WEFT_EINVAL;
  c->max_length = bytes;
  return 0;
}

int weft_client_set_queue_limit(weft_client *c, size_t bytes) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  c->queue_limit = bytes;
  return 0;
}

int weft_client_set_compression(weft_client *c, int on) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  c->compression = on != 0;
  return 0;
}

int weft_client_set_retry_refused(weft_client *c, int on) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
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
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !name || !value || !header_ok(name, 1) || !header_ok(value, 0)) return WEFT_EINVAL;
  if (weft__buf_append(&c->headers, name, strlen(name)) || weft__buf_append(&c->headers, ": ", 2) ||
      weft__buf_append(&c->headers, value, strlen(value)) ||
      weft__buf_append(&c->headers, "\r\n", 2))
    return WEFT_ENOMEM;
  return 0;
}

int weft_client_set_psk(weft_client *c, const void *key, size_t len) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || (!key && len) || len > sizeof(c->psk)) return WEFT_EINVAL;
  if (c->opened) return WEFT_ESTATE;
  OPENSSL_cleanse(c->psk, sizeof(c->psk));
  if (len) memcpy(c->psk, key, len);
  c->psk_len = len;
  return 0;
}

int weft_client_set_ca_file(weft_client *c, const char *path) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !path || !*path) return WEFT_EINVAL;
  if (c->tls) return WEFT_ESTATE;
  char *d = weft__strdup(path);
  if (!d) return WEFT_ENOMEM;
  free(c->ca_file);
  c->ca_file = d;
  return 0;
}

int weft_client_set_verify(weft_client *c, int on) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  if (c->tls) return WEFT_ESTATE;
  c->verify = on != 0;
  return 0;
}

int weft_client_open(weft_client *c) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  if (c->ended || c->destroyed) return WEFT_ECLOSED;
  if (c->state != WEFT_CLIENT_CLOSED || c->conn || c->spec || c->retry_pending) return WEFT_ESTATE;
  /* The key is proven on fast-tcp and WebSocket only (decision #26). */
  if (c->psk_len && strcmp(c->transport->name, "websockets") != 0 &&
      strcmp(c->transport->name, "fast-tcp") != 0)
    return WEFT_EUNSUPPORTED;
  if (c->secure && !c->tls) {
    char err[256];
    int rc = weft__tls_ctx_client(&c->tls, c->ca_file, c->verify, err, sizeof(err));
    if (rc) {
      weft__client_emit_error(c, rc, "tls", err, 0, NULL);
      return rc;
    }
  }
  c->opened = 1;
  if (c->timeout_ms)
    uv_timer_start(&c->connect_timer, weft__client_on_connect_timeout, c->timeout_ms, 0);
  weft__client_attempt(c);
  return 0;
}

int weft_client_write(weft_client *c, const weft_value *msg) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !msg) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  weft_value *owned = NULL;
  if (c->plugins.n) {
    int rc = weft__client_plugins_transform(&c->plugins, c, 1, msg, &msg, &owned);
    if (rc != WEFT_PASS || c->ended) {
      weft_value_free(owned);
      return rc == WEFT_SWALLOW ? 0 : rc != WEFT_PASS ? rc : WEFT_ECLOSED;
    }
  }
  weft__payload *p;
  int rc = weft__client_encode(c, msg, &p);
  weft_value_free(owned);
  if (rc) return rc;
  rc = weft__client_send(c, p);
  weft__payload_release(p);
  return rc;
}

int weft_client_write_raw(weft_client *c, const void *data, size_t len, int binary) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || (!data && len)) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  weft__payload *p;
  int rc;
  if (c->transport->conn.encode) { /* no raw frames there: a string or binary message */
    weft_value *v =
        binary ? weft_value_new_binary(data, len) : weft_value_new_string((const char *)data, len);
    rc = v ? weft__client_encode(c, v, &p) : binary ? WEFT_ENOMEM : WEFT_EUTF8;
    weft_value_free(v);
  } else {
    rc = weft__payload_message(data, len, binary, &p);
  }
  if (rc) return rc;
  rc = weft__client_send(c, p);
  weft__payload_release(p);
  return rc;
}

size_t weft_client_buffered_amount(const weft_client *c) {
  if (weft__client_gone(c)) return 0;
  if (!c) return 0;
  return c->pend_bytes + (c->conn ? c->conn->tran->conn.queued(c->conn, NULL) : 0);
}

int weft_client_id(weft_client *c) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  return weft__client_send_string(c, "primus::id::", 12);
}

int weft_client_set_online(weft_client *c, int online) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  if (c->destroyed) return WEFT_ECLOSED;
  if (!online && c->online) {
    c->online = 0;
    EMIT(c, offline, c, c->ev_user);
    if (c->ended) return 0; /* ended from the callback */
    /* As Primus: going offline drops the connection and any retry plan. */
    if (c->conn || c->spec) {
      weft__client_detach(c, 0);
      if (c->state == WEFT_CLIENT_OPEN) weft__client_emit_close(c);
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
    if (c->strat_online && !c->ended && !c->conn && !c->spec && c->state == WEFT_CLIENT_CLOSED)
      weft__client_reconnect(c);
  }
  return 0;
}

int weft_client_end(weft_client *c, const weft_value *msg) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  if (c->ended) return WEFT_ECLOSED;
  if (msg && c->state == WEFT_CLIENT_OPEN) weft_client_write(c, msg);
  weft__client_end(c);
  return 0;
}

int weft_client_destroy(weft_client *c) {
  if (!c) return WEFT_EINVAL;
  if (c->destroyed) return WEFT_ECLOSED;
  c->destroyed = 1; /* before the end event: a destroy from there is ECLOSED */
  weft__client_end(c);
  uv_close((uv_handle_t *)&c->connect_timer, on_timer_closed);
  uv_close((uv_handle_t *)&c->ping_timer, on_timer_closed);
  uv_close((uv_handle_t *)&c->retry_timer, on_timer_closed);
  return 0;
}

int weft_client_state(const weft_client *c) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  return c ? c->state : WEFT_EINVAL;
}

weft_loop *weft_client_loop(const weft_client *c) {
  if (weft__client_gone(c)) return NULL;
  return c ? c->loop : NULL;
}

int weft_client_set_batching(weft_client *c, size_t max_bytes) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  if (max_bytes && strcmp(c->parser->name, "raw") == 0) return WEFT_EUNSUPPORTED;
  c->batch_max = max_bytes;
  return 0;
}

int weft_client_use(weft_client *c, const weft_plugin_ops *ops, void *user) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  int state_rc = !c                         ? WEFT_EINVAL
                 : c->ended || c->destroyed ? WEFT_ECLOSED
                 : c->opened                ? WEFT_ESTATE
                                            : 0;
  weft__plugin_list none = {0};
  /* The first client hooks came with client_incoming: a struct that ends
   * there is still whole (client_outgoing came later, read by size). */
  size_t min = offsetof(weft_plugin_ops, client_incoming) + sizeof(ops->client_incoming);
  int rc = weft__plugin_add(c ? &c->plugins : &none, ops, user, state_rc, min);
  return rc ? rc : weft__client_plugin_init(&c->plugins, c);
}

void *weft_client_plugin(weft_client *c, const char *name) {
  if (weft__client_gone(c)) return NULL;
  return c ? weft__plugin_find(&c->plugins, name) : NULL;
}

int weft_client_set_transformer(weft_client *c, const char *name) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !name) return WEFT_EINVAL;
  const weft__transport *t = weft__transport_find(name);
  if (!t || !t->dialer.dial) return WEFT_EUNSUPPORTED; /* a framing served, not dialed */
  if (c->opened) return WEFT_ESTATE;
  /* tcp:// and ipc:// choose their framing; Primus's default, which hosts
   * pass whatever the URL, changes nothing there. */
  if (!c->transport->over_http && t->over_http && strcmp(name, "websockets") == 0) return 0;
  if (!weft__transport_serves(t, c->url.scheme)) return WEFT_EURL;
  c->transport = t;
  return 0;
}
