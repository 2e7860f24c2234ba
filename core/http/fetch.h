/*
 * One HTTP request and its answer, for clients: Primus's <path>/spec read
 * before they connect, engine.io's and Vibe's polls and posts, Vibe's
 * streaming answer. A byte stream of its own to the URL's address (TLS
 * when given a context), the request, the head and a body of bounded size,
 * or (streaming) the body handed over piece by piece as it arrives.
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
  int status;    /* the HTTP status, 0 when no head was read */
  uint8_t *body; /* the whole body (may be modified), else NULL */
  size_t len;
  const char *set_cookie; /* the first Set-Cookie header's value, or NULL */
} weft__http_result;

/* A request: method and target, extra header lines ("Name: v\r\n…"),
 * a body (with its Content-Type), and the largest answer body taken
 * (larger: status reported, no body). */
/* A streaming answer's body bytes, as they arrive (chunked encoding
 * removed); `data` is valid during the call only. The callee may cancel
 * the fetch from inside. */
typedef void (*weft__http_fetch_data_cb)(const uint8_t *data, size_t len, void *user);

typedef struct weft__http_request {
  const char *method; /* "GET" */
  const char *target; /* "/primus/spec" */
  const char *accept; /* the Accept header's value, or NULL */
  const uint8_t *headers;
  size_t headers_len;
  const uint8_t *body;
  size_t body_len;
  const char *ctype;
  size_t max_body;
  /* Streaming, when set: an answer of status 200 is not buffered; its body
   * goes to on_data (same `user`) as it arrives, whatever its length
   * (Content-Length, chunked, or up to the end of the connection), and cb
   * runs once at its end with the status and no body, or with an error
   * (a malformed chunk: WEFT_EPROTO, kind "protocol"). Other statuses are
   * answered whole, as without it. */
  weft__http_fetch_data_cb on_data;
} weft__http_request;

typedef void (*weft__http_fetch_cb)(const weft__http_result *r, void *user);

/* GETs `target` ("/primus/spec") from the URL's server; cb runs once, never
 * from inside this call, unless cancelled. Errors: WEFT_ENOMEM, or a
 * connect error when nothing was started. */
int weft__http_fetch_start(weft_loop *loop, const weft__url *u, const char *target,
                           struct weft__tls_ctx *tls, weft__http_fetch_cb cb, void *user,
                           weft__http_fetch **out);
/* Any request (see weft__http_request; copied). */
int weft__http_fetch_request(weft_loop *loop, const weft__url *u, const weft__http_request *req,
                             struct weft__tls_ctx *tls, weft__http_fetch_cb cb, void *user,
                             weft__http_fetch **out);
/* cb will not run; the fetch frees itself once its stream is closed. */
void weft__http_fetch_cancel(weft__http_fetch *f);

#endif
