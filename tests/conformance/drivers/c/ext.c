/* Events with acks, rooms and channels of the C driver (include/weft/ext.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* ---- owners: the names handlers report (server or client names) ---------- */
#define MAX_OWNERS 64
static struct owner {
  char name[32];
  int server;
  weft_channels *chs; /* the API has no weft_channels_of_server(): kept here */
} owners[MAX_OWNERS];
static size_t n_owners;

static struct owner *owner(const char *name, int server) {
  for (size_t i = 0; i < n_owners; i++)
    if (owners[i].server == server && strcmp(owners[i].name, name) == 0) return &owners[i];
  if (n_owners == MAX_OWNERS) return NULL;
  snprintf(owners[n_owners].name, sizeof owners->name, "%s", name);
  owners[n_owners].server = server;
  return &owners[n_owners++];
}

static weft_value *about(const struct owner *o, const char *ev, weft_spark *sp) {
  weft_value *m = conf_event(ev);
  conf_put_str(m, o->server ? "server" : "client", o->name);
  if (sp) conf_put_str(m, "spark", weft_spark_id(sp));
  return m;
}

/* ---- replies the runner answers later ------------------------------------ */
static struct pending {
  char ref[24];
  weft_reply *reply;
} * pending;
static size_t n_pending;
static unsigned next_ref;

static void on_event(const weft_event *ev, void *user) {
  weft_value *m = about(user, "event", ev->spark);
  conf_put_str(m, "name", ev->name);
  conf_put_value(m, "args", ev->args);
  if (ev->reply) {
    struct pending *grown = realloc(pending, (n_pending + 1) * sizeof *grown);
    if (grown) {
      pending = grown;
      snprintf(grown[n_pending].ref, sizeof grown->ref, "r%u", ++next_ref);
      grown[n_pending].reply = ev->reply;
      conf_put_str(m, "reply", grown[n_pending++].ref);
    } else {
      weft_reply_reject(ev->reply, NULL);
    }
  }
  conf_emit(m);
}

/* An error event of the emitter or the channels (kind "emitter", "channel"). */
static void error_event(const struct owner *o, weft_spark *sp, const weft_error_info *err) {
  weft_value *m = about(o, "error", sp);
  conf_put_str(m, "code", weft_err_name(err->code));
  conf_put_str(m, "kind", err->kind);
  conf_emit(m);
}

static void on_emitter_error(weft_emitter *em, weft_spark *sp, const weft_error_info *err,
                             void *user) {
  (void)em;
  error_event(user, sp, err);
}

int conf_listen_events(weft_emitter *em, const char *name, int server, const weft_value *names) {
  struct owner *o = owner(name, server);
  if (!o) return WEFT_ENOMEM;
  int rc = weft_emitter_on_error(em, on_emitter_error, o, NULL);
  for (size_t i = 0; rc == 0 && i < weft_value_len(names); i++) {
    const char *s;
    size_t n;
    if (weft_value_get_string(weft_value_array_at(names, i), &s, &n) == 0)
      rc = weft_emitter_on(em, s, on_event, o, NULL);
  }
  return rc;
}

/* ---- acks: the outcome of an emit, by the runner's ref ------------------- */
static void on_ack(const weft_ack *a, void *user) {
  weft_value *m = conf_event("ack");
  conf_put_str(m, "ref", user);
  conf_put_str(m, "status",
               a->status == 0                ? "resolved"
               : a->status == WEFT_EREJECTED ? "rejected"
               : a->status == WEFT_ETIMEDOUT ? "timeout"
               : a->status == WEFT_ECLOSED   ? "closed"
                                             : weft_err_name(a->status));
  if (a->value) conf_put_value(m, "value", a->value);
  conf_emit(m);
  free(user);
}

/* ---- rooms: the client policy "allow_prefix" ---------------------------- */
static char policy_prefix[MAX_OWNERS][64];
static size_t n_policies;

static int allow_prefix(weft_spark *sp, const char *room, int join, void *user) {
  (void)sp, (void)join;
  return strncmp(room, user, strlen(user)) == 0 ? 0 : WEFT_EUNAUTHORIZED;
}

int conf_rooms_policy(weft_server *s, const char *prefix) {
  weft_rooms *rooms = weft_rooms_of_server(s);
  if (!rooms || !prefix || n_policies == MAX_OWNERS) return WEFT_EINVAL;
  snprintf(policy_prefix[n_policies], sizeof policy_prefix[0], "%s", prefix);
  return weft_rooms_set_client_policy(rooms, allow_prefix, policy_prefix[n_policies++], NULL);
}

/* ---- channels ------------------------------------------------------------ */
static struct chan {
  const struct owner *o;
  char spark[80], name[256];
  weft_channel *ch; /* NULL once ended */
} * *chans;         /* each its own block: the channel's events point at it */
static size_t n_chans;

static weft_value *chan_event(struct chan *c, const char *ev) {
  weft_value *m = conf_event(ev);
  conf_put_str(m, c->o->server ? "server" : "client", c->o->name);
  if (c->o->server) conf_put_str(m, "spark", c->spark);
  conf_put_str(m, "channel", c->name);
  return m;
}

