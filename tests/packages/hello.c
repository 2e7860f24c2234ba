/*
 * weft's hello world, as a user builds it against an installed weft
 * (scripts/packages.sh: pkg-config and find_package, shared and static): a
 * server and a client in one process; the client's message comes back.
 * Prints "hello, weft (weft VERSION)" and exits 0.
 */
#include <stdio.h>
#include <weft/weft.h>

typedef struct hello {
  weft_server *server;
  int echoed;
} hello;

static void on_spark_data(weft_spark *spark, const weft_value *msg, void *user) {
  (void)user;
  weft_spark_write(spark, msg);
}

static void on_open(weft_client *c, void *user) {
  (void)user;
  weft_value *v = weft_value_new_string("hello, weft", 11);
  weft_client_write(c, v);
  weft_value_free(v);
}

static void on_data(weft_client *c, const weft_value *msg, void *user) {
  hello *h = user;
  const char *s;
  size_t n;
  if (weft_value_get_string(msg, &s, &n) == 0) {
    printf("%.*s (weft %s)\n", (int)n, s, weft_version_string());
    h->echoed = 1;
  }
  weft_client_end(c, NULL);
  weft_server_destroy(h->server, NULL);
}

int main(void) {
  hello h = {0};
  weft_loop *loop;
  weft_client *client;
  char url[64];
  if (weft_loop_new(&loop) || weft_server_new(loop, &h.server)) return 1;
  weft_server_events sev = {.size = sizeof(sev), .data = on_spark_data};
  weft_server_set_events(h.server, &sev, NULL, NULL);
  int rc = weft_server_listen(h.server, "ws://127.0.0.1:0/primus");
  if (rc) {
    fprintf(stderr, "listen: %s\n", weft_strerror(rc));
    return 1;
  }
  snprintf(url, sizeof(url), "ws://127.0.0.1:%d/primus", weft_server_port(h.server));
  if (weft_client_new(loop, url, &client)) return 1;
  weft_client_events cev = {.size = sizeof(cev), .open = on_open, .data = on_data};
  weft_client_set_events(client, &cev, &h, NULL);
  weft_client_open(client);
  weft_loop_run(loop);
  weft_loop_close(loop);
  return h.echoed ? 0 : 1;
}
