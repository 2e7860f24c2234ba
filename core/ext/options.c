/*
 * Options by name (weft/options.h): one table per handle kind, a row per
 * option with its description and its setter. The value is checked against
 * the row (type, range, choices) here, once, and handed to the typed C
 * setter, so every host accepts and refuses exactly the same values.
 * It lives in ext/, the top layer, because the extensions are options too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "ext_internal.h"
#include "weft/adapter.h"
#include "weft/options.h"

/* The checked value, as the setter takes it. */
typedef union arg {
  int b;
  uint64_t u;
  double d;
  const char *s;       /* NUL-terminated copy, freed after the call */
  const weft_value *v; /* STRINGS, HEADERS */
} arg;

typedef int (*setter)(void *handle, arg a);

typedef struct row {
  weft_option o;
  setter set;
} row;

#define U32 4294967295.0
#define BIG 1099511627776.0 /* 2^40: sizes */

/* ---- server setters ---- */

#define S(h) ((weft_server *)(h))

static int s_transformer(void *h, arg a) { return weft_server_set_transformer(S(h), a.s); }
static int s_parser(void *h, arg a) { return weft_server_set_parser(S(h), a.s); }
static int s_ping(void *h, arg a) { return weft_server_set_ping_interval(S(h), (uint32_t)a.u); }
static int s_maxlen(void *h, arg a) { return weft_server_set_max_length(S(h), (size_t)a.u); }
static int s_compr(void *h, arg a) { return weft_server_set_compression(S(h), a.b); }
static int s_hwm(void *h, arg a) { return weft_server_set_high_water_mark(S(h), (size_t)a.u); }
static int s_maxq(void *h, arg a) { return weft_server_set_max_queue(S(h), (size_t)a.u); }
static int s_batch(void *h, arg a) { return weft_server_set_batching(S(h), (size_t)a.u); }
static int s_umode(void *h, arg a) { return weft_server_set_unix_mode(S(h), (unsigned)a.u); }
static int s_maxc(void *h, arg a) { return weft_server_set_max_connections(S(h), (size_t)a.u); }
static int s_maxip(void *h, arg a) {
  return weft_server_set_max_connections_per_ip(S(h), (size_t)a.u);
}
static int s_maxhs(void *h, arg a) { return weft_server_set_max_handshakes(S(h), (size_t)a.u); }
static int s_metrics(void *h, arg a) { return weft_server_set_metrics_path(S(h), a.s); }
static int s_static(void *h, arg a) { return weft_server_set_static_dir(S(h), a.s); }
static int s_library(void *h, arg a) { return weft_server_set_client_library(S(h), a.b); }
static int s_cert(void *h, arg a) { return weft__server_set_tls_file(S(h), 0, a.s); }
static int s_key(void *h, arg a) { return weft__server_set_tls_file(S(h), 1, a.s); }

/* engine.io's heartbeat: one of the pair, the other as it is (0: its
 * default). */
static int s_eio_ping(void *h, arg a) {
  uint32_t t = S(h)->session_ping_timeout;
  return weft_server_set_session_heartbeat(S(h), (uint32_t)a.u, t ? t : 20000);
}
static int s_eio_timeout(void *h, arg a) {
  uint32_t i = S(h)->session_ping_interval;
  return weft_server_set_session_heartbeat(S(h), i ? i : 25000, (uint32_t)a.u);
}
/* Vibe's heartbeat: one of the pair, the other as it is (unset: 5000 ms,
 * or half the heartbeat below 10 s; 20000 ms). */
static int s_vibe_hb(void *h, arg a) {
  uint32_t w = S(h)->vibe_wait, hb = (uint32_t)a.u;
  return weft_server_set_vibe_heartbeat(S(h), hb, w ? w : hb < 10000 ? hb / 2 : 5000);
}
static int s_vibe_wait(void *h, arg a) {
  uint32_t hb = S(h)->vibe_heartbeat;
  return weft_server_set_vibe_heartbeat(S(h), hb ? hb : 20000, (uint32_t)a.u);
}
static int s_cookie(void *h, arg a) { return weft_server_set_session_cookie(S(h), a.s); }

