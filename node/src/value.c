/*
 * Values: weft_value trees to JavaScript values and back, directly (no
 * intermediate JSON). JSON's rules for what JSON cannot carry: undefined,
 * functions and symbols are null at the top and in arrays and skipped in
 * objects; NaN and ±Infinity stay doubles (the json parser writes them as
 * null, as JSON.stringify; msgpack and fast-tcp carry them); toJSON() is
 * honoured. Integers beyond
 * 2^53 are BigInts; binary is a Buffer.
 */
#include <stdlib.h>

#include "addon.h"

#define WEFT_NODE_MAX_DEPTH 512
#define TWO53 9007199254740992LL

static napi_value to_js(napi_env env, const weft_value *v, int depth);

static napi_value key_to_js(napi_env env, const weft_value *k) {
  /* Object keys are strings; other key types become their JSON text. */
  const char *s;
  size_t len;
  napi_value out = NULL;
  if (weft_value_get_string(k, &s, &len) == 0) {
    napi_create_string_utf8(env, s, len, &out);
    return out;
  }
  uint8_t *enc = NULL;
  size_t elen = 0;
  if (weft_value_encode("json", k, &enc, &elen) == 0) {
    napi_create_string_utf8(env, (const char *)enc, elen, &out);
    weft_free(enc);
  }
  return out;
}

static napi_value to_js(napi_env env, const weft_value *v, int depth) {
  napi_value out = NULL;
  if (depth > WEFT_NODE_MAX_DEPTH) return NULL;
  switch (weft_value_type(v)) {
  case WEFT_NULL: napi_get_null(env, &out); break;
  case WEFT_BOOL: {
    int b = 0;
    weft_value_get_bool(v, &b);
    napi_get_boolean(env, b != 0, &out);
    break;
  }
  case WEFT_INT: {
    int64_t i = 0;
    weft_value_get_int(v, &i);
    if (i >= -TWO53 && i <= TWO53)
      napi_create_double(env, (double)i, &out);
    else
      napi_create_bigint_int64(env, i, &out);
    break;
  }
  case WEFT_FLOAT: {
    double d = 0;
    weft_value_get_float(v, &d);
    napi_create_double(env, d, &out);
    break;
  }
  case WEFT_STRING: {
    const char *s;
    size_t len;
    weft_value_get_string(v, &s, &len);
    napi_create_string_utf8(env, s, len, &out);
    break;
  }
  case WEFT_BINARY: {
    const uint8_t *p;
    size_t len;
    weft_value_get_binary(v, &p, &len);
    void *data;
    napi_create_buffer_copy(env, len, p, &data, &out);
    break;
  }
  case WEFT_ARRAY: {
    size_t n = weft_value_len(v);
    if (napi_create_array_with_length(env, n, &out) != napi_ok) return NULL;
    for (size_t i = 0; i < n; i++) {
      napi_value item = to_js(env, weft_value_array_at(v, i), depth + 1);
      if (!item || napi_set_element(env, out, (uint32_t)i, item) != napi_ok) return NULL;
    }
    break;
  }
  case WEFT_MAP: {
    size_t n = weft_value_len(v);
    if (napi_create_object(env, &out) != napi_ok) return NULL;
    for (size_t i = 0; i < n; i++) {
      napi_value k = key_to_js(env, weft_value_map_key_at(v, i));
      napi_value item = to_js(env, weft_value_map_value_at(v, i), depth + 1);
      if (!k || !item || napi_set_property(env, out, k, item) != napi_ok) return NULL;
    }
    break;
  }
  }
  return out;
}

static weft_value *from_js(napi_env env, napi_value v, int depth);

static int is_skippable(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  return t == napi_undefined || t == napi_function || t == napi_symbol;
}

