/*
 * The server's life: creation, listening on one URL or more (a listener of
 * the server's transport for each), the heartbeat timer, and the
 * asynchronous destroy that ends every spark, waits for the closing
 * handshakes and frees it all.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "primus.h"
#include "runtime/log.h"
#include "runtime/tls.h"

#define WEFT__HWM_DEFAULT (1u << 20)
#define WEFT__MAX_QUEUE_DEFAULT (64u << 20)
#define WEFT__PATHNAME_DEFAULT "/primus"

static void on_timer_closed(uv_handle_t *h);

int weft_server_new(weft_loop *loop, weft_server **out) {
  if (!loop || !out) return WEFT_EINVAL;
  *out = NULL;
  if (loop->closing) return WEFT_ECLOSED;
  weft_server *s = calloc(1, sizeof(*s));
  if (!s) return WEFT_ENOMEM;
  s->loop = loop;
  s->transport = weft__transport_find("websockets");
  s->transports[0] = s->transport;
  s->n_transports = 1;
  s->parser = &weft__parser_json;
  s->ping_interval = 30000;
  s->max_length = 10u << 20;
  s->keep_all_headers = s->keep_url = 1;
  s->hwm = WEFT__HWM_DEFAULT;
  s->max_queue = WEFT__MAX_QUEUE_DEFAULT;
  s->client_library = 1;
  s->site.route = weft__server_route;
  s->site.route_user = s;
  s->site.owner = s;
  weft__arena_init(&s->arena);
  uv_timer_init(loop->uv, &s->ping_timer);
  uv_timer_init(loop->uv, &s->destroy_timer);
  s->ping_timer.data = s->destroy_timer.data = s;
  s->live_handles = 2;
  s->refs = 1; /* the creator's, dropped when a destroy has finished */
  s->creator_ref = 1;
  loop->users++;
  *out = s;
  return 0;
}

int weft_server_retain(weft_server *s) {
  if (!s) return WEFT_EINVAL;
  if (s->state == WEFT__SRV_CLOSED) return WEFT_ECLOSED;
  if (s->refs == UINT32_MAX) return WEFT_ERANGE;
  s->refs++;
  return 0;
}

int weft_server_release(weft_server *s) {
  /* The creator's reference goes with weft_server_destroy, not here. */
  if (!s || s->refs <= s->creator_ref) return WEFT_EINVAL;
  if (--s->refs == 0) free(s);
  return 0;
}

int weft_server_set_events(weft_server *s, const weft_server_events *ev, void *user,
                           void (*free_user)(void *)) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !ev || ev->size < offsetof(weft_server_events, connection)) return WEFT_EINVAL;
  if (s->ev_free && s->ev_user != user) s->ev_free(s->ev_user);
  memset(&s->ev, 0, sizeof(s->ev));
  memcpy(&s->ev, ev, ev->size < sizeof(s->ev) ? ev->size : sizeof(s->ev));
  s->ev_user = user;
  s->ev_free = free_user;
  return 0;
}

void weft__server_error(weft_server *s, weft_spark *c, int code, const char *kind,
                        const char *msg) {
  weft__metrics_error(s, kind);
  if (!msg) msg = weft_strerror(code);
  if (weft__log_on(s->loop, WEFT_LOG_WARN)) {
    const char *event = !kind                          ? "error"
                        : strcmp(kind, "timeout") == 0 ? "timeout"
                        : strcmp(kind, "queue") == 0   ? "queue"
                                                       : "error";
    if (c)
      weft__log(s->loop, WEFT_LOG_WARN, event, s, NULL, weft__spark_id(c), kind, "spark %s: %s",
                weft__spark_id(c), msg);
    else
      weft__log(s->loop, WEFT_LOG_WARN, event, s, NULL, NULL, kind, "server: %s", msg);
  }
  if (!s->ev.error) return;
  weft_error_info e = {code, kind, msg, 0, NULL};
  s->ev.error(s, c, &e, s->ev_user);
}

int weft__server_encode(weft_server *s, const weft_value *v, weft__payload **out) {
  return weft__message_encode(s->parser, s->loop, v, out);
}

/* ---- listening ---- */

static void maybe_finish(weft_server *s);

static void on_listener_closed(weft__listener *l, void *user) {
  weft_server *s = user;
  weft__listener **pp = &s->listeners;
  while (*pp && *pp != l)
    pp = &(*pp)->next;
  if (*pp) { /* one that listened */
    *pp = l->next;
    s->n_listeners--;
  } else { /* one that failed to listen */
    s->closing_listeners--;
  }
  weft__listener_free(l);
  maybe_finish(s);
}

/* The pathname a URL asks for: its path without the query and trailing
 * slashes ("/" stays "/"), or Primus's when it names none. */
