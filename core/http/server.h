/*
 * The HTTP side of a server, under every framing that rides HTTP
 * (WebSocket today; engine.io and Vibe next):
 *
 *  - a site: what a server serves besides its real-time endpoint (assets,
 *    a static folder) and its policy (allowed origins, trusted proxies, the
 *    owner's own routes such as Primus's <path>/spec);
 *  - an endpoint: one listening socket, the pathname it serves, and the
 *    framing (handler) its requests go to;
 *  - a connection: a byte stream reading request heads, answering, and
 *    lingering until its answer is written; or handed to the framing,
 *    which then reads its bytes (an upgrade).
 *
 * The HTTP layer calls its handler only through the handler's ops, and its
 * owner only through the site's route hook.
 */
#ifndef WEFT__HTTP_SERVER_H
#define WEFT__HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/map.h"
#include "base/url.h"
#include "parse.h"
#include "runtime/net.h"
#include "runtime/stream.h"

struct weft__tls_ctx;
typedef struct weft__http_conn weft__http_conn;
typedef struct weft__http_endpoint weft__http_endpoint;

/* Framings that may join one endpoint besides its own (see
 * weft__http_endpoint_join). */
#define WEFT__HTTP_JOINED 3

/* ---- what a request says about its peer ---- */

/* Address texts this long and longer (up to 45 characters of IPv6) are
 * kept on the heap: IPv4 and short IPv6 ones, most peers, stay in place. */
#define WEFT__ADDR_IN 24

typedef struct weft__http_req {
  weft__http_head head; /* storage NULL when no request was read */
  char **query;         /* decoded key, value, key, value … (one block) */
  uint16_t n_query;     /* a head of 8 KiB holds at most 4096 */
  /* head is shared (heads.h): storage is the shared copy's, and only
   * weft__http_req_own makes it readable again */
  uint8_t head_shared;
  int port;
  /* The peer's address as text, after a trusted proxy's X-Forwarded-For
   * (weft__http_req_address): in `in` when it fits, else `in` is "" and
   * `out.heap` holds it; "" and NULL for none (a Unix socket's peer). */
  union {
    char in[WEFT__ADDR_IN];
    struct {
      char none;
      char *heap;
    } out;
  } addr;
} weft__http_req;

static inline const char *weft__http_req_address(const weft__http_req *r) {
  return r->addr.in[0] || !r->addr.out.heap ? r->addr.in : r->addr.out.heap;
}
/* Sets the address text (a copy). Returns 0 or WEFT_ENOMEM (the address
 * is then unchanged). */
int weft__http_req_set_address(weft__http_req *r, const char *text);
/* The stream's peer address and port into r. Returns 0 or WEFT_ENOMEM. */
int weft__http_req_peer(weft__http_req *r, weft__stream *s);
/* The same from the address the acceptor gave (no getpeername), else as
 * weft__http_req_peer. */
int weft__http_req_peer_accepted(weft__http_req *r, weft__stream *s, const weft__acceptor *a);
/* A decoded query parameter (the last when repeated), or NULL. */
const char *weft__http_req_query(const weft__http_req *r, const char *key);
/* Frees what r holds (head, query, address) and leaves it empty. */
void weft__http_req_free(weft__http_req *r);

/* ---- the site ---- */

struct weft__asset;

typedef struct weft__http_site {
  struct weft__asset *assets;
  size_t n_assets;
  char *static_dir;
  char **origins;
  size_t n_origins;
  char **proxies;
  size_t n_proxies;
  /* The owner's own answers under an endpoint's path, asked before the
   * framing for plain (not upgrade) requests: `rest` is what follows the
   * path. Returns 1 when it answered. */
  int (*route)(weft__http_conn *hc, const char *rest, void *user);
  void *route_user;
  /* One page generated on request at an exact path (GET/HEAD), before the
   * assets: the owner's metrics. NULL path: none. */
  char *page_path;
  void (*page)(weft__http_conn *hc, void *user);
  void *page_user;
  /* Answers by status (weft__http_status_index()), and who the site is
   * for, in log records. */
  uint64_t answers[16];
  struct weft_server *owner;
  /* Connection limits (0: none; max_conns 0 means below the fd limit). */
  size_t max_conns, max_per_ip, max_handshakes;
  size_t conn_cap; /* max_conns, or what the fd limit allows */
  size_t n_conns, n_handshakes;
  weft__map per_ip; /* address hash -> struct weft__ip_count chain */
} weft__http_site;

