/*
 * Load generator for Vibe servers on libuv (weft `--transformer vibe --mode
 * echo`, or bench/peers/vibe_server.js): N sockets over one transport, each
 * keeping K "echo" events in flight; every echo sends a new one. It speaks
 * what the reference client (vibe-protocol 3.0.0-Alpha9 on Node 20, as
 * bench/vibe_load.js drives it) puts on the wire, byte for byte where the
 * server can tell:
 *  - ws: the `ws` 0.6.5 upgrade (Origin, and the offer "permessage-deflate;
 *    client_max_window_bits"); when the server accepts, every event is
 *    deflated and every answer inflated, with the context kept across
 *    messages unless the server's answer says otherwise, as `ws` does;
 *  - httpstream: GET ?transport=stream&when=open read as the event stream
 *    ("data: …\n\n", the padding skipped; "?id=" then the handshake);
 *  - httplongpoll: GET ?when=open ("?id="), then GET ?when=poll&id=, the
 *    next one sent as soon as an answer with a body arrives;
 *  - both HTTP transports POST "data=<event>" with ?id= and the reference's
 *    headers. Every request goes through one pool of HTTP/1.1 keep-alive
 *    connections shared by all sockets (Node 20's global agent: keep-alive,
 *    no limit on sockets, one request at a time per connection, the
 *    connection freed last used first; Node also closes one left idle for
 *    5 s, which a saturated run never does); an answer that says
 *    "Connection: close" (or has no length) closes its connection. A POST
 *    whose connection fails before any answer is sent again (the reference
 *    does so while the socket is open).
 * Events are {"id":"<n>","type":"echo","data":"x…x"(32),"reply":false}, ids
 * counted per socket from 0; the handshake's heartbeat is honoured (a
 * "heartbeat" event `heartbeat - _heartbeat` ms after the handshake or the
 * last echoed one; none echoed within `_heartbeat` ms fails the run).
 * Each event, over ws too, leaves in its own write, as the Node client's.
 *
 *   vibe_load --url http://127.0.0.1:P/vibe --transport ws|httpstream|httplongpoll
 *             [--conns 20] [--inflight 8] [--warmup 1] [--seconds 4] [--server-pid PID]
 *
 * Prints one JSON line: {"events_per_s":…, "server_cpu_s":…,
 * "events_per_cpu_s":…, "load_cpu":…}; load_cpu is this process's CPU time
 * over the measured window as a fraction of one core (near 1.0: the load
 * generator, not the server, was the limit). Anything unexpected (a socket
 * closed, a refused upgrade, a heartbeat not echoed) ends it with status 1
 * and a line on stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>
#include <zlib.h>

#include "proc_cpu.h"
#include "ws_frames.h"

enum { T_WS, T_STREAM, T_LONGPOLL };
/* What a connection carries: nothing (idle in the pool), a WebSocket, a
 * socket's opening GET, a poll, a POST. */
enum { R_IDLE, R_WS, R_OPEN, R_POLL, R_POST };
/* Where the answer's reader is. */
enum { H_HEAD, H_LEN, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_CRLF, H_TRAILER, H_EOF, H_FRAMES };

typedef struct buf {
  char *p;
  size_t len, cap;
} buf;

typedef struct hconn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  struct bench *b;
  struct sock *s; /* whose request it carries (NULL: idle) */
  int kind, state, connected, keep, got;
  size_t left;        /* body bytes to come (H_LEN, H_CHUNK_DATA) */
  buf in, body, req;  /* req: the request, kept to send a POST again */
  struct hconn *next; /* the pool's idle ones */
} hconn;

typedef struct sock {
  struct bench *b;
  hconn *c; /* ws: its connection */
  char id[64];
  int opened, hb_waiting;
  double heartbeat, wait; /* ms, from the handshake */
  uint64_t next_id;
  uv_timer_t hb;
  buf sse, out;  /* the event stream's text; ws: frames to write */
  buf zin, zout; /* ws: an inflated answer, a deflated event */
  int pmd, def_reset, inf_reset;
  z_stream def, inf;
} sock;

