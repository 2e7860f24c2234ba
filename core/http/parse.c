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

/* A header line while parsing: where its name and value start in the
 * block (compact() then keeps one offset a line). */
typedef struct line_at {
  uint16_t name, value;
} line_at;

/* field-vchar / SP / HTAB: everything but the C0 controls and DEL, so UTF-8
 * (obs-text) passes through. */
static int field_char(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* Eight bytes at a time (every keep-alive request's target and header
 * values are scanned; a byte loop was a tenth of a long poll's cost):
 * nonzero when one of the eight bytes at p is below `lo` (lo <= 0x80) or
 * is DEL. Exact, as the classic "has less" and "has zero" tests are for
 * telling whether any byte matches. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
static inline uint64_t below_or_del(const char *p, uint8_t lo) {
  uint64_t x, d;
  memcpy(&x, p, 8);
  d = x ^ (ONES * 0x7f);
  return (((x - ONES * lo) & ~x) | ((d - ONES) & ~d)) & HIGHS;
}

/* Finds the end of the head: the offset just past the empty line that ends
 * it, or 0 when it has not arrived; *lines counts the LFs before it (the
 * empty line's too). `start` skips empty lines before the request line
 * (RFC 9112 2.2 lets a server ignore them). Line by line with memchr: every
 * keep-alive request (a Vibe POST, a long poll) comes through here. */
static size_t find_end(const uint8_t *buf, size_t len, size_t *start, size_t *lines, int *bad) {
  size_t s = 0;
  while (s < len && (buf[s] == '\n' || (buf[s] == '\r' && s + 1 < len && buf[s + 1] == '\n')))
    s += buf[s] == '\r' ? 2 : 1;
  *start = s;
  *lines = 0;
  for (size_t i = s;;) {
    const uint8_t *lf = memchr(buf + i, '\n', len - i);
    size_t stop = lf ? (size_t)(lf - buf) : len;
    if (memchr(buf + i, 0, stop - i)) {
      /* No valid head holds a NUL: fail now rather than wait for 8 KiB. */
      *bad = 1;
      return 0;
    }
    if (!lf) return 0;
    ++*lines;
    i = stop + 1;
    if (i < len && buf[i] == '\n') {
      ++*lines;
      return i + 1;
    }
    if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n') {
      ++*lines;
      return i + 2;
    }
  }
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

/* Cuts the next line out of [*p, end): returns its start, NUL-terminates it
 * in place (over the CR or LF) and advances *p past the LF. NULL when a CR
 * stands alone. */
static char *next_line(char **p, char *end, size_t *n) {
  char *s = *p;
  char *lf = memchr(s, '\n', (size_t)(end - s));
  if (!lf) return NULL; /* find_end guarantees one; defensive */
  char *e = lf;
  if (e > s && e[-1] == '\r') e--;
  if (memchr(s, '\r', (size_t)(e - s))) return NULL;
  *e = '\0';
  *n = (size_t)(e - s);
  *p = lf + 1;
  return s;
}

/* Parses "HTTP/1.<digit>" at s[0..8); returns the minor version or -1. */
static int parse_version(const char *s) {
  if (memcmp(s, "HTTP/1.", 7) != 0) return -1;
  if (s[7] < '0' || s[7] > '9') return -1;
  return s[7] - '0';
}

/* The origin form of a request target (RFC 9112 3.2): an absolute-form
 * target ("http://host:port/path?q", which a server must accept) becomes
 * its path and query; others are left as they are. */
static char *origin_form(char *t) {
  size_t skip = strncasecmp(t, "http://", 7) == 0 ? 7 : strncasecmp(t, "https://", 8) == 0 ? 8 : 0;
  if (!skip) return t;
  char *rest = t + skip + strcspn(t + skip, "/?");
  if (*rest == '/') return rest;
  if (*rest == '?' && rest > t + skip) { /* "http://h?q": the path is "/" */
    rest[-1] = '/';
    return rest - 1;
  }
  if (*rest) return t;
  t[0] = '/'; /* "http://h": the path is "/", written over the target */
  t[1] = '\0';
  return t;
}

static int parse_request_line(weft__http_head *h, char *line, size_t n) {
  size_t i = 0;
  while (i < n && tchar[(uint8_t)line[i]])
    i++;
  if (i == 0 || i >= n || line[i] != ' ') return WEFT_EPROTO;
  line[i] = '\0';
  h->method = (uint16_t)(line - h->storage);
  size_t t = ++i;
  while (i + 8 <= n && !below_or_del(line + i, 0x21)) /* no SP, control or DEL */
    i += 8;
  while (i < n && line[i] != ' ') {
    uint8_t c = (uint8_t)line[i];
    if (c <= 0x20 || c == 0x7f) return WEFT_EPROTO;
    i++;
  }
  if (i == t || i >= n) return WEFT_EPROTO;
  line[i] = '\0';
  h->target = (uint16_t)(origin_form(line + t) - h->storage);
  i++;
  if (n - i != 8) return WEFT_EPROTO;
  h->version_minor = (int16_t)parse_version(line + i);
  if (h->version_minor < 0) return WEFT_EPROTO;
  return 0;
}

static int parse_status_line(weft__http_head *h, char *line, size_t n) {
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
  /* The reason may be empty, and some servers drop the SP before it too. */
  if (n == 12) {
    h->reason = (uint16_t)(line + 12 - h->storage);
    return 0;
  }
  if (line[12] != ' ') return WEFT_EPROTO;
  for (size_t i = 13; i < n; i++)
    if (!field_char((uint8_t)line[i])) return WEFT_EPROTO;
  h->reason = (uint16_t)(line + 13 - h->storage);
  return 0;
}

static int parse_header_line(weft__http_head *h, char *line, size_t n) {
  if (is_ows(line[0])) return WEFT_EPROTO; /* obs-fold: RFC 9112 5.2 lets us reject */
  size_t i = 0;
  while (i < n && tchar[(uint8_t)line[i]])
    i++;
  if (i == 0 || i >= n || line[i] != ':') return WEFT_EPROTO;
  line[i] = '\0';
  size_t v = i + 1;
  while (v < n && is_ows(line[v]))
    v++;
  size_t e = n;
  while (e > v && is_ows(line[e - 1]))
    e--;
  size_t k = v;
  while (k + 8 <= e && !below_or_del(line + k, 0x20)) /* the bytes below: tabs and worse */
    k += 8;
  for (; k < e; k++)
    if (!field_char((uint8_t)line[k])) return WEFT_EPROTO;
  line[e] = '\0';
  if (h->n_headers == WEFT__HTTP_MAX_HEADERS) return WEFT_ETOOBIG;
  line_at *t = (line_at *)(void *)h->storage;
  t[h->n_headers].name = (uint16_t)(line - h->storage);
  t[h->n_headers].value = (uint16_t)(line + v - h->storage);
  h->n_headers++;
  return 0;
}

/* Copies a NUL-terminated string from offset `from` of `src` to dst + *w. */
static uint16_t put(char *dst, const char *src, uint16_t from, size_t *w) {
  size_t n = strlen(src + from) + 1, at = *w;
  if (dst) memcpy(dst + at, src + from, n);
  *w = at + n;
  return (uint16_t)at;
}

/* The parsed head's strings copied into a block of their exact size (the
 * version, line ends and the space before values left out, one offset a
 * header line; see parse.h), and the parsing block freed: the next head
 * is parsed in it, so no hole is left behind. Returns 0 or WEFT_ENOMEM. */
static int compact(weft__http_head *h) {
  const char *src = h->storage;
  const line_at *lines = (const line_at *)(const void *)src;
  size_t n = h->n_headers;
  char *dst = NULL;
  weft__http_head out = *h;
  for (int pass = 0; pass < 2; pass++) {
    size_t w = n * sizeof(uint16_t);
    if (h->method != WEFT__HTTP_NONE) {
      out.method = put(dst, src, h->method, &w);
      out.target = put(dst, src, h->target, &w);
      out.query = (uint16_t)(out.target + (h->query - h->target)); /* inside the target */
      out.path = h->path == h->target ? out.target : put(dst, src, h->path, &w);
    }
    if (h->reason != WEFT__HTTP_NONE) out.reason = put(dst, src, h->reason, &w);
    for (size_t i = 0; i < n; i++) {
      uint16_t name = put(dst, src, lines[i].name, &w);
      put(dst, src, lines[i].value, &w); /* right after its name (weft__http_hvalue) */
      if (dst) memcpy(dst + i * sizeof(uint16_t), &name, sizeof(name));
    }
    if (dst) break;
    dst = malloc(w);
    if (!dst) return WEFT_ENOMEM;
  }
  free(h->storage);
  *h = out;
  h->storage = dst;
  return 0;
}

static int parse_head(const uint8_t *buf, size_t len, weft__http_head *h, int request) {
  if (!h) return WEFT_EINVAL;
  /* Whatever the outcome, h can be passed to weft__http_head_free. */
  h->storage = NULL;
  h->n_headers = 0;
  h->method = h->target = h->path = h->query = h->reason = WEFT__HTTP_NONE;
  h->status = h->version_minor = 0;
  if (!buf) return len ? WEFT_EINVAL : 0;
  size_t scan = len < WEFT__HTTP_MAX_HEAD ? len : WEFT__HTTP_MAX_HEAD;
  size_t start = 0, lines = 0;
  int bad = 0;
  size_t end = find_end(buf, scan, &start, &lines, &bad);
  if (bad || bad_start(buf + start, scan - start, request)) return WEFT_EPROTO;
  if (!end) return len >= WEFT__HTTP_MAX_HEAD ? WEFT_ETOOBIG : 0;
  if (end == start) return WEFT_EPROTO; /* unreachable: empty lines are skipped */

  /* One block: the header table (one slot per line at most, so idle
   * connections keep no unused slots), the head NUL-terminated, then, for
   * a request, room for the path of the target (the target itself must
   * stay whole). */
  size_t n = end - start;
  /* Header lines: all but the start line and the empty last one. */
  lines = lines > 2 ? lines - 2 : 0;
  if (lines > WEFT__HTTP_MAX_HEADERS) lines = WEFT__HTTP_MAX_HEADERS;
  size_t table = lines * sizeof(line_at);
  /* The path is a part of the target, which is in the first line. */
  const uint8_t *eol = request ? memchr(buf + start, '\n', n) : NULL;
  size_t first = eol ? (size_t)(eol - (buf + start)) : n;
  /* Only a target with a query needs a separate path. */
  size_t room = request && memchr(buf + start, '?', first) ? first + 1 : 0;
  char *blk = malloc(table + n + 1 + room);
  if (!blk) return WEFT_ENOMEM;
  char *s = blk + table;
  memcpy(s, buf + start, n);
  s[n] = '\0';
  h->storage = blk;

  char *p = s, *stop = s + n;
  size_t ln;
  char *line = next_line(&p, stop, &ln);
  int rc = WEFT_EPROTO;
  if (!line) goto fail;
  rc = request ? parse_request_line(h, line, ln) : parse_status_line(h, line, ln);
  if (rc) goto fail;
  for (;;) {
    line = next_line(&p, stop, &ln);
    rc = WEFT_EPROTO;
    if (!line) goto fail;
    if (ln == 0) break;
    rc = parse_header_line(h, line, ln);
    if (rc) goto fail;
  }
  if (request) {
    const char *target = blk + h->target;
    size_t tl = strlen(target);
    const char *q = memchr(target, '?', tl);
    h->path = h->target;
    h->query = (uint16_t)(h->target + tl);
    if (q) {
      char *path = s + n + 1;
      size_t pl = (size_t)(q - target);
      memcpy(path, target, pl);
      path[pl] = '\0';
      h->path = (uint16_t)(path - blk);
      h->query = (uint16_t)(q + 1 - blk);
    }
  }
  rc = compact(h);
  if (rc) goto fail;
  return (int)end;

fail:
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

/* Is header i named `name` (case-insensitively)? The first letters are
 * compared first: a request is looked up by several names, most of which
 * it does not hold. */
static int named(const weft__http_head *h, size_t i, const char *name) {
  const char *hn = weft__http_hname(h, i);
  return (hn[0] | 0x20) == (name[0] | 0x20) && strcasecmp(hn, name) == 0;
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
