/*
 * The WebSocket dialer: a byte stream to the URL's address (TCP, TLS, Unix
 * socket), the upgrade request, the server's answer, then frames. A dial
 * the owner gives up on is detached (no events) and closes on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "runtime/tls.h"
#include "ws.h"

enum { D_CONNECTING, D_HANDSHAKE, D_REFUSED, D_WS };

#define WEFT__REFUSAL_BODY_MAX 65536

typedef struct ws_dconn {
  weft__ws_conn ws;
  weft__stream io; /* right after ws, as in a server connection */
  weft__connector connector;
  weft_loop *loop;
  uint8_t phase;
  uint8_t failed;
  char accept[29];
  int status; /* of a refusal */
  size_t body_need;
  size_t max_length;
  uint8_t compression;    /* permessage-deflate offered */
  weft__pmd *pmd;         /* … and accepted: this connection's zlib streams */
  weft__payload *request; /* the upgrade request, sent once connected */
  weft__fault fault;
  char fault_msg[160];
  weft__rand rand; /* masks: the owner may be gone before the last frame */
} ws_dconn;

_Static_assert(offsetof(ws_dconn, io) == sizeof(weft__ws_conn) &&
                   offsetof(weft__ws_sconn, hc) + offsetof(weft__http_conn, io) ==
                       sizeof(weft__ws_conn),
               "both sides keep their byte stream right after weft__ws_conn");

static ws_dconn *of_io(weft__stream *io) { return WEFT__CONTAINER(io, ws_dconn, io); }

/* Records why it failed (the first reason wins) and closes. */
static void fail(ws_dconn *d, int code, const char *kind, const char *msg) {
  if (!d->failed) {
    d->failed = 1;
    snprintf(d->fault_msg, sizeof(d->fault_msg), "%s", msg ? msg : weft_strerror(code));
    d->fault = (weft__fault){code, kind, d->fault_msg};
  }
  weft__ws_abort(&d->ws.base);
}

/* ---- how a client connection ends ---- */

static void side_linger(weft__ws_conn *w) {
  ws_dconn *d = (ws_dconn *)w;
  w->state = WEFT__WS_LINGER;
  if (weft__stream_idle(&d->io)) weft__stream_close(&d->io);
}

static void side_abort(weft__ws_conn *w) {
  ws_dconn *d = (ws_dconn *)w;
  /* A name being resolved holds the connector's memory: the stream closes
   * when the resolver answers. */
  if (d->phase == D_CONNECTING && weft__connector_cancel(&d->connector)) return;
  weft__stream_close(&d->io);
}

static weft__rand *side_rand(weft__ws_conn *w) { return &((ws_dconn *)w)->rand; }

const weft__ws_side weft__ws_client_side = {side_linger, side_abort, NULL, side_rand};

/* ---- the handshake ---- */

static void refused(ws_dconn *d, const uint8_t *body, size_t n) {
  weft__conn *c = &d->ws.base;
  if (c->owner && c->ev->refused) c->ev->refused(c, d->status, body, n);
  d->failed = 1; /* reported: closed carries no fault */
  weft__ws_abort(c);
}

