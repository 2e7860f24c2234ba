/*
 * A server's open sparks: the list every walk goes through (broadcast, the
 * heartbeat, foreach), the index by id, and the connection events that
 * make and end sparks (admission, authorization, open, data, close).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "primus.h"

/* ---- open sparks: list and id index ---- */

static size_t id_hash(const char *id) {
  size_t h = 1469598103934665603ull;
  for (; *id; id++)
    h = (h ^ (unsigned char)*id) * 1099511628211ull;
  return h;
}

static void index_resize(weft_server *s, size_t n) {
  weft_spark **b = calloc(n, sizeof(*b));
  if (!b) return; /* chains just get longer (or stay sparse) */
  for (size_t i = 0; i < s->n_buckets; i++) {
    weft_spark *c = s->buckets[i];
    while (c) {
      weft_spark *next = c->hnext;
      size_t k = id_hash(weft__spark_id(c)) & (n - 1);
      c->hnext = b[k];
      b[k] = c;
      c = next;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->n_buckets = n;
}

weft_spark *weft_server_spark(weft_server *s, const char *id) {
  if (weft__server_gone(s)) return NULL;
  if (!s || !id || !s->n_buckets) return NULL;
  for (weft_spark *c = s->buckets[id_hash(id) & (s->n_buckets - 1)]; c; c = c->hnext)
    if (strcmp(weft__spark_id(c), id) == 0) return c;
  return NULL;
}

static void list_unlink(weft_spark **head, weft_spark *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = c->prev = NULL;
}

static void list_push(weft_spark **head, weft_spark *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head) (*head)->prev = c;
  *head = c;
}

/* Up to two sparks a bucket on average: the index costs 4-8 bytes a spark
 * (16,384 buckets held 10k sparks at 13 B each; lookups by id are rare,
 * walks use the list), and a chain stays short. */
#define SPARKS_PER_BUCKET 2

void weft__server_add_open(weft_server *s, weft_spark *c) {
  if (s->n_open + 1 > s->n_buckets * SPARKS_PER_BUCKET)
    index_resize(s, s->n_buckets ? s->n_buckets * 2 : 64);
  if (s->n_buckets) {
    size_t k = id_hash(weft__spark_id(c)) & (s->n_buckets - 1);
    c->hnext = s->buckets[k];
    s->buckets[k] = c;
  }
  list_push(&s->open_head, c);
  s->n_open++;
  s->m.open[c->tran]++;
  s->m.opened[c->tran]++;
}

void weft__server_remove_open(weft_server *s, weft_spark *c) {
  if (s->n_buckets) {
    for (weft_spark **pp = &s->buckets[id_hash(weft__spark_id(c)) & (s->n_buckets - 1)]; *pp;
         pp = &(*pp)->hnext) {
      if (*pp == c) {
        *pp = c->hnext;
        break;
      }
    }
  }
  c->hnext = NULL;
  /* While an iteration walks the list the node stays linked (it is skipped
   * because it is no longer open) and is unlinked when the walk ends. */
  if (s->iterating) {
    c->unlink_later = 1;
    s->unlink_pending = 1;
  } else {
    list_unlink(&s->open_head, c);
  }
  s->n_open--;
  s->m.open[c->tran]--;
  /* After a crowd leaves, the index gives its buckets back (below 1/8 of
   * what it may hold). */
  if (s->n_buckets > 64 && s->n_open * 8 < s->n_buckets * SPARKS_PER_BUCKET)
    index_resize(s, s->n_buckets / 2);
}

void weft__server_iter_begin(weft_server *s) { s->iterating++; }

void weft__server_iter_end(weft_server *s) {
  if (--s->iterating > 0 || !s->unlink_pending) return;
  s->unlink_pending = 0;
  weft_spark *c = s->open_head;
  while (c) {
    weft_spark *next = c->next;
    if (c->unlink_later) {
      c->unlink_later = 0;
      list_unlink(&s->open_head, c);
    }
    c = next;
  }
}

/* ---- the connection's events ---- */

static weft_spark *spark_of(weft__conn *conn) { return WEFT__CONTAINER(conn, weft_spark, conn); }

void weft__spark_admit(weft__conn *conn, void *user) {
  weft_server *s = user;
  weft_spark *sp = spark_of(conn);
  sp->server = s;
  s->m.handshakes++;
  if (!s->auth_cb) {
    if (!weft__rs_hold(sp)) conn->tran->listener.accept(conn);
    return;
  }
  weft_auth *a = calloc(1, sizeof(*a));
  if (!a) {
    conn->tran->listener.reject(conn, 500, NULL);
    return;
  }
  a->spark = sp;
  sp->auth = a;
  s->auth_cb(a, s->auth_user);
}

static void on_opened(weft__conn *conn) { weft__spark_opened(spark_of(conn)); }

static void on_message(weft__conn *conn, int binary, uint8_t *data, size_t len) {
  weft__spark_message(spark_of(conn), binary, data, len);
}

static void on_value(weft__conn *conn, const weft_value *v, size_t len) {
  weft__spark_value(spark_of(conn), v, len);
}

static void on_drained(weft__conn *conn) {
  weft_spark *c = spark_of(conn);
  weft_server *s = c->server;
  if (s->drained_hook && c->state == WEFT__SP_OPEN) s->drained_hook(c, s->drained_user);
  if (c->above_hwm && c->state == WEFT__SP_OPEN && conn->tran->conn.queued(conn, NULL) < s->hwm) {
    c->above_hwm = 0;
    if (s->ev.drain) s->ev.drain(c, s->ev_user);
  }
}

static void on_seal(weft__conn *conn) { weft__spark_seal(spark_of(conn)); }

static void on_closing(weft__conn *conn, const weft__fault *why) {
  weft_spark *c = spark_of(conn);
  if (why) weft__server_error(c->server, c, why->code, why->kind, why->message);
  if (c->state != WEFT__SP_OPEN) return;
  c->state = WEFT__SP_ENDED;
  weft__server_remove_open(c->server, c);
}

static int on_closed(weft__conn *conn, const weft__fault *why) {
  (void)why;
  weft_spark *c = spark_of(conn);
  if (!c->was_open && c->auth) c->auth->spark = NULL;
  if (c->was_open) {
    weft__spark_closed(c);
    weft__batch_free(c->batch);
  }
  c->batch = NULL;
  if (!c->refs) {
    weft__spark_free_id(c);
    return 0;
  }
  c->state = WEFT__SP_GONE; /* the block stays until the last release */
  c->server = NULL;
  return 1;
}

int weft_spark_retain(weft_spark *c) {
  if (!c) return WEFT_EINVAL;
  if (c->state == WEFT__SP_GONE) return WEFT_ECLOSED;
  if (c->refs == UINT16_MAX) return WEFT_ERANGE;
  c->refs++;
  return 0;
}

int weft_spark_release(weft_spark *c) {
  if (!c || !c->refs) return WEFT_EINVAL;
  if (--c->refs == 0 && c->state == WEFT__SP_GONE) {
    weft__spark_free_id(c);
    free(c); /* the block's start */
  }
  return 0;
}

const weft__conn_events weft__spark_events = {on_opened,  on_message, on_drained, on_seal,
                                              on_closing, NULL,       on_closed,  on_value};

/* ---- walks, broadcast, heartbeat ---- */

int weft_server_foreach(weft_server *s, int (*fn)(weft_spark *, void *), void *user) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !fn) return WEFT_EINVAL;
  int rc = 0;
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c && rc == 0; c = c->next)
    if (c->state == WEFT__SP_OPEN) rc = fn(c, user);
  weft__server_iter_end(s);
  return rc;
}

