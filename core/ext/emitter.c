/*
 * The emitter: named events with acknowledgements, as a plugin of the core
 * (primus-emitter's packets; see include/weft/ext.h and docs/extensions.md).
 *
 * Packets are built as borrowed views over the caller's values on the stack
 * and written with the ordinary write functions, so an emit costs one encode
 * and no copy of its arguments. Pending acks and replies come from a small
 * free list: a steady stream of emit+ack round trips does not malloc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/map.h"
#include "ext_internal.h"

#include "emitter_internal.h"

/* ---- recycling ---- */

void *weft__em_take(weft_emitter *em) {
  recycled *r = em->free_list;
  if (!r) return calloc(1, sizeof(recycled));
  em->free_list = r->next;
  em->n_free--;
  memset(r, 0, sizeof(*r));
  return r;
}

void weft__em_give(weft_emitter *em, void *p) {
  if (em->n_free >= RECYCLE_MAX) {
    free(p);
    return;
  }
  recycled *r = p;
  r->next = em->free_list;
  em->free_list = r;
  em->n_free++;
}

/* ---- targets ---- */

target *weft__em_target_of(weft_emitter *em, void *t, int create) {
  target *tg = weft__map_get(&em->targets, weft__map_ptr(t));
  if (tg || !create) return tg;
  tg = calloc(1, sizeof(*tg));
  if (tg && weft__map_put(&em->targets, weft__map_ptr(t), tg)) {
    free(tg);
    tg = NULL;
  }
  return tg;
}

void weft__em_target_maybe_free(weft_emitter *em, void *t, target *tg) {
  if (tg->pend || tg->replies) return;
  weft__map_del(&em->targets, weft__map_ptr(t));
  free(tg);
}

/* ---- errors ---- */

/* To the error handler, or by default to the owner's error event. A
 * malformed event (WEFT_EPARSE) is Primacron's kind "validation". */
static void wire_error(weft_emitter *em, weft_spark *spark, int code, const char *msg) {
  const char *kind = code == WEFT_EPARSE ? "validation" : "emitter";
  if (!em->err_cb) {
    if (em->server)
      weft__server_error(em->server, spark, code, kind, msg);
    else
      weft__client_emit_error(em->client, code, kind, msg, 0, NULL);
    return;
  }
  weft_error_info e = {code, kind, msg, 0, NULL};
  em->err_cb(em, spark, &e, em->err_user);
}

/* ---- pending acks and their deadlines ---- */

static void on_timer(uv_timer_t *t);

/* One timer per emitter, set for the earliest deadline. */
static void arm(weft_emitter *em) {
  if (!em->dhead || em->dhead->deadline == UINT64_MAX) {
    uv_timer_stop(em->timer);
    return;
  }
  uint64_t now = uv_now(em->timer->loop);
  uv_timer_start(em->timer, on_timer, em->dhead->deadline > now ? em->dhead->deadline - now : 0, 0);
}

/* Unlinks a pending ack from every index (not freed). */
static void unlink_pending(weft_emitter *em, pending *p) {
  weft__map_del(&em->by_id, p->id);
  if (p->dprev)
    p->dprev->dnext = p->dnext;
  else
    em->dhead = p->dnext;
  if (p->dnext)
    p->dnext->dprev = p->dprev;
  else
    em->dtail = p->dprev;
  target *tg = weft__em_target_of(em, p->target, 0);
  if (tg) {
    if (p->tprev)
      p->tprev->tnext = p->tnext;
    else
      tg->pend = p->tnext;
    if (p->tnext) p->tnext->tprev = p->tprev;
    weft__em_target_maybe_free(em, p->target, tg);
  }
}

static void settle(weft_emitter *em, pending *p, int status, const weft_value *value,
                   int64_t cb_id) {
  weft_ack_cb cb = p->cb;
  void *user = p->user;
  void *t = p->target;
  weft__em_give(em, p);
  weft__ack_settle(em, cb, user, status, value, t, cb_id);
}

