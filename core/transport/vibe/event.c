/*
 * Vibe's events and the emitter's packets, both ways, with no I/O (the
 * fuzz target's way in). A Vibe event is {"id", "type", "data", "reply"}
 * (vibe-protocol 3.0.0-Alpha9, lib/socket.js and lib/server.js); the
 * emitter's is {"type": 0, "data": [name, arg], "id": N} and its answer
 * {"type": 1, "id": N, "data": [null, value]} or [reason] (weft/ext.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/json.h"
#include "vibe.h"

/* Straight into out: no encoder looked up by name, no copy. */
static int append_json(weft__buf *out, const weft_value *v) { return weft__json_encode(v, out); }

static int append(weft__buf *out, const char *s) { return weft__buf_append(out, s, strlen(s)); }

static int get_bool(const weft_value *v) {
  int b = 0;
  return v && weft_value_get_bool(v, &b) == 0 && b;
}

/* A decimal uint32 without sign or leading zero (our own reply ids). */
static int parse_u32(const weft_value *v, uint32_t *out) {
  const char *s;
  size_t n;
  if (!v || weft_value_get_string(v, &s, &n) != 0 || n == 0 || n > 10 || (s[0] == '0' && n > 1))
    return 0;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    x = x * 10 + (uint64_t)(s[i] - '0');
  }
  if (x == 0 || x > UINT32_MAX) return 0;
  *out = (uint32_t)x;
  return 1;
}

/* Decoded in `arena` when given (reset by weft__vibe_in_free), else in a
 * value of its own. */
static int parse_in(const uint8_t *text, size_t len, weft__arena *arena, weft__vibe_in *in) {
  memset(in, 0, sizeof(*in));
  int rc;
  if (arena) {
    in->arena = arena;
    rc = weft__json_decode(text, len, 0, arena, &in->root, NULL);
  } else {
    rc = weft_value_decode("json", text, len, &in->owned, NULL);
    in->root = in->owned;
  }
  if (rc) {
    weft__vibe_in_free(in);
    return rc;
  }
  const weft_value *type = weft_value_map_get(in->root, "type", 4);
  if (weft_value_type(in->root) != WEFT_MAP || !type ||
      weft_value_get_string(type, &in->type, &in->type_len) != 0 || in->type_len == 0 ||
      memchr(in->type, 0, in->type_len)) {
    weft__vibe_in_free(in);
    return WEFT_EPROTO;
  }
  in->data = weft_value_map_get(in->root, "data", 4);
  in->id = weft_value_map_get(in->root, "id", 2);
  in->reply = get_bool(weft_value_map_get(in->root, "reply", 5));
  in->kind = WEFT__VIBE_EVENT;
  in->type_v = type;
  if (in->type_len == 9 && memcmp(in->type, "heartbeat", 9) == 0) {
    in->kind = WEFT__VIBE_HEARTBEAT;
  } else if (in->type_len == 5 && memcmp(in->type, "reply", 5) == 0) {
    /* An answer to one of ours: {"id": "N", "data": v, "exception": b}. */
    in->kind = WEFT__VIBE_REPLY;
    if (weft_value_type(in->data) != WEFT_MAP ||
        !parse_u32(weft_value_map_get(in->data, "id", 2), &in->ack))
      in->ack = 0; /* not one of ours: dropped, as the reference drops it */
    in->exception = get_bool(weft_value_map_get(in->data, "exception", 9));
  }
  if (in->reply && !in->id) in->reply = 0; /* nothing to answer to */
  return 0;
}

int weft__vibe_parse(const uint8_t *text, size_t len, weft__vibe_in *in) {
  return parse_in(text, len, NULL, in);
}

void weft__vibe_in_free(weft__vibe_in *in) {
  weft_value_free(in->owned);
  if (in->arena) weft__arena_reset(in->arena);
  in->owned = NULL;
  in->root = NULL;
  in->arena = NULL;
}

/* Borrowed nodes (no ownership flag): the packet frees nothing. */
static void str_node(weft_value *v, const char *s, size_t n) {
  memset(v, 0, sizeof(*v));
  v->type = WEFT_STRING;
  v->flags = WEFT__VF_PLAIN; /* only our keys: plain ASCII */
  v->len = n;
  v->u.str = s;
}

static void int_node(weft_value *v, int64_t i) {
  memset(v, 0, sizeof(*v));
  v->type = WEFT_INT;
  v->u.i = i;
}

static void copy_node(weft_value *v, const weft_value *from) {
  *v = *from;
  v->flags &= WEFT__VF_PLAIN; /* a view of the decoded node: it owns nothing */
}

