/* The "engine.io" transport's ops (see eio.h). */
#include "eio.h"

static const char *const schemes[] = {"ws", "wss", "http", "https", "ws+unix", "wss+unix", NULL};

const weft__transport weft__transport_eio = {
    "engine.io",
    schemes,
    1,
    1,
    {sizeof(weft__eio_listener), weft__eio_bind, weft__eio_accept, weft__eio_reject, weft__eio_stop,
     weft__eio_adopt},
    {weft__eio_dial, weft__eio_cancel},
    {weft__eio_send, weft__eio_hold_op, weft__eio_queued, weft__eio_close, weft__eio_abort,
     weft__eio_peer, weft__eio_id},
};
