/*
 * fast-tcp messages and the values the owner (a spark, a client) speaks:
 * events and acks are the emitter's packets ({"type": 0|1, "data": [...],
 * "id": n}), room requests its reserved events, a plain message is the
 * event "data". Data types: string, binary, integer (48 bits), double,
 * boolean and empty map to the value of that type (empty: no argument,
 * and null leaves as empty, as fast-tcp does); objects and arrays travel as
 * JSON (fast-tcp's default objectSerializer). Numbers leave as fast-tcp
 * writes them: integral ones within 48 bits as integers, the rest (NaN,
 * ±Infinity, fractions, larger integers) as doubles.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/value_internal.h"
#include "ft.h"
#include "parser/parser.h"

/* ---- in ---- */

static int data_value(const weft__ft_msg *m, weft_value **out) {
  *out = NULL;
  switch (m->dt) {
  case WEFT__FT_DT_STRING: *out = weft_value_new_string((const char *)m->data, m->data_len); break;
  case WEFT__FT_DT_BINARY: *out = weft_value_new_binary(m->data, m->data_len); break;
  case WEFT__FT_DT_INTEGER: *out = weft_value_new_int(m->i); break;
  case WEFT__FT_DT_DECIMAL: *out = weft_value_new_float(m->d); break;
  case WEFT__FT_DT_BOOLEAN: *out = weft_value_new_bool(m->b); break;
  case WEFT__FT_DT_OBJECT: {
    int rc = weft_value_decode(weft__ft_objects(m->objects)->name, m->data, m->data_len, out, NULL);
    return rc == WEFT_ENOMEM ? rc : rc ? WEFT_EPARSE : 0;
  }
  default: return 0; /* empty */
  }
  return *out ? 0 : WEFT_ENOMEM;
}

/* Delivers {"type": type, "data": arr, "id": id (when not 0)} unless rc
 * says the array could not be built; takes arr. */
static int finish(int type, weft_value *arr, int rc, uint32_t id,
                  void (*deliver)(void *, const weft_value *), void *u) {
  weft_value *map = rc == 0 ? weft_value_new_map() : NULL;
  if (rc == 0 && !map) rc = WEFT_ENOMEM;
  if (rc == 0) rc = weft_value_map_add(map, "type", 4, weft_value_new_int(type));
  if (rc == 0)
    rc = weft_value_map_add(map, "data", 4, arr);
  else
    weft_value_free(arr);
  if (rc == 0 && id) rc = weft_value_map_add(map, "id", 2, weft_value_new_int(id));
  if (rc == 0) deliver(u, map);
  weft_value_free(map);
  return rc;
}

/* {"type": type, "data": [name?, a?, b?, c?], "id": id}; takes a, b, c. */
static int packet(int type, const char *name, size_t nlen, weft_value *a, weft_value *b,
                  weft_value *c, uint32_t id, void (*deliver)(void *, const weft_value *),
                  void *u) {
  weft_value *arr = weft_value_new_array();
  weft_value *items[4] = {name ? weft_value_new_string(name, nlen) : NULL, a, b, c};
  int rc = arr && (!name || items[0]) ? 0 : WEFT_ENOMEM;
  for (size_t i = 0; i < 4; i++) {
    if (!items[i]) continue;
    if (rc == 0)
      rc = weft_value_array_push(arr, items[i]);
    else
      weft_value_free(items[i]);
  }
  return finish(type, arr, rc, id, deliver, u);
}

/* An event whose data is its arguments (WEFT__FT_FLAG_ARGS): [name, …v];
 * takes v. */
static int spread(const char *name, size_t nlen, weft_value *v, uint32_t id,
                  void (*deliver)(void *, const weft_value *), void *u) {
  weft_value *arr = weft_value_new_array();
  int rc = arr ? weft_value_array_push(arr, weft_value_new_string(name, nlen)) : WEFT_ENOMEM;
  for (size_t i = 0; rc == 0 && i < weft_value_len(v); i++)
    rc = weft_value_array_push(arr, weft_value_dup(weft_value_array_at(v, i)));
  weft_value_free(v);
  return finish(0, arr, rc, id, deliver, u);
}

