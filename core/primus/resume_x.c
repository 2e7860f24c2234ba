/*
 * Connection-state recovery across the nodes of a cluster (decision #24).
 * The owner of a detached session parks it through the adapter's hooks
 * (its header and ring, then every message it keeps); a node where the
 * client comes back holds the upgrade, claims the session through the
 * hooks, keeps what it sends and delivers meanwhile (tagged with origin
 * node and publish sequence), and on the owner's answer builds the ring:
 * the owner's entries, then its own kept messages past the owner's marks.
 */
#include <stdlib.h>
#include <string.h>

#include "resume.h"
#include "runtime/log.h"

#define CLAIM_DEADLINE 2000 /* ms for the owner to answer */

const char *weft__rs_id(const weft__rs *r) { return r->id; }
const char *weft__rs_token(const weft__rs *r) { return r->token; }
uint64_t weft__rs_base(const weft__rs *r) { return r->sent - r->len; }
uint32_t weft__rs_len(const weft__rs *r) { return r->len; }

size_t weft__rs_room_list(const weft__rs *r, const char *const **names) {
  *names = (const char *const *)r->rooms;
  return r->n_rooms;
}

const weft__payload *weft__rs_at(const weft__rs *r, uint32_t i) {
  return i < r->len ? r->ring[(r->head + i) % r->cap] : NULL;
}

static void deadline_closed(uv_handle_t *h) { free(h); }

/* The claim is over: off the detached list, the spark let go of. */
static weft_spark *unhold(weft__rs *r) {
  weft_spark *c = r->spark;
  weft_server *s = r->server;
  for (weft__rs **pp = &s->rs_detached; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  if (r->deadline) uv_close((uv_handle_t *)r->deadline, deadline_closed);
  r->deadline = NULL;
  r->pending = 0;
  r->spark = NULL;
  int open = c->state == WEFT__SP_NEW && c->server && s->state == WEFT__SRV_LISTENING;
  weft_spark_release(c);
  return open ? c : NULL;
}

void weft__rs_pending_end(weft__rs *r) {
  weft_spark *c = unhold(r);
  if (c) c->conn.tran->listener.reject(&c->conn, 503, NULL);
  weft__rs_free(r);
}

/* A fresh spark: the query's resume is not found here (recovered 0). */
static void fresh(weft__rs *r, const char *why) {
  weft_spark *c = unhold(r);
  if (c && weft__log_on(c->server->loop, WEFT_LOG_INFO))
    weft__log(c->server->loop, WEFT_LOG_INFO, "connection", c->server, NULL, NULL, NULL,
              "recovery from another node refused (%s): a fresh spark", why);
  weft__rs_free(r);
  if (c) c->conn.tran->listener.accept(&c->conn);
}

static void deadline_fired(uv_timer_t *t) { fresh(t->data, "the owner did not answer"); }

int weft__rs_hold(weft_spark *c) {
  weft_server *s = c->server;
  const char *q = s->rs_window && s->rs_hooks ? weft_spark_query(c, "weft_rs") : NULL;
  size_t idlen, toklen;
  const char *tok;
  uint64_t count;
  if (!q || weft__rs_parse(q, &idlen, &tok, &toklen, &count) || toklen >= sizeof(c->rs->token))
    return 0;
  weft__rs *r = calloc(1, sizeof(*r));
  if (!r) return 0;
  memcpy(r->id, q, idlen);
  memcpy(r->token, tok, toklen);
  r->replay = count;
  /* Kept here, claimed already, or open here: the local path answers. */
  for (weft__rs *d = s->rs_detached; d; d = d->next)
    if (strcmp(d->id, r->id) == 0) return free(r), 0;
  if (weft_server_spark(s, r->id) || weft_spark_retain(c)) return free(r), 0;
  r->spark = c;
  r->server = s;
  r->pending = 1;
  r->deadline = malloc(sizeof(*r->deadline));
  if (!r->deadline || uv_timer_init(s->loop->uv, r->deadline)) {
    free(r->deadline);
    r->deadline = NULL;
    weft_spark_release(c);
    return free(r), 0;
  }
  r->deadline->data = r;
  uv_timer_start(r->deadline, deadline_fired, CLAIM_DEADLINE, 0);
  r->next = s->rs_detached; /* keeps from now on (rooms once known) */
  s->rs_detached = r;
  if (s->rs_hooks->claim(s->rs_hooks->user, r)) fresh(r, "the cluster is away");
  return 1;
}

weft__rs *weft__rs_pending(weft_server *s, const char *id) {
  for (weft__rs *r = s->rs_detached; r; r = r->next)
    if (r->pending && strcmp(r->id, id) == 0) return r;
  return NULL;
}

int weft__rs_pending_rooms(weft__rs *r, char *const *rooms, size_t n, uint64_t base) {
  r->sent = base;
  if (!n) return 0;
  if (!(r->rooms = calloc(n, sizeof(*r->rooms)))) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++, r->n_rooms++)
    if (!(r->rooms[i] = strdup(rooms[i]))) return WEFT_ENOMEM;
  return 0;
}

