/*
 * HTTP/1.x head parser for the upgrade handshake (and the plain requests the
 * server answers under its path). It only needs the request line, the status
 * line and the header fields; bodies never reach it.
 *
 * Line endings: CRLF, and bare LF as well. Node's llhttp and most servers
 * accept bare LF, hand-typed requests (nc, telnet scripts) send it, and
 * accepting it cannot smuggle anything here because we never parse a body
 * or sit behind a proxy that frames differently. A CR that is not directly
 * followed by LF is rejected.
 *
 * Strictness where it matters: obs-fold (a line starting with SP/HTAB),
 * whitespace between a field name and its colon, control characters (NUL,
 * CR, LF, DEL, ...) inside fields, non-token field names and methods, and
 * anything but "HTTP/1.<digit>" are errors (WEFT_EPROTO).
 */
#include "parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/weft.h"

/* RFC 9110 tchar. */
/* clang-format off */
static const uint8_t tchar[256] = {
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
  ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
  ['8'] = 1, ['9'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
  ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
  ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
  ['Y'] = 1, ['Z'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
  ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
  ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
  ['y'] = 1, ['z'] = 1,
};
/* clang-format on */

static int is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

/* One pass finds a head's end, its lines and the bytes no line may hold;
 * the lines are then read from the caller's buffer and the strings copied
 * once into a block of their exact size. Every keep-alive request (a Vibe
 * POST, a long poll) comes through here: the bytes used to be walked eight
 * times (memchr per line for the end and NULs, a copy, memchr per line
 * again, the query, and two strlen passes to compact). */

/* LFs kept by the scan: the start line's and 65 header lines' (the 65th
 * header decides between WEFT_ETOOBIG and an earlier line's error). */
#define SCAN_LINES (WEFT__HTTP_MAX_HEADERS + 2)
#define NO_POS SIZE_MAX

typedef struct head_scan {
  size_t end;   /* just past the empty line that ends the head; 0 until it came */
  size_t bad;   /* the first control byte (tab aside), DEL or lone CR; NO_POS */
  size_t lines; /* lines before the empty one (only SCAN_LINES kept) */
  uint16_t lf[SCAN_LINES];
} head_scan;

/* The bytes of a block of 32, one bit each: LFs, CRs and the controls
 * (every byte below 0x20, and DEL). */
typedef struct masks {
  uint32_t lf, cr, ctl;
} masks;

/* Adds the 16 bytes at p to m, from bit `at`. */
#if defined(__SSE2__) && !defined(WEFT_HTTP_SCALAR)
#include <emmintrin.h>
static inline void masks16(const uint8_t *p, masks *m, unsigned at) {
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
  /* One range test for both: x ^ 0x3f takes 0x00..0x1f and DEL to
   * 0x20..0x40, and + 0x60 those to 0x80..0xa0, the signed bytes below -95. */
  __m128i c = _mm_add_epi8(_mm_xor_si128(x, _mm_set1_epi8(0x3f)), _mm_set1_epi8(0x60));
  m->lf |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n'))) << at;
  m->cr |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('\r'))) << at;
  m->ctl |= (uint32_t)_mm_movemask_epi8(_mm_cmplt_epi8(c, _mm_set1_epi8(-95))) << at;
}
/* Bit i for byte i of the 16 at p that is SP, a control or '?'. */
static inline uint32_t sp_or_query16(const uint8_t *p, uint32_t *query) {
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p), sp = _mm_set1_epi8(' ');
  *query = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('?')));
  return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, sp), sp));
}
#else
static inline void masks16(const uint8_t *p, masks *m, unsigned at) {
  for (unsigned i = 0; i < 16; i++) {
    m->lf |= (uint32_t)(p[i] == '\n') << (at + i);
    m->cr |= (uint32_t)(p[i] == '\r') << (at + i);
    m->ctl |= (uint32_t)(p[i] < 0x20 || p[i] == 0x7f) << (at + i);
  }
}
static inline uint32_t sp_or_query16(const uint8_t *p, uint32_t *query) {
  uint32_t m = 0;
  *query = 0;
  for (unsigned i = 0; i < 16; i++) {
    m |= (uint32_t)(p[i] <= 0x20) << i;
    *query |= (uint32_t)(p[i] == '?') << i;
  }
  return m;
}
#endif

