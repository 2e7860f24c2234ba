/*
 * The Redis adapter's registry (spark id -> node, with an expiry refreshed
 * while the node lives), room sets and presence. Errors of registration are
 * the server's error events of kind "connect" (a spark or a membership
 * could not be registered) and "disconnect" (could not be removed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

#define KIND(k) ((void *)(uintptr_t)(k))
#define LEAVES_MAX 65536 /* leaves remembered while Redis is away */

struct weft__redis_query {
  weft__redis_query *next, *prev;
  weft_redis *r; /* NULL once answered or cancelled */
  weft_presence_cb cb;
  void *user;
  char **ids;
  size_t n;
  char room[];
};

static void check_reply(redisAsyncContext *ac, void *reply, void *kind) {
  weft_redis *r = ac->data;
  redisReply *rep = reply;
  /* No reply: the link went, and its loss was reported already. */
  if (r && rep && rep->type == REDIS_REPLY_ERROR) weft__redis_report(r, WEFT_EIO, kind, rep->str);
}

static void set_key(weft_redis *r, const char *id) {
  redisAsyncCommand(r->cmd, check_reply, KIND("connect"), "SET weft:spark:%s %s PX %u", id, r->node,
                    (unsigned)r->ttl_ms);
}

static void room_cmd(weft_redis *r, const char *room, const char *id, int join) {
  redisAsyncCommand(r->cmd, check_reply, KIND(join ? "connect" : "disconnect"),
                    join ? "SADD weft:room:%s %s" : "SREM weft:room:%s %s", room, id);
}

void weft__redis_connection(weft_spark *spark, void *user) {
  weft_redis *r = user;
  if (r->cmd_up)
    set_key(r, weft_spark_id(spark));
  else
    weft__redis_report(r, WEFT_EIO, "connect", "spark not registered: Redis is away");
}

void weft__redis_disconnection(weft_spark *spark, void *user) {
  weft_redis *r = user;
  if (r->cmd_up)
    redisAsyncCommand(r->cmd, check_reply, KIND("disconnect"), "DEL weft:spark:%s",
                      weft_spark_id(spark));
  else /* its key expires within the ttl */
    weft__redis_report(r, WEFT_EIO, "disconnect", "spark not removed: Redis is away");
}

void weft__redis_membership(weft_server *s, weft_spark *spark, const char *room, int join,
                            void *user) {
  (void)s;
  weft_redis *r = user;
  const char *id = weft_spark_id(spark);
  if (r->cmd_up) {
    room_cmd(r, room, id, join);
    return;
  }
  if (join) return; /* registered with the others when Redis is back */
  /* A leave is remembered ("room\0id\0") and sent when Redis is back. */
  if (r->n_leaves < LEAVES_MAX && weft__buf_append(&r->leaves, room, strlen(room) + 1) == 0 &&
      weft__buf_append(&r->leaves, id, strlen(id) + 1) == 0) {
    r->n_leaves++;
    return;
  }
  weft__redis_report(r, WEFT_ENOMEM, "disconnect", "a room leave was not kept while Redis is away");
}

static int register_one(weft_spark *spark, void *user) {
  weft_redis *r = user;
  const char *id = weft_spark_id(spark);
  set_key(r, id);
  weft_rooms *rs = weft_rooms_of_server(r->server);
  int n = rs ? weft_rooms_of_spark_count(rs, spark) : 0;
  for (int i = 0; i < n; i++)
    room_cmd(r, weft_rooms_of_spark_at(rs, spark, (size_t)i), id, 1);
  return 0;
}

void weft__redis_register_all(weft_redis *r) {
  for (size_t at = 0; at < r->leaves.len;) {
    const char *room = (const char *)r->leaves.data + at;
    const char *id = room + strlen(room) + 1;
    room_cmd(r, room, id, 0);
    at += strlen(room) + strlen(id) + 2;
  }
  r->leaves.len = 0;
  r->n_leaves = 0;
  weft_server_foreach(r->server, register_one, r);
}

static int refresh_one(weft_spark *spark, void *user) {
  set_key(user, weft_spark_id(spark));
  return 0;
}

void weft__redis_refresh(uv_timer_t *t) {
  weft_redis *r = t->data;
  if (r->cmd_up && !r->closing) weft_server_foreach(r->server, refresh_one, r);
}

/* ---- presence: the room's set, minus members whose key expired ---- */

static void query_free(weft__redis_query *q) {
  for (size_t i = 0; i < q->n; i++)
    free(q->ids[i]);
  free(q->ids);
  free(q);
}

static void unlink_query(weft__redis_query *q) {
  if (q->prev)
    q->prev->next = q->next;
  else if (q->r)
    q->r->queries = q->next;
  if (q->next) q->next->prev = q->prev;
  q->next = q->prev = NULL;
}

