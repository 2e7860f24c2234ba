/*
 * A C client for the cross-host tests: connects, emits one event with an
 * acknowledgement, prints the outcome as one JSON line and exits 0 when it
 * is the expected one.
 *
 *   weft_ack_client URL EVENT ARGS_JSON resolved|rejected|chain EXPECTED_JSON
 *
 * chain (nmsg's nested callbacks): the answer must carry a callback (depth
 * 2, the server's); it is called back with "v2" and a callback of ours
 * (depth 3), whose answer is the one compared with EXPECTED_JSON.
 *
 * ARGS_JSON is the argument array (e.g. "[1,2]"). Exit 0: the ack came with
 * the expected status and a value equal to EXPECTED_JSON; 1: another
 * outcome; 2: usage or setup error. Bounded: gives up after 10 s.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "weft/ext.h"

typedef struct run {
  weft_client *c;
  weft_emitter *em;
  const char *event;
  weft_value *args, *expected;
  int want_rejected, chain, rc, emitted;
  uv_timer_t guard;
} run;

static void done(run *r, int rc) {
  r->rc = rc;
  uv_timer_stop(&r->guard);
  uv_close((uv_handle_t *)&r->guard, NULL);
  weft_client_destroy(r->c);
}

static void on_ack(const weft_ack *a, void *user);

/* chain: the first answer (depth 1) carries the server's callback. */
static void on_chain(const weft_ack *a, void *user) {
  run *r = user;
  r->chain = 0;
  if (a->status != 0 || !a->reply) {
    fprintf(stderr, "ack_client: the answer carries no callback\n");
    return on_ack(a, user);
  }
  weft_value *v = weft_value_new_string("v2", 2);
  int rc = weft_reply_resolve_cb(a->reply, v, 5000, on_ack, r);
  weft_value_free(v);
  if (rc) {
    fprintf(stderr, "ack_client: calling back failed: %s\n", weft_strerror(rc));
    done(r, 2);
  }
}

static void on_ack(const weft_ack *a, void *user) {
  run *r = user;
  uint8_t *out = NULL;
  size_t len = 0;
  if (a->value) weft_value_encode("json", a->value, &out, &len);
  printf("{\"status\":\"%s\",\"value\":%.*s}\n", a->status ? weft_err_name(a->status) : "OK",
         out ? (int)len : 4, out ? (const char *)out : "null");
  fflush(stdout);
  weft_free(out);
  int ok = r->want_rejected ? a->status == WEFT_EREJECTED : a->status == 0;
  done(r, ok && a->value && weft_value_equal(a->value, r->expected) ? 0 : 1);
}

static void on_open(weft_client *c, void *user) {
  run *r = user;
  (void)c;
  if (r->emitted++) return;
  int rc = weft_emitter_emit(r->em, NULL, r->event, r->args, 5000, r->chain ? on_chain : on_ack, r);
  if (rc < 0) {
    fprintf(stderr, "ack_client: emit failed: %s\n", weft_strerror(rc));
    done(r, 2);
  }
}

static void on_end(weft_client *c, void *user) {
  run *r = user;
  (void)c;
  if (r->rc < 0) {
    fprintf(stderr, "ack_client: connection ended before the answer\n");
    done(r, 1);
  }
}

static void on_guard(uv_timer_t *t) {
  run *r = t->data;
  fprintf(stderr, "ack_client: no answer in time\n");
  done(r, 1);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc != 6) {
    fprintf(stderr, "usage: %s URL EVENT ARGS_JSON resolved|rejected|chain EXPECTED_JSON\n",
            argv[0]);
    return 2;
  }
  run r = {.event = argv[2],
           .want_rejected = strcmp(argv[4], "rejected") == 0,
           .chain = strcmp(argv[4], "chain") == 0,
           .rc = -1};
  weft_loop *loop;
  if (weft_value_decode("json", argv[3], strlen(argv[3]), &r.args, NULL) != 0 ||
      weft_value_decode("json", argv[5], strlen(argv[5]), &r.expected, NULL) != 0) {
    fprintf(stderr, "ack_client: ARGS_JSON and EXPECTED_JSON must be JSON\n");
    return 2;
  }
  weft_client_events ev = {.size = sizeof(ev), .open = on_open, .end = on_end};
  if (weft_loop_new(&loop) || weft_client_new(loop, argv[1], &r.c) ||
      weft_client_set_events(r.c, &ev, &r, NULL) || weft_emitter_client(r.c, &r.em) ||
      weft_client_open(r.c)) {
    fprintf(stderr, "ack_client: setup failed\n");
    return 2;
  }
  uv_timer_init(weft_loop_uv(loop), &r.guard);
  r.guard.data = &r;
  uv_timer_start(&r.guard, on_guard, 10000, 0);
  weft_loop_run(loop);
  weft_loop_close(loop);
  weft_value_free(r.args);
  weft_value_free(r.expected);
  return r.rc < 0 ? 1 : r.rc;
}
