/*
 * A server's options. Most are fixed once it listens (WEFT_ESTATE after);
 * the queue limits and the callbacks may change at any time.
 */
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "primus.h"

#define CHECK_NEW(s)                                                                               \
  do {                                                                                             \
    if (!(s)) return WEFT_EINVAL;                                                                  \
    if ((s)->state >= WEFT__SRV_CLOSING) return WEFT_ECLOSED;                                      \
    if ((s)->state != WEFT__SRV_NEW) return WEFT_ESTATE;                                           \
  } while (0)

int weft_server_set_parser(weft_server *s, const char *name) {
  CHECK_NEW(s);
  const weft__parser_ops *p = name ? weft__parser_find(name) : NULL;
  if (!p) return WEFT_EINVAL;
  s->parser = p;
  return 0;
}

int weft_server_set_parser_def(weft_server *s, const weft_parser_def *def, void *user) {
  CHECK_NEW(s);
  int rc = weft__app_parser_set(&s->app_parser, def, user);
  if (rc == 0) s->parser = &s->app_parser->ops;
  return rc;
}

int weft_server_set_ping_interval(weft_server *s, uint32_t ms) {
  CHECK_NEW(s);
  s->ping_interval = ms;
  return 0;
}

int weft_server_set_max_length(weft_server *s, size_t bytes) {
  CHECK_NEW(s);
  if (bytes == 0) return WEFT_EINVAL;
  s->max_length = bytes;
  return 0;
}

int weft_server_set_compression(weft_server *s, int on) {
  CHECK_NEW(s);
  s->compression = on != 0;
  return 0;
}

void weft__server_keep_none(weft_server *s) {
  for (size_t i = 0; i < s->n_kept_headers; i++)
    free(s->kept_headers[i]);
  free(s->kept_headers);
  s->kept_headers = NULL;
  s->n_kept_headers = 0;
}

int weft_server_set_kept_headers(weft_server *s, const char *const *names, size_t n) {
  CHECK_NEW(s);
  int all = !names;
  for (size_t i = 0; names && i < n; i++) {
    if (names[i] && strcmp(names[i], "*") == 0)
      all = 1;
    else if (!weft__http_is_token(names[i]))
      return WEFT_EINVAL;
  }
  char **copy = NULL;
  if (!all && n) {
    if (!(copy = calloc(n, sizeof(*copy)))) return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
      if (!(copy[i] = weft__strdup(names[i]))) {
        while (i--)
          free(copy[i]);
        free(copy);
        return WEFT_ENOMEM;
      }
    }
  }
  weft__server_keep_none(s);
  s->kept_headers = copy;
  s->n_kept_headers = copy ? n : 0;
  s->keep_all_headers = (uint8_t)all;
  return 0;
}

int weft_server_set_keep_url(weft_server *s, int on) {
  CHECK_NEW(s);
  s->keep_url = on != 0;
  return 0;
}

int weft_server_set_high_water_mark(weft_server *s, size_t bytes) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || bytes == 0) return WEFT_EINVAL;
  s->hwm = bytes;
  return 0;
}

int weft_server_set_max_queue(weft_server *s, size_t bytes) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || bytes == 0) return WEFT_EINVAL;
  s->max_queue = bytes;
  return 0;
}

int weft_server_add_origin(weft_server *s, const char *origin) {
  CHECK_NEW(s);
  return weft__http_site_add_origin(&s->site, origin);
}

int weft_server_add_trusted_proxy(weft_server *s, const char *ip) {
  CHECK_NEW(s);
  return weft__http_site_add_proxy(&s->site, ip);
}

int weft__server_set_tls_file(weft_server *s, int key, const char *path) {
  CHECK_NEW(s);
  if (!path || !*path) return WEFT_EINVAL;
  char *copy = weft__strdup(path);
  if (!copy) return WEFT_ENOMEM;
  char **slot = key ? &s->tls_key : &s->tls_cert;
  free(*slot);
  *slot = copy;
  return 0;
}

int weft_server_set_tls(weft_server *s, const char *cert, const char *key) {
  CHECK_NEW(s);
  if (!cert || !key || !*cert || !*key) return WEFT_EINVAL;
  int rc = weft__server_set_tls_file(s, 0, cert);
  return rc ? rc : weft__server_set_tls_file(s, 1, key);
}

int weft_server_set_id_generator(weft_server *s, weft_id_generator gen, void *user,
                                 void (*free_user)(void *)) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (s->idgen_free) s->idgen_free(s->idgen_user);
  s->idgen = gen;
  s->idgen_user = user;
  s->idgen_free = free_user;
  return 0;
}

int weft_server_set_authorize(weft_server *s, weft_authorize_cb cb, void *user,
                              void (*free_user)(void *)) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (s->auth_free) s->auth_free(s->auth_user);
  s->auth_cb = cb;
  s->auth_user = user;
  s->auth_free = free_user;
  return 0;
}

int weft_server_set_transformer(weft_server *s, const char *name) {
  CHECK_NEW(s);
  if (!name) return WEFT_EINVAL;
  return weft__server_set_transports(s, name);
}

int weft_server_set_queue_policy(weft_server *s, int policy) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || (policy != WEFT_QUEUE_CLOSE && policy != WEFT_QUEUE_DROP)) return WEFT_EINVAL;
  s->queue_policy = policy;
  return 0;
}

int weft_server_set_max_connections(weft_server *s, size_t n) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  s->site.max_conns = n;
  weft__http_site_cap(&s->site);
  return 0;
}

int weft_server_set_max_connections_per_ip(weft_server *s, size_t n) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  s->site.max_per_ip = n;
  return 0;
}

int weft_server_set_max_handshakes(weft_server *s, size_t n) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  s->site.max_handshakes = n;
  return 0;
}

int weft_server_set_unix_mode(weft_server *s, unsigned mode) {
  CHECK_NEW(s);
  if (mode > 07777) return WEFT_EINVAL;
  s->unix_mode = mode;
  return 0;
}

int weft_server_set_batching(weft_server *s, size_t max_bytes) {
  CHECK_NEW(s);
  if (max_bytes && strcmp(s->parser->name, "raw") == 0) return WEFT_EUNSUPPORTED;
  s->batch_max = max_bytes;
  return 0;
}

int weft_server_add_asset(weft_server *s, const char *path, const char *content_type,
                          const void *data, size_t len) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (s->state >= WEFT__SRV_CLOSING) return WEFT_ECLOSED;
  return weft__http_site_add_asset(&s->site, path, content_type, data, len);
}

int weft_server_set_asset(weft_server *s, const char *path, const char *content_type,
                          const void *data, size_t len) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (s->state >= WEFT__SRV_CLOSING) return WEFT_ECLOSED;
  return weft__http_site_set_asset(&s->site, path, content_type, data, len);
}

int weft_server_set_static_dir(weft_server *s, const char *dir) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (s->state >= WEFT__SRV_CLOSING) return WEFT_ECLOSED;
  return weft__http_site_set_static_dir(&s->site, dir);
}

const char *weft_transformer_at(size_t i) { return weft__transport_at(i); }