static inline unsigned first_bit(uint32_t m) { return (unsigned)__builtin_ctz(m); }

static inline masks masks32(const uint8_t *p) {
  masks m = {0, 0, 0};
  masks16(p, &m, 0);
  masks16(p + 16, &m, 16);
  return m;
}

/* The masks of buf[i .. min(i + 32, to)), never reading at or past `to`:
 * a short tail is read as the 32 bytes ending at `to`, shifted down. */
static inline masks masks_at(const uint8_t *buf, size_t i, size_t to) {
  size_t rem = to - i;
  if (rem >= 32) return masks32(buf + i);
  masks m;
  if (to >= 32) {
    m = masks32(buf + to - 32);
    unsigned k = (unsigned)(32 - rem);
    m.lf >>= k;
    m.cr >>= k;
    m.ctl >>= k;
  } else { /* a head shorter than 32 bytes so far */
    uint8_t tmp[32] = {0};
    memcpy(tmp, buf + i, rem);
    m = masks32(tmp);
    uint32_t keep = (1u << rem) - 1;
    m.lf &= keep;
    m.cr &= keep;
    m.ctl &= keep;
  }
  return m;
}

/* Past the empty line right after the LF at p, or 0 when none (yet). */
static inline size_t empty_line_after(const uint8_t *buf, size_t p, size_t to) {
  if (p + 1 < to && buf[p + 1] == '\n') return p + 2;
  if (p + 2 < to && buf[p + 1] == '\r' && buf[p + 2] == '\n') return p + 3;
  return 0;
}

/* The block's LFs that an empty line follows (LF LF, LF CR LF); for the
 * last two, whose line may end in the next block, the bytes are read. */
static inline uint32_t ends_at(const masks *m, const uint8_t *buf, size_t i, size_t to) {
  uint32_t e = m->lf & ((m->lf >> 1) | ((m->cr >> 1) & (m->lf >> 2)));
  for (uint32_t edge = m->lf & 0xc0000000u; edge; edge &= edge - 1)
    if (empty_line_after(buf, i + first_bit(edge), to)) e |= edge & (0u - edge);
  return e;
}

/* Controls other than LF and the CR before one (bits of `odd`, from i):
 * tab is fine, the first other one is where the head is bad; -1 on a NUL
 * (no valid head holds one: fail now rather than wait for 8 KiB). */
static int controls(const uint8_t *buf, size_t i, uint32_t odd, size_t to, head_scan *s) {
  for (; odd; odd &= odd - 1) {
    size_t q = i + first_bit(odd);
    uint8_t c = buf[q];
    if (c == '\t' || (c == '\r' && q + 1 < to && buf[q + 1] == '\n')) continue;
    if (c == 0) return -1;
    if (s->bad == NO_POS) s->bad = q;
  }
  return 0;
}

/* Scans buf[from, to) 32 bytes at a time for the end of the head, the LF
 * of each line before it and the first bad byte; a block is a few vector
 * compares and bit operations unless it holds a control other than CR LF.
 * -1 on a NUL before the end. */
static int scan_head(const uint8_t *buf, size_t from, size_t to, head_scan *s) {
  s->end = s->lines = 0;
  s->bad = NO_POS;
  for (size_t i = from; i < to; i += 32) {
    masks m = masks_at(buf, i, to);
    /* Controls but LF and CR, and CRs not before an LF (the block's last
     * CR is looked at again: its LF may be in the next block). */
    uint32_t lf = m.lf, odd = (m.ctl & ~(m.lf | m.cr)) | (m.cr & ~(m.lf >> 1));
    uint32_t e = ends_at(&m, buf, i, to);
    if (e) {
      size_t b = i + first_bit(e);
      s->end = b + (buf[b + 1] == '\n' ? 2 : 3);
      lf &= e ^ (e - 1);                                    /* up to the last line's LF */
      if (s->end - i < 32) odd &= (1u << (s->end - i)) - 1; /* bytes after the head */
    }
    for (; lf; lf &= lf - 1) {
      if (s->lines < SCAN_LINES) s->lf[s->lines] = (uint16_t)(i + first_bit(lf));
      s->lines++;
    }
    if (odd && controls(buf, i, odd, to, s)) return -1;
    if (s->end) return 0;
  }
  return 0;
}

