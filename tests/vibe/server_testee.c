/*
 * The server testee of Vibe's own suite (vibe-protocol 3.0.0-Alpha9,
 * test/server.js; the seed's "Server Testee"): a weft server with the
 * transformer "vibe" at /vibe on 127.0.0.1:8000 (the port the suite
 * dials), its handlers written against the emitter as any weft
 * application's are:
 *  - "echo": sends "echo" back with the same data;
 *  - "abort": closes the socket;
 *  - "/reply/inbound": resolves or rejects the event's reply with
 *    data.data, as data.type says;
 *  - "/reply/outbound": emits "test" with data.data asking for an answer,
 *    and sends "done" with the resolved value or the rejection reason.
 * GET /setup?heartbeat=&_heartbeat= sets the server's heartbeat for the
 * sockets that open next (weft_server_set_session_heartbeat, allowed while
 * listening). /setup is plain HTTP beside the real-time path, which the
 * public API has no hook for: it is the one internal this program uses
 * (the site's page hook, as the metrics page is served).
 *
 * Usage: vibe_server_testee [PORT]   (prints "listening URL" when ready)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <weft/ext.h>
#include <weft/weft.h>

#include "serve_until_signal.h"

#include "primus/primus.h"

typedef struct app {
  weft_loop *loop;
  weft_server *server;
  weft_emitter *em;
} app;

static const weft_value *arg0(const weft_event *ev) { return weft_value_array_at(ev->args, 0); }

static void emit1(app *a, weft_spark *to, const char *name, const weft_value *data,
                  weft_ack_cb cb) {
  weft_value *args = weft_value_new_array();
  if (!args) return;
  if (data) weft_value_array_push(args, weft_value_dup(data));
  weft_emitter_emit(a->em, to, name, args, WEFT_EMIT_DEFAULT_TIMEOUT, cb, to);
  weft_value_free(args);
}

static void on_echo(const weft_event *ev, void *user) {
  emit1(user, ev->spark, "echo", arg0(ev), NULL);
}

static void on_abort(const weft_event *ev, void *user) {
  (void)user;
  weft_spark_end(ev->spark, NULL, 0);
}

static int is_type(const weft_value *data, const char *type) {
  const char *s;
  size_t n;
  const weft_value *t = weft_value_map_get(data, "type", 4);
  return t && weft_value_get_string(t, &s, &n) == 0 && n == strlen(type) && !memcmp(s, type, n);
}

static void on_inbound(const weft_event *ev, void *user) {
  (void)user;
  const weft_value *data = arg0(ev);
  const weft_value *value = weft_value_map_get(data, "data", 4);
  if (!ev->reply) return;
  if (is_type(data, "resolved"))
    weft_reply_resolve(ev->reply, value);
  else
    weft_reply_reject(ev->reply, value);
}

static app *the_app;

static void on_answer(const weft_ack *ack, void *user) {
  weft_spark *to = user;
  if (ack->status == 0 || ack->status == WEFT_EREJECTED)
    emit1(the_app, to, "done", ack->value, NULL);
}

static void on_outbound(const weft_event *ev, void *user) {
  const weft_value *data = arg0(ev);
  emit1(user, ev->spark, "test", weft_value_map_get(data, "data", 4), on_answer);
}

/* A number parameter of a query string ("a=1&b=2"), or `def`. */
static uint32_t param(const char *query, const char *key, uint32_t def) {
  size_t k = strlen(key);
  for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
    if (strncmp(p, key, k) == 0 && p[k] == '=') return (uint32_t)strtoul(p + k + 1, NULL, 10);
  return def;
}

/* GET /setup: the heartbeat of the sockets that open next. */
static void setup_page(weft__http_conn *hc, void *user) {
  app *a = user;
  const char *q = weft__http_query(&hc->req.head);
  int rc = weft_server_set_session_heartbeat(a->server, param(q, "heartbeat", 20000),
                                             param(q, "_heartbeat", 5000));
  weft__http_respond(hc, rc ? 400 : 200, "text/plain", "", 0, NULL);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  app a = {0};
  the_app = &a;
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%s/vibe", argc > 1 ? argv[1] : "8000");
  if (weft_loop_new(&a.loop) || weft_server_new(a.loop, &a.server) ||
      weft_server_set_transformer(a.server, "vibe") || weft_emitter_server(a.server, &a.em)) {
    fprintf(stderr, "setup failed\n");
    return 1;
  }
  weft_emitter_on(a.em, "echo", on_echo, &a, NULL);
  weft_emitter_on(a.em, "abort", on_abort, &a, NULL);
  weft_emitter_on(a.em, "/reply/inbound", on_inbound, &a, NULL);
  weft_emitter_on(a.em, "/reply/outbound", on_outbound, &a, NULL);
  weft_server *s = a.server;
  s->site.page_path = strdup("/setup");
  s->site.page = setup_page;
  s->site.page_user = &a;
  int rc = weft_server_listen(a.server, url);
  if (rc) {
    fprintf(stderr, "listen %s: %s\n", url, weft_strerror(rc));
    return 1;
  }
  printf("listening %s\n", weft_server_url(a.server, 0));
  fflush(stdout);
  return weft_test_serve_until_signal(a.loop, a.server);
}
