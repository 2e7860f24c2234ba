/*
 * Static content through real sockets on 127.0.0.1: in-memory assets
 * (weft_server_add_asset) and a static folder (weft_server_set_static_dir),
 * with bad input — path traversal, encoded dots, hidden files, folders,
 * missing files, symbolic links, bad escapes, huge paths, other methods —
 * and the real-time endpoint still working beside them. The server runs on
 * the loop in the main thread; a client thread sends raw HTTP.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "primus/library.h"
#include "weft/weft.h"
#include "wsclient.h"

typedef struct fixture {
  weft_loop *loop;
  weft_server *server;
  int port;
  char dir[64];
  pthread_t thread;
  void *thread_arg;
  char fail[512];
  int closed;
} fixture;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      if (!f->fail[0]) snprintf(f->fail, sizeof(f->fail), "line %d: %s", __LINE__, #cond);         \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

static const char asset_js[] = "window.x = 1;\n";

static void write_file(const char *dir, const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

/* The folder: index.html, app.css, sub/index.html, sub/data.bin (with a NUL
 * byte), .secret, empty/ (no index), link.html → /etc/hostname, and outside
 * it, next to it, a file that traversal would reach. */
static void make_tree(fixture *f) {
  snprintf(f->dir, sizeof(f->dir), "/tmp/weft-static-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char sub[128];
  snprintf(sub, sizeof(sub), "%.60s/www", f->dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  write_file(sub, "index.html", "<h1>home</h1>");
  write_file(sub, "app.css", "body{}");
  write_file(sub, ".secret", "no");
  write_file(f->dir, "outside.txt", "outside");
  char p[160];
  snprintf(p, sizeof(p), "%s/sub", sub);
  assert_int_equal(mkdir(p, 0755), 0);
  write_file(p, "index.html", "<h1>sub</h1>");
  snprintf(p, sizeof(p), "%s/sub/data.bin", sub);
  FILE *fp = fopen(p, "wb");
  assert_non_null(fp);
  fwrite("a\0b", 1, 3, fp);
  fclose(fp);
  snprintf(p, sizeof(p), "%s/empty", sub);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/link.html", sub);
  assert_int_equal(symlink("../outside.txt", p), 0);
}

static void remove_tree(fixture *f) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
}

static int get(fixture *f, const char *method, const char *target, char *resp, size_t cap) {
  char req[6000];
  snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, target);
  return wsc_http(f->port, req, resp, cap);
}

static const char *body_of(const char *resp) {
  const char *b = strstr(resp, "\r\n\r\n");
  return b ? b + 4 : "";
}

/* Writes `req` on a new connection and reads what comes back until the
 * server closes it or 1 s passes without a byte (*closed says which). */
static size_t exchange(fixture *f, const char *req, char *resp, size_t cap, int *closed) {
  int fd = wsc_tcp_connect(f->port);
  size_t got = 0;
  *closed = 0;
  if (fd < 0 || write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
    if (fd >= 0) close(fd);
    resp[0] = '\0';
    return 0;
  }
  while (got < cap - 1) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 1000) <= 0) break;
    ssize_t n = read(fd, resp + got, cap - 1 - got);
    if (n <= 0) {
      *closed = 1;
      break;
    }
    got += (size_t)n;
  }
  resp[got] = '\0';
  close(fd);
  return got;
}

static int count_of(const char *s, const char *what) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
    n++;
  return n;
}

/* HTTP/1.1 keep-alive: answers that succeed keep the connection, pipelined
 * requests are answered in order; a request with a body nobody reads, a
 * refusal or "Connection: close" ends it. */
