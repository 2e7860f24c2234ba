/*
 * Vibe's request path (transport/vibe/: http.c, session.c, event.c behind
 * the HTTP layer): each input is what a client sends on one keep-alive
 * connection to a fresh Vibe server — after, when the first byte says so,
 * a long-poll handshake (bit 0) whose id then replaces every "SID" in the
 * input, so that polls, posts ("data=<event>") and aborts reach a live
 * socket. Bit 1 attaches the emitter (events and replies reach its
 * handlers: "echo" is echoed, "/reply/inbound" resolves or rejects, with
 * an ack, "ask" emits an event that asks for an answer). Without the
 * emitter the server echoes every message. The server is destroyed after
 * each input: any crash, leak or sanitizer report is a finding.
 * Seeds: tests/fuzz/seeds/fuzz_vibe.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "weft/ext.h"

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  fuzz_echo_or_end(sp, msg);
}

static void on_echo(const weft_event *ev, void *user) {
  weft_emitter_emit(user, ev->spark, "echo", ev->args, WEFT_EMIT_DEFAULT_TIMEOUT, NULL, NULL);
}

static void on_inbound(const weft_event *ev, void *user) {
  (void)user;
  if (!ev->reply) return;
  if (weft_value_len(ev->args) % 2)
    weft_reply_resolve(ev->reply, weft_value_array_at(ev->args, 0));
  else
    weft_reply_reject(ev->reply, NULL);
}

static void on_answer(const weft_ack *ack, void *user) {
  (void)ack;
  (void)user;
}

static void on_ask(const weft_event *ev, void *user) {
  weft_emitter_emit(user, ev->spark, "test", ev->args, 1000, on_answer, NULL);
  if (ev->reply) weft_reply_drop(ev->reply);
}

static const char handshake[] =
    "GET /vibe?transport=longpoll&when=open HTTP/1.1\r\nHost: a\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 16384) return 0;
  fuzz_conn f;
  fuzz_conn_new(&f, on_data);
  weft_server_set_transformer(f.s, "vibe");
  weft_server_set_max_length(f.s, 4096);
  weft_server_set_session_heartbeat(f.s, 60000, 5000);
  if (data[0] & 2) {
    weft_emitter *em;
    if (weft_emitter_server(f.s, &em) != 0) abort();
    weft_emitter_on(em, "echo", on_echo, em, NULL);
    weft_emitter_on(em, "/reply/inbound", on_inbound, em, NULL);
    weft_emitter_on(em, "ask", on_ask, em, NULL);
  }
  fuzz_conn_start(&f, "http://127.0.0.1:0/vibe");
  char id[37] = "00000000-0000-4000-8000-000000000000"; /* no socket: 500 */
  if (data[0] & 1) {
    if (write(f.fd, handshake, sizeof(handshake) - 1) < 0) abort();
    f.open = fuzz_pump(f.loop, f.fd, f.got, sizeof(f.got), &f.have, "?id=", 200);
    f.open = f.open && fuzz_pump(f.loop, f.fd, f.got, sizeof(f.got), &f.have, NULL, 2);
    const char *at = strstr(f.got, "?id=");
    if (at && strlen(at + 4) >= 36) memcpy(id, at + 4, 36);
  }
  fuzz_conn_finish(&f, data + 1, size - 1, id, 36);
  return 0;
}
