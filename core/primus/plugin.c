/* Plugins: registration by name (servers and clients) and the transform
 * pipeline. */
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/value_internal.h"
#include "primus.h"

#define HAS_HOOK(ops, member)                                                                      \
  ((ops)->size >= offsetof(weft_plugin_ops, member) + sizeof((ops)->member) && (ops)->member)

static weft__plugin *find(weft__plugin_list *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i].name, name) == 0) return &l->items[i];
  return NULL;
}

int weft__plugin_add(weft__plugin_list *l, const weft_plugin_ops *ops, void *user, int state_rc,
                     size_t min_size) {
  int rc = 0;
  if (!ops || !ops->name || !*ops->name || ops->size < min_size)
    rc = WEFT_EINVAL;
  else if (ops->version != WEFT_PLUGIN_VERSION)
    rc = WEFT_EVERSION;
  else if (state_rc)
    rc = state_rc;
  else if (find(l, ops->name))
    rc = WEFT_EEXIST;
  char *name = NULL;
  if (rc == 0) {
    name = weft__strdup(ops->name);
    weft__plugin *items = name ? realloc(l->items, (l->n + 1) * sizeof(*items)) : NULL;
    if (!items)
      rc = WEFT_ENOMEM;
    else
      l->items = items;
  }
  if (rc) {
    free(name);
    /* The destroy hook is read only where the struct is big enough to have it. */
    if (ops && HAS_HOOK(ops, destroy)) ops->destroy(user);
    return rc;
  }
  uint32_t types = ops->size >= offsetof(weft_plugin_ops, incoming_types) + sizeof(uint32_t)
                       ? ops->incoming_types
                       : 0;
  l->items[l->n++] = (weft__plugin){ops, user, name, types ? types : UINT32_MAX};
  return 0;
}

/* A refused init: the plugin leaves the list again, and destroy runs. */
static int init_failed(weft__plugin_list *l, int rc) {
  weft__plugin *p = &l->items[--l->n];
  if (HAS_HOOK(p->ops, destroy)) p->ops->destroy(p->user);
  free(p->name);
  return rc < 0 ? rc : WEFT_EINVAL;
}

int weft_server_use(weft_server *s, const weft_plugin_ops *ops, void *user) {
  if (!s) {
    if (ops && ops->size >= sizeof(weft_plugin_ops) && ops->destroy) ops->destroy(user);
    return WEFT_EINVAL;
  }
  int state_rc = s->state >= WEFT__SRV_CLOSING ? WEFT_ECLOSED
                 : s->state != WEFT__SRV_NEW   ? WEFT_ESTATE
                                               : 0;
  int rc = weft__plugin_add(&s->plugins, ops, user, state_rc, offsetof(weft_plugin_ops, destroy));
  if (rc) return rc;
  if (ops->server_init && (rc = ops->server_init(s, user)) != 0)
    return init_failed(&s->plugins, rc);
  if (ops->incoming) s->in_types |= s->plugins.items[s->plugins.n - 1].in_types;
  if (ops->outgoing) s->has_outgoing = 1;
  return 0;
}

void *weft_server_plugin(weft_server *s, const char *name) {
  if (weft__server_gone(s)) return NULL;
  weft__plugin *p = s && name ? find(&s->plugins, name) : NULL;
  return p ? p->user : NULL;
}

int weft__client_plugin_init(weft__plugin_list *l, weft_client *c) {
  weft__plugin *p = &l->items[l->n - 1];
  int rc = HAS_HOOK(p->ops, client_init) ? p->ops->client_init(c, p->user) : 0;
  return rc ? init_failed(l, rc) : 0;
}

void *weft__plugin_find(weft__plugin_list *l, const char *name) {
  weft__plugin *p = name ? find(l, name) : NULL;
  return p ? p->user : NULL;
}

void weft__plugins_free(weft__plugin_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    if (HAS_HOOK(l->items[i].ops, destroy)) l->items[i].ops->destroy(l->items[i].user);
    free(l->items[i].name);
  }
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

void weft__client_plugins_notify(weft__plugin_list *l, weft_client *c, int open) {
  for (size_t i = 0; i < l->n; i++) {
    const weft_plugin_ops *ops = l->items[i].ops;
    if (open && HAS_HOOK(ops, client_open)) ops->client_open(c, l->items[i].user);
    if (!open && HAS_HOOK(ops, client_close)) ops->client_close(c, l->items[i].user);
  }
}

/* Whether the plugin's incoming hook looks at a message of this type. */
static int wants(const weft__plugin *p, const weft_value *msg) {
  return (p->in_types >> msg->type) & 1;
}

int weft__client_plugins_transform(weft__plugin_list *l, weft_client *c, int outgoing,
                                   const weft_value *msg, const weft_value **out,
                                   weft_value **owned) {
  *owned = NULL;
  *out = msg;
  for (size_t i = 0; i < l->n; i++) {
    const weft_plugin_ops *ops = l->items[i].ops;
    int (*hook)(weft_client *, const weft_value *, weft_value **, void *) =
        outgoing ? (HAS_HOOK(ops, client_outgoing) ? ops->client_outgoing : NULL)
                 : (HAS_HOOK(ops, client_incoming) ? ops->client_incoming : NULL);
    if (!hook || (!outgoing && !wants(&l->items[i], *out))) continue;
    weft_value *rep = NULL;
    int rc = hook(c, *out, &rep, l->items[i].user);
    if (rep) {
      weft_value_free(*owned);
      *owned = rep;
      *out = rep;
    }
    if (rc != WEFT_PASS) return rc < 0 ? rc : WEFT_SWALLOW;
  }
  return WEFT_PASS;
}

int weft__plugins_transform(weft_spark *c, int outgoing, const weft_value *msg,
                            const weft_value **out, weft_value **owned) {
  weft__plugin_list *l = &c->server->plugins;
  *owned = NULL;
  *out = msg;
  for (size_t i = 0; i < l->n; i++) {
    const weft_plugin_ops *ops = l->items[i].ops;
    int (*hook)(weft_spark *, const weft_value *, weft_value **, void *) =
        outgoing ? ops->outgoing : ops->incoming;
    if (!hook || (!outgoing && !wants(&l->items[i], *out))) continue;
    weft_value *rep = NULL;
    int rc = hook(c, *out, &rep, l->items[i].user);
    if (rep) {
      weft_value_free(*owned);
      *owned = rep;
      *out = rep;
    }
    if (rc != WEFT_PASS) return rc < 0 ? rc : WEFT_SWALLOW;
  }
  return WEFT_PASS;
}
