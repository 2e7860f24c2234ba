/*
 * The server: options, the set of open sparks (list + id index), broadcast,
 * the heartbeat, deadlines, and the asynchronous destroy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tls.h"

#define WEFT__HWM_DEFAULT (1u << 20)
#define WEFT__MAX_QUEUE_DEFAULT (64u << 20)
#define WEFT__REAPER_MS 250

static void on_timer_closed(uv_handle_t *h) { weft__server_handle_closed(h->data); }

int weft_server_new(weft_loop *loop, weft_server **out) {
  if (!loop || !out) return WEFT_EINVAL;
  *out = NULL;
  if (loop->closing) return WEFT_ECLOSED;
  weft_server *s = calloc(1, sizeof(*s));
  if (!s) return WEFT_ENOMEM;
  s->loop = loop;
  s->parser = &weft__parser_json;
  s->ping_interval = 30000;
  s->max_length = 10u << 20;
  s->hwm = WEFT__HWM_DEFAULT;
  s->max_queue = WEFT__MAX_QUEUE_DEFAULT;
  strcpy(s->pathname, "/primus");
  weft__arena_init(&s->arena);
  uv_timer_init(loop->uv, &s->ping_timer);
  uv_timer_init(loop->uv, &s->reaper);
  uv_timer_init(loop->uv, &s->destroy_timer);
  s->ping_timer.data = s->reaper.data = s->destroy_timer.data = s;
  s->live_handles = 3;
  loop->users++;
  *out = s;
  return 0;
}

int weft_server_set_events(weft_server *s, const weft_server_events *ev, void *user,
                           void (*free_user)(void *)) {
  if (!s || !ev || ev->size < offsetof(weft_server_events, connection)) return WEFT_EINVAL;
  if (s->ev_free && s->ev_user != user) s->ev_free(s->ev_user);
  memset(&s->ev, 0, sizeof(s->ev));
  memcpy(&s->ev, ev, ev->size < sizeof(s->ev) ? ev->size : sizeof(s->ev));
  s->ev_user = user;
  s->ev_free = free_user;
  return 0;
}

#define CHECK_NEW(s)                                                                               \
  do {                                                                                             \
    if (!(s)) return WEFT_EINVAL;                                                                  \
    if ((s)->state != WEFT__SRV_NEW) return WEFT_ESTATE;                                           \
  } while (0)

int weft_server_set_parser(weft_server *s, const char *name) {
  CHECK_NEW(s);
  const weft__parser_ops *p = name ? weft__parser_find(name) : NULL;
  if (!p) return WEFT_EINVAL;
  s->parser = p;
  return 0;
}

int weft_server_set_ping_interval(weft_server *s, uint32_t ms) {
  CHECK_NEW(s);
  s->ping_interval = ms;
  return 0;
}

int weft_server_set_max_length(weft_server *s, size_t bytes) {
  CHECK_NEW(s);
  if (bytes == 0) return WEFT_EINVAL;
  s->max_length = bytes;
  return 0;
}

int weft_server_set_compression(weft_server *s, int on) {
  CHECK_NEW(s);
  s->compression = on != 0;
  return 0;
}

int weft_server_set_high_water_mark(weft_server *s, size_t bytes) {
  if (!s || bytes == 0) return WEFT_EINVAL;
  s->hwm = bytes;
  return 0;
}

int weft_server_set_max_queue(weft_server *s, size_t bytes) {
  if (!s || bytes == 0) return WEFT_EINVAL;
  s->max_queue = bytes;
  return 0;
}

static int add_string(char ***list, size_t *n, const char *v) {
  char *d = weft__strdup(v);
  if (!d) return WEFT_ENOMEM;
  char **l = realloc(*list, (*n + 1) * sizeof(*l));
  if (!l) {
    free(d);
    return WEFT_ENOMEM;
  }
  l[(*n)++] = d;
  *list = l;
  return 0;
}

static void free_strings(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

int weft_server_add_origin(weft_server *s, const char *origin) {
  CHECK_NEW(s);
  if (!origin || !*origin) return WEFT_EINVAL;
  return add_string(&s->origins, &s->n_origins, origin);
}

int weft_server_add_trusted_proxy(weft_server *s, const char *ip) {
  CHECK_NEW(s);
  struct sockaddr_storage ss;
  if (!ip || weft__sockaddr(ip, 0, &ss) != 0) return WEFT_EINVAL;
  return add_string(&s->proxies, &s->n_proxies, ip);
}

int weft_server_set_tls(weft_server *s, const char *cert, const char *key) {
  CHECK_NEW(s);
  if (!cert || !key || !*cert || !*key) return WEFT_EINVAL;
  char *c = weft__strdup(cert), *k = weft__strdup(key);
  if (!c || !k) {
    free(c);
    free(k);
    return WEFT_ENOMEM;
  }
  free(s->tls_cert);
  free(s->tls_key);
  s->tls_cert = c;
  s->tls_key = k;
  return 0;
}

int weft_server_set_id_generator(weft_server *s, weft_id_generator gen, void *user,
                                 void (*free_user)(void *)) {
  if (!s) return WEFT_EINVAL;
  if (s->idgen_free) s->idgen_free(s->idgen_user);
  s->idgen = gen;
  s->idgen_user = user;
  s->idgen_free = free_user;
  return 0;
}

int weft_server_set_authorize(weft_server *s, weft_authorize_cb cb, void *user,
                              void (*free_user)(void *)) {
  if (!s) return WEFT_EINVAL;
  if (s->auth_free) s->auth_free(s->auth_user);
  s->auth_cb = cb;
  s->auth_user = user;
  s->auth_free = free_user;
  return 0;
}

/* ---- open sparks: list and id index ---- */

