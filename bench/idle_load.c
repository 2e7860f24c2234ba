/*
 * Idle-connection load generator on libuv: opens WebSocket connections
 * (upgrade to ws://127.0.0.1:PORT/primus) and holds them idle, for the
 * memory-per-connection and connect+handshake-rate benchmarks.
 *
 *   idle_load --port P [--path /primus] [--stages 1000,5000,10000]
 *             [--inflight 200] [--sources 8] [--timeout 120] [--hold 900]
 *             [--extensions 'permessage-deflate; …'] [--bust 1]
 *
 * Each connection sends a random Sec-WebSocket-Key, and with --bust 1 a
 * random `_primuscb` in its URL, as Primus's client does.
 *
 * Source addresses are spread over 127.0.0.1 .. 127.0.0.<sources> (each
 * socket is bound before connecting) so that 10k+ connections do not run
 * out of ephemeral ports (with IP_BIND_ADDRESS_NO_PORT, so the port is picked
 * at connect time); the soft RLIMIT_NOFILE is raised to the hard one.
 * At most `inflight` connects+handshakes are outstanding at a time.
 *
 * For each stage, once that many connections are open and upgraded, it
 * prints one line to stdout and waits:
 *
 *   ready <open> <conn_per_s> failed=<f> lost=<l> connect_s=<t> cpu_s=<c>
 *
 * conn_per_s is open connections divided by the time spent connecting
 * (pauses between stages excluded); cpu_s is this process's own CPU time
 * (user + system) so far, so the load generator's share can be reported. A line on stdin moves on
 * to the next stage; after the last stage (or on stdin EOF, SIGINT, SIGTERM, or after
 * --hold seconds) every connection is closed and it exits. Nothing is
 * ever sent after the upgrade and whatever the server sends is discarded
 * (the servers run with heartbeats off). Failures (connect errors, refused
 * upgrades, connections closed by the server) are counted and replaced,
 * and reported on stderr; more than --max-failures of them abort the run.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#if defined(__linux__) && !defined(IP_BIND_ADDRESS_NO_PORT)
#define IP_BIND_ADDRESS_NO_PORT 24 /* linux/in.h, Linux >= 4.2 */
#endif
#include <uv.h>

enum { C_FREE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSING };

typedef struct conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  int state;
  int hdr_got;     /* bytes of the response seen so far (status line check) */
  int crlf_match;  /* how much of "\r\n\r\n" matched */
  char status[12]; /* "HTTP/1.1 101" */
  struct bench *b;
} conn;

typedef struct bench {
  uv_loop_t *loop;
  int port, inflight_max, sources;
  const char *path;
  int *stages, nstages, stage;
  int capacity;  /* conns array size */
  int next_slot; /* next never-used slot */
  int *free_slots, nfree;
  int open, inflight, failed, lost, max_failures;
  int connecting; /* 1 while we are opening towards a stage target */
  uint64_t active_ns, phase_start;
  double timeout, hold;
  int exit_code, done;
  char request[512];
  char *key;    /* the request's Sec-WebSocket-Key, new for each connection */
  char *bust;   /* its `_primuscb` value (--bust 1), or NULL */
  uint64_t rng; /* xorshift state for the keys */
  struct sockaddr_in dst;
  conn *conns;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm;
  uv_pipe_t in_pipe;
  uv_tty_t in_tty;
  uv_stream_t *in;
  char *errlog[8];
  int nerrs;
} bench;

static char scratch[65536];

static void finish(bench *b, int code);
static void pump(bench *b);

static void note_error(bench *b, const char *what, int status) {
  if (b->nerrs < 8) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s: %s", what, status ? uv_strerror(status) : "");
    b->errlog[b->nerrs++] = strdup(buf);
  }
}

static void on_closed(uv_handle_t *h) {
  conn *c = h->data;
  bench *b = c->b;
  c->state = C_FREE;
  b->free_slots[b->nfree++] = (int)(c - b->conns);
  if (!b->done) pump(b);
}

