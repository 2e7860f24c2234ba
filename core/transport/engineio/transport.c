/* The "engine.io" transport's ops (see eio.h): the connection ops serve a
 * server's sessions and a client's connections, told apart by a flag both
 * keep right after their weft__conn. */
#include "dial.h"

static const char *const schemes[] = {"ws", "wss", "http", "https", "ws+unix", "wss+unix", NULL};

static int is_client(const weft__conn *c) { return ((const eio_dconn *)(const void *)c)->client; }

static int send_op(weft__conn *c, weft__payload *p, size_t limit, size_t *queued) {
  return is_client(c) ? weft__eio_dsend_op(c, p, queued) : weft__eio_send(c, p, limit, queued);
}

static void hold_op(weft__conn *c) {
  if (is_client(c))
    weft__eio_dhold_op(c);
  else
    weft__eio_hold_op(c);
}

static size_t queued_op(const weft__conn *c, size_t *held) {
  return is_client(c) ? weft__eio_dqueued_op(c, held) : weft__eio_queued(c, held);
}

static void close_op(weft__conn *c, int code, const char *reason) {
  if (is_client(c))
    weft__eio_dclose_op(c);
  else
    weft__eio_close(c, code, reason);
}

static void abort_op(weft__conn *c) {
  if (is_client(c))
    weft__eio_dabort_op(c);
  else
    weft__eio_abort(c);
}

static const weft__http_req *peer_op(const weft__conn *c) {
  return is_client(c) ? NULL : weft__eio_peer(c);
}

static void pause_op(weft__conn *c, int on) {
  if (!is_client(c)) weft__eio_pause(c, on); /* sparks pause; clients never do */
}

static const char *id_op(const weft__conn *c) { return is_client(c) ? NULL : weft__eio_id(c); }

static weft__http_req *request_op(weft__conn *c) {
  return is_client(c) ? NULL : weft__eio_request(c);
}

const weft__transport weft__transport_eio = {
    "engine.io",
    schemes,
    1,
    1,
    {sizeof(weft__eio_listener), weft__eio_bind, weft__eio_accept, weft__eio_reject, weft__eio_stop,
     weft__eio_adopt},
    {weft__eio_dial, weft__eio_cancel},
    {send_op, hold_op, queued_op, close_op, abort_op, peer_op, pause_op, id_op, NULL, NULL,
     request_op, NULL},
    0,
    0,
};
