/*
 * permessage-deflate (RFC 7692): negotiation and the zlib streams.
 *
 * A server always answers with server_no_context_takeover and
 * client_no_context_takeover, so every message is compressed and inflated
 * with a fresh context. That lets one set of streams serve every connection
 * on a listener (one per window size a client asked for), where keeping the
 * context would cost each connection its own window per direction. A client
 * takes what the server answers: its inflater keeps the server's context
 * when the server did not give it up; it compresses each message afresh
 * (always allowed) within the window the server allows.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/common.h"
#include "codec.h"
#include "weft/weft.h"

/* Level 1, measured on generated chat-style JSON with a fresh context per
 * message: up to 1 KB both levels cost the same (~3-10 us, mostly fixed
 * per-message work) and differ by < 6% in size; at 10 KB level 1 takes
 * 70 us against 148 us for the default (6) and yields 0.29 against 0.25 of
 * the input; at 100 KB 0.74 ms against 2.6 ms, 0.27 against 0.21. The CPU
 * saved matters more to a busy server than the bytes. */
#define PMD_LEVEL 1
#define PMD_MEM_LEVEL 8
#define PMD_WINDOW_BITS 15

/* zlib counts in uInt; longer inputs are fed in pieces of this size. */
#define PMD_CHUNK ((size_t)1 << 30)

/* Each stream is set up on first use: an idle listener, or a client that
 * never sends a long message, holds no zlib memory. */
struct weft__pmd {
  z_stream def;
  z_stream inf;
  uint8_t def_ready, inf_ready;
  uint8_t bits;     /* the deflate window, 9..15 */
  uint8_t takeover; /* the inflater keeps the peer's context */
};

/* ---- negotiation -------------------------------------------------------- */

