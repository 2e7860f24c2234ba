/*
 * Where byte streams come from: listening sockets (TCP or Unix-domain) that
 * accept streams, and connections made to a URL's address (a TCP host and
 * port, resolving names on libuv's thread pool, or a Unix socket's path).
 */
#ifndef WEFT__NET_H
#define WEFT__NET_H

#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "base/url.h"
#include "stream.h"

/* The stream kind a URL's address needs (WEFT__STREAM_PIPE for a socket
 * path, else WEFT__STREAM_TCP). */
static inline int weft__url_stream_kind(const weft__url *u) {
  return u->sock[0] ? WEFT__STREAM_PIPE : WEFT__STREAM_TCP;
}

/* Resolves a numeric host (IPv4/IPv6 literal or "localhost") and port.
 * Returns 0 or WEFT_EADDRNOTAVAIL. */
int weft__sockaddr(const char *host, int port, struct sockaddr_storage *ss);

/* ---- listening ---- */

typedef struct weft__acceptor weft__acceptor;
struct weft__acceptor {
  uv_poll_t h; /* the listening socket, watched by libuv (one per listener) */
  int fd;      /* the listening socket; -1 when none */
  int pending; /* a peer accepted, waiting for weft__acceptor_accept; -1 */
  int reserve; /* a descriptor given up to shed peers when out of them */
  /* The pending peer's address as accept4 gave it (peer_len 0: none), so
   * no getpeername is needed for it. */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  uint8_t kind;    /* WEFT__STREAM_* */
  uint8_t inited;  /* the socket exists: a close is owed */
  uint8_t polling; /* the handle exists: its close ends in on_closed */
  char *path;      /* the socket file this acceptor made, removed at close */
  uint64_t made;   /* …and which file that was, so one put there since stays */
  /* A peer is waiting (status 0: call weft__acceptor_accept now, or it is
   * dropped) or accepting failed (a libuv error: UV_EMFILE after peers
   * were shed for want of descriptors). */
  void (*on_connection)(weft__acceptor *a, int status);
  /* After weft__acceptor_close() returned 1: the memory may go. */
  void (*on_closed)(weft__acceptor *a);
};

/* Binds the URL's address and listens. A Unix socket file left by a server
 * that is gone (nobody accepts on it) is replaced; a path where a server
 * accepts, or that is not a socket, is WEFT_EADDRINUSE. `mode`, when not 0,
 * is given to the socket file (chmod), else it keeps what bind() made
 * (0777 & ~umask). Errors: WEFT_EADDRINUSE, WEFT_EADDRNOTAVAIL, WEFT_EURL,
 * WEFT_ENOMEM, WEFT_EIO; weft__acceptor_close() is owed either way. */
int weft__acceptor_listen(weft__acceptor *a, weft_loop *loop, const weft__url *u, unsigned mode);
/* Accepts the waiting peer into `s` (initialised with the acceptor's kind),
 * from inside on_connection. Returns 0, WEFT_ESTATE or WEFT_EIO. */
int weft__acceptor_accept(weft__acceptor *a, weft__stream *s);
/* The address of the peer being accepted (valid in on_connection, before
 * the next accept) as text and port, as weft__stream_peer gives it.
 * Returns 0, or WEFT_ESTATE when accept4 gave none (a Unix socket's peer). */
int weft__acceptor_peer(const weft__acceptor *a, char *addr, size_t cap, int *port);
/* The stream kind of a connected socket (WEFT__STREAM_PIPE for a Unix
 * one), or WEFT_EINVAL when it is not a socket. */
int weft__fd_kind(int fd);
/* Serves an already connected socket on `s` (initialised with its kind;
 * made non-blocking, and the stream's from now on). Returns 0 or a WEFT_E*
 * code. */
int weft__stream_open_fd(weft__stream *s, int fd);
/* The bound TCP port (0 for a Unix socket). */
int weft__acceptor_port(const weft__acceptor *a);
/* Stops listening and removes the socket file it made. Returns 1 when
 * on_closed follows, 0 when nothing was open (the memory may go now). */
int weft__acceptor_close(weft__acceptor *a);

/* ---- connecting ---- */

typedef struct weft__connector weft__connector;
struct weft__connector {
  weft__stream *s;
  weft__io io;           /* the socket while it connects (the loop's set) */
  weft__flushable later; /* an outcome known at once, told in the check phase */
  uv_getaddrinfo_t gai;
  uint8_t resolving;
  uint8_t cancelled;
  int err;    /* the libuv error `later` tells */
  char *host; /* the name being resolved (owned), for the error that names it */
  int port;
  /* Once: 0 connected, or a WEFT_E* code and a reason. */
  void (*cb)(weft__connector *c, int status, const char *why);
};

/* Connects `s` (initialised with weft__url_stream_kind(u)) to the URL's
 * address; cb follows, never from inside this call. Returns 0, or an error
 * when nothing was started. */
int weft__connector_start(weft__connector *c, weft__stream *s, const weft__url *u,
                          void (*cb)(weft__connector *c, int status, const char *why));
/* Gives up: returns 1 when a name is being resolved — cb still follows
 * (with WEFT_ECLOSED) and the stream must stay open until then — else 0. */
int weft__connector_cancel(weft__connector *c);

#endif