static int pathname_of(const weft__url *u, char *out, size_t cap) {
  if (!u->has_path) {
    snprintf(out, cap, "%s", WEFT__PATHNAME_DEFAULT);
    return 0;
  }
  size_t n = strcspn(u->path, "?");
  while (n > 1 && u->path[n - 1] == '/')
    n--;
  if (n >= cap) return WEFT_EURL;
  memcpy(out, u->path, n);
  out[n] = '\0';
  return 0;
}

static int listen_url(weft_server *s, const char *url, int attached) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !url) return WEFT_EINVAL;
  if (s->state >= WEFT__SRV_CLOSING) return WEFT_ESTATE;
  weft__listen_params p = {0};
  int rc = weft__url_parse(url, &p.url);
  if (rc) return rc;
  /* The other server terminates TLS: its bytes are not ours to hand over. */
  if (attached && weft__url_secure(&p.url)) return WEFT_EUNSUPPORTED;
  p.attached = attached;
  /* A framing without HTTP (fast-tcp's tcp:// and ipc://) listens on its
   * own URLs beside the server's transformers. */
  const weft__transport *alone = attached ? NULL : weft__transport_of_scheme(p.url.scheme);
  if (alone && alone->over_http) alone = NULL;
  for (size_t i = 0; !alone && i < s->n_transports; i++)
    if (!weft__transport_serves(s->transports[i], p.url.scheme)) return WEFT_EURL;
  for (size_t i = 0; i < s->n_transports; i++)
    if (s->transports[i]->json_only && s->parser != &weft__parser_json) return WEFT_EINVAL;
  if ((rc = pathname_of(&p.url, p.path, sizeof(p.path))) != 0) return rc;
  if (!alone && (rc = weft__server_add_library(s, p.path)) != 0) return rc;
  if (weft__url_secure(&p.url)) {
    char err[256];
    if (!s->tls_cert || !s->tls_key) return WEFT_EINVAL;
    rc = s->tls ? 0 : weft__tls_ctx_server(&s->tls, s->tls_cert, s->tls_key, err, sizeof(err));
    if (rc) {
      weft__server_error(s, NULL, rc, "tls", err);
      return rc;
    }
    p.tls = s->tls;
  }
  p.loop = s->loop;
  p.site = &s->site;
  p.max_length = s->max_length;
  p.compression = s->compression;
  p.unix_mode = s->unix_mode;
  p.owner_size = offsetof(weft_spark, conn);
  p.ev = &weft__spark_events;
  /* The key on HTTP framings only when asked (decision #26), and only for
   * WebSocket: engine.io's and Vibe's requests have no such handshake. */
  p.psk = s->psk_len && (alone || s->psk_ws) ? s->psk : NULL;
  p.psk_len = p.psk ? s->psk_len : 0;
  for (size_t i = 0; p.psk && !alone && i < s->n_transports; i++)
    if (strcmp(s->transports[i]->name, "websockets") != 0) return WEFT_EUNSUPPORTED;
  p.parser = s->parser;
  p.admit = weft__spark_admit;
  p.closed = on_listener_closed;
  p.user = s;
  weft__listener *l;
  if ((rc = weft__server_listen_all(s, &p, alone, &l)) != 0) return rc;
  weft__log(s->loop, WEFT_LOG_INFO, "listen", s, NULL, NULL, NULL, "%s %s (%s)",
            attached ? "attached at" : "listening on", l->served,
            alone ? alone->name : s->transport->name);
  if (s->state == WEFT__SRV_NEW && s->ping_interval)
    uv_timer_start(&s->ping_timer, weft__server_ping, s->ping_interval, s->ping_interval);
  s->state = WEFT__SRV_LISTENING;
  return 0;
}

int weft_server_listen(weft_server *s, const char *url) { return listen_url(s, url, 0); }

int weft_server_attach(weft_server *s, const char *url) { return listen_url(s, url, 1); }

int weft_server_set_psk(weft_server *s, const void *key, size_t len) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || (!key && len) || len > sizeof(s->psk)) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return WEFT_ESTATE;
  OPENSSL_cleanse(s->psk, sizeof(s->psk));
  if (len) memcpy(s->psk, key, len);
  s->psk_len = len;
  return 0;
}

int weft_server_set_psk_ws(weft_server *s, int on) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return WEFT_ESTATE;
  s->psk_ws = on != 0;
  return 0;
}

int weft_server_port(const weft_server *s) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  return s->state == WEFT__SRV_LISTENING && s->listeners ? s->listeners->port : WEFT_ESTATE;
}

const char *weft_server_pathname(const weft_server *s) {
  if (weft__server_gone(s)) return NULL;
  if (!s) return NULL;
  return s->listeners ? s->listeners->p.path : WEFT__PATHNAME_DEFAULT;
}

