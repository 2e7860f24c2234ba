/*
 * The Redis adapter (weft/adapter.h): hiredis on the server's own libuv
 * loop, two connections (commands, and one subscribed to "weft:all"), no
 * threads. What other nodes must deliver is published once per message as
 * an envelope: "W1", the node id (16 bytes), flags (bit 0: binary; bit 1:
 * a sequence follows), the node's publish sequence (u64, decision #24),
 * three u16 counts (rooms, ids, except), those strings each as u16 length +
 * bytes, then the encoded message. Registry, rooms and presence:
 * redis_reg.c; sessions moving between nodes: redis_rs.c ("WC", "WD").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/sds.h>

#include "redis_internal.h"

#define BACKOFF_MIN 100
#define BACKOFF_MAX 5000
#define CONNECT_TIMEOUT 3000 /* ms for both connections to come up */
/* Bytes hiredis may hold unsent for Redis (a slow or stalled Redis): past
 * this, publishes are dropped as while Redis is away. */
#define OBUF_MAX (64u << 20)

void weft__redis_report(weft_redis *r, int code, const char *kind, const char *msg) {
  if (!r->closing) weft__server_error(r->server, NULL, code, kind, msg);
}

/* ---- connections ---- */

static void dial(weft_redis *r);

static void on_retry(uv_timer_t *t) {
  weft_redis *r = t->data;
  if (!r->closing) dial(r);
}

static void schedule(weft_redis *r) {
  if (r->closing || uv_is_active((uv_handle_t *)&r->retry)) return;
  uv_timer_start(&r->retry, on_retry, r->backoff, 0);
  r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
}

/* A connection attempt failed or a link was lost: the other one goes too,
 * so both come back together (subscribed and registered). */
static void lost(weft_redis *r, const char *kind, const char *why) {
  char msg[512];
  snprintf(msg, sizeof(msg), "redis %s:%d: %s", r->host, r->port, why ? why : "connection lost");
  weft__redis_report(r, kind[0] == 'c' ? WEFT_ECONNREFUSED : WEFT_EIO, kind, msg);
  r->dropped_reported = 0;
  for (int i = 0; i < 2; i++) {
    redisAsyncContext *ac = i ? r->sub : r->cmd;
    if (i)
      r->sub = NULL, r->sub_up = 0;
    else
      r->cmd = NULL, r->cmd_up = 0;
    if (ac && !(ac->c.flags & REDIS_DISCONNECTING)) {
      ac->data = NULL; /* its callbacks are not ours any more */
      redisAsyncFree(ac);
    }
  }
  uv_timer_stop(&r->retry); /* a connect deadline */
  schedule(r);
}

/* Both connections are up: the outage (if any) is over. */
static void linked(weft_redis *r) {
  if (!r->cmd_up || !r->sub_up) return;
  uv_timer_stop(&r->retry);
  r->backoff = BACKOFF_MIN;
  r->dropped_reported = 0;
}

static void on_message(redisAsyncContext *ac, void *reply, void *privdata) {
  (void)privdata;
  weft_redis *r = ac->data;
  redisReply *m = reply;
  if (!r || r->closing || !m || m->type != REDIS_REPLY_ARRAY || m->elements != 3) return;
  if (m->element[0]->type != REDIS_REPLY_STRING) return;
  if (strcmp(m->element[0]->str, "subscribe") == 0) { /* now we hear the others */
    r->sub_up = 1;
    linked(r);
    return;
  }
  if (strcmp(m->element[0]->str, "message") != 0) return;
  redisReply *body = m->element[2];
  if (body->type == REDIS_REPLY_STRING) weft__redis_receive(r, body->str, body->len);
}

static void on_connect(const redisAsyncContext *cac, int status) {
  redisAsyncContext *ac = (redisAsyncContext *)cac;
  weft_redis *r = ac->data;
  if (!r) return;
  if (status != REDIS_OK) { /* hiredis frees the context after this */
    if (ac == r->cmd) r->cmd = NULL;
    if (ac == r->sub) r->sub = NULL;
    ac->data = NULL;
    lost(r, "connect", ac->errstr);
    return;
  }
  if (ac == r->sub) { /* up when the subscription is confirmed (on_message) */
    redisAsyncCommand(ac, on_message, NULL, "SUBSCRIBE %s", WEFT__REDIS_CHANNEL);
  } else {
    r->cmd_up = 1;
    weft__redis_register_all(r);
    linked(r);
  }
}

