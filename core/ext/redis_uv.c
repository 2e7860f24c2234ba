/*
 * hiredis on a libuv loop. Debian's hiredis 0.14 ships adapters/libuv.h,
 * but its poll callback drops events that come with an error status: libuv
 * reports a refused connection as POLLERR (status UV_EBADF), so a connect
 * to a Redis that is down would never finish. This is that adapter with the
 * fix hiredis 1.x made: on an error status, hand hiredis the events it
 * waits for, so it reads the socket's error and fails the connect.
 */
#include <stdlib.h>

#include "redis_internal.h"

typedef struct uv_events {
  redisAsyncContext *context;
  uv_poll_t handle;
  int events;
} uv_events;

static void on_poll(uv_poll_t *handle, int status, int events) {
  uv_events *p = handle->data;
  int ev = status ? p->events : events;
  if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void update(uv_events *p) {
  if (p->events)
    uv_poll_start(&p->handle, p->events, on_poll);
  else
    uv_poll_stop(&p->handle);
}

static void add_read(void *priv) {
  uv_events *p = priv;
  p->events |= UV_READABLE;
  update(p);
}

static void del_read(void *priv) {
  uv_events *p = priv;
  p->events &= ~UV_READABLE;
  update(p);
}

static void add_write(void *priv) {
  uv_events *p = priv;
  p->events |= UV_WRITABLE;
  update(p);
}

static void del_write(void *priv) {
  uv_events *p = priv;
  p->events &= ~UV_WRITABLE;
  update(p);
}

static void on_close(uv_handle_t *h) { free(h->data); }

static void cleanup(void *priv) {
  uv_events *p = priv;
  p->context = NULL; /* the context is being freed */
  uv_close((uv_handle_t *)&p->handle, on_close);
}

int weft__redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  if (ac->ev.data) return WEFT_EINVAL;
  uv_events *p = calloc(1, sizeof(*p));
  if (!p) return WEFT_ENOMEM;
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    free(p);
    return WEFT_EIO;
  }
  p->handle.data = p;
  p->context = ac;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  ac->ev.data = p;
  return 0;
}
