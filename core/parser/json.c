/*
 * The "json" parser: yajl 2 (SAX) for decoding, our own encoder.
 *
 * Decoding is strict RFC 8259. yajl supplies tokenising and grammar (no
 * comments, trailing commas, trailing garbage or partial values); around it:
 *  - the whole text is checked as strict UTF-8 first, because yajl's own check
 *    lets overlongs, encoded surrogates and code points above U+10FFFF through
 *    and does not look outside strings;
 *  - \u escapes of lone surrogates are refused with WEFT_EUTF8 before yajl
 *    runs (yajl turns them into '?' or encoded surrogates, joins a high
 *    surrogate with any following \u escape, and in 2.1.0 unpatched can
 *    read out of bounds on them), and strings with escapes are decoded here
 *    from the raw token, not taken from yajl's decoder;
 *  - numbers arrive as text: integers that fit int64 become WEFT_INT, the
 *    rest WEFT_FLOAT, converted without depending on the C locale.
 * Values are collected on a scratch stack and copied into the arena as one
 * contiguous block per container when the container closes. yajl's own
 * allocations are served from a buffer on the C stack, so a typical message
 * decodes without calling malloc at all.
 *
 * Encoding matches JavaScript's JSON.stringify (compact, same escapes, same
 * number layout, Buffer objects for binary), plus \u2028/\u2029 escapes as
 * Primus sends them, and ".0" on integral floats so they decode as floats.
 */
#include <float.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "../utf8.h"
#include "../value_internal.h"
#include "parser.h"

/* ------------------------------------------------------------------------ */
/* Decoder                                                                  */
/* ------------------------------------------------------------------------ */

/* yajl allocates about 4.5 KiB per parse (handle, lexer, two 2 KiB buffers,
 * state stack); more only for deep nesting or long escaped strings. */
#define SCRATCH_SIZE 6144
#define SCRATCH_HDR ((size_t)alignof(max_align_t))
/* Values waiting for their container to close; spills to the heap. */
#define VSTACK_LOCAL 64

typedef struct json_dec {
  weft__arena *arena;
  const uint8_t *text;
  size_t len;
  yajl_handle h;
  /* Offset just past the last token that had a callback: the opening quote
   * of the next string is the first '"' from here. */
  size_t last_end;
  int finishing; /* inside yajl_complete_parse: yajl's offsets mean nothing */
  int err;
  size_t errpos;
  weft_value *vs;
  size_t vlen, vcap;
  size_t depth;
  size_t open[WEFT_VALUE_MAX_DEPTH]; /* vs index where each open container starts */
  size_t scratch_used;
  alignas(max_align_t) unsigned char scratch[SCRATCH_SIZE];
  weft_value vs_local[VSTACK_LOCAL];
} json_dec;

static int in_scratch(const json_dec *d, const void *p) {
  uintptr_t u = (uintptr_t)p, lo = (uintptr_t)d->scratch;
  return u >= lo && u < lo + SCRATCH_SIZE;
}

static void *ya_malloc(void *ctx, size_t sz) {
  json_dec *d = ctx;
  if (sz >= SCRATCH_SIZE) return malloc(sz);
  size_t need = (sz + SCRATCH_HDR + SCRATCH_HDR - 1) & ~(SCRATCH_HDR - 1);
  if (SCRATCH_SIZE - d->scratch_used >= need) {
    unsigned char *p = d->scratch + d->scratch_used;
    memcpy(p, &sz, sizeof sz); /* realloc needs the old size */
    d->scratch_used += need;
    return p + SCRATCH_HDR;
  }
  return malloc(sz);
}

static void *ya_realloc(void *ctx, void *ptr, size_t sz) {
  json_dec *d = ctx;
  if (!ptr) return ya_malloc(ctx, sz);
  if (!in_scratch(d, ptr)) return realloc(ptr, sz);
  size_t old;
  memcpy(&old, (unsigned char *)ptr - SCRATCH_HDR, sizeof old);
  if (sz <= old) return ptr;
  void *n = ya_malloc(ctx, sz);
  if (n) memcpy(n, ptr, old);
  return n;
}

