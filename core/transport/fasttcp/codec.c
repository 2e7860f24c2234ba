/* fast-tcp's frames (codec.h): a bounded parser and a writer, no I/O. */
#include "codec.h"

#include <string.h>

#include "base/utf8.h"
#include "weft/weft.h"

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static long fail(const char **why, const char *what, long code) {
  if (why) *why = what;
  return code;
}

/* Node's readIntLE: n bytes, two's complement. */
static int64_t int_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  uint64_t sign = UINT64_C(1) << (8 * n - 1);
  return (int64_t)((v ^ sign) - sign);
}

static long scalar(weft__ft_msg *m, const char **why) {
  const uint8_t *p = m->data;
  size_t n = m->data_len;
  switch (m->dt) {
  case WEFT__FT_DT_STRING:
    if (!weft__utf8_valid(p, n)) return fail(why, "string data is not UTF-8", WEFT_EUTF8);
    return 0;
  case WEFT__FT_DT_BINARY:
  case WEFT__FT_DT_OBJECT: return 0;
  case WEFT__FT_DT_INTEGER:
    if (n < 1 || n > 6) return fail(why, "integer data of a bad size", WEFT_EPROTO);
    m->i = int_le(p, n);
    return 0;
  case WEFT__FT_DT_DECIMAL: {
    if (n != 8) return fail(why, "double data of a bad size", WEFT_EPROTO);
    uint64_t bits = (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
    memcpy(&m->d, &bits, sizeof bits);
    return 0;
  }
  case WEFT__FT_DT_BOOLEAN:
    if (n != 1) return fail(why, "boolean data of a bad size", WEFT_EPROTO);
    m->b = p[0] != 0;
    return 0;
  case WEFT__FT_DT_EMPTY:
    if (n != 0) return fail(why, "empty data with bytes", WEFT_EPROTO);
    return 0;
  default: return fail(why, "unknown data type", WEFT_EPROTO);
  }
}

long weft__ft_parse(const uint8_t *buf, size_t len, size_t max, weft__ft_msg *m, size_t *need,
                    const char **why) {
  if (!buf || !m) return fail(why, "no buffer", WEFT_EINVAL);
  if (need) *need = WEFT__FT_PREFIX;
  if (len < WEFT__FT_PREFIX) return 0;
  uint64_t size = (uint64_t)rd32(buf) + WEFT__FT_PREFIX;
  if (size > max) return fail(why, "message larger than the maximum length", WEFT_ETOOBIG);
  if (size < WEFT__FT_PREFIX + WEFT__FT_FIXED) return fail(why, "message too short", WEFT_EPROTO);
  if (need) *need = (size_t)size;
  if (len < size) return 0;
  const uint8_t *p = buf + WEFT__FT_PREFIX;
  if (p[0] != WEFT__FT_VERSION) return fail(why, "serializer version mismatch", WEFT_EPROTO);
  memset(m, 0, sizeof *m);
  m->flags = p[1];
  m->dt = p[2];
  m->mt = p[3];
  if (m->dt < WEFT__FT_DT_STRING || m->dt > WEFT__FT_DT_EMPTY)
    return fail(why, "unknown data type", WEFT_EPROTO);
  if (m->mt > WEFT__FT_MT_LAST) return fail(why, "unknown message type", WEFT_EPROTO);
  m->id = rd32(p + 4);
  size_t body = (size_t)size - WEFT__FT_PREFIX - WEFT__FT_FIXED; /* event + data */
  m->event_len = (size_t)p[8] | (size_t)p[9] << 8;
  if (m->event_len > body) return fail(why, "event longer than the message", WEFT_EPROTO);
  m->event = (const char *)(p + 10);
  const uint8_t *dl = p + 10 + m->event_len;
  m->data_len = rd32(dl);
  if (m->data_len != body - m->event_len)
    return fail(why, "data length does not match the message", WEFT_EPROTO);
  m->data = dl + 4;
  if (!weft__utf8_valid((const uint8_t *)m->event, m->event_len))
    return fail(why, "event name is not UTF-8", WEFT_EUTF8);
  long rc = scalar(m, why);
  return rc ? rc : (long)size;
}

/* The data bytes of a scalar, written into tmp; NULL for other types. */
static size_t scalar_bytes(const weft__ft_msg *m, uint8_t tmp[8], const uint8_t **data) {
  switch (m->dt) {
  case WEFT__FT_DT_INTEGER: {
    uint64_t v = (uint64_t)m->i;
    for (int i = 0; i < 6; i++)
      tmp[i] = (uint8_t)(v >> (8 * i));
    *data = tmp;
    return 6;
  }
  case WEFT__FT_DT_DECIMAL: {
    uint64_t bits;
    memcpy(&bits, &m->d, sizeof bits);
    wr32(tmp, (uint32_t)bits);
    wr32(tmp + 4, (uint32_t)(bits >> 32));
    *data = tmp;
    return 8;
  }
  case WEFT__FT_DT_BOOLEAN:
    tmp[0] = m->b ? 1 : 0;
    *data = tmp;
    return 1;
  case WEFT__FT_DT_EMPTY: *data = tmp; return 0;
  default: *data = m->data; return m->data_len;
  }
}

size_t weft__ft_frame_size(const weft__ft_msg *m) {
  if (!m || m->event_len > WEFT__FT_EVENT_MAX) return 0;
  uint8_t tmp[8];
  const uint8_t *d;
  size_t dlen = scalar_bytes(m, tmp, &d);
  uint64_t body = (uint64_t)WEFT__FT_FIXED + m->event_len + dlen;
  if (dlen > UINT32_MAX || body > UINT32_MAX) return 0;
  return (size_t)body + WEFT__FT_PREFIX;
}

int weft__ft_write(weft__buf *out, const weft__ft_msg *m) {
  if (!out || !m || m->dt < WEFT__FT_DT_STRING || m->dt > WEFT__FT_DT_EMPTY ||
      m->mt > WEFT__FT_MT_LAST || (m->event_len && !m->event))
    return WEFT_EINVAL;
  if (m->dt == WEFT__FT_DT_INTEGER && (m->i < WEFT__FT_INT_MIN || m->i > WEFT__FT_INT_MAX))
    return WEFT_ERANGE;
  uint8_t tmp[8];
  const uint8_t *d;
  size_t dlen = scalar_bytes(m, tmp, &d);
  if (dlen && !d) return WEFT_EINVAL;
  size_t size = weft__ft_frame_size(m);
  if (!size) return WEFT_ETOOBIG;
  if (weft__buf_reserve(out, size)) return WEFT_ENOMEM;
  uint8_t *p = out->data + out->len;
  wr32(p, (uint32_t)(size - WEFT__FT_PREFIX));
  p[4] = WEFT__FT_VERSION;
  p[5] = m->flags;
  p[6] = m->dt;
  p[7] = m->mt;
  wr32(p + 8, m->id);
  p[12] = (uint8_t)m->event_len;
  p[13] = (uint8_t)(m->event_len >> 8);
  if (m->event_len) memcpy(p + 14, m->event, m->event_len);
  wr32(p + 14 + m->event_len, (uint32_t)dlen);
  if (dlen) memcpy(p + 18 + m->event_len, d, dlen);
  out->len += size;
  return 0;
}
