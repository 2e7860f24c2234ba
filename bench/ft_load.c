/*
 * fast-tcp load generator (bench/fasttcp.sh): CONNS connections to a
 * fast-tcp server (weft's tcp:// or ipc://, or npm fast-tcp's), each keeping
 * INFLIGHT events with acks in flight ("e" with a 32-byte string); every
 * ack is answered with a new event. Counts acks for SECONDS after WARMUP
 * and prints one JSON line. Frames are written by hand from fast-tcp
 * 3.3.2's layout (docs/fasttcp.md); incoming frames other than acks (the
 * server's register, echoed events) are skipped.
 *
 *   ft_load tcp://127.0.0.1:PORT | ipc:///path  CONNS INFLIGHT SECONDS WARMUP [SENDERS]
 *
 * With SENDERS (broadcast): the first SENDERS connections write plain
 * messages (event "data", no ack) that the server sends to everyone; each
 * keeps INFLIGHT of its own in flight (its copy coming back frees a slot);
 * every frame of event "data" any connection receives counts as a
 * delivery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct conn {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_stream_t s;
  } h;
  uv_connect_t creq;
  uint8_t *in;
  size_t have, cap;
  uint32_t next_id;
  int sender;
  uint32_t index;
} conn;

static int inflight, counting, bcast;
static uint64_t acks;
static uint8_t frame[64];
static size_t frame_len;

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* event "e", 32 bytes of string data, message type 6 (data with ack);
 * broadcast: event "data", message type 2 (plain). */
static void build_frame(void) {
  const char *data = "0123456789abcdef0123456789abcdef";
  const char *ev = bcast ? "data" : "e";
  size_t el = strlen(ev), n = 4 + 8 + 2 + el + 4 + 32;
  put32(frame, (uint32_t)(n - 4));
  frame[4] = 1, frame[5] = 0, frame[6] = 1, frame[7] = bcast ? 2 : 6;
  put32(frame + 8, 0);
  frame[12] = (uint8_t)el, frame[13] = 0;
  memcpy(frame + 14, ev, el);
  put32(frame + 14 + el, 32);
  memcpy(frame + 18 + el, data, 32);
  frame_len = n;
}

static int n_senders;

static void on_written(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static void send_n(conn *c, int n) {
  uv_write_t *w = malloc(sizeof(*w) + (size_t)n * frame_len);
  uint8_t *b = (uint8_t *)(w + 1);
  for (int i = 0; i < n; i++) {
    memcpy(b + i * frame_len, frame, frame_len);
    put32(b + i * frame_len + 8, ++c->next_id);
    if (bcast) put32(b + (i + 1) * frame_len - 32, c->index); /* whose it is */
  }
  uv_buf_t buf = uv_buf_init((char *)b, (unsigned)((size_t)n * frame_len));
  if (uv_write(w, &c->h.s, &buf, 1, on_written)) free(w);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  conn *c = h->data;
  if (c->cap - c->have < 65536) {
    c->cap = c->cap ? c->cap * 2 : 131072;
    c->in = realloc(c->in, c->cap);
  }
  *buf = uv_buf_init((char *)c->in + c->have, (unsigned)(c->cap - c->have));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  conn *c = s->data;
  if (n < 0) {
    fprintf(stderr, "ft_load: connection lost: %s\n", uv_strerror((int)n));
    exit(1);
  }
  c->have += (size_t)n;
  size_t off = 0;
  int answered = 0, delivered = 0;
  while (c->have - off >= 8) {
    const uint8_t *p = c->in + off;
    size_t len = 4 + ((size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24);
    if (c->have - off < len) break;
    if (!bcast && p[7] == 7) answered++;
    if (bcast && p[7] == 2) {
      delivered++;
      size_t at = 18 + ((size_t)p[12] | (size_t)p[13] << 8);
      if (c->sender && at + 4 <= len && p[at] == (uint8_t)c->index &&
          p[at + 1] == (uint8_t)(c->index >> 8))
        answered++;
    }
    off += len;
  }
  memmove(c->in, c->in + off, c->have - off);
  c->have -= off;
  if (counting) acks += (uint64_t)(bcast ? delivered : answered);
  /* broadcast: a sender's own copies coming back free its slots */
  if (answered) send_n(c, answered);
}

static void on_connect(uv_connect_t *req, int status) {
  conn *c = req->data;
  if (status) {
    fprintf(stderr, "ft_load: connect: %s\n", uv_strerror(status));
    exit(1);
  }
  uv_read_start(&c->h.s, on_alloc, on_read);
  if (!bcast || c->sender) send_n(c, inflight);
}

static void on_warm(uv_timer_t *t) {
  (void)t;
  counting = 1;
}

static void on_done(uv_timer_t *t) {
  double secs = *(double *)t->data;
  printf(bcast ? "{\"deliveries\":%llu,\"per_s\":%.0f}\n" : "{\"acks\":%llu,\"acks_per_s\":%.0f}\n",
         (unsigned long long)acks, (double)acks / secs);
  fflush(stdout);
  exit(0);
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: %s URL CONNS INFLIGHT SECONDS WARMUP [SENDERS]\n", argv[0]);
    return 2;
  }
  n_senders = argc == 7 ? atoi(argv[6]) : 0;
  bcast = n_senders > 0;
  const char *url = argv[1];
  int conns = atoi(argv[2]);
  inflight = atoi(argv[3]);
  double secs = atof(argv[4]), warm = atof(argv[5]);
  build_frame();
  uv_loop_t *loop = uv_default_loop();
  int ipc = strncmp(url, "ipc://", 6) == 0;
  struct sockaddr_in sa;
  if (!ipc) {
    char host[64];
    int port;
    if (sscanf(url, "tcp://%63[^:]:%d", host, &port) != 2 || uv_ip4_addr(host, port, &sa)) {
      fprintf(stderr, "ft_load: bad URL %s\n", url);
      return 2;
    }
  }
  conn *cs = calloc((size_t)conns, sizeof(conn));
  for (int i = 0; i < conns; i++) {
    conn *c = &cs[i];
    c->creq.data = c;
    c->sender = i < n_senders;
    c->index = (uint32_t)i;
    if (ipc) {
      uv_pipe_init(loop, &c->h.pipe, 0);
      c->h.s.data = c;
      uv_pipe_connect(&c->creq, &c->h.pipe, url + 6, on_connect);
    } else {
      uv_tcp_init(loop, &c->h.tcp);
      uv_tcp_nodelay(&c->h.tcp, 1);
      c->h.s.data = c;
      uv_tcp_connect(&c->creq, &c->h.tcp, (const struct sockaddr *)&sa, on_connect);
    }
  }
  uv_timer_t warm_t, done_t;
  uv_timer_init(loop, &warm_t);
  uv_timer_init(loop, &done_t);
  done_t.data = &secs;
  uv_timer_start(&warm_t, on_warm, (uint64_t)(warm * 1000), 0);
  uv_timer_start(&done_t, on_done, (uint64_t)((warm + secs) * 1000), 0);
  return uv_run(loop, UV_RUN_DEFAULT);
}