static void on_timer(uv_timer_t *t) {
  weft_emitter *em = t->data;
  uint64_t now = uv_now(t->loop);
  while (em->dhead && em->dhead->deadline <= now) {
    pending *p = em->dhead;
    unlink_pending(em, p);
    settle(em, p, WEFT_ETIMEDOUT, NULL, 0);
  }
  arm(em);
}

int weft__em_add_pending(weft_emitter *em, void *t, uint32_t timeout_ms, weft_ack_cb cb, void *user,
                         uint32_t *id_out) {
  target *tg = weft__em_target_of(em, t, 1);
  pending *p = tg ? weft__em_take(em) : NULL;
  if (!p) {
    if (tg) weft__em_target_maybe_free(em, t, tg);
    return WEFT_ENOMEM;
  }
  do { /* ids are per emitter, never 0, and never reused while pending */
    em->next_id = em->next_id == UINT32_MAX ? 1 : em->next_id + 1;
  } while (weft__map_get(&em->by_id, em->next_id));
  p->id = em->next_id;
  if (weft__map_put(&em->by_id, p->id, p)) {
    weft__em_give(em, p);
    weft__em_target_maybe_free(em, t, tg);
    return WEFT_ENOMEM;
  }
  p->target = t;
  p->cb = cb;
  p->user = user;
  p->deadline = timeout_ms ? uv_now(em->timer->loop) + timeout_ms : UINT64_MAX;
  p->tnext = tg->pend;
  if (tg->pend) tg->pend->tprev = p;
  tg->pend = p;
  /* Sorted by deadline; with one timeout for all, new ones go last. */
  pending *after = em->dtail;
  while (after && after->deadline > p->deadline)
    after = after->dprev;
  p->dprev = after;
  p->dnext = after ? after->dnext : em->dhead;
  if (p->dnext)
    p->dnext->dprev = p;
  else
    em->dtail = p;
  if (after)
    after->dnext = p;
  else
    em->dhead = p;
  if (em->dhead == p) arm(em);
  *id_out = p->id;
  return 0;
}

void weft__em_cancel_pending(weft_emitter *em, uint32_t id) {
  pending *p = weft__map_get(&em->by_id, id);
  if (!p) return;
  unlink_pending(em, p);
  weft__em_give(em, p);
  arm(em);
}

/* The target is gone: its acks fail, its replies go dead. */
static void target_gone(weft_emitter *em, void *t) {
  target *tg = weft__em_target_of(em, t, 0);
  if (!tg) return;
  /* Its replies wait for their owners' answers among the orphans. */
  for (weft_reply *r = tg->replies, *n; r; r = n) {
    n = r->next;
    r->target = NULL;
    r->prev = NULL;
    r->next = em->orphans;
    if (em->orphans) em->orphans->prev = r;
    em->orphans = r;
  }
  tg->replies = NULL;
  while ((tg = weft__em_target_of(em, t, 0)) && tg->pend) {
    pending *p = tg->pend;
    unlink_pending(em, p);
    settle(em, p, WEFT_ECLOSED, NULL, 0);
  }
  if (tg) weft__em_target_maybe_free(em, t, tg);
  arm(em);
}

/* ---- sending ---- */

int weft__em_write_to(weft_emitter *em, void *t, const weft_value *msg) {
  return em->server ? weft_spark_write(t, msg) : weft_client_write(t, msg);
}