/* 1 when the bytes so far cannot start a head: lets garbage (TLS, binary)
 * fail on its first bytes instead of after 8 KiB. */
static int bad_start(const uint8_t *p, size_t n, int request) {
  if (!request) return memcmp(p, "HTTP/1.", n < 7 ? n : 7) != 0;
  size_t i = 0;
  while (i < n && tchar[p[i]])
    i++;
  return i < n && (i == 0 || p[i] != ' ');
}

/* A string of the head: where it is in the caller's buffer. */
typedef struct span {
  uint16_t at, len;
} span;

/* What the line pass found, for the block to be written from. */
typedef struct head_parts {
  span method, target, reason;
  uint8_t slash;     /* the target is "/" then `target` (an absolute form's) */
  uint16_t path_len; /* the target's bytes before its '?'; NONE without one */
  uint16_t n_headers;
  span name[WEFT__HTTP_MAX_HEADERS], value[WEFT__HTTP_MAX_HEADERS];
} head_parts;

static span span_of(size_t at, size_t end) { return (span){(uint16_t)at, (uint16_t)(end - at)}; }

/* Parses "HTTP/1.<digit>" at s[0..8); returns the minor version or -1. */
static int parse_version(const uint8_t *s) {
  if (memcmp(s, "HTTP/1.", 7) != 0) return -1;
  if (s[7] < '0' || s[7] > '9') return -1;
  return s[7] - '0';
}

/* 1 when no byte of buf[t, te) is SP or a control (the scan has already
 * refused DEL); *q is the first '?' or NO_POS. Reads nothing at or past
 * `len`. */
static int target_ok(const uint8_t *buf, size_t t, size_t te, size_t len, size_t *q) {
  *q = NO_POS;
  size_t i = t;
  for (; i < te; i += 16) {
    uint32_t qm, m;
    if (i + 16 <= len) {
      m = sp_or_query16(buf + i, &qm);
      if (te - i < 16) {
        m &= (1u << (te - i)) - 1;
        qm &= (1u << (te - i)) - 1;
      }
    } else { /* the last few bytes of the buffer */
      for (; i < te; i++) {
        if (buf[i] <= 0x20) return 0;
        if (buf[i] == '?' && *q == NO_POS) *q = i;
      }
      return 1;
    }
    if (m) return 0;
    if (qm && *q == NO_POS) *q = i + first_bit(qm);
  }
  return 1;
}

/* The origin form of a request target (RFC 9112 3.2): an absolute-form
 * target ("http://host:port/path?q", which a server must accept) becomes
 * its path and query ("/" in front when it has no path); others are left
 * as they are. */
static void origin_form(const uint8_t *buf, size_t t, size_t te, head_parts *o) {
  size_t n = te - t;
  const char *s = (const char *)buf + t;
  /* Most targets start with '/': one byte tells. */
  size_t skip = (s[0] | 0x20) != 'h'                           ? 0
                : n >= 7 && strncasecmp(s, "http://", 7) == 0  ? 7
                : n >= 8 && strncasecmp(s, "https://", 8) == 0 ? 8
                                                               : 0;
  o->target = span_of(t, te);
  if (!skip) return;
  size_t r = t + skip;
  while (r < te && buf[r] != '/' && buf[r] != '?')
    r++;
  if (r < te && buf[r] == '/') {
    o->target = span_of(r, te);
  } else if (r < te && r > t + skip) { /* "http://h?q": the path is "/" */
    o->target = span_of(r, te);
    o->slash = 1;
  } else if (r == te) { /* "http://h": the path is "/" */
    o->target = span_of(te, te);
    o->slash = 1;
  }
}

/* The end of the token at buf[i]: its first non-tchar byte. Unbounded, as
 * every line ends in CR or LF, and unrolled: field names are a good part
 * of a request's bytes. */
