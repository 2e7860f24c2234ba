/*
 * The weft side of the rooms fan-out benchmark (bench/rooms.sh), on the
 * public API only, beside bench/peers/uws_server.cpp --mode rooms:
 *
 *   rooms_server [--port 0]
 *
 * A spark opened with ?room=K in its URL joins the room "room<K>" (the
 * rooms extension's server-side join; uWS subscribes to the topic of the
 * same name), and every message it sends is written to that room with
 * weft_rooms_write, the sender included (uWS: App::publish). JSON parser,
 * no emitter: the messages go out as plain Primus messages, framed as
 * `weft serve --mode broadcast` frames them (weft_server_write of the
 * decoded value), so bench/bcast_load's plain WebSocket clients read them.
 * No pings (as `weft serve --ping-interval 0` in bench/broadcast.sh).
 * Prints "listening on ws://127.0.0.1:PORT/primus" like `weft serve`;
 * SIGTERM or SIGINT closes it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "weft/ext.h"

typedef struct app {
  weft_loop *loop;
  weft_server *server;
  weft_rooms *rooms;
  uv_signal_t sigint, sigterm;
} app;

/* The room's name lives with the spark (its user data): a message is
 * written to it without formatting a name or reading the query again. */
static void on_connection(weft_spark *spark, void *user) {
  app *a = user;
  const char *k = weft_spark_query(spark, "room");
  char *name = malloc(24);
  if (!name) {
    weft_spark_end(spark, NULL, 0);
    return;
  }
  snprintf(name, 24, "room%.16s", k ? k : "");
  int rc = weft_rooms_join(a->rooms, spark, name);
  if (rc) {
    fprintf(stderr, "error rooms %s join %s: %s\n", weft_spark_id(spark), name, weft_strerror(rc));
    free(name);
    weft_spark_end(spark, NULL, 0);
    return;
  }
  weft_spark_set_user(spark, name, free);
}

static void on_data(weft_spark *spark, const weft_value *msg, void *user) {
  app *a = user;
  const char *name = weft_spark_get_user(spark);
  if (!name) return;
  int rc = weft_rooms_write(a->rooms, &name, 1, NULL, 0, msg);
  if (rc < 0)
    fprintf(stderr, "error rooms %s write: %s\n", weft_spark_id(spark), weft_strerror(rc));
}

static void on_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  (void)s, (void)user;
  fprintf(stderr, "error %s %s%s%s\n", e->kind, sp ? weft_spark_id(sp) : "", sp ? " " : "",
          e->message);
}

static void on_close(weft_server *s, void *user) {
  (void)s;
  app *a = user;
  a->server = NULL;
}

static void on_signal(uv_signal_t *h, int signum) {
  app *a = h->data;
  (void)signum;
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  if (a->server) weft_server_destroy(a->server, NULL);
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
      port = atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "usage: rooms_server [--port P]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  /* 10k clients: as many descriptors as allowed (the server's default
   * connection limit is the soft limit when it listens). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  app a = {0};
  char url[64];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", port);
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = on_connection,
                           .data = on_data,
                           .error = on_error,
                           .close = on_close};
  int rc;
  if ((rc = weft_loop_new(&a.loop)) || (rc = weft_server_new(a.loop, &a.server)) ||
      (rc = weft_server_set_events(a.server, &ev, &a, NULL)) ||
      (rc = weft_server_set_parser(a.server, "json")) ||
      (rc = weft_server_set_ping_interval(a.server, 0)) ||
      (rc = weft_rooms_server(a.server, &a.rooms)) || (rc = weft_server_listen(a.server, url))) {
    fprintf(stderr, "rooms_server: %s\n", weft_strerror(rc));
    return 1;
  }
  printf("listening on %s\n", weft_server_url(a.server, 0));
  fflush(stdout);
  uv_loop_t *uv = weft_loop_uv(a.loop);
  uv_signal_init(uv, &a.sigint);
  uv_signal_init(uv, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  rc = weft_loop_run(a.loop);
  weft_loop_close(a.loop);
  return rc ? 1 : 0;
}
