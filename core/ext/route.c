/*
 * Routing a client asks for (fast-tcp's broadcast, to rooms, to sockets):
 * the reserved event "weft::route" [target, event, args…], target
 * {"broadcast": true} or {"rooms": [names]} or {"sockets": [ids]}, and
 * "self": true for the sender to get it too. On by default, as in
 * fast-tcp; the server's policy (weft_emitter_set_route_policy) may refuse
 * or rewrite it. The recipients get the event once, encoded once
 * (weft_server_send_event). A client asks with weft_emitter_route().
 */
#include <stdlib.h>
#include <string.h>

#include "ext_internal.h"
#include "weft/options.h"

struct weft__route {
  weft_route_policy_cb cb;
  void *user;
  void (*free_user)(void *);
};

/* The strings of a list (at most `cap`); -1 when one is not a string. */
static int names_of(const weft_value *list, const char **out, size_t cap) {
  size_t n = weft_value_len(list);
  if (n > cap) return -1;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    if (weft_value_get_string(weft_value_array_at(list, i), &out[i], &len)) return -1;
  }
  return (int)n;
}

static void refuse(weft_reply *reply, int rc, const char *why) {
  if (!reply) return;
  weft_value v;
  weft__ext_str(&v, why ? why : weft_strerror(rc));
  weft_reply_reject(reply, &v);
}

int weft__route_target(const weft_value *target, weft__route_names *names, weft_route *r) {
  int nr = names_of(weft_value_map_get(target, "rooms", 5), names->rooms, WEFT__ROUTE_NAMES_MAX);
  int ni = names_of(weft_value_map_get(target, "sockets", 7), names->ids, WEFT__ROUTE_NAMES_MAX);
  int b = 0, self = 0;
  weft_value_get_bool(weft_value_map_get(target, "broadcast", 9), &b);
  weft_value_get_bool(weft_value_map_get(target, "self", 4), &self);
  if (weft_value_type(target) != WEFT_MAP || nr < 0 || ni < 0 || (!b && !nr && !ni))
    return WEFT_EINVAL;
  r->size = sizeof(*r);
  r->broadcast = b;
  r->rooms = names->rooms;
  r->n_rooms = (size_t)nr;
  r->ids = names->ids;
  r->n_ids = (size_t)ni;
  r->with_sender = self;
  return 0;
}

int weft__route_decide(weft_spark *sender, weft_route *r, weft_recipients *to) {
  weft_emitter *em = weft_emitter_of_server(weft_spark_server(sender));
  weft__route *rt = em ? weft__emitter_route(em) : NULL;
  int rc = rt && rt->cb ? rt->cb(sender, r, rt->user) : 0;
  if (rc < 0) return rc;
  /* The sender is left out of a broadcast and of rooms (as fast-tcp) unless
   * it asked to be in; ids are taken as named. to->except is the caller's
   * one slot, holding the sender's id. */
  to->size = sizeof(*to);
  to->n_except = r->with_sender ? 0 : 1;
  to->rooms = to->ids = NULL;
  to->n_rooms = to->n_ids = 0;
  if (!r->broadcast) {
    to->rooms = r->rooms;
    to->n_rooms = r->n_rooms;
    to->ids = r->ids;
    to->n_ids = r->n_ids;
    if (!r->n_rooms) to->n_except = 0;
  }
  return 0;
}

static void on_route(weft_spark *spark, const weft_value *args, weft_reply *reply, void *user) {
  (void)user;
  const weft_value *target = weft_value_array_at(args, 0);
  const char *event = NULL;
  size_t elen;
  if (weft_value_type(target) != WEFT_MAP ||
      weft_value_get_string(weft_value_array_at(args, 1), &event, &elen) ||
      weft__ext_event_name_check(event)) {
    refuse(reply, WEFT_EINVAL, "a route is [target, event, args...] with a valid event name");
    return;
  }
  weft__route_names names;
  weft_route r;
  if (weft__route_target(target, &names, &r)) {
    refuse(reply, WEFT_EINVAL, "a route names rooms or sockets (at most 256), or broadcasts");
    return;
  }
  weft_value rest;
  memset(&rest, 0, sizeof(rest));
  rest.type = WEFT_ARRAY;
  rest.len = args->len - 2;
  rest.u.items = args->u.items + 2;
  r.event = event;
  r.args = &rest;
  const char *except[1] = {weft_spark_id(spark)};
  weft_recipients to = {.except = except};
  int rc = weft__route_decide(spark, &r, &to);
  if (rc < 0) {
    refuse(reply, rc, "route refused by the server's policy");
    return;
  }
  rc = weft_server_send_event(weft_spark_server(spark), &to, r.event, r.args);
  if (!reply) return;
  if (rc < 0) {
    refuse(reply, rc, NULL);
    return;
  }
  weft_value n;
  weft__ext_int(&n, rc);
  weft_reply_resolve(reply, &n);
}