static void ch_data(weft_channel *ch, const weft_value *msg, void *user) {
  (void)ch;
  weft_value *m = chan_event(user, "channel_data");
  conf_put_value(m, "value", msg);
  conf_emit(m);
}
static void ch_end(weft_channel *ch, void *user) {
  struct chan *c = user;
  (void)ch;
  c->ch = NULL;
  conf_emit(chan_event(c, "channel_end"));
}
static void ch_drain(weft_channel *ch, void *user) {
  (void)ch, conf_emit(chan_event(user, "channel_drain"));
}

static struct chan *track(const struct owner *o, weft_channel *ch) {
  struct chan **grown = realloc(chans, (n_chans + 1) * sizeof *grown);
  if (!grown) return NULL;
  chans = grown;
  struct chan *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  chans[n_chans++] = c;
  c->o = o;
  c->ch = ch;
  weft_spark *sp = weft_channel_spark(ch);
  snprintf(c->spark, sizeof c->spark, "%s", sp ? weft_spark_id(sp) : "");
  snprintf(c->name, sizeof c->name, "%s", weft_channel_name(ch));
  weft_channel_events ev = {.size = sizeof ev, .data = ch_data, .end = ch_end, .drain = ch_drain};
  weft_channel_set_events(ch, &ev, c, NULL);
  return c;
}

static void on_channel_open(weft_channel *ch, void *user) {
  struct chan *c = track(user, ch);
  if (c) conf_emit(chan_event(c, "channel"));
}

static void on_channels_error(weft_channels *chs, weft_spark *sp, const weft_error_info *err,
                              void *user) {
  (void)chs;
  error_event(user, sp, err);
}

int conf_watch_channels(weft_channels *chs, const char *name, int server) {
  struct owner *o = owner(name, server);
  if (!o) return WEFT_ENOMEM;
  o->chs = chs;
  int rc = weft_channels_on_open(chs, on_channel_open, o, NULL);
  return rc ? rc : weft_channels_on_error(chs, on_channels_error, o, NULL);
}

/* The channel a command names, opened on first use. */
static weft_channel *channel(const weft_value *cmd, conf_err *e) {
  int server = conf_get(cmd, "server") != NULL;
  const char *oname = conf_str(cmd, server ? "server" : "client");
  const char *spark = server ? conf_str(cmd, "spark") : "";
  const char *name = conf_str(cmd, "channel");
  if (!oname || !spark || !name)
    return conf_failx(e, "EINVAL", "a channel needs its owner and name"), NULL;
  for (size_t i = n_chans; i-- > 0;) {
    struct chan *c = chans[i];
    if (c->ch && c->o->server == server && strcmp(c->o->name, oname) == 0 &&
        strcmp(c->spark, spark) == 0 && strcmp(c->name, name) == 0)
      return c->ch;
  }
  weft_spark *sp = NULL;
  weft_channel *ch;
  if (server ? !(sp = conf_spark(cmd, e)) : !conf_client(cmd, e)) return NULL;
  struct owner *o = owner(oname, server);
  if (!o || !o->chs) return conf_failx(e, "ESTATE", "channels are off on %s", oname), NULL;
  int rc = weft_channel_open(o->chs, sp, name, &ch);
  if (rc != 0) return conf_fail(e, rc, "channel_open"), NULL;
  return track(o, ch) ? ch : (conf_fail(e, WEFT_ENOMEM, "channel"), NULL);
}

static void *conf_ack_ref(const char *ref) { return strdup(ref ? ref : ""); }

weft_emitter *conf_emitter_of(const weft_value *cmd, conf_err *e) {
  weft_emitter *em;
  if (conf_get(cmd, "server")) {
    weft_server *s = conf_server_of(cmd, e);
    if (!s) return NULL;
    em = weft_emitter_of_server(s);
  } else {
    weft_client *c = conf_client(cmd, e);
    if (!c) return NULL;
    em = weft_emitter_of_client(c);
  }
  if (!em) conf_failx(e, "ESTATE", "the emitter is off");
  return em;
}

weft_rooms *conf_rooms_of(const weft_value *cmd, conf_err *e) {
  weft_server *s = conf_server_of(cmd, e);
  weft_rooms *r = s ? weft_rooms_of_server(s) : NULL;
  if (s && !r) conf_failx(e, "ESTATE", "rooms are off");
  return r;
}

/* An array of strings of the command as a C array (freed by the caller). */
static const char **strings(const weft_value *list, size_t *n) {
  *n = weft_value_len(list);
  const char **out = calloc(*n + 1, sizeof *out);
  for (size_t i = 0; out && i < *n; i++) {
    size_t len;
    if (weft_value_get_string(weft_value_array_at(list, i), &out[i], &len) != 0) out[i] = "";
  }
  return out;
}

