/*
 * Channels (weft/ext.h) behind JavaScript Channels (lib/ext.js). A wrapper
 * has two owners: the channel's registration in the core, which gives it
 * up with free_user once the channel is freed (after its end event), and
 * the JavaScript external, which gives it up when collected. After the
 * end, calls answer WEFT_ECLOSED. Channel errors on the wire reach the
 * owner's error event through the core (no handler is set here).
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

typedef struct weft__nchannel {
  uint32_t kind; /* WEFT__N_CHANNEL */
  int refs;      /* the core's registration, the external */
  weft__addon *a;
  weft_channel *ch; /* NULL once freed by the core */
  napi_ref obj;     /* the Channel, strong until then */
} weft__nchannel;

static void unref(weft__nchannel *nch) {
  if (--nch->refs == 0) free(nch);
}

static void channel_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  unref(data);
}

/* The core freed the channel (its end event has run). */
static void channel_free(void *user) {
  weft__nchannel *nch = user;
  nch->ch = NULL;
  if (nch->obj) napi_delete_reference(nch->a->env, nch->obj);
  nch->obj = NULL;
  unref(nch);
}

static void channel_call(weft__nchannel *nch, const char *what, const weft_value *msg) {
  weft__addon *a = nch->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  if (a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[2];
  argv[0] = weft__node_str(env, what);
  argv[1] = msg ? weft__node_to_js(env, msg) : weft__node_undefined(env);
  if (argv[0] && argv[1]) weft__node_call(a, CB_CHANNEL, weft__node_deref(env, nch->obj), 2, argv);
  napi_close_handle_scope(env, scope);
}

static void ch_data(weft_channel *ch, const weft_value *msg, void *user) {
  (void)ch;
  channel_call(user, "data", msg);
}
static void ch_drain(weft_channel *ch, void *user) {
  (void)ch;
  channel_call(user, "drain", NULL);
}
static void ch_end(weft_channel *ch, void *user) {
  (void)ch;
  channel_call(user, "end", NULL);
}

static const weft_channel_events channel_events = {
    .size = sizeof(weft_channel_events), .data = ch_data, .end = ch_end, .drain = ch_drain};

/* A wrapper registered on `ch` (its first reference), or NULL. */
static weft__nchannel *wrap(weft__addon *a, weft_channel *ch) {
  weft__nchannel *nch = calloc(1, sizeof(*nch));
  if (!nch) return NULL;
  nch->kind = WEFT__N_CHANNEL;
  nch->a = a;
  nch->ch = ch;
  nch->refs = 1;
  if (weft_channel_set_events(ch, &channel_events, nch, channel_free) != 0) {
    free(nch);
    return NULL;
  }
  return nch;
}

/* The peer opened a channel: JavaScript makes its Channel, or refuses
 * (no 'channel' listener: the channel is ended). */
static void on_open(weft_channel *ch, void *user) {
  weft__nclosable *owner = user;
  weft__addon *a = owner->a;
  napi_env env = a->env;
  napi_handle_scope scope;
  napi_value argv[3], obj;
  napi_valuetype t;
  weft__nchannel *nch = wrap(a, ch);
  if (!nch || a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) {
    weft_channel_end(ch);
    return;
  }
  if (napi_create_external(env, nch, channel_finalize, NULL, &argv[0]) != napi_ok) goto fail;
  nch->refs++;
  argv[1] = weft__node_str(env, weft_channel_name(ch));
  argv[2] = weft__node_spark_obj(env, weft_channel_spark(ch));
  if (!argv[2]) napi_get_null(env, &argv[2]);
  obj = weft__node_call(a, CB_CHANNEL_OPEN, weft__node_deref(env, owner->obj), 3, argv);
  if (obj && napi_typeof(env, obj, &t) == napi_ok && t == napi_object &&
      napi_create_reference(env, obj, 1, &nch->obj) == napi_ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
fail:
  napi_close_handle_scope(env, scope);
  if (nch->ch) weft_channel_end(ch); /* refused: nobody listens */
}

/* channelsListen(serverExt | clientExt) -> 0 | -code: channels the peer
 * opens go to the dispatcher (after the channels option). */
static napi_value js_channels_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (weft__node_args(env, info, 1, argv) != 0) return NULL;
  weft__nclosable *owner = weft__node_unwrap_any(env, argv[0]);
  if (!owner) return NULL;
  weft_channels *chs = owner->kind == WEFT__N_SERVER ? weft_channels_of_server(owner->handle)
                                                     : weft_channels_of_client(owner->handle);
  if (!chs) return weft__node_int(env, WEFT_ESTATE);
  return weft__node_int(env, weft_channels_on_open(chs, on_open, owner, NULL));
}

/* channelOpen(sparkExt | clientExt, name, jsChannel) -> channel external;
 * throws (ECLOSED: the connection is not open; ESTATE: channels are off). */
static napi_value js_channel_open(napi_env env, napi_callback_info info) {
  napi_value argv[3], ext;
  napi_valuetype t;
  void *p = NULL;
  weft_channels *chs = NULL;
  weft_spark *sp = NULL;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, argv[0], &p) != napi_ok || !p ||
      (*(uint32_t *)p != WEFT__N_SPARK && *(uint32_t *)p != WEFT__N_CLIENT))
    return weft__node_throw_type(env, "not a weft spark or client handle");
  if (*(uint32_t *)p == WEFT__N_SPARK) {
    sp = ((weft__nspark *)p)->spark;
    chs = weft_channels_of_server(((weft__nspark *)p)->srv);
  } else {
    chs = weft_channels_of_client(((weft__nclient *)p)->c);
  }
  if (!chs) return weft__node_throw(env, WEFT_ECLOSED, "channel");
  char *name = weft__node_string(env, argv[1], NULL);
  if (!name) return weft__node_throw_type(env, "channel name must be a string");
  weft_channel *ch = NULL;
  int rc = weft_channel_open(chs, sp, name, &ch);
  free(name);
  if (rc != 0) return weft__node_throw(env, rc, "channel");
  weft__nchannel *nch = wrap(weft__node_addon(env), ch);
  if (!nch) return weft__node_throw(env, WEFT_ENOMEM, "channel");
  if (napi_create_external(env, nch, channel_finalize, NULL, &ext) != napi_ok) return NULL;
  nch->refs++;
  if (napi_create_reference(env, argv[2], 1, &nch->obj) != napi_ok) return NULL;
  return ext;
}