/* A new connection against the site's limits: counts it (release it with
 * weft__http_site_release) and returns 0, or the status to refuse it with
 * (503 over the connection or handshake caps, 429 over its address's). */
int weft__http_site_admit(weft__http_site *site, weft__http_conn *hc);
/* The connection is past its handshake (upgraded, answered or gone). */
void weft__http_site_handshake_done(weft__http_site *site, weft__http_conn *hc);
void weft__http_site_release(weft__http_site *site, weft__http_conn *hc);
/* The connection cap a listen sets when max_conns is 0: the soft
 * RLIMIT_NOFILE less room for the process's other descriptors. */
void weft__http_site_cap(weft__http_site *site);

int weft__http_site_add_origin(weft__http_site *site, const char *origin);
int weft__http_site_add_proxy(weft__http_site *site, const char *ip);
/* Assets and the static folder (static.c); the errors of
 * weft_server_add_asset() and weft_server_set_static_dir(). */
int weft__http_site_add_asset(weft__http_site *site, const char *path, const char *ctype,
                              const void *data, size_t len);
/* The same; `borrowed`: the data is static, served in place (not copied). */
/* The same, replacing the asset at that path when there is one. */
int weft__http_site_set_asset(weft__http_site *site, const char *path, const char *ctype,
                              const void *data, size_t len);
int weft__http_site_add_asset_ex(weft__http_site *site, const char *path, const char *ctype,
                                 const void *data, size_t len, int borrowed);
int weft__http_site_set_static_dir(weft__http_site *site, const char *dir);
void weft__http_site_free(weft__http_site *site);

/* ---- the framing behind an endpoint ---- */

typedef struct weft__http_handler {
  /* Optional, when framings share an endpoint (weft__http_endpoint_join):
   * how strongly this one claims a request (its query parsed by then): 0
   * not at all, 1 it may (a WebSocket upgrade), 2 it is its own (an
   * engine.io query). The highest claim wins, the earlier handler among
   * equals; a request nobody claims goes to the endpoint's first handler. */
  int (*claims)(const weft__http_conn *hc);
  /* A request under the endpoint's path that the site did not answer.
   * The handler answers it (weft__http_respond…, weft__http_answer…),
   * keeps it (weft__http_hold) and later answers or upgrades it, or asks
   * for its body (weft__http_read_body). */
  void (*request)(weft__http_conn *hc);
  /* Optional: the body asked for arrived whole (data may be modified; it
   * is valid during the call). The handler answers or holds the request. */
  void (*body)(weft__http_conn *hc, uint8_t *data, size_t len);
  /* Optional: a held request was marked (weft__http_mark) and this loop
   * turn's writes are about to be flushed: answer now what gathered. */
  void (*seal)(weft__http_conn *hc);
  /* The stream's ops from weft__http_upgraded() on: the handler reads the
   * bytes itself, with no HTTP dispatch in between (the stream's owner is
   * still the weft__http_conn: WEFT__CONTAINER(s, weft__http_conn, io)).
   * Its `closed` must end with weft__http_closed(). */
  weft__stream_ops upgraded;
  /* The stream closed before an upgrade; the memory is freed when this
   * returns, unless it returns nonzero (kept, as weft__http_closed). */
  int (*closed)(weft__http_conn *hc);
} weft__http_handler;

