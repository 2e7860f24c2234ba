/*
 * The life of a listener whose connections are sessions of HTTP requests
 * (engine.io, Vibe; see transport.h): its sessions, its endpoint and its
 * one timer, and the end of it all once it is stopping.
 */
#include "base/common.h"
#include "transport.h"

void weft__sessions_init(weft__sessions *ss, weft__listener *l, void (*freed)(weft__sessions *ss)) {
  ss->l = l;
  ss->freed = freed;
  uv_timer_init(l->p.loop->uv, &ss->timer);
  ss->timer_open = 1;
}

static void on_timer_closed(uv_handle_t *h) {
  weft__sessions *ss = WEFT__CONTAINER((uv_timer_t *)h, weft__sessions, timer);
  weft__listener *l = ss->l;
  if (ss->freed) ss->freed(ss);
  l->p.closed(l, l->p.user);
}

void weft__sessions_check(weft__sessions *ss) {
  if (!ss->stopping || ss->n || ss->ep_open || ss->done) return;
  ss->done = 1;
  ss->timer_open = 0;
  uv_close((uv_handle_t *)&ss->timer, on_timer_closed);
}

void weft__sessions_gone(weft__sessions *ss) {
  ss->n--;
  weft__sessions_check(ss);
}

void weft__sessions_ep_closed(weft__sessions *ss) {
  ss->ep_open = 0;
  weft__sessions_check(ss);
}