void weft__rs_pending_keep(weft_server *s, weft__rs *r, weft__payload *p) {
  if (r->overflow) return;
  if (r->nbuf == r->capbuf) {
    uint32_t cap = r->capbuf ? r->capbuf * 2 : 16;
    weft__payload **b = cap <= 2 * s->rs_max ? realloc(r->buf, cap * sizeof(*b)) : NULL;
    if (b) r->buf = b;
    weft__rs_tag *t = b ? realloc(r->tags, cap * sizeof(*t)) : NULL;
    if (t) r->tags = t;
    if (!b || !t) {
      r->overflow = 1;
      return;
    }
    r->capbuf = cap;
  }
  weft__rs_tag *t = &r->tags[r->nbuf];
  memset(t->node, 0, sizeof(t->node));
  if (s->rs_from) memcpy(t->node, s->rs_from, sizeof(t->node));
  t->seq = s->rs_seq;
  p->refs++;
  r->buf[r->nbuf++] = p;
}

/* A message this node kept is the owner's already when the owner had
 * seen its origin's sequence. */
static int seen(const weft__rs_tag *t, const weft__rs_mark *m, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(m[i].node, t->node, sizeof(t->node)) == 0) return t->seq <= m[i].seq;
  return 0;
}

void weft__rs_claimed(weft__rs *r, int ok, const weft__rs_entry *e, size_t n,
                      const weft__rs_mark *marks, size_t n_marks) {
  weft_server *s = r->server;
  if (!ok || r->overflow) return fresh(r, ok ? "too many messages" : "not found");
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    weft__payload *p;
    if (e[i].len < 1 ||
        (rc = weft__payload_message(e[i].data + 1, e[i].len - 1, e[i].data[0] == 1, &p)))
      rc = rc ? rc : WEFT_EPARSE;
    else {
      rc = weft__rs_ring_push(r, s->rs_max, p, 0);
      weft__payload_release(p);
    }
  }
  for (uint32_t i = 0; i < r->nbuf && rc == 0; i++)
    if (!seen(&r->tags[i], marks, n_marks)) rc = weft__rs_ring_push(r, s->rs_max, r->buf[i], 0);
  /* The count: not in the future, not before what the ring holds. */
  if (rc || r->replay > r->sent || r->sent - r->replay > r->len || weft__rs_new_token(s, r->token))
    return fresh(r, rc ? "its messages could not be kept" : "count out of range");
  for (uint32_t i = 0; i < r->nbuf; i++)
    weft__payload_release(r->buf[i]);
  r->nbuf = 0;
  weft_spark *c = unhold(r);
  if (!c) return weft__rs_free(r);
  r->recovered = 1;
  c->rs = r;
  c->conn.tran->listener.accept(&c->conn);
}

weft__rs *weft__rs_handover(weft_server *s, const char *id) {
  for (weft__rs **pp = &s->rs_detached; *pp; pp = &(*pp)->next) {
    weft__rs *r = *pp;
    if (r->pending || strcmp(r->id, id) != 0) continue;
    *pp = r->next;
    if (r->parked && !r->lossy && r->expires > uv_now(s->loop->uv)) return r;
    weft__rs_free(r);
    return NULL;
  }
  return NULL;
}

void weft__rs_release(weft__rs *r) { weft__rs_free(r); }
