/* Plugins: registration by name and the transform pipeline. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static weft__plugin *find(weft_server *s, const char *name) {
  for (size_t i = 0; i < s->n_plugins; i++)
    if (strcmp(s->plugins[i].name, name) == 0) return &s->plugins[i];
  return NULL;
}

int weft_server_use(weft_server *s, const weft_plugin_ops *ops, void *user) {
  int rc = 0;
  if (!s || !ops || !ops->name || !*ops->name || ops->size < offsetof(weft_plugin_ops, destroy))
    rc = WEFT_EINVAL;
  else if (ops->version != WEFT_PLUGIN_VERSION)
    rc = WEFT_EVERSION;
  else if (s->state != WEFT__SRV_NEW)
    rc = WEFT_ESTATE;
  else if (find(s, ops->name))
    rc = WEFT_EEXIST;
  weft__plugin *list = NULL;
  char *name = NULL;
  if (rc == 0) {
    name = weft__strdup(ops->name);
    list = name ? realloc(s->plugins, (s->n_plugins + 1) * sizeof(*list)) : NULL;
    if (!list)
      rc = WEFT_ENOMEM;
    else
      s->plugins = list;
  }
  if (rc == 0 && ops->server_init) rc = ops->server_init(s, user);
  if (rc < 0 || rc > 0) {
    free(name);
    /* The destroy hook is read only where the struct is big enough to have it. */
    if (ops && ops->size >= sizeof(weft_plugin_ops) && ops->destroy) ops->destroy(user);
    return rc < 0 ? rc : WEFT_EINVAL;
  }
  s->plugins[s->n_plugins++] = (weft__plugin){ops, user, name};
  if (ops->incoming) s->has_incoming = 1;
  if (ops->outgoing) s->has_outgoing = 1;
  return 0;
}

void *weft_server_plugin(weft_server *s, const char *name) {
  weft__plugin *p = s && name ? find(s, name) : NULL;
  return p ? p->user : NULL;
}

void weft__plugins_destroy(weft_server *s) {
  for (size_t i = 0; i < s->n_plugins; i++) {
    if (s->plugins[i].ops->destroy) s->plugins[i].ops->destroy(s->plugins[i].user);
    free(s->plugins[i].name);
  }
  free(s->plugins);
  s->plugins = NULL;
  s->n_plugins = 0;
}

int weft__plugins_transform(weft_spark *c, int outgoing, const weft_value *msg,
                            const weft_value **out, weft_value **owned) {
  weft_server *s = c->server;
  *owned = NULL;
  *out = msg;
  for (size_t i = 0; i < s->n_plugins; i++) {
    const weft_plugin_ops *ops = s->plugins[i].ops;
    int (*hook)(weft_spark *, const weft_value *, weft_value **, void *) =
        outgoing ? ops->outgoing : ops->incoming;
    if (!hook) continue;
    weft_value *rep = NULL;
    int rc = hook(c, *out, &rep, s->plugins[i].user);
    if (rep) {
      weft_value_free(*owned);
      *owned = rep;
      *out = rep;
    }
    if (rc != WEFT_PASS) return rc < 0 ? rc : WEFT_SWALLOW;
  }
  return WEFT_PASS;
}