static size_t token_end(const uint8_t *buf, size_t i) {
  for (;; i += 4) {
    if (!tchar[buf[i]]) return i;
    if (!tchar[buf[i + 1]]) return i + 1;
    if (!tchar[buf[i + 2]]) return i + 2;
    if (!tchar[buf[i + 3]]) return i + 3;
  }
}

/* The request line buf[s, e): method SP target SP "HTTP/1.<digit>". */
static int request_line(const uint8_t *buf, size_t s, size_t e, size_t len, head_parts *o,
                        weft__http_head *h) {
  size_t i = token_end(buf, s);
  if (i == s || i >= e || buf[i] != ' ') return WEFT_EPROTO;
  o->method = span_of(s, i);
  size_t t = i + 1, q;
  /* The target runs to the SP before the version: the only SP after it. */
  if (e < t + 10 || buf[e - 9] != ' ' || !target_ok(buf, t, e - 9, len, &q)) return WEFT_EPROTO;
  h->version_minor = (int16_t)parse_version(buf + e - 8);
  if (h->version_minor < 0) return WEFT_EPROTO;
  origin_form(buf, t, e - 9, o);
  o->path_len = q == NO_POS ? WEFT__HTTP_NONE : (uint16_t)(o->slash + q - o->target.at);
  return 0;
}

