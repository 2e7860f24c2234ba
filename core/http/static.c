/*
 * Static content next to the real-time endpoint: in-memory assets registered
 * by the application (weft_server_add_asset(): the browser client bundle) and
 * one folder of files (weft_server_set_static_dir(): a demo page). Only GET
 * and HEAD; no directory listings; paths are percent-decoded once and refused
 * when a segment is "..", "." or hidden (starts with a dot), when they hold
 * NUL or a backslash, or when they are longer than WEFT__STATIC_MAX_PATH.
 * Files are opened with O_NOFOLLOW below the folder's real path.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* realpath, O_NOFOLLOW, O_CLOEXEC in builds without -D_GNU_SOURCE */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "server.h"

#define WEFT__STATIC_MAX_PATH 1024
#define WEFT__STATIC_MAX_FILE (16u << 20)

struct weft__asset {
  char *path;
  size_t plen; /* strlen(path): most requests are no asset's, told by length */
  char *ctype;
  uint8_t *data;
  size_t len;
  int borrowed; /* static data: neither copied nor freed */
};

static int text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n > max) return 0;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
  return 1;
}

/* A path is safe when it starts with '/', has no "." or ".." segment, no
 * hidden segment, no NUL, no backslash and no '?' or '#'. */
static int path_safe(const char *p) {
  if (p[0] != '/') return 0;
  for (const char *seg = p + 1;;) {
    size_t n = strcspn(seg, "/");
    if (n > 0 && seg[0] == '.') return 0;
    for (size_t i = 0; i < n; i++)
      if (seg[i] == '\\' || seg[i] == '?' || seg[i] == '#') return 0;
    if (seg[n] == '\0') return 1;
    seg += n + 1;
  }
}

int weft__http_site_add_asset(weft__http_site *s, const char *path, const char *content_type,
                              const void *data, size_t len) {
  return weft__http_site_add_asset_ex(s, path, content_type, data, len, 0);
}

int weft__http_site_add_asset_ex(weft__http_site *s, const char *path, const char *content_type,
                                 const void *data, size_t len, int borrowed) {
  if (!path || !content_type || (!data && len)) return WEFT_EINVAL;
  if (!text_ok(path, WEFT__STATIC_MAX_PATH) || !path_safe(path) || !text_ok(content_type, 200))
    return WEFT_EINVAL;
  for (size_t i = 0; i < s->n_assets; i++)
    if (strcmp(s->assets[i].path, path) == 0) return WEFT_EEXIST;
  struct weft__asset *arr = realloc(s->assets, (s->n_assets + 1) * sizeof(*arr));
  if (!arr) return WEFT_ENOMEM;
  s->assets = arr;
  struct weft__asset *a = &arr[s->n_assets];
  a->path = weft__strdup(path);
  a->plen = strlen(path);
  a->ctype = weft__strdup(content_type);
  a->borrowed = borrowed;
  a->data = borrowed ? (uint8_t *)(uintptr_t)data : malloc(len ? len : 1);
  if (!a->path || !a->ctype || !a->data) {
    free(a->path);
    free(a->ctype);
    if (!borrowed) free(a->data);
    return WEFT_ENOMEM;
  }
  if (len && !borrowed) memcpy(a->data, data, len);
  a->len = len;
  s->n_assets++;
  return 0;
}

int weft__http_site_set_asset(weft__http_site *s, const char *path, const char *content_type,
                              const void *data, size_t len) {
  if (!path || !content_type || (!data && len) || !text_ok(content_type, 200)) return WEFT_EINVAL;
  for (size_t i = 0; i < s->n_assets; i++) {
    struct weft__asset *a = &s->assets[i];
    if (strcmp(a->path, path) != 0) continue;
    /* Answers copy the body: nothing in flight points at the old one. */
    uint8_t *copy = malloc(len ? len : 1);
    char *ctype = weft__strdup(content_type);
    if (!copy || !ctype) {
      free(copy);
      free(ctype);
      return WEFT_ENOMEM;
    }
    if (len) memcpy(copy, data, len);
    if (!a->borrowed) free(a->data);
    free(a->ctype);
    a->data = copy;
    a->ctype = ctype;
    a->len = len;
    a->borrowed = 0;
    return 0;
  }
  return weft__http_site_add_asset_ex(s, path, content_type, data, len, 0);
}

