/*
 * weft_server_attach and weft_server_adopt: a server that binds nothing and
 * serves connections another server accepted, with the bytes that server
 * already read (a request head split between `head` and the socket), one
 * request only with WEFT_ADOPT_ONCE, an upgrade; and their bad input.
 * The "other server" is a socketpair; the test reads its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "weft/weft.h"

/* Runs the loop until the peer end has `want` in what it read, or EOF with
 * `eof`; 5 s at most. Returns the bytes read (NUL-terminated). */
static size_t pump(weft_loop *loop, int peer, char *buf, size_t cap, const char *want, int eof) {
  size_t got = 0;
  time_t end = time(NULL) + 5;
  fcntl(peer, F_SETFL, O_NONBLOCK);
  while (time(NULL) < end) {
    weft_loop_run_once(loop);
    ssize_t n = read(peer, buf + got, cap - 1 - got);
    if (n > 0) got += (size_t)n;
    buf[got] = '\0';
    if (n == 0 && eof) return got;
    if (!eof && want && strstr(buf, want)) return got;
    if (n < 0 && errno != EAGAIN) return got;
    usleep(1000);
  }
  return got;
}

static void test_attach_adopt(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

  /* Bad input, before and after attaching. */
  assert_int_equal(weft_server_adopt(s, sv[1], NULL, 0, 0), WEFT_ESTATE);
  assert_int_equal(weft_server_attach(s, "wss://localhost:1/rt"), WEFT_EUNSUPPORTED);
  assert_int_equal(weft_server_attach(s, "nope://"), WEFT_EURL);
  assert_int_equal(weft_server_attach(NULL, "ws://localhost:0/rt"), WEFT_EINVAL);
  assert_int_equal(weft_server_attach(s, "ws://localhost:8080/rt"), 0);
  assert_int_equal(weft_server_port(s), 8080); /* named, not bound */
  assert_string_equal(weft_server_pathname(s), "/rt");
  assert_int_equal(weft_server_adopt(s, -1, NULL, 0, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_adopt(s, sv[1], NULL, 3, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_adopt(s, sv[1], NULL, 0, 8), WEFT_EINVAL);
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  assert_int_equal(weft_server_adopt(s, pipefd[0], NULL, 0, 0), WEFT_EINVAL); /* not a socket */
  assert_int_equal(fcntl(pipefd[0], F_GETFD), 0); /* still the caller's */
  close(pipefd[0]);
  close(pipefd[1]);

  /* A request whose head the other server read half of, served alone. */
  const char *head = "GET /rt/spec HTTP/1.1\r\nHost: x\r\n";
  assert_int_equal(weft_server_adopt(s, sv[1], head, strlen(head), WEFT_ADOPT_ONCE), 0);
  assert_int_equal(write(sv[0], "\r\n", 2), 2);
  char buf[8192];
  pump(loop, sv[0], buf, sizeof(buf), NULL, 1);
  assert_non_null(strstr(buf, "HTTP/1.1 200"));
  assert_non_null(strstr(buf, "Connection: close"));
  assert_non_null(strstr(buf, "\"pathname\":\"/rt\""));
  close(sv[0]);

  /* An upgrade read whole by the other server. */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  const char *up =
      "GET /rt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  assert_int_equal(weft_server_adopt(s, sv[1], up, strlen(up), WEFT_ADOPT_ONCE), 0);
  pump(loop, sv[0], buf, sizeof(buf), "\r\n\r\n", 0);
  assert_non_null(strstr(buf, "HTTP/1.1 101"));
  assert_non_null(strstr(buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  /* The client pings (Primus before 7): the server pongs what it sent, at
   * most 64 bytes of it (a masked text frame with a zero mask). */
  char frame[160] = "\x81\x00\x00\x00\x00\x00";
  const char *ping = "\"primus::ping::1733\"";
  frame[1] = (char)(0x80 | strlen(ping));
  memcpy(frame + 6, ping, strlen(ping));
  assert_int_equal(write(sv[0], frame, 6 + strlen(ping)), (ssize_t)(6 + strlen(ping)));
  size_t n = pump(loop, sv[0], buf, sizeof(buf), "pong::1733\"", 0);
  assert_true(n >= 2);
  assert_non_null(strstr(buf, "\"primus::pong::1733\""));
  char big[120];
  snprintf(big, sizeof(big), "\"primus::ping::%0100d\"", 7);
  frame[1] = (char)(0x80 | strlen(big));
  memcpy(frame + 6, big, strlen(big));
  assert_int_equal(write(sv[0], frame, 6 + strlen(big)), (ssize_t)(6 + strlen(big)));
  n = pump(loop, sv[0], buf, sizeof(buf), "00\"", 0);
  char want[100];
  snprintf(want, sizeof(want), "\"primus::pong::%064d\"", 0); /* the first 64 bytes: zeros */
  assert_non_null(strstr(buf, want));
  close(sv[0]);

  assert_int_equal(weft_server_destroy(s, NULL), 0);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_attach_adopt)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
