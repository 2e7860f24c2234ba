/*
 * Blocking HTTP/1.1 answers for tests that speak a protocol over HTTP by
 * hand (engine.io polling): read_answer() takes one answer with a
 * Content-Length off a socket, keeping what follows it for the next call;
 * send_str() sends a whole string.
 */
#ifndef WEFT_TEST_HTTP_ANSWER_H
#define WEFT_TEST_HTTP_ANSWER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

typedef struct rbuf {
  char d[8193];
  size_t n;
} rbuf;

/* One answer: its status (-1 on error, or when the socket's receive
 * timeout passes), its body NUL-terminated into out. */
static inline int read_answer(int fd, rbuf *b, char *out, size_t cap) {
  for (;;) {
    b->d[b->n] = '\0';
    char *end = strstr(b->d, "\r\n\r\n");
    if (end) {
      size_t h = (size_t)(end - b->d) + 4;
      const char *cl = strcasestr(b->d, "\r\nContent-Length:");
      size_t len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
      if (b->n >= h + len) {
        snprintf(out, cap, "%.*s", (int)len, b->d + h);
        int status = atoi(b->d + 9);
        memmove(b->d, b->d + h + len, b->n - h - len);
        b->n -= h + len;
        return status;
      }
    }
    ssize_t r = b->n < sizeof(b->d) - 1 ? recv(fd, b->d + b->n, sizeof(b->d) - 1 - b->n, 0) : -1;
    if (r <= 0) return -1;
    b->n += (size_t)r;
  }
}

static inline int send_str(int fd, const char *s) {
  size_t n = strlen(s);
  return send(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

#endif
