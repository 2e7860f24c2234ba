/*
 * Sparks: the Primus layer over one connection — ids, the primus:: control
 * strings, transforms, writes with back-pressure, end, and what the
 * connection's request says (headers, query, address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/value_internal.h"
#include "primus.h"
#include "runtime/log.h"

static const char id_alphabet[] =
    "ModuleSymbhasOwnPr-0123456789ABCDEFGHNRVfgctiUvz_KqYTJkLxpZXIjQW";

int weft__spark_set_id(weft_spark *c, const char *id) {
  size_t n = strlen(id);
  char *heap = NULL;
  if (n >= sizeof(c->id_in)) {
    heap = malloc(n + 1);
    if (!heap) return WEFT_ENOMEM;
    memcpy(heap, id, n + 1);
  }
  weft__spark_free_id(c);
  if (heap) {
    memcpy(c->id_in + 8, &heap, sizeof(heap));
    c->id_in[23] = 1;
  } else {
    memcpy(c->id_in, id, n + 1);
  }
  return 0;
}

void weft__spark_free_id(weft_spark *c) {
  if (!c->id_in[23]) return;
  free((char *)weft__spark_id(c));
  memset(c->id_in, 0, sizeof(c->id_in));
}

static void make_id(weft_spark *c) {
  weft_server *s = c->server;
  /* A framing that named the connection to its peer (engine.io's sid):
   * that name, unless the application generates ids (as Primus). */
  const char *named = c->conn.tran->conn.id ? c->conn.tran->conn.id(&c->conn) : NULL;
  if (named && !s->idgen && strlen(named) < 64 && weft__spark_set_id(c, named) == 0) return;
  char id[64];
  if (s->idgen) {
    id[0] = '\0';
    if (s->idgen(id, sizeof(id), s->idgen_user) == 0 && id[0] && memchr(id, '\0', sizeof(id)) &&
        !weft_server_spark(s, id) && weft__spark_set_id(c, id) == 0)
      return;
  }
  uint8_t r[21];
  if (weft__rand_bytes(&s->rand, r, sizeof(r)) != 0) {
    /* No entropy: still unique within this server. */
    static const char hex[] = "0123456789abcdef";
    uintptr_t v = (uintptr_t)c;
    for (size_t i = 0; i < sizeof(r); i++, v >>= 4)
      r[i] = (uint8_t)hex[v & 15];
  }
  for (size_t i = 0; i < sizeof(r); i++)
    id[i] = id_alphabet[r[i] & 63];
  id[sizeof(r)] = '\0';
  weft__spark_set_id(c, id); /* fits id_in: no allocation */
}

static const weft__http_req *req_of(const weft_spark *c);

/* After the connection event: what the server keeps of the request (the
 * application has copied what it needs by now). The request is the
 * transport's, which lends it to the spark; weft_server_set_kept_headers
 * lets the spark trim it, and what is kept is shared with the sparks that
 * sent the same head (decision #41) once only the connection reads it.
 * Out of memory, the request stays whole. */
static void keep_request(weft_spark *c) {
  weft_server *s = c->server;
  weft__http_req *own = c->conn.tran->conn.request ? c->conn.tran->conn.request(&c->conn) : NULL;
  /* Still lent to an answer (a polling handshake's): trimmed, the answer
   * reads only what any kept head still has, but not shared. */
  weft__http_req *r = own ? own : (weft__http_req *)req_of(c);
  if (!r) return;
  if (!s->keep_all_headers || !s->keep_url)
    weft__http_head_keep(&r->head, s->keep_url, s->keep_all_headers,
                         (const char *const *)s->kept_headers, s->n_kept_headers);
  if (own) weft__heads_share(&s->heads, own);
}

