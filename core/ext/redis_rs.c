/*
 * Connection-state recovery across nodes on Redis (decision #24). The
 * owner of a detached session parks it: "weft:rs:<id>" holds its header
 * (owner node, token, the count before its first stored message, rooms),
 * "weft:rsq:<id>" a list ("H", then one entry per message: a flag byte, 1
 * binary, then the encoded message), both expiring with the window; while
 * the session is away the owner appends each message it keeps (RPUSHX:
 * never after the list is gone). A node where the client comes back reads
 * the header, checks the token, and claims with one script that deletes
 * the header only if it is unchanged and publishes "WC" (owner, claimer,
 * id) on the channel: one claimer wins. The owner, reading "WC" in the
 * channel's order, stops, and publishes "WD" (claimer, ok, its marks: the
 * last sequence it saw from each node, then the id) after its last append;
 * the claimer then takes the list (one script: LRANGE and DEL) and builds
 * the session (core/primus/resume_x.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

#define CLAIM_SCRIPT                                                                               \
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) "                      \
  "redis.call('PUBLISH', ARGV[3], ARGV[2]) return 1 end return 0"
#define TAKE_SCRIPT                                                                                \
  "local v = redis.call('LRANGE', KEYS[1], 0, -1) redis.call('DEL', KEYS[1]) return v"
#define NODE WEFT__REDIS_NODE_LEN

static int entry(weft__buf *b, const weft__payload *p) {
  int rc = weft__buf_putc(b, (p->kind & WEFT__P_BINARY) ? 1 : 0);
  return rc ? rc : weft__buf_append(b, p->data, p->len);
}

static int park(void *user, weft__rs *rs) {
  weft_redis *r = user;
  const char *id = weft__rs_id(rs), *const * rooms;
  size_t n_rooms = weft__rs_room_list(rs, &rooms);
  uint32_t len = weft__rs_len(rs), window = r->server->rs_window;
  if (!r->cmd_up) return WEFT_EIO;
  weft__buf *b = &r->rs_buf;
  b->len = 0;
  char num[32];
  snprintf(num, sizeof(num), "\n%llu\n", (unsigned long long)weft__rs_base(rs));
  int rc = weft__buf_append(b, r->node, NODE);
  if (rc == 0) rc = weft__buf_putc(b, '\n');
  if (rc == 0) rc = weft__buf_append(b, weft__rs_token(rs), strlen(weft__rs_token(rs)));
  if (rc == 0) rc = weft__buf_append(b, num, strlen(num));
  for (size_t i = 0; i < n_rooms && rc == 0; i++) {
    if (strchr(rooms[i], '\n')) return WEFT_EINVAL; /* not storable: stays on this node */
    rc = weft__buf_append(b, rooms[i], strlen(rooms[i]));
    if (rc == 0) rc = weft__buf_putc(b, '\n');
  }
  if (rc) return rc;
  redisAsyncCommand(r->cmd, NULL, NULL, "SET weft:rs:%s %b PX %u", id, b->data, b->len, window);
  /* The ring: "RPUSH key H e1 e2 ...", entries side by side in b. */
  size_t argc = 3 + (size_t)len, *lens = malloc(argc * sizeof(*lens));
  size_t *off = malloc(((size_t)len + 1) * sizeof(*off));
  const char **argv = malloc(argc * sizeof(*argv));
  char key[96];
  snprintf(key, sizeof(key), "weft:rsq:%s", id);
  b->len = 0;
  for (uint32_t i = 0; lens && off && argv && i < len && rc == 0; i++) {
    off[i] = b->len;
    rc = entry(b, weft__rs_at(rs, i));
  }
  if (!lens || !off || !argv || rc) {
    free(lens);
    free(off);
    free(argv);
    return rc ? rc : WEFT_ENOMEM;
  }
  off[len] = b->len;
  for (uint32_t i = 0; i < len; i++) {
    argv[3 + i] = (const char *)b->data + off[i];
    lens[3 + i] = off[i + 1] - off[i];
  }
  argv[0] = "RPUSH", argv[1] = key, argv[2] = "H";
  lens[0] = 5, lens[1] = strlen(key), lens[2] = 1;
  redisAsyncCommand(r->cmd, NULL, NULL, "DEL %s", key);
  redisAsyncCommandArgv(r->cmd, NULL, NULL, (int)argc, argv, lens);
  redisAsyncCommand(r->cmd, NULL, NULL, "PEXPIRE %s %u", key, window);
  free(lens);
  free(off);
  free(argv);
  return 0;
}

static int record(void *user, const char *id, const weft__payload *p) {
  weft_redis *r = user;
  if (!r->cmd_up) return WEFT_EIO;
  r->rs_buf.len = 0;
  int rc = entry(&r->rs_buf, p);
  if (rc) return rc;
  redisAsyncCommand(r->cmd, NULL, NULL, "RPUSHX weft:rsq:%s %b", id, r->rs_buf.data, r->rs_buf.len);
  return 0;
}

