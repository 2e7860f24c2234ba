/*
 * engine.io load generator on libuv, the C twin of eio_load.js (whose one
 * Node process, not the server, set the pace): the wire by hand, for weft
 * (`weft serve --transformer engine.io`) and Primus on engine.io 6.6
 * (bench/peers/primus_server.js --transformer engine.io).
 *
 *   eio_load --url http://127.0.0.1:P/primus --mode polling|websocket
 *            [--conns 100] [--inflight 8] [--size 32] [--warmup 1]
 *            [--seconds 4] [--server-pid PID]
 *
 * polling:   N sessions, each with two HTTP/1.1 keep-alive connections as a
 *            browser has: one always holding a GET poll, one posting. Each
 *            session keeps K messages in flight; every echo polled queues a
 *            new message, and the queue goes out in one POST (packets
 *            separated by \x1e) whenever no POST of the session is pending.
 * websocket: N sessions, each the polling handshake, then a WebSocket
 *            (transport=websocket&sid=…), "2probe" / "3probe", "5", and K
 *            messages in flight on it in masked text frames.
 *
 * A message is Primus's: '4' + {"p":"xx…"} (--size bytes of JSON), as
 * eio_load.js sends; only packets equal to it count as echoes, and every
 * ping "2" is answered "3". Prints one JSON line like eio_load.js's:
 * {"msgs_per_s":…,"server_cpu_s":…,"msgs_per_cpu_s":…,"load_cpu":…} where
 * server_cpu_s is the server's utime + stime over the measured window
 * (--server-pid) and load_cpu this process's own CPU time over the window
 * as a fraction of one CPU (near 1.0: the load generator is the limit).
 * The idle mode stays in eio_load.js.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "proc_cpu.h"
#include "ws_frames.h"

enum { POLLING, WEBSOCKET };
enum { MAX_PONGS = 16 };     /* pongs carried by one POST; more wait for the next */
enum { SETUP_SECONDS = 30 }; /* every session open and carrying its messages */

struct session;

typedef struct hconn { /* one HTTP/1.1 connection (or the WebSocket after its 101) */
  uv_tcp_t tcp;
  uv_connect_t creq;
  struct session *s;
  uint8_t *in;
  size_t in_len, in_cap;
  int ws;
  void (*on_ready)(struct hconn *);
  void (*on_response)(struct hconn *, int status, const uint8_t *body, size_t len);
} hconn;

typedef struct session {
  struct bench *b;
  hconn get, post; /* websocket mode: the handshake's, and the WebSocket */
  int to_send, pongs, posting, probed;
  char poll[512]; /* the GET poll request, sid included */
  size_t poll_len;
  char target[384]; /* path?EIO=4&transport=polling&sid=… */
  char *out;        /* a POST being built */
} session;

typedef struct bench {
  uv_loop_t *loop;
  struct sockaddr_in addr;
  char host[64], path[256];
  int port, mode, nconns, inflight, size, server_pid;
  double seconds, warmup;
  char *msg, *msgs; /* the message; `inflight` of them joined by \x1e */
  size_t msg_len, post_cap;
  uint8_t *frames, pong_frame[16]; /* `inflight` masked frames of the message */
  size_t frame_len, pong_len;
  int ready, failed, measuring;
  uint64_t echoes, t0;
  double cpu0, server0;
  uv_timer_t timer;
  session *sessions;
} bench;

