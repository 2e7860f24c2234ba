/*
 * One message to a selection of sparks (weft/options.h): everyone, room
 * members, sparks by id, minus some ids. The selection is resolved here
 * once for every host; the writes go through the Primus layer's write and
 * write_to, which encode once and run outgoing transforms per spark.
 */
#include <stdlib.h>
#include <string.h>

#include "ext_internal.h"
#include "weft/adapter.h"
#include "weft/options.h"

#define LISTS_END (offsetof(weft_recipients, n_except) + sizeof(size_t))

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

static int list_ok(const char *const *l, size_t n) {
  if (n && !l) return 0;
  for (size_t i = 0; i < n; i++)
    if (!l[i]) return 0;
  return 1;
}

/* The except list sorted, for bsearch (NULL when empty). */
static const char **sorted(const weft_recipients *to, int *rc) {
  *rc = 0;
  if (!to || !to->n_except) return NULL;
  const char **ex = malloc(to->n_except * sizeof(*ex));
  if (!ex) {
    *rc = WEFT_ENOMEM;
    return NULL;
  }
  memcpy(ex, to->except, to->n_except * sizeof(*ex));
  qsort(ex, to->n_except, sizeof(*ex), cmp_str);
  return ex;
}

static int excepted(const char **ex, size_t n, const weft_spark *sp) {
  const char *id = weft_spark_id(sp);
  return ex && bsearch(&id, ex, n, sizeof(*ex), cmp_str) != NULL;
}

typedef struct picked {
  weft_spark **v;
  size_t n, cap;
} picked;

static int pick(picked *p, weft_spark *sp) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    weft_spark **v = realloc(p->v, cap * sizeof(*v));
    if (!v) return WEFT_ENOMEM;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = sp;
  return 0;
}

static int pick_open(weft_spark *sp, void *user) { return pick(user, sp); }

/* Every spark the selection names, once each, before `except`. */
static int gather(weft_server *s, const weft_recipients *to, picked *p) {
  int rc = 0;
  if (!to->n_rooms && !to->n_ids) return weft_server_foreach(s, pick_open, p);
  weft_rooms *rs = to->n_rooms ? weft_rooms_of_server(s) : NULL;
  if (to->n_rooms && !rs) return WEFT_ESTATE;
  for (size_t r = 0; r < to->n_rooms && rc == 0; r++) {
    int n = weft_rooms_member_count(rs, to->rooms[r]);
    if (n < 0) return n; /* an invalid name */
    for (int i = 0; i < n && rc == 0; i++) {
      weft_spark *sp = weft_rooms_member_at(rs, to->rooms[r], (size_t)i);
      if (sp) rc = pick(p, sp);
    }
  }
  for (size_t i = 0; i < to->n_ids && rc == 0; i++) {
    weft_spark *sp = weft_server_spark(s, to->ids[i]);
    if (sp) rc = pick(p, sp);
  }
  if (rc == 0 && p->n > 1) { /* once each */
    qsort(p->v, p->n, sizeof(*p->v), cmp_ptr);
    size_t k = 1;
    for (size_t i = 1; i < p->n; i++)
      if (p->v[i] != p->v[k - 1]) p->v[k++] = p->v[i];
    p->n = k;
  }
  return rc;
}

/* The local sparks `to` names, minus `except`, once each, into p. */
static int select_local(weft_server *s, const weft_recipients *to, picked *p) {
  int rc;
  const char **ex = sorted(to, &rc);
  if (rc) return rc;
  rc = gather(s, to, p);
  if (rc == 0) {
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
      if (!excepted(ex, to->n_except, p->v[i])) p->v[k++] = p->v[i];
    p->n = k;
  }
  free(ex);
  return rc;
}

int weft__server_select(weft_server *s, const weft_recipients *to, weft_spark ***out, size_t *n) {
  picked p = {0};
  int rc = select_local(s, to, &p);
  if (rc) {
    free(p.v);
    p.v = NULL;
    p.n = 0;
  }
  *out = p.v;
  *n = p.n;
  return rc;
}

static int everyone(const weft_recipients *to) {
  return !to || (!to->n_rooms && !to->n_ids && !to->n_except);
}

/* Local delivery of an encoded message (no transforms, never published). */
static int deliver_payload(weft_server *s, const weft_recipients *to, weft__payload *pl,
                           const weft_value *msg) {
  if (everyone(to)) return weft__server_broadcast_payload(s, pl, msg);
  picked p = {0};
  int rc = select_local(s, to, &p);
  if (rc == 0) rc = weft__server_payload_to(s, pl, msg, p.v, p.n);
  free(p.v);
  return rc;
}

static int check(weft_server *s, const weft_recipients *to) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || (to && to->size < LISTS_END)) return WEFT_EINVAL;
  if (to && (!list_ok(to->rooms, to->n_rooms) || !list_ok(to->ids, to->n_ids) ||
             !list_ok(to->except, to->n_except)))
    return WEFT_EINVAL;
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  return 0;
}

int weft_server_send(weft_server *s, const weft_recipients *to, const weft_value *msg) {
  int rc = msg ? check(s, to) : weft__server_gone(s) ? WEFT_ECLOSED : WEFT_EINVAL;
  if (rc) return rc;
  if (everyone(to)) return weft_server_write(s, msg); /* publishes itself */
  if (s->adapter && !s->has_outgoing) {               /* encoded once: here and for the others */
    weft__payload *pl;
    if ((rc = weft__server_encode(s, msg, &pl))) return rc;
    rc = deliver_payload(s, to, pl, msg);
    if (rc >= 0) weft__server_publish(s, to, pl);
    weft__payload_release(pl);
    return rc;
  }
  if (to->n_rooms && !to->n_ids && !s->adapter) { /* the rooms extension resolves it itself */
    weft_rooms *rs = weft_rooms_of_server(s);
    if (!rs) return WEFT_ESTATE;
    return weft_rooms_write(rs, to->rooms, to->n_rooms, to->except, to->n_except, msg);
  }
  picked p = {0};
  rc = select_local(s, to, &p);
  if (rc == 0) rc = weft_server_write_to(s, msg, p.v, p.n);
  free(p.v);
  if (rc >= 0 && (s->adapter || s->rs_detached)) weft__server_publish_value(s, to, msg);
  return rc;
}

int weft_server_deliver(weft_server *s, const weft_recipients *to, const void *data, size_t len,
                        int binary) {
  int rc = data || !len ? check(s, to) : weft__server_gone(s) ? WEFT_ECLOSED : WEFT_EINVAL;
  if (rc) return rc;
  if (to && to->n_rooms && !weft_rooms_of_server(s)) return WEFT_ESTATE;
  weft__payload *pl;
  if ((rc = weft__payload_message(data, len, binary, &pl))) return rc;
  rc = deliver_payload(s, to, pl, NULL);
  if (rc >= 0 && s->rs_detached) weft__rs_capture(s, to, pl); /* never published again */
  weft__payload_release(pl);
  return rc;
}

int weft_server_send_event(weft_server *s, const weft_recipients *to, const char *event,
                           const weft_value *args) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !event) return WEFT_EINVAL;
  if (!weft_emitter_of_server(s)) return WEFT_ESTATE;
  weft_value *packet;
  int rc = weft_emitter_packet(event, args, &packet);
  if (rc) return rc;
  rc = weft_server_send(s, to, packet);
  weft_value_free(packet);
  return rc;
}