typedef struct bench {
  uv_loop_t *loop;
  int transport, nconns, inflight, server_pid, opened, measuring;
  double warmup, seconds, cpu_from, server_from;
  uint64_t events, t0, rng;
  char host[256], hosthdr[300], path[1024]; /* path: the URL's, query included */
  struct sockaddr_storage addr;
  hconn *idle;
  sock *socks;
  uv_timer_t timer;
} bench;

static const char payload[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; /* 32 bytes, as vibe_load.js */

static void die(const char *what) {
  fprintf(stderr, "vibe_load: %s\n", what);
  fflush(stderr);
  exit(1);
}

static void buf_reserve(buf *b, size_t n) {
  if (b->cap - b->len >= n) return;
  size_t c = b->cap ? b->cap : 256;
  while (c - b->len < n)
    c *= 2;
  char *p = realloc(b->p, c);
  if (!p) die("out of memory");
  b->p = p;
  b->cap = c;
}

static void buf_put(buf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void buf_drop(buf *b, size_t n) {
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
}

static uint64_t rnd(bench *b) { /* xorshift64: masks and keys, nothing secret */
  b->rng ^= b->rng << 13;
  b->rng ^= b->rng >> 7;
  b->rng ^= b->rng << 17;
  return b->rng;
}

/* ---- writing ---- */

static void on_write(uv_write_t *w, int status) {
  (void)status; /* a failed write shows as a failed read */
  free(w);
}

static void write_bytes(hconn *c, const char *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (w < 0) w = 0;
  if ((size_t)w == n) return;
  uv_write_t *req = malloc(sizeof(*req) + n - (size_t)w);
  if (!req) die("out of memory");
  memcpy(req + 1, p + w, n - (size_t)w);
  b = uv_buf_init((char *)(req + 1), (unsigned)(n - (size_t)w));
  if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) free(req);
}

/* ---- connections and the keep-alive pool ---- */

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *ub);

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *out) {
  hconn *c = h->data;
  (void)sz;
  buf_reserve(&c->in, 65536);
  *out = uv_buf_init(c->in.p + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void on_connect(uv_connect_t *r, int status) {
  hconn *c = r->data;
  if (status < 0) die(uv_strerror(status));
  c->connected = 1;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (c->req.len) write_bytes(c, c->req.p, c->req.len);
}

static hconn *conn_new(bench *b) {
  hconn *c = calloc(1, sizeof(*c));
  if (!c) die("out of memory");
  c->b = b;
  uv_tcp_init(b->loop, &c->tcp);
  c->tcp.data = c;
  c->creq.data = c;
  if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&b->addr, on_connect) != 0)
    die("connect");
  return c;
}

static void on_closed(uv_handle_t *h) {
  hconn *c = h->data;
  free(c->in.p);
  free(c->body.p);
  free(c->req.p);
  free(c);
}