static void ya_free(void *ctx, void *ptr) {
  if (ptr && !in_scratch(ctx, ptr)) free(ptr);
}

static int fail(json_dec *d, int err, size_t pos) {
  d->err = err;
  d->errpos = pos;
  return 0; /* tells yajl to stop */
}

static size_t tok_end(json_dec *d) { return d->finishing ? d->len : yajl_get_bytes_consumed(d->h); }

/* A zeroed slot for the next value, or NULL (error recorded). Values are
 * written in place: building them on the caller's stack and copying them in
 * stalled on store forwarding, an eighth of the decoding time. */
static weft_value *slot(json_dec *d, weft_type type) {
  if (d->vlen == d->vcap) {
    if (d->vcap > SIZE_MAX / 2 / sizeof(weft_value)) {
      fail(d, WEFT_ENOMEM, tok_end(d));
      return NULL;
    }
    size_t ncap = d->vcap * 2;
    weft_value *n;
    if (d->vs == d->vs_local) {
      n = malloc(ncap * sizeof *n);
      if (n) memcpy(n, d->vs, d->vlen * sizeof *n);
    } else {
      n = realloc(d->vs, ncap * sizeof *n);
    }
    if (!n) {
      fail(d, WEFT_ENOMEM, tok_end(d));
      return NULL;
    }
    d->vs = n;
    d->vcap = ncap;
  }
  if (!d->finishing) d->last_end = yajl_get_bytes_consumed(d->h);
  weft_value *v = &d->vs[d->vlen++];
  v->type = (uint8_t)type;
  v->flags = 0;
  v->reserved = 0;
  v->cap = 0;
  v->len = 0;
  v->u.i = 0;
  return v;
}

static int on_null(void *ctx) { return slot(ctx, WEFT_NULL) != NULL; }

static int on_bool(void *ctx, int b) {
  weft_value *v = slot(ctx, WEFT_BOOL);
  if (v) v->u.b = b ? 1 : 0;
  return v != NULL;
}

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The four hex digits at s, or -1. */
static long hex4(const uint8_t *s) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

static size_t put_utf8(uint8_t *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xC0 | cp >> 6);
    o[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xE0 | cp >> 12);
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (uint8_t)(0xF0 | cp >> 18);
  o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the escapes of the raw string body s[0..n) (at offset `at` in the
 * text) into out, which has room for n bytes: no escape grows. */
static int unescape(json_dec *d, const uint8_t *s, size_t n, size_t at, uint8_t *out,
                    size_t *outlen) {
  size_t i = 0, o = 0;
  while (i < n) {
    const uint8_t *bs = memchr(s + i, '\\', n - i);
    size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
    memcpy(out + o, s + i, run);
    o += run;
    i += run;
    if (!bs) break;
    if (n - i < 2) return fail(d, WEFT_EPARSE, at + i);
    uint8_t c = s[i + 1];
    const char *simple = NULL;
    switch (c) {
    case '"': simple = "\""; break;
    case '\\': simple = "\\"; break;
    case '/': simple = "/"; break;
    case 'b': simple = "\b"; break;
    case 'f': simple = "\f"; break;
    case 'n': simple = "\n"; break;
    case 'r': simple = "\r"; break;
    case 't': simple = "\t"; break;
    case 'u': break;
    default: return fail(d, WEFT_EPARSE, at + i);
    }
    if (simple) {
      out[o++] = (uint8_t)simple[0];
      i += 2;
      continue;
    }
    long cp = n - i >= 6 ? hex4(s + i + 2) : -1;
    if (cp < 0) return fail(d, WEFT_EPARSE, at + i);
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(d, WEFT_EUTF8, at + i);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      long lo = -1;
      if (n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u') lo = hex4(s + i + 8);
      if (lo < 0xDC00 || lo > 0xDFFF) return fail(d, WEFT_EUTF8, at + i);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      i += 6;
    }
    i += 6;
    o += put_utf8(out + o, (uint32_t)cp);
  }
  *outlen = o;
  return 1;
}

