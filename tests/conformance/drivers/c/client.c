/* Clients of the C driver: connect's options, the client's events, and the
 * commands on clients. */
#include <stdio.h>
#include <string.h>

#include "driver.h"

typedef struct client_rec {
  char name[32];
  weft_client *c;
  int gone, destroying;
} client_rec;

#define MAX_CLIENTS 32
static client_rec clients[MAX_CLIENTS];
static size_t n_clients;

static client_rec *find(const char *name) {
  for (size_t i = 0; name && i < n_clients; i++)
    if (strcmp(clients[i].name, name) == 0) return &clients[i];
  return NULL;
}

/* An event about client r, its other fields to add. */
static weft_value *event_of(const client_rec *r, const char *ev) {
  weft_value *m = conf_event(ev);
  conf_put_str(m, "client", r->name);
  return m;
}

static void plain(client_rec *r, const char *ev) { conf_emit(event_of(r, ev)); }

static void on_open(weft_client *c, void *u) { (void)c, plain(u, "open"); }
static void on_close(weft_client *c, void *u) { (void)c, plain(u, "close"); }
static void on_end(weft_client *c, void *u) { (void)c, plain(u, "end"); }
static void on_timeout(weft_client *c, void *u) { (void)c, plain(u, "timeout"); }
static void on_online(weft_client *c, void *u) { (void)c, plain(u, "online"); }
static void on_offline(weft_client *c, void *u) { (void)c, plain(u, "offline"); }

static void on_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  weft_value *m = event_of(user, "data");
  conf_put_value(m, "value", msg);
  conf_emit(m);
}

static void on_error(weft_client *c, const weft_error_info *err, void *user) {
  (void)c;
  weft_value *m = event_of(user, "error");
  conf_put_str(m, "code", weft_err_name(err->code));
  conf_put_str(m, "kind", err->kind);
  if (err->status) conf_put_int(m, "status", err->status);
  conf_put_str(m, "body", err->body);
  conf_emit(m);
}

static void info(client_rec *r, const char *ev, const weft_reconnect_info *i) {
  weft_value *m = event_of(r, ev);
  conf_put_int(m, "attempt", i->attempt);
  conf_put_int(m, "retries", i->retries);
  conf_put_int(m, "delay", i->delay_ms);
  conf_emit(m);
}

static void on_scheduled(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, info(u, "reconnect_scheduled", i);
}
static void on_reconnect(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, info(u, "reconnect", i);
}
static void on_reconnected(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, info(u, "reconnected", i);
}
static void on_failed(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, info(u, "reconnect_failed", i);
}
static void on_rtimeout(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, info(u, "reconnect_timeout", i);
}

static void on_id(weft_client *c, const char *id, void *user) {
  (void)c;
  weft_value *m = event_of(user, "id");
  conf_put_str(m, "id", id);
  conf_emit(m);
}

static void on_destroy(weft_client *c, void *user) {
  client_rec *r = user;
  (void)c;
  r->gone = 1;
  r->c = NULL;
}

static int set_options(weft_client *c, const char *name, const weft_value *o, conf_err *e) {
  const char *s;
  int rc;
#define TRY(what, call)                                                                            \
  if ((rc = (call)) != 0) return conf_fail(e, rc, what)
  if ((s = conf_str(o, "transformer"))) TRY("transformer", weft_client_set_transformer(c, s));
  if ((s = conf_str(o, "parser"))) TRY("parser", weft_client_set_parser(c, s));
  const weft_value *rec = conf_get(o, "reconnect");
  if (rec) {
    const weft_value *f = conf_get(rec, "factor");
    double factor = 2;
    int64_t fi;
    if (weft_value_get_float(f, &factor) != 0 && weft_value_get_int(f, &fi) == 0)
      factor = (double)fi;
    TRY("reconnect", weft_client_set_reconnect(c, (uint32_t)conf_int(rec, "min", 500),
                                               (uint32_t)conf_int(rec, "max", 0),
                                               (uint32_t)conf_int(rec, "retries", 10), factor));
  }
  if ((s = conf_str(o, "strategy"))) TRY("strategy", weft_client_set_strategy(c, s));
  if (conf_get(o, "timeout"))
    TRY("timeout", weft_client_set_timeout(c, (uint32_t)conf_int(o, "timeout", 0)));
  if (conf_get(o, "ping_timeout"))
    TRY("ping_timeout", weft_client_set_ping_timeout(c, (uint32_t)conf_int(o, "ping_timeout", 0)));
  if (conf_get(o, "max_length"))
    TRY("max_length", weft_client_set_max_length(c, (size_t)conf_int(o, "max_length", 0)));
  if (conf_get(o, "queue_limit"))
    TRY("queue_limit", weft_client_set_queue_limit(c, (size_t)conf_int(o, "queue_limit", 0)));
  if (conf_bool(o, "retry_refused")) TRY("retry_refused", weft_client_set_retry_refused(c, 1));
  if (conf_bool(o, "compression")) TRY("compression", weft_client_set_compression(c, 1));
  if (conf_get(o, "batching"))
    TRY("batching", weft_client_set_batching(c, (size_t)conf_int(o, "batching", 0)));
  const weft_value *h = conf_get(o, "headers");
  for (size_t i = 0; i < weft_value_len(h); i++) {
    const char *k, *v;
    size_t n;
    if (weft_value_get_string(weft_value_map_key_at(h, i), &k, &n) == 0 &&
        weft_value_get_string(weft_value_map_value_at(h, i), &v, &n) == 0)
      TRY("header", weft_client_add_header(c, k, v));
  }
  for (const char *key = "transforms"; key;
       key = strcmp(key, "transforms") == 0 ? "plugins" : NULL) {
    const weft_value *list = conf_get(o, key);
    for (size_t i = 0; i < weft_value_len(list); i++) {
      const char *x;
      size_t n;
      weft_value_get_string(weft_value_array_at(list, i), &x, &n);
      const weft_plugin_ops *ops = conf_menu(x, 1);
      if (!ops)
        return conf_failx(e, "ECAP",
                          "the C client cannot run %s (plugin.h has no such client hook)", x);
      TRY(x, weft_client_use(c, ops, NULL));
    }
  }
  if (conf_bool(o, "emitter")) {
    weft_emitter *em;
    TRY("emitter", weft_emitter_client(c, &em));
    if (conf_get(o, "ack_timeout"))
      TRY("ack_timeout", weft_emitter_set_timeout(em, (uint32_t)conf_int(o, "ack_timeout", 0)));
    TRY("events", conf_listen_events(em, name, 0, conf_get(o, "events")));
  }
  if (conf_bool(o, "channels")) {
    weft_channels *chs;
    TRY("channels", weft_channels_client(c, &chs));
    if (conf_get(o, "channel_window"))
      TRY("channel_window",
          weft_channels_set_window(chs, (uint32_t)conf_int(o, "channel_window", 64)));
    TRY("channels", conf_watch_channels(chs, name, 0));
  }
  return 0;
#undef TRY
}