static int emit_any(weft_emitter *em, weft_spark *to, const char *event, const weft_value *args,
                    uint32_t timeout_ms, weft_ack_cb cb, void *user) {
  int rc;
  if (to) { /* a retained spark that closed has no server any more */
    weft_server *ts = weft_spark_server(to);
    if (!ts) return WEFT_ECLOSED;
    if (ts != em->server) return WEFT_EINVAL;
  }
  void *t = em->server ? (void *)to : (void *)em->client;
  uint32_t id = 0;
  if (cb) {
    rc = weft__em_add_pending(em, t,
                              timeout_ms == WEFT_EMIT_DEFAULT_TIMEOUT ? em->timeout_ms : timeout_ms,
                              cb, user, &id);
    if (rc) return rc;
  }
  weft__ext_event ep;
  rc = weft__ext_event_build(&ep, event, args, id);
  if (rc == 0) {
    rc = weft__em_write_to(em, t, &ep.map);
    weft__ext_event_done(&ep);
  }
  if (rc < 0 && id) { /* not sent: the ack will never come, and cb must not run */
    pending *p = weft__map_get(&em->by_id, id);
    if (p) {
      unlink_pending(em, p);
      weft__em_give(em, p);
      arm(em);
    }
  }
  return rc;
}

int weft__emitter_emit_with(weft_emitter *em, weft_spark *to, const char *event,
                            weft_value *(*args_of)(uint32_t id, void *ctx), void *ctx,
                            weft_ack_cb cb, void *user, uint32_t *id) {
  if (!em || (em->server ? !to || weft_spark_server(to) != em->server : to != NULL))
    return WEFT_EINVAL;
  void *t = em->server ? (void *)to : (void *)em->client;
  *id = 0;
  int rc =
      cb ? weft__em_add_pending(em, t, 0, cb, user, id) : 0; /* answered at the end: no timeout */
  if (rc) return rc;
  weft_value *args = args_of(*id, ctx);
  weft__ext_event ep;
  rc = args ? weft__ext_event_build(&ep, event, args, *id) : WEFT_ENOMEM;
  if (rc == 0) {
    rc = weft__em_write_to(em, t, &ep.map);
    weft__ext_event_done(&ep);
  }
  weft_value_free(args);
  pending *p = rc < 0 && cb ? weft__map_get(&em->by_id, *id) : NULL;
  if (p) { /* not sent: cb must not run */
    unlink_pending(em, p);
    weft__em_give(em, p);
    arm(em);
  }
  return rc;
}

int weft_emitter_emit(weft_emitter *em, weft_spark *to, const char *event, const weft_value *args,
                      uint32_t timeout_ms, weft_ack_cb cb, void *user) {
  if (!em || (em->server ? !to : to != NULL)) return WEFT_EINVAL;
  int rc = weft__ext_event_name_check(event);
  return rc ? rc : emit_any(em, to, event, args, timeout_ms, cb, user);
}

static int room_request(weft_emitter *em, const char *event, const char *room, weft_ack_cb cb,
                        void *user) {
  if (!em || em->server || !room || !weft__ext_name_ok(room, strlen(room))) return WEFT_EINVAL;
  weft_value name, args;
  weft__ext_str(&name, room);
  memset(&args, 0, sizeof(args));
  args.type = WEFT_ARRAY;
  args.len = 1;
  args.u.items = &name;
  return emit_any(em, NULL, event, &args, WEFT_EMIT_DEFAULT_TIMEOUT, cb, user);
}

int weft_emitter_join(weft_emitter *em, const char *room, weft_ack_cb cb, void *user) {
  return room_request(em, "weft::join", room, cb, user);
}

int weft_emitter_leave(weft_emitter *em, const char *room, weft_ack_cb cb, void *user) {
  return room_request(em, "weft::leave", room, cb, user);
}

int weft_emitter_leave_all(weft_emitter *em, weft_ack_cb cb, void *user) {
  if (!em || em->server) return WEFT_EINVAL;
  weft_value args;
  memset(&args, 0, sizeof(args));
  args.type = WEFT_ARRAY;
  return emit_any(em, NULL, "weft::leave_all", &args, WEFT_EMIT_DEFAULT_TIMEOUT, cb, user);
}

int weft_emitter_broadcast(weft_emitter *em, const char *event, const weft_value *args) {
  if (!em || !em->server) return WEFT_EINVAL;
  int rc = weft__ext_event_name_check(event);
  if (rc) return rc;
  weft__ext_event ep;
  if ((rc = weft__ext_event_build(&ep, event, args, 0)) != 0) return rc;
  rc = weft_server_write(em->server, &ep.map);
  weft__ext_event_done(&ep);
  return rc;
}

