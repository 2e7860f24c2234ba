/*
 * The event-stream reader of Vibe's httpstream client, with no I/O: bytes
 * in, whole messages out. Line endings may be "\n", "\r\n" or "\r" (the
 * event-stream format allows all three, split anywhere between reads);
 * they are kept as '\n'. A message ends at a blank line; its "data:"
 * lines (one optional space after the colon) are joined by '\n'; other
 * lines (comments, fields) are dropped, and blanks between messages are
 * padding. The search for the blank line goes on where the last read left
 * it, so a large message arriving in small pieces costs its length once.
 */
#include <string.h>

#include "vibe.h"

/* Appends p with its line endings made '\n'. */
static int append(weft__sse *r, const uint8_t *p, size_t n) {
  if (!memchr(p, '\r', n) && !(r->cr && n && p[0] == '\n')) {
    r->cr = 0;
    return weft__buf_append(&r->buf, p, n);
  }
  if (weft__buf_reserve(&r->buf, n)) return WEFT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n' && r->cr) { /* the '\n' of a "\r\n" */
      r->cr = 0;
      continue;
    }
    r->cr = p[i] == '\r';
    r->buf.data[r->buf.len++] = r->cr ? '\n' : p[i];
  }
  return 0;
}

/* A message's "data:" lines joined by '\n', in place; its length. */
static size_t data_of(uint8_t *m, size_t len) {
  size_t w = 0, i = 0;
  while (i < len) {
    uint8_t *nl = memchr(m + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - m) : len, s = i;
    if (end - s >= 5 && !memcmp(m + s, "data:", 5)) {
      s += 5;
      if (s < end && m[s] == ' ') s++;
      if (w) m[w++] = '\n';
      memmove(m + w, m + s, end - s);
      w += end - s;
    }
    i = end + 1;
  }
  return w;
}

static int padding(uint8_t c) { return c == ' ' || c == '\t' || c == '\n'; }

int weft__sse_feed(weft__sse *r, const uint8_t *p, size_t n, size_t max,
                   int (*msg)(void *user, uint8_t *text, size_t len), void *user) {
  if (n && append(r, p, n)) return WEFT_ENOMEM;
  size_t at = 0, from = r->scan;
  r->scan = 0;
  for (;;) {
    while (at < r->buf.len && padding(r->buf.data[at]))
      at++;
    uint8_t *m = r->buf.data + at;
    size_t left = r->buf.len - at, end = from > at ? from - at : 0;
    const uint8_t *nl = NULL;
    while (end + 1 < left && (nl = memchr(m + end, '\n', left - end - 1)) && nl[1] != '\n')
      end = (size_t)(nl - m) + 1;
    if (!nl || end + 1 >= left) { /* no blank line yet: go on from here next time */
      r->scan = left > 1 ? left - 1 : 0;
      break;
    }
    end = (size_t)(nl - m);
    at += end + 2;
    from = 0;
    if (msg(user, m, data_of(m, end))) return 0; /* the owner stops (its buffer stays) */
  }
  if (at) {
    memmove(r->buf.data, r->buf.data + at, r->buf.len - at);
    r->buf.len -= at;
  }
  return r->buf.len > max ? WEFT_ETOOBIG : 0;
}

void weft__sse_free(weft__sse *r) {
  weft__buf_free(&r->buf);
  memset(r, 0, sizeof(*r));
}
