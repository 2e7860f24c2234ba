/*
 * HTTP endpoints and connections (see server.h): accepting byte streams,
 * reading request heads, answering, lingering, deadlines, and handing a
 * connection's bytes to the framing after an upgrade.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "runtime/log.h"
#include "runtime/payload.h"
#include "runtime/tls.h"
#include "server.h"

#define WEFT__REAPER_MS 250
#define WEFT__HEAD_MS 10000  /* a request head must arrive within this */
#define WEFT__LINGER_MS 2000 /* an answer must be written within this */

/* ---- the pending list and its deadlines ---- */

static void on_reaper(uv_timer_t *t) {
  weft__http_endpoint *ep = t->data;
  uint32_t now = (uint32_t)uv_now(ep->loop->uv);
  /* Backwards: a removal moves the last one into its place, and an abort
   * can remove others; what moves below `i` is still met, what is added
   * meanwhile waits for the next round. */
  for (uint32_t i = ep->n_pending; i-- > 0;) {
    if (i >= ep->n_pending) continue;
    weft__http_conn *hc = ep->pending[i];
    if (!hc->forever && (int32_t)(hc->deadline - now) <= 0) weft__http_abort(hc);
  }
  if (!ep->n_pending) {
    uv_timer_stop(&ep->reaper);
    ep->reaper_active = 0;
  }
}

/* Room for one more pending connection. Returns 0 or WEFT_ENOMEM. */
static int pending_reserve(weft__http_endpoint *ep) {
  if (ep->n_pending < ep->pending_cap) return 0;
  if (ep->pending_cap > UINT32_MAX / 2 - 1) return WEFT_ENOMEM;
  uint32_t cap = ep->pending_cap ? ep->pending_cap * 2 : 16;
  weft__http_conn **a = realloc(ep->pending, cap * sizeof(*a));
  if (!a) return WEFT_ENOMEM;
  ep->pending = a;
  ep->pending_cap = cap;
  return 0;
}

/* (Re)arms the deadline. Out of memory for the list, the connection is
 * aborted (as if its deadline had passed: nothing else would end it) and
 * WEFT_ENOMEM returned. */
static int pending_add(weft__http_conn *hc, uint64_t ms) {
  weft__http_endpoint *ep = hc->ep;
  hc->forever = ms == UINT64_MAX;
  if (ms > INT32_MAX) ms = INT32_MAX; /* 24.8 days at most: see deadline */
  hc->deadline = (uint32_t)(uv_now(ep->loop->uv) + ms);
  if (hc->pidx) return 0;
  if (pending_reserve(ep) != 0) {
    weft__http_abort(hc);
    return WEFT_ENOMEM;
  }
  ep->pending[ep->n_pending++] = hc;
  hc->pidx = ep->n_pending;
  if (!ep->reaper_active && ep->timer_open && !uv_is_closing((uv_handle_t *)&ep->reaper)) {
    uv_timer_start(&ep->reaper, on_reaper, WEFT__REAPER_MS, WEFT__REAPER_MS);
    ep->reaper_active = 1;
  }
  return 0;
}

static void pending_remove(weft__http_conn *hc) {
  if (!hc->pidx) return;
  weft__http_endpoint *ep = hc->ep;
  weft__http_conn *last = ep->pending[--ep->n_pending];
  ep->pending[hc->pidx - 1] = last;
  last->pidx = hc->pidx;
  hc->pidx = 0;
  /* A burst of handshakes made it long: give most of it back. */
  if (ep->pending_cap > 64 && ep->n_pending < ep->pending_cap / 4) {
    weft__http_conn **a = realloc(ep->pending, ep->pending_cap / 2 * sizeof(*a));
    if (a) {
      ep->pending = a;
      ep->pending_cap /= 2;
    }
  }
}

/* ---- closing ---- */

void weft__http_abort(weft__http_conn *hc) {
  if (hc->state == WEFT__HC_CLOSED) return;
  pending_remove(hc);
  hc->state = WEFT__HC_CLOSED;
  weft__stream_close(&hc->io);
}

void weft__http_linger(weft__http_conn *hc) {
  if (hc->state == WEFT__HC_CLOSED || hc->state == WEFT__HC_LINGER) return;
  weft__http_site_handshake_done(hc->ep->site, hc);
  hc->state = WEFT__HC_LINGER;
  pending_add(hc, WEFT__LINGER_MS);
  if (weft__stream_idle(&hc->io)) weft__http_abort(hc);
}

