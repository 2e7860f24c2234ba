/*
 * The httpstream client's event-stream reader (transport/vibe/sse.c)
 * against arbitrary bytes: fed whole and then in random reads (chunks.h),
 * both runs must hand over the same messages and end the same way; no
 * message holds a '\r' (every line ending became '\n'). The first input
 * byte picks the maximum and the chunking seed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "transport/vibe/vibe.h"

typedef struct outcome {
  uint64_t hash;
  unsigned msgs;
} outcome;

static int on_msg(void *user, uint8_t *text, size_t len) {
  outcome *o = user;
  if (memchr(text, '\r', len)) abort();
  o->msgs++;
  for (size_t i = 0; i < len; i++)
    o->hash = (o->hash ^ text[i]) * UINT64_C(1099511628211);
  o->hash = (o->hash ^ 0x100) * UINT64_C(1099511628211); /* the message's end */
  return 0;
}

static int run(const uint8_t *p, size_t n, size_t max, uint32_t seed, int seeded, outcome *o) {
  weft__sse r = {0};
  int rc = 0;
  for (size_t off = 0; off < n && rc == 0;) {
    size_t c = fuzz_chunk(&seed, seeded, n - off);
    rc = weft__sse_feed(&r, p + off, c, max, on_msg, o);
    off += c;
  }
  weft__sse_free(&r);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max = (size_t)64 << (data[0] & 7);
  uint32_t seed = (uint32_t)data[0] * 2654435761u | 1;
  outcome whole = {0}, split = {0};
  int a = run(data + 1, size - 1, max, seed, 0, &whole);
  int b = run(data + 1, size - 1, max, seed, 1, &split);
  /* Too big can come sooner in pieces (a message waits whole in one read
   * only when it ends in it): compare what both saw up to an error. */
  if (a == 0 && b == 0 && (whole.hash != split.hash || whole.msgs != split.msgs)) abort();
  return 0;
}
