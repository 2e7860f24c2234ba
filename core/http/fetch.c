/* One HTTP request and its answer, whole or streamed (see fetch.h). */
#include "fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "parse.h"
#include "runtime/net.h"
#include "runtime/payload.h"
#include "runtime/tls.h"

#define WEFT__FETCH_MAX_BODY 65536

struct weft__http_fetch {
  weft__stream io;
  weft__connector conn;
  weft__http_fetch_cb cb;
  void *user;
  weft__payload *request; /* sent once connected */
  size_t max_body;
  int done;
  /* Streaming (on_data): the head was read; the body's framing. */
  weft__http_fetch_data_cb on_data;
  uint8_t streaming, chunked, crlf; /* crlf: a chunk's data ended, its CRLF next */
  int status;
  size_t left; /* of the body (SIZE_MAX: up to the end) or of the chunk */
};

/* Reports once, then closes. */
static void finish(weft__http_fetch *f, const weft__http_result *r) {
  if (!f->done) {
    f->done = 1;
    if (f->cb) f->cb(r, f->user);
  }
  weft__stream_close(&f->io);
}

static void fail(weft__http_fetch *f, int code, const char *kind, const char *msg) {
  weft__http_result r = {code, kind, msg, 0, NULL, 0, NULL};
  finish(f, &r);
}

/* A streamed body ended: cb with its status. */
static void ended(weft__http_fetch *f) {
  weft__http_result r = {0, NULL, NULL, f->status, NULL, 0, NULL};
  finish(f, &r);
}

/* A streamed body's bytes: handed on as they come, chunked encoding
 * removed (a chunk's head line is kept until whole). Returns what it used. */
static size_t stream_body(weft__http_fetch *f, uint8_t *data, size_t len) {
  size_t pos = 0;
  while (!f->done) {
    size_t n = len - pos < f->left ? len - pos : f->left;
    if (n) f->on_data(data + pos, n, f->user);
    pos += n;
    if (f->left != SIZE_MAX) f->left -= n;
    if (f->done) break;
    if (!f->chunked) {
      if (f->left == 0) ended(f);
      break;
    }
    if (n && f->left == 0) f->crlf = 1;
    if (pos == len) break;
    /* A chunk's head: its size in hex, maybe extensions, CRLF (after the
     * CRLF that ends the previous chunk's data). */
    const uint8_t *nl = memchr(data + pos, '\n', len - pos);
    if (!nl) {
      if (len - pos > 64) fail(f, WEFT_EPROTO, "protocol", "a malformed chunk");
      return f->done ? len : pos;
    }
    const uint8_t *p = data + pos, *end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    pos = (size_t)(nl - data) + 1;
    if (f->crlf) {
      f->crlf = 0;
      if (end != p) fail(f, WEFT_EPROTO, "protocol", "a malformed chunk");
      continue;
    }
    uint64_t size = 0;
    int digits = 0;
    for (; p < end && digits < 12; p++, digits++) {
      int v = *p >= '0' && *p <= '9'   ? *p - '0'
              : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
              : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                       : -1;
      if (v < 0) break;
      size = size * 16 + (uint64_t)v;
    }
    if (!digits || (p < end && *p != ';' && *p != ' ')) {
      fail(f, WEFT_EPROTO, "protocol", "a malformed chunk");
      break;
    }
    if (size == 0) { /* the last chunk (trailers ignored) */
      ended(f);
      break;
    }
    f->left = (size_t)size;
  }
  return len;
}

/* Reads the whole answer before reporting it (unless streaming); anything
 * that is not a usable answer reports status 0 (the caller keeps its
 * defaults). */
static size_t on_read(weft__stream *io, uint8_t *data, size_t len) {
  weft__http_fetch *f = WEFT__CONTAINER(io, weft__http_fetch, io);
  if (f->done) return len;
  if (f->streaming) return stream_body(f, data, len);
  weft__http_head h;
  int rc = weft__http_parse_response(data, len, &h);
  if (rc == 0) return 0;
  weft__http_result r = {0, NULL, NULL, 0, NULL, 0, NULL};
  if (rc > 0) {
    size_t used = (size_t)rc;
    const char *cl = weft__http_get(&h, "Content-Length");
    if (f->on_data && h.status == 200) {
      const char *te = weft__http_get(&h, "Transfer-Encoding");
      f->streaming = 1;
      f->status = h.status;
      f->chunked = te && weft__http_has_token(te, "chunked");
      f->left = f->chunked ? 0 : cl ? (size_t)strtoull(cl, NULL, 10) : SIZE_MAX;
      weft__http_head_free(&h);
      if (!f->chunked && f->left == 0) {
        ended(f);
        return len;
      }
      return used + stream_body(f, data + used, len - used);
    }
    size_t body = cl ? (size_t)strtoull(cl, NULL, 10) : len - used;
    if (cl && body > f->max_body) body = 0; /* too big: the status alone */
    if (len - used < body) {
      weft__http_head_free(&h);
      weft__stream_need(io, used + body);
      return 0; /* the whole answer first */
    }
    r.status = h.status;
    r.set_cookie = weft__http_get(&h, "Set-Cookie");
    if (body) {
      r.body = data + used;
      r.len = body;
    }
    weft__stream_need(&f->io, 0);
    if (!f->done) {
      f->done = 1;
      if (f->cb) f->cb(&r, f->user);
    }
    weft__http_head_free(&h);
    weft__stream_close(&f->io);
    return len;
  }
  finish(f, &r);
  return len;
}

