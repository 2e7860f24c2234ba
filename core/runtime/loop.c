/*
 * The loop (see loop.h).
 *
 * Corking: writes made during a loop turn only queue; the check phase (right
 * after poll, same iteration) flushes each dirty stream with one write. A
 * stream whose own read callback wrote to it (and to no other stream after
 * it) is flushed when that callback ends instead, while its frames are still
 * in the CPU's cache: request/response traffic leaves with the same one
 * write, sooner. Writes made outside a callback (a host calling in between
 * iterations) start the idle handle so the next poll does not block.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "payload.h"

struct weft__post {
  void (*fn)(void *);
  void *user;
  weft__post *next;
};

/* Flushes what is at the head of the dirty list. */
static void flush_head(weft_loop *loop) {
  weft__flushable *f = loop->dirty;
  if (f->ops->seal) f->ops->seal(f);
  /* A flush can make its owner dirty again only through a callback that
   * writes, which re-adds it: take it off the list first. The seal may
   * have marked others (a batch's session closing its other transport),
   * which went in front of f: unlink f where it is now, not the head. */
  if (loop->dirty == f)
    loop->dirty = f->next;
  else
    weft__loop_unmark_dirty(loop, f);
  f->next = NULL;
  f->ops->flush(f);
}

void weft__loop_flush_if_last(weft_loop *loop, weft__flushable *f) {
  if (loop->dirty == f) flush_head(loop);
}

static void flush_all(weft_loop *loop) {
  while (loop->dirty != &loop->dirty_end)
    flush_head(loop);
  /* Deferred work (a resumed stream) runs at the check phase: keep the
   * poll from blocking until then. */
  if (loop->idle_active && !loop->n_deferred) {
    uv_idle_stop(&loop->idle);
    loop->idle_active = 0;
  }
}

static void on_idle(uv_idle_t *h) { flush_all(h->data); }

/* The next poll must not block: the idle handle is active meanwhile. */
static void keep_polling(weft_loop *loop) {
  if (!loop->idle_active) {
    uv_idle_start(&loop->idle, on_idle);
    loop->idle_active = 1;
  }
}

/* Resumes what was deferred before this pass; what defers again waits for
 * the next turn. */
static void resume_deferred(weft_loop *loop) {
  size_t n = loop->n_deferred;
  for (size_t i = 0; i < n; i++) {
    weft__flushable *f = loop->deferred[i];
    if (!f) continue;
    loop->deferred[i] = NULL;
    f->ops->resume(f);
  }
  size_t k = 0;
  for (size_t i = 0; i < loop->n_deferred; i++)
    if (loop->deferred[i]) loop->deferred[k++] = loop->deferred[i];
  loop->n_deferred = k;
}

static void on_check(uv_check_t *h) {
  weft_loop *loop = h->data;
  if (loop->n_deferred) resume_deferred(loop);
  flush_all(loop);
  if (loop->n_deferred) keep_polling(loop);
}

int weft__loop_defer(weft_loop *loop, weft__flushable *f) {
  for (size_t i = 0; i < loop->n_deferred; i++)
    if (loop->deferred[i] == f) return 0;
  if (loop->n_deferred == loop->cap_deferred) {
    size_t cap = loop->cap_deferred ? loop->cap_deferred * 2 : 16;
    weft__flushable **d = realloc(loop->deferred, cap * sizeof(*d));
    if (!d) return WEFT_ENOMEM;
    loop->deferred = d;
    loop->cap_deferred = cap;
  }
  loop->deferred[loop->n_deferred++] = f;
  keep_polling(loop);
  return 0;
}

void weft__loop_undefer(weft_loop *loop, weft__flushable *f) {
  for (size_t i = 0; i < loop->n_deferred; i++)
    if (loop->deferred[i] == f) loop->deferred[i] = NULL; /* compacted after the pass */
}

void weft__loop_mark_dirty(weft_loop *loop, weft__flushable *f) {
  if (f->next) return;
  f->next = loop->dirty;
  loop->dirty = f;
  keep_polling(loop);
}

