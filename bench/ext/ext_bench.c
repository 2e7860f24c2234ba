/*
 * Benchmarks of the extensions (include/weft/ext.h), two processes:
 *
 *   ext_bench server [--port P] [--rooms R]
 *       a weft server with an emitter and rooms; spark i (from ?i=) joins
 *       room "r<i % R>"; "echo" resolves with its first argument; "storm"
 *       [writes, rooms] writes `writes` messages, each to one room in turn
 *       (rooms_write), then resolves.
 *   ext_bench ack   --url U [--conns N] [--inflight K] [--seconds S]
 *       N clients keep K emits with acks in flight each; prints acks/s.
 *   ext_bench rooms --url U [--conns N] [--writes W] [--rooms R]
 *       N clients connect; one asks for a storm of W room writes; prints the
 *       deliveries/s from the ask to the last delivery.
 *
 * Output: one JSON line on stdout. bench/ext/run.sh drives it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "weft/ext.h"

typedef struct bench bench;

typedef struct peer {
  bench *b;
  int i;
  weft_client *c;
  weft_emitter *em;
} peer;

struct bench {
  weft_loop *loop;
  weft_server *server;
  weft_rooms *rooms;
  int nrooms;
  /* load side */
  const char *url;
  int conns, inflight, seconds, writes;
  peer *peers;
  int opened;
  int mode_rooms;
  uint64_t acks, errors, deliveries, expected;
  uint64_t t0, t1;
  int running;
  uv_timer_t timer;
};

static uint64_t now_ns(void) { return uv_hrtime(); }

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* ---- server ---- */

static void on_connection(weft_spark *spark, void *user) {
  bench *b = user;
  const char *i = weft_spark_query(spark, "i");
  char room[32];
  snprintf(room, sizeof(room), "r%d", (i ? atoi(i) : 0) % b->nrooms);
  weft_rooms_join(b->rooms, spark, room);
}

static void h_echo(const weft_event *ev, void *user) {
  (void)user;
  if (ev->reply) weft_reply_resolve(ev->reply, weft_value_array_at(ev->args, 0));
}

static void h_storm(const weft_event *ev, void *user) {
  bench *b = user;
  int64_t writes = 0;
  weft_value_get_int(weft_value_array_at(ev->args, 0), &writes);
  weft_value *msg = weft_value_new_string("0123456789abcdef0123456789abcdef", 32);
  char name[32];
  const char *names[1] = {name};
  for (int64_t k = 0; k < writes; k++) {
    snprintf(name, sizeof(name), "r%d", (int)(k % b->nrooms));
    weft_rooms_write(b->rooms, names, 1, NULL, 0, msg);
  }
  weft_value_free(msg);
  if (ev->reply) weft_reply_resolve(ev->reply, NULL);
}

static void on_signal(uv_signal_t *s, int sig) {
  (void)sig;
  bench *b = s->data;
  weft_server_destroy(b->server, NULL);
  uv_close((uv_handle_t *)s, NULL);
}

static int run_server(bench *b, int port) {
  weft_emitter *em;
  char url[64];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", port);
  weft_server_events ev = {.size = sizeof(ev), .connection = on_connection};
  if (weft_server_new(b->loop, &b->server) || weft_server_set_events(b->server, &ev, b, NULL) ||
      weft_server_set_ping_interval(b->server, 0) || weft_emitter_server(b->server, &em) ||
      weft_rooms_server(b->server, &b->rooms) || weft_emitter_on(em, "echo", h_echo, b, NULL) ||
      weft_emitter_on(em, "storm", h_storm, b, NULL) || weft_server_listen(b->server, url)) {
    fprintf(stderr, "ext_bench: server setup failed\n");
    return 1;
  }
  printf("listening %d\n", weft_server_port(b->server));
  fflush(stdout);
  uv_signal_t sig;
  uv_signal_init(weft_loop_uv(b->loop), &sig);
  sig.data = b;
  uv_signal_start(&sig, on_signal, SIGTERM);
  return weft_loop_run(b->loop) ? 1 : 0;
}

/* ---- load ---- */

static void finish(bench *b) {
  if (!b->running) return;
  b->running = 0;
  b->t1 = now_ns();
  double secs = (double)(b->t1 - b->t0) / 1e9;
  if (b->mode_rooms)
    printf("{\"case\":\"rooms\",\"conns\":%d,\"rooms\":%d,\"writes\":%d,\"deliveries\":%llu,"
           "\"seconds\":%.3f,\"deliveries_per_s\":%.0f}\n",
           b->conns, b->nrooms, b->writes, (unsigned long long)b->deliveries, secs,
           (double)b->deliveries / secs);
  else
    printf("{\"case\":\"ack\",\"conns\":%d,\"inflight\":%d,\"acks\":%llu,\"errors\":%llu,"
           "\"seconds\":%.3f,\"acks_per_s\":%.0f}\n",
           b->conns, b->inflight, (unsigned long long)b->acks, (unsigned long long)b->errors, secs,
           (double)b->acks / secs);
  fflush(stdout);
  uv_timer_stop(&b->timer);
  uv_close((uv_handle_t *)&b->timer, NULL);
  for (int i = 0; i < b->conns; i++)
    weft_client_destroy(b->peers[i].c);
}

