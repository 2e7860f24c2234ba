/* Server-to-client frame walking for the bench load generators: server frames
 * are unmasked, so a frame is a header and a length. Header-only. */
#ifndef WEFT_BENCH_WS_FRAMES_H
#define WEFT_BENCH_WS_FRAMES_H

#include <stddef.h>
#include <stdint.h>

/* Size of the whole frame at p (header + payload) when all of it is in
 * p[0..avail), else 0; op, payload and plen then describe it. */
static inline size_t ws_frame(const uint8_t *p, size_t avail, int *op, const uint8_t **payload,
                              uint64_t *plen) {
  if (avail < 2) return 0;
  uint64_t len = p[1] & 0x7f;
  size_t h = 2;
  if (len == 126) {
    if (avail < 4) return 0;
    len = ((uint64_t)p[2] << 8) | p[3];
    h = 4;
  } else if (len == 127) {
    if (avail < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; i++)
      len = (len << 8) | p[2 + i];
    h = 10;
  }
  if (avail - h < len) return 0;
  *op = p[0] & 0x0f;
  *payload = p + h;
  *plen = len;
  return h + (size_t)len;
}

#endif
