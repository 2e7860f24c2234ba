/* Byte streams (see stream.h). */
#include "stream.h"

#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#endif

#include "base/common.h"
#include "payload.h"
#include "tls.h"

#define WEFT__IOV_MAX 64
_Static_assert(WEFT__IOV_MAX <= UINT8_MAX, "the stream's inflight_n is 8-bit");
/* Buffers this big going back to the allocator are told to the loop, which
 * hands memory back to the system after enough of them (loop.h). */
#define WEFT__BIG 65536

/* ---- queue ---- */

/* The ring's capacity is a power of two (1, 4, doubled), so positions wrap
 * with a mask instead of a division (tens of cycles per queued frame).
 * While at most one frame has waited it is the stream's own slot (q1): an
 * idle connection, and one that queues a frame per loop turn (fan-out, a
 * request-answer peer), holds no ring. Once more frames wait at once, the
 * ring stays until the stream closes: giving it back whenever the queue
 * empties cost about 7 instructions per message in pipelined echo. */
#define WEFT__RING_MIN 4

static int ring_grow(weft__stream *s) {
  uint32_t cap = s->q_cap == 1 ? WEFT__RING_MIN : s->q_cap * 2;
  weft__qent *q = malloc(cap * sizeof(*q));
  if (!q) return WEFT_ENOMEM;
  for (size_t i = 0; i < s->q_len; i++)
    q[i] = s->q[(s->q_head + i) & (s->q_cap - 1)];
  if (s->q != &s->q1) free(s->q);
  s->q = q;
  s->q_cap = cap;
  s->q_head = 0;
  return 0;
}

static int queue_push(weft__stream *s, weft__payload *p) {
  if (s->q_len == s->q_cap && ring_grow(s) != 0) return WEFT_ENOMEM;
  weft__qent *e = &s->q[(s->q_head + s->q_len) & (s->q_cap - 1)];
  e->p = p;
  e->off = 0;
  p->refs++;
  s->q_len++;
  s->queued += weft__payload_wire_len(p);
  s->held += weft__stream_cost(p);
  return 0;
}

/* Drops `n` written bytes from the head of the queue. */
static void queue_consume(weft__stream *s, size_t n) {
  while (n > 0 && s->q_len > 0) {
    weft__qent *e = &s->q[s->q_head];
    size_t rem = weft__payload_wire_len(e->p) - e->off;
    if (n < rem) {
      e->off += n;
      s->queued -= n;
      return;
    }
    n -= rem;
    s->queued -= rem;
    s->held -= weft__stream_cost(e->p);
    if (e->p->len >= WEFT__BIG && e->p->refs == 1) weft__loop_released(s->loop, e->p->len);
    weft__payload_release(e->p);
    s->q_head = (s->q_head + 1) & (s->q_cap - 1);
    s->q_len--;
  }
}

static void queue_clear(weft__stream *s) {
  while (s->q_len > 0) {
    weft__payload_release(s->q[s->q_head].p);
    s->q_head = (s->q_head + 1) & (s->q_cap - 1);
    s->q_len--;
  }
  s->queued = s->held = 0;
  if (s->q != &s->q1) free(s->q);
  s->q = &s->q1;
  s->q_cap = 1;
  s->q_head = 0;
}

int weft__stream_enqueue(weft__stream *s, weft__payload *p) {
  if (s->closed) return WEFT_ECLOSED;
  if (s->tls) {
    if (s->tls->pq_len == s->tls->pq_cap) {
      size_t cap = s->tls->pq_cap ? s->tls->pq_cap * 2 : 8;
      weft__payload **q = realloc(s->tls->pq, cap * sizeof(*q));
      if (!q) return WEFT_ENOMEM;
      s->tls->pq = q;
      s->tls->pq_cap = cap;
    }
    p->refs++;
    s->tls->pq[s->tls->pq_len++] = p;
    s->queued += weft__payload_wire_len(p);
    s->held += weft__stream_cost(p);
    weft__stream_mark(s);
    return 0;
  }
  int rc = queue_push(s, p);
  if (rc) return rc;
  weft__stream_mark(s);
  return 0;
}

weft__payload *weft__stream_tail(const weft__stream *s) {
  if (s->tls)
    return s->tls->pq_len ? s->tls->pq[s->tls->pq_len - 1] : NULL; /* plaintext: nothing written */
  if (s->q_len == 0 || (s->writing && s->q_len <= s->inflight_n)) return NULL;
  const weft__qent *e = &s->q[(s->q_head + s->q_len - 1) & (s->q_cap - 1)];
  return e->off ? NULL : e->p;
}

