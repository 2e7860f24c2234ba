/*
 * The extensions' packets: primus-emitter's {"type", "data", "id"} maps
 * built over borrowed nodes, the names that may travel in them, and
 * weft_emitter_packet() for writing an event with any write function.
 */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "ext_internal.h"

/* Primus's own events, and primus-emitter's list: emitting them would
 * collide with the connection's events on a Primus peer. With their
 * lengths: a name is compared only with those of its length. */
#define NAME(s)                                                                                    \
  { s, sizeof(s) - 1 }
static const struct {
  const char *s;
  size_t n;
} reserved[] = {
    NAME("log"),          NAME("end"),        NAME("pong"),          NAME("open"),
    NAME("data"),         NAME("error"),      NAME("close"),         NAME("online"),
    NAME("offline"),      NAME("timeout"),    NAME("initialised"),   NAME("reconnect"),
    NAME("reconnecting"), NAME("connection"), NAME("disconnection"), NAME("leaveallrooms"),
    NAME("roomserror"),   NAME("leaveroom"),  NAME("joinroom"),
};
#undef NAME

int weft__ext_reserved_name(const char *name) {
  /* Asked twice of every event an echo sends back: the first letter
   * rules the prefixes out before any string compare. */
  char c = name[0];
  if ((c == 'i' && strncmp(name, "incoming::", 10) == 0) ||
      (c == 'o' && strncmp(name, "outgoing::", 10) == 0) ||
      (c == 'w' && strncmp(name, "weft::", 6) == 0))
    return 1;
  size_t n = strlen(name);
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    if (reserved[i].n == n && memcmp(name, reserved[i].s, n) == 0) return 1;
  return 0;
}

int weft__ext_name_ok(const char *s, size_t len) {
  return s && len >= 1 && len <= WEFT__NAME_MAX && !memchr(s, 0, len) &&
         weft__utf8_valid((const uint8_t *)s, len);
}

/* {"type": t, "data": data, "id": id} over borrowed nodes (id 0: none). */
void weft__ext_packet_map(weft_value *map, weft_value kv[6], int type, weft_value *data,
                          uint32_t id) {
  weft__ext_str(&kv[0], "type");
  weft__ext_int(&kv[1], type);
  weft__ext_str(&kv[2], "data");
  kv[3] = *data;
  weft__ext_str(&kv[4], "id");
  weft__ext_int(&kv[5], id);
  weft__ext_map(map, kv, id ? 3 : 2);
}

int weft__ext_event_build(weft__ext_event *ep, const char *event, const weft_value *args,
                          uint32_t id) {
  size_t n = args ? args->len : 0;
  if (args && args->type != WEFT_ARRAY) return WEFT_EINVAL;
  ep->items = n + 1 <= 9 ? ep->small : malloc((n + 1) * sizeof(weft_value));
  if (!ep->items) return WEFT_ENOMEM;
  weft__ext_str(&ep->items[0], event);
  for (size_t i = 0; i < n; i++)
    ep->items[i + 1] = weft__value_view(&args->u.items[i]);
  memset(&ep->data, 0, sizeof(ep->data));
  ep->data.type = WEFT_ARRAY;
  ep->data.len = n + 1;
  ep->data.u.items = ep->items;
  weft__ext_packet_map(&ep->map, ep->kv, 0, &ep->data, id);
  return 0;
}

void weft__ext_event_done(weft__ext_event *ep) {
  if (ep->items != ep->small) free(ep->items);
}

int weft__ext_event_name_check(const char *event) {
  if (!event || !weft__ext_name_ok(event, strlen(event))) return WEFT_EINVAL;
  return weft__ext_reserved_name(event) ? WEFT_EINVAL : 0;
}

int weft_emitter_packet(const char *event, const weft_value *args, weft_value **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  int rc = weft__ext_event_name_check(event);
  if (rc) return rc;
  weft__ext_event ep;
  if ((rc = weft__ext_event_build(&ep, event, args, 0)) != 0) return rc;
  *out = weft_value_dup(&ep.map); /* a deep, owned copy of the views */
  weft__ext_event_done(&ep);
  return *out ? 0 : WEFT_ENOMEM;
}