void weft__spark_opened(weft_spark *c) {
  weft_server *s = c->server;
  weft__rs_open(c, make_id);
  c->state = WEFT__SP_OPEN;
  c->alive = 1;
  c->was_open = 1;
  c->tran = (uint8_t)weft__transport_index(c->conn.tran);
  weft__server_add_open(s, c);
  if (weft__log_on(s->loop, WEFT_LOG_INFO))
    weft__log(s->loop, WEFT_LOG_INFO, "connection", s, NULL, weft__spark_id(c), NULL,
              "spark %s connected from %s:%d (%s)", weft__spark_id(c), weft_spark_address(c),
              weft_spark_port(c), c->conn.tran->name);
  if (c->rs) weft__rs_opened(c); /* the answer and the missed messages first */
  for (size_t i = 0; i < s->plugins.n && c->state == WEFT__SP_OPEN; i++)
    if (s->plugins.items[i].ops->connection)
      s->plugins.items[i].ops->connection(c, s->plugins.items[i].user);
  if (c->state == WEFT__SP_OPEN && s->ev.connection) s->ev.connection(c, s->ev_user);
  if (c->state != WEFT__SP_GONE) keep_request(c);
}

void weft__spark_closed(weft_spark *c) {
  weft_server *s = c->server;
  for (size_t i = 0; i < s->plugins.n; i++)
    if (s->plugins.items[i].ops->disconnection)
      s->plugins.items[i].ops->disconnection(c, s->plugins.items[i].user);
  if (s->ev.disconnection) s->ev.disconnection(c, s->ev_user);
  if (weft__log_on(s->loop, WEFT_LOG_INFO))
    weft__log(s->loop, WEFT_LOG_INFO, "disconnection", s, NULL, weft__spark_id(c), NULL,
              "spark %s disconnected", weft__spark_id(c));
  if (c->user_free) c->user_free(c->user);
  c->user = NULL;
  c->user_free = NULL;
  if (c->rs) weft__rs_detach(c); /* kept for the recovery window */
}

/* ---- incoming ---- */

/* Answers Primus's control strings; returns 1 when `v` was one. */
static int protocol(weft_spark *c, const weft_value *v) {
  if (!weft__value_maybe_control(v)) return 0;
  const char *rest;
  size_t rlen;
  if (weft__message_is(v, "primus::pong::", &rest, &rlen)) {
    /* Only an answer to the last ping counts: a made-up pong must not keep
     * alive a peer that does not read (it is taken and ignored). */
    weft_server *s = c->server;
    if (s->ping_len && rlen == s->ping_len && memcmp(rest, s->ping_value, rlen) == 0) c->alive |= 1;
    return 1;
  }
  if (weft__message_is(v, "primus::ping::", &rest, &rlen)) {
    /* A client that pings (Primus before 7, Vibe): pong with what it sent
     * (64 bytes at most), and the peer reads, so it is alive. */
    char pong[96];
    int n = snprintf(pong, sizeof(pong), "primus::pong::%.*s", (int)(rlen < 64 ? rlen : 64), rest);
    if (n > 0) weft__spark_send_string(c, pong);
    c->alive |= 1;
    return 1;
  }
  if (weft__message_is(v, "primus::id::", NULL, NULL)) {
    char reply[96];
    memcpy(reply, "primus::id::", 12);
    strcpy(reply + 12, weft__spark_id(c));
    weft__spark_send_string(c, reply);
    return 1;
  }
  return 0; /* unknown primus:: strings are data, as in Primus */
}

static void deliver(weft_spark *c, const weft_value *v) {
  weft_server *s = c->server;
  WEFT__METRIC(s->m.msgs_in[c->tran]++);
  const weft_value *msg = v;
  weft_value *owned = NULL;
  if ((s->in_types >> v->type) & 1) {
    int rc = weft__plugins_transform(c, 0, v, &msg, &owned);
    if (rc != WEFT_PASS) {
      if (rc < 0) weft__server_error(s, c, rc, "transform", "incoming transform failed");
      weft_value_free(owned);
      return;
    }
  }
  if (c->state == WEFT__SP_OPEN && s->ev.data) s->ev.data(c, msg, s->ev_user);
  weft_value_free(owned);
}