static size_t id_hash(const char *id) {
  size_t h = 1469598103934665603ull;
  for (; *id; id++)
    h = (h ^ (unsigned char)*id) * 1099511628211ull;
  return h;
}

static void index_grow(weft_server *s) {
  size_t n = s->n_buckets ? s->n_buckets * 2 : 64;
  weft_spark **b = calloc(n, sizeof(*b));
  if (!b) return; /* chains just get longer */
  for (size_t i = 0; i < s->n_buckets; i++) {
    weft_spark *c = s->buckets[i];
    while (c) {
      weft_spark *next = c->hnext;
      size_t k = id_hash(c->id) & (n - 1);
      c->hnext = b[k];
      b[k] = c;
      c = next;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->n_buckets = n;
}

weft_spark *weft_server_spark(weft_server *s, const char *id) {
  if (!s || !id || !s->n_buckets) return NULL;
  for (weft_spark *c = s->buckets[id_hash(id) & (s->n_buckets - 1)]; c; c = c->hnext)
    if (strcmp(c->id, id) == 0) return c;
  return NULL;
}

static void list_unlink(weft_spark **head, weft_spark *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = c->prev = NULL;
}

static void list_push(weft_spark **head, weft_spark *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head) (*head)->prev = c;
  *head = c;
}

static void pending_unlink(weft_spark **head, weft_spark *c) {
  if (c->pprev)
    c->pprev->pnext = c->pnext;
  else
    *head = c->pnext;
  if (c->pnext) c->pnext->pprev = c->pprev;
  c->pnext = c->pprev = NULL;
}

static void pending_push(weft_spark **head, weft_spark *c) {
  c->pprev = NULL;
  c->pnext = *head;
  if (*head) (*head)->pprev = c;
  *head = c;
}

void weft__server_add_open(weft_server *s, weft_spark *c) {
  if (s->n_open + 1 > s->n_buckets) index_grow(s);
  if (s->n_buckets) {
    size_t k = id_hash(c->id) & (s->n_buckets - 1);
    c->hnext = s->buckets[k];
    s->buckets[k] = c;
  }
  list_push(&s->open_head, c);
  s->n_open++;
}

void weft__server_remove_open(weft_server *s, weft_spark *c) {
  if (s->n_buckets) {
    for (weft_spark **pp = &s->buckets[id_hash(c->id) & (s->n_buckets - 1)]; *pp;
         pp = &(*pp)->hnext) {
      if (*pp == c) {
        *pp = c->hnext;
        break;
      }
    }
  }
  c->hnext = NULL;
  /* While an iteration walks the list the node stays linked (it is skipped
   * because it is no longer open) and is unlinked when the walk ends. */
  if (s->iterating) {
    c->unlink_later = 1;
    s->unlink_pending = 1;
  } else {
    list_unlink(&s->open_head, c);
  }
  s->n_open--;
}

void weft__server_iter_begin(weft_server *s) { s->iterating++; }

void weft__server_iter_end(weft_server *s) {
  if (--s->iterating > 0 || !s->unlink_pending) return;
  s->unlink_pending = 0;
  weft_spark *c = s->open_head;
  while (c) {
    weft_spark *next = c->next;
    if (c->unlink_later) {
      c->unlink_later = 0;
      list_unlink(&s->open_head, c);
    }
    c = next;
  }
}

/* ---- pending connections and their deadlines ---- */

static void on_reaper(uv_timer_t *t) {
  weft_server *s = t->data;
  uint64_t now = uv_now(s->loop->uv);
  weft__conn *c = s->pending;
  while (c) {
    weft__conn *next = c->pnext;
    if (c->deadline <= now) weft__conn_abort(c);
    c = next;
  }
  if (!s->pending) {
    uv_timer_stop(&s->reaper);
    s->reaper_active = 0;
  }
}

void weft__server_pending_add(weft_server *s, weft_spark *c, uint32_t timeout_ms) {
  c->deadline = uv_now(s->loop->uv) + timeout_ms;
  if (c->on_pending) return;
  c->on_pending = 1;
  pending_push(&s->pending, c);
  if (!s->reaper_active && s->state != WEFT__SRV_CLOSED) {
    uv_timer_start(&s->reaper, on_reaper, WEFT__REAPER_MS, WEFT__REAPER_MS);
    s->reaper_active = 1;
  }
}

void weft__server_pending_remove(weft_server *s, weft_spark *c) {
  if (!c->on_pending) return;
  c->on_pending = 0;
  pending_unlink(&s->pending, c);
}

/* ---- errors ---- */

void weft__server_error(weft_server *s, weft_spark *c, int code, const char *kind,
                        const char *msg) {
  if (!s->ev.error) return;
  weft_error_info e = {code, kind, msg ? msg : weft_strerror(code), 0, NULL};
  s->ev.error(s, c, &e, s->ev_user);
}

/* ---- encoding ---- */

int weft__server_encode(weft_server *s, const weft_value *v, weft__payload **out) {
  return weft__message_encode(s->parser, s->loop, v, out);
}

/* ---- listening ---- */

static void on_ping(uv_timer_t *t);

int weft_server_listen(weft_server *s, const char *url) {
  if (!s || !url) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return WEFT_ESTATE;
  weft__url u;
  int rc = weft__url_parse(url, &u);
  if (rc) return rc;
  const weft__transport_ops *t = weft__transport_find(u.scheme);
  if (!t) return WEFT_EURL;
  if (strcmp(u.scheme, "wss") == 0 || strcmp(u.scheme, "https") == 0) {
    char err[256];
    if (!s->tls_cert) return WEFT_EINVAL;
    rc = s->tls ? 0 : weft__tls_ctx_server(&s->tls, s->tls_cert, s->tls_key, err, sizeof(err));
    if (rc) {
      weft__server_error(s, NULL, rc, "tls", err);
      return rc;
    }
  }
  size_t plen = strcspn(u.path, "?");
  while (plen > 1 && u.path[plen - 1] == '/')
    plen--;
  if (plen > 1) {
    if (plen >= sizeof(s->pathname)) return WEFT_EURL;
    memcpy(s->pathname, u.path, plen);
    s->pathname[plen] = '\0';
  }
  snprintf(s->host, sizeof(s->host), "%s", u.host);
  if (s->compression && !s->pmd && (rc = weft__pmd_new(&s->pmd)) != 0) return rc;
  s->transport = t;
  rc = t->listen(s, &u);
  if (rc) {
    t->stop(s);
    return rc;
  }
  s->state = WEFT__SRV_LISTENING;
  if (s->ping_interval) uv_timer_start(&s->ping_timer, on_ping, s->ping_interval, s->ping_interval);
  return 0;
}

int weft_server_port(const weft_server *s) {
  if (!s) return WEFT_EINVAL;
  return s->state == WEFT__SRV_LISTENING ? s->port : WEFT_ESTATE;
}

const char *weft_server_pathname(const weft_server *s) { return s ? s->pathname : NULL; }

weft_loop *weft_server_loop(const weft_server *s) { return s ? s->loop : NULL; }

int weft_server_set_batching(weft_server *s, size_t max_bytes) {
  if (!s) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return WEFT_ESTATE;
  if (max_bytes && strcmp(s->parser->name, "raw") == 0) return WEFT_EUNSUPPORTED;
  s->batch_max = max_bytes;
  return 0;
}

size_t weft_server_spark_count(const weft_server *s) { return s ? s->n_open : 0; }

/* ---- iteration and broadcast ---- */

int weft_server_foreach(weft_server *s, int (*fn)(weft_spark *, void *), void *user) {
  if (!s || !fn) return WEFT_EINVAL;
  int rc = 0;
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c && rc == 0; c = c->next)
    if (c->state == WEFT__C_OPEN) rc = fn(c, user);
  weft__server_iter_end(s);
  return rc;
}

