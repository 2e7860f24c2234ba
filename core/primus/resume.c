/*
 * Connection-state recovery on the server (decision #23). A spark whose
 * client asked (query weft_rs) has a session: a token, the count of
 * application messages queued on it and a ring of the last ones (shared,
 * reference-counted payloads). When its connection goes the session is
 * detached for the window: what the server sends to everyone, to its rooms
 * or to its id is kept in the ring; a client presenting the id, the token
 * and the count it received within the window gets the id, the rooms and
 * the messages past that count, before new ones. Expired sessions are
 * freed lazily, at the next message or connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resume.h"
#include "runtime/log.h"

static void rooms_free(weft__rs *r) {
  for (size_t i = 0; i < r->n_rooms; i++)
    free(r->rooms[i]);
  free(r->rooms);
  r->rooms = NULL;
  r->n_rooms = 0;
}

void weft__rs_free(weft__rs *r) {
  for (uint32_t i = 0; i < r->nbuf; i++)
    weft__payload_release(r->buf[i]);
  free(r->buf);
  free(r->tags);
  for (uint32_t i = 0; i < r->len; i++)
    weft__payload_release(r->ring[(r->head + i) % r->cap]);
  free(r->ring);
  rooms_free(r);
  free(r);
}

/* Appends p; a full ring drops its oldest (0), or refuses when `strict`
 * (a detached session must keep every message: WEFT_ENOBUFS). */
int weft__rs_ring_push(weft__rs *r, uint32_t max, weft__payload *p, int strict) {
  if (r->len == r->cap && r->cap < max) {
    uint32_t cap = r->cap ? r->cap * 2 : 16;
    if (cap > max) cap = max;
    weft__payload **v = malloc(cap * sizeof(*v));
    if (!v) return WEFT_ENOMEM;
    for (uint32_t i = 0; i < r->len; i++)
      v[i] = r->ring[(r->head + i) % r->cap];
    free(r->ring);
    r->ring = v;
    r->cap = cap;
    r->head = 0;
  }
  if (r->len == r->cap) {
    if (strict) return WEFT_ENOBUFS;
    weft__payload_release(r->ring[r->head]);
    r->head = (r->head + 1) % r->cap;
    r->len--;
  }
  p->refs++;
  r->ring[(r->head + r->len) % r->cap] = p;
  r->len++;
  r->sent++;
  return 0;
}

void weft__rs_keep(weft_spark *c, weft__payload *p) {
  if (weft__rs_ring_push(c->rs, c->server->rs_max, p, 0)) { /* no memory: no recovery */
    weft__rs_free(c->rs);
    c->rs = NULL;
  }
}

static void sweep(weft_server *s) {
  uint64_t now = uv_now(s->loop->uv);
  for (weft__rs **pp = &s->rs_detached; *pp;) {
    weft__rs *r = *pp;
    if (!r->pending && r->expires <= now) {
      *pp = r->next;
      weft__rs_free(r);
    } else {
      pp = &r->next;
    }
  }
}

/* "<id>.<token>.<count>", split at the last two dots: 0, or -1. */
int weft__rs_parse(const char *q, size_t *idlen, const char **tok, size_t *toklen,
                   uint64_t *count) {
  const char *d2 = strrchr(q, '.');
  if (!d2 || d2 == q) return -1;
  const char *d1 = d2 - 1;
  while (d1 > q && *d1 != '.')
    d1--;
  if (d1 == q || (size_t)(d1 - q) >= sizeof(((weft__rs *)0)->id) || !d2[1] ||
      strspn(d2 + 1, "0123456789") != strlen(d2 + 1) || strlen(d2 + 1) > 19)
    return -1;
  *count = strtoull(d2 + 1, NULL, 10);
  *idlen = (size_t)(d1 - q);
  *tok = d1 + 1;
  *toklen = (size_t)(d2 - d1 - 1);
  return 0;
}