void weft__spark_message(weft_spark *c, int binary, uint8_t *data, size_t len) {
  weft_server *s = c->server;
  const weft_value *v;
  weft_value *owned;
  char err[160];
  int outer = s->dispatching++ == 0;
  WEFT__METRIC(s->m.bytes_in[c->tran] += len);
  int rc =
      weft__message_decode(s->parser, &s->arena, binary, data, len, &v, &owned, err, sizeof(err));
  const weft_value *items =
      rc == 0 && !owned && weft__value_maybe_batch(v) ? weft__batch_items(v) : NULL;
  if (rc != 0) {
    weft__server_error(s, c, rc, rc == WEFT_ENOMEM ? "io" : s->parser->name, err);
  } else if (items) {
    for (size_t i = 0, n = weft_value_len(items); i < n && c->state == WEFT__SP_OPEN; i++) {
      const weft_value *item = weft_value_array_at(items, i);
      if (!protocol(c, item)) deliver(c, item);
    }
  } else if ((owned && !s->parser->app) || !protocol(c, v)) {
    /* owned: a binary frame under a text parser (never a control), or an
     * application parser's value (which may be one: Primus's pong) */
    deliver(c, v);
  }
  weft_value_free(owned);
  s->dispatching--;
  if (outer) weft__arena_reset(&s->arena);
}

void weft__spark_value(weft_spark *c, const weft_value *v, size_t len) {
  weft_server *s = c->server;
  WEFT__METRIC(s->m.bytes_in[c->tran] += len);
  s->dispatching++;
  if (!protocol(c, v)) deliver(c, v);
  s->dispatching--;
}

/* ---- outgoing ---- */

/* What was batched leaves before anything written after it. */
static int seal_batch(weft_spark *c) {
  weft__payload *b = weft__batch_seal(c->batch, c->server->parser, c->server->loop);
  if (!b) return c->batch && weft__batch_bytes(c->batch) ? WEFT_ENOMEM : 0;
  int rc = c->conn.tran->conn.send(&c->conn, b, SIZE_MAX, NULL);
  weft__payload_release(b);
  return rc;
}

void weft__spark_seal(weft_spark *c) {
  if (c->batch && c->state == WEFT__SP_OPEN) seal_batch(c);
}

/* A write found the spark's queue full: the server's slow-consumer policy,
 * never silent. The close frame goes out past the limit (a control frame);
 * a peer that reads nothing is cut off when the closing handshake's
 * deadline passes. */
static int queue_full(weft_spark *c) {
  weft_server *s = c->server;
  s->m.queue_refused++;
  if (s->queue_policy == WEFT_QUEUE_DROP) {
    weft__server_error(s, c, WEFT_ENOBUFS, "queue", "outbound queue full: message dropped");
    return WEFT_ENOBUFS;
  }
  weft__server_error(s, c, WEFT_ENOBUFS, "queue", "outbound queue full: closing the connection");
  if (c->state == WEFT__SP_OPEN)
    c->conn.tran->conn.close(&c->conn, WEFT__END_POLICY, "outbound queue full");
  return WEFT_ENOBUFS;
}

/* The frame of a framing that encodes messages itself (fast-tcp), made
 * once per payload from `msg`; with only the bytes (NULL: a raw write, a
 * message from another node), from what the server's parser reads in
 * them, else the bytes as a string or binary. */