int weft__server_broadcast_payload(weft_server *s, weft__payload *p, const weft_value *msg) {
  int n = 0;
  uint32_t by_tran[WEFT__TRANSPORTS_MAX] = {0}; /* deliveries, counted once at the end */
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c; c = c->next) {
    if (c->state != WEFT__SP_OPEN) continue;
    int rc = weft__spark_send_control(c, p, msg);
    if (rc >= 0) {
      if (c->rs) weft__rs_keep(c, p); /* counted here: an application's message */
      n++;
      WEFT__METRIC(by_tran[c->tran]++);
    } else if (rc != WEFT_ENOBUFS) /* a full queue has said so itself */
      weft__server_error(s, c, rc, "queue", "broadcast not delivered to this spark");
  }
  weft__server_iter_end(s);
  (void)by_tran;
  for (size_t t = 0; t < WEFT__TRANSPORTS_MAX; t++) {
    WEFT__METRIC(s->m.msgs_out[t] += by_tran[t]);
    WEFT__METRIC(s->m.bytes_out[t] += (uint64_t)by_tran[t] * p->len);
  }
  return n;
}

int weft_server_write(weft_server *s, const weft_value *msg) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !msg) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  if (s->has_outgoing) {
    int n = weft__spark_broadcast_transformed(s, msg);
    if (s->adapter || s->rs_detached) weft__server_publish_value(s, NULL, msg);
    return n;
  }
  weft__payload *p;
  int rc = weft__server_encode(s, msg, &p);
  if (rc) return rc;
  int n = weft__server_broadcast_payload(s, p, msg);
  if (s->adapter || s->rs_detached) weft__server_publish(s, NULL, p);
  weft__payload_release(p);
  return n;
}

