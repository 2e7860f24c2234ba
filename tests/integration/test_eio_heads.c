/*
 * Shared request heads over engine.io (decision #41): sessions opened
 * straight over WebSocket share their head once the connection event has
 * run and read their own key, URL and lines back later; a polling session,
 * whose handshake is still being answered at its connection event, keeps
 * its own head and reads it later all the same.
 *
 * The client is a thread speaking engine.io over raw sockets on 127.0.0.1;
 * the server answers "key", "url", "ua" and "count" with what the spark's
 * accessors return then.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "failf.h"
#include "http_answer.h"
#include "weft/weft.h"
#include "wsclient.h"

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  int port;
  pthread_t thread;
  int connections;
  char fail[512]; /* the client thread's first failed check */
} fx;

WEFT_TEST_FAILF(fx)

/* ---- the server side (the loop's thread) ---- */

static void on_connection(weft_spark *sp, void *user) {
  (void)sp;
  ((fx *)user)->connections++;
}

static void reply(weft_spark *sp, const char *s) {
  weft_value *v = s ? weft_value_new_string(s, strlen(s)) : weft_value_new_null();
  weft_spark_write(sp, v);
  weft_value_free(v);
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  const char *s;
  size_t n;
  char count[16];
  if (weft_value_get_string(msg, &s, &n) != 0) return;
  if (n == 3 && memcmp(s, "key", 3) == 0) {
    reply(sp, weft_spark_header(sp, "sec-websocket-key"));
  } else if (n == 3 && memcmp(s, "url", 3) == 0) {
    reply(sp, weft_spark_url(sp));
  } else if (n == 2 && memcmp(s, "ua", 2) == 0) {
    reply(sp, weft_spark_header(sp, "user-agent"));
  } else if (n == 5 && memcmp(s, "count", 5) == 0) {
    snprintf(count, sizeof(count), "%zu", weft_spark_header_count(sp));
    reply(sp, count);
  }
}

static void destroy_server(void *user) {
  fx *f = user;
  weft_destroy_options o = {sizeof(o), 0, 500};
  if (weft_server_destroy(f->server, &o) != 0) failf(f, __LINE__, "weft_server_destroy failed");
}

/* ---- the client side (its own thread, blocking sockets) ---- */

static const char *const keys[] = {
    "AAECAwQFBgcICQoLDA0ODw==", "8PHy8/T19vf4+fr7/P3+/w==", "qqqqqqqqqqqqqqqqqqqqqg=="};

/* Sends a message ("4" + JSON) and checks the answer's packet. */
static int asks(wsc *w, const char *ask, const char *want) {
  char m[64];
  uint8_t *p;
  size_t n;
  snprintf(m, sizeof(m), "4\"%s\"", ask);
  if (wsc_send_text(w, m) != 0) return 0;
  for (;;) { /* pings ("2") may come first */
    if (wsc_recv(w, &p, &n, NULL, 3000) != 1) return 0;
    if (n && p[0] == '4') break;
  }
  return n == strlen(want) && memcmp(p, want, n) == 0;
}

static int opened(wsc *w) {
  uint8_t *p;
  size_t n;
  return wsc_recv(w, &p, &n, NULL, 3000) == 1 && n > 1 && p[0] == '0';
}

static void over_websocket(fx *f) {
  wsc w[3];
  char want[64];
  for (int i = 0; i < 3; i++) {
    if (wsc_connect_key(&w[i], f->port, "/primus/?EIO=4&transport=websocket", "User-Agent: e/1\r\n",
                        keys[i]) != 101 ||
        !opened(&w[i]))
      failf(f, __LINE__, "session %d not opened", i);
  }
  for (int i = 2; i >= 0 && !f->fail[0]; i--) {
    snprintf(want, sizeof(want), "4\"%s\"", keys[i]);
    if (!asks(&w[i], "key", want)) failf(f, __LINE__, "session %d: not its key", i);
    if (!asks(&w[i], "url", "4\"/primus/?EIO=4&transport=websocket\""))
      failf(f, __LINE__, "session %d: not its URL", i);
    if (!asks(&w[i], "ua", "4\"e/1\"")) failf(f, __LINE__, "session %d: not its agent", i);
    if (!asks(&w[i], "count", "4\"6\"")) failf(f, __LINE__, "session %d: not 6 lines", i);
  }
  for (int i = 0; i < 3; i++)
    wsc_close(&w[i]);
}

