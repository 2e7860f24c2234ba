/*
 * Rooms: named sets of sparks, as a plugin of the core.
 *
 * Membership is kept from both sides with back-indexes (a room's member
 * knows its slot in the spark's list and the other way round), so join,
 * leave and a disconnection's leave-all are O(1) per membership whatever the
 * room's size. A write to rooms gathers the recipients once (a generation
 * mark dedups sparks that are in several of the rooms) into a reused buffer
 * and hands them to weft_server_write_to, which encodes once.
 */
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "ext_internal.h"
#include "weft/adapter.h"

typedef struct spark_state spark_state;
typedef struct room room;

typedef struct member {
  weft_spark *spark;
  spark_state *st;
  uint32_t back; /* index in st->in */
} member;

typedef struct membership {
  room *room;
  uint32_t back; /* index in room->members */
} membership;

struct spark_state {
  membership *in;
  uint32_t n, cap;
  uint64_t mark; /* generation of the last write that picked this spark */
};

struct room {
  char *name;
  uint64_t hash;
  room *next_same_hash;
  member *members;
  uint32_t n, cap;
  size_t index; /* in rooms->all */
};

struct weft_rooms {
  weft_server *server;
  weft__map by_name;  /* hash -> room chain */
  weft__map by_spark; /* spark -> spark_state */
  room **all;
  size_t n_all, cap_all;
  weft_rooms_policy_cb policy;
  void *policy_user;
  void (*policy_free)(void *);
  uint64_t generation;
  weft_spark **gather; /* recipients of one write, reused */
  size_t gather_cap;
};

static int grow(void **arr, uint32_t *cap, size_t elem) {
  uint32_t ncap = *cap ? *cap * 2 : 4;
  void *p = realloc(*arr, ncap * elem);
  if (!p) return WEFT_ENOMEM;
  *arr = p;
  *cap = ncap;
  return 0;
}

static room *find_room(weft_rooms *rs, const char *name, size_t len) {
  for (room *r = weft__map_get(&rs->by_name, weft__map_hash(name, len)); r; r = r->next_same_hash)
    if (strcmp(r->name, name) == 0) return r;
  return NULL;
}

static room *room_new(weft_rooms *rs, const char *name, size_t len) {
  if (rs->n_all == rs->cap_all) {
    size_t ncap = rs->cap_all ? rs->cap_all * 2 : 8;
    room **all = realloc(rs->all, ncap * sizeof(*all));
    if (!all) return NULL;
    rs->all = all;
    rs->cap_all = ncap;
  }
  room *r = calloc(1, sizeof(*r));
  if (!r || !(r->name = malloc(len + 1))) {
    free(r);
    return NULL;
  }
  memcpy(r->name, name, len + 1);
  r->hash = weft__map_hash(name, len);
  r->next_same_hash = weft__map_get(&rs->by_name, r->hash);
  if (weft__map_put(&rs->by_name, r->hash, r)) {
    free(r->name);
    free(r);
    return NULL;
  }
  r->index = rs->n_all;
  rs->all[rs->n_all++] = r;
  return r;
}

static void room_free(weft_rooms *rs, room *r) {
  room *head = weft__map_get(&rs->by_name, r->hash), **pp = &head;
  while (*pp != r)
    pp = &(*pp)->next_same_hash;
  *pp = r->next_same_hash;
  if (head)
    weft__map_put(&rs->by_name, r->hash, head); /* replacing never grows */
  else
    weft__map_del(&rs->by_name, r->hash);
  room *last = rs->all[--rs->n_all];
  rs->all[r->index] = last;
  last->index = r->index;
  free(r->members);
  free(r->name);
  free(r);
}

static spark_state *state_of(weft_rooms *rs, weft_spark *spark) {
  return weft__map_get(&rs->by_spark, weft__map_ptr(spark));
}

/* Tells the server's adapter (weft/adapter.h) that a local spark joined or
 * left a room. */
static void notify(weft_rooms *rs, weft_spark *spark, room *r, int join) {
  weft_server *s = rs->server;
  if (s->adapter && s->adapter->membership)
    s->adapter->membership(s, spark, r->name, join, s->adapter_user);
}

/* Removes membership i of `st` from both sides. */
static void remove_membership(weft_rooms *rs, weft_spark *spark, spark_state *st, uint32_t i) {
  room *r = st->in[i].room;
  notify(rs, spark, r, 0);
  uint32_t j = st->in[i].back;
  member moved = r->members[--r->n];
  if (j != r->n) {
    r->members[j] = moved;
    moved.st->in[moved.back].back = j;
  }
  membership last = st->in[--st->n];
  if (i != st->n) {
    st->in[i] = last;
    last.room->members[last.back].back = i;
  }
  if (r->n == 0) room_free(rs, r);
  if (st->n == 0) {
    weft__map_del(&rs->by_spark, weft__map_ptr(spark));
    free(st->in);
    free(st);
  }
}