static void conn_close(hconn *c) {
  bench *b = c->b;
  for (hconn **p = &b->idle; *p; p = &(*p)->next)
    if (*p == c) {
      *p = c->next;
      break;
    }
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* One request of socket s: on an idle connection (the last freed), else a
 * new one. */
static void send_req(bench *b, sock *s, int kind, const char *req, size_t len) {
  hconn *c = b->idle;
  if (c)
    b->idle = c->next;
  else
    c = conn_new(b);
  c->s = s;
  c->kind = kind;
  c->state = H_HEAD;
  c->got = 0;
  c->req.len = 0;
  buf_put(&c->req, req, len);
  if (c->connected) write_bytes(c, req, len);
}

static void send_get(sock *s, int kind, const char *when) {
  bench *b = s->b;
  char req[1536];
  int n = snprintf(req, sizeof(req),
                   "GET %s&when=%s%s%s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n",
                   b->path, when, s->id[0] ? "&id=" : "", s->id, b->hosthdr);
  if (n <= 0 || (size_t)n >= sizeof(req)) die("URL too long");
  send_req(b, s, kind, req, (size_t)n);
}

/* ---- events ---- */

static void ws_frame_out(sock *s, int op, const char *p, size_t n);

static void ws_flush(sock *s) {
  if (!s->out.len) return;
  write_bytes(s->c, s->out.p, s->out.len);
  s->out.len = 0;
}

static void send_event(sock *s, const char *type, const char *data) {
  bench *b = s->b;
  char ev[256], req[2048];
  int n = snprintf(ev, sizeof(ev), "{\"id\":\"%llu\",\"type\":\"%s\"%s%s%s,\"reply\":false}",
                   (unsigned long long)s->next_id++, type, data ? ",\"data\":\"" : "",
                   data ? data : "", data ? "\"" : "");
  if (b->transport == T_WS) { /* one write per event, as the reference's */
    ws_frame_out(s, 1, ev, (size_t)n);
    ws_flush(s);
    return;
  }
  int k = snprintf(req, sizeof(req),
                   "POST %s&id=%s HTTP/1.1\r\ncontent-type: text/plain; charset=utf-8\r\n"
                   "Host: %s\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\ndata=%s",
                   b->path, s->id, b->hosthdr, n + 5, ev);
  if (k <= 0 || (size_t)k >= sizeof(req)) die("URL too long");
  send_req(b, s, R_POST, req, (size_t)k);
}

static void on_measured(uv_timer_t *t);

static void on_warm(uv_timer_t *t) {
  bench *b = t->data;
  b->measuring = 1;
  b->events = 0;
  b->t0 = uv_hrtime();
  b->cpu_from = cpu_seconds();
  b->server_from = b->server_pid ? proc_cpu_seconds(b->server_pid) : -1;
  uv_timer_start(t, on_measured, (uint64_t)(b->seconds * 1000), 0);
}

static void on_measured(uv_timer_t *t) {
  bench *b = t->data;
  double secs = (double)(uv_hrtime() - b->t0) / 1e9;
  double load = (cpu_seconds() - b->cpu_from) / secs;
  double server = b->server_from >= 0 ? proc_cpu_seconds(b->server_pid) - b->server_from : 0;
  char per_cpu[32] = "null";
  if (server > 0) snprintf(per_cpu, sizeof(per_cpu), "%.0f", (double)b->events / server);
  printf(
      "{\"events_per_s\":%.0f,\"server_cpu_s\":%.2f,\"events_per_cpu_s\":%s,\"load_cpu\":%.2f}\n",
      (double)b->events / secs, server, per_cpu, load);
  fflush(stdout);
  exit(0); /* as vibe_load.js: the sockets go with the process */
}

static void on_heartbeat(uv_timer_t *t) {
  sock *s = t->data;
  if (s->hb_waiting) die("heartbeat not echoed");
  s->hb_waiting = 1;
  send_event(s, "heartbeat", NULL);
  if (s->b->transport == T_WS) ws_flush(s);
  uv_timer_start(&s->hb, on_heartbeat, (uint64_t)s->wait, 0);
}

static void heartbeat_again(sock *s) {
  s->hb_waiting = 0;
  double ms = s->heartbeat - s->wait;
  uv_timer_start(&s->hb, on_heartbeat, ms > 0 ? (uint64_t)ms : 0, 0);
}

/* A query parameter of "?a=1&b=2" text (not NUL-terminated) as a whole
 * number (0: none). */
static double param(const char *text, size_t n, const char *key) {
  size_t k = strlen(key);
  for (size_t i = 0; i + k + 1 < n; i++)
    if ((text[i] == '?' || text[i] == '&') && memcmp(text + i + 1, key, k) == 0 &&
        text[i + 1 + k] == '=') {
      double v = 0;
      for (size_t j = i + 2 + k; j < n && text[j] >= '0' && text[j] <= '9'; j++)
        v = v * 10 + (text[j] - '0');
      return v;
    }
  return 0;
}

static void all_open(bench *b) {
  for (int i = 0; i < b->nconns; i++)
    for (int k = 0; k < b->inflight; k++)
      send_event(&b->socks[i], "echo", payload);
  if (b->transport == T_WS)
    for (int i = 0; i < b->nconns; i++)
      ws_flush(&b->socks[i]);
  uv_timer_start(&b->timer, on_warm, (uint64_t)(b->warmup * 1000), 0);
}

/* The end of the JSON value at p[i] (strings and nesting skipped). */
static size_t skip_value(const char *p, size_t i, size_t n) {
  int depth = 0;
  for (; i < n; i++) {
    char ch = p[i];
    if (ch == '"') {
      for (i++; i < n && p[i] != '"'; i++)
        if (p[i] == '\\') i++;
      if (depth == 0) return i + 1;
    } else if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      if (depth == 0) return i;
      if (--depth == 0) return i + 1;
    } else if (ch == ',' && depth == 0) {
      return i;
    }
  }
  return n;
}

