/*
 * fast-tcp's frame parser against arbitrary bytes. The first input byte
 * picks the maximum frame size and the chunking seed; the rest is the
 * stream, fed whole and then in random chunks the way a connection keeps
 * unconsumed bytes: both runs must see the same messages and the same
 * error. Every frame parsed is written back and must parse to the same
 * message (and, for frames as fast-tcp writes them, the same bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "transport/fasttcp/codec.h"
#include "weft/weft.h"

typedef struct outcome {
  uint64_t hash;
  unsigned msgs;
  long err;
} outcome;

static void mix(outcome *o, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    o->hash = (o->hash ^ b[i]) * UINT64_C(1099511628211);
}

static void check_msg(outcome *o, const uint8_t *frame, size_t size, const weft__ft_msg *m) {
  if (m->dt < WEFT__FT_DT_STRING || m->dt > WEFT__FT_DT_EMPTY || m->mt > WEFT__FT_MT_LAST) abort();
  o->msgs++;
  mix(o, frame, size);
  weft__buf out = {0};
  if (weft__ft_write(&out, m) != 0) abort();
  weft__ft_msg r;
  if (weft__ft_parse(out.data, out.len, out.len, &r, NULL, NULL) != (long)out.len) abort();
  if (r.dt != m->dt || r.mt != m->mt || r.id != m->id || r.event_len != m->event_len ||
      memcmp(r.event, m->event, m->event_len) != 0 || r.i != m->i || r.b != m->b)
    abort();
  if (m->dt == WEFT__FT_DT_DECIMAL && memcmp(&r.d, &m->d, sizeof r.d) != 0) abort();
  int exact = m->dt != WEFT__FT_DT_INTEGER || m->data_len == 6;
  if (m->dt == WEFT__FT_DT_BOOLEAN) exact = m->data[0] <= 1;
  if (exact && (out.len != size || memcmp(out.data, frame, size) != 0)) abort();
  weft__buf_free(&out);
}

static void run(const uint8_t *data, size_t size, size_t max, uint32_t seed, outcome *o) {
  memset(o, 0, sizeof *o);
  o->hash = UINT64_C(14695981039346656037);
  uint8_t *buf = malloc(size ? size : 1);
  size_t have = 0, off = 0;
  uint32_t s = seed | 1;
  while (off < size && !o->err) {
    size_t chunk = fuzz_chunk(&s, seed != 0, size - off);
    memcpy(buf + have, data + off, chunk);
    have += chunk;
    off += chunk;
    for (;;) {
      weft__ft_msg m;
      size_t need = 0;
      const char *why = NULL;
      long rc = weft__ft_parse(buf, have, max, &m, &need, &why);
      if (rc < 0) {
        if (!why || (rc != WEFT_EPROTO && rc != WEFT_EUTF8 && rc != WEFT_ETOOBIG)) abort();
        o->err = rc;
        break;
      }
      if (rc == 0) {
        if (need <= have || need > max) abort();
        break;
      }
      if ((size_t)rc > have || (size_t)rc > max) abort();
      check_msg(o, buf, (size_t)rc, &m);
      memmove(buf, buf + rc, have - (size_t)rc);
      have -= (size_t)rc;
    }
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t cfg = data[0];
  size_t max = (cfg & 1) ? (size_t)(cfg >> 1) * 4 + 18 : (size_t)1 << 20;
  uint32_t seed = (uint32_t)cfg << 8 | 0x5a;
  outcome whole, split;
  run(data + 1, size - 1, max, 0, &whole);
  run(data + 1, size - 1, max, seed, &split);
  if (whole.err != split.err || whole.msgs != split.msgs || whole.hash != split.hash) abort();
  return 0;
}
