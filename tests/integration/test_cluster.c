/*
 * Scale-out (weft/adapter.h, issue #19) through real sockets on 127.0.0.1.
 * One loop holds several weft servers ("nodes") and their weft clients; a
 * node may also be the CLI (`weft serve --redis URL --room lobby --mode
 * broadcast`) in a child process. The Redis tests start a real redis-server
 * (no persistence, a temporary folder, a free port) and stop it by PID.
 *
 *   adapter_pair      a test adapter that hands what one node publishes to
 *                     the other's weft_server_deliver: broadcast, rooms with
 *                     except, ids, raw, local presence; the bad inputs.
 *   redis_cluster     three nodes and the CLI on one Redis: a broadcast from
 *                     each node reaches every client once; rooms with except
 *                     and ids across nodes; presence the same from every node.
 *   redis_restart     redis-server killed and started again: error events,
 *                     local delivery goes on, cross-node delivery comes back.
 *   redis_ttl         a CLI node killed with SIGKILL leaves presence within
 *                     its ttl.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "failf.h"
#include "procs.h"
#include "weft/adapter.h"
#include "weft/ext.h"

#define MAX_NODES 4
#define MAX_PEERS 64
#define MAX_TAGS 12

typedef struct fx fx;

typedef struct peer {
  fx *f;
  int node, idx; /* node MAX_NODES: the CLI node */
  weft_client *c;
  char id[64]; /* its spark's id (in-process nodes) */
  char tags[MAX_TAGS][16];
  int counts[MAX_TAGS];
} peer;

struct fx {
  weft_loop *loop;
  weft_server *node[MAX_NODES];
  int n_nodes, per_node, cli_peers;
  peer peers[MAX_PEERS];
  int n_peers, opened, finished, step, wait;
  uv_timer_t guard, tick;
  int ticks;
  char fail[512];
  void (*on_tick)(fx *f);
  /* error events by node: kinds seen */
  int disconnects[MAX_NODES], connects[MAX_NODES], others[MAX_NODES];
  /* presence answers */
  int pres_status[MAX_NODES], pres_n[MAX_NODES], pres_calls;
  char pres[MAX_NODES][2048];
  pid_t redis, cli;
  int redis_port, cli_port;
  char dir[64];
  uint64_t mark;
};

WEFT_TEST_FAILF(fx)

/* ---- processes: redis-server and the CLI ---- */

static void redis_start(fx *f) {
  if (!f->dir[0]) {
    snprintf(f->dir, sizeof(f->dir), "/tmp/weft-redis-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
  }
  if (!f->redis_port) f->redis_port = free_port();
  char port[16];
  snprintf(port, sizeof(port), "%d", f->redis_port);
  char *argv[] = {"redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no",     "--dir", f->dir,   NULL};
  f->redis = spawn(argv, f->redis_port);
  assert_true(f->redis > 0 && port_open(f->redis_port));
}

static void redis_url(fx *f, char *out, size_t cap) {
  snprintf(out, cap, "redis://127.0.0.1:%d", f->redis_port);
}

static void cli_start(fx *f, uint32_t ttl) {
  char url[64], port[16], ttls[16];
  redis_url(f, url, sizeof(url));
  f->cli_port = free_port();
  snprintf(port, sizeof(port), "%d", f->cli_port);
  snprintf(ttls, sizeof(ttls), "%u", ttl);
  char *argv[] = {WEFT_CLI,          "serve", "--port", port,    "--mode",      "broadcast",
                  "--redis",         url,     "--room", "lobby", "--redis-ttl", ttls,
                  "--ping-interval", "0",     NULL};
  f->cli = spawn(argv, f->cli_port);
  assert_true(f->cli > 0 && port_open(f->cli_port));
}

/* ---- nodes and peers ---- */

static peer *peer_of(fx *f, weft_spark *sp) {
  const char *i = weft_spark_query(sp, "i");
  int idx = i ? atoi(i) : -1;
  return idx >= 0 && idx < f->n_peers ? &f->peers[idx] : NULL;
}

static void srv_connection(weft_spark *sp, void *user) {
  fx *f = user;
  peer *p = peer_of(f, sp);
  if (!p) return failf(f, __LINE__, "a connection without a peer");
  snprintf(p->id, sizeof(p->id), "%s", weft_spark_id(sp));
  weft_rooms *rs = weft_rooms_of_server(weft_spark_server(sp));
  if (p->idx % 2 == 0) CHECK(f, weft_rooms_join(rs, sp, "lobby") == 0);
}

static int node_index(fx *f, weft_server *s) {
  for (int i = 0; i < f->n_nodes; i++)
    if (f->node[i] == s) return i;
  return 0;
}

static void srv_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  fx *f = user;
  int n = node_index(f, s);
  (void)sp;
  if (strcmp(e->kind, "disconnect") == 0)
    f->disconnects[n]++;
  else if (strcmp(e->kind, "connect") == 0)
    f->connects[n]++;
  else
    f->others[n]++;
}

