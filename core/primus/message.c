/* Messages to and from payloads, the same for sparks and clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/value_internal.h"
#include "parser/json.h"
#include "primus.h"

/* An application's parser: its encode makes the bytes (and says the frame). */
static int app_encode(const weft__parser_ops *parser, weft_loop *loop, const weft_value *v,
                      weft__payload **out) {
  uint8_t *data = NULL;
  size_t len = 0;
  int binary = parser->binary;
  int rc = parser->app->encode(v, &data, &len, &binary, parser->app_user);
  if (rc == 0 && !data && len) rc = WEFT_EINVAL;
  if (rc == 0 && !binary && !weft__utf8_valid(data, len)) rc = WEFT_EUTF8;
  if (rc == 0) {
    *out = weft__payload_take(loop, binary ? WEFT__P_BINARY : WEFT__P_TEXT, data, len);
    if (!*out) rc = WEFT_ENOMEM;
  }
  free(data);
  return rc;
}

int weft__message_verbatim(const weft__parser_ops *parser, const weft_value *v,
                           weft__verbatim *out) {
  if (parser->app) return -1;
  /* Binary with a text parser passes through as a binary frame, as Primus's
   * json decoder hands binary frames through untouched. */
  if (!parser->binary && v->type == WEFT_BINARY) {
    out->binary = 1;
    out->quote = 0;
    weft_value_get_binary(v, &out->data, &out->len);
    return 0;
  }
  /* json's without the indirect call (most messages). */
  int q = parser == &weft__parser_json ? weft__json_verbatim(v)
          : parser->verbatim           ? parser->verbatim(v)
                                       : -1;
  if (q < 0) return -1;
  out->binary = parser->binary != 0;
  out->quote = (uint8_t)q;
  out->data = (const uint8_t *)v->u.str;
  out->len = v->len;
  return 0;
}

int weft__verbatim_payload(weft_loop *loop, const weft__verbatim *vb, weft__payload **out) {
  *out = NULL;
  if (vb->len > SIZE_MAX - 2) return WEFT_ENOMEM;
  *out = weft__payload_take(loop, vb->binary ? WEFT__P_BINARY : WEFT__P_TEXT, NULL,
                            weft__verbatim_len(vb));
  if (!*out) return WEFT_ENOMEM;
  weft__verbatim_write(vb, (*out)->data);
  return 0;
}

int weft__message_encode(const weft__parser_ops *parser, weft_loop *loop, const weft_value *v,
                         weft__payload **out) {
  *out = NULL;
  if (!v) return WEFT_EINVAL;
  if (parser->app) return app_encode(parser, loop, v, out);
  weft__verbatim vb;
  if (weft__message_verbatim(parser, v, &vb) == 0) return weft__verbatim_payload(loop, &vb, out);
  weft__buf *b = &loop->scratch;
  b->len = 0;
  int rc = parser->encode(v, b);
  if (rc) return rc;
  *out = weft__payload_take(loop, parser->binary ? WEFT__P_BINARY : WEFT__P_TEXT, b->data, b->len);
  weft__loop_scratch_done(loop);
  return *out ? 0 : WEFT_ENOMEM;
}

int weft__message_decode(const weft__parser_ops *parser, weft__arena *arena, int binary,
                         uint8_t *data, size_t len, const weft_value **out, weft_value **owned,
                         char *err, size_t errcap) {
  *out = NULL;
  *owned = NULL;
  if (parser->app) {
    int rc = parser->app->decode(data, len, binary, owned, parser->app_user);
    if (rc == 0 && !*owned) rc = WEFT_EPARSE;
    if (rc) {
      weft_value_free(*owned);
      *owned = NULL;
      snprintf(err, errcap, "failed to decode incoming %s data: %s", parser->name,
               weft_strerror(rc));
    }
    *out = *owned;
    return rc;
  }
  if (binary && !parser->binary) {
    *owned = weft_value_new_binary(data, len);
    *out = *owned;
    if (!*owned) snprintf(err, errcap, "out of memory");
    return *owned ? 0 : WEFT_ENOMEM;
  }
  size_t pos = 0;
  /* Text frames were validated as UTF-8 by the frame reader. */
  int rc = parser->decode(data, len, WEFT__DECODE_IN_PLACE | (binary ? 0 : WEFT__DECODE_UTF8_VALID),
                          arena, out, &pos);
  if (rc)
    snprintf(err, errcap, "failed to decode incoming %s data at byte %zu: %s", parser->name, pos,
             weft_strerror(rc));
  return rc;
}

