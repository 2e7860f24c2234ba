/*
 * Echo load generator on libuv: N WebSocket connections, each keeping
 * `pipeline` messages in flight, counting echoes for a fixed time.
 *
 *   echo_load --port P [--path /primus] [--conns 100] [--size 32]
 *             [--pipeline 8] [--seconds 5] [--warmup 1] [--binary | --msgpack]
 *             [--server-pid PID]
 *
 * --msgpack sends a msgpack string of exactly --size bytes in a binary frame
 * (for a server using the msgpack parser); the default is a JSON string of
 * --size bytes in a text frame. "load_cpu" is this process's CPU time over
 * the measured window, as a fraction of one core: near 1.0 means the load
 * generator, not the server, was the limit. --server-pid adds the server's
 * CPU time over the same window (/proc/PID/stat): server_cpu (fraction of
 * one core), user_ns and sys_ns (its user and kernel time per echo) and
 * per_server_cpu (echoes per server CPU-second: the rate of a saturated
 * server, which compares servers when the load generator is the limit).
 *
 * Prints one JSON line: {"conns":…,"size":…,"msgs_per_s":…,"seconds":…}.
 * Server frames are unmasked, so parsing them is a length walk; what we send
 * is one pre-masked frame repeated, written in batches of whatever number
 * of echoes each read brought back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "proc_cpu.h"
#include "ws_frames.h"

typedef struct conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  int upgraded;
  uint8_t *in;
  size_t in_len, in_cap;
  struct bench *b;
} conn;

typedef struct bench {
  uv_loop_t *loop;
  int port, nconns, size, pipeline, binary, msgpack;
  double cpu_from, server_user_from, server_sys_from;
  int server_pid;
  double seconds, warmup;
  const char *path;
  uint8_t *frames; /* `batch` copies of the frame back to back */
  size_t frame_len, batch;
  uint64_t echoes, counted_from;
  int measuring, ready, failed;
  uv_timer_t timer;
  conn *conns;
  char request[512];
} bench;

