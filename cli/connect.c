/*
 * weft connect URL [--transformer websockets] [--parser json|msgpack|raw]
 *                  [--reconnect-min MS] [--reconnect-max MS]
 *                  [--retries N] [--timeout MS] [--ping-timeout MS] [--strategy LIST]
 *                  [--header 'Name: value']... [--ca-file PEM] [--insecure]
 *                  [--max-length BYTES] [--compression] [--echo]
 *
 * Each stdin line is sent (the JSON value when it parses, else the string;
 * "/id" asks for the spark id, "/end" ends). Each incoming message is printed
 * on stdout as one line of JSON; each event on stderr as one line. Exits 0
 * after `end`, 1 when the server refused or the retries ran out.
 *
 * --echo makes a plain WebSocket echo client (what conformance suites
 * drive): the raw parser, every message sent back as it came (text as text,
 * binary as binary) and not printed, stdin not read, no heartbeat and no
 * /spec request (--ping-timeout 0), and no reconnect (--strategy none)
 * unless those options say otherwise. --compression offers
 * permessage-deflate; --max-length bounds incoming messages (10 MiB).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <weft/weft.h>

#include "cli.h"

typedef struct conn_app {
  weft_loop *loop;
  weft_client *client;
  uv_pipe_t in_pipe;
  uv_tty_t in_tty;
  uv_stream_t *in;
  uv_signal_t sigint, sigterm;
  uv_timer_t drain; /* after stdin's EOF: end once everything is sent */
  int draining;
  char *line;
  size_t len, cap;
  int failed;
  int ended;
  int echo; /* --echo: send every message back, read no stdin */
} conn_app;

static void say(const char *fmt_kind, const char *a) {
  fprintf(stderr, "%s%s%s\n", fmt_kind, a ? " " : "", a ? a : "");
  fflush(stderr);
}

static void on_open(weft_client *c, void *u) {
  (void)c, (void)u;
  say("open", NULL);
}

/* --echo: the raw parser gives text as a string and binary as binary. */
static void echo(weft_client *c, const weft_value *msg) {
  const char *s;
  const uint8_t *b;
  size_t n;
  int rc = weft_value_get_string(msg, &s, &n) == 0   ? weft_client_write_raw(c, s, n, 0)
           : weft_value_get_binary(msg, &b, &n) == 0 ? weft_client_write_raw(c, b, n, 1)
                                                     : WEFT_ETYPE;
  if (rc < 0) say("error write 0", weft_strerror(rc));
}

static void on_data(weft_client *c, const weft_value *msg, void *u) {
  if (((conn_app *)u)->echo) {
    echo(c, msg);
    return;
  }
  uint8_t *json;
  size_t n;
  if (weft_value_encode("json", msg, &json, &n) != 0) {
    say("error encode 0", "cannot print the message as JSON");
    return;
  }
  fwrite(json, 1, n, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  weft_free(json);
}

static void on_error(weft_client *c, const weft_error_info *e, void *u) {
  (void)c;
  /* A refusal or an untrusted server ends us: a failure, not a goodbye. */
  if (strcmp(e->kind, "http") == 0 || strcmp(e->kind, "tls") == 0) ((conn_app *)u)->failed = 1;
  fprintf(stderr, "error %s %d %s%s%s\n", e->kind, e->status, e->message, e->body ? " " : "",
          e->body ? e->body : "");
  fflush(stderr);
}

static void on_close(weft_client *c, void *u) {
  (void)c, (void)u;
  say("close", NULL);
}

static void stop_input(conn_app *a) {
  if (a->in && !uv_is_closing((uv_handle_t *)a->in)) uv_close((uv_handle_t *)a->in, NULL);
  if (!uv_is_closing((uv_handle_t *)&a->sigint)) {
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->drain, NULL);
  }
}

/* stdin is done: the lines it gave are sent before the client ends (they
 * wait for the connection like any write made while not open). */