static void on_disconnect(const redisAsyncContext *cac, int status) {
  redisAsyncContext *ac = (redisAsyncContext *)cac;
  weft_redis *r = ac->data;
  (void)status;
  if (!r) return;
  if (ac == r->cmd) r->cmd = NULL, r->cmd_up = 0;
  if (ac == r->sub) r->sub = NULL, r->sub_up = 0;
  ac->data = NULL;
  lost(r, "disconnect", ac->errstr[0] ? ac->errstr : NULL);
}

static redisAsyncContext *dial_one(weft_redis *r) {
  redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
  if (!ac) return NULL;
  if (ac->err || weft__redis_uv_attach(ac, r->uv) != 0) {
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = r;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  return ac;
}

static void on_deadline(uv_timer_t *t) {
  weft_redis *r = t->data;
  if (!r->closing && !(r->cmd_up && r->sub_up)) lost(r, "connect", "connection attempt timed out");
}

static void dial(weft_redis *r) {
  if (!r->cmd) r->cmd = dial_one(r);
  if (!r->sub) r->sub = dial_one(r);
  if (!r->cmd || !r->sub)
    lost(r, "connect", "could not start a connection");
  else
    uv_timer_start(&r->retry, on_deadline, CONNECT_TIMEOUT, 0);
}

/* ---- publish and receive ---- */

static int put_u16(weft__buf *b, size_t v) {
  uint8_t x[2] = {(uint8_t)(v & 0xff), (uint8_t)(v >> 8)};
  return v > 0xffff ? WEFT_ERANGE : weft__buf_append(b, x, 2);
}

static int put_list(weft__buf *b, const char *const *l, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    size_t len = strlen(l[i]);
    rc = put_u16(b, len);
    if (rc == 0) rc = weft__buf_append(b, l[i], len);
  }
  return rc;
}

static void publish(weft_server *s, const weft_recipients *to, const void *data, size_t len,
                    int binary, void *user) {
  weft_redis *r = user;
  s->rs_from = r->node; /* the sessions kept here note it (resume_x.c) */
  s->rs_seq = ++r->seq;
  int full = r->cmd_up && sdslen(r->cmd->c.obuf) > OBUF_MAX;
  if (!r->cmd_up || full) {
    if (!r->dropped_reported)
      weft__redis_report(r, full ? WEFT_ENOBUFS : WEFT_EIO, "connect",
                         full ? "Redis is not keeping up: messages for the other nodes are dropped"
                              : "Redis is away: messages for the other nodes are dropped until "
                                "it is back");
    r->dropped_reported = 1;
    r->dropped++;
    return;
  }
  r->dropped_reported = 0; /* a later drop says so again */
  weft__buf *b = &r->env;
  b->len = 0;
  size_t nr = to ? to->n_rooms : 0, ni = to ? to->n_ids : 0, ne = to ? to->n_except : 0;
  int rc = weft__buf_append(b, "W1", 2);
  if (rc == 0) rc = weft__buf_append(b, r->node, WEFT__REDIS_NODE_LEN);
  if (rc == 0) rc = weft__buf_putc(b, binary ? 3 : 2);
  for (int i = 0; i < 8 && rc == 0; i++)
    rc = weft__buf_putc(b, (uint8_t)(r->seq >> (8 * i)));
  if (rc == 0) rc = put_u16(b, nr);
  if (rc == 0) rc = put_u16(b, ni);
  if (rc == 0) rc = put_u16(b, ne);
  if (rc == 0 && to) rc = put_list(b, to->rooms, nr);
  if (rc == 0 && to) rc = put_list(b, to->ids, ni);
  if (rc == 0 && to) rc = put_list(b, to->except, ne);
  if (rc == 0) rc = weft__buf_append(b, data, len);
  if (rc) {
    weft__redis_report(r, rc, "encode", "message not published to the other nodes");
    return;
  }
  redisAsyncCommand(r->cmd, NULL, NULL, "PUBLISH %s %b", WEFT__REDIS_CHANNEL, b->data, b->len);
  r->published++;
}

/* Reads a u16-counted string list into ptrs[], NUL-terminated copies in
 * `out`; returns the bytes read or -1. */
