/*
 * The HTTP endpoint's pending connections (those waiting for a head, a
 * body or the end of an answer; core/http/conn.c): an array where a
 * connection leaves by moving the last one into its place, walked
 * backwards by the reaper and by a stop while they abort. These tests put
 * many connections in it, take them out in every order (upgrades, peers
 * that close, answers), and check that the walks still reach each one:
 *
 * - destroy with partial heads left among upgraded connections: every
 *   partial head is closed and the close event comes;
 * - lingering answers are reaped after their deadline (2 s): with a limit
 *   of 12 connections per address, the 13th is refused while they linger
 *   and admitted once the reaper closed them.
 *
 * The clients run in a thread of their own with blocking sockets.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "failf.h"
#include "weft/weft.h"
#include "wsclient.h"

#define PARTIAL 48 /* connections that send half a head */
#define UPGRADED 16
#define PER_IP 12

typedef struct fx {
  weft_loop *loop;
  weft_server *server;
  int port;
  pthread_t thread;
  uv_timer_t guard;
  uint32_t destroy_ms; /* how long destroy waits for the sparks' closing handshakes */
  int connections, disconnections, closed, timed_out;
  char fail[512];
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
  (void)user;
  weft_spark_write(sp, msg);
}

static void on_close(weft_server *s, void *user) {
  fx *f = user;
  (void)s;
  f->closed = 1;
  uv_close((uv_handle_t *)&f->guard, NULL);
}

static void guard_fired(uv_timer_t *t) {
  fx *f = t->data;
  f->timed_out = 1; /* the server and the loop are left to the process's end */
  weft_loop_stop(f->loop);
}

static void destroy_server(void *user) {
  fx *f = user;
  weft_destroy_options o = {sizeof(o), 0, f->destroy_ms};
  uv_timer_start(&f->guard, guard_fired, f->destroy_ms + 5000, 0);
  if (weft_server_destroy(f->server, &o) != 0) failf(f, __LINE__, "weft_server_destroy failed");
}

/* ---- the client side ---- */

/* Waits up to `ms` for the peer to close `fd` (EOF or reset). */
static int closed_within(int fd, int ms) {
  char b[256];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0 || poll(&p, 1, (int)left) <= 0) return 0;
    ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return 1;
  }
}