static void drop(conn *c, int was_open) {
  bench *b = c->b;
  /* after finish() every handle is closing already (connects in flight then
   * come back with UV_ECANCELED) */
  if (b->done || c->state == C_CLOSING || c->state == C_FREE ||
      uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  if (was_open) {
    b->open--;
    b->lost++;
  } else {
    b->inflight--;
    b->failed++;
  }
  c->state = C_CLOSING;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
  if (b->failed + b->lost > b->max_failures) {
    fprintf(stderr, "idle_load: too many failures (%d failed, %d lost)\n", b->failed, b->lost);
    finish(b, 1);
  }
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  (void)h;
  (void)sz;
  *buf = uv_buf_init(scratch, sizeof scratch);
}

static void stage_reached(bench *b);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  bench *b = c->b;
  if (n == 0) return;
  if (n < 0) {
    note_error(b, c->state == C_OPEN ? "closed after upgrade" : "closed during handshake", (int)n);
    drop(c, c->state == C_OPEN);
    return;
  }
  if (c->state != C_HANDSHAKE) return; /* idle: discard */
  for (ssize_t i = 0; i < n; i++) {
    char ch = buf->base[i];
    if (c->hdr_got < 12) c->status[c->hdr_got] = ch;
    c->hdr_got++;
    if (c->hdr_got == 12 && memcmp(c->status, "HTTP/1.1 101", 12) != 0) {
      note_error(b, "upgrade refused", 0);
      drop(c, 0);
      return;
    }
    static const char end[] = "\r\n\r\n";
    if (ch == end[c->crlf_match])
      c->crlf_match++;
    else
      c->crlf_match = ch == '\r' ? 1 : 0;
    if (c->crlf_match == 4) {
      c->state = C_OPEN;
      b->inflight--;
      b->open++;
      if (b->connecting && b->open >= b->stages[b->stage])
        stage_reached(b);
      else
        pump(b);
      return; /* anything after the headers is discarded */
    }
  }
}

static uint64_t next_random(bench *b) { /* xorshift64 */
  b->rng ^= b->rng << 13;
  b->rng ^= b->rng >> 7;
  b->rng ^= b->rng << 17;
  return b->rng;
}

/* Each connection its own random key, as real clients send: a server that
 * keeps request heads must not get to share them for free. */
