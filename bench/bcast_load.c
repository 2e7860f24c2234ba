/*
 * Broadcast fan-out load generator on libuv: N receiving WebSocket clients
 * plus S senders against a server in broadcast mode (every message it gets
 * goes to every connected client).
 *
 *   bcast_load --port P [--path /primus] [--clients 1000] [--senders 8]
 *              [--ports P1,P2,… (a cluster: connection i goes to port i % n)]
 *              [--sio (Socket.IO 4 peers: event "m" over engine.io v4 WebSocket)]
 *              [--inflight 4 | --rate MSGS_PER_S] [--seconds 3] [--warmup 1]
 *              [--addrs 8] [--connect-concurrency 256] [--size 32]
 *              [--deflate BITS,BITS,...] [--server-pid PID]
 *              [--rooms R] [--verify]
 *
 * Each message is a --size-byte JSON string "s<seq hex8>t<send ns hex16>"
 * filled up with English-like words. --deflate makes receiver i offer
 * permessage-deflate with server_max_window_bits=BITS[i % n] (0: without
 * the parameter); compressed frames are inflated (one shared zlib stream:
 * the server keeps no context) before their sequence number is read.
 * --server-pid adds the server's CPU time in the window: server_cpu (cores)
 * and server_ns_per_delivery.
 * With --inflight k every sender keeps k messages whose fan-out is not yet
 * complete (a message is complete when all N receivers got it); with --rate
 * the senders together send that many messages per second, whatever
 * happens. Per message we count deliveries and keep the time of the last
 * one: latency is send -> LAST delivery across receivers.
 *
 * Receivers connect from 127.0.0.(1 + i % addrs) to spread ephemeral ports.
 * Prints one JSON line: deliveries_per_s (to receivers, inside the measured
 * window), msgs_per_s (fan-outs completed in the window), p50_ms / p99_ms /
 * max_ms of the latency of those fan-outs, incomplete (messages not fully
 * delivered at the end: the ones in flight; more means lost deliveries),
 * stray (frames that match no message), load_cpu (this process' CPU time /
 * wall time in the window; 1.0 = one core saturated: then the figures are
 * bounded by this tool, not by the server).
 *
 * --rooms R: rooms fan-out (bench/rooms.sh). There are N clients in all,
 * client i in room i % R, and it says so in its upgrade request's URL
 * (?room=K, or &room=K after a query of --path), so membership does not
 * depend on the order in which the server accepts; the senders are
 * clients 0..S-1 (rooms 0..S-1 when S <= R), and the server writes each
 * message to the sender's room, the sender included. A message is
 * complete when every member of that room got it; deliveries_per_s counts
 * every member's copy (the sender's too). The line gains "rooms".
 * --verify: after the window, stop sending and wait (up to 5 s) for the
 * messages in flight; then every receiving client must have got exactly
 * the messages of its room (broadcast: every message), each once and in
 * each sender's order. The line gains "verify" ("ok" or "failed"),
 * wrong_room (deliveries of another room's message), reordered
 * (duplicates or out of order), short_clients (clients whose count differs
 * from what their room's senders sent) and undrained; exit status 1 when
 * it failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "proc_cpu.h"
#include "ws_frames.h"

#define RING_BITS 20
#define RING (1u << RING_BITS)
#define MSG_MIN 32
#define MSG_MAX 4096
#define MAX_WINDOWS 16

typedef struct msgrec {
  uint64_t sent_ns, last_ns;
  uint32_t seq, count;
  int sender;
  int in_window;
} msgrec;

typedef struct conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  int upgraded, sender, idx;
  uint64_t got; /* --verify: messages received */
  uint8_t *in;
  size_t in_len, in_cap;
  struct bench *b;
} conn;

