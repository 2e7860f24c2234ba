/*
 * The end of a test peer server's main: run the loop until SIGINT or
 * SIGTERM, then destroy the server (its sparks closed) and close the loop.
 * Returns main's exit code (0, or 1 when the loop did not close cleanly).
 */
#ifndef WEFT_TEST_SERVE_UNTIL_SIGNAL_H
#define WEFT_TEST_SERVE_UNTIL_SIGNAL_H

#include <uv.h>
#include <weft/weft.h>

typedef struct weft_test_signals {
  uv_signal_t sigint, sigterm;
  weft_server *server;
} weft_test_signals;

static void weft_test_on_signal(uv_signal_t *h, int signum) {
  weft_test_signals *g = h->data;
  (void)signum;
  uv_close((uv_handle_t *)&g->sigint, NULL);
  uv_close((uv_handle_t *)&g->sigterm, NULL);
  weft_server_destroy(g->server, NULL);
}

static inline int weft_test_serve_until_signal(weft_loop *loop, weft_server *server) {
  weft_test_signals g = {.server = server};
  uv_loop_t *uv = weft_loop_uv(loop);
  uv_signal_init(uv, &g.sigint);
  uv_signal_init(uv, &g.sigterm);
  g.sigint.data = g.sigterm.data = &g;
  uv_signal_start(&g.sigint, weft_test_on_signal, SIGINT);
  uv_signal_start(&g.sigterm, weft_test_on_signal, SIGTERM);
  weft_loop_run(loop);
  return weft_loop_close(loop) == 0 ? 0 : 1;
}

#endif
