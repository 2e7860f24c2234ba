#include "wsclient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int wsc_tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads more bytes into c->buf; 1 read, 0 timeout, -1 EOF/error. */
static int fill(wsc *c, int timeout_ms) {
  struct pollfd pfd = {c->fd, POLLIN, 0};
  int r = poll(&pfd, 1, timeout_ms);
  if (r == 0) return 0;
  if (r < 0) return -1;
  if (c->cap - c->len < 65536) {
    size_t cap = c->cap ? c->cap * 2 : 131072;
    uint8_t *b = realloc(c->buf, cap);
    if (!b) return -1;
    c->buf = b;
    c->cap = cap;
  }
  ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
  if (n <= 0) return -1;
  c->len += (size_t)n;
  return 1;
}

static void consume(wsc *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

static int connect_keyed(wsc *c, int port, const char *target, const char *extra, const char *key,
                         char *head, size_t headcap, char *body, size_t bodycap) {
  memset(c, 0, sizeof(*c));
  c->fd = wsc_tcp_connect(port);
  if (c->fd < 0) return -1;
  char req[2048];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s\r\n",
                   target, port, key, extra ? extra : "");
  if (write_all(c->fd, req, (size_t)n) != 0) return -1;
  for (;;) {
    uint8_t *end = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (end) {
      size_t hl = (size_t)(end - c->buf) + 4;
      if (head) snprintf(head, headcap, "%.*s", (int)hl, (char *)c->buf);
      int status = 0;
      sscanf((char *)c->buf, "HTTP/1.1 %d", &status);
      consume(c, hl);
      if (status != 101 && body) {
        while (fill(c, 2000) > 0) {
        }
        snprintf(body, bodycap, "%.*s", (int)c->len, (char *)c->buf);
      }
      return status;
    }
    if (fill(c, 5000) <= 0) return -1;
  }
}

int wsc_connect(wsc *c, int port, const char *target, const char *extra, char *head, size_t headcap,
                char *body, size_t bodycap) {
  return connect_keyed(c, port, target, extra, "dGhlIHNhbXBsZSBub25jZQ==", head, headcap, body,
                       bodycap);
}

int wsc_connect_key(wsc *c, int port, const char *target, const char *extra, const char *key) {
  return connect_keyed(c, port, target, extra, key, NULL, 0, NULL, 0);
}

int wsc_send_frame(wsc *c, int opcode, int fin, int rsv1, const void *p, size_t len, int unmasked) {
  uint8_t *f = malloc(len + 14);
  if (!f) return -1;
  size_t h = 0;
  f[h++] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
  uint8_t mbit = unmasked ? 0 : 0x80;
  if (len < 126) {
    f[h++] = (uint8_t)(mbit | len);
  } else if (len < 65536) {
    f[h++] = mbit | 126;
    f[h++] = (uint8_t)(len >> 8);
    f[h++] = (uint8_t)len;
  } else {
    f[h++] = mbit | 127;
    for (int i = 7; i >= 0; i--)
      f[h++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (!unmasked) {
    memcpy(f + h, mask, 4);
    h += 4;
  }
  for (size_t i = 0; i < len; i++)
    f[h + i] = ((const uint8_t *)p)[i] ^ (unmasked ? 0 : mask[i & 3]);
  int rc = write_all(c->fd, f, h + len);
  free(f);
  return rc;
}

int wsc_send_text(wsc *c, const char *s) { return wsc_send_frame(c, 1, 1, 0, s, strlen(s), 0); }

int wsc_recv(wsc *c, uint8_t **p, size_t *len, int *flags, int timeout_ms) {
  for (;;) {
    if (c->len >= 2) {
      uint8_t b0 = c->buf[0], b1 = c->buf[1];
      size_t h = 2;
      uint64_t n = b1 & 0x7f;
      if (n == 126 && c->len >= 4) {
        n = ((uint64_t)c->buf[2] << 8) | c->buf[3];
        h = 4;
      } else if (n == 127 && c->len >= 10) {
        n = 0;
        for (int i = 0; i < 8; i++)
          n = (n << 8) | c->buf[2 + i];
        h = 10;
      } else if (n >= 126) {
        h = 0;
      }
      if (h && c->len >= h + n) {
        free(c->msg);
        c->msg = malloc(n + 1);
        if (!c->msg) return -2;
        memcpy(c->msg, c->buf + h, n);
        c->msg[n] = 0;
        consume(c, h + (size_t)n);
        *p = c->msg;
        *len = (size_t)n;
        if (flags) *flags = ((b0 & 0x80) ? 1 : 0) | ((b0 & 0x40) ? 2 : 0);
        return b0 & 0x0f;
      }
    }
    int r = fill(c, timeout_ms);
    if (r == 0) return -1;
    if (r < 0) return -2;
  }
}

int wsc_recv_data(wsc *c, uint8_t **p, size_t *len, int answer_pings, int timeout_ms) {
  for (;;) {
    int op = wsc_recv(c, p, len, NULL, timeout_ms);
    if (op < 0) return op;
    if (op == 1 && *len > 16 && memcmp(*p, "\"primus::ping::", 15) == 0) {
      if (answer_pings) {
        char pong[96];
        snprintf(pong, sizeof(pong), "\"primus::pong::%.*s", (int)(*len - 15), (char *)*p + 15);
        wsc_send_text(c, pong);
      }
      continue;
    }
    return op;
  }
}

int wsc_expect_close(wsc *c, int timeout_ms) {
  for (;;) {
    uint8_t *p;
    size_t n;
    int op = wsc_recv(c, &p, &n, NULL, timeout_ms);
    if (op == -1) return -1;
    if (op < 0) return -2;
    if (op == 8) return n >= 2 ? (p[0] << 8) | p[1] : 1005;
  }
}

/* Whether c's buffer holds one whole HTTP answer: its head, and the body
 * its Content-Length or chunked framing says (none for a HEAD request). */
static int http_whole(const wsc *c, int head_only) {
  if (!c->len) return 0;
  const char *b = (const char *)c->buf;
  const char *end = memmem(b, c->len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - b) + 4;
  if (head_only) return 1;
  char h[8192];
  snprintf(h, sizeof h, "%.*s", (int)(head < sizeof h ? head : sizeof h - 1), b);
  for (char *p = h; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  const char *cl = strstr(h, "\r\ncontent-length:");
  if (cl) return c->len >= head + strtoul(cl + 17, NULL, 10);
  if (strstr(h, "\r\ntransfer-encoding: chunked"))
    return c->len >= head + 5 && memcmp(b + c->len - 5, "0\r\n\r\n", 5) == 0;
  return 0; /* to the close */
}

int wsc_http(int port, const char *request, char *resp, size_t cap) {
  wsc c = {0};
  c.fd = wsc_tcp_connect(port);
  if (c.fd < 0) return -1;
  if (write_all(c.fd, request, strlen(request)) != 0) {
    close(c.fd);
    return -1;
  }
  /* Read until the answer is whole (the server may keep the connection
   * open for another request), else until it closes. */
  int head_only = strncmp(request, "HEAD ", 5) == 0;
  while (!http_whole(&c, head_only) && fill(&c, 3000) > 0) {
  }
  int status = -1;
  if (c.len) sscanf((char *)c.buf, "HTTP/1.1 %d", &status);
  if (resp) snprintf(resp, cap, "%.*s", (int)c.len, c.buf ? (char *)c.buf : "");
  free(c.buf);
  close(c.fd);
  return status;
}

void wsc_close(wsc *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->buf);
  free(c->msg);
  c->buf = c->msg = NULL;
}