typedef struct bench {
  uv_loop_t *loop;
  int port, nclients, nsenders, inflight, naddrs, concurrency;
  int ports[16], nports; /* --ports: connection i to ports[i % nports] */
  int sio, nsp_count;    /* --sio: Socket.IO packets; connections joined to "/" */
  double rate, seconds, warmup;
  const char *path;
  conn *conns; /* receivers first, then senders */
  int next_connect, connecting, upgraded_count, started, measuring, done, failed;
  int lost;
  uint32_t next_seq;
  msgrec *ring;
  uint64_t deliveries, sender_deliveries, window_start, window_end;
  uint64_t sent_in_window, completed_in_window, stray;
  double cpu_start;
  uint64_t *lat;
  size_t nlat, lat_cap;
  uv_timer_t timer, pace;
  uint64_t pace_start, paced;
  int size;                           /* message bytes */
  int windows[MAX_WINDOWS], nwindows; /* --deflate */
  z_stream inf;
  uint8_t inflated[MSG_MAX + 64];
  uint64_t compressed;
  int server_pid;
  double server_cpu_start;
  int nrooms; /* --rooms: 0 for broadcast */
  int nconns; /* connections: N + S in broadcast, N with rooms */
  /* --verify */
  int verify, undrained;
  uint64_t *room_sent; /* messages sent per room (broadcast: one room) */
  uint32_t *last_seen; /* [conn][sender slot]: last seq + 1 received */
  uint64_t sent_total, completed_total, wrong_room, reordered, short_clients;
  uint64_t drain_deadline;
  /* the window's figures, kept for the report after a --verify drain */
  double secs, cpu, server;
} bench;

static void fail(bench *b, const char *what, int status) {
  if (!b->failed) fprintf(stderr, "bcast_load: %s: %s\n", what, uv_strerror(status));
  b->failed = 1;
  uv_stop(b->loop);
}