void weft__loop_unmark_dirty(weft_loop *loop, weft__flushable *f) {
  if (!f->next) return;
  for (weft__flushable **pp = &loop->dirty; *pp != &loop->dirty_end; pp = &(*pp)->next) {
    if (*pp == f) {
      *pp = f->next;
      break;
    }
  }
  f->next = NULL;
}

static void on_async(uv_async_t *h) {
  weft_loop *loop = h->data;
  uv_mutex_lock(&loop->post_mu);
  weft__post *list = loop->posts;
  loop->posts = NULL;
  uv_mutex_unlock(&loop->post_mu);
  /* Posted in order, stored newest first: reverse. */
  weft__post *rev = NULL;
  while (list) {
    weft__post *n = list->next;
    list->next = rev;
    rev = list;
    list = n;
  }
  while (rev) {
    weft__post *n = rev->next;
    rev->fn(rev->user);
    free(rev);
    rev = n;
  }
}

int weft__uv_err(int uverr) {
  switch (uverr) {
  case 0: return 0;
  case UV_EADDRINUSE: return WEFT_EADDRINUSE;
  case UV_EADDRNOTAVAIL: return WEFT_EADDRNOTAVAIL;
  case UV_ECONNREFUSED: return WEFT_ECONNREFUSED;
  case UV_ENOMEM: return WEFT_ENOMEM;
  case UV_EINVAL: return WEFT_EINVAL;
  case UV_ETIMEDOUT: return WEFT_ETIMEDOUT;
  case UV_ENOBUFS: return WEFT_ENOBUFS;
  case UV_ENOENT: return WEFT_ENOENT;
  default: return WEFT_EIO;
  }
}

#define WEFT__TRIM_AFTER (1u << 18) /* bytes released before a trim is worth it */
#define WEFT__TRIM_EVERY 1000       /* ms between trims at most */

static void on_trim(uv_timer_t *t) {
  weft_loop *loop = t->data;
  loop->released = 0;
  loop->trimmed_at = uv_now(loop->uv);
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

void weft__loop_released(weft_loop *loop, size_t bytes) {
  loop->released += bytes;
  if (loop->released < WEFT__TRIM_AFTER || uv_is_active((uv_handle_t *)&loop->trim)) return;
  uint64_t now = uv_now(loop->uv), due = loop->trimmed_at + WEFT__TRIM_EVERY;
  uv_timer_start(&loop->trim, on_trim, due > now ? due - now : 0, 0);
}

#define WEFT__POOL_DECAY_EVERY 1000 /* ms */

static void on_pool_decay(uv_timer_t *t) {
  weft_loop *loop = t->data;
  loop->pool_decay_armed = 0;
  size_t freed = weft__payload_pool_decay(loop);
  if (freed) weft__loop_released(loop, freed);
  if (loop->pools[0].len || loop->pools[1].len) weft__loop_pool_arm(loop);
}

void weft__loop_pool_arm(weft_loop *loop) {
  if (loop->pool_decay_armed || loop->closing) return;
  loop->pool_decay_armed = 1;
  uv_timer_start(&loop->pool_decay, on_pool_decay, WEFT__POOL_DECAY_EVERY, 0);
}

void weft__loop_scratch_drop(weft_loop *loop) {
  weft__loop_released(loop, loop->scratch.cap);
  weft__buf_free(&loop->scratch);
}

/* ---- the epoll set ---- */

#define WEFT__SET_BATCH 256 /* events taken per wakeup; more wait for the next */

/* libuv found the set readable: some socket in it is ready. Each event is
 * dispatched as it was read; a socket closed by an earlier callback of the
 * batch has its memory until the check phase (stream.c), so its cb sees
 * it closed and returns. */
static void on_set(uv_poll_t *h, int status, int events) {
  weft_loop *loop = h->data;
  (void)status;
  (void)events;
  struct epoll_event ev[WEFT__SET_BATCH];
  int n;
  do {
    n = epoll_wait(loop->epfd, ev, WEFT__SET_BATCH, 0);
  } while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; i++) {
    weft__io *io = ev[i].data.ptr;
    if (io->kind == WEFT__IO_STREAM)
      weft__stream_on_io(io, ev[i].events);
    else
      weft__connector_on_io(io, ev[i].events);
  }
}

