/* One HTTP GET (see fetch.h). */
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

/* Reads the whole answer before reporting it; anything that is not a usable
 * answer reports status 0 (the caller keeps its defaults). */
static size_t on_read(weft__stream *io, uint8_t *data, size_t len) {
  weft__http_fetch *f = WEFT__CONTAINER(io, weft__http_fetch, io);
  if (f->done) return len;
  weft__http_head h;
  int rc = weft__http_parse_response(data, len, &h);
  if (rc == 0) return 0;
  weft__http_result r = {0, NULL, NULL, 0, NULL, 0, NULL};
  if (rc > 0) {
    size_t used = (size_t)rc;
    const char *cl = weft__http_get(&h, "Content-Length");
    size_t body = cl ? (size_t)strtoull(cl, NULL, 10) : len - used;
    if (cl && body > f->max_body) body = 0; /* too big: the status alone */
    if (len - used < body) {
      weft__http_head_free(&h);
      io->need = used + body;
      return 0; /* the whole answer first */
    }
    r.status = h.status;
    r.set_cookie = weft__http_get(&h, "Set-Cookie");
    if (body) {
      r.body = data + used;
      r.len = body;
    }
    f->io.need = 0;
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
  weft__http_request req = {"GET", target, "application/json",  NULL, 0, NULL,
                            0,     NULL,   WEFT__FETCH_MAX_BODY};
  return weft__http_fetch_request(loop, u, &req, tls, cb, user, out);
}

void weft__http_fetch_cancel(weft__http_fetch *f) {
  f->done = 1;
  if (!weft__connector_cancel(&f->conn)) weft__stream_close(&f->io);
}