/* Offset of the backslash of the first \u escape that is half of a surrogate
 * pair without its other half, or len. Runs before yajl, because yajl 2.1.0
 * mishandles exactly these while decoding (CVE-2017-16516: a high surrogate
 * not followed by \u desynchronises its decoder, which then reads past the
 * string); distributions patch it, this makes it unreachable anyway.
 * A backslash starts an escape when it ends an odd run of backslashes; a
 * run outside a string is invalid JSON whatever this says about it. */
static size_t lone_surrogate(const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < len) {
    const uint8_t *bs = memchr(p + i, '\\', len - i);
    if (!bs) break;
    size_t start = (size_t)(bs - p), k = start;
    while (k < len && p[k] == '\\')
      k++;
    i = k;
    if ((k - start) % 2 == 0 || k == len || p[k] != 'u') continue;
    long cp = len - k >= 5 ? hex4(p + k + 1) : -1;
    if (cp < 0xD800 || cp > 0xDFFF) continue; /* not a surrogate, or malformed */
    long lo = -1;
    if (cp <= 0xDBFF && len - k >= 11 && p[k + 5] == '\\' && p[k + 6] == 'u') lo = hex4(p + k + 7);
    if (lo < 0xDC00 || lo > 0xDFFF) return k - 1;
    i = k + 11;
  }
  return len;
}

static int on_string(void *ctx, const unsigned char *buf, size_t blen) {
  json_dec *d = ctx;
  size_t end = yajl_get_bytes_consumed(d->h); /* just past the closing quote */
  uintptr_t b = (uintptr_t)buf, t = (uintptr_t)d->text;
  if (b >= t && b - t <= d->len && blen <= d->len - (b - t)) {
    /* No escapes: yajl points into the text, which is already valid UTF-8. */
    const char *s = weft__arena_strdup(d->arena, buf, blen);
    if (!s) return fail(d, WEFT_ENOMEM, end);
    weft_value *v = slot(d, WEFT_STRING);
    if (!v) return 0;
    v->u.str = s;
    v->len = blen;
    return 1;
  }
  if (end == 0 || end > d->len || d->last_end >= end) return fail(d, WEFT_EPARSE, end);
  const uint8_t *q = memchr(d->text + d->last_end, '"', end - 1 - d->last_end);
  if (!q) return fail(d, WEFT_EPARSE, end);
  size_t start = (size_t)(q + 1 - d->text);
  size_t rawlen = end - 1 - start;
  uint8_t *out = weft__arena_alloc_bytes(d->arena, rawlen + 1);
  if (!out) return fail(d, WEFT_ENOMEM, end);
  size_t olen = 0;
  if (!unescape(d, d->text + start, rawlen, start, out, &olen)) return 0;
  out[olen] = '\0';
  weft_value *v = slot(d, WEFT_STRING);
  if (!v) return 0;
  v->u.str = olen ? (const char *)out : weft__value_empty;
  v->len = olen;
  return 1;
}

/* Locale-independent strtod: the digits are rewritten without a decimal
 * point ("12.5e3" becomes "125e2"), the one part of a number's spelling that
 * the C locale changes. yajl has checked the JSON number grammar. */
