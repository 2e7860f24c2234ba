#include "parser.h"

#include <stdlib.h>
#include <string.h>

#include "base/value_internal.h"

static const weft__parser_ops *const parsers[] = {&weft__parser_json, &weft__parser_msgpack,
                                                  &weft__parser_raw};

const weft__parser_ops *weft__parser_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof parsers / sizeof parsers[0]; i++) {
    if (strcmp(parsers[i]->name, name) == 0) return parsers[i];
  }
  return NULL;
}

int weft__app_parser_set(weft__app_parser **slot, const weft_parser_def *def, void *user) {
  if (!slot || !def || !def->name || !*def->name || !def->encode || !def->decode ||
      weft__parser_find(def->name))
    return WEFT_EINVAL;
  weft__app_parser *p = calloc(1, sizeof(*p));
  char *name = p ? strdup(def->name) : NULL;
  if (!name) {
    free(p);
    return WEFT_ENOMEM;
  }
  p->def = *def;
  p->name = name;
  p->ops.name = name;
  p->ops.binary = def->binary != 0;
  p->ops.app = &p->def;
  p->ops.app_user = user;
  weft__app_parser_free(*slot);
  *slot = p;
  return 0;
}

void weft__app_parser_free(weft__app_parser *p) {
  if (!p) return;
  if (p->def.free_user) p->def.free_user(p->ops.app_user);
  free(p->name);
  free(p);
}

/* ------------------------------------------------------------------------ */
/* Encode / decode                                                          */
/* ------------------------------------------------------------------------ */

int weft_parser_exists(const char *name) { return weft__parser_find(name) != NULL; }

int weft_value_encode(const char *parser, const weft_value *v, uint8_t **out, size_t *len) {
  if (!out || !len) return WEFT_EINVAL;
  *out = NULL;
  *len = 0;
  const weft__parser_ops *ops = weft__parser_find(parser);
  if (!ops || !v) return WEFT_EINVAL;
  weft__buf b = {0};
  int rc = ops->encode(v, &b);
  if (rc) {
    weft__buf_free(&b);
    return rc;
  }
  *out = b.data;
  *len = b.len;
  return 0;
}

int weft_value_decode(const char *parser, const void *data, size_t len, weft_value **out,
                      size_t *errpos) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  const weft__parser_ops *ops = weft__parser_find(parser);
  if (!ops || (!data && len)) return WEFT_EINVAL;
  weft__arena a;
  weft__arena_init(&a);
  const weft_value *root = NULL;
  int rc = ops->decode(data ? data : (const void *)"", len, 0, &a, &root, errpos);
  if (rc) {
    weft__arena_free(&a);
    return rc;
  }
  weft__value_box *box = weft__arena_alloc(&a, sizeof *box);
  if (!box) {
    weft__arena_free(&a);
    if (errpos) *errpos = 0;
    return WEFT_ENOMEM;
  }
  box->root = *root;
  box->root.flags = (uint8_t)(WEFT__VF_ARENA_ROOT | (root->flags & WEFT__VF_PLAIN));
  box->arena = a; /* after the box's own allocation, so it is included */
  *out = &box->root;
  return 0;
}
