/* The C driver's loop: stdin and the weft loop's fd in one poll(), as
 * weft.h's third way of driving a loop (fd, timeout, run_once); one reply
 * line per command line. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"

static const char *CAPS[] = {"server",
                             "client",
                             "values",
                             "values.int64.json",
                             "values.float",
                             "values.binary",
                             "parser.msgpack",
                             "parser.raw",
                             "authorize",
                             "server.transform.in",
                             "server.transform.out",
                             "server.plugin",
                             "emitter",
                             "rooms",
                             "rooms.client",
                             "channels",
                             "batching",
                             "queue",
                             "drain",
                             "spark.enumerate",
                             "origins",
                             "trusted_proxies",
                             "compression",
                             "id_generator",
                             "static_files",
                             "serve_client",
                             "client.manual",
                             "client.destroy",
                             "client.set_online",
                             "client.id",
                             "client.headers",
                             "client.emitter",
                             "client.channels",
                             "client.batching",
                             "client.max_length",
                             "client.http_status",
                             "client.compression",
                             "client.transform.in",
                             "client.transform.out",
                             "client.plugin",
                             NULL};

static weft_loop *loop;

weft_loop *conf_loop(void) { return loop; }

int conf_fail(conf_err *e, int rc, const char *what) {
  snprintf(e->code, sizeof e->code, "%s", weft_err_name(rc));
  snprintf(e->message, sizeof e->message, "%s: %s", what, weft_strerror(rc));
  return -1;
}

int conf_failx(conf_err *e, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  snprintf(e->code, sizeof e->code, "%s", code);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

static int quitting;

static int dispatch(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e) {
  if (strcmp(name, "serve") == 0) return conf_serve(cmd, reply, e);
  if (strcmp(name, "connect") == 0) return conf_connect(cmd, reply, e);
  if (strcmp(name, "quit") == 0) {
    quitting = 1;
    conf_servers_close();
    conf_clients_close();
    return 0;
  }
  int rc = conf_ext_cmd(name, cmd, reply, e);
  if (rc != 1) return rc;
  if (conf_get(cmd, "server"))
    rc = conf_server_cmd(name, cmd, reply, e);
  else
    rc = conf_client_cmd(name, cmd, reply, e);
  if (rc != 1) return rc;
  return conf_failx(e, "ECAP", "unknown command %s", name);
}

static void handle(const char *line, size_t len) {
  weft_value *raw = NULL, *cmd = NULL;
  if (weft_value_decode("json", line, len, &raw, NULL) != 0 || !(cmd = conf_from_wire(raw))) {
    fprintf(stderr, "conformance driver: a command line that is not JSON: %.*s\n", (int)len, line);
    weft_value_free(raw);
    return;
  }
  weft_value_free(raw);
  const weft_value *id = conf_get(cmd, "id");
  const char *name = conf_str(cmd, "cmd");
  weft_value *reply = conf_event(NULL);
  conf_err e = {{0}, {0}};
  int rc = name ? dispatch(name, cmd, reply, &e) : conf_failx(&e, "EINVAL", "no cmd");
  conf_put(reply, "id", weft_value_dup(id));
  conf_put_bool(reply, "ok", rc == 0);
  if (rc != 0) {
    conf_put_str(reply, "code", e.code);
    conf_put_str(reply, "message", e.message);
  }
  conf_emit(reply);
  weft_value_free(cmd);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (weft_loop_new(&loop) != 0) return 1;
  weft_value *hello = conf_event("hello");
  conf_put_int(hello, "protocol", 1);
  conf_put_str(hello, "host", "c");
  weft_value *caps = weft_value_new_array();
  for (size_t i = 0; CAPS[i]; i++)
    weft_value_array_push(caps, weft_value_new_string(CAPS[i], strlen(CAPS[i])));
  conf_put(hello, "caps", caps);
  conf_put_int(hello, "pid", getpid());
  conf_emit(hello);

  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  int eof = 0;
  long deadline = 0;
  while (buf) {
    struct pollfd p[2] = {{.fd = eof ? -1 : 0, .events = POLLIN},
                          {.fd = weft_loop_fd(loop), .events = POLLIN}};
    int t = weft_loop_timeout(loop);
    if (quitting) {
      /* Ends when every server and client has closed, or after a second. */
      if (conf_servers_close() + conf_clients_close() == 0) break;
      if (!deadline) deadline = now_ms() + 1000;
      long left = deadline - now_ms();
      if (left <= 0) break;
      if (t < 0 || t > left) t = (int)left;
    }
    if (poll(p, 2, t) < 0 && errno != EINTR) break;
    if (p[0].revents) {
      if (len == cap && !(buf = realloc(buf, cap *= 2))) break;
      ssize_t n = read(0, buf + len, cap - len);
      if (n <= 0)
        eof = 1;
      else
        len += (size_t)n;
      char *nl;
      while (!quitting && (nl = memchr(buf, '\n', len))) {
        size_t l = (size_t)(nl - buf);
        if (l) handle(buf, l);
        memmove(buf, nl + 1, len - l - 1);
        len -= l + 1;
      }
      if (eof && !quitting) {
        quitting = 1;
        conf_servers_close();
        conf_clients_close();
      }
    }
    weft_loop_run_once(loop);
  }
  free(buf);
  return 0;
}
