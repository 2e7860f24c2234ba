/* Byte streams (see stream.h). */
#include "stream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/common.h"
#include "payload.h"
#include "tls.h"

#define WEFT__IOV_MAX 64

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

/* A gather (see gather()) keeps in its header room, which it never uses,
 * the memory it counts in `held`. */
_Static_assert(sizeof(size_t) <= WEFT__PAYLOAD_HEAD, "a gather's count fits its header room");

static size_t gather_held(const weft__payload *g) {
  size_t v;
  memcpy(&v, g->head, sizeof(v));
  return v;
}

static void set_gather_held(weft__payload *g, size_t v) { memcpy(g->head, &v, sizeof(v)); }

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
    s->held -= e->p->kind == WEFT__P_GATHER ? gather_held(e->p) : weft__stream_cost(e->p);
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

/* A small frame queued behind another is copied to the end of a gather at
 * the queue's tail, a pooled payload of the stream's own, instead of taking
 * a slot of the ring: the flush then writes the frames already side by
 * side, and the frame's payload goes back to the pool at once. Pipelined
 * echo queues up to eight frames a turn on a connection; this saves each
 * but the first its slot, its gathering into the loop's cork and its
 * release at the write (about 65 instructions of 1078 a message). Control
 * frames and HTTP (RAW) keep their own slot: a pong waiting unwritten is
 * looked for at the tail (weft__stream_tail). Held memory still counts
 * each gathered frame as the payload it came in (what the queue limit
 * promises: a peer that does not read is closed after as many tiny
 * messages as before), kept in the gather's unused header room so that
 * writing the gather gives it back. A framing may also have a small
 * message encoded straight into the gather (weft__stream_reserve), with no
 * payload of its own: the first of a turn too, since the bytes are written
 * once either way, and a connection that queues a few small frames a turn
 * then holds one gather in its own slot, no ring. */
#define WEFT__GATHER_FRAME (WEFT__POOL_DATA / 2)

/* What a small frame costs the queue: the pooled payload it would come in
 * (or came in), whether it is gathered or not. */
static size_t small_cost(void) {
  return sizeof(weft__payload) + WEFT__POOL_DATA + sizeof(weft__qent);
}

/* A new gather at the queue's tail holding the first `n` bytes: it costs
 * its own payload (queue_push), and the frame that opens it rides in it.
 * Apart from gather_room, whose common case stays inline. */
static WEFT__NOINLINE uint8_t *gather_new(weft__stream *s, size_t n, int *rc) {
  weft__payload *g = weft__payload_take(s->loop, WEFT__P_GATHER, NULL, WEFT__POOL_DATA);
  if (!g) {
    *rc = WEFT_ENOMEM;
    return NULL;
  }
  g->len = n;                               /* queue_push counts the n bytes queued */
  set_gather_held(g, weft__stream_cost(g)); /* what queue_push adds */
  *rc = queue_push(s, g);
  weft__payload_release(g); /* the queue's reference is the one left */
  return *rc ? NULL : g->data;
}

/* Room for `n` more bytes at the end of the gather at the queue's tail,
 * a new one when the tail is not a gather with room. */
static inline uint8_t *gather_room(weft__stream *s, size_t n, size_t cost, int *rc) {
  weft__payload *g = s->q_len ? s->q[(s->q_head + s->q_len - 1) & (s->q_cap - 1)].p : NULL;
  if (!g || g->kind != WEFT__P_GATHER || WEFT__POOL_DATA - g->len < n) return gather_new(s, n, rc);
  s->held += cost;
  set_gather_held(g, gather_held(g) + cost);
  uint8_t *at = g->data + g->len;
  g->len += n;
  s->queued += n;
  return at;
}

static int gather(weft__stream *s, weft__payload *p) {
  size_t n = weft__payload_wire_len(p);
  int rc = 0;
  uint8_t *at = gather_room(s, n, weft__stream_cost(p), &rc);
  if (at) memcpy(at, weft__payload_wire(p), n);
  return rc;
}

uint8_t *weft__stream_reserve(weft__stream *s, size_t n, size_t limit, int *rc) {
  *rc = 0;
  if (s->closed) {
    *rc = WEFT_ECLOSED;
    return NULL;
  }
  if (s->tls || n > WEFT__GATHER_FRAME) return NULL;
  size_t cost = small_cost();
  if (s->held + cost > limit) {
    *rc = WEFT_ENOBUFS;
    return NULL;
  }
  uint8_t *at = gather_room(s, n, cost, rc);
  if (at) weft__stream_mark(s);
  return at;
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
  int rc = s->q_len && p->kind != WEFT__P_RAW && weft__payload_wire_len(p) <= WEFT__GATHER_FRAME
               ? gather(s, p)
               : queue_push(s, p);
  if (rc) return rc;
  weft__stream_mark(s);
  return 0;
}