static int tag_add(peer *p, const char *s, size_t len) {
  for (int t = 0; t < MAX_TAGS; t++) {
    if (!p->tags[t][0] && len < sizeof(p->tags[t])) {
      memcpy(p->tags[t], s, len);
      p->tags[t][len] = 0;
    }
    if (strlen(p->tags[t]) == len && memcmp(p->tags[t], s, len) == 0) return ++p->counts[t];
  }
  return 0;
}

static int got(const peer *p, const char *tag) {
  for (int t = 0; t < MAX_TAGS; t++)
    if (strcmp(p->tags[t], tag) == 0) return p->counts[t];
  return 0;
}

static void cli_data(weft_client *c, const weft_value *msg, void *user) {
  peer *p = user;
  const char *s;
  size_t len;
  (void)c;
  if (weft_value_get_string(msg, &s, &len) == 0) tag_add(p, s, len);
}

static void cli_open(weft_client *c, void *user) {
  peer *p = user;
  (void)c;
  p->f->opened++;
}

static void finish(fx *f) {
  if (f->finished) return;
  f->finished = 1;
  for (int i = 0; i < f->n_peers; i++)
    if (f->peers[i].c) weft_client_destroy(f->peers[i].c), f->peers[i].c = NULL;
  weft_destroy_options o = {sizeof(o), 0, 200};
  for (int i = 0; i < f->n_nodes; i++)
    weft_server_destroy(f->node[i], &o);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->tick, NULL);
}

static void on_guard(uv_timer_t *t) {
  fx *f = t->data;
  failf(f, __LINE__, "guard timer: the test took too long (step %d)", f->step);
  finish(f);
}

static void on_tick(uv_timer_t *t) {
  fx *f = t->data;
  f->ticks++;
  if (!f->finished && f->on_tick) f->on_tick(f);
}

static void add_peer(fx *f, int node, const char *base) {
  peer *p = &f->peers[f->n_peers];
  p->f = f;
  p->node = node;
  p->idx = f->n_peers++;
  char url[160];
  snprintf(url, sizeof(url), "%s?i=%d", base, p->idx);
  assert_int_equal(weft_client_new(f->loop, url, &p->c), 0);
  weft_client_events ce = {.size = sizeof(ce), .open = cli_open, .data = cli_data};
  assert_int_equal(weft_client_set_events(p->c, &ce, p, NULL), 0);
  assert_int_equal(weft_client_open(p->c), 0);
}

/* Nodes (with `redis` set: attached to it) and per_node clients on each,
 * then cli_peers on the CLI node when it runs. */
