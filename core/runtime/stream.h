/*
 * A byte stream: one connection's bytes in and out over a socket of its own
 * — TCP or Unix-domain — with TLS on top of either. The socket is watched
 * in the loop's epoll set (loop.h, decision #38) and read with recv() and
 * written with send() by this file: no libuv handle per connection. Reads
 * land in the loop's shared buffer and only unconsumed bytes are kept;
 * writes queue references to payloads and leave corked, one write per
 * stream per loop turn (loop.h); what the socket does not take waits for
 * it to be writable. The owner (a framing) supplies what the bytes mean
 * through the ops.
 */
#ifndef WEFT__STREAM_H
#define WEFT__STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "loop.h"
#include "payload.h"

struct weft__payload;
struct weft__tls;
struct weft__tls_ctx;
typedef struct weft__stream weft__stream;

/* What a stream runs over. */
enum { WEFT__STREAM_TCP = 0, WEFT__STREAM_PIPE = 1 };

typedef struct weft__stream_ops {
  /* Bytes arrived: consume what can be, return how many; the rest is kept
   * and offered again with more appended. */
  size_t (*read)(weft__stream *s, uint8_t *data, size_t len);
  /* The peer closed or the socket failed (a libuv error code: UV_EOF,
   * UV_ECONNRESET, ...). */
  void (*eof)(weft__stream *s, int uverr);
  /* Queued bytes were written (the queue shrank). */
  void (*written)(weft__stream *s);
  /* The stream is closed (in the check phase after weft__stream_close,
   * never inside it): the owner may free the memory holding it. */
  void (*closed)(weft__stream *s);
  /* Optional: just before the flush, the owner queues what it held back
   * for this loop turn (a batch of messages). */
  void (*seal)(weft__stream *s);
} weft__stream_ops;

/* A TLS stream's part (a block of its own, so plain streams do not carry
 * it): the session, and frames waiting in pq as plaintext until the flush
 * encrypts them into the stream's queue (until the handshake is done they
 * just wait). */
typedef struct weft__tls_part {
  struct weft__tls *t;
  struct weft__payload **pq;
  uint32_t pq_len, pq_cap;
} weft__tls_part;

/* Bytes a read left unconsumed (a unit split across reads), in one block
 * made only while some are kept: an idle stream carries a pointer, not a
 * buffer's three words. */
typedef struct weft__kept {
  size_t len, cap;
  uint8_t data[];
} weft__kept;

typedef struct weft__qent {
  struct weft__payload *p;
  size_t off; /* bytes of the frame already written */
} weft__qent;

struct weft__stream {
  weft__flushable flush; /* on the loop's list while writes wait, or the close is owed */
  weft_loop *loop;
  const weft__stream_ops *ops;
  weft__io io;      /* the socket (fd -1 until accepted, opened or dialed) */
  uint8_t closed;   /* weft__stream_close called */
  uint8_t reading;  /* started: the owner wants bytes */
  uint8_t yielded;  /* bytes not offered until the next check phase */
  uint8_t paused;   /* reading stopped by the owner until it resumes */
  uint8_t blocked;  /* the socket took less than was queued: wait for EPOLLOUT */
  uint8_t kind : 1; /* WEFT__STREAM_* */
  uint8_t tls_ready : 1;
  /* Set by the owner: once the TLS handshake is done, read is offered zero
   * bytes (a server framing that speaks first: fast-tcp over tcps://). */
  uint8_t tell_ready : 1;
  uint8_t shut : 1;     /* a FIN is owed once the queue is written */
  uint8_t dialing : 1;  /* a connector watches the socket (net.c) */
  uint8_t done : 1;     /* ops->closed given */
  uint8_t spent : 1;    /* used its turn's budget: reads in the check phase */
  uint8_t read_due : 1; /* deferred by the poll: read when resumed */
  /* The ring of queued frames: q1 while it holds at most one (stream.c). */
  uint32_t q_head, q_len, q_cap;
  uint32_t need;              /* owner's hint: bytes the pending unit needs in all */
  struct weft__kept *in;      /* unconsumed bytes across reads; NULL when none */
  weft__qent *q;              /* ring of queued frames */
  size_t queued;              /* bytes queued, not yet written */
  size_t held;                /* memory the queue holds: its payloads and their slots */
  struct weft__tls_part *tls; /* NULL: plain bytes */
  weft__qent q1;
};

/* The owner's hint, from inside ops->read: the unit it could not finish
 * needs `n` bytes in all (0: unknown), so the next read reserves room for
 * them. Saturates at 4 GiB - 1 (a hint). */
static inline void weft__stream_need(weft__stream *s, size_t n) {
  s->need = n < UINT32_MAX ? (uint32_t)n : UINT32_MAX;
}
/* The bytes kept across reads (0 when none). */
static inline size_t weft__stream_kept(const weft__stream *s) { return s->in ? s->in->len : 0; }
/* Appends bytes to the kept ones (a head already read when a socket is
 * handed over). Returns 0 or WEFT_ENOMEM. */