static int check_name(const char *name) {
  return name && weft__ext_name_ok(name, strlen(name)) ? 0 : WEFT_EINVAL;
}

int weft_rooms_join(weft_rooms *rs, weft_spark *spark, const char *name) {
  if (!rs || !spark || check_name(name)) return WEFT_EINVAL;
  if (!weft__spark_is_open(spark)) return WEFT_ECLOSED;
  if (weft_spark_server(spark) != rs->server) return WEFT_EINVAL;
  size_t len = strlen(name);
  room *r = find_room(rs, name, len);
  spark_state *st = state_of(rs, spark);
  if (r && st)
    for (uint32_t i = 0; i < st->n; i++)
      if (st->in[i].room == r) return 0;
  int new_room = !r, new_state = !st;
  if (!r && !(r = room_new(rs, name, len))) return WEFT_ENOMEM;
  if (!st) {
    st = calloc(1, sizeof(*st));
    if (!st || weft__map_put(&rs->by_spark, weft__map_ptr(spark), st)) {
      free(st);
      st = NULL;
    }
  }
  if (!st || (r->n == r->cap && grow((void **)&r->members, &r->cap, sizeof(member))) ||
      (st->n == st->cap && grow((void **)&st->in, &st->cap, sizeof(membership)))) {
    if (new_room) room_free(rs, r);
    if (st && new_state) {
      weft__map_del(&rs->by_spark, weft__map_ptr(spark));
      free(st->in);
      free(st);
    }
    return WEFT_ENOMEM;
  }
  r->members[r->n] = (member){spark, st, st->n};
  st->in[st->n] = (membership){r, r->n};
  r->n++;
  st->n++;
  notify(rs, spark, r, 1);
  return 0;
}

int weft_rooms_leave(weft_rooms *rs, weft_spark *spark, const char *name) {
  if (!rs || !spark || check_name(name)) return WEFT_EINVAL;
  if (!weft__spark_is_open(spark)) return WEFT_ECLOSED; /* it has left them all */
  spark_state *st = state_of(rs, spark);
  room *r = find_room(rs, name, strlen(name));
  if (!st || !r) return 0;
  for (uint32_t i = 0; i < st->n; i++)
    if (st->in[i].room == r) {
      remove_membership(rs, spark, st, i);
      break;
    }
  return 0;
}

static void leave_all(weft_rooms *rs, weft_spark *spark) {
  spark_state *st = state_of(rs, spark);
  while (st) {
    int last = st->n == 1;
    remove_membership(rs, spark, st, st->n - 1);
    if (last) break; /* st is freed with its last membership */
  }
}

int weft_rooms_leave_all(weft_rooms *rs, weft_spark *spark) {
  if (!rs || !spark) return WEFT_EINVAL;
  if (!weft__spark_is_open(spark)) return WEFT_ECLOSED;
  leave_all(rs, spark);
  return 0;
}

/* ---- queries ---- */

int weft_rooms_has(weft_rooms *rs, weft_spark *spark, const char *name) {
  if (!rs || !spark || check_name(name)) return WEFT_EINVAL;
  spark_state *st = state_of(rs, spark);
  room *r = find_room(rs, name, strlen(name));
  if (st && r)
    for (uint32_t i = 0; i < st->n; i++)
      if (st->in[i].room == r) return 1;
  return 0;
}

int weft_rooms_count(weft_rooms *rs) { return rs ? (int)rs->n_all : WEFT_EINVAL; }

const char *weft_rooms_name_at(weft_rooms *rs, size_t i) {
  return rs && i < rs->n_all ? rs->all[i]->name : NULL;
}

int weft_rooms_member_count(weft_rooms *rs, const char *name) {
  if (!rs || check_name(name)) return WEFT_EINVAL;
  room *r = find_room(rs, name, strlen(name));
  return r ? (int)r->n : 0;
}

weft_spark *weft_rooms_member_at(weft_rooms *rs, const char *name, size_t i) {
  room *r = rs && name && !check_name(name) ? find_room(rs, name, strlen(name)) : NULL;
  return r && i < r->n ? r->members[i].spark : NULL;
}

int weft_rooms_of_spark_count(weft_rooms *rs, weft_spark *spark) {
  if (!rs || !spark) return WEFT_EINVAL;
  spark_state *st = state_of(rs, spark);
  return st ? (int)st->n : 0;
}

