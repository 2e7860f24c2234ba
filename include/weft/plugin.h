/*
 * weft plugin ABI: hooks into a server's life and its message pipeline.
 *
 * A plugin is a versioned ops struct plus a user pointer, registered on a
 * server by name before it listens. The ops struct must outlive the server
 * (use static storage); `user` belongs to the plugin and is released through
 * ops->destroy(user) when the server is freed (or at once if registration
 * fails).
 *
 * Order: hooks run in registration order, always before the application's
 * own callback for the same event:
 *   connection    plugins 1..n, then the application's connection event;
 *   incoming      primus:: control strings are answered first and never reach
 *                 transforms; then plugins 1..n; a swallowed message stops
 *                 there; then the application's data event;
 *   outgoing      plugins 1..n, then the parser; raw writes and control
 *                 strings bypass transforms;
 *   disconnection plugins 1..n, then the application's disconnection event;
 *   destroy       plugins 1..n when the server is freed.
 *
 * The same ops struct may also be registered on a client (weft_client_use):
 * the client_* hooks run there, before the application's own events:
 *   client_open     the connection is up, before the open event;
 *   client_close    the connection went away, before the close event;
 *   client_incoming a decoded message, after primus:: control strings and
 *                   before the data event (same results as `incoming`);
 *   client_outgoing a message given to weft_client_write(), before the
 *                   parser (same results as `outgoing`: a swallowed message
 *                   is not sent and the write returns 0; an error is the
 *                   write's return value); raw writes and control strings
 *                   bypass it;
 *   destroy         when the client is freed.
 * A plugin for one side only leaves the other side's members NULL.
 */
#ifndef WEFT_PLUGIN_H
#define WEFT_PLUGIN_H

#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. A server refuses ops with another
 * version (WEFT_EVERSION). */
#define WEFT_PLUGIN_VERSION 1

/* Transform result: keep going (the message, possibly replaced, moves on). */
#define WEFT_PASS 0
/* Transform result: drop the message silently; later hooks do not see it. */
#define WEFT_SWALLOW 1

typedef struct weft_plugin_ops {
  uint32_t version; /* WEFT_PLUGIN_VERSION */
  size_t size;      /* sizeof(weft_plugin_ops) */
  const char *name; /* unique per server; copied */

  /* At registration; a negative return refuses the plugin (the error is
   * returned by weft_server_use(), and destroy runs). */
  int (*server_init)(weft_server *server, void *user);
  void (*connection)(weft_spark *spark, void *user);
  void (*disconnection)(weft_spark *spark, void *user);

  /* Transforms. `msg` is borrowed and must not be modified. To change the
   * message, set *replace to a new owned value: later hooks and the
   * application see it, and weft frees it. Return WEFT_PASS, WEFT_SWALLOW, or
   * a negative WEFT_E* code (the message is dropped and an error event of kind
   * "transform" is emitted). */
  int (*incoming)(weft_spark *spark, const weft_value *msg, weft_value **replace, void *user);
  int (*outgoing)(weft_spark *spark, const weft_value *msg, weft_value **replace, void *user);

  /* Releases `user`. */
  void (*destroy)(void *user);

  /* Client side; read only when `size` covers them (older plugins are
   * shorter). client_init's negative return refuses the plugin. */
  int (*client_init)(weft_client *client, void *user);
  void (*client_open)(weft_client *client, void *user);
  void (*client_close)(weft_client *client, void *user);
  int (*client_incoming)(weft_client *client, const weft_value *msg, weft_value **replace,
                         void *user);
  /* Later than the others: read only when `size` covers it. */
  int (*client_outgoing)(weft_client *client, const weft_value *msg, weft_value **replace,
                         void *user);
  /* Later still (read only when `size` covers it): the message types that
   * `incoming` and `client_incoming` look at, as WEFT_PLUGIN_TYPE bits; 0
   * (the default) is every type. A message of another type goes past this
   * plugin's incoming hooks without a call; a server whose plugins all
   * leave its type alone skips the transform step for it. A hook that
   * replaces the message is asked about the replacement's type too. */
  uint32_t incoming_types;
} weft_plugin_ops;

/* The bit of a weft_type in weft_plugin_ops.incoming_types. */
#define WEFT_PLUGIN_TYPE(type) (UINT32_C(1) << (type))

/* Registers a plugin. Errors: WEFT_EINVAL (NULL ops or name, size too small),
 * WEFT_EVERSION, WEFT_EEXIST (a plugin of that name is registered),
 * WEFT_ESTATE (the server listens already), or server_init's error. In every
 * error case ops->destroy(user) has run when it returns. */
WEFT_EXTERN int weft_server_use(weft_server *server, const weft_plugin_ops *ops, void *user);

/* The user pointer of the plugin registered under `name`, or NULL. */
WEFT_EXTERN void *weft_server_plugin(weft_server *server, const char *name);

/* Registers a plugin on a client, before weft_client_open(). Errors as
 * weft_server_use(): WEFT_EINVAL (NULL ops or name, or a struct too short to
 * have the client hooks), WEFT_EVERSION, WEFT_EEXIST, WEFT_ESTATE (the client
 * was opened already), WEFT_ECLOSED, or client_init's error; in every error
 * case ops->destroy(user) has run. The plugin lives until the client is
 * freed (its destroy event), when ops->destroy(user) runs. */
WEFT_EXTERN int weft_client_use(weft_client *client, const weft_plugin_ops *ops, void *user);

/* The user pointer of the client plugin registered under `name`, or NULL. */
WEFT_EXTERN void *weft_client_plugin(weft_client *client, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_PLUGIN_H */
