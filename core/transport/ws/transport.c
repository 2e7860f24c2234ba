/* The "websockets" transport's ops (see ws.h). */
#include "ws.h"

static const char *const schemes[] = {"ws", "wss", "http", "https", "ws+unix", "wss+unix", NULL};

const weft__transport weft__transport_ws = {
    "websockets",
    schemes,
    1,
    0,
    {sizeof(weft__ws_listener), weft__ws_bind, weft__ws_accept, weft__ws_reject, weft__ws_stop,
     weft__ws_adopt},
    {weft__ws_dial, weft__ws_cancel},
    {weft__ws_send, weft__ws_hold, weft__ws_queued, weft__ws_close, weft__ws_abort, weft__ws_peer,
     weft__ws_pause, NULL, NULL, NULL, weft__ws_request, weft__ws_reserve},
    0,
    0,
};
