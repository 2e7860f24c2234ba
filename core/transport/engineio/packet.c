/*
 * The Engine.IO v4 wire with no I/O: a packet is a type character and its
 * data ("4hello", "2", "b<base64>"); a polling payload joins packets with
 * U+001E; a WebSocket message carries one packet, and a binary message is
 * a binary message with no type. The fuzz target feeds it directly.
 */
#include <string.h>

#include "base/common.h"
#include "base/utf8.h"
#include "eio.h"

const char *weft__eio_error_text(int code) {
  switch (code) {
  case WEFT__EIO_E_TRANSPORT: return "Transport unknown";
  case WEFT__EIO_E_SID: return "Session ID unknown";
  case WEFT__EIO_E_METHOD: return "Bad handshake method";
  case WEFT__EIO_E_FORBIDDEN: return "Forbidden";
  case WEFT__EIO_E_VERSION: return "Unsupported protocol version";
  default: return "Bad request";
  }
}

/* ---- base64 in (RFC 4648, padding optional; out: base/str.c) ---- */

static int b64val(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62; /* the URL-safe alphabet too, as Node's decoder */
  if (c == '/' || c == '_') return 63;
  return -1;
}

long weft__eio_b64_decode(uint8_t *buf, size_t len) {
  while (len && buf[len - 1] == '=')
    len--;
  if (len % 4 == 1) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64val(buf[i]);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    if (i % 4 == 3) { /* the writes stay behind the reads: o <= i */
      buf[o++] = (uint8_t)(acc >> 16);
      buf[o++] = (uint8_t)(acc >> 8);
      buf[o++] = (uint8_t)acc;
      acc = 0;
    }
  }
  if (len % 4 == 2) buf[o++] = (uint8_t)(acc >> 4);
  if (len % 4 == 3) {
    buf[o++] = (uint8_t)(acc >> 10);
    buf[o++] = (uint8_t)(acc >> 2);
  }
  return (long)o;
}

/* ---- packets in ---- */

/* One packet's bytes (no separator inside). */
static int decode_one(uint8_t *data, size_t len, weft__eio_packet *pk) {
  if (len == 0) return WEFT_EPROTO;
  pk->type = (char)data[0];
  pk->data = data + 1;
  pk->len = len - 1;
  if (pk->type == WEFT__EIO_BINARY) {
    long n = weft__eio_b64_decode(pk->data, pk->len);
    if (n < 0) return WEFT_EPROTO;
    pk->len = (size_t)n;
    return 0;
  }
  if (pk->type < WEFT__EIO_OPEN || pk->type > WEFT__EIO_NOOP) return WEFT_EPROTO;
  return weft__utf8_valid(pk->data, pk->len) ? 0 : WEFT_EUTF8;
}

int weft__eio_payload_next(uint8_t *buf, size_t len, size_t *at, weft__eio_packet *pk) {
  if (*at > len) return 0; /* at == len: an empty packet (an empty payload, a trailing separator) */
  uint8_t *start = buf + *at;
  uint8_t *sep = memchr(start, WEFT__EIO_SEP, len - *at);
  size_t n = sep ? (size_t)(sep - start) : len - *at;
  *at += n + 1; /* past the separator; past the end on the last packet */
  int rc = decode_one(start, n, pk);
  return rc ? rc : 1;
}

int weft__eio_packet_decode(int binary, uint8_t *data, size_t len, weft__eio_packet *pk) {
  if (binary) {
    pk->type = WEFT__EIO_BINARY;
    pk->data = data;
    pk->len = len;
    return 0;
  }
  int rc = decode_one(data, len, pk);
  return rc == WEFT_EUTF8 ? 0 : rc; /* the frame's UTF-8 was checked already */
}

/* ---- payloads out ---- */

size_t weft__eio_packet_len(const weft__payload *p) {
  if (p->kind == WEFT__P_RAW) return p->len;
  if (p->kind == WEFT__P_BINARY) return 1 + weft__b64_len(p->len);
  return 1 + p->len;
}

void weft__eio_payload_fill(uint8_t *dst, weft__payload *const *q, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const weft__payload *p = q[i];
    if (i) *dst++ = WEFT__EIO_SEP;
    if (p->kind == WEFT__P_RAW) {
      memcpy(dst, p->data, p->len);
      dst += p->len;
    } else if (p->kind == WEFT__P_BINARY) {
      *dst++ = WEFT__EIO_BINARY;
      weft__b64_encode(dst, p->data, p->len);
      dst += weft__b64_len(p->len);
    } else {
      *dst++ = WEFT__EIO_MESSAGE;
      memcpy(dst, p->data, p->len);
      dst += p->len;
    }
  }
}