static WEFT__NOINLINE weft__payload *encoded(weft_spark *c, weft__payload *p, const weft_value *msg,
                                             int *rc) {
  weft__payload *v = weft__payload_variant(p, WEFT__TAG_ENCODED);
  if (v) return v;
  weft_value *own = NULL;
  if (!msg && (p->kind == WEFT__P_TEXT) != !!c->server->parser->binary &&
      weft_value_decode(c->server->parser->name, p->data, p->len, &own, NULL) != 0)
    own = NULL;
  if (!msg && !own)
    own = p->kind == WEFT__P_TEXT ? weft_value_new_string((const char *)p->data, p->len)
                                  : weft_value_new_binary(p->data, p->len);
  if (!msg) msg = own;
  *rc = msg ? c->conn.tran->conn.encode(&c->conn, msg, c->server->parser, &v) : WEFT_ENOMEM;
  weft_value_free(own);
  if (*rc) return NULL;
  weft__payload_add_variant(p, v, WEFT__TAG_ENCODED);
  return v;
}

/* One message to the spark's connection; `count`: an application's
 * message, for the metrics (Primus's own strings are not): 1 is kept for
 * recovery (when the spark has a session), 2 is one replayed from it.
 * `msg` is what p encodes (NULL: p's bytes as they are). */
static inline int send_frame_by(weft_spark *c, weft__payload *p, const weft_value *msg, int count,
                                int framed, int by_value) {
  weft_server *s = c->server;
  if (c->state != WEFT__SP_OPEN) return WEFT_ECLOSED;
  weft__payload *kept = p; /* recovery keeps the message, not this framing's frame */
  if (c->conn.tran->conn.encode && !framed) {
    int rc = 0;
    if (!(p = encoded(c, p, msg, &rc))) return rc;
  }
  if (c->batch && weft__batch_bytes(c->batch)) {
    int rc = seal_batch(c);
    if (rc) return rc;
  }
  size_t queued;
  const weft__transport *t = c->conn.tran;
  int rc = by_value ? t->conn.send_value(&c->conn, p, msg, s->max_queue, &queued)
                    : t->conn.send(&c->conn, p, s->max_queue, &queued);
  if (rc == WEFT_ENOBUFS) return queue_full(c);
  if (rc) return rc;
  if (count) {
    if (count == 1 && c->rs) weft__rs_keep(c, kept);
    WEFT__METRIC(s->m.msgs_out[c->tran]++);
    WEFT__METRIC(s->m.bytes_out[c->tran] += p->len);
  }
  if (queued >= s->hwm) {
    c->above_hwm = 1;
    return 1;
  }
  return 0;
}

static inline int send_frame(weft_spark *c, weft__payload *p, const weft_value *msg, int count,
                             int framed) {
  return send_frame_by(c, p, msg, count, framed, 0);
}

/* An application's message to a framing that reads its value (Vibe):
 * apart, so that the other framings' path stays as it was. */
static WEFT__NOINLINE int send_valued(weft_spark *c, weft__payload *p, const weft_value *msg) {
  return send_frame_by(c, p, msg, 1, 0, 1);
}

int weft__spark_send_control(weft_spark *c, weft__payload *p, const weft_value *msg) {
  return send_frame(c, p, msg, 0, 0);
}

int weft__spark_send_payload(weft_spark *c, weft__payload *p, const weft_value *msg) {
  return send_frame(c, p, msg, 1, 0);
}

int weft__spark_replay(weft_spark *c, weft__payload *p) { return send_frame(c, p, NULL, 2, 0); }

int weft__spark_send_string(weft_spark *c, const char *str) {
  weft_value *v = weft_value_new_string(str, strlen(str));
  if (!v) return WEFT_ENOMEM;
  weft__payload *p = NULL;
  int rc = weft__server_encode(c->server, v, &p);
  if (rc == 0) rc = weft__spark_send_control(c, p, v);
  weft_value_free(v);
  weft__payload_release(p);
  return rc;
}