static void on_drain(uv_timer_t *t) {
  conn_app *a = t->data;
  if (a->ended) return;
  if (weft_client_state(a->client) == WEFT_CLIENT_OPEN &&
      weft_client_buffered_amount(a->client) == 0)
    weft_client_end(a->client, NULL);
}

static void input_done(conn_app *a) {
  if (a->draining || a->ended) return;
  a->draining = 1;
  if (a->in && !uv_is_closing((uv_handle_t *)a->in)) uv_close((uv_handle_t *)a->in, NULL);
  uv_timer_start(&a->drain, on_drain, 0, 10);
}

static void on_end(weft_client *c, void *u) {
  conn_app *a = u;
  say("end", NULL);
  a->ended = 1;
  stop_input(a);
  weft_client_destroy(c);
}

static void on_timeout(weft_client *c, void *u) {
  (void)c, (void)u;
  say("timeout", NULL);
}

static void on_scheduled(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, (void)u;
  fprintf(stderr, "reconnect scheduled %u %u %u\n", i->attempt, i->retries, i->delay_ms);
  fflush(stderr);
}

static void on_reconnect(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, (void)u;
  fprintf(stderr, "reconnect %u\n", i->attempt);
  fflush(stderr);
}

static void on_reconnected(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, (void)u;
  fprintf(stderr, "reconnected %u\n", i->attempt);
  fflush(stderr);
}

static void on_failed(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, (void)i;
  ((conn_app *)u)->failed = 1;
  say("reconnect failed", NULL);
}

static void on_rtimeout(weft_client *c, const weft_reconnect_info *i, void *u) {
  (void)c, (void)u;
  fprintf(stderr, "reconnect timeout %u\n", i->attempt);
  fflush(stderr);
}

static void on_online(weft_client *c, void *u) {
  (void)c, (void)u;
  say("online", NULL);
}

static void on_offline(weft_client *c, void *u) {
  (void)c, (void)u;
  say("offline", NULL);
}

static void on_id(weft_client *c, const char *id, void *u) {
  (void)c, (void)u;
  say("id", id);
}

static void send_line(conn_app *a, char *s, size_t n) {
  if (n && s[n - 1] == '\r') n--;
  if (n == 3 && memcmp(s, "/id", 3) == 0) {
    weft_client_id(a->client);
    return;
  }
  if (n == 4 && memcmp(s, "/end", 4) == 0) {
    weft_client_end(a->client, NULL);
    return;
  }
  weft_value *v = NULL;
  if (weft_value_decode("json", s, n, &v, NULL) != 0) v = weft_value_new_string(s, n);
  if (!v) {
    say("error input 0", "the line is not UTF-8");
    return;
  }
  int rc = weft_client_write(a->client, v);
  if (rc < 0) say("error write 0", weft_strerror(rc));
  weft_value_free(v);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_app *a = h->data;
  (void)suggested;
  if (a->cap - a->len < 65536) {
    size_t cap = a->cap ? a->cap * 2 : 131072;
    char *p = realloc(a->line, cap);
    if (!p) {
      *buf = uv_buf_init(NULL, 0);
      return;
    }
    a->line = p;
    a->cap = cap;
  }
  *buf = uv_buf_init(a->line + a->len, (unsigned)(a->cap - a->len));
}

/* The last `n` bytes of a->line are new: send every complete line. */
static void take_lines(conn_app *a, size_t n) {
  a->len += n;
  size_t start = 0;
  for (size_t i = a->len - n; i < a->len; i++) {
    if (a->line[i] != '\n') continue;
    send_line(a, a->line + start, i - start);
    start = i + 1;
  }
  memmove(a->line, a->line + start, a->len - start);
  a->len -= start;
}

