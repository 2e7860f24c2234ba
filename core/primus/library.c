/*
 * Serving the browser client (library.h) under a listener's pathname, as
 * Primus serves its library at /primus/primus.js.
 */
#include <stdio.h>
#include <string.h>

#include "library.h"
#include "primus.h"

static int add(weft_server *s, const char *base, const char *file, const char *data, size_t len) {
  char path[256 + 16]; /* a pathname is under 256 bytes (transport.h) */
  snprintf(path, sizeof(path), "%s/%s", base, file);
  int rc =
      weft__http_site_add_asset_ex(&s->site, path, "text/javascript; charset=utf-8", data, len, 1);
  return rc == WEFT_EEXIST ? 0 : rc; /* the application's own, or a second listener's */
}

int weft__server_add_library(weft_server *s, const char *pathname) {
  if (!s->client_library) return 0;
  const char *base = strcmp(pathname, "/") == 0 ? "" : pathname;
  int rc = add(s, base, "weft.js", weft__library_weft_js, weft__library_weft_js_len);
  if (!rc) rc = add(s, base, "primus.js", weft__library_primus_js, weft__library_primus_js_len);
  if (!rc)
    rc = add(s, base, "weft-channels.js", weft__library_channels_js, weft__library_channels_js_len);
  return rc ? rc : add(s, base, "weft-vibe.js", weft__library_vibe_js, weft__library_vibe_js_len);
}

const char *weft_client_library(const char *name, size_t *len) {
  if (!name) return NULL;
  int primus = strcmp(name, "primus.js") == 0;
  if (!primus && strcmp(name, "weft.js") != 0) return NULL;
  if (len) *len = primus ? weft__library_primus_js_len : weft__library_weft_js_len;
  return primus ? weft__library_primus_js : weft__library_weft_js;
}

int weft_server_set_client_library(weft_server *s, int on) {
  if (!s) return WEFT_EINVAL;
  if (s->state != WEFT__SRV_NEW) return s->state >= WEFT__SRV_CLOSING ? WEFT_ECLOSED : WEFT_ESTATE;
  s->client_library = on != 0;
  return 0;
}
