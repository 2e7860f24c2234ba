#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"

int weft__url_parse(const char *url, weft__url *out) {
  if (!url || !out) return WEFT_EINVAL;
  memset(out, 0, sizeof(*out));
  const char *sep = strstr(url, "://");
  if (!sep || sep == url || (size_t)(sep - url) >= sizeof(out->scheme)) return WEFT_EURL;
  for (const char *p = url; p < sep; p++) {
    if (!isalpha((unsigned char)*p)) return WEFT_EURL;
    out->scheme[p - url] = (char)tolower((unsigned char)*p);
  }
  const char *h = sep + 3;
  const char *hend;
  const char *after;
  if (*h == '[') {
    hend = strchr(h, ']');
    if (!hend) return WEFT_EURL;
    h++;
    after = hend + 1;
  } else {
    hend = h + strcspn(h, ":/?#");
    after = hend;
  }
  size_t hlen = (size_t)(hend - h);
  if (hlen == 0 || hlen >= sizeof(out->host)) return WEFT_EURL;
  memcpy(out->host, h, hlen);
  out->port = strcmp(out->scheme, "wss") == 0 || strcmp(out->scheme, "https") == 0 ? 443 : 80;
  if (*after == ':') {
    char *end;
    errno = 0;
    long port = strtol(after + 1, &end, 10);
    if (end == after + 1 || errno || port < 0 || port > 65535) return WEFT_EURL;
    out->port = (int)port;
    after = end;
  }
  if (*after && *after != '/' && *after != '?') return WEFT_EURL;
  const char *path = *after ? after : "/";
  size_t plen = strcspn(path, "#");
  if (plen >= sizeof(out->path)) return WEFT_EURL;
  if (*path == '?') {
    out->path[0] = '/';
    memcpy(out->path + 1, path, plen < sizeof(out->path) - 1 ? plen : sizeof(out->path) - 2);
  } else {
    memcpy(out->path, path, plen);
  }
  return 0;
}

int weft__sockaddr(const char *host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return WEFT_EADDRNOTAVAIL;
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
  default: return WEFT_EIO;
  }
}

char *weft__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

uint64_t weft__now_ms(uv_loop_t *uv) { return uv_now(uv); }

int weft__strcaseeq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

int weft__rand_bytes(weft__rand *r, uint8_t *out, size_t n) {
  while (n > 0) {
    if (r->avail == 0) {
      size_t got = 0;
      while (got < sizeof(r->pool)) {
        ssize_t k = getrandom(r->pool + got, sizeof(r->pool) - got, 0);
        if (k < 0) {
          if (errno == EINTR) continue;
          return WEFT_EIO;
        }
        got += (size_t)k;
      }
      r->avail = sizeof(r->pool);
    }
    size_t take = n < r->avail ? n : r->avail;
    memcpy(out, r->pool + sizeof(r->pool) - r->avail, take);
    /* Used bytes are wiped so an id never repeats from a stale pool. */
    memset(r->pool + sizeof(r->pool) - r->avail, 0, take);
    r->avail -= take;
    out += take;
    n -= take;
  }
  return 0;
}