/* channelCall(chExt, op, value) -> write (0 | 1 | -code), end, pause,
 * resume (0 | -code), queued (count). */
static napi_value js_channel_call(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char op[8];
  size_t len;
  int64_t rc = WEFT_EINVAL;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  weft__nchannel *nch = weft__node_unwrap(env, argv[0], WEFT__N_CHANNEL);
  if (!nch) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], op, sizeof(op), &len) != napi_ok)
    return weft__node_throw_type(env, "op must be a string");
  if (!nch->ch) return weft__node_int(env, !strcmp(op, "queued") ? 0 : WEFT_ECLOSED);
  if (!strcmp(op, "write")) {
    weft_value *v = weft__node_from_js(env, argv[2]);
    if (!v) return NULL;
    rc = weft_channel_write(nch->ch, v);
    weft_value_free(v);
  } else if (!strcmp(op, "end")) {
    rc = weft_channel_end(nch->ch);
  } else if (!strcmp(op, "pause")) {
    rc = weft_channel_pause(nch->ch);
  } else if (!strcmp(op, "resume")) {
    rc = weft_channel_resume(nch->ch);
  } else if (!strcmp(op, "queued")) {
    rc = (int64_t)weft_channel_queued(nch->ch);
  }
  return weft__node_int(env, rc);
}

int weft__node_define_channel(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      WEFT__NODE_FN("channelsListen", js_channels_listen),
      WEFT__NODE_FN("channelOpen", js_channel_open),
      WEFT__NODE_FN("channelCall", js_channel_call),
  };
  return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok;
}