/* ---- receiving ---- */

static handler *find_handler(weft_emitter *em, const char *name, size_t len) {
  for (handler *h = weft__map_get(&em->handlers, weft__map_hash(name, len)); h; h = h->next)
    if (strcmp(h->name, name) == 0) return h;
  return NULL;
}

static void on_event(weft_emitter *em, weft_spark *spark, void *t, const weft_value *data,
                     int64_t id) {
  const weft_value *first = data->len ? &data->u.items[0] : NULL;
  if (!first || first->type != WEFT_STRING || !weft__ext_name_ok(first->u.str, first->len)) {
    wire_error(em, spark, WEFT_EPARSE, "emitter event without a valid name");
    return;
  }
  const char *name = first->u.str;
  /* The arguments: a view over the rest of the packet's array. */
  weft_value args;
  memset(&args, 0, sizeof(args));
  args.type = WEFT_ARRAY;
  args.len = data->len - 1;
  args.u.items = data->u.items + 1;
  weft_reply *reply = NULL;
  if (id) {
    reply = weft__reply_new(em, t, (uint32_t)id);
    if (!reply) {
      wire_error(em, spark, WEFT_ENOMEM, "no memory for a reply");
      return;
    }
  }
  if (strncmp(name, "weft::", 6) == 0) {
    if (!weft__reserved_dispatch(em->server, em->client, name, spark, &args, reply)) {
      if (reply) weft__reply_reject_str(reply, "unknown reserved event");
      wire_error(em, spark, WEFT_EINVAL, "unknown reserved event");
    }
    return;
  }
  if (weft__ext_reserved_name(name)) {
    if (reply) weft__reply_reject_str(reply, "reserved event name");
    wire_error(em, spark, WEFT_EINVAL, "reserved event name");
    return;
  }
  handler *h = find_handler(em, name, first->len);
  if (!h && em->wildcard.cb) h = &em->wildcard;
  if (!h) {
    if (reply) {
      char why[300];
      snprintf(why, sizeof(why), "no handler for %s", name);
      weft__reply_reject_str(reply, why);
    }
    return;
  }
  weft_event ev = {name, &args, spark, em->client, reply};
  h->cb(&ev, h->user);
}

static void on_ack(weft_emitter *em, weft_spark *spark, void *t, const weft_value *data, int64_t id,
                   int64_t cb_id) {
  pending *p = id > 0 && id <= UINT32_MAX ? weft__map_get(&em->by_id, (uint64_t)id) : NULL;
  if (!p || p->target != t) {
    wire_error(em, spark, WEFT_ENOENT, "ack with an unknown id (or after its timeout)");
    return;
  }
  unlink_pending(em, p);
  arm(em);
  const weft_value *err = data && data->len ? &data->u.items[0] : NULL;
  weft_value null = {.type = WEFT_NULL};
  if (err && err->type != WEFT_NULL)
    settle(em, p, WEFT_EREJECTED, err, 0);
  else
    settle(em, p, 0, data && data->len > 1 ? &data->u.items[1] : &null, cb_id);
}