void weft__stream_swap_tail(weft__stream *s, weft__payload *p) {
  weft__payload **slot = s->tls ? &s->tls->pq[s->tls->pq_len - 1]
                                : &s->q[(s->q_head + s->q_len - 1) & (s->q_cap - 1)].p;
  weft__payload *old = *slot;
  s->queued += weft__payload_wire_len(p) - weft__payload_wire_len(old);
  s->held += weft__stream_cost(p) - weft__stream_cost(old);
  p->refs++;
  *slot = p;
  weft__payload_release(old);
}

/* ---- writing ---- */

static size_t fill_iov(weft__stream *s, uv_buf_t *iov, size_t *total) {
  size_t n = s->q_len < WEFT__IOV_MAX ? s->q_len : WEFT__IOV_MAX, sum = 0;
  for (size_t i = 0; i < n; i++) {
    weft__qent *e = &s->q[(s->q_head + i) & (s->q_cap - 1)];
    iov[i].base = (char *)weft__payload_wire(e->p) + e->off;
    iov[i].len = weft__payload_wire_len(e->p) - e->off;
    sum += iov[i].len;
  }
  *total = sum;
  return n;
}

/* uv_try_write, as sendmsg: it skips the VFS layer that write(2) goes
 * through (about 100 ns less kernel time per call on loopback, measured),
 * and MSG_NOSIGNAL keeps a peer that reset from raising SIGPIPE in hosts
 * that did not ignore it. One buffer (the usual corked write) goes with
 * send(), which skips copying in a message header and an iovec array.
 * Returns bytes written, 0 when the socket is full, or a libuv error. */
static long try_write(weft__stream *s, uv_buf_t *iov, size_t n) {
#ifndef _WIN32
  uv_os_fd_t fd;
  if (uv_fileno(&s->h.handle, &fd) == 0) {
    struct msghdr m = {0};
    m.msg_iov = (struct iovec *)iov; /* libuv: uv_buf_t is an iovec on Unix */
    m.msg_iovlen = n;
    ssize_t r;
    do {
      r = n == 1 ? send(fd, iov[0].base, iov[0].len, MSG_NOSIGNAL | MSG_DONTWAIT)
                 : sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r >= 0) return (long)r;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : uv_translate_sys_error(errno);
  }
#endif
  int w = uv_try_write(&s->h.stream, iov, (unsigned)n);
  return w == UV_EAGAIN || w == UV_ENOSYS ? 0 : w;
}

/* Small frames leave as one buffer (see WEFT__CORK). Only for a write that
 * completes or fails now: the buffer is the loop's, reused by the next. */
static size_t cork(weft_loop *loop, uv_buf_t *iov, size_t n, size_t total) {
  if (n < 2 || total > sizeof(loop->cork)) return n;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    memcpy(loop->cork + at, iov[i].base, iov[i].len);
    at += iov[i].len;
  }
  iov[0] = uv_buf_init((char *)loop->cork, (unsigned)total);
  return 1;
}

#define WEFT__SPARE_WRITES 256 /* write requests the loop keeps for reuse */

static uv_write_t *write_req(weft_loop *loop) {
  uv_write_t *w = loop->spare_writes;
  if (!w) return malloc(sizeof(*w));
  loop->spare_writes = w->data;
  loop->n_spare_writes--;
  return w;
}

static void write_req_done(weft_loop *loop, uv_write_t *w) {
  if (loop->n_spare_writes >= WEFT__SPARE_WRITES) {
    free(w);
    return;
  }
  w->data = loop->spare_writes;
  loop->spare_writes = w;
  loop->n_spare_writes++;
}

static void on_write(uv_write_t *req, int status) {
  weft__stream *s = req->data;
  write_req_done(s->loop, req);
  s->writing = 0;
  if (s->closed) return; /* cancelled by uv_close */
  if (status < 0) {
    s->ops->eof(s, status);
    return;
  }
  size_t done = 0;
  for (size_t i = 0; i < s->inflight_n; i++) {
    weft__qent *e = &s->q[(s->q_head + i) & (s->q_cap - 1)];
    done += weft__payload_wire_len(e->p) - e->off;
  }
  s->inflight_n = 0;
  queue_consume(s, done);
  if (s->q_len > 0)
    weft__stream_flush(s);
  else
    s->ops->written(s);
}

