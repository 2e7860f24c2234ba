/* Servers and sparks of the C driver: serve's options, the server's events,
 * and the commands on sparks. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

typedef struct spark_rec {
  char id[80];
  weft_spark *sp; /* retained: after its disconnection, calls answer WEFT_ECLOSED */
} spark_rec;

struct conf_server {
  char name[32];
  weft_server *s;
  int closed, destroying, echo, ids;
  char auth_key[64], auth_value[64], auth_message[128];
  int auth_status;
  spark_rec *sparks;
  size_t n_sparks;
};

#define MAX_SERVERS 16
static conf_server servers[MAX_SERVERS];
static size_t n_servers;

static conf_server *find(const char *name) {
  for (size_t i = 0; name && i < n_servers; i++)
    if (strcmp(servers[i].name, name) == 0) return &servers[i];
  return NULL;
}

static weft_value *about(conf_server *r, const char *ev, weft_spark *sp) {
  weft_value *m = conf_event(ev);
  conf_put_str(m, "server", r->name);
  if (sp) conf_put_str(m, "spark", weft_spark_id(sp));
  return m;
}

static void forget_sparks(conf_server *r) {
  for (size_t i = 0; i < r->n_sparks; i++)
    weft_spark_release(r->sparks[i].sp);
  free(r->sparks);
  r->sparks = NULL;
  r->n_sparks = 0;
}

static void on_connection(weft_spark *sp, void *user) {
  conf_server *r = user;
  spark_rec *grown = realloc(r->sparks, (r->n_sparks + 1) * sizeof *grown);
  if (grown && weft_spark_retain(sp) == 0) {
    r->sparks = grown;
    snprintf(grown[r->n_sparks].id, sizeof grown->id, "%s", weft_spark_id(sp));
    grown[r->n_sparks++].sp = sp;
  }
  conf_emit(about(r, "connection", sp));
}

static void on_disconnection(weft_spark *sp, void *user) {
  conf_emit(about(user, "disconnection", sp));
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  conf_server *r = user;
  weft_value *m = about(r, "data", sp);
  conf_put_value(m, "value", msg);
  conf_emit(m);
  if (r->echo) weft_spark_write(sp, msg);
}

static void on_drain(weft_spark *sp, void *user) { conf_emit(about(user, "drain", sp)); }

static void on_error(weft_server *s, weft_spark *sp, const weft_error_info *err, void *user) {
  (void)s;
  weft_value *m = about(user, "error", sp);
  conf_put_str(m, "code", weft_err_name(err->code));
  conf_put_str(m, "kind", err->kind);
  conf_emit(m);
}

static void on_close(weft_server *s, void *user) {
  conf_server *r = user;
  (void)s;
  r->closed = 1;
  r->s = NULL;
  forget_sparks(r);
  conf_emit(about(r, "close", NULL));
}

static void on_authorize(weft_auth *req, void *user) {
  conf_server *r = user;
  const char *v = weft_auth_query(req, r->auth_key);
  if (v && strcmp(v, r->auth_value) == 0)
    weft_auth_allow(req);
  else
    weft_auth_deny(req, r->auth_status, r->auth_message);
}

static int next_id(char *buf, size_t cap, void *user) {
  conf_server *r = user;
  snprintf(buf, cap, "conf-%d", ++r->ids);
  return 0;
}

