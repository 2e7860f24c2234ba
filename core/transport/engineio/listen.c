/*
 * The engine.io listener: an HTTP endpoint of its own, or one it joined
 * (side by side with websockets, requests told apart by their EIO query),
 * its sessions by sid, and one timer for every session's heartbeat,
 * expiry and close: sessions wait in lists of fixed delay, so each list is
 * in deadline order and a move is O(1).
 */
#include <string.h>

#include "base/common.h"
#include "eio.h"

#define WEFT__EIO_PING_INTERVAL 25000 /* engine.io's defaults */
#define WEFT__EIO_PING_TIMEOUT 20000

static const char sid_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- sessions by sid ---- */

static uint64_t sid_key(const char *sid) { return weft__map_hash(sid, strlen(sid)); }

weft__eio_session *weft__eio_find(weft__eio_listener *el, const char *sid) {
  if (strlen(sid) >= sizeof(((weft__eio_session *)0)->sid)) return NULL;
  for (weft__eio_session *s = weft__map_get(&el->sids, sid_key(sid)); s; s = s->hnext)
    if (strcmp(s->sid, sid) == 0 && s->state != WEFT__EIO_S_CLOSED) return s;
  return NULL;
}

int weft__eio_name(weft__eio_listener *el, weft__eio_session *s) {
  uint8_t r[20];
  do {
    if (weft__rand_bytes(&el->rand, r, sizeof(r)) != 0) return WEFT_EIO;
    for (size_t i = 0; i < sizeof(r); i++)
      s->sid[i] = sid_alphabet[r[i] & 63];
    s->sid[sizeof(r)] = '\0';
  } while (weft__eio_find(el, s->sid));
  uint64_t k = sid_key(s->sid);
  s->hnext = weft__map_get(&el->sids, k);
  if (weft__map_put(&el->sids, k, s) != 0) {
    s->sid[0] = '\0';
    return WEFT_ENOMEM;
  }
  return 0;
}

void weft__eio_unindex(weft__eio_listener *el, weft__eio_session *s) {
  if (!s->sid[0]) return;
  uint64_t k = sid_key(s->sid);
  weft__eio_session *head = weft__map_get(&el->sids, k), **pp = &head;
  while (*pp && *pp != s)
    pp = &(*pp)->hnext;
  if (*pp) *pp = s->hnext;
  if (head)
    weft__map_put(&el->sids, k, head); /* replacing never grows */
  else
    weft__map_del(&el->sids, k);
  s->hnext = NULL;
}

/* ---- the timer ---- */

static void on_timer(uv_timer_t *t);

static void arm(weft__eio_listener *el) {
  if (!el->life.timer_open) return;
  uint64_t next = UINT64_MAX;
  for (int i = 0; i < 3; i++)
    if (el->lists[i].head && el->lists[i].head->deadline < next) next = el->lists[i].head->deadline;
  if (next == UINT64_MAX) {
    uv_timer_stop(&el->life.timer);
    return;
  }
  uint64_t now = uv_now(el->l->p.loop->uv);
  uv_timer_start(&el->life.timer, on_timer, next > now ? next - now : 0, 0);
}

void weft__eio_timer_set(weft__eio_listener *el, weft__eio_session *s, int list) {
  if (s->tlist != WEFT__EIO_T_NONE) {
    if (s->tprev)
      s->tprev->tnext = s->tnext;
    else
      el->lists[s->tlist].head = s->tnext;
    if (s->tnext)
      s->tnext->tprev = s->tprev;
    else
      el->lists[s->tlist].tail = s->tprev;
    s->tnext = s->tprev = NULL;
  }
  s->tlist = (uint8_t)list;
  if (list == WEFT__EIO_T_NONE) return;
  s->deadline = uv_now(el->l->p.loop->uv) + el->delay[list];
  s->tprev = el->lists[list].tail;
  if (s->tprev)
    s->tprev->tnext = s;
  else
    el->lists[list].head = s;
  el->lists[list].tail = s;
  /* A session that became the earliest of its list may be due before the
   * timer fires. */
  if (!s->tprev && (!uv_is_active((uv_handle_t *)&el->life.timer) ||
                    uv_timer_get_due_in(&el->life.timer) > el->delay[list]))
    arm(el);
}

static void on_timer(uv_timer_t *t) {
  weft__eio_listener *el = t->data;
  uint64_t now = uv_now(el->l->p.loop->uv);
  for (int i = 0; i < 3; i++) {
    /* Each one leaves the list (or goes to its end), so this ends. */
    weft__eio_session *s;
    while ((s = el->lists[i].head) && s->deadline <= now)
      weft__eio_ping(s);
  }
  arm(el);
}

/* ---- life ---- */

static void freed(weft__sessions *ss) {
  weft__map_free(&WEFT__CONTAINER(ss, weft__eio_listener, life)->sids);
}

static void on_endpoint_closed(weft__http_endpoint *ep) {
  weft__sessions_ep_closed(&WEFT__CONTAINER(ep, weft__eio_listener, ep)->life);
}

int weft__eio_bind(weft__listener *l) {
  weft__eio_listener *el = weft__listener_priv(l);
  el->l = l;
  el->delay[WEFT__EIO_T_PING] =
      l->p.session_ping_interval ? l->p.session_ping_interval : WEFT__EIO_PING_INTERVAL;
  el->delay[WEFT__EIO_T_PONG] =
      l->p.session_ping_timeout ? l->p.session_ping_timeout : WEFT__EIO_PING_TIMEOUT;
  el->delay[WEFT__EIO_T_CLOSE] = el->delay[WEFT__EIO_T_PONG];
  weft__sessions_init(&el->life, l, freed);
  el->life.timer.data = el;
  size_t size = l->p.owner_size + sizeof(weft__ws_sconn);
  size_t offset = l->p.owner_size + offsetof(weft__ws_sconn, hc);
  int rc;
  if (l->p.share) { /* beside another framing, on its endpoint */
    el->joined = 1;
    el->http = l->p.share->http;
    rc = el->http ? weft__http_endpoint_join(el->http, &weft__eio_handler, l, size, offset)
                  : WEFT_EINVAL;
    l->port = l->p.share->port;
    memcpy(l->served, l->p.share->served, sizeof(l->served));
    if (rc) {
      el->life.stopping = 1;
      weft__sessions_check(&el->life);
    }
    return rc;
  }
  el->http = &el->ep;
  el->life.ep_open = 1;
  rc = weft__ws_endpoint_open(l, &el->ep, &weft__eio_handler, on_endpoint_closed);
  if (rc) el->life.stopping = 1; /* the endpoint closes: on_endpoint_closed */
  return rc;
}

void weft__eio_stop(weft__listener *l, int hard) {
  weft__eio_listener *el = weft__listener_priv(l);
  el->life.stopping = 1;
  /* Sessions not yet admitted go; closing ones too when hard. Open ones
   * are the owner's to end. */
  while (hard && el->lists[WEFT__EIO_T_CLOSE].head)
    weft__eio_finish(el->lists[WEFT__EIO_T_CLOSE].head, NULL);
  if (!el->joined) weft__http_endpoint_stop(&el->ep, hard);
  weft__sessions_check(&el->life);
}

int weft__eio_adopt(weft__listener *l, int fd, const void *head, size_t len, int once) {
  weft__eio_listener *el = weft__listener_priv(l);
  return el->joined ? WEFT_EUNSUPPORTED : weft__http_endpoint_adopt(&el->ep, fd, head, len, once);
}
