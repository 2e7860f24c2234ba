/*
 * What a fast-tcp connection does the same on both sides: frames in (at
 * most the largest frame allowed is kept; a bad frame is answered with an
 * MT_ERROR saying why, and the connection ends), frames out (the owner's
 * messages framed once from their values), and the end: an orderly close
 * writes what is queued, then a FIN, and waits for the peer's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "ft.h"

/* Message bytes one connection may hand up per loop turn (as ws/conn.c). */
#define WEFT__FT_TURN_BUDGET (1u << 20)

#define EMIT(fc, name, ...)                                                                        \
  do {                                                                                             \
    if ((fc)->base.owner && (fc)->base.ev->name) (fc)->base.ev->name(&(fc)->base, __VA_ARGS__);    \
  } while (0)
#define EMIT0(fc, name)                                                                            \
  do {                                                                                             \
    if ((fc)->base.owner && (fc)->base.ev->name) (fc)->base.ev->name(&(fc)->base);                 \
  } while (0)

static weft__ft_conn *of_io(weft__stream *io) { return WEFT__CONTAINER(io, weft__ft_conn, io); }

/* Queues a frame of bytes as they are. */
static int enqueue_bytes(weft__ft_conn *fc, const weft__buf *b) {
  weft__payload *p = weft__payload_new(WEFT__P_RAW, b->data, b->len);
  int rc = p ? weft__stream_enqueue(&fc->io, p) : WEFT_ENOMEM;
  weft__payload_release(p);
  return rc;
}

/* Open → closing: sends refused, the owner told (once). */
static void down(weft__ft_conn *fc, const weft__fault *why) {
  if (fc->state != WEFT__FT_OPEN) return;
  fc->state = WEFT__FT_CLOSING;
  weft__stream_pause(&fc->io, 0);
  EMIT(fc, closing, why);
}

/* Writes what is queued, then a FIN; the stream closes at the peer's. */
static void linger(weft__ft_conn *fc) {
  if (fc->state == WEFT__FT_CLOSED) return;
  fc->state = WEFT__FT_CLOSING;
  weft__stream_pause(&fc->io, 0); /* the peer's FIN is read */
  if (weft__stream_idle(&fc->io) && weft__stream_shutdown(&fc->io) != 0)
    weft__stream_close(&fc->io);
}

void weft__ft_fail(weft__ft_conn *fc, int code, const char *why) {
  weft__buf b = {0};
  if (weft__ft_frame_str(&b, WEFT__FT_MT_ERROR, 0, "", why) == 0) enqueue_bytes(fc, &b);
  weft__buf_free(&b);
  weft__fault f = {code, "protocol", why};
  down(fc, &f);
  linger(fc);
}

void weft__ft_open(weft__ft_conn *fc) {
  fc->state = WEFT__FT_OPEN;
  fc->opened = 1;
  EMIT0(fc, opened);
}

/* ---- the PSK handshake (psk.h) ---- */

static void enqueue_raw(weft__ft_conn *fc, const void *p, size_t n) {
  weft__buf b = {(uint8_t *)(uintptr_t)p, n, n};
  enqueue_bytes(fc, &b);
}

/* The server refuses: a verdict with the reason, then the close. */
static void psk_refuse(weft__ft_conn *fc, const char *why) {
  uint8_t v[3 + 64];
  enqueue_raw(fc, v, weft__psk_refusal(why, v));
  fc->psk = WEFT__FT_PSK_DONE;
  linger(fc);
}

/* The client is refused (or the server failed to prove the key): the
 * owner hears it as a refusal (no retry unless it asked), then the end. */
static void psk_refused(weft__ft_conn *fc, const char *why) {
  if (fc->base.owner && fc->base.ev->refused)
    fc->base.ev->refused(&fc->base, 401, (const uint8_t *)why, strlen(why));
  fc->psk = WEFT__FT_PSK_DONE;
  weft__ft_abort(&fc->base);
}

