/*
 * A server's reserved emitter events ("weft::…"): other extensions register
 * handlers here (rooms: "weft::join", "weft::leave") and the emitter
 * dispatches to them, so neither knows the other by name, whichever is
 * attached first. The table is a plugin of its own with no hooks, made by
 * the first registration; a client has one too (streams), its handlers
 * called with a NULL spark.
 */
#include <stdlib.h>
#include <string.h>

#include "ext_internal.h"

#define WEFT__RESERVED_PLUGIN "weft.reserved"
#define WEFT__RESERVED_MAX 8

typedef struct reserved {
  struct {
    const char *name; /* a literal of the registering extension */
    weft__reserved_cb cb;
    void *user;
  } at[WEFT__RESERVED_MAX];
  size_t n;
} reserved;

static void destroy(void *user) { free(user); }

static const weft_plugin_ops reserved_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = WEFT__RESERVED_PLUGIN,
    .destroy = destroy,
};

static reserved *table(weft_server *s, weft_client *c, int create, int *rc) {
  reserved *r = s ? weft_server_plugin(s, WEFT__RESERVED_PLUGIN)
                  : weft_client_plugin(c, WEFT__RESERVED_PLUGIN);
  if (r || !create) return r;
  if (!(r = calloc(1, sizeof(*r)))) {
    *rc = WEFT_ENOMEM;
    return NULL;
  }
  /* frees r on error */
  *rc = s ? weft_server_use(s, &reserved_ops, r) : weft_client_use(c, &reserved_ops, r);
  return *rc ? NULL : r;
}

static int add(reserved *r, const char *name, weft__reserved_cb cb, void *user) {
  if (r->n == WEFT__RESERVED_MAX) return WEFT_ENOMEM;
  r->at[r->n].name = name;
  r->at[r->n].cb = cb;
  r->at[r->n].user = user;
  r->n++;
  return 0;
}

int weft__reserved_on(weft_server *s, const char *name, weft__reserved_cb cb, void *user) {
  int rc = 0;
  reserved *r = table(s, NULL, 1, &rc);
  return r ? add(r, name, cb, user) : rc;
}

int weft__reserved_on_client(weft_client *c, const char *name, weft__reserved_cb cb, void *user) {
  int rc = 0;
  reserved *r = table(NULL, c, 1, &rc);
  return r ? add(r, name, cb, user) : rc;
}

int weft__reserved_dispatch(weft_server *s, weft_client *c, const char *name, weft_spark *spark,
                            const weft_value *args, weft_reply *reply) {
  reserved *r = s || c ? table(s, c, 0, NULL) : NULL;
  for (size_t i = 0; r && i < r->n; i++) {
    if (strcmp(r->at[i].name, name) != 0) continue;
    r->at[i].cb(spark, args, reply, r->at[i].user);
    return 1;
  }
  return 0;
}