static void fail(bench *b, const char *fmt, ...) {
  if (b->failed) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("eio_load: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  b->failed = 1;
  uv_stop(b->loop);
}

typedef struct pending {
  uv_write_t req;
  char data[];
} pending;

static void on_written(uv_write_t *w, int status) {
  (void)status; /* a broken connection shows up as a read error */
  free(w);
}

/* Writes now what the socket takes, and queues a copy of the rest (libuv
 * refuses uv_try_write while anything is queued, so the order holds). */
static void put(hconn *c, const void *p, size_t n) {
  uv_buf_t buf = uv_buf_init((char *)p, (unsigned)n);
  int w = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (w == UV_EAGAIN) w = 0;
  if (w < 0) {
    fail(c->s->b, "write: %s", uv_strerror(w));
    return;
  }
  if ((size_t)w == n) return;
  pending *q = malloc(sizeof(*q) + n - (size_t)w);
  memcpy(q->data, (const char *)p + w, n - (size_t)w);
  buf = uv_buf_init(q->data, (unsigned)(n - (size_t)w));
  uv_write(&q->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
}

/* A masked client text frame of payload p[0..n), n < 65536, into dst. */
static size_t mask_frame(uint8_t *dst, int op, const char *p, size_t n) {
  static const uint8_t mask[4] = {0x5a, 0x17, 0xc3, 0x81};
  size_t h = 0;
  dst[h++] = (uint8_t)(0x80 | op);
  if (n < 126) {
    dst[h++] = (uint8_t)(0x80 | n);
  } else {
    dst[h++] = 0x80 | 126;
    dst[h++] = (uint8_t)(n >> 8);
    dst[h++] = (uint8_t)n;
  }
  memcpy(dst + h, mask, 4);
  h += 4;
  for (size_t i = 0; i < n; i++)
    dst[h + i] = (uint8_t)p[i] ^ mask[i & 3];
  return h + n;
}

/* ---- polling */

/* One POST with the pongs and messages waiting, unless one is pending
 * (engine.io closes a session on overlapping POSTs). */
static void flush(session *s) {
  bench *b = s->b;
  if (s->posting || (!s->to_send && !s->pongs)) return;
  int pongs = s->pongs < MAX_PONGS ? s->pongs : MAX_PONGS;
  int msgs = s->to_send < b->inflight ? s->to_send : b->inflight;
  size_t mlen = msgs ? (size_t)msgs * (b->msg_len + 1) - 1 : 0;
  size_t blen = (size_t)pongs * 2 + mlen - (pongs && !msgs ? 1 : 0);
  int h = snprintf(s->out, 512,
                   "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   s->target, b->host, b->port, blen);
  char *p = s->out + h;
  for (int i = 0; i < pongs; i++) {
    *p++ = '3';
    *p++ = '\x1e';
  }
  memcpy(p, b->msgs, mlen);
  put(&s->post, s->out, (size_t)h + blen);
  s->pongs -= pongs;
  s->to_send -= msgs;
  s->posting = 1;
}

static void on_posted(hconn *c, int status, const uint8_t *body, size_t len) {
  session *s = c->s;
  if (status != 200) {
    fail(s->b, "POST answered %d: %.*s", status, (int)(len < 200 ? len : 200), body);
    return;
  }
  s->posting = 0;
  flush(s);
}

static void on_polled(hconn *c, int status, const uint8_t *body, size_t len) {
  session *s = c->s;
  bench *b = s->b;
  if (status != 200) {
    fail(b, "poll answered %d: %.*s", status, (int)(len < 200 ? len : 200), body);
    return;
  }
  put(&s->get, s->poll, s->poll_len); /* a poll always held */
  const uint8_t *p = body, *end = body + len;
  while (p < end) {
    const uint8_t *q = memchr(p, 0x1e, (size_t)(end - p));
    if (!q) q = end;
    size_t n = (size_t)(q - p);
    if (n == b->msg_len && memcmp(p, b->msg, n) == 0) {
      if (b->measuring) b->echoes++;
      s->to_send++;
    } else if (n == 1 && p[0] == '2') {
      s->pongs++;
    } else if (n >= 1 && p[0] == '1') {
      fail(b, "the server closed a session");
      return;
    }
    p = q + 1;
  }
  flush(s);
}

static void start_timer(bench *b);

static void on_post_ready(hconn *c) {
  session *s = c->s;
  s->get.on_response = on_polled;
  s->post.on_response = on_posted;
  put(&s->get, s->poll, s->poll_len);
  s->to_send = s->b->inflight;
  flush(s);
  start_timer(s->b);
}

/* ---- websocket */

static void on_ws_ready(hconn *c) {
  session *s = c->s;
  bench *b = s->b;
  char req[768];
  int n =
      snprintf(req, sizeof(req),
               "GET %s?EIO=4&transport=websocket&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
               b->path, strstr(s->target, "&sid=") + 5, b->host, b->port);
  put(c, req, (size_t)n);
}

static void on_upgraded(hconn *c, int status, const uint8_t *body, size_t len) {
  uint8_t f[16];
  (void)body;
  (void)len;
  if (status != 101) {
    fail(c->s->b, "WebSocket upgrade answered %d", status);
    return;
  }
  c->ws = 1;
  put(c, f, mask_frame(f, 1, "2probe", 6));
}

static void send_msgs(hconn *c, size_t n) {
  bench *b = c->s->b;
  while (n > 0) {
    size_t k = n < (size_t)b->inflight ? n : (size_t)b->inflight;
    put(c, b->frames, k * b->frame_len);
    n -= k;
  }
}

/* Frames from p[0..n); returns the bytes used. */
static size_t ws_input(hconn *c, const uint8_t *p, size_t n) {
  session *s = c->s;
  bench *b = s->b;
  size_t off = 0, fl, echoes = 0;
  int op;
  const uint8_t *pl;
  uint64_t plen;
  while ((fl = ws_frame(p + off, n - off, &op, &pl, &plen)) > 0) {
    off += fl;
    if (op == 8) {
      fail(b, "the server closed a WebSocket");
      return off;
    }
    if (op == 9 && plen < 126) { /* a WebSocket ping (engine.io's are packets) */
      uint8_t f[140];
      put(c, f, mask_frame(f, 10, (const char *)pl, (size_t)plen));
      continue;
    }
    if (op != 1) continue;
    if (plen == b->msg_len && memcmp(pl, b->msg, plen) == 0) {
      echoes++;
    } else if (plen == 1 && pl[0] == '2') {
      put(c, b->pong_frame, b->pong_len);
    } else if (!s->probed && plen == 6 && memcmp(pl, "3probe", 6) == 0) {
      uint8_t f[16];
      s->probed = 1;
      put(c, f, mask_frame(f, 1, "5", 1));
      send_msgs(c, (size_t)b->inflight);
      start_timer(b);
    } else if (plen >= 1 && pl[0] == '1') {
      fail(b, "the server closed a session");
      return off;
    }
  }
  if (echoes) {
    if (b->measuring) b->echoes += echoes;
    send_msgs(c, echoes);
  }
  return off;
}

/* ---- HTTP */

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  hconn *c = h->data;
  (void)sz;
  if (c->in_cap - c->in_len < 65536) {
    c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
    c->in = realloc(c->in, c->in_cap);
  }
  *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* One whole response at p[0..n): its size, its status and body; 0 when
 * incomplete, -1 when not understood. */
static long response(const uint8_t *p, size_t n, int *status, const uint8_t **body, size_t *len) {
  const uint8_t *end = memmem(p, n, "\r\n\r\n", 4);
  if (!end) return 0;
  if (n < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0) return -1;
  *status = atoi((const char *)p + 9);
  size_t clen = 0;
  for (const uint8_t *l = (const uint8_t *)memchr(p, '\n', (size_t)(end + 2 - p)) + 1; l < end;) {
    const uint8_t *e = memchr(l, '\n', (size_t)(end + 2 - l));
    if (e - l > 15 && strncasecmp((const char *)l, "content-length:", 15) == 0)
      clen = strtoul((const char *)l + 15, NULL, 10);
    else if (e - l > 18 && strncasecmp((const char *)l, "transfer-encoding:", 18) == 0)
      return -1; /* neither server chunks its answers */
    l = e + 1;
  }
  size_t h = (size_t)(end - p) + 4;
  if (*status == 101) clen = 0;
  if (n - h < clen) return 0;
  *body = p + h;
  *len = clen;
  return (long)(h + clen);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  hconn *c = st->data;
  bench *b = c->s->b;
  (void)buf;
  if (n < 0) {
    fail(b, "a connection closed: %s", uv_strerror((int)n));
    return;
  }
  c->in_len += (size_t)n;
  size_t off = 0;
  while (!c->ws && !b->failed) {
    int status;
    const uint8_t *body;
    size_t len;
    long r = response(c->in + off, c->in_len - off, &status, &body, &len);
    if (r < 0) fail(b, "an HTTP response not understood");
    if (r <= 0) break;
    off += (size_t)r;
    c->on_response(c, status, body, len);
  }
  if (c->ws && !b->failed) off += ws_input(c, c->in + off, c->in_len - off);
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
}

static void on_connect(uv_connect_t *req, int status) {
  hconn *c = req->data;
  if (status < 0) {
    fail(c->s->b, "connect: %s", uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  c->on_ready(c);
}

static void dial(session *s, hconn *c, void (*on_ready)(hconn *)) {
  c->s = s;
  c->on_ready = on_ready;
  uv_tcp_init(s->b->loop, &c->tcp);
  c->tcp.data = c;
  c->creq.data = c;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&s->b->addr, on_connect);
  if (rc) fail(s->b, "connect: %s", uv_strerror(rc));
}

static void on_handshake(hconn *c, int status, const uint8_t *body, size_t len) {
  session *s = c->s;
  bench *b = s->b;
  const char *key = "\"sid\":\"";
  const uint8_t *p = status == 200 && len > 1 && body[0] == '0' ? memmem(body, len, key, 7) : NULL;
  const uint8_t *e = p ? memchr(p + 7, '"', len - (size_t)(p + 7 - body)) : NULL;
  if (!e || e - (p + 7) > 100) {
    fail(b, "handshake answered %d: %.*s", status, (int)(len < 200 ? len : 200), body);
    return;
  }
  snprintf(s->target, sizeof(s->target), "%s?EIO=4&transport=polling&sid=%.*s", b->path,
           (int)(e - (p + 7)), (const char *)p + 7);
  if (b->mode == WEBSOCKET) {
    uv_close((uv_handle_t *)&c->tcp, NULL); /* idle until the server's keep-alive timeout */
    dial(s, &s->post, on_ws_ready);
    s->post.on_response = on_upgraded;
    return;
  }
  s->poll_len = (size_t)snprintf(s->poll, sizeof(s->poll), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                                 s->target, b->host, b->port);
  dial(s, &s->post, on_post_ready);
}

static void on_get_ready(hconn *c) {
  bench *b = c->s->b;
  char req[512];
  int n =
      snprintf(req, sizeof(req), "GET %s?EIO=4&transport=polling HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
               b->path, b->host, b->port);
  c->on_response = on_handshake;
  put(c, req, (size_t)n);
}

/* ---- measuring */

static void on_timer(uv_timer_t *t) {
  bench *b = t->data;
  if (!b->measuring) {
    b->measuring = 1;
    b->echoes = 0;
    b->t0 = uv_hrtime();
    b->cpu0 = cpu_seconds();
    b->server0 = b->server_pid ? proc_cpu_seconds(b->server_pid) : -1;
    uv_timer_start(t, on_timer, (uint64_t)(b->seconds * 1000), 0);
    return;
  }
  double secs = (double)(uv_hrtime() - b->t0) / 1e9;
  double load = (cpu_seconds() - b->cpu0) / secs;
  double server = b->server0 >= 0 ? proc_cpu_seconds(b->server_pid) - b->server0 : 0;
  printf("{\"msgs_per_s\":%.0f,\"server_cpu_s\":%.2f", (double)b->echoes / secs, server);
  if (server > 0) printf(",\"msgs_per_cpu_s\":%.0f", (double)b->echoes / server);
  printf(",\"load_cpu\":%.2f}\n", load);
  fflush(stdout);
  uv_stop(b->loop);
}

static void on_setup_timeout(uv_timer_t *t) {
  bench *b = t->data;
  fail(b, "%d of %d sessions set up after %d s", b->ready, b->nconns, SETUP_SECONDS);
}

/* The warm-up starts once every session carries its messages (the timer
 * until then is the setup's deadline). */
static void start_timer(bench *b) {
  if (++b->ready == b->nconns) uv_timer_start(&b->timer, on_timer, (uint64_t)(b->warmup * 1000), 0);
}

/* http://HOST:PORT/PATH; the path gets the trailing slash engine.io's
 * clients add. */
static int parse_url(bench *b, const char *url) {
  const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
  const char *colon = p ? strchr(p, ':') : NULL;
  if (!colon || colon - p >= (long)sizeof(b->host)) return -1;
  memcpy(b->host, p, (size_t)(colon - p));
  b->host[colon - p] = '\0';
  char *rest;
  b->port = (int)strtol(colon + 1, &rest, 10);
  if (b->port <= 0 || b->port > 65535 || (*rest && *rest != '/')) return -1;
  size_t n = strlen(rest);
  if (n + 2 > sizeof(b->path)) return -1;
  snprintf(b->path, sizeof(b->path), "%s%s", *rest ? rest : "/",
           n > 0 && rest[n - 1] != '/' ? "/" : "");
  const char *ip = strcmp(b->host, "localhost") == 0 ? "127.0.0.1" : b->host;
  return uv_ip4_addr(ip, b->port, &b->addr) == 0 ? 0 : -1;
}

static void build_messages(bench *b) {
  size_t fill = b->size > 8 ? (size_t)b->size - 8 : 0;
  b->msg_len = 1 + 8 + fill; /* 4{"p":"…"} */
  b->msg = malloc(b->msg_len + 1);
  memcpy(b->msg, "4{\"p\":\"", 7);
  memset(b->msg + 7, 'x', fill);
  memcpy(b->msg + 7 + fill, "\"}", 3);
  size_t k = (size_t)b->inflight;
  b->msgs = malloc(k * (b->msg_len + 1));
  for (size_t i = 0; i < k; i++) {
    memcpy(b->msgs + i * (b->msg_len + 1), b->msg, b->msg_len);
    b->msgs[i * (b->msg_len + 1) + b->msg_len] = '\x1e';
  }
  b->post_cap = 512 + MAX_PONGS * 2 + k * (b->msg_len + 1);
  uint8_t *f = malloc(b->msg_len + 8);
  b->frame_len = mask_frame(f, 1, b->msg, b->msg_len);
  b->frames = malloc(k * b->frame_len);
  for (size_t i = 0; i < k; i++)
    memcpy(b->frames + i * b->frame_len, f, b->frame_len);
  free(f);
  b->pong_len = mask_frame(b->pong_frame, 1, "3", 1);
}

int main(int argc, char **argv) {
  bench b = {0};
  const char *url = NULL, *mode = "polling";
  b.nconns = 100;
  b.inflight = 8;
  b.size = 32;
  b.warmup = 1;
  b.seconds = 4;
  for (int i = 1; i < argc; i += 2) { /* every option takes a value */
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "eio_load: bad option %s\n", k);
      return 2;
    }
    if (strcmp(k, "--url") == 0)
      url = v;
    else if (strcmp(k, "--mode") == 0)
      mode = v;
    else if (strcmp(k, "--conns") == 0)
      b.nconns = atoi(v);
    else if (strcmp(k, "--inflight") == 0)
      b.inflight = atoi(v);
    else if (strcmp(k, "--size") == 0)
      b.size = atoi(v);
    else if (strcmp(k, "--warmup") == 0)
      b.warmup = atof(v);
    else if (strcmp(k, "--seconds") == 0)
      b.seconds = atof(v);
    else if (strcmp(k, "--server-pid") == 0)
      b.server_pid = atoi(v);
    else if (strcmp(k, "--pause") != 0) { /* eio_load.js's idle mode only */
      fprintf(stderr, "eio_load: bad option %s\n", k);
      return 2;
    }
  }
  b.mode = strcmp(mode, "polling") == 0 ? POLLING : strcmp(mode, "websocket") == 0 ? WEBSOCKET : -1;
  if (!url || parse_url(&b, url) != 0 || b.mode < 0 || b.nconns <= 0 || b.inflight <= 0 ||
      b.size < 0 || b.size > 60000 || b.seconds <= 0) {
    fprintf(stderr, "usage: eio_load --url http://127.0.0.1:PORT/PATH --mode polling|websocket "
                    "[--conns N] [--inflight K] [--size B] [--warmup S] [--seconds S] "
                    "[--server-pid PID]\n(the idle mode is eio_load.js's)\n");
    return 2;
  }
  b.loop = uv_default_loop();
  build_messages(&b);
  uv_timer_init(b.loop, &b.timer);
  b.timer.data = &b;
  uv_timer_start(&b.timer, on_setup_timeout, SETUP_SECONDS * 1000, 0);
  b.sessions = calloc((size_t)b.nconns, sizeof(session));
  for (int i = 0; i < b.nconns && !b.failed; i++) {
    session *s = &b.sessions[i];
    s->b = &b;
    s->out = malloc(b.post_cap);
    dial(s, &s->get, on_get_ready);
  }
  uv_run(b.loop, UV_RUN_DEFAULT);
  return b.failed ? 1 : 0;
}