/* An HTTP answer is written: the write side ends and what the peer still
 * sends is read and dropped until it closes (or the linger deadline), so
 * the answer is not lost to a reset of unread input. */
static void answered(weft__http_conn *hc) {
  if (hc->shut || weft__stream_shutdown(&hc->io) != 0)
    weft__http_abort(hc);
  else
    hc->shut = 1;
}

void weft__http_hold(weft__http_conn *hc) {
  if (hc->state != WEFT__HC_HEAD && hc->state != WEFT__HC_HELD) return;
  hc->state = WEFT__HC_HELD;
  pending_add(hc, UINT64_MAX);
}

void weft__http_park(weft__http_conn *hc) {
  weft__http_hold(hc);
  if (hc->state == WEFT__HC_HELD) hc->parked = 1;
}

void weft__http_upgraded(weft__http_conn *hc, const weft__stream_ops *ops) {
  if (hc->state == WEFT__HC_CLOSED) return;
  pending_remove(hc);
  weft__http_site_handshake_done(hc->ep->site, hc);
  hc->state = WEFT__HC_UPGRADED;
  hc->io.ops = ops ? ops : &weft__http_handler_of(hc)->upgraded;
}

void weft__http_deadline(weft__http_conn *hc, uint32_t ms) {
  if (hc->state == WEFT__HC_CLOSED) return;
  if (ms)
    pending_add(hc, ms);
  else
    pending_remove(hc);
}

/* ---- handlers, bodies, keep-alive ---- */

const weft__http_handler *weft__http_handler_of(const weft__http_conn *hc) {
  return hc->hd ? hc->ep->joined[hc->hd - 1].handler : hc->ep->handler;
}

void *weft__http_user(const weft__http_conn *hc) {
  return hc->hd ? hc->ep->joined[hc->hd - 1].user : hc->ep->user;
}

int weft__http_endpoint_join(weft__http_endpoint *ep, const weft__http_handler *h, void *user,
                             size_t conn_size, size_t conn_offset) {
  if (!h || conn_offset != ep->conn_offset || conn_size < conn_offset + sizeof(weft__http_conn))
    return WEFT_EINVAL;
  if (ep->stopping || ep->n_conns) return WEFT_ESTATE;
  if (ep->n_joined >= WEFT__HTTP_JOINED) return WEFT_ENOBUFS;
  ep->joined[ep->n_joined].handler = h;
  ep->joined[ep->n_joined].user = user;
  ep->n_joined++;
  if (conn_size > ep->conn_size) ep->conn_size = conn_size;
  return 0;
}

void weft__http_dispatch(weft__http_conn *hc) {
  weft__http_endpoint *ep = hc->ep;
  int best = ep->handler->claims ? ep->handler->claims(hc) : 0;
  hc->hd = 0;
  for (uint8_t i = 0; i < ep->n_joined; i++) {
    const weft__http_handler *h = ep->joined[i].handler;
    int claim = h->claims ? h->claims(hc) : 0;
    if (claim > best) {
      best = claim;
      hc->hd = (uint8_t)(i + 1);
    }
  }
  weft__http_handler_of(hc)->request(hc);
}

int weft__http_read_body(weft__http_conn *hc, size_t max) {
  const weft__http_head *h = &hc->req.head;
  if (weft__http_get(h, "Transfer-Encoding")) return 411;
  /* Two lengths are a request two readers may frame differently (RFC 9112
   * 6.3): refused, as Node's parser does. */
  if (weft__http_count(h, "Content-Length") > 1) return 400;
  const char *cl = weft__http_get(h, "Content-Length");
  size_t n = 0;
  if (cl) { /* 1 to 15 digits and nothing else (no sign, no space) */
    size_t k = 0;
    for (; cl[k]; k++) {
      if (cl[k] < '0' || cl[k] > '9' || k == 15) return 400;
      n = n * 10 + (size_t)(cl[k] - '0');
    }
    if (k == 0) return 400;
  }
  if (n > max || n > UINT32_MAX) return 413;
  /* A client that waits to be told to send its body (curl does for 1 s
   * past 1 KiB; others longer) gets it now (RFC 9110 10.1.1). */
  if (n && h->version_minor >= 1 && weft__http_header_has(h, "Expect", "100-continue")) {
    static const char go[] = "HTTP/1.1 100 Continue\r\n\r\n";
    weft__payload *p = weft__payload_take(hc->ep->loop, WEFT__P_RAW, go, sizeof go - 1);
    int rc = p ? weft__stream_enqueue(&hc->io, p) : WEFT_ENOMEM;
    weft__payload_release(p);
    if (rc) return 500;
  }
  hc->state = WEFT__HC_BODY;
  hc->body_taken = 1;
  hc->body_len = (uint32_t)n;
  pending_add(hc, WEFT__HEAD_MS); /* the body within as long as a head */
  return 0;
}