/* "a,b,c" as a new array of strings (empty names skipped). */
static weft_value *names(const char *s, size_t n) {
  weft_value *arr = weft_value_new_array();
  for (size_t i = 0; arr && i <= n;) {
    size_t k = i;
    while (k < n && s[k] != ',')
      k++;
    if (k > i && weft_value_array_push(arr, weft_value_new_string(s + i, k - i)) != 0) {
      weft_value_free(arr);
      return NULL;
    }
    i = k + 1;
  }
  return arr;
}

/* A routed message's target, {"broadcast": true} or {"rooms"|"sockets":
 * [names]} from "a,b|event", into *target and *name (the event); `base`
 * is its kind's to-room type (to socket = base - 1, broadcast = base + 1).
 * Takes nothing; WEFT_EPROTO without a '|'. */
static int target_of(const weft__ft_msg *m, int base, weft_value **target, weft_value **name,
                     const char **why) {
  const char *ev = m->event;
  size_t elen = m->event_len;
  weft_value *to;
  const char *key = "broadcast";
  *target = *name = NULL;
  if (m->mt == base + 1) {
    to = weft_value_new_bool(1);
  } else {
    const char *bar = memchr(ev, '|', elen);
    if (!bar) {
      *why = "routed message without a '|'";
      return WEFT_EPROTO;
    }
    key = m->mt == base ? "rooms" : "sockets";
    to = names(ev, (size_t)(bar - ev));
    elen -= (size_t)(bar - ev) + 1;
    ev = bar + 1;
  }
  *target = weft_value_new_map();
  int rc = *target && to ? weft_value_map_add(*target, key, strlen(key), to) : WEFT_ENOMEM;
  if (rc) weft_value_free(to);
  if (rc == 0 && !(*name = weft_value_new_string(ev, elen))) rc = WEFT_ENOMEM;
  if (rc) {
    weft_value_free(*target);
    *target = NULL;
  }
  return rc;
}

/* A routed message from a client: ["weft::route", target, event, data?]. */
static int route(const weft__ft_msg *m, weft_value *v, void (*deliver)(void *, const weft_value *),
                 void *u, const char **why) {
  weft_value *target, *name;
  int rc = target_of(m, WEFT__FT_MT_DATA_TO_ROOM, &target, &name, why);
  if (rc) {
    weft_value_free(v);
    return rc;
  }
  return packet(0, "weft::route", 11, target, name, v, 0, deliver, u);
}

/* The ack a weft client asks of a room request (FLAG_ROOM_ACK), else 0
 * (npm fast-tcp numbers every message but wants no answer). */
static uint32_t room_ack(const weft__ft_msg *m) {
  return (m->flags & WEFT__FT_FLAG_ROOM_ACK) ? m->id : 0;
}

/* "a,b" joined or left one by one; an ack asked for answers the last (the
 * rooms policy's verdict; an empty list is asked about "", which it
 * refuses). */
static int rooms(const weft__ft_msg *m, const char *what,
                 void (*deliver)(void *, const weft_value *), void *u, const char **why) {
  if (m->dt != WEFT__FT_DT_STRING) {
    *why = "room request without a string of rooms";
    return WEFT_EPROTO;
  }
  weft_value *list = names((const char *)m->data, m->data_len);
  uint32_t ack = room_ack(m);
  if (list && ack && !weft_value_len(list) &&
      weft_value_array_push(list, weft_value_new_string("", 0)) != 0) {
    weft_value_free(list);
    list = NULL;
  }
  if (!list) return WEFT_ENOMEM;
  int rc = 0;
  size_t n = weft_value_len(list);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    weft_value *room = weft_value_dup(weft_value_array_at(list, i));
    rc = room ? packet(0, what, strlen(what), room, NULL, NULL, i + 1 == n ? ack : 0, deliver, u)
              : WEFT_ENOMEM;
  }
  weft_value_free(list);
  return rc;
}