/* stdin that libuv cannot poll (a file, /dev/null): read it all now. */
static void read_all_stdin(conn_app *a) {
  for (;;) {
    uv_buf_t b;
    on_alloc((uv_handle_t *)&a->drain, 0, &b);
    if (!b.base) break;
    ssize_t n = read(0, b.base, b.len);
    if (n <= 0) break;
    take_lines(a, (size_t)n);
  }
  if (a->len) send_line(a, a->line, a->len);
  a->len = 0;
  input_done(a);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn_app *a = s->data;
  (void)buf;
  if (n < 0) { /* EOF: a last unterminated line, then the end */
    if (a->len) send_line(a, a->line, a->len);
    a->len = 0;
    input_done(a);
    return;
  }
  take_lines(a, (size_t)n);
}

static void on_signal(uv_signal_t *h, int signum) {
  conn_app *a = h->data;
  (void)signum;
  stop_input(a);
  if (!a->ended) weft_client_end(a->client, NULL);
}

static int parse_u32(const char *s, uint32_t *out) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (!*s || *end || v > 0xffffffffUL) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int parse_size(const char *s, size_t *out) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *s == '-' || *end || v == 0 || v > SIZE_MAX) return -1;
  *out = (size_t)v;
  return 0;
}

static int configure(conn_app *a, int argc, char **argv) {
  weft_client *c = a->client;
  uint32_t rmin = 500, rmax = 0, retries = 10, v;
  size_t bytes;
  /* --echo's defaults first: the options given may change them. */
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--echo") == 0) a->echo = 1;
  if (a->echo && (weft_client_set_parser(c, "raw") || weft_client_set_ping_timeout(c, 0) ||
                  weft_client_set_strategy(c, "none")))
    return -1;
  for (int i = 0; i < argc; i++) {
    const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = -1;
    if (strcmp(k, "--insecure") == 0) {
      weft_client_set_verify(c, 0);
      continue;
    }
    if (strcmp(k, "--compression") == 0) {
      weft_client_set_compression(c, 1);
      continue;
    }
    if (strcmp(k, "--echo") == 0) continue;
    if (!val)
      rc = -1;
    else if (strcmp(k, "--ca-file") == 0)
      rc = weft_client_set_ca_file(c, val);
    else if (strcmp(k, "--psk-file") == 0) {
      unsigned char key[256];
      int n = weft_cli_read_psk(val, key);
      rc = n < 0 ? -2 : weft_client_set_psk(c, key, (size_t)n);
    } else if (strcmp(k, "--parser") == 0 && a->echo && strcmp(val, "raw") != 0) {
      fprintf(stderr, "weft: --echo speaks the raw parser\n");
      rc = -2;
    } else if (strcmp(k, "--parser") == 0)
      rc = weft_client_set_parser(c, val);
    else if (strcmp(k, "--max-length") == 0)
      rc = parse_size(val, &bytes) ? -1 : weft_client_set_max_length(c, bytes);
    else if (strcmp(k, "--transformer") == 0)
      rc = weft_cli_check_transformer(val) ? -2 : weft_client_set_transformer(c, val);
    else if (strcmp(k, "--transports") == 0)
      rc = weft_client_set_transports(c, val);
    else if (strcmp(k, "--transport") == 0) {
      if ((rc = weft_client_set_transport(c, val)) != 0)
        fprintf(stderr,
                "weft: bad option --transport %s: ws, httpstream or httplongpoll, and the one "
                "the URL's transport= names if it names one\n",
                val);
      if (rc) rc = -2;
    } else if (strcmp(k, "--strategy") == 0)
      rc = weft_client_set_strategy(c, val);
    else if (strcmp(k, "--reconnect-min") == 0)
      rc = parse_u32(val, &rmin);
    else if (strcmp(k, "--reconnect-max") == 0)
      rc = parse_u32(val, &rmax);
    else if (strcmp(k, "--retries") == 0)
      rc = parse_u32(val, &retries);
    else if (strcmp(k, "--timeout") == 0)
      rc = parse_u32(val, &v) ? -1 : weft_client_set_timeout(c, v);
    else if (strcmp(k, "--ping-timeout") == 0)
      rc = parse_u32(val, &v) ? -1 : weft_client_set_ping_timeout(c, v);
    else if (strcmp(k, "--header") == 0) {
      const char *colon = strchr(val, ':');
      char name[256];
      if (colon && (size_t)(colon - val) < sizeof(name)) {
        memcpy(name, val, (size_t)(colon - val));
        name[colon - val] = '\0';
        const char *hv = colon + 1;
        while (*hv == ' ')
          hv++;
        rc = weft_client_add_header(c, name, hv);
      }
    }
    if (rc == -2) return -1; /* already said why */
    if (rc != 0) {
      fprintf(stderr, "weft: bad option %s%s%s\n", k, val ? " " : "", val ? val : "");
      return -1;
    }
    i++;
  }
  if (weft_client_set_reconnect(c, rmin, rmax, retries, 2) != 0) {
    fprintf(stderr, "weft: bad reconnect bounds\n");
    return -1;
  }
  return 0;
}

