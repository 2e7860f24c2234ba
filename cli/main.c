/*
 * weft — command-line front end.
 *
 *   weft serve [--host H] [--port P] [--path /primus] [--parser json|msgpack]
 *              [--ping-interval MS] [--max-length BYTES] [--compression]
 *              [--mode echo|broadcast]
 *
 * Prints "listening on ws://H:P/path" once ready and a line per connection
 * and disconnection; SIGINT/SIGTERM close everything and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <weft/weft.h>

#include "cli.h"

typedef struct serve_opts {
  const char *host, *path, *parser, *mode, *cert, *key;
  long port, ping_interval, max_length;
  int compression, ping_set;
} serve_opts;

typedef struct app {
  weft_loop *loop;
  weft_server *server;
  int broadcast;
  uv_signal_t sigint, sigterm;
} app;

static void usage(FILE *f) {
  fprintf(f,
          "usage: weft serve [--host H] [--port P] [--path /primus] [--parser json|msgpack|raw]\n"
          "                  [--ping-interval MS] [--max-length BYTES] [--compression]\n"
          "                  [--mode echo|broadcast]\n"
          "       weft --version\n");
}

static void on_connection(weft_spark *sp, void *user) {
  (void)user;
  printf("connection %s %s:%d\n", weft_spark_id(sp), weft_spark_address(sp), weft_spark_port(sp));
  fflush(stdout);
}

static void on_disconnection(weft_spark *sp, void *user) {
  (void)user;
  printf("disconnection %s\n", weft_spark_id(sp));
  fflush(stdout);
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  app *a = user;
  if (a->broadcast)
    weft_server_write(a->server, msg);
  else
    weft_spark_write(sp, msg);
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

static int parse_long(const char *s, long min, long max, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_serve(int argc, char **argv, serve_opts *o) {
  *o =
      (serve_opts){"127.0.0.1", "/primus", "json", "echo", NULL, NULL, 8080, 30000, 10 << 20, 0, 0};
  for (int i = 0; i < argc; i++) {
    const char *k = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int ok = 1;
    if (strcmp(k, "--compression") == 0) {
      o->compression = 1;
      continue;
    }
    if (!v)
      ok = 0;
    else if (strcmp(k, "--host") == 0)
      o->host = v;
    else if (strcmp(k, "--path") == 0)
      o->path = v;
    else if (strcmp(k, "--parser") == 0)
      o->parser = v;
    else if (strcmp(k, "--mode") == 0)
      o->mode = v;
    else if (strcmp(k, "--tls-cert") == 0)
      o->cert = v;
    else if (strcmp(k, "--tls-key") == 0)
      o->key = v;
    else if (strcmp(k, "--port") == 0)
      ok = parse_long(v, 0, 65535, &o->port) == 0;
    else if (strcmp(k, "--ping-interval") == 0)
      ok = (o->ping_set = 1, parse_long(v, 0, 86400000, &o->ping_interval) == 0);
    else if (strcmp(k, "--max-length") == 0)
      ok = parse_long(v, 1, 1L << 40, &o->max_length) == 0;
    else
      ok = 0;
    if (!ok) {
      fprintf(stderr, "weft: bad option %s%s%s\n", k, v ? " " : "", v ? v : "");
      return -1;
    }
    i++;
  }
  if (strcmp(o->mode, "echo") != 0 && strcmp(o->mode, "broadcast") != 0) {
    fprintf(stderr, "weft: --mode is echo or broadcast\n");
    return -1;
  }
  /* Generic WebSocket peers would take primus::ping strings for data. */
  if (strcmp(o->parser, "raw") == 0 && !o->ping_set) o->ping_interval = 0;
  if (!weft_parser_exists(o->parser)) {
    fprintf(stderr, "weft: unknown parser %s\n", o->parser);
    return -1;
  }
  return 0;
}

static int serve(int argc, char **argv) {
  serve_opts o;
  if (parse_serve(argc, argv, &o) != 0) {
    usage(stderr);
    return 2;
  }
  app a = {0};
  a.broadcast = strcmp(o.mode, "broadcast") == 0;
  int rc = weft_loop_new(&a.loop);
  if (rc == 0) rc = weft_server_new(a.loop, &a.server);
  if (rc) {
    fprintf(stderr, "weft: %s\n", weft_strerror(rc));
    return 1;
  }
  weft_server_events ev = {sizeof(ev), on_connection, on_disconnection, on_data,
                           NULL,       on_error,      on_close};
  weft_server_set_events(a.server, &ev, &a, NULL);
  weft_server_set_parser(a.server, o.parser);
  weft_server_set_ping_interval(a.server, (uint32_t)o.ping_interval);
  weft_server_set_max_length(a.server, (size_t)o.max_length);
  weft_server_set_compression(a.server, o.compression);
  const char *scheme = o.cert || o.key ? "wss" : "ws";
  if ((o.cert || o.key) &&
      weft_server_set_tls(a.server, o.cert ? o.cert : "", o.key ? o.key : "")) {
    fprintf(stderr, "weft: --tls-cert and --tls-key go together\n");
    return 2;
  }
  char url[600];
  int v6 = strchr(o.host, ':') != NULL;
  snprintf(url, sizeof(url), "%s://%s%s%s:%ld%s", scheme, v6 ? "[" : "", o.host, v6 ? "]" : "",
           o.port, o.path);
  rc = weft_server_listen(a.server, url);
  if (rc) {
    fprintf(stderr, "weft: cannot listen on %s: %s\n", url, weft_strerror(rc));
    weft_server_destroy(a.server, NULL);
    weft_loop_run(a.loop);
    weft_loop_close(a.loop);
    return 1;
  }
  printf("listening on %s://%s%s%s:%d%s\n", scheme, v6 ? "[" : "", o.host, v6 ? "]" : "",
         weft_server_port(a.server), weft_server_pathname(a.server));
  fflush(stdout);
  uv_loop_t *uv = weft_loop_uv(a.loop);
  uv_signal_init(uv, &a.sigint);
  uv_signal_init(uv, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  weft_loop_run(a.loop);
  rc = weft_loop_close(a.loop);
  return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && strcmp(argv[1], "serve") == 0) return serve(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "connect") == 0) return weft_cli_connect(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
    printf("weft %s\n", weft_version_string());
    return 0;
  }
  usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
  return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