static void unpark(void *user, const char *id) {
  weft_redis *r = user;
  if (r->cmd_up) redisAsyncCommand(r->cmd, NULL, NULL, "DEL weft:rs:%s weft:rsq:%s", id, id);
}

/* ---- the claiming node ---- */

typedef struct take_ctx {
  char id[64];
  size_t n;
  weft__redis_origin marks[];
} take_ctx;

/* The pending session a reply is for (NULL: it ended meanwhile). */
static weft__rs *pending_of(redisAsyncContext *ac, const char *id) {
  weft_redis *r = ac->data;
  return r && !r->closing ? weft__rs_pending(r->server, id) : NULL;
}

static void on_claim(redisAsyncContext *ac, void *reply, void *priv) {
  redisReply *rep = reply;
  weft__rs *pend = pending_of(ac, priv);
  if (pend && !(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1))
    weft__rs_claimed(pend, 0, NULL, 0, NULL, 0); /* else the owner answers "WD" */
  free(priv);
}

static void on_header(redisAsyncContext *ac, void *reply, void *priv) {
  redisReply *rep = reply;
  weft_redis *r = ac->data;
  weft__rs *pend = pending_of(ac, priv);
  char *copy = NULL, **rooms = NULL;
  if (!pend) goto done;
  /* node \n token \n base \n (room \n)* */
  char *tok, *base, *nl;
  size_t n = 0;
  if (!rep || rep->type != REDIS_REPLY_STRING || rep->len < NODE + 1 || rep->str[NODE] != '\n' ||
      !(copy = malloc(rep->len + 1)) || !(rooms = malloc(rep->len * sizeof(*rooms))))
    goto refuse;
  memcpy(copy, rep->str, rep->len);
  copy[rep->len] = '\0';
  tok = copy + NODE + 1;
  if (!(base = strchr(tok, '\n')) || !weft__rs_token_is(pend, tok, (size_t)(base - tok)) ||
      !(nl = strchr(++base, '\n')))
    goto refuse;
  *nl = '\0';
  for (char *at = nl + 1; (nl = strchr(at, '\n')); at = nl + 1) {
    *nl = '\0';
    rooms[n++] = at;
  }
  if (weft__rs_pending_rooms(pend, rooms, n, strtoull(base, NULL, 10))) goto refuse;
  /* The marker: "WC", the owner, this node, the id. */
  weft__buf *b = &r->rs_buf;
  b->len = 0;
  if (weft__buf_append(b, "WC", 2) || weft__buf_append(b, rep->str, NODE) ||
      weft__buf_append(b, r->node, NODE) || weft__buf_append(b, priv, strlen(priv)))
    goto refuse;
  if (redisAsyncCommand(r->cmd, on_claim, priv, "EVAL %s 1 weft:rs:%s %b %b %s", CLAIM_SCRIPT,
                        (char *)priv, rep->str, rep->len, b->data, b->len,
                        WEFT__REDIS_CHANNEL) == REDIS_OK) {
    priv = NULL;
    goto done;
  }
refuse:
  weft__rs_claimed(pend, 0, NULL, 0, NULL, 0);
done:
  free(copy);
  free(rooms);
  free(priv);
}

static int claim(void *user, weft__rs *pend) {
  weft_redis *r = user;
  char *id = r->cmd_up ? strdup(weft__rs_id(pend)) : NULL;
  if (!id) return WEFT_EIO;
  if (redisAsyncCommand(r->cmd, on_header, id, "GET weft:rs:%s", id) != REDIS_OK) {
    free(id);
    return WEFT_EIO;
  }
  return 0;
}

static void on_take(redisAsyncContext *ac, void *reply, void *priv) {
  take_ctx *k = priv;
  redisReply *rep = reply;
  weft__rs *pend = pending_of(ac, k->id);
  weft__rs_entry *e = NULL;
  weft__rs_mark *m = NULL;
  int ok = pend && rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
           rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len == 1 &&
           (e = malloc(rep->elements * sizeof(*e))) && (m = malloc((k->n + 1) * sizeof(*m)));
  size_t n = 0;
  for (size_t i = 1; ok && i < rep->elements; i++) {
    if (rep->element[i]->type != REDIS_REPLY_STRING) ok = 0;
    e[n].data = rep->element[i]->str;
    e[n++].len = rep->element[i]->len;
  }
  for (size_t i = 0; ok && i < k->n; i++)
    m[i].node = k->marks[i].node, m[i].seq = k->marks[i].seq;
  if (pend) weft__rs_claimed(pend, ok, e, n, m, ok ? k->n : 0);
  free(e);
  free(m);
  free(k);
}

