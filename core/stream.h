/*
 * A stream: one TCP connection's bytes in and out, shared by server sparks
 * and clients. Reads land in the loop's shared buffer and only unconsumed
 * bytes are kept; writes queue references to payloads and leave corked, one
 * write per stream per loop turn (loop.c), with at most one uv_write in
 * flight. The owner supplies what the bytes mean through the ops.
 */
#ifndef WEFT__STREAM_H
#define WEFT__STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

struct weft_loop;
struct weft__payload;
struct weft__tls;
struct weft__tls_ctx;
typedef struct weft__stream weft__stream;

typedef struct weft__stream_ops {
  /* Bytes arrived: consume what can be, return how many; the rest is kept
   * and offered again with more appended. */
  size_t (*read)(weft__stream *s, uint8_t *data, size_t len);
  /* The peer closed or the socket failed (a libuv error). */
  void (*eof)(weft__stream *s, int uverr);
  /* Queued bytes were written (the queue shrank). */
  void (*written)(weft__stream *s);
  /* The handle is closed: the owner may free the memory holding it. */
  void (*closed)(weft__stream *s);
  /* Optional: just before the flush, the owner queues what it held back
   * for this loop turn (a batch of messages). */
  void (*seal)(weft__stream *s);
} weft__stream_ops;

typedef struct weft__qent {
  struct weft__payload *p;
  size_t off; /* bytes of the frame already written */
} weft__qent;

struct weft__stream {
  struct weft_loop *loop;
  const weft__stream_ops *ops;
  uv_tcp_t tcp;
  uint8_t closed;  /* uv_close called */
  uint8_t dirty;   /* on the loop's dirty list */
  uint8_t writing; /* a uv_write is in flight */
  weft__stream *dirty_next;
  weft__buf in;  /* unconsumed bytes across reads */
  size_t need;   /* owner's hint: bytes the pending unit needs in all */
  weft__qent *q; /* ring of queued frames */
  size_t q_head, q_len, q_cap;
  size_t queued; /* bytes queued, not yet written */
  size_t inflight_n;
  /* TLS: frames wait in pq as plaintext until the flush encrypts them into
   * q; until the handshake is done they just wait. */
  struct weft__tls *tls;
  uint8_t tls_ready;
  struct weft__payload **pq;
  size_t pq_len, pq_cap;
  /* Last: used only when a write cannot complete at once, so it stays out
   * of the cache lines every message touches. */
  uv_write_t wreq;
};

/* uv_tcp_init on the loop; the stream is then closable with
 * weft__stream_close() whatever happens next. */
void weft__stream_init(weft__stream *s, struct weft_loop *loop, const weft__stream_ops *ops);
/* Makes the stream speak TLS (before weft__stream_start). Returns 0 or
 * WEFT_ENOMEM. */
int weft__stream_tls(weft__stream *s, struct weft__tls_ctx *ctx, int server, const char *host);
/* Why TLS failed, "" when it did not (or is not in use). */
const char *weft__stream_tls_error(const weft__stream *s);
/* Starts reading (and sets TCP_NODELAY); a TLS client sends its hello.
 * Returns 0 or a WEFT_E* code. */
int weft__stream_start(weft__stream *s);
/* Nothing queued and nothing being written. */
int weft__stream_idle(const weft__stream *s);
/* Queues a framed payload (takes its own reference) and marks the stream
 * for the next flush. Returns 0, WEFT_ECLOSED or WEFT_ENOMEM. */
int weft__stream_enqueue(weft__stream *s, struct weft__payload *p);
/* Writes what is queued (the loop calls this at the end of a turn). */
void weft__stream_flush(weft__stream *s);
/* Offers the kept bytes to ops->read again (after the owner's state
 * changed, e.g. an authorization answer). */
void weft__stream_reprocess(weft__stream *s);
/* Closes the handle; queued data is dropped; ops->closed follows. */
void weft__stream_close(weft__stream *s);

#endif