static void new_key(bench *b) {
  static const char sym[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t raw[18] = {0};
  for (int i = 0; b->bust && i < 7; i++)
    b->bust[i] = sym[(next_random(b) >> 40) % 62]; /* letters and digits */
  for (int i = 0; i < 16; i++)
    raw[i] = (uint8_t)(next_random(b) >> 32);
  for (int i = 0, o = 0; i < 18; i += 3, o += 4) {
    uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
    for (int k = 0; k < 4; k++)
      if (o + k < 22) b->key[o + k] = sym[(v >> (18 - 6 * k)) & 63];
  }
}

static void on_connect(uv_connect_t *req, int status) {
  conn *c = req->data;
  bench *b = c->b;
  if (c->state != C_CONNECTING) return;
  if (status < 0) {
    note_error(b, "connect", status);
    drop(c, 0);
    return;
  }
  c->state = C_HANDSHAKE;
  new_key(b);
  uv_buf_t buf = uv_buf_init(b->request, (unsigned)strlen(b->request));
  int w = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (w != (int)buf.len) {
    note_error(b, "write request", w < 0 ? w : 0);
    drop(c, 0);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int start_one(bench *b) {
  int slot;
  if (b->nfree > 0)
    slot = b->free_slots[--b->nfree];
  else if (b->next_slot < b->capacity)
    slot = b->next_slot++;
  else
    return -1;
  conn *c = &b->conns[slot];
  memset(c, 0, sizeof *c);
  c->b = b;
  c->tcp.data = c;
  c->creq.data = c;
  /* The socket exists now, so that IP_BIND_ADDRESS_NO_PORT can be set before
   * bind: the port is then chosen at connect time by the whole 4-tuple. A
   * plain bind(port 0) must find a port unused on that address, and with
   * tens of thousands of TIME_WAIT sockets left by earlier runs that search
   * becomes slow enough to cap the connect rate. */
  uv_tcp_init_ex(b->loop, &c->tcp, AF_INET);
#ifdef IP_BIND_ADDRESS_NO_PORT
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  }
#endif
  struct sockaddr_in src;
  char ip[32];
  snprintf(ip, sizeof ip, "127.0.0.%d", 1 + slot % b->sources);
  uv_ip4_addr(ip, 0, &src);
  int rc = uv_tcp_bind(&c->tcp, (struct sockaddr *)&src, 0);
  if (rc == 0) rc = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&b->dst, on_connect);
  c->state = C_CONNECTING;
  b->inflight++;
  if (rc != 0) {
    note_error(b, "bind/connect", rc);
    drop(c, 0);
    return rc;
  }
  return 0;
}

static void pump(bench *b) {
  if (!b->connecting || b->done) return;
  while (b->inflight < b->inflight_max && b->open + b->inflight < b->stages[b->stage]) {
    if (start_one(b) == -1) break;
    if (b->done) return;
  }
}

static void on_timeout(uv_timer_t *t) {
  bench *b = t->data;
  if (b->connecting) {
    fprintf(stderr,
            "idle_load: timeout: %d of %d open after %.0f s (%d failed, %d lost, %d in flight)\n",
            b->open, b->stages[b->stage], b->timeout, b->failed, b->lost, b->inflight);
  } else {
    fprintf(stderr, "idle_load: hold time over\n");
  }
  finish(b, b->connecting ? 1 : 0);
}

static void begin_stage(bench *b) {
  b->connecting = 1;
  b->phase_start = uv_hrtime();
  uv_timer_start(&b->timer, on_timeout, (uint64_t)(b->timeout * 1000), 0);
  if (b->open >= b->stages[b->stage])
    stage_reached(b);
  else
    pump(b);
}

static void stage_reached(bench *b) {
  b->connecting = 0;
  b->active_ns += uv_hrtime() - b->phase_start;
  double secs = (double)b->active_ns / 1e9;
  uv_rusage_t ru;
  double cpu = 0;
  if (uv_getrusage(&ru) == 0)
    cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
          ru.ru_stime.tv_usec / 1e6;
  printf("ready %d %.0f failed=%d lost=%d connect_s=%.3f cpu_s=%.3f\n", b->open,
         secs > 0 ? b->open / secs : 0.0, b->failed, b->lost, secs, cpu);
  fflush(stdout);
  for (int i = 0; i < b->nerrs; i++)
    fprintf(stderr, "idle_load: error sample: %s\n", b->errlog[i]);
  uv_timer_start(&b->timer, on_timeout, (uint64_t)(b->hold * 1000), 0);
}

static void on_input_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  (void)h;
  (void)sz;
  static char ib[4096];
  *buf = uv_buf_init(ib, sizeof ib);
}

