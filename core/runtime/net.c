/* Listening sockets and outgoing connections (see net.h). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/common.h"

int weft__sockaddr(const char *host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return WEFT_EADDRNOTAVAIL;
}

/* ---- listening ---- */

#define WEFT__ACCEPTS_PER_TURN 64 /* then the loop's other work; the rest next poll */

/* Out of descriptors: the reserved one is given up to accept a waiting
 * peer and close it at once (it gets a reset, not a hang), as libuv does;
 * the listener would otherwise be reported readable forever. Returns 1
 * when a peer was shed. */
static int shed(weft__acceptor *a) {
  if (a->reserve < 0) return 0;
  close(a->reserve);
  int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd >= 0) close(fd);
  a->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0;
}

static void on_listen_io(uv_poll_t *h, int status, int events) {
  weft__acceptor *a = h->data;
  (void)events;
  if (status < 0) {
    a->on_connection(a, status);
    return;
  }
  int shed_any = 0;
  for (int i = 0; i < WEFT__ACCEPTS_PER_TURN && a->fd >= 0; i++) {
    socklen_t plen = sizeof a->peer;
    int fd = accept4(a->fd, (struct sockaddr *)&a->peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    a->peer_len = fd >= 0 && plen <= sizeof a->peer ? plen : 0;
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if ((err == EMFILE || err == ENFILE) && shed(a)) {
        shed_any = 1;
        continue;
      }
      a->on_connection(a, uv_translate_sys_error(err));
      return;
    }
    a->pending = fd;
    a->on_connection(a, 0);
    if (a->pending >= 0) { /* not taken (out of memory, stopping): dropped */
      close(a->pending);
      a->pending = -1;
    }
  }
  if (shed_any && a->fd >= 0) a->on_connection(a, UV_EMFILE);
}

static int listen_tcp(weft__acceptor *a, const weft__url *u) {
  struct sockaddr_storage ss;
  int rc = weft__sockaddr(u->host, u->port, &ss);
  if (rc) return rc;
  a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (a->fd < 0) return weft__uv_err(uv_translate_sys_error(errno));
  int on = 1, off = 0;
  setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  /* Dual-stack on "::", as libuv binds without UV_TCP_IPV6ONLY. */
  if (ss.ss_family == AF_INET6) setsockopt(a->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  socklen_t len =
      ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(a->fd, (struct sockaddr *)&ss, len) != 0)
    return weft__uv_err(uv_translate_sys_error(errno));
  return 0;
}

/* Is a server accepting on the socket file `path`? A non-blocking connect
 * answers at once: refused means the file is a leftover. */
static int unix_in_use(const char *path) {
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return 1; /* cannot tell: leave it alone */
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  int err = rc == 0 ? 0 : errno;
  close(fd);
  return !(err == ECONNREFUSED || err == ENOENT);
}

/* Which file a path names: device, inode and change time (an inode is
 * reused at once after an unlink, the time is not). */
static uint64_t file_id(const struct stat *st) {
  uint64_t h = 1469598103934665603ull;
  uint64_t parts[4] = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_ctim.tv_sec,
                       (uint64_t)st->st_ctim.tv_nsec};
  for (int i = 0; i < 4; i++)
    h = (h ^ parts[i]) * 1099511628211ull;
  return h | 1; /* never 0: 0 means unknown */
}

/* A bound Unix socket of its own, not uv_pipe_bind(): libuv would unlink
 * the path at close whatever file is there by then. Returns an fd or a
 * negative errno. */
static int bind_unix(const char *path) {
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1); /* the URL parser kept it short */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) return fd;
  int err = errno;
  close(fd);
  return -err;
}