static void fx_init(fx *f, int nodes, int per_node, int cli_peers, int redis, uint32_t ttl) {
  assert_int_equal(weft_loop_new(&f->loop), 0);
  f->n_nodes = nodes;
  char rurl[64];
  redis_url(f, rurl, sizeof(rurl));
  for (int n = 0; n < nodes; n++) {
    weft_server *s;
    assert_int_equal(weft_server_new(f->loop, &s), 0);
    f->node[n] = s;
    weft_server_events ev = {.size = sizeof(ev), .connection = srv_connection, .error = srv_error};
    assert_int_equal(weft_server_set_events(s, &ev, f, NULL), 0);
    weft_rooms *rs;
    assert_int_equal(weft_rooms_server(s, &rs), 0);
    if (redis) assert_int_equal(weft_redis_attach(s, rurl, ttl), 0);
    assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:0/primus"), 0);
  }
  for (int n = 0; n < nodes; n++) {
    char base[96];
    snprintf(base, sizeof(base), "ws://127.0.0.1:%d/primus", weft_server_port(f->node[n]));
    for (int i = 0; i < per_node; i++)
      add_peer(f, n, base);
  }
  f->cli_peers = cli_peers;
  if (cli_peers) {
    char base[96];
    snprintf(base, sizeof(base), "ws://127.0.0.1:%d/primus", f->cli_port);
    for (int i = 0; i < cli_peers; i++)
      add_peer(f, MAX_NODES, base);
  }
  uv_loop_t *uv = weft_loop_uv(f->loop);
  uv_timer_init(uv, &f->guard);
  uv_timer_init(uv, &f->tick);
  f->guard.data = f->tick.data = f;
  uv_timer_start(&f->guard, on_guard, 60000, 0);
  uv_timer_start(&f->tick, on_tick, 20, 20);
}

static void fx_run(fx *f) {
  assert_int_equal(weft_loop_run(f->loop), 0);
  assert_int_equal(weft_loop_close(f->loop), 0);
  stop(&f->cli, SIGTERM);
  stop(&f->redis, SIGTERM);
  if (f->dir[0]) rmdir(f->dir);
  if (f->fail[0]) fail_msg("%s", f->fail);
}

static weft_value *str(const char *s) { return weft_value_new_string(s, strlen(s)); }

static int send_to(fx *f, int node, const char *const *rooms, size_t nr, const char *const *ids,
                   size_t ni, const char *const *except, size_t ne, const char *msg) {
  weft_recipients to = {sizeof(to), rooms, nr, ids, ni, except, ne};
  weft_value *v = str(msg);
  int rc = weft_server_send(f->node[node], &to, v);
  weft_value_free(v);
  return rc;
}

static void write_all(fx *f, int node, const char *msg) {
  weft_value *v = str(msg);
  CHECK(f, weft_server_write(f->node[node], v) >= 0);
  weft_value_free(v);
}

static int all_linked(fx *f) {
  int all = 1;
  for (int n = 0; n < f->n_nodes; n++)
    all &= weft_redis_linked(f->node[n]) == 1;
  return all;
}

/* ---- presence ---- */

static void on_presence(weft_server *s, int status, const char *const *ids, size_t n, void *user) {
  fx *f = user;
  int k = node_index(f, s);
  f->pres_status[k] = status;
  f->pres_n[k] = (int)n;
  f->pres[k][0] = 0;
  for (size_t i = 0; i < n; i++) {
    size_t at = strlen(f->pres[k]);
    snprintf(f->pres[k] + at, sizeof(f->pres[k]) - at, "%s,", ids[i]);
  }
  f->pres_calls++;
}

static void ask_presence(fx *f, int node) {
  f->pres_n[node] = -1;
  int rc = weft_server_presence(f->node[node], "lobby", on_presence, f);
  if (rc) f->pres_status[node] = rc, f->pres_n[node] = -2;
}

/* ------------------------------------------------------------------------ */
/* A test adapter: two nodes, what one publishes the other delivers          */
/* ------------------------------------------------------------------------ */

typedef struct pair {
  fx *f;
  int published, delivered;
} pair;

static void pair_publish(weft_server *s, const weft_recipients *to, const void *data, size_t len,
                         int binary, void *user) {
  pair *p = user;
  weft_server *other = s == p->f->node[0] ? p->f->node[1] : p->f->node[0];
  p->published++;
  int rc = weft_server_deliver(other, to, data, len, binary);
  if (rc >= 0) p->delivered += rc;
}

static const weft_adapter_ops pair_ops = {
    WEFT_ADAPTER_VERSION, sizeof(weft_adapter_ops), "pair", pair_publish, NULL, NULL};

