/*
 * One HTTP GET and its answer, for clients that ask a server something
 * before they connect (Primus's <path>/spec): a byte stream of its own to
 * the URL's address (TLS when given a context), the request, the head and
 * a body of at most 64 KiB.
 */
#ifndef WEFT__HTTP_FETCH_H
#define WEFT__HTTP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/url.h"
#include "runtime/loop.h"

struct weft__tls_ctx;
typedef struct weft__http_fetch weft__http_fetch;

typedef struct weft__http_result {
  /* 0 when an answer (or the end of the connection) came; else a WEFT_E*
   * code with `kind` "connect" or "tls" and a message. */
  int error;
  const char *kind;
  const char *message;
  int status;          /* the HTTP status, 0 when no head was read */
  const uint8_t *body; /* the body (status 200 with a whole body), else NULL */
  size_t len;
} weft__http_result;

typedef void (*weft__http_fetch_cb)(const weft__http_result *r, void *user);

/* GETs `target` ("/primus/spec") from the URL's server; cb runs once, never
 * from inside this call, unless cancelled. Errors: WEFT_ENOMEM, or a
 * connect error when nothing was started. */
int weft__http_fetch_start(weft_loop *loop, const weft__url *u, const char *target,
                           struct weft__tls_ctx *tls, weft__http_fetch_cb cb, void *user,
                           weft__http_fetch **out);
/* cb will not run; the fetch frees itself once its stream is closed. */
void weft__http_fetch_cancel(weft__http_fetch *f);

#endif