static size_t handshake(ws_dconn *d, uint8_t *data, size_t len) {
  weft__http_head h;
  int rc = weft__http_parse_response(data, len, &h);
  if (rc == 0) return 0;
  if (rc < 0) {
    fail(d, WEFT_EPROTO, "protocol", "malformed HTTP response to the upgrade");
    return len;
  }
  size_t used = (size_t)rc;
  if (h.status != 101) {
    d->status = h.status;
    const char *cl = weft__http_get(&h, "Content-Length");
    d->body_need = cl ? (size_t)strtoul(cl, NULL, 10) : SIZE_MAX;
    if (d->body_need > WEFT__REFUSAL_BODY_MAX) d->body_need = WEFT__REFUSAL_BODY_MAX;
    d->phase = D_REFUSED;
    weft__http_head_free(&h);
    return used;
  }
  const char *acc = weft__http_get(&h, "Sec-WebSocket-Accept");
  const char *ext = weft__http_get(&h, "Sec-WebSocket-Extensions");
  int ok = weft__http_header_has(&h, "Upgrade", "websocket") &&
           weft__http_header_has(&h, "Connection", "upgrade") && acc && strcmp(acc, d->accept) == 0;
  /* An extension we did not offer, or an answer we cannot honour, fails
   * the connection (RFC 6455 4.1, RFC 7692 5). */
  weft__pmd_params pp = {0};
  int ext_ok = ext ? d->compression && weft__pmd_accept(ext, &pp) == 0 : 1;
  int psk = weft__http_get(&h, "Weft-Psk") != NULL; /* decision #26 */
  weft__http_head_free(&h);
  if (!ok || !ext_ok) {
    fail(d, WEFT_EPROTO, "protocol",
         ok ? "invalid Sec-WebSocket-Extensions in the upgrade response"
            : "invalid WebSocket upgrade response");
    return len;
  }
  /* Our frames use the window the server allows; its frames keep their
   * context unless it gave that up. */
  if (pp.enabled &&
      weft__pmd_new(&d->pmd, pp.client_max_window_bits, !pp.server_no_context_takeover) != 0) {
    fail(d, WEFT_ENOMEM, "io", NULL);
    return len;
  }
  if (psk != (d->ws.psk != NULL)) { /* a key on one side only */
    const char *why =
        psk ? "the server requires a pre-shared key" : "the server does not use a pre-shared key";
    d->status = 401;
    refused(d, (const uint8_t *)why, strlen(why));
    return len;
  }
  weft__ws_reader_init(&d->ws.reader, 0, d->max_length);
  d->ws.reader.allow_rsv1 = d->pmd != NULL;
  d->ws.reader.pmd = d->pmd;
  d->phase = D_WS;
  weft__ws_open(&d->ws);
  return used;
}

/* ---- the stream ---- */

static size_t on_read(weft__stream *io, uint8_t *data, size_t len) {
  ws_dconn *d = of_io(io);
  size_t used = 0;
  if (d->phase == D_HANDSHAKE) {
    used = handshake(d, data, len);
    if (d->ws.state == WEFT__WS_CLOSED) return len;
    if (d->phase == D_HANDSHAKE) return 0; /* the answer's head is not all here */
  }
  if (d->phase == D_REFUSED) {
    if (len - used >= d->body_need) refused(d, data + used, d->body_need);
    return d->ws.state == WEFT__WS_CLOSED ? len : used;
  }
  if (d->phase == D_WS) return used + weft__ws_read(&d->ws, data + used, len - used);
  return len;
}

static void on_eof(weft__stream *io, int uverr) {
  ws_dconn *d = of_io(io);
  if (d->phase == D_REFUSED) { /* the body ended with the connection */
    refused(d, io->in ? io->in->data : (const uint8_t *)"", weft__stream_kept(io));
    return;
  }
  const char *tls_err = weft__stream_tls_error(io);
  if (d->ws.state == WEFT__WS_NEW && *tls_err)
    fail(d, WEFT_EPROTO, "tls", tls_err);
  else if (d->ws.state == WEFT__WS_NEW)
    fail(d, weft__uv_err(uverr), "connect", uv_strerror(uverr));
  else
    weft__ws_abort(&d->ws.base);
}

static void on_written(weft__stream *io) {
  ws_dconn *d = of_io(io);
  weft__conn *c = &d->ws.base;
  /* the owner's queue shrank: its writers waiting for credit go on */
  if (d->ws.state == WEFT__WS_OPEN && c->owner && c->ev->drained)
    c->ev->drained(c);
  else if (d->ws.state == WEFT__WS_LINGER && weft__stream_idle(io))
    weft__stream_close(io);
}

static void on_seal(weft__stream *io) {
  weft__conn *c = &of_io(io)->ws.base;
  if (of_io(io)->ws.state == WEFT__WS_OPEN && c->owner && c->ev->seal) c->ev->seal(c);
}

