/*
 * engine.io's polling request path (transport/engineio/poll.c, session.c,
 * upgrade.c behind the HTTP layer): each input is what a client sends on
 * one keep-alive connection to a fresh engine.io server — after, when the
 * first byte is odd, a polling handshake whose sid then replaces every
 * "SID" in the input, so that polls, posts, probes and upgrades reach a
 * live session. The first byte also picks the parser and whether
 * websockets is served beside engine.io. The server echoes every message.
 * The server is destroyed after each input (the loop turns until its
 * close event): any crash, leak or sanitizer
 * report is a finding. Seeds: tests/fuzz/seeds/fuzz_eio_polling.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "primus/primus.h"

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  fuzz_echo_or_end(sp, msg);
}

static void on_close(weft_server *s, void *user) {
  (void)s;
  *(int *)user = 1;
}

static const char handshake[] = "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n";

/* Runs the loop and reads what the server sends into got (at most cap - 1
 * bytes kept), until `until` appears in it, the server closes, or `turns`
 * loop turns pass. Returns 1 while the connection is open. */
static int pump(weft_loop *loop, int fd, char *got, size_t cap, size_t *have, const char *until,
                int turns) {
  char sink[65536];
  for (int i = 0; i < turns; i++) {
    weft_loop_run_once(loop);
    ssize_t r;
    while ((r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
      size_t k = (size_t)r < cap - 1 - *have ? (size_t)r : cap - 1 - *have;
      memcpy(got + *have, sink, k);
      *have += k;
      got[*have] = '\0';
    }
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return 0;
    if (until && strstr(got, until)) return 1;
  }
  return 1;
}

/* The input with every "SID" replaced by sid (20 characters). */
static uint8_t *with_sid(const uint8_t *data, size_t size, const char *sid, size_t *out_len) {
  uint8_t *out = malloc(size * 7 + 1); /* "SID" (3) becomes 20 */
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < size;) {
    if (i + 3 <= size && memcmp(data + i, "SID", 3) == 0) {
      memcpy(out + o, sid, 20);
      o += 20;
      i += 3;
    } else {
      out[o++] = data[i++];
    }
  }
  *out_len = o;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static weft_loop *loop;
  if (size == 0 || size > 16384) return 0;
  if (!loop) {
    signal(SIGPIPE, SIG_IGN);
    if (weft_loop_new(&loop) != 0) abort();
  }
  weft_server *s;
  if (weft_server_new(loop, &s) != 0) abort();
  int gone = 0;
  weft_server_events ev = {.size = sizeof(ev), .data = on_data, .close = on_close};
  weft_server_set_events(s, &ev, &gone, NULL);
  weft_server_set_transformer(s, data[0] & 2 ? "websockets,engine.io" : "engine.io");
  weft_server_set_parser(s, data[0] & 4 ? "msgpack" : "json");
  weft_server_set_ping_interval(s, 0);
  weft_server_set_max_length(s, 4096);
  weft_server_set_session_heartbeat(s, 60000, 60000);
  int sv[2] = {-1, -1};
  if (weft_server_listen(s, "ws://127.0.0.1:0/primus") != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    abort();
  int buf = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  if (weft_server_adopt(s, sv[1], NULL, 0, 0) != 0) abort();
  char got[4096];
  size_t have = 0;
  got[0] = '\0';
  char sid[21] = "AAAAAAAAAAAAAAAAAAAA"; /* no session: "Session ID unknown" */
  int open = 1;
  if (data[0] & 1) {
    if (write(sv[0], handshake, sizeof(handshake) - 1) < 0) abort();
    open = pump(loop, sv[0], got, sizeof(got), &have, "\"upgrades\"", 200);
    const char *at = strstr(got, "\"sid\":\"");
    if (at && strlen(at + 7) >= 20) memcpy(sid, at + 7, 20);
  }
  size_t len;
  uint8_t *req = with_sid(data + 1, size - 1, sid, &len);
  if (!req) abort();
  if (open && len && write(sv[0], req, len) < 0) open = 0;
  free(req);
  shutdown(sv[0], SHUT_WR);
  /* Until the server closes the connection (a held poll may wait for the
   * destroy), then the destroy lets go of everything. */
  while (open)
    open = pump(loop, sv[0], got, sizeof(got), &have, NULL, 1) && have < sizeof(got) - 1 &&
           weft_server_spark_count(s) > 0;
  pump(loop, sv[0], got, sizeof(got), &have, NULL, 20);
  close(sv[0]); /* a lingering answer need not wait for the peer */
  /* Sessions still closing (their close packet never polled) are dropped
   * after 1 ms rather than the default second. */
  weft_destroy_options d = {.size = sizeof(d), .timeout_ms = 1};
  weft_server_destroy(s, &d);
  while (!gone) /* not weft_loop_run: the loop's own timers (a heap trim) may wait */
    weft_loop_run_once(loop);
  return 0;
}