weft__payload *weft__stream_tail(const weft__stream *s) {
  if (s->tls)
    return s->tls->pq_len ? s->tls->pq[s->tls->pq_len - 1] : NULL; /* plaintext: nothing written */
  if (s->q_len == 0) return NULL; /* send() copies: nothing unwritten is the kernel's */
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

/* Tells the loop's set what this stream waits for now: bytes while it
 * reads (a yielded stream stays watched: level-triggered, its readiness is
 * found again after the check phase resumes it), room while blocked. */
static int watch(weft__stream *s) {
  uint32_t want = (s->reading && !s->paused ? EPOLLIN : 0) | (s->blocked ? EPOLLOUT : 0);
  return weft__io_watch(s->loop, &s->io, want);
}

/* After the end of the stream or a failed write, as libuv does: reading
 * (or waiting for room) stops, so a level-triggered set does not report
 * the same end again while the owner lets the stream linger. */
static void stop_io(weft__stream *s, int reading) {
  if (reading)
    s->reading = 0;
  else
    s->blocked = 0;
  watch(s); /* less than before: cannot fail */
}

static size_t fill_iov(weft__stream *s, struct iovec *iov, size_t *total) {
  size_t n = s->q_len < WEFT__IOV_MAX ? s->q_len : WEFT__IOV_MAX, sum = 0;
  for (size_t i = 0; i < n; i++) {
    weft__qent *e = &s->q[(s->q_head + i) & (s->q_cap - 1)];
    iov[i].iov_base = (char *)weft__payload_wire(e->p) + e->off;
    iov[i].iov_len = weft__payload_wire_len(e->p) - e->off;
    sum += iov[i].iov_len;
  }
  *total = sum;
  return n;
}

/* sendmsg, not writev: it skips the VFS layer that write(2) goes through
 * (about 100 ns less kernel time per call on loopback, measured), and
 * MSG_NOSIGNAL keeps a peer that reset from raising SIGPIPE in hosts that
 * did not ignore it. One buffer (the usual corked write) goes with send(),
 * which skips copying in a message header and an iovec array. Returns
 * bytes written, 0 when the socket is full, or a libuv error. */
static long try_write(weft__stream *s, struct iovec *iov, size_t n) {
  struct msghdr m = {0};
  m.msg_iov = iov;
  m.msg_iovlen = n;
  ssize_t r;
  do {
    r = n == 1 ? send(s->io.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT)
               : sendmsg(s->io.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  if (r >= 0) return (long)r;
  return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : uv_translate_sys_error(errno);
}

/* Small frames leave as one buffer (see WEFT__CORK): what the socket does
 * not take of it is left in the queue (by offset), so the cork is free
 * again when this returns. */
static size_t cork(weft_loop *loop, struct iovec *iov, size_t n, size_t total) {
  if (n < 2 || total > sizeof(loop->cork)) return n;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    memcpy(loop->cork + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  iov[0].iov_base = loop->cork;
  iov[0].iov_len = total;
  return 1;
}

/* Returns 0 or a libuv error. */
static int do_shutdown(weft__stream *s) {
  s->shut = 0;
  return shutdown(s->io.fd, SHUT_WR) == 0 ? 0 : uv_translate_sys_error(errno);
}

/* Writes from the queue until it is empty or the socket is full; then
 * waits for room (EPOLLOUT) or stops waiting. */
static void write_queue(weft__stream *s) {
  struct iovec iov[WEFT__IOV_MAX];
  int full = 0;
  while (s->q_len > 0 && !full) {
    size_t total;
    size_t n = fill_iov(s, iov, &total);
    n = cork(s->loop, iov, n, total);
    long w = try_write(s, iov, n);
    if (w < 0) {
      stop_io(s, 0);
      s->ops->eof(s, (int)w);
      return;
    }
    queue_consume(s, (size_t)w);
    full = (size_t)w < total;
  }
  if (s->blocked != full) {
    s->blocked = (uint8_t)full;
    if (watch(s) != 0) {
      s->ops->eof(s, UV_ENOMEM);
      return;
    }
  }
  if (s->shut && s->q_len == 0) {
    int rc = do_shutdown(s);
    if (rc) {
      s->ops->eof(s, rc);
      return;
    }
  }
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
  if (s->blocked || s->q_len == 0) return; /* EPOLLOUT resumes a blocked stream */
  write_queue(s);
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

/* Where the next read goes: the loop's shared buffer when nothing is kept
 * (TLS streams always: the session keeps partial records, plaintext
 * leftovers go to `in`), else the kept block, grown for what the owner
 * said the pending unit needs. Returns 0 or UV_ENOBUFS. */
static int read_room(weft__stream *s, uint8_t **buf, size_t *cap) {
  weft_loop *loop = s->loop;
  if ((!s->in || !s->in->len || s->tls) && !loop->rbuf_busy) {
    loop->rbuf_busy = 1;
    *buf = loop->rbuf;
    *cap = sizeof(loop->rbuf);
    return 0;
  }
  size_t kept = weft__stream_kept(s);
  size_t want = s->need > kept ? s->need - kept : 0;
  if (want < 16384) want = 16384;
  if (kept_reserve(s, want) != 0) return UV_ENOBUFS;
  *buf = s->in->data + kept;
  *cap = s->in->cap - kept;
  return 0;
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

/* Reads until the socket is drained (a read that does not fill its
 * buffer), the owner stops, or a few full buffers went by (the others'
 * turn; level-triggered, the rest is found in the next poll). */
#define WEFT__READS_PER_TURN 8

static void read_socket(weft__stream *s) {
  weft_loop *loop = s->loop;
  s->spent = 0; /* the owner says again if this turn spends its budget */
  for (int i = 0; i < WEFT__READS_PER_TURN; i++) {
    uint8_t *buf;
    size_t cap;
    int rc = read_room(s, &buf, &cap);
    if (rc) {
      s->ops->eof(s, rc);
      return;
    }
    int shared = buf == loop->rbuf;
    ssize_t n;
    do {
      n = recv(s->io.fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    if (shared) loop->rbuf_busy = 0;
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      int err = n == 0 ? UV_EOF : uv_translate_sys_error(errno);
      stop_io(s, 1);
      s->ops->eof(s, err);
      return;
    }
    if (s->tls) {
      tls_input(s, buf, (size_t)n);
    } else if (!shared) {
      s->in->len += (size_t)n;
      weft__stream_reprocess(s);
    } else {
      deliver(s, buf, (size_t)n);
    }
    if (s->closed) return;
    if (!s->tls) weft__loop_flush_if_last(loop, &s->flush);
    if ((size_t)n < cap || s->yielded || s->paused || s->closed) return;
  }
}

/* The set found the socket ready. A stream closed earlier in the same
 * batch still has its memory (the close finishes in the check phase). */
void weft__stream_on_io(weft__io *io, uint32_t events) {
  weft__stream *s = WEFT__CONTAINER(io, weft__stream, io);
  if (s->closed) return;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && s->reading) {
    if (s->paused) {
      watch(s); /* bytes wait while paused: stop being told (cannot fail: less) */
    } else if (s->spent && !s->yielded && weft__loop_defer(s->loop, &s->flush) == 0) {
      s->yielded = 1; /* after the others: on_resume reads */
      s->read_due = 1;
    } else if (!s->yielded) {
      read_socket(s);
      if (s->closed) return;
    }
  }
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && s->blocked) {
    write_queue(s); /* unblocks it when the queue is written */
  }
}

/* ---- life ---- */

static void finish_close(weft__stream *s);

static void on_seal(weft__flushable *f) {
  weft__stream *s = WEFT__CONTAINER(f, weft__stream, flush);
  if (s->ops->seal && !s->closed) s->ops->seal(s);
}

static void on_flush(weft__flushable *f) {
  weft__stream *s = WEFT__CONTAINER(f, weft__stream, flush);
  if (s->closed)
    finish_close(s);
  else
    weft__stream_flush(s);
}

void weft__stream_yield(weft__stream *s) {
  if (s->yielded || s->closed) return;
  if (weft__loop_defer(s->loop, &s->flush) != 0) return; /* no memory: carry on now */
  s->yielded = 1;
}

void weft__stream_spent(weft__stream *s) {
  s->spent = 1;
  weft__stream_yield(s);
}

/* The next turn: what was kept first, then TLS plaintext still waiting in
 * the session; the socket's own readiness is found by the next poll. */
static void on_resume(weft__flushable *f) {
  weft__stream *s = WEFT__CONTAINER(f, weft__stream, flush);
  if (s->closed) return;
  int read_due = s->read_due;
  s->yielded = s->read_due = 0;
  if (s->paused) return; /* weft__stream_pause(s, 0) defers again */
  weft__stream_reprocess(s);
  if (s->tls && !s->closed && !s->yielded && !s->paused) tls_input(s, NULL, 0);
  if (s->closed || s->yielded || s->paused) return;
  if (read_due && s->reading) {
    read_socket(s);
    if (s->closed || s->yielded || s->paused) return;
  }
  if (watch(s) != 0) s->ops->eof(s, UV_ENOMEM);
}

void weft__stream_pause(weft__stream *s, int on) {
  if (s->closed || s->paused == !!on) return;
  s->paused = (uint8_t) !!on;
  /* A yielded stream: on_resume looks at `paused`. A pause tells the set
   * nothing yet: it is often short (an owner that admits), and the set is
   * told only when bytes arrive meanwhile. */
  if (s->yielded || on) return;
  if (weft__loop_defer(s->loop, &s->flush) == 0) {
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
  s->io.kind = WEFT__IO_STREAM;
  s->io.fd = -1;
  s->q = &s->q1;
  s->q_cap = 1;
  s->kind = (uint8_t)(kind == WEFT__STREAM_PIPE);
}

int weft__stream_set_fd(weft__stream *s, int fd) {
  if (s->closed || s->io.fd >= 0) return WEFT_ESTATE;
  s->io.fd = fd;
  return 0;
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
  return s->q_len == 0 && (!s->tls || s->tls->pq_len == 0);
}

int weft__stream_start(weft__stream *s) {
  if (s->closed || s->io.fd < 0) return WEFT_ESTATE;
  if (s->kind == WEFT__STREAM_TCP) {
    int one = 1;
    setsockopt(s->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  s->reading = 1;
  int rc = watch(s);
  if (rc) return rc;
  if (s->tls && weft__tls_handshake(s->tls->t) < 0) return WEFT_EPROTO; /* client hello */
  if (s->tls) weft__stream_mark(s);
  return 0;
}

/* The check phase after the close (the dirty list's flush): every event of
 * the batch that saw the close is behind us, so the owner may free. */
static void finish_close(weft__stream *s) {
  if (s->done) return;
  s->done = 1;
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

/* Dotted decimal without a printf (libuv's formats with snprintf, ~1,800
 * instructions, once per connection). cap >= 16. */
static void ip4_text(const uint8_t b[4], char *out) {
  for (int i = 0; i < 4; i++) {
    unsigned v = b[i];
    if (v >= 100) *out++ = (char)('0' + v / 100);
    if (v >= 10) *out++ = (char)('0' + v / 10 % 10);
    *out++ = (char)('0' + v % 10);
    *out++ = i < 3 ? '.' : '\0';
  }
}

int weft__sockaddr_text(const struct sockaddr *sa, char *addr, size_t cap, int *port) {
  addr[0] = '\0';
  *port = 0;
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
    uv_ip6_name(a, addr, cap);
    *port = ntohs(a->sin6_port);
  } else if (sa->sa_family == AF_INET && cap >= 16) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
    ip4_text((const uint8_t *)&a->sin_addr, addr);
    *port = ntohs(a->sin_port);
  } else {
    return 0;
  }
  return 1;
}

void weft__stream_peer(weft__stream *s, char *addr, size_t cap, int *port) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  addr[0] = '\0';
  *port = 0;
  if (s->kind != WEFT__STREAM_TCP || s->io.fd < 0 ||
      getpeername(s->io.fd, (struct sockaddr *)&ss, &len) != 0)
    return;
  weft__sockaddr_text((const struct sockaddr *)&ss, addr, cap, port);
}

int weft__stream_shutdown(weft__stream *s) {
  if (s->closed || s->tls || s->io.fd < 0) return WEFT_ESTATE;
  if (s->q_len > 0) {
    s->shut = 1; /* write_queue sends the FIN after the queue */
    return 0;
  }
  return weft__uv_err(do_shutdown(s));
}

void weft__stream_close(weft__stream *s) {
  if (s->closed) return;
  if (s->yielded) weft__loop_undefer(s->loop, &s->flush);
  s->closed = 1;
  if (s->io.fd >= 0) {
    /* Out of the set before the close: a copy of the descriptor in a
     * forked child would keep it there, reporting on freed memory. */
    if (s->io.events) weft__io_watch(s->loop, &s->io, 0);
    if (s->dialing) weft__io_drop(s->loop, s->io.fd);
    s->dialing = 0;
    close(s->io.fd);
    s->io.fd = -1;
  }
  weft__loop_mark_dirty(s->loop, &s->flush); /* finish_close in the check phase */
}