/* Registers the bundle's file at <path>/<as>: the browser client. */
/* The plain options: name -> setter. Returns 0, or a weft error. */
static int set_options(conf_server *r, const weft_value *o, conf_err *e) {
  weft_server *s = r->s;
  const char *str;
  int rc = 0;
#define TRY(what, call)                                                                            \
  if ((rc = (call)) != 0) return conf_fail(e, rc, what)
  if ((str = conf_str(o, "transformer"))) TRY("transformer", weft_server_set_transformer(s, str));
  if ((str = conf_str(o, "parser"))) TRY("parser", weft_server_set_parser(s, str));
  if (conf_get(o, "ping_interval"))
    TRY("ping_interval",
        weft_server_set_ping_interval(s, (uint32_t)conf_int(o, "ping_interval", 0)));
  if (conf_get(o, "max_length"))
    TRY("max_length", weft_server_set_max_length(s, (size_t)conf_int(o, "max_length", 0)));
  if (conf_bool(o, "compression")) TRY("compression", weft_server_set_compression(s, 1));
  if (conf_get(o, "high_water_mark"))
    TRY("high_water_mark",
        weft_server_set_high_water_mark(s, (size_t)conf_int(o, "high_water_mark", 0)));
  if (conf_get(o, "max_queue"))
    TRY("max_queue", weft_server_set_max_queue(s, (size_t)conf_int(o, "max_queue", 0)));
  if ((str = conf_str(o, "queue_policy")))
    TRY("queue_policy", weft_server_set_queue_policy(
                            s, strcmp(str, "drop") == 0 ? WEFT_QUEUE_DROP : WEFT_QUEUE_CLOSE));
  const weft_value *list = conf_get(o, "origins");
  for (size_t i = 0; i < weft_value_len(list); i++) {
    const char *x;
    size_t n;
    if (weft_value_get_string(weft_value_array_at(list, i), &x, &n) == 0)
      TRY("origin", weft_server_add_origin(s, x));
  }
  list = conf_get(o, "trusted_proxies");
  for (size_t i = 0; i < weft_value_len(list); i++) {
    const char *x;
    size_t n;
    if (weft_value_get_string(weft_value_array_at(list, i), &x, &n) == 0)
      TRY("trusted_proxy", weft_server_add_trusted_proxy(s, x));
  }
  if (conf_get(o, "batching"))
    TRY("batching", weft_server_set_batching(s, (size_t)conf_int(o, "batching", 0)));
  if (conf_str(o, "id_generator"))
    TRY("id_generator", weft_server_set_id_generator(s, next_id, r, NULL));
  if ((str = conf_str(o, "static_dir"))) TRY("static_dir", weft_server_set_static_dir(s, str));
  const weft_value *asset = conf_get(o, "asset");
  if (asset) {
    const char *text = conf_str(asset, "text");
    TRY("asset", weft_server_add_asset(s, conf_str(asset, "path"), conf_str(asset, "type"), text,
                                       text ? strlen(text) : 0));
  }
  const weft_value *auth = conf_get(o, "authorize");
  if (auth) {
    snprintf(r->auth_key, sizeof r->auth_key, "%s",
             conf_str(auth, "query") ? conf_str(auth, "query") : "");
    snprintf(r->auth_value, sizeof r->auth_value, "%s",
             conf_str(auth, "equals") ? conf_str(auth, "equals") : "");
    snprintf(r->auth_message, sizeof r->auth_message, "%s",
             conf_str(auth, "message") ? conf_str(auth, "message") : "");
    r->auth_status = (int)conf_int(auth, "status", 401);
    TRY("authorize", weft_server_set_authorize(s, on_authorize, r, NULL));
  }
  for (const char *key = "transforms"; key;
       key = strcmp(key, "transforms") == 0 ? "plugins" : NULL) {
    list = conf_get(o, key);
    for (size_t i = 0; i < weft_value_len(list); i++) {
      const char *x;
      size_t n;
      weft_value_get_string(weft_value_array_at(list, i), &x, &n);
      const weft_plugin_ops *ops = conf_menu(x, 0);
      if (!ops) return conf_failx(e, "EINVAL", "no %s %s in the menu", key, x);
      TRY(x, weft_server_use(s, ops, NULL));
    }
  }
  return 0;
#undef TRY
}

static int set_extensions(conf_server *r, const weft_value *o, conf_err *e) {
  int rc;
  weft_emitter *em = NULL;
  if (conf_bool(o, "emitter") || conf_bool(o, "rooms")) {
    if ((rc = weft_emitter_server(r->s, &em)) != 0) return conf_fail(e, rc, "emitter");
    if (conf_get(o, "ack_timeout") &&
        (rc = weft_emitter_set_timeout(em, (uint32_t)conf_int(o, "ack_timeout", 0))))
      return conf_fail(e, rc, "ack_timeout");
    if ((rc = conf_listen_events(em, r->name, 1, conf_get(o, "events"))) != 0)
      return conf_fail(e, rc, "events");
  }
  if (conf_bool(o, "rooms")) {
    weft_rooms *rooms;
    if ((rc = weft_rooms_server(r->s, &rooms)) != 0) return conf_fail(e, rc, "rooms");
  }
  if (conf_bool(o, "channels")) {
    weft_channels *chs;
    if ((rc = weft_channels_server(r->s, &chs)) != 0) return conf_fail(e, rc, "channels");
    if (conf_get(o, "channel_window") &&
        (rc = weft_channels_set_window(chs, (uint32_t)conf_int(o, "channel_window", 64))) != 0)
      return conf_fail(e, rc, "channel_window");
    if ((rc = conf_watch_channels(chs, r->name, 1)) != 0) return conf_fail(e, rc, "channels");
  }
  return 0;
}