static void emit_one(peer *p);

static void on_ack(const weft_ack *a, void *user) {
  peer *p = user;
  bench *b = p->b;
  if (a->status)
    b->errors++;
  else
    b->acks++;
  if (b->running) emit_one(p);
}

static void emit_one(peer *p) {
  static const char text[] = "0123456789abcdef0123456789abcdef";
  weft_value *args = weft_value_new_array();
  weft_value_array_push(args, weft_value_new_string(text, 32));
  if (weft_emitter_emit(p->em, NULL, "echo", args, 10000, on_ack, p) != 0) p->b->errors++;
  weft_value_free(args);
}

static void on_deadline(uv_timer_t *t) { finish(t->data); }

static void on_storm_done(const weft_ack *a, void *user) { (void)a, (void)user; }

static void start(bench *b) {
  b->running = 1;
  b->t0 = now_ns();
  if (b->mode_rooms) {
    /* Every room holds conns/rooms clients; each write reaches one room. */
    b->expected = 0;
    for (int k = 0; k < b->writes; k++) {
      int r = k % b->nrooms;
      b->expected += (uint64_t)(b->conns / b->nrooms + (r < b->conns % b->nrooms ? 1 : 0));
    }
    weft_value *args = weft_value_new_array();
    weft_value_array_push(args, weft_value_new_int(b->writes));
    weft_emitter_emit(b->peers[0].em, NULL, "storm", args, 0, on_storm_done, b);
    weft_value_free(args);
    uv_timer_start(&b->timer, on_deadline, 60000, 0);
    return;
  }
  for (int i = 0; i < b->conns; i++)
    for (int k = 0; k < b->inflight; k++)
      emit_one(&b->peers[i]);
  uv_timer_start(&b->timer, on_deadline, (uint64_t)b->seconds * 1000, 0);
}

static void on_open(weft_client *c, void *user) {
  peer *p = user;
  (void)c;
  if (++p->b->opened == p->b->conns) start(p->b);
}

static void on_data(weft_client *c, const weft_value *msg, void *user) {
  peer *p = user;
  (void)c, (void)msg;
  if (++p->b->deliveries == p->b->expected && p->b->mode_rooms) finish(p->b);
}

static int run_load(bench *b) {
  raise_nofile();
  b->peers = calloc((size_t)b->conns, sizeof(peer));
  uv_timer_init(weft_loop_uv(b->loop), &b->timer);
  b->timer.data = b;
  for (int i = 0; i < b->conns; i++) {
    peer *p = &b->peers[i];
    p->b = b;
    p->i = i;
    char url[256];
    snprintf(url, sizeof(url), "%s?i=%d", b->url, i);
    weft_client_events ev = {.size = sizeof(ev), .open = on_open, .data = on_data};
    if (weft_client_new(b->loop, url, &p->c) || weft_client_set_events(p->c, &ev, p, NULL) ||
        weft_client_set_ping_timeout(p->c, 0) || weft_emitter_client(p->c, &p->em) ||
        weft_client_open(p->c)) {
      fprintf(stderr, "ext_bench: client %d setup failed\n", i);
      return 1;
    }
  }
  int rc = weft_loop_run(b->loop);
  free(b->peers);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    fprintf(stderr, "usage: ext_bench server|ack|rooms [options]\n");
    return 2;
  }
  bench b;
  memset(&b, 0, sizeof(b));
  b.conns = 100;
  b.inflight = 16;
  b.seconds = 5;
  b.writes = 2000;
  b.nrooms = 100;
  int port = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--port"))
      port = atoi(v);
    else if (!strcmp(k, "--url"))
      b.url = v;
    else if (!strcmp(k, "--conns"))
      b.conns = atoi(v);
    else if (!strcmp(k, "--inflight"))
      b.inflight = atoi(v);
    else if (!strcmp(k, "--seconds"))
      b.seconds = atoi(v);
    else if (!strcmp(k, "--writes"))
      b.writes = atoi(v);
    else if (!strcmp(k, "--rooms"))
      b.nrooms = atoi(v);
    else {
      fprintf(stderr, "ext_bench: unknown option %s\n", k);
      return 2;
    }
  }
  if (b.conns < 1 || b.nrooms < 1 || b.inflight < 1 || b.seconds < 1) return 2;
  if (weft_loop_new(&b.loop)) return 1;
  int rc;
  if (!strcmp(argv[1], "server")) {
    rc = run_server(&b, port);
  } else if (b.url && (!strcmp(argv[1], "ack") || !strcmp(argv[1], "rooms"))) {
    b.mode_rooms = !strcmp(argv[1], "rooms");
    rc = run_load(&b);
  } else {
    fprintf(stderr, "ext_bench: unknown mode or missing --url\n");
    rc = 2;
  }
  weft_loop_close(b.loop);
  return rc;
}
