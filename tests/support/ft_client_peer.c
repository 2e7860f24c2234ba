/*
 * weft's C client, driven line by line, for the matrix against npm
 * fast-tcp's server (tests/interop/fasttcp_client_matrix.test.js):
 *
 *   weft_ft_client URL
 *
 * Each stdin line is the hex of a msgpack array (msgpack carries binary,
 * NaN and ±Infinity, which JSON cannot):
 *   ["emit", EVENT, ARGS]        emits EVENT with the array ARGS, no ack
 *   ["ask", TAG, EVENT, ARGS]    emits it with an ack; prints
 *                                ["ack", TAG, STATUS, VALUE]
 *   ["join", ROOM] / ["leave", ROOM] / ["leave_all"]   no ack
 *   ["join", ROOM, TAG] / ["leave", ROOM, TAG] / ["leave_all", TAG]
 *                                with an ack: prints ["ack", TAG, STATUS, null]
 * Each event from the server is printed as ["event", NAME, ARGS]; one
 * that asks for an answer is answered with its first argument (null when
 * none). Output lines are hex msgpack too; "open", "reconnected" and
 * "close" go to stderr. Exits 0 when stdin closes; 2 on usage or setup;
 * 1 on a line it cannot read or a command weft refuses.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "weft/ext.h"

typedef struct run {
  weft_loop *loop;
  weft_client *c;
  weft_emitter *em;
  uv_pipe_t in;
  char *line;
  size_t len, cap;
  int rc;
} run;

static void print_value(const weft_value *v) {
  uint8_t *out = NULL;
  size_t len = 0;
  if (weft_value_encode("msgpack", v, &out, &len) != 0) {
    fprintf(stderr, "ft_client_peer: cannot encode an output\n");
    return;
  }
  for (size_t i = 0; i < len; i++)
    printf("%02x", out[i]);
  printf("\n");
  fflush(stdout);
  weft_free(out);
}

static void push_str(weft_value *arr, const char *s) {
  weft_value_array_push(arr, weft_value_new_string(s, strlen(s)));
}

static void on_ack(const weft_ack *a, void *user) {
  weft_value *tag = user;
  weft_value *out = weft_value_new_array();
  push_str(out, "ack");
  weft_value_array_push(out, tag);
  push_str(out, a->status ? weft_err_name(a->status) : "OK");
  weft_value_array_push(out, a->value ? weft_value_dup(a->value) : weft_value_new_null());
  print_value(out);
  weft_value_free(out);
}

static void on_event(const weft_event *ev, void *user) {
  (void)user;
  weft_value *out = weft_value_new_array();
  push_str(out, "event");
  push_str(out, ev->name);
  weft_value_array_push(out, weft_value_dup(ev->args));
  print_value(out);
  weft_value_free(out);
  if (ev->reply) {
    const weft_value *first = weft_value_array_at(ev->args, 0);
    weft_value *null = weft_value_new_null();
    weft_reply_resolve(ev->reply, first ? first : null);
    weft_value_free(null);
  }
}

static const char *str_at(const weft_value *v, size_t i, char *buf, size_t cap) {
  const char *s;
  size_t n;
  if (weft_value_get_string(weft_value_array_at(v, i), &s, &n) != 0 || n >= cap) return NULL;
  memcpy(buf, s, n);
  buf[n] = 0;
  return buf;
}

static int nibble(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int command(run *r, const char *hex, size_t n) {
  if (n % 2) return WEFT_EINVAL;
  uint8_t *bytes = malloc(n / 2 + 1);
  for (size_t i = 0; i < n / 2; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return free(bytes), WEFT_EINVAL;
    bytes[i] = (uint8_t)(hi << 4 | lo);
  }
  weft_value *v = NULL;
  int rc = weft_value_decode("msgpack", bytes, n / 2, &v, NULL);
  free(bytes);
  if (rc) return rc;
  char op[16], a[256];
  rc = WEFT_EINVAL;
  if (!str_at(v, 0, op, sizeof(op))) {
  } else if (strcmp(op, "emit") == 0 && str_at(v, 1, a, sizeof(a))) {
    rc = weft_emitter_emit(r->em, NULL, a, weft_value_array_at(v, 2), WEFT_EMIT_DEFAULT_TIMEOUT,
                           NULL, NULL);
  } else if (strcmp(op, "ask") == 0 && str_at(v, 2, a, sizeof(a))) {
    weft_value *tag = weft_value_dup(weft_value_array_at(v, 1));
    rc = weft_emitter_emit(r->em, NULL, a, weft_value_array_at(v, 3), 8000, on_ack, tag);
    if (rc < 0) weft_value_free(tag);
  } else if ((strcmp(op, "join") == 0 || strcmp(op, "leave") == 0) && str_at(v, 1, a, sizeof(a))) {
    weft_value *tag = weft_value_len(v) > 2 ? weft_value_dup(weft_value_array_at(v, 2)) : NULL;
    rc = op[0] == 'j' ? weft_emitter_join(r->em, a, tag ? on_ack : NULL, tag)
                      : weft_emitter_leave(r->em, a, tag ? on_ack : NULL, tag);
    if (rc < 0) weft_value_free(tag);
  } else if (strcmp(op, "leave_all") == 0) {
    weft_value *tag = weft_value_len(v) > 1 ? weft_value_dup(weft_value_array_at(v, 1)) : NULL;
    rc = weft_emitter_leave_all(r->em, tag ? on_ack : NULL, tag);
    if (rc < 0) weft_value_free(tag);
  }
  weft_value_free(v);
  return rc < 0 ? rc : 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(hint);
  buf->len = hint;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  run *r = s->data;
  if (nread < 0) {
    free(buf->base);
    uv_close((uv_handle_t *)&r->in, NULL);
    weft_client_destroy(r->c);
    return;
  }
  if (r->len + (size_t)nread > r->cap) {
    r->cap = (r->len + (size_t)nread) * 2;
    r->line = realloc(r->line, r->cap);
  }
  memcpy(r->line + r->len, buf->base, (size_t)nread);
  r->len += (size_t)nread;
  free(buf->base);
  size_t start = 0;
  for (size_t i = 0; i < r->len; i++) {
    if (r->line[i] != '\n') continue;
    int rc = command(r, r->line + start, i - start);
    if (rc) {
      fprintf(stderr, "ft_client_peer: command refused: %s\n", weft_strerror(rc));
      r->rc = 1;
    }
    start = i + 1;
  }
  memmove(r->line, r->line + start, r->len - start);
  r->len -= start;
}

static void on_open(weft_client *c, void *user) {
  (void)c, (void)user;
  fprintf(stderr, "open\n");
}

static void on_reconnected(weft_client *c, const weft_reconnect_info *info, void *user) {
  (void)c, (void)info, (void)user;
  fprintf(stderr, "reconnected\n");
}

static void on_close(weft_client *c, void *user) {
  (void)c, (void)user;
  fprintf(stderr, "close\n");
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc != 2) {
    fprintf(stderr, "usage: %s URL\n", argv[0]);
    return 2;
  }
  run r = {0};
  weft_client_events ev = {
      .size = sizeof(ev), .open = on_open, .reconnected = on_reconnected, .close = on_close};
  if (weft_loop_new(&r.loop) || weft_client_new(r.loop, argv[1], &r.c) ||
      weft_client_set_events(r.c, &ev, &r, NULL) ||
      weft_client_set_reconnect(r.c, 50, 200, 100, 1.5) || weft_emitter_client(r.c, &r.em) ||
      weft_emitter_on(r.em, "*", on_event, &r, NULL) || weft_client_open(r.c)) {
    fprintf(stderr, "ft_client_peer: setup failed\n");
    return 2;
  }
  uv_pipe_init(weft_loop_uv(r.loop), &r.in, 0);
  r.in.data = &r;
  if (uv_pipe_open(&r.in, 0) || uv_read_start((uv_stream_t *)&r.in, on_alloc, on_read)) {
    fprintf(stderr, "ft_client_peer: stdin must be a pipe\n");
    return 2;
  }
  weft_loop_run(r.loop);
  weft_loop_close(r.loop);
  free(r.line);
  return r.rc;
}