int conf_connect(const weft_value *cmd, weft_value *reply, conf_err *e) {
  const char *name = conf_str(cmd, "client");
  const weft_value *o = conf_get(cmd, "options");
  (void)reply;
  client_rec *r = find(name);
  if (!name || strlen(name) >= sizeof r->name) return conf_failx(e, "EINVAL", "a client name");
  if (r && !r->gone) return conf_failx(e, "EEXIST", "client %s exists", name);
  if (!r && n_clients == MAX_CLIENTS) return conf_failx(e, "ENOMEM", "too many clients");
  if (!r) r = &clients[n_clients++];
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->gone = 1;
  const char *url = conf_str(cmd, "url");
  int rc = weft_client_new(conf_loop(), url ? url : "", &r->c);
  if (rc != 0) return conf_fail(e, rc, "client");
  r->gone = 0;
  weft_client_events ev = {.size = sizeof ev,
                           .open = on_open,
                           .data = on_data,
                           .error = on_error,
                           .close = on_close,
                           .end = on_end,
                           .timeout = on_timeout,
                           .reconnect_scheduled = on_scheduled,
                           .reconnect = on_reconnect,
                           .reconnected = on_reconnected,
                           .reconnect_failed = on_failed,
                           .online = on_online,
                           .offline = on_offline,
                           .id = on_id,
                           .destroy = on_destroy,
                           .reconnect_timeout = on_rtimeout};
  weft_client_set_events(r->c, &ev, r, NULL);
  if (set_options(r->c, r->name, o, e) != 0 ||
      (!conf_bool(o, "manual") && (rc = weft_client_open(r->c)) != 0 && conf_fail(e, rc, "open"))) {
    r->destroying = 1;
    weft_client_destroy(r->c);
    return -1;
  }
  return 0;
}

weft_client *conf_client(const weft_value *cmd, conf_err *e) {
  client_rec *r = find(conf_str(cmd, "client"));
  if (!r) {
    conf_failx(e, "EINVAL", "no client %s", conf_str(cmd, "client") ? conf_str(cmd, "client") : "");
    return NULL;
  }
  if (!r->c) {
    conf_failx(e, "ECLOSED", "client %s is destroyed", r->name);
    return NULL;
  }
  return r->c;
}

int conf_client_cmd(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e) {
  weft_client *c = conf_client(cmd, e);
  int rc = 1;
  if (!c) return -1;
  if (strcmp(name, "write") == 0)
    rc = weft_client_write(c, conf_get(cmd, "value"));
  else if (strcmp(name, "write_many") == 0) {
    const weft_value *vs = conf_get(cmd, "values");
    rc = 0;
    for (size_t i = 0; rc == 0 && i < weft_value_len(vs); i++)
      rc = weft_client_write(c, weft_value_array_at(vs, i));
  } else if (strcmp(name, "end") == 0)
    rc = weft_client_end(c, conf_get(cmd, "value"));
  else if (strcmp(name, "open") == 0)
    rc = weft_client_open(c);
  else if (strcmp(name, "client_id") == 0)
    rc = weft_client_id(c);
  else if (strcmp(name, "set_online") == 0)
    rc = weft_client_set_online(c, conf_bool(cmd, "online"));
  else if (strcmp(name, "destroy") == 0) {
    find(conf_str(cmd, "client"))->destroying = 1;
    rc = weft_client_destroy(c);
  }
  (void)reply;
  return rc < 0 ? conf_fail(e, rc, name) : rc;
}

int conf_clients_close(void) {
  int open = 0;
  for (size_t i = 0; i < n_clients; i++) {
    if (clients[i].gone) continue;
    open++;
    if (!clients[i].destroying) {
      clients[i].destroying = 1;
      weft_client_destroy(clients[i].c);
    }
  }
  return open;
}