static void on_input(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  bench *b = s->data;
  if (n < 0) { /* EOF or error: close everything */
    finish(b, b->connecting ? 1 : 0);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (buf->base[i] != '\n' || b->connecting || b->done) continue;
    if (b->stage + 1 >= b->nstages) {
      finish(b, 0);
      return;
    }
    b->stage++;
    begin_stage(b);
  }
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  finish(s->data, 0);
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void finish(bench *b, int code) {
  if (b->done) return;
  b->done = 1;
  b->exit_code = code;
  fprintf(stderr, "idle_load: done: %d open, %d failed, %d lost\n", b->open, b->failed, b->lost);
  uv_walk(b->loop, close_walk, NULL);
}

static int parse_stages(bench *b, const char *s) {
  int n = 1;
  for (const char *p = s; *p; p++)
    if (*p == ',') n++;
  b->stages = calloc((size_t)n, sizeof(int));
  b->nstages = 0;
  char *copy = strdup(s), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int v = atoi(t);
    if (v <= 0 || (b->nstages > 0 && v < b->stages[b->nstages - 1])) {
      free(copy);
      return -1;
    }
    b->stages[b->nstages++] = v;
  }
  free(copy);
  return b->nstages > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  bench b = {0};
  const char *stages = "1000", *extensions = NULL;
  int bust = 0;
  b.path = "/primus";
  b.inflight_max = 200;
  b.sources = 8;
  b.timeout = 120;
  b.hold = 900;
  b.max_failures = -1;
  for (int i = 1; i < argc; i += 2) { /* every option takes a value */
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
    if (strcmp(k, "--port") == 0)
      b.port = atoi(v);
    else if (strcmp(k, "--path") == 0)
      b.path = v;
    else if (strcmp(k, "--stages") == 0 || strcmp(k, "--conns") == 0)
      stages = v;
    else if (strcmp(k, "--inflight") == 0)
      b.inflight_max = atoi(v);
    else if (strcmp(k, "--sources") == 0)
      b.sources = atoi(v);
    else if (strcmp(k, "--timeout") == 0)
      b.timeout = atof(v);
    else if (strcmp(k, "--hold") == 0)
      b.hold = atof(v);
    else if (strcmp(k, "--max-failures") == 0)
      b.max_failures = atoi(v);
    else if (strcmp(k, "--extensions") == 0)
      extensions = v;
    else if (strcmp(k, "--bust") == 0)
      bust = atoi(v);
    else {
      fprintf(stderr, "idle_load: unknown option %s\n", k);
      return 2;
    }
  }
  if (b.port <= 0 || parse_stages(&b, stages) != 0 || b.inflight_max <= 0 || b.sources < 1 ||
      b.sources > 254) {
    fprintf(stderr,
            "usage: idle_load --port P [--stages N1,N2,...] [--inflight K] [--sources S]\n");
    return 2;
  }
  int target = b.stages[b.nstages - 1];
  if (b.max_failures < 0) b.max_failures = target / 10 + 100;

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)target + 64)
    fprintf(stderr, "idle_load: warning: RLIMIT_NOFILE %llu < %d connections\n",
            (unsigned long long)rl.rlim_cur, target);

  b.loop = uv_default_loop();
  char busted[300];
  snprintf(busted, sizeof(busted), "%.256s%s_primuscb=0000000", b.path,
           strchr(b.path, '?') ? "&" : "?");
  snprintf(b.request, sizeof(b.request),
           "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
           bust ? busted : b.path, b.port, extensions ? "Sec-WebSocket-Extensions: " : "",
           extensions ? extensions : "", extensions ? "\r\n" : "");
  b.key = strstr(b.request, "Sec-WebSocket-Key: ") + 19;
  b.bust = bust ? strstr(b.request, "_primuscb=") + 10 : NULL;
  b.rng = (uint64_t)uv_hrtime() | 1;
  uv_ip4_addr("127.0.0.1", b.port, &b.dst);
  b.capacity = target + b.inflight_max + 16;
  b.conns = calloc((size_t)b.capacity, sizeof(conn));
  b.free_slots = calloc((size_t)b.capacity, sizeof(int));

  uv_timer_init(b.loop, &b.timer);
  b.timer.data = &b;
  uv_signal_init(b.loop, &b.sigint);
  uv_signal_init(b.loop, &b.sigterm);
  b.sigint.data = b.sigterm.data = &b;
  uv_signal_start(&b.sigint, on_signal, SIGINT);
  uv_signal_start(&b.sigterm, on_signal, SIGTERM);
  uv_handle_type t = uv_guess_handle(0);
  if (t == UV_NAMED_PIPE && uv_pipe_init(b.loop, &b.in_pipe, 0) == 0 &&
      uv_pipe_open(&b.in_pipe, 0) == 0)
    b.in = (uv_stream_t *)&b.in_pipe;
  else if (t == UV_TTY && uv_tty_init(b.loop, &b.in_tty, 0, 1) == 0)
    b.in = (uv_stream_t *)&b.in_tty;
  if (b.in) {
    b.in->data = &b;
    uv_read_start(b.in, on_input_alloc, on_input);
  } /* otherwise (stdin a file or /dev/null): held until a signal or --hold */

  begin_stage(&b);
  uv_run(b.loop, UV_RUN_DEFAULT);
  return b.exit_code;
}