int weft__message_is(const weft_value *v, const char *prefix, const char **rest, size_t *rest_len) {
  /* Asked of every incoming message: nearly all are not Primus control
   * strings, and every prefix asked for starts with "primus::", so that
   * answers most calls without a strlen or a call. */
  if (!v || v->type != WEFT_STRING || v->len < 8 || memcmp(v->u.str, "primus::", 8) != 0) return 0;
  const char *s = v->u.str;
  size_t n = v->len, k = strlen(prefix);
  if (n < k || memcmp(s, prefix, k) != 0) return 0;
  if (rest) *rest = s + k;
  if (rest_len) *rest_len = n - k;
  return 1;
}

/* ---- batches ---- */

#define BATCH_KEY "weft::batch"

struct weft__batch {
  weft__buf buf; /* the encoded messages, comma-separated for json */
  uint32_t n;
};

int weft__batchable(const weft__parser_ops *parser, const weft__payload *p, size_t max) {
  /* json: text frames only (a binary value travels as its own frame). */
  /* raw and the application's parsers have no envelope */
  if (!max || parser->app || strcmp(parser->name, "raw") == 0) return 0;
  return p->len <= max && (parser->binary ? p->kind == WEFT__P_BINARY : p->kind == WEFT__P_TEXT);
}

int weft__batch_add(weft__batch **bp, const weft__payload *p) {
  if (!*bp && !(*bp = calloc(1, sizeof(**bp)))) return WEFT_ENOMEM;
  weft__batch *b = *bp;
  /* msgpack messages simply follow each other inside the array. */
  int text = p->kind == WEFT__P_TEXT;
  if ((b->n && text && weft__buf_append(&b->buf, ",", 1)) ||
      weft__buf_append(&b->buf, p->data, p->len))
    return WEFT_ENOMEM;
  b->n++;
  return 0;
}

size_t weft__batch_bytes(const weft__batch *b) { return b ? b->buf.len : 0; }

weft__payload *weft__batch_seal(weft__batch *b, const weft__parser_ops *parser, weft_loop *loop) {
  if (!b || !b->n) return NULL;
  int kind = parser->binary ? WEFT__P_BINARY : WEFT__P_TEXT;
  weft__payload *p = NULL;
  if (b->n == 1) {
    p = weft__payload_take(loop, kind, b->buf.data, b->buf.len);
  } else {
    uint8_t head[32];
    size_t h = 0;
    if (parser->binary) { /* {"weft::batch": [ …n items… ]} in msgpack */
      head[h++] = 0x81;
      head[h++] = 0xa0 | (uint8_t)(sizeof(BATCH_KEY) - 1);
      memcpy(head + h, BATCH_KEY, sizeof(BATCH_KEY) - 1);
      h += sizeof(BATCH_KEY) - 1;
      if (b->n < 16) {
        head[h++] = 0x90 | (uint8_t)b->n;
      } else if (b->n <= 0xffff) {
        head[h++] = 0xdc;
        head[h++] = (uint8_t)(b->n >> 8);
        head[h++] = (uint8_t)b->n;
      } else {
        head[h++] = 0xdd;
        for (int i = 3; i >= 0; i--)
          head[h++] = (uint8_t)(b->n >> (8 * i));
      }
    } else {
      memcpy(head, "{\"" BATCH_KEY "\":[", sizeof(BATCH_KEY) + 4);
      h = sizeof(BATCH_KEY) + 4;
    }
    size_t tail = parser->binary ? 0 : 2;
    p = weft__payload_take(loop, kind, NULL, h + b->buf.len + tail);
    if (p) {
      memcpy(p->data, head, h);
      memcpy(p->data + h, b->buf.data, b->buf.len);
      if (tail) memcpy(p->data + h + b->buf.len, "]}", 2);
    }
  }
  b->buf.len = 0;
  b->n = 0;
  return p;
}

void weft__batch_clear(weft__batch *b) {
  if (b) b->buf.len = b->n = 0;
}

void weft__batch_free(weft__batch *b) {
  if (!b) return;
  weft__buf_free(&b->buf);
  free(b);
}

const weft_value *weft__batch_items(const weft_value *v) {
  if (weft_value_type(v) != WEFT_MAP || weft_value_len(v) != 1) return NULL;
  const weft_value *items = weft_value_map_get(v, BATCH_KEY, sizeof(BATCH_KEY) - 1);
  return items && weft_value_type(items) == WEFT_ARRAY ? items : NULL;
}
