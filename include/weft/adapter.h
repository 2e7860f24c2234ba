/*
 * weft adapter ABI: where messages leave this process, and where room
 * membership and presence are asked (issue #19, decision #18).
 *
 * A server has at most one adapter. Without one (the default, the "local
 * adapter") a broadcast, a write to rooms or to spark ids reaches the sparks
 * of this process only, exactly as before: the hot path gains one test of a
 * pointer per write, never a call or an allocation per spark.
 *
 * With an adapter, every message sent through weft_server_write(),
 * weft_server_write_raw(), weft_server_send() and weft_server_send_event()
 * (so every host's broadcast, rooms with `except`, ids, and the emitter's
 * broadcasts) is first delivered to this process's sparks, then handed to
 * `publish` once, already encoded by the server's parser: other nodes
 * deliver those bytes as they are (with weft_server_deliver()). All nodes
 * of a cluster must use the same parser. Remote deliveries do not run
 * outgoing transforms (as weft_server_write_raw).
 *
 * weft_server_write_to() and weft_spark_write() name spark objects of this
 * process and stay local; to reach a spark on any node use weft_server_send
 * with `ids`.
 *
 * The Redis adapter (weft_redis_attach, below) is one; an application may
 * write its own against these ops.
 */
#ifndef WEFT_ADAPTER_H
#define WEFT_ADAPTER_H

#include "weft/options.h"
#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_ADAPTER_VERSION 1

/* The answer to a presence question: `ids` (borrowed for the call) are the
 * spark ids in the room across the cluster, sorted, each once; `status` is
 * 0, or a negative WEFT_E* code (then n is 0). */
typedef void (*weft_presence_cb)(weft_server *server, int status, const char *const *ids, size_t n,
                                 void *user);

typedef struct weft_adapter_ops {
  uint32_t version; /* WEFT_ADAPTER_VERSION */
  size_t size;      /* sizeof(weft_adapter_ops) */
  const char *name;
  /* A message this process sent that other nodes must deliver too: `to`
   * (NULL: every spark) as given to weft_server_send (borrowed), the bytes
   * encoded once (borrowed for the call). Its return is not the write's:
   * an adapter reports its failures as server error events. */
  void (*publish)(weft_server *server, const weft_recipients *to, const void *data, size_t len,
                  int binary, void *user);
  /* A local spark joined (join 1) or left (0) a room. */
  void (*membership)(weft_server *server, weft_spark *spark, const char *room, int join,
                     void *user);
  /* Presence of a room across the cluster; answer through cb exactly once
   * (now or later, while the server lives). Return 0, or an error (then cb
   * is not called). */
  int (*presence)(weft_server *server, const char *room, weft_presence_cb cb, void *cb_user,
                  void *user);
} weft_adapter_ops;

/* Sets the server's adapter (NULL ops: back to local). `ops` must outlive
 * the server (static storage) and `user` must live until the adapter is
 * replaced or the server closes; the adapter does not own it (a plugin
 * registered alongside usually does). Errors: WEFT_EINVAL (NULL server; a
 * version or size that does not match), WEFT_EEXIST (another adapter is
 * set), WEFT_ECLOSED. */
WEFT_EXTERN int weft_server_set_adapter(weft_server *server, const weft_adapter_ops *ops,
                                        void *user);

/* Delivers a message another node published, to this process's sparks only
 * (never published again): `to` as weft_server_send's (NULL: every spark),
 * `data` encoded by the server's parser (copied as needed). Returns the
 * number of sparks it was queued on, or WEFT_EINVAL (NULL server, NULL data
 * with len, bad lists), WEFT_EUTF8 (text that is not UTF-8), WEFT_ESTATE
 * (not listening; rooms without the rooms extension), WEFT_ECLOSED,
 * WEFT_ENOMEM. */
WEFT_EXTERN int weft_server_deliver(weft_server *server, const weft_recipients *to,
                                    const void *data, size_t len, int binary);

/* The spark ids in `room` across the cluster (this process only without an
 * adapter; then cb runs before this returns). Errors (cb not called):
 * WEFT_EINVAL (NULL server or cb, an invalid room name), WEFT_ESTATE (the
 * rooms extension is off), WEFT_ECLOSED, WEFT_ENOMEM, or the adapter's. */
WEFT_EXTERN int weft_server_presence(weft_server *server, const char *room, weft_presence_cb cb,
                                     void *user);

/* ------------------------------------------------------------------------ */
/* The Redis adapter (hiredis on the server's own loop, no threads)         */
/* ------------------------------------------------------------------------ */

/* Joins the server to the cluster of every node attached to the same Redis
 * (`url`: redis://host:port; "redis://127.0.0.1:6379" when NULL), before
 * it listens. The rooms extension is turned on. What it does:
 *  - pub/sub between nodes on channel "weft:all" (every message sent here
 *    is published once; each node delivers what others published);
 *  - a registry of sparks, key "weft:spark:<id>" = node id, with an expiry
 *    of `ttl_ms` (10000 when 0), refreshed every ttl/3 while the node
 *    lives: a node killed with SIGKILL leaves it within ttl;
 *  - rooms in Redis sets "weft:room:<name>" for presence; members whose
 *    registry key expired are left out of answers (and removed);
 *  - with weft_server_set_recovery, sessions move between nodes (decision
 *    #24): a detached session's header in "weft:rs:<id>" and its messages
 *    in the list "weft:rsq:<id>", both expiring with the window.
 * Faults: local delivery never waits for Redis. When the connection fails
 * the server gets an error event of kind "disconnect" (the link is lost)
 * or "connect" (a connection attempt or a registration failed), and the
 * adapter reconnects with backoff (100 ms doubling to 5 s), subscribes
 * again and registers its sparks and rooms again. Messages published while
 * Redis is away, or while more than 64 MiB wait unsent for a Redis that
 * does not keep up, are dropped (one error event of kind "connect" per
 * episode says so): nodes buffer no more than that.
 * Errors: WEFT_EINVAL (NULL server, a URL that is not redis://host:port),
 * WEFT_ESTATE (the server listens already), WEFT_EEXIST (an adapter is
 * set), WEFT_EUNSUPPORTED (built without hiredis), WEFT_ENOMEM. */
WEFT_EXTERN int weft_redis_attach(weft_server *server, const char *url, uint32_t ttl_ms);

/* Changes the registry's expiry (see weft_redis_attach); sparks get it at
 * their next refresh. Errors: WEFT_EINVAL (NULL server, 0), WEFT_ESTATE (no
 * Redis adapter attached), WEFT_ECLOSED. */
WEFT_EXTERN int weft_redis_set_ttl(weft_server *server, uint32_t ttl_ms);

/* 1 while both connections to Redis are up (commands, and the subscription
 * confirmed), 0 while it is away. Errors: WEFT_EINVAL (NULL server, or no
 * Redis adapter attached), WEFT_ECLOSED. */
WEFT_EXTERN int weft_redis_linked(weft_server *server);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_ADAPTER_H */
