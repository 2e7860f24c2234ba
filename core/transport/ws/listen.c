/*
 * The WebSocket listener: an HTTP endpoint whose upgrade requests become
 * connections. A valid upgrade is held while the owner admits it (Primus's
 * authorize may answer later), then answered with 101 and handed frames.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "base/common.h"
#include "ws.h"

static weft__ws_sconn *of_hc(weft__http_conn *hc) {
  return WEFT__CONTAINER(hc, weft__ws_sconn, hc);
}

static weft__listener *listener_of(weft__http_conn *hc) { return weft__http_user(hc); }

/* ---- how a server connection ends ---- */

static void side_linger(weft__ws_conn *w) {
  w->state = WEFT__WS_LINGER;
  weft__http_linger(&((weft__ws_sconn *)w)->hc);
}

static void side_abort(weft__ws_conn *w) { weft__http_abort(&((weft__ws_sconn *)w)->hc); }

static void side_deadline(weft__ws_conn *w, uint32_t ms) {
  weft__http_deadline(&((weft__ws_sconn *)w)->hc, ms);
}

const weft__ws_side weft__ws_server_side = {side_linger, side_abort, side_deadline, NULL};

static const weft__http_handler handler;

/* ---- the HTTP handler ---- */

static void on_request(weft__http_conn *hc) {
  const weft__http_head *h = &hc->req.head;
  if (!weft__http_header_has(h, "Upgrade", "websocket")) {
    weft__http_respond_status(hc, 426, NULL);
    return;
  }
  if (!weft__ws_upgrade_ok(hc)) return;
  weft__listener *l = listener_of(hc);
  weft__ws_sconn *sc = of_hc(hc);
  weft__ws_conn *w = &sc->ws;
  w->base.tran = &weft__transport_ws;
  w->base.ev = l->p.ev;
  w->base.owner = (char *)sc - l->p.owner_size;
  weft__http_hold(hc);
  w->admitting = 1; /* an accept from in here: the read goes on by itself */
  l->p.admit(&w->base, l->p.user);
  w->admitting = 0;
}

/* The listener's streams for this window size, made on first use (NULL
 * when out of memory: the connection goes uncompressed). */
static weft__pmd *shared_pmd(weft__ws_listener *wl, int bits) {
  weft__pmd **z = &wl->pmd[(bits < 9 ? 9 : bits) - 9];
  if (!*z && weft__pmd_new(z, bits, 0) != 0) return NULL;
  return *z;
}