void weft__http_mark(weft__http_conn *hc) {
  if (hc->state == WEFT__HC_HELD) weft__stream_mark(&hc->io);
}

void weft__http_take_req(weft__http_conn *hc, weft__http_req *out) {
  *out = hc->req;
  memset(&hc->req.head, 0, sizeof(hc->req.head));
  hc->req.head_shared = 0;
  hc->req.query = NULL;
  hc->req.n_query = 0;
  /* The connection keeps a copy of the address for its log records; an
   * address on the heap went to *out. */
  const char *addr = weft__http_req_address(out);
  memset(&hc->req.addr, 0, sizeof(hc->req.addr));
  weft__http_req_set_address(&hc->req, addr); /* NOMEM: "" in the logs */
}

/* An answer that keeps the connection: the next request is read on it
 * (now, when the bytes are here already and this is not inside a read). */
void weft__http_next(weft__http_conn *hc) {
  weft__http_site_handshake_done(hc->ep->site, hc);
  weft__http_head_free(&hc->req.head);
  free(hc->req.query);
  hc->req.query = NULL;
  hc->req.n_query = 0;
  hc->state = WEFT__HC_HEAD;
  hc->hd = 0;
  hc->parked = 0;
  hc->body_taken = 0;
  /* The next request's peer: the socket's again when a proxy named another
   * (else it still is: no getpeername per request). */
  if (hc->forwarded) {
    hc->forwarded = 0;
    if (weft__http_req_peer(&hc->req, &hc->io) != 0) {
      weft__http_abort(hc);
      return;
    }
  }
  if (pending_add(hc, WEFT__HEAD_MS)) return;
  /* Outside a read, pipelined bytes wait for the next check phase. */
  if (!hc->reading && weft__stream_kept(&hc->io)) weft__stream_yield(&hc->io);
}

static void on_timer_closed(uv_handle_t *h);

/* The last of a stopped endpoint's connections and handles is gone. */
static void maybe_closed(weft__http_endpoint *ep) {
  if (!ep->stopping || ep->n_conns) return;
  free(ep->pending); /* empty: every connection is gone */
  ep->pending = NULL;
  ep->n_pending = ep->pending_cap = 0;
  if (ep->timer_open) {
    if (!uv_is_closing((uv_handle_t *)&ep->reaper)) {
      uv_timer_stop(&ep->reaper);
      ep->reaper_active = 0;
      uv_close((uv_handle_t *)&ep->reaper, on_timer_closed);
    }
    return;
  }
  if (!ep->acc_open && ep->closed) ep->closed(ep);
}

void weft__http_closed(weft__http_conn *hc, int keep) {
  weft__http_endpoint *ep = hc->ep;
  if (hc->counted) weft__http_site_release(ep->site, hc);
  weft__http_req_free(&hc->req);
  if (!keep) {
    free((char *)hc - ep->conn_offset);
    /* Counted toward the loop's trim: after a crowd leaves, the heap goes
     * back to the system (a second round of 1000 abandoned sockets kept
     * ~0.9 MiB when only queues and pools were counted). */
    weft__loop_released(ep->loop, ep->conn_size);
  }
  ep->n_conns--;
  maybe_closed(ep);
}

static void on_stream_closed(weft__stream *io) {
  weft__http_conn *hc = WEFT__CONTAINER(io, weft__http_conn, io);
  const weft__http_handler *h = weft__http_handler_of(hc);
  int keep = h->closed ? h->closed(hc) : 0;
  weft__http_closed(hc, keep);
}

/* ---- the stream's events ---- */

/* A request head at the start of data[0..len): the bytes it used (the
 * head), 0 when it is not whole yet, or len when the connection is done. */