/* ---- endpoints ---- */

struct weft__http_endpoint {
  weft__acceptor acc;
  weft_loop *loop;
  weft__http_site *site;
  const weft__http_handler *handler;
  void *user; /* the handler's */
  /* Framings that joined it (weft__http_endpoint_join), after `handler`. */
  struct {
    const weft__http_handler *handler;
    void *user;
  } joined[WEFT__HTTP_JOINED];
  uint8_t n_joined;
  char path[256];
  size_t plen; /* the path's length as a prefix: 0 for "/" */
  struct weft__tls_ctx *tls;
  /* Each connection is a block of `conn_size` bytes with its
   * weft__http_conn at `conn_offset` (the framing's and its owner's parts
   * around it), zeroed. */
  size_t conn_size, conn_offset;
  /* Connections not handed over as upgraded, each at its `pidx`: an array,
   * not a list, so that an upgraded connection carries no links (only
   * the ones waiting for a head, a body or an answer are here). */
  weft__http_conn **pending;
  uint32_t n_pending, pending_cap;
  size_t n_conns;    /* every live connection */
  uv_timer_t reaper; /* deadlines of the pending ones */
  uint8_t reaper_active, stopping, timer_open, acc_open;
  /* Stopped, and every connection and handle is gone: the memory may go. */
  void (*closed)(weft__http_endpoint *ep);
};

/* Starts serving `path` at the URL's address (set site, handler, user,
 * tls, conn_size, conn_offset and closed first). Returns 0 or the error of
 * weft__acceptor_listen(); after an error the endpoint is stopping and
 * `closed` follows, as it does after weft__http_endpoint_stop(). */
/* `attached`: no listening socket (connections only come through
 * weft__http_endpoint_adopt). */
int weft__http_endpoint_open(weft__http_endpoint *ep, weft_loop *loop, const weft__url *u,
                             const char *path, unsigned unix_mode, int attached);
/* Serves an already connected stream socket as if it had been accepted
 * (socket activation, a descriptor handed over by another HTTP server; the
 * fuzz target's way in). `head` (len bytes, copied; may be NULL) was
 * already read from it and is parsed first, on the next turn of the loop.
 * `once`: the connection serves one request (answered with "Connection:
 * close") unless it upgrades. The fd is the endpoint's afterwards, even on
 * error, except for WEFT_EINVAL (not a socket) and WEFT_ESTATE. */
int weft__http_endpoint_adopt(weft__http_endpoint *ep, int fd, const void *head, size_t len,
                              int once);
/* The bound TCP port (0 for a Unix socket). */
int weft__http_endpoint_port(const weft__http_endpoint *ep);
/* Another framing serves requests at the same address and path (claims
 * decides whose each request is). Its connections share the endpoint's
 * block layout: `conn_offset` must be the endpoint's (WEFT_EINVAL), and
 * blocks grow to `conn_size` when larger. Only before the first
 * connection (WEFT_ESTATE); WEFT_ENOBUFS past WEFT__HTTP_JOINED. The
 * handler's `user` must outlive the connections routed to it. */
int weft__http_endpoint_join(weft__http_endpoint *ep, const weft__http_handler *h, void *user,
                             size_t conn_size, size_t conn_offset);
/* Stops accepting and aborts the pending connections that hold no
 * upgrade yet (reading a head, held by the handler); `hard` aborts every
 * pending one (lingering, closing too). Upgraded connections are the
 * handler's. closed follows once all are gone. */
void weft__http_endpoint_stop(weft__http_endpoint *ep, int hard);

/* ---- connections ---- */

enum {
  WEFT__HC_HEAD = 0, /* reading a request head */
  WEFT__HC_HELD,     /* the handler holds it (answering later) */
  WEFT__HC_BODY,     /* reading the body the handler asked for */
  WEFT__HC_UPGRADED, /* the handler reads its bytes */
  WEFT__HC_LINGER,   /* writing its last bytes, then closing */
  WEFT__HC_CLOSED    /* the stream is closing */
};