static void on_write(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static const char hexd[] = "0123456789abcdef";

static int conn_room(const bench *b, int idx) { return b->nrooms ? idx % b->nrooms : 0; }

/* Deliveries that complete a message of `sender`: its room's size, or every
 * receiver in broadcast. */
static uint32_t fanout(const bench *b, int sender) {
  if (!b->nrooms) return (uint32_t)b->nclients;
  int r = sender % b->nrooms;
  return (uint32_t)(b->nclients / b->nrooms + (r < b->nclients % b->nrooms));
}

/* The s-th sender: after the receivers in broadcast, clients 0..S-1 with
 * rooms. */
static conn *sender_conn(bench *b, int s) { return &b->conns[b->nrooms ? s : b->nclients + s]; }
static int sender_slot(const bench *b, int idx) { return b->nrooms ? idx : idx - b->nclients; }

static void write_frame(conn *c, const uint8_t *payload, size_t size);

static void send_message(bench *b, conn *c) {
  static const char words[] = "the quick brown fox jumps over the lazy dog; ";
  uint8_t payload[MSG_MAX + 16];
  size_t size = (size_t)b->size;
  uint32_t seq = b->next_seq++;
  uint64_t now = uv_hrtime();
  msgrec *m = &b->ring[seq & (RING - 1)];
  if (m->count != 0 && m->count < fanout(b, m->sender) && m->sent_ns) b->stray++; /* overwritten */
  m->seq = seq;
  m->sent_ns = now;
  m->last_ns = 0;
  m->count = 0;
  m->sender = c->idx;
  m->in_window = b->measuring;
  if (b->measuring) b->sent_in_window++;
  if (b->verify) {
    b->sent_total++;
    b->room_sent[conn_room(b, c->idx)]++;
  }
  size_t p = 0;
  payload[p++] = '"';
  payload[p++] = 's';
  for (int i = 7; i >= 0; i--)
    payload[p++] = (uint8_t)hexd[(seq >> (4 * i)) & 15];
  payload[p++] = 't';
  for (int i = 15; i >= 0; i--)
    payload[p++] = (uint8_t)hexd[(now >> (4 * i)) & 15];
  for (size_t i = 0; p < size - 1; i++)
    payload[p++] = (uint8_t)words[(seq + i) % (sizeof(words) - 1)];
  payload[p++] = '"';
  if (b->sio) { /* 42["m",<payload>] */
    memmove(payload + 7, payload, size);
    memcpy(payload, "42[\"m\",", 7);
    payload[7 + size] = ']';
    size += 8;
  }
  write_frame(c, payload, size);
}

/* One masked text frame. */
static void write_frame(conn *c, const uint8_t *payload, size_t size) {
  uint8_t frame[8 + MSG_MAX + 16];
  const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
  size_t h = 2;
  frame[0] = 0x81;
  if (size < 126) {
    frame[1] = (uint8_t)(0x80 | size);
  } else {
    frame[1] = 0x80 | 126;
    frame[2] = (uint8_t)(size >> 8);
    frame[3] = (uint8_t)size;
    h = 4;
  }
  memcpy(frame + h, mask, 4);
  for (size_t i = 0; i < size; i++)
    frame[h + 4 + i] = payload[i] ^ mask[i & 3];
  uv_buf_t buf = uv_buf_init((char *)frame, (unsigned)(h + 4 + size));
  int w = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (w < 0) w = 0;
  if ((size_t)w < buf.len) {
    uv_write_t *req = malloc(sizeof(*req) + buf.len);
    memcpy(req + 1, frame + w, buf.len - (size_t)w);
    uv_buf_t rest = uv_buf_init((char *)(req + 1), buf.len - (unsigned)w);
    uv_write(req, (uv_stream_t *)&c->tcp, &rest, 1, on_write);
  }
}

static int parse_seq(const uint8_t *p, size_t len, uint32_t *seq) {
  if (len < 11 || p[0] != '"' || p[1] != 's') return 0;
  uint32_t v = 0;
  for (int i = 2; i < 10; i++) {
    uint8_t ch = p[i];
    uint32_t d;
    if (ch >= '0' && ch <= '9')
      d = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
      d = ch - 'a' + 10;
    else
      return 0;
    v = (v << 4) | d;
  }
  *seq = v;
  return 1;
}

static void delivered(bench *b, conn *c, uint32_t seq, uint64_t now) {
  msgrec *m = &b->ring[seq & (RING - 1)];
  if (m->seq != seq || m->sent_ns == 0) {
    b->stray++;
    return;
  }
  if (b->verify) { /* one sender's messages reach each member once, in order */
    if (conn_room(b, m->sender) != conn_room(b, c->idx)) b->wrong_room++;
    uint32_t *last =
        &b->last_seen[(size_t)c->idx * (size_t)b->nsenders + (size_t)sender_slot(b, m->sender)];
    if (*last && seq + 1 <= *last) b->reordered++;
    *last = seq + 1;
    c->got++;
  }
  m->count++;
  m->last_ns = now;
  if (m->count == fanout(b, m->sender)) {
    b->completed_total++;
    if (b->measuring) { /* every fan-out that completes inside the window */
      b->completed_in_window++;
      if (b->nlat == b->lat_cap) {
        b->lat_cap = b->lat_cap ? b->lat_cap * 2 : 65536;
        b->lat = realloc(b->lat, b->lat_cap * sizeof(*b->lat));
      }
      b->lat[b->nlat++] = m->last_ns - m->sent_ns;
    }
    if (b->inflight > 0 && !b->done) send_message(b, &b->conns[m->sender]);
  }
}

static void start_sending(bench *b);

/* A compressed message (no context kept by the server) into b->inflated;
 * returns its length, 0 when it does not inflate. */
static size_t inflate_message(bench *b, const uint8_t *p, size_t n) {
  static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
  if (inflateReset(&b->inf) != Z_OK) return 0;
  b->inf.next_out = b->inflated;
  b->inf.avail_out = sizeof(b->inflated);
  b->inf.next_in = (Bytef *)(uintptr_t)p;
  b->inf.avail_in = (uInt)n;
  int rc = inflate(&b->inf, Z_SYNC_FLUSH);
  if (rc == Z_OK || rc == Z_BUF_ERROR) {
    b->inf.next_in = (Bytef *)(uintptr_t)tail;
    b->inf.avail_in = sizeof(tail);
    rc = inflate(&b->inf, Z_SYNC_FLUSH);
  }
  return rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END
             ? sizeof(b->inflated) - b->inf.avail_out
             : 0;
}

static void connect_more(bench *b);

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  conn *c = h->data;
  (void)sz;
  if (c->in_cap - c->in_len < 16384) {
    c->in_cap = c->in_cap ? c->in_cap * 2 : 32768;
    c->in = realloc(c->in, c->in_cap);
  }
  *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  bench *b = c->b;
  (void)buf;
  if (n < 0) {
    if (!b->done) {
      b->lost++;
      fail(b, "connection lost", (int)n);
    }
    return;
  }
  c->in_len += (size_t)n;
  size_t off = 0;
  if (!c->upgraded) {
    uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return;
    if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
      fprintf(stderr, "bcast_load: upgrade refused: %.40s\n", (char *)c->in);
      b->failed = 1;
      uv_stop(b->loop);
      return;
    }
    off = (size_t)(end - c->in) + 4;
    c->upgraded = 1;
    b->connecting--;
    b->upgraded_count++;
    if (b->sio) write_frame(c, (const uint8_t *)"40", 2); /* join the namespace "/" */
    if (b->upgraded_count == b->nconns && !b->sio)
      start_sending(b);
    else
      connect_more(b);
  }
  uint64_t now = uv_hrtime();
  size_t frames = 0, fl;
  int op;
  const uint8_t *payload;
  uint64_t plen;
  while ((fl = ws_frame(c->in + off, c->in_len - off, &op, &payload, &plen)) > 0) {
    if ((op == 1 || op == 2) && b->sio && (plen < 2 || memcmp(payload, "42", 2) != 0)) {
      if (plen >= 2 && memcmp(payload, "40", 2) == 0 && ++b->nsp_count == b->nconns)
        start_sending(b);
      else if (plen == 1 && payload[0] == '2')
        write_frame(c, (const uint8_t *)"3", 1); /* engine.io pong */
    } else if (op == 1 || op == 2) {
      frames++;
      uint32_t seq;
      if (b->sio) { /* 42["m",<payload>] */
        payload += 7;
        plen = plen > 8 ? plen - 8 : 0;
      }
      if (!c->sender || b->nrooms) { /* with rooms a sender is a member too */
        if (c->in[off] & 0x40) {     /* RSV1: compressed */
          b->compressed++;
          plen = inflate_message(b, payload, (size_t)plen);
          payload = b->inflated;
        }
        if (parse_seq(payload, (size_t)plen, &seq))
          delivered(b, c, seq, now);
        else
          b->stray++;
      }
    }
    off += fl;
  }
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
  if (b->measuring) {
    if (c->sender && !b->nrooms)
      b->sender_deliveries += frames;
    else
      b->deliveries += frames;
  }
}

