/*
 * Request heads shared between connections. After its connection event a
 * spark's request head is read again only when the application asks, and
 * most clients of one server send the same header lines but for their
 * Sec-WebSocket-Key (one app's users on one build, bots, game clients,
 * devices): a server keeps one copy of each such head, and each connection
 * keeps only its key's 16 bytes, in the head's own fields, and its request
 * line when that differs (Primus's client puts a cache-buster in every
 * URL) (decision #41).
 *
 * A shared head is unreadable through the weft__http_* accessors: its
 * fields hold the key. weft__http_req_own gives the request its own copy
 * back (the spark's accessors call it); weft__http_req_free releases it.
 */
#ifndef WEFT__HTTP_HEADS_H
#define WEFT__HTTP_HEADS_H

#include <stdint.h>

#include "base/map.h"
#include "http/server.h"

/* Only heads up to this size are shared: the pool's memory stays bounded
 * (WEFT__HEADS_MAX of them at most). */
#define WEFT__HEADS_MAX_SIZE 1024
#define WEFT__HEADS_MAX 1024
#define WEFT__HEADS_SEEN 64
/* A request keeps its own request line beside shared header lines only
 * when the table and the lines it drops are at least this many bytes. */
#define WEFT__HEADS_MIN_LINES 48

typedef struct weft__heads {
  weft__map map; /* hash -> shared head (the pool holds one reference) */
  /* Heads seen once, direct-mapped by hash: a head is shared from the
   * second time it is seen, so a server whose clients all differ (cookies,
   * cache-busting queries) pays nothing but the hash. */
  uint32_t seen[WEFT__HEADS_SEEN];
} weft__heads;

/* Shares r's header lines with the other requests that sent the same ones
 * (but for a canonical 16-byte Sec-WebSocket-Key, or none), once lines
 * like them were seen before; r keeps its request line when it differs
 * from the shared copy's. Returns 1 when r's head is now shared, 0 when r keeps its
 * own (not seen before, too large, a key that is not canonical base64,
 * the pool full of heads in use, out of memory: no error). */
int weft__heads_share(weft__heads *hs, weft__http_req *r);
/* Gives r its own copy of its head again (nothing when it has one).
 * Returns 0, or WEFT_ENOMEM with r still shared. */
int weft__http_req_own(weft__http_req *r);
/* Drops r's share of its head (weft__http_req_free calls it); r has no
 * head after it. */
void weft__http_req_unshare(weft__http_req *r);
/* Drops the pool's references: a head still shared by a request lives
 * until that request lets it go. */
void weft__heads_free(weft__heads *hs);

#endif