/* "WD": claimer, ok, u16 marks, marks (node, u64 seq), id. */
static void handed(weft_redis *r, const uint8_t *p, size_t len) {
  if (len < 2 + NODE + 3 || memcmp(p + 2, r->node, NODE) != 0) return;
  size_t nm = p[2 + NODE + 1] | (size_t)p[2 + NODE + 2] << 8, at = 2 + NODE + 3;
  if (len - at < nm * (NODE + 8) || len - at - nm * (NODE + 8) >= 64) return;
  size_t idlen = len - at - nm * (NODE + 8);
  char id[64];
  memcpy(id, p + at + nm * (NODE + 8), idlen);
  id[idlen] = '\0';
  weft__rs *pend = weft__rs_pending(r->server, id);
  if (!pend) return;
  take_ctx *k = p[2 + NODE] == 1 ? malloc(sizeof(*k) + nm * sizeof(k->marks[0])) : NULL;
  if (!k) return weft__rs_claimed(pend, 0, NULL, 0, NULL, 0);
  memcpy(k->id, id, idlen + 1);
  k->n = nm;
  for (size_t i = 0; i < nm; i++, at += NODE + 8) {
    memcpy(k->marks[i].node, p + at, NODE);
    k->marks[i].seq = 0;
    for (size_t b = 8; b > 0; b--)
      k->marks[i].seq = k->marks[i].seq << 8 | p[at + NODE + b - 1];
  }
  if (!r->cmd_up ||
      redisAsyncCommand(r->cmd, on_take, k, "EVAL %s 1 weft:rsq:%s", TAKE_SCRIPT, id) != REDIS_OK) {
    free(k);
    weft__rs_claimed(pend, 0, NULL, 0, NULL, 0);
  }
}

/* ---- the owner ---- */

static int put_mark(weft__buf *b, const char *node, uint64_t seq) {
  int rc = weft__buf_append(b, node, NODE);
  for (int i = 0; i < 8 && rc == 0; i++)
    rc = weft__buf_putc(b, (uint8_t)(seq >> (8 * i)));
  return rc;
}

/* "WC": owner, claimer, id. */
static void claimed(weft_redis *r, const uint8_t *p, size_t len) {
  if (len < 2 + 2 * NODE + 1 || len - 2 - 2 * NODE >= 64 || memcmp(p + 2, r->node, NODE) != 0)
    return;
  char id[64];
  memcpy(id, p + 2 + 2 * NODE, len - 2 - 2 * NODE);
  id[len - 2 - 2 * NODE] = '\0';
  weft__rs *rs = weft__rs_handover(r->server, id);
  weft__buf *b = &r->rs_buf;
  b->len = 0;
  size_t nm = r->n_origins + 1;
  int rc = weft__buf_append(b, "WD", 2);
  if (rc == 0) rc = weft__buf_append(b, p + 2 + NODE, NODE);
  if (rc == 0) rc = weft__buf_putc(b, rs ? 1 : 0);
  if (rc == 0) rc = weft__buf_putc(b, (uint8_t)(nm & 0xff));
  if (rc == 0) rc = weft__buf_putc(b, (uint8_t)(nm >> 8));
  if (rc == 0) rc = put_mark(b, r->node, r->seq);
  for (size_t i = 0; i < r->n_origins && rc == 0; i++)
    rc = put_mark(b, r->origins[i].node, r->origins[i].seq);
  if (rc == 0) rc = weft__buf_append(b, id, strlen(id));
  if (rc == 0 && r->cmd_up && nm <= 0xffff)
    redisAsyncCommand(r->cmd, NULL, NULL, "PUBLISH %s %b", WEFT__REDIS_CHANNEL, b->data, b->len);
  if (rs) weft__rs_release(rs);
}

void weft__redis_rs_receive(weft_redis *r, const char *msg, size_t len) {
  if (msg[1] == 'C')
    claimed(r, (const uint8_t *)msg, len);
  else
    handed(r, (const uint8_t *)msg, len);
}

void weft__redis_rs_seen(weft_redis *r, const char *node, uint64_t seq) {
  for (size_t i = 0; i < r->n_origins; i++)
    if (memcmp(r->origins[i].node, node, NODE) == 0) {
      if (seq > r->origins[i].seq) r->origins[i].seq = seq;
      return;
    }
  if (r->n_origins == r->cap_origins) {
    size_t cap = r->cap_origins ? r->cap_origins * 2 : 8;
    weft__redis_origin *o = cap <= 0xfffe ? realloc(r->origins, cap * sizeof(*o)) : NULL;
    if (!o) return; /* no memory: a claim may then repeat its messages */
    r->origins = o;
    r->cap_origins = cap;
  }
  memcpy(r->origins[r->n_origins].node, node, NODE);
  r->origins[r->n_origins++].seq = seq;
}

void weft__redis_rs_attach(weft_redis *r) {
  weft__rs_hooks h = {r, park, record, unpark, claim};
  r->hooks = h;
  r->server->rs_hooks = &r->hooks;
}
