#include "parser.h"

#include <string.h>

static const weft__parser_ops *const parsers[] = {&weft__parser_json, &weft__parser_msgpack,
                                                  &weft__parser_raw};

const weft__parser_ops *weft__parser_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof parsers / sizeof parsers[0]; i++) {
    if (strcmp(parsers[i]->name, name) == 0) return parsers[i];
  }
  return NULL;
}