static int s_policy(void *h, arg a) {
  return weft_server_set_queue_policy(S(h), strcmp(a.s, "drop") == 0 ? WEFT_QUEUE_DROP
                                                                     : WEFT_QUEUE_CLOSE);
}

/* Each string of an array through `add`. */
static int each_string(weft_server *s, const weft_value *list,
                       int (*add)(weft_server *, const char *)) {
  for (size_t i = 0, n = weft_value_len(list); i < n; i++) {
    const char *str;
    size_t len;
    weft_value_get_string(weft_value_array_at(list, i), &str, &len);
    char *copy = weft__strndup(str, len);
    if (!copy) return WEFT_ENOMEM;
    int rc = add(s, copy);
    free(copy);
    if (rc) return rc;
  }
  return 0;
}
static int s_origins(void *h, arg a) { return each_string(S(h), a.v, weft_server_add_origin); }
/* The list's strings are not NUL-terminated: copied into one block. */
static int s_kept(void *h, arg a) {
  size_t n = weft_value_len(a.v), bytes = 0;
  for (size_t i = 0; i < n; i++) {
    const char *str;
    size_t len;
    weft_value_get_string(weft_value_array_at(a.v, i), &str, &len);
    bytes += len + 1;
  }
  char **names = malloc(n * sizeof(*names) + bytes + 1);
  if (!names) return WEFT_ENOMEM;
  char *at = (char *)(names + n);
  for (size_t i = 0; i < n; i++) {
    const char *str;
    size_t len;
    weft_value_get_string(weft_value_array_at(a.v, i), &str, &len);
    if (memchr(str, '\0', len)) {
      free(names);
      return WEFT_EINVAL; /* no header name holds one */
    }
    names[i] = at;
    memcpy(at, str, len);
    at[len] = '\0';
    at += len + 1;
  }
  int rc = weft_server_set_kept_headers(S(h), (const char *const *)names, n);
  free(names);
  return rc;
}
static int s_keep_url(void *h, arg a) { return weft_server_set_keep_url(S(h), a.b); }
static int s_proxies(void *h, arg a) {
  return each_string(S(h), a.v, weft_server_add_trusted_proxy);
}

/* Turns an extension on (off is refused once on: plugins stay). */
static int ext_switch(int on, void *have, int (*attach)(void *h), void *h) {
  if (!on) return have ? WEFT_ESTATE : 0;
  return have ? 0 : attach(h);
}
static int attach_emitter(void *h) {
  weft_emitter *em;
  return weft_emitter_server(S(h), &em);
}
static int attach_rooms(void *h) {
  weft_rooms *rs;
  int rc = weft_emitter_of_server(S(h)) ? 0 : attach_emitter(h);
  return rc ? rc : weft_rooms_server(S(h), &rs);
}
static int attach_channels(void *h) {
  weft_channels *chs;
  return weft_channels_server(S(h), &chs);
}
static int s_emitter(void *h, arg a) {
  return ext_switch(a.b, weft_emitter_of_server(S(h)), attach_emitter, h);
}
static int s_rooms(void *h, arg a) {
  return ext_switch(a.b, weft_rooms_of_server(S(h)), attach_rooms, h);
}
static int s_channels(void *h, arg a) {
  return ext_switch(a.b, weft_channels_of_server(S(h)), attach_channels, h);
}
static int s_window(void *h, arg a) {
  weft_channels *chs = weft_channels_of_server(S(h));
  return chs ? weft_channels_set_window(chs, (uint32_t)a.u) : WEFT_ESTATE;
}
static int s_redis(void *h, arg a) {
  int rc = weft_rooms_of_server(S(h)) ? 0 : attach_rooms(h);
  return rc ? rc : weft_redis_attach(S(h), a.s, 0);
}
static int s_redis_ttl(void *h, arg a) { return weft_redis_set_ttl(S(h), (uint32_t)a.u); }
/* Recovery (decision #23): the window and the bound, in either order. */
static int s_recovery(void *h, arg a) {
  return weft_server_set_recovery(S(h), (uint32_t)a.u, S(h)->rs_max ? S(h)->rs_max : 1024);
}
static int s_recovery_max(void *h, arg a) {
  return weft_server_set_recovery(S(h), S(h)->rs_window, (uint32_t)a.u);
}
static int s_ack(void *h, arg a) {
  weft_emitter *em = weft_emitter_of_server(S(h));
  return em ? weft_emitter_set_timeout(em, (uint32_t)a.u) : WEFT_ESTATE;
}