static int to_double(json_dec *d, const char *s, size_t n, double *out) {
  char local[128];
  char *buf = local;
  if (n > sizeof local - 32) {
    buf = weft__arena_alloc_bytes(d->arena, n + 32);
    if (!buf) return WEFT_ENOMEM;
  }
  size_t i = 0, o = 0;
  int64_t frac = 0, exp = 0;
  if (i < n && s[i] == '-') buf[o++] = s[i++];
  while (i < n && s[i] >= '0' && s[i] <= '9')
    buf[o++] = s[i++];
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      buf[o++] = s[i++];
      frac++;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    /* Saturate: anything this large is 0 or infinity to strtod anyway. */
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (exp < INT64_C(1000000000000)) exp = exp * 10 + (s[i] - '0');
      i++;
    }
    if (neg) exp = -exp;
  }
  exp -= frac;
  buf[o++] = 'e';
  if (exp < 0) buf[o++] = '-';
  uint64_t ue = exp < 0 ? 0 - (uint64_t)exp : (uint64_t)exp;
  char tmp[24], *end = tmp + sizeof tmp, *p = end;
  do {
    *--p = (char)('0' + ue % 10);
    ue /= 10;
  } while (ue);
  memcpy(buf + o, p, (size_t)(end - p));
  o += (size_t)(end - p);
  buf[o] = '\0';
  *out = strtod(buf, NULL);
  return 0;
}

static int on_number(void *ctx, const char *s, size_t n) {
  json_dec *d = ctx;
  int64_t i64 = 0;
  /* yajl has checked the grammar: any non-digit after the sign is a '.' or
   * an exponent, which makes a float. */
  int is_int = n > 0;
  size_t i = 0;
  int neg = n > 0 && s[0] == '-';
  if (neg) i++;
  uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n && is_int; i++) {
    unsigned dg = (unsigned)(s[i] - '0');
    if (dg > 9 || u > (lim - dg) / 10)
      is_int = 0;
    else
      u = u * 10 + dg;
  }
  if (is_int) i64 = neg ? (int64_t)(0 - u) : (int64_t)u;
  double dbl = 0;
  if (!is_int) {
    int rc = to_double(d, s, n, &dbl);
    if (rc) return fail(d, rc, tok_end(d));
  }
  weft_value *v = slot(d, is_int ? WEFT_INT : WEFT_FLOAT);
  if (!v) return 0;
  if (is_int)
    v->u.i = i64;
  else
    v->u.d = dbl;
  return 1;
}

static int on_open(void *ctx) {
  json_dec *d = ctx;
  if (d->depth >= WEFT_VALUE_MAX_DEPTH) {
    size_t e = tok_end(d);
    return fail(d, WEFT_EDEPTH, e ? e - 1 : 0);
  }
  d->open[d->depth++] = d->vlen;
  if (!d->finishing) d->last_end = yajl_get_bytes_consumed(d->h);
  return 1;
}

/* Moves the children of the innermost open container into the arena. */
static int close_container(json_dec *d, weft_type type) {
  size_t start = d->open[--d->depth];
  size_t n = d->vlen - start;
  weft_value *items = NULL;
  if (n) {
    items = weft__arena_bump(d->arena, n * sizeof(weft_value), WEFT__ARENA_ALIGN);
    if (!items) return fail(d, WEFT_ENOMEM, tok_end(d));
    memcpy(items, d->vs + start, n * sizeof(weft_value));
  }
  d->vlen = start;
  weft_value *v = slot(d, type);
  if (!v) return 0;
  v->len = type == WEFT_MAP ? n / 2 : n;
  v->u.items = items;
  return 1;
}

static int on_end_map(void *ctx) { return close_container(ctx, WEFT_MAP); }
static int on_end_array(void *ctx) { return close_container(ctx, WEFT_ARRAY); }

/* Numbers come as text (yajl_number), not through yajl_integer/yajl_double,
 * which fail on integers beyond long long and depend on the locale. */
static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_open,
    .yajl_map_key = on_string,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_open,
    .yajl_end_array = on_end_array,
};