static size_t skip_ws(const char *p, size_t i, size_t n) {
  while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
    i++;
  return i;
}

/* The event's "type" (a top-level string member, escapes left as they are);
 * 0 when it has none. */
static int event_type(const char *p, size_t n, const char **t, size_t *tn) {
  size_t i = skip_ws(p, 0, n);
  if (i >= n || p[i] != '{') return 0;
  for (i++;;) {
    i = skip_ws(p, i, n);
    if (i >= n || p[i] != '"') return 0;
    size_t k = i + 1, e = skip_value(p, i, n);
    size_t klen = e - k - 1;
    i = skip_ws(p, e, n);
    if (i >= n || p[i] != ':') return 0;
    i = skip_ws(p, i + 1, n);
    if (klen == 4 && memcmp(p + k, "type", 4) == 0 && i < n && p[i] == '"') {
      size_t v = skip_value(p, i, n);
      *t = p + i + 1;
      *tn = v - i - 2;
      return 1;
    }
    i = skip_ws(p, skip_value(p, i, n), n);
    if (i >= n || p[i] != ',') return 0;
    i++;
  }
}

/* One message of the socket's transport. */
static void on_text(sock *s, const char *text, size_t n) {
  bench *b = s->b;
  if (!s->opened) {
    if (b->transport == T_STREAM && !s->id[0]) { /* "?id=<id>" first */
      if (n < 5 || n - 4 >= sizeof(s->id) || memcmp(text, "?id=", 4) != 0) die("no id");
      memcpy(s->id, text + 4, n - 4);
      s->id[n - 4] = '\0';
      return;
    }
    s->heartbeat = param(text, n, "heartbeat");
    s->wait = param(text, n, "_heartbeat");
    if (!s->wait) s->wait = 5000;
    s->opened = 1;
    heartbeat_again(s);
    if (++b->opened == b->nconns) all_open(b);
    return;
  }
  const char *t;
  size_t tn;
  if (!event_type(text, n, &t, &tn)) die("an event without a type");
  if (tn == 4 && memcmp(t, "echo", 4) == 0) {
    if (b->measuring) b->events++;
    send_event(s, "echo", payload);
  } else if (tn == 9 && memcmp(t, "heartbeat", 9) == 0) {
    heartbeat_again(s);
  }
}

/* ---- HTTP answers ---- */

/* The value of header `name` in the head p[0..n) into v (NUL-terminated);
 * 0 when absent. */
static int header(const char *p, size_t n, const char *name, char *v, size_t cap) {
  size_t k = strlen(name);
  for (const char *l = memchr(p, '\n', n); l && (size_t)(l - p) + 1 < n;
       l = memchr(l + 1, '\n', n - (size_t)(l + 1 - p))) {
    const char *h = l + 1;
    size_t rest = n - (size_t)(h - p);
    if (rest > k && h[k] == ':' && strncasecmp(h, name, k) == 0) {
      const char *a = h + k + 1, *e = memchr(a, '\r', rest - k - 1);
      if (!e) e = p + n;
      while (a < e && *a == ' ')
        a++;
      size_t len = (size_t)(e - a) < cap - 1 ? (size_t)(e - a) : cap - 1;
      memcpy(v, a, len);
      v[len] = '\0';
      return 1;
    }
  }
  return 0;
}