#define OPT(name, type, flags, def, choices, min, max, unit, expects, doc, set)                    \
  { {name, type, flags, def, choices, min, max, unit, expects, doc}, set }
#define FIX WEFT_OPT_FIXED
#define EXT (WEFT_OPT_EXT | WEFT_OPT_FIXED)

static const row server_rows[] = {
    OPT("transformer", WEFT_OPT_ENUM, FIX, "\"websockets\"", NULL, 0, 0, NULL,
        "a transformer name this build has", "the transport the server speaks", s_transformer),
    OPT("parser", WEFT_OPT_ENUM, FIX, "\"json\"", "json|msgpack|raw", 0, 0, NULL,
        "\"json\", \"msgpack\" or \"raw\"", "how messages are encoded", s_parser),
    OPT("ping_interval", WEFT_OPT_UINT, FIX, "30000", NULL, 0, U32, "ms",
        "a whole number of ms from 0 (no heartbeat) to 4294967295",
        "time between heartbeats (primus::ping)", s_ping),
    OPT("session_ping_interval", WEFT_OPT_UINT, FIX, "25000", NULL, 1, 2147483647.0, "ms",
        "a whole number of ms from 1 to 2147483647",
        "engine.io's pingInterval: time between the engine.io ping packets", s_eio_ping),
    OPT("session_ping_timeout", WEFT_OPT_UINT, FIX, "20000", NULL, 1, 2147483647.0, "ms",
        "a whole number of ms from 1 to 2147483647",
        "engine.io's pingTimeout: how long a pong may take; an abandoned polling session "
        "expires after interval + timeout",
        s_eio_timeout),
    OPT("session_cookie", WEFT_OPT_STRING, FIX, "null", NULL, 0, 0, NULL,
        "a cookie name (an RFC 6265 token under 64 bytes; \"\" for none)",
        "engine.io's cookie option: a cookie holding the sid, for sticky sessions", s_cookie),
    OPT("max_length", WEFT_OPT_UINT, FIX, "10485760", NULL, 1, BIG, "bytes",
        "a whole number of bytes from 1 to 2^40",
        "largest message; a larger one closes the connection (1009)", s_maxlen),
    OPT("compression", WEFT_OPT_BOOL, FIX, "false", NULL, 0, 0, NULL, "a boolean",
        "accept permessage-deflate", s_compr),
    OPT("high_water_mark", WEFT_OPT_UINT, 0, "1048576", NULL, 1, BIG, "bytes",
        "a whole number of bytes from 1 to 2^40",
        "queued bytes past which a write returns 1 and drain follows", s_hwm),
    OPT("max_queue", WEFT_OPT_UINT, 0, "67108864", NULL, 1, BIG, "bytes",
        "a whole number of bytes from 1 to 2^40",
        "memory one spark's queue may hold before the queue policy applies", s_maxq),
    OPT("queue_policy", WEFT_OPT_ENUM, 0, "\"close\"", "close|drop", 0, 0, NULL,
        "\"close\" or \"drop\"",
        "a full queue closes the spark (1008) or drops the message; an error event either way",
        s_policy),
    OPT("batching", WEFT_OPT_UINT, FIX, "0", NULL, 0, BIG, "bytes",
        "a whole number of bytes from 0 (off) to 2^40",
        "the writes of one loop turn to a spark leave as one frame of at most this size", s_batch),
    OPT("origins", WEFT_OPT_STRINGS, FIX, "[]", NULL, 0, 0, NULL, "a list of origins",
        "origins allowed to connect (CORS); none: any", s_origins),
    OPT("trusted_proxies", WEFT_OPT_STRINGS, FIX, "[]", NULL, 0, 0, NULL, "a list of IP addresses",
        "proxies whose X-Forwarded-For is believed", s_proxies),
    OPT("kept_headers", WEFT_OPT_STRINGS, FIX, "[\"*\"]", NULL, 0, 0, NULL,
        "a list of header names; [\"*\"]: all, []: none",
        "the request headers a spark keeps once its connection event has run (memory: an "
        "idle connection holds them)",
        s_kept),
    OPT("keep_url", WEFT_OPT_BOOL, FIX, "true", NULL, 0, 0, NULL, "a boolean",
        "a spark keeps its request's method and URL once its connection event has run", s_keep_url),
    OPT("tls_cert", WEFT_OPT_STRING, FIX, "null", NULL, 0, 0, NULL, "a file path",
        "certificate chain (PEM) for wss://", s_cert),
    OPT("tls_key", WEFT_OPT_STRING, FIX, "null", NULL, 0, 0, NULL, "a file path",
        "private key (PEM) for wss://", s_key),
    OPT("unix_mode", WEFT_OPT_UINT, FIX, "0", NULL, 0, 4095, NULL,
        "permission bits from 0 to 0o7777 (0: as the umask leaves them)",
        "permissions of ws+unix socket files", s_umode),
    OPT("max_connections", WEFT_OPT_UINT, 0, "0", NULL, 0, BIG, NULL,
        "a whole number (0: the descriptor limit less 64)",
        "open connections at most; more are answered 503", s_maxc),
    OPT("max_connections_per_ip", WEFT_OPT_UINT, 0, "0", NULL, 0, BIG, NULL,
        "a whole number (0: no limit)", "connections per client address; more get 429", s_maxip),
    OPT("max_handshakes", WEFT_OPT_UINT, 0, "0", NULL, 0, BIG, NULL, "a whole number (0: no limit)",
        "requests being read or authorized at once; more get 503", s_maxhs),
    OPT("metrics_path", WEFT_OPT_STRING, 0, "null", NULL, 0, 0, NULL, "a path starting with '/'",
        "serve Prometheus metrics at this path", s_metrics),
    OPT("static_dir", WEFT_OPT_STRING, 0, "null", NULL, 0, 0, NULL, "a folder path",
        "serve this folder's files at the paths outside the pathname", s_static),
    OPT("client_library", WEFT_OPT_BOOL, FIX, "true", NULL, 0, 0, NULL, "a boolean",
        "serve the browser client at <pathname>/weft.js and <pathname>/primus.js", s_library),
    OPT("emitter", WEFT_OPT_BOOL, EXT, "false", NULL, 0, 0, NULL, "a boolean",
        "named events with acknowledgements", s_emitter),
    OPT("rooms", WEFT_OPT_BOOL, EXT, "false", NULL, 0, 0, NULL, "a boolean",
        "rooms (turns the emitter on)", s_rooms),
    OPT("channels", WEFT_OPT_BOOL, EXT, "false", NULL, 0, 0, NULL, "a boolean",
        "named channels with flow control", s_channels),
    OPT("channel_window", WEFT_OPT_UINT, WEFT_OPT_EXT, "64", NULL, 1, 65536, "messages",
        "a whole number of messages from 1 to 65536 (needs channels)",
        "messages a channel may send before the receiver grants more", s_window),
    OPT("ack_timeout", WEFT_OPT_UINT, WEFT_OPT_EXT, "10000", NULL, 0, U32 - 1, "ms",
        "a whole number of ms from 0 (wait forever) to 4294967294 (needs the emitter)",
        "how long an emit waits for its answer", s_ack),
    OPT("redis", WEFT_OPT_STRING, EXT, "null", NULL, 0, 0, NULL, "a redis://host:port URL",
        "join the nodes on this Redis: broadcasts, rooms, ids and presence span them (turns "
        "rooms on)",
        s_redis),
    OPT("redis_ttl", WEFT_OPT_UINT, WEFT_OPT_EXT, "10000", NULL, 1, U32, "ms",
        "a whole number of ms from 1 to 4294967295 (needs redis)",
        "a node that dies leaves the cluster's registry after this long", s_redis_ttl),
    OPT("recovery", WEFT_OPT_UINT, FIX, "0", NULL, 0, U32, "ms",
        "a whole number of ms from 0 (off) to 4294967295",
        "connection-state recovery: a client that asked and comes back within this window gets "
        "its spark id, rooms and missed messages",
        s_recovery),
    OPT("recovery_messages", WEFT_OPT_UINT, FIX, "1024", NULL, 1, 65536, "messages",
        "a whole number of messages from 1 to 65536",
        "messages a recovery session keeps (past it, a fresh spark)", s_recovery_max),
    OPT("vibe_heartbeat", WEFT_OPT_UINT, 0, "20000", NULL, 2, 2147483647.0, "ms",
        "a whole number of ms from 2 to 2147483647, above vibe_heartbeat_wait",
        "Vibe's heartbeat: a Vibe socket that sends no heartbeat for this long is closed; the "
        "handshake tells the client to beat every vibe_heartbeat - vibe_heartbeat_wait ms",
        s_vibe_hb),
    OPT("vibe_heartbeat_wait", WEFT_OPT_UINT, 0, "5000", NULL, 1, 2147483646.0, "ms",
        "a whole number of ms from 1 to 2147483646, below vibe_heartbeat (default 5000, or "
        "half of a vibe_heartbeat under 10 s)",
        "Vibe's _heartbeat: how long a Vibe client waits for its heartbeat's echo", s_vibe_wait),
};

