/*
 * The frame reader against arbitrary bytes. The first three input bytes pick
 * the settings (server or client side, permessage-deflate with a fresh
 * context per message or with the peer's context kept, a small max_length,
 * callbacks that stop) and the chunking seed; the rest is the stream. It is
 * fed twice, whole and in random chunks the way a connection keeps
 * unconsumed bytes, and both runs must report the same events.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "transport/ws/codec.h"
#include "weft/weft.h"

typedef struct log {
  uint64_t hash;
  unsigned events;
  unsigned stop_mod; /* 0: never stop */
  int closed;
} log_t;

static void mix(log_t *l, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    l->hash = (l->hash ^ b[i]) * UINT64_C(1099511628211);
}

static void mix_int(log_t *l, uint64_t v) { mix(l, &v, sizeof v); }

/* An independent UTF-8 check for what the reader calls text. */
static int ref_utf8(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    uint32_t cp;
    size_t k;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      k = 1;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      k = 2;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      k = 3;
    } else {
      return 0;
    }
    if (n - i < k + 1) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i + j] & 0x3f);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000)) return 0;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += k + 1;
  }
  return 1;
}

static int stop_now(log_t *l) { return l->stop_mod && l->events % l->stop_mod == 0; }

static int on_msg(void *ctx, int binary, uint8_t *data, size_t len) {
  log_t *l = ctx;
  if (!data) abort();
  if (!binary && !ref_utf8(data, len)) abort();
  l->events++;
  mix_int(l, 1);
  mix_int(l, (uint64_t)binary);
  mix_int(l, len);
  mix(l, data, len);
  return stop_now(l);
}

static int on_ping(void *ctx, uint8_t *data, size_t len) {
  log_t *l = ctx;
  if (len > 125) abort();
  l->events++;
  mix_int(l, 2);
  mix(l, data, len);
  return stop_now(l);
}

static int on_pong(void *ctx, uint8_t *data, size_t len) {
  log_t *l = ctx;
  if (len > 125) abort();
  l->events++;
  mix_int(l, 3);
  mix(l, data, len);
  return stop_now(l);
}

static int on_close(void *ctx, int code, const char *reason, size_t len) {
  log_t *l = ctx;
  if (len > 123) abort();
  if (code != WEFT__CLOSE_NO_STATUS && !weft__ws_close_code_valid(code)) abort();
  if (!ref_utf8((const uint8_t *)reason, len)) abort();
  l->events++;
  l->closed = 1;
  mix_int(l, 4);
  mix_int(l, (uint64_t)code);
  mix(l, reason, len);
  return 0;
}

static const weft__ws_reader_cbs cbs = {on_msg, on_ping, on_pong, on_close};

typedef struct outcome {
  log_t log;
  long err;
  int close_code;
  size_t left;
} outcome;

/* chunk_seed 0 feeds everything at once. */
static void run(const uint8_t *data, size_t size, int server, weft__pmd *pmd, uint64_t max,
                unsigned stop_mod, uint32_t chunk_seed, outcome *o) {
  memset(o, 0, sizeof *o);
  o->log.hash = UINT64_C(14695981039346656037);
  o->log.stop_mod = stop_mod;
  weft__ws_reader r;
  weft__ws_reader_init(&r, server, max);
  if (pmd) {
    r.allow_rsv1 = 1;
    r.pmd = pmd;
  }
  uint8_t *buf = malloc(size ? size : 1);
  size_t have = 0, off = 0;
  uint32_t s = chunk_seed | 1;
  while (off < size) {
    size_t chunk = fuzz_chunk(&s, chunk_seed != 0, size - off);
    memcpy(buf + have, data + off, chunk);
    have += chunk;
    off += chunk;
    long rc;
    do {
      rc = weft__ws_reader_feed(&r, buf, have, &cbs, &o->log);
      if (rc < 0) break;
      if ((size_t)rc > have) abort();
      memmove(buf, buf + rc, have - (size_t)rc);
      have -= (size_t)rc;
      if (r.need && r.need <= have) abort();
    } while (rc > 0 && have > 0 && !o->log.closed);
    if (rc < 0) {
      o->err = rc;
      o->close_code = r.close_code;
      if (rc != WEFT_EPROTO && rc != WEFT_EUTF8 && rc != WEFT_ETOOBIG && rc != WEFT_ENOMEM) abort();
      if (weft__ws_reader_feed(&r, buf, have, &cbs, &o->log) != rc) abort();
      break;
    }
    if (o->log.closed) break;
  }
  o->left = have;
  free(buf);
  weft__ws_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static weft__pmd *pmd;
  if (!pmd && weft__pmd_new(&pmd, 15, 0)) abort();
  if (size < 3) return 0;
  uint8_t cfg = data[0];
  int server = cfg & 1;
  int use_pmd = (cfg >> 1) & 1;
  int takeover = (cfg >> 6) & 1;
  uint64_t max = (cfg & 4) ? (uint64_t)data[1] * 3 : (cfg & 8) ? 70000 : 1 << 20;
  unsigned stop_mod = (cfg >> 4) & 3;
  uint32_t seed = (uint32_t)data[2] << 8 | 0x5a;
  data += 3;
  size -= 3;

  outcome whole, split;
  /* A takeover inflater carries context from run to run: each gets its own. */
  weft__pmd *kept[2] = {NULL, NULL};
  if (use_pmd && takeover && (weft__pmd_new(&kept[0], 15, 1) || weft__pmd_new(&kept[1], 15, 1)))
    abort();
  run(data, size, server, !use_pmd ? NULL : takeover ? kept[0] : pmd, max, stop_mod, 0, &whole);
  run(data, size, server, !use_pmd ? NULL : takeover ? kept[1] : pmd, max, stop_mod, seed, &split);
  weft__pmd_free(kept[0]);
  weft__pmd_free(kept[1]);
  if (whole.err != split.err || whole.close_code != split.close_code ||
      whole.log.events != split.log.events || whole.log.hash != split.log.hash)
    abort();
  /* Unless the stream ended early, both runs leave the same partial frame. */
  if (!whole.err && !whole.log.closed && whole.left != split.left) abort();
  if (whole.err && !whole.close_code) abort();
  return 0;
}