/* 1 when `tok` (len bytes) is r's token, in constant time. */
int weft__rs_token_is(const weft__rs *r, const char *tok, size_t len) {
  unsigned char diff = len != strlen(r->token);
  for (size_t i = 0; i < sizeof(r->token) - 1; i++)
    diff |= (unsigned char)((i < len ? tok[i] : 0) ^ r->token[i]);
  return !diff;
}

static weft__rs *take(weft_server *s, const char *q, uint64_t *count) {
  size_t idlen, toklen;
  const char *tok;
  if (weft__rs_parse(q, &idlen, &tok, &toklen, count)) return NULL;
  for (weft__rs **pp = &s->rs_detached; *pp; pp = &(*pp)->next) {
    weft__rs *r = *pp;
    if (r->pending || strlen(r->id) != idlen || memcmp(r->id, q, idlen) != 0) continue;
    /* The token; then the count: not in the future, not before what the
     * ring still holds. */
    if (!weft__rs_token_is(r, tok, toklen) || *count > r->sent || r->sent - *count > r->len)
      return NULL;
    *pp = r->next;
    if (r->parked && s->rs_hooks) s->rs_hooks->unpark(s->rs_hooks->user, r->id);
    r->parked = 0;
    return r;
  }
  return NULL;
}

int weft__rs_new_token(weft_server *s, char *out) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t b[16];
  if (weft__rand_bytes(&s->rand, b, sizeof(b))) return WEFT_EIO; /* no secret, no session */
  for (size_t i = 0; i < 22; i++) {
    size_t bit = i * 6, k = bit / 8, sh = bit % 8;
    unsigned v = ((unsigned)b[k] << 8 | (k + 1 < 16 ? b[k + 1] : 0u)) >> (10 - sh);
    out[i] = b64[v & 63];
  }
  out[22] = '\0';
  return 0;
}

int weft__rs_open(weft_spark *c, void (*make_id)(weft_spark *c)) {
  weft_server *s = c->server;
  if (c->rs) { /* claimed from another node (resume_x.c) */
    if (weft__spark_set_id(c, c->rs->id) == 0) return c->rs->recovered;
    make_id(c); /* out of memory for a long id: a fresh one */
    c->rs->recovered = 0;
    return 0;
  }
  const char *q = s->rs_window ? weft_spark_query(c, "weft_rs") : NULL;
  if (!q) {
    make_id(c);
    return 0;
  }
  sweep(s);
  uint64_t count = 0;
  weft__rs *r = strcmp(q, "1") ? take(s, q, &count) : NULL;
  if (r && weft_server_spark(s, r->id)) { /* its id is taken meanwhile */
    weft__rs_free(r);
    r = NULL;
  }
  if (!r && weft__log_on(s->loop, WEFT_LOG_INFO) && strcmp(q, "1"))
    weft__log(s->loop, WEFT_LOG_INFO, "connection", s, NULL, NULL, NULL,
              "recovery refused (unknown, expired, wrong token or count): a fresh spark");
  if (r && weft__spark_set_id(c, r->id) != 0) {
    weft__rs_free(r);
    r = NULL;
  }
  if (r) {
    r->recovered = 1;
    r->replay = count;
  } else {
    make_id(c);
    r = calloc(1, sizeof(*r));
    if (!r) return 0;
    if (weft__rs_new_token(s, r->token) || strlen(weft__spark_id(c)) >= sizeof(r->id)) {
      free(r);
      return 0;
    }
    strcpy(r->id, weft__spark_id(c));
  }
  /* A new token at every open: a resume seen once works once. */
  if (r->recovered && weft__rs_new_token(s, r->token)) {
    weft__rs_free(r);
    return 0;
  }
  c->rs = r;
  return r->recovered;
}

void weft__rs_opened(weft_spark *c) {
  weft__rs *r = c->rs;
  if (!r) return;
  char msg[160];
  snprintf(msg, sizeof(msg), "primus::weft::rs::%d:%s:%s", r->recovered, r->id, r->token);
  weft__spark_send_string(c, msg);
  if (!r->recovered) return;
  /* The messages after the client's count, already in the ring. */
  for (uint64_t n = r->sent - r->replay; n > 0 && c->state == WEFT__SP_OPEN; n--)
    weft__spark_replay(c, r->ring[(r->head + r->len - n) % r->cap]);
}