static long get_list(const uint8_t *p, size_t len, size_t n, const char **ptrs, char **out) {
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    if (len - at < 2) return -1;
    size_t l = p[at] | (size_t)p[at + 1] << 8;
    at += 2;
    if (len - at < l || memchr(p + at, 0, l)) return -1;
    memcpy(*out, p + at, l);
    (*out)[l] = 0;
    ptrs[i] = *out;
    *out += l + 1;
    at += l;
  }
  return (long)at;
}

void weft__redis_receive(weft_redis *r, const char *msg, size_t len) {
  const uint8_t *p = (const uint8_t *)msg;
  size_t head = 2 + WEFT__REDIS_NODE_LEN + 1 + 6;
  if (len >= 2 && p[0] == 'W' && (p[1] == 'C' || p[1] == 'D')) {
    weft__redis_rs_receive(r, msg, len);
    return;
  }
  uint64_t seq = 0;
  size_t flags = 2 + WEFT__REDIS_NODE_LEN;
  if (len > flags && (p[flags] & 2)) { /* its sequence */
    for (size_t i = 8; i > 0 && len >= flags + 9; i--)
      seq = seq << 8 | p[flags + i];
    head += 8;
  }
  if (len < head || memcmp(p, "W1", 2) != 0) {
    weft__redis_report(r, WEFT_EPARSE, "invalid", "a message on the cluster channel is not ours");
    return;
  }
  if (memcmp(p + 2, r->node, WEFT__REDIS_NODE_LEN) == 0) return; /* our own */
  const uint8_t *c = p + head - 6;
  size_t n[3] = {c[0] | (size_t)c[1] << 8, c[2] | (size_t)c[3] << 8, c[4] | (size_t)c[5] << 8};
  size_t total = n[0] + n[1] + n[2];
  /* Every string is at most its own bytes plus a NUL: len bounds them. */
  char *block = total ? malloc(total * sizeof(char *) + len) : NULL;
  if (total && !block) {
    weft__redis_report(r, WEFT_ENOMEM, "invalid", "a cluster message was not delivered");
    return;
  }
  const char **ptrs = (const char **)(void *)block;
  char *strs = block + total * sizeof(char *);
  size_t at = head;
  for (int k = 0; k < 3; k++) {
    long used = get_list(p + at, len - at, n[k], ptrs + (k ? n[0] : 0) + (k > 1 ? n[1] : 0), &strs);
    if (used < 0) {
      free(block);
      weft__redis_report(r, WEFT_EPARSE, "invalid", "a malformed message on the cluster channel");
      return;
    }
    at += (size_t)used;
  }
  weft_recipients to = {sizeof(to), ptrs, n[0], ptrs + n[0], n[1], ptrs + n[0] + n[1], n[2]};
  r->server->rs_from = msg + 2; /* what sessions keep, with its origin */
  r->server->rs_seq = seq;
  int rc = weft_server_deliver(r->server, &to, p + at, len - at, (p[2 + WEFT__REDIS_NODE_LEN] & 1));
  r->server->rs_from = NULL;
  r->server->rs_seq = 0;
  weft__redis_rs_seen(r, msg + 2, seq);
  if (rc < 0 && rc != WEFT_ESTATE && rc != WEFT_ECLOSED)
    weft__redis_report(r, rc, "invalid", "a cluster message could not be delivered here");
  free(block);
}

/* ---- life ---- */

static void on_closed(uv_handle_t *h) {
  weft_redis *r = h->data;
  if (--r->handles) return;
  weft__buf_free(&r->env);
  weft__buf_free(&r->leaves);
  weft__buf_free(&r->rs_buf);
  free(r->origins);
  free(r);
}

static void destroy(void *user) {
  weft_redis *r = user;
  r->closing = 1;
  if (r->server->adapter_user == r) { /* the server is closed: nothing publishes now */
    r->server->adapter = NULL;
    r->server->adapter_user = NULL;
  }
  weft__redis_presence_cancel(r);
  if (r->server->rs_hooks == &r->hooks) r->server->rs_hooks = NULL;
  for (int i = 0; i < 2; i++) {
    redisAsyncContext *ac = i ? r->sub : r->cmd;
    if (!ac) continue;
    ac->data = NULL;
    redisAsyncFree(ac);
  }
  r->cmd = r->sub = NULL;
  uv_close((uv_handle_t *)&r->retry, on_closed);
  uv_close((uv_handle_t *)&r->refresh, on_closed);
}

