/*
 * The fast-tcp listener: a TCP or Unix-domain acceptor whose streams are
 * connections at once (no handshake: reading waits while the owner
 * admits). An accepted connection is told its name first (MT_REGISTER, as
 * fast-tcp's server does); a refused one gets an MT_ERROR with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/common.h"
#include "ft.h"

static const char id_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

static weft__ft_listener *priv(weft__listener *l) { return weft__listener_priv(l); }

static void maybe_closed(weft__ft_listener *fl) {
  if (fl->stopping && !fl->acc_open && !fl->sweep_open && !fl->conns) {
    OPENSSL_cleanse(fl->key, sizeof(fl->key));
    fl->l->p.closed(fl->l, fl->l->p.user);
  }
}

static weft__ft_conn *conn_new(weft__ft_listener *fl, int kind) {
  weft__listener *l = fl->l;
  char *block = calloc(1, l->p.owner_size + sizeof(weft__ft_conn));
  if (!block) return NULL;
  weft__ft_conn *fc = (weft__ft_conn *)(void *)(block + l->p.owner_size);
  fc->fl = fl;
  fc->next = fl->conns;
  if (fl->conns) fl->conns->prev = fc;
  fl->conns = fc;
  fc->base.tran = &weft__transport_ft;
  fc->base.ev = l->p.ev;
  /* the owner hears of it once admitted (after the PSK handshake) */
  fc->key = fl->key;
  fc->klen = fl->klen;
  fc->rand = &fl->rand;
  fc->objects = weft__ft_objects(l->p.parser);
  size_t extra = WEFT__FT_PREFIX + WEFT__FT_FIXED + WEFT__FT_EVENT_MAX;
  fc->max = l->p.max_length > SIZE_MAX - extra ? SIZE_MAX : l->p.max_length + extra;
  uint8_t r[20];
  if (weft__rand_bytes(&fl->rand, r, sizeof(r)) != 0) { /* no entropy: unique here still */
    uintptr_t v = (uintptr_t)fc;
    for (size_t i = 0; i < sizeof(r); i++, v >>= 6)
      r[i] = (uint8_t)v;
  }
  for (size_t i = 0; i < sizeof(r); i++)
    fc->id[i] = id_alphabet[r[i] & 63];
  weft__stream_init(&fc->io, l->p.loop, kind, &weft__ft_stream_ops);
  return fc;
}

void weft__ft_gone(weft__ft_conn *fc) {
  weft__ft_listener *fl = fc->fl;
  char *block = (char *)fc - fl->l->p.owner_size;
  int keep = weft__ft_closed(fc, NULL);
  weft__http_req_free(&fc->req); /* its address, when on the heap */
  if (fc->prev)
    fc->prev->next = fc->next;
  else
    fl->conns = fc->next;
  if (fc->next) fc->next->prev = fc->prev;
  fc->prev = fc->next = NULL;
  if (!keep) free(block);
  maybe_closed(fl);
}

/* Reading waits (paused) while the owner admits. */
void weft__ft_admit(weft__ft_conn *fc) {
  weft__listener *l = fc->fl->l;
  fc->base.owner = (char *)fc - l->p.owner_size;
  weft__stream_pause(&fc->io, 1);
  fc->admitting = 1;
  l->p.admit(&fc->base, l->p.user);
  fc->admitting = 0;
}

/* Over TLS, nothing before the handshake is done (weft__ft_begin then). */
static void start(weft__ft_conn *fc) {
  weft__listener *l = fc->fl->l;
  int nomem = weft__http_req_peer(&fc->req, &fc->io) != 0;
  fc->tls_wait = fc->io.tell_ready = l->p.tls != NULL;
  fc->born = uv_now(l->p.loop->uv);
  if (nomem || (l->p.tls && weft__stream_tls(&fc->io, l->p.tls, 1, NULL) != 0) ||
      weft__stream_start(&fc->io) != 0) {
    weft__ft_abort(&fc->base);
    return;
  }
  if (!fc->tls_wait) weft__ft_begin(fc);
}

/* With a key, the challenge first: admission waits for the answer. */
void weft__ft_begin(weft__ft_conn *fc) {
  weft__listener *l = fc->fl->l;
  fc->tls_wait = 0;
  if (!fc->klen) {
    weft__ft_admit(fc);
    return;
  }
  uint8_t ch[WEFT__PSK_CHALLENGE];
  weft__payload *p = weft__psk_challenge(fc->rand, ch, fc->nonce) == 0
                         ? weft__payload_new(WEFT__P_RAW, ch, sizeof(ch))
                         : NULL;
  if (!p || weft__stream_enqueue(&fc->io, p) != 0) {
    weft__payload_release(p);
    weft__ft_abort(&fc->base);
    return;
  }
  weft__payload_release(p);
  fc->psk = WEFT__FT_PSK_ANSWER;
  fc->born = uv_now(l->p.loop->uv);
}

/* Handshakes (PSK, TLS) that take too long end (a truncated one never
 * completes). */
static void on_sweep(uv_timer_t *t) {
  weft__ft_listener *fl = t->data;
  uint64_t now = uv_now(t->loop);
  for (weft__ft_conn *fc = fl->conns; fc; fc = fc->next)
    if ((fc->psk == WEFT__FT_PSK_ANSWER || fc->tls_wait) && now - fc->born >= WEFT__PSK_MS) {
      fc->psk = WEFT__FT_PSK_DONE;
      weft__ft_abort(&fc->base);
    }
}