/* Streams (ext/streams.c): open → "weft::stream" [event, id, info?] (an
 * ack request with the same id when asked), a routed open → "weft::stream"
 * [event, id, info, target] (ext/relay.c), a chunk → "weft::chunk" [id,
 * bytes], the close → "weft::chunk_end" [id]. */
static int stream_in(const weft__ft_msg *m, void (*deliver)(void *, const weft_value *), void *u,
                     const char **why) {
  weft_value *v = NULL, *id = weft_value_new_int(m->id);
  int rc = id ? data_value(m, &v) : WEFT_ENOMEM;
  if (rc) {
    weft_value_free(id);
    if (rc == WEFT_EPARSE) *why = "object data that is not JSON";
    return rc;
  }
  if (m->mt == WEFT__FT_MT_STREAM) {
    if (m->dt != WEFT__FT_DT_BINARY) {
      weft_value_free(id);
      weft_value_free(v);
      *why = "a stream chunk that is not binary";
      return WEFT_EPROTO;
    }
    return packet(0, "weft::chunk", 11, id, v, NULL, 0, deliver, u);
  }
  if (m->mt == WEFT__FT_MT_STREAM_CLOSE) {
    weft_value_free(v);
    return packet(0, "weft::chunk_end", 15, id, NULL, NULL, 0, deliver, u);
  }
  if (m->mt >= WEFT__FT_MT_STREAM_OPEN_TO_SOCKET) {
    weft_value *target, *name;
    rc = target_of(m, WEFT__FT_MT_STREAM_OPEN_TO_ROOM, &target, &name, why);
    weft_value *arr = rc ? NULL : weft_value_new_array();
    if (!rc && !arr) rc = WEFT_ENOMEM;
    weft_value *items[4] = {name, id, v ? v : weft_value_new_null(), target};
    for (size_t i = 0; i < 4; i++) {
      if (!items[i] && !rc) rc = WEFT_ENOMEM;
      if (rc == 0)
        rc = weft_value_array_push(arr, items[i]);
      else
        weft_value_free(items[i]);
    }
    if (rc) {
      weft_value_free(arr);
      return rc;
    }
    return spread("weft::stream", 12, arr, 0, deliver, u); /* takes arr */
  }
  weft_value *name = weft_value_new_string(m->event, m->event_len);
  if (!name) {
    weft_value_free(id);
    weft_value_free(v);
    return WEFT_ENOMEM;
  }
  if (m->mt == WEFT__FT_MT_STREAM_OPEN_WITH_ACK && !m->id) {
    weft_value_free(name);
    weft_value_free(id);
    weft_value_free(v);
    *why = "stream with id 0";
    return WEFT_EPROTO;
  }
  return packet(0, "weft::stream", 12, name, id, v,
                m->mt == WEFT__FT_MT_STREAM_OPEN_WITH_ACK ? m->id : 0, deliver, u);
}