int weft_spark_recovered(const weft_spark *c) {
  if (!c) return WEFT_EINVAL;
  return c->rs && c->rs->recovered;
}

int weft__rs_note_rooms(weft_spark *c, const char *const *names, size_t n) {
  weft__rs *r = c->rs;
  if (!r) return 0;
  rooms_free(r);
  if (!n) return 0;
  r->rooms = calloc(n, sizeof(*r->rooms));
  if (!r->rooms) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++, r->n_rooms++) {
    size_t len = strlen(names[i]) + 1;
    if (!(r->rooms[i] = malloc(len))) return WEFT_ENOMEM;
    memcpy(r->rooms[i], names[i], len);
  }
  return 0;
}

size_t weft__rs_rooms(weft_spark *c, const char *const **names) {
  weft__rs *r = c->rs;
  if (!r || !r->recovered) return 0;
  *names = (const char *const *)r->rooms;
  return r->n_rooms;
}

void weft__rs_rooms_done(weft_spark *c) {
  if (c->rs) rooms_free(c->rs);
}

void weft__rs_drop(weft_spark *c) {
  if (!c->rs) return;
  weft__rs_free(c->rs);
  c->rs = NULL;
}

void weft__rs_detach(weft_spark *c) {
  weft__rs *r = c->rs;
  if (!r) return;
  c->rs = NULL;
  weft_server *s = c->server;
  if (s->state != WEFT__SRV_LISTENING) {
    weft__rs_free(r);
    return;
  }
  r->recovered = 0;
  r->expires = uv_now(s->loop->uv) + s->rs_window;
  r->next = s->rs_detached;
  s->rs_detached = r;
  /* In a cluster its owner stores it, so another node can take it. */
  if (s->rs_hooks) r->parked = s->rs_hooks->park(s->rs_hooks->user, r) == 0;
}

static int listed(const char *const *l, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(l[i], s) == 0) return 1;
  return 0;
}

int weft__rs_names(const weft__rs *r, const weft_recipients *to) {
  if (!to || (!to->n_rooms && !to->n_ids)) return !to || !listed(to->except, to->n_except, r->id);
  if (listed(to->except, to->n_except, r->id)) return 0;
  if (listed(to->ids, to->n_ids, r->id)) return 1;
  for (size_t i = 0; i < r->n_rooms; i++)
    if (listed(to->rooms, to->n_rooms, r->rooms[i])) return 1;
  return 0;
}

void weft__rs_capture(weft_server *s, const weft_recipients *to, weft__payload *p) {
  sweep(s);
  for (weft__rs **pp = &s->rs_detached; *pp;) {
    weft__rs *r = *pp;
    if (!weft__rs_names(r, to)) {
      pp = &r->next;
    } else if (r->pending) {
      weft__rs_pending_keep(s, r, p);
      pp = &r->next;
    } else if (weft__rs_ring_push(r, s->rs_max, p, 1)) { /* overflowed: cannot recover */
      *pp = r->next;
      if (r->parked) s->rs_hooks->unpark(s->rs_hooks->user, r->id);
      weft__rs_free(r);
    } else {
      if (r->parked && s->rs_hooks->record(s->rs_hooks->user, r->id, p)) r->lossy = 1;
      pp = &r->next;
    }
  }
}

void weft__rs_free_all(weft_server *s) {
  while (s->rs_detached) {
    weft__rs *r = s->rs_detached;
    s->rs_detached = r->next;
    if (r->pending)
      weft__rs_pending_end(r);
    else
      weft__rs_free(r);
  }
}

int weft_server_set_recovery(weft_server *s, uint32_t window_ms, uint32_t max_messages) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || max_messages > 65536 || (window_ms && !max_messages)) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return WEFT_ESTATE;
  s->rs_window = window_ms;
  s->rs_max = max_messages;
  return 0;
}