static int listen_unix(weft__acceptor *a, const weft__url *u, unsigned mode) {
  int fd = bind_unix(u->sock);
  struct stat st;
  if (fd == -EADDRINUSE && lstat(u->sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
      !unix_in_use(u->sock)) {
    /* A server that died left its socket file: nobody answers there. */
    if (unlink(u->sock) == 0) fd = bind_unix(u->sock);
  }
  if (fd < 0) return weft__uv_err(uv_translate_sys_error(-fd));
  int rc = mode && chmod(u->sock, (mode_t)mode) != 0 ? UV_EIO : 0;
  if (rc || !(a->path = weft__strdup(u->sock))) {
    close(fd);
    unlink(u->sock);
    return rc ? weft__uv_err(rc) : WEFT_ENOMEM;
  }
  a->fd = fd;
  /* After the chmod: that changes the time that tells this file apart. */
  if (lstat(u->sock, &st) == 0) a->made = file_id(&st);
  return 0;
}

int weft__acceptor_listen(weft__acceptor *a, weft_loop *loop, const weft__url *u, unsigned mode) {
  a->kind = (uint8_t)weft__url_stream_kind(u);
  a->fd = a->pending = a->reserve = -1;
  int rc = a->kind == WEFT__STREAM_PIPE ? listen_unix(a, u, mode) : listen_tcp(a, u);
  a->inited = a->fd >= 0;
  if (rc) return rc;
  if (listen(a->fd, 511) != 0) return weft__uv_err(uv_translate_sys_error(errno));
  a->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (uv_poll_init(loop->uv, &a->h, a->fd) != 0) return WEFT_EIO;
  a->polling = 1;
  a->h.data = a;
  return weft__uv_err(uv_poll_start(&a->h, UV_READABLE, on_listen_io));
}

int weft__acceptor_accept(weft__acceptor *a, weft__stream *s) {
  if (a->pending < 0) return WEFT_ESTATE;
  int rc = weft__stream_set_fd(s, a->pending);
  if (rc == 0) a->pending = -1; /* the stream's now */
  return rc;
}

int weft__acceptor_peer(const weft__acceptor *a, char *addr, size_t cap, int *port) {
  addr[0] = '\0';
  *port = 0;
  if (!a->peer_len) return WEFT_ESTATE;
  return weft__sockaddr_text((const struct sockaddr *)&a->peer, addr, cap, port) ? 0 : WEFT_ESTATE;
}

int weft__fd_kind(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return WEFT_EINVAL;
  return ss.ss_family == AF_UNIX ? WEFT__STREAM_PIPE : WEFT__STREAM_TCP;
}

int weft__stream_open_fd(weft__stream *s, int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return WEFT_EINVAL;
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return WEFT_EIO;
  return weft__stream_set_fd(s, fd);
}

int weft__acceptor_port(const weft__acceptor *a) {
  if (a->kind != WEFT__STREAM_TCP || !a->inited) return 0;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(a->fd, (struct sockaddr *)&ss, &len) != 0) return 0;
  return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                        : ((struct sockaddr_in *)&ss)->sin_port);
}

static void on_acceptor_closed(uv_handle_t *h) {
  weft__acceptor *a = h->data;
  a->on_closed(a);
}

int weft__acceptor_close(weft__acceptor *a) {
  if (a->path) {
    /* Only the file this acceptor made: another server may have taken the
     * path since (after removing ours). */
    struct stat st;
    if (lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode) && file_id(&st) == a->made)
      unlink(a->path);
    free(a->path);
    a->path = NULL;
  }
  if (!a->inited) return 0;
  a->inited = 0;
  int polling = a->polling;
  a->polling = 0;
  if (polling) {
    a->h.data = a;
    uv_close((uv_handle_t *)&a->h, on_acceptor_closed); /* out of libuv's set first */
  }
  close(a->fd);
  a->fd = -1;
  if (a->reserve >= 0) close(a->reserve);
  if (a->pending >= 0) close(a->pending);
  a->reserve = a->pending = -1;
  return polling;
}

/* ---- connecting ---- */

static void tell(weft__connector *c, int uverr) {
  c->cb(c, uverr < 0 ? weft__uv_err(uverr) : 0, uverr < 0 ? uv_strerror(uverr) : NULL);
}

/* The socket is writable (connected) or failed: SO_ERROR says which. */
void weft__connector_on_io(weft__io *io, uint32_t events) {
  weft__connector *c = WEFT__CONTAINER(io, weft__connector, io);
  (void)events;
  weft__stream *s = c->s;
  if (c->cancelled || s->closed || !s->dialing) return; /* the owner closed the stream */
  weft__io_watch(s->loop, &c->io, 0);
  s->dialing = 0;
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  tell(c, err ? uv_translate_sys_error(err) : 0);
}

/* An outcome known at once (a Unix socket connected or refused) is told
 * from the loop, as every other outcome is, before the next poll. */