struct weft__http_conn {
  weft__stream io;
  weft__http_endpoint *ep;
  uint8_t state;            /* WEFT__HC_* */
  uint8_t hd;               /* whose request: 0 the endpoint's handler, i + 1 joined[i] */
  unsigned shut : 1;        /* the answer is written and the write side ended */
  unsigned counted : 1;     /* in the site's counts (released when it closes) */
  unsigned handshaking : 1; /* counted in the site's handshakes */
  unsigned reading : 1;     /* inside the stream's read (answers do not reprocess) */
  unsigned parked : 1;      /* held for a session: a soft stop leaves it */
  unsigned once : 1;        /* adopted for one request: no keep-alive */
  unsigned forever : 1;     /* pending with no deadline (held) */
  unsigned forwarded : 1;   /* req's address is a trusted proxy's X-Forwarded-For */
  unsigned body_taken : 1;  /* the request's body was read (weft__http_read_body) */
  uint32_t pidx;            /* 1 + its place in ep->pending; 0: not pending */
  uint32_t body_len;        /* WEFT__HC_BODY: the body's bytes (at most 4 GiB - 1) */
  /* While pending: the loop's clock in ms, modulo 2^32, when it is aborted
   * (deadlines are under 2^31 ms away, so the comparison survives the
   * wrap). */
  uint32_t deadline;
  struct weft__ip_count *ipc; /* its address's count, when per-address limits apply */
  weft__http_req req;
};

/* Answers with `status`: Content-Type, Length, Cache-Control: no-store,
 * CORS for an allowed Origin, and `extra` header lines ("Name: v\r\n…"). A
 * HEAD request gets no body. A 2xx keeps the connection as
 * weft__http_answer's `keep` does; any other status closes it once written
 * (Connection: close). */
void weft__http_respond(weft__http_conn *hc, int status, const char *ctype, const void *body,
                        size_t len, const char *extra);
/* The same, and when `keep` and the request allows it (HTTP/1.1 without
 * "Connection: close", the endpoint not stopping) the connection stays
 * open for the client's next request (keep-alive), which is read next —
 * unless the request came with a body that was not read (its bytes would
 * be taken for the next request).
 * The body's `len` bytes are written by fill(dst, user) straight into the
 * answer (no copy of a body built elsewhere); fill NULL: `body` is copied.
 * Returns 0, or an error after which the connection is closing. */
int weft__http_answer(weft__http_conn *hc, int status, const char *ctype, const void *body,
                      size_t len, const char *extra, int keep, void (*fill)(uint8_t *, void *),
                      void *fill_user);
/* A streaming answer (a Vibe stream, server-sent events): the head with a
 * chunked body, and the request stays held (parked) for its handler, which
 * writes chunks of the body with weft__http_chunk and ends it with
 * weft__http_chunk_end (the connection closes once written). A peer that
 * goes away ends it as a held request's (the handler's `closed`). Returns
 * 0, or an error after which the connection is closing. */
int weft__http_answer_stream(weft__http_conn *hc, int status, const char *ctype, const char *extra);
/* Queues one chunk: pre, body[0..blen) and post, unless the memory the
 * stream's queue holds would pass `limit` (WEFT_ENOBUFS, nothing queued);
 * *queued (when not NULL) gets the bytes queued. WEFT_ECLOSED when the
 * answer is over, WEFT_ENOMEM. */
int weft__http_chunk(weft__http_conn *hc, const char *pre, const void *body, size_t blen,
                     const char *post, size_t limit, size_t *queued);
void weft__http_chunk_end(weft__http_conn *hc);
/* The reason phrase of a status ("Not Found"). */
const char *weft__http_status_text(int status);
/* The statuses the site counts, and the slot of one (the last slot: any
 * other). */