static int send_all(int fd, const char *s) {
  size_t n = strlen(s);
  return send(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static void mixed_then_destroy(fx *f) {
  int part[PARTIAL];
  wsc ws[UPGRADED];
  int nws = 0;
  for (int i = 0; i < PARTIAL; i++)
    part[i] = -1;
  for (int i = 0; i < PARTIAL; i++) {
    part[i] = wsc_tcp_connect(f->port);
    if (part[i] < 0 || send_all(part[i], "GET /primus/?n=1 HTTP/1.1\r\nHost: x\r\n") != 0) {
      failf(f, __LINE__, "partial head %d", i);
      goto out;
    }
    /* An upgrade every third: it joins the pending ones, then leaves. */
    if (i % 3 == 2) {
      ws[nws].fd = -1;
      if (wsc_connect(&ws[nws], f->port, "/primus/?n=2", NULL, NULL, 0, NULL, 0) != 101) {
        failf(f, __LINE__, "upgrade %d", nws);
        goto out;
      }
      nws++;
    }
  }
  /* Peers that give up: their connections leave from the middle. */
  for (int i = 1; i < PARTIAL; i += 3) {
    close(part[i]);
    part[i] = -1;
  }
  for (int i = 0; i < nws; i++) {
    uint8_t *p;
    size_t n;
    if (wsc_send_text(&ws[i], "\"hi\"") != 0 || wsc_recv_data(&ws[i], &p, &n, 1, 3000) != 1 ||
        n != 4 || memcmp(p, "\"hi\"", 4) != 0)
      failf(f, __LINE__, "echo on upgraded connection %d", i);
  }
  weft_loop_post(f->loop, destroy_server, f);
  /* The stop aborts every partial head at once, while the sparks (which
   * do not answer the close here) have 3 s for their closing handshakes:
   * a partial head that the stop's walk missed would last that long. */
  for (int i = 0; i < PARTIAL; i++)
    if (part[i] >= 0 && !closed_within(part[i], 1500))
      failf(f, __LINE__, "partial head %d still open 1.5 s after destroy", i);
  for (int i = 0; i < nws; i++)
    if (!closed_within(ws[i].fd, 5000)) failf(f, __LINE__, "upgraded %d still open", i);
  if (nws != UPGRADED) failf(f, __LINE__, "%d upgrades", nws);
  nws = UPGRADED;
out:
  for (int i = 0; i < PARTIAL; i++)
    if (part[i] >= 0) close(part[i]);
  for (int i = 0; i < nws; i++)
    if (ws[i].fd >= 0) wsc_close(&ws[i]);
}

/* One answered request on a new connection that stays open (the server
 * lingers on it): returns the socket, or -1 with the status in *status. */
static int answered(fx *f, int *status) {
  int fd = wsc_tcp_connect(f->port);
  char b[512];
  *status = -1;
  if (fd < 0 || send_all(fd, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n") != 0) goto fail;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 3000) != 1) goto fail;
  ssize_t r = recv(fd, b, sizeof(b) - 1, 0);
  if (r < 12) goto fail;
  b[r] = '\0';
  *status = atoi(b + 9);
  if (*status == 404) return fd;
fail:
  if (fd >= 0) close(fd);
  return -1;
}

static void lingering_reaped(fx *f) {
  int fds[PER_IP];
  int status;
  for (int i = 0; i < PER_IP; i++)
    if ((fds[i] = answered(f, &status)) < 0) failf(f, __LINE__, "answer %d: %d", i, status);
  /* Half of the peers close: their lingering ends from the middle of the
   * array; their places are taken by new answers. */
  for (int i = 0; i < PER_IP; i += 2) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
  usleep(200 * 1000); /* the server reads their EOF */
  for (int i = 0; i < PER_IP; i += 2)
    if ((fds[i] = answered(f, &status)) < 0) failf(f, __LINE__, "answer %d again: %d", i, status);
  /* All 12 linger and count against the address: one more is refused. */
  int over = answered(f, &status);
  if (over >= 0) close(over);
  if (status != 429) failf(f, __LINE__, "13th connection while 12 linger: %d, not 429", status);
  /* The linger deadline (2 s) and the reaper's period (250 ms) pass. */
  usleep(3000 * 1000);
  wsc w = {.fd = -1};
  int up = wsc_connect(&w, f->port, "/primus/?n=3", NULL, NULL, 0, NULL, 0);
  if (up != 101) failf(f, __LINE__, "after the lingering ones were reaped: %d, not 101", up);
  if (w.fd >= 0) wsc_close(&w);
  for (int i = 0; i < PER_IP; i++)
    if (fds[i] >= 0) close(fds[i]);
  weft_loop_post(f->loop, destroy_server, f);
}

typedef struct run {
  fx *f;
  void (*client)(fx *f);
} run;

static void *client_main(void *arg) {
  run *r = arg;
  r->client(r->f);
  return NULL;
}

static void serve(fx *f, void (*client)(fx *), size_t per_ip) {
  assert_int_equal(weft_loop_new(&f->loop), 0);
  uv_timer_init(weft_loop_uv(f->loop), &f->guard);
  f->guard.data = f;
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = on_connection,
                           .disconnection = on_disconnection,
                           .data = on_data,
                           .close = on_close};
  assert_int_equal(weft_server_set_events(f->server, &ev, f, NULL), 0);
  assert_int_equal(weft_server_set_ping_interval(f->server, 0), 0);
  assert_int_equal(weft_server_set_max_connections_per_ip(f->server, per_ip), 0);
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/primus"), 0);
  f->port = weft_server_port(f->server);
  assert_true(f->port > 0);
  run r = {f, client};
  assert_int_equal(pthread_create(&f->thread, NULL, client_main, &r), 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  pthread_join(f->thread, NULL);
  if (f->fail[0]) fail_msg("client: %s", f->fail);
  if (f->timed_out) fail_msg("no close event within 5 s of destroy's own wait");
  assert_true(f->closed);
  assert_int_equal(weft_loop_close(f->loop), 0);
}

static void test_mixed_then_destroy(void **state) {
  (void)state;
  fx f = {.destroy_ms = 3000};
  serve(&f, mixed_then_destroy, 0);
  assert_int_equal(f.connections, UPGRADED);
  assert_int_equal(f.disconnections, UPGRADED);
}

static void test_lingering_reaped(void **state) {
  (void)state;
  fx f = {.destroy_ms = 500};
  serve(&f, lingering_reaped, PER_IP);
  assert_int_equal(f.connections, 1);
  assert_int_equal(f.disconnections, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mixed_then_destroy),
      cmocka_unit_test(test_lingering_reaped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