/* The event stream's text (what the reference client does: whitespace
 * before a message skipped, messages end at "\n\n", "data: " cut). */
static void sse_feed(sock *s, const char *p, size_t n) {
  if (!s->sse.len)
    while (n && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
      p++;
      n--;
    }
  buf_put(&s->sse, p, n);
  size_t off = 0;
  for (;;) {
    char *e = memmem(s->sse.p + off, s->sse.len - off, "\n\n", 2);
    if (!e) break;
    size_t len = (size_t)(e - (s->sse.p + off));
    if (len < 6) die("an event-stream message without data");
    on_text(s, s->sse.p + off + 6, len - 6);
    off += len + 2;
    off = skip_ws(s->sse.p, off, s->sse.len);
  }
  buf_drop(&s->sse, off);
}

static void body_data(hconn *c, const char *p, size_t n) {
  if (c->kind == R_OPEN && c->b->transport == T_STREAM)
    sse_feed(c->s, p, n);
  else if (c->kind != R_POST)
    buf_put(&c->body, p, n);
}

/* A whole answer: the connection goes back to the pool (or closes), then
 * the socket hears it. */
static void answered(hconn *c) {
  bench *b = c->b;
  sock *s = c->s;
  int kind = c->kind;
  buf body = c->body;
  c->body = (buf){0};
  c->s = NULL;
  c->kind = R_IDLE;
  c->state = H_HEAD;
  if (c->keep) {
    c->next = b->idle;
    b->idle = c;
  } else {
    conn_close(c);
  }
  if (kind == R_OPEN && b->transport == T_STREAM) die("the stream ended");
  if (kind == R_OPEN) { /* long polling: "?id=<id>", then the polls */
    if (body.len < 5 || body.len - 4 >= sizeof(s->id) || memcmp(body.p, "?id=", 4) != 0)
      die("no id");
    memcpy(s->id, body.p + 4, body.len - 4);
    s->id[body.len - 4] = '\0';
    send_get(s, R_POLL, "poll");
  } else if (kind == R_POLL) {
    if (!body.len) die("the server closed a socket");
    send_get(s, R_POLL, "poll"); /* the next poll leaves first, as the reference's */
    on_text(s, body.p, body.len);
  }
  free(body.p);
}

/* Reads the answers in c->in as far as they came. */
static void http_read(hconn *c) {
  buf *in = &c->in;
  while (c->s && in->len) {
    if (c->state == H_HEAD) {
      char *e = memmem(in->p, in->len, "\r\n\r\n", 4);
      if (!e) return;
      size_t hn = (size_t)(e - in->p) + 4;
      char v[64];
      if (hn < 12 || memcmp(in->p, "HTTP/1.", 7) != 0) die("not an HTTP answer");
      int http10 = in->p[7] == '0';
      int status = atoi(in->p + 9);
      if (status != 200 && c->kind != R_POST) die("an HTTP status other than 200");
      c->keep = !http10;
      if (header(in->p, hn, "Connection", v, sizeof(v)))
        c->keep = strcasecmp(v, "close") != 0 && (!http10 || strcasecmp(v, "keep-alive") == 0);
      if (header(in->p, hn, "Transfer-Encoding", v, sizeof(v)) && strcasecmp(v, "chunked") == 0) {
        c->state = H_CHUNK_SIZE;
      } else if (header(in->p, hn, "Content-Length", v, sizeof(v))) {
        c->state = H_LEN;
        c->left = strtoull(v, NULL, 10);
      } else {
        c->state = H_EOF;
        c->keep = 0;
      }
      buf_drop(in, hn);
      if (c->state == H_LEN && !c->left) answered(c);
    } else if (c->state == H_LEN || c->state == H_CHUNK_DATA) {
      size_t k = in->len < c->left ? in->len : c->left;
      body_data(c, in->p, k);
      buf_drop(in, k);
      c->left -= k;
      if (!c->left && c->state == H_LEN) answered(c);
      if (!c->left && c->state == H_CHUNK_DATA) c->state = H_CHUNK_CRLF;
    } else if (c->state == H_CHUNK_CRLF) {
      if (in->len < 2) return;
      buf_drop(in, 2);
      c->state = H_CHUNK_SIZE;
    } else if (c->state == H_CHUNK_SIZE || c->state == H_TRAILER) {
      char *e = memmem(in->p, in->len, "\r\n", 2);
      if (!e) return;
      size_t ln = (size_t)(e - in->p);
      if (c->state == H_CHUNK_SIZE) {
        c->left = strtoull(in->p, NULL, 16);
        c->state = c->left ? H_CHUNK_DATA : H_TRAILER;
        buf_drop(in, ln + 2);
      } else {
        buf_drop(in, ln + 2);
        if (!ln) answered(c);
      }
    } else { /* H_EOF */
      body_data(c, in->p, in->len);
      in->len = 0;
    }
  }
}