int weft__ft_inbound(const weft__ft_msg *m, void (*deliver)(void *u, const weft_value *v), void *u,
                     const char **why) {
  static const char *dummy;
  if (!why) why = &dummy;
  *why = "out of memory";
  weft_value *v = NULL;
  int rc;
  switch (m->mt) {
  case WEFT__FT_MT_ERROR: return 0; /* a peer's complaint: nothing to deliver */
  case WEFT__FT_MT_JOIN_ROOM: return rooms(m, "weft::join", deliver, u, why);
  case WEFT__FT_MT_LEAVE_ROOM: return rooms(m, "weft::leave", deliver, u, why);
  case WEFT__FT_MT_LEAVE_ALL_ROOMS:
    return packet(0, "weft::leave_all", 15, NULL, NULL, NULL, room_ack(m), deliver, u);
  case WEFT__FT_MT_DATA:
  case WEFT__FT_MT_DATA_WITH_ACK:
  case WEFT__FT_MT_ACK:
  case WEFT__FT_MT_DATA_BROADCAST:
  case WEFT__FT_MT_DATA_TO_ROOM:
  case WEFT__FT_MT_DATA_TO_SOCKET: break;
  case WEFT__FT_MT_REGISTER: *why = "register from a client"; return WEFT_EPROTO;
  case WEFT__FT_MT_STREAM_OPEN:
  case WEFT__FT_MT_STREAM_OPEN_WITH_ACK:
  case WEFT__FT_MT_STREAM:
  case WEFT__FT_MT_STREAM_CLOSE:
  case WEFT__FT_MT_STREAM_OPEN_TO_SOCKET:
  case WEFT__FT_MT_STREAM_OPEN_TO_ROOM:
  case WEFT__FT_MT_STREAM_OPEN_BROADCAST: return stream_in(m, deliver, u, why);
  default: *why = "unknown message type"; return WEFT_EPROTO;
  }
  if ((rc = data_value(m, &v)) != 0) {
    if (rc == WEFT_EPARSE)
      *why = m->objects == &weft__parser_msgpack ? "object data that is not msgpack"
                                                 : "object data that is not JSON";
    return rc;
  }
  const char *ev = m->event;
  size_t elen = m->event_len;
  int args = (m->flags & WEFT__FT_FLAG_ARGS) && weft_value_type(v) == WEFT_ARRAY;
  switch (m->mt) {
  case WEFT__FT_MT_DATA:
    if (elen == 4 && memcmp(ev, WEFT__FT_PLAIN_EVENT, 4) == 0) {
      weft_value null = {0};
      deliver(u, v ? v : &null);
      weft_value_free(v);
      return 0;
    }
    if (args) return spread(ev, elen, v, 0, deliver, u);
    return packet(0, ev, elen, v, NULL, NULL, 0, deliver, u);
  case WEFT__FT_MT_DATA_WITH_ACK:
    if (!m->id) {
      weft_value_free(v);
      *why = "ack request with id 0";
      return WEFT_EPROTO;
    }
    if (args) return spread(ev, elen, v, m->id, deliver, u);
    return packet(0, ev, elen, v, NULL, NULL, m->id, deliver, u);
  case WEFT__FT_MT_ACK: {
    const weft_value *reason = (m->flags & WEFT__FT_FLAG_REJECT) && weft_value_len(v) == 1
                                   ? weft_value_map_get(v, "error", 5)
                                   : NULL;
    if (reason) { /* a weft peer's refusal: [reason] */
      weft_value *r = weft_value_dup(reason);
      weft_value_free(v);
      return r ? packet(1, NULL, 0, r, NULL, NULL, m->id, deliver, u) : WEFT_ENOMEM;
    }
    weft_value *null = weft_value_new_null();
    if (!null) {
      weft_value_free(v);
      return WEFT_ENOMEM;
    }
    return packet(1, NULL, 0, null, v, NULL, m->id, deliver, u);
  }
  default: return route(m, v, deliver, u, why);
  }
}

/* ---- out ---- */