static int json_decode(const uint8_t *data, size_t len, int flags, weft__arena *arena,
                       const weft_value **out, size_t *errpos) {
  size_t bad = flags & WEFT__DECODE_UTF8_VALID ? len : weft__utf8_check(data, len);
  if (bad != len) {
    if (errpos) *errpos = bad;
    return WEFT_EUTF8;
  }
  bad = lone_surrogate(data, len);
  if (bad != len) {
    if (errpos) *errpos = bad;
    return WEFT_EUTF8;
  }
  /* Not zero-initialised as a whole: clearing ~12 KiB of scratch would cost
   * as much as decoding a small message. */
  json_dec dec;
  json_dec *d = &dec;
  d->h = NULL;
  d->last_end = 0;
  d->finishing = 0;
  d->err = 0;
  d->errpos = 0;
  d->vlen = 0;
  d->depth = 0;
  d->scratch_used = 0;
  d->arena = arena;
  d->text = data;
  d->len = len;
  d->vs = d->vs_local;
  d->vcap = VSTACK_LOCAL;
  yajl_alloc_funcs af = {ya_malloc, ya_realloc, ya_free, d};
  int rc = 0;
  size_t pos = 0;
  d->h = yajl_alloc(&callbacks, &af, d);
  if (!d->h) {
    rc = WEFT_ENOMEM;
    goto out;
  }
  /* Strings are validated above, more strictly than yajl would. */
  yajl_config(d->h, yajl_dont_validate_strings, 1);
  yajl_status st = yajl_parse(d->h, data, len);
  if (st == yajl_status_ok) {
    d->finishing = 1;
    st = yajl_complete_parse(d->h);
  }
  if (st != yajl_status_ok) {
    if (d->err) {
      rc = d->err;
      pos = d->errpos;
    } else {
      rc = WEFT_EPARSE;
      /* Where yajl stopped: at or just past the offending byte; a problem
       * found only at the end (truncation) is reported at the end. */
      pos = d->finishing ? len : yajl_get_bytes_consumed(d->h);
      if (pos > len) pos = len;
    }
    goto out;
  }
  if (d->vlen != 1 || d->depth != 0) {
    rc = WEFT_EPARSE;
    pos = len;
    goto out;
  }
  weft_value *root = weft__arena_alloc(arena, sizeof *root);
  if (!root) {
    rc = WEFT_ENOMEM;
    pos = len;
    goto out;
  }
  *root = d->vs[0];
  *out = root;
out:
  if (d->h) yajl_free(d->h);
  if (d->vs != d->vs_local) free(d->vs);
  if (rc && errpos) *errpos = pos;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Encoder                                                                  */
/* ------------------------------------------------------------------------ */

/* Appends inline: the encoder writes a few bytes at a time, and a call into
 * buf.c for each was a fifth of the encoding time. */
static inline int put(weft__buf *b, const void *p, size_t n) {
  if (b->cap - b->len < n && weft__buf_reserve(b, n)) return WEFT_ENOMEM;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static inline int put1(weft__buf *b, char c) {
  if (b->len == b->cap && weft__buf_reserve(b, 1)) return WEFT_ENOMEM;
  b->data[b->len++] = (uint8_t)c;
  return 0;
}

/* 1: escape; 2: first byte of U+2028/U+2029 (E2 80 A8/A9), look closer. */
// clang-format off
static const uint8_t esc_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    [0xE2] = 2,
};
// clang-format on

static int put_string(weft__buf *b, const uint8_t *s, size_t n) {
  if (n > SIZE_MAX / 2 || weft__buf_reserve(b, n + 2)) return WEFT_ENOMEM;
  b->data[b->len++] = '"';
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && !esc_class[s[i]])
      i++;
    if (put(b, s + start, i - start)) return WEFT_ENOMEM;
    if (i == n) break;
    uint8_t c = s[i];
    char e[6] = {'\\'};
    size_t elen = 2;
    if (c == 0xE2) {
      if (n - i >= 3 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
        memcpy(e, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
        elen = 6;
        i += 3;
      } else {
        e[0] = (char)c;
        elen = 1;
        i++;
      }
    } else {
      switch (c) {
      case '"': e[1] = '"'; break;
      case '\\': e[1] = '\\'; break;
      case '\b': e[1] = 'b'; break;
      case '\f': e[1] = 'f'; break;
      case '\n': e[1] = 'n'; break;
      case '\r': e[1] = 'r'; break;
      case '\t': e[1] = 't'; break;
      default: /* JSON.stringify's form: lower-case hex */
        memcpy(e, "\\u00", 4);
        e[4] = "0123456789abcdef"[c >> 4];
        e[5] = "0123456789abcdef"[c & 15];
        elen = 6;
      }
      i++;
    }
    if (put(b, e, elen)) return WEFT_ENOMEM;
  }
  return put1(b, '"');
}

