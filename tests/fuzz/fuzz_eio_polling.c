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
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  fuzz_echo_or_end(sp, msg);
}

static const char handshake[] = "GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 16384) return 0;
  fuzz_conn f;
  fuzz_conn_new(&f, on_data);
  weft_server *s = f.s;
  weft_server_set_transformer(s, data[0] & 2 ? "websockets,engine.io" : "engine.io");
  weft_server_set_parser(s, data[0] & 4 ? "msgpack" : "json");
  weft_server_set_ping_interval(s, 0);
  weft_server_set_max_length(s, 4096);
  weft_server_set_session_heartbeat(s, 60000, 60000);
  fuzz_conn_start(&f, "ws://127.0.0.1:0/primus");
  char sid[21] = "AAAAAAAAAAAAAAAAAAAA"; /* no session: "Session ID unknown" */
  if (data[0] & 1) {
    if (write(f.fd, handshake, sizeof(handshake) - 1) < 0) abort();
    f.open = fuzz_pump(f.loop, f.fd, f.got, sizeof(f.got), &f.have, "\"upgrades\"", 200);
    const char *at = strstr(f.got, "\"sid\":\"");
    if (at && strlen(at + 7) >= 20) memcpy(sid, at + 7, 20);
  }
  fuzz_conn_finish(&f, data + 1, size - 1, sid, 20);
  return 0;
}