static int put(weft__buf *out, weft__ft_msg *m, const weft_value *v, weft__buf *obj) {
  const char *s;
  const uint8_t *b;
  double d;
  switch (weft_value_type(v)) {
  case WEFT_NULL: m->dt = WEFT__FT_DT_EMPTY; break;
  case WEFT_BOOL:
    m->dt = WEFT__FT_DT_BOOLEAN;
    weft_value_get_bool(v, &m->b);
    break;
  case WEFT_INT:
    weft_value_get_int(v, &m->i);
    m->dt = WEFT__FT_DT_INTEGER;
    if (m->i < WEFT__FT_INT_MIN || m->i > WEFT__FT_INT_MAX) {
      m->dt = WEFT__FT_DT_DECIMAL;
      m->d = (double)m->i;
    }
    break;
  case WEFT_FLOAT:
    weft_value_get_float(v, &d);
    m->dt = WEFT__FT_DT_DECIMAL;
    m->d = d;
    if (isfinite(d) && d == floor(d) && d >= (double)WEFT__FT_INT_MIN &&
        d <= (double)WEFT__FT_INT_MAX) {
      m->dt = WEFT__FT_DT_INTEGER;
      m->i = (int64_t)d;
    }
    break;
  case WEFT_STRING:
    m->dt = WEFT__FT_DT_STRING;
    weft_value_get_string(v, &s, &m->data_len);
    m->data = (const uint8_t *)s;
    break;
  case WEFT_BINARY:
    m->dt = WEFT__FT_DT_BINARY;
    weft_value_get_binary(v, &b, &m->data_len);
    m->data = b;
    break;
  default: {
    int rc = weft__ft_objects(m->objects)->encode(v, obj);
    if (rc) return rc;
    m->dt = WEFT__FT_DT_OBJECT;
    m->data = obj->data;
    m->data_len = obj->len;
  }
  }
  return weft__ft_write(out, m);
}

/* A routed message's type and event: `to` is {"rooms"|"sockets": [names]}
 * ("a,b|event" in `ev`, names without ',' or '|') or else a broadcast
 * (the event alone). The types follow fast-tcp's order: to room = base,
 * to socket = base - 1, broadcast = base + 1 (data 4/3/5, streams 16/15/17). */
static int routed(weft__ft_msg *m, const weft_value *to, const char *e, size_t elen, weft__buf *ev,
                  int base) {
  const weft_value *rooms = weft_value_map_get(to, "rooms", 5);
  const weft_value *ids = weft_value_map_get(to, "sockets", 7);
  const weft_value *list = rooms ? rooms : ids;
  m->mt = (uint8_t)(rooms ? base : ids ? base - 1 : base + 1);
  m->event = e;
  m->event_len = elen;
  if (!list) return 0;
  for (size_t i = 0; i < weft_value_len(list); i++) {
    const char *name;
    size_t n;
    if (weft_value_get_string(weft_value_array_at(list, i), &name, &n) || memchr(name, ',', n) ||
        memchr(name, '|', n))
      return WEFT_EINVAL;
    if ((i && weft__buf_putc(ev, ',')) || weft__buf_append(ev, name, n)) return WEFT_ENOMEM;
  }
  if (weft__buf_putc(ev, '|') || weft__buf_append(ev, e, elen)) return WEFT_ENOMEM;
  m->event = (const char *)ev->data;
  m->event_len = ev->len;
  return 0;
}

/* A client's reserved events as fast-tcp's own messages: weft::join /
 * weft::leave [room] and weft::leave_all [] (an ack asked for rides in the
 * message id with FLAG_ROOM_ACK); without an ack, weft::route [target,
 * event, data?] (see route() above). Others leave as events. */