int weft__route_attach(weft_server *s, weft__route **out) {
  *out = calloc(1, sizeof(**out));
  if (!*out) return WEFT_ENOMEM;
  int rc = weft__reserved_on(s, "weft::route", on_route, *out);
  if (rc) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

void weft__route_free(weft__route *rt) {
  if (!rt) return;
  if (rt->free_user) rt->free_user(rt->user);
  free(rt);
}

int weft__route_set_policy(weft__route *rt, weft_route_policy_cb cb, void *user,
                           void (*free_user)(void *)) {
  if (!rt || (!cb && free_user)) return WEFT_EINVAL;
  weft__ext_set_user(&rt->user, &rt->free_user, user, free_user);
  rt->cb = cb;
  return 0;
}

/* ---- the client's side ---- */

static int list_of(weft_value *map, const char *key, const char *const *names, size_t n) {
  if (!n) return 0;
  weft_value *arr = weft_value_new_array();
  if (!arr) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (!names[i] || !weft__ext_name_ok(names[i], strlen(names[i]))) {
      weft_value_free(arr);
      return WEFT_EINVAL;
    }
    if (weft_value_array_push(arr, weft_value_new_string(names[i], strlen(names[i])))) {
      weft_value_free(arr);
      return WEFT_ENOMEM;
    }
  }
  return weft_value_map_add(map, key, strlen(key), arr);
}

int weft__route_packet(const weft_route *r, weft_value **out) {
  *out = NULL;
  if (!r || r->size < sizeof(*r) || weft__ext_event_name_check(r->event) ||
      (r->args && r->args->type != WEFT_ARRAY) || (!r->broadcast && !r->n_rooms && !r->n_ids) ||
      (r->n_rooms && !r->rooms) || (r->n_ids && !r->ids))
    return WEFT_EINVAL;
  weft_value *target = weft_value_new_map(), *args = weft_value_new_array();
  int rc = target && args ? 0 : WEFT_ENOMEM;
  if (rc == 0 && r->broadcast)
    rc = weft_value_map_add(target, "broadcast", 9, weft_value_new_bool(1));
  if (rc == 0 && !r->broadcast) rc = list_of(target, "rooms", r->rooms, r->n_rooms);
  if (rc == 0 && !r->broadcast) rc = list_of(target, "sockets", r->ids, r->n_ids);
  if (rc == 0 && r->with_sender) rc = weft_value_map_add(target, "self", 4, weft_value_new_bool(1));
  if (rc == 0)
    rc = weft_value_array_push(args, target);
  else
    weft_value_free(target);
  target = NULL;
  if (rc == 0) rc = weft_value_array_push(args, weft_value_new_string(r->event, strlen(r->event)));
  for (size_t i = 0; rc == 0 && r->args && i < r->args->len; i++)
    rc = weft_value_array_push(args, weft_value_dup(&r->args->u.items[i]));
  weft__ext_event ep;
  if (rc == 0 && (rc = weft__ext_event_build(&ep, "weft::route", args, 0)) == 0) {
    *out = weft_value_dup(&ep.map);
    weft__ext_event_done(&ep);
    if (!*out) rc = WEFT_ENOMEM;
  }
  weft_value_free(args);
  return rc;
}

int weft_emitter_set_route_policy(weft_emitter *em, weft_route_policy_cb cb, void *user,
                                  void (*free_user)(void *)) {
  weft__route *rt = weft__emitter_route(em);
  return rt ? weft__route_set_policy(rt, cb, user, free_user) : WEFT_EINVAL;
}

int weft_emitter_route(weft_emitter *em, const weft_route *r) {
  weft_client *c = weft__emitter_client(em);
  if (!c) return WEFT_EINVAL;
  weft_value *packet;
  int rc = weft__route_packet(r, &packet);
  if (rc) return rc;
  rc = weft_client_write(c, packet);
  weft_value_free(packet);
  return rc;
}