static void keep_alive_body(fixture *f) {
  static char r[65536];
  int closed;
#define SPEC "GET /primus/spec HTTP/1.1\r\nHost: a\r\n"
  exchange(f,
           SPEC "\r\n"
                "GET /app.css HTTP/1.1\r\nHost: a\r\n\r\n"
                "HEAD /primus/app.js HTTP/1.1\r\nHost: a\r\n\r\n" SPEC "\r\n",
           r, sizeof r, &closed);
  CHECK(count_of(r, "HTTP/1.1 200 OK\r\n") == 4);
  CHECK(count_of(r, "Connection: keep-alive\r\n") == 4);
  CHECK(!closed); /* still open for more */
  CHECK(strstr(r, "Content-Type: text/css") < strstr(r, "Content-Type: text/javascript"));
  /* the last of a pipeline says close */
  exchange(f, SPEC "\r\n" SPEC "Connection: close\r\n\r\n" SPEC "\r\n", r, sizeof r, &closed);
  CHECK(count_of(r, "HTTP/1.1 200 OK\r\n") == 2 && closed);
  /* bodies not read: the bytes after the head are not a second request */
  exchange(f, SPEC "Content-Length: 38\r\n\r\n" SPEC "\r\n", r, sizeof r, &closed);
  CHECK(count_of(r, "HTTP/1.1 200 OK\r\n") == 1 && closed);
  CHECK(strstr(r, "Connection: close\r\n"));
  exchange(f, SPEC "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SPEC "\r\n", r, sizeof r, &closed);
  CHECK(count_of(r, "HTTP/1.1 200 OK\r\n") == 1 && closed);
  exchange(f, SPEC "Content-Length: 0\r\nContent-Length: 38\r\n\r\n" SPEC "\r\n", r, sizeof r,
           &closed);
  CHECK(count_of(r, "HTTP/1.1 200 OK\r\n") == 1 && closed); /* two lengths: either may hold */
  exchange(f, SPEC "Content-Length: 00\r\n\r\n" SPEC "\r\n", r, sizeof r, &closed);
  CHECK(count_of(r, "HTTP/1.1 200 OK\r\n") == 2 && !closed); /* an empty body is none */
  /* a refusal closes; HTTP/1.0 closes */
  exchange(f, "GET /missing.html HTTP/1.1\r\nHost: a\r\n\r\n" SPEC "\r\n", r, sizeof r, &closed);
  CHECK(count_of(r, "HTTP/1.1 ") == 1 && strstr(r, " 404 ") && closed);
  exchange(f, "GET /primus/spec HTTP/1.0\r\n\r\n" SPEC "\r\n", r, sizeof r, &closed);
  CHECK(count_of(r, "HTTP/1.1 200 OK\r\n") == 1 && closed);
  /* a file, then the upgrade on the same connection */
  exchange(f,
           SPEC "\r\nGET /primus HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
           r, sizeof r, &closed);
  CHECK(strstr(r, "HTTP/1.1 200 OK\r\n") && strstr(r, "HTTP/1.1 101 Switching Protocols\r\n"));
  CHECK(strstr(r, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") && !closed);
  /* 200 requests for the 23 KB client, never read while they are sent:
   * answered until 256 KiB wait unwritten, then the connection ends. */
  static char many[200 * 48 + 1];
  many[0] = '\0';
  for (int i = 0; i < 200; i++)
    strcat(many, "GET /primus/primus.js HTTP/1.1\r\nHost: a\r\n\r\n");
  static char big[8 << 20];
  exchange(f, many, big, sizeof big, &closed);
  int answers = count_of(big, "HTTP/1.1 200 OK\r\n");
  CHECK(closed && answers >= 2 && answers < 40);
  CHECK(count_of(big, "Connection: close\r\n") == 1);
#undef SPEC
}

static void client_body(fixture *f) {
  char r[8192];
  /* the folder */
  CHECK(get(f, "GET", "/", r, sizeof(r)) == 200);
  CHECK(strstr(r, "Content-Type: text/html; charset=utf-8\r\n"));
  CHECK(strcmp(body_of(r), "<h1>home</h1>") == 0);
  CHECK(get(f, "GET", "/index.html?v=2", r, sizeof(r)) == 200);
  CHECK(get(f, "GET", "/app.css", r, sizeof(r)) == 200);
  CHECK(strstr(r, "Content-Type: text/css"));
  CHECK(get(f, "GET", "/sub/", r, sizeof(r)) == 200);
  CHECK(strcmp(body_of(r), "<h1>sub</h1>") == 0);
  CHECK(get(f, "GET", "/sub/data.bin", r, sizeof(r)) == 200);
  CHECK(strstr(r, "Content-Length: 3\r\n"));
  CHECK(strstr(r, "application/octet-stream"));
  CHECK(get(f, "GET", "/%73ub/index.html", r, sizeof(r)) == 200); /* %73 = s */
  /* HEAD: the head only */
  CHECK(get(f, "HEAD", "/app.css", r, sizeof(r)) == 200);
  CHECK(strstr(r, "Content-Length: 6\r\n"));
  CHECK(strcmp(body_of(r), "") == 0);
  /* bad input */
  CHECK(get(f, "GET", "/../outside.txt", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/sub/../../outside.txt", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/%2e%2e/outside.txt", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/%2E%2E/outside.txt", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/sub/%2e%2e%2f%2e%2e%2foutside.txt", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/.%2e/outside.txt", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/./index.html", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/.secret", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/%2esecret", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/link.html", r, sizeof(r)) == 404); /* no symlinks */
  CHECK(get(f, "GET", "/missing.html", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/sub", r, sizeof(r)) == 404);    /* a folder */
  CHECK(get(f, "GET", "/empty/", r, sizeof(r)) == 404); /* no index: no listing */
  CHECK(get(f, "GET", "/sub\\..\\..\\outside.txt", r, sizeof(r)) == 404);
  CHECK(get(f, "GET", "/index.html%00.css", r, sizeof(r)) == 400);
  CHECK(get(f, "GET", "/%zz", r, sizeof(r)) == 400);
  CHECK(get(f, "GET", "/%2", r, sizeof(r)) == 400);
  char huge[5000] = "/";
  memset(huge + 1, 'a', 2000);
  CHECK(get(f, "GET", huge, r, sizeof(r)) == 414);
  memset(huge + 1, 'a', sizeof(huge) - 2);
  huge[sizeof(huge) - 1] = '\0';
  int st = get(f, "GET", huge, r, sizeof(r));
  CHECK(st == 414 || st == 431);
  CHECK(get(f, "POST", "/index.html", r, sizeof(r)) == 405);
  CHECK(strstr(r, "Allow: GET, HEAD\r\n"));
  CHECK(get(f, "DELETE", "/", r, sizeof(r)) == 405);
  /* assets: exact paths, also under the pathname */
  CHECK(get(f, "GET", "/primus/app.js", r, sizeof(r)) == 200);
  CHECK(strstr(r, "Content-Type: text/javascript; charset=utf-8\r\n"));
  CHECK(strcmp(body_of(r), asset_js) == 0);
  CHECK(get(f, "GET", "/primus/app.js?cache=1", r, sizeof(r)) == 200);
  CHECK(get(f, "HEAD", "/primus/app.js", r, sizeof(r)) == 200);
  CHECK(strcmp(body_of(r), "") == 0);
  CHECK(get(f, "GET", "/primus/empty", r, sizeof(r)) == 200);
  CHECK(strstr(r, "Content-Length: 0\r\n"));
  CHECK(get(f, "POST", "/primus/app.js", r, sizeof(r)) == 405);
  CHECK(get(f, "GET", "/primus/app.js/", r, sizeof(r)) == 426); /* not the asset */
  /* the browser client, from the library itself */
  static char lib[65536];
  CHECK(get(f, "GET", "/primus/weft.js", lib, sizeof(lib)) == 200);
  CHECK(strstr(lib, "Content-Type: text/javascript; charset=utf-8\r\n"));
  CHECK(strlen(body_of(lib)) == weft__library_weft_js_len);
  CHECK(memcmp(body_of(lib), weft__library_weft_js, weft__library_weft_js_len) == 0);
  CHECK(get(f, "GET", "/primus/primus.js", lib, sizeof(lib)) == 200);
  CHECK(strstr(body_of(lib), "Primus"));
  CHECK(get(f, "GET", "/primus/weft-channels.js", lib, sizeof(lib)) == 200);
  CHECK(strlen(body_of(lib)) == weft__library_channels_js_len);
  CHECK(memcmp(body_of(lib), weft__library_channels_js, weft__library_channels_js_len) == 0);
  CHECK(get(f, "GET", "/weft.js", lib, sizeof(lib)) == 404); /* only under the pathname */
  /* the folder never serves under the pathname; the endpoint still works */
  CHECK(get(f, "GET", "/primus", r, sizeof(r)) == 426);
  CHECK(get(f, "GET", "/primus/index.html", r, sizeof(r)) == 426);
  CHECK(get(f, "GET", "/primus/spec", r, sizeof(r)) == 200);
  CHECK(get(f, "GET", "/primusx", r, sizeof(r)) == 404);
  wsc c;
  CHECK(wsc_connect(&c, f->port, "/primus", NULL, NULL, 0, NULL, 0) == 101);
  CHECK(wsc_send_text(&c, "\"echo\"") == 0);
  uint8_t *p;
  size_t len;
  int op = wsc_recv_data(&c, &p, &len, 1, 3000);
  int echoed = op == 1 && len == 6 && memcmp(p, "\"echo\"", 6) == 0;
  wsc_close(&c);
  CHECK(echoed);
  keep_alive_body(f);
}

static void on_data(weft_spark *sp, const weft_value *msg, void *user) {
  (void)user;
  weft_spark_write(sp, msg);
}

static void on_close(weft_server *s, void *user) {
  (void)s;
  ((fixture *)user)->closed = 1;
}

static void destroy_server(void *arg) {
  fixture *f = arg;
  weft_server_destroy(f->server, NULL);
}

static void *client_main(void *arg) {
  fixture *f = arg;
  client_body(f);
  weft_loop_post(f->loop, destroy_server, f);
  return NULL;
}

static void test_static_and_assets(void **state) {
  (void)state;
  fixture fx = {0}, *f = &fx;
  make_tree(f);
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  weft_server_events ev = {.size = sizeof(ev), .data = on_data, .close = on_close};
  assert_int_equal(weft_server_set_events(f->server, &ev, f, NULL), 0);
  char www[128];
  snprintf(www, sizeof(www), "%.60s/www", f->dir);
  assert_int_equal(weft_server_set_static_dir(f->server, www), 0);
  const char *js = "text/javascript; charset=utf-8";
  assert_int_equal(
      weft_server_add_asset(f->server, "/primus/app.js", js, asset_js, strlen(asset_js)), 0);
  assert_int_equal(weft_server_add_asset(f->server, "/primus/empty", "text/plain", NULL, 0), 0);
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/primus"), 0);
  f->port = weft_server_port(f->server);
  assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  pthread_join(f->thread, NULL);
  if (f->fail[0]) fail_msg("client: %s", f->fail);
  assert_true(f->closed);
  assert_int_equal(weft_loop_close(f->loop), 0);
  remove_tree(f);
}

/* The client library under "/" (paths at the root), and turned off. */
static int off_port;

static void library_body(fixture *f) {
  char r[65536];
  CHECK(get(f, "GET", "/weft.js", r, sizeof(r)) == 200);
  CHECK(strlen(body_of(r)) == weft__library_weft_js_len);
  CHECK(get(f, "GET", "/primus.js", r, sizeof(r)) == 200);
  fixture off = *f;
  off.port = off_port;
  CHECK(get(&off, "GET", "/primus/weft.js", r, sizeof(r)) == 426); /* only the endpoint */
  CHECK(get(&off, "GET", "/primus/primus.js", r, sizeof(r)) == 426);
  CHECK(get(&off, "GET", "/primus/weft-channels.js", r, sizeof(r)) == 426);
}

static void destroy_both(void *arg) {
  fixture *f = arg;
  weft_server_destroy(f->server, NULL);
  weft_server_destroy((weft_server *)f->thread_arg, NULL);
}

static void *library_main(void *arg) {
  fixture *f = arg;
  library_body(f);
  weft_loop_post(f->loop, destroy_both, f);
  return NULL;
}

static void test_client_library(void **state) {
  (void)state;
  fixture fx = {0}, *f = &fx;
  weft_server *off;
  assert_int_equal(weft_loop_new(&f->loop), 0);
  assert_int_equal(weft_server_new(f->loop, &f->server), 0);
  assert_int_equal(weft_server_new(f->loop, &off), 0);
  assert_int_equal(weft_server_set_client_library(NULL, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_set_client_library(off, 0), 0);
  assert_int_equal(weft_server_listen(f->server, "ws://127.0.0.1:0/"), 0);
  assert_int_equal(weft_server_listen(off, "ws://127.0.0.1:0/primus"), 0);
  assert_int_equal(weft_server_set_client_library(off, 1), WEFT_ESTATE);
  f->port = weft_server_port(f->server);
  off_port = weft_server_port(off);
  f->thread_arg = off;
  assert_int_equal(pthread_create(&f->thread, NULL, library_main, f), 0);
  assert_int_equal(weft_loop_run(f->loop), 0);
  pthread_join(f->thread, NULL);
  if (f->fail[0]) fail_msg("client: %s", f->fail);
  assert_int_equal(weft_loop_close(f->loop), 0);
}

/* Misuse and bad arguments return errors and change nothing. */
static void test_bad_arguments(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  const char *ct = "text/plain";
  assert_int_equal(weft_server_add_asset(NULL, "/a", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, NULL, ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/a", NULL, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/a", ct, NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "a.js", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/../a.js", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/x/./a.js", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/.env", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/a.js?v=1", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/a\r\nX: y", ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/a", "text/plain\r\nX-Evil: 1", "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/a", "", "x", 1), WEFT_EINVAL);
  char huge[1100];
  memset(huge, 'a', sizeof(huge) - 1);
  huge[0] = '/';
  huge[sizeof(huge) - 1] = '\0';
  assert_int_equal(weft_server_add_asset(s, huge, ct, "x", 1), WEFT_EINVAL);
  assert_int_equal(weft_server_add_asset(s, "/a", ct, "x", 1), 0);
  assert_int_equal(weft_server_add_asset(s, "/a", ct, "y", 1), WEFT_EEXIST);
  assert_int_equal(weft_server_set_static_dir(NULL, "/tmp"), WEFT_EINVAL);
  assert_int_equal(weft_server_set_static_dir(s, NULL), WEFT_EINVAL);
  assert_int_equal(weft_server_set_static_dir(s, ""), WEFT_EINVAL);
  assert_int_equal(weft_server_set_static_dir(s, "/nonexistent/weft/dir"), WEFT_ENOENT);
  assert_int_equal(weft_server_set_static_dir(s, "/etc/hostname"), WEFT_EINVAL); /* a file */
  assert_int_equal(weft_server_set_static_dir(s, "/tmp"), 0);
  assert_int_equal(weft_server_set_static_dir(s, "/"), 0); /* replaces */
  assert_int_equal(weft_server_destroy(s, NULL), 0);
  assert_int_equal(weft_server_add_asset(s, "/b", ct, "x", 1), WEFT_ECLOSED);
  assert_int_equal(weft_server_set_static_dir(s, "/tmp"), WEFT_ECLOSED);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_static_and_assets),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_client_library),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