/* ---- client setters ---- */

#define C(h) ((weft_client *)(h))

static int c_transformer(void *h, arg a) { return weft_client_set_transformer(C(h), a.s); }
static int c_parser(void *h, arg a) { return weft_client_set_parser(C(h), a.s); }
static int c_transports(void *h, arg a) { return weft_client_set_transports(C(h), a.s); }
static int c_rmin(void *h, arg a) {
  weft_client *c = C(h);
  return weft_client_set_reconnect(c, (uint32_t)a.u, c->rmax, c->retries, c->factor);
}
static int c_rmax(void *h, arg a) {
  weft_client *c = C(h);
  return weft_client_set_reconnect(c, c->rmin, (uint32_t)a.u, c->retries, c->factor);
}
static int c_retries(void *h, arg a) {
  weft_client *c = C(h);
  return weft_client_set_reconnect(c, c->rmin, c->rmax, (uint32_t)a.u, c->factor);
}
static int c_factor(void *h, arg a) {
  weft_client *c = C(h);
  return weft_client_set_reconnect(c, c->rmin, c->rmax, c->retries, a.d);
}
static int c_strategy(void *h, arg a) { return weft_client_set_strategy(C(h), a.s); }
static int c_timeout(void *h, arg a) { return weft_client_set_timeout(C(h), (uint32_t)a.u); }
static int c_ping(void *h, arg a) { return weft_client_set_ping_timeout(C(h), (uint32_t)a.u); }
static int c_maxlen(void *h, arg a) { return weft_client_set_max_length(C(h), (size_t)a.u); }
static int c_qlimit(void *h, arg a) { return weft_client_set_queue_limit(C(h), (size_t)a.u); }
static int c_refused(void *h, arg a) { return weft_client_set_retry_refused(C(h), a.b); }
static int c_recovery(void *h, arg a) {
  return weft_client_set_recovery(C(h), a.b, C(h)->rs_cb, C(h)->rs_user);
}
static int c_ca(void *h, arg a) { return weft_client_set_ca_file(C(h), a.s); }
static int c_verify(void *h, arg a) { return weft_client_set_verify(C(h), a.b); }
static int c_compr(void *h, arg a) { return weft_client_set_compression(C(h), a.b); }
static int c_batch(void *h, arg a) { return weft_client_set_batching(C(h), (size_t)a.u); }
static int c_transport(void *h, arg a) { return weft_client_set_transport(C(h), a.s); }