static int status_line(const uint8_t *buf, size_t s, size_t e, head_parts *o, weft__http_head *h) {
  const uint8_t *line = buf + s;
  size_t n = e - s;
  if (n < 12 || line[8] != ' ') return WEFT_EPROTO;
  h->version_minor = (int16_t)parse_version(line);
  if (h->version_minor < 0) return WEFT_EPROTO;
  int status = 0;
  for (size_t i = 9; i < 12; i++) {
    if (line[i] < '0' || line[i] > '9') return WEFT_EPROTO;
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return WEFT_EPROTO;
  h->status = (int16_t)status; /* 100..999 */
  /* The reason may be empty, and some servers drop the SP before it too
   * (its bytes were checked by the scan). */
  if (n > 12 && line[12] != ' ') return WEFT_EPROTO;
  o->reason = span_of(n > 12 ? s + 13 : e, e);
  return 0;
}

/* A header line buf[s, e): a token, ':', the value between optional
 * whitespace (its bytes were checked by the scan). */
static int header_line(const uint8_t *buf, size_t s, size_t e, head_parts *o) {
  if (is_ows(buf[s])) return WEFT_EPROTO; /* obs-fold: RFC 9112 5.2 lets us reject */
  size_t i = token_end(buf, s);
  if (i == s || i >= e || buf[i] != ':') return WEFT_EPROTO;
  size_t v = i + 1;
  while (v < e && is_ows(buf[v]))
    v++;
  while (e > v && is_ows(buf[e - 1]))
    e--;
  if (o->n_headers == WEFT__HTTP_MAX_HEADERS) return WEFT_ETOOBIG;
  o->name[o->n_headers] = span_of(s, i);
  o->value[o->n_headers++] = span_of(v, e);
  return 0;
}

/* Reads the lines the scan found, in order: the first error wins. */
static int parse_lines(const uint8_t *buf, size_t start, size_t len, const head_scan *sc,
                       head_parts *o, weft__http_head *h, int request) {
  size_t n = sc->lines < SCAN_LINES ? sc->lines : SCAN_LINES;
  for (size_t k = 0, s = start; k < n; s = sc->lf[k++] + 1u) {
    size_t lf = sc->lf[k], e = lf > s && buf[lf - 1] == '\r' ? lf - 1 : lf;
    if (sc->bad < lf) return WEFT_EPROTO; /* a lone CR, a control or DEL */
    int rc = k         ? header_line(buf, s, e, o)
             : request ? request_line(buf, s, e, len, o, h)
                       : status_line(buf, s, e, o, h);
    if (rc) return rc;
  }
  return 0;
}

/* Writes the block: strings copied from the head, each followed by a NUL. */
typedef struct writer {
  char *blk;
  size_t w, size;     /* next offset, the block's size */
  const uint8_t *lim; /* the end of what may be read after a source string */
} writer;

/* Copies n bytes of src and a NUL; returns the string's offset. Most
 * strings are short: one 16-byte move when both sides have room past them
 * (the next string overwrites the excess), else moves that overlap. */
static inline __attribute__((always_inline)) uint16_t put(writer *wr, const uint8_t *src,
                                                          size_t n) {
  char *d = wr->blk + wr->w;
  if (n <= 16 && wr->w + 16 <= wr->size && (size_t)(wr->lim - src) >= 16) {
    memcpy(d, src, 16);
  } else if (n >= 8 && n <= 16) {
    memcpy(d, src, 8);
    memcpy(d + n - 8, src + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    memcpy(d, src, 4);
    memcpy(d + n - 4, src + n - 4, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; i++)
      d[i] = (char)src[i];
  } else {
    memcpy(d, src, n);
  }
  d[n] = '\0';
  uint16_t at = (uint16_t)wr->w;
  wr->w += n + 1;
  return at;
}

/* The block's size: the offsets, then each string and its NUL (parse.h). */
static size_t block_size(const head_parts *o, int request) {
  size_t w = o->n_headers * sizeof(uint16_t);
  if (request) {
    w += o->method.len + 1u + o->slash + o->target.len + 1u;
    if (o->path_len != WEFT__HTTP_NONE) w += o->path_len + 1u;
  } else {
    w += o->reason.len + 1u;
  }
  for (size_t i = 0; i < o->n_headers; i++)
    w += o->name[i].len + 1u + o->value[i].len + 1u;
  return w;
}

/* Writes the block in one go: method, target, the path when it is a copy,
 * or the reason; then each header's name directly followed by its value
 * (weft__http_hvalue). */
static int write_block(const uint8_t *buf, size_t len, const head_parts *o, weft__http_head *h,
                       int request) {
  writer wr = {NULL, o->n_headers * sizeof(uint16_t), block_size(o, request), buf + len};
  wr.blk = malloc(wr.size);
  if (!wr.blk) return WEFT_ENOMEM;
  h->storage = wr.blk;
  if (request) {
    h->method = put(&wr, buf + o->method.at, o->method.len);
    h->target = (uint16_t)wr.w;
    if (o->slash) wr.blk[wr.w++] = '/';
    put(&wr, buf + o->target.at, o->target.len);
    h->path = h->target;
    h->query = (uint16_t)(wr.w - 1); /* the target's NUL: "" */
    if (o->path_len != WEFT__HTTP_NONE) {
      h->query = (uint16_t)(h->target + o->path_len + 1);
      wr.lim = (const uint8_t *)wr.blk + wr.size;
      h->path = put(&wr, (const uint8_t *)wr.blk + h->target, o->path_len);
      wr.lim = buf + len;
    }
  } else {
    h->reason = put(&wr, buf + o->reason.at, o->reason.len);
  }
  for (size_t i = 0; i < o->n_headers; i++) {
    uint16_t name = put(&wr, buf + o->name[i].at, o->name[i].len);
    memcpy(wr.blk + i * sizeof(uint16_t), &name, sizeof(name));
    put(&wr, buf + o->value[i].at, o->value[i].len);
  }
  h->n_headers = o->n_headers;
  return 0;
}

/* Whatever the outcome, h can be passed to weft__http_head_free. */
static void head_init(weft__http_head *h) {
  h->storage = NULL;
  h->n_headers = 0;
  h->method = h->target = h->path = h->query = h->reason = WEFT__HTTP_NONE;
  h->status = h->version_minor = 0;
}

static int parse_head(const uint8_t *buf, size_t len, weft__http_head *h, int request) {
  if (!h) return WEFT_EINVAL;
  head_init(h);
  if (!buf) return len ? WEFT_EINVAL : 0;
  size_t scan = len < WEFT__HTTP_MAX_HEAD ? len : WEFT__HTTP_MAX_HEAD;
  /* Empty lines before the request line are skipped (RFC 9112 2.2 lets a
   * server ignore them). */
  size_t start = 0;
  while (start < scan &&
         (buf[start] == '\n' || (buf[start] == '\r' && start + 1 < scan && buf[start + 1] == '\n')))
    start += buf[start] == '\r' ? 2 : 1;
  head_scan sc;
  if (scan_head(buf, start, scan, &sc)) return WEFT_EPROTO;
  /* A complete head that starts badly fails on its first line anyway. */
  if (!sc.end) {
    if (bad_start(buf + start, scan - start, request)) return WEFT_EPROTO;
    return len >= WEFT__HTTP_MAX_HEAD ? WEFT_ETOOBIG : 0;
  }

  head_parts o;
  o.slash = 0;
  o.n_headers = 0;
  int rc = parse_lines(buf, start, len, &sc, &o, h, request);
  if (!rc) rc = write_block(buf, len, &o, h, request);
  if (!rc) return (int)sc.end;
  /* h as it always was on errors: untouched by a head that starts badly
   * (bad_start), zeroed by weft__http_head_free after the others. */
  if (bad_start(buf + start, scan - start, request))
    head_init(h);
  else
    weft__http_head_free(h);
  return rc;
}

int weft__http_parse_request(const uint8_t *buf, size_t len, weft__http_head *h) {
  return parse_head(buf, len, h, 1);
}

int weft__http_parse_response(const uint8_t *buf, size_t len, weft__http_head *h) {
  return parse_head(buf, len, h, 0);
}

void weft__http_head_free(weft__http_head *h) {
  if (!h) return;
  free(h->storage);
  memset(h, 0, sizeof *h);
}

/* ASCII lower case: field names are tokens, compared case-insensitively
 * as RFC 9110 5.1 says (and as strcasecmp does in the C locale). */
static inline uint8_t lower(uint8_t c) { return (uint8_t)(c + ((unsigned)(c - 'A') < 26u) * 32); }

/* The value of header i when it is named `name` (case-insensitively), else
 * NULL. The first letters are compared first: a request is looked up by
 * several names, most of which it does not hold; the walk to the name's
 * NUL then finds its value with no strlen. */
static const char *value_if_named(const weft__http_head *h, size_t i, const char *name) {
  const char *hn = weft__http_hname(h, i);
  if (lower((uint8_t)hn[0]) != lower((uint8_t)name[0])) return NULL;
  for (size_t k = 1;; k++) {
    uint8_t a = (uint8_t)hn[k], b = (uint8_t)name[k];
    if (a != b && lower(a) != lower(b)) return NULL;
    if (!a) return hn + k + 1;
  }
}

const char *weft__http_get(const weft__http_head *h, const char *name) {
  if (!h || !name || !*name) return NULL;
  for (size_t i = 0; i < h->n_headers; i++) {
    const char *v = value_if_named(h, i, name);
    if (v) return v;
  }
  return NULL;
}

size_t weft__http_count(const weft__http_head *h, const char *name) {
  size_t n = 0;
  for (size_t i = 0; h && name && *name && i < h->n_headers; i++)
    n += value_if_named(h, i, name) != NULL;
  return n;
}

int weft__http_has_token(const char *value, const char *token) {
  if (!value || !token) return 0;
  size_t tl = strlen(token);
  const char *p = value;
  for (;;) {
    while (is_ows(*p))
      p++;
    const char *e = p;
    while (*e && *e != ',')
      e++;
    const char *t = e;
    while (t > p && is_ows(t[-1]))
      t--;
    if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0) return 1;
    if (!*e) return 0;
    p = e + 1;
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t weft__url_decode(char *dst, const char *src, size_t len) {
  /* Up to the first '%' or '+' (most keys and values have none) as it is. */
  const char *pct = memchr(src, '%', len), *plus = memchr(src, '+', len);
  size_t o = pct ? (size_t)(pct - src) : len;
  if (plus && (size_t)(plus - src) < o) o = (size_t)(plus - src);
  memcpy(dst, src, o);
  for (size_t i = o; i < len; i++) {
    char c = src[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%' && i + 2 < len) {
      int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
      if (hi >= 0 && lo >= 0) {
        c = (char)(hi << 4 | lo);
        i += 2;
      }
    }
    dst[o++] = c;
  }
  dst[o] = '\0';
  return o;
}