/* Decimal digits of u, right-aligned ending at end; returns the start. */
static char *fmt_u64(char *end, uint64_t u) {
  do {
    *--end = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  return end;
}

static int put_int(weft__buf *b, int64_t i) {
  char tmp[24];
  char *end = tmp + sizeof tmp;
  uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
  char *p = fmt_u64(end, u);
  if (i < 0) *--p = '-';
  return put(b, p, (size_t)(end - p));
}

/* Shortest digits of d > 0 (no leading or trailing zeros) and the exponent
 * of the first digit, d = 0.DIGITS x 10^(exp10 + 1). */
static int shortest_digits(double d, char digits[24], int *exp10) {
#if FLT_EVAL_METHOD == 0
  /* Fast path, for the short decimals messages mostly carry (98.6, 0.25):
   * the fewest decimals p such that m / 10^p reads back as d. With m below
   * 2^53 and p at most 22 both operands are exact, so the one correctly
   * rounded division gives what strtod would (Clinger's fast path). */
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  for (int p = 1; p <= 22; p++) {
    double x = d * pow10[p];
    if (x >= 9007199254740992.0) break;
    uint64_t m = (uint64_t)(x + 0.5);
    if ((double)m / pow10[p] == d) {
      char *end = digits + 23, *s = fmt_u64(end, m);
      int k = (int)(end - s);
      memmove(digits, s, (size_t)k);
      digits[k] = '\0';
      *exp10 = k - p - 1;
      return k;
    }
  }
#endif
  /* Otherwise the shortest of 15, 16 or 17 significant digits that reads
   * back. %e's radix character follows the locale, so only digits are kept,
   * and the read-back check is spelled without one. */
  int k = 0;
  for (int prec = 15; prec <= 17; prec++) {
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    const char *p = tmp;
    k = 0;
    while (*p && *p != 'e') {
      if (*p >= '0' && *p <= '9' && k < 23) digits[k++] = *p;
      p++;
    }
    int e = (int)strtol(*p ? p + 1 : p, NULL, 10);
    while (k > 1 && digits[k - 1] == '0')
      k--;
    digits[k] = '\0';
    *exp10 = e;
    char check[48];
    snprintf(check, sizeof check, "%se%d", digits, e - (k - 1));
    if (strtod(check, NULL) == d) break;
  }
  return k;
}

static int put_double(weft__buf *b, double d) {
  if (!isfinite(d)) return put(b, "null", 4);
  if (d == 0) return signbit(d) ? put(b, "-0.0", 4) : put(b, "0.0", 3);
  if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
    int rc = put_int(b, (int64_t)d);
    return rc ? rc : put(b, ".0", 2);
  }
  char digits[24];
  int e;
  int k = shortest_digits(fabs(d), digits, &e);
  int n = e + 1; /* position of the decimal point relative to the digits */
  char out[48];
  size_t o = 0;
  if (d < 0) out[o++] = '-';
  /* Number::toString's layout: plain notation from 1e-7 up to 1e21. */
  if (k <= n && n <= 21) {
    memcpy(out + o, digits, (size_t)k);
    o += (size_t)k;
    for (int i = k; i < n; i++)
      out[o++] = '0';
    memcpy(out + o, ".0", 2);
    o += 2;
  } else if (0 < n && n <= 21) {
    memcpy(out + o, digits, (size_t)n);
    o += (size_t)n;
    out[o++] = '.';
    memcpy(out + o, digits + n, (size_t)(k - n));
    o += (size_t)(k - n);
  } else if (-6 < n && n <= 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (int i = 0; i < -n; i++)
      out[o++] = '0';
    memcpy(out + o, digits, (size_t)k);
    o += (size_t)k;
  } else {
    out[o++] = digits[0];
    if (k > 1) {
      out[o++] = '.';
      memcpy(out + o, digits + 1, (size_t)(k - 1));
      o += (size_t)(k - 1);
    }
    out[o++] = 'e';
    out[o++] = n - 1 >= 0 ? '+' : '-';
    char tmp[8];
    char *end = tmp + sizeof tmp, *s = fmt_u64(end, (uint64_t)(n - 1 >= 0 ? n - 1 : 1 - n));
    memcpy(out + o, s, (size_t)(end - s));
    o += (size_t)(end - s);
  }
  return put(b, out, o);
}