static void on_write(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static void send_frames(conn *c, size_t n) {
  bench *b = c->b;
  while (n > 0) {
    size_t k = n < b->batch ? n : b->batch;
    uv_buf_t buf = uv_buf_init((char *)b->frames, (unsigned)(k * b->frame_len));
    int w = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (w < 0) w = 0;
    if ((size_t)w < buf.len) {
      uv_write_t *req = malloc(sizeof(*req));
      buf.base += w;
      buf.len -= (unsigned)w;
      uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    }
    n -= k;
  }
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  conn *c = h->data;
  (void)sz;
  if (c->in_cap - c->in_len < 65536) {
    c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
    c->in = realloc(c->in, c->in_cap);
  }
  *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  bench *b = c->b;
  (void)buf;
  if (n < 0) {
    if (!b->failed) fprintf(stderr, "echo_load: connection lost: %s\n", uv_strerror((int)n));
    b->failed = 1;
    uv_stop(b->loop);
    return;
  }
  c->in_len += (size_t)n;
  size_t off = 0;
  if (!c->upgraded) {
    uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return;
    if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
      fprintf(stderr, "echo_load: upgrade refused\n");
      b->failed = 1;
      uv_stop(b->loop);
      return;
    }
    off = (size_t)(end - c->in) + 4;
    c->upgraded = 1;
    send_frames(c, (size_t)b->pipeline);
  }
  size_t frames = 0, fl;
  int op;
  const uint8_t *payload;
  uint64_t plen;
  while ((fl = ws_frame(c->in + off, c->in_len - off, &op, &payload, &plen)) > 0) {
    if (op == 1 || op == 2) frames++;
    off += fl;
  }
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
  if (frames) {
    if (b->measuring) b->echoes += frames;
    send_frames(c, frames);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  conn *c = req->data;
  if (status < 0) {
    fprintf(stderr, "echo_load: connect: %s\n", uv_strerror(status));
    c->b->failed = 1;
    uv_stop(c->b->loop);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_buf_t buf = uv_buf_init(c->b->request, (unsigned)strlen(c->b->request));
  uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_timer(uv_timer_t *t) {
  bench *b = t->data;
  if (!b->measuring) {
    b->measuring = 1;
    b->echoes = 0;
    b->counted_from = uv_hrtime();
    b->cpu_from = cpu_seconds();
    if (b->server_pid && proc_cpu(b->server_pid, &b->server_user_from, &b->server_sys_from) != 0)
      b->server_pid = 0;
    uv_timer_start(t, on_timer, (uint64_t)(b->seconds * 1000), 0);
    return;
  }
  double secs = (double)(uv_hrtime() - b->counted_from) / 1e9;
  double cpu = (cpu_seconds() - b->cpu_from) / secs;
  double su, ss;
  printf("{\"conns\":%d,\"size\":%d,\"pipeline\":%d,\"msgs_per_s\":%.0f,\"seconds\":%.2f,"
         "\"load_cpu\":%.2f",
         b->nconns, b->size, b->pipeline, (double)b->echoes / secs, secs, cpu);
  if (b->server_pid && b->echoes && proc_cpu(b->server_pid, &su, &ss) == 0) {
    su -= b->server_user_from;
    ss -= b->server_sys_from;
    printf(",\"server_cpu\":%.2f,\"user_ns\":%.0f,\"sys_ns\":%.0f,\"per_server_cpu\":%.0f",
           (su + ss) / secs, su * 1e9 / (double)b->echoes, ss * 1e9 / (double)b->echoes,
           su + ss > 0 ? (double)b->echoes / (su + ss) : 0);
  }
  printf("}\n");
  fflush(stdout);
  uv_stop(b->loop);
}

static void build_frame(bench *b) {
  size_t n = (size_t)b->size;
  uint8_t *payload = malloc(n);
  if (b->msgpack) { /* str8/str16 header, then filler: exactly n bytes */
    size_t h = n - 2 <= 255 ? 2 : 3;
    memset(payload, 'x', n);
    payload[0] = h == 2 ? 0xd9 : 0xda;
    if (h == 2) {
      payload[1] = (uint8_t)(n - 2);
    } else {
      payload[1] = (uint8_t)((n - 3) >> 8);
      payload[2] = (uint8_t)(n - 3);
    }
  } else if (b->binary) {
    memset(payload, 0xab, n);
  } else { /* a JSON string of exactly n bytes */
    memset(payload, 'x', n);
    payload[0] = '"';
    payload[n - 1] = '"';
  }
  uint8_t head[14];
  size_t h = 0;
  head[h++] = (uint8_t)(0x80 | (b->binary || b->msgpack ? 2 : 1));
  if (n < 126) {
    head[h++] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    head[h++] = 0x80 | 126;
    head[h++] = (uint8_t)(n >> 8);
    head[h++] = (uint8_t)n;
  } else {
    head[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      head[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  const uint8_t mask[4] = {1, 2, 3, 4};
  memcpy(head + h, mask, 4);
  h += 4;
  b->frame_len = h + n;
  b->batch = 64;
  b->frames = malloc(b->frame_len * b->batch);
  for (size_t k = 0; k < b->batch; k++) {
    uint8_t *f = b->frames + k * b->frame_len;
    memcpy(f, head, h);
    for (size_t i = 0; i < n; i++)
      f[h + i] = payload[i] ^ mask[i & 3];
  }
  free(payload);
}

int main(int argc, char **argv) {
  bench b = {0};
  b.nconns = 100;
  b.size = 32;
  b.pipeline = 8;
  b.seconds = 5;
  b.warmup = 1;
  b.path = "/primus";
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
    if (strcmp(k, "--binary") == 0 || strcmp(k, "--msgpack") == 0) {
      if (k[2] == 'b')
        b.binary = 1;
      else
        b.msgpack = 1;
      continue;
    }
    if (strcmp(k, "--port") == 0)
      b.port = atoi(v);
    else if (strcmp(k, "--path") == 0)
      b.path = v;
    else if (strcmp(k, "--conns") == 0)
      b.nconns = atoi(v);
    else if (strcmp(k, "--size") == 0)
      b.size = atoi(v);
    else if (strcmp(k, "--pipeline") == 0)
      b.pipeline = atoi(v);
    else if (strcmp(k, "--seconds") == 0)
      b.seconds = atof(v);
    else if (strcmp(k, "--warmup") == 0)
      b.warmup = atof(v);
    else if (strcmp(k, "--server-pid") == 0)
      b.server_pid = atoi(v);
    else {
      fprintf(stderr, "echo_load: unknown option %s\n", k);
      return 2;
    }
    i++;
  }
  if (b.port <= 0 || b.nconns <= 0 || b.size < 2 || b.pipeline <= 0) {
    fprintf(stderr, "usage: echo_load --port P [--conns N] [--size B>=2] [--pipeline K]\n");
    return 2;
  }
  b.loop = uv_default_loop();
  build_frame(&b);
  snprintf(b.request, sizeof(b.request),
           "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n",
           b.path, b.port);
  b.conns = calloc((size_t)b.nconns, sizeof(conn));
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", b.port, &addr);
  for (int i = 0; i < b.nconns; i++) {
    conn *c = &b.conns[i];
    c->b = &b;
    uv_tcp_init(b.loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&addr, on_connect);
  }
  uv_timer_init(b.loop, &b.timer);
  b.timer.data = &b;
  uv_timer_start(&b.timer, on_timer, (uint64_t)(b.warmup * 1000), 0);
  uv_run(b.loop, UV_RUN_DEFAULT);
  return b.failed ? 1 : 0;
}
