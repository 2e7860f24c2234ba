/* The protocol's values (README.md "Values") <-> weft values, and JSON
 * lines out. Protocol JSON is parsed by weft's own json parser. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define SAFE 9007199254740991LL

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64encode(const uint8_t *p, size_t n) {
  char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    *o++ = B64[v >> 18 & 63];
    *o++ = B64[v >> 12 & 63];
    *o++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
    *o++ = i + 2 < n ? B64[v & 63] : '=';
  }
  *o = '\0';
  return out;
}

static weft_value *b64decode(const char *s, size_t n) {
  while (n > 0 && s[n - 1] == '=')
    n--;
  uint8_t *out = malloc(n * 3 / 4 + 1);
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    const char *c = strchr(B64, s[i]);
    if (!c || !s[i]) {
      free(out);
      return NULL;
    }
    acc = acc << 6 | (uint32_t)(c - B64);
    if ((bits += 6) >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  weft_value *v = weft_value_new_binary(out, o);
  free(out);
  return v;
}

const weft_value *conf_get(const weft_value *map, const char *key) {
  return weft_value_type(map) == WEFT_MAP ? weft_value_map_get(map, key, strlen(key)) : NULL;
}

const char *conf_str(const weft_value *map, const char *key) {
  const char *s;
  size_t n;
  return weft_value_get_string(conf_get(map, key), &s, &n) == 0 ? s : NULL;
}

int64_t conf_int(const weft_value *map, const char *key, int64_t dflt) {
  const weft_value *v = conf_get(map, key);
  int64_t i;
  double d;
  if (weft_value_get_int(v, &i) == 0) return i;
  if (weft_value_get_float(v, &d) == 0) return (int64_t)d;
  return dflt;
}

int conf_bool(const weft_value *map, const char *key) {
  int b;
  return weft_value_get_bool(conf_get(map, key), &b) == 0 && b;
}

/* The one tag of a tagged object ("$int", …), or NULL. */
static const char *tag_of(const weft_value *w) {
  static const char *tags[] = {"$int", "$float", "$bin", "$map"};
  const char *k;
  size_t n;
  if (weft_value_type(w) != WEFT_MAP || weft_value_len(w) != 1) return NULL;
  if (weft_value_get_string(weft_value_map_key_at(w, 0), &k, &n) != 0) return NULL;
  for (size_t i = 0; i < 4; i++)
    if (strlen(tags[i]) == n && memcmp(tags[i], k, n) == 0) return tags[i];
  return NULL;
}

static weft_value *from_tag(const char *tag, const weft_value *arg) {
  const char *s;
  size_t n;
  double d;
  int64_t i;
  if (strcmp(tag, "$map") == 0) {
    weft_value *m = weft_value_new_map();
    for (size_t k = 0; m && k < weft_value_len(arg); k++) {
      const weft_value *pair = weft_value_array_at(arg, k);
      weft_value *key = conf_from_wire(weft_value_array_at(pair, 0));
      weft_value *val = conf_from_wire(weft_value_array_at(pair, 1));
      if (!key || !val || weft_value_map_add_value(m, key, val) != 0) {
        weft_value_free(m);
        return NULL;
      }
    }
    return m;
  }
  if (weft_value_get_int(arg, &i) == 0)
    return strcmp(tag, "$float") == 0 ? weft_value_new_float((double)i) : weft_value_new_int(i);
  if (weft_value_get_float(arg, &d) == 0) return weft_value_new_float(d);
  if (weft_value_get_string(arg, &s, &n) != 0) return NULL;
  if (strcmp(tag, "$bin") == 0) return b64decode(s, n);
  char *end;
  errno = 0;
  if (strcmp(tag, "$int") == 0) {
    long long ll = strtoll(s, &end, 10);
    return errno || *end || end == s ? NULL : weft_value_new_int(ll);
  }
  d = strtod(s, &end);
  return *end || end == s ? NULL : weft_value_new_float(d);
}

weft_value *conf_from_wire(const weft_value *w) {
  const char *tag = tag_of(w);
  if (tag) return from_tag(tag, weft_value_map_value_at(w, 0));
  switch (weft_value_type(w)) {
  case WEFT_FLOAT: {
    double d;
    weft_value_get_float(w, &d);
    /* A plain number whose value is integral is an int. */
    if (d == floor(d) && fabs(d) <= (double)SAFE) return weft_value_new_int((int64_t)d);
    return weft_value_new_float(d);
  }
  case WEFT_ARRAY: {
    weft_value *a = weft_value_new_array();
    for (size_t i = 0; a && i < weft_value_len(w); i++) {
      weft_value *item = conf_from_wire(weft_value_array_at(w, i));
      if (!item || weft_value_array_push(a, item) != 0) {
        weft_value_free(a);
        return NULL;
      }
    }
    return a;
  }
  case WEFT_MAP: {
    weft_value *m = weft_value_new_map();
    for (size_t i = 0; m && i < weft_value_len(w); i++) {
      weft_value *k = weft_value_dup(weft_value_map_key_at(w, i));
      weft_value *v = conf_from_wire(weft_value_map_value_at(w, i));
      if (!k || !v || weft_value_map_add_value(m, k, v) != 0) {
        weft_value_free(m);
        return NULL;
      }
    }
    return m;
  }
  default: return weft_value_dup(w);
  }
}