static int put_binary(weft__buf *b, const uint8_t *p, size_t n) {
  static const char head[] = "{\"type\":\"Buffer\",\"data\":[";
  if (n > (SIZE_MAX - 32) / 4 || weft__buf_reserve(b, sizeof head + 4 * n + 2)) return WEFT_ENOMEM;
  memcpy(b->data + b->len, head, sizeof head - 1);
  b->len += sizeof head - 1;
  for (size_t i = 0; i < n; i++) {
    char tmp[4];
    char *s = fmt_u64(tmp + 4, p[i]);
    if (i) b->data[b->len++] = ',';
    size_t l = (size_t)(tmp + 4 - s);
    memcpy(b->data + b->len, s, l);
    b->len += l;
  }
  b->data[b->len++] = ']';
  b->data[b->len++] = '}';
  return 0;
}

static int encode_value(const weft_value *v, weft__buf *b, int depth) {
  switch ((weft_type)v->type) {
  case WEFT_NULL: return put(b, "null", 4);
  case WEFT_BOOL: return v->u.b ? put(b, "true", 4) : put(b, "false", 5);
  case WEFT_INT: return put_int(b, v->u.i);
  case WEFT_FLOAT: return put_double(b, v->u.d);
  case WEFT_STRING: return put_string(b, (const uint8_t *)v->u.str, v->len);
  case WEFT_BINARY: return put_binary(b, v->u.bin, v->len);
  case WEFT_ARRAY:
  case WEFT_MAP: break;
  default: return WEFT_ETYPE;
  }
  if (depth >= WEFT_VALUE_MAX_DEPTH) return WEFT_EDEPTH;
  int map = v->type == WEFT_MAP;
  if (put1(b, map ? '{' : '[')) return WEFT_ENOMEM;
  for (size_t i = 0; i < v->len; i++) {
    if (i && put1(b, ',')) return WEFT_ENOMEM;
    const weft_value *item = &v->u.items[map ? 2 * i : i];
    int rc;
    if (map) {
      if (item->type != WEFT_STRING) return WEFT_ETYPE;
      rc = put_string(b, (const uint8_t *)item->u.str, item->len);
      if (rc) return rc;
      if (put1(b, ':')) return WEFT_ENOMEM;
      item++;
    }
    rc = encode_value(item, b, depth + 1);
    if (rc) return rc;
  }
  return put1(b, map ? '}' : ']');
}

static int json_encode(const weft_value *v, weft__buf *out) {
  if (!v || !out) return WEFT_EINVAL;
  return encode_value(v, out, 0);
}

const weft__parser_ops weft__parser_json = {
    .name = "json",
    .binary = 0,
    .decode = json_decode,
    .encode = json_encode,
};