/* The connection failed or ended. */
static void conn_lost(hconn *c) {
  sock *s = c->s;
  if (!s) { /* idle: the server let it go */
    conn_close(c);
    return;
  }
  if (c->kind == R_POST && !c->got) { /* never answered: sent again */
    send_req(c->b, s, R_POST, c->req.p, c->req.len);
    c->s = NULL;
    conn_close(c);
    return;
  }
  if (c->state == H_EOF) {
    c->keep = 0;
    answered(c);
    return;
  }
  die(c->kind == R_WS ? "the WebSocket closed" : "a connection closed before its answer");
}

/* ---- the WebSocket ---- */

static void ws_frame_out(sock *s, int op, const char *p, size_t n) {
  bench *b = s->b;
  buf *z = &s->zout;
  int rsv1 = 0;
  if (s->pmd && op == 1) { /* deflated, the trailing 00 00 ff ff cut */
    z->len = 0;
    s->def.next_in = (Bytef *)p;
    s->def.avail_in = (uInt)n;
    do {
      buf_reserve(z, n + 64);
      s->def.next_out = (Bytef *)z->p + z->len;
      s->def.avail_out = (uInt)(z->cap - z->len);
      if (deflate(&s->def, Z_SYNC_FLUSH) == Z_STREAM_ERROR) die("deflate");
      z->len = z->cap - s->def.avail_out;
    } while (s->def.avail_out == 0);
    if (z->len >= 4) z->len -= 4;
    if (s->def_reset) deflateReset(&s->def);
    p = z->p;
    n = z->len;
    rsv1 = 0x40;
  }
  uint8_t h[14];
  size_t hl = 0;
  h[hl++] = (uint8_t)(0x80 | rsv1 | op);
  if (n < 126) {
    h[hl++] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    h[hl++] = 0x80 | 126;
    h[hl++] = (uint8_t)(n >> 8);
    h[hl++] = (uint8_t)n;
  } else {
    h[hl++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  uint32_t m = (uint32_t)rnd(b);
  uint8_t mask[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
  memcpy(h + hl, mask, 4);
  hl += 4;
  buf_put(&s->out, h, hl);
  buf_reserve(&s->out, n);
  char *o = s->out.p + s->out.len;
  for (size_t i = 0; i < n; i++)
    o[i] = (char)(p[i] ^ mask[i & 3]);
  s->out.len += n;
}

/* "permessage-deflate; client_max_window_bits=10; …" as the server
 * accepted it. */
static void ws_accept_pmd(sock *s, const char *v) {
  if (strncmp(v, "permessage-deflate", 18) != 0) return;
  int cbits = 15, sbits = 15;
  const char *x;
  s->def_reset = strstr(v, "client_no_context_takeover") != NULL;
  s->inf_reset = strstr(v, "server_no_context_takeover") != NULL;
  if ((x = strstr(v, "client_max_window_bits="))) cbits = atoi(x + 23);
  if ((x = strstr(v, "server_max_window_bits="))) sbits = atoi(x + 23);
  if (cbits < 9) cbits = 9; /* zlib has no raw 8-bit deflater (Node's zlib makes it 9 too) */
  if (deflateInit2(&s->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -cbits, 8, Z_DEFAULT_STRATEGY) !=
          Z_OK ||
      inflateInit2(&s->inf, -sbits) != Z_OK)
    die("zlib");
  s->pmd = 1;
}

static void ws_read(hconn *c) {
  sock *s = c->s;
  buf *in = &c->in;
  if (c->state == H_HEAD) {
    char *e = memmem(in->p, in->len, "\r\n\r\n", 4);
    if (!e) return;
    size_t hn = (size_t)(e - in->p) + 4;
    char v[256];
    if (hn < 12 || memcmp(in->p + 9, "101", 3) != 0) die("upgrade refused");
    if (header(in->p, hn, "Sec-WebSocket-Extensions", v, sizeof(v))) ws_accept_pmd(s, v);
    buf_drop(in, hn);
    c->state = H_FRAMES;
  }
  size_t off = 0, fl;
  int op;
  const uint8_t *data;
  uint64_t len;
  while ((fl = ws_frame((const uint8_t *)in->p + off, in->len - off, &op, &data, &len)) > 0) {
    uint8_t b0 = (uint8_t)in->p[off];
    off += fl;
    if (!(b0 & 0x80) || op == 0) die("a fragmented message");
    if (op == 8) die("the server closed the WebSocket");
    if (op == 9) ws_frame_out(s, 10, (const char *)data, (size_t)len);
    if (op != 1) continue;
    if (!(b0 & 0x40)) {
      on_text(s, (const char *)data, (size_t)len);
      continue;
    }
    if (!s->pmd) die("a compressed frame without permessage-deflate");
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    buf *z = &s->zin;
    z->len = 0;
    for (int part = 0; part < 2; part++) {
      s->inf.next_in = (Bytef *)(part ? tail : data);
      s->inf.avail_in = part ? 4 : (uInt)len;
      while (s->inf.avail_in) {
        buf_reserve(z, 4 * (size_t)len + 256);
        s->inf.next_out = (Bytef *)z->p + z->len;
        s->inf.avail_out = (uInt)(z->cap - z->len);
        int rc = inflate(&s->inf, Z_SYNC_FLUSH);
        z->len = z->cap - s->inf.avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) die("inflate");
        if (rc == Z_BUF_ERROR && s->inf.avail_out) break;
      }
    }
    if (s->inf_reset) inflateReset(&s->inf);
    on_text(s, z->p, z->len);
  }
  buf_drop(in, off);
  ws_flush(s);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *ub) {
  hconn *c = st->data;
  (void)ub;
  if (n < 0) {
    uv_read_stop(st);
    conn_lost(c);
    return;
  }
  c->in.len += (size_t)n;
  if (n > 0) c->got = 1;
  if (c->kind == R_WS)
    ws_read(c);
  else if (c->s)
    http_read(c);
  else if (c->in.len)
    die("bytes on an idle connection");
}

static void open_ws(sock *s) {
  bench *b = s->b;
  uint8_t key[16];
  char k64[32], req[2048];
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)rnd(b);
  char *o = k64;
  for (int i = 0; i < 16; i += 3) {
    uint32_t v =
        (uint32_t)key[i] << 16 | (i + 1 < 16 ? key[i + 1] << 8 : 0) | (i + 2 < 16 ? key[i + 2] : 0);
    *o++ = b64[v >> 18 & 63];
    *o++ = b64[v >> 12 & 63];
    *o++ = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
    *o++ = i + 2 < 16 ? b64[v & 63] : '=';
  }
  *o = '\0';
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nHost: %s\r\n"
                   "Origin: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
                   b->path, b->hosthdr, b->hosthdr, k64);
  if (n <= 0 || (size_t)n >= sizeof(req)) die("URL too long");
  s->c = conn_new(b);
  s->c->s = s;
  s->c->kind = R_WS;
  buf_put(&s->c->req, req, (size_t)n);
}