static void seq_node(weft_value *v, weft_type type, weft_value *items, size_t len) {
  memset(v, 0, sizeof(*v));
  v->type = (uint8_t)type;
  v->len = len;
  v->u.items = items;
}

const weft_value *weft__vibe_packet_of(const weft__vibe_in *in, uint32_t n, weft__vibe_packet *pk) {
  weft_value *m = pk->map, *a = pk->args;
  size_t k = 0;
  str_node(&m[0], "type", 4);
  int_node(&m[1], in->kind == WEFT__VIBE_REPLY);
  if (in->kind == WEFT__VIBE_REPLY) {
    /* {"type":1,"id":N,"data":[null, v]} resolved, [v] rejected */
    const weft_value *v = weft_value_map_get(in->data, "data", 4);
    str_node(&m[2], "id", 2);
    int_node(&m[3], in->ack);
    str_node(&m[4], "data", 4);
    if (!in->exception) seq_node(&a[k++], WEFT_NULL, NULL, 0);
    if (v)
      copy_node(&a[k++], v);
    else
      seq_node(&a[k++], WEFT_NULL, NULL, 0);
    seq_node(&m[5], WEFT_ARRAY, a, k);
    seq_node(&pk->root, WEFT_MAP, m, 3);
    return &pk->root;
  }
  /* {"type":0,"data":[name, data],"id":n} */
  copy_node(&a[k++], in->type_v);
  if (in->data) copy_node(&a[k++], in->data);
  str_node(&m[2], "data", 4);
  seq_node(&m[3], WEFT_ARRAY, a, k);
  if (n) {
    str_node(&m[4], "id", 2);
    int_node(&m[5], n);
  }
  seq_node(&pk->root, WEFT_MAP, m, n ? 3 : 2);
  return &pk->root;
}

int weft__vibe_to_emitter(const weft__vibe_in *in, uint32_t n, weft__buf *out) {
  weft__vibe_packet pk;
  return weft__json_encode(weft__vibe_packet_of(in, n, &pk), out);
}

int weft__vibe_id_json(const weft__vibe_in *in, char **out) {
  weft__buf b = {0};
  int rc = append_json(&b, in->id);
  if (!rc) rc = weft__buf_putc(&b, 0);
  if (rc) {
    weft__buf_free(&b);
    return rc;
  }
  *out = (char *)b.data;
  return 0;
}

/* {"id":"n<seq>","type":<type>,"data":<data>,"reply":<reply>} with the
 * type and data already JSON (data NULL: none). */
static int event(weft__buf *out, const char *id, const weft_value *type, const char *type_json,
                 const weft_value *data, int reply) {
  int rc = append(out, "{\"id\":");
  if (!rc) rc = append(out, id);
  if (!rc) rc = append(out, ",\"type\":");
  if (!rc) rc = type ? append_json(out, type) : append(out, type_json);
  if (!rc && data) rc = append(out, ",\"data\":");
  if (!rc && data) rc = append_json(out, data);
  if (!rc) rc = append(out, reply ? ",\"reply\":true}" : ",\"reply\":false}");
  return rc;
}

/* "\"n<seq>\"" into id[0..24): by hand, as every event sent names itself
 * (snprintf cost ~780 instructions an event under callgrind). */
static void seq_id(char *id, uint64_t seq) {
  char d[20];
  size_t k = 0, o = 0;
  do
    d[k++] = (char)('0' + seq % 10);
  while ((seq /= 10) != 0);
  id[o++] = '"';
  id[o++] = 'n';
  while (k)
    id[o++] = d[--k];
  id[o++] = '"';
  id[o] = '\0';
}

