/*
 * Parsers written in JavaScript (Primus's `parser: { encoder, decoder }`),
 * registered with the core as an application's parser
 * (weft_server_set_parser_def / weft_client_set_parser_def): the core calls
 * them for every message it writes or reads, its own control messages
 * included, so a Primus client with the same parser object understands all
 * of it.
 *
 * Both directions go through one dispatcher (CB_PARSER, lib/parsers.js),
 * this = the server or client, which never throws: it answers [result] or
 * an Error. encode's result is a string (a text frame) or a Buffer / typed
 * array (a binary frame); decode is given a string for a text frame and a
 * Buffer for a binary one.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

typedef struct weft__nparser {
  weft__addon *a;
  weft__nclosable *owner; /* the server or client whose object is `this` */
} weft__nparser;

/* The dispatcher's answer [x] -> x, else NULL (an Error, teardown). */
static napi_value call(weft__nparser *np, int encode, napi_value arg) {
  napi_env env = np->a->env;
  napi_value argv[2], r, item;
  bool isarr = false;
  napi_value self = weft__node_deref(env, np->owner->obj);
  napi_get_boolean(env, encode != 0, &argv[0]);
  argv[1] = arg;
  r = self && arg ? weft__node_call(np->a, CB_PARSER, self, 2, argv) : NULL;
  if (!r || napi_is_array(env, r, &isarr) != napi_ok || !isarr ||
      napi_get_element(env, r, 0, &item) != napi_ok)
    return NULL;
  return item;
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len, int *binary) {
  napi_valuetype t;
  bool is = false;
  void *p = NULL;
  size_t n = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return WEFT_ETYPE;
  if (t == napi_string) {
    *data = (uint8_t *)weft__node_string(env, v, len);
    *binary = 0;
    return *data ? 0 : WEFT_ENOMEM;
  }
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    if (napi_get_buffer_info(env, v, &p, &n) != napi_ok) return WEFT_ETYPE;
  } else if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type tt;
    size_t count, off;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &tt, &count, &p, &ab, &off) != napi_ok ||
        tt != napi_uint8_array)
      return WEFT_ETYPE;
    n = count;
  } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, v, &p, &n) != napi_ok) return WEFT_ETYPE;
  } else {
    return WEFT_ETYPE;
  }
  *data = malloc(n ? n : 1);
  if (!*data) return WEFT_ENOMEM;
  if (n) memcpy(*data, p, n);
  *len = n;
  *binary = 1;
  return 0;
}

static int np_encode(const weft_value *v, uint8_t **data, size_t *len, int *binary, void *user) {
  weft__nparser *np = user;
  napi_env env = np->a->env;
  napi_handle_scope scope;
  int rc = WEFT_ETYPE;
  if (np->a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return WEFT_ECLOSED;
  napi_value out = call(np, 1, weft__node_to_js(env, v));
  if (out) rc = bytes_of(env, out, data, len, binary);
  napi_close_handle_scope(env, scope);
  return rc;
}

static int np_decode(const void *data, size_t len, int binary, weft_value **out, void *user) {
  weft__nparser *np = user;
  napi_env env = np->a->env;
  napi_handle_scope scope;
  napi_value in = NULL;
  void *copy;
  int rc = WEFT_EPARSE;
  if (np->a->teardown || napi_open_handle_scope(env, &scope) != napi_ok) return WEFT_ECLOSED;
  if (binary)
    napi_create_buffer_copy(env, len, data, &copy, &in);
  else
    napi_create_string_utf8(env, data, len, &in);
  napi_value v = call(np, 0, in);
  if (v) {
    *out = weft__node_from_js(env, v);
    if (!*out) { /* not a value weft carries: the decoder's error */
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      rc = WEFT_ETYPE;
    } else {
      rc = 0;
    }
  }
  napi_close_handle_scope(env, scope);
  return rc;
}

/* parserAttach(ext, name, binary) -> 0 | -code: the server's or client's
 * parser is lib/parsers.js's (before it listens / opens). */
static napi_value js_parser_attach(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  bool binary = false;
  int rc;
  if (weft__node_args(env, info, 3, argv) != 0) return NULL;
  void *p = weft__node_unwrap_any(env, argv[0]);
  if (!p) return NULL;
  char *name = weft__node_string(env, argv[1], NULL);
  if (!name) return weft__node_throw_type(env, "parserAttach: the name is a string");
  napi_get_value_bool(env, argv[2], &binary);
  weft__nparser *np = calloc(1, sizeof(*np));
  if (!np) {
    free(name);
    return weft__node_throw(env, WEFT_ENOMEM, "parser");
  }
  np->a = weft__node_addon(env);
  np->owner = p;
  weft_parser_def def = {
      .name = name, .binary = binary, .encode = np_encode, .decode = np_decode, .free_user = free};
  if (*(uint32_t *)p == WEFT__N_SERVER)
    rc = weft_server_set_parser_def(((weft__nserver *)p)->srv, &def, np);
  else
    rc = weft_client_set_parser_def(((weft__nclient *)p)->c, &def, np);
  if (rc) free(np);
  free(name);
  return weft__node_int(env, rc);
}

int weft__node_define_parser(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {WEFT__NODE_FN("parserAttach", js_parser_attach)};
  return napi_define_properties(env, exports, 1, props) != napi_ok;
}