/* Holds a message for this loop turn's batch (the flush seals it). */
static int batch_payload(weft_spark *c, weft__payload *p) {
  weft_server *s = c->server;
  size_t held = weft__batch_bytes(c->batch);
  if (held && held + p->len + 1 > s->batch_max) {
    int rc = seal_batch(c);
    if (rc) return rc;
    held = 0;
  }
  const weft__transport *t = c->conn.tran;
  size_t mem, queued = t->conn.queued(&c->conn, &mem);
  if (mem + held + p->len > s->max_queue) return queue_full(c);
  if (weft__batch_add(&c->batch, p)) return WEFT_ENOMEM;
  if (c->rs) weft__rs_keep(c, p);
  t->conn.hold(&c->conn);
  WEFT__METRIC(s->m.msgs_out[c->tran]++);
  WEFT__METRIC(s->m.bytes_out[c->tran] += p->len);
  if (queued + held + p->len >= s->hwm) {
    c->above_hwm = 1;
    return 1;
  }
  return 0;
}

/* A small message whose encoding is its own bytes, written by the framing
 * straight into the connection's queue (WebSocket: encoded once, into the
 * frame, with no payload of its own). Only where nothing else needs a
 * payload: no recovery keeping it, no batch, no framing of its own.
 * Returns 1 with *rc set when done, 0 when the payload path must send it. */
static inline int write_in_place(weft_spark *c, const weft_value *v, weft__verbatim *vb, int *plain,
                                 int *rc) {
  weft_server *s = c->server;
  const weft__transport *t = c->conn.tran;
  if (!t->conn.reserve || c->rs || s->batch_max || c->state != WEFT__SP_OPEN ||
      weft__message_verbatim(s->parser, v, vb) != 0)
    return 0;
  *plain = 1; /* a payload made after all needs no second look */
  size_t n = weft__verbatim_len(vb), queued = 0;
  uint8_t *at = t->conn.reserve(&c->conn, vb->binary, n, s->max_queue, &queued, rc);
  if (!at) {
    if (*rc == 0) return 0;
    if (*rc == WEFT_ENOBUFS) *rc = queue_full(c);
    return 1;
  }
  weft__verbatim_write(vb, at);
  WEFT__METRIC(s->m.msgs_out[c->tran]++);
  WEFT__METRIC(s->m.bytes_out[c->tran] += n);
  *rc = queued >= s->hwm;
  if (*rc) c->above_hwm = 1;
  return 1;
}

static int write_value(weft_spark *c, const weft_value *msg, weft__payload **shared) {
  weft_server *s = c->server;
  const weft_value *out = msg;
  weft_value *owned = NULL;
  if (s->has_outgoing) {
    int rc = weft__plugins_transform(c, 1, msg, &out, &owned);
    if (rc != WEFT_PASS) {
      weft_value_free(owned);
      return rc == WEFT_SWALLOW ? 0 : rc;
    }
    if (c->state != WEFT__SP_OPEN) {
      weft_value_free(owned);
      return WEFT_ECLOSED;
    }
  }
  weft__payload *p = NULL;
  weft__verbatim vb;
  int rc = 0, plain = 0;
  if (!shared && write_in_place(c, out, &vb, &plain, &rc)) {
    weft_value_free(owned);
    return rc;
  }
  if (c->conn.tran->conn.encode && !shared) {
    /* One spark of a framing that encodes itself (fast-tcp): its frame
     * only, not the server's encoding too. */
    rc = c->conn.tran->conn.encode(&c->conn, out, c->server->parser, &p);
    if (rc == 0) rc = send_frame(c, p, NULL, 1, 1);
    weft_value_free(owned);
    weft__payload_release(p);
    return rc;
  }
  if (!owned && shared && *shared) {
    p = *shared;
    p->refs++;
  } else {
    rc = plain ? weft__verbatim_payload(s->loop, &vb, &p) : weft__server_encode(s, out, &p);
    if (rc == 0 && !owned && shared) {
      *shared = p; /* unchanged by transforms: the next spark reuses it */
      p->refs++;
    }
  }
  if (rc == 0)
    rc = s->batch_max && !c->conn.tran->conn.encode && weft__batchable(s->parser, p, s->batch_max)
             ? batch_payload(c, p)
         : c->conn.tran->conn.send_value ? send_valued(c, p, out)
                                         : weft__spark_send_payload(c, p, out);
  weft_value_free(owned); /* after the send: a framing may encode from it */
  weft__payload_release(p);
  return rc;
}