static void on_later(weft__flushable *f) {
  weft__connector *c = WEFT__CONTAINER(f, weft__connector, later);
  if (c->cancelled || c->s->closed) return;
  tell(c, c->err);
}

static const weft__flush_ops later_ops = {NULL, NULL, on_later};

/* Starts connecting the stream's new socket. Returns 0 (cb follows) or a
 * libuv error when nothing could be started or deferred. */
static int connect_to(weft__connector *c, const struct sockaddr *sa, socklen_t salen) {
  weft__stream *s = c->s;
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int r = fd < 0 ? -1 : 0;
  if (fd >= 0 && weft__stream_set_fd(s, fd) != 0) {
    close(fd);
    return UV_ECANCELED;
  }
  if (fd >= 0) {
    do {
      r = connect(fd, sa, salen);
    } while (r != 0 && errno == EINTR);
  }
  if (r == 0) {
    c->err = 0; /* connected at once (a Unix socket): told before the next poll, as libuv does */
  } else if (errno == EINPROGRESS) {
    c->io.kind = WEFT__IO_DIAL;
    c->io.fd = fd;
    c->io.events = 0;
    int rc = weft__io_watch(s->loop, &c->io, EPOLLOUT);
    if (rc == 0) {
      s->dialing = 1;
      return 0;
    }
    c->err = rc == WEFT_ENOMEM ? UV_ENOMEM : UV_EIO;
  } else {
    c->err = uv_translate_sys_error(errno);
  }
  c->later.ops = &later_ops;
  c->later.next = NULL;
  if (weft__loop_defer(s->loop, &c->later) == 0) return 0;
  return c->err ? c->err : UV_ENOMEM;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  weft__connector *c = req->data;
  char why[320];
  snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host ? c->host : "the host",
           uv_strerror(status < 0 ? status : UV_EAI_NONAME));
  free(c->host);
  c->host = NULL;
  c->resolving = 0;
  if (c->cancelled) {
    if (res) uv_freeaddrinfo(res);
    c->cb(c, WEFT_ECLOSED, "cancelled");
    return;
  }
  if (status < 0 || !res) {
    if (res) uv_freeaddrinfo(res);
    c->cb(c, WEFT_EADDRNOTAVAIL, why);
    return;
  }
  int rc = connect_to(c, res->ai_addr, res->ai_addrlen);
  uv_freeaddrinfo(res);
  if (rc && rc != UV_ECANCELED) tell(c, rc);
}

int weft__connector_start(weft__connector *c, weft__stream *s, const weft__url *u,
                          void (*cb)(weft__connector *c, int status, const char *why)) {
  c->s = s;
  c->cb = cb;
  c->cancelled = 0;
  if (u->sock[0]) {
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, u->sock, strlen(u->sock) + 1); /* the URL parser kept it short */
    int rc = connect_to(c, (struct sockaddr *)&sa, sizeof(sa));
    return rc ? weft__uv_err(rc) : 0;
  }
  struct sockaddr_storage ss;
  if (weft__sockaddr(u->host, u->port, &ss) == 0) {
    socklen_t len =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int rc = connect_to(c, (struct sockaddr *)&ss, len);
    return rc ? weft__uv_err(rc) : 0;
  }
  /* A host name: libuv resolves it on its thread pool. */
  char port[8];
  snprintf(port, sizeof(port), "%d", u->port);
  struct addrinfo hints = {0};
  hints.ai_socktype = SOCK_STREAM;
  c->gai.data = c;
  c->resolving = 1;
  c->host = weft__strdup(u->host);
  int rc = uv_getaddrinfo(s->loop->uv, &c->gai, on_resolved, u->host, port, &hints);
  if (rc) {
    free(c->host);
    c->host = NULL;
    c->resolving = 0;
    return WEFT_EADDRNOTAVAIL;
  }
  return 0;
}

int weft__connector_cancel(weft__connector *c) {
  c->cancelled = 1;
  if (c->s && c->s->dialing) {
    weft__io_watch(c->s->loop, &c->io, 0);
    c->s->dialing = 0;
  }
  if (c->s) weft__loop_undefer(c->s->loop, &c->later);
  if (!c->resolving) return 0;
  uv_cancel((uv_req_t *)&c->gai);
  return 1;
}
