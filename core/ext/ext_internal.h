/* Shared between the extensions: the reserved events the emitter
 * dispatches to whoever registered them (reserved.c), and packets built as
 * borrowed views over existing values (no copies, no mallocs per
 * message). */
#ifndef WEFT_EXT_INTERNAL_H
#define WEFT_EXT_INTERNAL_H

#include "base/value_internal.h"
#include "primus/primus.h"
#include "weft/ext.h"
#include "weft/options.h"

#define WEFT__EMITTER_PLUGIN "weft.emitter"
#define WEFT__ROOMS_PLUGIN "weft.rooms"
#define WEFT__NAME_MAX 255

/* Replaces a registration's user, freeing the old one (unless the same). */
static inline void weft__ext_set_user(void **slot, void (**free_slot)(void *), void *user,
                                      void (*free_user)(void *)) {
  if (*free_slot && *slot != user) (*free_slot)(*slot);
  *slot = user;
  *free_slot = free_user;
}

/* A node that borrows `v`'s payload: freeing it never frees anything. */
static inline weft_value weft__value_view(const weft_value *v) {
  weft_value n = *v;
  n.flags &= WEFT__VF_PLAIN;
  return n;
}

/* Borrowed nodes built on the stack: packets cost no allocation. */
static inline void weft__ext_str(weft_value *n, const char *s) {
  memset(n, 0, sizeof(*n));
  n->type = WEFT_STRING;
  n->len = strlen(s);
  n->u.str = s;
}

static inline void weft__ext_int(weft_value *n, int64_t i) {
  memset(n, 0, sizeof(*n));
  n->type = WEFT_INT;
  n->u.i = i;
}

/* A map over `n` key/value pairs laid out in kv[0..2n). */
static inline void weft__ext_map(weft_value *map, weft_value *kv, size_t n) {
  memset(map, 0, sizeof(*map));
  map->type = WEFT_MAP;
  map->len = n;
  map->u.items = kv;
}

/* packet.c */
/* Is s[0..len) a valid name: 1..255 bytes, UTF-8, no NUL. */
int weft__ext_name_ok(const char *s, size_t len);
/* Names an application may not emit: Primus's own events, "weft::…". */
int weft__ext_reserved_name(const char *name);
/* 0 for a name an application may emit, else WEFT_EINVAL. */
int weft__ext_event_name_check(const char *event);
/* {"type": t, "data": data, "id": id} over borrowed nodes (id 0: none). */
void weft__ext_packet_map(weft_value *map, weft_value kv[6], int type, weft_value *data,
                          uint32_t id);
/* An event packet over borrowed nodes: `map` is the packet. */
typedef struct weft__ext_event {
  weft_value map, kv[6], data;
  weft_value small[9]; /* name + up to 8 arguments without a malloc */
  weft_value *items;
} weft__ext_event;
int weft__ext_event_build(weft__ext_event *ep, const char *event, const weft_value *args,
                          uint32_t id);
void weft__ext_event_done(weft__ext_event *ep);

/* reserved.c: a handler of a reserved event ("weft::join"); it answers
 * through `reply` (NULL when the sender asked for no answer). */
typedef void (*weft__reserved_cb)(weft_spark *spark, const weft_value *args, weft_reply *reply,
                                  void *user);
/* Registers `name` (a literal that outlives the server) on the server,
 * before it listens. Errors: those of weft_server_use(), WEFT_ENOMEM. */
int weft__reserved_on(weft_server *s, const char *name, weft__reserved_cb cb, void *user);
/* The same on a client (before it opens); its handlers get a NULL spark. */
int weft__reserved_on_client(weft_client *c, const char *name, weft__reserved_cb cb, void *user);
/* Runs the handler of `name` (of the server s, or else of the client c);
 * 0 when none is registered. */
int weft__reserved_dispatch(weft_server *s, weft_client *c, const char *name, weft_spark *spark,
                            const weft_value *args, weft_reply *reply);

/* route.c: client-originated routing ("weft::route"), on a server's
 * emitter; emitter.c holds it. */
typedef struct weft__route weft__route;
int weft__route_attach(weft_server *s, weft__route **out);
void weft__route_free(weft__route *rt);
int weft__route_set_policy(weft__route *rt, weft_route_policy_cb cb, void *user,
                           void (*free_user)(void *));
/* The packet a client writes to ask for a route (owned by the caller). */
int weft__route_packet(const weft_route *r, weft_value **out);
weft__route *weft__emitter_route(weft_emitter *em);
/* A route's target {"broadcast"|"rooms"|"sockets", "self"?} into r's
 * flags and lists (pointing into names); WEFT_EINVAL when malformed. */
#define WEFT__ROUTE_NAMES_MAX 256
typedef struct weft__route_names {
  const char *rooms[WEFT__ROUTE_NAMES_MAX], *ids[WEFT__ROUTE_NAMES_MAX];
} weft__route_names;
int weft__route_target(const weft_value *target, weft__route_names *names, weft_route *r);
/* The server's route policy on r (which it may rewrite), then the
 * recipients: to->except must point at one slot holding the sender's id.
 * Returns 0, or the policy's refusal (negative). */
int weft__route_decide(weft_spark *sender, weft_route *r, weft_recipients *to);
/* send.c: the local sparks `to` names, once each, minus its except list
 * (*out malloc'd, the caller frees it). */
int weft__server_select(weft_server *s, const weft_recipients *to, weft_spark ***out, size_t *n);
/* relay.c: a stream a client routes (fast-tcp's streams to sockets, rooms
 * or everyone but the sender): relayed to each recipient as a stream of
 * the server's, under each one's credit (the slowest pauses the sender). */
int weft__relay_open(weft_stream *in, weft_spark *sender, const char *event, const weft_value *info,
                     const weft_value *target);
/* A reserved event whose arguments need its ack's id (streams; `to` NULL
 * on a client's emitter):
 * with cb, *id is the ack's (else 0) and args_of(*id, ctx) builds the
 * arguments (owned, freed here). The ack has no timeout (a stream's comes
 * at its end, however long it takes; the connection's loss settles it).
 * Returns as weft_emitter_emit. */
int weft__emitter_emit_with(weft_emitter *em, weft_spark *to, const char *event,
                            weft_value *(*args_of)(uint32_t id, void *ctx), void *ctx,
                            weft_ack_cb cb, void *user, uint32_t *id);
weft_client *weft__emitter_client(weft_emitter *em);

#endif