static void on_connect(uv_connect_t *req, int status) {
  conn *c = req->data;
  if (status < 0) {
    fail(c->b, "connect", status);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  bench *b = c->b;
  char ext[96] = "";
  if (b->nwindows && !c->sender) {
    int bits = b->windows[c->idx % b->nwindows];
    snprintf(ext, sizeof(ext), "Sec-WebSocket-Extensions: permessage-deflate%s%.0d\r\n",
             bits ? "; server_max_window_bits=" : "", bits);
  }
  /* the client's room in its URL: both servers read it at the upgrade */
  char target[320];
  if (b->nrooms)
    snprintf(target, sizeof(target), "%s%croom=%d", b->path, strchr(b->path, '?') ? '&' : '?',
             conn_room(b, c->idx));
  char request[512];
  int n = snprintf(request, sizeof(request),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s\r\n",
                   b->nrooms ? target : b->path, b->ports[c->idx % b->nports], ext);
  uv_buf_t buf = uv_buf_init(request, (unsigned)n);
  uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void connect_more(bench *b) {
  while (b->connecting < b->concurrency && b->next_connect < b->nconns) {
    int i = b->next_connect++;
    conn *c = &b->conns[i];
    c->b = b;
    c->idx = i;
    c->sender = b->nrooms ? i < b->nsenders : i >= b->nclients;
    uv_tcp_init(b->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    char src[32];
    snprintf(src, sizeof(src), "127.0.0.%d", 1 + i % b->naddrs);
    struct sockaddr_in sa, da;
    uv_ip4_addr(src, 0, &sa);
    uv_ip4_addr("127.0.0.1", b->ports[i % b->nports], &da);
    int rc = uv_tcp_bind(&c->tcp, (struct sockaddr *)&sa, 0);
    if (rc < 0) {
      fail(b, "bind", rc);
      return;
    }
    rc = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&da, on_connect);
    if (rc < 0) {
      fail(b, "connect", rc);
      return;
    }
    b->connecting++;
  }
}

static void on_pace(uv_timer_t *t) {
  bench *b = t->data;
  if (b->done) return;
  uint64_t now = uv_hrtime();
  uint64_t due = (uint64_t)((double)(now - b->pace_start) / 1e9 * b->rate);
  while (b->paced < due) {
    send_message(b, sender_conn(b, (int)(b->paced % (uint64_t)b->nsenders)));
    b->paced++;
  }
}

static void on_timer(uv_timer_t *t);
static void on_drain(uv_timer_t *t);
static void report(bench *b);

static void start_sending(bench *b) {
  b->started = 1;
  if (b->inflight > 0) {
    for (int s = 0; s < b->nsenders; s++)
      for (int k = 0; k < b->inflight; k++)
        send_message(b, sender_conn(b, s));
  } else {
    b->pace_start = uv_hrtime();
    uv_timer_start(&b->pace, on_pace, 1, 1);
  }
  uv_timer_start(&b->timer, on_timer, (uint64_t)(b->warmup * 1000), 0);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(bench *b, double q) {
  if (!b->nlat) return 0;
  size_t i = (size_t)(q * (double)(b->nlat - 1) + 0.5);
  return (double)b->lat[i] / 1e6;
}

static void on_timer(uv_timer_t *t) {
  bench *b = t->data;
  if (!b->measuring && !b->done) {
    b->measuring = 1;
    b->deliveries = b->sender_deliveries = 0;
    b->window_start = uv_hrtime();
    b->cpu_start = cpu_seconds();
    if (b->server_pid) b->server_cpu_start = proc_cpu_seconds(b->server_pid);
    uv_timer_start(t, on_timer, (uint64_t)(b->seconds * 1000), 0);
    return;
  }
  if (b->measuring) { /* end of the window: stop sending, drain a little */
    b->measuring = 0;
    b->done = 1;
    b->window_end = uv_hrtime();
    b->secs = (double)(b->window_end - b->window_start) / 1e9;
    b->cpu = (cpu_seconds() - b->cpu_start) / b->secs;
    b->server = b->server_pid ? proc_cpu_seconds(b->server_pid) - b->server_cpu_start : 0;
    if (b->verify) { /* the messages in flight complete before the check */
      b->drain_deadline = uv_hrtime() + 5000000000ull;
      uv_timer_start(t, on_drain, 10, 10);
      return;
    }
    report(b);
  }
}

static void on_drain(uv_timer_t *t) {
  bench *b = t->data;
  if (b->completed_total < b->sent_total && uv_hrtime() < b->drain_deadline) return;
  uv_timer_stop(t);
  b->undrained = (int)(b->sent_total - b->completed_total);
  for (int i = 0; i < b->nconns; i++) {
    conn *c = &b->conns[i];
    if ((!c->sender || b->nrooms) && c->got != b->room_sent[conn_room(b, i)]) b->short_clients++;
  }
  report(b);
}

static void report(bench *b) {
  /* the window's figures (kept at its end) */
  double secs = b->secs, cpu = b->cpu, server = b->server;
  uint64_t all = b->deliveries + b->sender_deliveries;
  qsort(b->lat, b->nlat, sizeof(*b->lat), cmp_u64);
  /* messages whose fan-out is still incomplete at the end */
  uint64_t incomplete = 0;
  for (uint32_t i = 0; i < RING; i++)
    if (b->ring[i].sent_ns && b->ring[i].count < fanout(b, b->ring[i].sender)) incomplete++;
  printf("{\"clients\":%d,\"senders\":%d,\"size\":%d,\"inflight\":%d,\"rate\":%.0f,"
         "\"deliveries_per_s\":%.0f,\"sender_deliveries_per_s\":%.0f,\"msgs_per_s\":%.0f,"
         "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"sent\":%llu,\"completed\":%llu,"
         "\"incomplete\":%llu,\"stray\":%llu,\"load_cpu\":%.2f,\"seconds\":%.2f,"
         "\"compressed\":%llu,\"server_cpu\":%.3f,\"server_ns_per_delivery\":%.1f",
         b->nclients, b->nsenders, b->size, b->inflight, b->rate, (double)b->deliveries / secs,
         (double)b->sender_deliveries / secs, (double)b->completed_in_window / secs, pct(b, 0.5),
         pct(b, 0.99), b->nlat ? (double)b->lat[b->nlat - 1] / 1e6 : 0.0,
         (unsigned long long)b->sent_in_window, (unsigned long long)b->completed_in_window,
         (unsigned long long)incomplete, (unsigned long long)b->stray, cpu, secs,
         (unsigned long long)b->compressed, server / secs, all ? server * 1e9 / (double)all : 0.0);
  if (b->nrooms) printf(",\"rooms\":%d", b->nrooms);
  if (b->verify) {
    if (b->wrong_room || b->reordered || b->short_clients || b->undrained || b->stray)
      b->failed = 1;
    printf(",\"verify\":\"%s\",\"wrong_room\":%llu,\"reordered\":%llu,\"short_clients\":%llu,"
           "\"undrained\":%d",
           b->failed ? "failed" : "ok", (unsigned long long)b->wrong_room,
           (unsigned long long)b->reordered, (unsigned long long)b->short_clients, b->undrained);
  }
  printf("}\n");
  fflush(stdout);
  uv_stop(b->loop);
}

static void on_connect_timeout(uv_timer_t *t) {
  bench *b = t->data;
  if (!b->started) {
    fprintf(stderr, "bcast_load: only %d of %d clients upgraded in time\n", b->upgraded_count,
            b->nconns);
    b->failed = 1;
    uv_stop(b->loop);
  }
}

int main(int argc, char **argv) {
  bench b = {0};
  b.nclients = 1000;
  b.nsenders = 8;
  b.inflight = 4;
  b.seconds = 3;
  b.warmup = 1;
  b.naddrs = 8;
  b.concurrency = 256;
  b.path = "/primus";
  b.size = MSG_MIN;
  double connect_timeout = 60;
  for (int i = 1; i + 1 < argc || i < argc; i += 2) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
    if (strcmp(k, "--port") == 0)
      b.port = atoi(v);
    else if (strcmp(k, "--ports") == 0)
      for (char *t = strtok((char *)v, ","); t && b.nports < 16; t = strtok(NULL, ","))
        b.ports[b.nports++] = atoi(t);
    else if (strcmp(k, "--path") == 0)
      b.path = v;
    else if (strcmp(k, "--sio") == 0) {
      b.sio = 1;
      b.path = "/socket.io/?EIO=4&transport=websocket";
      i--; /* no value */
    } else if (strcmp(k, "--clients") == 0)
      b.nclients = atoi(v);
    else if (strcmp(k, "--senders") == 0)
      b.nsenders = atoi(v);
    else if (strcmp(k, "--inflight") == 0)
      b.inflight = atoi(v);
    else if (strcmp(k, "--rate") == 0) {
      b.rate = atof(v);
      b.inflight = 0;
    } else if (strcmp(k, "--seconds") == 0)
      b.seconds = atof(v);
    else if (strcmp(k, "--warmup") == 0)
      b.warmup = atof(v);
    else if (strcmp(k, "--addrs") == 0)
      b.naddrs = atoi(v);
    else if (strcmp(k, "--connect-concurrency") == 0)
      b.concurrency = atoi(v);
    else if (strcmp(k, "--connect-timeout") == 0)
      connect_timeout = atof(v);
    else if (strcmp(k, "--size") == 0)
      b.size = atoi(v);
    else if (strcmp(k, "--server-pid") == 0)
      b.server_pid = atoi(v);
    else if (strcmp(k, "--rooms") == 0)
      b.nrooms = atoi(v);
    else if (strcmp(k, "--verify") == 0) {
      b.verify = 1;
      i--; /* no value */
    } else if (strcmp(k, "--deflate") == 0) {
      for (const char *p = v; *p && b.nwindows < MAX_WINDOWS; p += strcspn(p, ","), p += *p == ',')
        b.windows[b.nwindows++] = atoi(p);
    } else {
      fprintf(stderr, "bcast_load: unknown option %s\n", k);
      return 2;
    }
  }
  if (!b.nports && b.port > 0) b.ports[b.nports++] = b.port;
  if (b.nports && b.port <= 0) b.port = b.ports[0];
  if (b.port <= 0 || b.nclients <= 0 || b.nsenders <= 0 || b.naddrs <= 0 || b.naddrs > 254 ||
      b.concurrency <= 0 || (b.inflight <= 0 && b.rate <= 0) || b.size < MSG_MIN ||
      b.size > MSG_MAX || b.nrooms < 0 || (b.nrooms && (b.sio || b.nsenders > b.nclients))) {
    fprintf(stderr, "usage: bcast_load --port P [--clients N] [--senders S] "
                    "[--inflight K | --rate R] [--seconds T] [--size 32..4096] "
                    "[--deflate BITS,...] [--server-pid PID] "
                    "[--rooms R (senders among the clients, not --sio)] [--verify]\n");
    return 2;
  }
  b.nconns = b.nrooms ? b.nclients : b.nclients + b.nsenders;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(b.nconns + 64)) {
    fprintf(stderr, "bcast_load: open-file limit %llu is too low for %d connections\n",
            (unsigned long long)rl.rlim_cur, b.nconns);
    return 2;
  }
  b.loop = uv_default_loop();
  b.ring = calloc(RING, sizeof(msgrec));
  if (inflateInit2(&b.inf, -15) != Z_OK) return 1;
  b.conns = calloc((size_t)b.nconns, sizeof(conn));
  if (b.verify) {
    b.room_sent = calloc((size_t)(b.nrooms ? b.nrooms : 1), sizeof(*b.room_sent));
    b.last_seen = calloc((size_t)b.nconns * (size_t)b.nsenders, sizeof(*b.last_seen));
  }
  uv_timer_init(b.loop, &b.timer);
  uv_timer_init(b.loop, &b.pace);
  b.timer.data = b.pace.data = &b;
  uv_timer_t ct;
  uv_timer_init(b.loop, &ct);
  ct.data = &b;
  uv_timer_start(&ct, on_connect_timeout, (uint64_t)(connect_timeout * 1000), 0);
  uint64_t t0 = uv_hrtime();
  connect_more(&b);
  uv_run(b.loop, UV_RUN_DEFAULT);
  if (!b.failed)
    fprintf(stderr, "bcast_load: connected %d clients in %.2f s\n", b.nconns,
            (double)(b.window_start - t0) / 1e9 - b.warmup);
  return b.failed ? 1 : 0;
}