size_t weft__ft_psk_step(weft__ft_conn *fc, const uint8_t *data, size_t len) {
  uint8_t *ns = fc->nonce, *nc = fc->nonce + WEFT__PSK_NONCE;
  if (fc->psk == WEFT__FT_PSK_ANSWER) {
    if (len < WEFT__PSK_ANSWER) return weft__stream_need(&fc->io, WEFT__PSK_ANSWER), 0;
    uint8_t proof[WEFT__PSK_OK];
    if (weft__psk_check(fc->key, fc->klen, ns, data, proof) != 0) {
      psk_refuse(fc, "authentication failed");
      return len;
    }
    enqueue_raw(fc, proof, sizeof(proof));
    fc->psk = WEFT__FT_PSK_DONE;
    weft__ft_admit(fc);
    return WEFT__PSK_ANSWER;
  }
  if (fc->psk == WEFT__FT_PSK_CHALLENGE) {
    if (len < WEFT__PSK_CHALLENGE) return weft__stream_need(&fc->io, WEFT__PSK_CHALLENGE), 0;
    uint8_t answer[WEFT__PSK_ANSWER];
    if (memcmp(data, weft__psk_magic, WEFT__PSK_MAGIC_LEN) != 0) {
      psk_refused(fc, "the server does not use a pre-shared key");
      return len;
    }
    memcpy(ns, data + WEFT__PSK_MAGIC_LEN, WEFT__PSK_NONCE);
    if (weft__psk_answer(fc->rand, fc->key, fc->klen, data, answer, nc) != 0) {
      weft__ft_abort(&fc->base);
      return len;
    }
    enqueue_raw(fc, answer, sizeof(answer));
    fc->psk = WEFT__FT_PSK_VERDICT;
    return WEFT__PSK_CHALLENGE;
  }
  /* the verdict */
  size_t need = data[0] == 0 ? WEFT__PSK_OK : len >= 3 ? 3 + (size_t)data[1] : 3;
  if (len < need) return weft__stream_need(&fc->io, need), 0;
  if (data[0] != 0) {
    char why[300];
    snprintf(why, sizeof(why), "refused by the server: %.*s", (int)data[1], (const char *)data + 3);
    psk_refused(fc, why);
    return len;
  }
  if (weft__psk_verify(fc->key, fc->klen, ns, nc, data + 1) != 0) {
    psk_refused(fc, "the server failed to prove the pre-shared key");
    return len;
  }
  fc->psk = WEFT__FT_PSK_DONE;
  return WEFT__PSK_OK;
}

/* ---- frames in ---- */

static void deliver(void *u, const weft_value *v) {
  weft__ft_conn *fc = u;
  if (fc->state == WEFT__FT_OPEN) EMIT(fc, value, v, 0);
}

void weft__ft_settle(weft__ft_conn *fc, uint32_t id) {
  weft__ft_msg m = {.mt = WEFT__FT_MT_ACK, .id = id, .dt = WEFT__FT_DT_EMPTY, .event = ""};
  const char *why;
  m.objects = fc->objects;
  if (fc->state == WEFT__FT_OPEN && weft__ft_inbound(&m, deliver, fc, &why) != 0)
    weft__ft_fail(fc, WEFT_ENOMEM, why);
}

/* A client's own messages: its name, and the server's complaints. */
static int client_control(weft__ft_conn *fc, const weft__ft_msg *m) {
  if (m->mt == WEFT__FT_MT_REGISTER) {
    size_t n = m->data_len < sizeof(fc->id) - 1 ? m->data_len : sizeof(fc->id) - 1;
    if (m->dt == WEFT__FT_DT_STRING) memcpy(fc->id, m->data, n);
    fc->answers = (m->flags & WEFT__FT_FLAG_ROOM_ACK) != 0;
    fc->id[m->dt == WEFT__FT_DT_STRING ? n : 0] = '\0';
    if (fc->state == WEFT__FT_NEW) weft__ft_open(fc);
    return 1;
  }
  return 0;
}

size_t weft__ft_read(weft__ft_conn *fc, uint8_t *data, size_t len) {
  size_t off = 0;
  fc->fed = 0;
  while (off < len && fc->state != WEFT__FT_CLOSED) {
    if (fc->state == WEFT__FT_CLOSING) return len; /* closing: what comes is ignored */
    if (fc->psk) {
      size_t n = weft__ft_psk_step(fc, data + off, len - off);
      if (n == 0) return off;
      off += n;
      weft__stream_need(&fc->io, 0);
      continue;
    }
    if (fc->state == WEFT__FT_NEW && !fc->client) return off; /* admitting: kept */
    if (fc->client && !fc->klen && fc->state == WEFT__FT_NEW && len - off >= WEFT__PSK_MAGIC_LEN &&
        memcmp(data + off, weft__psk_magic, WEFT__PSK_MAGIC_LEN) == 0) {
      psk_refused(fc, "the server requires a pre-shared key");
      return len;
    }
    weft__ft_msg m;
    size_t need = 0;
    const char *why = NULL;
    long n = weft__ft_parse(data + off, len - off, fc->max, &m, &need, &why);
    if (n == 0) {
      weft__stream_need(&fc->io, need);
      return off;
    }
    if (n < 0) {
      weft__ft_fail(fc, (int)n, why);
      return len;
    }
    off += (size_t)n;
    weft__stream_need(&fc->io, 0);
    if (fc->client && client_control(fc, &m)) continue;
    if (fc->state != WEFT__FT_OPEN) continue;
    m.objects = fc->objects;
    int rc = weft__ft_inbound(&m, deliver, fc, &why);
    if (rc) {
      weft__ft_fail(fc, rc, why);
      return len;
    }
    fc->fed += (uint32_t)n;
    if (fc->io.paused) return off;
    if (fc->fed >= WEFT__FT_TURN_BUDGET) {
      weft__stream_spent(&fc->io);
      return off;
    }
  }
  return fc->state == WEFT__FT_CLOSED ? len : off;
}