/* WEFT_PASS for ordinary messages; emitter packets are swallowed. */
static int incoming(weft_emitter *em, weft_spark *spark, void *t, const weft_value *msg) {
  if (weft_value_type(msg) != WEFT_MAP) return WEFT_PASS;
  const weft_value *type = weft_value_map_get(msg, "type", 4);
  const weft_value *data = weft_value_map_get(msg, "data", 4);
  const weft_value *idv = weft_value_map_get(msg, "id", 2);
  /* An answer that carries a callback (weft_reply_resolve_cb): its id. */
  const weft_value *cbv = weft_value_map_get(msg, "cb", 2);
  int64_t kind, id = 0, cb_id = 0;
  if (!type || weft_value_get_int(type, &kind) || (kind != 0 && kind != 1) || (!data && !idv))
    return WEFT_PASS;
  if (idv && (weft_value_get_int(idv, &id) || id <= 0 || id > UINT32_MAX)) {
    wire_error(em, spark, WEFT_EPARSE, "emitter packet with an invalid id");
    return WEFT_SWALLOW;
  }
  if (data && data->type != WEFT_ARRAY) {
    wire_error(em, spark, WEFT_EPARSE, "emitter packet whose data is not an array");
    return WEFT_SWALLOW;
  }
  if (kind == 0 && !data) {
    wire_error(em, spark, WEFT_EPARSE, "emitter event without data");
    return WEFT_SWALLOW;
  }
  if (cbv && (weft_value_get_int(cbv, &cb_id) || cb_id <= 0 || cb_id > UINT32_MAX)) {
    wire_error(em, spark, WEFT_EPARSE, "emitter packet with an invalid callback id");
    return WEFT_SWALLOW;
  }
  if (kind == 1 && !idv) {
    wire_error(em, spark, WEFT_EPARSE, "emitter ack without an id");
    return WEFT_SWALLOW;
  }
  if (kind == 0)
    on_event(em, spark, t, data, id);
  else
    on_ack(em, spark, t, data, id, cb_id);
  return WEFT_SWALLOW;
}

/* ---- plugin hooks ---- */

static int srv_incoming(weft_spark *spark, const weft_value *msg, weft_value **rep, void *user) {
  (void)rep;
  return incoming(user, spark, spark, msg);
}

static int cli_incoming(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)rep;
  return incoming(user, NULL, c, msg);
}

static void srv_disconnection(weft_spark *spark, void *user) { target_gone(user, spark); }
static void cli_close(weft_client *c, void *user) { target_gone(user, c); }

static void free_timer(uv_handle_t *h) { free(h); }

static void destroy(void *user) {
  weft_emitter *em = user;
  weft__route_free(em->route);
  /* Every target is gone by now (disconnections, the client's close); what
   * is left is memory only. */
  for (size_t i = 0; i < em->targets.cap; i++) {
    target *tg = em->targets.slots[i].val;
    if (!em->targets.slots[i].key) continue;
    for (weft_reply *r = tg->replies; r; r = r->next)
      r->em = NULL; /* still its owner's: answering it frees it */
    for (pending *p = tg->pend, *n; p; p = n) {
      n = p->tnext;
      free(p);
    }
    free(tg);
  }
  for (weft_reply *r = em->orphans; r; r = r->next)
    r->em = NULL;
  weft__map_free(&em->targets);
  weft__map_free(&em->by_id);
  for (size_t i = 0; i < em->handlers.cap; i++) {
    if (!em->handlers.slots[i].key) continue;
    for (handler *h = em->handlers.slots[i].val, *n; h; h = n) {
      n = h->next;
      if (h->user_free) h->user_free(h->user);
      free(h->name);
      free(h);
    }
  }
  weft__map_free(&em->handlers);
  if (em->wildcard.user_free) em->wildcard.user_free(em->wildcard.user);
  if (em->err_free) em->err_free(em->err_user);
  for (recycled *r = em->free_list, *n; r; r = n) {
    n = r->next;
    free(r);
  }
  if (em->timer) uv_close((uv_handle_t *)em->timer, free_timer);
  free(em);
}

static const weft_plugin_ops emitter_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = WEFT__EMITTER_PLUGIN,
    .disconnection = srv_disconnection,
    .incoming = srv_incoming,
    .destroy = destroy,
    .client_close = cli_close,
    .client_incoming = cli_incoming,
    .incoming_types = WEFT_PLUGIN_TYPE(WEFT_MAP), /* its packets are maps */
};

static weft_emitter *emitter_new(weft_loop *loop) {
  weft_emitter *em = calloc(1, sizeof(*em));
  if (!em) return NULL;
  em->loop = loop;
  em->timeout_ms = 10000;
  em->timer = malloc(sizeof(*em->timer));
  if (!em->timer || uv_timer_init(weft_loop_uv(loop), em->timer) != 0) {
    free(em->timer);
    free(em);
    return NULL;
  }
  em->timer->data = em;
  /* Pending acks alone do not keep a loop running: the connections do. */
  uv_unref((uv_handle_t *)em->timer);
  return em;
}

