#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

char *weft__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

char *weft__strndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

int weft__strcaseeq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }
