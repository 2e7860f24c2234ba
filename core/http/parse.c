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

#include "base/common.h"
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

/* One pass over a head's bytes, line by line: 32 bytes a step, vector
 * compares mark the bytes a line may not simply hold (controls, DEL, and in
 * the request line SP and '?'), the marks are walked up to the line's LF,
 * and the line is parsed then, while its bytes are at hand, into offsets;
 * the strings are then copied once into a block of their exact size. Every
 * keep-alive request (a Vibe POST, a long poll) comes through here: the
 * bytes used to be walked eight times (memchr per line for the end and
 * NULs, a copy, memchr per line again, the query, and two strlen passes to
 * compact), about 3,000 instructions a long poll; now about a third. */

#define NO_POS SIZE_MAX

/* What the scan of a line found besides its LF. */
typedef struct line_scan {
  uint8_t nul; /* a NUL: no valid head holds one, fail now rather than wait for 8 KiB */
  uint8_t bad; /* a control other than tab and the CR before the LF, or DEL */
  /* The request line's first two SPs (its separators, if it is valid) and
   * its first '?'. */
  uint8_t n_sep;
  size_t sep[2], query;
} line_scan;

static inline unsigned first_bit(uint32_t m) { return (unsigned)__builtin_ctz(m); }

/* Sixteen bytes and their masks, one bit a byte. */
#if defined(__SSE2__) && !defined(WEFT_HTTP_SCALAR)
#include <emmintrin.h>
typedef __m128i vec16;
static inline vec16 load16(const uint8_t *p) {
  return _mm_loadu_si128((const __m128i *)(const void *)p);
}
static inline uint32_t eq_mask(vec16 x, char c) {
  return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(c)));
}
/* Bytes below `top` (0x20: the controls, or 0x21: SP too) or DEL, in one
 * range test: x ^ 0x3f takes them to 0x40-top..0x40, and adding 0x40+top
 * takes those to 0x80..0x80+top, the lowest signed bytes. */
static inline uint32_t below_or_del(vec16 x, int top) {
  __m128i y =
      _mm_add_epi8(_mm_xor_si128(x, _mm_set1_epi8(0x3f)), _mm_set1_epi8((char)(0x40 + top)));
  return (uint32_t)_mm_movemask_epi8(_mm_cmplt_epi8(y, _mm_set1_epi8((char)(0x80 + top + 1))));
}
#else
typedef struct vec16 {
  uint8_t b[16];
} vec16;
static inline vec16 load16(const uint8_t *p) {
  vec16 x;
  memcpy(x.b, p, 16);
  return x;
}
static inline uint32_t eq_mask(vec16 x, char c) {
  uint32_t m = 0;
  for (unsigned i = 0; i < 16; i++)
    m |= (uint32_t)(x.b[i] == (uint8_t)c) << i;
  return m;
}
static inline uint32_t below_or_del(vec16 x, int top) {
  uint32_t m = 0;
  for (unsigned i = 0; i < 16; i++)
    m |= (uint32_t)(x.b[i] < top || x.b[i] == 0x7f) << i;
  return m;
}
#endif

/* A bit for each of the 32 bytes at p that a line may not simply hold:
 * the controls (LF and CR among them) and DEL, and for the request line SP
 * and '?' too. */
static inline __attribute__((always_inline)) uint32_t special32(const uint8_t *p,
                                                                int request_line) {
  vec16 a = load16(p), b = load16(p + 16);
  if (!request_line) return below_or_del(a, 0x20) | below_or_del(b, 0x20) << 16;
  return (below_or_del(a, 0x21) | eq_mask(a, '?')) | (below_or_del(b, 0x21) | eq_mask(b, '?'))
                                                         << 16;
}

/* Goes through the special bytes of a line (bits of m, from i) up to its
 * LF; returns where that is, or NO_POS when it is not among them. A CR
 * before the LF is fine, and tab in a header line; the request line's first
 * two SPs are its separators, and its first '?' is noted. */
static inline __attribute__((always_inline)) size_t
specials(const uint8_t *buf, size_t i, uint32_t m, size_t to, line_scan *ls, int request_line) {
  for (; m; m &= m - 1) {
    size_t q = i + first_bit(m);
    uint8_t c = buf[q];
    if (c == '\n') return q;
    if (c == '\r' && q + 1 < to && buf[q + 1] == '\n') continue;
    if (request_line) {
      if (c == ' ' && ls->n_sep < 2) {
        ls->sep[ls->n_sep++] = q;
        continue;
      }
      if (c == '?') {
        if (ls->query == NO_POS) ls->query = q;
        continue;
      }
    } else if (c == '\t') {
      continue;
    }
    if (c == 0) ls->nul = 1;
    ls->bad = 1;
  }
  return NO_POS;
}

/* The LF that ends the line at buf[s], or NO_POS when it has not come
 * within `to`; 32 bytes a step, never reading at or past `to`. */
static inline __attribute__((always_inline)) size_t find_lf(const uint8_t *buf, size_t s, size_t to,
                                                            line_scan *ls, int request_line) {
  ls->nul = ls->bad = ls->n_sep = 0;
  ls->query = NO_POS;
  size_t i = s, lf;
  for (; i + 32 <= to; i += 32) {
    uint32_t m = special32(buf + i, request_line);
    if (m && (lf = specials(buf, i, m, to, ls, request_line)) != NO_POS) return lf;
  }
  if (i == to) return NO_POS;
  uint32_t m;
  if (to >= 32) { /* the tail: the 32 bytes that end at `to`, shifted down */
    m = special32(buf + to - 32, request_line) >> (32 - (to - i));
  } else { /* a head shorter than 32 bytes so far */
    uint8_t tmp[32] = {0};
    memcpy(tmp, buf + i, to - i);
    m = special32(tmp, request_line) & (~0u >> (32 - (to - i)));
  }
  return specials(buf, i, m, to, ls, request_line);
}

static size_t find_request_lf(const uint8_t *buf, size_t s, size_t to, line_scan *ls) {
  return find_lf(buf, s, to, ls, 1);
}
static inline __attribute__((always_inline)) size_t find_header_lf(const uint8_t *buf, size_t s,
                                                                   size_t to, line_scan *ls) {
  return find_lf(buf, s, to, ls, 0);
}