int weft__ws_serve(weft__ws_sconn *sc, size_t max_length, weft__pmd *pmd, const char *extra) {
  weft__http_conn *hc = &sc->hc;
  weft__ws_conn *w = &sc->ws;
  /* Checked by the caller (weft__ws_upgrade_ok or engine.io's request):
   * only the key is hashed here. */
  char accept[29];
  weft__ws_accept_key(weft__http_get(&hc->req.head, "Sec-WebSocket-Key"), accept);
  if (!accept[0]) {
    weft__ws_abort(&w->base);
    return WEFT_EPROTO;
  }
  /* Put together without a printf: it is one in every connection's cost. */
  static const char top[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
  char head[512];
  size_t el = extra ? strlen(extra) : 0, n = sizeof top - 1;
  weft__payload *p = NULL;
  if (n + 28 + 2 + el + 2 <= sizeof head) {
    memcpy(head, top, n);
    memcpy(head + n, accept, 28);
    memcpy(head + n + 28, "\r\n", 2);
    n += 30;
    if (el) memcpy(head + n, extra, el);
    memcpy(head + n + el, "\r\n", 2);
    p = weft__payload_new(WEFT__P_RAW, head, n + el + 2);
  }
  int rc = p ? weft__stream_enqueue(&hc->io, p) : WEFT_ENOMEM;
  weft__payload_release(p);
  if (rc) {
    weft__ws_abort(&w->base);
    return rc;
  }
  weft__http_upgraded(hc, &handler.upgraded);
  weft__ws_reader_init(&w->reader, 1, max_length);
  w->reader.allow_rsv1 = pmd != NULL;
  w->reader.pmd = pmd;
  weft__ws_open(w);
  return 0;
}

int weft__ws_serve_for(weft__ws_sconn *sc, const weft__conn_events *ev, void *owner,
                       size_t max_length) {
  sc->ws.base.tran = &weft__transport_ws;
  sc->ws.base.ev = ev;
  sc->ws.base.owner = owner;
  return weft__ws_serve(sc, max_length, NULL, NULL);
}

void weft__ws_accept(weft__conn *c) {
  weft__ws_sconn *sc = (weft__ws_sconn *)c;
  weft__http_conn *hc = &sc->hc;
  weft__ws_conn *w = &sc->ws;
  if (hc->state != WEFT__HC_HELD || w->state != WEFT__WS_NEW) return;
  int inside = w->admitting;
  weft__listener *l = listener_of(hc);
  weft__ws_listener *wl = weft__listener_priv(l);
  char ext[200] = "";
  weft__pmd *pmd = NULL;
  if (l->p.compression) {
    weft__pmd_params pp;
    char resp[128];
    if (weft__pmd_negotiate(weft__http_get(&hc->req.head, "Sec-WebSocket-Extensions"), &pp, resp,
                            sizeof(resp)) == 0 &&
        pp.enabled && (pmd = shared_pmd(wl, pp.server_max_window_bits)))
      snprintf(ext, sizeof(ext), "Sec-WebSocket-Extensions: %s\r\n", resp);
  }
  if (wl->psk_len) { /* decision #26: the handshake follows the 101 */
    if (weft__ws_psk_new(w, wl->psk, wl->psk_len) != 0) {
      weft__http_refuse(hc, 500, NULL);
      return;
    }
    strcat(ext, "Weft-Psk: 1\r\n");
  }
  if (weft__ws_serve(sc, l->p.max_length, pmd, ext) != 0) return;
  /* Bytes that came after the head while the answer was awaited. */
  if (!inside && (w->state == WEFT__WS_OPEN || w->psk)) weft__stream_reprocess(&hc->io);
}

void weft__ws_reject(weft__conn *c, int status, const char *message) {
  weft__http_conn *hc = &((weft__ws_sconn *)c)->hc;
  if (hc->state != WEFT__HC_HELD) return;
  weft__http_refuse(hc, status, message);
}

int weft__ws_upgrade_ok(weft__http_conn *hc) {
  const weft__http_head *h = &hc->req.head;
  int rc = weft__ws_check_upgrade(h, NULL); /* the key is hashed once, by weft__ws_serve */
  /* A body with the upgrade would be read as frames: refuse it. */
  const char *cl = weft__http_get(h, "Content-Length");
  if (rc == 0 && (weft__http_get(h, "Transfer-Encoding") || (cl && strspn(cl, "0") != strlen(cl))))
    rc = WEFT_EPROTO;
  if (rc == WEFT_EUNSUPPORTED)
    weft__http_respond_status(hc, 426, "Sec-WebSocket-Version: 13\r\n");
  else if (rc != 0)
    weft__http_respond_status(hc, 400, NULL);
  return rc == 0;
}

/* ---- the stream, once upgraded ---- */

static weft__ws_sconn *of_io(weft__stream *io) {
  return of_hc(WEFT__CONTAINER(io, weft__http_conn, io));
}

static size_t on_read(weft__stream *io, uint8_t *data, size_t len) {
  return weft__ws_read(&of_io(io)->ws, data, len);
}

static void on_written(weft__stream *io) {
  weft__ws_sconn *sc = of_io(io);
  weft__ws_conn *w = &sc->ws;
  if (w->state == WEFT__WS_OPEN && w->base.ev->drained)
    w->base.ev->drained(&w->base);
  else if (sc->hc.state == WEFT__HC_LINGER && weft__stream_idle(io))
    weft__http_abort(&sc->hc);
}

static void on_seal(weft__stream *io) {
  weft__ws_conn *w = &of_io(io)->ws;
  if (w->state == WEFT__WS_OPEN && w->base.ev->seal) w->base.ev->seal(&w->base);
}

static void on_eof(weft__stream *io, int uverr) {
  (void)uverr;
  weft__ws_abort(&of_io(io)->ws.base);
}

static void on_upgraded_closed(weft__stream *io) {
  weft__ws_sconn *sc = of_io(io);
  weft__http_closed(&sc->hc, weft__ws_closed(&sc->ws, NULL));
}

/* Before an upgrade: a held request whose peer went away. */
static int on_closed(weft__http_conn *hc) { return weft__ws_closed(&of_hc(hc)->ws, NULL); }

static int claims(const weft__http_conn *hc) {
  return weft__http_header_has(&hc->req.head, "Upgrade", "websocket");
}

static const weft__http_handler handler = {
    .claims = claims,
    .request = on_request,
    .upgraded = {on_read, on_eof, on_written, on_upgraded_closed, on_seal},
    .closed = on_closed,
};

/* ---- the listener ---- */

static void on_endpoint_closed(weft__http_endpoint *ep) {
  weft__listener *l = ep->user;
  weft__ws_listener *wl = weft__listener_priv(l);
  for (size_t i = 0; i < WEFT__PMD_WINDOWS; i++) {
    weft__pmd_free(wl->pmd[i]);
    wl->pmd[i] = NULL;
  }
  OPENSSL_cleanse(wl->psk, sizeof(wl->psk));
  l->p.closed(l, l->p.user);
}

int weft__ws_endpoint_open(weft__listener *l, weft__http_endpoint *ep, const weft__http_handler *h,
                           void (*closed)(weft__http_endpoint *ep)) {
  ep->site = l->p.site;
  ep->handler = h;
  ep->user = l;
  ep->tls = l->p.tls;
  ep->conn_size = l->p.owner_size + sizeof(weft__ws_sconn);
  ep->conn_offset = l->p.owner_size + offsetof(weft__ws_sconn, hc);
  ep->closed = closed;
  l->http = ep;
  int rc =
      weft__http_endpoint_open(ep, l->p.loop, &l->p.url, l->p.path, l->p.unix_mode, l->p.attached);
  l->port = rc ? 0 : l->p.attached ? l->p.url.port : weft__http_endpoint_port(ep);
  weft__url_format(&l->p.url, l->port, ep->path, l->served, sizeof(l->served));
  return rc;
}

int weft__ws_bind(weft__listener *l) {
  weft__ws_listener *wl = weft__listener_priv(l);
  if (l->p.psk_len && l->p.psk_len <= sizeof(wl->psk)) { /* the server checked its length */
    memcpy(wl->psk, l->p.psk, l->p.psk_len);
    wl->psk_len = l->p.psk_len;
  }
  return weft__ws_endpoint_open(l, &wl->ep, &handler, on_endpoint_closed);
}

const weft__http_req *weft__ws_peer(const weft__conn *c) {
  const weft__ws_conn *w = (const weft__ws_conn *)c;
  return w->client ? NULL : &((const weft__ws_sconn *)w)->hc.req;
}

weft__http_req *weft__ws_request(weft__conn *c) {
  weft__ws_conn *w = (weft__ws_conn *)c;
  return w->client ? NULL : &((weft__ws_sconn *)w)->hc.req;
}

int weft__ws_adopt(weft__listener *l, int fd, const void *head, size_t len, int once) {
  weft__ws_listener *wl = weft__listener_priv(l);
  return weft__http_endpoint_adopt(&wl->ep, fd, head, len, once);
}

void weft__ws_stop(weft__listener *l, int hard) {
  weft__ws_listener *wl = weft__listener_priv(l);
  weft__http_endpoint_stop(&wl->ep, hard);
}