static int is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const char *skip_ows(const char *p) {
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static size_t token_len(const char *p) {
  size_t n = 0;
  while (is_tchar(p[n]))
    n++;
  return n;
}

/* Skips to the ',' ending the current offer (or the end), honouring quotes
 * so a comma inside a quoted value does not start a new offer. */
static const char *skip_offer(const char *p) {
  int quoted = 0;
  for (; *p; p++) {
    if (quoted) {
      if (*p == '\\' && p[1])
        p++;
      else if (*p == '"')
        quoted = 0;
    } else if (*p == '"') {
      quoted = 1;
    } else if (*p == ',') {
      break;
    }
  }
  return p;
}

/* "8".."15" without leading zeros (RFC 7692 7.1.2.1). */
static int window_bits(const char *v, size_t n) {
  if (n == 1 && (v[0] == '8' || v[0] == '9')) return v[0] - '0';
  if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return -1;
}

enum {
  P_SNCT = 1, /* server_no_context_takeover */
  P_CNCT = 2, /* client_no_context_takeover */
  P_SMWB = 4, /* server_max_window_bits */
  P_CMWB = 8  /* client_max_window_bits */
};

static int name_is(const char *p, size_t n, const char *lit) {
  return strlen(lit) == n && weft__strncaseeq(p, lit, n);
}

/* One element of a Sec-WebSocket-Extensions value: which P_* parameters it
 * has, the window sizes given (0: none given), and whether it is a
 * permessage-deflate element whose parameters are all known, each given
 * once, with well-formed values. */
typedef struct pmd_ext {
  int ok;
  int seen;
  int smwb, cmwb;
} pmd_ext;

/* Parses the element at *pp, leaving *pp at the ',' after it or at the
 * end. */
static void parse_ext(const char **pp, pmd_ext *e) {
  const char *p = *pp;
  size_t n = token_len(p);
  memset(e, 0, sizeof *e);
  e->ok = n > 0 && name_is(p, n, "permessage-deflate");
  p = skip_ows(p + n);
  if (n == 0) goto bad;
  while (*p == ';') {
    p = skip_ows(p + 1);
    const char *pn = p;
    size_t pl = token_len(p);
    if (pl == 0) goto bad;
    p = skip_ows(p + pl);
    char val[8];
    size_t vl = 0;
    int has_val = 0;
    if (*p == '=') {
      has_val = 1;
      p = skip_ows(p + 1);
      if (*p == '"') {
        /* quoted-string: only its unescaped content matters, and any value
         * longer than "15" is wrong anyway, so keep just the first bytes. */
        p++;
        while (*p && *p != '"') {
          if (*p == '\\') {
            p++;
            if (!*p) goto bad;
          }
          if (vl < sizeof val) val[vl] = *p;
          vl++;
          p++;
        }
        if (*p != '"') goto bad;
        p++;
      } else {
        vl = token_len(p);
        if (vl == 0) goto bad;
        memcpy(val, p, vl < sizeof val ? vl : sizeof val);
        p += vl;
      }
      p = skip_ows(p);
    }
    if (!e->ok) continue;
    int bit, wb = vl <= sizeof val ? window_bits(val, vl) : -1;
    if (name_is(pn, pl, "server_no_context_takeover")) {
      bit = P_SNCT;
      if (has_val) e->ok = 0;
    } else if (name_is(pn, pl, "client_no_context_takeover")) {
      bit = P_CNCT;
      if (has_val) e->ok = 0;
    } else if (name_is(pn, pl, "server_max_window_bits")) {
      bit = P_SMWB;
      if (!has_val || wb < 0) e->ok = 0;
      e->smwb = wb;
    } else if (name_is(pn, pl, "client_max_window_bits")) {
      bit = P_CMWB;
      if (has_val && wb < 0) e->ok = 0;
      e->cmwb = has_val ? wb : 0;
    } else {
      bit = 0;
      e->ok = 0;
    }
    if (e->seen & bit) e->ok = 0;
    e->seen |= bit;
  }
  if (*p && *p != ',') goto bad;
  *pp = p;
  return;

bad:
  e->ok = 0;
  *pp = skip_offer(p);
}

static void params_init(weft__pmd_params *p) {
  memset(p, 0, sizeof *p);
  p->server_max_window_bits = PMD_WINDOW_BITS;
  p->client_max_window_bits = PMD_WINDOW_BITS;
}

int weft__pmd_negotiate(const char *offers, weft__pmd_params *p, char *resp, size_t cap) {
  if (!p) return WEFT_EINVAL;
  params_init(p);
  if (!offers) return 0;
  const char *s = offers;
  while (*s) {
    s = skip_ows(s);
    if (*s == ',') {
      s++;
      continue;
    }
    if (!*s) break;
    pmd_ext e;
    parse_ext(&s, &e);
    if (!e.ok) continue;
    /* RFC 7692 7.1.2.1: an accepted server_max_window_bits is echoed, and
     * our compressor for that window size serves the connection;
     * client_max_window_bits is left out, so the client may use 15 bits,
     * which our 15-bit inflater reads whatever the client picks. */
    if (!resp) return WEFT_EINVAL;
    char smwb[32] = "";
    if (e.seen & P_SMWB) snprintf(smwb, sizeof smwb, "; server_max_window_bits=%d", e.smwb);
    int n = snprintf(resp, cap,
                     "permessage-deflate; server_no_context_takeover; "
                     "client_no_context_takeover%s",
                     smwb);
    if (n < 0 || (size_t)n >= cap) {
      if (cap) resp[0] = '\0';
      return WEFT_EINVAL;
    }
    p->enabled = 1;
    p->server_no_context_takeover = 1;
    p->client_no_context_takeover = 1;
    if (e.seen & P_SMWB) p->server_max_window_bits = e.smwb;
    return 0;
  }
  return 0;
}

const char weft__pmd_offer[] =
    "permessage-deflate; client_no_context_takeover; client_max_window_bits";

int weft__pmd_accept(const char *value, weft__pmd_params *p) {
  if (!p) return WEFT_EINVAL;
  params_init(p);
  if (!value) return 0;
  const char *s = skip_ows(value);
  pmd_ext e;
  parse_ext(&s, &e);
  /* One element, ours, and client_max_window_bits with its value. */
  if (!e.ok || *s || ((e.seen & P_CMWB) && !e.cmwb)) return WEFT_EPROTO;
  p->enabled = 1;
  p->server_no_context_takeover = (e.seen & P_SNCT) != 0;
  p->client_no_context_takeover = (e.seen & P_CNCT) != 0;
  if (e.seen & P_SMWB) p->server_max_window_bits = e.smwb;
  if (e.seen & P_CMWB) p->client_max_window_bits = e.cmwb;
  return 0;
}

/* ---- streams ------------------------------------------------------------ */

int weft__pmd_new(weft__pmd **out, int bits, int takeover) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  if (bits < 8 || bits > 15) return WEFT_EINVAL;
  weft__pmd *z = calloc(1, sizeof *z);
  if (!z) return WEFT_ENOMEM;
  /* zlib refuses a raw deflate window of 8 bits; 9 bits serve it: zlib
   * never looks back further than the window minus 262 bytes (250 here),
   * which a 256-byte window holds. */
  z->bits = (uint8_t)(bits < 9 ? 9 : bits);
  z->takeover = takeover != 0;
  *out = z;
  return 0;
}