static int cmp_id(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Answers once; the query is freed by whoever holds it last (the reply). */
static void answer(weft__redis_query *q, int status, size_t n) {
  weft_redis *r = q->r;
  unlink_query(q);
  q->r = NULL;
  if (n > 1) qsort(q->ids, n, sizeof(*q->ids), cmp_id);
  q->cb(r->server, status, (const char *const *)q->ids, status ? 0 : n, q->user);
}

/* argv of "<cmd> [prefix<id> | <id>]…" for the ids of q (prefix NULL: a
 * key first, then the ids as they are). */
static int send_argv(redisAsyncContext *ac, redisCallbackFn *fn, void *priv, const char *cmd,
                     const char *key, const char *prefix, char **ids, size_t n) {
  size_t argc = 1 + (key ? 1 : 0) + n;
  const char **argv = calloc(argc, sizeof(*argv));
  size_t *lens = calloc(argc, sizeof(*lens));
  char **owned = prefix ? calloc(n, sizeof(*owned)) : NULL;
  int rc = argv && lens && (!prefix || owned) ? 0 : WEFT_ENOMEM;
  size_t a = 0;
  if (rc == 0) {
    argv[a++] = cmd;
    if (key) argv[a++] = key;
    for (size_t i = 0; i < n && rc == 0; i++) {
      if (prefix) {
        size_t len = strlen(prefix) + strlen(ids[i]) + 1;
        if (!(owned[i] = malloc(len))) rc = WEFT_ENOMEM;
        if (owned[i]) snprintf(owned[i], len, "%s%s", prefix, ids[i]);
      }
      argv[a++] = prefix ? owned[i] : ids[i];
    }
  }
  for (size_t i = 0; i < a; i++)
    lens[i] = argv[i] ? strlen(argv[i]) : 0;
  if (rc == 0 && redisAsyncCommandArgv(ac, fn, priv, (int)argc, argv, lens) != REDIS_OK)
    rc = WEFT_EIO;
  for (size_t i = 0; owned && i < n; i++)
    free(owned[i]);
  free(owned);
  free(argv);
  free(lens);
  return rc;
}

static void on_alive(redisAsyncContext *ac, void *reply, void *priv) {
  weft__redis_query *q = priv;
  redisReply *m = reply;
  if (!q->r || !m || m->type != REDIS_REPLY_ARRAY || m->elements != q->n) {
    if (q->r) answer(q, WEFT_EIO, 0);
    query_free(q);
    return;
  }
  size_t k = 0, stale = 0;
  char **gone = calloc(q->n, sizeof(*gone));
  for (size_t i = 0; i < q->n; i++) {
    if (m->element[i]->type != REDIS_REPLY_NIL) {
      char *t = q->ids[k];
      q->ids[k++] = q->ids[i];
      q->ids[i] = t;
    } else if (gone) {
      gone[stale++] = q->ids[i];
    }
  }
  char key[300];
  snprintf(key, sizeof(key), "weft:room:%s", q->room);
  if (stale && ac->data) send_argv(ac, NULL, NULL, "SREM", key, NULL, gone, stale);
  free(gone);
  answer(q, 0, k);
  query_free(q);
}

static void on_members(redisAsyncContext *ac, void *reply, void *priv) {
  weft__redis_query *q = priv;
  redisReply *m = reply;
  if (!q->r || !m || m->type != REDIS_REPLY_ARRAY) {
    if (q->r) answer(q, WEFT_EIO, 0);
    query_free(q);
    return;
  }
  if (m->elements && !(q->ids = calloc(m->elements, sizeof(*q->ids)))) {
    answer(q, WEFT_ENOMEM, 0);
    query_free(q);
    return;
  }
  for (size_t i = 0; i < m->elements; i++)
    if (m->element[i]->type == REDIS_REPLY_STRING && (q->ids[q->n] = strdup(m->element[i]->str)))
      q->n++;
  if (q->n == 0 || !ac->data) {
    answer(q, ac->data ? 0 : WEFT_EIO, 0);
    query_free(q);
    return;
  }
  int rc = send_argv(ac, on_alive, q, "MGET", NULL, "weft:spark:", q->ids, q->n);
  if (rc) {
    answer(q, rc, 0);
    query_free(q);
  }
}

int weft__redis_presence(weft_server *s, const char *room, weft_presence_cb cb, void *cb_user,
                         void *user) {
  (void)s;
  weft_redis *r = user;
  if (!r->cmd_up) return WEFT_EIO;
  size_t len = strlen(room);
  weft__redis_query *q = calloc(1, sizeof(*q) + len + 1);
  if (!q) return WEFT_ENOMEM;
  memcpy(q->room, room, len + 1);
  q->r = r;
  q->cb = cb;
  q->user = cb_user;
  if (redisAsyncCommand(r->cmd, on_members, q, "SMEMBERS weft:room:%s", room) != REDIS_OK) {
    free(q);
    return WEFT_EIO;
  }
  q->next = r->queries;
  if (q->next) q->next->prev = q;
  r->queries = q;
  return 0;
}

void weft__redis_presence_cancel(weft_redis *r) {
  while (r->queries)
    answer(r->queries, WEFT_ECLOSED, 0); /* the reply (or its NULL) frees it */
}