static size_t read_head(weft__http_conn *hc, uint8_t *data, size_t len) {
  int rc = weft__http_parse_request(data, len, &hc->req.head);
  if (rc == 0) return 0;
  if (rc < 0) {
    /* Too big: a request line with no end in sight is a URI too long (RFC
     * 9112 3), else the header fields are too large. */
    size_t scan = len < WEFT__HTTP_MAX_HEAD ? len : WEFT__HTTP_MAX_HEAD;
    int line_too_long = rc == WEFT_ETOOBIG && !memchr(data, '\n', scan);
    weft__http_respond_status(hc, rc != WEFT_ETOOBIG ? 400 : line_too_long ? 414 : 431, NULL);
    return len;
  }
  weft__http_route(hc);
  return (size_t)rc;
}

static size_t on_bytes(weft__stream *io, uint8_t *data, size_t len) {
  weft__http_conn *hc = WEFT__CONTAINER(io, weft__http_conn, io);
  size_t used = 0;
  hc->reading = 1;
  /* An empty body is handed over at once too. */
  while (used < len || (hc->state == WEFT__HC_BODY && hc->body_len == 0)) {
    if (hc->state == WEFT__HC_HELD) {
      /* Kept until the answer, within reason: an authorization that never
       * answers must not buffer without bound. */
      if (weft__stream_kept(io) > WEFT__READ_CHUNK) weft__http_abort(hc);
      break;
    }
    if (hc->state == WEFT__HC_BODY) {
      if (len - used < hc->body_len) {
        weft__stream_need(io, hc->body_len);
        break;
      }
      size_t n = hc->body_len;
      weft__stream_need(io, 0);
      hc->body_len = 0;
      hc->state = WEFT__HC_HELD; /* until the handler answers */
      const weft__http_handler *h = weft__http_handler_of(hc);
      if (h->body)
        h->body(hc, data + used, n);
      else
        weft__http_respond_status(hc, 500, NULL);
      used += n;
      continue;
    }
    if (hc->state != WEFT__HC_HEAD) { /* lingering or closed: discard */
      used = len;
      break;
    }
    size_t n = read_head(hc, data + used, len - used);
    if (n == 0) break;
    used += n;
    /* Upgraded from in there: the rest is the handler's (its ops by now). */
    if (hc->state == WEFT__HC_UPGRADED) {
      hc->reading = 0;
      return used + io->ops->read(io, data + used, len - used);
    }
  }
  hc->reading = 0;
  return used;
}

static void on_eof(weft__stream *io, int uverr) {
  (void)uverr;
  weft__http_abort(WEFT__CONTAINER(io, weft__http_conn, io));
}

static void on_written(weft__stream *io) {
  weft__http_conn *hc = WEFT__CONTAINER(io, weft__http_conn, io);
  if (hc->state == WEFT__HC_LINGER && weft__stream_idle(io) && !hc->shut) answered(hc);
}

/* Before the flush: a held request whose handler marked it answers now. */
static void on_seal(weft__stream *io) {
  weft__http_conn *hc = WEFT__CONTAINER(io, weft__http_conn, io);
  const weft__http_handler *h = weft__http_handler_of(hc);
  if (hc->state == WEFT__HC_HELD && h->seal) h->seal(hc);
}

static const weft__stream_ops http_stream_ops = {on_bytes, on_eof, on_written, on_stream_closed,
                                                 on_seal};

/* ---- endpoints ---- */

static void free_stream(weft__stream *s) { free(s); }

static weft__http_conn *conn_new(weft__http_endpoint *ep, int kind) {
  char *block = calloc(1, ep->conn_size);
  if (!block) return NULL;
  weft__http_conn *hc = (weft__http_conn *)(void *)(block + ep->conn_offset);
  hc->ep = ep;
  weft__stream_init(&hc->io, ep->loop, kind, &http_stream_ops);
  ep->n_conns++; /* from here on_stream_closed runs, whatever happens */
  return hc;
}

/* Reads the request head of a connected stream. */
static void conn_start(weft__http_conn *hc, const weft__acceptor *acc) {
  weft__http_endpoint *ep = hc->ep;
  int nomem = (acc ? weft__http_req_peer_accepted(&hc->req, &hc->io, acc)
                   : weft__http_req_peer(&hc->req, &hc->io)) != 0;
  hc->counted = 1;
  int refuse = weft__http_site_admit(ep->site, hc);
  if (nomem) refuse = 503;
  if (pending_add(hc, WEFT__HEAD_MS)) return;
  if ((ep->tls && weft__stream_tls(&hc->io, ep->tls, 1, NULL) != 0) ||
      weft__stream_start(&hc->io) != 0) {
    weft__http_abort(hc);
    return;
  }
  /* Over a limit: answered at once, before reading anything (TLS needs its
   * handshake first: over TLS the answer is a close). */
  if (refuse && ep->tls)
    weft__http_abort(hc);
  else if (refuse)
    weft__http_respond_status(hc, refuse, NULL);
}