/* ---- frames out ---- */

int weft__ft_encode(weft__conn *c, const weft_value *msg, const weft__parser_ops *objects,
                    weft__payload **out) {
  *out = NULL;
  if (!msg) return WEFT_EINVAL;
  /* A client's conn may be NULL (offline): its own buffer then. */
  weft_loop *loop = c ? ((weft__ft_conn *)c)->io.loop : NULL;
  weft__buf own = {0}, *b = loop ? &loop->scratch : &own;
  b->len = 0;
  int rc = weft__ft_outbound(msg, objects, b);
  if (rc == 0 && !(*out = loop ? weft__payload_take(loop, WEFT__P_RAW, b->data, b->len)
                               : weft__payload_new(WEFT__P_RAW, b->data, b->len)))
    rc = WEFT_ENOMEM;
  if (loop)
    weft__loop_scratch_done(loop);
  else
    weft__buf_free(&own);
  return rc;
}

int weft__ft_send(weft__conn *c, weft__payload *p, size_t limit, size_t *queued) {
  weft__ft_conn *fc = (weft__ft_conn *)c;
  if (fc->state != WEFT__FT_OPEN) return WEFT_ECLOSED;
  if (fc->io.held + weft__stream_cost(p) > limit) return WEFT_ENOBUFS;
  int rc = p->len ? weft__stream_enqueue(&fc->io, p) : 0; /* empty: nothing for this wire */
  if (rc == 0 && fc->client && !fc->answers) weft__ft_dial_sent(fc, p);
  if (queued) *queued = fc->io.queued;
  return rc;
}

void weft__ft_hold(weft__conn *c) { weft__stream_mark(&((weft__ft_conn *)c)->io); }

size_t weft__ft_queued(const weft__conn *c, size_t *held) {
  const weft__ft_conn *fc = (const weft__ft_conn *)c;
  if (held) *held = fc->io.held;
  return fc->io.queued;
}

void weft__ft_close(weft__conn *c, int code, const char *reason) {
  weft__ft_conn *fc = (weft__ft_conn *)c;
  if (fc->state != WEFT__FT_OPEN) return;
  /* fast-tcp has no close message: an error says why when it is not a
   * plain goodbye. */
  if (code != WEFT__END_NORMAL && code != WEFT__END_GOING_AWAY && reason && *reason) {
    weft__buf b = {0};
    if (weft__ft_frame_str(&b, WEFT__FT_MT_ERROR, 0, "", reason) == 0) enqueue_bytes(fc, &b);
    weft__buf_free(&b);
  }
  down(fc, NULL);
  linger(fc);
}

void weft__ft_abort(weft__conn *c) {
  weft__ft_conn *fc = (weft__ft_conn *)c;
  if (fc->state == WEFT__FT_CLOSED) return;
  down(fc, NULL);
  fc->state = WEFT__FT_CLOSED;
  weft__stream_close(&fc->io);
}

void weft__ft_pause(weft__conn *c, int on) {
  weft__ft_conn *fc = (weft__ft_conn *)c;
  if (fc->state == WEFT__FT_OPEN) weft__stream_pause(&fc->io, on);
}

int weft__ft_closed(weft__ft_conn *fc, const weft__fault *why) {
  down(fc, why);
  fc->state = WEFT__FT_CLOSED;
  return fc->base.owner && fc->base.ev->closed ? fc->base.ev->closed(&fc->base, why) : 0;
}

/* ---- the stream ---- */

static size_t on_read(weft__stream *io, uint8_t *data, size_t len) {
  weft__ft_conn *fc = of_io(io);
  if (fc->tls_wait) weft__ft_begin(fc); /* the TLS handshake is done (tell_ready) */
  return weft__ft_read(fc, data, len);
}

static void on_eof(weft__stream *io, int uverr) {
  (void)uverr;
  weft__ft_abort(&of_io(io)->base);
}

static void on_written(weft__stream *io) {
  weft__ft_conn *fc = of_io(io);
  if (fc->state == WEFT__FT_OPEN)
    EMIT0(fc, drained);
  else if (fc->state == WEFT__FT_CLOSING && weft__stream_idle(io) && weft__stream_shutdown(io) != 0)
    weft__stream_close(io);
}

static void on_seal(weft__stream *io) {
  weft__ft_conn *fc = of_io(io);
  if (fc->state == WEFT__FT_OPEN) EMIT0(fc, seal);
}

static void on_closed(weft__stream *io) { weft__ft_gone(of_io(io)); }

const weft__stream_ops weft__ft_stream_ops = {on_read, on_eof, on_written, on_closed, on_seal};