/* ---- start ---- */

static void parse_url(bench *b, const char *url) {
  const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
  if (!p) die("--url must be http://HOST:PORT/PATH");
  const char *slash = strchr(p, '/');
  size_t hl = slash ? (size_t)(slash - p) : strlen(p);
  if (hl >= sizeof(b->host)) die("host too long");
  memcpy(b->hosthdr, p, hl);
  b->hosthdr[hl] = '\0';
  memcpy(b->host, p, hl);
  b->host[hl] = '\0';
  int port = 80;
  char *colon = strrchr(b->host, ':');
  if (colon) {
    *colon = '\0';
    port = atoi(colon + 1);
  }
  snprintf(b->path, sizeof(b->path), "%s", slash ? slash : "/");
  uv_getaddrinfo_t gai;
  struct addrinfo hints = {0};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  char ps[16];
  snprintf(ps, sizeof(ps), "%d", port);
  if (uv_getaddrinfo(b->loop, &gai, NULL, b->host, ps, &hints) != 0 || !gai.addrinfo)
    die("cannot resolve the host");
  memcpy(&b->addr, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
  uv_freeaddrinfo(gai.addrinfo);
}

int main(int argc, char **argv) {
  bench b = {0};
  const char *url = NULL, *transport = NULL;
  b.nconns = 20;
  b.inflight = 8;
  b.warmup = 1;
  b.seconds = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--url") == 0)
      url = v;
    else if (strcmp(k, "--transport") == 0)
      transport = v;
    else if (strcmp(k, "--conns") == 0)
      b.nconns = atoi(v);
    else if (strcmp(k, "--inflight") == 0)
      b.inflight = atoi(v);
    else if (strcmp(k, "--warmup") == 0)
      b.warmup = atof(v);
    else if (strcmp(k, "--seconds") == 0)
      b.seconds = atof(v);
    else if (strcmp(k, "--server-pid") == 0)
      b.server_pid = atoi(v);
    else
      die("unknown option (--url --transport --conns --inflight --warmup --seconds --server-pid)");
  }
  b.transport = !transport                               ? -1
                : strcmp(transport, "ws") == 0           ? T_WS
                : strcmp(transport, "httpstream") == 0   ? T_STREAM
                : strcmp(transport, "httplongpoll") == 0 ? T_LONGPOLL
                                                         : -1;
  if (!url || b.transport < 0 || b.nconns <= 0 || b.inflight <= 0 || b.seconds <= 0)
    die("usage: vibe_load --url http://HOST:PORT/PATH --transport ws|httpstream|httplongpoll "
        "[--conns N] [--inflight K] [--warmup S] [--seconds S] [--server-pid PID]");
  b.loop = uv_default_loop();
  b.rng = uv_hrtime() ^ (uint64_t)uv_os_getpid() << 32;
  parse_url(&b, url);
  if (b.transport != T_WS) { /* the reference's URIs: "<url>?transport=…" */
    size_t n = strlen(b.path);
    snprintf(b.path + n, sizeof(b.path) - n, "?transport=%s",
             b.transport == T_STREAM ? "stream" : "longpoll");
  }
  uv_timer_init(b.loop, &b.timer);
  b.timer.data = &b;
  b.socks = calloc((size_t)b.nconns, sizeof(sock));
  if (!b.socks) die("out of memory");
  for (int i = 0; i < b.nconns; i++) {
    sock *s = &b.socks[i];
    s->b = &b;
    uv_timer_init(b.loop, &s->hb);
    s->hb.data = s;
    if (b.transport == T_WS)
      open_ws(s);
    else
      send_get(s, R_OPEN, "open");
  }
  uv_run(b.loop, UV_RUN_DEFAULT);
  return 1;
}