const char *weft_rooms_of_spark_at(weft_rooms *rs, weft_spark *spark, size_t i) {
  spark_state *st = rs && spark ? state_of(rs, spark) : NULL;
  return st && i < st->n ? st->in[i].room->name : NULL;
}

/* ---- writing to rooms ---- */

static int excluded(weft_spark *spark, const char *const *except, size_t n_except) {
  if (!n_except) return 0;
  const char *id = weft_spark_id(spark);
  for (size_t i = 0; i < n_except; i++)
    if (except[i] && strcmp(except[i], id) == 0) return 1;
  return 0;
}

int weft_rooms_write(weft_rooms *rs, const char *const *names, size_t n_rooms,
                     const char *const *except, size_t n_except, const weft_value *msg) {
  if (!rs || !msg || (!names && n_rooms) || (!except && n_except)) return WEFT_EINVAL;
  for (size_t i = 0; i < n_rooms; i++)
    if (check_name(names[i])) return WEFT_EINVAL;
  if (rs->server->adapter) { /* here and on the other nodes, encoded once */
    weft_recipients to = {sizeof(to), names, n_rooms, NULL, 0, except, n_except};
    return n_rooms ? weft_server_send(rs->server, &to, msg) : 0;
  }
  uint64_t gen = ++rs->generation;
  size_t n = 0;
  for (size_t i = 0; i < n_rooms; i++) {
    room *r = find_room(rs, names[i], strlen(names[i]));
    if (!r) continue;
    if (n + r->n > rs->gather_cap) {
      size_t cap = rs->gather_cap ? rs->gather_cap : 64;
      while (cap < n + r->n)
        cap *= 2;
      weft_spark **g = realloc(rs->gather, cap * sizeof(*g));
      if (!g) return WEFT_ENOMEM;
      rs->gather = g;
      rs->gather_cap = cap;
    }
    for (uint32_t j = 0; j < r->n; j++) {
      member *m = &r->members[j];
      if (m->st->mark == gen) continue;
      m->st->mark = gen;
      if (!excluded(m->spark, except, n_except)) rs->gather[n++] = m->spark;
    }
  }
  if (rs->server->rs_detached) { /* sessions waiting for their client */
    weft_recipients to = {sizeof(to), names, n_rooms, NULL, 0, except, n_except};
    weft__server_publish_value(rs->server, &to, msg);
  }
  if (n == 0) return 0;
  return weft_server_write_to(rs->server, msg, rs->gather, n);
}

int weft_rooms_emit(weft_rooms *rs, const char *const *names, size_t n_rooms,
                    const char *const *except, size_t n_except, const char *event,
                    const weft_value *args) {
  if (!rs) return WEFT_EINVAL;
  weft_value *packet;
  int rc = weft_emitter_packet(event, args, &packet);
  if (rc) return rc;
  rc = weft_rooms_write(rs, names, n_rooms, except, n_except, packet);
  weft_value_free(packet);
  return rc;
}

/* ---- presence ---- */

static int cmp_id(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int weft_server_presence(weft_server *s, const char *name, weft_presence_cb cb, void *user) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !cb || check_name(name)) return WEFT_EINVAL;
  weft_rooms *rs = weft_rooms_of_server(s);
  if (!rs) return WEFT_ESTATE;
  if (s->adapter && s->adapter->presence)
    return s->adapter->presence(s, name, cb, user, s->adapter_user);
  room *r = find_room(rs, name, strlen(name));
  size_t n = r ? r->n : 0;
  const char **ids = n ? malloc(n * sizeof(*ids)) : NULL;
  if (n && !ids) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++)
    ids[i] = weft_spark_id(r->members[i].spark);
  if (n > 1) qsort(ids, n, sizeof(*ids), cmp_id);
  cb(s, 0, ids, n, user);
  free(ids);
  return 0;
}

/* ---- client requests through the emitter ---- */

static void answer(weft_reply *reply, int rc, const char *why) {
  if (!reply) return;
  if (rc == 0) {
    weft_reply_resolve(reply, NULL);
    return;
  }
  weft_value *v = weft_value_new_string(why, strlen(why));
  weft_reply_reject(reply, v);
  weft_value_free(v);
}

static void request(weft_rooms *rs, weft_spark *spark, const weft_value *args, int join,
                    weft_reply *reply) {
  const weft_value *name = weft_value_len(args) ? weft_value_array_at(args, 0) : NULL;
  const char *s;
  size_t len;
  if (!name || weft_value_get_string(name, &s, &len) || !weft__ext_name_ok(s, len)) {
    answer(reply, WEFT_EINVAL, "invalid room name");
    return;
  }
  if (!rs->policy) {
    answer(reply, WEFT_EUNAUTHORIZED, "clients may not change rooms here");
    return;
  }
  int rc = rs->policy(spark, s, join, rs->policy_user);
  if (rc < 0) {
    answer(reply, rc, weft_strerror(rc));
    return;
  }
  rc = join ? weft_rooms_join(rs, spark, s) : weft_rooms_leave(rs, spark, s);
  answer(reply, rc, rc ? weft_strerror(rc) : NULL);
}