static void on_eof(weft__stream *io, int uverr) {
  weft__http_fetch *f = WEFT__CONTAINER(io, weft__http_fetch, io);
  const char *tls_err = weft__stream_tls_error(io);
  if (*tls_err) {
    fail(f, WEFT_EPROTO, "tls", tls_err);
  } else if (uverr == UV_EOF && f->streaming) { /* a streamed body's end */
    if (f->left == SIZE_MAX)
      ended(f);
    else
      fail(f, WEFT_EPROTO, "protocol", "the answer was cut short");
  } else if (uverr == UV_EOF) { /* closed without an answer: nothing to learn */
    weft__http_result r = {0, NULL, NULL, 0, NULL, 0, NULL};
    finish(f, &r);
  } else {
    fail(f, weft__uv_err(uverr), "connect", uv_strerror(uverr));
  }
}

static void on_written(weft__stream *io) { (void)io; }

static void on_closed(weft__stream *io) {
  weft__http_fetch *f = WEFT__CONTAINER(io, weft__http_fetch, io);
  weft_loop *loop = f->io.loop;
  weft__payload_release(f->request);
  free(f);
  loop->users--;
}

static const weft__stream_ops fetch_ops = {on_read, on_eof, on_written, on_closed, NULL};

static void on_connected(weft__connector *c, int status, const char *why) {
  weft__http_fetch *f = WEFT__CONTAINER(c, weft__http_fetch, conn);
  if (status) {
    fail(f, status, "connect", why);
    return;
  }
  int rc = weft__stream_enqueue(&f->io, f->request);
  if (rc == 0) rc = weft__stream_start(&f->io);
  if (rc) fail(f, rc, "connect", NULL);
}

int weft__http_fetch_request(weft_loop *loop, const weft__url *u, const weft__http_request *req,
                             struct weft__tls_ctx *tls, weft__http_fetch_cb cb, void *user,
                             weft__http_fetch **out) {
  *out = NULL;
  weft__http_fetch *f = calloc(1, sizeof(*f));
  if (!f) return WEFT_ENOMEM;
  f->cb = cb;
  f->user = user;
  f->max_body = req->max_body;
  f->on_data = req->on_data;
  char host[300], head[1600];
  int v6 = strchr(u->host, ':') != NULL;
  if (u->sock[0])
    snprintf(host, sizeof(host), "localhost");
  else
    snprintf(host, sizeof(host), "%s%s%s:%d", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
  char body_head[160] = "";
  if (req->body || strcmp(req->method, "GET") != 0)
    snprintf(body_head, sizeof(body_head), "Content-Type: %s\r\nContent-Length: %zu\r\n",
             req->ctype ? req->ctype : "text/plain;charset=UTF-8", req->body_len);
  int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%sConnection: close\r\n",
                   req->method, req->target, host, req->accept ? "Accept: " : "",
                   req->accept ? req->accept : "", req->accept ? "\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof(head)) {
    free(f);
    return WEFT_EURL;
  }
  size_t hb = strlen(body_head), total = (size_t)n + req->headers_len + hb + 2 + req->body_len;
  f->request = weft__payload_new(WEFT__P_RAW, NULL, total);
  if (!f->request) {
    free(f);
    return WEFT_ENOMEM;
  }
  uint8_t *w = f->request->data;
  memcpy(w, head, (size_t)n);
  w += n;
  if (req->headers_len) memcpy(w, req->headers, req->headers_len);
  w += req->headers_len;
  memcpy(w, body_head, hb);
  w += hb;
  memcpy(w, "\r\n", 2);
  w += 2;
  if (req->body_len) memcpy(w, req->body, req->body_len);
  loop->users++;
  weft__stream_init(&f->io, loop, weft__url_stream_kind(u), &fetch_ops);
  int rc = tls ? weft__stream_tls(&f->io, tls, 0, u->host) : 0;
  if (rc == 0) rc = weft__connector_start(&f->conn, &f->io, u, on_connected);
  if (rc) {
    f->done = 1;
    weft__stream_close(&f->io);
    return rc;
  }
  *out = f;
  return 0;
}

int weft__http_fetch_start(weft_loop *loop, const weft__url *u, const char *target,
                           struct weft__tls_ctx *tls, weft__http_fetch_cb cb, void *user,
                           weft__http_fetch **out) {
  weft__http_request req = {.method = "GET",
                            .target = target,
                            .accept = "application/json",
                            .max_body = WEFT__FETCH_MAX_BODY};
  return weft__http_fetch_request(loop, u, &req, tls, cb, user, out);
}

void weft__http_fetch_cancel(weft__http_fetch *f) {
  f->done = 1;
  if (!weft__connector_cancel(&f->conn)) weft__stream_close(&f->io);
}
