/*
 * The loop: a libuv loop (its own or the host's) and what every connection
 * on it shares — the read buffer, the decrypted-TLS buffer, the encode
 * scratch, the write cork, the pools of payloads — and the list of
 * things to flush at the end of the loop turn (corked writes, decision #3).
 */
#ifndef WEFT__LOOP_H
#define WEFT__LOOP_H

#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "weft/weft.h"

#define WEFT__READ_CHUNK 65536
/* Queued frames up to this many bytes in all are copied into one buffer and
 * written with a single-buffer write: the kernel's per-iovec cost for many
 * small frames is higher than the copy. */
#define WEFT__CORK 16384

typedef struct weft__post weft__post;
struct weft__payload;

/* Free pooled payloads of one size class (payload.h), threaded through
 * `variants`; `low`: the fewest free since the last decay (unneeded). */
typedef struct weft__payload_pool {
  struct weft__payload *head;
  size_t len, low;
} weft__payload_pool;
#define WEFT__POOL_CLASSES 2

/* Something with bytes to write at the end of this loop turn (a stream).
 * `next` is NULL while it is not on the loop's list. */
typedef struct weft__flushable weft__flushable;
typedef struct weft__flush_ops {
  /* Optional, first: queue what was held back for this turn (a batch). It
   * runs while still marked, so what it queues does not mark it again. */
  void (*seal)(weft__flushable *f);
  /* Write what is queued; it is off the list by now. */
  void (*flush)(weft__flushable *f);
  /* Optional: go on with work deferred to this turn (weft__loop_defer). */
  void (*resume)(weft__flushable *f);
} weft__flush_ops;
struct weft__flushable {
  weft__flushable *next;
  const weft__flush_ops *ops;
};

/* A socket in the loop's own epoll set (decision #38): what a connection
 * costs the loop is these 8 bytes, not a 248-byte libuv stream handle.
 * The set tells the handler of its kind (weft__stream_on_io,
 * weft__connector_on_io: a kind, not a function pointer, saves 8 bytes a
 * connection) the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP); an
 * event found in the same batch as the close of its socket may still
 * arrive, so the owner's memory stays valid until the check phase and the
 * handler looks at its owner's state first. */
enum { WEFT__IO_STREAM, WEFT__IO_DIAL };
typedef struct weft__io weft__io;
struct weft__io {
  int fd;          /* -1: none */
  uint16_t events; /* what the set watches for it (EPOLLIN/EPOLLOUT); 0: not in the set */
  uint8_t kind;    /* WEFT__IO_* */
};
void weft__stream_on_io(weft__io *io, uint32_t events);    /* stream.c */
void weft__connector_on_io(weft__io *io, uint32_t events); /* net.c */

struct weft_loop {
  uv_loop_t *uv;
  uv_loop_t own;
  int owned;
  int depth; /* > 0 while inside weft_loop_run/run_once */
  int closing;
  size_t users;     /* live servers, clients and connections */
  size_t handles;   /* our uv handles still to close (check, idle, async) */
  uv_check_t check; /* flushes corked writes right after poll */
  uv_idle_t idle;   /* keeps the next poll from blocking while writes wait */
  uv_async_t async; /* weft_loop_post() */
  uv_mutex_t post_mu;
  weft__post *posts;
  weft__flushable *dirty;     /* to flush this turn, last marked first */
  weft__flushable dirty_end;  /* the list's end: `next` is never NULL on it */
  weft__flushable **deferred; /* to resume in the next check phase */
  size_t n_deferred, cap_deferred;
  int log_level; /* WEFT_LOG_*: records up to this level go to log_cb */
  weft_log_cb log_cb;
  void *log_user;
  void (*log_free)(void *);
  uv_timer_t trim;     /* hands freed memory back to the system */
  size_t released;     /* big frees since the last trim */
  uint64_t trimmed_at; /* ms of the loop's clock */
  int idle_active;
  int rbuf_busy;
  weft__buf scratch;                            /* encode scratch, reused */
  weft__payload_pool pools[WEFT__POOL_CLASSES]; /* free payloads by size class */
  uv_poll_t set;                                /* the loop's epoll set, itself watched by libuv */
  int epfd;                                     /* the set; -1 when it could not be made */
  size_t n_watched;      /* sockets in the set: the set keeps the loop alive while > 0 */
  uv_timer_t pool_decay; /* frees the unneeded, so a burst's pool does not stay */
  int pool_decay_armed;
  uint8_t rbuf[WEFT__READ_CHUNK]; /* shared read buffer for all connections */
  uint8_t tbuf[WEFT__READ_CHUNK]; /* decrypted TLS records, likewise shared */
  uint8_t cork[WEFT__CORK];       /* small frames gathered for one write */
};

/* Puts `f` on the list flushed at the end of this loop turn (once). */
void weft__loop_mark_dirty(weft_loop *loop, weft__flushable *f);
void weft__loop_unmark_dirty(weft_loop *loop, weft__flushable *f);
/* Flushes `f` now if it was the last one marked (found in O(1); anything
 * marked after it means a fan-out, left for the check phase). */
void weft__loop_flush_if_last(weft_loop *loop, weft__flushable *f);
/* Big memory went back to the allocator (a peer's queue, a large
 * message): once 1 MiB has, it is handed back to the system
 * (malloc_trim, glibc) at most once a second, so a server's RSS returns
 * after hostile or bursty traffic. */
void weft__loop_released(weft_loop *loop, size_t bytes);
/* The encode scratch after use: kept when small, freed when a large
 * message grew it. */
#define WEFT__SCRATCH_KEEP 65536 /* the encode scratch kept between uses */
void weft__loop_scratch_drop(weft_loop *loop);
static inline void weft__loop_scratch_done(weft_loop *loop) {
  if (loop->scratch.cap > WEFT__SCRATCH_KEEP) weft__loop_scratch_drop(loop);
}

/* A payload went back to the pool: within a second, the pool gives back
 * what it did not need in that second (cheap once armed: a flag). */
void weft__loop_pool_arm(weft_loop *loop);

/* The WEFT_E* code of a libuv error (WEFT_EIO for the ones without one). */
int weft__uv_err(int uverr);

/* Runs f->ops->resume in the next check phase (once, however often it is
 * deferred), and keeps the poll from blocking until then: work a
 * connection set aside to let the others go first. Returns 0 or
 * WEFT_ENOMEM. */
int weft__loop_defer(weft_loop *loop, weft__flushable *f);
/* Forgets a deferral (the flushable goes away). */
void weft__loop_undefer(weft_loop *loop, weft__flushable *f);

/* Watches `io->fd` for `events` (EPOLLIN, EPOLLOUT; 0 takes it out of the
 * set), with the fewest epoll_ctl calls: none when nothing changes.
 * Returns 0, WEFT_ENOMEM (the kernel's limit of watches) or WEFT_EIO. */
int weft__io_watch(weft_loop *loop, weft__io *io, uint32_t events);
/* Takes a socket out of the set that some other weft__io watches (a
 * connector's, when its stream closes first) and counts it gone. */
void weft__io_drop(weft_loop *loop, int fd);

static inline int weft__loop_is_dirty(const weft__flushable *f) { return f->next != NULL; }

#endif
