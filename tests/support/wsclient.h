/*
 * A blocking WebSocket/HTTP client for tests: speaks the protocol by hand so
 * tests can send exactly the bytes they mean, including bad ones. Runs in a
 * test's client thread, never on the loop.
 */
#ifndef WEFT_TEST_WSCLIENT_H
#define WEFT_TEST_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct wsc {
  int fd;
  uint8_t *buf; /* received, not yet consumed */
  size_t len, cap;
  uint8_t *msg; /* last message returned by wsc_recv (owned) */
} wsc;

/* Opens a WebSocket to 127.0.0.1:port with the request target `target` and
 * optional extra header lines ("Name: v\r\n"). Returns the HTTP status of the
 * answer (101 on success), or -1. `head` (may be NULL) receives the answer's
 * head, NUL-terminated; `body` (may be NULL) the body of a non-101 answer. */
int wsc_connect(wsc *c, int port, const char *target, const char *extra, char *head, size_t headcap,
                char *body, size_t bodycap);
/* The same with `key` as its Sec-WebSocket-Key (wsc_connect sends RFC
 * 6455's example key). */
int wsc_connect_key(wsc *c, int port, const char *target, const char *extra, const char *key);
/* Sends one frame, masked unless `unmasked`. Returns 0 or -1. */
int wsc_send_frame(wsc *c, int opcode, int fin, int rsv1, const void *p, size_t len, int unmasked);
int wsc_send_text(wsc *c, const char *s);
/* Receives one frame within timeout_ms: returns its opcode (>= 0), -1 on
 * timeout, -2 on EOF/error. The payload (*p, *len) is valid until the next call.
 * The frame's FIN and RSV1 bits go to *flags (bit 0 FIN, bit 1 RSV1). */
int wsc_recv(wsc *c, uint8_t **p, size_t *len, int *flags, int timeout_ms);
/* Receives data frames, skipping primus::ping strings (answered when
 * `answer_pings`). Returns the opcode or <0 as wsc_recv. */
int wsc_recv_data(wsc *c, uint8_t **p, size_t *len, int answer_pings, int timeout_ms);
/* Waits for a close frame: returns its code (1005 when empty), -1 timeout,
 * -2 EOF without close frame. */
int wsc_expect_close(wsc *c, int timeout_ms);
/* A blocking TCP connection to 127.0.0.1:port (TCP_NODELAY), or -1. */
int wsc_tcp_connect(int port);
/* Sends a raw HTTP request, reads until the server closes; returns the status. */
int wsc_http(int port, const char *request, char *resp, size_t cap);
void wsc_close(wsc *c);

#endif
