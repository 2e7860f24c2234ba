/*
 * A server's transformers: one, or several side by side on every URL it
 * listens on ("websockets,engine.io"): the first that cannot join another
 * binds the address, the others join its HTTP endpoint, and each request
 * goes to the framing it belongs to. Also the options of the framings with
 * HTTP sessions (engine.io's heartbeat and cookie).
 */
#include <stdio.h>
#include <string.h>

#include "primus.h"

/* The names of a comma-separated list, one by one: 1 with the next name in
 * name[0..cap), 0 at the end, WEFT_EINVAL for an empty or long one (a
 * leading, doubled or trailing comma). *at starts at the list; between
 * names it rests on the comma that follows the last one. */
static int next_name(const char **at, char *name, size_t cap, int first) {
  const char *p = *at;
  if (!*p) return 0;
  if (!first && *p++ != ',') return WEFT_EINVAL;
  while (*p == ' ')
    p++;
  size_t n = strcspn(p, ",");
  size_t end = n;
  while (end && p[end - 1] == ' ')
    end--;
  *at = p + n;
  if (end == 0 || end >= cap) return WEFT_EINVAL;
  memcpy(name, p, end);
  name[end] = '\0';
  return 1;
}

int weft_transformer_exists(const char *list) {
  if (!list || !*list) return 0;
  char name[64];
  int rc;
  for (int k = 0; (rc = next_name(&list, name, sizeof(name), k == 0)) == 1; k++)
    if (!weft__transport_find(name)) return 0;
  return rc == 0;
}

int weft__server_set_transports(weft_server *s, const char *list) {
  const weft__transport *named[WEFT__TRANSPORTS_MAX];
  size_t n = 0, binders = 0;
  char name[64];
  int rc;
  for (int k = 0; (rc = next_name(&list, name, sizeof(name), k == 0)) == 1; k++) {
    const weft__transport *t = weft__transport_find(name);
    if (!t) return WEFT_EUNSUPPORTED;
    for (size_t i = 0; i < n; i++)
      if (named[i] == t) return WEFT_EINVAL; /* named twice */
    if (n == WEFT__TRANSPORTS_MAX) return WEFT_EINVAL;
    named[n++] = t;
    binders += !t->can_join;
  }
  if (rc < 0) return WEFT_EINVAL;       /* an empty or long name in a list */
  if (n == 0) return WEFT_EUNSUPPORTED; /* "" names no transformer there is */
  if (n > 1) {                          /* side by side: all over HTTP, at most one binds */
    if (binders > 1) return WEFT_EINVAL;
    for (size_t i = 0; i < n; i++)
      if (!named[i]->over_http) return WEFT_EINVAL;
  }
  /* The one that binds first; the others in the order given. */
  size_t first = 0;
  for (size_t i = 0; i < n; i++)
    if (!named[i]->can_join) first = i;
  s->transport = named[0];
  s->transports[0] = named[first];
  for (size_t i = 0, k = 1; i < n; i++)
    if (i != first) s->transports[k++] = named[i];
  s->n_transports = n;
  return 0;
}

int weft__server_listen_all(weft_server *s, weft__listen_params *p, const weft__transport *alone,
                            weft__listener **first) {
  p->session_ping_interval = s->session_ping_interval;
  p->session_ping_timeout = s->session_ping_timeout;
  p->vibe_heartbeat = s->vibe_heartbeat;
  p->vibe_wait = s->vibe_wait;
  memcpy(p->session_cookie, s->session_cookie, sizeof(p->session_cookie));
  *first = NULL;
  size_t n = alone ? 1 : s->n_transports;
  for (size_t i = 0; i < n; i++) {
    const weft__transport *t = alone ? alone : s->transports[i];
    p->share = *first;
    p->polls = &s->m.polls[weft__transport_index(t)];
    weft__listener *l;
    int rc = weft__listener_new(t, p, &l);
    if (!l) return rc;
    if (rc) { /* it closes on its own: on_listener_closed */
      s->closing_listeners++;
      return rc;
    }
    weft__listener **pp = &s->listeners;
    while (*pp)
      pp = &(*pp)->next;
    *pp = l;
    s->n_listeners++;
    if (!*first) *first = l;
  }
  return 0;
}

int weft_server_set_session_heartbeat(weft_server *s, uint32_t interval_ms, uint32_t timeout_ms) {
  if (!s || !interval_ms || !timeout_ms || interval_ms > 0x7fffffff || timeout_ms > 0x7fffffff)
    return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW && s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  s->session_ping_interval = interval_ms;
  s->session_ping_timeout = timeout_ms;
  /* Listening: sessions that open from now on take it (Vibe's; engine.io's
   * heartbeat keeps what it had when it started listening). */
  for (weft__listener *l = s->listeners; l; l = l->next) {
    l->p.session_ping_interval = interval_ms;
    l->p.session_ping_timeout = timeout_ms;
  }
  return 0;
}

int weft_server_set_vibe_heartbeat(weft_server *s, uint32_t heartbeat_ms, uint32_t wait_ms) {
  if (!s || !wait_ms || wait_ms >= heartbeat_ms || heartbeat_ms > 0x7fffffff) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW && s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  s->vibe_heartbeat = heartbeat_ms;
  s->vibe_wait = wait_ms;
  for (weft__listener *l = s->listeners; l; l = l->next) { /* sockets opened from now on */
    l->p.vibe_heartbeat = heartbeat_ms;
    l->p.vibe_wait = wait_ms;
  }
  return 0;
}

int weft_server_set_session_cookie(weft_server *s, const char *name) {
  if (!s) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return WEFT_ESTATE;
  size_t n = name ? strlen(name) : 0;
  /* A cookie name is an RFC 6265 token. */
  if (n >= sizeof(s->session_cookie) ||
      (n && strspn(name, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n))
    return WEFT_EINVAL;
  memcpy(s->session_cookie, name ? name : "", n + 1);
  return 0;
}

int weft_client_set_transports(weft_client *c, const char *list) {
  if (!c || !list) return WEFT_EINVAL;
  if (c->opened) return WEFT_ESTATE;
  unsigned modes = 0;
  char name[64];
  int rc;
  for (int k = 0; (rc = next_name(&list, name, sizeof(name), k == 0)) == 1; k++) {
    if (strcmp(name, "polling") == 0)
      modes |= WEFT__DIAL_POLLING;
    else if (strcmp(name, "websocket") == 0)
      modes |= WEFT__DIAL_WEBSOCKET;
    else
      return WEFT_EINVAL;
  }
  if (rc < 0 || !modes) return WEFT_EINVAL;
  c->modes = modes;
  return 0;
}

int weft_client_set_transport(weft_client *c, const char *name) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c || !name) return WEFT_EINVAL;
  unsigned way = !strcmp(name, "ws")             ? WEFT__WAY_WS
                 : !strcmp(name, "httpstream")   ? WEFT__WAY_STREAM
                 : !strcmp(name, "httplongpoll") ? WEFT__WAY_LONGPOLL
                                                 : 0;
  if (!way) return WEFT_EINVAL;
  if (c->opened) return WEFT_ESTATE;
  /* The URL's query may name it too (the reference's URIs): not another. */
  int in_url = weft__vibe_url_way(c->url.path);
  if (in_url < 0 || (in_url > 0 && (unsigned)in_url != way)) return WEFT_EINVAL;
  c->way = way;
  return 0;
}
