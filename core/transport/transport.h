/*
 * Transformers (transports) behind one ops table. The server core (Primus
 * layer: ids, heartbeats, transforms, broadcast) calls these; a transport
 * owns sockets, framing and queues. Today: "websockets"; engine.io, tcp and
 * ipc join behind the same table.
 */
#ifndef WEFT__TRANSPORT_H
#define WEFT__TRANSPORT_H

#include <stddef.h>

struct weft_server;
struct weft_spark;
struct weft__url;
struct weft__payload;

typedef struct weft__transport_ops {
  const char *name;       /* the spec's "transformer": "websockets" */
  const char *schemes[5]; /* URL schemes it listens on, NULL-terminated */
  /* Binds and starts accepting. Returns 0 or a WEFT_E* code. */
  int (*listen)(struct weft_server *s, const struct weft__url *url);
  /* Stops accepting new connections (asynchronous close of the listener). */
  void (*stop)(struct weft_server *s);
  /* Queues one encoded message (takes its own reference). Returns 0 or
   * WEFT_ECLOSED / WEFT_ENOMEM. */
  int (*send)(struct weft_spark *sp, struct weft__payload *p);
  /* Orderly close with a close code; the disconnection follows. */
  void (*close)(struct weft_spark *sp, int code, const char *reason);
  /* Immediate close, queued data discarded. */
  void (*abort)(struct weft_spark *sp);
} weft__transport_ops;

extern const weft__transport_ops weft__transport_ws;

/* The transport serving a URL scheme, or NULL. */
const weft__transport_ops *weft__transport_find(const char *scheme);

#endif