static void set_count(weft_loop *loop, int delta) {
  size_t before = loop->n_watched;
  loop->n_watched += (size_t)(ptrdiff_t)delta;
  if (before == 0 && loop->n_watched)
    uv_ref((uv_handle_t *)&loop->set);
  else if (before && loop->n_watched == 0)
    uv_unref((uv_handle_t *)&loop->set);
}

/* The set is one descriptor on the host's loop, made with the loop (a
 * server out of descriptors must not find itself without it) and watched
 * from then on; it holds the loop open only while it holds sockets. Made
 * before any other handle, so a failure leaves nothing to close. */
static int set_init(weft_loop *loop) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return errno == ENOMEM ? WEFT_ENOMEM : WEFT_EIO;
  if (uv_poll_init(loop->uv, &loop->set, fd) != 0) {
    close(fd);
    return WEFT_EIO;
  }
  loop->epfd = fd;
  loop->set.data = loop;
  uv_poll_start(&loop->set, UV_READABLE, on_set);
  uv_unref((uv_handle_t *)&loop->set);
  return 0;
}

int weft__io_watch(weft_loop *loop, weft__io *io, uint32_t events) {
  if (events == io->events) return 0;
  if (io->fd < 0) return WEFT_EIO;
  struct epoll_event ev = {0};
  ev.events = events;
  ev.data.ptr = io;
  int op = !events ? EPOLL_CTL_DEL : io->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(loop->epfd, op, io->fd, &ev) != 0 && op != EPOLL_CTL_DEL)
    return errno == ENOMEM || errno == ENOSPC ? WEFT_ENOMEM : WEFT_EIO;
  if (op != EPOLL_CTL_MOD) set_count(loop, op == EPOLL_CTL_ADD ? 1 : -1);
  io->events = (uint16_t)events;
  return 0;
}

void weft__io_drop(weft_loop *loop, int fd) {
  struct epoll_event ev = {0};
  epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, &ev);
  set_count(loop, -1);
}

static int loop_init(weft_loop *loop) {
  loop->dirty = &loop->dirty_end;
  loop->epfd = -1;
  int rc = set_init(loop);
  if (rc) return rc;
  uv_timer_init(loop->uv, &loop->trim);
  loop->trim.data = loop;
  uv_unref((uv_handle_t *)&loop->trim);
  uv_timer_init(loop->uv, &loop->pool_decay);
  loop->pool_decay.data = loop;
  uv_unref((uv_handle_t *)&loop->pool_decay);
  uv_check_init(loop->uv, &loop->check);
  uv_idle_init(loop->uv, &loop->idle);
  loop->check.data = loop->idle.data = loop;
  uv_check_start(&loop->check, on_check);
  uv_unref((uv_handle_t *)&loop->check);
  if (uv_mutex_init(&loop->post_mu) != 0) return WEFT_EIO;
  if (uv_async_init(loop->uv, &loop->async, on_async) != 0) {
    uv_mutex_destroy(&loop->post_mu);
    return WEFT_EIO;
  }
  loop->async.data = loop;
  uv_unref((uv_handle_t *)&loop->async);
  loop->handles = 6;
  return 0;
}

int weft_loop_new(weft_loop **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  weft_loop *loop = calloc(1, sizeof(*loop));
  if (!loop) return WEFT_ENOMEM;
  if (uv_loop_init(&loop->own) != 0) {
    free(loop);
    return WEFT_EIO;
  }
  loop->uv = &loop->own;
  loop->owned = 1;
  int rc = loop_init(loop);
  if (rc) {
    uv_loop_close(&loop->own);
    free(loop);
    return rc;
  }
  *out = loop;
  return 0;
}

int weft_loop_new_uv(weft_loop **out, void *uv_loop) {
  if (!out || !uv_loop) return WEFT_EINVAL;
  *out = NULL;
  weft_loop *loop = calloc(1, sizeof(*loop));
  if (!loop) return WEFT_ENOMEM;
  loop->uv = uv_loop;
  int rc = loop_init(loop);
  if (rc) {
    free(loop);
    return rc;
  }
  *out = loop;
  return 0;
}

void *weft_loop_uv(weft_loop *loop) { return loop ? loop->uv : NULL; }

