#include "url.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/weft.h"

static int is_unix(const char *scheme) {
  size_t n = strlen(scheme);
  return n > 5 && strcmp(scheme + n - 5, "+unix") == 0;
}

int weft__url_secure(const weft__url *u) {
  return strcmp(u->scheme, "wss") == 0 || strcmp(u->scheme, "https") == 0 ||
         strcmp(u->scheme, "wss+unix") == 0 || strcmp(u->scheme, "tcps") == 0;
}

/* Copies the path part p[0..n) ("/x?y", or "?y" meaning "/?y"). */
static int set_path(weft__url *out, const char *p, size_t n) {
  if (n == 0) {
    strcpy(out->path, "/");
    return 0;
  }
  size_t lead = *p == '?';
  if (n + lead >= sizeof(out->path)) return WEFT_EURL;
  if (lead) out->path[0] = '/';
  memcpy(out->path + lead, p, n);
  out->path[n + lead] = '\0';
  out->has_path = !lead;
  return 0;
}

/* "…+unix://" SOCKET [":" PATH] ["?" QUERY] */
static int parse_unix(const char *rest, weft__url *out) {
  size_t end = strcspn(rest, "#");
  size_t slen = strcspn(rest, ":?#");
  if (slen == 0 || slen >= sizeof(out->sock)) return WEFT_EURL;
  memcpy(out->sock, rest, slen);
  const char *p = rest + slen;
  size_t n = end - slen;
  if (*p == ':') {
    p++, n--;
    if (n == 0 || (*p != '/' && *p != '?')) return WEFT_EURL;
  }
  return set_path(out, p, n);
}

/* Percent-decodes [s, end) into dst (room for end - s + 1). -1 for a
 * malformed escape, an encoded NUL or a control character. */
static int userinfo_decode(char *dst, const char *s, const char *end) {
  for (; s < end; s++) {
    unsigned c = (unsigned char)*s;
    if (c == '%') {
      char hex[3] = {0};
      if (end - s < 3 || !isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]))
        return -1;
      memcpy(hex, s + 1, 2);
      c = (unsigned)strtoul(hex, NULL, 16);
      s += 2;
    }
    if (c < 0x20 || c == 0x7f) return -1;
    *dst++ = (char)c;
  }
  *dst = '\0';
  return 0;
}

int weft__url_parse(const char *url, weft__url *out) {
  if (!url || !out) return WEFT_EINVAL;
  memset(out, 0, sizeof(*out));
  const char *sep = strstr(url, "://");
  if (!sep || sep == url || (size_t)(sep - url) >= sizeof(out->scheme)) return WEFT_EURL;
  for (const char *p = url; p < sep; p++) {
    if (!isalpha((unsigned char)*p) && !(p > url && (*p == '+' || isdigit((unsigned char)*p))))
      return WEFT_EURL;
    out->scheme[p - url] = (char)tolower((unsigned char)*p);
  }
  /* fast-tcp's "ipc:///path/to.sock" names a Unix socket too. */
  if (is_unix(out->scheme) || strcmp(out->scheme, "ipc") == 0) return parse_unix(sep + 3, out);
  const char *h = sep + 3;
  /* "user:password@": the last '@' before the path ends the userinfo. */
  const char *auth_end = h + strcspn(h, "/?#");
  const char *at = NULL;
  for (const char *p = h; p < auth_end; p++)
    if (*p == '@') at = p;
  if (at) {
    if ((size_t)(at - h) >= sizeof(out->userinfo) || userinfo_decode(out->userinfo, h, at) != 0)
      return WEFT_EURL;
    h = at + 1;
  }
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
  out->port = weft__url_secure(out) ? 443 : 80;
  if (*after == ':') {
    char *end;
    errno = 0;
    long port = strtol(after + 1, &end, 10);
    if (end == after + 1 || errno || port < 0 || port > 65535) return WEFT_EURL;
    out->port = (int)port;
    after = end;
  }
  if (*after && *after != '/' && *after != '?' && *after != '#') return WEFT_EURL;
  return set_path(out, after, strcspn(after, "#"));
}

void weft__url_format(const weft__url *u, int port, const char *path, char *out, size_t cap) {
  if (u->sock[0]) {
    snprintf(out, cap, "%s://%s:%s", u->scheme, u->sock, path);
    return;
  }
  int v6 = strchr(u->host, ':') != NULL;
  snprintf(out, cap, "%s://%s%s%s:%d%s", u->scheme, v6 ? "[" : "", u->host, v6 ? "]" : "", port,
           path);
}