/* Encrypts waiting plaintext (once the handshake is done) and queues the
 * ciphertext, handshake records included. Returns 0 or an error. */
static int tls_pump(weft__stream *s) {
  if (s->tls_ready) {
    for (size_t i = 0; i < s->tls->pq_len; i++) {
      weft__payload *p = s->tls->pq[i];
      int rc = weft__tls_write(s->tls->t, weft__payload_wire(p), weft__payload_wire_len(p));
      s->queued -= weft__payload_wire_len(p);
      s->held -= weft__stream_cost(p);
      weft__payload_release(p);
      if (rc) {
        for (size_t k = i + 1; k < s->tls->pq_len; k++) {
          s->queued -= weft__payload_wire_len(s->tls->pq[k]);
          s->held -= weft__stream_cost(s->tls->pq[k]);
          weft__payload_release(s->tls->pq[k]);
        }
        s->tls->pq_len = 0;
        return rc;
      }
    }
    s->tls->pq_len = 0;
  }
  size_t n = weft__tls_pending(s->tls->t);
  if (n == 0) return 0;
  weft__payload *c = weft__payload_take(s->loop, WEFT__P_RAW, NULL, n);
  if (!c) return WEFT_ENOMEM;
  weft__tls_take(s->tls->t, c->data, n);
  int rc = queue_push(s, c);
  weft__payload_release(c);
  return rc;
}

void weft__stream_flush(weft__stream *s) {
  if (s->closed) return;
  if (s->tls && tls_pump(s) != 0) {
    s->ops->eof(s, UV_EPROTO);
    return;
  }
  if (s->writing || s->q_len == 0) return;
  uv_buf_t iov[WEFT__IOV_MAX];
  size_t total;
  size_t n = fill_iov(s, iov, &total);
  n = cork(s->loop, iov, n, total);
  long w = try_write(s, iov, n);
  if (w < 0) {
    s->ops->eof(s, (int)w);
    return;
  }
  queue_consume(s, (size_t)w);
  if (s->q_len > 0) {
    n = fill_iov(s, iov, &total);
    s->inflight_n = (uint8_t)n; /* n <= WEFT__IOV_MAX */
    uv_write_t *req = write_req(s->loop);
    int rc = UV_ENOMEM;
    if (req) {
      req->data = s;
      rc = uv_write(req, &s->h.stream, iov, (unsigned)n, on_write);
    }
    if (rc != 0) {
      if (req) write_req_done(s->loop, req);
      s->inflight_n = 0;
      s->ops->eof(s, rc);
      return;
    }
    s->writing = 1;
  }
  s->ops->written(s);
}

/* ---- reading ---- */

/* Room for `extra` more kept bytes (the block made or grown). */
static int kept_reserve(weft__stream *s, size_t extra) {
  weft__kept *k = s->in;
  size_t len = k ? k->len : 0, cap = k ? k->cap : 0;
  if (cap - len >= extra) return 0;
  if (extra > SIZE_MAX / 4 - len) return WEFT_ENOMEM;
  if (!cap) cap = 256;
  while (cap - len < extra)
    cap *= 2;
  k = realloc(k, sizeof *k + cap);
  if (!k) return WEFT_ENOMEM;
  k->len = len;
  k->cap = cap;
  s->in = k;
  return 0;
}