static weft_value *from_js_object(napi_env env, napi_value v, int depth) {
  bool flag = false;
  /* Binary: Buffer / typed arrays / DataView / ArrayBuffer. */
  if (napi_is_typedarray(env, v, &flag) == napi_ok && flag) {
    napi_typedarray_type tt;
    size_t length, offset;
    void *data;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &tt, &length, &data, &ab, &offset) != napi_ok) return NULL;
    size_t esize = 1;
    switch (tt) {
    case napi_int16_array:
    case napi_uint16_array: esize = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: esize = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: esize = 8; break;
    default: esize = 1;
    }
    weft_value *b = weft_value_new_binary(data, length * esize);
    if (!b) weft__node_throw(env, WEFT_ENOMEM, "binary");
    return b;
  }
  if (napi_is_dataview(env, v, &flag) == napi_ok && flag) {
    size_t length, offset;
    void *data;
    napi_value ab;
    if (napi_get_dataview_info(env, v, &length, &data, &ab, &offset) != napi_ok) return NULL;
    weft_value *b = weft_value_new_binary(data, length);
    if (!b) weft__node_throw(env, WEFT_ENOMEM, "binary");
    return b;
  }
  if (napi_is_arraybuffer(env, v, &flag) == napi_ok && flag) {
    void *data;
    size_t length;
    if (napi_get_arraybuffer_info(env, v, &data, &length) != napi_ok) return NULL;
    weft_value *b = weft_value_new_binary(data, length);
    if (!b) weft__node_throw(env, WEFT_ENOMEM, "binary");
    return b;
  }
  if (napi_is_array(env, v, &flag) == napi_ok && flag) {
    uint32_t n = 0;
    if (napi_get_array_length(env, v, &n) != napi_ok) return NULL;
    weft_value *arr = weft_value_new_array();
    if (!arr) return weft__node_throw(env, WEFT_ENOMEM, "array"), NULL;
    for (uint32_t i = 0; i < n; i++) {
      napi_value item;
      if (napi_get_element(env, v, i, &item) != napi_ok) goto arr_fail;
      weft_value *c =
          is_skippable(env, item) ? weft_value_new_null() : from_js(env, item, depth + 1);
      if (!c) goto arr_fail;
      if (weft_value_array_push(arr, c) != 0) {
        weft__node_throw(env, WEFT_ENOMEM, "array");
        goto arr_fail;
      }
    }
    return arr;
  arr_fail:
    weft_value_free(arr);
    return NULL;
  }
  /* toJSON (Date and friends). */
  napi_value tojson;
  napi_valuetype tt;
  if (napi_get_named_property(env, v, "toJSON", &tojson) == napi_ok &&
      napi_typeof(env, tojson, &tt) == napi_ok && tt == napi_function) {
    napi_value r;
    if (napi_call_function(env, v, tojson, 0, NULL, &r) != napi_ok) return NULL;
    return is_skippable(env, r) ? weft_value_new_null() : from_js(env, r, depth + 1);
  }
  napi_value keys;
  if (napi_get_all_property_names(env, v, napi_key_own_only,
                                  napi_key_enumerable | napi_key_skip_symbols,
                                  napi_key_numbers_to_strings, &keys) != napi_ok)
    return NULL;
  uint32_t n = 0;
  if (napi_get_array_length(env, keys, &n) != napi_ok) return NULL;
  weft_value *map = weft_value_new_map();
  if (!map) return weft__node_throw(env, WEFT_ENOMEM, "object"), NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value k, item;
    if (napi_get_element(env, keys, i, &k) != napi_ok) goto map_fail;
    if (napi_get_property(env, v, k, &item) != napi_ok) goto map_fail;
    if (is_skippable(env, item)) continue;
    size_t klen;
    char *ks = weft__node_string(env, k, &klen);
    if (!ks) {
      weft__node_throw(env, WEFT_ENOMEM, "object key");
      goto map_fail;
    }
    weft_value *c = from_js(env, item, depth + 1);
    if (!c) {
      free(ks);
      goto map_fail;
    }
    int rc = weft_value_map_add(map, ks, klen, c);
    free(ks);
    if (rc != 0) {
      weft__node_throw(env, rc, "object");
      goto map_fail;
    }
  }
  return map;
map_fail:
  weft_value_free(map);
  return NULL;
}

static weft_value *from_js(napi_env env, napi_value v, int depth) {
  napi_valuetype t;
  weft_value *out = NULL;
  if (depth > WEFT_NODE_MAX_DEPTH) {
    napi_throw_range_error(env, "EDEPTH", "value nested too deeply (or cyclic)");
    return NULL;
  }
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  switch (t) {
  case napi_undefined:
  case napi_null:
  case napi_function:
  case napi_symbol: out = weft_value_new_null(); break;
  case napi_boolean: {
    bool b = false;
    napi_get_value_bool(env, v, &b);
    out = weft_value_new_bool(b);
    break;
  }
  case napi_number: {
    double d = 0;
    napi_get_value_double(env, v, &d);
    if (d >= -(double)TWO53 && d <= (double)TWO53 && d == (double)(int64_t)d &&
        !(d == 0 && 1 / d < 0))
      out = weft_value_new_int((int64_t)d);
    else
      out = weft_value_new_float(d);
    break;
  }
  case napi_bigint: {
    int64_t i = 0;
    bool lossless = false;
    napi_get_value_bigint_int64(env, v, &i, &lossless);
    if (!lossless) {
      napi_throw_range_error(env, "ERANGE", "BigInt out of the int64 range");
      return NULL;
    }
    out = weft_value_new_int(i);
    break;
  }
  case napi_string: {
    size_t len;
    char *s = weft__node_string(env, v, &len);
    if (!s) {
      weft__node_throw(env, WEFT_ENOMEM, "string");
      return NULL;
    }
    out = weft_value_new_string(s, len);
    free(s);
    break;
  }
  case napi_object:
  case napi_external:
    return t == napi_external ? weft_value_new_null() : from_js_object(env, v, depth);
  }
  if (!out) weft__node_throw(env, WEFT_ENOMEM, "value");
  return out;
}

napi_value weft__node_to_js(napi_env env, const weft_value *v) { return to_js(env, v, 0); }

weft_value *weft__node_from_js(napi_env env, napi_value v) { return from_js(env, v, 0); }