int weft__stream_keep(weft__stream *s, const void *data, size_t n);

/* Initialises a stream of `kind` with no socket yet (accepted, opened or
 * dialed into it next); it is then closable with weft__stream_close()
 * whatever happens next. */
void weft__stream_init(weft__stream *s, weft_loop *loop, int kind, const weft__stream_ops *ops);
/* Gives the stream its socket, already non-blocking (the stream closes it
 * from now on). Returns 0 or WEFT_ESTATE (closed, or it has one). */
int weft__stream_set_fd(weft__stream *s, int fd);
/* Makes the stream speak TLS (before weft__stream_start). Returns 0 or
 * WEFT_ENOMEM. */
int weft__stream_tls(weft__stream *s, struct weft__tls_ctx *ctx, int server, const char *host);
/* Why TLS failed, "" when it did not (or is not in use). */
const char *weft__stream_tls_error(const weft__stream *s);
/* Starts reading (TCP: with TCP_NODELAY); a TLS client sends its hello.
 * Returns 0 or a WEFT_E* code. */
int weft__stream_start(weft__stream *s);
/* Nothing queued and nothing being written. */
int weft__stream_idle(const weft__stream *s);
/* Queues a payload's wire bytes (taking its own reference) and marks the
 * stream for the next flush. Returns 0, WEFT_ECLOSED or WEFT_ENOMEM. */
int weft__stream_enqueue(weft__stream *s, struct weft__payload *p);
/* Room for a small frame of `n` bytes written straight into the queue
 * (at the end of a gather, see stream.c), counted in `queued` and the held
 * memory as a small payload would be; the caller writes all n bytes before
 * anything else touches the stream. NULL with *rc 0 when the frame cannot
 * go this way (TLS, too long: queue a payload instead), or with *rc
 * WEFT_ECLOSED, WEFT_ENOBUFS (held memory would pass `limit`; nothing
 * queued) or WEFT_ENOMEM. */
uint8_t *weft__stream_reserve(weft__stream *s, size_t n, size_t limit, int *rc);
/* The payload last queued when nothing of it is written yet (it may still
 * be replaced), else NULL. */
struct weft__payload *weft__stream_tail(const weft__stream *s);
/* Replaces that payload with `p` (taking its own reference): one pending
 * control reply stands for many (a pong answers the latest ping). */
void weft__stream_swap_tail(weft__stream *s, struct weft__payload *p);
/* The memory one more queued payload would add. */
static inline size_t weft__stream_cost(const struct weft__payload *p) {
  return weft__payload_footprint(p) + sizeof(weft__qent);
}
/* Makes sure the owner's seal runs before this turn's flush. */
static inline void weft__stream_mark(weft__stream *s) { weft__loop_mark_dirty(s->loop, &s->flush); }
/* Writes what is queued now. */
void weft__stream_flush(weft__stream *s);
/* From inside ops->read: the owner has had its share of this loop turn.
 * Reading stops; what it did not consume is kept and offered again in the
 * next check phase, after every other connection had its turn, and then
 * reading goes on. */
void weft__stream_yield(weft__stream *s);
/* From inside ops->read: the owner has used its budget for a loop turn (a
 * burst of large messages). As yield, and until a read ends with the
 * socket drained and the budget unspent, the stream reads in the check
 * phase, after the connections the poll found ready: one peer's burst
 * costs the others at most one turn's budget at a time, not two (the
 * socket is ready again at the next poll, and would go before them). */
void weft__stream_spent(weft__stream *s);
/* The owner stops reading (on = 1) until it resumes (on = 0): what it
 * has not consumed is kept, and the kernel's buffers fill (the peer slows
 * down). From inside ops->read, it returns what it consumed so far. Reading
 * resumes in the next check phase (kept bytes first), never inside the
 * call. */
void weft__stream_pause(weft__stream *s, int on);
/* Offers the kept bytes to ops->read again (after the owner's state
 * changed, e.g. an authorization answer). */
void weft__stream_reprocess(weft__stream *s);
/* The peer's address ("" for a Unix socket) and port (0 for a Unix socket). */
void weft__stream_peer(weft__stream *s, char *addr, size_t cap, int *port);
/* The same for an address in hand: IPv4 and IPv6 only. Returns 1, or 0
 * (addr "" and port 0) for another family. */
struct sockaddr;
int weft__sockaddr_text(const struct sockaddr *sa, char *addr, size_t cap, int *port);
/* Ends the write side (a FIN after what is queued; TCP and Unix sockets,
 * not TLS) while reading goes on: a lingering close, so a peer still
 * sending its request gets the answer, not a reset. Returns 0 or an error
 * (then close it). */
int weft__stream_shutdown(weft__stream *s);
/* Closes the socket now; queued data is dropped; ops->closed follows in
 * the check phase (or the host's next weft_loop_flush). */
void weft__stream_close(weft__stream *s);

#endif