int weft_cli_connect(int argc, char **argv) {
  if (weft_cli_wants_help(argc, argv)) {
    weft_cli_help_connect(stdout);
    return 0;
  }
  if (argc < 1) {
    fprintf(stderr, "usage: weft connect URL [options] (weft connect --help for more)\n");
    return 2;
  }
  conn_app a = {0};
  int rc = weft_loop_new(&a.loop);
  if (rc == 0) rc = weft_client_new(a.loop, argv[0], &a.client);
  if (rc) {
    fprintf(stderr, "weft: %s: %s\n", argv[0], weft_strerror(rc));
    if (a.loop) weft_loop_close(a.loop);
    return 2;
  }
  if (configure(&a, argc - 1, argv + 1) != 0) {
    weft_client_destroy(a.client);
    weft_loop_run(a.loop);
    weft_loop_close(a.loop);
    return 2;
  }
  weft_client_events ev = {sizeof(ev),   on_open,        on_data,    on_error,
                           on_close,     on_end,         on_timeout, on_scheduled,
                           on_reconnect, on_reconnected, on_failed,  on_online,
                           on_offline,   on_id,          NULL,       on_rtimeout};
  weft_client_set_events(a.client, &ev, &a, NULL);
  uv_loop_t *uv = weft_loop_uv(a.loop);
  uv_timer_init(uv, &a.drain);
  a.drain.data = &a;
  uv_handle_type kind = a.echo ? UV_UNKNOWN_HANDLE : uv_guess_handle(0);
  if (a.echo) {
    /* stdin is not ours: the connection's end ends us. */
  } else if (kind == UV_TTY) {
    uv_tty_init(uv, &a.in_tty, 0, 1);
    a.in = (uv_stream_t *)&a.in_tty;
  } else if (kind == UV_NAMED_PIPE || kind == UV_TCP) {
    uv_pipe_init(uv, &a.in_pipe, 0);
    if (uv_pipe_open(&a.in_pipe, 0) == 0)
      a.in = (uv_stream_t *)&a.in_pipe;
    else
      uv_close((uv_handle_t *)&a.in_pipe, NULL);
  }
  if (a.in) {
    a.in->data = &a;
    uv_read_start(a.in, on_alloc, on_stdin);
  }
  uv_signal_init(uv, &a.sigint);
  uv_signal_init(uv, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  /* A client that cannot start (a CA file that does not load: the error event
   * said which) ends here: nothing else would end the loop. */
  if ((rc = weft_client_open(a.client)) != 0) {
    fprintf(stderr, "weft: cannot connect to %s: %s\n", argv[0], weft_strerror(rc));
    a.failed = 1;
    weft_client_end(a.client, NULL); /* on_end closes the rest */
  } else if (!a.in && !a.echo) {
    read_all_stdin(&a);
  }
  weft_loop_run(a.loop);
  free(a.line);
  rc = weft_loop_close(a.loop);
  return rc != 0 ? 1 : a.failed ? 1 : 0;
}