static void on_connection(weft__acceptor *acc, int status) {
  weft__http_endpoint *ep = WEFT__CONTAINER(acc, weft__http_endpoint, acc);
  if (status < 0) return; /* nothing to accept (EMFILE…): libuv retries */
  weft__http_conn *hc = conn_new(ep, acc->kind);
  if (!hc) {
    /* Out of memory: accept and drop, or the listener would spin on it. */
    weft__stream *s = malloc(sizeof(*s));
    if (!s) return;
    static const weft__stream_ops drop_ops = {NULL, NULL, NULL, free_stream, NULL};
    weft__stream_init(s, ep->loop, acc->kind, &drop_ops);
    weft__acceptor_accept(acc, s);
    weft__stream_close(s);
    return;
  }
  if (weft__acceptor_accept(acc, &hc->io) != 0) {
    weft__http_abort(hc);
    return;
  }
  conn_start(hc, acc);
}

int weft__http_endpoint_adopt(weft__http_endpoint *ep, int fd, const void *head, size_t n,
                              int once) {
  if (ep->stopping) return WEFT_ESTATE;
  int kind = weft__fd_kind(fd);
  if (kind < 0) return kind;
  weft__http_conn *hc = conn_new(ep, kind);
  if (!hc) return WEFT_ENOMEM;
  int rc = weft__stream_open_fd(&hc->io, fd);
  if (rc) {
    weft__http_abort(hc);
    return rc;
  }
  hc->once = !!once;
  conn_start(hc, NULL);
  if (n && !hc->io.closed) {
    /* What the other server read already: parsed first, on the next turn
     * (weft__stream_yield's resume offers the kept bytes, then reads). */
    if (weft__stream_keep(&hc->io, head, n) != 0) {
      weft__http_abort(hc);
      return WEFT_ENOMEM;
    }
    weft__stream_yield(&hc->io);
  }
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  weft__http_endpoint *ep = h->data;
  ep->timer_open = 0;
  maybe_closed(ep);
}

static void on_acceptor_closed(weft__acceptor *acc) {
  weft__http_endpoint *ep = WEFT__CONTAINER(acc, weft__http_endpoint, acc);
  ep->acc_open = 0;
  maybe_closed(ep);
}

int weft__http_endpoint_open(weft__http_endpoint *ep, weft_loop *loop, const weft__url *u,
                             const char *path, unsigned unix_mode, int attached) {
  ep->loop = loop;
  size_t n = strlen(path);
  if (n >= sizeof(ep->path)) n = sizeof(ep->path) - 1;
  memcpy(ep->path, path, n);
  ep->path[n] = '\0';
  ep->plen = strcmp(ep->path, "/") == 0 ? 0 : n;
  weft__http_site_cap(ep->site);
  uv_timer_init(loop->uv, &ep->reaper);
  ep->reaper.data = ep;
  ep->timer_open = 1;
  ep->acc.on_connection = on_connection;
  ep->acc.on_closed = on_acceptor_closed;
  if (attached) return 0; /* connections come through weft__http_endpoint_adopt */
  ep->acc_open = 1;
  int rc = weft__acceptor_listen(&ep->acc, loop, u, unix_mode);
  if (rc) weft__http_endpoint_stop(ep, 1);
  return rc;
}

int weft__http_endpoint_port(const weft__http_endpoint *ep) {
  return weft__acceptor_port(&ep->acc);
}

void weft__http_endpoint_stop(weft__http_endpoint *ep, int hard) {
  if (!ep->stopping) {
    ep->stopping = 1;
    if (!weft__acceptor_close(&ep->acc)) ep->acc_open = 0;
  }
  for (uint32_t i = ep->n_pending; i-- > 0;) { /* backwards: see on_reaper */
    if (i >= ep->n_pending) continue;
    weft__http_conn *hc = ep->pending[i];
    if (hard || hc->state == WEFT__HC_HEAD || (hc->state == WEFT__HC_HELD && !hc->parked) ||
        hc->state == WEFT__HC_BODY)
      weft__http_abort(hc);
  }
  maybe_closed(ep);
}