static int c_headers(void *h, arg a) {
  for (size_t i = 0, n = weft_value_len(a.v); i < n; i++) {
    const char *k, *v;
    size_t kl, vl;
    weft_value_get_string(weft_value_map_key_at(a.v, i), &k, &kl);
    weft_value_get_string(weft_value_map_value_at(a.v, i), &v, &vl);
    char *kc = weft__strndup(k, kl), *vc = weft__strndup(v, vl);
    int rc = kc && vc ? weft_client_add_header(C(h), kc, vc) : WEFT_ENOMEM;
    free(kc);
    free(vc);
    if (rc) return rc;
  }
  return 0;
}

static int c_attach_emitter(void *h) {
  weft_emitter *em;
  return weft_emitter_client(C(h), &em);
}
static int c_attach_channels(void *h) {
  weft_channels *chs;
  return weft_channels_client(C(h), &chs);
}
static int c_emitter(void *h, arg a) {
  return ext_switch(a.b, weft_emitter_of_client(C(h)), c_attach_emitter, h);
}
static int c_channels(void *h, arg a) {
  return ext_switch(a.b, weft_channels_of_client(C(h)), c_attach_channels, h);
}
static int c_window(void *h, arg a) {
  weft_channels *chs = weft_channels_of_client(C(h));
  return chs ? weft_channels_set_window(chs, (uint32_t)a.u) : WEFT_ESTATE;
}
static int c_ack(void *h, arg a) {
  weft_emitter *em = weft_emitter_of_client(C(h));
  return em ? weft_emitter_set_timeout(em, (uint32_t)a.u) : WEFT_ESTATE;
}

