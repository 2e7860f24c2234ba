/*
 * An engine.io session whose poll's seal closes its other transport, then
 * weft_server_destroy(): the close event must come.
 *
 * The client (a thread speaking engine.io over raw sockets on 127.0.0.1)
 * opens a polling session, opens a WebSocket probe and gets "3probe", so
 * the session keeps the probe while it closes (the client would upgrade
 * next). Its post "end" makes the data handler end the spark: the close
 * packet waits for the next poll. The client's next poll is answered from
 * its stream's seal (the loop's flush of the dirty list), and the session
 * finishes there, aborting the probe: the probe's stream goes on the dirty
 * list in front of the poll's, and its close finishes only when the list
 * gets to it. When the loop dropped it (flush_head took the sealed
 * flushable off by assuming it was still the head), the probe's connection
 * never finished closing and destroy never emitted close: Primus's own
 * engine.io suite hung in primus.destroy(). A guard on the loop bounds the
 * wait, so the test fails instead of hanging.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "failf.h"
#include "http_answer.h"
#include "weft/weft.h"
#include "wsclient.h"

/* How long destroy may take: its own wait for sparks is 500 ms here, and
 * there are none left by then. */
#define CLOSE_WITHIN_MS 3000

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  int port;
  pthread_t thread;
  uv_timer_t guard;
  uint64_t destroy_at, close_ms;
  int connections, disconnections, ends, closed, timed_out;
  char poll_body[256]; /* the answer to the poll after the end */
  char fail[512];      /* the client thread's first failed check */
} fx;

WEFT_TEST_FAILF(fx)

/* ---- the server side (the loop's thread) ---- */

static void on_connection(weft_spark *sp, void *user) {
  (void)sp;
  ((fx *)user)->connections++;
}

static void on_disconnection(weft_spark *sp, void *user) {
  (void)sp;
  ((fx *)user)->disconnections++;
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  fx *f = user;
  const char *s;
  size_t n;
  if (weft_value_get_string(msg, &s, &n) == 0 && n == 3 && memcmp(s, "end", 3) == 0) {
    f->ends++;
    weft_spark_end(sp, NULL, 0);
  }
}

static void on_close(weft_server *s, void *user) {
  fx *f = user;
  (void)s;
  f->closed = 1;
  f->close_ms = (uv_hrtime() - f->destroy_at) / 1000000;
  uv_close((uv_handle_t *)&f->guard, NULL);
}

static void guard_fired(uv_timer_t *t) {
  fx *f = t->data;
  /* The server cannot be freed while a stream's close is pending: leave
   * it, and the loop, to the process's end. */
  f->timed_out = 1;
  weft_loop_stop(f->loop);
}

static void destroy_server(void *user) {
  fx *f = user;
  weft_destroy_options o = {sizeof(o), 0, 500};
  f->destroy_at = uv_hrtime();
  uv_timer_start(&f->guard, guard_fired, CLOSE_WITHIN_MS, 0);
  if (weft_server_destroy(f->server, &o) != 0) failf(f, __LINE__, "weft_server_destroy failed");
}

/* ---- the client side (its own thread, blocking sockets) ---- */