static void pair_tick(fx *f) {
  if (f->step == 0 && f->opened == f->n_peers) {
    f->step = 1;
    /* peers 0..3 on node 0, 4..7 on node 1; even ones are in "lobby" */
    write_all(f, 0, "b0");
    write_all(f, 1, "b1");
    const char *rooms[] = {"lobby"}, *except[] = {f->peers[4].id};
    CHECK(f, send_to(f, 0, rooms, 1, NULL, 0, except, 1, "r") == 2); /* local: peers 0, 2 */
    const char *ids[] = {f->peers[5].id};
    CHECK(f, send_to(f, 0, NULL, 0, ids, 1, NULL, 0, "d") == 0); /* not here */
    CHECK(f, weft_server_write_raw(f->node[1], "\"raw\"", 5, 0) == 4);
    ask_presence(f, 0);
    f->wait = f->ticks;
  } else if (f->step == 1 && f->ticks - f->wait > 15) {
    finish(f);
  }
}

static void test_adapter_pair(void **state) {
  (void)state;
  fx f = {0};
  pair p = {&f, 0, 0};
  fx_init(&f, 2, 4, 0, 0, 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(weft_server_set_adapter(f.node[i], &pair_ops, &p), 0);
  /* The bad inputs. */
  weft_adapter_ops bad = pair_ops;
  bad.version = 99;
  assert_int_equal(weft_server_set_adapter(f.node[0], &bad, &p), WEFT_EINVAL);
  bad = pair_ops;
  bad.publish = NULL;
  assert_int_equal(weft_server_set_adapter(f.node[0], &bad, &p), WEFT_EINVAL);
  assert_int_equal(weft_server_set_adapter(f.node[0], &pair_ops, &f), WEFT_EEXIST);
  assert_int_equal(weft_server_set_adapter(NULL, &pair_ops, &p), WEFT_EINVAL);
  assert_int_equal(weft_server_deliver(f.node[0], NULL, NULL, 3, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_deliver(f.node[0], NULL, "\xff", 1, 0), WEFT_EUTF8);
  assert_int_equal(weft_server_deliver(f.node[0], NULL, "\"x\"", 3, 0), 0); /* nobody yet */
  weft_recipients bad_to = {sizeof(bad_to), NULL, 1, NULL, 0, NULL, 0};
  assert_int_equal(weft_server_deliver(f.node[0], &bad_to, "\"x\"", 3, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_presence(f.node[0], "", on_presence, &f), WEFT_EINVAL);
  assert_int_equal(weft_server_presence(f.node[0], "lobby", NULL, &f), WEFT_EINVAL);
  assert_int_equal(weft_redis_attach(f.node[0], "http://127.0.0.1:1", 0), WEFT_EINVAL);
  assert_int_equal(weft_redis_attach(f.node[0], "redis://:1", 0), WEFT_EINVAL);
  assert_int_equal(weft_redis_attach(f.node[0], "redis://127.0.0.1:99999", 0), WEFT_EINVAL);
  assert_int_equal(weft_redis_attach(f.node[0], "redis://127.0.0.1:6379", 0), WEFT_ESTATE);
  assert_int_equal(weft_redis_linked(f.node[0]), WEFT_EINVAL);
  assert_int_equal(weft_redis_linked(NULL), WEFT_EINVAL);
  f.on_tick = pair_tick;
  fx_run(&f);
  for (int i = 0; i < 8; i++) {
    const peer *q = &f.peers[i];
    assert_int_equal(got(q, "b0"), 1);
    assert_int_equal(got(q, "b1"), 1);
    assert_int_equal(got(q, "raw"), 1);
    assert_int_equal(got(q, "r"), i % 2 == 0 && i != 4);
    assert_int_equal(got(q, "d"), i == 5);
  }
  assert_int_equal(p.published, 5);
  assert_int_equal(f.pres_status[0], 0);
  assert_int_equal(f.pres_n[0], 2); /* without presence in the adapter: local */
}

/* ------------------------------------------------------------------------ */
/* Redis: three nodes and the CLI                                            */
/* ------------------------------------------------------------------------ */

#define PER_NODE 10
#define CLI_PEERS 10
/* In "lobby": the even peers of the three nodes, every CLI peer. */
#define LOBBY (3 * PER_NODE / 2 + CLI_PEERS)

/* A spark id in the presence answer that no in-process peer has: a CLI one. */
static void cli_id(fx *f, char *out, size_t cap) {
  out[0] = 0;
  char all[2048];
  snprintf(all, sizeof(all), "%s", f->pres[0]);
  for (char *tok = strtok(all, ","); tok; tok = strtok(NULL, ",")) {
    int mine = 0;
    for (int i = 0; i < f->n_peers; i++)
      mine |= strcmp(f->peers[i].id, tok) == 0;
    if (!mine) {
      snprintf(out, cap, "%s", tok);
      return;
    }
  }
}

static char cli_target[64];

static void cluster_tick(fx *f) {
  switch (f->step) {
  case 0: /* every peer open, and every lobby member registered */
    if (f->opened == f->n_peers && f->ticks % 10 == 0) {
      if (f->pres_n[0] == LOBBY && all_linked(f)) {
        f->step = 1;
      } else {
        ask_presence(f, 0);
      }
    }
    break;
  case 1: {
    for (int n = 0; n < f->n_nodes; n++) {
      char tag[16];
      snprintf(tag, sizeof(tag), "b%d", n);
      write_all(f, n, tag);
    }
    /* A CLI peer writes: the CLI broadcasts it (mode broadcast). */
    weft_value *v = str("bc");
    CHECK(f, weft_client_write(f->peers[f->n_peers - 1].c, v) == 0);
    weft_value_free(v);
    const char *rooms[] = {"lobby"}, *except[] = {f->peers[0].id, f->peers[PER_NODE].id};
    CHECK(f, send_to(f, 1, rooms, 1, NULL, 0, except, 2, "r") >= 0);
    cli_id(f, cli_target, sizeof(cli_target));
    CHECK(f, cli_target[0] != 0);
    const char *ids[] = {f->peers[3].id, cli_target};
    CHECK(f, send_to(f, 2, NULL, 0, ids, 2, NULL, 0, "d") == 0);
    f->mark = (uint64_t)f->pres_calls;
    for (int n = 0; n < f->n_nodes; n++)
      ask_presence(f, n);
    f->step = 2;
    f->wait = f->ticks;
    break;
  }
  case 2: { /* until every expected message came, then 300 ms for extras */
    int all = 1;
    for (int i = 0; i < f->n_peers; i++)
      all &= got(&f->peers[i], "b0") && got(&f->peers[i], "b2") && got(&f->peers[i], "bc");
    if (all && (uint64_t)f->pres_calls >= f->mark + 3 && f->ticks - f->wait > 15) finish(f);
    break;
  }
  }
}

static void test_redis_cluster(void **state) {
  (void)state;
  fx f = {0};
  redis_start(&f);
  cli_start(&f, 10000);
  fx_init(&f, 3, PER_NODE, CLI_PEERS, 1, 10000);
  f.on_tick = cluster_tick;
  fx_run(&f);
  for (int i = 0; i < f.n_peers; i++) {
    const peer *q = &f.peers[i];
    int cli = q->node == MAX_NODES;
    for (int n = 0; n < 3; n++) {
      char tag[16];
      snprintf(tag, sizeof(tag), "b%d", n);
      assert_int_equal(got(q, tag), 1);
    }
    assert_int_equal(got(q, "bc"), 1);
    int in_lobby = cli || q->idx % 2 == 0;
    assert_int_equal(got(q, "r"), in_lobby && q->idx != 0 && q->idx != PER_NODE);
    assert_int_equal(got(q, "d"), q->idx == 3 || (cli && got(q, "d")));
  }
  int d = 0;
  for (int i = 0; i < f.n_peers; i++)
    d += got(&f.peers[i], "d");
  assert_int_equal(d, 2); /* peer 3 (node 0), and the CLI spark named by id */
  for (int n = 0; n < 3; n++) {
    assert_int_equal(f.pres_status[n], 0);
    assert_int_equal(f.pres_n[n], LOBBY);
    assert_string_equal(f.pres[n], f.pres[0]);
  }
  for (int n = 0; n < 3; n++)
    assert_int_equal(f.disconnects[n] + f.connects[n] + f.others[n], 0);
}

/* ------------------------------------------------------------------------ */
/* Redis killed and started again                                            */
/* ------------------------------------------------------------------------ */

static void restart_tick(fx *f) {
  switch (f->step) {
  case 0:
    if (f->opened == f->n_peers && f->ticks % 5 == 0) {
      if (f->pres_n[0] == 5 && f->pres_n[1] == 5 && all_linked(f)) {
        write_all(f, 1, "before");
        f->step = 1;
        f->wait = f->ticks;
      } else {
        ask_presence(f, 0);
        ask_presence(f, 1);
      }
    }
    break;
  case 1:
    if (f->ticks - f->wait > 10) {
      stop(&f->redis, SIGKILL);
      f->step = 2;
    }
    break;
  case 2: /* both nodes saw it go; local delivery goes on meanwhile */
    if (f->disconnects[0] && f->disconnects[1]) {
      write_all(f, 0, "local");
      CHECK(f, weft_server_presence(f->node[0], "lobby", on_presence, f) == WEFT_EIO);
      f->step = 3;
      f->wait = f->ticks;
    }
    break;
  case 3: /* away for 400 ms: refused attempts, with backoff */
    if (f->ticks - f->wait > 20) {
      redis_start(f);
      f->step = 4;
      f->pres_n[0] = f->pres_n[1] = -1;
    }
    break;
  case 4: /* back: registered again (presence complete from both) */
    if (f->ticks % 5 == 0) {
      if (f->pres_n[0] == 5 && f->pres_n[1] == 5 && all_linked(f)) {
        write_all(f, 1, "after");
        f->step = 5;
        f->wait = f->ticks;
      } else {
        ask_presence(f, 0);
        ask_presence(f, 1);
      }
    }
    break;
  case 5:
    if (f->ticks - f->wait > 15) finish(f);
    break;
  }
}

static void test_redis_restart(void **state) {
  (void)state;
  fx f = {0};
  redis_start(&f);
  fx_init(&f, 2, 5, 0, 1, 2000);
  f.on_tick = restart_tick;
  fx_run(&f);
  for (int i = 0; i < f.n_peers; i++) {
    const peer *q = &f.peers[i];
    assert_int_equal(got(q, "before"), 1);
    assert_int_equal(got(q, "local"), q->node == 0); /* Redis away: this node only */
    assert_int_equal(got(q, "after"), 1);
  }
  for (int n = 0; n < 2; n++) {
    assert_true(f.disconnects[n] >= 1);
    assert_true(f.connects[n] >= 1); /* refused attempts, the dropped publish */
    assert_int_equal(f.others[n], 0);
  }
}

/* ------------------------------------------------------------------------ */
/* A node killed with SIGKILL leaves presence within its ttl                 */
/* ------------------------------------------------------------------------ */

#define TTL_MS 1000

static void ttl_tick(fx *f) {
  switch (f->step) {
  case 0:
    if (f->opened == f->n_peers && f->ticks % 5 == 0) {
      if (f->pres_n[0] == 3) {
        stop(&f->cli, SIGKILL);
        for (int i = 0; i < f->n_peers; i++)
          weft_client_destroy(f->peers[i].c), f->peers[i].c = NULL;
        f->mark = uv_now(weft_loop_uv(f->loop));
        f->step = 1;
      } else {
        ask_presence(f, 0);
      }
    }
    break;
  case 1:
    if (f->pres_n[0] == 0) {
      uint64_t took = uv_now(weft_loop_uv(f->loop)) - f->mark;
      /* within the ttl, plus the polling's 100 ms and a loaded machine's slack */
      CHECK(f, took <= TTL_MS + 1500);
      f->step = 2;
      finish(f);
    } else if (f->ticks % 5 == 0) {
      ask_presence(f, 0);
    }
    break;
  }
}

static void test_redis_ttl(void **state) {
  (void)state;
  fx f = {0};
  redis_start(&f);
  cli_start(&f, TTL_MS);
  fx_init(&f, 1, 0, 3, 1, TTL_MS);
  f.on_tick = ttl_tick;
  fx_run(&f);
  assert_int_equal(f.step, 2);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adapter_pair),
      cmocka_unit_test(test_redis_cluster),
      cmocka_unit_test(test_redis_restart),
      cmocka_unit_test(test_redis_ttl),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