static int reserved_out(weft__buf *out, weft__ft_msg *m, const weft_value *data, int64_t id) {
  const weft_value *a1 = weft_value_array_at(data, 1);
  const weft_value *a2 = weft_value_array_at(data, 2);
  const weft_value *a3 = weft_value_array_at(data, 3);
  weft__buf obj = {0}, ev = {0};
  int rc = 0;
  const char *s = m->event;
  int room = strcmp(s, "weft::join") == 0 || strcmp(s, "weft::leave") == 0;
  if (id && !room && strcmp(s, "weft::leave_all") != 0) return 1; /* an event */
  if (id) {
    m->id = (uint32_t)id;
    m->flags = WEFT__FT_FLAG_ROOM_ACK;
  }
  if (room) {
    m->mt = s[6] == 'j' ? WEFT__FT_MT_JOIN_ROOM : WEFT__FT_MT_LEAVE_ROOM;
    m->event = "";
    m->event_len = 0;
    rc = put(out, m, a1, &obj);
  } else if (strcmp(s, "weft::leave_all") == 0) {
    m->mt = WEFT__FT_MT_LEAVE_ALL_ROOMS;
    m->event = "";
    m->event_len = 0;
    rc = put(out, m, NULL, &obj);
  } else if (strcmp(s, "weft::route") == 0 && weft_value_type(a2) == WEFT_STRING) {
    const char *e;
    size_t elen;
    weft_value_get_string(a2, &e, &elen);
    rc = routed(m, a1, e, elen, &ev, WEFT__FT_MT_DATA_TO_ROOM);
    if (rc == 0) rc = put(out, m, a3, &obj);
  } else {
    m->mt = WEFT__FT_MT_DATA;
    rc = put(out, m, weft_value_len(data) == 2 ? a1 : NULL, &obj);
  }
  weft__buf_free(&obj);
  weft__buf_free(&ev);
  return rc;
}

/* A stream this side opens (ext/ostream.c), as fast-tcp's messages:
 * "weft::stream" [event, id, info] → stream open (with ack when the packet
 * asks for one: the ack's id is the stream's); a client's with a fourth
 * argument, its target {"broadcast"|"rooms"|"sockets"}, → stream open
 * broadcast / to room / to socket ("a,b|event"); "weft::chunk" [id, bytes] →
 * stream data, "weft::chunk_end" [id] → stream close (data "", as
 * fast-tcp). */
static int stream_out(weft__buf *out, weft__ft_msg *m, const weft_value *data, int64_t ack) {
  int64_t sid = 0;
  int open = strcmp(m->event, "weft::stream") == 0;
  const weft_value *v = weft_value_array_at(data, open ? 3 : 2);
  if (weft_value_get_int(weft_value_array_at(data, open ? 2 : 1), &sid) || sid <= 0 ||
      sid > UINT32_MAX || (open && weft_value_type(weft_value_array_at(data, 1)) != WEFT_STRING))
    return WEFT_EINVAL;
  m->id = (uint32_t)sid;
  weft__buf obj = {0};
  int rc;
  if (open && weft_value_len(data) > 4) {
    weft__buf ev = {0};
    const weft_value *to = weft_value_array_at(data, 4);
    weft_value_get_string(weft_value_array_at(data, 1), &m->event, &m->event_len);
    rc = weft_value_type(to) == WEFT_MAP
             ? routed(m, to, m->event, m->event_len, &ev, WEFT__FT_MT_STREAM_OPEN_TO_ROOM)
             : WEFT_EINVAL;
    if (rc == 0) rc = put(out, m, v, &obj);
    weft__buf_free(&ev);
  } else if (open) {
    m->mt = ack ? WEFT__FT_MT_STREAM_OPEN_WITH_ACK : WEFT__FT_MT_STREAM_OPEN;
    weft_value_get_string(weft_value_array_at(data, 1), &m->event, &m->event_len);
    rc = put(out, m, v, &obj);
  } else if (strcmp(m->event, "weft::chunk") == 0) {
    m->mt = WEFT__FT_MT_STREAM;
    m->event = "";
    m->event_len = 0;
    rc = weft_value_type(v) == WEFT_BINARY ? put(out, m, v, &obj) : WEFT_EINVAL;
  } else {
    weft__ft_msg c = {.mt = WEFT__FT_MT_STREAM_CLOSE,
                      .id = m->id,
                      .dt = WEFT__FT_DT_STRING,
                      .event = "",
                      .data = (const uint8_t *)""};
    rc = weft__ft_write(out, &c);
  }
  weft__buf_free(&obj);
  return rc;
}

const weft__parser_ops *weft__ft_objects(const weft__parser_ops *owner) {
  return owner && owner != &weft__parser_raw ? owner : &weft__parser_json;
}

