/*
 * The fast-tcp dialer: a byte stream to the URL's address (TCP or a Unix
 * socket); the connection opens when the server names it (MT_REGISTER). A
 * dial the owner gives up on is detached (no events) and closes on its own.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "ft.h"

typedef struct ft_dconn {
  weft__ft_conn fc;
  weft_loop *loop;
  uint8_t connecting;
  uint8_t failed;
  weft__fault fault;
  char fault_msg[160];
  weft__rand rand;
  uint8_t key[WEFT__PSK_KEY_MAX];
  /* Room requests to settle ourselves (a server that does not answer
   * them), resumed in the check phase. */
  weft__flushable settle_f;
  uint32_t *settle;
  size_t n_settle, cap_settle;
} ft_dconn;

static void settle_flush(weft__flushable *f) { (void)f; }

static void settle_resume(weft__flushable *f) {
  ft_dconn *d = WEFT__CONTAINER(f, ft_dconn, settle_f);
  /* an ack may lead the owner to write (and queue more): take the list */
  uint32_t *ids = d->settle;
  size_t n = d->n_settle;
  d->settle = NULL;
  d->n_settle = d->cap_settle = 0;
  for (size_t i = 0; i < n; i++)
    weft__ft_settle(&d->fc, ids[i]);
  free(ids);
}

static const weft__flush_ops settle_ops = {NULL, settle_flush, settle_resume};

void weft__ft_dial_sent(weft__ft_conn *fc, const weft__payload *p) {
  ft_dconn *d = (ft_dconn *)fc;
  const uint8_t *b = p->data; /* one frame (conn.encode) */
  if (p->len < WEFT__FT_PREFIX + WEFT__FT_FIXED || !(b[5] & WEFT__FT_FLAG_ROOM_ACK) ||
      b[7] < WEFT__FT_MT_JOIN_ROOM || b[7] > WEFT__FT_MT_LEAVE_ALL_ROOMS)
    return;
  uint32_t id =
      (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
  if (!id) return;
  if (d->n_settle == d->cap_settle) {
    size_t cap = d->cap_settle ? 2 * d->cap_settle : 4;
    uint32_t *n = realloc(d->settle, cap * sizeof(*n));
    if (!n) return; /* no memory: the ack times out as with any lost answer */
    d->settle = n;
    d->cap_settle = cap;
  }
  d->settle[d->n_settle++] = id;
  if (weft__loop_defer(d->loop, &d->settle_f) != 0) d->n_settle--;
}

static void fail(ft_dconn *d, int code, const char *kind, const char *msg) {
  if (!d->failed) {
    d->failed = 1;
    snprintf(d->fault_msg, sizeof(d->fault_msg), "%s", msg ? msg : weft_strerror(code));
    d->fault = (weft__fault){code, kind, d->fault_msg};
  }
  /* A name being resolved holds the connector's memory: the stream closes
   * when the resolver answers. */
  d->fc.state = WEFT__FT_CLOSED;
  if (d->connecting && weft__connector_cancel(&d->fc.connector)) return;
  weft__stream_close(&d->fc.io);
}

static void on_connected(weft__connector *cn, int status, const char *why) {
  ft_dconn *d = WEFT__CONTAINER(cn, ft_dconn, fc.connector);
  int given_up = d->fc.state == WEFT__FT_CLOSED;
  d->connecting = 0;
  if (given_up) {
    weft__stream_close(&d->fc.io);
    return;
  }
  int rc = status ? status : weft__stream_start(&d->fc.io);
  if (rc) fail(d, rc, "connect", status ? why : NULL);
}

/* The stream's closed op (conn.c) ends here for a dialed connection. */
static void dial_closed(weft__stream *io) {
  ft_dconn *d = WEFT__CONTAINER(io, ft_dconn, fc.io);
  weft_loop *loop = d->loop;
  weft__ft_closed(&d->fc, d->failed ? &d->fault : NULL);
  weft__loop_undefer(loop, &d->settle_f);
  free(d->settle);
  OPENSSL_cleanse(d->key, sizeof(d->key));
  free(d);
  loop->users--;
}

static size_t dial_read(weft__stream *io, uint8_t *data, size_t len) {
  return weft__ft_stream_ops.read(io, data, len);
}

static void dial_eof(weft__stream *io, int uverr) {
  ft_dconn *d = WEFT__CONTAINER(io, ft_dconn, fc.io);
  const char *tls_err = weft__stream_tls_error(io); /* tcps:// */
  if (d->fc.state == WEFT__FT_NEW && *tls_err)
    fail(d, WEFT_EPROTO, "tls", tls_err);
  else if (d->fc.state == WEFT__FT_NEW)
    fail(d, WEFT_ECLOSED, "connect", "the server closed before naming the connection");
  else
    weft__ft_stream_ops.eof(io, uverr);
}

static void dial_written(weft__stream *io) { weft__ft_stream_ops.written(io); }
static void dial_seal(weft__stream *io) { weft__ft_stream_ops.seal(io); }

static const weft__stream_ops dial_ops_full = {dial_read, dial_eof, dial_written, dial_closed,
                                               dial_seal};

int weft__ft_dial(const weft__dial_params *p, weft__conn **out) {
  *out = NULL;
  ft_dconn *d = calloc(1, sizeof(*d));
  if (!d) return WEFT_ENOMEM;
  weft__ft_conn *fc = &d->fc;
  fc->client = 1;
  fc->base.tran = &weft__transport_ft;
  fc->base.ev = p->ev;
  fc->base.owner = p->owner;
  size_t extra = WEFT__FT_PREFIX + WEFT__FT_FIXED + WEFT__FT_EVENT_MAX;
  fc->max = p->max_length > SIZE_MAX - extra ? SIZE_MAX : p->max_length + extra;
  if (p->psk_len > sizeof(d->key)) {
    free(d);
    return WEFT_EINVAL;
  }
  if (p->psk_len) memcpy(d->key, p->psk, p->psk_len);
  fc->key = d->key;
  fc->klen = p->psk_len;
  fc->rand = &d->rand;
  fc->objects = weft__ft_objects(p->parser);
  fc->psk = p->psk_len ? WEFT__FT_PSK_CHALLENGE : WEFT__FT_PSK_DONE;
  d->loop = p->loop;
  d->settle_f.ops = &settle_ops;
  p->loop->users++;
  weft__stream_init(&fc->io, p->loop, weft__url_stream_kind(&p->url), &dial_ops_full);
  *out = &fc->base;
  d->connecting = 1;
  int rc = p->tls ? weft__stream_tls(&fc->io, p->tls, 0, p->url.host) : 0;
  if (rc == 0) rc = weft__connector_start(&fc->connector, &fc->io, &p->url, on_connected);
  if (rc) {
    d->connecting = 0;
    fail(d, rc, "connect", weft_strerror(rc));
  }
  return 0;
}

void weft__ft_cancel(weft__conn *c, int orderly) {
  ft_dconn *d = (ft_dconn *)c;
  c->owner = NULL;
  if (orderly && d->fc.state == WEFT__FT_OPEN) {
    weft__ft_close(c, WEFT__END_NORMAL, NULL);
  } else if (d->fc.state != WEFT__FT_CLOSED) {
    d->failed = 1;
    fail(d, WEFT_ECLOSED, "connect", NULL);
  }
}