static void on_sweep_closed(uv_handle_t *h) {
  weft__ft_listener *fl = h->data;
  fl->sweep_open = 0;
  maybe_closed(fl);
}

static void on_connection(weft__acceptor *acc, int status) {
  weft__ft_listener *fl = WEFT__CONTAINER(acc, weft__ft_listener, acc);
  if (status < 0 || fl->stopping) return;
  weft__ft_conn *fc = conn_new(fl, acc->kind);
  if (!fc) return; /* out of memory: the peer waits in the backlog */
  if (weft__acceptor_accept(acc, &fc->io) != 0) {
    weft__ft_abort(&fc->base);
    return;
  }
  start(fc);
}

void weft__ft_accept(weft__conn *c) {
  weft__ft_conn *fc = (weft__ft_conn *)c;
  if (fc->state != WEFT__FT_NEW) return;
  weft__buf b = {0};
  int rc = weft__ft_frame_str(&b, WEFT__FT_MT_REGISTER, WEFT__FT_FLAG_ROOM_ACK, "", fc->id);
  weft__payload *p = rc ? NULL : weft__payload_new(WEFT__P_RAW, b.data, b.len);
  weft__buf_free(&b);
  rc = p ? weft__stream_enqueue(&fc->io, p) : WEFT_ENOMEM;
  weft__payload_release(p);
  if (rc) {
    weft__ft_abort(c);
    return;
  }
  weft__ft_open(fc);
  if (fc->state == WEFT__FT_OPEN) weft__stream_pause(&fc->io, 0);
}

void weft__ft_reject(weft__conn *c, int status, const char *message) {
  weft__ft_conn *fc = (weft__ft_conn *)c;
  if (fc->state != WEFT__FT_NEW) return;
  char why[300];
  snprintf(why, sizeof(why), "refused (%d): %s", status,
           message && *message ? message : "unauthorized");
  weft__ft_fail(fc, WEFT_EUNAUTHORIZED, why);
}

static void on_acceptor_closed(weft__acceptor *acc) {
  weft__ft_listener *fl = WEFT__CONTAINER(acc, weft__ft_listener, acc);
  fl->acc_open = 0;
  maybe_closed(fl);
}

void weft__ft_stop(weft__listener *l, int hard) {
  weft__ft_listener *fl = priv(l);
  if (!fl->stopping) {
    fl->stopping = 1;
    if (!fl->acc_open || !weft__acceptor_close(&fl->acc)) fl->acc_open = 0;
    if (fl->sweep_open) uv_close((uv_handle_t *)&fl->sweep, on_sweep_closed);
  }
  for (weft__ft_conn *fc = fl->conns; fc; fc = fc->next)
    if (fc->state == WEFT__FT_NEW || (hard && fc->state == WEFT__FT_CLOSING))
      weft__ft_abort(&fc->base);
  maybe_closed(fl);
}

int weft__ft_bind(weft__listener *l) {
  weft__ft_listener *fl = priv(l);
  fl->l = l;
  fl->acc.on_connection = on_connection;
  fl->acc.on_closed = on_acceptor_closed;
  fl->acc_open = 1;
  if (l->p.psk_len) {
    if (l->p.psk_len > sizeof(fl->key)) {
      weft__ft_stop(l, 1);
      return WEFT_EINVAL;
    }
    memcpy(fl->key, l->p.psk, l->p.psk_len);
    fl->klen = l->p.psk_len;
    l->p.psk = NULL; /* the copy is ours */
  }
  if (l->p.psk_len || l->p.tls) {
    uv_timer_init(l->p.loop->uv, &fl->sweep);
    fl->sweep.data = fl;
    fl->sweep_open = 1;
    uv_timer_start(&fl->sweep, on_sweep, 500, 500);
    uv_unref((uv_handle_t *)&fl->sweep);
  }
  int rc = weft__acceptor_listen(&fl->acc, l->p.loop, &l->p.url, l->p.unix_mode);
  l->port = rc ? 0 : weft__acceptor_port(&fl->acc);
  if (l->p.url.sock[0])
    snprintf(l->served, sizeof(l->served), "%s://%s", l->p.url.scheme, l->p.url.sock);
  else
    weft__url_format(&l->p.url, l->port, "", l->served, sizeof(l->served));
  if (rc) weft__ft_stop(l, 1);
  return rc;
}

int weft__ft_adopt(weft__listener *l, int fd, const void *head, size_t n, int once) {
  (void)once; /* one connection is all a fast-tcp socket carries */
  weft__ft_listener *fl = priv(l);
  if (fl->stopping) return WEFT_ESTATE;
  int kind = weft__fd_kind(fd);
  if (kind < 0) return kind;
  weft__ft_conn *fc = conn_new(fl, kind);
  if (!fc) return WEFT_ENOMEM;
  int rc = weft__stream_open_fd(&fc->io, fd);
  if (rc) {
    weft__ft_abort(&fc->base);
    return rc;
  }
  start(fc);
  if (n && !fc->io.closed) { /* read already: offered first, on the next turn */
    if (weft__stream_keep(&fc->io, head, n) != 0) {
      weft__ft_abort(&fc->base);
      return WEFT_ENOMEM;
    }
    weft__stream_yield(&fc->io);
  }
  return 0;
}

const weft__http_req *weft__ft_peer(const weft__conn *c) {
  const weft__ft_conn *fc = (const weft__ft_conn *)c;
  return fc->client ? NULL : &fc->req;
}

const char *weft__ft_id(const weft__conn *c) {
  const weft__ft_conn *fc = (const weft__ft_conn *)c;
  return fc->client ? NULL : fc->id;
}