/* Past the empty line at buf[s] (CRLF or LF), or 0 when there is none. */
static inline size_t empty_line_at(const uint8_t *buf, size_t s, size_t to) {
  if (s < to && buf[s] == '\n') return s + 1;
  if (s + 1 < to && buf[s] == '\r' && buf[s + 1] == '\n') return s + 2;
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

/* What the lines held, for the block to be written from. */
typedef struct head_parts {
  span method, target, reason;
  uint8_t slash;     /* the target is "/" then `target` (an absolute form's) */
  uint16_t path_len; /* the target's bytes before its '?'; NONE without one */
  uint16_t n_headers;
  size_t size; /* the headers' part of the block: offsets and strings */
  span name[WEFT__HTTP_MAX_HEADERS], value[WEFT__HTTP_MAX_HEADERS];
} head_parts;

static span span_of(size_t at, size_t end) { return (span){(uint16_t)at, (uint16_t)(end - at)}; }

/* Parses "HTTP/1.<digit>" at s[0..8); returns the minor version or -1. */
static int parse_version(const uint8_t *s) {
  if (memcmp(s, "HTTP/1.", 7) != 0) return -1;
  if (s[7] < '0' || s[7] > '9') return -1;
  return s[7] - '0';
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
                : n >= 7 && weft__strncaseeq(s, "http://", 7)  ? 7
                : n >= 8 && weft__strncaseeq(s, "https://", 8) ? 8
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
static inline __attribute__((always_inline)) size_t token_end(const uint8_t *buf, size_t i) {
  for (;; i += 4) {
    if (!tchar[buf[i]]) return i;
    if (!tchar[buf[i + 1]]) return i + 1;
    if (!tchar[buf[i + 2]]) return i + 2;
    if (!tchar[buf[i + 3]]) return i + 3;
  }
}

/* The request line buf[s, e): method SP target SP "HTTP/1.<digit>", the
 * SPs being its first two (the scan found them; any other SP, control or
 * DEL made it bad). */
static int request_line(const uint8_t *buf, size_t s, size_t e, const line_scan *ls, head_parts *o,
                        weft__http_head *h) {
  if (ls->n_sep < 2) return WEFT_EPROTO;
  size_t a = ls->sep[0], b = ls->sep[1];
  if (a == s || buf[a] != ' ' || token_end(buf, s) != a) return WEFT_EPROTO;
  if (b == a + 1 || buf[b] != ' ' || b + 9 != e) return WEFT_EPROTO;
  h->version_minor = (int16_t)parse_version(buf + b + 1);
  if (h->version_minor < 0) return WEFT_EPROTO;
  o->method = span_of(s, a);
  origin_form(buf, a + 1, b, o);
  size_t q = ls->query; /* a valid line's first '?' is its target's */
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
  /* An empty name is refused, so obs-fold (a line starting with SP or tab,
   * RFC 9112 5.2 lets us reject it) is; the ':' is before e's CR or LF. */
  size_t i = token_end(buf, s);
  if (i == s || buf[i] != ':') return WEFT_EPROTO;
  size_t v = i + 1;
  v += buf[v] == ' '; /* the usual one SP, then any more (stops at e's CR or LF) */
  while (is_ows(buf[v]))
    v++;
  while (e > v && is_ows(buf[e - 1]))
    e--;
  if (o->n_headers == WEFT__HTTP_MAX_HEADERS) return WEFT_ETOOBIG;
  o->name[o->n_headers] = span_of(s, i);
  o->value[o->n_headers++] = span_of(v, e);
  o->size += sizeof(uint16_t) + (i - s) + 1 + (e - v) + 1;
  return 0;
}

/* Writes the block: strings copied from the head, each followed by a NUL. */
typedef struct writer {
  char *blk;
  size_t w, size;     /* next offset, the block's size */
  const uint8_t *lim; /* the end of the head's buffer: no read goes past it */
} writer;

/* Copies n bytes of src (in the head) and a NUL; returns the string's
 * offset. Most strings are short: one 32-byte move when both sides have
 * room past them (the next string overwrites the excess), else moves that
 * overlap. */
static inline __attribute__((always_inline)) uint16_t put(writer *wr, const uint8_t *src,
                                                          size_t n) {
  char *d = wr->blk + wr->w;
  if (n <= 32 && wr->w + 32 <= wr->size && (size_t)(wr->lim - src) >= 32) {
    memcpy(d, src, 32);
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

/* The block's size: the headers' part, then the start line's strings. */
static size_t block_size(const head_parts *o, int request) {
  if (!request) return o->size + o->reason.len + 1u;
  size_t w = o->size + o->method.len + 1u + o->slash + o->target.len + 1u;
  return o->path_len == WEFT__HTTP_NONE ? w : w + o->path_len + 1u;
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
      /* From the head, as the target was (a copy out of the block would
       * overlap): after an absolute form's "/" the '?' comes at once. */
      if (o->slash) {
        h->path = (uint16_t)wr.w;
        wr.blk[wr.w++] = '/';
        wr.blk[wr.w++] = '\0';
      } else {
        h->path = put(&wr, buf + o->target.at, o->path_len);
      }
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

/* A head that has not ended within buf[start, scan): 0 while it may still
 * come, WEFT_EPROTO when its bytes so far cannot start one. */
static int unfinished(const uint8_t *buf, size_t start, size_t scan, size_t len, weft__http_head *h,
                      const line_scan *ls, int request) {
  head_init(h); /* the first line may have set some */
  if (ls->nul || bad_start(buf + start, scan - start, request)) return WEFT_EPROTO;
  return len >= WEFT__HTTP_MAX_HEAD ? WEFT_ETOOBIG : 0;
}

/* The first error of a complete head: h as it always was then, untouched
 * by a head that starts badly (bad_start), else zeroed. */
static int failed(const uint8_t *buf, size_t start, size_t scan, weft__http_head *h, int rc,
                  int request) {
  if (bad_start(buf + start, scan - start, request))
    head_init(h);
  else
    weft__http_head_free(h);
  return rc;
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

  head_parts o;
  o.slash = 0;
  o.n_headers = 0;
  o.size = 0;
  line_scan ls;
  /* The lines in order, each parsed when its LF is found; the first error
   * is kept until the head has ended (before that, more bytes are asked
   * for), and only the scan for the end goes on after it. */
  size_t lf =
      request ? find_request_lf(buf, start, scan, &ls) : find_header_lf(buf, start, scan, &ls);
  if (ls.nul || lf == NO_POS) return unfinished(buf, start, scan, len, h, &ls, request);
  size_t e = lf > start && buf[lf - 1] == '\r' ? lf - 1 : lf;
  int rc = ls.bad    ? WEFT_EPROTO
           : request ? request_line(buf, start, e, &ls, &o, h)
                     : status_line(buf, start, e, &o, h);
  size_t end;
  while (!(end = empty_line_at(buf, lf + 1, scan))) {
    size_t s = lf + 1;
    lf = find_header_lf(buf, s, scan, &ls);
    if (ls.nul || lf == NO_POS) return unfinished(buf, start, scan, len, h, &ls, request);
    if (rc) continue;
    e = buf[lf - 1] == '\r' ? lf - 1 : lf; /* a header line is not empty */
    rc = ls.bad ? WEFT_EPROTO : header_line(buf, s, e, &o);
  }
  if (!rc) rc = write_block(buf, len, &o, h, request);
  return rc ? failed(buf, start, scan, h, rc, request) : (int)end;
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

int weft__http_is_token(const char *s) {
  if (!s || !*s) return 0;
  for (; *s; s++)
    if (!tchar[(uint8_t)*s]) return 0;
  return 1;
}

static size_t str_end(const weft__http_head *h, uint16_t off) {
  return off == WEFT__HTTP_NONE ? 0 : off + strlen(h->storage + off) + 1;
}

size_t weft__http_head_size(const weft__http_head *h) {
  if (!h->storage) return 0;
  size_t end = (size_t)h->n_headers * 2;
  uint16_t o[] = {h->method, h->target, h->path, h->query, h->reason};
  for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
    if (str_end(h, o[i]) > end) end = str_end(h, o[i]);
  if (h->n_headers) { /* the lines follow the request line, in order */
    const char *last = weft__http_hvalue(h, h->n_headers - 1);
    end = (size_t)(last - h->storage) + strlen(last) + 1;
  }
  return end;
}

static int kept_name(const char *name, int all, const char *const *names, size_t n) {
  if (all) return 1;
  for (size_t i = 0; i < n; i++)
    if (weft__strcaseeq(name, names[i])) return 1;
  return 0;
}

/* The request line's strings are one run after the offset table (method,
 * target, the path's copy; the query lies inside the target), so they move
 * as one run and their offsets by one amount. */
int weft__http_head_keep(weft__http_head *h, int line, int all, const char *const *names,
                         size_t n) {
  if (!h->storage) return 0;
  size_t table = (size_t)h->n_headers * 2, run_end = 0, size, k = 0;
  uint16_t *offs = (uint16_t *)(void *)h->storage;
  if (line) {
    uint16_t o[] = {h->method, h->target, h->path, h->query};
    for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
      if (str_end(h, o[i]) > run_end) run_end = str_end(h, o[i]);
  }
  size_t run = run_end > table ? run_end - table : 0;
  size = run;
  for (size_t i = 0; i < h->n_headers; i++) {
    const char *name = weft__http_hname(h, i);
    if (!kept_name(name, all, names, n)) continue;
    k++;
    size += 2 + strlen(name) + 1 + strlen(weft__http_hvalue(h, i)) + 1;
  }
  if (size == 0) {
    weft__http_head_free(h);
    head_init(h);
    return 0;
  }
  char *b = malloc(size);
  if (!b) return WEFT_ENOMEM;
  uint16_t *nt = (uint16_t *)(void *)b;
  size_t at = k * 2;
  memcpy(b + at, h->storage + table, run);
  long shift = (long)(k * 2) - (long)table;
  uint16_t *o[] = {&h->method, &h->target, &h->path, &h->query};
  for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
    *o[i] = line && *o[i] != WEFT__HTTP_NONE ? (uint16_t)(*o[i] + shift) : WEFT__HTTP_NONE;
  at += run;
  size_t j = 0;
  for (size_t i = 0; i < h->n_headers; i++) {
    const char *name = h->storage + offs[i];
    if (!kept_name(name, all, names, n)) continue;
    size_t len = strlen(name) + 1;
    len += strlen(name + len) + 1;
    nt[j++] = (uint16_t)at;
    memcpy(b + at, name, len);
    at += len;
  }
  free(h->storage);
  h->storage = b;
  h->n_headers = (uint16_t)k;
  return 0;
}

/* Is header i named `name` (case-insensitively)? The first letters are
 * compared first: a request is looked up by several names, most of which
 * it does not hold. */
static int named(const weft__http_head *h, size_t i, const char *name) {
  const char *hn = weft__http_hname(h, i);
  return (hn[0] | 0x20) == (name[0] | 0x20) && weft__strcaseeq(hn, name);
}

const char *weft__http_get(const weft__http_head *h, const char *name) {
  if (!h || !name || !*name) return NULL;
  for (size_t i = 0; i < h->n_headers; i++)
    if (named(h, i, name)) return weft__http_hvalue(h, i);
  return NULL;
}

size_t weft__http_count(const weft__http_head *h, const char *name) {
  size_t n = 0;
  for (size_t i = 0; h && name && *name && i < h->n_headers; i++)
    n += named(h, i, name);
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
    if ((size_t)(t - p) == tl && weft__strncaseeq(p, token, tl)) return 1;
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
