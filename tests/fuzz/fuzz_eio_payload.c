/*
 * engine.io's payload decoder (transport/engineio/packet.c): the input is a
 * polling payload (packets joined by U+001E). Every packet decoded lies
 * inside the input and has a known type; a payload that decodes whole is
 * encoded again (messages as text, binary as "b<base64>", the rest as
 * they came) and decodes to the same packets. The first packet alone goes
 * through the WebSocket decoder too. Any crash, sanitizer report or abort
 * is a finding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "transport/engineio/eio.h"

#define MAX_PACKETS 256

static int known(char type) {
  return (type >= WEFT__EIO_OPEN && type <= WEFT__EIO_NOOP) || type == WEFT__EIO_BINARY;
}

/* Decodes buf[0..len) (in place): the packets, or -1 at the first error. */
static int decode_all(uint8_t *buf, size_t len, weft__eio_packet *pk, size_t *n) {
  size_t at = 0;
  int rc;
  *n = 0;
  while ((rc = weft__eio_payload_next(buf, len, &at, &pk[*n])) == 1) {
    const weft__eio_packet *p = &pk[*n];
    if (!known(p->type)) abort();
    if (p->data < buf || p->data + p->len > buf + len) abort();
    if (++*n == MAX_PACKETS) return -1;
  }
  if (rc != 0 && rc != WEFT_EPROTO && rc != WEFT_EUTF8) abort();
  return rc == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  uint8_t *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  static weft__eio_packet pk[MAX_PACKETS], again[MAX_PACKETS];
  size_t n = 0, m = 0;
  if (decode_all(buf, size, pk, &n) == 0) {
    /* Encode the packets again, then decode that. */
    weft__payload *q[MAX_PACKETS];
    for (size_t i = 0; i < n; i++) {
      if (pk[i].type == WEFT__EIO_MESSAGE) {
        q[i] = weft__payload_new(WEFT__P_TEXT, pk[i].data, pk[i].len);
      } else if (pk[i].type == WEFT__EIO_BINARY) {
        q[i] = weft__payload_new(WEFT__P_BINARY, pk[i].data, pk[i].len);
      } else {
        q[i] = weft__payload_new(WEFT__P_RAW, NULL, pk[i].len + 1);
        if (q[i]) {
          q[i]->data[0] = (uint8_t)pk[i].type;
          memcpy(q[i]->data + 1, pk[i].data, pk[i].len);
        }
      }
      if (!q[i]) abort();
    }
    size_t total = n ? n - 1 : 0;
    for (size_t i = 0; i < n; i++)
      total += weft__eio_packet_len(q[i]);
    uint8_t *out = malloc(total + 1);
    if (!out) abort();
    weft__eio_payload_fill(out, q, n);
    if (decode_all(out, total, again, &m) != 0 || m != n) abort();
    for (size_t i = 0; i < n; i++) {
      if (again[i].type != pk[i].type || again[i].len != pk[i].len) abort();
      if (pk[i].len && memcmp(again[i].data, pk[i].data, pk[i].len) != 0) abort();
      weft__payload_release(q[i]);
    }
    free(out);
  }
  /* One packet as a WebSocket message carries it (text, then binary). */
  memcpy(buf, data, size);
  weft__eio_packet one;
  int rc = weft__eio_packet_decode(0, buf, size, &one);
  if (rc != 0 && rc != WEFT_EPROTO) abort();
  if (rc == 0 && (!known(one.type) || one.data + one.len > buf + size)) abort();
  if (weft__eio_packet_decode(1, buf, size, &one) != 0 || one.len != size) abort();
  /* base64 of the input decodes back to it. */
  uint8_t *b64 = malloc(weft__b64_len(size) + 1);
  if (!b64) abort();
  weft__b64_encode(b64, data, size);
  long back = weft__eio_b64_decode(b64, weft__b64_len(size));
  if (back != (long)size || (size && memcmp(b64, data, size) != 0)) abort();
  free(b64);
  free(buf);
  return 0;
}