int conf_serve(const weft_value *cmd, weft_value *reply, conf_err *e) {
  const char *name = conf_str(cmd, "server");
  const char *url = conf_str(cmd, "url");
  const weft_value *o = conf_get(cmd, "options");
  conf_server *r = find(name);
  if (!name || strlen(name) >= sizeof r->name) return conf_failx(e, "EINVAL", "a server name");
  if (r && !r->closed) return conf_failx(e, "EEXIST", "server %s exists", name);
  if (!r && n_servers == MAX_SERVERS) return conf_failx(e, "ENOMEM", "too many servers");
  if (!r) r = &servers[n_servers++];
  forget_sparks(r);
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->closed = 1;
  int rc = weft_server_new(conf_loop(), &r->s);
  if (rc != 0) return conf_fail(e, rc, "server");
  r->closed = 0;
  r->echo = conf_bool(o, "echo");
  weft_server_events ev = {.size = sizeof ev,
                           .connection = on_connection,
                           .disconnection = on_disconnection,
                           .data = on_data,
                           .drain = on_drain,
                           .error = on_error,
                           .close = on_close};
  weft_server_set_events(r->s, &ev, r, NULL);
  const weft_value *policy = conf_get(o, "rooms_policy");
  if (set_options(r, o, e) != 0 || set_extensions(r, o, e) != 0 ||
      (policy && (rc = conf_rooms_policy(r->s, conf_str(policy, "allow_prefix"))) != 0 &&
       conf_fail(e, rc, "rooms_policy")) ||
      (conf_get(o, "serve_client") &&
       (rc = weft_server_set_client_library(r->s, conf_bool(o, "serve_client"))) != 0 &&
       conf_fail(e, rc, "serve_client")) ||
      ((rc = weft_server_listen(r->s, url ? url : "ws://127.0.0.1:0/primus")) != 0 &&
       conf_fail(e, rc, "listen"))) {
    r->destroying = 1;
    weft_server_destroy(r->s, NULL);
    return -1;
  }
  weft_value *ev_l = about(r, "listening", NULL);
  conf_put_str(ev_l, "url", weft_server_url(r->s, 0));
  conf_emit(ev_l);
  conf_put_str(reply, "url", weft_server_url(r->s, 0));
  return 0;
}

static conf_server *need(const weft_value *cmd, conf_err *e) {
  conf_server *r = find(conf_str(cmd, "server"));
  if (!r)
    conf_failx(e, "EINVAL", "no server %s", conf_str(cmd, "server") ? conf_str(cmd, "server") : "");
  else if (!r->s)
    conf_failx(e, "ECLOSED", "server %s is closed", r->name), r = NULL;
  return r;
}

weft_server *conf_server_of(const weft_value *cmd, conf_err *e) {
  conf_server *r = need(cmd, e);
  return r ? r->s : NULL;
}

weft_spark *conf_spark(const weft_value *cmd, conf_err *e) {
  conf_server *r = need(cmd, e);
  const char *id = conf_str(cmd, "spark");
  for (size_t i = 0; r && id && i < r->n_sparks; i++) {
    if (strcmp(r->sparks[i].id, id) != 0) continue;
    return r->sparks[i].sp;
  }
  if (r) conf_failx(e, "EINVAL", "no spark %s", id ? id : "");
  return NULL;
}

static void lower(char *s) {
  for (; *s; s++)
    *s = (char)tolower((unsigned char)*s);
}

