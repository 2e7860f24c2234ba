/* The Redis adapter's parts: connections and pub/sub (redis.c), the spark
 * registry, rooms and presence (redis_reg.c). */
#ifndef WEFT__REDIS_INTERNAL_H
#define WEFT__REDIS_INTERNAL_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "base/buf.h"
#include "ext_internal.h"
#include "weft/adapter.h"

#define WEFT__REDIS_PLUGIN "weft.redis"
#define WEFT__REDIS_CHANNEL "weft:all"
#define WEFT__REDIS_NODE_LEN 16

typedef struct weft__redis_query weft__redis_query;
typedef struct weft__redis_origin {
  char node[WEFT__REDIS_NODE_LEN];
  uint64_t seq;
} weft__redis_origin;

typedef struct weft_redis {
  weft_server *server;
  uv_loop_t *uv;
  char host[256];
  int port;
  uint32_t ttl_ms;
  char node[WEFT__REDIS_NODE_LEN + 1]; /* this node's id, hex */
  redisAsyncContext *cmd, *sub;        /* NULL while away */
  int cmd_up, sub_up;                  /* connected (sub: subscribe sent) */
  uv_timer_t retry, refresh;
  uint32_t backoff; /* ms before the next attempt */
  int closing, handles;
  int dropped_reported; /* the drop policy said so in this outage */
  uint64_t published, dropped;
  weft__buf env;    /* the envelope of one publish, reused */
  weft__buf leaves; /* "room\0id\0" left while Redis was away */
  size_t n_leaves;
  weft__redis_query *queries;
  /* sessions between nodes (redis_rs.c, decision #24) */
  uint64_t seq;                /* this node's publish sequence */
  weft__redis_origin *origins; /* the last sequence seen from each node */
  size_t n_origins, cap_origins;
  weft__rs_hooks hooks;
  weft__buf rs_buf; /* one stored message, reused */
} weft_redis;

/* redis.c */
void weft__redis_report(weft_redis *r, int code, const char *kind, const char *msg);
void weft__redis_receive(weft_redis *r, const char *msg, size_t len);

/* redis_rs.c: recovery across nodes (decision #24). */
void weft__redis_rs_attach(weft_redis *r);
/* A "WC" (claimed) or "WD" (handed over) message on the channel. */
void weft__redis_rs_receive(weft_redis *r, const char *msg, size_t len);
/* A message of `node` (16 bytes) with sequence seq was delivered here. */
void weft__redis_rs_seen(weft_redis *r, const char *node, uint64_t seq);

/* redis_uv.c: the context's events on the loop. Errors: WEFT_EINVAL
 * (attached already), WEFT_ENOMEM, WEFT_EIO. */
int weft__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

/* redis_reg.c */
void weft__redis_connection(weft_spark *spark, void *user);
void weft__redis_disconnection(weft_spark *spark, void *user);
void weft__redis_membership(weft_server *s, weft_spark *spark, const char *room, int join,
                            void *user);
int weft__redis_presence(weft_server *s, const char *room, weft_presence_cb cb, void *cb_user,
                         void *user);
/* Every local spark and its rooms again (after a reconnect). */
void weft__redis_register_all(weft_redis *r);
/* The refresh timer: every local spark's key gets its expiry again. */
void weft__redis_refresh(uv_timer_t *t);
/* Answers pending presence questions with WEFT_ECLOSED (the adapter goes). */
void weft__redis_presence_cancel(weft_redis *r);

#endif