int weft__pmd_window(const weft__pmd *z) { return z ? z->bits : PMD_WINDOW_BITS; }

void weft__pmd_free(weft__pmd *z) {
  if (!z) return;
  if (z->def_ready) deflateEnd(&z->def);
  if (z->inf_ready) inflateEnd(&z->inf);
  free(z);
}

int weft__pmd_deflate(weft__pmd *z, const uint8_t *p, size_t len, weft__buf *out) {
  if (!z || !out || (!p && len)) return WEFT_EINVAL;
  z_stream *s = &z->def;
  if (!z->def_ready) {
    if (deflateInit2(s, PMD_LEVEL, Z_DEFLATED, -(int)z->bits, PMD_MEM_LEVEL, Z_DEFAULT_STRATEGY) !=
        Z_OK)
      return WEFT_ENOMEM;
    z->def_ready = 1;
  } else if (deflateReset(s) != Z_OK) {
    return WEFT_EIO;
  }
  size_t start = out->len;
  /* deflateBound covers the data; the sync flush adds at most ~10 bytes. */
  uLong bound = deflateBound(s, (uLong)(len < PMD_CHUNK ? len : PMD_CHUNK)) + 16;
  size_t left = len;
  const uint8_t *in = p;
  for (;;) {
    size_t piece = left < PMD_CHUNK ? left : PMD_CHUNK;
    int last = piece == left;
    s->next_in = (Bytef *)(uintptr_t)in;
    s->avail_in = (uInt)piece;
    in += piece;
    left -= piece;
    do {
      if (out->cap - out->len < 64) {
        if (weft__buf_reserve(out, bound > 64 ? (size_t)bound : 64)) goto nomem;
      }
      size_t room = out->cap - out->len;
      if (room > UINT_MAX) room = UINT_MAX;
      s->next_out = out->data + out->len;
      s->avail_out = (uInt)room;
      int rc = deflate(s, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      out->len += room - s->avail_out;
      if (rc != Z_OK && rc != Z_BUF_ERROR) goto fail;
      /* Z_SYNC_FLUSH is complete once deflate leaves output room unused. */
    } while (s->avail_in > 0 || (last && s->avail_out == 0));
    if (last) break;
  }
  /* The flush ends with the empty stored block 00 00 ff ff, which RFC 7692
   * 7.2.1 says to strip; the receiver adds it back. */
  if (out->len - start < 4 || memcmp(out->data + out->len - 4, "\x00\x00\xff\xff", 4) != 0)
    goto fail;
  out->len -= 4;
  return 0;

nomem:
  out->len = start;
  return WEFT_ENOMEM;
fail:
  out->len = start;
  return WEFT_EIO;
}

/* After a final block the peer's next message starts a new stream that may
 * still refer to what came before: keep the window across the reset. */
static int restart(z_stream *s) {
  uint8_t *dict = malloc((size_t)1 << PMD_WINDOW_BITS);
  if (!dict) return WEFT_ENOMEM;
  uInt n = 0;
  int ok = inflateGetDictionary(s, dict, &n) == Z_OK && inflateReset(s) == Z_OK &&
           (n == 0 || inflateSetDictionary(s, dict, n) == Z_OK);
  free(dict);
  return ok ? 0 : WEFT_EPROTO;
}

int weft__pmd_inflate(weft__pmd *z, const uint8_t *p, size_t len, size_t max, weft__buf *out) {
  static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
  if (!z || !out || (!p && len)) return WEFT_EINVAL;
  /* Strictly an empty message is the byte 00 (RFC 7692 7.2.3.6); nothing at
   * all means the same and costs nothing to accept. */
  if (len == 0) return 0;
  z_stream *s = &z->inf;
  if (!z->inf_ready) {
    if (inflateInit2(s, -PMD_WINDOW_BITS) != Z_OK) return WEFT_ENOMEM;
    z->inf_ready = 1;
  } else if (!z->takeover && inflateReset(s) != Z_OK) {
    return WEFT_EIO;
  }
  size_t start = out->len, produced = 0, left = len;
  const uint8_t *in = p;
  int rc = WEFT_EPROTO, tail_fed = 0, out_full = 0;
  s->avail_in = 0;
  for (;;) {
    /* Only move on when inflate stopped for want of input: with a full
     * output buffer it may still hold bytes of a match to write. */
    if (s->avail_in == 0 && !out_full) {
      if (left > 0) {
        size_t piece = left < PMD_CHUNK ? left : PMD_CHUNK;
        s->next_in = (Bytef *)(uintptr_t)in;
        s->avail_in = (uInt)piece;
        in += piece;
        left -= piece;
      } else if (!tail_fed) {
        /* RFC 7692 7.2.2: the sender stripped this empty stored block. */
        s->next_in = (Bytef *)(uintptr_t)tail;
        s->avail_in = sizeof tail;
        tail_fed = 1;
      } else {
        /* zlib sets 128 in data_type when it waits for a block header: data
         * ending anywhere else was cut short. */
        if (!(s->data_type & 128)) goto fail;
        break;
      }
    }
    /* Never offer room past max+1 bytes, so a bomb stops there instead of
     * expanding into memory; grow geometrically below that. */
    size_t limit = max - produced < SIZE_MAX ? max - produced + 1 : SIZE_MAX;
    size_t room = out->cap - out->len;
    if (room < limit && room < 1024) {
      size_t grow = produced > 4096 ? produced : 4096;
      if (weft__buf_reserve(out, grow < limit ? grow : limit)) {
        rc = WEFT_ENOMEM;
        goto fail;
      }
      room = out->cap - out->len;
    }
    if (room > limit) room = limit;
    if (room > UINT_MAX) room = UINT_MAX;
    s->next_out = out->data + out->len;
    s->avail_out = (uInt)room;
    uInt in_before = s->avail_in;
    int zr = inflate(s, Z_SYNC_FLUSH);
    size_t got = room - s->avail_out;
    out->len += got;
    produced += got;
    out_full = s->avail_out == 0;
    if (produced > max) {
      rc = WEFT_ETOOBIG;
      goto fail;
    }
    if (zr == Z_STREAM_END) { /* a final block (BFINAL) ends the message */
      if (z->takeover && (rc = restart(s)) != 0) goto fail;
      break;
    }
    if (zr == Z_MEM_ERROR) {
      rc = WEFT_ENOMEM;
      goto fail;
    }
    if (zr != Z_OK && zr != Z_BUF_ERROR) goto fail;
    /* zlib promises progress when it has both input and room; never spin. */
    if (got == 0 && in_before > 0 && s->avail_in == in_before && !out_full) goto fail;
  }
  return 0;

fail:
  out->len = start;
  return rc;
}