int weft_server_write_raw(weft_server *s, const void *data, size_t len, int binary) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || (!data && len)) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_LISTENING) return WEFT_ESTATE;
  weft__payload *p;
  int rc = weft__payload_message(data, len, binary, &p);
  if (rc) return rc;
  int n = weft__server_broadcast_payload(s, p, NULL);
  if (s->adapter || s->rs_detached) weft__server_publish(s, NULL, p);
  weft__payload_release(p);
  return n;
}

/* ---- heartbeat ---- */

void weft__server_ping(uv_timer_t *t) {
  weft_server *s = t->data;
  char msg[64];
  snprintf(msg, sizeof(msg), "primus::ping::%llu", (unsigned long long)uv_now(s->loop->uv));
  /* uv_now is monotonic; Primus sends Date.now(): use wall-clock ms. */
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) == 0)
    snprintf(msg, sizeof(msg), "primus::ping::%lld",
             (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
  size_t n = strlen(msg) - 14; /* after "primus::ping::" */
  if (n < sizeof(s->ping_value)) {
    memcpy(s->ping_value, msg + 14, n);
    s->ping_len = (uint8_t)n;
  }
  weft_value *v = weft_value_new_string(msg, strlen(msg));
  weft__payload *p = NULL;
  if (!v || weft__server_encode(s, v, &p) != 0) {
    weft_value_free(v);
    return;
  }
  weft__server_iter_begin(s);
  for (weft_spark *c = s->open_head; c; c = c->next) {
    /* A framing with a heartbeat of its own (Vibe), or one that encodes
     * its own messages (fast-tcp, which has none), gets no primus::ping. */
    if (c->state != WEFT__SP_OPEN || c->conn.tran->own_heartbeat || c->conn.tran->conn.encode)
      continue;
    if (!c->alive) {
      s->m.timeouts++;
      weft__server_error(s, c, WEFT_ETIMEDOUT, "timeout", "no answer to the last ping");
      if (c->state == WEFT__SP_OPEN)
        c->conn.tran->conn.close(&c->conn, WEFT__END_GOING_AWAY, "ping timeout");
      continue;
    }
    c->alive &= WEFT__SP_PAUSED;
    weft__spark_send_control(c, p, v);
  }
  weft__server_iter_end(s);
  weft__payload_release(p);
  weft_value_free(v);
}
