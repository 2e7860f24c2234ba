/*
 * The server's whole message path: each input is what a client sends after
 * a valid upgrade request — frames, parsed by the reader, decoded by the
 * parser (json, or msgpack when the first byte is odd), answered (primus::
 * strings), transformed by a plugin, handled by the extensions (emitter,
 * rooms, channels; the msgpack server batches) and echoed back — over a
 * socketpair the server adopts. Any crash, leak or sanitizer report is a
 * finding. Seeds with extension packets: tests/fuzz/seeds/fuzz_server.
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
#include "weft/ext.h"

typedef struct harness {
  weft_loop *loop;
  weft_server *server[2];
} harness;

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  if (!fuzz_echo_or_end(sp, msg)) weft_server_write(weft_spark_server(sp), msg);
}

static int replace_ints(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)user;
  if (weft_value_type(msg) == WEFT_INT) *rep = weft_value_new_string("int", 3);
  if (weft_value_type(msg) == WEFT_BOOL) return WEFT_SWALLOW;
  return WEFT_PASS;
}

static const weft_plugin_ops plugin = {.version = WEFT_PLUGIN_VERSION,
                                       .size = sizeof(weft_plugin_ops),
                                       .name = "fuzz",
                                       .incoming = replace_ints,
                                       .outgoing = replace_ints};

/* Every event is answered with its arguments, and echoed with an ack asked
 * (whose answer may never come: the disconnection fails it). */
static void on_event(const weft_event *ev, void *user) {
  weft_emitter *em = user;
  if (ev->reply) weft_reply_resolve(ev->reply, ev->args);
  weft_emitter_emit(em, ev->spark, ev->name, ev->args, 1000, NULL, NULL);
  weft_rooms *rooms = weft_rooms_of_server(weft_spark_server(ev->spark));
  const char *names[1] = {ev->name};
  weft_rooms_join(rooms, ev->spark, ev->name);
  weft_rooms_write(rooms, names, 1, NULL, 0, ev->args);
}

static void ignore_ack(const weft_ack *a, void *user) { (void)a, (void)user; }

static void on_connection(weft_spark *sp, void *user) {
  (void)user;
  weft_emitter *em = weft_emitter_of_server(weft_spark_server(sp));
  weft_emitter_emit(em, sp, "hello", NULL, 1000, ignore_ack, NULL);
}

static int allow_rooms(weft_spark *sp, const char *room, int join, void *user) {
  (void)sp, (void)join, (void)user;
  return room[0] == 'x' ? WEFT_EUNAUTHORIZED : 0;
}

static void ch_data(weft_channel *ch, const weft_value *msg, void *user) {
  (void)user;
  if (weft_value_type(msg) == WEFT_BOOL) {
    weft_channel_end(ch);
    return;
  }
  if (weft_value_type(msg) == WEFT_NULL) weft_channel_pause(ch);
  weft_channel_write(ch, msg);
}

static void ch_open(weft_channel *ch, void *user) {
  (void)user;
  weft_channel_events ev = {.size = sizeof(ev), .data = ch_data};
  weft_channel_set_events(ch, &ev, NULL, NULL);
}

static harness *setup(void) {
  static harness h; /* the fuzzer's process-wide fixture */
  if (h.loop) return &h;
  signal(SIGPIPE, SIG_IGN);
  weft_loop_new(&h.loop);
  for (int i = 0; i < 2; i++) {
    weft_server_new(h.loop, &h.server[i]);
    weft_server_events ev = {.size = sizeof(ev), .connection = on_connection, .data = on_data};
    weft_server_set_events(h.server[i], &ev, NULL, NULL);
    weft_server_set_parser(h.server[i], i ? "msgpack" : "json");
    weft_server_set_max_length(h.server[i], 4096);
    weft_server_set_compression(h.server[i], 1);
    weft_server_use(h.server[i], &plugin, NULL);
    weft_emitter *em;
    weft_rooms *rooms;
    weft_channels *chs;
    if (weft_emitter_server(h.server[i], &em) || weft_rooms_server(h.server[i], &rooms) ||
        weft_channels_server(h.server[i], &chs))
      abort();
    weft_emitter_on(em, "*", on_event, em, NULL);
    weft_emitter_set_timeout(em, 5);
    weft_rooms_set_client_policy(rooms, allow_rooms, NULL, NULL);
    weft_channels_set_window(chs, 4);
    weft_channels_on_open(chs, ch_open, NULL, NULL);
    if (i) weft_server_set_batching(h.server[i], 512);
    if (weft_server_listen(h.server[i], "ws://127.0.0.1:0/primus") != 0) abort();
  }
  return &h;
}

static const char upgrade[] =
    "GET /primus?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 60000) return 0;
  harness *h = setup();
  weft_server *s = h->server[data[0] & 1];
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
  int buf = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  if (write(sv[0], upgrade, sizeof(upgrade) - 1) < 0 || write(sv[0], data + 1, size - 1) < 0) {
    close(sv[0]);
    close(sv[1]);
    return 0;
  }
  shutdown(sv[0], SHUT_WR);
  if (weft_server_adopt(s, sv[1], NULL, 0, 0) != 0) {
    close(sv[0]);
    close(sv[1]);
    return 0;
  }
  /* Run until the server closes the connection, draining what it answers,
   * then once more for its close callbacks. */
  char sink[65536];
  for (int open = 1; open;) {
    weft_loop_run_once(h->loop);
    ssize_t r;
    while ((r = recv(sv[0], sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
    }
    open = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
  weft_loop_run_once(h->loop);
  close(sv[0]);
  return 0;
}