static int broadcast_payload(weft_server *s, weft__payload *p) {
  int n = 0;
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c; c = c->next) {
    if (c->state != WEFT__C_OPEN) continue;
    int rc = weft__spark_send_payload(c, p);
    if (rc >= 0)
      n++;
    else
      weft__server_error(s, c, rc, "queue", "broadcast skipped: outbound queue full");
  }
  weft__server_iter_end(s);
  return n;
}

int weft_server_write(weft_server *s, const weft_value *msg) {
  if (!s || !msg) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  if (s->has_outgoing) return weft__spark_broadcast_transformed(s, msg);
  weft__payload *p;
  int rc = weft__server_encode(s, msg, &p);
  if (rc) return rc;
  int n = broadcast_payload(s, p);
  weft__payload_release(p);
  return n;
}

int weft_server_write_raw(weft_server *s, const void *data, size_t len, int binary) {
  if (!s || (!data && len)) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  weft__payload *p;
  int rc = weft__payload_message(data, len, binary, &p);
  if (rc) return rc;
  int n = broadcast_payload(s, p);
  weft__payload_release(p);
  return n;
}

/* ---- heartbeat ---- */

static void on_ping(uv_timer_t *t) {
  weft_server *s = t->data;
  char msg[64];
  snprintf(msg, sizeof(msg), "primus::ping::%llu", (unsigned long long)uv_now(s->loop->uv));
  /* uv_now is monotonic; Primus sends Date.now(): use wall-clock ms. */
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) == 0)
    snprintf(msg, sizeof(msg), "primus::ping::%lld",
             (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
  weft_value *v = weft_value_new_string(msg, strlen(msg));
  weft__payload *p = NULL;
  if (!v || weft__server_encode(s, v, &p) != 0) {
    weft_value_free(v);
    return;
  }
  weft_value_free(v);
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c; c = c->next) {
    if (c->state != WEFT__C_OPEN) continue;
    if (!c->alive) {
      weft__server_error(s, c, WEFT_ETIMEDOUT, "timeout", "no answer to the last ping");
      if (c->state == WEFT__C_OPEN) s->transport->close(c, WEFT__CLOSE_GOING_AWAY, "ping timeout");
      continue;
    }
    c->alive = 0;
    weft__spark_send_payload(c, p);
  }
  weft__server_iter_end(s);
  weft__payload_release(p);
}