static const weft_plugin_ops plugin_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = WEFT__REDIS_PLUGIN,
    .connection = weft__redis_connection,
    .disconnection = weft__redis_disconnection,
    .destroy = destroy,
};

static const weft_adapter_ops adapter_ops = {
    .version = WEFT_ADAPTER_VERSION,
    .size = sizeof(weft_adapter_ops),
    .name = "redis",
    .publish = publish,
    .membership = weft__redis_membership,
    .presence = weft__redis_presence,
};

/* redis://host[:port][/…] (a database number is not used: pub/sub ignores it). */
static int parse_url(const char *url, char *host, size_t cap, int *port) {
  if (!url) url = "redis://127.0.0.1:6379";
  if (strncmp(url, "redis://", 8) != 0) return WEFT_EINVAL;
  const char *h = url + 8, *end = h + strcspn(h, "/?#"), *colon = memchr(h, ':', (size_t)(end - h));
  size_t hl = (size_t)((colon ? colon : end) - h);
  if (hl == 0 || hl >= cap || memchr(h, '@', (size_t)(end - h))) return WEFT_EINVAL;
  memcpy(host, h, hl);
  host[hl] = 0;
  *port = 6379;
  if (colon) {
    char *stop;
    long v = strtol(colon + 1, &stop, 10);
    if (stop != end || colon + 1 == end || v < 1 || v > 65535) return WEFT_EINVAL;
    *port = (int)v;
  }
  return 0;
}

int weft_redis_attach(weft_server *s, const char *url, uint32_t ttl_ms) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  char host[256];
  int port;
  if (parse_url(url, host, sizeof(host), &port)) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return WEFT_ESTATE;
  if (s->adapter) return WEFT_EEXIST;
  weft_rooms *rooms;
  if (!weft_rooms_of_server(s) && weft_rooms_server(s, &rooms) != 0) return WEFT_ENOMEM;
  weft_redis *r = calloc(1, sizeof(*r));
  if (!r) return WEFT_ENOMEM;
  r->server = s;
  r->uv = s->loop->uv;
  memcpy(r->host, host, sizeof(host));
  r->port = port;
  r->ttl_ms = ttl_ms ? ttl_ms : 10000;
  r->backoff = BACKOFF_MIN;
  uint8_t id[WEFT__REDIS_NODE_LEN / 2];
  if (weft__rand_bytes(&s->rand, id, sizeof(id))) {
    free(r);
    return WEFT_ENOMEM;
  }
  for (size_t i = 0; i < sizeof(id); i++)
    snprintf(r->node + 2 * i, 3, "%02x", id[i]);
  uv_timer_init(r->uv, &r->retry);
  uv_timer_init(r->uv, &r->refresh);
  r->retry.data = r->refresh.data = r;
  r->handles = 2;
  int rc = weft_server_use(s, &plugin_ops, r); /* destroy runs on error */
  if (rc) return rc;
  weft_server_set_adapter(s, &adapter_ops, r);
  weft__redis_rs_attach(r);
  uint32_t every = r->ttl_ms / 3 ? r->ttl_ms / 3 : 1;
  uv_timer_start(&r->refresh, weft__redis_refresh, every, every);
  uv_unref((uv_handle_t *)&r->refresh);
  dial(r);
  return 0;
}

int weft_redis_linked(weft_server *s) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  weft_redis *r = s ? weft_server_plugin(s, WEFT__REDIS_PLUGIN) : NULL;
  if (!r) return WEFT_EINVAL;
  return r->cmd_up && r->sub_up;
}

int weft_redis_set_ttl(weft_server *s, uint32_t ttl_ms) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  weft_redis *r = s ? weft_server_plugin(s, WEFT__REDIS_PLUGIN) : NULL;
  if (!s || !ttl_ms) return WEFT_EINVAL;
  if (!r) return WEFT_ESTATE;
  r->ttl_ms = ttl_ms;
  uint32_t every = ttl_ms / 3 ? ttl_ms / 3 : 1;
  uv_timer_start(&r->refresh, weft__redis_refresh, every, every);
  return 0;
}