static int tcp_connect(int port) {
  int fd = wsc_tcp_connect(port);
  struct timeval tv = {3, 0};
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

/* The last packet of a polling payload (packets are separated by 0x1e). */
static const char *last_packet(const char *payload) {
  const char *rs = strrchr(payload, '\x1e');
  return rs ? rs + 1 : payload;
}

static void client(fx *f) {
  rbuf b = {.n = 0};
  char req[512], body[512] = "", sid[64], target[160];
  int fd = tcp_connect(f->port);
  if (fd < 0) {
    failf(f, __LINE__, "connect failed");
    return;
  }
  wsc w = {.fd = -1};
  if (send_str(fd, "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n") != 0 ||
      read_answer(fd, &b, body, sizeof(body)) != 200 ||
      sscanf(body, "0{\"sid\":\"%63[^\"]\"", sid) != 1) {
    failf(f, __LINE__, "handshake: %s", body);
    goto out;
  }
  snprintf(target, sizeof(target), "/primus/?EIO=4&transport=websocket&sid=%s", sid);
  if (wsc_connect(&w, f->port, target, NULL, NULL, 0, NULL, 0) != 101) {
    failf(f, __LINE__, "probe's upgrade refused");
    goto out;
  }
  uint8_t *p;
  size_t n;
  /* Answered: the session now keeps the probe through its close. */
  if (wsc_send_text(&w, "2probe") != 0 || wsc_recv(&w, &p, &n, NULL, 3000) != 1 || n != 6 ||
      memcmp(p, "3probe", 6) != 0) {
    failf(f, __LINE__, "no 3probe");
    goto out;
  }
  snprintf(req, sizeof(req),
           "POST /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 6\r\n\r\n4\"end\"",
           sid);
  if (send_str(fd, req) != 0 || read_answer(fd, &b, body, sizeof(body)) != 200 ||
      strcmp(body, "ok") != 0) {
    failf(f, __LINE__, "post: %s", body);
    goto out;
  }
  /* Answered from its seal, which finishes the session and aborts the probe. */
  snprintf(req, sizeof(req),
           "GET /primus/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", sid);
  if (send_str(fd, req) != 0 || read_answer(fd, &b, f->poll_body, sizeof(f->poll_body)) != 200) {
    failf(f, __LINE__, "poll after the end: %s", f->poll_body);
    goto out;
  }
  int op = wsc_recv(&w, &p, &n, NULL, 3000);
  if (op != -2) failf(f, __LINE__, "the probe was not closed (%d)", op);
out:
  if (w.fd >= 0) wsc_close(&w);
  close(fd);
}

static void *client_main(void *arg) {
  fx *f = arg;
  client(f);
  weft_loop_post(f->loop, destroy_server, f);
  return NULL;
}

static void test_seal_closes_probe_then_destroy(void **state) {
  (void)state;
  fx f = {0};
  uint64_t t0 = uv_hrtime();
  assert_int_equal(weft_loop_new(&f.loop), 0);
  uv_timer_init(weft_loop_uv(f.loop), &f.guard);
  f.guard.data = &f;
  assert_int_equal(weft_server_new(f.loop, &f.server), 0);
  assert_int_equal(weft_server_set_transformer(f.server, "engine.io"), 0);
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = on_connection,
                           .disconnection = on_disconnection,
                           .data = on_data,
                           .close = on_close};
  assert_int_equal(weft_server_set_events(f.server, &ev, &f, NULL), 0);
  assert_int_equal(weft_server_listen(f.server, "ws://127.0.0.1:0/primus"), 0);
  f.port = weft_server_port(f.server);
  assert_true(f.port > 0);
  assert_int_equal(pthread_create(&f.thread, NULL, client_main, &f), 0);
  assert_int_equal(weft_loop_run(f.loop), 0);
  pthread_join(f.thread, NULL);
  unsigned long long total = (unsigned long long)((uv_hrtime() - t0) / 1000000);
  if (f.closed)
    print_message("destroy to close: %llu ms, whole test %llu ms\n", (unsigned long long)f.close_ms,
                  total);
  else
    print_message("no close event, whole test %llu ms\n", total);
  if (f.fail[0]) fail_msg("client: %s", f.fail);
  if (f.timed_out)
    fail_msg("weft_server_destroy: no close event within %d ms (a stream's close never finished)",
             CLOSE_WITHIN_MS);
  assert_true(f.closed);
  assert_int_equal(f.ends, 1);
  assert_int_equal(f.connections, 1);
  assert_int_equal(f.disconnections, 1);
  assert_string_equal(last_packet(f.poll_body), "1"); /* the close packet */
  assert_int_equal(weft_loop_close(f.loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seal_closes_probe_then_destroy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