static weft_value *tagged(const char *tag, weft_value *v) {
  weft_value *m = weft_value_new_map();
  weft_value_map_add(m, tag, strlen(tag), v);
  return m;
}

static weft_value *float_to_wire(double d) {
  char buf[40];
  if (isfinite(d) && d != floor(d)) return weft_value_new_float(d);
  if (isnan(d))
    snprintf(buf, sizeof buf, "NaN");
  else if (isinf(d))
    snprintf(buf, sizeof buf, d > 0 ? "Infinity" : "-Infinity");
  else if (d == 0)
    snprintf(buf, sizeof buf, signbit(d) ? "-0" : "0");
  else
    snprintf(buf, sizeof buf, "%.17g", d);
  return tagged("$float", weft_value_new_string(buf, strlen(buf)));
}

weft_value *conf_to_wire(const weft_value *v) {
  switch (weft_value_type(v)) {
  case WEFT_INT: {
    int64_t i;
    char buf[24];
    weft_value_get_int(v, &i);
    if (i >= -SAFE && i <= SAFE) return weft_value_new_int(i);
    snprintf(buf, sizeof buf, "%lld", (long long)i);
    return tagged("$int", weft_value_new_string(buf, strlen(buf)));
  }
  case WEFT_FLOAT: {
    double d;
    weft_value_get_float(v, &d);
    return float_to_wire(d);
  }
  case WEFT_BINARY: {
    const uint8_t *p;
    size_t n;
    weft_value_get_binary(v, &p, &n);
    char *s = b64encode(p, n);
    weft_value *out = tagged("$bin", weft_value_new_string(s ? s : "", s ? strlen(s) : 0));
    free(s);
    return out;
  }
  case WEFT_ARRAY: {
    weft_value *a = weft_value_new_array();
    for (size_t i = 0; i < weft_value_len(v); i++)
      weft_value_array_push(a, conf_to_wire(weft_value_array_at(v, i)));
    return a;
  }
  case WEFT_MAP: {
    int plain = !(weft_value_len(v) == 1 && tag_of(v));
    for (size_t i = 0; i < weft_value_len(v); i++)
      if (weft_value_type(weft_value_map_key_at(v, i)) != WEFT_STRING) plain = 0;
    weft_value *out = plain ? weft_value_new_map() : weft_value_new_array();
    for (size_t i = 0; i < weft_value_len(v); i++) {
      weft_value *val = conf_to_wire(weft_value_map_value_at(v, i));
      if (plain) {
        weft_value_map_add_value(out, weft_value_dup(weft_value_map_key_at(v, i)), val);
      } else {
        weft_value *pair = weft_value_new_array();
        weft_value_array_push(pair, conf_to_wire(weft_value_map_key_at(v, i)));
        weft_value_array_push(pair, val);
        weft_value_array_push(out, pair);
      }
    }
    return plain ? out : tagged("$map", out);
  }
  default: return weft_value_dup(v);
  }
}

weft_value *conf_event(const char *ev) {
  weft_value *m = weft_value_new_map();
  if (ev) conf_put_str(m, "ev", ev);
  return m;
}

void conf_put(weft_value *m, const char *key, weft_value *v) {
  weft_value_map_add(m, key, strlen(key), v ? v : weft_value_new_null());
}

void conf_put_str(weft_value *m, const char *key, const char *s) {
  if (s) conf_put(m, key, weft_value_new_string(s, strlen(s)));
}

void conf_put_int(weft_value *m, const char *key, int64_t i) {
  conf_put(m, key, weft_value_new_int(i));
}

void conf_put_bool(weft_value *m, const char *key, int b) {
  conf_put(m, key, weft_value_new_bool(b));
}

void conf_put_value(weft_value *m, const char *key, const weft_value *v) {
  conf_put(m, key, conf_to_wire(v));
}

void conf_emit(weft_value *m) {
  uint8_t *out;
  size_t len;
  if (weft_value_encode("json", m, &out, &len) == 0) {
    fwrite(out, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    weft_free(out);
  } else {
    fprintf(stderr, "conformance driver: cannot encode a line\n");
  }
  weft_value_free(m);
}
