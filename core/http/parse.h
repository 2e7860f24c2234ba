/*
 * HTTP/1.1 message heads, with no I/O: bytes in, a parsed head out. The
 * HTTP connections (conn.c) and the client's fetch drive it; the fuzz
 * target feeds it directly.
 */
#ifndef WEFT__HTTP_PARSE_H
#define WEFT__HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WEFT__HTTP_MAX_HEAD 8192
#define WEFT__HTTP_MAX_HEADERS 64

/* The head's storage is one block of its exact size: a table of 16-bit
 * offsets, one per header line, then the strings, each NUL-terminated and
 * nothing between them: method, target and the path when it is a copy (a
 * target with a query), or the reason (a response); then each header
 * line's name (as sent; compare case-insensitively) directly followed by
 * its value (leading/trailing whitespace trimmed). The version, line ends
 * and the space before values are not kept: the head stays with every
 * connection. */

/* An offset that names no string (a response's method, a request's
 * reason). */
#define WEFT__HTTP_NONE UINT16_MAX

typedef struct weft__http_head {
  char *storage; /* owned block the offsets below point into */
  /* Offsets into storage (2 bytes each instead of a pointer's 8: the head
   * stays with every connection); read them with the accessors below.
   * Request: method and target ("/primus?x=1"), path is the target without
   * the query (the target itself when it has none) and query the part after
   * '?' ("" when none). Response: reason; the others are none. */
  union {
    struct {
      uint16_t method, target, path, query, reason;
      int16_t status;        /* a response's */
      int16_t version_minor; /* HTTP/1.<minor> */
      /* header lines: n_headers offsets at the start of storage */
      uint16_t n_headers;
    };
    /* A request head shared with other connections (heads.h): the fields
     * are the shared copy's, these are its Sec-WebSocket-Key's bytes. */
    uint8_t key[16];
  };
} weft__http_head;

static inline const char *weft__http_at(const weft__http_head *h, uint16_t off) {
  return h->storage && off != WEFT__HTTP_NONE ? h->storage + off : NULL;
}
/* The request line's parts and the status line's reason, or NULL. */
static inline const char *weft__http_method(const weft__http_head *h) {
  return weft__http_at(h, h->method);
}
static inline const char *weft__http_target(const weft__http_head *h) {
  return weft__http_at(h, h->target);
}
static inline const char *weft__http_path(const weft__http_head *h) {
  return weft__http_at(h, h->path);
}
static inline const char *weft__http_query(const weft__http_head *h) {
  return weft__http_at(h, h->query);
}
static inline const char *weft__http_reason(const weft__http_head *h) {
  return weft__http_at(h, h->reason);
}

/* The name and the value of header line i (< n_headers). */
static inline const char *weft__http_hname(const weft__http_head *h, size_t i) {
  return h->storage + ((const uint16_t *)(const void *)h->storage)[i];
}
static inline const char *weft__http_hvalue(const weft__http_head *h, size_t i) {
  const char *name = weft__http_hname(h, i);
  return name + strlen(name) + 1;
}

/* Parses a request (or response) head at the start of buf[0..len).
 * Returns the head's length including the final CRLFCRLF (> 0) and fills
 * `h` (free with weft__http_head_free); 0 when more bytes are needed;
 * WEFT_ETOOBIG when no head ended within WEFT__HTTP_MAX_HEAD bytes or there
 * are too many headers; WEFT_EPROTO when malformed. */
int weft__http_parse_request(const uint8_t *buf, size_t len, weft__http_head *h);
int weft__http_parse_response(const uint8_t *buf, size_t len, weft__http_head *h);
void weft__http_head_free(weft__http_head *h);
/* Keeps only part of a parsed request head, in a new block of its exact
 * size (the old one is freed; no block at all when nothing is kept): the
 * request line (method, target, path, query) when `line`, and the header
 * lines whose names are among names[0..n) (case-insensitive), or every
 * line when `all`. Returns 0, or WEFT_ENOMEM with h unchanged. */
int weft__http_head_keep(weft__http_head *h, int line, int all, const char *const *names, size_t n);

/* The bytes of h's storage (0 when it has none). */
size_t weft__http_head_size(const weft__http_head *h);

/* 1 when s is a non-empty RFC 9110 token (a header name, a method). */
int weft__http_is_token(const char *s);
/* Header value by case-insensitive name (the first), or NULL. */
const char *weft__http_get(const weft__http_head *h, const char *name);
/* How many header lines carry that name (case-insensitive). */
size_t weft__http_count(const weft__http_head *h, const char *name);
/* 1 when the comma-separated header value contains `token`
 * (case-insensitive, whitespace ignored). */
int weft__http_has_token(const char *value, const char *token);

/* Percent-decodes src[0..len) ('+' becomes ' ') into dst (which must hold
 * len+1 bytes), NUL-terminates; returns the decoded length. Invalid escapes
 * are copied through. */
size_t weft__url_decode(char *dst, const char *src, size_t len);

#endif