static void on_closed(weft__stream *io) {
  ws_dconn *d = of_io(io);
  weft_loop *loop = d->loop;
  weft__payload_release(d->request);
  weft__ws_closed(&d->ws, d->failed && d->fault.kind ? &d->fault : NULL);
  weft__pmd_free(d->pmd);
  free(d);
  loop->users--;
}

static const weft__stream_ops dial_ops = {on_read, on_eof, on_written, on_closed, on_seal};

static void on_connected(weft__connector *cn, int status, const char *why) {
  ws_dconn *d = WEFT__CONTAINER(cn, ws_dconn, connector);
  if (d->ws.state == WEFT__WS_CLOSED) { /* given up while the name resolved */
    weft__stream_close(&d->io);
    return;
  }
  if (status) {
    fail(d, status, "connect", why);
    return;
  }
  int rc = weft__stream_enqueue(&d->io, d->request);
  weft__payload_release(d->request);
  d->request = NULL;
  if (rc == 0) rc = weft__stream_start(&d->io);
  if (rc) {
    fail(d, rc, "connect", NULL);
    return;
  }
  d->phase = D_HANDSHAKE;
}

/* The upgrade request: target, Host, the key, and the owner's headers. */
static int build_request(ws_dconn *d, const weft__dial_params *p) {
  char key[25];
  if (weft__ws_make_key(key) != 0) return WEFT_EIO;
  weft__ws_accept_key(key, d->accept);
  const weft__url *u = &p->url;
  char host[300];
  int v6 = strchr(u->host, ':') != NULL;
  if (u->sock[0])
    snprintf(host, sizeof(host), "localhost");
  else
    snprintf(host, sizeof(host), "%s%s%s:%d", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
  char head[1700];
  int n = snprintf(head, sizeof(head),
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "%s%s%s",
                   u->path, host, key, p->compression ? "Sec-WebSocket-Extensions: " : "",
                   p->compression ? weft__pmd_offer : "", p->compression ? "\r\n" : "");
  size_t extra = p->headers ? p->headers->len : 0;
  if (n < 0 || (size_t)n >= sizeof(head)) return WEFT_EURL;
  weft__payload *r = weft__payload_new(WEFT__P_RAW, NULL, (size_t)n + extra + 2);
  if (!r) return WEFT_ENOMEM;
  memcpy(r->data, head, (size_t)n);
  if (extra) memcpy(r->data + n, p->headers->data, extra);
  memcpy(r->data + n + extra, "\r\n", 2);
  d->request = r;
  return 0;
}

int weft__ws_dial(const weft__dial_params *p, weft__conn **out) {
  *out = NULL;
  ws_dconn *d = calloc(1, sizeof(*d));
  if (!d) return WEFT_ENOMEM;
  d->ws.base.tran = &weft__transport_ws;
  d->ws.base.ev = p->ev;
  d->ws.base.owner = p->owner;
  d->ws.client = 1;
  d->loop = p->loop;
  d->max_length = p->max_length;
  d->compression = p->compression != 0;
  p->loop->users++;
  weft__stream_init(&d->io, p->loop, weft__url_stream_kind(&p->url), &dial_ops);
  *out = &d->ws.base;
  int rc = build_request(d, p);
  if (rc == 0 && p->psk_len) rc = weft__ws_psk_new(&d->ws, p->psk, p->psk_len);
  if (rc == 0 && p->tls) rc = weft__stream_tls(&d->io, p->tls, 0, p->url.host);
  if (rc == 0) rc = weft__connector_start(&d->connector, &d->io, &p->url, on_connected);
  if (rc)
    fail(d, rc, "connect",
         rc == WEFT_EIO ? "no randomness for the WebSocket key" : weft_strerror(rc));
  return 0;
}

void weft__ws_cancel(weft__conn *c, int orderly) {
  weft__ws_conn *w = (weft__ws_conn *)c;
  c->owner = NULL;
  if (orderly && w->state == WEFT__WS_OPEN) {
    weft__ws_send_close(w, WEFT__CLOSE_NORMAL, NULL);
    weft__ws_down(w, NULL);
    side_linger(w);
  } else {
    weft__ws_abort(c);
  }
}
