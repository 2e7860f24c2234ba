/* The "fast-tcp" transport's ops (see ft.h). */
#include "ft.h"

static const char *const schemes[] = {"tcp", "ipc", "tcps", NULL};

const weft__transport weft__transport_ft = {
    "fast-tcp",
    schemes,
    0,
    0,
    {sizeof(weft__ft_listener), weft__ft_bind, weft__ft_accept, weft__ft_reject, weft__ft_stop,
     weft__ft_adopt},
    {weft__ft_dial, weft__ft_cancel},
    {weft__ft_send, weft__ft_hold, weft__ft_queued, weft__ft_close, weft__ft_abort, weft__ft_peer,
     weft__ft_pause, weft__ft_id, weft__ft_encode, NULL, NULL, NULL},
    0,
    0,
};