static int tcp_connect(int port) {
  int fd = wsc_tcp_connect(port);
  struct timeval tv = {3, 0};
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

/* A polling session (twice: the second head is one seen before) asks for
 * its agent and its missing key after its handshake was answered. */
static void over_polling(fx *f) {
  for (int round = 0; round < 2 && !f->fail[0]; round++) {
    char body[512], sid[64], req[512];
    rbuf b = {0};
    int fd = tcp_connect(f->port);
    if (fd < 0) {
      failf(f, __LINE__, "connect failed");
      return;
    }
    if (send_str(fd, "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
                     "User-Agent: p/2\r\n\r\n") != 0 ||
        read_answer(fd, &b, body, sizeof(body)) != 200 ||
        sscanf(body, "0{\"sid\":\"%63[^\"]\"", sid) != 1) {
      failf(f, __LINE__, "handshake: %s", body);
      close(fd);
      return;
    }
    const char *asks_[] = {"ua", "key"}, *wants[] = {"4\"p/2\"", "4null"};
    for (int i = 0; i < 2; i++) {
      char msg[16];
      int len = snprintf(msg, sizeof(msg), "4\"%s\"", asks_[i]);
      snprintf(req, sizeof(req),
               "POST /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s",
               sid, len, msg);
      if (send_str(fd, req) != 0 || read_answer(fd, &b, body, sizeof(body)) != 200) {
        failf(f, __LINE__, "post: %s", body);
        break;
      }
      snprintf(req, sizeof(req),
               "GET /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", sid);
      if (send_str(fd, req) != 0 || read_answer(fd, &b, body, sizeof(body)) != 200 ||
          !strstr(body, wants[i])) {
        failf(f, __LINE__, "poll for %s: %s", asks_[i], body);
        break;
      }
    }
    close(fd);
  }
  if (f->fail[0]) return;
  /* A POST that waits for "100 Continue" before its body (curl's way past
   * 1 KiB) is told to go on, then answered. */
  char body[512], sid[64], req[512];
  rbuf b = {0};
  int fd = tcp_connect(f->port);
  if (fd < 0 ||
      send_str(fd, "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n") != 0 ||
      read_answer(fd, &b, body, sizeof(body)) != 200 ||
      sscanf(body, "0{\"sid\":\"%63[^\"]\"", sid) != 1) {
    failf(f, __LINE__, "handshake: %s", body);
    if (fd >= 0) close(fd);
    return;
  }
  snprintf(req, sizeof(req),
           "POST /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 5\r\n"
           "Expect: 100-continue\r\n\r\n",
           sid);
  static const char go[] = "HTTP/1.1 100 Continue\r\n\r\n";
  char got[sizeof go] = "";
  size_t n = 0;
  int sent = send_str(fd, req) == 0;
  while (sent && n < sizeof go - 1) {
    ssize_t k = recv(fd, got + n, sizeof go - 1 - n, 0);
    if (k <= 0) break;
    n += (size_t)k;
  }
  if (n != sizeof go - 1 || memcmp(got, go, n) != 0)
    failf(f, __LINE__, "no 100 Continue: %.*s", (int)n, got);
  else if (send_str(fd, "4\"ua\"") != 0 || read_answer(fd, &b, body, sizeof(body)) != 200 ||
           strcmp(body, "ok") != 0)
    failf(f, __LINE__, "post after 100: %s", body);
  close(fd);
}

static void *client_main(void *arg) {
  fx *f = arg;
  over_websocket(f);
  if (!f->fail[0]) over_polling(f);
  weft_loop_post(f->loop, destroy_server, f);
  return NULL;
}

static void test_eio_heads(void **state) {
  (void)state;
  fx f = {0};
  assert_int_equal(weft_loop_new(&f.loop), 0);
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  assert_int_equal(weft_server_set_transformer(f.server, "engine.io"), 0);
  weft_server_events ev = {.size = sizeof(ev), .connection = on_connection, .data = on_data};
  assert_int_equal(weft_server_set_events(f.server, &ev, &f, NULL), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  f.port = weft_server_port(f.server);
  assert_true(f.port > 0);
  assert_int_equal(pthread_create(&f.thread, NULL, client_main, &f), 0);
  assert_int_equal(weft_loop_run(f.loop), 0);
  pthread_join(f.thread, NULL);
  if (f.fail[0]) fail_msg("client: %s", f.fail);
  assert_int_equal(f.connections, 6); /* 3 over WebSocket, 3 polling */
  assert_int_equal(weft_loop_close(f.loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eio_heads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