static int emit(const weft_value *cmd, weft_value *reply, conf_err *e) {
  weft_emitter *em = conf_emitter_of(cmd, e);
  weft_spark *sp = NULL;
  if (!em || (conf_get(cmd, "server") && !(sp = conf_spark(cmd, e)))) return -1;
  const weft_value *args = conf_get(cmd, "args");
  uint32_t timeout =
      conf_get(cmd, "timeout") ? (uint32_t)conf_int(cmd, "timeout", 0) : WEFT_EMIT_DEFAULT_TIMEOUT;
  int ack = conf_bool(cmd, "ack");
  void *ref = ack ? conf_ack_ref(conf_str(cmd, "ref")) : NULL;
  int rc =
      weft_emitter_emit(em, sp, conf_str(cmd, "event"), args, timeout, ack ? on_ack : NULL, ref);
  if (rc < 0) {
    free(ref);
    return conf_fail(e, rc, "emit");
  }
  conf_put_bool(reply, "below", rc == 0);
  return 0;
}

static int answer(const weft_value *cmd, conf_err *e) {
  const char *ref = conf_str(cmd, "reply");
  for (size_t i = 0; ref && i < n_pending; i++) {
    if (strcmp(pending[i].ref, ref) != 0) continue;
    weft_reply *r = pending[i].reply;
    pending[i] = pending[--n_pending];
    const weft_value *v = conf_get(cmd, "resolve");
    int rc = v ? weft_reply_resolve(r, v) : weft_reply_reject(r, conf_get(cmd, "reject"));
    return rc ? conf_fail(e, rc, "reply") : 0;
  }
  return conf_failx(e, "EINVAL", "no reply %s", ref ? ref : "");
}

static int rooms_cmd(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e) {
  weft_rooms *rooms = conf_rooms_of(cmd, e);
  if (!rooms) return -1;
  int rc;
  if (strcmp(name, "join") == 0 || strcmp(name, "leave") == 0) {
    weft_spark *sp = conf_spark(cmd, e);
    if (!sp) return -1;
    const char *room = conf_str(cmd, "room");
    rc = name[0] == 'j' ? weft_rooms_join(rooms, sp, room) : weft_rooms_leave(rooms, sp, room);
    return rc ? conf_fail(e, rc, name) : 0;
  }
  size_t nr, ne;
  const char **rs = strings(conf_get(cmd, "rooms"), &nr),
             **ex = strings(conf_get(cmd, "except"), &ne);
  if (strcmp(name, "room_write") == 0)
    rc = weft_rooms_write(rooms, rs, nr, ex, ne, conf_get(cmd, "value"));
  else
    rc = weft_rooms_emit(rooms, rs, nr, ex, ne, conf_str(cmd, "event"), conf_get(cmd, "args"));
  free(rs);
  free(ex);
  if (rc < 0) return conf_fail(e, rc, name);
  conf_put_int(reply, "count", rc);
  return 0;
}

int conf_ext_cmd(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e) {
  int rc;
  if (strcmp(name, "emit") == 0) return emit(cmd, reply, e);
  if (strcmp(name, "reply") == 0) return answer(cmd, e);
  if (strcmp(name, "emit_all") == 0) {
    weft_emitter *em = conf_emitter_of(cmd, e);
    if (!em) return -1;
    if ((rc = weft_emitter_broadcast(em, conf_str(cmd, "event"), conf_get(cmd, "args"))) < 0)
      return conf_fail(e, rc, name);
    conf_put_int(reply, "count", rc);
    return 0;
  }
  if (strcmp(name, "join") == 0 || strcmp(name, "leave") == 0 || strcmp(name, "room_write") == 0 ||
      strcmp(name, "room_emit") == 0)
    return rooms_cmd(name, cmd, reply, e);
  if (strcmp(name, "client_join") == 0) {
    weft_emitter *em = conf_emitter_of(cmd, e);
    if (!em) return -1;
    void *ref = conf_ack_ref(conf_str(cmd, "ref"));
    const char *room = conf_str(cmd, "room");
    rc = conf_bool(cmd, "leave") ? weft_emitter_leave(em, room, on_ack, ref)
                                 : weft_emitter_join(em, room, on_ack, ref);
    if (rc < 0) free(ref);
    return rc < 0 ? conf_fail(e, rc, name) : 0;
  }
  if (strncmp(name, "channel_", 8) != 0) return 1;
  weft_channel *ch = channel(cmd, e);
  if (!ch) return -1;
  rc = 0;
  if (strcmp(name, "channel_write") == 0) {
    if ((rc = weft_channel_write(ch, conf_get(cmd, "value"))) >= 0)
      conf_put_bool(reply, "queued", rc == 1);
  } else if (strcmp(name, "channel_end") == 0)
    rc = weft_channel_end(ch);
  else if (strcmp(name, "channel_pause") == 0)
    rc = weft_channel_pause(ch);
  else if (strcmp(name, "channel_resume") == 0)
    rc = weft_channel_resume(ch);
  else if (strcmp(name, "channel_open") != 0)
    return conf_failx(e, "ECAP", "unknown command %s", name);
  return rc < 0 ? conf_fail(e, rc, name) : 0;
}