int weft_spark_write(weft_spark *c, const weft_value *msg) {
  if (!c || !msg) return WEFT_EINVAL;
  if (c->state != WEFT__SP_OPEN) return WEFT_ECLOSED;
  return write_value(c, msg, NULL);
}

int weft__spark_broadcast_transformed(weft_server *s, const weft_value *msg) {
  weft__payload *shared = NULL;
  int n = 0;
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c; c = c->next) {
    if (c->state != WEFT__SP_OPEN) continue;
    int rc = write_value(c, msg, &shared);
    if (rc >= 0)
      n++;
    else if (rc != WEFT_ENOBUFS) /* a full queue has said so itself */
      weft__server_error(s, c, rc, "queue", "broadcast not delivered to this spark");
  }
  weft__server_iter_end(s);
  weft__payload_release(shared);
  return n;
}

int weft_server_write_to(weft_server *s, const weft_value *msg, weft_spark *const *sparks,
                         size_t n) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !msg || (!sparks && n)) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  weft__payload *shared = NULL;
  if (!s->has_outgoing) {
    int rc = weft__server_encode(s, msg, &shared);
    if (rc) return rc;
    int sent = weft__server_payload_to(s, shared, msg, sparks, n);
    weft__payload_release(shared);
    return sent;
  }
  int sent = 0;
  /* Sparks ended by a transform or an error event stay allocated until the
   * walk is over, so later entries are still safe to look at. */
  weft__server_iter_begin(s);
  for (size_t i = 0; i < n; i++) {
    weft_spark *c = sparks[i];
    if (!c || c->server != s || c->state != WEFT__SP_OPEN) continue;
    int rc = write_value(c, msg, &shared);
    if (rc >= 0)
      sent++;
    else if (rc != WEFT_ENOBUFS) /* a full queue has said so itself */
      weft__server_error(s, c, rc, "queue", "message not delivered to this spark");
  }
  weft__server_iter_end(s);
  weft__payload_release(shared);
  return sent;
}

int weft_spark_write_raw(weft_spark *c, const void *data, size_t len, int binary) {
  if (!c || (!data && len)) return WEFT_EINVAL;
  if (c->state != WEFT__SP_OPEN) return WEFT_ECLOSED;
  weft__payload *p;
  int rc = weft__payload_message(data, len, binary, &p);
  if (rc) return rc;
  rc = weft__spark_send_payload(c, p, NULL);
  weft__payload_release(p);
  return rc;
}

size_t weft_spark_buffered_amount(const weft_spark *c) {
  return c && c->state != WEFT__SP_GONE && c->conn.tran ? c->conn.tran->conn.queued(&c->conn, NULL)
                                                        : 0;
}

int weft_spark_end(weft_spark *c, const weft_value *msg, int flags) {
  if (!c || (flags & ~(WEFT_END_RECONNECT | WEFT_END_ERROR))) return WEFT_EINVAL;
  if (c->state != WEFT__SP_OPEN) return WEFT_ECLOSED;
  if (msg) weft_spark_write(c, msg);
  if (c->state != WEFT__SP_OPEN) return 0;
  if (!(flags & (WEFT_END_RECONNECT | WEFT_END_ERROR))) {
    weft__rs_drop(c); /* the client does not come back: nothing to recover */
    weft__spark_send_string(c, "primus::server::close");
  }
  if (c->state == WEFT__SP_OPEN) {
    int error = (flags & WEFT_END_ERROR) != 0;
    c->conn.tran->conn.close(&c->conn, error ? WEFT__END_ERROR : WEFT__END_NORMAL,
                             error ? "internal error" : NULL);
  }
  return 0;
}

