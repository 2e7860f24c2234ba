/*
 * The test peer server shared by the integration and interop suites
 * (contract: tests/interop/README.md). It echoes every message back, except
 * maps carrying "__weft_test", which are commands: end, end-reconnect,
 * broadcast, count, id. --auth TOKEN refuses upgrades whose `token` query
 * differs, answering after 10 ms to exercise asynchronous authorization.
 * --transformer (websockets, engine.io, or a list), --session-ping
 * INTERVAL,TIMEOUT and --session-cookie NAME set engine.io's options.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <weft/weft.h>

#include "serve_until_signal.h"

typedef struct app {
  weft_loop *loop;
  weft_server *server;
  const char *token;
} app;

typedef struct pending_auth {
  uv_timer_t timer;
  weft_auth *req;
  app *a;
} pending_auth;

/* One line per event, flushed: the suites wait for these lines. */
static void line(const char *what, const char *a, const char *b) {
  printf("%s %s%s%s\n", what, a, b ? " " : "", b ? b : "");
  fflush(stdout);
}

static void on_connection(weft_spark *sp, void *user) {
  (void)user;
  line("connection", weft_spark_id(sp), NULL);
}

static void on_disconnection(weft_spark *sp, void *user) {
  (void)user;
  line("disconnection", weft_spark_id(sp), NULL);
}

static int is(const weft_value *v, const char *s) {
  const char *p;
  size_t n;
  return weft_value_get_string(v, &p, &n) == 0 && n == strlen(s) && memcmp(p, s, n) == 0;
}

static weft_value *one_entry(const char *key, weft_value *val) {
  weft_value *m = weft_value_new_map();
  if (m && weft_value_map_add(m, key, strlen(key), val) == 0) return m;
  weft_value_free(m);
  return NULL;
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  app *a = user;
  const weft_value *cmd = weft_value_map_get(msg, "__weft_test", 11);
  if (!cmd) {
    weft_spark_write(sp, msg);
    return;
  }
  weft_value *reply = NULL;
  if (is(cmd, "end"))
    weft_spark_end(sp, NULL, 0);
  else if (is(cmd, "end-reconnect"))
    weft_spark_end(sp, NULL, WEFT_END_RECONNECT);
  else if (is(cmd, "broadcast"))
    weft_server_write(a->server, weft_value_map_get(msg, "data", 4));
  else if (is(cmd, "count"))
    reply = one_entry("count", weft_value_new_int((int64_t)weft_server_spark_count(a->server)));
  else if (is(cmd, "id"))
    reply = one_entry("id", weft_value_new_string(weft_spark_id(sp), strlen(weft_spark_id(sp))));
  if (reply) weft_spark_write(sp, reply);
  weft_value_free(reply);
}

static void on_error(weft_server *s, weft_spark *sp, const weft_error_info *e, void *user) {
  (void)s, (void)sp, (void)user;
  line("error", e->kind, e->message);
}

static void on_auth_timer_closed(uv_handle_t *h) { free(h->data); }

static void on_auth_timer(uv_timer_t *t) {
  pending_auth *p = t->data;
  const char *token = weft_auth_query(p->req, "token");
  if (token && strcmp(token, p->a->token) == 0)
    weft_auth_allow(p->req);
  else
    weft_auth_deny(p->req, 401, "bad token");
  uv_close((uv_handle_t *)&p->timer, on_auth_timer_closed);
}

static void authorize(weft_auth *req, void *user) {
  app *a = user;
  pending_auth *p = malloc(sizeof(*p));
  if (!p) {
    weft_auth_deny(req, 500, "out of memory");
    return;
  }
  p->req = req;
  p->a = a;
  uv_timer_init(weft_loop_uv(a->loop), &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, on_auth_timer, 10, 0);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  const char *host = "127.0.0.1", *path = "/primus", *parser = "json", *cert = NULL, *key = NULL;
  const char *transformer = "websockets", *cookie = NULL;
  long session_ping = 0, session_timeout = 0;
  long port = 0, ping = 30000, maxlen = 10 << 20;
  int compression = 0;
  app a = {0};
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (strcmp(k, "--compression") == 0) {
      compression = 1;
      continue;
    }
    if (strcmp(k, "--host") == 0)
      host = v;
    else if (strcmp(k, "--path") == 0)
      path = v;
    else if (strcmp(k, "--parser") == 0)
      parser = v;
    else if (strcmp(k, "--port") == 0)
      port = atol(v);
    else if (strcmp(k, "--ping-interval") == 0)
      ping = atol(v);
    else if (strcmp(k, "--max-length") == 0)
      maxlen = atol(v);
    else if (strcmp(k, "--auth") == 0)
      a.token = v;
    else if (strcmp(k, "--tls-cert") == 0)
      cert = v;
    else if (strcmp(k, "--tls-key") == 0)
      key = v;
    else if (strcmp(k, "--transformer") == 0)
      transformer = v;
    else if (strcmp(k, "--session-ping") == 0) /* engine.io's pingInterval,pingTimeout */
      sscanf(v, "%ld,%ld", &session_ping, &session_timeout);
    else if (strcmp(k, "--session-cookie") == 0)
      cookie = v;
    else {
      fprintf(stderr, "test_server: unknown option %s\n", k);
      return 2;
    }
    i++;
  }
  if (weft_loop_new(&a.loop) || weft_server_new(a.loop, &a.server)) return 1;
  weft_server_events ev = {sizeof(ev), on_connection, on_disconnection, on_data, NULL,
                           on_error,   NULL};
  weft_server_set_events(a.server, &ev, &a, NULL);
  if (weft_server_set_parser(a.server, parser) != 0) return 2;
  if (weft_server_set_transformer(a.server, transformer) != 0) return 2;
  if (session_ping && weft_server_set_session_heartbeat(a.server, (uint32_t)session_ping,
                                                        (uint32_t)session_timeout))
    return 2;
  if (cookie && weft_server_set_session_cookie(a.server, cookie) != 0) return 2;
  weft_server_set_ping_interval(a.server, (uint32_t)ping);
  weft_server_set_max_length(a.server, (size_t)maxlen);
  weft_server_set_compression(a.server, compression);
  if (a.token) weft_server_set_authorize(a.server, authorize, &a, NULL);
  if (cert && weft_server_set_tls(a.server, cert, key ? key : "") != 0) return 2;
  const char *scheme = cert ? "wss" : "ws";
  char url[512];
  snprintf(url, sizeof(url), "%s://%s:%ld%s", scheme, host, port, path);
  int rc = weft_server_listen(a.server, url);
  if (rc) {
    fprintf(stderr, "test_server: listen %s: %s\n", url, weft_strerror(rc));
    return 1;
  }
  printf("listening on %s://%s:%d%s\n", scheme, host, weft_server_port(a.server),
         weft_server_pathname(a.server));
  fflush(stdout);
  return weft_test_serve_until_signal(a.loop, a.server);
}