int weft_loop_run(weft_loop *loop) {
  if (!loop) return WEFT_EINVAL;
  if (loop->depth) return WEFT_ESTATE;
  loop->depth++;
  uv_run(loop->uv, UV_RUN_DEFAULT);
  loop->depth--;
  return 0;
}

int weft_loop_run_once(weft_loop *loop) {
  if (!loop) return WEFT_EINVAL;
  if (loop->depth) return WEFT_ESTATE;
  loop->depth++;
  int more = uv_run(loop->uv, UV_RUN_NOWAIT);
  loop->depth--;
  return more ? 1 : 0;
}

int weft_loop_flush(weft_loop *loop) {
  if (!loop) return WEFT_EINVAL;
  if (loop->depth) return WEFT_ESTATE;
  loop->depth++;
  flush_all(loop);
  if (loop->n_deferred) keep_polling(loop); /* flush_all stopped the idle handle */
  loop->depth--;
  return 0;
}

int weft_loop_fd(const weft_loop *loop) { return loop ? uv_backend_fd(loop->uv) : -1; }

int weft_loop_timeout(const weft_loop *loop) {
  if (!loop) return -1;
  if (loop->dirty != &loop->dirty_end || loop->n_deferred) return 0;
  /* libuv answers 0 for a loop with nothing alive: a host that sleeps that
   * long before polling again would spin. Nothing alive: no timer (-1). */
  if (!uv_loop_alive(loop->uv)) return -1;
  return uv_backend_timeout(loop->uv);
}

int weft_loop_stop(weft_loop *loop) {
  if (!loop) return WEFT_EINVAL;
  uv_stop(loop->uv);
  return 0;
}

int weft_loop_post(weft_loop *loop, void (*fn)(void *), void *user) {
  if (!loop || !fn) return WEFT_EINVAL;
  weft__post *p = malloc(sizeof(*p));
  if (!p) return WEFT_ENOMEM;
  p->fn = fn;
  p->user = user;
  uv_mutex_lock(&loop->post_mu);
  if (loop->closing) {
    uv_mutex_unlock(&loop->post_mu);
    free(p);
    return WEFT_ECLOSED;
  }
  p->next = loop->posts;
  loop->posts = p;
  uv_mutex_unlock(&loop->post_mu);
  uv_async_send(&loop->async);
  return 0;
}

static void loop_free(weft_loop *loop) {
  if (loop->log_free) loop->log_free(loop->log_user);
  weft__payload_pool_free(loop);
  if (loop->epfd >= 0) close(loop->epfd);
  free(loop->deferred);
  uv_mutex_destroy(&loop->post_mu);
  weft__buf_free(&loop->scratch);
  free(loop);
}

static void on_handle_closed(uv_handle_t *h) {
  weft_loop *loop = h->data;
  /* A borrowed loop is freed from its host's loop once our handles are gone. */
  if (--loop->handles == 0 && !loop->owned) loop_free(loop);
}

int weft_loop_close(weft_loop *loop) {
  if (!loop) return WEFT_EINVAL;
  if (loop->users > 0 || loop->depth || loop->closing) return WEFT_ESTATE;
  uv_mutex_lock(&loop->post_mu);
  loop->closing = 1;
  weft__post *left = loop->posts;
  loop->posts = NULL;
  uv_mutex_unlock(&loop->post_mu);
  while (left) {
    weft__post *n = left->next;
    free(left);
    left = n;
  }
  uv_close((uv_handle_t *)&loop->check, on_handle_closed);
  uv_close((uv_handle_t *)&loop->idle, on_handle_closed);
  uv_close((uv_handle_t *)&loop->async, on_handle_closed);
  uv_close((uv_handle_t *)&loop->trim, on_handle_closed);
  uv_close((uv_handle_t *)&loop->pool_decay, on_handle_closed);
  uv_close((uv_handle_t *)&loop->set, on_handle_closed);
  if (!loop->owned) return 0;
  while (loop->handles > 0)
    uv_run(loop->uv, UV_RUN_NOWAIT);
  /* Every weft handle is closed; anything else left is the caller's bug, but
   * run the loop dry so uv_loop_close() can succeed. */
  uv_run(loop->uv, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop->uv);
  loop_free(loop);
  return rc == 0 ? 0 : WEFT_ESTATE;
}
