/*
 * What the server fuzz targets share: the application of their servers.
 */
#ifndef WEFT_FUZZ_HARNESS_H
#define WEFT_FUZZ_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "primus/primus.h"
#include "weft/weft.h"

/* Echoes each message to its spark; a 3-character string ends the spark
 * with it instead (so inputs reach a server-side end): then returns 1. */
static inline int fuzz_echo_or_end(weft_spark *sp, const weft_value *msg) {
  if (weft_value_type(msg) == WEFT_STRING && weft_value_len(msg) == 3) {
    weft_spark_end(sp, msg, 0);
    return 1;
  }
  weft_spark_write(sp, msg);
  return 0;
}

/* Runs the loop and reads what the server sends into got (at most cap - 1
 * bytes kept), until `until` appears in it, the server closes, or `turns`
 * loop turns pass. Returns 1 while the connection is open. */
static inline int fuzz_pump(weft_loop *loop, int fd, char *got, size_t cap, size_t *have,
                            const char *until, int turns) {
  char sink[65536];
  for (int i = 0; i < turns; i++) {
    weft_loop_run_once(loop);
    ssize_t r;
    while ((r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
      size_t k = (size_t)r < cap - 1 - *have ? (size_t)r : cap - 1 - *have;
      memcpy(got + *have, sink, k);
      *have += k;
      got[*have] = '\0';
    }
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return 0;
    if (until && strstr(got, until)) return 1;
  }
  return 1;
}

/* The input with every "SID" replaced by id (n characters, n >= 3). */
static inline uint8_t *fuzz_with_id(const uint8_t *data, size_t size, const char *id, size_t n,
                                    size_t *out_len) {
  uint8_t *out = malloc(size * n / 3 + n + 1); /* "SID" (3) becomes n */
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < size;) {
    if (i + 3 <= size && memcmp(data + i, "SID", 3) == 0) {
      memcpy(out + o, id, n);
      o += n;
      i += 3;
    } else {
      out[o++] = data[i++];
    }
  }
  *out_len = o;
  return out;
}

/* One connection of a fuzz input to a fresh server through a socketpair. */
typedef struct fuzz_conn {
  weft_loop *loop;
  weft_server *s;
  int fd; /* ours; the server adopted the other end */
  int open;
  int gone; /* the server's close event (fuzz_conn_closed) */
  char got[4096];
  size_t have;
} fuzz_conn;

static inline void fuzz_conn_closed(weft_server *s, void *user) {
  (void)s;
  ((fuzz_conn *)user)->gone = 1;
}

/* A fresh server on the target's loop (made once, SIGPIPE ignored), its
 * data event `on_data` and its close event telling f. */
static inline void fuzz_conn_new(fuzz_conn *f,
                                 void (*on_data)(weft_spark *, const weft_value *, void *)) {
  static weft_loop *loop;
  if (!loop) {
    signal(SIGPIPE, SIG_IGN);
    if (weft_loop_new(&loop) != 0) abort();
  }
  memset(f, 0, sizeof(*f));
  f->loop = loop;
  if (weft_server_new(loop, &f->s) != 0) abort();
  weft_server_events ev = {.size = sizeof(ev), .data = on_data, .close = fuzz_conn_closed};
  weft_server_set_events(f->s, &ev, f, NULL);
}

/* Listens at url (the server f->s configured, its events' user f) and
 * connects; aborts when the harness itself cannot. */
static inline void fuzz_conn_start(fuzz_conn *f, const char *url) {
  int sv[2] = {-1, -1};
  if (weft_server_listen(f->s, url) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) abort();
  int buf = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  if (weft_server_adopt(f->s, sv[1], NULL, 0, 0) != 0) abort();
  f->fd = sv[0];
  f->open = 1;
  f->have = 0;
  f->got[0] = '\0';
}

/* Sends the input (every "SID" replaced by id[0..n)), then turns the loop
 * until the server closes the connection or has no spark left, and
 * destroys the server (the loop turns until its close event). */
static inline void fuzz_conn_finish(fuzz_conn *f, const uint8_t *data, size_t size, const char *id,
                                    size_t n) {
  size_t len;
  uint8_t *req = fuzz_with_id(data, size, id, n, &len);
  if (!req) abort();
  if (f->open && len && write(f->fd, req, len) < 0) f->open = 0;
  free(req);
  shutdown(f->fd, SHUT_WR);
  /* Until the server closes the connection (a held poll may wait for the
   * destroy), then the destroy lets go of everything. */
  while (f->open)
    f->open = fuzz_pump(f->loop, f->fd, f->got, sizeof(f->got), &f->have, NULL, 1) &&
              f->have < sizeof(f->got) - 1 && weft_server_spark_count(f->s) > 0;
  fuzz_pump(f->loop, f->fd, f->got, sizeof(f->got), &f->have, NULL, 20);
  close(f->fd); /* a lingering answer need not wait for the peer */
  /* Sessions still closing (their close never fetched) are dropped after
   * 1 ms rather than the default second. */
  weft_destroy_options d = {.size = sizeof(d), .timeout_ms = 1};
  weft_server_destroy(f->s, &d);
  while (!f->gone) /* not weft_loop_run: the loop's own timers (a heap trim) may wait */
    weft_loop_run_once(f->loop);
}

#endif