static const row client_rows[] = {
    OPT("transformer", WEFT_OPT_ENUM, FIX, "\"websockets\"", NULL, 0, 0, NULL,
        "a transformer name this build has", "the transport to dial with", c_transformer),
    OPT("parser", WEFT_OPT_ENUM, FIX, "\"json\"", "json|msgpack|raw", 0, 0, NULL,
        "\"json\", \"msgpack\" or \"raw\"", "how messages are encoded (as the server's)", c_parser),
    OPT("transports", WEFT_OPT_STRING, FIX, "\"polling,websocket\"", NULL, 0, 0, NULL,
        "a comma-separated list of polling and websocket",
        "engine.io's ways in: polling then the upgrade, polling only, or WebSocket only",
        c_transports),
    OPT("reconnect_min", WEFT_OPT_UINT, 0, "500", NULL, 1, U32, "ms",
        "a whole number of ms from 1 to 4294967295", "the first reconnect's base delay", c_rmin),
    OPT("reconnect_max", WEFT_OPT_UINT, 0, "0", NULL, 0, U32, "ms",
        "a whole number of ms, 0 for no limit (not below reconnect_min)",
        "the longest reconnect delay", c_rmax),
    OPT("retries", WEFT_OPT_UINT, 0, "10", NULL, 0, U32, NULL, "a whole number",
        "reconnect attempts before giving up", c_retries),
    OPT("factor", WEFT_OPT_NUMBER, 0, "2", NULL, 1, 1000, NULL, "a number from 1 to 1000",
        "how much each reconnect delay grows", c_factor),
    OPT("strategy", WEFT_OPT_STRING, 0, "\"disconnect,online,timeout\"", NULL, 0, 0, NULL,
        "a comma-separated list of disconnect, online and timeout; \"\" or \"none\" for never",
        "what makes the client reconnect", c_strategy),
    OPT("timeout", WEFT_OPT_UINT, 0, "10000", NULL, 0, U32, "ms",
        "a whole number of ms, 0 for none", "deadline of the first connection", c_timeout),
    OPT("ping_timeout", WEFT_OPT_UINT, 0, "null", NULL, 0, U32, "ms",
        "a whole number of ms, 0 for none",
        "silence after which the connection counts as dead (default: 1.5 x the server's "
        "ping interval, from its spec)",
        c_ping),
    OPT("max_length", WEFT_OPT_UINT, 0, "10485760", NULL, 1, BIG, "bytes",
        "a whole number of bytes from 1 to 2^40", "largest incoming message", c_maxlen),
    OPT("queue_limit", WEFT_OPT_UINT, 0, "0", NULL, 0, BIG, "bytes",
        "a whole number of bytes, 0 for no limit", "bytes of writes held while not open", c_qlimit),
    OPT("retry_refused", WEFT_OPT_BOOL, 0, "false", NULL, 0, 0, NULL, "a boolean",
        "keep reconnecting after the server refused the upgrade", c_refused),
    OPT("recovery", WEFT_OPT_BOOL, FIX, "false", NULL, 0, 0, NULL, "a boolean",
        "connection-state recovery: ask for a session and resume it on reconnects", c_recovery),
    OPT("headers", WEFT_OPT_HEADERS, 0, "{}", NULL, 0, 0, NULL, "a map of header names to values",
        "extra request headers", c_headers),
    OPT("ca_file", WEFT_OPT_STRING, 0, "null", NULL, 0, 0, NULL, "a file path",
        "certificates to trust for wss:// instead of the system's", c_ca),
    OPT("verify", WEFT_OPT_BOOL, 0, "true", NULL, 0, 0, NULL, "a boolean",
        "verify the server's certificate", c_verify),
    OPT("compression", WEFT_OPT_BOOL, 0, "false", NULL, 0, 0, NULL, "a boolean",
        "offer permessage-deflate", c_compr),
    OPT("batching", WEFT_OPT_UINT, 0, "0", NULL, 0, BIG, "bytes",
        "a whole number of bytes from 0 (off) to 2^40",
        "the writes of one loop turn leave as one frame of at most this size", c_batch),
    OPT("emitter", WEFT_OPT_BOOL, EXT, "false", NULL, 0, 0, NULL, "a boolean",
        "named events with acknowledgements", c_emitter),
    OPT("channels", WEFT_OPT_BOOL, EXT, "false", NULL, 0, 0, NULL, "a boolean",
        "named channels with flow control", c_channels),
    OPT("channel_window", WEFT_OPT_UINT, WEFT_OPT_EXT, "64", NULL, 1, 65536, "messages",
        "a whole number of messages from 1 to 65536 (needs channels)",
        "messages a channel may send before the receiver grants more", c_window),
    OPT("ack_timeout", WEFT_OPT_UINT, WEFT_OPT_EXT, "10000", NULL, 0, U32 - 1, "ms",
        "a whole number of ms from 0 (wait forever) to 4294967294 (needs the emitter)",
        "how long an emit waits for its answer", c_ack),
    OPT("transport", WEFT_OPT_ENUM, FIX, "\"ws\"", "ws|httpstream|httplongpoll", 0, 0, NULL,
        "\"ws\", \"httpstream\" or \"httplongpoll\", and the one the URL's transport= query "
        "names if it names one",
        "Vibe's transport (transformer vibe); the URL's query may say it instead", c_transport),
};