int weft__ft_outbound(const weft_value *msg, const weft__parser_ops *objects, weft__buf *out) {
  weft__ft_msg m = {
      .mt = WEFT__FT_MT_DATA, .event = WEFT__FT_PLAIN_EVENT, .event_len = 4, .objects = objects};
  const weft_value *v = msg;
  weft_value pair = {0};
  weft__buf obj = {0};
  const weft_value *type = weft_value_map_get(msg, "type", 4);
  const weft_value *data = weft_value_map_get(msg, "data", 4);
  const weft_value *idv = weft_value_map_get(msg, "id", 2);
  int64_t kind = -1, id = 0;
  const char *str;
  size_t slen;
  /* Primus's control strings mean nothing on this wire (no heartbeat; a
   * fast-tcp client reconnects whatever the server says): none leaves. */
  if (weft_value_get_string(msg, &str, &slen) == 0 && slen >= 8 && memcmp(str, "primus::", 8) == 0)
    return 0;
  if (type && weft_value_get_int(type, &kind) == 0 && weft_value_type(data) == WEFT_ARRAY &&
      (!idv || (weft_value_get_int(idv, &id) == 0 && id > 0 && id <= UINT32_MAX))) {
    size_t n = weft_value_len(data);
    const weft_value *first = weft_value_array_at(data, 0);
    if (kind == 0 && weft_value_get_string(first, &m.event, &m.event_len) == 0 &&
        (strcmp(m.event, "weft::stream") == 0 || strncmp(m.event, "weft::chunk", 11) == 0))
      return stream_out(out, &m, data, id);
    if (kind == 0 && weft_value_get_string(first, &m.event, &m.event_len) == 0 &&
        strncmp(m.event, "weft::", 6) == 0) {
      int rc = reserved_out(out, &m, data, id);
      if (rc != 1) return rc;
    }
    if (kind == 0 && weft_value_get_string(first, &m.event, &m.event_len) == 0) {
      m.mt = id ? WEFT__FT_MT_DATA_WITH_ACK : WEFT__FT_MT_DATA;
      m.id = (uint32_t)id;
      /* one argument is the data; none is empty; more travel as an array */
      v = n == 2 ? weft_value_array_at(data, 1) : NULL;
      if (n > 2) { /* weft peers spread it back (fast-tcp ignores flags) */
        m.flags = WEFT__FT_FLAG_ARGS;
        pair = *data;
        pair.len--;
        pair.u.items++;
        v = &pair;
      }
    } else if (kind == 1 && id) {
      m.mt = WEFT__FT_MT_ACK;
      m.event = "";
      m.event_len = 0;
      m.id = (uint32_t)id;
      /* [error, value]: a resolved value, or {"error": reason} */
      v = n > 1 ? weft_value_array_at(data, 1) : NULL;
      if (n && weft_value_type(first) != WEFT_NULL) {
        weft_value *e = weft_value_new_map();
        weft_value *r = weft_value_dup(first);
        int rc = e && r ? weft_value_map_add(e, "error", 5, r) : WEFT_ENOMEM;
        if (rc) weft_value_free(r);
        m.flags = WEFT__FT_FLAG_REJECT;
        rc = rc ? rc : put(out, &m, e, &obj);
        weft_value_free(e);
        weft__buf_free(&obj);
        return rc;
      }
    }
  }
  int rc = put(out, &m, v, &obj);
  weft__buf_free(&obj);
  return rc;
}

int weft__ft_frame_str(weft__buf *out, int mt, int flags, const char *event, const char *data) {
  weft__ft_msg m = {.mt = (uint8_t)mt,
                    .flags = (uint8_t)flags,
                    .id = 1,
                    .event = event,
                    .event_len = strlen(event)};
  m.dt = data ? WEFT__FT_DT_STRING : WEFT__FT_DT_EMPTY;
  m.data = (const uint8_t *)data;
  m.data_len = data ? strlen(data) : 0;
  return weft__ft_write(out, &m);
}