static void on_join(weft_spark *spark, const weft_value *args, weft_reply *reply, void *rs) {
  request(rs, spark, args, 1, reply);
}

static void on_leave(weft_spark *spark, const weft_value *args, weft_reply *reply, void *rs) {
  request(rs, spark, args, 0, reply);
}

/* fast-tcp's "leave all rooms" (transport/fasttcp): under the same policy,
 * asked once per room the spark is in. */
static void on_leave_all(weft_spark *spark, const weft_value *args, weft_reply *reply, void *u) {
  (void)args;
  weft_rooms *rs = u;
  int rc = rs->policy ? 0 : WEFT_EUNAUTHORIZED;
  for (int i = weft_rooms_of_spark_count(rs, spark) - 1; rc == 0 && i >= 0; i--) {
    const char *name = weft_rooms_of_spark_at(rs, spark, (size_t)i);
    rc = name ? rs->policy(spark, name, 0, rs->policy_user) : 0;
    if (rc == 0 && name) rc = weft_rooms_leave(rs, spark, name);
  }
  answer(reply, rc, rc ? weft_strerror(rc) : NULL);
}

/* ---- plugin ---- */

/* Recovery (decision #23): the rooms a spark was in go with its session,
 * and come back before its connection event when it resumes. */
static void on_connection(weft_spark *spark, void *user) {
  const char *const *names;
  size_t n = weft__rs_rooms(spark, &names);
  for (size_t i = 0; i < n; i++)
    weft_rooms_join(user, spark, names[i]);
  if (n) weft__rs_rooms_done(spark);
}

static void on_disconnection(weft_spark *spark, void *user) {
  weft_rooms *rs = user;
  int n = spark->rs ? weft_rooms_of_spark_count(rs, spark) : 0;
  const char **names = n > 0 ? malloc((size_t)n * sizeof(*names)) : NULL;
  if (names) {
    for (int i = 0; i < n; i++)
      names[i] = weft_rooms_of_spark_at(rs, spark, (size_t)i);
    weft__rs_note_rooms(spark, names, (size_t)n);
    free(names);
  }
  leave_all(rs, spark);
}

static void destroy(void *user) {
  weft_rooms *rs = user;
  /* Normally empty (every spark left at its disconnection): memory only. */
  for (size_t i = 0; i < rs->by_spark.cap; i++) {
    spark_state *st = rs->by_spark.slots[i].val;
    if (!rs->by_spark.slots[i].key) continue;
    free(st->in);
    free(st);
  }
  for (size_t i = 0; i < rs->n_all; i++) {
    free(rs->all[i]->members);
    free(rs->all[i]->name);
    free(rs->all[i]);
  }
  weft__map_free(&rs->by_name);
  weft__map_free(&rs->by_spark);
  free(rs->all);
  free(rs->gather);
  if (rs->policy_free) rs->policy_free(rs->policy_user);
  free(rs);
}

static const weft_plugin_ops rooms_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = WEFT__ROOMS_PLUGIN,
    .connection = on_connection,
    .disconnection = on_disconnection,
    .destroy = destroy,
};

int weft_rooms_server(weft_server *server, weft_rooms **out) {
  if (!server || !out) return WEFT_EINVAL;
  *out = NULL;
  weft_rooms *rs = calloc(1, sizeof(*rs));
  if (!rs) return WEFT_ENOMEM;
  rs->server = server;
  int rc = weft_server_use(server, &rooms_ops, rs); /* frees rs on error */
  if (rc == 0) rc = weft__reserved_on(server, "weft::join", on_join, rs);
  if (rc == 0) rc = weft__reserved_on(server, "weft::leave", on_leave, rs);
  if (rc == 0) rc = weft__reserved_on(server, "weft::leave_all", on_leave_all, rs);
  if (rc == 0) *out = rs;
  return rc;
}

weft_rooms *weft_rooms_of_server(weft_server *server) {
  return weft_server_plugin(server, WEFT__ROOMS_PLUGIN);
}

int weft_rooms_set_client_policy(weft_rooms *rs, weft_rooms_policy_cb cb, void *user,
                                 void (*free_user)(void *)) {
  if (!rs || (!cb && free_user)) return WEFT_EINVAL;
  rs->policy = cb;
  weft__ext_set_user(&rs->policy_user, &rs->policy_free, user, free_user);
  return 0;
}