const char *weft_server_url(const weft_server *s, size_t i) {
  if (weft__server_gone(s)) return NULL;
  if (!s || s->state != WEFT__SRV_LISTENING) return NULL;
  const weft__listener *l = s->listeners;
  for (; l; l = l->next) /* framings beside another serve its URL: not listed again */
    if (!l->p.share && i-- == 0) break;
  return l ? l->served : NULL;
}

int weft_server_adopt(weft_server *s, int fd, const void *head, size_t len, unsigned flags) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || fd < 0 || (len && !head) || (flags & ~(unsigned)WEFT_ADOPT_ONCE)) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_LISTENING || !s->listeners) return WEFT_ESTATE;
  return s->listeners->tran->listener.adopt(s->listeners, fd, head, len,
                                            (flags & WEFT_ADOPT_ONCE) != 0);
}

weft_loop *weft_server_loop(const weft_server *s) {
  if (weft__server_gone(s)) return NULL;
  return s ? s->loop : NULL;
}

size_t weft_server_spark_count(const weft_server *s) {
  if (weft__server_gone(s)) return 0;
  return s ? s->n_open : 0;
}

/* ---- destroy ---- */

static void finalize(weft_server *s) {
  s->state = WEFT__SRV_CLOSED;
  if (s->ev.close) s->ev.close(s, s->ev_user);
  weft__plugins_free(&s->plugins);
  if (s->ev_free) s->ev_free(s->ev_user);
  if (s->idgen_free) s->idgen_free(s->idgen_user);
  if (s->auth_free) s->auth_free(s->auth_user);
  weft__rs_free_all(s);
  free(s->buckets);
  weft__tls_ctx_free(s->tls);
  free(s->tls_cert);
  free(s->tls_key);
  OPENSSL_cleanse(s->psk, sizeof(s->psk));
  weft__http_site_free(&s->site);
  weft__heads_free(&s->heads);
  weft__server_keep_none(s);
  weft__arena_free(&s->arena);
  weft__app_parser_free(s->app_parser);
  s->app_parser = NULL;
  s->parser = &weft__parser_json;
  s->loop->users--;
  s->creator_ref = 0;
  if (--s->refs == 0) {
    free(s);
    return;
  }
  /* Retained: what is left answers every call with WEFT_ECLOSED. */
  memset(&s->ev, 0, sizeof(s->ev));
  s->ev_free = s->idgen_free = s->auth_free = NULL;
  s->buckets = NULL;
  s->n_buckets = 0;
  s->open_head = NULL;
  s->n_open = 0;
  s->loop = NULL;
}

static void on_timer_closed(uv_handle_t *h) {
  weft_server *s = h->data;
  if (--s->live_handles == 0) finalize(s);
}

static void maybe_finish(weft_server *s) {
  if (s->state != WEFT__SRV_CLOSING || s->n_listeners || s->closing_listeners || s->timers_closed)
    return;
  s->timers_closed = 1;
  uv_close((uv_handle_t *)&s->ping_timer, on_timer_closed);
  uv_close((uv_handle_t *)&s->destroy_timer, on_timer_closed);
}

static void on_destroy_timeout(uv_timer_t *t) {
  weft_server *s = t->data;
  /* Whoever has not finished closing by now is cut off. */
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c; c = c->next)
    if (c->state == WEFT__SP_OPEN) c->conn.tran->conn.abort(&c->conn);
  weft__server_iter_end(s);
  for (weft__listener *l = s->listeners, *next; l; l = next) {
    next = l->next; /* the stop may close it at once */
    l->tran->listener.stop(l, 1);
  }
}

int weft_server_destroy(weft_server *s, const weft_destroy_options *opts) {
  if (!s) return WEFT_EINVAL;
  if (s->state >= WEFT__SRV_CLOSING) return WEFT_ECLOSED;
  int reconnect = 0;
  uint32_t timeout = 1000;
  if (opts) {
    if (opts->size < offsetof(weft_destroy_options, reconnect) + sizeof(int)) return WEFT_EINVAL;
    reconnect = opts->reconnect;
    if (opts->size >= sizeof(*opts) && opts->timeout_ms) timeout = opts->timeout_ms;
  }
  s->state = WEFT__SRV_CLOSING;
  uv_timer_stop(&s->ping_timer);
  /* Not yet sparks (reading a head, being authorized): no goodbye owed. */
  for (weft__listener *l = s->listeners, *next; l; l = next) {
    next = l->next;
    l->tran->listener.stop(l, 0);
  }
  weft__server_iter_begin(s);
  for (weft_spark *sp = s->open_head; sp; sp = sp->next)
    if (sp->state == WEFT__SP_OPEN) weft_spark_end(sp, NULL, reconnect ? WEFT_END_RECONNECT : 0);
  weft__server_iter_end(s);
  uv_timer_start(&s->destroy_timer, on_destroy_timeout, timeout, 0);
  maybe_finish(s);
  return 0;
}
