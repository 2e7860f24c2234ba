/* Listening sockets and outgoing connections (see net.h). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void on_connection(uv_stream_t *h, int status) {
  weft__acceptor *a = h->data;
  a->on_connection(a, status);
}

static int listen_tcp(weft__acceptor *a, weft_loop *loop, const weft__url *u) {
  struct sockaddr_storage ss;
  int rc = weft__sockaddr(u->host, u->port, &ss);
  if (rc) return rc;
  uv_tcp_init(loop->uv, &a->h.tcp);
  a->inited = 1;
  return weft__uv_err(uv_tcp_bind(&a->h.tcp, (struct sockaddr *)&ss, 0));
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

static int listen_unix(weft__acceptor *a, weft_loop *loop, const weft__url *u, unsigned mode) {
  uv_pipe_init(loop->uv, &a->h.pipe, 0);
  a->inited = 1;
  int fd = bind_unix(u->sock);
  struct stat st;
  if (fd == -EADDRINUSE && lstat(u->sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
      !unix_in_use(u->sock)) {
    /* A server that died left its socket file: nobody answers there. */
    if (unlink(u->sock) == 0) fd = bind_unix(u->sock);
  }
  if (fd < 0) return weft__uv_err(uv_translate_sys_error(-fd));
  int rc = mode && chmod(u->sock, (mode_t)mode) != 0 ? UV_EIO : uv_pipe_open(&a->h.pipe, fd);
  if (rc || !(a->path = weft__strdup(u->sock))) {
    close(fd);
    unlink(u->sock);
    return rc ? weft__uv_err(rc) : WEFT_ENOMEM;
  }
  /* After the chmod: that changes the time that tells this file apart. */
  if (lstat(u->sock, &st) == 0) a->made = file_id(&st);
  return 0;
}

int weft__acceptor_listen(weft__acceptor *a, weft_loop *loop, const weft__url *u, unsigned mode) {
  a->kind = (uint8_t)weft__url_stream_kind(u);
  int rc = a->kind == WEFT__STREAM_PIPE ? listen_unix(a, loop, u, mode) : listen_tcp(a, loop, u);
  if (rc) return rc;
  a->h.handle.data = a;
  return weft__uv_err(uv_listen(&a->h.stream, 511, on_connection));
}

int weft__acceptor_accept(weft__acceptor *a, weft__stream *s) {
  return weft__uv_err(uv_accept(&a->h.stream, &s->h.stream));
}

int weft__fd_kind(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return WEFT_EINVAL;
  return ss.ss_family == AF_UNIX ? WEFT__STREAM_PIPE : WEFT__STREAM_TCP;
}

int weft__stream_open_fd(weft__stream *s, int fd) {
  return weft__uv_err(s->kind == WEFT__STREAM_PIPE ? uv_pipe_open(&s->h.pipe, fd)
                                                   : uv_tcp_open(&s->h.tcp, fd));
}

int weft__acceptor_port(const weft__acceptor *a) {
  if (a->kind != WEFT__STREAM_TCP || !a->inited) return 0;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&a->h.tcp, (struct sockaddr *)&ss, &len) != 0) return 0;
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
  a->h.handle.data = a;
  uv_close(&a->h.handle, on_acceptor_closed);
  return 1;
}

/* ---- connecting ---- */

static void on_connect(uv_connect_t *req, int status) {
  weft__connector *c = req->data;
  if (c->cancelled || c->s->closed) return; /* the owner closed the stream */
  c->cb(c, status < 0 ? weft__uv_err(status) : 0, status < 0 ? uv_strerror(status) : NULL);
}

static void connect_to(weft__connector *c, const struct sockaddr *sa) {
  c->req.data = c;
  int rc = uv_tcp_connect(&c->req, &c->s->h.tcp, sa, on_connect);
  if (rc) c->cb(c, weft__uv_err(rc), uv_strerror(rc));
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
  connect_to(c, res->ai_addr);
  uv_freeaddrinfo(res);
}

/* A connect that fails before it starts still answers from the loop, as
 * every other outcome does. */
static void on_early_fail(uv_connect_t *req, int status) { on_connect(req, status); }

int weft__connector_start(weft__connector *c, weft__stream *s, const weft__url *u,
                          void (*cb)(weft__connector *c, int status, const char *why)) {
  c->s = s;
  c->cb = cb;
  c->cancelled = 0;
  c->req.data = c;
  if (u->sock[0]) {
    uv_pipe_connect(&c->req, &s->h.pipe, u->sock, on_early_fail);
    return 0;
  }
  struct sockaddr_storage ss;
  if (weft__sockaddr(u->host, u->port, &ss) == 0) {
    int rc = uv_tcp_connect(&c->req, &s->h.tcp, (struct sockaddr *)&ss, on_connect);
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
  if (!c->resolving) return 0;
  uv_cancel((uv_req_t *)&c->gai);
  return 1;
}