static int pause_reading(weft_spark *c, int on) {
  if (!c) return WEFT_EINVAL;
  if (c->state != WEFT__SP_OPEN) return WEFT_ECLOSED;
  if (on)
    c->alive |= WEFT__SP_PAUSED;
  else if (c->alive & WEFT__SP_PAUSED)
    c->alive = 1; /* a fresh heartbeat period */
  c->conn.tran->conn.pause(&c->conn, on);
  return 0;
}

int weft_spark_pause(weft_spark *c) { return pause_reading(c, 1); }
int weft_spark_resume(weft_spark *c) { return pause_reading(c, 0); }

/* ---- accessors ---- */

weft_server *weft_spark_server(const weft_spark *c) { return c ? c->server : NULL; }
const char *weft_spark_id(const weft_spark *c) { return c ? weft__spark_id(c) : NULL; }

/* The request that opened the spark (no head for a transport without
 * HTTP). */
static const weft__http_req *req_of(const weft_spark *c) {
  return c && c->state != WEFT__SP_GONE && c->conn.tran ? c->conn.tran->conn.peer(&c->conn) : NULL;
}

/* The request with a readable head: a shared head (decision #41) becomes
 * the spark's own again when first read (NULL out of memory). The spark is
 * const to its reader, not to itself. */
static const weft__http_req *head_of(const weft_spark *c) {
  const weft__http_req *r = req_of(c);
  if (r && r->head_shared && weft__http_req_own((weft__http_req *)r) != 0) return NULL;
  return r;
}

const char *weft_spark_header(const weft_spark *c, const char *name) {
  const weft__http_req *r = head_of(c);
  return r && name ? weft__http_get(&r->head, name) : NULL;
}

size_t weft_spark_header_count(const weft_spark *c) {
  const weft__http_req *r = head_of(c);
  return r ? r->head.n_headers : 0;
}

int weft_spark_header_at(const weft_spark *c, size_t i, const char **name, const char **value) {
  const weft__http_req *r = req_of(c);
  if (!r || !name || !value) return WEFT_EINVAL;
  if (r->head_shared && weft__http_req_own((weft__http_req *)r) != 0) return WEFT_ENOMEM;
  if (i >= r->head.n_headers) return WEFT_EINVAL;
  *name = weft__http_hname(&r->head, i);
  *value = weft__http_hvalue(&r->head, i);
  return 0;
}

const char *weft_spark_address(const weft_spark *c) {
  const weft__http_req *r = req_of(c);
  return r ? weft__http_req_address(r) : NULL;
}

int weft_spark_port(const weft_spark *c) {
  const weft__http_req *r = req_of(c);
  return r ? r->port : WEFT_EINVAL;
}

const char *weft_spark_url(const weft_spark *c) {
  const weft__http_req *r = head_of(c);
  return r ? weft__http_target(&r->head) : NULL;
}

const char *weft_spark_query(const weft_spark *c, const char *key) {
  const weft__http_req *r = req_of(c);
  return r && key ? weft__http_req_query(r, key) : NULL;
}

size_t weft_spark_query_count(const weft_spark *c) {
  const weft__http_req *r = req_of(c);
  return r ? r->n_query : 0;
}

int weft_spark_query_at(const weft_spark *c, size_t i, const char **key, const char **value) {
  const weft__http_req *r = req_of(c);
  if (!r || !key || !value || i >= r->n_query) return WEFT_EINVAL;
  *key = r->query[2 * i];
  *value = r->query[2 * i + 1];
  return 0;
}

int weft_spark_set_user(weft_spark *c, void *user, void (*free_user)(void *)) {
  if (!c) return WEFT_EINVAL;
  if (c->state == WEFT__SP_GONE) return WEFT_ECLOSED; /* nobody would free it */
  if (c->user_free && c->user != user) c->user_free(c->user);
  c->user = user;
  c->user_free = free_user;
  return 0;
}

void *weft_spark_get_user(const weft_spark *c) { return c ? c->user : NULL; }