int weft__http_site_set_static_dir(weft__http_site *s, const char *dir) {
  if (!dir || !*dir) return WEFT_EINVAL;
  char *real = realpath(dir, NULL);
  if (!real) return errno == ENOMEM ? WEFT_ENOMEM : WEFT_ENOENT;
  struct stat st;
  if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    free(real);
    return WEFT_EINVAL;
  }
  free(s->static_dir);
  s->static_dir = real;
  return 0;
}

void weft__http_static_free(weft__http_site *s) {
  for (size_t i = 0; i < s->n_assets; i++) {
    free(s->assets[i].path);
    free(s->assets[i].ctype);
    if (!s->assets[i].borrowed) free(s->assets[i].data);
  }
  free(s->assets);
  s->assets = NULL;
  s->n_assets = 0;
  free(s->static_dir);
  s->static_dir = NULL;
}

static const char *content_type_of(const char *path) {
  static const char *const map[][2] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".wasm", "application/wasm"},
      {".woff2", "font/woff2"},
  };
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot && (!slash || dot > slash))
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
      if (weft__strcaseeq(dot, map[i][0])) return map[i][1];
  return "application/octet-stream";
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes a path ('+' stays '+'). Returns -1 for a malformed escape
 * or an encoded NUL. */
static int path_decode(char *dst, const char *src) {
  size_t o = 0;
  for (size_t i = 0; src[i]; i++) {
    char c = src[i];
    if (c == '%') {
      int hi = hexval(src[i + 1]), lo = hi >= 0 ? hexval(src[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    dst[o++] = c;
  }
  dst[o] = '\0';
  return 0;
}

/* Reads a regular file below the static folder. Returns 0 with the bytes, or
 * an HTTP status (404, 500). */
static int read_file(const char *dir, const char *rel, uint8_t **out, size_t *len) {
  char full[PATH_MAX];
  int n = snprintf(full, sizeof(full), "%s%s", dir, rel);
  if (n < 0 || (size_t)n >= sizeof(full)) return 404;
  int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 404;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return 404;
  }
  if ((uint64_t)st.st_size > WEFT__STATIC_MAX_FILE) {
    close(fd);
    return 500;
  }
  size_t size = (size_t)st.st_size, got = 0;
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) {
    close(fd);
    return 500;
  }
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != size) {
    free(buf);
    return 500;
  }
  *out = buf;
  *len = size;
  return 0;
}

/* Which of the two a request may be answered from. */
enum { FROM_ASSETS = 1, FROM_FOLDER = 2 };

static int serve(weft__http_conn *hc, int from) {
  weft__http_site *s = hc->ep->site;
  const weft__http_head *h = &hc->req.head;
  if (!(from & FROM_ASSETS ? s->n_assets : s->static_dir != NULL)) return 0;
  const char *m = weft__http_method(h);
  static const char allow[] = "Allow: GET, HEAD\r\n";
  if (from & FROM_ASSETS) {
    const char *path = weft__http_path(h);
    size_t plen = strlen(path);
    for (size_t i = 0; i < s->n_assets; i++) {
      if (s->assets[i].plen != plen || memcmp(s->assets[i].path, path, plen) != 0) continue;
      if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        weft__http_respond_status(hc, 405, allow);
      else
        weft__http_respond(hc, 200, s->assets[i].ctype, s->assets[i].data, s->assets[i].len, NULL);
      return 1;
    }
    return 0;
  }
  if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
    weft__http_respond_status(hc, 405, allow);
    return 1;
  }
  if (strlen(weft__http_path(h)) > WEFT__STATIC_MAX_PATH) {
    weft__http_respond_status(hc, 414, NULL);
    return 1;
  }
  char rel[WEFT__STATIC_MAX_PATH + 16];
  if (path_decode(rel, weft__http_path(h)) != 0) {
    weft__http_respond_status(hc, 400, NULL);
    return 1;
  }
  if (!path_safe(rel)) {
    weft__http_respond_status(hc, 404, NULL);
    return 1;
  }
  size_t rlen = strlen(rel);
  if (rel[rlen - 1] == '/') memcpy(rel + rlen, "index.html", 11); /* a folder's index */
  uint8_t *data = NULL;
  size_t len = 0;
  int status = read_file(s->static_dir, rel, &data, &len);
  if (status)
    weft__http_respond_status(hc, status, NULL);
  else
    weft__http_respond(hc, 200, content_type_of(rel), data, len, NULL);
  free(data);
  return 1;
}

int weft__http_static_asset(weft__http_conn *hc) { return serve(hc, FROM_ASSETS); }
int weft__http_static_file(weft__http_conn *hc) { return serve(hc, FROM_FOLDER); }