/* ---- destroy ---- */

static void finalize(weft_server *s) {
  s->state = WEFT__SRV_CLOSED;
  if (s->ev.close) s->ev.close(s, s->ev_user);
  weft__plugins_free(&s->plugins);
  if (s->ev_free) s->ev_free(s->ev_user);
  if (s->idgen_free) s->idgen_free(s->idgen_user);
  if (s->auth_free) s->auth_free(s->auth_user);
  free_strings(s->origins, s->n_origins);
  free_strings(s->proxies, s->n_proxies);
  free(s->buckets);
  weft__pmd_free(s->pmd);
  weft__tls_ctx_free(s->tls);
  free(s->tls_cert);
  free(s->tls_key);
  weft__static_free(s);
  weft__arena_free(&s->arena);
  s->loop->users--;
  free(s);
}

void weft__server_handle_closed(weft_server *s) {
  if (--s->live_handles == 0) finalize(s);
}

static void maybe_finish(weft_server *s) {
  if (s->state != WEFT__SRV_CLOSING || s->n_conns > 0 || s->timers_closed) return;
  s->timers_closed = 1;
  uv_close((uv_handle_t *)&s->ping_timer, on_timer_closed);
  uv_close((uv_handle_t *)&s->reaper, on_timer_closed);
  uv_close((uv_handle_t *)&s->destroy_timer, on_timer_closed);
}

void weft__server_conn_closed(weft_server *s) {
  s->n_conns--;
  maybe_finish(s);
}

static void on_destroy_timeout(uv_timer_t *t) {
  weft_server *s = t->data;
  /* Whoever has not finished closing by now is cut off. */
  while (s->pending)
    weft__conn_abort(s->pending);
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c; c = c->next)
    weft__conn_abort(c);
  weft__server_iter_end(s);
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
  if (s->transport) s->transport->stop(s);
  weft__conn *c = s->pending;
  while (c) { /* not yet sparks: no goodbye owed */
    weft__conn *next = c->pnext;
    if (c->state == WEFT__C_HTTP || c->state == WEFT__C_AUTH) weft__conn_abort(c);
    c = next;
  }
  weft__server_iter_begin(s);
  for (weft_spark *sp = s->open_head; sp; sp = sp->next)
    if (sp->state == WEFT__C_OPEN) weft_spark_end(sp, NULL, reconnect ? WEFT_END_RECONNECT : 0);
  weft__server_iter_end(s);
  uv_timer_start(&s->destroy_timer, on_destroy_timeout, timeout, 0);
  maybe_finish(s);
  return 0;
}
