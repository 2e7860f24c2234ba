/* The transports weft knows, by name and by URL scheme, and the listener
 * memory they share (see transport.h). */
#include <stdlib.h>
#include <string.h>

#include "engineio/eio.h"
#include "fasttcp/ft.h"
#include "transport.h"
#include "vibe/vibe.h"
#include "ws/ws.h"

static const weft__transport *const all[] = {&weft__transport_ws, &weft__transport_eio,
                                             &weft__transport_ft, &weft__transport_vibe};

const weft__transport *weft__transport_find(const char *name) {
  for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++)
    if (strcmp(all[i]->name, name) == 0) return all[i];
  return NULL;
}

const weft__transport *weft__transport_of_scheme(const char *scheme) {
  for (size_t i = 0; scheme && i < sizeof(all) / sizeof(all[0]); i++)
    if (weft__transport_serves(all[i], scheme)) return all[i];
  return NULL;
}

int weft__transport_serves(const weft__transport *t, const char *scheme) {
  for (const char *const *s = t->schemes; *s; s++)
    if (strcmp(*s, scheme) == 0) return 1;
  return 0;
}

size_t weft__transport_index(const weft__transport *t) {
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (all[i] == t) return i;
  return 0;
}

const char *weft__transport_at(size_t i) {
  return i < sizeof(all) / sizeof(all[0]) ? all[i]->name : NULL;
}

int weft__listener_new(const weft__transport *t, const weft__listen_params *p,
                       weft__listener **out) {
  *out = NULL;
  weft__listener *l = calloc(1, sizeof(*l) + t->listener.size);
  if (!l) return WEFT_ENOMEM;
  l->tran = t;
  l->p = *p;
  *out = l;
  return t->listener.bind(l);
}

void weft__listener_free(weft__listener *l) { free(l); }

weft__conn *weft__conn_block(const weft__listener *l, size_t size) {
  char *block = calloc(1, l->p.owner_size + size);
  if (!block) return NULL;
  weft__conn *c = (weft__conn *)(void *)(block + l->p.owner_size);
  c->tran = l->tran;
  c->ev = l->p.ev;
  c->owner = block;
  return c;
}
