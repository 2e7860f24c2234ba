/*
 * URLs as weft takes them, no I/O: "ws://host:port/path?query" (and wss,
 * http, https), and the Unix-socket form of the npm `ws` package,
 * "ws+unix:///path/to.sock:/path?query" (and wss+unix): the socket's path,
 * then ':' and the request path. Which scheme means which transport and
 * byte stream is the transport registry's business, not this file's.
 */
#ifndef WEFT__URL_H
#define WEFT__URL_H

#include <stddef.h>

/* A Unix socket path: what fits in sockaddr_un.sun_path with its NUL. */
#define WEFT__SOCK_MAX 108

typedef struct weft__url {
  char scheme[16];           /* lower case: "ws", "wss", "ws+unix", … */
  char host[256];            /* without brackets for IPv6; "" for a Unix socket */
  int port;                  /* as written, else 443 for wss/https, 80 otherwise; 0 for Unix */
  char path[1024];           /* path + query, "/" at least */
  int has_path;              /* the URL named a path: "ws://h:1/" does, "ws://h:1" does not */
  char sock[WEFT__SOCK_MAX]; /* the socket's path for "…+unix" schemes, else "" */
  char userinfo[256];        /* "user:password" before an '@', percent-decoded; else "" */
} weft__url;

/* Parses `url` into `out`. Errors: WEFT_EINVAL (NULL), WEFT_EURL (malformed,
 * a port out of range, a field too long, an empty socket path). */
int weft__url_parse(const char *url, weft__url *out);
/* The scheme says TLS: "wss", "https", "wss+unix". */
int weft__url_secure(const weft__url *u);
/* Writes the URL served at `port` and `path` ("ws://127.0.0.1:8080/primus",
 * "ws+unix:///run/app.sock:/primus") into out[0..cap), NUL-terminated and
 * truncated to fit. */
void weft__url_format(const weft__url *u, int port, const char *path, char *out, size_t cap);

#endif