int weft_emitter_server(weft_server *server, weft_emitter **out) {
  if (!server || !out) return WEFT_EINVAL;
  *out = NULL;
  weft_emitter *em = emitter_new(weft_server_loop(server));
  if (!em) return WEFT_ENOMEM;
  em->server = server;
  int rc = weft_server_use(server, &emitter_ops, em); /* frees em on error */
  if (rc == 0) rc = weft__route_attach(server, &em->route);
  if (rc == 0) *out = em;
  return rc;
}

int weft_emitter_client(weft_client *client, weft_emitter **out) {
  if (!client || !out) return WEFT_EINVAL;
  *out = NULL;
  weft_emitter *em = emitter_new(weft_client_loop(client));
  if (!em) return WEFT_ENOMEM;
  em->client = client;
  int rc = weft_client_use(client, &emitter_ops, em);
  if (rc == 0) *out = em;
  return rc;
}

weft__route *weft__emitter_route(weft_emitter *em) { return em ? em->route : NULL; }
weft_client *weft__emitter_client(weft_emitter *em) { return em ? em->client : NULL; }

weft_emitter *weft_emitter_of_server(weft_server *server) {
  return weft_server_plugin(server, WEFT__EMITTER_PLUGIN);
}

weft_emitter *weft_emitter_of_client(weft_client *client) {
  return weft_client_plugin(client, WEFT__EMITTER_PLUGIN);
}

int weft_emitter_on(weft_emitter *em, const char *event, weft_event_cb cb, void *user,
                    void (*free_user)(void *)) {
  if (!em || !event || (!cb && free_user)) return WEFT_EINVAL;
  size_t len = strlen(event);
  if (!weft__ext_name_ok(event, len)) return WEFT_EINVAL;
  if (strcmp(event, "*") == 0) {
    em->wildcard.cb = cb;
    weft__ext_set_user(&em->wildcard.user, &em->wildcard.user_free, user, free_user);
    return 0;
  }
  uint64_t hash = weft__map_hash(event, len);
  handler *h = find_handler(em, event, len);
  if (h && cb) {
    h->cb = cb;
    weft__ext_set_user(&h->user, &h->user_free, user, free_user);
  } else if (h) { /* removal */
    if (h->user_free) h->user_free(h->user);
    handler *head = weft__map_get(&em->handlers, hash), **pp = &head;
    while (*pp != h)
      pp = &(*pp)->next;
    *pp = h->next;
    if (head)
      weft__map_put(&em->handlers, hash, head); /* a replace never grows */
    else
      weft__map_del(&em->handlers, hash);
    free(h->name);
    free(h);
  } else if (cb) {
    h = calloc(1, sizeof(*h));
    char *name = h ? malloc(len + 1) : NULL;
    if (!name) {
      free(h);
      return WEFT_ENOMEM;
    }
    memcpy(name, event, len + 1);
    *h = (handler){hash, name, cb, user, free_user, weft__map_get(&em->handlers, hash)};
    if (weft__map_put(&em->handlers, hash, h)) {
      free(name);
      free(h);
      return WEFT_ENOMEM;
    }
  }
  return 0;
}

int weft_emitter_on_error(weft_emitter *em, weft_emitter_error_cb cb, void *user,
                          void (*free_user)(void *)) {
  if (!em || (!cb && free_user)) return WEFT_EINVAL;
  em->err_cb = cb;
  weft__ext_set_user(&em->err_user, &em->err_free, user, free_user);
  return 0;
}

int weft_emitter_set_timeout(weft_emitter *em, uint32_t ms) {
  if (!em || ms == WEFT_EMIT_DEFAULT_TIMEOUT) return WEFT_EINVAL;
  em->timeout_ms = ms;
  return 0;
}
