/*
 * A TCP relay for tests on 127.0.0.1: it forwards each connection to
 * `server_port` (read at each accept, so a test can point it elsewhere),
 * can refuse new connections (`refuse`), and cuts every connection with a
 * reset (what was in flight is lost). With `sniff` set, the first
 * "primus::weft::rs::" answer a server sends through it is copied to
 * `sniffed` (connection-state recovery tests, decisions #23 and #24).
 */
#ifndef WEFT_TEST_RELAY_H
#define WEFT_TEST_RELAY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <weft/weft.h>

typedef struct pair {
  uv_tcp_t down, up; /* the client's side, the server's side */
  int open;          /* handles not yet closed */
  struct rl *rl;
} pair;

typedef struct rl { /* the relay */
  uv_tcp_t lsn;
  int server_port, port, refuse;
  pair *pairs[16];
  int n;
  int sniff;         /* copy the next recovery answer to `sniffed` */
  char sniffed[160]; /* "<r>:<id>:<token>" */
} rl;

static inline void relay_sniff(rl *r, const char *data, size_t n) {
  static const char tag[] = "primus::weft::rs::";
  for (size_t i = 0; r->sniff && i + sizeof(tag) - 1 < n; i++) {
    if (memcmp(data + i, tag, sizeof(tag) - 1) != 0) continue;
    size_t at = i + sizeof(tag) - 1, k = 0;
    while (at + k < n && data[at + k] != '"' && k + 1 < sizeof(r->sniffed))
      k++;
    memcpy(r->sniffed, data + at, k);
    r->sniffed[k] = '\0';
    r->sniff = 0;
  }
}

static inline void relay_pair_closed(uv_handle_t *h) {
  pair *p = h->data;
  if (--p->open == 0) free(p);
}

static inline void relay_pair_cut(pair *p) {
  rl *r = p->rl;
  for (int i = 0; i < r->n; i++)
    if (r->pairs[i] == p) r->pairs[i] = r->pairs[--r->n];
  /* A reset: what was in flight is lost (a plain close for a handle that
   * never connected). */
  uv_tcp_t *h[2] = {&p->down, &p->up};
  for (int i = 0; i < 2; i++)
    if (!uv_is_closing((uv_handle_t *)h[i]) && uv_tcp_close_reset(h[i], relay_pair_closed))
      uv_close((uv_handle_t *)h[i], relay_pair_closed);
}

static inline void relay_cut(rl *r) {
  while (r->n)
    relay_pair_cut(r->pairs[0]);
}

static inline void relay_alloc(uv_handle_t *h, size_t want, uv_buf_t *b) {
  (void)h;
  b->base = malloc(want);
  b->len = b->base ? want : 0;
}

static inline void relay_written(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

static inline void relay_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  pair *p = s->data;
  uv_stream_t *other =
      s == (uv_stream_t *)&p->down ? (uv_stream_t *)&p->up : (uv_stream_t *)&p->down;
  if (n > 0 && s == (uv_stream_t *)&p->up) relay_sniff(p->rl, b->base, (size_t)n);
  if (n > 0 && !uv_is_closing((uv_handle_t *)other)) {
    uv_write_t *w = malloc(sizeof(*w));
    uv_buf_t o = uv_buf_init(b->base, (unsigned)n);
    w->data = b->base;
    if (uv_write(w, other, &o, 1, relay_written)) relay_written(w, 0);
    return;
  }
  free(b->base);
  if (n < 0) relay_pair_cut(p);
}

static inline void relay_up_connected(uv_connect_t *req, int status) {
  pair *p = req->data;
  free(req);
  if (status || uv_is_closing((uv_handle_t *)&p->up)) {
    if (!uv_is_closing((uv_handle_t *)&p->up)) relay_pair_cut(p);
    return;
  }
  uv_read_start((uv_stream_t *)&p->down, relay_alloc, relay_read);
  uv_read_start((uv_stream_t *)&p->up, relay_alloc, relay_read);
}

static inline void relay_accept_cb(uv_stream_t *lsn, int status) {
  rl *r = lsn->data;
  pair *p = calloc(1, sizeof(*p));
  if (status || !p || r->n == 16) {
    free(p);
    return;
  }
  p->rl = r;
  p->open = 2;
  uv_tcp_init(lsn->loop, &p->down);
  uv_tcp_init(lsn->loop, &p->up);
  p->down.data = p->up.data = p;
  r->pairs[r->n++] = p;
  if (uv_accept(lsn, (uv_stream_t *)&p->down) || r->refuse) {
    relay_pair_cut(p);
    return;
  }
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", r->server_port, &sa);
  uv_connect_t *req = malloc(sizeof(*req));
  req->data = p;
  if (uv_tcp_connect(req, &p->up, (const struct sockaddr *)&sa, relay_up_connected)) {
    free(req);
    relay_pair_cut(p);
  }
}

/* Listens on 127.0.0.1 (a free port, in r->port). Returns 0 or a uv error. */
static inline int relay_start(rl *r, uv_loop_t *uv) {
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  int rc = uv_tcp_init(uv, &r->lsn);
  if (rc) return rc;
  r->lsn.data = r;
  if ((rc = uv_tcp_bind(&r->lsn, (const struct sockaddr *)&sa, 0)) ||
      (rc = uv_listen((uv_stream_t *)&r->lsn, 16, relay_accept_cb)))
    return rc;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_tcp_getsockname(&r->lsn, (struct sockaddr *)&ss, &len);
  r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

/* A weft client with recovery on through the relay (its URL's query
 * who=a), reconnecting after 50 to 200 ms; `data` and `recovered` with
 * `user`. NULL on error. */
static inline weft_client *relay_client(rl *r, weft_loop *loop,
                                        void (*data)(weft_client *, const weft_value *, void *),
                                        weft_client_recovery_cb recovered, void *user) {
  char url[96];
  weft_client *c;
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus?who=a", r->port);
  if (weft_client_new(loop, url, &c)) return NULL;
  weft_client_events cev = {.size = sizeof(cev), .data = data};
  if (weft_client_set_events(c, &cev, user, NULL) ||
      weft_client_set_reconnect(c, 50, 200, 1000, 1.5) ||
      weft_client_set_recovery(c, 1, recovered, user)) {
    weft_client_destroy(c);
    return NULL;
  }
  return c;
}

/* Cuts every connection and stops listening. */
static inline void relay_close(rl *r) {
  relay_cut(r);
  uv_close((uv_handle_t *)&r->lsn, NULL);
}

#endif