/* ---- lookup and checks ---- */

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

static const row *find(const row *rows, size_t n, const char *name) {
  for (size_t i = 0; name && i < n; i++)
    if (strcmp(rows[i].o.name, name) == 0) return &rows[i];
  return NULL;
}

const weft_option *weft_server_option_at(size_t i) {
  return i < N_ROWS(server_rows) ? &server_rows[i].o : NULL;
}
const weft_option *weft_client_option_at(size_t i) {
  return i < N_ROWS(client_rows) ? &client_rows[i].o : NULL;
}
const weft_option *weft_server_option(const char *name) {
  const row *r = find(server_rows, N_ROWS(server_rows), name);
  return r ? &r->o : NULL;
}
const weft_option *weft_client_option(const char *name) {
  const row *r = find(client_rows, N_ROWS(client_rows), name);
  return r ? &r->o : NULL;
}

static int is_string(const weft_value *v) { return weft_value_type(v) == WEFT_STRING; }

/* Is `s` (n bytes) one of the "|"-separated choices? */
static int among(const char *choices, const char *s, size_t n) {
  for (const char *p = choices; *p;) {
    size_t k = strcspn(p, "|");
    if (k == n && memcmp(p, s, n) == 0) return 1;
    p += k + (p[k] == '|');
  }
  return 0;
}