int weft__stream_keep(weft__stream *s, const void *data, size_t n) {
  if (n == 0) return 0;
  if (kept_reserve(s, n) != 0) return WEFT_ENOMEM;
  memcpy(s->in->data + s->in->len, data, n);
  s->in->len += n;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  weft__stream *s = h->data;
  weft_loop *loop = s->loop;
  (void)suggested;
  /* TLS streams always read ciphertext into the shared buffer: the TLS
   * session keeps partial records, plaintext leftovers go to `in`. */
  if ((!s->in || !s->in->len || s->tls) && !loop->rbuf_busy) {
    loop->rbuf_busy = 1;
    *buf = uv_buf_init((char *)loop->rbuf, sizeof(loop->rbuf));
    return;
  }
  size_t kept = weft__stream_kept(s);
  size_t want = s->need > kept ? s->need - kept : 0;
  if (want < 16384) want = 16384;
  if (kept_reserve(s, want) != 0) {
    *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init((char *)s->in->data + kept, (unsigned)(s->in->cap - kept));
}

static void kept_free(weft__stream *s) {
  if (s->in && s->in->cap >= WEFT__BIG) weft__loop_released(s->loop, s->in->cap);
  free(s->in);
  s->in = NULL;
}

void weft__stream_reprocess(weft__stream *s) {
  weft__kept *k = s->in;
  if (!k || k->len == 0 || s->closed) return;
  size_t used = s->ops->read(s, k->data, k->len);
  if (s->closed) return;
  k = s->in;
  if (!k) return;
  if (used >= k->len) {
    kept_free(s); /* nothing pending: idle streams hold no buffer */
  } else if (used > 0) {
    memmove(k->data, k->data + used, k->len - used);
    k->len -= used;
  }
}

/* Offers bytes from a transient buffer; what is not consumed is kept. */
static void deliver(weft__stream *s, uint8_t *data, size_t n) {
  if (s->in) { /* bytes kept (or a block made for a read that brought none) */
    if (weft__stream_keep(s, data, n) != 0)
      s->ops->eof(s, UV_ENOMEM);
    else
      weft__stream_reprocess(s);
    return;
  }
  size_t used = s->ops->read(s, data, n);
  if (used < n && !s->closed && weft__stream_keep(s, data + used, n - used) != 0)
    s->ops->eof(s, UV_ENOMEM);
}

/* Ciphertext arrived: advance the handshake, then decrypt what is there. */
static void tls_input(weft__stream *s, const uint8_t *data, size_t n) {
  weft_loop *loop = s->loop;
  if (n && weft__tls_feed(s->tls->t, data, n) != 0) {
    s->ops->eof(s, UV_ENOMEM);
    return;
  }
  if (!s->tls_ready) {
    int rc = weft__tls_handshake(s->tls->t);
    weft__stream_mark(s); /* handshake records to send */
    if (rc < 0) {
      weft__stream_flush(s); /* the alert, if any */
      s->ops->eof(s, UV_EPROTO);
      return;
    }
    if (rc == 0) return;
    s->tls_ready = 1;
    if (s->tell_ready) s->ops->read(s, loop->tbuf, 0);
  }
  while (!s->closed && !s->yielded && !s->paused) {
    long r = weft__tls_read(s->tls->t, loop->tbuf, sizeof(loop->tbuf));
    if (r == 0) break;
    if (r < 0) {
      s->ops->eof(s, r == WEFT_ECLOSED ? UV_EOF : UV_EPROTO);
      return;
    }
    deliver(s, loop->tbuf, (size_t)r);
  }
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  weft__stream *s = h->data;
  weft_loop *loop = s->loop;
  int shared = buf->base == (char *)loop->rbuf;
  if (shared) loop->rbuf_busy = 0;
  if (nread < 0) {
    if (!s->closed) s->ops->eof(s, (int)nread);
    return;
  }
  if (nread == 0 || s->closed) return;
  if (s->tls) {
    tls_input(s, (const uint8_t *)buf->base, (size_t)nread);
    return;
  }
  if (!shared) {
    s->in->len += (size_t)nread;
    weft__stream_reprocess(s);
  } else {
    deliver(s, loop->rbuf, (size_t)nread);
  }
  if (!s->closed) weft__loop_flush_if_last(loop, &s->flush);
}

/* ---- life ---- */

static void on_seal(weft__flushable *f) {
  weft__stream *s = WEFT__CONTAINER(f, weft__stream, flush);
  if (s->ops->seal) s->ops->seal(s);
}

static void on_flush(weft__flushable *f) {
  weft__stream_flush(WEFT__CONTAINER(f, weft__stream, flush));
}

void weft__stream_yield(weft__stream *s) {
  if (s->yielded || s->closed) return;
  if (weft__loop_defer(s->loop, &s->flush) != 0) return; /* no memory: carry on now */
  s->yielded = 1;
  uv_read_stop(&s->h.stream);
}

/* The next turn: what was kept first, then TLS plaintext still waiting in
 * the session, then reading again, unless the owner yields once more. */
static void on_resume(weft__flushable *f) {
  weft__stream *s = WEFT__CONTAINER(f, weft__stream, flush);
  if (s->closed) return;
  s->yielded = 0;
  if (s->paused) return; /* weft__stream_pause(s, 0) defers again */
  weft__stream_reprocess(s);
  if (s->tls && !s->closed && !s->yielded && !s->paused) tls_input(s, NULL, 0);
  if (s->closed || s->yielded || s->paused) return;
  int rc = uv_read_start(&s->h.stream, on_alloc, on_read);
  if (rc) s->ops->eof(s, rc);
}

void weft__stream_pause(weft__stream *s, int on) {
  if (s->closed || s->paused == !!on) return;
  s->paused = (uint8_t) !!on;
  if (s->yielded) return; /* on_resume looks at `paused` */
  if (on) {
    uv_read_stop(&s->h.stream);
  } else if (weft__loop_defer(s->loop, &s->flush) == 0) {
    s->yielded = 1; /* on_resume: the kept bytes, then reading */
  } else {
    s->paused = 1; /* no memory to defer: stay paused rather than re-enter */
  }
}

static const weft__flush_ops flush_ops = {on_seal, on_flush, on_resume};

void weft__stream_init(weft__stream *s, weft_loop *loop, int kind, const weft__stream_ops *ops) {
  memset(s, 0, sizeof(*s));
  s->flush.ops = &flush_ops;
  s->loop = loop;
  s->ops = ops;
  s->q = &s->q1;
  s->q_cap = 1;
  s->kind = (uint8_t)kind;
  if (kind == WEFT__STREAM_PIPE)
    uv_pipe_init(loop->uv, &s->h.pipe, 0);
  else
    uv_tcp_init(loop->uv, &s->h.tcp);
  s->h.handle.data = s;
}

int weft__stream_tls(weft__stream *s, weft__tls_ctx *ctx, int server, const char *host) {
  weft__tls_part *b = calloc(1, sizeof(*b));
  if (!b) return WEFT_ENOMEM;
  int rc = weft__tls_new(&b->t, ctx, server, host);
  if (rc) {
    free(b);
    return rc;
  }
  s->tls = b;
  return 0;
}

const char *weft__stream_tls_error(const weft__stream *s) {
  return weft__tls_error(s->tls ? s->tls->t : NULL);
}

int weft__stream_idle(const weft__stream *s) {
  return s->q_len == 0 && (!s->tls || s->tls->pq_len == 0) && !s->writing;
}

int weft__stream_start(weft__stream *s) {
  if (s->kind == WEFT__STREAM_TCP) uv_tcp_nodelay(&s->h.tcp, 1);
  int rc = uv_read_start(&s->h.stream, on_alloc, on_read);
  if (rc) return weft__uv_err(rc);
  if (s->tls && weft__tls_handshake(s->tls->t) < 0) return WEFT_EPROTO; /* client hello */
  if (s->tls) weft__stream_mark(s);
  return 0;
}

static void on_closed(uv_handle_t *h) {
  weft__stream *s = h->data;
  size_t ring = s->q != &s->q1 ? s->q_cap * sizeof(weft__qent) : 0;
  weft__loop_released(s->loop, s->held + (s->in ? s->in->cap : 0) + ring);
  queue_clear(s);
  if (s->tls) {
    for (size_t i = 0; i < s->tls->pq_len; i++)
      weft__payload_release(s->tls->pq[i]);
    free(s->tls->pq);
    weft__tls_free(s->tls->t);
    free(s->tls);
    s->tls = NULL;
  }
  free(s->in);
  s->in = NULL;
  s->ops->closed(s);
}

void weft__stream_peer(weft__stream *s, char *addr, size_t cap, int *port) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  addr[0] = '\0';
  *port = 0;
  if (s->kind != WEFT__STREAM_TCP || uv_tcp_getpeername(&s->h.tcp, (struct sockaddr *)&ss, &len))
    return;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, addr, cap);
    *port = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, addr, cap);
    *port = ntohs(a->sin_port);
  }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status; /* cancelled by a close, or done: the reads end it */
  free(req);
}

int weft__stream_shutdown(weft__stream *s) {
  if (s->closed || s->tls) return WEFT_ESTATE;
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (!req) return WEFT_ENOMEM;
  int rc = uv_shutdown(req, &s->h.stream, on_shutdown);
  if (rc) free(req);
  return weft__uv_err(rc);
}

void weft__stream_close(weft__stream *s) {
  if (s->closed) return;
  weft__loop_unmark_dirty(s->loop, &s->flush);
  if (s->yielded) weft__loop_undefer(s->loop, &s->flush);
  s->closed = 1;
  uv_read_stop(&s->h.stream);
  uv_close(&s->h.handle, on_closed);
}