static int spark_info(weft_spark *sp, const weft_value *cmd, weft_value *reply) {
  conf_put_str(reply, "spark", weft_spark_id(sp));
  conf_put_str(reply, "address", weft_spark_address(sp));
  weft_value *h = weft_value_new_map(), *q = weft_value_new_map();
  const weft_value *names = conf_get(cmd, "headers");
  const char *k, *v;
  size_t n;
  for (size_t i = 0; i < weft_value_len(names); i++)
    if (weft_value_get_string(weft_value_array_at(names, i), &k, &n) == 0)
      conf_put_str(h, k, weft_spark_header(sp, k));
  names = conf_get(cmd, "query");
  for (size_t i = 0; i < weft_value_len(names); i++)
    if (weft_value_get_string(weft_value_array_at(names, i), &k, &n) == 0)
      conf_put_str(q, k, weft_spark_query(sp, k));
  if (conf_bool(cmd, "all")) {
    for (size_t i = 0; i < weft_spark_header_count(sp) && weft_spark_header_at(sp, i, &k, &v) == 0;
         i++) {
      char low[256];
      snprintf(low, sizeof low, "%s", k);
      lower(low);
      conf_put_str(h, low, v);
    }
    for (size_t i = 0; i < weft_spark_query_count(sp) && weft_spark_query_at(sp, i, &k, &v) == 0;
         i++)
      conf_put_str(q, k, v);
  }
  conf_put(reply, "headers", h);
  conf_put(reply, "query", q);
  return 0;
}

static int flood(weft_spark *sp, const weft_value *cmd, weft_value *reply, conf_err *e) {
  size_t size = (size_t)conf_int(cmd, "size", 1024);
  int64_t max = conf_int(cmd, "max", 1);
  int until_error = conf_str(cmd, "until") && strcmp(conf_str(cmd, "until"), "error") == 0;
  char *text = malloc(size);
  if (!text) return conf_fail(e, WEFT_ENOMEM, "flood");
  memset(text, 'x', size);
  weft_value *payload = weft_value_new_string(text, size);
  free(text);
  int64_t writes = 0;
  int full = 0, rc = 0;
  while (writes < max) {
    writes++;
    rc = weft_spark_write(sp, payload);
    if (rc < 0) break;
    if (rc == 1 && (full = 1) && !until_error) break;
  }
  weft_value_free(payload);
  conf_put_int(reply, "writes", writes);
  conf_put_bool(reply, "full", full || rc < 0);
  if (rc < 0) conf_put_str(reply, "code", weft_err_name(rc));
  return 0;
}

int conf_server_cmd(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e) {
  int rc;
  if (strcmp(name, "close") == 0 || strcmp(name, "broadcast") == 0) {
    conf_server *r = need(cmd, e);
    if (!r) return -1;
    if (strcmp(name, "broadcast") == 0) {
      if ((rc = weft_server_write(r->s, conf_get(cmd, "value"))) < 0)
        return conf_fail(e, rc, "broadcast");
      conf_put_int(reply, "count", rc);
      return 0;
    }
    weft_destroy_options d = {.size = sizeof d,
                              .reconnect = conf_bool(cmd, "reconnect"),
                              .timeout_ms = (uint32_t)conf_int(cmd, "timeout", 0)};
    r->destroying = 1;
    return (rc = weft_server_destroy(r->s, &d)) != 0 ? conf_fail(e, rc, "close") : 0;
  }
  weft_spark *sp = conf_spark(cmd, e);
  if (!sp) return -1;
  if (strcmp(name, "write") == 0) {
    if ((rc = weft_spark_write(sp, conf_get(cmd, "value"))) < 0) return conf_fail(e, rc, "write");
    conf_put_bool(reply, "below", rc == 0);
    return 0;
  }
  if (strcmp(name, "write_many") == 0) {
    const weft_value *vs = conf_get(cmd, "values");
    for (size_t i = 0; i < weft_value_len(vs); i++)
      if ((rc = weft_spark_write(sp, weft_value_array_at(vs, i))) < 0)
        return conf_fail(e, rc, "write");
    return 0;
  }
  if (strcmp(name, "end") == 0) {
    rc = weft_spark_end(sp, conf_get(cmd, "value"),
                        conf_bool(cmd, "reconnect") ? WEFT_END_RECONNECT : 0);
    return rc ? conf_fail(e, rc, "end") : 0;
  }
  if (strcmp(name, "spark_info") == 0) return spark_info(sp, cmd, reply);
  if (strcmp(name, "flood") == 0) return flood(sp, cmd, reply, e);
  return 1;
}

int conf_servers_close(void) {
  int open = 0;
  for (size_t i = 0; i < n_servers; i++) {
    if (servers[i].closed) continue;
    open++;
    if (!servers[i].destroying) {
      weft_destroy_options d = {.size = sizeof d, .timeout_ms = 200};
      servers[i].destroying = 1;
      weft_server_destroy(servers[i].s, &d);
    }
  }
  return open;
}
