/*
 * HTTP head parsing and everything the server does with a parsed head: the
 * upgrade check, token lists, URL decoding, permessage-deflate negotiation,
 * and what a spark keeps of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/ws/codec.h"
#include "weft/weft.h"

static char *dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  memcpy(d, s, n);
  return d;
}

/* What a spark keeps of its request (weft__http_head_keep): the request
 * line and the lines of the first header's name, then nothing at all. */
static void check_keep(weft__http_head *h) {
  char *target = dup(weft__http_target(h));
  char *name = h->n_headers ? dup(weft__http_hname(h, 0)) : NULL;
  char *value = name ? dup(weft__http_get(h, name)) : NULL;
  size_t count = name ? weft__http_count(h, name) : 0;
  const char *names[] = {name};
  if (weft__http_head_keep(h, 1, 0, names, name ? 1 : 0) != 0) abort();
  if (!weft__http_target(h) || strcmp(weft__http_target(h), target) != 0) abort();
  if (!weft__http_method(h) || !weft__http_path(h) || !weft__http_query(h)) abort();
  if (h->n_headers != count || (name && strcmp(weft__http_get(h, name), value) != 0)) abort();
  if (weft__http_head_keep(h, 0, 0, NULL, 0) != 0 || h->storage || weft__http_target(h)) abort();
  free(target);
  free(name);
  free(value);
}

static void check_head(const uint8_t *data, size_t size, int request) {
  weft__http_head h;
  int rc = request ? weft__http_parse_request(data, size, &h)
                   : weft__http_parse_response(data, size, &h);
  if (rc == 0) {
    if (size >= WEFT__HTTP_MAX_HEAD || h.storage) abort();
    return;
  }
  if (rc < 0) {
    if (rc != WEFT_EPROTO && rc != WEFT_ETOOBIG) abort();
    if (h.storage || h.n_headers) abort(); /* failures leave nothing to free */
    return;
  }
  if ((size_t)rc > size || rc > WEFT__HTTP_MAX_HEAD) abort();
  if (h.n_headers > WEFT__HTTP_MAX_HEADERS) abort();
  if (h.version_minor < 0 || h.version_minor > 9) abort();

  /* A shorter prefix of a complete head is never complete. */
  weft__http_head h2;
  int rc2 = request ? weft__http_parse_request(data, (size_t)rc - 1, &h2)
                    : weft__http_parse_response(data, (size_t)rc - 1, &h2);
  if (rc2 != 0) abort();

  char accept[29];
  if (request) {
    if (!weft__http_method(&h) || !weft__http_target(&h) || !weft__http_path(&h) ||
        !weft__http_query(&h))
      abort();
    size_t tl = strlen(weft__http_target(&h));
    char *dec = malloc(tl + 1);
    size_t n = weft__url_decode(dec, weft__http_target(&h), tl);
    if (n > tl || dec[n] != '\0') abort();
    free(dec);
    if (strlen(weft__http_path(&h)) > tl) abort();
    int u = weft__ws_check_upgrade(&h, accept);
    if (u == 0 && strlen(accept) != 28) abort();
    if (u != 0 && u != WEFT_EPROTO && u != WEFT_EUNSUPPORTED) abort();
  } else {
    if (weft__http_method(&h) || !weft__http_reason(&h) || h.status < 100 || h.status > 999)
      abort();
    if (weft__ws_check_upgrade(&h, accept) != WEFT_EPROTO) abort();
  }
  for (size_t i = 0; i < h.n_headers; i++) {
    const char *name = weft__http_hname(&h, i), *value = weft__http_hvalue(&h, i);
    if (!name[0] || !weft__http_get(&h, name)) abort();
    size_t vl = strlen(value);
    if (vl && (value[0] == ' ' || value[vl - 1] == ' ' || value[vl - 1] == '\t')) abort();
    weft__http_has_token(value, "upgrade");
    weft__http_has_token(value, "");
    weft__pmd_params p;
    char resp[128];
    if (weft__pmd_negotiate(value, &p, resp, sizeof resp) != 0) abort();
    if (p.enabled && strncmp(resp, "permessage-deflate; ", 20) != 0) abort();
  }
  if (request) check_keep(&h);
  weft__http_head_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_head(data, size, 1);
  check_head(data, size, 0);

  /* The raw bytes as a header value and a URL. */
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  weft__http_has_token(s, "websocket");
  weft__pmd_params p;
  char resp[128];
  int rc = weft__pmd_negotiate(s, &p, resp, sizeof resp);
  if (rc != 0) abort();
  if (p.enabled && strncmp(resp,
                           "permessage-deflate; server_no_context_takeover; "
                           "client_no_context_takeover",
                           74) != 0)
    abort();
  char *dec = malloc(size + 1);
  size_t n = weft__url_decode(dec, s, size);
  if (n > size) abort();
  free(dec);
  free(s);
  return 0;
}