int weft__vibe_from_value(const weft_value *v, uint64_t seq,
                          const char *(*reply_id)(uint32_t n, void *user), void *user,
                          weft__buf *out) {
  char id[32];
  seq_id(id, seq);
  const weft_value *type = weft_value_map_get(v, "type", 4);
  const weft_value *data = weft_value_map_get(v, "data", 4);
  int64_t t = -1, n = 0;
  if (weft_value_type(v) != WEFT_MAP || !type || weft_value_get_int(type, &t) != 0 || t < 0 ||
      t > 4 || weft_value_type(data) != WEFT_ARRAY)
    return event(out, id, NULL, "\"message\"", v, 0); /* a plain write */
  weft_value_get_int(weft_value_map_get(v, "id", 2), &n);
  size_t k = weft_value_len(data);
  if (t == 0 && k >= 1 && weft_value_type(weft_value_array_at(data, 0)) == WEFT_STRING) {
    char rid[32];
    if (n > 0 && n <= UINT32_MAX) snprintf(rid, sizeof(rid), "\"%lld\"", (long long)n);
    return event(out, n > 0 ? rid : id, weft_value_array_at(data, 0), NULL,
                 k >= 2 ? weft_value_array_at(data, 1) : NULL, n > 0);
  }
  if (t != 1 || k < 1 || n <= 0 || n > UINT32_MAX)
    return WEFT_EUNSUPPORTED; /* channels have no Vibe form */
  /* The emitter answers one of the peer's events: a Vibe reply. */
  const char *to = reply_id((uint32_t)n, user);
  int ok = k >= 2 && weft_value_type(weft_value_array_at(data, 0)) == WEFT_NULL;
  const weft_value *val = weft_value_array_at(data, ok ? 1 : 0);
  int rc = !to ? WEFT_ENOENT : append(out, "{\"id\":");
  if (!rc) rc = append(out, id);
  if (!rc) rc = append(out, ",\"type\":\"reply\",\"data\":{\"id\":");
  if (!rc) rc = append(out, to);
  if (!rc) rc = append(out, ",\"data\":");
  if (!rc) rc = append_json(out, val);
  if (!rc)
    rc = append(out, ok ? ",\"exception\":false},\"reply\":false}"
                        : ",\"exception\":true},\"reply\":false}");
  return rc;
}

int weft__vibe_from_message(const uint8_t *msg, size_t len, uint64_t seq,
                            const char *(*reply_id)(uint32_t n, void *user), void *user,
                            weft__arena *scratch, weft__buf *out) {
  weft__arena own;
  weft__arena *arena = scratch ? scratch : &own;
  if (!scratch) weft__arena_init(&own);
  const weft_value *v;
  int rc = weft__json_decode(msg, len, 0, arena, &v, NULL);
  if (!rc) rc = weft__vibe_from_value(v, seq, reply_id, user, out);
  if (scratch)
    weft__arena_reset(scratch); /* its first block stays: no malloc an event */
  else
    weft__arena_free(&own);
  return rc;
}

/* ---- the peer's events that wait for an answer ---- */

uint32_t weft__vibe_pend_add(weft__vibe_pend *p, const weft__vibe_in *in) {
  if (p->len == WEFT__VIBE_PENDING_MAX) return 0;
  if (p->len == p->cap) {
    uint32_t cap = p->cap ? p->cap * 2 : 4;
    weft__vibe_pending *items = realloc(p->items, cap * sizeof(*items));
    if (!items) return 0;
    p->items = items;
    p->cap = cap;
  }
  char *id;
  if (weft__vibe_id_json(in, &id) != 0) return 0;
  if (++p->next == 0) p->next = 1;
  p->items[p->len].n = p->next;
  p->items[p->len].id = id;
  p->len++;
  return p->next;
}

const char *weft__vibe_pend_take(uint32_t n, void *user) {
  weft__vibe_pend *p = user;
  for (uint32_t i = 0; i < p->len; i++)
    if (p->items[i].n == n) {
      free(p->taken);
      p->taken = p->items[i].id;
      p->items[i] = p->items[--p->len];
      return p->taken;
    }
  return NULL;
}

void weft__vibe_pend_done(weft__vibe_pend *p) {
  free(p->taken);
  p->taken = NULL;
}

void weft__vibe_pend_free(weft__vibe_pend *p) {
  for (uint32_t i = 0; i < p->len; i++)
    free(p->items[i].id);
  free(p->items);
  free(p->taken);
  memset(p, 0, sizeof(*p));
}

int weft__vibe_incoming(weft__vibe_pend *p, const uint8_t *text, size_t len, weft__arena *arena,
                        weft__vibe_in *in, weft__vibe_packet *pk, const weft_value **pkt) {
  *pkt = NULL;
  int rc = parse_in(text, len, arena, in);
  if (rc) return rc;
  if (in->kind == WEFT__VIBE_HEARTBEAT) return 1;
  if (in->kind == WEFT__VIBE_REPLY && !in->ack) return 0; /* an answer to nothing we asked */
  uint32_t n = 0;
  if (in->kind == WEFT__VIBE_EVENT && in->reply && (n = weft__vibe_pend_add(p, in)) == 0)
    return WEFT_ENOBUFS;
  *pkt = weft__vibe_packet_of(in, n, pk);
  return 0;
}

void weft__vibe_deliver(weft__conn *c, const weft_value *pkt, size_t len) {
  if (!c->owner) return;
  if (c->ev->value) {
    c->ev->value(c, pkt, len);
    return;
  }
  weft__buf b = {0};
  if (c->ev->message && weft__json_encode(pkt, &b) == 0) c->ev->message(c, 0, b.data, b.len);
  weft__buf_free(&b);
}