extern const int weft__http_statuses[16];
size_t weft__http_status_index(int status);
/* text/plain with the status's reason phrase. */
void weft__http_respond_status(weft__http_conn *hc, int status, const char *extra);
/* A refused admission (authorization): `status` (401 unless 400..599) with
 * {"error": message}, or the status's phrase as text when message is NULL. */
void weft__http_refuse(weft__http_conn *hc, int status, const char *message);
/* application/json {"error": message} (the status's phrase when NULL). */
void weft__http_respond_error(weft__http_conn *hc, int status, const char *message);
/* The handler keeps the request for later: no deadline, still dropped
 * when the endpoint stops. */
void weft__http_hold(weft__http_conn *hc);
/* The same for a request that belongs to a session the handler ends
 * itself (a long poll): a soft stop leaves it, as it leaves upgraded
 * connections; a hard one drops it. */
void weft__http_park(weft__http_conn *hc);
/* The handler takes the byte stream over (after writing its answer): `ops`
 * (NULL: its handler's `upgraded`) replace the HTTP ones. */
void weft__http_upgraded(weft__http_conn *hc, const weft__stream_ops *ops);
/* The request's body is wanted, at most `max` bytes: the handler's `body`
 * gets it whole once it arrived (a Content-Length body; none is 0 bytes).
 * A request that says "Expect: 100-continue" is told to go on (100
 * Continue) here; a refused one gets the refusal instead. Returns 0, or
 * the status to refuse the request with: 413 (longer than max or 4 GiB,
 * nothing of it buffered), 411 (chunked, which is not read), 400 (a bad
 * or repeated Content-Length), 500 (out of memory). */
int weft__http_read_body(weft__http_conn *hc, size_t max);
/* A held request's handler wants its seal before this loop turn's flush. */
void weft__http_mark(weft__http_conn *hc);
/* The handler and its user a request was routed to. */
const weft__http_handler *weft__http_handler_of(const weft__http_conn *hc);
void *weft__http_user(const weft__http_conn *hc);
/* Moves the request (head, query, address) out to *out, for a handler
 * whose state outlives the connection (an HTTP session); the connection
 * keeps an empty one. */
void weft__http_take_req(weft__http_conn *hc, weft__http_req *out);
/* The end of an upgraded connection's `closed`: its bookkeeping, and its
 * memory unless `keep` (the owner holds the block and frees it later with
 * free() at the block's start: it was calloc'd). */
void weft__http_closed(weft__http_conn *hc, int keep);
/* Puts an upgraded connection back on the endpoint's watch: aborted after
 * `ms`, or when the endpoint stops hard; ms 0 takes it off again. */
void weft__http_deadline(weft__http_conn *hc, uint32_t ms);
/* Writes what is queued, then closes (within 2 s). */
void weft__http_linger(weft__http_conn *hc);
/* Closes now; queued bytes are dropped. */
void weft__http_abort(weft__http_conn *hc);
/* Is `token` among the comma-separated values of the header `name`? */
int weft__http_header_has(const weft__http_head *h, const char *name, const char *token);

/* site.c: the routing of one request, from conn.c; the framing's part,
 * from site.c (picks the handler, then its request). */
void weft__http_route(weft__http_conn *hc);
void weft__http_dispatch(weft__http_conn *hc);
/* conn.c: after an answer that keeps the connection, the next request. */
void weft__http_next(weft__http_conn *hc);
/* The CORS header lines for the request's Origin, into out[0..cap) ("" when
 * there is none or it is not allowed); returns their length. */
size_t weft__http_cors(const weft__http_conn *hc, char *out, size_t cap);
/* static.c: answers GET/HEAD for an asset (assets) or a file of the folder
 * (files); returns 1 when it answered. */
int weft__http_static_asset(weft__http_conn *hc);
int weft__http_static_file(weft__http_conn *hc);
void weft__http_static_free(weft__http_site *site);

#endif