/* Checks `v` against the row and fills `a` (a.s is a copy to free). */
static int check(const weft_option *o, const weft_value *v, arg *a) {
  const char *s;
  size_t n;
  int64_t i;
  double d;
  switch (o->type) {
  case WEFT_OPT_BOOL: return weft_value_get_bool(v, &a->b) ? WEFT_ETYPE : 0;
  case WEFT_OPT_UINT:
  case WEFT_OPT_NUMBER:
    if (weft_value_get_int(v, &i) == 0)
      d = (double)i;
    else if (weft_value_get_float(v, &d) != 0)
      return WEFT_ETYPE;
    if (!isfinite(d) || (o->type == WEFT_OPT_UINT && d != floor(d))) return WEFT_ETYPE;
    if (d < o->min || d > o->max) return WEFT_ERANGE;
    if (o->type == WEFT_OPT_NUMBER)
      a->d = d;
    else
      a->u = (uint64_t)d;
    return 0;
  case WEFT_OPT_STRING:
  case WEFT_OPT_ENUM:
    if (weft_value_get_string(v, &s, &n) != 0) return WEFT_ETYPE;
    if (memchr(s, '\0', n)) return WEFT_EINVAL;
    if (o->choices && !among(o->choices, s, n)) return WEFT_ERANGE;
    a->s = weft__strndup(s, n);
    return a->s ? 0 : WEFT_ENOMEM;
  case WEFT_OPT_STRINGS:
    if (weft_value_type(v) != WEFT_ARRAY) return WEFT_ETYPE;
    for (size_t k = 0, len = weft_value_len(v); k < len; k++)
      if (!is_string(weft_value_array_at(v, k))) return WEFT_ETYPE;
    a->v = v;
    return 0;
  case WEFT_OPT_HEADERS:
    if (weft_value_type(v) != WEFT_MAP) return WEFT_ETYPE;
    for (size_t k = 0, len = weft_value_len(v); k < len; k++)
      if (!is_string(weft_value_map_key_at(v, k)) || !is_string(weft_value_map_value_at(v, k)))
        return WEFT_ETYPE;
    a->v = v;
    return 0;
  }
  return WEFT_EINVAL;
}

static int set(const row *r, void *h, int fixed_now, const weft_value *v) {
  if (!r) return WEFT_ENOENT;
  if ((r->o.flags & WEFT_OPT_FIXED) && fixed_now) return WEFT_ESTATE;
  arg a = {0};
  int rc = check(&r->o, v, &a);
  if (rc == 0) rc = r->set(h, a);
  if (r->o.type == WEFT_OPT_STRING || r->o.type == WEFT_OPT_ENUM) free((char *)a.s);
  return rc;
}

int weft_server_set_option(weft_server *s, const char *name, const weft_value *v) {
  if (!s || !name) return WEFT_EINVAL;
  if (s->state >= WEFT__SRV_CLOSING) return WEFT_ECLOSED;
  return set(find(server_rows, N_ROWS(server_rows), name), s, s->state != WEFT__SRV_NEW, v);
}

int weft_client_set_option(weft_client *c, const char *name, const weft_value *v) {
  if (!c || !name) return WEFT_EINVAL;
  if (c->destroyed || c->ended) return WEFT_ECLOSED;
  return set(find(client_rows, N_ROWS(client_rows), name), c, c->opened, v);
}
